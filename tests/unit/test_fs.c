/*
 * File-system helpers: ipm_rm_rf deletes what a recipe made read-only, as
 * its owner; ipm_file_write_atomic and ipm_dir_sync.
 *
 * Root ignores permissions, so the read-only cases run in a child that has
 * become "nobody" (uid 65534) when the test runs as root; as any other user
 * they run as that user.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"
#include "test_util.h"

#define NOBODY 65534

static char *root;

/* chown -R to nobody when root (so that the child owns the tree). */
static void give_to_nobody(const char *path)
{
	if (geteuid() == 0) {
		char *cmd = xasprintf("chown -R %d:%d '%s'", NOBODY, NOBODY, path);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
}

static int setup(void **state)
{
	root = xstrdup("/tmp/ipm-test-fs-XXXXXX");
	assert_non_null(mkdtemp(root));
	/* nobody must reach what is inside, and may delete there */
	assert_int_equal(chmod(root, 0755), 0);
	give_to_nobody(root);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", root, root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(root);
	return 0;
}

/* Runs ipm_rm_rf(path) as an unprivileged user; its return value, or a
 * value above 0 when the child could not run. */
static int rm_rf_unprivileged(const char *path)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		     setresuid(NOBODY, NOBODY, NOBODY) < 0))
			_exit(100);
		/* a root directory that only root may enter (a chroot made by
		 * mktemp) keeps nobody out of everything: nothing to test */
		if (access(root, W_OK | X_OK) != 0)
			_exit(100);
		if (ipm_rm_rf(path) < 0) {
			fprintf(stderr, "# ipm_rm_rf: %s\n", ipm_error_message());
			_exit(1);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		return 101;
	return WEXITSTATUS(status) == 1 ? -1 : WEXITSTATUS(status);
}

/* A recipe's `chmod 555 dir` (and a directory without any permission) in a
 * tree ipm deletes: gone, as its owner. */
static void test_rm_rf_read_only_dirs(void **state)
{
	char *tree = xasprintf("%s/build", root);
	char *ro = xasprintf("%s/junk/ro", tree);
	char *none = xasprintf("%s/junk/none", tree);
	char *path;
	int rc;

	assert_int_equal(ipm_mkdir_p(ro, 0755), 0);
	assert_int_equal(ipm_mkdir_p(none, 0755), 0);
	path = xasprintf("%s/file", ro);
	tu_write_file(path, "x\n");
	free(path);
	path = xasprintf("%s/deeper", ro);
	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
	path = xasprintf("%s/deeper/f", ro);
	tu_write_file(path, "y\n");
	free(path);
	path = xasprintf("%s/f", none);
	tu_write_file(path, "z\n");
	free(path);
	/* a symlink to a directory outside is removed, never followed */
	path = xasprintf("%s/junk/out", tree);
	assert_int_equal(symlink(root, path), 0);
	free(path);
	give_to_nobody(tree);
	path = xasprintf("%s/deeper", ro);
	assert_int_equal(chmod(path, 0555), 0);
	free(path);
	assert_int_equal(chmod(ro, 0555), 0);
	assert_int_equal(chmod(none, 0), 0);
	path = xasprintf("%s/junk", tree);
	assert_int_equal(chmod(path, 0555), 0);
	free(path);
	assert_int_equal(chmod(tree, 0555), 0);

	rc = rm_rf_unprivileged(tree);
	if (rc == 100)
		skip();
	assert_int_equal(rc, 0);
	assert_false(ipm_path_exists(tree));
	assert_true(ipm_is_dir(root));

	free(tree);
	free(ro);
	free(none);
}

/* What the user cannot delete stays, with the path in the message. */
static void test_rm_rf_not_owner(void **state)
{
	char *tree = xasprintf("%s/theirs", root);
	char *inner = xasprintf("%s/locked", tree);
	char *path = xasprintf("%s/f", inner);
	int rc;

	if (geteuid() != 0) {
		skip();
	}
	assert_int_equal(ipm_mkdir_p(inner, 0755), 0);
	tu_write_file(path, "x\n");
	give_to_nobody(tree);
	/* root's directory inside nobody's tree: nobody cannot empty it */
	assert_int_equal(chown(inner, 0, 0), 0);
	assert_int_equal(chmod(inner, 0555), 0);
	rc = rm_rf_unprivileged(tree);
	if (rc == 100)
		skip();
	assert_int_equal(rc, -1);
	assert_true(ipm_path_exists(path));
	free(tree);
	free(inner);
	free(path);
}

static void test_write_atomic_and_sync(void **state)
{
	char *path = xasprintf("%s/file.json", root);
	char *text = NULL;

	assert_int_equal(ipm_file_write_atomic(path, "one", 3), 0);
	assert_int_equal(ipm_file_write_atomic(path, "two", 3), 0);
	assert_int_equal(ipm_file_read(&text, NULL, path), 0);
	assert_string_equal(text, "two");
	free(text);
	text = xasprintf("%s.tmp", path);
	assert_false(ipm_path_exists(text));
	free(text);
	assert_int_equal(ipm_dir_sync(root), 0);
	/* a directory gone meanwhile has nothing left to sync */
	text = xasprintf("%s/gone", root);
	assert_int_equal(ipm_dir_sync(text), 0);
	free(text);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rm_rf_read_only_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_rf_not_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_and_sync, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
