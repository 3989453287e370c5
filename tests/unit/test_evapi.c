/*
 * test_evapi.c: the Kamailio evapi adapter.
 *
 * Calls written the way contrib/kamailio/hotline111.cfg sends them (an
 * answered call, a cancelled one, a busy one) are fed whole, split in two
 * at every byte offset, and one byte at a time; every way must give
 * exactly the expected bridge events, and every event must pass
 * protocol_parse(). The rest are inline cases: order, times, hostile
 * frames, limits, the adapter interface.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "evapi.h"
#include "pbx.h"
#include "protocol.h"
#include "xmalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static const struct proto_limits lim16 = { .max_depth = 16 };
static const struct evapi_options default_opt = { .source = "evapi:k1" };

/* --- helpers ------------------------------------------------------------- */

/* A stream of netstrings built from JSON texts. */
struct text {
	char *s;
	size_t len;
};

static void
add_raw(struct text *t, const char *p, size_t n)
{
	t->s = xreallocarray(t->s, t->len + n + 1, 1);
	memcpy(t->s + t->len, p, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/* One netstring of n bytes of JSON (which may hold a NUL). */
static void
add_frame_n(struct text *t, const char *json, size_t n)
{
	char head[32];

	snprintf(head, sizeof(head), "%zu:", n);
	add_raw(t, head, strlen(head));
	add_raw(t, json, n);
	add_raw(t, ",", 1);
}

static void
add_frame(struct text *t, const char *json)
{
	add_frame_n(t, json, strlen(json));
}

static struct text
stream(const char *const *frames, size_t n)
{
	struct text t = { NULL, 0 };

	for (size_t i = 0; i < n; i++)
		add_frame(&t, frames[i]);
	return t;
}

/* Every event must be one the daemon's own parser accepts as it is. */
static void
assert_valid(json_t *events)
{
	size_t i;
	json_t *e;

	json_array_foreach(events, i, e) {
		char *line = json_dumps(e, JSON_COMPACT);
		struct event ev;
		struct proto_fail pf;

		assert_non_null(line);
		if (protocol_parse(line, strlen(line), &lim16, &ev, &pf) != 0) {
			print_error("refused %s: %s %s\n", line, protocol_error_name(pf.code),
			    pf.detail);
			fail();
		}
		assert_true(strlen(ev.id) <= PROTOCOL_MAX_ID);
		protocol_event_clear(&ev);
		free(line);
	}
}

/* Feeds bytes that must be accepted; returns the events, all valid. */
static json_t *
feed_ok(struct evapi *e, const char *p, size_t n)
{
	json_t *out = json_array();
	char err[160] = "";

	if (evapi_feed(e, p, n, out, err, sizeof(err)) != 0) {
		print_error("refused: %s\n", err);
		fail();
	}
	assert_valid(out);
	return out;
}

/* Feeds bytes that must fail; returns the events made before, and the error. */
static json_t *
feed_fail(struct evapi *e, const char *p, size_t n, char *err, size_t errlen)
{
	json_t *out = json_array();

	err[0] = '\0';
	assert_int_equal(evapi_feed(e, p, n, out, err, errlen), -1);
	assert_true(err[0] != '\0');
	for (const char *c = err; *c != '\0'; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
	assert_valid(out);
	return out;
}

static struct evapi *
new_evapi(void)
{
	struct evapi *e = evapi_new(&default_opt);

	evapi_reset(e);
	return e;
}

static void
assert_json(json_t *got, const char *want_text)
{
	json_error_t jerr;
	json_t *want = json_loads(want_text, 0, &jerr);

	if (want == NULL) {
		print_error("bad expected JSON: %s\n", jerr.text);
		fail();
	}
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
		char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);

		print_error("got %s\nwant %s\n", g, w);
		free(g);
		free(w);
		fail();
	}
	json_decref(want);
}

/* The events of a whole stream fed at once to a fresh adapter. */
static json_t *
events_of(const char *const *frames, size_t n)
{
	struct text t = stream(frames, n);
	struct evapi *e = new_evapi();
	json_t *out = feed_ok(e, t.s, t.len);

	evapi_free(e);
	free(t.s);
	return out;
}

/* --- whole calls, every split -------------------------------------------- */

#define CALL_A "a84b4c76e66710@pc33.hotline.vn"
#define CALL_C "3848276298220188511@10.0.0.7"
#define CALL_B "b-0243123456-1783163200"

static const char *const answered_call[] = {
	"{\"event\":\"offered\",\"callid\":\"" CALL_A "\",\"time\":\"1783162872.204712\","
	"\"caller\":\"+84912345678\",\"called\":\"111\",\"from_tag\":\"1928301774\"}",
	"{\"event\":\"answered\",\"callid\":\"" CALL_A "\",\"time\":\"1783162879.704712\","
	"\"agent\":\"lan\"}",
	"{\"event\":\"ended\",\"callid\":\"" CALL_A "\",\"time\":\"1783162998.904712\","
	"\"by\":\"caller\"}",
};
static const char answered_want[] = "["
	"{\"id\":\"evapi:k1:" CALL_A ":offered\",\"type\":\"call.offered\","
	"\"ts\":\"2026-07-04T11:01:12.204Z\",\"call_id\":\"" CALL_A "\","
	"\"caller\":\"+84912345678\",\"line\":\"111\"},"
	"{\"id\":\"evapi:k1:" CALL_A ":answered\",\"type\":\"call.answered\","
	"\"ts\":\"2026-07-04T11:01:19.704Z\",\"call_id\":\"" CALL_A "\",\"operator\":\"lan\"},"
	"{\"id\":\"evapi:k1:" CALL_A ":ended\",\"type\":\"call.ended\","
	"\"ts\":\"2026-07-04T11:03:18.904Z\",\"call_id\":\"" CALL_A "\","
	"\"cause\":\"bye by caller\",\"duration_s\":119}]";

static const char *const cancelled_call[] = {
	"{\"event\":\"offered\",\"callid\":\"" CALL_C "\",\"time\":\"1783163100.100000\","
	"\"caller\":\"+84987654321\",\"called\":\"111\"}",
	"{\"event\":\"cancelled\",\"callid\":\"" CALL_C "\",\"time\":\"1783163112.700000\","
	"\"code\":487,\"reason\":\"Request Terminated\"}",
};
static const char cancelled_want[] = "["
	"{\"id\":\"evapi:k1:" CALL_C ":offered\",\"type\":\"call.offered\","
	"\"ts\":\"2026-07-04T11:05:00.100Z\",\"call_id\":\"" CALL_C "\","
	"\"caller\":\"+84987654321\",\"line\":\"111\"},"
	"{\"id\":\"evapi:k1:" CALL_C ":abandoned\",\"type\":\"call.abandoned\","
	"\"ts\":\"2026-07-04T11:05:12.700Z\",\"call_id\":\"" CALL_C "\",\"wait_s\":13},"
	"{\"id\":\"evapi:k1:" CALL_C ":ended\",\"type\":\"call.ended\","
	"\"ts\":\"2026-07-04T11:05:12.700Z\",\"call_id\":\"" CALL_C "\","
	"\"cause\":\"487 Request Terminated\"}]";

static const char *const busy_call[] = {
	"{\"event\":\"offered\",\"callid\":\"" CALL_B "\",\"time\":\"1783163200\","
	"\"caller\":\"0243123456\",\"called\":\"111\"}",
	"{\"event\":\"failed\",\"callid\":\"" CALL_B "\",\"time\":\"1783163205.5\","
	"\"code\":486,\"reason\":\"Busy Here\"}",
};
static const char busy_want[] = "["
	"{\"id\":\"evapi:k1:" CALL_B ":offered\",\"type\":\"call.offered\","
	"\"ts\":\"2026-07-04T11:06:40.000Z\",\"call_id\":\"" CALL_B "\","
	"\"caller\":\"0243123456\",\"line\":\"111\"},"
	"{\"id\":\"evapi:k1:" CALL_B ":ended\",\"type\":\"call.ended\","
	"\"ts\":\"2026-07-04T11:06:45.500Z\",\"call_id\":\"" CALL_B "\","
	"\"cause\":\"486 Busy Here\"}]";

struct transcript {
	const char *name;
	const char *const *frames;
	size_t n;
	const char *want;
};

static const struct transcript transcripts[] = {
	{ "answered", answered_call, nitems(answered_call), answered_want },
	{ "cancelled", cancelled_call, nitems(cancelled_call), cancelled_want },
	{ "busy", busy_call, nitems(busy_call), busy_want },
};

static void
check_split(struct text t, const char *want, size_t cut)
{
	struct evapi *e = new_evapi();
	json_t *out = feed_ok(e, t.s, cut);
	json_t *rest = feed_ok(e, t.s + cut, t.len - cut);

	json_array_extend(out, rest);
	assert_json(out, want);
	json_decref(rest);
	json_decref(out);
	evapi_free(e);
}

static void
check_bytes(struct text t, const char *want)
{
	struct evapi *e = new_evapi();
	json_t *out = json_array();

	for (size_t i = 0; i < t.len; i++) {
		json_t *one = feed_ok(e, t.s + i, 1);

		json_array_extend(out, one);
		json_decref(one);
	}
	assert_json(out, want);
	json_decref(out);
	evapi_free(e);
}

static void
test_transcript(void **state)
{
	const struct transcript *tr = *state;
	struct text t = stream(tr->frames, tr->n);
	json_t *whole = events_of(tr->frames, tr->n);

	assert_json(whole, tr->want);
	json_decref(whole);
	for (size_t cut = 0; cut <= t.len; cut++)
		check_split(t, tr->want, cut);
	check_bytes(t, tr->want);
	free(t.s);
}

/* All three calls interleaved in one stream: each keeps its own times. */
static void
test_interleaved(void **state)
{
	const char *const frames[] = { answered_call[0], cancelled_call[0], answered_call[1],
		busy_call[0], cancelled_call[1], busy_call[1], answered_call[2] };
	json_t *out = events_of(frames, nitems(frames));
	json_t *ev;
	size_t i;
	int seen = 0;

	(void)state;
	assert_int_equal(json_array_size(out), 8);
	json_array_foreach(out, i, ev) {
		const char *id = json_string_value(json_object_get(ev, "id"));

		if (strcmp(id, "evapi:k1:" CALL_A ":ended") == 0) {
			assert_int_equal(
			    json_integer_value(json_object_get(ev, "duration_s")), 119);
			seen |= 1;
		}
		if (strcmp(id, "evapi:k1:" CALL_C ":abandoned") == 0) {
			assert_int_equal(json_integer_value(json_object_get(ev, "wait_s")), 13);
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	json_decref(out);
}

/* A replay (the same frames after a reconnect) gives the same ids. */
static void
test_replay_same_ids(void **state)
{
	struct text t = stream(answered_call, nitems(answered_call));
	struct evapi *e = new_evapi();
	json_t *first = feed_ok(e, t.s, t.len), *again;

	(void)state;
	evapi_reset(e);
	again = feed_ok(e, t.s, t.len);
	assert_true(json_equal(first, again));
	json_decref(first);
	json_decref(again);
	evapi_free(e);
	free(t.s);
}

/* --- order and times ----------------------------------------------------- */

/* Kamailio workers may deliver answered before offered: both map, and the
 * duration still counts from the answer. */
static void
test_answered_before_offered(void **state)
{
	const char *const frames[] = { answered_call[1], answered_call[0], answered_call[2] };
	json_t *out = events_of(frames, nitems(frames));

	(void)state;
	assert_int_equal(json_array_size(out), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "type")),
	    "call.answered");
	assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "type")),
	    "call.offered");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 2), "duration_s")),
	    119);
	json_decref(out);
}

