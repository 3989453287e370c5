/*
 * bench_fanout: how long a change takes to reach every console that tails.
 *
 *   bench_fanout -S BRIDGE_SOCKET -C CONSOLE_SOCKET [-c CONSOLES] [-r RATE]
 *                [-d SECONDS] [-t READER_THREADS] [--prefix P] [--timeline]
 *
 * Opens CONSOLES console connections that each send {"cmd":"tail"}, then
 * sends RATE events/s for SECONDS over one bridge connection, open loop
 * (event g is due at t0 + g/RATE whatever the daemon does), each a
 * ticket.created that opens a case of its own. For every event it records
 * when its ack was read and when each console read the case alert of that
 * case ({"alert":"case", "change":"event"}). One thread sends and reads the
 * acks, READER_THREADS threads read the consoles through epoll, all on
 * CLOCK_MONOTONIC: reading 200 sockets never holds an ack up, and an alert
 * is stamped when its bytes are read. (A Python reader was tried first: a
 * round over the consoles after a group commit took up to 30-50 ms of its
 * own, as much as the goal, so the figures were its and not the daemon's.)
 *
 * Prints, in ms after the event's ack: the time until every console has the
 * alert (per event, the last console), each delivery (event x console), and
 * the spread from the first console to the last; the ack's own latency from
 * the scheduled send. Then one line for scripts:
 *
 *   RESULT consoles=N rate=R events=E p50_ms=… p99_ms=… max_ms=…
 *          delivery_p50_ms=… delivery_p99_ms=… ack_p50_ms=… ack_p99_ms=…
 *
 * Exit status 1 when an event is nacked, a console is dropped or misses an
 * alert, or nothing moves for 30 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xmalloc.h"

#define LINE_MAX_BYTES 65536
#define STALL_S 30.0
#define DRAIN_S 10.0

struct console {
	int fd;
	char *in;
	size_t in_len;
	double *arrival; /* by case id; 0: not yet */
	size_t cap;
	uint64_t got; /* distinct case alerts */
	int closed;
};

struct opts {
	const char *bridge, *console, *prefix;
	int consoles, threads, timeline;
	double rate, seconds;
};

static struct opts o = {.consoles = 200, .threads = 1, .rate = 1000, .seconds = 20};
static struct console *consoles;
static uint64_t nevents;
static double t0;
static double *ack_at;   /* by event */
static int64_t *case_of; /* by event */
static atomic_uint_fast64_t acked, delivered;
static atomic_int stop, failed;
static atomic_uint_fast64_t last_progress_ms;

static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_fanout: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_fanout: FAILED: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	atomic_store(&failed, 1);
	atomic_store(&stop, 1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
progress(void)
{
	atomic_store(&last_progress_ms, (uint_fast64_t)(now_s() * 1000));
}

/* --- connections ------------------------------------------------------- */

static int
connect_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		die("%s: path too long", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

/* One line, blocking, for the greetings; the rest stays in buf. */
static char *
read_line(int fd, char *buf, size_t *len)
{
	char *nl, *line;
	ssize_t r;

	while ((nl = memchr(buf, '\n', *len)) == NULL) {
		if (*len >= LINE_MAX_BYTES)
			die("a greeting longer than %d bytes", LINE_MAX_BYTES);
		if ((r = read(fd, buf + *len, LINE_MAX_BYTES - *len)) <= 0)
			die("connection closed during the greeting");
		*len += (size_t)r;
	}
	line = xstrndup(buf, (size_t)(nl - buf));
	*len -= (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, *len);
	return line;
}

static void
send_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, s, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			die("send: %s", strerror(errno));
		}
		s += w;
		n -= (size_t)w;
	}
}

