/*
 * triage.c: the triage rule engine: a case in, a decision out. See
 * triage.h for the contract and hotline111-rules(5) for the file.
 *
 * A note is read once (triage_match.c): folded, shorthand expanded, cut
 * into words, every phrase of every rule found by one automaton. The
 * phrases present let in the rules worth a look; those are checked in
 * file order, their patterns matched over the occurrences only.
 */
#include "triage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "textnorm.h"
#include "triage_int.h"
#include "triage_model.h"
#include "xmalloc.h"

#define STACK_WORDS 256 /* per-call bitmaps up to this many words */
#define MAX_SPANS 8     /* matches kept per rule, and of fired rules */
#define SETTLED_FLOOR 3 /* the most a resolved match can ask */
/* the fewest words of a note the model may doubt: in a short one its prior
 * (most short notes are questions) speaks louder than the words, and "em
 * muốn tự tử" must stay serious; the notes it rightly doubted on unseen
 * batches had 18 words or more */
#define DOUBT_MIN_WORDS 12

struct eval {
	const struct triage_rules *r;
	const struct triage_input *in;
	struct note note;
	int category;   /* current: chosen so far, or the input's */
	char *province; /* folded, on first need */
	int have_tm;    /* 1 known, -1 unknown, 0 not yet asked */
	struct tm tm;
	pcre2_match_data *md; /* on first need */
	const struct rule *rule; /* being checked */
	struct span m[MAX_SPANS]; /* its text matches so far */
	uint32_t nm;
	struct span harm[MAX_SPANS]; /* matches of fired rules that named a category */
	uint32_t nharm;
	struct span guard; /* the text_none match that stopped the rule */
	uint32_t negated;  /* text matches a negator cancelled */
	struct triage_result *out;
	int age; /* the child's age as given (an answer, the input), or -1 */
	int8_t ans[MAX_QUESTIONS]; /* each question's word answer, or -1 */
};

static void
keep(struct eval *e, const struct span *m)
{
	if (e->nm < MAX_SPANS)
		e->m[e->nm++] = *m;
}

struct first {
	struct span m;
	int found;
};

/* Stops at a match without a resolution; keeps the first otherwise. */
static int
take(void *ctx, const struct span *m)
{
	struct first *f = ctx;

	if (!f->found++ || !m->resolved)
		f->m = *m;
	return !m->resolved;
}

/* The first match of the patterns ids[0..n), one without a resolution
 * near it if any, kept as the rule's. */
static int
any_match(struct eval *e, const uint32_t *ids, uint32_t n)
{
	struct first f = {.found = 0};

	for (uint32_t i = 0; i < n; i++)
		if (note_each(&e->note, ids[i], 1, take, &f))
			break;
	if (f.found)
		keep(e, &f.m);
	return f.found > 0;
}

static int
holds_text_all(struct eval *e, const struct cond *c)
{
	for (uint32_t g = 0, from = 0; g < c->ngroups; from = c->ends[g++])
		if (!any_match(e, c->u.ids + from, c->ends[g] - from))
			return 0;
	return 1;
}

static int
holds_text_any(struct eval *e, const struct cond *c)
{
	return any_match(e, c->u.ids, c->n);
}

static int
guard_found(void *ctx, const struct span *m)
{
	((struct eval *)ctx)->guard = *m;
	return 1;
}

/* Guards see the words as written: a negator does not lift them. */
static int
holds_text_none(struct eval *e, const struct cond *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (note_each(&e->note, c->u.ids[i], 0, guard_found, e))
			return 0;
	return 1;
}

/* Words between the end of now-match a and the start of harm match b; a
 * now-word after the harm ("bị đánh, giờ em sợ") tells a state, not an
 * act under way, and is too far. */
static uint32_t
distance(const struct span *a, const struct span *b)
{
	if (a->start > b->end)
		return UINT32_MAX;
	return b->start > a->end + 1 ? b->start - a->end - 1 : 0;
}

/* Within near_scope words before what a fired rule matched, or inside
 * it, in its sentence. */
