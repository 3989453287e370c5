/*
 * test_protocol.c: the bridge protocol parser and its reply lines.
 *
 * Good events are checked field by field; bad lines come from one table
 * (bytes, expected code, expected id in the nack), so adding a case is
 * adding a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "protocol.h"
#include "xmalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static const struct proto_limits lim16 = { .max_depth = 16 };

static void
parse_ok(const char *line, struct event *ev)
{
	struct proto_fail fail;

	if (protocol_parse(line, strlen(line), &lim16, ev, &fail) != 0) {
		print_error("refused %s: %s %s\n", line,
		    protocol_error_name(fail.code), fail.detail);
		fail();
	}
	assert_int_equal(fail.code, PROTO_OK);
	assert_non_null(ev->obj);
}

static const char *
extra(const struct event *ev, const char *name)
{
	return json_string_value(json_object_get(ev->obj, name));
}

static void
assert_ticket_unset(const struct event *ev)
{
	assert_null(ev->ticket_id);
	assert_null(ev->text);
	assert_null(ev->category);
	assert_null(ev->outcome);
	assert_int_equal(ev->child_age, -1);
}

static void
assert_call_unset(const struct event *ev)
{
	assert_null(ev->caller);
	assert_null(ev->line);
	assert_null(ev->queue);
	assert_null(ev->ivr);
	assert_null(ev->client);
	assert_null(ev->token);
}

/* --- every event type, every field ------------------------------------ */

static void
test_call_offered(void **state)
{
	struct event ev;
	json_t *e;

	parse_ok("{\"id\":\"ev-1\",\"type\":\"call.offered\","
	    "\"ts\":\"2025-06-01T08:30:00.123+07:00\",\"call_id\":\"c-1\","
	    "\"caller\":\"+84912345678\",\"line\":\"111\",\"queue\":\"main\","
	    "\"ivr\":[\"1\",\"*9#\",2],\"province\":\"H\xc3\xa0 N\xe1\xbb\x99i\","
	    "\"district\":\"Ba \xc4\x90\xc3\xacnh\",\"lang\":\"vi\"}",
	    &ev);
	assert_int_equal(ev.type, EV_CALL_OFFERED);
	assert_string_equal(ev.id, "ev-1");
	assert_string_equal(ev.ts, "2025-06-01T08:30:00.123+07:00");
	assert_string_equal(ev.call_id, "c-1");
	assert_string_equal(ev.caller, "+84912345678");
	assert_string_equal(ev.line, "111");
	assert_string_equal(ev.queue, "main");
	assert_string_equal(ev.province, "H\xc3\xa0 N\xe1\xbb\x99i");
	assert_string_equal(extra(&ev, "district"), "Ba \xc4\x90\xc3\xacnh");
	assert_string_equal(extra(&ev, "lang"), "vi");
	assert_true(json_is_array(ev.ivr));
	assert_int_equal(json_array_size(ev.ivr), 3);
	assert_string_equal(json_string_value(json_array_get(ev.ivr, 0)), "1");
	assert_string_equal(json_string_value(json_array_get(ev.ivr, 1)), "*9#");
	e = json_array_get(ev.ivr, 2);
	assert_true(json_is_integer(e));
	assert_int_equal(json_integer_value(e), 2);
	assert_null(ev.operator_name);
	assert_ticket_unset(&ev);
	protocol_event_clear(&ev);
}

static void
test_call_answered(void **state)
{
	struct event ev;

	parse_ok("{\"type\":\"call.answered\",\"id\":\"ev-2\",\"call_id\":\"c-1\","
	    "\"operator\":\"op.lan\"}", &ev);
	assert_int_equal(ev.type, EV_CALL_ANSWERED);
	assert_string_equal(ev.id, "ev-2");
	assert_null(ev.ts);
	assert_string_equal(ev.call_id, "c-1");
	assert_string_equal(ev.operator_name, "op.lan");
	assert_call_unset(&ev);
	assert_ticket_unset(&ev);
	protocol_event_clear(&ev);
}

static void
test_call_abandoned(void **state)
{
	struct event ev;

	parse_ok("{\"id\":\"ev-3\",\"type\":\"call.abandoned\",\"call_id\":\"c-2\","
	    "\"wait_s\":41.5,\"ts\":\"2025-06-01T01:30:00Z\"}", &ev);
	assert_int_equal(ev.type, EV_CALL_ABANDONED);
	assert_string_equal(ev.id, "ev-3");
	assert_string_equal(ev.ts, "2025-06-01T01:30:00Z");
	assert_string_equal(ev.call_id, "c-2");
	assert_true(json_number_value(json_object_get(ev.obj, "wait_s")) == 41.5);
	assert_call_unset(&ev);
	assert_ticket_unset(&ev);
	protocol_event_clear(&ev);
}

static void
test_call_transferred(void **state)
{
	struct event ev;

	parse_ok("{\"id\":\"ev-4\",\"type\":\"call.transferred\","
	    "\"call_id\":\"c-2\",\"to\":\"police-113\"}", &ev);
	assert_int_equal(ev.type, EV_CALL_TRANSFERRED);
	assert_string_equal(ev.id, "ev-4");
	assert_string_equal(ev.call_id, "c-2");
	assert_string_equal(extra(&ev, "to"), "police-113");
	assert_null(ev.operator_name);
	assert_call_unset(&ev);
	assert_ticket_unset(&ev);
	protocol_event_clear(&ev);
}

static void
test_call_ended(void **state)
{
	struct event ev;

	parse_ok("{\"id\":\"ev-5\",\"type\":\"call.ended\",\"call_id\":\"c-2\","
	    "\"duration_s\":604800,\"cause\":\"caller_hangup\"}", &ev);
	assert_int_equal(ev.type, EV_CALL_ENDED);
	assert_string_equal(ev.id, "ev-5");
	assert_string_equal(ev.call_id, "c-2");
	assert_int_equal(json_integer_value(json_object_get(ev.obj,
	    "duration_s")), 604800);
	assert_string_equal(extra(&ev, "cause"), "caller_hangup");
	assert_call_unset(&ev);
	assert_ticket_unset(&ev);
	protocol_event_clear(&ev);
}

