/*
 * ipm registry list | add [--key PUBKEY] [--insecure] NAME URL | remove NAME
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/sign.h"

static const char *kind_name(enum ipm_registry_kind kind)
{
	switch (kind) {
	case IPM_REGISTRY_LOCAL: return "local";
	case IPM_REGISTRY_GIT: return "git";
	case IPM_REGISTRY_HTTP: return "http";
	}
	return "?";
}

static int registry_list(struct cli *cli)
{
	size_t i, wname = 4;

	for (i = 0; i < cli->ctx.cfg.nregistries; i++)
		if (strlen(cli->ctx.cfg.registries[i].name) > wname)
			wname = strlen(cli->ctx.cfg.registries[i].name);
	printf("%s%-*s  %-5s  %-8s  %s%s\n", cli_bold(cli), (int)wname, "NAME", "KIND", "PACKAGES",
	       "URL", cli_reset(cli));
	for (i = 0; i < cli->ctx.cfg.nregistries; i++) {
		const struct ipm_registry_conf *reg = &cli->ctx.cfg.registries[i];
		struct ipm_registry_row row = { 0 };
		char count[32];

		if (ipm_db_registry_get(&row, cli->ctx.db, reg->name) == 0) {
			snprintf(count, sizeof(count), "%lld", (long long)row.nentries);
			ipm_registry_row_release(&row);
		} else {
			ipm_error_clear();
			snprintf(count, sizeof(count), "-");
		}
		printf("%-*s  %-5s  %-8s  %s\n", (int)wname, reg->name, kind_name(reg->kind), count,
		       reg->url);
	}
	return 0;
}

static int registry_admin(struct cli *cli, int argc, char **argv)
{
	const char *opt, *value, *operands[4] = { NULL }, *key = NULL;
	size_t nops = 0;
	int idx = 0, r, rc, insecure = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, "--key", &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 1 && !strcmp(argv[0], "add") && !strcmp(opt, "--key")) {
			key = value;
			continue;
		}
		if (r == 1 && !strcmp(argv[0], "add") && !strcmp(opt, "--insecure")) {
			insecure = 1;
			continue;
		}
		if (r == 1)
			return cli_usage_error(cli, "unknown option '%s'", opt);
		if (nops == 4)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		operands[nops++] = argv[idx++];
	}
	if (strcmp(operands[0], "list") == 0) {
		if (nops != 1)
			return cli_usage_error(cli, "'registry list' takes no arguments");
	} else if (strcmp(operands[0], "add") == 0) {
		if (nops != 3)
			return cli_usage_error(cli, "'registry add' needs NAME and URL");
	} else if (nops != 2) {
		return cli_usage_error(cli, "'registry remove' needs NAME");
	}

	rc = cli_open(cli);
	if (rc < 0)
		return rc;
	if (strcmp(operands[0], "list") == 0)
		return registry_list(cli);
	if (strcmp(operands[0], "add") == 0) {
		rc = ipm_config_registry_add(&cli->ctx.cfg, operands[1], operands[2], key, insecure);
		if (rc < 0)
			return rc;
		if (!cli->quiet) {
			const struct ipm_registry_conf *added = ipm_config_registry(&cli->ctx.cfg, operands[1]);
			struct ipm_sign_pubkey pk;
			char id[17] = "";
			if (added && added->key && ipm_sign_pubkey_parse(&pk, added->key) == 0)
				ipm_sign_keyid_hex(id, pk.keyid);
			fprintf(stderr, "added registry '%s'", operands[1]);
			if (*id)
				fprintf(stderr, ": its index must be signed by key %s", id);
			fprintf(stderr, "\nhint: run 'ipm update' to import it\n");
		}
		return 0;
	}
	rc = ipm_config_registry_remove(&cli->ctx.cfg, operands[1]);
	if (rc < 0)
		return rc;
	/* Its entries must not keep resolving names after it is gone. */
	rc = ipm_db_registry_drop(cli->ctx.db, operands[1]);
	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		rc = 0;
	}
	if (rc < 0)
		return rc;
	if (!cli->quiet)
		fprintf(stderr, "removed registry '%s'\n", operands[1]);
	return 0;
}

/* The subcommands. The row's needs are the command table's (database, lock)
 * for the configuration subcommands; the authoring ones narrow them (they
 * work on files and sources, not on the installed state). */
static const struct {
	const char *name;
	cli_cmd_fn fn;
	unsigned needs;
} subcommands[] = {
	{ "list", registry_admin, IPM_NEED_DB_WRITE | IPM_NEED_SYNC_WARN },
	{ "add", registry_admin, IPM_NEED_DB_WRITE | IPM_NEED_SYNC_WARN },
	{ "remove", registry_admin, IPM_NEED_DB_WRITE | IPM_NEED_SYNC_WARN },
	{ "new", cmd_registry_new, CLI_NEED_NET },
	{ "check", cmd_registry_check, CLI_NEED_NET },
	{ "build", cmd_registry_build, 0 },
	{ "keygen", cmd_registry_keygen, 0 },
};

int cmd_registry(struct cli *cli, int argc, char **argv)
{
	const char *opt, *value;
	int idx = 1, r;

	/* global options may come before the subcommand's name */
	r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value);
	if (r == -2)
		return CLI_EXIT_USAGE;
	if (r == 1)
		return cli_usage_error(cli, "unknown option '%s'", opt);
	if (r == -1)
		return cli_usage_error(cli, "which subcommand: list, add, remove, new, check, build or keygen?");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(argv[idx], subcommands[i].name) == 0) {
			cli->needs = subcommands[i].needs;
			return subcommands[i].fn(cli, argc - idx, argv + idx);
		}
	}
	return cli_usage_error(cli, "unknown subcommand '%s'", argv[idx]);
}
