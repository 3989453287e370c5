/*
 * migrate.c: brings a database's schema to this build's. Tables and domains
 * come from numbered migrations (src/sql/migrations/), each applied once
 * and recorded with its checksum; functions and views come from files by
 * job (src/sql/functions/), replaced every time. All of it under one
 * advisory lock, so that daemons starting together do it once.
 */
#include "migrate.h"

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "notify.h"

#define MIGRATE_LOCK "111111"
/* Seconds asked of systemd's start timeout before each step. */
#define MIGRATE_STEP_S 300

/* What the migrations apply to is recorded here (checksum: sha256 of the
 * file's text, hex; 'legacy' for the rows of 0.1.0 and before). */
static const char BOOKKEEPING[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, "
    "applied_at timestamptz NOT NULL DEFAULT now());"
    "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text;";

#define SHA256_OF(p) "encode(sha256(convert_to(" p ", 'UTF8')), 'hex')"

/* The h111_ functions that this transaction did not (re)create are left
 * from an older build: they go. */
static const char SWEEP[] =
    "DO $$ DECLARE f regprocedure; BEGIN "
    "FOR f IN SELECT p.oid FROM pg_proc p "
    "WHERE p.pronamespace = current_schema()::regnamespace "
    "AND p.proname LIKE 'h111\\_%' AND p.xmin <> pg_current_xact_id()::xid LOOP "
    "RAISE NOTICE 'dropping function %', f; "
    "EXECUTE format('DROP FUNCTION %s', f); END LOOP; END $$";

/* Every h111_ function, before creating them afresh: the way past a
 * signature that CREATE OR REPLACE cannot change (a return type). */
static const char DROP_ALL[] = "DO $$ DECLARE f regprocedure; BEGIN "
                               "FOR f IN SELECT p.oid FROM pg_proc p "
                               "WHERE p.pronamespace = current_schema()::regnamespace "
                               "AND p.proname LIKE 'h111\\_%' LOOP "
                               "EXECUTE format('DROP FUNCTION %s', f); END LOOP; END $$";

static int dropped; /* functions the sweep dropped, from its notices */

/* Runs one statement; 1 ok, 2 ok with a row, 0 failed (err says why). */
static int
exec_ok(
    PGconn *c, const char *sql, int nparams, const char *const *params, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	else if (st == PGRES_TUPLES_OK)
		ok = PQntuples(r) > 0 ? 2 : 1;
	PQclear(r);
	return ok;
}

/* Our own SQL files are trusted text, so each runs as a script. */
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

static void
rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

/*
 * A database made before migrations were frozen (its schema_migrations
 * name 001_init and on) is brought to the baseline's tables and recorded
 * as having it. Its old rows stay, renamed legacy:NAME: a daemon of 0.1.0
 * then finds 001_init unapplied, fails to create what exists, and refuses
 * to start on a schema it does not know (and to mask nothing in its queue).
 */
static int
adopt_legacy(PGconn *c, char *err, size_t errlen)
{
	const char *base[2] = {migrations[0].name, migrations[0].sql};
	int legacy = exec_ok(c,
	    "SELECT 1 FROM schema_migrations WHERE name = '001_init' "
	    "AND NOT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)",
	    1, base, err, errlen);

	if (legacy != 2)
		return legacy;
	notify_status("upgrading a database of hotline111 0.1 or before");
	if (!run_script(c, sql_legacy, err, errlen) ||
	    !exec_ok(c,
	        "UPDATE schema_migrations SET name = 'legacy:' || name, "
	        "checksum = 'legacy' WHERE checksum IS NULL",
	        0, NULL, err, errlen) ||
	    !exec_ok(c,
	        "INSERT INTO schema_migrations (name, checksum) VALUES ($1, " SHA256_OF(
	            "$2::text") ")",
	        2, base, err, errlen))
		return 0;
	log_info("database: tables of hotline111 0.1 or before brought to %s", base[0]);
	return 1;
}

/* A database upgraded by a newer build has migrations this one lacks. */
static int
check_unknown(PGconn *c, char *err, size_t errlen)
{
	char names[2048] = "{";
	const char *p[1] = {names};
	PGresult *r;
	int ok;

	for (const struct migration *m = migrations; m->name != NULL; m++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
		    m == migrations ? "" : ",", m->name);
	strncat(names, "}", sizeof(names) - strlen(names) - 1);
	r = PQexecParams(c,
	    "SELECT min(name) FROM schema_migrations WHERE checksum <> 'legacy' "
	    "AND name <> ALL ($1::text[])",
	    1, NULL, p, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	else if (!PQgetisnull(r, 0, 0)) {
		snprintf(err, errlen,
		    "the database has migration %s, which this hotline111d does "
		    "not know: a newer version upgraded it; run that version (or newer)",
		    PQgetvalue(r, 0, 0));
		ok = 0;
	}
	PQclear(r);
	return ok;
}

/* 1 applied, 0 applied before and unchanged, -1 failed or changed. */
static int
apply_one(PGconn *c, const struct migration *m, char *err, size_t errlen)
{
	const char *p[2] = {m->name, m->sql};
	PGresult *r;

	r = PQexecParams(c,
	    "SELECT checksum, " SHA256_OF("$2::text") " FROM schema_migrations "
	                                              "WHERE name = $1",
	    2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) == 1) {
		int same = strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) == 0;
		if (!same)
			snprintf(err, errlen,
			    "src/sql/migrations/%s.sql has changed since it was "
			    "applied to this database (sha256 %.12s then, %.12s in this build): a "
			    "released migration never changes; build with the file as released "
			    "(git checkout v<the release> -- src/sql/migrations/%s.sql) and put "
			    "the "
			    "change in a new numbered migration",
			    m->name, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), m->name);
		PQclear(r);
		return same ? 0 : -1;
	}
	PQclear(r);
	notify_extend_timeout(MIGRATE_STEP_S);
	notify_status("applying migration %s", m->name);
	if (!exec_ok(c, "BEGIN", 0, NULL, err, errlen) || !run_script(c, m->sql, err, errlen) ||
	    !exec_ok(c,
	        "INSERT INTO schema_migrations (name, checksum) VALUES ($1, " SHA256_OF(
	            "$2::text") ")",
	        2, p, err, errlen) ||
	    !exec_ok(c, "COMMIT", 0, NULL, err, errlen)) {
		char why[400];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "migration src/sql/migrations/%s.sql: %s", m->name, why);
		rollback(c);
		return -1;
	}
	log_info("database: applied migration %s", m->name);
	return 1;
}