/* Ends that arrive with nothing known about the call still map, without
 * an interval; an end before its answer has no duration either. */
static void
test_end_without_start(void **state)
{
	const char *const frames[] = { answered_call[2], answered_call[1], cancelled_call[1] };
	json_t *out = events_of(frames, nitems(frames));

	(void)state;
	assert_json(out, "["
		"{\"id\":\"evapi:k1:" CALL_A ":ended\",\"type\":\"call.ended\","
		"\"ts\":\"2026-07-04T11:03:18.904Z\",\"call_id\":\"" CALL_A "\","
		"\"cause\":\"bye by caller\"},"
		"{\"id\":\"evapi:k1:" CALL_A ":answered\",\"type\":\"call.answered\","
		"\"ts\":\"2026-07-04T11:01:19.704Z\",\"call_id\":\"" CALL_A "\","
		"\"operator\":\"lan\"},"
		"{\"id\":\"evapi:k1:" CALL_C ":abandoned\",\"type\":\"call.abandoned\","
		"\"ts\":\"2026-07-04T11:05:12.700Z\",\"call_id\":\"" CALL_C "\"},"
		"{\"id\":\"evapi:k1:" CALL_C ":ended\",\"type\":\"call.ended\","
		"\"ts\":\"2026-07-04T11:05:12.700Z\",\"call_id\":\"" CALL_C "\","
		"\"cause\":\"487 Request Terminated\"}]");
	json_decref(out);
}

