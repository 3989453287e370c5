/*
 * schema.c: the schema step (schema.h), and the child that waits for the
 * database when the daemon starts without it. The child only connects,
 * migrates and reports one line down a pipe: "R" ready, or "F" and why the
 * step failed. It dies with the daemon (PR_SET_PDEATHSIG) and keeps none
 * of the daemon's files (listeners, the spool and its lock), so a daemon
 * started after a kill -9 finds them free.
 */
#include "schema.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "escalation.h"
#include "log.h"
#include "migrate.h"
#include "notify.h"
#include "xmalloc.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CRASH_RETRY_S 5 /* the child ended without a report */
#define REPORT_MAX 1200
#define REPORT_FD 3 /* the pipe, in the child */

struct schema_wait {
	struct event_base *base;
	char *conninfo, *policy;
	schema_ready_fn *ready;
	void *arg;
	pid_t pid; /* the child, or 0 */
	int fd;    /* the read end of its pipe, or -1 */
	struct event *pipe_ev;
	struct event *retry_ev;
	char report[REPORT_MAX];
	size_t len;
	char *failure; /* the last step's error, until one succeeds */
	int stopped;
};

/* --- the step ------------------------------------------------------------ */

static PGconn *
connect_db(const char *conninfo, int connect_s)
{
	char tmo[16] = "";
	/* before dbname, so that a connect_timeout in the conninfo wins */
	const char *kw[] = { "connect_timeout", "dbname", "fallback_application_name", NULL };
	const char *val[] = { tmo, conninfo, "hotline111d", NULL };

	if (connect_s > 0)
		snprintf(tmo, sizeof(tmo), "%d", connect_s);
	return PQconnectdbParams(kw, val, 1);
}

static void
first_line(char *err, size_t errlen, const char *what, const char *msg)
{
	snprintf(err, errlen, "%s%.*s", what, (int)strcspn(msg, "\n"), msg);
}

