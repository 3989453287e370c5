/*
 * hotline111.c: the console program. One request to hotline111d's console
 * socket, one reply printed for a person (or, with --json, for a script);
 * `tail` then prints the alerts the daemon pushes until interrupted.
 *
 * The commands are one table: their arguments, how those map onto the
 * request's members, and how the result is printed. Parsing, the usage
 * text and `help` all read it, so they cannot disagree. Nothing the daemon
 * sends is trusted: lines are bounded, JSON is checked, and every string is
 * escaped before it reaches the terminal.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
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
#include <utf8proc.h>

#include "console_proto.h"
#include "outcome.h"
#include "xmalloc.h"

#define DEFAULT_SOCKET "/run/hotline111/console.sock"
#define SOCKET_ENV "HOTLINE111_SOCKET"
#define MAX_LINE (1024 * 1024) /* the longest line taken from the daemon */
#define MAX_REQUEST 65536      /* the daemon's limit on a request line */
#define MAX_TEXT 32768         /* a note */
#define REPLY_TIMEOUT_MS 60000
#define WIDTH 100 /* tables fit in this many columns */

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_NODAEMON = 3,
	EXIT_DEGRADED = 4, /* status: every event is kept, but something needs a look */
	EXIT_FAILING = 5,  /* status: events are refused now (/healthz answers 503) */
};

enum arg_kind {
	ARG_ID,       /* a positive integer: a case, an escalation */
	ARG_PRIORITY, /* 1..4 */
	ARG_DATE,     /* YYYY-MM-DD */
	ARG_STRING,   /* one argument, not empty */
	ARG_WORDS,    /* every remaining argument, joined by spaces */
	ARG_FLAG,     /* present: true */
	ARG_CHOICE,   /* one of the words of metavar, '|' between them */
	ARG_ANSWER,   /* QUESTION=ANSWER, repeatable: a member of an object */
	ARG_PHONE,    /* a phone number: digits, + first, spaces . - ( ) */
	ARG_COUNT,    /* how many rows: 1..COUNT_MAX */
};

#define COUNT_MAX 1000

/*
 * One argument of a command. option is "--name" (an option), "name=" (a
 * NAME=VALUE setting word) or NULL (a positional, in order).
 */
struct arg {
	const char *option;
	const char *key; /* the request's member it fills */
	enum arg_kind kind;
	const char *metavar;
	int required;
};

struct command {
	const char *name;       /* these five from console_proto.h */
	enum console_role role; /* the least role the daemon asks for */
	int changes;            /* changes state (audited, published) */
	const char *keys;       /* the request's keys */
	const char *help;
	int stream;                        /* alerts follow the reply */
	struct arg args[8];                /* ends with an empty entry */
	const char *(*check)(json_t *req); /* what is wrong across arguments */
	void (*print)(json_t *result);
	int (*verdict)(json_t *result); /* the exit status a result means; NULL: 0 */
};

static const char *const role_names[] = CONSOLE_ROLE_NAMES;

struct conn {
	int fd;
	const char *path;
	int lenient; /* a close in the middle of a line is a close (tail reconnects) */
	char *buf;
	size_t start, end, scanned; /* unread bytes are buf[start..end) */
};

static const struct command *command_find(const char *name);
static const struct command *command_list(void);

static int json_out;

/* --- failing ------------------------------------------------------------ */

static void __attribute__((noreturn, format(printf, 2, 3))) die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("hotline111: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	/* A failure ends the program where it stands: what it holds then is
	 * released by the exit, and leak checkers look at the paths that finish. */
	_exit(status);
}

/* --- text for the terminal ---------------------------------------------- */

static int
is_bidi_control(utf8proc_int32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * A copy of untrusted text that is safe on a terminal, on one line:
 * control characters, line separators and bidirectional overrides come out
 * as escapes, so a note cannot move the cursor or hide a word.
 */
static char *
safe(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n * 4 + 1); /* the longest escape, \xNN, is 4 bytes for 1 */
	utf8proc_int32_t cp;
	utf8proc_ssize_t len;
	utf8proc_category_t cat;

	while (*s != '\0') {
		len = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp);
		if (len < 0) {
			o += (size_t)sprintf(out + o, "\\x%02x", (unsigned char)*s);
			s++;
			continue;
		}
		cat = utf8proc_category(cp);
		if (cp == '\n' || cp == '\t' || cp == '\r')
			o += (size_t)sprintf(out + o, "\\%c",
			    cp == '\n'   ? 'n'
			    : cp == '\t' ? 't'
			                 : 'r');
		else if (cp < 0x80 && cat == UTF8PROC_CATEGORY_CC)
			o += (size_t)sprintf(out + o, "\\x%02x", (unsigned)cp);
		else if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_ZL ||
		         cat == UTF8PROC_CATEGORY_ZP || is_bidi_control(cp))
			o += (size_t)sprintf(out + o, "\\u%04x", (unsigned)cp);
		else {
			memcpy(out + o, s, (size_t)len);
			o += (size_t)len;
		}
		s += len;
	}
	out[o] = '\0';
	return out;
}

/* Columns taken by s (already safe) on a terminal. */
static size_t
text_width(const char *s)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t len;
	size_t w = 0;

	for (; *s != '\0'; s += len) {
		len = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp);
		if (len < 0)
			return w + strlen(s);
		w += (size_t)utf8proc_charwidth(cp);
	}
	return w;
}

/* Prints s in exactly width columns: padded, or cut with "…" at the end. */
static void
put_cell(const char *s, size_t width, int right)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t len;
	size_t w = text_width(s), used = 0, i = 0, cw;

	if (w <= width) {
		if (right)
			printf("%*s", (int)(width - w), "");
		fputs(s, stdout);
		if (!right)
			printf("%*s", (int)(width - w), "");
		return;
	}
	if (width == 0)
		return;
	for (; s[i] != '\0'; i += (size_t)len) {
		len = utf8proc_iterate((const utf8proc_uint8_t *)s + i, -1, &cp);
		cw = len < 0 ? 1 : (size_t)utf8proc_charwidth(cp);
		if (len < 0)
			len = 1;
		if (used + cw > width - 1)
			break;
		used += cw;
	}
	fwrite(s, 1, i, stdout);
	fputs("\u2026", stdout);
	printf("%*s", (int)(width - 1 - used), "");
}

/* --- reading the daemon's JSON ------------------------------------------ */

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A number member as an integer; dflt when absent or not a number. */
static long long
jint(json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) > -9e18 && json_real_value(v) < 9e18)
		return (long long)json_real_value(v);
	return dflt;
}

static int
jtrue(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* An RFC 3339 time as "YYYY-MM-DD HH:MM:SS" (the daemon's zone), or as is. */
static char *
fmt_time(const char *t)
{
	static const char shape[] = "0000-00-00T00:00:00";
	char *out;
	int i;

	if (t == NULL)
		return xstrdup("-");
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == '0' ? t[i] < '0' || t[i] > '9' : t[i] != shape[i])
			return safe(t);
	xasprintf(&out, "%.10s %.8s", t, t + 11);
	return out;
}

static char *fmt_list(json_t *a, const char *sep);

/* A scalar or an array of scalars for a person; NULL for null or absent. */
static char *
fmt_value(json_t *v)
{
	char *out, *s;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return safe(json_string_value(v));
	if (json_is_integer(v)) {
		xasprintf(&out, "%lld", (long long)json_integer_value(v));
		return out;
	}
	if (json_is_real(v)) {
		xasprintf(&out, "%g", json_real_value(v));
		return out;
	}
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "yes" : "no");
	if (json_is_array(v))
		return fmt_list(v, ", ");
	s = json_dumps(v, JSON_COMPACT);
	out = safe(s ? s : "?");
	free(s);
	return out;
}

/* A list of rule names (or any strings) joined by sep, for one cell. */
static char *
fmt_list(json_t *a, const char *sep)
{
	char *out = xstrdup(""), *s, *item;
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
	{
		item = fmt_value(e);
		xasprintf(&s, "%s%s%s", out, i ? sep : "", item ? item : "-");
		free(item);
		free(out);
		out = s;
	}
	return out;
}

/* An age: 45s, 4m, 2h05m, 3d. */
static void
fmt_age(char *buf, size_t size, long long s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(buf, size, "%lldd", s / 86400);
}

/* Time left before a deadline, negative once overdue: 0:45, -12:30, 3:05:00, 2d03h. */
static void
fmt_left(char *buf, size_t size, long long s)
{
	const char *sign = s < 0 ? "-" : "";
	unsigned long long a = s < 0 ? (unsigned long long)-(s + 1) + 1 : (unsigned long long)s;

	if (a < 3600)
		snprintf(buf, size, "%s%llu:%02llu", sign, a / 60, a % 60);
	else if (a < 86400)
		snprintf(buf, size, "%s%llu:%02llu:%02llu", sign, a / 3600, a / 60 % 60, a % 60);
	else
		snprintf(buf, size, "%s%llud%02lluh", sign, a / 86400, a / 3600 % 24);
}

static void
fmt_late(char *buf, size_t size, long long ms)
{
	if (ms < 1000)
		snprintf(buf, size, "%lld ms", ms < 0 ? 0 : ms);
	else if (ms < 60000)
		snprintf(buf, size, "%lld.%lld s", ms / 1000, ms / 100 % 10);
	else
		fmt_age(buf, size, ms / 1000);
}

static void
fmt_priority(char *buf, size_t size, json_t *o, const char *key, int loud)
{
	long long p = jint(o, key, 0);

	if (p < 1 || p > 9)
		snprintf(buf, size, "P?");
	else
		snprintf(buf, size, "P%lld%s", p, loud && p == 1 ? "!!" : "");
}

/*
 * The label the rules file gives a category (a result's "labels", which an
 * older daemon does not send), safe for the terminal; NULL when there is
 * none.
 */
static char *
label_of(json_t *result, const char *category)
{
	json_t *label =
	    json_object_get(json_object_get(result, "labels"), category ? category : "");

	return json_is_string(label) ? safe(json_string_value(label)) : NULL;
}

/* Whether a result carries labels: then tables have a LABEL column. */
static int
labelled(json_t *result)
{
	return json_object_size(json_object_get(result, "labels")) > 0;
}

/* A LABEL cell: the label of o's category, "-" when it has none. */
static char *
label_cell(json_t *result, json_t *o)
{
	char *label = label_of(result, jstr(o, "category"));

	return label ? label : xstrdup("-");
}

/*
 * A table: each column as wide as its widest cell, up to its max (0: no
 * limit), numbers to the right; the last column takes what is left of
 * WIDTH and is cut to it, unpadded.
 */
struct table {
	size_t ncols;
	const char *const *heads;
	const size_t *max;
	const int *right;
};

static void
table_line(const struct table *t, const char *const *cell, const size_t *width)
{
	size_t c, last = t->ncols - 1, w = text_width(cell[last]);

	for (c = 0; c < last; c++) {
		put_cell(cell[c], width[c], t->right[c]);
		putchar(' ');
	}
	put_cell(cell[last], w < width[last] ? w : width[last], 0);
	putchar('\n');
}

/* Prints the heads and the n rows of cells, then frees the cells. */
static void
print_table(const struct table *t, char **cells, size_t n)
{
	size_t c, i, w, used = 0, width[16];

	for (c = 0; c < t->ncols; c++)
		width[c] = text_width(t->heads[c]);
	for (i = 0; i < n; i++)
		for (c = 0; c + 1 < t->ncols; c++) {
			w = text_width(cells[i * t->ncols + c]);
			if (w > width[c])
				width[c] = t->max[c] && w > t->max[c] ? t->max[c] : w;
		}
	for (c = 0; c + 1 < t->ncols; c++)
		used += width[c] + 1;
	width[t->ncols - 1] = WIDTH > used + 8 ? WIDTH - used : 8;
	table_line(t, t->heads, width);
	for (i = 0; i < n; i++)
		table_line(t, (const char *const *)cells + i * t->ncols, width);
	for (i = 0; i < n * t->ncols; i++)
		free(cells[i]);
	free(cells);
}

