/*
 * console.c: the console server. A client sends one request at a time in
 * practice, but nothing relies on it: lines wait in the input buffer while a
 * request is in the database, so replies leave in request order. Alerts go
 * only to clients that asked for them with `tail`, and only between replies.
 */
#include "console.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "console_proto.h"
#include "db.h"
#include "escalation.h"
#include "log.h"
#include "netaddr.h"
#include "outcome.h"
#include "xmalloc.h"

#define REQUEST_MAX 65536
#define TAIL_BACKLOG_MAX (4 * 1024 * 1024) /* unread alerts before a tail is dropped */
#define REPLY_BACKLOG_MAX (1024 * 1024)    /* unread replies before we stop reading */

static const char *const role_names[] = CONSOLE_ROLE_NAMES;

struct client {
	TAILQ_ENTRY(client) entry;
	struct console *con;
	unsigned id;
	struct bufferevent *bev; /* NULL once closed */
	char name[64];
	char peer[64];
	enum console_role role;
	int busy;      /* a request is in the database */
	int skipping;  /* discarding an over-long request */
	int tailing;   /* 1: everything, 2: escalations only */
	int reaping;
	int in_process; /* inside process_input: a reply must not re-enter it */
	json_t *req_id; /* the running request's "id", echoed */
	json_t *answers; /* assess: the answers, while the case is read */
	char answers_case[24];
};
TAILQ_HEAD(client_list, client);

struct console {
	struct event_base *base;
	struct db *db;
	struct console_hooks hooks;
	const struct operator_list *operators; /* the running config's: replaced on reload */
	struct evconnlistener **listeners;
	char **paths;
	int nlisteners;
	struct client_list clients;
	size_t nclients;
	unsigned next_id;
	int stopped;
	int opened;    /* console_open: the schema is ready */
	int db_was_up; /* until its first connection, requests wait for it */
};

struct command {
	const char *name;
	enum console_role role;
	int changes;
	const char *args;
	const char *help;
	void (*run)(struct client *cl, json_t *req);
};

static void process_input(struct client *cl);
static void client_free_if_done(struct client *cl);
static const struct command commands[];

/* --- replies ----------------------------------------------------------- */

static void
send_json(struct client *cl, json_t *o)
{
	char *s;

	if (cl->bev == NULL)
		return;
	s = json_dumps(o, JSON_COMPACT);
	if (s == NULL)
		fatal("console: out of memory");
	bufferevent_write(cl->bev, s, strlen(s));
	bufferevent_write(cl->bev, "\n", 1);
	free(s);
}

/* Ends the running request: one reply line, then the next request may run. */
static void
finish(struct client *cl, json_t *reply)
{
	if (cl->req_id != NULL)
		json_object_set(reply, "id", cl->req_id);
	send_json(cl, reply);
	json_decref(reply);
	json_decref(cl->req_id);
	cl->req_id = NULL;
	cl->busy = 0;
	if (cl->bev == NULL)
		client_free_if_done(cl);
	else if (!cl->in_process)
		process_input(cl);
}

static void
reply_ok(struct client *cl, json_t *result)
{
	finish(cl, json_pack("{s:b, s:o}", "ok", 1, "result", result));
}

static void __attribute__((format(printf, 3, 4)))
reply_error(struct client *cl, const char *code, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	finish(cl, json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "detail", detail));
}

/* --- the database side of a command ------------------------------------ */

static const struct {
	const char *sqlstate, *code;
} refusals[] = {
	{ "H1400", "bad_request" },
	{ "H1403", "not_permitted" },
	{ "H1404", "not_found" },
	{ "H1409", "conflict" },
};

static void
db_reply(PGresult *res, void *arg)
{
	struct client *cl = arg;
	const char *state = db_sqlstate(res);
	json_t *result;

	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    (result = json_loads(PQgetvalue(res, 0, 0), 0, NULL)) != NULL) {
		reply_ok(cl, result);
		return;
	}
	for (size_t i = 0; res != NULL && i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strcmp(state, refusals[i].sqlstate) == 0) {
			reply_error(cl, refusals[i].code, "%s",
			    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
			return;
		}
	if (res != NULL)
		log_error("console[%u]: database refused a request: SQLSTATE %s", cl->id, state);
	reply_error(cl, "unavailable", res == NULL ? "the database connection was lost; try again" :
	    "the database refused the request (SQLSTATE %s)", state);
}

/* --- what a reply adds to the database's result ------------------------- */

/*
 * o's caller, masked as the logs mask them (log_mask_number, the one mask
 * of the project: the database keeps numbers whole).
 */
static void
mask_caller(json_t *o)
{
	const char *caller = json_string_value(json_object_get(o, "caller"));
	char *masked;

	if (caller == NULL)
		return;
	masked = xmalloc(strlen(caller) + 1);
	log_mask_number(masked, strlen(caller) + 1, caller);
	json_object_set_new(o, "caller", json_string(masked));
	free(masked);
}

/* The running rules' category labels, for people to read beside the ids
 * (hotline111(1)); --json keeps the ids and has the labels apart. */
static void
add_labels(struct client *cl, json_t *result)
{
	struct console *con = cl->con;
	json_t *labels = con->hooks.labels ? con->hooks.labels(con->hooks.arg) : NULL;

	json_object_set_new(result, "labels", labels != NULL ? labels : json_object());
}

/* --- key questions ------------------------------------------------------ */

/* The running rules' key questions (a new array; empty without rules). */
static json_t *
questions(struct client *cl)
{
	struct console *con = cl->con;
	json_t *qs = con->hooks.questions ? con->hooks.questions(con->hooks.arg) : NULL;

	return qs != NULL ? qs : json_array();
}

