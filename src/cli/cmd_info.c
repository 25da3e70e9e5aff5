/*
 * ipm info: a package's registry data, its versions, and what is installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/db.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/registry.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

static cJSON *string_array(char *const *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
	return arr;
}

/* The registry's newest release, or NULL. */
static const char *latest_of(const struct ipm_entry *e)
{
	return e && e->nreleases ? e->releases[0].version : NULL;
}

static void print_json(const struct ipm_entry *e, const char *registry,
		       const struct ipm_package_row *pkg, const char *pin, char **dependents, size_t ndependents)
{
	cJSON *o = cJSON_CreateObject(), *arr, *item;
	char *text;
	size_t i;

	add_string(o, "name", e ? e->name : pkg->name);
	if (e) {
		add_string(o, "description", e->description);
		add_string(o, "homepage", e->homepage);
		add_string(o, "license", e->license);
		add_string(o, "repo", e->repo);
		cJSON_AddItemToObject(o, "keywords", string_array(e->keywords, e->nkeywords));
		add_string(o, "registry", registry);
		add_string(o, "latest", latest_of(e));
		arr = cJSON_AddArrayToObject(o, "versions");
		for (i = 0; i < e->nreleases; i++) {
			char *src = ipm_source_describe(&e->releases[i].source);
			item = cJSON_CreateObject();
			add_string(item, "version", e->releases[i].version);
			add_string(item, "source", src);
			cJSON_AddItemToArray(arr, item);
			free(src);
		}
		arr = cJSON_AddArrayToObject(o, "requires");
		for (i = 0; i < e->nrequires; i++) {
			item = cJSON_CreateObject();
			add_string(item, "tool", e->requires[i].tool);
			add_string(item, "constraint", e->requires[i].constraint);
			cJSON_AddItemToArray(arr, item);
		}
		arr = cJSON_AddArrayToObject(o, "depends");
		for (i = 0; i < e->ndepends; i++) {
			item = cJSON_CreateObject();
			add_string(item, "name", e->depends[i].name);
			add_string(item, "constraint", e->depends[i].constraint);
			cJSON_AddItemToArray(arr, item);
		}
		arr = cJSON_AddArrayToObject(o, "methods");
		for (i = 0; i < e->nmethods; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(e->methods[i].name ? e->methods[i].name : ""));
	} else {
		cJSON_AddNullToObject(o, "registry");
		cJSON_AddNullToObject(o, "latest");
	}
	if (pkg) {
		item = cJSON_AddObjectToObject(o, "installed");
		add_string(item, "version", pkg->version);
		add_string(item, "registry", pkg->registry);
		add_string(item, "source", pkg->source);
		add_string(item, "resolved", pkg->resolved);
		add_string(item, "method", pkg->method);
		add_string(item, "build_key", pkg->build_key);
		add_string(item, "prefix", pkg->prefix);
		add_string(item, "store_dir", pkg->store_dir);
		cJSON_AddBoolToObject(item, "explicit", pkg->explicit_install != 0);
		cJSON_AddNumberToObject(item, "installed_at", (double)pkg->installed_at);
		cJSON_AddBoolToObject(item, "guessed", pkg->guessed_entry != NULL);
		add_string(item, "pinned", pin);
		cJSON_AddBoolToObject(item, "outdated",
				      latest_of(e) && ipm_version_cmp(latest_of(e), pkg->version) > 0);
		arr = cJSON_AddArrayToObject(item, "files");
		for (i = 0; i < pkg->nfiles; i++)
			if (pkg->files[i].type != 'd')
				cJSON_AddItemToArray(arr, cJSON_CreateString(pkg->files[i].path));
		cJSON_AddItemToObject(item, "dependencies", string_array(pkg->depends, pkg->ndepends));
	} else {
		cJSON_AddNullToObject(o, "installed");
	}
	cJSON_AddItemToObject(o, "dependents", string_array(dependents, ndependents));
	text = cJSON_Print(o);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
}

