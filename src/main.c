/*
 * main.c: hotline111d. Reads the configuration, brings up the database
 * (schema included), the bridge and the triage rules on one event loop,
 * and handles the signals: SIGHUP reloads, SIGTERM and SIGINT stop
 * gracefully, committing and acknowledging what was already received.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "bridge.h"
#include "cases.h"
#include "console.h"
#include "cti.h"
#include "db.h"
#include "escalation.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "outbox.h"
#include "schema.h"
#include "sources.h"
#include "spool.h"
#include "store.h"
#include "triage.h"
#include "triage_model.h"
#include "xmalloc.h"

#define STOP_GRACE_S 10

struct opts {
	const char *file;
	char **overrides;
	int noverrides;
	int check_config, migrate, triage, json, train, from_db, urgency;
	const char *check_rules;
	const char *rules;
	const char *out;
	int folds;
	double prune;
};

struct daemon {
	struct opts *opts;
	struct event_base *base;
	struct config *cfg;
	struct triage_rules *rules;
	struct cases *cases; /* each ticket's notes, for whole-case triage */
	struct store *store;
	struct bridge *bridge;
	struct db *timers_db; /* deadlines have a connection of their own */
	struct escalation *escalation;
	struct outbox *outbox; /* the escalations' notifications */
	struct console *console;
	struct sources *sources;
	struct cti *cti;
	struct metrics *metrics;
	struct schema_wait *schema; /* started without the database: waiting for it */
	time_t started;
	struct event *signals[3];
	struct event *stop_timer;
	struct event *flush_poll;
	int stopping;
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: hotline111d [-c FILE] [-s PATH=VALUE]... [--check-config | --migrate]\n"
	    "       hotline111d --check-rules FILE\n"
	    "       hotline111d --triage [--json] [--rules FILE] [-c FILE] [TEXT...]\n"
	    "       hotline111d --train [--urgency] -o FILE [--rules FILE] [--from-db [-c FILE]]\n"
	    "                   [--folds N] [--prune W] [CORPUS.tsv...]\n"
	    "       hotline111d -V | --version\n"
	    "\n"
	    "  -c, --config FILE    configuration (default %s)\n"
	    "  -s, --set PATH=VALUE override one setting, VALUE in libconfig syntax\n"
	    "      --check-config   validate the configuration and the rules, then exit\n"
	    "      --migrate        apply the database schema, then exit\n"
	    "      --check-rules F  validate a rules file, then exit\n"
	    "      --triage TEXT... print category, priority and fired rules per text\n"
	    "      --train          learn a triage model from labelled notes (-o FILE)\n"
	    "      --urgency        with --train: learn danger now from later, not categories\n"
	    "See hotline111d(8), hotline111d.conf(5), hotline111-rules(5).\n",
	    CONFIG_DEFAULT_FILE);
	exit(status);
}

