/*
 * Building, committing and removing packages.
 *
 * The invariant that makes interruption safe: a store directory's links exist
 * in the prefix only while the database says the package is installed from
 * that store directory. Every change that breaks it for a moment is described
 * first by a journal, $IPM_HOME/journal/<name>.json:
 *
 *   { "name": ..., "store_dir": ..., "prefix": ...,
 *     "tmp": tag of the temporary link names (see link_tmp_path),
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
 * finishes it. What a change cannot take away (a directory that is not
 * writable) stays recorded in its journal, for the next run to finish; the
 * store tree stays as long as links into it may. Directories whose entries
 * changed are fsynced before the step that relies on them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "ipm/bincache.h"
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

/* A fresh tag for the temporary link names of one journal: 16 hex digits
 * from the kernel's random source (the clock and pid when it has none). */
static char *new_tmp_tag(void)
{
	unsigned char bytes[8];
	uint64_t v = 0;

	if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) == (ssize_t)sizeof(bytes)) {
		for (size_t i = 0; i < sizeof(bytes); i++)
			v = v << 8 | bytes[i];
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
	}
	return xasprintf("%016llx", (unsigned long long)v);
}

/*
 * The temporary name link_atomic builds the journal's link i under before
 * renaming it over path: ".ipm-tmp.<tag>.<i>" beside it. The tag is random
 * and recorded in the journal before any such link exists, so the name
 * belongs to no one else (a fixed "NAME.ipm-new" could be another package's
 * link or a user's file) and recovery can still find what a killed run left.
 * Without a tag (a journal of an older ipm): its "NAME.ipm-new".
 */
static char *link_tmp_path(const char *path, const char *tag, size_t i)
{
	const char *slash = strrchr(path, '/');

	if (!tag)
		return xasprintf("%s.ipm-new", path);
	return xasprintf("%.*s.ipm-tmp.%s.%zu", slash ? (int)(slash - path + 1) : 0, path, tag, i);
}

/* Replaces (or creates) path as a symlink to target, atomically, through
 * the temporary name tmp, which must not exist: what has that name is never
 * removed here. */
