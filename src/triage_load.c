/*
 * triage_load.c: a rules file into struct triage_rules: libconfig
 * parses, the key tables below validate and build the rules, and the
 * index says which phrases let which rules in (hotline111-rules(5)).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "textnorm.h"
#include "triage_int.h"
#include "triage_model.h"
#include "xmalloc.h"

#define REGEX_MATCH_LIMIT 100000 /* keeps a bad regex from stalling eval */
#define REGEX_DEPTH_LIMIT 10000

/* --- errors -------------------------------------------------------------- */

int
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

int
triage_get_string(struct loader *l, const config_setting_t *s, const char *key, const char **out)
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
		return triage_get_string(l, s, key, &v) < 0 ? -1 : fn(l, c, s, v);
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
		if (triage_get_string(l, e, key, &v) < 0 || fn(l, c, e, v) < 0)
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
add_pattern(struct loader *l, struct cond *c, const config_setting_t *s, const char *v)
{
	uint32_t id;

	if (pattern_compile(l, s, v, &id) < 0)
		return -1;
	push_id(c, id);
	return 0;
}

static int
parse_phrases(struct loader *l, struct cond *c, const config_setting_t *s)
{
	return each_string(l, c, s, add_pattern);
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
		if (triage_get_string(l, e, "text_all", &v) < 0 || add_pattern(l, c, e, v) < 0)
			return -1;
	} else if (config_setting_is_array(e) || config_setting_is_list(e)) {
		if (config_setting_length(e) == 0)
			return lerr(l, e, "'text_all' has an empty group");
		if (each_string(l, c, e, add_pattern) < 0)
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

	if (triage_get_string(l, s, "regex", &v) < 0)
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

/* One entry per condition key: how to read it and free it (triage.c
 * checks it). */
static const struct cond_kind {
	const char *key;
	int (*parse)(struct loader *, struct cond *, const config_setting_t *);
	void (*free)(struct cond *);
} cond_kinds[COND_NTYPES] = {
    [COND_TEXT_ALL] = {"text_all", parse_text_all, free_ids},
    [COND_TEXT_ANY] = {"text_any", parse_phrases, free_ids},
    [COND_TEXT_NONE] = {"text_none", parse_phrases, free_ids},
    [COND_NEAR] = {"near", parse_phrases, free_ids},
    [COND_IVR] = {"ivr", parse_ivr, free_strs},
    [COND_LINE] = {"line", parse_plain, free_strs},
    [COND_QUEUE] = {"queue", parse_plain, free_strs},
    [COND_AGE] = {"child_age", parse_age, NULL},
    [COND_CATEGORY] = {"category", parse_category, free_ids},
    [COND_REPEAT] = {"repeat_caller", parse_repeat, NULL},
    [COND_MONTHS] = {"months", parse_months, NULL},
    [COND_HOURS] = {"hours", parse_hours, NULL},
    [COND_PROVINCE] = {"province", parse_province, free_strs},
    [COND_REGEX] = {"regex", parse_regex, free_regex},
    [COND_ANSWERS] = {"answers", answers_cond_parse, answers_cond_free},
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

	return triage_get_string(l, s, "description", &v);
}

/* `category = "id"` sets it; `category = [ … ]` tests the current one. */
static int
key_category(struct loader *l, const config_setting_t *s)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return add_condition(l, COND_CATEGORY, s);
	if (triage_get_string(l, s, "category", &v) < 0)
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
			return t == COND_NEAR && l->r->version < 2
			           ? lerr(l, s, "'near' needs 'version = 2;' at the top of the file")
			           : add_condition(l, (enum cond_type)t, s);
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
	if (triage_get_string(l, s, "name", &v) < 0)
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
		if (triage_get_string(l, s, name, &v) < 0)
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
/* --- settings ------------------------------------------------------------ */

static int
load_version(struct loader *l, const config_setting_t *s)
{
	return get_int(l, s, "version", 1, 2, &l->r->version);
}

/* A word class named in settings: "@not". */
static int
setting_class(struct loader *l, const config_setting_t *s, uint32_t *atom)
{
	const char *v;
	int k;

	if (triage_get_string(l, s, config_setting_name(s), &v) < 0)
		return -1;
	k = v[0] == '@' ? strmap_get(&l->r->classmap, v + 1, strlen(v + 1)) : -1;
	if (k < 0)
		return lerr(l, s, "'%s' must name a word class defined in 'words', as \"@name\"",
		    config_setting_name(s));
	*atom = l->r->classatom[k];
	return 0;
}

static const struct setting_key {
	const char *name;
	int min, max; /* an integer; 0, 0 a word class; -1, -1 a boolean */
	size_t off;
} setting_keys[] = {
    {"negators", 0, 0, offsetof(struct triage_rules, neg_atom)},
    {"compounds", 0, 0, offsetof(struct triage_rules, cmp_atom)},
    {"negation_scope", 0, 10, offsetof(struct triage_rules, neg_scope)},
    {"resolutions", 0, 0, offsetof(struct triage_rules, res_atom)},
    {"resolution_scope", 0, 40, offsetof(struct triage_rules, res_scope)},
    {"near_scope", 0, 20, offsetof(struct triage_rules, near_scope)},
    {"ages_from_text", -1, -1, offsetof(struct triage_rules, ages)},
};
#define NSETTING_KEYS (sizeof(setting_keys) / sizeof(setting_keys[0]))

static int
setting(struct loader *l, const config_setting_t *e)
{
	const char *name = config_setting_name(e);

	for (size_t k = 0; k < NSETTING_KEYS; k++) {
		const struct setting_key *sk = &setting_keys[k];
		void *p = (char *)l->r + sk->off;

		if (strcmp(name, sk->name) != 0)
			continue;
		if (sk->min == 0 && sk->max == 0)
			return setting_class(l, e, p);
		if (sk->min < 0) {
			if (config_setting_type(e) != CONFIG_TYPE_BOOL)
				return lerr(l, e, "'%s' must be true or false", name);
			*(int *)p = config_setting_get_bool(e);
			return 0;
		}
		return get_int(l, e, name, sk->min, sk->max, p);
	}
	return lerr(l, e, "unknown key 'settings.%s'", name);
}

static int
load_settings(struct loader *l, const config_setting_t *s)
{
	if (!config_setting_is_group(s))
		return lerr(l, s, "'settings' must be a group { key = value; … }");
	for (int i = 0; i < config_setting_length(s); i++)
		if (setting(l, config_setting_get_elem(s, i)) < 0)
			return -1;
	return 0;
}

/* --- the model ------------------------------------------------------------ */

/* A relative file is found beside the rules file. */
static char *
model_path(const char *rules, const char *file)
{
	const char *slash = strrchr(rules, '/');
	char *p;

	if (file[0] == '/' || slash == NULL)
		return xstrdup(file);
	xasprintf(&p, "%.*s/%s", (int)(slash - rules), rules, file);
	return p;
}

static int
model_number(struct loader *l, const config_setting_t *s, const char *key, double *out)
{
	double v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	default:
		v = -1;
	}
	if (!(v >= 0 && v <= 1))
		return lerr(l, s, "'%s%s' must be a number from 0 to 1",
		    strchr(key, '.') != NULL ? "" : "model.", key);
	*out = v;
	return 0;
}

