/*
 * test_cti.c: the Zammad CTI webhook's mapping (request fields to bridge
 * events) and its configuration check. No socket: the HTTP side is
 * tested end to end by tests/integration/test_cti.py.
 *
 * Every event any test produces must pass protocol_parse() as it is,
 * since that is what the daemon checks before storing it.
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
#include "cti.h"
#include "protocol.h"
#include "xmalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static const char *const FORM = "application/x-www-form-urlencoded";
static const char *const JSON = "application/json";

/* --- helpers ------------------------------------------------------------- */

static void
assert_valid(json_t *events)
{
	static const struct proto_limits lim = { .max_depth = 16 };
	size_t i;
	json_t *e;

	json_array_foreach(events, i, e) {
		char *line = json_dumps(e, JSON_COMPACT);
		struct event ev;
		struct proto_fail fail;

		assert_non_null(line);
		if (protocol_parse(line, strlen(line), &lim, &ev, &fail) != 0) {
			print_error("does not validate: %s: %s\n", line, fail.detail);
			fail();
		}
		assert_true(strlen(ev.id) <= PROTOCOL_MAX_ID);
		assert_null(ev.ts); /* the daemon stamps it */
		protocol_event_clear(&ev);
		free(line);
	}
}

/* Maps and expects n events, which are checked; res must be cleared. */
static json_t *
map_ok(struct cti_result *res, const char *ctype, const char *body, const char *query,
    size_t n)
{
	cti_map(ctype, body, strlen(body), query, res);
	if (res->verdict != CTI_EVENTS) {
		print_error("refused (%d): %s\n", res->verdict, res->detail);
		fail();
	}
	assert_int_equal(json_array_size(res->events), n);
	assert_valid(res->events);
	return res->events;
}

/* The one event of a request. */
static json_t *
one(struct cti_result *res, const char *ctype, const char *body)
{
	return json_array_get(map_ok(res, ctype, body, NULL, 1), 0);
}

static const char *
str(json_t *ev, const char *name)
{
	return json_string_value(json_object_get(ev, name));
}

static void
assert_refused(const char *ctype, const char *body, enum cti_verdict verdict,
    enum proto_error error)
{
	struct cti_result res;

	cti_map(ctype, body, strlen(body), NULL, &res);
	if (res.verdict != verdict || res.error != error) {
		print_error("%s: got verdict %d error %d (%s)\n", body, res.verdict, res.error,
		    res.detail);
		fail();
	}
	assert_null(res.events);
	assert_true(res.detail[0] != '\0');
	for (const char *p = res.detail; *p != '\0'; p++)
		assert_true(*p >= 0x20 && *p <= 0x7e);
	cti_result_clear(&res);
}

/* --- each event, form-encoded --------------------------------------------- */

static void
test_new_call_form(void **state)
{
	struct cti_result res;
	json_t *ev = one(&res, FORM,
	    "event=newCall&from=%2B84912345678&to=111&direction=in&callId=abc-1"
	    "&queue=bao-ve-tre-em&user%5B%5D=Lan&user[]=Tuan");

	assert_string_equal(str(ev, "id"), "cti:abc-1:offered");
	assert_string_equal(str(ev, "type"), "call.offered");
	assert_string_equal(str(ev, "call_id"), "abc-1");
	assert_string_equal(str(ev, "caller"), "+84912345678");
	assert_string_equal(str(ev, "line"), "111");
	assert_string_equal(str(ev, "queue"), "bao-ve-tre-em");
	/* nothing the bridge protocol does not define */
	assert_int_equal(json_object_size(ev), 6);
	cti_result_clear(&res);
}

