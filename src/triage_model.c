/*
 * triage_model.c: the model file read and checked, a note's features, the
 * model's guess and the words behind it. See triage_model.h.
 */
#include "triage_model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utf8proc.h>

#include "textnorm.h"
#include "xmalloc.h"

#define MAX_WEIGHT 1e6   /* larger is a damaged file, not a model */
#define MAX_WORD 48      /* bytes: longer words (a pasted link) give no feature */
#define STACK_HITS 1024  /* feature hits per note kept in place */
#define STACK_WORDS 512  /* words per note scored on the stack */
#define LOOKAHEAD 8      /* features whose slots are fetched before they are read */
#define WORD_SHARE 0.25  /* a reported word weighs at least this share of the first */
#define FEATURES "words pairs chars 3 5"

struct triage_model {
	char *text; /* the file, cut into NUL-terminated tokens */
	char **cls;
	int ncls;
	unsigned cls_line;
	float *bias;     /* ncls */
	uint32_t nfeat;
	const char **key; /* feature i's key, in text */
	uint8_t *klen;
	uint32_t *off;   /* feature i's weights: off[i] .. off[i + 1] - 1 */
	struct weight {
		float w;
		uint32_t cls;
	} * w;
	uint32_t nw;
	float *mean; /* feature i's weights summed over the classes, / ncls */
	/*
	 * Feature i's weight for every class, 0 where the file gives none,
	 * at dense + i * stride (a cache line or a few), or NULL: made when
	 * it takes at most twice the bytes of the lists, as when features
	 * weigh on most classes (the shipped model's do). A note's features
	 * lie all over the model: one line to fetch for each, not three.
	 */
	float *dense;
	uint32_t stride;
	/*
	 * Features by a 64-bit hash of their key: the low bits place them,
	 * the high 32 are kept as a tag, and a lookup takes a tag match for
	 * the feature without comparing keys (one memory access, not three).
	 * Loading compares keys, so two features never share a tag on one
	 * probe run; an n-gram the model does not know passes for one it
	 * knows once in 2^32 lookups, for a weight among hundreds.
	 */
	struct fslot {
		uint32_t tag;
		uint32_t f; /* feature index + 1, 0 empty */
	} * slot;
	uint32_t mask;
};

/* --- features ------------------------------------------------------------ */

#define FNV_BASIS 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

/* FNV-1a, 64 bits, of a key as the file writes it; the low bits place,
 * so the high ones are folded in. */
static uint64_t
fnv(const char *s, size_t n)
{
	uint64_t h = FNV_BASIS;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
	return h ^ (h >> 29);
}

static uint64_t
fnv_add(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)(s[i] == ' ' ? '_' : s[i])) * FNV_PRIME;
	return h;
}

/* The hash of "TYPE:" so far, to go on with the run. */
static uint64_t
fnv_type(char type)
{
	return (((FNV_BASIS ^ (unsigned char)type) * FNV_PRIME) ^ ':') * FNV_PRIME;
}

/* What fnv() gives for the key whose hash so far is h. */
static uint64_t
fnv_end(uint64_t h)
{
	return h ^ (h >> 29);
}

/*
 * Features are walked in place: each is a type ('w', 'p', 'c') and a run
 * of the folded text, " " standing for the '_' of its key ("c:_be" is 'c'
 * and " be"); a word pair is two runs, its words ("p:be_bi" is 'p', "be"
 * and "bi"). The walk gives the hash of the key too, as fnv() makes it
 * from the key, so that prediction looks features up without a copy,
 * and hashes the n-grams of one start once for the three lengths.
 */
struct feature {
	char type;
	const char *s, *s2; /* s2: a pair's second word, else NULL */
	size_t n, n2;
	uint64_t hash;
	uint32_t w0, w1; /* the words it comes from */
};

typedef void (*raw_fn)(void *ctx, const struct feature *f);

/* The n-grams, 3 to 5 code points, of the word t[i..j) with the spaces
 * around it (t[i - 1] and t[j]). */
