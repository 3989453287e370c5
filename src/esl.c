/*
 * esl.c: the FreeSWITCH event socket in, bridge events out.
 *
 * mod_event_socket speaks in messages: a block of "Name: value" lines
 * ended by an empty line, then, when the block has a Content-Length, a
 * body of exactly that many bytes. Bytes are gathered into the current
 * header block (never more than max_header of them), then into a body
 * sized by its validated Content-Length (never more than max_body); a
 * finished message is handled by its Content-Type. An event
 * (text/event-plain) is itself a header block, its values URL-encoded,
 * and one table maps its name (and, for mod_callcenter, its CC-Action) to
 * the handler that may turn it into a bridge event.
 *
 * A call is the caller's channel UUID: mod_callcenter names it
 * CC-Member-Session-UUID, and the caller's own channel events Unique-ID.
 * Every event id is built from it, so an event seen twice gets the same id
 * and the daemon keeps it once.
 */
#include "esl.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "pbx.h"
#include "xmalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#define SUBSCRIPTION "event plain CHANNEL_HANGUP_COMPLETE CUSTOM callcenter::info"
/* A remembered IVR value: room for 32 choices of 8 with separators. */
#define MAX_IVR_VALUE 300
/* Transfers read from one hangup: more is not a call, it is a loop. */
#define MAX_TRANSFERS 32
/* Digits of a Content-Length: more would overflow before the cap check. */
#define MAX_LENGTH_DIGITS 18

enum frame { FR_HEADERS, FR_BODY, FR_FAILED };
enum session { SES_GREETING, SES_AUTH, SES_SUBSCRIBE, SES_READY };

struct pair {
	const char *key;
	const char *value;
};

/* Header lines as pairs, in the order received; names may repeat. */
struct block {
	struct pair *pairs;
	size_t n, cap;
};

struct esl {
	char *password, *ivr_var, *source; /* ivr_var: "variable_" NAME */
	size_t max_header, max_body;

	enum frame frame;
	enum session ses;
	int sent_auth, sent_sub; /* this session's commands, see esl_output() */
	char err[160];

	char *hdr; /* the header block so far, its lines ended by '\n' */
	size_t hdr_len, hdr_cap;
	size_t hdr_raw;    /* bytes of the block as received */
	size_t line_start; /* where the current line begins in hdr */
	int line_content;  /* the current line has a byte other than '\r' */

	char *body; /* Content-Length bytes, then a NUL */
	size_t body_len, body_want;

	struct block head, event;
	struct pbx_calls *calls;
};

static void __attribute__((format(printf, 2, 3)))
fail(struct esl *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	e->frame = FR_FAILED;
}

/* --- header blocks ------------------------------------------------------- */

/* The first non-empty value of name (ESL names ignore case), or NULL. */
static const char *
get(const struct block *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++) {
		if (strcasecmp(b->pairs[i].key, name) == 0 && b->pairs[i].value[0] != '\0')
			return b->pairs[i].value;
	}
	return NULL;
}

static void
add_pair(struct block *b, const char *key, const char *value)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 32;
		b->pairs = xreallocarray(b->pairs, b->cap, sizeof(*b->pairs));
	}
	b->pairs[b->n].key = key;
	b->pairs[b->n++].value = value;
}

/*
 * One line "Name: value" split in place into b (value decoded when asked).
 * Returns 0, or -1 when the line is not a header at all.
 */
static int
split_line(struct block *b, char *line, int decode)
{
	char *colon = strchr(line, ':'), *v;
	size_t vlen;

	if (colon == NULL || colon == line)
		return -1;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	vlen = strlen(v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' || v[vlen - 1] == '\r'))
		v[--vlen] = '\0';
	if (decode)
		pbx_url_decode(v, 0);
	add_pair(b, line, v);
	return 0;
}

/*
 * The lines of text (len bytes, NUL-terminated) up to the first empty one,
 * as pairs, split in place. Raw NULs become '?' so that no value is cut
 * short unseen. Returns how many lines were not headers.
 */
static int
split_block(struct block *b, char *text, size_t len, int decode)
{
	char *line = text, *end = text + len;
	int bad = 0;

	b->n = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\0')
			text[i] = '?';
	}
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));

		if (nl == NULL)
			nl = end;
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (line[0] == '\0')
			break; /* an event's own body follows: not needed */
		if (split_line(b, line, decode) != 0)
			bad++;
		line = nl + 1;
	}
	return bad;
}