/* Whether answered, an array of ids or of {"question":id,…}, names id. */
static int
answered(json_t *list, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *q = json_is_string(e) ? json_string_value(e) :
		    json_string_value(json_object_get(e, "question"));

		if (q != NULL && strcmp(q, id) == 0)
			return 1;
	}
	return 0;
}

/* The ids of the questions qs that list leaves unanswered. */
static json_t *
unanswered(json_t *qs, json_t *list)
{
	json_t *out = json_array(), *q;
	size_t i;

	json_array_foreach(qs, i, q) {
		const char *id = json_string_value(json_object_get(q, "id"));

		if (id != NULL && !answered(list, id))
			json_array_append_new(out, json_string(id));
	}
	return out;
}

/* A queue row: its "answered" ids become "unanswered" ones, for the P1
 * and P2 cases only, the ones whose questions must not wait. */
static void
mark_unanswered(json_t *qs, json_t *row)
{
	json_int_t prio = json_integer_value(json_object_get(row, "priority"));

	if (prio >= 1 && prio <= 2)
		json_object_set_new(row, "unanswered",
		    unanswered(qs, json_object_get(row, "answered")));
	json_object_del(row, "answered");
}

static void
queue_reply(PGresult *res, void *arg)
{
	json_t *result, *c, *qs;
	size_t i;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    (result = json_loads(PQgetvalue(res, 0, 0), 0, NULL)) == NULL) {
		db_reply(res, arg);
		return;
	}
	qs = questions(arg);
	json_array_foreach(json_object_get(result, "cases"), i, c) {
		mark_unanswered(qs, c);
		mask_caller(c);
	}
	json_decref(qs);
	add_labels(arg, result);
	reply_ok(arg, result);
}

/* While the database is lost, or not there yet (the daemon started
 * without it), a request is refused at once: an operator should know. In
 * the first moments of a connection being made it waits instead. */
static int
db_away(const struct console *con)
{
	return !db_is_up(con->db) && (con->db_was_up || !con->opened);
}

static void
query_then(struct client *cl, const char *sql, int n, const char *const *params,
    void (*done)(PGresult *, void *))
{
	if (db_away(cl->con)) {
		reply_error(cl, "unavailable", "the database is unreachable; try again");
		return;
	}
	db_query(cl->con->db, sql, n, params, done, cl);
}

static void
query(struct client *cl, const char *sql, int n, const char *const *params)
{
	query_then(cl, sql, n, params, db_reply);
}

/* --- arguments --------------------------------------------------------- */

/* An integer argument in range, as text for a query parameter; 0 if bad. */
static int
arg_int(struct client *cl, json_t *req, const char *key, long long lo, long long hi,
    int required, char *buf, size_t len)
{
	json_t *v = json_object_get(req, key);

	if (v == NULL || json_is_null(v)) {
		if (required) {
			reply_error(cl, "bad_request", "%s: required", key);
			return 0;
		}
		buf[0] = '\0';
		return 1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		reply_error(cl, "bad_request", "%s: must be an integer %lld..%lld", key, lo, hi);
		return 0;
	}
	snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	return 1;
}

/* A string argument of 1..max bytes, or NULL when absent and optional. */
static int
arg_str(struct client *cl, json_t *req, const char *key, size_t max, int required,
    const char **out)
{
	json_t *v = json_object_get(req, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			reply_error(cl, "bad_request", "%s: required", key);
		return !required;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
		reply_error(cl, "bad_request", "%s: must be a string of 1..%zu bytes", key, max);
		return 0;
	}
	*out = json_string_value(v);
	return 1;
}

static int
arg_bool(struct client *cl, json_t *req, const char *key, int *out)
{
	json_t *v = json_object_get(req, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 1;
	if (!json_is_boolean(v)) {
		reply_error(cl, "bad_request", "%s: must be true or false", key);
		return 0;
	}
	*out = json_is_true(v);
	return 1;
}

#define CASE_ARG(cl, req, buf) arg_int(cl, req, "case", 1, INT64_MAX, 1, buf, sizeof(buf))

/* --- commands ---------------------------------------------------------- */

static void
cmd_help(struct client *cl, json_t *req)
{
	json_t *list = json_array();

	for (const struct command *c = commands; c->name != NULL; c++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:s, s:s}", "name", c->name,
		    "role", role_names[c->role], "changes", c->changes, "args", c->args, "help",
		    c->help));
	reply_ok(cl, json_pack("{s:o}", "commands", list));
}

/* A name of console.operators. */
static int
operator_known(const struct console *con, const char *name)
{
	for (int i = 0; i < con->operators->n; i++)
		if (strcmp(con->operators->v[i].name, name) == 0)
			return 1;
	return 0;
}

/* A category of the running rules, or "none" when none_ok; else refused
 * with the list to choose from. */
