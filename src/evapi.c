/*
 * evapi.c: Kamailio evapi netstrings in, bridge events out.
 *
 * The stream is netstrings, "LEN:JSON,", with nothing between them. The
 * length is read digit by digit and refused as soon as it is wrong or too
 * big, so a stream that is not evapi fails at its first bad byte rather
 * than after max_frame bytes. The JSON of a frame is gathered (never more
 * than max_frame bytes), parsed, and one table maps its "event" to the
 * handler that makes bridge events of it.
 *
 * Kamailio's worker processes do not keep the order of a call's events,
 * so nothing here depends on it: every event maps on its own, and the
 * call table only remembers a time (offered or answered) for wait_s and
 * duration_s when both ends of the interval are known.
 */
#include "evapi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pbx.h"
#include "protocol.h"
#include "xmalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* What the call's t0_us holds. Once answered, the offered time is no
 * longer needed: only an unanswered call can be cancelled. */
#define T0_OFFERED 0x1
#define T0_ANSWERED 0x2

enum state { ST_LEN, ST_DATA, ST_COMMA, ST_FAILED };

struct evapi {
	char *source;
	size_t max_frame;

	enum state state;
	int connected; /* a connection exists (evapi has no handshake) */
	int suspect;   /* the last connection failed; no good frame since */
	char err[160];

	size_t len_digits; /* of the length being read */
	size_t want;       /* the frame's length */
	char *frame;       /* its JSON so far */
	size_t have, cap;

	size_t skipped;
	struct pbx_calls *calls;
};

/* The time of a Kamailio event: ts for the bridge event (NULL: the daemon
 * stamps it) and microseconds since the epoch (0: unknown). */
struct moment {
	const char *ts;
	long long us;
	char buf[40];
};

static void __attribute__((format(printf, 2, 3)))
fail(struct evapi *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	e->state = ST_FAILED;
	e->suspect = 1;
}

/* --- fields -------------------------------------------------------------- */

/* A string member, or NULL when absent or of another type. */
static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * "time": epoch seconds with a fraction, as a string (what the shipped
 * config sends) or a JSON number (what another config may). Anything else
 * leaves the time unknown; the event itself still counts.
 */
static void
moment_of(const json_t *o, struct moment *m)
{
	const json_t *v = json_object_get(o, "time");
	char num[48];
	const char *s = num;

	m->ts = NULL;
	m->us = 0;
	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_integer(v))
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1e12)
		snprintf(num, sizeof(num), "%.6f", json_real_value(v));
	else
		return;
	/* a negative number fails here too: pbx_ts_seconds wants digits */
	if (pbx_ts_seconds(s, m->buf, sizeof(m->buf), &m->us) != 0)
		return;
	m->ts = m->buf;
}

/* Whole seconds from t0 to t, rounded, for pbx_put_seconds (which leaves
 * out a negative one: clocks of two workers, or a bogus time). */
static void
put_interval(json_t *ev, const char *name, long long t0_us, long long t_us)
{
	char buf[32];

	if (t0_us <= 0 || t_us <= 0)
		return;
	snprintf(buf, sizeof(buf), "%lld", (t_us - t0_us + 500000) / 1000000);
	pbx_put_seconds(ev, name, buf);
}

/* "code": a SIP final status, a number or three digits in a string; 0: none. */
static int
sip_code(const json_t *o)
{
	const json_t *code = json_object_get(o, "code");
	const char *s = json_string_value(code);
	json_int_t n = 0;

	if (json_is_integer(code))
		n = json_integer_value(code);
	else if (s != NULL && strlen(s) == 3 && strspn(s, "0123456789") == 3)
		n = strtol(s, NULL, 10);
	return n >= 100 && n <= 699 ? (int)n : 0;
}

