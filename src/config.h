/*
 * config.h: hotline111d.conf(5). One table of keys drives parsing,
 * defaults, validation, --check-config and reload.
 */
#ifndef HOTLINE111_CONFIG_H
#define HOTLINE111_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define CONFIG_DEFAULT_FILE SYSCONFDIR "/hotline111/hotline111d.conf"

struct strlist {
	char **v;
	int n;
};

/* A deadline: seconds, or working days on the calendar; unset when both 0. */
struct duration {
	int64_t seconds;
	int working_days;
};

enum deadline_kind { DL_ANSWER, DL_CLAIM, DL_ACT, DL_PLAN, DL_COUNT };

struct bridge_token {
	char *client;
	char *token;
};

struct console_operator {
	char *name;
	long uid;
	char *role;
};

struct pbx_source {
	char *name; /* or NULL: names its events' ids, TYPE:NAME (else TYPE:CONNECT) */
	char *type;
	char *connect;
	char *username;
	char *secret;
	char *password;
	char *ivr_variable;
};

/* Who an escalation level notifies (escalation.notify): a webhook (url)
 * or a command (argv), hotline111d.conf(5). */
struct notify_channel {
	char *name;
	int level;    /* 1 .. the number of escalation.levels; 0: the warnings */
	char *url;    /* http://HOST[:PORT]/PATH, or NULL */
	char **argv;  /* NULL-ended, argv[0] an absolute path; or NULL */
	int timeout;  /* seconds a try may take */
	char *token;  /* the webhook's bearer token (from token_file or token_env), or NULL */
	char *token_file;
	char *token_env;
	int line;     /* in the file, for errors found after parsing */
};

struct notify_list {
	struct notify_channel *v;
	int n;
};

struct token_list {
	struct bridge_token *v;
	int n;
};

struct operator_list {
	struct console_operator *v;
	int n;
};

struct source_list {
	struct pbx_source *v;
	int n;
};

struct config {
	char *file;
	enum log_level log_level;
	char *escalation_log;
	char *db_conninfo;

	struct strlist bridge_listen;
	int bridge_max_line;
	int bridge_max_clients;
	int bridge_window;
	int bridge_max_depth;
	struct token_list tokens;
	int bridge_login_timeout; /* seconds to the hello while tokens are set */
	int bridge_idle_timeout;  /* seconds; 0: never */
	int bridge_max_per_peer;  /* TCP connections from one address; 0: no limit */

	struct strlist console_listen;
	struct operator_list operators;

	char *spool_dir;
	int spool_max_mb;

	char *rules_file;
	int default_priority;

	struct duration deadline[4][DL_COUNT]; /* [priority - 1][kind] */
	double esc_warn;
	int esc_repeat;
	struct strlist esc_levels;
	int weekend_mask;        /* bit d set: ISO day d (1 Monday .. 7 Sunday) is off */
	struct strlist holidays; /* YYYY-MM-DD, validated */
	char *timezone;          /* of the calendar, the log and reports */
	struct notify_list notify;
	int notify_retry;        /* seconds before the first retry; doubles each time */
	int notify_retry_max;    /* the longest wait between tries */
	int notify_give_up;      /* seconds after the escalation: no more tries */

	char *metrics_listen;
	struct source_list sources;
	char *cti_listen;
	char *cti_token;
	int *lines; /* per key of the table: its line in the file, 0 when not there */
};

/*
 * Loads FILE (NULL: defaults only), then applies each "PATH=VALUE" override
 * in order. NULL on error, with "FILE:LINE: message" in err.
 */
struct config *config_load(const char *file, char *const *overrides, int noverrides,
    char *err, size_t errlen);
/* Same, from text in memory (tests, fuzzing); name stands for the file. */
struct config *config_load_string(const char *name, const char *text, char *err,
    size_t errlen);
void config_free(struct config *cfg);

/* Logs, by name, each changed key that only a restart applies. */
int config_warn_restart_keys(const struct config *old, const struct config *new);

/* The line of the file that set key name, or 0 (a default, or -s). */
int config_key_line(const struct config *cfg, const char *name);
/* "FILE:LINE: msg" for a message that starts with a key's name ("cti.token:
 * must be set…"), "FILE: msg" when the key has no line. */
void config_where(const struct config *cfg, const char *msg, char *out, size_t outlen);

/* The key table, for documentation tests: name and help line of key i. */
int config_key_count(void);
const char *config_key_name(int i);
const char *config_key_help(int i);

/* "30s" "5m" "12h" "2d" "5wd" or plain seconds; 0 on success. */
int config_parse_duration(const char *s, struct duration *out);

#endif