static void
char_grams(const char *t, size_t len, size_t i, size_t j, uint32_t k, raw_fn fn, void *ctx)
{
	uint32_t start[MAX_WORD + 3], n = 0;
	size_t end = j < len ? j + 1 : len;
	struct feature f = {.type = 'c', .w0 = k, .w1 = k};

	for (size_t p = i - 1; p < end; p++)
		if (((unsigned char)t[p] & 0xc0) != 0x80)
			start[n++] = (uint32_t)p;
	start[n] = (uint32_t)end;
	for (uint32_t s = 0; s + 3 <= n; s++) {
		uint64_t h = fnv_add(fnv_type('c'), t + start[s], start[s + 2] - start[s]);

		f.s = t + start[s];
		for (uint32_t g = 3; g <= 5 && s + g <= n; g++) {
			h = fnv_add(h, t + start[s + g - 1], start[s + g] - start[s + g - 1]);
			f.n = start[s + g] - start[s];
			f.hash = fnv_end(h);
			fn(ctx, &f);
		}
	}
}

/* The sentence and phrase breaks of textnorm_fold_sentences(), which the
 * model does not read: its features are those of textnorm_fold(). */
static int
is_break(const char *w, size_t n)
{
	return n == 1 && (w[0] == '.' || w[0] == ',');
}

/* Word w (n bytes), and its pair with the word before when there is one. */
static void
word_features(const struct feature *prev, const char *w, size_t n, uint32_t k, raw_fn fn,
    void *ctx)
{
	struct feature f = {'w', w, NULL, n, 0, 0, k, k};

	f.hash = fnv_end(fnv_add(fnv_type('w'), w, n));
	fn(ctx, &f);
	if (prev->s == NULL)
		return;
	f = (struct feature){'p', prev->s, w, prev->n, n, 0, k - 1, k};
	f.hash = fnv_end(fnv_add((fnv_add(fnv_type('p'), prev->s, prev->n) ^ '_') * FNV_PRIME, w, n));
	fn(ctx, &f);
}

static void
walk_features(const char *t, size_t len, raw_fn fn, void *ctx)
{
	struct feature prev = {0};
	size_t j;
	uint32_t k = 0;

	for (size_t i = 1; i < len; i = j + 1) {
		for (j = i; j < len && t[j] != ' '; j++)
			;
		if (j == i)
			break;
		if (is_break(t + i, j - i))
			continue;
		if (j - i <= MAX_WORD) {
			word_features(&prev, t + i, j - i, k, fn, ctx);
			char_grams(t, len, i, j, k, fn, ctx);
			prev.s = t + i;
			prev.n = j - i;
		} else
			prev.s = NULL;
		k++;
	}
}

struct keyed {
	void (*fn)(void *, const char *, size_t, uint32_t, uint32_t);
	void *ctx;
};

static size_t
key_part(char *key, size_t o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		key[o++] = s[i] == ' ' ? '_' : s[i];
	return o;
}

static void
as_key(void *ctx, const struct feature *f)
{
	const struct keyed *kd = ctx;
	char key[2 * MAX_WORD + 4];
	size_t o = key_part(key, 2, f->s, f->n);

	key[0] = f->type;
	key[1] = ':';
	if (f->s2 != NULL) {
		key[o++] = '_';
		o = key_part(key, o, f->s2, f->n2);
	}
	kd->fn(kd->ctx, key, o, f->w0, f->w1);
}

void
triage_model_features(const char *t, size_t len,
    void (*fn)(void *, const char *, size_t, uint32_t, uint32_t), void *ctx)
{
	struct keyed kd = {fn, ctx};

	if (len > 0 && t[0] == ' ')
		walk_features(t, len, as_key, &kd);
}

/* --- loading ------------------------------------------------------------- */

struct mload {
	struct triage_model *m;
	const char *name;
	char *err;
	size_t errlen;
	unsigned line;
	uint32_t capfeat, capw;
};

