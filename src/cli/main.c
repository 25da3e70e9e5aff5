/*
 * ipm's entry point: global options, the command table, output handlers,
 * error printing and exit status (0 ok, 1 failure, 2 usage error).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/interrupt.h"
#include "ipm/log.h"
#include "ipm/similar.h"
#include "ipm/xalloc.h"

#ifndef IPM_VERSION
#define IPM_VERSION "unknown"
#endif

#define IPM_SYNOPSIS "ipm [-q|--quiet] [-v|--verbose] [--color=WHEN] [--prefix DIR] COMMAND [ARGS...]"

static const struct cli_command commands[] = {
	{ "install", cmd_install, IPM_NEED_DB_WRITE | IPM_NEED_PREFIX | CLI_NEED_NET,
	  "install packages and their dependencies",
	  "ipm install [-y|--yes] [--dry-run] [--trust-guess] [--method NAME] SPEC...",
	  "  -y, --yes          run the plan without asking\n"
	  "      --dry-run      print the plan and stop\n"
	  "      --trust-guess  run a recipe guessed for a repository no registry knows\n"
	  "                     without asking (implies --yes; --yes alone does not run it)\n"
	  "      --method NAME  use only the install method NAME\n"
	  "  SPEC is NAME, NAME@VERSION, owner/repo, https://HOST/owner/repo[.git],\n"
	  "  github:owner/repo, PATH/TO/git-repository or PATH/TO/entry.json;\n"
	  "  a repository takes @TAG or @COMMIT\n" },
	{ "remove", cmd_remove, IPM_NEED_DB_WRITE | IPM_NEED_SYNC_WARN | IPM_NEED_PREFIX,
	  "remove installed packages",
	  "ipm remove [-y|--yes] [--force] [--dry-run] NAME...",
	  "  -y, --yes          remove without asking\n"
	  "      --force        remove even when installed packages depend on it\n"
	  "      --dry-run      print what would be removed and stop\n" },
	{ "history", cmd_history, IPM_NEED_DB_READ,
	  "list the transactions: when, which command, what changed",
	  "ipm history [--json]",
	  "      --json         print one JSON document\n" },
	{ "rollback", cmd_rollback, IPM_NEED_DB_WRITE | IPM_NEED_SYNC_WARN | IPM_NEED_PREFIX,
	  "return to the state after an earlier transaction (no rebuild)",
	  "ipm rollback [-y|--yes] [--dry-run] [N]",
	  "  -y, --yes          roll back without asking\n"
	  "      --dry-run      print what would change and stop\n"
	  "  N is a transaction of 'ipm history' (default: the one before the last;\n"
	  "  0: the state before the first)\n" },
	{ "clean", cmd_clean, IPM_NEED_DB_WRITE | IPM_NEED_SYNC_WARN,
	  "delete caches, logs and store trees nothing needs",
	  "ipm clean [--dry-run] [--json] [--keep N]",
	  "      --dry-run      print what would be deleted and stop\n"
	  "      --json         print one JSON document\n"
	  "      --keep N       keep the store trees of the states after the last N\n"
	  "                     transactions (default 2: the installed state and the one\n"
	  "                     'ipm rollback' returns to)\n" },
	{ "upgrade", cmd_upgrade, IPM_NEED_DB_WRITE | IPM_NEED_PREFIX | CLI_NEED_NET,
	  "upgrade outdated packages to the newest allowed release",
	  "ipm upgrade [-y|--yes] [--dry-run] [NAME...]",
	  "  -y, --yes          run the plan without asking\n"
	  "      --dry-run      print the plan and stop\n"
	  "  NAME               upgrade only these (default: every outdated package)\n" },
	{ "outdated", cmd_outdated, IPM_NEED_DB_LOOKUP,
	  "list installed packages that have a newer release",
	  "ipm outdated [--json]",
	  "      --json         print one JSON document\n" },
	{ "pin", cmd_pin, IPM_NEED_DB_WRITE,
	  "hold an installed package at its version or within a constraint",
	  "ipm pin NAME [CONSTRAINT]",
	  "  CONSTRAINT         e.g. ^1.7 or >=1.2, <2 (default: exactly the installed version)\n" },
	{ "unpin", cmd_unpin, IPM_NEED_DB_WRITE,
	  "let a pinned package change again",
	  "ipm unpin NAME",
	  NULL },
	{ "autoremove", cmd_autoremove, IPM_NEED_DB_WRITE | IPM_NEED_SYNC_WARN | IPM_NEED_PREFIX,
	  "remove dependencies that no installed package needs any more",
	  "ipm autoremove [-y|--yes] [--dry-run]",
	  "  -y, --yes          remove without asking\n"
	  "      --dry-run      print what would be removed and stop\n" },
	{ "export", cmd_export, IPM_NEED_DB_READ,
	  "write a lock file of every installed package",
	  "ipm export [FILE]",
	  "  FILE               write there (default: standard output)\n" },
	{ "import", cmd_import, IPM_NEED_DB_WRITE | IPM_NEED_PREFIX | CLI_NEED_NET,
	  "install exactly the packages of a lock file",
	  "ipm import [-y|--yes] [--dry-run] FILE",
	  "  -y, --yes          run the plan without asking\n"
	  "      --dry-run      print the plan and stop\n" },
	{ "list", cmd_list, IPM_NEED_DB_READ,
	  "list installed packages",
	  "ipm list [--json]",
	  "      --json         print one JSON document\n" },
	{ "info", cmd_info, IPM_NEED_DB_LOOKUP,
	  "show a package's registry data and installed state",
	  "ipm info [--json] NAME",
	  "      --json         print one JSON document\n" },
	{ "search", cmd_search, IPM_NEED_DB_LOOKUP,
	  "search the registries",
	  "ipm search [--json] QUERY...",
	  "      --json         print one JSON document\n" },
	{ "update", cmd_update, IPM_NEED_DB_WRITE | CLI_NEED_NET,
	  "refresh every configured registry",
	  "ipm update [--force]",
	  "      --force        fetch every index again, whatever its ETag says\n" },
	{ "registry", cmd_registry, IPM_NEED_DB_WRITE | IPM_NEED_SYNC_WARN,
	  "manage registries; write, check and publish registry entries",
	  "ipm registry list | add [--key PUBKEY] [--insecure] NAME URL | remove NAME | new NAME (--git URL [--tag TAG] | --url URL) | new --from-installed NAME | check [--build] [PATH...] | build [--sign KEYFILE] [--expires DAYS] DIR OUT | keygen [--dir DIR]",
	  "  list               show the configured registries\n"
	  "  add [--key PUBKEY] [--insecure] NAME URL\n"
	  "                     add a registry (directory, git URL, or URL of an index .json);\n"
	  "                     --key pins the minisign public key (RW... or a .pub file) its\n"
	  "                     index must be signed with; --insecure allows plain http://\n"
	  "  remove NAME        remove a registry and forget its entries\n"
	  "  new NAME (--git URL [--tag TAG] | --url URL) [--version V] [--description TEXT]\n"
	  "      [--license SPDX] [--homepage URL] [--dir REGISTRY_DIR]\n"
	  "                     write REGISTRY_DIR/packages/NAME.json (default: ./registry, else .)\n"
	  "                     with the source pinned and a recipe guessed\n"
	  "  new --from-installed NAME [--dir REGISTRY_DIR]\n"
	  "                     write the entry ipm guessed when it installed NAME from a\n"
	  "                     repository no registry knew (ipm install OWNER/REPO)\n"
	  "  check [--build] [PATH...]\n"
	  "                     validate entries (default: the bundled registry); --build also\n"
	  "                     installs each into a temporary home and removes it\n"
	  "  build [--sign KEYFILE] [--expires DAYS] DIR OUT\n"
	  "                     compile registry DIR into the index document an HTTP registry serves;\n"
	  "                     an OUT not ending in .json is a directory for the sparse layout\n"
	  "                     (OUT/index.json is the URL); --sign also writes OUT.minisig (sparse:\n"
	  "                     OUT/index.json.minisig), the index valid for DAYS (default 30)\n"
	  "  keygen [--dir DIR] write a key pair for --sign, DIR/registry.key and DIR/registry.pub\n"
	  "                     (default: the configuration's directory); print the public key\n" },
	{ "which", cmd_which, IPM_NEED_DB_READ,
	  "show the package that owns a file in the prefix",
	  "ipm which [--json] PATH",
	  "      --json         print one JSON document\n"
	  "  PATH is absolute or relative to the current directory; a symlink to a\n"
	  "  prefix file, or a path into a package's store tree, counts as that file\n" },
	{ "files", cmd_files, IPM_NEED_DB_READ,
	  "list the files a package installed",
	  "ipm files [--json] NAME",
	  "      --json         print one JSON document\n" },
	{ "verify", cmd_verify, IPM_NEED_DB_READ,
	  "check installed files, links and run-time linkage",
	  "ipm verify [--json] [NAME...]",
	  "      --json         print one JSON document\n"
	  "  without NAME, every installed package is checked\n" },
	{ "cache", cmd_cache, IPM_NEED_DB_READ | CLI_NEED_NET,
	  "list the local binary cache; push builds to a binary cache",
	  "ipm cache list [--json] | push --to URL --key SECRET_KEY NAME...",
	  "  list [--json]      the builds in the local binary cache, with their sizes\n"
	  "  push --to URL --key SECRET_KEY NAME...\n"
	  "                     upload the builds of the installed packages NAME to the binary\n"
	  "                     cache at URL (HTTP PUT, or file://), signed with SECRET_KEY (a\n"
	  "                     minisign secret key file); never overwrites another object\n" },
	{ "env", cmd_env, 0,
	  "print shell lines that put the prefix on PATH, MANPATH and more",
	  "ipm env [--shell sh|bash|zsh|fish]",
	  "      --shell NAME   lines for sh, bash, zsh or fish (default: from $SHELL)\n" },
	{ "help", cmd_help, 0,
	  "show the manual of ipm or of a command",
	  "ipm help [COMMAND]",
	  NULL },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Other names of commands, the ones users of other package managers type
 * first; `ipm --help` shows them beside the command. An alias of a command
 * that is not in the table is ignored. */
