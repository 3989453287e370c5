/* pbxfeed.h: one fuzz input through a PBX adapter, and its events checked. */
#ifndef HOTLINE111_PBXFEED_H
#define HOTLINE111_PBXFEED_H

#include <stddef.h>
#include <stdint.h>

#include "pbx.h"

/* Aborts when an event does not validate or an error is not printable. */
void pbxfeed(const struct pbx_adapter *ad, void *p, const uint8_t *data, size_t size);

#endif
