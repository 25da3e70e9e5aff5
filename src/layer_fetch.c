/*
 * The table that ipm-fetch.so exports (see layer.h): the real functions of
 * the fetch layer, which the ipm program calls through it. Linked into the
 * shared object only.
 */
#include "layer.h"

#define ENTRY_INT(name, params, args) .name = name,
#define ENTRY_PTR(type, name, params, args) .name = name,

const struct ipm_fetch_layer ipm_fetch_layer = {
	.sig = IPM_LAYER_SIG(IPM_FETCH_LAYER),
	.init = ipm_fetch_init,
	.shutdown = ipm_fetch_shutdown,
	IPM_FETCH_LAYER(ENTRY_INT, ENTRY_PTR, ENTRY_INT)
};
