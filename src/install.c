/*
 * Building packages and running plans; removing them.
 *
 * A plan is one transaction (src/txn.c): every item is built into a fresh
 * store tree (ipm_txn_new_store), checked, and linked into the prefix at
 * once, so that its dependents build against it (ipm_txn_switch). Fetches,
 * and builds whose dependencies are linked, run at the same time, each in
 * a worker process (ipm/worker.h); this process alone links, writes the
 * database and reports. The rows of all of them and the history entry
 * are committed together at the end (ipm_txn_commit). A failure, Ctrl-C or a kill before that undoes every
 * link and deletes what was built; recovery (ipm_recover) does it for a
 * killed run. Removal is the same without builds (ipm_remove_set).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipm/bincache.h"
#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/follow.h"
#include "ipm/fs.h"
#include "ipm/install.h"
#include "ipm/interrupt.h"
#include "ipm/linkage.h"
#include "ipm/log.h"
#include "ipm/stage.h"
#include "ipm/txn.h"
#include "ipm/worker.h"
#include "ipm/xalloc.h"

#define TAIL_LINES 10

/* ---- small helpers ---- */

static char *store_dir_of(struct ipm_ctx *ctx, const char *name, const char *version)
{
	char *rel = xasprintf("%s/store/%s/%s", ctx->cfg.home, name, version);
	char *abs = ipm_path_absolute(rel);
	free(rel);
	return abs;
}

/* ---- running recipe steps ---- */

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
 * seconds. Returns IPM_ECANCEL when ipm was interrupted. follow, unless
 * NULL, is given the step's time and output while it runs.
 *
 * Process layout: ipm -> guardian -> sh (own process group). The guardian
 * dies with ipm (PR_SET_PDEATHSIG, even on SIGKILL) and then kills the whole
 * recipe group, so no orphaned recipe keeps writing into a store directory
 * that the next ipm run cleans.
 */
