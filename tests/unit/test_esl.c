/*
 * test_esl.c: the FreeSWITCH event socket (ESL) adapter.
 *
 * Transcripts are written the way FreeSWITCH 1.10's mod_event_socket and
 * mod_callcenter send them (plain events: URL-encoded values, an outer
 * Content-Length, channel data of the caller's channel), as messages from
 * which the bytes are built with LF or CRLF line ends, every Content-Length
 * counted for the ends chosen. Each is fed whole, split in two at every
 * byte offset, and one byte at a time; every way must give exactly the
 * expected events, and every event must pass protocol_parse(). The rest
 * are inline cases: hostile input, limits, state, commands.
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
#include "esl.h"
#include "pbx.h"
#include "pbxtest.h"
#include "protocol.h"
#include "xmalloc.h"

static const struct esl_options default_opt = {
	.password = "ClueCon",
	.ivr_variable = "hotline_ivr",
	.source = "esl:pbx1",
};

/* --- what FreeSWITCH says ------------------------------------------------ */

/* One message: its header lines (no Content-Length: that is counted), and
 * an event (header lines, URL-encoded values) with its own body, or a raw
 * body. Every line ends in "\n". */
struct msg {
	const char *head;
	const char *event;
	const char *nested;
	const char *body;
};

#define AUTH_REQUEST { "Content-Type: auth/request\n", NULL, NULL, NULL }
#define AUTH_OK { "Content-Type: command/reply\nReply-Text: +OK accepted\n", NULL, NULL, NULL }
#define SUB_OK                                                                                    \
	{ "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n", NULL,    \
		NULL, NULL }
#define EVENT(text) { "Content-Type: text/event-plain\n", text, NULL, NULL }

#define U1 "8f6ac1d2-3b4e-4f0a-9c71-2d5e6f708192" /* the caller's channel */
#define A1 "c41e07b9-7d2a-4e55-b0f3-91aa6c2d5e10" /* the agent's leg */
#define X1 "0d9f2c44-1e8b-4a37-a5c6-7b8e9f001122" /* a call not for the hotline */
#define M1 "5b2d9e61-0c3f-4d7a-8e19-a4b5c6d7e8f9" /* mod_callcenter's member id */

#define CORE(ts, seq)                                                                             \
	"Core-UUID: 2130a7d1-c1f7-44cd-8fae-8ed5946f3cec\n"                                       \
	"FreeSWITCH-Hostname: pbx1\nFreeSWITCH-Switchname: pbx1\n"                                \
	"FreeSWITCH-IPv4: 10.0.0.5\nFreeSWITCH-IPv6: %3A%3A1\n"                                   \
	"Event-Date-Local: 2026-07-04%2018%3A01%3A12\n"                                           \
	"Event-Date-GMT: Sat,%2004%20Jul%202026%2011%3A01%3A12%20GMT\n"                           \
	"Event-Date-Timestamp: " ts "\n"                                                          \
	"Event-Calling-File: mod_callcenter.c\nEvent-Sequence: " seq "\n"

#define CALLCENTER "Event-Name: CUSTOM\n"
#define SUBCLASS "Event-Subclass: callcenter%3A%3Ainfo\n"

/* The channel data mod_callcenter attaches: the caller's channel. */
#define CALLER_CHAN(uuid)                                                                         \
	"Channel-State: CS_EXECUTE\nChannel-Call-State: ACTIVE\n"                                 \
	"Channel-Name: sofia/external/%2B84912345678%40203.0.113.7\n"                             \
	"Unique-ID: " uuid "\nCall-Direction: inbound\nAnswer-State: answered\n"                  \
	"Caller-Direction: inbound\nCaller-Username: %2B84912345678\n"                            \
	"Caller-Caller-ID-Name: Nguy%E1%BB%85n%20V%C4%83n%20A\n"                                  \
	"Caller-Caller-ID-Number: %2B84912345678\n"                                               \
	"Caller-Destination-Number: 111\nCaller-Context: public\n"                                \
	"Caller-Unique-ID: " uuid "\n"                                                            \
	"variable_direction: inbound\nvariable_uuid: " uuid "\n"                                  \
	"variable_sip_from_user: %2B84912345678\n"

#define AGENT_CHAN(uuid)                                                                          \
	"Channel-State: CS_EXCHANGE_MEDIA\nChannel-Name: sofia/internal/lan%4010.0.0.21\n"        \
	"Unique-ID: " uuid "\nCall-Direction: outbound\nAnswer-State: answered\n"                 \
	"Caller-Destination-Number: lan\nvariable_hotline_ivr: 9\n"

#define MEMBER(uuid)                                                                              \
	"CC-Member-UUID: " M1 "\nCC-Member-Session-UUID: " uuid "\n"                              \
	"CC-Member-CID-Name: Nguy%E1%BB%85n%20V%C4%83n%20A\n"                                     \
	"CC-Member-CID-Number: %2B84912345678\n"

#define QUEUE_START(uuid, ts)                                                                     \
	CALLCENTER CORE(ts, "5521") SUBCLASS CALLER_CHAN(uuid)                                     \
	"variable_hotline_ivr: 3\n"                                                               \
	"CC-Queue: hotline%40default\nCC-Action: member-queue-start\nCC-Count: 1\n" MEMBER(uuid)

#define AGENT_OFFERING(uuid)                                                                      \
	CALLCENTER CORE("1783162873100250", "5530") SUBCLASS CALLER_CHAN(uuid)                     \
	"CC-Queue: hotline%40default\nCC-Action: agent-offering\nCC-Agent: lan%40default\n"       \
	"CC-Agent-System: single_box\n" MEMBER(uuid)

#define BRIDGE_START(uuid)                                                                        \
	CALLCENTER CORE("1783162879512003", "5547") SUBCLASS AGENT_CHAN(A1)                        \
	"CC-Queue: hotline%40default\nCC-Action: bridge-agent-start\n"                            \
	"CC-Agent: lan%40default\nCC-Agent-System: single_box\nCC-Agent-UUID: " A1 "\n"          \
	"CC-Agent-Called-Time: 1783162873\nCC-Agent-Answered-Time: 1783162879\n"                  \
	"CC-Member-Joined-Time: 1783162872\n" MEMBER(uuid)

#define HANGUP(uuid, ts, cause, more)                                                             \
	"Event-Name: CHANNEL_HANGUP_COMPLETE\n" CORE(ts, "5702")                                  \
	"Event-Calling-Function: switch_core_session_reporting_state\n"                           \
	"Hangup-Cause: " cause "\n" CALLER_CHAN(uuid) more

static const struct msg greeting[] = { AUTH_REQUEST, AUTH_OK, SUB_OK };