static int
store_policy(PGconn *c, const char *policy, char *err, size_t errlen)
{
	const char *params[1] = { policy };
	PGresult *r = PQexecParams(c, escalation_policy_sql, 1, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		first_line(err, errlen, "storing the escalation policy: ", PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

enum schema_rc
schema_prepare(const char *conninfo, const char *policy, int connect_s, char *err,
    size_t errlen)
{
	PGconn *c = connect_db(conninfo, connect_s);
	enum schema_rc rc = SCHEMA_READY;

	if (PQstatus(c) != CONNECTION_OK) {
		first_line(err, errlen, "", PQerrorMessage(c));
		rc = SCHEMA_UNREACHABLE;
	} else if (migrate_apply(c, err, errlen) < 0 || store_policy(c, policy, err, errlen) != 0) {
		/* a connection lost half way says nothing of the schema */
		rc = PQstatus(c) == CONNECTION_BAD ? SCHEMA_UNREACHABLE : SCHEMA_FAILED;
	}
	PQfinish(c);
	return rc;
}

enum schema_rc
schema_prepare_wait(const char *conninfo, const char *policy, int connect_s,
    const char *waiting_for, char *err, size_t errlen)
{
	int backoff_ms = BACKOFF_MIN_MS, said = 0;
	enum schema_rc rc;

	while ((rc = schema_prepare(conninfo, policy, connect_s, err, errlen)) ==
	    SCHEMA_UNREACHABLE) {
		if (!said++ && waiting_for != NULL) {
			log_error("database: %s; %s", err, waiting_for);
			notify_status("waiting for the database");
		}
		usleep((useconds_t)backoff_ms * 1000);
		backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
	}
	return rc;
}

/* --- the child ----------------------------------------------------------- */

/* Everything but stdin, stdout, stderr and the pipe goes. */
static void
close_others(int fd)
{
	if (fd != REPORT_FD && dup2(fd, REPORT_FD) < 0)
		_exit(1);
	if (close_range(REPORT_FD + 1, ~0U, 0) != 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long i = REPORT_FD + 1; i < (max > 0 ? max : 65536); i++)
			close((int)i);
	}
}

static void __attribute__((noreturn))
child(struct schema_wait *w, int fd, pid_t parent)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
	char err[1024], out[REPORT_MAX];
	enum schema_rc rc;
	int n;

	/* the daemon's signal handlers would wake the daemon's loop */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* it died before we asked */
		_exit(1);
	unsetenv("NOTIFY_SOCKET"); /* systemd hears the daemon only */
	close_others(fd);
	rc = schema_prepare_wait(w->conninfo, w->policy, SCHEMA_CONNECT_S, NULL, err,
	    sizeof(err));
	n = snprintf(out, sizeof(out), "%s%s", rc == SCHEMA_READY ? "R" : "F",
	    rc == SCHEMA_READY ? "" : err);
	if (write(REPORT_FD, out, (size_t)(n < (int)sizeof(out) ? n : (int)sizeof(out) - 1)) < 0)
		_exit(1);
	_exit(0);
}

/* --- the daemon's side --------------------------------------------------- */

static void spawn(struct schema_wait *w);

static void
retry_in(struct schema_wait *w, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(w->retry_ev, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	spawn(arg);
}

static void
reap(struct schema_wait *w, int *status)
{
	if (w->pipe_ev != NULL)
		event_free(w->pipe_ev);
	w->pipe_ev = NULL;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	while (w->pid > 0 && waitpid(w->pid, status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
}

static void
failed(struct schema_wait *w, const char *why)
{
	free(w->failure);
	w->failure = xstrdup(why);
	log_error("database: %s; nothing is replayed into a schema this hotline111d cannot use: "
	    "events stay in the local spool and intake goes on into it, deadlines wait; trying "
	    "again in %d s or at a reload (fix the database, or run the hotline111d that "
	    "matches it)", why, SCHEMA_RETRY_S);
	notify_status("the database's schema cannot be used: events stay in the local spool");
	retry_in(w, SCHEMA_RETRY_S);
}

static void
child_done(struct schema_wait *w)
{
	int status = 0;

	reap(w, &status);
	w->report[w->len] = '\0';
	if (w->report[0] == 'R') {
		free(w->failure);
		w->failure = NULL;
		log_info("database: the schema is ready; connecting (the spool is replayed before "
		    "any new event)");
		w->ready(w->arg);
	} else if (w->report[0] == 'F')
		failed(w, w->report + 1);
	else {
		log_error("database: the process waiting for the database ended without a report "
		    "(%s %d); another starts in %d s", WIFSIGNALED(status) ? "signal" : "exit status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), CRASH_RETRY_S);
		retry_in(w, CRASH_RETRY_S);
	}
}

static void
pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct schema_wait *w = arg;
	ssize_t n = read(fd, w->report + w->len, sizeof(w->report) - 1 - w->len);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		w->len += (size_t)n;
		if (w->len < sizeof(w->report) - 1)
			return;
	}
	/* the end of the pipe (or of what a report may be): the child is done */
	child_done(w);
}

static void
spawn(struct schema_wait *w)
{
	pid_t parent = getpid(), pid;
	int p[2];

	if (w->stopped || w->pid > 0)
		return;
	if (pipe2(p, O_CLOEXEC) != 0) {
		log_error("database: cannot make a pipe: %s; trying again in %d s", strerror(errno),
		    CRASH_RETRY_S);
		retry_in(w, CRASH_RETRY_S);
		return;
	}
	if ((pid = fork()) < 0) {
		log_error("database: cannot fork: %s; trying again in %d s", strerror(errno),
		    CRASH_RETRY_S);
		close(p[0]);
		close(p[1]);
		retry_in(w, CRASH_RETRY_S);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		child(w, p[1], parent);
	}
	close(p[1]);
	w->pid = pid;
	w->fd = p[0];
	w->len = 0;
	evutil_make_socket_nonblocking(w->fd);
	w->pipe_ev = event_new(w->base, w->fd, EV_READ | EV_PERSIST, pipe_cb, w);
	event_add(w->pipe_ev, NULL);
}

struct schema_wait *
schema_wait_start(struct event_base *base, const char *conninfo, const char *policy,
    schema_ready_fn *ready, void *arg)
{
	struct schema_wait *w = xcalloc(1, sizeof(*w));

	w->base = base;
	w->conninfo = xstrdup(conninfo);
	w->policy = xstrdup(policy);
	w->ready = ready;
	w->arg = arg;
	w->fd = -1;
	w->retry_ev = evtimer_new(base, retry_cb, w);
	spawn(w);
	return w;
}

void
schema_wait_retry(struct schema_wait *w)
{
	if (w == NULL || w->stopped || w->pid > 0 || !evtimer_pending(w->retry_ev, NULL))
		return;
	evtimer_del(w->retry_ev);
	log_info("database: trying the schema step again");
	spawn(w);
}

const char *
schema_wait_failure(const struct schema_wait *w)
{
	return w != NULL ? w->failure : NULL;
}

void
schema_wait_stop(struct schema_wait *w)
{
	int status;

	if (w == NULL)
		return;
	w->stopped = 1;
	evtimer_del(w->retry_ev);
	if (w->pid > 0)
		kill(w->pid, SIGTERM);
	reap(w, &status);
}

void
schema_wait_free(struct schema_wait *w)
{
	if (w == NULL)
		return;
	schema_wait_stop(w);
	event_free(w->retry_ev);
	free(w->failure);
	free(w->conninfo);
	free(w->policy);
	free(w);
}
