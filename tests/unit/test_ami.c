/*
 * test_ami.c: the Asterisk AMI adapter.
 *
 * Transcripts in tests/data/ami/NAME.txt, written the way Asterisk 11, 16
 * and 18 send them, come with NAME.expected.jsonl, the bridge events they
 * must give. Each is fed with LF and with CRLF line ends and with both
 * mixed: whole, split in two at every byte offset, and one byte at a time;
 * every way must give exactly the expected events, and every event must
 * pass protocol_parse(). The rest are inline cases: limits, state, actions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ami.h"
#include "pbx.h"
#include "pbxtest.h"
#include "protocol.h"
#include "xmalloc.h"

#ifndef TEST_DATADIR
#error "build with -DTEST_DATADIR=\"...\""
#endif

static const struct ami_options default_opt = {
	.username = "hotline111",
	.secret = "s3cret",
	.ivr_variable = "HOTLINE_IVR",
	.source = "ami:pbx1",
};

/* --- helpers ------------------------------------------------------------- */

static struct text
read_file(const char *path)
{
	struct text t = { NULL, 0, 0 };
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		print_error("cannot open %s\n", path);
		fail();
	}
	do {
		if (t.len == t.cap) {
			t.cap = t.cap ? t.cap * 2 : 4096;
			t.s = xreallocarray(t.s, t.cap, 1);
		}
		n = fread(t.s + t.len, 1, t.cap - t.len, f);
		t.len += n;
	} while (n > 0);
	fclose(f);
	return t;
}

enum line_ends { ENDS_LF, ENDS_CRLF, ENDS_MIXED };

/* The transcript with its line ends rewritten: every "\r\n" or "\n" becomes
 * "\n", "\r\n", or each in turn. */
static struct text
with_ends(struct text in, enum line_ends ends)
{
	struct text t = { xmalloc(in.len * 2 + 1), 0, in.len * 2 + 1 };
	int nth = 0;

	for (size_t i = 0; i < in.len; i++) {
		if (in.s[i] == '\r' && i + 1 < in.len && in.s[i + 1] == '\n')
			continue;
		if (in.s[i] == '\n' &&
		    (ends == ENDS_CRLF || (ends == ENDS_MIXED && nth++ % 2)))
			t.s[t.len++] = '\r';
		t.s[t.len++] = in.s[i];
	}
	return t;
}

static struct ami *
new_ami(const struct ami_options *opt)
{
	struct ami *a = ami_new(opt);

	assert_non_null(a);
	return a;
}

/* Feeds text to a, which must take it; returns the events, all valid. */
static json_t *
feed_ok(struct ami *a, const char *text)
{
	return adapter_feed_ok(&ami_adapter, a, text, strlen(text));
}

/* The events of a fresh adapter, logged in, given blocks. */
static json_t *
run(const struct ami_options *opt, const char *blocks)
{
	struct ami *a = new_ami(opt);
	json_t *out;

	json_decref(feed_ok(a, "Asterisk Call Manager/7.0.3\r\n"
			       "Response: Success\r\n"
			       "ActionID: hotline111-login\r\n"
			       "Message: Authentication accepted\r\n\r\n"));
	assert_true(ami_logged_in(a));
	out = feed_ok(a, blocks);
	ami_free(a);
	return out;
}

/* --- transcripts --------------------------------------------------------- */

static const struct transcript {
	const char *name;
	int rc;          /* what ami_feed ends with */
	const char *err; /* part of the error, when rc is -1 */
	int logged_in;
} transcripts[] = {
	{ "full-call", 0, NULL, 1 },
	{ "abandon", 0, NULL, 1 },
	{ "blind-transfer", 0, NULL, 1 },
	{ "attended-transfer", 0, NULL, 1 },
	{ "ivr-varset", 0, NULL, 1 },
	{ "asterisk11", 0, NULL, 1 },
	{ "reconcile", 0, NULL, 1 },
	{ "login-failure", -1, "login refused: Authentication failed", 0 },
	{ "garbage-ssh", -1, "not AMI", 0 },
	{ "garbage-http", -1, "not AMI", 0 },
	{ "garbage-after-banner", 0, NULL, 0 },
};

