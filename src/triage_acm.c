/*
 * triage_acm.c: one Aho-Corasick automaton over the bytes of folded
 * text, built from every phrase of a rules file. A note is scanned once,
 * whatever the number of rules.
 */
#include <stdlib.h>
#include <string.h>

#include "triage_int.h"
#include "xmalloc.h"

#define ACM_OUT 0x80000000u /* in a dense entry: the target has output */
/*
 * Transitions kept as a full table (4 bytes each). A shipped rules file
 * needs a few hundred thousand; past the budget, deeper states fall back
 * to child lists and failure links, slower but bounded in memory.
 */
#define DENSE_MAX (4u << 20)
/*
 * The scan is bound by the latency of one table load per byte. Texts
 * past LANE_MIN bytes are cut into LANES pieces scanned side by side,
 * so that the loads of the pieces overlap.
 */
#define LANES 4
#define LANE_MIN 128

struct trie {
	uint32_t *first, *sibling; /* child lists while building */
	uint8_t *cls;
	int32_t *out;
	uint32_t n, cap;
};

static uint32_t
trie_node(struct trie *t, uint8_t cls)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->first = xreallocarray(t->first, t->cap, sizeof(*t->first));
		t->sibling = xreallocarray(t->sibling, t->cap, sizeof(*t->sibling));
		t->cls = xreallocarray(t->cls, t->cap, sizeof(*t->cls));
		t->out = xreallocarray(t->out, t->cap, sizeof(*t->out));
	}
	t->first[t->n] = t->sibling[t->n] = 0;
	t->cls[t->n] = cls;
	t->out[t->n] = -1;
	return t->n++;
}

static void
trie_insert(struct trie *t, const struct acm *a, const struct phrase *p, int32_t id)
{
	uint32_t s = 0;

	for (size_t i = 0; i < p->len; i++) {
		uint8_t x = a->cls[(unsigned char)p->text[i]];
		uint32_t c;

		for (c = t->first[s]; c != 0 && t->cls[c] != x; c = t->sibling[c])
			;
		if (c == 0) {
			c = trie_node(t, x);
			t->sibling[c] = t->first[s];
			t->first[s] = c;
		}
		s = c;
	}
	t->out[s] = id;
}

static void
acm_alloc(struct acm *a, uint32_t n)
{
	a->nstates = n;
	a->fail = xcalloc(n, sizeof(*a->fail));
	a->child = xcalloc(n, sizeof(*a->child));
	a->nchild = xcalloc(n, sizeof(*a->nchild));
	a->in_cls = xcalloc(n, sizeof(*a->in_cls));
	a->out = xcalloc(n, sizeof(*a->out));
	a->next_out = xcalloc(n, sizeof(*a->next_out));
}

/* Renumber the trie breadth-first, so a state's children are adjacent
 * and every failure link points to an earlier state. */
static void
acm_from_trie(struct acm *a, const struct trie *t)
{
	uint32_t *queue = xcalloc(t->n, sizeof(*queue));
	uint32_t head = 0, tail = 1;

	acm_alloc(a, t->n);
	queue[0] = 0;
	a->out[0] = -1;
	while (head < tail) {
		uint32_t old = queue[head], s = head++;

		a->child[s] = tail;
		for (uint32_t c = t->first[old]; c != 0; c = t->sibling[c]) {
			a->in_cls[tail] = t->cls[c];
			a->out[tail] = t->out[c];
			queue[tail++] = c;
			a->nchild[s]++;
		}
	}
	free(queue);
}

static uint32_t
acm_goto(const struct acm *a, uint32_t s, uint8_t x)
{
	for (uint32_t c = a->child[s]; c < a->child[s] + a->nchild[s]; c++)
		if (a->in_cls[c] == x)
			return c;
	return 0;
}

static void
acm_links(struct acm *a)
{
	for (uint32_t s = 0; s < a->nstates; s++) {
		for (uint32_t c = a->child[s]; c < a->child[s] + a->nchild[s]; c++) {
			uint32_t f = a->fail[s], g = 0;

			while (s != 0 && (g = acm_goto(a, f, a->in_cls[c])) == 0 && f != 0)
				f = a->fail[f];
			a->fail[c] = g;
			a->next_out[c] = a->out[g] >= 0 ? g : a->next_out[g];
		}
	}
}

static uint32_t
acm_flag(const struct acm *a, uint32_t s)
{
	return a->out[s] >= 0 || a->next_out[s] != 0 ? s | ACM_OUT : s;
}

/* Full rows for the first states: row(s) is row(fail(s)) with s's own
 * edges written over it. */
