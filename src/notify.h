/* notify.h: tells systemd (Type=notify) what the daemon is doing. */
#ifndef HOTLINE111_NOTIFY_H
#define HOTLINE111_NOTIFY_H

struct event_base;

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Asks for seconds more before systemd's start timeout (migrations). */
void notify_extend_timeout(unsigned seconds);
/* Pings the watchdog at half its interval when systemd asks for one. */
void notify_watchdog_start(struct event_base *base);
void notify_watchdog_stop(void);

#endif
