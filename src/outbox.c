/*
 * outbox.c: sending the notifications of escalations. Rows come from the
 * outbox table (h111_outbox_claim), leave as a webhook POST or on a
 * command's standard input, and their result goes back (h111_outbox_done).
 * Nothing here blocks: evhttp for the webhook, a child with a pipe, a
 * timer and SIGCHLD for the command.
 */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "db.h"
#include "escalation.h"
#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

static const char claim_sql[] = "SELECT id, channel, attempt, payload, "
    "(extract(epoch FROM next_at) * 1000)::bigint FROM h111_outbox_claim($1::int, $2::float8)";
static const char done_sql[] = "SELECT h111_outbox_done($1::bigint, $2::int, $3::boolean, $4, "
    "$5::float8)";

struct send {
	struct outbox *o;
	TAILQ_ENTRY(send) entry;
	long long id, esc, case_id;
	int attempt;
	int timeout;
	char *channel;
	char *body;
	size_t len, off;
	struct evhttp_connection *conn;
	pid_t pid;      /* a command's, until reaped; 0 for a webhook */
	int fd;         /* the command's standard input, -1 once closed */
	struct event *wev, *timer;
	int finished;   /* its result is on its way to the database */
	int released;
};

struct outbox {
	struct event_base *base;
	struct db *db;
	struct evdns_base *dns;
	const struct config *cfg;
	TAILQ_HEAD(, send) sends;
	int inflight;
	int claiming;
	int stopped;
	struct event *poll, *sigchld;
};

/* What the database is told of one try, and what to log when it answers. */
struct result {
	struct outbox *o;
	long long id, esc, case_id;
	int attempt;
	char *channel;
	char *error;
	int retry_s;
};

int
outbox_backoff(int attempt, int base, int max)
{
	long long s = base;

	for (int i = 1; i < attempt && s < max; i++)
		s *= 2;
	return s > max ? max : (int)s;
}

static const struct notify_channel *
channel_find(const struct config *cfg, const char *name)
{
	for (int i = 0; i < cfg->notify.n; i++)
		if (strcmp(cfg->notify.v[i].name, name) == 0)
			return &cfg->notify.v[i];
	return NULL;
}

static int
lease_s(const struct config *cfg)
{
	int t = 0;

	for (int i = 0; i < cfg->notify.n; i++)
		if (cfg->notify.v[i].timeout > t)
			t = cfg->notify.v[i].timeout;
	return t + OUTBOX_LEASE_MARGIN_S;
}

/* --- results ------------------------------------------------------------ */

static void claim(struct outbox *o);

static void
recorded(PGresult *res, void *arg)
{
	struct result *r = arg;
	const char *state = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : NULL;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		log_error("notification %lld: its result was not stored (SQLSTATE %s); it is "
		    "sent again when its lease runs out", r->id, db_sqlstate(res));
	else if (state == NULL)
		log_warn("notification %lld: claimed again meanwhile (its lease ran out)", r->id);
	else if (strcmp(state, "sent") == 0) {
		log_info("notification %lld (escalation %lld, case %lld): sent to %s", r->id,
		    r->esc, r->case_id, r->channel);
		metrics_notification(NOTIFY_SENT);
	} else if (strcmp(state, "pending") == 0) {
		log_warn("notification %lld (escalation %lld, case %lld): %s: %s; try %d in %d s",
		    r->id, r->esc, r->case_id, r->channel, r->error, r->attempt + 1, r->retry_s);
		metrics_notification(NOTIFY_RETRY);
	} else {
		log_error("notification %lld (escalation %lld, case %lld): %s: %s; given up after "
		    "%d tries", r->id, r->esc, r->case_id, r->channel, r->error, r->attempt);
		metrics_notification(NOTIFY_FAILED);
	}
	if (r->o != NULL)
		claim(r->o);
	free(r->channel);
	free(r->error);
	free(r);
}

