/*
 * triage.h: the triage rule engine (hotline111-rules(5)).
 *
 * A rules file (libconfig syntax) declares the categories and a list of
 * named rules. triage_eval() runs them over one case and says which
 * category and priority the case should have, and which rules said so.
 *
 * Evaluation, in short (the man page has the long form):
 *   - The text is folded (textnorm.h) and scanned once by one automaton
 *     built from every phrase of every rule; a rule is looked at only if
 *     it has no text_any/text_all condition or one of its phrases is
 *     present, so the cost of a note does not grow with the rule count.
 *   - Rules are considered in file order; a rule fires when all its
 *     conditions hold. Its `category` condition sees the category chosen
 *     so far in this evaluation, or the input's category before any rule
 *     chose one.
 *   - Category: the first rule in file order that fired and names a
 *     category wins, unless a later fired rule naming a category has a
 *     strictly more urgent `priority` floor (a rule with no `priority`
 *     counts as no floor at all, less urgent than 4).
 *   - Priority: min(input priority, every fired `priority` floor), then
 *     made more urgent by the sum of every fired `raise`, never past 1.
 *     Automatic triage only raises: the result is never less urgent
 *     than the input priority.
 *   - Then the model, when the file names one (triage_model.h): when no
 *     fired rule set a category and its top class is a harm category
 *     (not info or silent) with probability >= min_confidence, it sets
 *     the category and raises the priority to max_priority (never P1,
 *     never lower). Its suggestion is reported either way.
 *
 * Loading is not thread-safe with itself, but a loaded rules object is
 * read-only: any number of threads may call triage_eval() on it at once.
 */
#ifndef HOTLINE111_TRIAGE_H
#define HOTLINE111_TRIAGE_H

#include <stddef.h>
#include <time.h>

#define TRIAGE_MAX_FILE (4u * 1024 * 1024) /* bytes in a rules file */
#define TRIAGE_MAX_RULES 10000
#define TRIAGE_MAX_FIRED 32 /* rule names kept per result */
#define TRIAGE_MAX_TAGS 32  /* distinct tags kept per result */
#define TRIAGE_ERRLEN 512   /* a comfortable size for err buffers */
#define TRIAGE_MAX_REPEAT 16 /* distinct repeat_caller case counts in a file */
#define TRIAGE_WHY_LEN 96    /* bytes of the words one fired rule matched */
#define TRIAGE_MAX_BLOCKED 8 /* rules kept that a guard stopped */
#define TRIAGE_MODEL_WORDS 96 /* bytes of the words behind a model's suggestion */

struct triage_rules;

struct triage_input {
	const char *text;     /* the case's text (notes), UTF-8; NULL = none */
	const char *ivr;      /* digits chosen, concatenated, or NULL */
	const char *line;     /* or NULL */
	const char *queue;    /* or NULL */
	const char *province; /* or NULL; compared folded */
	int child_age;        /* years; -1 unknown */
	const char *category; /* current, or NULL */
	int priority;         /* current 1..4; anything else is taken as 4 */
	int prior_cases;      /* caller's earlier cases in prior_days; -1 unknown */
	int prior_days;       /* the window prior_cases was counted over */
	time_t when;          /* for months and hours (local time); 0 unknown */
	/* the case's answers to the key questions, {"danger_now":"yes",
	 * "child_age":7}, or NULL; borrowed. Answers no question of the
	 * rules knows are ignored here (triage_answers_check refuses them). */
	const struct json_t *answers;
};

struct triage_result {
	int priority;                        /* 1..4, never above the input priority */
	const char *category;                /* NULL if no fired rule set one */
	const char *rules[TRIAGE_MAX_FIRED]; /* fired, in file order */
	/* the folded words each fired rule matched, "bi … quanh"; "" when
	 * it matched no text */
	char why[TRIAGE_MAX_FIRED][TRIAGE_WHY_LEN];
	int nrules;
	/* rules whose other conditions held but a text_none guard matched,
	 * with the guard's words: why a note did not fire */
	const char *blocked[TRIAGE_MAX_BLOCKED];
	char blocked_by[TRIAGE_MAX_BLOCKED][TRIAGE_WHY_LEN];
	int nblocked;
	const char *tags[TRIAGE_MAX_TAGS]; /* distinct, first seen first */
	int ntags;
	int truncated; /* more rules fired, or more tags, than fit above */
	/* the model's suggestion (hotline111-rules(5) `model`), made whether
	 * applied or not; category NULL when the rules name no model or it
	 * knows no word of the text */
	struct {
		const char *category;
		double p;    /* its probability */
		int applied; /* it set the category (and maybe the priority) */
		int doubted; /* it read no harm: a rules' P2 stayed a concern, P3 */
		/* the words that weighed most, as written, phrases joined by
		 * ", ": "sờ soạng, vùng kín" */
		char words[TRIAGE_MODEL_WORDS];
	} model;
	/* the urgency reader (hotline111-rules(5) `urgency`), asked of a harm
	 * case the rules left at P2 */
	struct {
		int asked;
		double p;    /* its probability that the child is in danger now */
		int applied; /* it made the case P1 */
	} urgency;
};

