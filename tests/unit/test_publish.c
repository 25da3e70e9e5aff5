/* ipm registry build's engine: the index document, its problems, where it may
 * be written, and a rewrite that changes nothing leaving the file alone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/publish.h"
#include "ipm/xalloc.h"
#include "test_util.h"

#define C40 "0123456789abcdef0123456789abcdef01234567"

struct fixture {
	char *root;     /* temporary directory */
	char *reg;      /* root/reg, a registry directory */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *packages;

	f->root = xasprintf("/tmp/ipm-test-publish-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	f->reg = xasprintf("%s/reg", f->root);
	packages = xasprintf("%s/packages", f->reg);
	assert_int_equal(ipm_mkdir_p(packages, 0755), 0);
	free(packages);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ipm_rm_rf(f->root);
	free(f->root);
	free(f->reg);
	free(f);
	return 0;
}

/* Writes f->reg/rel. */
static void put(struct fixture *f, const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", f->reg, rel);
	tu_write_file(path, text);
	free(path);
}

static void put_entry(struct fixture *f, const char *name, const char *version)
{
	char *rel = xasprintf("packages/%s.json", name);
	char *text = xasprintf("{\n  \"name\": \"%s\",\n  \"description\": \"the \\\"%s\\\" package\",\n"
			       "  \"versions\": [ { \"version\": \"%s\", \"git\": \"/src/%s\", \"commit\": \"" C40 "\" } ],\n"
			       "  \"methods\": [ { \"install\": [\"make install\"] } ]\n}\n",
			       name, name, version, name);
	put(f, rel, text);
	free(rel);
	free(text);
}

static void test_index_document(void **state)
{
	struct fixture *f = *state;
	struct ipm_problems problems = { 0 };
	struct ipm_index ix = { 0 };

	put(f, "registry.json", "{ \"$schema\": \"x\", \"description\": \"team\", \"name\": \"t\" }\n");
	put_entry(f, "zed", "2.0");
	put_entry(f, "a-b", "1.0");
	put_entry(f, "a", "0.1");
	put(f, "packages/.hidden.json", "not json");
	put(f, "packages/notes.txt", "not an entry");
	assert_int_equal(ipm_publish_index(&ix, &problems, f->reg, 0), 0);
	assert_int_equal(problems.n, 0);
	assert_int_equal(ix.npackages, 3);
	assert_null(ix.home);
	assert_null(ix.commit);
	/* sorted by name ("a" < "a-b", though "a-b.json" < "a.json"), each
	 * entry compact in its file's field order, escapes kept */
	assert_string_equal(ix.json,
		"{\"registry\":{\"name\":\"t\",\"description\":\"team\"},\"packages\":[\n"
		"{\"name\":\"a\",\"description\":\"the \\\"a\\\" package\",\"versions\":[{\"version\":\"0.1\",\"git\":\"/src/a\",\"commit\":\"" C40 "\"}],\"methods\":[{\"install\":[\"make install\"]}]},\n"
		"{\"name\":\"a-b\",\"description\":\"the \\\"a-b\\\" package\",\"versions\":[{\"version\":\"1.0\",\"git\":\"/src/a-b\",\"commit\":\"" C40 "\"}],\"methods\":[{\"install\":[\"make install\"]}]},\n"
		"{\"name\":\"zed\",\"description\":\"the \\\"zed\\\" package\",\"versions\":[{\"version\":\"2.0\",\"git\":\"/src/zed\",\"commit\":\"" C40 "\"}],\"methods\":[{\"install\":[\"make install\"]}]}\n"
		"]}\n");
	assert_int_equal(ix.len, strlen(ix.json));
	ipm_index_release(&ix);
}

static void test_empty_registry(void **state)
{
	struct fixture *f = *state;
	struct ipm_problems problems = { 0 };
	struct ipm_index ix = { 0 };

	/* no registry.json at all */
	assert_int_equal(ipm_publish_index(&ix, &problems, f->reg, 0), 0);
	assert_string_equal(ix.json, "{\"registry\":{},\"packages\":[\n]}\n");
	assert_int_equal(ix.npackages, 0);
	ipm_index_release(&ix);
}

