/* escalation.c: firing deadlines, and the escalation log. */
#include "escalation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "metrics.h"
#include "timers.h"
#include "xmalloc.h"

#define FIRE_BATCH 500

static const char fire_sql[] = "SELECT record, (extract(epoch FROM next_at) * 1000)::bigint "
    "FROM h111_fire($1::int)";
static const char load_sql[] =
    "SELECT (extract(epoch FROM next_at) * 1000)::bigint FROM timers WHERE NOT held";
const char escalation_policy_sql[] =
    "INSERT INTO settings (key, value) VALUES ('escalation', $1::jsonb) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()";

struct escalation {
	struct db *db;
	struct timers *timers;
	char *path;
	int fd;
	int stopped;
	void (*on_fire)(void *);
	void *on_fire_arg;
};

static const char *const deadline_names[DL_COUNT] = { "answer", "claim", "act", "plan" };

static json_t *
duration_json(const struct duration *d)
{
	if (d->working_days > 0)
		return json_pack("{s:i}", "wd", d->working_days);
	if (d->seconds > 0)
		return json_pack("{s:I}", "s", (json_int_t)d->seconds);
	return NULL;
}

static json_t *
weekend_json(int mask)
{
	json_t *a = json_array();

	for (int d = 1; d <= 7; d++)
		if (mask & (1 << d))
			json_array_append_new(a, json_integer(d));
	return a;
}

static json_t *
strings_json(const struct strlist *l)
{
	json_t *a = json_array();

	for (int i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

/* The channels h111_fire adds outbox rows for; where each goes stays here. */
static json_t *
notify_json(const struct notify_list *l)
{
	json_t *a = json_array();

	for (int i = 0; i < l->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:i}", "name", l->v[i].name, "level",
		    l->v[i].level));
	return a;
}

char *
escalation_policy_json(const struct config *cfg)
{
	json_t *p = json_array(), *pol;
	char *s;

	for (int prio = 0; prio < 4; prio++) {
		json_t *o = json_object();
		for (int k = 0; k < DL_COUNT; k++) {
			json_t *d = duration_json(&cfg->deadline[prio][k]);
			if (d != NULL)
				json_object_set_new(o, deadline_names[k], d);
		}
		json_array_append_new(p, o);
	}
	pol = json_pack("{s:o, s:f, s:i, s:o, s:o, s:o, s:s}", "p", p, "warn", cfg->esc_warn,
	    "repeat", cfg->esc_repeat, "levels", strings_json(&cfg->esc_levels), "weekend",
	    weekend_json(cfg->weekend_mask), "holidays", strings_json(&cfg->holidays), "tz",
	    cfg->timezone);
	json_object_set_new(pol, "notify", notify_json(&cfg->notify));
	json_object_set_new(pol, "notify_give_up", json_integer(cfg->notify_give_up));
	s = json_dumps(pol, JSON_COMPACT);
	json_decref(pol);
	if (s == NULL)
		fatal("escalation: out of memory");
	return s;
}

/* --- the log ----------------------------------------------------------- */

char *
escalation_log_line(const json_t *r)
{
	static const char *const fields[] = { "ts", "kind", "escalation", "case", "priority",
		"category", "deadline", "level", "due", "late_ms" };
	json_t *o = json_object(), *rules = json_object_get(r, "rules");
	char masked[80], *line, *out;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(r, fields[i]);
		json_object_set(o, fields[i], v ? v : json_null());
	}
	log_mask_number(masked, sizeof(masked), json_string_value(json_object_get(r, "caller")));
	json_object_set_new(o, "caller", masked[0] ? json_string(masked) : json_null());
	json_object_set_new(o, "rules", json_is_array(rules) ? json_incref(rules) : json_array());
	line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (line == NULL)
		fatal("escalation: out of memory");
	xasprintf(&out, "%s\n", line);
	free(line);
	return out;
}

static int
open_log(struct escalation *e, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0) {
		snprintf(err, errlen, "escalation log %s: %s", path, strerror(errno));
		return -1;
	}
	if (e->fd >= 0)
		close(e->fd);
	e->fd = fd;
	free(e->path);
	e->path = xstrdup(path);
	return 0;
}

/* One write(2) per line on an O_APPEND file: a tail -F never sees half a line. */
static void
write_log(struct escalation *e, const char *line)
{
	size_t len = strlen(line);

	if (write(e->fd, line, len) != (ssize_t)len)
		log_error("escalation log %s: %s (the escalation is in the database)", e->path,
		    strerror(errno));
}

