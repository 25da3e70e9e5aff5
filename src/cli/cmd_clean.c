/*
 * ipm clean: delete caches, logs, build trees and the store trees that no
 * installed package or kept generation needs; say what and how many bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/clean.h"
#include "ipm/error.h"

static const char *size_text(char *buf, size_t n, uint64_t bytes)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

int cmd_clean(struct cli *cli, int argc, char **argv)
{
	struct ipm_clean_plan plan = { 0 };
	const char *opt, *value;
	unsigned keep = IPM_CLEAN_KEEP_DEFAULT;
	uint64_t freed = 0;
	int json = 0, dry_run = 0, idx = 1, r, rc = 0;
	char size[32];

	while ((r = cli_next_option(cli, argc, argv, &idx, "--keep", &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		if (strcmp(opt, "--json") == 0) {
			json = 1;
		} else if (strcmp(opt, "--dry-run") == 0) {
			dry_run = 1;
		} else if (strcmp(opt, "--keep") == 0) {
			char *end = NULL;
			long v;
			errno = 0;
			v = strtol(value, &end, 10);
			if (errno || !*value || *end || v < 1 || v > 1000000)
				return cli_usage_error(cli, "--keep needs a number of transactions from 1 on, not '%s'",
						       value);
			keep = (unsigned)v;
		} else {
			return cli_usage_error(cli, "unknown option '%s'", opt);
		}
	}
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_clean_plan(&plan, &cli->ctx, keep)) < 0)
		goto done;
	if (!dry_run && (rc = ipm_clean_run(&freed, &cli->ctx, &plan)) < 0)
		goto done;
	if (dry_run)
		freed = plan.total;
	if (json) {
		cJSON *root = cJSON_CreateObject();
		cJSON *items = cJSON_AddArrayToObject(root, "items");
		char *text;
		for (size_t i = 0; i < plan.n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "kind", plan.items[i].kind);
			cJSON_AddStringToObject(o, "path", plan.items[i].path);
			cJSON_AddNumberToObject(o, "bytes", (double)plan.items[i].bytes);
			cJSON_AddItemToArray(items, o);
		}
		cJSON_AddNumberToObject(root, "total_bytes", (double)freed);
		cJSON_AddBoolToObject(root, "dry_run", dry_run);
		cJSON_AddNumberToObject(root, "keep", keep);
		text = cJSON_Print(root);
		puts(text);
		free(text);
		cJSON_Delete(root);
		goto done;
	}
	for (size_t i = 0; i < plan.n; i++) {
		printf("%-10s  ", plan.items[i].kind);
		cli_print_shown(plan.items[i].path, -1);
		printf("  %s\n", size_text(size, sizeof(size), plan.items[i].bytes));
	}
	printf("%s %s (%llu bytes) in %zu item%s\n", dry_run ? "would free" : "freed",
	       size_text(size, sizeof(size), freed), (unsigned long long)freed, plan.n, plan.n == 1 ? "" : "s");
	if (dry_run && !cli->quiet)
		fprintf(stderr, "dry run: nothing was deleted\n");
done:
	ipm_clean_plan_release(&plan);
	return rc;
}