/* --- bridge events ------------------------------------------------------- */

/* An event of the call, its ts FreeSWITCH's Event-Date-Timestamp. */
static json_t *
event_new(const struct esl *e, const char *type, const char *call_id, const char *extra)
{
	const char *stamp = get(&e->event, "Event-Date-Timestamp");
	char ts[64];

	/* no usable timestamp: the daemon stamps the event when it arrives */
	if (stamp == NULL || pbx_ts_micros(stamp, ts, sizeof(ts)) != 0)
		return pbx_event_new(e->source, type, call_id, extra, NULL);
	return pbx_event_new(e->source, type, call_id, extra, ts);
}

/* The call a mod_callcenter event is about: the caller's channel. */
static char *
member_id(const struct esl *e)
{
	const char *v = get(&e->event, "CC-Member-Session-UUID");

	return v != NULL ? pbx_safe_id(v) : NULL;
}

/*
 * Whether the event describes the caller's own channel: mod_callcenter
 * attaches the agent's channel to some events, and its variables and
 * numbers are not the caller's.
 */
static int
about_member(const struct esl *e)
{
	const char *uid = get(&e->event, "Unique-ID");
	const char *member = get(&e->event, "CC-Member-Session-UUID");

	return uid != NULL && member != NULL && strcmp(uid, member) == 0;
}

/*
 * The IVR variable, remembered from any mod_callcenter event that carries
 * the caller's channel, mapped or not, for the call's offer.
 */
static void
remember_ivr(struct esl *e)
{
	const char *v;
	char *id;

	if (e->ivr_var == NULL || !about_member(e) || (v = get(&e->event, e->ivr_var)) == NULL ||
	    (id = member_id(e)) == NULL)
		return;
	pbx_call_set(&pbx_call_get(e->calls, id)->ivr, v, MAX_IVR_VALUE);
	free(id);
}

/* The call of a mod_callcenter event, made known as the hotline's. */
static struct pbx_call *
member_call(struct esl *e, const char *id)
{
	struct pbx_call *c = pbx_call_get(e->calls, id);

	c->seen = 1;
	return c;
}

/*
 * A whole number written in at most max_digits decimal digits and nothing
 * else: seconds since the epoch (12), microseconds (18); -1 when it is not.
 */
static long long
number_of(const char *v, size_t max_digits)
{
	long long n = 0;
	size_t len = v != NULL ? strlen(v) : 0;

	if (len == 0 || len > max_digits || strspn(v, "0123456789") != len)
		return -1;
	for (; *v != '\0'; v++)
		n = n * 10 + (*v - '0');
	return n;
}

/* --- handlers, one per FreeSWITCH event ---------------------------------- */

/* member-queue-start: the call enters a queue, offered to the hotline. */
static void
on_queue_start(struct esl *e, json_t *out)
{
	char *id = member_id(e);
	struct pbx_call *c;
	json_t *ev, *ivr;

	if (id == NULL)
		return;
	c = member_call(e, id);
	ev = event_new(e, "call.offered", id, NULL);
	pbx_put_text(ev, "caller", get(&e->event, "CC-Member-CID-Number"), PBX_MAX_CALLER,
	    PBX_DROP);
	pbx_put_text(ev, "queue", get(&e->event, "CC-Queue"), PBX_MAX_STR, PBX_DROP);
	/* the number dialled, when the channel data is the caller's */
	if (about_member(e))
		pbx_put_text(ev, "line", get(&e->event, "Caller-Destination-Number"),
		    PBX_MAX_STR, PBX_DROP);
	if (c->ivr != NULL && (ivr = pbx_ivr_choices(c->ivr)) != NULL)
		json_object_set_new(ev, "ivr", ivr);
	json_array_append_new(out, ev);
	free(id);
}

/*
 * bridge-agent-start: an agent took the call. The operator is the agent's
 * name without its "@domain" (mod_callcenter agents are "lan@default"), so
 * that it is the name the console knows.
 */
