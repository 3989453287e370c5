/*
 * fuzz_config.c: any bytes as a hotline111d.conf, loaded from memory.
 *
 * Besides what the sanitizers catch, this checks what the daemon relies
 * on after a load: a refusal says why, and an accepted file holds only
 * values the key table allows. Each accepted file is also compared with
 * the defaults, as a reload would, so that the comparison sees every
 * shape the parser can build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct config *
defaults(void)
{
	static struct config *def;
	char err[512];

	if (def == NULL && (def = config_load(NULL, NULL, 0, err, sizeof(err))) == NULL)
		abort();
	return def;
}

static void
check_limits(const struct config *c)
{
	if (c->bridge_max_line < 256 || c->bridge_max_line > 16777216 ||
	    c->bridge_window < 1 || c->bridge_window > 65536 ||
	    c->bridge_max_depth < 2 || c->bridge_max_depth > 64 ||
	    c->bridge_listen.n > 16 || c->esc_levels.n < 1 ||
	    !(c->esc_warn >= 0.0 && c->esc_warn <= 1.0) ||
	    (c->weekend_mask & ~0xfe) != 0)
		abort();
	for (int i = 0; i < c->holidays.n; i++)
		if (strlen(c->holidays.v[i]) != 10)
			abort();
	for (int p = 0; p < 4; p++)
		for (int k = 0; k < DL_COUNT; k++) {
			const struct duration *d = &c->deadline[p][k];
			if (d->seconds < 0 || d->seconds > 366 * 86400 || d->working_days < 0 ||
			    d->working_days > 366)
				abort();
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size + 1);
	char err[512] = "";
	struct config *c;

	memcpy(buf, data, size);
	buf[size] = '\0';
	log_set_level(LOG_LVL_ERROR); /* the reload comparison warns */
	if ((c = config_load_string("fuzz", buf, err, sizeof(err))) == NULL) {
		if (err[0] == '\0')
			abort();
	} else {
		check_limits(c);
		config_warn_restart_keys(defaults(), c);
		config_free(c);
	}
	free(buf);
	return 0;
}
