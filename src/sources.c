/* sources.c: client connections to PBXs, with reconnect and backoff. */
#include "sources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "pbx.h"
#include "protocol.h"
#include "store.h"
#include "xmalloc.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define PENDING_MAX 4096 /* events of one source not yet stored before reading pauses */

enum src_state { SRC_DOWN, SRC_CONNECTING, SRC_UP };
static const char *const state_names[] = { "down", "connecting", "up" };

struct source {
	struct sources *all;
	char *name;   /* "ami:pbx1", "ami:tcp:127.0.0.1:5038": prefix of its ids and log lines */
	struct pbx_source *cfg; /* a copy: a reload frees the config it came from */
	const struct pbx_adapter *ad;
	void *pa; /* the adapter's state, kept across connections */
	struct bufferevent *bev;
	struct event *retry;
	enum src_state state;
	int backoff_ms;
	char last_error[160]; /* the condition last logged ("" when up) */
	int said;
	int up; /* said SRC_UP for this connection */
	size_t pending;
	size_t events;
};

struct sources {
	struct event_base *base;
	struct store *store;
	store_decide_fn *decide;
	void *decide_arg;
	struct source *v;
	int n;
	int paused;
	int stopped;
	struct proto_limits limits;
};

/* The event in the store, owned by its source until stored. */
struct src_item {
	struct store_item item;
	struct source *src;
};

static void src_connect(struct source *src);

static void
update_reading(struct source *src)
{
	if (src->bev == NULL)
		return;
	if (!src->all->paused && !src->all->stopped && src->pending < PENDING_MAX)
		bufferevent_enable(src->bev, EV_READ);
	else
		bufferevent_disable(src->bev, EV_READ);
}

static void
stored(struct store_item *item, const struct store_result *res)
{
	struct src_item *si = (struct src_item *)item;
	struct source *src = si->src;

	if (res->error != PROTO_OK)
		log_warn("source %s: event %s refused: %s", src->name, item->ev.id,
		    res->detail ? res->detail : protocol_error_name(res->error));
	protocol_event_clear(&item->ev);
	json_decref(item->triage);
	free(si);
	src->pending--;
	update_reading(src);
}

/* Every mapped event passes the bridge's own validation before it is stored. */
static void
submit(struct source *src, json_t *obj)
{
	struct src_item *si = xcalloc(1, sizeof(*si));
	struct proto_fail fail;

	if (store_item_parse(&si->item, obj, &src->all->limits, &fail) != 0) {
		log_warn("source %s: dropped an event that does not validate: %s: %s", src->name,
		    protocol_error_name(fail.code), fail.detail);
		metrics_refused(METRICS_INVALID, fail.code);
		free(si);
		return;
	}
	si->src = src;
	si->item.client = src->name;
	si->item.done = stored;
	store_stamp(&si->item);
	if (src->all->decide != NULL)
		si->item.triage = src->all->decide(&si->item.ev, src->all->decide_arg);
	src->pending++;
	src->events++;
	store_submit(src->all->store, &si->item);
}

/* Logged once per change of condition, never once per retry. */
static void
say(struct source *src, enum src_state state, const char *why)
{
	const char *what = state == SRC_UP ? "" : why ? why : "down";

	src->state = state;
	if (src->said && strcmp(src->last_error, what) == 0)
		return;
	src->said = 1;
	snprintf(src->last_error, sizeof(src->last_error), "%s", what);
	if (state == SRC_UP)
		log_info("source %s: connected", src->name);
	else
		log_error("source %s: %s; retrying every %d s at most", src->name, what,
		    BACKOFF_MAX_MS / 1000);
}

static void
lost(struct source *src, const char *why)
{
	struct timeval tv = { src->backoff_ms / 1000, (src->backoff_ms % 1000) * 1000 };

	if (src->bev != NULL)
		bufferevent_free(src->bev);
	src->bev = NULL;
	say(src, SRC_DOWN, why);
	if (src->all->stopped)
		return;
	evtimer_add(src->retry, &tv);
	src->backoff_ms = src->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : src->backoff_ms * 2;
}

/* After a connect and after every read: answer the PBX, note when the
 * session is up (only then is the backoff reset). */
static void
session(struct source *src)
{
	char *text;

	while ((text = src->ad->output(src->pa)) != NULL) {
		bufferevent_write(src->bev, text, strlen(text));
		free(text);
	}
	if (src->ad->ready(src->pa) && !src->up) {
		src->up = 1;
		src->backoff_ms = BACKOFF_MIN_MS;
		say(src, SRC_UP, NULL);
	}
}

/* What was mapped before a stream error is kept: the adapter vouched for it. */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct source *src = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	json_t *out = json_array();
	char err[160];
	int failed = 0;
	size_t i;
	json_t *ev;

	while (!failed && evbuffer_get_length(in) > 0) {
		size_t n = evbuffer_get_contiguous_space(in);
		failed = src->ad->feed(src->pa, (const char *)evbuffer_pullup(in, (ssize_t)n), n,
		    out, err, sizeof(err)) != 0;
		evbuffer_drain(in, n);
	}
	json_array_foreach(out, i, ev)
		submit(src, ev);
	json_decref(out);
	if (failed) {
		lost(src, err);
		return;
	}
	session(src);
	update_reading(src);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct source *src = arg;
	char why[160];

	if (what & BEV_EVENT_CONNECTED) {
		session(src);
		update_reading(src);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "the PBX closed the connection");
	else
		snprintf(why, sizeof(why), "%s", strerror(EVUTIL_SOCKET_ERROR()));
	lost(src, why);
}

