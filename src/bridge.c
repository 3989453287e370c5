/*
 * bridge.c: connections of the bridge protocol. Each connection keeps a
 * queue of reply slots in the order its lines arrived; a slot is filled
 * when its event is durable (or at once for a nack or a pong), and replies
 * leave from the head only, so they are always in order.
 */
#include "bridge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "store.h"
#include "xmalloc.h"

#ifndef TAILQ_FOREACH_SAFE /* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                      \
	for ((var) = TAILQ_FIRST((head));                                \
	     (var) && ((tvar) = TAILQ_NEXT((var), field), 1); (var) = (tvar))
#endif

#define OUTPUT_MAX (1024 * 1024) /* unread replies before we stop reading */

struct slot {
	TAILQ_ENTRY(slot) entry;
	struct conn *conn;
	char *reply;       /* NULL while its event is in the store */
	struct store_item item;
};
TAILQ_HEAD(slot_queue, slot);

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct bridge *b;
	unsigned id;
	struct bufferevent *bev; /* NULL once closed */
	struct event *login_ev;  /* the hello's deadline, while tokens are set */
	const char *close_why;   /* why, once closing */
	char *client;
	int authed;
	int skipping; /* discarding the rest of an over-long line */
	int closing;  /* close once the replies are written */
	int reaping;
	int window_full; /* logged once per pause */
	struct slot_queue slots;
	size_t waiting; /* slots whose event is in the store */
	size_t nslots;  /* every reply not yet written: the window counts these */
	size_t held;    /* bytes of the replies held in slots behind a waiting one */
	size_t events;
	struct sockaddr_storage peer; /* a TCP client's address; AF_UNSPEC on a Unix socket */
};
TAILQ_HEAD(conn_list, conn);

struct listener {
	struct evconnlistener *l;
	char *spec;
};

struct bridge {
	struct event_base *base;
	struct store *store;
	store_decide_fn *decide;
	void *decide_arg;
	struct listener *listeners;
	int nlisteners;
	struct conn_list conns;
	size_t nconns;
	unsigned next_id;
	int paused;
	int stopped;
	/* reloadable */
	size_t max_line;
	size_t window;
	size_t max_clients;
	int login_timeout;
	int idle_timeout;
	size_t max_per_peer; /* 0: no limit */
	size_t peer_refused;  /* refusals by max_per_peer not yet logged */
	time_t peer_logged;   /* when the last was logged: once a second at most */
	struct proto_limits limits;
	const struct token_list *tokens; /* the running config's: replaced on reload */
};

static void process_input(struct conn *c);
static void slot_remove(struct conn *c, struct slot *s);

/* --- connection lifetime ----------------------------------------------- */

static void
conn_reap(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	TAILQ_REMOVE(&c->b->conns, c, entry);
	c->b->nconns--;
	free(c->client);
	free(c);
}

/* Freed from the loop, never inside a callback that may still use it. */
static void
conn_free_if_done(struct conn *c)
{
	if (c->bev != NULL || !TAILQ_EMPTY(&c->slots) || c->reaping)
		return;
	c->reaping = 1;
	event_base_once(c->b->base, -1, EV_TIMEOUT, conn_reap, c, NULL);
}

/* Waiting slots stay until the store answers; their replies are dropped. */
static void
conn_close(struct conn *c, const char *why)
{
	struct slot *s, *next;

	if (c->bev == NULL)
		return;
	log_info("closing bridge[%u]: %s (%zu events)", c->id, why, c->events);
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (c->login_ev != NULL)
		event_free(c->login_ev);
	c->login_ev = NULL;
	TAILQ_FOREACH_SAFE(s, &c->slots, entry, next) {
		if (s->reply != NULL)
			slot_remove(c, s);
	}
	conn_free_if_done(c);
}

/*
 * Every reply counts, an ack, a nack or a pong alike: against the window
 * while it waits to be written (behind an event still in the store), and
 * against OUTPUT_MAX with the replies written but not read.
 */
static int
may_read(const struct conn *c)
{
	return c->bev != NULL && !c->closing && !c->b->paused && !c->b->stopped &&
	    c->nslots < c->b->window &&
	    c->held + evbuffer_get_length(bufferevent_get_output(c->bev)) < OUTPUT_MAX;
}

/* Reading follows the window, the output backlog and the database. */
static void
update_reading(struct conn *c)
{
	if (c->bev == NULL)
		return;
	if (may_read(c)) {
		bufferevent_enable(c->bev, EV_READ);
		c->window_full = 0;
		return;
	}
	if (c->nslots >= c->b->window && !c->window_full++)
		log_debug("bridge[%u]: window full (%zu replies, %zu events waiting), reading "
		    "paused", c->id, c->nslots, c->waiting);
	bufferevent_disable(c->bev, EV_READ);
}

