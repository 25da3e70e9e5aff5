/*
 * ipm env: the shell lines that put the prefix in the environment (bin/ on
 * PATH, its pkg-config directories, man pages and CMake packages), for
 * eval "$(ipm env)"; and the note after the first install that suggests it.
 *
 * Each directory is added only when the variable does not hold it yet, so
 * evaluating the lines again (a second startup file, a nested shell) adds
 * nothing twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"

enum env_shell { ENV_SH, ENV_FISH };

/*
 * The variables and the prefix's directories they get, in the order they end
 * up in the variable. MANPATH keeps man's default search path: an empty
 * component (a trailing colon when MANPATH was unset) means "then the
 * defaults" to man-db, where a MANPATH of our directory alone would hide
 * every system page.
 */
static const struct env_var {
	const char *name;
	const char *subdirs[2];   /* "" is the prefix itself */
	int keep_defaults;
} env_vars[] = {
	{ "PATH", { "bin" }, 0 },
	{ "PKG_CONFIG_PATH", { "lib/pkgconfig", "share/pkgconfig" }, 0 },
	{ "MANPATH", { "share/man" }, 1 },
	{ "CMAKE_PREFIX_PATH", { "" }, 0 },
};
#define NVARS (sizeof(env_vars) / sizeof(env_vars[0]))
#define NSUBDIRS(v) ((v)->subdirs[1] ? 2 : 1)

/* The prefix made absolute, without trailing slashes (but "/" stays). */
static char *env_prefix(const char *prefix)
{
	struct ipm_buf b = IPM_BUF_INIT;

	if (prefix[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		if (cwd)
			ipm_buf_add(&b, cwd);
		free(cwd);
	}
	ipm_buf_addpath(&b, prefix);
	while (b.len > 1 && b.ptr[b.len - 1] == '/')
		ipm_buf_truncate(&b, b.len - 1);
	return ipm_buf_detach(&b);
}

static char *env_dir(const char *prefix, const char *subdir)
{
	if (!*subdir)
		return xstrdup(prefix);
	return xasprintf("%s%s%s", prefix, strcmp(prefix, "/") == 0 ? "" : "/", subdir);
}

/* s in fish's single quotes, where only \ and ' are special. */
static void add_fish_quoted(struct ipm_buf *b, const char *s)
{
	ipm_buf_addch(b, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			ipm_buf_addch(b, '\\');
		ipm_buf_addch(b, *s);
	}
	ipm_buf_addch(b, '\'');
}

/*
 * POSIX sh (also bash and zsh):
 *   case ":${VAR-}:" in *':DIR:'*) ;; *) VAR='DIR'"${VAR:+:$VAR}" ;; esac
 * The quoted DIR in the pattern matches literally, whatever it holds;
 * ${VAR-} keeps a shell running with `set -u` quiet.
 */
static void add_sh(struct ipm_buf *out, const struct env_var *v, const char *dir)
{
	char *pattern = xasprintf(":%s:", dir);

	ipm_buf_addf(out, "case \":${%s-}:\" in *", v->name);
	ipm_buf_addshq(out, pattern);
	ipm_buf_addf(out, "*) ;; *) %s=", v->name);
	if (v->keep_defaults) {
		char *with_colon = xasprintf("%s:", dir);
		ipm_buf_addshq(out, with_colon);
		ipm_buf_addf(out, "\"${%s-}\"", v->name);
		free(with_colon);
	} else {
		ipm_buf_addshq(out, dir);
		ipm_buf_addf(out, "\"${%s:+:$%s}\"", v->name, v->name);
	}
	ipm_buf_add(out, " ;; esac\n");
	free(pattern);
}

/*
 * fish (3.0 and later), where every variable whose name ends in PATH is a
 * list that fish splits and joins on colons:
 *   if not contains -- 'DIR' $VAR; set -gx VAR 'DIR' $VAR; end
 * The `if` rather than `contains ...; or set ...`: set leaves $status as it
 * was, so a line of that form would end `ipm env | source` with status 1.
 * A variable set but empty holds one empty element, which would be exported
 * as a stray colon: it becomes the empty list first; MANPATH instead starts
 * as that one empty element, which keeps man's defaults.
 */
static void add_fish_var(struct ipm_buf *out, const struct env_var *v, const char *prefix)
{
	size_t k = NSUBDIRS(v);

	if (v->keep_defaults)
		ipm_buf_addf(out, "if test -z \"$%s\"; set -gx %s ''; end\n", v->name, v->name);
	else if (strcmp(v->name, "PATH") != 0)
		ipm_buf_addf(out, "if test -z \"$%s\"; set -gx %s; end\n", v->name, v->name);
	while (k-- > 0) {
		char *dir = env_dir(prefix, v->subdirs[k]);
		ipm_buf_add(out, "if not contains -- ");
		add_fish_quoted(out, dir);
		ipm_buf_addf(out, " $%s; set -gx %s ", v->name, v->name);
		add_fish_quoted(out, dir);
		ipm_buf_addf(out, " $%s; end\n", v->name);
		free(dir);
	}
}

/* The lines for shell; each variable's directories are prepended last
 * first, so that they end up in the table's order. */
static void env_script(struct ipm_buf *out, enum env_shell shell, const char *prefix)
{
	size_t i, k;

	for (i = 0; i < NVARS; i++) {
		const struct env_var *v = &env_vars[i];
		if (shell == ENV_FISH) {
			add_fish_var(out, v, prefix);
			continue;
		}
		for (k = NSUBDIRS(v); k-- > 0;) {
			char *dir = env_dir(prefix, v->subdirs[k]);
			add_sh(out, v, dir);
			free(dir);
		}
	}
	if (shell == ENV_SH) {
		ipm_buf_add(out, "export");
		for (i = 0; i < NVARS; i++)
			ipm_buf_addf(out, " %s", env_vars[i].name);
		ipm_buf_addch(out, '\n');
	}
}

/* 0 and *shell for a name ipm knows (bash and zsh read the sh lines). */
static int shell_of_name(enum env_shell *shell, const char *name)
{
	if (strcmp(name, "sh") == 0 || strcmp(name, "bash") == 0 || strcmp(name, "zsh") == 0)
		*shell = ENV_SH;
	else if (strcmp(name, "fish") == 0)
		*shell = ENV_FISH;
	else
		return -1;
	return 0;
}

/* The shell of $SHELL: fish's lines for fish, else the sh lines. */
static enum env_shell login_shell(void)
{
	const char *sh = getenv("SHELL"), *base;
	enum env_shell shell = ENV_SH;

	if (sh && *sh) {
		base = strrchr(sh, '/');
		shell_of_name(&shell, base ? base + 1 : sh);
	}
	return shell;
}

int cmd_env(struct cli *cli, int argc, char **argv)
{
	struct ipm_buf out = IPM_BUF_INIT;
	const char *opt, *value;
	char *prefix = NULL;
	enum env_shell shell = login_shell();
	int idx = 1, r, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, "--shell", &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		if (strcmp(opt, "--shell") != 0)
			return cli_usage_error(cli, "unknown option '%s'", opt);
		if (shell_of_name(&shell, value) < 0) {
			char *msg = xasprintf("unknown shell '%s' for '--shell'", value);
			cli_error(cli, msg, "use --shell sh, --shell bash, --shell zsh or --shell fish");
			free(msg);
			return CLI_EXIT_USAGE;
		}
	}
	rc = cli_open(cli);
	if (rc < 0)
		return rc;
	prefix = env_prefix(cli->ctx.cfg.prefix);
	/* A colon would split the directory in two in every one of these lists. */
	if (strchr(prefix, ':')) {
		rc = ipm_error_set(IPM_EINVAL, "prefix '%s' contains ':', which PATH cannot hold", prefix);
		ipm_error_hint("choose a prefix without ':' (--prefix DIR, IPM_PREFIX or the config's \"prefix\")");
		goto done;
	}
	env_script(&out, shell, prefix);
	fwrite(out.ptr, 1, out.len, stdout);
done:
	ipm_buf_release(&out);
	free(prefix);
	return rc;
}

