/*
 * test_spool.c: the spool's record format (whole, truncated, torn,
 * damaged, oversized, hostile) and its file: what is synced is read back
 * in order, the replay position survives a reopen, a torn tail is cut off,
 * a second daemon is refused, and a full spool says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "spool.h"

static const char element[] = "{\"ev\":{\"id\":\"e-1\",\"type\":\"ping\"},\"rx\":\"2026\"}";

/* A record of payload into buf: its length. */
static size_t
record(unsigned char *buf, const char *payload)
{
	size_t n = strlen(payload);

	spool_record_header(buf, payload, n);
	memcpy(buf + SPOOL_HEADER, payload, n);
	return SPOOL_HEADER + n;
}

static enum spool_rec
parse(const unsigned char *buf, size_t len, size_t *reclen)
{
	const unsigned char *p;
	size_t plen;

	return spool_record_parse(buf, len, &p, &plen, reclen);
}

static void
test_crc32c_known_value(void **state)
{
	(void)state;
	assert_int_equal(spool_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(spool_crc32c(0, "", 0), 0);
}

static void
test_whole_record(void **state)
{
	unsigned char buf[256];
	const unsigned char *p;
	size_t n = record(buf, element), plen, reclen;

	(void)state;
	assert_int_equal(spool_record_parse(buf, n, &p, &plen, &reclen), SPOOL_REC_OK);
	assert_int_equal(reclen, n);
	assert_int_equal(plen, strlen(element));
	assert_memory_equal(p, element, plen);
	assert_memory_equal(buf, SPOOL_MAGIC, 4);
	/* an empty payload is a record too (the replay skips it: not an event) */
	n = record(buf, "");
	assert_int_equal(spool_record_parse(buf, n, &p, &plen, &reclen), SPOOL_REC_OK);
	assert_int_equal(plen, 0);
}

static void
test_every_prefix_is_short(void **state)
{
	unsigned char buf[256];
	size_t n = record(buf, element), reclen;

	(void)state;
	for (size_t len = 0; len < n; len++)
		assert_int_equal(parse(buf, len, &reclen), SPOOL_REC_SHORT);
}

static void
test_any_flipped_bit_is_caught(void **state)
{
	unsigned char buf[256];
	size_t n = record(buf, element), reclen;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (unsigned char)(1 << bit);
			/* a longer length may look torn; never whole */
			assert_int_not_equal(parse(buf, n, &reclen), SPOOL_REC_OK);
			buf[i] ^= (unsigned char)(1 << bit);
		}
	}
	assert_int_equal(parse(buf, n, &reclen), SPOOL_REC_OK);
}

static void
test_malformed_headers(void **state)
{
	static const struct {
		const char *name;
		unsigned char hdr[SPOOL_HEADER];
		enum spool_rec want;
	} cases[] = {
		{ "zeros", { 0 }, SPOOL_REC_BAD },
		{ "other magic", { 'h', '1', 's', '2', 0, 0, 0, 0, 0, 0, 0, 0 }, SPOOL_REC_BAD },
		{ "length past the maximum", { 'h', '1', 's', '1', 1, 0, 0, 2, 0, 0, 0, 0 },
		    SPOOL_REC_BAD },
		{ "length 4 GiB", { 'h', '1', 's', '1', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 },
		    SPOOL_REC_BAD },
		{ "empty payload, wrong crc", { 'h', '1', 's', '1', 0, 0, 0, 0, 1, 2, 3, 4 },
		    SPOOL_REC_BAD },
		{ "length past the buffer", { 'h', '1', 's', '1', 0x10, 0, 0, 0, 0, 0, 0, 0 },
		    SPOOL_REC_SHORT },
	};
	size_t reclen;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(cases[i].hdr, SPOOL_HEADER, &reclen) != cases[i].want)
			fail_msg("%s", cases[i].name);
	}
	assert_int_equal(parse((const unsigned char *)"h1", 2, &reclen), SPOOL_REC_SHORT);
	assert_int_equal(parse((const unsigned char *)"x", 1, &reclen), SPOOL_REC_BAD);
}

static void
test_scan_torn_tail(void **state)
{
	unsigned char buf[1024];
	size_t n = 0, whole;
	struct spool_scan sc;

	(void)state;
	for (int i = 0; i < 3; i++)
		n += record(buf + n, element);
	whole = n;
	n += record(buf + n, element) - 5; /* the crash came five bytes early */
	spool_scan(buf, n, 0, &sc);
	assert_int_equal(sc.records, 3);
	assert_int_equal(sc.end, whole);
	assert_int_equal(sc.torn, n - whole);
	assert_int_equal(sc.skipped, 0);
	/* a torn header alone */
	spool_scan(buf, whole + 7, 0, &sc);
	assert_int_equal(sc.records, 3);
	assert_int_equal(sc.torn, 7);
}