static json_t *
read_expected(const char *name)
{
	char path[512];
	struct text t;
	json_t *want = json_array();
	char *line, *save = NULL;

	snprintf(path, sizeof(path), "%s/ami/%s.expected.jsonl", TEST_DATADIR,
	    name);
	t = read_file(path);
	text_put(&t, "", 0); /* a string, for strtok_r */
	for (line = strtok_r(t.s, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t e;
		json_t *o = json_loads(line, 0, &e);

		if (o == NULL) {
			print_error("%s: %s\n", path, e.text);
			fail();
		}
		json_array_append_new(want, o);
	}
	free(t.s);
	return want;
}

static void *
open_default(void)
{
	return new_ami(&default_opt);
}

/* A feeding ends with the transcript's rc, its error, its login state. */
static void
end_as_expected(void *a, const void *expected, int rc, const char *err,
    const char *how)
{
	const struct transcript *tr = expected;

	if (rc != tr->rc) {
		print_error("%s: %s: rc %d (%s), want %d\n", tr->name, how, rc,
		    err, tr->rc);
		fail();
	}
	if (tr->err != NULL && strstr(err, tr->err) == NULL) {
		print_error("%s: %s: error \"%s\"\n", tr->name, how, err);
		fail();
	}
	assert_int_equal(ami_logged_in(a), tr->logged_in);
}

static const struct pbxtest_feeder feeder = { &ami_adapter, open_default,
	end_as_expected };

static void
test_transcript(void **state)
{
	const struct transcript *tr = *state;
	static const enum line_ends ends[] = { ENDS_LF, ENDS_CRLF, ENDS_MIXED };
	char path[512];
	struct text raw;
	json_t *want = read_expected(tr->name);

	snprintf(path, sizeof(path), "%s/ami/%s.txt", TEST_DATADIR, tr->name);
	raw = read_file(path);
	for (size_t i = 0; i < nitems(ends); i++) {
		struct text t = with_ends(raw, ends[i]);

		feed_every_way(&feeder, tr, t, want);
		free(t.s);
	}
	free(raw.s);
	json_decref(want);
}

/* --- actions ------------------------------------------------------------- */

static void
test_login_action(void **state)
{
	struct ami_options opt = default_opt;
	struct ami *a = new_ami(&opt);
	char *s = ami_login(a);

	(void)state;
	assert_string_equal(s, "Action: Login\r\nActionID: hotline111-login\r\n"
			       "Username: hotline111\r\nSecret: s3cret\r\n"
			       "Events: call,agent,dialplan\r\n\r\n");
	free(s);
	ami_free(a);

	/* without an IVR variable there is no VarSet to read */
	opt.ivr_variable = NULL;
	opt.secret = NULL;
	a = new_ami(&opt);
	s = ami_login(a);
	assert_string_equal(s, "Action: Login\r\nActionID: hotline111-login\r\n"
			       "Username: hotline111\r\nSecret: \r\n"
			       "Events: call,agent\r\n\r\n");
	free(s);
	s = ami_reconcile(a);
	assert_string_equal(s,
	    "Action: QueueStatus\r\nActionID: hotline111-reconcile\r\n\r\n");
	free(s);
	ami_free(a);
}

static void
test_new_refuses_header_breaks(void **state)
{
	struct ami_options opt = default_opt;

	(void)state;
	opt.username = "hotline111\r\nAction: Originate";
	assert_null(ami_new(&opt));
	opt.username = NULL;
	assert_null(ami_new(&opt));
	opt.username = "";
	assert_null(ami_new(&opt));
	opt = default_opt;
	opt.secret = "a\nb";
	assert_null(ami_new(&opt));
	opt = default_opt;
	opt.ivr_variable = "X\r";
	assert_null(ami_new(&opt));
	ami_free(NULL);
}

/* --- framing ------------------------------------------------------------- */

static const char login_ok[] = "Asterisk Call Manager/7.0.3\r\n"
			       "Response: Success\r\n"
			       "ActionID: hotline111-login\r\n"
			       "Message: Authentication accepted\r\n\r\n";

static const char join_c1[] = "Event: QueueCallerJoin\r\n"
			      "Privilege: agent,all\r\n"
			      "CallerIDNum: 0912345678\r\n"
			      "Uniqueid: c1\r\n"
			      "Linkedid: c1\r\n"
			      "Queue: hotline\r\n\r\n";

static void
test_oversized_block(void **state)
{
	struct ami_options opt = default_opt;
	char *big, *text;
	struct ami *a;
	json_t *out;

	(void)state;
	opt.max_block = 512;
	a = new_ami(&opt);
	json_decref(feed_ok(a, login_ok));
	/* a join padded past the limit is skipped to its end, not kept */
	big = xmalloc(4001);
	memset(big, 'x', 4000);
	big[4000] = '\0';
	xasprintf(&text, "Event: QueueCallerJoin\r\nLinkedid: big\r\n"
			 "CallerIDName: %s\r\nQueue: hotline\r\n\r\n%s",
	    big, join_c1);
	out = feed_ok(a, text);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(field(out, 0, "call_id"), "c1");
	json_decref(out);
	free(text);

	/* one line of a megabyte that never ends: still nothing kept */
	out = json_array();
	for (int i = 0; i < 256; i++)
		assert_int_equal(ami_feed(a, big, 4000, out, NULL, 0), 0);
	assert_int_equal(ami_feed(a, "\r\n\r\n", 4, out, NULL, 0), 0);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	out = feed_ok(a, "Event: QueueCallerJoin\r\nLinkedid: c2\r\n\r\n");
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	free(big);
	ami_free(a);
}

/* A block of exactly max_block bytes is taken; one more and it is not. */
static void
test_block_limit_exact(void **state)
{
	const char block[] = "Event: QueueCallerJoin\nLinkedid: edge\n";
	struct ami_options opt = default_opt;

	(void)state;
	for (int extra = 0; extra <= 1; extra++) {
		struct ami *a;
		json_t *out;

		opt.max_block = strlen(block) - (size_t)extra;
		a = new_ami(&opt);
		json_decref(feed_ok(a, "Asterisk Call Manager/7.0.3\n"));
		out = feed_ok(a, block);
		json_decref(out);
		out = feed_ok(a, "\n");
		assert_int_equal(json_array_size(out), extra ? 0 : 1);
		json_decref(out);
		ami_free(a);
	}
}

static void
test_unknown_events_ignored(void **state)
{
	json_t *out;

	(void)state;
	out = run(&default_opt,
	    "Event: Newexten\r\nLinkedid: c9\r\nApplication: Queue\r\n\r\n"
	    "Event: PeerStatus\r\nPeer: PJSIP/1001\r\nPeerStatus: Reachable\r\n\r\n"
	    "Event: QueueCallerJoinX\r\nLinkedid: c9\r\n\r\n"
	    "Response: Follows\r\nOutput: core show channels\r\n--END COMMAND--\r\n\r\n"
	    "Response: Error\r\nActionID: other\r\nMessage: Permission denied\r\n\r\n"
	    "Privilege: call,all\r\nLinkedid: c9\r\n\r\n"
	    "\r\n\r\n\r\n"
	    "Event: Cdr\r\nUniqueID: c9\r\nDisposition: ANSWERED\r\n\r\n"
	    "Event: QueueCallerLeave\r\nLinkedid: c9\r\nQueue: hotline\r\n\r\n"
	    "Event: AgentCalled\r\nLinkedid: c9\r\nMemberName: Lan\r\n\r\n"
	    /* names and keys are matched without regard to case */
	    "event: queuecallerjoin\r\nLINKEDID: c9\r\nqueue: hotline\r\n\r\n");
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(field(out, 0, "type"), "call.offered");
	assert_string_equal(field(out, 0, "call_id"), "c9");
	assert_string_equal(field(out, 0, "queue"), "hotline");
	json_decref(out);
}

static void
test_lines_without_separator(void **state)
{
	json_t *out;

	(void)state;
	out = run(&default_opt,
	    "Event: QueueCallerJoin\nLinkedid:c3\nLinkedid: c4\n"
	    "just text\nQueue:  hotline  \t\n\n");
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(field(out, 0, "call_id"), "c4");
	/* the value starts after ": " and loses its trailing blanks */
	assert_string_equal(field(out, 0, "queue"), " hotline");
	json_decref(out);
}

/* --- mapping ------------------------------------------------------------- */

static void
test_missing_linkedid(void **state)
{
	json_t *out;

	(void)state;
	out = run(&default_opt,
	    /* no Linkedid: the Uniqueid names the call */
	    "Event: QueueCallerJoin\r\nUniqueid: u1\r\nQueue: hotline\r\n\r\n"
	    "Event: AgentConnect\r\nUniqueid: u1\r\nInterface: PJSIP/1001\r\n\r\n"
	    /* an empty Linkedid is no Linkedid */
	    "Event: QueueCallerAbandon\r\nUniqueid: u2\r\nLinkedid: \r\n\r\n"
	    /* neither: nothing to key the call on */
	    "Event: QueueCallerJoin\r\nQueue: hotline\r\n\r\n"
	    "Event: QueueCallerAbandon\r\nHoldTime: 4\r\n\r\n"
	    /* an answer needs an operator */
	    "Event: AgentConnect\r\nLinkedid: u1\r\n\r\n"
	    "Event: Hangup\r\nUniqueid: u1\r\nCause: 16\r\n\r\n");
	assert_int_equal(json_array_size(out), 4);
	assert_string_equal(field(out, 0, "id"), "ami:pbx1:u1:offered");
	assert_string_equal(field(out, 1, "id"), "ami:pbx1:u1:answered");
	assert_string_equal(field(out, 1, "operator"), "PJSIP/1001");
	assert_string_equal(field(out, 2, "id"), "ami:pbx1:u2:abandoned");
	assert_null(json_object_get(json_array_get(out, 2), "wait_s"));
	assert_string_equal(field(out, 3, "id"), "ami:pbx1:u1:ended");
	assert_string_equal(field(out, 3, "cause"), "16");
	json_decref(out);
}

static void
test_hangup_rules(void **state)
{
	json_t *out;

	(void)state;
	out = run(&default_opt,
	    /* a call that never reached the queue is not the hotline's */
	    "Event: Hangup\r\nUniqueid: x1\r\nLinkedid: x1\r\nCause: 16\r\n\r\n"
	    "Event: QueueCallerJoin\r\nUniqueid: h1\r\nLinkedid: h1\r\n\r\n"
	    /* another leg of the call */
	    "Event: Hangup\r\nUniqueid: h1.2\r\nLinkedid: h1\r\nCause: 16\r\n\r\n"
	    "Event: Hangup\r\nUniqueid: h1\r\nLinkedid: h1\r\nCause: 17\r\n"
	    "Cause-txt: User busy\r\n\r\n"
	    /* forgotten now: a second hangup, a late transfer, nothing */
	    "Event: Hangup\r\nUniqueid: h1\r\nLinkedid: h1\r\nCause: 16\r\n\r\n"
	    "Event: BlindTransfer\r\nResult: Success\r\nTransfereeLinkedid: h1\r\n"
	    "Extension: 2001\r\n\r\n");
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(field(out, 1, "type"), "call.ended");
	assert_string_equal(field(out, 1, "cause"), "User busy");
	json_decref(out);
}

static void
test_transfer_rules(void **state)
{
	json_t *out;

	(void)state;
	out = run(&default_opt,
	    "Event: QueueCallerJoin\r\nUniqueid: t1\r\nLinkedid: t1\r\n\r\n"
	    /* no Result (older Asterisk) counts as done; the transferer's
	     * Linkedid is enough */
	    "Event: BlindTransfer\r\nTransfererLinkedid: t1\r\n"
	    "Extension: 2001\r\n\r\n"
	    "Event: BlindTransfer\r\nResult: Fail\r\nTransfereeLinkedid: t1\r\n"
	    "Extension: 2002\r\n\r\n"
	    /* no target: nothing to say where it went */
	    "Event: BlindTransfer\r\nResult: Success\r\nTransfereeLinkedid: t1\r\n\r\n"
	    /* attended to an application */
	    "Event: AttendedTransfer\r\nResult: Success\r\nTransfereeLinkedid: t1\r\n"
	    "SecondTransfererExten: s\r\nDestType: App\r\nDestApp: VoiceMail\r\n\r\n"
	    /* attended, found by the target's number */
	    "Event: AttendedTransfer\r\nResult: Success\r\nOrigTransfererLinkedid: t1\r\n"
	    "OrigTransfererUniqueid: t1.5\r\nTransferTargetCallerIDNum: 2003\r\n\r\n");
	assert_int_equal(json_array_size(out), 4);
	assert_string_equal(field(out, 1, "id"), "ami:pbx1:t1:transferred:2001");
	assert_string_equal(field(out, 2, "to"), "VoiceMail");
	assert_string_equal(field(out, 3, "id"),
	    "ami:pbx1:t1:transferred:2003:t1.5");
	assert_string_equal(field(out, 3, "to"), "2003");
	json_decref(out);
}

static void
test_login_replies(void **state)
{
	static const char other_first[] =
	    "Asterisk Call Manager/7.0.3\n"
	    "Response: Error\nActionID: other\nMessage: no\n\n";
	static const char refused[] =
	    "Asterisk Call Manager/2.10.4\r\nResponse: Error\r\n"
	    "Message: Auth\x01\xff failed\r\n\r\n";
	struct ami *a = new_ami(&default_opt);
	json_t *out = json_array();
	char err[160];

	(void)state;
	/* a reply to another action before the login's is not the login's */
	assert_int_equal(ami_feed(a, other_first, strlen(other_first), out, err,
			     sizeof(err)),
	    0);
	assert_false(ami_logged_in(a));
	/* a PBX that drops the ActionID still answers the login */
	json_decref(feed_ok(a, "Response: Success\nMessage: Authentication accepted\n\n"));
	assert_true(ami_logged_in(a));
	/* once logged in, errors are replies to other actions */
	json_decref(feed_ok(a, "Response: Error\nActionID: hotline111-login\n\n"));
	assert_true(ami_logged_in(a));
	ami_free(a);

	/* a refusal's message is made printable */
	a = new_ami(&default_opt);
	assert_int_equal(ami_feed(a, refused, strlen(refused), out, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "login refused: Auth?? failed");
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	ami_free(a);
}

static void
test_failure_is_sticky(void **state)
{
	struct ami *a = new_ami(&default_opt);
	json_t *out = json_array();
	char err[8];

	(void)state;
	assert_int_equal(ami_feed(a, "Asterisk Call", 13, out, NULL, 0), 0);
	assert_int_equal(ami_feed(a, " Mangler/1.0\r\n", 14, out, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "not AMI"); /* cut to the buffer */
	assert_int_equal(ami_feed(a, login_ok, strlen(login_ok), out, NULL, 0), -1);
	assert_int_equal(ami_feed(a, "", 0, out, NULL, 0), -1);
	/* a banner cut short, or too long, is not one either */
	ami_reset(a);
	assert_int_equal(ami_feed(a, "Asterisk\r\n", 10, out, NULL, 0), -1);
	ami_reset(a);
	{
		char line[400];

		snprintf(line, sizeof(line), "Asterisk Call Manager/%0300d", 7);
		assert_int_equal(ami_feed(a, line, strlen(line), out, NULL, 0), -1);
	}
	ami_reset(a);
	assert_int_equal(ami_feed(a, login_ok, strlen(login_ok), out, NULL, 0), 0);
	assert_true(ami_logged_in(a));
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	ami_free(a);
}

/* A reconnect: the join was seen before it, QueueEntry comes after. */
static void
test_reset_keeps_calls(void **state)
{
	struct ami *a = new_ami(&default_opt);
	json_t *before, *after;

	(void)state;
	json_decref(feed_ok(a, login_ok));
	json_decref(feed_ok(a, "Event: VarSet\r\nUniqueid: L1\r\nLinkedid: L1\r\n"
			       "Variable: HOTLINE_IVR\r\nValue: 3\r\n\r\n"));
	before = feed_ok(a, "Event: QueueCallerJoin\r\nUniqueid: L1\r\n"
			    "Linkedid: L1\r\nCallerIDNum: 0912000111\r\n"
			    "Queue: hotline\r\nExten: 111\r\n\r\n"
			    "Event: QueueCallerJoin\r\nUniqueid: L2.1\r\n"
			    "Linkedid: L2\r\nQueue: hotline\r\n"
			    "Event: Hangup\r\n"); /* the connection drops here */
	assert_int_equal(json_array_size(before), 1);
	ami_reset(a);
	assert_false(ami_logged_in(a));
	after = feed_ok(a, login_ok);
	assert_int_equal(json_array_size(after), 0);
	json_decref(after);
	after = feed_ok(a, "Event: QueueEntry\r\nQueue: hotline\r\nPosition: 1\r\n"
			   "Uniqueid: L1\r\nCallerIDNum: 0912000111\r\nWait: 30\r\n\r\n"
			   "Event: QueueEntry\r\nQueue: hotline\r\nPosition: 2\r\n"
			   "Uniqueid: L2.1\r\nWait: 2\r\n\r\n");
	assert_int_equal(json_array_size(after), 2);
	/* the same id as the join: the daemon keeps one */
	assert_string_equal(field(after, 0, "id"), field(before, 0, "id"));
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(json_array_get(after, 0), "ivr"), 0)),
	    "3");
	/* a join lost with the connection is recovered, keyed by its channel */
	assert_string_equal(field(after, 1, "id"), "ami:pbx1:L2.1:offered");
	json_decref(before);
	json_decref(after);
	ami_free(a);
}

