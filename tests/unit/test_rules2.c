/*
 * test_rules2.c: version 2 of the triage rule language (word classes,
 * patterns with gaps, alternatives and optional parts, sentences,
 * shorthand, negation, resolution, compounds, near, ages read from the
 * text, the words each rule matched), and the files it must refuse.
 *
 * Data-driven: each behaviour is a small rules file, loaded from memory,
 * and a table of notes with the result each must give, written as
 *
 *   "P<priority> <category or -> <rule>[<why>] <rule> …"
 *
 * (a rule that matched no text has no brackets). Refusals are the exact
 * "t.conf:LINE: message".
 *
 * Scopes (hotline111-rules(5)): negation_scope, resolution_scope and
 * near_scope N each let at most N words stand between the two; the tables
 * pin N and N + 1.
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
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utf8proc.h>

#include "rulestest.h"
#include "triage.h"
#include "xmalloc.h"

#ifndef TOP_SRCDIR
#error "build with -DTOP_SRCDIR=\"...\""
#endif

#define NAME RULESTEST_NAME
#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

/* Line 1 and 2 of most files below, so that the line under test is 3. */
#define V2 "version = 2;\n"
/* A rule that loads, for files about something else. */
#define RULE_R "rules = ( { name = \"r\"; text_any = \"x\"; category = \"a\"; } );\n"
#define CATS                                                                                       \
	"categories = ( { id = \"a\"; label = \"A\"; }, { id = \"b\"; label = \"B\"; }, "          \
	"{ id = \"m\"; label = \"Mất tích\"; } );\n"

/* --- helpers ------------------------------------------------------------- */



static void
refuse(const char *text, const char *want)
{
	assert_true(rulestest_refused_as(text, want));
}

static void
describe(const struct triage_result *res, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(
	    buf, len, "P%d %s", res->priority, res->category != NULL ? res->category : "-");

	for (int i = 0; i < res->nrules && o < len; i++) {
		if (res->why[i][0] != '\0')
			o += (size_t)snprintf(
			    buf + o, len - o, " %s[%s]", res->rules[i], res->why[i]);
		else
			o += (size_t)snprintf(buf + o, len - o, " %s", res->rules[i]);
	}
}

static struct triage_result
eval_input(const struct triage_rules *r, const struct triage_input *in)
{
	struct triage_result res;

	assert_int_equal(triage_eval(r, in, &res), 0);
	return res;
}

static struct triage_result
eval_text(const struct triage_rules *r, const char *text)
{
	struct triage_input in;

	triage_input_init(&in);
	in.text = text;
	return eval_input(r, &in);
}

struct row {
	const char *text;
	const char *want;
};

/* Every row, every mismatch reported, then one failure. */
static void
check_rows_(const struct triage_rules *r, const struct row *rows, size_t n, const char *table)
{
	char got[1024];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		struct triage_result res = eval_text(r, rows[i].text);

		describe(&res, got, sizeof(got));
		if (strcmp(got, rows[i].want) != 0) {
			print_error("%s[%zu] \"%s\"\n  got  %s\n  want %s\n", table, i,
			    rows[i].text, got, rows[i].want);
			bad++;
		}
	}
	if (bad > 0)
		fail_msg("%s: %d of %zu rows wrong", table, bad, n);
}
#define check_rows(r, rows) check_rows_(r, rows, NROWS(rows), #rows)

/* Loads text, checks the rows, frees. */
#define run_table(text, rows)                                                                      \
	do {                                                                                       \
		struct triage_rules *r_ = rulestest_load(text);                                              \
		check_rows(r_, rows);                                                              \
		triage_free(r_);                                                                   \
	} while (0)

/*
 * Evaluates text in a child process that an alarm kills after seconds:
 * a runaway evaluation fails the test instead of stalling the suite, and
 * no timing is measured. The result's description goes to desc. Returns
 * 1 when the child finished (it sent its description, newline ended).
 */
static int
eval_bounded(
    const struct triage_rules *r, const char *text, unsigned seconds, char *desc, size_t len)
{
	int fd[2], status;
	size_t got = 0;
	ssize_t k;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct triage_input in;
		struct triage_result res;
		char buf[1024];
		size_t o = 0;

		close(fd[0]);
		signal(SIGALRM, SIG_DFL);
		alarm(seconds);
		triage_input_init(&in);
		in.text = text;
		if (triage_eval(r, &in, &res) != 0)
			_exit(3);
		describe(&res, buf, sizeof(buf) - 1);
		strcat(buf, "\n"); /* finished: the parent sees the newline */
		while (o < strlen(buf) && (k = write(fd[1], buf + o, strlen(buf) - o)) > 0)
			o += (size_t)k;
		_exit(0);
	}
	close(fd[1]);
	while (got + 1 < len && (k = read(fd[0], desc + got, len - got - 1)) > 0)
		got += (size_t)k;
	desc[got] = '\0';
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		print_error("evaluation killed by signal %d (%s)\n", WTERMSIG(status),
		    WTERMSIG(status) == SIGALRM ? "did not finish in time" : "crashed");
	/* not the exit status: valgrind's --error-exitcode may set it */
	if (got == 0 || desc[got - 1] != '\n')
		return 0;
	desc[got - 1] = '\0';
	return 1;
}

/* n copies of unit, concatenated (from xmalloc). */
static char *
repeat(const char *unit, size_t n, const char *tail)
{
	size_t u = strlen(unit), t = tail != NULL ? strlen(tail) : 0;
	char *s = xmalloc(u * n + t + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	if (t > 0)
		memcpy(s + u * n, tail, t);
	s[u * n + t] = '\0';
	return s;
}

/* s decomposed (NFD), from malloc. */
static char *
nfd(const char *s)
{
	return (char *)utf8proc_NFD((const utf8proc_uint8_t *)s);
}

/* s in upper case, code point by code point, from xmalloc. */
static char *
upper(const char *s)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	size_t len = strlen(s), o = 0;
	char *out = xmalloc(len * 4 + 1);
	utf8proc_int32_t cp;
	utf8proc_ssize_t n;

	while (*p != '\0' && (n = utf8proc_iterate(p, -1, &cp)) > 0) {
		o +=
		    (size_t)utf8proc_encode_char(utf8proc_toupper(cp), (utf8proc_uint8_t *)out + o);
		p += n;
	}
	out[o] = '\0';
	return out;
}

/* --- word classes -------------------------------------------------------- */

static const char classes_rules[] =
    V2 "words = {\n"
       "  hit = [ \"đánh\", \"tát\", \"đập\" ];\n"
       "  kin = [ \"bố\", \"mẹ\", \"bố dượng\" ];\n"
       "  adult = [ \"@kin\", \"chú\", \"cô giáo\" ];\n" /* a class of a class */
       "  grown = [ \"@adult\", \"ông\", \"@kin\" ];\n"  /* and of that one */
       "};\n" CATS "rules = (\n"
       "  { name = \"kin-hit\"; text_any = \"@kin @hit\"; category = \"a\"; priority = 3; },\n"
       "  { name = \"adult-hit\"; text_any = \"@adult @hit\"; category = \"b\"; priority = 2; },\n"
       "  { name = \"grown\"; text_any = \"@grown _ em\"; tags = \"g\"; }\n"
       ");\n";

static const struct row classes_rows[] = {
    /* the later rule is more urgent: its category wins */
    {"bố tát em", "P2 b kin-hit[bo tat] adult-hit[bo tat] grown[bo … em]"},
    {"Bố dượng ĐẬP em", "P2 b kin-hit[bo duong dap] adult-hit[bo duong dap] grown[bo duong … em]"},
    {"chú đập", "P2 b adult-hit[chu dap]"},
    {"cô giáo đánh em", "P2 b adult-hit[co giao danh] grown[co giao … em]"},
    {"ông tát em", "P4 - grown[ong … em]"},
    {"ông tát", "P4 -"},
    {"anh đánh em", "P4 -"},
    {"cô đánh", "P4 -"},  /* "cô giáo" is the phrase, not "cô" */
    {"đánh bố", "P4 -"},  /* order matters */
    {"bố x tát", "P4 -"}, /* adjacent parts: no word between */
    {"bố", "P4 -"},
};

static void
test_classes(void **state)
{
	run_table(classes_rules, classes_rows);
}

static void
test_class_errors(void **state)
{
	refuse(V2 "words = { hit = [ \"đánh\" ]; };\n" CATS
	          "rules = ( { name = \"r\"; text_any = [ \"@hit\",\n"
	          "  \"@hitt\" ]; category = \"a\"; } );\n",
	    NAME ":5: rule 'r': unknown word class '@hitt' (classes are defined in 'words', "
	         "before they are used)");
	/* a class can use only the classes before it, and not itself */
	refuse(V2 "words = {\n  a = [ \"@b\" ];\n  b = [ \"x\" ];\n};\n" CATS RULE_R,
	    NAME ":3: unknown word class '@b' (classes are defined in 'words', before they are "
	         "used)");
	refuse(V2 "words = {\n  a = [ \"x\", \"@a\" ];\n};\n" CATS RULE_R,
	    NAME ":3: unknown word class '@a' (classes are defined in 'words', before they are "
	         "used)");
	/* in a group, in near, in text_none, in text_all */
	refuse(V2 CATS
	    "rules = ( { name = \"r\"; text_any = \"(x | @y)\"; category = \"a\"; } );\n",
	    NAME ":3: rule 'r': unknown word class '@y' (classes are defined in 'words', before "
	         "they are used)");
	refuse(V2 CATS "rules = ( { name = \"r\"; near = \"@now\"; priority = 1; } );\n",
	    NAME ":3: rule 'r': unknown word class '@now' (classes are defined in 'words', before "
	         "they are used)");
	refuse(V2 CATS "rules = ( { name = \"r\"; text_any = \"x\"; text_none = [ \"@about\" ];\n"
	               "  category = \"a\"; } );\n",
	    NAME ":3: rule 'r': unknown word class '@about' (classes are defined in 'words', "
	         "before they are used)");
	refuse(V2 CATS "rules = ( { name = \"r\"; text_all = ( \"x\", [ \"y\", \"@z\" ] );\n"
	               "  category = \"a\"; } );\n",
	    NAME ":3: rule 'r': unknown word class '@z' (classes are defined in 'words', before "
	         "they are used)");
}

