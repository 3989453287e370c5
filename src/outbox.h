/*
 * outbox.h: notifications of escalations (escalation.notify in
 * hotline111d.conf(5)). h111_fire writes them to the outbox table in the
 * escalation's own transaction; this part claims the due rows (FOR UPDATE
 * SKIP LOCKED, with a lease), sends each without blocking the loop (a
 * webhook through evhttp, a command as a child with the JSON on a pipe),
 * and records what came of it: sent, retried with backoff, or failed.
 */
#ifndef HOTLINE111_OUTBOX_H
#define HOTLINE111_OUTBOX_H

#include "config.h"

#define OUTBOX_MAX_INFLIGHT 16 /* sends at once per daemon */
#define OUTBOX_POLL_S 5        /* rows of other daemons, leases run out: looked for this often */
#define OUTBOX_LEASE_MARGIN_S 30

struct event_base;
struct db;
struct outbox;

/* cfg is borrowed: outbox_configure() before the old one is freed. */
struct outbox *outbox_new(struct event_base *base, struct db *db, const struct config *cfg);
void outbox_configure(struct outbox *o, const struct config *cfg);
/* Something may be due now (an escalation was just recorded). */
void outbox_kick(struct outbox *o);
/* No more claims; sends under way finish (or their lease runs out). */
void outbox_stop(struct outbox *o);
/* Kills commands still running. */
void outbox_free(struct outbox *o);

/* Seconds before try attempt + 1: base doubled per try after the first, at most max. */
int outbox_backoff(int attempt, int base, int max);

#endif