static void
test_answer_operator(void **state)
{
	static const struct {
		const char *body, *operator_name;
	} cases[] = {
		{ "answeringNumber=lan&user[]=Nguyen+Thi+Lan", "lan" },
		{ "user[]=Lan&user[]=Tuan", "Lan" },
		{ "user=Lan", "Lan" },
		{ "answeringNumber=&user[]=Tuan", "Tuan" },
		{ "", CTI_NO_OPERATOR },
		{ "user[]=&answeringNumber=", CTI_NO_OPERATOR },
	};

	for (size_t i = 0; i < nitems(cases); i++) {
		struct cti_result res;
		char *body;
		json_t *ev;

		xasprintf(&body, "event=answer&direction=in&callId=c%zu&%s", i, cases[i].body);
		ev = one(&res, FORM, body);
		assert_string_equal(str(ev, "type"), "call.answered");
		assert_string_equal(str(ev, "operator"), cases[i].operator_name);
		assert_true(strstr(str(ev, "id"), ":answered") != NULL);
		cti_result_clear(&res);
		free(body);
	}
}

static void
test_hangup_causes(void **state)
{
	static const struct {
		const char *cause;
		int abandoned;
	} cases[] = {
		{ "normalClearing", 0 }, { "busy", 0 }, { "congestion", 0 }, { "forwarded", 0 },
		{ "cancel", 1 }, { "noAnswer", 1 }, { "Cancel", 0 },
	};

	for (size_t i = 0; i < nitems(cases); i++) {
		struct cti_result res;
		char *body;
		json_t *out, *end;

		xasprintf(&body, "event=hangup&callId=h1&direction=in&cause=%s", cases[i].cause);
		out = map_ok(&res, FORM, body, NULL, cases[i].abandoned ? 2 : 1);
		if (cases[i].abandoned) {
			assert_string_equal(str(json_array_get(out, 0), "type"), "call.abandoned");
			assert_string_equal(str(json_array_get(out, 0), "id"), "cti:h1:abandoned");
		}
		end = json_array_get(out, json_array_size(out) - 1);
		assert_string_equal(str(end, "type"), "call.ended");
		assert_string_equal(str(end, "id"), "cti:h1:ended");
		assert_string_equal(str(end, "cause"), cases[i].cause);
		cti_result_clear(&res);
		free(body);
	}
}

static void
test_hangup_without_cause(void **state)
{
	struct cti_result res;
	json_t *ev = one(&res, FORM, "event=hangup&callId=h2");

	assert_string_equal(str(ev, "type"), "call.ended");
	assert_null(json_object_get(ev, "cause"));
	cti_result_clear(&res);
}

/* --- JSON ------------------------------------------------------------------ */

static void
test_json_events(void **state)
{
	struct cti_result res;
	json_t *ev;

	ev = one(&res, JSON,
	    "{\"event\":\"newCall\",\"from\":\"0356781234\",\"to\":\"111\",\"direction\":\"in\","
	    "\"callId\":\"f4ebd2be-7b9a\",\"user\":[\"Lan\",\"Tuan\"],\"queue\":\"B\\u1ea3o v\\u1ec7\"}");
	assert_string_equal(str(ev, "id"), "cti:f4ebd2be-7b9a:offered");
	assert_string_equal(str(ev, "caller"), "0356781234");
	assert_string_equal(str(ev, "queue"), "B\xe1\xba\xa3o v\xe1\xbb\x87");
	cti_result_clear(&res);

	ev = one(&res, JSON, "{\"event\":\"answer\",\"callId\":\"j1\",\"user\":[\"Lan\",\"Tuan\"]}");
	assert_string_equal(str(ev, "operator"), "Lan");
	cti_result_clear(&res);
	ev = one(&res, JSON, "{\"event\":\"answer\",\"callId\":\"j1\",\"user\":\"Tuan\"}");
	assert_string_equal(str(ev, "operator"), "Tuan");
	cti_result_clear(&res);
	ev = one(&res, JSON, "{\"event\":\"answer\",\"callId\":\"j1\",\"user\":[]}");
	assert_string_equal(str(ev, "operator"), CTI_NO_OPERATOR);
	cti_result_clear(&res);

	map_ok(&res, JSON, " \r\n{\"event\":\"hangup\",\"callId\":\"j1\",\"cause\":\"cancel\"} ",
	    NULL, 2);
	cti_result_clear(&res);
}