static void
test_scan_skips_damage_between_records(void **state)
{
	unsigned char buf[1024];
	size_t n = record(buf, element), first = n, skipped;
	struct spool_scan sc;

	(void)state;
	memcpy(buf + n, "garbage h1s1 more", 17); /* a false magic inside */
	n += 17;
	n += record(buf + n, element);
	spool_scan(buf, n, 0, &sc);
	assert_int_equal(sc.records, 2);
	assert_int_equal(sc.skipped, 17);
	assert_int_equal(sc.torn, 0);
	assert_int_equal(sc.end, n);
	assert_int_equal(spool_next(buf, n, first, &skipped), first + 17);
	assert_int_equal(skipped, 17);
	/* from a position inside a record: on to the next whole one */
	spool_scan(buf, n, 3, &sc);
	assert_int_equal(sc.records, 1);
	assert_int_equal(sc.skipped, first + 17 - 3);
}

static void
test_scan_hostile_input(void **state)
{
	size_t len = 64 * 1024;
	unsigned char *buf = malloc(len);
	struct spool_scan sc;

	(void)state;
	/* nothing but magics */
	for (size_t i = 0; i + 4 <= len; i += 4)
		memcpy(buf + i, SPOOL_MAGIC, 4);
	spool_scan(buf, len, 0, &sc);
	assert_int_equal(sc.records, 0);
	assert_int_equal(sc.end + sc.torn, len);
	/* a header that claims all the rest, with a wrong checksum */
	memset(buf, 0xa5, len);
	spool_record_header(buf, "x", 1);
	buf[4] = (unsigned char)((len - SPOOL_HEADER) & 0xff);
	buf[5] = (unsigned char)((len - SPOOL_HEADER) >> 8);
	spool_scan(buf, len, 0, &sc);
	assert_int_equal(sc.records, 0);
	assert_int_equal(sc.torn, len);
	/* a start past the end */
	spool_scan(buf, 10, 20, &sc);
	assert_int_equal(sc.records, 0);
	assert_int_equal(sc.end, 10);
	free(buf);
}

static void
test_element_load(void **state)
{
	static const struct {
		const char *text;
		int ok;
	} cases[] = {
		{ "{\"ev\":{\"id\":\"a\"}}", 1 },
		{ "{\"ev\":{\"id\":\"a\",\"type\":\"ping\"},\"rx\":\"x\",\"triage\":null}", 1 },
		{ "", 0 },
		{ "not json", 0 },
		{ "[1,2]", 0 },
		{ "{}", 0 },
		{ "{\"ev\":[]}", 0 },
		{ "{\"ev\":{}}", 0 },
		{ "{\"ev\":{\"id\":7}}", 0 },
		{ "{\"ev\":{\"id\":null}}", 0 },
		{ "{\"ev\":{\"id\":\"a\"}} trailing", 0 },
		{ "{\"ev\":{\"id\":\"a\\u0000b\"}}", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *el = spool_element_load((const unsigned char *)cases[i].text,
		    strlen(cases[i].text));
		if ((el != NULL) != cases[i].ok)
			fail_msg("%s", cases[i].text);
		json_decref(el);
	}
}

/* --- the file --------------------------------------------------------- */

static char dir[64];

static int
make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/h111-spool-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct spool *
open_spool(size_t max)
{
	char err[256];
	struct spool *sp = spool_open(dir, max, err, sizeof(err));

	if (sp == NULL)
		fail_msg("%s", err);
	return sp;
}

static void
append(struct spool *sp, int i)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "{\"ev\":{\"id\":\"e-%d\"}}", i);
	assert_int_equal(spool_append(sp, buf, strlen(buf)), SPOOL_APPENDED);
}

static int
read_id(struct spool *sp, size_t *off)
{
	const unsigned char *p;
	size_t plen;
	json_t *el;
	int id;

	if (!spool_read(sp, off, &p, &plen))
		return -1;
	el = spool_element_load(p, plen);
	assert_non_null(el);
	id = atoi(json_string_value(json_object_get(json_object_get(el, "ev"), "id")) + 2);
	json_decref(el);
	return id;
}

