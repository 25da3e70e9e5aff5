/*
 * ipm help [COMMAND]: the manual page, from the man/ directory that ships
 * with this ipm (build tree or installed), else the built-in help.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"

/* <exe dir>/../man/PAGE.1 in the build tree, <exe dir>/../share/man/man1/PAGE.1 installed. */
static char *find_page(const char *argv0, const char *page)
{
	char *dir = cli_exe_dir(argv0), *path = NULL;

	if (!dir)
		return NULL;
	path = xasprintf("%s/../man/%s.1", dir, page);
	if (!ipm_path_exists(path)) {
		free(path);
		path = xasprintf("%s/../share/man/man1/%s.1", dir, page);
		if (!ipm_path_exists(path)) {
			free(path);
			path = NULL;
		}
	}
	free(dir);
	return path;
}

/* Runs man; 0 when it showed the page. */
static int run_man(const char *file, const char *page)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (file)
			execlp("man", "man", "-l", file, (char *)NULL);
		else
			execlp("man", "man", page, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int cmd_help(struct cli *cli, int argc, char **argv)
{
	const struct cli_command *cmd = NULL;
	const char *opt, *value, *topic = NULL;
	char *page = NULL, *file = NULL;
	int idx = 1, r, rc = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 1)
			return cli_usage_error(cli, "unknown option '%s'", opt);
		if (topic)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		topic = argv[idx++];
	}
	if (topic) {
		cmd = cli_find_command(topic);
		if (!cmd) {
			char *hint = cli_command_suggestion(topic);
			rc = cli_usage_error(cli, "no command '%s'", topic);
			if (hint)
				fprintf(stderr, "hint: %s\n", hint);
			free(hint);
			return rc;
		}
		page = xasprintf("ipm-%s", cmd->name);
	} else {
		page = xstrdup("ipm");
	}
	file = find_page(cli->argv0, page);
	if (run_man(file, page) < 0) {
		/* No man program or no page: the built-in help still says how to call it. */
		if (cmd)
			cli_print_command_help(cmd, stdout);
		else
			cli_print_main_help(stdout);
	}
	free(file);
	free(page);
	return rc;
}