static const struct {
	const char *alias, *command;
} aliases[] = {
	{ "uninstall", "remove" },
	{ "rm", "remove" },
	{ "ls", "list" },
	{ "show", "info" },
	{ "owns", "which" },
	{ "hold", "pin" },
	{ "unhold", "unpin" },
};
#define NALIASES (sizeof(aliases) / sizeof(aliases[0]))

static const char global_options[] =
	"  -q, --quiet          print only errors and results\n"
	"  -v, --verbose        print debugging information\n"
	"      --color=WHEN     colour output: auto (default), always or never\n"
	"      --prefix DIR     link installed files under DIR (default: $IPM_PREFIX or ~/.local)\n"
	"  -h, --help           show this help (after a command: that command's help)\n"
	"      --version        print ipm's version\n";

enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };
static enum color_mode color_mode = COLOR_AUTO;

/* ---- output handlers ---- */

/*
 * Progress on stderr, unless -q. Several things can be under way at once
 * (a plan's fetches and builds run at the same time): each label is an
 * item, followed until it ends (or says nothing for ITEM_STALE seconds).
 * On a terminal: one line per item, redrawn in place (at most ten times a
 * second), each cut to the terminal's width, and cleared before any other
 * message; a download's last state stays on screen, a build step's line
 * goes when the step ends. Not on a terminal (a log file, CI): plain
 * lines, an item's first once it has run for a second, then at most one
 * every PLAIN_EVERY seconds, and a download's end when a line about it
 * was printed.
 */
