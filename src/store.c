/*
 * store.c: events into PostgreSQL. One batch is in flight at a time;
 * whatever arrives meanwhile forms the next batch, so events that arrive
 * together share one commit (synchronous_commit stays on: a result means
 * durable). The connection itself is db.c's.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

#include "db.h"
#include "log.h"
#include "metrics.h"
#include "spool.h"
#include "xmalloc.h"

#define BATCH_MAX_ITEMS 1000
#define BATCH_MAX_BYTES (4 * 1024 * 1024)
#define RETRY_MAX 3
#define FAULT_BACKOFF_MIN_MS 100
#define FAULT_BACKOFF_MAX_MS 5000

static const char apply_sql[] =
    "SELECT idx, case_id, priority, category, to_jsonb(rules), dup, "
    "(extract(epoch FROM next_at) * 1000)::bigint FROM h111_apply($1::jsonb, $2::int)";

struct store {
	struct db *db;
	int default_priority;
	store_state_fn *state_cb;
	void *state_arg;
	struct event *kick_ev; /* sends queued items after the current callbacks */
	int busy;              /* a batch is in flight */
	struct store_queue queue;  /* waiting */
	struct store_queue flight; /* in the batch being committed */
	size_t nqueue, nflight;
	void (*drain_cb)(void *);
	void *drain_arg;
	store_schedule_fn *schedule;
	void *schedule_arg;
	/* The database refused a batch for a reason not the events' own (read
	 * only, a timeout, a lock): the events stay, intake pauses, and the
	 * batch is tried again after a backoff, as after a lost connection. */
	struct event *fault_ev;
	int fault;
	int fault_probe; /* the backoff ran out: the next batch may go */
	int fault_backoff_ms;
	int reported_up; /* what state_cb was last told */
	size_t batch_max; /* halved by each fault (a batch may be what times out) */
	/* The local spool: events go there while the connection is lost, and
	 * come back (replay_end, replay_n: the batch in flight) before any
	 * new one once it returns. */
	struct spool *spool;
	int lost;          /* the connection went away after being up */
	int replaying;     /* the batch in flight comes from the spool */
	int replay_single; /* a data error in a replayed batch: one at a time */
	size_t replay_end, replay_n;
	size_t replayed;   /* events replayed since the start */
	char replay_first[80]; /* the first event id of the batch in flight */
	const char *spool_refusing; /* why, once the spool refused one, until the outage ends */
};

static void send_batch(struct store *st);

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
store_stamp(struct store_item *item)
{
	struct timeval tv;
	struct tm tm;
	char head[24];

	item->rx_us = mono_us();
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(item->rx, sizeof(item->rx), "%s.%06ldZ", head, (long)tv.tv_usec);
}

int
store_item_parse(struct store_item *item, json_t *obj, const struct proto_limits *lim,
    struct proto_fail *fail)
{
	char *line = json_dumps(obj, JSON_COMPACT);
	int rc;

	if (line == NULL)
		fatal("store: out of memory");
	item->size = strlen(line);
	rc = protocol_parse(line, item->size, lim, &item->ev, fail);
	free(line);
	return rc;
}

/* --- batches ----------------------------------------------------------- */

/* Every item's answer goes through here: counted, then handed back. */
static void
answer(struct store_item *it, const struct store_result *res)
{
	enum metrics_result r = res->error != PROTO_OK ? MR_NACKED : res->spooled ? MR_SPOOLED :
	    res->dup ? MR_DUP : MR_ACKED;

	metrics_event((int)it->ev.type, r);
	if (r == MR_NACKED)
		metrics_nack(res->error);
	if (it->rx_us > 0)
		metrics_latency((double)(mono_us() - it->rx_us) / 1e6);
	it->done(it, res);
}

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

/* Moves the head of the queue into flight: at most batch_max items, and
 * BATCH_MAX_BYTES unless a single item is larger. */
