/*
 * triage_questions.c: the key questions of a rules file (hotline111-rules(5)
 * QUESTIONS): reading them, the `answers` condition of a rule, and checking
 * the answers a console or a PBX sends against them.
 *
 * A question's answers are words ([a-z0-9_], a letter first), so that
 * `--answer danger_now=yes` and a bridge's {"danger_now":"yes"} need no
 * quoting; a question with a `range` also takes a whole number in it (the
 * child's age), and its words stand for what is not a number ("unknown").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "triage_int.h"
#include "xmalloc.h"

#define WORD_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"

/* --- reading ------------------------------------------------------------- */

static int
word_valid(const char *s, const char *chars)
{
	size_t n = strlen(s);

	return n > 0 && n <= MAX_QID && s[0] >= 'a' && s[0] <= 'z' && strspn(s, chars) == n;
}

int
question_answer(const struct question *q, const char *v)
{
	for (uint32_t a = 0; v != NULL && a < q->nanswers; a++)
		if (strcmp(q->answers[a], v) == 0)
			return (int)a;
	return -1;
}

static int
text_key(struct loader *l, const config_setting_t *s, size_t max, char **out)
{
	const char *name = config_setting_name(s), *v;

	if (*out != NULL)
		return lerr(l, s, "'%s' given twice", name);
	if (triage_get_string(l, s, name, &v) < 0)
		return -1;
	if (strlen(v) > max)
		return lerr(l, s, "'%s' is longer than %zu bytes", name, max);
	*out = xstrdup(v);
	return 0;
}

static int
key_id(struct loader *l, struct question *q, const config_setting_t *s)
{
	const char *v;

	if (q->id != NULL)
		return lerr(l, s, "'id' given twice");
	if (triage_get_string(l, s, "id", &v) < 0)
		return -1;
	if (!word_valid(v, "abcdefghijklmnopqrstuvwxyz_"))
		return lerr(l, s, "question id '%s' must be 1 to %d of a-z and _, a letter first",
		    v, MAX_QID);
	q->id = xstrdup(v);
	return 0;
}

static int
key_text(struct loader *l, struct question *q, const config_setting_t *s)
{
	return text_key(l, s, MAX_QTEXT, &q->text);
}

static int
key_hint(struct loader *l, struct question *q, const config_setting_t *s)
{
	return text_key(l, s, MAX_QHINT, &q->hint);
}

static int
add_answer(struct loader *l, struct question *q, const config_setting_t *e)
{
	const char *v;

	if (config_setting_type(e) != CONFIG_TYPE_STRING)
		return lerr(l, e, "'answers' must be a list of words");
	v = config_setting_get_string(e);
	if (!word_valid(v, WORD_CHARS))
		return lerr(l, e, "answer '%.64s' must be 1 to %d of a-z 0-9 _, a letter first", v,
		    MAX_QID);
	if (question_answer(q, v) >= 0)
		return lerr(l, e, "answer '%s' listed twice", v);
	if (q->nanswers == MAX_ANSWERS)
		return lerr(l, e, "more than %d answers", MAX_ANSWERS);
	q->answers = xreallocarray(q->answers, q->nanswers + 1, sizeof(*q->answers));
	q->answers[q->nanswers++] = xstrdup(v);
	return 0;
}

static int
key_answers(struct loader *l, struct question *q, const config_setting_t *s)
{
	int n;

	if (q->answers != NULL)
		return lerr(l, s, "'answers' given twice");
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return lerr(l, s, "'answers' must be a list of words [ \"yes\", \"no\" ]");
	if ((n = config_setting_length(s)) == 0)
		return lerr(l, s, "'answers' is an empty list");
	for (int i = 0; i < n; i++)
		if (add_answer(l, q, config_setting_get_elem(s, i)) < 0)
			return -1;
	return 0;
}

static int
range_end(struct loader *l, const config_setting_t *e, int *out)
{
	if (config_setting_type(e) != CONFIG_TYPE_INT)
		return lerr(l, e, "'range' must be a pair of integers [min, max] within 0..150");
	*out = config_setting_get_int(e);
	if (*out < 0 || *out > 150)
		return lerr(l, e, "'range' must be a pair of integers [min, max] within 0..150");
	return 0;
}

static int
key_range(struct loader *l, struct question *q, const config_setting_t *s)
{
	if (q->numeric)
		return lerr(l, s, "'range' given twice");
	if ((!config_setting_is_array(s) && !config_setting_is_list(s)) ||
	    config_setting_length(s) != 2)
		return lerr(l, s, "'range' must be a pair of integers [min, max] within 0..150");
	if (range_end(l, config_setting_get_elem(s, 0), &q->range[0]) < 0 ||
	    range_end(l, config_setting_get_elem(s, 1), &q->range[1]) < 0)
		return -1;
	if (q->range[0] > q->range[1])
		return lerr(l, s, "'range' [min, max] needs min <= max");
	q->numeric = 1;
	return 0;
}

