#ifndef IPM_PUBLISH_H
#define IPM_PUBLISH_H
#include <stddef.h>
#include <stdint.h>
#include "entry.h"
#include "sign.h"
/*
 * Publishing a registry directory (registry.json + packages/<name>.json) as
 * the one document an HTTP registry serves (layout in registry.h):
 *
 *   {"registry":{"name":...,"description":...,"home":...,"commit":...},"packages":[
 *   {entry},
 *   ...
 *   ]}
 *
 * The HTTP import reads nothing else, so this one file is the whole
 * published registry. The same input gives the same bytes, so a web server
 * keeps its ETag and clients get a 304 for a rebuild that changed nothing.
 *
 * A signed index also says which version it is and until when it is valid,
 * after the "registry" object: {"registry":{...},"version":N,"expires":"...",
 * "packages":[ (ipm_publish_stamp), and its signature is written beside it
 * as OUT.minisig (ipm_publish_sign).
 */

struct ipm_index {
	char *json;         /* the document, ending in a newline */
	size_t len;
	size_t npackages;
	char *home;         /* the "registry" object's home and commit, NULL when absent */
	char *commit;
	size_t packages_at; /* offset in json of ,"packages": (where the stamp goes) */
	int64_t version;    /* the stamp, 0 until ipm_publish_stamp */
	int64_t expires;
};
void ipm_index_release(struct ipm_index *ix);

/*
 * Checks, before any work, that the index can be written to out_path for
 * registry dir: dir is a directory holding packages/, out_path's directory
 * exists, out_path is not a directory and does not lie inside dir (where it
 * would become part of the registry it is built from). IPM_ENOTFOUND /
 * IPM_EINVAL with a message and hint.
 */
int ipm_publish_check_paths(const char *dir, const char *out_path);

/*
 * Compiles registry directory dir. Every .json file in packages/ is checked with
 * ipm_entry_check(flags) and the file-name rule, registry.json is checked as
 * the import checks it, and every problem is appended to *problems (files are
 * named as dir/packages/<file>). Entries are sorted by name, each printed
 * compactly from its file's JSON, one per line.
 *
 * Entries with "git": "self" install from the repository holding the
 * registry, so the document must say which: "home" and "commit" come from
 * registry.json, else from the git repository holding dir (the URL of its
 * remote "origin", its HEAD commit); a problem when neither says. Without
 * "self" entries, home and commit are written only when registry.json has
 * them, so that the document does not change with every commit.
 *
 * Returns 0 with *out filled; IPM_EINVAL when a problem was found (*out
 * empty, the first problem in the error slot); another negative code, with
 * nothing appended, when dir cannot be read at all.
 */
int ipm_publish_index(struct ipm_index *out, struct ipm_problems *problems, const char *dir, unsigned flags);

/*
 * Adds "version" and "expires" to ix->json. When the file at out_path holds
 * the same index (the same bytes but for these two fields) and expires more
 * than valid_for / 2 seconds after now, its version and expiry are kept, so
 * that a rebuild that changed nothing changes no byte (*out_kept 1).
 * Otherwise version = max(its version + 1, now): the build time, so that
 * builds from fresh checkouts (CI) count up too, and expires = now +
 * valid_for (*out_kept 0).
 */
int ipm_publish_stamp(struct ipm_index *ix, int *out_kept, const char *out_path, int64_t now, int64_t valid_for);

/*
 * Writes out_path.minisig, the signature of ix->json with sk (trusted
 * comment as minisign writes it: timestamp, file name, "hashed"), unless
 * the file there already verifies for these bytes with sk's public key
 * (*out_written says which). Write the index first: a client that reads
 * between the two writes refuses the pair and keeps its previous index.
 */
int ipm_publish_sign(int *out_written, const struct ipm_index *ix, const char *out_path,
		     const struct ipm_sign_seckey *sk);

/*
 * Writes data to path atomically (path.tmp, fsync, rename), unless path
 * already holds exactly these bytes: then the file is left as it is (same
 * inode and mtime, so the ETag a server derives from them stays).
 * *out_written says which.
 */
int ipm_publish_write(int *out_written, const char *path, const char *data, size_t len);
#endif