/* --- printers: queue ------------------------------------------------------ */

enum {
	Q_CASE,
	Q_PRI,
	Q_CATEGORY,
	Q_AGE,
	Q_NEXT,
	Q_OPERATOR,
	Q_ESC,
	Q_WHY,
	Q_ASK,
	Q_LABEL,
	Q_COLUMNS
};

static const char *const queue_heads[Q_COLUMNS] = {
    "CASE", "PRI", "CATEGORY", "AGE", "NEXT", "OPERATOR", "ESC", "WHY", "ASK", "LABEL"};
/* The widest a column may grow; WHY takes what is left of WIDTH. */
static const size_t queue_max[Q_COLUMNS] = {10, 4, 17, 6, 16, 12, 4, 0, 4, 20};
#define ASK_WIDTH 3 /* "12?": key questions a P1-P2 case has not answered */

static void
queue_cells(json_t *result, json_t *row, char **cell)
{
	json_t *next = json_object_get(row, "next");
	char buf[64];
	const char *deadline;
	char *name;

	xasprintf(&cell[Q_CASE], "%lld", jint(row, "case", 0));
	fmt_priority(buf, sizeof(buf), row, "priority", 1);
	cell[Q_PRI] = xstrdup(buf);
	cell[Q_CATEGORY] = jstr(row, "category") ? safe(jstr(row, "category")) : xstrdup("-");
	fmt_age(buf, sizeof(buf), jint(row, "age_s", 0));
	cell[Q_AGE] = xstrdup(buf);
	if (jtrue(row, "held"))
		cell[Q_NEXT] = xstrdup("held");
	else if (json_is_object(next)) {
		deadline = jstr(next, "deadline");
		fmt_left(buf, sizeof(buf), jint(next, "left_s", 0));
		name = safe(deadline ? deadline : "?");
		xasprintf(&cell[Q_NEXT], "%s %s", name, buf);
		free(name);
	} else
		cell[Q_NEXT] = xstrdup("-");
	cell[Q_OPERATOR] = jstr(row, "operator") ? safe(jstr(row, "operator")) : xstrdup("-");
	xasprintf(&cell[Q_ESC], "%lld", jint(row, "escalations", 0));
	cell[Q_WHY] = json_is_array(json_object_get(row, "rules"))
	                  ? fmt_list(json_object_get(row, "rules"), ",")
	                  : xstrdup("");
	if (json_array_size(json_object_get(row, "unanswered")) > 0)
		xasprintf(&cell[Q_ASK], "%zu?", json_array_size(json_object_get(row, "unanswered")));
	else
		cell[Q_ASK] = xstrdup("");
	cell[Q_LABEL] = label_cell(result, row);
}

/* One line of the table; WHY is cut to what is left of WIDTH, and padded
 * only when an ASK mark or a LABEL follows it. */
static void
queue_line(const char *const *cell, const size_t *width, int label)
{
	size_t c, w = text_width(cell[Q_WHY]);

	for (c = 0; c < Q_WHY; c++) {
		put_cell(cell[c], width[c], c == Q_CASE || c == Q_ESC);
		putchar(' ');
	}
	if (cell[Q_ASK][0] == '\0' && !label) {
		put_cell(cell[Q_WHY], w < width[Q_WHY] ? w : width[Q_WHY], 0);
		putchar('\n');
		return;
	}
	put_cell(cell[Q_WHY], width[Q_WHY], 0);
	putchar(' ');
	put_cell(cell[Q_ASK], ASK_WIDTH, 1);
	if (label) {
		w = text_width(cell[Q_LABEL]);
		putchar(' ');
		put_cell(cell[Q_LABEL], w < width[Q_LABEL] ? w : width[Q_LABEL], 0);
	}
	putchar('\n');
}

/* WHY takes what the other columns leave of WIDTH; a LABEL at most half of
 * what is left after ASK, so that WHY keeps some room. */
static void
queue_widths(size_t *width, int label)
{
	size_t c, used = 0, left;

	for (c = 0; c < Q_WHY; c++)
		used += width[c] + 1;
	left = WIDTH - used - (ASK_WIDTH + 1);
	if (label) {
		if (width[Q_LABEL] > left / 2)
			width[Q_LABEL] = left / 2;
		left -= width[Q_LABEL] + 1;
	}
	width[Q_WHY] = left;
}

static void
print_queue(json_t *result)
{
	json_t *rows = json_object_get(result, "cases"), *row, *none = json_object();
	size_t n = json_array_size(rows), i, c, w, width[Q_COLUMNS];
	int label = labelled(result);
	char **cells;

	if (n == 0) {
		printf("no open cases\n");
		json_decref(none);
		return;
	}
	cells = xcalloc(n * Q_COLUMNS, sizeof(char *));
	for (c = 0; c < Q_COLUMNS; c++)
		width[c] = strlen(queue_heads[c]);
	json_array_foreach(rows, i, row)
	{
		queue_cells(result, json_is_object(row) ? row : none, cells + i * Q_COLUMNS);
		for (c = 0; c < Q_COLUMNS; c++) {
			if (c == Q_WHY)
				continue;
			w = text_width(cells[i * Q_COLUMNS + c]);
			width[c] = w > width[c] ? (w < queue_max[c] ? w : queue_max[c]) : width[c];
		}
	}
	queue_widths(width, label);
	queue_line(queue_heads, width, label);
	for (i = 0; i < n; i++)
		queue_line((const char *const *)cells + i * Q_COLUMNS, width, label);
	for (i = 0; i < n * Q_COLUMNS; i++)
		free(cells[i]);
	free(cells);
	json_decref(none);
}

/* --- printers: show ------------------------------------------------------- */

/* label, member: the case's fields in the order a person reads them. */
static const char *const case_fields[][2] = {
    {"rules", "rules"},
    {"tags", "tags"},
    {"caller", "caller"},
    {"line", "line"},
    {"queue", "queue"},
    {"ivr", "ivr"},
    {"province", "province"},
    {"district", "district"},
    {"child age", "child_age"},
    {"child gender", "child_gender"},
    {"opened", "opened_at"},
    {"offered", "offered_at"},
    {"answered", "answered_at"},
    {"abandoned", "abandoned_at"},
    {"ended", "ended_at"},
    {"held since", "held_at"},
    {"outcome", "outcome"},
    {"referred to", "referred_to"},
    {"closed", "closed_at"},
};

static int
is_time_key(const char *key)
{
	size_t n = strlen(key);

	return (n > 3 && strcmp(key + n - 3, "_at") == 0) || strcmp(key, "due") == 0 ||
	       strcmp(key, "ts") == 0 || strcmp(key, "next") == 0 || strcmp(key, "at") == 0;
}

/* A member for a person: times shortened, "-" for null or absent. */
static char *
field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	char *s;

	if (json_is_string(v) && is_time_key(key))
		return fmt_time(json_string_value(v));
	s = fmt_value(v);
	return s ? s : xstrdup("-");
}

/* Multi-line text (a note, a ticket), each line escaped and indented. */
static void
print_text(const char *text, const char *indent)
{
	const char *p = text, *nl;
	char *line, *s;

	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		line = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
		s = safe(line);
		printf("%s%s\n", indent, s);
		free(s);
		free(line);
		p = nl ? nl + 1 : NULL;
	}
}

/* Prints "  a  b  c" from members of o, skipping the null ones. */
static void
print_members(json_t *o, const char *const *keys, size_t n)
{
	size_t i;
	char *s;

	for (i = 0; i < n; i++) {
		if (json_is_null(json_object_get(o, keys[i])) || !json_object_get(o, keys[i]))
			continue;
		s = field(o, keys[i]);
		printf("  %s", s);
		free(s);
	}
	printf("\n");
}

/* "case 12  P1!!  drowning (Đuối nước)  open  operator lan" */
static void
print_case_head(json_t *result, json_t *c)
{
	char pri[16], *cat = field(c, "category"), *op = field(c, "operator"),
	              *status = field(c, "status"), *label = label_of(result, jstr(c, "category"));

	fmt_priority(pri, sizeof(pri), c, "priority", 1);
	printf("case %lld  %s  %s%s%s%s  %s  %s%s\n", jint(c, "id", jint(c, "case", 0)), pri, cat,
	    label ? " (" : "", label ? label : "", label ? ")" : "", status,
	    json_is_string(json_object_get(c, "operator")) ? "operator " : "unclaimed",
	    json_is_string(json_object_get(c, "operator")) ? op : "");
	free(cat);
	free(op);
	free(status);
	free(label);
}

