/*
 * config.c: the key table and what reads it. Every setting is looked up
 * through keys[]: its type, default (libconfig syntax, parsed like the
 * file), range, whether SIGHUP changes it, and its help line.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <event2/http.h>
#include <libconfig.h>
#include <libpq-fe.h>

#include "netaddr.h"
#include "xmalloc.h"

#define CONFIG_MAX_BYTES (4 * 1024 * 1024)

enum kind {
	K_STR,
	K_INT,
	K_FLOAT,
	K_LEVEL,
	K_STRLIST,
	K_DURATION,
	K_WEEKDAYS,
	K_DATES,
	K_TZ,
	K_TOKENS,
	K_OPERATORS,
	K_SOURCES,
	K_NOTIFY,
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	const char *def; /* libconfig syntax; NULL: unset unless given */
	double min, max;
	int reload;      /* SIGHUP applies it */
	const char *help;
	/* a string's (or each entry's) own check: 0, or -1 with why */
	int (*check)(const char *v, char *why, size_t whylen);
};

/* --- what a value must be, past its type --------------------------------- */

/* libpq's own parser: a misspelt option is an error here, not at connect
 * time (where the daemon would wait for ever for a database it cannot name). */
static int
check_conninfo(const char *v, char *why, size_t whylen)
{
	char *msg = NULL;
	PQconninfoOption *opts;

	/* connected with expand_dbname: a bare word is a database's name */
	if (strchr(v, '=') == NULL && strncmp(v, "postgres", 8) != 0)
		return 0;
	if ((opts = PQconninfoParse(v, &msg)) != NULL) {
		PQconninfoFree(opts);
		return 0;
	}
	snprintf(why, whylen, "%.*s", msg ? (int)strcspn(msg, "\n") : 13,
	    msg ? msg : "out of memory");
	PQfreemem(msg);
	return -1;
}

static int
check_listen(const char *v, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[160];

	if (netaddr_parse(v, &ss, &len, err, sizeof(err)) != 0) {
		/* netaddr names the address in some messages, not in others */
		if (strncmp(err, v, strlen(v)) == 0)
			snprintf(why, whylen, "%s", err);
		else
			snprintf(why, whylen, "%.64s%s: %s", v, strlen(v) > 64 ? "…" : "", err);
		return -1;
	}
	return 0;
}

/* "" (off) or a TCP address: the HTTP listeners. */
static int
check_http_listen(const char *v, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[160];

	if (v[0] == '\0' || netaddr_parse_tcp(v, &ss, &len, err, sizeof(err)) == 0)
		return 0;
	snprintf(why, whylen, "\"%s\" is not \"\" nor a \"HOST:PORT\" address (numeric host, "
	    "[V6] in brackets)", v);
	return -1;
}

static int
check_cti_listen(const char *v, char *why, size_t whylen)
{
	if (v[0] != '\0' && strncmp(v, "tcp:", 4) != 0) {
		snprintf(why, whylen, "\"%s\" is not a \"tcp:HOST:PORT\" address", v);
		return -1;
	}
	return check_http_listen(v, why, whylen);
}

#define OFF(f) offsetof(struct config, f)
#define DL(p, k) OFF(deadline[(p) - 1][k])

