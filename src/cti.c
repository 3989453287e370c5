/*
 * cti.c: the Zammad "Generic CTI" webhook. The mapping (request fields to
 * bridge events) is pure and comes first; the HTTP part after it takes a
 * request, hands its events to the store and answers once they are
 * durable, the way the bridge acknowledges a line.
 */
#include "cti.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "pbx.h"
#include "xmalloc.h"

/* --- fields ------------------------------------------------------------- */

/* The request fields Zammad's API defines; anything else is ignored. */
enum field { F_EVENT, F_FROM, F_TO, F_DIRECTION, F_CALL_ID, F_USER, F_QUEUE, F_CAUSE,
	F_ANSWERING, F_COUNT };

static const char *const field_names[F_COUNT] = { "event", "from", "to", "direction", "callId",
	"user", "queue", "cause", "answeringNumber" };

struct fields {
	char *v[F_COUNT]; /* malloc'd, without NUL bytes, or NULL: not given */
};

static int
field_of(const char *key)
{
	/* Zammad's form shape repeats "user[]" (group calls); JSON has "user" */
	if (strcmp(key, "user[]") == 0)
		return F_USER;
	for (int k = 0; k < F_COUNT; k++) {
		if (strcmp(key, field_names[k]) == 0)
			return k;
	}
	return -1;
}

/* The first value given wins: the first user[] is the one who answered,
 * and the body, read before the query string, wins over it. */
static void
set_field(struct fields *f, int k, char *v)
{
	if (f->v[k] == NULL)
		f->v[k] = v;
	else
		free(v);
}

static void
fields_clear(struct fields *f)
{
	for (int k = 0; k < F_COUNT; k++)
		free(f->v[k]);
}

static void
refuse(struct cti_result *res, enum cti_verdict verdict, enum proto_error error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
refuse(struct cti_result *res, enum cti_verdict verdict, enum proto_error error,
    const char *fmt, ...)
{
	va_list ap;

	res->verdict = verdict;
	res->error = error;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	/* it may quote the input, and is sent in JSON */
	pbx_printable(res->detail, sizeof(res->detail), res->detail);
}

/* --- form (application/x-www-form-urlencoded) and query strings --------- */

/* A raw NUL becomes '?' as a decoded one does: the value is a C string. */
static char *
form_value(const char *s, size_t len)
{
	char *v = xmalloc(len + 1);

	for (size_t i = 0; i < len; i++)
		v[i] = s[i] == '\0' ? '?' : s[i];
	v[len] = '\0';
	return pbx_url_decode(v, 1);
}

static void
parse_pair(struct fields *f, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	size_t klen = eq != NULL ? (size_t)(eq - s) : len;
	char *key = form_value(s, klen);
	int k = field_of(key);

	if (k >= 0)
		set_field(f, k, eq != NULL ? form_value(eq + 1, len - klen - 1) : xstrdup(""));
	free(key);
}

static void
parse_form(struct fields *f, const char *s, size_t len)
{
	const char *end = s + len;

	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *stop = amp != NULL ? amp : end;

		if (stop > s)
			parse_pair(f, s, (size_t)(stop - s));
		s = stop + (amp != NULL);
	}
}

/* --- JSON ----------------------------------------------------------------- */

/* A string, or an integer as its digits (some PBXs send callId or numbers
 * unquoted); NULL with *bad set for any other type. null: not given. */
static char *
json_text(json_t *v, int *bad)
{
	char buf[32];

	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return xstrdup(buf);
	}
	*bad = !json_is_null(v);
	return NULL;
}

/* "user" is a name or an array of names (a group call): the first counts. */
static int
json_field(struct fields *f, int k, json_t *v)
{
	int bad = 0;
	char *s;

	if (k == F_USER && json_is_array(v)) {
		if (json_array_size(v) == 0)
			return 0;
		v = json_array_get(v, 0);
	}
	if ((s = json_text(v, &bad)) != NULL)
		set_field(f, k, s);
	return bad ? -1 : 0;
}