static int
near_harm(void *ctx, const struct span *m)
{
	struct eval *e = ctx;

	if (m->resolved)
		return 0;
	for (uint32_t h = 0; h < e->nharm; h++) {
		if (distance(m, &e->harm[h]) <= (uint32_t)e->r->near_scope &&
		    e->note.sent[m->start] == e->note.sent[e->harm[h].start]) {
			keep(e, m);
			return 1;
		}
	}
	return 0;
}

static int
holds_near(struct eval *e, const struct cond *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (note_each(&e->note, c->u.ids[i], 1, near_harm, e))
			return 1;
	return 0;
}

static int
holds_ivr(struct eval *e, const struct cond *c)
{
	const char *ivr = e->in->ivr;

	/* "3" is the branch behind digit 3: it takes 3, 31, 32 and so on. */
	for (uint32_t i = 0; ivr != NULL && i < c->n; i++)
		if (strncmp(ivr, c->u.strs[i], strlen(c->u.strs[i])) == 0)
			return 1;
	return 0;
}

static int
holds_equal(const char *v, const struct cond *c)
{
	for (uint32_t i = 0; v != NULL && i < c->n; i++)
		if (strcmp(v, c->u.strs[i]) == 0)
			return 1;
	return 0;
}

static int
holds_line(struct eval *e, const struct cond *c)
{
	return holds_equal(e->in->line, c);
}

static int
holds_queue(struct eval *e, const struct cond *c)
{
	return holds_equal(e->in->queue, c);
}

static int
holds_age(struct eval *e, const struct cond *c)
{
	int age = e->age >= 0 ? e->age : e->note.age;

	return age >= 0 && age >= c->u.range[0] && age <= c->u.range[1];
}

/* Every question named holds one of the answers the rule takes. */
static int
holds_answers(struct eval *e, const struct cond *c)
{
	for (uint32_t k = 0; k < c->n; k++) {
		int a = e->ans[c->u.ans.q[k]];

		if (a < 0 || !((c->u.ans.ok[k] >> a) & 1))
			return 0;
	}
	return 1;
}

static int
holds_category(struct eval *e, const struct cond *c)
{
	for (uint32_t i = 0; e->category >= 0 && i < c->n; i++)
		if ((int)c->u.ids[i] == e->category)
			return 1;
	return 0;
}

static int
holds_repeat(struct eval *e, const struct cond *c)
{
	const struct triage_input *in = e->in;

	/* Counted over a window no longer than the rule's, the count is a
	 * floor for the rule's window; over a longer one it proves nothing. */
	return in->prior_cases >= 0 && in->prior_days > 0 && in->prior_days <= c->u.repeat.days &&
	       in->prior_cases >= c->u.repeat.cases;
}

static const struct tm *
local_time(struct eval *e)
{
	if (e->have_tm == 0) {
		e->have_tm = -1;
		if (e->in->when > 0 && localtime_r(&e->in->when, &e->tm))
			e->have_tm = 1;
	}
	return e->have_tm == 1 ? &e->tm : NULL;
}

static int
holds_months(struct eval *e, const struct cond *c)
{
	const struct tm *tm = local_time(e);

	return tm != NULL && ((c->u.months >> (tm->tm_mon + 1)) & 1);
}

static int
holds_hours(struct eval *e, const struct cond *c)
{
	const struct tm *tm = local_time(e);
	int from = c->u.range[0], to = c->u.range[1];

	if (tm == NULL)
		return 0;
	if (from < to)
		return tm->tm_hour >= from && tm->tm_hour < to;
	return tm->tm_hour >= from || tm->tm_hour < to; /* over midnight */
}

static int
holds_province(struct eval *e, const struct cond *c)
{
	if (e->in->province == NULL)
		return 0;
	if (e->province == NULL)
		e->province = textnorm_fold(e->in->province, strlen(e->in->province), NULL);
	return holds_equal(e->province, c);
}

static int
holds_regex(struct eval *e, const struct cond *c)
{
	if (e->md == NULL)
		e->md = pcre2_match_data_create(1, NULL);
	if (e->md == NULL)
		return 0;
	/* Folded text is valid UTF-8 by construction. */
	return pcre2_match(c->u.re, (PCRE2_SPTR)e->note.text, e->note.len, 0, PCRE2_NO_UTF_CHECK,
	           e->md, e->r->mctx) >= 0;
}