static void
src_connect(struct source *src)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[160];

	if (netaddr_parse(src->cfg->connect, &ss, &len, err, sizeof(err)) != 0) {
		lost(src, err);
		return;
	}
	/* A new session (banner and login again) keeps what is known of calls,
	 * so that a call answered before a drop still gets its end. */
	src->ad->reset(src->pa);
	src->up = 0;
	src->state = SRC_CONNECTING;
	src->bev = bufferevent_socket_new(src->all->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(src->bev, read_cb, NULL, event_cb, src);
	/* libevent may have reported a failure to event_cb already (src->bev is
	 * NULL then): a second lost() would double the backoff once more */
	if (bufferevent_socket_connect(src->bev, (struct sockaddr *)&ss, (int)len) != 0 &&
	    src->bev != NULL)
		lost(src, strerror(errno));
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	src_connect(arg);
}

/* --- public ------------------------------------------------------------ */

static char *
dup_or_null(const char *v)
{
	return v != NULL ? xstrdup(v) : NULL;
}

static struct pbx_source *
copy_source(const struct pbx_source *c)
{
	struct pbx_source *d = xcalloc(1, sizeof(*d));

	d->name = dup_or_null(c->name);
	d->type = dup_or_null(c->type);
	d->connect = dup_or_null(c->connect);
	d->username = dup_or_null(c->username);
	d->secret = dup_or_null(c->secret);
	d->password = dup_or_null(c->password);
	d->ivr_variable = dup_or_null(c->ivr_variable);
	return d;
}

static void
free_source(struct pbx_source *d)
{
	if (d == NULL)
		return;
	free(d->name);
	free(d->type);
	free(d->connect);
	free(d->username);
	free(d->secret);
	free(d->password);
	free(d->ivr_variable);
	free(d);
}

/* TYPE:NAME, else TYPE:CONNECT: what its event ids begin with. */
static char *
source_name(const struct pbx_source *c)
{
	char *s;

	xasprintf(&s, "%s:%s", c->type, c->name != NULL ? c->name : c->connect);
	return s;
}

/* Two sources with one name would give two PBXs' calls the same ids. */
static int
name_taken(const struct config *cfg, int i)
{
	char *name = source_name(&cfg->sources.v[i]);
	int taken = 0;

	for (int j = 0; j < i && !taken; j++) {
		char *other = source_name(&cfg->sources.v[j]);
		taken = strcmp(name, other) == 0;
		free(other);
	}
	free(name);
	return taken;
}

int
sources_check(const struct config *cfg, char *err, size_t errlen)
{
	for (int i = 0; i < cfg->sources.n; i++) {
		const struct pbx_source *c = &cfg->sources.v[i];
		const struct pbx_adapter *ad = pbx_adapter_find(c->type);
		char why[160];

		if (name_taken(cfg, i)) {
			snprintf(err, errlen, "sources: two %s sources named \"%s\": give each a "
			    "name of its own", c->type, c->name != NULL ? c->name : c->connect);
			return -1;
		}
		if (ad == NULL) {
			snprintf(err, errlen, "sources: unknown type \"%s\"", c->type);
			return -1;
		}
		if (ad->check(c, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "sources: %s %s: %s", c->type, c->connect, why);
			return -1;
		}
	}
	return 0;
}

struct sources *
sources_new(struct event_base *base, struct store *st, store_decide_fn *decide, void *arg,
    const struct config *cfg, char *err, size_t errlen)
{
	struct sources *s;

	if (sources_check(cfg, err, errlen) != 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->store = st;
	s->decide = decide;
	s->decide_arg = arg;
	s->limits.max_depth = cfg->bridge_max_depth;
	s->v = xcalloc((size_t)cfg->sources.n + 1, sizeof(*s->v));
	for (int i = 0; i < cfg->sources.n; i++) {
		struct source *src = &s->v[s->n++];
		src->all = s;
		src->cfg = copy_source(&cfg->sources.v[i]);
		src->name = source_name(src->cfg);
		src->ad = pbx_adapter_find(src->cfg->type);
		src->pa = src->ad->create(src->cfg, src->name);
		src->retry = evtimer_new(base, retry_cb, src);
		src->backoff_ms = BACKOFF_MIN_MS;
	}
	return s;
}

void
sources_start(struct sources *s)
{
	for (int i = 0; i < s->n; i++)
		src_connect(&s->v[i]);
}

void
sources_pause(struct sources *s, int paused)
{
	s->paused = paused;
	for (int i = 0; i < s->n; i++)
		update_reading(&s->v[i]);
}

json_t *
sources_status(const struct sources *s)
{
	json_t *a = json_array();

	for (int i = 0; s != NULL && i < s->n; i++) {
		const struct source *src = &s->v[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "source",
		    src->name, "type", src->cfg->type, "connect", src->cfg->connect, "state",
		    state_names[src->state], "events", (json_int_t)src->events, "error",
		    src->last_error));
	}
	return a;
}

void
sources_stop(struct sources *s)
{
	s->stopped = 1;
	for (int i = 0; i < s->n; i++) {
		evtimer_del(s->v[i].retry);
		update_reading(&s->v[i]);
	}
}

/* At exit. An event the store still holds (a stop that timed out) is left
 * to the process's end: the store never calls back after this. */
void
sources_free(struct sources *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->n; i++) {
		struct source *src = &s->v[i];
		if (src->bev != NULL)
			bufferevent_free(src->bev);
		if (src->retry != NULL)
			event_free(src->retry);
		src->ad->destroy(src->pa);
		free_source(src->cfg);
		free(src->name);
	}
	free(s->v);
	free(s);
}