static int
parse_json(struct fields *f, const char *body, size_t len, struct cti_result *res)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	int rc = 0;

	if (root == NULL) {
		refuse(res, CTI_BAD, PROTO_BAD_JSON, "byte %d: %s", jerr.position, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		refuse(res, CTI_BAD, PROTO_BAD_JSON, "the body must be a JSON object");
		return -1;
	}
	for (int k = 0; k < F_COUNT && rc == 0; k++) {
		json_t *v = json_object_get(root, field_names[k]);
		if (v != NULL && (rc = json_field(f, k, v)) != 0)
			refuse(res, CTI_BAD, PROTO_BAD_TYPE, "%s: must be a string%s", field_names[k],
			    k == F_USER ? " or an array of strings" : "");
	}
	json_decref(root);
	return rc;
}

/* --- the body ------------------------------------------------------------- */

/* ctype names the media type mt, with or without parameters ("; charset="). */
static int
media_is(const char *ctype, const char *mt)
{
	size_t n = strlen(mt);

	ctype += strspn(ctype, " \t");
	return strncasecmp(ctype, mt, n) == 0 && strchr("; \t", ctype[n]) != NULL;
}

static int
read_body(struct fields *f, const char *ctype, const char *body, size_t len,
    struct cti_result *res)
{
	size_t ws = 0;

	while (ws < len && body[ws] != '\0' && strchr(" \t\r\n", body[ws]) != NULL)
		ws++;
	/* everything may be in the query string: then the type does not matter */
	if (ws == len)
		return 0;
	if (ctype != NULL && ctype[0] != '\0') {
		if (media_is(ctype, "application/json"))
			return parse_json(f, body, len, res);
		if (media_is(ctype, "application/x-www-form-urlencoded")) {
			parse_form(f, body, len);
			return 0;
		}
		refuse(res, CTI_UNSUPPORTED, PROTO_BAD_VALUE,
		    "Content-Type must be application/json or application/x-www-form-urlencoded");
		return -1;
	}
	if (body[ws] == '{')
		return parse_json(f, body, len, res);
	parse_form(f, body, len);
	return 0;
}

/* --- mapping ---------------------------------------------------------------- */

enum kind { K_NEW_CALL, K_ANSWER, K_HANGUP };

static int
kind_of(const char *event)
{
	static const char *const names[] = { "newCall", "answer", "hangup" };

	for (int i = 0; i < 3; i++) {
		if (strcmp(event, names[i]) == 0)
			return i;
	}
	return -1;
}

static int
given(const char *v)
{
	return v != NULL && v[0] != '\0';
}

/* What PBXs write for a withheld number is no number: it would make every
 * anonymous caller one repeat caller. */
static const char *
caller_of(const char *from)
{
	static const char *const none[] = { "anonymous", "unknown", "<unknown>", "restricted",
		"private" };

	if (!given(from))
		return NULL;
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		if (strcasecmp(from, none[i]) == 0)
			return NULL;
	}
	return from;
}

static void
map_new_call(const struct fields *f, const char *call_id, json_t *out)
{
	json_t *ev = pbx_event_new(CTI_SOURCE, "call.offered", call_id, NULL, NULL);

	/* a number cut short would be someone else's: too long, left out */
	pbx_put_text(ev, "caller", caller_of(f->v[F_FROM]), PBX_MAX_CALLER, PBX_DROP);
	pbx_put_text(ev, "line", f->v[F_TO], PBX_MAX_STR, PBX_DROP);
	pbx_put_text(ev, "queue", f->v[F_QUEUE], PBX_MAX_STR, PBX_DROP);
	json_array_append_new(out, ev);
}

/*
 * answeringNumber is what Zammad looks its user up by (phone, login, id),
 * the closest to an operator's name in the console; user is a real name.
 * Someone answered even when neither is given: the call is still answered.
 */
static void
map_answer(const struct fields *f, const char *call_id, json_t *out)
{
	json_t *ev = pbx_event_new(CTI_SOURCE, "call.answered", call_id, NULL, NULL);

	pbx_put_text(ev, "operator", f->v[F_ANSWERING], PBX_MAX_STR, PBX_CUT);
	if (json_object_get(ev, "operator") == NULL)
		pbx_put_text(ev, "operator", f->v[F_USER], PBX_MAX_STR, PBX_CUT);
	if (json_object_get(ev, "operator") == NULL)
		json_object_set_new(ev, "operator", json_string(CTI_NO_OPERATOR));
	json_array_append_new(out, ev);
}

/*
 * A caller who gave up (cancel) or whom nobody answered (noAnswer) is an
 * abandoned call; the call has ended all the same, which closes a silent
 * case and stops its clocks as a hangup does.
 */
