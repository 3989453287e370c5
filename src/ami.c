/*
 * ami.c: the Asterisk Manager Interface in, bridge events out.
 *
 * AMI is a banner line, then blocks of "Key: Value" lines each ended by an
 * empty line. Bytes are gathered into the current block (never more than
 * max_block of them), a finished block is split into pairs, and one table
 * maps its Event name to the handler that may turn it into a bridge event.
 *
 * A call is its Asterisk Linkedid: the Uniqueid of the call's first
 * channel, shared by every leg. Asterisk 11 has no Linkedid; there the
 * caller's Uniqueid names the call, which is the same value. Every event id
 * is built from these identifiers, so a PBX event seen twice (a replay, a
 * QueueStatus after a reconnect) gets the same id and the daemon keeps it
 * once.
 */
#include "ami.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "pbx.h"
#include "protocol.h"
#include "xmalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#define BANNER "Asterisk Call Manager/"
#define MAX_BANNER 256
#define LOGIN_ID "hotline111-login"
#define RECONCILE_ID "hotline111-reconcile"

/* A remembered IVR value: room for 32 choices of 8 with separators. */
#define MAX_IVR_VALUE 300

enum state { ST_BANNER, ST_BLOCKS, ST_FAILED };

struct pair {
	const char *key;
	const char *value;
};

/* A finished block: pairs in the order received, keys may repeat. */
struct block {
	const struct pair *pairs;
	size_t n;
};

struct ami {
	char *username, *secret, *ivr_variable, *source;
	size_t max_block;

	enum state state;
	int logged_in;
	int sent_login, sent_reconcile; /* this session's actions, see output() */
	char err[160];

	char banner[MAX_BANNER];
	size_t banner_len;

	char *blk; /* the block so far, its lines ended by '\n' */
	size_t blk_len, blk_cap;
	size_t blk_raw;   /* bytes of the block as received */
	int skipping;     /* the block outgrew max_block: drop it */
	int line_content; /* the current line has a byte other than '\r' */
	struct pair *pairs;
	size_t pairs_cap;

	struct pbx_calls *calls;
};

static void __attribute__((format(printf, 2, 3)))
fail(struct ami *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	a->state = ST_FAILED;
}

/* --- blocks -------------------------------------------------------------- */

/* The first non-empty value of key (AMI keys ignore case), or NULL. */
static const char *
get(const struct block *b, const char *key)
{
	for (size_t i = 0; i < b->n; i++) {
		if (strcasecmp(b->pairs[i].key, key) == 0 &&
		    b->pairs[i].value[0] != '\0')
			return b->pairs[i].value;
	}
	return NULL;
}

/* A field of one channel among several: "Transferee" + "Linkedid". */
static const char *
getp(const struct block *b, const char *prefix, const char *name)
{
	char key[64];

	snprintf(key, sizeof(key), "%s%s", prefix, name);
	return get(b, key);
}

/* Asterisk writes an absent caller number as "<unknown>" (11: "unknown"). */
static const char *
caller_number(const struct block *b)
{
	const char *v = get(b, "CallerIDNum");

	if (v == NULL)
		v = get(b, "CallerID"); /* before 1.6 */
	if (v == NULL || strcmp(v, "<unknown>") == 0 ||
	    strcmp(v, "unknown") == 0)
		return NULL;
	return v;
}

/*
 * The call an event is about: its Linkedid, or its Uniqueid where it has
 * none (Asterisk 11). prefix picks one channel of an event that describes
 * several ("Transferee"); "" for the event's own channel.
 */
static char *
call_id_of(const struct block *b, const char *prefix)
{
	const char *v = getp(b, prefix, "Linkedid");

	if (v == NULL)
		v = getp(b, prefix, "Uniqueid");
	return v != NULL ? pbx_safe_id(v) : NULL;
}

/*
 * The IVR variable in the event's ChanVariable lines (manager.conf
 * channelvars): "ChanVariable: NAME=VALUE", on Asterisk 11
 * "ChanVariable(SIP/...): NAME=VALUE". An empty value means not set.
 */