static void
console_open(struct console *c)
{
	char *line;

	c->fd = connect_unix(o.console);
	c->in = xmalloc(LINE_MAX_BYTES * 2);
	line = read_line(c->fd, c->in, &c->in_len);
	if (strstr(line, "\"hello\":\"hotline111-console\"") == NULL)
		die("not a console: %s", line);
	free(line);
	send_all(c->fd, "{\"cmd\":\"tail\",\"id\":1}\n", 22);
	line = read_line(c->fd, c->in, &c->in_len);
	if (strstr(line, "\"tailing\":true") == NULL)
		die("tail refused: %s", line);
	free(line);
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
	c->cap = nevents + 1024;
	c->arrival = xcalloc(c->cap, sizeof(double));
}

/* --- the consoles ------------------------------------------------------ */

/* A case alert of a PBX event: records when its case arrived here. */
static void
console_line(struct console *c, const char *line, double t)
{
	const char *p = line;
	long long id = -1;

	if (strstr(line, "\"alert\":\"case\"") == NULL ||
	    strstr(line, "\"change\":\"event\"") == NULL)
		return;
	while ((p = strstr(p, "\"case\":")) != NULL) {
		p += 7;
		if (*p >= '0' && *p <= '9') {
			id = strtoll(p, NULL, 10);
			break;
		}
	}
	if (id < 0)
		return;
	if ((size_t)id >= c->cap) {
		c->arrival = xreallocarray(c->arrival, (size_t)id * 2, sizeof(double));
		memset(c->arrival + c->cap, 0, ((size_t)id * 2 - c->cap) * sizeof(double));
		c->cap = (size_t)id * 2;
	}
	if (c->arrival[id] == 0) {
		c->arrival[id] = t;
		c->got++;
		atomic_fetch_add(&delivered, 1);
	}
}

static void
console_read(struct console *c)
{
	size_t start = 0;
	char *nl;
	ssize_t r;
	double t;

	for (;;) {
		r = read(c->fd, c->in + c->in_len, LINE_MAX_BYTES * 2 - c->in_len);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			c->closed = 1;
			fail("a console was closed by the daemon (%s)",
			    r < 0 ? strerror(errno) : "EOF");
			return;
		}
		t = now_s();
		c->in_len += (size_t)r;
		for (start = 0; (nl = memchr(c->in + start, '\n', c->in_len - start));) {
			*nl = '\0';
			console_line(c, c->in + start, t);
			start = (size_t)(nl - c->in) + 1;
		}
		c->in_len -= start;
		memmove(c->in, c->in + start, c->in_len);
		if (c->in_len >= LINE_MAX_BYTES)
			die("a console line longer than %d bytes", LINE_MAX_BYTES);
		progress();
	}
}

struct reader {
	int first, step;
};

static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	struct epoll_event ev, evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC), n, i;

	for (i = rd->first; i < o.consoles; i += rd->step) {
		ev.events = EPOLLIN;
		ev.data.ptr = &consoles[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, consoles[i].fd, &ev) != 0)
			die("epoll_ctl: %s", strerror(errno));
	}
	while (!atomic_load(&stop)) {
		n = epoll_wait(ep, evs, 64, 50);
		for (i = 0; i < n; i++)
			console_read(evs[i].data.ptr);
	}
	close(ep);
	return NULL;
}

/* --- the bridge -------------------------------------------------------- */

static const char *const texts[] = {
    "Mẹ của một bé trai 9 tuổi phản ánh con bị bạn cùng lớp đánh, bắt nạt ở trường suốt hai "
    "tháng, có vết bầm ở tay và lưng.",
    "Cuộc gọi hỏi thông tin về thủ tục làm giấy khai sinh cho con khi bố mẹ chưa đăng ký kết hôn.",
    "Người dân báo có hai em nhỏ tắm ở ao gần nhà, một em bị đuối nước đã được vớt lên.",
    "Em 15 tuổi kể bị cha dượng đánh đập, chửi mắng mỗi khi say rượu.",
};