static int
model_key(struct loader *l, const config_setting_t *e, const char **file)
{
	const char *name = config_setting_name(e);

	if (strcmp(name, "file") == 0)
		return triage_get_string(l, e, "model.file", file);
	if (strcmp(name, "max_priority") == 0)
		return get_int(l, e, "model.max_priority", 2, 4, &l->r->model_maxp);
	if (strcmp(name, "min_confidence") == 0)
		return model_number(l, e, name, &l->r->model_minp);
	if (strcmp(name, "overrule") == 0)
		return model_number(l, e, name, &l->r->model_overrule);
	if (strcmp(name, "overrule_concern") == 0)
		return model_number(l, e, name, &l->r->model_overrule_concern);
	if (strcmp(name, "doubt") == 0)
		return model_number(l, e, name, &l->r->model_doubt);
	return lerr(l, e, "unknown key 'model.%s'", name);
}

/* Every class of the model must be a category of this file. */
static int
model_classes(struct loader *l, const config_setting_t *s)
{
	struct triage_rules *r = l->r;
	int n = triage_model_class_count(r->model);

	r->model_cat = xcalloc((size_t)n, sizeof(*r->model_cat));
	r->model_harm = xcalloc((size_t)n, sizeof(*r->model_harm));
	for (int k = 0; k < n; k++) {
		const char *c = triage_model_class(r->model, k);

		r->model_cat[k] = strmap_get(&r->catmap, c, strlen(c));
		if (r->model_cat[k] < 0)
			return lerr(l, s, "model: %s:%u: class '%s' is not a category of this file",
			    r->model_file, triage_model_classes_line(r->model), c);
		r->model_harm[k] = strcmp(c, "info") != 0 && strcmp(c, "silent") != 0;
	}
	return 0;
}