/* --- gaps ---------------------------------------------------------------- */

static const char gaps_rules[] =
    V2 CATS "rules = (\n"
            "  { name = \"g23\"; text_any = \"a1 _{2,3} b1\"; tags = \"t\"; },\n"
            "  { name = \"one\"; text_any = \"c1 _ d1\"; tags = \"t\"; },\n"
            "  { name = \"two\"; text_any = \"e1 _ _ f1\"; tags = \"t\"; },\n"
            "  { name = \"zero\"; text_any = \"g1 _{0,0} h1\"; tags = \"t\"; },\n"
            "  { name = \"max\"; text_any = \"i1 _{0,10} _{0,10} j1\"; tags = \"t\"; },\n"
            "  { name = \"multi\"; text_any = \"bị _{0,1} (đánh đập | tát) em\"; tags = \"t\"; },\n"
            "  { name = \"three\"; text_any = \"k1 _{1,2} l1 _ m1\"; tags = \"t\"; }\n"
            ");\n";

static const struct row gaps_rows[] = {
    {"a1 b1", "P4 -"},
    {"a1 x b1", "P4 -"},
    {"a1 x x b1", "P4 - g23[a1 … b1]"},
    {"a1 x x x b1", "P4 - g23[a1 … b1]"},
    {"a1 x x x x b1", "P4 -"},
    {"a1 x x x x b1 a1 x x b1", "P4 - g23[a1 … b1]"}, /* a later match */
    {"c1 d1", "P4 -"},
    {"c1 x d1", "P4 - one[c1 … d1]"},
    {"c1 x x d1", "P4 -"},
    {"e1 x f1", "P4 -"},
    {"e1 x x f1", "P4 - two[e1 … f1]"},
    {"e1 x x x f1", "P4 -"},
    {"g1 h1", "P4 - zero[g1 h1]"},
    {"g1 x h1", "P4 -"},
    {"i1 j1", "P4 - max[i1 j1]"},
    {"i1 x x x x x x x x x x x x x x x x x x x x j1", "P4 - max[i1 … j1]"}, /* 20 */
    {"i1 x x x x x x x x x x x x x x x x x x x x x j1", "P4 -"},            /* 21 */
    {"bị đánh đập em", "P4 - multi[bi danh dap em]"},
    {"bị x đánh đập em", "P4 - multi[bi … danh dap em]"},
    {"bị x x tát em", "P4 -"},
    {"bị đánh x đập em", "P4 -"},
    {"k1 x l1 x m1", "P4 - three[k1 … l1 … m1]"},
    {"k1 x x l1 y m1", "P4 - three[k1 … l1 … m1]"},
    {"k1 l1 x m1", "P4 -"},
    {"k1 x l1 m1", "P4 -"},
    {"k1 x x x l1 x m1", "P4 -"},
};

static void
test_gaps(void **state)
{
	run_table(gaps_rules, gaps_rows);
}

/* --- alternatives and optional parts --------------------------------------- */

static const char alternatives_rules[] =
    V2 "words = { kin = [ \"dì ghẻ\", \"dượng\" ]; };\n" CATS "rules = (\n"
       "  { name = \"alt\"; text_any = \"(bố | mẹ kế | @kin) _{0,1} đánh\"; tags = \"t\"; },\n"
       "  { name = \"opt\"; text_any = \"rơi (xuống)? ao\"; tags = \"t\"; },\n"
       "  { name = \"optgap\"; text_any = \"ngã _{0,1} (xuống | vào)? _{0,1} giếng\"; "
       "tags = \"t\"; },\n"
       "  { name = \"optlast\"; text_any = \"cứu _ (em | con)?\"; tags = \"t\"; },\n"
       "  { name = \"optclass\"; text_any = \"hỏi @kin? về\"; tags = \"t\"; }\n"
       ");\n";

static const struct row alternatives_rows[] = {
    {"bố đánh", "P4 - alt[bo danh]"},
    {"mẹ kế hay đánh", "P4 - alt[me ke … danh]"},
    {"dì ghẻ đánh", "P4 - alt[di ghe danh]"},
    {"dượng x đánh", "P4 - alt[duong … danh]"},
    {"mẹ đánh", "P4 -"}, /* "mẹ kế" is the alternative */
    {"ông đánh", "P4 -"},
    {"bố x x đánh", "P4 -"},
    {"rơi xuống ao", "P4 - opt[roi xuong ao]"},
    {"rơi ao", "P4 - opt[roi ao]"},
    {"rơi x ao", "P4 -"},
    {"rơi xuống x ao", "P4 -"},
    {"ngã xuống giếng", "P4 - optgap[nga xuong gieng]"},
    {"ngã x vào x giếng", "P4 - optgap[nga … vao … gieng]"},
    {"ngã giếng", "P4 - optgap[nga gieng]"},
    /* without the optional part its gaps add up: 0 to 2 words */
    {"ngã x x giếng", "P4 - optgap[nga … gieng]"},
    {"ngã x x x giếng", "P4 -"},
    {"cứu x em", "P4 - optlast[cuu … em]"},
    {"cứu x con", "P4 - optlast[cuu … con]"},
    /* a last part left out takes its gap with it */
    {"cứu", "P4 - optlast[cuu]"},
    {"hỏi dượng về", "P4 - optclass[hoi duong ve]"},
    {"hỏi về", "P4 - optclass[hoi ve]"},
    {"hỏi x về", "P4 -"},
};

static void
test_alternatives_optional(void **state)
{
	run_table(alternatives_rules, alternatives_rows);
}

/* --- sentences ------------------------------------------------------------ */

static const char sentences_rules[] =
    V2 CATS "rules = (\n"
            "  { name = \"gap\"; text_any = \"bố _{0,4} đánh\"; tags = \"t\"; },\n"
            "  { name = \"phrase\"; text_any = \"ngã xuống\"; tags = \"t\"; }\n"
            ");\n";

static const struct row sentences_rows[] = {
    {"bố, đánh", "P4 - gap[bo danh]"},
    {"bố ... , đánh", "P4 -"},
    {"bố, mẹ, anh, đánh", "P4 - gap[bo … danh]"},
    {"bố, a, b, c, d, đánh", "P4 - gap[bo … danh]"}, /* commas take no gap */
    {"bố a b c d e đánh", "P4 -"},
    {"bố. đánh", "P4 -"},
    {"bố! đánh", "P4 -"},
    {"bố? đánh", "P4 -"},
    {"bố; đánh", "P4 -"},
    {"bố\nđánh", "P4 -"},
    {"bố\r\nđánh", "P4 -"},
    {"bố.đánh", "P4 -"},
    {"bố… đánh", "P4 - gap[bo danh]"}, /* U+2026 is not a sentence end */
    {"bố đi. Bố đánh", "P4 - gap[bo danh]"},
    /* a comma, colon, bracket or dash ends a phrase, not a gap */
    {"ngã, xuống", "P4 -"},
    {"ngã - xuống", "P4 -"},
    {"ngã: xuống", "P4 -"},
    {"ngã (xuống", "P4 -"},
    {"ngã 'xuống'", "P4 - phrase[nga xuong]"}, /* quotes are no break */
    {"ngã. xuống", "P4 -"},
    {"ngã\nxuống", "P4 -"},
};

static void
test_sentences(void **state)
{
	run_table(sentences_rules, sentences_rows);
}

/* --- folding ---------------------------------------------------------------- */

static void
test_folding(void **state)
{
	static const char rules[] =
	    V2 CATS "rules = (\n"
	            "  { name = \"nfc\"; text_any = \"đuối nước _{0,3} cứu\"; category = \"a\"; "
	            "priority = 2; },\n"
	            "  { name = \"bare\"; text_any = \"DUOI NUOC\"; tags = \"t\"; }\n"
	            ");\n";
	static const char *const texts[] = {
	    "Bé bị đuối nước, cứu với",
	    "be bi duoi nuoc, cuu voi",
	    "BE BI DUOI NUOC CUU VOI",
	    "Bé bị Đuối Nước. Cứu với", /* another sentence: only "bare" */
	    "bé đuối sức",
	};
	static const char *const want[] = {
	    "P2 a nfc[duoi nuoc cuu] bare[duoi nuoc]",
	    "P2 a nfc[duoi nuoc cuu] bare[duoi nuoc]",
	    "P2 a nfc[duoi nuoc cuu] bare[duoi nuoc]",
	    "P4 - bare[duoi nuoc]",
	    "P4 -",
	};
	struct triage_rules *r = rulestest_load(rules);
	char got[512];

	for (size_t i = 0; i < NROWS(texts); i++) {
		char *variants[3] = {xstrdup(texts[i]), nfd(texts[i]), upper(texts[i])};

		assert_non_null(variants[1]);
		for (int v = 0; v < 3; v++) {
			struct triage_result res = eval_text(r, variants[v]);

			describe(&res, got, sizeof(got));
			if (strcmp(got, want[i]) != 0)
				print_error("\"%s\" (variant %d)\n", variants[v], v);
			assert_string_equal(got, want[i]);
		}
		/* the decomposed form really is another string */
		if (i == 0)
			assert_string_not_equal(variants[0], variants[1]);
		for (int v = 0; v < 3; v++)
			free(variants[v]);
	}
	triage_free(r);
}

/* --- shorthand -------------------------------------------------------------- */

