/*
 * protocol.c: bridge protocol version 1, one line at a time.
 *
 * Every line is hostile until proven otherwise. Nesting is measured before
 * jansson (which recurses) sees the text, and every field of every event
 * type is checked against one table, so the rules can be read, and compared
 * with hotline111-bridge(7), in one place.
 */
#include "protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outcome.h"
#include "xmalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* When the caller gives no limit: deep enough for any valid event. */
#define DEFAULT_MAX_DEPTH 16

/* The longest valid ts is 35 bytes (nanoseconds and an offset). */
#define MAX_TS_LEN 64

static const char *const type_names[] = {
	[EV_CALL_OFFERED] = "call.offered",
	[EV_CALL_ANSWERED] = "call.answered",
	[EV_CALL_ABANDONED] = "call.abandoned",
	[EV_CALL_TRANSFERRED] = "call.transferred",
	[EV_CALL_ENDED] = "call.ended",
	[EV_TICKET_CREATED] = "ticket.created",
	[EV_TICKET_UPDATED] = "ticket.updated",
	[EV_TICKET_CLOSED] = "ticket.closed",
	[EV_PING] = "ping",
	[EV_HELLO] = "hello",
};

static const char *const error_names[] = {
	[PROTO_OK] = "ok",
	[PROTO_BAD_JSON] = "bad_json",
	[PROTO_TOO_LONG] = "too_long",
	[PROTO_BAD_TYPE] = "bad_type",
	[PROTO_MISSING_FIELD] = "missing_field",
	[PROTO_BAD_VALUE] = "bad_value",
	[PROTO_UNAUTHORIZED] = "unauthorized",
	[PROTO_UNAVAILABLE] = "unavailable",
};

/* Sets of event types, one bit per enum event_type. */
#define T(x) (1u << (x))
#define T_OFFERED T(EV_CALL_OFFERED)
#define T_CALLS                                                  \
	(T(EV_CALL_OFFERED) | T(EV_CALL_ANSWERED) |              \
	    T(EV_CALL_ABANDONED) | T(EV_CALL_TRANSFERRED) |      \
	    T(EV_CALL_ENDED))
#define T_TICKETS \
	(T(EV_TICKET_CREATED) | T(EV_TICKET_UPDATED) | T(EV_TICKET_CLOSED))
#define T_EVENTS (T_CALLS | T_TICKETS | T(EV_PING))
/* ticket.updated may carry anything ticket.created may. */
#define T_TICKET_DATA (T(EV_TICKET_CREATED) | T(EV_TICKET_UPDATED))

enum kind {
	K_ID,       /* string min..max bytes, no control characters */
	K_STR,      /* string min..max bytes */
	K_CATEGORY, /* string min..max bytes of [a-z0-9_.] */
	K_OUTCOME,  /* one of OUTCOMES (outcome.h) */
	K_TS,       /* RFC 3339 date-time with a zone */
	K_INT,      /* integer min..max */
	K_NUM,      /* integer or real min..max */
	K_IVR,      /* array of at most max digit strings or digits */
	K_TAGS,     /* array of at most max strings of 1..64 bytes */
	K_ANSWERS,  /* object of 1..max answers: a word or an integer each */
};

#define NO_SLOT (-1)
#define SLOT(member) ((int)offsetof(struct event, member))

/*
 * One entry per field. Fields are checked in this order, so "id" comes
 * first; a type in neither mask ignores the field (it stays in obj).
 */
struct field {
	const char *name;
	enum kind kind;
	long min, max; /* bytes for strings, elements for arrays */
	unsigned required;
	unsigned allowed;
	int slot; /* where in struct event, or NO_SLOT */
};

