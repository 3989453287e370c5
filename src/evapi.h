/*
 * evapi.h: the Kamailio evapi adapter, its pure part.
 *
 * Kamailio's evapi module is a TCP server; the daemon connects to it as a
 * consumer and reads netstrings, "LEN:JSON," back to back, each JSON an
 * event object that contrib/kamailio/hotline111.cfg builds:
 *
 *   {"event":"offered"|"answered"|"cancelled"|"failed"|"ended",
 *    "callid":"<SIP Call-ID>", "time":"1783162872.204712",
 *    "caller":…, "called":…          (offered)
 *    "agent":…                       (answered)
 *    "code":487, "reason":"…"        (cancelled, failed)
 *    "by":"caller"|"callee"|"timeout" (ended)}
 *
 * No I/O, no clock, no logging: bytes in, bridge event objects
 * (hotline111-bridge(7)) out. Nothing is sent to Kamailio: evapi has no
 * handshake and no acknowledgement.
 *
 * Event ids are SOURCE:CALLID:KIND, KIND one of offered, answered,
 * abandoned, ended; CALLID is the SIP Call-ID made safe and fitted
 * (pbx_safe_id), so the same Kamailio event seen twice has the same id.
 */
#ifndef HOTLINE111_EVAPI_H
#define HOTLINE111_EVAPI_H

#include <stddef.h>

#include <jansson.h>

#define EVAPI_DEFAULT_MAX_FRAME 65536
#define EVAPI_MAX_DEPTH 16 /* nesting of a frame's JSON; deeper frames are skipped */

struct evapi_options {
	const char *source; /* prefix of every event id; NULL: "evapi" */
	size_t max_frame;   /* bytes of JSON in one netstring; 0: EVAPI_DEFAULT_MAX_FRAME */
	size_t max_calls;   /* calls remembered at once; 0: PBX_DEFAULT_MAX_CALLS */
};

struct evapi;

struct evapi *evapi_new(const struct evapi_options *opt);
void evapi_free(struct evapi *e);

/* A new connection: framing starts again; the times of calls in progress
 * are kept, so that a call answered before a drop still gets its
 * duration. */
void evapi_reset(struct evapi *e);

/*
 * Feeds bytes as read, any split. Appends to out (a JSON array) the bridge
 * events of every complete frame. Returns 0; or -1 with a printable
 * message in err when the stream is not netstrings (a length that is not
 * decimal, has a leading zero, or is over max_frame; no ':' after it, no
 * ',' after the JSON): netstrings cannot be resynchronised, so the
 * connection must be dropped. Events appended before the failure stay in
 * out; after one, every call fails the same way until evapi_reset().
 *
 * A frame that is well framed but not a usable event (bad JSON, not an
 * object, no "event" or "callid" string, an event name not listed above)
 * is skipped and counted, and the stream goes on.
 */
int evapi_feed(struct evapi *e, const char *buf, size_t len, json_t *out, char *err,
    size_t errlen);

/* Frames skipped since evapi_new(). */
size_t evapi_skipped(const struct evapi *e);

#endif
