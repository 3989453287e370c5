/* test_metrics.c: the judgement of health and the text exposition, without
 * a socket: what each state of the daemon makes of /healthz and /metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static struct metrics_state
healthy(void)
{
	struct metrics_state s = { 0 };

	s.db_up = 1;
	s.console_db_up = 1;
	s.spool_on = 1;
	s.spool_max_bytes = 1024;
	s.sources = json_array();
	return s;
}

/* The health of s and its reasons joined by '|'. */
static enum metrics_health
judge(const struct metrics_state *s, char *why, size_t len)
{
	json_t *reasons = json_array(), *r;
	enum metrics_health h = metrics_health(s, reasons);
	size_t i;

	why[0] = '\0';
	json_array_foreach(reasons, i, r) {
		if (i > 0)
			strncat(why, "|", len - strlen(why) - 1);
		strncat(why, json_string_value(r), len - strlen(why) - 1);
	}
	json_decref(reasons);
	return h;
}

static void
test_health(void **state)
{
	struct metrics_state s = healthy();
	char why[1024];

	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_OK);
	assert_string_equal(why, "");
	/* the database away, the spool keeping events */
	s.db_up = 0;
	s.console_db_up = 0;
	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_DEGRADED);
	assert_string_equal(why, "database unreachable: events go to the local spool");
	/* started without it, whose schema then could not be used: still kept */
	s.schema_failure = "the database has migration 999_x, which this hotline111d does not know";
	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_DEGRADED);
	assert_string_equal(why, "the database's schema cannot be used (events go to the "
	    "local spool, nothing is replayed): the database has migration 999_x, which this "
	    "hotline111d does not know");
	s.schema_failure = NULL;
	/* ... until the spool is full: events are refused */
	s.refusing = "the database is unreachable and the spool is full or cannot be written";
	s.spool_records = 7;
	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_FAILING);
	assert_string_equal(why, "intake paused: the database is unreachable and the spool is "
	    "full or cannot be written|spool: 7 events waiting to be replayed");
	/* back, replaying */
	json_decref(s.sources);
	s = healthy();
	s.spool_records = 3;
	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_DEGRADED);
	assert_string_equal(why, "spool: 3 events waiting to be replayed");
	s.spool_records = 0;
	s.console_db_up = 0;
	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_DEGRADED);
	s.console_db_up = 1;
	s.stopping = 1;
	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_FAILING);
	assert_string_equal(why, "stopping");
	json_decref(s.sources);
}

static void
test_sources_in_health(void **state)
{
	struct metrics_state s = healthy();
	char why[1024];

	json_array_append_new(s.sources, json_pack("{s:s, s:s, s:s, s:s}", "source", "ami:pbx1",
	    "type", "ami", "state", "up", "error", ""));
	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_OK);
	json_array_append_new(s.sources, json_pack("{s:s, s:s, s:s, s:s}", "source", "esl:fs",
	    "type", "esl", "state", "down", "error", "connection refused"));
	json_array_append_new(s.sources, json_pack("{s:s, s:s, s:s}", "source", "evapi:k",
	    "type", "evapi", "state", "connecting"));
	/* what the daemon never says, taken without harm */
	json_array_append_new(s.sources, json_pack("{s:i}", "state", 5));
	json_array_append_new(s.sources, json_string("junk"));
	assert_int_equal(judge(&s, why, sizeof(why)), HEALTH_DEGRADED);
	assert_string_equal(why, "source esl:fs: down: connection refused|source evapi:k: "
	    "connecting");
	json_decref(s.sources);
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

