/*
 * Archive extraction faults: a member that cannot be written (the error
 * message once read a freed name: AddressSanitizer catches it), and hard
 * links to symbolic links, which the link checks must see through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"
#include "test_tar.h"

static char *tmp_root;
static int tmp_counter;

static char *fresh_dir(const char *what)
{
	char *dir = xasprintf("%s/%s-%d", tmp_root, what, ++tmp_counter);
	assert_int_equal(ipm_mkdir_p(dir, 0755), 0);
	return dir;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* A tar archive of the members, in a fresh directory. */
static char *make_archive(const struct tu_member *m, size_t n)
{
	char *dir = fresh_dir("archive");
	char *path = xasprintf("%s/a.tar", dir);
	tu_write_tar(path, m, n, 0);
	free(dir);
	return path;
}

/* "a" a file, then "a/b": the second member cannot be written. The message
 * names the member (it was built from the name libarchive had just freed). */
static void test_extract_failure_names_member(void **state)
{
	const struct tu_member m[] = { { "a", 'f', "file\n" }, { "a/b", 'f', "under a file\n" } };
	char *archive = make_archive(m, 2);
	char *dest = fresh_dir("dest");
	int rc = ipm_archive_extract(archive, dest, 1);

	assert_true(rc < 0);
	if (!strstr(ipm_error_message(), "cannot extract 'a/b'"))
		fail_msg("message '%s' does not name 'a/b'", ipm_error_message());
	free(dest);
	free(archive);
}

/* Extracting fails with IPM_EVERIFY naming `bad`, with nothing written, in
 * the destination or beside it. */
static void expect_refused(const struct tu_member *m, size_t n, const char *bad)
{
	char *archive = make_archive(m, n);
	char *outer = fresh_dir("outer");
	char *dest = xasprintf("%s/dest", outer);
	char *quoted = xasprintf("'%s'", bad);

	assert_int_equal(ipm_mkdir_p(dest, 0755), 0);
	assert_int_equal(ipm_archive_extract(archive, dest, 1), IPM_EVERIFY);
	if (!strstr(ipm_error_message(), quoted))
		fail_msg("message '%s' does not name %s", ipm_error_message(), quoted);
	assert_int_equal(count_entries(dest), 0);
	assert_int_equal(count_entries(outer), 1);
	free(quoted);
	free(dest);
	free(outer);
	free(archive);
}

/* "top/d/l" -> ".." stays inside; a hard link "top/h" to it is a symlink
 * ".." one level higher: the destination's parent. */
static void test_hardlink_to_symlink(void **state)
{
	const struct tu_member m[] = {
		{ "top/d/f", 'f', "x\n" }, { "top/d/l", 'l', ".." }, { "top/h", 'h', "top/d/l" },
	};
	expect_refused(m, 3, "top/h");
	/* the same, two levels up, and a file written through it */
	const struct tu_member m2[] = {
		{ "top/a/b/f", 'f', "x\n" }, { "top/a/b/l", 'l', "../.." },
		{ "top/h", 'h', "top/a/b/l" }, { "top/h/passwd", 'f', "evil\n" },
	};
	expect_refused(m2, 4, "top/h");
	/* no wrapper directory to strip */
	const struct tu_member m3[] = { { "d/l", 'l', ".." }, { "e", 'f', "x" }, { "h", 'h', "d/l" } };
	expect_refused(m3, 3, "h");
}

/* A hard link whose target lies under a symlink of the archive names a
 * file wherever that symlink points. */
static void test_hardlink_through_symlink(void **state)
{
	const struct tu_member m[] = {
		{ "top/f", 'f', "x\n" }, { "top/l", 'l', "." }, { "top/h", 'h', "top/l/f" },
	};
	expect_refused(m, 3, "top/h");
}

/* Hard links to files, and symlinks, stay fine. */
static void test_hardlink_to_file_still_works(void **state)
{
	const struct tu_member m[] = {
		{ "top/d/f", 'f', "x\n" }, { "top/d/l", 'l', "f" }, { "top/h", 'h', "top/d/f" },
	};
	char *archive = make_archive(m, 3);
	char *dest = fresh_dir("dest");
	char *path = xasprintf("%s/h", dest);
	struct stat st;

	assert_int_equal(ipm_archive_extract(archive, dest, 1), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_nlink, 2);
	free(path);
	free(dest);
	free(archive);
}

static int group_setup(void **state)
{
	tmp_root = xstrdup("/tmp/ipm-test-archive-XXXXXX");
	assert_non_null(mkdtemp(tmp_root));
	return 0;
}

static int group_teardown(void **state)
{
	ipm_rm_rf(tmp_root);
	free(tmp_root);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract_failure_names_member),
		cmocka_unit_test(test_hardlink_to_symlink),
		cmocka_unit_test(test_hardlink_through_symlink),
		cmocka_unit_test(test_hardlink_to_file_still_works),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
