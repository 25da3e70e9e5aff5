/*
 * The linkage check against real ELF files, built at test time with cc: a
 * shared library with a soname, programs linked with it with and without a
 * RUNPATH, a stand-in for a system library (libcjson.so.1, there because
 * ipm itself links cJSON), files that are not ELF, and ld.so.conf parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cmocka.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/linkage.h"
#include "ipm/xalloc.h"
#include "test_util.h"

struct fixture {
	char *root;
	char *tree;    /* the staged tree */
	char *prefix;  /* where it will be installed */
	char *src;     /* sources and build outputs: a forbidden directory */
};

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	struct ipm_buf cmd = IPM_BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	ipm_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	rc = system(cmd.ptr);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd.ptr);
	ipm_buf_release(&cmd);
}

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *path;

	fx->root = tu_isolated_root("linkage");
	fx->tree = xasprintf("%s/tree", fx->root);
	fx->prefix = xasprintf("%s/prefix", fx->root);
	fx->src = xasprintf("%s/src", fx->root);
	sh("mkdir -p '%s/lib' '%s/bin' '%s/lib' '%s'", fx->tree, fx->tree, fx->prefix, fx->src);
	path = xasprintf("%s/fix.c", fx->src);
	tu_write_file(path, "int fix(void) { return 42; }\n");
	free(path);
	path = xasprintf("%s/prog.c", fx->src);
	tu_write_file(path, "int fix(void);\nint main(void) { return fix() != 42; }\n");
	free(path);
	path = xasprintf("%s/cjson.c", fx->src);
	tu_write_file(path, "const char *cJSON_Version(void) { return \"fake\"; }\n");
	free(path);
	path = xasprintf("%s/cjprog.c", fx->src);
	tu_write_file(path, "const char *cJSON_Version(void);\nint main(void) { return !cJSON_Version(); }\n");
	free(path);
	sh("cc -shared -fPIC -Wl,-soname,libfix.so.1 -o '%s/lib/libfix.so.1' '%s/fix.c'", fx->tree, fx->src);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	ipm_rm_rf(fx->root);
	free(fx->root);
	free(fx->tree);
	free(fx->prefix);
	free(fx->src);
	free(fx);
	return 0;
}

/* Links src/prog.c with the tree's libfix.so.1 into tree/bin/<name>; extra
 * goes on the command line as it is (shell-quoted by the caller). */
static void build_prog(struct fixture *fx, const char *name, const char *extra)
{
	sh("cc -o '%s/bin/%s' '%s/prog.c' '%s/lib/libfix.so.1' %s", fx->tree, name, fx->src, fx->tree, extra);
}

static void build_cjson(struct fixture *fx, const char *lib_dir, const char *extra)
{
	sh("cc -shared -fPIC -Wl,-soname,libcjson.so.1 -o '%s/libcjson.so.1' '%s/cjson.c'", lib_dir, fx->src);
	sh("cc -o '%s/bin/cjprog' '%s/cjprog.c' '%s/libcjson.so.1' %s", fx->tree, fx->src, lib_dir, extra);
}

static void check(struct ipm_linkage *l, struct fixture *fx, const char *const *forbidden, size_t nforbidden)
{
	if (ipm_linkage_check(l, fx->tree, fx->prefix, forbidden, nforbidden) != 0)
		fail_msg("ipm_linkage_check: %s", ipm_error_message());
}

