#ifndef IPM_STAGE_H
#define IPM_STAGE_H
#include <stddef.h>
/*
 * Staging: what happens between a recipe's last step and the commit.
 *
 * A recipe builds for the real prefix (IPM_PREFIX) and installs under an
 * empty staging directory (DESTDIR), so that every path it writes into its
 * files names the prefix, never a private directory of ipm. The staged tree,
 * $DESTDIR$IPM_PREFIX, then becomes the package's store directory, whose
 * files are linked into the prefix at the same relative paths.
 */

struct ipm_tree_file {
	char *rel;    /* relative to the walked root */
	char type;    /* 'f' regular file, 'l' symlink, 'd' directory */
};

struct ipm_tree {
	struct ipm_tree_file *files;
	size_t n, alloc;
};

/* Lists root recursively without following symlinks, parents before
 * children, sorted by name within a directory. Sockets, fifos and devices
 * are left out. */
int ipm_tree_walk(struct ipm_tree *out, const char *root);
void ipm_tree_release(struct ipm_tree *t);
/* 1 when the tree under root holds nothing but directories (or is missing). */
int ipm_tree_is_empty(const char *root);

/*
 * The entries of a directory at one moment, to find what appeared in it
 * later: a recipe that ignores DESTDIR writes into the prefix itself, and
 * what it wrote must be named and taken away.
 */
struct ipm_snapshot {
	char **paths;   /* sorted, relative to the root */
	size_t n;
	int root_existed;
};
/* A missing root is an empty snapshot. */
int ipm_snapshot_take(struct ipm_snapshot *out, const char *root);
void ipm_snapshot_release(struct ipm_snapshot *s);
/* *out: the entries under root that are not in s, parents before children;
 * when root itself is new, "." comes first. */
int ipm_snapshot_new_entries(char ***out, size_t *nout, const struct ipm_snapshot *s, const char *root);
/* Removes root/paths[i] (files and links, then the directories, deepest
 * first; "." is root itself); errors are ignored: this is clean-up. */
void ipm_remove_entries(const char *root, char *const *paths, size_t n);

/*
 * Moves the staged tree stage_dir/<prefix> to store_dir (which must not
 * exist; its parent is created). Anything staged outside the prefix is
 * IPM_EBUILD naming it: a package owns files under the prefix only.
 * Set-user-ID and set-group-ID bits are cleared and every entry is made the
 * running user's: a recipe hands out no privileges.
 * IPM_ENOTFOUND (message set) when nothing was staged under the prefix.
 */
int ipm_stage_adopt(const char *stage_dir, const char *prefix, const char *store_dir);

/*
 * Adds `-Wl,-rpath,${libdir}` to the Libs: line of every pkg-config file
 * under tree (lib/pkgconfig, share/pkgconfig) that links with -L${libdir}
 * and names no rpath yet: a program built with `pkg-config --libs` then
 * loads the prefix's copy of the library, not a system one of the same
 * soname. Files are rewritten in place.
 */
int ipm_pc_add_rpath(const char *tree);

/* *out: the regular files under tree (relative) whose bytes contain needle. */
int ipm_tree_grep(char ***out, size_t *nout, const char *tree, const char *needle);
#endif