static int
merr(struct mload *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
merr(struct mload *l, const char *fmt, ...)
{
	va_list ap;
	size_t o;

	if (l->err == NULL || l->errlen == 0)
		return -1;
	snprintf(l->err, l->errlen, "%s:%u: ", l->name, l->line);
	o = strlen(l->err);
	va_start(ap, fmt);
	if (o < l->errlen)
		vsnprintf(l->err + o, l->errlen - o, fmt, ap);
	va_end(ap);
	return -1;
}

/* Space-separated tokens of a line, at most max. */
static int
split(char *s, char **tok, int max)
{
	int n = 0;

	for (char *p = strtok(s, " "); p != NULL; p = strtok(NULL, " ")) {
		if (n == max)
			return max + 1;
		tok[n++] = p;
	}
	return n;
}

static int
class_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int
read_header(struct mload *l, char *line)
{
	char *tok[3];
	int n = split(line, tok, 3);

	if (n < 1 || strcmp(tok[0], MODEL_MAGIC) != 0)
		return merr(l, "not a hotline111 model (the first line must be '%s %d')",
		    MODEL_MAGIC, MODEL_VERSION);
	if (n != 2 || strcmp(tok[1], "1") != 0)
		return merr(l, "model version '%s' is not supported (this daemon reads %d)",
		    n >= 2 ? tok[1] : "", MODEL_VERSION);
	return 0;
}

static int
read_classes(struct mload *l, char *line)
{
	char *tok[MODEL_MAX_CLASSES + 2];
	int n = split(line, tok, MODEL_MAX_CLASSES + 1);
	struct triage_model *m = l->m;

	if (n < 1 || strcmp(tok[0], "classes") != 0)
		return merr(l, "expected 'classes ID...'");
	if (n > MODEL_MAX_CLASSES + 1)
		return merr(l, "more than %d classes", MODEL_MAX_CLASSES);
	if (n < 3)
		return merr(l, "a model needs at least 2 classes");
	m->ncls = n - 1;
	m->cls_line = l->line;
	m->cls = xcalloc((size_t)m->ncls, sizeof(*m->cls));
	for (int i = 0; i < m->ncls; i++) {
		if (!class_name_ok(tok[i + 1]))
			return merr(l, "bad class name '%.64s'", tok[i + 1]);
		for (int j = 0; j < i; j++)
			if (strcmp(m->cls[j], tok[i + 1]) == 0)
				return merr(l, "class '%s' given twice", tok[i + 1]);
		m->cls[i] = tok[i + 1];
	}
	m->bias = xcalloc((size_t)m->ncls, sizeof(*m->bias));
	return 0;
}

static int
read_features(struct mload *l, char *line)
{
	if (strcmp(line, "features " FEATURES) != 0)
		return merr(l, "expected 'features %s' (the features this daemon computes)",
		    FEATURES);
	return 0;
}

/* "K:W": class K of the model, W a finite weight. */
static int
read_weight(struct mload *l, const char *s, int *k, float *w)
{
	char *end;
	long cls;
	double v;

	errno = 0;
	cls = strtol(s, &end, 10);
	if (end == s || *end != ':' || cls < 0 || cls >= l->m->ncls)
		return merr(l, "bad weight '%.40s' (CLASS:WEIGHT, CLASS 0..%d)", s,
		    l->m->ncls - 1);
	v = strtod(end + 1, &end);
	if (*end != '\0' || end == s || errno == ERANGE || !isfinite(v) || fabs(v) > MAX_WEIGHT)
		return merr(l, "bad weight '%.40s' (not a finite number up to %g)", s, MAX_WEIGHT);
	*k = (int)cls;
	*w = (float)v;
	return 0;
}

/* Weights of one line, classes in ascending order, each once. */
static int
read_weights(struct mload *l, char **tok, int n, int bias)
{
	struct triage_model *m = l->m;
	int last = -1;

	for (int i = 0; i < n; i++) {
		int k = 0;
		float w = 0;

		if (read_weight(l, tok[i], &k, &w) < 0)
			return -1;
		if (k <= last)
			return merr(l, "class %d out of order or given twice", k);
		last = k;
		if (bias) {
			m->bias[k] = w;
			continue;
		}
		if (m->nw == l->capw) {
			l->capw = l->capw ? l->capw * 2 : 1024;
			m->w = xreallocarray(m->w, l->capw, sizeof(*m->w));
		}
		m->w[m->nw++] = (struct weight){w, (uint32_t)k};
	}
	return 0;
}

static int
read_bias(struct mload *l, char *line)
{
	char *tok[MODEL_MAX_CLASSES + 2];
	int n = split(line, tok, MODEL_MAX_CLASSES + 1);

	if (n < 1 || strcmp(tok[0], "bias") != 0)
		return merr(l, "expected 'bias CLASS:WEIGHT...'");
	if (n > l->m->ncls + 1)
		return merr(l, "more weights than classes");
	return read_weights(l, tok + 1, n - 1, 1);
}

static int
key_ok(const char *k, size_t n)
{
	if (n < 3 || n > MODEL_MAX_KEY || k[1] != ':' || strchr("wpc", k[0]) == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f)
			return 0;
	return 1;
}

static void
grow_features(struct mload *l)
{
	struct triage_model *m = l->m;

	l->capfeat = l->capfeat ? l->capfeat * 2 : 1024;
	m->key = xreallocarray(m->key, l->capfeat, sizeof(*m->key));
	m->klen = xreallocarray(m->klen, l->capfeat, sizeof(*m->klen));
	m->off = xreallocarray(m->off, l->capfeat + 1, sizeof(*m->off));
}

static int
read_feature(struct mload *l, char *line)
{
	char *tok[MODEL_MAX_CLASSES + 3];
	int n = split(line, tok, MODEL_MAX_CLASSES + 2);
	struct triage_model *m = l->m;
	size_t kl;

	if (n < 2 || strcmp(tok[0], "f") != 0)
		return merr(l, "expected 'f KEY CLASS:WEIGHT...' or 'end N'");
	if (n > m->ncls + 2)
		return merr(l, "more weights than classes");
	kl = strlen(tok[1]);
	if (!key_ok(tok[1], kl))
		return merr(l, "bad feature key '%.40s'", tok[1]);
	if (m->nfeat == MODEL_MAX_FEATURES)
		return merr(l, "more than %d features", MODEL_MAX_FEATURES);
	if (m->nfeat == l->capfeat)
		grow_features(l);
	m->key[m->nfeat] = tok[1];
	m->klen[m->nfeat] = (uint8_t)kl;
	m->off[m->nfeat] = m->nw;
	if (read_weights(l, tok + 2, n - 2, 0) < 0)
		return -1;
	m->nfeat++;
	m->off[m->nfeat] = m->nw;
	return 0;
}

static int
read_end(struct mload *l, char *line)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(line + 4, &end, 10);
	if (line[4] < '0' || line[4] > '9' || *end != '\0' || errno != 0)
		return merr(l, "expected 'end N'");
	if (n != l->m->nfeat)
		return merr(l, "'end %lu' but %u features: the file is damaged", n, l->m->nfeat);
	return 0;
}