static const struct field fields[] = {
	{ "id", K_ID, 1, PROTOCOL_MAX_ID, T_EVENTS, 0, SLOT(id) },
	{ "ts", K_TS, 1, MAX_TS_LEN, 0, T_EVENTS, SLOT(ts) },
	{ "client", K_ID, 1, 64, T(EV_HELLO), 0, SLOT(client) },
	{ "token", K_STR, 0, 256, 0, T(EV_HELLO), SLOT(token) },
	{ "call_id", K_ID, 1, PROTOCOL_MAX_ID, T_CALLS, T_TICKET_DATA,
	    SLOT(call_id) },
	{ "ticket_id", K_ID, 1, PROTOCOL_MAX_ID, T_TICKETS, 0,
	    SLOT(ticket_id) },
	{ "caller", K_STR, 0, 64, 0, T_OFFERED, SLOT(caller) },
	{ "line", K_STR, 0, 128, 0, T_OFFERED, SLOT(line) },
	{ "queue", K_STR, 0, 128, 0, T_OFFERED, SLOT(queue) },
	{ "ivr", K_IVR, 0, 32, 0, T_OFFERED, SLOT(ivr) },
	{ "province", K_STR, 0, 128, 0, T_OFFERED | T_TICKET_DATA,
	    SLOT(province) },
	{ "district", K_STR, 0, 128, 0, T_OFFERED | T_TICKET_DATA, NO_SLOT },
	{ "lang", K_STR, 0, 128, 0, T_OFFERED, NO_SLOT },
	{ "operator", K_STR, 1, 128, T(EV_CALL_ANSWERED), T_TICKET_DATA,
	    SLOT(operator_name) },
	{ "to", K_STR, 1, 128, T(EV_CALL_TRANSFERRED), 0, NO_SLOT },
	{ "wait_s", K_NUM, 0, 604800, 0, T(EV_CALL_ABANDONED), NO_SLOT },
	{ "duration_s", K_NUM, 0, 604800, 0, T(EV_CALL_ENDED), NO_SLOT },
	{ "cause", K_STR, 0, 128, 0, T(EV_CALL_ENDED), NO_SLOT },
	{ "text", K_STR, 0, 32768, 0, T_TICKET_DATA | T(EV_TICKET_CLOSED),
	    SLOT(text) },
	{ "category", K_CATEGORY, 1, 64, 0, T_TICKET_DATA, SLOT(category) },
	{ "child_age", K_INT, 0, 30, 0, T_TICKET_DATA, SLOT(child_age) },
	{ "child_gender", K_STR, 0, 128, 0, T_TICKET_DATA, NO_SLOT },
	{ "tags", K_TAGS, 0, 32, 0, T_TICKET_DATA, NO_SLOT },
	{ "answers", K_ANSWERS, 1, PROTOCOL_MAX_ANSWERS, 0, T_TICKET_DATA,
	    SLOT(answers) },
	{ "outcome", K_OUTCOME, 1, 16, T(EV_TICKET_CLOSED), 0, SLOT(outcome) },
	{ "referred_to", K_STR, 0, 128, 0, T(EV_TICKET_CLOSED), NO_SLOT },
};

const char *
protocol_type_name(enum event_type type)
{
	if ((unsigned)type >= nitems(type_names))
		return "unknown";
	return type_names[type];
}

const char *
protocol_error_name(enum proto_error code)
{
	if ((unsigned)code >= nitems(error_names))
		return "unknown";
	return error_names[code];
}

static int __attribute__((format(printf, 3, 4)))
set_fail(struct proto_fail *fail, enum proto_error code, const char *fmt, ...)
{
	va_list ap;

	fail->code = code;
	va_start(ap, fmt);
	vsnprintf(fail->detail, sizeof(fail->detail), fmt, ap);
	va_end(ap);
	return -1;
}

/* Untrusted bytes cut down to printable ASCII, so a detail is safe to send. */
static void
ascii_copy(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t i;

	for (i = 0; i < srclen && src[i] != '\0' && i + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

/*
 * Whether [ and { nest deeper than limit outside strings. Linear and
 * recursion-free, so a line of 100000 '[' costs one pass and never reaches
 * jansson's recursive parser. Wherever this scan and jansson's lexer could
 * disagree, jansson stops with an error at that point first.
 */
int
protocol_too_deep(const char *s, size_t len, int limit)
{
	int depth = 0, in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"')
			in_string = 1;
		else if ((c == '[' || c == '{') && ++depth > limit)
			return 1;
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
	}
	return 0;
}

static json_t *
load_object(const char *line, size_t len, int max_depth,
    struct proto_fail *fail)
{
	json_error_t err;
	json_t *obj;
	char text[sizeof(err.text)];

	if (memchr(line, '\0', len) != NULL) {
		set_fail(fail, PROTO_BAD_JSON, "NUL byte in line");
		return NULL;
	}
	if (protocol_too_deep(line, len, max_depth)) {
		set_fail(fail, PROTO_BAD_JSON, "nesting deeper than %d",
		    max_depth);
		return NULL;
	}
	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &err);
	if (obj == NULL) {
		/* jansson quotes the offending token, which may be any bytes */
		ascii_copy(text, sizeof(text), err.text, sizeof(err.text));
		if (json_error_code(&err) == json_error_null_character)
			snprintf(text, sizeof(text), "\\u0000 is not allowed");
		set_fail(fail, PROTO_BAD_JSON, "byte %d: %.140s", err.position,
		    text);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		set_fail(fail, PROTO_BAD_JSON, "top level must be an object");
		return NULL;
	}
	return obj;
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* C0, DEL and C1 (U+0080..U+009F); the input is valid UTF-8 already. */
static int
has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 1;
		if (c == 0xc2 && i + 1 < n &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			return 1;
	}
	return 0;
}

