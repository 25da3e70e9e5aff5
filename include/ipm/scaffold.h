#ifndef IPM_SCAFFOLD_H
#define IPM_SCAFFOLD_H
#include <stddef.h>
#include "fetch.h"
/*
 * Writing a new registry entry (ipm registry new): the source is pinned
 * (git: the full commit id of a tag or of the default branch, read with
 * libgit2 from a bare mirror; archive: the sha256 of the download), and a
 * recipe is guessed from the build files at the top of the source (and the
 * text of its Makefile), without checking anything out or extracting
 * anything. A description and license not given are read from the README and
 * the LICENSE or COPYING file of a git source (ipm/detect.h).
 *
 * The entry is checked with ipm_entry_check before it is written, with
 * placeholders for what the contributor fills in later (description, a method
 * when no build file was found), so a bad name, version, license or URL is
 * refused with the message `install` would give.
 */

struct ipm_scaffold_opts {
	const char *name;
	const char *path;         /* where the entry goes (named in messages) */
	const char *git;          /* exactly one of git and url */
	const char *tag;          /* git only; NULL: the default branch's HEAD */
	const char *url;
	const char *version;      /* NULL: from the tag or the file name */
	const char *description;  /* optional */
	const char *license;      /* optional, SPDX */
	const char *homepage;     /* optional; default: an https git URL without ".git" */
	const char *commit;       /* git only, without tag: a full commit id pinned instead of HEAD */
};

struct ipm_scaffold {
	char *json;          /* the entry: 2-space indented, stable key order, final newline */
	char *version;
	char *version_from;  /* "--version", "tag 'v1.2'", "file name 'x-1.2.tar.gz'" */
	char *commit;        /* git: 40 lowercase hex */
	char *tag;           /* git: the tag written, or NULL */
	char *sha256;        /* archive */
	char *found;         /* build files found, "CMakeLists.txt, Makefile"; "" for none */
	char *methods;       /* methods written, "cmake, make"; "" for none */
	char *missing;       /* fields left for the contributor, "description, license, keywords" */
	char *description_from;  /* the file the description was read from ("README.md"), or NULL */
	char *license_from;      /* the file the license was matched in ("LICENSE"), or NULL */
};
void ipm_scaffold_release(struct ipm_scaffold *s);

/*
 * Builds the entry for opts (fetching the source through ctx's cache and
 * mirrors). Nothing is written. Errors: IPM_EINVAL for bad options or an entry
 * that breaks a rule (the first problem, as ipm_entry_check words it),
 * IPM_EEXISTS when opts->path exists, IPM_ENOTFOUND for an unknown tag (the
 * hint names tags that exist), IPM_ENET for a URL that cannot be fetched.
 */
int ipm_scaffold_make(struct ipm_scaffold *out, const struct ipm_fetch_ctx *ctx,
		      const struct ipm_scaffold_opts *opts);

/* Writes json to path, never over an existing file (IPM_EEXISTS). */
int ipm_scaffold_write(const char *path, const char *json);

/*
 * The registry directory to write into: dir itself when given (it must hold
 * packages/), else ./registry when ./registry/packages exists, else . when
 * ./packages exists; IPM_ENOTFOUND with a hint otherwise.
 */
int ipm_scaffold_registry_dir(char **out_dir, const char *dir);

/*
 * A version read from a release tag: "v1.2.3", "jq-1.7.1", "pcre2-10.42",
 * "version-3.45.0", "curl-7_88_1" ('_' becomes '.'), "1.0.19-RELEASE"
 * (a -release/-stable/-final suffix is dropped). NULL when the tag holds no
 * valid version. Caller frees.
 */
char *ipm_scaffold_version_from_tag(const char *tag);
/* The same for an archive URL's file name: ".../foo-1.2.3.tar.gz" -> "1.2.3". */
char *ipm_scaffold_version_from_url(const char *url);

/*
 * What the guess looks at: the file names at the source's top level, whether
 * include/ holds headers, and the text of the top-level Makefile (NULL when
 * it was not read, as for archives: then a Makefile is taken to have an
 * install target that honours PREFIX and DESTDIR).
 */
struct ipm_scaffold_tree {
	char *const *files;
	size_t nfiles;
	int include_headers;
	const char *makefile;
	const char *cmakelists;   /* the top-level CMakeLists.txt's text, or NULL */
	const char *name;         /* the package's name, or NULL */
};

/*
 * The methods guessed for tree, most conventional first: "cmake"
 * (CMakeLists.txt), "meson" (meson.build), "configure" (configure),
 * "autotools" (configure.ac or configure.in without configure: autoreconf
 * -fi first), "make" (Makefile, makefile or GNUmakefile with an install
 * target, unless a configure script or configure.ac generates it); when
 * none of these was found, "program" for a Makefile without an install target
 * but with a rule for the program named like the package (built with that
 * rule, copied into bin/ with its NAME.1 man page), else "headers" for a
 * header-only library (.h files at
 * the top without .c files other than examples and tests, or headers in
 * include/). Fills names (at most IPM_SCAFFOLD_MAX_METHODS) and returns how
 * many.
 */
#define IPM_SCAFFOLD_MAX_METHODS 6
size_t ipm_scaffold_guess_tree(const char *names[IPM_SCAFFOLD_MAX_METHODS], const struct ipm_scaffold_tree *tree);
/* ipm_scaffold_guess_tree on file names alone (no Makefile text, no include/). */
size_t ipm_scaffold_guess(const char *names[IPM_SCAFFOLD_MAX_METHODS], char *const *files, size_t nfiles);

/*
 * A guessed method's steps. Every recipe configures or builds for
 * "$IPM_PREFIX" and installs under "$DESTDIR$IPM_PREFIX"; LDFLAGS (the rpath)
 * comes from the environment.
 *
 * "cmake": options of the project's own that build documentation, tests,
 * examples, fuzzers or benchmarks and default to ON (option(FOO_BUILD_DOCS
 * "..." ON)) are turned OFF, as is BUILD_TESTING where the project uses
 * it: they need tools (Doxygen, GTest) that a library's users lack.
 *
 * "make": the Makefile's text decides the variable given on the command line
 * (PREFIX, or prefix when only that one is used, both when both are, none
 * when neither), at build time too, so that a path compiled in is the final
 * prefix. When the Makefile never mentions DESTDIR, install gets
 * PREFIX="$DESTDIR$IPM_PREFIX": make rebuilds by timestamps, not by variables,
 * so what was built keeps "$IPM_PREFIX"; only files the install rule itself
 * writes would carry the staging path, and of those the .pc files (the usual
 * case) get it removed by one more step.
 */
#define IPM_SCAFFOLD_MAX_STEPS 6
struct ipm_scaffold_method {
	const char *name;
	char *build[IPM_SCAFFOLD_MAX_STEPS + 1];     /* NULL-terminated */
	char *install[IPM_SCAFFOLD_MAX_STEPS + 1];   /* NULL-terminated */
	const char *tools[4];                        /* NULL-terminated, for "requires" */
};
/* Fills out with the steps of method name for tree; IPM_EINVAL for an unknown name. */
int ipm_scaffold_method(struct ipm_scaffold_method *out, const char *name, const struct ipm_scaffold_tree *tree);
void ipm_scaffold_method_release(struct ipm_scaffold_method *m);
#endif
