/*
 * triage_int.h: what the parts of the triage engine share, and nothing
 * outside it sees. triage_load.c reads a rules file into struct
 * triage_rules; triage_acm.c is the phrase automaton; triage_match.c
 * finds phrase occurrences in a note and matches patterns over them;
 * triage.c evaluates the rules; triage_cmd.c is the command line.
 */
#ifndef HOTLINE111_TRIAGE_INT_H
#define HOTLINE111_TRIAGE_INT_H

#include <stdint.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "strmap.h"
#include "triage.h"

#define MAX_CATEGORIES 1000
#define MAX_NAME 64            /* rule names, category ids, tags, classes */
#define MAX_PHRASE 256         /* bytes of one folded phrase */
#define MAX_PHRASES (1u << 20) /* bytes of all distinct folded phrases */
#define MAX_IVR 32
#define MAX_CLASSES 1000
#define MAX_SHORTHAND 4096
#define PAT_ATOMS 12   /* atoms in one pattern */
#define PAT_MAX_GAP 20 /* words one gap may skip */
#define NO_FLOOR 5     /* a rule without `priority` */
#define MAX_QUESTIONS 32 /* key questions in a file */
#define MAX_ANSWERS 12   /* word answers of one question */
#define MAX_QID 32       /* bytes of a question id or an answer */
#define MAX_QTEXT 512    /* bytes of a question's text */
#define MAX_QHINT 1024   /* bytes of its hint */
#define AGE_QUESTION "child_age" /* a number here is the child's age */
#define NO_ATOM UINT32_MAX

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
	uint32_t nwords;
	uint32_t *rules; /* rules this phrase can let in, ascending */
	uint32_t nrules;
	uint32_t *atoms; /* atoms holding it */
	uint32_t natoms;
	int compound; /* in the compounds class */
};

/* A set of phrases that can stand at one place of a pattern. */
struct atom {
	uint32_t *ph; /* ascending, distinct */
	uint32_t n;
};

/*
 * A sequence of atoms; before atom i > 0 come gmin..gmax other words.
 * A plain phrase is a pattern of one atom. All of a match lies in one
 * sentence.
 */
struct pattern {
	struct pattern_item {
		uint32_t atom;
		uint8_t gmin, gmax; /* words before this atom */
		uint8_t opt;        /* may be left out */
	} item[PAT_ATOMS];
	uint32_t n;
	char *src; /* as written */
};

/* Condition kinds, in the order a rule checks them: cheapest first. */
enum cond_type {
	COND_IVR,
	COND_LINE,
	COND_QUEUE,
	COND_ANSWERS,
	COND_AGE,
	COND_CATEGORY,
	COND_REPEAT,
	COND_MONTHS,
	COND_HOURS,
	COND_PROVINCE,
	COND_TEXT_ALL,
	COND_TEXT_ANY,
	COND_NEAR,
	COND_TEXT_NONE,
	COND_REGEX,
	COND_NTYPES
};

struct cond {
	enum cond_type type;
	uint32_t n; /* entries in ids or strs */
	/* text_all: pattern groups, each holding when any of its patterns
	 * matches; group g is ids[ends[g - 1]] .. ids[ends[g] - 1]. */
	uint32_t *ends;
	uint32_t ngroups;
	union {
		uint32_t *ids; /* patterns, categories */
		char **strs;   /* ivr prefixes, lines, queues, folded provinces */
		pcre2_code *re;
		int range[2];    /* child_age [min, max]; hours [from, to) */
		unsigned months; /* bit m set for month m, 1..12 */
		struct {
			int cases;
			int days;
		} repeat;
		/* answers: n questions, each holding when its answer is one
		 * of the bits of ok (bit a: the question's answer a) */
		struct {
			uint32_t *q;
			uint32_t *ok;
		} ans;
	} u;
};