static int
category_arg(struct client *cl, const char *id, int none_ok)
{
	struct console *con = cl->con;
	json_t *labels;
	const char *k;
	json_t *v;
	char list[384];
	size_t n = 0;

	if ((none_ok && strcmp(id, "none") == 0) || con->hooks.category_ok == NULL ||
	    con->hooks.category_ok(id, con->hooks.arg))
		return 1;
	list[0] = '\0';
	labels = con->hooks.labels ? con->hooks.labels(con->hooks.arg) : json_object();
	json_object_foreach(labels, k, v)
		if (n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", k);
	json_decref(labels);
	reply_error(cl, "bad_request", "category: no category \"%.64s\" in the rules file; "
	    "the categories are %s%s", id, list, none_ok ? ", or none" : "");
	return 0;
}

/* The key question ids of the running rules, as a JSON array's text. */
static char *
question_ids(struct client *cl)
{
	json_t *qs = questions(cl), *ids = json_array(), *q;
	size_t i;
	char *text;

	json_array_foreach(qs, i, q) {
		json_t *id = json_object_get(q, "id");

		if (json_is_string(id))
			json_array_append(ids, id);
	}
	text = json_dumps(ids, JSON_COMPACT);
	json_decref(ids);
	json_decref(qs);
	return text;
}

/*
 * queue, with its filters: each one narrows the list, and every one is
 * a query parameter. An operator filter names someone who can own a case
 * (console.operators, or oneself), or none for the unclaimed cases.
 */
static void
cmd_queue(struct client *cl, json_t *req)
{
	char prio[8], *ids = NULL;
	int mine, unanswered;
	const char *op, *province, *category;
	const char *params[5];

	if (!arg_int(cl, req, "priority", 1, 4, 0, prio, sizeof(prio)) ||
	    !arg_bool(cl, req, "mine", &mine) || !arg_str(cl, req, "operator", 64, 0, &op) ||
	    !arg_str(cl, req, "province", 128, 0, &province) ||
	    !arg_str(cl, req, "category", 64, 0, &category) ||
	    !arg_bool(cl, req, "unanswered", &unanswered))
		return;
	if (mine && op != NULL) {
		reply_error(cl, "bad_request", "mine, operator: one or the other");
		return;
	}
	if (op != NULL && strcmp(op, "none") != 0 && strcmp(op, cl->name) != 0 &&
	    !operator_known(cl->con, op)) {
		reply_error(cl, "bad_request", "operator: no console operator named \"%.64s\" "
		    "(console.operators), and not none", op);
		return;
	}
	if (category != NULL && !category_arg(cl, category, 1))
		return;
	if (unanswered)
		ids = question_ids(cl);
	params[0] = prio[0] ? prio : NULL;
	params[1] = mine ? cl->name : op;
	params[2] = province;
	params[3] = category;
	params[4] = ids;
	query_then(cl, "SELECT h111_console_queue($1::int, $2, $3, $4, $5::jsonb)", 5, params,
	    queue_reply);
	free(ids);
}

static void show_reply(PGresult *res, void *arg);

static void
cmd_show(struct client *cl, json_t *req)
{
	char id[24];
	const char *params[1] = { id };

	if (CASE_ARG(cl, req, id))
		query_then(cl, "SELECT h111_console_show($1::bigint)", 1, params, show_reply);
}

/* A result of the database (or an error reply): the object, or NULL. */
static json_t *
result_of(PGresult *res)
{
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return NULL;
	return json_loads(PQgetvalue(res, 0, 0), 0, NULL);
}

/*
 * show, with the key questions the case has not answered. The caller's
 * number is whole for the case's owner, who may call back, and for
 * supervisors; masked for the other operators.
 */
static void
show_reply(PGresult *res, void *arg)
{
	struct client *cl = arg;
	json_t *result = result_of(res), *qs, *c;
	const char *owner;

	if (result == NULL) {
		db_reply(res, arg);
		return;
	}
	qs = questions(cl);
	json_object_set_new(result, "unanswered", unanswered(qs, json_object_get(result,
	    "answers")));
	json_decref(qs);
	c = json_object_get(result, "case");
	owner = json_string_value(json_object_get(c, "operator"));
	if (cl->role < CONSOLE_SUPERVISOR && (owner == NULL || strcmp(owner, cl->name) != 0))
		mask_caller(c);
	add_labels(cl, result);
	reply_ok(cl, result);
}

/* A result for people to read, with the category labels. */
static void
labelled_reply(PGresult *res, void *arg)
{
	json_t *result = result_of(res);

	if (result == NULL) {
		db_reply(res, arg);
		return;
	}
	add_labels(arg, result);
	reply_ok(arg, result);
}

/* The case's answers (an object by question) laid on the questions. */
static void
questions_reply(PGresult *res, void *arg)
{
	json_t *result = result_of(res), *qs, *q, *given;
	size_t i;

	if (result == NULL) {
		db_reply(res, arg);
		return;
	}
	qs = questions(arg);
	given = json_object_get(result, "answers");
	json_array_foreach(qs, i, q) {
		json_t *a = json_object_get(given, json_string_value(json_object_get(q, "id")));

		if (json_is_object(a))
			json_object_update(q, a);
	}
	json_object_set_new(result, "questions", qs);
	reply_ok(arg, result);
}

static void
cmd_questions(struct client *cl, json_t *req)
{
	char id[24];
	const char *params[1] = { id };

	if (CASE_ARG(cl, req, id))
		query_then(cl, "SELECT h111_console_questions($1::bigint)", 1, params,
		    questions_reply);
}

/* assess, last step: the answers stored, what the case still lacks. */
static void
assess_reply(PGresult *res, void *arg)
{
	json_t *result = result_of(res), *qs, *given, *list;
	const char *k;
	json_t *v;

	if (result == NULL) {
		db_reply(res, arg);
		return;
	}
	qs = questions(arg);
	given = json_object_get(result, "answers");
	list = json_array();
	json_object_foreach(given, k, v)
		json_array_append_new(list, json_string(k));
	json_object_set_new(result, "unanswered", unanswered(qs, list));
	json_decref(list);
	json_decref(qs);
	reply_ok(arg, result);
}

/*
 * assess, second step: the case as the database holds it, with these
 * answers over its own, triaged whole; then stored. Another answer given
 * in between is not in this decision, but in its own: triage only raises.
 */
static void
assess_context(PGresult *res, void *arg)
{
	struct client *cl = arg;
	json_t *ctx = result_of(res), *all, *d = NULL;
	char *answers = NULL, *decision = NULL;
	const char *params[5];

	if (ctx == NULL) {
		json_decref(cl->answers);
		cl->answers = NULL;
		db_reply(res, arg);
		return;
	}
	if (!json_is_object(all = json_object_get(ctx, "answers")))
		json_object_set_new(ctx, "answers", all = json_object());
	json_object_update(all, cl->answers);
	if (cl->con->hooks.decide_case != NULL)
		d = cl->con->hooks.decide_case(ctx, cl->con->hooks.arg);
	if (d != NULL)
		decision = json_dumps(d, JSON_COMPACT);
	answers = json_dumps(cl->answers, JSON_COMPACT);
	params[0] = cl->answers_case;
	params[1] = answers;
	params[2] = decision;
	params[3] = cl->name;
	params[4] = cl->peer;
	query_then(cl, "SELECT h111_console_assess($1::bigint, $2::jsonb, $3::jsonb, $4, $5)", 5,
	    params, assess_reply);
	json_decref(cl->answers);
	cl->answers = NULL;
	free(answers);
	free(decision);
	json_decref(d);
	json_decref(ctx);
}

static void
cmd_assess(struct client *cl, json_t *req)
{
	char id[24], err[256];
	json_t *answers = json_object_get(req, "answers");
	const char *params[1] = { id };

	if (!CASE_ARG(cl, req, id))
		return;
	if (answers == NULL || json_is_null(answers)) {
		reply_error(cl, "bad_request", "answers: required, {\"question\": \"answer\", …}");
		return;
	}
	err[0] = '\0';
	if (cl->con->hooks.answers_check == NULL ||
	    cl->con->hooks.answers_check(answers, err, sizeof(err), cl->con->hooks.arg) != 0) {
		reply_error(cl, "bad_request", "%s", err[0] ? err : "answers: not taken");
		return;
	}
	cl->answers = json_incref(answers);
	snprintf(cl->answers_case, sizeof(cl->answers_case), "%s", id);
	query_then(cl, "SELECT h111_case_context($1::bigint)", 1, params, assess_context);
}

static void
own(struct client *cl, json_t *req, int claim)
{
	char id[24];
	const char *params[5] = { id, claim ? "t" : "f", cl->name, cl->peer,
		cl->role >= CONSOLE_SUPERVISOR ? "t" : "f" };

	if (CASE_ARG(cl, req, id))
		query(cl, "SELECT h111_console_own($1::bigint, $2::boolean, $3, $4, $5::boolean)", 5,
		    params);
}

static void
cmd_claim(struct client *cl, json_t *req)
{
	own(cl, req, 1);
}

static void
cmd_release(struct client *cl, json_t *req)
{
	own(cl, req, 0);
}

/* assign CASE OPERATOR: to someone of console.operators only. */
static void
cmd_assign(struct client *cl, json_t *req)
{
	char id[24];
	const char *op;
	const char *params[4] = { id, NULL, cl->name, cl->peer };

	if (!CASE_ARG(cl, req, id) || !arg_str(cl, req, "operator", 64, 1, &op))
		return;
	if (!operator_known(cl->con, op)) {
		reply_error(cl, "not_found", "no console operator named \"%.64s\" "
		    "(console.operators)", op);
		return;
	}
	params[1] = op;
	query(cl, "SELECT h111_console_assign($1::bigint, $2, $3, $4)", 4, params);
}

#define LIMIT_DEFAULT "100" /* find and escalations: rows listed at most */

/*
 * A phone number as a caller's cases are found by: digits, a + first,
 * with the spaces, dots, dashes and brackets people write taken out; 3 to
 * 20 digits. 0 (refused) when it is anything else.
 */
static int
caller_arg(struct client *cl, json_t *req, char *out, size_t len)
{
	const char *s, *p;
	size_t n = 0, digits = 0;

	if (!arg_str(cl, req, "caller", 64, 1, &s))
		return 0;
	for (p = s; *p != '\0' && n + 1 < len; p++) {
		if (strchr(" .-()", *p) != NULL)
			continue;
		if (!((*p >= '0' && *p <= '9') || (*p == '+' && n == 0)))
			break;
		digits += *p != '+';
		out[n++] = *p;
	}
	out[n] = '\0';
	if (*p != '\0' || digits < 3 || digits > 20) {
		reply_error(cl, "bad_request", "caller: a phone number, 3 to 20 digits with an "
		    "optional + first");
		return 0;
	}
	return 1;
}

/* find --caller: the supervisor asked with the number, so it comes back
 * whole; the audit row keeps it masked. */
static void
cmd_find(struct client *cl, json_t *req)
{
	char caller[72], masked[72], limit[8];
	const char *params[5] = { caller, masked, limit, cl->name, cl->peer };

	if (!caller_arg(cl, req, caller, sizeof(caller)) ||
	    !arg_int(cl, req, "limit", 1, 1000, 0, limit, sizeof(limit)))
		return;
	if (limit[0] == '\0')
		snprintf(limit, sizeof(limit), "%s", LIMIT_DEFAULT);
	log_mask_number(masked, sizeof(masked), caller);
	query_then(cl, "SELECT h111_console_find($1, $2, $3::int, $4, $5)", 5, params,
	    labelled_reply);
}

static void
escalations_reply(PGresult *res, void *arg)
{
	json_t *result = result_of(res), *e;
	size_t i;

	if (result == NULL) {
		db_reply(res, arg);
		return;
	}
	json_array_foreach(json_object_get(result, "escalations"), i, e)
		mask_caller(e);
	add_labels(arg, result);
	reply_ok(arg, result);
}

static void
cmd_escalations(struct client *cl, json_t *req)
{
	char limit[8];
	int all;
	const char *params[2] = { NULL, limit };

	if (!arg_bool(cl, req, "all", &all) ||
	    !arg_int(cl, req, "limit", 1, 1000, 0, limit, sizeof(limit)))
		return;
	if (limit[0] == '\0')
		snprintf(limit, sizeof(limit), "%s", LIMIT_DEFAULT);
	params[0] = all ? "t" : "f";
	query_then(cl, "SELECT h111_console_escalations($1::boolean, $2::int)", 2, params,
	    escalations_reply);
}

static void
cmd_note(struct client *cl, json_t *req)
{
	char id[24], *decision = NULL;
	const char *text;
	const char *params[5];
	json_t *d;

	if (!CASE_ARG(cl, req, id) || !arg_str(cl, req, "text", 32768, 1, &text))
		return;
	d = cl->con->hooks.decide ? cl->con->hooks.decide(text, cl->con->hooks.arg) : NULL;
	if (d != NULL)
		decision = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	params[0] = id;
	params[1] = text;
	params[2] = decision;
	params[3] = cl->name;
	params[4] = cl->peer;
	query(cl, "SELECT h111_console_note($1::bigint, $2, $3::jsonb, $4, $5)", 5, params);
	free(decision);
}

static void
cmd_set(struct client *cl, json_t *req)
{
	char id[24], prio[8];
	const char *category, *reason;
	const char *params[7];

	if (!CASE_ARG(cl, req, id) || !arg_str(cl, req, "category", 64, 0, &category) ||
	    !arg_int(cl, req, "priority", 1, 4, 0, prio, sizeof(prio)) ||
	    !arg_str(cl, req, "reason", 1024, 0, &reason))
		return;
	if (category == NULL && prio[0] == '\0') {
		reply_error(cl, "bad_request", "set: give category, priority or both");
		return;
	}
	if (category != NULL && cl->con->hooks.category_ok != NULL &&
	    !cl->con->hooks.category_ok(category, cl->con->hooks.arg)) {
		reply_error(cl, "bad_request", "category: not a category of the rules file");
		return;
	}
	params[0] = id;
	params[1] = category;
	params[2] = prio[0] ? prio : NULL;
	params[3] = reason;
	params[4] = cl->name;
	params[5] = cl->peer;
	params[6] = cl->role >= CONSOLE_SUPERVISOR ? "t" : "f";
	query(cl, "SELECT h111_console_set($1::bigint, $2, $3::int, $4, $5, $6, $7::boolean)", 7,
	    params);
}

static void
cmd_close(struct client *cl, json_t *req)
{
	char id[24];
	const char *outcome, *to;
	const char *params[5];

	if (!CASE_ARG(cl, req, id) || !arg_str(cl, req, "outcome", 32, 1, &outcome) ||
	    !arg_str(cl, req, "referred_to", 256, 0, &to))
		return;
	if (!outcome_known(outcome)) {
		reply_error(cl, "bad_request", "outcome: must be one of %s", OUTCOME_LIST);
		return;
	}
	if (strcmp(outcome, "referred") == 0 && to == NULL) {
		reply_error(cl, "bad_request", "referred_to: required with outcome referred");
		return;
	}
	params[0] = id;
	params[1] = outcome;
	params[2] = to;
	params[3] = cl->name;
	params[4] = cl->peer;
	query(cl, "SELECT h111_console_close($1::bigint, $2, $3, $4, $5)", 5, params);
}

static void
cmd_ack(struct client *cl, json_t *req)
{
	char id[24];
	const char *params[3] = { id, cl->name, cl->peer };

	if (arg_int(cl, req, "escalation", 1, INT64_MAX, 1, id, sizeof(id)))
		query(cl, "SELECT h111_console_ack($1::bigint, $2, $3)", 3, params);
}

static void
hold(struct client *cl, json_t *req, int on)
{
	char id[24];
	const char *reason;
	const char *params[5];

	if (!CASE_ARG(cl, req, id) || !arg_str(cl, req, "reason", 1024, on, &reason))
		return;
	params[0] = id;
	params[1] = on ? "t" : "f";
	params[2] = reason;
	params[3] = cl->name;
	params[4] = cl->peer;
	query(cl, "SELECT h111_console_hold($1::bigint, $2::boolean, $3, $4, $5)", 5, params);
}

static void
cmd_hold(struct client *cl, json_t *req)
{
	hold(cl, req, 1);
}

static void
cmd_resume(struct client *cl, json_t *req)
{
	hold(cl, req, 0);
}

static void
cmd_tail(struct client *cl, json_t *req)
{
	int only;

	if (!arg_bool(cl, req, "escalations", &only))
		return;
	cl->tailing = only ? 2 : 1;
	reply_ok(cl, json_pack("{s:b}", "tailing", 1));
}

/* YYYY-MM-DD naming a real day. */
static int
valid_day(const char *s)
{
	struct tm tm = { 0 };
	int used = 0;

	if (s == NULL || strlen(s) != 10 ||
	    sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &used) != 3 ||
	    used != 10 || s[4] != '-' || s[7] != '-' || tm.tm_year < 2000 || tm.tm_year > 2200)
		return 0;
	int y = tm.tm_year, m = tm.tm_mon, d = tm.tm_mday;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_hour = 12;
	if (timegm(&tm) == -1)
		return 0;
	return tm.tm_year == y - 1900 && tm.tm_mon == m - 1 && tm.tm_mday == d;
}

