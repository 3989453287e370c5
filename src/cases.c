/*
 * cases.c: events into triage inputs, triage results into decisions.
 *
 * Triage reads the whole case: a ticket's notes are kept here, and each
 * new note is triaged after the ones before it, so that "đang" in a
 * later note meets the harm an earlier one told. The memory is bounded:
 * a fixed table of tickets, each keeping the tail of its notes; a ticket
 * that loses its slot to another (or any ticket after a restart) is read
 * from the note at hand again, which can only leave a decision lower,
 * never wrong in the other direction, since triage only raises. A
 * ticket's answers to the key questions are kept the same way, the latest
 * to each question; answers given at the console are read from the
 * database instead (console.c, h111_case_context), not from here.
 */
#include "cases.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "triage.h"
#include "xmalloc.h"

#define MEMORY_SLOTS 8192 /* tickets remembered */
#define MEMORY_TEXT 2048  /* bytes of notes kept per ticket, the latest */

struct remembered {
	char *ticket; /* NULL: free */
	char *text;
	int child_age;
	json_t *answers; /* the latest answer to each question, or NULL */
};

struct cases {
	struct remembered slot[MEMORY_SLOTS];
};

struct cases *
cases_new(void)
{
	return xcalloc(1, sizeof(struct cases));
}

static void
forget(struct remembered *m)
{
	free(m->ticket);
	free(m->text);
	json_decref(m->answers);
	memset(m, 0, sizeof(*m));
}

void
cases_free(struct cases *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < MEMORY_SLOTS; i++)
		forget(&c->slot[i]);
	free(c);
}

static struct remembered *
slot_of(struct cases *c, const char *ticket)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = ticket; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &c->slot[h % MEMORY_SLOTS];
}

/* The ticket's notes so far, or NULL. */
static struct remembered *
recall(struct cases *c, const char *ticket)
{
	struct remembered *m = slot_of(c, ticket);

	return m->ticket != NULL && strcmp(m->ticket, ticket) == 0 ? m : NULL;
}

