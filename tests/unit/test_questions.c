/*
 * test_questions.c: the key questions of a rules file and the `answers`
 * condition (hotline111-rules(5) QUESTIONS): what loads, what is refused
 * with which "t.conf:LINE: message", how answers decide, and how answers
 * sent by a console or a PBX are checked against the questions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "rulestest.h"
#include "triage.h"
#include "xmalloc.h"

#ifndef TOP_SRCDIR
#error "build with -DTOP_SRCDIR=\"...\""
#endif

#define NAME RULESTEST_NAME
#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

#define CATS                                                                                       \
	"categories = ( { id = \"harm\"; label = \"Harm\"; }, { id = \"info\"; label = \"I\"; } "  \
	");\n"
/* Two questions on lines 2 and 3; the file's line 1 is CATS. */
#define QS                                                                                            \
	"questions = ( { id = \"danger_now\"; text = \"Trẻ có đang gặp nguy hiểm?\"; "        \
	"answers = [ \"yes\", \"no\", \"unknown\" ]; hint = \"Hỏi rõ.\"; },\n"                     \
	"{ id = \"child_age\"; text = \"Mấy tuổi?\"; range = [ 0, 17 ]; answers = [ \"unknown\" " \
	"]; } );\n"
#define RULE_R "rules = ( { name = \"r\"; text_any = \"x\"; category = \"harm\"; } );\n"



struct refusal {
	const char *text;
	const char *want;
};

static void
check_refusals_(const struct refusal *rows, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += !rulestest_refused_as(rows[i].text, rows[i].want);
	if (bad)
		fail_msg("%d of %zu files not refused as they should be", bad, n);
}
#define check_refusals(rows) check_refusals_(rows, NROWS(rows))

/* --- loading ------------------------------------------------------------- */

static void
test_questions_load(void **state)
{
	struct triage_rules *r = rulestest_load(CATS QS RULE_R);
	json_t *q = triage_questions_json(r);
	json_t *want = json_pack("[{s:s, s:s, s:s, s:[sss], s:n}, {s:s, s:s, s:n, s:[s], s:[ii]}]",
	    "id", "danger_now", "text", "Trẻ có đang gặp nguy hiểm?", "hint", "Hỏi rõ.", "answers",
	    "yes", "no", "unknown", "range", "id", "child_age", "text", "Mấy tuổi?", "hint",
	    "answers", "unknown", "range", 0, 17);

	assert_int_equal(triage_question_count(r), 2);
	assert_non_null(want);
	assert_true(json_equal(q, want));
	json_decref(want);
	json_decref(q);
	triage_free(r);
	/* no questions at all is fine: the file of before */
	r = rulestest_load(CATS RULE_R);
	assert_int_equal(triage_question_count(r), 0);
	q = triage_questions_json(r);
	assert_int_equal(json_array_size(q), 0);
	json_decref(q);
	triage_free(r);
}

static const char *
many_questions(int n, int answers, size_t textlen)
{
	static char buf[65536];
	size_t o = (size_t)snprintf(buf, sizeof(buf), CATS "questions = (\n");
	char *text = xmalloc(textlen + 1);

	memset(text, 'a', textlen);
	text[textlen] = '\0';
	for (int i = 0; i < n; i++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "%s{ id = \"q%c%c\"; text = \"%s\"; "
		    "answers = [",
		    i ? ",\n" : "", 'a' + i / 26, 'a' + i % 26, text);
		for (int a = 0; a < answers; a++)
			o += (size_t)snprintf(
			    buf + o, sizeof(buf) - o, "%s\"a%d\"", a ? ", " : "", a);
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "]; }");
	}
	snprintf(buf + o, sizeof(buf) - o, " );\n" RULE_R);
	free(text);
	return buf;
}