static int link_atomic(const char *target, const char *path, const char *tmp)
{
	if (symlink(target, tmp) < 0)
		return ipm_error_set(IPM_ERROR, "cannot create link '%s': %s", path,
				     errno == EEXIST ? "its temporary name is taken" : strerror(errno));
	if (rename(tmp, path) < 0) {
		int rc = ipm_error_set(IPM_ERROR, "cannot create link '%s': %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

/* 1 when tmp is a symlink that link_atomic left on its way to target, or
 * into store_dir: ours to remove. Anything else there is not ours. */
static int tmp_link_ours(const char *tmp, const char *store_dir, const char *target)
{
	char *now = read_link(tmp);
	int ours = 0;

	if (now) {
		size_t len = strlen(store_dir);
		ours = (strncmp(now, store_dir, len) == 0 && now[len] == '/') ||
		       (target && strcmp(now, target) == 0);
	}
	free(now);
	return ours;
}

/* ---- directories to make durable ---- */

/*
 * The directories whose entries a change of the prefix touched. A rename or
 * an unlink is durable only once its directory is synced: each is fsynced
 * once, before the step that depends on it (the database commit point, or
 * deleting the journal).
 */
struct dir_set {
	char **dirs;
	size_t n, alloc;
};

/* Adds the directory holding path. */
static void dir_set_add_parent(struct dir_set *d, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;

	if (len == 0)
		len = slash ? 1 : 0;
	if (len == 0)
		return;
	/* links come in path order: most repeat the directory just added */
	if (d->n && strlen(d->dirs[d->n - 1]) == len && strncmp(d->dirs[d->n - 1], path, len) == 0)
		return;
	XGROW(d->dirs, d->alloc, d->n + 1);
	d->dirs[d->n++] = xstrndup(path, len);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fsyncs each directory once (a missing one is fine), then empties the set. */
static int dir_set_sync(struct dir_set *d)
{
	int rc = 0;

	if (d->n == 0)
		return 0;
	qsort(d->dirs, d->n, sizeof(*d->dirs), cmp_strp);
	for (size_t i = 0; i < d->n; i++) {
		if (i > 0 && strcmp(d->dirs[i], d->dirs[i - 1]) == 0)
			continue;
		if (rc == 0 && ipm_dir_sync(d->dirs[i]) < 0)
			rc = ipm_error_code();
	}
	xfree_strv(d->dirs, d->n);
	memset(d, 0, sizeof(*d));
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

/* Removes the directories prefix/dirs[i] that are empty, deepest first;
 * the parent of each one removed goes into changed. */
static void remove_empty_dirs(const char *prefix, char **dirs, size_t n, struct dir_set *changed)
{
	char **sorted;

	if (!n)
		return;
	sorted = xcalloc(n, sizeof(*sorted));
	memcpy(sorted, dirs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), path_depth_cmp);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", prefix, sorted[i]);
		/* fails, as it should, when not empty */
		if (rmdir(path) == 0)
			dir_set_add_parent(changed, path);
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
	char *tmp_tag;   /* link_tmp_path's tag, or NULL */
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
	free(j->tmp_tag);
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
	if (j->tmp_tag)
		cJSON_AddStringToObject(root, "tmp", j->tmp_tag);
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

/* A journal of name's that recovery could not finish (it said why, as a
 * warning): IPM_ECONFLICT, since a new change of name would write over the
 * record of what is left. Recovery ran before: any other journal is gone. */
static int check_unfinished(struct ipm_ctx *ctx, const char *name)
{
	char *path = journal_path(ctx, name);
	int rc = 0;

	if (ipm_path_exists(path)) {
		rc = ipm_error_set(IPM_ECONFLICT, "an earlier change of '%s' is not finished: cleaning up "
				   "after it failed", name);
		ipm_error_hint("the warning above says why; once that is fixed, the next ipm command "
			       "finishes it (its record is '%s')", path);
	}
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
	/* a tag is part of a file name: hex digits only */
	if (json_str(root, "tmp") && strlen(json_str(root, "tmp")) <= 32 &&
	    ipm_is_hex(json_str(root, "tmp"), strlen(json_str(root, "tmp"))))
		j->tmp_tag = xstrdup(json_str(root, "tmp"));
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

/*
 * Takes away what side's store left in its prefix: links into the store
 * (restored to their old targets when recorded), then empty dirs, then the
 * store. Used for undoing an install and for finishing a removal. tag: the
 * journal's tmp_tag, naming the temporary links a killed link_atomic may
 * have left. A link that cannot be taken away is the error, and the store
 * stays (no link dangles): the journal keeps it for the next try.
 */
static int side_take_down(const struct journal_side *s, const char *tag, int restore_old)
{
	struct dir_set changed = { 0 };
	int rc = 0, sync_rc;

	for (size_t i = 0; i < s->nlinks; i++) {
		char *path = xasprintf("%s/%s", s->prefix, s->links[i].path);
		char *tmp = link_tmp_path(path, tag, i);
		/* A kill between link_atomic's symlink and rename leaves its
		 * temporary link in the prefix: ours when it points where
		 * link_atomic was taking it. */
		if (tmp_link_ours(tmp, s->store_dir, tag ? s->links[i].old : NULL) && unlink(tmp) == 0)
			dir_set_add_parent(&changed, tmp);
		if (links_into(path, s->store_dir)) {
			if (restore_old && s->links[i].old) {
				if (link_atomic(s->links[i].old, path, tmp) == 0)
					dir_set_add_parent(&changed, path);
				else if (rc == 0)
					rc = ipm_error_code();
			} else if (unlink(path) == 0) {
				dir_set_add_parent(&changed, path);
			} else if (errno != ENOENT && rc == 0) {
				rc = ipm_error_set(IPM_ERROR, "cannot remove link '%s': %s", path, strerror(errno));
			}
		}
		free(tmp);
		free(path);
	}
	remove_empty_dirs(s->prefix, s->dirs, s->ndirs, &changed);
	sync_rc = dir_set_sync(&changed);
	if (rc == 0)
		rc = sync_rc;
	if (rc < 0)
		return rc;
	return remove_store(s->store_dir);
}

/* ---- running recipe steps ---- */

static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t timed_out;
static volatile pid_t guardian_pid;
static volatile pid_t step_pid;

/* The step ran past step_timeout: its guardian takes it down. */
static void on_timeout(int sig)
{
	(void)sig;
	timed_out = 1;
	if (guardian_pid > 0)
		kill(guardian_pid, SIGTERM);
}

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
		      const char *prefix, const char *stage_dir, const char *home_dir)
{
	const char *path = getenv("PATH");
	long jobs = ctx->cfg.jobs > 0 ? ctx->cfg.jobs : sysconf(_SC_NPROCESSORS_ONLN);

	if (jobs < 1)
		jobs = 1;
	/* The system's tools before the prefix's: a package that installs
	 * bin/make must not take over every later build. */
	env_add(e, xasprintf("PATH=%s:%s/bin", path && *path ? path : "/usr/local/bin:/usr/bin:/bin", prefix));
	/* an empty HOME of the build's own: the user's files are none of a
	 * recipe's business */
	env_add(e, xasprintf("HOME=%s", home_dir));
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
 * Runs argv (argv[0] a path: /bin/sh, or bubblewrap running it) in workdir
 * with envp, output appended to log_fd. *out_status: the exit status (128+N
 * for signal N); *out_timed_out: 1 when it was stopped after timeout
 * seconds. Returns IPM_ECANCEL when ipm was interrupted.
 *
 * Process layout: ipm -> guardian -> sh (own process group). The guardian
 * dies with ipm (PR_SET_PDEATHSIG, even on SIGKILL) and then kills the whole
 * recipe group, so no orphaned recipe keeps writing into a store directory
 * that the next ipm run cleans.
 */
static int run_step(int *out_status, int *out_timed_out, char **argv, const char *workdir, char **envp,
		    int log_fd, int timeout)
{
	struct sigaction sa, tsa, old_int, old_term, old_hup, old_alrm;
	pid_t parent = getpid();
	pid_t pid;
	int status = 0;
	int rc = 0;

	*out_status = 0;
	*out_timed_out = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	timed_out = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	memset(&tsa, 0, sizeof(tsa));
	tsa.sa_handler = on_timeout;
	sigemptyset(&tsa.sa_mask);
	sigaction(SIGALRM, &tsa, &old_alrm);

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
			execve(argv[0], argv, envp);
			dprintf(2, "ipm: cannot run %s: %s\n", argv[0], strerror(errno));
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
	if (timeout > 0)
		alarm((unsigned)timeout);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			rc = ipm_error_set(IPM_ERROR, "cannot wait for a recipe step: %s", strerror(errno));
			goto done;
		}
	}
	guardian_pid = 0;
	*out_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	*out_timed_out = timed_out;
	if (interrupted)
		rc = ipm_error_set(IPM_ECANCEL, "interrupted");
done:
	alarm(0);
	guardian_pid = 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGALRM, &old_alrm, NULL);
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

/* Runs one method's steps, contained as box says when the sandbox works
 * (uncontained otherwise); 0, IPM_EBUILD (message set; on the last try the
 * output's tail is reported as a warning) or another error. */
static int run_method(struct ipm_ctx *ctx, const struct ipm_plan_item *it, const struct ipm_method *m,
		      const struct ipm_sandbox_step *box, const char *log_path, int log_fd, char **envp,
		      int last_try)
{
	const struct ipm_sandbox *sb = ipm_ctx_sandbox(ctx);
	size_t nsteps = m->nbuild + m->ninstall;
	int rc = 0;

	for (size_t i = 0; i < nsteps; i++) {
		const char *cmd = i < m->nbuild ? m->build[i] : m->install[i - m->nbuild];
		char *plain[] = { "/bin/sh", "-c", (char *)cmd, NULL };
		char **argv = plain;
		size_t argc = 0;
		off_t start;
		int status = 0, late = 0;

		if (sb->bwrap)
			argv = ipm_sandbox_argv(&argc, sb, box, cmd);
		dprintf(log_fd, "$ %s\n", cmd);
		start = lseek(log_fd, 0, SEEK_CUR);
		ipm_log(IPM_LOG_DEBUG, "%s: %s", it->entry.name, cmd);
		rc = run_step(&status, &late, argv, box->workdir, envp, log_fd, ctx->cfg.step_timeout);
		if (argv != plain)
			xfree_strv(argv, argc);
		if (rc < 0)
			return rc;
		if (late) {
			dprintf(log_fd, "ipm: step stopped after %d s (step_timeout)\n", ctx->cfg.step_timeout);
			ipm_error_set(IPM_EBUILD, "step '%s' of '%s' was stopped after the step_timeout of %d s",
				      cmd, it->entry.name, ctx->cfg.step_timeout);
			ipm_error_hint("raise \"step_timeout\" (seconds) in '%s' if it needs longer; the output is in '%s'",
				       ctx->cfg.config_path, log_path);
			return IPM_EBUILD;
		}
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
	char *home_dir = xasprintf("%s/%s-%s.home", build_root, name, version);
	char *store_root = xasprintf("%s/store", ctx->cfg.home);
	const char *real_home = getenv("HOME");
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

	build_env(&env, ctx, it, prefix, stage_dir, home_dir);
	for (size_t mi = first; mi < last; mi++) {
		const struct ipm_method *m = &it->entry.methods[mi];

		if ((rc = ipm_rm_rf(build_dir)) < 0 || (rc = ipm_rm_rf(stage_dir)) < 0 ||
		    (rc = ipm_rm_rf(home_dir)) < 0)
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
		if ((rc = ipm_mkdir_p(stage_dir, 0755)) < 0 || (rc = ipm_mkdir_p(home_dir, 0700)) < 0)
			goto done;

		dprintf(log_fd, "# %s %s, method '%s'\n", name, version, m->name ? m->name : "default");
		ipm_log(IPM_LOG_INFO, "building '%s' %s%s%s%s ...", name, version,
			last - first > 1 || it->method ? " with method '" : "",
			last - first > 1 || it->method ? (m->name ? m->name : "default") : "",
			last - first > 1 || it->method ? "'" : "");
		{
			const char *writable[] = { build_dir, stage_dir, home_dir };
			const char *readable[] = { prefix, store_root };
			struct ipm_sandbox_step box = { workdir, writable, 3, readable, 2,
							real_home && *real_home ? real_home : NULL };
			rc = run_method(ctx, it, m, &box, log_path, log_fd, env.envp, mi + 1 >= last);
		}
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
	ipm_rm_rf(home_dir);
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
	free(home_dir);
	free(store_root);
	free(build_dir);
	free(build_root);
	return rc;
}

/*
 * The binary cache's way to a store tree (bincache.h): the fetched archive
 * extracted into the store directory, under a journal as a build is, then
 * the same linkage check a built tree passes.
 */
static int unpack_cached(struct build_result *out, struct ipm_ctx *ctx, const struct ipm_plan_item *it)
{
	const char *name = it->entry.name;
	const struct ipm_bincache_choice *c = it->bincache;
	char *build_root = xasprintf("%s/build", ctx->cfg.home);
	char *store_root = xasprintf("%s/store", ctx->cfg.home);
	const char *forbidden[] = { build_root, store_root };
	char *store_dir = store_dir_for(ctx, it);
	char *prefix = absolute_path(ctx->cfg.prefix);
	struct journal j = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (strcmp(c->from, "local") == 0)
		ipm_log(IPM_LOG_INFO, "installing '%s' %s from the local binary cache ...", name, it->release->version);
	else
		ipm_log(IPM_LOG_INFO, "installing '%s' %s from binary cache '%s' ...", name, it->release->version,
			c->from);
	j.name = xstrdup(name);
	j.now.store_dir = xstrdup(store_dir);
	j.now.prefix = xstrdup(prefix);
	if ((rc = journal_write(ctx, &j)) < 0 || (rc = ipm_rm_rf(store_dir)) < 0 ||
	    (rc = ipm_bincache_extract(ctx, c, store_dir)) < 0 ||
	    (rc = ipm_linkage_check(&out->linkage, store_dir, prefix, forbidden, 2)) < 0)
		goto done;
	if (out->linkage.nproblems) {
		rc = linkage_error(name, &out->linkage, -1);
		goto done;
	}
	/* the method its build used, for the record */
	out->method = it->method ? it->method : &it->entry.methods[0];
	for (size_t m = 0; c->method && m < it->entry.nmethods; m++)
		if (it->entry.methods[m].name && strcmp(it->entry.methods[m].name, c->method) == 0)
			out->method = &it->entry.methods[m];
	out->store_dir = store_dir;
	store_dir = NULL;
done:
	if (rc < 0) {
		struct ipm_error_saved saved;
		ipm_error_save(&saved);
		ipm_linkage_release(&out->linkage);
		if (j.name && store_dir) {
			remove_store(store_dir);
			journal_delete(ctx, name);
		}
		ipm_error_restore(&saved);
	}
	journal_release(&j);
	free(store_dir);
	free(prefix);
	free(build_root);
	free(store_root);
	return rc;
}

/* A binary that cannot be used: said in one line, and the item builds. */
static void drop_binary(const struct ipm_plan_item *it)
{
	struct ipm_bincache_choice *c = it->bincache;

	ipm_log(IPM_LOG_WARN, "cannot use the binary of '%s' from %s: %s; building it instead", it->entry.name,
		strcmp(c->from, "local") == 0 ? "the local binary cache" : c->from, ipm_error_message());
	ipm_error_clear();
	free(c->from);
	c->from = NULL;
}

/* The item's store tree: its binary when it has one (a build when that
 * fails), else a build, which is then kept in the binary caches. */
static int obtain_tree(struct build_result *b, struct ipm_ctx *ctx, const struct ipm_plan_item *it)
{
	int rc;

	if (it->bincache && it->bincache->from) {
		rc = unpack_cached(b, ctx, it);
		if (rc == 0 || rc == IPM_ECANCEL)
			return rc;
		drop_binary(it);
		if ((rc = ipm_fetch_source(&ctx->fetch, &it->source)) < 0)
			return rc;
	}
	if ((rc = build_item(b, ctx, it)) == 0)
		ipm_bincache_after_build(ctx, it, b->method->name, b->store_dir);
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

/*
 * Links the built tree into the prefix and writes the row (the commit
 * point). On failure the prefix is as it was; *kept is set when undoing
 * could not take the new links away: the journal and the store stay then,
 * for recovery, and the caller must not delete them.
 */
static int commit_item(struct ipm_ctx *ctx, const struct ipm_plan_item *it, const struct build_result *b,
		       int *kept)
{
	const char *name = it->entry.name;
	struct ipm_tree tree = { 0 };
	struct journal j = { 0 };
	struct dir_set changed = { 0 };
	struct ipm_package_row old, row;
	int have_old = 0;
	struct ipm_file_row *files = NULL;
	char **deps = NULL, **constraints = NULL;
	char (*sums)[65] = NULL;
	int rc = 0;

	*kept = 0;
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
	j.tmp_tag = new_tmp_tag();
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
		if (mkdir(path, 0755) == 0)
			dir_set_add_parent(&changed, path);
		else if (errno != EEXIST)
			rc = ipm_error_set(IPM_ERROR, "cannot create directory '%s': %s", path, strerror(errno));
		free(path);
		if (rc < 0)
			goto undo;
	}
	for (size_t i = 0; i < j.now.nlinks; i++) {
		char *path = xasprintf("%s/%s", j.now.prefix, j.now.links[i].path);
		char *target = xasprintf("%s/%s", j.now.store_dir, j.now.links[i].path);
		char *tmp = link_tmp_path(path, j.tmp_tag, i);
		rc = link_atomic(target, path, tmp);
		dir_set_add_parent(&changed, path);
		free(tmp);
		free(path);
		free(target);
		if (rc < 0)
			goto undo;
	}
	/* The links must be on disk before the row that says they are. */
	if ((rc = dir_set_sync(&changed)) < 0)
		goto undo;

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
	row.guessed_entry = it->guessed_entry;
	row.build_key = it->bincache ? it->bincache->key : NULL;
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

	/* Committed: the previous version goes. What cannot go now stays in
	 * the journal, and recovery takes it away later. */
	if (j.has_old && side_take_down(&j.old, NULL, 0) < 0) {
		ipm_log(IPM_LOG_WARN, "installed '%s' %s, but the previous version is not removed yet: %s",
			name, it->release->version, ipm_error_message());
		ipm_error_clear();
	} else {
		journal_delete(ctx, name);
	}
	goto done;
undo:
	{
		/* Keep the failure's message while taking the links back. */
		struct ipm_error_saved saved;
		ipm_error_save(&saved);
		if (side_take_down(&j.now, j.tmp_tag, 1) < 0) {
			ipm_log(IPM_LOG_WARN, "cannot undo the links of '%s': %s; the next ipm run tries again",
				name, ipm_error_message());
			*kept = 1;
		} else {
			journal_delete(ctx, name);
		}
		ipm_error_restore(&saved);
	}
done:
	xfree_strv(changed.dirs, changed.n);
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

int ipm_plan_check_sandbox(struct ipm_ctx *ctx)
{
	const struct ipm_sandbox *sb = ipm_ctx_sandbox(ctx);

	if (ctx->cfg.sandbox != IPM_SANDBOX_REQUIRED || sb->bwrap)
		return 0;
	ipm_error_set(IPM_EINVAL, "recipe steps cannot be contained here: %s", sb->why_not);
	ipm_error_hint("install bubblewrap, or set \"sandbox\": \"auto\" in '%s' to run them uncontained",
		       ctx->cfg.config_path);
	return IPM_EINVAL;
}

int ipm_plan_run(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	char *skip = NULL;
	int rc = ipm_plan_check_sandbox(ctx);

	if (rc < 0)
		return rc;
	skip = xcalloc(plan->n ? plan->n : 1, 1);

	for (size_t i = 0; i < plan->n; i++)
		skip[i] = plan->items[i].installed ||
			  (!plan->items[i].rebuild && installed_here(ctx, &plan->items[i]));
	/* build keys, when the caller did not ask the binary caches */
	if ((rc = ipm_bincache_keys(ctx, plan)) < 0)
		goto done;

	/* Everything is fetched before anything is built, so that a network
	 * failure never leaves half the plan installed. */
	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		if (skip[i])
			continue;
		if ((rc = check_unfinished(ctx, it->entry.name)) < 0)
			goto done;
		if (it->bincache && it->bincache->from) {
			if (ipm_bincache_fetch(ctx, it->bincache) == 0)
				continue;
			drop_binary(it);
		}
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
		int kept = 0;

		if (skip[i])
			continue;
		rc = obtain_tree(&b, ctx, it);
		if (rc < 0)
			goto done;
		rc = check_sonames(ctx, plan, skip, i, &b);
		if (rc == 0)
			rc = commit_item(ctx, it, &b, &kept);
		if (rc < 0) {
			/* Keep the message while the unused store goes (unless
			 * links into it could not be undone). */
			struct ipm_error_saved saved;
			ipm_error_save(&saved);
			if (!kept) {
				remove_store(b.store_dir);
				journal_delete(ctx, it->entry.name);
			}
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

/*
 * IPM_ERROR naming the first link of side's (one into its store) that this
 * user cannot remove, its directory not being writable. Checked before the
 * commit point of a removal, so that one that cannot finish does not start:
 * it would forget the package and leave its links behind.
 */
static int check_removable(const struct journal_side *s)
{
	char *writable = NULL;   /* the directory last found writable */
	int rc = 0;

	for (size_t i = 0; i < s->nlinks && rc == 0; i++) {
		char *path = xasprintf("%s/%s", s->prefix, s->links[i].path);
		char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));

		if (links_into(path, s->store_dir) && (!writable || strcmp(writable, dir) != 0)) {
			if (access(dir, W_OK | X_OK) == 0) {
				free(writable);
				writable = dir;
				dir = NULL;
			} else {
				rc = ipm_error_set(IPM_ERROR, "cannot remove link '%s': %s", path, strerror(errno));
				ipm_error_hint("make '%s' writable, then remove again: nothing was changed", dir);
			}
		}
		free(dir);
		free(path);
	}
	free(writable);
	return rc;
}

int ipm_remove(struct ipm_ctx *ctx, const char *name)
{
	struct ipm_package_row row;
	struct journal j = { 0 };
	struct dir_set changed = { 0 };
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
	if ((rc = check_unfinished(ctx, name)) < 0 || (rc = check_removable(&j.now)) < 0)
		goto done;
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
		if (links_into(path, j.now.store_dir)) {
			if (unlink(path) == 0)
				dir_set_add_parent(&changed, path);
			else if (errno != ENOENT && rc == 0)
				rc = ipm_error_set(IPM_ERROR, "cannot remove link '%s': %s", path, strerror(errno));
		} else if (ipm_path_exists(path)) {
			ipm_log(IPM_LOG_WARN, "'%s' was changed after ipm installed it; leaving it", path);
		}
		free(path);
	}
	if (rc < 0) {
		/* Checked before, yet it happened: the links left still point
		 * into the store, which stays with the journal, and the next
		 * ipm run finishes the removal. */
		ipm_error_hint("once it can be removed, the next ipm command finishes removing '%s'", name);
		goto done;
	}
	remove_empty_dirs(j.now.prefix, j.now.dirs, j.now.ndirs, &changed);
	/* The links are gone for good before their store goes. */
	if ((rc = dir_set_sync(&changed)) < 0)
		goto done;
	if (remove_store(j.now.store_dir) < 0) {
		/* The package is gone; its tree goes with the next run's recovery. */
		ipm_log(IPM_LOG_WARN, "removed '%s', but not all of its store tree: %s; the next ipm run tries again",
			name, ipm_error_message());
		ipm_error_clear();
		goto done;
	}
	journal_delete(ctx, name);
done:
	xfree_strv(changed.dirs, changed.n);
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
			rc = side_take_down(&j.old, NULL, 0);
	} else {
		ipm_log(IPM_LOG_INFO, "cleaning up after an interrupted ipm ('%s')", j.name);
		rc = side_take_down(&j.now, j.tmp_tag, 1);
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

	/* What cannot be cleaned now is reported and kept for the next run:
	 * it must not stop commands that have nothing to do with it (a change
	 * of the same package is refused until it is done). */
	while (dir && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char *path;
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir_path, de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
			if (recover_one(ctx, path) < 0) {
				ipm_log(IPM_LOG_WARN, "cannot finish cleaning up after an interrupted ipm ('%.*s'): %s",
					(int)(len - 5), de->d_name, ipm_error_message());
				ipm_error_clear();
			}
		} else {
			unlink(path);   /* leftovers of an interrupted atomic write */
		}
		free(path);
	}
	if (dir)
		closedir(dir);
	/* Build directories belong to no running ipm: we hold the lock. */
	if (ipm_path_exists(build_root) && ipm_rm_rf(build_root) < 0) {
		ipm_log(IPM_LOG_WARN, "cannot clean up old build trees: %s", ipm_error_message());
		ipm_error_clear();
	}
	free(build_root);
	free(dir_path);
	return 0;
}
