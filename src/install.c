/*
 * Building, committing and removing packages.
 *
 * The invariant that makes interruption safe: a store directory's links exist
 * in the prefix only while the database says the package is installed from
 * that store directory. Every change that breaks it for a moment is described
 * first by a journal, $IPM_HOME/journal/<name>.json:
 *
 *   { "name": ..., "store_dir": ..., "prefix": ...,
 *     "links": [ { "path": rel, "old": previous target or absent } ],
 *     "dirs": [ rel, ... ],                       directories ipm creates
 *     "old": { "store_dir", "prefix", "links": [rel], "dirs": [rel] } }
 *
 * The database row is the commit point. ipm_recover reads a journal left
 * behind: when the database names store_dir, the change was committed and
 * only "old" (the previous version of an upgrade) remains to be cleaned;
 * otherwise the change is undone (links back to their old targets or removed,
 * created directories removed when empty, store_dir deleted). Removal writes
 * a journal whose store_dir the database is about to forget, so the same rule
 * finishes it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/install.h"
#include "ipm/linkage.h"
#include "ipm/log.h"
#include "ipm/stage.h"
#include "ipm/xalloc.h"

#define TAIL_LINES 10

/* ---- small helpers ---- */

/* path made absolute against the working directory (symlink targets must not
 * depend on where ipm ran). */
static char *absolute_path(const char *path)
{
	char *cwd;
	char *abs;

	if (path[0] == '/')
		return xstrdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return xstrdup(path);
	abs = xasprintf("%s/%s", cwd, path);
	free(cwd);
	return abs;
}

static char *store_dir_of(struct ipm_ctx *ctx, const char *name, const char *version)
{
	char *rel = xasprintf("%s/store/%s/%s", ctx->cfg.home, name, version);
	char *abs = absolute_path(rel);
	free(rel);
	return abs;
}

/* Where a build of it goes: store/<name>/<version>, or, when that is the
 * installed tree (a rebuild), store/<name>/<version>@rebuild; the two take
 * turns, so a build never overwrites the tree that the prefix links to.
 * '@' cannot occur in a version. */
static char *store_dir_for(struct ipm_ctx *ctx, const struct ipm_plan_item *it)
{
	struct ipm_package_row row;
	char *store_dir = store_dir_of(ctx, it->entry.name, it->release->version);

	memset(&row, 0, sizeof(row));
	if (ipm_db_package_get(&row, ctx->db, it->entry.name, 0) == 0) {
		if (row.store_dir && strcmp(row.store_dir, store_dir) == 0) {
			char *other = xasprintf("%s@rebuild", store_dir);
			free(store_dir);
			store_dir = other;
		}
		ipm_package_row_release(&row);
	}
	ipm_error_clear();
	return store_dir;
}

static char *journal_path(struct ipm_ctx *ctx, const char *name)
{
	return xasprintf("%s/journal/%s.json", ctx->cfg.home, name);
}

/* The target of symlink path, or NULL when path is not a symlink. */
static char *read_link(const char *path)
{
	struct ipm_buf b = IPM_BUF_INIT;
	size_t size = 256;

	for (;;) {
		ssize_t n;
		ipm_buf_grow(&b, size);
		n = readlink(path, b.ptr, size);
		if (n < 0) {
			ipm_buf_release(&b);
			return NULL;
		}
		if ((size_t)n < size) {
			b.ptr[n] = '\0';
			b.len = (size_t)n;
			return ipm_buf_detach(&b);
		}
		size *= 2;
	}
}

/* 1 when path is a symlink whose target lies inside dir. */
static int links_into(const char *path, const char *dir)
{
	char *target = read_link(path);
	size_t len = strlen(dir);
	int inside = target && strncmp(target, dir, len) == 0 && target[len] == '/';
	free(target);
	return inside;
}

/* The temporary name link_atomic builds a link under before renaming it. */
static char *link_tmp_path(const char *path)
{
	return xasprintf("%s.ipm-new", path);
}

/* Replaces (or creates) path as a symlink to target, atomically. */
static int link_atomic(const char *target, const char *path)
{
	char *tmp = link_tmp_path(path);
	int rc = 0;

	unlink(tmp);
	if (symlink(target, tmp) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot create link '%s': %s", path, strerror(errno));
		goto done;
	}
	if (rename(tmp, path) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot create link '%s': %s", path, strerror(errno));
		unlink(tmp);
	}
done:
	free(tmp);
	return rc;
}

static int path_depth_cmp(const void *a, const void *b)
{
	const char *pa = *(const char *const *)a, *pb = *(const char *const *)b;
	size_t da = 0, db = 0;
	for (; *pa; pa++)
		da += *pa == '/';
	for (; *pb; pb++)
		db += *pb == '/';
	return da < db ? 1 : da > db ? -1 : 0;
}

/* Removes the directories prefix/dirs[i] that are empty, deepest first. */
static void remove_empty_dirs(const char *prefix, char **dirs, size_t n)
{
	char **sorted;

	if (!n)
		return;
	sorted = xcalloc(n, sizeof(*sorted));
	memcpy(sorted, dirs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), path_depth_cmp);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", prefix, sorted[i]);
		rmdir(path);   /* fails, as it should, when not empty */
		free(path);
	}
	free(sorted);
}

/* Removes store_dir and the parents that became empty. */
static int remove_store(const char *store_dir)
{
	char *parent = xstrdup(store_dir);
	char *slash = strrchr(parent, '/');
	int rc = ipm_rm_rf(store_dir);

	/* store/<name>, then store itself, when nothing else is left in them:
	 * a failed first install leaves no trace */
	for (int up = 0; up < 2 && slash && slash != parent; up++) {
		*slash = '\0';
		if (rmdir(parent) < 0)
			break;
		slash = strrchr(parent, '/');
	}
	free(parent);
	return rc;
}

/* ---- journal ---- */

struct journal_link {
	char *path;   /* relative to prefix */
	char *old;    /* target before, or NULL */
};

struct journal_side {
	char *store_dir;
	char *prefix;
	struct journal_link *links;
	size_t nlinks, links_alloc;
	char **dirs;
	size_t ndirs, dirs_alloc;
};

struct journal {
	char *name;
	struct journal_side now;
	int has_old;
	struct journal_side old;
};