#define PLAIN_EVERY 10.0
#define ITEM_STALE 10.0
#define MAX_ITEMS 32

struct progress_item {
	char *label;
	int plain_lines;         /* plain lines printed about label */
	double start, last;      /* monotonic seconds: label's first report, last output */
	double seen;             /* its last report */
	char *line;              /* on a terminal: what it shows */
};

static struct {
	int active;              /* lines of progress on screen */
	double drawn;            /* when they were drawn */
	struct progress_item items[MAX_ITEMS];
	size_t n;
} progress;

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress_clear(void)
{
	if (progress.active) {
		fputs("\r\033[K", stderr);
		for (int k = 1; k < progress.active; k++)
			fputs("\033[A\r\033[K", stderr);
		progress.active = 0;
	}
}

static void item_drop(size_t i)
{
	free(progress.items[i].label);
	free(progress.items[i].line);
	memmove(&progress.items[i], &progress.items[i + 1], (progress.n - i - 1) * sizeof(progress.items[0]));
	progress.n--;
}

/* the item of label, new when there is none (the oldest gives way when
 * too many are under way) */
static struct progress_item *item_of(const char *label, double t)
{
	struct progress_item *it;

	for (size_t i = 0; i < progress.n; i++)
		if (strcmp(progress.items[i].label, label) == 0)
			return &progress.items[i];
	for (size_t i = progress.n; i-- > 0;)
		if (t - progress.items[i].seen > ITEM_STALE)
			item_drop(i);
	if (progress.n == MAX_ITEMS)
		item_drop(0);
	it = &progress.items[progress.n++];
	memset(it, 0, sizeof(*it));
	it->label = xstrdup(label);
	it->start = t;
	return it;
}