static json_t *
take_batch(struct store *st)
{
	json_t *arr = json_array();
	size_t bytes = 0;
	struct store_item *it;

	while ((it = TAILQ_FIRST(&st->queue)) != NULL && st->nflight < st->batch_max) {
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

enum requeue { REQUEUE_UNKNOWN, REQUEUE_ISOLATE, REQUEUE_AS_IS };

/*
 * Puts the batch in flight back at the head of the queue. UNKNOWN: its fate
 * is unknown, so a dup of it is the first delivery (event ids make this
 * safe); ISOLATE: each of its events is retried alone; AS_IS: the batch
 * was rolled back for a reason none of its events caused.
 */
static void
requeue_flight(struct store *st, enum requeue how)
{
	struct store_item *it;

	while ((it = TAILQ_LAST(&st->flight, store_queue)) != NULL) {
		TAILQ_REMOVE(&st->flight, it, entry);
		it->resent |= how == REQUEUE_UNKNOWN;
		it->retries += how == REQUEUE_ISOLATE;
		TAILQ_INSERT_HEAD(&st->queue, it, entry);
	}
	st->nqueue += st->nflight;
	st->nflight = 0;
}

static void
finish_item(struct store *st, struct store_item *it, const struct store_result *res)
{
	TAILQ_REMOVE(&st->flight, it, entry);
	st->nflight--;
	answer(it, res);
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
		if (!PQgetisnull(r, i, 6) && st->schedule != NULL)
			st->schedule(strtoll(PQgetvalue(r, i, 6), NULL, 10), st->schedule_arg);
		finish_item(st, it, &res);
		json_decref(rules);
	}
}

/*
 * Only a data error caused by the event itself (class 22 data exception,
 * class 23 integrity violation but 23505) is the event's fault. Anything
 * else (read only, timeouts, locks, resources, lost connections,
 * serialization) says nothing of the event.
 */
int
store_sqlstate_blames_event(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return 0;
	if (strncmp(sqlstate, "22", 2) == 0)
		return 1;
	return strncmp(sqlstate, "23", 2) == 0 && strcmp(sqlstate, "23505") != 0;
}

/* Worth an immediate retry, each event alone: serialization failure,
 * deadlock, a concurrent insert of the same id. */
static int
transient(const char *sqlstate)
{
	return strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0 ||
	    strcmp(sqlstate, "23505") == 0;
}

static void
report_state(struct store *st)
{
	int up = store_accepting(st);

	if (up == st->reported_up)
		return;
	st->reported_up = up;
	if (st->state_cb != NULL)
		st->state_cb(up, st->state_arg);
}

static void
fault_begin(struct store *st, const char *sqlstate, const char *message)
{
	struct timeval tv = { st->fault_backoff_ms / 1000, (st->fault_backoff_ms % 1000) * 1000 };

	if (!st->fault)
		log_error("store: the database refused a batch of %zu (SQLSTATE %s: %.*s); "
		    "keeping its events, intake paused, retrying with backoff",
		    st->nflight > 0 ? st->nflight : st->replay_n, sqlstate,
		    (int)strcspn(message, "\n"), message);
	requeue_flight(st, REQUEUE_AS_IS);
	st->batch_max = st->batch_max > 1 ? st->batch_max / 2 : 1;
	st->fault = 1;
	st->fault_probe = 0;
	event_add(st->fault_ev, &tv);
	st->fault_backoff_ms = st->fault_backoff_ms * 2 > FAULT_BACKOFF_MAX_MS ?
	    FAULT_BACKOFF_MAX_MS : st->fault_backoff_ms * 2;
	report_state(st);
}

static void
fault_end(struct store *st)
{
	st->fault_backoff_ms = FAULT_BACKOFF_MIN_MS;
	st->batch_max = st->batch_max * 2 > BATCH_MAX_ITEMS ? BATCH_MAX_ITEMS : st->batch_max * 2;
	if (!st->fault)
		return;
	st->fault = 0;
	log_info("store: the database accepts events again");
	report_state(st);
}

static void
fault_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	st->fault_probe = 1;
	send_batch(st);
}