static void
test_ticket_created(void **state)
{
	struct event ev;
	json_t *tags;

	parse_ok("{\"id\":\"ev-6\",\"type\":\"ticket.created\",\"ticket_id\":\"t-1\","
	    "\"call_id\":\"c-1\",\"operator\":\"op.lan\","
	    "\"text\":\"b\xc3\xa9 8 tu\xe1\xbb\x95i b\xe1\xbb\x8b \\\"\\u0111\xc3\xa1nh\\\"\\n\","
	    "\"category\":\"abuse.physical\",\"child_age\":8,"
	    "\"child_gender\":\"f\",\"province\":\"\xc4\x90\xc3\xa0 N\xe1\xba\xb5ng\","
	    "\"district\":\"H\xe1\xba\xa3i Ch\xc3\xa2u\","
	    "\"tags\":[\"school\",\"repeat\"],\"ts\":\"2025-06-01T08:31:00+07:00\"}",
	    &ev);
	assert_int_equal(ev.type, EV_TICKET_CREATED);
	assert_string_equal(ev.id, "ev-6");
	assert_string_equal(ev.ts, "2025-06-01T08:31:00+07:00");
	assert_string_equal(ev.ticket_id, "t-1");
	assert_string_equal(ev.call_id, "c-1");
	assert_string_equal(ev.operator_name, "op.lan");
	assert_string_equal(ev.text,
	    "b\xc3\xa9 8 tu\xe1\xbb\x95i b\xe1\xbb\x8b \"\xc4\x91\xc3\xa1nh\"\n");
	assert_string_equal(ev.category, "abuse.physical");
	assert_int_equal(ev.child_age, 8);
	assert_string_equal(extra(&ev, "child_gender"), "f");
	assert_string_equal(ev.province, "\xc4\x90\xc3\xa0 N\xe1\xba\xb5ng");
	assert_string_equal(extra(&ev, "district"), "H\xe1\xba\xa3i Ch\xc3\xa2u");
	tags = json_object_get(ev.obj, "tags");
	assert_int_equal(json_array_size(tags), 2);
	assert_string_equal(json_string_value(json_array_get(tags, 0)), "school");
	assert_string_equal(json_string_value(json_array_get(tags, 1)), "repeat");
	assert_null(ev.outcome);
	assert_call_unset(&ev);
	protocol_event_clear(&ev);
}

static void
test_ticket_updated(void **state)
{
	struct event ev;

	parse_ok("{\"id\":\"ev-7\",\"type\":\"ticket.updated\",\"ticket_id\":\"t-1\","
	    "\"text\":\"note\",\"call_id\":\"c-9\",\"operator\":\"op.mai\","
	    "\"category\":\"drowning\",\"child_age\":0,\"child_gender\":\"m\","
	    "\"province\":\"Hu\xe1\xba\xbf\",\"district\":\"\",\"tags\":[]}", &ev);
	assert_int_equal(ev.type, EV_TICKET_UPDATED);
	assert_string_equal(ev.id, "ev-7");
	assert_string_equal(ev.ticket_id, "t-1");
	assert_string_equal(ev.text, "note");
	assert_string_equal(ev.call_id, "c-9");
	assert_string_equal(ev.operator_name, "op.mai");
	assert_string_equal(ev.category, "drowning");
	assert_int_equal(ev.child_age, 0);
	assert_string_equal(extra(&ev, "child_gender"), "m");
	assert_string_equal(ev.province, "Hu\xe1\xba\xbf");
	assert_string_equal(extra(&ev, "district"), "");
	assert_int_equal(json_array_size(json_object_get(ev.obj, "tags")), 0);
	assert_null(ev.outcome);
	assert_call_unset(&ev);
	protocol_event_clear(&ev);
}

/* --- answers: the shape here, the words by the rules' judge ------------- */

/* A judge as the daemon's (triage_answers_check), for one question. */
static int
judge(const json_t *answers, char *detail, size_t len, void *arg)
{
	const char *k;
	json_t *v;

	(*(int *)arg)++;
	json_object_foreach((json_t *)answers, k, v) {
		if (strcmp(k, "danger_now") != 0) {
			snprintf(detail, len, "answers: no question '%s'\x01", k);
			return -1;
		}
	}
	return 0;
}

static void
test_answers(void **state)
{
	int asked = 0;
	struct proto_limits judged = { .max_depth = 16, .answers_ok = judge, .answers_arg = &asked };
	struct proto_fail fail;
	struct event ev;
	static const char *const shapes[] = {
	    "\"answers\":\"yes\"", "\"answers\":[\"yes\"]", "\"answers\":{}",
	    "\"answers\":{\"danger_now\":true}", "\"answers\":{\"danger_now\":1.5}",
	    "\"answers\":{\"danger_now\":[\"yes\"]}", "\"answers\":{\"danger_now\":\"\"}",
	    "\"answers\":{\"\":\"yes\"}", "\"answers\":{\"danger_now\":{\"a\":1}}",
	};
	char line[512];

	/* the judge says yes: the event carries them */
	snprintf(line, sizeof(line), "{\"id\":\"a-1\",\"type\":\"ticket.updated\","
	    "\"ticket_id\":\"t-1\",\"answers\":{\"danger_now\":\"yes\"}}");
	assert_int_equal(protocol_parse(line, strlen(line), &judged, &ev, &fail), 0);
	assert_int_equal(asked, 1);
	assert_string_equal(json_string_value(json_object_get(ev.answers, "danger_now")), "yes");
	protocol_event_clear(&ev);
	/* the judge says no: bad_value with its words, made safe to send */
	snprintf(line, sizeof(line), "{\"id\":\"a-2\",\"type\":\"ticket.created\","
	    "\"ticket_id\":\"t-1\",\"answers\":{\"danger\":\"yes\"}}");
	assert_int_equal(protocol_parse(line, strlen(line), &judged, &ev, &fail), -1);
	assert_int_equal(fail.code, PROTO_BAD_VALUE);
	assert_string_equal(fail.id, "a-2");
	assert_string_equal(fail.detail, "answers: no question 'danger'?");
	assert_null(ev.obj);
	/* no judge on this connection: refused, whatever they say */
	snprintf(line, sizeof(line), "{\"id\":\"a-3\",\"type\":\"ticket.updated\","
	    "\"ticket_id\":\"t-1\",\"answers\":{\"danger_now\":\"yes\"}}");
	assert_int_equal(protocol_parse(line, strlen(line), &lim16, &ev, &fail), -1);
	assert_int_equal(fail.code, PROTO_BAD_VALUE);
	assert_string_equal(fail.detail, "answers: not taken on this connection");
	/* a wrong shape never reaches the judge */
	asked = 0;
	for (size_t i = 0; i < nitems(shapes); i++) {
		snprintf(line, sizeof(line), "{\"id\":\"a-4\",\"type\":\"ticket.updated\","
		    "\"ticket_id\":\"t-1\",%s}", shapes[i]);
		assert_int_equal(protocol_parse(line, strlen(line), &judged, &ev, &fail), -1);
		assert_int_equal(fail.code, PROTO_BAD_VALUE);
		assert_string_equal(fail.detail, "answers: must be an object of 1..32 answers, "
		    "{\"question\": \"answer\" or an integer}");
	}
	assert_int_equal(asked, 0);
	/* 33 answers are too many; a call event ignores the field */
	{
		char big[2048];
		size_t o = (size_t)snprintf(big, sizeof(big), "{\"id\":\"a-5\",\"type\":"
		    "\"ticket.updated\",\"ticket_id\":\"t-1\",\"answers\":{");

		for (int i = 0; i < 33; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o, "%s\"q%d\":1", i ? "," : "", i);
		snprintf(big + o, sizeof(big) - o, "}}");
		assert_int_equal(protocol_parse(big, strlen(big), &judged, &ev, &fail), -1);
		assert_int_equal(fail.code, PROTO_BAD_VALUE);
	}
	snprintf(line, sizeof(line), "{\"id\":\"a-6\",\"type\":\"call.ended\","
	    "\"call_id\":\"c-1\",\"answers\":\"anything\"}");
	assert_int_equal(protocol_parse(line, strlen(line), &lim16, &ev, &fail), 0);
	assert_null(ev.answers);
	protocol_event_clear(&ev);
	assert_int_equal(asked, 0);
}

