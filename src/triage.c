/*
 * triage.c: the triage rule engine. See triage.h for the contract and
 * hotline111-rules(5) for the file format.
 *
 * Load: libconfig parses, the key tables below validate and build rules;
 * every phrase of every rule is folded once and interned, and all of
 * them go into one Aho-Corasick automaton over bytes of folded text.
 * Eval: fold the text, run the automaton once to get the set of phrases
 * present, and from their posting lists the set of rules worth a look;
 * then check those rules' conditions, in file order.
 */
#include "triage.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <libconfig.h>
#include <pcre2.h>
#include <utf8proc.h>

#include "log.h"
#include "textnorm.h"
#include "xmalloc.h"

#define MAX_CATEGORIES 1000
#define MAX_NAME 64            /* rule names, category ids, tags */
#define MAX_PHRASE 256         /* bytes of one folded phrase */
#define MAX_PHRASES (1u << 20) /* bytes of all distinct folded phrases */
#define MAX_IVR 32
#define NO_FLOOR 5               /* a rule without `priority` */
#define REGEX_MATCH_LIMIT 100000 /* keeps a bad regex from stalling eval */
#define REGEX_DEPTH_LIMIT 10000
/*
 * Transitions kept as a full table (4 bytes each). A shipped rules file
 * needs a few hundred thousand; past the budget, deeper states fall back
 * to child lists and failure links, slower but bounded in memory.
 */
#define DENSE_MAX (4u << 20)
#define STACK_WORDS 256 /* per-call bitmaps up to this many words */
/*
 * The scan is bound by the latency of one table load per byte. Texts
 * past LANE_MIN bytes are cut into LANES pieces scanned side by side,
 * so that the loads of the pieces overlap.
 */
#define LANES 4
#define LANE_MIN 128

/* --- a string-to-int map with borrowed keys (open addressing) ------------ */

struct strmap_slot {
	const char *key; /* NULL: empty */
	uint32_t len;
	uint32_t hash;
	int value;
};

struct strmap {
	struct strmap_slot *slot;
	uint32_t cap; /* a power of two, or 0 */
	uint32_t n;
};

static uint32_t
hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct strmap_slot *
strmap_slot(const struct strmap *m, const char *k, size_t len, uint32_t h)
{
	uint32_t i = h & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		struct strmap_slot *s = &m->slot[i];

		if (s->key == NULL ||
		    (s->hash == h && s->len == len && memcmp(s->key, k, len) == 0))
			return s;
	}
}

static int
strmap_get(const struct strmap *m, const char *k, size_t len)
{
	struct strmap_slot *s;

	if (m->cap == 0)
		return -1;
	s = strmap_slot(m, k, len, hash_bytes(k, len));
	return s->key != NULL ? s->value : -1;
}

static void
strmap_grow(struct strmap *m)
{
	struct strmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->slot = xcalloc(m->cap, sizeof(*m->slot));
	for (uint32_t i = 0; i < old.cap; i++)
		if (old.slot[i].key != NULL)
			*strmap_slot(m, old.slot[i].key, old.slot[i].len, old.slot[i].hash) =
			    old.slot[i];
	free(old.slot);
}

/* Insert k -> value unless k is there: returns its value, else -1. */
static int
strmap_add(struct strmap *m, const char *k, size_t len, int value)
{
	uint32_t h = hash_bytes(k, len);
	struct strmap_slot *s;

	if ((m->n + 1) * 2 > m->cap)
		strmap_grow(m);
	s = strmap_slot(m, k, len, h);
	if (s->key != NULL)
		return s->value;
	*s = (struct strmap_slot){k, (uint32_t)len, h, value};
	m->n++;
	return -1;
}

static void
strmap_free(struct strmap *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

/* --- the rules object ---------------------------------------------------- */

struct category {
	char *id;
	char *label;
	char *chi; /* or NULL */
	unsigned line;
};

struct phrase {
	char *text; /* folded, " word word " */
	size_t len;
	uint32_t *rules; /* rules this phrase can let in, ascending */
	uint32_t nrules;
};

/* Condition kinds, in the order a rule checks them: cheapest first. */
enum cond_type {
	COND_TEXT_ALL,
	COND_TEXT_ANY,
	COND_TEXT_NONE,
	COND_IVR,
	COND_LINE,
	COND_QUEUE,
	COND_AGE,
	COND_CATEGORY,
	COND_REPEAT,
	COND_MONTHS,
	COND_HOURS,
	COND_PROVINCE,
	COND_REGEX,
	COND_NTYPES
};

struct cond {
	enum cond_type type;
	uint32_t n; /* entries in ids or strs */
	/* text_all: phrase groups, each holding when any of its phrases
	 * is present; group g is ids[ends[g - 1]] .. ids[ends[g] - 1]. */
	uint32_t *ends;
	uint32_t ngroups;
	union {
		uint32_t *ids; /* phrases, categories */
		char **strs;   /* ivr prefixes, lines, queues, folded provinces */
		pcre2_code *re;
		int range[2];    /* child_age [min, max]; hours [from, to) */
		unsigned months; /* bit m set for month m, 1..12 */
		struct {
			int cases;
			int days;
		} repeat;
	} u;
};

struct rule {
	char *name;
	unsigned line;
	struct cond *conds;
	uint32_t nconds;
	int category;      /* action: index, or -1 */
	int priority;      /* action: floor 1..4, or NO_FLOOR */
	int raise;         /* action: levels, or 0 */
	const char **tags; /* interned in triage_rules.tags */
	uint32_t ntags;
};

/* One Aho-Corasick automaton over bytes, states in breadth-first order. */
#define ACM_OUT 0x80000000u /* in a dense entry: the target has output */

struct acm {
	uint8_t cls[256]; /* byte -> class; 0 for bytes in no phrase */
	uint32_t nclass;
	uint32_t nstates;
	uint32_t ndense; /* states 0..ndense-1 have a dense row */
	uint32_t *dense; /* ndense * nclass entries */
	uint32_t *fail;
	uint32_t *child; /* first child; a state's children are adjacent */
	uint16_t *nchild;
	uint8_t *in_cls;    /* class of the edge into the state */
	int32_t *out;       /* phrase ending here, or -1 */
	uint32_t *next_out; /* nearest proper suffix with output, 0 if none */
};

struct triage_rules {
	struct category *cats;
	int ncats;
	struct strmap catmap;
	struct rule *rules;
	int nrules;
	struct strmap rulemap;
	struct phrase *phrases;
	uint32_t nphrases;
	size_t phrase_bytes;
	struct strmap phrasemap;
	char **tagpool;
	uint32_t ntagpool;
	struct strmap tagmap;
	uint64_t *always;  /* rules without a phrase gate: looked at every time */
	size_t max_phrase; /* bytes in the longest folded phrase */
	uint32_t rule_words;
	uint32_t phrase_words;
	struct acm acm;
	pcre2_match_context *mctx;
	int repeat_days;
	int repeat_cases[TRIAGE_MAX_REPEAT]; /* distinct thresholds, ascending */
	int nrepeat_cases;
};

/* --- errors -------------------------------------------------------------- */

struct loader {
	struct triage_rules *r;
	const char *file;
	char *err;
	size_t errlen;
	struct rule *rule; /* being read, for the message prefix */
	unsigned rule_line;
};

static int __attribute__((format(printf, 3, 4)))
lerr(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
	unsigned line = s ? config_setting_source_line(s) : 0;
	size_t o;
	va_list ap;

	if (l->err == NULL || l->errlen == 0)
		return -1;
	if (line == 0)
		line = l->rule_line ? l->rule_line : 1;
	snprintf(l->err, l->errlen, "%s:%u: ", l->file, line);
	o = strlen(l->err);
	if (l->rule != NULL && l->rule->name != NULL && o < l->errlen)
		snprintf(l->err + o, l->errlen - o, "rule '%s': ", l->rule->name);
	o = strlen(l->err);
	va_start(ap, fmt);
	if (o < l->errlen)
		vsnprintf(l->err + o, l->errlen - o, fmt, ap);
	va_end(ap);
	return -1;
}

static void
ferr(char *err, size_t errlen, const char *file, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", file, msg);
}

/* --- reading settings ---------------------------------------------------- */

static int
utf8_valid(const char *s)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	utf8proc_int32_t cp;

	while (*p != '\0') {
		utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);

		if (n <= 0)
			return 0;
		p += n;
	}
	return 1;
}

