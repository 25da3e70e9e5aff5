/*
 * ipm registry check [--build] [PATH...]
 *
 * Checks entry files and registry directories with the engine's rules
 * (src/check.c, src/entry.c) and prints one line per problem. --build then
 * proves each entry that passed: ipm itself, run as a child with a fresh
 * IPM_HOME and IPM_PREFIX in a temporary directory, installs it, the prefix
 * is counted, and ipm removes it again, which must leave the prefix exactly
 * as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ipm/buf.h"
#include "ipm/check.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"

extern char **environ;

/* Lines of a failed child's log shown under its FAIL line. */
#define LOG_TAIL_LINES 30

/* The entries to check together: one registry directory (its PATHs, and
 * the rest of it as context), or the files that sit in no registry (with
 * the bundled registry as context). */
struct group {
	char *key;            /* realpath of the registry directory; NULL: files in none */
	char *context_dir;    /* packages directory for context, as it is shown */
	char *registry_dir;   /* absolute, for the children's IPM_REGISTRY; may be NULL */
	const char **paths;   /* operands, as given */
	int *is_dir;
	size_t n;
};

struct groups {
	struct group *items;
	size_t n;
	size_t alloc;
};

static void groups_release(struct groups *gs)
{
	for (size_t i = 0; i < gs->n; i++) {
		free(gs->items[i].key);
		free(gs->items[i].context_dir);
		free(gs->items[i].registry_dir);
		free(gs->items[i].paths);
		free(gs->items[i].is_dir);
	}
	free(gs->items);
}

/* The group for key (NULL: the files in no registry), made on first use. */
static struct group *group_for(struct groups *gs, const char *key)
{
	for (size_t i = 0; i < gs->n; i++)
		if ((!key && !gs->items[i].key) || (key && gs->items[i].key && !strcmp(key, gs->items[i].key)))
			return &gs->items[i];
	XGROW(gs->items, gs->alloc, gs->n + 1);
	memset(&gs->items[gs->n], 0, sizeof(gs->items[gs->n]));
	gs->items[gs->n].key = xstrdup(key);
	return &gs->items[gs->n++];
}

static void group_add(struct group *g, const char *path, int is_dir)
{
	g->paths = xrealloc(g->paths, (g->n + 1) * sizeof(*g->paths));
	g->is_dir = xrealloc(g->is_dir, (g->n + 1) * sizeof(*g->is_dir));
	g->paths[g->n] = path;
	g->is_dir[g->n] = is_dir;
	g->n++;
}

/* "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/". */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The directory above path, written the way path was given. */
static char *parent_shown(const char *path)
{
	char *trimmed = xstrdup(path), *up;
	size_t n = strlen(trimmed);

	while (n > 1 && trimmed[n - 1] == '/')
		trimmed[--n] = '\0';
	if (strcmp(base_of(trimmed), ".") == 0 || strcmp(base_of(trimmed), "..") == 0)
		up = strcmp(trimmed, ".") == 0 ? xstrdup("..") : xasprintf("%s/..", trimmed);
	else
		up = dir_of(trimmed);
	free(trimmed);
	return up;
}

static char *join(const char *dir, const char *name)
{
	struct ipm_buf b = IPM_BUF_INIT;

	ipm_buf_add(&b, dir);
	ipm_buf_addpath(&b, name);
	return ipm_buf_detach(&b);
}