/* --- replies ----------------------------------------------------------- */

static void
slot_remove(struct conn *c, struct slot *s)
{
	TAILQ_REMOVE(&c->slots, s, entry);
	c->nslots--;
	if (s->reply != NULL)
		c->held -= strlen(s->reply);
	free(s->reply);
	free(s);
}

static void
flush_replies(struct conn *c)
{
	struct slot *s;

	while ((s = TAILQ_FIRST(&c->slots)) != NULL && s->reply != NULL) {
		if (c->bev != NULL)
			bufferevent_write(c->bev, s->reply, strlen(s->reply));
		slot_remove(c, s);
	}
}

static void
slot_fill(struct conn *c, struct slot *s, char *reply)
{
	s->reply = reply;
	c->held += strlen(reply);
}

static struct slot *
slot_new(struct conn *c, char *reply)
{
	struct slot *s = xcalloc(1, sizeof(*s));

	s->conn = c;
	TAILQ_INSERT_TAIL(&c->slots, s, entry);
	c->nslots++;
	if (reply != NULL)
		slot_fill(c, s, reply);
	return s;
}

static void
reply_now(struct conn *c, char *reply)
{
	slot_new(c, reply);
	flush_replies(c);
}

static void
nack(struct conn *c, const struct proto_fail *f)
{
	char id[80];

	log_debug("bridge[%u]: nack %s: %s%s%s", c->id, protocol_error_name(f->code), f->detail,
	    f->id[0] ? " id=" : "", f->id[0] ? log_escape(id, sizeof(id), f->id, 64) : "");
	metrics_nack(f->code);
	reply_now(c, protocol_nack(f->id, f->code, f->detail));
}