/* "486 Busy Here" from "code" and "reason". */
static void
put_cause(json_t *ev, const json_t *o, const char *otherwise)
{
	const char *reason = str(o, "reason");
	int n = sip_code(o);
	char *cause;

	if (reason != NULL && reason[0] == '\0')
		reason = NULL;
	if (n != 0 && reason != NULL)
		xasprintf(&cause, "%d %s", n, reason);
	else if (n != 0)
		xasprintf(&cause, "%d", n);
	else
		cause = xstrdup(reason != NULL ? reason : otherwise);
	pbx_put_text(ev, "cause", cause, PBX_MAX_STR, PBX_CUT);
	free(cause);
}

/* --- handlers, one per evapi event --------------------------------------- */

static void
on_offered(struct evapi *e, const json_t *o, const char *id, const struct moment *m,
    json_t *out)
{
	struct pbx_call *c = pbx_call_get(e->calls, id);
	json_t *ev;

	/* an answered that came first holds the time that matters now */
	if (m->us > 0 && !(c->flags & T0_ANSWERED)) {
		c->t0_us = m->us;
		c->flags = T0_OFFERED;
	}
	ev = pbx_event_new(e->source, "call.offered", id, NULL, m->ts);
	pbx_put_text(ev, "caller", str(o, "caller"), PBX_MAX_CALLER, PBX_DROP);
	pbx_put_text(ev, "line", str(o, "called"), PBX_MAX_STR, PBX_DROP);
	json_array_append_new(out, ev);
}

/* The protocol requires an operator; a config that cannot tell who
 * answered still says the call was answered. */
static void
on_answered(struct evapi *e, const json_t *o, const char *id, const struct moment *m,
    json_t *out)
{
	const char *agent = str(o, "agent");
	json_t *ev;

	if (m->us > 0) {
		struct pbx_call *c = pbx_call_get(e->calls, id);

		c->t0_us = m->us;
		c->flags = T0_ANSWERED;
	}
	ev = pbx_event_new(e->source, "call.answered", id, NULL, m->ts);
	pbx_put_text(ev, "operator", agent != NULL && agent[0] != '\0' ? agent : "sip",
	    PBX_MAX_STR, PBX_CUT);
	json_array_append_new(out, ev);
}

/* The call's remembered time of kind flag, or 0; the call is forgotten,
 * since this event ends it. */
static long long
take_t0(struct evapi *e, const char *id, unsigned flag)
{
	struct pbx_call *c = pbx_call_find(e->calls, id);
	long long t0 = 0;

	if (c == NULL)
		return 0;
	if (c->flags & flag)
		t0 = c->t0_us;
	pbx_call_forget(e->calls, c);
	return t0;
}

/*
 * The caller gave up before an answer: call.abandoned, and call.ended as
 * after an AMI abandon's Hangup, because only call.ended ends the case's
 * call (a silent P4 call then closes itself).
 */
static void
on_cancelled(struct evapi *e, const json_t *o, const char *id, const struct moment *m,
    json_t *out)
{
	long long t0 = take_t0(e, id, T0_OFFERED);
	json_t *ev;

	ev = pbx_event_new(e->source, "call.abandoned", id, NULL, m->ts);
	put_interval(ev, "wait_s", t0, m->us);
	json_array_append_new(out, ev);
	ev = pbx_event_new(e->source, "call.ended", id, NULL, m->ts);
	put_cause(ev, o, "cancelled");
	json_array_append_new(out, ev);
}

/*
 * Not answered (busy, unavailable, no answer): the call ends with its
 * status. A 487 answers only a CANCEL: a config that does not tell
 * cancelled from failed still gets its abandoned calls counted.
 */
static void
on_failed(struct evapi *e, const json_t *o, const char *id, const struct moment *m,
    json_t *out)
{
	json_t *ev;

	if (sip_code(o) == 487) {
		on_cancelled(e, o, id, m, out);
		return;
	}
	(void)take_t0(e, id, 0);
	ev = pbx_event_new(e->source, "call.ended", id, NULL, m->ts);
	put_cause(ev, o, "failed");
	json_array_append_new(out, ev);
}