/* every item's line, one under the other, the cursor at the end of the last */
static void progress_draw(double t)
{
	progress_clear();
	for (size_t i = 0; i < progress.n; i++) {
		if (!progress.items[i].line)
			continue;
		fprintf(stderr, "%s%s", progress.active ? "\n" : "", progress.items[i].line);
		progress.active++;
	}
	progress.drawn = t;
}

static void human_bytes(char *out, size_t n, double v)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void format_progress(struct ipm_buf *line, const char *label, uint64_t done, uint64_t total,
			    const char *unit, uint64_t bytes, double elapsed)
{
	char a[32], b[32], r[32];

	/* labels quote registry text (URLs, recipe steps) */
	cli_buf_add_shown(line, label, -1);
	if (unit && strcmp(unit, "ms") == 0) {
		ipm_buf_addf(line, " (%llu s)", (unsigned long long)(done / 1000));
	} else if (unit && strcmp(unit, "B") == 0) {
		human_bytes(a, sizeof(a), (double)done);
		human_bytes(r, sizeof(r), elapsed > 0.05 ? done / elapsed : 0);
		if (total) {
			human_bytes(b, sizeof(b), (double)total);
			ipm_buf_addf(line, ": %s / %s (%s/s)", a, b, r);
		} else {
			ipm_buf_addf(line, ": %s (%s/s)", a, r);
		}
	} else {
		if (total)
			ipm_buf_addf(line, ": %llu/%llu %s", (unsigned long long)done, (unsigned long long)total,
				     unit ? unit : "");
		else
			ipm_buf_addf(line, ": %llu %s", (unsigned long long)done, unit ? unit : "");
		if (bytes) {
			human_bytes(a, sizeof(a), (double)bytes);
			human_bytes(r, sizeof(r), elapsed > 0.05 ? bytes / elapsed : 0);
			ipm_buf_addf(line, ", %s (%s/s)", a, r);
		}
	}
}

/* line cut to the terminal's width, so that \r redraws it in place */
static void fit_terminal(struct ipm_buf *line)
{
	struct winsize ws;
	size_t width = 80, len;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		width = ws.ws_col;
	len = line->len;
	if (len < width)
		return;
	len = width > 1 ? width - 1 : 0;
	while (len && ((unsigned char)line->ptr[len] & 0xC0) == 0x80)
		len--;
	ipm_buf_truncate(line, len);
}