static void side_release(struct journal_side *s)
{
	free(s->store_dir);
	free(s->prefix);
	for (size_t i = 0; i < s->nlinks; i++) {
		free(s->links[i].path);
		free(s->links[i].old);
	}
	free(s->links);
	xfree_strv(s->dirs, s->ndirs);
	memset(s, 0, sizeof(*s));
}

static void journal_release(struct journal *j)
{
	free(j->name);
	side_release(&j->now);
	side_release(&j->old);
	memset(j, 0, sizeof(*j));
}

static void side_add_link(struct journal_side *s, const char *path, const char *old)
{
	XGROW(s->links, s->links_alloc, s->nlinks + 1);
	s->links[s->nlinks].path = xstrdup(path);
	s->links[s->nlinks].old = xstrdup(old);
	s->nlinks++;
}

static void side_add_dir(struct journal_side *s, const char *path)
{
	XGROW(s->dirs, s->dirs_alloc, s->ndirs + 1);
	s->dirs[s->ndirs++] = xstrdup(path);
}

static cJSON *side_to_json(const struct journal_side *s)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON *links = cJSON_AddArrayToObject(obj, "links");
	cJSON *dirs = cJSON_AddArrayToObject(obj, "dirs");

	cJSON_AddStringToObject(obj, "store_dir", s->store_dir);
	cJSON_AddStringToObject(obj, "prefix", s->prefix);
	for (size_t i = 0; i < s->nlinks; i++) {
		cJSON *l = cJSON_CreateObject();
		cJSON_AddStringToObject(l, "path", s->links[i].path);
		if (s->links[i].old)
			cJSON_AddStringToObject(l, "old", s->links[i].old);
		cJSON_AddItemToArray(links, l);
	}
	for (size_t i = 0; i < s->ndirs; i++)
		cJSON_AddItemToArray(dirs, cJSON_CreateString(s->dirs[i]));
	return obj;
}

static int journal_write(struct ipm_ctx *ctx, const struct journal *j)
{
	cJSON *root = side_to_json(&j->now);
	char *dir = xasprintf("%s/journal", ctx->cfg.home);
	char *path = journal_path(ctx, j->name);
	char *text = NULL;
	int rc;

	cJSON_AddStringToObject(root, "name", j->name);
	if (j->has_old)
		cJSON_AddItemToObject(root, "old", side_to_json(&j->old));
	text = cJSON_Print(root);
	rc = ipm_mkdir_p(dir, 0755);
	if (rc == 0)
		rc = ipm_file_write_atomic(path, text, strlen(text));
	cJSON_Delete(root);
	free(text);
	free(dir);
	free(path);
	return rc;
}

static void journal_delete(struct ipm_ctx *ctx, const char *name)
{
	char *path = journal_path(ctx, name);
	unlink(path);
	free(path);
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int side_from_json(struct journal_side *s, const cJSON *obj)
{
	const cJSON *item;

	if (!json_str(obj, "store_dir") || !json_str(obj, "prefix"))
		return -1;
	s->store_dir = xstrdup(json_str(obj, "store_dir"));
	s->prefix = xstrdup(json_str(obj, "prefix"));
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(obj, "links")) {
		if (cJSON_IsString(item))
			side_add_link(s, item->valuestring, NULL);
		else if (json_str(item, "path"))
			side_add_link(s, json_str(item, "path"), json_str(item, "old"));
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(obj, "dirs"))
		if (cJSON_IsString(item))
			side_add_dir(s, item->valuestring);
	return 0;
}

static int journal_load(struct journal *j, const char *path)
{
	char *text = NULL;
	cJSON *root = NULL;
	const cJSON *old;
	int rc = 0;

	memset(j, 0, sizeof(*j));
	rc = ipm_file_read(&text, NULL, path);
	if (rc < 0)
		return rc;
	root = cJSON_Parse(text);
	if (!root || !json_str(root, "name") || side_from_json(&j->now, root) < 0) {
		rc = ipm_error_set(IPM_EINVAL, "journal '%s' is damaged", path);
		goto done;
	}
	j->name = xstrdup(json_str(root, "name"));
	old = cJSON_GetObjectItemCaseSensitive(root, "old");
	if (cJSON_IsObject(old) && side_from_json(&j->old, old) == 0)
		j->has_old = 1;
done:
	cJSON_Delete(root);
	free(text);
	if (rc < 0)
		journal_release(j);
	return rc;
}

/* Takes away what side's store left in its prefix: links into the store
 * (restored to their old targets when recorded), then empty dirs, then the
 * store. Used for undoing an install and for finishing a removal. */
static int side_take_down(const struct journal_side *s, int restore_old)
{
	for (size_t i = 0; i < s->nlinks; i++) {
		char *path = xasprintf("%s/%s", s->prefix, s->links[i].path);
		char *tmp = link_tmp_path(path);
		/* A kill between link_atomic's symlink and rename leaves its
		 * temporary link in the prefix: ours, since it points into the
		 * store. */
		if (links_into(tmp, s->store_dir))
			unlink(tmp);
		free(tmp);
		if (links_into(path, s->store_dir)) {
			if (restore_old && s->links[i].old) {
				if (link_atomic(s->links[i].old, path) < 0)
					ipm_error_clear();
			} else {
				unlink(path);
			}
		}
		free(path);
	}
	remove_empty_dirs(s->prefix, s->dirs, s->ndirs);
	return remove_store(s->store_dir);
}

/* ---- running recipe steps ---- */

static volatile sig_atomic_t interrupted;
static volatile pid_t guardian_pid;
static volatile pid_t step_pid;

static void on_interrupt(int sig)
{
	interrupted = sig;
	if (guardian_pid > 0)
		kill(guardian_pid, SIGTERM);
}

/* In the guardian: the recipe's process group dies with it. */
static void guardian_on_signal(int sig)
{
	if (step_pid > 0)
		kill(-step_pid, SIGKILL);
	_exit(128 + sig);
}

struct step_env {
	char **envp;
	size_t n, alloc;
};

static void env_add(struct step_env *e, char *kv)
{
	XGROW(e->envp, e->alloc, e->n + 2);
	e->envp[e->n++] = kv;
	e->envp[e->n] = NULL;
}

static void env_release(struct step_env *e)
{
	xfree_strv(e->envp, e->n);
	memset(e, 0, sizeof(*e));
}

/*
 * The environment of every recipe step: the build is for the real prefix
 * (IPM_PREFIX) and installs under DESTDIR; the compiler, the linker, CMake
 * and pkg-config find what ipm installed, and programs linked with LDFLAGS
 * (which configure, CMake and Meson all read) load the prefix's libraries.
 */