/* Names that go into logs, JSON and the console: [A-Za-z0-9._-]. */
static int
name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_NAME)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789._-") == n;
}

/* The key a setting belongs to: its own name, or its nearest named
 * parent's for an element of a list. */
static const char *
key_of(const config_setting_t *s)
{
	for (; s != NULL; s = config_setting_parent(s))
		if (config_setting_name(s) != NULL)
			return config_setting_name(s);
	return "?";
}

static int
get_int(struct loader *l, const config_setting_t *s, const char *key, int min, int max, int *out)
{
	long long v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		return lerr(l, s, "'%s' must be an integer from %d to %d", key, min, max);
	}
	if (v < min || v > max)
		return lerr(l, s, "'%s' must be an integer from %d to %d", key, min, max);
	*out = (int)v;
	return 0;
}

static int
get_string(struct loader *l, const config_setting_t *s, const char *key, const char **out)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return lerr(l, s, "'%s' must be a string", key);
	v = config_setting_get_string(s);
	if (*v == '\0')
		return lerr(l, s, "'%s' must not be empty", key);
	if (!utf8_valid(v))
		return lerr(l, s, "'%s' is not valid UTF-8", key);
	*out = v;
	return 0;
}

typedef int (*string_fn)(struct loader *, struct cond *, const config_setting_t *, const char *);

/* A key that takes one string or a non-empty list of them. */
static int
each_string(struct loader *l, struct cond *c, const config_setting_t *s, string_fn fn)
{
	const char *key = key_of(s);
	const char *v;
	int n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return get_string(l, s, key, &v) < 0 ? -1 : fn(l, c, s, v);
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return lerr(l, s, "'%s' must be a string or a list of strings", key);
	if ((n = config_setting_length(s)) == 0)
		return lerr(l, s, "'%s' is an empty list", key);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return lerr(l, e,
			    "'%s' must be a string or a list "
			    "of strings",
			    key);
		if (get_string(l, e, key, &v) < 0 || fn(l, c, e, v) < 0)
			return -1;
	}
	return 0;
}

static void
push_id(struct cond *c, uint32_t id)
{
	c->u.ids = xreallocarray(c->u.ids, c->n + 1, sizeof(*c->u.ids));
	c->u.ids[c->n++] = id;
}

static void
push_str(struct cond *c, char *s)
{
	c->u.strs = xreallocarray(c->u.strs, c->n + 1, sizeof(*c->u.strs));
	c->u.strs[c->n++] = s;
}

/* --- conditions: reading ------------------------------------------------- */

static int
add_phrase(struct loader *l, struct cond *c, const config_setting_t *s, const char *v)
{
	struct triage_rules *r = l->r;
	size_t len;
	char *f = textnorm_fold(v, strlen(v), &len);
	int id;

	if (!textnorm_has_word(f)) {
		free(f);
		return lerr(l, s, "phrase \"%s\" has no letters or digits", v);
	}
	if (len > MAX_PHRASE) {
		free(f);
		return lerr(l, s, "phrase longer than %d bytes", MAX_PHRASE);
	}
	if ((id = strmap_get(&r->phrasemap, f, len)) < 0) {
		if (r->phrase_bytes + len > MAX_PHRASES) {
			free(f);
			return lerr(l, s, "phrases exceed %u bytes in all", MAX_PHRASES);
		}
		id = (int)r->nphrases;
		r->phrases = xreallocarray(r->phrases, r->nphrases + 1, sizeof(*r->phrases));
		r->phrases[id] = (struct phrase){.text = f, .len = len};
		r->nphrases++;
		if (len > r->max_phrase)
			r->max_phrase = len;
		r->phrase_bytes += len;
		strmap_add(&r->phrasemap, f, len, id);
	} else
		free(f);
	push_id(c, (uint32_t)id);
	return 0;
}

static int
parse_phrases(struct loader *l, struct cond *c, const config_setting_t *s)
{
	return each_string(l, c, s, add_phrase);
}

static void
end_group(struct cond *c)
{
	c->ends = xreallocarray(c->ends, c->ngroups + 1, sizeof(*c->ends));
	c->ends[c->ngroups++] = c->n;
}

/* One element of text_all: a phrase, or a list of alternatives. */
static int
parse_group(struct loader *l, struct cond *c, const config_setting_t *e)
{
	const char *v;

	if (config_setting_type(e) == CONFIG_TYPE_STRING) {
		if (get_string(l, e, "text_all", &v) < 0 || add_phrase(l, c, e, v) < 0)
			return -1;
	} else if (config_setting_is_array(e) || config_setting_is_list(e)) {
		if (config_setting_length(e) == 0)
			return lerr(l, e, "'text_all' has an empty group");
		if (each_string(l, c, e, add_phrase) < 0)
			return -1;
	} else
		return lerr(l, e,
		    "'text_all' must list phrases or lists of "
		    "phrases");
	end_group(c);
	return 0;
}

static int
parse_text_all(struct loader *l, struct cond *c, const config_setting_t *s)
{
	int n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return parse_group(l, c, s);
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return lerr(l, s,
		    "'text_all' must list phrases or lists of "
		    "phrases");
	if ((n = config_setting_length(s)) == 0)
		return lerr(l, s, "'text_all' is an empty list");
	for (int i = 0; i < n; i++)
		if (parse_group(l, c, config_setting_get_elem(s, i)) < 0)
			return -1;
	return 0;
}

static int
add_ivr(struct loader *l, struct cond *c, const config_setting_t *s, const char *v)
{
	size_t n = strlen(v);

	if (n > MAX_IVR || strspn(v, "0123456789*#") != n)
		return lerr(l, s,
		    "'ivr' must be digits (0-9, *, #), at most "
		    "%d",
		    MAX_IVR);
	push_str(c, xstrdup(v));
	return 0;
}

static int
parse_ivr(struct loader *l, struct cond *c, const config_setting_t *s)
{
	return each_string(l, c, s, add_ivr);
}

static int
add_plain(struct loader *l, struct cond *c, const config_setting_t *s, const char *v)
{
	push_str(c, xstrdup(v));
	return 0;
}

static int
parse_plain(struct loader *l, struct cond *c, const config_setting_t *s)
{
	return each_string(l, c, s, add_plain);
}

static int
add_province(struct loader *l, struct cond *c, const config_setting_t *s, const char *v)
{
	char *f = textnorm_fold(v, strlen(v), NULL);

	if (!textnorm_has_word(f)) {
		free(f);
		return lerr(l, s, "province \"%s\" has no letters", v);
	}
	push_str(c, f);
	return 0;
}

static int
parse_province(struct loader *l, struct cond *c, const config_setting_t *s)
{
	return each_string(l, c, s, add_province);
}

