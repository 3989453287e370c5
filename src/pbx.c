/*
 * pbx.c: what the PBX adapters share: untrusted PBX text made into values
 * the bridge protocol accepts, event objects with deterministic ids, and a
 * bounded table of calls in progress.
 */
#include "pbx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"
#include "xmalloc.h"

#define MAX_IVR_CHOICES 32
#define MAX_IVR_CHOICE 8
/* The last second RFC 3339's four year digits can write: 9999-12-31. */
#define MAX_EPOCH 253402300799LL
#define MAX_BUCKETS 65536

static const struct pbx_adapter *const adapters[] = { &ami_adapter, &evapi_adapter,
	&esl_adapter };

const struct pbx_adapter *
pbx_adapter_find(const char *type)
{
	for (size_t i = 0; i < sizeof(adapters) / sizeof(adapters[0]); i++) {
		if (strcmp(adapters[i]->type, type) == 0)
			return adapters[i];
	}
	return NULL;
}

/* --- text ---------------------------------------------------------------- */

/*
 * Length of the UTF-8 character at s, or 0 when it is not one that jansson
 * accepts (overlong forms, surrogates and code points past U+10FFFF are
 * refused by the second byte).
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	return len;
}

/* C0, DEL and C1: what the protocol refuses in an id. */
static int
is_control(const unsigned char *s, size_t len)
{
	if (len == 1)
		return s[0] < 0x20 || s[0] == 0x7f;
	return len == 2 && s[0] == 0xc2 && s[1] <= 0x9f;
}

/*
 * A copy that jansson and the protocol accept everywhere: a byte that is
 * not UTF-8, or a control character, becomes '?'. Never longer than s.
 */
char *
pbx_clean(const char *s)
{
	size_t n = strlen(s), i = 0, o = 0;
	char *out = xmalloc(n + 1);

	while (i < n) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t len = utf8_len(p, n - i);

		if (len == 0 || is_control(p, len)) {
			out[o++] = '?';
			i += len > 0 ? len : 1;
			continue;
		}
		memcpy(out + o, p, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	return out;
}

/* Valid UTF-8 cut to at most max bytes, never inside a character. */
void
pbx_cut(char *s, size_t max)
{
	if (strlen(s) <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}

uint64_t
pbx_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * A clean identifier fitted to PROTOCOL_MAX_ID bytes, in place. A longer
 * one keeps its beginning and ends in a hash of the whole, so that it is
 * still the same for every event of the call and still unique.
 */
char *
pbx_fit_id(char *s)
{
	char tail[18];

	if (strlen(s) <= PROTOCOL_MAX_ID)
		return s;
	snprintf(tail, sizeof(tail), "#%016llx", (unsigned long long)pbx_hash(s));
	pbx_cut(s, PROTOCOL_MAX_ID - strlen(tail));
	/* s held more than PROTOCOL_MAX_ID bytes, so the tail fits */
	strcat(s, tail);
	return s;
}

char *
pbx_safe_id(const char *raw)
{
	return pbx_fit_id(pbx_clean(raw));
}


static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
pbx_url_decode(char *s, int form)
{
	char *o = s, *start = s;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%' && (hi = hex_value(s[1])) >= 0 && (lo = hex_value(s[2])) >= 0) {
			*o++ = (hi | lo) != 0 ? (char)(hi << 4 | lo) : '?';
			s += 2;
		} else
			*o++ = form && *s == '+' ? ' ' : *s;
	}
	*o = '\0';
	return start;
}