static const char shorthand_rules[] =
    V2 "shorthand = ( [ \"ko\", \"không\" ], [ \"e\", \"em\" ], [ \"bme\", \"bố mẹ\" ],\n"
       "  [ \"Đt\", \"điện thoại\" ], [ \"a1\", \"b1\" ], [ \"b1\", \"c1\" ] );\n"
       "words = { not = [ \"ko\" ]; };\n" /* a class in shorthand */
       "settings = { negators = \"@not\"; negation_scope = 1; };\n" CATS "rules = (\n"
       "  { name = \"hit\"; text_any = \"bme _{0,2} đánh e\"; category = \"a\"; },\n"
       "  { name = \"lit\"; text_any = \"thấy\"; tags = \"t\"; },\n"
       "  { name = \"phone\"; text_any = \"mất điện thoại\"; tags = \"t\"; },\n"
       "  { name = \"chain\"; text_any = \"c1\"; tags = \"t\"; }\n"
       ");\n";

static const struct row shorthand_rows[] = {
    {"bố mẹ đánh em", "P4 a hit[bo me danh em]"}, {"bme đánh e", "P4 a hit[bo me danh em]"},
    {"BME hay đánh E", "P4 a hit[bo me … danh em]"},
    {"bme ko đánh e", "P4 -"},                         /* the negator, written "ko" in the class */
    {"bme không đánh e", "P4 -"}, {"ko thấy", "P4 -"}, /* negated, within 1 word */
    {"KO x thấy", "P4 -"},                             /* 1 word between: in scope */
    {"KO x x thấy", "P4 - lit[thay]"},                 /* 2: beyond */
    {"bmee đánh e", "P4 -"},                           /* whole words only */
    {"bme đánh em", "P4 a hit[bo me danh em]"}, {"mất đt", "P4 - phone[mat dien thoai]"},
    {"mất ĐT", "P4 - phone[mat dien thoai]"}, {"mất điện thoại", "P4 - phone[mat dien thoai]"},
    {"b1", "P4 - chain[c1]"}, /* b1 stands for c1 */
    {"a1", "P4 -"},           /* a1 is b1, not c1: no chains */
};

static void
test_shorthand(void **state)
{
	run_table(shorthand_rules, shorthand_rows);
}

/* --- negation ---------------------------------------------------------------- */

static const char negation_rules[] =
    V2 "words = { not = [ \"không\", \"chưa bị\" ]; };\n"
       "settings = { negators = \"@not\"; negation_scope = 2; };\n" CATS "rules = (\n"
       "  { name = \"hit\"; text_any = \"bố _{0,3} đánh\"; category = \"a\"; priority = 2; },\n"
       "  { name = \"guarded\"; text_any = \"em\"; text_none = \"đánh\"; tags = \"t\"; },\n"
       "  { name = \"home\"; text_any = \"(không | chưa) _{0,2} về\"; tags = \"t\"; }\n"
       ");\n";

static const struct row negation_rows[] = {
    {"bố đánh", "P2 a hit[bo danh]"},
    {"không bố đánh", "P4 -"},
    {"không phải bố đánh", "P4 -"},
    {"không x x bố đánh", "P4 -"},                /* 2 words between: in scope */
    {"không x x x bố đánh", "P2 a hit[bo danh]"}, /* 3: beyond */
    {"bố không đánh", "P4 -"},                    /* in a gap */
    {"bố chưa bị đánh", "P4 -"},                  /* a negator of two words */
    {"bố chưa đánh", "P2 a hit[bo … danh]"},      /* "chưa" alone is none */
    {"không. bố đánh", "P2 a hit[bo danh]"},      /* another sentence */
    {"không!\nbố x đánh", "P2 a hit[bo … danh]"},
    {"không, bố đánh", "P2 a hit[bo danh]"},               /* a comma ends its reach */
    {"không ai can, bố đánh", "P2 a hit[bo danh]"},
    {"không x bố đánh", "P4 -"},
    {"bố đánh, không", "P2 a hit[bo danh]"},               /* after the match */
    {"bố không đánh, bố đánh", "P2 a hit[bo danh]"}, /* the second: "không" is behind a comma */
    {"bố không đánh, rồi x bố đánh", "P2 a hit[bo danh]"}, /* a later match stands */
    /* text_none sees the words as written: a negator does not lift it */
    {"em", "P4 - guarded[em]"},
    {"em không bị đánh", "P4 -"},
    {"em đánh", "P4 -"},
    /* a negator that is one of the pattern's own parts cancels nothing */
    {"con không về", "P4 - home[khong ve]"},
    {"con không chịu về", "P4 - home[khong … ve]"},
};

static void
test_negation(void **state)
{
	run_table(negation_rules, negation_rows);
}

/* --- resolution ---------------------------------------------------------------- */

static const char resolution_rules[] =
    V2 "words = { res = [ \"đã tìm thấy\", \"về rồi\" ]; now = [ \"đang\" ]; };\n"
       "settings = { resolutions = \"@res\"; resolution_scope = 4; near_scope = 5; };\n" CATS
       "rules = (\n"
       "  { name = \"lost\"; text_any = [ \"mất tích\", \"đi lạc\" ]; category = \"m\";\n"
       "    priority = 2; raise = 1; },\n"
       "  { name = \"low\"; text_any = \"hỏi thăm\"; category = \"b\"; priority = 4; },\n"
       "  { name = \"hit\"; text_any = \"đánh\"; category = \"a\"; priority = 2; },\n"
       "  { name = \"now\"; category = [ \"m\", \"a\" ]; near = \"@now\"; priority = 1; }\n"
       ");\n";

static const struct row resolution_rows[] = {
    {"bé mất tích", "P1 m lost[mat tich]"}, /* P2 raised by 1 */
    /* resolved: the category stays, as a concern: P3, no raise */
    {"bé mất tích, đã tìm thấy", "P3 m lost[mat tich]"},
    {"đã tìm thấy bé mất tích", "P3 m lost[mat tich]"},
    {"bé mất tích từ sáng. Đã tìm thấy", "P3 m lost[mat tich]"},  /* across a sentence */
    {"bé mất tích x x x x đã tìm thấy", "P3 m lost[mat tich]"},   /* 4 words between */
    {"bé mất tích x x x x x đã tìm thấy", "P1 m lost[mat tich]"}, /* 5: beyond */
    {"đã tìm thấy x x x bé mất tích", "P3 m lost[mat tich]"},
    {"đã tìm thấy x x x x bé mất tích", "P1 m lost[mat tich]"},
    {"bé mất tích. x x x đã tìm thấy", "P3 m lost[mat tich]"}, /* "." is a word */
    {"bé mất tích. x x x x đã tìm thấy", "P1 m lost[mat tich]"},
    {"bé đi lạc, về rồi", "P3 m lost[di lac]"},
    /* a resolved match asks no urgency of near */
    {"bé đang mất tích, đã tìm thấy", "P3 m lost[mat tich]"},
    {"bé đang mất tích", "P1 m lost[mat tich] now[dang]"},
    /* an unresolved match elsewhere wins: in the same pattern */
    {"mất tích, đã tìm thấy. x x x x x x mất tích", "P1 m lost[mat tich]"},
    /* in another pattern of the rule */
    {"đi lạc, đã tìm thấy. x x x x x x mất tích", "P1 m lost[mat tich]"},
    /* in another rule: its category wins over the resolved one's */
    {"bé mất tích, đã tìm thấy. x x x x x x bố đánh", "P2 a lost[mat tich] hit[danh]"},
    {"bé mất tích, đã tìm thấy. x x x x x bố đang đánh", "P1 a lost[mat tich] hit[danh] now[dang]"},
    /* resolution never makes a rule more urgent than it was */
    {"hỏi thăm, đã tìm thấy", "P4 b low[hoi tham]"},
    {"đã tìm thấy", "P4 -"},
};

static void
test_resolution(void **state)
{
	run_table(resolution_rules, resolution_rows);
}

/* --- compounds ---------------------------------------------------------------- */

#define COMPOUND_RULES                                                                             \
	"rules = (\n"                                                                              \
	"  { name = \"home\"; text_any = \"ở nhà\"; tags = \"t\"; },\n"                         \
	"  { name = \"kid\"; text_any = \"trẻ\"; tags = \"t\"; },\n"                             \
	"  { name = \"long\"; text_any = \"ở nhà trẻ\"; tags = \"t\"; },\n"                   \
	"  { name = \"cmp\"; text_any = \"nhà trẻ\"; tags = \"t\"; },\n"                        \
	"  { name = \"ba\"; text_any = \"bà\"; tags = \"t\"; },\n"                                \
	"  { name = \"hx\"; text_any = \"hàng xóm _{0,2} đánh\"; tags = \"t\"; }\n"            \
	");\n"

static const char compounds_rules[] =
    V2 "words = { cmp = [ \"nhà trẻ\", \"bà hàng xóm\" ]; };\n"
       "settings = { compounds = \"@cmp\"; };\n" CATS COMPOUND_RULES;

static const struct row compounds_rows[] = {
    {"bé ở nhà", "P4 - home[o nha]"},
    {"bé ở nhà trẻ", "P4 - long[o nha tre] cmp[nha tre]"}, /* the longer phrase stays */
    {"bé ở nhà, nhà trẻ đóng cửa", "P4 - home[o nha] cmp[nha tre]"},
    {"trẻ em", "P4 - kid[tre]"},
    {"bà hàng xóm đánh", "P4 -"},
    {"bà và hàng xóm đánh", "P4 - ba[ba] hx[hang xom danh]"},
    {"BÀ HÀNG XÓM", "P4 -"},
    {"bà hàng", "P4 - ba[ba]"},
};

/* the same rules with no compounds setting */
static const char no_compounds_rules[] =
    V2 "words = { cmp = [ \"nhà trẻ\", \"bà hàng xóm\" ]; };\n" CATS COMPOUND_RULES;