static int
add_category(struct loader *l, struct cond *c, const config_setting_t *s, const char *v)
{
	int id = strmap_get(&l->r->catmap, v, strlen(v));

	if (id < 0)
		return lerr(l, s, "unknown category '%s'", v);
	push_id(c, (uint32_t)id);
	return 0;
}

static int
parse_category(struct loader *l, struct cond *c, const config_setting_t *s)
{
	return each_string(l, c, s, add_category);
}

/* [a, b] of integers within [min, max]. */
static int
get_pair(struct loader *l, const config_setting_t *s, int min, int max, int pair[2])
{
	const char *key = key_of(s);

	if ((!config_setting_is_array(s) && !config_setting_is_list(s)) ||
	    config_setting_length(s) != 2)
		return lerr(l, s, "'%s' must be a pair [from, to]", key);
	for (int i = 0; i < 2; i++)
		if (get_int(l, config_setting_get_elem(s, i), key, min, max, &pair[i]) < 0)
			return -1;
	return 0;
}

static int
parse_age(struct loader *l, struct cond *c, const config_setting_t *s)
{
	if (get_pair(l, s, 0, 150, c->u.range) < 0)
		return -1;
	if (c->u.range[0] > c->u.range[1])
		return lerr(l, s, "'child_age' [min, max] needs min <= max");
	return 0;
}

static int
parse_hours(struct loader *l, struct cond *c, const config_setting_t *s)
{
	if (get_pair(l, s, 0, 24, c->u.range) < 0)
		return -1;
	if (c->u.range[0] == c->u.range[1])
		return lerr(l, s, "'hours' [from, to] needs from != to");
	return 0;
}

static int
parse_months(struct loader *l, struct cond *c, const config_setting_t *s)
{
	int n, m;

	if (config_setting_is_scalar(s)) {
		if (get_int(l, s, "months", 1, 12, &m) < 0)
			return -1;
		c->u.months = 1u << m;
		return 0;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return lerr(l, s, "'months' must be a list of months 1..12");
	if ((n = config_setting_length(s)) == 0)
		return lerr(l, s, "'months' is an empty list");
	for (int i = 0; i < n; i++) {
		if (get_int(l, config_setting_get_elem(s, i), "months", 1, 12, &m) < 0)
			return -1;
		c->u.months |= 1u << m;
	}
	return 0;
}

static const struct repeat_key {
	const char *name;
	int min, max;
	size_t off;
} repeat_keys[] = {
    {"cases", 1, 100000, offsetof(struct cond, u.repeat.cases)},
    {"days", 1, 3650, offsetof(struct cond, u.repeat.days)},
};
#define NREPEAT_KEYS (sizeof(repeat_keys) / sizeof(repeat_keys[0]))

/* Keeps the distinct case counts that repeat_caller conditions test, sorted,
 * so the daemon can ask for one decision per threshold (cases.c). */
static int
add_threshold(struct loader *l, const config_setting_t *s, int cases)
{
	int *v = l->r->repeat_cases, n = l->r->nrepeat_cases, i;

	for (i = 0; i < n && v[i] < cases; i++)
		;
	if (i < n && v[i] == cases)
		return 0;
	if (n == TRIAGE_MAX_REPEAT)
		return lerr(l, s, "at most %d distinct repeat_caller case counts", TRIAGE_MAX_REPEAT);
	memmove(v + i + 1, v + i, (size_t)(n - i) * sizeof(*v));
	v[i] = cases;
	l->r->nrepeat_cases++;
	return 0;
}

static int
parse_repeat(struct loader *l, struct cond *c, const config_setting_t *s)
{
	int n;

	if (!config_setting_is_group(s))
		return lerr(l, s,
		    "'repeat_caller' must be a group "
		    "{ cases = N; days = D; }");
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *name = config_setting_name(e);
		size_t k;

		for (k = 0; k < NREPEAT_KEYS; k++)
			if (strcmp(name, repeat_keys[k].name) == 0)
				break;
		if (k == NREPEAT_KEYS)
			return lerr(l, e, "unknown key 'repeat_caller.%s'", name);
		if (get_int(l, e, name, repeat_keys[k].min, repeat_keys[k].max,
		        (int *)((char *)c + repeat_keys[k].off)) < 0)
			return -1;
	}
	if (c->u.repeat.cases == 0 || c->u.repeat.days == 0)
		return lerr(l, s, "'repeat_caller' needs both cases and days");
	if (c->u.repeat.days > l->r->repeat_days)
		l->r->repeat_days = c->u.repeat.days;
	return add_threshold(l, s, c->u.repeat.cases);
}

static int
parse_regex(struct loader *l, struct cond *c, const config_setting_t *s)
{
	const char *v;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	int code;

	if (get_string(l, s, "regex", &v) < 0)
		return -1;
	c->u.re = pcre2_compile((PCRE2_SPTR)v, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_NEVER_BACKSLASH_C, &code, &off, NULL);
	if (c->u.re == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		return lerr(l, s, "bad regex at offset %zu: %s", (size_t)off, (char *)msg);
	}
	/* Without JIT (not built in, or no executable memory) PCRE2's
	 * interpreter gives the same answers, more slowly. */
	(void)pcre2_jit_compile(c->u.re, PCRE2_JIT_COMPLETE);
	return 0;
}

/* --- conditions: checking ------------------------------------------------ */

struct eval {
	const struct triage_rules *r;
	const struct triage_input *in;
	const char *text; /* folded */
	size_t textlen;
	const uint64_t *present; /* phrase bitmap */
	int category;            /* current: chosen so far, or the input's */
	char *province;          /* folded, on first need */
	int have_tm;             /* 1 known, -1 unknown, 0 not yet asked */
	struct tm tm;
	pcre2_match_data *md; /* on first need */
};

static int
has_phrase(const struct eval *e, uint32_t id)
{
	return (e->present[id / 64] >> (id % 64)) & 1;
}

static int
any_phrase(const struct eval *e, const uint32_t *ids, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (has_phrase(e, ids[i]))
			return 1;
	return 0;
}

static int
holds_text_all(struct eval *e, const struct cond *c)
{
	for (uint32_t g = 0, from = 0; g < c->ngroups; from = c->ends[g++])
		if (!any_phrase(e, c->u.ids + from, c->ends[g] - from))
			return 0;
	return 1;
}

static int
holds_text_any(struct eval *e, const struct cond *c)
{
	return any_phrase(e, c->u.ids, c->n);
}

static int
holds_text_none(struct eval *e, const struct cond *c)
{
	return !holds_text_any(e, c);
}

static int
holds_ivr(struct eval *e, const struct cond *c)
{
	const char *ivr = e->in->ivr;

	/* "3" is the branch behind digit 3: it takes 3, 31, 32 and so on. */
	for (uint32_t i = 0; ivr != NULL && i < c->n; i++)
		if (strncmp(ivr, c->u.strs[i], strlen(c->u.strs[i])) == 0)
			return 1;
	return 0;
}

static int
holds_equal(const char *v, const struct cond *c)
{
	for (uint32_t i = 0; v != NULL && i < c->n; i++)
		if (strcmp(v, c->u.strs[i]) == 0)
			return 1;
	return 0;
}

static int
holds_line(struct eval *e, const struct cond *c)
{
	return holds_equal(e->in->line, c);
}

static int
holds_queue(struct eval *e, const struct cond *c)
{
	return holds_equal(e->in->queue, c);
}

static int
holds_age(struct eval *e, const struct cond *c)
{
	int age = e->in->child_age;

	return age >= 0 && age >= c->u.range[0] && age <= c->u.range[1];
}