static void build_env(struct step_env *e, struct ipm_ctx *ctx, const struct ipm_plan_item *it,
		      const char *prefix, const char *stage_dir)
{
	const char *path = getenv("PATH");
	const char *home = getenv("HOME");
	long jobs = ctx->cfg.jobs > 0 ? ctx->cfg.jobs : sysconf(_SC_NPROCESSORS_ONLN);

	if (jobs < 1)
		jobs = 1;
	/* The prefix's bin first, so tools installed as dependencies are found. */
	env_add(e, xasprintf("PATH=%s/bin:%s", prefix, path && *path ? path : "/usr/local/bin:/usr/bin:/bin"));
	env_add(e, xasprintf("HOME=%s", home && *home ? home : "/"));
	env_add(e, xstrdup("LANG=C"));
	env_add(e, xasprintf("IPM_PREFIX=%s", prefix));
	env_add(e, xasprintf("DESTDIR=%s", stage_dir));
	env_add(e, xasprintf("IPM_JOBS=%ld", jobs));
	env_add(e, xasprintf("IPM_NAME=%s", it->entry.name));
	env_add(e, xasprintf("IPM_VERSION=%s", it->release->version));
	env_add(e, xasprintf("PKG_CONFIG_PATH=%s/lib/pkgconfig:%s/share/pkgconfig", prefix, prefix));
	env_add(e, xasprintf("CPATH=%s/include", prefix));
	env_add(e, xasprintf("LIBRARY_PATH=%s/lib", prefix));
	env_add(e, xasprintf("LDFLAGS=-L%s/lib -Wl,-rpath,%s/lib", prefix, prefix));
	env_add(e, xasprintf("CMAKE_PREFIX_PATH=%s", prefix));
}

/*
 * Runs `/bin/sh -c cmd` in workdir with envp, output appended to log_fd.
 * *out_status: the exit status (128+N for signal N). Returns IPM_ECANCEL when
 * ipm was interrupted.
 *
 * Process layout: ipm -> guardian -> sh (own process group). The guardian
 * dies with ipm (PR_SET_PDEATHSIG, even on SIGKILL) and then kills the whole
 * recipe group, so no orphaned recipe keeps writing into a store directory
 * that the next ipm run cleans.
 */
static int run_step(int *out_status, const char *cmd, const char *workdir, char **envp, int log_fd)
{
	struct sigaction sa, old_int, old_term, old_hup;
	pid_t parent = getpid();
	pid_t pid;
	int status = 0;
	int rc = 0;

	*out_status = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);

	pid = fork();
	if (pid < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot start a process: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		struct sigaction gsa;
		int devnull;
		pid_t child;

		memset(&gsa, 0, sizeof(gsa));
		gsa.sa_handler = guardian_on_signal;
		sigemptyset(&gsa.sa_mask);
		sigaction(SIGINT, &gsa, NULL);
		sigaction(SIGTERM, &gsa, NULL);
		sigaction(SIGHUP, &gsa, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(128 + SIGTERM);
		child = fork();
		if (child < 0)
			_exit(127);
		if (child == 0) {
			struct sigaction dfl;
			char *argv[] = { "sh", "-c", (char *)cmd, NULL };
			sigset_t none;

			setpgid(0, 0);
			memset(&dfl, 0, sizeof(dfl));
			dfl.sa_handler = SIG_DFL;
			sigaction(SIGINT, &dfl, NULL);
			sigaction(SIGTERM, &dfl, NULL);
			sigaction(SIGHUP, &dfl, NULL);
			sigaction(SIGPIPE, &dfl, NULL);
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			devnull = open("/dev/null", O_RDONLY);
			if (devnull >= 0)
				dup2(devnull, 0);
			dup2(log_fd, 1);
			dup2(log_fd, 2);
			if (chdir(workdir) < 0) {
				dprintf(2, "ipm: cannot enter '%s': %s\n", workdir, strerror(errno));
				_exit(127);
			}
			execve("/bin/sh", argv, envp);
			dprintf(2, "ipm: cannot run /bin/sh: %s\n", strerror(errno));
			_exit(127);
		}
		setpgid(child, child);
		step_pid = child;
		for (;;) {
			if (waitpid(child, &status, 0) >= 0)
				break;
			if (errno != EINTR)
				_exit(127);
		}
		/* Whatever the step left running in the background goes too. */
		kill(-child, SIGKILL);
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
	}

	guardian_pid = pid;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			rc = ipm_error_set(IPM_ERROR, "cannot wait for a recipe step: %s", strerror(errno));
			goto done;
		}
	}
	guardian_pid = 0;
	*out_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (interrupted)
		rc = ipm_error_set(IPM_ECANCEL, "interrupted");
done:
	guardian_pid = 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	return rc;
}

/* The last n lines of the file from offset on. */
static char *file_tail(const char *path, off_t from, int n)
{
	char *text = NULL;
	size_t len = 0;
	const char *start;
	int lines = 0;
	char *tail;

	if (ipm_file_read(&text, &len, path) < 0) {
		ipm_error_clear();
		return xstrdup("");
	}
	if ((size_t)from > len)
		from = 0;
	start = text + len;
	while (len && start > text + from && (start[-1] == '\n'))
		start--;
	{
		const char *end = start;
		while (start > text + from) {
			if (start[-1] == '\n' && ++lines >= n)
				break;
			start--;
		}
		tail = xstrndup(start, (size_t)(end - start));
	}
	free(text);
	return tail;
}

/* ---- building ---- */

struct build_result {
	char *store_dir;
	const struct ipm_method *method;
	struct ipm_linkage linkage;   /* sonames provided and needed, no problems */
};

static void build_result_release(struct build_result *b)
{
	free(b->store_dir);
	ipm_linkage_release(&b->linkage);
	memset(b, 0, sizeof(*b));
}

/* Runs one method's steps; 0, IPM_EBUILD (message set; on the last try the
 * output's tail is reported as a warning) or another error. */
