/*
 * ipm verify: whether the installed files, links, directories and run-time
 * linkage are still what ipm installed; one line per problem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/inspect.h"
#include "ipm/xalloc.h"

static int print_problem(void *opaque, const struct ipm_verify_problem *p)
{
	cJSON *problems = opaque;

	if (problems) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "package", p->package);
		cJSON_AddStringToObject(o, "path", p->path);
		cJSON_AddStringToObject(o, "kind", ipm_verify_kind_name(p->kind));
		if (p->detail)
			cJSON_AddStringToObject(o, "detail", p->detail);
		else
			cJSON_AddNullToObject(o, "detail");
		cJSON_AddStringToObject(o, "message", p->message);
		cJSON_AddItemToArray(problems, o);
	} else {
		char *path = cli_shown_dup(p->path), *message = cli_shown_dup(p->message);
		printf("%s: %s: %s\n", p->package, path, message);
		free(path);
		free(message);
	}
	return 0;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int cmd_verify(struct cli *cli, int argc, char **argv)
{
	struct ipm_verify_stats stats;
	cJSON *doc = NULL, *problems = NULL;
	const char *opt, *value;
	const char **names = NULL;
	size_t nnames = 0, i;
	int idx = 1, r, json = 0, rc;

	names = xcalloc((size_t)argc, sizeof(*names));
	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2) {
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		if (r == 0) {
			if (!*argv[idx]) {
				rc = cli_usage_error(cli, "the package name is empty");
				goto done;
			}
			for (i = 0; i < nnames && strcmp(names[i], argv[idx]) != 0; i++)
				;
			if (i == nnames)
				names[nnames++] = argv[idx];
			idx++;
			continue;
		}
		if (strcmp(opt, "--json") == 0) {
			json = 1;
		} else {
			rc = cli_usage_error(cli, "unknown option '%s'", opt);
			goto done;
		}
	}

	if ((rc = cli_open(cli)) < 0)
		goto done;
	if (json) {
		doc = cJSON_CreateObject();
		problems = cJSON_CreateArray();
	}
	if ((rc = ipm_verify(&stats, &cli->ctx, names, nnames, print_problem, problems)) < 0)
		goto done;
	if (json) {
		char *text;
		cJSON_AddNumberToObject(doc, "packages", (double)stats.packages);
		cJSON_AddNumberToObject(doc, "files", (double)stats.files);
		cJSON_AddNumberToObject(doc, "symlinks", (double)stats.links);
		cJSON_AddNumberToObject(doc, "directories", (double)stats.dirs);
		cJSON_AddItemToObject(doc, "problems", problems);
		problems = NULL;
		text = cJSON_Print(doc);
		puts(text);
		free(text);
	} else {
		printf("verified %zu %s (%zu %s, %zu %s, %zu %s): ", stats.packages,
		       plural(stats.packages, "package", "packages"), stats.files, plural(stats.files, "file", "files"),
		       stats.links, plural(stats.links, "symlink", "symlinks"), stats.dirs,
		       plural(stats.dirs, "directory", "directories"));
		if (stats.problems)
			printf("%zu %s\n", stats.problems, plural(stats.problems, "problem", "problems"));
		else
			printf("no problems\n");
	}
	rc = stats.problems ? CLI_EXIT_FAILURE : 0;
done:
	cJSON_Delete(problems);
	cJSON_Delete(doc);
	free(names);
	return rc;
}