static int
holds_category(struct eval *e, const struct cond *c)
{
	for (uint32_t i = 0; e->category >= 0 && i < c->n; i++)
		if ((int)c->u.ids[i] == e->category)
			return 1;
	return 0;
}

static int
holds_repeat(struct eval *e, const struct cond *c)
{
	const struct triage_input *in = e->in;

	/* Counted over a window no longer than the rule's, the count is a
	 * floor for the rule's window; over a longer one it proves nothing. */
	return in->prior_cases >= 0 && in->prior_days > 0 && in->prior_days <= c->u.repeat.days &&
	       in->prior_cases >= c->u.repeat.cases;
}

static const struct tm *
local_time(struct eval *e)
{
	if (e->have_tm == 0) {
		e->have_tm = -1;
		if (e->in->when > 0 && localtime_r(&e->in->when, &e->tm))
			e->have_tm = 1;
	}
	return e->have_tm == 1 ? &e->tm : NULL;
}

static int
holds_months(struct eval *e, const struct cond *c)
{
	const struct tm *tm = local_time(e);

	return tm != NULL && ((c->u.months >> (tm->tm_mon + 1)) & 1);
}

static int
holds_hours(struct eval *e, const struct cond *c)
{
	const struct tm *tm = local_time(e);
	int from = c->u.range[0], to = c->u.range[1];

	if (tm == NULL)
		return 0;
	if (from < to)
		return tm->tm_hour >= from && tm->tm_hour < to;
	return tm->tm_hour >= from || tm->tm_hour < to; /* over midnight */
}

static int
holds_province(struct eval *e, const struct cond *c)
{
	if (e->in->province == NULL)
		return 0;
	if (e->province == NULL)
		e->province = textnorm_fold(e->in->province, strlen(e->in->province), NULL);
	return holds_equal(e->province, c);
}

static int
holds_regex(struct eval *e, const struct cond *c)
{
	if (e->md == NULL)
		e->md = pcre2_match_data_create(1, NULL);
	if (e->md == NULL)
		return 0;
	/* Folded text is valid UTF-8 by construction. */
	return pcre2_match(c->u.re, (PCRE2_SPTR)e->text, e->textlen, 0, PCRE2_NO_UTF_CHECK, e->md,
	           e->r->mctx) >= 0;
}

static void
free_ids(struct cond *c)
{
	free(c->u.ids);
	free(c->ends);
}

static void
free_strs(struct cond *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		free(c->u.strs[i]);
	free(c->u.strs);
}

static void
free_regex(struct cond *c)
{
	pcre2_code_free(c->u.re);
}

/* One entry per condition key: how to read it, check it, free it. */
static const struct cond_kind {
	const char *key;
	int (*parse)(struct loader *, struct cond *, const config_setting_t *);
	int (*holds)(struct eval *, const struct cond *);
	void (*free)(struct cond *);
} cond_kinds[COND_NTYPES] = {
    [COND_TEXT_ALL] = {"text_all", parse_text_all, holds_text_all, free_ids},
    [COND_TEXT_ANY] = {"text_any", parse_phrases, holds_text_any, free_ids},
    [COND_TEXT_NONE] = {"text_none", parse_phrases, holds_text_none, free_ids},
    [COND_IVR] = {"ivr", parse_ivr, holds_ivr, free_strs},
    [COND_LINE] = {"line", parse_plain, holds_line, free_strs},
    [COND_QUEUE] = {"queue", parse_plain, holds_queue, free_strs},
    [COND_AGE] = {"child_age", parse_age, holds_age, NULL},
    [COND_CATEGORY] = {"category", parse_category, holds_category, free_ids},
    [COND_REPEAT] = {"repeat_caller", parse_repeat, holds_repeat, NULL},
    [COND_MONTHS] = {"months", parse_months, holds_months, NULL},
    [COND_HOURS] = {"hours", parse_hours, holds_hours, NULL},
    [COND_PROVINCE] = {"province", parse_province, holds_province, free_strs},
    [COND_REGEX] = {"regex", parse_regex, holds_regex, free_regex},
};

/* --- rules: reading ------------------------------------------------------ */

static int
add_condition(struct loader *l, enum cond_type type, const config_setting_t *s)
{
	struct rule *rule = l->rule;
	struct cond *c;

	rule->conds = xreallocarray(rule->conds, rule->nconds + 1, sizeof(*rule->conds));
	c = &rule->conds[rule->nconds++];
	memset(c, 0, sizeof(*c));
	c->type = type;
	return cond_kinds[type].parse(l, c, s);
}

static int
key_name(struct loader *l, const config_setting_t *s)
{
	return 0; /* read before the other keys, for messages */
}

static int
key_description(struct loader *l, const config_setting_t *s)
{
	const char *v;

	return get_string(l, s, "description", &v);
}

/* `category = "id"` sets it; `category = [ … ]` tests the current one. */
static int
key_category(struct loader *l, const config_setting_t *s)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return add_condition(l, COND_CATEGORY, s);
	if (get_string(l, s, "category", &v) < 0)
		return -1;
	if ((l->rule->category = strmap_get(&l->r->catmap, v, strlen(v))) < 0)
		return lerr(l, s, "unknown category '%s'", v);
	return 0;
}

static int
key_priority(struct loader *l, const config_setting_t *s)
{
	return get_int(l, s, "priority", 1, 4, &l->rule->priority);
}

static int
key_raise(struct loader *l, const config_setting_t *s)
{
	return get_int(l, s, "raise", 1, 3, &l->rule->raise);
}

static int
add_tag(struct loader *l, struct cond *unused, const config_setting_t *s, const char *v)
{
	struct triage_rules *r = l->r;
	struct rule *rule = l->rule;
	int id;

	if (!name_valid(v))
		return lerr(l, s,
		    "tag '%s' must be 1 to %d of A-Z a-z 0-9 . "
		    "_ -",
		    v, MAX_NAME);
	if ((id = strmap_get(&r->tagmap, v, strlen(v))) < 0) {
		id = (int)r->ntagpool;
		r->tagpool = xreallocarray(r->tagpool, r->ntagpool + 1, sizeof(*r->tagpool));
		r->tagpool[r->ntagpool++] = xstrdup(v);
		strmap_add(&r->tagmap, r->tagpool[id], strlen(v), id);
	}
	rule->tags = xreallocarray(rule->tags, rule->ntags + 1, sizeof(*rule->tags));
	rule->tags[rule->ntags++] = r->tagpool[id];
	return 0;
}

static int
key_tags(struct loader *l, const config_setting_t *s)
{
	return each_string(l, NULL, s, add_tag);
}

/* Keys of a rule other than the conditions in cond_kinds. */
static const struct rule_key {
	const char *name;
	int (*parse)(struct loader *, const config_setting_t *);
} rule_keys[] = {
    {"name", key_name},
    {"description", key_description},
    {"category", key_category},
    {"priority", key_priority},
    {"raise", key_raise},
    {"tags", key_tags},
};
#define NRULE_KEYS (sizeof(rule_keys) / sizeof(rule_keys[0]))

static int
rule_key(struct loader *l, const config_setting_t *s)
{
	const char *name = config_setting_name(s);

	for (size_t i = 0; i < NRULE_KEYS; i++)
		if (strcmp(name, rule_keys[i].name) == 0)
			return rule_keys[i].parse(l, s);
	for (int t = 0; t < COND_NTYPES; t++)
		if (strcmp(name, cond_kinds[t].key) == 0)
			return add_condition(l, (enum cond_type)t, s);
	return lerr(l, s, "unknown key '%s'", name);
}

