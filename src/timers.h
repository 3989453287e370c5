/*
 * timers.h: when to look at the deadlines. The deadlines themselves live in
 * PostgreSQL; in memory a heap of the moments they need attention feeds one
 * libevent timer, and a slow sweep catches what the heap never heard of
 * (deadlines armed by another daemon on the same database).
 */
#ifndef HOTLINE111_TIMERS_H
#define HOTLINE111_TIMERS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct timers;

/* Called when something may be due; timers_fired() must follow once done. */
typedef void timers_due_fn(void *arg);
typedef int64_t timers_clock_fn(void);

struct timers *timers_new(struct event_base *base, timers_due_fn *due, void *arg);
/* Tests inject a clock (wall time in milliseconds); the default reads CLOCK_REALTIME. */
void timers_set_clock(struct timers *t, timers_clock_fn *clock);
/* Something needs attention at at_ms (wall clock, ms since the epoch). */
void timers_schedule(struct timers *t, int64_t at_ms);
/* The due callback finished; more_due: call it again at once. */
void timers_fired(struct timers *t, int more_due);
/* Pending moments in the heap. */
size_t timers_pending(const struct timers *t);
/* Stops the timer and the sweep (at shutdown). */
void timers_stop(struct timers *t);
void timers_free(struct timers *t);

/* The heap alone, for tests. */
struct timers_heap {
	int64_t *v;
	size_t n, cap;
};
void timers_heap_push(struct timers_heap *h, int64_t at);
int64_t timers_heap_top(const struct timers_heap *h); /* INT64_MAX when empty */
int64_t timers_heap_pop(struct timers_heap *h);
void timers_heap_free(struct timers_heap *h);

#endif
