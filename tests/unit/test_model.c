/*
 * test_model.c: the second reader (triage_model.c): its features, a model
 * file read and the files it must refuse with "FILE:LINE: message", its
 * guess and the words behind it, and how triage_eval() combines it with
 * the rules (max_priority, min_confidence, never P1, never lower).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "textnorm.h"
#include "triage.h"
#include "triage_model.h"
#include "xmalloc.h"

/* A small model: "sờ soạng" and "vùng kín" say abuse.sexual, "alo" says
 * silent, "hỏi" says info, "ao" drowning (weakly). */
#define MODEL_HEAD "hotline111-model 1\nclasses abuse.sexual drowning info silent\n" \
		   "features words pairs chars 3 5\nbias 0:-1 1:-1 2:-1 3:-1\n"
#define MODEL_FEATS                                                                            \
	"f w:so 0:6\nf w:soang 0:6 2:-1\nf p:vung_kin 0:8\nf w:alo 3:9\nf w:hoi 2:7\n"         \
	"f c:_ao_ 1:0.5\nf c:_bo 1:-0.5\n"
#define MODEL_BODY MODEL_HEAD MODEL_FEATS
#define MODEL_OK MODEL_BODY "end 7\n"

/* An urgency model: "nhanh" says now, "nước" later. */
#define URGENCY_OK "hotline111-model 1\nclasses later now\nfeatures words pairs chars 3 5\n" \
		   "bias 0:0 1:-1\nf w:nhanh 1:40\nf w:nuoc 0:3\nend 2\n"

static char dir[] = "/tmp/test_model.XXXXXX";
static char rules_path[300], model_path[300], urgency_path[300];

static int
group_setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(rules_path, sizeof(rules_path), "%s/rules.conf", dir);
	snprintf(model_path, sizeof(model_path), "%s/m.model", dir);
	snprintf(urgency_path, sizeof(urgency_path), "%s/u.model", dir);
	return 0;
}

static int
group_teardown(void **state)
{
	unlink(rules_path);
	unlink(model_path);
	unlink(urgency_path);
	rmdir(dir);
	return 0;
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* --- features ------------------------------------------------------------ */

struct seen {
	char keys[64][80];
	uint32_t w0[64], w1[64];
	int n;
};

static void
collect(void *ctx, const char *key, size_t len, uint32_t w0, uint32_t w1)
{
	struct seen *s = ctx;

	assert_true(len < sizeof(s->keys[0]));
	if (s->n == 64)
		return;
	memcpy(s->keys[s->n], key, len);
	s->keys[s->n][len] = '\0';
	s->w0[s->n] = w0;
	s->w1[s->n++] = w1;
}

static int
has(const struct seen *s, const char *key, uint32_t w0, uint32_t w1)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0 && s->w0[i] == w0 && s->w1[i] == w1)
			return 1;
	return 0;
}

static void
test_features(void **state)
{
	struct seen s = {.n = 0};
	const char *t = " be bi ";

	triage_model_features(t, strlen(t), collect, &s);
	assert_true(has(&s, "w:be", 0, 0));
	assert_true(has(&s, "w:bi", 1, 1));
	assert_true(has(&s, "p:be_bi", 0, 1));
	assert_true(has(&s, "c:_be", 0, 0));
	assert_true(has(&s, "c:_be_", 0, 0));
	assert_true(has(&s, "c:be_", 0, 0));
	assert_true(has(&s, "c:_bi_", 1, 1));
	/* n-grams stay inside a word: none holds both */
	for (int i = 0; i < s.n; i++)
		assert_false(s.keys[i][0] == 'c' && strstr(s.keys[i], "e_b") != NULL);
	/* words + pairs + grams of "_be_": 2 + 1 + (2 + 1) * 2 */
	assert_int_equal(s.n, 9);
}

/* Folded text may keep letters outside ASCII: grams are code points. */
static void
test_features_utf8(void **state)
{
	struct seen s = {.n = 0};
	char *f = textnorm_fold("Ωμέγα", strlen("Ωμέγα"), NULL);

	triage_model_features(f, strlen(f), collect, &s);
	assert_true(has(&s, "w:ωμεγα", 0, 0));
	assert_true(has(&s, "c:_ωμ", 0, 0));
	assert_true(has(&s, "c:γα_", 0, 0));
	free(f);
}