static void
test_file_in_order_and_position_kept(void **state)
{
	struct spool *sp = open_spool(1 << 20);
	size_t off = 0, after2;

	(void)state;
	for (int i = 0; i < 5; i++)
		append(sp, i);
	assert_int_equal(spool_records(sp), 0); /* nothing is durable before the sync */
	assert_int_equal(read_id(sp, &off), -1);
	assert_int_equal(spool_sync(sp), 0);
	assert_int_equal(spool_records(sp), 5);
	off = 0;
	assert_int_equal(read_id(sp, &off), 0);
	assert_int_equal(read_id(sp, &off), 1);
	after2 = off;
	assert_int_equal(spool_replayed(sp, after2, 2), 0);
	assert_int_equal(spool_records(sp), 3);
	spool_close(sp);

	sp = open_spool(1 << 20); /* as after kill -9 */
	assert_int_equal(spool_records(sp), 3);
	off = 0;
	assert_int_equal(read_id(sp, &off), 2);
	assert_int_equal(read_id(sp, &off), 3);
	assert_int_equal(read_id(sp, &off), 4);
	assert_int_equal(read_id(sp, &off), -1);
	assert_int_equal(spool_replayed(sp, off, 3), 0);
	assert_int_equal(spool_records(sp), 0);
	assert_int_equal(spool_bytes(sp), 0); /* all replayed: emptied */
	spool_close(sp);
}

static void
test_file_torn_tail_cut_on_open(void **state)
{
	struct spool *sp = open_spool(1 << 20);
	char path[128];
	size_t whole, off = 0;
	FILE *f;

	(void)state;
	append(sp, 7);
	assert_int_equal(spool_sync(sp), 0);
	whole = spool_bytes(sp);
	spool_close(sp);
	snprintf(path, sizeof(path), "%s/spool.dat", dir);
	f = fopen(path, "ab");
	fwrite("h1s1\x20\0\0\0\0\0\0\0{\"ev\"", 1, 17, f);
	fclose(f);
	sp = open_spool(1 << 20);
	assert_int_equal(spool_bytes(sp), whole);
	assert_int_equal(spool_records(sp), 1);
	assert_int_equal(read_id(sp, &off), 7);
	spool_close(sp);
}

static void
test_file_garbage_position_replays_all(void **state)
{
	struct spool *sp = open_spool(1 << 20);
	char path[128];
	FILE *f;

	(void)state;
	append(sp, 1);
	append(sp, 2);
	assert_int_equal(spool_sync(sp), 0);
	spool_close(sp);
	snprintf(path, sizeof(path), "%s/spool.pos", dir);
	f = fopen(path, "w");
	fputs("99999999999\n", f); /* past the end */
	fclose(f);
	sp = open_spool(1 << 20);
	assert_int_equal(spool_records(sp), 2);
	spool_close(sp);
	f = fopen(path, "w");
	fputs("not a number", f);
	fclose(f);
	sp = open_spool(1 << 20);
	assert_int_equal(spool_records(sp), 2);
	spool_close(sp);
}

static void
test_file_full_and_oversized(void **state)
{
	struct spool *sp = open_spool(100);
	static char big[SPOOL_RECORD_MAX + 1];

	(void)state;
	assert_int_equal(spool_append(sp, "{\"ev\":{\"id\":\"x\"}}", 17), SPOOL_APPENDED);
	assert_int_equal(spool_append(sp, big, 80), SPOOL_FULL);
	assert_int_equal(spool_sync(sp), 0);
	assert_int_equal(spool_records(sp), 1);
	spool_close(sp);
	sp = open_spool((size_t)1 << 40);
	assert_int_equal(spool_append(sp, big, sizeof(big)), SPOOL_FULL);
	spool_close(sp);
}

static void
test_file_second_daemon_refused(void **state)
{
	struct spool *sp = open_spool(1 << 20);
	char err[256];

	(void)state;
	assert_null(spool_open(dir, 1 << 20, err, sizeof(err)));
	assert_non_null(strstr(err, "another hotline111d uses this spool"));
	spool_close(sp);
	sp = open_spool(1 << 20); /* the lock goes with the first */
	spool_close(sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_value),
		cmocka_unit_test(test_whole_record),
		cmocka_unit_test(test_every_prefix_is_short),
		cmocka_unit_test(test_any_flipped_bit_is_caught),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_scan_torn_tail),
		cmocka_unit_test(test_scan_skips_damage_between_records),
		cmocka_unit_test(test_scan_hostile_input),
		cmocka_unit_test(test_element_load),
		cmocka_unit_test_setup_teardown(test_file_in_order_and_position_kept, make_dir,
		    remove_dir),
		cmocka_unit_test_setup_teardown(test_file_torn_tail_cut_on_open, make_dir,
		    remove_dir),
		cmocka_unit_test_setup_teardown(test_file_garbage_position_replays_all, make_dir,
		    remove_dir),
		cmocka_unit_test_setup_teardown(test_file_full_and_oversized, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_file_second_daemon_refused, make_dir,
		    remove_dir),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