static const struct row no_compounds_rows[] = {
    {"bé ở nhà trẻ", "P4 - home[o nha] kid[tre] long[o nha tre] cmp[nha tre]"},
    {"bà hàng xóm đánh", "P4 - ba[ba] hx[hang xom danh]"},
};

/* a compound of 10 words hides every word inside it */
static const char long_compound_rules[] =
    V2 "words = { cmp = [ \"c1 c2 c3 c4 c5 c6 c7 c8 c9 c10\" ]; };\n"
       "settings = { compounds = \"@cmp\"; };\n" CATS "rules = (\n"
       "  { name = \"c1\"; text_any = \"c1\"; tags = \"t\"; },\n"
       "  { name = \"c9\"; text_any = \"c9\"; tags = \"t\"; },\n"
       "  { name = \"c10\"; text_any = \"c10 _{0,1} x\"; tags = \"t\"; }\n"
       ");\n";

static const struct row long_compound_rows[] = {
    {"c1 c2 c3 c4 c5 c6 c7 c8 c9 c10 x", "P4 -"},
    {"c2 c3 c4 c5 c6 c7 c8 c9 c10 x", "P4 - c9[c9] c10[c10 x]"},
    {"c1 c2 c3 c4 c5 c6 c7 c8 c9 c10, c10 x", "P4 - c10[c10 x]"},
};

/* compounds hide negators and resolutions too */
static const char compound_guards_rules[] =
    V2 "words = { not = [ \"không\" ]; res = [ \"tìm thấy\" ];\n"
       "  cmp = [ \"chưa tìm thấy\", \"không khí\" ]; };\n"
       "settings = { negators = \"@not\"; resolutions = \"@res\"; compounds = \"@cmp\";\n"
       "  negation_scope = 2; resolution_scope = 5; };\n" CATS "rules = (\n"
       "  { name = \"lost\"; text_any = \"mất tích\"; category = \"m\"; priority = 2; },\n"
       "  { name = \"hit\"; text_any = \"đánh\"; category = \"a\"; priority = 2; }\n"
       ");\n";

static const struct row compound_guards_rows[] = {
    {"mất tích, tìm thấy rồi", "P3 m lost[mat tich]"},
    {"mất tích, chưa tìm thấy", "P2 m lost[mat tich]"},
    {"không đánh", "P4 -"},
    {"không khí đánh", "P2 a hit[danh]"},
};

static void
test_compounds(void **state)
{
	run_table(compounds_rules, compounds_rows);
	run_table(no_compounds_rules, no_compounds_rows);
	run_table(long_compound_rules, long_compound_rows);
	run_table(compound_guards_rules, compound_guards_rows);
}

/* --- near ------------------------------------------------------------------------ */

static const char near_rules[] = V2
    "words = { now = [ \"đang\", \"vừa mới\" ]; not = [ \"không\" ]; };\n"
    "settings = { near_scope = 3; negators = \"@not\"; negation_scope = 1; };\n" CATS "rules = (\n"
    /* before any rule named a category: never fires */
    "  { name = \"early\"; near = \"@now\"; tags = \"t\"; },\n"
    "  { name = \"hit\"; text_any = \"bố _{0,3} đánh\"; category = \"a\"; priority = 2; },\n"
    "  { name = \"info\"; text_any = \"hỏi\"; category = \"b\"; priority = 4; },\n"
    "  { name = \"now\"; category = [ \"a\" ]; near = \"@now\"; priority = 1; },\n"
    "  { name = \"late\"; near = \"vừa mới\"; tags = \"t\"; },\n"
    "  { name = \"both\"; text_any = \"em\"; near = \"@now\"; tags = \"t\"; }\n"
    ");\n";

static const struct row near_rows[] = {
    {"bố đang đánh", "P1 a hit[bo … danh] now[dang]"},     /* inside the harm's words */
    {"đang x x x bố đánh", "P1 a hit[bo danh] now[dang]"}, /* before it: 3 words between */
    {"đang x x x x bố đánh", "P2 a hit[bo danh]"},         /* 4: beyond */
    /* after the harm a now-word tells a state, not an act under way */
    {"bố đánh đang", "P2 a hit[bo danh]"},
    {"bố đánh x đang", "P2 a hit[bo danh]"},
    {"đang. Bố đánh", "P2 a hit[bo danh]"}, /* not across a sentence */
    {"đang; bố đánh", "P2 a hit[bo danh]"},
    {"đang\nbố đánh", "P2 a hit[bo danh]"},
    {"đang, bố đánh", "P1 a hit[bo danh] now[dang]"}, /* a comma is no sentence end */
    {"đang", "P4 -"},
    {"bố không đánh, đang", "P4 -"}, /* no harm matched */
    {"đang bố không đánh", "P4 -"},
    {"không đang x bố đánh", "P2 a hit[bo danh]"}, /* the now-word negated */
    {"bố vừa mới đánh", "P1 a hit[bo … danh] now[vua moi] late[vua moi]"},
    /* near needs the harm of a rule that named a category, any category */
    {"vừa mới hỏi", "P4 b info[hoi] late[vua moi]"},
    {"vừa mới", "P4 -"},
    /* with a text condition too: both matches, " + " between */
    {"đang bố đánh em", "P1 a hit[bo danh] now[dang] both[em + dang]"},
};

static void
test_near(void **state)
{
	struct triage_rules *r;

	run_table(near_rules, near_rows);
	/* near_scope defaults to 0: right before the harm, or inside it */
	r = rulestest_load(
	    V2 "words = { now = [ \"đang\" ]; };\n" CATS
	       "rules = ( { name = \"hit\"; text_any = \"bố _{0,2} đánh\"; category = \"a\"; },\n"
	       "  { name = \"now\"; near = \"@now\"; priority = 1; } );\n");
	assert_int_equal(eval_text(r, "bố đang đánh").priority, 1);
	assert_int_equal(eval_text(r, "đang bố đánh").priority, 1);
	assert_int_equal(eval_text(r, "đang x bố đánh").priority, 4);
	triage_free(r);
}

/* --- ages read from the text -------------------------------------------------------- */

#define AGE_RULES                                                                                  \
	"rules = (\n"                                                                              \
	"  { name = \"infant\"; child_age = [ 0, 0 ]; tags = \"t\"; },\n"                          \
	"  { name = \"small\"; child_age = [ 1, 5 ]; tags = \"t\"; },\n"                           \
	"  { name = \"older\"; child_age = [ 6, 150 ]; tags = \"t\"; }\n"                          \
	");\n"

static const char ages_rules[] = V2 "settings = { ages_from_text = true; };\n" CATS AGE_RULES;

static const struct row ages_rows[] = {
    {"bé 4t", "P4 - small"},
    {"BÉ 4T", "P4 - small"},
    {"bé 4 tuổi", "P4 - small"},
    {"bé 4tuổi", "P4 - small"},
    {"bé 4 t", "P4 - small"},
    {"bé 4 TUOI bị ốm", "P4 - small"},
    {"cháu 12 tuổi", "P4 - older"},
    {"bé 5 tháng", "P4 - infant"},
    {"bé 5tháng", "P4 - infant"},
    {"con 5 tháng tuổi", "P4 - infant"},
    {"nghỉ học 5 tháng nay", "P4 -"}, /* a length of time, not an age */
    {"con 5 tháng", "P4 - infant"},   /* after bé, con, cháu, em: an age */
    {"cháu 5 tháng", "P4 - infant"},
    {"em 5 tháng", "P4 - infant"},
    {"5tháng tuổi", "P4 - infant"},
    {"mất 5 tháng", "P4 -"},
    {"anh 12 tuổi, em 4 tuổi", "P4 - small"}, /* the youngest */
    {"em 4t, anh 12t", "P4 - small"},
    {"bé 2 tuổi, em bé 3 tháng tuổi", "P4 - infant"},
    {"mẹ 30 tuổi", "P4 -"}, /* not a child's */
    {"ông 100 tuổi", "P4 -"},
    {"bé lên lớp 4", "P4 -"},
    {"bé tuổi", "P4 -"},
    {"", "P4 -"},
};

static void
test_ages(void **state)
{
	struct triage_rules *r;
	struct triage_input in;

	run_table(ages_rules, ages_rows);

	/* the event's child_age wins over the text */
	r = rulestest_load(ages_rules);
	triage_input_init(&in);
	in.text = "bé 4t";
	in.child_age = 10;
	assert_string_equal(eval_input(r, &in).rules[0], "older");
	in.child_age = 0;
	in.text = "bé 12 tuổi";
	assert_string_equal(eval_input(r, &in).rules[0], "infant");
	in.child_age = -1;
	assert_string_equal(eval_input(r, &in).rules[0], "older");
	triage_free(r);

	/* not without the setting, nor with it false */
	r = rulestest_load(V2 CATS AGE_RULES);
	assert_int_equal(eval_text(r, "bé 4t").nrules, 0);
	triage_free(r);
	r = rulestest_load(V2 "settings = { ages_from_text = false; };\n" CATS AGE_RULES);
	assert_int_equal(eval_text(r, "bé 4 tuổi").nrules, 0);
	triage_free(r);
}

/* --- why and JSON ---------------------------------------------------------------------- */

static const char why_rules[] =
    V2 "shorthand = ( [ \"ko\", \"không\" ] );\n"
       "words = { now = [ \"đang\" ]; kin = [ \"bố\", \"mẹ\" ]; };\n"
       "settings = { near_scope = 4; ages_from_text = true; };\n" CATS "rules = (\n"
       "  { name = \"hit\"; text_any = \"@kin _{0,3} đánh _{0,2} em\"; category = \"a\"; "
       "priority = 2; },\n"
       "  { name = \"all\"; text_all = ( \"@kin\", [ \"tát\", \"đánh\" ] ); tags = \"x\"; },\n"
       "  { name = \"now\"; category = [ \"a\" ]; near = \"@now\"; priority = 1; "
       "tags = \"now\"; },\n"
       "  { name = \"young\"; child_age = [ 0, 5 ]; tags = \"young\"; },\n"
       "  { name = \"said\"; text_any = \"ko nói\"; tags = \"x\"; }\n"
       ");\n";