static const char *
chan_variable(const struct ami *a, const struct block *b)
{
	size_t n = strlen(a->ivr_variable);

	for (size_t i = 0; i < b->n; i++) {
		const char *k = b->pairs[i].key, *v = b->pairs[i].value;

		if (strncasecmp(k, "ChanVariable", 12) != 0 ||
		    (k[12] != '\0' && k[12] != '('))
			continue;
		if (strncasecmp(v, a->ivr_variable, n) == 0 && v[n] == '=' &&
		    v[n + 1] != '\0')
			return v + n + 1;
	}
	return NULL;
}

/* --- bridge events ------------------------------------------------------- */

/* An event of the call; its ts is Asterisk's Timestamp (timestampevents=yes). */
static json_t *
event_new(const struct ami *a, const struct block *b, const char *type,
    const char *call_id, const char *extra)
{
	const char *stamp = get(b, "Timestamp");
	char ts[64];

	/* no Timestamp: the daemon stamps the event when it arrives */
	if (stamp == NULL || pbx_ts_seconds(stamp, ts, sizeof(ts), NULL) != 0)
		return pbx_event_new(a->source, type, call_id, extra, NULL);
	return pbx_event_new(a->source, type, call_id, extra, ts);
}

/* The fields of call.offered that QueueCallerJoin and QueueEntry share. */
static void
put_offer(json_t *ev, const struct block *b, const struct pbx_call *c)
{
	json_t *ivr;

	pbx_put_text(ev, "caller", caller_number(b), PBX_MAX_CALLER, PBX_DROP);
	pbx_put_text(ev, "queue", get(b, "Queue"), PBX_MAX_STR, PBX_DROP);
	if (c->ivr != NULL && (ivr = pbx_ivr_choices(c->ivr)) != NULL)
		json_object_set_new(ev, "ivr", ivr);
}

/* --- handlers, one per AMI event ----------------------------------------- */

/* QueueCallerJoin (Asterisk 11: Join): the call is offered to the hotline. */
static void
on_join(struct ami *a, const struct block *b, json_t *out)
{
	char *id = call_id_of(b, "");
	const char *v;
	struct pbx_call *c;
	json_t *ev;

	if (id == NULL)
		return;
	c = pbx_call_get(a->calls, id);
	c->seen = 1;
	if (c->chan == NULL && (v = get(b, "Uniqueid")) != NULL)
		c->chan = pbx_safe_id(v);
	/* the value at the join is fresher than any VarSet before it */
	if (a->ivr_variable != NULL && (v = chan_variable(a, b)) != NULL)
		pbx_call_set(&c->ivr, v, MAX_IVR_VALUE);
	ev = event_new(a, b, "call.offered", id, NULL);
	put_offer(ev, b, c);
	/* "s" is the dialplan's start extension, not a number dialled */
	if ((v = get(b, "Exten")) != NULL && strcmp(v, "s") != 0)
		pbx_put_text(ev, "line", v, PBX_MAX_STR, PBX_DROP);
	json_array_append_new(out, ev);
	free(id);
}

/*
 * QueueEntry, a reply to QueueStatus: a call still waiting. It becomes
 * call.offered with the id its join had, so a join the daemon already has
 * is a duplicate and one missed while disconnected is recovered.
 */
static void
on_entry(struct ami *a, const struct block *b, json_t *out)
{
	const char *v = get(b, "Uniqueid");
	struct pbx_call *c;
	char *chan;
	json_t *ev;

	if (v == NULL)
		return;
	chan = pbx_safe_id(v);
	if ((c = pbx_call_by_chan(a->calls, chan)) == NULL) {
		/* not seen joining: its channel is most likely the call's first */
		c = pbx_call_get(a->calls, chan);
		if (c->chan == NULL)
			c->chan = xstrdup(chan);
	}
	c->seen = 1;
	ev = event_new(a, b, "call.offered", c->id, NULL);
	put_offer(ev, b, c);
	json_array_append_new(out, ev);
	free(chan);
}