static int run_method(struct ipm_ctx *ctx, const struct ipm_plan_item *it, const struct ipm_method *m,
		      const char *workdir, const char *log_path, int log_fd, char **envp, int last_try)
{
	size_t nsteps = m->nbuild + m->ninstall;
	int rc = 0;

	for (size_t i = 0; i < nsteps; i++) {
		const char *cmd = i < m->nbuild ? m->build[i] : m->install[i - m->nbuild];
		off_t start;
		int status = 0;

		dprintf(log_fd, "$ %s\n", cmd);
		start = lseek(log_fd, 0, SEEK_CUR);
		ipm_log(IPM_LOG_DEBUG, "%s: %s", it->entry.name, cmd);
		rc = run_step(&status, cmd, workdir, envp, log_fd);
		if (rc < 0)
			return rc;
		if (status != 0) {
			char *tail = file_tail(log_path, start, TAIL_LINES);
			dprintf(log_fd, "ipm: step failed with exit status %d\n", status);
			/* Another method follows: its own failure will show. */
			if (*tail && last_try)
				ipm_log(IPM_LOG_WARN, "last lines of output of '%s':\n%s", cmd, tail);
			free(tail);
			ipm_error_set(IPM_EBUILD, "step '%s' of '%s' failed with exit status %d",
				      cmd, it->entry.name, status);
			ipm_error_hint("the full output is in '%s'", log_path);
			return IPM_EBUILD;
		}
	}
	return 0;
}

/* "'a', 'b', 'c' and N more" from names, each under dir when given ("."
 * being dir itself). */
static char *first_names(const char *dir, char *const *names, size_t n)
{
	struct ipm_buf b = IPM_BUF_INIT;
	for (size_t i = 0; i < n && i < 3; i++)
		if (dir && strcmp(names[i], ".") == 0)
			ipm_buf_addf(&b, "%s'%s'", i ? ", " : "", dir);
		else
			ipm_buf_addf(&b, "%s'%s%s%s'", i ? ", " : "", dir ? dir : "", dir ? "/" : "", names[i]);
	if (n > 3)
		ipm_buf_addf(&b, " and %zu more", n - 3);
	return ipm_buf_detach(&b);
}

/* Takes away what a recipe wrote into the prefix itself: IPM_EBUILD naming
 * it, or 0 when it wrote nothing there. */
static int undo_prefix_writes(const struct ipm_snapshot *before, const char *prefix, const char *name)
{
	char **fresh = NULL, **top = NULL;
	size_t nfresh = 0, ntop = 0;
	char *list;
	int rc;

	if ((rc = ipm_snapshot_new_entries(&fresh, &nfresh, before, prefix)) < 0 || nfresh == 0)
		return rc;
	top = xcalloc(nfresh, sizeof(*top));
	/* name what the recipe made, not everything inside a directory it made */
	for (size_t i = 0; i < nfresh; i++) {
		int inside = 0;
		for (size_t k = 0; k < ntop && !inside; k++) {
			size_t len = strlen(top[k]);
			inside = strcmp(top[k], ".") == 0 ||
				 (strncmp(fresh[i], top[k], len) == 0 && fresh[i][len] == '/');
		}
		if (!inside)
			top[ntop++] = fresh[i];
	}
	list = first_names(prefix, top, ntop);
	ipm_remove_entries(prefix, fresh, nfresh);
	rc = ipm_error_set(IPM_EBUILD, "the recipe of '%s' wrote into the prefix instead of $DESTDIR: %s",
			   name, list);
	ipm_error_hint("install steps must write under \"$DESTDIR$IPM_PREFIX\" (make install, cmake --install "
		       "and meson install do so); what they wrote into the prefix was removed");
	free(list);
	free(top);
	xfree_strv(fresh, nfresh);
	return rc;
}

static int linkage_error(const char *name, const struct ipm_linkage *l, int log_fd)
{
	const struct ipm_linkage_problem *p = &l->problems[0];
	struct ipm_buf more = IPM_BUF_INIT;
	int rc;

	for (size_t i = 0; i < l->nproblems; i++) {
		const struct ipm_linkage_problem *q = &l->problems[i];
		dprintf(log_fd, "ipm: linkage: %s: %s %s%s%s\n", q->file,
			q->kind == IPM_LINKAGE_MISSING ? "needs, found nowhere," :
			q->kind == IPM_LINKAGE_SHADOWED ? "would load the system's copy of" :
			"has a run-time path into ipm's build trees:", q->library,
			q->detail ? " at " : "", q->detail ? q->detail : "");
	}
	if (l->nproblems > 1)
		ipm_buf_addf(&more, " (and %zu more linkage problem%s)", l->nproblems - 1,
			     l->nproblems == 2 ? "" : "s");
	switch (p->kind) {
	case IPM_LINKAGE_MISSING:
		rc = ipm_error_set(IPM_EBUILD, "'%s' of '%s' needs '%s', which is found nowhere%s", p->file,
				   name, p->library, more.ptr);
		ipm_error_hint("add the package that provides '%s' to \"depends\", or install it with this one",
			       p->library);
		break;
	case IPM_LINKAGE_SHADOWED:
		rc = ipm_error_set(IPM_EBUILD, "'%s' of '%s' would load the system's '%s' instead of ipm's '%s'%s",
				   p->file, name, p->detail ? p->detail : "?", p->library, more.ptr);
		ipm_error_hint("link with $LDFLAGS, which holds -Wl,-rpath,$IPM_PREFIX/lib");
		break;
	default:
		rc = ipm_error_set(IPM_EBUILD, "'%s' of '%s' has the run-time path '%s', inside ipm's build trees%s",
				   p->file, name, p->library, more.ptr);
		ipm_error_hint("link with $LDFLAGS, which holds -Wl,-rpath,$IPM_PREFIX/lib, and no build directory");
		break;
	}
	ipm_buf_release(&more);
	return rc;
}

/*
 * After a method's steps ran: what the recipe wrote into the prefix itself is
 * removed and fails the build; the staged tree becomes store_dir; its
 * pkg-config files get the rpath; no file may name the staging directory;
 * every ELF file must load the prefix's libraries once installed.
 * out->linkage is filled.
 */