static void
slot_done(struct store_item *item, const struct store_result *res)
{
	struct slot *s = (struct slot *)((char *)item - offsetof(struct slot, item));
	struct conn *c = s->conn;

	if (res->error != PROTO_OK)
		slot_fill(c, s, protocol_nack(item->ev.id, res->error, res->detail));
	else
		slot_fill(c, s, protocol_ack(&(struct proto_ack){ .id = item->ev.id,
		    .case_id = res->case_id, .priority = res->priority,
		    .category = res->category, .rules = res->rules, .dup = res->dup,
		    .spooled = res->spooled }));
	protocol_event_clear(&item->ev);
	json_decref(item->triage);
	item->triage = NULL;
	c->waiting--;
	flush_replies(c);
	if (c->bev == NULL) {
		conn_free_if_done(c);
		return;
	}
	if (may_read(c) && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		process_input(c);
	update_reading(c);
}

/* --- lines ------------------------------------------------------------- */

static int
token_ok(const struct bridge *b, const char *client, const char *token)
{
	int ok = 0;

	if (client == NULL || token == NULL)
		return 0;
	for (int i = 0; i < b->tokens->n; i++) {
		const char *want = b->tokens->v[i].token;
		size_t n = strlen(want), m = strlen(token);
		unsigned char diff = (unsigned char)(n != m);
		/* constant time in the secret's length */
		for (size_t j = 0; j < n; j++)
			diff |= (unsigned char)(want[j] ^ (j < m ? token[j] : 0));
		ok |= strcmp(b->tokens->v[i].client, client) == 0 && diff == 0;
	}
	return ok;
}

static void
on_hello(struct conn *c, struct event *ev)
{
	char name[80];

	if (c->b->tokens->n > 0 && !token_ok(c->b, ev->client, ev->token)) {
		struct proto_fail f = { .code = PROTO_UNAUTHORIZED };
		snprintf(f.detail, sizeof(f.detail), "unknown client or wrong token");
		nack(c, &f);
		log_warn("bridge[%u]: refused hello from client \"%s\"", c->id,
		    log_escape(name, sizeof(name), ev->client ? ev->client : "", 64));
		c->closing = 1;
		return;
	}
	c->authed = 1;
	if (c->login_ev != NULL)
		event_del(c->login_ev);
	free(c->client);
	c->client = xstrdup(ev->client);
	log_info("bridge[%u]: client \"%s\"", c->id, log_escape(name, sizeof(name), c->client, 64));
	reply_now(c, protocol_welcome(c->client));
}

static void
submit(struct conn *c, struct event *ev, size_t size)
{
	struct slot *s = slot_new(c, NULL);

	s->item.ev = *ev;
	s->item.client = c->client;
	s->item.size = size;
	s->item.done = slot_done;
	store_stamp(&s->item);
	if (c->b->decide != NULL)
		s->item.triage = c->b->decide(&s->item.ev, c->b->decide_arg);
	c->waiting++;
	store_submit(c->b->store, &s->item);
}

static void
handle_line(struct conn *c, const char *line, size_t len)
{
	struct proto_fail f;
	struct event ev;

	if (protocol_parse(line, len, &c->b->limits, &ev, &f) != 0) {
		metrics_event(METRICS_INVALID, MR_NACKED);
		nack(c, &f);
		if (c->b->tokens->n > 0 && !c->authed)
			c->closing = 1;
		return;
	}
	if (ev.type == EV_HELLO) {
		on_hello(c, &ev);
		protocol_event_clear(&ev);
		return;
	}
	if (c->b->tokens->n > 0 && !c->authed) {
		struct proto_fail u = { .code = PROTO_UNAUTHORIZED };
		snprintf(u.id, sizeof(u.id), "%s", ev.id);
		snprintf(u.detail, sizeof(u.detail), "send hello with a token first");
		metrics_event((int)ev.type, MR_NACKED);
		nack(c, &u);
		c->closing = 1;
	} else if (ev.type == EV_PING) {
		metrics_event(EV_PING, MR_ACKED);
		reply_now(c, protocol_pong(ev.id));
	}
	else {
		c->events++;
		submit(c, &ev, len);
		return; /* the item owns the event now */
	}
	protocol_event_clear(&ev);
}

static void
too_long(struct conn *c)
{
	struct proto_fail f = { .code = PROTO_TOO_LONG };

	snprintf(f.detail, sizeof(f.detail), "line longer than %zu bytes", c->b->max_line);
	metrics_event(METRICS_INVALID, MR_NACKED);
	nack(c, &f);
}

/* Handles every complete line in the input while the window allows. */
static void
process_input(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (may_read(c)) {
		size_t eol_len = 0, len;
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		char *line;

		if (p.pos < 0) {
			/* No newline yet: a partial line past the limit is discarded now. */
			if (evbuffer_get_length(in) > c->b->max_line) {
				if (!c->skipping)
					too_long(c);
				c->skipping = 1;
				evbuffer_drain(in, evbuffer_get_length(in));
			}
			break;
		}
		len = (size_t)p.pos;
		if (c->skipping || len > c->b->max_line) {
			if (!c->skipping)
				too_long(c);
			c->skipping = 0;
			evbuffer_drain(in, len + eol_len);
			continue;
		}
		line = (char *)evbuffer_pullup(in, (ssize_t)(len + eol_len));
		handle_line(c, line, len);
		evbuffer_drain(in, len + eol_len);
	}
	if (c->closing && c->bev != NULL && TAILQ_EMPTY(&c->slots) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close(c, c->close_why ? c->close_why : "refused");
}

/* --- socket callbacks -------------------------------------------------- */

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	process_input(c);
	update_reading(c);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing && TAILQ_EMPTY(&c->slots)) {
		conn_close(c, c->close_why ? c->close_why : "refused");
		return;
	}
	/* The client read its replies: lines buffered meanwhile can go on. */
	if (may_read(c) && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		process_input(c);
	update_reading(c);
}

/*
 * The read timeout ran out (bridge.idle_timeout): nothing read, nothing
 * written, reading enabled all along. A connection still owed a reply is
 * waiting on us, not idle.
 */
static void
idle(struct conn *c)
{
	char why[64];

	if (c->nslots > 0 || evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		update_reading(c);
		return;
	}
	snprintf(why, sizeof(why), "idle for %d s", c->b->idle_timeout);
	conn_close(c, why);
}

static void arm_login(struct conn *c);

/* No hello within bridge.login_timeout while tokens are set. */
static void
login_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct proto_fail f = { .code = PROTO_UNAUTHORIZED };

	if (c->authed || c->bev == NULL || c->closing)
		return;
	if (c->b->paused) { /* its hello may be waiting unread: not its fault */
		arm_login(c);
		return;
	}
	snprintf(f.detail, sizeof(f.detail), "no hello within %d s", c->b->login_timeout);
	nack(c, &f);
	c->closing = 1;
	c->close_why = "no hello in time";
	update_reading(c);
}

static void
set_timeouts(struct conn *c)
{
	struct timeval tv = { c->b->idle_timeout, 0 };

	bufferevent_set_timeouts(c->bev, c->b->idle_timeout > 0 ? &tv : NULL, NULL);
}

