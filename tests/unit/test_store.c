/*
 * test_store.c: which database refusals are the event's own fault. Only
 * those are nacked bad_value; every other one keeps the event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store.h"

static void
test_data_errors_blame_the_event(void **state)
{
	static const char *const blamed[] = { "22000", "22001", "22003", "22007", "22P02",
		"22023", "23000", "23502", "23503", "23514", "23P01" };

	(void)state;
	for (size_t i = 0; i < sizeof(blamed) / sizeof(blamed[0]); i++)
		assert_true(store_sqlstate_blames_event(blamed[i]));
}

static void
test_other_refusals_keep_the_event(void **state)
{
	static const char *const kept[] = { "23505", "25006", "57014", "55P03", "53100",
		"53200", "53300", "08006", "08001", "40001", "40P01", "57P01", "42501", "42883",
		"P0001", "XX000", "?????", "", "2", "220" };

	(void)state;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_false(store_sqlstate_blames_event(kept[i]));
	assert_false(store_sqlstate_blames_event(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_errors_blame_the_event),
		cmocka_unit_test(test_other_refusals_keep_the_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