static void
test_state_cap(void **state)
{
	struct ami_options opt = default_opt;
	struct ami *a;
	json_t *out;
	char *text;

	(void)state;
	opt.max_calls = 4;
	a = new_ami(&opt);
	json_decref(feed_ok(a, login_ok));
	for (int i = 1; i <= 5; i++) {
		xasprintf(&text, "Event: VarSet\r\nLinkedid: v%d\r\n"
				 "Variable: HOTLINE_IVR\r\nValue: %d\r\n\r\n",
		    i, i);
		json_decref(feed_ok(a, text));
		free(text);
	}
	out = feed_ok(a, "Event: QueueCallerJoin\r\nLinkedid: v1\r\n\r\n"
			 "Event: QueueCallerJoin\r\nLinkedid: v5\r\n\r\n");
	/* v1 was the oldest of five with room for four */
	assert_null(json_object_get(json_array_get(out, 0), "ivr"));
	assert_non_null(json_object_get(json_array_get(out, 1), "ivr"));
	json_decref(out);
	/* four more joins push v1 and v5 out: their hangups say nothing */
	out = feed_ok(a, "Event: QueueCallerJoin\r\nLinkedid: v2\r\n\r\n"
			 "Event: QueueCallerJoin\r\nLinkedid: v3\r\n\r\n"
			 "Event: QueueCallerJoin\r\nLinkedid: v4\r\n\r\n"
			 "Event: QueueCallerJoin\r\nLinkedid: v6\r\n\r\n"
			 "Event: Hangup\r\nUniqueid: v1\r\nLinkedid: v1\r\n\r\n"
			 "Event: Hangup\r\nUniqueid: v5\r\nLinkedid: v5\r\n\r\n"
			 "Event: Hangup\r\nUniqueid: v6\r\nLinkedid: v6\r\n\r\n");
	assert_int_equal(json_array_size(out), 5);
	assert_string_equal(field(out, 4, "id"), "ami:pbx1:v6:ended");
	json_decref(out);
	ami_free(a);
}