static void
nack_refused(struct store *st, const char *sqlstate)
{
	struct store_item *it = TAILQ_FIRST(&st->flight);
	char detail[96];

	snprintf(detail, sizeof(detail), "refused by the database (SQLSTATE %s)", sqlstate);
	log_warn("store: event %.64s refused by the database: SQLSTATE %s", it->ev.id, sqlstate);
	finish_item(st, it, &(struct store_result){ .error = PROTO_BAD_VALUE, .detail = detail });
}

/*
 * A batch the database refused. The event's own fault: a batch is split so
 * each event is retried alone, and an event refused alone is nacked.
 * Transient: retried at once, each event alone, a few times. Anything else
 * keeps the batch whole and waits (fault_begin).
 */
static void
batch_refused(struct store *st, PGresult *r)
{
	const char *sqlstate = db_sqlstate(r);
	struct store_item *it = TAILQ_FIRST(&st->flight);

	if (store_sqlstate_blames_event(sqlstate) && st->nflight == 1) {
		nack_refused(st, sqlstate);
		return;
	}
	if (store_sqlstate_blames_event(sqlstate) ||
	    (transient(sqlstate) && (st->nflight > 1 || it->retries < RETRY_MAX))) {
		log_warn("store: batch of %zu refused (SQLSTATE %s); retrying its events one by "
		    "one", st->nflight, sqlstate);
		requeue_flight(st, REQUEUE_ISOLATE);
		return;
	}
	fault_begin(st, sqlstate, db_message(r));
}

static void
check_drained(struct store *st)
{
	void (*cb)(void *) = st->drain_cb;

	if (cb == NULL || st->nqueue > 0 || st->nflight > 0)
		return;
	st->drain_cb = NULL;
	cb(st->drain_arg);
}

/* --- the spool ---------------------------------------------------------- */

static int
spooling(const struct store *st)
{
	return st->spool != NULL && st->lost && !db_is_up(st->db);
}

static int
replay_pending(const struct store *st)
{
	return st->spool != NULL && spool_records(st->spool) > 0;
}

/* Appends the items to the spool, one sync for them all: how many of the
 * first ones are durable; why for the others. */
static size_t
spool_items(struct store *st, struct store_queue *q, const char **why)
{
	enum spool_append_rc rc = SPOOL_APPENDED;
	struct store_item *it;
	size_t n = 0;

	/* once one is refused, so is every later one: the order stays */
	if (st->spool_refusing != NULL) {
		*why = st->spool_refusing;
		return 0;
	}
	TAILQ_FOREACH(it, q, entry) {
		json_t *el = batch_element(it);
		char *body = json_dumps(el, JSON_COMPACT);

		json_decref(el);
		if (body == NULL)
			fatal("store: out of memory encoding an event for the spool");
		rc = spool_append(st->spool, body, strlen(body));
		free(body);
		if (rc != SPOOL_APPENDED)
			break;
		n++;
	}
	if (n > 0 && spool_sync(st->spool) != 0) {
		n = 0;
		rc = SPOOL_FAILED;
	}
	*why = rc == SPOOL_FULL ? "not stored: the database is unreachable and the spool is full; "
	    "send again later" : "not stored: the database is unreachable and the spool cannot be "
	    "written; send again later";
	if (rc != SPOOL_APPENDED) {
		if (spooling(st))
			log_error("spool: %zu of %zu bytes used; events are answered unavailable "
			    "until the database returns (%s)", spool_bytes(st->spool),
			    spool_max_bytes(st->spool), *why);
		else
			log_warn("spool: %zu of %zu bytes used; new events wait for the replay",
			    spool_bytes(st->spool), spool_max_bytes(st->spool));
		st->spool_refusing = *why;
	}
	return n;
}

/* What a spooled event's answer can say before its case exists: its own
 * triage, the priority a new case would open at (the line's default,
 * raised by the decision), the category and rules of the decision. */