static const struct row why_rows[] = {
    /* folded words; a gap is "…"; adjacent parts one run */
    {"BỐ đang ĐÁNH em", "P1 a hit[bo … danh em] all[bo + danh] now[dang]"},
    {"mẹ đánh x em", "P2 a hit[me danh … em] all[me + danh]"},
    {"mẹ hay x x đánh x x em", "P2 a hit[me … danh … em] all[me + danh]"},
    /* shorthand shows expanded */
    {"ko nói", "P4 - said[khong noi]"},
    /* a rule that matched no text has no words */
    {"bé 3t", "P4 - young"},
};

static void
test_why(void **state)
{
	struct triage_rules *r;
	struct triage_result res;
	char *text;

	run_table(why_rules, why_rows);

	/* never more than TRIAGE_WHY_LEN - 1 bytes, whole words */
	r = rulestest_load(
	    V2 CATS "rules = ( { name = \"long\"; text_all = (\n"
	            "  \"aaaaaaaaaaaaaaaaaaaa _ bbbbbbbbbbbbbbbbbbbb _ cccccccccccccccccccc\",\n"
	            "  \"dddddddddddddddddddd _ eeeeeeeeeeeeeeeeeeee _ ffffffffffffffffffff\" );\n"
	            "  tags = \"t\"; } );\n");
	text = xstrdup("aaaaaaaaaaaaaaaaaaaa x bbbbbbbbbbbbbbbbbbbb x cccccccccccccccccccc x "
	               "dddddddddddddddddddd x eeeeeeeeeeeeeeeeeeee x ffffffffffffffffffff");
	res = eval_text(r, text);
	assert_int_equal(res.nrules, 1);
	assert_true(strlen(res.why[0]) < TRIAGE_WHY_LEN);
	assert_true(
	    strncmp(res.why[0],
	        "aaaaaaaaaaaaaaaaaaaa … bbbbbbbbbbbbbbbbbbbb … cccccccccccccccccccc + "
	        "dddddddddddddddddddd",
	        strlen("aaaaaaaaaaaaaaaaaaaa … bbbbbbbbbbbbbbbbbbbb … cccccccccccccccccccc + "
	               "dddddddddddddddddddd")) == 0);
	/* valid UTF-8: no "…" cut in half */
	assert_true(utf8proc_decompose(
	                (const utf8proc_uint8_t *)res.why[0], 0, NULL, 0, UTF8PROC_NULLTERM) >= 0);
	free(text);
	triage_free(r);
}

static void
test_json(void **state)
{
	struct triage_rules *r = rulestest_load(why_rules);
	struct triage_input in;
	struct triage_result res;
	json_t *j;
	char *s;

	res = eval_text(r, "bố đang đánh em");
	j = triage_result_json(&res);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s,
	    "{\"category\":\"a\",\"priority\":1,\"rules\":[\"hit\",\"all\",\"now\"],"
	    "\"tags\":[\"x\",\"now\"],\"why\":{\"all\":\"bo + danh\","
	    "\"hit\":\"bo … danh em\",\"now\":\"dang\"}}");
	free(s);
	json_decref(j);

	/* a rule without words is in rules, not in why; no category is null */
	triage_input_init(&in);
	in.text = "bé 3t";
	res = eval_input(r, &in);
	j = triage_result_json(&res);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"category\":null,\"priority\":4,\"rules\":[\"young\"],"
	                       "\"tags\":[\"young\"],\"why\":{}}");
	free(s);
	json_decref(j);

	res = eval_text(r, "");
	j = triage_result_json(&res);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(
	    s, "{\"category\":null,\"priority\":4,\"rules\":[],\"tags\":[],\"why\":{}}");
	free(s);
	json_decref(j);
	triage_free(r);
}

/* --- versions ------------------------------------------------------------------------------ */

/* In version 1 a phrase is a phrase: "@", "_", "(", "|", "?" fold away. */
#define V1_RULES                                                                                   \
	CATS "rules = (\n"                                                                         \
	     "  { name = \"at\"; text_any = \"@hit\"; tags = \"t\"; },\n"                          \
	     "  { name = \"gap\"; text_any = \"bé _ ngã\"; tags = \"t\"; },\n"                   \
	     "  { name = \"group\"; text_any = \"(rơi | xuống)? ao\"; tags = \"t\"; },\n"       \
	     "  { name = \"brace\"; text_any = \"a1 _{0,3} b1\"; tags = \"t\"; }\n"                \
	     ");\n"

static const struct row v1_rows[] = {
    {"hit", "P4 - at[hit]"},
    {"bé ngã", "P4 - gap[be nga]"},
    {"bé x ngã", "P4 -"},
    {"rơi xuống ao", "P4 - group[roi xuong ao]"},
    {"rơi ao", "P4 -"},
    {"a1 0 3 b1", "P4 - brace[a1 0 3 b1]"},
    {"a1 b1", "P4 -"},
};

static const struct row v2_last_rows[] = {{"bé x ngã", "P4 - x[be … nga]"}};
static const struct row v1_syntax_rows[] = {{"a", "P4 - x[a]"}};

static void
test_version1(void **state)
{
	struct triage_rules *r;

	run_table(V1_RULES, v1_rows);
	/* "version = 1;" is the same; where the key stands does not matter */
	run_table("version = 1;\n" V1_RULES, v1_rows);
	r = rulestest_load(CATS "rules = ( { name = \"x\"; text_any = \"bé _ ngã\"; tags = \"t\"; } );\n"
	              "version = 2;\n");
	check_rows(r, v2_last_rows);
	triage_free(r);
	/* version 1 does not read pattern syntax, so it refuses none of it */
	r = rulestest_load(CATS "rules = ( { name = \"x\"; text_any = \"a _\"; tags = \"t\"; } );\n");
	check_rows(r, v1_syntax_rows);
	triage_free(r);
	refuse(V2 CATS "rules = ( { name = \"x\"; text_any = \"a _\"; tags = \"t\"; } );\n",
	    NAME ":3: rule 'x': a pattern cannot end with a gap");
}

static void
test_version_gate(void **state)
{
	refuse(CATS "words = { hit = [ \"đánh\" ]; };\n" RULE_R,
	    NAME ":2: 'words' needs 'version = 2;' at the top of the file");
	refuse(CATS "shorthand = ( [ \"ko\", \"không\" ] );\n" RULE_R,
	    NAME ":2: 'shorthand' needs 'version = 2;' at the top of the file");
	refuse("version = 1;\n" CATS "settings = { ages_from_text = true; };\n" RULE_R,
	    NAME ":3: 'settings' needs 'version = 2;' at the top of the file");
	refuse("version = 3;\n" CATS RULE_R, NAME ":1: 'version' must be an integer from 1 to 2");
	refuse("version = 0;\n" CATS RULE_R, NAME ":1: 'version' must be an integer from 1 to 2");
	refuse(
	    "version = \"2\";\n" CATS RULE_R, NAME ":1: 'version' must be an integer from 1 to 2");
	refuse("version = 2.0;\n" CATS RULE_R, NAME ":1: 'version' must be an integer from 1 to 2");
}

/* near is version 2 too (it was accepted in a version 1 file before 20ffa9c) */
static void
test_version_gate_near(void **state)
{
	refuse(CATS "rules = ( { name = \"r\"; text_any = \"x\"; category = \"a\"; },\n"
	            "  { name = \"n\"; near = \"đang\"; priority = 1; } );\n",
	    NAME ":3: rule 'n': 'near' needs 'version = 2;' at the top of the file");
}

/*
 * Sentences apply to version 1 files too (hotline111-rules(5), VERSION 1
 * FILES): a phrase no longer matches across a sentence end. (A regex also
 * sees each sentence end as the word "."; no regex here, so that valgrind
 * needs no suppressions for PCRE2's JIT.)
 */
static const struct row v1_sentence_rows[] = {
    {"bé ngã cứu", "P4 - p[nga cuu]"},
    {"bé ngã, cứu", "P4 -"},
    {"bé ngã. cứu", "P4 -"},
    {"bé ngã!\n\ncứu", "P4 -"},
};

static void
test_version1_sentences(void **state)
{
	run_table(CATS "rules = ( { name = \"p\"; text_any = \"ngã cứu\"; tags = \"t\"; } );\n",
	    v1_sentence_rows);
}

/* --- refusals --------------------------------------------------------------------------------- */

/*
 * item is line 3 of a version 2 file; a words line and a rule that
 * load are added when item has none. want follows "t.conf:".
 */
struct refusal {
	const char *item;
	const char *want;
};

static int
refusal_ok(const struct refusal *t)
{
	char text[4096], want[TRIAGE_ERRLEN];

	snprintf(text, sizeof(text), "%s%s%s\n%s%s", V2, CATS, t->item,
	    strstr(t->item, "words =") != NULL
	        ? ""
	        : "words = { hit = [ \"đánh\" ]; not = [ \"không\" ]; };\n",
	    strstr(t->item, "rules =") != NULL ? "" : RULE_R);
	snprintf(want, sizeof(want), "%s:%s", NAME, t->want);
	return rulestest_refused_as(text, want);
}

static void
check_refusals_(const struct refusal *t, size_t n, const char *table)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		if (!refusal_ok(&t[i])) {
			print_error("%s[%zu]\n", table, i);
			bad++;
		}
	}
	if (bad > 0)
		fail_msg("%s: %d of %zu files not refused as they should be", table, bad, n);
}
#define check_refusals(t) check_refusals_(t, NROWS(t), #t)