static void
on_agent_start(struct esl *e, json_t *out)
{
	char *id = member_id(e), *op;
	const char *agent = get(&e->event, "CC-Agent"), *at;
	struct pbx_call *c;
	json_t *ev;

	if (id == NULL || agent == NULL) {
		free(id);
		return;
	}
	c = member_call(e, id);
	/* transfers before the answer are routing, not an operator's: see on_hangup */
	c->t0_us = number_of(get(&e->event, "Event-Date-Timestamp"), 18);
	if (c->t0_us <= 0)
		c->t0_us = number_of(get(&e->event, "CC-Agent-Answered-Time"), 12) * 1000000;
	op = xstrdup(agent);
	if ((at = strchr(op, '@')) != NULL && at != op)
		op[at - op] = '\0';
	ev = event_new(e, "call.answered", id, NULL);
	pbx_put_text(ev, "operator", op, PBX_MAX_STR, PBX_CUT);
	json_array_append_new(out, ev);
	free(op);
	free(id);
}

/*
 * member-queue-end with CC-Cause Cancel: the caller left the queue
 * unanswered (hung up, timed out, broke out). Terminated, the end of an
 * answered call, says nothing the hangup will not.
 */
static void
on_queue_end(struct esl *e, json_t *out)
{
	const char *cause = get(&e->event, "CC-Cause");
	long long joined = number_of(get(&e->event, "CC-Member-Joined-Time"), 12);
	long long left = number_of(get(&e->event, "CC-Member-Leaving-Time"), 12);
	char *id, wait[24];
	json_t *ev;

	if (cause == NULL || strcasecmp(cause, "Cancel") != 0 || (id = member_id(e)) == NULL)
		return;
	member_call(e, id);
	ev = event_new(e, "call.abandoned", id, NULL);
	if (joined >= 0 && left >= joined) {
		snprintf(wait, sizeof(wait), "%lld", left - joined);
		pbx_put_seconds(ev, "wait_s", wait);
	}
	json_array_append_new(out, ev);
	free(id);
}

/*
 * One entry of transfer_history, "EPOCH:UUID:bl_xfer:EXTEN/CONTEXT/DIALPLAN"
 * (an inline dialplan puts "a,b,EXTEN/..." there): a blind transfer after
 * the answer becomes call.transferred to EXTEN. Attended transfers
 * (att_xfer) name channels, not a destination, and are not mapped.
 */
static void
transfer_entry(struct esl *e, const struct pbx_call *c, const char *id, char *entry,
    json_t *out)
{
	char *f[3], *data = entry, *comma, *slash, *target, *extra, ts[64];
	long long epoch;
	json_t *ev;

	for (int i = 0; i < 3; i++) {
		f[i] = data;
		if ((data = strchr(data, ':')) == NULL)
			return;
		*data++ = '\0';
	}
	epoch = number_of(f[0], 12);
	if (strcmp(f[2], "bl_xfer") != 0 || epoch < 0 || c->t0_us <= 0 ||
	    epoch < c->t0_us / 1000000)
		return;
	if ((comma = strrchr(data, ',')) != NULL)
		data = comma + 1;
	if ((slash = strchr(data, '/')) != NULL)
		*slash = '\0';
	if (data[0] == '\0')
		return;
	target = pbx_clean(data);
	pbx_cut(target, PBX_MAX_STR);
	xasprintf(&extra, "%s:%s", target, f[0]);
	if (pbx_ts_seconds(f[0], ts, sizeof(ts), NULL) == 0)
		ev = pbx_event_new(e->source, "call.transferred", id, extra, ts);
	else
		ev = pbx_event_new(e->source, "call.transferred", id, extra, NULL);
	json_object_set_new(ev, "to", json_string(target));
	json_array_append_new(out, ev);
	free(extra);
	free(target);
}

/* FreeSWITCH's array value: "ARRAY::one|:two", or a plain "one". */
static void
transfers(struct esl *e, const struct pbx_call *c, const char *id, json_t *out)
{
	const char *v = get(&e->event, "variable_transfer_history");
	char *copy, *entry, *next;
	int n = 0;

	if (v == NULL)
		return;
	copy = xstrdup(strncmp(v, "ARRAY::", 7) == 0 ? v + 7 : v);
	for (entry = copy; entry != NULL && n < MAX_TRANSFERS; entry = next, n++) {
		if ((next = strstr(entry, "|:")) != NULL) {
			*next = '\0';
			next += 2;
		}
		transfer_entry(e, c, id, entry, out);
	}
	free(copy);
}

/*
 * CHANNEL_HANGUP_COMPLETE of the caller's channel ends a hotline call; the
 * switch's other channels (agents' legs, calls that never reached a queue)
 * say nothing. The transfers the call went through are read here, from the
 * channel's transfer_history, since FreeSWITCH has no event of its own for
 * a blind transfer.
 */