/* Numbers and ids sent unquoted are taken as their digits; null is absent. */
static void
test_json_numbers_and_null(void **state)
{
	struct cti_result res;
	json_t *ev = one(&res, JSON,
	    "{\"event\":\"newCall\",\"callId\":123456789,\"from\":84912345678,\"to\":null,"
	    "\"queue\":null,\"extra\":{\"nested\":[1,2,{}]}}");

	assert_string_equal(str(ev, "call_id"), "123456789");
	assert_string_equal(str(ev, "caller"), "84912345678");
	assert_null(json_object_get(ev, "line"));
	cti_result_clear(&res);
}

static void
test_json_refusals(void **state)
{
	static const struct {
		const char *body;
		enum proto_error error;
	} cases[] = {
		{ "{\"event\":\"newCall\",\"callId\":", PROTO_BAD_JSON },
		{ "[\"newCall\"]", PROTO_BAD_JSON },
		{ "\"newCall\"", PROTO_BAD_JSON },
		{ "{\"event\":\"newCall\",\"callId\":\"a\",\"callId\":\"b\"}", PROTO_BAD_JSON },
		{ "{\"event\":\"newCall\",\"callId\":\"\xff\xfe\"}", PROTO_BAD_JSON },
		{ "{\"event\":\"newCall\",\"callId\":\"a\\u0000b\"}", PROTO_BAD_JSON },
		{ "{\"event\":\"newCall\",\"callId\":{\"a\":1}}", PROTO_BAD_TYPE },
		{ "{\"event\":\"newCall\",\"callId\":1.5}", PROTO_BAD_TYPE },
		{ "{\"event\":\"newCall\",\"callId\":\"a\",\"from\":true}", PROTO_BAD_TYPE },
		{ "{\"event\":[\"newCall\"],\"callId\":\"a\"}", PROTO_BAD_TYPE },
		{ "{\"event\":\"answer\",\"callId\":\"a\",\"user\":[true]}", PROTO_BAD_TYPE },
		{ "{\"event\":\"answer\",\"callId\":\"a\",\"user\":{\"n\":\"Lan\"}}", PROTO_BAD_TYPE },
		{ "{\"callId\":\"a\"}", PROTO_MISSING_FIELD },
		{ "{\"event\":\"newCall\"}", PROTO_MISSING_FIELD },
		{ "{\"event\":\"newCall\",\"callId\":\"\"}", PROTO_MISSING_FIELD },
		{ "{\"event\":\"NEWCALL\",\"callId\":\"a\"}", PROTO_BAD_VALUE },
	};

	for (size_t i = 0; i < nitems(cases); i++)
		assert_refused(JSON, cases[i].body, CTI_BAD, cases[i].error);
}

/* --- forms ------------------------------------------------------------------- */

static void
test_url_decoding(void **state)
{
	static const struct {
		const char *queue, *want;
	} cases[] = {
		{ "B%E1%BA%A3o+v%E1%BB%87+tr%E1%BA%BB+em", "B\xe1\xba\xa3o v\xe1\xbb\x87 tr\xe1\xba\xbb em" },
		{ "%C4%91u%E1%BB%91i%20n%C6%B0%E1%BB%9Bc", "\xc4\x91u\xe1\xbb\x91i n\xc6\xb0\xe1\xbb\x9b" "c" },
		{ "a%zzb", "a%zzb" },
		{ "100%", "100%" },
		{ "x%4", "x%4" },
		{ "a=b=c", "a=b=c" },
		{ "%2B%26%3D", "+&=" },
		{ "a%2", "a%2" },
	};

	for (size_t i = 0; i < nitems(cases); i++) {
		struct cti_result res;
		char *body;
		json_t *ev;

		xasprintf(&body, "event=newCall&callId=u&queue=%s", cases[i].queue);
		ev = one(&res, FORM, body);
		assert_string_equal(str(ev, "queue"), cases[i].want);
		cti_result_clear(&res);
		free(body);
	}
}