/* How each condition kind is checked (triage_load.c reads them). */
static int (*const holds[COND_NTYPES])(struct eval *, const struct cond *) = {
    [COND_TEXT_ALL] = holds_text_all,
    [COND_TEXT_ANY] = holds_text_any,
    [COND_TEXT_NONE] = holds_text_none,
    [COND_NEAR] = holds_near,
    [COND_IVR] = holds_ivr,
    [COND_LINE] = holds_line,
    [COND_QUEUE] = holds_queue,
    [COND_AGE] = holds_age,
    [COND_ANSWERS] = holds_answers,
    [COND_CATEGORY] = holds_category,
    [COND_REPEAT] = holds_repeat,
    [COND_MONTHS] = holds_months,
    [COND_HOURS] = holds_hours,
    [COND_PROVINCE] = holds_province,
    [COND_REGEX] = holds_regex,
};

struct decision {
	int floor;     /* most urgent priority floor fired */
	int raise;     /* sum of raises fired */
	int cat_floor; /* floor of the rule that chose the category */
	int chosen;    /* category index, or -1 */
};

/* Text conditions come before guards: a guard that fails a rule stopped
 * a rule that had matched, and the author wants to know. */
static void
blocked(struct eval *e, const struct rule *rule)
{
	struct triage_result *out = e->out;

	if (out->nblocked == TRIAGE_MAX_BLOCKED)
		return;
	note_words(&e->note, &e->guard, out->blocked_by[out->nblocked], TRIAGE_WHY_LEN);
	out->blocked[out->nblocked++] = rule->name;
}

static int
rule_holds(struct eval *e, const struct rule *rule)
{
	e->rule = rule;
	e->nm = 0;
	for (uint32_t k = 0; k < rule->nconds; k++) {
		const struct cond *c = &rule->conds[k];

		if (!holds[c->type](e, c)) {
			if (c->type == COND_TEXT_NONE)
				blocked(e, rule);
			return 0;
		}
	}
	return 1;
}

static void
add_tags(struct triage_result *out, const struct rule *rule)
{
	for (uint32_t k = 0; k < rule->ntags; k++) {
		int seen = 0;

		for (int j = 0; j < out->ntags && !seen; j++)
			seen = out->tags[j] == rule->tags[k]; /* interned */
		if (seen)
			continue;
		if (out->ntags == TRIAGE_MAX_TAGS)
			out->truncated = 1;
		else
			out->tags[out->ntags++] = rule->tags[k];
	}
}

/* What the rule matched, for the reader: "bi … quanh + dang". */
static void
why(const struct eval *e, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < e->nm && o + 4 < len; i++) {
		if (i > 0) {
			memcpy(buf + o, " + ", 4);
			o += 3;
		}
		note_words(&e->note, &e->m[i], buf + o, len - o);
		o += strlen(buf + o);
	}
}

/* Every text match of the rule has a resolution near it. */
static int
all_resolved(const struct eval *e)
{
	for (uint32_t i = 0; i < e->nm; i++)
		if (!e->m[i].resolved)
			return 0;
	return e->nm > 0;
}

/*
 * A rule whose matches are all resolved ("đã tìm thấy cháu rồi") still
 * names its category, but as a concern to follow up: its floor is no
 * more urgent than SETTLED_FLOOR, it raises nothing and makes nothing
 * urgent.
 */
static void
fire(struct eval *e, struct decision *d, const struct rule *rule, struct triage_result *out)
{
	int settled = all_resolved(e);
	int floor = settled && rule->priority < SETTLED_FLOOR ? SETTLED_FLOOR : rule->priority;

	if (out->nrules == TRIAGE_MAX_FIRED)
		out->truncated = 1;
	else {
		why(e, out->why[out->nrules], sizeof(out->why[0]));
		out->rules[out->nrules++] = rule->name;
	}
	for (uint32_t i = 0; rule->category >= 0 && i < e->nm && e->nharm < MAX_SPANS; i++)
		if (!e->m[i].resolved)
			e->harm[e->nharm++] = e->m[i];
	if (floor < d->floor)
		d->floor = floor;
	d->raise += settled ? 0 : rule->raise;
	/* The first category stands unless a later rule is more urgent. */
	if (rule->category >= 0 && (d->chosen < 0 || floor < d->cat_floor)) {
		d->chosen = rule->category;
		d->cat_floor = floor;
		e->category = rule->category;
	}
	add_tags(out, rule);
}

