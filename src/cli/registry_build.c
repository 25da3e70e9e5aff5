/*
 * ipm registry build [--sign KEYFILE] [--expires DAYS] DIR OUT: compiles
 * registry directory DIR into OUT, the index document an HTTP registry
 * serves (src/publish.c). Nothing is written while any entry has a problem;
 * every problem is printed, one line each. With --sign, the index carries
 * its version and expiry and OUT.minisig is written beside it; --expires
 * alone stamps the index for signing with another tool (minisign -S).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/publish.h"
#include "ipm/registry.h"
#include "ipm/sign.h"

#define DEFAULT_VALID_DAYS 30
#define MAX_VALID_DAYS 3650

/* One line per problem: "ipm: error: MESSAGE (HINT)". */
static void print_problems(struct cli *cli, const struct ipm_problems *problems)
{
	for (size_t i = 0; i < problems->n; i++) {
		const struct ipm_problem *p = &problems->items[i];
		fprintf(stderr, "ipm: %serror:%s %s", cli->color_err ? "\033[1;31m" : "",
			cli->color_err ? "\033[0m" : "", p->message);
		if (p->hint && *p->hint)
			fprintf(stderr, " (%s)", p->hint);
		fputc('\n', stderr);
	}
}

int cmd_registry_build(struct cli *cli, int argc, char **argv)
{
	struct ipm_problems problems = { 0 };
	struct ipm_index index = { 0 };
	struct ipm_sign_seckey sk;
	const char *opt, *value, *operands[2] = { NULL }, *sign = NULL;
	char when[21], id[17];
	size_t nops = 0;
	long days = 0;
	int idx = 1, r, rc, written = 0, kept = 0, sig_written = 0, have_key = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, "--sign --expires", &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 1 && !strcmp(opt, "--sign")) {
			if (!*value)
				return cli_usage_error(cli, "option '--sign' needs a secret key file");
			sign = value;
			continue;
		}
		if (r == 1 && !strcmp(opt, "--expires")) {
			char *end = NULL;
			days = strtol(value, &end, 10);
			if (!*value || *end || days < 1 || days > MAX_VALID_DAYS)
				return cli_usage_error(cli, "option '--expires' needs a number of days from 1 to %d",
						       MAX_VALID_DAYS);
			continue;
		}
		if (r == 1)
			return cli_usage_error(cli, "unknown option '%s'", opt);
		if (nops == 2)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		operands[nops++] = argv[idx++];
	}
	if (nops != 2)
		return cli_usage_error(cli, "'registry build' needs DIR and OUT");
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_publish_check_paths(operands[0], operands[1])) < 0)
		return rc;
	/* a key that cannot sign is found before any work */
	if (sign) {
		if ((rc = ipm_sign_seckey_load(&sk, sign)) < 0)
			return rc;
		have_key = 1;
		if (!days)
			days = DEFAULT_VALID_DAYS;
	}

	/* the rules every entry follows (install's): a private registry may
	 * serve http:// and file:// sources; `registry check` adds the public
	 * registry's rules */
	rc = ipm_publish_index(&index, &problems, operands[0], 0);
	if (rc < 0 && problems.n) {
		print_problems(cli, &problems);
		fprintf(stderr, "ipm: %zu problem%s in '%s': '%s' not written\n", problems.n,
			problems.n == 1 ? "" : "s", operands[0], operands[1]);
		ipm_error_clear();
		rc = CLI_EXIT_FAILURE;
		goto done;
	}
	if (rc < 0)
		goto done;
	if (days && (rc = ipm_publish_stamp(&index, &kept, operands[1], (int64_t)time(NULL),
					    (int64_t)days * 86400)) < 0)
		goto done;
	if ((rc = ipm_publish_write(&written, operands[1], index.json, index.len)) < 0)
		goto done;
	if (have_key && (rc = ipm_publish_sign(&sig_written, &index, operands[1], &sk)) < 0)
		goto done;
	if (!cli->quiet) {
		fprintf(stderr, "%s '%s': %zu package%s", written ? "wrote" : "unchanged", operands[1],
			index.npackages, index.npackages == 1 ? "" : "s");
		if (index.version) {
			ipm_registry_time_format(when, index.expires);
			fprintf(stderr, ", version %lld, expires %s", (long long)index.version, when);
		}
		fputc('\n', stderr);
		if (have_key) {
			ipm_sign_keyid_hex(id, sk.keyid);
			fprintf(stderr, "%s '%s.minisig': key %s\n", sig_written ? "signed" : "unchanged",
				operands[1], id);
		}
	}
done:
	if (have_key)
		ipm_sign_seckey_clear(&sk);
	ipm_problems_release(&problems);
	ipm_index_release(&index);
	return rc;
}