static int run_step(int *out_status, int *out_timed_out, char **argv, const char *workdir, char **envp,
		    int log_fd, int timeout, struct ipm_follow *follow)
{
	struct sigaction tsa, old_alrm;
	pid_t parent = getpid();
	pid_t pid, w;
	int status = 0;
	int rc = 0;
	/* Held open by the guardian alone (the recipe's exec closes it): its
	 * end wakes the wait below at once. */
	int exit_pipe[2] = { -1, -1 };

	*out_status = 0;
	*out_timed_out = 0;
	/* Ctrl-C reaches the guardian through the interrupt handler, which
	 * stays installed: an interrupt between steps is seen by the next
	 * check of the plan. */
	ipm_interrupt_catch();
	if ((rc = ipm_interrupt_check()) < 0)
		return rc;
	timed_out = 0;
	memset(&tsa, 0, sizeof(tsa));
	tsa.sa_handler = on_timeout;
	sigemptyset(&tsa.sa_mask);
	sigaction(SIGALRM, &tsa, &old_alrm);

	if (pipe2(exit_pipe, O_CLOEXEC) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot start a process: %s", strerror(errno));
		goto done;
	}
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
	ipm_interrupt_set_child(pid);
	close(exit_pipe[1]);
	exit_pipe[1] = -1;
	if (timeout > 0)
		alarm((unsigned)timeout);
	/* follow's reports every 100 ms until the guardian is gone; then
	 * only its exit status is left to wait for */
	while ((w = waitpid(pid, &status, follow ? WNOHANG : 0)) != pid) {
		if (w < 0 && errno != EINTR) {
			rc = ipm_error_set(IPM_ERROR, "cannot wait for a recipe step: %s", strerror(errno));
			goto done;
		}
		if (w == 0 && ipm_follow_wait(follow, exit_pipe[0], 100) > 0)
			follow = NULL;
	}
	guardian_pid = 0;
	*out_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	*out_timed_out = timed_out;
	if (ipm_interrupted())
		rc = ipm_interrupt_check();
done:
	alarm(0);
	guardian_pid = 0;
	ipm_interrupt_set_child(0);
	if (exit_pipe[0] >= 0)
		close(exit_pipe[0]);
	if (exit_pipe[1] >= 0)
		close(exit_pipe[1]);
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
		struct ipm_follow follow;
		char *step_name = ipm_follow_step_name(cmd, 60);
		char *label = xasprintf("building %s: step %zu/%zu %s", it->entry.name, i + 1, nsteps, step_name);

		if (sb->bwrap)
			argv = ipm_sandbox_argv(&argc, sb, box, cmd);
		dprintf(log_fd, "$ %s\n", cmd);
		start = lseek(log_fd, 0, SEEK_CUR);
		ipm_log(IPM_LOG_DEBUG, "%s: %s", it->entry.name, cmd);
		ipm_follow_start(&follow, label, log_path, start);
		rc = run_step(&status, &late, argv, box->workdir, envp, log_fd, ctx->cfg.step_timeout, &follow);
		ipm_follow_end(&follow);
		free(label);
		free(step_name);
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

/* 1 when prefix/rel is dir or lies inside it. */
static int inside_dir(const char *prefix, const char *rel, const char *dir)
{
	size_t n = strlen(prefix), d = strlen(dir);

	if (strncmp(dir, prefix, n) != 0 || dir[n] != '/')
		return 0;
	dir += n + 1;
	d -= n + 1;
	return strncmp(rel, dir, d) == 0 && (rel[d] == '\0' || rel[d] == '/');
}

/*
 * While a plan's builds run, ipm links the finished ones into the prefix,
 * which each running build watches for its recipe's own writes there
 * (undo_prefix_writes). The two take this lock, a file of the build root
 * (each process its own open file: flock is per open file), so that a
 * build never sees a link half made (a directory made for links not yet
 * there). Returns the descriptor to pass to prefix_unlock; -1 (no lock)
 * when the file cannot be made, which only loses that guard.
 */
static int prefix_lock(struct ipm_ctx *ctx)
{
	char *dir = xasprintf("%s/build", ctx->cfg.home);
	char *path = xasprintf("%s/.prefix.lock", dir);
	int fd = -1;

	if (ipm_mkdir_p(dir, 0755) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ipm_error_clear();
	while (fd >= 0 && flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	free(path);
	free(dir);
	return fd;
}

static void prefix_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* 1 when prefix/rel is a link of ipm's: a symbolic link into the store.
 * Other builds of the plan run meanwhile, and ipm links each into the
 * prefix as it ends: those links are no recipe's writes. */
static int ipm_link(const char *prefix, const char *rel, const char *home)
{
	char *path = xasprintf("%s/%s", prefix, rel), *store = xasprintf("%s/store/", home);
	char target[4096];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	int ours = n < 0 && errno == ENOENT;   /* gone: nothing to take away */

	if (n > 0) {
		target[n] = '\0';
		ours = strncmp(target, store, strlen(store)) == 0;
	}
	free(path);
	free(store);
	return ours;
}

/* 1 when the directory prefix/rel holds a link of ipm's, at any depth. */
static int holds_ipm_link(const char *prefix, const char *rel, const char *home)
{
	char *path = strcmp(rel, ".") == 0 ? xstrdup(prefix) : xasprintf("%s/%s", prefix, rel);
	DIR *d = opendir(path);
	struct dirent *de;
	int found = 0;

	while (d && !found && (de = readdir(d))) {
		char *sub;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		sub = strcmp(rel, ".") == 0 ? xstrdup(de->d_name) : xasprintf("%s/%s", rel, de->d_name);
		if (de->d_type == DT_LNK)
			found = ipm_link(prefix, sub, home);
		else if (de->d_type == DT_DIR)
			found = holds_ipm_link(prefix, sub, home);
		free(sub);
	}
	if (d)
		closedir(d);
	free(path);
	return found;
}

/* Takes away what a recipe wrote into the prefix itself: IPM_EBUILD naming
 * it, or 0 when it wrote nothing there. What ipm itself made meanwhile in
 * its home or cache is no recipe's doing: by default the home,
 * ~/.local/share/ipm, lies inside the prefix, ~/.local. */
static int undo_prefix_writes(const struct ipm_snapshot *before, const char *prefix, const char *name,
			      const char *home, const char *cache)
{
	char **fresh = NULL, **top = NULL;
	size_t nfresh = 0, ntop = 0, kept = 0;
	char *list;
	int rc;

	if ((rc = ipm_snapshot_new_entries(&fresh, &nfresh, before, prefix)) < 0 || nfresh == 0)
		return rc;
	for (size_t i = 0; i < nfresh; i++) {
		if (inside_dir(prefix, fresh[i], home) || inside_dir(prefix, fresh[i], cache) ||
		    ipm_link(prefix, fresh[i], home))
			free(fresh[i]);
		else
			fresh[kept++] = fresh[i];
	}
	nfresh = kept;
	/* a directory that holds ipm's links is ipm's too (made by a link) */
	kept = 0;
	for (size_t i = 0; i < nfresh; i++) {
		if (holds_ipm_link(prefix, fresh[i], home))
			free(fresh[i]);
		else
			fresh[kept++] = fresh[i];
	}
	nfresh = kept;
	if (nfresh == 0) {
		free(fresh);
		return 0;
	}
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
	char *own_home = ipm_path_absolute(ctx->cfg.home), *own_cache = ipm_path_absolute(ctx->cfg.cache);
	const char *forbidden[] = { build_root, store_root };
	char **leaks = NULL;
	size_t nleaks = 0;
	int rc, lock;

	lock = prefix_lock(ctx);
	rc = undo_prefix_writes(before, prefix, name, own_home, own_cache);
	prefix_unlock(lock);
	if (rc < 0)
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
	free(own_home);
	free(own_cache);
	free(build_root);
	free(store_root);
	return rc;
}

/* Builds it into store_dir (a fresh one, see ipm_txn_new_store: a failed
 * build's tree is deleted with the transaction). */
static int build_item(struct build_result *out, struct ipm_ctx *ctx, const struct ipm_plan_item *it,
		      const char *store_dir)
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
	char *prefix = ipm_path_absolute(ctx->cfg.prefix);
	char *workdir = NULL;
	struct ipm_snapshot before = { 0 };
	struct step_env env = { 0 };
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
		ipm_log(IPM_LOG_INFO, "building '%s' %s%s%s%s (log: %s) ...", name, version,
			last - first > 1 || it->method ? " with method '" : "",
			last - first > 1 || it->method ? (m->name ? m->name : "default") : "",
			last - first > 1 || it->method ? "'" : "", log_path);
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
			char *own_home = ipm_path_absolute(ctx->cfg.home), *own_cache = ipm_path_absolute(ctx->cfg.cache);
			int lock = prefix_lock(ctx);
			if (undo_prefix_writes(&before, prefix, name, own_home, own_cache) < 0)
				ipm_log(IPM_LOG_WARN, "%s", ipm_error_message());
			prefix_unlock(lock);
			free(own_home);
			free(own_cache);
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
	out->store_dir = xstrdup(store_dir);
	/* The sources are no longer needed; failed builds stay for inspection
	 * until the next ipm run that recovers. */
	ipm_rm_rf(build_dir);
	ipm_rm_rf(stage_dir);
	ipm_rm_rf(home_dir);
	ipm_error_clear();
done:
	if (log_fd >= 0)
		close(log_fd);
	ipm_snapshot_release(&before);
	env_release(&env);
	free(workdir);
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
 * extracted into the transaction's new store directory (recovery deletes
 * it, as it does a build's), then the same linkage check a built tree
 * passes.
 */
static int unpack_cached(struct build_result *out, struct ipm_ctx *ctx, const struct ipm_plan_item *it,
			 const char *store_dir)
{
	const char *name = it->entry.name;
	const struct ipm_bincache_choice *c = it->bincache;
	char *build_root = xasprintf("%s/build", ctx->cfg.home);
	char *store_root = xasprintf("%s/store", ctx->cfg.home);
	const char *forbidden[] = { build_root, store_root };
	char *prefix = ipm_path_absolute(ctx->cfg.prefix);
	int rc;

	memset(out, 0, sizeof(*out));
	if (strcmp(c->from, "local") == 0)
		ipm_log(IPM_LOG_INFO, "installing '%s' %s from the local binary cache ...", name, it->release->version);
	else
		ipm_log(IPM_LOG_INFO, "installing '%s' %s from binary cache '%s' ...", name, it->release->version,
			c->from);
	if ((rc = ipm_rm_rf(store_dir)) < 0 || (rc = ipm_bincache_extract(ctx, c, store_dir)) < 0 ||
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
	out->store_dir = xstrdup(store_dir);
done:
	if (rc < 0) {
		struct ipm_error_saved saved;
		ipm_error_save(&saved);
		ipm_linkage_release(&out->linkage);
		ipm_rm_rf(store_dir);
		ipm_error_restore(&saved);
	}
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

/* The item's store tree in store_dir: its binary when it has one (a build
 * when that fails), else a build, which is then kept in the binary caches. */
static int obtain_tree(struct build_result *b, struct ipm_ctx *ctx, const struct ipm_plan_item *it,
		       const char *store_dir)
{
	int rc;

	if (it->bincache && it->bincache->from) {
		rc = unpack_cached(b, ctx, it, store_dir);
		if (rc == 0 || rc == IPM_ECANCEL)
			return rc;
		drop_binary(it);
		if ((rc = ipm_fetch_source(&ctx->fetch, &it->source)) < 0)
			return rc;
	}
	if ((rc = build_item(b, ctx, it, store_dir)) == 0)
		ipm_bincache_after_build(ctx, it, b->method->name, b->store_dir);
	return rc;
}

/* ---- the package row ---- */

/* The row item it will have once b is linked: files are left to the
 * transaction, which walks the store tree. */
static int make_row(struct ipm_package_row *row, struct ipm_ctx *ctx, const struct ipm_plan_item *it,
		    const struct build_result *b)
{
	struct ipm_package_row old;
	int was_explicit = 0;

	memset(row, 0, sizeof(*row));
	memset(&old, 0, sizeof(old));
	if (ipm_db_package_get(&old, ctx->db, it->entry.name, 0) == 0) {
		was_explicit = old.explicit_install;
		ipm_package_row_release(&old);
	}
	ipm_error_clear();
	row->name = it->entry.name;
	row->version = it->release->version;
	row->registry = it->registry;
	row->guessed_entry = it->guessed_entry;
	row->entry = ipm_entry_to_json(&it->entry, it->release->version, &it->source);
	row->build_key = it->bincache ? it->bincache->key : NULL;
	row->source = ipm_source_describe(&it->source);
	row->resolved = it->source.kind == IPM_SOURCE_ARCHIVE ? it->source.sha256 : it->source.commit;
	row->method = b->method->name ? b->method->name : "default";
	row->store_dir = b->store_dir;
	row->prefix = ctx->cfg.prefix;
	row->explicit_install = it->explicit_install || was_explicit;
	row->installed_at = (int64_t)time(NULL);
	row->depends = xcalloc(it->entry.ndepends ? it->entry.ndepends : 1, sizeof(*row->depends));
	row->depend_constraints = xcalloc(it->entry.ndepends ? it->entry.ndepends : 1,
					  sizeof(*row->depend_constraints));
	for (size_t i = 0; i < it->entry.ndepends; i++) {
		row->depends[i] = it->entry.depends[i].name;
		row->depend_constraints[i] = it->entry.depends[i].constraint;
	}
	row->ndepends = it->entry.ndepends;
	row->provides = b->linkage.provides;
	row->nprovides = b->linkage.nprovides;
	row->needs = b->linkage.needs;
	row->nneeds = b->linkage.nneeds;
	return 0;
}

/* Frees what make_row allocated (the rest is borrowed). */
static void release_row(struct ipm_package_row *row)
{
	free(row->source);
	free(row->entry);
	free(row->depends);
	free(row->depend_constraints);
	memset(row, 0, sizeof(*row));
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

void ipm_plan_outcome_release(struct ipm_plan_outcome *o)
{
	if (!o)
		return;
	free(o->items);
	free(o->reason);
	memset(o, 0, sizeof(*o));
}

int ipm_plan_run(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	return ipm_plan_execute(ctx, plan, NULL);
}

/* ---- running a plan: fetches and builds at the same time ---- */

/*
 * Where each item of a plan is (run_items): an item to install is fetched
 * (its binary when a binary cache has it, else its source), then built, or
 * its binary unpacked, once its dependencies in the plan are linked, then
 * linked. Each fetch and each build runs in a worker.
 */
enum item_state {
	I_SKIP,      /* installed already */
	I_FETCH,     /* its binary or source is to be fetched */
	I_FETCHING,
	I_READY,     /* fetched: waits for its dependencies and a share of the jobs */
	I_BUILDING,
	I_LINKED,
	I_ENDED,     /* stopped without being linked: the plan failed */
};

/* An item's fetch, then its build: the job count the build may use (its
 * share of the budget), the tree it builds into. */
struct item_job {
	struct ipm_ctx *ctx;
	const struct ipm_plan_item *it;
	int binary;          /* it comes from a binary cache */
	char *store_dir;
	int jobs;
	int extra;           /* started with the budget all given out: the one build beyond it */
	char *tag;           /* the name its build's output lines are shown under, or NULL */
};

/* In a worker: the item's binary downloaded and verified into the local
 * cache (ipm_bincache_fetch), or its source fetched. */
static int fetch_job_run(void *opaque)
{
	struct item_job *j = opaque;
	const struct ipm_plan_item *it = j->it;
	int rc;

	if (j->binary)
		return ipm_bincache_fetch(j->ctx, it->bincache);
	ipm_log(IPM_LOG_INFO, "fetching '%s' %s ...", it->entry.name, it->release->version);
	rc = ipm_fetch_source(&j->ctx->fetch, &it->source);
	if (rc < 0 && ipm_interrupted())
		rc = ipm_interrupt_check();   /* the transfer stopped because of Ctrl-C */
	else if (rc < 0)
		ipm_error_prefix("fetching '%s' %s", it->entry.name, it->release->version);
	return rc;
}

static const char *fetch_key(const struct ipm_source *s)
{
	if (s->kind == IPM_SOURCE_ARCHIVE)
		return s->sha256 && *s->sha256 ? s->sha256 : s->url ? s->url : "";
	return s->git ? s->git : "";
}

/*
 * 1 when item i's source (a mirror, a download) is in use by a worker: a
 * fetch of it, or the build of a binary, which fetches the source when the
 * binary turns out unusable. Items with the same source share a cache
 * entry: they fetch it one after the other.
 */
static int source_busy(const struct ipm_plan *plan, const struct item_job *jobs, const char *state, size_t i)
{
	const struct ipm_source *s = &plan->items[i].source;

	for (size_t k = 0; k < plan->n; k++)
		if (k != i && ((state[k] == I_FETCHING && !jobs[k].binary) || (state[k] == I_BUILDING && jobs[k].binary)) &&
		    plan->items[k].source.kind == s->kind && strcmp(fetch_key(&plan->items[k].source), fetch_key(s)) == 0)
			return 1;
	return 0;
}

/* In a worker: obtain_tree, handing back what linking needs: the method's
 * index, the number of sonames provided, those, then those needed. */
static int build_job_run(void *opaque)
{
	struct item_job *j = opaque;
	struct build_result b;
	char num[32];
	int rc;

	j->ctx->cfg.jobs = j->jobs;   /* this process's copy: build_env reads it */
	memset(&b, 0, sizeof(b));
	if ((rc = obtain_tree(&b, j->ctx, j->it, j->store_dir)) < 0)
		return rc;
	snprintf(num, sizeof(num), "%td", b.method - j->it->entry.methods);
	ipm_worker_return(num);
	snprintf(num, sizeof(num), "%zu", b.linkage.nprovides);
	ipm_worker_return(num);
	for (size_t k = 0; k < b.linkage.nprovides; k++)
		ipm_worker_return(b.linkage.provides[k]);
	for (size_t k = 0; k < b.linkage.nneeds; k++)
		ipm_worker_return(b.linkage.needs[k]);
	build_result_release(&b);
	return 0;
}

/* The build_result that a build job's worker handed back. */
static int build_result_of(struct build_result *b, const struct item_job *j, const struct ipm_worker *w)
{
	size_t m, np;

	memset(b, 0, sizeof(*b));
	if (w->nvalues < 2 || (m = strtoul(w->values[0], NULL, 10)) >= j->it->entry.nmethods ||
	    (np = strtoul(w->values[1], NULL, 10)) > w->nvalues - 2)
		return ipm_error_set(IPM_ERROR, "the build of '%s' reported a malformed result", j->it->entry.name);
	b->method = &j->it->entry.methods[m];
	b->store_dir = xstrdup(j->store_dir);
	b->linkage.nprovides = np;
	b->linkage.provides = xcalloc(np + 1, sizeof(char *));
	for (size_t k = 0; k < np; k++)
		b->linkage.provides[k] = xstrdup(w->values[2 + k]);
	b->linkage.nneeds = w->nvalues - 2 - np;
	b->linkage.needs = xcalloc(b->linkage.nneeds + 1, sizeof(char *));
	for (size_t k = 0; k < b->linkage.nneeds; k++)
		b->linkage.needs[k] = xstrdup(w->values[2 + np + k]);
	return 0;
}

/* Checks a built item and links it into the prefix, in ipm itself: the
 * transaction and the database are this process's alone. */
static int link_built(struct ipm_ctx *ctx, struct ipm_txn *txn, const struct ipm_plan *plan, const char *skip,
		      size_t i, const struct item_job *j, const struct ipm_worker *w)
{
	const struct ipm_plan_item *it = &plan->items[i];
	struct build_result b;
	struct ipm_package_row row;
	int rc;

	memset(&row, 0, sizeof(row));
	rc = build_result_of(&b, j, w);
	if (rc == 0)
		rc = check_sonames(ctx, plan, skip, i, &b);
	if (rc == 0)
		rc = make_row(&row, ctx, it, &b);
	if (rc == 0) {
		int lock = prefix_lock(ctx);
		rc = ipm_txn_switch(txn, it->entry.name, &row);
		prefix_unlock(lock);
	}
	if (rc == 0)
		ipm_log(IPM_LOG_DEBUG, "linked '%s' %s", it->entry.name, it->release->version);
	release_row(&row);
	free(b.store_dir);
	xfree_strv(b.linkage.provides, b.linkage.nprovides);
	xfree_strv(b.linkage.needs, b.linkage.nneeds);
	return rc;
}

/* 1 when every dependency of item i in the plan is linked (or was
 * installed already): it builds against them in the prefix. */
static int deps_linked(const struct ipm_plan *plan, const char *state, size_t i)
{
	const struct ipm_plan_item *it = &plan->items[i];

	for (size_t d = 0; d < it->entry.ndepends; d++)
		for (size_t k = 0; k < plan->n; k++)
			if (k != i && state[k] != I_SKIP && state[k] != I_LINKED &&
			    strcmp(plan->items[k].entry.name, it->entry.depends[d].name) == 0)
				return 0;
	return 1;
}

/* The plan's first failure: the fetches and builds still running are
 * stopped, each said so (what they would bring is undone with the plan
 * anyway). */
static void stop_running(const struct ipm_plan *plan, struct ipm_worker *ws, const char *state, size_t failed)
{
	struct ipm_buf names = IPM_BUF_INIT;
	size_t nnames = 0;

	for (size_t k = 0; k < plan->n; k++) {
		const struct ipm_plan_item *it = &plan->items[k];
		if ((state[k] != I_FETCHING && state[k] != I_BUILDING) || ws[k].done)
			continue;
		if (state[k] == I_FETCHING)
			ipm_log(IPM_LOG_INFO, "stopped fetching '%s' %s: the plan failed", it->entry.name,
				it->release->version);
		else
			ipm_buf_addf(&names, "%s'%s'", nnames++ ? ", " : "", it->entry.name);
		ipm_worker_cancel(&ws[k]);
	}
	if (nnames)
		ipm_log(IPM_LOG_INFO, "'%s' failed: cancelling the build%s of %s", plan->items[failed].entry.name,
			nnames > 1 ? "s" : "", names.ptr);
	ipm_buf_release(&names);
}

/*
 * Runs the items not skipped (state I_FETCH) to I_LINKED: fetches, at most
 * ipm_worker_fetch_limit() at a time in the plan's order (dependencies first), and
 * builds, each in a worker as soon as its own fetch is done and its
 * dependencies in the plan are linked, while other fetches still run; each
 * is linked in ipm as soon as it is built. A binary that cannot be fetched
 * is said in one line, and its item fetches its source and builds.
 *
 * The job budget (the config's "jobs", the number of CPUs by default) is
 * split: a build starts only with a share of at least one job, the free
 * jobs divided among the items whose dependencies are linked, fetched or
 * still fetching (so the first fetched does not take what the others
 * will need a moment later), as IPM_JOBS; its share is free again when it
 * ends. Recipes pass IPM_JOBS to make -j, cmake and ninja, which a GNU
 * make jobserver would not reach (an explicit -j in a sub-make turns the
 * jobserver off), so a split is what every recipe honours; the cost is
 * that a build started alone keeps its share while others wait. One build
 * more may run when the budget is all given out, with one job: builds use
 * fewer cores than their share for much of their time (configure, links,
 * single-threaded tools), and three builds of one core each on two cores
 * finish together a third sooner than two, then one alone. Fetches take
 * none of it: they wait on the network or the disk.
 *
 * With more than one item to install, each line of a build's output
 * (IPM_LOG_OUTPUT, shown with -v) comes as "NAME | line", the names
 * padded to one width, so that the lines of builds running together can
 * be told apart.
 *
 * The first failure, of a fetch or a build, stops the plan: nothing starts
 * after it, and the fetches and builds still running are cancelled (their
 * result would be undone with the plan anyway), each said so. *failed: the
 * failing item.
 */
static int run_items(size_t *failed, struct ipm_ctx *ctx, struct ipm_txn *txn, const struct ipm_plan *plan,
		     char *state, const char *skip, struct ipm_plan_outcome *out)
{
	size_t n = plan->n ? plan->n : 1;
	struct ipm_worker *ws = xcalloc(n, sizeof(*ws));
	struct item_job *jobs = xcalloc(n, sizeof(*jobs));
	int budget = ctx->cfg.jobs > 0 ? ctx->cfg.jobs : 1, free_jobs = budget;
	size_t fetching = 0, building = 0, fetch_limit = ipm_worker_fetch_limit(), todo = 0, width = 0;
	int rc = 0, stop = 0, extra_busy = 0;

	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		ws[i].fd = -1;
		jobs[i].ctx = ctx;
		jobs[i].it = it;
		jobs[i].binary = it->bincache && it->bincache->from;
		if (state[i] != I_SKIP) {
			todo++;
			if (strlen(it->entry.name) > width)
				width = strlen(it->entry.name);
		}
	}
	for (size_t i = 0; todo > 1 && i < plan->n; i++)
		if (state[i] != I_SKIP)
			jobs[i].tag = xasprintf("%-*s", (int)width, plan->items[i].entry.name);

	for (;;) {
		size_t nready = 0, failing = IPM_PLAN_NONE_FAILED;

		for (size_t i = 0; !stop && fetching < fetch_limit && i < plan->n; i++) {
			if (state[i] != I_FETCH || (!jobs[i].binary && source_busy(plan, jobs, state, i)))
				continue;
			if ((rc = ipm_interrupt_check()) < 0 ||
			    (rc = ipm_worker_start(&ws[i], fetch_job_run, &jobs[i])) < 0) {
				state[i] = I_ENDED;
				failing = i;
				break;
			}
			state[i] = I_FETCHING;
			fetching++;
		}
		for (size_t i = 0; !stop && i < plan->n; i++)
			nready += (state[i] == I_FETCH || state[i] == I_FETCHING || state[i] == I_READY) &&
				  deps_linked(plan, state, i);
		for (size_t i = 0; !stop && failing == IPM_PLAN_NONE_FAILED && (free_jobs > 0 || !extra_busy) &&
				   i < plan->n;
		     i++) {
			const struct ipm_plan_item *it = &plan->items[i];
			size_t share_of = nready < (size_t)free_jobs ? nready : (size_t)free_jobs;

			if (state[i] != I_READY || !deps_linked(plan, state, i) ||
			    (jobs[i].binary && source_busy(plan, jobs, state, i)))
				continue;
			jobs[i].extra = free_jobs == 0;
			jobs[i].jobs = free_jobs / (int)(share_of ? share_of : 1);
			if (jobs[i].jobs < 1)
				jobs[i].jobs = 1;
			if ((rc = ipm_interrupt_check()) < 0 ||
			    (rc = ipm_txn_new_store(&jobs[i].store_dir, txn, it->entry.name, it->release->version)) < 0 ||
			    (rc = ipm_worker_start(&ws[i], build_job_run, &jobs[i])) < 0) {
				state[i] = I_ENDED;
				failing = i;
				break;
			}
			ws[i].output_tag = jobs[i].tag;
			state[i] = I_BUILDING;
			if (jobs[i].extra)
				extra_busy = 1;
			else
				free_jobs -= jobs[i].jobs;
			nready--;
			building++;
		}
		if (failing == IPM_PLAN_NONE_FAILED && !fetching && !building)
			break;
		if (failing == IPM_PLAN_NONE_FAILED) {
			ipm_worker_wait(ws, plan->n, 100);
			if (ipm_interrupted() && !stop) {
				stop = 1;
				for (size_t i = 0; i < plan->n; i++)
					if (state[i] == I_FETCHING || state[i] == I_BUILDING)
						ipm_worker_cancel(&ws[i]);
			}
		}
		for (size_t i = 0; failing == IPM_PLAN_NONE_FAILED && i < plan->n; i++) {
			const struct ipm_plan_item *it = &plan->items[i];
			int lrc;

			if ((state[i] != I_FETCHING && state[i] != I_BUILDING) || !ws[i].done)
				continue;
			if (state[i] == I_FETCHING) {
				fetching--;
				state[i] = stop ? I_ENDED : I_READY;
				if (ws[i].rc < 0 && !stop && jobs[i].binary && !ipm_interrupted()) {
					/* the binary cannot be had: the item builds */
					ipm_worker_error(&ws[i]);
					drop_binary(it);
					jobs[i].binary = 0;
					state[i] = I_FETCH;
				} else if (ws[i].rc < 0 && !stop) {
					rc = ipm_worker_error(&ws[i]);
					state[i] = I_ENDED;
					failing = i;
				}
				ipm_worker_release(&ws[i]);
				continue;
			}
			state[i] = I_ENDED;
			building--;
			if (jobs[i].extra)
				extra_busy = 0;
			else
				free_jobs += jobs[i].jobs;
			if (ws[i].rc >= 0 && !stop) {
				if ((lrc = link_built(ctx, txn, plan, skip, i, &jobs[i], &ws[i])) == 0) {
					state[i] = I_LINKED;
					out->items[i] = IPM_ITEM_BUILT;
					continue;
				}
			} else if (ws[i].rc >= 0) {
				/* built while the plan was failing: never linked */
				out->items[i] = IPM_ITEM_UNDONE;
				continue;
			} else if (stop) {
				out->items[i] = IPM_ITEM_CANCELLED;
				continue;
			} else {
				lrc = ipm_worker_error(&ws[i]);
			}
			rc = lrc;
			failing = i;
		}
		if (failing != IPM_PLAN_NONE_FAILED) {
			/* the first failure */
			*failed = failing;
			stop_running(plan, ws, state, failing);
			stop = 1;
		}
	}
	if (ipm_interrupted()) {
		rc = ipm_interrupt_check();
		if (*failed == IPM_PLAN_NONE_FAILED)
			for (size_t i = 0; i < plan->n && *failed == IPM_PLAN_NONE_FAILED; i++)
				if (state[i] != I_SKIP && state[i] != I_LINKED)
					*failed = i;
	}
	for (size_t i = 0; rc == 0 && i < plan->n; i++)
		if (state[i] != I_SKIP && state[i] != I_LINKED) {
			/* never reached: what it depends on was not built either */
			rc = ipm_error_set(IPM_ERROR, "'%s' %s was not built: the plan's order is broken",
					   plan->items[i].entry.name, plan->items[i].release->version);
			*failed = i;
		}
	for (size_t i = 0; i < plan->n; i++) {
		ipm_worker_release(&ws[i]);
		free(jobs[i].store_dir);
		free(jobs[i].tag);
	}
	free(jobs);
	free(ws);
	return rc;
}

int ipm_plan_execute(struct ipm_ctx *ctx, const struct ipm_plan *plan, struct ipm_plan_outcome *out)
{
	struct ipm_plan_outcome local = { 0 };
	struct ipm_txn *txn = NULL;
	char *skip = NULL, *state = NULL;
	size_t failed = IPM_PLAN_NONE_FAILED;
	int rc;

	if (!out)
		out = &local;
	memset(out, 0, sizeof(*out));
	out->items = xcalloc(plan->n ? plan->n : 1, sizeof(*out->items));
	out->failed = IPM_PLAN_NONE_FAILED;
	if ((rc = ipm_plan_check_sandbox(ctx)) < 0)
		goto done;
	/* ipm and its workers stop on Ctrl-C at their next check */
	ipm_interrupt_catch();
	skip = xcalloc(plan->n ? plan->n : 1, 1);
	state = xcalloc(plan->n ? plan->n : 1, 1);

	for (size_t i = 0; i < plan->n; i++) {
		skip[i] = plan->items[i].installed ||
			  (!plan->items[i].rebuild && installed_here(ctx, &plan->items[i]));
		state[i] = skip[i] ? I_SKIP : I_FETCH;
		out->items[i] = skip[i] ? IPM_ITEM_SKIPPED : IPM_ITEM_PENDING;
	}

	/* build keys, when the caller did not ask the binary caches */
	if ((rc = ipm_bincache_keys(ctx, plan)) < 0)
		goto done;
	for (size_t i = 0; i < plan->n; i++) {
		if (skip[i])
			continue;
		if ((rc = ipm_txn_check_unfinished(ctx, plan->items[i].entry.name)) < 0 ||
		    (rc = ipm_interrupt_check()) < 0) {
			failed = i;
			goto fail;
		}
	}

	/*
	 * One transaction for the whole plan. Each item is built as soon as
	 * it is fetched and its dependencies are in place, then linked into
	 * the prefix at once, since its dependents build against the prefix;
	 * the database changes only when all of them are in place. Any
	 * failure (a fetch's too, while others build) or Ctrl-C undoes every
	 * link made and deletes what was built: the prefix and the database
	 * are as before the plan.
	 */
	if ((rc = ipm_txn_begin(&txn, ctx)) < 0)
		goto fail;
	if ((rc = run_items(&failed, ctx, txn, plan, state, skip, out)) < 0)
		goto fail;
	if ((rc = ipm_interrupt_check()) < 0)
		goto fail;
	if (ipm_txn_size(txn) > 0 && (rc = ipm_txn_commit(&out->txn, txn)) < 0)
		goto fail;
	for (size_t i = 0; i < plan->n; i++)
		if (out->items[i] == IPM_ITEM_BUILT)
			out->items[i] = IPM_ITEM_INSTALLED;
	goto done;
fail:
	if (failed < plan->n) {
		out->failed = failed;
		out->items[failed] = IPM_ITEM_FAILED;
	}
	out->reason = xstrdup(ipm_error_message());
	if (txn)
		ipm_txn_abort(txn);
	for (size_t k = 0; k < plan->n; k++)
		if (out->items[k] == IPM_ITEM_BUILT)
			out->items[k] = IPM_ITEM_UNDONE;
done:
	ipm_txn_free(txn);
	ipm_plan_outcome_release(&local);
	free(state);
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

int ipm_remove_set(struct ipm_ctx *ctx, const char *const *names, size_t n)
{
	struct ipm_txn *txn = NULL;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct ipm_package_row row;
		memset(&row, 0, sizeof(row));
		rc = ipm_db_package_get(&row, ctx->db, names[i], 0);
		if (rc == IPM_ENOTFOUND) {
			rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", names[i]);
			ipm_error_hint("'ipm list' shows what is installed");
		}
		ipm_package_row_release(&row);
		if (rc == 0)
			rc = ipm_txn_check_unfinished(ctx, names[i]);
	}
	if (rc < 0 || (rc = ipm_interrupt_check()) < 0)
		return rc;
	/* The links go package by package, the rows all at once: a failure
	 * (or Ctrl-C, or a kill) on the way puts every link back. The store
	 * trees stay, for rollback; `ipm clean` deletes them. */
	if ((rc = ipm_txn_begin(&txn, ctx)) < 0)
		return rc;
	rc = ipm_txn_switch_many(txn, names, NULL, n);
	if (rc == 0)
		rc = ipm_interrupt_check();
	if (rc == 0)
		rc = ipm_txn_commit(NULL, txn);
	ipm_txn_free(txn);
	return rc;
}

int ipm_remove(struct ipm_ctx *ctx, const char *name)
{
	return ipm_remove_set(ctx, &name, 1);
}

/* ---- recovery ---- */

int ipm_recover(struct ipm_ctx *ctx)
{
	char *build_root = xasprintf("%s/build", ctx->cfg.home);

	ipm_txn_recover(ctx);
	/* Build directories belong to no running ipm: we hold the lock. */
	if (ipm_path_exists(build_root) && ipm_rm_rf(build_root) < 0) {
		ipm_log(IPM_LOG_WARN, "cannot clean up old build trees: %s", ipm_error_message());
		ipm_error_clear();
	}
	free(build_root);
	return 0;
}