static int has_str(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

static void print_problems(const struct ipm_linkage *l)
{
	static const char *const kinds[] = { "missing", "shadowed", "bad-runpath" };
	for (size_t i = 0; i < l->nproblems; i++)
		print_message("problem: %s %s %s %s\n", kinds[l->problems[i].kind], l->problems[i].file,
			      l->problems[i].library, l->problems[i].detail ? l->problems[i].detail : "-");
}

static void assert_no_problems(const struct ipm_linkage *l)
{
	print_problems(l);
	assert_int_equal(l->nproblems, 0);
}

static void assert_one_problem(const struct ipm_linkage *l, enum ipm_linkage_kind kind, const char *file,
			       const char *library)
{
	print_problems(l);
	assert_int_equal(l->nproblems, 1);
	assert_int_equal(l->problems[0].kind, kind);
	assert_string_equal(l->problems[0].file, file);
	assert_string_equal(l->problems[0].library, library);
}

static void test_elf_read_fields(void **state)
{
	struct fixture *fx = *state;
	struct ipm_elf elf;
	char *path;

	path = xasprintf("%s/lib/libfix.so.1", fx->tree);
	assert_int_equal(ipm_elf_read(&elf, path), 0);
	assert_string_equal(elf.soname, "libfix.so.1");
	assert_int_equal(elf.elf_type, ET_DYN);
	assert_int_equal(elf.nrunpath, 0);
	assert_int_equal(elf.elf_class, sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32);
#if defined(__x86_64__)
	assert_int_equal(elf.machine, EM_X86_64);
#elif defined(__aarch64__)
	assert_int_equal(elf.machine, EM_AARCH64);
#endif
	ipm_elf_release(&elf);
	assert_null(elf.soname);
	free(path);

	build_prog(fx, "prog", "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib:/opt/x'");
	path = xasprintf("%s/bin/prog", fx->tree);
	assert_int_equal(ipm_elf_read(&elf, path), 0);
	assert_null(elf.soname);
	assert_true(elf.nneeded >= 2);
	assert_string_equal(elf.needed[0], "libfix.so.1");
	assert_int_equal(elf.nrunpath, 2);
	assert_string_equal(elf.runpath[0], "$ORIGIN/../lib");
	assert_string_equal(elf.runpath[1], "/opt/x");
	assert_int_equal(elf.rpath_is_old, 0);
	ipm_elf_release(&elf);

	build_prog(fx, "prog", "-Wl,--disable-new-dtags -Wl,-rpath,/old/lib");
	assert_int_equal(ipm_elf_read(&elf, path), 0);
	assert_int_equal(elf.nrunpath, 1);
	assert_string_equal(elf.runpath[0], "/old/lib");
	assert_int_equal(elf.rpath_is_old, 1);
	ipm_elf_release(&elf);
	free(path);
}

/* A file without section headers (as sstrip leaves one) is read through its
 * PT_DYNAMIC segment: the loader does not need sections, so neither may we. */
static void test_elf_read_without_sections(void **state)
{
	struct fixture *fx = *state;
	struct ipm_elf elf;
	unsigned char zero[8] = { 0 };
	char *path = xasprintf("%s/bin/prog", fx->tree);
	FILE *f;

	if (sizeof(void *) != 8 || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		skip();
	build_prog(fx, "prog", "-Wl,-rpath,/some/lib");
	f = fopen(path, "r+b");
	assert_non_null(f);
	/* e_shoff, then e_shnum and e_shstrndx of an Elf64_Ehdr */
	assert_int_equal(fseek(f, offsetof(Elf64_Ehdr, e_shoff), SEEK_SET), 0);
	assert_int_equal(fwrite(zero, 1, 8, f), 8);
	assert_int_equal(fseek(f, offsetof(Elf64_Ehdr, e_shnum), SEEK_SET), 0);
	assert_int_equal(fwrite(zero, 1, 4, f), 4);
	assert_int_equal(fclose(f), 0);

	assert_int_equal(ipm_elf_read(&elf, path), 0);
	assert_true(elf.nneeded >= 2);
	assert_string_equal(elf.needed[0], "libfix.so.1");
	assert_int_equal(elf.nrunpath, 1);
	assert_string_equal(elf.runpath[0], "/some/lib");
	ipm_elf_release(&elf);
	free(path);
}

static void test_elf_read_not_elf(void **state)
{
	struct fixture *fx = *state;
	struct ipm_elf elf;
	char *path;

	path = xasprintf("%s/notes.txt", fx->src);
	tu_write_file(path, "just text, long enough to have four bytes\n");
	ipm_error_set(IPM_ERROR, "an earlier error");
	assert_int_equal(ipm_elf_read(&elf, path), IPM_ENOTFOUND);
	assert_int_equal(ipm_error_code(), 0);
	assert_string_equal(ipm_error_message(), "");
	assert_null(elf.needed);
	free(path);

	path = xasprintf("%s/short", fx->src);
	tu_write_file(path, "\177E");
	assert_int_equal(ipm_elf_read(&elf, path), IPM_ENOTFOUND);
	free(path);

	sh("cd '%s' && cc -c -fPIC fix.c -o fix.o && ar rcs libfix.a fix.o", fx->src);
	path = xasprintf("%s/libfix.a", fx->src);
	assert_int_equal(ipm_elf_read(&elf, path), IPM_ENOTFOUND);
	free(path);

	/* An object file is ELF: read, with nothing dynamic. */
	path = xasprintf("%s/fix.o", fx->src);
	assert_int_equal(ipm_elf_read(&elf, path), 0);
	assert_int_equal(elf.elf_type, ET_REL);
	assert_int_equal(elf.nneeded, 0);
	ipm_elf_release(&elf);
	free(path);

	path = xasprintf("%s/corrupt.so", fx->src);
	tu_write_file(path, "\177ELF but then nothing of the rest");
	assert_int_equal(ipm_elf_read(&elf, path), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "corrupt.so"));
	free(path);

	path = xasprintf("%s/absent", fx->src);
	assert_int_equal(ipm_elf_read(&elf, path), IPM_ERROR);
	assert_non_null(strstr(ipm_error_message(), "absent"));
	free(path);
}

static void test_runpath_into_prefix(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *rpath = xasprintf("-Wl,-rpath,'%s/lib'", fx->prefix);

	build_prog(fx, "prog", rpath);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	assert_int_equal(l.nneeds, 1);
	assert_string_equal(l.needs[0], "libfix.so.1");
	assert_int_equal(l.nprovides, 1);
	assert_string_equal(l.provides[0], "libfix.so.1");
	ipm_linkage_release(&l);
	assert_null(l.needs);
	free(rpath);
}

static void test_missing_without_runpath(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;

	build_prog(fx, "prog", "");
	check(&l, fx, NULL, 0);
	assert_one_problem(&l, IPM_LINKAGE_MISSING, "bin/prog", "libfix.so.1");
	assert_null(l.problems[0].detail);
	assert_int_equal(l.nneeds, 0);
	assert_string_equal(l.provides[0], "libfix.so.1");
	ipm_linkage_release(&l);
}

/* The path the real loader took for libcjson.so.1 (NULL when this system has
 * none): the independent answer a SHADOWED detail must agree with. */
static char *system_cjson(void)
{
	void *handle = dlopen("libcjson.so.1", RTLD_LAZY);
	struct link_map *map = NULL;
	char *path = NULL;

	if (!handle)
		return NULL;
	if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name[0] == '/')
		path = realpath(map->l_name, NULL);
	dlclose(handle);
	return path;
}

