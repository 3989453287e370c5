/*
 * bench_triage.c: how fast triage is, on one core.
 *
 *   bench_triage [seconds [shipped|bare|generated]]
 *
 * Notes of about 500 bytes are stitched from the labelled corpus
 * (tests/data/triage/tuning/corpus.tsv) and triaged in a loop, first with the
 * shipped conf/rules.conf, then with 1,000 generated rules of plausible
 * Vietnamese phrases. Prints load time, notes per second and ns per
 * note for each. The goal: 200,000 notes/s with the shipped rules, and
 * no worse than half that with 1,000 rules. The shipped rules run with
 * and without their model (conf/triage.model): the model's goal is
 * 20 µs per note at most. A run names one set to time it alone (under
 * perf record, say).
 *
 * Time is the CPU time of this thread, not the wall clock: on a shared
 * machine the wall clock counts other processes' turns. The load average
 * is printed beside the figures, as caches are shared all the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "triage.h"
#include "xmalloc.h"

#ifndef TOP_SRCDIR
#error "build with -DTOP_SRCDIR=\"...\""
#endif
#ifndef TEST_DATADIR
#error "build with -DTEST_DATADIR=\"...\""
#endif

#define NOTES 1024
#define NOTE_BYTES 500
#define GEN_RULES 1000

static uint32_t seed = 88172645u;

static uint32_t
rnd(uint32_t n)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed % n;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The text column of every corpus line. */
static char **
corpus_texts(size_t *n)
{
	FILE *f = fopen(TEST_DATADIR "/triage/tuning/corpus.tsv", "r");
	char *line = NULL, **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (f == NULL) {
		perror(TEST_DATADIR "/triage/tuning/corpus.tsv");
		exit(1);
	}
	while (getline(&line, &cap, f) > 0) {
		char *t = line;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (int tabs = 0; tabs < 3 && t != NULL; tabs++)
			if ((t = strchr(t, '\t')) != NULL)
				t++;
		if (t == NULL)
			continue;
		t[strcspn(t, "\n")] = '\0';
		v = xreallocarray(v, *n + 1, sizeof(*v));
		v[(*n)++] = xstrdup(t);
	}
	free(line);
	fclose(f);
	return v;
}

/* Corpus texts joined as an operator's running notes, cut near 500
 * bytes at a character boundary. */
static char **
make_notes(char **texts, size_t ntexts)
{
	char **notes = xcalloc(NOTES, sizeof(*notes));

	for (size_t i = 0; i < NOTES; i++) {
		char *n = xmalloc(NOTE_BYTES + 512);
		size_t o = 0;

		while (o < NOTE_BYTES) {
			const char *t = texts[rnd((uint32_t)ntexts)];

			o += (size_t)sprintf(n + o, "%s. ", t);
		}
		o = NOTE_BYTES;
		while (o > 0 && ((unsigned char)n[o] & 0xc0) == 0x80)
			o--;
		n[o] = '\0';
		notes[i] = n;
	}
	return notes;
}

/* Syllables that callers and operators write, to build phrases from. */
static const char *const syl[] = {
    "bé",
    "cháu",
    "con",
    "em",
    "bố",
    "mẹ",
    "ông",
    "bà",
    "anh",
    "chị",
    "bị",
    "đánh",
    "đập",
    "chửi",
    "mắng",
    "nhốt",
    "bỏ",
    "rơi",
    "xuống",
    "nước",
    "sông",
    "ao",
    "hồ",
    "giếng",
    "biển",
    "suối",
    "kênh",
    "cứu",
    "gấp",
    "ngay",
    "đang",
    "vừa",
    "lạc",
    "mất",
    "tích",
    "bán",
    "buôn",
    "người",
    "trẻ",
    "sơ",
    "sinh",
    "học",
    "trường",
    "lớp",
    "thầy",
    "cô",
    "bạn",
    "xâm",
    "hại",
    "hiếp",
    "dâm",
    "sàm",
    "sỡ",
    "mạng",
    "ảnh",
    "clip",
    "tiền",
    "làm",
    "thuê",
    "xưởng",
    "chủ",
    "quán",
    "đêm",
    "tối",
    "sáng",
    "nhà",
    "hàng",
    "xóm",
    "chợ",
    "xe",
    "đường",
    "tự",
    "tử",
    "chết",
    "sống",
    "đau",
    "máu",
    "chảy",
    "gãy",
    "tay",
    "chân",
    "đầu",
    "khóc",
    "sợ",
    "trốn",
    "tìm",
    "thấy",
    "về",
    "đi",
    "ra",
    "vào",
    "lên",
    "dọa",
    "ép",
    "dụ",
    "lừa",
    "giữ",
    "đói",
    "rách",
    "bẩn",
    "ốm",
    "sốt",
    "viện",
    "công",
    "an",
    "xã",
    "huyện",
    "tỉnh",
    "hỏi",
    "thủ",
    "tục",
};
#define NSYL (sizeof(syl) / sizeof(syl[0]))