static void
test_form_shapes(void **state)
{
	struct cti_result res;
	json_t *ev;

	/* empty pairs, a key without '=', an unknown key, the first value wins */
	ev = one(&res, FORM, "&&event=newCall&&callId=first&callId=second&nonsense&to=111&");
	assert_string_equal(str(ev, "call_id"), "first");
	cti_result_clear(&res);
	/* keys are case-sensitive, as Zammad's */
	assert_refused(FORM, "event=newCall&callid=a", CTI_BAD, PROTO_MISSING_FIELD);
	assert_refused(FORM, "", CTI_BAD, PROTO_MISSING_FIELD);
	assert_refused(FORM, "=&=&&", CTI_BAD, PROTO_MISSING_FIELD);
	assert_refused(FORM, "event=ring&callId=a", CTI_BAD, PROTO_BAD_VALUE);
	assert_refused(FORM, "event=newCall&callId=a&direction=sideways", CTI_BAD,
	    PROTO_BAD_VALUE);
}

static void
test_direction(void **state)
{
	struct cti_result res;

	assert_refused(FORM, "event=newCall&callId=a&direction=out", CTI_IGNORED, PROTO_OK);
	assert_refused(FORM, "event=hangup&callId=a&direction=out&cause=cancel", CTI_IGNORED,
	    PROTO_OK);
	/* the event and callId are checked first even for an outbound call */
	assert_refused(FORM, "event=newCall&direction=out", CTI_BAD, PROTO_MISSING_FIELD);
	/* no direction: a call to the hotline */
	one(&res, FORM, "event=newCall&callId=a");
	cti_result_clear(&res);
	one(&res, FORM, "event=newCall&callId=a&direction=");
	cti_result_clear(&res);
}

static void
test_content_types(void **state)
{
	struct cti_result res;

	one(&res, "application/json; charset=utf-8", "{\"event\":\"newCall\",\"callId\":\"a\"}");
	cti_result_clear(&res);
	one(&res, " Application/X-WWW-Form-Urlencoded;charset=UTF-8", "event=newCall&callId=a");
	cti_result_clear(&res);
	/* no type: guessed from the body */
	one(&res, NULL, "{\"event\":\"newCall\",\"callId\":\"a\"}");
	cti_result_clear(&res);
	one(&res, "", "event=newCall&callId=a");
	cti_result_clear(&res);
	/* a form body sent as JSON is bad JSON, and the other way round no event */
	assert_refused(JSON, "event=newCall&callId=a", CTI_BAD, PROTO_BAD_JSON);
	assert_refused(FORM, "{\"event\":\"newCall\",\"callId\":\"a\"}", CTI_BAD,
	    PROTO_MISSING_FIELD);
	assert_refused("text/plain", "event=newCall&callId=a", CTI_UNSUPPORTED, PROTO_BAD_VALUE);
	assert_refused("application/jsonx", "{}", CTI_UNSUPPORTED, PROTO_BAD_VALUE);
	assert_refused("multipart/form-data; boundary=x", "--x", CTI_UNSUPPORTED,
	    PROTO_BAD_VALUE);
}

/* Zammad's PBXs may put everything in the URL; the body wins where both say. */
static void
test_query_string(void **state)
{
	struct cti_result res;
	json_t *ev;

	ev = json_array_get(map_ok(&res, "text/plain", "", "event=newCall&callId=q1&to=111", 1),
	    0);
	assert_string_equal(str(ev, "call_id"), "q1");
	cti_result_clear(&res);
	ev = json_array_get(map_ok(&res, FORM, "callId=body&queue=b",
	    "event=newCall&callId=query&to=111", 1), 0);
	assert_string_equal(str(ev, "call_id"), "body");
	assert_string_equal(str(ev, "line"), "111");
	assert_string_equal(str(ev, "queue"), "b");
	cti_result_clear(&res);
	ev = json_array_get(map_ok(&res, JSON, "{\"callId\":\"j\"}", "event=newCall&callId=q", 1),
	    0);
	assert_string_equal(str(ev, "call_id"), "j");
	cti_result_clear(&res);
}