static size_t
event_line(char *buf, size_t size, uint64_t g)
{
	int n = snprintf(buf, size,
	    "{\"id\":\"%s-%llu\",\"type\":\"ticket.created\",\"ticket_id\":\"%s-%llu\","
	    "\"text\":\"%s\"}\n",
	    o.prefix, (unsigned long long)g, o.prefix, (unsigned long long)g,
	    texts[g % (sizeof(texts) / sizeof(texts[0]))]);

	return (size_t)n;
}

/* An ack is {"ack":"ID","case":N,…}: acks come in the order sent. */
static void
bridge_line(const char *line, double t)
{
	uint64_t g = atomic_load(&acked);
	const char *p = strstr(line, "\"case\":");

	if (strncmp(line, "{\"ack\":", 7) != 0 || p == NULL || strstr(line, "\"dup\":true")) {
		fail("not an ack: %.200s", line);
		return;
	}
	if (g >= nevents) {
		fail("more acks than events");
		return;
	}
	case_of[g] = strtoll(p + 7, NULL, 10);
	ack_at[g] = t;
	atomic_store(&acked, g + 1);
	progress();
}

static void
bridge_read(int fd, char *in, size_t *in_len)
{
	size_t start;
	char *nl;
	ssize_t r;
	double t;

	if ((r = read(fd, in + *in_len, LINE_MAX_BYTES * 2 - *in_len)) < 0 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		fail("the daemon closed the bridge connection");
		return;
	}
	t = now_s();
	*in_len += (size_t)r;
	for (start = 0; (nl = memchr(in + start, '\n', *in_len - start));) {
		*nl = '\0';
		bridge_line(in + start, t);
		start = (size_t)(nl - in) + 1;
	}
	*in_len -= start;
	memmove(in, in + start, *in_len);
}

static void *
bridge_main(void *arg)
{
	int fd = *(int *)arg;
	char *in = xmalloc(LINE_MAX_BYTES * 2), *out = xmalloc(1 << 20), *line;
	size_t in_len = 0, out_len = 0;
	uint64_t sent = 0;
	struct pollfd p = {.fd = fd};
	double now, next;
	ssize_t w;

	line = read_line(fd, in, &in_len); /* the hello */
	free(line);
	while (!atomic_load(&stop) && atomic_load(&acked) < nevents) {
		now = now_s();
		while (sent < nevents && t0 + (double)sent / o.rate <= now &&
		       out_len + 4096 < (1 << 20))
			out_len += event_line(out + out_len, 4096, sent++);
		if (out_len > 0 && (w = send(fd, out, out_len, MSG_NOSIGNAL | MSG_DONTWAIT)) > 0) {
			memmove(out, out + w, out_len - (size_t)w);
			out_len -= (size_t)w;
		}
		next = sent < nevents ? t0 + (double)sent / o.rate : now + 0.05;
		p.events = POLLIN | (out_len > 0 ? POLLOUT : 0);
		if (poll(&p, 1, (int)ceil(fmax(0, fmin(next - now, 0.05)) * 1000)) > 0 &&
		    (p.revents & (POLLIN | POLLHUP | POLLERR)))
			bridge_read(fd, in, &in_len);
	}
	free(in);
	free(out);
	return NULL;
}

/* --- figures ----------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank on sorted values, in ms. */
static double
pct(const double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return NAN;
	k = (size_t)ceil(p / 100 * (double)n);
	return 1000 * v[k == 0 ? 0 : k - 1];
}

static void
print_row(const char *name, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("%-40s %9.2f %9.2f %9.2f %9.2f\n", name, pct(v, n, 50), pct(v, n, 90), pct(v, n, 99),
	    pct(v, n, 100));
}