static int
create_functions(PGconn *c, int drop_first, char *err, size_t errlen)
{
	if (!exec_ok(c, "BEGIN", 0, NULL, err, errlen) ||
	    (drop_first && !run_script(c, DROP_ALL, err, errlen)))
		goto fail;
	for (const struct migration *f = sql_functions; f->name != NULL; f++) {
		if (!run_script(c, f->sql, err, errlen)) {
			char why[400];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "src/sql/functions/%s.sql: %s", f->name, why);
			goto fail;
		}
	}
	dropped = 0;
	if (!run_script(c, SWEEP, err, errlen) || !exec_ok(c, "COMMIT", 0, NULL, err, errlen))
		goto fail;
	return 1;
fail:
	rollback(c);
	return 0;
}

/* Notices are for debugging, but for the sweep's, which are counted. */
static void
notice(void *arg, const char *message)
{
	if (strstr(message, "dropping function") != NULL) {
		dropped++;
		log_info("database: %.*s", (int)strcspn(message, "\n"), message);
	} else
		log_debug("database: %.*s", (int)strcspn(message, "\n"), message);
}

static int
migrate_locked(PGconn *c, char *err, size_t errlen)
{
	int applied = 0, rc;

	if (!exec_ok(c, "BEGIN", 0, NULL, err, errlen) ||
	    !run_script(c, BOOKKEEPING, err, errlen) || (rc = adopt_legacy(c, err, errlen)) == 0 ||
	    !check_unknown(c, err, errlen) || !exec_ok(c, "COMMIT", 0, NULL, err, errlen)) {
		rollback(c);
		return -1;
	}
	for (const struct migration *m = migrations; m->name != NULL; m++) {
		if ((rc = apply_one(c, m, err, errlen)) < 0)
			return -1;
		applied += rc;
	}
	notify_extend_timeout(MIGRATE_STEP_S);
	notify_status("replacing the database functions");
	if (!create_functions(c, 0, err, errlen)) {
		log_info(
		    "database: functions not replaceable in place (%.*s); creating them afresh",
		    (int)strcspn(err, "\n"), err);
		if (!create_functions(c, 1, err, errlen))
			return -1;
	}
	if (dropped > 0)
		log_info("database: dropped %d functions no file defines any more", dropped);
	return applied;
}

int
migrate_apply(void *pgconn, char *err, size_t errlen)
{
	PGconn *c = pgconn;
	int applied;

	if (errlen > 0)
		err[0] = '\0';
	PQsetNoticeProcessor(c, notice, NULL);
	if (!exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", 0, NULL, err, errlen)) {
		err[strcspn(err, "\n")] = '\0';
		return -1;
	}
	applied = migrate_locked(c, err, errlen);
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")"));
	err[strcspn(err, "\n")] = '\0';
	return applied;
}
