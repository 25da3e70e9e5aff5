/*
 * Staging: snapshots name exactly what appeared (and take it away), the
 * staged prefix becomes the store tree and nothing outside it is accepted,
 * pkg-config files get their rpath once, and file contents are searched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/stage.h"
#include "ipm/xalloc.h"
#include "test_util.h"

static char *path_in(const char *root, const char *rel)
{
	return xasprintf("%s/%s", root, rel);
}

static void write_in(const char *root, const char *rel, const char *text)
{
	char *path = path_in(root, rel);
	char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(ipm_mkdir_p(dir, 0755), 0);
	tu_write_file(path, text);
	free(dir);
	free(path);
}

static char *read_in(const char *root, const char *rel)
{
	char *path = path_in(root, rel), *text = NULL;
	assert_int_equal(ipm_file_read(&text, NULL, path), 0);
	free(path);
	return text;
}

static void test_snapshot_names_and_removes_new_entries(void **state)
{
	char *root = tu_isolated_root("stage-snap");
	char *prefix = path_in(root, "prefix");
	struct ipm_snapshot snap;
	char **fresh = NULL;
	size_t n = 0;
	(void)state;

	write_in(prefix, "bin/old", "old\n");
	assert_int_equal(ipm_snapshot_take(&snap, prefix), 0);
	assert_true(snap.root_existed);
	write_in(prefix, "bin/new", "new\n");
	write_in(prefix, "share/pkg/README", "doc\n");
	assert_int_equal(ipm_snapshot_new_entries(&fresh, &n, &snap, prefix), 0);
	assert_int_equal(n, 4);
	assert_string_equal(fresh[0], "bin/new");
	assert_string_equal(fresh[1], "share");
	assert_string_equal(fresh[2], "share/pkg");
	assert_string_equal(fresh[3], "share/pkg/README");
	ipm_remove_entries(prefix, fresh, n);
	xfree_strv(fresh, n);
	assert_int_equal(ipm_snapshot_new_entries(&fresh, &n, &snap, prefix), 0);
	assert_int_equal(n, 0);
	free(fresh);
	{
		char *old = path_in(prefix, "bin/old");
		assert_true(ipm_path_exists(old));
		free(old);
	}
	ipm_snapshot_release(&snap);

	/* a prefix the recipe created: "." first, and it goes entirely */
	ipm_rm_rf(prefix);
	assert_int_equal(ipm_snapshot_take(&snap, prefix), 0);
	assert_false(snap.root_existed);
	write_in(prefix, "bin/x", "x\n");
	assert_int_equal(ipm_snapshot_new_entries(&fresh, &n, &snap, prefix), 0);
	assert_true(n >= 1);
	assert_string_equal(fresh[0], ".");
	ipm_remove_entries(prefix, fresh, n);
	assert_false(ipm_path_exists(prefix));
	xfree_strv(fresh, n);
	ipm_snapshot_release(&snap);

	ipm_rm_rf(root);
	free(prefix);
	free(root);
}

static void test_adopt_moves_the_staged_prefix(void **state)
{
	char *root = tu_isolated_root("stage-adopt");
	char *stage = path_in(root, "stage");
	char *prefix = path_in(root, "prefix");
	char *store = path_in(root, "store/pkg/1.0");
	char *staged_prefix = xasprintf("%s%s", stage, prefix);
	char *text;
	(void)state;

	write_in(staged_prefix, "lib/libx.a", "archive\n");
	assert_int_equal(ipm_stage_adopt(stage, prefix, store), 0);
	text = read_in(store, "lib/libx.a");
	assert_string_equal(text, "archive\n");
	free(text);
	assert_false(ipm_path_exists(staged_prefix));

	/* nothing staged */
	ipm_rm_rf(store);
	assert_int_equal(ipm_stage_adopt(stage, prefix, store), IPM_ENOTFOUND);
	ipm_error_clear();

	/* a file outside the prefix is refused, with its name */
	write_in(staged_prefix, "bin/x", "x\n");
	write_in(stage, "etc/x.conf", "conf\n");
	assert_int_equal(ipm_stage_adopt(stage, prefix, store), IPM_EBUILD);
	assert_non_null(strstr(ipm_error_message(), "outside the prefix"));
	assert_non_null(strstr(ipm_error_message(), "'/etc/x.conf'"));
	assert_false(ipm_path_exists(store));
	ipm_error_clear();

	ipm_rm_rf(root);
	free(staged_prefix);
	free(store);
	free(prefix);
	free(stage);
	free(root);
}

static void test_pc_files_get_the_rpath_once(void **state)
{
	char *root = tu_isolated_root("stage-pc");
	char *text;
	(void)state;

	write_in(root, "lib/pkgconfig/a.pc",
		 "prefix=/p\nlibdir=${prefix}/lib\n\nName: a\nVersion: 1\nLibs: -L${libdir} -la\nCflags: -I/p/include\n");
	write_in(root, "share/pkgconfig/b.pc", "prefix=/p\n\nName: b\nVersion: 1\nCflags: -I/p/include\n");
	write_in(root, "lib/pkgconfig/c.pc",
		 "libdir=/p/lib\nName: c\nVersion: 1\nLibs: -L${libdir} -lc -Wl,-rpath,${libdir}\n");
	assert_int_equal(ipm_pc_add_rpath(root), 0);
	assert_int_equal(ipm_pc_add_rpath(root), 0);
	text = read_in(root, "lib/pkgconfig/a.pc");
	assert_string_equal(text, "prefix=/p\nlibdir=${prefix}/lib\n\nName: a\nVersion: 1\n"
			    "Libs: -L${libdir} -la -Wl,-rpath,${libdir}\nCflags: -I/p/include\n");
	free(text);
	text = read_in(root, "share/pkgconfig/b.pc");
	assert_string_equal(text, "prefix=/p\n\nName: b\nVersion: 1\nCflags: -I/p/include\n");
	free(text);
	text = read_in(root, "lib/pkgconfig/c.pc");
	assert_string_equal(text, "libdir=/p/lib\nName: c\nVersion: 1\nLibs: -L${libdir} -lc -Wl,-rpath,${libdir}\n");
	free(text);
	ipm_rm_rf(root);
	free(root);
}

static void test_grep_finds_the_files_naming_a_path(void **state)
{
	char *root = tu_isolated_root("stage-grep");
	char **hits = NULL;
	size_t n = 0;
	(void)state;

	write_in(root, "lib/x.la", "libdir='/stage/here/lib'\n");
	write_in(root, "lib/y.la", "libdir='/prefix/lib'\n");
	write_in(root, "empty", "");
	assert_int_equal(ipm_tree_grep(&hits, &n, root, "/stage/here"), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0], "lib/x.la");
	xfree_strv(hits, n);
	ipm_rm_rf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_names_and_removes_new_entries),
		cmocka_unit_test(test_adopt_moves_the_staged_prefix),
		cmocka_unit_test(test_pc_files_get_the_rpath_once),
		cmocka_unit_test(test_grep_finds_the_files_naming_a_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
