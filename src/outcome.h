/*
 * outcome.h: the outcomes a case closes with, the one table of the C side
 * (the bridge's ticket.closed, the console's close and its client). The
 * database's is the domain h111_outcome (src/sql/migrations/003_outcome.sql);
 * tests/integration/test_schema.py holds the two to the same list.
 */
#ifndef HOTLINE111_OUTCOME_H
#define HOTLINE111_OUTCOME_H

#include <stddef.h>
#include <string.h>

#define OUTCOMES(X) X(referred) X(counselled) X(resolved) X(no_action) X(duplicate)

#define OUTCOME_BAR_(n) "|" #n
#define OUTCOME_COMMA_(n) ", " #n
#define OUTCOME_NAME_(n) #n,
/* "referred|counselled|resolved|no_action|duplicate", for usage lines */
#define OUTCOME_CHOICES (OUTCOMES(OUTCOME_BAR_) + 1)
/* "referred, counselled, resolved, no_action, duplicate", for messages */
#define OUTCOME_LIST (OUTCOMES(OUTCOME_COMMA_) + 2)

static inline int
outcome_known(const char *s)
{
	static const char *const all[] = {OUTCOMES(OUTCOME_NAME_) NULL};

	for (size_t i = 0; s != NULL && all[i] != NULL; i++)
		if (strcmp(all[i], s) == 0)
			return 1;
	return 0;
}

#endif
