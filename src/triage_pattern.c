/*
 * triage_pattern.c: the words of a rules file: phrases, word classes,
 * shorthand and patterns, compiled into the phrases the automaton finds
 * and the atoms and patterns matched over them (hotline111-rules(5)).
 *
 * In a version 2 file a text condition's string is a pattern:
 *   plain words         one phrase: "uống thuốc ngủ"
 *   @class              any phrase of a word class: "@hit"
 *   (a | b c | @x)      any of these
 *   _{m,n}  _           m to n other words; exactly one
 *   X?                  the atom before may be left out
 * In a version 1 file it is a plain phrase, whatever it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "textnorm.h"
#include "triage_int.h"
#include "xmalloc.h"

/* Fold a phrase as notes are folded, shorthand expanded. */
static char *
fold_phrase(const struct triage_rules *r, const char *v, size_t vlen, size_t *len)
{
	char *f = textnorm_fold(v, vlen, len), *x;

	if (r->nshort == 0)
		return f;
	x = triage_expand(r, f, *len, len);
	free(f);
	return x;
}

static uint32_t
count_words(const char *f, size_t len)
{
	uint32_t n = 0;

	for (size_t i = 1; i < len; i++)
		n += f[i] == ' ';
	return n;
}

/* The phrase id of v (folded here), interned. */
static int
intern_phrase(struct loader *l, const config_setting_t *s, const char *v, size_t vlen,
    uint32_t *id)
{
	struct triage_rules *r = l->r;
	size_t len;
	char *f = fold_phrase(r, v, vlen, &len);
	int k;

	if (!textnorm_has_word(f)) {
		free(f);
		return lerr(l, s, "phrase \"%.*s\" has no letters or digits", (int)vlen, v);
	}
	if (len > MAX_PHRASE) {
		free(f);
		return lerr(l, s, "phrase longer than %d bytes", MAX_PHRASE);
	}
	if ((k = strmap_get(&r->phrasemap, f, len)) < 0) {
		if (r->phrase_bytes + len > MAX_PHRASES) {
			free(f);
			return lerr(l, s, "phrases exceed %u bytes in all", MAX_PHRASES);
		}
		k = (int)r->nphrases;
		r->phrases = xreallocarray(r->phrases, r->nphrases + 1, sizeof(*r->phrases));
		r->phrases[k] = (struct phrase){.text = f, .len = len, .nwords = count_words(f, len)};
		if (r->phrases[k].nwords > r->max_words)
			r->max_words = r->phrases[k].nwords;
		r->nphrases++;
		if (len > r->max_phrase)
			r->max_phrase = len;
		r->phrase_bytes += len;
		strmap_add(&r->phrasemap, f, len, k);
	} else
		free(f);
	*id = (uint32_t)k;
	return 0;
}

static uint32_t
new_atom(struct triage_rules *r)
{
	r->atoms = xreallocarray(r->atoms, r->natoms + 1, sizeof(*r->atoms));
	r->atoms[r->natoms] = (struct atom){NULL, 0};
	return r->natoms++;
}

