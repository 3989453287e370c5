/*
 * console.h: the operators' and supervisors' socket (doc/console-protocol.md,
 * hotline111(1)). Identity from SO_PEERCRED mapped through
 * console.operators; one table of commands; replies in request order;
 * alerts for consoles that tail, fed by PostgreSQL LISTEN/NOTIFY so that a
 * console on any daemon sees changes made through every other.
 */
#ifndef HOTLINE111_CONSOLE_H
#define HOTLINE111_CONSOLE_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"

struct event_base;
struct console;

/* What the console needs from the rest of the daemon. */
struct console_hooks {
	json_t *(*status)(void *arg);                     /* daemon figures */
	int (*reload)(void *arg, char *err, size_t errlen); /* rules count, or -1 */
	json_t *(*decide)(const char *text, void *arg);   /* triage of a note */
	int (*category_ok)(const char *id, void *arg);
	/* the key questions of the running rules, a new JSON array */
	json_t *(*questions)(void *arg);
	/* answers checked against them: 0, or -1 with why in err */
	int (*answers_check)(const json_t *answers, char *err, size_t len, void *arg);
	/* triage of a whole case, from h111_case_context's object */
	json_t *(*decide_case)(const json_t *ctx, void *arg);
	/* the running rules' categories and their labels, a new {id: label} */
	json_t *(*labels)(void *arg);
	void *arg;
};

struct console *console_new(struct event_base *base, const struct config *cfg,
    const struct console_hooks *hooks);
/* Connects to the database once its schema is ready. Until then a request
 * that needs it is answered unavailable at once, and status comes without
 * the database's figures. */
void console_open(struct console *c);
/* Opens console.listen (Unix sockets only); -1 with err. */
int console_listen(struct console *c, const struct config *cfg, char *err, size_t errlen);
/* Applies console.operators after a reload. Like console_new(), it borrows
 * cfg's operator list: the caller keeps cfg alive until the next call. */
void console_configure(struct console *c, const struct config *cfg);
int console_db_up(const struct console *c);
/* Console connections open. */
size_t console_clients(const struct console *c);
void console_stop(struct console *c);
void console_free(struct console *c);

#endif
