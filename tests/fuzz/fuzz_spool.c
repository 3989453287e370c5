/*
 * fuzz_spool.c: any bytes as a spool file, read as the daemon reads one at
 * start-up (spool_scan) and during a replay (spool_next and
 * spool_record_parse from every position a damaged file may lead to).
 *
 * Besides what the sanitizers catch, this checks what the replay relies
 * on: the scan accounts for every byte (records + damage + torn tail), a
 * whole record lies inside the buffer, and the walk always moves forward.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The replay's walk: record after record, skipping damage; returns the
 * number of whole records and checks each of them. */
static size_t
walk(const uint8_t *data, size_t size, size_t off)
{
	const unsigned char *p;
	size_t n = 0, plen, reclen, skipped, next;

	while (off < size) {
		next = spool_next(data, size, off, &skipped);
		if (next < off || next > size || skipped != next - off)
			abort();
		if (next == size)
			break;
		if (spool_record_parse(data + next, size - next, &p, &plen, &reclen) != SPOOL_REC_OK)
			abort();
		if (p != data + next + SPOOL_HEADER || reclen != SPOOL_HEADER + plen ||
		    reclen > size - next)
			abort();
		json_decref(spool_element_load(p, plen));
		n++;
		off = next + reclen;
	}
	return n;
}

static void
check_scan(const uint8_t *data, size_t size, size_t from)
{
	struct spool_scan sc;

	spool_scan(data, size, from, &sc);
	if (sc.end > size || sc.end < (from < size ? from : size) || sc.end + sc.torn > size)
		abort();
	if (sc.torn > 0 && sc.end + sc.torn != size)
		abort();
	if (sc.torn == 0 && from < size && sc.end != size)
		abort();
	if (sc.records != walk(data, sc.end, from))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_scan(data, size, 0);
	check_scan(data, size, size / 2);
	return 0;
}