static void
on_hangup(struct esl *e, json_t *out)
{
	const char *uid = get(&e->event, "Unique-ID");
	struct pbx_call *c;
	json_t *ev;
	char *id;

	if (uid == NULL)
		return;
	id = pbx_safe_id(uid);
	if ((c = pbx_call_find(e->calls, id)) != NULL && c->seen) {
		transfers(e, c, id, out);
		ev = event_new(e, "call.ended", id, NULL);
		pbx_put_text(ev, "cause", get(&e->event, "Hangup-Cause"), PBX_MAX_STR, PBX_CUT);
		pbx_put_seconds(ev, "duration_s", get(&e->event, "variable_billsec"));
		json_array_append_new(out, ev);
	}
	if (c != NULL)
		pbx_call_forget(e->calls, c);
	free(id);
}

/* Every event that maps, by name (and subclass and CC-Action); others are ignored. */
static const struct handler {
	const char *event, *subclass, *action;
	void (*fn)(struct esl *, json_t *);
} handlers[] = {
	{ "CUSTOM", "callcenter::info", "member-queue-start", on_queue_start },
	{ "CUSTOM", "callcenter::info", "bridge-agent-start", on_agent_start },
	{ "CUSTOM", "callcenter::info", "member-queue-end", on_queue_end },
	{ "CHANNEL_HANGUP_COMPLETE", NULL, NULL, on_hangup },
};

static int
matches(const char *want, const char *v)
{
	return want == NULL || (v != NULL && strcasecmp(want, v) == 0);
}

static void
on_event(struct esl *e, json_t *out)
{
	const char *name, *sub, *action;

	split_block(&e->event, e->body, e->body_len, 1);
	if ((name = get(&e->event, "Event-Name")) == NULL)
		return;
	sub = get(&e->event, "Event-Subclass");
	action = get(&e->event, "CC-Action");
	remember_ivr(e);
	for (size_t i = 0; i < nitems(handlers); i++) {
		if (strcasecmp(name, handlers[i].event) == 0 && matches(handlers[i].subclass, sub) &&
		    matches(handlers[i].action, action)) {
			handlers[i].fn(e, out);
			return;
		}
	}
}

/* --- messages ------------------------------------------------------------ */

/* The reply to auth, then to the subscription; later replies are ignored. */
static void
on_reply(struct esl *e)
{
	const char *text = get(&e->head, "Reply-Text");
	char shown[100];

	if (e->ses != SES_AUTH && e->ses != SES_SUBSCRIBE)
		return;
	if (text != NULL && strncmp(text, "+OK", 3) == 0) {
		e->ses = e->ses == SES_AUTH ? SES_SUBSCRIBE : SES_READY;
		return;
	}
	pbx_printable(shown, sizeof(shown), text != NULL ? text : "no Reply-Text");
	if (e->ses == SES_AUTH)
		fail(e, "login refused: %s", shown);
	else
		fail(e, "event subscription refused: %s", shown);
}

/* FreeSWITCH's goodbyes: the body says why, in a line of its own. */
static void
on_goodbye(struct esl *e, const char *what)
{
	char shown[100];

	pbx_printable(shown, sizeof(shown), e->body != NULL ? e->body : "");
	fail(e, "%s%s%s", what, shown[0] != '\0' ? ": " : "", shown);
}

static void
dispatch(struct esl *e, json_t *out)
{
	const char *type = get(&e->head, "Content-Type");

	if (type != NULL && strcasecmp(type, "text/rude-rejection") == 0) {
		on_goodbye(e, "refused by the event socket's ACL");
		return;
	}
	if (e->ses == SES_GREETING) {
		if (type != NULL && strcasecmp(type, "auth/request") == 0)
			e->ses = SES_AUTH;
		else
			fail(e, "not an event socket: the first message is not auth/request");
		return;
	}
	if (type == NULL)
		return;
	if (strcasecmp(type, "command/reply") == 0)
		on_reply(e);
	else if (strcasecmp(type, "text/disconnect-notice") == 0)
		on_goodbye(e, "FreeSWITCH ended the session (disconnect-notice)");
	else if (strcasecmp(type, "text/event-plain") == 0 && e->body != NULL)
		on_event(e, out);
}

/* --- framing ------------------------------------------------------------- */