/* The raised cases a triage report lists at most: the reply stays far below
 * the line a console program takes (1 MiB). raised_total counts them all. */
#define REPORT_RAISED_MAX "1000"

/*
 * report: the published figures for a period (from and to required), or
 * with triage the rules against people's decisions, either end of the
 * period open. One statement, so one snapshot.
 */
static void
cmd_report(struct client *cl, json_t *req)
{
	const char *from, *to;
	const char *params[3];
	int triage;

	if (!arg_bool(cl, req, "triage", &triage) ||
	    !arg_str(cl, req, "from", 10, !triage, &from) ||
	    !arg_str(cl, req, "to", 10, !triage, &to))
		return;
	if ((from != NULL && !valid_day(from)) || (to != NULL && !valid_day(to)) ||
	    (from != NULL && to != NULL && strcmp(from, to) > 0)) {
		reply_error(cl, "bad_request", "from, to: days YYYY-MM-DD, from not after to");
		return;
	}
	params[0] = from;
	params[1] = to;
	params[2] = REPORT_RAISED_MAX;
	if (triage)
		query_then(cl, "SELECT h111_console_report_triage($1::date, $2::date, $3::int)", 3,
		    params, labelled_reply);
	else
		query_then(cl, "SELECT h111_console_report($1::date, $2::date)", 2, params,
		    labelled_reply);
}