static void
print_case_fields(json_t *c)
{
	size_t i;
	json_t *v;
	char *s;

	for (i = 0; i < sizeof(case_fields) / sizeof(case_fields[0]); i++) {
		v = json_object_get(c, case_fields[i][1]);
		if (v == NULL || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
			continue;
		s = field(c, case_fields[i][1]);
		printf("  %-13s %s\n", case_fields[i][0], s);
		free(s);
	}
}

/* One section of show: a title, then each element as a line of members. */
static void
print_section(
    json_t *result, const char *name, const char *const *keys, size_t n, const char *text_key)
{
	json_t *list = json_object_get(result, name), *e;
	size_t i;

	if (json_array_size(list) == 0)
		return;
	printf("%s (%zu)\n", name, json_array_size(list));
	json_array_foreach(list, i, e)
	{
		if (!json_is_object(e))
			continue;
		print_members(e, keys, n);
		if (text_key && jstr(e, text_key))
			print_text(jstr(e, text_key), "      ");
	}
}

/* Each rule of a decision on a line of its own, with the words it matched
 * (folded, as the rules read them; a rule on IVR digits or age has none). */
static void
print_why(json_t *decision)
{
	json_t *why = json_object_get(decision, "why"), *r;
	size_t i;

	json_array_foreach(json_object_get(decision, "rules"), i, r)
	{
		const char *words = json_string_value(json_object_get(why, json_string_value(r)));
		char *name, *w;

		if (!json_is_string(r))
			continue;
		name = safe(json_string_value(r));
		w = safe(words ? words : "");
		printf("      %s%s%s\n", name, words ? ": " : "", w);
		free(name);
		free(w);
	}
}

/* The model's suggestion, stored in why as "@model": "      model:
 * abuse.sexual 0.81 — sờ soạng, vùng kín (applied)". */
static void
print_model(json_t *decision)
{
	json_t *m = json_object_get(json_object_get(decision, "why"), "@model"), *w;
	char *cat, *words;
	size_t i, o = 0, n = 0;

	if (!json_is_object(m) || !json_is_string(json_object_get(m, "category")))
		return;
	json_array_foreach(json_object_get(m, "words"), i, w)
		n += json_is_string(w) ? strlen(json_string_value(w)) + 2 : 0;
	words = xcalloc(1, n + 1);
	json_array_foreach(json_object_get(m, "words"), i, w)
	{
		if (!json_is_string(w))
			continue;
		o += (size_t)sprintf(words + o, "%s%s", o ? ", " : "", json_string_value(w));
	}
	cat = safe(json_string_value(json_object_get(m, "category")));
	printf("      model: %s %.2f", cat, json_number_value(json_object_get(m, "p")));
	free(cat);
	cat = safe(words);
	printf("%s%s%s\n", *cat ? " \u2014 " : "", cat,
	    json_is_true(json_object_get(m, "applied")) ? " (applied)" : "");
	free(cat);
	free(words);
}

static void
print_triage(json_t *result)
{
	json_t *list = json_object_get(result, "triage"), *e;
	char before[16], after[16], *at, *cat, *rules, *id;
	size_t i;

	if (json_array_size(list) == 0)
		return;
	printf("triage (%zu)\n", json_array_size(list));
	json_array_foreach(list, i, e)
	{
		fmt_priority(before, sizeof(before), e, "priority_before", 0);
		fmt_priority(after, sizeof(after), e, "priority_after", 0);
		at = field(e, "at");
		cat = field(e, "category_after");
		rules = field(e, "rules");
		id = field(e, "event_id");
		printf("  %s  %s -> %s  %s  because %s  (%s)\n", at, before, after, cat,
		    *rules ? rules : "no rule", id);
		print_why(e);
		print_model(e);
		free(at);
		free(cat);
		free(rules);
		free(id);
	}
}

static void
print_escalations(json_t *result)
{
	json_t *list = json_object_get(result, "escalations"), *e;
	char late[32], *dl, *kind, *due, *fired, *acked, *by;
	size_t i;

	if (json_array_size(list) == 0)
		return;
	printf("escalations (%zu)\n", json_array_size(list));
	json_array_foreach(list, i, e)
	{
		fmt_late(late, sizeof(late), jint(e, "late_ms", 0));
		dl = field(e, "deadline");
		kind = field(e, "kind");
		due = field(e, "due");
		fired = field(e, "fired_at");
		acked = field(e, "acked_at");
		by = field(e, "acked_by");
		printf("  #%lld  %s %s L%lld  due %s  fired %s (%s late)  ",
		    jint(e, "escalation", 0), dl, kind, jint(e, "level", 0), due, fired, late);
		if (json_is_string(json_object_get(e, "acked_at")))
			printf("acked %s by %s\n", acked, by);
		else
			printf("NOT ACKNOWLEDGED\n");
		free(dl);
		free(kind);
		free(due);
		free(fired);
		free(acked);
		free(by);
	}
}

/* Each notification of the case's escalations (escalation.notify): where
 * it goes, its state, and the last try's error while it is not sent. */
static void
print_notifications(json_t *result)
{
	json_t *list = json_object_get(result, "notifications"), *e;
	char *ch, *state, *when, *err;
	size_t i;

	if (json_array_size(list) == 0)
		return;
	printf("notifications (%zu)\n", json_array_size(list));
	json_array_foreach(list, i, e)
	{
		ch = field(e, "channel");
		state = field(e, "state");
		when = field(e, json_is_string(json_object_get(e, "next_at")) ? "next_at" :
		    "done_at");
		err = field(e, "error");
		printf("  #%lld  escalation #%lld  %s  %s  attempts %lld  %s %s", jint(e,
		    "notification", 0), jint(e, "escalation", 0), ch, state, jint(e, "attempts", 0),
		    strcmp(state, "pending") == 0 ? "next" : "at", when);
		if (json_is_string(json_object_get(e, "error")))
			printf("  error: %s", err);
		printf("\n");
		free(ch);
		free(state);
		free(when);
		free(err);
	}
}

/* The key questions' answers, who gave each and when; then the ones the
 * case still lacks, loud on a P1 or P2 case. */
static void
print_answers(json_t *result)
{
	json_t *list = json_object_get(result, "answers"), *e;
	json_t *missing = json_object_get(result, "unanswered");
	long long prio = jint(json_object_get(result, "case"), "priority", 4);
	char *q, *a, *by, *at, *m;
	size_t i;

	if (json_array_size(list) > 0)
		printf("answers (%zu)\n", json_array_size(list));
	json_array_foreach(list, i, e)
	{
		q = field(e, "question");
		a = field(e, "answer");
		by = field(e, "by");
		at = field(e, "at");
		printf("  %-16s %-10s by %s  %s\n", q, a, by, at);
		free(q);
		free(a);
		free(by);
		free(at);
	}
	if (json_array_size(missing) == 0)
		return;
	m = fmt_list(missing, ", ");
	printf("%s key questions unanswered: %s (hotline111 assess %lld)\n",
	    prio <= 2 ? "!!" : "  ", m, jint(json_object_get(result, "case"), "id", 0));
	free(m);
}

static void
print_show(json_t *result)
{
	static const char *const ticket_keys[] = {
	    "ticket_id", "created_at", "operator", "category"};
	static const char *const note_keys[] = {"at", "author"};
	static const char *const event_keys[] = {"ts", "type", "event_id"};
	json_t *c = json_object_get(result, "case"), *timers, *t;
	size_t i;

	if (!json_is_object(c))
		die(EXIT_FAIL, "the daemon's reply to show has no case");
	print_case_head(result, c);
	print_case_fields(c);
	print_section(result, "tickets", ticket_keys, 4, "text");
	print_section(result, "notes", note_keys, 2, "text");
	print_section(result, "events", event_keys, 3, NULL);
	print_triage(result);
	print_answers(result);
	timers = json_object_get(result, "timers");
	if (json_array_size(timers) > 0) {
		printf("timers (%zu)\n", json_array_size(timers));
		json_array_foreach(timers, i, t)
		{
			char *dl = field(t, "deadline"), *due = field(t, "due"),
			     *next = field(t, "next");

			printf("  %s  due %s  level %lld  next %s%s\n", dl, due,
			    jint(t, "level", 0), next, jtrue(t, "held") ? "  HELD" : "");
			free(dl);
			free(due);
			free(next);
		}
	}
	print_escalations(result);
	print_notifications(result);
}

/* --- printers: one line each ---------------------------------------------- */

static void
print_claim(json_t *r)
{
	char *op = field(r, "operator");

	printf("case %lld claimed by %s\n", jint(r, "case", 0), op);
	free(op);
}

static void
print_release(json_t *r)
{
	printf("case %lld released\n", jint(r, "case", 0));
}

/* "case 12 assigned to hoa (it was lan's)" */
static void
print_assign(json_t *r)
{
	char *op = field(r, "operator"), *prev = field(r, "previous");

	printf("case %lld assigned to %s", jint(r, "case", 0), op);
	if (json_is_string(json_object_get(r, "previous")))
		printf(" (it was %s's)", prev);
	printf("\n");
	free(op);
	free(prev);
}

/* "P1 drowning because drowning-keywords, cry-for-help" */
static void
print_triaged(const char *what, json_t *r)
{
	char pri[16], *cat = field(r, "category"), *rules = NULL;

	fmt_priority(pri, sizeof(pri), r, "priority", 1);
	if (json_array_size(json_object_get(r, "rules")) > 0)
		rules = fmt_list(json_object_get(r, "rules"), ", ");
	printf("case %lld %s: %s %s%s%s\n", jint(r, "case", 0), what, pri, cat,
	    rules ? " because " : "", rules ? rules : "");
	free(cat);
	free(rules);
}

static void
print_note(json_t *r)
{
	print_triaged("note added", r);
}

static void
print_assess(json_t *r)
{
	char *m;

	print_triaged("answered", r);
	if (json_array_size(json_object_get(r, "unanswered")) == 0) {
		printf("every key question is answered\n");
		return;
	}
	m = fmt_list(json_object_get(r, "unanswered"), ", ");
	printf("still to ask: %s\n", m);
	free(m);
}

/* Each question with the case's answer, who gave it and when. */
static void
print_questions(json_t *r)
{
	json_t *e;
	char pri[16], *cat = field(r, "category"), *id, *a, *by, *text;
	size_t i;

	fmt_priority(pri, sizeof(pri), r, "priority", 1);
	printf("case %lld  %s  %s\n", jint(r, "case", 0), pri, cat);
	free(cat);
	json_array_foreach(json_object_get(r, "questions"), i, e)
	{
		id = field(e, "id");
		a = field(e, "answer");
		by = json_object_get(e, "by") ? field(e, "by") : xstrdup("");
		text = field(e, "text");
		printf("  %-16s %-10s %-18s %s\n", id, a, by, text);
		free(id);
		free(a);
		free(by);
		free(text);
	}
}

static void
print_set(json_t *r)
{
	print_triaged("set", r);
}

static void
print_close(json_t *r)
{
	char *outcome = field(r, "outcome");

	printf("case %lld closed: %s\n", jint(r, "case", 0), outcome);
	free(outcome);
}

static void
print_ack(json_t *r)
{
	char *dl = field(r, "deadline");

	printf("escalation %lld acknowledged (case %lld, %s)\n", jint(r, "escalation", 0),
	    jint(r, "case", 0), dl);
	free(dl);
}

static void
print_hold(json_t *r)
{
	printf("case %lld %s\n", jint(r, "case", 0),
	    jtrue(r, "held") ? "held: its act and plan clocks are paused" : "resumed");
}

static void
print_reload(json_t *r)
{
	printf("rules reloaded: %lld rules\n", jint(r, "rules", 0));
}

static void
print_tailing(json_t *r)
{
}

/* --- printers: find, escalations ------------------------------------------ */

/* "2026-11-30 10:02" of an RFC 3339 time; "-" for none. */
static char *
short_time(json_t *o, const char *key)
{
	char *t = field(o, key);

	if (strlen(t) == 19 && t[10] == ' ')
		t[16] = '\0';
	return t;
}

enum { F_CASE, F_OPENED, F_STATUS, F_PRI, F_CATEGORY, F_OPERATOR, F_OUTCOME, F_LABEL, F_COLUMNS };

static const char *const find_heads[F_COLUMNS] = {
    "CASE", "OPENED", "STATUS", "PRI", "CATEGORY", "OPERATOR", "OUTCOME", "LABEL"};
static const size_t find_max[F_COLUMNS] = {10, 16, 6, 4, 17, 12, 10, 0};
static const int find_right[F_COLUMNS] = {1};

static void
find_cells(json_t *result, json_t *row, char **cell)
{
	char buf[16];

	xasprintf(&cell[F_CASE], "%lld", jint(row, "case", 0));
	cell[F_OPENED] = short_time(row, "opened_at");
	cell[F_STATUS] = field(row, "status");
	fmt_priority(buf, sizeof(buf), row, "priority", 0);
	cell[F_PRI] = xstrdup(buf);
	cell[F_CATEGORY] = field(row, "category");
	cell[F_OPERATOR] = field(row, "operator");
	cell[F_OUTCOME] = field(row, "outcome");
	cell[F_LABEL] = label_cell(result, row);
}

/* A caller's cases, newest first: a repeat caller's history. */
static void
print_find(json_t *r)
{
	static const struct table t = {F_COLUMNS, find_heads, find_max, find_right};
	json_t *rows = json_object_get(r, "cases"), *none = json_object();
	size_t n = json_array_size(rows), i;
	long long total = jint(r, "total", (long long)n);
	char **cells, *caller = field(r, "caller");

	printf("caller %s: %lld case%s%s\n", caller, total, total == 1 ? "" : "s",
	    total > 1 ? ", newest first" : "");
	free(caller);
	if (n > 0) {
		cells = xcalloc(n * F_COLUMNS, sizeof(*cells));
		for (i = 0; i < n; i++) {
			json_t *row = json_array_get(rows, i);
			find_cells(r, json_is_object(row) ? row : none, cells + i * F_COLUMNS);
		}
		print_table(&t, cells, n);
	}
	if (total > (long long)n)
		printf("... and %lld older: see --limit\n", total - (long long)n);
	json_decref(none);
}

enum {
	E_ESC,
	E_FIRED,
	E_AGE,
	E_CASE,
	E_PRI,
	E_CATEGORY,
	E_DEADLINE,
	E_LEVEL,
	E_OPERATOR,
	E_ACKED,
	E_LABEL,
	E_COLUMNS
};

static const char *const esc_heads[E_COLUMNS] = {"ESC", "FIRED", "AGE", "CASE", "PRI", "CATEGORY",
    "DEADLINE", "LVL", "OPERATOR", "ACKED BY", "LABEL"};
static const size_t esc_max[E_COLUMNS] = {8, 16, 6, 10, 4, 17, 8, 3, 12, 12, 0};
static const int esc_right[E_COLUMNS] = {1, 0, 0, 1};

static void
esc_cells(json_t *result, json_t *e, char **cell)
{
	char buf[32];
	const char *by = jstr(e, "acked_by");

	xasprintf(&cell[E_ESC], "#%lld", jint(e, "escalation", 0));
	cell[E_FIRED] = short_time(e, "fired_at");
	fmt_age(buf, sizeof(buf), jint(e, "age_s", 0));
	cell[E_AGE] = xstrdup(buf);
	xasprintf(&cell[E_CASE], "%lld", jint(e, "case", 0));
	fmt_priority(buf, sizeof(buf), e, "priority", 0);
	cell[E_PRI] = xstrdup(buf);
	cell[E_CATEGORY] = field(e, "category");
	cell[E_DEADLINE] = field(e, "deadline");
	xasprintf(&cell[E_LEVEL], "L%lld", jint(e, "level", 0));
	cell[E_OPERATOR] = field(e, "operator");
	if (by != NULL && strncmp(by, "console:", 8) == 0)
		by += 8; /* the operator's name, as everywhere else */
	cell[E_ACKED] = by != NULL ? safe(by) : xstrdup("-");
	cell[E_LABEL] = label_cell(result, e);
}

/* The escalations not acknowledged, oldest first; with --all the latest. */
static void
print_escalation_list(json_t *r)
{
	static const struct table t = {E_COLUMNS, esc_heads, esc_max, esc_right};
	json_t *rows = json_object_get(r, "escalations"), *none = json_object();
	size_t n = json_array_size(rows), i;
	long long unacked = jint(r, "unacked", 0);
	int all = jtrue(r, "all");
	char **cells;

	if (all)
		printf("the latest %zu escalations, %lld not acknowledged in all\n", n, unacked);
	else if (unacked == 0)
		printf("no escalation waits for acknowledgement\n");
	else
		printf("%lld escalation%s not acknowledged, oldest first\n", unacked,
		    unacked == 1 ? "" : "s");
	if (n > 0) {
		cells = xcalloc(n * E_COLUMNS, sizeof(*cells));
		for (i = 0; i < n; i++) {
			json_t *e = json_array_get(rows, i);
			esc_cells(r, json_is_object(e) ? e : none, cells + i * E_COLUMNS);
		}
		print_table(&t, cells, n);
	}
	if (!all && unacked > (long long)n)
		printf("... and %lld more: see --limit\n", unacked - (long long)n);
	json_decref(none);
}

/* --- printers: small tables ----------------------------------------------- */

/* "label   value", labels padded to width. */
static void
print_pair(const char *label, size_t width, const char *value)
{
	put_cell(label, width, 0);
	printf("  %s\n", value);
}

static void
print_count_in(const char *label, size_t width, json_t *o, const char *key)
{
	char buf[32];

	if (json_object_get(o, key) == NULL)
		return;
	snprintf(buf, sizeof(buf), "%lld", jint(o, key, 0));
	print_pair(label, width, buf);
}

static void
print_count(const char *label, json_t *o, const char *key)
{
	print_count_in(label, 22, o, key);
}

/* "source  ami:pbx1 up, 42 events", or "… down, 0 events: connection refused" */
static void
print_sources(json_t *a)
{
	size_t i;
	json_t *src;

	json_array_foreach(a, i, src)
	{
		char *name = field(src, "source"), *state = field(src, "state");
		char *err = field(src, "error"), *line;
		int said = json_string_length(json_object_get(src, "error")) > 0;

		xasprintf(&line, "%s %s, %lld events%s%s", name, state, jint(src, "events", 0),
		    said ? ": " : "", said ? err : "");
		print_pair("source", 22, line);
		free(line);
		free(name);
		free(state);
		free(err);
	}
}

/* "cti  tcp:127.0.0.1:8111, 12 requests, 0 waiting"; nothing when it is off */
static void
print_cti(json_t *o)
{
	char *listen, *line;

	if (!json_is_object(o))
		return;
	listen = field(o, "listen");
	xasprintf(&line, "%s, %lld requests, %lld waiting", listen, jint(o, "requests", 0),
	    jint(o, "waiting", 0));
	print_pair("cti webhook", 22, line);
	free(line);
	free(listen);
}

/* "spool  12 events to replay (3456 of 1073741824 bytes), replaying"; "off" */
static void
print_spool(json_t *o)
{
	char *line;

	if (o == NULL)
		return;
	if (!json_is_object(o)) {
		print_pair("spool", 22, "off");
		return;
	}
	xasprintf(&line, "%lld events to replay (%lld of %lld bytes)%s", jint(o, "records", 0),
	    jint(o, "bytes", 0), jint(o, "max_bytes", 0),
	    json_is_true(json_object_get(o, "replaying")) ? ", replaying" : "");
	print_pair("spool", 22, line);
	free(line);
}

/* "health  degraded", then one line per reason. */
static void
print_health(json_t *h)
{
	json_t *reason;
	size_t i;
	char *s;

	if (!json_is_object(h))
		return;
	s = field(h, "state");
	print_pair("health", 22, s);
	free(s);
	json_array_foreach(json_object_get(h, "reasons"), i, reason)
	{
		s = safe(json_is_string(reason) ? json_string_value(reason) : "?");
		print_pair("", 22, s);
		free(s);
	}
}

/* Degraded and failing are exit statuses (hotline111(1)), each reason a line
 * on standard error, so that a cron job or a monitoring check needs no JSON. */
static int
status_verdict(json_t *r)
{
	json_t *h = json_object_get(r, "health"), *reason;
	const char *state = jstr(h, "state");
	int rc = EXIT_OK;
	size_t i;

	if (state != NULL && strcmp(state, "degraded") == 0)
		rc = EXIT_DEGRADED;
	else if (state != NULL && strcmp(state, "failing") == 0)
		rc = EXIT_FAILING;
	else if (state == NULL && jstr(r, "database") && strcmp(jstr(r, "database"), "up") != 0)
		rc = EXIT_DEGRADED; /* a daemon that does not judge itself */
	json_array_foreach(json_object_get(h, "reasons"), i, reason)
	{
		char *text = safe(json_is_string(reason) ? json_string_value(reason) : "?");
		if (rc != EXIT_OK)
			fprintf(stderr, "hotline111: %s: %s\n", state, text);
		free(text);
	}
	return rc;
}

static void
print_status(json_t *r)
{
	static const char *const counts[][2] = {
	    {"pid", "pid"},
	    {"bridge clients", "bridge_clients"},
	    {"consoles", "consoles"},
	    {"pending deadlines", "pending_deadlines"},
	    {"unacked escalations", "unacked_escalations"},
	};
	static const char *const today[][2] = {
	    {"calls today", "calls"},
	    {"  answered", "answered"},
	    {"  abandoned", "abandoned"},
	    {"  answered within 20s", "answered_within_20s"},
	};
	json_t *t = json_object_get(r, "today");
	char buf[32], *s;
	size_t i;

	s = field(r, "version");
	print_pair("version", 22, s);
	free(s);
	s = field(r, "database");
	print_pair("database", 22, s);
	free(s);
	fmt_age(buf, sizeof(buf), jint(r, "uptime_s", 0));
	print_pair("uptime", 22, buf);
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		print_count(counts[i][0], r, counts[i][1]);
	if (json_is_object(json_object_get(r, "notifications"))) {
		print_count("notifications pending", json_object_get(r, "notifications"),
		    "pending");
		print_count("notifications failed", json_object_get(r, "notifications"),
		    "failed");
	}
	for (i = 0; json_is_object(t) && i < sizeof(today) / sizeof(today[0]); i++)
		print_count(today[i][0], t, today[i][1]);
	if (json_is_object(t) && json_object_get(t, "longest_wait_s")) {
		fmt_age(buf, sizeof(buf), jint(t, "longest_wait_s", 0));
		print_pair("  longest wait", 22, buf);
	}
	print_sources(json_object_get(r, "sources"));
	print_cti(json_object_get(r, "cti"));
	print_spool(json_object_get(r, "spool"));
	print_health(json_object_get(r, "health"));
}

struct tally {
	const char *key; /* as the daemon sent it */
	char *name;      /* safe for the terminal */
	long long n;
};

static int
tally_cmp(const void *a, const void *b)
{
	const struct tally *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* A two-column table of an object of counts, largest first; with labels
 * (by category), each name's label after its count. */
static void
print_tally(const char *head, json_t *o, json_t *labels)
{
	struct tally *t = xcalloc(json_object_size(o) + 1, sizeof(*t));
	size_t n = 0, i, w = strlen(head);
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		t[n].key = key;
		t[n].name = safe(key);
		t[n].n = json_is_integer(v) ? (long long)json_integer_value(v) : 0;
		if (text_width(t[n].name) > w)
			w = text_width(t[n].name);
		n++;
	}
	w = w > 40 ? 40 : w;
	qsort(t, n, sizeof(*t), tally_cmp);
	printf("\n");
	put_cell(head, w, 0);
	printf("  %8s%s\n", "CASES", labels ? "  LABEL" : "");
	for (i = 0; i < n; i++) {
		char *label = labels ? label_of(labels, t[i].key) : NULL;

		put_cell(t[i].name, w, 0);
		printf("  %8lld%s%s\n", t[i].n, label ? "  " : "", label ? label : "");
		free(t[i].name);
		free(label);
	}
	free(t);
}

/* --- printers: report --triage -------------------------------------------- */

#define TR_LABEL 28    /* the width of the figures' labels */
#define TR_NAME_MAX 24 /* the widest a category is shown in the tables */

/* "7 of 11 (63.6%)": a count out of o's n, with the share the daemon gave. */
static void
print_share(const char *label, json_t *o, const char *key, const char *pct)
{
	json_t *p = json_object_get(o, pct);
	char *line;

	if (json_is_number(p))
		xasprintf(&line, "%lld of %lld (%.1f%%)", jint(o, key, 0), jint(o, "n", 0),
		    json_number_value(p));
	else
		xasprintf(&line, "%lld of %lld", jint(o, key, 0), jint(o, "n", 0));
	print_pair(label, TR_LABEL, line);
	free(line);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
name_add(const char ***names, size_t *n, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*names)[i], name) == 0)
			return;
	*names = xreallocarray(*names, *n + 1, sizeof(**names));
	(*names)[(*n)++] = name;
}