/* Sorts one operand into its group; prints the error for a bad one. */
static int classify(struct cli *cli, struct groups *gs, const char *path)
{
	struct stat st;
	char *packages = NULL, *real = NULL, *parent = NULL;
	struct group *g;
	int rc = 0;

	if (stat(path, &st) < 0) {
		char *msg = errno == ENOENT ? xasprintf("'%s' does not exist", path)
					    : xasprintf("cannot read '%s': %s", path, strerror(errno));
		rc = cli_error(cli, msg, "give entry files (packages/NAME.json) or registry directories (holding packages/)");
		free(msg);
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		packages = join(path, "packages");
		if (!ipm_is_dir(packages)) {
			char *msg = xasprintf("'%s' is not a registry: it has no packages directory", path);
			char *hint;

			real = realpath(path, NULL);
			if (real && strcmp(base_of(real), "packages") == 0) {
				char *up = parent_shown(path);
				hint = xasprintf("give the registry directory that holds it: '%s'", up);
				free(up);
			} else {
				hint = xstrdup("a registry directory holds one packages/<name>.json per package");
			}
			rc = cli_error(cli, msg, hint);
			free(msg);
			free(hint);
			goto done;
		}
		real = realpath(path, NULL);
		g = group_for(gs, real ? real : path);
		if (!g->context_dir) {
			g->context_dir = xstrdup(packages);
			g->registry_dir = xstrdup(real ? real : path);
		}
		group_add(g, path, 1);
		goto done;
	}
	{
		size_t n = strlen(path);
		if (!S_ISREG(st.st_mode) || n <= 5 || strcmp(path + n - 5, ".json") != 0) {
			char *msg = xasprintf("'%s' is not an entry file", path);
			rc = cli_error(cli, msg, "an entry is a JSON file named <name>.json; a registry is a directory holding packages/");
			free(msg);
			goto done;
		}
	}
	real = realpath(path, NULL);
	parent = real ? dir_of(real) : NULL;
	if (parent && strcmp(base_of(parent), "packages") == 0) {
		/* An entry inside a registry: the rest of the registry is its context. */
		char *registry = dir_of(parent);
		g = group_for(gs, registry);
		if (!g->context_dir) {
			g->context_dir = dir_of(path);
			g->registry_dir = registry;
			registry = NULL;
		}
		free(registry);
	} else {
		g = group_for(gs, NULL);
	}
	group_add(g, path, 0);
done:
	free(parent);
	free(real);
	free(packages);
	return rc;
}

/* ---- --build ---- */

struct walk {
	char **paths;   /* relative; directories end in '/' */
	size_t n;
	size_t alloc;
};

static void walk_release(struct walk *w)
{
	xfree_strv(w->paths, w->n);
	memset(w, 0, sizeof(*w));
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every path under root (files, links, and directories with a trailing
 * '/'), relative to root, sorted. Symlinks are not followed: the prefix is
 * made of them. */
static void walk_tree(struct walk *w, const char *root, const char *rel)
{
	char *dir = rel[0] ? join(root, rel) : xstrdup(root);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *child_rel, *child;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child_rel = rel[0] ? join(rel, de->d_name) : xstrdup(de->d_name);
		child = join(root, child_rel);
		XGROW(w->paths, w->alloc, w->n + 1);
		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
			w->paths[w->n++] = xasprintf("%s/", child_rel);
			walk_tree(w, root, child_rel);
		} else {
			w->paths[w->n++] = xstrdup(child_rel);
		}
		free(child);
		free(child_rel);
	}
	if (d)
		closedir(d);
	free(dir);
	if (!rel[0] && w->n)
		qsort(w->paths, w->n, sizeof(*w->paths), by_string);
}

static int in_walk(const struct walk *w, const char *path)
{
	return w->n && bsearch(&path, w->paths, w->n, sizeof(*w->paths), by_string) != NULL;
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct file_counts {
	size_t files, headers, libraries, pkgconfig, programs;
};

static void count_file(struct file_counts *c, const char *rel)
{
	const char *base = base_of(rel);

	c->files++;
	if (has_prefix(rel, "include/"))
		c->headers++;
	else if (has_suffix(rel, ".pc") && (has_prefix(rel, "lib/pkgconfig/") ||
					    has_prefix(rel, "lib64/pkgconfig/") ||
					    has_prefix(rel, "share/pkgconfig/")))
		c->pkgconfig++;
	else if ((has_prefix(rel, "lib/") || has_prefix(rel, "lib64/")) && has_prefix(base, "lib") &&
		 (has_suffix(base, ".a") || strstr(base, ".so") || has_suffix(base, ".dylib")))
		c->libraries++;
	else if (has_prefix(rel, "bin/") || has_prefix(rel, "sbin/"))
		c->programs++;
}

struct builder {
	struct cli *cli;
	char *exe;           /* this ipm */
	char *tmp_root;      /* $TMPDIR or /tmp */
	char *mirrors;       /* every configured mirror, as IPM_MIRRORS */
};

/*
 * Signals while --build runs: ^C reaches the child through the terminal's
 * process group, a kill of ipm alone is passed on to it; either way the
 * child cleans up after itself, we clean up after it and stop.
 */
static volatile sig_atomic_t stop_signal;
static volatile pid_t running_child;
static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define NSTOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

static void on_stop_signal(int sig)
{
	stop_signal = sig;
	if (running_child > 0)
		kill(running_child, sig);
}

static void catch_stop_signals(struct sigaction *old)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NSTOP_SIGNALS; i++)
		sigaction(stop_signals[i], &sa, &old[i]);
}