/* The call is forgotten at its end: a second end has no duration. */
static void
test_forgotten_after_end(void **state)
{
	const char *const frames[] = { answered_call[1], answered_call[2], answered_call[2] };
	json_t *out = events_of(frames, nitems(frames));

	(void)state;
	assert_int_equal(json_array_size(out), 3);
	assert_non_null(json_object_get(json_array_get(out, 1), "duration_s"));
	assert_null(json_object_get(json_array_get(out, 2), "duration_s"));
	json_decref(out);
}

/* An end earlier than its start (workers' clocks, a bogus time) has no
 * interval rather than a negative one. */
static void
test_negative_interval(void **state)
{
	const char *const frames[] = {
		"{\"event\":\"offered\",\"callid\":\"x\",\"time\":\"1783163100.9\"}",
		"{\"event\":\"cancelled\",\"callid\":\"x\",\"time\":\"1783163099.0\"}",
	};
	json_t *out = events_of(frames, nitems(frames));

	(void)state;
	assert_int_equal(json_array_size(out), 3);
	assert_null(json_object_get(json_array_get(out, 1), "wait_s"));
	json_decref(out);
}

/* "time" as a JSON number works too; anything else leaves ts out (the
 * daemon stamps the event) without losing the event. */
static void
test_time_forms(void **state)
{
	static const struct {
		const char *time;
		const char *ts; /* NULL: no ts */
	} cases[] = {
		{ "1783162872.25", "2026-07-04T11:01:12.250Z" },
		{ "1783162872", "2026-07-04T11:01:12.000Z" },
		{ "\"1783162872\"", "2026-07-04T11:01:12.000Z" },
		{ "\"1783162872.2\"", "2026-07-04T11:01:12.200Z" },
		{ "\"abc\"", NULL },
		{ "\"\"", NULL },
		{ "\"-5\"", NULL },
		{ "-5", NULL },
		{ "\"1e9\"", NULL },
		{ "\"1783162872.\"", NULL },
		{ "\"1783162872.5x\"", NULL },
		{ "\" 1783162872\"", NULL },
		{ "1e300", NULL },
		{ "-1.5", NULL },
		{ "true", NULL },
		{ "null", NULL },
		{ "[1783162872]", NULL },
		{ "{\"s\":1}", NULL },
		{ "\"9999999999999\"", NULL },
		{ "9223372036854775807", NULL },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char *json;
		json_t *out, *ts;

		xasprintf(&json, "{\"event\":\"offered\",\"callid\":\"t\",\"time\":%s}",
		    cases[i].time);
		out = events_of((const char *const *)&json, 1);
		assert_int_equal(json_array_size(out), 1);
		ts = json_object_get(json_array_get(out, 0), "ts");
		if (cases[i].ts == NULL) {
			if (ts != NULL)
				print_error("time %s gave ts %s\n", cases[i].time,
				    json_string_value(ts));
			assert_null(ts);
		} else
			assert_string_equal(json_string_value(ts), cases[i].ts);
		json_decref(out);
		free(json);
	}
}

