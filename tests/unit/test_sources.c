/*
 * test_sources.c: the connection side of the PBX sources, without a PBX or
 * a database. It includes sources.c to see the reconnect state that a
 * log line or a status column does not show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/sources.c"

/*
 * A connect that fails at once (a unix socket that is not there) is
 * reported to event_cb inside bufferevent_socket_connect(); src_connect()
 * must not count it a second time: the first retry comes after
 * BACKOFF_MIN_MS, and the backoff doubles once per failed attempt.
 */
static void
test_failed_connect_is_lost_once(void **state)
{
	struct pbx_source ps = { .type = "evapi",
		.connect = "unix:/nonexistent-hotline111-test/pbx.sock" };
	struct config cfg = { .bridge_max_depth = 16 };
	struct event_base *base = event_base_new();
	struct timeval now, at;
	struct sources *s;
	char err[256];
	long long ms;

	(void)state;
	cfg.sources.v = &ps;
	cfg.sources.n = 1;
	assert_non_null(base);
	s = sources_new(base, NULL, NULL, NULL, &cfg, err, sizeof(err));
	assert_non_null(s);
	sources_start(s);
	assert_null(s->v[0].bev);
	assert_int_equal(s->v[0].state, SRC_DOWN);
	assert_true(evtimer_pending(s->v[0].retry, &at));
	event_base_gettimeofday_cached(base, &now);
	ms = (long long)(at.tv_sec - now.tv_sec) * 1000 + (at.tv_usec - now.tv_usec) / 1000;
	assert_true(ms <= BACKOFF_MIN_MS + 100);
	assert_int_equal(s->v[0].backoff_ms, 2 * BACKOFF_MIN_MS);
	sources_stop(s);
	sources_free(s);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_connect_is_lost_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
