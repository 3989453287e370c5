/*
 * test_config.c: hotline111d.conf(5) as config.c reads it.
 *
 * The defaults are checked field by field against DESIGN.md. Refusals,
 * durations, -s overrides and reload comparisons each come from a table
 * (input, exact expected result), so adding a case is adding a line; a
 * table test reports every failing row before it fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cmocka.h>
#include <libconfig.h>

#include "config.h"
#include "xmalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#define SHIPPED TOP_SRCDIR "/conf/hotline111d.conf"
#define MANPAGE TOP_SRCDIR "/man/hotline111d.conf.5"
#define MAX_BYTES (4 * 1024 * 1024) /* CONFIG_MAX_BYTES in config.c */
#define HOUR 3600
#define DAY (24 * HOUR)

/* --- helpers ----------------------------------------------------------- */

static struct config *
load_ok(const char *text)
{
	char err[1024] = "";
	struct config *c = config_load_string("t", text, err, sizeof(err));

	if (c == NULL) {
		print_error("refused: %s\n  %s\n", text, err);
		fail();
	}
	return c;
}

static struct config *
load_file_ok(const char *file, char *const *ov, int nov)
{
	char err[1024] = "";
	struct config *c = config_load(file, ov, nov, err, sizeof(err));

	if (c == NULL) {
		print_error("refused %s: %s\n", file ? file : "(no file)", err);
		fail();
	}
	return c;
}

/* 1 when text is refused with exactly want; else says what happened. */
static int
refused_as(const char *label, const char *text, const char *want)
{
	char err[1024] = "";
	struct config *c = config_load_string("t", text, err, sizeof(err));

	if (c == NULL && strcmp(err, want) == 0)
		return 1;
	print_error("%s: %.200s\n  want: %s\n  got:  %s\n", label, text, want,
	    c != NULL ? "(accepted)" : err);
	config_free(c);
	return 0;
}

