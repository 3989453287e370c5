/*
 * sources.h: PBXs the daemon connects to (config `sources`). Each is a
 * client connection on the event loop with reconnect and backoff; what
 * the PBX says is mapped onto bridge events by its adapter (pbx.h: ami.c,
 * esl.c, evapi.c), validated like any bridge line (protocol.c) and stored
 * like them (store.c). Event ids come
 * from the PBX's own identifiers, so a replay after a reconnect is
 * deduplicated.
 */
#ifndef HOTLINE111_SOURCES_H
#define HOTLINE111_SOURCES_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "protocol.h"
#include "store.h"

struct event_base;
struct store;
struct sources;

/* 0, or -1 with err when a source is one this version cannot use. */
int sources_check(const struct config *cfg, char *err, size_t errlen);
/* NULL with err when sources_check() fails. */
struct sources *sources_new(struct event_base *base, struct store *st,
    store_decide_fn *decide, void *arg, const struct config *cfg, char *err, size_t errlen);
void sources_start(struct sources *s);
/* While the database is away, sources are not read either (backpressure). */
void sources_pause(struct sources *s, int paused);
/* [{"source","type","connect","state","events","error"}…] for the console's status. */
json_t *sources_status(const struct sources *s);
void sources_stop(struct sources *s);
void sources_free(struct sources *s);

#endif