static const struct key keys[] = {
	{ "log.level", K_LEVEL, OFF(log_level), "\"info\"", 0, 0, 1,
	    "debug, info, warning or error", NULL },
	{ "log.escalation_log", K_STR, OFF(escalation_log),
	    "\"/var/log/hotline111/escalations.log\"", 0, 4096, 1,
	    "JSON Lines file of escalations and warnings, reopened on SIGHUP", NULL },
	{ "database.conninfo", K_STR, OFF(db_conninfo), "\"dbname=hotline111\"", 0, 4096, 0,
	    "libpq connection string of the system of record", check_conninfo },
	{ "bridge.listen", K_STRLIST, OFF(bridge_listen),
	    "[\"unix:/run/hotline111/bridge.sock\"]", 0, 16, 0,
	    "bridge listeners: \"unix:PATH\" or \"tcp:HOST:PORT\"", check_listen },
	{ "bridge.max_line", K_INT, OFF(bridge_max_line), "65536", 256, 16777216, 1,
	    "longest accepted line in bytes", NULL },
	{ "bridge.max_clients", K_INT, OFF(bridge_max_clients), "256", 1, 65535, 0,
	    "bridge connections at once", NULL },
	{ "bridge.window", K_INT, OFF(bridge_window), "1024", 1, 65536, 1,
	    "unwritten replies per connection (acks, nacks, pongs) before reading pauses", NULL },
	{ "bridge.max_depth", K_INT, OFF(bridge_max_depth), "16", 2, 64, 1,
	    "deepest JSON nesting accepted in a line", NULL },
	{ "bridge.tokens", K_TOKENS, OFF(tokens), "()", 0, 1024, 1,
	    "clients allowed to connect: ( { client = \"NAME\"; token = \"SECRET\"; } )", NULL },
	{ "bridge.login_timeout", K_INT, OFF(bridge_login_timeout), "10", 1, 3600, 1,
	    "seconds a connection has to send its hello while bridge.tokens is set", NULL },
	{ "bridge.idle_timeout", K_INT, OFF(bridge_idle_timeout), "0", 0, 86400, 1,
	    "seconds without a line before a connection owed nothing is closed; 0: never", NULL },
	{ "bridge.max_per_peer", K_INT, OFF(bridge_max_per_peer), "32", 0, 65535, 1,
	    "TCP connections from one address at once; 0: no limit", NULL },
	{ "console.listen", K_STRLIST, OFF(console_listen),
	    "[\"unix:/run/hotline111/console.sock\"]", 0, 16, 0,
	    "console listeners", check_listen },
	{ "console.operators", K_OPERATORS, OFF(operators), "()", 0, 65535, 1,
	    "( { name = \"lan\"; uid = 1001; role = \"operator\"; } )", NULL },
	{ "spool.dir", K_STR, OFF(spool_dir), "\"/var/lib/hotline111/spool\"", 0, 4096, 0,
	    "local spool while PostgreSQL is unreachable", NULL },
	{ "spool.max_mb", K_INT, OFF(spool_max_mb), "1024", 1, 1048576, 0,
	    "spool size before backpressure, MiB", NULL },
	{ "triage.rules", K_STR, OFF(rules_file), "\"" SYSCONFDIR "/hotline111/rules.conf\"",
	    0, 4096, 1, "rules file, hotline111-rules(5)", NULL },
	{ "triage.default_priority", K_INT, OFF(default_priority), "4", 1, 4, 1,
	    "priority of a new case before triage", NULL },
#define DEADLINES(p, a, c, t, pl)                                                      \
	{ "escalation.p" #p ".answer", K_DURATION, DL(p, DL_ANSWER), a, 0, 0, 1,       \
	    "P" #p ": call offered until answered", NULL },                                  \
	{ "escalation.p" #p ".claim", K_DURATION, DL(p, DL_CLAIM), c, 0, 0, 1,         \
	    "P" #p ": case opened until an operator owns it", NULL },                        \
	{ "escalation.p" #p ".act", K_DURATION, DL(p, DL_ACT), t, 0, 0, 1,             \
	    "P" #p ": case opened until a referral or intervention", NULL },                 \
	{ "escalation.p" #p ".plan", K_DURATION, DL(p, DL_PLAN), pl, 0, 0, 1,          \
	    "P" #p ": referral until an intervention plan", NULL }
	DEADLINES(1, "20", "60", "3600", "\"5wd\""),
	DEADLINES(2, "60", "300", "\"12h\"", "\"5wd\""),
	DEADLINES(3, "120", "1800", "\"24h\"", NULL),
	DEADLINES(4, "300", "\"4h\"", "\"72h\"", NULL),
#undef DEADLINES
	{ "escalation.warn", K_FLOAT, OFF(esc_warn), "0.8", 0.0, 1.0, 1,
	    "warn at this fraction of a deadline (0 turns warnings off)", NULL },
	{ "escalation.repeat", K_INT, OFF(esc_repeat), "300", 1, 86400, 1,
	    "seconds between escalation levels", NULL },
	{ "escalation.levels", K_STRLIST, OFF(esc_levels),
	    "[\"shift supervisor\", \"duty manager\", "
	    "\"provincial child protection / police\"]", 1, 16, 1,
	    "who each escalation level reaches", NULL },
	{ "escalation.notify", K_NOTIFY, OFF(notify), "()", 0, 64, 1,
	    "notifications per level: ( { name; level; url or command; timeout; token_file or "
	    "token_env; } )", NULL },
	{ "escalation.notify_retry", K_INT, OFF(notify_retry), "10", 1, 3600, 1,
	    "seconds before a failed notification is tried again; doubles each try", NULL },
	{ "escalation.notify_retry_max", K_INT, OFF(notify_retry_max), "600", 1, 86400, 1,
	    "longest wait between two tries of a notification, seconds", NULL },
	{ "escalation.notify_give_up", K_INT, OFF(notify_give_up), "3600", 1, 604800, 1,
	    "seconds after its escalation when a notification not sent is failed", NULL },
	{ "escalation.calendar.weekend", K_WEEKDAYS, OFF(weekend_mask), "[6, 7]", 0, 7, 1,
	    "days off, 1 = Monday .. 7 = Sunday", NULL },
	{ "escalation.calendar.holidays", K_DATES, OFF(holidays), "[]", 0, 1000, 1,
	    "dated holidays, \"YYYY-MM-DD\" (Tet moves every year)", NULL },
	{ "escalation.calendar.timezone", K_TZ, OFF(timezone), "\"Asia/Ho_Chi_Minh\"", 0, 64, 1,
	    "time zone of working days, the escalation log and reports (tz database name)", NULL },
	{ "metrics.listen", K_STR, OFF(metrics_listen), "\"127.0.0.1:9111\"", 0, 256, 0,
	    "metrics endpoint HOST:PORT (/metrics, /healthz), \"\" turns it off",
	    check_http_listen },
	{ "sources", K_SOURCES, OFF(sources), "()", 0, 64, 0,
	    "PBXs the daemon connects to: ami, esl, evapi", NULL },
	{ "cti.listen", K_STR, OFF(cti_listen), "\"\"", 0, 256, 0,
	    "Zammad-style CTI webhook address, \"\" off", check_cti_listen },
	{ "cti.token", K_STR, OFF(cti_token), "\"\"", 0, 256, 0,
	    "token in the CTI webhook path", NULL },
};
#define NKEYS ((int)(sizeof(keys) / sizeof(keys[0])))

struct loader {
	const char *file; /* the name errors carry */
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL && config_setting_source_line(s) > 0)
		snprintf(ld->err, ld->errlen, "%s:%u: %s", ld->file,
		    config_setting_source_line(s), msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->file, msg);
	return -1;
}

static int
range_fail(struct loader *ld, const struct key *k, const config_setting_t *s, const char *what)
{
	if (k->max > k->min)
		return fail(ld, s, "%s: must be %s %.10g..%.10g", k->name, what, k->min, k->max);
	return fail(ld, s, "%s: must be %s", k->name, what);
}

/* --- scalar kinds ------------------------------------------------------ */

static int
parse_str(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	const char *v = config_setting_get_string(s);
	char why[400];

	if (v == NULL)
		return range_fail(ld, k, s, "a string");
	if (k->max > 0 && strlen(v) > (size_t)k->max)
		return fail(ld, s, "%s: longer than %.0f bytes", k->name, k->max);
	if (k->check != NULL && k->check(v, why, sizeof(why)) != 0)
		return fail(ld, s, "%s: %s", k->name, why);
	*(char **)dst = xstrdup(v);
	return 0;
}

static int
parse_int(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	int t = config_setting_type(s);
	long long v;

	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return range_fail(ld, k, s, "an integer");
	v = config_setting_get_int64(s);
	if (v < (long long)k->min || v > (long long)k->max)
		return range_fail(ld, k, s, "an integer");
	*(int *)dst = (int)v;
	return 0;
}

static int
parse_float(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	int t = config_setting_type(s);
	double v;

	if (t == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else
		return range_fail(ld, k, s, "a number");
	if (!(v >= k->min && v <= k->max))
		return range_fail(ld, k, s, "a number");
	*(double *)dst = v;
	return 0;
}

static int
parse_level(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	const char *v = config_setting_get_string(s);

	if (v == NULL || log_level_parse(v, dst) != 0)
		return fail(ld, s, "%s: must be \"debug\", \"info\", \"warning\" or \"error\"",
		    k->name);
	return 0;
}

int
config_parse_duration(const char *s, struct duration *out)
{
	static const struct { const char *unit; int64_t mult; } units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 }, { "wd", 0 },
	};
	char *end;
	long long n;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	n = strtoll(s, &end, 10);
	if (errno != 0 || n < 0 || n > 366LL * 86400)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (units[i].mult == 0) {
			if (n > 366)
				return -1;
			*out = (struct duration){ 0, (int)n };
		} else {
			if (n * units[i].mult > 366LL * 86400)
				return -1;
			*out = (struct duration){ n * units[i].mult, 0 };
		}
		return 0;
	}
	return -1;
}

static int
parse_dur(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	int t = config_setting_type(s);
	struct duration d;

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);
		if (v < 0 || v > 366LL * 86400)
			return fail(ld, s, "%s: must be 0..31622400 seconds", k->name);
		d = (struct duration){ v, 0 };
	} else if (t != CONFIG_TYPE_STRING ||
	    config_parse_duration(config_setting_get_string(s), &d) != 0)
		return fail(ld, s, "%s: must be seconds or a duration such as \"30s\" \"5m\" "
		    "\"12h\" \"2d\" \"5wd\" (at most a year)", k->name);
	*(struct duration *)dst = d;
	return 0;
}

