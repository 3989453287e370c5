/*
 * textnorm.h: fold text the way people type Vietnamese on a phone, so
 * that "đuối nước", "ĐUỐI NƯỚC", "duoi nuoc" and the decomposed (NFD)
 * form are one string: " duoi nuoc ".
 *
 * Folding, all of it from utf8proc's tables (none typed by hand):
 *   - compatibility decomposition (NFKD), so NFC and NFD input and
 *     full-width or ligature forms fold alike;
 *   - full case folding;
 *   - combining marks dropped (tones, circumflex, breve, horn) and
 *     default-ignorable code points (soft hyphen, zero-width space,
 *     joiners) removed without a trace;
 *   - đ and Đ become d (they are letters of their own, not d + a mark);
 *   - every run of anything that is not a letter or a digit (spaces,
 *     punctuation, symbols, emoji, control bytes, invalid UTF-8 bytes)
 *     becomes one space;
 *   - the result starts and ends with a space.
 *
 * So a whole-word search is a substring search for " phrase ": "ao" (a
 * pond) is " ao ", not inside " bao ". Text with no letters or digits
 * folds to " ". The result is valid UTF-8 and never holds a NUL.
 *
 * Pure and thread-safe; a table for the common code points is built
 * once, on first use.
 */
#ifndef HOTLINE111_TEXTNORM_H
#define HOTLINE111_TEXTNORM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Fold s[0..len) (s may hold NUL bytes; s may be NULL when len is 0).
 * Returns a NUL-terminated string from xmalloc, which the caller frees;
 * its length goes to *outlen unless outlen is NULL.
 */
char *textnorm_fold(const char *s, size_t len, size_t *outlen);

/* One UTF-8 sequence of in (n > 0 bytes): its length and *cp, or <= 0 for
 * an invalid byte (as utf8proc_iterate). */
long textnorm_decode(const unsigned char *in, size_t n, int32_t *cp);

/*
 * The same into a caller's buffer *buf of *cap bytes (both may start as
 * NULL / 0), grown with xreallocarray as needed, so that a loop over
 * many texts allocates once. Returns the folded length.
 */
size_t textnorm_fold_buf(const char *s, size_t len, char **buf, size_t *cap);

/*
 * The same, but each run of sentence ends (. ! ? ; and newlines) becomes
 * the word "." ("bé ngã. cứu" is " be nga . cuu "), so that a reader can
 * keep a match inside one sentence, and each run of other breaks (, : ( ) and
 * dashes) the word ",", so that a phrase does not run across
 * one ("nắp đậy, trẻ" holds no "dạy trẻ").
 */
size_t textnorm_fold_sentences(const char *s, size_t len, char **buf, size_t *cap);

/* 1 when a folded string holds at least one letter or digit. */
int textnorm_has_word(const char *folded);

#endif