/* --- hostile values -------------------------------------------------------- */

static void
test_control_and_invalid_bytes(void **state)
{
	static const char raw[] = "event=newCall&callId=r\0aw&queue=\x01\xff";
	struct cti_result res;
	json_t *ev = one(&res, FORM,
	    "event=newCall&callId=a%00b%0d%0ac&queue=%1b[31m%ff%c3%28x&to=%c2%9f1%7f1&from=%e2%80%ae1");

	assert_string_equal(str(ev, "call_id"), "a?b??c");
	assert_string_equal(str(ev, "id"), "cti:a?b??c:offered");
	assert_string_equal(str(ev, "queue"), "?[31m?" "?(x");
	assert_string_equal(str(ev, "line"), "?1?1");
	cti_result_clear(&res);
	/* raw bytes, not encoded, are cleaned the same way */
	cti_map(FORM, raw, sizeof(raw) - 1, NULL, &res);
	assert_int_equal(res.verdict, CTI_EVENTS);
	assert_valid(res.events);
	ev = json_array_get(res.events, 0);
	assert_string_equal(str(ev, "call_id"), "r?aw");
	assert_string_equal(str(ev, "queue"), "??");
	cti_result_clear(&res);
}

static char *
repeat(const char *unit, size_t n)
{
	size_t len = strlen(unit);
	char *s = xmalloc(len * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, unit, len);
	s[len * n] = '\0';
	return s;
}

/* A huge callId is fitted with a hash of the whole: still the same for
 * every event of the call, still different from another call's. */
static void
test_huge_call_id(void **state)
{
	char *big = repeat("x", 5000), *body1, *body2, *body3;
	struct cti_result r1, r2, r3;
	json_t *e1, *e2, *e3;

	xasprintf(&body1, "event=newCall&callId=%s", big);
	xasprintf(&body2, "event=hangup&callId=%s", big);
	xasprintf(&body3, "event=newCall&callId=%sy", big);
	e1 = one(&r1, FORM, body1);
	e2 = one(&r2, FORM, body2);
	e3 = one(&r3, FORM, body3);
	assert_true(strlen(str(e1, "call_id")) <= PROTOCOL_MAX_ID);
	assert_non_null(strchr(str(e1, "call_id"), '#'));
	assert_string_equal(str(e1, "call_id"), str(e2, "call_id"));
	assert_string_not_equal(str(e1, "call_id"), str(e3, "call_id"));
	assert_string_not_equal(str(e1, "id"), str(e3, "id"));
	cti_result_clear(&r1);
	cti_result_clear(&r2);
	cti_result_clear(&r3);
	free(body1);
	free(body2);
	free(body3);
	free(big);
}

/* A number cut short is someone else's: left out. Names and causes are cut
 * at a character, never inside one. */
static void
test_oversized_values(void **state)
{
	char *digits = repeat("9", 65), *name = repeat("%E1%BB%87", 60), *body;
	struct cti_result res;
	json_t *ev;

	xasprintf(&body, "event=newCall&callId=o&from=%s&to=%s&queue=%s", digits, digits, name);
	ev = one(&res, FORM, body);
	assert_null(json_object_get(ev, "caller"));
	assert_string_equal(str(ev, "line"), digits); /* 65 is within a line's 128 */
	assert_null(json_object_get(ev, "queue"));    /* 180 bytes */
	cti_result_clear(&res);
	free(body);

	xasprintf(&body, "event=answer&callId=o&user[]=%s", name);
	ev = one(&res, FORM, body);
	assert_int_equal(strlen(str(ev, "operator")), 126); /* 42 characters of 3 bytes */
	cti_result_clear(&res);
	free(body);

	xasprintf(&body, "event=hangup&callId=o&cause=%s", name);
	ev = one(&res, FORM, body);
	assert_int_equal(strlen(str(ev, "cause")), 126);
	cti_result_clear(&res);
	free(body);
	free(digits);
	free(name);
}