/* A pasted link or a run of letters gives no word and no gram, and no
 * pair with its neighbours, but still counts as a word. */
static void
test_features_long_word(void **state)
{
	char t[200] = " a ";
	struct seen s = {.n = 0};

	memset(t + 3, 'x', 60);
	strcpy(t + 63, " b ");
	triage_model_features(t, strlen(t), collect, &s);
	assert_true(has(&s, "w:a", 0, 0));
	assert_true(has(&s, "w:b", 2, 2));
	for (int i = 0; i < s.n; i++)
		assert_null(strstr(s.keys[i], "xxx"));
	assert_false(has(&s, "p:a_b", 0, 2));
}

static void
test_features_empty(void **state)
{
	struct seen s = {.n = 0};

	triage_model_features(" ", 1, collect, &s);
	triage_model_features("", 0, collect, &s);
	assert_int_equal(s.n, 0);
}

/* --- loading ------------------------------------------------------------- */

static struct triage_model *
load(const char *text, char *err)
{
	return triage_model_load_string("m.model", text, strlen(text), err, TRIAGE_ERRLEN);
}

static void
test_load_ok(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_model *m = load(MODEL_HEAD "# a comment\n" MODEL_FEATS "#\nend 7\n", err);

	if (m == NULL)
		fail_msg("%s", err);
	assert_int_equal(triage_model_class_count(m), 4);
	assert_string_equal(triage_model_class(m, 2), "info");
	assert_null(triage_model_class(m, 4));
	assert_int_equal(triage_model_feature_count(m), 7);
	assert_int_equal(triage_model_classes_line(m), 2);
	triage_model_free(m);
}

/* Each damaged file and the message it gets. */
static const struct bad {
	const char *text;
	const char *err;
} bad[] = {
    {"", "m.model:1: truncated: no 'end N' line"},
    {"hello 1\n", "m.model:1: not a hotline111 model"},
    {"hotline111-model 2\n", "m.model:1: model version '2' is not supported"},
    {"hotline111-model\n", "m.model:1: model version '' is not supported"},
    {MODEL_BODY, "m.model:12: truncated: no 'end N' line"},
    {MODEL_BODY "end 7", "m.model:12: truncated: the last line has no newline"},
    {MODEL_HEAD "f w:so 0:6\nf w:s", "m.model:6: truncated: the last line has no newline"},
    {MODEL_BODY "end 8\n", "m.model:12: 'end 8' but 7 features"},
    {MODEL_BODY "end x\n", "m.model:12: expected 'end N'"},
    {MODEL_OK "f w:x 0:1\n", "m.model:13: text after the 'end' line"},
    {MODEL_HEAD "f w:x 0:nan\nend 1\n", "m.model:5: bad weight '0:nan' (not a finite"},
    {MODEL_HEAD "f w:x 0:inf\nend 1\n", "m.model:5: bad weight '0:inf' (not a finite"},
    {MODEL_HEAD "f w:x 0:1e400\nend 1\n", "m.model:5: bad weight '0:1e400'"},
    {MODEL_HEAD "f w:x 0:1e7\nend 1\n", "m.model:5: bad weight '0:1e7'"},
    {MODEL_HEAD "f w:x 0:1x\nend 1\n", "m.model:5: bad weight '0:1x'"},
    {MODEL_HEAD "f w:x 4:1\nend 1\n", "m.model:5: bad weight '4:1' (CLASS:WEIGHT, CLASS 0..3)"},
    {MODEL_HEAD "f w:x -1:1\nend 1\n", "m.model:5: bad weight '-1:1'"},
    {MODEL_HEAD "f w:x 1:1 1:2\nend 1\n", "m.model:5: class 1 out of order or given twice"},
    {MODEL_HEAD "f w:x 2:1 1:2\nend 1\n", "m.model:5: class 1 out of order or given twice"},
    {MODEL_HEAD "f w:x 0:1 1:1 2:1 3:1 0:1\nend 1\n", "m.model:5: more weights than classes"},
    {MODEL_HEAD "f w:x 0:1\nf c:ab 1:1\nf w:x 2:1\nend 3\n",
        "m.model:7: feature 'w:x' given twice (first at line 5)"},
    {MODEL_HEAD "f x:y 0:1\nend 1\n", "m.model:5: bad feature key 'x:y'"},
    {MODEL_HEAD "f w 0:1\nend 1\n", "m.model:5: bad feature key 'w'"},
    {MODEL_HEAD "g w:x 0:1\nend 1\n", "m.model:5: expected 'f KEY CLASS:WEIGHT...' or 'end N'"},
    {MODEL_HEAD "f w:x\t0:1\nend 1\n", "m.model:5: a tab or carriage return"},
    {MODEL_HEAD "f w:x 0:1\r\nend 1\n", "m.model:5: a tab or carriage return"},
    {"hotline111-model 1\nclasses a\n", "m.model:2: a model needs at least 2 classes"},
    {"hotline111-model 1\nclasses a b a\n", "m.model:2: class 'a' given twice"},
    {"hotline111-model 1\nclasses a b;c\n", "m.model:2: bad class name 'b;c'"},
    {"hotline111-model 1\nlabels a b\n", "m.model:2: expected 'classes ID...'"},
    {"hotline111-model 1\nclasses a b\nfeatures words\n", "m.model:3: expected 'features words pairs"},
    {"hotline111-model 1\nclasses a b\nfeatures words pairs chars 3 5\nbias 0:1 1:1 0:1\n",
        "m.model:4: more weights than classes"},
    {"hotline111-model 1\nclasses a b\nfeatures words pairs chars 3 5\nbiais 0:1\n",
        "m.model:4: expected 'bias CLASS:WEIGHT...'"},
};

