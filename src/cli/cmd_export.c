/*
 * ipm export [FILE]: the lock file of everything installed (ipm/lockfile.h),
 * on standard output or written atomically to FILE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/fs.h"
#include "ipm/lockfile.h"

int cmd_export(struct cli *cli, int argc, char **argv)
{
	const char *opt, *value, *file = NULL;
	char *text = NULL;
	int idx = 1, r, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 1)
			return cli_usage_error(cli, "unknown option '%s'", opt);
		if (file)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		file = argv[idx++];
	}
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_lockfile_export(&text, &cli->ctx)) < 0)
		return rc;
	if (file && strcmp(file, "-")) {
		rc = ipm_file_write_atomic(file, text, strlen(text));
		if (rc == 0 && !cli->quiet)
			fprintf(stderr, "wrote '%s'\n", file);
	} else {
		fputs(text, stdout);
	}
	free(text);
	return rc;
}
