/*
 * bench_intake: a load generator for the bridge socket (hotline111-bridge(7)).
 *
 *   bench_intake -S SOCKET [-n EVENTS] [-r RATE] [-d SECONDS] [-c CONNECTIONS]
 *                [-w WINDOW] [--prefix P] [--client NAME] [--token SECRET]
 *                [-t IDLE_TIMEOUT] [-v]
 *
 * Opens CONNECTIONS connections, reads each hello, and sends a realistic
 * mix of events: per call call.offered (caller, province, IVR digits),
 * call.answered, ticket.created (a ~300-byte Vietnamese text), ticket.updated
 * (a note), call.ended, ticket.closed. The events of one call go in order on
 * one connection; ids carry a prefix so that runs never collide.
 *
 * Full speed (no -r): each connection keeps up to WINDOW events unacked
 * (closed loop); latency runs from the moment an event is handed to the
 * socket to the moment its ack is read.
 *
 * Fixed rate (-r RATE events/s over all connections): open loop. Event g is
 * due at t0 + g/RATE whatever the acks do, and its latency runs from that
 * scheduled time, so a stall of the daemon shows up in full in the figures
 * (no coordinated omission) even when the sender is held up behind it.
 *
 * Every reply must be the ack of the expected id, in order, and not a dup;
 * a nack, a mismatch, a dup, a closed connection or no progress for
 * IDLE_TIMEOUT seconds ends the run with exit status 1. Output: one line for
 * people, then one line for scripts:
 *
 *   RESULT mode=full events=N seconds=S eps=E p50_ms=… p90_ms=… p99_ms=… max_ms=…
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "xmalloc.h"

#define EVENTS_PER_CALL 6
#define EVENT_MAX 2048 /* bytes of one generated line */

struct pending {
	uint64_t seq;  /* the connection's event number: the id is derived from it */
	double t_ref;  /* scheduled (fixed rate) or handed to the socket (full speed) */
};

struct conn {
	int idx;
	int fd;
	char *out;               /* bytes not yet written */
	size_t out_off, out_len, out_cap;
	char *in;                /* bytes read, not yet a whole line */
	size_t in_len, in_cap;
	struct pending *ring;    /* sent, not yet acked, oldest first */
	size_t r_head, r_count, r_cap;
	uint64_t quota;          /* events this connection sends in all */
	uint64_t sent, acked;
	int want_welcome;
};

struct opts {
	const char *socket;
	uint64_t events;
	double rate;             /* 0: full speed */
	double duration;
	int conns;
	int window;
	const char *prefix;
	const char *client;
	const char *token;
	double idle_timeout;
	int verbose;
};

static struct opts o = {
	.events = 60000,
	.conns = 4,
	.window = 256,
	.idle_timeout = 60,
};
static char prefix_buf[64];
static struct conn *conns;
static double *lat;              /* ms, one per acked event */
static uint64_t nlat;
static uint64_t prio_count[6];
static double last_progress;

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_intake: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the events -------------------------------------------------------- */

static const char *const provinces[] = {
	"Hà Nội", "TP. Hồ Chí Minh", "Thanh Hóa", "Nghệ An", "Đồng Nai", "Hải Phòng",
	"Đà Nẵng", "Cần Thơ", "Bắc Giang", "Quảng Ninh", "Đắk Lắk", "Lào Cai",
};
static const char *const operators[] = { "lan", "minh", "huong", "tuan", "thu", "nam" };
/* Most callers choose counselling (2); 1 is "a child in danger now", 3 the
 * anti-trafficking branch in the shipped rules. */
static const char *const ivrs[] = { "[\"2\"]", "[\"2\"]", "[\"2\"]", "[\"2\"]",
	"[\"1\"]", "[\"3\"]", "[\"2\",\"1\"]", "[\"2\"]" };
static const char *const queues[] = { "tu-van", "khan-cap", "tu-van", "tu-van" };
static const char *const causes[] = { "normal_clearing", "normal_clearing", "user_busy",
	"originator_cancel" };
static const char *const outcomes[] = { "counselled", "referred", "resolved", "no_action",
	"counselled", "referred" };