static void test_every_problem(void **state)
{
	struct fixture *f = *state;
	struct ipm_problems problems = { 0 };
	struct ipm_index ix = { 0 };
	char *misnamed;

	put(f, "registry.json", "{ \"name\": \"t\", \"homepage\": \"x\", \"commit\": \"abc\" }\n");
	put_entry(f, "good", "1.0");
	put(f, "packages/broken.json", "{\n  \"name\": \"broken\",\n  oops\n}\n");
	put_entry(f, "other", "1.0");
	misnamed = xasprintf("%s/packages/other.json", f->reg);
	char *renamed = xasprintf("%s/packages/wrong.json", f->reg);
	assert_int_equal(rename(misnamed, renamed), 0);
	free(misnamed);
	free(renamed);

	assert_int_equal(ipm_publish_index(&ix, &problems, f->reg, 0), IPM_EINVAL);
	assert_null(ix.json);
	assert_int_equal(problems.n, 4);
	/* registry.json first, then the entry files in name order */
	assert_non_null(strstr(problems.items[0].message, "unknown field 'homepage' in '"));
	assert_non_null(strstr(problems.items[1].message, "field 'commit' in '"));
	assert_non_null(strstr(problems.items[2].message, "malformed JSON in '"));
	assert_non_null(strstr(problems.items[2].message, "broken.json' at line 3, column"));
	assert_non_null(strstr(problems.items[3].message, "entry 'other' is in '"));
	assert_non_null(problems.items[3].hint);
	/* the error slot holds the first */
	assert_string_equal(ipm_error_message(), problems.items[0].message);
	ipm_problems_release(&problems);
	ipm_error_clear();
}

static void test_self_sources(void **state)
{
	struct fixture *f = *state;
	struct ipm_problems problems = { 0 };
	struct ipm_index ix = { 0 };

	put(f, "packages/mine.json",
	    "{ \"name\": \"mine\", \"description\": \"d\", \"versions\": [ { \"version\": \"1.0\", \"git\": \"self\" } ],"
	    " \"methods\": [ { \"install\": [\"make install\"] } ] }");
	/* /tmp is no git checkout: nothing says where "self" is */
	assert_int_equal(ipm_publish_index(&ix, &problems, f->reg, 0), IPM_EINVAL);
	assert_int_equal(problems.n, 1);
	assert_non_null(strstr(problems.items[0].message, "entry 'mine' installs from the registry's own repository"));
	assert_non_null(problems.items[0].hint);
	ipm_problems_release(&problems);
	ipm_error_clear();

	put(f, "registry.json", "{ \"home\": \"https://git.example.org/r.git\", \"commit\": \"" C40 "\" }");
	assert_int_equal(ipm_publish_index(&ix, &problems, f->reg, 0), 0);
	assert_int_equal(problems.n, 0);
	assert_string_equal(ix.home, "https://git.example.org/r.git");
	assert_string_equal(ix.commit, C40);
	assert_non_null(strstr(ix.json, "{\"registry\":{\"home\":\"https://git.example.org/r.git\",\"commit\":\"" C40 "\"},"));
	ipm_index_release(&ix);
}

static void test_check_paths(void **state)
{
	struct fixture *f = *state;
	char *path;

	path = xasprintf("%s/index.json", f->root);
	assert_int_equal(ipm_publish_check_paths(f->reg, path), 0);
	free(path);

	path = xasprintf("%s/nope", f->root);
	assert_int_equal(ipm_publish_check_paths(path, "x.json"), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_message(), "registry directory '"));
	assert_int_equal(ipm_publish_check_paths(f->root, "x.json"), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "it has no packages directory"));
	free(path);

	path = xasprintf("%s/missing/index.json", f->root);
	assert_int_equal(ipm_publish_check_paths(f->reg, path), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_message(), "/missing' of output '"));
	free(path);

	assert_int_equal(ipm_publish_check_paths(f->reg, f->root), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "is a directory"));
	path = xasprintf("%s/", f->root);
	assert_int_equal(ipm_publish_check_paths(f->reg, path), IPM_EINVAL);
	free(path);

	/* inside the registry, however it is spelled */
	path = xasprintf("%s/packages/index.json", f->reg);
	assert_int_equal(ipm_publish_check_paths(f->reg, path), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "is inside the registry directory"));
	free(path);
	path = xasprintf("%s/packages/../index.json", f->reg);
	assert_int_equal(ipm_publish_check_paths(f->reg, path), IPM_EINVAL);
	free(path);
	/* a sibling whose name starts like the registry's is outside */
	path = xasprintf("%s/reg-index.json", f->root);
	assert_int_equal(ipm_publish_check_paths(f->reg, path), 0);
	free(path);
	ipm_error_clear();
}

static void test_write_unchanged(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/index.json", f->root), *text = NULL;
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat st1, st2;
	int written = -1;

	assert_int_equal(ipm_publish_write(&written, path, "one\n", 4), 0);
	assert_int_equal(written, 1);
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(stat(path, &st1), 0);

	assert_int_equal(ipm_publish_write(&written, path, "one\n", 4), 0);
	assert_int_equal(written, 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st2.st_mtim.tv_sec, 1000000000);

	/* same size, other bytes: written */
	assert_int_equal(ipm_publish_write(&written, path, "two\n", 4), 0);
	assert_int_equal(written, 1);
	assert_int_equal(ipm_file_read(&text, NULL, path), 0);
	assert_string_equal(text, "two\n");
	free(text);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_index_document, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_problem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_unchanged, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
