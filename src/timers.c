/*
 * timers.c: a binary min-heap of moments and one libevent timer armed for
 * the earliest. When it fires, everything due is popped and the owner is
 * asked to look (escalation.c claims the due deadlines in the database);
 * while it looks, new moments only join the heap. A sweep every
 * SWEEP_SECONDS asks anyway.
 */
#include "timers.h"

#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "xmalloc.h"

#define SWEEP_SECONDS 5

struct timers {
	struct event_base *base;
	timers_due_fn *due;
	void *arg;
	timers_clock_fn *clock;
	struct timers_heap heap;
	struct event *ev;
	struct event *sweep;
	int64_t armed_at; /* INT64_MAX: not armed */
	int busy;         /* the owner is looking */
	int again;        /* something came due while it looked */
	int stopped;
};

/* --- heap -------------------------------------------------------------- */

void
timers_heap_push(struct timers_heap *h, int64_t at)
{
	size_t i;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 1024;
		h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
	}
	for (i = h->n++; i > 0 && h->v[(i - 1) / 2] > at; i = (i - 1) / 2)
		h->v[i] = h->v[(i - 1) / 2];
	h->v[i] = at;
}

int64_t
timers_heap_top(const struct timers_heap *h)
{
	return h->n ? h->v[0] : INT64_MAX;
}

int64_t
timers_heap_pop(struct timers_heap *h)
{
	int64_t top = h->v[0], last = h->v[--h->n];
	size_t i = 0, child;

	while ((child = 2 * i + 1) < h->n) {
		if (child + 1 < h->n && h->v[child + 1] < h->v[child])
			child++;
		if (last <= h->v[child])
			break;
		h->v[i] = h->v[child];
		i = child;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

void
timers_heap_free(struct timers_heap *h)
{
	free(h->v);
	*h = (struct timers_heap){ 0 };
}

/* --- scheduling -------------------------------------------------------- */

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
arm(struct timers *t)
{
	int64_t top = timers_heap_top(&t->heap), wait;
	struct timeval tv;

	if (t->stopped || t->busy || top == t->armed_at)
		return;
	if (top == INT64_MAX) {
		event_del(t->ev);
		t->armed_at = INT64_MAX;
		return;
	}
	wait = top - t->clock();
	wait = wait < 0 ? 0 : wait;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	event_add(t->ev, &tv);
	t->armed_at = top;
}

static void
look(struct timers *t)
{
	int64_t now = t->clock();

	while (timers_heap_top(&t->heap) <= now)
		timers_heap_pop(&t->heap);
	t->busy = 1;
	t->again = 0;
	event_del(t->ev);
	t->armed_at = INT64_MAX;
	t->due(t->arg);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timers *t = arg;

	t->armed_at = INT64_MAX;
	if (t->busy)
		t->again = 1;
	else
		look(t);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	timer_cb(fd, what, arg);
}

struct timers *
timers_new(struct event_base *base, timers_due_fn *due, void *arg)
{
	struct timers *t = xcalloc(1, sizeof(*t));
	struct timeval sweep = { SWEEP_SECONDS, 0 };

	t->base = base;
	t->due = due;
	t->arg = arg;
	t->clock = wall_ms;
	t->armed_at = INT64_MAX;
	t->ev = evtimer_new(base, timer_cb, t);
	t->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, t);
	event_add(t->sweep, &sweep);
	return t;
}

void
timers_set_clock(struct timers *t, timers_clock_fn *clock)
{
	t->clock = clock;
}

void
timers_schedule(struct timers *t, int64_t at_ms)
{
	timers_heap_push(&t->heap, at_ms);
	arm(t);
}

void
timers_fired(struct timers *t, int more_due)
{
	t->busy = 0;
	if (t->stopped)
		return;
	if (more_due || t->again || timers_heap_top(&t->heap) <= t->clock())
		look(t);
	else
		arm(t);
}

size_t
timers_pending(const struct timers *t)
{
	return t->heap.n;
}

void
timers_stop(struct timers *t)
{
	t->stopped = 1;
	event_del(t->ev);
	event_del(t->sweep);
}

void
timers_free(struct timers *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	event_free(t->sweep);
	timers_heap_free(&t->heap);
	free(t);
}
