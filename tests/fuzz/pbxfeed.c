/*
 * pbxfeed.c: what the PBX adapters' fuzz targets share. Any bytes are fed
 * in three pieces cut where a hash of the input says; then the promises
 * the socket side relies on are checked: every event produced passes
 * protocol_parse() as it is, and a failure comes with a printable message.
 */
#include "pbxfeed.h"

#include <stdlib.h>
#include <string.h>

#include "protocol.h"

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

void
pbxfeed(const struct pbx_adapter *ad, void *p, const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	json_t *out = json_array();
	char err[160] = "";
	size_t c1, c2;
	int rc;

	cuts(data, size, &c1, &c2);
	rc = ad->feed(p, s, c1, out, err, sizeof(err));
	if (rc == 0)
		rc = ad->feed(p, s + c1, c2 - c1, out, err, sizeof(err));
	if (rc == 0)
		rc = ad->feed(p, s + c2, size - c2, out, err, sizeof(err));
	check_err(rc, err);
	check_events(out);
	json_decref(out);
}
