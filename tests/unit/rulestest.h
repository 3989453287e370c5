/*
 * rulestest.h: what the unit tests of the rules loader (test_rules2.c,
 * test_questions.c) share: a rules text loaded from memory as the file
 * RULESTEST_NAME, and a refusal checked word for word.
 */
#ifndef HOTLINE111_RULESTEST_H
#define HOTLINE111_RULESTEST_H

#include "triage.h"

#define RULESTEST_NAME "t.conf"

/* The rules, or the running cmocka test fails with the loader's error. */
struct triage_rules *rulestest_load(const char *text);

/*
 * 1 when the load fails with exactly want ("t.conf:LINE: message");
 * otherwise 0, having printed what the loader did instead.
 */
int rulestest_refused_as(const char *text, const char *want);

#endif
