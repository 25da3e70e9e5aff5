/*
 * ipm history: the numbered transactions, what each command changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/db.h"
#include "ipm/error.h"

/* "+jq 1.7", "-oniguruma 6.9", "cjson 1.7.19 -> 1.7.21", "mkapp 1.0 (rebuilt)" */
static void print_change(const struct ipm_history_change *c)
{
	printf("      ");
	if (!c->old_version)
		printf("+");
	else if (!c->new_version)
		printf("-");
	cli_print_shown(c->name, 6);
	if (!c->old_version)
		printf(" %s\n", c->new_version);
	else if (!c->new_version)
		printf(" %s\n", c->old_version);
	else if (strcmp(c->old_version, c->new_version) == 0)
		printf(" %s (rebuilt or changed)\n", c->new_version);
	else
		printf(" %s -> %s\n", c->old_version, c->new_version);
}

int cmd_history(struct cli *cli, int argc, char **argv)
{
	struct ipm_history_entry *h = NULL;
	const char *opt, *value;
	size_t n = 0;
	int json = 0, idx = 1, r, rc = 0;

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
	if ((rc = ipm_db_history_list(&h, &n, cli->ctx.db)) < 0)
		return rc;
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		char *text;
		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON *changes = NULL;
			cJSON_AddNumberToObject(o, "id", (double)h[i].id);
			cJSON_AddNumberToObject(o, "at", (double)h[i].at);
			cJSON_AddStringToObject(o, "date", cli_time(h[i].at));
			cJSON_AddStringToObject(o, "command", h[i].command ? h[i].command : "");
			changes = cJSON_AddArrayToObject(o, "changes");
			for (size_t k = 0; k < h[i].nchanges; k++) {
				const struct ipm_history_change *c = &h[i].changes[k];
				cJSON *co = cJSON_CreateObject();
				cJSON_AddStringToObject(co, "name", c->name);
				if (c->old_version)
					cJSON_AddStringToObject(co, "from", c->old_version);
				else
					cJSON_AddNullToObject(co, "from");
				if (c->new_version)
					cJSON_AddStringToObject(co, "to", c->new_version);
				else
					cJSON_AddNullToObject(co, "to");
				cJSON_AddItemToArray(changes, co);
			}
			cJSON_AddItemToArray(arr, o);
		}
		text = cJSON_Print(arr);
		puts(text);
		free(text);
		cJSON_Delete(arr);
	} else if (n == 0) {
		if (!cli->quiet)
			fprintf(stderr, "no transactions yet: installs, removals and rollbacks are recorded here\n");
	} else {
		for (size_t i = 0; i < n; i++) {
			printf("%s%4lld%s  %s  ", cli_bold(cli), (long long)h[i].id, cli_reset(cli), cli_time(h[i].at));
			cli_print_shown(h[i].command ? h[i].command : "", -1);
			putchar('\n');
			for (size_t k = 0; k < h[i].nchanges; k++)
				print_change(&h[i].changes[k]);
		}
	}
	ipm_history_free(h, n);
	return 0;
}
