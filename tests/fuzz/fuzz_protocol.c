/*
 * fuzz_protocol.c: any bytes as one bridge line, then the reply it earns.
 *
 * Besides what the sanitizers catch, this checks the promises the bridge
 * relies on: a refusal has an error code and a printable detail, and every
 * reply is exactly one line of JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(char *reply)
{
	size_t n = strlen(reply);
	json_t *o;

	if (n == 0 || reply[n - 1] != '\n' || memchr(reply, '\n', n - 1))
		abort();
	if ((o = json_loadb(reply, n, 0, NULL)) == NULL)
		abort();
	json_decref(o);
	free(reply);
}

static void
check_fail(const struct proto_fail *fail)
{
	if (fail->code == PROTO_OK || fail->detail[0] == '\0')
		abort();
	for (const char *p = fail->detail; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			abort();
	}
	if (strnlen(fail->id, sizeof(fail->id)) == sizeof(fail->id))
		abort();
	check_reply(protocol_nack(fail->id, fail->code, fail->detail));
}

static void
check_event(struct event *ev)
{
	struct proto_ack ack = { .id = ev->id, .case_id = 1, .priority = 2,
		.category = ev->category, .dup = ev->child_age > 10 };
	json_t *rules = json_array();

	if (ev->obj == NULL || (ev->type != EV_HELLO && ev->id == NULL))
		abort();
	json_array_append_new(rules, json_string(protocol_type_name(ev->type)));
	ack.rules = rules;
	check_reply(protocol_ack(&ack));
	check_reply(protocol_nack(ev->id, PROTO_UNAVAILABLE, ev->text));
	check_reply(protocol_pong(ev->id));
	if (ev->client != NULL)
		check_reply(protocol_welcome(ev->client));
	json_decref(rules);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct proto_limits lim = { .max_depth = 16 };
	struct event ev;
	struct proto_fail fail;

	if (protocol_parse((const char *)data, size, &lim, &ev, &fail) == 0) {
		check_event(&ev);
		protocol_event_clear(&ev);
	} else {
		if (ev.obj != NULL)
			abort();
		check_fail(&fail);
	}
	return 0;
}
