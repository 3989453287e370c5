/*
 * test_triage.c: the rule engine, one small rules file per behaviour,
 * and the files it must refuse, each with its "FILE:LINE: message".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#include "textnorm.h"
#include "triage.h"
#include "xmalloc.h"

/* Categories on line 1, so that rules start on line 2. */
#define CATS                                                                                       \
	"categories = ( { id = \"drowning\"; label = \"Đuối nước\"; "                        \
	"chi = \"Drowning\"; }, { id = \"abuse.sexual\"; label = "                                 \
	"\"Xâm hại tình dục\"; }, { id = \"info\"; label = \"Thông tin\"; "                 \
	"}, { id = \"missing\"; label = \"Mất tích\"; } );\n"

static char dir[] = "/tmp/test_triage.XXXXXX";
static char path[256];

static int
group_setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/rules.conf", dir);
	return 0;
}

static int
group_teardown(void **state)
{
	unlink(path);
	rmdir(dir);
	return 0;
}

static void
write_rules(const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static struct triage_rules *
load(const char *text)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;

	write_rules(text, strlen(text));
	r = triage_load(path, err, sizeof(err));
	if (r == NULL)
		print_error("unexpected: %s\n", err);
	assert_non_null(r);
	return r;
}

/* The load must fail with exactly "PATH:" followed by want. */
static void
assert_refused_len(const char *text, size_t len, const char *want)
{
	char err[TRIAGE_ERRLEN], full[TRIAGE_ERRLEN];

	write_rules(text, len);
	assert_null(triage_load(path, err, sizeof(err)));
	snprintf(full, sizeof(full), "%s:%s", path, want);
	if (strcmp(err, full) != 0)
		print_error("got  %s\nwant %s\n", err, full);
	assert_string_equal(err, full);
}

static void
assert_refused(const char *text, const char *want)
{
	assert_refused_len(text, strlen(text), want);
}

static struct triage_result
run_input(const struct triage_rules *r, const struct triage_input *in)
{
	struct triage_result res;

	assert_int_equal(triage_eval(r, in, &res), 0);
	return res;
}

static struct triage_result
run(const struct triage_rules *r, const char *text)
{
	struct triage_input in;

	triage_input_init(&in);
	in.text = text;
	return run_input(r, &in);
}

static int
fired(const struct triage_result *res, const char *name)
{
	for (int i = 0; i < res->nrules; i++)
		if (strcmp(res->rules[i], name) == 0)
			return 1;
	return 0;
}

static int
fires(const struct triage_rules *r, const char *text, const char *name)
{
	struct triage_result res = run(r, text);

	return fired(&res, name);
}

/* --- text conditions ---------------------------------------------------- */

static void
test_text_any(void **state)
{
	struct triage_rules *r = load(CATS "rules = ( { name = \"d\"; "
	                                   "text_any = [ \"đuối nước\", \"chết đuối\" ]; "
	                                   "category = \"drowning\"; priority = 2; } );\n");
	struct triage_result res = run(r, "Con tôi bị ĐUỐI NƯỚC");

	assert_int_equal(res.priority, 2);
	assert_string_equal(res.category, "drowning");
	assert_int_equal(res.nrules, 1);
	assert_string_equal(res.rules[0], "d");
	assert_true(fires(r, "chet duoi o song", "d"));
	assert_true(fires(r,
	    "bé đuo\xcc\x82\xcc\x81i nu\xcc\x9bo\xcc\x9b\xcc\x81"
	    "c",
	    "d"));
	assert_false(fires(r, "đuối sức", "d"));
	res = run(r, "hỏi thông tin");
	assert_int_equal(res.priority, 4);
	assert_null(res.category);
	assert_int_equal(res.nrules, 0);
	triage_free(r);
}

