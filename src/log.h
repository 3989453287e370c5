/* log.h: the one way to log and the one way to fail. */
#ifndef HOTLINE111_LOG_H
#define HOTLINE111_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

int log_level_parse(const char *name, enum log_level *out);
void log_set_level(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start-up failure: logs and exits 1. Never called for bad input at run time. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Untrusted text made safe for one log line: control bytes and quotes
 * escaped, cut at `max` input bytes. Writes into buf, returns buf.
 */
char *log_escape(char *buf, size_t buflen, const char *s, size_t max);
/*
 * A caller number as logs may show it: +849******78, 091*****78; at most 5
 * digits. Every log line also goes through it: any run of 8 digits or more
 * is masked so, wherever it came from.
 */
char *log_mask_number(char *buf, size_t buflen, const char *number);

#endif