static const struct msg full_call[] = {
	AUTH_REQUEST, AUTH_OK, SUB_OK,
	/* a call that never reached a queue: not the hotline's */
	EVENT(HANGUP(X1, "1783162870000000", "NORMAL_CLEARING", "variable_billsec: 20\n")),
	EVENT(QUEUE_START(U1, "1783162872204712")),
	EVENT(AGENT_OFFERING(U1)),
	EVENT(BRIDGE_START(U1)),
	/* the agent's leg ends first: not the call's end */
	EVENT("Event-Name: CHANNEL_HANGUP_COMPLETE\n" CORE("1783162974000001", "5700")
	    "Hangup-Cause: NORMAL_CLEARING\n" AGENT_CHAN(A1) "variable_billsec: 95\n"),
	EVENT(CALLCENTER CORE("1783162974000500", "5701") SUBCLASS CALLER_CHAN(U1)
	    "CC-Queue: hotline%40default\nCC-Action: member-queue-end\nCC-Hangup-Cause: NONE\n"
	    "CC-Cause: Terminated\nCC-Agent: lan%40default\nCC-Member-Joined-Time: 1783162872\n"
	    "CC-Member-Leaving-Time: 1783162974\n" MEMBER(U1)),
	EVENT(HANGUP(U1, "1783162974000950", "NORMAL_CLEARING",
	    "variable_billsec: 95\nvariable_hotline_ivr: 3\n")),
};

static const char full_call_want[] =
    "[{\"id\":\"esl:pbx1:" U1 ":offered\",\"type\":\"call.offered\","
    "\"ts\":\"2026-07-04T11:01:12.204Z\",\"call_id\":\"" U1 "\",\"caller\":\"+84912345678\","
    "\"queue\":\"hotline@default\",\"line\":\"111\",\"ivr\":[\"3\"]},"
    "{\"id\":\"esl:pbx1:" U1 ":answered\",\"type\":\"call.answered\","
    "\"ts\":\"2026-07-04T11:01:19.512Z\",\"call_id\":\"" U1 "\",\"operator\":\"lan\"},"
    "{\"id\":\"esl:pbx1:" U1 ":ended\",\"type\":\"call.ended\","
    "\"ts\":\"2026-07-04T11:02:54.000Z\",\"call_id\":\"" U1 "\",\"cause\":\"NORMAL_CLEARING\","
    "\"duration_s\":95}]";

static const struct msg abandon[] = {
	AUTH_REQUEST, AUTH_OK, SUB_OK,
	EVENT(QUEUE_START(U1, "1783162872204712")),
	EVENT(CALLCENTER CORE("1783162925733410", "5610") SUBCLASS CALLER_CHAN(U1)
	    "CC-Queue: hotline%40default\nCC-Action: member-queue-end\n"
	    "CC-Member-Leaving-Time: 1783162925\nCC-Member-Joined-Time: 1783162872\n"
	    "CC-Cause: Cancel\nCC-Cancel-Reason: BREAK_OUT\n" MEMBER(U1)),
	EVENT(HANGUP(U1, "1783162925800000", "ORIGINATOR_CANCEL", "variable_billsec: 53\n")),
};

static const char abandon_want[] =
    "[{\"id\":\"esl:pbx1:" U1 ":offered\",\"type\":\"call.offered\","
    "\"ts\":\"2026-07-04T11:01:12.204Z\",\"call_id\":\"" U1 "\",\"caller\":\"+84912345678\","
    "\"queue\":\"hotline@default\",\"line\":\"111\",\"ivr\":[\"3\"]},"
    "{\"id\":\"esl:pbx1:" U1 ":abandoned\",\"type\":\"call.abandoned\","
    "\"ts\":\"2026-07-04T11:02:05.733Z\",\"call_id\":\"" U1 "\",\"wait_s\":53},"
    "{\"id\":\"esl:pbx1:" U1 ":ended\",\"type\":\"call.ended\","
    "\"ts\":\"2026-07-04T11:02:05.800Z\",\"call_id\":\"" U1 "\","
    "\"cause\":\"ORIGINATOR_CANCEL\",\"duration_s\":53}]";

/*
 * The IVR sent the call to the queue with a transfer (before the answer:
 * routing, not mapped); the operator then transferred it blind to 2001;
 * an attended transfer names channels and is not mapped.
 */
static const struct msg transfer[] = {
	AUTH_REQUEST, AUTH_OK, SUB_OK,
	EVENT(QUEUE_START(U1, "1783162872204712")),
	EVENT(BRIDGE_START(U1)),
	EVENT(HANGUP(U1, "1783163101250000", "NORMAL_CLEARING",
	    "variable_billsec: 228\nvariable_transfer_history: "
	    "ARRAY%3A%3A1783162870%3A1c9e3f1a-0b7d-4c2e-9f8a-6d5c4b3a2910%3Abl_xfer%3A111%2Fpublic"
	    "%2FXML%7C%3A1783162990%3A2a8f4e2b-1c6e-4d3f-8a9b-7e6d5c4b3a21%3Abl_xfer%3A2001"
	    "%2Fdefault%2FXML%7C%3A1783163050%3A3b7a5d3c-2d5f-4e4a-9bac-8f7e6d5c4b32%3Aatt_xfer"
	    "%3Asofia%2Finternal%2Flan%4010.0.0.21%2Fsofia%2Finternal%2F2002%4010.0.0.22\n")),
};

static const char transfer_want[] =
    "[{\"id\":\"esl:pbx1:" U1 ":offered\",\"type\":\"call.offered\","
    "\"ts\":\"2026-07-04T11:01:12.204Z\",\"call_id\":\"" U1 "\",\"caller\":\"+84912345678\","
    "\"queue\":\"hotline@default\",\"line\":\"111\",\"ivr\":[\"3\"]},"
    "{\"id\":\"esl:pbx1:" U1 ":answered\",\"type\":\"call.answered\","
    "\"ts\":\"2026-07-04T11:01:19.512Z\",\"call_id\":\"" U1 "\",\"operator\":\"lan\"},"
    "{\"id\":\"esl:pbx1:" U1 ":transferred:2001:1783162990\",\"type\":\"call.transferred\","
    "\"ts\":\"2026-07-04T11:03:10.000Z\",\"call_id\":\"" U1 "\",\"to\":\"2001\"},"
    "{\"id\":\"esl:pbx1:" U1 ":ended\",\"type\":\"call.ended\","
    "\"ts\":\"2026-07-04T11:05:01.250Z\",\"call_id\":\"" U1 "\",\"cause\":\"NORMAL_CLEARING\","
    "\"duration_s\":228}]";

/*
 * Events with bodies of their own: a BACKGROUND_JOB whose body looks like
 * an event, and a queue start carrying a body; neither body is read as
 * headers. Then Vietnamese and broken escapes in the values.
 */