static void restore_stop_signals(const struct sigaction *old)
{
	for (size_t i = 0; i < NSTOP_SIGNALS; i++)
		sigaction(stop_signals[i], &old[i], NULL);
}

/* Runs this ipm with args and env, its output appended to log_path; the
 * log first gets the command line. Returns the wait status, or -1. */
static int run_ipm(struct builder *b, char **env, const char *log_path, const char *const *args)
{
	const char **argv;
	size_t nargs = 0;
	int status = -1, log_fd;
	pid_t pid;
	FILE *log;

	while (args[nargs])
		nargs++;
	log = fopen(log_path, "a");
	if (log) {
		fprintf(log, "$ ipm");
		for (size_t i = 0; i < nargs; i++)
			fprintf(log, " %s", args[i]);
		fprintf(log, "\n");
		fclose(log);
	}
	argv = xcalloc(nargs + 3, sizeof(*argv));
	argv[0] = "ipm";
	argv[1] = "-v";
	memcpy(argv + 2, args, nargs * sizeof(*argv));

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDONLY);

		/* (handlers are reset by execve) */
		log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (null_fd < 0 || log_fd < 0)
			_exit(127);
		dup2(null_fd, 0);
		dup2(log_fd, 1);
		dup2(log_fd, 2);
		execve(b->exe, (char *const *)argv, env);
		dprintf(2, "ipm: cannot run '%s': %s\n", b->exe, strerror(errno));
		_exit(127);
	}
	if (pid > 0) {
		running_child = pid;
		/* a signal that came just before the child existed */
		if (stop_signal)
			kill(pid, stop_signal);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		running_child = 0;
	}
	free(argv);
	return status;
}

/* The child's own reason, the last "ipm: error: " line of the log, or
 * its exit status. */
