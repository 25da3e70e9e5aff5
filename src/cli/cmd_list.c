/*
 * ipm list: installed packages as a table, or one JSON document.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/db.h"

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

static int print_json(const struct ipm_package_row *pkgs, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char *text;
	size_t i;

	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		add_string(o, "name", pkgs[i].name);
		add_string(o, "version", pkgs[i].version);
		add_string(o, "registry", pkgs[i].registry);
		add_string(o, "source", pkgs[i].source);
		add_string(o, "resolved", pkgs[i].resolved);
		add_string(o, "method", pkgs[i].method);
		add_string(o, "prefix", pkgs[i].prefix);
		add_string(o, "store_dir", pkgs[i].store_dir);
		cJSON_AddBoolToObject(o, "explicit", pkgs[i].explicit_install != 0);
		cJSON_AddNumberToObject(o, "installed_at", (double)pkgs[i].installed_at);
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_Print(arr);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(arr);
	return 0;
}

static size_t max_len(const struct ipm_package_row *pkgs, size_t n, size_t off, size_t min)
{
	size_t i, m = min;

	for (i = 0; i < n; i++) {
		const char *s = *(const char *const *)((const char *)&pkgs[i] + off);
		if (s && strlen(s) > m)
			m = strlen(s);
	}
	return m;
}

int cmd_list(struct cli *cli, int argc, char **argv)
{
	struct ipm_package_row *pkgs = NULL;
	const char *opt, *value;
	size_t n = 0, i, wname, wver;
	int json = 0, idx = 1, r, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		if (strcmp(opt, "--json") == 0)
			json = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	rc = cli_open(cli);
	if (rc < 0)
		return rc;
	rc = ipm_db_package_list(&pkgs, &n, cli->ctx.db);
	if (rc < 0)
		return rc;
	if (json) {
		print_json(pkgs, n);
		goto done;
	}
	if (n == 0) {
		if (!cli->quiet)
			fprintf(stderr, "no packages installed\n");
		goto done;
	}
	wname = max_len(pkgs, n, offsetof(struct ipm_package_row, name), 4);
	wver = max_len(pkgs, n, offsetof(struct ipm_package_row, version), 7);
	printf("%s%-*s  %-*s  %-16s  %s%s\n", cli_bold(cli), (int)wname, "NAME", (int)wver,
	       "VERSION", "INSTALLED", "SOURCE", cli_reset(cli));
	for (i = 0; i < n; i++)
		printf("%-*s  %-*s  %-16s  %s\n", (int)wname, pkgs[i].name, (int)wver,
		       pkgs[i].version, cli_time(pkgs[i].installed_at),
		       pkgs[i].source ? pkgs[i].source : "");
done:
	for (i = 0; i < n; i++)
		ipm_package_row_release(&pkgs[i]);
	free(pkgs);
	return 0;
}
