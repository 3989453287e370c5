/*
 * triage_train.c: hotline111d --train (hotline111d(8)): labelled notes in,
 * a model file out (triage_model.h), with its cross-validated accuracy
 * per class. LIBLINEAR does the learning (train(), L2-regularised
 * logistic regression); this file only reads notes, builds features and
 * writes what LIBLINEAR learnt. Everything is in a fixed order, so the
 * same notes always give the same file, byte for byte.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <linear.h>

#include "strmap.h"
#include "textnorm.h"
#include "triage.h"
#include "triage_model.h"
#include "xmalloc.h"

#define TRAIN_C 4.0     /* LIBLINEAR -c: measured in doc/ and README */
#define TRAIN_EPS 0.01  /* LIBLINEAR's default for -s 0 */
#define MAX_NOTES 1000000
#define MAX_TEXT 65536  /* bytes of one note's text */

struct note {
	int cls;
	uint32_t *f; /* distinct features, ascending */
	uint32_t nf;
};

struct corpus {
	int urgency; /* labels: "now" and "later" (triage_train_opts) */
	char **cls;  /* class names */
	int ncls;
	struct note *notes;
	uint32_t n, cap;
	/* the vocabulary: every feature seen, its key and in how many notes */
	struct strmap map;
	char **key;
	uint32_t *df;
	uint32_t nkey, capkey;
	/* the features kept (df >= min_df), in key order: kept[i] is a key
	 * index; newid[key] is its index + 1 there, 0 if dropped */
	uint32_t *kept, *newid;
	uint32_t nkept;
	/* scratch while reading one note */
	uint32_t *cur;
	uint32_t ncur, capcur;
};

/* --- reading labelled notes ---------------------------------------------- */

static int
class_index(struct corpus *c, const char *name)
{
	for (int i = 0; i < c->ncls; i++)
		if (strcmp(c->cls[i], name) == 0)
			return i;
	c->cls = xreallocarray(c->cls, (size_t)c->ncls + 1, sizeof(*c->cls));
	c->cls[c->ncls] = xstrdup(name);
	return c->ncls++;
}

static void
on_key(void *ctx, const char *key, size_t len, uint32_t w0, uint32_t w1)
{
	struct corpus *c = ctx;
	int id;
	char *k;

	if (len > MODEL_MAX_KEY)
		return;
	if ((id = strmap_get(&c->map, key, len)) < 0) {
		if (c->nkey == c->capkey) {
			c->capkey = c->capkey ? c->capkey * 2 : 4096;
			c->key = xreallocarray(c->key, c->capkey, sizeof(*c->key));
			c->df = xreallocarray(c->df, c->capkey, sizeof(*c->df));
		}
		k = xstrndup(key, len);
		id = (int)c->nkey;
		c->key[c->nkey] = k;
		c->df[c->nkey++] = 0;
		strmap_add(&c->map, k, len, id);
	}
	if (c->ncur == c->capcur) {
		c->capcur = c->capcur ? c->capcur * 2 : 1024;
		c->cur = xreallocarray(c->cur, c->capcur, sizeof(*c->cur));
	}
	c->cur[c->ncur++] = (uint32_t)id;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* One labelled text: its distinct features counted once each. */
static void
add_note(struct corpus *c, const char *label, const char *text)
{
	size_t len;
	char *folded = textnorm_fold(text, strlen(text), &len);
	struct note *n;
	uint32_t k = 0;

	c->ncur = 0;
	triage_model_features(folded, len, on_key, c);
	free(folded);
	if (c->ncur == 0)
		return; /* nothing the model could read */
	qsort(c->cur, c->ncur, sizeof(*c->cur), cmp_u32);
	for (uint32_t i = 0; i < c->ncur; i++)
		if (i == 0 || c->cur[i] != c->cur[i - 1])
			c->cur[k++] = c->cur[i];
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->notes = xreallocarray(c->notes, c->cap, sizeof(*c->notes));
	}
	n = &c->notes[c->n++];
	n->cls = class_index(c, label);
	n->nf = k;
	n->f = xreallocarray(NULL, k, sizeof(*n->f));
	memcpy(n->f, c->cur, k * sizeof(*n->f));
	for (uint32_t i = 0; i < k; i++)
		c->df[n->f[i]]++;
}