static int adopt_stage(struct build_result *out, struct ipm_ctx *ctx, const char *name, const char *prefix,
		       const struct ipm_snapshot *before, const char *stage_dir, const char *store_dir,
		       const char *log_path, int log_fd)
{
	char *build_root = xasprintf("%s/build", ctx->cfg.home);
	char *store_root = xasprintf("%s/store", ctx->cfg.home);
	const char *forbidden[] = { build_root, store_root };
	char **leaks = NULL;
	size_t nleaks = 0;
	int rc;

	if ((rc = undo_prefix_writes(before, prefix, name)) < 0)
		goto done;
	if ((rc = ipm_rm_rf(store_dir)) < 0)
		goto done;
	rc = ipm_stage_adopt(stage_dir, prefix, store_dir);
	if (rc == IPM_ENOTFOUND) {
		rc = ipm_error_set(IPM_EBUILD, "the recipe of '%s' installed nothing under $DESTDIR$IPM_PREFIX", name);
		ipm_error_hint("install steps must copy files under \"$DESTDIR$IPM_PREFIX\"; see '%s'", log_path);
	}
	if (rc < 0)
		goto done;
	if ((rc = ipm_pc_add_rpath(store_dir)) < 0)
		goto done;
	if ((rc = ipm_tree_grep(&leaks, &nleaks, store_dir, stage_dir)) < 0)
		goto done;
	if (nleaks) {
		char *list = first_names(NULL, leaks, nleaks);
		rc = ipm_error_set(IPM_EBUILD, "files of '%s' name its staging directory: %s", name, list);
		ipm_error_hint("configure the build for \"$IPM_PREFIX\" and pass DESTDIR to the install step only");
		free(list);
		goto done;
	}
	if ((rc = ipm_linkage_check(&out->linkage, store_dir, prefix, forbidden, 2)) < 0)
		goto done;
	if (out->linkage.nproblems)
		rc = linkage_error(name, &out->linkage, log_fd);
done:
	if (rc < 0)
		ipm_linkage_release(&out->linkage);
	xfree_strv(leaks, nleaks);
	free(build_root);
	free(store_root);
	return rc;
}

static int build_item(struct build_result *out, struct ipm_ctx *ctx, const struct ipm_plan_item *it)
{
	const char *name = it->entry.name, *version = it->release->version;
	char *build_root = xasprintf("%s/build", ctx->cfg.home);
	char *build_dir = xasprintf("%s/%s-%s", build_root, name, version);
	char *stage_dir = xasprintf("%s/%s-%s.stage", build_root, name, version);
	char *log_dir = xasprintf("%s/logs", ctx->cfg.cache);
	char *log_path = xasprintf("%s/%s-%s.log", log_dir, name, version);
	char *store_dir = store_dir_for(ctx, it);
	char *prefix = absolute_path(ctx->cfg.prefix);
	char *workdir = NULL;
	struct ipm_snapshot before = { 0 };
	struct step_env env = { 0 };
	struct journal j = { 0 };
	int log_fd = -1;
	int rc = 0;
	size_t first = 0, last = it->entry.nmethods;

	memset(out, 0, sizeof(*out));
	if (it->method) {
		first = (size_t)(it->method - it->entry.methods);
		last = first + 1;
	}
	if (first >= last) {
		rc = ipm_error_set(IPM_EINVAL, "package '%s' has no install method", name);
		goto done;
	}

	if ((rc = ipm_mkdir_p(build_root, 0755)) < 0 || (rc = ipm_mkdir_p(log_dir, 0755)) < 0)
		goto done;
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
	if (log_fd < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", log_path, strerror(errno));
		goto done;
	}

	/* A journal before anything lands in the store: if ipm dies while
	 * building, recovery deletes the half-built store directory (and the
	 * staging directory goes with the build root). */
	j.name = xstrdup(name);
	j.now.store_dir = xstrdup(store_dir);
	j.now.prefix = xstrdup(prefix);
	if ((rc = journal_write(ctx, &j)) < 0)
		goto done;
	if ((rc = ipm_snapshot_take(&before, prefix)) < 0)
		goto done;

	build_env(&env, ctx, it, prefix, stage_dir);
	for (size_t mi = first; mi < last; mi++) {
		const struct ipm_method *m = &it->entry.methods[mi];

		if ((rc = ipm_rm_rf(build_dir)) < 0 || (rc = ipm_rm_rf(stage_dir)) < 0)
			goto done;
		if ((rc = ipm_fetch_unpack(&ctx->fetch, &it->source, build_dir)) < 0) {
			ipm_error_prefix("unpacking '%s'", name);
			goto done;
		}
		free(workdir);
		workdir = it->source.subdir && *it->source.subdir
			? xasprintf("%s/%s", build_dir, it->source.subdir) : xstrdup(build_dir);
		if (!ipm_is_dir(workdir)) {
			rc = ipm_error_set(IPM_EINVAL, "subdirectory '%s' not found in the source of '%s'",
					   it->source.subdir, name);
			goto done;
		}
		if ((rc = ipm_mkdir_p(stage_dir, 0755)) < 0)
			goto done;

		dprintf(log_fd, "# %s %s, method '%s'\n", name, version, m->name ? m->name : "default");
		ipm_log(IPM_LOG_INFO, "building '%s' %s%s%s%s ...", name, version,
			last - first > 1 || it->method ? " with method '" : "",
			last - first > 1 || it->method ? (m->name ? m->name : "default") : "",
			last - first > 1 || it->method ? "'" : "");
		rc = run_method(ctx, it, m, workdir, log_path, log_fd, env.envp, mi + 1 >= last);
		if (rc == 0) {
			rc = adopt_stage(out, ctx, name, prefix, &before, stage_dir, store_dir, log_path, log_fd);
		} else if (rc == IPM_EBUILD) {
			/* the step's failure is the error; what it wrote into the
			 * prefix is taken away and reported beside it */
			struct ipm_error_saved saved;
			ipm_error_save(&saved);
			if (undo_prefix_writes(&before, prefix, name) < 0)
				ipm_log(IPM_LOG_WARN, "%s", ipm_error_message());
			ipm_error_restore(&saved);
		}
		if (rc == 0) {
			out->method = m;
			break;
		}
		if (rc != IPM_EBUILD || mi + 1 >= last)
			goto done;
		ipm_log(IPM_LOG_WARN, "method '%s' of '%s' failed (%s); trying method '%s'",
			m->name ? m->name : "default", name, ipm_error_message(),
			it->entry.methods[mi + 1].name ? it->entry.methods[mi + 1].name : "default");
		ipm_error_clear();
	}
	out->store_dir = store_dir;
	store_dir = NULL;
	/* The sources are no longer needed; failed builds stay for inspection
	 * until the next ipm run that recovers. */
	ipm_rm_rf(build_dir);
	ipm_rm_rf(stage_dir);
	ipm_error_clear();
done:
	if (rc < 0 && store_dir && j.name) {
		/* Nothing of this build is visible: drop the store and the journal,
		 * keeping the error message of the failure. */
		remove_store(store_dir);
		journal_delete(ctx, name);
	}
	if (log_fd >= 0)
		close(log_fd);
	ipm_snapshot_release(&before);
	journal_release(&j);
	env_release(&env);
	free(workdir);
	free(store_dir);
	free(prefix);
	free(log_path);
	free(log_dir);
	free(stage_dir);
	free(build_dir);
	free(build_root);
	return rc;
}