static void
test_withheld_numbers(void **state)
{
	static const char *const withheld[] = { "anonymous", "Anonymous", "unknown", "%3Cunknown%3E",
		"restricted", "PRIVATE" };

	for (size_t i = 0; i < nitems(withheld); i++) {
		struct cti_result res;
		char *body;

		xasprintf(&body, "event=newCall&callId=w&from=%s", withheld[i]);
		assert_null(json_object_get(one(&res, FORM, body), "caller"));
		cti_result_clear(&res);
		free(body);
	}
}

/* --- configuration ------------------------------------------------------------ */

static int
check(const char *text, char *err, size_t errlen)
{
	char lerr[512];
	struct config *cfg = config_load_string("t", text, lerr, sizeof(lerr));
	int rc;

	if (cfg == NULL) {
		print_error("config: %s\n", lerr);
		fail();
	}
	err[0] = '\0';
	rc = cti_check(cfg, err, errlen);
	config_free(cfg);
	return rc;
}

static void
test_check(void **state)
{
	static const char *const bad_tokens[] = { "a/b", "with space", "p%41th", "\xc6\xb0",
		"a?b", "a#b", "a;b" };
	char err[256], *text;

	assert_int_equal(check("", err, sizeof(err)), 0);
	assert_int_equal(check("cti: { token = \"a/b\"; };", err, sizeof(err)), 0);
	assert_int_equal(check("cti: { listen = \"tcp:127.0.0.1:8111\"; "
	    "token = \"Az09-._~Az09-._~\"; };", err, sizeof(err)), 0);
	assert_int_equal(check("cti: { listen = \"tcp:[::1]:8111\"; token = \"t\"; };", err,
	    sizeof(err)), 0);
	assert_int_equal(check("cti: { listen = \"tcp:127.0.0.1:8111\"; };", err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "cti.token"));
	for (size_t i = 0; i < nitems(bad_tokens); i++) {
		xasprintf(&text, "cti: { listen = \"tcp:127.0.0.1:8111\"; token = \"%s\"; };",
		    bad_tokens[i]);
		assert_int_equal(check(text, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "cti.token"));
		free(text);
	}
	/* an address the webhook cannot take is refused as the file is read */
	assert_null(config_load_string("t", "cti: { listen = \"unix:/tmp/cti.sock\"; "
	    "token = \"t\"; };", err, sizeof(err)));
	assert_string_equal(err, "t:1: cti.listen: \"unix:/tmp/cti.sock\" is not a "
	    "\"tcp:HOST:PORT\" address");
	assert_null(config_load_string("t", "cti: { listen = \"127.0.0.1:8111\"; token = \"t\"; };",
	    err, sizeof(err)));
	assert_non_null(strstr(err, "t:1: cti.listen: "));
	assert_null(config_load_string("t", "cti:\n{\n  listen = \"tcp:127.0.0.1\";\n};", err,
	    sizeof(err)));
	assert_non_null(strstr(err, "t:3: cti.listen: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_call_form),
		cmocka_unit_test(test_answer_operator),
		cmocka_unit_test(test_hangup_causes),
		cmocka_unit_test(test_hangup_without_cause),
		cmocka_unit_test(test_json_events),
		cmocka_unit_test(test_json_numbers_and_null),
		cmocka_unit_test(test_json_refusals),
		cmocka_unit_test(test_url_decoding),
		cmocka_unit_test(test_form_shapes),
		cmocka_unit_test(test_direction),
		cmocka_unit_test(test_content_types),
		cmocka_unit_test(test_query_string),
		cmocka_unit_test(test_control_and_invalid_bytes),
		cmocka_unit_test(test_huge_call_id),
		cmocka_unit_test(test_oversized_values),
		cmocka_unit_test(test_withheld_numbers),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests_name("cti", tests, NULL, NULL);
}