/* The urgency label of a note whose most urgent allowed priority, the
 * last number of "1", "1-1" or "2-3", is 1. */
static const char *
urgency(const char *priorities)
{
	const char *hi = strrchr(priorities, '-');

	return strcmp(hi != NULL ? hi + 1 : priorities, "1") == 0 ? "now" : "later";
}

static int
split_tabs(char *s, char **f, int max)
{
	int n = 0;

	f[n++] = s;
	for (char *p = s; (p = strchr(p, '\t')) != NULL && n < max + 1; p++) {
		*p = '\0';
		f[n++] = p + 1;
	}
	return n;
}

/*
 * Two formats, told apart by their columns: a blind batch (ID TEXT
 * CATEGORIES MAXP MINP; the first category is the label) and the tuning
 * corpus (CATEGORY PRIORITIES BENIGN TEXT; "-", no category, is info).
 */
static int
read_line(struct corpus *c, const char *file, unsigned line, char *s)
{
	char *f[6];
	int n = split_tabs(s, f, 5);

	if (n == 5 && strchr("dsci", f[0][0]) != NULL && f[0][0] != '\0') {
		f[2][strcspn(f[2], "|")] = '\0';
		add_note(c, c->urgency ? urgency(f[3]) : f[2], f[1]);
	} else if (n == 4)
		add_note(c, c->urgency ? urgency(f[1]) : strcmp(f[0], "-") == 0 ? "info" : f[0], f[3]);
	else {
		fprintf(stderr, "%s:%u: expected ID TEXT CATEGORIES MAXP MINP or "
		    "CATEGORY PRIORITIES BENIGN TEXT, tab separated\n", file, line);
		return -1;
	}
	if (c->n > MAX_NOTES) {
		fprintf(stderr, "%s:%u: more than %d notes\n", file, line, MAX_NOTES);
		return -1;
	}
	return 0;
}

static int
read_corpus(struct corpus *c, const char *file)
{
	FILE *fp = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned ln = 0;
	int rc = 0;

	if (fp == NULL) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		return -1;
	}
	while (rc == 0 && (len = getline(&line, &cap, fp)) >= 0) {
		ln++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (len > MAX_TEXT) {
			fprintf(stderr, "%s:%u: line longer than %d bytes\n", file, ln, MAX_TEXT);
			rc = -1;
		} else
			rc = read_line(c, file, ln, line);
	}
	free(line);
	fclose(fp);
	return rc;
}

/* Closed cases and the category people finally gave them; a synchronous
 * query is fine for a command-line tool. */
static int
read_db(struct corpus *c, const char *conninfo)
{
	static const char *sql =
	    "SELECT c.category, coalesce((SELECT string_agg(n.text, E'\\n' ORDER BY n.id) "
	    "FROM notes n WHERE n.case_id = c.id), (SELECT string_agg(t.text, E'\\n' "
	    "ORDER BY t.created_at, t.ticket_id) FROM tickets t WHERE t.case_id = c.id)) "
	    "FROM cases c WHERE c.status = 'closed' AND c.category IS NOT NULL ORDER BY c.id";
	const char *kw[] = {"dbname", "fallback_application_name", NULL};
	const char *val[] = {conninfo, "hotline111d --train", NULL};
	PGconn *db = PQconnectdbParams(kw, val, 1);
	PGresult *r;
	int rc = 0;

	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "database: %s", PQerrorMessage(db));
		PQfinish(db);
		return -1;
	}
	r = PQexecParams(db, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "database: %s", PQresultErrorMessage(r));
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < PQntuples(r); i++)
		if (!PQgetisnull(r, i, 1))
			add_note(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	PQfinish(db);
	return rc;
}

/* --- classes and features ------------------------------------------------ */

/* With a rules file, every label must be one of its categories, and
 * classes follow its order; else label order is alphabetical. */