static void
test_questions_limits(void **state)
{
	struct triage_rules *r;

	/* the most the loader takes */
	r = rulestest_load(many_questions(32, 12, 512));
	assert_int_equal(triage_question_count(r), 32);
	triage_free(r);
	assert_true(rulestest_refused_as(many_questions(33, 2, 10), "t.conf:35: more than 32 questions"));
	assert_true(rulestest_refused_as(many_questions(1, 13, 10), "t.conf:3: more than 12 answers"));
	assert_true(
	    rulestest_refused_as(many_questions(1, 2, 513), "t.conf:3: 'text' is longer than 512 bytes"));
}

static const struct refusal malformed[] = {
    /* the list itself */
    {CATS "questions = { id = \"a\"; };\n" RULE_R,
        "t.conf:2: 'questions' must be a list ( { … }, … )"},
    {CATS "questions = ( );\n" RULE_R, "t.conf:2: 'questions' is an empty list"},
    {CATS "questions = ( \"danger_now\" );\n" RULE_R,
        "t.conf:2: a question must be a group { id = …; text = …; answers = …; }"},
    /* what a question needs */
    {CATS "questions = ( { text = \"T\"; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: question has no 'id'"},
    {CATS "questions = ( { id = \"q\"; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: question 'q' has no 'text'"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; } );\n" RULE_R,
        "t.conf:2: question 'q' needs 'answers' (two at least) or a 'range'"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"only\" ]; } );\n" RULE_R,
        "t.conf:2: question 'q' needs 'answers' (two at least) or a 'range'"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ ]; } );\n" RULE_R,
        "t.conf:2: 'answers' is an empty list"},
    /* ids and answers are words */
    {CATS
        "questions = ( { id = \"Danger\"; text = \"T\"; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: question id 'Danger' must be 1 to 32 of a-z and _, a letter first"},
    {CATS "questions = ( { id = \"q1\"; text = \"T\"; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: question id 'q1' must be 1 to 32 of a-z and _, a letter first"},
    {CATS "questions = ( { id = \"_q\"; text = \"T\"; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: question id '_q' must be 1 to 32 of a-z and _, a letter first"},
    {CATS "questions = ( { id = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; text = \"T\"; answers = "
          "[ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: question id 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' must be 1 to 32 of a-z and "
        "_, a letter first"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"có\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: answer 'có' must be 1 to 32 of a-z 0-9 _, a letter first"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"7\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: answer '7' must be 1 to 32 of a-z 0-9 _, a letter first"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"a\", \"\" ]; } );\n" RULE_R,
        "t.conf:2: answer '' must be 1 to 32 of a-z 0-9 _, a letter first"},
    /* duplicates */
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"a\", \"b\", \"a\" ]; } "
          ");\n" RULE_R,
        "t.conf:2: answer 'a' listed twice"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"a\", \"b\" ]; },\n"
          "{ id = \"q\"; text = \"U\"; answers = [ \"c\", \"d\" ]; } );\n" RULE_R,
        "t.conf:3: duplicate question 'q' (first at line 2)"},
    {CATS "questions = ( { id = \"q\"; id = \"r\"; text = \"T\"; answers = [ \"a\", \"b\" ]; "
          "} );\n" RULE_R,
        "t.conf:2: duplicate setting name"},
    /* wrong types */
    {CATS "questions = ( { id = 7; text = \"T\"; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: 'id' must be a string"},
    {CATS "questions = ( { id = \"q\"; text = 1; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: 'text' must be a string"},
    {CATS "questions = ( { id = \"q\"; text = \"\"; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:2: 'text' must not be empty"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; hint = true; answers = [ \"a\", \"b\" ]; "
          "} );\n" RULE_R,
        "t.conf:2: 'hint' must be a string"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = \"a\"; } );\n" RULE_R,
        "t.conf:2: 'answers' must be a list of words [ \"yes\", \"no\" ]"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ 1, 2 ]; } );\n" RULE_R,
        "t.conf:2: 'answers' must be a list of words"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; range = 17; } );\n" RULE_R,
        "t.conf:2: 'range' must be a pair of integers [min, max] within 0..150"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; range = [ 0, \"17\" ]; } );\n" RULE_R,
        "t.conf:2: mismatched element type in array"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; range = ( 0, \"17\" ); } );\n" RULE_R,
        "t.conf:2: 'range' must be a pair of integers [min, max] within 0..150"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; range = [ 0.5, 17.0 ]; } );\n" RULE_R,
        "t.conf:2: 'range' must be a pair of integers [min, max] within 0..150"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; range = [ 0, 151 ]; } );\n" RULE_R,
        "t.conf:2: 'range' must be a pair of integers [min, max] within 0..150"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; range = [ 9, 3 ]; } );\n" RULE_R,
        "t.conf:2: 'range' [min, max] needs min <= max"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; range = [ 0, 1, 2 ]; } );\n" RULE_R,
        "t.conf:2: 'range' must be a pair of integers [min, max] within 0..150"},
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"a\", \"b\" ]; asked = 1; } "
          ");\n" RULE_R,
        "t.conf:2: unknown key 'asked' in a question"},
    /* hostile: an over-long hint, a string left open */
    {CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"a\", \"b\" ]; hint = \""
          "\xff\xfe\"; } );\n" RULE_R,
        "t.conf:2: 'hint' is not valid UTF-8"},
    {CATS "questions = ( { id = \"q\"; text = \"T; answers = [ \"a\", \"b\" ]; } );\n" RULE_R,
        "t.conf:3: unterminated string"},
};

