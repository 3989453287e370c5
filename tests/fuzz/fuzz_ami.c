/*
 * fuzz_ami.c: any bytes as an AMI stream, fed in three pieces cut where a
 * hash of the input says, then again after a reconnect.
 *
 * Besides what the sanitizers catch, pbxfeed.c checks the events and the
 * errors. The limits are small so that oversized blocks and a full call
 * table are reached quickly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ami.h"
#include "pbxfeed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ami_options opt = {
		.username = "hotline111",
		.secret = "secret",
		.ivr_variable = "HOTLINE_IVR",
		.source = "ami:fuzz",
		.max_block = 1024,
		.max_calls = 8,
	};
	struct ami *a = ami_new(&opt);
	char *s;

	if (a == NULL)
		abort();
	pbxfeed(&ami_adapter, a, data, size);
	(void)ami_logged_in(a);
	/* a reconnect keeps the calls: the same stream again meets them */
	ami_reset(a);
	pbxfeed(&ami_adapter, a, data, size);
	s = ami_login(a);
	free(s);
	s = ami_reconcile(a);
	free(s);
	ami_free(a);
	return 0;
}