static int
order_classes(struct corpus *c, const char *rules)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = NULL;
	int *rank = xcalloc((size_t)c->ncls, sizeof(*rank)), *map, rc = 0;
	char **cls = xcalloc((size_t)c->ncls, sizeof(*cls));

	if (rules != NULL && (r = triage_load_no_model(rules, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		free(rank);
		free(cls);
		return -1;
	}
	for (int i = 0; i < c->ncls; i++) {
		rank[i] = 0;
		for (int j = 0; j < c->ncls; j++) {
			int before = 0;

			if (r != NULL) {
				int a = -1, b = -1;

				for (int k = 0; k < triage_category_count(r); k++) {
					a = strcmp(triage_category_id(r, k), c->cls[j]) == 0 ? k : a;
					b = strcmp(triage_category_id(r, k), c->cls[i]) == 0 ? k : b;
				}
				before = a < b;
			} else
				before = strcmp(c->cls[j], c->cls[i]) < 0;
			rank[i] += before;
		}
		if (r != NULL && !triage_category_exists(r, c->cls[i])) {
			fprintf(stderr, "label '%s' is not a category of %s\n", c->cls[i], rules);
			rc = -1;
		}
	}
	map = rank;
	for (int i = 0; i < c->ncls; i++)
		cls[map[i]] = c->cls[i];
	for (uint32_t i = 0; i < c->n; i++)
		c->notes[i].cls = map[c->notes[i].cls];
	free(c->cls);
	c->cls = cls;
	free(rank);
	triage_free(r);
	return rc;
}

static const struct corpus *sort_corpus; /* for qsort: no qsort_r in C11 */

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(sort_corpus->key[*(const uint32_t *)a], sort_corpus->key[*(const uint32_t *)b]);
}

/* Features seen in at least min_df notes, in key order. */
static void
keep_features(struct corpus *c, int min_df)
{
	c->kept = xcalloc(c->nkey ? c->nkey : 1, sizeof(*c->kept));
	c->newid = xcalloc(c->nkey ? c->nkey : 1, sizeof(*c->newid));
	for (uint32_t i = 0; i < c->nkey; i++)
		if (c->df[i] >= (uint32_t)min_df)
			c->kept[c->nkept++] = i;
	sort_corpus = c;
	qsort(c->kept, c->nkept, sizeof(*c->kept), cmp_key);
	for (uint32_t i = 0; i < c->nkept; i++)
		c->newid[c->kept[i]] = i + 1;
}

/* --- LIBLINEAR ----------------------------------------------------------- */

/* Note i as LIBLINEAR reads it: its kept features (binary, L2-normalised,
 * as triage_model.c scores them), the bias, the end mark. */
static struct feature_node *
note_x(const struct corpus *c, const struct note *n)
{
	struct feature_node *x = xcalloc(n->nf + 2, sizeof(*x));
	uint32_t k = 0;
	double v;

	for (uint32_t i = 0; i < n->nf; i++)
		if (c->newid[n->f[i]] != 0)
			x[k++].index = (int)c->newid[n->f[i]];
	qsort(x, k, sizeof(*x), cmp_u32); /* index is the struct's first member */
	v = k > 0 ? 1.0 / sqrt((double)k) : 0;
	for (uint32_t i = 0; i < k; i++)
		x[i].value = v;
	x[k].index = (int)c->nkept + 1;
	x[k].value = 1;
	x[k + 1].index = -1;
	return x;
}

static void
quiet(const char *s)
{
	(void)s;
}

static struct model *
learn(const struct corpus *c, struct feature_node **x, const int *use, int nuse)
{
	struct problem prob = {.l = nuse, .n = (int)c->nkept + 1, .bias = 1};
	struct parameter param = {.solver_type = L2R_LR, .eps = TRAIN_EPS, .C = TRAIN_C, .p = 0.1};
	struct model *m;
	const char *bad;

	prob.y = xcalloc((size_t)nuse, sizeof(*prob.y));
	prob.x = xcalloc((size_t)nuse, sizeof(*prob.x));
	for (int i = 0; i < nuse; i++) {
		prob.y[i] = c->notes[use[i]].cls;
		prob.x[i] = x[use[i]];
	}
	if ((bad = check_parameter(&prob, &param)) != NULL) {
		fprintf(stderr, "liblinear: %s\n", bad);
		m = NULL;
	} else
		m = train(&prob, &param);
	free(prob.y);
	free(prob.x);
	return m;
}

/* LIBLINEAR's column of each of our classes, -1 for a class absent from
 * the notes it learnt from. */
static void
columns(const struct model *m, int ncls, int *col)
{
	for (int k = 0; k < ncls; k++) {
		col[k] = -1;
		for (int i = 0; i < m->nr_class; i++)
			if (m->label[i] == k)
				col[k] = i;
	}
}