static void
spooled_result(const struct store *st, const struct store_item *it, struct store_result *res)
{
	json_t *prio = json_object_get(it->triage, "priority");
	json_t *rules = json_object_get(it->triage, "rules");

	*res = (struct store_result){ .error = PROTO_OK, .spooled = 1 };
	res->priority = st->default_priority;
	if (json_is_integer(prio) && json_integer_value(prio) < res->priority)
		res->priority = (int)json_integer_value(prio);
	res->category = json_string_value(json_object_get(it->triage, "category"));
	res->rules = json_is_array(rules) ? rules : NULL;
}

/* Everything queued goes to the spool and is answered spooled. What does
 * not fit is answered unavailable (the sender resends it later) while the
 * database is away; while it is up (a replay) it waits in memory for the
 * replay to end. */
static void
spool_queue(struct store *st)
{
	struct store_queue q = TAILQ_HEAD_INITIALIZER(q);
	struct store_result res;
	size_t total = st->nqueue, n;
	struct store_item *it;
	const char *why;

	TAILQ_CONCAT(&q, &st->queue, entry);
	TAILQ_INIT(&st->queue);
	st->nqueue = 0;
	n = spool_items(st, &q, &why);
	log_debug("store: %zu events spooled, %zu waiting to be replayed", n,
	    spool_records(st->spool));
	for (; !spooling(st) && total > n; total--) { /* back first: older than any new one */
		it = TAILQ_LAST(&q, store_queue);
		TAILQ_REMOVE(&q, it, entry);
		TAILQ_INSERT_HEAD(&st->queue, it, entry);
		st->nqueue++;
	}
	while ((it = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, it, entry);
		if (n > 0) {
			n--;
			spooled_result(st, it, &res);
			answer(it, &res);
		} else
			answer(it, &(struct store_result){ .error = PROTO_UNAVAILABLE, .detail = why });
	}
}

/* The next records of the spool as one batch: at most batch_max (one while
 * a refused batch is being sorted out), and BATCH_MAX_BYTES unless a
 * single record is larger. Sets replay_end and replay_n. */
static json_t *
take_replay(struct store *st)
{
	size_t off = 0, bytes = 0, plen, max = st->replay_single > 0 ? 1 : st->batch_max;
	const unsigned char *p;
	json_t *arr = json_array(), *el;

	st->replay_n = 0;
	for (;;) {
		size_t at = off;

		if (st->replay_n >= max || !spool_read(st->spool, &at, &p, &plen)) {
			if (st->replay_n == 0)
				off = at;
			break;
		}
		if (st->replay_n > 0 && bytes + plen > BATCH_MAX_BYTES)
			break;
		off = at;
		st->replay_n++;
		bytes += plen;
		if ((el = spool_element_load(p, plen)) != NULL)
			json_array_append_new(arr, el);
		else
			log_error("spool: the record ending at offset %zu is not an event; skipped", off);
	}
	st->replay_end = off;
	return arr;
}

static void replay_result(PGresult *r, void *arg);

/* A batch of events (taken: freed here) to h111_apply, in flight until cb. */
static void
apply(struct store *st, json_t *arr, void (*cb)(PGresult *, void *))
{
	char prio[8], *body = json_dumps(arr, JSON_COMPACT);
	const char *params[2] = { body, prio };

	json_decref(arr);
	if (body == NULL)
		fatal("store: out of memory encoding a batch");
	snprintf(prio, sizeof(prio), "%d", st->default_priority);
	st->busy = 1;
	db_query(st->db, apply_sql, 2, params, cb, st);
	free(body);
}


static void
send_replay(struct store *st)
{
	json_t *arr = take_replay(st);

	if (json_array_size(arr) == 0) { /* nothing readable left: the count is done */
		json_decref(arr);
		spool_replayed(st->spool, st->replay_end,
		    st->replay_n > 0 ? st->replay_n : spool_records(st->spool));
		event_active(st->kick_ev, EV_TIMEOUT, 0);
		return;
	}
	snprintf(st->replay_first, sizeof(st->replay_first), "%s",
	    json_string_value(json_object_get(json_object_get(json_array_get(arr, 0), "ev"), "id")));
	st->replaying = 1;
	apply(st, arr, replay_result);
}