static void
arm_login(struct conn *c)
{
	struct timeval tv = { c->b->login_timeout, 0 };

	if (c->b->tokens->n == 0)
		return;
	if (c->login_ev == NULL)
		c->login_ev = evtimer_new(c->b->base, login_cb, c);
	event_add(c->login_ev, &tv);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char why[128];

	if (what & BEV_EVENT_TIMEOUT) {
		idle(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "end of stream");
	else if (what & BEV_EVENT_ERROR)
		snprintf(why, sizeof(why), "%s", strerror(EVUTIL_SOCKET_ERROR()));
	else
		return;
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0 && !c->skipping)
		log_info("bridge[%u]: %zu bytes without a newline at close, discarded", c->id,
		    evbuffer_get_length(bufferevent_get_input(bev)));
	conn_close(c, why);
}

/* The address of a TCP peer, the port left out; AF_UNSPEC for anything else.
 * An IPv4 client of an IPv6 socket counts as its IPv4 address. */
static void
peer_key(struct sockaddr_storage *key, const struct sockaddr *sa, int salen)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	struct sockaddr_in *k4 = (struct sockaddr_in *)key;

	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET && (size_t)salen >= sizeof(struct sockaddr_in)) {
		k4->sin_family = AF_INET;
		k4->sin_addr = ((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6 && (size_t)salen >= sizeof(*s6) &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		k4->sin_family = AF_INET;
		memcpy(&k4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	} else if (sa->sa_family == AF_INET6 && (size_t)salen >= sizeof(*s6)) {
		((struct sockaddr_in6 *)key)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)key)->sin6_addr = s6->sin6_addr;
	}
}

/* Whether a TCP peer already holds bridge.max_per_peer connections, so that
 * one address cannot take every max_clients slot. */
static int
peer_full(const struct bridge *b, const struct sockaddr_storage *key)
{
	const struct conn *c;
	size_t n = 0;

	if (b->max_per_peer == 0 || key->ss_family == AF_UNSPEC)
		return 0;
	TAILQ_FOREACH(c, &b->conns, entry)
		n += c->bev != NULL && memcmp(&c->peer, key, sizeof(*key)) == 0;
	return n >= b->max_per_peer;
}

static void
refuse_busy(evutil_socket_t fd, const char *why)
{
	char *line = protocol_nack(NULL, PROTO_UNAVAILABLE, why);

	metrics_nack(PROTO_UNAVAILABLE);
	/* Best effort on a fresh socket: the line fits its send buffer. */
	if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("bridge: refusing a client: %s", strerror(errno));
	free(line);
	evutil_closesocket(fd);
}

/* Logged once a second at most: a flood of connections is not a flood of
 * log lines. */