/* The weight of feature f (0-based, the bias last) in column col. */
static double
weight(const struct model *m, int col, int f)
{
	if (col < 0)
		return 0;
	if (m->nr_class == 2) /* one column, for label[0]: the other is its negative */
		return col == 0 ? m->w[f] : -m->w[f];
	return m->w[(size_t)f * (size_t)m->nr_class + (size_t)col];
}

/* " K:W" for each class whose weight is at least prune in magnitude. */
static void
write_weights(FILE *out, const struct corpus *c, const struct model *m, const int *col, int f,
    double prune)
{
	for (int k = 0; k < c->ncls; k++) {
		double w = weight(m, col[k], f);

		if (fabs(w) >= prune && w != 0)
			fprintf(out, " %d:%.4g", k, w);
	}
}

static void
write_model(FILE *out, const struct corpus *c, const struct model *m, double prune, int min_df)
{
	int *col = xcalloc((size_t)c->ncls, sizeof(*col));

	columns(m, c->ncls, col);
	fprintf(out, "%s %d\n", MODEL_MAGIC, MODEL_VERSION);
	fprintf(out, "# hotline111d --train: %u notes, LIBLINEAR L2-regularised logistic "
	    "regression, C=%g; features seen in >= %d notes; weights under %g dropped\n",
	    c->n, TRAIN_C, min_df, prune);
	fprintf(out, "classes");
	for (int k = 0; k < c->ncls; k++)
		fprintf(out, " %s", c->cls[k]);
	fprintf(out, "\nfeatures words pairs chars 3 5\nbias");
	write_weights(out, c, m, col, (int)c->nkept, 0);
	fprintf(out, "\n");
	for (uint32_t i = 0; i < c->nkept; i++) {
		fprintf(out, "f %s", c->key[c->kept[i]]);
		write_weights(out, c, m, col, (int)i, prune);
		fprintf(out, "\n");
	}
	fprintf(out, "end %u\n", c->nkept);
	free(col);
}

/* --- cross-validation ---------------------------------------------------- */

static uint32_t
mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352d;
	h ^= h >> 15;
	h *= 0x846ca68b;
	return h ^ (h >> 16);
}

/* The text a note was read from is gone; a fold model is scored on the
 * note's features, as triage_model_predict() would score its text. */
static int
predict_note(const struct corpus *c, const struct model *m, const int *col,
    const struct feature_node *x, double prune)
{
	double best = -INFINITY;
	int cls = 0;

	for (int k = 0; k < c->ncls; k++) {
		double d = 0;

		for (int i = 0; x[i].index != -1; i++) {
			int f = x[i].index - 1;
			double w = weight(m, col[k], f);

			if (f < (int)c->nkept && fabs(w) < prune)
				continue;
			d += x[i].value * w;
		}
		if (d > best) {
			best = d;
			cls = k;
		}
	}
	return cls;
}

/*
 * folds-fold cross-validation, notes dealt to folds by a fixed hash of
 * their position: each fold's model is learnt on the others, pruned as
 * the shipped one is, and scored on its own notes. Fills right[k] and
 * seen[k] per class.
 */
static int
cross_validate(const struct corpus *c, struct feature_node **x, int folds, double prune,
    int *right, int *seen)
{
	int *use = xcalloc(c->n, sizeof(*use)), *fold = xcalloc(c->n, sizeof(*fold));
	int *col = xcalloc((size_t)c->ncls, sizeof(*col));

	for (uint32_t i = 0; i < c->n; i++)
		fold[i] = (int)(mix(i + 1) % (uint32_t)folds);
	for (int f = 0; f < folds; f++) {
		int nuse = 0;
		struct model *m;

		for (uint32_t i = 0; i < c->n; i++)
			if (fold[i] != f)
				use[nuse++] = (int)i;
		if ((m = learn(c, x, use, nuse)) == NULL) {
			free(use);
			free(fold);
			free(col);
			return -1;
		}
		columns(m, c->ncls, col);
		for (uint32_t i = 0; i < c->n; i++) {
			if (fold[i] != f)
				continue;
			seen[c->notes[i].cls]++;
			right[c->notes[i].cls] += predict_note(c, m, col, x[i], prune) == c->notes[i].cls;
		}
		free_and_destroy_model(&m);
	}
	free(use);
	free(fold);
	free(col);
	return 0;
}