/* --- arrays and lists -------------------------------------------------- */

static int
expect_aggregate(struct loader *ld, const struct key *k, const config_setting_t *s,
    int want_groups)
{
	int t = config_setting_type(s);
	int n;

	if (want_groups ? t != CONFIG_TYPE_LIST :
	    (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST))
		return fail(ld, s, "%s: must be %s", k->name,
		    want_groups ? "a list ( { … }, … )" : "an array [ … ]");
	n = config_setting_length(s);
	if (n < (int)k->min || n > (int)k->max)
		return fail(ld, s, "%s: must have %.0f..%.0f entries", k->name, k->min, k->max);
	return n;
}

static int
parse_strlist(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	struct strlist *l = dst;
	int n = expect_aggregate(ld, k, s, 0);

	if (n < 0)
		return -1;
	l->v = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		char why[400];
		if (v == NULL || v[0] == '\0' || strlen(v) > 4096)
			return fail(ld, e, "%s: entry %d must be a non-empty string", k->name, i + 1);
		if (k->check != NULL && k->check(v, why, sizeof(why)) != 0)
			return fail(ld, e, "%s: entry %d: %s", k->name, i + 1, why);
		l->v[l->n++] = xstrdup(v);
	}
	return 0;
}

static int
parse_weekdays(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	int n = expect_aggregate(ld, k, s, 0), mask = 0;

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int d = config_setting_get_int(e);
		if (config_setting_type(e) != CONFIG_TYPE_INT || d < 1 || d > 7)
			return fail(ld, e, "%s: days are 1 (Monday) .. 7 (Sunday)", k->name);
		mask |= 1 << d;
	}
	if (mask == 0xfe)
		return fail(ld, s, "%s: every day is off: no working day would ever come", k->name);
	*(int *)dst = mask;
	return 0;
}