/* ok, or error says why; retry: 0 when no later try can do better. */
static void
record(struct outbox *o, long long id, int attempt, const char *channel, long long esc,
    long long case_id, int ok, const char *error, int retry)
{
	struct result *r = xcalloc(1, sizeof(*r));
	char sid[24], satt[16], sretry[16];
	const char *params[5] = { sid, satt, ok ? "t" : "f", ok ? NULL : error,
		retry ? sretry : NULL };

	*r = (struct result){ o, id, esc, case_id, attempt, xstrdup(channel),
		xstrdup(ok ? "" : error), 0 };
	r->retry_s = outbox_backoff(attempt, o->cfg->notify_retry, o->cfg->notify_retry_max);
	snprintf(sid, sizeof(sid), "%lld", id);
	snprintf(satt, sizeof(satt), "%d", attempt);
	snprintf(sretry, sizeof(sretry), "%d", r->retry_s);
	db_query(o->db, done_sql, 5, params, recorded, r);
}

static void
finish(struct send *s, int ok, const char *why)
{
	if (s->finished)
		return;
	s->finished = 1;
	record(s->o, s->id, s->attempt, s->channel, s->esc, s->case_id, ok, why, 1);
}

/* Freed outside the callback that ended it (evhttp's, a timer's). */
static void
release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct send *s = arg;
	struct outbox *o = s->o;

	if (s->conn != NULL)
		evhttp_connection_free(s->conn);
	if (s->wev != NULL)
		event_free(s->wev);
	if (s->fd >= 0)
		close(s->fd);
	if (s->timer != NULL)
		event_free(s->timer);
	TAILQ_REMOVE(&o->sends, s, entry);
	o->inflight--;
	free(s->channel);
	free(s->body);
	free(s);
	claim(o);
}

static void
release(struct send *s)
{
	static const struct timeval now = { 0, 0 };

	if (s->released++)
		return;
	event_base_once(s->o->base, -1, EV_TIMEOUT, release_cb, s, &now);
}

/* --- webhook ------------------------------------------------------------ */

static void
http_done(struct evhttp_request *req, void *arg)
{
	struct send *s = arg;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	char why[64];

	if (code >= 200 && code < 300)
		finish(s, 1, NULL);
	else {
		/* the reason phrase is the receiver's text: only the number is logged */
		if (code == 0)
			snprintf(why, sizeof(why), "no answer (refused, reset or timed out)");
		else
			snprintf(why, sizeof(why), "HTTP %d", code);
		finish(s, 0, why);
	}
	release(s);
}

static void
send_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct send *s = arg;
	char why[64];

	snprintf(why, sizeof(why), "timed out after %d s", s->timeout);
	finish(s, 0, why);
	if (s->pid > 0) {
		/* its whole process group: a script's own children go too */
		kill(-s->pid, SIGKILL);
		return; /* released when reaped */
	}
	release(s);
}

static void
add_headers(struct evhttp_request *req, const struct evhttp_uri *u,
    const struct notify_channel *ch)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char host[300], *auth;

	if (evhttp_uri_get_port(u) > 0)
		snprintf(host, sizeof(host), "%s:%d", evhttp_uri_get_host(u), evhttp_uri_get_port(u));
	else
		snprintf(host, sizeof(host), "%s", evhttp_uri_get_host(u));
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "User-Agent", "hotline111d/" PACKAGE_VERSION);
	evhttp_add_header(h, "Connection", "close");
	if (ch->token != NULL) {
		xasprintf(&auth, "Bearer %s", ch->token);
		evhttp_add_header(h, "Authorization", auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
}

static int
start_webhook(struct send *s, const struct notify_channel *ch, char *why, size_t whylen)
{
	struct evhttp_uri *u = evhttp_uri_parse(ch->url);
	struct evhttp_request *req;
	const char *path, *query;
	char *target;
	struct timeval tv = { ch->timeout, 0 };
	int rc;

	if (u == NULL) { /* checked at load: not reached */
		snprintf(why, whylen, "bad url");
		return -1;
	}
	s->conn = evhttp_connection_base_new(s->o->base, s->o->dns, evhttp_uri_get_host(u),
	    (unsigned short)(evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80));
	/* a second more than the try's own timer, which then always ends it first */
	evhttp_connection_set_timeout(s->conn, ch->timeout + 1);
	evhttp_connection_set_retries(s->conn, 0);
	req = evhttp_request_new(http_done, s);
	add_headers(req, u, ch);
	evbuffer_add(evhttp_request_get_output_buffer(req), s->body, s->len);
	path = evhttp_uri_get_path(u);
	query = evhttp_uri_get_query(u);
	xasprintf(&target, "%s%s%s", path && *path ? path : "/", query ? "?" : "",
	    query ? query : "");
	rc = evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, target);
	free(target);
	evhttp_uri_free(u);
	if (rc != 0) {
		snprintf(why, whylen, "cannot send the request");
		return -1;
	}
	/* evhttp's timeout is per read or write: this one bounds the whole try */
	s->timer = evtimer_new(s->o->base, send_timeout, s);
	event_add(s->timer, &tv);
	return 0;
}