static void
test_ticket_closed(void **state)
{
	struct event ev;

	parse_ok("{\"id\":\"ev-8\",\"type\":\"ticket.closed\",\"ticket_id\":\"t-1\","
	    "\"outcome\":\"referred\",\"referred_to\":\"police Hai Chau\","
	    "\"text\":\"handed over\"}", &ev);
	assert_int_equal(ev.type, EV_TICKET_CLOSED);
	assert_string_equal(ev.id, "ev-8");
	assert_string_equal(ev.ticket_id, "t-1");
	assert_string_equal(ev.outcome, "referred");
	assert_string_equal(extra(&ev, "referred_to"), "police Hai Chau");
	assert_string_equal(ev.text, "handed over");
	assert_null(ev.call_id);
	assert_null(ev.category);
	assert_int_equal(ev.child_age, -1);
	assert_call_unset(&ev);
	protocol_event_clear(&ev);
}

static void
test_outcomes(void **state)
{
	static const char *const ok[] = { "referred", "counselled", "resolved",
		"no_action", "duplicate" };
	struct event ev;
	char line[160];

	for (size_t i = 0; i < nitems(ok); i++) {
		snprintf(line, sizeof(line), "{\"id\":\"o%zu\",\"type\":"
		    "\"ticket.closed\",\"ticket_id\":\"t\",\"outcome\":\"%s\"}",
		    i, ok[i]);
		parse_ok(line, &ev);
		assert_string_equal(ev.outcome, ok[i]);
		protocol_event_clear(&ev);
	}
}

static void
test_ping(void **state)
{
	struct event ev;

	parse_ok("{\"id\":\"p-1\",\"type\":\"ping\"}", &ev);
	assert_int_equal(ev.type, EV_PING);
	assert_string_equal(ev.id, "p-1");
	assert_null(ev.ts);
	assert_null(ev.call_id);
	assert_null(ev.operator_name);
	assert_null(ev.province);
	assert_call_unset(&ev);
	assert_ticket_unset(&ev);
	protocol_event_clear(&ev);
}

static void
test_hello(void **state)
{
	struct event ev;

	parse_ok("{\"type\":\"hello\",\"client\":\"asterisk-hn\","
	    "\"token\":\"s3cret\"}", &ev);
	assert_int_equal(ev.type, EV_HELLO);
	assert_null(ev.id);
	assert_string_equal(ev.client, "asterisk-hn");
	assert_string_equal(ev.token, "s3cret");
	assert_null(ev.call_id);
	assert_ticket_unset(&ev);
	protocol_event_clear(&ev);

	parse_ok("{\"type\":\"hello\",\"client\":\"fs\"}", &ev);
	assert_string_equal(ev.client, "fs");
	assert_null(ev.token);
	protocol_event_clear(&ev);
}

/* --- leniency ------------------------------------------------------------ */

static void
test_trailing_cr(void **state)
{
	static const char line[] = "{\"id\":\"cr\",\"type\":\"ping\"}\r";
	struct event ev;
	struct proto_fail fail;

	assert_int_equal(protocol_parse(line, sizeof(line) - 1, &lim16, &ev,
	    &fail), 0);
	assert_string_equal(ev.id, "cr");
	protocol_event_clear(&ev);
}

static void
test_null_is_absent(void **state)
{
	struct event ev;

	parse_ok("{\"id\":\"n\",\"type\":\"call.offered\",\"call_id\":\"c\","
	    "\"caller\":null,\"ivr\":null,\"ts\":null}", &ev);
	assert_null(ev.caller);
	assert_null(ev.ivr);
	assert_null(ev.ts);
	protocol_event_clear(&ev);
}

/* Unknown fields, and known fields on a type that does not take them. */
static void
test_other_fields_ignored(void **state)
{
	struct event ev;

	parse_ok("{\"id\":\"x\",\"type\":\"call.answered\",\"call_id\":\"c\","
	    "\"operator\":\"o\",\"outcome\":42,\"child_age\":\"old\","
	    "\"vendor\":{\"a\":[1,2]},\"text\":\"t\"}", &ev);
	assert_null(ev.outcome);
	assert_null(ev.text);
	assert_int_equal(ev.child_age, -1);
	assert_non_null(json_object_get(ev.obj, "vendor"));
	protocol_event_clear(&ev);

	parse_ok("{\"id\":\"y\",\"type\":\"ping\",\"call_id\":7}", &ev);
	assert_null(ev.call_id);
	protocol_event_clear(&ev);
}

static char *
nested(int depth, size_t *len)
{
	static const char head[] = "{\"id\":\"d\",\"type\":\"ping\",\"x\":";
	size_t n = strlen(head) + 2 * (size_t)(depth - 1) + 1;
	char *s = xmalloc(n + 1), *p = s + strlen(head);

	memcpy(s, head, strlen(head));
	memset(p, '[', (size_t)depth - 1);
	memset(p + depth - 1, ']', (size_t)depth - 1);
	s[n - 1] = '}';
	s[n] = '\0';
	*len = n;
	return s;
}

static void
test_depth_limit(void **state)
{
	static const struct proto_limits flat = { .max_depth = 1 };
	static const char flat_ok[] = "{\"id\":\"f\",\"type\":\"ping\"}";
	static const char flat_bad[] = "{\"id\":\"f\",\"type\":\"ping\",\"a\":[]}";
	struct event ev;
	struct proto_fail fail;
	size_t len;
	char *s = nested(16, &len);

	assert_int_equal(protocol_parse(s, len, &lim16, &ev, &fail), 0);
	protocol_event_clear(&ev);
	/* no limits: the default is 16 */
	assert_int_equal(protocol_parse(s, len, NULL, &ev, &fail), 0);
	protocol_event_clear(&ev);
	free(s);

	parse_ok("{\"id\":\"f\",\"type\":\"ping\",\"s\":\"[[{{\\\"[[\"}", &ev);
	protocol_event_clear(&ev);
	assert_int_equal(protocol_parse(flat_ok, strlen(flat_ok), &flat, &ev,
	    &fail), 0);
	protocol_event_clear(&ev);
	assert_int_equal(protocol_parse(flat_bad, strlen(flat_bad), &flat, &ev,
	    &fail), -1);
	assert_string_equal(fail.detail, "nesting deeper than 1");
}

static char *
repeat_into(const char *head, char c, size_t n, const char *tail,
    size_t *len)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = xmalloc(h + n + t + 1);

	memcpy(s, head, h);
	memset(s + h, c, n);
	memcpy(s + h + n, tail, t + 1);
	*len = h + n + t;
	return s;
}

static char *
line_with(const char *head, char c, size_t n, const char *tail)
{
	size_t len;

	return repeat_into(head, c, n, tail, &len);
}

static void
parse_ok_free(char *line)
{
	struct event ev;

	parse_ok(line, &ev);
	protocol_event_clear(&ev);
	free(line);
}

