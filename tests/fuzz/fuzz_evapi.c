/*
 * fuzz_evapi.c: any bytes as a Kamailio evapi stream, fed in three pieces
 * cut where a hash of the input says, then again after a reconnect.
 *
 * Besides what the sanitizers catch, pbxfeed.c checks the events and the
 * errors. The limits are small so that oversized frames and a full call
 * table are reached quickly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evapi.h"
#include "pbxfeed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct evapi_options opt = {
		.source = "evapi:fuzz",
		.max_frame = 1024,
		.max_calls = 8,
	};
	struct evapi *e = evapi_new(&opt);

	evapi_reset(e);
	pbxfeed(&evapi_adapter, e, data, size);
	(void)evapi_skipped(e);
	/* a reconnect keeps the calls: the same stream again meets them */
	evapi_reset(e);
	pbxfeed(&evapi_adapter, e, data, size);
	evapi_free(e);
	return 0;
}
