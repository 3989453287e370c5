/*
 * test_timers.c: the heap that orders deadlines, the scheduler that turns
 * it into one libevent timer (with an injected clock, no sleeping), and the
 * escalation log line as supervisors read it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "escalation.h"
#include "timers.h"

static void
test_heap_orders_any_input(void **state)
{
	struct timers_heap h = { 0 };
	int64_t prev = INT64_MIN;

	srand(111);
	assert_true(timers_heap_top(&h) == INT64_MAX);
	for (int i = 0; i < 100000; i++)
		timers_heap_push(&h, (int64_t)(rand() % 5000) * 1000 + (i % 3));
	assert_int_equal(h.n, 100000);
	while (h.n > 0) {
		int64_t v = timers_heap_pop(&h);
		assert_true(v >= prev);
		prev = v;
	}
	assert_true(timers_heap_top(&h) == INT64_MAX);
	timers_heap_free(&h);
}

static void
test_heap_keeps_duplicates(void **state)
{
	struct timers_heap h = { 0 };

	for (int i = 0; i < 10; i++)
		timers_heap_push(&h, 42);
	timers_heap_push(&h, 7);
	assert_true(timers_heap_pop(&h) == 7);
	for (int i = 0; i < 10; i++)
		assert_true(timers_heap_pop(&h) == 42);
	assert_int_equal(h.n, 0);
	timers_heap_free(&h);
}

/* The scheduler, on a real event loop with a clock the test moves. */
static int64_t fake_now;
static int calls;
static struct timers *sched;

static int64_t
fake_clock(void)
{
	return fake_now;
}

static void
on_due(void *arg)
{
	calls++;
	timers_fired(sched, 0);
}

static void
run_once(struct event_base *base)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
test_scheduler_fires_what_is_due(void **state)
{
	struct event_base *base = event_base_new();

	sched = timers_new(base, on_due, NULL);
	timers_set_clock(sched, fake_clock);
	fake_now = 1000000;
	calls = 0;
	timers_schedule(sched, fake_now + 3600 * 1000); /* an hour away */
	run_once(base);
	assert_int_equal(calls, 0);
	assert_int_equal(timers_pending(sched), 1);
	timers_schedule(sched, fake_now - 5); /* overdue: fires at once, late */
	run_once(base);
	assert_int_equal(calls, 1);
	assert_int_equal(timers_pending(sched), 1);
	/* the clock passes the hour; a wake-up for anything takes all that is due */
	fake_now += 3600 * 1000;
	timers_schedule(sched, fake_now - 1);
	run_once(base);
	assert_int_equal(calls, 2);
	assert_int_equal(timers_pending(sched), 0);
	timers_stop(sched);
	timers_free(sched);
	event_base_free(base);
}

/* A moment that arrives while the owner is still looking is not lost. */
static int nested;

static void
on_due_slow(void *arg)
{
	calls++;
	if (nested++ == 0) {
		timers_schedule(sched, fake_now - 1);
		return; /* still busy: timers_fired comes later */
	}
	timers_fired(sched, 0);
}

static void
test_scheduler_remembers_work_during_a_look(void **state)
{
	struct event_base *base = event_base_new();

	sched = timers_new(base, on_due_slow, NULL);
	timers_set_clock(sched, fake_clock);
	fake_now = 5000;
	calls = nested = 0;
	timers_schedule(sched, 4000);
	run_once(base);
	assert_int_equal(calls, 1);
	timers_fired(sched, 0); /* the first look ends: the second moment is due */
	assert_int_equal(calls, 2);
	timers_fired(sched, 1); /* "more due": look again at once */
	assert_int_equal(calls, 3);
	timers_stop(sched);
	timers_free(sched);
	event_base_free(base);
}

static void
test_log_line_has_the_design_fields_in_order(void **state)
{
	json_t *r = json_loads("{\"target\":\"shift supervisor\",\"rules\":[\"drowning-keywords\","
	    "\"ivr-emergency\"],\"caller\":\"+84912345678\",\"late_ms\":3,"
	    "\"due\":\"2026-07-05T06:04:20+07:00\",\"level\":1,\"deadline\":\"answer\","
	    "\"category\":\"drowning\",\"priority\":1,\"case\":123,\"escalation\":88,"
	    "\"kind\":\"escalation\",\"ts\":\"2026-07-05T06:04:20+07:00\"}", 0, NULL);
	char *line = escalation_log_line(r);

	assert_string_equal(line,
	    "{\"ts\":\"2026-07-05T06:04:20+07:00\",\"kind\":\"escalation\",\"escalation\":88,"
	    "\"case\":123,\"priority\":1,\"category\":\"drowning\",\"deadline\":\"answer\","
	    "\"level\":1,\"due\":\"2026-07-05T06:04:20+07:00\",\"late_ms\":3,"
	    "\"caller\":\"+849******78\",\"rules\":[\"drowning-keywords\",\"ivr-emergency\"]}\n");
	free(line);
	json_decref(r);
}

static void
test_log_line_with_nothing_known(void **state)
{
	json_t *r = json_loads("{\"kind\":\"warning\",\"caller\":null,\"category\":null}", 0, NULL);
	char *line = escalation_log_line(r);

	assert_non_null(strstr(line, "\"caller\":null"));
	assert_non_null(strstr(line, "\"category\":null"));
	assert_non_null(strstr(line, "\"rules\":[]"));
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	free(line);
	json_decref(r);
}

static void
test_short_and_odd_callers_are_masked(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "+84912345678", "+849******78" }, /* at most 5 digits show */
		{ "0912345678", "091*****78" },
		{ "02438251234", "024******34" },
		{ "+8412345678901", "+841********01" },
		{ "113", "***" },
		{ "12345", "12***" },
		{ "1234567", "12***67" },
		{ "+1234", "+****" },
		{ "+", "+" },
		{ "", "" },
		{ "anonymous", "an*****us" },
		{ "+84\n12345678", "+84*******78" }, /* a control byte never reaches a log */
	};
	/* tests/integration/test_masking.py holds h111_mask() to the same table */
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(log_mask_number(buf, sizeof(buf), cases[i].in), cases[i].out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_orders_any_input),
		cmocka_unit_test(test_heap_keeps_duplicates),
		cmocka_unit_test(test_scheduler_fires_what_is_due),
		cmocka_unit_test(test_scheduler_remembers_work_during_a_look),
		cmocka_unit_test(test_log_line_has_the_design_fields_in_order),
		cmocka_unit_test(test_log_line_with_nothing_known),
		cmocka_unit_test(test_short_and_odd_callers_are_masked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