static void
map_hangup(const struct fields *f, const char *call_id, json_t *out)
{
	const char *cause = f->v[F_CAUSE];
	json_t *ev;

	if (given(cause) && (strcmp(cause, "cancel") == 0 || strcmp(cause, "noAnswer") == 0))
		json_array_append_new(out,
		    pbx_event_new(CTI_SOURCE, "call.abandoned", call_id, NULL, NULL));
	ev = pbx_event_new(CTI_SOURCE, "call.ended", call_id, NULL, NULL);
	pbx_put_text(ev, "cause", cause, PBX_MAX_STR, PBX_CUT);
	json_array_append_new(out, ev);
}

/* 0 when the fields make events; otherwise res says why not. */
static int
check_fields(const struct fields *f, struct cti_result *res)
{
	const char *dir = f->v[F_DIRECTION];

	if (!given(f->v[F_EVENT]))
		refuse(res, CTI_BAD, PROTO_MISSING_FIELD,
		    "event is required: newCall, answer or hangup");
	else if (kind_of(f->v[F_EVENT]) < 0)
		refuse(res, CTI_BAD, PROTO_BAD_VALUE, "event: must be newCall, answer or hangup");
	else if (!given(f->v[F_CALL_ID]))
		refuse(res, CTI_BAD, PROTO_MISSING_FIELD, "callId is required");
	else if (given(dir) && strcmp(dir, "out") == 0)
		/* an operator calling out is not a call to the hotline */
		refuse(res, CTI_IGNORED, PROTO_OK, "outbound call");
	else if (given(dir) && strcmp(dir, "in") != 0)
		refuse(res, CTI_BAD, PROTO_BAD_VALUE, "direction: must be in or out");
	else
		return 0;
	return -1;
}

static void
map_fields(const struct fields *f, struct cti_result *res)
{
	char *call_id;
	int kind;

	if (check_fields(f, res) != 0)
		return;
	kind = kind_of(f->v[F_EVENT]);
	call_id = pbx_safe_id(f->v[F_CALL_ID]);
	res->events = json_array();
	if (kind == K_NEW_CALL)
		map_new_call(f, call_id, res->events);
	else if (kind == K_ANSWER)
		map_answer(f, call_id, res->events);
	else
		map_hangup(f, call_id, res->events);
	res->verdict = CTI_EVENTS;
	free(call_id);
}

void
cti_map(const char *ctype, const char *body, size_t len, const char *query,
    struct cti_result *res)
{
	struct fields f = { 0 };

	memset(res, 0, sizeof(*res));
	if (read_body(&f, ctype, body, len, res) == 0) {
		if (query != NULL)
			parse_form(&f, query, strlen(query));
		map_fields(&f, res);
	}
	fields_clear(&f);
}

void
cti_result_clear(struct cti_result *res)
{
	json_decref(res->events);
	res->events = NULL;
}

/* --- configuration ---------------------------------------------------------- */

/* RFC 3986's unreserved characters: the token stands in a URL path as it is. */
static int
url_safe(const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789-._~";

	return s[strspn(s, ok)] == '\0';
}

int
cti_check(const struct config *cfg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[160];

	if (cfg->cti_listen == NULL || cfg->cti_listen[0] == '\0')
		return 0;
	if (strncmp(cfg->cti_listen, "tcp:", 4) != 0 ||
	    netaddr_parse(cfg->cti_listen, &ss, &len, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "cti.listen: \"%s\" is not a \"tcp:HOST:PORT\" address",
		    cfg->cti_listen);
		return -1;
	}
	if (cfg->cti_token == NULL || cfg->cti_token[0] == '\0') {
		snprintf(err, errlen, "cti.token: must be set when cti.listen is");
		return -1;
	}
	if (!url_safe(cfg->cti_token)) {
		snprintf(err, errlen, "cti.token: only letters, digits and - . _ ~ may be used "
		    "(it is part of the URL)");
		return -1;
	}
	return 0;
}

/* --- the webhook ------------------------------------------------------------ */

struct cti_req;

/* One event of a request, in the store. */
struct cti_item {
	struct store_item item;
	struct cti_req *r;
};

/*
 * A request taken: its events in the store, then its reply being written.
 * libevent may free the request with its connection (req NULL then) or
 * detach it and leave it to us (detached); see conn_closed().
 */