/* Garbage times give no interval: wait_s needs both ends known. */
static void
test_interval_needs_both_times(void **state)
{
	const char *const frames[] = {
		"{\"event\":\"offered\",\"callid\":\"y\",\"time\":\"garbage\"}",
		"{\"event\":\"cancelled\",\"callid\":\"y\",\"time\":\"1783163099.0\"}",
		"{\"event\":\"offered\",\"callid\":\"z\",\"time\":1783163000}",
		"{\"event\":\"cancelled\",\"callid\":\"z\",\"time\":1783163010.4}",
	};
	json_t *out = events_of(frames, nitems(frames));

	(void)state;
	assert_int_equal(json_array_size(out), 6);
	assert_null(json_object_get(json_array_get(out, 1), "wait_s"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 4), "wait_s")),
	    10);
	json_decref(out);
}

/* --- fields -------------------------------------------------------------- */

static const char *
field(json_t *out, size_t i, const char *name)
{
	return json_string_value(json_object_get(json_array_get(out, i), name));
}

static void
test_agent_default(void **state)
{
	const char *const frames[] = {
		"{\"event\":\"answered\",\"callid\":\"1\"}",
		"{\"event\":\"answered\",\"callid\":\"2\",\"agent\":\"\"}",
		"{\"event\":\"answered\",\"callid\":\"3\",\"agent\":42}",
		"{\"event\":\"answered\",\"callid\":\"4\",\"agent\":\"tuan\\u0007\"}",
	};
	json_t *out = events_of(frames, nitems(frames));

	(void)state;
	assert_int_equal(json_array_size(out), 4);
	assert_string_equal(field(out, 0, "operator"), "sip");
	assert_string_equal(field(out, 1, "operator"), "sip");
	assert_string_equal(field(out, 2, "operator"), "sip");
	assert_string_equal(field(out, 3, "operator"), "tuan?");
	json_decref(out);
}

