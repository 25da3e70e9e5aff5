/*
 * ipm registry build DIR OUT: compiles registry directory DIR into OUT, the
 * index document an HTTP registry serves (src/publish.c). Nothing is written
 * while any entry has a problem; every problem is printed, one line each.
 */
#include <stdio.h>

#include "cli.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/publish.h"

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
	const char *opt, *value, *operands[2] = { NULL };
	size_t nops = 0;
	int idx = 1, r, rc, written = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
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
	if ((rc = ipm_publish_write(&written, operands[1], index.json, index.len)) < 0)
		goto done;
	if (!cli->quiet)
		fprintf(stderr, "%s '%s': %zu package%s\n", written ? "wrote" : "unchanged", operands[1],
			index.npackages, index.npackages == 1 ? "" : "s");
done:
	ipm_problems_release(&problems);
	ipm_index_release(&index);
	return rc;
}
