/*
 * triage_model.h: the second reader, a linear classifier over a note's
 * folded words, word pairs and character 3- to 5-grams (LIBLINEAR's
 * L2-regularised logistic regression, trained by triage_train.c).
 *
 * A rules file names its model (hotline111-rules(5) `model`); the model's
 * classes are that file's categories, and the two load and reload
 * together. The model only suggests: triage.c applies its suggestion when
 * no rule chose a category (see triage.h).
 *
 * The file is text, one record a line (hotline111-rules(5) MODEL FILE):
 *   hotline111-model 1
 *   classes ID...
 *   features words pairs chars 3 5
 *   bias K:W...
 *   f KEY [K:W]...        one per feature, KEY with '_' for a space
 *   end N                 N = the number of f lines
 * Loading is strict: anything else is "FILE:LINE: message".
 *
 * A loaded model is read-only: triage_model_predict() is pure and
 * thread-safe.
 */
#ifndef HOTLINE111_TRIAGE_MODEL_H
#define HOTLINE111_TRIAGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MODEL_MAGIC "hotline111-model"
#define MODEL_VERSION 1
#define MODEL_MAX_FILE (16u * 1024 * 1024) /* bytes in a model file */
#define MODEL_MAX_FEATURES 2000000
#define MODEL_MAX_CLASSES 64
#define MODEL_MAX_LINE 4096 /* bytes in one line */
#define MODEL_MAX_KEY 64    /* bytes in one feature key */
#define MODEL_MAX_WORDS 3   /* words reported per suggestion */
#define MODEL_WORDS_LEN 96  /* bytes of the words reported */

struct triage_model;

/* What the model says of one note. */
struct model_guess {
	int cls;    /* top class, -1 when the note has no word the model knows */
	double p;   /* its probability */
	/* the words that weighed most for it, as written in the note,
	 * adjacent ones joined into a phrase, phrases joined by ", ":
	 * "sờ soạng, vùng kín" */
	char words[MODEL_WORDS_LEN];
	int nword; /* phrases */
};

struct triage_model *triage_model_load(const char *path, char *err, size_t errlen);
/* The same from memory; name stands for the file in messages. */
struct triage_model *triage_model_load_string(
    const char *name, const char *text, size_t len, char *err, size_t errlen);
void triage_model_free(struct triage_model *m);

int triage_model_class_count(const struct triage_model *m);
const char *triage_model_class(const struct triage_model *m, int i);
int triage_model_feature_count(const struct triage_model *m);
/* The line of the file that names the classes, for messages. */
unsigned triage_model_classes_line(const struct triage_model *m);

/* Reads text (UTF-8, any length; NULL is no text) into *g. */
void triage_model_predict(const struct triage_model *m, const char *text, struct model_guess *g);
/* The same for a text the caller has folded already, with textnorm_fold()
 * or textnorm_fold_sentences() (the rules' reading: its breaks are
 * skipped), so that a note is folded once. */
void triage_model_predict_folded(const struct triage_model *m, const char *text,
    const char *folded, size_t len, struct model_guess *g);

/*
 * The features of a folded text (textnorm_fold(): " w1 w2 … "), each
 * distinct or not, to fn(ctx, key, len, first word, last word): "w:WORD",
 * "p:WORD_WORD", "c:NGRAM" (code points of " WORD " with '_' for the
 * spaces). Training and prediction both read notes through this.
 */
void triage_model_features(const char *folded, size_t len,
    void (*fn)(void *ctx, const char *key, size_t klen, uint32_t w0, uint32_t w1), void *ctx);

/*
 * hotline111d --train -o FILE [--rules RULES] [--from-db] [CORPUS.tsv…]
 * (triage_train.c): prints cross-validated accuracy per class and writes
 * the model. conninfo is used with --from-db. Returns the exit code.
 */
#define TRAIN_FOLDS 5   /* cross-validation folds */
#define TRAIN_MIN_DF 2  /* a feature must be seen in this many notes */
#define TRAIN_PRUNE 0.05 /* weights below this magnitude are not written */

struct triage_train_opts {
	const char *out;
	const char *rules;    /* or NULL */
	const char *conninfo; /* for from_db */
	int from_db;
	/* label each note by its urgency, "now" (a child in danger now: its
	 * most urgent priority is 1) or "later", not by its category */
	int urgency;
	int folds;        /* cross-validation folds; 0: none */
	double prune;     /* weights of smaller magnitude are dropped */
	int min_df;       /* features seen in fewer notes are dropped */
	char **corpora;
	int ncorpora;
};
int triage_train_cmd(const struct triage_train_opts *o);

#endif