static double
number(const char *s, double min, double max, const char *opt)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= min && v <= max)) {
		fprintf(stderr, "%s: '%s' is not a number from %g to %g\n", opt, s, min, max);
		exit(2);
	}
	return v;
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_CHECK = 256, O_MIGRATE, O_RULES_CHECK, O_TRIAGE, O_JSON, O_RULES, O_TRAIN,
		O_FROM_DB, O_FOLDS, O_PRUNE, O_URGENCY };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, O_CHECK },
		{ "migrate", no_argument, NULL, O_MIGRATE },
		{ "check-rules", required_argument, NULL, O_RULES_CHECK },
		{ "triage", no_argument, NULL, O_TRIAGE },
		{ "json", no_argument, NULL, O_JSON },
		{ "rules", required_argument, NULL, O_RULES },
		{ "train", no_argument, NULL, O_TRAIN },
		{ "urgency", no_argument, NULL, O_URGENCY },
		{ "output", required_argument, NULL, 'o' },
		{ "from-db", no_argument, NULL, O_FROM_DB },
		{ "folds", required_argument, NULL, O_FOLDS },
		{ "prune", required_argument, NULL, O_PRUNE },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->overrides = xcalloc((size_t)argc + 1, sizeof(char *));
	o->folds = TRAIN_FOLDS;
	o->prune = TRAIN_PRUNE;
	while ((ch = getopt_long(argc, argv, "c:s:o:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->file = optarg; break;
		case 's': o->overrides[o->noverrides++] = optarg; break;
		case O_CHECK: o->check_config = 1; break;
		case O_MIGRATE: o->migrate = 1; break;
		case O_RULES_CHECK: o->check_rules = optarg; break;
		case O_TRIAGE: o->triage = 1; break;
		case O_JSON: o->json = 1; break;
		case O_RULES: o->rules = optarg; break;
		case O_TRAIN: o->train = 1; break;
		case O_URGENCY: o->urgency = 1; break;
		case 'o': o->out = optarg; break;
		case O_FROM_DB: o->from_db = 1; break;
		case O_FOLDS: o->folds = number(optarg, 0, 20, "--folds"); break;
		case O_PRUNE: o->prune = number(optarg, 0, 10, "--prune"); break;
		case 'V':
			printf("hotline111d %s (bridge protocol %d)\n", PACKAGE_VERSION,
			    PROTOCOL_VERSION);
			exit(0);
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind < argc && !o->triage && !o->train)
		usage(2);
	if (o->check_config + o->migrate + o->triage + o->train + (o->check_rules != NULL) > 1)
		usage(2);
	if (o->train && (o->out == NULL || (optind == argc && !o->from_db)))
		usage(2);
	if (o->urgency && !o->train)
		usage(2);
}

static struct config *
load_config(const struct opts *o)
{
	char err[1024];
	struct config *cfg = config_load(o->file ? o->file : CONFIG_DEFAULT_FILE,
	    o->overrides, o->noverrides, err, sizeof(err));

	if (cfg == NULL)
		fatal("%s", err);
	return cfg;
}

static struct triage_rules *
load_rules(const char *path)
{
	char err[TRIAGE_ERRLEN];
	struct triage_rules *r = triage_load(path, err, sizeof(err));

	if (r == NULL)
		fatal("%s", err);
	return r;
}

/* --- database at start-up ---------------------------------------------- */

/*
 * The schema first, before any listener opens. With a spool, one try: a
 * database unreachable now does not hold the start up (1: the daemon
 * starts without it, spooling). Without one, the daemon waits for it, as
 * nothing could be kept meanwhile. A schema it cannot use stops the start:
 * nothing has been taken in yet.
 */
static int
database_start(const struct config *cfg)
{
	char *policy = escalation_policy_json(cfg), err[1024];
	enum schema_rc rc;

	if (cfg->spool_dir[0] != '\0')
		rc = schema_prepare(cfg->db_conninfo, policy, SCHEMA_CONNECT_S, err, sizeof(err));
	else
		rc = schema_prepare_wait(cfg->db_conninfo, policy, 0, "waiting for it before "
		    "opening any listener: spool.dir is off, so no event could be kept without it "
		    "(retrying with backoff)", err, sizeof(err));
	free(policy);
	if (rc == SCHEMA_FAILED)
		fatal("database: %s", err);
	if (rc == SCHEMA_READY)
		return 0;
	log_warn("database: %s; starting without it: events go to the local spool and are "
	    "acknowledged as spooled; once it answers its schema is brought up to date, then the "
	    "spool is replayed, then new events are stored", err);
	return 1;
}

/* hotline111d --migrate: one try, no spool, no waiting. */
static void
migrate_only(const struct config *cfg)
{
	char *policy = escalation_policy_json(cfg), err[1024];
	enum schema_rc rc = schema_prepare(cfg->db_conninfo, policy, 0, err, sizeof(err));

	free(policy);
	if (rc != SCHEMA_READY)
		fatal("database: %s", err);
}

/* --- reload ------------------------------------------------------------ */

/* What config.c cannot judge alone: each source's and the webhook's
 * options. err is "FILE:LINE: message" where the file set the key. */
static int
check_parts(const struct config *cfg, char *err, size_t errlen)
{
	char why[1024];

	if (sources_check(cfg, why, sizeof(why)) != 0 || cti_check(cfg, why, sizeof(why)) != 0) {
		config_where(cfg, why, err, errlen);
		return -1;
	}
	return 0;
}

/* A file the daemon will write: it, or else its directory, is writable. */
static int
check_writable(const char *path, int is_dir, char *why, size_t whylen)
{
	struct stat st;
	char *dir, *slash;
	int rc;

	if (stat(path, &st) == 0) {
		if (is_dir != !!S_ISDIR(st.st_mode)) {
			snprintf(why, whylen, "%s: %s", path, is_dir ? "not a directory" :
			    "a directory");
			return -1;
		}
		if (access(path, is_dir ? W_OK | X_OK : W_OK) != 0) {
			snprintf(why, whylen, "%s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* made at start: its directory must let us */
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	rc = access(slash != NULL ? dir : ".", W_OK | X_OK);
	if (rc != 0)
		snprintf(why, whylen, "%s: cannot be created: %s: %s", path,
		    slash != NULL ? dir : ".", strerror(errno));
	free(dir);
	return rc;
}

static int
file_fails(const struct config *cfg, const char *key, const char *why, char *err,
    size_t errlen)
{
	char msg[1200];

	snprintf(msg, sizeof(msg), "%s: %s", key, why);
	config_where(cfg, msg, err, errlen);
	return -1;
}

/* Each notification command can be run by whoever checks (the service
 * user): else every one of its notifications would fail, found too late. */
static int
check_commands(const struct config *cfg, char *err, size_t errlen)
{
	for (int i = 0; i < cfg->notify.n; i++) {
		const struct notify_channel *ch = &cfg->notify.v[i];
		if (ch->argv == NULL || access(ch->argv[0], X_OK) == 0)
			continue;
		snprintf(err, errlen, "%s:%d: escalation.notify: %s: %s: %s", cfg->file, ch->line,
		    ch->name, ch->argv[0], strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * --check-config: what start would refuse, found before it, as the user
 * who runs the check (run it as the service user): the rules file is
 * readable, the spool directory and the escalation log are writable.
 */
static int
check_files(const struct config *cfg, char *err, size_t errlen)
{
	char why[1024];

	if (access(cfg->rules_file, R_OK) != 0) {
		snprintf(why, sizeof(why), "%s: %s", cfg->rules_file, strerror(errno));
		return file_fails(cfg, "triage.rules", why, err, errlen);
	}
	if (cfg->spool_dir[0] != '\0' && check_writable(cfg->spool_dir, 1, why, sizeof(why)) != 0)
		return file_fails(cfg, "spool.dir", why, err, errlen);
	if (check_writable(cfg->escalation_log, 0, why, sizeof(why)) != 0)
		return file_fails(cfg, "log.escalation_log", why, err, errlen);
	return check_commands(cfg, err, errlen);
}

/*
 * All or nothing: a bad file or bad rules leave everything running as it
 * was; so does a file this daemon could not start with. Returns the number
 * of rules, or -1 with err.
 */
static int
reload(struct daemon *d, char *err, size_t errlen)
{
	char why[1024];
	struct config *cfg;
	struct triage_rules *rules;

	notify_reloading();
	schema_wait_retry(d->schema);
	cfg = config_load(d->opts->file ? d->opts->file : CONFIG_DEFAULT_FILE,
	    d->opts->overrides, d->opts->noverrides, err, errlen);
	if (cfg == NULL) {
		log_error("reload: %s; the running configuration stays", err);
		notify_ready();
		return -1;
	}
	if (check_parts(cfg, err, errlen) != 0) {
		log_error("reload: %s; the running configuration stays", err);
		config_free(cfg);
		notify_ready();
		return -1;
	}
	if ((rules = triage_load(cfg->rules_file, err, errlen)) == NULL) {
		log_error("reload: %s; the running configuration and rules stay", err);
		config_free(cfg);
		notify_ready();
		return -1;
	}
	if (escalation_configure(d->escalation, cfg, why, sizeof(why)) != 0)
		log_error("reload: %s; escalations still go to the daemon's log", why);
	config_warn_restart_keys(d->cfg, cfg);
	log_set_level(cfg->log_level);
	/* the parts borrow from cfg from here on: the old one goes last */
	bridge_configure(d->bridge, cfg);
	console_configure(d->console, cfg);
	metrics_configure(d->metrics, cfg);
	outbox_configure(d->outbox, cfg);
	store_set_default_priority(d->store, cfg->default_priority);
	triage_free(d->rules);
	d->rules = rules;
	config_free(d->cfg);
	d->cfg = cfg;
	log_info("reload: configuration and rules reloaded (%d rules)", triage_rule_count(rules));
	notify_ready();
	return triage_rule_count(rules);
}

/* --- stop -------------------------------------------------------------- */

static void
flush_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	if (bridge_unflushed(d->bridge) == 0 && cti_unflushed(d->cti) == 0) {
		log_info("stopped: everything received was stored and acknowledged");
		event_base_loopexit(d->base, NULL);
	}
}

static void
drained(void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { 0, 20000 };

	if (db_busy(d->timers_db) && db_is_up(d->timers_db)) {
		/* an escalation being recorded is logged before we go */
		db_drain(d->timers_db, drained, d);
		return;
	}
	d->flush_poll = event_new(d->base, -1, EV_PERSIST, flush_poll_cb, d);
	event_add(d->flush_poll, &tv);
	flush_poll_cb(-1, 0, d);
}

static void
stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	struct timeval flush = { 0, 500000 };

	log_error("stop: gave up after %d s with %zu events not stored (they are answered "
	    "unavailable; the PBX resends them)", STOP_GRACE_S, store_pending(d->store));
	store_abandon(d->store, "not stored: the daemon is stopping; send again later");
	/* a moment for those answers to leave */
	event_base_loopexit(d->base, &flush);
}

static void
stop(struct daemon *d, const char *why)
{
	struct timeval tv = { STOP_GRACE_S, 0 };

	if (d->stopping++) {
		log_warn("%s again: stopping now", why);
		event_base_loopbreak(d->base);
		return;
	}
	notify_stopping();
	log_info("%s: stopping; %zu events to store first", why, store_pending(d->store));
	schema_wait_stop(d->schema);
	bridge_stop(d->bridge);
	sources_stop(d->sources);
	cti_stop(d->cti);
	console_stop(d->console);
	metrics_stop(d->metrics);
	escalation_stop(d->escalation);
	outbox_stop(d->outbox);
	d->stop_timer = evtimer_new(d->base, stop_timeout_cb, d);
	event_add(d->stop_timer, &tv);
	store_drain(d->store, drained, d);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	char err[1024];

	if (sig == SIGHUP)
		reload(arg, err, sizeof(err));
	else
		stop(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* --- run --------------------------------------------------------------- */

static void
store_state(int up, void *arg)
{
	struct daemon *d = arg;

	if (d->bridge != NULL)
		bridge_pause(d->bridge, !up);
	if (d->sources != NULL)
		sources_pause(d->sources, !up);
	if (d->cti != NULL)
		cti_pause(d->cti, !up);
	notify_status(!up ? "database unreachable: intake paused" : store_is_up(d->store) ?
	    "running" : "database unreachable: events go to the local spool");
}

/* The schema is this build's: the connections open (the store's replays
 * the spool before anything new) and the pending deadlines load. */
static void
database_ready(void *arg)
{
	struct daemon *d = arg;

	store_open(d->store);
	console_open(d->console);
	db_open(d->timers_db);
	escalation_start(d->escalation);
	outbox_kick(d->outbox);
}

/* Started without the database: events go to the spool while a child
 * waits for the database and brings its schema up to date. */
static void
database_away(struct daemon *d)
{
	char *policy = escalation_policy_json(d->cfg);

	store_set_away(d->store);
	d->schema = schema_wait_start(d->base, d->cfg->db_conninfo, policy, database_ready, d);
	free(policy);
}

static void
schedule(int64_t at_ms, void *arg)
{
	struct daemon *d = arg;

	escalation_schedule(d->escalation, at_ms);
}

/* spool.dir "" turns the spool off: then intake pauses while the database
 * is unreachable. */
static void
open_spool(struct daemon *d)
{
	struct spool *sp;
	char err[1024];

	if (d->cfg->spool_dir[0] == '\0') {
		log_info("spool: off (spool.dir is empty): intake pauses while the database is "
		    "unreachable");
		return;
	}
	sp = spool_open(d->cfg->spool_dir, (size_t)d->cfg->spool_max_mb * 1024 * 1024, err,
	    sizeof(err));
	if (sp == NULL)
		fatal("%s", err);
	store_set_spool(d->store, sp);
}

static json_t *
decide(const struct event *ev, void *arg)
{
	struct daemon *d = arg;

	return cases_decide(d->cases, d->rules, ev);
}

/* --- what the console and the metrics ask of the daemon ----------------- */

static void
daemon_state(struct metrics_state *s, void *arg)
{
	struct daemon *d = arg;
	json_t *spool = store_spool_status(d->store);

	s->stopping = d->stopping;
	s->db_up = store_is_up(d->store);
	s->console_db_up = console_db_up(d->console);
	s->refusing = store_refusing(d->store);
	s->spool_on = json_is_object(spool);
	s->spool_records = (size_t)json_integer_value(json_object_get(spool, "records"));
	s->spool_bytes = (size_t)json_integer_value(json_object_get(spool, "bytes"));
	s->spool_max_bytes = (size_t)json_integer_value(json_object_get(spool, "max_bytes"));
	s->schema_failure = schema_wait_failure(d->schema);
	s->bridge_clients = bridge_clients(d->bridge);
	s->consoles = console_clients(d->console);
	s->sources = sources_status(d->sources);
	json_decref(spool);
}

static json_t *
console_status(void *arg)
{
	struct daemon *d = arg;
	struct metrics_state s = { 0 };
	json_t *health;

	daemon_state(&s, d);
	health = metrics_health_json(&s);
	json_decref(s.sources);
	return json_pack("{s:s, s:i, s:I, s:s, s:I, s:o, s:o, s:o, s:o}", "version",
	    PACKAGE_VERSION, "pid", (int)getpid(), "uptime_s",
	    (json_int_t)(time(NULL) - d->started), "database",
	    store_is_up(d->store) && console_db_up(d->console) ? "up" : "down", "bridge_clients",
	    (json_int_t)bridge_clients(d->bridge), "sources", sources_status(d->sources), "cti",
	    cti_status(d->cti), "spool", store_spool_status(d->store), "health", health);
}

static int
console_reload(void *arg, char *err, size_t errlen)
{
	return reload(arg, err, errlen);
}

static json_t *
console_decide(const char *text, void *arg)
{
	return cases_decide_text(((struct daemon *)arg)->rules, text);
}

static int
console_category_ok(const char *id, void *arg)
{
	return triage_category_exists(((struct daemon *)arg)->rules, id);
}

/* The answers a console or a bridge sends, against the running rules. */
static int
answers_check(const json_t *answers, char *detail, size_t len, void *arg)
{
	return triage_answers_check(((struct daemon *)arg)->rules, answers, detail, len);
}

static json_t *
console_questions(void *arg)
{
	return triage_questions_json(((struct daemon *)arg)->rules);
}

static json_t *
console_decide_case(const json_t *ctx, void *arg)
{
	return cases_decide_case(((struct daemon *)arg)->rules, ctx);
}

static json_t *
console_labels(void *arg)
{
	const struct triage_rules *r = ((struct daemon *)arg)->rules;
	json_t *labels = json_object();

	for (int i = 0; i < triage_category_count(r); i++) {
		const char *id = triage_category_id(r, i), *label = triage_category_label(r, id);

		if (label != NULL)
			json_object_set_new(labels, id, json_string(label));
	}
	return labels;
}

static void
escalations_fired(void *arg)
{
	outbox_kick(((struct daemon *)arg)->outbox);
}

static void
daemon_free(struct daemon *d)
{
	schema_wait_free(d->schema);
	console_free(d->console);
	bridge_free(d->bridge);
	sources_free(d->sources);
	cti_free(d->cti);
	store_free(d->store);
	escalation_free(d->escalation);
	outbox_free(d->outbox);
	db_free(d->timers_db);
	metrics_free(d->metrics); /* after its connection: no figures come back */
	for (size_t i = 0; i < sizeof(d->signals) / sizeof(d->signals[0]); i++)
		event_free(d->signals[i]);
	if (d->stop_timer != NULL)
		event_free(d->stop_timer);
	if (d->flush_poll != NULL)
		event_free(d->flush_poll);
	notify_watchdog_stop();
	event_base_free(d->base);
	triage_free(d->rules);
	cases_free(d->cases);
	config_free(d->cfg);
}

static int
run(struct opts *o)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
	struct daemon d = { .opts = o, .started = time(NULL) };
	char err[1024];
	int away;

	d.cfg = load_config(o);
	if (check_parts(d.cfg, err, sizeof(err)) != 0)
		fatal("%s", err);
	log_set_level(d.cfg->log_level);
	d.rules = load_rules(d.cfg->rules_file);
	d.cases = cases_new();
	signal(SIGPIPE, SIG_IGN);
	away = database_start(d.cfg);
	d.base = event_base_new();
	if (d.base == NULL)
		fatal("libevent: cannot create the event loop");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		d.signals[i] = evsignal_new(d.base, sigs[i], signal_cb, &d);
		event_add(d.signals[i], NULL);
	}
	d.store = store_new(d.base, d.cfg->db_conninfo, d.cfg->default_priority, store_state, &d);
	store_set_schedule_hook(d.store, schedule, &d);
	d.timers_db = db_new(d.base, "database[timers]", d.cfg->db_conninfo, NULL, NULL);
	d.escalation = escalation_new(d.base, d.timers_db, d.cfg, err, sizeof(err));
	if (d.escalation == NULL)
		fatal("%s", err);
	d.outbox = outbox_new(d.base, d.timers_db, d.cfg);
	escalation_on_fire(d.escalation, escalations_fired, &d);
	d.bridge = bridge_new(d.base, d.store, decide, &d);
	bridge_set_answers_check(d.bridge, answers_check, &d);
	if (bridge_listen(d.bridge, d.cfg, err, sizeof(err)) != 0)
		fatal("%s", err);
	d.console = console_new(d.base, d.cfg, &(struct console_hooks){ .status = console_status,
	    .reload = console_reload, .decide = console_decide,
	    .category_ok = console_category_ok, .questions = console_questions,
	    .answers_check = answers_check, .decide_case = console_decide_case,
	    .labels = console_labels, .arg = &d });
	if (console_listen(d.console, d.cfg, err, sizeof(err)) != 0)
		fatal("%s", err);
	if ((d.sources = sources_new(d.base, d.store, decide, &d, d.cfg, err, sizeof(err))) == NULL)
		fatal("%s", err);
	sources_start(d.sources);
	d.cti = cti_new(d.base, d.store, decide, &d);
	if (cti_listen(d.cti, d.cfg, err, sizeof(err)) != 0)
		fatal("%s", err);
	d.metrics = metrics_new(d.base, d.timers_db, daemon_state, &d);
	if (metrics_listen(d.metrics, d.cfg, err, sizeof(err)) != 0)
		fatal("%s", err);
	/* after the sockets: a second daemon is told of those first */
	open_spool(&d);
	if (away)
		database_away(&d);
	else
		database_ready(&d);
	cti_pause(d.cti, !store_accepting(d.store));
	bridge_pause(d.bridge, !store_accepting(d.store));
	log_info("hotline111d %s ready: %d triage rules%s", PACKAGE_VERSION,
	    triage_rule_count(d.rules), away ? "; without the database: events go to the local "
	    "spool" : "");
	notify_ready();
	if (away)
		notify_status("database unreachable: events go to the local spool; waiting for it");
	notify_watchdog_start(d.base);
	event_base_dispatch(d.base);
	daemon_free(&d);
	libevent_global_shutdown();
	return 0;
}

/* hotline111d --train: the configuration is read only for --from-db. */
static int
train(const struct opts *o, int argc, char **argv)
{
	struct triage_train_opts t = { .out = o->out, .rules = o->rules, .from_db = o->from_db,
		.urgency = o->urgency, .folds = o->folds, .prune = o->prune, .min_df = TRAIN_MIN_DF, .corpora = argv,
		.ncorpora = argc };
	struct config *cfg = o->from_db ? load_config(o) : NULL;
	int rc;

	t.conninfo = cfg != NULL ? cfg->db_conninfo : NULL;
	rc = triage_train_cmd(&t);
	config_free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct config *cfg;
	char err[1200];
	int rc = 0;

	parse_opts(argc, argv, &o);
	if (o.check_rules != NULL)
		rc = triage_cmd_check(o.check_rules);
	else if (o.triage) {
		cfg = o.rules == NULL ? load_config(&o) : NULL;
		rc = triage_cmd_triage(o.rules ? o.rules : cfg->rules_file, o.json, argc - optind,
		    argv + optind);
		config_free(cfg);
	} else if (o.train)
		rc = train(&o, argc - optind, argv + optind);
	else if (o.check_config) {
		cfg = load_config(&o);
		if (check_files(cfg, err, sizeof(err)) != 0)
			fatal("%s", err);
		triage_free(load_rules(cfg->rules_file));
		if (check_parts(cfg, err, sizeof(err)) != 0)
			fatal("%s", err);
		printf("%s: ok\n", cfg->file);
		config_free(cfg);
	} else if (o.migrate) {
		cfg = load_config(&o);
		migrate_only(cfg);
		printf("database schema up to date\n");
		config_free(cfg);
	} else
		rc = run(&o);
	free(o.overrides);
	return rc;
}
