/*
 * The table that ipm-digest.so exports (see layer.h). Linked into the
 * shared object only.
 */
#include "layer.h"

#define ENTRY_INT(name, params, args) .name = name,
#define ENTRY_PTR(type, name, params, args) .name = name,

const struct ipm_digest_layer ipm_digest_layer = {
	.sig = IPM_LAYER_SIG(IPM_DIGEST_LAYER),
	IPM_DIGEST_LAYER(ENTRY_INT, ENTRY_PTR, ENTRY_INT)
};