/* A temporary file holding len bytes of text; its name goes in path. */
static void
write_temp(char *path, size_t pathlen, const char *text, size_t len)
{
	int fd;

	snprintf(path, pathlen, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* s repeated n times, joined by sep. */
static char *
repeat(const char *s, int n, const char *sep)
{
	size_t ls = strlen(s), lsep = strlen(sep);
	char *out = xmalloc((ls + lsep) * (size_t)n + 1), *p = out;

	for (int i = 0; i < n; i++) {
		if (i > 0) {
			memcpy(p, sep, lsep);
			p += lsep;
		}
		memcpy(p, s, ls);
		p += ls;
	}
	*p = '\0';
	return out;
}

static void
assert_strlist(const struct strlist *l, const char *const *want, int n)
{
	assert_int_equal(l->n, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(l->v[i], want[i]);
}

static void
assert_duration(struct duration d, int64_t seconds, int working_days)
{
	assert_int_equal(d.seconds, seconds);
	assert_int_equal(d.working_days, working_days);
}

/* --- defaults (DESIGN.md, "Configuration") ------------------------------ */

static const struct duration default_deadline[4][DL_COUNT] = {
	/* answer, claim, act, plan */
	{ { 20, 0 }, { 60, 0 }, { 3600, 0 }, { 0, 5 } },
	{ { 60, 0 }, { 300, 0 }, { 12 * HOUR, 0 }, { 0, 5 } },
	{ { 120, 0 }, { 1800, 0 }, { 24 * HOUR, 0 }, { 0, 0 } },
	{ { 300, 0 }, { 4 * HOUR, 0 }, { 72 * HOUR, 0 }, { 0, 0 } },
};

static const char *const default_levels[] = { "shift supervisor", "duty manager",
	"provincial child protection / police" };

static void
assert_default_scalars(const struct config *c)
{
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_string_equal(c->escalation_log, "/var/log/hotline111/escalations.log");
	assert_string_equal(c->db_conninfo, "dbname=hotline111");
	assert_int_equal(c->bridge_max_line, 65536);
	assert_int_equal(c->bridge_max_clients, 256);
	assert_int_equal(c->bridge_window, 1024);
	assert_int_equal(c->bridge_max_depth, 16);
	assert_string_equal(c->spool_dir, "/var/lib/hotline111/spool");
	assert_int_equal(c->spool_max_mb, 1024);
	assert_int_equal(c->default_priority, 4);
	assert_true(c->esc_warn == 0.8);
	assert_int_equal(c->esc_repeat, 300);
	assert_int_equal(c->weekend_mask, (1 << 6) | (1 << 7));
	assert_string_equal(c->metrics_listen, "127.0.0.1:9111");
	assert_string_equal(c->cti_listen, "");
	assert_string_equal(c->cti_token, "");
	assert_int_equal(c->notify_retry, 10);
	assert_int_equal(c->notify_retry_max, 600);
	assert_int_equal(c->notify_give_up, 3600);
}

static void
assert_default_lists(const struct config *c)
{
	static const char *const bridge[] = { "unix:/run/hotline111/bridge.sock" };
	static const char *const console[] = { "unix:/run/hotline111/console.sock" };

	assert_strlist(&c->bridge_listen, bridge, 1);
	assert_strlist(&c->console_listen, console, 1);
	assert_strlist(&c->esc_levels, default_levels, 3);
	assert_int_equal(c->tokens.n, 0);
	assert_int_equal(c->operators.n, 0);
	assert_int_equal(c->sources.n, 0);
	assert_int_equal(c->notify.n, 0);
	for (int p = 0; p < 4; p++)
		for (int k = 0; k < DL_COUNT; k++)
			assert_duration(c->deadline[p][k], default_deadline[p][k].seconds,
			    default_deadline[p][k].working_days);
}

/* Every default but the two the shipped file may differ in. */
static void
assert_defaults(const struct config *c)
{
	assert_default_scalars(c);
	assert_default_lists(c);
}

static void
test_defaults(void **state)
{
	static const char *const texts[] = { "", "\n", "# only a comment\n",
		"/* block */ // line\n" };
	char err[256];
	struct config *c;

	for (size_t i = 0; i < nitems(texts); i++) {
		c = load_ok(texts[i]);
		assert_defaults(c);
		assert_string_equal(c->rules_file, SYSCONFDIR "/hotline111/rules.conf");
		assert_int_equal(c->holidays.n, 0);
		assert_string_equal(c->file, "t");
		config_free(c);
	}
	c = config_load(NULL, NULL, 0, err, sizeof(err));
	assert_non_null(c);
	assert_defaults(c);
	assert_string_equal(c->rules_file, SYSCONFDIR "/hotline111/rules.conf");
	assert_int_equal(c->holidays.n, 0);
	assert_string_equal(c->file, "(defaults)");
	config_free(c);
}

/*
 * The shipped file says its values are the defaults, except holidays; its
 * rules path is written for --sysconfdir=/etc, which the built-in default
 * follows only when configured so.
 */
static void
test_shipped_file(void **state)
{
	static const char *const tet[] = { "2026-02-16", "2026-02-17" };
	struct config *c = load_file_ok(SHIPPED, NULL, 0);
	struct config *def = load_file_ok(NULL, NULL, 0);

	assert_defaults(c);
	assert_strlist(&c->holidays, tet, 2);
	assert_string_equal(c->rules_file, "/etc/hotline111/rules.conf");
	assert_string_equal(c->file, SHIPPED);
	assert_int_equal(config_warn_restart_keys(def, c), 0);
	config_free(def);
	config_free(c);
}

/* --- every key set, and read back --------------------------------------- */

static const char every_key[] =
    "log: { level = \"warn\"; escalation_log = \"/tmp/e.log\"; };\n"
    "database: { conninfo = \"host=/tmp/pg dbname=h\"; };\n"
    "bridge: {\n"
    "  listen = [ \"unix:/tmp/b.sock\", \"tcp:127.0.0.1:7111\" ];\n"
    "  max_line = 256; max_clients = 65535; window = 0x40; max_depth = 64;\n"
    "  tokens = ( { client = \"pbx-hn\"; token = \"s1\"; },\n"
    "             { token = \"s2\"; client = \"pbx-hcm\"; } );\n"
    "};\n"
    "console: { listen = [ ];\n"
    "  operators = ( { name = \"lan\"; uid = 1001; role = \"operator\"; },\n"
    "                { name = \"root\"; uid = 0; role = \"admin\"; } ); };\n"
    "spool: { dir = \"/tmp/spool\"; max_mb = 1048576; };\n"
    "triage: { rules = \"rules.conf\"; default_priority = 1; };\n"
    "escalation: {\n"
    "  p1 = { answer = 0; claim = \"30s\"; act = \"5m\"; plan = \"366wd\"; };\n"
    "  p2 = { answer = 31622400; claim = \"366d\"; act = 7L; plan = \"0wd\"; };\n"
    "  p3 = { plan = \"2d\"; };\n"
    "  warn = 0; repeat = 86400; levels = [ \"one\" ];\n"
    "  calendar = { weekend = [ 5, 7, 7 ];\n"
    "               holidays = [ \"2024-02-29\", \"2000-02-29\" ]; };\n"
    "};\n"
    "metrics: { listen = \"\"; };\n"
    "sources = ( { type = \"evapi\"; connect = \"tcp:127.0.0.1:8448\"; },\n"
    "            { type = \"ami\"; connect = \"tcp:127.0.0.1:5038\";\n"
    "              username = \"h\"; secret = \"s\"; ivr_variable = \"IVR\";\n"
    "              name = \"pbx1\"; },\n"
    "            { type = \"esl\"; connect = \"unix:/x\"; password = \"p\"; } );\n"
    "cti = { listen = \"tcp:127.0.0.1:8080\"; token = \"t\"; };\n";

static void
assert_every_key_scalars(const struct config *c)
{
	assert_int_equal(c->log_level, LOG_LVL_WARN);
	assert_string_equal(c->escalation_log, "/tmp/e.log");
	assert_string_equal(c->db_conninfo, "host=/tmp/pg dbname=h");
	assert_int_equal(c->bridge_max_line, 256);
	assert_int_equal(c->bridge_max_clients, 65535);
	assert_int_equal(c->bridge_window, 64);
	assert_int_equal(c->bridge_max_depth, 64);
	assert_string_equal(c->spool_dir, "/tmp/spool");
	assert_int_equal(c->spool_max_mb, 1048576);
	assert_string_equal(c->rules_file, "rules.conf");
	assert_int_equal(c->default_priority, 1);
	assert_true(c->esc_warn == 0.0);
	assert_int_equal(c->esc_repeat, 86400);
	assert_int_equal(c->weekend_mask, (1 << 5) | (1 << 7));
	assert_string_equal(c->metrics_listen, "");
	assert_string_equal(c->cti_listen, "tcp:127.0.0.1:8080");
	assert_string_equal(c->cti_token, "t");
}

static void
assert_every_key_groups(const struct config *c)
{
	assert_int_equal(c->tokens.n, 2);
	assert_string_equal(c->tokens.v[1].client, "pbx-hcm");
	assert_string_equal(c->tokens.v[1].token, "s2");
	assert_int_equal(c->operators.n, 2);
	assert_string_equal(c->operators.v[0].name, "lan");
	assert_int_equal(c->operators.v[0].uid, 1001);
	assert_string_equal(c->operators.v[1].role, "admin");
	assert_int_equal(c->operators.v[1].uid, 0);
	assert_int_equal(c->sources.n, 3);
	assert_string_equal(c->sources.v[0].type, "evapi");
	assert_null(c->sources.v[0].username);
	assert_null(c->sources.v[0].password);
	assert_string_equal(c->sources.v[1].ivr_variable, "IVR");
	assert_string_equal(c->sources.v[1].name, "pbx1");
	assert_null(c->sources.v[0].name);
	assert_string_equal(c->sources.v[1].secret, "s");
	assert_string_equal(c->sources.v[2].password, "p");
	assert_null(c->sources.v[2].secret);
}

static void
test_every_key(void **state)
{
	static const char *const bridge[] = { "unix:/tmp/b.sock", "tcp:127.0.0.1:7111" };
	static const char *const days[] = { "2024-02-29", "2000-02-29" };
	static const char *const one[] = { "one" };
	struct config *c = load_ok(every_key);

	assert_every_key_scalars(c);
	assert_every_key_groups(c);
	assert_strlist(&c->bridge_listen, bridge, 2);
	assert_int_equal(c->console_listen.n, 0);
	assert_strlist(&c->esc_levels, one, 1);
	assert_strlist(&c->holidays, days, 2);
	assert_duration(c->deadline[0][DL_ANSWER], 0, 0);
	assert_duration(c->deadline[0][DL_CLAIM], 30, 0);
	assert_duration(c->deadline[0][DL_ACT], 300, 0);
	assert_duration(c->deadline[0][DL_PLAN], 0, 366);
	assert_duration(c->deadline[1][DL_ANSWER], 366 * DAY, 0);
	assert_duration(c->deadline[1][DL_CLAIM], 366 * DAY, 0);
	assert_duration(c->deadline[1][DL_ACT], 7, 0);
	assert_duration(c->deadline[1][DL_PLAN], 0, 0);
	/* a group given in part keeps the defaults of what it leaves out */
	assert_duration(c->deadline[2][DL_PLAN], 2 * DAY, 0);
	assert_duration(c->deadline[2][DL_ANSWER], 120, 0);
	assert_duration(c->deadline[3][DL_CLAIM], 4 * HOUR, 0);
	config_free(c);
}

/* Limits are inclusive, and libconfig's spellings of a value all count. */
static void
test_accepted(void **state)
{
	static const char *const good[] = {
		"bridge: { max_line = 16777216; window = 65536; max_depth = 2; };",
		"bridge: { window = 1; max_clients = 1; };",
		"bridge: { window = 1024L; max_line = 0x100; };",
		"triage: { default_priority = 4; }; spool: { max_mb = 1; };",
		"escalation: { warn = 1; repeat = 1; };",
		"escalation: { warn = 1.0; }; log: { level = \"error\"; };",
		"escalation: { p4 = { act = \"8784h\"; plan = \"527040m\"; }; };",
		"escalation: { calendar = { weekend = [ 1, 2, 3, 4, 5, 6 ]; }; };",
		"escalation: { calendar = { weekend = [ ]; holidays = ( \"2026-12-31\" ); }; };",
		"bridge: { listen = ( \"unix:/a\" ); tokens = ( ); };",
		/* libconfig 1.5 makes the ';' after a setting optional */
		"log: { level = \"debug\" }; bridge: { window = 8 max_line = 512 }",
		"log = { level = \"info\"; }; bridge = { };",
		"/* bridge: { windw = 1; }; */ # x = 1;\n// y = 2;\n",
		"cti: { token = \"@include \\\"x\\\"\"; }; # @include \"x\"\n",
		"console: { operators = ( { name = \"n\"; uid = 2147483647;\n"
		"  role = \"supervisor\"; } ); };",
	};

	for (size_t i = 0; i < nitems(good); i++) {
		char err[1024] = "";
		struct config *c = config_load_string("t", good[i], err, sizeof(err));
		if (c == NULL)
			print_error("good[%zu] refused: %s\n  %s\n", i, good[i], err);
		assert_non_null(c);
		config_free(c);
	}
}

/* --- refusals, exact "NAME:LINE: message" ------------------------------- */

struct bad {
	const char *text;
	const char *err;
};

#define DUR_MSG "must be seconds or a duration such as \"30s\" \"5m\" \"12h\" \"2d\" " \
	"\"5wd\" (at most a year)"
#define P1(m) "escalation: { p1 = { " m " }; };"
#define CAL(m) "escalation: { calendar = { " m " }; };"
#define OPS(m) "console: { operators = ( { " m " } ); };"
#define TOK(m) "bridge: { tokens = ( { " m " } ); };"
#define SRC(m) "sources = ( { " m " } );"

static const struct bad bad_syntax[] = {
	{ "log: { level = \"info; };", "t:1: syntax error" },
	{ "log:\n{\n  level = \"info;\n};\n", "t:5: syntax error" },
	{ "escalation: { calendar = { weekend = [ 6 7 ]; }; };", "t:1: syntax error" },
	{ "bridge: { window = 5 max_line = 300; } }", "t:1: syntax error" },
	{ "%%%", "t:1: syntax error" },
	{ "\n\n}", "t:3: syntax error" },
	{ "log { level = \"info\"; };", "t:1: syntax error" },
	{ "bridge: { window = ; };", "t:1: syntax error" },
	{ "bridge: { window = 5; };\njunk", "t:2: syntax error" },
	{ "\x01\x02\x03", "t:1: syntax error" },
	{ "bridge: { window = 1; window = 2; };", "t:1: duplicate setting name" },
	{ "bridge: { listen = [ \"a\", 5 ]; };", "t:1: mismatched element type in array" },
};

/* libconfig 1.5 exits on an @include of a directory; one file is the design. */
static const struct bad bad_include[] = {
	{ "@include \".\"", "t:1: @include is not supported" },
	{ "log: { };\n \t@include\t\"/etc/hotline111/tokens.conf\"\n",
	    "t:2: @include is not supported" },
	/* the check errs towards refusing: libconfig would skip this one */
	{ "/*\n@include \"x\"\n*/", "t:2: @include is not supported" },
	/* not a directive to libconfig either: '@' is garbage there */
	{ "@includes \"x\"", "t:1: syntax error" },
	{ "@include x", "t:1: syntax error" },
};

static const struct bad bad_names[] = {
	{ "x = 1;", "t:1: unknown setting 'x'" },
	{ "Log: { level = \"info\"; };", "t:1: unknown setting 'Log'" },
	{ "bridge:\n{\n  windw = 5;\n};", "t:3: unknown setting 'bridge.windw'" },
	{ "escalation: { p5 = { answer = 1; }; };", "t:1: unknown setting 'escalation.p5'" },
	{ P1("respond = 1;"), "t:1: unknown setting 'escalation.p1.respond'" },
	{ CAL("holiday = [ ];"), "t:1: unknown setting 'escalation.calendar.holiday'" },
	{ "bridge = [ 1 ];", "t:1: bridge: must be a group { … }" },
	{ "metrics = \"127.0.0.1:9111\";", "t:1: metrics: must be a group { … }" },
	{ "escalation = ( { p1 = { }; } );", "t:1: escalation: must be a group { … }" },
	{ "escalation: { p1 = 5; };", "t:1: escalation.p1: must be a group { … }" },
	{ "escalation: { calendar = [ 6, 7 ]; };",
	    "t:1: escalation.calendar: must be a group { … }" },
	/* unknown names are found before any value is looked at */
	{ "bridge: { window = 0; };\nx = 1;", "t:2: unknown setting 'x'" },
};

static const struct bad bad_types[] = {
	{ "database: { conninfo = 5; };", "t:1: database.conninfo: must be a string 0..4096" },
	{ "metrics: { listen = [ \"a\" ]; };", "t:1: metrics.listen: must be a string 0..256" },
	{ "cti: { token = true; };", "t:1: cti.token: must be a string 0..256" },
	{ "bridge: { window = \"64\"; };", "t:1: bridge.window: must be an integer 1..65536" },
	{ "bridge: { window = 1.5; };", "t:1: bridge.window: must be an integer 1..65536" },
	{ "bridge: { window = true; };", "t:1: bridge.window: must be an integer 1..65536" },
	{ "bridge: { window = [ 1 ]; };", "t:1: bridge.window: must be an integer 1..65536" },
	{ "escalation: { warn = \"0.8\"; };", "t:1: escalation.warn: must be a number 0..1" },
	{ "log: { level = 5; };",
	    "t:1: log.level: must be \"debug\", \"info\", \"warning\" or \"error\"" },
	{ "bridge: { listen = \"unix:/x\"; };", "t:1: bridge.listen: must be an array [ … ]" },
	{ "bridge: { listen = { a = \"unix:/x\"; }; };",
	    "t:1: bridge.listen: must be an array [ … ]" },
	{ "bridge: { listen = [ 5 ]; };",
	    "t:1: bridge.listen: entry 1 must be a non-empty string" },
	{ "bridge: { listen = ( \"unix:/a\", ( ) ); };",
	    "t:1: bridge.listen: entry 2 must be a non-empty string" },
	{ "bridge: { listen = [ \"\" ]; };",
	    "t:1: bridge.listen: entry 1 must be a non-empty string" },
	{ P1("answer = 1.5;"), "t:1: escalation.p1.answer: " DUR_MSG },
	{ P1("answer = true;"), "t:1: escalation.p1.answer: " DUR_MSG },
	{ P1("answer = [ 5 ];"), "t:1: escalation.p1.answer: " DUR_MSG },
	{ CAL("weekend = \"6\";"), "t:1: escalation.calendar.weekend: must be an array [ … ]" },
	{ CAL("weekend = [ \"6\" ];"),
	    "t:1: escalation.calendar.weekend: days are 1 (Monday) .. 7 (Sunday)" },
	{ CAL("weekend = [ 6L ];"),
	    "t:1: escalation.calendar.weekend: days are 1 (Monday) .. 7 (Sunday)" },
	{ CAL("holidays = \"2026-02-16\";"),
	    "t:1: escalation.calendar.holidays: must be an array [ … ]" },
	{ CAL("holidays = [ 20260216 ];"),
	    "t:1: escalation.calendar.holidays: entry 1 must be a non-empty string" },
	{ "bridge: { tokens = { client = \"a\"; token = \"b\"; }; };",
	    "t:1: bridge.tokens: must be a list ( { … }, … )" },
	{ "bridge: { tokens = [ \"a\" ]; };", "t:1: bridge.tokens: must be a list ( { … }, … )" },
	{ "bridge: { tokens = [ ]; };", "t:1: bridge.tokens: must be a list ( { … }, … )" },
	{ "bridge: { tokens = ( \"a\" ); };",
	    "t:1: bridge.tokens: each entry must be a group { … }" },
	{ "bridge: { tokens = ( ( ) ); };",
	    "t:1: bridge.tokens: each entry must be a group { … }" },
	{ "console: { operators = 5; };", "t:1: console.operators: must be a list ( { … }, … )" },
	{ "sources = { type = \"ami\"; connect = \"x\"; };",
	    "t:1: sources: must be a list ( { … }, … )" },
	{ TOK("client = \"a\"; token = 5;"),
	    "t:1: bridge.tokens: token must be a non-empty string" },
	{ TOK("client = [ \"a\" ]; token = \"b\";"),
	    "t:1: bridge.tokens: client must be a non-empty string" },
	{ OPS("name = \"a\"; uid = \"1\"; role = \"operator\";"),
	    "t:1: console.operators: uid must be a non-negative integer" },
	{ OPS("name = \"a\"; uid = 1.0; role = \"operator\";"),
	    "t:1: console.operators: uid must be a non-negative integer" },
	{ SRC("type = \"ami\"; connect = 5038;"),
	    "t:1: sources: connect must be a non-empty string" },
};

static const struct bad bad_values[] = {
	{ "bridge: { window = 0; };", "t:1: bridge.window: must be an integer 1..65536" },
	{ "bridge: { window = 65537; };", "t:1: bridge.window: must be an integer 1..65536" },
	{ "bridge: { window = -1; };", "t:1: bridge.window: must be an integer 1..65536" },
	/*
	 * Only with its L: libconfig 1.5 cuts a plain literal to 32 bits, so
	 * "window = 4294968320;" reads as 1024 and is accepted (newer
	 * libconfig makes it a 64-bit value, which this check refuses).
	 */
	{ "bridge: { window = 4294968320L; };", "t:1: bridge.window: must be an integer 1..65536" },
	{ "bridge: { max_line = 255; };",
	    "t:1: bridge.max_line: must be an integer 256..16777216" },
	{ "bridge: { max_line = 16777217; };",
	    "t:1: bridge.max_line: must be an integer 256..16777216" },
	{ "bridge: { max_clients = 0; };", "t:1: bridge.max_clients: must be an integer 1..65535" },
	{ "bridge: { max_clients = 65536; };",
	    "t:1: bridge.max_clients: must be an integer 1..65535" },
	{ "bridge: { max_depth = 1; };", "t:1: bridge.max_depth: must be an integer 2..64" },
	{ "bridge: { max_depth = 65; };", "t:1: bridge.max_depth: must be an integer 2..64" },
	{ "spool: { max_mb = 0; };", "t:1: spool.max_mb: must be an integer 1..1048576" },
	{ "triage: { default_priority = 0; };",
	    "t:1: triage.default_priority: must be an integer 1..4" },
	{ "triage: { default_priority = 5; };",
	    "t:1: triage.default_priority: must be an integer 1..4" },
	{ "escalation: { repeat = 0; };", "t:1: escalation.repeat: must be an integer 1..86400" },
	{ "escalation: { repeat = 86401; };",
	    "t:1: escalation.repeat: must be an integer 1..86400" },
	{ "escalation: { warn = 1.5; };", "t:1: escalation.warn: must be a number 0..1" },
	{ "escalation: { warn = -0.1; };", "t:1: escalation.warn: must be a number 0..1" },
	{ "escalation: { warn = 2; };", "t:1: escalation.warn: must be a number 0..1" },
	{ "escalation: { levels = [ ]; };", "t:1: escalation.levels: must have 1..16 entries" },
	{ "escalation: { levels = [ \"\" ]; };",
	    "t:1: escalation.levels: entry 1 must be a non-empty string" },
	{ "log: { level = \"loud\"; };",
	    "t:1: log.level: must be \"debug\", \"info\", \"warning\" or \"error\"" },
	{ "log: { level = \"INFO\"; };",
	    "t:1: log.level: must be \"debug\", \"info\", \"warning\" or \"error\"" },
	{ "log: { level = \"\"; };",
	    "t:1: log.level: must be \"debug\", \"info\", \"warning\" or \"error\"" },
	/* durations: the string forms are covered in full by test_durations */
	{ P1("answer = \"5x\";"), "t:1: escalation.p1.answer: " DUR_MSG },
	{ P1("claim = \"-1\";"), "t:1: escalation.p1.claim: " DUR_MSG },
	{ P1("act = \"12hh\";"), "t:1: escalation.p1.act: " DUR_MSG },
	{ P1("plan = \"\";"), "t:1: escalation.p1.plan: " DUR_MSG },
	{ P1("plan = \"367d\";"), "t:1: escalation.p1.plan: " DUR_MSG },
	{ P1("plan = \"31622401\";"), "t:1: escalation.p1.plan: " DUR_MSG },
	{ P1("plan = \"367wd\";"), "t:1: escalation.p1.plan: " DUR_MSG },
	{ P1("answer = -1;"), "t:1: escalation.p1.answer: must be 0..31622400 seconds" },
	{ P1("answer = 31622401;"), "t:1: escalation.p1.answer: must be 0..31622400 seconds" },
	{ P1("answer = 31622401L;"), "t:1: escalation.p1.answer: must be 0..31622400 seconds" },
	{ "escalation: { p4 = { plan = \"1e3s\"; }; };",
	    "t:1: escalation.p4.plan: " DUR_MSG },
	/* days of the week */
	{ CAL("weekend = [ 1, 2, 3, 4, 5, 6, 7 ];"),
	    "t:1: escalation.calendar.weekend: every day is off: no working day would ever come" },
	{ CAL("weekend = [ 0 ];"),
	    "t:1: escalation.calendar.weekend: days are 1 (Monday) .. 7 (Sunday)" },
	{ CAL("weekend = [ 6, 8 ];"),
	    "t:1: escalation.calendar.weekend: days are 1 (Monday) .. 7 (Sunday)" },
	{ CAL("weekend = [ -1 ];"),
	    "t:1: escalation.calendar.weekend: days are 1 (Monday) .. 7 (Sunday)" },
};

#define BAD_DATE(d) { CAL("holidays = [ \"" d "\" ];"), \
	"t:1: escalation.calendar.holidays: \"" d "\" is not a date YYYY-MM-DD" }

static const struct bad bad_dates[] = {
	BAD_DATE("2026-02-30"),
	BAD_DATE("2025-02-29"),
	BAD_DATE("2100-02-29"),
	BAD_DATE("2026-13-01"),
	BAD_DATE("2026-00-10"),
	BAD_DATE("2026-01-00"),
	BAD_DATE("2026-04-31"),
	BAD_DATE("2026-01-32"),
	BAD_DATE("20260216"),
	BAD_DATE("2026-2-16"),
	BAD_DATE("2026/02/16"),
	BAD_DATE("2026-02-16 "),
	BAD_DATE("1999-12-31"),
	BAD_DATE("2201-01-01"),
	BAD_DATE("2026-+1-01"),
	BAD_DATE("2026- 1-01"),
	BAD_DATE("2026-01-+1"),
	BAD_DATE("+026-01-01"),
	{ CAL("holidays = [ \"2026-01-01\",\n  \"2026-02-16\",\n  \"2026-02-30\" ];"),
	    "t:3: escalation.calendar.holidays: \"2026-02-30\" is not a date YYYY-MM-DD" },
};

static const struct bad bad_groups[] = {
	{ TOK("client = \"a\";"), "t:1: bridge.tokens: token is required" },
	{ TOK("token = \"a\";"), "t:1: bridge.tokens: client is required" },
	{ TOK(""), "t:1: bridge.tokens: client is required" },
	{ TOK("client = \"a\"; token = \"b\"; x = 1;"), "t:1: bridge.tokens: unknown setting 'x'" },
	{ TOK("client = \"a\"; token = \"\";"),
	    "t:1: bridge.tokens: token must be a non-empty string" },
	{ "bridge: { tokens = ( { client = \"a\"; token = \"b\"; },\n"
	  "  { client = \"c\"; } ); };", "t:2: bridge.tokens: token is required" },
	{ OPS("name = \"a\"; uid = 1; role = \"root\";"),
	    "t:1: console.operators: role must be \"operator\", \"supervisor\" or \"admin\"" },
	{ OPS("name = \"a\"; uid = 1; role = \"Operator\";"),
	    "t:1: console.operators: role must be \"operator\", \"supervisor\" or \"admin\"" },
	{ OPS("name = \"a\"; uid = -1; role = \"operator\";"),
	    "t:1: console.operators: uid must be a non-negative integer" },
	{ OPS("name = \"a\"; uid = 1; role = \"operator\"; token = \"x\";"),
	    "t:1: console.operators: unknown setting 'token'" },
	{ OPS("name = \"a\"; uid = 1;"), "t:1: console.operators: role is required" },
	{ OPS("name = \"\"; uid = 1; role = \"admin\";"),
	    "t:1: console.operators: name must be a non-empty string" },
	{ SRC("type = \"sip\"; connect = \"tcp:127.0.0.1:5060\";"),
	    "t:1: sources: type must be \"ami\", \"esl\" or \"evapi\"" },
	{ SRC("type = \"ami\";"), "t:1: sources: connect is required" },
	{ SRC("connect = \"tcp:127.0.0.1:5038\";"), "t:1: sources: type is required" },
	{ SRC("type = \"esl\"; connect = \"x\"; password = \"\";"),
	    "t:1: sources: password must be a non-empty string" },
	{ SRC("type = \"esl\"; connect = \"x\"; port = 8021;"),
	    "t:1: sources: unknown setting 'port'" },
};

#define NOTE(body) "escalation: { notify = ( { " body " } ); };"
#define HOOK "name = \"h\"; level = 1; url = \"http://127.0.0.1:8080/x\"; "
#define CMD "name = \"c\"; level = 1; command = [ \"/bin/true\" ]; "

/* escalation.notify: wrong types, missing and contradictory members,
 * hostile URLs and tokens, levels that could never fire. */
static const struct bad bad_notify[] = {
	{ NOTE(""), "t:1: escalation.notify: name and level are required" },
	{ NOTE("level = 1; url = \"http://a/\";"),
	    "t:1: escalation.notify: name and level are required" },
	{ NOTE("name = \"h\"; url = \"http://a/\";"),
	    "t:1: escalation.notify: name and level are required" },
	{ NOTE("name = \"h\"; level = 1;"),
	    "t:1: escalation.notify: h: exactly one of url and command" },
	{ NOTE(HOOK "command = [ \"/bin/true\" ];"),
	    "t:1: escalation.notify: h: exactly one of url and command" },
	{ NOTE(HOOK "method = \"GET\";"), "t:1: escalation.notify: unknown setting 'method'" },
	{ NOTE(HOOK "timeout = 0;"), "t:1: escalation.notify: timeout must be an integer 1..300" },
	{ NOTE(HOOK "timeout = 301;"),
	    "t:1: escalation.notify: timeout must be an integer 1..300" },
	{ NOTE(HOOK "timeout = \"10\";"),
	    "t:1: escalation.notify: timeout must be an integer 1..300" },
	{ NOTE("name = \"h\"; level = \"1\"; url = \"http://a/\";"),
	    "t:1: escalation.notify: level must be an integer 0..16" },
	{ NOTE("name = \"h\"; level = -1; url = \"http://a/\";"),
	    "t:1: escalation.notify: level must be an integer 0..16" },
	{ NOTE("name = \"h\"; level = 4; url = \"http://a/\";"),
	    "t:1: escalation.notify: h: level 4, but escalation.levels has 3" },
	{ NOTE("name = 7; level = 1; url = \"http://a/\";"),
	    "t:1: escalation.notify: name must be a non-empty string" },
	{ NOTE("name = \"a b\"; level = 1; url = \"http://a/\";"),
	    "t:1: escalation.notify: name \"a b\": letters, digits, . _ - only (at most 64)" },
	{ NOTE("name = \"\"; level = 1; url = \"http://a/\";"),
	    "t:1: escalation.notify: name must be a non-empty string" },
	{ NOTE("name = \"h\"; level = 1; url = \"https://a/\";"),
	    "t:1: escalation.notify: url https://a/: https is not supported yet; send to a TLS "
	    "proxy on the loopback" },
	{ NOTE("name = \"h\"; level = 1; url = \"ftp://a/\";"),
	    "t:1: escalation.notify: url must be \"http://HOST[:PORT]/PATH\"" },
	{ NOTE("name = \"h\"; level = 1; url = \"http://u:pw@a/\";"),
	    "t:1: escalation.notify: url http://u:pw@a/ holds credentials (use token_file)" },
	{ NOTE("name = \"h\"; level = 1; url = \"http:///x\";"),
	    "t:1: escalation.notify: url http:///x has no host" },
	{ NOTE("name = \"h\"; level = 1; url = \"http://a:0/\";"),
	    "t:1: escalation.notify: url http://a:0/ has a bad port" },
	{ NOTE("name = \"h\"; level = 1; url = \"http://a:99999/\";"),
	    "t:1: escalation.notify: url http://a:99999/ does not parse" },
	{ NOTE("name = \"h\"; level = 1; url = \"http://a/\r\nX: y\";"),
	    "t:1: escalation.notify: url http://a/\r\nX: y does not parse" },
	{ NOTE("name = \"h\"; level = 1; url = [ \"http://a/\" ];"),
	    "t:1: escalation.notify: url must be a non-empty string" },
	{ NOTE(HOOK "token_file = \"/a\"; token_env = \"B\";"),
	    "t:1: escalation.notify: h: token_file or token_env, not both" },
	{ NOTE(CMD "token_env = \"HOME\";"),
	    "t:1: escalation.notify: c: token_file and token_env are for a url" },
	{ NOTE(HOOK "token_file = \"/nonexistent/token\";"),
	    "t:1: escalation.notify: token_file /nonexistent/token: No such file or directory" },
	{ NOTE(HOOK "token_file = \"/tmp\";"),
	    "t:1: escalation.notify: token_file /tmp: not a regular file" },
	{ NOTE(HOOK "token_env = \"H111_UNSET_FOR_TEST\";"),
	    "t:1: escalation.notify: token_env H111_UNSET_FOR_TEST is not set in the daemon's "
	    "environment" },
	{ NOTE(HOOK "token_env = \"A-B\";"),
	    "t:1: escalation.notify: token_env \"A-B\" is not a variable name" },
	{ NOTE(HOOK "token_env = \"H111_TOKEN_CRLF\";"),
	    "t:1: escalation.notify: token_env H111_TOKEN_CRLF must hold one token of printable "
	    "characters (at most 4096 bytes)" },
	{ NOTE(HOOK "token_env = \"H111_TOKEN_HUGE\";"),
	    "t:1: escalation.notify: token_env H111_TOKEN_HUGE must hold one token of printable "
	    "characters (at most 4096 bytes)" },
	{ NOTE(HOOK "token_env = \"H111_TOKEN_SPACE\";"),
	    "t:1: escalation.notify: token_env H111_TOKEN_SPACE must hold one token of printable "
	    "characters (at most 4096 bytes)" },
	{ NOTE("name = \"c\"; level = 1; command = \"/bin/true\";"),
	    "t:1: escalation.notify: command must be an array of 1..64 strings [ \"/PATH\", "
	    "\"ARG\", … ]" },
	{ NOTE("name = \"c\"; level = 1; command = [ ];"),
	    "t:1: escalation.notify: command must be an array of 1..64 strings [ \"/PATH\", "
	    "\"ARG\", … ]" },
	{ NOTE("name = \"c\"; level = 1; command = [ \"true\" ];"),
	    "t:1: escalation.notify: command: the program must be an absolute path (no shell, no "
	    "PATH search)" },
	{ NOTE("name = \"c\"; level = 1; command = ( \"/bin/echo\", 1 );"),
	    "t:1: escalation.notify: command: each argument must be a string" },
	{ "escalation: { notify = ( { " HOOK " },\n  { " HOOK " } ); };",
	    "t:2: escalation.notify: name \"h\" is used twice" },
	{ "escalation: { notify = { " HOOK " }; };",
	    "t:1: escalation.notify: must be a list ( { … }, … )" },
	{ "escalation: { notify = ( \"http://a/\" ); };",
	    "t:1: escalation.notify: each entry must be a group { … }" },
	{ "escalation: { levels = [ \"one\" ];\n notify = ( {\n" CMD "}, { name = \"d\";\n"
	  " level = 2; command = [ \"/bin/true\" ]; } ); };",
	    "t:3: escalation.notify: d: level 2, but escalation.levels has 1" },
	{ "escalation: { notify_retry = 0; };",
	    "t:1: escalation.notify_retry: must be an integer 1..3600" },
	{ "escalation: { notify_give_up = \"1h\"; };",
	    "t:1: escalation.notify_give_up: must be an integer 1..604800" },
	{ "escalation: { notify_retry_max = 86401; };",
	    "t:1: escalation.notify_retry_max: must be an integer 1..86400" },
};

static int
refused_table(const char *name, const struct bad *t, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		char label[64];
		snprintf(label, sizeof(label), "%s[%zu]", name, i);
		failed += !refused_as(label, t[i].text, t[i].err);
	}
	return failed;
}

#define REFUSED(t) refused_table(#t, t, nitems(t))

/* What start would refuse, refused at load with the setting's line: a
 * connection string libpq cannot parse, listen addresses that cannot be
 * listened on (issue 15, --check-config). */
static const struct bad bad_addresses[] = {
	{ "database: { conninfo = \"hots=/tmp dbname=h\"; };",
	    "t:1: database.conninfo: invalid connection option \"hots\"" },
	{ "database:\n{\n  conninfo = \"host=/tmp dbname\";\n};\n",
	    "t:3: database.conninfo: missing \"=\" after \"dbname\" in connection info string" },
	{ "database: { conninfo = \"host='/tmp\"; };",
	    "t:1: database.conninfo: unterminated quoted string in connection info string" },
	{ "database: { conninfo = \"postgresql://h/db?hots=x\"; };",
	    "t:1: database.conninfo: invalid URI query parameter: \"hots\"" },
	{ "metrics: { listen = \"localhost:9111\"; };",
	    "t:1: metrics.listen: \"localhost:9111\" is not \"\" nor a \"HOST:PORT\" address "
	    "(numeric host, [V6] in brackets)" },
	{ "metrics: { listen = \"127.0.0.1\"; };",
	    "t:1: metrics.listen: \"127.0.0.1\" is not \"\" nor a \"HOST:PORT\" address "
	    "(numeric host, [V6] in brackets)" },
	{ "metrics: { listen = \"unix:/x\"; };",
	    "t:1: metrics.listen: \"unix:/x\" is not \"\" nor a \"HOST:PORT\" address "
	    "(numeric host, [V6] in brackets)" },
	{ "metrics:\n{\n\n  listen = \"127.0.0.1:0\";\n};\n",
	    "t:4: metrics.listen: \"127.0.0.1:0\" is not \"\" nor a \"HOST:PORT\" address "
	    "(numeric host, [V6] in brackets)" },
	{ "bridge: { listen = [ \"unix:/a\", \"tcp:127.0.0.1:99999\" ]; };",
	    "t:1: bridge.listen: entry 2: tcp:127.0.0.1:99999: port 99999: must be a number "
	    "1..65535" },
	{ "bridge: { listen = [ \"tcp:127.0.0.1:+80\" ]; };",
	    "t:1: bridge.listen: entry 1: tcp:127.0.0.1:+80: port +80: must be a number 1..65535" },
	{ "bridge: { listen = [ \"udp:1.2.3.4:5\" ]; };",
	    "t:1: bridge.listen: entry 1: udp:1.2.3.4:5: expected unix:PATH or tcp:HOST:PORT" },
	{ "bridge: { listen = [ \"tcp:[::1:7111\" ]; };",
	    "t:1: bridge.listen: entry 1: tcp:[::1:7111: expected tcp:HOST:PORT or tcp:[V6]:PORT" },
	{ "console: { listen = [ \"tcp:example.org:7111\" ]; };",
	    "t:1: console.listen: entry 1: tcp:example.org:7111: Name or service not known "
	    "(numeric address and port expected)" },
	{ "cti: { listen = \"127.0.0.1:80\"; token = \"t\"; };",
	    "t:1: cti.listen: \"127.0.0.1:80\" is not a \"tcp:HOST:PORT\" address" },
};

static void
test_refused(void **state)
{
	int failed = REFUSED(bad_syntax) + REFUSED(bad_include) + REFUSED(bad_names) +
	    REFUSED(bad_types) + REFUSED(bad_values) + REFUSED(bad_dates) + REFUSED(bad_groups) +
	    REFUSED(bad_addresses);
	char *huge = repeat("x", 4097, "");

	setenv("H111_TOKEN_CRLF", "abc\r\nX-Injected: 1", 1);
	setenv("H111_TOKEN_HUGE", huge, 1);
	setenv("H111_TOKEN_SPACE", "two words", 1);
	free(huge);
	unsetenv("H111_UNSET_FOR_TEST");
	failed += REFUSED(bad_notify);
	assert_int_equal(failed, 0);
}

/* What the sender gets: each channel's members, the token read from a
 * file others cannot read (its newline dropped) or from the environment. */
static void
test_notify_channels(void **state)
{
	char path[64], *text;
	struct config *c;
	const struct notify_channel *v;

	write_temp(path, sizeof(path), "tok-en.1\n", 9);
	chmod(path, 0640);
	setenv("H111_TOKEN_FOR_TEST", "from-env", 1);
	xasprintf(&text, "escalation: { levels = [ \"a\", \"b\" ]; notify = (\n"
	    "{ name = \"hook\"; level = 1; url = \"http://127.0.0.1:9/p?q=1\"; token_file = "
	    "\"%s\"; },\n"
	    "{ name = \"env\"; level = 2; url = \"http://[::1]/\"; token_env = "
	    "\"H111_TOKEN_FOR_TEST\"; timeout = 300; },\n"
	    "{ name = \"sms.duty-2\"; level = 0; command = [ \"/usr/bin/sms\", \"--to\", "
	    "\"duty\" ]; } );\n"
	    "notify_retry = 2; notify_retry_max = 60; notify_give_up = 600; };", path);
	c = load_ok(text);
	assert_int_equal(c->notify.n, 3);
	v = c->notify.v;
	assert_string_equal(v[0].name, "hook");
	assert_int_equal(v[0].level, 1);
	assert_string_equal(v[0].url, "http://127.0.0.1:9/p?q=1");
	assert_string_equal(v[0].token, "tok-en.1");
	assert_null(v[0].argv);
	assert_int_equal(v[0].timeout, 10);
	assert_int_equal(v[0].line, 2);
	assert_string_equal(v[1].token, "from-env");
	assert_int_equal(v[1].timeout, 300);
	assert_null(v[2].url);
	assert_null(v[2].token);
	assert_int_equal(v[2].level, 0);
	assert_string_equal(v[2].argv[0], "/usr/bin/sms");
	assert_string_equal(v[2].argv[2], "duty");
	assert_null(v[2].argv[3]);
	assert_int_equal(c->notify_retry, 2);
	assert_int_equal(c->notify_retry_max, 60);
	assert_int_equal(c->notify_give_up, 600);
	config_free(c);
	free(text);

	/* a token file every user can read is refused, as is an empty one */
	chmod(path, 0644);
	xasprintf(&text, NOTE(HOOK "token_file = \"%s\";"), path);
	assert_null(config_load_string("t", text, (char[256]){ 0 }, 256));
	chmod(path, 0600);
	truncate(path, 0);
	assert_null(config_load_string("t", text, (char[256]){ 0 }, 256));
	free(text);
	unlink(path);
}

/* Addresses and connection strings start takes, and the lines keys came from. */
static void
test_addresses_accepted(void **state)
{
	static const char *const good[] = {
		"database: { conninfo = \"hotline111\"; };",
		"database: { conninfo = \"host=/tmp/pg dbname=h target_session_attrs=read-write\"; };",
		"database: { conninfo = \"postgresql://u@h1:5432,h2:5433/db?connect_timeout=3\"; };",
		"metrics: { listen = \"127.0.0.1:9111\"; };",
		"metrics: { listen = \"tcp:[::1]:9111\"; };",
		"metrics: { listen = \"[::]:65535\"; };",
		"metrics: { listen = \"\"; };",
		"bridge: { listen = [ \"tcp:0.0.0.0:1\", \"unix:/run/x.sock\" ]; };",
	};
	struct config *c;

	for (size_t i = 0; i < nitems(good); i++)
		config_free(load_ok(good[i]));
	c = load_ok("log: { level = \"info\"; };\n\nmetrics:\n{\n  listen = \"127.0.0.1:1\";\n};\n");
	assert_int_equal(config_key_line(c, "metrics.listen"), 5);
	assert_int_equal(config_key_line(c, "log.level"), 1);
	assert_int_equal(config_key_line(c, "bridge.window"), 0);
	assert_int_equal(config_key_line(c, "no.such.key"), 0);
	config_free(c);
}

/* Texts too long to write out: head, then item n times joined by sep, then tail. */
struct gen {
	const char *head, *item;
	int n;
	const char *sep, *tail;
	const char *err; /* NULL: accepted */
};

static const struct gen generated[] = {
	{ "database: { conninfo = \"dbname=", "a", 4089, "", "\"; };", NULL },
	{ "database: { conninfo = \"", "a", 4097, "", "\"; };",
	    "t:1: database.conninfo: longer than 4096 bytes" },
	{ "metrics: { listen = \"", "a", 257, "", "\"; };",
	    "t:1: metrics.listen: longer than 256 bytes" },
	{ "cti: { token = \"", "a", 257, "", "\"; };", "t:1: cti.token: longer than 256 bytes" },
	{ "bridge: { listen = [ \"unix:/", "a", 100, "", "\" ]; };", NULL },
	{ "bridge: { listen = [ \"unix:/", "a", 108, "", "\" ]; };",
	    "t:1: bridge.listen: entry 1: unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…: "
	    "unix socket path empty or longer than 107 bytes" },
	{ "bridge: { listen = [ \"", "a", 4097, "", "\" ]; };",
	    "t:1: bridge.listen: entry 1 must be a non-empty string" },
	{ "bridge: { tokens = ( { client = \"c\"; token = \"", "a", 4097, "", "\"; } ); };",
	    "t:1: bridge.tokens: token must be a non-empty string" },
	{ "bridge: { listen = [ ", "\"unix:/x\"", 16, ", ", " ]; };", NULL },
	{ "bridge: { listen = [ ", "\"unix:/x\"", 17, ", ", " ]; };",
	    "t:1: bridge.listen: must have 0..16 entries" },
	{ "console: { listen = [ ", "\"unix:/x\"", 17, ", ", " ]; };",
	    "t:1: console.listen: must have 0..16 entries" },
	{ "escalation: { levels = [ ", "\"x\"", 16, ", ", " ]; };", NULL },
	{ "escalation: { levels = [ ", "\"x\"", 17, ", ", " ]; };",
	    "t:1: escalation.levels: must have 1..16 entries" },
	{ "bridge: { tokens = ( ", "{ client = \"c\"; token = \"t\"; }", 1024, ", ", " ); };",
	    NULL },
	{ "bridge: { tokens = ( ", "{ client = \"c\"; token = \"t\"; }", 1025, ", ", " ); };",
	    "t:1: bridge.tokens: must have 0..1024 entries" },
	{ "sources = ( ", "{ type = \"evapi\"; connect = \"x\"; }", 65, ", ", " );",
	    "t:1: sources: must have 0..64 entries" },
	{ "escalation: { calendar = { holidays = [ ", "\"2026-01-01\"", 1001, ", ", " ]; }; };",
	    "t:1: escalation.calendar.holidays: must have 0..1000 entries" },
	{ "log: { };", "\n", 99, "", "bridge: { windw = 1; };",
	    "t:100: unknown setting 'bridge.windw'" },
};

static void
test_generated(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < nitems(generated); i++) {
		const struct gen *g = &generated[i];
		char *items = repeat(g->item, g->n, g->sep), *text, label[32], err[512];
		struct config *c;

		xasprintf(&text, "%s%s%s", g->head, items, g->tail);
		snprintf(label, sizeof(label), "generated[%zu]", i);
		if (g->err != NULL)
			failed += !refused_as(label, text, g->err);
		else if ((c = config_load_string("t", text, err, sizeof(err))) != NULL)
			config_free(c);
		else {
			print_error("%s refused: %s\n", label, err);
			failed++;
		}
		free(items);
		free(text);
	}
	assert_int_equal(failed, 0);
}