static size_t
digits(long long v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Every category of the confusion table, automatic or final, sorted (the
 * JSON's own keys, not yet escaped); *cw: the width its counts need. */
static const char **
confusion_names(json_t *conf, size_t *n, size_t *cw)
{
	const char **names = NULL, *auto_cat, *final_cat;
	json_t *row, *count;

	*n = 0;
	*cw = 1;
	json_object_foreach(conf, auto_cat, row)
	{
		name_add(&names, n, auto_cat);
		if (!json_is_object(row))
			continue;
		json_object_foreach(row, final_cat, count)
		{
			name_add(&names, n, final_cat);
			if (json_is_integer(count) && digits(json_integer_value(count)) > *cw)
				*cw = digits(json_integer_value(count));
		}
	}
	if (*n > 0)
		qsort(names, *n, sizeof(*names), name_cmp);
	if (digits((long long)*n) > *cw)
		*cw = digits((long long)*n);
	return names;
}

/*
 * The confusion table: a row per category the rules first named, a column
 * per category at close, numbered so that sixteen categories fit in WIDTH;
 * "." where no case fell.
 */
static void
print_confusion(json_t *conf)
{
	size_t n, i, j, w = 8, cw;
	const char **names = confusion_names(conf, &n, &cw);
	char **shown = xcalloc(n + 1, sizeof(*shown)), num[24];
	json_t *row;
	long long c;

	for (i = 0; i < n; i++) {
		shown[i] = safe(names[i]);
		if (text_width(shown[i]) > w)
			w = text_width(shown[i]);
	}
	w = w > TR_NAME_MAX ? TR_NAME_MAX : w;
	printf("\nrules' first category (rows) by category at close (columns)\n");
	printf("%*s", (int)(w + 4), "");
	for (j = 0; j < n; j++)
		printf(" %*zu", (int)cw, j + 1);
	printf("\n");
	for (i = 0; i < n; i++) {
		row = json_object_get(conf, names[i]);
		printf("%3zu ", i + 1);
		put_cell(shown[i], w, 0);
		for (j = 0; j < n; j++) {
			c = json_is_object(row) ? jint(row, names[j], 0) : 0;
			snprintf(num, sizeof(num), "%lld", c);
			printf(" %*s", (int)cw, c > 0 ? num : ".");
		}
		printf("\n");
		free(shown[i]);
	}
	free(shown);
	free(names);
}

enum { R_CASE, R_FIRST, R_FINAL, R_BY, R_FIRST_CAT, R_FINAL_CAT, R_RULES, R_COLUMNS };

static const char *const raised_heads[R_COLUMNS] = {
    "CASE", "FIRST", "FINAL", "BY", "FIRST CATEGORY", "FINAL CATEGORY", "RULES"};
static const size_t raised_max[R_COLUMNS] = {10, 5, 5, 6, 20, 20, 0};

static void
raised_cells(json_t *row, char **cell)
{
	char buf[16];

	xasprintf(&cell[R_CASE], "%lld", jint(row, "case", 0));
	fmt_priority(buf, sizeof(buf), row, "first_priority", 0);
	cell[R_FIRST] = xstrdup(buf);
	fmt_priority(buf, sizeof(buf), row, "final_priority", 0);
	cell[R_FINAL] = xstrdup(buf);
	cell[R_BY] = field(row, "by");
	cell[R_FIRST_CAT] = field(row, "first_category");
	cell[R_FINAL_CAT] = field(row, "final_category");
	cell[R_RULES] = json_is_array(json_object_get(row, "rules")) &&
	                        json_array_size(json_object_get(row, "rules")) > 0
	                    ? fmt_list(json_object_get(row, "rules"), ",")
	                    : xstrdup("-");
}

/* The cases closed more urgent than the rules first left them: the list a
 * rule author works from. RULES takes what is left of WIDTH. */
static void
print_raised(json_t *list, long long total)
{
	size_t n = json_array_size(list), i, c, w, width[R_COLUMNS], used = 0;
	char **cells = xcalloc(n * R_COLUMNS + 1, sizeof(*cells));

	printf("\nclosed more urgent than the rules first left them, most raised first:\n");
	if (n == 0) {
		printf("none\n");
		free(cells);
		return;
	}
	for (c = 0; c < R_COLUMNS; c++)
		width[c] = strlen(raised_heads[c]);
	for (i = 0; i < n; i++) {
		raised_cells(json_array_get(list, i), cells + i * R_COLUMNS);
		for (c = 0; c < R_RULES; c++) {
			w = text_width(cells[i * R_COLUMNS + c]);
			if (w > width[c])
				width[c] = w > raised_max[c] ? raised_max[c] : w;
		}
	}
	for (c = 0; c < R_RULES; c++)
		used += width[c] + 1;
	width[R_RULES] = WIDTH > used + 8 ? WIDTH - used : 8;
	for (i = 0; i <= n; i++) {
		const char *const *row =
		    i == 0 ? raised_heads : (const char *const *)cells + (i - 1) * R_COLUMNS;
		for (c = 0; c < R_RULES; c++) {
			put_cell(row[c], width[c], c == R_CASE);
			putchar(' ');
		}
		w = text_width(row[R_RULES]);
		put_cell(row[R_RULES], w < width[R_RULES] ? w : width[R_RULES], 0);
		putchar('\n');
	}
	for (i = 0; i < n * R_COLUMNS; i++)
		free(cells[i]);
	free(cells);
	if (total > (long long)n)
		printf(
		    "... and %lld more: narrow the period, or see --json\n", total - (long long)n);
}

static void
print_triage_report(json_t *r)
{
	json_t *t = json_object_get(r, "triage"), *cat = json_object_get(t, "category"),
	       *pri = json_object_get(t, "priority");
	char *from = field(r, "from"), *to = field(r, "to"), *span;

	int has_from = json_is_string(json_object_get(r, "from")),
	    has_to = json_is_string(json_object_get(r, "to"));

	if (has_from && has_to)
		xasprintf(&span, "cases closed %s to %s", from, to);
	else if (has_from)
		xasprintf(&span, "cases closed from %s", from);
	else if (has_to)
		xasprintf(&span, "cases closed up to %s", to);
	else
		span = xstrdup("every closed case");
	print_pair("period", TR_LABEL, span);
	print_count_in("closed cases", TR_LABEL, t, "closed");
	print_count_in("  compared", TR_LABEL, t, "compared");
	print_count_in("  not compared", TR_LABEL, t, "not_compared");
	if (json_is_object(cat))
		print_share("category agrees", cat, "agree", "agree_pct");
	if (json_is_object(pri)) {
		print_share("priority agrees", pri, "exact", "exact_pct");
		print_share("  rules lower than people", pri, "rules_lower", "rules_lower_pct");
		print_share("  rules higher than people", pri, "rules_higher", "rules_higher_pct");
	}
	if (json_object_size(json_object_get(t, "confusion")) > 0)
		print_confusion(json_object_get(t, "confusion"));
	print_raised(json_object_get(t, "raised"), jint(t, "raised_total", 0));
	free(from);
	free(to);
	free(span);
}

static void
print_report(json_t *r)
{
	static const char *const calls[][2] = {
	    {"calls received", "received"},
	    {"  answered", "answered"},
	    {"  abandoned", "abandoned"},
	    {"  answered within 20s", "answered_within_20s"},
	};
	static const char *const cases[][2] = {
	    {"cases opened", "opened"},
	    {"  referred", "referred"},
	    {"  closed", "closed"},
	};
	json_t *cl = json_object_get(r, "calls"), *cs = json_object_get(r, "cases");
	char *from, *to, *span;
	size_t i;

	if (json_is_object(json_object_get(r, "triage"))) {
		print_triage_report(r);
		return;
	}
	from = field(r, "from");
	to = field(r, "to");
	xasprintf(&span, "%s to %s", from, to);
	print_pair("period", 22, span);
	for (i = 0; json_is_object(cl) && i < sizeof(calls) / sizeof(calls[0]); i++)
		print_count(calls[i][0], cl, calls[i][1]);
	for (i = 0; json_is_object(cs) && i < sizeof(cases) / sizeof(cases[0]); i++)
		print_count(cases[i][0], cs, cases[i][1]);
	if (json_object_size(json_object_get(cs, "by_category")) > 0)
		print_tally("CATEGORY", json_object_get(cs, "by_category"), labelled(r) ? r : NULL);
	if (json_object_size(json_object_get(cs, "by_province")) > 0)
		print_tally("PROVINCE", json_object_get(cs, "by_province"), NULL);
	free(from);
	free(to);
	free(span);
}

/* --- printers: alerts (tail) ---------------------------------------------- */

/* HH:MM:SS of an RFC 3339 time, or of now when there is none. */
static void
clock_of(char *buf, size_t size, const char *ts)
{
	time_t now;
	struct tm tm;

	if (ts != NULL && strlen(ts) >= 19 && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':') {
		snprintf(buf, size, "%.8s", ts + 11);
		if (strspn(buf, "0123456789:") == 8)
			return;
	}
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(buf, size, "%H:%M:%S", &tm);
}

static void
print_escalation_alert(json_t *e)
{
	char hms[16], pri[16], late[32], due[16],
	    *cat = field(e, "category"), *dl = field(e, "deadline"), *caller = field(e, "caller"),
	    *rules = NULL;
	const char *kind = jstr(e, "kind");
	int warning = kind && strcmp(kind, "warning") == 0;

	clock_of(hms, sizeof(hms), jstr(e, "ts"));
	fmt_priority(pri, sizeof(pri), e, "priority", 0);
	if (json_is_array(json_object_get(e, "rules")))
		rules = fmt_list(json_object_get(e, "rules"), ",");
	if (warning) {
		clock_of(due, sizeof(due), jstr(e, "due"));
		printf("%s WARNING case %lld %s %s %s (due %s)", hms, jint(e, "case", 0), pri, cat,
		    dl, due);
	} else {
		fmt_late(late, sizeof(late), jint(e, "late_ms", 0));
		printf("%s ESCALATION L%lld case %lld %s %s %s (%s late)", hms, jint(e, "level", 0),
		    jint(e, "case", 0), pri, cat, dl, late);
	}
	printf(" caller %s [%s] #%lld\n", caller, rules ? rules : "", jint(e, "escalation", 0));
	free(cat);
	free(dl);
	free(caller);
	free(rules);
}

/* change: what a case alert's "change" reads as, "by NAME" after it. */
static const char *const change_words[][2] = {
    {"event", "updated by"},
    {"claim", "claimed by"},
    {"release", "released by"},
    {"note", "note added by"},
    {"set", "set by"},
    {"close", "closed by"},
    {"hold", "held by"},
    {"resume", "resumed by"},
    {"answers", "answered by"},
    {"ack", "escalation acknowledged by"},
    {"assign", "assigned by"},
};

static void
print_case_alert(json_t *a, json_t *c)
{
	char hms[16], pri[16], *cat = field(c, "category"), *by = field(c, "by"),
	                       *change = field(c, "change");
	const char *words = NULL, *raw = jstr(c, "change");
	size_t i;

	for (i = 0; raw && i < sizeof(change_words) / sizeof(change_words[0]); i++)
		if (strcmp(raw, change_words[i][0]) == 0)
			words = change_words[i][1];
	clock_of(hms, sizeof(hms), jstr(c, "ts") ? jstr(c, "ts") : jstr(a, "ts"));
	fmt_priority(pri, sizeof(pri), c, "priority", 0);
	printf("%s case %lld %s %s ", hms, jint(c, "case", 0), pri, cat);
	if (raw && strcmp(raw, "assign") == 0) {
		char *op = field(c, "operator");
		printf("assigned to %s by %s", op, by);
		free(op);
	} else if (words)
		printf("%s %s", words, by);
	else
		printf("%s by %s", change, by);
	if (raw && strcmp(raw, "close") != 0 && jstr(c, "status") &&
	    strcmp(jstr(c, "status"), "closed") == 0)
		printf(" (closed)");
	printf("\n");
	free(cat);
	free(by);
	free(change);
}

/* What a notice tells its operator: "… is no longer yours: assigned to
 * hoa by mai", "… is yours now: assigned by mai". */
static const char *const notice_words[][2] = {
    /* change, what was done */
    {"assign", "assigned"},
    {"claim", "taken over"},
    {"release", "released"},
};

static void
print_notice(json_t *n)
{
	char hms[16], pri[16], *cat = field(n, "category"), *by = field(n, "by"),
	                       *op = field(n, "operator");
	const char *change = jstr(n, "change"), *to = jstr(n, "to"), *prev = jstr(n, "previous");
	const char *done = "changed";
	int lost = to != NULL && prev != NULL && strcmp(to, prev) == 0;
	size_t i;

	for (i = 0; change != NULL && i < sizeof(notice_words) / sizeof(notice_words[0]); i++)
		if (strcmp(change, notice_words[i][0]) == 0)
			done = notice_words[i][1];
	clock_of(hms, sizeof(hms), jstr(n, "ts"));
	fmt_priority(pri, sizeof(pri), n, "priority", 0);
	printf("%s NOTICE case %lld %s %s is %s: %s", hms, jint(n, "case", 0), pri, cat,
	    lost ? "no longer yours" : "yours now", done);
	if (lost && strcmp(done, "assigned") == 0 && json_is_string(json_object_get(n, "operator")))
		printf(" to %s", op);
	printf(" by %s\n", by);
	free(cat);
	free(by);
	free(op);
}

static void
print_alert(json_t *a)
{
	const char *kind = jstr(a, "alert");
	char hms[16], *s;

	if (kind && strcmp(kind, "escalation") == 0 && json_is_object(json_object_get(a, kind)))
		print_escalation_alert(json_object_get(a, kind));
	else if (kind && strcmp(kind, "case") == 0 && json_is_object(json_object_get(a, kind)))
		print_case_alert(a, json_object_get(a, kind));
	else if (kind && strcmp(kind, "notice") == 0 && json_is_object(json_object_get(a, kind)))
		print_notice(json_object_get(a, kind));
	else {
		clock_of(hms, sizeof(hms), NULL);
		s = fmt_value(json_object_get(a, "alert"));
		printf("%s alert %s\n", hms, s ? s : "?");
		free(s);
	}
}

/* --- printers: help ------------------------------------------------------- */

static json_t *
help_entry(json_t *list, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		if (jstr(e, "name") && strcmp(jstr(e, "name"), name) == 0)
			return e;
	}
	return NULL;
}

static char *synopsis(const struct command *cmd);

/* The daemon's help, with this program's synopsis of each command. */
static void
print_help(json_t *r)
{
	json_t *list = json_object_get(r, "commands"), *e;
	const struct command *cmd;
	char *syn, *help, *role;
	size_t i;

	for (cmd = command_list(); cmd->name; cmd++) {
		e = help_entry(list, cmd->name);
		syn = synopsis(cmd);
		help = e && jstr(e, "help") ? safe(jstr(e, "help")) : xstrdup(cmd->help);
		role =
		    e && jstr(e, "role") ? safe(jstr(e, "role")) : xstrdup(role_names[cmd->role]);
		printf("hotline111 %s\n    %s (%s%s)%s\n", syn, help, role,
		    (e ? jtrue(e, "changes") : cmd->changes) ? ", changes state" : "",
		    e ? "" : " [this daemon does not offer it]");
		free(syn);
		free(help);
		free(role);
	}
	json_array_foreach(list, i, e)
	{
		if (jstr(e, "name") && command_find(jstr(e, "name")) == NULL) {
			syn = safe(jstr(e, "name"));
			help = jstr(e, "help") ? safe(jstr(e, "help")) : xstrdup("");
			printf("%s (the daemon's; this program does not know it)\n    %s\n", syn,
			    help);
			free(syn);
			free(help);
		}
	}
}

/* --- the commands --------------------------------------------------------- */

static const char *
check_queue(json_t *req)
{
	if (jtrue(req, "mine") && json_object_get(req, "operator"))
		return "queue: --mine or --operator, not both";
	return NULL;
}

static const char *
check_set(json_t *req)
{
	if (!json_object_get(req, "category") && !json_object_get(req, "priority"))
		return "set: give category=CATEGORY, priority=N or both";
	return NULL;
}

static const char *
check_close(json_t *req)
{
	if (strcmp(jstr(req, "outcome"), "referred") == 0 && !json_object_get(req, "referred_to"))
		return "close: --outcome referred needs --referred-to ORG";
	return NULL;
}

/* --from and --to: both, but either may be left out with --triage. */
static const char *
check_report(json_t *req)
{
	const char *from = jstr(req, "from"), *to = jstr(req, "to");

	if (!jtrue(req, "triage") && (from == NULL || to == NULL))
		return "usage: hotline111 report --from DATE --to DATE, or report --triage "
		       "[--from DATE] [--to DATE]";
	if (from != NULL && to != NULL && strcmp(from, to) > 0)
		return "report: --from is after --to";
	return NULL;
}

#define CASE_ARG                                                                                   \
	{                                                                                          \
		NULL, "case", ARG_ID, "CASE", 1                                                    \
	}

static const struct command commands[] = {
    {CONSOLE_CMD_QUEUE, 0,
        {{"--priority", "priority", ARG_PRIORITY, "N", 0}, {"--mine", "mine", ARG_FLAG, NULL, 0},
            {"--operator", "operator", ARG_STRING, "NAME|none", 0},
            {"--province", "province", ARG_STRING, "PROVINCE", 0},
            {"--category", "category", ARG_STRING, "CATEGORY|none", 0},
            {"--unanswered", "unanswered", ARG_FLAG, NULL, 0}},
        check_queue, print_queue, NULL},
    {CONSOLE_CMD_SHOW, 0, {CASE_ARG}, NULL, print_show, NULL},
    {CONSOLE_CMD_CLAIM, 0, {CASE_ARG}, NULL, print_claim, NULL},
    {CONSOLE_CMD_RELEASE, 0, {CASE_ARG}, NULL, print_release, NULL},
    {CONSOLE_CMD_ASSIGN, 0, {CASE_ARG, {NULL, "operator", ARG_STRING, "OPERATOR", 1}}, NULL,
        print_assign, NULL},
    {CONSOLE_CMD_NOTE, 0, {CASE_ARG, {NULL, "text", ARG_WORDS, "TEXT...", 1}}, NULL, print_note, NULL},
    {CONSOLE_CMD_QUESTIONS, 0, {CASE_ARG}, NULL, print_questions, NULL},
    {CONSOLE_CMD_ASSESS, 0, {CASE_ARG, {"--answer", "answers", ARG_ANSWER, "QUESTION=ANSWER", 0}},
        NULL, print_assess, NULL},
    {CONSOLE_CMD_SET, 0,
        {CASE_ARG, {"category=", "category", ARG_STRING, "CATEGORY", 0},
            {"priority=", "priority", ARG_PRIORITY, "N", 0},
            {"--reason", "reason", ARG_STRING, "TEXT", 0}},
        check_set, print_set, NULL},
    {CONSOLE_CMD_CLOSE, 0,
        {CASE_ARG, {"--outcome", "outcome", ARG_CHOICE, OUTCOME_CHOICES, 1},
            {"--referred-to", "referred_to", ARG_STRING, "ORG", 0}},
        check_close, print_close, NULL},
    {CONSOLE_CMD_ACK, 0, {{NULL, "escalation", ARG_ID, "ESCALATION", 1}}, NULL, print_ack, NULL},
    {CONSOLE_CMD_ESCALATIONS, 0,
        {{"--all", "all", ARG_FLAG, NULL, 0}, {"--limit", "limit", ARG_COUNT, "N", 0}}, NULL,
        print_escalation_list, NULL},
    {CONSOLE_CMD_FIND, 0,
        {{"--caller", "caller", ARG_PHONE, "NUMBER", 1}, {"--limit", "limit", ARG_COUNT, "N", 0}},
        NULL, print_find, NULL},
    {CONSOLE_CMD_HOLD, 0, {CASE_ARG, {"--reason", "reason", ARG_STRING, "TEXT", 1}}, NULL,
        print_hold, NULL},
    {CONSOLE_CMD_RESUME, 0, {CASE_ARG, {"--reason", "reason", ARG_STRING, "TEXT", 0}}, NULL,
        print_hold, NULL},
    {CONSOLE_CMD_TAIL, 1, {{"--escalations", "escalations", ARG_FLAG, NULL, 0}}, NULL,
        print_tailing, NULL},
    {CONSOLE_CMD_REPORT, 0,
        {{"--from", "from", ARG_DATE, "DATE", 0}, {"--to", "to", ARG_DATE, "DATE", 0},
            {"--triage", "triage", ARG_FLAG, NULL, 0}},
        check_report, print_report, NULL},
    {CONSOLE_CMD_STATUS, 0, {{0}}, NULL, print_status, status_verdict},
    {CONSOLE_CMD_RELOAD, 0, {{0}}, NULL, print_reload, NULL},
    {CONSOLE_CMD_HELP, 0, {{0}}, NULL, print_help, NULL},
    {NULL, 0, 0, NULL, NULL, 0, {{0}}, NULL, NULL, NULL},
};

static const struct command *
command_list(void)
{
	return commands;
}

static const struct command *
command_find(const char *name)
{
	const struct command *cmd;

	for (cmd = commands; cmd->name; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

static char *
synopsis(const struct command *cmd)
{
	const struct arg *a;
	char *out = xstrdup(cmd->name), *s, *word;

	for (a = cmd->args; a->key; a++) {
		if (a->option == NULL)
			word = xstrdup(a->metavar);
		else if (a->kind == ARG_FLAG)
			word = xstrdup(a->option);
		else
			xasprintf(&word, "%s%s%s", a->option,
			    a->option[strlen(a->option) - 1] == '=' ? "" : " ", a->metavar);
		xasprintf(
		    &s, "%s %s%s%s", out, a->required ? "" : "[", word, a->required ? "" : "]");
		free(word);
		free(out);
		out = s;
	}
	return out;
}

static void
usage_text(FILE *f)
{
	const struct command *cmd;
	char *syn;

	fprintf(f,
	    "usage: hotline111 [-S SOCKET] [--json] COMMAND [ARGS]\n"
	    "       hotline111 --help | --version\n\n"
	    "  -S SOCKET  the console socket (default $" SOCKET_ENV ", else " DEFAULT_SOCKET ")\n"
	    "  --json     print the daemon's result as JSON, one line\n\ncommands:\n");
	for (cmd = commands; cmd->name; cmd++) {
		syn = synopsis(cmd);
		fprintf(f, "  %s\n      %s (%s)\n", syn, cmd->help, role_names[cmd->role]);
		free(syn);
	}
	fprintf(f, "\nSee hotline111(1).\n");
}

/* --- arguments to a request ----------------------------------------------- */

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hotline111: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static void __attribute__((noreturn)) usage_of(const struct command *cmd)
{
	char *syn = synopsis(cmd);

	usage_error("usage: hotline111 %s", syn);
}

static int
valid_date(const char *s)
{
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, leap;

	if (strlen(s) != 10 || strspn(s, "0123456789") != 4 || s[4] != '-' || s[7] != '-' ||
	    strspn(s + 5, "0123456789") != 2 || strspn(s + 8, "0123456789") != 2)
		return 0;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] && (m != 2 || d <= 28 + leap);
}

/* As the daemon takes it: digits, a + first, and the spaces, dots, dashes
 * and brackets people write; 3 to 20 digits, 64 bytes at most. */
static int
valid_phone(const char *s)
{
	size_t digits = 0, seen = 0;

	if (strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++) {
		if (strchr(" .-()", *s) != NULL)
			continue;
		if (!((*s >= '0' && *s <= '9') || (*s == '+' && seen == 0)))
			return 0;
		digits += *s != '+';
		seen++;
	}
	return digits >= 3 && digits <= 20;
}

static int
valid_choice(const char *choices, const char *s)
{
	size_t n = strlen(s);
	const char *p = choices;

	while ((p = strstr(p, s)) != NULL) {
		if ((p == choices || p[-1] == '|') && (p[n] == '\0' || p[n] == '|'))
			return 1;
		p += n;
	}
	return 0;
}

/* The JSON value of one argument, or a usage error saying what is wrong. */
static json_t *
arg_value(const struct command *cmd, const struct arg *a, const char *s)
{
	const char *what = a->option ? a->option : a->metavar;
	char *end;
	long long n;
	json_t *v;

	switch (a->kind) {
	case ARG_ID:
		errno = 0;
		n = strtoll(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || errno || n < 1)
			usage_error(
			    "%s: %s must be a positive integer, not '%s'", cmd->name, what, s);
		return json_integer(n);
	case ARG_PRIORITY:
		if (strlen(s) != 1 || *s < '1' || *s > '4')
			usage_error("%s: %s must be 1, 2, 3 or 4 (1 is the most urgent), not '%s'",
			    cmd->name, what, s);
		return json_integer(*s - '0');
	case ARG_DATE:
		if (!valid_date(s))
			usage_error(
			    "%s: %s must be a date YYYY-MM-DD, not '%s'", cmd->name, what, s);
		return json_string(s);
	case ARG_CHOICE:
		if (!valid_choice(a->metavar, s))
			usage_error(
			    "%s: %s must be one of %s, not '%s'", cmd->name, what, a->metavar, s);
		return json_string(s);
	case ARG_FLAG:
		return json_true();
	case ARG_PHONE:
		if (!valid_phone(s))
			usage_error(
			    "%s: %s must be a phone number (3 to 20 digits, + first), not '%s'",
			    cmd->name, what, s);
		return json_string(s);
	case ARG_COUNT:
		errno = 0;
		n = strtoll(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || errno || n < 1 || n > COUNT_MAX)
			usage_error("%s: %s must be a number 1..%d, not '%s'", cmd->name, what,
			    COUNT_MAX, s);
		return json_integer(n);
	default:
		if (*s == '\0')
			usage_error("%s: %s must not be empty", cmd->name, what);
		if (a->kind == ARG_WORDS && strlen(s) > MAX_TEXT)
			usage_error("%s: %s is longer than %d bytes", cmd->name, what, MAX_TEXT);
		if ((v = json_string(s)) == NULL)
			usage_error("%s: %s is not valid UTF-8", cmd->name, what);
		return v;
	}
}

/* --answer QUESTION=ANSWER: a word, or a whole number (an age); the daemon
 * says whether the rules ask that question and take that answer. */
static void
arg_answer(const struct command *cmd, json_t *req, const struct arg *a, const char *s)
{
	const char *eq = strchr(s, '=');
	json_t *answers = json_object_get(req, a->key);
	char *q;

	if (eq == NULL || eq == s || eq[1] == '\0' || strlen(s) > 200)
		usage_error("%s: %s takes QUESTION=ANSWER, as danger_now=yes, not '%s'", cmd->name,
		    a->option, s);
	if (answers == NULL)
		json_object_set_new(req, a->key, answers = json_object());
	q = xstrndup(s, (size_t)(eq - s));
	if (json_object_get(answers, q))
		usage_error("%s: %s answered twice", cmd->name, q);
	if (json_object_set_new(answers, q,
	        strspn(eq + 1, "0123456789") == strlen(eq + 1) && strlen(eq + 1) <= 4
	            ? json_integer(atoi(eq + 1))
	            : json_string(eq + 1)) != 0)
		usage_error("%s: %s is not valid UTF-8", cmd->name, a->option);
	free(q);
}

static void
arg_set(const struct command *cmd, json_t *req, const struct arg *a, const char *s)
{
	if (a->kind == ARG_ANSWER) {
		arg_answer(cmd, req, a, s);
		return;
	}
	if (json_object_get(req, a->key))
		usage_error("%s: %s given twice", cmd->name, a->option ? a->option : a->metavar);
	json_object_set_new(req, a->key, arg_value(cmd, a, s));
}

/* The remaining words, joined by spaces. */
static char *
join_words(char **argv, int argc)
{
	size_t n = 1;
	char *out;
	int i;

	for (i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	out = xcalloc(1, n);
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, argv[i]);
	}
	return out;
}

/* An option word of cmd: "--name", "--name=VALUE" or a "name=VALUE" setting. */
static const struct arg *
option_of(const struct command *cmd, const char *word, const char **value)
{
	const struct arg *a;
	size_t n;

	for (a = cmd->args; a->key; a++) {
		if (a->option == NULL)
			continue;
		n = strlen(a->option);
		if (a->option[n - 1] == '=' && strncmp(word, a->option, n) == 0) {
			*value = word + n;
			return a;
		}
		if (strncmp(word, a->option, n) == 0 && (word[n] == '\0' || word[n] == '=')) {
			*value = word[n] == '=' ? word + n + 1 : NULL;
			return a;
		}
	}
	return NULL;
}

static json_t *
parse_args(const struct command *cmd, int argc, char **argv)
{
	json_t *req = json_pack("{ss}", "cmd", cmd->name);
	const struct arg *a, *pos = cmd->args;
	const char *value;
	int i, options = 1;
	char *words;

	for (i = 0; i < argc; i++) {
		if (options && strcmp(argv[i], "--") == 0) {
			options = 0;
			continue;
		}
		if (options && strcmp(argv[i], "--json") == 0) {
			json_out = 1;
			continue;
		}
		a = options ? option_of(cmd, argv[i], &value) : NULL;
		if (a != NULL) {
			if (a->kind == ARG_FLAG && value != NULL)
				usage_error("%s: %s takes no value", cmd->name, a->option);
			if (a->kind != ARG_FLAG && value == NULL && ++i == argc)
				usage_error(
				    "%s: %s needs a value (%s)", cmd->name, a->option, a->metavar);
			arg_set(cmd, req, a, a->kind == ARG_FLAG ? "" : value ? value : argv[i]);
			continue;
		}
		if (options && argv[i][0] == '-' && argv[i][1] != '\0')
			usage_error("%s: unknown option %s", cmd->name, argv[i]);
		while (pos->key && pos->option != NULL)
			pos++;
		if (pos->key == NULL)
			usage_error("%s: unexpected argument '%s'", cmd->name, argv[i]);
		if (pos->kind == ARG_WORDS) {
			words = join_words(argv + i, argc - i);
			arg_set(cmd, req, pos, words);
			free(words);
			break;
		}
		arg_set(cmd, req, pos++, argv[i]);
	}
	for (a = cmd->args; a->key; a++)
		if (a->required && !json_object_get(req, a->key))
			usage_of(cmd);
	if (cmd->check && (value = cmd->check(req)) != NULL)
		usage_error("%s", value);
	return req;
}

/* The daemon takes request lines of at most MAX_REQUEST bytes. */
static void
check_length(const struct command *cmd, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);

	if (strlen(text) > MAX_REQUEST)
		usage_error("%s: the request is longer than the console's %d bytes", cmd->name,
		    MAX_REQUEST);
	free(text);
}

