/*
 * metrics.h: what the daemon counts, how healthy it is, and the HTTP
 * endpoint that shows both (metrics.listen, hotline111d.conf(5)): GET
 * /metrics in the Prometheus text format 0.0.4, GET /healthz.
 *
 * The counters are plain integers in one struct, bumped where things
 * happen (bridge, store, cti, escalation): one thread, no locks. Gauges
 * are read from the parts when a scrape comes (struct metrics_state,
 * filled by the daemon), and the database's own figures (pending
 * deadlines, unacknowledged escalations) every few seconds.
 */
#ifndef HOTLINE111_METRICS_H
#define HOTLINE111_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "protocol.h"

#define METRICS_MAX_HEADERS 8192 /* bytes of request line and headers; more: 400 */
#define METRICS_MAX_BODY 1024    /* a GET has none; more: 413 */
#define METRICS_TIMEOUT_S 10     /* a connection lives this long at most */
#define METRICS_MAX_CONNS 64     /* connections at once; more wait to be accepted */
#define METRICS_DB_EVERY_S 5     /* the database's figures are this old at most */

/* --- counters ----------------------------------------------------------- */

/* What became of an event: answered ack (new), ack dup, ack spooled, nack. */
enum metrics_result { MR_ACKED, MR_DUP, MR_SPOOLED, MR_NACKED, MR_COUNT };

/* Every event type, then one slot for lines that were no event at all. */
#define METRICS_INVALID EV_HELLO
#define METRICS_TYPES (METRICS_INVALID + 1)
#define METRICS_CODES (PROTO_UNAVAILABLE + 1)
#define METRICS_LEVELS 16 /* escalation.levels holds at most 16 */
#define METRICS_BUCKETS 16

struct metrics_histogram {
	uint64_t bucket[METRICS_BUCKETS]; /* not cumulative: made so when shown */
	uint64_t count;
	double sum;
};

/* What came of a notification's try (outbox.c). */
enum notify_result { NOTIFY_SENT, NOTIFY_RETRY, NOTIFY_FAILED, NOTIFY_COUNT };

struct metrics_counts {
	uint64_t events[METRICS_TYPES][MR_COUNT];
	uint64_t nacks[METRICS_CODES];
	uint64_t escalations[METRICS_LEVELS + 1]; /* [level]; [0]: warnings */
	struct metrics_histogram batch;           /* events per committed batch */
	struct metrics_histogram latency;         /* seconds from receipt to answer */
	uint64_t notifications[NOTIFY_COUNT];
};

extern struct metrics_counts metrics_counts;

/* An event answered: type is an enum event_type or METRICS_INVALID. */
static inline void
metrics_event(int type, enum metrics_result r)
{
	if (type >= 0 && type < METRICS_TYPES)
		metrics_counts.events[type][r]++;
}

/* A refusal that names no event (a hello, a login timeout, a full house). */
static inline void
metrics_nack(enum proto_error code)
{
	if (code > PROTO_OK && code < METRICS_CODES)
		metrics_counts.nacks[code]++;
}

/* An event refused with code: counted as an event nacked and as a nack. */
static inline void
metrics_refused(int type, enum proto_error code)
{
	metrics_event(type, MR_NACKED);
	metrics_nack(code);
}

static inline void
metrics_notification(enum notify_result r)
{
	metrics_counts.notifications[r]++;
}

void metrics_batch(size_t events);
void metrics_latency(double seconds);
/* An h111_fire record: kind "warning" or "escalation", its level. */
void metrics_escalation(const char *kind, long long level);

/* --- health -------------------------------------------------------------- */

/* What the daemon tells of itself when asked (a scrape, /healthz, status). */
struct metrics_state {
	int stopping;
	int db_up;              /* the store's connection is up and takes events */
	int db_connected;       /* the store's connection is up (it may refuse) */
	int console_db_up;      /* the console's connection */
	const char *refusing;   /* why new events are refused now; NULL: taken */
	const char *schema_failure; /* started without the database, whose schema
	                             * then could not be brought up: why */
	int spool_on;
	size_t spool_records;   /* waiting to be replayed */
	size_t spool_bytes, spool_max_bytes;
	size_t bridge_clients;
	size_t consoles;
	json_t *sources;        /* sources_status(), owned: released by the caller */
};

enum metrics_health {
	HEALTH_OK,       /* 200 */
	HEALTH_DEGRADED, /* 200: events are kept, but something needs a look */
	HEALTH_FAILING,  /* 503: events are refused now, or soon (stopping) */
};

/* Judges s, appending one line per finding to reasons (an array). */
enum metrics_health metrics_health(const struct metrics_state *s, json_t *reasons);
const char *metrics_health_name(enum metrics_health h);
/* {"state":"ok|degraded|failing","reasons":[…]} for the console's status. */
json_t *metrics_health_json(const struct metrics_state *s);

/* --- the endpoint -------------------------------------------------------- */

struct event_base;
struct db;
struct metrics;

/* The daemon's side: fills st (its sources member is released after). */
typedef void metrics_state_fn(struct metrics_state *st, void *arg);

/* 0, or -1 with err when metrics.listen is neither "" nor HOST:PORT. */
int metrics_check(const char *listen, char *err, size_t errlen);
/* db: a connection for the database's figures (shared; may be NULL). */
struct metrics *metrics_new(struct event_base *base, struct db *db, metrics_state_fn *state,
    void *arg);
/* Listens on cfg->metrics_listen unless it is "" (off); -1 with err. */
int metrics_listen(struct metrics *m, const struct config *cfg, char *err, size_t errlen);
/* escalation.levels may change on reload: how many levels to show. */
void metrics_configure(struct metrics *m, const struct config *cfg);
void metrics_stop(struct metrics *m);
void metrics_free(struct metrics *m);

/* The exposition for a state and the counters (tests; the endpoint's body).
 * db_figures: the last database figures, or NULL when there are none. */
char *metrics_render(const struct metrics_state *s, const json_t *db_figures, int nlevels);

#endif