static const char *const cats[] = {
    "abuse.sexual",
    "abuse.physical",
    "abuse.emotional",
    "neglect",
    "violence.domestic",
    "violence.school",
    "drowning",
    "trafficking",
    "abandonment",
    "child_labour",
    "online",
    "self_harm",
    "missing",
    "info",
    "silent",
};
#define NCATS (sizeof(cats) / sizeof(cats[0]))

static size_t
phrase(char *out, size_t cap)
{
	int words = 2 + (int)rnd(2);
	size_t o = 0;

	for (int w = 0; w < words; w++)
		o += (size_t)snprintf(out + o, cap - o, "%s%s", w ? " " : "", syl[rnd(NSYL)]);
	return o;
}

/* 1,000 rules of five phrases each, some with an exception and a
 * category test, like a grown-up rules file. */
static char *
generated_rules(size_t *len)
{
	size_t cap = GEN_RULES * 600 + 4096, o = 0;
	char *t = xmalloc(cap), p[64];

	o += (size_t)snprintf(t, cap, "categories = (\n");
	for (size_t c = 0; c < NCATS; c++)
		o += (size_t)snprintf(t + o, cap - o,
		    " { id = \"%s\"; label = "
		    "\"%s\"; }%s\n",
		    cats[c], cats[c], c + 1 < NCATS ? "," : "");
	o += (size_t)snprintf(t + o, cap - o, ");\nrules = (\n");
	for (int i = 0; i < GEN_RULES; i++) {
		o += (size_t)snprintf(t + o, cap - o,
		    " { name = \"g%d\"; "
		    "text_any = [ ",
		    i);
		for (int k = 0; k < 5; k++) {
			phrase(p, sizeof(p));
			o += (size_t)snprintf(t + o, cap - o, "%s\"%s\"", k ? ", " : "", p);
		}
		o += (size_t)snprintf(t + o, cap - o, " ];");
		if (i % 3 == 0) {
			phrase(p, sizeof(p));
			o += (size_t)snprintf(t + o, cap - o,
			    " text_none = "
			    "\"%s\";",
			    p);
		}
		if (i % 7 == 0)
			o += (size_t)snprintf(t + o, cap - o,
			    " category = "
			    "[ \"%s\" ];",
			    cats[rnd(NCATS)]);
		else
			o += (size_t)snprintf(t + o, cap - o,
			    " category = "
			    "\"%s\";",
			    cats[rnd(NCATS)]);
		o += (size_t)snprintf(t + o, cap - o, " priority = %d; }%s\n", 1 + (int)rnd(4),
		    i + 1 < GEN_RULES ? "," : "");
	}
	o += (size_t)snprintf(t + o, cap - o, ");\n");
	*len = o;
	return t;
}

struct run {
	double load_ms;
	double notes_per_s;
	double ns_per_note;
	double fired_per_note;
};

static struct run
measure(const struct triage_rules *r, char **notes, double seconds)
{
	struct triage_input in;
	struct triage_result res;
	struct run out = {0};
	unsigned long n = 0, fired = 0;
	double start = now(), elapsed;

	do {
		for (int k = 0; k < 256; k++, n++) {
			triage_input_init(&in);
			in.text = notes[n % NOTES];
			triage_eval(r, &in, &res);
			fired += (unsigned long)res.nrules;
		}
		elapsed = now() - start;
	} while (elapsed < seconds);
	out.notes_per_s = (double)n / elapsed;
	out.ns_per_note = elapsed * 1e9 / (double)n;
	out.fired_per_note = (double)fired / (double)n;
	return out;
}

static void
report(const char *what, int nrules, const struct run *r)
{
	printf("%-18s %5d rules  load %7.2f ms  %9.0f notes/s  %7.0f ns/note"
	       "  %.1f rules fired/note\n",
	    what, nrules, r->load_ms, r->notes_per_s, r->ns_per_note, r->fired_per_note);
}