static void on_progress(void *opaque, const char *label, uint64_t done, uint64_t total,
			const char *unit, uint64_t bytes)
{
	struct cli *cli = opaque;
	struct ipm_buf line = IPM_BUF_INIT;
	int finished = total > 0 && done >= total;
	int step = unit && strcmp(unit, "ms") == 0;
	struct progress_item *it;
	double t, elapsed;

	if (cli->quiet)
		return;
	t = now_seconds();
	it = item_of(label, t);
	it->seen = t;
	elapsed = step ? done / 1000.0 : t - it->start;

	if (cli->progress_tty) {
		int fresh = !it->line;
		format_progress(&line, label, done, total, unit, bytes, elapsed);
		fit_terminal(&line);
		free(it->line);
		it->line = ipm_buf_detach(&line);
		if (finished) {
			/* a download's last state stays above the lines still drawn */
			if (!step) {
				progress_clear();
				fprintf(stderr, "\r\033[K%s\n", it->line);
			}
			item_drop((size_t)(it - progress.items));
			progress_draw(t);
		} else if (fresh || t - progress.drawn >= 0.1) {
			/* at most ten redraws a second, but always the first and
			 * the last one */
			progress_draw(t);
		}
	} else {
		if (finished) {
			int shown = !step && it->plain_lines;
			if (shown)
				format_progress(&line, label, done, total, unit, bytes, elapsed);
			item_drop((size_t)(it - progress.items));
			if (!shown)
				return;
		} else if (it->plain_lines ? t - it->last < PLAIN_EVERY : elapsed < 1.0) {
			return;
		} else {
			it->last = t;
			it->plain_lines++;
			format_progress(&line, label, done, total, unit, bytes, elapsed);
		}
		fprintf(stderr, "%s\n", line.ptr);
	}
	fflush(stderr);
	ipm_buf_release(&line);
}

/* msg for stderr: a message can quote registry text (a failing step, a
 * recipe's output), shown escaped as on stdout; lines stay lines. The
 * result is valid until the next call. */
static const char *shown_message(const char *msg)
{
	static struct ipm_buf shown = IPM_BUF_INIT;

	ipm_buf_reset(&shown);
	cli_buf_add_shown(&shown, msg, 0);
	return shown.ptr;
}

static void on_log(void *opaque, enum ipm_log_level level, const char *msg)
{
	struct cli *cli = opaque;

	if ((level == IPM_LOG_DEBUG || level == IPM_LOG_OUTPUT) && !cli->verbose)
		return;
	if (level == IPM_LOG_INFO && cli->quiet)
		return;
	progress_clear();
	msg = shown_message(msg);
	if (level == IPM_LOG_WARN)
		fprintf(stderr, "ipm: %swarning:%s %s\n", cli->color_err ? "\033[1;33m" : "",
			cli->color_err ? "\033[0m" : "", msg);
	else if (level == IPM_LOG_OUTPUT)
		fprintf(stderr, "%s\n", msg);
	else if (level == IPM_LOG_DEBUG)
		fprintf(stderr, "%sdebug: %s%s\n", cli->color_err ? "\033[2m" : "", msg,
			cli->color_err ? "\033[0m" : "");
	else
		fprintf(stderr, "%s\n", msg);
}

/* ---- helpers for commands ---- */

int cli_error(struct cli *cli, const char *msg, const char *hint)
{
	progress_clear();
	fprintf(stderr, "ipm: %serror:%s %s\n", cli->color_err ? "\033[1;31m" : "",
		cli->color_err ? "\033[0m" : "", shown_message(msg && *msg ? msg : "unknown error"));
	if (hint && *hint)
		fprintf(stderr, "%shint:%s %s\n", cli->color_err ? "\033[1;36m" : "",
			cli->color_err ? "\033[0m" : "", shown_message(hint));
	return CLI_EXIT_FAILURE;
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	cli_error(cli, n >= 0 ? msg : fmt, NULL);
	free(n >= 0 ? msg : NULL);
	fprintf(stderr, "usage: %s\n", cli->cmd ? cli->cmd->synopsis : IPM_SYNOPSIS);
	return CLI_EXIT_USAGE;
}

int cli_confirm(struct cli *cli, const char *question)
{
	char line[64];

	progress_clear();
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return line[0] == 'y' || line[0] == 'Y';
}

int cli_approve(struct cli *cli, int yes, const char *action, const char *what)
{
	int rc;

	if (yes)
		return 0;
	if (!cli->opened || !cli->ctx.interactive) {
		rc = ipm_error_set(IPM_ECANCEL, "refusing to %s without confirmation", action);
		ipm_error_hint("pass --yes to approve the plan above, or run ipm on a terminal");
		return rc;
	}
	if (!cli_confirm(cli, "Proceed?"))
		return ipm_error_set(IPM_ECANCEL, "%s cancelled", what);
	return 0;
}