static void
on_ended(struct evapi *e, const json_t *o, const char *id, const struct moment *m,
    json_t *out)
{
	static const char *const causes[][2] = {
		{ "caller", "bye by caller" },
		{ "callee", "bye by callee" },
		{ "timeout", "timeout" },
	};
	const char *by = str(o, "by");
	long long t0 = take_t0(e, id, T0_ANSWERED);
	json_t *ev;

	ev = pbx_event_new(e->source, "call.ended", id, NULL, m->ts);
	for (size_t i = 0; by != NULL && i < nitems(causes); i++) {
		if (strcmp(by, causes[i][0]) == 0)
			json_object_set_new(ev, "cause", json_string(causes[i][1]));
	}
	put_interval(ev, "duration_s", t0, m->us);
	json_array_append_new(out, ev);
}

static const struct handler {
	const char *event;
	void (*fn)(struct evapi *, const json_t *, const char *, const struct moment *,
	    json_t *);
} handlers[] = {
	{ "offered", on_offered },
	{ "answered", on_answered },
	{ "cancelled", on_cancelled },
	{ "failed", on_failed },
	{ "ended", on_ended },
};

/* --- frames -------------------------------------------------------------- */

/* The frame's object, or NULL when it is not one an event can come from. */
static json_t *
load(const char *s, size_t n)
{
	json_t *o;

	if (memchr(s, '\0', n) != NULL || protocol_too_deep(s, n, EVAPI_MAX_DEPTH))
		return NULL;
	o = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static const struct handler *
handler_of(const json_t *o)
{
	const char *name = str(o, "event");

	for (size_t i = 0; name != NULL && i < nitems(handlers); i++) {
		if (strcmp(name, handlers[i].event) == 0)
			return &handlers[i];
	}
	return NULL;
}

static void
dispatch(struct evapi *e, json_t *out)
{
	json_t *o = e->have > 0 ? load(e->frame, e->have) : NULL;
	const struct handler *h = o != NULL ? handler_of(o) : NULL;
	const char *raw = o != NULL ? str(o, "callid") : NULL;
	struct moment m;
	char *id;

	if (h == NULL || raw == NULL || raw[0] == '\0') {
		e->skipped++;
		json_decref(o);
		return;
	}
	id = pbx_safe_id(raw);
	moment_of(o, &m);
	h->fn(e, o, id, &m, out);
	free(id);
	json_decref(o);
}

/* --- framing ------------------------------------------------------------- */

static void
printable_byte(char *buf, size_t len, unsigned char c)
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "0x%02x", c);
}

/* The length before ':', as in "123:": decimal, no leading zero. */
static size_t
feed_len(struct evapi *e, const char *p, size_t n)
{
	char shown[8];

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ':' && e->len_digits > 0) {
			e->state = e->want > 0 ? ST_DATA : ST_COMMA;
			e->have = 0;
			return i + 1;
		}
		if (c < '0' || c > '9') {
			printable_byte(shown, sizeof(shown), c);
			fail(e, "not a netstring: %s where a length %s expected "
			    "(evapi netstring_format must be 1)", shown,
			    e->len_digits ? "or ':' was" : "was");
			return i;
		}
		if (e->len_digits > 0 && e->want == 0) {
			fail(e, "not a netstring: a length with a leading zero");
			return i;
		}
		e->want = e->want * 10 + (c - '0');
		e->len_digits++;
		if (e->want > e->max_frame) {
			fail(e, "frame longer than %zu bytes", e->max_frame);
			return i;
		}
	}
	return n;
}

static size_t
feed_data(struct evapi *e, const char *p, size_t n)
{
	size_t take = e->want - e->have;

	if (take > n)
		take = n;
	if (e->cap < e->want) {
		/* want <= max_frame: the buffer never outgrows one frame */
		e->frame = xreallocarray(e->frame, e->want, 1);
		e->cap = e->want;
	}
	memcpy(e->frame + e->have, p, take);
	e->have += take;
	if (e->have == e->want)
		e->state = ST_COMMA;
	return take;
}