static void
refuse_peer(struct bridge *b, evutil_socket_t fd, const struct sockaddr_storage *key)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	time_t now = time(NULL);

	b->peer_refused++;
	if (now != b->peer_logged) {
		evutil_inet_ntop(key->ss_family, key->ss_family == AF_INET ?
		    (const void *)&((const struct sockaddr_in *)key)->sin_addr :
		    (const void *)&((const struct sockaddr_in6 *)key)->sin6_addr, addr, sizeof(addr));
		log_warn("bridge: refusing a connection from %s: bridge.max_per_peer (%zu) reached "
		    "(%zu refused since the last such line)", addr, b->max_per_peer,
		    b->peer_refused);
		b->peer_logged = now;
		b->peer_refused = 0;
	}
	refuse_busy(fd, "too many connections from this address");
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct bridge *b = arg;
	struct sockaddr_storage key;
	struct conn *c;
	char *hello;

	if (b->stopped || b->nconns >= b->max_clients) {
		log_warn("bridge: refusing a connection: %s",
		    b->stopped ? "stopping" : "max_clients reached");
		refuse_busy(fd, "too many clients");
		return;
	}
	peer_key(&key, sa, salen);
	if (peer_full(b, &key)) {
		refuse_peer(b, fd, &key);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->peer = key;
	c->b = b;
	c->id = ++b->next_id;
	TAILQ_INIT(&c->slots);
	c->bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* Never buffer much more than one line that we cannot use yet. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, b->max_line + 4096);
	TAILQ_INSERT_TAIL(&b->conns, c, entry);
	b->nconns++;
	set_timeouts(c);
	arm_login(c);
	log_info("bridge[%u]: connected (%zu clients)", c->id, b->nconns);
	hello = protocol_hello();
	bufferevent_write(c->bev, hello, strlen(hello));
	free(hello);
	update_reading(c);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	/* EMFILE and friends: keep listening; the next accept may succeed. */
	log_error("bridge: accept: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

/* --- public ------------------------------------------------------------ */

struct bridge *
bridge_new(struct event_base *base, struct store *st, store_decide_fn *decide, void *arg)
{
	struct bridge *b = xcalloc(1, sizeof(*b));

	b->base = base;
	b->store = st;
	b->decide = decide;
	b->decide_arg = arg;
	TAILQ_INIT(&b->conns);
	return b;
}

int
bridge_listen(struct bridge *b, const struct config *cfg, char *err, size_t errlen)
{
	b->max_clients = (size_t)cfg->bridge_max_clients;
	bridge_configure(b, cfg);
	b->listeners = xcalloc((size_t)cfg->bridge_listen.n + 1, sizeof(*b->listeners));
	for (int i = 0; i < cfg->bridge_listen.n; i++) {
		const char *spec = cfg->bridge_listen.v[i];
		int fd = netaddr_listen(spec, 0660, err, errlen);
		struct listener *l = &b->listeners[b->nlisteners];
		if (fd < 0)
			return -1;
		l->l = evconnlistener_new(b->base, accept_cb, b, LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (l->l == NULL) {
			snprintf(err, errlen, "%s: cannot listen", spec);
			close(fd);
			return -1;
		}
		evconnlistener_set_error_cb(l->l, accept_error_cb);
		l->spec = xstrdup(spec);
		b->nlisteners++;
		log_info("bridge: listening on %s", spec);
	}
	return 0;
}

void
bridge_configure(struct bridge *b, const struct config *cfg)
{
	struct conn *c;

	b->max_line = (size_t)cfg->bridge_max_line;
	b->window = (size_t)cfg->bridge_window;
	b->limits.max_depth = cfg->bridge_max_depth;
	b->tokens = &cfg->tokens;
	b->login_timeout = cfg->bridge_login_timeout;
	b->idle_timeout = cfg->bridge_idle_timeout;
	b->max_per_peer = (size_t)cfg->bridge_max_per_peer;
	TAILQ_FOREACH(c, &b->conns, entry) {
		if (c->bev == NULL)
			continue;
		set_timeouts(c);
		bufferevent_setwatermark(c->bev, EV_READ, 0, b->max_line + 4096);
		update_reading(c);
	}
}

void
bridge_set_answers_check(struct bridge *b, proto_answers_fn *fn, void *arg)
{
	b->limits.answers_ok = fn;
	b->limits.answers_arg = arg;
}

static void
for_each_conn(struct bridge *b, void (*fn)(struct conn *))
{
	struct conn *c, *next;

	TAILQ_FOREACH_SAFE(c, &b->conns, entry, next)
		fn(c);
}

/* Lines that arrived while paused are already buffered: handle them now. */
static void
resume_conn(struct conn *c)
{
	if (may_read(c) && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		process_input(c);
	update_reading(c);
}

void
bridge_pause(struct bridge *b, int paused)
{
	b->paused = paused;
	for_each_conn(b, resume_conn);
}

void
bridge_stop(struct bridge *b)
{
	b->stopped = 1;
	for (int i = 0; i < b->nlisteners; i++) {
		evconnlistener_free(b->listeners[i].l);
		if (strncmp(b->listeners[i].spec, "unix:", 5) == 0)
			unlink(b->listeners[i].spec + 5);
		free(b->listeners[i].spec);
	}
	b->nlisteners = 0;
	for_each_conn(b, update_reading);
}

size_t
bridge_unflushed(const struct bridge *b)
{
	const struct conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &b->conns, entry) {
		n += c->waiting;
		if (c->bev != NULL)
			n += evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
	}
	return n;
}

size_t
bridge_clients(const struct bridge *b)
{
	return b->nconns;
}

static void
close_for_exit(struct conn *c)
{
	conn_close(c, "daemon stopping");
}

/* Only at exit, with the store drained: nothing waits in a slot. */
void
bridge_free(struct bridge *b)
{
	struct conn *c;

	if (b == NULL)
		return;
	bridge_stop(b);
	for_each_conn(b, close_for_exit);
	while ((c = TAILQ_FIRST(&b->conns)) != NULL) {
		struct slot *s;
		while ((s = TAILQ_FIRST(&c->slots)) != NULL) {
			TAILQ_REMOVE(&c->slots, s, entry);
			protocol_event_clear(&s->item.ev);
			json_decref(s->item.triage);
			free(s->reply);
			free(s);
		}
		TAILQ_REMOVE(&b->conns, c, entry);
		free(c->client);
		free(c);
	}
	free(b->listeners);
	free(b);
}
