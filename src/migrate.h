/* migrate.h: the database schema, carried in the binary (src/sql/). */
#ifndef HOTLINE111_MIGRATE_H
#define HOTLINE111_MIGRATE_H

#include <stddef.h>

struct migration {
	const char *name; /* the file's name without .sql */
	const char *sql;
};

/*
 * Generated from src/sql/ by src/sql/embed.sh, each ending with
 * { NULL, NULL }: the numbered migrations (tables, domains; frozen once
 * released), in order, and the function files by job (replaced at every
 * start), in the order they are applied.
 */
extern const struct migration migrations[];
extern const struct migration sql_functions[];
/* Brings the tables of a database made by 0.1.0 or before to the baseline. */
extern const char sql_legacy[];

/*
 * On a blocking connection, under an advisory lock (daemons starting
 * together do it once): adopts a database of 0.1.0 or before, applies each
 * migration not yet recorded (each in its own transaction, its checksum
 * recorded), refuses a recorded one whose text has changed or one this
 * build does not know, then replaces every function in one transaction and
 * drops those no file defines any more. Reports progress to systemd.
 * Returns how many migrations ran, or -1 with err (one line).
 */
int migrate_apply(void *pgconn, char *err, size_t errlen);

#endif