static const struct msg nested[] = {
	AUTH_REQUEST, AUTH_OK, SUB_OK,
	{ "Content-Type: text/event-plain\n",
	    "Event-Name: BACKGROUND_JOB\n" CORE("1783162871000000", "5500")
	    "Job-UUID: 7e1d2c3b-4a59-4867-b5c4-d3e2f1a0b9c8\nJob-Command: originate\n",
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nCC-Member-Session-UUID: " X1 "\n\n",
	    NULL },
	{ "Content-Type: text/event-plain\n",
	    CALLCENTER CORE("1783162872204712", "5521") SUBCLASS CALLER_CHAN(U1)
	    "variable_hotline_ivr: 1%2C4\n"
	    "CC-Queue: T%E1%BB%95ng%20%C4%91%C3%A0i%20111%40default\n"
	    "CC-Action: member-queue-start\nCC-Member-Session-UUID: " U1 "\n"
	    "CC-Member-CID-Number: 09%ZZ12%4%0034%FF5%C3%28\n",
	    "CC-Action: bridge-agent-start\nCC-Agent: mallory\nCC-Member-Session-UUID: " U1 "\n",
	    NULL },
	EVENT(HANGUP(U1, "1783162974000950", "NORMAL_CLEARING",
	    "variable_billsec: 95\n")),
};

static const char nested_want[] =
    "[{\"id\":\"esl:pbx1:" U1 ":offered\",\"type\":\"call.offered\","
    "\"ts\":\"2026-07-04T11:01:12.204Z\",\"call_id\":\"" U1 "\","
    "\"caller\":\"09%ZZ12%4?34?5?(\","
    "\"queue\":\"T\xe1\xbb\x95ng \xc4\x91\xc3\xa0i 111@default\",\"line\":\"111\","
    "\"ivr\":[\"1\",\"4\"]},"
    "{\"id\":\"esl:pbx1:" U1 ":ended\",\"type\":\"call.ended\","
    "\"ts\":\"2026-07-04T11:02:54.000Z\",\"call_id\":\"" U1 "\",\"cause\":\"NORMAL_CLEARING\","
    "\"duration_s\":95}]";

/* mod_event_socket's answer to a wrong password. */
static const struct msg auth_refused[] = {
	AUTH_REQUEST,
	{ "Content-Type: command/reply\nReply-Text: -ERR invalid\n", NULL, NULL, NULL },
	{ "Content-Type: text/disconnect-notice\n", NULL, NULL,
	    "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n" },
};

static const struct msg sub_refused[] = {
	AUTH_REQUEST, AUTH_OK,
	{ "Content-Type: command/reply\nReply-Text: -ERR no keywords supplied\n", NULL, NULL,
	    NULL },
};

/* FreeSWITCH shutting down (or "fsctl shutdown") mid-call: what came
 * before the notice is kept. */
static const struct msg disconnect[] = {
	AUTH_REQUEST, AUTH_OK, SUB_OK,
	EVENT(QUEUE_START(U1, "1783162872204712")),
	{ "Content-Type: text/disconnect-notice\n", NULL, NULL,
	    "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n" },
	EVENT(BRIDGE_START(U1)),
};

static const char disconnect_want[] =
    "[{\"id\":\"esl:pbx1:" U1 ":offered\",\"type\":\"call.offered\","
    "\"ts\":\"2026-07-04T11:01:12.204Z\",\"call_id\":\"" U1 "\",\"caller\":\"+84912345678\","
    "\"queue\":\"hotline@default\",\"line\":\"111\",\"ivr\":[\"3\"]}]";

/* The event socket's ACL refused the daemon's address. */
static const struct msg rude[] = {
	{ "Content-Type: text/rude-rejection\n", NULL, NULL, "Access Denied, go away.\n" },
};

static const struct transcript {
	const char *name;
	const struct msg *msgs;
	size_t n;
	const char *want; /* the events, a JSON array */
	int rc;           /* what esl_feed ends with */
	const char *err;  /* the error, when rc is -1 */
	int ready;
} transcripts[] = {
	{ "full-call", full_call, nitems(full_call), full_call_want, 0, NULL, 1 },
	{ "abandon", abandon, nitems(abandon), abandon_want, 0, NULL, 1 },
	{ "transfer", transfer, nitems(transfer), transfer_want, 0, NULL, 1 },
	{ "nested-body", nested, nitems(nested), nested_want, 0, NULL, 1 },
	{ "auth-refused", auth_refused, nitems(auth_refused), "[]", -1,
	    "login refused: -ERR invalid", 0 },
	{ "subscription-refused", sub_refused, nitems(sub_refused), "[]", -1,
	    "event subscription refused: -ERR no keywords supplied", 0 },
	{ "disconnect-notice", disconnect, nitems(disconnect), disconnect_want, -1,
	    "FreeSWITCH ended the session (disconnect-notice): Disconnected, goodbye.", 1 },
	{ "rude-rejection", rude, nitems(rude), "[]", -1,
	    "refused by the event socket's ACL: Access Denied, go away.", 0 },
};

/* --- building the bytes -------------------------------------------------- */

/* s with every "\n" written as eol. */
static void
put_lines(struct text *t, const char *s, const char *eol)
{
	for (; *s != '\0'; s++) {
		if (*s == '\n')
			text_put(t, eol, strlen(eol));
		else
			text_put(t, s, 1);
	}
}

static void
put_body(struct text *t, const struct msg *m, const char *eol)
{
	struct text inner = { NULL, 0, 0 };
	char cl[64];

	if (m->event == NULL) {
		put_lines(t, m->body, eol);
		return;
	}
	put_lines(t, m->event, eol);
	if (m->nested != NULL) {
		put_lines(&inner, m->nested, eol);
		snprintf(cl, sizeof(cl), "Content-Length: %zu", inner.len);
		put_lines(t, cl, eol);
		put_lines(t, "\n\n", eol);
		text_put(t, inner.s, inner.len);
		free(inner.s);
	} else
		put_lines(t, "\n", eol);
}

/* The messages as FreeSWITCH sends them: Content-Length first, counted. */
static struct text
build(const struct msg *msgs, size_t n, const char *eol)
{
	struct text t = { NULL, 0, 0 };

	text_put(&t, "", 0);
	for (size_t i = 0; i < n; i++) {
		struct text body = { NULL, 0, 0 };
		char cl[64];

		if (msgs[i].event != NULL || msgs[i].body != NULL) {
			put_body(&body, &msgs[i], eol);
			snprintf(cl, sizeof(cl), "Content-Length: %zu\n", body.len);
			put_lines(&t, cl, eol);
		}
		put_lines(&t, msgs[i].head, eol);
		put_lines(&t, "\n", eol);
		if (body.s != NULL)
			text_put(&t, body.s, body.len);
		free(body.s);
	}
	return t;
}

/* --- checking ------------------------------------------------------------ */