static void
on_connect(struct ami *a, const struct block *b, json_t *out)
{
	char *id = call_id_of(b, "");
	const char *op = get(b, "MemberName");
	json_t *ev;

	if (op == NULL)
		op = get(b, "Interface");
	if (op == NULL)
		op = get(b, "Member"); /* Asterisk 11 */
	if (id == NULL || op == NULL) {
		free(id);
		return;
	}
	pbx_call_get(a->calls, id)->seen = 1;
	ev = event_new(a, b, "call.answered", id, NULL);
	pbx_put_text(ev, "operator", op, PBX_MAX_STR, PBX_CUT);
	json_array_append_new(out, ev);
	free(id);
}

/* Also sent on a queue timeout or a withdrawal: the call was not answered. */
static void
on_abandon(struct ami *a, const struct block *b, json_t *out)
{
	char *id = call_id_of(b, "");
	json_t *ev;

	if (id == NULL)
		return;
	pbx_call_get(a->calls, id)->seen = 1;
	ev = event_new(a, b, "call.abandoned", id, NULL);
	pbx_put_seconds(ev, "wait_s", get(b, "HoldTime"));
	json_array_append_new(out, ev);
	free(id);
}

/*
 * Only the caller's channel ends the call (on Asterisk 12+ its Uniqueid is
 * the Linkedid; on 11 it is the channel that joined). Only calls that
 * reached the queue are reported: the PBX's other calls are not the
 * hotline's, and a call.ended would open a case for each of them.
 */
static void
on_hangup(struct ami *a, const struct block *b, json_t *out)
{
	const char *uniq = get(b, "Uniqueid"), *link = get(b, "Linkedid");
	const char *cause = get(b, "Cause-txt");
	struct pbx_call *c;
	char *id;
	json_t *ev;

	if (uniq == NULL || (link != NULL && strcmp(uniq, link) != 0))
		return;
	id = pbx_safe_id(uniq);
	if ((c = pbx_call_find(a->calls, id)) != NULL && c->seen) {
		ev = event_new(a, b, "call.ended", id, NULL);
		pbx_put_text(ev, "cause", cause != NULL ? cause : get(b, "Cause"),
		    PBX_MAX_STR, PBX_CUT);
		json_array_append_new(out, ev);
	}
	if (c != NULL)
		pbx_call_forget(a->calls, c);
	free(id);
}

/* A transfer names several channels: the first that belongs to a hotline call. */
static char *
known_call(struct ami *a, const struct block *b, const char *const *prefixes,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *id = call_id_of(b, prefixes[i]);
		struct pbx_call *c;

		if (id != NULL && (c = pbx_call_find(a->calls, id)) != NULL && c->seen)
			return id;
		free(id);
	}
	return NULL;
}

/*
 * call.transferred for a hotline call; the PBX's other transfers are not
 * the hotline's. The id carries the target and the transferring channel,
 * so two transfers of one call are two events and a replay is one.
 */
static void
transfer(struct ami *a, const struct block *b, json_t *out, char *id,
    const char *to, const char *by)
{
	char *target, *by_id = NULL, *extra;
	json_t *ev;

	if (id == NULL || to == NULL) {
		free(id);
		return;
	}
	target = pbx_clean(to);
	pbx_cut(target, PBX_MAX_STR);
	if (by != NULL) {
		by_id = pbx_clean(by);
		xasprintf(&extra, "%s:%s", target, by_id);
	} else
		extra = xstrdup(target);
	ev = event_new(a, b, "call.transferred", id, extra);
	json_object_set_new(ev, "to", json_string(target));
	json_array_append_new(out, ev);
	free(extra);
	free(by_id);
	free(target);
	free(id);
}

/* A failed transfer leaves the call where it was. */
static int
transfer_done(const struct block *b)
{
	const char *r = get(b, "Result");

	return r == NULL || strcasecmp(r, "Success") == 0;
}

static void
on_blind_transfer(struct ami *a, const struct block *b, json_t *out)
{
	static const char *const who[] = { "Transferee", "Transferer" };

	if (!transfer_done(b))
		return;
	transfer(a, b, out, known_call(a, b, who, nitems(who)),
	    get(b, "Extension"), get(b, "TransfererUniqueid"));
}

/*
 * Where an attended transfer went: the extension the transferring
 * operator dialled for the consultation, else the number of the party
 * reached, else the application the caller was handed to.
 */