static void
test_end_causes(void **state)
{
	const char *const frames[] = {
		"{\"event\":\"ended\",\"callid\":\"1\",\"by\":\"callee\"}",
		"{\"event\":\"ended\",\"callid\":\"2\",\"by\":\"timeout\"}",
		"{\"event\":\"ended\",\"callid\":\"3\",\"by\":\"someone else\"}",
		"{\"event\":\"ended\",\"callid\":\"4\"}",
		"{\"event\":\"failed\",\"callid\":\"5\",\"code\":\"408\"}",
		"{\"event\":\"failed\",\"callid\":\"6\",\"reason\":\"Request Timeout\"}",
		"{\"event\":\"failed\",\"callid\":\"7\",\"code\":99999,\"reason\":7}",
		"{\"event\":\"cancelled\",\"callid\":\"8\"}",
		"{\"event\":\"failed\",\"callid\":\"9\",\"code\":487,\"reason\":\"Terminated\"}",
		"{\"event\":\"failed\",\"callid\":\"10\",\"code\":\"4870\"}",
	};
	json_t *out = events_of(frames, nitems(frames));

	(void)state;
	assert_int_equal(json_array_size(out), 12);
	assert_string_equal(field(out, 0, "cause"), "bye by callee");
	assert_string_equal(field(out, 1, "cause"), "timeout");
	assert_null(field(out, 2, "cause"));
	assert_null(field(out, 3, "cause"));
	assert_string_equal(field(out, 4, "cause"), "408");
	assert_string_equal(field(out, 5, "cause"), "Request Timeout");
	assert_string_equal(field(out, 6, "cause"), "failed");
	assert_string_equal(field(out, 7, "type"), "call.abandoned");
	assert_string_equal(field(out, 8, "cause"), "cancelled");
	/* a 487 answers a CANCEL: abandoned, whatever the config called it */
	assert_string_equal(field(out, 9, "type"), "call.abandoned");
	assert_string_equal(field(out, 9, "id"), "evapi:k1:9:abandoned");
	assert_string_equal(field(out, 10, "cause"), "487 Terminated");
	assert_string_equal(field(out, 11, "cause"), "failed");
	json_decref(out);
}

/* Control characters (C0, DEL, C1) become '?'; a long reason is cut. */
static void
test_untrusted_text(void **state)
{
	char reason[400];
	char *json;
	json_t *out;
	const char *const frames[] = {
		"{\"event\":\"offered\",\"callid\":\"ab\\u0001c\\u007f\\u0085\",\"caller\":"
		"\"+84\\n912\\u0000\",\"called\":\"1\\t11\"}",
	};

	(void)state;
	/* \u0000 is refused by jansson: the frame is skipped */
	out = events_of(frames, 1);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);

	json = "{\"event\":\"offered\",\"callid\":\"ab\\u0001c\\u007f\\u0085\",\"caller\":"
	       "\"+84\\n912\",\"called\":\"1\\t11\"}";
	out = events_of((const char *const *)&json, 1);
	assert_string_equal(field(out, 0, "call_id"), "ab?c??");
	assert_string_equal(field(out, 0, "id"), "evapi:k1:ab?c??:offered");
	assert_string_equal(field(out, 0, "caller"), "+84?912");
	assert_string_equal(field(out, 0, "line"), "1?11");
	json_decref(out);

	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	xasprintf(&json, "{\"event\":\"failed\",\"callid\":\"r\",\"code\":503,\"reason\":\"%s\"}",
	    reason);
	out = events_of((const char *const *)&json, 1);
	assert_int_equal(strlen(field(out, 0, "cause")), PBX_MAX_STR);
	assert_memory_equal(field(out, 0, "cause"), "503 rrr", 7);
	json_decref(out);
	free(json);
}

/* A caller too long for the field is left out, not cut into another number. */
static void
test_long_caller(void **state)
{
	char caller[PBX_MAX_CALLER + 2];
	char *json;
	json_t *out;

	(void)state;
	memset(caller, '9', sizeof(caller) - 1);
	caller[sizeof(caller) - 1] = '\0';
	xasprintf(&json, "{\"event\":\"offered\",\"callid\":\"c\",\"caller\":\"%s\"}", caller);
	out = events_of((const char *const *)&json, 1);
	assert_int_equal(json_array_size(out), 1);
	assert_null(field(out, 0, "caller"));
	json_decref(out);
	free(json);
}

/* A Call-ID past 128 bytes is fitted, the same way for every event. */
static void
test_long_callid(void **state)
{
	char callid[1000];
	char *offer, *end;
	json_t *out;
	const char *id;

	(void)state;
	memset(callid, 'k', sizeof(callid) - 1);
	memcpy(callid + 500, "\xc3\xa9", 2); /* é, which the cut must not split */
	callid[sizeof(callid) - 1] = '\0';
	xasprintf(&offer, "{\"event\":\"offered\",\"callid\":\"%s\",\"time\":\"1\"}", callid);
	xasprintf(&end, "{\"event\":\"ended\",\"callid\":\"%s\",\"time\":\"61\"}", callid);
	{
		const char *const frames[] = { offer, end };

		out = events_of(frames, 2);
	}
	assert_int_equal(json_array_size(out), 2);
	id = field(out, 0, "call_id");
	assert_int_equal(strlen(id), PROTOCOL_MAX_ID);
	assert_int_equal(id[PROTOCOL_MAX_ID - 17], '#');
	assert_string_equal(id, field(out, 1, "call_id"));
	assert_true(strlen(field(out, 0, "id")) <= PROTOCOL_MAX_ID);
	assert_string_not_equal(field(out, 0, "id"), field(out, 1, "id"));
	json_decref(out);
	free(offer);
	free(end);
}

/* --- frames that are skipped --------------------------------------------- */