/* The slot holding the tag of h, or the empty one ending its run. */
static uint32_t
slot_of(const struct triage_model *m, uint64_t h)
{
	uint32_t tag = (uint32_t)(h >> 32);

	for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask)
		if (m->slot[i].f == 0 || m->slot[i].tag == tag)
			return i;
}

static void
means(struct triage_model *m)
{
	m->mean = xcalloc(m->nfeat ? m->nfeat : 1, sizeof(*m->mean));
	for (uint32_t i = 0; i < m->nfeat; i++) {
		double sum = 0;

		for (uint32_t j = m->off[i]; j < m->off[i + 1]; j++)
			sum += m->w[j].w;
		m->mean[i] = (float)(sum / m->ncls);
	}
}

#define DENSE_ALIGN 16 /* floats: a 64-byte cache line */
_Static_assert(MODEL_MAX_CLASSES % DENSE_ALIGN == 0, "a dense row fits the class scores");

static void
densify(struct triage_model *m)
{
	size_t stride = ((size_t)m->ncls + DENSE_ALIGN - 1) / DENSE_ALIGN * DENSE_ALIGN;
	size_t bytes = (size_t)m->nfeat * stride * sizeof(float);

	if (m->nfeat == 0 || bytes > 2 * (size_t)m->nw * sizeof(*m->w))
		return;
	m->stride = (uint32_t)stride;
	m->dense = aligned_alloc(DENSE_ALIGN * sizeof(float), bytes);
	if (m->dense == NULL)
		abort(); /* as xmalloc does */
	memset(m->dense, 0, bytes);
	for (uint32_t i = 0; i < m->nfeat; i++)
		for (uint32_t j = m->off[i]; j < m->off[i + 1]; j++)
			m->dense[(size_t)i * stride + m->w[j].cls] = m->w[j].w;
}

/* Each feature once, in a table two to four times their number. */
static int
index_features(struct mload *l, const unsigned *lines)
{
	struct triage_model *m = l->m;
	uint32_t cap = 16;

	while (cap < m->nfeat * 2u)
		cap *= 2;
	m->mask = cap - 1;
	m->slot = xcalloc(cap, sizeof(*m->slot));
	for (uint32_t i = 0; i < m->nfeat; i++) {
		uint64_t h = fnv(m->key[i], m->klen[i]);
		uint32_t s = slot_of(m, h), f = m->slot[s].f;

		l->line = lines[i];
		if (f != 0 && m->klen[f - 1] == m->klen[i] &&
		    memcmp(m->key[f - 1], m->key[i], m->klen[i]) == 0)
			return merr(l, "feature '%s' given twice (first at line %u)", m->key[i],
			    lines[f - 1]);
		if (f != 0)
			return merr(l, "feature '%s' has the hash of '%s' (line %u): drop one",
			    m->key[i], m->key[f - 1], lines[f - 1]);
		m->slot[s] = (struct fslot){(uint32_t)(h >> 32), i + 1};
	}
	means(m);
	densify(m);
	return 0;
}