/* ---- committing ---- */

static int owner_of(char **out, struct ipm_ctx *ctx, const char *rel)
{
	int rc = ipm_db_file_owner(out, ctx->db, rel);
	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		*out = NULL;
		return 0;
	}
	return rc;
}

/* Checks every path the store tree needs in the prefix, fills the journal's
 * links and dirs. Nothing is changed. */
static int plan_links(struct journal *j, struct ipm_ctx *ctx, const char *name, const struct ipm_tree *t)
{
	const char *prefix = j->now.prefix;
	int rc = 0;

	for (size_t i = 0; i < t->n && rc == 0; i++) {
		const struct ipm_tree_file *f = &t->files[i];
		char *path = xasprintf("%s/%s", prefix, f->rel);
		char *owner = NULL;
		struct stat st;

		if (lstat(path, &st) < 0) {
			if (f->type == 'd')
				side_add_dir(&j->now, f->rel);
			else
				side_add_link(&j->now, f->rel, NULL);
			goto next;
		}
		if ((rc = owner_of(&owner, ctx, f->rel)) < 0)
			goto next;
		if (f->type == 'd') {
			if (S_ISDIR(st.st_mode)) {
				/* Created by ipm (for an earlier version, or for
				 * another package): record it too, so that whichever
				 * package leaves it empty removes it. */
				if (owner)
					side_add_dir(&j->now, f->rel);
			} else if (S_ISLNK(st.st_mode) && !owner && ipm_is_dir(path)) {
				/* the user's own link to a directory (lib64 -> lib) */
			} else {
				rc = ipm_error_set(IPM_ECONFLICT, "'%s' exists and is not a directory", path);
				if (owner)
					ipm_error_set(IPM_ECONFLICT, "'%s' is owned by '%s'", path, owner);
			}
			goto next;
		}
		if (links_into(path, j->now.store_dir)) {
			/* left by an interrupted run of this very build */
			side_add_link(&j->now, f->rel, NULL);
		} else if (owner && strcmp(owner, name) == 0 && S_ISLNK(st.st_mode)) {
			/* an earlier version's link: restored if this commit fails */
			char *old = read_link(path);
			side_add_link(&j->now, f->rel, old);
			free(old);
		} else if (owner && strcmp(owner, name) != 0) {
			rc = ipm_error_set(IPM_ECONFLICT, "'%s' is owned by '%s'", path, owner);
		} else {
			rc = ipm_error_set(IPM_ECONFLICT, "'%s' exists and is not owned by ipm", path);
		}
		if (rc < 0)
			ipm_error_hint("remove or move it, then install again");
next:
		free(owner);
		free(path);
	}
	return rc;
}

