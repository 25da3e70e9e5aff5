/*
 * ipm outdated: installed packages whose registry has a newer release, with
 * the newest one upgrade may take (within pins and dependents' constraints).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/outdated.h"
#include "ipm/xalloc.h"

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

static int print_json(const struct ipm_outdated *list, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		add_string(o, "name", list[i].name);
		add_string(o, "installed", list[i].installed);
		add_string(o, "latest", list[i].target);
		add_string(o, "newest", list[i].newest);
		add_string(o, "pinned", list[i].pin);
		add_string(o, "held_by", list[i].held_by);
		add_string(o, "registry", list[i].registry);
		cJSON_AddBoolToObject(o, "explicit", list[i].explicit_install != 0);
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_Print(arr);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(arr);
	return 0;
}

int cmd_outdated(struct cli *cli, int argc, char **argv)
{
	struct ipm_outdated *list = NULL;
	const char *opt, *value;
	size_t n = 0, wname = 4, winst = 9, wlatest = 6;
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
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_outdated_list(&list, &n, &cli->ctx)) < 0)
		return rc;
	if (json) {
		rc = print_json(list, n);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const char *latest = list[i].target ? list[i].target : list[i].newest;
		if (strlen(list[i].name) > wname)
			wname = strlen(list[i].name);
		if (strlen(list[i].installed) > winst)
			winst = strlen(list[i].installed);
		if (strlen(latest) > wlatest)
			wlatest = strlen(latest);
	}
	for (size_t i = 0; i < n; i++) {
		const struct ipm_outdated *o = &list[i];
		char *name = cli_shown_dup(o->name);
		if (i == 0)
			printf("%s%-*s  %-*s  %-*s%s\n", cli_bold(cli), (int)wname, "NAME", (int)winst, "INSTALLED",
			       (int)wlatest, "LATEST", cli_reset(cli));
		/* LATEST is what upgrade takes; a held one shows the newest and why */
		printf("%-*s  %-*s  %-*s", (int)wname, name, (int)winst, o->installed, (int)wlatest,
		       o->target ? o->target : o->newest);
		if (o->pin)
			printf("  pinned (%s)", o->pin);
		if (!o->target && o->held_by && strcmp(o->held_by, "pin"))
			printf("  held by '%s'", o->held_by);
		else if (o->target && strcmp(o->target, o->newest))
			printf("  (newest %s)", o->newest);
		putchar('\n');
		free(name);
	}
	if (n == 0 && !cli->quiet)
		fprintf(stderr, "all installed packages are up to date\n");
done:
	ipm_outdated_free(list, n);
	return rc;
}