/* Ticket texts as operators type them, about 300 bytes of UTF-8 each. */
static const struct {
	const char *text, *category;
	int age;
} tickets[] = {
	{ "Cháu gái 12 tuổi gọi đến, kể rằng bị người hàng xóm xâm hại tình dục nhiều lần "
	  "khi bố mẹ đi làm vắng. Cháu rất sợ, không dám nói với ai, đang khóc và xin giúp "
	  "đỡ. Tư vấn viên đã trấn an và hỏi địa chỉ.", "abuse.sexual", 12 },
	{ "Mẹ của một bé trai 9 tuổi phản ánh con bị bạn cùng lớp đánh, bắt nạt ở trường suốt "
	  "hai tháng, có vết bầm ở tay và lưng. Giáo viên chủ nhiệm chưa xử lý. Gia đình đề "
	  "nghị hỗ trợ làm việc với nhà trường.", "violence.school", 9 },
	{ "Người dân báo có hai em nhỏ tắm ở ao gần nhà, một em bị đuối nước đã được vớt lên, "
	  "đang đưa đi trạm y tế xã. Cần kết nối ngay với công an và y tế địa phương để hỗ "
	  "trợ gia đình và các em.", NULL, 7 },
	{ "Cuộc gọi hỏi thông tin về thủ tục làm giấy khai sinh cho con khi bố mẹ chưa đăng ký "
	  "kết hôn. Tư vấn viên đã hướng dẫn các bước cần làm, giấy tờ cần mang theo và số "
	  "điện thoại của UBND phường.", "info", -1 },
	{ "Em 15 tuổi kể bị cha dượng đánh đập, chửi mắng mỗi khi say rượu, có lần bị đuổi ra "
	  "khỏi nhà lúc nửa đêm. Em muốn đến ở nhà bà ngoại nhưng sợ mẹ buồn. Cần đánh giá "
	  "mức độ an toàn của em.", NULL, 15 },
	{ "Một người lạ trên mạng xã hội dụ dỗ em gái 13 tuổi gửi ảnh nhạy cảm và đe dọa sẽ "
	  "tung lên mạng nếu em không gửi thêm. Gia đình đã chụp lại tin nhắn và muốn trình "
	  "báo công an.", "online", 13 },
};
static const char *const notes[] = {
	"Đã liên hệ cán bộ bảo vệ trẻ em cấp xã, hẹn đến thăm gia đình trong ngày mai.",
	"Gọi lại cho người báo tin, cháu đã an toàn, đang ở với bà ngoại.",
	"Đã chuyển thông tin cho công an huyện và phòng Lao động - Thương binh và Xã hội.",
	"Phụ huynh đồng ý gặp tư vấn viên tâm lý vào thứ Năm.",
};

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The time now as RFC 3339 in Vietnam's zone, with milliseconds. */
static void
rfc3339_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	time_t t;
	char head[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec + 7 * 3600;
	gmtime_r(&t, &tm);
	strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ld+07:00", head, ts.tv_nsec / 1000000);
}

static void
id_of(char *buf, size_t len, int conn, uint64_t seq)
{
	snprintf(buf, len, "%s-%d-%" PRIu64, o.prefix, conn, seq);
}

