/*
 * fuzz_evapi.c: any bytes as a Kamailio evapi stream, fed in three pieces
 * cut where a hash of the input says, then again after a reconnect.
 *
 * Besides what the sanitizers catch, this checks the promises the socket
 * side relies on: every event produced passes protocol_parse() as it is,
 * and a failure comes with a printable message. The limits are small so
 * that oversized frames and a full call table are reached quickly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evapi.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_events(json_t *out)
{
	static const struct proto_limits lim = { .max_depth = 16 };
	size_t i;
	json_t *e;

	json_array_foreach(out, i, e) {
		char *line = json_dumps(e, JSON_COMPACT);
		struct event ev;
		struct proto_fail fail;

		if (line == NULL || protocol_parse(line, strlen(line), &lim, &ev,
					&fail) != 0)
			abort();
		if (ev.type > EV_CALL_ENDED || strlen(ev.id) > PROTOCOL_MAX_ID)
			abort();
		protocol_event_clear(&ev);
		free(line);
	}
}

static void
check_err(int rc, const char *err)
{
	if (rc == 0)
		return;
	if (rc != -1 || err[0] == '\0')
		abort();
	for (const char *p = err; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			abort();
	}
}

/* Two cut points from the input itself, so a crash replays the same way. */
static void
cuts(const uint8_t *data, size_t size, size_t *c1, size_t *c2)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t t;

	for (size_t i = 0; i < size; i++) {
		h ^= data[i];
		h *= 0x100000001b3ULL;
	}
	*c1 = (size_t)(h % (size + 1));
	*c2 = (size_t)((h >> 32) % (size + 1));
	if (*c1 > *c2) {
		t = *c1;
		*c1 = *c2;
		*c2 = t;
	}
}

static void
feed(struct evapi *e, const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	json_t *out = json_array();
	char err[160] = "";
	size_t c1, c2;
	int rc;

	cuts(data, size, &c1, &c2);
	rc = evapi_feed(e, s, c1, out, err, sizeof(err));
	if (rc == 0)
		rc = evapi_feed(e, s + c1, c2 - c1, out, err, sizeof(err));
	if (rc == 0)
		rc = evapi_feed(e, s + c2, size - c2, out, err, sizeof(err));
	check_err(rc, err);
	check_events(out);
	json_decref(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct evapi_options opt = {
		.source = "evapi:fuzz",
		.max_frame = 1024,
		.max_calls = 8,
	};
	struct evapi *e = evapi_new(&opt);

	evapi_reset(e);
	feed(e, data, size);
	(void)evapi_skipped(e);
	/* a reconnect keeps the calls: the same stream again meets them */
	evapi_reset(e);
	feed(e, data, size);
	evapi_free(e);
	return 0;
}
