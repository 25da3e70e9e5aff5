#ifndef IPM_CLI_H
#define IPM_CLI_H
/*
 * The command line: main.c parses the global options, finds the command in
 * its one table, installs the log/progress handlers, and prints errors; each
 * src/cli/cmd_<name>.c holds only its command's own logic.
 *
 * Adding a command (checklist):
 *   1. Write src/cli/cmd_<name>.c with `int cmd_<name>(struct cli *cli, int argc, char **argv)`
 *      and declare it below. Parse options with cli_next_option() (which also
 *      accepts the global options after the command name), then call
 *      cli_open(cli) once the arguments are known to be valid: it sets up what
 *      the table row's `needs` asks for (database, lock, network).
 *   2. Add one row to the table in main.c: name, function, needs, one-line
 *      summary, synopsis (exactly the SYNOPSIS line of its man page) and the
 *      option lines `ipm <name> --help` prints; other names go into the
 *      aliases table below it (say them in the man page's DESCRIPTION).
 *   3. Write man/ipm-<name>.1 (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT
 *      STATUS, EXAMPLES, SEE ALSO) and list it in man/ipm.1;
 *      tests/e2e/t0010-help-vs-man.sh checks the synopsis automatically.
 *   4. Write tests/e2e/tNNNN-<name>.sh covering success and every error.
 *
 * Return values of a command: 0 success; a negative IPM_E* code (the error
 * slot holds the message, main prints it and exits 1); or CLI_EXIT_FAILURE /
 * CLI_EXIT_USAGE when the command printed its own message.
 * Output rules: results on stdout (with --json exactly one JSON document and
 * nothing else), everything else on stderr.
 */
#include <stdio.h>
#include "ipm/ctx.h"

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
};

/* Needs beyond ctx.h's: the command may use the network (libgit2/libcurl). */
#define CLI_NEED_NET (1u << 8)

struct cli;
typedef int (*cli_cmd_fn)(struct cli *cli, int argc, char **argv);

struct cli_command {
	const char *name;
	cli_cmd_fn fn;
	unsigned needs;          /* IPM_NEED_* | CLI_NEED_NET */
	const char *summary;     /* one line for `ipm --help` */
	const char *synopsis;    /* "ipm install [-y|--yes] ..." = the man page's SYNOPSIS */
	const char *options;     /* option lines for `ipm CMD --help`, or NULL */
};

struct cli {
	const struct cli_command *cmd;
	const char *argv0;
	const char *prefix;      /* --prefix */
	int quiet;
	int verbose;
	int color_err;           /* colour on stderr */
	int color_out;           /* colour on stdout */
	int progress_tty;        /* stderr is a terminal that can redraw a line (not TERM=dumb) */
	int opened;
	unsigned needs;          /* cmd->needs; a subcommand may narrow it before cli_open */
	struct ipm_ctx ctx;
};

/* Sets up the context for cli->cmd->needs (idempotent). */
int cli_open(struct cli *cli);

/*
 * Option parsing for commands. Call with *i starting at 1; returns:
 *   1 and sets *opt (e.g. "--yes", "-y") and *value (for options listed in
 *     `with_value`, a space-separated list such as "--method") for an option;
 *   0 when argv[*i] is an operand (or after "--"), leaving *i on it;
 *   -1 at the end of argv;
 *   -2 after printing a usage error (a missing or bad value): return
 *      CLI_EXIT_USAGE.
 * Global options (-q, -v, --color=..., --prefix DIR) are consumed on the way.
 */
int cli_next_option(struct cli *cli, int argc, char **argv, int *i, const char *with_value,
		    const char **opt, const char **value);

/* Prints "ipm: error: <msg>" (+ usage line) to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "ipm: error: <msg>" and the hint line; returns CLI_EXIT_FAILURE. */
int cli_error(struct cli *cli, const char *msg, const char *hint);
/* Reads y/N from the terminal after printing question on stderr; 1 = yes. */
int cli_confirm(struct cli *cli, const char *question);
/* Approval of the plan just printed: 0 with yes (-y) or a "y" on a
 * terminal; else IPM_ECANCEL "refusing to <action> without confirmation"
 * (no terminal) or "<what> cancelled" (answered no). */
int cli_approve(struct cli *cli, int yes, const char *action, const char *what);
/* Bold / dim / colour wrappers for stdout, empty strings without colour. */
const char *cli_bold(struct cli *cli);
const char *cli_reset(struct cli *cli);
/*
 * Text from a registry (descriptions, homepages, keywords, sources, recipe
 * steps) on the terminal: what the user reads is what the entry says. A
 * control character (an escape sequence, a carriage return) could rewrite
 * the screen or hide part of a line, and so could the Unicode controls that
 * reorder text (bidirectional overrides and isolates): they are shown
 * escaped, as \xNN and \uNNNN, and so is a byte that is not UTF-8. A tab
 * stays; a newline starts a new line at column indent, or with indent < 0
 * (a one-line field) is escaped too. --json output needs none of this:
 * JSON escapes control characters itself.
 */
