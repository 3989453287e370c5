/*
 * bridge.h: the PBX-facing socket (hotline111-bridge(7)). Reads JSON Lines,
 * hands each valid event to the store, and answers every line in the order
 * received once its event is durable.
 */
#ifndef HOTLINE111_BRIDGE_H
#define HOTLINE111_BRIDGE_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "protocol.h"
#include "store.h"

struct event_base;
struct store;
struct bridge;

struct bridge *bridge_new(struct event_base *base, struct store *st,
    store_decide_fn *decide, void *arg);
/* Opens every listener of cfg->bridge_listen; -1 with err on the first failure. */
int bridge_listen(struct bridge *b, const struct config *cfg, char *err, size_t errlen);
/*
 * Applies the reloadable settings (max_line, window, max_depth, tokens).
 * The bridge borrows cfg's token list until the next call: the caller
 * keeps cfg alive until then.
 */
void bridge_configure(struct bridge *b, const struct config *cfg);
/* Who judges the answers a ticket event carries (hotline111-bridge(7)
 * "answers"); without it, an event with answers is refused bad_value. */
void bridge_set_answers_check(struct bridge *b, proto_answers_fn *fn, void *arg);
/* While the database is away, no connection is read (backpressure). */
void bridge_pause(struct bridge *b, int paused);
/* Stops accepting and reading: the first step of a graceful stop. */
void bridge_stop(struct bridge *b);
/* Replies still waiting to be written, across all connections. */
size_t bridge_unflushed(const struct bridge *b);
size_t bridge_clients(const struct bridge *b);
void bridge_free(struct bridge *b);

#endif