static void test_shadowed_by_system_copy(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *lib_dir = xasprintf("%s/lib", fx->tree);
	char *expected = system_cjson(), *detail;

	if (!expected)
		skip();
	build_cjson(fx, lib_dir, "");
	check(&l, fx, NULL, 0);
	assert_one_problem(&l, IPM_LINKAGE_SHADOWED, "bin/cjprog", "libcjson.so.1");
	assert_non_null(l.problems[0].detail);
	assert_true(l.problems[0].detail[0] == '/');
	assert_null(strstr(l.problems[0].detail, fx->root));
	detail = realpath(l.problems[0].detail, NULL);
	assert_non_null(detail);
	assert_string_equal(detail, expected);
	assert_int_equal(l.nneeds, 0);
	assert_true(has_str(l.provides, l.nprovides, "libcjson.so.1"));
	ipm_linkage_release(&l);
	free(detail);

	/* The copy already in the prefix counts as well. */
	sh("mv '%s/lib/libcjson.so.1' '%s/lib/'", fx->tree, fx->prefix);
	check(&l, fx, NULL, 0);
	assert_one_problem(&l, IPM_LINKAGE_SHADOWED, "bin/cjprog", "libcjson.so.1");
	assert_false(has_str(l.provides, l.nprovides, "libcjson.so.1"));
	ipm_linkage_release(&l);

	/* Without a copy from ipm, the system one is simply the library. */
	sh("rm '%s/lib/libcjson.so.1'", fx->prefix);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	ipm_linkage_release(&l);
	free(expected);
	free(lib_dir);
}

static void test_runpath_wins_over_system_copy(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *lib_dir = xasprintf("%s/lib", fx->tree);
	char *rpath = xasprintf("-Wl,-rpath,'%s/lib'", fx->prefix);

	build_cjson(fx, lib_dir, rpath);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	assert_true(has_str(l.needs, l.nneeds, "libcjson.so.1"));
	ipm_linkage_release(&l);

	/* Also when the library is already installed in the prefix. */
	sh("mv '%s/lib/libcjson.so.1' '%s/lib/'", fx->tree, fx->prefix);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	assert_true(has_str(l.needs, l.nneeds, "libcjson.so.1"));
	ipm_linkage_release(&l);
	free(rpath);
	free(lib_dir);
}

