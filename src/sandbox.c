/*
 * Recipe steps contained with bubblewrap: finding it, proving it works here,
 * and the argv of a contained step.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/sandbox.h"
#include "ipm/xalloc.h"

struct argv_buf {
	char **v;
	size_t n, alloc;
};

static void arg(struct argv_buf *a, const char *s)
{
	XGROW(a->v, a->alloc, a->n + 2);
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void arg2(struct argv_buf *a, const char *opt, const char *path)
{
	arg(a, opt);
	arg(a, path);
}

static void arg3(struct argv_buf *a, const char *opt, const char *from, const char *to)
{
	arg(a, opt);
	arg(a, from);
	arg(a, to);
}

/* The namespaces and the base file system of every contained process. */
static void base_args(struct argv_buf *a, const struct ipm_sandbox *sb)
{
	arg(a, sb->bwrap);
	if (!sb->as_root)
		arg(a, "--unshare-user");
	arg(a, "--unshare-ipc");
	arg(a, "--unshare-pid");
	arg(a, "--unshare-net");
	arg(a, "--unshare-uts");
	arg(a, "--unshare-cgroup-try");
	arg(a, "--die-with-parent");
	arg(a, "--new-session");
	arg3(a, "--ro-bind", "/", "/");
	arg2(a, "--dev", "/dev");
	arg2(a, "--proc", "/proc");
	arg2(a, "--tmpfs", "/tmp");
}

static char *find_on_path(const char *tool)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = xstrdup(path);
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char *candidate = xasprintf("%s/%s", *dir ? dir : ".", tool);
		if (access(candidate, X_OK) == 0)
			found = candidate;
		else
			free(candidate);
	}
	free(copy);
	return found;
}

/* Runs argv with no output; its exit status, or -1. */
static int run_quietly(char **argv)
{
	pid_t pid = fork();
	int status = 0;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* What a remembered success is valid for: this bwrap, this user, this
 * boot (a reboot may bring another kernel or other sysctls). */
static char *memo_key(const char *bwrap, int as_root)
{
	char *boot = NULL;
	char *key;

	if (ipm_file_read(&boot, NULL, "/proc/sys/kernel/random/boot_id") < 0) {
		ipm_error_clear();
		boot = xstrdup("?\n");
	}
	key = xasprintf("bwrap %s\nuid %u root %d\nboot %s", bwrap, (unsigned)geteuid(), as_root, boot);
	free(boot);
	return key;
}

int ipm_sandbox_probe(struct ipm_sandbox *out, const char *bwrap_path, const char *memo)
{
	struct argv_buf a = { 0 };
	const char *env = getenv("IPM_BWRAP");
	char *bwrap, *key = NULL, *known = NULL;

	memset(out, 0, sizeof(*out));
	out->as_root = geteuid() == 0;
	if (bwrap_path && *bwrap_path)
		bwrap = xstrdup(bwrap_path);
	else if (env && *env)
		bwrap = xstrdup(env);
	else
		bwrap = find_on_path("bwrap");
	if (!bwrap || access(bwrap, X_OK) != 0) {
		out->why_not = xasprintf("bubblewrap ('%s') is not installed", bwrap ? bwrap : "bwrap");
		free(bwrap);
		return 0;
	}
	out->bwrap = bwrap;
	key = memo_key(bwrap, out->as_root);
	if (memo && ipm_file_read(&known, NULL, memo) == 0 && strcmp(known, key) == 0)
		goto done;
	ipm_error_clear();
	base_args(&a, out);
	arg(&a, "--");
	arg(&a, "/bin/true");
	if (run_quietly(a.v) != 0) {
		out->why_not = xasprintf("'%s' cannot create the namespaces a step needs here%s", bwrap,
					 out->as_root ? "" : " (user namespaces may be disabled)");
		free(out->bwrap);
		out->bwrap = NULL;
		if (memo)
			unlink(memo);
	} else if (memo && ipm_file_write_atomic(memo, key, strlen(key)) < 0) {
		ipm_error_clear();
	}
done:
	xfree_strv(a.v, a.n);
	free(known);
	free(key);
	return 0;
}

void ipm_sandbox_release(struct ipm_sandbox *sb)
{
	free(sb->bwrap);
	free(sb->why_not);
	memset(sb, 0, sizeof(*sb));
}

char **ipm_sandbox_argv(size_t *n, const struct ipm_sandbox *sb, const struct ipm_sandbox_step *step,
			const char *cmd)
{
	struct argv_buf a = { 0 };

	base_args(&a, sb);
	/* the user's files out of sight; what the step needs from under them
	 * comes back below, mounted later and so on top */
	if (step->hide && strcmp(step->hide, "/") != 0 && ipm_is_dir(step->hide))
		arg2(&a, "--tmpfs", step->hide);
	for (size_t i = 0; i < step->nreadable; i++)
		if (ipm_path_exists(step->readable[i]))
			arg3(&a, "--ro-bind", step->readable[i], step->readable[i]);
	for (size_t i = 0; i < step->nwritable; i++)
		if (ipm_path_exists(step->writable[i]))
			arg3(&a, "--bind", step->writable[i], step->writable[i]);
	arg2(&a, "--chdir", step->workdir);
	arg(&a, "--");
	arg(&a, "/bin/sh");
	arg(&a, "-c");
	arg(&a, cmd);
	*n = a.n;
	return a.v;
}
