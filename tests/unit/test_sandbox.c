/*
 * The sandbox: a missing bubblewrap is said, not fatal; the argv of a step
 * hides HOME before it binds what the step needs back (order matters to
 * bwrap), binds only paths that exist, and, when bwrap works here, a
 * contained step really has no network and no HOME.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipm/fs.h"
#include "ipm/sandbox.h"
#include "ipm/xalloc.h"
#include "test_util.h"

static long index_of(char **argv, size_t n, const char *a, const char *b)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (strcmp(argv[i], a) == 0 && (!b || strcmp(argv[i + 1], b) == 0))
			return (long)i;
	return -1;
}

static void test_missing_bwrap_is_said(void **state)
{
	struct ipm_sandbox sb;
	(void)state;

	assert_int_equal(ipm_sandbox_probe(&sb, "/nonexistent/bwrap", NULL), 0);
	assert_null(sb.bwrap);
	assert_string_equal(sb.why_not, "bubblewrap ('/nonexistent/bwrap') is not installed");
	ipm_sandbox_release(&sb);
}

static void test_argv_order(void **state)
{
	char *root = tu_isolated_root("sandbox");
	char *home = xasprintf("%s/userhome", root);
	char *build = xasprintf("%s/userhome/ipm/build/x", root);
	char *missing = xasprintf("%s/missing", root);
	const char *writable[] = { build, missing };
	const char *readable[] = { home };
	struct ipm_sandbox sb = { xstrdup("/usr/bin/bwrap"), NULL, 0 };
	struct ipm_sandbox_step step = { build, writable, 2, readable, 1, home };
	char **argv;
	size_t n;
	(void)state;

	assert_int_equal(ipm_mkdir_p(build, 0755), 0);
	argv = ipm_sandbox_argv(&n, &sb, &step, "make install");
	assert_null(argv[n]);
	assert_string_equal(argv[0], "/usr/bin/bwrap");
	assert_true(index_of(argv, n, "--unshare-user", NULL) > 0);   /* not root */
	assert_true(index_of(argv, n, "--unshare-net", NULL) > 0);
	assert_true(index_of(argv, n, "--unshare-pid", NULL) > 0);
	assert_true(index_of(argv, n, "--ro-bind", "/") > 0);
	assert_true(index_of(argv, n, "--tmpfs", "/tmp") > 0);
	/* HOME hidden first, then the build tree bound back on top */
	assert_true(index_of(argv, n, "--tmpfs", home) > 0);
	assert_true(index_of(argv, n, "--bind", build) > index_of(argv, n, "--tmpfs", home));
	assert_true(index_of(argv, n, "--bind", missing) < 0);
	assert_true(index_of(argv, n, "--chdir", build) > 0);
	assert_string_equal(argv[n - 3], "/bin/sh");
	assert_string_equal(argv[n - 1], "make install");
	xfree_strv(argv, n);

	/* root: no user namespace (a chroot refuses one) */
	sb.as_root = 1;
	argv = ipm_sandbox_argv(&n, &sb, &step, "true");
	assert_true(index_of(argv, n, "--unshare-user", NULL) < 0);
	xfree_strv(argv, n);

	ipm_sandbox_release(&sb);
	ipm_rm_rf(root);
	free(missing);
	free(build);
	free(home);
	free(root);
}

/* Runs argv, returns its exit status. */
static int run(char **argv)
{
	pid_t pid = fork();
	int status = 0;
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void test_contained_step(void **state)
{
	char *root = tu_isolated_root("sandbox-run");
	char *home = xasprintf("%s/userhome", root);
	char *build = xasprintf("%s/build", root);
	char *secret = xasprintf("%s/secret", home);
	char *memo;
	const char *writable[] = { build };
	struct ipm_sandbox sb;
	struct ipm_sandbox_step step = { build, writable, 1, NULL, 0, home };
	char *cmd;
	char **argv;
	size_t n;
	(void)state;

	memo = xasprintf("%s/memo", root);
	ipm_sandbox_probe(&sb, NULL, memo);
	if (!sb.bwrap) {
		ipm_sandbox_release(&sb);
		skip();
	}
	assert_int_equal(ipm_mkdir_p(build, 0755), 0);
	assert_int_equal(ipm_mkdir_p(home, 0755), 0);
	tu_write_file(secret, "secret\n");
	/* the build tree is writable, HOME is gone, the root is read-only */
	cmd = xasprintf("echo ok > built && ! cat '%s' && ! touch /usr/ipm-sandbox-probe", secret);
	argv = ipm_sandbox_argv(&n, &sb, &step, cmd);
	assert_int_equal(run(argv), 0);
	xfree_strv(argv, n);
	free(cmd);
	{
		char *built = xasprintf("%s/built", build);
		assert_true(ipm_path_exists(built));
		free(built);
	}
	/* only a loopback of its own: no interface but lo */
	argv = ipm_sandbox_argv(&n, &sb, &step,
				"[ \"$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ')\" = lo ]");
	assert_int_equal(run(argv), 0);
	xfree_strv(argv, n);

	/* the success is remembered: a second probe trusts it */
	assert_true(ipm_path_exists(memo));
	ipm_sandbox_release(&sb);
	ipm_sandbox_probe(&sb, NULL, memo);
	assert_non_null(sb.bwrap);
	ipm_sandbox_release(&sb);
	free(memo);
	ipm_rm_rf(root);
	free(secret);
	free(build);
	free(home);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_bwrap_is_said),
		cmocka_unit_test(test_argv_order),
		cmocka_unit_test(test_contained_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