static int
rule_name(struct loader *l, const config_setting_t *g, int index)
{
	struct triage_rules *r = l->r;
	const config_setting_t *s = config_setting_get_member(g, "name");
	const char *v;
	int prev;

	if (s == NULL)
		return lerr(l, g, "rule has no 'name'");
	if (get_string(l, s, "name", &v) < 0)
		return -1;
	if (!name_valid(v))
		return lerr(l, s,
		    "rule name '%s' must be 1 to %d of A-Z a-z "
		    "0-9 . _ -",
		    v, MAX_NAME);
	l->rule->name = xstrdup(v);
	prev = strmap_add(&r->rulemap, l->rule->name, strlen(v), index);
	if (prev >= 0) {
		l->rule = NULL; /* the message names the rule itself */
		return lerr(l, s,
		    "duplicate rule name '%s' (first at line "
		    "%u)",
		    v, r->rules[prev].line);
	}
	return 0;
}

static int
cond_order(const void *a, const void *b)
{
	const struct cond *x = a, *y = b;

	return (int)x->type - (int)y->type;
}

static int
load_rule(struct loader *l, const config_setting_t *g, int index)
{
	struct rule *rule = &l->r->rules[index];
	int n;

	rule->category = -1;
	rule->priority = NO_FLOOR;
	rule->line = config_setting_source_line(g);
	l->rule_line = rule->line;
	l->rule = rule;
	if (!config_setting_is_group(g))
		return lerr(l, g, "a rule must be a group { name = …; … }");
	if (rule_name(l, g, index) < 0)
		return -1;
	n = config_setting_length(g);
	for (int i = 0; i < n; i++)
		if (rule_key(l, config_setting_get_elem(g, i)) < 0)
			return -1;
	if (rule->nconds == 0)
		return lerr(l, g, "no conditions (it would fire on every case)");
	if (rule->category < 0 && rule->priority == NO_FLOOR && rule->raise == 0 &&
	    rule->ntags == 0)
		return lerr(l, g,
		    "no actions (category, priority, raise, "
		    "tags)");
	qsort(rule->conds, rule->nconds, sizeof(*rule->conds), cond_order);
	return 0;
}

static int
load_rules(struct loader *l, const config_setting_t *s)
{
	struct triage_rules *r = l->r;
	int n;

	if (!config_setting_is_list(s))
		return lerr(l, s, "'rules' must be a list ( { … }, … )");
	n = config_setting_length(s);
	if (n > TRIAGE_MAX_RULES)
		return lerr(l, config_setting_get_elem(s, TRIAGE_MAX_RULES), "more than %d rules",
		    TRIAGE_MAX_RULES);
	r->rules = xcalloc((size_t)n, sizeof(*r->rules));
	for (int i = 0; i < n; i++) {
		r->nrules = i + 1; /* so that triage_free sees it */
		if (load_rule(l, config_setting_get_elem(s, i), i) < 0)
			return -1;
	}
	l->rule = NULL;
	l->rule_line = 0;
	return 0;
}

/* --- categories ---------------------------------------------------------- */

static const struct category_key {
	const char *name;
	size_t off;
	int required;
} category_keys[] = {
    {"id", offsetof(struct category, id), 1},
    {"label", offsetof(struct category, label), 1},
    {"chi", offsetof(struct category, chi), 0},
};
#define NCATEGORY_KEYS (sizeof(category_keys) / sizeof(category_keys[0]))

static int
category_key(struct loader *l, struct category *c, const config_setting_t *s)
{
	const char *name = config_setting_name(s), *v;

	for (size_t k = 0; k < NCATEGORY_KEYS; k++) {
		if (strcmp(name, category_keys[k].name) != 0)
			continue;
		if (get_string(l, s, name, &v) < 0)
			return -1;
		*(char **)((char *)c + category_keys[k].off) = xstrdup(v);
		return 0;
	}
	return lerr(l, s, "unknown key '%s' in a category", name);
}

static int
load_category(struct loader *l, const config_setting_t *g, struct category *c)
{
	int n, prev;

	c->line = config_setting_source_line(g);
	if (!config_setting_is_group(g))
		return lerr(l, g,
		    "a category must be a group { id = …; "
		    "label = …; }");
	n = config_setting_length(g);
	for (int i = 0; i < n; i++)
		if (category_key(l, c, config_setting_get_elem(g, i)) < 0)
			return -1;
	for (size_t k = 0; k < NCATEGORY_KEYS; k++)
		if (category_keys[k].required &&
		    *(char **)((char *)c + category_keys[k].off) == NULL)
			return lerr(l, g, "category has no '%s'", category_keys[k].name);
	if (!name_valid(c->id))
		return lerr(l, g,
		    "category id '%s' must be 1 to %d of A-Z a-z "
		    "0-9 . _ -",
		    c->id, MAX_NAME);
	prev = strmap_add(&l->r->catmap, c->id, strlen(c->id), (int)(c - l->r->cats));
	if (prev >= 0)
		return lerr(l, g, "duplicate category '%s' (first at line %u)", c->id,
		    l->r->cats[prev].line);
	return 0;
}

static int
load_categories(struct loader *l, const config_setting_t *s)
{
	struct triage_rules *r = l->r;
	int n;

	if (!config_setting_is_list(s))
		return lerr(l, s, "'categories' must be a list ( { … }, … )");
	if ((n = config_setting_length(s)) == 0)
		return lerr(l, s, "'categories' is an empty list");
	if (n > MAX_CATEGORIES)
		return lerr(l, s, "more than %d categories", MAX_CATEGORIES);
	r->cats = xcalloc((size_t)n, sizeof(*r->cats));
	for (int i = 0; i < n; i++) {
		r->ncats = i + 1;
		if (load_category(l, config_setting_get_elem(s, i), &r->cats[i]) < 0)
			return -1;
	}
	return 0;
}

/* Top-level keys, read in this order: rules name categories. */
static const struct root_key {
	const char *name;
	int (*load)(struct loader *, const config_setting_t *);
} root_keys[] = {
    {"categories", load_categories},
    {"rules", load_rules},
};
#define NROOT_KEYS (sizeof(root_keys) / sizeof(root_keys[0]))

static int
load_root(struct loader *l, const config_setting_t *root)
{
	int n = config_setting_length(root);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(root, i);
		size_t k;

		for (k = 0; k < NROOT_KEYS; k++)
			if (strcmp(config_setting_name(s), root_keys[k].name) == 0)
				break;
		if (k == NROOT_KEYS)
			return lerr(l, s, "unknown key '%s'", config_setting_name(s));
	}
	for (size_t k = 0; k < NROOT_KEYS; k++) {
		const config_setting_t *s = config_setting_get_member(root, root_keys[k].name);

		if (s == NULL)
			return lerr(l, NULL, "no '%s' list", root_keys[k].name);
		if (root_keys[k].load(l, s) < 0)
			return -1;
	}
	return 0;
}

/* --- the phrase automaton ------------------------------------------------ */

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

static void
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

static void
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

/* --- building the index -------------------------------------------------- */

static void
post(struct phrase *p, uint32_t rule)
{
	if (p->nrules > 0 && p->rules[p->nrules - 1] == rule)
		return;
	p->rules = xreallocarray(p->rules, p->nrules + 1, sizeof(*p->rules));
	p->rules[p->nrules++] = rule;
}

/*
 * A rule needs a look only when one of its phrase groups can hold: a
 * group of text_all (all must, so any one will do) or text_any. The
 * smallest group lets in the fewest texts. Rules with neither are
 * looked at every time.
 */