/* The default cap: 10,000 calls, then the oldest goes. */
static void
test_state_cap_default(void **state)
{
	struct ami *a = new_ami(&default_opt);
	json_t *out = json_array();
	char buf[160];

	(void)state;
	json_decref(feed_ok(a, login_ok));
	for (int i = 0; i <= PBX_DEFAULT_MAX_CALLS; i++) {
		int n = snprintf(buf, sizeof(buf),
		    "Event: VarSet\nLinkedid: d%d\nVariable: HOTLINE_IVR\n"
		    "Value: 1\n\n", i);

		assert_int_equal(ami_feed(a, buf, (size_t)n, out, NULL, 0), 0);
	}
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	out = feed_ok(a, "Event: QueueCallerJoin\nLinkedid: d0\n\n"
			 "Event: QueueCallerJoin\nLinkedid: d2\n\n");
	assert_null(json_object_get(json_array_get(out, 0), "ivr"));
	assert_non_null(json_object_get(json_array_get(out, 1), "ivr"));
	json_decref(out);
	ami_free(a);
}

static void
test_field_limits(void **state)
{
	char c64[65], c65[66], q129[130], op[300], id200[201], id200b[201];
	char *text;
	json_t *out;
	const char *cid;

	(void)state;
	memset(c64, '1', 64);
	c64[64] = '\0';
	memset(c65, '1', 65);
	c65[65] = '\0';
	memset(q129, 'q', 129);
	q129[129] = '\0';
	/* 127 bytes, then a 3-byte letter across the 128-byte limit */
	memset(op, 'o', 127);
	memcpy(op + 127, "\xe1\xbb\x99xyz", 7);
	memset(id200, 'L', 200);
	id200[200] = '\0';
	memcpy(id200b, id200, sizeof(id200));
	id200b[199] = 'M';
	xasprintf(&text,
	    "Event: QueueCallerJoin\nLinkedid: a1\nCallerIDNum: %s\nQueue: %s\n\n"
	    "Event: QueueCallerJoin\nLinkedid: a2\nCallerIDNum: %s\nExten: %s\n\n"
	    "Event: AgentConnect\nLinkedid: a2\nMemberName: %s\n\n"
	    "Event: QueueCallerJoin\nLinkedid: %s\n\n"
	    "Event: QueueCallerAbandon\nLinkedid: %s\nHoldTime: 604801\n\n"
	    "Event: QueueCallerJoin\nLinkedid: %s\n\n"
	    "Event: QueueCallerJoin\nLinkedid: b\x01\x7f\xc2\x85\xff\nCallerIDNum: \xc3\x28+84\n"
	    "Queue: h\xe0\x80\x80\xed\xa0\x80\xf4\x90\x80\x80 \xc6\xb0\xe1\xbb\x9b\n\n",
	    c64, q129, c65, q129, op, id200, id200, id200b);
	out = run(&default_opt, text);
	free(text);
	assert_int_equal(json_array_size(out), 7);
	assert_string_equal(field(out, 0, "caller"), c64);
	assert_null(field(out, 0, "queue")); /* too long to route on: dropped */
	assert_null(field(out, 1, "caller"));
	assert_null(field(out, 1, "line"));
	assert_int_equal(strlen(field(out, 2, "operator")), 127);
	cid = field(out, 3, "call_id");
	assert_true(strlen(cid) <= PROTOCOL_MAX_ID);
	assert_string_equal(field(out, 4, "call_id"), cid);
	assert_null(json_object_get(json_array_get(out, 4), "wait_s"));
	assert_string_not_equal(field(out, 5, "call_id"), cid);
	assert_string_equal(field(out, 6, "call_id"), "b????");
	assert_string_equal(field(out, 6, "caller"), "?(+84");
	assert_string_equal(field(out, 6, "queue"),
	    "h?????????? \xc6\xb0\xe1\xbb\x9b");
	json_decref(out);
}