/* A Content-Length must be all digits and within max_body. */
static int
body_length(struct esl *e, const char *v, size_t *len)
{
	size_t n = 0, digits = strspn(v, "0123456789");
	char shown[24];

	if (digits == 0 || v[digits] != '\0' || digits > MAX_LENGTH_DIGITS) {
		pbx_printable(shown, sizeof(shown), v);
		fail(e, "bad Content-Length \"%s\"", shown);
		return -1;
	}
	for (; *v != '\0'; v++)
		n = n * 10 + (size_t)(*v - '0');
	if (n > e->max_body) {
		fail(e, "a body of %zu bytes is over the limit of %zu", n, e->max_body);
		return -1;
	}
	*len = n;
	return 0;
}

static void
message_done(struct esl *e, json_t *out)
{
	dispatch(e, out);
	free(e->body);
	e->body = NULL;
	e->body_len = e->body_want = 0;
	if (e->frame != FR_FAILED)
		e->frame = FR_HEADERS;
}

/* The header block is complete: a message, or the head of one with a body. */
static void
headers_done(struct esl *e, json_t *out)
{
	const char *cl;
	size_t n;

	e->hdr[e->hdr_len] = '\0';
	split_block(&e->head, e->hdr, e->hdr_len, 0);
	e->hdr_len = e->hdr_raw = e->line_start = 0;
	if ((cl = get(&e->head, "Content-Length")) == NULL) {
		message_done(e, out);
		return;
	}
	if (body_length(e, cl, &n) != 0)
		return;
	/* the head's pairs point into hdr, which the body does not touch */
	e->body = xmalloc(n + 1);
	e->body[n] = '\0';
	e->body_want = n;
	if (n == 0)
		message_done(e, out);
	else
		e->frame = FR_BODY;
}

/* Room for n more bytes and a NUL; the caller has checked max_header. */
static void
append(struct esl *e, const char *p, size_t n)
{
	if (e->hdr_len + n + 1 > e->hdr_cap) {
		size_t cap = e->hdr_cap ? e->hdr_cap : 256;

		while (cap < e->hdr_len + n + 1)
			cap *= 2;
		if (cap > e->max_header + 1)
			cap = e->max_header + 1;
		e->hdr = xreallocarray(e->hdr, cap, 1);
		e->hdr_cap = cap;
	}
	memcpy(e->hdr + e->hdr_len, p, n);
	e->hdr_len += n;
}

/* Counts a block's bytes; past max_header there is no telling where the
 * message ends, so the connection is given up. */
static int
count(struct esl *e, size_t n)
{
	e->hdr_raw += n;
	if (e->hdr_raw > e->max_header) {
		fail(e, "a header block over %zu bytes", e->max_header);
		return -1;
	}
	return 0;
}

/* "Name: value": a name, then a colon. */
static int
header_line(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);

	return colon != NULL && colon != line;
}

/*
 * A line of nothing (but CRs) ends the block; blank lines between
 * messages are skipped. Before FreeSWITCH has said auth/request, a line
 * that is no header is refused at once: a server that is not an event
 * socket may never send the empty line that would end its block.
 */
static void
end_line(struct esl *e, json_t *out)
{
	while (e->hdr_len > 0 && e->hdr[e->hdr_len - 1] == '\r')
		e->hdr_len--;
	if (e->line_content) {
		e->line_content = 0;
		if (e->ses == SES_GREETING && !header_line(e->hdr + e->line_start,
						  e->hdr_len - e->line_start)) {
			fail(e, "not an event socket: a line that is not a header");
			return;
		}
		if (count(e, 1) == 0)
			append(e, "\n", 1);
		e->line_start = e->hdr_len;
		return;
	}
	if (e->hdr_len > 0)
		headers_done(e, out);
	e->hdr_len = e->hdr_raw = e->line_start = 0;
}

static size_t
feed_headers(struct esl *e, const char *p, size_t n, json_t *out)
{
	const char *nl = memchr(p, '\n', n);
	size_t take = nl != NULL ? (size_t)(nl - p) : n;

	for (size_t i = 0; i < take && !e->line_content; i++) {
		if (p[i] != '\r')
			e->line_content = 1;
	}
	if (count(e, take) != 0)
		return n;
	append(e, p, take);
	if (nl == NULL)
		return n;
	end_line(e, out);
	return take + 1;
}