static const struct question_key {
	const char *name;
	int (*parse)(struct loader *, struct question *, const config_setting_t *);
} question_keys[] = {
    {"id", key_id},
    {"text", key_text},
    {"hint", key_hint},
    {"answers", key_answers},
    {"range", key_range},
};
#define NQUESTION_KEYS (sizeof(question_keys) / sizeof(question_keys[0]))

static int
question_key(struct loader *l, struct question *q, const config_setting_t *s)
{
	const char *name = config_setting_name(s);

	for (size_t k = 0; k < NQUESTION_KEYS; k++)
		if (strcmp(name, question_keys[k].name) == 0)
			return question_keys[k].parse(l, q, s);
	return lerr(l, s, "unknown key '%s' in a question", name);
}

static int
load_question(struct loader *l, const config_setting_t *g, struct question *q)
{
	struct triage_rules *r = l->r;
	int prev;

	q->line = config_setting_source_line(g);
	if (!config_setting_is_group(g))
		return lerr(l, g, "a question must be a group { id = …; text = …; answers = …; }");
	for (int i = 0; i < config_setting_length(g); i++)
		if (question_key(l, q, config_setting_get_elem(g, i)) < 0)
			return -1;
	if (q->id == NULL)
		return lerr(l, g, "question has no 'id'");
	if (q->text == NULL)
		return lerr(l, g, "question '%s' has no 'text'", q->id);
	if (!q->numeric && q->nanswers < 2)
		return lerr(
		    l, g, "question '%s' needs 'answers' (two at least) or a 'range'", q->id);
	prev = strmap_add(&r->questionmap, q->id, strlen(q->id), (int)(q - r->questions));
	if (prev >= 0)
		return lerr(l, g, "duplicate question '%s' (first at line %u)", q->id,
		    r->questions[prev].line);
	if (q->numeric && strcmp(q->id, AGE_QUESTION) == 0)
		r->age_question = (int)(q - r->questions);
	return 0;
}

int
questions_load(struct loader *l, const config_setting_t *s)
{
	struct triage_rules *r = l->r;
	int n;

	if (!config_setting_is_list(s))
		return lerr(l, s, "'questions' must be a list ( { … }, … )");
	if ((n = config_setting_length(s)) == 0)
		return lerr(l, s, "'questions' is an empty list");
	if (n > MAX_QUESTIONS)
		return lerr(l, config_setting_get_elem(s, MAX_QUESTIONS), "more than %d questions",
		    MAX_QUESTIONS);
	r->questions = xcalloc((size_t)n, sizeof(*r->questions));
	for (int i = 0; i < n; i++) {
		r->nquestions = i + 1; /* so that questions_free sees it */
		if (load_question(l, config_setting_get_elem(s, i), &r->questions[i]) < 0)
			return -1;
	}
	return 0;
}

void
questions_free(struct triage_rules *r)
{
	for (int i = 0; i < r->nquestions; i++) {
		struct question *q = &r->questions[i];

		free(q->id);
		free(q->text);
		free(q->hint);
		for (uint32_t a = 0; a < q->nanswers; a++)
			free(q->answers[a]);
		free(q->answers);
	}
	free(r->questions);
	strmap_free(&r->questionmap);
}

/* --- the answers condition ----------------------------------------------- */

static int
accept_answer(struct loader *l, const struct question *q, const config_setting_t *e, uint32_t *ok)
{
	int a;

	if (config_setting_type(e) != CONFIG_TYPE_STRING)
		return lerr(l, e,
		    q->numeric ? "answers.%s: a number is tested with child_age = [min, max]; "
		                 "here only its words"
		               : "answers.%s must be an answer or a list of answers",
		    q->id);
	if ((a = question_answer(q, config_setting_get_string(e))) < 0)
		return lerr(l, e, "answers.%s: '%.64s' is not one of its answers", q->id,
		    config_setting_get_string(e));
	*ok |= 1u << a;
	return 0;
}