static void
test_render(void **state)
{
	struct metrics_state s = healthy();
	json_t *db = json_pack("{s:i, s:{s:i, s:s}}", "pending", 12, "unacked", "1", 4, "2",
	    "wrong type");
	char *text;

	memset(&metrics_counts, 0, sizeof(metrics_counts));
	metrics_event(EV_CALL_OFFERED, MR_ACKED);
	metrics_event(EV_CALL_OFFERED, MR_ACKED);
	metrics_refused(METRICS_INVALID, PROTO_BAD_JSON);
	metrics_event(99, MR_ACKED); /* out of range: ignored */
	metrics_event(-1, MR_ACKED);
	metrics_nack(PROTO_OK);
	metrics_nack((enum proto_error)42);
	metrics_batch(1);
	metrics_batch(7);
	metrics_batch(5000);
	metrics_latency(0.003);
	metrics_latency(-1);
	metrics_escalation("escalation", 1);
	metrics_escalation("escalation", 99); /* the last level shown holds it */
	metrics_escalation("warning", 0);
	json_array_append_new(s.sources, json_pack("{s:s, s:s, s:s}", "source",
	    "ami:a\"b\\c\nd", "type", "ami", "state", "up"));
	s.spool_records = 2;
	text = metrics_render(&s, db, 3);
	assert_true(has_line(text, "hotline111_events_total{type=\"call.offered\","
	    "result=\"acked\"} 2"));
	assert_true(has_line(text, "hotline111_events_total{type=\"invalid\",result=\"nacked\"} 1"));
	assert_true(has_line(text, "hotline111_nacks_total{code=\"bad_json\"} 1"));
	assert_true(has_line(text, "# TYPE hotline111_batch_size histogram"));
	assert_true(has_line(text, "hotline111_batch_size_bucket{le=\"1\"} 1"));
	assert_true(has_line(text, "hotline111_batch_size_bucket{le=\"5\"} 1"));
	assert_true(has_line(text, "hotline111_batch_size_bucket{le=\"10\"} 2"));
	assert_true(has_line(text, "hotline111_batch_size_bucket{le=\"1000\"} 2"));
	assert_true(has_line(text, "hotline111_batch_size_bucket{le=\"+Inf\"} 3"));
	assert_true(has_line(text, "hotline111_batch_size_sum 5008"));
	assert_true(has_line(text, "hotline111_batch_size_count 3"));
	assert_true(has_line(text, "hotline111_ack_latency_seconds_bucket{le=\"0.001\"} 1"));
	assert_true(has_line(text, "hotline111_ack_latency_seconds_bucket{le=\"0.005\"} 2"));
	assert_true(has_line(text, "hotline111_source_connected{source=\"ami:a\\\"b\\\\c\\nd\","
	    "type=\"ami\"} 1"));
	assert_true(has_line(text, "hotline111_spool_records 2"));
	assert_true(has_line(text, "hotline111_health{state=\"degraded\"} 1"));
	assert_true(has_line(text, "hotline111_health{state=\"ok\"} 0"));
	assert_true(has_line(text, "hotline111_escalations_total{level=\"1\"} 1"));
	assert_true(has_line(text, "hotline111_escalations_total{level=\"3\"} 0"));
	assert_null(strstr(text, "level=\"4\""));
	assert_true(has_line(text, "hotline111_warnings_total 1"));
	assert_true(has_line(text, "hotline111_deadlines_pending 12"));
	assert_true(has_line(text, "hotline111_escalations_unacknowledged{level=\"1\"} 4"));
	assert_true(has_line(text, "hotline111_escalations_unacknowledged{level=\"2\"} 0"));
	free(text);
	/* the last level holds what went past it; no figures: no samples */
	text = metrics_render(&s, NULL, 16);
	assert_true(has_line(text, "hotline111_escalations_total{level=\"16\"} 1"));
	assert_null(strstr(text, "hotline111_deadlines_pending"));
	assert_null(strstr(text, "hotline111_escalations_unacknowledged"));
	free(text);
	json_decref(db);
	json_decref(s.sources);
}

static void
test_check(void **state)
{
	char err[256];

	assert_int_equal(metrics_check("", err, sizeof(err)), 0);
	assert_int_equal(metrics_check("127.0.0.1:9111", err, sizeof(err)), 0);
	assert_int_equal(metrics_check("tcp:[::1]:9111", err, sizeof(err)), 0);
	assert_int_equal(metrics_check("localhost:9111", err, sizeof(err)), -1);
	assert_string_equal(err, "\"localhost:9111\" is not a \"HOST:PORT\" address (numeric "
	    "host, [V6] in brackets)");
	assert_int_equal(metrics_check(":9111", err, sizeof(err)), -1);
	assert_int_equal(metrics_check("127.0.0.1:", err, sizeof(err)), -1);
	assert_int_equal(metrics_check("127.0.0.1:65536", err, sizeof(err)), -1);
	assert_int_equal(metrics_check("unix:/run/m.sock", err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_sources_in_health),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
