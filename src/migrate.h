/* migrate.h: the versioned schema, carried in the binary (src/sql/). */
#ifndef HOTLINE111_MIGRATE_H
#define HOTLINE111_MIGRATE_H

#include <stddef.h>

struct migration {
	const char *name;
	const char *sql;
};

/* Generated from the files in src/sql/, in order; ends with { NULL, NULL }. */
extern const struct migration migrations[];

/*
 * Applies, on a blocking connection, every migration not yet recorded in
 * schema_migrations, each in its own transaction under an advisory lock so
 * that daemons starting together apply it once. Returns how many ran, or
 * -1 with err.
 */
int migrate_apply(void *pgconn, char *err, size_t errlen);

#endif
