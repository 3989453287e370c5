/* migrate.c: applies src/sql/ migrations once each, in order. */
#include "migrate.h"

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"

#define MIGRATE_LOCK "111111"

static int
exec_ok(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
    size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	else if (st == PGRES_TUPLES_OK)
		ok = PQntuples(r) > 0 ? 2 : 1; /* 2: the query found a row */
	PQclear(r);
	return ok;
}

/* The migration's own SQL is trusted text of ours, so it runs as a script. */
static int
run_script(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

static int
apply_one(PGconn *c, const struct migration *m, char *err, size_t errlen)
{
	const char *name[1] = { m->name };
	int found;

	if (!exec_ok(c, "BEGIN", 0, NULL, err, errlen) ||
	    !exec_ok(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0, NULL, err, errlen) ||
	    !exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, "
	        "applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL, err, errlen))
		goto fail;
	found = exec_ok(c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, name, err,
	    errlen);
	if (found == 0)
		goto fail;
	if (found == 1 && (!run_script(c, m->sql, err, errlen) ||
	    !exec_ok(c, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, name, err,
	        errlen)))
		goto fail;
	if (!exec_ok(c, "COMMIT", 0, NULL, err, errlen))
		goto fail;
	return found == 1;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}

/* Server notices ("already exists, skipping") are for debugging only. */
static void
notice(void *arg, const char *message)
{
	log_debug("database: %.*s", (int)strcspn(message, "\n"), message);
}

int
migrate_apply(void *pgconn, char *err, size_t errlen)
{
	PGconn *c = pgconn;
	int applied = 0;

	PQsetNoticeProcessor(c, notice, NULL);
	for (const struct migration *m = migrations; m->name != NULL; m++) {
		char why[400];
		int rc = apply_one(c, m, why, sizeof(why));
		if (rc < 0) {
			why[strcspn(why, "\n")] = '\0';
			snprintf(err, errlen, "migration %s: %s", m->name, why);
			return -1;
		}
		if (rc == 1)
			log_info("database: applied migration %s", m->name);
		applied += rc;
	}
	return applied;
}