/* A phrase written without marks matches text with them, and back. */
static void
test_folded_phrases(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = ( { name = \"a\"; "
	              "text_any = \"duoi nuoc\"; tags = \"t\"; }, { name = \"b\"; "
	              "text_any = \"ĐUỐI NƯỚC\"; tags = \"t\"; } );\n");
	struct triage_result res = run(r, "đuối nước!");

	assert_int_equal(res.nrules, 2);
	res = run(r, "Duoi Nuoc");
	assert_int_equal(res.nrules, 2);
	triage_free(r);
}

static void
test_text_all(void **state)
{
	struct triage_rules *r = load(CATS "rules = ( { name = \"a\"; "
	                                   "text_all = ( \"bị đánh\", [ \"trường\", \"lớp\" ] ); "
	                                   "tags = \"t\"; } );\n");

	assert_true(fires(r, "bị đánh ở trường", "a"));
	assert_true(fires(r, "trong lớp em bị đánh", "a"));
	assert_false(fires(r, "bị đánh ở nhà", "a"));
	assert_false(fires(r, "ở trường lớp", "a"));
	triage_free(r);
	r = load(CATS "rules = ( { name = \"a\"; text_all = [ \"x\", \"y\" ];"
	              " tags = \"t\"; } );\n");
	assert_true(fires(r, "y x", "a"));
	assert_false(fires(r, "x", "a"));
	triage_free(r);
}

static void
test_text_none(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = ( { name = \"a\"; "
	              "text_any = \"xâm hại\"; text_none = [ \"phòng chống\", "
	              "\"tập huấn\" ]; category = \"abuse.sexual\"; priority = 2; } );\n");

	assert_true(fires(r, "cháu bị xâm hại", "a"));
	assert_false(fires(r, "tài liệu phòng chống xâm hại", "a"));
	assert_false(fires(r, "TẬP HUẤN về xâm hại", "a"));
	triage_free(r);
	/* text_none alone: the rule is looked at for every text */
	r = load(CATS "rules = ( { name = \"quiet\"; text_none = \"a\"; "
	              "tags = \"t\"; } );\n");
	assert_true(fires(r, "b", "quiet"));
	assert_true(fires(r, NULL, "quiet"));
	assert_false(fires(r, "a", "quiet"));
	triage_free(r);
}

static void
test_word_boundaries(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = ( "
	              "{ name = \"pond\"; text_any = \"ao\"; tags = \"t\"; },\n"
	              "{ name = \"lake\"; text_any = \"hồ\"; text_none = \"hồ sơ\"; "
	              "tags = \"t\"; } );\n");

	assert_true(fires(r, "rơi xuống ao", "pond"));
	assert_true(fires(r, "ao.", "pond"));
	assert_false(fires(r, "bao nhiêu", "pond"));
	assert_false(fires(r, "aoa", "pond"));
	assert_true(fires(r, "tắm ở hồ", "lake"));
	assert_true(fires(r, "HỒ", "lake"));
	assert_false(fires(r, "nộp hồ sơ", "lake"));
	assert_false(fires(r, "hồi", "lake"));
	triage_free(r);
}

static void
test_regex(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = ( { name = \"young\"; "
	              "regex = \" (?:[0-5]) tuoi \"; tags = \"young\"; },\n"
	              "{ name = \"caps\"; regex = \"CUU\"; tags = \"t\"; } );\n");
	struct triage_result res = run(r, "Bé 3 TUỔI bị lạc");

	assert_true(fired(&res, "young"));
	assert_int_equal(res.ntags, 1);
	assert_string_equal(res.tags[0], "young");
	assert_false(fires(r, "bé 13 tuổi", "young"));
	assert_true(fires(r, "cứu với", "caps")); /* caseless, folded */
	triage_free(r);
}

/* --- case conditions ----------------------------------------------------- */

static int
fires_input(const struct triage_rules *r, const struct triage_input *in, const char *name)
{
	struct triage_result res = run_input(r, in);

	return fired(&res, name);
}

static void
test_ivr(void **state)
{
	struct triage_rules *r = load(CATS "rules = ( { name = \"t\"; "
	                                   "ivr = \"3\"; category = \"info\"; }, { name = \"u\"; "
	                                   "ivr = [ \"21\", \"9\" ]; tags = \"u\"; } );\n");
	struct triage_input in;

	triage_input_init(&in);
	in.ivr = "3";
	assert_true(fires_input(r, &in, "t"));
	in.ivr = "31"; /* the branch behind 3 */
	assert_true(fires_input(r, &in, "t"));
	in.ivr = "13";
	assert_false(fires_input(r, &in, "t"));
	in.ivr = "213";
	assert_true(fires_input(r, &in, "u"));
	in.ivr = "2";
	assert_false(fires_input(r, &in, "u"));
	in.ivr = NULL;
	assert_int_equal(run_input(r, &in).nrules, 0);
	triage_free(r);
}

static void
test_line_queue(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = ( { name = \"l\"; "
	              "line = [ \"111\", \"18001567\" ]; tags = \"l\"; },\n"
	              "{ name = \"q\"; queue = \"night\"; tags = \"q\"; } );\n");
	struct triage_input in;

	triage_input_init(&in);
	in.line = "111";
	in.queue = "day";
	assert_true(fires_input(r, &in, "l"));
	assert_false(fires_input(r, &in, "q"));
	in.line = "1111";
	in.queue = "night";
	assert_false(fires_input(r, &in, "l"));
	assert_true(fires_input(r, &in, "q"));
	triage_free(r);
}

static void
test_child_age(void **state)
{
	struct triage_rules *r = load(CATS "rules = ( { name = \"a\"; "
	                                   "child_age = [ 0, 15 ]; raise = 1; } );\n");
	struct triage_input in;

	triage_input_init(&in);
	in.child_age = 15;
	assert_int_equal(run_input(r, &in).priority, 3);
	in.child_age = 0;
	assert_int_equal(run_input(r, &in).priority, 3);
	in.child_age = 16;
	assert_int_equal(run_input(r, &in).priority, 4);
	in.child_age = -1; /* unknown */
	assert_int_equal(run_input(r, &in).priority, 4);
	triage_free(r);
}

static void
test_province(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = ( { name = \"p\"; "
	              "province = [ \"Lạng Sơn\", \"Hà Giang\" ]; tags = \"border\"; } );\n");
	struct triage_input in;

	triage_input_init(&in);
	in.province = "LANG SON";
	assert_true(fires_input(r, &in, "p"));
	in.province = "tỉnh Lạng Sơn";
	assert_false(fires_input(r, &in, "p"));
	in.province = "Hà  Giang ";
	assert_true(fires_input(r, &in, "p"));
	in.province = NULL;
	assert_false(fires_input(r, &in, "p"));
	triage_free(r);
}

static time_t
local(int month, int hour)
{
	struct tm tm = {.tm_year = 126,
	    .tm_mon = month - 1,
	    .tm_mday = 15,
	    .tm_hour = hour,
	    .tm_min = 30,
	    .tm_isdst = -1};

	return mktime(&tm);
}

static void
test_months_hours(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = ( { name = \"summer\"; "
	              "months = [ 5, 6, 7, 8 ]; tags = \"s\"; },\n"
	              "{ name = \"night\"; hours = [ 22, 6 ]; tags = \"n\"; },\n"
	              "{ name = \"office\"; hours = [ 8, 17 ]; tags = \"o\"; },\n"
	              "{ name = \"dec\"; months = 12; tags = \"d\"; } );\n");
	struct triage_input in;

	triage_input_init(&in);
	in.when = local(7, 23);
	assert_true(fires_input(r, &in, "summer"));
	assert_true(fires_input(r, &in, "night"));
	assert_false(fires_input(r, &in, "office"));
	in.when = local(1, 5);
	assert_false(fires_input(r, &in, "summer"));
	assert_true(fires_input(r, &in, "night"));
	in.when = local(12, 6); /* [22, 6) ends before 6:00 */
	assert_false(fires_input(r, &in, "night"));
	assert_false(fires_input(r, &in, "office"));
	assert_true(fires_input(r, &in, "dec"));
	in.when = local(3, 8);
	assert_true(fires_input(r, &in, "office"));
	in.when = 0; /* unknown: no time window holds */
	assert_int_equal(run_input(r, &in).nrules, 0);
	triage_free(r);
}

static void
test_repeat_caller(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = ( { name = \"rep\"; "
	              "repeat_caller = { cases = 3; days = 30; }; raise = 1; },\n"
	              "{ name = \"week\"; repeat_caller = { days = 7; cases = 2; }; "
	              "tags = \"w\"; } );\n");
	struct triage_input in;

	assert_int_equal(triage_repeat_days(r), 30);
	triage_input_init(&in);
	in.prior_cases = 3;
	in.prior_days = 30;
	assert_true(fires_input(r, &in, "rep"));
	assert_int_equal(run_input(r, &in).priority, 3);
	assert_false(fires_input(r, &in, "week")); /* counted over 30 > 7 */
	in.prior_days = 7;
	assert_true(fires_input(r, &in, "week"));
	in.prior_cases = 1;
	assert_int_equal(run_input(r, &in).nrules, 0);
	in.prior_cases = -1; /* unknown */
	in.prior_days = 7;
	assert_int_equal(run_input(r, &in).nrules, 0);
	triage_free(r);
	r = load(CATS "rules = ( { name = \"x\"; text_any = \"x\"; "
	              "tags = \"x\"; } );\n");
	assert_int_equal(triage_repeat_days(r), 0);
	triage_free(r);
}

static void
test_category_condition(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = (\n"
	              "{ name = \"set\"; text_any = \"đuối nước\"; category = \"drowning\";"
	              " priority = 2; },\n"
	              "{ name = \"now\"; category = [ \"drowning\", \"abuse.sexual\" ]; "
	              "text_any = \"cứu với\"; priority = 1; } );\n");
	struct triage_input in;

	/* chained: "now" sees the category "set" chose */
	assert_int_equal(run(r, "đuối nước, cứu với").priority, 1);
	assert_int_equal(run(r, "cứu với").priority, 4);
	/* the input's category, before any rule chose one */
	triage_input_init(&in);
	in.text = "cứu với";
	in.category = "abuse.sexual";
	assert_int_equal(run_input(r, &in).priority, 1);
	assert_null(run_input(r, &in).category);
	in.category = "not.declared";
	assert_int_equal(run_input(r, &in).priority, 4);
	triage_free(r);
}

/* --- actions and the decision --------------------------------------------- */

static void
test_priority_and_raise(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = (\n"
	              "{ name = \"floor3\"; text_any = \"a\"; priority = 3; },\n"
	              "{ name = \"floor2\"; text_any = \"b\"; priority = 2; },\n"
	              "{ name = \"up1\"; text_any = \"c\"; raise = 1; },\n"
	              "{ name = \"up3\"; text_any = \"d\"; raise = 3; } );\n");
	struct triage_input in;

	assert_int_equal(run(r, "a").priority, 3);
	assert_int_equal(run(r, "a b").priority, 2);
	assert_int_equal(run(r, "c").priority, 3);
	assert_int_equal(run(r, "a c").priority, 2); /* floor, then raise */
	assert_int_equal(run(r, "b c").priority, 1);
	assert_int_equal(run(r, "c d").priority, 1); /* bounded at 1 */
	triage_input_init(&in);
	in.text = "a";
	in.priority = 2; /* only raises: a floor of 3 leaves 2 alone */
	assert_int_equal(run_input(r, &in).priority, 2);
	in.priority = 1;
	in.text = "a b c d";
	assert_int_equal(run_input(r, &in).priority, 1);
	in.priority = 9; /* out of range: taken as 4 */
	in.text = "c";
	assert_int_equal(run_input(r, &in).priority, 3);
	triage_free(r);
}

static void
test_category_choice(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = (\n"
	              "{ name = \"info\"; text_any = \"x\"; category = \"info\"; },\n"
	              "{ name = \"sex3\"; text_any = \"y\"; category = \"abuse.sexual\"; "
	              "priority = 3; },\n"
	              "{ name = \"miss3\"; text_any = \"z\"; category = \"missing\"; "
	              "priority = 3; },\n"
	              "{ name = \"drown2\"; text_any = \"w\"; category = \"drowning\"; "
	              "priority = 2; },\n"
	              "{ name = \"info2\"; text_any = \"v\"; category = \"info\"; } );\n");
	struct triage_result res;

	/* first in file order wins ... */
	assert_string_equal(run(r, "x v").category, "info");
	/* ... unless a later one has a strictly more urgent floor */
	assert_string_equal(run(r, "x y").category, "abuse.sexual");
	assert_string_equal(run(r, "z y").category, "abuse.sexual");
	res = run(r, "y z w x");
	assert_string_equal(res.category, "drowning");
	assert_int_equal(res.priority, 2);
	assert_int_equal(res.nrules, 4);
	assert_string_equal(res.rules[0], "info"); /* kept in file order */
	assert_string_equal(res.rules[3], "drown2");
	triage_free(r);
}

static void
test_tags(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = (\n"
	              "{ name = \"a\"; text_any = \"a\"; tags = [ \"t1\", \"t2\" ]; },\n"
	              "{ name = \"b\"; text_any = \"b\"; tags = [ \"t2\", \"t3\" ]; } );\n");
	struct triage_result res = run(r, "a b");

	assert_int_equal(res.ntags, 3);
	assert_string_equal(res.tags[0], "t1");
	assert_string_equal(res.tags[1], "t2");
	assert_string_equal(res.tags[2], "t3");
	assert_false(res.truncated);
	triage_free(r);
}

/* More rules fire than a result keeps: the first ones, and a flag. */
static void
test_truncation(void **state)
{
	size_t cap = 1 << 16, o = 0;
	char *text = xmalloc(cap);
	struct triage_rules *r;
	struct triage_result res;

	o += (size_t)snprintf(text + o, cap - o, "%srules = (\n", CATS);
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(text + o, cap - o,
		    "{ name = \"r%02d\"; "
		    "text_any = \"w\"; tags = \"t%02d\"; raise = 1; },\n",
		    i, i);
	snprintf(text + o, cap - o,
	    "{ name = \"last\"; text_any = \"q\"; "
	    "tags = \"q\"; } );\n");
	r = load(text);
	res = run(r, "w");
	assert_int_equal(res.nrules, TRIAGE_MAX_FIRED);
	assert_int_equal(res.ntags, TRIAGE_MAX_TAGS);
	assert_string_equal(res.rules[0], "r00");
	assert_true(res.truncated);
	assert_int_equal(res.priority, 1);
	triage_free(r);
	free(text);
}

static void
test_queries(void **state)
{
	struct triage_rules *r = load(CATS "rules = ( { name = \"a\"; "
	                                   "text_any = \"a\"; tags = \"t\"; } );\n");

	assert_int_equal(triage_category_count(r), 4);
	assert_int_equal(triage_rule_count(r), 1);
	assert_string_equal(triage_category_id(r, 0), "drowning");
	assert_null(triage_category_id(r, 4));
	assert_null(triage_category_id(r, -1));
	assert_true(triage_category_exists(r, "missing"));
	assert_false(triage_category_exists(r, "nope"));
	assert_false(triage_category_exists(r, NULL));
	assert_string_equal(triage_category_label(r, "drowning"), "Đuối nước");
	assert_null(triage_category_label(r, "nope"));
	assert_string_equal(triage_category_chi(r, "drowning"), "Drowning");
	assert_null(triage_category_chi(r, "info"));
	triage_free(r);
	triage_free(NULL);
	assert_int_equal(triage_repeat_days(NULL), 0);
}

static void
test_eval_arguments(void **state)
{
	struct triage_rules *r = load(CATS "rules = ( );\n");
	struct triage_input in;
	struct triage_result res;

	triage_input_init(&in);
	assert_int_equal(triage_eval(NULL, &in, &res), -1);
	assert_int_equal(triage_eval(r, NULL, &res), -1);
	assert_int_equal(triage_eval(r, &in, NULL), -1);
	assert_int_equal(triage_eval(r, &in, &res), 0); /* no text, no rules */
	assert_int_equal(res.priority, 4);
	triage_free(r);
}

static void
test_load_string(void **state)
{
	const char *text = CATS "rules = ( { name = \"a\"; text_any = \"a\"; "
	                        "priority = 1; } );\n";
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = triage_load_string("<mem>", text, strlen(text), err, sizeof(err));

	assert_non_null(r);
	assert_int_equal(run(r, "a").priority, 1);
	triage_free(r);
	assert_null(triage_load_string("<mem>", "rules = (", 9, err, sizeof(err)));
	assert_string_equal(err, "<mem>:1: syntax error");
	/* no room for a message is no reason to crash */
	assert_null(triage_load_string("<mem>", "x", 1, NULL, 0));
}

/* --- files that must be refused ------------------------------------------- */

#define RULE_A "rules = (\n  { name = \"a\";\n"

static void
test_refuse_syntax(void **state)
{
	assert_refused(CATS "rules = (\n  { name = \"a\" text_any = ; }\n);\n", "3: syntax error");
	assert_refused(CATS RULE_A "    priority = 1;\n  }\n", "6: syntax error");
	assert_refused(CATS "a = 1;\na = 2;\n", "3: duplicate setting name");
}

static void
test_refuse_unterminated(void **state)
{
	assert_refused(CATS "rules = (\n  { name = \"a;\n    priority = 1; }\n"
	                    ");\n",
	    "3: unterminated string");
	assert_refused(CATS "/* open\n\n", "2: comment not closed (/* without */)");
}

static void
test_refuse_unknown_key(void **state)
{
	assert_refused(CATS RULE_A "    text_anyy = [ \"x\" ];\n"
	                           "    priority = 1;\n  } );\n",
	    "4: rule 'a': unknown key 'text_anyy'");
	assert_refused(CATS "rule = ( );\n", "2: unknown key 'rule'");
	assert_refused("categories = ( { id = \"x\"; label = \"X\"; colour = "
	               "\"red\"; } );\nrules = ( );\n",
	    "1: unknown key 'colour' in a category");
	assert_refused(CATS RULE_A "    repeat_caller = { cases = 2; week = 1; };"
	                           "\n    tags = \"t\";\n  } );\n",
	    "4: rule 'a': unknown key 'repeat_caller.week'");
}

static void
test_refuse_wrong_type(void **state)
{
	assert_refused(CATS RULE_A "    text_any = \"x\";\n"
	                           "    priority = \"1\";\n  } );\n",
	    "5: rule 'a': 'priority' must be an integer from 1 to 4");
	assert_refused(CATS RULE_A "    text_any = \"x\";\n    priority = 5;\n"
	                           "  } );\n",
	    "5: rule 'a': 'priority' must be an integer from 1 to 4");
	assert_refused(CATS RULE_A "    text_any = 3;\n    priority = 1;\n"
	                           "  } );\n",
	    "4: rule 'a': 'text_any' must be a string or a list of strings");
	assert_refused(CATS RULE_A "    child_age = [ 1, 2, 3 ];\n"
	                           "    priority = 1;\n  } );\n",
	    "4: rule 'a': 'child_age' must be a pair [from, to]");
	assert_refused(CATS RULE_A "    child_age = [ 9, 2 ];\n"
	                           "    priority = 1;\n  } );\n",
	    "4: rule 'a': 'child_age' [min, max] needs min <= max");
	assert_refused(CATS RULE_A "    hours = [ 5, 5 ];\n    priority = 1;\n"
	                           "  } );\n",
	    "4: rule 'a': 'hours' [from, to] needs from != to");
	assert_refused(CATS RULE_A "    months = [ 13 ];\n    priority = 1;\n"
	                           "  } );\n",
	    "4: rule 'a': 'months' must be an integer from 1 to 12");
	assert_refused(CATS RULE_A "    ivr = \"3a\";\n    priority = 1;\n"
	                           "  } );\n",
	    "4: rule 'a': 'ivr' must be digits (0-9, *, #), at most 32");
	assert_refused(CATS RULE_A "    text_all = ( ( \"x\", 1 ) );\n"
	                           "    priority = 1;\n  } );\n",
	    "4: rule 'a': 'text_all' must be a string or a list of strings");
	assert_refused(CATS "rules = { };\n", "2: 'rules' must be a list ( { … }, … )");
	assert_refused(CATS "rules = ( \"a\" );\n", "2: a rule must be a group { name = …; … }");
	/* libconfig 1.5 would keep the low 32 bits: 4294967297 reads as 1 */
	assert_refused(CATS RULE_A "    text_any = \"x\";\n"
	                           "    priority = 4294967297;\n  } );\n",
	    "5: integer out of range");
	assert_refused(CATS RULE_A "    text_any = \"x\";\n"
	                           "    priority = 4294967297L;\n  } );\n",
	    "5: rule 'a': 'priority' must be an integer from 1 to 4");
}

static void
test_refuse_categories(void **state)
{
	assert_refused(CATS RULE_A "    text_any = \"x\";\n"
	                           "    category = \"nope\";\n  } );\n",
	    "5: rule 'a': unknown category 'nope'");
	assert_refused(CATS RULE_A "    category = [ \"drowning\", \"nope\" ];\n"
	                           "    priority = 1;\n  } );\n",
	    "4: rule 'a': unknown category 'nope'");
	assert_refused("categories = (\n { id = \"x\"; label = \"X\"; },\n"
	               " { id = \"x\"; label = \"Y\"; } );\nrules = ( );\n",
	    "3: duplicate category 'x' (first at line 2)");
	assert_refused(
	    "categories = ( { id = \"x\"; } );\nrules = ( );\n", "1: category has no 'label'");
	assert_refused("categories = ( { id = \"a b\"; label = \"X\"; } );\n"
	               "rules = ( );\n",
	    "1: category id 'a b' must be 1 to 64 of A-Z a-z 0-9 . _ -");
	assert_refused("categories = ( );\nrules = ( );\n", "1: 'categories' is an empty list");
	assert_refused("rules = ( );\n", "1: no 'categories' list");
	assert_refused("", "1: no 'categories' list");
	assert_refused(CATS, "1: no 'rules' list");
}

static void
test_refuse_regex(void **state)
{
	assert_refused(CATS RULE_A "    regex = \"(unclosed\";\n"
	                           "    priority = 1;\n  } );\n",
	    "4: rule 'a': bad regex at offset 9: missing closing parenthesis");
}

static void
test_refuse_rule_names(void **state)
{
	assert_refused(CATS "rules = (\n"
	                    "  { name = \"a\"; text_any = \"x\"; priority = 1; },\n"
	                    "  { name = \"b\"; text_any = \"y\"; priority = 1; },\n"
	                    "  { name = \"a\"; text_any = \"z\"; priority = 1; } );\n",
	    "5: duplicate rule name 'a' (first at line 3)");
	assert_refused(
	    CATS "rules = (\n  { text_any = \"x\"; priority = 1; } );\n", "3: rule has no 'name'");
	assert_refused(CATS "rules = (\n  { name = \"a b\"; text_any = \"x\"; "
	                    "priority = 1; } );\n",
	    "3: rule name 'a b' must be 1 to 64 of A-Z a-z 0-9 . _ -");
}

static void
test_refuse_empty(void **state)
{
	assert_refused(CATS RULE_A "    text_any = [ ];\n    priority = 1;\n"
	                           "  } );\n",
	    "4: rule 'a': 'text_any' is an empty list");
	assert_refused(CATS RULE_A "    text_all = ( [ ] );\n    priority = 1;\n"
	                           "  } );\n",
	    "4: rule 'a': 'text_all' has an empty group");
	assert_refused(CATS RULE_A "    text_any = [ \"!!!\" ];\n"
	                           "    priority = 1;\n  } );\n",
	    "4: rule 'a': phrase \"!!!\" has no letters or digits");
	assert_refused(CATS RULE_A "    text_any = [ \"\" ];\n    priority = 1;\n"
	                           "  } );\n",
	    "4: rule 'a': 'text_any' must not be empty");
	assert_refused(CATS RULE_A "    priority = 1;\n  } );\n",
	    "3: rule 'a': no conditions (it would fire on every case)");
	assert_refused(CATS RULE_A "    text_any = \"x\";\n  } );\n",
	    "3: rule 'a': no actions (category, priority, raise, tags)");
}

static void
test_refuse_file(void **state)
{
	char err[TRIAGE_ERRLEN], want[TRIAGE_ERRLEN];
	const char nul[] = CATS "rules = (\n\0);\n";

	assert_null(triage_load(NULL, err, sizeof(err)));
	assert_string_equal(err, "rules: no file named");
	assert_null(triage_load("/nonexistent/rules.conf", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/rules.conf: No such file or directory");
	assert_null(triage_load(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: Is a directory", dir);
	assert_string_equal(err, want);
	assert_refused_len(nul, sizeof(nul) - 1, "3: NUL byte in file");
	assert_refused(CATS "@include \"/etc/passwd\"\nrules = ( );\n",
	    "2: @include is not allowed in a rules file");
	assert_refused(CATS RULE_A "    text_any = \"\xff\";\n"
	                           "    priority = 1;\n  } );\n",
	    "4: rule 'a': 'text_any' is not valid UTF-8");
}

/* A file over 4 MiB, refused at the line where it crosses the limit. */
static void
test_refuse_big_file(void **state)
{
	size_t len = 5u << 20, o = 0;
	char *text = xmalloc(len + 1), want[64];
	unsigned line = 1;

	o += (size_t)snprintf(text, len, "%srules = ( );\n", CATS);
	while (o < len) {
		size_t n = len - o < 80 ? len - o : 80;

		memset(text + o, '#', n - 1);
		text[o + n - 1] = '\n';
		o += n;
	}
	for (size_t i = 0; i < TRIAGE_MAX_FILE; i++)
		line += text[i] == '\n';
	snprintf(want, sizeof(want),
	    "%u: file larger than 4194304 bytes "
	    "(4 MiB)",
	    line);
	assert_refused_len(text, len, want);
	free(text);
}

static char *
many_rules(int n, size_t *len)
{
	size_t cap = (size_t)n * 80 + 1024, o = 0;
	char *text = xmalloc(cap);

	o += (size_t)snprintf(text, cap, "%srules = (\n", CATS);
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, cap - o,
		    "{ name = \"r%d\"; "
		    "text_any = \"w%d\"; tags = \"t\"; }%s\n",
		    i, i, i + 1 < n ? "," : "");
	o += (size_t)snprintf(text + o, cap - o, ");\n");
	*len = o;
	return text;
}

static void
test_refuse_too_many_rules(void **state)
{
	size_t len;
	char *text = many_rules(TRIAGE_MAX_RULES + 1, &len);
	char want[64];
	struct triage_rules *r;

	/* rule i is on line i + 3 */
	snprintf(want, sizeof(want), "%d: more than 10000 rules", TRIAGE_MAX_RULES + 3);
	assert_refused_len(text, len, want);
	free(text);
	text = many_rules(TRIAGE_MAX_RULES, &len);
	text[len] = '\0';
	r = load(text);
	assert_int_equal(triage_rule_count(r), TRIAGE_MAX_RULES);
	assert_true(fires(r, "w9999", "r9999"));
	assert_false(fires(r, "w10000", "r9999"));
	triage_free(r);
	free(text);
}

/* --- the automaton against a plain substring search ----------------------- */

static uint32_t rng = 2463534242u;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng % n;
}

static void
random_words(char *out, size_t cap, int nwords, int alpha, int maxlen)
{
	size_t o = 0;

	for (int w = 0; w < nwords; w++) {
		int len = 1 + (int)rnd((uint32_t)maxlen);

		if (w > 0)
			out[o++] = ' ';
		for (int k = 0; k < len && o + 2 < cap; k++)
			out[o++] = (char)('a' + rnd((uint32_t)alpha));
	}
	out[o] = '\0';
}

/*
 * nrules rules of one phrase each (words of 1..maxlen letters from the
 * first `alpha` letters); texts mixing pieces of phrases and noise. Rule
 * i must fire exactly when " phrase " is a substring of the folded text.
 */
static void
check_against_naive(int nrules, int alpha, int maxlen, int words)
{
	size_t cap = (size_t)nrules * (size_t)(words * (maxlen + 1) + 64) + 1024;
	size_t o = 0;
	char *text = xmalloc(cap), (*phrase)[96] = xcalloc((size_t)nrules, 96);
	struct triage_rules *r;

	o += (size_t)snprintf(text, cap, "%srules = (\n", CATS);
	for (int i = 0; i < nrules; i++) {
		random_words(phrase[i], 96, 1 + (int)rnd((uint32_t)words), alpha, maxlen);
		o += (size_t)snprintf(text + o, cap - o,
		    "{ name = \"r%d\"; "
		    "text_any = \"%s\"; tags = \"t\"; }%s\n",
		    i, phrase[i], i + 1 < nrules ? "," : "");
	}
	snprintf(text + o, cap - o, ");\n");
	r = load(text);
	for (int t = 0; t < 300; t++) {
		char note[2048], pad[96], *f;
		struct triage_result res;
		int want = 0, k = 0, pieces = 1 + (int)rnd(14);

		/* short notes take one pass, long ones the interleaved lanes */
		note[0] = '\0';
		for (int piece = 0; piece < pieces; piece++) {
			random_words(pad, sizeof(pad), 2, alpha, maxlen);
			strcat(note, pad);
			strcat(note, piece % 2 ? ", " : " ");
			strcat(note, phrase[rnd((uint32_t)nrules)]);
			strcat(note, " ");
		}
		/* as triage reads it: a phrase never runs across the commas */
		size_t fcap = 0;

		f = NULL;
		textnorm_fold_sentences(note, strlen(note), &f, &fcap);
		res = run(r, note);
		for (int i = 0; i < nrules; i++) {
			char needle[100];

			snprintf(needle, sizeof(needle), " %s ", phrase[i]);
			if (strstr(f, needle) == NULL)
				continue;
			want++;
			if (k < res.nrules) {
				char name[16];

				snprintf(name, sizeof(name), "r%d", i);
				assert_string_equal(res.rules[k], name);
				k++;
			}
		}
		assert_int_equal(want > TRIAGE_MAX_FIRED ? TRIAGE_MAX_FIRED : want, res.nrules);
		free(f);
	}
	triage_free(r);
	free(phrase);
	free(text);
}

static void
test_automaton_small(void **state)
{
	/* short words from four letters: phrases overlap everywhere */
	check_against_naive(400, 4, 2, 3);
}

static void
test_automaton_large(void **state)
{
	/* enough states that the deeper ones leave the dense table */
	check_against_naive(TRIAGE_MAX_RULES, 26, 10, 6);
}

/* --- threads ------------------------------------------------------------------ */

static const char *const thread_texts[] = {
    "đuối nước cứu với",
    "bị xâm hại",
    "hỏi thông tin",
    "x y z",
    "ĐUỐI NƯỚC",
    "duoi nuoc",
    "cháu 3 tuổi bị lạc",
    "",
};

struct worker {
	const struct triage_rules *r;
	int bad;
};

static void *
worker(void *arg)
{
	struct worker *w = arg;
	struct triage_result want[8], got;
	struct triage_input in;

	for (int i = 0; i < 8; i++) {
		triage_input_init(&in);
		in.text = thread_texts[i];
		triage_eval(w->r, &in, &want[i]);
	}
	for (int n = 0; n < 20000; n++) {
		triage_input_init(&in);
		in.text = thread_texts[n % 8];
		triage_eval(w->r, &in, &got);
		w->bad += memcmp(&got, &want[n % 8], sizeof(got)) != 0;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct triage_rules *r =
	    load(CATS "rules = (\n"
	              "{ name = \"d\"; text_any = \"đuối nước\"; category = \"drowning\"; "
	              "priority = 2; },\n"
	              "{ name = \"s\"; text_any = \"xâm hại\"; category = \"abuse.sexual\";"
	              " priority = 2; },\n"
	              "{ name = \"now\"; category = [ \"drowning\" ]; text_any = "
	              "\"cứu với\"; priority = 1; },\n"
	              "{ name = \"young\"; regex = \" [0-5] tuoi \"; tags = \"y\"; } );\n");
	pthread_t t[4];
	struct worker w[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){r, 0};
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	triage_free(r);
}

/* --- the command-line helpers -------------------------------------------------- */

/* Run fn with stdout (or stderr) going to a file; returns what it wrote. */
static char *
capture(int fd, int (*fn)(void *), void *arg, int *rc)
{
	char out[300];
	FILE *f;
	long n;
	char *buf;
	int saved, tmp;

	snprintf(out, sizeof(out), "%s/out", dir);
	fflush(stdout);
	fflush(stderr);
	saved = dup(fd);
	tmp = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && tmp >= 0);
	dup2(tmp, fd);
	close(tmp);
	*rc = fn(arg);
	fflush(stdout);
	fflush(stderr);
	dup2(saved, fd);
	close(saved);
	f = fopen(out, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xcalloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(out);
	return buf;
}

static int
do_check(void *arg)
{
	return triage_cmd_check(arg);
}

static void
test_cmd_check(void **state)
{
	const char *good = CATS "rules = ( { name = \"a\"; text_any = \"x\"; "
	                        "priority = 1; } );\n";
	const char *bad = CATS "rules = ( x );\n";
	char want[512], *out;
	int rc;

	write_rules(good, strlen(good));
	out = capture(1, do_check, path, &rc);
	assert_int_equal(rc, 0);
	snprintf(want, sizeof(want), "%s: version 1, 4 categories, 1 rules, 0 word classes, ok\n", path);
	assert_string_equal(out, want);
	free(out);
	write_rules(bad, strlen(bad));
	out = capture(2, do_check, path, &rc);
	assert_int_equal(rc, 1);
	snprintf(want, sizeof(want), "%s:2: syntax error\n", path);
	assert_string_equal(out, want);
	free(out);
}

static int
do_triage_json(void *arg)
{
	char *argv[] = {"Bé rơi xuống ao, cứu với", "hỏi \"thông tin\"", "\xff"};

	return triage_cmd_triage(arg, 1, 3, argv);
}

static int
do_triage_text(void *arg)
{
	char *argv[] = {"Bé rơi xuống ao", "x"};

	return triage_cmd_triage(arg, 0, 2, argv);
}

static void
test_cmd_triage(void **state)
{
	const char *rules = CATS "rules = (\n"
	                         "{ name = \"drowning-keywords\"; text_any = \"xuống ao\"; "
	                         "category = \"drowning\"; priority = 2; },\n"
	                         "{ name = \"now\"; text_any = \"cứu với\"; priority = 1; "
	                         "tags = \"now\"; } );\n";
	char *out, *line, *save = NULL;
	json_t *j;
	int rc;

	write_rules(rules, strlen(rules));
	out = capture(1, do_triage_json, path, &rc);
	assert_int_equal(rc, 0);
	line = strtok_r(out, "\n", &save);
	assert_string_equal(line, "{\"text\":\"Bé rơi xuống ao, cứu với\","
	                          "\"category\":\"drowning\",\"priority\":1,\"rules\":"
	                          "[\"drowning-keywords\",\"now\"],\"tags\":[\"now\"],"
	                          "\"why\":{\"drowning-keywords\":\"xuong ao\",\"now\":\"cuu voi\"}}");
	line = strtok_r(NULL, "\n", &save);
	j = json_loads(line, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "category")));
	assert_int_equal(json_integer_value(json_object_get(j, "priority")), 4);
	assert_string_equal(json_string_value(json_object_get(j, "text")), "hỏi \"thông tin\"");
	json_decref(j);
	line = strtok_r(NULL, "\n", &save); /* invalid UTF-8 still valid JSON */
	j = json_loads(line, 0, NULL);
	assert_non_null(j);
	json_decref(j);
	free(out);
	out = capture(1, do_triage_text, path, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "P2  drowning  drowning-keywords  Bé rơi xuống ao\n"
	                         "P4  -         -                  x\n");
	free(out);
	out = capture(2, do_triage_text, "/nonexistent", &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(out, "/nonexistent: No such file or directory\n");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_any),
	    cmocka_unit_test(test_folded_phrases),
	    cmocka_unit_test(test_text_all),
	    cmocka_unit_test(test_text_none),
	    cmocka_unit_test(test_word_boundaries),
	    cmocka_unit_test(test_regex),
	    cmocka_unit_test(test_ivr),
	    cmocka_unit_test(test_line_queue),
	    cmocka_unit_test(test_child_age),
	    cmocka_unit_test(test_province),
	    cmocka_unit_test(test_months_hours),
	    cmocka_unit_test(test_repeat_caller),
	    cmocka_unit_test(test_category_condition),
	    cmocka_unit_test(test_priority_and_raise),
	    cmocka_unit_test(test_category_choice),
	    cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_queries),
	    cmocka_unit_test(test_eval_arguments),
	    cmocka_unit_test(test_load_string),
	    cmocka_unit_test(test_refuse_syntax),
	    cmocka_unit_test(test_refuse_unterminated),
	    cmocka_unit_test(test_refuse_unknown_key),
	    cmocka_unit_test(test_refuse_wrong_type),
	    cmocka_unit_test(test_refuse_categories),
	    cmocka_unit_test(test_refuse_regex),
	    cmocka_unit_test(test_refuse_rule_names),
	    cmocka_unit_test(test_refuse_empty),
	    cmocka_unit_test(test_refuse_file),
	    cmocka_unit_test(test_refuse_big_file),
	    cmocka_unit_test(test_refuse_too_many_rules),
	    cmocka_unit_test(test_automaton_small),
	    cmocka_unit_test(test_automaton_large),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_cmd_check),
	    cmocka_unit_test(test_cmd_triage),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