/* Per second of the run: the ack and every-console figures of its events. */
static void
print_timeline(const double *every)
{
	uint64_t per = (uint64_t)o.rate, g, s, n;
	double *a = xcalloc(per, sizeof(double)), *e = xcalloc(per, sizeof(double));

	printf("\n%6s %10s %10s %10s %10s\n", "second", "ack p50", "ack p99", "every p50",
	    "every p99");
	for (s = 0; s * per < nevents; s++) {
		for (n = 0, g = s * per; g < nevents && g < (s + 1) * per; g++, n++) {
			a[n] = ack_at[g] - (t0 + (double)g / o.rate);
			e[n] = every[g];
		}
		qsort(a, n, sizeof(double), cmp_double);
		qsort(e, n, sizeof(double), cmp_double);
		printf("%6llu %10.2f %10.2f %10.2f %10.2f\n", (unsigned long long)s, pct(a, n, 50),
		    pct(a, n, 99), pct(e, n, 50), pct(e, n, 99));
	}
	free(a);
	free(e);
}

static int
report(double wall, double cpu)
{
	double *every = xcalloc(nevents, sizeof(double)),
	       *spread = xcalloc(nevents, sizeof(double));
	double *each = xcalloc(nevents * (size_t)o.consoles, sizeof(double));
	double *ack = xcalloc(nevents, sizeof(double)), lo, hi, t;
	uint64_t g, n = atomic_load(&acked), nd = 0, missing = 0;
	int k;

	for (g = 0; g < n; g++) {
		lo = INFINITY;
		hi = -INFINITY;
		for (k = 0; k < o.consoles; k++) {
			int64_t id = case_of[g];
			t = id >= 0 && (size_t)id < consoles[k].cap ? consoles[k].arrival[id] : 0;
			if (t == 0) {
				missing++;
				continue;
			}
			each[nd++] = t - ack_at[g];
			lo = fmin(lo, t);
			hi = fmax(hi, t);
		}
		every[g] = o.consoles > 0 ? hi - ack_at[g] : NAN;
		spread[g] = o.consoles > 0 ? hi - lo : NAN;
		ack[g] = ack_at[g] - (t0 + (double)g / o.rate);
	}
	printf("\nhotline111 console fan-out: %d consoles tailing, %llu events at %.0f/s "
	       "(%.0f/s achieved)\n",
	    o.consoles, (unsigned long long)n, o.rate, (double)n / wall);
	if (o.timeline && o.consoles > 0 && n == nevents)
		print_timeline(every);
	printf("%-40s %9s %9s %9s %9s\n", "ms after the event's ack", "p50", "p90", "p99", "max");
	if (o.consoles > 0) {
		print_row("every console has it (goal p99 < 50)", every, n);
		print_row("each delivery (event x console)", each, nd);
		print_row("first console to last", spread, n);
	}
	print_row("ack, from the scheduled send", ack, n);
	printf("deliveries %llu of %llu; bench CPU %.0f%% of one core over %.1f s\n",
	    (unsigned long long)nd, (unsigned long long)n * (unsigned long long)o.consoles,
	    100 * cpu / wall, wall);
	if (missing > 0 && !atomic_load(&failed))
		fail("%llu alerts never reached their console", (unsigned long long)missing);
	if (n < nevents && !atomic_load(&failed))
		fail("%llu of %llu events acked", (unsigned long long)n,
		    (unsigned long long)nevents);
	printf("RESULT consoles=%d rate=%.0f events=%llu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
	       "delivery_p50_ms=%.2f delivery_p99_ms=%.2f ack_p50_ms=%.2f ack_p99_ms=%.2f\n",
	    o.consoles, o.rate, (unsigned long long)n, pct(every, n, 50), pct(every, n, 99),
	    pct(every, n, 100), pct(each, nd, 50), pct(each, nd, 99), pct(ack, n, 50),
	    pct(ack, n, 99));
	free(every);
	free(spread);
	free(each);
	free(ack);
	return atomic_load(&failed) ? 1 : 0;
}