static int
id_order(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends; pattern_index() sorts and dedupes every atom once. */
static void
atom_add(struct atom *a, const uint32_t *ph, uint32_t n)
{
	a->ph = xreallocarray(a->ph, a->n + n, sizeof(*a->ph));
	memcpy(a->ph + a->n, ph, n * sizeof(*ph));
	a->n += n;
}

static void
atom_settle(struct atom *a)
{
	uint32_t o = 0;

	qsort(a->ph, a->n, sizeof(*a->ph), id_order);
	for (uint32_t i = 0; i < a->n; i++)
		if (o == 0 || a->ph[o - 1] != a->ph[i])
			a->ph[o++] = a->ph[i];
	a->n = o;
}

/* "@name" (len bytes from v) to its class's atom. */
static int
class_ref(struct loader *l, const config_setting_t *s, const char *v, size_t len, uint32_t *atom)
{
	int k = len > 1 ? strmap_get(&l->r->classmap, v + 1, len - 1) : -1;

	if (k < 0)
		return lerr(l, s, "unknown word class '%.*s' (classes are defined in 'words', "
		                  "before they are used)", (int)len, v);
	*atom = l->r->classatom[k];
	return 0;
}

/* One alternative, "@x" or plain words, into atom a. */
static int
add_alternative(struct loader *l, const config_setting_t *s, const char *v, size_t len,
    uint32_t a)
{
	struct triage_rules *r = l->r;
	uint32_t id;

	while (len > 0 && *v == ' ')
		v++, len--;
	while (len > 0 && v[len - 1] == ' ')
		len--;
	if (len == 0)
		return lerr(l, s, "empty alternative in \"%s\"", config_setting_get_string(s));
	if (*v == '@') {
		if (class_ref(l, s, v, len, &id) < 0)
			return -1;
		if (id != a)
			atom_add(&r->atoms[a], r->atoms[id].ph, r->atoms[id].n);
		return 0;
	}
	if (strpbrk(v, "@_()|?") != NULL && (size_t)(strpbrk(v, "@_()|?") - v) < len)
		return lerr(l, s, "an alternative is plain words or one @class");
	if (intern_phrase(l, s, v, len, &id) < 0)
		return -1;
	atom_add(&r->atoms[a], &id, 1);
	return 0;
}

/* --- patterns ------------------------------------------------------------ */

struct pbuild {
	struct pattern *p;
	int gmin, gmax; /* the gap before the next atom */
	int gap;        /* a gap was written since the last atom */
};

static int
push_atom(struct loader *l, const config_setting_t *s, struct pbuild *b, uint32_t atom)
{
	struct pattern_item *it;

	if (b->p->n == PAT_ATOMS)
		return lerr(l, s, "more than %d parts in a pattern", PAT_ATOMS);
	if (b->gmax > PAT_MAX_GAP)
		return lerr(l, s, "a gap of more than %d words", PAT_MAX_GAP);
	it = &b->p->item[b->p->n++];
	it->atom = atom;
	it->gmin = (uint8_t)b->gmin;
	it->gmax = (uint8_t)b->gmax;
	it->opt = 0;
	b->gmin = b->gmax = b->gap = 0;
	return 0;
}

/* "_{m,n}" or "_" at v[*i]. */
static int
read_gap(struct loader *l, const config_setting_t *s, const char *v, size_t *i, struct pbuild *b)
{
	int m = 1, n = 1, used = 0;

	if (v[*i + 1] == '{') {
		if (sscanf(v + *i, "_{%d,%d}%n", &m, &n, &used) != 2 || used == 0 || m < 0 ||
		    n < m || n > PAT_MAX_GAP)
			return lerr(l, s, "a gap is _ or _{m,n} with 0 <= m <= n <= %d", PAT_MAX_GAP);
		*i += (size_t)used;
	} else
		(*i)++;
	if (b->p->n == 0)
		return lerr(l, s, "a pattern cannot begin with a gap");
	b->gmin += m;
	b->gmax += n;
	b->gap = 1;
	return 0;
}

/* "(a | b c | @x)" at v[*i]: a new atom. */
static int
read_group(struct loader *l, const config_setting_t *s, const char *v, size_t *i, uint32_t *atom)
{
	const char *end = strchr(v + *i, ')'), *p = v + *i + 1;

	if (end == NULL || memchr(p, '(', (size_t)(end - p)) != NULL)
		return lerr(l, s, "'(' without its ')' (groups do not nest)");
	*atom = new_atom(l->r);
	while (p <= end) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		const char *stop = bar != NULL ? bar : end;

		if (add_alternative(l, s, p, (size_t)(stop - p), *atom) < 0)
			return -1;
		p = stop + 1;
	}
	*i = (size_t)(end - v) + 1;
	return 0;
}

