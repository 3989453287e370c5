/*
 * triage_match.c: a note as the rules see it, and patterns matched over
 * it.
 *
 * A note is folded with its sentence ends kept (textnorm.h), its
 * shorthand expanded word by word ("ko" is "khong"), and cut into words.
 * One pass of the automaton lists every phrase occurrence with its first
 * and last word. A pattern is then a walk over those occurrences: atom
 * after atom, each starting within its gap of the last, all in one
 * sentence. Only the occurrences are walked, never the text again.
 */
#include <stdlib.h>
#include <string.h>

#include "textnorm.h"
#include "triage_int.h"
#include "xmalloc.h"

#define MAX_AGE 25          /* a number past this is not a child's age */
#define WALK_MEMO 64        /* walk steps before failures are remembered */
#define BIT(v, i) (((v)[(i) / 64] >> ((i) % 64)) & 1)

/*
 * Each word of a folded text, or its shorthand expansion: " ko thay " is
 * " khong thay ". Returns a string from xmalloc and its length.
 */
char *
triage_expand(const struct triage_rules *r, const char *src, size_t len, size_t *outlen)
{
	/* every word at most 1 byte and a space, each expanding fully */
	size_t o = 0, room = len + (len / 2 + 1) * (r->short_maxto + 1);
	char *out = xmalloc(room + 2);

	out[o++] = ' ';
	for (size_t i = 1; i < len;) {
		size_t j = i, k = 0;
		int id = -1;

		while (j < len && src[j] != ' ')
			j++;
		if (j - i <= r->short_maxlen)
			id = strmap_get(&r->shortmap, src + i, j - i);
		if (id >= 0 && o + (k = strlen(r->shortto[id])) + 1 <= room) {
			memcpy(out + o, r->shortto[id], k);
			o += k;
		} else {
			memcpy(out + o, src + i, j - i);
			o += j - i;
		}
		out[o++] = ' ';
		i = j + 1;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* Words, their sentences, and which word each space starts: the
 * automaton reports a phrase by the space that ends it. */
static void
index_words(struct note *n)
{
	uint32_t k = 0, s = 0;

	n->sp = xmalloc((n->len / 2 + 2) * 2 * sizeof(*n->sp) + n->len * sizeof(*n->sp));
	n->sent = n->sp + n->len / 2 + 2;
	n->wordof = n->sent + n->len / 2 + 2;
	for (size_t i = 0; i + 1 < n->len; i++) {
		if (n->text[i] != ' ')
			continue;
		n->wordof[i] = k;
		/* a "," keeps phrases apart but takes nothing from a gap */
		if (n->text[i + 1] == ',' && n->text[i + 2] == ' ')
			continue;
		n->sp[k] = (uint32_t)i;
		n->sent[k] = s;
		if (n->text[i + 1] == '.' && n->text[i + 2] == ' ')
			s++;
		k++;
	}
	n->sp[k] = (uint32_t)(n->len - 1);
	n->wordof[n->len - 1] = k;
	n->nwords = k;
}

/* Word k's letters: up to its space, not to the next word's (a ","
 * may stand between them). */
static uint32_t
word_len(const struct note *n, uint32_t k)
{
	const char *w = n->text + n->sp[k] + 1, *end = memchr(w, ' ', n->sp[k + 1] - n->sp[k]);

	return end != NULL ? (uint32_t)(end - w) : n->sp[k + 1] - n->sp[k] - 1;
}

static int
word_is(const struct note *n, uint32_t k, const char *w)
{
	return k < n->nwords && word_len(n, k) == strlen(w) &&
	       memcmp(n->text + n->sp[k] + 1, w, strlen(w)) == 0;
}

/* A number of one or two digits at the start of word k, and its length. */
static int
number_at(const struct note *n, uint32_t k, size_t *digits)
{
	const char *w = n->text + n->sp[k] + 1;
	size_t d = 0;

	while (d < word_len(n, k) && d < 3 && w[d] >= '0' && w[d] <= '9')
		d++;
	*digits = d;
	return d == 0 || d > 2 ? -1 : atoi(w);
}

/* "bé 5 tháng": months are an age after a word for a child. */
static int
baby_before(const struct note *n, uint32_t k)
{
	return k > 0 && (word_is(n, k - 1, "be") || word_is(n, k - 1, "con") ||
	                    word_is(n, k - 1, "chau") || word_is(n, k - 1, "em"));
}

/*
 * "4t", "4 tuoi", "4 t", "5 thang" (months: age 0): the youngest age the
 * note gives, -1 if none. Shorthand has already made "4t" whole words.
 */
static void
read_age(struct note *n)
{
	n->age = -1;
	for (uint32_t k = 0; k < n->nwords; k++) {
		size_t d;
		int v = number_at(n, k, &d), age = -1;
		const char *rest = n->text + n->sp[k] + 1 + d;
		size_t rlen = word_len(n, k) - (d > 0 ? d : 0);

		if (v < 0)
			continue;
		if ((rlen == 1 && rest[0] == 't') || (rlen == 4 && memcmp(rest, "tuoi", 4) == 0))
			age = v;
		else if (rlen == 0 && (word_is(n, k + 1, "tuoi") || word_is(n, k + 1, "t")))
			age = v;
		else if (rlen == 0 && word_is(n, k + 1, "thang"))
			age = word_is(n, k + 2, "tuoi") || baby_before(n, k) ? 0 : -1;
		else if (rlen == 5 && memcmp(rest, "thang", 5) == 0)
			age = word_is(n, k + 1, "tuoi") || baby_before(n, k) ? 0 : -1;
		if (age >= 0 && age <= MAX_AGE && (n->age < 0 || age < n->age))
			n->age = age;
	}
}

/* The automaton found phrase ph ending at byte end: note it, let in
 * the rules it gates. */
static void
hit(void *ctx, uint32_t ph, size_t end)
{
	struct note *n = ctx;
	const struct phrase *p = &n->r->phrases[ph];
	uint32_t j = n->wordof[end]; /* phrases end with a space */

	if (n->nocc == n->capocc) {
		n->capocc = n->capocc ? n->capocc * 2 : 32;
		n->occ = xreallocarray(n->occ, n->capocc, sizeof(*n->occ));
	}
	n->occ[n->nocc++] = (struct occ){ph, j - p->nwords, j - 1};
	if (BIT(n->present, ph))
		return;
	n->present[ph / 64] |= 1ull << (ph % 64);
	for (uint32_t k = 0; k < p->natoms; k++)
		n->atomset[p->atoms[k] / 64] |= 1ull << (p->atoms[k] % 64);
	for (uint32_t k = 0; k < p->nrules; k++)
		n->cand[p->rules[k] / 64] |= 1ull << (p->rules[k] % 64);
}

static int
occ_order(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->ph != y->ph)
		return x->ph < y->ph ? -1 : 1;
	return 0;
}

/*
 * Occurrences by start word (a counting sort: the automaton gives them
 * by end, in interleaved lanes), then by phrase within a start, and the
 * duplicates that overlapping lanes report taken out.
 */
static void
sort_occ(struct note *n)
{
	uint32_t *first = xcalloc(n->nwords + 2, sizeof(*first)), o = 0;
	struct occ *by = xreallocarray(NULL, n->nocc ? n->nocc : 1, sizeof(*by));

	for (uint32_t i = 0; i < n->nocc; i++)
		first[n->occ[i].start + 1]++;
	for (uint32_t w = 0; w <= n->nwords; w++)
		first[w + 1] += first[w];
	for (uint32_t i = 0; i < n->nocc; i++)
		by[first[n->occ[i].start]++] = n->occ[i];
	free(first);
	/* only within a start word is there any order left to make */
	for (uint32_t i = 1; i < n->nocc; i++) {
		struct occ x = by[i];
		uint32_t j = i;

		for (; j > 0 && occ_order(&by[j - 1], &x) > 0; j--)
			by[j] = by[j - 1];
		by[j] = x;
	}
	for (uint32_t i = 0; i < n->nocc; i++)
		if (o == 0 || occ_order(&by[o - 1], &by[i]) != 0)
			by[o++] = by[i]; /* else a lane's overlap saw it too */
	free(n->occ);
	n->occ = by;
	n->nocc = o;
	n->capocc = o;
}

/* The first occurrence starting at word lo or later. */
static uint32_t
first_from(const struct note *n, uint32_t lo)
{
	uint32_t a = 0, b = n->nocc;

	while (a < b) {
		uint32_t mid = (a + b) / 2;

		if (n->occ[mid].start < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

#define SHADOWED 0x80000000u

/*
 * A compound is one thing: the words inside "nhà trẻ" or "bà hàng xóm"
 * do not stand on their own, so "ở nhà" and "bà" are dropped where they
 * overlap one. A longer phrase that holds the compound stays, and so do
 * other compounds.
 */
static void
drop_shadowed(struct note *n)
{
	const struct phrase *ph = n->r->phrases;
	uint32_t o = 0, marked = 0;

	for (uint32_t i = 0; i < n->nocc; i++) {
		const struct occ *y = &n->occ[i];

		if (!ph[y->ph & ~SHADOWED].compound)
			continue;
		uint32_t back = n->r->max_words;

		for (uint32_t k = first_from(n, y->start > back ? y->start - back : 0);
		     k < n->nocc && n->occ[k].start <= y->end; k++) {
			struct occ *x = &n->occ[k];

			if (x->end < y->start || ph[x->ph & ~SHADOWED].compound ||
			    (x->start <= y->start && x->end >= y->end))
				continue;
			x->ph |= SHADOWED;
			marked++;
		}
	}
	if (marked == 0)
		return;
	for (uint32_t i = 0; i < n->nocc; i++)
		if (!(n->occ[i].ph & SHADOWED))
			n->occ[o++] = n->occ[i];
	n->nocc = o;
}

/* Atom a's place among the atoms present: lists exist for those only. */
static uint32_t
rank(const struct note *n, uint32_t a)
{
	return n->arank[a];
}

/*
 * Where each atom stands: aocc[aoff[rank(a)] .. aoff[rank(a) + 1]) are
 * the occurrences of atom a's phrases, by start word. Patterns walk these
 * lists, never the whole note.
 */
static void
index_atoms(struct note *n)
{
	const struct triage_rules *r = n->r;
	uint32_t total = 0, present = 0;

	/* set for the atoms present only: nothing reads the others */
	n->arank = xreallocarray(NULL, (size_t)r->atom_words * 64 + 1, sizeof(*n->arank));
	for (uint32_t w = 0; w < r->atom_words; w++)
		for (uint64_t v = n->atomset[w]; v != 0; v &= v - 1)
			n->arank[w * 64 + (uint32_t)__builtin_ctzll(v)] = present++;
	n->aoff = xcalloc(present + 1, sizeof(*n->aoff));
	for (uint32_t k = 0; k < n->nocc; k++) {
		const struct phrase *p = &r->phrases[n->occ[k].ph];

		for (uint32_t j = 0; j < p->natoms; j++)
			n->aoff[rank(n, p->atoms[j]) + 1]++;
		total += p->natoms;
	}
	for (uint32_t a = 0; a < present; a++)
		n->aoff[a + 1] += n->aoff[a];
	n->aocc = xcalloc(total ? total : 1, sizeof(*n->aocc));
	/* filled back to front so that each list stays in start order */
	for (uint32_t k = n->nocc; k-- > 0;) {
		const struct phrase *p = &r->phrases[n->occ[k].ph];

		for (uint32_t j = 0; j < p->natoms; j++)
			n->aocc[--n->aoff[rank(n, p->atoms[j]) + 1]] = k;
	}
	/* the decrements left aoff[i + 1] at list i's start: shift down */
	for (uint32_t a = 0; a < present; a++)
		n->aoff[a] = n->aoff[a + 1];
	n->aoff[present] = total;
}

/* Atom a's occurrences starting at word lo or later: [*k, end). */
static uint32_t
atom_from(const struct note *n, uint32_t a, uint32_t lo, uint32_t *end)
{
	uint32_t i, j;

	if (!BIT(n->atomset, a)) {
		*end = 0;
		return 0;
	}
	i = n->aoff[rank(n, a)];
	j = n->aoff[rank(n, a) + 1];
	*end = j;
	while (i < j) {
		uint32_t mid = (i + j) / 2;

		if (n->occ[n->aocc[mid]].start < lo)
			i = mid + 1;
		else
			j = mid;
	}
	return i;
}

void
note_read(struct note *n, const struct triage_rules *r, const char *text, uint64_t *bits)
{
	char *folded = NULL;
	size_t cap = 0, len;

	memset(n, 0, sizeof(*n));
	n->r = r;
	n->present = bits;
	n->cand = bits + r->phrase_words;
	n->atomset = n->cand + r->rule_words;
	len = textnorm_fold_sentences(text, text ? strlen(text) : 0, &folded, &cap);
	n->folded = folded;
	n->flen = len;
	if (r->nshort > 0)
		n->text = triage_expand(r, folded, len, &n->len);
	else {
		n->text = folded;
		n->len = len;
	}
	index_words(n);
	n->age = -1;
	if (r->ages)
		read_age(n);
	acm_scan(&r->acm, r->max_phrase, n->text, n->len, hit, n);
	sort_occ(n);
	if (r->cmp_atom != NO_ATOM && BIT(n->atomset, r->cmp_atom))
		drop_shadowed(n);
	index_atoms(n);
}

void
note_free(struct note *n)
{
	if (n->folded != n->text)
		free(n->folded);
	free(n->text);
	free(n->sp);
	free(n->occ);
	free(n->aoff);
	free(n->aocc);
	free(n->arank);
}

/*
 * How a walk remembers: once the rest of a pattern failed after atom i
 * took occurrence k, it fails again whatever path led there (the rest
 * depends only on k), so a walk is polynomial, not exponential, in the
 * gaps. The table is made only when a walk gets long.
 */
struct walk {
	uint32_t steps;
	uint64_t *failed; /* bit i * nocc + k */
};

static int
failed_before(const struct note *n, const struct walk *w, uint32_t i, uint32_t k)
{
	return w->failed != NULL && BIT(w->failed, (size_t)i * n->nocc + k);
}

static void
mark_failed(const struct note *n, const struct pattern *p, struct walk *w, uint32_t i, uint32_t k)
{
	size_t bit = (size_t)i * n->nocc + k;

	if (w->failed == NULL && w->steps > WALK_MEMO)
		w->failed = xcalloc(((size_t)p->n * n->nocc + 63) / 64, sizeof(*w->failed));
	if (w->failed != NULL)
		w->failed[bit / 64] |= 1ull << (bit % 64);
}

/* An occurrence of atom i of p starting in [lo, hi], in the sentence
 * of the first. */
static int
walk(const struct note *n, const struct pattern *p, uint32_t i, uint32_t lo, uint32_t hi,
    struct span *m, struct walk *w)
{
	uint32_t end, j;

	if (i == p->n)
		return 1;
	w->steps++;
	for (j = atom_from(n, p->item[i].atom, lo, &end); j < end; j++) {
		uint32_t k = n->aocc[j];
		const struct occ *o = &n->occ[k];

		if (o->start > hi)
			break;
		if (n->sent[o->start] != n->sent[n->occ[m->occ[0]].start] ||
		    failed_before(n, w, i, k))
			continue;
		m->occ[i] = k;
		if (i + 1 == p->n ||
		    walk(n, p, i + 1, o->end + 1 + p->item[i + 1].gmin,
		        o->end + 1 + p->item[i + 1].gmax, m, w))
			return 1;
		mark_failed(n, p, w, i, k);
	}
	if (!p->item[i].opt)
		return 0;
	m->occ[i] = NO_ATOM;
	if (i + 1 == p->n)
		return 1;
	return walk(n, p, i + 1, lo + p->item[i + 1].gmin, hi + p->item[i + 1].gmax, m, w);
}

static int
in_atoms(const struct note *n, const struct span *m, uint32_t word)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const struct occ *o = m->occ[i] == NO_ATOM ? NULL : &n->occ[m->occ[i]];

		if (o != NULL && word >= o->start && word <= o->end)
			return 1;
	}
	return 0;
}

/* A "," between word a and a later word b: "khong ai can, nhanh len". */
static int
comma_between(const struct note *n, uint32_t a, uint32_t b)
{
	size_t from = n->sp[a] + 1 + word_len(n, a);

	return n->sp[b] > from && memchr(n->text + from, ',', n->sp[b] - from) != NULL;
}

/*
 * A negator cancels a match when it ends at most scope words before the
 * match, in its clause (no comma between), or stands in one of the
 * match's gaps: "khong bi ai xam hai", "ba khong co danh em".
 */
static int
negated(const struct note *n, const struct span *m)
{
	const struct triage_rules *r = n->r;
	uint32_t s = m->start, from;

	uint32_t end, j;

	if (r->neg_atom == NO_ATOM || !BIT(n->atomset, r->neg_atom))
		return 0;
	from = s > (uint32_t)r->neg_scope + r->max_words
	           ? s - (uint32_t)r->neg_scope - r->max_words
	           : 0;
	for (j = atom_from(n, r->neg_atom, from, &end); j < end; j++) {
		const struct occ *o = &n->occ[n->aocc[j]];

		if (o->start > m->end)
			break;
		if (n->sent[o->start] != n->sent[s])
			continue;
		if (o->start < s && o->end + 1 + (uint32_t)r->neg_scope >= s &&
		    !comma_between(n, o->end, s))
			return 1;
		if (o->start > s && !in_atoms(n, m, o->start))
			return 1;
	}
	return 0;
}

/* A resolution within scope words on either side, in any sentence:
 * "mat tich tu sang . da tim thay chau roi". */
static int
resolved(const struct note *n, const struct span *m)
{
	const struct triage_rules *r = n->r;
	uint32_t sc = (uint32_t)r->res_scope;
	uint32_t from = m->start > sc + r->max_words ? m->start - sc - r->max_words : 0, end, j;

	if (r->res_atom == NO_ATOM || !BIT(n->atomset, r->res_atom))
		return 0;
	for (j = atom_from(n, r->res_atom, from, &end); j < end; j++) {
		const struct occ *o = &n->occ[n->aocc[j]];

		if (o->start > m->end + sc + 1)
			break;
		if (o->end + 1 + sc >= m->start && !in_atoms(n, m, o->start))
			return 1;
	}
	return 0;
}

static void
bounds(const struct note *n, struct span *m)
{
	m->start = UINT32_MAX;
	m->end = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct occ *o = m->occ[i] == NO_ATOM ? NULL : &n->occ[m->occ[i]];

		if (o != NULL && o->start < m->start)
			m->start = o->start;
		if (o != NULL && o->end > m->end)
			m->end = o->end;
	}
}

/* Each match of pattern pid that no negator cancels, given to fn until
 * it returns 1; returns that 1, or 0. */
int
note_each(const struct note *n, uint32_t pid, int negation,
    int (*fn)(void *, const struct span *), void *ctx)
{
	const struct pattern *p = &n->r->pats[pid];
	uint32_t a = p->item[0].atom, end;
	struct walk w = {0, NULL};
	struct span m;
	int done = 0;

	m.n = p->n;
	for (uint32_t i = 0; i < p->n; i++)
		if (!p->item[i].opt && !BIT(n->atomset, p->item[i].atom))
			return 0;
	for (uint32_t j = atom_from(n, a, 0, &end); j < end; j++) {
		uint32_t k = n->aocc[j];

		m.occ[0] = k;
		if (p->n > 1 &&
		    !walk(n, p, 1, n->occ[k].end + 1 + p->item[1].gmin,
		        n->occ[k].end + 1 + p->item[1].gmax, &m, &w))
			continue;
		bounds(n, &m);
		if (negation && negated(n, &m)) {
			if (n->negated != NULL)
				(*n->negated)++;
			continue;
		}
		m.resolved = resolved(n, &m);
		if ((done = fn(ctx, &m)))
			break;
	}
	free(w.failed);
	return done;
}

/* "bi … quanh": the words of each atom matched, gaps shown as "…". */
void
note_words(const struct note *n, const struct span *m, char *buf, size_t len)
{
	size_t o = 0;
	uint32_t last = UINT32_MAX;

	buf[0] = '\0';
	for (uint32_t i = 0; i < m->n && len > 0; i++) {
		const struct occ *oc = m->occ[i] == NO_ATOM ? NULL : &n->occ[m->occ[i]];
		size_t from, to;

		if (oc == NULL)
			continue;
		from = n->sp[oc->start] + 1;
		to = n->sp[oc->end] + 1 + word_len(n, oc->end);
		if (o > 0 && o + 1 < len)
			buf[o++] = ' ';
		if (last != UINT32_MAX && oc->start > last + 1 && o + 4 < len) {
			memcpy(buf + o, "\xe2\x80\xa6 ", 4); /* … */
			o += 4;
		}
		if (o + (to - from) + 1 > len)
			break;
		memcpy(buf + o, n->text + from, to - from);
		o += to - from;
		last = oc->end;
	}
	buf[o < len ? o : len - 1] = '\0';
}