const char *cli_bold(struct cli *cli)
{
	return cli->color_out ? "\033[1m" : "";
}

const char *cli_reset(struct cli *cli)
{
	return cli->color_out ? "\033[0m" : "";
}

const char *cli_time(long long t)
{
	static char out[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(out, sizeof(out), "%Y-%m-%d %H:%M", &tm))
		snprintf(out, sizeof(out), "%lld", t);
	return out;
}

char *cli_exe_dir(const char *argv0)
{
	char *exe = realpath("/proc/self/exe", NULL), *slash;

	if (!exe && argv0 && strchr(argv0, '/'))
		exe = realpath(argv0, NULL);
	if (!exe)
		return NULL;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	return exe;
}

static const struct cli_command *find_name(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

const struct cli_command *cli_find_command(const char *name)
{
	const struct cli_command *cmd = find_name(name);
	size_t i;

	for (i = 0; !cmd && i < NALIASES; i++)
		if (strcmp(aliases[i].alias, name) == 0)
			cmd = find_name(aliases[i].command);
	return cmd;
}

/* One candidate for cli_command_suggestion: kept when at least as close
 * as the best so far; one of each command (its name before its aliases). */
struct suggestion {
	const char *words[3];
	const struct cli_command *cmds[3];
	size_t n, best;
};

static void consider(struct suggestion *sg, const char *typed, const char *word,
		     const struct cli_command *cmd)
{
	size_t len = strlen(typed), d, k;

	if (!cmd)
		return;
	d = ipm_edit_distance_max(typed, word, sg->best, IPM_EDIT_ICASE);
	/* "inst" for install: the start of a name counts as one edit */
	if (d > 1 && len >= 3 && len < strlen(word) && strncasecmp(typed, word, len) == 0)
		d = 1;
	if (d > sg->best)
		return;
	if (d < sg->best) {
		sg->n = 0;
		sg->best = d;
	}
	for (k = 0; k < sg->n; k++)
		if (sg->cmds[k] == cmd)
			return;
	if (sg->n < 3) {
		sg->words[sg->n] = word;
		sg->cmds[sg->n++] = cmd;
	}
}

char *cli_command_suggestion(const char *name)
{
	struct suggestion sg;
	struct ipm_buf hint = IPM_BUF_INIT;
	size_t len = strlen(name), i, k;

	memset(&sg, 0, sizeof(sg));
	/* a third of the name's length in edits, at most 2: "instal", "remvoe" */
	sg.best = len >= 6 ? 2 : len >= 3 ? 1 : 0;
	if (sg.best == 0)
		return NULL;
	for (i = 0; i < NCOMMANDS; i++)
		consider(&sg, name, commands[i].name, &commands[i]);
	for (i = 0; i < NALIASES; i++)
		consider(&sg, name, aliases[i].alias, find_name(aliases[i].command));
	if (sg.n == 0)
		return NULL;
	ipm_buf_add(&hint, "did you mean ");
	for (k = 0; k < sg.n; k++)
		ipm_buf_addf(&hint, "%s'%s'", k == 0 ? "" : k + 1 == sg.n ? " or " : ", ", sg.words[k]);
	ipm_buf_addch(&hint, '?');
	return ipm_buf_detach(&hint);
}

/* "<before>uninstall, rm<after>" for remove; nothing without aliases. */
static void print_aliases(FILE *out, const struct cli_command *cmd, const char *before, const char *after)
{
	int first = 1;
	size_t i;

	for (i = 0; i < NALIASES; i++) {
		if (strcmp(aliases[i].command, cmd->name) != 0)
			continue;
		fprintf(out, "%s%s", first ? before : ", ", aliases[i].alias);
		first = 0;
	}
	if (!first)
		fputs(after, out);
}

void cli_print_command_help(const struct cli_command *cmd, FILE *out)
{
	fprintf(out, "usage: %s\n\n%s\n", cmd->synopsis, cmd->summary);
	print_aliases(out, cmd, "aliases: ", "\n");
	if (cmd->options)
		fprintf(out, "\n%s", cmd->options);
	fprintf(out, "\nRun 'ipm help %s' for the manual.\n", cmd->name);
}

void cli_print_main_help(FILE *out)
{
	size_t i;

	fprintf(out, "usage: %s\n       ipm --help | --version\n\n"
		"ipm installs packages described by JSON registries, from git or archives,\n"
		"tracks them in a database and removes every trace of them.\n\ncommands:\n",
		IPM_SYNOPSIS);
	for (i = 0; i < NCOMMANDS; i++) {
		fprintf(out, "  %-10s %s", commands[i].name, commands[i].summary);
		print_aliases(out, &commands[i], " (also: ", ")");
		fputc('\n', out);
	}
	fprintf(out, "\noptions:\n%s\nRun 'ipm help COMMAND' for a command's manual.\n",
		global_options);
}

static int fetch_ready;
/* argv joined, for history (ctx.command_line) */
static char *command_line;

int cli_open(struct cli *cli)
{
	unsigned needs = cli->needs;
	int rc;

	if (cli->opened)
		return 0;
	/* ipm_ctx_open initialises the fetch layer for writers itself. */
	if ((needs & CLI_NEED_NET) && !fetch_ready) {
		rc = ipm_fetch_init();
		if (rc < 0)
			return rc;
		fetch_ready = 1;
	}
	rc = ipm_ctx_open(&cli->ctx, cli->argv0, cli->prefix,
			  needs & (IPM_NEED_DB_READ | IPM_NEED_DB_WRITE | IPM_NEED_LOCK | IPM_NEED_DB_LOOKUP |
				   IPM_NEED_SYNC_WARN | IPM_NEED_PREFIX));
	if (rc < 0)
		return rc;
	cli->ctx.command_line = command_line;
	cli->opened = 1;
	return 0;
}

static void decide_color(struct cli *cli)
{
	const char *no_color = getenv("NO_COLOR");

	switch (color_mode) {
	case COLOR_ALWAYS:
		cli->color_err = cli->color_out = 1;
		break;
	case COLOR_NEVER:
		cli->color_err = cli->color_out = 0;
		break;
	case COLOR_AUTO:
		if (no_color && *no_color) {
			cli->color_err = cli->color_out = 0;
		} else {
			const char *term = getenv("TERM");
			int dumb = term && strcmp(term, "dumb") == 0;
			cli->color_err = !dumb && isatty(STDERR_FILENO);
			cli->color_out = !dumb && isatty(STDOUT_FILENO);
		}
		break;
	}
}

static int set_color(struct cli *cli, const char *when)
{
	if (strcmp(when, "auto") == 0)
		color_mode = COLOR_AUTO;
	else if (strcmp(when, "always") == 0)
		color_mode = COLOR_ALWAYS;
	else if (strcmp(when, "never") == 0)
		color_mode = COLOR_NEVER;
	else {
		cli_usage_error(cli, "invalid --color value '%s'", when);
		fprintf(stderr, "hint: use --color=auto, --color=always or --color=never\n");
		return -2;
	}
	return 0;
}

/* Handles one global option at argv[*i]: 1 consumed, 0 not global, -2 usage error. */
static int global_option(struct cli *cli, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
		cli->quiet = 1;
	} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		cli->verbose = 1;
	} else if (strncmp(a, "--color=", 8) == 0) {
		if (set_color(cli, a + 8) < 0)
			return -2;
	} else if (strcmp(a, "--color") == 0) {
		color_mode = COLOR_ALWAYS;
	} else if (strncmp(a, "--prefix=", 9) == 0) {
		cli->prefix = a + 9;
	} else if (strcmp(a, "--prefix") == 0) {
		if (*i + 1 >= argc) {
			cli_usage_error(cli, "option '--prefix' needs a directory");
			return -2;
		}
		cli->prefix = argv[++*i];
	} else {
		return 0;
	}
	if (cli->prefix && !*cli->prefix) {
		cli_usage_error(cli, "option '--prefix' needs a directory");
		return -2;
	}
	decide_color(cli);
	return 1;
}