/* Each frame is skipped and counted; the stream goes on to the next one. */
static void
test_skipped_frames(void **state)
{
	static const char deep[] = "{\"event\":\"offered\",\"callid\":\"d\",\"x\":"
				   "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}";
	const char *const bad[] = {
		"",
		"{",
		"not json",
		"[\"event\",\"offered\"]",
		"\"offered\"",
		"42",
		"null",
		"{}",
		"{\"callid\":\"c\"}",
		"{\"event\":\"offered\"}",
		"{\"event\":\"offered\",\"callid\":42}",
		"{\"event\":\"offered\",\"callid\":\"\"}",
		"{\"event\":\"offered\",\"callid\":null}",
		"{\"event\":\"offered\",\"callid\":[\"c\"]}",
		"{\"event\":\"rejected\",\"callid\":\"c\"}",
		"{\"event\":\"OFFERED\",\"callid\":\"c\"}",
		"{\"event\":7,\"callid\":\"c\"}",
		"{\"event\":\"offered\",\"callid\":\"c\",\"callid\":\"d\"}",
		"{\"event\":\"offered\",\"callid\":\"c\\u0000\"}",
		"{\"event\":\"offered\",\"callid\":\"\xff\xfe\"}",
		"{\"event\":\"offered\",\"callid\":\"\xc0\xaf\"}",
		"{\"event\":\"offered\",\"callid\":\"\xed\xa0\x80\"}",
		deep,
	};
	struct evapi *e = new_evapi();
	struct text t = { NULL, 0 };
	json_t *out;

	(void)state;
	for (size_t i = 0; i < nitems(bad); i++)
		add_frame(&t, bad[i]);
	add_frame_n(&t, "{\"event\":\"offered\",\0\"callid\":\"n\"}", 34);
	add_frame(&t, answered_call[0]);
	out = feed_ok(e, t.s, t.len);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(field(out, 0, "call_id"), CALL_A);
	assert_int_equal(evapi_skipped(e), nitems(bad) + 1);
	json_decref(out);
	evapi_free(e);
	free(t.s);
}

/* A frame nested depth deep: an object holding depth - 1 arrays. */
static void
add_nested(struct text *t, int depth)
{
	char json[256];
	size_t n;

	n = (size_t)snprintf(json, sizeof(json), "{\"event\":\"ended\",\"callid\":\"d\",\"x\":");
	for (int i = 1; i < depth; i++)
		json[n++] = '[';
	for (int i = 1; i < depth; i++)
		json[n++] = ']';
	json[n++] = '}';
	json[n] = '\0';
	add_frame(t, json);
}

/* Nesting up to the limit is fine: only deeper frames are skipped. */
static void
test_depth_limit(void **state)
{
	struct evapi *e = new_evapi();
	struct text t = { NULL, 0 };
	json_t *out;

	(void)state;
	add_nested(&t, EVAPI_MAX_DEPTH);
	add_nested(&t, EVAPI_MAX_DEPTH + 1);
	out = feed_ok(e, t.s, t.len);
	assert_int_equal(json_array_size(out), 1);
	assert_int_equal(evapi_skipped(e), 1);
	json_decref(out);
	evapi_free(e);
	free(t.s);
}

/* --- framing errors ------------------------------------------------------ */

static void
expect_framing_error(const char *bytes, size_t n, const char *needle)
{
	struct evapi *e = new_evapi();
	char err[160];
	json_t *out = feed_fail(e, bytes, n, err, sizeof(err));

	if (strstr(err, needle) == NULL) {
		print_error("error \"%s\" lacks \"%s\"\n", err, needle);
		fail();
	}
	json_decref(out);
	evapi_free(e);
}

static void
test_framing_errors(void **state)
{
	static const struct {
		const char *bytes;
		size_t len; /* 0: strlen(bytes) */
		const char *needle;
	} cases[] = {
		{ "{\"event\":\"offered\"}", 0, "'{' where a length was expected" },
		{ "x:{},", 0, "'x' where a length was expected" },
		{ ":{},", 0, "':' where a length was expected" },
		{ "-2:{},", 0, "'-' where a length was expected" },
		{ " 2:{},", 0, "' ' where a length was expected" },
		{ "2 :{},", 0, "' ' where a length or ':' was expected" },
		{ "01:x,", 0, "leading zero" },
		{ "00:,", 0, "leading zero" },
		{ "65537:", 0, "longer than 65536" },
		{ "99999999999999999999999999:", 0, "longer than 65536" },
		{ "2:{}x", 0, "'x' after a 2-byte frame where ',' was expected" },
		{ "2:{}\n", 0, "0x0a after a 2-byte frame" },
		{ "2:{}2:{},", 0, "'2' after a 2-byte frame" },
		{ "2:{},\n2:{},", 0, "0x0a where a length was expected" },
		{ "2:{},\r\n", 0, "0x0d where a length was expected" },
		{ "2\0:{},", 6, "0x00 where a length or ':' was expected" },
		{ "\0", 1, "0x00 where a length was expected" },
		{ "\xff", 0, "0xff where a length was expected" },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		size_t n = cases[i].len > 0 ? cases[i].len : strlen(cases[i].bytes);

		expect_framing_error(cases[i].bytes, n, cases[i].needle);
	}
}

