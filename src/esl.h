/*
 * esl.h: the FreeSWITCH event socket (ESL, inbound) adapter, its pure part.
 *
 * The daemon connects to FreeSWITCH's mod_event_socket as a client; this
 * part speaks the protocol and maps what mod_callcenter and the caller's
 * channel say onto bridge events (hotline111-bridge(7)). No I/O, no clock,
 * no logging: bytes in, JSON event objects, commands to send and errors
 * out. The socket side feeds every byte it reads to esl_feed() and then
 * sends whatever esl_output() gives, until it gives NULL.
 *
 * Event ids are SOURCE:CALL:KIND, KIND one of offered, answered, abandoned,
 * ended, or SOURCE:CALL:transferred:TARGET:EPOCH; CALL is the caller's
 * channel UUID (mod_callcenter's CC-Member-Session-UUID). An id over 128
 * bytes keeps its beginning and ends in '#' and 16 hex digits of a hash of
 * the whole (so does a long call_id).
 */
#ifndef HOTLINE111_ESL_H
#define HOTLINE111_ESL_H

#include <stddef.h>

#include <jansson.h>

#define ESL_DEFAULT_MAX 65536

struct esl_options {
	const char *password;     /* required, the event socket's password */
	const char *ivr_variable; /* the channel variable holding the IVR digits, or NULL */
	const char *source;       /* prefix of every event id, e.g. "esl:pbx1"; NULL: "esl" */
	size_t max_header;        /* bytes in one header block; 0: ESL_DEFAULT_MAX */
	size_t max_body;          /* bytes in one Content-Length body; 0: ESL_DEFAULT_MAX */
	size_t max_calls;         /* calls remembered at once; 0: PBX_DEFAULT_MAX_CALLS */
};

struct esl;

/* NULL when the password is missing or empty, or holds a CR or LF (it
 * would end the auth command early and start another). */
struct esl *esl_new(const struct esl_options *opt);
void esl_free(struct esl *e);

/*
 * A new connection: expect auth/request and authenticate again. What is
 * known about calls in progress (which are the hotline's, their IVR digits,
 * when they were answered) is kept, so that their later events still map.
 */
void esl_reset(struct esl *e);

/*
 * Feeds bytes as read (any split; LF or CRLF). Appends to `out`, a JSON
 * array, one bridge event object per FreeSWITCH event that maps onto one.
 * Returns 0; or -1 with a printable message in err when the connection
 * must be dropped: the stream is not an event socket, the password or the
 * subscription was refused, FreeSWITCH said goodbye (disconnect-notice,
 * ACL rejection), or a header block or Content-Length is malformed or over
 * its limit. Events appended before the failure stay in `out`; after one,
 * every call fails the same way until esl_reset().
 */
int esl_feed(struct esl *e, const char *buf, size_t len, json_t *out, char *err,
    size_t errlen);

/* The next command to send (auth, then the event subscription), each once
 * per session when its turn comes: malloc'd, or NULL. */
char *esl_output(struct esl *e);

/* Authenticated and subscribed. */
int esl_ready(const struct esl *e);

#endif