static int
string_ok(json_t *v, long min, long max)
{
	size_t n;

	if (!json_is_string(v))
		return 0;
	n = json_string_length(v);
	return n >= (size_t)min && n <= (size_t)max;
}

static int
category_ok(json_t *v, long min, long max)
{
	const char *s;

	if (!string_ok(v, min, max))
		return 0;
	for (s = json_string_value(v); *s != '\0'; s++) {
		if (!(*s >= 'a' && *s <= 'z') && !is_digit(*s) && *s != '_' &&
		    *s != '.')
			return 0;
	}
	return 1;
}

static int
outcome_ok(json_t *v)
{
	return json_is_string(v) && outcome_known(json_string_value(v));
}

/* An IVR choice: a key the caller pressed ("1", "*9#") or a digit 0..9. */
static int
ivr_choice_ok(json_t *v)
{
	const char *s;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 && json_integer_value(v) <= 9;
	if (!string_ok(v, 1, 8))
		return 0;
	for (s = json_string_value(v); *s != '\0'; s++) {
		if (!is_digit(*s) && *s != '*' && *s != '#')
			return 0;
	}
	return 1;
}

static int
array_ok(json_t *v, long max, int (*elem_ok)(json_t *))
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > (size_t)max)
		return 0;
	json_array_foreach(v, i, e) {
		if (!elem_ok(e))
			return 0;
	}
	return 1;
}

static int
tag_ok(json_t *v)
{
	return string_ok(v, 1, 64);
}

/* The shape only: the rules' questions judge the words (read_answers). */
static int
answers_ok(json_t *v, long min, long max)
{
	const char *k;
	json_t *a;

	if (!json_is_object(v) || json_object_size(v) < (size_t)min ||
	    json_object_size(v) > (size_t)max)
		return 0;
	json_object_foreach(v, k, a) {
		if (strlen(k) == 0 || strlen(k) > 64)
			return 0;
		if (!string_ok(a, 1, 64) && !json_is_integer(a))
			return 0;
	}
	return 1;
}

static int
value_ok(const struct field *f, json_t *v)
{
	switch (f->kind) {
	case K_ID:
		return string_ok(v, f->min, f->max) &&
		    !has_control(json_string_value(v), json_string_length(v));
	case K_STR:
		return string_ok(v, f->min, f->max);
	case K_CATEGORY:
		return category_ok(v, f->min, f->max);
	case K_OUTCOME:
		return outcome_ok(v);
	case K_TS:
		return string_ok(v, f->min, f->max) &&
		    protocol_check_rfc3339(json_string_value(v)) == 0;
	case K_INT:
		return json_is_integer(v) && json_integer_value(v) >= f->min &&
		    json_integer_value(v) <= f->max;
	case K_NUM:
		return json_is_number(v) && json_number_value(v) >= f->min &&
		    json_number_value(v) <= f->max;
	case K_IVR:
		return array_ok(v, f->max, ivr_choice_ok);
	case K_TAGS:
		return array_ok(v, f->max, tag_ok);
	case K_ANSWERS:
		return answers_ok(v, f->min, f->max);
	}
	return 0;
}

/* The detail of a bad_value: what the field must be, from its table entry. */
static int
bad_value(const struct field *f, struct proto_fail *fail)
{
	const char *n = f->name;
	enum proto_error e = PROTO_BAD_VALUE;

	switch (f->kind) {
	case K_ID:
		return set_fail(fail, e,
		    "%s: must be a string of %ld..%ld bytes without control "
		    "characters", n, f->min, f->max);
	case K_STR:
		if (f->min == 0)
			return set_fail(fail, e,
			    "%s: must be a string of at most %ld bytes", n,
			    f->max);
		return set_fail(fail, e, "%s: must be a string of %ld..%ld bytes",
		    n, f->min, f->max);
	case K_CATEGORY:
		return set_fail(fail, e,
		    "%s: must be %ld..%ld characters from a-z 0-9 _ .", n, f->min,
		    f->max);
	case K_OUTCOME:
		return set_fail(fail, e, "%s: must be one of %s", n, OUTCOME_LIST);
	case K_TS:
		return set_fail(fail, e, "%s: must be an RFC 3339 date-time "
		    "with a zone, e.g. 2025-06-01T08:30:00+07:00", n);
	case K_INT:
		return set_fail(fail, e, "%s: must be an integer %ld..%ld", n,
		    f->min, f->max);
	case K_NUM:
		return set_fail(fail, e, "%s: must be a number %ld..%ld", n,
		    f->min, f->max);
	case K_IVR:
		return set_fail(fail, e, "%s: must be an array of at most %ld "
		    "strings of 1..8 of 0-9 * # or integers 0..9", n, f->max);
	case K_TAGS:
		return set_fail(fail, e, "%s: must be an array of at most %ld "
		    "strings of 1..64 bytes", n, f->max);
	case K_ANSWERS:
		return set_fail(fail, e, "%s: must be an object of %ld..%ld "
		    "answers, {\"question\": \"answer\" or an integer}", n, f->min,
		    f->max);
	}
	return set_fail(fail, e, "%s: bad value", n);
}

