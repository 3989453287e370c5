/*
 * protocol.h: bridge protocol version 1 (see hotline111-bridge(7)).
 * Pure: one line in, one validated event or one error out; and the
 * reply lines. No I/O, no state.
 */
#ifndef HOTLINE111_PROTOCOL_H
#define HOTLINE111_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROTOCOL_VERSION 1
#define PROTOCOL_MAX_ID 128 /* bytes in an id, call_id, ticket_id */
#define PROTOCOL_MAX_ANSWERS 32 /* answers on one ticket event */

enum event_type {
	EV_CALL_OFFERED,
	EV_CALL_ANSWERED,
	EV_CALL_ABANDONED,
	EV_CALL_TRANSFERRED,
	EV_CALL_ENDED,
	EV_TICKET_CREATED,
	EV_TICKET_UPDATED,
	EV_TICKET_CLOSED,
	EV_PING,
	EV_HELLO, /* {"type":"hello","client":…,"token":…}: no id */
};

/* The error codes of the protocol, in the order of the nack table. */
enum proto_error {
	PROTO_OK = 0,
	PROTO_BAD_JSON,
	PROTO_TOO_LONG,
	PROTO_BAD_TYPE,
	PROTO_MISSING_FIELD,
	PROTO_BAD_VALUE,
	PROTO_UNAUTHORIZED,
	PROTO_UNAVAILABLE,
};

/*
 * Checks a ticket's answers against the key questions of the running rules
 * (triage_answers_check): 0, or -1 with a plain ASCII message in detail.
 */
typedef int proto_answers_fn(const json_t *answers, char *detail, size_t len, void *arg);

struct proto_limits {
	int max_depth; /* nesting of arrays and objects; 1 = a flat object */
	/* answers_ok NULL: an event with answers is refused (bad_value) */
	proto_answers_fn *answers_ok;
	void *answers_arg;
};

/*
 * A validated event. Every string pointer borrows from `obj` and lives as
 * long as it; absent optional fields are NULL (child_age: -1).
 */
struct event {
	enum event_type type;
	json_t *obj; /* the whole object, owned; stored as the raw event */
	const char *id;
	const char *ts; /* RFC 3339 as sent, or NULL */
	const char *call_id;
	const char *ticket_id;
	const char *caller;
	const char *line;
	const char *queue;
	const char *operator_name;
	const char *text;
	const char *category;
	const char *province;
	const char *outcome;
	const char *client; /* hello */
	const char *token;  /* hello */
	json_t *ivr;        /* array of digit strings, or NULL */
	json_t *answers;    /* {"question": "answer" | number, …}, or NULL */
	int child_age;
};

/* Why a line was refused: the code, the id when one could be read, a detail. */
struct proto_fail {
	enum proto_error code;
	char id[PROTOCOL_MAX_ID + 1]; /* "" when the line had no usable id */
	char detail[160];             /* plain ASCII, safe to send and log */
};

/*
 * Parses one line (without its newline; may contain any bytes). Returns 0
 * and fills ev, or -1 and fills fail. On success the caller owns ev->obj
 * and releases it with protocol_event_clear().
 */
int protocol_parse(const char *line, size_t len, const struct proto_limits *lim,
    struct event *ev, struct proto_fail *fail);
void protocol_event_clear(struct event *ev);

const char *protocol_type_name(enum event_type type);
const char *protocol_error_name(enum proto_error code);

/* Whether [ and { nest deeper than limit outside strings: one pass, no
 * recursion, to be asked before jansson (which recurses) sees the text. */
int protocol_too_deep(const char *s, size_t len, int limit);

/* RFC 3339 date-time with a zone (Z or ±hh:mm); 0 when valid. */
int protocol_check_rfc3339(const char *s);

/* What an ack reports; rules (an array of rule names) may be NULL. */
struct proto_ack {
	const char *id;
	int64_t case_id;
	int priority;
	const char *category; /* NULL: no category yet */
	json_t *rules;        /* borrowed */
	int dup;
	int spooled; /* in the local spool: case is null; priority, category and
	              * rules are the event's own triage */
};

/* Reply lines, each '\n'-terminated and malloc'd; the caller frees them. */
char *protocol_hello(void);
char *protocol_ack(const struct proto_ack *ack);
char *protocol_pong(const char *id);
char *protocol_nack(const char *id, enum proto_error code, const char *detail);
char *protocol_welcome(const char *client);

#endif