/* A key question (hotline111-rules(5) QUESTIONS). */
struct question {
	char *id;
	char *text;
	char *hint; /* or NULL */
	char **answers; /* the word answers, [a-z0-9_] */
	uint32_t nanswers;
	int range[2]; /* a number min..max is an answer too, when numeric */
	int numeric;
	unsigned line;
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
	int version;
	struct category *cats;
	int ncats;
	struct strmap catmap;
	struct question *questions;
	int nquestions;
	struct strmap questionmap; /* kept after loading: answers are checked by id */
	int age_question;          /* AGE_QUESTION's index when numeric, or -1 */
	struct rule *rules;
	int nrules;
	struct strmap rulemap;
	struct phrase *phrases;
	uint32_t nphrases;
	size_t phrase_bytes;
	struct strmap phrasemap;
	struct atom *atoms;
	uint32_t natoms;
	struct pattern *pats;
	uint32_t npats;
	char **classnames; /* class i is atom classatom[i] */
	uint32_t *classatom;
	uint32_t nclasses;
	struct strmap classmap;
	char **shortfrom, **shortto; /* folded, without the spaces around */
	uint32_t nshort;
	size_t short_maxlen, short_maxto; /* longest shorthand, longest expansion */
	uint32_t max_words;               /* words in the longest phrase */
	struct strmap shortmap;
	uint32_t neg_atom, res_atom, cmp_atom; /* word classes, or NO_ATOM */
	int neg_scope, res_scope, near_scope;
	int ages; /* read a child's age from the text */
	char **tagpool;
	uint32_t ntagpool;
	struct strmap tagmap;
	uint64_t *always;  /* rules without a phrase gate: looked at every time */
	size_t max_phrase; /* bytes in the longest folded phrase */
	uint32_t rule_words;
	uint32_t phrase_words;
	uint32_t atom_words;
	struct acm acm;
	pcre2_match_context *mctx;
	int repeat_days;
	int repeat_cases[TRIAGE_MAX_REPEAT]; /* distinct thresholds, ascending */
	int nrepeat_cases;
	/* the model (`model` group), or NULL: its class k is category
	 * model_cat[k], a harm category (not info or silent) when model_harm[k] */
	struct triage_model *model;
	char *model_file; /* as resolved */
	int *model_cat;
	uint8_t *model_harm;
	int model_maxp;
	double model_minp;
	/* the model replaces a category the rules chose when it is this sure
	 * (2 = never): any category, or one only a concern (P3-4) rule named */
	double model_overrule;
	double model_overrule_concern;
	/* it keeps a rules' P2 a concern (P3) when it reads no harm this
	 * surely (2 = never) */
	double model_doubt;
	/* the urgency reader (`urgency` group), or NULL: class urgency_now is
	 * "now"; a harm case at P2 it reads as now this surely becomes P1 */
	struct triage_model *urgency;
	char *urgency_file;
	int urgency_now;
	double urgency_minp;
};

/* --- loading (triage_load.c, triage_pattern.c) ---------------------------- */

#include <libconfig.h>

struct loader {
	struct triage_rules *r;
	const char *file;
	char *err;
	size_t errlen;
	struct rule *rule; /* being read, for the message prefix */
	unsigned rule_line;
	int no_model; /* check the `model` group, but leave its file unread */
};

/* "FILE:LINE: rule 'NAME': message" into l->err; returns -1. */
int lerr(struct loader *l, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int triage_get_string(struct loader *l, const config_setting_t *s, const char *key,
    const char **out);
int pattern_compile(struct loader *l, const config_setting_t *s, const char *v, uint32_t *pid);
int words_load(struct loader *l, const config_setting_t *s);
int shorthand_load(struct loader *l, const config_setting_t *s);
void pattern_index(struct triage_rules *r);
int questions_load(struct loader *l, const config_setting_t *s);
int answers_cond_parse(struct loader *l, struct cond *c, const config_setting_t *s);
void answers_cond_free(struct cond *c);
void questions_free(struct triage_rules *r);
/* The index of question q's word answer v, or -1. */
int question_answer(const struct question *q, const char *v);

/* --- the automaton (triage_acm.c) ----------------------------------------- */

void acm_build(struct acm *a, const struct phrase *ph, uint32_t n);
void acm_free(struct acm *a);
/* Calls hit(ctx, phrase, end) for each phrase ending at byte end (its
 * closing space); a phrase may be reported twice. */
void acm_scan(const struct acm *a, size_t max_phrase, const char *text, size_t len,
    void (*hit)(void *, uint32_t, size_t), void *ctx);

/* --- a note's words and what stands in them (triage_match.c) -------------- */

struct occ {
	uint32_t ph;
	uint32_t start, end; /* first and last word */
};

struct span {
	uint32_t start, end; /* words, inclusive */
	uint32_t occ[PAT_ATOMS]; /* the occurrences matched, or NO_ATOM */
	uint32_t n;
	int resolved; /* a resolution stands near it */
};

struct note {
	const struct triage_rules *r;
	char *text; /* folded, shorthand expanded */
	size_t len;
	char *folded; /* folded before the expansion: the model reads it */
	size_t flen;
	uint32_t *sp; /* byte offset of the space before word k; sp[nwords] ends */
	uint32_t *sent; /* sentence of word k */
	uint32_t *wordof; /* at a space: the word it starts */
	uint32_t nwords;
	struct occ *occ; /* by start word */
	uint32_t nocc, capocc;
	uint32_t *aoff, *aocc; /* each atom's occurrences (triage_match.c) */
	uint32_t *arank;         /* a present atom's list */
	uint64_t *present; /* phrase bitmap */
	uint64_t *cand;    /* rules worth a look */
	uint64_t *atomset; /* atoms present */
	int age;           /* from the text, or -1 */
	uint32_t *negated; /* or NULL: counts matches a negator cancelled */
};

char *triage_expand(const struct triage_rules *r, const char *folded, size_t len, size_t *outlen);
/* Fold, expand shorthand, index words, find every phrase. bits holds
 * phrase_words + rule_words + atom_words zeroed words. */
void note_read(struct note *n, const struct triage_rules *r, const char *text, uint64_t *bits);
void note_free(struct note *n);
/* The matched words, "bi … quanh", into buf. */
/* Each match of pattern p (that no negator cancels, when negation is
 * 1), to fn until it returns 1; returns 1 then, else 0. */
int note_each(const struct note *n, uint32_t p, int negation,
    int (*fn)(void *, const struct span *), void *ctx);
void note_words(const struct note *n, const struct span *m, char *buf, size_t len);

#endif