/* Events of frames before the error stay; the failure is sticky until a
 * reset, and a reset starts clean but not up. */
static void
test_failure_sticky_and_reset(void **state)
{
	struct text t = stream(answered_call, 1);
	struct evapi *e = new_evapi();
	char err[160], again[160];
	json_t *out;

	(void)state;
	add_raw(&t, "5:{\"ev", 6);
	add_raw(&t, "ZZ", 2);
	out = feed_fail(e, t.s, t.len, err, sizeof(err));
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	out = feed_fail(e, "2:{},", 5, again, sizeof(again));
	assert_string_equal(err, again);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	assert_false(evapi_adapter.ready(e));

	/* not up again until a whole frame shows the stream is netstrings now */
	evapi_reset(e);
	assert_false(evapi_adapter.ready(e));
	free(t.s);
	t = stream(answered_call + 1, 2);
	out = feed_ok(e, t.s, 1);
	assert_false(evapi_adapter.ready(e));
	json_decref(out);
	out = feed_ok(e, t.s + 1, t.len - 1);
	assert_true(evapi_adapter.ready(e));
	assert_int_equal(json_array_size(out), 2);
	/* the offer's time was kept across the failed connection */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 1), "duration_s")),
	    119);
	json_decref(out);
	evapi_free(e);
	free(t.s);
}

/* A reset in the middle of a frame drops the part read. */
static void
test_reset_mid_frame(void **state)
{
	struct text t = stream(answered_call, 1);
	struct evapi *e = new_evapi();
	json_t *out;

	(void)state;
	out = feed_ok(e, t.s, t.len / 2);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	evapi_reset(e);
	out = feed_ok(e, t.s, t.len);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	evapi_free(e);
	free(t.s);
}

/* The largest frame allowed is accepted; one byte more is refused at its
 * length, before any of it is read. */
static void
test_frame_limit(void **state)
{
	const struct evapi_options opt = { .source = "evapi:k1", .max_frame = 100 };
	struct evapi *e = evapi_new(&opt);
	char json[101], err[160];
	struct text t = { NULL, 0 };
	json_t *out;
	int n;

	(void)state;
	n = snprintf(json, sizeof(json), "{\"event\":\"ended\",\"callid\":\"m\",\"pad\":\"");
	memset(json + n, 'p', 100 - (size_t)n - 2);
	memcpy(json + 98, "\"}", 3);
	assert_int_equal(strlen(json), 100);
	evapi_reset(e);
	add_frame(&t, json);
	out = feed_ok(e, t.s, t.len);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	out = feed_fail(e, "101:", 4, err, sizeof(err));
	assert_non_null(strstr(err, "longer than 100 bytes"));
	json_decref(out);
	evapi_free(e);
	free(t.s);
}

/* The default limit, 65536 bytes, takes a frame of exactly that size. */
static void
test_default_frame_limit(void **state)
{
	size_t n = EVAPI_DEFAULT_MAX_FRAME;
	char *json = xmalloc(n + 1);
	struct evapi *e = new_evapi();
	struct text t = { NULL, 0 };
	json_t *out;
	int head;

	(void)state;
	head = snprintf(json, n, "{\"event\":\"ended\",\"callid\":\"m\",\"pad\":\"");
	memset(json + head, ' ', n - (size_t)head - 2);
	memcpy(json + n - 2, "\"}", 3);
	add_frame(&t, json);
	out = feed_ok(e, t.s, t.len);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	evapi_free(e);
	free(t.s);
	free(json);
}

/* --- limits -------------------------------------------------------------- */

/* The call table is bounded: past max_calls the oldest is forgotten, so
 * its later end has no interval; a recent call keeps its own. */
static void
test_call_table_bounded(void **state)
{
	const struct evapi_options opt = { .source = "evapi:k1", .max_calls = 4 };
	struct evapi *e = evapi_new(&opt);
	struct text t = { NULL, 0 };
	json_t *out;
	char json[160];
	size_t n;

	(void)state;
	evapi_reset(e);
	for (int i = 0; i < 1000; i++) {
		snprintf(json, sizeof(json),
		    "{\"event\":\"offered\",\"callid\":\"c%d\",\"time\":\"%d\"}", i, 1000 + i);
		add_frame(&t, json);
	}
	add_frame(&t, "{\"event\":\"cancelled\",\"callid\":\"c0\",\"time\":\"3000\"}");
	add_frame(&t, "{\"event\":\"cancelled\",\"callid\":\"c999\",\"time\":\"3000\"}");
	out = feed_ok(e, t.s, t.len);
	n = json_array_size(out);
	assert_int_equal(n, 1000 + 4);
	assert_null(json_object_get(json_array_get(out, 1000), "wait_s"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 1002), "wait_s")),
	    1001);
	json_decref(out);
	evapi_free(e);
	free(t.s);
}