/* The lines in order: header, classes, features, bias, f…, end. '#'
 * lines are comments anywhere after the header. */
static int
read_lines(struct mload *l, char *text, size_t len, unsigned **lines)
{
	int (*const step[])(struct mload *, char *) = {read_header, read_classes, read_features,
	    read_bias};
	size_t nstep = sizeof(step) / sizeof(step[0]), done = 0;
	unsigned cap = 0;
	char *p = text, *e = text + len;

	for (l->line = 1; p < e; l->line++) {
		char *nl = memchr(p, '\n', (size_t)(e - p));

		if (nl == NULL)
			return merr(l, "truncated: the last line has no newline");
		*nl = '\0';
		if ((size_t)(nl - p) > MODEL_MAX_LINE)
			return merr(l, "line longer than %d bytes", MODEL_MAX_LINE);
		if (memchr(p, '\r', (size_t)(nl - p)) != NULL || memchr(p, '\t', (size_t)(nl - p)))
			return merr(l, "a tab or carriage return (fields are separated by one space)");
		if (done > 0 && p[0] == '#') {
			p = nl + 1;
			continue;
		}
		if (done < nstep) {
			if (step[done++](l, p) < 0)
				return -1;
		} else if (strncmp(p, "end ", 4) == 0) {
			if (read_end(l, p) < 0)
				return -1;
			if (nl + 1 != e) {
				l->line++;
				return merr(l, "text after the 'end' line");
			}
			return 0;
		} else {
			if (read_feature(l, p) < 0)
				return -1;
			if (l->m->nfeat > cap) {
				cap = cap ? cap * 2 : 1024;
				*lines = xreallocarray(*lines, cap, sizeof(**lines));
			}
			(*lines)[l->m->nfeat - 1] = l->line;
		}
		p = nl + 1;
	}
	return merr(l, "truncated: no 'end N' line");
}

struct triage_model *
triage_model_load_string(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	struct mload l = {.name = name, .err = err, .errlen = errlen, .line = 1};
	unsigned *lines = NULL;
	int rc;

	if (len > MODEL_MAX_FILE) {
		merr(&l, "file larger than %u bytes", MODEL_MAX_FILE);
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL) {
		merr(&l, "NUL byte in file");
		return NULL;
	}
	l.m = xcalloc(1, sizeof(*l.m));
	l.m->text = xmalloc(len + 1);
	memcpy(l.m->text, text, len);
	l.m->text[len] = '\0';
	rc = read_lines(&l, l.m->text, len, &lines);
	if (rc == 0)
		rc = index_features(&l, lines);
	free(lines);
	if (rc < 0) {
		triage_model_free(l.m);
		return NULL;
	}
	return l.m;
}

