/*
 * pbxtest.c: what the unit tests of the PBX adapters share (pbxtest.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pbxtest.h"
#include "protocol.h"
#include "xmalloc.h"

/* The daemon's own limit on nesting in a bridge line. */
static const struct proto_limits lim16 = { .max_depth = 16 };

void
text_put(struct text *t, const char *p, size_t n)
{
	/* doubling: the ESL transcripts are built a byte at a time */
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = xreallocarray(t->s, t->cap, 1);
	}
	memcpy(t->s + t->len, p, n);
	t->len += n;
	t->s[t->len] = '\0';
}

void
assert_valid(json_t *events)
{
	size_t i;
	json_t *e;

	json_array_foreach(events, i, e) {
		char *line = json_dumps(e, JSON_COMPACT);
		struct event ev;
		struct proto_fail pf;

		assert_non_null(line);
		if (protocol_parse(line, strlen(line), &lim16, &ev, &pf) != 0) {
			print_error("refused %s: %s %s\n", line, protocol_error_name(pf.code),
			    pf.detail);
			fail();
		}
		assert_true(strlen(ev.id) <= PROTOCOL_MAX_ID);
		protocol_event_clear(&ev);
		free(line);
	}
}

void
assert_events(json_t *got, json_t *want, const char *how)
{
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_INDENT(1));
		char *w = json_dumps(want, JSON_INDENT(1));

		print_error("%s: got\n%s\nwant\n%s\n", how, g, w);
		free(g);
		free(w);
		fail();
	}
}

void
assert_printable(const char *err)
{
	for (const char *c = err; *c != '\0'; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
}

json_t *
parse_json(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (j == NULL) {
		print_error("bad expected JSON: %s\n", e.text);
		fail();
	}
	return j;
}

const char *
field(json_t *events, size_t i, const char *name)
{
	return json_string_value(json_object_get(json_array_get(events, i), name));
}

json_t *
adapter_feed_ok(const struct pbx_adapter *ad, void *p, const char *buf, size_t n)
{
	json_t *out = json_array();
	char err[160] = "";

	if (ad->feed(p, buf, n, out, err, sizeof(err)) != 0) {
		print_error("%s_feed: %s\n", ad->type, err);
		fail();
	}
	assert_valid(out);
	return out;
}

/* Feeds the pieces cut at the offsets given, stopping at a failure. */
static void
feed_pieces(const struct pbxtest_feeder *f, const void *tr, struct text t, const size_t *cuts,
    size_t ncuts, json_t *want, const char *how)
{
	void *p = f->open();
	json_t *out = json_array();
	char err[160] = "";
	size_t from = 0;
	int rc = 0;

	for (size_t i = 0; i <= ncuts && rc == 0; i++) {
		size_t to = i < ncuts ? cuts[i] : t.len;

		rc = f->ad->feed(p, t.s + from, to - from, out, err, sizeof(err));
		from = to;
	}
	f->end(p, tr, rc, err, how);
	assert_valid(out);
	assert_events(out, want, how);
	json_decref(out);
	f->ad->destroy(p);
}

void
feed_every_way(const struct pbxtest_feeder *f, const void *tr, struct text t, json_t *want)
{
	size_t *bytes = xcalloc(t.len + 1, sizeof(*bytes));
	char how[64];

	feed_pieces(f, tr, t, NULL, 0, want, "whole");
	for (size_t k = 0; k <= t.len; k++) {
		snprintf(how, sizeof(how), "split at %zu", k);
		feed_pieces(f, tr, t, &k, 1, want, how);
		bytes[k] = k;
	}
	feed_pieces(f, tr, t, bytes + 1, t.len > 0 ? t.len - 1 : 0, want, "byte by byte");
	free(bytes);
}