static const char *
attended_target(const struct block *b)
{
	const char *v = get(b, "SecondTransfererExten");

	if (v != NULL && strcmp(v, "s") != 0)
		return v;
	v = get(b, "TransferTargetCallerIDNum");
	if (v != NULL && strcmp(v, "<unknown>") != 0)
		return v;
	return get(b, "DestApp");
}

static void
on_attended_transfer(struct ami *a, const struct block *b, json_t *out)
{
	static const char *const who[] = { "Transferee", "OrigTransferer" };

	if (!transfer_done(b))
		return;
	transfer(a, b, out, known_call(a, b, who, nitems(who)),
	    attended_target(b), get(b, "OrigTransfererUniqueid"));
}

/* Asterisk 11's chan_sip Transfer: Target is the channel transferred. */
static void
on_transfer_11(struct ami *a, const struct block *b, json_t *out)
{
	static const char *const who[] = { "Target", "" };

	transfer(a, b, out, known_call(a, b, who, nitems(who)),
	    get(b, "TransferExten"), get(b, "Uniqueid"));
}

/*
 * The IVR variable set in the dialplan before the call reaches the queue:
 * remembered for the call's join. Set(__NAME=…) shows its underscores.
 */
static void
on_varset(struct ami *a, const struct block *b, json_t *out)
{
	const char *name = get(b, "Variable"), *value = get(b, "Value");
	char *id;

	(void)out;
	if (a->ivr_variable == NULL || name == NULL || value == NULL)
		return;
	for (int i = 0; i < 2 && *name == '_'; i++)
		name++;
	if (strcasecmp(name, a->ivr_variable) != 0 ||
	    (id = call_id_of(b, "")) == NULL)
		return;
	pbx_call_set(&pbx_call_get(a->calls, id)->ivr, value, MAX_IVR_VALUE);
	free(id);
}

/* Every AMI event that maps, by name; all others are ignored. */
static const struct handler {
	const char *event;
	void (*fn)(struct ami *, const struct block *, json_t *);
} handlers[] = {
	{ "QueueCallerJoin", on_join },
	{ "Join", on_join }, /* Asterisk 11 */
	{ "QueueEntry", on_entry },
	{ "AgentConnect", on_connect },
	{ "QueueCallerAbandon", on_abandon },
	{ "Hangup", on_hangup },
	{ "BlindTransfer", on_blind_transfer },
	{ "AttendedTransfer", on_attended_transfer },
	{ "Transfer", on_transfer_11 }, /* Asterisk 11 */
	{ "VarSet", on_varset },
};

/*
 * Only the reply to the Login matters: it comes first, and carries our
 * ActionID unless the PBX drops it. Replies to later actions are ignored.
 */
static void
on_response(struct ami *a, const struct block *b, const char *response)
{
	const char *action = get(b, "ActionID"), *msg = get(b, "Message");
	char shown[100];

	if (a->logged_in || (action != NULL && strcmp(action, LOGIN_ID) != 0))
		return;
	if (strcasecmp(response, "Success") == 0) {
		a->logged_in = 1;
		return;
	}
	pbx_printable(shown, sizeof(shown), msg != NULL ? msg : response);
	fail(a, "login refused: %s", shown);
}

/* --- framing ------------------------------------------------------------- */

/* The block's lines as pairs, split in place; a line without ": " is not one. */
static void
split(struct ami *a, struct block *b)
{
	char *line = a->blk, *end = a->blk + a->blk_len;
	size_t n = 0;

	a->blk[a->blk_len] = '\0';
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		char *sep, *v;
		size_t vlen;

		if (nl == NULL)
			nl = end;
		*nl = '\0';
		if ((sep = strstr(line, ": ")) != NULL) {
			*sep = '\0';
			v = sep + 2;
			vlen = strlen(v);
			while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				v[--vlen] = '\0';
			if (n == a->pairs_cap) {
				a->pairs_cap = a->pairs_cap ? a->pairs_cap * 2 : 32;
				a->pairs = xreallocarray(a->pairs, a->pairs_cap,
				    sizeof(*a->pairs));
			}
			a->pairs[n].key = line;
			a->pairs[n++].value = v;
		}
		line = nl + 1;
	}
	b->pairs = a->pairs;
	b->n = n;
}

