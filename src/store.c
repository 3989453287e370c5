/*
 * store.c: non-blocking libpq in the event loop. One batch is in flight at
 * a time; whatever arrives meanwhile forms the next batch, so events that
 * arrive together share one commit (synchronous_commit stays on: a result
 * means durable).
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "xmalloc.h"

#define BATCH_MAX_ITEMS 1000
#define BATCH_MAX_BYTES (4 * 1024 * 1024)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define RETRY_MAX 3

static const char apply_sql[] =
    "SELECT idx, case_id, priority, category, to_jsonb(rules), dup "
    "FROM h111_apply($1::jsonb, $2::int)";

enum store_state { ST_DOWN, ST_CONNECTING, ST_IDLE, ST_BUSY };

struct store {
	struct event_base *base;
	char *conninfo;
	int default_priority;
	store_state_fn *state_cb;
	void *state_arg;

	PGconn *conn;
	enum store_state state;
	struct event *sock_ev; /* PQsocket(): re-created on every connection */
	struct event *retry_ev;
	struct event *kick_ev; /* sends queued items after the current callbacks */
	int backoff_ms;
	int reported_down;

	struct store_queue queue;  /* waiting */
	struct store_queue flight; /* in the batch being committed */
	size_t nqueue, nflight;
	int batch_failed;

	void (*drain_cb)(void *);
	void *drain_arg;
};

static void store_connect(struct store *st);
static void sock_cb(evutil_socket_t fd, short what, void *arg);

void
store_stamp(struct store_item *item)
{
	struct timeval tv;
	struct tm tm;
	char head[24];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(item->rx, sizeof(item->rx), "%s.%06ldZ", head, (long)tv.tv_usec);
}

/* --- connection -------------------------------------------------------- */

static void
watch_socket(struct store *st, short what)
{
	if (st->sock_ev != NULL)
		event_free(st->sock_ev);
	st->sock_ev = event_new(st->base, PQsocket(st->conn), what, sock_cb, st);
	event_add(st->sock_ev, NULL);
}

static void
schedule_retry(struct store *st)
{
	struct timeval tv = { st->backoff_ms / 1000, (st->backoff_ms % 1000) * 1000 };

	event_add(st->retry_ev, &tv);
	st->backoff_ms = st->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : st->backoff_ms * 2;
}

/* Lost: what was in flight may or may not have committed; resending is
 * safe because event ids are idempotency keys. */
static void
connection_lost(struct store *st, const char *why)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s", why ? why : "connection lost");
	msg[strcspn(msg, "\n")] = '\0';
	if (!st->reported_down)
		log_error("database: %s; retrying with backoff, bridge intake paused", msg);
	st->reported_down = 1;
	if (st->sock_ev != NULL)
		event_free(st->sock_ev);
	st->sock_ev = NULL;
	if (st->conn != NULL)
		PQfinish(st->conn);
	st->conn = NULL;
	while (!TAILQ_EMPTY(&st->flight)) {
		struct store_item *it = TAILQ_LAST(&st->flight, store_queue);
		TAILQ_REMOVE(&st->flight, it, entry);
		it->resent = 1;
		TAILQ_INSERT_HEAD(&st->queue, it, entry);
	}
	st->nqueue += st->nflight;
	st->nflight = 0;
	if (st->state_cb != NULL && (st->state == ST_IDLE || st->state == ST_BUSY))
		st->state_cb(0, st->state_arg);
	st->state = ST_DOWN;
	schedule_retry(st);
}

static void
notice(void *arg, const char *message)
{
	log_debug("database: %.*s", (int)strcspn(message, "\n"), message);
}

static void
connected(struct store *st)
{
	PQsetnonblocking(st->conn, 1);
	PQsetNoticeProcessor(st->conn, notice, NULL);
	st->state = ST_IDLE;
	st->backoff_ms = BACKOFF_MIN_MS;
	if (st->reported_down)
		log_info("database: connected again");
	else
		log_info("database: connected");
	st->reported_down = 0;
	watch_socket(st, EV_READ | EV_PERSIST);
	if (st->state_cb != NULL)
		st->state_cb(1, st->state_arg);
	if (st->nqueue > 0)
		event_active(st->kick_ev, EV_TIMEOUT, 0);
}