static void
index_rule(struct triage_rules *r, uint32_t i)
{
	const struct rule *rule = &r->rules[i];
	const uint32_t *best = NULL;
	uint32_t nbest = 0;

	for (uint32_t k = 0; k < rule->nconds; k++) {
		const struct cond *c = &rule->conds[k];

		if (c->type == COND_TEXT_ANY && (best == NULL || c->n < nbest)) {
			best = c->u.ids;
			nbest = c->n;
		}
		for (uint32_t g = 0, from = 0; c->type == COND_TEXT_ALL && g < c->ngroups;
		     from = c->ends[g++]) {
			if (best == NULL || c->ends[g] - from < nbest) {
				best = c->u.ids + from;
				nbest = c->ends[g] - from;
			}
		}
	}
	if (best == NULL) {
		r->always[i / 64] |= 1ull << (i % 64);
		return;
	}
	for (uint32_t k = 0; k < nbest; k++)
		post(&r->phrases[best[k]], i);
}

static void
build_index(struct triage_rules *r)
{
	r->rule_words = ((uint32_t)r->nrules + 63) / 64;
	r->phrase_words = (r->nphrases + 63) / 64;
	r->always = xcalloc(r->rule_words ? r->rule_words : 1, sizeof(*r->always));
	for (uint32_t i = 0; i < (uint32_t)r->nrules; i++)
		index_rule(r, i);
	acm_build(&r->acm, r->phrases, r->nphrases);
	r->mctx = pcre2_match_context_create(NULL);
	if (r->mctx != NULL) {
		pcre2_set_match_limit(r->mctx, REGEX_MATCH_LIMIT);
		pcre2_set_depth_limit(r->mctx, REGEX_DEPTH_LIMIT);
	}
	/* Only the index and the automaton are needed from here on. */
	strmap_free(&r->phrasemap);
	strmap_free(&r->rulemap);
	strmap_free(&r->tagmap);
}

/* --- loading ------------------------------------------------------------- */

