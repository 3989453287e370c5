/*
 * escalation.h: deadlines that pass become escalations. Claims due
 * deadlines in PostgreSQL (h111_fire: FOR UPDATE SKIP LOCKED, one
 * transaction with the escalation rows), writes each to the escalation log
 * (JSON Lines that supervisors tail, hotline111d(8)) and to the daemon's
 * log, and keeps timers.c told of the next moment.
 */
#ifndef HOTLINE111_ESCALATION_H
#define HOTLINE111_ESCALATION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"

struct event_base;
struct db;
struct escalation;

/* Opens the log; NULL with err when it cannot be opened. */
struct escalation *escalation_new(struct event_base *base, struct db *db,
    const struct config *cfg, char *err, size_t errlen);
/* Loads every pending deadline's next moment into the heap. */
void escalation_start(struct escalation *e);
/* A case's deadlines next need attention at at_ms. */
void escalation_schedule(struct escalation *e, int64_t at_ms);
/* On reload: writes the new policy and reopens the log (for logrotate). */
int escalation_configure(struct escalation *e, const struct config *cfg, char *err,
    size_t errlen);
/* fn is called after escalations were recorded (their notifications wait). */
void escalation_on_fire(struct escalation *e, void (*fn)(void *), void *arg);
void escalation_stop(struct escalation *e);
void escalation_free(struct escalation *e);

/* The policy as the database functions read it (settings 'escalation'). */
char *escalation_policy_json(const struct config *cfg);
/* SQL that stores it, with the policy as $1. */
extern const char escalation_policy_sql[];
/* One escalation log line from an h111_fire record, caller masked; '\n'-ended. */
char *escalation_log_line(const json_t *record);

#endif