/* A source name that is not clean is cleaned, and a long one fitted. */
static void
test_source_name(void **state)
{
	char source[300];
	struct evapi_options opt = { .source = source };
	struct evapi *e;
	const char *const frames[] = { answered_call[0] };
	struct text t = stream(frames, 1);
	json_t *out;

	(void)state;
	memset(source, 's', sizeof(source) - 1);
	source[0] = '\x01';
	source[sizeof(source) - 1] = '\0';
	e = evapi_new(&opt);
	evapi_reset(e);
	out = feed_ok(e, t.s, t.len);
	assert_int_equal(strlen(field(out, 0, "id")), PROTOCOL_MAX_ID);
	assert_int_equal(field(out, 0, "id")[0], '?');
	json_decref(out);
	evapi_free(e);

	opt.source = NULL;
	e = evapi_new(&opt);
	evapi_reset(e);
	out = feed_ok(e, t.s, t.len);
	assert_string_equal(field(out, 0, "id"), "evapi:" CALL_A ":offered");
	json_decref(out);
	evapi_free(e);
	free(t.s);
}

/* --- the adapter --------------------------------------------------------- */

static void
test_adapter_check(void **state)
{
	struct pbx_source c = { .type = "evapi", .connect = "tcp:127.0.0.1:8448" };
	char err[160];

	(void)state;
	assert_ptr_equal(pbx_adapter_find("evapi"), &evapi_adapter);
	assert_int_equal(evapi_adapter.check(&c, err, sizeof(err)), 0);
	c.username = "u";
	assert_int_equal(evapi_adapter.check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no authentication"));
	c.username = NULL;
	c.secret = "s";
	assert_int_equal(evapi_adapter.check(&c, err, sizeof(err)), -1);
	c.secret = NULL;
	c.password = "p";
	assert_int_equal(evapi_adapter.check(&c, err, sizeof(err)), -1);
	c.password = NULL;
	c.ivr_variable = "HOTLINE_IVR";
	assert_int_equal(evapi_adapter.check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ivr_variable"));
}

/* No handshake: ready once connected, nothing ever to send. */
static void
test_adapter_session(void **state)
{
	struct pbx_source c = { .type = "evapi", .connect = "tcp:127.0.0.1:8448" };
	void *p = evapi_adapter.create(&c, "evapi:tcp:127.0.0.1:8448");
	struct text t = stream(busy_call, nitems(busy_call));
	json_t *out = json_array();
	char err[160];

	(void)state;
	assert_false(evapi_adapter.ready(p));
	evapi_adapter.reset(p);
	assert_true(evapi_adapter.ready(p));
	assert_null(evapi_adapter.output(p));
	assert_int_equal(evapi_adapter.feed(p, t.s, t.len, out, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(field(out, 0, "id"), "evapi:tcp:127.0.0.1:8448:" CALL_B ":offered");
	assert_null(evapi_adapter.output(p));
	assert_true(evapi_adapter.ready(p));
	/* a reconnect after a clean close is up at once */
	evapi_adapter.reset(p);
	assert_true(evapi_adapter.ready(p));
	json_decref(out);
	evapi_adapter.destroy(p);
	free(t.s);
}

int
main(void)
{
	struct CMUnitTest tests[nitems(transcripts) + 32];
	size_t n = 0;

	for (size_t i = 0; i < nitems(transcripts); i++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_transcript,
		    (void *)&transcripts[i]);
		tests[n++].name = transcripts[i].name;
	}
#define ADD(f) tests[n++] = (struct CMUnitTest)cmocka_unit_test(f)
	ADD(test_interleaved);
	ADD(test_replay_same_ids);
	ADD(test_answered_before_offered);
	ADD(test_end_without_start);
	ADD(test_forgotten_after_end);
	ADD(test_negative_interval);
	ADD(test_time_forms);
	ADD(test_interval_needs_both_times);
	ADD(test_agent_default);
	ADD(test_end_causes);
	ADD(test_untrusted_text);
	ADD(test_long_caller);
	ADD(test_long_callid);
	ADD(test_skipped_frames);
	ADD(test_depth_limit);
	ADD(test_framing_errors);
	ADD(test_failure_sticky_and_reset);
	ADD(test_reset_mid_frame);
	ADD(test_frame_limit);
	ADD(test_default_frame_limit);
	ADD(test_call_table_bounded);
	ADD(test_source_name);
	ADD(test_adapter_check);
	ADD(test_adapter_session);
#undef ADD
	return _cmocka_run_group_tests("evapi", tests, n, NULL, NULL);
}
