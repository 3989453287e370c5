/*
 * store.h: the system of record. Events are queued, sent in batches (one
 * statement, one transaction per batch) on a non-blocking libpq connection
 * driven by the event loop, and each item's callback runs once its event
 * is durable, or refused.
 */
#ifndef HOTLINE111_STORE_H
#define HOTLINE111_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#include "protocol.h"

struct event_base;
struct store;

struct store_result {
	enum proto_error error; /* PROTO_OK: durable */
	int64_t case_id;
	int priority;
	const char *category; /* NULL: none yet */
	json_t *rules;        /* array of rule names */
	int dup;
	int spooled;          /* durable in the local spool: no case yet, and
	                       * priority, category and rules are the event's
	                       * own triage (a floor for its case) */
	const char *detail;   /* with an error */
};

struct store_item;
typedef void store_done_fn(struct store_item *item, const struct store_result *res);
/* Triage for an event before it is stored (bridge and sources alike): the
 * decision that goes in store_item.triage, or NULL. */
typedef json_t *store_decide_fn(const struct event *ev, void *arg);

struct store_item {
	TAILQ_ENTRY(store_item) entry;
	struct event ev;      /* validated event, owned by the item's owner */
	json_t *triage;       /* decision to apply, or NULL */
	const char *client;   /* bridge client name, or NULL */
	size_t size;          /* bytes on the wire, to bound a batch */
	char rx[40];          /* when the daemon received it, RFC 3339 */
	int64_t rx_us;        /* the same, monotonic microseconds: the ack latency */
	int retries;
	int resent;           /* in a batch whose fate was unknown: dup is ours */
	store_done_fn *done;
};
TAILQ_HEAD(store_queue, store_item);

/* Called when the database becomes usable (up = 1) or is lost (up = 0). */
typedef void store_state_fn(int up, void *arg);

/* The store's connection is made by store_open, once the schema is ready. */
struct store *store_new(struct event_base *base, const char *conninfo,
    int default_priority, store_state_fn *state_cb, void *arg);
/* Connects to the database, whose schema must be this build's by now. */
void store_open(struct store *st);
/* The database was unreachable at start-up: until store_open's connection
 * is up, events go to the spool (set first) as while a connection is lost. */
void store_set_away(struct store *st);
void store_set_default_priority(struct store *st, int priority);
/* Queues an item; its done callback runs later, never from inside this call. */
void store_submit(struct store *st, struct store_item *item);
int store_is_up(const struct store *st);
/* Whether events are taken in: the database is up, or the spool keeps them. */
int store_accepting(const struct store *st);
/* The local spool, owned by the store from here on: while the connection
 * is lost, events are kept there and answered spooled; when it returns
 * they are replayed, in order, before anything else. */
struct spool;
void store_set_spool(struct store *st, struct spool *sp);
/* The spool's depth, for status: {"records":N,"bytes":N,"max_bytes":N,
 * "replayed":N}, or JSON null without a spool. */
json_t *store_spool_status(const struct store *st);
/* Why new events are refused now (the database refuses them, or is away
 * with no spool, or a full one), or NULL while they are taken. */
const char *store_refusing(const struct store *st);
size_t store_pending(const struct store *st);
/* Calls cb once nothing is queued or in flight (for a graceful stop). */
void store_drain(struct store *st, void (*cb)(void *), void *arg);
/* Answers every item queued or in flight PROTO_UNAVAILABLE with detail. */
void store_abandon(struct store *st, const char *detail);
void store_free(struct store *st);

/* Called with the moment (ms since the epoch) a stored event's case next
 * needs its deadlines looked at. */
typedef void store_schedule_fn(int64_t at_ms, void *arg);
void store_set_schedule_hook(struct store *st, store_schedule_fn *fn, void *arg);

/* Whether a refusal with this SQLSTATE is the event's own fault (a data
 * error: class 22, class 23 but 23505); anything else keeps the event. */
int store_sqlstate_blames_event(const char *sqlstate);

/* Fills item->rx with the current time. */
void store_stamp(struct store_item *item);
/* An event object a PBX adapter made (sources.c, cti.c), validated exactly
 * as a bridge line is: sets item->ev and item->size; 0, or -1 with fail. */
int store_item_parse(struct store_item *item, json_t *obj, const struct proto_limits *lim,
    struct proto_fail *fail);

#endif
