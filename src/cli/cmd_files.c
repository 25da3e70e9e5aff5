/*
 * ipm files: the paths a package installed into the prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/buf.h"
#include "ipm/inspect.h"
#include "ipm/xalloc.h"

static const char *type_name(char type)
{
	return type == 'd' ? "directory" : type == 'l' ? "symlink" : "file";
}

static void print_json(const struct ipm_package_row *p, const char *prefix)
{
	cJSON *doc = cJSON_CreateObject(), *files;
	char *text;

	cJSON_AddStringToObject(doc, "name", p->name);
	cJSON_AddStringToObject(doc, "version", p->version ? p->version : "");
	cJSON_AddStringToObject(doc, "prefix", prefix);
	files = cJSON_AddArrayToObject(doc, "files");
	for (size_t i = 0; i < p->nfiles; i++) {
		cJSON *f = cJSON_CreateObject();
		char *path = xasprintf("%s/%s", prefix, p->files[i].path);
		cJSON_AddStringToObject(f, "path", path);
		cJSON_AddStringToObject(f, "type", type_name(p->files[i].type));
		if (p->files[i].sha256)
			cJSON_AddStringToObject(f, "sha256", p->files[i].sha256);
		else
			cJSON_AddNullToObject(f, "sha256");
		cJSON_AddItemToArray(files, f);
		free(path);
	}
	text = cJSON_Print(doc);
	puts(text);
	free(text);
	cJSON_Delete(doc);
}

int cmd_files(struct cli *cli, int argc, char **argv)
{
	struct ipm_package_row pkg = { 0 };
	struct ipm_buf out = IPM_BUF_INIT;
	const char *opt, *value, *name = NULL, *prefix;
	int idx = 1, r, json = 0, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0) {
			if (name)
				return cli_usage_error(cli, "one package at a time ('%s' and '%s')", name, argv[idx]);
			name = argv[idx++];
			continue;
		}
		if (strcmp(opt, "--json") == 0)
			json = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	if (!name || !*name)
		return cli_usage_error(cli, "%s", name ? "the package name is empty" : "which package?");

	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_inspect_package(&pkg, &cli->ctx, name, 1)) < 0)
		return rc;
	prefix = pkg.prefix ? pkg.prefix : cli->ctx.cfg.prefix;
	if (strcmp(prefix, "/") == 0)
		prefix = "";
	if (json) {
		print_json(&pkg, prefix);
	} else {
		/* one write for the whole list: a package can have thousands */
		for (size_t i = 0; i < pkg.nfiles; i++) {
			cli_buf_add_shown(&out, prefix, -1);
			ipm_buf_addch(&out, '/');
			cli_buf_add_shown(&out, pkg.files[i].path, -1);
			ipm_buf_add(&out, pkg.files[i].type == 'd' ? "/\n" : "\n");
		}
		fwrite(out.ptr, 1, out.len, stdout);
	}
	ipm_buf_release(&out);
	ipm_package_row_release(&pkg);
	return 0;
}