static int word_in(const char *word, size_t len, const char *list)
{
	size_t n;

	while (list && *list) {
		n = strcspn(list, " ");
		if (n == len && strncmp(list, word, len) == 0)
			return 1;
		list += n;
		while (*list == ' ')
			list++;
	}
	return 0;
}

int cli_next_option(struct cli *cli, int argc, char **argv, int *i, const char *with_value,
		    const char **opt, const char **value)
{
	int g;

	*opt = NULL;
	*value = NULL;
	for (;;) {
		const char *a, *eq;
		if (*i >= argc)
			return -1;
		a = argv[*i];
		if (strcmp(a, "--") == 0) {
			++*i;
			return *i < argc ? 0 : -1;
		}
		if (a[0] != '-' || a[1] == '\0')
			return 0;
		g = global_option(cli, argc, argv, i);
		if (g < 0)
			return -2;
		if (g > 0) {
			++*i;
			continue;
		}
		eq = strchr(a, '=');
		if (eq && a[1] == '-' && word_in(a, (size_t)(eq - a), with_value)) {
			static char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
			*opt = name;
			*value = eq + 1;
			++*i;
			return 1;
		}
		*opt = a;
		++*i;
		if (word_in(a, strlen(a), with_value)) {
			if (*i >= argc) {
				cli_usage_error(cli, "option '%s' needs a value", a);
				return -2;
			}
			*value = argv[(*i)++];
		}
		return 1;
	}
}