#define UNKNOWN_CLASS(c)                                                                           \
	"unknown word class '" c "' (classes are defined in 'words', before they are used)"
#define BAD_GAP "a gap is _ or _{m,n} with 0 <= m <= n <= 20"
#define BAD_OPT "'?' must follow a part other than the first, not a gap"
#define NOT_PLAIN "an alternative is plain words or one @class"
#define NO_CLOSE "'(' without its ')' (groups do not nest)"

/* A pattern in text_any, line 3, rule 'r'. */
struct bad_pattern {
	const char *pattern;
	const char *msg;
};

static const struct bad_pattern bad_patterns[] = {
    {"(a | b", NO_CLOSE},
    {"(a | b", NO_CLOSE},
    {"a (b", NO_CLOSE},
    {"((a | b) | c)", NO_CLOSE},
    {"(a | (b))", NO_CLOSE},
    {"a)", "')' outside a group"},
    {"(a | b) c)", "')' outside a group"},
    {"a | b", "'|' outside a group"},
    {"(a | )", "empty alternative in \"(a | )\""},
    {"()", "empty alternative in \"()\""},
    {"(|b)", "empty alternative in \"(|b)\""},
    {"(a _ b)", NOT_PLAIN},
    {"(a? | b)", NOT_PLAIN},
    {"(@hit x | b)", UNKNOWN_CLASS("@hit x")},
    {"_ a", "a pattern cannot begin with a gap"},
    {"_{0,2} a", "a pattern cannot begin with a gap"},
    {"a _", "a pattern cannot end with a gap"},
    {"a _{1,2}", "a pattern cannot end with a gap"},
    {"a _ _", "a pattern cannot end with a gap"},
    {"a _{0,21} b", BAD_GAP},
    {"a _{3,1} b", BAD_GAP},
    {"a _{-1,2} b", BAD_GAP},
    {"a _{1} b", BAD_GAP},
    {"a _{x,y} b", BAD_GAP},
    {"a _{1,2 b", BAD_GAP},
    {"a _{1,999999999999} b", BAD_GAP},
    {"a _{0,20} _ b", "a gap of more than 20 words"},
    {"a _{0,10} _{0,11} b", "a gap of more than 20 words"},
    {"p1 _ p2 _ p3 _ p4 _ p5 _ p6 _ p7 _ p8 _ p9 _ p10 _ p11 _ p12 _ p13",
        "more than 12 parts in a pattern"},
    {"(a)? _ b", BAD_OPT},
    {"a? _ b", BAD_OPT},
    {"? a", BAD_OPT},
    {"a _ ? b", BAD_OPT},
    {"a b?", BAD_OPT}, /* words written together are one part */
    {"@", UNKNOWN_CLASS("@")},
    {"@nope", UNKNOWN_CLASS("@nope")},
    /* a class name may hold '_': a gap after one needs a space */
    {"@hit_{0,2} b", UNKNOWN_CLASS("@hit_")},
    {"...", "phrase \"...\" has no letters or digits"},
    {"a _ !!", "phrase \"!!\" has no letters or digits"},
};

static void
test_refuse_patterns(void **state)
{
	int bad = 0;
	char item[512], want[512];
	struct refusal one;

	for (size_t i = 0; i < NROWS(bad_patterns); i++) {
		snprintf(item, sizeof(item),
		    "rules = ( { name = \"r\"; text_any = \"%s\"; category = \"a\"; } );",
		    bad_patterns[i].pattern);
		snprintf(want, sizeof(want), "3: rule 'r': %s", bad_patterns[i].msg);
		one = (struct refusal){item, want};
		if (!refusal_ok(&one)) {
			print_error("bad_patterns[%zu] \"%s\"\n", i, bad_patterns[i].pattern);
			bad++;
		}
	}
	if (bad > 0)
		fail_msg(
		    "%d of %zu patterns not refused as they should be", bad, NROWS(bad_patterns));
}

/* The other keys that take patterns. */
static const struct refusal bad_pattern_keys[] = {
    {"rules = ( { name = \"r\"; near = []; priority = 1; } );",
        "3: rule 'r': 'near' is an empty list"},
    {"rules = ( { name = \"r\"; near = 5; priority = 1; } );",
        "3: rule 'r': 'near' must be a string or a list of strings"},
    {"rules = ( { name = \"r\"; near = ( \"a\", 1 ); priority = 1; } );",
        "3: rule 'r': 'near' must be a string or a list of strings"},
    {"rules = ( { name = \"r\"; near = \"\"; priority = 1; } );",
        "3: rule 'r': 'near' must not be empty"},
    {"rules = ( { name = \"r\"; near = \"a _\"; priority = 1; } );",
        "3: rule 'r': a pattern cannot end with a gap"},
    {"rules = ( { name = \"r\"; near = { a = 1; }; priority = 1; } );",
        "3: rule 'r': 'near' must be a string or a list of strings"},
    {"rules = ( { name = \"r\"; text_all = ( [] ); priority = 1; } );",
        "3: rule 'r': 'text_all' has an empty group"},
    {"rules = ( { name = \"r\"; text_all = ( \"a\", [ \"b _\" ] ); priority = 1; } );",
        "3: rule 'r': a pattern cannot end with a gap"},
    {"rules = ( { name = \"r\"; text_any = \"b\"; text_none = \"(a\"; priority = 1; } );",
        "3: rule 'r': " NO_CLOSE},
    {"rules = ( { name = \"r\"; text_any = []; priority = 1; } );",
        "3: rule 'r': 'text_any' is an empty list"},
};

static const struct refusal bad_words[] = {
    {"words = 5;", "3: 'words' must be a group { name = [ … ]; … }"},
    {"words = ( );", "3: 'words' must be a group { name = [ … ]; … }"},
    {"words = [ \"a\" ];", "3: 'words' must be a group { name = [ … ]; … }"},
    {"words = { x = \"a\"; };", "3: word class 'x' must be a list of phrases"},
    {"words = { x = { y = [ \"a\" ]; }; };", "3: word class 'x' must be a list of phrases"},
    {"words = { x = []; };", "3: word class 'x' is empty"},
    {"words = { x = ( ); };", "3: word class 'x' is empty"},
    {"words = { x = [ 1 ]; };", "3: 'x' must be a string"},
    {"words = { x = ( \"a\", 2 ); };", "3: 'x' must be a string"},
    {"words = { x = [ \"\" ]; };", "3: 'x' must not be empty"},
    {"words = { x = [ \"a\\xff\" ]; };", "3: 'x' is not valid UTF-8"},
    {"words = { x = [ \"a _ b\" ]; };", "3: " NOT_PLAIN},
    {"words = { x = [ \"(a | b)\" ]; };", "3: " NOT_PLAIN},
    {"words = { x = [ \"a?\" ]; };", "3: " NOT_PLAIN},
    {"words = { x = [ \"a | b\" ]; };", "3: " NOT_PLAIN},
    {"words = { x = [ \"!!\" ]; };", "3: phrase \"!!\" has no letters or digits"},
    {"words = { x = [ \"@x\" ]; };", "3: " UNKNOWN_CLASS("@x")},
    {"words = { x = [ \"a\" ]; y = [ \"@x b\" ]; };", "3: " UNKNOWN_CLASS("@x b")},
    /* libconfig refuses a class defined twice before the loader sees it */
    {"words = { x = [ \"a\" ]; x = [ \"b\" ]; };", "3: duplicate setting name"},
};

static const struct refusal bad_shorthand[] = {
    {"shorthand = [ \"ko\", \"không\" ];",
        "3: 'shorthand' must be a list ( [ \"ko\", \"không\" ], … )"},
    {"shorthand = { ko = \"không\"; };",
        "3: 'shorthand' must be a list ( [ \"ko\", \"không\" ], … )"},
    {"shorthand = \"ko\";", "3: 'shorthand' must be a list ( [ \"ko\", \"không\" ], … )"},
    {"shorthand = ( \"ko\" );", "3: a shorthand entry is [ \"short\", \"what it stands for\" ]"},
    {"shorthand = ( [ \"ko\" ] );",
        "3: a shorthand entry is [ \"short\", \"what it stands for\" ]"},
    {"shorthand = ( [ ] );", "3: a shorthand entry is [ \"short\", \"what it stands for\" ]"},
    {"shorthand = ( [ \"ko\", \"không\", \"x\" ] );",
        "3: a shorthand entry is [ \"short\", \"what it stands for\" ]"},
    {"shorthand = ( ( \"ko\", \"không\" ) );",
        "3: a shorthand entry is [ \"short\", \"what it stands for\" ]"},
    {"shorthand = ( [ 1, 2 ] );", "3: 'shorthand' must be a string"},
    {"shorthand = ( [ \"\", \"x\" ] );", "3: 'shorthand' must not be empty"},
    {"shorthand = ( [ \"ko\", \"\" ] );", "3: 'shorthand' must not be empty"},
    {"shorthand = ( [ \"ko\", \"kh\\xff\" ] );", "3: 'shorthand' is not valid UTF-8"},
    {"shorthand = ( [ \"k o\", \"không\" ] );",
        "3: shorthand \"k o\" must be one word, standing for words"},
    {"shorthand = ( [ \"k.o\", \"không\" ] );",
        "3: shorthand \"k.o\" must be one word, standing for words"},
    {"shorthand = ( [ \"!!\", \"không\" ] );",
        "3: shorthand \"!!\" must be one word, standing for words"},
    {"shorthand = ( [ \"ko\", \"...\" ] );",
        "3: shorthand \"ko\" must be one word, standing for words"},
};

#define W "words = { not = [ \"không\" ]; }; "
#define SCOPE(k, max) "3: '" k "' must be an integer from 0 to " #max
#define NOT_CLASS(k) "3: '" k "' must name a word class defined in 'words', as \"@name\""

