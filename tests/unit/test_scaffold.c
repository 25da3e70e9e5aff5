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

static void expect_tree(const char *want, const char *makefile, int include_headers, char **files, size_t nfiles)
{
	struct ipm_scaffold_tree tree = { files, nfiles, include_headers, makefile, NULL, NULL };
	const char *names[IPM_SCAFFOLD_MAX_METHODS];
	size_t n = ipm_scaffold_guess_tree(names, &tree);
	char got[256] = "";
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, names[i]);
	}
	assert_string_equal(got, want);
}

static void test_guess_tree(void **state)
{
	/* a Makefile without an install target builds tests only */
	expect_tree("", "all: test\ntest:\n\tcc -o test test.c\n", 0, FILES("Makefile", "lib.c", "lib.h"));
	expect_tree("make", "PREFIX ?= /usr/local\ninstall: all\n\tcp x $(DESTDIR)$(PREFIX)/bin\n", 0,
		    FILES("Makefile", "x.c"));
	expect_tree("make", ".PHONY: all install\nall install uninstall: x\n", 0, FILES("Makefile"));
	/* header-only: at the top (examples and tests do not count), or in include/ */
	expect_tree("headers", NULL, 0, FILES("utf8.h", "README.md", "LICENSE"));
	expect_tree("headers", "all: example\nexample: example.c\n", 0,
		    FILES("Makefile", "greatest.h", "example.c", "example_suite.c", "test_x.c"));
	expect_tree("headers", NULL, 1, FILES("README.md"));
	expect_tree("", NULL, 0, FILES("lib.h", "lib.c"));
	/* a build system wins over headers */
	expect_tree("cmake", NULL, 1, FILES("CMakeLists.txt", "x.h"));
	expect_tree("autotools", NULL, 0, FILES("configure.ac", "Makefile.am", "x.h"));
}

/* The steps of method name for a Makefile text, joined with " && ". */
static void expect_steps(const char *name, const char *makefile, int include_headers,
			 const char *want_build, const char *want_install)
{
	struct ipm_scaffold_tree tree = { NULL, 0, include_headers, makefile, NULL, NULL };
	struct ipm_scaffold_method m;
	char build[2048] = "", install[2048] = "";

	assert_int_equal(ipm_scaffold_method(&m, name, &tree), 0);
	for (size_t i = 0; m.build[i]; i++)
		strcat(strcat(build, i ? " && " : ""), m.build[i]);
	for (size_t i = 0; m.install[i]; i++)
		strcat(strcat(install, i ? " && " : ""), m.install[i]);
	assert_string_equal(build, want_build);
	if (want_install)
		assert_string_equal(install, want_install);
	ipm_scaffold_method_release(&m);
}