static struct esl *
new_esl(const struct esl_options *opt)
{
	struct esl *e = esl_new(opt);

	assert_non_null(e);
	return e;
}

static void *
open_default(void)
{
	return new_esl(&default_opt);
}

/* A feeding ends with the transcript's rc, its very error, its state. */
static void
end_as_expected(void *e, const void *expected, int rc, const char *err, const char *how)
{
	const struct transcript *tr = expected;

	if (rc != tr->rc || (tr->err != NULL && strcmp(err, tr->err) != 0)) {
		print_error("%s: %s: rc %d (%s), want %d (%s)\n", tr->name, how, rc, err, tr->rc,
		    tr->err ? tr->err : "");
		fail();
	}
	assert_int_equal(esl_ready(e), tr->ready);
}

static const struct pbxtest_feeder feeder = { &esl_adapter, open_default, end_as_expected };

static void
test_transcript(void **state)
{
	const struct transcript *tr = *state;
	static const char *const ends[] = { "\n", "\r\n" };
	json_t *want = parse_json(tr->want);

	for (size_t i = 0; i < nitems(ends); i++) {
		struct text t = build(tr->msgs, tr->n, ends[i]);

		feed_every_way(&feeder, tr, t, want);
		free(t.s);
	}
	json_decref(want);
}

/* --- helpers for the inline cases ----------------------------------------- */

/* A plain event as FreeSWITCH frames it, LF ends; malloc'd. */
static char *
plain(const char *event)
{
	struct msg m = EVENT(event);
	struct text t = build(&m, 1, "\n");

	return t.s;
}

/* Feeds text to e, which must take it; returns the events, all valid. */
static json_t *
feed_ok(struct esl *e, const char *text, size_t len)
{
	return adapter_feed_ok(&esl_adapter, e, text, len);
}

/* Feeds text to e, which must refuse it with an error containing what. */
static void
feed_fails(struct esl *e, const char *text, size_t len, const char *what)
{
	json_t *out = json_array();
	char err[160] = "";

	assert_int_equal(esl_feed(e, text, len, out, err, sizeof(err)), -1);
	if (strstr(err, what) == NULL) {
		print_error("error \"%s\", want \"%s\"\n", err, what);
		fail();
	}
	assert_printable(err);
	json_decref(out);
}

/* A session authenticated and subscribed. */
static struct esl *
ready_esl(const struct esl_options *opt)
{
	struct esl *e = new_esl(opt);
	struct text t = build(greeting, nitems(greeting), "\n");

	json_decref(feed_ok(e, t.s, t.len));
	assert_true(esl_ready(e));
	free(t.s);
	return e;
}

/* The events of a ready session given plain events (NULL-terminated). */
static json_t *
run(const struct esl_options *opt, const char *first, ...)
{
	struct esl *e = ready_esl(opt);
	json_t *all = json_array();
	va_list ap;

	va_start(ap, first);
	for (const char *ev = first; ev != NULL; ev = va_arg(ap, const char *)) {
		char *text = plain(ev);
		json_t *got = feed_ok(e, text, strlen(text));

		json_array_extend(all, got);
		json_decref(got);
		free(text);
	}
	va_end(ap);
	esl_free(e);
	return all;
}

/* --- commands ------------------------------------------------------------ */

static void
test_commands(void **state)
{
	struct esl *e = new_esl(&default_opt);
	struct text t = build(greeting, nitems(greeting), "\n");
	size_t first = strlen("Content-Type: auth/request\n\n");
	char *s;

	(void)state;
	/* nothing until FreeSWITCH asks */
	assert_null(esl_output(e));
	json_decref(feed_ok(e, t.s, first));
	s = esl_output(e);
	assert_string_equal(s, "auth ClueCon\n\n");
	free(s);
	assert_null(esl_output(e));
	json_decref(feed_ok(e, t.s + first, t.len - first));
	assert_true(esl_ready(e));
	/* the subscription: whole messages fed at once still get it, once */
	s = esl_output(e);
	assert_string_equal(s, "event plain CHANNEL_HANGUP_COMPLETE CUSTOM callcenter::info\n\n");
	free(s);
	assert_null(esl_output(e));
	/* a new connection: the commands again */
	esl_reset(e);
	assert_false(esl_ready(e));
	assert_null(esl_output(e));
	json_decref(feed_ok(e, t.s, first));
	s = esl_output(e);
	assert_string_equal(s, "auth ClueCon\n\n");
	free(s);
	free(t.s);
	esl_free(e);
}

static void
test_refused_login_sends_nothing_more(void **state)
{
	static const char text[] = "Content-Type: auth/request\n\n"
				   "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n";
	struct esl *e = new_esl(&default_opt);
	char *s;

	(void)state;
	feed_fails(e, text, strlen(text), "login refused: -ERR invalid");
	s = esl_output(e); /* the auth not yet taken: the failure wins */
	assert_null(s);
	assert_false(esl_ready(e));
	esl_free(e);
}

static void
test_new_refuses_bad_options(void **state)
{
	struct esl_options opt = default_opt;

	(void)state;
	opt.password = "ClueCon\n\napi system reboot";
	assert_null(esl_new(&opt));
	opt.password = "a\rb";
	assert_null(esl_new(&opt));
	opt.password = NULL;
	assert_null(esl_new(&opt));
	opt.password = "";
	assert_null(esl_new(&opt));
	esl_free(NULL);
}

static void
test_adapter(void **state)
{
	struct pbx_source src = { .type = "esl", .connect = "tcp:127.0.0.1:8021" };
	const struct pbx_adapter *ad = pbx_adapter_find("esl");
	char err[160] = "";
	void *p;
	char *s;

	(void)state;
	assert_ptr_equal(ad, &esl_adapter);
	assert_int_equal(ad->check(&src, err, sizeof(err)), -1);
	assert_string_equal(err, "esl needs password");
	src.password = "x\ny";
	assert_int_equal(ad->check(&src, err, sizeof(err)), -1);
	assert_string_equal(err, "password must not hold line breaks");
	src.password = "s3cret";
	src.ivr_variable = "hotline_ivr";
	assert_int_equal(ad->check(&src, err, sizeof(err)), 0);
	p = ad->create(&src, "esl:tcp:127.0.0.1:8021");
	assert_non_null(p);
	ad->reset(p);
	assert_int_equal(ad->feed(p, "Content-Type: auth/request\n\n", 28, NULL, err,
			     sizeof(err)),
	    0);
	s = ad->output(p);
	assert_string_equal(s, "auth s3cret\n\n");
	free(s);
	assert_false(ad->ready(p));
	ad->destroy(p);
}

/* --- hostile input ------------------------------------------------------- */