static size_t
feed_comma(struct evapi *e, const char *p, json_t *out)
{
	char shown[8];

	if (*p != ',') {
		printable_byte(shown, sizeof(shown), (unsigned char)*p);
		fail(e, "not a netstring: %s after a %zu-byte frame where ',' was expected",
		    shown, e->want);
		return 0;
	}
	dispatch(e, out);
	e->suspect = 0;
	e->state = ST_LEN;
	e->len_digits = e->want = e->have = 0;
	return 1;
}

int
evapi_feed(struct evapi *e, const char *buf, size_t len, json_t *out, char *err,
    size_t errlen)
{
	size_t i = 0;

	while (i < len && e->state != ST_FAILED) {
		if (e->state == ST_LEN)
			i += feed_len(e, buf + i, len - i);
		else if (e->state == ST_DATA)
			i += feed_data(e, buf + i, len - i);
		else
			i += feed_comma(e, buf + i, out);
	}
	if (e->state != ST_FAILED)
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", e->err);
	return -1;
}

size_t
evapi_skipped(const struct evapi *e)
{
	return e->skipped;
}

/* --- life cycle ---------------------------------------------------------- */

struct evapi *
evapi_new(const struct evapi_options *opt)
{
	struct evapi *e = xcalloc(1, sizeof(*e));

	e->source = pbx_clean(opt->source != NULL && opt->source[0] != '\0' ? opt->source :
									       "evapi");
	e->max_frame = opt->max_frame > 0 ? opt->max_frame : EVAPI_DEFAULT_MAX_FRAME;
	e->calls = pbx_calls_new(opt->max_calls);
	e->state = ST_LEN;
	return e;
}

void
evapi_reset(struct evapi *e)
{
	e->state = ST_LEN;
	e->connected = 1;
	e->err[0] = '\0';
	e->len_digits = e->want = e->have = 0;
}

void
evapi_free(struct evapi *e)
{
	if (e == NULL)
		return;
	pbx_calls_free(e->calls);
	free(e->frame);
	free(e->source);
	free(e);
}

/* --- the adapter --------------------------------------------------------- */

/* evapi has no authentication: credentials in the entry would suggest a
 * protection that does not exist, so they are refused, not ignored. */
static int
check(const struct pbx_source *c, char *err, size_t errlen)
{
	if (c->username != NULL || c->secret != NULL || c->password != NULL) {
		snprintf(err, errlen, "evapi has no authentication: remove username, secret "
				      "and password (bind evapi to a trusted address instead)");
		return -1;
	}
	if (c->ivr_variable != NULL) {
		snprintf(err, errlen, "evapi takes no ivr_variable");
		return -1;
	}
	return 0;
}

static void *
create(const struct pbx_source *c, const char *source)
{
	struct evapi_options o = { .source = source };

	(void)c;
	return evapi_new(&o);
}

static void
destroy(void *p)
{
	evapi_free(p);
}

static void
reset(void *p)
{
	evapi_reset(p);
}

static int
feed(void *p, const char *buf, size_t len, json_t *out, char *err, size_t errlen)
{
	return evapi_feed(p, buf, len, out, err, errlen);
}

/* Nothing to say to Kamailio, ever. */
static char *
output(void *p)
{
	(void)p;
	return NULL;
}

/*
 * No handshake: up as soon as connected, so a quiet Kamailio shows as up.
 * After a framing error, only once a whole frame has come: a Kamailio
 * that is not sending netstrings then stays down, its error logged once
 * and retried with a growing backoff, rather than flapping up and down.
 */
static int
ready(const void *p)
{
	const struct evapi *e = p;

	return e->connected && e->state != ST_FAILED && !e->suspect;
}

const struct pbx_adapter evapi_adapter = { "evapi", check, create, destroy, reset, feed,
	output, ready };
