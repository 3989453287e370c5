/*
 * fuzz_model.c: any bytes as a model file, loaded from memory.
 *
 * Besides what the sanitizers catch, this checks what triage relies on:
 * a refusal says "NAME:LINE: why", and an accepted model guesses a class
 * it has, with a probability in [0, 1] and words that fit their buffer.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "triage.h"
#include "triage_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const texts[] = {
    "Cứu với, bé 3 tuổi rơi xuống ao sau nhà, chưa thấy nổi lên",
    "chu ay hay so soang vung kin be",
    "hồ sơ \xff\xfe lao động \xcc\x81\xcc\x82 ",
    "",
};

static void
check_refusal(const char *err)
{
	if (strncmp(err, "fuzz:", 5) != 0 || strtoul(err + 5, NULL, 10) == 0 ||
	    strchr(err + 5, ':') == NULL)
		abort();
}

static void
guess_all(const struct triage_model *m)
{
	struct model_guess g;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		triage_model_predict(m, texts[i], &g);
		if (g.cls < -1 || g.cls >= triage_model_class_count(m))
			abort();
		if (g.cls >= 0 && !(g.p >= 0 && g.p <= 1))
			abort();
		if (strnlen(g.words, sizeof(g.words)) == sizeof(g.words))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[TRIAGE_ERRLEN];
	struct triage_model *m;

	m = triage_model_load_string("fuzz", (const char *)data, size, err, sizeof(err));
	if (m == NULL) {
		check_refusal(err);
		return 0;
	}
	if (triage_model_class_count(m) < 2 || triage_model_class(m, 0) == NULL)
		abort();
	guess_all(m);
	triage_model_free(m);
	return 0;
}