static void
acm_dense(struct acm *a)
{
	uint32_t nc = a->nclass;

	a->ndense = a->nstates < DENSE_MAX / nc ? a->nstates : DENSE_MAX / nc;
	a->dense = xcalloc((size_t)a->ndense * nc, sizeof(*a->dense));
	for (uint32_t s = 0; s < a->ndense; s++) {
		uint32_t *row = a->dense + (size_t)s * nc;

		if (s != 0)
			memcpy(row, a->dense + (size_t)a->fail[s] * nc, nc * sizeof(*row));
		for (uint32_t c = a->child[s]; c < a->child[s] + a->nchild[s]; c++)
			row[a->in_cls[c]] = acm_flag(a, c);
	}
}

void
acm_build(struct acm *a, const struct phrase *ph, uint32_t n)
{
	struct trie t = {0};
	uint8_t used[256] = {0};

	for (uint32_t p = 0; p < n; p++)
		for (size_t i = 0; i < ph[p].len; i++)
			used[(unsigned char)ph[p].text[i]] = 1;
	a->nclass = 1;
	for (int b = 0; b < 256; b++)
		a->cls[b] = used[b] ? (uint8_t)a->nclass++ : 0;
	trie_node(&t, 0);
	for (uint32_t p = 0; p < n; p++)
		trie_insert(&t, a, &ph[p], (int32_t)p);
	acm_from_trie(a, &t);
	free(t.first);
	free(t.sibling);
	free(t.cls);
	free(t.out);
	acm_links(a);
	acm_dense(a);
}

void
acm_free(struct acm *a)
{
	free(a->dense);
	free(a->fail);
	free(a->child);
	free(a->nchild);
	free(a->in_cls);
	free(a->out);
	free(a->next_out);
}

static inline uint32_t
acm_step(const struct acm *a, uint32_t s, uint8_t x)
{
	while (s >= a->ndense) {
		uint32_t c = acm_goto(a, s, x);

		if (c != 0)
			return acm_flag(a, c);
		s = a->fail[s];
	}
	return a->dense[(size_t)s * a->nclass + x];
}

/* Each phrase ending at state s, which ends at byte i. */
static void
report(const struct acm *a, uint32_t s, size_t i, void (*hit)(void *, uint32_t, size_t), void *ctx)
{
	for (uint32_t p = a->out[s] >= 0 ? s : a->next_out[s]; p != 0; p = a->next_out[p])
		hit(ctx, (uint32_t)a->out[p], i);
}

static void
scan_range(const struct acm *a, const char *text, size_t from, size_t to,
    void (*hit)(void *, uint32_t, size_t), void *ctx)
{
	uint32_t s = 0;

	for (size_t i = from; i < to; i++) {
		uint32_t e = acm_step(a, s, a->cls[(unsigned char)text[i]]);

		s = e & ~ACM_OUT;
		if (e & ACM_OUT)
			report(a, s, i, hit, ctx);
	}
}

/*
 * The text is cut into pieces, each scanned from the root starting
 * max_phrase bytes early so that it sees every phrase ending inside it;
 * a phrase in the overlap is reported twice.
 */
void
acm_scan(const struct acm *a, size_t max_phrase, const char *text, size_t len,
    void (*hit)(void *, uint32_t, size_t), void *ctx)
{
	size_t pos[LANES], end[LANES], steps = len;
	uint32_t s[LANES] = {0};

	if (len < LANE_MIN || len / LANES <= max_phrase) {
		scan_range(a, text, 0, len, hit, ctx);
		return;
	}
	for (int k = 0; k < LANES; k++) {
		size_t b = len * (size_t)k / LANES;

		pos[k] = b > max_phrase ? b - max_phrase : 0;
		end[k] = len * (size_t)(k + 1) / LANES;
		if (end[k] - pos[k] < steps)
			steps = end[k] - pos[k];
	}
	for (size_t i = 0; i < steps; i++) {
		for (int k = 0; k < LANES; k++) {
			uint32_t e = acm_step(a, s[k], a->cls[(unsigned char)text[pos[k] + i]]);

			s[k] = e & ~ACM_OUT;
			if (e & ACM_OUT)
				report(a, s[k], pos[k] + i, hit, ctx);
		}
	}
	/* The lanes' tails, each from the state it reached. */
	for (int k = 0; k < LANES; k++) {
		for (size_t i = pos[k] + steps; i < end[k]; i++) {
			uint32_t e = acm_step(a, s[k], a->cls[(unsigned char)text[i]]);

			s[k] = e & ~ACM_OUT;
			if (e & ACM_OUT)
				report(a, s[k], i, hit, ctx);
		}
	}
}