/* Every limit is inclusive: the largest allowed value passes. */
static void
test_limits_inclusive(void **state)
{
	struct event ev;
	char *s;

	s = line_with("{\"type\":\"ping\",\"id\":\"", 'i', 128, "\"}");
	parse_ok(s, &ev);
	assert_int_equal(strlen(ev.id), 128);
	protocol_event_clear(&ev);
	free(s);
	parse_ok_free(line_with("{\"id\":\"a\",\"type\":\"ticket.created\","
	    "\"ticket_id\":\"t\",\"text\":\"", 'x', 32768, "\"}"));
	parse_ok_free(line_with("{\"id\":\"a\",\"type\":\"ticket.created\","
	    "\"ticket_id\":\"t\",\"category\":\"", 'a', 64, "\"}"));
	parse_ok_free(line_with("{\"id\":\"a\",\"type\":\"call.offered\","
	    "\"call_id\":\"c\",\"caller\":\"", '9', 64, "\"}"));
	parse_ok_free(line_with("{\"type\":\"hello\",\"client\":\"", 'c', 64,
	    "\"}"));
	parse_ok_free(line_with("{\"type\":\"hello\",\"client\":\"c\","
	    "\"token\":\"", 't', 256, "\"}"));
	parse_ok("{\"id\":\"a\",\"type\":\"ticket.created\",\"ticket_id\":\"t\","
	    "\"child_age\":30,\"tags\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
	    "\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\","
	    "\"18\",\"19\",\"20\",\"21\",\"22\",\"23\",\"24\",\"25\",\"26\",\"27\","
	    "\"28\",\"29\",\"30\",\"31\",\"32\"]}", &ev);
	assert_int_equal(ev.child_age, 30);
	protocol_event_clear(&ev);
	parse_ok("{\"id\":\"a\",\"type\":\"call.offered\",\"call_id\":\"c\","
	    "\"ivr\":[0,1,2,3,4,5,6,7,8,9,\"0\",\"1\",\"2\",\"3\",\"4\",\"5\","
	    "\"6\",\"7\",\"8\",\"9\",\"*\",\"#\",\"12345678\",\"*#\",9,9,9,9,"
	    "9,9,9,9]}", &ev);
	assert_int_equal(json_array_size(ev.ivr), 32);
	protocol_event_clear(&ev);
	parse_ok("{\"id\":\"a\",\"type\":\"call.abandoned\",\"call_id\":\"c\","
	    "\"wait_s\":0}", &ev);
	protocol_event_clear(&ev);
}

/* --- bad lines ----------------------------------------------------------- */

struct bad {
	const char *in;
	size_t len;
	enum proto_error code;
	const char *id;     /* expected fail.id */
	const char *detail; /* expected in fail.detail, or NULL */
};

#define BAD(s, c, i, d) { s, sizeof(s) - 1, PROTO_##c, i, d }
#define PFX "{\"id\":\"a1\",\"type\":"
#define OFFERED PFX "\"call.offered\",\"call_id\":\"c\","
#define CREATED PFX "\"ticket.created\",\"ticket_id\":\"t\","
#define PING(x) PFX "\"ping\",\"x\":\"" x "\"}"
#define TS(x) PFX "\"ping\",\"ts\":\"" x "\"}"