/*
 * model = { file = "triage.model"; max_priority = 2; min_confidence = 0.4; };
 * A model that does not load fails the rules file: "RULES:LINE: model:
 * MODEL:LINE: message".
 */
static int
model_group_load(struct loader *l, const config_setting_t *s)
{
	const char *file = NULL;
	char why[TRIAGE_ERRLEN];

	if (!config_setting_is_group(s))
		return lerr(l, s, "'model' must be a group { file = \"…\"; … }");
	l->r->model_maxp = 2;
	l->r->model_minp = 0.4;
	l->r->model_overrule = 2;
	l->r->model_overrule_concern = 2;
	l->r->model_doubt = 2;
	for (int i = 0; i < config_setting_length(s); i++)
		if (model_key(l, config_setting_get_elem(s, i), &file) < 0)
			return -1;
	if (file == NULL)
		return lerr(l, s, "'model' needs 'file'");
	l->r->model_file = model_path(l->file, file);
	if (l->no_model)
		return 0;
	l->r->model = triage_model_load(l->r->model_file, why, sizeof(why));
	if (l->r->model == NULL)
		return lerr(l, s, "model: %s", why);
	return model_classes(l, s);
}

/*
 * urgency = { file = "urgency.model"; min_confidence = 0.6; };
 * A model of two classes, "now" and "later" (hotline111d --train --urgency).
 */
static int
urgency_classes(struct loader *l, const config_setting_t *s)
{
	struct triage_rules *r = l->r;
	int n = triage_model_class_count(r->urgency), now = -1, later = -1;

	for (int k = 0; k < n; k++) {
		now = strcmp(triage_model_class(r->urgency, k), "now") == 0 ? k : now;
		later = strcmp(triage_model_class(r->urgency, k), "later") == 0 ? k : later;
	}
	if (n != 2 || now < 0 || later < 0)
		return lerr(l, s, "urgency: %s:%u: the classes must be 'now' and 'later'",
		    r->urgency_file, triage_model_classes_line(r->urgency));
	r->urgency_now = now;
	return 0;
}

static int
urgency_group_load(struct loader *l, const config_setting_t *s)
{
	const char *file = NULL;
	char why[TRIAGE_ERRLEN];

	if (!config_setting_is_group(s))
		return lerr(l, s, "'urgency' must be a group { file = \"…\"; … }");
	l->r->urgency_minp = 0.6;
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *name = config_setting_name(e);

		if (strcmp(name, "file") == 0) {
			if (triage_get_string(l, e, "urgency.file", &file) < 0)
				return -1;
		} else if (strcmp(name, "min_confidence") == 0) {
			if (model_number(l, e, "urgency.min_confidence", &l->r->urgency_minp) < 0)
				return -1;
		} else
			return lerr(l, e, "unknown key 'urgency.%s'", name);
	}
	if (file == NULL)
		return lerr(l, s, "'urgency' needs 'file'");
	l->r->urgency_file = model_path(l->file, file);
	if (l->no_model)
		return 0;
	if ((l->r->urgency = triage_model_load(l->r->urgency_file, why, sizeof(why))) == NULL)
		return lerr(l, s, "urgency: %s", why);
	return urgency_classes(l, s);
}

