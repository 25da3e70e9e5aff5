/*
 * libFuzzer target: the import of a registry index document (an HTTP
 * registry's; ipm_registry_import_index and ipm_registry_index_freshness)
 * into a real database. Besides not crashing: an import that succeeds
 * records as many entries as it reports, and one that fails leaves the
 * previous import in place.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/registry.h"

static struct ipm_db *db;
static char dir[] = "/tmp/ipm-fuzz-index-XXXXXX";
static int64_t last_count = -1;   /* entries of the last import that succeeded */

static void remove_dir(void)
{
	ipm_db_free(db);
	ipm_rm_rf_quietly(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[sizeof(dir) + 16];

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/ipm.db", dir);
	if (ipm_db_open(&db, path, IPM_DB_WRITE) < 0) {
		fprintf(stderr, "fuzz_index: %s\n", ipm_error_message());
		abort();
	}
	atexit(remove_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipm_registry_row row = { .name = "fuzz", .kind = "http", .location = "fuzz-index", .stamp = "s" };
	struct ipm_registry_row got = { 0 };
	int64_t version, expires;
	size_t count = 0;
	int rc;

	(void)ipm_registry_index_freshness(&version, &expires, (const char *)data, size, "fuzz-index");
	ipm_error_clear();
	rc = ipm_registry_import_index(db, &row, (const char *)data, size, "fuzz-index", &count);
	if (rc == 0)
		last_count = (int64_t)count;
	else if (ipm_error_message()[0] == '\0')
		abort();   /* a refusal always says why */
	ipm_error_clear();
	if (last_count >= 0) {
		if (ipm_db_registry_get(&got, db, "fuzz") < 0 || got.nentries != last_count) {
			fprintf(stderr, "fuzz_index: %lld entries recorded, %lld imported\n", (long long)got.nentries,
				(long long)last_count);
			abort();
		}
		ipm_registry_row_release(&got);
	}
	ipm_error_clear();
	return 0;
}
