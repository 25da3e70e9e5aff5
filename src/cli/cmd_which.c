/*
 * ipm which: the package that owns a path in the prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/inspect.h"

static void print_json(const struct ipm_owner *o)
{
	cJSON *doc = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(doc, "path", o->path);
	cJSON_AddStringToObject(doc, "file", o->file);
	cJSON_AddStringToObject(doc, "package", o->name);
	cJSON_AddStringToObject(doc, "version", o->version ? o->version : "");
	text = cJSON_Print(doc);
	puts(text);
	free(text);
	cJSON_Delete(doc);
}

int cmd_which(struct cli *cli, int argc, char **argv)
{
	struct ipm_owner owner = { 0 };
	const char *opt, *value, *path = NULL;
	int idx = 1, r, json = 0, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0) {
			if (path)
				return cli_usage_error(cli, "one path at a time ('%s' and '%s')", path, argv[idx]);
			path = argv[idx++];
			continue;
		}
		if (strcmp(opt, "--json") == 0)
			json = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	if (!path || !*path)
		return cli_usage_error(cli, "%s", path ? "the path is empty" : "which path?");

	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_which(&owner, &cli->ctx, path)) < 0)
		return rc;
	if (json) {
		print_json(&owner);
	} else {
		char *shown_path = cli_shown_dup(owner.path), *shown_file = cli_shown_dup(owner.file);
		char *shown_name = cli_shown_dup(owner.name), *shown_version = cli_shown_dup(owner.version);
		if (strcmp(owner.path, owner.file) == 0)
			printf("%s is owned by %s %s\n", shown_path, shown_name, shown_version);
		else
			printf("%s -> %s is owned by %s %s\n", shown_path, shown_file, shown_name, shown_version);
		free(shown_path);
		free(shown_file);
		free(shown_name);
		free(shown_version);
	}
	ipm_owner_release(&owner);
	return 0;
}