struct cti_req {
	TAILQ_ENTRY(cti_req) entry;
	struct cti *c;
	unsigned id;
	struct evhttp_request *req;
	int detached;
	int replied;
	int waiting; /* items not yet back from the store */
	int nitems;
	struct cti_item items[CTI_MAX_EVENTS];
	enum proto_error error; /* the first refusal of the store, if any */
	char detail[160];
	int64_t case_id;
	int priority;
	int dups;
	int spooled; /* events of it kept in the local spool */
};
TAILQ_HEAD(cti_req_list, cti_req);

struct cti {
	struct event_base *base;
	struct store *store;
	store_decide_fn *decide;
	void *decide_arg;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	char *listen;
	char *token;
	struct proto_limits limits;
	struct cti_req_list reqs;
	size_t nreqs;
	unsigned next_id;
	int paused;
	int stopped;
};

static void
req_free(struct cti_req *r)
{
	for (int i = 0; i < r->nitems; i++) {
		protocol_event_clear(&r->items[i].item.ev);
		json_decref(r->items[i].item.triage);
	}
	TAILQ_REMOVE(&r->c->reqs, r, entry);
	r->c->nreqs--;
	free(r);
}

static void
send_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *s = json_dumps(body, JSON_COMPACT);

	if (buf == NULL || s == NULL)
		fatal("cti: out of memory");
	evbuffer_add(buf, s, strlen(s));
	evbuffer_add(buf, "\n", 1);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
	free(s);
	json_decref(body);
}

static void
send_refusal(struct evhttp_request *req, int code, enum proto_error error, const char *detail)
{
	send_json(req, code, json_pack("{s:s, s:s}", "error", protocol_error_name(error),
	    "detail", detail));
}

/* A refusal before the store: counted here (the store counts its own). */
static void
send_error(struct evhttp_request *req, int code, enum proto_error error, const char *detail)
{
	metrics_nack(error);
	send_refusal(req, code, error, detail);
}

/* --- replies once stored --- */

static void
req_complete(struct evhttp_request *req, void *arg)
{
	struct cti_req *r = arg;

	log_debug("cti[%u]: replied", r->id);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
	req_free(r);
}

/*
 * The connection is being freed. A request it still holds is freed with it;
 * one whose client went away while its events were in the store was
 * detached first (its connection is NULL) and stays ours to free.
 */
static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct cti_req *r = arg;

	log_debug("cti[%u]: connection closed %s", r->id,
	    r->replied ? "while the reply was written" : "before the reply");
	if (r->replied) {
		req_free(r);
		return;
	}
	if (evhttp_request_get_connection(r->req) == NULL)
		r->detached = 1;
	else
		r->req = NULL;
}

static json_t *
stored_body(const struct cti_req *r)
{
	json_t *body;

	if (r->spooled > 0) /* kept in the local spool: the case comes later */
		return json_pack("{s:n, s:i, s:b}", "case", "priority", r->priority, "spooled", 1);
	body = json_pack("{s:I, s:i}", "case", (json_int_t)r->case_id, "priority", r->priority);
	if (r->dups == r->nitems)
		json_object_set_new(body, "dup", json_true());
	return body;
}

static void
reply_stored(struct cti_req *r)
{
	if (r->req == NULL || r->detached) {
		log_info("cti[%u]: the client left before the reply; its events were %s", r->id,
		    r->error == PROTO_OK ? "stored" : "refused");
		if (r->detached)
			evhttp_request_free(r->req);
		req_free(r);
		return;
	}
	r->replied = 1;
	evhttp_request_set_on_complete_cb(r->req, req_complete, r);
	if (r->error == PROTO_OK)
		send_json(r->req, HTTP_OK, stored_body(r));
	else
		send_refusal(r->req, r->error == PROTO_UNAVAILABLE ? HTTP_SERVUNAVAIL :
		    HTTP_BADREQUEST, r->error, r->detail);
}