static long long
num(const json_t *r, const char *key)
{
	return (long long)json_integer_value(json_object_get(r, key));
}

static const char *
str(const json_t *r, const char *key)
{
	const char *v = json_string_value(json_object_get(r, key));

	return v ? v : "-";
}

static void
report(struct escalation *e, const json_t *r)
{
	char *line = escalation_log_line(r);

	write_log(e, line);
	free(line);
	metrics_escalation(str(r, "kind"), num(r, "level"));
	if (strcmp(str(r, "kind"), "warning") == 0)
		log_warn("warning %lld: case %lld P%lld %s: %s deadline approaching", num(r, "escalation"),
		    num(r, "case"), num(r, "priority"), str(r, "category"), str(r, "deadline"));
	else
		log_warn("escalation %lld: case %lld P%lld %s: %s deadline missed, level %lld (%s), "
		    "%lld ms after due", num(r, "escalation"), num(r, "case"), num(r, "priority"),
		    str(r, "category"), str(r, "deadline"), num(r, "level"), str(r, "target"),
		    num(r, "late_ms"));
}

/* --- firing ------------------------------------------------------------ */

static void
fired(PGresult *res, void *arg)
{
	struct escalation *e = arg;
	int n = 0;

	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *r = PQgetisnull(res, i, 0) ? NULL : json_loads(PQgetvalue(res, i, 0), 0,
			    NULL);
			if (r != NULL) {
				report(e, r);
				n++;
			}
			json_decref(r);
			if (!PQgetisnull(res, i, 1))
				timers_schedule(e->timers, strtoll(PQgetvalue(res, i, 1), NULL, 10));
		}
	} else if (res != NULL)
		log_error("escalation: firing failed: SQLSTATE %s; the sweep tries again",
		    db_sqlstate(res));
	timers_fired(e->timers, n == FIRE_BATCH);
	if (n > 0 && e->on_fire != NULL)
		e->on_fire(e->on_fire_arg);
}

static void
due(void *arg)
{
	struct escalation *e = arg;
	char limit[16];
	const char *params[1] = { limit };

	snprintf(limit, sizeof(limit), "%d", FIRE_BATCH);
	db_query(e->db, fire_sql, 1, params, fired, e);
}

static void
loaded(PGresult *res, void *arg)
{
	struct escalation *e = arg;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("escalation: cannot load the pending deadlines (SQLSTATE %s); the "
		    "sweep fires them", db_sqlstate(res));
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
		timers_schedule(e->timers, strtoll(PQgetvalue(res, i, 0), NULL, 10));
	log_info("escalation: %d pending deadlines loaded", PQntuples(res));
}

static void
policy_written(PGresult *res, void *arg)
{
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		log_error("escalation: the new policy was not stored (SQLSTATE %s)", db_sqlstate(res));
}

static void
write_policy(struct escalation *e, const struct config *cfg)
{
	char *pol = escalation_policy_json(cfg);
	const char *params[1] = { pol };

	db_query(e->db, escalation_policy_sql, 1, params, policy_written, e);
	free(pol);
}

/* --- public ------------------------------------------------------------ */

struct escalation *
escalation_new(struct event_base *base, struct db *db, const struct config *cfg, char *err,
    size_t errlen)
{
	struct escalation *e = xcalloc(1, sizeof(*e));

	e->fd = -1;
	e->db = db;
	if (open_log(e, cfg->escalation_log, err, errlen) != 0) {
		free(e);
		return NULL;
	}
	e->timers = timers_new(base, due, e);
	return e;
}

void
escalation_start(struct escalation *e)
{
	db_query(e->db, load_sql, 0, NULL, loaded, e);
}

void
escalation_schedule(struct escalation *e, int64_t at_ms)
{
	timers_schedule(e->timers, at_ms);
}

int
escalation_configure(struct escalation *e, const struct config *cfg, char *err, size_t errlen)
{
	write_policy(e, cfg);
	return open_log(e, cfg->escalation_log, err, errlen);
}

void
escalation_on_fire(struct escalation *e, void (*fn)(void *), void *arg)
{
	e->on_fire = fn;
	e->on_fire_arg = arg;
}

void
escalation_stop(struct escalation *e)
{
	timers_stop(e->timers);
}

void
escalation_free(struct escalation *e)
{
	if (e == NULL)
		return;
	timers_free(e->timers);
	if (e->fd >= 0)
		close(e->fd);
	free(e->path);
	free(e);
}