/* A regular file only (not a device or a FIFO), read up to one byte past the cap. */
struct triage_model *
triage_model_load(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct triage_model *m = NULL;
	size_t cap = MODEL_MAX_FILE + 1, n = 0;
	struct stat st;
	ssize_t got;
	char *buf;

	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = xmalloc(cap);
	while (n < cap && (got = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)got;
	if (n < cap && got < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else
		m = triage_model_load_string(path, buf, n, err, errlen);
	close(fd);
	free(buf);
	return m;
}

void
triage_model_free(struct triage_model *m)
{
	if (m == NULL)
		return;
	free(m->text);
	free(m->cls);
	free(m->bias);
	free(m->key);
	free(m->klen);
	free(m->off);
	free(m->w);
	free(m->mean);
	free(m->dense);
	free(m->slot);
	free(m);
}

int
triage_model_class_count(const struct triage_model *m)
{
	return m != NULL ? m->ncls : 0;
}

const char *
triage_model_class(const struct triage_model *m, int i)
{
	return m != NULL && i >= 0 && i < m->ncls ? m->cls[i] : NULL;
}

int
triage_model_feature_count(const struct triage_model *m)
{
	return m != NULL ? (int)m->nfeat : 0;
}

unsigned
triage_model_classes_line(const struct triage_model *m)
{
	return m != NULL ? m->cls_line : 0;
}

/* --- prediction ---------------------------------------------------------- */

struct hit {
	uint32_t f;      /* feature index */
	uint32_t w0, w1; /* the words it came from, first seen */
};

/* The distinct features of a note the model knows (binary features
 * count once), marked in a bitmap over the model's features: small
 * enough to stay in the cache, where a note's features repeat. */
struct hits {
	const struct triage_model *m;
	struct hit *h;
	uint64_t *seen; /* bit f: feature f is in h */
	uint32_t n, cap;
	uint32_t nwords;
	/* the last LOOKAHEAD features, their slots being fetched */
	struct pending {
		uint64_t hash;
		uint32_t w0, w1;
	} ahead[LOOKAHEAD];
	uint32_t nahead; /* features seen: the oldest ones are looked up */
	struct hit stack_h[STACK_HITS];
};

static void
look_up(struct hits *hs, const struct pending *ft)
{
	const struct triage_model *m = hs->m;
	uint32_t f = m->slot[slot_of(m, ft->hash)].f;

	if (ft->w1 + 1 > hs->nwords)
		hs->nwords = ft->w1 + 1;
	if (f-- == 0 || (hs->seen[f / 64] >> (f % 64) & 1))
		return;
	hs->seen[f / 64] |= 1ull << (f % 64);
	if (hs->n == hs->cap) {
		struct hit *h = xcalloc(hs->cap * 2, sizeof(*h));

		memcpy(h, hs->h, hs->n * sizeof(*h));
		if (hs->h != hs->stack_h)
			free(hs->h);
		hs->h = h;
		hs->cap *= 2;
	}
	hs->h[hs->n++] = (struct hit){f, ft->w0, ft->w1};
	/* the weights are read after the walk: fetch them while it goes on */
	if (m->dense != NULL)
		__builtin_prefetch(m->dense + (size_t)f * m->stride);
}

/*
 * A feature's slot is fetched when the walk finds it and read LOOKAHEAD
 * features later, so that the fetches of a word's features overlap
 * instead of waiting one after another. Features are looked up in the
 * order found all the same.
 */
static void
on_feature(void *ctx, const struct feature *ft)
{
	struct hits *hs = ctx;
	struct pending *p = &hs->ahead[hs->nahead++ % LOOKAHEAD];

	if (hs->nahead > LOOKAHEAD)
		look_up(hs, p);
	*p = (struct pending){ft->hash, ft->w0, ft->w1};
	__builtin_prefetch(&hs->m->slot[(uint32_t)ft->hash & hs->m->mask]);
}

/* The features still pending at the end of the walk, in order. */
static void
look_up_rest(struct hits *hs)
{
	for (uint32_t i = hs->nahead > LOOKAHEAD ? hs->nahead - LOOKAHEAD : 0; i < hs->nahead; i++)
		look_up(hs, &hs->ahead[i % LOOKAHEAD]);
}

static void
add_line(double *restrict q, const float *restrict r, double x)
{
	for (int k = 0; k < DENSE_ALIGN; k++)
		q[k] += x * r[k];
}

/* p[k] += x * feature f's weight for class k, for every class: a class
 * without a weight adds 0, which changes nothing in either layout. */
static void
add_weights(const struct triage_model *m, uint32_t f, double x, double *p)
{
	if (m->dense != NULL) {
		const float *row = m->dense + (size_t)f * m->stride;

		/* whole lines of a fixed length: the compiler makes this a few
		 * vector instructions; the padding adds 0 to p's spare room */
		for (uint32_t b = 0; b < m->stride; b += DENSE_ALIGN)
			add_line(p + b, row + b, x);
		return;
	}
	for (uint32_t j = m->off[f]; j < m->off[f + 1]; j++)
		p[m->w[j].cls] += x * m->w[j].w;
}

/* Class probabilities as LIBLINEAR gives them for logistic regression:
 * each class's sigmoid, normalised to sum 1 (two classes: the first's). */
static void
probabilities(const struct triage_model *m, const struct hits *hs, double *p)
{
	double x = 1.0 / sqrt((double)hs->n), sum = 0;

	for (int k = 0; k < m->ncls; k++)
		p[k] = m->bias[k];
	for (uint32_t k = (uint32_t)m->ncls; k < m->stride; k++)
		p[k] = 0;
	for (uint32_t i = 0; i < hs->n; i++)
		add_weights(m, hs->h[i].f, x, p);
	for (int k = 0; k < m->ncls; k++) {
		p[k] = 1.0 / (1.0 + exp(-p[k]));
		sum += p[k];
	}
	for (int k = 0; k < m->ncls; k++)
		p[k] /= sum;
}

/* How much more feature f says cls than the classes on average: what
 * sets the suggestion apart, not what every harm note shares. */
static double
weight_of(const struct triage_model *m, uint32_t f, int cls)
{
	if (m->dense != NULL)
		return m->dense[(size_t)f * m->stride + (uint32_t)cls] - m->mean[f];
	for (uint32_t j = m->off[f]; j < m->off[f + 1]; j++)
		if (m->w[j].cls == (uint32_t)cls)
			return m->w[j].w - m->mean[f];
	return -m->mean[f];
}

/* Each word's share of the top class's score: a word pair counts half
 * for each of its words, an n-gram for the word it lies in. */
static void
score_words(const struct triage_model *m, const struct hits *hs, int cls, double *score)
{
	memset(score, 0, hs->nwords * sizeof(*score));
	for (uint32_t i = 0; i < hs->n; i++) {
		double w = weight_of(m, hs->h[i].f, cls);

		if (hs->h[i].w0 == hs->h[i].w1)
			score[hs->h[i].w0] += w;
		else {
			score[hs->h[i].w0] += w / 2;
			score[hs->h[i].w1] += w / 2;
		}
	}
}

#define TOP_WORDS 4

/* Word i into the best list (by score, then text order), which keeps
 * TOP_WORDS; returns its new length. */
static int
rank_word(const double *score, uint32_t i, uint32_t *top, int n)
{
	int j = n < TOP_WORDS ? n++ : TOP_WORDS;

	if (j == TOP_WORDS && score[i] <= score[top[TOP_WORDS - 1]])
		return n;
	for (; j > 0 && score[i] > score[top[j - 1]]; j--)
		if (j < TOP_WORDS)
			top[j] = top[j - 1];
	if (j < TOP_WORDS)
		top[j] = i;
	return n;
}

/* Up to four words that weigh most (and at least WORD_SHARE of the
 * first), in text order; returns how many. One pass: the words come in
 * text order, so an equal score keeps the earlier word first. */
static int
top_words(const double *score, uint32_t nwords, uint32_t *top)
{
	int n = 0, keep = 1;

	for (uint32_t i = 0; i < nwords; i++)
		if (score[i] > 0)
			n = rank_word(score, i, top, n);
	while (keep < n && score[top[keep]] >= WORD_SHARE * score[top[0]])
		keep++;
	n = n < keep ? n : keep;
	for (int i = 1; i < n; i++) /* insertion sort: text order */
		for (int j = i; j > 0 && top[j] < top[j - 1]; j--) {
			uint32_t t = top[j];

			top[j] = top[j - 1];
			top[j - 1] = t;
		}
	return n;
}

enum cp_kind { CP_BREAK, CP_WORD, CP_SILENT };

#define KIND_CPS 0x2000 /* Latin, Vietnamese, marks, Greek, Cyrillic: as textnorm.c */

static uint8_t kinds[KIND_CPS];
static pthread_once_t kinds_once = PTHREAD_ONCE_INIT;

/* A code point that folding keeps as part of a word (textnorm.c), one it
 * removes without a trace (marks and format characters), or a break. */
static enum cp_kind
cp_kind_of(utf8proc_int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);

	if ((c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
	    (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO))
		return CP_WORD;
	if ((c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME) || c == UTF8PROC_CATEGORY_CF)
		return CP_SILENT;
	return CP_BREAK;
}

static void
kinds_build(void)
{
	for (utf8proc_int32_t cp = 0; cp < KIND_CPS; cp++)
		kinds[cp] = (uint8_t)cp_kind_of(cp);
}

/* The same, asked of utf8proc once for the common code points (every
 * note explained asks it of each of its letters). */
static enum cp_kind
cp_kind(utf8proc_int32_t cp)
{
	return cp < KIND_CPS ? (enum cp_kind)kinds[cp] : cp_kind_of(cp);
}

/* The note's words as written: start and end byte of each, up to max;
 * returns how many there are in all. */
static uint32_t
source_words(const char *text, uint32_t *from, uint32_t *to, uint32_t max)
{
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
	size_t len = strlen(text), i = 0;
	uint32_t n = 0;
	int in = 0;

	pthread_once(&kinds_once, kinds_build);
	while (i < len) {
		utf8proc_int32_t cp;
		long k = textnorm_decode(s + i, len - i, &cp);

		if (k > 0 && cp_kind(cp) == CP_WORD) {
			if (!in && n < max)
				from[n] = (uint32_t)i;
			n += !in;
			in = 1;
			if (n <= max)
				to[n - 1] = (uint32_t)(i + (size_t)k);
		} else if (k <= 0 || cp_kind(cp) != CP_SILENT)
			in = 0;
		i += k > 0 ? (size_t)k : 1;
	}
	return n;
}

/* Word w of a folded text, its breaks not counted, and its length. */
static const char *
folded_word(const char *folded, uint32_t w, size_t *n)
{
	const char *s = folded + 1;

	for (;; s += *n + 1) {
		*n = (size_t)(strchr(s, ' ') - s);
		if (!is_break(s, *n) && w-- == 0)
			return s;
	}
}

/* Appends word w of the note (as written when the words line up, else
 * folded) to g->words. */
static void
append_word(struct model_guess *g, size_t *o, const char *text, const char *folded,
    const uint32_t *from, const uint32_t *to, int aligned, uint32_t w)
{
	const char *s;
	size_t n;

	if (aligned) {
		s = text + from[w];
		n = to[w] - from[w];
	} else
		s = folded_word(folded, w, &n);
	if (*o + n + 1 >= sizeof(g->words))
		return;
	memcpy(g->words + *o, s, n);
	*o += n;
	g->words[*o] = '\0';
}

/* The top words as phrases, adjacent words joined: "so soang", "vung kin". */
static void
explain(struct model_guess *g, const char *text, const char *folded, const uint32_t *top,
    int ntop, uint32_t nwords)
{
	uint32_t from[STACK_WORDS], to[STACK_WORDS];
	int aligned = source_words(text, from, to, STACK_WORDS) == nwords && nwords <= STACK_WORDS;
	size_t o = 0;

	for (int i = 0; i < ntop && o + 3 < sizeof(g->words); i++) {
		int joined = i > 0 && top[i] == top[i - 1] + 1;

		if (!joined && g->nword == MODEL_MAX_WORDS)
			break;
		if (joined)
			g->words[o++] = ' ';
		else if (g->nword++ > 0) {
			memcpy(g->words + o, ", ", 2);
			o += 2;
		}
		g->words[o] = '\0';
		append_word(g, &o, text, folded, from, to, aligned, top[i]);
	}
	while (o > 0 && (g->words[o - 1] == ' ' || g->words[o - 1] == ','))
		g->words[--o] = '\0'; /* a last word that did not fit */
}

static void
guess_words(const struct triage_model *m, const struct hits *hs, struct model_guess *g,
    const char *text, const char *folded)
{
	double stack[STACK_WORDS], *score = stack;
	uint32_t top[TOP_WORDS];
	int ntop;

	if (hs->nwords > STACK_WORDS)
		score = xcalloc(hs->nwords, sizeof(*score));
	score_words(m, hs, g->cls, score);
	ntop = top_words(score, hs->nwords, top);
	explain(g, text, folded, top, ntop, hs->nwords);
	if (score != stack)
		free(score);
}

void
triage_model_predict_folded(const struct triage_model *m, const char *text, const char *folded,
    size_t len, struct model_guess *g)
{
	struct hits *hs;
	double p[MODEL_MAX_CLASSES];

	memset(g, 0, sizeof(*g));
	g->cls = -1;
	if (m == NULL || text == NULL)
		return;
	hs = xmalloc(sizeof(*hs));
	hs->m = m;
	hs->h = hs->stack_h;
	hs->n = hs->nwords = hs->nahead = 0;
	hs->cap = STACK_HITS;
	hs->seen = xcalloc(m->nfeat / 64 + 1, sizeof(*hs->seen));
	walk_features(folded, len, on_feature, hs);
	look_up_rest(hs);
	if (hs->n > 0) {
		probabilities(m, hs, p);
		g->cls = 0;
		for (int k = 1; k < m->ncls; k++)
			if (p[k] > p[g->cls])
				g->cls = k;
		g->p = p[g->cls];
		guess_words(m, hs, g, text, folded);
	}
	if (hs->h != hs->stack_h)
		free(hs->h);
	free(hs->seen);
	free(hs);
}

void
triage_model_predict(const struct triage_model *m, const char *text, struct model_guess *g)
{
	char *folded;
	size_t len;

	if (m == NULL || text == NULL) {
		triage_model_predict_folded(m, text, NULL, 0, g);
		return;
	}
	folded = textnorm_fold(text, strlen(text), &len);
	triage_model_predict_folded(m, text, folded, len, g);
	free(folded);
}