/* --- the connection ------------------------------------------------------- */

/* Connects c (its buffer made once); -1 with errno when nobody answers. */
static int
conn_try(struct conn *c, const char *path)
{
	struct sockaddr_un sun;

	c->path = path;
	c->start = c->end = c->scanned = 0;
	if (c->buf == NULL)
		c->buf = xmalloc(MAX_LINE + 65536);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		die(EXIT_NODAEMON, "cannot connect to %s: the path is too long for a socket", path);
	strcpy(sun.sun_path, path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die(EXIT_NODAEMON, "socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return 0;
	close(c->fd);
	c->fd = -1;
	return -1;
}

static void
conn_open(struct conn *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	if (conn_try(c, path) == 0)
		return;
	if (errno == ENOENT || errno == ECONNREFUSED)
		die(EXIT_NODAEMON, "cannot connect to %s: %s (is hotline111d running?)", path,
		    strerror(errno));
	die(EXIT_NODAEMON, "cannot connect to %s: %s", path, strerror(errno));
}

static void
conn_send(struct conn *c, const char *data, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(c->fd, data, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return; /* the daemon hung up: its last words, if any, are read next */
		data += w;
		n -= (size_t)w;
	}
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for input until deadline_ms (monotonic; < 0: for ever). */
static void
conn_wait(struct conn *c, long long deadline_ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	long long left;
	int r;

	for (;;) {
		left = deadline_ms < 0 ? -1 : deadline_ms - now_ms();
		if (deadline_ms >= 0 && left <= 0)
			die(EXIT_FAIL, "no reply from the daemon at %s within %d s", c->path,
			    REPLY_TIMEOUT_MS / 1000);
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return;
		if (r < 0 && errno != EINTR)
			die(EXIT_FAIL, "poll: %s", strerror(errno));
	}
}

/*
 * The next line from the daemon without its newline, NUL-terminated; NULL
 * when the daemon closed the connection between lines.
 */
static char *
conn_line(struct conn *c, long long deadline_ms, size_t *len)
{
	char *nl, *line;
	ssize_t r;

	for (;;) {
		nl = memchr(c->buf + c->scanned, '\n', c->end - c->scanned);
		if (nl != NULL) {
			line = c->buf + c->start;
			if ((size_t)(nl - line) > MAX_LINE)
				die(EXIT_FAIL, "the daemon sent a line longer than 1 MiB");
			*nl = '\0';
			*len = (size_t)(nl - line);
			c->start = c->scanned = (size_t)(nl - c->buf) + 1;
			return line;
		}
		if (c->end - c->start > MAX_LINE)
			die(EXIT_FAIL, "the daemon sent a line longer than 1 MiB");
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->scanned = c->end;
		c->start = 0;
		conn_wait(c, deadline_ms);
		r = read(c->fd, c->buf + c->end, MAX_LINE + 65536 - c->end);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0 && errno != ECONNRESET)
			die(EXIT_FAIL, "reading from %s: %s", c->path, strerror(errno));
		if (r <= 0 && c->end > 0 && !c->lenient)
			die(EXIT_FAIL, "the daemon closed the connection in the middle of a line");
		if (r <= 0)
			return NULL;
		c->end += (size_t)r;
	}
}

static json_t *
parse_line(const char *line, size_t len)
{
	json_error_t err;
	json_t *j = json_loadb(line, len, 0, &err);

	if (j == NULL) {
		char *why = safe(err.text);

		die(EXIT_FAIL, "the daemon sent invalid JSON (%s)", why);
	}
	if (!json_is_object(j))
		die(EXIT_FAIL, "the daemon sent JSON that is not an object");
	return j;
}

/* A reply with "ok":false ends the program with its detail. */
static void
check_refusal(json_t *reply)
{
	const char *detail = jstr(reply, "detail"), *code = jstr(reply, "error");

	if (!json_is_false(json_object_get(reply, "ok")))
		return;
	die(EXIT_FAIL, "%s", safe(detail ? detail : code ? code : "the daemon refused"));
}

static void
read_hello(struct conn *c)
{
	size_t len;
	char *line = conn_line(c, now_ms() + REPLY_TIMEOUT_MS, &len);
	json_t *hello;

	if (line == NULL)
		die(EXIT_FAIL, "the daemon at %s closed the connection before greeting", c->path);
	hello = parse_line(line, len);
	check_refusal(hello);
	if (!jstr(hello, "hello") || strcmp(jstr(hello, "hello"), "hotline111-console") != 0)
		die(EXIT_FAIL, "%s is not a hotline111 console socket", c->path);
	if (jint(hello, "proto", 0) != CONSOLE_PROTO)
		die(EXIT_FAIL, "the daemon speaks console protocol %lld, this program %d",
		    jint(hello, "proto", 0), CONSOLE_PROTO);
	json_decref(hello);
}

/* --- --json: the result exactly as the daemon wrote it ------------------- */

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end && *p != '"'; p++)
		if (*p == '\\')
			p++;
	return p + 1;
}