static void
run_rules(struct eval *e, struct decision *d, const uint64_t *cand, struct triage_result *out)
{
	const struct triage_rules *r = e->r;

	for (uint32_t w = 0; w < r->rule_words; w++) {
		for (uint64_t b = cand[w]; b != 0; b &= b - 1) {
			const struct rule *rule = &r->rules[w * 64 + (uint32_t)__builtin_ctzll(b)];

			if (rule_holds(e, rule))
				fire(e, d, rule, out);
		}
	}
}

static int
input_priority(const struct triage_input *in)
{
	return in->priority >= 1 && in->priority <= 4 ? in->priority : 4;
}

static void
decide(const struct triage_rules *r, const struct triage_input *in, const struct decision *d,
    struct triage_result *out)
{
	int p = input_priority(in);

	if (d->floor < p)
		p = d->floor;
	p -= d->raise;
	out->priority = p < 1 ? 1 : p;
	out->category = d->chosen >= 0 ? r->cats[d->chosen].id : NULL;
}

/*
 * The input's answers, looked up once: each question's word answer, and
 * the child's age, which an answer to AGE_QUESTION gives before the
 * input's child_age (the operator asked it, the field may be older) and
 * before an age read from the text.
 */
static void
read_answers(struct eval *e)
{
	const struct triage_rules *r = e->r;
	json_t *v;

	e->age = e->in->child_age;
	memset(e->ans, -1, sizeof(e->ans));
	for (int i = 0; e->in->answers != NULL && i < r->nquestions; i++) {
		v = json_object_get(e->in->answers, r->questions[i].id);
		if (json_is_string(v))
			e->ans[i] = (int8_t)question_answer(&r->questions[i], json_string_value(v));
		else if (i == r->age_question && json_is_integer(v) &&
		         json_integer_value(v) >= r->questions[i].range[0] &&
		         json_integer_value(v) <= r->questions[i].range[1])
			e->age = (int)json_integer_value(v);
	}
}

/*
 * The second reader, after the rules: its suggestion is reported always.
 * It names the category where no rule chose one, for a harm category it is
 * sure enough of (min_confidence), and then raises to max_priority at most.
 * Where a rule chose one, the model replaces it only when it is surer
 * still (overrule; overrule_concern when only a concern rule spoke): the
 * rules found harm, the model reads better which harm. The priority stays
 * the rules'. Where the rules read harm words and set them aside (a
 * negator: "ba ko có đánh em"; a guard: a school essay), they have judged
 * the note, and a model that cannot read negation does not overrule them;
 * nor does it overrule an operator's category.
 */
/*
 * The model reads no harm where the rules read a serious case (P2): a
 * homework question, a film, a child found safe, worded like harm. When it
 * is sure (doubt), the case stays a concern, P3, with the rules' category:
 * in the queue, not at the top of it. Never a P1 (a rule read danger now),
 * never below what the input, an operator or a key answer said.
 */
static void
doubt(const struct eval *e, double p, struct triage_result *out)
{
	const struct triage_input *in = e->in;

	if (p < e->r->model_doubt || out->priority != 2 || e->note.nwords < DOUBT_MIN_WORDS ||
	    in->category != NULL ||
	    in->answers != NULL || (in->priority >= 1 && in->priority <= 2))
		return;
	out->priority = 3;
	out->model.doubted = 1;
}