static int commit_item(struct ipm_ctx *ctx, const struct ipm_plan_item *it, const struct build_result *b)
{
	const char *name = it->entry.name;
	struct ipm_tree tree = { 0 };
	struct journal j = { 0 };
	struct ipm_package_row old, row;
	int have_old = 0;
	struct ipm_file_row *files = NULL;
	char **deps = NULL, **constraints = NULL;
	char (*sums)[65] = NULL;
	int rc = 0;

	memset(&old, 0, sizeof(old));
	memset(&row, 0, sizeof(row));
	rc = ipm_db_package_get(&old, ctx->db, name, 1);
	if (rc == 0)
		have_old = 1;
	else if (rc != IPM_ENOTFOUND)
		goto done;
	ipm_error_clear();
	rc = 0;

	if ((rc = ipm_tree_walk(&tree, b->store_dir)) < 0)
		goto done;
	j.name = xstrdup(name);
	j.now.store_dir = xstrdup(b->store_dir);
	j.now.prefix = absolute_path(ctx->cfg.prefix);
	if ((rc = ipm_mkdir_p(j.now.prefix, 0755)) < 0)
		goto done;
	if ((rc = plan_links(&j, ctx, name, &tree)) < 0)
		goto done;
	if (have_old && old.store_dir && strcmp(old.store_dir, b->store_dir) != 0) {
		j.has_old = 1;
		j.old.store_dir = xstrdup(old.store_dir);
		j.old.prefix = xstrdup(old.prefix ? old.prefix : j.now.prefix);
		for (size_t i = 0; i < old.nfiles; i++) {
			if (old.files[i].type == 'd')
				side_add_dir(&j.old, old.files[i].path);
			else
				side_add_link(&j.old, old.files[i].path, NULL);
		}
	}

	/* Checksums before the journal: reading files can fail, and should fail
	 * before anything in the prefix changed. */
	sums = xcalloc(tree.n ? tree.n : 1, sizeof(*sums));
	for (size_t i = 0; i < tree.n; i++) {
		if (tree.files[i].type != 'f')
			continue;
		char *path = xasprintf("%s/%s", b->store_dir, tree.files[i].rel);
		rc = ipm_sha256_file(sums[i], path);
		free(path);
		if (rc < 0)
			goto done;
	}

	if ((rc = journal_write(ctx, &j)) < 0)
		goto done;

	for (size_t i = 0; i < j.now.ndirs; i++) {
		char *path = xasprintf("%s/%s", j.now.prefix, j.now.dirs[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			rc = ipm_error_set(IPM_ERROR, "cannot create directory '%s': %s", path, strerror(errno));
		free(path);
		if (rc < 0)
			goto undo;
	}
	for (size_t i = 0; i < j.now.nlinks; i++) {
		char *path = xasprintf("%s/%s", j.now.prefix, j.now.links[i].path);
		char *target = xasprintf("%s/%s", j.now.store_dir, j.now.links[i].path);
		rc = link_atomic(target, path);
		free(path);
		free(target);
		if (rc < 0)
			goto undo;
	}

	/* The row: the commit point. */
	files = xcalloc(tree.n ? tree.n : 1, sizeof(*files));
	for (size_t i = 0, k = 0; i < tree.n; i++) {
		const struct ipm_tree_file *f = &tree.files[i];
		int recorded = f->type != 'd';
		for (size_t d = 0; !recorded && d < j.now.ndirs; d++)
			recorded = strcmp(j.now.dirs[d], f->rel) == 0;
		if (!recorded)
			continue;
		files[k].path = f->rel;
		files[k].type = f->type;
		files[k].sha256 = f->type == 'f' ? sums[i] : NULL;
		row.nfiles = ++k;
	}
	deps = xcalloc(it->entry.ndepends ? it->entry.ndepends : 1, sizeof(*deps));
	constraints = xcalloc(it->entry.ndepends ? it->entry.ndepends : 1, sizeof(*constraints));
	for (size_t i = 0; i < it->entry.ndepends; i++) {
		deps[i] = it->entry.depends[i].name;
		constraints[i] = it->entry.depends[i].constraint;
	}
	row.name = it->entry.name;
	row.version = it->release->version;
	row.registry = it->registry;
	row.source = ipm_source_describe(&it->source);
	row.resolved = it->source.kind == IPM_SOURCE_ARCHIVE ? it->source.sha256 : it->source.commit;
	row.method = b->method->name ? b->method->name : "default";
	row.store_dir = j.now.store_dir;
	row.prefix = j.now.prefix;
	row.explicit_install = it->explicit_install || (have_old && old.explicit_install);
	row.installed_at = (int64_t)time(NULL);
	row.files = files;
	row.depends = deps;
	row.depend_constraints = constraints;
	row.ndepends = it->entry.ndepends;
	row.provides = b->linkage.provides;
	row.nprovides = b->linkage.nprovides;
	row.needs = b->linkage.needs;
	row.nneeds = b->linkage.nneeds;
	rc = ipm_db_package_add(ctx->db, &row);
	free(row.source);
	if (rc < 0)
		goto undo;

	/* Committed: the previous version goes. */
	if (j.has_old) {
		side_take_down(&j.old, 0);
		ipm_error_clear();
	}
	journal_delete(ctx, name);
	goto done;
undo:
	{
		/* Keep the failure's message while taking the links back. */
		struct ipm_error_saved saved;
		ipm_error_save(&saved);
		side_take_down(&j.now, 1);
		journal_delete(ctx, name);
		ipm_error_restore(&saved);
	}
done:
	free(files);
	free(deps);
	free(constraints);
	free(sums);
	journal_release(&j);
	ipm_tree_release(&tree);
	if (have_old)
		ipm_package_row_release(&old);
	return rc;
}

static int has_string(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/*
 * Before item i replaces an installed version: every installed dependent
 * that needs a soname the old version provided must still find it in the
 * new one, unless the plan rebuilds that dependent after this item.
 */
static int check_sonames(struct ipm_ctx *ctx, const struct ipm_plan *plan, const char *skip, size_t i,
			 const struct build_result *b)
{
	const char *name = plan->items[i].entry.name;
	struct ipm_package_row old;
	char **dependents = NULL;
	size_t ndependents = 0;
	int rc;

	memset(&old, 0, sizeof(old));
	rc = ipm_db_package_get(&old, ctx->db, name, 1);
	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	if ((rc = ipm_db_package_dependents(&dependents, &ndependents, ctx->db, name)) < 0)
		goto done;
	for (size_t d = 0; d < ndependents && rc == 0; d++) {
		struct ipm_package_row dep;
		int rebuilt = 0;

		for (size_t k = i + 1; k < plan->n; k++)
			rebuilt |= !skip[k] && strcmp(plan->items[k].entry.name, dependents[d]) == 0;
		if (rebuilt)
			continue;
		memset(&dep, 0, sizeof(dep));
		if ((rc = ipm_db_package_get(&dep, ctx->db, dependents[d], 1)) < 0)
			break;
		for (size_t s = 0; s < dep.nneeds; s++) {
			const char *soname = dep.needs[s];
			if (!has_string(old.provides, old.nprovides, soname) ||
			    has_string(b->linkage.provides, b->linkage.nprovides, soname))
				continue;
			rc = ipm_error_set(IPM_ECONFLICT, "'%s' %s no longer provides '%s', which '%s' needs",
					   name, plan->items[i].release->version, soname, dependents[d]);
			ipm_error_hint("install them together, so that '%s' is rebuilt against it: "
				       "ipm install %s@%s %s", dependents[d], name,
				       plan->items[i].release->version, dependents[d]);
			break;
		}
		ipm_package_row_release(&dep);
	}
done:
	xfree_strv(dependents, ndependents);
	ipm_package_row_release(&old);
	return rc;
}

/* Building wipes the store directory first: never do that to the one the
 * installed package lives in, whatever the plan says. */
static int installed_here(struct ipm_ctx *ctx, const struct ipm_plan_item *it)
{
	struct ipm_package_row row;
	char *store_dir = store_dir_of(ctx, it->entry.name, it->release->version);
	int same = 0;

	memset(&row, 0, sizeof(row));
	if (ipm_db_package_get(&row, ctx->db, it->entry.name, 0) == 0) {
		same = row.store_dir && strcmp(row.store_dir, store_dir) == 0;
		ipm_package_row_release(&row);
	}
	ipm_error_clear();
	if (same)
		ipm_log(IPM_LOG_INFO, "'%s' %s is already installed", it->entry.name, it->release->version);
	free(store_dir);
	return same;
}

int ipm_plan_run(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	char *skip = xcalloc(plan->n ? plan->n : 1, 1);
	int rc = 0;

	for (size_t i = 0; i < plan->n; i++)
		skip[i] = plan->items[i].installed ||
			  (!plan->items[i].rebuild && installed_here(ctx, &plan->items[i]));

	/* Everything is fetched before anything is built, so that a network
	 * failure never leaves half the plan installed. */
	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		if (skip[i])
			continue;
		ipm_log(IPM_LOG_INFO, "fetching '%s' %s ...", it->entry.name, it->release->version);
		rc = ipm_fetch_source(&ctx->fetch, &it->source);
		if (rc < 0) {
			ipm_error_prefix("fetching '%s' %s", it->entry.name, it->release->version);
			goto done;
		}
	}

	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		struct build_result b;

		if (skip[i])
			continue;
		rc = build_item(&b, ctx, it);
		if (rc < 0)
			goto done;
		rc = check_sonames(ctx, plan, skip, i, &b);
		if (rc == 0)
			rc = commit_item(ctx, it, &b);
		if (rc < 0) {
			/* Keep the message while the unused store goes. */
			struct ipm_error_saved saved;
			ipm_error_save(&saved);
			remove_store(b.store_dir);
			journal_delete(ctx, it->entry.name);
			ipm_error_restore(&saved);
			build_result_release(&b);
			goto done;
		}
		ipm_log(IPM_LOG_DEBUG, "committed '%s' %s", it->entry.name, it->release->version);
		build_result_release(&b);
	}
done:
	free(skip);
	return rc;
}

/* ---- removing ---- */

static char *quoted_list(char **names, size_t n)
{
	struct ipm_buf b = IPM_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		ipm_buf_addf(&b, "%s'%s'", i ? ", " : "", names[i]);
	return ipm_buf_detach(&b);
}

int ipm_remove_check(struct ipm_ctx *ctx, const char *const *names, size_t n, int force)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct ipm_package_row row;
		char **dependents = NULL;
		size_t ndependents = 0, kept = 0;

		memset(&row, 0, sizeof(row));
		rc = ipm_db_package_get(&row, ctx->db, names[i], 0);
		if (rc == IPM_ENOTFOUND) {
			rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", names[i]);
			ipm_error_hint("'ipm list' shows what is installed");
			break;
		}
		if (rc < 0)
			break;
		ipm_package_row_release(&row);
		if (force)
			continue;
		rc = ipm_db_package_dependents(&dependents, &ndependents, ctx->db, names[i]);
		if (rc < 0)
			break;
		/* Dependents removed in the same command do not count. */
		for (size_t d = 0; d < ndependents; d++) {
			int leaving = 0;
			for (size_t k = 0; k < n; k++)
				leaving |= strcmp(dependents[d], names[k]) == 0;
			if (leaving) {
				free(dependents[d]);
			} else {
				dependents[kept++] = dependents[d];
			}
		}
		if (kept) {
			char *list = quoted_list(dependents, kept);
			rc = ipm_error_set(IPM_ECONFLICT, "'%s' is needed by %s", names[i], list);
			ipm_error_hint("remove %s too, or use --force", list);
			free(list);
		}
		xfree_strv(dependents, kept);
	}
	return rc;
}