/* 1 when the PATH-style list holds dir, by name or as the same directory
 * (a symlinked ~/.local, say). */
static int list_holds_dir(const char *list, const char *dir)
{
	struct stat want, st;
	int have_want = stat(dir, &want) == 0;
	int found = 0;

	while (list && !found) {
		const char *colon = strchr(list, ':');
		size_t n = colon ? (size_t)(colon - list) : strlen(list);
		char *entry = xstrndup(list, n);

		if (strcmp(entry, dir) == 0)
			found = 1;
		else if (have_want && entry[0] == '/' && stat(entry, &st) == 0)
			found = st.st_dev == want.st_dev && st.st_ino == want.st_ino;
		free(entry);
		list = colon ? colon + 1 : NULL;
	}
	return found;
}

void cli_env_note(struct cli *cli)
{
	char *prefix = NULL, *bin = NULL, *marker = NULL;

	if (cli->quiet || !cli->opened)
		return;
	prefix = env_prefix(cli->ctx.cfg.prefix);
	bin = env_dir(prefix, "bin");
	marker = xasprintf("%s/env-hint-shown", cli->ctx.cfg.home);
	if (!ipm_is_dir(bin) || list_holds_dir(getenv("PATH"), bin) || ipm_path_exists(marker))
		goto done;
	/* A marker that cannot be written only brings the note back next
	 * time: no reason to fail an install that succeeded. */
	if (ipm_file_write_atomic(marker, "", 0) < 0)
		ipm_error_clear();
	fprintf(stderr, "ipm: %snote:%s '%s' is not on your PATH\n", cli->color_err ? "\033[1;36m" : "",
		cli->color_err ? "\033[0m" : "", bin);
	fprintf(stderr, "%shint:%s run eval \"$(ipm env)\" (add it to your shell's startup file)\n",
		cli->color_err ? "\033[1;36m" : "", cli->color_err ? "\033[0m" : "");
done:
	free(marker);
	free(bin);
	free(prefix);
}