/* --- command ------------------------------------------------------------ */

static void
stdin_done(struct send *s)
{
	event_free(s->wev);
	s->wev = NULL;
	close(s->fd);
	s->fd = -1;
}

static void
write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct send *s = arg;
	ssize_t n = write(fd, s->body + s->off, s->len - s->off);

	if (n > 0)
		s->off += (size_t)n;
	else if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* all written, or the command closed its input (EPIPE): its exit says */
	if (n <= 0 || s->off == s->len)
		stdin_done(s);
}

static int
spawn(struct send *s, const struct notify_channel *ch, int in, char *why, size_t whylen)
{
	static char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&at);
	/* a group of its own, to be killed whole; the daemon's ignored SIGPIPE
	 * and its signal mask are not the command's */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	rc = posix_spawn(&s->pid, ch->argv[0], &fa, &at, ch->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		s->pid = 0;
		snprintf(why, whylen, "cannot run %s: %s", ch->argv[0], strerror(rc));
		return -1;
	}
	return 0;
}

static int
start_command(struct send *s, const struct notify_channel *ch, char *why, size_t whylen)
{
	struct timeval tv = { ch->timeout, 0 };
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (spawn(s, ch, p[0], why, whylen) != 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[0]);
	s->fd = p[1];
	evutil_make_socket_nonblocking(s->fd);
	s->wev = event_new(s->o->base, s->fd, EV_WRITE | EV_PERSIST, write_cb, s);
	event_add(s->wev, NULL);
	s->timer = evtimer_new(s->o->base, send_timeout, s);
	event_add(s->timer, &tv);
	return 0;
}

static void
reaped(struct send *s, int status)
{
	char why[64];

	s->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		finish(s, 1, NULL);
	else {
		if (WIFEXITED(status))
			snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
		else
			snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
		finish(s, 0, why);
	}
	release(s);
}

static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct outbox *o = arg;
	struct send *s;
	int status;

	TAILQ_FOREACH(s, &o->sends, entry)
		if (s->pid > 0 && waitpid(s->pid, &status, WNOHANG) == s->pid)
			reaped(s, status);
}

/* --- claiming ----------------------------------------------------------- */