static void test_method_steps(void **state)
{
	struct ipm_scaffold_method m;

	expect_steps("cmake", NULL, 0,
		     "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=\"$IPM_PREFIX\" "
		     "-DCMAKE_INSTALL_LIBDIR=lib && cmake --build build -j \"$IPM_JOBS\"",
		     "cmake --install build");
	expect_steps("meson", NULL, 0,
		     "meson setup build --prefix=\"$IPM_PREFIX\" --libdir=lib --buildtype=release && meson compile -C build",
		     "meson install -C build");
	expect_steps("autotools", NULL, 0,
		     "autoreconf -fi && ./configure --prefix=\"$IPM_PREFIX\" && make -j\"$IPM_JOBS\"", "make install");
	/* PREFIX and DESTDIR honoured */
	expect_steps("make", "PREFIX ?= /usr/local\ninstall:\n\tcp x $(DESTDIR)$(PREFIX)/lib\n", 0,
		     "make -j\"$IPM_JOBS\" PREFIX=\"$IPM_PREFIX\"", "make install PREFIX=\"$IPM_PREFIX\"");
	/* lowercase prefix only */
	expect_steps("make", "prefix = /usr/local\ninstall:\n\tcp x $(DESTDIR)$(prefix)/lib\n", 0,
		     "make -j\"$IPM_JOBS\" prefix=\"$IPM_PREFIX\"", "make install prefix=\"$IPM_PREFIX\"");
	/* DESTDIR ignored: the staging directory goes into the prefix at install only */
	expect_steps("make", "PREFIX=/usr/local\ninstall:\n\tcp x $(PREFIX)/bin\n", 0,
		     "make -j\"$IPM_JOBS\" PREFIX=\"$IPM_PREFIX\"", "make install PREFIX=\"$DESTDIR$IPM_PREFIX\"");
	/* ... and a .pc written by install is rewritten without it */
	assert_int_equal(ipm_scaffold_method(&m, "make", &(struct ipm_scaffold_tree){
			 NULL, 0, 0, "PREFIX=/usr\ninstall:\n\tsed s,@p@,$(PREFIX), x.pc.in > $(PREFIX)/lib/pkgconfig/x.pc\n", NULL, NULL }), 0);
	assert_non_null(m.install[1]);
	assert_non_null(strstr(m.install[1], "-name '*.pc'"));
	ipm_scaffold_method_release(&m);
	/* CMAKE_INSTALL_PREFIX is not PREFIX; neither used: the conventional line */
	expect_steps("make", "install:\n\tcmake -DCMAKE_INSTALL_PREFIX=/x\n\tcp a $(DESTDIR)$(IPM_PREFIX)/bin\n", 0,
		     "make -j\"$IPM_JOBS\"", "make install PREFIX=\"$IPM_PREFIX\"");
	/* header-only: include/ copied whole, or the top-level headers, and a .pc */
	expect_steps("headers", NULL, 1, "", NULL);
	assert_int_equal(ipm_scaffold_method(&m, "headers", &(struct ipm_scaffold_tree){ NULL, 0, 1, NULL, NULL, NULL }), 0);
	assert_string_equal(m.install[1], "cp -R include/. \"$DESTDIR$IPM_PREFIX/include/\"");
	assert_non_null(strstr(m.install[2], "$DESTDIR$IPM_PREFIX/lib/pkgconfig/$IPM_NAME.pc"));
	assert_null(m.tools[0]);
	ipm_scaffold_method_release(&m);
	assert_int_equal(ipm_scaffold_method(&m, "headers", &(struct ipm_scaffold_tree){ NULL, 0, 0, NULL, NULL, NULL }), 0);
	assert_non_null(strstr(m.install[1], "*.h"));
	ipm_scaffold_method_release(&m);
	assert_int_not_equal(ipm_scaffold_method(&m, "scons", NULL), 0);
	/* CMake options that build documentation or tests and default to ON are turned off */
	assert_int_equal(ipm_scaffold_method(&m, "cmake", &(struct ipm_scaffold_tree){ NULL, 0, 0, NULL,
			 "option(URIPARSER_BUILD_DOCS \"Build API documentation (requires Doxygen)\" ON)\n"
			 "option(URIPARSER_BUILD_TESTS \"Build test suite (requires GTest >=1.8.0)\" OFF)\n"
			 "option(URIPARSER_BUILD_TOOLS \"Build tools\" ON)\n"
			 "option( FOO_EXAMPLES \"examples\" ON )\n"
			 "if(BUILD_TESTING)\nendif()\n", NULL }), 0);
	assert_non_null(strstr(m.build[0], "-DCMAKE_INSTALL_LIBDIR=lib -DURIPARSER_BUILD_DOCS=OFF"));
	assert_null(strstr(m.build[0], "URIPARSER_BUILD_TESTS"));
	assert_null(strstr(m.build[0], "TOOLS"));
	assert_non_null(strstr(m.build[0], " -DBUILD_TESTING=OFF"));
	ipm_scaffold_method_release(&m);
	/* a program without an install target: its rule, bin/ and its man page */
	{
		char *files[] = { "Makefile", "pigz.c", "pigz.1" };
		const char *names[IPM_SCAFFOLD_MAX_METHODS];
		struct ipm_scaffold_tree tree = { files, 3, 0, "CC=cc\npigz: pigz.o\n\t$(CC) -o pigz pigz.o\n", NULL, "pigz" };
		assert_int_equal(ipm_scaffold_guess_tree(names, &tree), 1);
		assert_string_equal(names[0], "program");
		assert_int_equal(ipm_scaffold_method(&m, "program", &tree), 0);
		assert_string_equal(m.build[0], "make -j\"$IPM_JOBS\" 'pigz'");
		assert_string_equal(m.install[0], "mkdir -p \"$DESTDIR$IPM_PREFIX/bin\" && cp 'pigz' \"$DESTDIR$IPM_PREFIX/bin/\"");
		assert_non_null(m.install[1]);
		assert_non_null(strstr(m.install[1], "man1"));
		ipm_scaffold_method_release(&m);
		tree.name = "other";
		assert_int_equal(ipm_scaffold_guess_tree(names, &tree), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_from_tag),
		cmocka_unit_test(test_version_from_url),
		cmocka_unit_test(test_guess),
		cmocka_unit_test(test_guess_tree),
		cmocka_unit_test(test_method_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
