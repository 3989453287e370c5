/*
 * schema.h: the database made ready for this build before anything is
 * stored in it: the migrations and functions (migrate.c), then the
 * escalation policy that the deadline functions read.
 *
 * At start-up with PostgreSQL unreachable and a spool, the daemon does not
 * wait: a child process (schema_wait_start) waits for the database and
 * does this step, while the daemon's loop takes events into the spool.
 * Only when it reports success do the daemon's connections open, so the
 * spool is never replayed into a schema this build does not know.
 */
#ifndef HOTLINE111_SCHEMA_H
#define HOTLINE111_SCHEMA_H

#include <stddef.h>

struct event_base;
struct schema_wait;

/* Seconds a connection attempt may take where the conninfo sets none. */
#define SCHEMA_CONNECT_S 10
/* After a failed schema step, the child tries again this much later. */
#define SCHEMA_RETRY_S 60

enum schema_rc {
	SCHEMA_READY,       /* connected, migrated, policy stored */
	SCHEMA_UNREACHABLE, /* no connection, or lost during the step */
	SCHEMA_FAILED,      /* connected, but the step failed: err says why */
};

/*
 * One try, blocking: connects (at most connect_s seconds per host unless the
 * conninfo says otherwise; 0: libpq's default), applies the migrations and
 * stores the escalation policy (escalation_policy_json). err (one line)
 * says why when not ready.
 */
enum schema_rc schema_prepare(const char *conninfo, const char *policy, int connect_s,
    char *err, size_t errlen);
/* Tries until the database answers, with backoff (0.1 s doubling to 5 s);
 * the first refusal is logged followed by waiting_for (NULL: not logged). */
enum schema_rc schema_prepare_wait(const char *conninfo, const char *policy, int connect_s,
    const char *waiting_for, char *err, size_t errlen);

/* The child succeeded: the daemon may open its connections. */
typedef void schema_ready_fn(void *arg);
/* Forks the child that waits for the database and does the step (conninfo
 * and policy are copied); ready is called once, from the loop. A failed
 * step is logged and tried again every SCHEMA_RETRY_S seconds. */
struct schema_wait *schema_wait_start(struct event_base *base, const char *conninfo,
    const char *policy, schema_ready_fn *ready, void *arg);
/* After a failed step, tries again now rather than at its time (a reload:
 * the administrator may have fixed the database). */
void schema_wait_retry(struct schema_wait *w);
/* Why the last step failed, while it does; NULL while waiting or done. */
const char *schema_wait_failure(const struct schema_wait *w);
/* Ends the child, if any (a stop); nothing is called after. */
void schema_wait_stop(struct schema_wait *w);
void schema_wait_free(struct schema_wait *w);

#endif