static void
dispatch(struct ami *a, json_t *out)
{
	struct block b;
	const char *v;

	split(a, &b);
	if ((v = get(&b, "Response")) != NULL) {
		on_response(a, &b, v);
		return;
	}
	if ((v = get(&b, "Event")) == NULL)
		return;
	for (size_t i = 0; i < nitems(handlers); i++) {
		if (strcasecmp(v, handlers[i].event) == 0) {
			handlers[i].fn(a, &b, out);
			return;
		}
	}
}

/* Room for n more bytes and a NUL; never past max_block + 1. */
static void
append(struct ami *a, const char *p, size_t n)
{
	if (a->blk_len + n + 1 > a->blk_cap) {
		size_t cap = a->blk_cap ? a->blk_cap : 256;

		while (cap < a->blk_len + n + 1)
			cap *= 2;
		if (cap > a->max_block + 1)
			cap = a->max_block + 1;
		a->blk = xreallocarray(a->blk, cap, 1);
		a->blk_cap = cap;
	}
	memcpy(a->blk + a->blk_len, p, n);
	a->blk_len += n;
}

/* Counts a block's bytes; past max_block the block is dropped, not kept. */
static void
count(struct ami *a, size_t n)
{
	a->blk_raw += n;
	if (!a->skipping && a->blk_raw > a->max_block) {
		a->skipping = 1;
		a->blk_len = 0;
	}
}

static void
add_bytes(struct ami *a, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !a->line_content; i++) {
		if (p[i] != '\r')
			a->line_content = 1;
	}
	count(a, n);
	if (!a->skipping)
		append(a, p, n);
}

/* A line of nothing (but CRs) ends the block. */
static void
end_line(struct ami *a, json_t *out)
{
	while (a->blk_len > 0 && a->blk[a->blk_len - 1] == '\r')
		a->blk_len--;
	if (a->line_content) {
		a->line_content = 0;
		count(a, 1);
		if (!a->skipping)
			append(a, "\n", 1);
		return;
	}
	if (!a->skipping && a->blk_len > 0)
		dispatch(a, out);
	a->blk_len = a->blk_raw = 0;
	a->skipping = 0;
}

static size_t
feed_blocks(struct ami *a, const char *p, size_t n, json_t *out)
{
	const char *nl = memchr(p, '\n', n);
	size_t take = nl != NULL ? (size_t)(nl - p) : n;

	add_bytes(a, p, take);
	if (nl == NULL)
		return n;
	end_line(a, out);
	return take + 1;
}

/*
 * The first line must be Asterisk's banner. Anything else is not AMI, and
 * is refused at its first wrong byte rather than read to a newline that may
 * never come.
 */
static size_t
feed_banner(struct ami *a, const char *p, size_t n)
{
	static const char not_ami[] =
	    "not AMI: the first line is not an \"" BANNER "...\" banner";
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			while (a->banner_len > 0 &&
			    a->banner[a->banner_len - 1] == '\r')
				a->banner_len--;
			if (a->banner_len < strlen(BANNER))
				fail(a, "%s", not_ami);
			else
				a->state = ST_BLOCKS;
			return i + 1;
		}
		if (a->banner_len == sizeof(a->banner) ||
		    (a->banner_len < strlen(BANNER) &&
			p[i] != BANNER[a->banner_len])) {
			fail(a, "%s", not_ami);
			return i;
		}
		a->banner[a->banner_len++] = p[i];
	}
	return n;
}

int
ami_feed(struct ami *a, const char *buf, size_t len, json_t *out, char *err,
    size_t errlen)
{
	size_t i = 0;

	while (i < len && a->state != ST_FAILED) {
		if (a->state == ST_BANNER)
			i += feed_banner(a, buf + i, len - i);
		else
			i += feed_blocks(a, buf + i, len - i, out);
	}
	if (a->state != ST_FAILED)
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", a->err);
	return -1;
}

int
ami_logged_in(const struct ami *a)
{
	return a->logged_in;
}

/* --- actions and life cycle ---------------------------------------------- */

/*
 * Events: only the classes mapped here. VarSet is in the dialplan class
 * (with every Newexten), so that is asked for only when an IVR variable is
 * to be read from it.
 */