static void
test_questions_refused(void **state)
{
	check_refusals(malformed);
}

static void
test_hint_too_long(void **state)
{
	char *text, *hint = xmalloc(1026);

	memset(hint, 'h', 1025);
	hint[1025] = '\0';
	xasprintf(&text,
	    CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"a\", \"b\" ]; "
	         "hint = \"%s\"; } );\n" RULE_R,
	    hint);
	assert_true(rulestest_refused_as(text, "t.conf:2: 'hint' is longer than 1024 bytes"));
	free(text);
	hint[1024] = '\0';
	xasprintf(&text,
	    CATS "questions = ( { id = \"q\"; text = \"T\"; answers = [ \"a\", \"b\" ]; "
	         "hint = \"%s\"; } );\n" RULE_R,
	    hint);
	triage_free(rulestest_load(text));
	free(text);
	free(hint);
}

/* --- the answers condition: refusals -------------------------------------- */

#define RULE_A(cond) "rules = ( { name = \"a\"; answers = " cond "; priority = 1; } );\n"

static const struct refusal bad_conditions[] = {
    {CATS QS RULE_A("{ danger = \"yes\"; }"),
        "t.conf:4: rule 'a': answers: no question 'danger' in 'questions'"},
    {CATS RULE_A("{ danger_now = \"yes\"; }"),
        "t.conf:2: rule 'a': answers: no question 'danger_now' in 'questions'"},
    {CATS QS RULE_A("{ danger_now = \"maybe\"; }"),
        "t.conf:4: rule 'a': answers.danger_now: 'maybe' is not one of its answers"},
    {CATS QS RULE_A("{ danger_now = [ \"yes\", \"maybe\" ]; }"),
        "t.conf:4: rule 'a': answers.danger_now: 'maybe' is not one of its answers"},
    {CATS QS RULE_A("{ danger_now = [ ]; }"),
        "t.conf:4: rule 'a': answers.danger_now is an empty list"},
    {CATS QS RULE_A("{ danger_now = 1; }"),
        "t.conf:4: rule 'a': answers.danger_now must be an answer or a list of answers"},
    {CATS QS RULE_A("{ danger_now = { yes = 1; }; }"),
        "t.conf:4: rule 'a': answers.danger_now must be an answer or a list of answers"},
    {CATS QS RULE_A("{ child_age = 7; }"),
        "t.conf:4: rule 'a': answers.child_age: a number is tested with child_age = [min, "
        "max]; here only its words"},
    {CATS QS RULE_A("{ }"), "t.conf:4: rule 'a': 'answers' is an empty group"},
    {CATS QS RULE_A("\"danger_now\""),
        "t.conf:4: rule 'a': 'answers' must be a group { question = \"answer\"; … }"},
    {CATS QS RULE_A("[ \"danger_now\" ]"),
        "t.conf:4: rule 'a': 'answers' must be a group { question = \"answer\"; … }"},
};