static void
test_long_source(void **state)
{
	struct ami_options opt = default_opt;
	char src[300];
	json_t *out;

	(void)state;
	memset(src, 's', sizeof(src) - 1);
	src[sizeof(src) - 1] = '\0';
	opt.source = src;
	out = run(&opt, "Event: QueueCallerJoin\nLinkedid: c1\n\n");
	assert_int_equal(strlen(field(out, 0, "id")), PROTOCOL_MAX_ID);
	json_decref(out);
	opt.source = NULL;
	out = run(&opt, "Event: QueueCallerJoin\nLinkedid: c1\n\n");
	assert_string_equal(field(out, 0, "id"), "ami:c1:offered");
	json_decref(out);
}

static void
test_timestamps(void **state)
{
	static const struct {
		const char *in, *want; /* want NULL: no ts */
	} cases[] = {
		{ "1783162872.204712", "2026-07-04T11:01:12.204Z" },
		{ "1783162872", "2026-07-04T11:01:12.000Z" },
		{ "1783162872.2", "2026-07-04T11:01:12.200Z" },
		{ "1783162872.999999999999", "2026-07-04T11:01:12.999Z" },
		{ "0.5", "1970-01-01T00:00:00.500Z" },
		{ "253402300799.999", "9999-12-31T23:59:59.999Z" },
		{ "253402300800", NULL },
		{ "9999999999999", NULL },
		{ "1783162872.", NULL },
		{ ".5", NULL },
		{ "-1783162872", NULL },
		{ "1e9", NULL },
		{ "1783162872.20 UTC", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char *text;
		json_t *out;

		xasprintf(&text, "Event: QueueCallerJoin\nTimestamp: %s\n"
				 "Linkedid: c1\n\n", cases[i].in);
		out = run(&default_opt, text);
		if (cases[i].want == NULL)
			assert_null(field(out, 0, "ts"));
		else
			assert_string_equal(field(out, 0, "ts"), cases[i].want);
		json_decref(out);
		free(text);
	}
}

static void
test_ivr_values(void **state)
{
	static const struct {
		const char *value, *want; /* want: the choices joined by '|' */
	} cases[] = {
		{ "3", "3" },
		{ "1,4", "1|4" },
		{ "13", "13" },
		{ "*9#", "*9#" },
		{ " 1 - 2 ;3", "1|2|3" },
		{ "123456789012", "12345678|9012" },
		{ "menu", NULL },
		{ "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,2",
		    "1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1|1" },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char *text, joined[300] = "";
		json_t *out, *ivr, *d;
		size_t j;

		xasprintf(&text, "Event: QueueCallerJoin\nLinkedid: c1\n"
				 "ChanVariable: HOTLINE_IVR=%s\n\n", cases[i].value);
		out = run(&default_opt, text);
		ivr = json_object_get(json_array_get(out, 0), "ivr");
		json_array_foreach(ivr, j, d) {
			if (j > 0)
				strcat(joined, "|");
			strcat(joined, json_string_value(d));
		}
		if (cases[i].want == NULL)
			assert_null(ivr);
		else
			assert_string_equal(joined, cases[i].want);
		json_decref(out);
		free(text);
	}
}

/* Where the IVR digits come from, and which value wins. */
static void
test_ivr_sources(void **state)
{
	struct ami_options opt = default_opt;
	json_t *out;

	(void)state;
	out = run(&opt,
	    /* VarSet remembered, then the join's own value is fresher */
	    "Event: VarSet\nLinkedid: c1\nVariable: HOTLINE_IVR\nValue: 1\n\n"
	    "Event: QueueCallerJoin\nLinkedid: c1\nChanVariable: OTHER=5\n"
	    "ChanVariable: HOTLINE_IVR=2\n\n"
	    /* an empty ChanVariable does not hide a VarSet */
	    "Event: VarSet\nLinkedid: c2\nVariable: HOTLINE_IVR\nValue: 4\n\n"
	    "Event: QueueCallerJoin\nLinkedid: c2\nChanVariable: HOTLINE_IVR=\n\n"
	    /* other variables, LOCAL() ones and other channel prefixes don't count */
	    "Event: VarSet\nLinkedid: c3\nVariable: LOCAL(HOTLINE_IVR)\nValue: 7\n\n"
	    "Event: VarSet\nLinkedid: c3\nVariable: HOTLINE_IVR2\nValue: 7\n\n"
	    "Event: QueueCallerJoin\nLinkedid: c3\nDestChanVariable: HOTLINE_IVR=7\n"
	    "ChanVariable: HOTLINE_IVRX=7\n\n");
	assert_int_equal(json_array_size(out), 3);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(json_array_get(out, 0), "ivr"), 0)),
	    "2");
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(json_array_get(out, 1), "ivr"), 0)),
	    "4");
	assert_null(json_object_get(json_array_get(out, 2), "ivr"));
	json_decref(out);

	/* with no IVR variable configured, none is read */
	opt.ivr_variable = NULL;
	out = run(&opt, "Event: VarSet\nLinkedid: c1\nVariable: HOTLINE_IVR\nValue: 1\n\n"
			"Event: QueueCallerJoin\nLinkedid: c1\n"
			"ChanVariable: HOTLINE_IVR=2\n\n");
	assert_null(json_object_get(json_array_get(out, 0), "ivr"));
	json_decref(out);
}