/* The database's figures, merged with the daemon's own. */
static void
status_reply(PGresult *res, void *arg)
{
	struct client *cl = arg;
	json_t *st = cl->con->hooks.status ? cl->con->hooks.status(cl->con->hooks.arg) :
	    json_object();
	json_t *db = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ?
	    json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;

	json_object_set_new(st, "consoles", json_integer((json_int_t)cl->con->nclients));
	if (db != NULL)
		json_object_update(st, db);
	json_decref(db);
	reply_ok(cl, st);
}

static void
cmd_status(struct client *cl, json_t *req)
{
	if (db_away(cl->con)) {
		status_reply(NULL, cl);
		return;
	}
	db_query(cl->con->db, "SELECT h111_console_status()", 0, NULL, status_reply, cl);
}

static void
cmd_reload(struct client *cl, json_t *req)
{
	char err[1024];
	int rules = cl->con->hooks.reload ? cl->con->hooks.reload(cl->con->hooks.arg, err,
	    sizeof(err)) : -1;

	if (rules < 0)
		reply_error(cl, "conflict", "%s", err);
	else
		reply_ok(cl, json_pack("{s:b, s:i}", "reloaded", 1, "rules", rules));
}

static const struct command commands[] = {
	{ CONSOLE_CMD_HELP, cmd_help },
	{ CONSOLE_CMD_QUEUE, cmd_queue },
	{ CONSOLE_CMD_SHOW, cmd_show },
	{ CONSOLE_CMD_CLAIM, cmd_claim },
	{ CONSOLE_CMD_RELEASE, cmd_release },
	{ CONSOLE_CMD_ASSIGN, cmd_assign },
	{ CONSOLE_CMD_NOTE, cmd_note },
	{ CONSOLE_CMD_QUESTIONS, cmd_questions },
	{ CONSOLE_CMD_ASSESS, cmd_assess },
	{ CONSOLE_CMD_SET, cmd_set },
	{ CONSOLE_CMD_CLOSE, cmd_close },
	{ CONSOLE_CMD_ACK, cmd_ack },
	{ CONSOLE_CMD_ESCALATIONS, cmd_escalations },
	{ CONSOLE_CMD_FIND, cmd_find },
	{ CONSOLE_CMD_HOLD, cmd_hold },
	{ CONSOLE_CMD_RESUME, cmd_resume },
	{ CONSOLE_CMD_TAIL, cmd_tail },
	{ CONSOLE_CMD_REPORT, cmd_report },
	{ CONSOLE_CMD_STATUS, cmd_status },
	{ CONSOLE_CMD_RELOAD, cmd_reload },
	{ NULL, 0, 0, NULL, NULL, NULL },
};