/* Keeps the last MEMORY_TEXT bytes, cut at a character's start. */
static char *
tail(char *text)
{
	size_t n = strlen(text), cut;

	if (n <= MEMORY_TEXT)
		return text;
	cut = n - MEMORY_TEXT;
	while (cut < n && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut++;
	memmove(text, text + cut, n - cut + 1);
	return text;
}

/* The notes so far and this one, a line apart: the new text to read. */
static char *
joined(const struct remembered *m, const char *text)
{
	size_t a = m != NULL && m->text != NULL ? strlen(m->text) : 0, b = strlen(text);
	char *all = xmalloc(a + b + 2);

	if (a > 0)
		memcpy(all, m->text, a);
	all[a] = '\n';
	memcpy(all + a + 1, text, b + 1);
	return a > 0 ? all : memmove(all, all + 1, b + 1);
}

/* Takes all (or NULL: the text is unchanged). */
static void
remember(struct cases *c, const struct event *ev, char *all)
{
	struct remembered *m = slot_of(c, ev->ticket_id);

	if (m->ticket == NULL || strcmp(m->ticket, ev->ticket_id) != 0) {
		forget(m);
		m->ticket = xstrdup(ev->ticket_id);
		m->child_age = -1;
	}
	if (all != NULL) {
		free(m->text);
		m->text = tail(all);
	}
	if (ev->child_age >= 0)
		m->child_age = ev->child_age;
	if (ev->answers != NULL) {
		if (m->answers == NULL)
			m->answers = json_object();
		json_object_update(m->answers, ev->answers);
	}
}

static int
worth_triage(const struct event *ev)
{
	switch (ev->type) {
	case EV_CALL_OFFERED:
		return ev->ivr != NULL || ev->line != NULL || ev->queue != NULL ||
		    ev->caller != NULL;
	case EV_TICKET_CREATED:
	case EV_TICKET_UPDATED:
	case EV_TICKET_CLOSED:
		return ev->text != NULL || ev->child_age >= 0 || ev->category != NULL ||
		    ev->answers != NULL;
	default:
		return 0;
	}
}

/* IVR digits as the caller pressed them, concatenated: ["2","1"] is "21". */
static void
ivr_digits(const json_t *ivr, char *buf, size_t len)
{
	size_t o = 0, i;
	json_t *d;

	buf[0] = '\0';
	json_array_foreach(ivr, i, d) {
		const char *s = json_is_string(d) ? json_string_value(d) : NULL;
		char one[2] = { (char)('0' + (json_is_integer(d) ? json_integer_value(d) : 0)), 0 };
		size_t n;
		if (s == NULL)
			s = one;
		n = strlen(s);
		if (o + n >= len)
			break;
		memcpy(buf + o, s, n + 1);
		o += n;
	}
}

static json_t *
decision(const struct triage_rules *rules, const struct triage_input *in)
{
	struct triage_result out;

	if (triage_eval(rules, in, &out) != 0)
		return NULL;
	return triage_result_json(&out);
}

json_t *
cases_decide_text(const struct triage_rules *rules, const char *text)
{
	struct triage_input in;

	if (rules == NULL)
		return NULL;
	triage_input_init(&in);
	in.text = text;
	in.when = time(NULL);
	return decision(rules, &in);
}

/*
 * A caller's earlier cases are counted in PostgreSQL, in the transaction
 * that stores the event; so for a call with a caller number the decision
 * comes with one variant per repeat_caller threshold, and the database
 * picks the one its count reaches (h111_repeat_decision).
 */
static void
add_repeat_variants(const struct triage_rules *rules, struct triage_input *in, json_t *d)
{
	const int *cases;
	int n = triage_repeat_thresholds(rules, &cases);
	json_t *variants = json_array(), *prev = json_incref(d);

	in->prior_days = triage_repeat_days(rules);
	for (int i = 0; i < n; i++) {
		json_t *v;
		in->prior_cases = cases[i];
		v = decision(rules, in);
		if (v != NULL && !json_equal(v, prev))
			json_array_append_new(variants, json_pack("{s:i, s:O}", "min", cases[i],
			    "decision", v));
		json_decref(prev);
		prev = v;
	}
	json_decref(prev);
	if (json_array_size(variants) > 0)
		json_object_set_new(d, "repeat", json_pack("{s:i, s:o}", "days", in->prior_days,
		    "variants", variants));
	else
		json_decref(variants);
}

/* The answers so far with this event's over them (a new reference), or
 * NULL when neither has any. */
static json_t *
answers_now(const struct remembered *m, const struct event *ev)
{
	json_t *all;

	if (m == NULL || m->answers == NULL)
		return ev->answers != NULL ? json_incref(ev->answers) : NULL;
	all = json_copy(m->answers);
	if (ev->answers != NULL)
		json_object_update(all, ev->answers);
	return all;
}

/*
 * What the case has said so far, for a ticket event: the notes with this
 * one last, the child's age when this event does not give it, and every
 * answer given (in->answers, a reference the caller drops).
 */
static char *
read_case(struct cases *c, const struct event *ev, struct triage_input *in)
{
	struct remembered *m;
	char *all = NULL;

	if (ev->type == EV_CALL_OFFERED)
		return NULL;
	if (c == NULL || ev->ticket_id == NULL) {
		in->answers = ev->answers != NULL ? json_incref(ev->answers) : NULL;
		return NULL;
	}
	m = recall(c, ev->ticket_id);
	if (ev->text != NULL)
		in->text = all = joined(m, ev->text);
	else if (m != NULL)
		in->text = m->text;
	if (in->child_age < 0 && m != NULL)
		in->child_age = m->child_age;
	in->answers = answers_now(m, ev);
	return all;
}

/* After the decision: the ticket's notes grow, or a closed one's go. */
static void
keep_case(struct cases *c, const struct event *ev, char *all)
{
	struct remembered *m;

	if (c == NULL || ev->ticket_id == NULL || ev->type == EV_CALL_OFFERED) {
		free(all);
	} else if (ev->type == EV_TICKET_CLOSED) {
		if ((m = recall(c, ev->ticket_id)) != NULL)
			forget(m);
		free(all);
	} else if (all != NULL || ev->child_age >= 0 || ev->answers != NULL)
		remember(c, ev, all);
}

json_t *
cases_decide(struct cases *c, const struct triage_rules *rules, const struct event *ev)
{
	struct triage_input in;
	char ivr[300], *all;
	json_t *d;

	if (rules == NULL || !worth_triage(ev)) {
		keep_case(c, ev, NULL);
		return NULL;
	}
	triage_input_init(&in);
	if (ev->ivr != NULL) {
		ivr_digits(ev->ivr, ivr, sizeof(ivr));
		in.ivr = ivr;
	}
	in.text = ev->text;
	in.line = ev->line;
	in.queue = ev->queue;
	in.province = ev->province;
	in.child_age = ev->child_age;
	in.category = ev->category;
	in.when = time(NULL);
	all = read_case(c, ev, &in);
	d = decision(rules, &in);
	if (d != NULL && ev->caller != NULL && ev->caller[0] != '\0' &&
	    triage_repeat_days(rules) > 0) {
		in.prior_cases = 0; /* the base decision: no earlier case */
		in.prior_days = triage_repeat_days(rules);
		json_decref(d);
		d = decision(rules, &in);
		add_repeat_variants(rules, &in, d);
	}
	/* a call known only by its number is worth a decision only as a repeat */
	if (d != NULL && ev->type == EV_CALL_OFFERED && ev->ivr == NULL && ev->line == NULL &&
	    ev->queue == NULL && json_object_get(d, "repeat") == NULL) {
		json_decref(d);
		d = NULL;
	}
	json_decref((json_t *)in.answers);
	keep_case(c, ev, all);
	return d;
}

/* A string member of ctx, or NULL. */
static const char *
ctx_str(const json_t *ctx, const char *key)
{
	return json_string_value(json_object_get(ctx, key));
}

json_t *
cases_decide_case(const struct triage_rules *rules, const json_t *ctx)
{
	struct triage_input in;
	json_t *age = json_object_get(ctx, "child_age");

	if (rules == NULL || !json_is_object(ctx))
		return NULL;
	triage_input_init(&in);
	in.text = ctx_str(ctx, "text");
	in.ivr = ctx_str(ctx, "ivr");
	in.line = ctx_str(ctx, "line");
	in.queue = ctx_str(ctx, "queue");
	in.province = ctx_str(ctx, "province");
	in.category = ctx_str(ctx, "category");
	if (json_is_integer(age) && json_integer_value(age) >= 0 && json_integer_value(age) <= 150)
		in.child_age = (int)json_integer_value(age);
	if (json_is_object(json_object_get(ctx, "answers")))
		in.answers = json_object_get(ctx, "answers");
	in.when = time(NULL);
	return decision(rules, &in);
}
