/* Registry-wide checks (src/check.c): what is reported, for whom, and once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "ipm/check.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"

#define C40 "0123456789abcdef0123456789abcdef01234567"

struct fixture {
	char *dir;        /* a registry directory */
	char *packages;   /* its packages/ */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/ipm-test-check.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	f->dir = xstrdup(tmpl);
	f->packages = xasprintf("%s/packages", f->dir);
	assert_int_equal(ipm_mkdir_p(f->packages, 0755), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ipm_rm_rf(f->dir);
	free(f->packages);
	free(f->dir);
	free(f);
	return 0;
}

/* Writes a public-valid entry NAME (depends: a JSON array) to dir/NAME.json;
 * broken leaves out the description. Returns the path (caller frees). */
static char *write_entry(const char *dir, const char *name, const char *depends, int broken)
{
	char *path = xasprintf("%s/%s.json", dir, name);
	char *json = xasprintf(
		"{ \"name\": \"%s\", %s \"license\": \"MIT\",\n"
		"  \"versions\": [ { \"version\": \"1.0\", \"git\": \"https://git.example.org/%s\", \"commit\": \"" C40 "\" } ],\n"
		"  \"depends\": %s,\n"
		"  \"methods\": [ { \"install\": [\"make install\"] } ] }\n",
		name, broken ? "" : "\"description\": \"test entry\",", name, depends);

	assert_int_equal(ipm_file_write_atomic(path, json, strlen(json)), 0);
	free(json);
	return path;
}

static size_t count_containing(const struct ipm_problems *p, const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += strstr(p->items[i].message, needle) != NULL;
	return n;
}

static void test_good_registry(void **state)
{
	struct fixture *f = *state;
	struct ipm_check_set set = IPM_CHECK_SET_INIT;
	struct ipm_problems problems = { 0 };

	free(write_entry(f->packages, "zlib", "[]", 0));
	free(write_entry(f->packages, "app", "[ { \"name\": \"zlib\", \"version\": \"^1\" } ]", 0));
	assert_int_equal(ipm_check_add_dir(&set, &problems, f->packages, 1), 0);
	ipm_check_registry(&set, &problems);
	assert_int_equal(problems.n, 0);
	assert_int_equal(ipm_check_count(&set), 2);
	/* sorted by file name */
	assert_string_equal(set.items[0].name, "app");
	assert_true(set.items[0].parsed && set.items[1].parsed);
	ipm_problems_release(&problems);
	ipm_check_set_release(&set);
}

/* A broken context entry is not the checked entry's problem, and its name
 * still satisfies a dependency on it. */
static void test_context_not_reported(void **state)
{
	struct fixture *f = *state;
	struct ipm_check_set set = IPM_CHECK_SET_INIT;
	struct ipm_problems problems = { 0 };
	char *app;

	free(write_entry(f->packages, "broken", "[]", 1));
	app = write_entry(f->packages, "app", "[ { \"name\": \"broken\" } ]", 0);
	assert_int_equal(ipm_check_add_file(&set, &problems, app, 1), 0);
	assert_int_equal(ipm_check_add_dir(&set, &problems, f->packages, 0), 0);
	ipm_check_registry(&set, &problems);
	assert_int_equal(problems.n, 0);
	assert_int_equal(set.n, 2);             /* app once, broken as context */
	assert_int_equal(ipm_check_count(&set), 1);
	assert_false(set.items[1].parsed);
	assert_string_equal(set.items[1].name, "broken");
	ipm_problems_release(&problems);
	ipm_check_set_release(&set);
	free(app);
}

static void test_cycle_once(void **state)
{
	struct fixture *f = *state;
	struct ipm_check_set set = IPM_CHECK_SET_INIT;
	struct ipm_problems problems = { 0 };

	free(write_entry(f->packages, "b", "[ { \"name\": \"a\" } ]", 0));
	free(write_entry(f->packages, "a", "[ { \"name\": \"b\" } ]", 0));
	free(write_entry(f->packages, "c", "[ { \"name\": \"b\" } ]", 0));
	assert_int_equal(ipm_check_add_dir(&set, &problems, f->packages, 1), 0);
	ipm_check_registry(&set, &problems);
	assert_int_equal(problems.n, 1);
	assert_int_equal(count_containing(&problems, "forms a dependency cycle: a -> b -> a"), 1);
	assert_non_null(problems.items[0].hint);
	/* a and b carry the problem (not built by --build); c is fine */
	assert_int_equal(set.items[0].nproblems, 1);
	assert_int_equal(set.items[1].nproblems, 1);
	assert_int_equal(set.items[2].nproblems, 0);
	ipm_problems_release(&problems);
	ipm_check_set_release(&set);
}