static void
item_done(struct store_item *item, const struct store_result *res)
{
	struct cti_item *it = (struct cti_item *)item;
	struct cti_req *r = it->r;

	if (res->error != PROTO_OK) {
		log_warn("cti[%u]: event %s refused: %s", r->id, item->ev.id,
		    res->detail ? res->detail : protocol_error_name(res->error));
		if (r->error == PROTO_OK) {
			r->error = res->error;
			snprintf(r->detail, sizeof(r->detail), "%s",
			    res->detail ? res->detail : protocol_error_name(res->error));
			pbx_printable(r->detail, sizeof(r->detail), r->detail);
		}
	} else {
		r->case_id = res->case_id;
		r->priority = res->priority;
		r->dups += res->dup != 0;
		r->spooled += res->spooled != 0;
	}
	protocol_event_clear(&item->ev);
	json_decref(item->triage);
	item->triage = NULL;
	if (--r->waiting == 0)
		reply_stored(r);
}

/* --- requests --- */

/* Every mapped event passes the bridge's own validation before any is stored. */
static int
validate(struct cti *c, json_t *events, struct cti_req *r, struct proto_fail *fail)
{
	size_t i;
	json_t *obj;

	json_array_foreach(events, i, obj) {
		struct cti_item *it = &r->items[r->nitems];

		if (r->nitems == CTI_MAX_EVENTS) {
			fail->code = PROTO_BAD_VALUE;
			snprintf(fail->detail, sizeof(fail->detail), "more than %d events",
			    CTI_MAX_EVENTS);
			return -1;
		}
		if (store_item_parse(&it->item, obj, &c->limits, fail) != 0)
			return -1;
		it->r = r;
		it->item.client = CTI_SOURCE;
		it->item.done = item_done;
		r->nitems++;
	}
	return 0;
}

static void
submit(struct cti *c, struct evhttp_request *req, unsigned id, json_t *events)
{
	struct cti_req *r = xcalloc(1, sizeof(*r));
	struct proto_fail fail;

	r->c = c;
	r->id = id;
	r->req = req;
	TAILQ_INSERT_TAIL(&c->reqs, r, entry);
	c->nreqs++;
	if (validate(c, events, r, &fail) != 0) {
		log_warn("cti[%u]: a mapped event does not validate: %s: %s", id,
		    protocol_error_name(fail.code), fail.detail);
		metrics_event(METRICS_INVALID, MR_NACKED);
		send_error(req, HTTP_BADREQUEST, fail.code, fail.detail);
		req_free(r);
		return;
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), conn_closed, r);
	for (int i = 0; i < r->nitems; i++) {
		struct store_item *item = &r->items[i].item;
		store_stamp(item);
		if (c->decide != NULL)
			item->triage = c->decide(&item->ev, c->decide_arg);
		r->waiting++;
	}
	/* all counted before the first goes: a done callback never sees 0 early */
	for (int i = 0; i < r->nitems; i++)
		store_submit(c->store, &r->items[i].item);
	log_debug("cti[%u]: %d events handed to the store", id, r->nitems);
}

static int
token_ok(const struct cti *c, struct evhttp_request *req)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	const char *got = path != NULL ? strrchr(path, '/') : NULL;
	size_t n = strlen(c->token), m;
	unsigned char diff;

	if (got == NULL)
		return 0;
	got++;
	m = strlen(got);
	diff = (unsigned char)(n != m);
	/* constant time in the secret's length */
	for (size_t j = 0; j < n; j++)
		diff |= (unsigned char)(c->token[j] ^ (j < m ? got[j] : 0));
	return diff == 0;
}

static const char *
peer_of(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(buf, len, "%s:%u", addr != NULL ? addr : "?", (unsigned)port);
	return buf;
}

/* Refusals that come before the body is looked at: 404, 405, 503. */
static int
gate(struct cti *c, struct evhttp_request *req, unsigned id)
{
	char peer[80];

	if (!token_ok(c, req)) {
		log_warn("cti[%u]: wrong or missing token in the path, from %s", id,
		    peer_of(req, peer, sizeof(peer)));
		send_error(req, HTTP_NOTFOUND, PROTO_UNAUTHORIZED, "no such endpoint");
		return -1;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		send_error(req, 405, PROTO_BAD_VALUE, "only POST");
		return -1;
	}
	if (c->stopped || c->paused || c->nreqs >= CTI_MAX_PENDING) {
		log_warn("cti[%u]: refused: %s", id, c->stopped ? "stopping" : c->paused ?
		    "database unreachable" : "too many requests waiting");
		send_error(req, HTTP_SERVUNAVAIL, PROTO_UNAVAILABLE, c->stopped ? "stopping" :
		    "cannot store events now; send again later");
		return -1;
	}
	return 0;
}