static void
store(struct event *ev, const struct field *f, json_t *v)
{
	char *p;

	if (f->slot == NO_SLOT)
		return;
	p = (char *)ev + f->slot;
	if (f->kind == K_INT)
		*(int *)(void *)p = (int)json_integer_value(v);
	else if (f->kind == K_IVR || f->kind == K_ANSWERS)
		*(json_t **)(void *)p = v;
	else
		*(const char **)(void *)p = json_string_value(v);
}

/*
 * The id is taken before anything else is checked, so that a nack for a
 * bad type or field can name the event it refuses.
 */
static void
peek_id(json_t *obj, struct proto_fail *fail)
{
	json_t *v = json_object_get(obj, "id");

	if (v != NULL && value_ok(&fields[0], v))
		snprintf(fail->id, sizeof(fail->id), "%s", json_string_value(v));
}

static int
read_type(json_t *obj, struct event *ev, struct proto_fail *fail)
{
	json_t *v = json_object_get(obj, "type");
	char shown[65];

	if (v == NULL || json_is_null(v))
		return set_fail(fail, PROTO_MISSING_FIELD, "type: required");
	if (!json_is_string(v))
		return set_fail(fail, PROTO_BAD_TYPE, "type: must be a string");
	for (size_t i = 0; i < nitems(type_names); i++) {
		if (strcmp(json_string_value(v), type_names[i]) == 0) {
			ev->type = (enum event_type)i;
			return 0;
		}
	}
	ascii_copy(shown, sizeof(shown), json_string_value(v),
	    json_string_length(v));
	return set_fail(fail, PROTO_BAD_TYPE, "type: unknown event type \"%s\"",
	    shown);
}

/* JSON null counts as absent: PBXs send it for fields they do not know. */
static int
read_fields(json_t *obj, struct event *ev, struct proto_fail *fail)
{
	unsigned bit = T(ev->type);

	for (size_t i = 0; i < nitems(fields); i++) {
		const struct field *f = &fields[i];
		json_t *v;

		if (((f->required | f->allowed) & bit) == 0)
			continue;
		v = json_object_get(obj, f->name);
		if (v == NULL || json_is_null(v)) {
			if (f->required & bit)
				return set_fail(fail, PROTO_MISSING_FIELD,
				    "%s: required for %s", f->name,
				    type_names[ev->type]);
			continue;
		}
		if (!value_ok(f, v))
			return bad_value(f, fail);
		store(ev, f, v);
	}
	return 0;
}

/* Answers are taken only where the running rules can judge them. */
static int
read_answers(struct event *ev, const struct proto_limits *lim, struct proto_fail *fail)
{
	char detail[sizeof(fail->detail)];

	if (ev->answers == NULL)
		return 0;
	if (lim == NULL || lim->answers_ok == NULL)
		return set_fail(fail, PROTO_BAD_VALUE,
		    "answers: not taken on this connection");
	detail[0] = '\0';
	if (lim->answers_ok(ev->answers, detail, sizeof(detail), lim->answers_arg) != 0) {
		ascii_copy(fail->detail, sizeof(fail->detail), detail, sizeof(detail));
		fail->code = PROTO_BAD_VALUE;
		return -1;
	}
	return 0;
}

static void
event_reset(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->child_age = -1;
}

int
protocol_parse(const char *line, size_t len, const struct proto_limits *lim,
    struct event *ev, struct proto_fail *fail)
{
	int max_depth = DEFAULT_MAX_DEPTH;
	json_t *obj;