static char *child_failure(const char *log_path, int status)
{
	static const char marker[] = "ipm: error: ";
	char *text = NULL, *line, *found = NULL, *out;

	if (status != -1 && WIFEXITED(status) && ipm_file_read(&text, NULL, log_path) == 0) {
		for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
			if (has_prefix(line, marker))
				found = line + strlen(marker);
		if (found) {
			out = xasprintf(": %.*s", (int)strcspn(found, "\n"), found);
			free(text);
			return out;
		}
	}
	ipm_error_clear();
	free(text);
	if (status == -1)
		return xstrdup(": it could not be started");
	if (WIFEXITED(status))
		return xasprintf(" (exit status %d)", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return xasprintf(" (killed by signal %d)", WTERMSIG(status));
	return xstrdup("");
}

/* The environment of the children: ours, with the places ipm keeps state
 * replaced by the temporary ones, and no binary cache: a check builds. */
static char **child_env(struct builder *b, const char *tmp, const char *registry_dir)
{
	static const char *const replaced[] = { "IPM_HOME=", "IPM_PREFIX=", "IPM_CONFIG=", "IPM_REGISTRY=",
						"IPM_CACHE=", "IPM_MIRRORS=", "IPM_BINARY_CACHE=",
						"IPM_BINARY_CACHE_KEY=", NULL };
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = xcalloc(n + 8, sizeof(*env));
	for (size_t i = 0; i < n; i++) {
		int skip = 0;
		for (size_t r = 0; replaced[r]; r++)
			skip |= has_prefix(environ[i], replaced[r]);
		if (!skip)
			env[k++] = xstrdup(environ[i]);
	}
	env[k++] = xasprintf("IPM_HOME=%s/home", tmp);
	env[k++] = xasprintf("IPM_PREFIX=%s/prefix", tmp);
	/* absent: no user registries, no user mirrors beyond those passed on */
	env[k++] = xasprintf("IPM_CONFIG=%s/config.json", tmp);
	env[k++] = xasprintf("IPM_CACHE=%s/cache", tmp);
	if (b->mirrors[0])
		env[k++] = xasprintf("IPM_MIRRORS=%s", b->mirrors);
	if (registry_dir)
		env[k++] = xasprintf("IPM_REGISTRY=%s", registry_dir);
	env[k] = NULL;
	return env;
}

static void print_log_tail(const char *log_path)
{
	char *text = NULL;
	size_t len = 0, lines = 0, start;

	if (ipm_file_read(&text, &len, log_path) < 0) {
		ipm_error_clear();
		return;
	}
	start = len;
	if (start > 0 && text[start - 1] == '\n')
		start--;
	while (start > 0 && lines < LOG_TAIL_LINES) {
		start--;
		if (text[start] == '\n')
			lines++;
	}
	if (text[start] == '\n')
		start++;
	for (char *line = text + start; *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		fprintf(stderr, "    %.*s\n", (int)n, line);
		line += n + (nl ? 1 : 0);
	}
	free(text);
}

/* Lists up to a few paths of after that are not in before. */
static char *new_paths(const struct walk *after, const struct walk *before, size_t *count)
{
	struct ipm_buf list = IPM_BUF_INIT;
	size_t shown = 0;

	*count = 0;
	for (size_t i = 0; i < after->n; i++) {
		if (in_walk(before, after->paths[i]))
			continue;
		(*count)++;
		if (shown < 5)
			ipm_buf_addf(&list, "%s'%s'", shown++ ? ", " : "", after->paths[i]);
		else if (shown++ == 5)
			ipm_buf_add(&list, ", ...");
	}
	return ipm_buf_detach(&list);
}

/* Subdirectories of IPM_CACHE that the children share with the user. */
static const char *const shared_cache_dirs[] = { "downloads", "git", NULL };

/*
 * The children's IPM_CACHE: the user's downloads and git mirrors (so that
 * nothing is fetched twice and IPM_MIRRORS to local copies work), through
 * symlinks, but logs of their own: a failure's recipe log stays beside
 * check.log, and the user's logs of the same name and version are left
 * alone. Returns NULL, or why it could not be set up.
 */
static char *private_cache(struct builder *b, const char *tmp)
{
	char *cache = xasprintf("%s/cache", tmp), *why = NULL;

	if (ipm_mkdir_p(cache, 0755) < 0)
		why = xstrdup(ipm_error_message());
	for (size_t i = 0; !why && shared_cache_dirs[i]; i++) {
		char *target = join(b->cli->ctx.cfg.cache, shared_cache_dirs[i]);
		char *link_path = join(cache, shared_cache_dirs[i]);

		if (ipm_mkdir_p(target, 0755) < 0)
			why = xstrdup(ipm_error_message());
		else if (symlink(target, link_path) < 0)
			why = xasprintf("cannot create '%s': %s", link_path, strerror(errno));
		free(target);
		free(link_path);
	}
	ipm_error_clear();
	free(cache);
	return why;
}

/* After a failure: everything but the logs (check.log, cache/logs/). */
static void keep_only_logs(const char *tmp)
{
	static const char *const gone[] = { "home", "prefix", "config.json", NULL };

	for (size_t i = 0; gone[i]; i++) {
		char *path = join(tmp, gone[i]);
		ipm_rm_rf(path);
		free(path);
	}
	for (size_t i = 0; shared_cache_dirs[i]; i++) {
		char *path = xasprintf("%s/cache/%s", tmp, shared_cache_dirs[i]);
		unlink(path);   /* the link, not the user's cache */
		free(path);
	}
	ipm_error_clear();
}

/* Builds, counts and removes one entry; prints its line. 1 when it passed,
 * 0 when not, -1 when the user interrupted. */
static int build_one(struct builder *b, const struct ipm_check_item *item, const char *registry_dir)
{
	const struct ipm_release *release = ipm_entry_find_release(&item->entry, NULL);
	char *tmp = NULL, *log_path = NULL, *prefix = NULL, *why = NULL, *st = NULL;
	const char *entry_path = item->real_path ? item->real_path : item->path;
	struct walk before = { 0 }, installed = { 0 }, after = { 0 };
	struct file_counts counts = { 0 };
	char **env = NULL;
	int status, result = 0;

	tmp = xasprintf("%s/ipm-check-%s-XXXXXX", b->tmp_root, item->name);
	if (!mkdtemp(tmp)) {
		why = xasprintf("cannot create a temporary directory in '%s': %s", b->tmp_root, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	log_path = xasprintf("%s/check.log", tmp);
	prefix = xasprintf("%s/prefix", tmp);
	if ((why = private_cache(b, tmp)) != NULL)
		goto done;
	env = child_env(b, tmp, registry_dir);

	/* Dependencies first, so that what the entry itself installs is
	 * told apart from theirs. */
	if (item->entry.ndepends) {
		const char **args = xcalloc(item->entry.ndepends + 3, sizeof(*args));
		char **specs = xcalloc(item->entry.ndepends, sizeof(*specs));
		size_t n = 0;

		args[n++] = "install";
		args[n++] = "--yes";
		for (size_t k = 0; k < item->entry.ndepends; k++) {
			const struct ipm_depend *d = &item->entry.depends[k];
			specs[k] = d->constraint ? xasprintf("%s@%s", d->name, d->constraint) : xstrdup(d->name);
			args[n++] = specs[k];
		}
		status = run_ipm(b, env, log_path, args);
		xfree_strv(specs, item->entry.ndepends);
		free(args);
		if (stop_signal) {
			result = -1;
			goto done;
		}
		if (status != 0) {
			why = xasprintf("installing its dependencies failed%s", st = child_failure(log_path, status));
			goto done;
		}
	}
	walk_tree(&before, prefix, "");

	status = run_ipm(b, env, log_path, (const char *[]){ "install", "--yes", entry_path, NULL });
	if (stop_signal) {
		result = -1;
		goto done;
	}
	if (status != 0) {
		why = xasprintf("'ipm install' failed%s", st = child_failure(log_path, status));
		goto done;
	}
	walk_tree(&installed, prefix, "");
	for (size_t i = 0; i < installed.n; i++)
		if (!has_suffix(installed.paths[i], "/") && !in_walk(&before, installed.paths[i]))
			count_file(&counts, installed.paths[i]);
	if (counts.files == 0) {
		why = xstrdup("it installed no files into the prefix");
		goto done;
	}

	status = run_ipm(b, env, log_path, (const char *[]){ "remove", "--yes", item->entry.name, NULL });
	if (stop_signal) {
		result = -1;
		goto done;
	}
	if (status != 0) {
		why = xasprintf("'ipm remove' failed%s", st = child_failure(log_path, status));
		goto done;
	}
	walk_tree(&after, prefix, "");
	{
		size_t nleft = 0, nlost = 0;
		char *left = new_paths(&after, &before, &nleft);
		char *lost = new_paths(&before, &after, &nlost);

		if (nleft)
			why = xasprintf("'ipm remove' left %zu path%s in the prefix: %s", nleft, nleft == 1 ? "" : "s",
					left);
		else if (nlost)
			why = xasprintf("'ipm remove' took %zu path%s of its dependencies: %s", nlost,
					nlost == 1 ? "" : "s", lost);
		free(left);
		free(lost);
		if (why)
			goto done;
	}
	result = 1;
done:
	if (result == 1) {
		printf("ok    %s %s: %zu file%s (%zu header%s, %zu librar%s, %zu pkg-config, %zu program%s)\n",
		       item->entry.name, release ? release->version : "?", counts.files, counts.files == 1 ? "" : "s",
		       counts.headers, counts.headers == 1 ? "" : "s", counts.libraries,
		       counts.libraries == 1 ? "y" : "ies", counts.pkgconfig, counts.programs,
		       counts.programs == 1 ? "" : "s");
	} else if (result == 0) {
		printf("FAIL  %s: %s\n", item->entry.name, why ? why : "failed");
	}
	fflush(stdout);
	if (tmp) {
		/* a failure keeps its logs (and only those) for the contributor */
		if (result == 0 && log_path && ipm_path_exists(log_path)) {
			print_log_tail(log_path);
			fprintf(stderr, "    log: %s\n", log_path);
			keep_only_logs(tmp);
		} else {
			/* the shared cache directories are symlinks: rm -rf leaves their targets */
			ipm_rm_rf(tmp);
		}
		ipm_error_clear();
	}
	if (env)
		for (char **e = env; *e; e++)
			free(*e);
	free(env);
	walk_release(&before);
	walk_release(&installed);
	walk_release(&after);
	free(st);
	free(why);
	free(prefix);
	free(log_path);
	free(tmp);
	return result;
}

static int builder_init(struct builder *b, struct cli *cli)
{
	const char *tmpdir = getenv("TMPDIR");
	struct ipm_buf mirrors = IPM_BUF_INIT;

	memset(b, 0, sizeof(*b));
	b->cli = cli;
	b->exe = realpath("/proc/self/exe", NULL);
	if (!b->exe) {
		char *dir = cli_exe_dir(cli->argv0);
		if (dir)
			b->exe = xasprintf("%s/ipm", dir);
		free(dir);
	}
	if (!b->exe)
		return ipm_error_set(IPM_ENOTFOUND, "cannot find the running ipm binary to build with");
	b->tmp_root = xstrdup(tmpdir && tmpdir[0] ? tmpdir : "/tmp");
	/* The configuration file is not passed on (a user registry must not
	 * stand in for the entry's own registry), but its mirrors are. */
	for (size_t i = 0; i < cli->ctx.cfg.nmirrors; i++)
		ipm_buf_addf(&mirrors, "%s%s=%s", i ? " " : "", cli->ctx.cfg.mirrors[i].from,
			     cli->ctx.cfg.mirrors[i].to);
	b->mirrors = ipm_buf_detach(&mirrors);
	return 0;
}

static void builder_release(struct builder *b)
{
	free(b->exe);
	free(b->tmp_root);
	free(b->mirrors);
}

/* ---- the command ---- */

static void print_problem(struct cli *cli, const struct ipm_problem *p)
{
	fprintf(stderr, "ipm: %serror:%s %s", cli->color_err ? "\033[1;31m" : "", cli->color_err ? "\033[0m" : "",
		p->message);
	if (p->hint && p->hint[0])
		fprintf(stderr, " (%s)", p->hint);
	fputc('\n', stderr);
}

int cmd_registry_check(struct cli *cli, int argc, char **argv)
{
	struct groups gs = { 0 };
	struct builder b = { 0 };
	const char *opt, *value;
	const char **operands = xcalloc((size_t)argc + 1, sizeof(*operands));
	size_t noperands = 0, nentries = 0, nproblems = 0;
	struct sigaction old_signals[NSTOP_SIGNALS];
	int build = 0, idx = 1, r, rc = 0, nfailed = 0, stop = 0, caught = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2) {
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		if (r == 0) {
			operands[noperands++] = argv[idx++];
			continue;
		}
		if (strcmp(opt, "--build") == 0) {
			build = 1;
		} else {
			rc = cli_usage_error(cli, "unknown option '%s'", opt);
			goto done;
		}
	}

	/* Only the configuration: the installed state is not involved, and
	 * the children of --build do their own fetching. */
	cli->needs = 0;
	rc = cli_open(cli);
	if (rc < 0)
		goto done;
	for (size_t k = 0; k < noperands; k++)
		if ((rc = classify(cli, &gs, operands[k])) != 0)
			goto done;
	if (gs.n == 0) {
		if (!cli->ctx.cfg.bundled_registry) {
			rc = cli_error(cli, "cannot find the bundled registry",
				       "name the entries or registry directories to check, or set IPM_REGISTRY");
			goto done;
		}
		if ((rc = classify(cli, &gs, cli->ctx.cfg.bundled_registry)) != 0)
			goto done;
	}
	if (build) {
		if ((rc = builder_init(&b, cli)) < 0)
			goto done;
		catch_stop_signals(old_signals);
		caught = 1;
	}

	for (size_t gi = 0; gi < gs.n && !stop; gi++) {
		struct group *g = &gs.items[gi];
		struct ipm_check_set set = IPM_CHECK_SET_INIT;
		struct ipm_problems problems = { 0 };
		const char *registry_dir = g->registry_dir;
		char *bundled_packages = NULL;

		for (size_t k = 0; k < g->n; k++) {
			char *packages = g->is_dir[k] ? join(g->paths[k], "packages") : NULL;
			int arc = packages ? ipm_check_add_dir(&set, &problems, packages, 1)
					   : ipm_check_add_file(&set, &problems, g->paths[k], 1);
			if (arc < 0) {
				ipm_problems_add(&problems, ipm_error_hint_text(), "%s", ipm_error_message());
				ipm_error_clear();
			}
			free(packages);
		}
		/* The rest of the registry, for names and depends. */
		if (g->key) {
			ipm_check_add_dir(&set, &problems, g->context_dir, 0);
		} else if (cli->ctx.cfg.bundled_registry) {
			bundled_packages = join(cli->ctx.cfg.bundled_registry, "packages");
			if (ipm_is_dir(bundled_packages))
				ipm_check_add_dir(&set, &problems, bundled_packages, 0);
			registry_dir = cli->ctx.cfg.bundled_registry;
		}
		ipm_error_clear();
		ipm_check_registry(&set, &problems);

		for (size_t k = 0; k < problems.n; k++)
			print_problem(cli, &problems.items[k]);
		nproblems += problems.n;
		nentries += ipm_check_count(&set);

		for (size_t k = 0; build && !stop && k < set.n; k++) {
			const struct ipm_check_item *item = &set.items[k];
			int res;

			if (!item->checked)
				continue;
			if (item->nproblems || !item->parsed) {
				printf("skip  %s: not built, the entry has problems\n", item->name);
				nfailed++;
				continue;
			}
			res = stop_signal ? -1 : build_one(&b, item, registry_dir);
			if (res < 0) {
				stop = 1;
				cli_error(cli, "interrupted: the temporary directories are removed", NULL);
				rc = 128 + stop_signal;
			} else if (res == 0) {
				nfailed++;
			}
		}
		free(bundled_packages);
		ipm_problems_release(&problems);
		ipm_check_set_release(&set);
	}
	if (stop)
		goto done;

	if (nproblems)
		printf("checked %zu entr%s: %zu problem%s\n", nentries, nentries == 1 ? "y" : "ies", nproblems,
		       nproblems == 1 ? "" : "s");
	else if (!cli->quiet)
		printf("checked %zu entr%s: ok\n", nentries, nentries == 1 ? "y" : "ies");
	if (build && nfailed)
		printf("built %zu entr%s: %d failed\n", nentries, nentries == 1 ? "y" : "ies", nfailed);
	else if (build && !cli->quiet)
		printf("built %zu entr%s: ok\n", nentries, nentries == 1 ? "y" : "ies");
	rc = nproblems || nfailed ? CLI_EXIT_FAILURE : 0;
done:
	if (caught)
		restore_stop_signals(old_signals);
	if (build)
		builder_release(&b);
	groups_release(&gs);
	free(operands);
	return rc;
}
