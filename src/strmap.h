/*
 * strmap.h: a string-to-int map with borrowed keys (open addressing),
 * for the rule engine's names and phrases. Keys are byte strings with a
 * length; the map never copies them, so they must outlive it.
 */
#ifndef HOTLINE111_STRMAP_H
#define HOTLINE111_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key; /* NULL: empty */
	uint32_t len;
	uint32_t hash;
	int value;
};

struct strmap {
	struct strmap_slot *slot;
	uint32_t cap; /* a power of two, or 0 */
	uint32_t n;
};

/* k's value, or -1. */
int strmap_get(const struct strmap *m, const char *k, size_t len);
/* Insert k -> value unless k is there: returns its value, else -1. */
int strmap_add(struct strmap *m, const char *k, size_t len, int value);
void strmap_free(struct strmap *m);

#endif