int ipm_remove(struct ipm_ctx *ctx, const char *name)
{
	struct ipm_package_row row;
	struct journal j = { 0 };
	int rc;

	memset(&row, 0, sizeof(row));
	rc = ipm_db_package_get(&row, ctx->db, name, 1);
	if (rc == IPM_ENOTFOUND) {
		rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", name);
		ipm_error_hint("'ipm list' shows what is installed");
		return rc;
	}
	if (rc < 0)
		return rc;

	j.name = xstrdup(name);
	j.now.store_dir = xstrdup(row.store_dir);
	j.now.prefix = xstrdup(row.prefix ? row.prefix : ctx->cfg.prefix);
	for (size_t i = 0; i < row.nfiles; i++) {
		if (row.files[i].type == 'd')
			side_add_dir(&j.now, row.files[i].path);
		else
			side_add_link(&j.now, row.files[i].path, NULL);
	}
	if ((rc = journal_write(ctx, &j)) < 0)
		goto done;
	/* Forgetting the row first is the commit point: from here on, recovery
	 * finishes the removal instead of undoing it. */
	if ((rc = ipm_db_package_remove(ctx->db, name)) < 0) {
		journal_delete(ctx, name);
		goto done;
	}
	ipm_log(IPM_LOG_DEBUG, "removing '%s' %s ...", name, row.version);
	for (size_t i = 0; i < j.now.nlinks; i++) {
		char *path = xasprintf("%s/%s", j.now.prefix, j.now.links[i].path);
		if (links_into(path, j.now.store_dir))
			unlink(path);
		else if (ipm_path_exists(path))
			ipm_log(IPM_LOG_WARN, "'%s' was changed after ipm installed it; leaving it", path);
		free(path);
	}
	remove_empty_dirs(j.now.prefix, j.now.dirs, j.now.ndirs);
	rc = remove_store(j.now.store_dir);
	if (rc == 0)
		journal_delete(ctx, name);
done:
	journal_release(&j);
	ipm_package_row_release(&row);
	return rc;
}

/* ---- recovery ---- */

static int recover_one(struct ipm_ctx *ctx, const char *path)
{
	struct journal j;
	struct ipm_package_row row;
	int committed = 0;
	int rc;

	memset(&row, 0, sizeof(row));
	rc = journal_load(&j, path);
	if (rc < 0) {
		/* A damaged journal can only be an unfinished atomic write of
		 * ours (which never replaced a good one): drop it. */
		ipm_log(IPM_LOG_WARN, "%s; removing it", ipm_error_message());
		ipm_error_clear();
		unlink(path);
		return 0;
	}
	rc = ipm_db_package_get(&row, ctx->db, j.name, 0);
	if (rc == 0) {
		committed = row.store_dir && strcmp(row.store_dir, j.now.store_dir) == 0;
		ipm_package_row_release(&row);
	} else if (rc != IPM_ENOTFOUND) {
		goto done;
	}
	ipm_error_clear();
	rc = 0;

	if (committed) {
		if (j.has_old)
			rc = side_take_down(&j.old, 0);
	} else {
		ipm_log(IPM_LOG_INFO, "cleaning up after an interrupted ipm ('%s')", j.name);
		rc = side_take_down(&j.now, 1);
	}
	if (rc == 0)
		unlink(path);
done:
	journal_release(&j);
	return rc;
}

int ipm_recover(struct ipm_ctx *ctx)
{
	char *dir_path = xasprintf("%s/journal", ctx->cfg.home);
	char *build_root = xasprintf("%s/build", ctx->cfg.home);
	DIR *dir = opendir(dir_path);
	struct dirent *de;
	int rc = 0;

	while (dir && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char *path;
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir_path, de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
			int one = recover_one(ctx, path);
			if (one < 0 && rc == 0)
				rc = one;
		} else {
			unlink(path);   /* leftovers of an interrupted atomic write */
		}
		free(path);
	}
	if (dir)
		closedir(dir);
	/* Build directories belong to no running ipm: we hold the lock. */
	if (ipm_path_exists(build_root) && ipm_rm_rf(build_root) < 0 && rc == 0)
		rc = ipm_error_code();
	free(build_root);
	free(dir_path);
	return rc;
}