static void test_collision(void **state)
{
	struct fixture *f = *state;
	struct ipm_check_set set = IPM_CHECK_SET_INIT;
	struct ipm_problems problems = { 0 };

	free(write_entry(f->packages, "foo-bar", "[]", 0));
	free(write_entry(f->packages, "foo_bar", "[]", 0));
	free(write_entry(f->packages, "foo.bar", "[]", 0));   /* '.' is a different name */
	assert_int_equal(ipm_check_add_dir(&set, &problems, f->packages, 1), 0);
	ipm_check_registry(&set, &problems);
	assert_int_equal(problems.n, 1);
	assert_int_equal(count_containing(&problems, "names 'foo-bar' in "), 1);
	assert_int_equal(count_containing(&problems, "and 'foo_bar' in "), 1);
	ipm_problems_release(&problems);
	ipm_check_set_release(&set);
}

static void test_missing_depends(void **state)
{
	struct fixture *f = *state;
	struct ipm_check_set set = IPM_CHECK_SET_INIT;
	struct ipm_problems problems = { 0 };

	free(write_entry(f->packages, "zlib", "[]", 0));
	free(write_entry(f->packages, "app",
			 "[ { \"name\": \"zlb\" }, { \"name\": \"unrelated-thing\" }, { \"name\": \"zlib\", \"version\": \">=2\" } ]", 0));
	assert_int_equal(ipm_check_add_dir(&set, &problems, f->packages, 1), 0);
	ipm_check_registry(&set, &problems);
	assert_int_equal(problems.n, 3);
	assert_non_null(strstr(problems.items[0].message, "field 'depends[0].name'"));
	assert_string_equal(problems.items[0].hint, "did you mean 'zlib'?");
	assert_null(strstr(problems.items[1].hint, "did you mean"));
	assert_non_null(strstr(problems.items[2].message, "field 'depends[2].version'"));
	assert_string_equal(problems.items[2].hint, "the registry's 'zlib' has 1.0");
	ipm_problems_release(&problems);
	ipm_check_set_release(&set);
}

/* A file being checked stands in for the registry's entry of the same name. */
static void test_stands_in(void **state)
{
	struct fixture *f = *state;
	struct ipm_check_set set = IPM_CHECK_SET_INIT;
	struct ipm_problems problems = { 0 };
	char *elsewhere = xasprintf("%s/new", f->dir), *mine;

	assert_int_equal(ipm_mkdir_p(elsewhere, 0755), 0);
	free(write_entry(f->packages, "zlib", "[]", 0));
	mine = write_entry(elsewhere, "zlib", "[]", 0);
	assert_int_equal(ipm_check_add_file(&set, &problems, mine, 1), 0);
	assert_int_equal(ipm_check_add_file(&set, &problems, mine, 1), 0);   /* once */
	assert_int_equal(ipm_check_add_dir(&set, &problems, f->packages, 0), 0);
	ipm_check_registry(&set, &problems);
	assert_int_equal(set.n, 1);
	assert_int_equal(problems.n, 0);
	ipm_problems_release(&problems);
	ipm_check_set_release(&set);
	free(mine);
	free(elsewhere);
}

static void test_entry_problems_counted(void **state)
{
	struct fixture *f = *state;
	struct ipm_check_set set = IPM_CHECK_SET_INIT;
	struct ipm_problems problems = { 0 };
	char *path = write_entry(f->packages, "broken", "[]", 1);
	char *missing = xasprintf("%s/gone.json", f->packages);

	assert_int_equal(ipm_check_add_file(&set, &problems, path, 1), 0);
	assert_int_equal(problems.n, 1);
	assert_non_null(strstr(problems.items[0].message, "missing required field 'description'"));
	assert_int_equal(set.items[0].nproblems, 1);
	/* a checked file that cannot be read is a problem too */
	assert_int_equal(ipm_check_add_file(&set, &problems, missing, 1), 0);
	assert_int_equal(problems.n, 2);
	assert_int_equal(ipm_check_count(&set), 2);
	assert_int_equal(ipm_check_add_dir(&set, &problems, missing, 1), IPM_ENOTFOUND);
	ipm_error_clear();
	ipm_problems_release(&problems);
	ipm_check_set_release(&set);
	free(missing);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_not_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cycle_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_depends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stands_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_problems_counted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
