/*
 * triage_cmd.c: the rule author's command line: hotline111d
 * --check-rules FILE and --triage [--json] TEXT… (hotline111d(8)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "log.h"
#include "triage_int.h"
#include "triage_model.h"
#include "xmalloc.h"

int
triage_cmd_check(const char *path)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = triage_load(path, err, sizeof(err));

	if (r == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: version %d, %d categories, %d rules, %u word classes", path, r->version,
	    r->ncats, r->nrules, r->nclasses);
	if (r->model != NULL)
		printf(", model %s (%d classes, %d features)", r->model_file,
		    triage_model_class_count(r->model), triage_model_feature_count(r->model));
	if (r->urgency != NULL)
		printf(", urgency %s (%d features)", r->urgency_file,
		    triage_model_feature_count(r->urgency));
	printf(", ok\n");
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

static void
print_json(const char *text, const struct triage_result *res)
{
	char *clean = utf8_sanitize(text), *line;
	json_t *o = json_pack("{s:s}", "text", clean), *r = triage_result_json(res);

	json_object_update(o, r);
	json_decref(r);
	if (res->nblocked > 0) {
		json_t *b = json_object();

		for (int i = 0; i < res->nblocked; i++)
			json_object_set_new(b, res->blocked[i], json_string(res->blocked_by[i]));
		json_object_set_new(o, "blocked", b);
	}
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
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

/* The readers' answers on lines of their own under the text's:
 * "    model: abuse.sexual 0.81 — sờ soạng, vùng kín (applied)",
 * "    urgency: now 0.72 (applied)". */
static void
print_model(const struct triage_result *res, char *esc, size_t blen)
{
	const char *w = res->model.words;

	if (res->model.category != NULL)
		printf("    model: %s %.2f%s%s%s\n", res->model.category, res->model.p,
		    *w ? " \u2014 " : "", log_escape(esc, blen, w, strlen(w)),
		    res->model.applied ? " (applied)" : "");
	if (res->urgency.asked)
		printf("    urgency: now %.2f%s\n", res->urgency.p,
		    res->urgency.applied ? " (applied)" : "");
}

/* Columns: priority, category, rules, text, as wide as the batch needs;
 * a model's suggestion on the next line. */
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
		print_model(&t[i].res, esc, blen);
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