static const struct refusal bad_settings[] = {
    {W "settings = 5;", "3: 'settings' must be a group { key = value; … }"},
    {W "settings = ( );", "3: 'settings' must be a group { key = value; … }"},
    {W "settings = { foo = 1; };", "3: unknown key 'settings.foo'"},
    {W "settings = { Negators = \"@not\"; };", "3: unknown key 'settings.Negators'"},
    {W "settings = { negators = \"@nope\"; };", NOT_CLASS("negators")},
    {W "settings = { negators = \"not\"; };", NOT_CLASS("negators")},
    {W "settings = { negators = \"@\"; };", NOT_CLASS("negators")},
    {W "settings = { negators = \"@not x\"; };", NOT_CLASS("negators")},
    {W "settings = { negators = \"@NOT\"; };", NOT_CLASS("negators")},
    {W "settings = { negators = 1; };", "3: 'negators' must be a string"},
    {W "settings = { negators = [ \"@not\" ]; };", "3: 'negators' must be a string"},
    {W "settings = { negators = \"\"; };", "3: 'negators' must not be empty"},
    {W "settings = { compounds = \"@nope\"; };", NOT_CLASS("compounds")},
    {W "settings = { resolutions = \"@nope\"; };", NOT_CLASS("resolutions")},
    {W "settings = { resolutions = true; };", "3: 'resolutions' must be a string"},
    /* a class must come from 'words' */
    {"words = { }; settings = { negators = \"@not\"; };", NOT_CLASS("negators")},
    {W "settings = { negation_scope = 11; };", SCOPE("negation_scope", 10)},
    {W "settings = { negation_scope = -1; };", SCOPE("negation_scope", 10)},
    {W "settings = { negation_scope = \"2\"; };", SCOPE("negation_scope", 10)},
    {W "settings = { negation_scope = 2.0; };", SCOPE("negation_scope", 10)},
    {W "settings = { negation_scope = true; };", SCOPE("negation_scope", 10)},
    {W "settings = { negation_scope = [ 1 ]; };", SCOPE("negation_scope", 10)},
    {W "settings = { resolution_scope = 41; };", SCOPE("resolution_scope", 40)},
    {W "settings = { resolution_scope = -2147483647; };", SCOPE("resolution_scope", 40)},
    {W "settings = { near_scope = 21; };", SCOPE("near_scope", 20)},
    {W "settings = { near_scope = 99999999999L; };", SCOPE("near_scope", 20)},
    {W "settings = { near_scope = 99999999999; };", "3: integer out of range"},
    {W "settings = { ages_from_text = 1; };", "3: 'ages_from_text' must be true or false"},
    {W "settings = { ages_from_text = \"true\"; };", "3: 'ages_from_text' must be true or false"},
    {W "settings = { negation_scope = 1; negation_scope = 2; };", "3: duplicate setting name"},
    {W "setting = { };", "3: unknown key 'setting'"},
};

static void
test_refuse_keys(void **state)
{
	check_refusals(bad_pattern_keys);
	check_refusals(bad_words);
	check_refusals(bad_shorthand);
	check_refusals(bad_settings);
}

static const struct row limits_rows[] = {
    {"p1 x p2 x p3 x p4 x p5 x p6 x p7 x p8 x p9 x p10 x p11 x p12",
        "P4 - p12[p1 … p2 … p3 … p4 … p5 … p6 … p7 … p8 … p9 … p10 … p11 … p12]"},
    {"a1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 b1", "P4 - g20[a1 … b1]"},
    {"a1 1 2 3 4 5 6 7 8 9 b1", "P4 -"},
    /* spaces inside a gap's braces, none around the syntax */
    {"c1 x d1", "P4 - spaces[c1 … d1]"},
    {"e1 x f1 g1", "P4 - nospace[e1 … f1 g1]"},
};

/* What the tables above refuse, just inside the limits, loads. */
static void
test_limits_accepted(void **state)
{
	struct triage_rules *r = rulestest_load(
	    V2 "words = { not = [ \"không\" ]; x = ( \"a\" ); };\n"
	       "settings = { negators = \"@not\"; compounds = \"@x\"; resolutions = \"@x\";\n"
	       "  negation_scope = 10L; resolution_scope = 40; near_scope = 0; ages_from_text = "
	       "false; };\n"
	       "shorthand = ( );\n" CATS "rules = (\n"
	       "  { name = \"p12\"; text_any = \"p1 _ p2 _ p3 _ p4 _ p5 _ p6 _ p7 _ p8 _ p9 _ p10 "
	       "_ p11 _ p12\"; "
	       "tags = \"t\"; },\n"
	       "  { name = \"g20\"; text_any = \"a1 _{0,10} _{10,10} b1\"; tags = \"t\"; },\n"
	       "  { name = \"spaces\"; text_any = \"  c1   _{ 1,1}   d1  \"; tags = \"t\"; },\n"
	       "  { name = \"nospace\"; text_any = \"e1_f1(g1|h1)\"; tags = \"t\"; }\n"
	       ");\n");
	check_rows(r, limits_rows);
	triage_free(r);
}

/*
 * The most word classes and shorthand entries, one past each, and a
 * class built on a chain of 1000 classes.
 */
static void
test_limits_counts(void **state)
{
	size_t cap = 256 * 1024, o;
	char *text = xmalloc(cap), want[128];
	struct triage_rules *r;
	struct triage_result res;

	/* c0 = [ "w0" ]; c1 = [ "@c0", "w1" ]; … c999 */
	o = (size_t)snprintf(text, cap, V2 "words = {\n  c0 = [ \"w0\" ];\n");
	for (int i = 1; i < 1000; i++)
		o += (size_t)snprintf(
		    text + o, cap - o, "  c%d = [ \"@c%d\", \"w%d\" ];\n", i, i - 1, i);
	o += (size_t)snprintf(text + o, cap - o,
	    "};\n" CATS
	    "rules = ( { name = \"deep\"; text_any = \"@c999 _ @c0\"; category = \"a\"; } );\n");
	r = rulestest_load(text);
	res = eval_text(r, "w0 x w0");
	assert_int_equal(res.nrules, 1);
	assert_string_equal(res.why[0], "w0 … w0");
	res = eval_text(r, "w999 x w0");
	assert_string_equal(res.why[0], "w999 … w0");
	assert_int_equal(eval_text(r, "w999 x w1").nrules, 0);
	triage_free(r);

	/* one class more: line 1003 is class 1001 */
	o = (size_t)snprintf(text, cap, V2 "words = {\n");
	for (int i = 0; i < 1001; i++)
		o += (size_t)snprintf(text + o, cap - o, "  c%d = [ \"w%d\" ];\n", i, i);
	snprintf(text + o, cap - o, "};\n" CATS RULE_R);
	refuse(text, NAME ":1003: more than 1000 word classes");

	/* 4096 shorthand entries, then 4097 */
	for (int n = 4096; n <= 4097; n++) {
		o = (size_t)snprintf(text, cap, V2 "shorthand = (\n");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(text + o, cap - o, "%s[ \"s%d\", \"word %d\" ]\n",
			    i > 0 ? ", " : "  ", i, i);
		snprintf(text + o, cap - o,
		    ");\n" CATS
		    "rules = ( { name = \"r\"; text_any = \"word 4095\"; category = \"a\"; } );\n");
		if (n == 4096) {
			r = rulestest_load(text);
			res = eval_text(r, "s4095");
			assert_int_equal(res.nrules, 1);
			assert_string_equal(res.why[0], "word 4095");
			triage_free(r);
		} else {
			snprintf(want, sizeof(want), NAME ":2: more than 4096 shorthand entries");
			refuse(text, want);
		}
	}
	free(text);
}

#if defined(__SANITIZE_ADDRESS__)
#define LEAK_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAK_SANITIZER 1
#endif
#endif
/*
 * A shorthand given twice (after folding) is refused, and leaks nothing
 * (valgrind and the sanitizer build check that).
 */
static void
test_refuse_duplicate_shorthand(void **state)
{
	refuse(V2 CATS "shorthand = ( [ \"ko\", \"không\" ],\n  [ \"KO\", \"có\" ] );\n" RULE_R,
	    NAME ":4: shorthand \"KO\" given twice");
	refuse(V2 CATS
	    "shorthand = ( [ \"đt\", \"điện thoại\" ], [ \"dt\", \"điện thoại\" ] );\n" RULE_R,
	    NAME ":3: shorthand \"dt\" given twice");
}

/* --- hostile input ------------------------------------------------------------------------------
 */

#define P12                                                                                        \
	"a _{0,20} a _{0,20} a _{0,20} a _{0,20} a _{0,20} a _{0,20} a _{0,20} a _{0,20} a "       \
	"_{0,20} a _{0,20} a _{0,20} a"
#define NOTE_BYTES (64 * 1024)

static const char hostile_rules[] =
    V2 "shorthand = ( [ \"ko\", \"không\" ] );\n"
       "words = { not = [ \"không\" ]; res = [ \"tìm thấy\" ]; cmp = [ \"nhà trẻ\" ]; now = [ "
       "\"đang\" ]; };\n"
       "settings = { negators = \"@not\"; resolutions = \"@res\"; compounds = \"@cmp\";\n"
       "  negation_scope = 10; resolution_scope = 40; near_scope = 20; ages_from_text = true; "
       "};\n" CATS "rules = (\n"
       "  { name = \"p12\"; text_any = \"" P12 "\"; category = \"a\"; priority = 2; },\n"
       "  { name = \"hit\"; text_any = \"bố _{0,20} đánh\"; category = \"b\"; priority = 2; },\n"
       "  { name = \"home\"; text_any = \"ở nhà _{0,20} trẻ\"; tags = \"t\"; },\n"
       "  { name = \"lost\"; text_any = \"mất tích\"; category = \"m\"; priority = 2; },\n"
       "  { name = \"now\"; category = [ \"a\", \"b\", \"m\" ]; near = \"@now\"; priority = 1; },\n"
       "  { name = \"young\"; child_age = [ 0, 5 ]; tags = \"t\"; }\n"
       ");\n";