/* Load (from a file, or from memory when text is given) and time it. */
static struct triage_rules *
load_timed(const char *name, const char *text, size_t len, double *ms)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;
	double t = now();

	r = text ? triage_load_string(name, text, len, err, sizeof(err))
	         : triage_load(name, err, sizeof(err));
	*ms = (now() - t) * 1e3;
	if (r == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return r;
}

static struct run
bench(const struct triage_rules *r, char **notes, double seconds, double load_ms)
{
	struct run out;

	(void)measure(r, notes, 0.2); /* warm the caches */
	out = measure(r, notes, seconds);
	out.load_ms = load_ms;
	return out;
}

/* The load average, as a string: what the figures shared the machine with. */
static const char *
load_average(char *buf, size_t len)
{
	double l[3];

	if (getloadavg(l, 3) != 3)
		return "unknown";
	snprintf(buf, len, "%.2f %.2f %.2f", l[0], l[1], l[2]);
	return buf;
}

static struct triage_rules *
load_bare(void)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r;

	r = triage_load_no_model(TOP_SRCDIR "/conf/rules.conf", err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return r;
}

/* One set alone, for a profiler. */
static int
bench_one(const char *which, char **notes, double seconds)
{
	struct triage_rules *r;
	char *gen = NULL;
	size_t glen;
	double ms = 0;
	struct run x;

	if (strcmp(which, "shipped") == 0)
		r = load_timed(TOP_SRCDIR "/conf/rules.conf", NULL, 0, &ms);
	else if (strcmp(which, "bare") == 0)
		r = load_bare();
	else if (strcmp(which, "generated") == 0) {
		gen = generated_rules(&glen);
		r = load_timed("generated", gen, glen, &ms);
	} else {
		fprintf(stderr, "bench_triage: '%s': shipped, bare or generated\n", which);
		return 2;
	}
	x = bench(r, notes, seconds, ms);
	report(which, triage_rule_count(r), &x);
	triage_free(r);
	free(gen);
	return 0;
}

int
main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0, ms_a, ms_b;
	char **texts, **notes, *gen, la[64];
	struct triage_rules *shipped, *big, *bare;
	struct run a, b, c;
	size_t ntexts, glen, bytes = 0;
	int rc = 0;

	if (seconds <= 0 || argc > 3) {
		fprintf(stderr, "usage: bench_triage [seconds [shipped|bare|generated]]\n");
		return 2;
	}
	texts = corpus_texts(&ntexts);
	notes = make_notes(texts, ntexts);
	for (int i = 0; i < NOTES; i++)
		bytes += strlen(notes[i]);
	printf("%d notes of %zu bytes on average, %.1f s of CPU per run, one core; "
	       "load average %s\n",
	    NOTES, bytes / NOTES, seconds, load_average(la, sizeof(la)));
	if (argc == 3) {
		rc = bench_one(argv[2], notes, seconds);
		goto done;
	}
	shipped = load_timed(TOP_SRCDIR "/conf/rules.conf", NULL, 0, &ms_a);
	gen = generated_rules(&glen);
	big = load_timed("generated", gen, glen, &ms_b);
	bare = load_bare();
	a = bench(shipped, notes, seconds, ms_a);
	b = bench(big, notes, seconds, ms_b);
	c = bench(bare, notes, seconds, 0);
	report("shipped", triage_rule_count(shipped), &a);
	report("shipped, no model", triage_rule_count(bare), &c);
	report("generated", triage_rule_count(big), &b);
	printf("the model adds %.1f us per note (goal <= 20): %s\n",
	    (a.ns_per_note - c.ns_per_note) / 1e3,
	    a.ns_per_note - c.ns_per_note <= 20000 ? "met" : "NOT met");
	printf("1,000 rules run at %.2fx the shipped rules' rate (goal >= 0.50);"
	       " shipped goal 200000 notes/s: %s; load average now %s\n",
	    b.notes_per_s / a.notes_per_s, a.notes_per_s >= 200000 ? "met" : "NOT met",
	    load_average(la, sizeof(la)));
	triage_free(shipped);
	triage_free(big);
	triage_free(bare);
	free(gen);
done:
	for (int i = 0; i < NOTES; i++)
		free(notes[i]);
	free(notes);
	for (size_t i = 0; i < ntexts; i++)
		free(texts[i]);
	free(texts);
	return rc;
}