static const char *
skip_value(const char *p, const char *end)
{
	int depth = 0;

	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !strchr(",}] \t\r\n", *p))
			p++;
		return p;
	}
	for (; p < end; p++) {
		if (*p == '"')
			p = skip_string(p, end) - 1;
		else if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
	}
	return p;
}

/*
 * Where the top-level member key's value lies in a line that is already
 * known to be a valid JSON object.
 */
static int
raw_member(const char *line, size_t len, const char *key, const char **from, const char **to)
{
	const char *p = skip_ws(line, line + len), *end = line + len, *k;
	json_t *name;
	int same;

	for (p = skip_ws(p + 1, end); p < end && *p == '"'; p = skip_ws(p + 1, end)) {
		k = p;
		p = skip_string(p, end);
		name = json_loadb(k, (size_t)(p - k), JSON_DECODE_ANY, NULL);
		same = name && strcmp(json_string_value(name), key) == 0;
		json_decref(name);
		p = skip_ws(skip_ws(p, end) + 1, end); /* past ':' */
		*from = p;
		*to = p = skip_value(p, end);
		if (same)
			return 1;
		p = skip_ws(p, end);
		if (*p != ',')
			break;
	}
	return 0;
}

static void
print_raw_result(const char *line, size_t len)
{
	const char *from, *to;

	if (!raw_member(line, len, "result", &from, &to))
		die(EXIT_FAIL, "the daemon's reply has no result");
	fwrite(from, 1, (size_t)(to - from), stdout);
	putchar('\n');
}

