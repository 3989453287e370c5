/* notify.c: sd_notify(3) when built with libsystemd; nothing otherwise. */
#include "notify.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
static int
sd_notify(int unset, const char *state)
{
	return 0;
}
static int
sd_watchdog_enabled(int unset, uint64_t *usec)
{
	return 0;
}
#endif

static struct event *watchdog;

void
notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void
notify_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	sd_notify(0, buf);
}

/* A long step (a migration) asks systemd for more time to start or stop. */
void
notify_extend_timeout(unsigned seconds)
{
	char buf[64];

	snprintf(
	    buf, sizeof(buf), "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)seconds * 1000000ULL);
	sd_notify(0, buf);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

void
notify_watchdog_start(struct event_base *base)
{
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	tv.tv_sec = (time_t)(usec / 2 / 1000000);
	tv.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, NULL);
	event_add(watchdog, &tv);
}

void
notify_watchdog_stop(void)
{
	if (watchdog != NULL)
		event_free(watchdog);
	watchdog = NULL;
}
