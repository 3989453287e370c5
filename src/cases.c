/* cases.c: events into triage inputs, triage results into decisions. */
#include "cases.h"

#include <string.h>
#include <time.h>

#include "triage.h"

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
		return ev->text != NULL || ev->child_age >= 0 || ev->category != NULL;
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

json_t *
cases_decide(const struct triage_rules *rules, const struct event *ev)
{
	struct triage_input in;
	char ivr[300];
	json_t *d;

	if (rules == NULL || !worth_triage(ev))
		return NULL;
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
	return d;
}