/* --- requests ---------------------------------------------------------- */

static void
dispatch(struct client *cl, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	const struct command *c;
	const char *name;

	cl->busy = 1;
	if (req == NULL || !json_is_object(req)) {
		json_decref(req);
		reply_error(cl, "bad_request", "a request is one JSON object per line");
		return;
	}
	cl->req_id = json_incref(json_object_get(req, "id"));
	name = json_string_value(json_object_get(req, "cmd"));
	for (c = commands; name != NULL && c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			break;
	if (name == NULL)
		reply_error(cl, "bad_request", "cmd: required, a string");
	else if (c->name == NULL)
		reply_error(cl, "unknown_command", "no command \"%.40s\"; try help", name);
	else if (cl->role < c->role)
		reply_error(cl, "not_permitted", "%s needs the %s role; %s is %s", c->name,
		    role_names[c->role], cl->name, role_names[cl->role]);
	else {
		if (c->changes)
			log_info("console[%u]: %s by %s", cl->id, c->name, cl->name);
		c->run(cl, req);
	}
	json_decref(req);
}

static void
too_long(struct client *cl)
{
	cl->busy = 1;
	reply_error(cl, "too_long", "a request is at most %d bytes", REQUEST_MAX);
}

/* Takes the next complete line out of the input; 0 when there is none yet. */
static int
next_line(struct client *cl, char **line, size_t *len)
{
	struct evbuffer *in = bufferevent_get_input(cl->bev);
	size_t eol = 0;
	struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_LF);

	*line = NULL;
	if (p.pos < 0) {
		if (evbuffer_get_length(in) > REQUEST_MAX) {
			evbuffer_drain(in, evbuffer_get_length(in));
			if (!cl->skipping++)
				too_long(cl);
		}
		return 0;
	}
	if (cl->skipping || (size_t)p.pos > REQUEST_MAX) {
		if (!cl->skipping)
			too_long(cl);
		cl->skipping = 0;
	} else {
		*len = (size_t)p.pos;
		*line = xmalloc(*len + 1);
		evbuffer_remove(in, *line, *len);
		(*line)[*len] = '\0';
		evbuffer_drain(in, eol);
		return 1;
	}
	evbuffer_drain(in, (size_t)p.pos + eol);
	return 1;
}