static void
test_caller_and_line(void **state)
{
	json_t *out;

	(void)state;
	out = run(&default_opt,
	    "Event: QueueCallerJoin\nLinkedid: c1\nCallerIDNum: <unknown>\nExten: s\n\n"
	    "Event: Join\nUniqueid: c2\nCallerIDNum: unknown\n\n"
	    "Event: Join\nUniqueid: c3\nCallerID: 0912345678\n\n");
	assert_int_equal(json_array_size(out), 3);
	assert_null(field(out, 0, "caller"));
	assert_null(field(out, 0, "line"));
	assert_null(field(out, 1, "caller"));
	assert_string_equal(field(out, 2, "caller"), "0912345678");
	json_decref(out);
}

int
main(void)
{
	struct CMUnitTest tests[nitems(transcripts) + 32];
	size_t n = 0;

	for (size_t i = 0; i < nitems(transcripts); i++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(
		    test_transcript, (void *)&transcripts[i]);
		tests[n++].name = transcripts[i].name;
	}
#define ADD(f) tests[n++] = (struct CMUnitTest)cmocka_unit_test(f)
	ADD(test_login_action);
	ADD(test_new_refuses_header_breaks);
	ADD(test_oversized_block);
	ADD(test_block_limit_exact);
	ADD(test_unknown_events_ignored);
	ADD(test_lines_without_separator);
	ADD(test_missing_linkedid);
	ADD(test_hangup_rules);
	ADD(test_transfer_rules);
	ADD(test_login_replies);
	ADD(test_failure_is_sticky);
	ADD(test_reset_keeps_calls);
	ADD(test_state_cap);
	ADD(test_state_cap_default);
	ADD(test_field_limits);
	ADD(test_long_source);
	ADD(test_timestamps);
	ADD(test_ivr_values);
	ADD(test_ivr_sources);
	ADD(test_caller_and_line);
#undef ADD
	return _cmocka_run_group_tests("ami", tests, n, NULL, NULL);
}