static void
test_not_esl(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "not an event socket" },
		{ "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n",
		    "not an event socket" },
		{ "Asterisk Call Manager/7.0.3\r\n", "not an event socket" },
		{ "Content-Type: text/html\n\n", "the first message is not auth/request" },
		{ "Reply-Text: +OK accepted\n\n", "the first message is not auth/request" },
		{ "Content-Type: command/reply\nReply-Text: +OK\n\n",
		    "the first message is not auth/request" },
		{ ": no name\n\n", "not an event socket" },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct esl *e = new_esl(&default_opt);

		feed_fails(e, cases[i].text, strlen(cases[i].text), cases[i].err);
		assert_null(esl_output(e));
		esl_free(e);
	}
}

static void
test_bad_content_length(void **state)
{
	static const struct {
		const char *value, *err;
	} cases[] = {
		{ "-1", "bad Content-Length \"-1\"" },
		{ "abc", "bad Content-Length \"abc\"" },
		{ "12abc", "bad Content-Length \"12abc\"" },
		{ "+5", "bad Content-Length \"+5\"" },
		{ "0x10", "bad Content-Length \"0x10\"" },
		{ "1 2", "bad Content-Length \"1 2\"" },
		{ "5\x01\xff", "bad Content-Length \"5??\"" },
		{ "99999999999999999999", "bad Content-Length" },
		{ "18446744073709551617", "bad Content-Length" },
		{ "65537", "a body of 65537 bytes is over the limit of 65536" },
		{ "999999999999999999", "over the limit of 65536" },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct esl *e = ready_esl(&default_opt);
		char *text;

		xasprintf(&text, "Content-Length: %s\nContent-Type: text/event-plain\n\n",
		    cases[i].value);
		feed_fails(e, text, strlen(text), cases[i].err);
		free(text);
		esl_free(e);
	}
}

/* A body of exactly max_body bytes is taken; one more and it is not. */
static void
test_body_limit_exact(void **state)
{
	struct esl_options opt = default_opt;
	char *ev, *text;
	json_t *out;
	size_t n;

	(void)state;
	ev = plain("Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
		   "CC-Action: member-queue-start\nCC-Member-Session-UUID: edge\n");
	n = strlen(strchr(ev, '\n') + 1) - strlen("Content-Type: text/event-plain\n\n");
	for (int extra = 0; extra <= 1; extra++) {
		struct esl *e;

		opt.max_body = n - (size_t)extra;
		e = ready_esl(&opt);
		if (extra) {
			feed_fails(e, ev, strlen(ev), "over the limit");
		} else {
			out = feed_ok(e, ev, strlen(ev));
			assert_int_equal(json_array_size(out), 1);
			json_decref(out);
		}
		esl_free(e);
	}
	/* Content-Length: 0 is a message with an empty body */
	xasprintf(&text, "Content-Length: 0\nContent-Type: text/event-plain\n\n%s", ev);
	opt.max_body = 0;
	{
		struct esl *e = ready_esl(&opt);

		out = feed_ok(e, text, strlen(text));
		assert_int_equal(json_array_size(out), 1);
		json_decref(out);
		esl_free(e);
	}
	free(text);
	free(ev);
}

/* A header block past max_header fails at its first byte too many, and
 * nothing of it is kept beyond the limit. */
static void
test_huge_header_block(void **state)
{
	struct esl_options opt = default_opt;
	char *big = xmalloc(4096);
	struct esl *e;
	json_t *out;

	(void)state;
	memset(big, 'x', 4096);
	opt.max_header = 1000;
	e = new_esl(&opt);
	out = feed_ok(e, big, 1000);
	json_decref(out);
	feed_fails(e, big, 1, "a header block over 1000 bytes");
	feed_fails(e, "\n\n", 2, "a header block over 1000 bytes"); /* sticky */
	esl_free(e);

	/* many short lines count as much as one long one */
	e = ready_esl(&opt);
	out = json_array();
	for (int i = 0; i < 200; i++) {
		if (esl_feed(e, "Header: a\n", 10, out, NULL, 0) != 0)
			break;
		assert_true(i < 100);
	}
	assert_int_equal(esl_feed(e, "\n", 1, out, NULL, 0), -1);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	esl_free(e);

	/* the default: 64 KiB of headers without an end */
	e = ready_esl(&default_opt);
	out = json_array();
	for (int i = 0; i < 16; i++)
		assert_int_equal(esl_feed(e, big, 4096, out, NULL, 0), 0);
	assert_int_equal(esl_feed(e, "x", 1, out, NULL, 0), -1);
	json_decref(out);
	esl_free(e);
	free(big);
}

static void
test_nul_and_invalid_utf8(void **state)
{
	static const char ev[] = "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
				 "CC-Action: member-queue-start\nCC-Member-Session-UUID: n\0ul\n"
				 "CC-Queue: h\xff\xfe\xc3\n"
				 "CC-Member-CID-Number: 0912\0\x01"
				 "345\n\n";
	char head[128];
	struct esl *e = ready_esl(&default_opt);
	json_t *out;
	int n;

	(void)state;
	/* a NUL in the outer Content-Type: the message is skipped whole */
	n = snprintf(head, sizeof(head), "Content-Length: %zu\nContent-Type: text/event-plain",
	    sizeof(ev) - 1);
	head[n++] = '\0';
	head[n++] = '\n';
	head[n++] = '\n';
	out = feed_ok(e, head, (size_t)n);
	json_decref(out);
	out = feed_ok(e, ev, sizeof(ev) - 1);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	/* the same body in a proper message: NULs and bad UTF-8 become '?' */
	n = snprintf(head, sizeof(head), "Content-Length: %zu\nContent-Type: text/event-plain\n\n",
	    sizeof(ev) - 1);
	json_decref(feed_ok(e, head, (size_t)n));
	out = feed_ok(e, ev, sizeof(ev) - 1);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(field(out, 0, "call_id"), "n?ul");
	assert_string_equal(field(out, 0, "queue"), "h???");
	assert_string_equal(field(out, 0, "caller"), "0912??345");
	json_decref(out);
	esl_free(e);
}

static void
test_failure_is_sticky(void **state)
{
	struct esl *e = new_esl(&default_opt);
	struct text t = build(greeting, nitems(greeting), "\n");
	json_t *out = json_array();
	char err[16];

	(void)state;
	assert_int_equal(esl_feed(e, "GET / HTTP/1.1\r\n", 16, out, err, sizeof(err)), -1);
	assert_string_equal(err, "not an event so"); /* cut to the buffer */
	assert_int_equal(esl_feed(e, t.s, t.len, out, NULL, 0), -1);
	assert_int_equal(esl_feed(e, "", 0, out, NULL, 0), -1);
	esl_reset(e);
	assert_int_equal(esl_feed(e, t.s, t.len, out, NULL, 0), 0);
	assert_true(esl_ready(e));
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	free(t.s);
	esl_free(e);
}