static void test_bad_runpath(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *forbidden_dir = xasprintf("%s/", fx->src);  /* trailing '/' on purpose */
	const char *forbidden[] = { forbidden_dir };
	char *build_lib = xasprintf("%s/build/lib", fx->src);
	char *extra = xasprintf("-Wl,-rpath,'%s:%s/lib:%sx/lib:%s'", build_lib, fx->prefix, fx->src, build_lib);

	build_prog(fx, "prog", extra);
	check(&l, fx, forbidden, 1);
	/* Reported once although named twice; srcx is not under src; libfix
	 * is still found through the prefix entry. */
	assert_one_problem(&l, IPM_LINKAGE_BAD_RUNPATH, "bin/prog", build_lib);
	assert_null(l.problems[0].detail);
	assert_true(has_str(l.needs, l.nneeds, "libfix.so.1"));
	ipm_linkage_release(&l);
	free(extra);

	/* After expanding $ORIGIN (prefix/bin) and "..": prefix/../src. */
	build_prog(fx, "prog", "-Wl,-rpath,'$ORIGIN/../../src/.'");
	check(&l, fx, forbidden, 1);
	print_problems(&l);
	assert_int_equal(l.nproblems, 2);
	assert_int_equal(l.problems[0].kind, IPM_LINKAGE_BAD_RUNPATH);
	assert_string_equal(l.problems[0].library, "$ORIGIN/../../src/.");
	/* A forbidden entry is not searched: without it, libfix is missing. */
	assert_int_equal(l.problems[1].kind, IPM_LINKAGE_MISSING);
	assert_string_equal(l.problems[1].library, "libfix.so.1");
	ipm_linkage_release(&l);

	/* The directory itself is forbidden, not only what lies under it. */
	extra = xasprintf("-Wl,-rpath,'%s'", fx->src);
	build_prog(fx, "prog", extra);
	check(&l, fx, forbidden, 1);
	assert_int_equal(l.nproblems, 2);
	assert_int_equal(l.problems[0].kind, IPM_LINKAGE_BAD_RUNPATH);
	assert_string_equal(l.problems[0].library, fx->src);
	ipm_linkage_release(&l);
	free(extra);
	free(build_lib);
	free(forbidden_dir);
}

static void test_origin_runpath(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;

	build_prog(fx, "prog", "-Wl,-rpath,'$ORIGIN/../lib'");
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	assert_true(has_str(l.needs, l.nneeds, "libfix.so.1"));
	ipm_linkage_release(&l);

	build_prog(fx, "prog", "-Wl,-rpath,'${ORIGIN}/../lib'");
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	ipm_linkage_release(&l);

	/* $ORIGIN is the file's own directory: bin/lib does not exist. */
	build_prog(fx, "prog", "-Wl,-rpath,'$ORIGIN/lib'");
	check(&l, fx, NULL, 0);
	assert_one_problem(&l, IPM_LINKAGE_MISSING, "bin/prog", "libfix.so.1");
	ipm_linkage_release(&l);

	/* Deeper: libexec/tool/prog reaching lib through ../.. */
	sh("mkdir -p '%s/libexec/tool' && cc -o '%s/libexec/tool/prog' '%s/prog.c' '%s/lib/libfix.so.1' "
	   "-Wl,-rpath,'$ORIGIN/../../lib'", fx->tree, fx->tree, fx->src, fx->tree);
	sh("rm '%s/bin/prog'", fx->tree);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	ipm_linkage_release(&l);
}

/* A library of the tree needing another one of the tree needs a RUNPATH as
 * much as a program does. */
static void test_library_needs_runpath_too(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *path = xasprintf("%s/top.c", fx->src);

	tu_write_file(path, "int fix(void);\nint top(void) { return fix(); }\n");
	sh("cc -shared -fPIC -Wl,-soname,libtop.so.2 -o '%s/lib/libtop.so.2.0.1' '%s' '%s/lib/libfix.so.1'",
	   fx->tree, path, fx->tree);
	sh("ln -s libtop.so.2.0.1 '%s/lib/libtop.so.2' && ln -s libtop.so.2 '%s/lib/libtop.so'", fx->tree, fx->tree);
	check(&l, fx, NULL, 0);
	assert_one_problem(&l, IPM_LINKAGE_MISSING, "lib/libtop.so.2.0.1", "libfix.so.1");
	/* Symlinks are not walked: each library is provided once, sorted. */
	assert_int_equal(l.nprovides, 2);
	assert_string_equal(l.provides[0], "libfix.so.1");
	assert_string_equal(l.provides[1], "libtop.so.2");
	ipm_linkage_release(&l);

	sh("cc -shared -fPIC -Wl,-soname,libtop.so.2 -o '%s/lib/libtop.so.2.0.1' '%s' '%s/lib/libfix.so.1' "
	   "-Wl,-rpath,'$ORIGIN'", fx->tree, path, fx->tree);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	ipm_linkage_release(&l);
	free(path);
}