static void
print_cv(const struct corpus *c, int folds, const int *right, const int *seen)
{
	int r = 0, s = 0;

	printf("%d-fold cross-validated accuracy, by class (label):\n", folds);
	for (int k = 0; k < c->ncls; k++) {
		printf("  %-18s %5d notes  %5.1f %%\n", c->cls[k], seen[k],
		    seen[k] ? 100.0 * right[k] / seen[k] : 0.0);
		r += right[k];
		s += seen[k];
	}
	printf("  %-18s %5d notes  %5.1f %%\n", "all", s, s ? 100.0 * r / s : 0.0);
}

/* --- the command --------------------------------------------------------- */

static void
corpus_free(struct corpus *c)
{
	for (int i = 0; i < c->ncls; i++)
		free(c->cls[i]);
	free(c->cls);
	for (uint32_t i = 0; i < c->n; i++)
		free(c->notes[i].f);
	free(c->notes);
	for (uint32_t i = 0; i < c->nkey; i++)
		free(c->key[i]);
	free(c->key);
	free(c->df);
	free(c->kept);
	free(c->newid);
	free(c->cur);
	strmap_free(&c->map);
}

static int
read_all(struct corpus *c, const struct triage_train_opts *o)
{
	c->urgency = o->urgency;
	if (o->urgency && o->from_db) {
		fprintf(stderr, "--train --urgency: not from the database (cases keep no "
		    "danger-now label yet)\n");
		return -1;
	}
	for (int i = 0; i < o->ncorpora; i++)
		if (read_corpus(c, o->corpora[i]) < 0)
			return -1;
	if (o->from_db && read_db(c, o->conninfo) < 0)
		return -1;
	if (c->ncls < 2) {
		fprintf(stderr, "--train: the notes name %d class%s; a model needs 2 or more\n",
		    c->ncls, c->ncls == 1 ? "" : "es");
		return -1;
	}
	/* the urgency labels are not categories: in name order */
	return order_classes(c, o->urgency ? NULL : o->rules);
}

/* Written beside the target and renamed over it: a reader never sees half a model. */
static int
save(const struct corpus *c, const struct model *m, const struct triage_train_opts *o)
{
	char *tmp;
	FILE *out;
	int rc = 0;

	xasprintf(&tmp, "%s.tmp", o->out);
	if ((out = fopen(tmp, "w")) == NULL) {
		fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	write_model(out, c, m, o->prune, o->min_df);
	if (fclose(out) != 0 || rename(tmp, o->out) != 0) {
		fprintf(stderr, "%s: %s\n", o->out, strerror(errno));
		remove(tmp);
		rc = -1;
	}
	free(tmp);
	return rc;
}

int
triage_train_cmd(const struct triage_train_opts *o)
{
	struct corpus c = {0};
	struct feature_node **x = NULL;
	int *right = NULL, *seen = NULL, *all = NULL, rc = 1;
	struct model *m = NULL;

	set_print_string_function(quiet);
	if (read_all(&c, o) < 0)
		goto out;
	keep_features(&c, o->min_df);
	x = xcalloc(c.n, sizeof(*x));
	for (uint32_t i = 0; i < c.n; i++)
		x[i] = note_x(&c, &c.notes[i]);
	printf("%u notes, %d classes, %u features (of %u seen)\n", c.n, c.ncls, c.nkept, c.nkey);
	right = xcalloc((size_t)c.ncls, sizeof(*right));
	seen = xcalloc((size_t)c.ncls, sizeof(*seen));
	if (o->folds > 1) {
		if (cross_validate(&c, x, o->folds, o->prune, right, seen) < 0)
			goto out;
		print_cv(&c, o->folds, right, seen);
	}
	all = xcalloc(c.n, sizeof(*all));
	for (uint32_t i = 0; i < c.n; i++)
		all[i] = (int)i;
	if ((m = learn(&c, x, all, (int)c.n)) == NULL || save(&c, m, o) < 0)
		goto out;
	printf("%s: written\n", o->out);
	rc = 0;
out:
	if (m != NULL)
		free_and_destroy_model(&m);
	for (uint32_t i = 0; x != NULL && i < c.n; i++)
		free(x[i]);
	free(x);
	free(right);
	free(seen);
	free(all);
	corpus_free(&c);
	return rc;
}
