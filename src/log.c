/* log.c: levelled log lines on stderr; journald adds the timestamps. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MASK_MIN_DIGITS 8 /* shorter runs are counts, ports, pids */

static enum log_level current = LOG_LVL_INFO;

static const char *const level_names[] = { "debug", "info", "warning", "error" };

/*
 * Under journald (which sets JOURNAL_STREAM) a line starts with its
 * sd-daemon(3) priority and journald adds the time; elsewhere, a terminal
 * or a file, it starts with the time.
 */
static const char *const level_prefix[] = { "<7>", "<6>", "<4>", "<3>" };
static int journal = -1;

int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0 ||
		    (i == LOG_LVL_WARN && strcmp(name, "warn") == 0)) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_set_level(enum log_level level)
{
	current = level;
}

static int
log_enabled(enum log_level level)
{
	return level >= current;
}

static const char *
now_iso(void)
{
	static char buf[40];
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ld", ts.tv_nsec / 1000000);
	return buf;
}

/*
 * Every run of LOG_MASK_MIN_DIGITS digits or more in a log line (with a '+'
 * before it) is masked as a caller number, whatever part of the line it
 * came from: an event's fields, a parser's error text, a PBX's reply.
 */
static void
mask_digit_runs(char *line)
{
	char run[64], masked[64];

	for (char *p = line; *p != '\0';) {
		size_t n = strspn(p, "0123456789"), start = p > line && p[-1] == '+';
		if (n < LOG_MASK_MIN_DIGITS) {
			p += n > 0 ? n : 1;
			continue;
		}
		if (n + start >= sizeof(run)) { /* no number is that long: all of it */
			memset(p, '*', n);
			p += n;
			continue;
		}
		memcpy(run, p - start, n + start);
		run[n + start] = '\0';
		log_mask_number(masked, sizeof(masked), run);
		memcpy(p - start, masked, n + start);
		p += n;
	}
}

static void __attribute__((format(printf, 2, 0)))
vlog(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];

	if (!log_enabled(level))
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	vsnprintf(line, sizeof(line), fmt, ap);
	mask_digit_runs(line);
	if (journal) {
		fprintf(stderr, "%shotline111d: %s: %s\n", level_prefix[level],
		    level_names[level], line);
		return;
	}
	fprintf(stderr, "%s hotline111d: %s: %s\n", now_iso(), level_names[level], line);
}

#define LOG_FN(name, level)                      \
	void name(const char *fmt, ...)          \
	{                                        \
		va_list ap;                      \
		va_start(ap, fmt);               \
		vlog(level, fmt, ap);            \
		va_end(ap);                      \
	}
LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_error, LOG_LVL_ERROR)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	current = LOG_LVL_DEBUG;
	vlog(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_escape(char *buf, size_t buflen, const char *s, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; s[i] != '\0' && i < max && o + 5 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
		else if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

/*
 * A caller number as logs may show it: a leading '+' kept, then of the rest
 * (n characters) the first 3 and the last 2 when n >= 10, the first 2 and
 * the last 2 when n >= 7, the first 2 when n >= 5, and nothing shorter: so
 * at most 5 digits of a national or international number show. Anything
 * not printable ASCII is a '*'. h111_mask() in src/sql/004_mask.sql is the
 * same function for the console: keep the two in step.
 */
char *
log_mask_number(char *buf, size_t buflen, const char *number)
{
	size_t n = number ? strlen(number) : 0, plus = n > 0 && number[0] == '+';
	size_t rest = n - plus;
	size_t keep_head = rest >= 10 ? 3 : (rest >= 5 ? 2 : 0);
	size_t keep_tail = rest >= 7 ? 2 : 0;

	if (buflen == 0)
		return buf;
	if (n >= buflen)
		n = buflen - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)number[i];
		size_t j = i - plus; /* position in the rest */
		int show = i < plus || j < keep_head || j >= rest - keep_tail;
		buf[i] = show && c >= 0x20 && c < 0x7f ? (char)c : '*';
	}
	buf[n] = '\0';
	return buf;
}