static unsigned
line_at(const char *text, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

/*
 * A lexer that walks the file the way libconfig's scanner does, to
 * refuse what libconfig 1.5 would take without a word or report badly:
 * integers too large for an int (it silently keeps the low 32 bits, so
 * `priority = 4294967297` would read as 1), a string left open (it
 * reports the end of the file), and @include (which would read files
 * this check never saw).
 */
struct lex {
	const char *t;
	size_t len, i;
	unsigned line;
};

static int
lex_at(const struct lex *x, size_t k, const char *s)
{
	size_t n = strlen(s);

	return x->len - k >= n && memcmp(x->t + k, s, n) == 0;
}

static void
lex_skip_line(struct lex *x)
{
	while (x->i < x->len && x->t[x->i] != '\n')
		x->i++;
}

static int
lex_comment(struct loader *l, struct lex *x)
{
	unsigned start = x->line;

	for (x->i += 2; x->i < x->len && !lex_at(x, x->i, "*/"); x->i++)
		x->line += x->t[x->i] == '\n';
	if (x->i >= x->len) {
		l->rule_line = start;
		return lerr(l, NULL, "comment not closed (/* without */)");
	}
	x->i += 2;
	return 0;
}

static int
lex_string(struct loader *l, struct lex *x)
{
	unsigned start = x->line;

	for (x->i++; x->i < x->len && x->t[x->i] != '"'; x->i++) {
		if (x->t[x->i] == '\\' && x->i + 1 < x->len)
			x->i++;
		x->line += x->t[x->i] == '\n';
	}
	if (x->i >= x->len) {
		l->rule_line = start;
		return lerr(l, NULL, "unterminated string");
	}
	x->i++;
	return 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
	       c == '-' || c == '*';
}

/* An integer without L must fit an int; floats are left alone. */
static int
lex_number(struct loader *l, struct lex *x)
{
	const char *t = x->t;
	int hex = lex_at(x, x->i, "0x") || lex_at(x, x->i, "0X");
	int base = hex ? 16 : 10, overflow = 0;
	unsigned long long v = 0;
	size_t k = x->i + (hex ? 2 : 0);

	for (; k < x->len; k++) {
		int d = is_digit(t[k])                      ? t[k] - '0'
		        : hex && t[k] >= 'a' && t[k] <= 'f' ? t[k] - 'a' + 10
		        : hex && t[k] >= 'A' && t[k] <= 'F' ? t[k] - 'A' + 10
		                                            : -1;

		if (d < 0)
			break;
		v = v * (unsigned)base + (unsigned)d;
		overflow |= v > 2147483647ull;
	}
	if (!hex && k < x->len && (t[k] == '.' || t[k] == 'e' || t[k] == 'E'))
		overflow = 0; /* a float */
	else if (k < x->len && t[k] == 'L')
		overflow = 0; /* a 64-bit integer, range-checked later */
	while (k < x->len && (is_ident(t[k]) || t[k] == '.' || t[k] == '+'))
		k++;
	x->i = k;
	if (overflow) {
		l->rule_line = x->line;
		return lerr(l, NULL, "integer out of range");
	}
	return 0;
}

static int
lex_token(struct loader *l, struct lex *x)
{
	char c = x->t[x->i];

	if (c == '\n') {
		x->line++;
		x->i++;
	} else if (c == '#' || lex_at(x, x->i, "//"))
		lex_skip_line(x);
	else if (lex_at(x, x->i, "/*"))
		return lex_comment(l, x);
	else if (c == '"')
		return lex_string(l, x);
	else if (lex_at(x, x->i, "@include")) {
		l->rule_line = x->line;
		return lerr(l, NULL, "@include is not allowed in a rules file");
	} else if ((c == '-' || c == '+') && x->i + 1 < x->len && is_digit(x->t[x->i + 1])) {
		x->i++; /* a signed number */
		return lex_number(l, x);
	} else if (is_digit(c) || (c == '.' && x->i + 1 < x->len && is_digit(x->t[x->i + 1])))
		return lex_number(l, x);
	else if (is_ident(c) && !is_digit(c) && c != '-')
		while (x->i < x->len && is_ident(x->t[x->i]))
			x->i++;
	else
		x->i++;
	return 0;
}

static int
prescan(struct loader *l, const char *text, size_t len)
{
	struct lex x = {text, len, 0, 1};
	const char *p;

	if (len > TRIAGE_MAX_FILE) {
		l->rule_line = line_at(text, TRIAGE_MAX_FILE);
		return lerr(l, NULL, "file larger than %u bytes (4 MiB)", TRIAGE_MAX_FILE);
	}
	if ((p = memchr(text, '\0', len)) != NULL) {
		l->rule_line = line_at(text, (size_t)(p - text));
		return lerr(l, NULL, "NUL byte in file");
	}
	while (x.i < x.len)
		if (lex_token(l, &x) < 0)
			return -1;
	l->rule_line = 0;
	return 0;
}

static int
parse(struct loader *l, const char *text, size_t len)
{
	config_t cfg;
	char *copy = xstrndup(text, len);
	int rc;

	config_init(&cfg);
	if (!config_read_string(&cfg, copy)) {
		l->rule_line = (unsigned)config_error_line(&cfg);
		rc = lerr(l, NULL, "%s", config_error_text(&cfg));
	} else
		rc = load_root(l, config_root_setting(&cfg));
	config_destroy(&cfg);
	free(copy);
	return rc;
}

struct triage_rules *
triage_load_string(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	struct loader l = {.file = name, .err = err, .errlen = errlen};

	if (prescan(&l, text, len) < 0)
		return NULL;
	l.r = xcalloc(1, sizeof(*l.r));
	if (parse(&l, text, len) < 0) {
		triage_free(l.r);
		return NULL;
	}
	build_index(l.r);
	return l.r;
}

/* Reads at most one byte past the limit: enough to refuse the file. */
static char *
read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	size_t cap = TRIAGE_MAX_FILE + 1, n = 0, got;
	char *buf;

	if (f == NULL) {
		ferr(err, errlen, path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(cap);
	while (n < cap && (got = fread(buf + n, 1, cap - n, f)) > 0)
		n += got;
	if (ferror(f)) {
		ferr(err, errlen, path, strerror(errno ? errno : EIO));
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

struct triage_rules *
triage_load(const char *path, char *err, size_t errlen)
{
	struct triage_rules *r;
	size_t len;
	char *text;

	if (path == NULL) {
		ferr(err, errlen, "rules", "no file named");
		return NULL;
	}
	if ((text = read_file(path, &len, err, errlen)) == NULL)
		return NULL;
	r = triage_load_string(path, text, len, err, errlen);
	free(text);
	return r;
}

static void
rule_free(struct rule *rule)
{
	for (uint32_t k = 0; k < rule->nconds; k++) {
		struct cond *c = &rule->conds[k];

		if (cond_kinds[c->type].free != NULL)
			cond_kinds[c->type].free(c);
	}
	free(rule->conds);
	free(rule->tags);
	free(rule->name);
}

void
triage_free(struct triage_rules *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->ncats; i++) {
		free(r->cats[i].id);
		free(r->cats[i].label);
		free(r->cats[i].chi);
	}
	free(r->cats);
	for (int i = 0; i < r->nrules; i++)
		rule_free(&r->rules[i]);
	free(r->rules);
	for (uint32_t i = 0; i < r->nphrases; i++) {
		free(r->phrases[i].text);
		free(r->phrases[i].rules);
	}
	free(r->phrases);
	for (uint32_t i = 0; i < r->ntagpool; i++)
		free(r->tagpool[i]);
	free(r->tagpool);
	free(r->always);
	acm_free(&r->acm);
	pcre2_match_context_free(r->mctx);
	strmap_free(&r->catmap);
	strmap_free(&r->rulemap);
	strmap_free(&r->phrasemap);
	strmap_free(&r->tagmap);
	free(r);
}

/* --- evaluation ---------------------------------------------------------- */

struct decision {
	int floor;     /* most urgent priority floor fired */
	int raise;     /* sum of raises fired */
	int cat_floor; /* floor of the rule that chose the category */
	int chosen;    /* category index, or -1 */
};

/* A state with output: mark its phrases; let in the rules they gate. */
static void
found(const struct triage_rules *r, uint32_t s, uint64_t *present, uint64_t *cand)
{
	const struct acm *a = &r->acm;

	for (uint32_t p = a->out[s] >= 0 ? s : a->next_out[s]; p != 0; p = a->next_out[p]) {
		uint32_t id = (uint32_t)a->out[p];
		const struct phrase *ph = &r->phrases[id];

		if ((present[id / 64] >> (id % 64)) & 1)
			continue;
		present[id / 64] |= 1ull << (id % 64);
		for (uint32_t k = 0; k < ph->nrules; k++)
			cand[ph->rules[k] / 64] |= 1ull << (ph->rules[k] % 64);
	}
}

static void
scan_range(const struct triage_rules *r, const char *text, size_t from, size_t to,
    uint64_t *present, uint64_t *cand)
{
	const struct acm *a = &r->acm;
	uint32_t s = 0;

	for (size_t i = from; i < to; i++) {
		uint32_t e = acm_step(a, s, a->cls[(unsigned char)text[i]]);

		s = e & ~ACM_OUT;
		if (e & ACM_OUT)
			found(r, s, present, cand);
	}
}

/*
 * Mark the phrases present in the folded text. Only the set matters, so
 * the text can be cut into pieces, each scanned from the root starting
 * max_phrase bytes early so that it sees every phrase ending inside it;
 * a phrase seen twice is marked once.
 */
static void
scan(const struct triage_rules *r, const char *text, size_t len, uint64_t *present, uint64_t *cand)
{
	const struct acm *a = &r->acm;
	size_t pos[LANES], end[LANES], steps = len;
	uint32_t s[LANES] = {0};

	if (len < LANE_MIN || len / LANES <= r->max_phrase) {
		scan_range(r, text, 0, len, present, cand);
		return;
	}
	for (int k = 0; k < LANES; k++) {
		size_t b = len * (size_t)k / LANES;

		pos[k] = b > r->max_phrase ? b - r->max_phrase : 0;
		end[k] = len * (size_t)(k + 1) / LANES;
		if (end[k] - pos[k] < steps)
			steps = end[k] - pos[k];
	}
	for (size_t i = 0; i < steps; i++) {
		for (int k = 0; k < LANES; k++) {
			uint32_t e = acm_step(a, s[k], a->cls[(unsigned char)text[pos[k] + i]]);

			s[k] = e & ~ACM_OUT;
			if (e & ACM_OUT)
				found(r, s[k], present, cand);
		}
	}
	/* The lanes' tails, each from the state it reached. */
	for (int k = 0; k < LANES; k++) {
		for (size_t i = pos[k] + steps; i < end[k]; i++) {
			uint32_t e = acm_step(a, s[k], a->cls[(unsigned char)text[i]]);

			s[k] = e & ~ACM_OUT;
			if (e & ACM_OUT)
				found(r, s[k], present, cand);
		}
	}
}

static int
rule_holds(struct eval *e, const struct rule *rule)
{
	for (uint32_t k = 0; k < rule->nconds; k++) {
		const struct cond *c = &rule->conds[k];

		if (!cond_kinds[c->type].holds(e, c))
			return 0;
	}
	return 1;
}

static void
add_tags(struct triage_result *out, const struct rule *rule)
{
	for (uint32_t k = 0; k < rule->ntags; k++) {
		int seen = 0;

		for (int j = 0; j < out->ntags && !seen; j++)
			seen = out->tags[j] == rule->tags[k]; /* interned */
		if (seen)
			continue;
		if (out->ntags == TRIAGE_MAX_TAGS)
			out->truncated = 1;
		else
			out->tags[out->ntags++] = rule->tags[k];
	}
}

static void
fire(struct eval *e, struct decision *d, const struct rule *rule, struct triage_result *out)
{
	if (out->nrules == TRIAGE_MAX_FIRED)
		out->truncated = 1;
	else
		out->rules[out->nrules++] = rule->name;
	if (rule->priority < d->floor)
		d->floor = rule->priority;
	d->raise += rule->raise;
	/* The first category stands unless a later rule is more urgent. */
	if (rule->category >= 0 && (d->chosen < 0 || rule->priority < d->cat_floor)) {
		d->chosen = rule->category;
		d->cat_floor = rule->priority;
		e->category = rule->category;
	}
	add_tags(out, rule);
}

static void
run_rules(struct eval *e, struct decision *d, const uint64_t *cand, struct triage_result *out)
{
	const struct triage_rules *r = e->r;

	for (uint32_t w = 0; w < r->rule_words; w++) {
		for (uint64_t b = cand[w]; b != 0; b &= b - 1) {
			const struct rule *rule = &r->rules[w * 64 + (uint32_t)__builtin_ctzll(b)];

			if (rule_holds(e, rule))
				fire(e, d, rule, out);
		}
	}
}

static int
input_priority(const struct triage_input *in)
{
	return in->priority >= 1 && in->priority <= 4 ? in->priority : 4;
}

static void
decide(const struct triage_rules *r, const struct triage_input *in, const struct decision *d,
    struct triage_result *out)
{
	int p = input_priority(in);

	if (d->floor < p)
		p = d->floor;
	p -= d->raise;
	out->priority = p < 1 ? 1 : p;
	out->category = d->chosen >= 0 ? r->cats[d->chosen].id : NULL;
}

int
triage_eval(const struct triage_rules *r, const struct triage_input *in, struct triage_result *out)
{
	uint64_t stack[STACK_WORDS], *bits = stack;
	struct decision d = {NO_FLOOR, 0, NO_FLOOR, -1};
	struct eval e = {.r = r, .in = in};
	size_t cap = 0, words;
	char *text = NULL;

	if (r == NULL || in == NULL || out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	words = (size_t)r->phrase_words + r->rule_words;
	if (words > STACK_WORDS)
		bits = xcalloc(words, sizeof(*bits));
	else
		memset(bits, 0, words * sizeof(*bits));
	e.textlen = textnorm_fold_buf(in->text, in->text ? strlen(in->text) : 0, &text, &cap);
	e.text = text;
	e.present = bits;
	e.category =
	    in->category != NULL ? strmap_get(&r->catmap, in->category, strlen(in->category)) : -1;
	scan(r, text, e.textlen, bits, bits + r->phrase_words);
	for (uint32_t w = 0; w < r->rule_words; w++)
		bits[r->phrase_words + w] |= r->always[w];
	run_rules(&e, &d, bits + r->phrase_words, out);
	decide(r, in, &d, out);
	if (bits != stack)
		free(bits);
	free(text);
	free(e.province);
	pcre2_match_data_free(e.md);
	return 0;
}

void
triage_input_init(struct triage_input *in)
{
	memset(in, 0, sizeof(*in));
	in->child_age = -1;
	in->priority = 4;
	in->prior_cases = -1;
}

/* --- queries ------------------------------------------------------------- */

int
triage_repeat_days(const struct triage_rules *r)
{
	return r != NULL ? r->repeat_days : 0;
}

int
triage_repeat_thresholds(const struct triage_rules *r, const int **cases)
{
	*cases = r != NULL ? r->repeat_cases : NULL;
	return r != NULL ? r->nrepeat_cases : 0;
}

int
triage_rule_count(const struct triage_rules *r)
{
	return r != NULL ? r->nrules : 0;
}

int
triage_category_count(const struct triage_rules *r)
{
	return r != NULL ? r->ncats : 0;
}

const char *
triage_category_id(const struct triage_rules *r, int i)
{
	return r != NULL && i >= 0 && i < r->ncats ? r->cats[i].id : NULL;
}

static const struct category *
category_find(const struct triage_rules *r, const char *id)
{
	int i;

	if (r == NULL || id == NULL)
		return NULL;
	i = strmap_get(&r->catmap, id, strlen(id));
	return i >= 0 ? &r->cats[i] : NULL;
}

int
triage_category_exists(const struct triage_rules *r, const char *id)
{
	return category_find(r, id) != NULL;
}

const char *
triage_category_label(const struct triage_rules *r, const char *id)
{
	const struct category *c = category_find(r, id);

	return c != NULL ? c->label : NULL;
}

const char *
triage_category_chi(const struct triage_rules *r, const char *id)
{
	const struct category *c = category_find(r, id);

	return c != NULL ? c->chi : NULL;
}

/* --- command line -------------------------------------------------------- */

int
triage_cmd_check(const char *path)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = triage_load(path, err, sizeof(err));

	if (r == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: %d categories, %d rules, ok\n", path, r->ncats, r->nrules);
	triage_free(r);
	return 0;
}

/* A copy with invalid UTF-8 bytes replaced by U+FFFD, for JSON. */
static char *
utf8_sanitize(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n * 3 + 1);
	utf8proc_int32_t cp;

	for (size_t i = 0; i < n;) {
		utf8proc_ssize_t k = utf8proc_iterate(
		    (const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);

		if (k <= 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, (size_t)k);
		o += (size_t)k;
		i += (size_t)k;
	}
	out[o] = '\0';
	return out;
}

static json_t *
string_array(const char *const *v, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void
print_json(const char *text, const struct triage_result *res)
{
	char *clean = utf8_sanitize(text), *line;
	json_t *o = json_object();

	json_object_set_new(o, "text", json_string(clean));
	json_object_set_new(
	    o, "category", res->category ? json_string(res->category) : json_null());
	json_object_set_new(o, "priority", json_integer(res->priority));
	json_object_set_new(o, "rules", string_array(res->rules, res->nrules));
	json_object_set_new(o, "tags", string_array(res->tags, res->ntags));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line != NULL)
		printf("%s\n", line);
	free(line);
	json_decref(o);
	free(clean);
}

static char *
join_rules(const struct triage_result *res)
{
	size_t n = 2;
	char *s;

	for (int i = 0; i < res->nrules; i++)
		n += strlen(res->rules[i]) + 1;
	s = xcalloc(1, n);
	for (int i = 0; i < res->nrules; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, res->rules[i]);
	}
	if (res->nrules == 0)
		strcpy(s, "-");
	return s;
}

struct triaged {
	const char *text;
	struct triage_result res;
};

/* Columns: priority, category, rules, text, as wide as the batch needs. */
static void
print_human(const struct triaged *t, size_t n)
{
	int wcat = 1, wrules = 1;
	char **joined = xcalloc(n ? n : 1, sizeof(*joined));

	for (size_t i = 0; i < n; i++) {
		const char *c = t[i].res.category ? t[i].res.category : "-";

		joined[i] = join_rules(&t[i].res);
		if ((int)strlen(c) > wcat)
			wcat = (int)strlen(c);
		if ((int)strlen(joined[i]) > wrules)
			wrules = (int)strlen(joined[i]);
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(t[i].text), blen = len * 4 + 8;
		char *esc = xmalloc(blen);

		printf("P%d  %-*s  %-*s  %s\n", t[i].res.priority, wcat,
		    t[i].res.category ? t[i].res.category : "-", wrules, joined[i],
		    log_escape(esc, blen, t[i].text, len));
		free(esc);
		free(joined[i]);
	}
	free(joined);
}

/* Texts from argv, or one per line from stdin when there are none. */
static char **
read_texts(int argc, char **argv, size_t *n)
{
	char **v = NULL, *line = NULL;
	size_t cap = 0;
	ssize_t len;

	*n = 0;
	if (argc > 0) {
		v = xcalloc((size_t)argc, sizeof(*v));
		for (int i = 0; i < argc; i++)
			v[(*n)++] = xstrdup(argv[i]);
		return v;
	}
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		v = xreallocarray(v, *n + 1, sizeof(*v));
		v[(*n)++] = xstrdup(line);
	}
	free(line);
	return v;
}

int
triage_cmd_triage(const char *rules_path, int json, int argc, char **argv)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = triage_load(rules_path, err, sizeof(err));
	struct triage_input in;
	struct triaged *t;
	char **texts;
	size_t n;

	if (r == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	texts = read_texts(argc, argv, &n);
	t = xcalloc(n ? n : 1, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		triage_input_init(&in);
		in.text = texts[i];
		in.when = time(NULL);
		t[i].text = texts[i];
		triage_eval(r, &in, &t[i].res);
		if (json)
			print_json(t[i].text, &t[i].res);
	}
	if (!json)
		print_human(t, n);
	fflush(stdout);
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(t);
	triage_free(r);
	return 0;
}