/* Plain words up to the next syntax character: one phrase, one atom. */
static int
read_words(struct loader *l, const config_setting_t *s, const char *v, size_t *i, uint32_t *atom)
{
	size_t j = *i + strcspn(v + *i, "@_()|?");
	uint32_t id;

	while (j > *i && v[j - 1] == ' ')
		j--;
	if (intern_phrase(l, s, v + *i, j - *i, &id) < 0)
		return -1;
	*atom = new_atom(l->r);
	atom_add(&l->r->atoms[*atom], &id, 1);
	*i = j;
	return 0;
}

static int
read_item(struct loader *l, const config_setting_t *s, const char *v, size_t *i, struct pbuild *b)
{
	uint32_t atom = NO_ATOM;
	char c = v[*i];

	if (c == '_')
		return read_gap(l, s, v, i, b);
	if (c == '?') {
		if (b->p->n < 2 || b->gap)
			return lerr(l, s, "'?' must follow a part other than the first, not a gap");
		b->p->item[b->p->n - 1].opt = 1;
		(*i)++;
		return 0;
	}
	if (c == ')' || c == '|')
		return lerr(l, s, "'%c' outside a group", c);
	if (c == '(') {
		if (read_group(l, s, v, i, &atom) < 0)
			return -1;
	} else if (c == '@') {
		size_t n = 1 + strspn(v + *i + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                                  "0123456789_-");

		if (class_ref(l, s, v + *i, n, &atom) < 0)
			return -1;
		*i += n;
	} else if (read_words(l, s, v, i, &atom) < 0)
		return -1;
	return push_atom(l, s, b, atom);
}

static int
compile(struct loader *l, const config_setting_t *s, const char *v, struct pattern *p)
{
	struct pbuild b = {p, 0, 0, 0};
	size_t i = 0, len = strlen(v);
	uint32_t atom = NO_ATOM;

	if (l->r->version < 2) {
		/* Version 1: the whole string is one phrase. */
		uint32_t id;

		if (intern_phrase(l, s, v, len, &id) < 0)
			return -1;
		atom = new_atom(l->r);
		atom_add(&l->r->atoms[atom], &id, 1);
		return push_atom(l, s, &b, atom);
	}
	while (i < len) {
		if (v[i] == ' ')
			i++;
		else if (read_item(l, s, v, &i, &b) < 0)
			return -1;
	}
	if (p->n == 0)
		return lerr(l, s, "\"%s\" has no letters or digits", v);
	if (b.gap)
		return lerr(l, s, "a pattern cannot end with a gap");
	return 0;
}

int
pattern_compile(struct loader *l, const config_setting_t *s, const char *v, uint32_t *pid)
{
	struct triage_rules *r = l->r;
	struct pattern *p;

	r->pats = xreallocarray(r->pats, r->npats + 1, sizeof(*r->pats));
	p = &r->pats[r->npats++];
	memset(p, 0, sizeof(*p));
	p->src = xstrdup(v);
	*pid = r->npats - 1;
	return compile(l, s, v, p);
}

/* --- word classes -------------------------------------------------------- */

static int
load_class(struct loader *l, const config_setting_t *g)
{
	struct triage_rules *r = l->r;
	const char *name = config_setting_name(g), *v;
	uint32_t atom;
	int n;

	if (!config_setting_is_array(g) && !config_setting_is_list(g))
		return lerr(l, g, "word class '%s' must be a list of phrases", name);
	if ((n = config_setting_length(g)) == 0)
		return lerr(l, g, "word class '%s' is empty", name);
	if (r->nclasses == MAX_CLASSES)
		return lerr(l, g, "more than %d word classes", MAX_CLASSES);
	atom = new_atom(r);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(g, i);

		if (triage_get_string(l, e, name, &v) < 0 ||
		    add_alternative(l, e, v, strlen(v), atom) < 0)
			return -1;
	}
	r->classnames = xreallocarray(r->classnames, r->nclasses + 1, sizeof(*r->classnames));
	r->classatom = xreallocarray(r->classatom, r->nclasses + 1, sizeof(*r->classatom));
	r->classnames[r->nclasses] = xstrdup(name);
	r->classatom[r->nclasses] = atom;
	if (strmap_add(&r->classmap, r->classnames[r->nclasses], strlen(name),
	        (int)r->nclasses) >= 0)
		return lerr(l, g, "word class '%s' defined twice", name);
	r->nclasses++;
	return 0;
}