static size_t
feed_body(struct esl *e, const char *p, size_t n, json_t *out)
{
	size_t take = e->body_want - e->body_len;

	if (take > n)
		take = n;
	memcpy(e->body + e->body_len, p, take);
	e->body_len += take;
	if (e->body_len == e->body_want)
		message_done(e, out);
	return take;
}

int
esl_feed(struct esl *e, const char *buf, size_t len, json_t *out, char *err, size_t errlen)
{
	size_t i = 0;

	while (i < len && e->frame != FR_FAILED) {
		if (e->frame == FR_HEADERS)
			i += feed_headers(e, buf + i, len - i, out);
		else
			i += feed_body(e, buf + i, len - i, out);
	}
	if (e->frame != FR_FAILED)
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", e->err);
	return -1;
}

int
esl_ready(const struct esl *e)
{
	return e->ses == SES_READY;
}

/* --- commands and life cycle --------------------------------------------- */

/*
 * auth once FreeSWITCH asks for it; the subscription once it accepted.
 * Only what is mapped is asked for: every hangup (the hotline's calls
 * among them) and mod_callcenter's events.
 */
char *
esl_output(struct esl *e)
{
	char *s;

	if (e->frame == FR_FAILED)
		return NULL;
	if (e->ses == SES_AUTH && !e->sent_auth) {
		e->sent_auth = 1;
		xasprintf(&s, "auth %s\n\n", e->password);
		return s;
	}
	/* >=: the replies may all have been read before we were asked */
	if (e->ses >= SES_SUBSCRIBE && !e->sent_sub) {
		e->sent_sub = 1;
		return xstrdup(SUBSCRIPTION "\n\n");
	}
	return NULL;
}

struct esl *
esl_new(const struct esl_options *opt)
{
	struct esl *e;

	if (opt->password == NULL || opt->password[0] == '\0' ||
	    strpbrk(opt->password, "\r\n") != NULL)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->password = xstrdup(opt->password);
	if (opt->ivr_variable != NULL && opt->ivr_variable[0] != '\0')
		xasprintf(&e->ivr_var, "variable_%s", opt->ivr_variable);
	e->source = pbx_clean(opt->source != NULL && opt->source[0] != '\0' ? opt->source : "esl");
	e->max_header = opt->max_header ? opt->max_header : ESL_DEFAULT_MAX;
	e->max_body = opt->max_body ? opt->max_body : ESL_DEFAULT_MAX;
	e->calls = pbx_calls_new(opt->max_calls);
	return e;
}

void
esl_reset(struct esl *e)
{
	e->frame = FR_HEADERS;
	e->ses = SES_GREETING;
	e->sent_auth = e->sent_sub = 0;
	e->err[0] = '\0';
	e->hdr_len = e->hdr_raw = e->line_start = 0;
	e->line_content = 0;
	free(e->body);
	e->body = NULL;
	e->body_len = e->body_want = 0;
}

void
esl_free(struct esl *e)
{
	if (e == NULL)
		return;
	pbx_calls_free(e->calls);
	free(e->head.pairs);
	free(e->event.pairs);
	free(e->hdr);
	free(e->body);
	free(e->password);
	free(e->ivr_var);
	free(e->source);
	free(e);
}

/* --- the adapter --------------------------------------------------------- */

static int
check(const struct pbx_source *c, char *err, size_t errlen)
{
	struct esl_options o = { .password = c->password, .ivr_variable = c->ivr_variable };
	struct esl *probe;

	if (c->password == NULL || c->password[0] == '\0') {
		snprintf(err, errlen, "esl needs password");
		return -1;
	}
	if ((probe = esl_new(&o)) == NULL) {
		snprintf(err, errlen, "password must not hold line breaks");
		return -1;
	}
	esl_free(probe);
	return 0;
}

static void *
create(const struct pbx_source *c, const char *source)
{
	struct esl_options o = { .password = c->password, .ivr_variable = c->ivr_variable,
		.source = source };

	return esl_new(&o);
}

static void
destroy(void *p)
{
	esl_free(p);
}

static void
reset(void *p)
{
	esl_reset(p);
}

static int
feed(void *p, const char *buf, size_t len, json_t *out, char *err, size_t errlen)
{
	return esl_feed(p, buf, len, out, err, errlen);
}

static char *
output(void *p)
{
	return esl_output(p);
}

static int
ready(const void *p)
{
	return esl_ready(p);
}

const struct pbx_adapter esl_adapter = { "esl", check, create, destroy, reset, feed, output,
	ready };