struct ipm_buf;
void cli_buf_add_shown(struct ipm_buf *b, const char *text, int indent);
/* cli_buf_add_shown to stdout. */
void cli_print_shown(const char *text, int indent);
/* The one-line form (indent < 0) as a new string (NULL: ""); caller frees. */
char *cli_shown_dup(const char *text);

/* Formats unix seconds as "YYYY-MM-DD HH:MM" (local time) into a static buffer. */
const char *cli_time(long long t);
/* Directory of the running ipm binary (caller frees), or NULL. */
char *cli_exe_dir(const char *argv0);
/* The command table, for `ipm help`: a command by its name or an alias. */
const struct cli_command *cli_find_command(const char *name);
/* "did you mean 'install'?" for a mistyped command name (the names and
 * aliases within a couple of edits, or that it begins), or NULL; caller
 * frees. */
char *cli_command_suggestion(const char *name);
void cli_print_command_help(const struct cli_command *cmd, FILE *out);
void cli_print_main_help(FILE *out);

/* Subcommands of `ipm registry` that live in their own files
 * (src/cli/registry_<name>.c); argv[0] is the subcommand's name. */
int cmd_registry_new(struct cli *cli, int argc, char **argv);
int cmd_registry_check(struct cli *cli, int argc, char **argv);
int cmd_registry_build(struct cli *cli, int argc, char **argv);
int cmd_registry_keygen(struct cli *cli, int argc, char **argv);

int cmd_install(struct cli *cli, int argc, char **argv);
int cmd_remove(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_info(struct cli *cli, int argc, char **argv);
int cmd_search(struct cli *cli, int argc, char **argv);
int cmd_update(struct cli *cli, int argc, char **argv);
int cmd_registry(struct cli *cli, int argc, char **argv);
int cmd_env(struct cli *cli, int argc, char **argv);
int cmd_cache(struct cli *cli, int argc, char **argv);
int cmd_help(struct cli *cli, int argc, char **argv);
int cmd_history(struct cli *cli, int argc, char **argv);
int cmd_rollback(struct cli *cli, int argc, char **argv);
int cmd_clean(struct cli *cli, int argc, char **argv);

/* After ipm_plan_execute (src/cli/plan_report.c): each package's outcome
 * and a summary on stderr ("installed 2, failed 1: NAME (why)", and, when
 * the plan was undone, "nothing was changed: the plan was rolled back").
 * -q keeps only the lines of a failure. */
struct ipm_plan;
struct ipm_plan_outcome;
void cli_plan_report(struct cli *cli, const struct ipm_plan *plan, const struct ipm_plan_outcome *o, int rc);
int cmd_outdated(struct cli *cli, int argc, char **argv);
int cmd_upgrade(struct cli *cli, int argc, char **argv);
int cmd_pin(struct cli *cli, int argc, char **argv);
int cmd_unpin(struct cli *cli, int argc, char **argv);
int cmd_autoremove(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);

/* The second half of `ipm install` (src/cli/cmd_install.c), for every
 * command that runs a plan (install, upgrade, import): checks `requires`,
 * shows the plan ("ipm will <verb> N packages", versions that change as
 * "a -> b", downgrades marked), stops for a dry run, asks for approval,
 * runs it and prints each outcome. A failed run is reported here (returns
 * CLI_EXIT_FAILURE), followed by the installed packages it left as they
 * were. */
struct ipm_plan;
int cli_plan_execute(struct cli *cli, struct ipm_plan *plan, int yes, int dry_run, int trust_guess,
		     const char *verb);
/* After packages were removed (src/cli/cmd_autoremove.c): unless quiet,
 * names the packages that installing them as dependencies left unneeded
 * now and were not before (before: ipm_db_package_unneeded's answer from
 * before the change), with the `ipm autoremove` hint. */
void cli_note_unneeded(struct cli *cli, char *const *before, size_t nbefore);
int cmd_which(struct cli *cli, int argc, char **argv);
int cmd_files(struct cli *cli, int argc, char **argv);
int cmd_verify(struct cli *cli, int argc, char **argv);

/* After a successful install (src/cli/cmd_env.c): once per IPM_HOME (the
 * marker $IPM_HOME/env-hint-shown), unless quiet, a note on stderr that the
 * prefix's bin/ exists but is not on PATH, with the `ipm env` hint. */
void cli_env_note(struct cli *cli);
#endif