static const struct bad bad_lines[] = {
	/* broken and truncated JSON, empty lines, wrong top level */
	BAD("", BAD_JSON, "", NULL),
	BAD("   ", BAD_JSON, "", NULL),
	BAD("\t\r", BAD_JSON, "", NULL),
	BAD("\r", BAD_JSON, "", NULL),
	BAD(PFX "\"ping\"", BAD_JSON, "", NULL),
	BAD(PFX "\"pi", BAD_JSON, "", NULL),
	BAD("{\"id\":\"a1\",", BAD_JSON, "", NULL),
	BAD("{", BAD_JSON, "", NULL),
	BAD("{id:\"a1\",\"type\":\"ping\"}", BAD_JSON, "", NULL),
	BAD("{\"id\":'a1',\"type\":\"ping\"}", BAD_JSON, "", NULL),
	BAD(PFX "\"ping\",}", BAD_JSON, "", NULL),
	BAD(PFX "\"ping\"} x", BAD_JSON, "", NULL),
	BAD(PFX "\"ping\"}{}", BAD_JSON, "", NULL),
	BAD(PFX "\"ping\"}\n{}", BAD_JSON, "", NULL),
	BAD("[]", BAD_JSON, "", "top level must be an object"),
	BAD("[" PFX "\"ping\"}]", BAD_JSON, "", "top level must be an object"),
	BAD("\"ping\"", BAD_JSON, "", "top level must be an object"),
	BAD("42", BAD_JSON, "", "top level must be an object"),
	BAD("null", BAD_JSON, "", "top level must be an object"),
	BAD(PFX "\"ping\",\"x\":tru}", BAD_JSON, "", NULL),
	/* NUL bytes, raw and escaped */
	BAD(PFX "\"ping\"}\0", BAD_JSON, "", "NUL byte in line"),
	BAD("{\"id\":\"a\0\",\"type\":\"ping\"}", BAD_JSON, "", "NUL byte in line"),
	BAD("\0", BAD_JSON, "", "NUL byte in line"),
	BAD(PING("\\u0000"), BAD_JSON, "", "\\u0000 is not allowed"),
	BAD("{\"id\":\"a\\u0000\",\"type\":\"ping\"}", BAD_JSON, "", NULL),
	/* duplicate keys */
	BAD("{\"id\":\"a1\",\"id\":\"a2\",\"type\":\"ping\"}", BAD_JSON, "",
	    "duplicate"),
	BAD(PFX "\"ping\",\"type\":\"ping\"}", BAD_JSON, "", "duplicate"),
	/* invalid UTF-8 */
	BAD(PING("\xc0\xaf"), BAD_JSON, "", NULL),         /* overlong '/' */
	BAD(PING("\xe0\x80\xaf"), BAD_JSON, "", NULL),     /* overlong, 3 */
	BAD(PING("\xf0\x80\x80\xaf"), BAD_JSON, "", NULL), /* overlong, 4 */
	BAD(PING("a\x80z"), BAD_JSON, "", NULL),           /* lone cont. */
	BAD(PING("\xed\xa0\x80"), BAD_JSON, "", NULL),     /* U+D800 */
	BAD(PING("\xed\xbf\xbf"), BAD_JSON, "", NULL),     /* U+DFFF */
	BAD(PING("\xe4\xb8"), BAD_JSON, "", NULL),         /* truncated */
	BAD(PFX "\"ping\",\"x\":\"\xe4", BAD_JSON, "", NULL),
	BAD(PING("\xf4\x90\x80\x80"), BAD_JSON, "", NULL), /* > U+10FFFF */
	BAD(PING("\xff"), BAD_JSON, "", NULL),
	BAD("{\"\xc3\":1}", BAD_JSON, "", NULL),
	BAD(PING("\\ud800"), BAD_JSON, "", NULL), /* lone surrogate escape */
	/* numbers past what a double or an int64 holds */
	BAD(CREATED "\"child_age\":1e400}", BAD_JSON, "", NULL),
	BAD(CREATED "\"child_age\":-1e400}", BAD_JSON, "", NULL),
	BAD(CREATED "\"child_age\":99999999999999999999}", BAD_JSON, "", NULL),
	/* type */
	BAD("{\"id\":\"a1\"}", MISSING_FIELD, "a1", "type: required"),
	BAD(PFX "null}", MISSING_FIELD, "a1", "type: required"),
	BAD(PFX "7}", BAD_TYPE, "a1", "type: must be a string"),
	BAD(PFX "[\"ping\"]}", BAD_TYPE, "a1", "type: must be a string"),
	BAD(PFX "\"call.ringing\"}", BAD_TYPE, "a1",
	    "type: unknown event type \"call.ringing\""),
	BAD(PFX "\"PING\"}", BAD_TYPE, "a1", NULL),
	BAD(PFX "\"ping \"}", BAD_TYPE, "a1", NULL),
	BAD(PFX "\"\"}", BAD_TYPE, "a1", NULL),
	BAD("{\"type\":\"p\\u0007\xc3\xa9\"}", BAD_TYPE, "",
	    "type: unknown event type \"p???\""),
	/* id */
	BAD("{\"type\":\"ping\"}", MISSING_FIELD, "", "id: required for ping"),
	BAD("{\"type\":\"ping\",\"id\":null}", MISSING_FIELD, "", NULL),
	BAD("{\"type\":\"ping\",\"id\":\"\"}", BAD_VALUE, "", "id: must be"),
	BAD("{\"type\":\"ping\",\"id\":5}", BAD_VALUE, "", NULL),
	BAD("{\"type\":\"ping\",\"id\":[\"a1\"]}", BAD_VALUE, "", NULL),
	BAD("{\"type\":\"ping\",\"id\":\"a\\u0001\"}", BAD_VALUE, "", NULL),
	BAD("{\"type\":\"ping\",\"id\":\"a\\tb\"}", BAD_VALUE, "", NULL),
	BAD("{\"type\":\"ping\",\"id\":\"a\\u007f\"}", BAD_VALUE, "", NULL),
	BAD("{\"type\":\"ping\",\"id\":\"a\\u0085\"}", BAD_VALUE, "", NULL),
	BAD("{\"type\":\"call.ringing\",\"id\":\"a\\n\"}", BAD_TYPE, "", NULL),
	/* required fields, per type */
	BAD(PFX "\"call.offered\"}", MISSING_FIELD, "a1",
	    "call_id: required for call.offered"),
	BAD(PFX "\"call.answered\",\"operator\":\"o\"}", MISSING_FIELD, "a1",
	    "call_id: required for call.answered"),
	BAD(PFX "\"call.answered\",\"call_id\":\"c\"}", MISSING_FIELD, "a1",
	    "operator: required for call.answered"),
	BAD(PFX "\"call.abandoned\",\"wait_s\":3}", MISSING_FIELD, "a1",
	    "call_id: required for call.abandoned"),
	BAD(PFX "\"call.transferred\",\"call_id\":\"c\"}", MISSING_FIELD, "a1",
	    "to: required for call.transferred"),
	BAD(PFX "\"call.transferred\",\"to\":\"x\"}", MISSING_FIELD, "a1",
	    "call_id: required for call.transferred"),
	BAD(PFX "\"call.ended\"}", MISSING_FIELD, "a1",
	    "call_id: required for call.ended"),
	BAD(PFX "\"ticket.created\",\"call_id\":\"c\"}", MISSING_FIELD, "a1",
	    "ticket_id: required for ticket.created"),
	BAD(PFX "\"ticket.updated\",\"text\":\"n\"}", MISSING_FIELD, "a1",
	    "ticket_id: required for ticket.updated"),
	BAD(PFX "\"ticket.closed\",\"ticket_id\":\"t\"}", MISSING_FIELD, "a1",
	    "outcome: required for ticket.closed"),
	BAD(PFX "\"ticket.closed\",\"outcome\":\"resolved\"}", MISSING_FIELD,
	    "a1", "ticket_id: required for ticket.closed"),
	BAD(PFX "\"ticket.closed\",\"ticket_id\":\"t\",\"outcome\":null}",
	    MISSING_FIELD, "a1", "outcome: required for ticket.closed"),
	BAD("{\"type\":\"hello\"}", MISSING_FIELD, "",
	    "client: required for hello"),
	BAD("{\"type\":\"hello\",\"token\":\"s\"}", MISSING_FIELD, "", NULL),
	/* hello fields */
	BAD("{\"type\":\"hello\",\"client\":\"\"}", BAD_VALUE, "",
	    "client: must be"),
	BAD("{\"type\":\"hello\",\"client\":1}", BAD_VALUE, "", NULL),
	BAD("{\"type\":\"hello\",\"client\":\"a\\nb\"}", BAD_VALUE, "", NULL),
	BAD("{\"type\":\"hello\",\"client\":\"c\",\"token\":1}", BAD_VALUE, "",
	    "token: must be"),
	/* ids and strings: wrong kind, length, content */
	BAD(PFX "\"call.ended\",\"call_id\":7}", BAD_VALUE, "a1",
	    "call_id: must be a string of 1..128 bytes without control "
	    "characters"),
	BAD(PFX "\"call.ended\",\"call_id\":\"\"}", BAD_VALUE, "a1", NULL),
	BAD(PFX "\"ticket.closed\",\"ticket_id\":\"t\\u001b\","
	    "\"outcome\":\"resolved\"}", BAD_VALUE, "a1", "ticket_id: must be"),
	BAD(OFFERED "\"caller\":84912345678}", BAD_VALUE, "a1",
	    "caller: must be a string of at most 64 bytes"),
	BAD(OFFERED "\"caller\":\"01234567890123456789012345678901234567890"
	    "123456789012345678901234\"}", BAD_VALUE, "a1", "caller: must be"),
	BAD(OFFERED "\"line\":{}}", BAD_VALUE, "a1", "line: must be"),
	BAD(OFFERED "\"queue\":true}", BAD_VALUE, "a1", "queue: must be"),
	BAD(OFFERED "\"province\":1}", BAD_VALUE, "a1", "province: must be"),
	BAD(OFFERED "\"district\":false}", BAD_VALUE, "a1", "district: must be"),
	BAD(OFFERED "\"lang\":[\"vi\"]}", BAD_VALUE, "a1", "lang: must be"),
	BAD(PFX "\"call.answered\",\"call_id\":\"c\",\"operator\":\"\"}",
	    BAD_VALUE, "a1", "operator: must be a string of 1..128 bytes"),
	BAD(PFX "\"call.answered\",\"call_id\":\"c\",\"operator\":12}",
	    BAD_VALUE, "a1", "operator: must be"),
	BAD(PFX "\"call.transferred\",\"call_id\":\"c\",\"to\":[]}", BAD_VALUE,
	    "a1", "to: must be"),
	BAD(PFX "\"call.ended\",\"call_id\":\"c\",\"cause\":0}", BAD_VALUE,
	    "a1", "cause: must be"),
	BAD(CREATED "\"text\":1}", BAD_VALUE, "a1", "text: must be"),
	BAD(CREATED "\"child_gender\":0}", BAD_VALUE, "a1",
	    "child_gender: must be"),
	BAD(PFX "\"ticket.closed\",\"ticket_id\":\"t\",\"outcome\":\"resolved\","
	    "\"referred_to\":1}", BAD_VALUE, "a1", "referred_to: must be"),
	/* ivr */
	BAD(OFFERED "\"ivr\":\"123\"}", BAD_VALUE, "a1", "ivr: must be"),
	BAD(OFFERED "\"ivr\":[\"1\",\"x\"]}", BAD_VALUE, "a1", "ivr: must be"),
	BAD(OFFERED "\"ivr\":[\"123456789\"]}", BAD_VALUE, "a1", NULL),
	BAD(OFFERED "\"ivr\":[\"\"]}", BAD_VALUE, "a1", NULL),
	BAD(OFFERED "\"ivr\":[10]}", BAD_VALUE, "a1", NULL),
	BAD(OFFERED "\"ivr\":[-1]}", BAD_VALUE, "a1", NULL),
	BAD(OFFERED "\"ivr\":[1.5]}", BAD_VALUE, "a1", NULL),
	BAD(OFFERED "\"ivr\":[[1]]}", BAD_VALUE, "a1", NULL),
	BAD(OFFERED "\"ivr\":[\"\xd9\xa1\"]}", BAD_VALUE, "a1", NULL),
	/* numbers */
	BAD(PFX "\"call.abandoned\",\"call_id\":\"c\",\"wait_s\":\"30\"}",
	    BAD_VALUE, "a1", "wait_s: must be a number 0..604800"),
	BAD(PFX "\"call.abandoned\",\"call_id\":\"c\",\"wait_s\":-1}", BAD_VALUE,
	    "a1", NULL),
	BAD(PFX "\"call.abandoned\",\"call_id\":\"c\",\"wait_s\":604800.5}",
	    BAD_VALUE, "a1", NULL),
	BAD(PFX "\"call.ended\",\"call_id\":\"c\",\"duration_s\":true}",
	    BAD_VALUE, "a1", "duration_s: must be"),
	BAD(PFX "\"call.ended\",\"call_id\":\"c\",\"duration_s\":1e300}",
	    BAD_VALUE, "a1", NULL),
	BAD(CREATED "\"child_age\":-1}", BAD_VALUE, "a1",
	    "child_age: must be an integer 0..30"),
	BAD(CREATED "\"child_age\":12.5}", BAD_VALUE, "a1",
	    "child_age: must be an integer 0..30"),
	BAD(CREATED "\"child_age\":12.0}", BAD_VALUE, "a1", NULL),
	BAD(CREATED "\"child_age\":31}", BAD_VALUE, "a1", NULL),
	BAD(CREATED "\"child_age\":\"12\"}", BAD_VALUE, "a1", NULL),
	BAD(CREATED "\"child_age\":9223372036854775807}", BAD_VALUE, "a1", NULL),
	/* category, tags, outcome */
	BAD(CREATED "\"category\":\"Abuse\"}", BAD_VALUE, "a1",
	    "category: must be 1..64 characters from a-z 0-9 _ ."),
	BAD(CREATED "\"category\":\"abuse sexual\"}", BAD_VALUE, "a1", NULL),
	BAD(CREATED "\"category\":\"\"}", BAD_VALUE, "a1", NULL),
	BAD(CREATED "\"category\":[\"abuse\"]}", BAD_VALUE, "a1", NULL),
	BAD(CREATED "\"tags\":\"school\"}", BAD_VALUE, "a1",
	    "tags: must be an array of at most 32 strings of 1..64 bytes"),
	BAD(CREATED "\"tags\":[\"a\",1]}", BAD_VALUE, "a1", NULL),
	BAD(CREATED "\"tags\":[\"\"]}", BAD_VALUE, "a1", NULL),
	BAD(PFX "\"ticket.updated\",\"ticket_id\":\"t\",\"tags\":[null]}",
	    BAD_VALUE, "a1", NULL),
	BAD(PFX "\"ticket.closed\",\"ticket_id\":\"t\",\"outcome\":\"fixed\"}",
	    BAD_VALUE, "a1", "outcome: must be one of referred, counselled, "
	    "resolved, no_action, duplicate"),
	BAD(PFX "\"ticket.closed\",\"ticket_id\":\"t\",\"outcome\":1}",
	    BAD_VALUE, "a1", NULL),
	BAD(PFX "\"ticket.closed\",\"ticket_id\":\"t\",\"outcome\":\"Referred\"}",
	    BAD_VALUE, "a1", NULL),
	/* ts */
	BAD(TS("2025-02-30T10:00:00Z"), BAD_VALUE, "a1", "ts: must be"),
	BAD(TS("2025-02-29T10:00:00Z"), BAD_VALUE, "a1", NULL),
	BAD(TS("2025-06-01T10:00:00"), BAD_VALUE, "a1", NULL),
	BAD(TS("2025-06-01T24:00:00Z"), BAD_VALUE, "a1", NULL),
	BAD(TS("2025-06-01 10:00:00Z"), BAD_VALUE, "a1", NULL),
	BAD(TS("2025-06-01T10:00:00+24:00"), BAD_VALUE, "a1", NULL),
	BAD(TS("1969-12-31T23:59:59Z"), BAD_VALUE, "a1", NULL),
	BAD(TS("2025-06-01T10:00:00.1234567890Z"), BAD_VALUE, "a1", NULL),
	BAD(PFX "\"ping\",\"ts\":1748766600}", BAD_VALUE, "a1", NULL),
};

