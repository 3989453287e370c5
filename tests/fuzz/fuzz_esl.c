/*
 * fuzz_esl.c: any bytes as a FreeSWITCH event socket stream, fed in three
 * pieces cut where a hash of the input says, then again after a reconnect.
 *
 * Besides what the sanitizers catch, this checks the promises the socket
 * side relies on: every event produced passes protocol_parse() as it is,
 * a failure comes with a printable message, and the commands to send are
 * each one line ended by an empty one. The limits are small so that
 * oversized header blocks and bodies and a full call table are reached
 * quickly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esl.h"
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
feed(struct esl *a, const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	json_t *out = json_array();
	char err[160] = "";
	size_t c1, c2;
	int rc;

	cuts(data, size, &c1, &c2);
	rc = esl_feed(a, s, c1, out, err, sizeof(err));
	if (rc == 0)
		rc = esl_feed(a, s + c1, c2 - c1, out, err, sizeof(err));
	if (rc == 0)
		rc = esl_feed(a, s + c2, size - c2, out, err, sizeof(err));
	check_err(rc, err);
	check_events(out);
	json_decref(out);
}

/* Every command is "WORDS\n\n" with no other line break. */
static void
check_output(struct esl *a)
{
	char *s;

	while ((s = esl_output(a)) != NULL) {
		size_t n = strlen(s);

		if (n < 3 || strcmp(s + n - 2, "\n\n") != 0 ||
		    strpbrk(s, "\r") != NULL || strchr(s, '\n') != s + n - 2)
			abort();
		free(s);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct esl_options opt = {
		.password = "ClueCon",
		.ivr_variable = "hotline_ivr",
		.source = "esl:fuzz",
		.max_header = 1024,
		.max_body = 2048,
		.max_calls = 8,
	};
	struct esl *a = esl_new(&opt);

	if (a == NULL)
		abort();
	check_output(a);
	feed(a, data, size);
	check_output(a);
	(void)esl_ready(a);
	/* a reconnect keeps the calls: the same stream again meets them */
	esl_reset(a);
	feed(a, data, size);
	check_output(a);
	esl_free(a);
	return 0;
}