/* ld.so skips a candidate of another machine and keeps looking. */
static void test_wrong_machine_is_skipped(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *other = xasprintf("%s/other", fx->prefix);
	char *extra = xasprintf("-Wl,-rpath,'%s/lib:%s'", fx->prefix, other);
	char *path = xasprintf("%s/lib/libfix.so.1", fx->prefix);
	unsigned char machine[2];
	FILE *f;

	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		skip();
	build_prog(fx, "prog", extra);
	/* Installed already, not staged: the tree's copy would be found first. */
	sh("mkdir -p '%s' && mv '%s/lib/libfix.so.1' '%s/lib/' && cp '%s' '%s/'", other, fx->tree, fx->prefix, path,
	   other);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	ipm_linkage_release(&l);

	machine[0] = EM_S390;  /* some other machine, little-endian like the file */
	machine[1] = 0;
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, offsetof(Elf64_Ehdr, e_machine), SEEK_SET), 0);
	assert_int_equal(fwrite(machine, 1, 2, f), 2);
	assert_int_equal(fclose(f), 0);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);  /* found in the second entry */
	ipm_linkage_release(&l);

	sh("rm '%s/libfix.so.1'", other);
	check(&l, fx, NULL, 0);
	assert_one_problem(&l, IPM_LINKAGE_MISSING, "bin/prog", "libfix.so.1");
	ipm_linkage_release(&l);
	free(path);
	free(extra);
	free(other);
}

/* A staged symlink whose absolute target is its installed path resolves
 * within the tree, where the target is now. */
static void test_absolute_symlink_into_prefix(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *rpath = xasprintf("-Wl,-rpath,'%s/lib'", fx->prefix);

	build_prog(fx, "prog", rpath);
	sh("mv '%s/lib/libfix.so.1' '%s/lib/libfix.so.1.0' && ln -s '%s/lib/libfix.so.1.0' '%s/lib/libfix.so.1'",
	   fx->tree, fx->tree, fx->prefix, fx->tree);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	assert_true(has_str(l.needs, l.nneeds, "libfix.so.1"));
	assert_int_equal(l.nprovides, 1);
	assert_string_equal(l.provides[0], "libfix.so.1");
	ipm_linkage_release(&l);

	/* Dangling once installed: missing. */
	sh("rm '%s/lib/libfix.so.1.0'", fx->tree);
	check(&l, fx, NULL, 0);
	assert_one_problem(&l, IPM_LINKAGE_MISSING, "bin/prog", "libfix.so.1");
	ipm_linkage_release(&l);
	free(rpath);
}

/* A library linked without a soname is needed by its path. */
static void test_needed_by_path(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *installed = xasprintf("%s/lib/libnoso.so", fx->prefix);

	sh("cc -shared -fPIC -o '%s' '%s/fix.c' && cc -o '%s/bin/prog' '%s/prog.c' '%s'", installed, fx->src,
	   fx->tree, fx->src, installed);
	sh("mv '%s' '%s/lib/' && rm '%s/lib/libfix.so.1'", installed, fx->tree, fx->tree);
	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	assert_int_equal(l.nneeds, 1);
	assert_string_equal(l.needs[0], installed);
	assert_int_equal(l.nprovides, 1);
	assert_string_equal(l.provides[0], "libnoso.so");
	ipm_linkage_release(&l);

	sh("rm '%s/lib/libnoso.so'", fx->tree);
	check(&l, fx, NULL, 0);
	assert_one_problem(&l, IPM_LINKAGE_MISSING, "bin/prog", installed);
	ipm_linkage_release(&l);
	free(installed);
}