/* --- files -------------------------------------------------------------- */

static void
test_file_errors(void **state)
{
	static const char nested[] = "bridge:\n{\n  windw = 5;\n};\n";
	char path[64], err[256], want[128];
	char *big = xmalloc(5 * 1024 * 1024);

	assert_null(config_load("/nonexistent/h.conf", NULL, 0, err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/h.conf: No such file or directory");

	memset(big, '\n', 5 * 1024 * 1024);
	write_temp(path, sizeof(path), big, 5 * 1024 * 1024);
	assert_null(config_load(path, NULL, 0, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: larger than %d bytes", path, MAX_BYTES);
	assert_string_equal(err, want);
	unlink(path);

	big[MAX_BYTES + 1] = '\0';
	assert_null(config_load_string("t", big, err, sizeof(err)));
	assert_string_equal(err, "t: larger than 4194304 bytes");
	free(big);

	write_temp(path, sizeof(path), nested, strlen(nested));
	assert_null(config_load(path, NULL, 0, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:3: unknown setting 'bridge.windw'", path);
	assert_string_equal(err, want);
	unlink(path);
}

/* What libconfig would have read past: includes, NULs, a directory. */
static void
test_file_unreadable(void **state)
{
	static const char include[] = "bridge: { window = 8; };\n@include \"/tmp\"\n";
	static const char nul[] = "bridge: { window = 8; };\0junk";
	char path[64], err[256], want[128];

	write_temp(path, sizeof(path), include, sizeof(include) - 1);
	assert_null(config_load(path, NULL, 0, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: @include is not supported", path);
	assert_string_equal(err, want);
	unlink(path);

	write_temp(path, sizeof(path), nul, sizeof(nul) - 1);
	assert_null(config_load(path, NULL, 0, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: NUL byte in file", path);
	assert_string_equal(err, want);
	unlink(path);

	assert_null(config_load("/tmp", NULL, 0, err, sizeof(err)));
	assert_string_equal(err, "/tmp: Is a directory");
}

/* Exactly the limit is still read: the boundary is "larger than". */
static void
test_file_at_limit(void **state)
{
	char path[64];
	char *text = xmalloc(MAX_BYTES);
	struct config *c;

	memset(text, '\n', MAX_BYTES);
	memcpy(text, "bridge: { window = 7; };", 24);
	write_temp(path, sizeof(path), text, MAX_BYTES);
	c = load_file_ok(path, NULL, 0);
	assert_int_equal(c->bridge_window, 7);
	assert_string_equal(c->file, path);
	config_free(c);
	unlink(path);
	free(text);
}

/* --- durations ---------------------------------------------------------- */

static const struct {
	const char *s;
	int ok;
	int64_t seconds;
	int working_days;
} durations[] = {
	{ "0", 1, 0, 0 },
	{ "0s", 1, 0, 0 },
	{ "0m", 1, 0, 0 },
	{ "0wd", 1, 0, 0 },
	{ "1", 1, 1, 0 },
	{ "30s", 1, 30, 0 },
	{ "5m", 1, 300, 0 },
	{ "12h", 1, 12 * HOUR, 0 },
	{ "2d", 1, 2 * DAY, 0 },
	{ "5wd", 1, 0, 5 },
	{ "007s", 1, 7, 0 },
	{ "31622400", 1, 366 * DAY, 0 },
	{ "31622400s", 1, 366 * DAY, 0 },
	{ "527040m", 1, 366 * DAY, 0 },
	{ "8784h", 1, 366 * DAY, 0 },
	{ "366d", 1, 366 * DAY, 0 },
	{ "366wd", 1, 0, 366 },
	{ "31622401", 0, 0, 0 },
	{ "527041m", 0, 0, 0 },
	{ "8785h", 0, 0, 0 },
	{ "367d", 0, 0, 0 },
	{ "367wd", 0, 0, 0 },
	{ "99999999999999999999", 0, 0, 0 },
	{ "99999999999999999999d", 0, 0, 0 },
	{ "", 0, 0, 0 },
	{ "-1", 0, 0, 0 },
	{ "+1", 0, 0, 0 },
	{ " 1", 0, 0, 0 },
	{ "1 ", 0, 0, 0 },
	{ "1 s", 0, 0, 0 },
	{ "5x", 0, 0, 0 },
	{ "12hh", 0, 0, 0 },
	{ "5S", 0, 0, 0 },
	{ "5w", 0, 0, 0 },
	{ "5dw", 0, 0, 0 },
	{ "1.5h", 0, 0, 0 },
	{ "1e3", 0, 0, 0 },
	{ "0x10", 0, 0, 0 },
	{ "s", 0, 0, 0 },
	{ "wd", 0, 0, 0 },
};

static void
test_durations(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < nitems(durations); i++) {
		struct duration d = { -1, -1 };
		int rc = config_parse_duration(durations[i].s, &d);
		if (durations[i].ok ? rc == 0 && d.seconds == durations[i].seconds &&
		    d.working_days == durations[i].working_days : rc != 0)
			continue;
		print_error("duration \"%s\": rc %d, %lld s %d wd\n", durations[i].s, rc,
		    (long long)d.seconds, d.working_days);
		failed++;
	}
	assert_int_equal(failed, 0);
}

/* --- -s PATH=VALUE ------------------------------------------------------ */

static void
test_override_values(void **state)
{
	static const char *const listen[] = { "tcp:127.0.0.1:7111", "unix:/tmp/b.sock" };
	char *const ov[] = {
		"bridge.window=64",
		"database.conninfo=\"host=/tmp/pg dbname=h\"",
		"bridge.listen=[\"tcp:127.0.0.1:7111\", \"unix:/tmp/b.sock\"]",
		"bridge.tokens=({ client = \"a\"; token = \"b\"; },"
		" { client = \"c\"; token = \"d\"; })",
		"escalation.p1.plan = \"2wd\"",
		"escalation.warn=0.5",
	};
	struct config *c = load_file_ok(SHIPPED, ov, (int)nitems(ov));

	assert_int_equal(c->bridge_window, 64);
	assert_string_equal(c->db_conninfo, "host=/tmp/pg dbname=h");
	assert_strlist(&c->bridge_listen, listen, 2);
	assert_int_equal(c->tokens.n, 2);
	assert_string_equal(c->tokens.v[0].client, "a");
	assert_string_equal(c->tokens.v[1].token, "d");
	assert_duration(c->deadline[0][DL_PLAN], 0, 2);
	assert_true(c->esc_warn == 0.5);
	/* the rest of the file and of each touched group stays */
	assert_int_equal(c->bridge_max_line, 65536);
	assert_duration(c->deadline[0][DL_ANSWER], 20, 0);
	assert_int_equal(c->holidays.n, 2);
	config_free(c);
}

/* Overrides apply in order, the last wins, and validation follows them all. */
static void
test_override_order(void **state)
{
	char path[64];
	static const char file[] = "bridge: { window = 8; max_line = 512; };\n";
	char *const ov[] = { "bridge.window=0", "bridge.window=2", "bridge.window=3" };
	struct config *c;

	write_temp(path, sizeof(path), file, sizeof(file) - 1);
	c = load_file_ok(path, ov, (int)nitems(ov));
	assert_int_equal(c->bridge_window, 3);
	assert_int_equal(c->bridge_max_line, 512);
	config_free(c);
	c = load_file_ok(path, NULL, 0);
	assert_int_equal(c->bridge_window, 8);
	config_free(c);
	unlink(path);
}

/* A group the file lacks, even two levels deep, is made on the way. */
static void
test_override_creates_groups(void **state)
{
	static const char *const console[] = { "unix:/tmp/c.sock" };
	static const char file[] = "log: { level = \"debug\"; };\n";
	char *const ov[] = {
		"console.listen=[\"unix:/tmp/c.sock\"]",
		"escalation.calendar.weekend=[5]",
		"sources=({ type = \"esl\"; connect = \"tcp:127.0.0.1:8021\"; password = \"p\"; })",
	};
	char path[64];
	struct config *c;

	write_temp(path, sizeof(path), file, sizeof(file) - 1);
	c = load_file_ok(path, ov, (int)nitems(ov));
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_strlist(&c->console_listen, console, 1);
	assert_int_equal(c->weekend_mask, 1 << 5);
	assert_int_equal(c->holidays.n, 0);
	assert_duration(c->deadline[3][DL_CLAIM], 4 * HOUR, 0);
	assert_int_equal(c->sources.n, 1);
	assert_string_equal(c->sources.v[0].password, "p");
	assert_null(c->sources.v[0].username);
	config_free(c);
	unlink(path);

	c = load_file_ok(NULL, ov, 1);
	assert_strlist(&c->console_listen, console, 1);
	config_free(c);
}

static const struct {
	const char *ov[3];
	const char *err;
} bad_overrides[] = {
	{ { "bridge.windw=5" }, "(defaults): -s bridge.windw=5: unknown setting 'bridge.windw'" },
	{ { "bridge.window" }, "(defaults): -s bridge.window: expected PATH=VALUE" },
	{ { "=5" }, "(defaults): -s =5: expected PATH=VALUE" },
	{ { "" }, "(defaults): -s : expected PATH=VALUE" },
	{ { "bridge.window=[1," }, "(defaults): -s bridge.window=[1,: syntax error" },
	{ { "bridge.window=" }, "(defaults): -s bridge.window=: syntax error" },
	{ { "bridge.window=# 5" }, "(defaults): -s bridge.window=# 5: syntax error" },
	{ { "bridge.window=1;\n@include \".\"" },
	    "(defaults): -s bridge.window=1;\n@include \".\": @include is not supported" },
	{ { "escalation.p1=1" },
	    "(defaults): escalation.p1: must be a group { … }" },
	{ { "escalation.p9={ answer = 1; }" },
	    "(defaults): -s escalation.p9={ answer = 1; }: unknown setting 'escalation.p9'" },
	{ { "bridge=1" }, "(defaults): bridge: must be a group { … }" },
	{ { "bridge.window=\"x\"" }, "(defaults): bridge.window: must be an integer 1..65536" },
	{ { "database.conninfo=5" }, "(defaults): database.conninfo: must be a string 0..4096" },
	{ { "bridge.tokens=({ client = \"a\"; })" },
	    "(defaults): bridge.tokens: token is required" },
	{ { "bridge.tokens={ client = \"a\"; token = \"b\"; }" },
	    "(defaults): bridge.tokens: must be a list ( { … }, … )" },
	{ { "bridge.window=5", "bridge.windw=5" },
	    "(defaults): -s bridge.windw=5: unknown setting 'bridge.windw'" },
	{ { "bridge.window=5", "bridge.max_line=1" },
	    "(defaults): bridge.max_line: must be an integer 256..16777216" },
	{ { "bridge.window=5", "bridge.window=0" },
	    "(defaults): bridge.window: must be an integer 1..65536" },
};

static void
test_override_errors(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < nitems(bad_overrides); i++) {
		char err[512] = "";
		int n = 0;
		struct config *c;

		while (n < 3 && bad_overrides[i].ov[n] != NULL)
			n++;
		c = config_load(NULL, (char *const *)bad_overrides[i].ov, n, err, sizeof(err));
		if (c == NULL && strcmp(err, bad_overrides[i].err) == 0)
			continue;
		print_error("bad_overrides[%zu] %s\n  want: %s\n  got:  %s\n", i,
		    bad_overrides[i].ov[0], bad_overrides[i].err, c ? "(accepted)" : err);
		config_free(c);
		failed++;
	}
	assert_int_equal(failed, 0);
}

/* Errors about a file carry its name, and the -s argument that failed. */
static void
test_override_errors_with_file(void **state)
{
	static const char file[] = "bridge = 5;\n";
	char *const through_scalar[] = { "bridge.window=1" };
	char *const wrong_type[] = { "bridge.window=\"x\"" };
	char path[64], err[512], want[256];

	write_temp(path, sizeof(path), file, sizeof(file) - 1);
	assert_null(config_load(path, through_scalar, 1, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: -s bridge.window=1: ", path);
	assert_memory_equal(err, want, strlen(want));
	unlink(path);

	assert_null(config_load(SHIPPED, wrong_type, 1, err, sizeof(err)));
	assert_string_equal(err, SHIPPED ": bridge.window: must be an integer 1..65536");
}

/* --- reload: keys only a restart applies ------------------------------- */

static const struct {
	const char *a[4], *b[16];
	int want;
} restart_cases[] = {
	{ { NULL }, { NULL }, 0 },
	{ { NULL }, { "bridge.max_clients=100", "database.conninfo=\"host=/tmp/pg\"" }, 2 },
	{ { NULL }, { "bridge.window=64" }, 0 },
	{ { NULL }, { "bridge.listen=[\"unix:/tmp/b.sock\"]" }, 1 },
	{ { NULL },
	    { "bridge.listen=[\"unix:/run/hotline111/bridge.sock\", \"tcp:[::1]:7111\"]" }, 1 },
	{ { NULL }, { "spool.max_mb=1", "spool.dir=\"/tmp\"" }, 2 },
	{ { NULL },
	    { "console.listen=[]", "metrics.listen=\"\"",
		"cti.listen=\"tcp:127.0.0.1:1\"", "cti.token=\"t\"",
		"sources=({ type = \"evapi\"; connect = \"x\"; })" },
	    5 },
	/* every reloadable kind changed: nothing to warn about */
	{ { NULL },
	    { "log.level=\"debug\"", "bridge.max_line=256", "bridge.max_depth=2",
		"bridge.tokens=({ client = \"a\"; token = \"b\"; })",
		"console.operators=({ name = \"a\"; uid = 1; role = \"admin\"; })",
		"triage.rules=\"/tmp/r\"", "triage.default_priority=1",
		"escalation.p2.act=\"1h\"", "escalation.warn=0.5", "escalation.levels=[\"x\"]",
		"escalation.calendar.weekend=[1]",
		"escalation.calendar.holidays=[\"2026-01-01\"]",
		"escalation.calendar.timezone=\"UTC\"", "log.escalation_log=\"/tmp/e\"" },
	    0 },
	/* list entries compared member by member, an absent member included */
	{ { "sources=({ type = \"ami\"; connect = \"a\"; })" },
	    { "sources=({ type = \"ami\"; connect = \"a\"; secret = \"s\"; })" }, 1 },
	{ { "sources=({ type = \"ami\"; connect = \"a\"; secret = \"s\"; })" },
	    { "sources=({ type = \"ami\"; connect = \"a\"; secret = \"t\"; })" }, 1 },
	{ { "sources=({ type = \"ami\"; connect = \"a\"; secret = \"s\"; })" },
	    { "sources=({ secret = \"s\"; connect = \"a\"; type = \"ami\"; })" }, 0 },
	{ { "database.conninfo=\"x\"", "bridge.max_clients=9" },
	    { "database.conninfo=\"x\"", "bridge.max_clients=9" }, 0 },
};

static int
count_of(const char *const *v, int max)
{
	int n = 0;

	while (n < max && v[n] != NULL)
		n++;
	return n;
}

static void
test_restart_keys(void **state)
{
	int failed = 0;

	log_set_level(LOG_LVL_ERROR); /* the warnings themselves are not under test */
	for (size_t i = 0; i < nitems(restart_cases); i++) {
		struct config *a = load_file_ok(NULL, (char *const *)restart_cases[i].a,
		    count_of(restart_cases[i].a, 4));
		struct config *b = load_file_ok(NULL, (char *const *)restart_cases[i].b,
		    count_of(restart_cases[i].b, 12));
		int ab = config_warn_restart_keys(a, b), ba = config_warn_restart_keys(b, a);
		if (ab != restart_cases[i].want || ba != restart_cases[i].want) {
			print_error("restart_cases[%zu]: %d and %d, want %d\n", i, ab, ba,
			    restart_cases[i].want);
			failed++;
		}
		config_free(a);
		config_free(b);
	}
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(failed, 0);
}

/* --- the key table against its documentation --------------------------- */

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL) {
		print_error("%s: cannot open\n", path);
		fail();
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * The man page gives each key an entry of its own: its full name set in
 * bold as the tag of a .TP (or a .TQ that shares the entry). A name merely
 * mentioned in running text does not count.
 */
static int
in_manpage(const char *man, const char *key)
{
	char *tp, *tq;
	int found;

	xasprintf(&tp, "\n.TP\n.B %s\n", key);
	xasprintf(&tq, "\n.TQ\n.B %s\n", key);
	found = strstr(man, tp) != NULL || strstr(man, tq) != NULL;
	free(tp);
	free(tq);
	return found;
}

/*
 * The shipped file is checked as libconfig reads it: each key must be set
 * there, in its own group, so a commented-out line or a name in a comment
 * does not count.
 */
static void
test_keys_documented(void **state)
{
	char *man = slurp(MANPAGE);
	int missing = 0;
	config_t shipped;

	config_init(&shipped);
	assert_true(config_read_file(&shipped, SHIPPED) == CONFIG_TRUE);
	assert_true(config_key_count() >= 40);
	assert_null(config_key_name(config_key_count()));
	assert_null(config_key_name(-1));
	for (int i = 0; i < config_key_count(); i++) {
		const char *key = config_key_name(i), *help = config_key_help(i);
		int in_conf = config_lookup(&shipped, key) != NULL;
		assert_non_null(help);
		assert_true(help[0] != '\0');
		if (!in_manpage(man, key)) {
			print_error("%s: no entry in man/hotline111d.conf.5\n", key);
			missing++;
		}
		if (!in_conf) {
			print_error("%s: not set in conf/hotline111d.conf\n", key);
			missing++;
		}
	}
	config_destroy(&shipped);
	free(man);
	assert_int_equal(missing, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_shipped_file),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_notify_channels),
		cmocka_unit_test(test_addresses_accepted),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_at_limit),
		cmocka_unit_test(test_file_unreadable),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_override_values),
		cmocka_unit_test(test_override_order),
		cmocka_unit_test(test_override_creates_groups),
		cmocka_unit_test(test_override_errors),
		cmocka_unit_test(test_override_errors_with_file),
		cmocka_unit_test(test_restart_keys),
		cmocka_unit_test(test_keys_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