/*
 * 64 KiB notes of one thing over and over, each against every feature at
 * its widest scope: each must finish (within a minute, so that a slow
 * machine or valgrind does not matter; they take milliseconds).
 */
static void
test_hostile_notes(void **state)
{
	static const struct {
		const char *unit;
		const char *want;
	} cases[] = {
	    {"a ", "P2 a p12[a a a a a a a a a a a a]"},
	    {"a không ", "P4 -"}, /* every match negated */
	    {"a ko ", "P4 -"},
	    {"a. ", "P4 -"}, /* one word per sentence */
	    {". ", "P4 -"},
	    {"\xff", "P4 -"}, /* invalid UTF-8 */
	    {"x", "P4 -"},    /* one 64 KiB word */
	    {"4t ", "P4 - young"},
	    {"ở nhà trẻ ", "P4 -"},
	    {"ở nhà ", "P4 -"},
	    {"bố đang đánh ", "P1 b hit[bo … danh] now[dang]"},
	    {"bố không đánh ", "P4 -"},
	    {"mất tích tìm thấy ", "P3 m lost[mat tich]"},
	    {"đang mất tích ", "P1 m lost[mat tich] now[dang]"},
	};
	struct triage_rules *r = rulestest_load(hostile_rules);
	char got[1024];

	for (size_t i = 0; i < NROWS(cases); i++) {
		char *note = repeat(cases[i].unit, NOTE_BYTES / strlen(cases[i].unit), NULL);

		if (!eval_bounded(r, note, 60, got, sizeof(got)))
			fail_msg("\"%s\" × %zu did not finish", cases[i].unit,
			    NOTE_BYTES / strlen(cases[i].unit));
		if (strcmp(got, cases[i].want) != 0)
			print_error(
			    "\"%s\"…\n  got  %s\n  want %s\n", cases[i].unit, got, cases[i].want);
		assert_string_equal(got, cases[i].want);
		free(note);
	}
	triage_free(r);
}

/*
 * A pattern of many gapped parts that almost matches must not take time
 * exponential in its parts (walk() remembers what failed):
 *   text_any = "a _{0,20} a _{0,20} … a _{0,20} b" (12 parts)
 * against "a a a … a. b" (64 KiB; "b" is there, in another sentence).
 */
static void
test_hostile_backtracking(void **state)
{
	static const char rules[] = V2 CATS
	    "rules = (\n"
	    "  { name = \"p12\"; text_any = \"a _{0,20} a _{0,20} a _{0,20} a _{0,20} a _{0,20} "
	    "a _{0,20} a _{0,20} a _{0,20} a _{0,20} a _{0,20} a _{0,20} b\"; category = \"a\"; "
	    "},\n"
	    "  { name = \"p7\"; text_any = \"c _{0,20} c _{0,20} c _{0,20} c _{0,20} c _{0,20} "
	    "c _{0,20} d\"; category = \"b\"; }\n"
	    ");\n";
	struct triage_rules *r;
	char got[1024], *note;

	r = rulestest_load(rules);
	note = repeat("a ", NOTE_BYTES / 2, ". b");
	assert_true(eval_bounded(r, note, 10, got, sizeof(got)));
	assert_string_equal(got, "P4 -");
	free(note);
	/* 7 parts, 300 words: "d" ends the note, out of reach of most starts */
	note = repeat("c ", 300, "d");
	assert_true(eval_bounded(r, note, 10, got, sizeof(got)));
	assert_string_equal(got, "P4 b p7[c … c … c … c … c … c … d]");
	free(note);
	triage_free(r);
}

/*
 * A note of one word over and over, 512 KiB: the occurrences come from
 * 4 interleaved lanes, and sorting them must not be quadratic.
 */
static void
test_hostile_long_note(void **state)
{
	struct triage_rules *r;
	char got[1024], *note;

	r = rulestest_load(V2 CATS "rules = ( { name = \"a\"; text_any = \"a\"; category = \"a\"; } );\n");
	note = repeat("a ", 512 * 1024, NULL);
	assert_true(eval_bounded(r, note, 10, got, sizeof(got)));
	assert_string_equal(got, "P4 a a[a]");
	free(note);
	triage_free(r);
}

/*
 * A long shorthand expansion is applied to a short phrase and a long note
 * alike, so the phrase matches the same words.
 */
static void
test_shorthand_long_expansion(void **state)
{
	static const char rules[] =
	    V2 "shorthand = ( [ \"x\", \"một hai ba bốn năm sáu bảy tám chín mười\" ] );\n" CATS
	       "rules = ( { name = \"xy\"; text_any = \"x y\"; category = \"a\"; } );\n";

	static const struct row long_expansion_rows[] = {
	    {"x y", "P4 a xy[mot hai ba bon nam sau bay tam chin muoi y]"},
	    {"x y z z z z z z z z z z z z z z z z z z",
	        "P4 a xy[mot hai ba bon nam sau bay tam chin muoi y]"},
	    {"một hai ba bốn năm sáu bảy tám chín mười y",
	        "P4 a xy[mot hai ba bon nam sau bay tam chin muoi y]"},
	};

	run_table(rules, long_expansion_rows);
}

/*
 * A negator or resolution of 10 words right before a match is seen: the
 * look-back is the scope plus the longest phrase.
 */
static void
test_long_guard_phrases(void **state)
{
	static const char rules[] = V2
	    "words = {\n"
	    "  not = [ \"n1 n2 n3 n4 n5 n6 n7 n8 n9 n10\" ];\n"
	    "  res = [ \"r1 r2 r3 r4 r5 r6 r7 r8 r9 r10\" ];\n"
	    "};\n"
	    "settings = { negators = \"@not\"; resolutions = \"@res\"; resolution_scope = 1; "
	    "};\n" CATS
	    "rules = ( { name = \"x\"; text_any = \"xx\"; category = \"a\"; priority = 2; } );\n";

	static const struct row long_guard_rows[] = {
	    {"n1 n2 n3 n4 n5 n6 n7 n8 n9 n10 xx", "P4 -"},
	    {"r1 r2 r3 r4 r5 r6 r7 r8 r9 r10 xx", "P3 a x[xx]"},
	    {"xx r1 r2 r3 r4 r5 r6 r7 r8 r9 r10", "P3 a x[xx]"}, /* after the match: seen */
	};

	run_table(rules, long_guard_rows);
}

/* --- the shipped rules ---------------------------------------------------------------------- */

/*
 * A few notes the shipped rules must get right whatever their tuning
 * (test_corpus covers the rest): category exact, priority within bounds.
 */
static void
test_shipped_rules(void **state)
{
	static const struct {
		const char *text;
		const char *category; /* NULL: any */
		int pmin, pmax;
	} cases[] = {
	    {"bé rơi xuống ao, cứu với", "drowning", 1, 1},
	    {"BE ROI XUONG AO, CUU VOI", "drowning", 1, 1},
	    {"con không bị ai đánh cả", NULL, 3, 4},
	    {"ba ko có đánh em", NULL, 3, 4},
	    {"cháu mất tích từ sáng", "missing", 1, 2},
	    {"cháu mất tích từ sáng. Đã tìm thấy cháu rồi", "missing", 3, 4},
	    {"em muốn tự tử", "self_harm", 1, 2},
	    {"bài văn về phòng chống xâm hại trẻ em", NULL, 3, 4},
	};
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = triage_load(TOP_SRCDIR "/conf/rules.conf", err, sizeof(err));
	int bad = 0;

	if (r == NULL)
		fail_msg("%s", err);
	for (size_t i = 0; i < NROWS(cases); i++) {
		struct triage_result res = eval_text(r, cases[i].text);
		char got[1024];

		describe(&res, got, sizeof(got));
		if ((cases[i].category != NULL &&
		        (res.category == NULL || strcmp(res.category, cases[i].category) != 0)) ||
		    res.priority < cases[i].pmin || res.priority > cases[i].pmax) {
			print_error("\"%s\": got %s, want %s P%d-%d\n", cases[i].text, got,
			    cases[i].category ? cases[i].category : "any", cases[i].pmin,
			    cases[i].pmax);
			bad++;
		}
	}
	triage_free(r);
	if (bad > 0)
		fail_msg("%d shipped-rule notes wrong", bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classes),
	    cmocka_unit_test(test_class_errors),
	    cmocka_unit_test(test_gaps),
	    cmocka_unit_test(test_alternatives_optional),
	    cmocka_unit_test(test_sentences),
	    cmocka_unit_test(test_folding),
	    cmocka_unit_test(test_shorthand),
	    cmocka_unit_test(test_negation),
	    cmocka_unit_test(test_resolution),
	    cmocka_unit_test(test_compounds),
	    cmocka_unit_test(test_near),
	    cmocka_unit_test(test_ages),
	    cmocka_unit_test(test_why),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_version1),
	    cmocka_unit_test(test_version_gate),
	    cmocka_unit_test(test_version_gate_near),
	    cmocka_unit_test(test_version1_sentences),
	    cmocka_unit_test(test_refuse_patterns),
	    cmocka_unit_test(test_refuse_keys),
	    cmocka_unit_test(test_refuse_duplicate_shorthand),
	    cmocka_unit_test(test_limits_accepted),
	    cmocka_unit_test(test_limits_counts),
	    cmocka_unit_test(test_hostile_notes),
	    cmocka_unit_test(test_shipped_rules),
	    cmocka_unit_test(test_hostile_backtracking),
	    cmocka_unit_test(test_hostile_long_note),
	    cmocka_unit_test(test_shorthand_long_expansion),
	    cmocka_unit_test(test_long_guard_phrases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