char *
ami_login(const struct ami *a)
{
	char *s;

	xasprintf(&s,
	    "Action: Login\r\nActionID: %s\r\nUsername: %s\r\nSecret: %s\r\n"
	    "Events: %s\r\n\r\n",
	    LOGIN_ID, a->username, a->secret,
	    a->ivr_variable != NULL ? "call,agent,dialplan" : "call,agent");
	return s;
}

char *
ami_reconcile(const struct ami *a)
{
	char *s;

	(void)a;
	xasprintf(&s, "Action: QueueStatus\r\nActionID: %s\r\n\r\n", RECONCILE_ID);
	return s;
}

static int
header_safe(const char *s)
{
	return s == NULL || strpbrk(s, "\r\n") == NULL;
}

struct ami *
ami_new(const struct ami_options *opt)
{
	struct ami *a;
	if (opt->username == NULL || opt->username[0] == '\0' ||
	    !header_safe(opt->username) || !header_safe(opt->secret) ||
	    !header_safe(opt->ivr_variable))
		return NULL;
	a = xcalloc(1, sizeof(*a));
	a->username = xstrdup(opt->username);
	a->secret = xstrdup(opt->secret != NULL ? opt->secret : "");
	if (opt->ivr_variable != NULL && opt->ivr_variable[0] != '\0')
		a->ivr_variable = xstrdup(opt->ivr_variable);
	a->source = pbx_clean(opt->source != NULL && opt->source[0] != '\0' ?
		opt->source : "ami");
	a->max_block = opt->max_block ? opt->max_block : AMI_DEFAULT_MAX_BLOCK;
	a->calls = pbx_calls_new(opt->max_calls);
	a->state = ST_BANNER;
	return a;
}

void
ami_reset(struct ami *a)
{
	a->state = ST_BANNER;
	a->logged_in = 0;
	a->sent_login = a->sent_reconcile = 0;
	a->err[0] = '\0';
	a->banner_len = 0;
	a->blk_len = a->blk_raw = 0;
	a->skipping = a->line_content = 0;
}

void
ami_free(struct ami *a)
{
	if (a == NULL)
		return;
	pbx_calls_free(a->calls);
	free(a->pairs);
	free(a->blk);
	free(a->username);
	free(a->secret);
	free(a->ivr_variable);
	free(a->source);
	free(a);
}

/* --- the adapter --------------------------------------------------------- */

static int
check(const struct pbx_source *c, char *err, size_t errlen)
{
	struct ami_options o = { .username = c->username, .secret = c->secret,
		.ivr_variable = c->ivr_variable };
	struct ami *probe;

	if (c->username == NULL || c->secret == NULL) {
		snprintf(err, errlen, "ami needs username and secret");
		return -1;
	}
	if ((probe = ami_new(&o)) == NULL) {
		snprintf(err, errlen, "username, secret and ivr_variable must not hold line breaks");
		return -1;
	}
	ami_free(probe);
	return 0;
}

static void *
create(const struct pbx_source *c, const char *source)
{
	struct ami_options o = { .username = c->username, .secret = c->secret,
		.ivr_variable = c->ivr_variable, .source = source };

	return ami_new(&o);
}

static void
destroy(void *p)
{
	ami_free(p);
}

static void
reset(void *p)
{
	ami_reset(p);
}

static int
feed(void *p, const char *buf, size_t len, json_t *out, char *err, size_t errlen)
{
	return ami_feed(p, buf, len, out, err, errlen);
}

/* The Login at once (Asterisk reads it after its banner); once logged in,
 * a QueueStatus for the calls still waiting. */
static char *
output(void *p)
{
	struct ami *a = p;

	if (!a->sent_login) {
		a->sent_login = 1;
		return ami_login(a);
	}
	if (a->logged_in && !a->sent_reconcile) {
		a->sent_reconcile = 1;
		return ami_reconcile(a);
	}
	return NULL;
}

static int
ready(const void *p)
{
	return ami_logged_in(p);
}

const struct pbx_adapter ami_adapter = { "ami", check, create, destroy, reset, feed, output,
	ready };