/* A client that does not read its replies is not read either. */
static int
backlogged(const struct client *cl)
{
	return evbuffer_get_length(bufferevent_get_output(cl->bev)) >= REPLY_BACKLOG_MAX;
}

/* One request at a time: the rest wait in the buffer until it is answered. */
static void
process_input(struct client *cl)
{
	char *line;
	size_t len;

	cl->in_process = 1;
	while (cl->bev != NULL && !cl->busy && !backlogged(cl) && next_line(cl, &line, &len)) {
		if (line != NULL)
			dispatch(cl, line, len);
		free(line);
	}
	cl->in_process = 0;
	if (cl->bev == NULL)
		return;
	if (cl->busy || backlogged(cl))
		bufferevent_disable(cl->bev, EV_READ);
	else
		bufferevent_enable(cl->bev, EV_READ);
}

/* --- alerts ------------------------------------------------------------ */

static void client_close(struct client *cl, const char *why);

/*
 * An alert to the consoles that tail: escalation alerts to all of them,
 * others to those that did not ask for escalations only; with to, only to
 * that operator's consoles, whichever they asked for.
 */
static void
broadcast(struct console *con, json_t *alert, int escalation, const char *to)
{
	struct client *cl, *next;
	char *line = json_dumps(alert, JSON_COMPACT);
	size_t len;

	if (line == NULL)
		fatal("console: out of memory");
	len = strlen(line);
	line[len++] = '\n'; /* json_dumps leaves room: its NUL becomes the newline */

	for (cl = TAILQ_FIRST(&con->clients); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		if (cl->bev == NULL || cl->tailing == 0 ||
		    (to != NULL ? strcmp(cl->name, to) != 0 : cl->tailing == 2 && !escalation))
			continue;
		if (evbuffer_get_length(bufferevent_get_output(cl->bev)) > TAIL_BACKLOG_MAX) {
			client_close(cl, "tail not read: too far behind");
			continue;
		}
		bufferevent_write(cl->bev, line, len);
	}
	free(line);
}

/* NOTIFY from any daemon on the database. The caller is masked here,
 * exactly as in the escalation log, before any console sees it; a notice
 * is for one operator's consoles. */
static void
notified(const char *payload, void *arg)
{
	struct console *con = arg;
	json_t *n = json_loads(payload, 0, NULL), *out = NULL;
	const char *kind = json_string_value(json_object_get(n, "alert")), *to;

	if (kind != NULL && strcmp(kind, "escalation") == 0) {
		char *line = escalation_log_line(json_object_get(n, "escalation"));
		out = json_pack("{s:s, s:o?}", "alert", "escalation", "escalation",
		    json_loads(line, 0, NULL));
		free(line);
		broadcast(con, out, 1, NULL);
	} else if (kind != NULL && strcmp(kind, "case") == 0)
		broadcast(con, n, 0, NULL);
	else if (kind != NULL && strcmp(kind, "notice") == 0 &&
	    (to = json_string_value(json_object_get(json_object_get(n, "notice"), "to"))) != NULL)
		broadcast(con, n, 0, to);
	json_decref(out);
	json_decref(n);
}

/* --- connections ------------------------------------------------------- */

static void
client_reap(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;

	TAILQ_REMOVE(&cl->con->clients, cl, entry);
	cl->con->nclients--;
	json_decref(cl->req_id);
	json_decref(cl->answers);
	free(cl);
}

/* A request still in the database keeps the client until its reply. */
static void
client_free_if_done(struct client *cl)
{
	if (cl->bev != NULL || cl->busy || cl->reaping)
		return;
	cl->reaping = 1;
	event_base_once(cl->con->base, -1, EV_TIMEOUT, client_reap, cl, NULL);
}

static void
client_close(struct client *cl, const char *why)
{
	if (cl->bev == NULL)
		return;
	log_info("closing console[%u] (%s): %s", cl->id, cl->name, why);
	bufferevent_free(cl->bev);
	cl->bev = NULL;
	client_free_if_done(cl);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	process_input(arg);
}

/* The client read its replies down to half the cap: its requests go on. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;

	if (!cl->busy && !cl->in_process)
		process_input(cl);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *cl = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		client_close(cl, what & BEV_EVENT_EOF ? "end of stream" :
		    strerror(EVUTIL_SOCKET_ERROR()));
		if (cl->busy)
			return; /* db_reply frees it */
	}
}

/* Who is on the other end: console.operators by uid; root and the daemon's
 * own user are admins. 0 when the uid is nobody we know. */