static void
test_condition_refused(void **state)
{
	check_refusals(bad_conditions);
}

/* --- the answers condition: deciding -------------------------------------- */

static const char decide_rules[] = CATS QS
    "rules = (\n"
    "{ name = \"hurt\"; text_any = \"đánh\"; category = \"harm\"; priority = 3; },\n"
    "{ name = \"danger\"; answers = { danger_now = \"yes\"; }; priority = 1; },\n"
    "{ name = \"unsure\"; answers = { danger_now = [ \"unknown\", \"no\" ]; }; "
    "category = \"harm\"; tags = [ \"ask-again\" ]; },\n"
    "{ name = \"young-harm\"; category = [ \"harm\" ]; answers = { child_age = \"unknown\"; }; "
    "raise = 1; },\n"
    "{ name = \"small\"; child_age = [ 0, 5 ]; raise = 1; }\n"
    ");\n";

struct eval_row {
	const char *text;
	const char *answers; /* JSON, or NULL */
	int child_age;
	const char *want; /* "P<n> <category|-> rule rule …" */
};

static const struct eval_row eval_rows[] = {
    /* nothing alarming in the words: the answer alone makes it P1 */
    {"Chào chị, em muốn hỏi chuyện", NULL, -1, "P4 -"},
    {"Chào chị, em muốn hỏi chuyện", "{\"danger_now\":\"yes\"}", -1, "P1 - danger"},
    {"Chào chị, em muốn hỏi chuyện", "{\"danger_now\":\"no\"}", -1, "P4 harm unsure"},
    {"Chào chị, em muốn hỏi chuyện", "{\"danger_now\":\"unknown\"}", -1, "P4 harm unsure"},
    /* a word the question does not take, or a number, is no answer */
    {"Chào chị", "{\"danger_now\":\"maybe\"}", -1, "P4 -"},
    {"Chào chị", "{\"danger_now\":1}", -1, "P4 -"},
    {"Chào chị", "{\"danger_now\":true}", -1, "P4 -"},
    /* answers no question knows are ignored here */
    {"Chào chị", "{\"who\":\"yes\"}", -1, "P4 -"},
    /* with the text's rules: category from the text, then the answers */
    {"bố đánh con", "{\"danger_now\":\"yes\"}", -1, "P1 harm hurt danger"},
    {"bố đánh con", "{\"child_age\":\"unknown\"}", -1, "P2 harm hurt young-harm"},
    /* an age answered is the child's age, before the input's and the text's */
    {"bố đánh con", "{\"child_age\":4}", -1, "P2 harm hurt small"},
    {"bố đánh con", "{\"child_age\":4}", 12, "P2 harm hurt small"},
    {"bố đánh con", "{\"child_age\":12}", 4, "P3 harm hurt"},
    {"bố đánh con", NULL, 4, "P2 harm hurt small"},
    /* out of the question's range: no answer, the input's age stands */
    {"bố đánh con", "{\"child_age\":40}", 4, "P2 harm hurt small"},
    /* both conditions of a rule must hold */
    {"Chào chị", "{\"child_age\":\"unknown\"}", -1, "P4 -"},
};

static void
describe(const struct triage_result *res, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(
	    buf, len, "P%d %s", res->priority, res->category != NULL ? res->category : "-");

	for (int i = 0; i < res->nrules && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, " %s", res->rules[i]);
}

