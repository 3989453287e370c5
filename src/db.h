/*
 * db.h: one non-blocking libpq connection driven by the event loop, with a
 * first-in first-out queue of parameterised statements. It reconnects by
 * itself with backoff; statements wait in the queue meanwhile.
 */
#ifndef HOTLINE111_DB_H
#define HOTLINE111_DB_H

#include <libpq-fe.h>

struct event_base;
struct db;

/*
 * A statement's outcome: res is its last result (owned by db, valid during
 * the call) or NULL when the connection was lost while it ran, in which
 * case it may or may not have committed.
 */
typedef void db_result_fn(PGresult *res, void *arg);
/* Called when the connection comes up (up = 1) or goes away (up = 0). */
typedef void db_state_fn(int up, void *arg);

/* A connection not made yet: statements queued before db_open wait for it. */
struct db *db_new(struct event_base *base, const char *name, const char *conninfo,
    db_state_fn *state_cb, void *arg);
/* Starts connecting (the daemon does so once the schema is this build's). */
void db_open(struct db *db);
/* A NOTIFY payload on the channel listened to. */
typedef void db_notify_fn(const char *payload, void *arg);
/*
 * LISTENs on channel (a fixed identifier of ours, never input) on this
 * connection and on every one after a reconnect; fn gets each payload.
 */
void db_listen(struct db *db, const char *channel, db_notify_fn *fn, void *arg);

/* Queues a statement; params are copied. Runs after the ones queued before. */
void db_query(struct db *db, const char *sql, int nparams, const char *const *params,
    db_result_fn *cb, void *arg);
int db_is_up(const struct db *db);
/* Statements queued or running. */
int db_busy(const struct db *db);
/* Runs cb once the queue is empty (at once if it is). */
void db_drain(struct db *db, void (*cb)(void *), void *arg);
/* Queued statements are dropped unrun: their callbacks are not called. */
void db_free(struct db *db);

/* The SQLSTATE of a failed result, "?????" when there is none. */
const char *db_sqlstate(const PGresult *res);
/* Its primary message, one line, or "no message". */
const char *db_message(const PGresult *res);

#endif