/* --- main -------------------------------------------------------------- */

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: bench_fanout -S BRIDGE_SOCKET -C CONSOLE_SOCKET [-c CONSOLES] "
	                "[-r RATE] [-d SECONDS] [-t READER_THREADS] [--prefix P] [--timeline]\n");
	exit(2);
}

static void
parse_opts(int argc, char **argv)
{
	enum { O_PREFIX = 256, O_TIMELINE };
	static const struct option longopts[] = {
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"timeline", no_argument, NULL, O_TIMELINE},
	    {NULL, 0, NULL, 0},
	};
	static char prefix[64];
	int ch;

	while ((ch = getopt_long(argc, argv, "S:C:c:r:d:t:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			o.bridge = optarg;
			break;
		case 'C':
			o.console = optarg;
			break;
		case 'c':
			o.consoles = atoi(optarg);
			break;
		case 'r':
			o.rate = atof(optarg);
			break;
		case 'd':
			o.seconds = atof(optarg);
			break;
		case 't':
			o.threads = atoi(optarg);
			break;
		case O_PREFIX:
			o.prefix = optarg;
			break;
		case O_TIMELINE:
			o.timeline = 1;
			break;
		default:
			usage();
		}
	}
	if (!o.bridge || !o.console || optind != argc || o.consoles < 0 || o.rate <= 0 ||
	    o.seconds <= 0 || o.threads < 1)
		usage();
	if (o.prefix == NULL) {
		snprintf(prefix, sizeof(prefix), "fan-%lx-%d", (long)time(NULL), (int)getpid());
		o.prefix = prefix;
	}
}

static double
cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
wait_for_the_end(void)
{
	uint64_t want;
	double drain = 0, now;

	for (;;) {
		usleep(10000);
		now = now_s();
		want = atomic_load(&acked) * (uint64_t)o.consoles;
		if (atomic_load(&stop) ||
		    (atomic_load(&acked) == nevents && atomic_load(&delivered) >= want))
			break;
		if (atomic_load(&acked) == nevents && drain == 0)
			drain = now + DRAIN_S;
		if ((drain > 0 && now > drain) ||
		    now - (double)atomic_load(&last_progress_ms) / 1000 > STALL_S) {
			fail("no progress: %llu acked, %llu of %llu deliveries",
			    (unsigned long long)atomic_load(&acked),
			    (unsigned long long)atomic_load(&delivered), (unsigned long long)want);
			break;
		}
	}
	atomic_store(&stop, 1);
}

int
main(int argc, char **argv)
{
	pthread_t bridge, *readers;
	struct reader *rd;
	double cpu0, wall;
	int fd, i;

	parse_opts(argc, argv);
	nevents = (uint64_t)(o.rate * o.seconds);
	ack_at = xcalloc(nevents, sizeof(double));
	case_of = xcalloc(nevents, sizeof(int64_t));
	consoles = xcalloc((size_t)o.consoles + 1, sizeof(*consoles));
	for (i = 0; i < o.consoles; i++)
		console_open(&consoles[i]);
	fprintf(stderr,
	    "== %d consoles tailing; %llu events at %.0f/s over one bridge connection\n",
	    o.consoles, (unsigned long long)nevents, o.rate);
	readers = xcalloc((size_t)o.threads, sizeof(*readers));
	rd = xcalloc((size_t)o.threads, sizeof(*rd));
	fd = connect_unix(o.bridge);
	cpu0 = cpu_self();
	t0 = now_s() + 0.1;
	progress();
	for (i = 0; i < o.threads; i++) {
		rd[i] = (struct reader){i, o.threads};
		pthread_create(&readers[i], NULL, reader_main, &rd[i]);
	}
	pthread_create(&bridge, NULL, bridge_main, &fd);
	wait_for_the_end();
	pthread_join(bridge, NULL);
	for (i = 0; i < o.threads; i++)
		pthread_join(readers[i], NULL);
	wall = now_s() - t0;
	return report(wall, cpu_self() - cpu0);
}
