/*
 * textnorm.c: Unicode folding for whole-word, diacritic-blind matching.
 *
 * Every decision about a code point comes from utf8proc. Because
 * triage folds every note it sees, the answers for U+0000..U+1FFF (ASCII,
 * Latin with all the Vietnamese letters in U+1EA0..U+1EF9, combining
 * marks, Greek, Cyrillic) are asked once and kept in a table; any other
 * code point asks utf8proc each time.
 */
#include "textnorm.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#include "xmalloc.h"

#define FOLD_OPTIONS                                                                               \
	(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK |           \
	    UTF8PROC_IGNORE)

/* utf8proc's longest single decomposition is 18 code points (U+FDFA). */
#define FOLD_MAX_CPS 32
/* Worst case bytes one code point can add to the output. */
#define FOLD_MAX_OUT (FOLD_MAX_CPS * 4 + 1)

#define TABLE_CPS 0x2000
#define ENTRY_BYTES 7
#define ENTRY_SLOW 0xff

struct fold_entry {
	uint8_t len; /* bytes in s, or ENTRY_SLOW: ask utf8proc */
	char s[ENTRY_BYTES];
};

static struct fold_entry table[TABLE_CPS];
static char ascii_fold[128];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static int
keeps(utf8proc_int32_t cp)
{
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return 1;
	default:
		return 0;
	}
}

static int
is_mark(utf8proc_int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);

	return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

/*
 * One code point to its folded bytes, ' ' standing for "not part of a
 * word". out must hold FOLD_MAX_OUT bytes.
 */
static size_t
fold_cp(utf8proc_int32_t cp, char *out)
{
	utf8proc_int32_t dec[FOLD_MAX_CPS];
	utf8proc_ssize_t n;
	size_t o = 0;
	int last = 0;

	n = utf8proc_decompose_char(cp, dec, FOLD_MAX_CPS, FOLD_OPTIONS, &last);
	if (n < 0 || n > FOLD_MAX_CPS) {
		out[0] = ' ';
		return 1;
	}
	for (utf8proc_ssize_t i = 0; i < n; i++) {
		utf8proc_int32_t d = dec[i];

		/* Đ case-folds to đ, a letter of its own with no
		 * decomposition; Vietnamese readers take it as d. */
		if (d == 0x0111)
			d = 'd';
		if (keeps(d))
			o += (size_t)utf8proc_encode_char(d, (utf8proc_uint8_t *)out + o);
		else if (!is_mark(d))
			out[o++] = ' ';
	}
	return o;
}

static void
table_build(void)
{
	char buf[FOLD_MAX_OUT];

	for (utf8proc_int32_t cp = 0; cp < TABLE_CPS; cp++) {
		size_t n = fold_cp(cp, buf);

		if (cp < 0x80)
			ascii_fold[cp] = n == 1 ? buf[0] : ' ';
		if (n > ENTRY_BYTES) {
			table[cp].len = ENTRY_SLOW;
			continue;
		}
		table[cp].len = (uint8_t)n;
		memcpy(table[cp].s, buf, n);
	}
}

/*
 * One UTF-8 sequence: its length, or <= 0 for an invalid byte, as
 * utf8proc_iterate() says. ASCII and the two- and three-byte forms that
 * Vietnamese is written in are decoded here (a call per letter shows in
 * profiles; overlong forms and surrogates cannot start with these bytes),
 * the rest by utf8proc.
 */
long
textnorm_decode(const unsigned char *in, size_t n, int32_t *cp)
{
	unsigned c = in[0];

	if (c < 0x80) {
		*cp = (int32_t)c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf && n >= 2 && (in[1] & 0xc0) == 0x80) {
		*cp = (int32_t)(((c & 0x1f) << 6) | (in[1] & 0x3f));
		return 2;
	}
	if (c >= 0xe1 && c <= 0xec && n >= 3 && (in[1] & 0xc0) == 0x80 && (in[2] & 0xc0) == 0x80) {
		*cp = (int32_t)(((c & 0x0f) << 12) | ((in[1] & 0x3f) << 6) | (in[2] & 0x3f));
		return 3;
	}
	return (long)utf8proc_iterate(in, (utf8proc_ssize_t)n, cp);
}

