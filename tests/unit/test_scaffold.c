/* ipm registry new's guesses: versions from tags and file names, recipes from
 * the build files at the top of a source. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ipm/scaffold.h"

static void expect_tag(const char *tag, const char *want)
{
	char *got = ipm_scaffold_version_from_tag(tag);
	if (!want && got)
		fail_msg("tag '%s': got '%s', want none", tag ? tag : "(null)", got);
	if (want && (!got || strcmp(got, want) != 0))
		fail_msg("tag '%s': got '%s', want '%s'", tag ? tag : "(null)", got ? got : "(none)", want);
	free(got);
}

static void test_version_from_tag(void **state)
{
	expect_tag("1.2.3", "1.2.3");
	expect_tag("v1.2.3", "1.2.3");
	expect_tag("V2.0", "2.0");
	expect_tag("jq-1.7.1", "1.7.1");
	expect_tag("pcre2-10.42", "10.42");        /* the 2 of pcre2 is part of the name */
	expect_tag("version-3.45.0", "3.45.0");
	expect_tag("release-1.1", "1.1");
	expect_tag("curl-7_88_1", "7.88.1");
	expect_tag("R_2_5_0", "2.5.0");
	expect_tag("lib-v1.4", "1.4");
	expect_tag("1.0.19-RELEASE", "1.0.19");
	expect_tag("2.0-rc1", "2.0-rc1");
	expect_tag("cm-2_5", "2.5");
	expect_tag("latest", NULL);
	expect_tag("stable", NULL);
	expect_tag("v", NULL);
	expect_tag("nightly-", NULL);
	expect_tag("", NULL);
	expect_tag(NULL, NULL);
}

static void expect_url(const char *url, const char *want)
{
	char *got = ipm_scaffold_version_from_url(url);
	if (!want && got)
		fail_msg("url '%s': got '%s', want none", url, got);
	if (want && (!got || strcmp(got, want) != 0))
		fail_msg("url '%s': got '%s', want '%s'", url, got ? got : "(none)", want);
	free(got);
}

static void test_version_from_url(void **state)
{
	expect_url("https://zlib.net/zlib-1.3.1.tar.gz", "1.3.1");
	expect_url("https://example.org/foo-1.2.3.tar.xz", "1.2.3");
	expect_url("https://example.org/foo-1.2.3.tgz", "1.2.3");
	expect_url("https://example.org/foo-1.2.3.zip?download=1", "1.2.3");
	expect_url("https://github.com/o/r/archive/refs/tags/v2.4.tar.gz", "2.4");
	expect_url("https://example.org/pcre2-10.42.tar.bz2", "10.42");
	expect_url("http://127.0.0.1:8080/download.tar.gz", NULL);
	expect_url("https://example.org/", NULL);
}

static void expect_methods(const char *want, char **files, size_t nfiles)
{
	const char *names[IPM_SCAFFOLD_MAX_METHODS];
	size_t n = ipm_scaffold_guess(names, files, nfiles);
	char got[256] = "";
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, names[i]);
	}
	assert_string_equal(got, want);
}

#define FILES(...) (char *[]){ __VA_ARGS__ }, sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)

static void test_guess(void **state)
{
	expect_methods("make", FILES("README", "Makefile"));
	expect_methods("make", FILES("GNUmakefile"));
	expect_methods("cmake make", FILES("Makefile", "CMakeLists.txt"));
	expect_methods("meson", FILES("meson.build", "meson_options.txt"));
	expect_methods("configure", FILES("configure", "configure.ac", "Makefile"));
	expect_methods("autotools", FILES("configure.ac", "Makefile.am"));
	expect_methods("autotools", FILES("configure.in"));
	expect_methods("cmake meson configure", FILES("configure", "meson.build", "CMakeLists.txt", "Makefile"));
	expect_methods("", FILES("README", "main.c", "cmakelists.txt"));
	expect_methods("", NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_from_tag),
		cmocka_unit_test(test_version_from_url),
		cmocka_unit_test(test_guess),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