int
words_load(struct loader *l, const config_setting_t *s)
{
	if (!config_setting_is_group(s))
		return lerr(l, s, "'words' must be a group { name = [ … ]; … }");
	for (int i = 0; i < config_setting_length(s); i++)
		if (load_class(l, config_setting_get_elem(s, i)) < 0)
			return -1;
	return 0;
}

/* --- shorthand ----------------------------------------------------------- */

static int
load_short(struct loader *l, const config_setting_t *e)
{
	struct triage_rules *r = l->r;
	const char *from, *to;
	char *f, *t;
	size_t flen, tlen;

	if (!config_setting_is_array(e) || config_setting_length(e) != 2)
		return lerr(l, e, "a shorthand entry is [ \"short\", \"what it stands for\" ]");
	if (triage_get_string(l, config_setting_get_elem(e, 0), "shorthand", &from) < 0 ||
	    triage_get_string(l, config_setting_get_elem(e, 1), "shorthand", &to) < 0)
		return -1;
	f = textnorm_fold(from, strlen(from), &flen);
	t = textnorm_fold(to, strlen(to), &tlen);
	if (count_words(f, flen) != 1 || !textnorm_has_word(t)) {
		free(f);
		free(t);
		return lerr(l, e, "shorthand \"%s\" must be one word, standing for words", from);
	}
	/* kept without the spaces around */
	memmove(f, f + 1, flen - 2);
	f[flen - 2] = '\0';
	memmove(t, t + 1, tlen - 2);
	t[tlen - 2] = '\0';
	if (strmap_get(&r->shortmap, f, flen - 2) >= 0) {
		free(f);
		free(t);
		return lerr(l, e, "shorthand \"%s\" given twice", from);
	}
	r->shortfrom[r->nshort] = f;
	r->shortto[r->nshort] = t;
	strmap_add(&r->shortmap, f, flen - 2, (int)r->nshort);
	r->nshort++;
	if (flen - 2 > r->short_maxlen)
		r->short_maxlen = flen - 2;
	if (tlen - 2 > r->short_maxto)
		r->short_maxto = tlen - 2;
	return 0;
}

int
shorthand_load(struct loader *l, const config_setting_t *s)
{
	struct triage_rules *r = l->r;
	int n;

	if (!config_setting_is_list(s))
		return lerr(l, s, "'shorthand' must be a list ( [ \"ko\", \"không\" ], … )");
	if ((n = config_setting_length(s)) > MAX_SHORTHAND)
		return lerr(l, s, "more than %d shorthand entries", MAX_SHORTHAND);
	r->shortfrom = xcalloc((size_t)n + 1, sizeof(*r->shortfrom));
	r->shortto = xcalloc((size_t)n + 1, sizeof(*r->shortto));
	for (int i = 0; i < n; i++)
		if (load_short(l, config_setting_get_elem(s, i)) < 0)
			return -1;
	return 0;
}

/* Atoms sorted and deduped; each phrase learns the atoms that hold it,
 * and whether it is a compound. */
void
pattern_index(struct triage_rules *r)
{
	for (uint32_t a = 0; a < r->natoms; a++) {
		atom_settle(&r->atoms[a]);
		for (uint32_t k = 0; k < r->atoms[a].n; k++) {
			struct phrase *p = &r->phrases[r->atoms[a].ph[k]];

			p->atoms = xreallocarray(p->atoms, p->natoms + 1, sizeof(*p->atoms));
			p->atoms[p->natoms++] = a;
		}
	}
	for (uint32_t k = 0; r->cmp_atom != NO_ATOM && k < r->atoms[r->cmp_atom].n; k++)
		r->phrases[r->atoms[r->cmp_atom].ph[k]].compound = 1;
	r->atom_words = (r->natoms + 63) / 64;
}