static void
test_condition_decides(void **state)
{
	struct triage_rules *r = rulestest_load(decide_rules);
	char got[512];
	int bad = 0;

	for (size_t i = 0; i < NROWS(eval_rows); i++) {
		struct triage_input in;
		struct triage_result res;
		json_t *a = eval_rows[i].answers ? json_loads(eval_rows[i].answers, 0, NULL) : NULL;

		triage_input_init(&in);
		in.text = eval_rows[i].text;
		in.child_age = eval_rows[i].child_age;
		in.answers = a;
		assert_int_equal(triage_eval(r, &in, &res), 0);
		describe(&res, got, sizeof(got));
		if (strcmp(got, eval_rows[i].want) != 0) {
			print_error("eval_rows[%zu] %s %s\n  got  %s\n  want %s\n", i,
			    eval_rows[i].text, eval_rows[i].answers ? eval_rows[i].answers : "-",
			    got, eval_rows[i].want);
			bad++;
		}
		json_decref(a);
	}
	triage_free(r);
	if (bad)
		fail_msg("%d rows wrong", bad);
}

/* The category a case already has is what a category condition sees. */
static void
test_condition_on_input_category(void **state)
{
	struct triage_rules *r = rulestest_load(decide_rules);
	struct triage_input in;
	struct triage_result res;
	json_t *a = json_pack("{s:s}", "child_age", "unknown");

	triage_input_init(&in);
	in.text = "alo";
	in.answers = a;
	in.category = "harm";
	assert_int_equal(triage_eval(r, &in, &res), 0);
	assert_int_equal(res.priority, 3);
	assert_int_equal(res.nrules, 1);
	assert_string_equal(res.rules[0], "young-harm");
	in.category = "info";
	assert_int_equal(triage_eval(r, &in, &res), 0);
	assert_int_equal(res.priority, 4);
	json_decref(a);
	triage_free(r);
}

/* --- answers from a console or a PBX -------------------------------------- */

struct check_row {
	const char *answers; /* JSON */
	const char *err;     /* NULL: accepted */
};

static const struct check_row check_rows[] = {
    {"{\"danger_now\":\"yes\"}", NULL},
    {"{\"danger_now\":\"unknown\",\"child_age\":0}", NULL},
    {"{\"child_age\":17}", NULL},
    {"{\"child_age\":\"unknown\"}", NULL},
    {"{}", "answers: must be an object of one answer or more"},
    {"[\"danger_now\"]", "answers: must be an object of one answer or more"},
    {"\"yes\"", "answers: must be an object of one answer or more"},
    {"{\"danger\":\"yes\"}", "answers: no question 'danger' in the rules"},
    {"{\"Danger Now\":\"yes\"}",
        "answers: no question '(a key that is not a question id)' in the rules"},
    {"{\"danger_now \":\"yes\"}",
        "answers: no question '(a key that is not a question id)' in the rules"},
    {"{\"danger_now\":\"maybe\"}", "answers.danger_now: must be one of yes, no, unknown"},
    {"{\"danger_now\":\"YES\"}", "answers.danger_now: must be one of yes, no, unknown"},
    {"{\"danger_now\":1}", "answers.danger_now: must be one of yes, no, unknown"},
    {"{\"danger_now\":null}", "answers.danger_now: must be one of yes, no, unknown"},
    {"{\"danger_now\":[\"yes\"]}", "answers.danger_now: must be one of yes, no, unknown"},
    {"{\"child_age\":18}", "answers.child_age: must be an integer 0..17 or one of unknown"},
    {"{\"child_age\":-1}", "answers.child_age: must be an integer 0..17 or one of unknown"},
    {"{\"child_age\":7.5}", "answers.child_age: must be an integer 0..17 or one of unknown"},
    {"{\"child_age\":\"7\"}", "answers.child_age: must be an integer 0..17 or one of unknown"},
    {"{\"child_age\":99999999999999}",
        "answers.child_age: must be an integer 0..17 or one of unknown"},
    /* one bad answer refuses them all */
    {"{\"child_age\":3,\"danger_now\":\"maybe\"}",
        "answers.danger_now: must be one of yes, no, unknown"},
};