/* What FreeSWITCH sends that is not mapped is read past and ignored. */
static void
test_unknown_ignored(void **state)
{
	static const char text[] =
	    "Content-Type: api/response\nContent-Length: 14\n\n-ERR no reply\n"
	    "Content-Type: log/data\nContent-Length: 60\nLog-Level: 7\n\n"
	    "Event-Name: CUSTOM\nCC-Action: member-queue-start\nCC-Mem\n\n"
	    "Content-Type: text/event-json\nContent-Length: 2\n\n{}"
	    "Content-Type: command/reply\nReply-Text: -ERR late reply\n\n"
	    "\n\n\r\n"
	    "Content-Length: 3\n\nabc"
	    "Content-Type: text/event-plain\n\n"
	    "Content-Type: text/event-plain\nno colon here\n\n"
	    "Content-Type: auth/request\n\n";
	struct esl *e = ready_esl(&default_opt);
	json_t *out;

	(void)state;
	out = feed_ok(e, text, strlen(text));
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	assert_true(esl_ready(e));
	esl_free(e);

	out = run(&default_opt,
	    "Event-Name: CHANNEL_CREATE\nUnique-ID: " U1 "\n",
	    "Event-Name: CUSTOM\nEvent-Subclass: sofia%3A%3Aregister\nCC-Action: "
	    "member-queue-start\nCC-Member-Session-UUID: " U1 "\n",
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: members-count\nCC-Count: 3\nCC-Queue: hotline%40default\n",
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: agent-offering\nCC-Agent: lan\nCC-Member-Session-UUID: " U1 "\n",
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\n", /* no member: nothing to key on */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: bridge-agent-start\nCC-Member-Session-UUID: " U1 "\n", /* no agent */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-end\nCC-Cause: Terminated\nCC-Member-Session-UUID: " U1 "\n",
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nHangup-Cause: NORMAL_CLEARING\n", /* no id */
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: " X1 "\n",
	    "Event-Subclass: callcenter%3A%3Ainfo\nCC-Action: member-queue-start\n"
	    "CC-Member-Session-UUID: " U1 "\n", /* no Event-Name */
	    /* names and values as FreeSWITCH spells them, but in another case */
	    "event-name: custom\nevent-subclass: CALLCENTER%3A%3AINFO\ncc-action: "
	    "MEMBER-QUEUE-START\ncc-member-session-uuid: " X1 "\n",
	    NULL);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(field(out, 0, "id"), "esl:pbx1:" X1 ":offered");
	json_decref(out);
}

/* --- mapping ------------------------------------------------------------- */

static void
test_hangup_rules(void **state)
{
	json_t *out;

	(void)state;
	out = run(&default_opt,
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nCC-Member-Session-UUID: h1\n",
	    /* another channel of the call, then the caller's */
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: h1-agent\n",
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: h1\nvariable_billsec: abc\n",
	    /* forgotten now: a second hangup says nothing */
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: h1\nHangup-Cause: X\n",
	    /* an abandoned call's hangup still ends it; no cause, no duration */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-end\nCC-Cause: cancel\nCC-Member-Session-UUID: h2\n"
	    "CC-Member-Joined-Time: 1783162880\nCC-Member-Leaving-Time: 1783162872\n",
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: h2\nvariable_billsec: 0\n", NULL);
	assert_int_equal(json_array_size(out), 4);
	assert_string_equal(field(out, 1, "id"), "esl:pbx1:h1:ended");
	assert_null(json_object_get(json_array_get(out, 1), "duration_s"));
	assert_null(json_object_get(json_array_get(out, 1), "cause"));
	assert_null(json_object_get(json_array_get(out, 1), "ts"));
	/* leaving before joining: no wait */
	assert_string_equal(field(out, 2, "id"), "esl:pbx1:h2:abandoned");
	assert_null(json_object_get(json_array_get(out, 2), "wait_s"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 3), "duration_s")),
	    0);
	json_decref(out);
}

static void
test_operator(void **state)
{
	static const struct {
		const char *agent, *want;
	} cases[] = {
		{ "lan%40default", "lan" },
		{ "1001", "1001" },
		{ "%40default", "@default" },
		{ "Tr%E1%BA%A7n%20Lan%40hotline.vn", "Tr\xe1\xba\xa7n Lan" },
		{ "a%0Ab%40x", "a?b" },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char *ev;
		json_t *out;

		xasprintf(&ev, "Event-Name: CUSTOM\nEvent-Subclass: callcenter%%3A%%3Ainfo\n"
			       "CC-Action: bridge-agent-start\nCC-Agent: %s\n"
			       "CC-Member-Session-UUID: o1\n",
		    cases[i].agent);
		out = run(&default_opt, ev, NULL);
		assert_int_equal(json_array_size(out), 1);
		assert_string_equal(field(out, 0, "operator"), cases[i].want);
		json_decref(out);
		free(ev);
	}
}

static void
test_url_decoding(void **state)
{
	static const struct {
		const char *raw, *want; /* want NULL: no queue */
	} cases[] = {
		{ "T%E1%BB%95ng%20%C4%91%C3%A0i%20111", "T\xe1\xbb\x95ng \xc4\x91\xc3\xa0i 111" },
		{ "%C4%90U%E1%BB%90I%20N%C6%AF%E1%BB%9AC", "\xc4\x90U\xe1\xbb\x90I N\xc6\xaf\xe1\xbb\x9a"
							     "C" },
		{ "50%", "50%" },
		{ "%zz", "%zz" },
		{ "%4", "%4" },
		{ "%4g", "%4g" },
		{ "%00x", "?x" },
		{ "%FF", "?" },
		{ "%C3%28", "?(" },
		{ "%ED%A0%80", "???" },
		{ "a+b", "a+b" },
		{ "%2541", "%41" },
		{ "a%0Ab%09c%7F", "a?b?c?" },
		{ "%20%20", "  " }, /* blanks written as escapes are meant */
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char *ev;
		json_t *out;

		xasprintf(&ev, "Event-Name: CUSTOM\nEvent-Subclass: callcenter%%3A%%3Ainfo\n"
			       "CC-Action: member-queue-start\nCC-Queue: %s\n"
			       "CC-Member-Session-UUID: q1\n",
		    cases[i].raw);
		out = run(&default_opt, ev, NULL);
		assert_int_equal(json_array_size(out), 1);
		if (cases[i].want == NULL)
			assert_null(field(out, 0, "queue"));
		else
			assert_string_equal(field(out, 0, "queue"), cases[i].want);
		json_decref(out);
		free(ev);
	}
}