/* --- main ------------------------------------------------------------------- */

static void
flush_or_die(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		die(EXIT_FAIL, "writing the output: %s", strerror(errno));
}

/* The reply to the request just sent, skipping alerts; NULL when the
 * daemon closed the connection first. */
static json_t *
read_reply(struct conn *c, json_t *req, const char **line, size_t *len)
{
	long long deadline = now_ms() + REPLY_TIMEOUT_MS;
	json_t *reply, *id;

	for (;;) {
		if ((*line = conn_line(c, deadline, len)) == NULL)
			return NULL;
		reply = parse_line(*line, *len);
		if (json_object_get(reply, "alert") == NULL)
			break;
		json_decref(reply);
	}
	id = json_object_get(reply, "id");
	if (id != NULL && !json_equal(id, json_object_get(req, "id")))
		die(EXIT_FAIL, "the daemon's reply carries another request's id");
	check_refusal(reply);
	if (!json_is_true(json_object_get(reply, "ok")) ||
	    !json_is_object(json_object_get(reply, "result")))
		die(EXIT_FAIL, "the daemon's reply has no result");
	return reply;
}

static void
send_request(struct conn *c, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);

	conn_send(c, text, strlen(text));
	conn_send(c, "\n", 1);
	free(text);
}

/* One attempt at tailing again: connected, greeted, the request taken. */
static int
tail_again(struct conn *c, json_t *req)
{
	const char *line;
	json_t *reply;
	size_t len;

	if (conn_try(c, c->path) != 0)
		return -1;
	if ((line = conn_line(c, now_ms() + REPLY_TIMEOUT_MS, &len)) == NULL)
		goto closed;
	json_decref(parse_line(line, len)); /* the hello; a refusal comes as the reply */
	send_request(c, req);
	if ((reply = read_reply(c, req, &line, &len)) == NULL)
		goto closed;
	json_decref(reply);
	return 0;
closed:
	close(c->fd);
	return -1;
}