/* Inputs too long to write out. */
struct bad_gen {
	char *(*make)(size_t *len);
	enum proto_error code;
	const char *id;
	const char *detail;
};

static char *
gen_depth17(size_t *len)
{
	return nested(17, len);
}

static char *
gen_id129(size_t *len)
{
	return repeat_into("{\"type\":\"ping\",\"id\":\"", 'i', 129, "\"}", len);
}

static char *
gen_call_id129(size_t *len)
{
	return repeat_into(PFX "\"call.ended\",\"call_id\":\"", 'c', 129, "\"}",
	    len);
}

static char *
gen_text32769(size_t *len)
{
	return repeat_into(CREATED "\"text\":\"", 'x', 32769, "\"}", len);
}

static char *
gen_token257(size_t *len)
{
	return repeat_into("{\"type\":\"hello\",\"client\":\"c\",\"token\":\"",
	    't', 257, "\"}", len);
}

static char *
gen_category65(size_t *len)
{
	return repeat_into(CREATED "\"category\":\"", 'a', 65, "\"}", len);
}

static char *
list33(const char *head, const char *elem, size_t *len)
{
	char *s, *p;
	size_t n = strlen(head) + 33 * (strlen(elem) + 1) + 3;

	p = s = xmalloc(n);
	p += sprintf(p, "%s[", head);
	for (int i = 0; i < 33; i++)
		p += sprintf(p, "%s%s", i ? "," : "", elem);
	p += sprintf(p, "]}");
	*len = (size_t)(p - s);
	return s;
}

static char *
gen_tags33(size_t *len)
{
	return list33(CREATED "\"tags\":", "\"t\"", len);
}

static char *
gen_ivr33(size_t *len)
{
	return list33(OFFERED "\"ivr\":", "1", len);
}

static char *
gen_tag65(size_t *len)
{
	return repeat_into(CREATED "\"tags\":[\"", 'g', 65, "\"]}", len);
}

static const struct bad_gen bad_generated[] = {
	{ gen_depth17, PROTO_BAD_JSON, "", "nesting deeper than 16" },
	{ gen_id129, PROTO_BAD_VALUE, "", "id: must be" },
	{ gen_call_id129, PROTO_BAD_VALUE, "a1", "call_id: must be" },
	{ gen_text32769, PROTO_BAD_VALUE, "a1",
	    "text: must be a string of at most 32768 bytes" },
	{ gen_token257, PROTO_BAD_VALUE, "", "token: must be" },
	{ gen_category65, PROTO_BAD_VALUE, "a1", "category: must be" },
	{ gen_tags33, PROTO_BAD_VALUE, "a1", "tags: must be" },
	{ gen_tag65, PROTO_BAD_VALUE, "a1", "tags: must be" },
	{ gen_ivr33, PROTO_BAD_VALUE, "a1", "ivr: must be" },
};