/* Top-level keys, read in this order: each may use what comes before. */
static const struct root_key {
	const char *name;
	int (*load)(struct loader *, const config_setting_t *);
	int version; /* the first version that has it */
	int required;
} root_keys[] = {
    {"version", load_version, 1, 0},
    {"shorthand", shorthand_load, 2, 0},
    {"words", words_load, 2, 0},
    {"settings", load_settings, 2, 0},
    {"questions", questions_load, 1, 0},
    {"categories", load_categories, 1, 1},
    {"model", model_group_load, 1, 0},
    {"urgency", urgency_group_load, 1, 0},
    {"rules", load_rules, 1, 1},
};
#define NROOT_KEYS (sizeof(root_keys) / sizeof(root_keys[0]))

static int
root_known(struct loader *l, const config_setting_t *root)
{
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, i);
		size_t k;

		for (k = 0; k < NROOT_KEYS; k++)
			if (strcmp(config_setting_name(s), root_keys[k].name) == 0)
				break;
		if (k == NROOT_KEYS)
			return lerr(l, s, "unknown key '%s'", config_setting_name(s));
	}
	return 0;
}

static int
load_root(struct loader *l, const config_setting_t *root)
{
	l->r->version = 1;
	l->r->neg_atom = l->r->res_atom = l->r->cmp_atom = NO_ATOM;
	l->r->age_question = -1;
	if (root_known(l, root) < 0)
		return -1;
	for (size_t k = 0; k < NROOT_KEYS; k++) {
		const config_setting_t *s = config_setting_get_member(root, root_keys[k].name);

		if (s == NULL && root_keys[k].required)
			return lerr(l, NULL, "no '%s' list", root_keys[k].name);
		if (s == NULL)
			continue;
		if (l->r->version < root_keys[k].version)
			return lerr(l, s, "'%s' needs 'version = %d;' at the top of the file",
			    root_keys[k].name, root_keys[k].version);
		if (root_keys[k].load(l, s) < 0)
			return -1;
	}
	return 0;
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

/* Phrases that let a group of patterns in: each one's first atom. */
static uint32_t
gate_size(const struct triage_rules *r, const uint32_t *pats, uint32_t n)
{
	uint32_t size = 0;

	for (uint32_t k = 0; k < n; k++)
		size += r->atoms[r->pats[pats[k]].item[0].atom].n;
	return size;
}

/*
 * A rule needs a look only when one of its pattern groups can hold: a
 * group of text_all (all must, so any one will do) or text_any; and a
 * pattern only when its first atom is present. The group with the
 * fewest such phrases lets in the fewest texts. Rules with neither are
 * looked at every time.
 */
static void
index_rule(struct triage_rules *r, uint32_t i)
{
	const struct rule *rule = &r->rules[i];
	const uint32_t *best = NULL;
	uint32_t nbest = 0, size = 0;

	for (uint32_t k = 0; k < rule->nconds; k++) {
		const struct cond *c = &rule->conds[k];

		for (uint32_t g = 0, from = 0; c->type == COND_TEXT_ALL && g < c->ngroups;
		     from = c->ends[g++]) {
			uint32_t z = gate_size(r, c->u.ids + from, c->ends[g] - from);

			if (best == NULL || z < size) {
				best = c->u.ids + from;
				nbest = c->ends[g] - from;
				size = z;
			}
		}
		if (c->type == COND_TEXT_ANY && (best == NULL || gate_size(r, c->u.ids, c->n) < size)) {
			best = c->u.ids;
			nbest = c->n;
			size = gate_size(r, best, nbest);
		}
	}
	if (best == NULL) {
		r->always[i / 64] |= 1ull << (i % 64);
		return;
	}
	for (uint32_t k = 0; k < nbest; k++) {
		const struct atom *a = &r->atoms[r->pats[best[k]].item[0].atom];

		for (uint32_t j = 0; j < a->n; j++)
			post(&r->phrases[a->ph[j]], i);
	}
}

static void
build_index(struct triage_rules *r)
{
	r->rule_words = ((uint32_t)r->nrules + 63) / 64;
	r->phrase_words = (r->nphrases + 63) / 64;
	r->always = xcalloc(r->rule_words ? r->rule_words : 1, sizeof(*r->always));
	pattern_index(r);
	for (uint32_t i = 0; i < (uint32_t)r->nrules; i++)
		index_rule(r, i);
	acm_build(&r->acm, r->phrases, r->nphrases);
	r->mctx = pcre2_match_context_create(NULL);
	if (r->mctx != NULL) {
		pcre2_set_match_limit(r->mctx, REGEX_MATCH_LIMIT);
		pcre2_set_depth_limit(r->mctx, REGEX_DEPTH_LIMIT);
	}
	/* Only the index, the automaton and the shorthand are needed from
	 * here on. */
	strmap_free(&r->phrasemap);
	strmap_free(&r->rulemap);
	strmap_free(&r->tagmap);
	strmap_free(&r->classmap);
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

static struct triage_rules *
load_string(struct loader *lp, const char *text, size_t len)
{
	struct loader l = *lp;

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

struct triage_rules *
triage_load_string(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	struct loader l = {.file = name, .err = err, .errlen = errlen};

	return load_string(&l, text, len);
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

static struct triage_rules *
load_file(const char *path, int no_model, char *err, size_t errlen)
{
	struct loader l = {.file = path, .err = err, .errlen = errlen, .no_model = no_model};
	struct triage_rules *r;
	size_t len;
	char *text;

	if (path == NULL) {
		ferr(err, errlen, "rules", "no file named");
		return NULL;
	}
	if ((text = read_file(path, &len, err, errlen)) == NULL)
		return NULL;
	r = load_string(&l, text, len);
	free(text);
	return r;
}

struct triage_rules *
triage_load(const char *path, char *err, size_t errlen)
{
	return load_file(path, 0, err, errlen);
}

struct triage_rules *
triage_load_no_model(const char *path, char *err, size_t errlen)
{
	return load_file(path, 1, err, errlen);
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
	questions_free(r);
	for (int i = 0; i < r->nrules; i++)
		rule_free(&r->rules[i]);
	free(r->rules);
	for (uint32_t i = 0; i < r->nphrases; i++) {
		free(r->phrases[i].text);
		free(r->phrases[i].rules);
		free(r->phrases[i].atoms);
	}
	free(r->phrases);
	for (uint32_t i = 0; i < r->natoms; i++)
		free(r->atoms[i].ph);
	free(r->atoms);
	for (uint32_t i = 0; i < r->npats; i++)
		free(r->pats[i].src);
	free(r->pats);
	for (uint32_t i = 0; i < r->nclasses; i++)
		free(r->classnames[i]);
	free(r->classnames);
	free(r->classatom);
	for (uint32_t i = 0; i < r->nshort; i++) {
		free(r->shortfrom[i]);
		free(r->shortto[i]);
	}
	free(r->shortfrom);
	free(r->shortto);
	strmap_free(&r->shortmap);
	strmap_free(&r->classmap);
	for (uint32_t i = 0; i < r->ntagpool; i++)
		free(r->tagpool[i]);
	free(r->tagpool);
	free(r->always);
	triage_model_free(r->model);
	free(r->model_file);
	free(r->model_cat);
	free(r->model_harm);
	triage_model_free(r->urgency);
	free(r->urgency_file);
	acm_free(&r->acm);
	pcre2_match_context_free(r->mctx);
	strmap_free(&r->catmap);
	strmap_free(&r->rulemap);
	strmap_free(&r->phrasemap);
	strmap_free(&r->tagmap);
	free(r);
}