static void
suggest(const struct eval *e, const struct decision *d, struct triage_result *out)
{
	const struct triage_rules *r = e->r;
	struct model_guess g;
	double need;

	triage_model_predict_folded(r->model, e->in->text, e->note.folded, e->note.flen, &g);
	if (g.cls < 0)
		return;
	out->model.category = r->cats[r->model_cat[g.cls]].id;
	out->model.p = g.p;
	snprintf(out->model.words, sizeof(out->model.words), "%s", g.words);
	if (!r->model_harm[g.cls]) {
		doubt(e, g.p, out);
		return;
	}
	if (d->chosen < 0)
		need = r->model_minp;
	else if (out->priority >= 3)
		need = fmin(r->model_overrule, r->model_overrule_concern);
	else
		need = r->model_overrule;
	if (e->in->category != NULL || g.p < need || e->negated > 0 ||
	    out->nblocked > 0 || out->model.category == out->category)
		return;
	out->model.applied = 1;
	if (d->chosen < 0 && out->priority > r->model_maxp)
		out->priority = r->model_maxp;
	out->category = out->model.category;
}

/*
 * The urgency reader, last: the rules found harm and made it serious, P2,
 * but read nothing that says now. A model of how danger-now notes are
 * worded ("gõ cửa hoài", "tới giờ chưa buông") may make it P1: a child in
 * danger now missed costs more than a serious case seen first. It never
 * lowers; it does not read a note whose harm words the rules set aside.
 */
static void
hasten(const struct eval *e, struct triage_result *out)
{
	const struct triage_rules *r = e->r;
	struct model_guess g;

	if (r->urgency == NULL || out->priority != 2 || out->category == NULL ||
	    strcmp(out->category, "info") == 0 || strcmp(out->category, "silent") == 0 ||
	    e->negated > 0 || out->nblocked > 0)
		return;
	triage_model_predict_folded(r->urgency, e->in->text, e->note.folded, e->note.flen, &g);
	if (g.cls < 0)
		return;
	out->urgency.asked = 1;
	out->urgency.p = g.cls == r->urgency_now ? g.p : 1 - g.p;
	if (out->urgency.p < r->urgency_minp)
		return;
	out->urgency.applied = 1;
	out->priority = 1;
	/* among the fired rules, so that show, the queue and the report say
	 * why the case is P1 ("@" is in no rule's name) */
	if (out->nrules < TRIAGE_MAX_FIRED) {
		snprintf(out->why[out->nrules], sizeof(out->why[0]), "now %.2f", out->urgency.p);
		out->rules[out->nrules++] = "@urgency";
	} else
		out->truncated = 1;
}

static void reread(const struct triage_rules *r, const struct triage_input *in,
    struct triage_result *out);

/* The rules over one case, then, on the first reading (not a re-read),
 * the second reader and the urgency reader. */
static void
evaluate(const struct triage_rules *r, const struct triage_input *in, struct triage_result *out,
    int first)
{
	uint64_t stack[STACK_WORDS], *bits = stack;
	struct decision d = {NO_FLOOR, 0, NO_FLOOR, -1};
	struct eval e = {.r = r, .in = in, .out = out};
	size_t words;

	memset(out, 0, sizeof(*out));
	words = (size_t)r->phrase_words + r->rule_words + r->atom_words;
	if (words > STACK_WORDS)
		bits = xcalloc(words, sizeof(*bits));
	else
		memset(bits, 0, words * sizeof(*bits));
	note_read(&e.note, r, in->text, bits);
	read_answers(&e);
	e.note.negated = &e.negated;
	e.category =
	    in->category != NULL ? strmap_get(&r->catmap, in->category, strlen(in->category)) : -1;
	for (uint32_t w = 0; w < r->rule_words; w++)
		e.note.cand[w] |= r->always[w];
	run_rules(&e, &d, e.note.cand, out);
	decide(r, in, &d, out);
	if (first && r->model != NULL)
		suggest(&e, &d, out);
	if (out->model.applied)
		reread(r, in, out);
	if (first)
		hasten(&e, out);
	if (bits != stack)
		free(bits);
	note_free(&e.note);
	free(e.province);
	pcre2_match_data_free(e.md);
}

/*
 * The model named the harm (no rule did, or it overruled them): the rules read the note again
 * with that category, as if an operator had set it, so that the rules
 * about a category (a cry for help, a young child, a key answer) apply.
 * A P1 comes only from such a rule; the model itself asks max_priority.
 * The model's own reading is kept: it is not asked twice.
 */
