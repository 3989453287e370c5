/*
 * test_outbox.c: the waits between tries of a notification
 * (escalation.notify_retry, escalation.notify_retry_max).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "outbox.h"

static void
test_backoff_doubles_up_to_the_max(void **state)
{
	static const struct {
		int attempt, base, max, want;
	} t[] = {
		{ 1, 10, 600, 10 }, { 2, 10, 600, 20 }, { 3, 10, 600, 40 }, { 6, 10, 600, 320 },
		{ 7, 10, 600, 600 }, { 8, 10, 600, 600 }, { 1000000, 10, 600, 600 },
		{ 1, 1, 1, 1 }, { 5, 1, 1, 1 }, { 0, 10, 600, 10 }, { -3, 10, 600, 10 },
		/* a base above the max: the max (the keys are checked apart) */
		{ 1, 3600, 60, 60 }, { 40, 3600, 86400, 86400 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(outbox_backoff(t[i].attempt, t[i].base, t[i].max), t[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_up_to_the_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