static int
valid_date(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, used = 0;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 ||
	    used != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++) /* %2d alone takes "+1" and " 1" */
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	if (y < 2000 || y > 2200 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	return m != 2 || d < 29 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

static int
parse_dates(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	struct strlist *l = dst;

	if (parse_strlist(ld, k, s, dst) != 0)
		return -1;
	for (int i = 0; i < l->n; i++)
		if (!valid_date(l->v[i]))
			return fail(ld, config_setting_get_elem(s, (unsigned)i),
			    "%s: \"%s\" is not a date YYYY-MM-DD", k->name, l->v[i]);
	return 0;
}

/* A tz database name that this machine knows (PostgreSQL uses the same). */
static int
parse_tz(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	const char *v = config_setting_get_string(s);
	char path[128];
	struct stat st;

	if (v == NULL || v[0] == '\0' || strlen(v) > 64 || strspn(v,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") != strlen(v) ||
	    strstr(v, "..") != NULL)
		return fail(ld, s, "%s: must be a time zone name such as \"Asia/Ho_Chi_Minh\"",
		    k->name);
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", v);
	if (stat("/usr/share/zoneinfo", &st) == 0 && stat(path, &st) != 0)
		return fail(ld, s, "%s: unknown time zone \"%s\"", k->name, v);
	*(char **)dst = xstrdup(v);
	return 0;
}

/*
 * Lists of groups: each member of each group is one of `fields`, strings
 * unless named in `int_fields`; `required` must all be present.
 */
struct group_spec {
	const char *const *fields;
	const char *const *required;
	size_t size;                 /* one element */
	size_t offsets[8];           /* of each field in the element */
};

static const char *const token_fields[] = { "client", "token", NULL };
static const char *const operator_fields[] = { "name", "uid", "role", NULL };
static const char *const source_fields[] = { "type", "connect", "username", "secret",
	"password", "ivr_variable", "name", NULL };
static const char *const source_required[] = { "type", "connect", NULL };

static const struct group_spec token_spec = { token_fields, token_fields,
	sizeof(struct bridge_token),
	{ offsetof(struct bridge_token, client), offsetof(struct bridge_token, token) } };
static const struct group_spec operator_spec = { operator_fields, operator_fields,
	sizeof(struct console_operator),
	{ offsetof(struct console_operator, name), offsetof(struct console_operator, uid),
	    offsetof(struct console_operator, role) } };
static const struct group_spec source_spec = { source_fields, source_required,
	sizeof(struct pbx_source),
	{ offsetof(struct pbx_source, type), offsetof(struct pbx_source, connect),
	    offsetof(struct pbx_source, username), offsetof(struct pbx_source, secret),
	    offsetof(struct pbx_source, password), offsetof(struct pbx_source, ivr_variable),
	    offsetof(struct pbx_source, name) } };

static int
field_index(const char *const *fields, const char *name)
{
	for (int i = 0; fields[i] != NULL; i++)
		if (strcmp(fields[i], name) == 0)
			return i;
	return -1;
}

/* Fields of a group that take one of a few words. */
static const struct {
	const char *field;
	const char *const values[4];
} enums[] = {
	{ "role", { "operator", "supervisor", "admin", NULL } },
	{ "type", { "ami", "esl", "evapi", NULL } },
};

static int
check_enum(struct loader *ld, const struct key *k, const config_setting_t *m,
    const char *name, const char *value)
{
	for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
		const char *const *v = enums[i].values;
		if (strcmp(enums[i].field, name) != 0)
			continue;
		for (; *v != NULL; v++)
			if (strcmp(*v, value) == 0)
				return 0;
		v = enums[i].values;
		return fail(ld, m, "%s: %s must be \"%s\", \"%s\" or \"%s\"", k->name, name, v[0],
		    v[1], v[2]);
	}
	return 0;
}

static int
parse_group_field(struct loader *ld, const struct key *k, const config_setting_t *m,
    const char *name, void *field)
{
	if (strcmp(name, "uid") == 0) {
		if (config_setting_type(m) != CONFIG_TYPE_INT || config_setting_get_int(m) < 0)
			return fail(ld, m, "%s: uid must be a non-negative integer", k->name);
		*(long *)field = config_setting_get_int(m);
		return 0;
	}
	if (config_setting_type(m) != CONFIG_TYPE_STRING ||
	    strlen(config_setting_get_string(m)) > 4096 || config_setting_get_string(m)[0] == 0)
		return fail(ld, m, "%s: %s must be a non-empty string", k->name, name);
	if (check_enum(ld, k, m, name, config_setting_get_string(m)) != 0)
		return -1;
	*(char **)field = xstrdup(config_setting_get_string(m));
	return 0;
}

static int
parse_group(struct loader *ld, const struct key *k, const struct group_spec *spec,
    const config_setting_t *g, char *elem)
{
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return fail(ld, g, "%s: each entry must be a group { … }", k->name);
	for (int j = 0; j < config_setting_length(g); j++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)j);
		int f = field_index(spec->fields, config_setting_name(m));
		if (f < 0)
			return fail(ld, m, "%s: unknown setting '%s'", k->name,
			    config_setting_name(m));
		if (parse_group_field(ld, k, m, spec->fields[f], elem + spec->offsets[f]) != 0)
			return -1;
	}
	for (int f = 0; spec->required[f] != NULL; f++)
		if (config_setting_get_member(g, spec->required[f]) == NULL)
			return fail(ld, g, "%s: %s is required", k->name, spec->required[f]);
	return 0;
}

static const struct group_spec *
spec_of(enum kind kind)
{
	return kind == K_TOKENS ? &token_spec : kind == K_OPERATORS ? &operator_spec :
	    &source_spec;
}

/* Every list kind has the shape { pointer, int n }: filled through memcpy
 * and an int pointer so that one function serves the three types. */
static int
parse_groups(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	const struct group_spec *spec = spec_of(k->kind);
	int *count = (int *)((char *)dst + offsetof(struct token_list, n));
	int n = expect_aggregate(ld, k, s, 1);
	char *v;

	if (n < 0)
		return -1;
	v = xcalloc((size_t)n + 1, spec->size);
	memcpy(dst, &v, sizeof(v));
	for (int i = 0; i < n; i++) {
		(*count)++; /* a half-filled entry is freed too */
		if (parse_group(ld, k, spec, config_setting_get_elem(s, (unsigned)i),
		    v + (size_t)i * spec->size) != 0)
			return -1;
	}
	return 0;
}

/* --- escalation.notify ------------------------------------------------- */

static const char *const notify_fields[] = { "name", "level", "url", "command", "timeout",
	"token_file", "token_env", NULL };

#define NOTIFY_MAX_ARGS 64
#define NOTIFY_MAX_TOKEN 4096

/* A string member of g, or NULL; -1 when it is there but no string. */
static int
notify_str(struct loader *ld, const config_setting_t *g, const char *name, const char **out)
{
	const config_setting_t *m = config_setting_get_member(g, name);

	*out = NULL;
	if (m == NULL)
		return 0;
	*out = config_setting_get_string(m);
	if (*out == NULL || (*out)[0] == '\0' || strlen(*out) > 4096)
		return fail(ld, m, "escalation.notify: %s must be a non-empty string", name);
	return 0;
}

/* A bearer token goes in a header: printable ASCII, no space, no CR/LF. */
static int
token_ok(char *t)
{
	size_t n = strlen(t);

	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ' ||
	    t[n - 1] == '\t'))
		t[--n] = '\0';
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (t[i] < 0x21 || t[i] > 0x7e)
			return 0;
	return 1;
}

