/*
 * db.c: libpq inside libevent. PQconnectStart/PQconnectPoll to connect,
 * PQsendQueryParams + PQflush to send, PQconsumeInput/PQisBusy/PQgetResult
 * when readable; the socket is re-read from PQsocket() after every
 * reconnect. One statement runs at a time.
 */
#include "db.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "log.h"
#include "xmalloc.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct query {
	TAILQ_ENTRY(query) entry;
	char *sql;
	char **params;
	int nparams;
	db_result_fn *cb;
	void *arg;
};
TAILQ_HEAD(query_queue, query);

enum db_state { DB_DOWN, DB_CONNECTING, DB_IDLE, DB_BUSY };

struct db {
	struct event_base *base;
	char *name; /* in log lines: "database" for intake, "database[timers]" */
	char *conninfo;
	db_state_fn *state_cb;
	void *state_arg;
	PGconn *conn;
	enum db_state state;
	struct event *sock_ev;
	struct event *retry_ev;
	struct event *kick_ev;
	int backoff_ms;
	int reported_down;
	struct query_queue queue; /* the head runs when state is DB_BUSY */
	PGresult *last;
	void (*drain_cb)(void *);
	void *drain_arg;
	char *listen_sql;
	db_notify_fn *notify_cb;
	void *notify_arg;
};

static void sock_cb(evutil_socket_t fd, short what, void *arg);
static void send_next(struct db *db);
static void enqueue(struct db *db, int first, const char *sql, int nparams,
    const char *const *params, db_result_fn *cb, void *arg);

const char *
db_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "?????";
}

const char *
db_message(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	return s ? s : "no message";
}