static void
answer_mapped(struct cti *c, struct evhttp_request *req, unsigned id, struct cti_result *res)
{
	switch (res->verdict) {
	case CTI_EVENTS:
		submit(c, req, id, res->events);
		break;
	case CTI_IGNORED:
		log_debug("cti[%u]: ignored: %s", id, res->detail);
		send_json(req, HTTP_OK, json_pack("{s:s}", "ignored", res->detail));
		break;
	case CTI_BAD:
	case CTI_UNSUPPORTED:
		log_info("cti[%u]: bad request: %s", id, res->detail);
		metrics_event(METRICS_INVALID, MR_NACKED);
		send_error(req, res->verdict == CTI_BAD ? HTTP_BADREQUEST : 415, res->error,
		    res->detail);
		break;
	}
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct cti *c = arg;
	unsigned id = ++c->next_id;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	struct cti_result res;

	if (gate(c, req, id) != 0)
		return;
	cti_map(evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type"), body,
	    len, evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)), &res);
	answer_mapped(c, req, id, &res);
	cti_result_clear(&res);
}

/* --- public --------------------------------------------------------------- */

struct cti *
cti_new(struct event_base *base, struct store *st, store_decide_fn *decide, void *arg)
{
	struct cti *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->store = st;
	c->decide = decide;
	c->decide_arg = arg;
	TAILQ_INIT(&c->reqs);
	return c;
}

static void
http_setup(struct cti *c)
{
	c->http = evhttp_new(c->base);
	if (c->http == NULL)
		fatal("cti: cannot create the HTTP server");
	evhttp_set_max_body_size(c->http, CTI_MAX_BODY);
	evhttp_set_max_headers_size(c->http, CTI_MAX_HEADERS);
	/* an idle or trickling client is dropped: it cannot hold a slot for long */
	evhttp_set_timeout(c->http, CTI_TIMEOUT_S);
	/* every method reaches handle(), which answers 405 after the token check */
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(c->http, handle, c);
}

int
cti_listen(struct cti *c, const struct config *cfg, char *err, size_t errlen)
{
	char why[256];
	int fd;

	if (cfg->cti_listen == NULL || cfg->cti_listen[0] == '\0')
		return 0;
	if (cti_check(cfg, err, errlen) != 0)
		return -1;
	c->limits.max_depth = cfg->bridge_max_depth;
	c->listen = xstrdup(cfg->cti_listen);
	c->token = xstrdup(cfg->cti_token);
	if ((fd = netaddr_listen(c->listen, 0, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "cti.listen: %s", why);
		return -1;
	}
	http_setup(c);
	if ((c->bound = evhttp_accept_socket_with_handle(c->http, fd)) == NULL) {
		evutil_closesocket(fd);
		snprintf(err, errlen, "cti.listen: %s: cannot listen", c->listen);
		return -1;
	}
	if (strlen(c->token) < 16)
		log_warn("cti: the token is short (%zu characters): anyone who guesses it can "
		    "post calls", strlen(c->token));
	log_info("cti: listening on %s", c->listen);
	return 0;
}

void
cti_pause(struct cti *c, int paused)
{
	c->paused = paused;
}

void
cti_stop(struct cti *c)
{
	c->stopped = 1;
	if (c->bound != NULL)
		evhttp_del_accept_socket(c->http, c->bound);
	c->bound = NULL;
}

json_t *
cti_status(const struct cti *c)
{
	if (c == NULL || c->bound == NULL)
		return json_null();
	return json_pack("{s:s, s:I, s:I}", "listen", c->listen, "requests",
	    (json_int_t)c->next_id, "waiting", (json_int_t)c->nreqs);
}

size_t
cti_unflushed(const struct cti *c)
{
	return c->nreqs;
}

/* At exit. Freeing the server frees its connections, which tells the
 * requests they hold (conn_closed); what is left is ours. */
void
cti_free(struct cti *c)
{
	struct cti_req *r;

	if (c == NULL)
		return;
	if (c->http != NULL)
		evhttp_free(c->http);
	while ((r = TAILQ_FIRST(&c->reqs)) != NULL) {
		if (r->detached)
			evhttp_request_free(r->req);
		req_free(r);
	}
	free(c->listen);
	free(c->token);
	free(c);
}
