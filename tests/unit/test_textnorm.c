/*
 * test_textnorm.c: folding Vietnamese as people type it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "textnorm.h"
#include "xmalloc.h"

static void
assert_fold(const char *in, size_t len, const char *want)
{
	size_t n;
	char *got = textnorm_fold(in, len, &n);

	if (strcmp(got, want) != 0)
		print_error("fold(\"%s\") = \"%s\", want \"%s\"\n", in, got, want);
	assert_string_equal(got, want);
	assert_int_equal(n, strlen(want));
	free(got);
}

static void
assert_fold_str(const char *in, const char *want)
{
	assert_fold(in, strlen(in), want);
}

/* Every output is valid UTF-8, starts and ends with one space, and
 * never holds two spaces in a row. */
static void
assert_well_formed(const char *s, size_t n)
{
	utf8proc_int32_t cp;

	assert_true(n >= 1);
	assert_int_equal(s[0], ' ');
	assert_int_equal(s[n - 1], ' ');
	assert_int_equal(strlen(s), n);
	for (size_t i = 0; i + 1 < n; i++)
		assert_false(s[i] == ' ' && s[i + 1] == ' ');
	for (size_t i = 0; i < n;) {
		utf8proc_ssize_t k = utf8proc_iterate(
		    (const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);

		assert_true(k > 0);
		i += (size_t)k;
	}
}

/* --- the twelve vowels with the six tones ------------------------------ */

static const struct vowel {
	const char *base; /* the vowel as a letter, with its own mark */
	const char *want;
} vowels[] = {
    {"a", "a"},
    {"a\xcc\x86", "a"},
    {"a\xcc\x82", "a"},
    {"e", "e"},
    {"e\xcc\x82", "e"},
    {"i", "i"},
    {"o", "o"},
    {"o\xcc\x82", "o"},
    {"o\xcc\x9b", "o"},
    {"u", "u"},
    {"u\xcc\x9b", "u"},
    {"y", "y"},
};

/* none, huyền, sắc, hỏi, ngã, nặng */
static const char *const tones[] = {
    "",
    "\xcc\x80",
    "\xcc\x81",
    "\xcc\x89",
    "\xcc\x83",
    "\xcc\xa3",
};

static char *
upper_nfc(const char *s)
{
	char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)s);
	utf8proc_int32_t cp;
	utf8proc_ssize_t k;
	char *out = xmalloc(strlen(nfc) * 4 + 1);
	size_t o = 0;

	for (size_t i = 0; nfc[i] != '\0'; i += (size_t)k) {
		k = utf8proc_iterate((const utf8proc_uint8_t *)nfc + i, -1, &cp);
		assert_true(k > 0);
		o +=
		    (size_t)utf8proc_encode_char(utf8proc_toupper(cp), (utf8proc_uint8_t *)out + o);
	}
	out[o] = '\0';
	free(nfc);
	return out;
}

static void
test_vowels_tones(void **state)
{
	for (size_t v = 0; v < sizeof(vowels) / sizeof(vowels[0]); v++) {
		for (size_t t = 0; t < sizeof(tones) / sizeof(tones[0]); t++) {
			char nfd[32], want[8], *nfc, *up;
			utf8proc_int32_t cp;

			snprintf(nfd, sizeof(nfd), "%s%s", vowels[v].base, tones[t]);
			snprintf(want, sizeof(want), " %s ", vowels[v].want);
			nfc = (char *)utf8proc_NFC((utf8proc_uint8_t *)nfd);
			up = upper_nfc(nfd);
			/* precomposed (one code point), decomposed, capital */
			assert_int_equal(utf8proc_iterate((utf8proc_uint8_t *)nfc, -1, &cp),
			    (utf8proc_ssize_t)strlen(nfc));
			assert_fold_str(nfc, want);
			assert_fold_str(nfd, want);
			assert_fold_str(up, want);
			free(nfc);
			free(up);
		}
	}
}