/* Append folded bytes, collapsing runs of spaces. out[o - 1] exists. */
static size_t
emit(char *out, size_t o, const char *s, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		if (s[j] == ' ' && out[o - 1] == ' ')
			continue;
		out[o++] = s[j];
	}
	return o;
}

static size_t
emit_cp(char *out, size_t o, utf8proc_int32_t cp)
{
	char buf[FOLD_MAX_OUT];

	if (cp < TABLE_CPS && table[cp].len != ENTRY_SLOW)
		return emit(out, o, table[cp].s, table[cp].len);
	return emit(out, o, buf, fold_cp(cp, buf));
}

/* Room for what is left of the input, all ASCII, plus one code point. */
static char *
reserve(char **bufp, size_t *capp, size_t o, size_t rest)
{
	size_t need = o + rest + FOLD_MAX_OUT + 2;

	if (*capp < need) {
		size_t cap = *capp * 2 > need ? *capp * 2 : need;

		*bufp = xreallocarray(*bufp, cap, 1);
		*capp = cap;
	}
	return *bufp;
}

/*
 * What ends a sentence ('.': a pattern never reaches across one) and what
 * ends a phrase (',': "nap day, tre" is not "day tre"; a gap may cross it).
 * Quotes are not breaks: "tro 'bat coc'" is still a game.
 */
static const char breaks[128] = {
	['.'] = '.', ['!'] = '.', ['?'] = '.', [';'] = '.', ['\n'] = '.',
	[','] = ',', [':'] = ',', ['('] = ',', [')'] = ',', ['-'] = ',',
};

/* The word "." or "," for a run of breaks, the stronger winning; o > 0
 * and the room is reserved. */
static size_t
emit_break(char *out, size_t o, char mark)
{
	if (o >= 2 && (out[o - 2] == '.' || out[o - 2] == ',') && out[o - 1] == ' ') {
		if (mark == '.')
			out[o - 2] = '.';
		return o;
	}
	if (out[o - 1] != ' ')
		out[o++] = ' ';
	out[o++] = mark;
	out[o++] = ' ';
	return o;
}

static size_t
fold(const char *s, size_t len, char **bufp, size_t *capp, int marks)
{
	const unsigned char *in = (const unsigned char *)s;
	char *out;
	size_t o = 0, i = 0;

	pthread_once(&table_once, table_build);
	out = reserve(bufp, capp, 0, len);
	out[o++] = ' ';
	while (i < len) {
		if (in[i] < 0x80) {
			char f = ascii_fold[in[i]];

			if (marks && breaks[in[i]]) {
				out = reserve(bufp, capp, o + 2, len - i);
				o = emit_break(out, o, breaks[in[i]]);
			} else if (f != ' ' || out[o - 1] != ' ')
				out[o++] = f;
			i++;
			continue;
		}
		utf8proc_int32_t cp;
		long n = textnorm_decode(in + i, len - i, &cp);

		out = reserve(bufp, capp, o, len - i);
		if (n <= 0) {
			/* Invalid UTF-8: this byte is a separator. */
			o = emit(out, o, " ", 1);
			i++;
			continue;
		}
		i += (size_t)n;
		o = emit_cp(out, o, cp);
	}
	if (out[o - 1] != ' ')
		out[o++] = ' ';
	out[o] = '\0';
	return o;
}

size_t
textnorm_fold_buf(const char *s, size_t len, char **bufp, size_t *capp)
{
	return fold(s, len, bufp, capp, 0);
}

size_t
textnorm_fold_sentences(const char *s, size_t len, char **bufp, size_t *capp)
{
	return fold(s, len, bufp, capp, 1);
}

char *
textnorm_fold(const char *s, size_t len, size_t *outlen)
{
	char *buf = NULL;
	size_t cap = 0, n;

	n = textnorm_fold_buf(s, len, &buf, &cap);
	if (outlen != NULL)
		*outlen = n;
	return buf;
}

int
textnorm_has_word(const char *folded)
{
	for (; *folded != '\0'; folded++)
		if (*folded != ' ')
			return 1;
	return 0;
}