static void
replay_rows(struct store *st, PGresult *r)
{
	for (int i = 0; i < PQntuples(r); i++) {
		if (!PQgetisnull(r, i, 6) && st->schedule != NULL)
			st->schedule(strtoll(PQgetvalue(r, i, 6), NULL, 10), st->schedule_arg);
	}
	st->replayed += st->replay_n;
	st->replay_single -= st->replay_single > 0;
	spool_replayed(st->spool, st->replay_end, st->replay_n);
	if (spool_records(st->spool) == 0) {
		log_info("spool: replay done; %zu events replayed since the start", st->replayed);
		st->spool_refusing = NULL;
	}
}

/* A replayed batch the database refused: as batch_refused, but the events
 * were answered long ago, so one refused for its own data is dropped. */
static void
replay_refused(struct store *st, PGresult *r)
{
	const char *sqlstate = db_sqlstate(r);
	char id[80];

	if (store_sqlstate_blames_event(sqlstate) && st->replay_n == 1) {
		log_error("spool: replayed event %s refused by the database (SQLSTATE %s): dropped",
		    log_escape(id, sizeof(id), st->replay_first, 64), sqlstate);
		spool_replayed(st->spool, st->replay_end, 1);
		st->replay_single -= st->replay_single > 0;
		return;
	}
	if (store_sqlstate_blames_event(sqlstate) || transient(sqlstate)) {
		log_warn("spool: a replayed batch of %zu refused (SQLSTATE %s); replaying its "
		    "events one by one", st->replay_n, sqlstate);
		if (st->replay_single == 0)
			st->replay_single = st->replay_n;
		return;
	}
	fault_begin(st, sqlstate, db_message(r));
}

static void
after_result(struct store *st)
{
	if ((st->nqueue > 0 || replay_pending(st)) && !st->fault)
		event_active(st->kick_ev, EV_TIMEOUT, 0);
	check_drained(st);
}

static void
replay_result(PGresult *r, void *arg)
{
	struct store *st = arg;

	st->busy = 0;
	st->replaying = 0;
	/* r == NULL: the connection was lost; the records stay to be replayed */
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
		fault_end(st);
		metrics_batch(st->replay_n);
		replay_rows(st, r);
	} else if (r != NULL)
		replay_refused(st, r);
	after_result(st);
}

static void
batch_result(PGresult *r, void *arg)
{
	struct store *st = arg;

	st->busy = 0;
	if (r == NULL)
		requeue_flight(st, REQUEUE_UNKNOWN);
	else if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		fault_end(st);
		metrics_batch((size_t)PQntuples(r));
		deliver_rows(st, r);
	} else
		batch_refused(st, r);
	if (st->nflight > 0) /* a short result: never expected; resend the rest */
		requeue_flight(st, REQUEUE_UNKNOWN);
	after_result(st);
}

static void
send_batch(struct store *st)
{
	/* What arrives during a replay joins the spool behind it, so intake
	 * never waits for a long replay (unless the spool is refusing). Not
	 * while a batch of the queue is in flight: it may come back first. */
	if (st->nqueue > 0 && (!st->busy || st->replaying) &&
	    (spooling(st) || (replay_pending(st) && !st->spool_refusing))) {
		spool_queue(st);
		check_drained(st);
	}
	if (st->busy || !db_is_up(st->db) || (st->fault && !st->fault_probe))
		return;
	if (replay_pending(st)) { /* the spool first, in order */
		st->fault_probe = 0;
		send_replay(st);
		return;
	}
	if (st->nqueue == 0)
		return;
	st->fault_probe = 0;
	apply(st, take_batch(st), batch_result);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	send_batch(arg);
}

static void
db_state(int up, void *arg)
{
	struct store *st = arg;

	/* A new connection may end the fault (a failover): try at once. */
	if (up && st->fault) {
		event_del(st->fault_ev);
		st->fault_probe = 1;
	}
	if (!up && !st->lost && st->spool != NULL)
		log_warn("store: the database is unreachable; events go to the local spool");
	if (up && replay_pending(st))
		log_info("spool: replaying %zu events before any new one", spool_records(st->spool));
	st->lost = !up;
	st->spool_refusing = up ? NULL : st->spool_refusing;
	if (st->nqueue > 0 || replay_pending(st))
		event_active(st->kick_ev, EV_TIMEOUT, 0);
	report_state(st);
}