static int
printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	}
	return 1;
}

/* The nack built from a refusal is one line of valid JSON naming it. */
static void
check_nack(const struct proto_fail *fail)
{
	char *nack = protocol_nack(fail->id, fail->code, fail->detail);
	size_t n = strlen(nack);
	json_t *o;

	assert_true(n > 0 && nack[n - 1] == '\n');
	assert_null(memchr(nack, '\n', n - 1));
	o = json_loads(nack, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "error")),
	    protocol_error_name(fail->code));
	if (fail->id[0] == '\0')
		assert_true(json_is_null(json_object_get(o, "nack")));
	else
		assert_string_equal(json_string_value(json_object_get(o, "nack")),
		    fail->id);
	json_decref(o);
	free(nack);
}

static int
check_bad(size_t i, const char *in, size_t len, enum proto_error code,
    const char *id, const char *detail)
{
	struct event ev;
	struct proto_fail fail;
	int rc = protocol_parse(in, len, &lim16, &ev, &fail);

	if (rc != -1 || fail.code != code || strcmp(fail.id, id) != 0 ||
	    (detail != NULL && strstr(fail.detail, detail) == NULL)) {
		print_error("bad input %zu (%.60s): rc %d, %s id \"%s\" \"%s\"; "
		    "want %s id \"%s\" \"%s\"\n", i, in, rc,
		    protocol_error_name(fail.code), fail.id, fail.detail,
		    protocol_error_name(code), id, detail ? detail : "");
		if (rc == 0)
			protocol_event_clear(&ev);
		return 1;
	}
	/* a refused line leaves nothing to release and a safe detail */
	assert_null(ev.obj);
	assert_true(fail.detail[0] != '\0' && printable(fail.detail));
	check_nack(&fail);
	return 0;
}

static void
test_bad_lines(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < nitems(bad_lines); i++) {
		const struct bad *b = &bad_lines[i];

		failed += check_bad(i, b->in, b->len, b->code, b->id, b->detail);
	}
	assert_int_equal(failed, 0);
}

static void
test_bad_generated(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < nitems(bad_generated); i++) {
		const struct bad_gen *b = &bad_generated[i];
		size_t len;
		char *in = b->make(&len);

		failed += check_bad(i, in, len, b->code, b->id, b->detail);
		free(in);
	}
	assert_int_equal(failed, 0);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 100000 levels must be refused by the scan, not crash jansson's stack. */
static void
test_deep_nesting_is_cheap(void **state)
{
	struct event ev;
	struct proto_fail fail;
	size_t slen, olen;
	char *s = repeat_into("", '[', 100000, "", &slen);
	char *o = repeat_into("{\"a\":", '{', 100000, "", &olen);
	double t0 = now();

	assert_int_equal(protocol_parse(s, slen, &lim16, &ev, &fail), -1);
	assert_int_equal(fail.code, PROTO_BAD_JSON);
	assert_string_equal(fail.detail, "nesting deeper than 16");
	assert_int_equal(protocol_parse(o, olen, &lim16, &ev, &fail), -1);
	assert_string_equal(fail.detail, "nesting deeper than 16");
	/* even with a limit nobody should set, jansson's own cap holds */
	assert_int_equal(protocol_parse(s, slen,
	    &(struct proto_limits){ .max_depth = 1000000 }, &ev, &fail), -1);
	assert_int_equal(fail.code, PROTO_BAD_JSON);
	assert_true(now() - t0 < 2.0);
	free(s);
	free(o);
}

static void
test_bad_detail_is_ascii(void **state)
{
	static const char in[] = "{\"id\":\"a1\",\"type\":\"ping\",\"x\":\xff\xfe}";
	struct event ev;
	struct proto_fail fail;

	assert_int_equal(protocol_parse(in, sizeof(in) - 1, &lim16, &ev, &fail),
	    -1);
	assert_int_equal(fail.code, PROTO_BAD_JSON);
	assert_true(printable(fail.detail));
	assert_non_null(strstr(fail.detail, "byte "));
}

/* --- RFC 3339 ------------------------------------------------------------ */

