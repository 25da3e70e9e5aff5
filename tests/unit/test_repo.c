/* Repository specs: how owner/repo, URLs, github: and paths are told apart,
 * and the URL form two spellings of one repository share. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "ipm/error.h"
#include "ipm/repo.h"
#include "ipm/version.h"

static void norm_is(const char *url, const char *want)
{
	char *got = ipm_repo_url_normalize(url);
	assert_string_equal(got, want);
	free(got);
}

static void test_normalize(void **state)
{
	norm_is("https://github.com/DaveGamble/cJSON", "https://github.com/DaveGamble/cJSON");
	norm_is("https://github.com/DaveGamble/cJSON.git", "https://github.com/DaveGamble/cJSON");
	norm_is("https://github.com/DaveGamble/cJSON/", "https://github.com/DaveGamble/cJSON");
	norm_is("https://github.com/DaveGamble/cJSON.git/", "https://github.com/DaveGamble/cJSON");
	norm_is("HTTPS://GitHub.COM/DaveGamble/cJSON", "https://github.com/DaveGamble/cJSON");
	/* the user part keeps its case, the path too */
	norm_is("https://Me@Host.Example/A/B.git", "https://Me@host.example/A/B");
	norm_is("file:///srv/git/x.git", "file:///srv/git/x");
	/* one .git only, and not a name that is all ".git" */
	norm_is("https://h/a/b.git.git", "https://h/a/b.git");
	norm_is(".git", ".git");
}

static void test_parse_kinds(void **state)
{
	struct ipm_repo_spec s;

	assert_int_equal(ipm_repo_spec_parse(&s, "cjson"), 0);
	assert_int_equal(s.kind, IPM_REPO_SPEC_NAME);
	assert_null(s.url);
	ipm_repo_spec_release(&s);

	assert_int_equal(ipm_repo_spec_parse(&s, "cjson@^1.7"), 0);
	assert_int_equal(s.kind, IPM_REPO_SPEC_NAME);
	assert_string_equal(s.name, "cjson");
	assert_string_equal(s.at, "^1.7");
	ipm_repo_spec_release(&s);

	assert_int_equal(ipm_repo_spec_parse(&s, "DaveGamble/cJSON@v1.7.18"), 0);
	assert_int_equal(s.kind, IPM_REPO_SPEC_OWNER_REPO);
	assert_string_equal(s.owner_repo, "DaveGamble/cJSON");
	assert_string_equal(s.url, "https://github.com/DaveGamble/cJSON");
	assert_string_equal(s.package, "cjson");
	assert_string_equal(s.at, "v1.7.18");
	ipm_repo_spec_release(&s);

	assert_int_equal(ipm_repo_spec_parse(&s, "github:likle/cwalk"), 0);
	assert_int_equal(s.kind, IPM_REPO_SPEC_URL);
	assert_string_equal(s.url, "https://github.com/likle/cwalk");
	assert_string_equal(s.owner_repo, "likle/cwalk");
	ipm_repo_spec_release(&s);

	assert_int_equal(ipm_repo_spec_parse(&s, "https://GitHub.com/DaveGamble/cJSON.git/"), 0);
	assert_int_equal(s.kind, IPM_REPO_SPEC_URL);
	assert_string_equal(s.url, "https://GitHub.com/DaveGamble/cJSON.git");   /* fetched as written */
	assert_string_equal(s.owner_repo, "DaveGamble/cJSON");
	assert_string_equal(s.package, "cjson");
	assert_null(s.at);
	ipm_repo_spec_release(&s);

	/* another host: no owner/repo (that names github.com) */
	assert_int_equal(ipm_repo_spec_parse(&s, "https://gitlab.com/o/Some_Lib.git@1.0"), 0);
	/* lower case, and what a package name cannot hold becomes '-' */
	assert_null(s.owner_repo);
	assert_string_equal(s.package, "some_lib");
	assert_string_equal(s.at, "1.0");
	ipm_repo_spec_release(&s);
	assert_int_equal(ipm_repo_spec_parse(&s, "https://h/o/My%20Lib"), 0);
	assert_string_equal(s.package, "my-20lib");
	ipm_repo_spec_release(&s);

	/* an '@' of the user part is not a version */
	assert_int_equal(ipm_repo_spec_parse(&s, "https://me@host/o/r"), 0);
	assert_null(s.at);
	ipm_repo_spec_release(&s);

	assert_int_equal(ipm_repo_spec_parse(&s, "https://host.example"), IPM_EINVAL);
	ipm_error_clear();
	assert_int_equal(ipm_repo_spec_parse(&s, "github:onlyowner"), IPM_EINVAL);
	ipm_error_clear();
}

static void test_parse_path(void **state)
{
	char dir[] = "/tmp/ipm-test-repo-XXXXXX";
	char *git, *spec;
	struct ipm_repo_spec s;

	assert_non_null(mkdtemp(dir));
	git = malloc(strlen(dir) + 8);
	sprintf(git, "%s/x/.git", dir);
	spec = malloc(strlen(dir) + 8);
	sprintf(spec, "%s/x", dir);
	/* a work tree: a directory holding .git */
	assert_int_equal(mkdir(spec, 0755), 0);
	assert_int_equal(mkdir(git, 0755), 0);
	assert_int_equal(ipm_repo_spec_parse(&s, spec), 0);
	assert_int_equal(s.kind, IPM_REPO_SPEC_PATH);
	assert_int_equal(strncmp(s.url, "file:///", 8), 0);
	assert_string_equal(s.package, "x");
	ipm_repo_spec_release(&s);
	rmdir(git);
	rmdir(spec);
	rmdir(dir);
	free(git);
	free(spec);
}

static void test_newest_tag(void **state)
{
	const char *tags[] = { "v1.0", "v2.0-rc1", "v1.10", "nightly", "v1.9.9", "3.0.0-beta" };
	const char *none[] = { "nightly", "v2.0-rc1" };

	assert_string_equal(ipm_repo_newest_tag(tags, 6), "v1.10");
	assert_null(ipm_repo_newest_tag(none, 2));
	assert_null(ipm_repo_newest_tag(NULL, 0));
}

static void test_date_version(void **state)
{
	char *v = ipm_repo_date_version(1764460800LL);   /* 2025-11-30 00:00 UTC */
	assert_string_equal(v, "0.0.0-20251130");
	assert_true(ipm_version_valid(v));
	/* a pre-release of 0.0.0: below any real release */
	assert_true(ipm_version_cmp(v, "0.0.1") < 0);
	assert_true(ipm_version_cmp(v, "0.0.0-20251201") < 0);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_parse_kinds),
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_newest_tag),
		cmocka_unit_test(test_date_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