/*
 * Load and validate a rules file. NULL on error, with
 * "FILE:LINE: message" in err (or "FILE: message" when the file cannot
 * be read at all).
 */
struct triage_rules *triage_load(const char *path, char *err, size_t errlen);

/*
 * The same from memory (len bytes, no NUL needed); name stands for the
 * file in messages. For the fuzzer and for tests.
 */
struct triage_rules *triage_load_string(
    const char *name, const char *text, size_t len, char *err, size_t errlen);

/* The same, but a `model` group's file is not read (the rules run
 * without it): for training the model that file will hold. */
struct triage_rules *triage_load_no_model(const char *path, char *err, size_t errlen);

void triage_free(struct triage_rules *r);

/*
 * Triage one case. Pure and thread-safe; strings in *out are borrowed
 * from r and live as long as it does. Returns 0, or -1 when an argument
 * is NULL (then *out is untouched). A regex that fails at match time
 * (its match limit, say) counts as not matching.
 */
int triage_eval(
    const struct triage_rules *r, const struct triage_input *in, struct triage_result *out);

/*
 * The result as {"priority":N,"category":C|null,"rules":[…],"tags":[…],
 * "why":{"rule":"words",…}} (a jansson json_t), for the store and the
 * command line; with a suggestion from the model, also
 * "model":{"category":C,"p":0.81,"words":[…],"applied":true}.
 */
struct json_t *triage_result_json(const struct triage_result *res);

/* An input with every field unknown, priority 4, for callers to fill. */
void triage_input_init(struct triage_input *in);

/*
 * The largest `days` of any repeat_caller condition, 0 if none: the
 * window over which the caller should count prior_cases (silent and
 * closed cases included), passing that window as prior_days. A
 * repeat_caller { cases = N; days = D; } holds when prior_cases >= N and
 * 0 < prior_days <= D: a count over a longer window proves nothing about
 * a shorter one.
 */
int triage_repeat_days(const struct triage_rules *r);
/*
 * The distinct `cases` counts of the repeat_caller conditions, ascending:
 * the only counts at which a decision can change. Returns how many.
 */
int triage_repeat_thresholds(const struct triage_rules *r, const int **cases);

int triage_rule_count(const struct triage_rules *r);
/* The model the file names, or NULL (struct triage_model: triage_model.h). */
const struct triage_model *triage_model_of(const struct triage_rules *r);
int triage_category_count(const struct triage_rules *r);
/* The i-th declared category (0-based, file order), or NULL. */
const char *triage_category_id(const struct triage_rules *r, int i);
/* 1 when id names a declared category. */
int triage_category_exists(const struct triage_rules *r, const char *id);
/* Its Vietnamese label, or NULL for an unknown id. */
const char *triage_category_label(const struct triage_rules *r, const char *id);
/* Its Child Helpline International code, or NULL (unknown id, or none). */
const char *triage_category_chi(const struct triage_rules *r, const char *id);

/*
 * The key questions (hotline111-rules(5) QUESTIONS): how many, and each as
 * {"id":…,"text":…,"hint":…|null,"answers":[…],"range":[min,max]|null}
 * in file order (a new JSON array).
 */
int triage_question_count(const struct triage_rules *r);
struct json_t *triage_questions_json(const struct triage_rules *r);
/*
 * Whether answers, an object {"question": "answer" | number, …} with one
 * member or more, answers questions of r with answers they take: 0, or -1
 * with "answers.QUESTION: must be one of yes, no, unknown" or the like in
 * err (ASCII, fit for a nack).
 */
int triage_answers_check(
    const struct triage_rules *r, const struct json_t *answers, char *err, size_t errlen);

/*
 * hotline111d --check-rules FILE: "FILE: N categories, M rules, ok" on
 * stdout, or the error on stderr. Returns the exit code, 0 or 1.
 */
int triage_cmd_check(const char *path);

/*
 * hotline111d --triage [--json] TEXT...: triage each text (input
 * priority 4, nothing else known, the time now) and print one line per
 * text: with json, {"text":…,"category":…,"priority":N,"rules":[…],
 * "tags":[…]}; otherwise aligned columns priority, category, rules, text.
 * With no texts, reads one text per line from stdin. Returns the exit
 * code: 0, or 1 when the rules do not load.
 */
int triage_cmd_triage(const char *rules_path, int json, int argc, char **argv);

#endif