static int
identify(struct console *con, int fd, struct client *cl)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd *pw;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return 0;
	snprintf(cl->peer, sizeof(cl->peer), "uid %u pid %d", (unsigned)cred.uid, (int)cred.pid);
	if (cred.uid == 0 || cred.uid == geteuid()) {
		pw = getpwuid(cred.uid);
		snprintf(cl->name, sizeof(cl->name), "%s", pw ? pw->pw_name : "root");
		cl->role = CONSOLE_ADMIN;
		return 1;
	}
	for (int i = 0; i < con->operators->n; i++) {
		const struct console_operator *op = &con->operators->v[i];
		if ((uid_t)op->uid != cred.uid)
			continue;
		snprintf(cl->name, sizeof(cl->name), "%s", op->name);
		cl->role = strcmp(op->role, "admin") == 0 ? CONSOLE_ADMIN :
		    strcmp(op->role, "supervisor") == 0 ? CONSOLE_SUPERVISOR : CONSOLE_OPERATOR;
		return 1;
	}
	snprintf(cl->name, sizeof(cl->name), "uid %u", (unsigned)cred.uid);
	return 0;
}

static void
refuse(int fd, const char *detail)
{
	json_t *o = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "not_permitted", "detail", detail);
	char *s = json_dumps(o, JSON_COMPACT), *line;

	xasprintf(&line, "%s\n", s);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("console: refusing a peer: %s", strerror(errno));
	free(line);
	free(s);
	json_decref(o);
	evutil_closesocket(fd);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct console *con = arg;
	struct client *cl = xcalloc(1, sizeof(*cl));
	char detail[128];
	json_t *hello;

	cl->con = con;
	if (con->stopped || !identify(con, fd, cl)) {
		snprintf(detail, sizeof(detail), "%s is not a console operator (console.operators)",
		    cl->name[0] ? cl->name : "this peer");
		log_warn("console: refused %s", cl->peer[0] ? cl->peer : "a peer");
		refuse(fd, con->stopped ? "the daemon is stopping" : detail);
		free(cl);
		return;
	}
	cl->id = ++con->next_id;
	cl->bev = bufferevent_socket_new(con->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(cl->bev, read_cb, write_cb, event_cb, cl);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, REQUEST_MAX + 4096);
	bufferevent_setwatermark(cl->bev, EV_WRITE, REPLY_BACKLOG_MAX / 2, 0);
	bufferevent_enable(cl->bev, EV_READ);
	TAILQ_INSERT_TAIL(&con->clients, cl, entry);
	con->nclients++;
	log_info("console[%u]: %s (%s, %s)", cl->id, cl->name, role_names[cl->role], cl->peer);
	hello = json_pack("{s:s, s:i, s:s, s:s}", "hello", "hotline111-console", "proto", CONSOLE_PROTO,
	    "operator", cl->name, "role", role_names[cl->role]);
	send_json(cl, hello);
	json_decref(hello);
}

/* --- public ------------------------------------------------------------ */

static void
db_state(int up, void *arg)
{
	struct console *con = arg;

	con->db_was_up |= up;
}

struct console *
console_new(struct event_base *base, const struct config *cfg, const struct console_hooks *hooks)
{
	struct console *con = xcalloc(1, sizeof(*con));

	con->base = base;
	con->hooks = *hooks;
	TAILQ_INIT(&con->clients);
	con->operators = &cfg->operators;
	con->db = db_new(base, "database[console]", cfg->db_conninfo, db_state, con);
	db_listen(con->db, "hotline111", notified, con);
	return con;
}

void
console_open(struct console *con)
{
	con->opened = 1;
	db_open(con->db);
}

int
console_listen(struct console *con, const struct config *cfg, char *err, size_t errlen)
{
	con->listeners = xcalloc((size_t)cfg->console_listen.n + 1, sizeof(*con->listeners));
	con->paths = xcalloc((size_t)cfg->console_listen.n + 1, sizeof(*con->paths));
	for (int i = 0; i < cfg->console_listen.n; i++) {
		const char *spec = cfg->console_listen.v[i];
		int fd;
		if (strncmp(spec, "unix:", 5) != 0) {
			snprintf(err, errlen, "console.listen: %s: only unix: sockets (TCP needs TLS "
			    "and tokens, not built yet)", spec);
			return -1;
		}
		/* Anyone may connect; who they are (SO_PEERCRED) decides what they may do. */
		if ((fd = netaddr_listen(spec, 0666, err, errlen)) < 0)
			return -1;
		con->listeners[i] = evconnlistener_new(con->base, accept_cb, con,
		    LEV_OPT_CLOSE_ON_FREE, -1, fd);
		con->paths[i] = xstrdup(spec + 5);
		con->nlisteners++;
		log_info("console: listening on %s", spec);
	}
	return 0;
}

void
console_configure(struct console *con, const struct config *cfg)
{
	con->operators = &cfg->operators;
}

int
console_db_up(const struct console *con)
{
	return db_is_up(con->db);
}

size_t
console_clients(const struct console *con)
{
	return con->nclients;
}

void
console_stop(struct console *con)
{
	con->stopped = 1;
	for (int i = 0; i < con->nlisteners; i++) {
		evconnlistener_free(con->listeners[i]);
		unlink(con->paths[i]);
		free(con->paths[i]);
	}
	con->nlisteners = 0;
}

void
console_free(struct console *con)
{
	struct client *cl;

	if (con == NULL)
		return;
	console_stop(con);
	db_free(con->db); /* requests in flight are dropped with their clients */
	while ((cl = TAILQ_FIRST(&con->clients)) != NULL) {
		TAILQ_REMOVE(&con->clients, cl, entry);
		if (cl->bev != NULL)
			bufferevent_free(cl->bev);
		json_decref(cl->req_id);
		json_decref(cl->answers);
		free(cl);
	}
	free(con->listeners);
	free(con->paths);
	free(con);
}
