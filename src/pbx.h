/*
 * pbx.h: what the PBX adapters (ami.c esl.c evapi.c) share.
 *
 * An adapter is the pure part of a source (sources.c): bytes in, bridge
 * event objects (hotline111-bridge(7)) and bytes to send out. No I/O, no
 * clock, no logging. sources.c owns the socket and drives one adapter per
 * configured source through struct pbx_adapter.
 *
 * The helpers below turn untrusted PBX text into values the bridge
 * protocol accepts, so that every event an adapter makes passes
 * protocol_parse(): ids cleaned and fitted, texts cleaned and cut,
 * timestamps as RFC 3339.
 */
#ifndef HOTLINE111_PBX_H
#define HOTLINE111_PBX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct pbx_source;

/* The limits of protocol.c that mapped values must respect. */
#define PBX_MAX_CALLER 64
#define PBX_MAX_STR 128
#define PBX_MAX_SECONDS 604800
#define PBX_DEFAULT_MAX_CALLS 10000

struct pbx_adapter {
	const char *type; /* its name in the config: "ami", "esl", "evapi" */
	/* 0, or -1 with err when the config entry cannot be used (missing
	 * credentials, a line break in one). */
	int (*check)(const struct pbx_source *c, char *err, size_t errlen);
	/* source is the prefix of every event id; NULL only if check fails. */
	void *(*create)(const struct pbx_source *c, const char *source);
	void (*destroy)(void *p);
	/* A new connection begins: a new session, calls in progress kept. */
	void (*reset)(void *p);
	/* Bytes as read, any split. Appends bridge event objects to out.
	 * 0; or -1 with a printable err: the connection must be dropped. */
	int (*feed)(void *p, const char *buf, size_t len, json_t *out, char *err, size_t errlen);
	/* What to send now (after connect, after each feed): malloc'd, or NULL. */
	char *(*output)(void *p);
	/* The session is up (logged in / subscribed). */
	int (*ready)(const void *p);
};

extern const struct pbx_adapter ami_adapter;
extern const struct pbx_adapter esl_adapter;
extern const struct pbx_adapter evapi_adapter;

/* The adapter for a config type, or NULL. */
const struct pbx_adapter *pbx_adapter_find(const char *type);

/* --- text ---------------------------------------------------------------- */

/* A malloc'd copy where a byte that is not UTF-8, or a control character,
 * is '?'. Never longer than s. */
char *pbx_clean(const char *s);
/* Cut to at most max bytes, never inside a UTF-8 character. */
void pbx_cut(char *s, size_t max);
uint64_t pbx_hash(const char *s);
/* In place: an id longer than PROTOCOL_MAX_ID keeps its beginning and ends
 * in '#' and 16 hex digits of a hash of the whole. Returns s. */
char *pbx_fit_id(char *s);
/* pbx_fit_id(pbx_clean(raw)). */
char *pbx_safe_id(const char *raw);
/* %XX decoded in place, and '+' as a space where form (HTML forms; not
 * FreeSWITCH). A '%' without two hex digits stays as it is; a decoded NUL
 * is '?', as a C string cannot hold it. The bytes are still untrusted:
 * what is used of them goes through pbx_clean(). Returns s. */
char *pbx_url_decode(char *s, int form);
/* Untrusted text for a log line or an error: its first line, printable
 * ASCII only, cut to fit len. dst may be src. */
void pbx_printable(char *dst, size_t len, const char *src);

/* --- time ---------------------------------------------------------------- */

/* "1783162872.204712" (seconds, optional fraction) as RFC 3339 UTC with
 * milliseconds into buf (>= 32 bytes), and as microseconds into *us unless
 * us is NULL; -1 when it is not one. */
int pbx_ts_seconds(const char *v, char *buf, size_t len, long long *us);
/* "1783162872204712" (integer microseconds, FreeSWITCH) likewise. */
int pbx_ts_micros(const char *v, char *buf, size_t len);

/* --- events -------------------------------------------------------------- */

/*
 * {"id":…,"type":TYPE,"call_id":CALL_ID[,"ts":TS]}. The id is
 * SOURCE:CALL_ID:KIND[:EXTRA], KIND the part of TYPE after the dot, fitted:
 * the same whenever the PBX says the same thing again. call_id must
 * already be safe (pbx_safe_id); ts NULL: the daemon stamps it.
 */
json_t *pbx_event_new(const char *source, const char *type, const char *call_id,
    const char *extra, const char *ts);

/* What to do with a text longer than its field allows. */
enum pbx_fit { PBX_DROP, PBX_CUT };
/* Sets name to v cleaned; v NULL or "": nothing. */
void pbx_put_text(json_t *ev, const char *name, const char *v, size_t max, enum pbx_fit fit);
/* Sets name to whole seconds written in decimal, 0..PBX_MAX_SECONDS;
 * anything else is left out. */
void pbx_put_seconds(json_t *ev, const char *name, const char *v);
/* IVR choices from a value: runs of 0-9 * # split at anything else, at
 * most 32 of at most 8; NULL when there are none. */
json_t *pbx_ivr_choices(const char *v);

/* --- calls --------------------------------------------------------------- */

/* A call an adapter remembers, by id; the fields are the adapter's. */
struct pbx_call {
	char *id;
	char *chan;   /* a leg's id, or NULL */
	char *ivr;    /* the IVR value seen, or NULL */
	char *caller; /* the caller number, or NULL */
	char *queue;
	int seen;        /* it is known to be a hotline call (it reached a queue) */
	unsigned flags;
	long long t0_us; /* e.g. when it was offered, 0: unknown */
	struct pbx_call *hnext, *older, *newer; /* pbx.c's */
};

struct pbx_calls;

struct pbx_calls *pbx_calls_new(size_t max_calls); /* 0: PBX_DEFAULT_MAX_CALLS */
void pbx_calls_free(struct pbx_calls *t);
struct pbx_call *pbx_call_find(struct pbx_calls *t, const char *id);
/* Found or made. Past max_calls the oldest is forgotten: a call whose end
 * never came must not stay for ever. */
struct pbx_call *pbx_call_get(struct pbx_calls *t, const char *id);
/* The newest call whose chan is chan, or NULL. */
struct pbx_call *pbx_call_by_chan(struct pbx_calls *t, const char *chan);
void pbx_call_forget(struct pbx_calls *t, struct pbx_call *c);
/* Replaces *field with a copy of v of at most max bytes (v NULL: NULL). */
void pbx_call_set(char **field, const char *v, size_t max);

#endif