/* Secrets stay out of the 0644 configuration: a file others cannot read. */
static int
read_token_file(struct loader *ld, const config_setting_t *m, const char *path, char **out)
{
	char buf[NOTIFY_MAX_TOKEN + 2];
	struct stat st;
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL)
		return fail(ld, m, "escalation.notify: token_file %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return fail(ld, m, "escalation.notify: token_file %s: not a regular file", path);
	}
	if (st.st_mode & S_IROTH) {
		fclose(f);
		return fail(ld, m, "escalation.notify: token_file %s: readable by every user "
		    "(chmod 0640)", path);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n > NOTIFY_MAX_TOKEN || strlen(buf) != n || !token_ok(buf))
		return fail(ld, m, "escalation.notify: token_file %s: must hold one token of "
		    "printable characters (at most %d bytes)", path, NOTIFY_MAX_TOKEN);
	*out = xstrdup(buf);
	return 0;
}

static int
read_token_env(struct loader *ld, const config_setting_t *m, const char *name, char **out)
{
	const char *v = getenv(name);
	char *t;

	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
	    strlen(name) || isdigit((unsigned char)name[0]))
		return fail(ld, m, "escalation.notify: token_env \"%s\" is not a variable name",
		    name);
	if (v == NULL || v[0] == '\0')
		return fail(ld, m, "escalation.notify: token_env %s is not set in the daemon's "
		    "environment", name);
	/* (xstrndup copies n bytes whatever the string's length) */
	t = xstrdup(strnlen(v, NOTIFY_MAX_TOKEN + 1) > NOTIFY_MAX_TOKEN ? "" : v);
	if (!token_ok(t)) {
		free(t);
		return fail(ld, m, "escalation.notify: token_env %s must hold one token of "
		    "printable characters (at most %d bytes)", name, NOTIFY_MAX_TOKEN);
	}
	*out = t;
	return 0;
}

/* http://HOST[:PORT][/PATH]: plain HTTP only until TLS is built. */
static int
check_url(struct loader *ld, const config_setting_t *m, const char *url)
{
	struct evhttp_uri *u;
	const char *why = NULL;

	if (strncmp(url, "https://", 8) == 0)
		return fail(ld, m, "escalation.notify: url %s: https is not supported yet; "
		    "send to a TLS proxy on the loopback", url);
	if (strncmp(url, "http://", 7) != 0 || strlen(url) > 2048)
		return fail(ld, m, "escalation.notify: url must be \"http://HOST[:PORT]/PATH\"");
	if ((u = evhttp_uri_parse_with_flags(url, 0)) == NULL)
		return fail(ld, m, "escalation.notify: url %s does not parse", url);
	if (evhttp_uri_get_host(u) == NULL || evhttp_uri_get_host(u)[0] == '\0')
		why = "has no host";
	else if (evhttp_uri_get_userinfo(u) != NULL)
		why = "holds credentials (use token_file)";
	else if (evhttp_uri_get_port(u) == 0 || evhttp_uri_get_port(u) > 65535)
		why = "has a bad port";
	else if (evhttp_uri_get_fragment(u) != NULL)
		why = "has a #fragment";
	evhttp_uri_free(u);
	if (why != NULL)
		return fail(ld, m, "escalation.notify: url %s %s", url, why);
	return 0;
}

static int
parse_command(struct loader *ld, const config_setting_t *m, struct notify_channel *ch)
{
	int t = config_setting_type(m), n = config_setting_length(m);

	if ((t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) || n < 1 || n > NOTIFY_MAX_ARGS)
		return fail(ld, m, "escalation.notify: command must be an array of 1..%d strings "
		    "[ \"/PATH\", \"ARG\", … ]", NOTIFY_MAX_ARGS);
	ch->argv = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
		const char *v = config_setting_get_string(e);
		if (v == NULL || strlen(v) > 4096 || (i == 0 && v[0] != '/'))
			return fail(ld, e, "escalation.notify: command: %s", i == 0 ?
			    "the program must be an absolute path (no shell, no PATH search)" :
			    "each argument must be a string");
		ch->argv[i] = xstrdup(v);
	}
	return 0;
}

static int
parse_int_member(struct loader *ld, const config_setting_t *g, const char *name, int min,
    int max, int *out)
{
	const config_setting_t *m = config_setting_get_member(g, name);

	if (m == NULL)
		return 0;
	if (config_setting_type(m) != CONFIG_TYPE_INT || config_setting_get_int(m) < min ||
	    config_setting_get_int(m) > max)
		return fail(ld, m, "escalation.notify: %s must be an integer %d..%d", name, min,
		    max);
	*out = config_setting_get_int(m);
	return 0;
}

/* name, level, exactly one of url and command, a token only for a url. */
static int
parse_channel_members(struct loader *ld, const config_setting_t *g, struct notify_channel *ch)
{
	const char *name, *url, *file, *env;
	const config_setting_t *cmd = config_setting_get_member(g, "command");

	if (notify_str(ld, g, "name", &name) || notify_str(ld, g, "url", &url) ||
	    notify_str(ld, g, "token_file", &file) || notify_str(ld, g, "token_env", &env))
		return -1;
	if (name == NULL || config_setting_get_member(g, "level") == NULL)
		return fail(ld, g, "escalation.notify: name and level are required");
	if (strlen(name) > 64 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789._-") != strlen(name))
		return fail(ld, g, "escalation.notify: name \"%s\": letters, digits, . _ - only "
		    "(at most 64)", name);
	ch->name = xstrdup(name);
	ch->timeout = 10;
	if (parse_int_member(ld, g, "level", 0, 16, &ch->level) ||
	    parse_int_member(ld, g, "timeout", 1, 300, &ch->timeout))
		return -1;
	if ((url == NULL) == (cmd == NULL))
		return fail(ld, g, "escalation.notify: %s: exactly one of url and command", name);
	if ((file || env) && url == NULL)
		return fail(ld, g, "escalation.notify: %s: token_file and token_env are for a url",
		    name);
	if (file && env)
		return fail(ld, g, "escalation.notify: %s: token_file or token_env, not both", name);
	if (url != NULL) {
		if (check_url(ld, config_setting_get_member(g, "url"), url) != 0)
			return -1;
		ch->url = xstrdup(url);
	} else if (parse_command(ld, cmd, ch) != 0)
		return -1;
	ch->token_file = file ? xstrdup(file) : NULL;
	ch->token_env = env ? xstrdup(env) : NULL;
	if (file)
		return read_token_file(ld, config_setting_get_member(g, "token_file"), file,
		    &ch->token);
	if (env)
		return read_token_env(ld, config_setting_get_member(g, "token_env"), env,
		    &ch->token);
	return 0;
}

static int
parse_channel(struct loader *ld, const config_setting_t *g, struct notify_channel *ch)
{
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return fail(ld, g, "escalation.notify: each entry must be a group { … }");
	ch->line = (int)config_setting_source_line(g);
	for (int j = 0; j < config_setting_length(g); j++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)j);
		if (field_index(notify_fields, config_setting_name(m)) < 0)
			return fail(ld, m, "escalation.notify: unknown setting '%s'",
			    config_setting_name(m));
	}
	return parse_channel_members(ld, g, ch);
}