/* Registry text goes through cli_print_shown: escape sequences and
 * reordering controls in an entry are shown, not obeyed. */
static void field(struct cli *cli, const char *key, const char *value)
{
	if (value && *value) {
		printf("%s%-12s%s ", cli_bold(cli), key, cli_reset(cli));
		cli_print_shown(value, -1);
		putchar('\n');
	}
}

/* "  WORD[ CONSTRAINT]" on a line of its own. */
static void item_line(const char *word, const char *constraint)
{
	printf("  ");
	cli_print_shown(word, -1);
	if (constraint) {
		putchar(' ');
		cli_print_shown(constraint, -1);
	}
	putchar('\n');
}

static void print_text(struct cli *cli, const struct ipm_entry *e, const char *registry,
		       const struct ipm_package_row *pkg, const char *pin, char **dependents, size_t ndependents)
{
	size_t i;

	field(cli, "name:", e ? e->name : pkg->name);
	if (e) {
		field(cli, "description:", e->description);
		field(cli, "homepage:", e->homepage);
		field(cli, "license:", e->license);
		field(cli, "repo:", e->repo);
		if (e->nkeywords) {
			printf("%s%-12s%s", cli_bold(cli), "keywords:", cli_reset(cli));
			for (i = 0; i < e->nkeywords; i++) {
				printf("%s", i ? ", " : " ");
				cli_print_shown(e->keywords[i], -1);
			}
			printf("\n");
		}
		field(cli, "registry:", registry);
		field(cli, "latest:", latest_of(e));
		printf("%s%-12s%s\n", cli_bold(cli), "versions:", cli_reset(cli));
		for (i = 0; i < e->nreleases; i++) {
			char *src = ipm_source_describe(&e->releases[i].source);
			printf("  %-10s ", e->releases[i].version);
			cli_print_shown(src ? src : "", -1);
			putchar('\n');
			free(src);
		}
		if (e->nrequires) {
			printf("%s%-12s%s\n", cli_bold(cli), "requires:", cli_reset(cli));
			for (i = 0; i < e->nrequires; i++)
				item_line(e->requires[i].tool, e->requires[i].constraint);
		}
		if (e->ndepends) {
			printf("%s%-12s%s\n", cli_bold(cli), "depends:", cli_reset(cli));
			for (i = 0; i < e->ndepends; i++)
				item_line(e->depends[i].name, e->depends[i].constraint);
		}
		if (e->nmethods) {
			printf("%s%-12s%s", cli_bold(cli), "methods:", cli_reset(cli));
			for (i = 0; i < e->nmethods; i++) {
				printf("%s", i ? ", " : " ");
				cli_print_shown(e->methods[i].name ? e->methods[i].name : "(unnamed)", -1);
			}
			printf("\n");
		}
	} else {
		printf("%s%-12s%s (no longer in any registry)\n", cli_bold(cli), "registry:", cli_reset(cli));
	}
	if (pkg) {
		size_t nlinks = 0;
		for (i = 0; i < pkg->nfiles; i++)
			if (pkg->files[i].type != 'd')
				nlinks++;
		printf("%s%-12s%s ", cli_bold(cli), "installed:", cli_reset(cli));
		cli_print_shown(pkg->version, -1);
		printf(", %s%s", cli_time(pkg->installed_at), pkg->explicit_install ? "" : " (as a dependency)");
		if (latest_of(e) && ipm_version_cmp(latest_of(e), pkg->version) > 0)
			printf(" (outdated: %s is the latest)", latest_of(e));
		putchar('\n');
		field(cli, "  pinned:", pin);
		field(cli, "  source:", pkg->source);
		field(cli, "  resolved:", pkg->resolved);
		field(cli, "  method:", pkg->method);
		field(cli, "  build key:", pkg->build_key);
		if (pkg->guessed_entry)
			printf("  %-10s yes: no registry entry; the recipe was guessed from the repository\n"
			       "             (ipm registry new --from-installed %s writes it out)\n",
			       "guessed:", pkg->name);
		field(cli, "  prefix:", pkg->prefix);
		printf("  %-10s %zu\n", "files:", nlinks);
		if (pkg->ndepends) {
			printf("%s%-12s%s", cli_bold(cli), "dependencies:", cli_reset(cli));
			for (i = 0; i < pkg->ndepends; i++) {
				printf("%s", i ? ", " : " ");
				cli_print_shown(pkg->depends[i], -1);
			}
			printf("\n");
		}
	} else {
		printf("%s%-12s%s no\n", cli_bold(cli), "installed:", cli_reset(cli));
	}
	if (ndependents) {
		printf("%s%-12s%s", cli_bold(cli), "dependents:", cli_reset(cli));
		for (i = 0; i < ndependents; i++) {
			printf("%s", i ? ", " : " ");
			cli_print_shown(dependents[i], -1);
		}
		printf("\n");
	}
}