static void
test_rfc3339(void **state)
{
	static const char *const good[] = {
		"2025-06-01T08:30:00Z",
		"2025-06-01t08:30:00z",
		"2025-06-01T08:30:00+07:00",
		"2025-06-01T08:30:00.5-05:30",
		"2024-02-29T00:00:00Z",
		"2000-02-29T23:59:60-00:00",
		"1970-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999+23:59",
		"2025-04-30T12:00:00Z",
	};
	static const char *const bad[] = {
		"", "x", "2025-06-01", "2025-06-01T08:30:00",
		"2025-02-30T10:00:00Z", "2025-02-29T10:00:00Z",
		"1900-02-29T10:00:00Z", "2025-04-31T10:00:00Z",
		"2025-13-01T10:00:00Z", "2025-00-01T10:00:00Z",
		"2025-06-00T10:00:00Z", "2025-06-01T24:00:00Z",
		"2025-06-01T08:60:00Z", "2025-06-01T08:30:61Z",
		"2025-06-01 08:30:00Z", "2025-06-01_08:30:00Z",
		"1969-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
		"2025-06-01T08:30:00+24:00", "2025-06-01T08:30:00+07:60",
		"2025-06-01T08:30:00+0700", "2025-06-01T08:30:00+07",
		"2025-06-01T08:30:00.Z", "2025-06-01T08:30:00.1234567890Z",
		"2025-06-01T08:30:00Zjunk", "2025-06-01T08:30:00+07:00 ",
		"2025-6-01T08:30:00Z", "2025-06-01T8:30:00Z",
		" 2025-06-01T08:30:00Z", "2025-06-01T08:30:00UTC",
		"+2025-06-01T08:30:00Z", "2025-06-01T08:30Z",
	};

	for (size_t i = 0; i < nitems(good); i++) {
		if (protocol_check_rfc3339(good[i]) != 0)
			fail_msg("refused %s", good[i]);
	}
	for (size_t i = 0; i < nitems(bad); i++) {
		if (protocol_check_rfc3339(bad[i]) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_not_equal(protocol_check_rfc3339(NULL), 0);
}

/* --- replies, byte for byte ---------------------------------------------- */

static void
assert_reply(char *got, const char *want)
{
	assert_string_equal(got, want);
	free(got);
}

static void
test_reply_hello(void **state)
{
	assert_reply(protocol_hello(), "{\"hello\":\"hotline111\",\"proto\":1}\n");
}

static void
test_reply_ack(void **state)
{
	json_t *rules = json_pack("[ss]", "drowning", "under_16");
	struct proto_ack ack = { .id = "ev-1", .case_id = 123, .priority = 2,
		.category = "abuse.sexual", .rules = rules };

	assert_reply(protocol_ack(&ack), "{\"ack\":\"ev-1\",\"case\":123,"
	    "\"priority\":2,\"category\":\"abuse.sexual\","
	    "\"rules\":[\"drowning\",\"under_16\"]}\n");
	/* rules are borrowed: still ours */
	assert_int_equal(rules->refcount, 1);
	json_decref(rules);

	ack = (struct proto_ack){ .id = "ev-2", .case_id = INT64_C(9007199254740993),
		.priority = 0, .dup = 1 };
	assert_reply(protocol_ack(&ack), "{\"ack\":\"ev-2\",\"case\":"
	    "9007199254740993,\"priority\":0,\"category\":null,\"rules\":[],"
	    "\"dup\":true}\n");

	/* spooled: no case yet; the event's own triage; never dup */
	rules = json_pack("[s]", "ivr-trafficking");
	ack = (struct proto_ack){ .id = "ev-3", .case_id = 77, .priority = 1,
		.category = "trafficking", .rules = rules, .dup = 1, .spooled = 1 };
	assert_reply(protocol_ack(&ack), "{\"ack\":\"ev-3\",\"case\":null,"
	    "\"priority\":1,\"category\":\"trafficking\","
	    "\"rules\":[\"ivr-trafficking\"],\"spooled\":true}\n");
	json_decref(rules);
	ack = (struct proto_ack){ .id = "ev-4", .priority = 4, .spooled = 1 };
	assert_reply(protocol_ack(&ack), "{\"ack\":\"ev-4\",\"case\":null,"
	    "\"priority\":4,\"category\":null,\"rules\":[],\"spooled\":true}\n");

	ack = (struct proto_ack){ .id = "q\"\\\x01/\xc4\x91", .case_id = 1,
		.priority = 1 };
	assert_reply(protocol_ack(&ack), "{\"ack\":\"q\\\"\\\\\\u0001/\xc4\x91\","
	    "\"case\":1,\"priority\":1,\"category\":null,\"rules\":[]}\n");
}

static void
test_reply_pong(void **state)
{
	assert_reply(protocol_pong("p-1"), "{\"ack\":\"p-1\",\"pong\":true}\n");
	assert_reply(protocol_pong("a\nb"), "{\"ack\":\"a\\nb\",\"pong\":true}\n");
}

static void
test_reply_nack(void **state)
{
	assert_reply(protocol_nack("ev-9", PROTO_MISSING_FIELD,
	    "call_id: required for call.answered"),
	    "{\"nack\":\"ev-9\",\"error\":\"missing_field\","
	    "\"detail\":\"call_id: required for call.answered\"}\n");
	assert_reply(protocol_nack(NULL, PROTO_BAD_JSON, "NUL byte in line"),
	    "{\"nack\":null,\"error\":\"bad_json\",\"detail\":\"NUL byte in "
	    "line\"}\n");
	assert_reply(protocol_nack("", PROTO_TOO_LONG, "line over 65536 bytes"),
	    "{\"nack\":null,\"error\":\"too_long\",\"detail\":\"line over "
	    "65536 bytes\"}\n");
	assert_reply(protocol_nack("x", PROTO_UNAVAILABLE, NULL),
	    "{\"nack\":\"x\",\"error\":\"unavailable\",\"detail\":\"\"}\n");
	assert_reply(protocol_nack("x", PROTO_BAD_VALUE, "near '\"\\\t'"),
	    "{\"nack\":\"x\",\"error\":\"bad_value\",\"detail\":"
	    "\"near '\\\"\\\\\\t'\"}\n");
	/* a detail that is not UTF-8 is cut down rather than lost */
	assert_reply(protocol_nack("x", PROTO_UNAUTHORIZED, "bad \xff token"),
	    "{\"nack\":\"x\",\"error\":\"unauthorized\","
	    "\"detail\":\"bad ? token\"}\n");
}

static void
test_reply_welcome(void **state)
{
	assert_reply(protocol_welcome("asterisk-hn"),
	    "{\"welcome\":\"asterisk-hn\"}\n");
	assert_reply(protocol_welcome("t\xe1\xbb\x95ng \"\xc4\x91\xc3\xa0i\""),
	    "{\"welcome\":\"t\xe1\xbb\x95ng \\\"\xc4\x91\xc3\xa0i\\\"\"}\n");
}

static void
test_names(void **state)
{
	static const char *const types[] = { "call.offered", "call.answered",
		"call.abandoned", "call.transferred", "call.ended",
		"ticket.created", "ticket.updated", "ticket.closed", "ping",
		"hello" };
	static const char *const errors[] = { "bad_json", "too_long",
		"bad_type", "missing_field", "bad_value", "unauthorized",
		"unavailable" };

	for (size_t i = 0; i < nitems(types); i++)
		assert_string_equal(protocol_type_name((enum event_type)i),
		    types[i]);
	for (size_t i = 0; i < nitems(errors); i++)
		assert_string_equal(protocol_error_name(
		    (enum proto_error)(i + 1)), errors[i]);
}

/* --- ownership ----------------------------------------------------------- */

static void
test_event_clear(void **state)
{
	static const char line[] = "{\"id\":\"ev-c\",\"type\":\"call.offered\","
	    "\"call_id\":\"c\",\"ivr\":[\"1\",2],\"vendor\":{\"deep\":[[1]]}}";
	static const char refused[] = "{\"id\":\"e\",\"type\":\"call.offered\","
	    "\"call_id\":\"c\",\"ivr\":[\"x\"],\"big\":[1,2,3]}";
	struct event ev;
	struct proto_fail fail;
	json_t *obj;

	parse_ok(line, &ev);
	obj = ev.obj;
	assert_int_equal(obj->refcount, 1);
	json_incref(obj);
	protocol_event_clear(&ev);
	/* clear dropped exactly the one reference the event held */
	assert_int_equal(obj->refcount, 1);
	json_decref(obj);
	assert_null(ev.obj);
	assert_null(ev.id);
	assert_null(ev.call_id);
	assert_null(ev.ivr);
	assert_int_equal(ev.child_age, -1);
	/* clearing twice, or a cleared event, is harmless */
	protocol_event_clear(&ev);
	protocol_event_clear(NULL);

	/* a refusal after parsing (here: bad ivr) must free the object too */
	assert_int_equal(protocol_parse(refused, sizeof(refused) - 1, &lim16,
	    &ev, &fail), -1);
	assert_int_equal(fail.code, PROTO_BAD_VALUE);
	assert_string_equal(fail.id, "e");
	assert_null(ev.obj);
	assert_null(ev.id);
	assert_null(ev.call_id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_offered),
		cmocka_unit_test(test_call_answered),
		cmocka_unit_test(test_call_abandoned),
		cmocka_unit_test(test_call_transferred),
		cmocka_unit_test(test_call_ended),
		cmocka_unit_test(test_ticket_created),
		cmocka_unit_test(test_ticket_updated),
		cmocka_unit_test(test_ticket_closed),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_trailing_cr),
		cmocka_unit_test(test_null_is_absent),
		cmocka_unit_test(test_other_fields_ignored),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_limits_inclusive),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_generated),
		cmocka_unit_test(test_deep_nesting_is_cheap),
		cmocka_unit_test(test_bad_detail_is_ascii),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_reply_hello),
		cmocka_unit_test(test_reply_ack),
		cmocka_unit_test(test_reply_pong),
		cmocka_unit_test(test_reply_nack),
		cmocka_unit_test(test_reply_welcome),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_event_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