/* --- public ------------------------------------------------------------ */

struct store *
store_new(struct event_base *base, const char *conninfo, int default_priority,
    store_state_fn *state_cb, void *arg)
{
	struct store *st = xcalloc(1, sizeof(*st));

	st->default_priority = default_priority;
	st->state_cb = state_cb;
	st->state_arg = arg;
	st->kick_ev = event_new(base, -1, 0, kick_cb, st);
	st->fault_ev = evtimer_new(base, fault_cb, st);
	st->fault_backoff_ms = FAULT_BACKOFF_MIN_MS;
	st->batch_max = BATCH_MAX_ITEMS;
	TAILQ_INIT(&st->queue);
	TAILQ_INIT(&st->flight);
	st->db = db_new(base, "database", conninfo, db_state, st);
	return st;
}

void
store_open(struct store *st)
{
	db_open(st->db);
}

void
store_set_away(struct store *st)
{
	if (st->spool != NULL)
		log_warn("store: the database is unreachable; events go to the local spool");
	st->lost = 1;
	report_state(st);
}

void
store_set_schedule_hook(struct store *st, store_schedule_fn *fn, void *arg)
{
	st->schedule = fn;
	st->schedule_arg = arg;
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
	if (!st->busy || st->replaying)
		event_active(st->kick_ev, EV_TIMEOUT, 0);
}

int
store_is_up(const struct store *st)
{
	return db_is_up(st->db) && !st->fault;
}

int
store_accepting(const struct store *st)
{
	return store_is_up(st) || spooling(st);
}

void
store_set_spool(struct store *st, struct spool *sp)
{
	st->spool = sp;
}

json_t *
store_spool_status(const struct store *st)
{
	if (st->spool == NULL)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:b}", "records",
	    (json_int_t)spool_records(st->spool), "bytes", (json_int_t)spool_bytes(st->spool),
	    "max_bytes", (json_int_t)spool_max_bytes(st->spool), "replayed",
	    (json_int_t)st->replayed, "replaying", db_is_up(st->db) && replay_pending(st));
}

const char *
store_refusing(const struct store *st)
{
	if (st->fault)
		return "the database refuses events (see the daemon's log); retrying with backoff";
	if (db_is_up(st->db))
		return NULL;
	if (st->spool == NULL)
		return "the database is unreachable and spool.dir is off";
	if (!st->lost)
		return "the database is not connected yet";
	if (st->spool_refusing != NULL)
		return "the database is unreachable and the spool is full or cannot be written";
	return NULL;
}

size_t
store_pending(const struct store *st)
{
	return st->nqueue + st->nflight;
}

void
store_drain(struct store *st, void (*cb)(void *), void *arg)
{
	st->drain_cb = cb;
	st->drain_arg = arg;
	if (st->nqueue > 0)
		event_active(st->kick_ev, EV_TIMEOUT, 0);
	check_drained(st);
}

/*
 * The daemon gives up on what it holds (a stop that could not store it):
 * every item is answered unavailable, so its sender resends it later. An
 * item in flight may still commit; its resend is then a dup.
 */
void
store_abandon(struct store *st, const char *detail)
{
	struct store_result res = { .error = PROTO_UNAVAILABLE, .detail = detail };
	struct store_item *it;

	requeue_flight(st, REQUEUE_UNKNOWN);
	while ((it = TAILQ_FIRST(&st->queue)) != NULL) {
		TAILQ_REMOVE(&st->queue, it, entry);
		st->nqueue--;
		answer(it, &res);
	}
	check_drained(st);
}

/* Items still queued belong to their owners, who free them. */
void
store_free(struct store *st)
{
	if (st == NULL)
		return;
	db_free(st->db);
	spool_close(st->spool);
	event_free(st->kick_ev);
	event_free(st->fault_ev);
	free(st);
}