	event_reset(ev);
	memset(fail, 0, sizeof(*fail));
	if (lim != NULL && lim->max_depth > 0)
		max_depth = lim->max_depth;
	if (line == NULL)
		line = "", len = 0;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if ((obj = load_object(line, len, max_depth, fail)) == NULL)
		return -1;
	peek_id(obj, fail);
	if (read_type(obj, ev, fail) == -1 || read_fields(obj, ev, fail) == -1 ||
	    read_answers(ev, lim, fail) == -1) {
		event_reset(ev);
		json_decref(obj);
		return -1;
	}
	ev->obj = obj;
	return 0;
}

void
protocol_event_clear(struct event *ev)
{
	if (ev == NULL)
		return;
	json_decref(ev->obj);
	event_reset(ev);
}

/* n decimal digits; stops at the first non-digit, so never reads past NUL. */
static int
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/*
 * Fraction and zone. At most 9 fraction digits: nanoseconds are more than
 * any PBX clock has, and a bound keeps ts short enough for PostgreSQL.
 */
static int
check_zone(const char *s)
{
	int n = 0, h, m;

	if (*s == '.') {
		while (n < 10 && is_digit(s[1 + n]))
			n++;
		if (n < 1 || n > 9)
			return -1;
		s += 1 + n;
	}
	if (*s == 'Z' || *s == 'z')
		return s[1] == '\0' ? 0 : -1;
	if (*s != '+' && *s != '-')
		return -1;
	if (digits(s + 1, 2, &h) || s[3] != ':' || digits(s + 4, 2, &m) ||
	    s[6] != '\0')
		return -1;
	return h <= 23 && m <= 59 ? 0 : -1;
}

int
protocol_check_rfc3339(const char *s)
{
	int y, mo, d, h, mi, sec;

	/* each test stops at a NUL, so the string is never read past its end */
	if (s == NULL || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo))
		return -1;
	/* second 60 is a leap second */
	if (h > 23 || mi > 59 || sec > 60)
		return -1;
	return check_zone(s + 19);
}

/* A JSON string, or null; bytes that are not UTF-8 become '?'. */
static json_t *
string_or_null(const char *s)
{
	json_t *v;
	char *clean;

	if (s == NULL)
		return json_null();
	if ((v = json_string(s)) != NULL)
		return v;
	clean = xstrdup(s);
	ascii_copy(clean, strlen(clean) + 1, s, strlen(s));
	v = json_string(clean);
	free(clean);
	return v;
}

/* The reply line for an object, which it consumes. */
static char *
reply_line(json_t *o)
{
	char *s, *line;

	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL) {
		/* only allocation fails here: every value was checked */
		log_error("protocol: cannot encode a reply: out of memory");
		abort();
	}
	xasprintf(&line, "%s\n", s);
	free(s);
	return line;
}

char *
protocol_hello(void)
{
	json_t *o = json_object();

	json_object_set_new(o, "hello", json_string("hotline111"));
	json_object_set_new(o, "proto", json_integer(PROTOCOL_VERSION));
	return reply_line(o);
}

char *
protocol_ack(const struct proto_ack *ack)
{
	json_t *o = json_object();

	json_object_set_new(o, "ack", string_or_null(ack->id));
	/* spooled: the same keys, but no case yet */
	json_object_set_new(o, "case", ack->spooled ? json_null() : json_integer(ack->case_id));
	json_object_set_new(o, "priority", json_integer(ack->priority));
	json_object_set_new(o, "category", string_or_null(ack->category));
	if (json_is_array(ack->rules))
		json_object_set(o, "rules", ack->rules);
	else
		json_object_set_new(o, "rules", json_array());
	if (ack->spooled)
		json_object_set_new(o, "spooled", json_true());
	else if (ack->dup)
		json_object_set_new(o, "dup", json_true());
	return reply_line(o);
}

char *
protocol_pong(const char *id)
{
	json_t *o = json_object();

	json_object_set_new(o, "ack", string_or_null(id));
	json_object_set_new(o, "pong", json_true());
	return reply_line(o);
}

char *
protocol_nack(const char *id, enum proto_error code, const char *detail)
{
	json_t *o = json_object();

	/* "" is what proto_fail holds when the line had no usable id */
	if (id != NULL && *id == '\0')
		id = NULL;
	json_object_set_new(o, "nack", string_or_null(id));
	json_object_set_new(o, "error", json_string(protocol_error_name(code)));
	json_object_set_new(o, "detail", string_or_null(detail ? detail : ""));
	return reply_line(o);
}

char *
protocol_welcome(const char *client)
{
	json_t *o = json_object();

	json_object_set_new(o, "welcome", string_or_null(client));
	return reply_line(o);
}