/* The same, typed literally, so the test does not only trust utf8proc. */
static void
test_literal_letters(void **state)
{
	assert_fold_str("ắ ằ ẳ ẵ ặ ấ ầ ẩ ẫ ậ", " a a a a a a a a a a ");
	assert_fold_str("Ắ Ằ Ẳ Ẵ Ặ Ấ Ầ Ẩ Ẫ Ậ", " a a a a a a a a a a ");
	assert_fold_str("ế ề ể ễ ệ Ế Ệ", " e e e e e e e ");
	assert_fold_str("ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ Ớ Ợ", " o o o o o o o o o o o o ");
	assert_fold_str("ứ ừ ử ữ ự Ứ Ự", " u u u u u u u ");
	assert_fold_str("ý ỳ ỷ ỹ ỵ Ý Ỵ", " y y y y y y y ");
	assert_fold_str("í ì ỉ ĩ ị Í Ị", " i i i i i i i ");
}

static void
test_d_stroke(void **state)
{
	assert_fold_str("đ", " d ");
	assert_fold_str("Đ", " d ");
	assert_fold_str("Đuối nước", " duoi nuoc ");
	assert_fold_str("ĐUỐI NƯỚC", " duoi nuoc ");
	assert_fold_str("duoi nuoc", " duoi nuoc ");
	assert_fold_str("đường dây", " duong day ");
}

static void
test_nfd_input(void **state)
{
	/* "đuối nước" decomposed: u + horn + acute, o + circumflex + acute */
	const char *nfd = "\xc4\x91uo\xcc\x82\xcc\x81i "
	                  "nu\xcc\x9bo\xcc\x9b\xcc\x81"
	                  "c";
	/* marks in a non-canonical order fold the same */
	const char *odd = "\xc4\x91uo\xcc\x81\xcc\x82i "
	                  "nu\xcc\x9bo\xcc\x81\xcc\x9b"
	                  "c";

	assert_fold_str(nfd, " duoi nuoc ");
	assert_fold_str(odd, " duoi nuoc ");
	/* a stray combining mark alone, or at the start, is dropped */
	assert_fold_str("\xcc\x81", " ");
	assert_fold_str("\xcc\x81"
	                "ao",
	    " ao ");
}

static void
test_word_boundaries(void **state)
{
	char *bao = textnorm_fold("bao nhiêu", strlen("bao nhiêu"), NULL);
	char *ao = textnorm_fold("rơi xuống ao.", strlen("rơi xuống ao."), NULL);
	char *hoso = textnorm_fold("hồ sơ", strlen("hồ sơ"), NULL);

	assert_null(strstr(bao, " ao "));
	assert_non_null(strstr(ao, " ao "));
	assert_non_null(strstr(hoso, " ho "));
	assert_non_null(strstr(hoso, " ho so "));
	free(bao);
	free(ao);
	free(hoso);
	assert_fold_str("a,b;c...d", " a b c d ");
	assert_fold_str("  \t\n a  \r\n b \t", " a b ");
	assert_fold_str("(khẩn!!!) — cứu?", " khan cuu ");
	assert_fold_str("12 tuổi", " 12 tuoi ");
	assert_fold_str("ngõ 5/12", " ngo 5 12 ");
	assert_fold_str("e-mail", " e mail ");
	assert_fold_str("💧bé😢", " be ");
}

static void
test_unicode_forms(void **state)
{
	assert_fold_str("ＡＢＣ １２", " abc 12 "); /* full-width */
	assert_fold_str("ﬁ", " fi ");               /* ligature */
	assert_fold_str("Straße", " strasse ");     /* full case folding */
	/* soft hyphen and zero-width space vanish inside a word */
	assert_fold_str("đuối\xc2\xadnước", " duoinuoc ");
	assert_fold_str("đu\xe2\x80\x8boi", " duoi ");
	assert_fold_str("中文 Ελλάδα Москва", " 中文 ελλαδα москва ");
}