/* One question of `answers = { q = "a"; q2 = [ "a", "b" ]; }`. */
static int
answers_member(struct loader *l, struct cond *c, const config_setting_t *e)
{
	const char *name = config_setting_name(e);
	int qi = strmap_get(&l->r->questionmap, name, strlen(name)), n;
	const struct question *q;
	uint32_t ok = 0;

	if (qi < 0)
		return lerr(l, e, "answers: no question '%s' in 'questions'", name);
	q = &l->r->questions[qi];
	for (uint32_t k = 0; k < c->n; k++)
		if (c->u.ans.q[k] == (uint32_t)qi)
			return lerr(l, e, "answers: '%s' given twice", name);
	if (config_setting_type(e) == CONFIG_TYPE_STRING) {
		if (accept_answer(l, q, e, &ok) < 0)
			return -1;
	} else if (config_setting_is_array(e) || config_setting_is_list(e)) {
		if ((n = config_setting_length(e)) == 0)
			return lerr(l, e, "answers.%s is an empty list", name);
		for (int i = 0; i < n; i++)
			if (accept_answer(l, q, config_setting_get_elem(e, i), &ok) < 0)
				return -1;
	} else
		return accept_answer(l, q, e, &ok);
	c->u.ans.q = xreallocarray(c->u.ans.q, c->n + 1, sizeof(*c->u.ans.q));
	c->u.ans.ok = xreallocarray(c->u.ans.ok, c->n + 1, sizeof(*c->u.ans.ok));
	c->u.ans.q[c->n] = (uint32_t)qi;
	c->u.ans.ok[c->n++] = ok;
	return 0;
}

int
answers_cond_parse(struct loader *l, struct cond *c, const config_setting_t *s)
{
	int n;

	if (!config_setting_is_group(s))
		return lerr(l, s, "'answers' must be a group { question = \"answer\"; … }");
	if ((n = config_setting_length(s)) == 0)
		return lerr(l, s, "'answers' is an empty group");
	for (int i = 0; i < n; i++)
		if (answers_member(l, c, config_setting_get_elem(s, i)) < 0)
			return -1;
	return 0;
}

void
answers_cond_free(struct cond *c)
{
	free(c->u.ans.q);
	free(c->u.ans.ok);
}

/* --- what others ask ----------------------------------------------------- */

int
triage_question_count(const struct triage_rules *r)
{
	return r != NULL ? r->nquestions : 0;
}

static json_t *
question_json(const struct question *q)
{
	json_t *answers = json_array();

	for (uint32_t a = 0; a < q->nanswers; a++)
		json_array_append_new(answers, json_string(q->answers[a]));
	return json_pack("{s:s, s:s, s:s?, s:o, s:o}", "id", q->id, "text", q->text, "hint",
	    q->hint, "answers", answers, "range",
	    q->numeric ? json_pack("[i, i]", q->range[0], q->range[1]) : json_null());
}

json_t *
triage_questions_json(const struct triage_rules *r)
{
	json_t *list = json_array();

	for (int i = 0; r != NULL && i < r->nquestions; i++)
		json_array_append_new(list, question_json(&r->questions[i]));
	return list;
}

/* "yes, no, unknown" into buf. */
static void
answer_list(const struct question *q, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (uint32_t a = 0; a < q->nanswers && o < len; a++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", a ? ", " : "", q->answers[a]);
}

static int
check_one(const struct question *q, const json_t *v, char *err, size_t errlen)
{
	char words[200];
	json_int_t n;

	answer_list(q, words, sizeof(words));
	if (json_is_string(v) && question_answer(q, json_string_value(v)) >= 0)
		return 0;
	if (q->numeric && json_is_integer(v)) {
		n = json_integer_value(v);
		if (n >= q->range[0] && n <= q->range[1])
			return 0;
	}
	if (q->numeric)
		snprintf(err, errlen, "answers.%s: must be an integer %d..%d%s%s", q->id,
		    q->range[0], q->range[1], q->nanswers ? " or one of " : "", words);
	else
		snprintf(err, errlen, "answers.%s: must be one of %s", q->id, words);
	return -1;
}

/* What was sent as a question id, if it is safe to repeat. */
static const char *
shown_key(const char *k)
{
	return word_valid(k, WORD_CHARS) ? k : "(a key that is not a question id)";
}

int
triage_answers_check(const struct triage_rules *r, const json_t *answers, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	int qi;

	if (!json_is_object(answers) || json_object_size(answers) == 0) {
		snprintf(err, errlen, "answers: must be an object of one answer or more");
		return -1;
	}
	if (r == NULL || r->nquestions == 0) {
		snprintf(err, errlen, "answers: the rules file asks no questions");
		return -1;
	}
	json_object_foreach((json_t *)answers, k, v)
	{
		qi = strmap_get(&r->questionmap, k, strlen(k));
		if (qi < 0) {
			snprintf(
			    err, errlen, "answers: no question '%s' in the rules", shown_key(k));
			return -1;
		}
		if (check_one(&r->questions[qi], v, err, errlen) < 0)
			return -1;
	}
	return 0;
}