static void
poll_connect(struct store *st)
{
	switch (PQconnectPoll(st->conn)) {
	case PGRES_POLLING_READING:
		watch_socket(st, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		watch_socket(st, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		connected(st);
		break;
	default:
		connection_lost(st, PQerrorMessage(st->conn));
		break;
	}
}

static void
store_connect(struct store *st)
{
	const char *kw[] = { "dbname", "fallback_application_name", NULL };
	const char *val[] = { st->conninfo, "hotline111d", NULL };

	st->conn = PQconnectStartParams(kw, val, 1);
	st->state = ST_CONNECTING;
	if (st->conn == NULL || PQstatus(st->conn) == CONNECTION_BAD) {
		connection_lost(st, st->conn ? PQerrorMessage(st->conn) : "out of memory");
		return;
	}
	poll_connect(st);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	store_connect(arg);
}

/* --- batches ----------------------------------------------------------- */

static json_t *
batch_element(const struct store_item *it)
{
	json_t *el = json_object();

	json_object_set(el, "ev", it->ev.obj);
	json_object_set_new(el, "rx", json_string(it->rx));
	if (it->client != NULL)
		json_object_set_new(el, "client", json_string(it->client));
	if (it->triage != NULL)
		json_object_set(el, "triage", it->triage);
	return el;
}

/* Moves the head of the queue into flight: at most BATCH_MAX_ITEMS, and
 * BATCH_MAX_BYTES unless a single item is larger. */
static json_t *
take_batch(struct store *st)
{
	json_t *arr = json_array();
	size_t bytes = 0;
	struct store_item *it;

	while ((it = TAILQ_FIRST(&st->queue)) != NULL && st->nflight < BATCH_MAX_ITEMS) {
		if (st->nflight > 0 && bytes + it->size > BATCH_MAX_BYTES)
			break;
		/* An item being isolated after a failed batch goes alone. */
		if (st->nflight > 0 && it->retries > 0)
			break;
		TAILQ_REMOVE(&st->queue, it, entry);
		TAILQ_INSERT_TAIL(&st->flight, it, entry);
		st->nqueue--;
		st->nflight++;
		bytes += it->size;
		json_array_append_new(arr, batch_element(it));
		if (it->retries > 0)
			break;
	}
	return arr;
}

static void
send_batch(struct store *st)
{
	char prio[8], *body;
	const char *params[2];
	json_t *arr;

	if (st->state != ST_IDLE || st->nqueue == 0)
		return;
	arr = take_batch(st);
	body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (body == NULL)
		fatal("store: out of memory encoding a batch");
	snprintf(prio, sizeof(prio), "%d", st->default_priority);
	params[0] = body;
	params[1] = prio;
	st->batch_failed = 0;
	if (!PQsendQueryParams(st->conn, apply_sql, 2, NULL, params, NULL, NULL, 0)) {
		free(body);
		connection_lost(st, PQerrorMessage(st->conn));
		return;
	}
	free(body);
	st->state = ST_BUSY;
	if (PQflush(st->conn) == 1)
		watch_socket(st, EV_READ | EV_WRITE | EV_PERSIST);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	send_batch(arg);
}

static void
finish_item(struct store *st, struct store_item *it, const struct store_result *res)
{
	TAILQ_REMOVE(&st->flight, it, entry);
	st->nflight--;
	it->done(it, res);
}

static void
deliver_rows(struct store *st, PGresult *r)
{
	int n = PQntuples(r);

	for (int i = 0; i < n; i++) {
		struct store_item *it = TAILQ_FIRST(&st->flight);
		struct store_result res = { .error = PROTO_OK };
		json_t *rules;

		if (it == NULL)
			break;
		res.case_id = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		res.priority = atoi(PQgetvalue(r, i, 2));
		res.category = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3);
		rules = json_loads(PQgetvalue(r, i, 4), 0, NULL);
		res.rules = rules;
		/* A dup of our own resend is the first delivery, not a repeat. */
		res.dup = PQgetvalue(r, i, 5)[0] == 't' && !it->resent;
		finish_item(st, it, &res);
		json_decref(rules);
	}
}

static int
transient(const char *sqlstate)
{
	/* serialization failure, deadlock, a concurrent insert of the same id */
	return sqlstate != NULL && (strcmp(sqlstate, "40001") == 0 ||
	    strcmp(sqlstate, "40P01") == 0 || strcmp(sqlstate, "23505") == 0);
}

/*
 * A batch the database refused: split it so each event is retried alone;
 * an event refused alone (and not for a transient reason) is nacked.
 */
static void
batch_refused(struct store *st, PGresult *r)
{
	const char *sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	struct store_item *it;

	if (st->nflight == 1 && (!transient(sqlstate) ||
	    TAILQ_FIRST(&st->flight)->retries >= RETRY_MAX)) {
		char detail[96];
		it = TAILQ_FIRST(&st->flight);
		snprintf(detail, sizeof(detail), "refused by the database (SQLSTATE %s)",
		    sqlstate ? sqlstate : "?");
		log_warn("store: event %.64s refused by the database: SQLSTATE %s",
		    it->ev.id, sqlstate ? sqlstate : "?");
		finish_item(st, it, &(struct store_result){ .error = PROTO_BAD_VALUE,
		    .detail = detail });
		return;
	}
	log_warn("store: batch of %zu refused (SQLSTATE %s); retrying its events one by one",
	    st->nflight, sqlstate ? sqlstate : "?");
	while ((it = TAILQ_LAST(&st->flight, store_queue)) != NULL) {
		TAILQ_REMOVE(&st->flight, it, entry);
		it->retries++;
		TAILQ_INSERT_HEAD(&st->queue, it, entry);
	}
	st->nqueue += st->nflight;
	st->nflight = 0;
}

static void
batch_done(struct store *st)
{
	st->state = ST_IDLE;
	if (st->nqueue > 0)
		send_batch(st);
	else if (st->drain_cb != NULL && st->nflight == 0) {
		void (*cb)(void *) = st->drain_cb;
		st->drain_cb = NULL;
		cb(st->drain_arg);
	}
}

static void
read_results(struct store *st)
{
	PGresult *r;

	if (!PQconsumeInput(st->conn)) {
		connection_lost(st, PQerrorMessage(st->conn));
		return;
	}
	while (st->state == ST_BUSY && !PQisBusy(st->conn)) {
		r = PQgetResult(st->conn);
		if (r == NULL) {
			batch_done(st);
			return;
		}
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			deliver_rows(st, r);
		else if (PQstatus(st->conn) == CONNECTION_BAD) {
			PQclear(r);
			connection_lost(st, PQerrorMessage(st->conn));
			return;
		} else
			batch_refused(st, r);
		PQclear(r);
	}
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	if (st->state == ST_CONNECTING) {
		poll_connect(st);
		return;
	}
	if ((what & EV_WRITE) && st->conn != NULL) {
		int rc = PQflush(st->conn);
		if (rc < 0) {
			connection_lost(st, PQerrorMessage(st->conn));
			return;
		}
		if (rc == 0)
			watch_socket(st, EV_READ | EV_PERSIST);
	}
	if (what & EV_READ) {
		if (st->state == ST_BUSY)
			read_results(st);
		else if (!PQconsumeInput(st->conn) || PQstatus(st->conn) == CONNECTION_BAD)
			connection_lost(st, PQerrorMessage(st->conn));
	}
}

/* --- public ------------------------------------------------------------ */

struct store *
store_new(struct event_base *base, const char *conninfo, int default_priority,
    store_state_fn *state_cb, void *arg)
{
	struct store *st = xcalloc(1, sizeof(*st));

	st->base = base;
	st->conninfo = xstrdup(conninfo);
	st->default_priority = default_priority;
	st->state_cb = state_cb;
	st->state_arg = arg;
	st->backoff_ms = BACKOFF_MIN_MS;
	st->retry_ev = evtimer_new(base, retry_cb, st);
	st->kick_ev = event_new(base, -1, 0, kick_cb, st);
	TAILQ_INIT(&st->queue);
	TAILQ_INIT(&st->flight);
	st->state = ST_DOWN;
	store_connect(st);
	return st;
}

void
store_set_default_priority(struct store *st, int priority)
{
	st->default_priority = priority;
}

void
store_submit(struct store *st, struct store_item *item)
{
	TAILQ_INSERT_TAIL(&st->queue, item, entry);
	st->nqueue++;
	if (st->state == ST_IDLE)
		event_active(st->kick_ev, EV_TIMEOUT, 0);
}

int
store_is_up(const struct store *st)
{
	return st->state == ST_IDLE || st->state == ST_BUSY;
}

size_t
store_pending(const struct store *st)
{
	return st->nqueue + st->nflight;
}

void
store_drain(struct store *st, void (*cb)(void *), void *arg)
{
	if (st->nqueue == 0 && st->nflight == 0) {
		cb(arg);
		return;
	}
	st->drain_cb = cb;
	st->drain_arg = arg;
}

/* Items still queued belong to their owners, who free them. */
void
store_free(struct store *st)
{
	if (st == NULL)
		return;
	if (st->sock_ev != NULL)
		event_free(st->sock_ev);
	event_free(st->retry_ev);
	event_free(st->kick_ev);
	if (st->conn != NULL)
		PQfinish(st->conn);
	free(st->conninfo);
	free(st);
}
