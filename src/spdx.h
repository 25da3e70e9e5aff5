#ifndef IPM_SPDX_H
#define IPM_SPDX_H
/*
 * The SPDX license and exception identifiers that a "license" expression may
 * name (src/entry.c checks it). Generated into src/spdx.c by scripts/gen-spdx
 * from registry/spdx-licenses.txt and registry/spdx-exceptions.txt; each
 * table is sorted in strcmp order, for bsearch. Not part of the engine's
 * contract.
 */
#include <stddef.h>

extern const char *const ipm_spdx_licenses[];
extern const size_t ipm_spdx_licenses_count;
extern const char *const ipm_spdx_exceptions[];
extern const size_t ipm_spdx_exceptions_count;
#endif
