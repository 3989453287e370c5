/*
 * fuzz_rules.c: any bytes as a rules file, loaded from memory.
 *
 * Besides what the sanitizers catch, this checks what the daemon relies
 * on: a refusal says "NAME:LINE: why", and an accepted file triages any
 * text into a result within bounds, never less urgent than its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Texts that reach the phrases, the regexes and every case field. */
static const char *const texts[] = {
    "Cứu với, bé 3 tuổi rơi xuống ao sau nhà, chưa thấy nổi lên",
    "ĐUỐI NƯỚC duoi nuoc đuo\xcc\x82\xcc\x81i",
    "hồ sơ phòng chống xâm hại \xff\xfe lao động thương binh xã hội",
    "",
};

static void
check_refusal(const char *err)
{
	const char *colon = strstr(err, "fuzz:");

	/* "fuzz:LINE: message", LINE > 0 */
	if (colon != err || strtoul(err + 5, NULL, 10) == 0 || strchr(err + 5, ':') == NULL)
		abort();
}

static void
check_result(const struct triage_rules *r, const struct triage_result *res, int input_priority)
{
	if (res->priority < 1 || res->priority > input_priority || res->nrules < 0 ||
	    res->nrules > TRIAGE_MAX_FIRED || res->ntags < 0 || res->ntags > TRIAGE_MAX_TAGS)
		abort();
	if (res->category != NULL && !triage_category_exists(r, res->category))
		abort();
}

/* Answers to the shipped questions, and to none, for the answers
 * condition; every question's list, checked against the file's questions. */
static const char *const answer_sets[] = {
    "{\"danger_now\":\"yes\",\"child_age\":7,\"injured\":\"doctor\"}",
    "{\"abuser_access\":\"unknown\",\"child_age\":\"unknown\",\"x\":[1]}",
    "{}",
};

static void
check_answers(const struct triage_rules *r)
{
	json_t *qs = triage_questions_json(r);
	char err[160];

	if (json_array_size(qs) != (size_t)triage_question_count(r))
		abort();
	for (size_t i = 0; i < sizeof(answer_sets) / sizeof(answer_sets[0]); i++) {
		json_t *a = json_loads(answer_sets[i], 0, NULL);

		if (triage_answers_check(r, a, err, sizeof(err)) != 0 && strlen(err) == 0)
			abort();
		json_decref(a);
	}
	json_decref(qs);
}

static void
triage_all(const struct triage_rules *r)
{
	struct triage_input in;
	struct triage_result res;
	json_t *answers[sizeof(texts) / sizeof(texts[0])];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		answers[i] = json_loads(answer_sets[i % (sizeof(answer_sets) /
		    sizeof(answer_sets[0]))], 0, NULL);

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		triage_input_init(&in);
		in.text = texts[i];
		in.priority = 1 + (int)(i % 4);
		in.ivr = "31";
		in.line = "111";
		in.queue = "night";
		in.province = "Lạng Sơn";
		in.child_age = (int)i * 5;
		in.category = triage_category_id(r, (int)i);
		in.prior_cases = 3;
		in.prior_days = 30;
		in.when = 1783209600; /* 2026-07-05 */
		in.answers = answers[i];
		if (triage_eval(r, &in, &res) != 0)
			abort();
		check_result(r, &res, in.priority);
	}
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		json_decref(answers[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;

	r = triage_load_string("fuzz", (const char *)data, size, err, sizeof(err));
	if (r == NULL) {
		check_refusal(err);
		return 0;
	}
	triage_all(r);
	check_answers(r);
	(void)triage_repeat_days(r);
	(void)triage_category_label(r, "drowning");
	triage_free(r);
	return 0;
}