/* Event seq of connection c, as one line with its newline; returns its length. */
static int
gen_event(char *buf, size_t len, int c, uint64_t seq)
{
	uint64_t call = seq / EVENTS_PER_CALL, h = mix(((uint64_t)c << 48) ^ call);
	int step = (int)(seq % EVENTS_PER_CALL), n;
	char id[160], ts[64];
	const char *op = operators[(h >> 8) % NITEMS(operators)];
	unsigned t = (unsigned)((h >> 16) % NITEMS(tickets));

	id_of(id, sizeof(id), c, seq);
	rfc3339_now(ts, sizeof(ts));
	switch (step) {
	case 0:
		n = snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"call.offered\",\"ts\":\"%s\","
		    "\"call_id\":\"%s-c%d-%" PRIu64 "\",\"caller\":\"+849%08" PRIu64 "\","
		    "\"line\":\"111\",\"queue\":\"%s\",\"ivr\":%s,\"province\":\"%s\","
		    "\"lang\":\"vi\"}\n", id, ts, o.prefix, c, call,
		    /* some callers call again */
		    (h >> 24) % 50000000, queues[(h >> 4) % NITEMS(queues)],
		    ivrs[(h >> 12) % NITEMS(ivrs)], provinces[(h >> 32) % NITEMS(provinces)]);
		break;
	case 1:
		n = snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"call.answered\",\"ts\":\"%s\","
		    "\"call_id\":\"%s-c%d-%" PRIu64 "\",\"operator\":\"%s\"}\n", id, ts, o.prefix,
		    c, call, op);
		break;
	case 2: {
		char extra[96] = "";
		if (tickets[t].category != NULL)
			snprintf(extra, sizeof(extra), ",\"category\":\"%s\"", tickets[t].category);
		if (tickets[t].age >= 0)
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			    ",\"child_age\":%d,\"child_gender\":\"%s\"", tickets[t].age,
			    (h & 1) ? "nữ" : "nam");
		n = snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"ticket.created\",\"ts\":\"%s\","
		    "\"ticket_id\":\"%s-t%d-%" PRIu64 "\",\"call_id\":\"%s-c%d-%" PRIu64 "\","
		    "\"operator\":\"%s\",\"text\":\"%s\"%s,\"province\":\"%s\"}\n", id, ts,
		    o.prefix, c, call, o.prefix, c, call, op, tickets[t].text, extra,
		    provinces[(h >> 32) % NITEMS(provinces)]);
		break;
	}
	case 3:
		n = snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"ticket.updated\",\"ts\":\"%s\","
		    "\"ticket_id\":\"%s-t%d-%" PRIu64 "\",\"operator\":\"%s\",\"text\":\"%s\","
		    "\"tags\":[\"followup\"]}\n", id, ts, o.prefix, c, call, op,
		    notes[(h >> 40) % NITEMS(notes)]);
		break;
	case 4:
		n = snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"call.ended\",\"ts\":\"%s\","
		    "\"call_id\":\"%s-c%d-%" PRIu64 "\",\"duration_s\":%" PRIu64 ","
		    "\"cause\":\"%s\"}\n", id, ts, o.prefix, c, call, 30 + (h >> 44) % 900,
		    causes[(h >> 50) % NITEMS(causes)]);
		break;
	default: {
		const char *oc = outcomes[(h >> 52) % NITEMS(outcomes)];
		n = snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"ticket.closed\",\"ts\":\"%s\","
		    "\"ticket_id\":\"%s-t%d-%" PRIu64 "\",\"outcome\":\"%s\"%s}\n", id, ts,
		    o.prefix, c, call, oc,
		    strcmp(oc, "referred") == 0 ? ",\"referred_to\":\"Công an huyện\"" : "");
		break;
	}
	}
	if (n < 0 || (size_t)n >= len)
		die("event %" PRIu64 " longer than %zu bytes", seq, len);
	return n;
}

/* --- connections ------------------------------------------------------- */

static void
out_append(struct conn *c, const char *s, size_t n)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		while (c->out_len + n > c->out_cap)
			c->out_cap = c->out_cap ? c->out_cap * 2 : 65536;
		c->out = xreallocarray(c->out, c->out_cap, 1);
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
}

static void
ring_push(struct conn *c, uint64_t seq, double t_ref)
{
	if (c->r_count == c->r_cap) {
		size_t cap = c->r_cap ? c->r_cap * 2 : 1024;
		struct pending *r = xcalloc(cap, sizeof(*r));
		for (size_t i = 0; i < c->r_count; i++)
			r[i] = c->ring[(c->r_head + i) % c->r_cap];
		free(c->ring);
		c->ring = r;
		c->r_cap = cap;
		c->r_head = 0;
	}
	c->ring[(c->r_head + c->r_count) % c->r_cap] = (struct pending){ seq, t_ref };
	c->r_count++;
}

static void
send_event(struct conn *c, double t_ref)
{
	char line[EVENT_MAX];
	int n = gen_event(line, sizeof(line), c->idx, c->sent);

	out_append(c, line, (size_t)n);
	ring_push(c, c->sent, t_ref);
	c->sent++;
}

static void
flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			die("connection %d: write: %s", c->idx, strerror(errno));
		}
		c->out_off += (size_t)w;
	}
}

