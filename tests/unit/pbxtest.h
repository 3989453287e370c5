/*
 * pbxtest.h: what the unit tests of the PBX adapters (test_ami.c,
 * test_esl.c, test_evapi.c) share. The promises checked here are the ones
 * sources.c relies on whatever the adapter: every event passes
 * protocol_parse() as it is, and how the bytes are cut into reads changes
 * nothing. What a transcript is, and how it must end, stays in each test.
 *
 * Every assert_ function fails the running cmocka test, saying why.
 */
#ifndef HOTLINE111_PBXTEST_H
#define HOTLINE111_PBXTEST_H

#include <stddef.h>

#include <jansson.h>

#include "pbx.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Bytes a test builds or reads; s may hold NULs, len counts them. */
struct text {
	char *s;
	size_t len, cap;
};

/* Appends n bytes of p; s stays NUL-terminated past len. */
void text_put(struct text *t, const char *p, size_t n);

/* Every event is one the daemon's own parser accepts, its id fitting. */
void assert_valid(json_t *events);
/* got equals want; else both are printed, after how (which feeding). */
void assert_events(json_t *got, json_t *want, const char *how);
/* An error message for a log line: printable ASCII only. */
void assert_printable(const char *err);

/* The JSON text s, which must parse: it is the test's own. */
json_t *parse_json(const char *s);
/* The string member name of event i, or NULL. */
const char *field(json_t *events, size_t i, const char *name);

/* Feeds n bytes of buf to p, which must take them; the events, all valid. */
json_t *adapter_feed_ok(const struct pbx_adapter *ad, void *p, const char *buf, size_t n);

/* How a test feeds its transcripts: what the shared feeding cannot know. */
struct pbxtest_feeder {
	const struct pbx_adapter *ad;
	/* A fresh adapter, as the transcripts expect it. */
	void *(*open)(void);
	/* Checks the end of one feeding against transcript tr: rc and err of
	 * the last feed, the adapter's state; how names the feeding. */
	void (*end)(void *p, const void *tr, int rc, const char *err, const char *how);
};

/*
 * Feeds t to a fresh adapter whole, split in two at every offset, and one
 * byte at a time, each stopping at the first failed feed. Every way must
 * end as f->end accepts and give exactly want, all of it valid.
 */
void feed_every_way(const struct pbxtest_feeder *f, const void *tr, struct text t, json_t *want);

#endif