static int
parse_notify(struct loader *ld, const struct key *k, const config_setting_t *s, void *dst)
{
	struct notify_list *l = dst;
	int n = expect_aggregate(ld, k, s, 1);

	if (n < 0)
		return -1;
	l->v = xcalloc((size_t)n + 1, sizeof(*l->v));
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		l->n++; /* a half-filled entry is freed too */
		if (parse_channel(ld, g, &l->v[i]) != 0)
			return -1;
		for (int j = 0; j < i; j++)
			if (strcmp(l->v[j].name, l->v[i].name) == 0)
				return fail(ld, g, "escalation.notify: name \"%s\" is used twice",
				    l->v[i].name);
	}
	return 0;
}

/* A level past escalation.levels would never fire: a typo, said at load. */
static int
check_notify_levels(struct loader *ld, const struct config *cfg)
{
	for (int i = 0; i < cfg->notify.n; i++) {
		const struct notify_channel *ch = &cfg->notify.v[i];
		char line[16] = "";
		if (ch->level <= cfg->esc_levels.n)
			continue;
		if (ch->line > 0)
			snprintf(line, sizeof(line), ":%d", ch->line);
		snprintf(ld->err, ld->errlen, "%s%s: escalation.notify: %s: level %d, but "
		    "escalation.levels has %d", ld->file, line, ch->name, ch->level,
		    cfg->esc_levels.n);
		return -1;
	}
	return 0;
}

static void
free_notify(struct notify_list *l)
{
	for (int i = 0; i < l->n; i++) {
		struct notify_channel *ch = &l->v[i];
		for (int a = 0; ch->argv != NULL && ch->argv[a] != NULL; a++)
			free(ch->argv[a]);
		free(ch->argv);
		free(ch->name);
		free(ch->url);
		if (ch->token != NULL)
			explicit_bzero(ch->token, strlen(ch->token));
		free(ch->token);
		free(ch->token_file);
		free(ch->token_env);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* --- release and compare ----------------------------------------------- */

static void
free_strlist(struct strlist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
free_groups(enum kind kind, void *dst)
{
	const struct group_spec *spec = spec_of(kind);
	int n = *(int *)((char *)dst + offsetof(struct token_list, n));
	char *v;

	memcpy(&v, dst, sizeof(v));
	for (int i = 0; v != NULL && i < n; i++)
		for (int f = 0; spec->fields[f] != NULL; f++)
			if (strcmp(spec->fields[f], "uid") != 0)
				free(*(char **)(v + (size_t)i * spec->size + spec->offsets[f]));
	free(v);
}

static void
free_value(const struct key *k, void *dst)
{
	switch (k->kind) {
	case K_STR:
	case K_TZ:
		free(*(char **)dst);
		break;
	case K_STRLIST:
	case K_DATES:
		free_strlist(dst);
		break;
	case K_TOKENS:
	case K_OPERATORS:
	case K_SOURCES:
		free_groups(k->kind, dst);
		break;
	case K_NOTIFY:
		free_notify(dst);
		break;
	default:
		break;
	}
}

static int
strlist_equal(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int
groups_equal(enum kind kind, const void *a, const void *b)
{
	const struct group_spec *spec = spec_of(kind);
	int n = *(const int *)((const char *)a + offsetof(struct token_list, n));
	const char *va, *vb;

	if (n != *(const int *)((const char *)b + offsetof(struct token_list, n)))
		return 0;
	memcpy(&va, a, sizeof(va));
	memcpy(&vb, b, sizeof(vb));
	for (int i = 0; i < n; i++)
		for (int f = 0; spec->fields[f] != NULL; f++) {
			size_t o = (size_t)i * spec->size + spec->offsets[f];
			const char *sa, *sb;
			if (strcmp(spec->fields[f], "uid") == 0) {
				if (*(const long *)(va + o) != *(const long *)(vb + o))
					return 0;
				continue;
			}
			sa = *(char *const *)(va + o);
			sb = *(char *const *)(vb + o);
			if ((sa == NULL) != (sb == NULL) || (sa && strcmp(sa, sb) != 0))
				return 0;
		}
	return 1;
}

static int
value_equal(const struct key *k, const void *a, const void *b)
{
	switch (k->kind) {
	case K_STR:
	case K_TZ:
		return strcmp(*(char *const *)a, *(char *const *)b) == 0;
	case K_INT:
	case K_WEEKDAYS:
		return *(const int *)a == *(const int *)b;
	case K_LEVEL:
		return *(const enum log_level *)a == *(const enum log_level *)b;
	case K_FLOAT:
		return *(const double *)a == *(const double *)b;
	case K_DURATION:
		return ((const struct duration *)a)->seconds == ((const struct duration *)b)->seconds &&
		    ((const struct duration *)a)->working_days ==
		    ((const struct duration *)b)->working_days;
	case K_STRLIST:
	case K_DATES:
		return strlist_equal(a, b);
	case K_NOTIFY: /* reload applies it: never compared */
		return 1;
	default:
		return groups_equal(k->kind, a, b);
	}
}

/* --- loading ----------------------------------------------------------- */

typedef int parse_fn(struct loader *, const struct key *, const config_setting_t *, void *);

static parse_fn *const parsers[] = {
	[K_STR] = parse_str,
	[K_INT] = parse_int,
	[K_FLOAT] = parse_float,
	[K_LEVEL] = parse_level,
	[K_STRLIST] = parse_strlist,
	[K_DURATION] = parse_dur,
	[K_WEEKDAYS] = parse_weekdays,
	[K_DATES] = parse_dates,
	[K_TZ] = parse_tz,
	[K_TOKENS] = parse_groups,
	[K_OPERATORS] = parse_groups,
	[K_SOURCES] = parse_groups,
	[K_NOTIFY] = parse_notify,
};

static const struct key *
key_find(const char *path)
{
	for (int i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, path) == 0)
			return &keys[i];
	return NULL;
}

static int
key_prefix(const char *path)
{
	size_t n = strlen(path);

	for (int i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, path, n) == 0 && keys[i].name[n] == '.')
			return 1;
	return 0;
}

/* Every setting in the file must be a key or a group on the way to one. */
static int
check_known(struct loader *ld, const config_setting_t *group, const char *prefix)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		char path[256];

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
		    config_setting_name(m));
		if (key_find(path) != NULL)
			continue;
		if (!key_prefix(path))
			return fail(ld, m, "unknown setting '%s'", path);
		if (config_setting_type(m) != CONFIG_TYPE_GROUP)
			return fail(ld, m, "%s: must be a group { … }", path);
		if (check_known(ld, m, path) != 0)
			return -1;
	}
	return 0;
}

