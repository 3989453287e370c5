/*
 * metrics.c: the counters, the judgement of health, the Prometheus text
 * exposition, and the HTTP endpoint (libevent's evhttp on the daemon's
 * loop) that serves them. Everything a client sends is bounded: headers,
 * body, time, and the number of connections at once.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "db.h"
#include "log.h"
#include "netaddr.h"
#include "xmalloc.h"

struct metrics_counts metrics_counts;

/* --- histograms ---------------------------------------------------------- */

static const double batch_bounds[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 };
static const double latency_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10 };
#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

/* The bucket past the last bound is +Inf. */
static void
observe(struct metrics_histogram *h, const double *bounds, size_t n, double v)
{
	size_t i = 0;

	while (i < n && v > bounds[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

void
metrics_batch(size_t events)
{
	observe(&metrics_counts.batch, batch_bounds, NBOUNDS(batch_bounds), (double)events);
}

void
metrics_latency(double seconds)
{
	observe(&metrics_counts.latency, latency_bounds, NBOUNDS(latency_bounds),
	    seconds < 0 ? 0 : seconds);
}

void
metrics_escalation(const char *kind, long long level)
{
	if (kind != NULL && strcmp(kind, "warning") == 0)
		level = 0;
	else if (level < 1)
		level = 1;
	else if (level > METRICS_LEVELS)
		level = METRICS_LEVELS;
	metrics_counts.escalations[level]++;
}

/* --- health -------------------------------------------------------------- */

static void
reason(json_t *reasons, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reason(json_t *reasons, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(reasons, json_string(buf));
}

/* A PBX the daemon should be connected to and is not. */
static int
sources_down(const json_t *sources, json_t *reasons)
{
	size_t i;
	json_t *src;
	int n = 0;

	json_array_foreach(sources, i, src) {
		const char *state = json_string_value(json_object_get(src, "state"));
		const char *err = json_string_value(json_object_get(src, "error"));
		const char *name;

		if (state == NULL || strcmp(state, "up") == 0)
			continue;
		name = json_string_value(json_object_get(src, "source"));
		reason(reasons, "source %s: %s%s%s", name ? name : "?", state,
		    err && *err ? ": " : "", err && *err ? err : "");
		n++;
	}
	return n;
}

/*
 * Failing: events are refused now (the database refuses them, or is away
 * with no spool to keep them, or the spool is full), or the daemon is
 * stopping. Degraded: every event is still kept, but something needs a
 * look: the database is away (the spool keeps events), the spool holds
 * events not yet replayed, a PBX source is not connected, the console has
 * no database.
 */
enum metrics_health
metrics_health(const struct metrics_state *s, json_t *reasons)
{
	enum metrics_health h = HEALTH_OK;

	if (s->stopping) {
		reason(reasons, "stopping");
		h = HEALTH_FAILING;
	}
	if (s->refusing != NULL) {
		reason(reasons, "intake paused: %s", s->refusing);
		h = HEALTH_FAILING;
	} else if (!s->db_up && s->schema_failure == NULL) {
		reason(reasons, "database unreachable: events go to the local spool");
		h = h == HEALTH_OK ? HEALTH_DEGRADED : h;
	}
	if (s->schema_failure != NULL) { /* it answers, but cannot be written to */
		reason(reasons, "the database's schema cannot be used (events go to the local "
		    "spool, nothing is replayed): %s", s->schema_failure);
		h = h == HEALTH_OK ? HEALTH_DEGRADED : h;
	}
	if (s->db_up && !s->console_db_up)
		reason(reasons, "the console has no database connection");
	if (s->spool_records > 0)
		reason(reasons, "spool: %zu events waiting to be replayed", s->spool_records);
	if ((s->db_up && !s->console_db_up) || s->spool_records > 0)
		h = h == HEALTH_OK ? HEALTH_DEGRADED : h;
	if (sources_down(s->sources, reasons) > 0)
		h = h == HEALTH_OK ? HEALTH_DEGRADED : h;
	return h;
}

const char *
metrics_health_name(enum metrics_health h)
{
	static const char *const names[] = { "ok", "degraded", "failing" };

	return names[h];
}

json_t *
metrics_health_json(const struct metrics_state *s)
{
	json_t *reasons = json_array();
	enum metrics_health h = metrics_health(s, reasons);

	return json_pack("{s:s, s:o}", "state", metrics_health_name(h), "reasons", reasons);
}

/* --- the exposition (text format 0.0.4) ----------------------------------- */

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void
label_value(FILE *f, const char *v)
{
	for (; v != NULL && *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
gauge(FILE *f, const char *name, const char *help, double v)
{
	family(f, name, "gauge", help);
	fprintf(f, "%s %.17g\n", name, v);
}

static void
histogram(FILE *f, const char *name, const char *help, const struct metrics_histogram *h,
    const double *bounds, size_t n)
{
	uint64_t cum = 0;

	family(f, name, "histogram", help);
	for (size_t i = 0; i < n; i++) {
		cum += h->bucket[i];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	fprintf(f, "%s_sum %.17g\n%s_count %llu\n", name, h->sum, name,
	    (unsigned long long)h->count);
}

static void
render_events(FILE *f)
{
	static const char *const results[MR_COUNT] = { "acked", "dup", "spooled", "nacked" };

	family(f, "hotline111_events_total", "counter",
	    "Events answered, by type and result (invalid: a line that was no event).");
	for (int t = 0; t < METRICS_TYPES; t++)
		for (int r = 0; r < MR_COUNT; r++)
			fprintf(f, "hotline111_events_total{type=\"%s\",result=\"%s\"} %llu\n",
			    t == METRICS_INVALID ? "invalid" : protocol_type_name((enum event_type)t),
			    results[r], (unsigned long long)metrics_counts.events[t][r]);
	family(f, "hotline111_nacks_total", "counter",
	    "Refusals sent, by error code (hotline111-bridge(7)).");
	for (int c = PROTO_OK + 1; c < METRICS_CODES; c++)
		fprintf(f, "hotline111_nacks_total{code=\"%s\"} %llu\n",
		    protocol_error_name((enum proto_error)c),
		    (unsigned long long)metrics_counts.nacks[c]);
	histogram(f, "hotline111_batch_size", "Events per batch committed to PostgreSQL.",
	    &metrics_counts.batch, batch_bounds, NBOUNDS(batch_bounds));
	histogram(f, "hotline111_ack_latency_seconds",
	    "Seconds from an event's receipt to its answer (ack or nack by the store).",
	    &metrics_counts.latency, latency_bounds, NBOUNDS(latency_bounds));
}

static void
render_sources(FILE *f, const json_t *sources)
{
	size_t i;
	json_t *src;

	family(f, "hotline111_source_connected", "gauge",
	    "Whether each PBX source (ami, esl, evapi) is connected.");
	json_array_foreach(sources, i, src) {
		const char *state = json_string_value(json_object_get(src, "state"));
		fputs("hotline111_source_connected{source=\"", f);
		label_value(f, json_string_value(json_object_get(src, "source")));
		fputs("\",type=\"", f);
		label_value(f, json_string_value(json_object_get(src, "type")));
		fprintf(f, "\"} %d\n", state != NULL && strcmp(state, "up") == 0);
	}
}

static void
render_state(FILE *f, const struct metrics_state *s)
{
	json_t *reasons = json_array();
	enum metrics_health h = metrics_health(s, reasons);

	json_decref(reasons);
	gauge(f, "hotline111_database_up", "Whether PostgreSQL takes events (1) or not (0).",
	    s->db_up);
	gauge(f, "hotline111_intake_paused",
	    "Whether new events are refused now (database away with no room to spool).",
	    s->refusing != NULL);
	family(f, "hotline111_health", "gauge",
	    "1 for the daemon's health now (hotline111d(8), HEALTH), 0 for the others.");
	for (int i = HEALTH_OK; i <= HEALTH_FAILING; i++)
		fprintf(f, "hotline111_health{state=\"%s\"} %d\n",
		    metrics_health_name((enum metrics_health)i), (int)h == i);
	gauge(f, "hotline111_spool_enabled", "Whether spool.dir is set.", s->spool_on);
	gauge(f, "hotline111_spool_records", "Events in the local spool waiting to be replayed.",
	    (double)s->spool_records);
	gauge(f, "hotline111_spool_bytes", "Size of the local spool file in bytes.",
	    (double)s->spool_bytes);
	gauge(f, "hotline111_spool_max_bytes", "spool.max_mb in bytes.",
	    (double)s->spool_max_bytes);
	gauge(f, "hotline111_bridge_clients", "Bridge connections open.",
	    (double)s->bridge_clients);
	gauge(f, "hotline111_consoles_connected", "Console connections open.",
	    (double)s->consoles);
	render_sources(f, s->sources);
}

static void
render_notifications(FILE *f, const json_t *db)
{
	static const char *const results[NOTIFY_COUNT] = { "sent", "retry", "failed" };

	family(f, "hotline111_notifications_total", "counter",
	    "Tries of escalation notifications this daemon made, by result (retry: failed, "
	    "tried again later; failed: given up).");
	for (int r = 0; r < NOTIFY_COUNT; r++)
		fprintf(f, "hotline111_notifications_total{result=\"%s\"} %llu\n", results[r],
		    (unsigned long long)metrics_counts.notifications[r]);
	if (db == NULL)
		return;
	gauge(f, "hotline111_notifications_pending", "Notifications not sent yet, all daemons.",
	    (double)json_integer_value(json_object_get(db, "notifications_pending")));
	gauge(f, "hotline111_notifications_failed", "Notifications given up, all daemons.",
	    (double)json_integer_value(json_object_get(db, "notifications_failed")));
}

static void
render_escalations(FILE *f, const json_t *db, int nlevels)
{
	const json_t *unacked = json_object_get(db, "unacked");
	char key[12]; /* an int in decimal */

	family(f, "hotline111_escalations_total", "counter",
	    "Escalations this daemon fired, by level (1 = escalation.levels[0]).");
	for (int l = 1; l <= nlevels && l <= METRICS_LEVELS; l++)
		fprintf(f, "hotline111_escalations_total{level=\"%d\"} %llu\n", l,
		    (unsigned long long)metrics_counts.escalations[l]);
	family(f, "hotline111_warnings_total", "counter",
	    "Early warnings (escalation.warn) this daemon sent.");
	fprintf(f, "hotline111_warnings_total %llu\n",
	    (unsigned long long)metrics_counts.escalations[0]);
	render_notifications(f, db);
	if (db == NULL) /* the database's figures are unknown: no sample at all */
		return;
	gauge(f, "hotline111_deadlines_pending", "Deadlines armed and not on hold, all daemons.",
	    (double)json_integer_value(json_object_get(db, "pending")));
	family(f, "hotline111_escalations_unacknowledged", "gauge",
	    "Escalations no supervisor has acknowledged yet, by level, all daemons.");
	for (int l = 1; l <= nlevels && l <= METRICS_LEVELS; l++) {
		snprintf(key, sizeof(key), "%d", l);
		fprintf(f, "hotline111_escalations_unacknowledged{level=\"%d\"} %lld\n", l,
		    (long long)json_integer_value(json_object_get(unacked, key)));
	}
}

char *
metrics_render(const struct metrics_state *s, const json_t *db_figures, int nlevels)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		fatal("metrics: out of memory");
	render_events(f);
	render_state(f, s);
	render_escalations(f, db_figures, nlevels);
	if (fclose(f) != 0)
		fatal("metrics: out of memory");
	return text;
}

/* --- the endpoint -------------------------------------------------------- */

struct metrics {
	struct event_base *base;
	struct db *db;
	metrics_state_fn *state;
	void *state_arg;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	char *listen;
	int nlevels;
	TAILQ_HEAD(, mconn) conns;
	struct event *sweep;
	size_t nconns;
	int full; /* accepting is off until a connection closes */
	int stopped;
	unsigned long requests;
	struct event *refresh;
	int querying;
	json_t *db_figures; /* {"pending":N,"unacked":{"LEVEL":N}}, or NULL: unknown */
};

static const char figures_sql[] =
    "SELECT (SELECT count(*) FROM timers WHERE NOT held), "
    "coalesce((SELECT jsonb_object_agg(level, n) FROM (SELECT level, count(*) AS n "
    "FROM escalations WHERE acked_at IS NULL AND kind = 'escalation' GROUP BY level) x), "
    "'{}'), (SELECT count(*) FROM outbox WHERE state = 'pending'), "
    "(SELECT count(*) FROM outbox WHERE state = 'failed')";

static void
figures_read(PGresult *res, void *arg)
{
	struct metrics *m = arg;
	json_t *unacked;

	m->querying = 0;
	json_decref(m->db_figures);
	m->db_figures = NULL;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_debug("metrics: the database's figures are unknown (SQLSTATE %s)",
		    db_sqlstate(res));
		return;
	}
	unacked = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
	m->db_figures = json_pack("{s:I, s:o, s:I, s:I}", "pending",
	    (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "unacked",
	    json_is_object(unacked) ? unacked : json_object(), "notifications_pending",
	    (json_int_t)strtoll(PQgetvalue(res, 0, 2), NULL, 10), "notifications_failed",
	    (json_int_t)strtoll(PQgetvalue(res, 0, 3), NULL, 10));
	if (!json_is_object(unacked))
		json_decref(unacked);
}

/* Every few seconds, not per scrape: no client decides how often the
 * database is asked. While it is away the figures are unknown. */
static void
refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics *m = arg;

	if (m->db == NULL || m->querying || m->stopped)
		return;
	if (!db_is_up(m->db)) {
		json_decref(m->db_figures);
		m->db_figures = NULL;
		return;
	}
	m->querying = 1;
	db_query(m->db, figures_sql, 0, NULL, figures_read, m);
}

static void
send_text(struct evhttp_request *req, int code, const char *reason, const char *ctype,
    const char *text)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL)
		fatal("metrics: out of memory");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add(buf, text, strlen(text));
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
}

static void
serve_metrics(struct metrics *m, struct evhttp_request *req, struct metrics_state *s)
{
	/* figures from a connection now lost are not shown as if current */
	char *text = metrics_render(s, m->db != NULL && db_is_up(m->db) ? m->db_figures : NULL,
	    m->nlevels);

	send_text(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", text);
	free(text);
}

/* "ok", then one line per finding; 503 when failing. */
static void
serve_health(struct evhttp_request *req, struct metrics_state *s)
{
	json_t *reasons = json_array(), *r;
	enum metrics_health h = metrics_health(s, reasons);
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		fatal("metrics: out of memory");
	fprintf(f, "%s\n", h == HEALTH_FAILING ? "failing" : "ok");
	json_array_foreach(reasons, i, r)
		fprintf(f, "%s: %s\n", h == HEALTH_OK ? "note" : metrics_health_name(h),
		    json_string_value(r));
	fclose(f);
	json_decref(reasons);
	send_text(req, h == HEALTH_FAILING ? HTTP_SERVUNAVAIL : HTTP_OK,
	    h == HEALTH_FAILING ? "Service Unavailable" : "OK", "text/plain; charset=utf-8", text);
	free(text);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct metrics_state s = { 0 };
	int want_metrics = path != NULL && strcmp(path, "/metrics") == 0;
	int want_health = path != NULL && strcmp(path, "/healthz") == 0;

	m->requests++;
	if (!want_metrics && !want_health) {
		send_text(req, HTTP_NOTFOUND, "Not Found", "text/plain", "not found: try /metrics "
		    "or /healthz\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		send_text(req, HTTP_BADMETHOD, "Method Not Allowed", "text/plain", "only GET\n");
		return;
	}
	if (m->db_figures == NULL)
		refresh_cb(-1, 0, m); /* for the next scrape */
	m->state(&s, m->state_arg);
	if (want_metrics)
		serve_metrics(m, req, &s);
	else
		serve_health(req, &s);
	json_decref(s.sources);
}

/* --- connections: counted, and capped ------------------------------------ */

static void
accepting(struct metrics *m, int on)
{
	struct evconnlistener *l = m->bound ? evhttp_bound_socket_get_listener(m->bound) : NULL;

	if (l == NULL || m->full == !on)
		return;
	m->full = !on;
	if (on)
		evconnlistener_enable(l);
	else {
		evconnlistener_disable(l);
		log_warn("metrics: %d connections open; new ones wait until one closes",
		    METRICS_MAX_CONNS);
	}
}

/*
 * evhttp in libevent 2.1 neither caps its connections nor says when one
 * ends. Each connection's bufferevent is made here (evhttp_set_bevcb) and
 * held by one more reference: when evhttp is done with it, bufferevent_free
 * clears its callbacks but leaves it to us, and a sweep lets it go. The
 * sweep also ends any connection older than METRICS_TIMEOUT_S (evhttp's
 * own timeout is one of inactivity: a client trickling a byte at a time
 * would keep its slot).
 */
struct mconn {
	TAILQ_ENTRY(mconn) entry;
	struct bufferevent *bev;
	struct timeval opened;
	int shut;
};

static int
released(struct bufferevent *bev)
{
	bufferevent_event_cb eventcb = NULL;

	bufferevent_getcb(bev, NULL, NULL, &eventcb, NULL);
	return eventcb == NULL;
}

static void
conn_release(struct metrics *m, struct mconn *mc)
{
	TAILQ_REMOVE(&m->conns, mc, entry);
	bufferevent_decref(mc->bev); /* the last reference: closes the socket */
	free(mc);
	m->nconns--;
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics *m = arg;
	struct timeval now, age;
	struct mconn *mc, *next;

	event_base_gettimeofday_cached(m->base, &now);
	for (mc = TAILQ_FIRST(&m->conns); mc != NULL; mc = next) {
		next = TAILQ_NEXT(mc, entry);
		timersub(&now, &mc->opened, &age);
		if (released(mc->bev))
			conn_release(m, mc);
		else if (age.tv_sec >= METRICS_TIMEOUT_S && !mc->shut) {
			/* evhttp sees the end of the stream and frees it */
			shutdown(bufferevent_getfd(mc->bev), SHUT_RDWR);
			mc->shut = 1;
		}
	}
	if (!m->stopped && m->nconns < METRICS_MAX_CONNS)
		accepting(m, 1);
	if (m->nconns == 0)
		event_del(m->sweep);
}

static struct bufferevent *
conn_new(struct event_base *base, void *arg)
{
	struct metrics *m = arg;
	struct mconn *mc = xcalloc(1, sizeof(*mc));
	struct timeval every = { 0, 100000 };

	mc->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (mc->bev == NULL)
		fatal("metrics: out of memory");
	bufferevent_incref(mc->bev);
	/* between evhttp's free and the sweep nothing reads past this */
	bufferevent_setwatermark(mc->bev, EV_READ, 0, METRICS_MAX_HEADERS + METRICS_MAX_BODY);
	event_base_gettimeofday_cached(base, &mc->opened);
	TAILQ_INSERT_TAIL(&m->conns, mc, entry);
	if (m->nconns++ == 0)
		event_add(m->sweep, &every);
	if (m->nconns >= METRICS_MAX_CONNS)
		accepting(m, 0);
	return mc->bev;
}

static void
http_setup(struct metrics *m)
{
	m->http = evhttp_new(m->base);
	if (m->http == NULL)
		fatal("metrics: cannot create the HTTP server");
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, METRICS_MAX_BODY);
	/* an idle or trickling client is dropped: it cannot hold a slot for long */
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	/* every method reaches handle(), which answers 404 or 405 itself */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_bevcb(m->http, conn_new, m);
	evhttp_set_gencb(m->http, handle, m);
}

/* --- public -------------------------------------------------------------- */

int
metrics_check(const char *listen, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[160];

	if (listen == NULL || listen[0] == '\0')
		return 0;
	if (netaddr_parse_tcp(listen, &ss, &len, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "\"%s\" is not a \"HOST:PORT\" address (numeric host, "
		    "[V6] in brackets)", listen);
		return -1;
	}
	return 0;
}

struct metrics *
metrics_new(struct event_base *base, struct db *db, metrics_state_fn *state, void *arg)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->base = base;
	m->db = db;
	m->state = state;
	m->state_arg = arg;
	m->nlevels = 3;
	TAILQ_INIT(&m->conns);
	m->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, m);
	return m;
}

void
metrics_configure(struct metrics *m, const struct config *cfg)
{
	m->nlevels = cfg->esc_levels.n;
}

static int
open_listener(struct metrics *m, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[256], spec[300];
	int fd;

	if (netaddr_parse_tcp(m->listen, &ss, &len, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "metrics.listen: %s", why);
		return -1;
	}
	snprintf(spec, sizeof(spec), "%s%s", strncmp(m->listen, "tcp:", 4) == 0 ? "" : "tcp:",
	    m->listen);
	if ((fd = netaddr_listen(spec, 0, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "metrics.listen: %s", why);
		return -1;
	}
	http_setup(m);
	if ((m->bound = evhttp_accept_socket_with_handle(m->http, fd)) == NULL) {
		evutil_closesocket(fd);
		snprintf(err, errlen, "metrics.listen: %s: cannot listen", m->listen);
		return -1;
	}
	return 0;
}

int
metrics_listen(struct metrics *m, const struct config *cfg, char *err, size_t errlen)
{
	struct timeval every = { METRICS_DB_EVERY_S, 0 };

	metrics_configure(m, cfg);
	if (cfg->metrics_listen == NULL || cfg->metrics_listen[0] == '\0') {
		log_info("metrics: off (metrics.listen is empty)");
		return 0;
	}
	if (metrics_check(cfg->metrics_listen, err, errlen) != 0) {
		char why[512];
		snprintf(why, sizeof(why), "metrics.listen: %s", err);
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	m->listen = xstrdup(cfg->metrics_listen);
	if (open_listener(m, err, errlen) != 0)
		return -1;
	if (m->db != NULL) {
		m->refresh = event_new(m->base, -1, EV_PERSIST, refresh_cb, m);
		event_add(m->refresh, &every);
		refresh_cb(-1, 0, m);
	}
	log_info("metrics: listening on %s (/metrics, /healthz)", m->listen);
	return 0;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	m->stopped = 1;
	if (m->refresh != NULL)
		event_del(m->refresh);
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	m->stopped = 1;
	if (m->http != NULL)
		evhttp_free(m->http); /* its connections' bufferevents stay ours */
	while (!TAILQ_EMPTY(&m->conns))
		conn_release(m, TAILQ_FIRST(&m->conns));
	event_free(m->sweep);
	if (m->refresh != NULL)
		event_free(m->refresh);
	json_decref(m->db_figures);
	free(m->listen);
	free(m);
}
