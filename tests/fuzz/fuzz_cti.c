/*
 * fuzz_cti.c: any bytes as a CTI webhook request. The first byte picks
 * the Content-Type (JSON, form, none, another) and whether the first line
 * of the rest is the query string; the rest is the body.
 *
 * Besides what the sanitizers catch, this checks the promises the HTTP
 * side relies on: events only with CTI_EVENTS, at most CTI_MAX_EVENTS of
 * them, each passing protocol_parse() as it is; a refusal always with a
 * printable detail.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cti.h"
#include "protocol.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_events(json_t *events)
{
	static const struct proto_limits lim = { .max_depth = 16 };
	size_t i;
	json_t *e;

	if (!json_is_array(events) || json_array_size(events) == 0 ||
	    json_array_size(events) > CTI_MAX_EVENTS)
		abort();
	json_array_foreach(events, i, e) {
		char *line = json_dumps(e, JSON_COMPACT);
		struct event ev;
		struct proto_fail fail;

		if (line == NULL || protocol_parse(line, strlen(line), &lim, &ev, &fail) != 0)
			abort();
		if (ev.type > EV_CALL_ENDED || strlen(ev.id) > PROTOCOL_MAX_ID || ev.ts != NULL)
			abort();
		protocol_event_clear(&ev);
		free(line);
	}
}

static void
check_result(const struct cti_result *res)
{
	if (res->verdict == CTI_EVENTS) {
		check_events(res->events);
		return;
	}
	if (res->events != NULL || res->detail[0] == '\0')
		abort();
	for (const char *p = res->detail; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ctypes[] = { "application/json",
		"application/x-www-form-urlencoded", NULL, "text/plain" };
	const char *body = (const char *)data + 1, *nl;
	char *query = NULL;
	size_t len;
	struct cti_result res;

	if (size == 0)
		return 0;
	len = size - 1;
	/* bit 2: the first line is the query string (a C string: no NUL in it) */
	if ((data[0] & 4) && (nl = memchr(body, '\n', len)) != NULL &&
	    memchr(body, '\0', (size_t)(nl - body)) == NULL) {
		query = xstrndup(body, (size_t)(nl - body));
		len -= (size_t)(nl - body) + 1;
		body = nl + 1;
	}
	cti_map(ctypes[data[0] & 3], body, len, query, &res);
	check_result(&res);
	cti_result_clear(&res);
	free(query);
	return 0;
}