static int
load_default(struct loader *ld, const struct key *k, void *dst)
{
	config_t c;
	char text[512];
	int rc;

	if (k->def == NULL) {
		memset(dst, 0, sizeof(struct duration));
		return 0;
	}
	config_init(&c);
	snprintf(text, sizeof(text), "v = %s;", k->def);
	if (!config_read_string(&c, text))
		fatal("config: default of %s does not parse", k->name);
	rc = parsers[k->kind](ld, k, config_lookup(&c, "v"), dst);
	config_destroy(&c);
	return rc;
}

static int
load_keys(struct loader *ld, config_t *c, struct config *cfg)
{
	if (check_known(ld, config_root_setting(c), "") != 0)
		return -1;
	cfg->lines = xcalloc(NKEYS, sizeof(*cfg->lines));
	for (int i = 0; i < NKEYS; i++) {
		const config_setting_t *s = config_lookup(c, keys[i].name);
		void *dst = (char *)cfg + keys[i].off;
		if (s != NULL)
			cfg->lines[i] = (int)config_setting_source_line(s);
		int rc = s != NULL ? parsers[keys[i].kind](ld, &keys[i], s, dst) :
		    load_default(ld, &keys[i], dst);
		if (rc != 0)
			return -1;
	}
	return check_notify_levels(ld, cfg);
}

/*
 * libconfig 1.5 follows "@include" lines, and one that names a directory
 * makes its scanner exit(2): a reload would kill the daemon. The design is
 * one file, so the directive is refused before libconfig sees the text.
 * The match is libconfig's (start of line, blanks, "@include", blanks, a
 * quote); it errs only towards such a line inside a comment or a string.
 */
static int
include_line(const char *text)
{
	int line = 1;

	for (const char *p = text; *p != '\0'; line++) {
		const char *q = p + strspn(p, " \t");
		size_t blanks = strncmp(q, "@include", 8) == 0 ? strspn(q + 8, " \t") : 0;
		if (blanks > 0 && q[8 + blanks] == '"')
			return line;
		p = q + strcspn(q, "\n");
		p += *p == '\n';
	}
	return 0;
}

/* --- -s PATH=VALUE ----------------------------------------------------- */

static void copy_setting(config_setting_t *dst, const config_setting_t *src);

static void
copy_children(config_setting_t *dst, const config_setting_t *src)
{
	for (int i = 0; i < config_setting_length(src); i++) {
		const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
		copy_setting(config_setting_add(dst, config_setting_name(e),
		    config_setting_type(e)), e);
	}
}

static void
copy_setting(config_setting_t *dst, const config_setting_t *src)
{
	switch (config_setting_type(src)) {
	case CONFIG_TYPE_INT:
		config_setting_set_int(dst, config_setting_get_int(src));
		break;
	case CONFIG_TYPE_INT64:
		config_setting_set_int64(dst, config_setting_get_int64(src));
		break;
	case CONFIG_TYPE_FLOAT:
		config_setting_set_float(dst, config_setting_get_float(src));
		break;
	case CONFIG_TYPE_BOOL:
		config_setting_set_bool(dst, config_setting_get_bool(src));
		break;
	case CONFIG_TYPE_STRING:
		config_setting_set_string(dst, config_setting_get_string(src));
		break;
	default:
		copy_children(dst, src);
		break;
	}
}

/* Finds or makes the group that holds the last component of path. */
static config_setting_t *
parent_group(config_t *c, char *path, char **leaf)
{
	config_setting_t *g = config_root_setting(c);
	char *dot;

	while ((dot = strchr(path, '.')) != NULL) {
		config_setting_t *next;
		*dot = '\0';
		next = config_setting_get_member(g, path);
		if (next == NULL)
			next = config_setting_add(g, path, CONFIG_TYPE_GROUP);
		if (next == NULL || config_setting_type(next) != CONFIG_TYPE_GROUP)
			return NULL;
		g = next;
		path = dot + 1;
	}
	*leaf = path;
	return g;
}

