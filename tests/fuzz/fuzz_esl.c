/*
 * fuzz_esl.c: any bytes as a FreeSWITCH event socket stream, fed in three
 * pieces cut where a hash of the input says, then again after a reconnect.
 *
 * Besides what the sanitizers catch, pbxfeed.c checks the events and the
 * errors, and this that the commands to send are each one line ended by an
 * empty one. The limits are small so that
 * oversized header blocks and bodies and a full call table are reached
 * quickly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esl.h"
#include "pbxfeed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every command is "WORDS\n\n" with no other line break. */
static void
check_output(struct esl *a)
{
	char *s;

	while ((s = esl_output(a)) != NULL) {
		size_t n = strlen(s);

		if (n < 3 || strcmp(s + n - 2, "\n\n") != 0 ||
		    strpbrk(s, "\r") != NULL || strchr(s, '\n') != s + n - 2)
			abort();
		free(s);
	}
}
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct esl_options opt = {
		.password = "ClueCon",
		.ivr_variable = "hotline_ivr",
		.source = "esl:fuzz",
		.max_header = 1024,
		.max_body = 2048,
		.max_calls = 8,
	};
	struct esl *a = esl_new(&opt);

	if (a == NULL)
		abort();
	check_output(a);
	pbxfeed(&esl_adapter, a, data, size);
	check_output(a);
	(void)esl_ready(a);
	/* a reconnect keeps the calls: the same stream again meets them */
	esl_reset(a);
	pbxfeed(&esl_adapter, a, data, size);
	check_output(a);
	esl_free(a);
	return 0;
}