static void
query_free(struct query *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

static void
watch_socket(struct db *db, short what)
{
	if (db->sock_ev != NULL)
		event_free(db->sock_ev);
	db->sock_ev = event_new(db->base, PQsocket(db->conn), what, sock_cb, db);
	event_add(db->sock_ev, NULL);
}

static void
kick(struct db *db)
{
	event_active(db->kick_ev, EV_TIMEOUT, 0);
}

static void
check_drained(struct db *db)
{
	void (*cb)(void *) = db->drain_cb;

	if (cb == NULL || !TAILQ_EMPTY(&db->queue))
		return;
	db->drain_cb = NULL;
	cb(db->drain_arg);
}

/* The running statement's callback learns of the loss with res = NULL. */
static void
connection_lost(struct db *db, const char *why)
{
	int was_up = db->state == DB_IDLE || db->state == DB_BUSY;
	struct query *q = db->state == DB_BUSY ? TAILQ_FIRST(&db->queue) : NULL;
	struct timeval tv = { db->backoff_ms / 1000, (db->backoff_ms % 1000) * 1000 };

	if (!db->reported_down)
		log_error("%s: %.*s; retrying with backoff", db->name,
		    (int)strcspn(why ? why : "connection lost", "\n"), why ? why : "connection lost");
	db->reported_down = 1;
	if (db->sock_ev != NULL)
		event_free(db->sock_ev);
	db->sock_ev = NULL;
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	PQclear(db->last);
	db->last = NULL;
	db->state = DB_DOWN;
	event_add(db->retry_ev, &tv);
	db->backoff_ms = db->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : db->backoff_ms * 2;
	if (q != NULL) {
		TAILQ_REMOVE(&db->queue, q, entry);
		q->cb(NULL, q->arg);
		query_free(q);
	}
	if (was_up && db->state_cb != NULL)
		db->state_cb(0, db->state_arg);
}

static void
notice(void *arg, const char *message)
{
	log_debug("%s: %.*s", ((struct db *)arg)->name, (int)strcspn(message, "\n"), message);
}

static void
listening(PGresult *res, void *arg)
{
	struct db *db = arg;

	if (res != NULL && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_error("%s: %s failed: SQLSTATE %s", db->name, db->listen_sql, db_sqlstate(res));
}

static void
deliver_notifies(struct db *db)
{
	PGnotify *n;

	while (db->conn != NULL && (n = PQnotifies(db->conn)) != NULL) {
		if (db->notify_cb != NULL)
			db->notify_cb(n->extra, db->notify_arg);
		PQfreemem(n);
	}
}

static void
connected(struct db *db)
{
	if (db->listen_sql != NULL)
		enqueue(db, 1, db->listen_sql, 0, NULL, listening, db);
	PQsetnonblocking(db->conn, 1);
	PQsetNoticeProcessor(db->conn, notice, db);
	db->state = DB_IDLE;
	db->backoff_ms = BACKOFF_MIN_MS;
	log_info("%s: connected%s", db->name, db->reported_down ? " again" : "");
	db->reported_down = 0;
	watch_socket(db, EV_READ | EV_PERSIST);
	if (db->state_cb != NULL)
		db->state_cb(1, db->state_arg);
	kick(db);
}

static void
poll_connect(struct db *db)
{
	switch (PQconnectPoll(db->conn)) {
	case PGRES_POLLING_READING:
		watch_socket(db, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		watch_socket(db, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		connected(db);
		break;
	default:
		connection_lost(db, PQerrorMessage(db->conn));
		break;
	}
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;
	const char *kw[] = { "dbname", "fallback_application_name", NULL };
	const char *val[] = { db->conninfo, "hotline111d", NULL };

	db->conn = PQconnectStartParams(kw, val, 1);
	db->state = DB_CONNECTING;
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
		connection_lost(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
		return;
	}
	poll_connect(db);
}

static void
send_next(struct db *db)
{
	struct query *q = TAILQ_FIRST(&db->queue);

	if (db->state != DB_IDLE || q == NULL)
		return;
	if (!PQsendQueryParams(db->conn, q->sql, q->nparams, NULL,
	    (const char *const *)q->params, NULL, NULL, 0)) {
		connection_lost(db, PQerrorMessage(db->conn));
		return;
	}
	db->state = DB_BUSY;
	if (PQflush(db->conn) == 1)
		watch_socket(db, EV_READ | EV_WRITE | EV_PERSIST);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	send_next(arg);
}

/* Every result of the statement is read; the callback gets the last one. */
static void
read_results(struct db *db)
{
	PGresult *r;

	if (!PQconsumeInput(db->conn)) {
		connection_lost(db, PQerrorMessage(db->conn));
		return;
	}
	deliver_notifies(db);
	while (db->state == DB_BUSY && !PQisBusy(db->conn)) {
		struct query *q = TAILQ_FIRST(&db->queue);
		if ((r = PQgetResult(db->conn)) != NULL) {
			PQclear(db->last);
			db->last = r;
			continue;
		}
		if (PQstatus(db->conn) == CONNECTION_BAD) {
			connection_lost(db, PQerrorMessage(db->conn));
			return;
		}
		TAILQ_REMOVE(&db->queue, q, entry);
		db->state = DB_IDLE;
		q->cb(db->last, q->arg);
		query_free(q);
		PQclear(db->last);
		db->last = NULL;
		send_next(db);
		check_drained(db);
	}
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	if (db->state == DB_CONNECTING) {
		poll_connect(db);
		return;
	}
	if (what & EV_WRITE) {
		int rc = PQflush(db->conn);
		if (rc < 0) {
			connection_lost(db, PQerrorMessage(db->conn));
			return;
		}
		if (rc == 0)
			watch_socket(db, EV_READ | EV_PERSIST);
	}
	if (!(what & EV_READ))
		return;
	if (db->state == DB_BUSY)
		read_results(db);
	else if (!PQconsumeInput(db->conn) || PQstatus(db->conn) == CONNECTION_BAD)
		connection_lost(db, PQerrorMessage(db->conn));
	else
		deliver_notifies(db);
}

struct db *
db_new(struct event_base *base, const char *name, const char *conninfo,
    db_state_fn *state_cb, void *arg)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->base = base;
	db->name = xstrdup(name);
	db->conninfo = xstrdup(conninfo);
	db->state_cb = state_cb;
	db->state_arg = arg;
	db->backoff_ms = BACKOFF_MIN_MS;
	db->retry_ev = evtimer_new(base, retry_cb, db);
	db->kick_ev = event_new(base, -1, 0, kick_cb, db);
	TAILQ_INIT(&db->queue);
	db->state = DB_DOWN;
	return db;
}

void
db_open(struct db *db)
{
	if (db->conn == NULL && !event_pending(db->retry_ev, EV_TIMEOUT, NULL))
		retry_cb(-1, 0, db);
}

void
db_listen(struct db *db, const char *channel, db_notify_fn *fn, void *arg)
{
	free(db->listen_sql);
	xasprintf(&db->listen_sql, "LISTEN %s", channel);
	db->notify_cb = fn;
	db->notify_arg = arg;
	if (db_is_up(db))
		enqueue(db, 0, db->listen_sql, 0, NULL, listening, db);
}

void
db_query(struct db *db, const char *sql, int nparams, const char *const *params,
    db_result_fn *cb, void *arg)
{
	enqueue(db, 0, sql, nparams, params, cb, arg);
}

/* first: ahead of everything queued (LISTEN after a reconnect). */
static void
enqueue(struct db *db, int first, const char *sql, int nparams, const char *const *params,
    db_result_fn *cb, void *arg)
{
	struct query *q = xcalloc(1, sizeof(*q));

	q->sql = xstrdup(sql);
	q->nparams = nparams;
	q->params = xcalloc((size_t)nparams + 1, sizeof(char *));
	for (int i = 0; i < nparams; i++)
		q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
	q->cb = cb;
	q->arg = arg;
	if (first)
		TAILQ_INSERT_HEAD(&db->queue, q, entry);
	else
		TAILQ_INSERT_TAIL(&db->queue, q, entry);
	if (db->state == DB_IDLE)
		kick(db);
}

int
db_is_up(const struct db *db)
{
	return db->state == DB_IDLE || db->state == DB_BUSY;
}

int
db_busy(const struct db *db)
{
	return !TAILQ_EMPTY(&db->queue);
}

void
db_drain(struct db *db, void (*cb)(void *), void *arg)
{
	db->drain_cb = cb;
	db->drain_arg = arg;
	check_drained(db);
}

void
db_free(struct db *db)
{
	struct query *q;

	if (db == NULL)
		return;
	while ((q = TAILQ_FIRST(&db->queue)) != NULL) {
		TAILQ_REMOVE(&db->queue, q, entry);
		query_free(q);
	}
	if (db->sock_ev != NULL)
		event_free(db->sock_ev);
	event_free(db->retry_ev);
	event_free(db->kick_ev);
	if (db->conn != NULL)
		PQfinish(db->conn);
	PQclear(db->last);
	free(db->listen_sql);
	free(db->name);
	free(db->conninfo);
	free(db);
}