static void
reread(const struct triage_rules *r, const struct triage_input *in, struct triage_result *out)
{
	struct triage_input again = *in;
	struct triage_result model = *out;

	again.category = out->model.category;
	evaluate(r, &again, out, 0);
	out->model = model.model;
	out->category = model.category;
	if (out->priority > model.priority)
		out->priority = model.priority;
}

int
triage_eval(const struct triage_rules *r, const struct triage_input *in, struct triage_result *out)
{
	if (r == NULL || in == NULL || out == NULL)
		return -1;
	evaluate(r, in, out, 1);
	return 0;
}

void
triage_input_init(struct triage_input *in)
{
	memset(in, 0, sizeof(*in));
	in->child_age = -1;
	in->priority = 4;
	in->prior_cases = -1;
}

/* --- queries ------------------------------------------------------------- */

int
triage_repeat_days(const struct triage_rules *r)
{
	return r != NULL ? r->repeat_days : 0;
}

int
triage_repeat_thresholds(const struct triage_rules *r, const int **cases)
{
	*cases = r != NULL ? r->repeat_cases : NULL;
	return r != NULL ? r->nrepeat_cases : 0;
}

int
triage_rule_count(const struct triage_rules *r)
{
	return r != NULL ? r->nrules : 0;
}

const struct triage_model *
triage_model_of(const struct triage_rules *r)
{
	return r != NULL ? r->model : NULL;
}

int
triage_category_count(const struct triage_rules *r)
{
	return r != NULL ? r->ncats : 0;
}

const char *
triage_category_id(const struct triage_rules *r, int i)
{
	return r != NULL && i >= 0 && i < r->ncats ? r->cats[i].id : NULL;
}

static const struct category *
category_find(const struct triage_rules *r, const char *id)
{
	int i;

	if (r == NULL || id == NULL)
		return NULL;
	i = strmap_get(&r->catmap, id, strlen(id));
	return i >= 0 ? &r->cats[i] : NULL;
}

int
triage_category_exists(const struct triage_rules *r, const char *id)
{
	return category_find(r, id) != NULL;
}

const char *
triage_category_label(const struct triage_rules *r, const char *id)
{
	const struct category *c = category_find(r, id);

	return c != NULL ? c->label : NULL;
}

const char *
triage_category_chi(const struct triage_rules *r, const char *id)
{
	const struct category *c = category_find(r, id);

	return c != NULL ? c->chi : NULL;
}


/* --- the result as JSON -------------------------------------------------- */

static json_t *
string_array(const char *const *v, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* "sờ soạng, vùng kín" as ["sờ soạng","vùng kín"]. */
static json_t *
phrases(const char *s)
{
	json_t *a = json_array();

	while (*s != '\0') {
		const char *e = strstr(s, ", ");
		size_t n = e != NULL ? (size_t)(e - s) : strlen(s);

		json_array_append_new(a, json_stringn(s, n));
		s += n + (e != NULL ? 2 : 0);
	}
	return a;
}

json_t *
triage_result_json(const struct triage_result *res)
{
	json_t *why = json_object(), *o;

	for (int i = 0; i < res->nrules; i++)
		if (res->why[i][0] != '\0')
			json_object_set_new(why, res->rules[i], json_string(res->why[i]));
	o = json_pack("{s:s?, s:i, s:o, s:o, s:o}", "category", res->category, "priority",
	    res->priority, "rules", string_array(res->rules, res->nrules), "tags",
	    string_array(res->tags, res->ntags), "why", why);
	/* two decimals: a probability is not known better than that */
	if (res->model.category != NULL)
		json_object_set_new(o, "model", json_pack("{s:s, s:f, s:o, s:b, s:b}", "category",
		    res->model.category, "p", round(res->model.p * 100) / 100, "words",
		    phrases(res->model.words), "applied", res->model.applied, "doubted",
		    res->model.doubted));
	if (res->urgency.asked)
		json_object_set_new(o, "urgency", json_pack("{s:f, s:b}", "p",
		    round(res->urgency.p * 100) / 100, "applied", res->urgency.applied));
	return o;
}