static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli;
	int i = 1, rc, g;

	memset(&cli, 0, sizeof(cli));
	cli.argv0 = argv[0];
	decide_color(&cli);
	{
		const char *term = getenv("TERM");
		cli.progress_tty = isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
	}

	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			break;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli_print_main_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("ipm %s\n", IPM_VERSION);
			return CLI_EXIT_OK;
		}
		g = global_option(&cli, argc, argv, &i);
		if (g < 0)
			return CLI_EXIT_USAGE;
		if (g == 0)
			return cli_usage_error(&cli, "unknown option '%s'", a);
	}
	if (i >= argc) {
		cli_print_main_help(stderr);
		return CLI_EXIT_USAGE;
	}
	cli.cmd = cli_find_command(argv[i]);
	if (!cli.cmd) {
		char *msg = xasprintf("unknown command '%s'", argv[i]);
		char *hint = cli_command_suggestion(argv[i]);
		cli_error(&cli, msg, hint ? hint : "run 'ipm --help' for the list of commands");
		free(hint);
		free(msg);
		return CLI_EXIT_USAGE;
	}
	cli.needs = cli.cmd->needs;
	argc -= i;
	argv += i;
	if (wants_help(argc, argv)) {
		cli_print_command_help(cli.cmd, stdout);
		return CLI_EXIT_OK;
	}

	ipm_log_set_handler(on_log, &cli);
	ipm_progress_set_handler(on_progress, &cli);
	ipm_error_clear();
	{
		struct ipm_buf line = IPM_BUF_INIT;
		ipm_buf_add(&line, "ipm");
		for (int k = 0; k < argc; k++) {
			ipm_buf_addch(&line, ' ');
			ipm_buf_add(&line, argv[k]);
		}
		command_line = ipm_buf_detach(&line);
	}
	/* Ctrl-C, SIGTERM, SIGHUP: the engine stops at its next check and
	 * undoes what it started; the status says it was interrupted. */
	ipm_interrupt_catch();

	rc = cli.cmd->fn(&cli, argc, argv);
	/* whatever a stage made of Ctrl-C (an aborted transfer, a cancelled
	 * confirmation), it was the interrupt */
	if (rc < 0 && ipm_interrupted() && ipm_error_code() != IPM_ECANCEL)
		ipm_interrupt_check();
	if (rc < 0) {
		cli_error(&cli, ipm_error_message(), ipm_error_hint_text());
		rc = CLI_EXIT_FAILURE;
	}
	if (rc != CLI_EXIT_OK && ipm_interrupted())
		rc = 128 + SIGINT;
	if (cli.opened)
		ipm_ctx_close(&cli.ctx);
	if (fetch_ready)
		ipm_fetch_shutdown();
	progress_clear();
	while (progress.n)
		item_drop(progress.n - 1);
	free(command_line);
	return rc;
}