/*
 * The daemon went away (a restart, a stop): tail waits for it, connecting
 * again with backoff until it answers, and says so on standard error. What
 * was pushed meanwhile is not replayed: the escalation log holds it.
 */
static void
reconnect(struct conn *c, json_t *req)
{
	int backoff_ms = 100, tries = 0;

	close(c->fd);
	fprintf(stderr, "hotline111: the daemon closed the connection; reconnecting to %s\n",
	    c->path);
	fflush(stderr);
	while (tail_again(c, req) != 0) {
		tries++;
		poll(NULL, 0, backoff_ms);
		backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
	}
	fprintf(stderr, "hotline111: reconnected to %s after %d attempts; alerts sent while "
	    "disconnected are in the escalation log\n", c->path, tries + 1);
	fflush(stderr);
}

static void
tail_alerts(struct conn *c, json_t *req)
{
	size_t len;
	char *line;
	json_t *a;

	fprintf(stderr, "hotline111: tailing %s; interrupt to stop\n", c->path);
	c->lenient = 1;
	for (;;) {
		if ((line = conn_line(c, -1, &len)) == NULL) {
			reconnect(c, req);
			continue;
		}
		a = parse_line(line, len);
		if (json_object_get(a, "alert") != NULL) {
			if (json_out)
				printf("%s\n", line);
			else
				print_alert(a);
			flush_or_die();
		}
		json_decref(a);
	}
}

/* Sends one request and waits for its reply, skipping alerts: the reply,
 * whose "result" is an object, and its line as sent (valid until the next
 * read). A refusal ends the program with its detail. */
static json_t *
exchange(struct conn *c, json_t *req, const char **line, size_t *len)
{
	json_t *reply;

	send_request(c, req);
	if ((reply = read_reply(c, req, line, len)) == NULL)
		die(EXIT_FAIL, "the daemon closed the connection before replying");
	return reply;
}

/* Sends the request and handles its reply; alerts follow for tail. The
 * exit status the result means. */
static int
converse(struct conn *c, const struct command *cmd, json_t *req)
{
	const char *line;
	json_t *reply;
	size_t len;
	int rc;

	read_hello(c); /* may exit: nothing of ours is allocated yet */
	reply = exchange(c, req, &line, &len);
	if (json_out)
		print_raw_result(line, len);
	else
		cmd->print(json_object_get(reply, "result"));
	flush_or_die();
	rc = cmd->verdict != NULL ? cmd->verdict(json_object_get(reply, "result")) : EXIT_OK;
	json_decref(reply);
	if (cmd->stream)
		tail_alerts(c, req);
	return rc;
}

/* --- assess on a terminal --------------------------------------------------- */

/* One line typed, without its newline; NULL at the end of the input. */
static char *
read_answer(FILE *out)
{
	static char buf[256];
	size_t n;

	fputs("> ", out);
	fflush(out);
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		return NULL;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf + strspn(buf, " ");
}

/*
 * What a typed line answers, or NULL when it answers nothing the question
 * takes: the number of a listed answer, the answer itself, or, where the
 * question has a range, a whole number in it.
 */
static json_t *
typed_answer(json_t *q, const char *s)
{
	json_t *words = json_object_get(q, "answers"), *range = json_object_get(q, "range"), *w;
	int numeric = json_array_size(range) == 2, digits = strspn(s, "0123456789") == strlen(s);
	long long n = digits && strlen(s) <= 4 ? atoll(s) : -1;
	size_t i;

	if (numeric && digits)
		return n >= json_integer_value(json_array_get(range, 0)) &&
		               n <= json_integer_value(json_array_get(range, 1))
		           ? json_integer(n)
		           : NULL;
	if (digits && n >= 1 && (size_t)n <= json_array_size(words))
		return json_incref(json_array_get(words, (size_t)n - 1));
	json_array_foreach(words, i, w)
		if (json_is_string(w) && strcmp(json_string_value(w), s) == 0)
			return json_incref(w);
	return NULL;
}

/* The question, its hint, its answers numbered, and the case's answer. */
static void
ask(FILE *out, json_t *q, size_t i, size_t n)
{
	json_t *range = json_object_get(q, "range"), *w;
	char *text = field(q, "text"), *hint = jstr(q, "hint") ? safe(jstr(q, "hint")) : NULL;
	char *now = json_object_get(q, "answer") ? field(q, "answer") : NULL, *by = field(q, "by");
	size_t k;

	fprintf(out, "\n[%zu/%zu] %s\n", i + 1, n, text);
	if (hint != NULL)
		fprintf(out, "      %s\n", hint);
	if (json_array_size(range) == 2)
		fprintf(out, "      a number %lld..%lld", (long long)json_integer_value(
		    json_array_get(range, 0)), (long long)json_integer_value(json_array_get(range, 1)));
	json_array_foreach(json_object_get(q, "answers"), k, w)
	{
		char *word = fmt_value(w);

		fprintf(out, "%s%s", k == 0 ? (json_array_size(range) == 2 ? ", or " : "      ")
		                            : "   ", word ? word : "?");
		if (json_array_size(range) != 2)
			fprintf(out, " (%zu)", k + 1);
		free(word);
	}
	fprintf(out, "\n      Enter skips%s%s%s%s\n", now ? "; now: " : "", now ? now : "",
	    now ? ", by " : "", now ? by : "");
	free(text);
	free(hint);
	free(now);
	free(by);
}

/* Asks each question until it is answered or skipped; the answers given. */
static json_t *
ask_all(FILE *out, json_t *qs)
{
	json_t *answers = json_object(), *q, *a;
	size_t i;
	char *s;

	json_array_foreach(qs, i, q)
	{
		if (!jstr(q, "id"))
			continue;
		ask(out, q, i, json_array_size(qs));
		for (;;) {
			if ((s = read_answer(out)) == NULL) {
				fputc('\n', out);
				return answers; /* the end of the input: what was given stands */
			}
			if (*s == '\0')
				break;
			if ((a = typed_answer(q, s)) != NULL) {
				json_object_set_new(answers, jstr(q, "id"), a);
				break;
			}
			fprintf(out, "      not an answer to this question; try again, or Enter to "
			    "skip\n");
		}
	}
	return answers;
}

/* hotline111 assess CASE with no --answer: the questions, then the answers. */
static void
assess_interactive(struct conn *c, json_t *request)
{
	FILE *out = json_out ? stderr : stdout;
	json_t *ask_req = json_pack("{s:s, s:O, s:i}", "cmd", "questions", "case",
	    json_object_get(request, "case"), "id", 1);
	json_t *reply, *answers;
	const char *line;
	size_t len;

	read_hello(c);
	reply = exchange(c, ask_req, &line, &len);
	json_decref(ask_req);
	if (json_array_size(json_object_get(json_object_get(reply, "result"), "questions")) == 0)
		die(EXIT_FAIL, "the rules file asks no key questions");
	fprintf(out, "case %lld: the key questions; type the number of an answer\n",
	    jint(request, "case", 0));
	answers = ask_all(out, json_object_get(json_object_get(reply, "result"), "questions"));
	json_decref(reply);
	if (json_object_size(answers) == 0) {
		json_decref(answers);
		fprintf(out, "no answer given; nothing stored\n");
		return;
	}
	json_object_set_new(request, "answers", answers);
	json_object_set_new(request, "id", json_integer(2));
	fputc('\n', out);
	reply = exchange(c, request, &line, &len);
	if (json_out)
		print_raw_result(line, len);
	else
		print_assess(json_object_get(reply, "result"));
	flush_or_die();
	json_decref(reply);
}

/* The request, at file scope: die() may exit while it is alive, and then it
 * is still reachable, as LeakSanitizer wants of what lives until exit. */
static json_t *req;

int
main(int argc, char **argv)
{
	const char *path = getenv(SOCKET_ENV);
	const struct command *cmd;
	struct conn c;
	int i, rc = EXIT_OK;

	if (path == NULL || *path == '\0')
		path = DEFAULT_SOCKET;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-S") == 0 || strcmp(argv[i], "--socket") == 0) {
			if (++i == argc)
				usage_error("%s needs a socket path", argv[i - 1]);
			path = argv[i];
		} else if (strncmp(argv[i], "-S", 2) == 0)
			path = argv[i] + 2;
		else if (strncmp(argv[i], "--socket=", 9) == 0)
			path = argv[i] + 9;
		else if (strcmp(argv[i], "--json") == 0)
			json_out = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage_text(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("hotline111 %s (console protocol %d)\n", PACKAGE_VERSION,
			    CONSOLE_PROTO);
			return EXIT_OK;
		} else
			usage_error("unknown option %s (see hotline111 --help)", argv[i]);
	}
	if (i == argc)
		usage_error("no command given (see hotline111 --help)");
	if ((cmd = command_find(argv[i])) == NULL)
		usage_error("unknown command '%s' (see hotline111 --help)", argv[i]);
	req = parse_args(cmd, argc - i - 1, argv + i + 1);
	json_object_set_new(req, "id", json_integer(1));
	check_length(cmd, req);
	conn_open(&c, path);
	if (strcmp(cmd->name, "assess") == 0 && json_object_get(req, "answers") == NULL)
		assess_interactive(&c, req);
	else
		rc = converse(&c, cmd, req);
	json_decref(req);
	close(c.fd);
	free(c.buf);
	return rc;
}