static int
apply_override(struct loader *ld, config_t *c, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *path, *leaf, *text;
	config_setting_t *g, *dst;
	config_t v;
	int rc = -1;

	if (eq == NULL || eq == arg)
		return fail(ld, NULL, "-s %s: expected PATH=VALUE", arg);
	path = xstrndup(arg, (size_t)(eq - arg));
	path[strcspn(path, " \t")] = '\0'; /* "PATH = VALUE" is fine too */
	xasprintf(&text, "v = %s;", eq + 1);
	config_init(&v);
	if (include_line(text) > 0)
		fail(ld, NULL, "-s %s: @include is not supported", arg);
	else if (!config_read_string(&v, text))
		fail(ld, NULL, "-s %s: %s", arg, config_error_text(&v));
	else if (key_find(path) == NULL && !key_prefix(path))
		fail(ld, NULL, "-s %s: unknown setting '%s'", arg, path);
	else if ((g = parent_group(c, path, &leaf)) == NULL)
		fail(ld, NULL, "-s %s: '%s' is not inside a group", arg, path);
	else {
		const config_setting_t *val = config_lookup(&v, "v");
		config_setting_remove(g, leaf);
		dst = config_setting_add(g, leaf, config_setting_type(val));
		copy_setting(dst, val);
		rc = 0;
	}
	config_destroy(&v);
	free(text);
	free(path);
	return rc;
}

/* --- public ------------------------------------------------------------ */

static struct config *
finish(struct loader *ld, config_t *c, const char *file, char *const *ov, int nov)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	int rc = 0;

	for (int i = 0; rc == 0 && i < nov; i++)
		rc = apply_override(ld, c, ov[i]);
	if (rc == 0)
		rc = load_keys(ld, c, cfg);
	config_destroy(c);
	cfg->file = xstrdup(file);
	if (rc != 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static int
syntax_error(struct loader *ld, config_t *c)
{
	snprintf(ld->err, ld->errlen, "%s:%d: %s",
	    config_error_file(c) ? config_error_file(c) : ld->file, config_error_line(c),
	    config_error_text(c));
	config_destroy(c);
	return -1;
}

/* Parses text into c, or destroys c and says why. */
static int
read_text(struct loader *ld, config_t *c, const char *text)
{
	int line = include_line(text);

	if (line > 0) {
		snprintf(ld->err, ld->errlen, "%s:%d: @include is not supported", ld->file, line);
		config_destroy(c);
		return -1;
	}
	if (!config_read_string(c, text))
		return syntax_error(ld, c);
	return 0;
}

/*
 * The whole file, read once so that what is checked is what is parsed
 * (libconfig would reopen it, and follow @include). NULL with err set.
 */
static char *
read_file(struct loader *ld, const char *file)
{
	FILE *f = fopen(file, "r");
	char *text;
	size_t n;

	if (f == NULL) {
		snprintf(ld->err, ld->errlen, "%s: %s", file, strerror(errno));
		return NULL;
	}
	text = xmalloc(CONFIG_MAX_BYTES + 2);
	n = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
	text[n] = '\0';
	if (ferror(f))
		snprintf(ld->err, ld->errlen, "%s: %s", file, strerror(errno));
	else if (n > CONFIG_MAX_BYTES)
		snprintf(ld->err, ld->errlen, "%s: larger than %d bytes", file, CONFIG_MAX_BYTES);
	else if (strlen(text) != n)
		snprintf(ld->err, ld->errlen, "%s: NUL byte in file", file);
	else {
		fclose(f);
		return text;
	}
	fclose(f);
	free(text);
	return NULL;
}

struct config *
config_load(const char *file, char *const *overrides, int noverrides, char *err,
    size_t errlen)
{
	struct loader ld = { file ? file : "(defaults)", err, errlen };
	char *text = NULL;
	config_t c;
	int rc;

	if (file != NULL && (text = read_file(&ld, file)) == NULL)
		return NULL;
	config_init(&c);
	rc = text != NULL ? read_text(&ld, &c, text) : 0;
	free(text);
	if (rc != 0)
		return NULL;
	return finish(&ld, &c, ld.file, overrides, noverrides);
}

struct config *
config_load_string(const char *name, const char *text, char *err, size_t errlen)
{
	struct loader ld = { name, err, errlen };
	config_t c;

	if (strlen(text) > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", name, CONFIG_MAX_BYTES);
		return NULL;
	}
	config_init(&c);
	if (read_text(&ld, &c, text) != 0)
		return NULL;
	return finish(&ld, &c, name, NULL, 0);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (int i = 0; i < NKEYS; i++)
		free_value(&keys[i], (char *)cfg + keys[i].off);
	free(cfg->lines);
	free(cfg->file);
	free(cfg);
}

int
config_warn_restart_keys(const struct config *old, const struct config *new)
{
	int n = 0;

	for (int i = 0; i < NKEYS; i++) {
		const void *a = (const char *)old + keys[i].off;
		const void *b = (const char *)new + keys[i].off;
		if (!keys[i].reload && !value_equal(&keys[i], a, b)) {
			log_warn("config: %s changed; it takes effect at the next restart",
			    keys[i].name);
			n++;
		}
	}
	return n;
}

int
config_key_line(const struct config *cfg, const char *name)
{
	for (int i = 0; cfg->lines != NULL && i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return cfg->lines[i];
	return 0;
}

void
config_where(const struct config *cfg, const char *msg, char *out, size_t outlen)
{
	size_t n = strcspn(msg, ": ");
	char key[128];
	int line;

	snprintf(key, sizeof(key), "%.*s", (int)n, msg);
	line = n < sizeof(key) ? config_key_line(cfg, key) : 0;
	if (line > 0)
		snprintf(out, outlen, "%s:%d: %s", cfg->file, line, msg);
	else
		snprintf(out, outlen, "%s: %s", cfg->file, msg);
}

int
config_key_count(void)
{
	return NKEYS;
}

const char *
config_key_name(int i)
{
	return i >= 0 && i < NKEYS ? keys[i].name : NULL;
}

const char *
config_key_help(int i)
{
	return i >= 0 && i < NKEYS ? keys[i].help : NULL;
}
