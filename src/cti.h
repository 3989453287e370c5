/*
 * cti.h: the Zammad "Generic CTI" webhook (hotline111-bridge(7)). A PBX
 * already set up for Zammad posts its call events here instead, with only
 * the host changed in its URL.
 *
 * Two parts. The mapping is pure: one request's body (JSON or form) and
 * query string in, bridge event objects, "ignored" or a refusal out; no
 * I/O. The HTTP part (libevent's evhttp on the daemon's loop) checks the
 * token, validates each mapped event with protocol_parse(), stores it like
 * a bridge line and answers once it is durable.
 */
#ifndef HOTLINE111_CTI_H
#define HOTLINE111_CTI_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "protocol.h"
#include "store.h"

#define CTI_SOURCE "cti"          /* the prefix of event ids, the client name */
#define CTI_MAX_BODY 8192         /* bytes; more: 413 */
#define CTI_MAX_HEADERS 8192      /* bytes of request line and headers; more: 400 */
#define CTI_TIMEOUT_S 10          /* to read a request or write a reply */
#define CTI_MAX_PENDING 1024      /* requests waiting for the store; more: 503 */
#define CTI_MAX_EVENTS 2          /* events one request can become */
#define CTI_NO_OPERATOR "unknown" /* operator of an answer that names nobody */

/* --- mapping ------------------------------------------------------------ */

enum cti_verdict {
	CTI_EVENTS,      /* events holds 1..CTI_MAX_EVENTS bridge event objects */
	CTI_IGNORED,     /* not the hotline's (an outbound call): 200, nothing stored */
	CTI_BAD,         /* 400: error and detail say why */
	CTI_UNSUPPORTED, /* 415: a body neither JSON nor form-encoded */
};

struct cti_result {
	enum cti_verdict verdict;
	json_t *events;         /* CTI_EVENTS: an array, owned */
	enum proto_error error; /* CTI_BAD: bad_json, missing_field, bad_type, bad_value */
	char detail[160];       /* printable ASCII, safe to send and log */
};

/*
 * Maps one request. ctype is the Content-Type header (NULL: guessed from
 * the body); body may hold any bytes; query is the URL's query string or
 * NULL. A field in the body wins over the same field in the query string.
 * Always fills res; release it with cti_result_clear().
 */
void cti_map(const char *ctype, const char *body, size_t len, const char *query,
    struct cti_result *res);
void cti_result_clear(struct cti_result *res);

/* --- the webhook -------------------------------------------------------- */

struct event_base;
struct cti;

/* 0, or -1 with err when cti.listen is set but cannot be used: no token, a
 * token that cannot stand in a URL path, an address that is not TCP. */
int cti_check(const struct config *cfg, char *err, size_t errlen);
struct cti *cti_new(struct event_base *base, struct store *st, store_decide_fn *decide,
    void *arg);
/* Listens on cfg->cti_listen unless it is "" (off); -1 with err when it cannot. */
int cti_listen(struct cti *c, const struct config *cfg, char *err, size_t errlen);
/* While the database is away, requests are refused with 503. */
void cti_pause(struct cti *c, int paused);
/* Stops accepting; requests already taken are stored and answered. */
void cti_stop(struct cti *c);
/* {"listen","requests","waiting"} for the console's status; null when off. */
json_t *cti_status(const struct cti *c);
/* Requests taken and not yet answered (stored, or being written). */
size_t cti_unflushed(const struct cti *c);
void cti_free(struct cti *c);

#endif