/* One reply line: must answer the oldest event in flight. */
static void
on_reply(struct conn *c, const char *line, size_t len, double now)
{
	json_error_t err;
	json_t *r = json_loadb(line, len, 0, &err), *v;
	char want[160];

	if (r == NULL || !json_is_object(r))
		die("connection %d: reply is not a JSON object: %.*s", c->idx, (int)len, line);
	if (c->want_welcome) {
		if (json_object_get(r, "welcome") == NULL)
			die("connection %d: hello refused: %.*s", c->idx, (int)len, line);
		c->want_welcome = 0;
		json_decref(r);
		return;
	}
	if (json_object_get(r, "nack") != NULL)
		die("connection %d: nack after %" PRIu64 " acks: %.*s", c->idx, c->acked, (int)len,
		    line);
	if (c->r_count == 0)
		die("connection %d: reply with nothing in flight: %.*s", c->idx, (int)len, line);
	id_of(want, sizeof(want), c->idx, c->ring[c->r_head].seq);
	v = json_object_get(r, "ack");
	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
		die("connection %d: expected the ack of %s, got: %.*s", c->idx, want, (int)len,
		    line);
	if (!json_is_integer(json_object_get(r, "case")))
		die("connection %d: ack without a case: %.*s", c->idx, (int)len, line);
	if (json_is_true(json_object_get(r, "dup")))
		die("connection %d: %s acked as a dup: ids collide with an earlier run "
		    "(use another --prefix)", c->idx, want);
	v = json_object_get(r, "priority");
	if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 4)
		prio_count[json_integer_value(v)]++;
	lat[nlat++] = (now - c->ring[c->r_head].t_ref) * 1e3;
	c->r_head = (c->r_head + 1) % c->r_cap;
	c->r_count--;
	c->acked++;
	last_progress = now;
	json_decref(r);
}

static void
read_in(struct conn *c, double now)
{
	for (;;) {
		ssize_t n;
		size_t start = 0;
		char *nl;

		if (c->in_cap - c->in_len < 65536) {
			c->in_cap = c->in_cap ? c->in_cap * 2 : 262144;
			c->in = xreallocarray(c->in, c->in_cap, 1);
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			die("connection %d: read: %s", c->idx, strerror(errno));
		}
		if (n == 0)
			die("connection %d: closed by the daemon after %" PRIu64 " acks", c->idx,
			    c->acked);
		c->in_len += (size_t)n;
		while ((nl = memchr(c->in + start, '\n', c->in_len - start)) != NULL) {
			size_t len = (size_t)(nl - (c->in + start));
			on_reply(c, c->in + start, len, now);
			start += len + 1;
		}
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
}

/* Connects, reads the hello (blocking, bounded), then goes non-blocking. */
static void
conn_open(struct conn *c, int idx)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[512];
	size_t got = 0;
	json_t *h;
	struct pollfd p;

	memset(c, 0, sizeof(*c));
	c->idx = idx;
	if (strlen(o.socket) >= sizeof(sa.sun_path))
		die("socket path too long: %s", o.socket);
	strcpy(sa.sun_path, o.socket);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s: %s", o.socket, strerror(errno));
	p = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	while (got == 0 || memchr(buf, '\n', got) == NULL) {
		ssize_t n;
		if (poll(&p, 1, 10000) <= 0)
			die("connection %d: no hello from the daemon within 10 s", idx);
		n = read(c->fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			die("connection %d: closed before the hello", idx);
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			die("connection %d: hello line too long", idx);
	}
	buf[got] = '\0';
	*strchr(buf, '\n') = '\0';
	h = json_loads(buf, 0, NULL);
	if (h == NULL || !json_is_string(json_object_get(h, "hello")) ||
	    json_integer_value(json_object_get(h, "proto")) != 1)
		die("connection %d: unexpected hello: %s", idx, buf);
	json_decref(h);
	/* Whatever followed the hello line is kept. */
	c->in_cap = 262144;
	c->in = xmalloc(c->in_cap);
	c->in_len = got - (strlen(buf) + 1);
	memcpy(c->in, buf + strlen(buf) + 1, c->in_len);
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
	if (o.client != NULL) {
		json_t *m = json_pack("{s:s, s:s}", "type", "hello", "client", o.client);
		char *s;
		if (o.token != NULL)
			json_object_set_new(m, "token", json_string(o.token));
		s = json_dumps(m, JSON_COMPACT);
		out_append(c, s, strlen(s));
		out_append(c, "\n", 1);
		free(s);
		json_decref(m);
		c->want_welcome = 1;
	}
}

/* --- the run ----------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double q)
{
	uint64_t i;

	if (nlat == 0)
		return 0;
	/* nearest rank: the smallest value with at least q of the sample at or below it */
	i = (uint64_t)(q * (double)nlat);
	if ((double)i < q * (double)nlat)
		i++;
	return lat[i == 0 ? 0 : i - 1];
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench_intake -S SOCKET [-n EVENTS] [-r RATE] [-d SECONDS] [-c CONNECTIONS]\n"
	    "                    [-w WINDOW] [--prefix P] [--client NAME] [--token SECRET]\n"
	    "                    [-t IDLE_TIMEOUT] [-v]\n"
	    "  -n EVENTS      events in all (default 60000; with -r and -d: RATE * SECONDS)\n"
	    "  -r RATE        fixed rate in events/s over all connections (open loop);\n"
	    "                 without it, full speed (closed loop, WINDOW per connection)\n"
	    "  -c CONNECTIONS connections (default 4)\n"
	    "  -w WINDOW      unacked events per connection at full speed (default 256)\n"
	    "  --prefix P     id prefix (default bench-PID-TIME), unique per run\n"
	    "  --client NAME  send a hello naming the client (and --token SECRET)\n"
	    "  -t SECONDS     fail when no ack arrives for this long (default 60)\n"
	    "  -v             progress on stderr every second\n");
	exit(2);
}