static void test_skips_what_is_not_linked(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	char *path;

	sh("cd '%s' && cc -c -fPIC fix.c -o fix.o && ar rcs libfix.a fix.o", fx->src);
	sh("cp '%s/libfix.a' '%s/lib/' && cp '%s/fix.o' '%s/lib/libobj.so'", fx->src, fx->tree, fx->src, fx->tree);
	sh("mkfifo '%s/bin/fifo' && ln -s /nonexistent '%s/bin/dangling' && ln -s ../lib '%s/bin/loop'",
	   fx->tree, fx->tree, fx->tree);
	path = xasprintf("%s/bin/script", fx->tree);
	tu_write_file(path, "#!/bin/sh\necho hi\n");
	free(path);
	path = xasprintf("%s/lib/empty", fx->tree);
	tu_write_file(path, "");
	free(path);

	check(&l, fx, NULL, 0);
	assert_no_problems(&l);
	/* The object file is ELF and named like a library, but not one. */
	assert_int_equal(l.nprovides, 1);
	assert_string_equal(l.provides[0], "libfix.so.1");
	assert_int_equal(l.nneeds, 0);
	ipm_linkage_release(&l);

	/* A corrupt ELF file fails the check, naming the file. */
	path = xasprintf("%s/lib/libbad.so.1", fx->tree);
	tu_write_file(path, "\177ELF and garbage");
	assert_int_equal(ipm_linkage_check(&l, fx->tree, fx->prefix, NULL, 0), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "libbad.so.1"));
	assert_null(l.problems);
	assert_null(l.provides);
	free(path);
}

static void test_bad_arguments(void **state)
{
	struct fixture *fx = *state;
	struct ipm_linkage l;
	const char *relative[] = { "build" };
	char *absent = xasprintf("%s/absent", fx->root);

	assert_int_equal(ipm_linkage_check(&l, fx->tree, "relative/prefix", NULL, 0), IPM_EINVAL);
	assert_int_equal(ipm_linkage_check(&l, fx->tree, fx->prefix, relative, 1), IPM_EINVAL);
	assert_int_equal(ipm_linkage_check(&l, absent, fx->prefix, NULL, 0), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_message(), "absent"));
	free(absent);
}

static void test_read_ldconf(void **state)
{
	struct fixture *fx = *state;
	char **dirs = NULL;
	size_t n = 0;
	char *conf = xasprintf("%s/ld.so.conf", fx->root);
	char *path, *text;

	sh("mkdir -p '%s/conf.d' '%s/real' '%s/a' '%s/b' && ln -s real '%s/alias'", fx->root, fx->root, fx->root,
	   fx->root, fx->root);
	text = xasprintf("# comment\n\n  include conf.d/*.conf  \nhwcap 0 nosegneg\n%s/real/  # trailing\n"
			 "%s/alias\n%s/a=libc6\nrelative/dir\ninclude %s/ld.so.conf\n",
			 fx->root, fx->root, fx->root, fx->root);
	tu_write_file(conf, text);
	free(text);
	path = xasprintf("%s/conf.d/2-b.conf", fx->root);
	text = xasprintf("%s/b\n%s/a\n", fx->root, fx->root);
	tu_write_file(path, text);
	free(text);
	free(path);
	path = xasprintf("%s/conf.d/1-first.conf", fx->root);
	tu_write_file(path, "/first/dir\n");
	free(path);
	path = xasprintf("%s/conf.d/ignored.txt", fx->root);
	tu_write_file(path, "/ignored\n");
	free(path);

	assert_int_equal(ipm_linkage_read_ldconf(&dirs, &n, conf), 0);
	for (size_t i = 0; i < n; i++)
		print_message("dir: %s\n", dirs[i]);
	assert_int_equal(n, 4);
	assert_string_equal(dirs[0], "/first/dir");
	path = xasprintf("%s/b", fx->root);
	assert_string_equal(dirs[1], path);
	free(path);
	path = xasprintf("%s/a", fx->root);
	assert_string_equal(dirs[2], path);
	free(path);
	path = xasprintf("%s/real", fx->root);  /* alias is the same directory */
	assert_string_equal(dirs[3], path);
	free(path);
	xfree_strv(dirs, n);

	free(conf);
	conf = xasprintf("%s/no-such.conf", fx->root);
	assert_int_equal(ipm_linkage_read_ldconf(&dirs, &n, conf), 0);
	assert_int_equal(n, 0);
	assert_null(dirs);
	free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_elf_read_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_read_without_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_read_not_elf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runpath_into_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_without_runpath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shadowed_by_system_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runpath_wins_over_system_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_runpath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_origin_runpath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_library_needs_runpath_too, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_machine_is_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absolute_symlink_into_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needed_by_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skips_what_is_not_linked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_ldconf, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
