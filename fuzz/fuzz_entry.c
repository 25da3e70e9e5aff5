/*
 * libFuzzer target: the entry parser and checker (src/entry.c). Every input
 * is checked twice, with the private and with the public rules, so both
 * sets of rules run; an entry that passes must describe itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ipm/entry.h"
#include "ipm/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipm_entry e;
	struct ipm_problems problems = { 0 };

	for (unsigned flags = 0; flags <= IPM_ENTRY_PUBLIC; flags++) {
		if (ipm_entry_check(&e, &problems, (const char *)data, size, "fuzz.json", flags) == 0) {
			for (size_t i = 0; i < e.nreleases; i++) {
				char *shown = ipm_source_describe(&e.releases[i].source);
				free(shown);
			}
			(void)ipm_entry_find_release(&e, ">=1.0, <2");
			(void)ipm_entry_find_method(&e, NULL);
			ipm_entry_release(&e);
		} else if (problems.n == 0) {
			abort();   /* a refusal always says why */
		}
		ipm_problems_release(&problems);
		ipm_error_clear();
	}
	return 0;
}
