#ifndef IPM_INSPECT_H
#define IPM_INSPECT_H
#include <stddef.h>
#include "ctx.h"
#include "db.h"
/*
 * Looking at what is installed without changing it: which package owns a
 * path, and whether the installed files, links and directories are still
 * what ipm put there (`ipm which`, `ipm files`, `ipm verify`). Reads the
 * database, the prefix and the store; needs no network and no lock.
 */

/*
 * The installed package name with its files (with_files), as
 * ipm_db_package_get. A name that is not installed is IPM_ENOTFOUND
 * "package 'NAME' is not installed", hinting at the closest installed name
 * ("did you mean 'jq'?") or else at `ipm list`.
 */
int ipm_inspect_package(struct ipm_package_row *out, struct ipm_ctx *ctx, const char *name, int with_files);

struct ipm_owner {
	char *name;      /* the owning package */
	char *version;   /* its installed version */
	char *path;      /* the path asked about, absolute and normalised (". ", ".." and
			  * "//" removed as text; symlinks not followed) */
	char *file;      /* the prefix path the package installed: path itself, or where
			  * a symlink (or a path into the package's store tree) leads */
};
void ipm_owner_release(struct ipm_owner *o);

/*
 * The package that owns path, relative to the working directory or
 * absolute. Found through the files table (its path index): path itself
 * when it lies in the prefix (also a link ipm made that is gone now); else
 * where path leads, one symlink at a time (a link of the user's to a prefix
 * file, up to 40 links); else a path inside an installed package's store
 * tree; else the path with every symlink resolved (a prefix reached through
 * a linked directory). IPM_ENOTFOUND "'PATH' is not owned by any package"
 * when none, with a hint naming the prefix when path lies outside it.
 */
int ipm_which(struct ipm_owner *out, struct ipm_ctx *ctx, const char *path);

enum ipm_verify_kind {
	IPM_VERIFY_MODIFIED,        /* a file's sha256 differs from the recorded one, or a
				     * store symlink became something else */
	IPM_VERIFY_DELETED,         /* the store's file (what the link shows) is gone */
	IPM_VERIFY_BROKEN,          /* a store symlink whose target does not exist */
	IPM_VERIFY_LINK_MISSING,    /* the prefix link is gone */
	IPM_VERIFY_LINK_WRONG,      /* the prefix link points elsewhere (detail: its target) */
	IPM_VERIFY_REPLACED,        /* the prefix path is no link at all */
	IPM_VERIFY_DIR_MISSING,     /* a directory ipm created is gone */
	IPM_VERIFY_NOT_DIR,         /* ... or is no directory now */
	IPM_VERIFY_STORE_MISSING,   /* the whole store tree is gone (its files are not listed) */
	IPM_VERIFY_LIB_MISSING,     /* an ELF file needs a library found nowhere (detail: soname) */
	IPM_VERIFY_LIB_SHADOWED,    /* ... that resolves to the system's copy instead of the prefix's */
	IPM_VERIFY_BAD_RUNPATH,     /* a run-time path into ipm's build or store trees */
	IPM_VERIFY_UNREADABLE,      /* something could not be checked (detail: why) */
};

struct ipm_verify_problem {
	enum ipm_verify_kind kind;
	const char *package;
	const char *path;      /* absolute: the prefix path, or the store tree for STORE_MISSING */
	const char *detail;    /* see the kinds; NULL when none */
	const char *message;   /* the problem in words, e.g. "modified (sha256 differs)",
				* "needs libfoo.so.1: not found" */
};

/* Short names of the kinds, for --json: "modified", "link-missing", ... */
const char *ipm_verify_kind_name(enum ipm_verify_kind kind);

struct ipm_verify_stats {
	size_t packages, files, links, dirs;   /* what was checked */
	size_t problems;
};

/* Called once per problem, in package order, then by path, linkage last;
 * the strings are valid during the call only. Non-zero stops the check. */
typedef int (*ipm_verify_fn)(void *ctx, const struct ipm_verify_problem *p);

/*
 * Checks the named installed packages (every one when nnames is 0): each
 * regular file's sha256 in the store against the files table, each prefix
 * link (it exists and points at the same path in the package's store tree),
 * each directory ipm created, and the run-time linkage of the store tree's
 * ELF files as installed in the prefix (ipm_linkage_check: a library found
 * nowhere, one loaded from the system instead of the prefix, a run-time path
 * into ipm's trees). Problems go to fn; the return value is < 0 only when
 * the check itself failed (an unknown name, checked before anything else,
 * with ipm_inspect_package's message; a database error). stats may be NULL.
 */
int ipm_verify(struct ipm_verify_stats *stats, struct ipm_ctx *ctx, const char *const *names, size_t nnames,
	       ipm_verify_fn fn, void *fn_ctx);
#endif