static void
test_load_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[TRIAGE_ERRLEN] = "";
		struct triage_model *m = load(bad[i].text, err);

		if (m != NULL || strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, err, bad[i].err);
	}
}

static void
test_load_hostile(void **state)
{
	char err[TRIAGE_ERRLEN];
	size_t n = MODEL_MAX_FILE + 1;
	char *big = xmalloc(n), *line = xmalloc(MODEL_MAX_LINE + 512);
	char nul[] = "hotline111-model 1\n\0classes a b\n";
	struct triage_model *m;

	memset(big, '#', n);
	m = triage_model_load_string("m.model", big, n, err, sizeof(err));
	assert_null(m);
	assert_non_null(strstr(err, "m.model:1: file larger than"));
	assert_null(triage_model_load_string("m.model", nul, sizeof(nul) - 1, err, sizeof(err)));
	assert_non_null(strstr(err, "NUL byte"));
	snprintf(line, MODEL_MAX_LINE + 512, "%sf w:x", MODEL_HEAD);
	memset(line + strlen(line), ' ', MODEL_MAX_LINE);
	strcpy(line + strlen(MODEL_HEAD) + 5 + MODEL_MAX_LINE, "0:1\nend 1\n");
	assert_null(load(line, err));
	assert_non_null(strstr(err, "m.model:5: line longer than"));
	/* a device or a directory is not a model */
	assert_null(triage_model_load("/dev/zero", err, sizeof(err)));
	assert_string_equal(err, "/dev/zero: not a regular file");
	assert_null(triage_model_load("/nonexistent/m", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/m: No such file or directory");
	free(big);
	free(line);
}

/* --- the guess ----------------------------------------------------------- */

static void
test_predict(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_model *m = load(MODEL_OK, err);
	struct model_guess g;

	assert_non_null(m);
	triage_model_predict(m, "Chú ấy hay sờ soạng ở vùng kín của bé", &g);
	assert_int_equal(g.cls, 0);
	assert_true(g.p > 0.5 && g.p <= 1);
	assert_string_equal(g.words, "sờ soạng, vùng kín");
	assert_int_equal(g.nword, 2);
	triage_model_predict(m, "alo alo", &g);
	assert_int_equal(g.cls, 3);
	assert_string_equal(g.words, "alo");
	/* nothing the model knows: no guess */
	triage_model_predict(m, "xin chào", &g);
	assert_int_equal(g.cls, -1);
	assert_string_equal(g.words, "");
	triage_model_predict(m, NULL, &g);
	assert_int_equal(g.cls, -1);
	triage_model_predict(m, "", &g);
	assert_int_equal(g.cls, -1);
	triage_model_free(m);
}

/* Folding first: the same note without marks, in capitals or in NFD
 * gets the same class and probability. */
static void
test_predict_variants(void **state)
{
	static const char *const v[] = {
	    "Chú ấy hay sờ soạng ở vùng kín của bé",
	    "chu ay hay so soang o vung kin cua be",
	    "CHÚ ẤY HAY SỜ SOẠNG Ở VÙNG KÍN CỦA BÉ",
	    "Chu\xcc\x81 a\xcc\x82\xcc\x81y hay so\xcc\x9b\xcc\x80 soa\xcc\xa3ng o\xcc\x9b\xcc\x89 vu\xcc\x80ng "
	    "ki\xcc\x81n cu\xcc\x89\x61 be\xcc\x81",
	};
	char err[TRIAGE_ERRLEN];
	struct triage_model *m = load(MODEL_OK, err);
	struct model_guess g0, g;

	triage_model_predict(m, v[0], &g0);
	for (size_t i = 1; i < sizeof(v) / sizeof(v[0]); i++) {
		triage_model_predict(m, v[i], &g);
		assert_int_equal(g.cls, g0.cls);
		assert_true(fabs(g.p - g0.p) < 1e-12);
		assert_int_equal(g.nword, 2);
	}
	triage_model_predict(m, v[1], &g);
	assert_string_equal(g.words, "so soang, vung kin");
	triage_model_free(m);
}

/* Hostile text: invalid UTF-8, control bytes, a huge note. */
static void
test_predict_hostile(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_model *m = load(MODEL_OK, err);
	struct model_guess g;
	size_t n = 200000;
	char *big = xmalloc(n + 1);
	json_t *js;

	triage_model_predict(m, "s\xff\xfe\x01\xed\xa0\x80 sờ\x00soạng", &g);
	assert_int_equal(g.cls, 0);
	js = json_string(g.words); /* valid UTF-8 */
	assert_non_null(js);
	json_decref(js);
	for (size_t i = 0; i < n; i++)
		big[i] = "so soang alo "[i % 13];
	big[n] = '\0';
	triage_model_predict(m, big, &g);
	assert_true(g.cls == 0 || g.cls == 3);
	assert_true(strlen(g.words) < sizeof(g.words));
	free(big);
	triage_model_free(m);
}

/* The same model with a weight, 0 or not, for every class: loaded into
 * the dense layout (triage_model.c), not the lists. */
#define MODEL_DENSE                                                                            \
	MODEL_HEAD "f w:so 0:6 1:0 2:0 3:0\nf w:soang 0:6 1:0 2:-1 3:0\nf p:vung_kin 0:8 1:0 2:0 3:0\n" \
		   "f w:alo 0:0 1:0 2:0 3:9\nf w:hoi 0:0 1:0 2:7 3:0\nf c:_ao_ 0:0 1:0.5 2:0 3:0\n"     \
		   "f c:_bo 0:0 1:-0.5 2:0 3:0\nend 7\n"

static const char *const guess_texts[] = {
    "Chú ấy hay sờ soạng ở vùng kín của bé",
    "alo alo, hỏi chút",
    "bé bơi ở ao; bố đi vắng",
    "sờ soạng. vùng kín, x½ (hỏi)",
    "xin chào",
};

static void
same_guess(const struct model_guess *a, const struct model_guess *b)
{
	assert_int_equal(a->cls, b->cls);
	assert_true(a->p == b->p); /* not close: the same bits */
	assert_string_equal(a->words, b->words);
	assert_int_equal(a->nword, b->nword);
}

/* Both layouts add the same weights in the same order: the same bits. */
static void
test_predict_dense(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_model *lists = load(MODEL_OK, err), *dense = load(MODEL_DENSE, err);
	struct model_guess a, b;

	assert_non_null(lists);
	if (dense == NULL)
		fail_msg("%s", err);
	for (size_t i = 0; i < sizeof(guess_texts) / sizeof(guess_texts[0]); i++) {
		triage_model_predict(lists, guess_texts[i], &a);
		triage_model_predict(dense, guess_texts[i], &b);
		same_guess(&a, &b);
	}
	triage_model_predict(dense, guess_texts[0], &b);
	assert_int_equal(b.cls, 0);
	triage_model_free(lists);
	triage_model_free(dense);
}

/* The rules' folding (sentence and phrase breaks kept as words "." and
 * ",") read by the model as its own: breaks skipped, a word pair across
 * one still a pair, the words reported the same (also where the note's
 * words and the folded ones do not line up: "x½"). */
static void
test_predict_folded(void **state)
{
	char err[TRIAGE_ERRLEN], *buf = NULL;
	size_t cap = 0, len;
	struct triage_model *m = load(MODEL_OK, err);
	struct model_guess a, b;

	assert_non_null(m);
	for (size_t i = 0; i < sizeof(guess_texts) / sizeof(guess_texts[0]); i++) {
		len = textnorm_fold_sentences(guess_texts[i], strlen(guess_texts[i]), &buf, &cap);
		triage_model_predict(m, guess_texts[i], &a);
		triage_model_predict_folded(m, guess_texts[i], buf, len, &b);
		same_guess(&a, &b);
	}
	/* "vùng. kín" still holds the pair vung_kin, as plain folding reads it */
	len = textnorm_fold_sentences("vùng. kín", strlen("vùng. kín"), &buf, &cap);
	triage_model_predict_folded(m, "vùng. kín", buf, len, &b);
	assert_int_equal(b.cls, 0);
	triage_model_predict_folded(m, NULL, " ", 1, &b);
	assert_int_equal(b.cls, -1);
	free(buf);
	triage_model_free(m);
}

/* --- with the rules ------------------------------------------------------ */

#define CATS                                                                                   \
	"categories = ( { id = \"abuse.sexual\"; label = \"a\"; }, { id = \"drowning\"; "    \
	"label = \"d\"; }, { id = \"info\"; label = \"i\"; }, { id = \"silent\"; label = \"s\"; } );\n"
#define RULES                                                                                  \
	"rules = ( { name = \"water\"; text_any = [ \"đuối nước\" ]; category = \"drowning\"; " \
	"priority = 2; }, { name = \"now\"; text_any = [ \"cứu\" ]; priority = 1; }, "          \
	"{ name = \"help\"; category = [ \"abuse.sexual\" ]; text_any = [ \"giúp với\" ]; "    \
	"priority = 1; } );\n"

static struct triage_rules *
rules_with(const char *model_group, char *err)
{
	char text[2048];

	snprintf(text, sizeof(text), CATS "%s\n" RULES, model_group);
	write_file(rules_path, text, strlen(text));
	return triage_load(rules_path, err, TRIAGE_ERRLEN);
}

static void
eval(const struct triage_rules *r, const char *text, int prio, struct triage_result *out)
{
	struct triage_input in;

	triage_input_init(&in);
	in.text = text;
	in.priority = prio;
	assert_int_equal(triage_eval(r, &in, out), 0);
}

static void
test_combine(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;
	struct triage_result res;

	write_file(model_path, MODEL_OK, strlen(MODEL_OK));
	r = rules_with("model = { file = \"m.model\"; };", err);
	if (r == NULL)
		fail_msg("%s", err);
	assert_ptr_equal(triage_model_of(r) != NULL, 1);
	/* no rule named a category: the model's, raised to P2, no further */
	eval(r, "hay sờ soạng ở vùng kín", 4, &res);
	assert_string_equal(res.category, "abuse.sexual");
	assert_int_equal(res.priority, 2);
	assert_int_equal(res.model.applied, 1);
	assert_string_equal(res.model.words, "sờ soạng, vùng kín");
	/* never lower: an input at P1 stays there */
	eval(r, "hay sờ soạng ở vùng kín", 1, &res);
	assert_int_equal(res.priority, 1);
	/* a rule chose the category: the model is reported, not applied */
	eval(r, "bé đuối nước, sờ soạng ở vùng kín", 4, &res);
	assert_string_equal(res.category, "drowning");
	assert_string_equal(res.model.category, "abuse.sexual");
	assert_int_equal(res.model.applied, 0);
	/* a rule with a floor but no category: the model names it; the floor stays */
	eval(r, "cứu, sờ soạng ở vùng kín", 4, &res);
	assert_string_equal(res.category, "abuse.sexual");
	assert_int_equal(res.priority, 1);
	/* the rules read the note again with the model's category: a rule
	 * about that category may make it P1, the model alone never does */
	eval(r, "hay sờ soạng ở vùng kín, giúp với", 4, &res);
	assert_string_equal(res.category, "abuse.sexual");
	assert_int_equal(res.priority, 1);
	assert_int_equal(res.model.applied, 1);
	assert_int_equal(res.nrules, 1);
	assert_string_equal(res.rules[0], "help");
	/* not a harm category: reported, never applied */
	eval(r, "alo alo", 4, &res);
	assert_null(res.category);
	assert_int_equal(res.priority, 4);
	assert_string_equal(res.model.category, "silent");
	assert_int_equal(res.model.applied, 0);
	triage_free(r);
}

/* overrule: the model replaces a rule's category only when told, and only
 * the category; overrule_concern does not reach a P2 rule's */
static void
test_combine_overrule(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;
	struct triage_result res;

	write_file(model_path, MODEL_OK, strlen(MODEL_OK));
	r = rules_with("model = { file = \"m.model\"; overrule = 0; };", err);
	if (r == NULL)
		fail_msg("%s", err);
	eval(r, "bé đuối nước, sờ soạng ở vùng kín", 4, &res);
	assert_string_equal(res.category, "abuse.sexual");
	assert_int_equal(res.priority, 2);
	assert_int_equal(res.model.applied, 1);
	/* an operator's category is never overruled */
	{
		struct triage_input in;

		triage_input_init(&in);
		in.text = "bé đuối nước, sờ soạng ở vùng kín";
		in.category = "drowning";
		assert_int_equal(triage_eval(r, &in, &res), 0);
		assert_string_equal(res.category, "drowning");
		assert_int_equal(res.model.applied, 0);
	}
	triage_free(r);
	r = rules_with("model = { file = \"m.model\"; overrule_concern = 0; };", err);
	assert_non_null(r);
	eval(r, "bé đuối nước, sờ soạng ở vùng kín", 4, &res);
	assert_string_equal(res.category, "drowning");
	assert_int_equal(res.model.applied, 0);
	triage_free(r);
}

/* doubt: the model reads no harm where a rule read a serious case: the
 * case stays a concern; never a P1, never below the input's priority */
/* twelve words and more, with the rules' drowning and the model's info */
#define LONG_Q "hỏi hỏi hỏi về chuyện bé bị đuối nước ở hồ bơi trong phim năm ngoái"

static void
test_combine_doubt(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;
	struct triage_result res;
	struct triage_input in;
	json_t *answers;

	write_file(model_path, MODEL_OK, strlen(MODEL_OK));
	r = rules_with("model = { file = \"m.model\"; doubt = 0.5; };", err);
	if (r == NULL)
		fail_msg("%s", err);
	eval(r, LONG_Q, 4, &res);
	assert_string_equal(res.category, "drowning");
	assert_int_equal(res.priority, 3);
	assert_string_equal(res.model.category, "info");
	assert_int_equal(res.model.doubted, 1);
	/* a short note is not doubted: the model's prior speaks louder there */
	eval(r, "hỏi hỏi về đuối nước", 4, &res);
	assert_int_equal(res.priority, 2);
	assert_int_equal(res.model.doubted, 0);
	eval(r, "cứu, " LONG_Q, 4, &res);
	assert_int_equal(res.priority, 1);
	assert_int_equal(res.model.doubted, 0);
	eval(r, LONG_Q, 2, &res);
	assert_int_equal(res.priority, 2);
	assert_int_equal(res.model.doubted, 0);
	triage_input_init(&in);
	in.text = LONG_Q;
	answers = json_pack("{s:s}", "danger_now", "unknown");
	in.answers = answers;
	assert_int_equal(triage_eval(r, &in, &res), 0);
	assert_int_equal(res.priority, 2);
	json_decref(answers);
	triage_free(r);
	/* without the key, the rules' P2 stands */
	r = rules_with("model = { file = \"m.model\"; };", err);
	eval(r, LONG_Q, 4, &res);
	assert_int_equal(res.priority, 2);
	assert_int_equal(res.model.doubted, 0);
	triage_free(r);
}

/* urgency: a harm case at P2 the urgency model reads as now becomes P1;
 * nothing else moves */
static void
test_urgency(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;
	struct triage_result res;
	json_t *j;

	write_file(urgency_path, URGENCY_OK, strlen(URGENCY_OK));
	r = rules_with("urgency = { file = \"u.model\"; min_confidence = 0.5; };", err);
	if (r == NULL)
		fail_msg("%s", err);
	eval(r, "bé đuối nước, nhanh nhanh", 4, &res);
	assert_string_equal(res.category, "drowning");
	assert_int_equal(res.priority, 1);
	assert_int_equal(res.urgency.applied, 1);
	assert_true(res.urgency.p >= 0.5);
	j = triage_result_json(&res);
	assert_true(json_is_true(json_object_get(json_object_get(j, "urgency"), "applied")));
	json_decref(j);
	/* read as later: stays P2, asked and reported */
	eval(r, "bé đuối nước", 4, &res);
	assert_int_equal(res.priority, 2);
	assert_int_equal(res.urgency.asked, 1);
	assert_int_equal(res.urgency.applied, 0);
	/* no harm category: not asked */
	eval(r, "nhanh nhanh", 4, &res);
	assert_int_equal(res.priority, 4);
	assert_int_equal(res.urgency.asked, 0);
	triage_free(r);
	/* min_confidence 1 is never reached */
	r = rules_with("urgency = { file = \"u.model\"; min_confidence = 1; };", err);
	assert_non_null(r);
	eval(r, "bé đuối nước, nhanh nhanh", 4, &res);
	assert_int_equal(res.priority, 2);
	triage_free(r);
	/* a category model is not an urgency model */
	write_file(model_path, MODEL_OK, strlen(MODEL_OK));
	r = rules_with("urgency = { file = \"m.model\"; };", err);
	assert_null(r);
	assert_non_null(strstr(err, "the classes must be 'now' and 'later'"));
}

static void
test_combine_settings(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;
	struct triage_result res;
	json_t *j, *mj;

	write_file(model_path, MODEL_OK, strlen(MODEL_OK));
	/* max_priority 3; min_confidence 1 is never reached */
	r = rules_with("model = { file = \"m.model\"; max_priority = 3; min_confidence = 1; };", err);
	assert_non_null(r);
	eval(r, "hay sờ soạng ở vùng kín", 4, &res);
	assert_null(res.category);
	assert_int_equal(res.model.applied, 0);
	assert_int_equal(res.priority, 4);
	triage_free(r);
	r = rules_with("model = { file = \"m.model\"; max_priority = 3; min_confidence = 0; };", err);
	eval(r, "hay sờ soạng ở vùng kín", 4, &res);
	assert_int_equal(res.priority, 3);
	j = triage_result_json(&res);
	mj = json_object_get(j, "model");
	assert_string_equal(json_string_value(json_object_get(mj, "category")), "abuse.sexual");
	assert_true(json_is_true(json_object_get(mj, "applied")));
	assert_int_equal(json_array_size(json_object_get(mj, "words")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(mj, "words"), 1)),
	    "vùng kín");
	assert_true(json_real_value(json_object_get(mj, "p")) > 0.5);
	json_decref(j);
	/* no model group: no "model" in the result */
	triage_free(r);
	r = rules_with("", err);
	eval(r, "hay sờ soạng ở vùng kín", 4, &res);
	assert_null(res.model.category);
	j = triage_result_json(&res);
	assert_null(json_object_get(j, "model"));
	json_decref(j);
	triage_free(r);
}

static const struct bad bad_group[] = {
    {"model = { file = \"m.model\"; max_priority = 1; };",
        ":2: 'model.max_priority' must be an integer from 2 to 4"},
    {"model = { file = \"m.model\"; max_priority = 5; };", ":2: 'model.max_priority' must be"},
    {"model = { file = \"m.model\"; min_confidence = 1.5; };",
        ":2: 'model.min_confidence' must be a number from 0 to 1"},
    {"model = { file = \"m.model\"; min_confidence = \"x\"; };", ":2: 'model.min_confidence'"},
    {"model = { file = \"m.model\"; overrule = 2; };", ":2: 'model.overrule' must be"},
    {"model = { file = \"m.model\"; overrule_concern = \"x\"; };",
     ":2: 'model.overrule_concern' must be"},
    {"model = { file = \"m.model\"; doubt = -0.1; };", ":2: 'model.doubt' must be"},
    {"urgency = { file = \"m.model\"; colour = 1; };", ":2: unknown key 'urgency.colour'"},
    {"urgency = { min_confidence = 0.5; };", ":2: 'urgency' needs 'file'"},
    {"urgency = { file = \"m.model\"; min_confidence = 2; };",
     ":2: 'urgency.min_confidence' must be"},
    {"urgency = 3;", ":2: 'urgency' must be a group"},
    {"model = { file = \"m.model\"; colour = 1; };", ":2: unknown key 'model.colour'"},
    {"model = { max_priority = 2; };", ":2: 'model' needs 'file'"},
    {"model = { file = 3; };", ":2: 'model.file' must be a string"},
    {"model = \"m.model\";", ":2: 'model' must be a group"},
    {"model = { file = \"absent.model\"; };", ":2: model: "},
};

static void
test_group_bad(void **state)
{
	write_file(model_path, MODEL_OK, strlen(MODEL_OK));
	for (size_t i = 0; i < sizeof(bad_group) / sizeof(bad_group[0]); i++) {
		char err[TRIAGE_ERRLEN] = "", want[600];
		struct triage_rules *r = rules_with(bad_group[i].text, err);

		snprintf(want, sizeof(want), "%s%s", rules_path, bad_group[i].err);
		if (r != NULL || strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, err, want);
	}
}

/* A class the rules file does not declare; a damaged model file. */
static void
test_group_bad_model(void **state)
{
	static const char other[] = "hotline111-model 1\nclasses abuse.sexual neglect\n"
				    "features words pairs chars 3 5\nbias\nend 0\n";
	char err[TRIAGE_ERRLEN], want[700];
	struct triage_rules *r;

	write_file(model_path, other, strlen(other));
	assert_null(rules_with("model = { file = \"m.model\"; };", err));
	snprintf(want, sizeof(want), "%s:2: model: %s:2: class 'neglect' is not a category of this file",
	    rules_path, model_path);
	assert_string_equal(err, want);
	write_file(model_path, MODEL_BODY, strlen(MODEL_BODY));
	assert_null(rules_with("model = { file = \"m.model\"; };", err));
	snprintf(want, sizeof(want), "%s:2: model: %s:12: truncated: no 'end N' line", rules_path,
	    model_path);
	assert_string_equal(err, want);
	/* an absolute path is taken as it is */
	write_file(model_path, MODEL_OK, strlen(MODEL_OK));
	snprintf(want, sizeof(want), "model = { file = \"%s\"; };", model_path);
	r = rules_with(want, err);
	assert_non_null(r);
	triage_free(r);
}

/* The shipped rules load with the shipped model, and it has every one of
 * their categories. */
static void
test_shipped(void **state)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = triage_load(TOP_SRCDIR "/conf/rules.conf", err, sizeof(err));
	const struct triage_model *m;

	if (r == NULL)
		fail_msg("%s", err);
	m = triage_model_of(r);
	assert_non_null(m);
	assert_int_equal(triage_model_class_count(m), triage_category_count(r));
	triage_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_features),
	    cmocka_unit_test(test_features_utf8),
	    cmocka_unit_test(test_features_long_word),
	    cmocka_unit_test(test_features_empty),
	    cmocka_unit_test(test_load_ok),
	    cmocka_unit_test(test_load_bad),
	    cmocka_unit_test(test_load_hostile),
	    cmocka_unit_test(test_predict),
	    cmocka_unit_test(test_predict_variants),
	    cmocka_unit_test(test_predict_hostile),
	    cmocka_unit_test(test_predict_dense),
	    cmocka_unit_test(test_predict_folded),
	    cmocka_unit_test(test_combine),
	    cmocka_unit_test(test_combine_overrule), cmocka_unit_test(test_combine_doubt),
	    cmocka_unit_test(test_urgency),
	    cmocka_unit_test(test_combine_settings),
	    cmocka_unit_test(test_group_bad),
	    cmocka_unit_test(test_group_bad_model),
	    cmocka_unit_test(test_shipped),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
