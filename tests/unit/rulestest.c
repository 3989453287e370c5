/* rulestest.c: see rulestest.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rulestest.h"

struct triage_rules *
rulestest_load(const char *text)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r =
	    triage_load_string(RULESTEST_NAME, text, strlen(text), err, sizeof(err));

	if (r == NULL)
		fail_msg("unexpected refusal: %s", err);
	return r;
}

int
rulestest_refused_as(const char *text, const char *want)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r =
	    triage_load_string(RULESTEST_NAME, text, strlen(text), err, sizeof(err));

	if (r != NULL) {
		triage_free(r);
		print_error("accepted:\n%s\nwant %s\n", text, want);
		return 0;
	}
	if (strcmp(err, want) != 0) {
		print_error("file:\n%sgot  %s\nwant %s\n", text, err, want);
		return 0;
	}
	return 1;
}
