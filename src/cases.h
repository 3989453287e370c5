/*
 * cases.h: what an event says about its case before it is stored: the
 * triage decision the store applies (raise-only) in the same transaction.
 */
#ifndef HOTLINE111_CASES_H
#define HOTLINE111_CASES_H

#include <jansson.h>

#include "protocol.h"

struct triage_rules;
struct cases;

/* The notes of recent tickets, for reading a case whole (cases.c). */
struct cases *cases_new(void);
void cases_free(struct cases *c);

/*
 * The decision for ev, as {"priority":N,"category":C|null,"rules":[…],
 * "tags":[…],"why":{…}}, or NULL when the event carries nothing to
 * triage (no text, IVR digits, age or category). A ticket's text is read
 * after the notes its ticket sent before (c may be NULL: this event
 * alone); ticket.closed forgets them.
 */
json_t *cases_decide(struct cases *c, const struct triage_rules *rules, const struct event *ev);
/* The decision for a note typed at the console. */
json_t *cases_decide_text(const struct triage_rules *rules, const char *text);
/*
 * The decision for a whole case as the database holds it, when an answer
 * is given at the console: ctx is {"text":…,"category":…,"child_age":N,
 * "ivr":…,"line":…,"queue":…,"province":…,"answers":{…}} (any may be
 * null or absent). The input priority is 4, as for every event, so that a
 * `raise` counts once however often the case is read again.
 */
json_t *cases_decide_case(const struct triage_rules *rules, const json_t *ctx);

#endif
