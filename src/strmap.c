/* strmap.c: see strmap.h. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static uint32_t
hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct strmap_slot *
strmap_slot(const struct strmap *m, const char *k, size_t len, uint32_t h)
{
	uint32_t i = h & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		struct strmap_slot *s = &m->slot[i];

		if (s->key == NULL ||
		    (s->hash == h && s->len == len && memcmp(s->key, k, len) == 0))
			return s;
	}
}

int
strmap_get(const struct strmap *m, const char *k, size_t len)
{
	struct strmap_slot *s;

	if (m->cap == 0)
		return -1;
	s = strmap_slot(m, k, len, hash_bytes(k, len));
	return s->key != NULL ? s->value : -1;
}

static void
strmap_grow(struct strmap *m)
{
	struct strmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->slot = xcalloc(m->cap, sizeof(*m->slot));
	for (uint32_t i = 0; i < old.cap; i++)
		if (old.slot[i].key != NULL)
			*strmap_slot(m, old.slot[i].key, old.slot[i].len, old.slot[i].hash) =
			    old.slot[i];
	free(old.slot);
}

int
strmap_add(struct strmap *m, const char *k, size_t len, int value)
{
	uint32_t h = hash_bytes(k, len);
	struct strmap_slot *s;

	if ((m->n + 1) * 2 > m->cap)
		strmap_grow(m);
	s = strmap_slot(m, k, len, h);
	if (s->key != NULL)
		return s->value;
	*s = (struct strmap_slot){k, (uint32_t)len, h, value};
	m->n++;
	return -1;
}

void
strmap_free(struct strmap *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}