static double
num_arg(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= 0))
		die("%s: not a number: %s", what, s);
	return v;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "prefix", required_argument, NULL, 'P' },
		{ "client", required_argument, NULL, 'C' },
		{ "token", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, n_given = 0;

	while ((ch = getopt_long(argc, argv, "S:n:r:d:c:w:t:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'S': o.socket = optarg; break;
		case 'n': o.events = (uint64_t)num_arg(optarg, "-n"); n_given = 1; break;
		case 'r': o.rate = num_arg(optarg, "-r"); break;
		case 'd': o.duration = num_arg(optarg, "-d"); break;
		case 'c': o.conns = (int)num_arg(optarg, "-c"); break;
		case 'w': o.window = (int)num_arg(optarg, "-w"); break;
		case 't': o.idle_timeout = num_arg(optarg, "-t"); break;
		case 'P': o.prefix = optarg; break;
		case 'C': o.client = optarg; break;
		case 'T': o.token = optarg; break;
		case 'v': o.verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc || o.socket == NULL || o.conns < 1 || o.conns > 1000 ||
	    o.window < 1)
		usage();
	if (o.rate > 0 && o.duration > 0 && !n_given)
		o.events = (uint64_t)(o.rate * o.duration + 0.5);
	if (o.events == 0)
		die("no events to send");
	if (o.token != NULL && o.client == NULL)
		die("--token needs --client");
	if (o.prefix == NULL) {
		snprintf(prefix_buf, sizeof(prefix_buf), "bench-%ld-%ld", (long)getpid(),
		    (long)time(NULL));
		o.prefix = prefix_buf;
	}
	if (strlen(o.prefix) > 64)
		die("--prefix: at most 64 bytes");
}

int
main(int argc, char **argv)
{
	struct pollfd *pfd;
	double t0, t_end, next_report, sched_lag_max = 0, last_t = 0;
	uint64_t next_g = 0, acked_total = 0, last_acked = 0;
	int full;

	parse_args(argc, argv);
	full = o.rate <= 0;
	signal(SIGPIPE, SIG_IGN);
	conns = xcalloc((size_t)o.conns, sizeof(*conns));
	pfd = xcalloc((size_t)o.conns, sizeof(*pfd));
	lat = xcalloc(o.events, sizeof(*lat));
	for (int i = 0; i < o.conns; i++) {
		conn_open(&conns[i], i);
		conns[i].quota = o.events / (uint64_t)o.conns + ((uint64_t)i < o.events % (uint64_t)o.conns);
	}

	t0 = now_s();
	last_progress = t0;
	next_report = t0 + 1;
	while (acked_total < o.events) {
		double now = now_s(), timeout_s;
		struct timespec tmo;
		int rc;

		/* Send what is due. */
		if (full) {
			for (int i = 0; i < o.conns; i++) {
				struct conn *c = &conns[i];
				while (c->sent < c->quota && c->r_count < (size_t)o.window)
					send_event(c, now);
			}
		} else {
			while (next_g < o.events) {
				double due = t0 + (double)next_g / o.rate;
				if (due > now)
					break;
				if (now - due > sched_lag_max)
					sched_lag_max = now - due;
				send_event(&conns[next_g % (uint64_t)o.conns], due);
				next_g++;
			}
		}
		for (int i = 0; i < o.conns; i++) {
			flush_out(&conns[i]);
			pfd[i] = (struct pollfd){ .fd = conns[i].fd,
				.events = POLLIN | (conns[i].out_off < conns[i].out_len ? POLLOUT : 0) };
		}

		/* Wait for replies, writability or the next due event. */
		timeout_s = 0.25;
		if (!full && next_g < o.events) {
			double due = t0 + (double)next_g / o.rate - now_s();
			timeout_s = due < 0 ? 0 : (due < timeout_s ? due : timeout_s);
		}
		tmo.tv_sec = (time_t)timeout_s;
		tmo.tv_nsec = (long)((timeout_s - (double)tmo.tv_sec) * 1e9);
		rc = ppoll(pfd, (nfds_t)o.conns, &tmo, NULL);
		if (rc < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		now = now_s();
		for (int i = 0; rc > 0 && i < o.conns; i++) {
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				uint64_t before = conns[i].acked;
				read_in(&conns[i], now);
				acked_total += conns[i].acked - before;
			}
		}
		if (now - last_progress > o.idle_timeout)
			die("no ack for %.0f s: %" PRIu64 " of %" PRIu64 " acked", o.idle_timeout,
			    acked_total, o.events);
		if (o.verbose && now >= next_report) {
			uint64_t inflight = 0;
			for (int i = 0; i < o.conns; i++)
				inflight += conns[i].r_count;
			double worst = 0;
			for (uint64_t k = last_acked; k < nlat; k++)
				worst = lat[k] > worst ? lat[k] : worst;
			fprintf(stderr, "  %6.1f s  %9" PRIu64 " acked  %7.0f acks/s  %6" PRIu64
			    " in flight  max %7.2f ms\n", now - t0, acked_total,
			    (double)(acked_total - last_acked) / (now - (last_t ? last_t : t0)),
			    inflight, worst);
			last_acked = acked_total;
			last_t = now;
			next_report += 1;
		}
	}
	t_end = now_s();

	qsort(lat, nlat, sizeof(*lat), cmp_double);
	{
		double secs = t_end - t0, eps = (double)o.events / secs;
		char mode[64];

		if (full)
			snprintf(mode, sizeof(mode), "full speed");
		else
			snprintf(mode, sizeof(mode), "at %.0f/s", o.rate);
		printf("intake %s: %" PRIu64 " events in %.2f s = %.0f events/s durable; "
		    "ack latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f "
		    "(%d connections, %s %d; priorities 1/2/3/4: %" PRIu64 "/%" PRIu64 "/%" PRIu64
		    "/%" PRIu64 ")\n",
		    mode, o.events, secs, eps,
		    pct(0.50), pct(0.90), pct(0.99), lat[nlat - 1], o.conns,
		    full ? "window" : "sender lag max ms", full ? o.window :
		    (int)(sched_lag_max * 1e3 + 0.5), prio_count[1], prio_count[2],
		    prio_count[3], prio_count[4]);
		if (full)
			printf("RESULT mode=full");
		else
			printf("RESULT mode=rate rate=%.0f", o.rate);
		printf(" events=%" PRIu64 " seconds=%.3f eps=%.0f p50_ms=%.3f p90_ms=%.3f "
		    "p99_ms=%.3f max_ms=%.3f conns=%d window=%d send_lag_max_ms=%.3f\n",
		    o.events, secs, eps, pct(0.50), pct(0.90), pct(0.99), lat[nlat - 1], o.conns,
		    full ? o.window : 0, sched_lag_max * 1e3);
	}
	for (int i = 0; i < o.conns; i++) {
		close(conns[i].fd);
		free(conns[i].out);
		free(conns[i].in);
		free(conns[i].ring);
	}
	free(conns);
	free(pfd);
	free(lat);
	return 0;
}