static void
start(struct outbox *o, long long id, int attempt, const char *channel, const char *payload)
{
	const struct notify_channel *ch = channel_find(o->cfg, channel);
	json_t *rec = json_loads(payload, 0, NULL);
	long long esc = (long long)json_integer_value(json_object_get(rec, "escalation"));
	long long case_id = (long long)json_integer_value(json_object_get(rec, "case"));
	struct send *s;
	char why[300];

	if (ch == NULL || rec == NULL) {
		record(o, id, attempt, channel, esc, case_id, 0, ch == NULL ?
		    "no such channel in escalation.notify any more" : "unreadable payload", 0);
		json_decref(rec);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	*s = (struct send){ .o = o, .id = id, .attempt = attempt, .timeout = ch->timeout,
		.channel = xstrdup(channel), .fd = -1, .esc = esc, .case_id = case_id };
	/* what leaves is the escalation log's line, caller masked */
	s->body = escalation_log_line(rec);
	s->len = strlen(s->body);
	json_decref(rec);
	TAILQ_INSERT_TAIL(&o->sends, s, entry);
	o->inflight++;
	if ((ch->url ? start_webhook(s, ch, why, sizeof(why)) :
	    start_command(s, ch, why, sizeof(why))) != 0) {
		finish(s, 0, why);
		release(s);
	}
}

static void
arm(struct outbox *o, long long next_ms)
{
	struct timeval now, tv = { OUTBOX_POLL_S, 0 };
	long long now_ms, wait;

	evutil_gettimeofday(&now, NULL);
	now_ms = (long long)now.tv_sec * 1000 + now.tv_usec / 1000;
	if (next_ms > 0 && (wait = next_ms - now_ms) < OUTBOX_POLL_S * 1000LL) {
		wait = wait < 0 ? 0 : wait;
		tv = (struct timeval){ (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
	}
	if (!o->stopped)
		event_add(o->poll, &tv);
}

static void
claimed(PGresult *res, void *arg)
{
	struct outbox *o = arg;
	long long next = 0;

	o->claiming = 0;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("notifications: cannot claim (SQLSTATE %s); trying again in %d s",
		    db_sqlstate(res), OUTBOX_POLL_S);
		arm(o, 0);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 0)) {
			next = PQgetisnull(res, i, 4) ? 0 : strtoll(PQgetvalue(res, i, 4), NULL, 10);
			continue;
		}
		start(o, strtoll(PQgetvalue(res, i, 0), NULL, 10), atoi(PQgetvalue(res, i, 2)),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 3));
	}
	arm(o, next);
}

static void
claim(struct outbox *o)
{
	char limit[16], lease[16];
	const char *params[2] = { limit, lease };

	if (o->claiming || o->stopped || o->inflight >= OUTBOX_MAX_INFLIGHT)
		return;
	if (!db_is_up(o->db)) { /* not yet, or lost: look again at the next poll */
		arm(o, 0);
		return;
	}
	o->claiming = 1;
	snprintf(limit, sizeof(limit), "%d", OUTBOX_MAX_INFLIGHT - o->inflight);
	snprintf(lease, sizeof(lease), "%d", lease_s(o->cfg));
	db_query(o->db, claim_sql, 2, params, claimed, o);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *o = arg;

	claim(o);
	if (!o->claiming) /* the database is away, or sends fill every slot */
		arm(o, 0);
}

/* --- public ------------------------------------------------------------- */

struct outbox *
outbox_new(struct event_base *base, struct db *db, const struct config *cfg)
{
	struct outbox *o = xcalloc(1, sizeof(*o));
	struct timeval soon = { 0, 0 };

	o->base = base;
	o->db = db;
	o->cfg = cfg;
	TAILQ_INIT(&o->sends);
	o->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (o->dns == NULL)
		log_warn("notifications: no resolver (/etc/resolv.conf); webhook host names are "
		    "looked up blocking");
	o->poll = evtimer_new(base, poll_cb, o);
	o->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, o);
	event_add(o->sigchld, NULL);
	event_add(o->poll, &soon);
	return o;
}

void
outbox_configure(struct outbox *o, const struct config *cfg)
{
	o->cfg = cfg;
}

void
outbox_kick(struct outbox *o)
{
	claim(o);
}

void
outbox_stop(struct outbox *o)
{
	o->stopped = 1;
	event_del(o->poll);
}

void
outbox_free(struct outbox *o)
{
	struct send *s;

	if (o == NULL)
		return;
	o->stopped = 1;
	while ((s = TAILQ_FIRST(&o->sends)) != NULL) {
		if (s->pid > 0) {
			kill(-s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->released = 1;
		release_cb(-1, 0, s);
	}
	event_free(o->poll);
	event_free(o->sigchld);
	if (o->dns != NULL)
		evdns_base_free(o->dns, 0);
	free(o);
}