static void
test_answers_check(void **state)
{
	struct triage_rules *r = rulestest_load(CATS QS RULE_R), *none = rulestest_load(CATS RULE_R);
	char err[160];
	int bad = 0;

	for (size_t i = 0; i < NROWS(check_rows); i++) {
		json_t *a =
		    json_loads(check_rows[i].answers, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		int rc;

		assert_non_null(a);
		err[0] = '\0';
		rc = triage_answers_check(r, a, err, sizeof(err));
		if (check_rows[i].err == NULL ? rc != 0
		                              : rc != -1 || strcmp(err, check_rows[i].err)) {
			print_error("check_rows[%zu] %s\n  got  %d %s\n  want %s\n", i,
			    check_rows[i].answers, rc, err,
			    check_rows[i].err ? check_rows[i].err : "ok");
			bad++;
		}
		json_decref(a);
	}
	/* a file without questions takes no answers; nor does no file */
	{
		json_t *a = json_pack("{s:s}", "danger_now", "yes");

		assert_int_equal(triage_answers_check(none, a, err, sizeof(err)), -1);
		assert_string_equal(err, "answers: the rules file asks no questions");
		assert_int_equal(triage_answers_check(NULL, a, err, sizeof(err)), -1);
		json_decref(a);
	}
	/* a short buffer is cut, never overrun */
	{
		json_t *a = json_pack("{s:s}", "danger_now", "maybe");
		char tiny[12];

		assert_int_equal(triage_answers_check(r, a, tiny, sizeof(tiny)), -1);
		assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
		json_decref(a);
	}
	triage_free(r);
	triage_free(none);
	if (bad)
		fail_msg("%d rows wrong", bad);
}

/* --- the shipped file -------------------------------------------------------- */

static void
test_shipped_questions(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = triage_load(TOP_SRCDIR "/conf/rules.conf", err, sizeof(err));
	static const char *const ids[] = {
	    "danger_now", "abuser_access", "injured", "child_age", "location_known"};
	struct triage_input in;
	struct triage_result res;
	json_t *q, *a;

	if (r == NULL)
		fail_msg("%s", err);
	q = triage_questions_json(r);
	assert_int_equal(json_array_size(q), NROWS(ids));
	for (size_t i = 0; i < NROWS(ids); i++)
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(q, i), "id")), ids[i]);
	json_decref(q);
	/* nothing alarming said; danger now answered yes */
	triage_input_init(&in);
	in.text = "Chị ơi cho em hỏi chuyện của bạn em";
	assert_int_equal(triage_eval(r, &in, &res), 0);
	assert_int_not_equal(res.priority, 1);
	a = json_pack("{s:s}", "danger_now", "yes");
	in.answers = a;
	assert_int_equal(triage_eval(r, &in, &res), 0);
	assert_int_equal(res.priority, 1);
	json_decref(a);
	/* an injury that needs a doctor */
	a = json_pack("{s:s}", "injured", "doctor");
	in.answers = a;
	assert_int_equal(triage_eval(r, &in, &res), 0);
	assert_int_equal(res.priority, 1);
	json_decref(a);
	/* the abuser can reach the child: P2 on a harm category, nothing elsewhere */
	a = json_pack("{s:s}", "abuser_access", "yes");
	in.answers = a;
	in.text = "alo";
	in.category = "abuse.physical";
	assert_int_equal(triage_eval(r, &in, &res), 0);
	assert_true(res.priority <= 2);
	in.category = "info";
	assert_int_equal(triage_eval(r, &in, &res), 0);
	assert_int_equal(res.priority, 4);
	json_decref(a);
	triage_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_questions_load),
	    cmocka_unit_test(test_questions_limits),
	    cmocka_unit_test(test_questions_refused),
	    cmocka_unit_test(test_hint_too_long),
	    cmocka_unit_test(test_condition_refused),
	    cmocka_unit_test(test_condition_decides),
	    cmocka_unit_test(test_condition_on_input_category),
	    cmocka_unit_test(test_answers_check),
	    cmocka_unit_test(test_shipped_questions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