void
pbx_printable(char *dst, size_t len, const char *src)
{
	size_t i;

	if (len == 0)
		return;
	for (i = 0; src[i] != '\0' && src[i] != '\n' && src[i] != '\r' && i + 1 < len; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/* --- time ---------------------------------------------------------------- */

static int
rfc3339(long long sec, int ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (sec > MAX_EPOCH)
		return -1;
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return 0;
}

int
pbx_ts_seconds(const char *v, char *buf, size_t len, long long *us)
{
	long long sec = 0, frac = 0;
	int n = 0;

	for (; *v >= '0' && *v <= '9'; v++, n++) {
		if (n == 12)
			return -1;
		sec = sec * 10 + (*v - '0');
	}
	if (n == 0)
		return -1;
	if (*v == '.') {
		for (n = 0, v++; *v >= '0' && *v <= '9'; v++, n++) {
			if (n < 6)
				frac = frac * 10 + (*v - '0');
		}
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (*v != '\0' || rfc3339(sec, (int)(frac / 1000), buf, len) != 0)
		return -1;
	if (us != NULL)
		*us = sec * 1000000 + frac;
	return 0;
}

int
pbx_ts_micros(const char *v, char *buf, size_t len)
{
	long long us = 0;
	int n = 0;

	for (; *v >= '0' && *v <= '9'; v++, n++) {
		if (n == 18)
			return -1;
		us = us * 10 + (*v - '0');
	}
	if (n == 0 || *v != '\0')
		return -1;
	return rfc3339(us / 1000000, (int)(us % 1000000 / 1000), buf, len);
}

/* --- events -------------------------------------------------------------- */

json_t *
pbx_event_new(const char *source, const char *type, const char *call_id, const char *extra,
    const char *ts)
{
	const char *dot = strchr(type, '.');
	const char *kind = dot != NULL ? dot + 1 : type;
	json_t *ev = json_object();
	char *id;

	if (extra != NULL)
		xasprintf(&id, "%s:%s:%s:%s", source, call_id, kind, extra);
	else
		xasprintf(&id, "%s:%s:%s", source, call_id, kind);
	json_object_set_new(ev, "id", json_string(pbx_fit_id(id)));
	json_object_set_new(ev, "type", json_string(type));
	if (ts != NULL)
		json_object_set_new(ev, "ts", json_string(ts));
	json_object_set_new(ev, "call_id", json_string(call_id));
	free(id);
	return ev;
}

void
pbx_put_text(json_t *ev, const char *name, const char *v, size_t max, enum pbx_fit fit)
{
	char *s;

	if (v == NULL || v[0] == '\0')
		return;
	s = pbx_clean(v);
	if (strlen(s) <= max || fit == PBX_CUT) {
		pbx_cut(s, max);
		json_object_set_new(ev, name, json_string(s));
	}
	free(s);
}

void
pbx_put_seconds(json_t *ev, const char *name, const char *v)
{
	long n;

	if (v == NULL || v[0] == '\0' || strspn(v, "0123456789") != strlen(v) || strlen(v) > 9)
		return;
	n = strtol(v, NULL, 10);
	if (n <= PBX_MAX_SECONDS)
		json_object_set_new(ev, name, json_integer(n));
}

/*
 * IVR choices from the variable's value: runs of 0-9 * # split at anything
 * else, so "3", "3,1" and "31" all work (the rules match the concatenated
 * digits). A run longer than a choice may be is split; past 32 choices the
 * rest is dropped.
 */
json_t *
pbx_ivr_choices(const char *v)
{
	json_t *arr = json_array();
	char choice[MAX_IVR_CHOICE + 1];
	size_t n = 0;

	for (;; v++) {
		int key = *v != '\0' && strchr("0123456789*#", *v) != NULL;

		if (key)
			choice[n++] = *v;
		if ((!key || n == MAX_IVR_CHOICE) && n > 0) {
			if (json_array_size(arr) == MAX_IVR_CHOICES)
				break;
			choice[n] = '\0';
			json_array_append_new(arr, json_string(choice));
			n = 0;
		}
		if (*v == '\0')
			break;
	}
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* --- calls --------------------------------------------------------------- */

struct pbx_calls {
	struct pbx_call **buckets; /* by id; nbuckets is a power of two */
	size_t nbuckets, n, max;
	struct pbx_call *oldest, *newest;
};

struct pbx_calls *
pbx_calls_new(size_t max_calls)
{
	struct pbx_calls *t = xcalloc(1, sizeof(*t));

	t->max = max_calls > 0 ? max_calls : PBX_DEFAULT_MAX_CALLS;
	/* chains of about eight when full: a small table to make per adapter */
	t->nbuckets = 16;
	while (t->nbuckets * 8 < t->max && t->nbuckets < MAX_BUCKETS)
		t->nbuckets *= 2;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	return t;
}

void
pbx_calls_free(struct pbx_calls *t)
{
	if (t == NULL)
		return;
	while (t->oldest != NULL)
		pbx_call_forget(t, t->oldest);
	free(t->buckets);
	free(t);
}

static struct pbx_call **
call_slot(struct pbx_calls *t, const char *id)
{
	struct pbx_call **pp = &t->buckets[pbx_hash(id) & (t->nbuckets - 1)];

	while (*pp != NULL && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

struct pbx_call *
pbx_call_find(struct pbx_calls *t, const char *id)
{
	return *call_slot(t, id);
}

struct pbx_call *
pbx_call_by_chan(struct pbx_calls *t, const char *chan)
{
	for (struct pbx_call *c = t->newest; c != NULL; c = c->older) {
		if (c->chan != NULL && strcmp(c->chan, chan) == 0)
			return c;
	}
	return NULL;
}

void
pbx_call_forget(struct pbx_calls *t, struct pbx_call *c)
{
	*call_slot(t, c->id) = c->hnext;
	if (c->older != NULL)
		c->older->newer = c->newer;
	else
		t->oldest = c->newer;
	if (c->newer != NULL)
		c->newer->older = c->older;
	else
		t->newest = c->older;
	t->n--;
	free(c->id);
	free(c->chan);
	free(c->ivr);
	free(c->caller);
	free(c->queue);
	free(c);
}

struct pbx_call *
pbx_call_get(struct pbx_calls *t, const char *id)
{
	struct pbx_call **pp = call_slot(t, id), *c;

	if (*pp != NULL)
		return *pp;
	if (t->n >= t->max) {
		pbx_call_forget(t, t->oldest);
		pp = call_slot(t, id);
	}
	c = xcalloc(1, sizeof(*c));
	c->id = xstrdup(id);
	*pp = c;
	c->older = t->newest;
	if (t->newest != NULL)
		t->newest->newer = c;
	else
		t->oldest = c;
	t->newest = c;
	t->n++;
	return c;
}

void
pbx_call_set(char **field, const char *v, size_t max)
{
	free(*field);
	/* xstrndup copies n bytes: it does not stop at the NUL */
	*field = v != NULL ? xstrndup(v, strnlen(v, max)) : NULL;
}