static void
test_invalid_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t len;
	} bad[] = {
	    {"a\xff"
	     "b",
	        3}, /* not UTF-8 at all */
	    {"a\x80"
	     "b",
	        3},       /* lone continuation byte */
	    {"a\xc3", 2}, /* truncated at the end */
	    {"a\xe1\xba"
	     "b",
	        4}, /* truncated in the middle */
	    {"a\xc0\xaf"
	     "b",
	        4}, /* overlong "/" */
	    {"a\xed\xa0\x80"
	     "b",
	        5}, /* surrogate */
	    {"a\xf4\x90\x80\x80"
	     "b",
	        6}, /* above U+10FFFF */
	    {"a\xf8\x88\x80\x80\x80"
	     "b",
	        7},      /* five-byte form */
	    {"a\0b", 3}, /* NUL inside */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n;
		char *f = textnorm_fold(bad[i].in, bad[i].len, &n);

		assert_well_formed(f, n);
		assert_true(strncmp(f, " a ", 3) == 0);
		free(f);
	}
	assert_fold("a\xff"
	            "b",
	    3, " a b ");
	assert_fold("\xff\xfe\xfd", 3, " ");
}

/* Sentence ends become ".", other breaks ",", the stronger of a run
 * winning; quotes are spaces. */
static void
test_breaks(void **state)
{
	static const char *const cases[][2] = {
	    {"Bé ngã. Cứu!", " be nga . cuu . "},
	    {"nắp đậy, trẻ", " nap day , tre "},
	    {"a: b (c) d - e", " a , b , c , d , e "},
	    {"a ,. b", " a . b "},
	    {"a ., b", " a . b "},
	    {"a ,,, : b", " a , b "},
	    {"trò 'bắt cóc'", " tro bat coc "},
	    {", a", " , a "},
	    {"", " "},
	};
	char *buf = NULL;
	size_t cap = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = textnorm_fold_sentences(cases[i][0], strlen(cases[i][0]), &buf, &cap);

		if (strcmp(buf, cases[i][1]) != 0)
			print_error("\"%s\" -> \"%s\", want \"%s\"\n", cases[i][0], buf, cases[i][1]);
		assert_string_equal(buf, cases[i][1]);
		assert_int_equal(n, strlen(cases[i][1]));
	}
	free(buf);
}

static void
test_empty(void **state)
{
	assert_fold("", 0, " ");
	assert_fold(NULL, 0, " ");
	assert_fold_str("!!! ...", " ");
	assert_false(textnorm_has_word(" "));
	assert_true(textnorm_has_word(" a "));
}

static void
test_long(void **state)
{
	const char *word = "Đuối nước ";
	size_t wl = strlen(word), reps = 100000, n;
	char *in = xmalloc(wl * reps + 1), *f;

	for (size_t i = 0; i < reps; i++)
		memcpy(in + i * wl, word, wl);
	in[wl * reps] = '\0';
	f = textnorm_fold(in, wl * reps, &n);
	assert_int_equal(n, 1 + strlen("duoi nuoc ") * reps);
	assert_well_formed(f, n);
	free(f);
	free(in);
}

/* Random bytes: any input folds to well-formed output. */
static void
test_random_bytes(void **state)
{
	size_t len = 1 << 20, n;
	unsigned char *in = xmalloc(len);
	uint32_t x = 2463534242u;
	char *f;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		in[i] = (unsigned char)x;
	}
	f = textnorm_fold((char *)in, len, &n);
	assert_well_formed(f, n);
	free(f);
	free(in);
}

static void
test_buffer_reuse(void **state)
{
	char *buf = NULL;
	size_t cap = 0, n;

	n = textnorm_fold_buf("Cứu với", strlen("Cứu với"), &buf, &cap);
	assert_string_equal(buf, " cuu voi ");
	assert_int_equal(n, 9);
	n = textnorm_fold_buf("a", 1, &buf, &cap);
	assert_string_equal(buf, " a ");
	assert_int_equal(n, 3);
	assert_true(cap >= 4);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vowels_tones),
	    cmocka_unit_test(test_literal_letters),
	    cmocka_unit_test(test_d_stroke),
	    cmocka_unit_test(test_nfd_input),
	    cmocka_unit_test(test_word_boundaries),
	    cmocka_unit_test(test_breaks),
	    cmocka_unit_test(test_unicode_forms),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_long),
	    cmocka_unit_test(test_random_bytes),
	    cmocka_unit_test(test_buffer_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