int cmd_info(struct cli *cli, int argc, char **argv)
{
	struct ipm_entry entry;
	struct ipm_package_row pkg;
	const char *opt, *value, *spec = NULL;
	char *registry = NULL, *pin = NULL;
	char **dependents = NULL;
	size_t ndependents = 0;
	int json = 0, idx = 1, r, rc, found = 0, installed = 0, find_rc;

	memset(&entry, 0, sizeof(entry));
	memset(&pkg, 0, sizeof(pkg));
	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0) {
			if (spec)
				return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
			spec = argv[idx++];
			continue;
		}
		if (strcmp(opt, "--json") == 0)
			json = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	if (!spec)
		return cli_usage_error(cli, "which package?");

	rc = cli_open(cli);
	if (rc < 0)
		return rc;
	/* no "did you mean" yet: scanning every name is wasted on a package
	 * that is installed but no longer in a registry */
	find_rc = ipm_registry_lookup(&entry, &registry, &cli->ctx, spec);
	if (find_rc == 0) {
		found = 1;
	} else if (find_rc != IPM_ENOTFOUND) {
		rc = find_rc;
		goto done;
	}
	rc = ipm_db_package_get(&pkg, cli->ctx.db, found ? entry.name : spec, 1);
	if (rc == 0)
		installed = 1;
	else if (rc != IPM_ENOTFOUND)
		goto done;
	if (!found && installed && pkg.guessed_entry &&
	    ipm_entry_parse(&entry, pkg.guessed_entry, strlen(pkg.guessed_entry), pkg.name) == 0) {
		/* no registry has it: what ipm guessed and installed describes it */
		found = 1;
		registry = xstrdup("none (the entry was guessed)");
	}
	ipm_error_clear();
	if (!found && !installed) {
		/* the registries' error, with its hint */
		rc = ipm_registry_find(&entry, &registry, &cli->ctx, spec);
		if (rc < 0)
			goto done;
		found = 1;   /* imported meanwhile */
	}
	rc = ipm_db_package_dependents(&dependents, &ndependents, cli->ctx.db,
				       found ? entry.name : spec);
	if (rc < 0)
		goto done;
	if (installed && (rc = ipm_db_pin_get(&pin, cli->ctx.db, pkg.name)) < 0)
		goto done;
	if (json)
		print_json(found ? &entry : NULL, registry, installed ? &pkg : NULL, pin, dependents,
			   ndependents);
	else
		print_text(cli, found ? &entry : NULL, registry, installed ? &pkg : NULL, pin, dependents,
			   ndependents);
	rc = 0;
done:
	xfree_strv(dependents, ndependents);
	if (found)
		ipm_entry_release(&entry);
	if (installed)
		ipm_package_row_release(&pkg);
	free(registry);
	free(pin);
	return rc;
}
