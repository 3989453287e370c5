/*
 * ami.h: the Asterisk Manager Interface (AMI) adapter, its pure part.
 *
 * The daemon connects to Asterisk as a client; this part speaks the
 * protocol and maps what Asterisk says onto bridge events
 * (hotline111-bridge(7)). No I/O, no clock, no logging: bytes in, JSON
 * event objects and errors out. The socket side sends ami_login() on
 * connect, ami_reconcile() once logged in, and feeds every byte it reads
 * to ami_feed().
 *
 * Event ids are SOURCE:CALL:KIND, KIND one of offered, answered, abandoned,
 * ended, or SOURCE:CALL:transferred:TARGET:TRANSFERER-UNIQUEID; CALL is the
 * Asterisk Linkedid. An id over 128 bytes keeps its first 111 and ends in
 * '#' and 16 hex digits of a hash of the whole (so does a long call_id).
 */
#ifndef HOTLINE111_AMI_H
#define HOTLINE111_AMI_H

#include <stddef.h>

#include <jansson.h>

#define AMI_DEFAULT_MAX_BLOCK 65536

struct ami_options {
	const char *username;     /* required */
	const char *secret;       /* NULL: empty */
	const char *ivr_variable; /* the channel variable holding the IVR digits, or NULL */
	const char *source;       /* prefix of every event id, e.g. "ami:pbx1"; NULL: "ami" */
	size_t max_block;         /* bytes in one AMI block; 0: AMI_DEFAULT_MAX_BLOCK */
	size_t max_calls;         /* calls remembered at once; 0: PBX_DEFAULT_MAX_CALLS */
};

struct ami;

/*
 * NULL when an option cannot be sent safely: no username, or a CR or LF in
 * the username, secret or ivr_variable (it would end the AMI header).
 */
struct ami *ami_new(const struct ami_options *opt);
void ami_free(struct ami *a);

/*
 * A new connection: expect the banner and a login again. What is known
 * about calls in progress (IVR digits, which calls are the hotline's) is
 * kept, so that their later events still map.
 */
void ami_reset(struct ami *a);

/* What to send first: the Login action, CRLF-framed, malloc'd. */
char *ami_login(const struct ami *a);
/* After a successful login: the QueueStatus action, whose QueueEntry
 * replies become call.offered events for calls still waiting. */
char *ami_reconcile(const struct ami *a);

/*
 * Feeds bytes as read (any split; CRLF or LF). Appends to `out`, a JSON
 * array, one bridge event object per PBX event that maps onto one.
 * Returns 0; or -1 with a printable message in err when the stream is not
 * AMI (the first line is not an "Asterisk Call Manager/..." banner) or the
 * login was refused. Events appended before the failure stay in `out`;
 * after one, every call fails the same way until ami_reset().
 */
int ami_feed(struct ami *a, const char *buf, size_t len, json_t *out, char *err,
    size_t errlen);
int ami_logged_in(const struct ami *a);

#endif