static void
test_timestamps(void **state)
{
	static const struct {
		const char *in, *want; /* want NULL: no ts */
	} cases[] = {
		{ "1783162872204712", "2026-07-04T11:01:12.204Z" },
		{ "0", "1970-01-01T00:00:00.000Z" },
		{ "253402300799999999", "9999-12-31T23:59:59.999Z" },
		{ "253402300800000000", NULL },
		{ "9999999999999999999", NULL },
		{ "1783162872.204712", NULL },
		{ "-1783162872204712", NULL },
		{ "abc", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char *ev;
		json_t *out;

		xasprintf(&ev, "Event-Name: CUSTOM\nEvent-Subclass: callcenter%%3A%%3Ainfo\n"
			       "Event-Date-Timestamp: %s\nCC-Action: member-queue-start\n"
			       "CC-Member-Session-UUID: t1\n",
		    cases[i].in);
		out = run(&default_opt, ev, NULL);
		if (cases[i].want == NULL)
			assert_null(field(out, 0, "ts"));
		else
			assert_string_equal(field(out, 0, "ts"), cases[i].want);
		json_decref(out);
		free(ev);
	}
}

static void
test_transfer_rules(void **state)
{
	json_t *out;

	(void)state;
	out = run(&default_opt,
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nCC-Member-Session-UUID: t1\n",
	    /* no Event-Date-Timestamp: the answer time is CC-Agent-Answered-Time */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: bridge-agent-start\nCC-Agent: lan\nCC-Member-Session-UUID: t1\n"
	    "CC-Agent-Answered-Time: 1000\n",
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: t1\n"
	    "variable_transfer_history: ARRAY::999:u0:bl_xfer:111/default/XML"
	    "|:1000:u1:bl_xfer:set:x=1,2002/default/XML"
	    "|:1001:u2:bl_xfer:2003"
	    "|:1002:u3:bl_xfer:/default/XML"
	    "|:10x3:u4:bl_xfer:2004/default/XML"
	    "|:1005:u5:bl_xfer"
	    "|:1006:u6:BL_XFER:2006/default/XML"
	    "|:|::::\n",
	    /* a plain value (one transfer) and an unanswered call: nothing */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nCC-Member-Session-UUID: t2\n",
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: t2\n"
	    "variable_transfer_history: 1783162990:u7:bl_xfer:2001/default/XML\n",
	    /* a plain value after the answer */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: bridge-agent-start\nCC-Agent: lan\nCC-Member-Session-UUID: t3\n"
	    "Event-Date-Timestamp: 1783162879512003\n",
	    "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: t3\n"
	    "variable_transfer_history: 1783162879:u8:bl_xfer:2001/default/XML\n",
	    NULL);
	/* t1: offered, answered, two transfers, ended; t2: offered, ended;
	 * t3 (answered without a start seen): answered, a transfer, ended */
	assert_int_equal(json_array_size(out), 10);
	assert_string_equal(field(out, 2, "id"), "esl:pbx1:t1:transferred:2002:1000");
	assert_string_equal(field(out, 2, "to"), "2002");
	assert_string_equal(field(out, 2, "ts"), "1970-01-01T00:16:40.000Z");
	assert_string_equal(field(out, 3, "to"), "2003");
	assert_string_equal(field(out, 4, "type"), "call.ended");
	assert_string_equal(field(out, 5, "id"), "esl:pbx1:t2:offered");
	assert_string_equal(field(out, 6, "id"), "esl:pbx1:t2:ended");
	assert_string_equal(field(out, 7, "id"), "esl:pbx1:t3:answered");
	assert_string_equal(field(out, 8, "id"), "esl:pbx1:t3:transferred:2001:1783162879");
	assert_string_equal(field(out, 9, "id"), "esl:pbx1:t3:ended");
	json_decref(out);
}

/* Past 32 transfers in one history the rest are not read. */
static void
test_transfer_cap(void **state)
{
	char *ev, *p;
	json_t *out;
	size_t len = 0;

	(void)state;
	ev = xmalloc(8192);
	len += (size_t)sprintf(ev, "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: c1\n"
				   "variable_transfer_history: ARRAY::");
	for (int i = 0; i < 40; i++)
		len += (size_t)sprintf(ev + len, "%s%d:u:bl_xfer:%d/default/XML", i ? "|:" : "",
		    2000 + i, 3000 + i);
	strcpy(ev + len, "\n");
	xasprintf(&p, "Event-Name: CUSTOM\nEvent-Subclass: callcenter%%3A%%3Ainfo\n"
		      "CC-Action: bridge-agent-start\nCC-Agent: lan\nCC-Member-Session-UUID: c1\n"
		      "CC-Agent-Answered-Time: 1\n");
	out = run(&default_opt, p, ev, NULL);
	assert_int_equal(json_array_size(out), 1 + 32 + 1);
	assert_string_equal(field(out, 32, "to"), "3031");
	json_decref(out);
	free(p);
	free(ev);
}

/* The IVR choices of event i joined by '|', or NULL. */
static const char *
ivr_of(json_t *events, size_t i)
{
	static char joined[300];
	json_t *ivr = json_object_get(json_array_get(events, i), "ivr"), *d;
	size_t j;

	if (ivr == NULL)
		return NULL;
	joined[0] = '\0';
	json_array_foreach(ivr, j, d) {
		if (j > 0)
			strcat(joined, "|");
		strcat(joined, json_string_value(d));
	}
	return joined;
}

/* Where the IVR digits come from: any event of the caller's own channel,
 * never the agent's. */
static void
test_ivr_sources(void **state)
{
	struct esl_options opt = default_opt;
	json_t *out;

	(void)state;
	out = run(&opt,
	    /* an earlier event of the call had it, the start has none */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-end\nCC-Cause: Terminated\nUnique-ID: i1\n"
	    "CC-Member-Session-UUID: i1\nvariable_hotline_ivr: 2\n",
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nUnique-ID: i1\nCC-Member-Session-UUID: i1\n"
	    "Caller-Destination-Number: 111\n",
	    /* the agent's channel data: its variable and number are not the caller's */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nUnique-ID: agent-leg\nCC-Member-Session-UUID: i2\n"
	    "Caller-Destination-Number: lan\nvariable_hotline_ivr: 9\n",
	    /* the fresher value wins; an empty one does not hide the older */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nUnique-ID: i3\nCC-Member-Session-UUID: i3\n"
	    "variable_hotline_ivr: 1\n",
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nUnique-ID: i3\nCC-Member-Session-UUID: i3\n"
	    "variable_hotline_ivr: 4%2A\n",
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nUnique-ID: i3\nCC-Member-Session-UUID: i3\n"
	    "variable_hotline_ivr: \n",
	    /* not digits at all */
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nUnique-ID: i4\nCC-Member-Session-UUID: i4\n"
	    "variable_hotline_ivr: menu\nvariable_hotline_ivr2: 5\n",
	    NULL);
	assert_int_equal(json_array_size(out), 6);
	assert_string_equal(ivr_of(out, 0), "2");
	assert_string_equal(field(out, 0, "line"), "111");
	assert_null(ivr_of(out, 1));
	assert_null(field(out, 1, "line"));
	assert_string_equal(ivr_of(out, 2), "1");
	assert_string_equal(ivr_of(out, 3), "4*");
	assert_string_equal(ivr_of(out, 4), "4*");
	assert_null(ivr_of(out, 5));
	json_decref(out);

	/* with no IVR variable configured, none is read */
	opt.ivr_variable = NULL;
	out = run(&opt,
	    "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
	    "CC-Action: member-queue-start\nUnique-ID: i1\nCC-Member-Session-UUID: i1\n"
	    "variable_hotline_ivr: 1\nvariable_: 2\n",
	    NULL);
	assert_null(ivr_of(out, 0));
	json_decref(out);
}

static void
test_state_cap(void **state)
{
	struct esl_options opt = default_opt;
	struct esl *e;
	json_t *out;
	char *text;

	(void)state;
	opt.max_calls = 4;
	e = ready_esl(&opt);
	for (int i = 1; i <= 5; i++) {
		char *ev;

		xasprintf(&ev, "Event-Name: CUSTOM\nEvent-Subclass: callcenter%%3A%%3Ainfo\n"
			       "CC-Action: member-queue-start\nCC-Member-Session-UUID: v%d\n",
		    i);
		text = plain(ev);
		json_decref(feed_ok(e, text, strlen(text)));
		free(text);
		free(ev);
	}
	/* v1 was the oldest of five with room for four: its hangup says nothing */
	for (int i = 1; i <= 5; i++) {
		char *ev;

		xasprintf(&ev, "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: v%d\n", i);
		text = plain(ev);
		out = feed_ok(e, text, strlen(text));
		assert_int_equal(json_array_size(out), i == 1 ? 0 : 1);
		json_decref(out);
		free(text);
		free(ev);
	}
	esl_free(e);
}

static void
test_field_limits(void **state)
{
	char c64[65], c65[66], q129[130], id200[201];
	char *ev1, *ev2, *ev3;
	json_t *out;
	const char *cid;

	(void)state;
	memset(c64, '1', 64);
	c64[64] = '\0';
	memset(c65, '1', 65);
	c65[65] = '\0';
	memset(q129, 'q', 129);
	q129[129] = '\0';
	memset(id200, 'L', 200);
	id200[200] = '\0';
	xasprintf(&ev1, "Event-Name: CUSTOM\nEvent-Subclass: callcenter%%3A%%3Ainfo\n"
			"CC-Action: member-queue-start\nCC-Member-Session-UUID: a1\n"
			"CC-Member-CID-Number: %s\nCC-Queue: %s\n",
	    c64, q129);
	xasprintf(&ev2, "Event-Name: CUSTOM\nEvent-Subclass: callcenter%%3A%%3Ainfo\n"
			"CC-Action: member-queue-start\nCC-Member-Session-UUID: %s\n"
			"CC-Member-CID-Number: %s\n",
	    id200, c65);
	xasprintf(&ev3, "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: %s\n"
			"variable_billsec: 604801\n",
	    id200);
	out = run(&default_opt, ev1, ev2, ev3, NULL);
	assert_int_equal(json_array_size(out), 3);
	assert_string_equal(field(out, 0, "caller"), c64);
	assert_null(field(out, 0, "queue")); /* too long to route on: dropped */
	assert_null(field(out, 1, "caller"));
	cid = field(out, 1, "call_id");
	assert_true(strlen(cid) <= PROTOCOL_MAX_ID);
	/* the hangup's Unique-ID fits to the same id */
	assert_string_equal(field(out, 2, "call_id"), cid);
	assert_null(json_object_get(json_array_get(out, 2), "duration_s"));
	json_decref(out);
	free(ev1);
	free(ev2);
	free(ev3);
}

/* A reconnect: calls stay known, and what is said again has the same ids. */
static void
test_reset_keeps_calls(void **state)
{
	struct esl *e = ready_esl(&default_opt);
	struct text g = build(greeting, nitems(greeting), "\n");
	char *start = plain(QUEUE_START(U1, "1783162872204712"));
	char *hangup = plain(HANGUP(U1, "1783162974000950", "NORMAL_CLEARING", ""));
	json_t *before, *after;

	(void)state;
	before = feed_ok(e, start, strlen(start));
	/* the connection drops in the middle of a message */
	json_decref(feed_ok(e, hangup, 40));
	esl_reset(e);
	assert_false(esl_ready(e));
	json_decref(feed_ok(e, g.s, g.len));
	assert_true(esl_ready(e));
	after = feed_ok(e, start, strlen(start));
	assert_string_equal(field(after, 0, "id"), field(before, 0, "id"));
	assert_true(json_equal(after, before));
	json_decref(after);
	after = feed_ok(e, hangup, strlen(hangup));
	assert_int_equal(json_array_size(after), 1);
	assert_string_equal(field(after, 0, "id"), "esl:pbx1:" U1 ":ended");
	json_decref(after);
	json_decref(before);
	free(start);
	free(hangup);
	free(g.s);
	esl_free(e);
}

static void
test_source_names(void **state)
{
	struct esl_options opt = default_opt;
	static const char ev[] = "Event-Name: CUSTOM\nEvent-Subclass: callcenter%3A%3Ainfo\n"
				 "CC-Action: member-queue-start\nCC-Member-Session-UUID: c1\n";
	char src[300];
	json_t *out;

	(void)state;
	memset(src, 's', sizeof(src) - 1);
	src[sizeof(src) - 1] = '\0';
	opt.source = src;
	out = run(&opt, ev, NULL);
	assert_int_equal(strlen(field(out, 0, "id")), PROTOCOL_MAX_ID);
	json_decref(out);
	opt.source = NULL;
	opt.ivr_variable = NULL;
	out = run(&opt, ev, NULL);
	assert_string_equal(field(out, 0, "id"), "esl:c1:offered");
	json_decref(out);
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
	ADD(test_commands);
	ADD(test_refused_login_sends_nothing_more);
	ADD(test_new_refuses_bad_options);
	ADD(test_adapter);
	ADD(test_not_esl);
	ADD(test_bad_content_length);
	ADD(test_body_limit_exact);
	ADD(test_huge_header_block);
	ADD(test_nul_and_invalid_utf8);
	ADD(test_failure_is_sticky);
	ADD(test_unknown_ignored);
	ADD(test_hangup_rules);
	ADD(test_operator);
	ADD(test_url_decoding);
	ADD(test_timestamps);
	ADD(test_transfer_rules);
	ADD(test_transfer_cap);
	ADD(test_ivr_sources);
	ADD(test_state_cap);
	ADD(test_field_limits);
	ADD(test_reset_keeps_calls);
	ADD(test_source_names);
#undef ADD
	return _cmocka_run_group_tests("esl", tests, n, NULL, NULL);
}
