#ifndef IPM_SPARSE_H
#define IPM_SPARSE_H
#include <stddef.h>
#include <stdint.h>
#include "ctx.h"
#include "db.h"
#include "publish.h"
#include "sign.h"
/*
 * Sparse registries: an HTTP registry served as many small files, so that
 * an update fetches what changed and an install what it needs.
 *
 *   index.json               the root, at the registry's URL:
 *     {"registry":{...},"version":N,"expires":"...","format":"ipm-sparse-1",
 *      "packages":COUNT,"shards":[
 *     {"id":"3f","sha256":"<sha256 of shards/3f.json>","size":BYTES},
 *     ...]}
 *   index.json.minisig       its signature, when signed
 *   shards/<id>.json         one per shard that has packages:
 *     {"shard":"3f","packages":[
 *     {"name":"zlib","sha256":"<sha256 of its package file>",
 *      "repo":"madler/zlib","description":"...","keywords":["..."]},
 *     ...]}
 *   packages/<path>          one entry per file (ipm_sparse_package_path)
 *
 * A package's shard is the first two hex digits of the sha256 of its name:
 * 256 shards, so the root stays a few KiB and a shard of a 100,000-package
 * registry about 400 lines. The root names each shard's digest and each
 * shard each package file's: a signed root verifies every file fetched.
 * Files are named after their package, so a client asks for exactly the
 * ones whose digest changed. The root is told from a single-document index
 * by its "shards" member.
 */

#define IPM_SPARSE_FORMAT "ipm-sparse-1"

/* The shard of a package name: two lower-case hex digits and a NUL. */
void ipm_sparse_shard_of(char out[3], const char *name);
/* The path of name's package file under the root's directory, cargo's
 * layout, so that no directory holds more than a few hundred files:
 * packages/1/a.json, packages/2/ab.json, packages/3/a/abc.json,
 * packages/ab/cd/abcdef.json. Caller frees. */
char *ipm_sparse_package_path(const char *name);

/* ---- publishing (ipm registry build DIR OUTDIR) ---- */

struct ipm_sparse_stats {
	size_t npackages;
	size_t nshards;
	size_t written;      /* files written (package files, shards, root) */
	size_t removed;      /* files of packages or shards no longer there */
	int root_written;
	int64_t version;     /* the root's stamp, 0 when unstamped */
	int64_t expires;
};

/*
 * Writes the sparse layout of ix (ipm_publish_index's document) into
 * outdir (created when missing): package files first, then shards, then
 * the root, then its signature (sk non-NULL), so that a client reading
 * during a publish finds every file its root names. Files that already
 * hold the same bytes are left as they are (their ETags stay); files of
 * packages and shards no longer in the registry are removed. valid_for
 * > 0 stamps the root with "version" and "expires" as ipm_publish_stamp
 * does (kept when nothing else changed).
 */
int ipm_sparse_publish(struct ipm_sparse_stats *out, const struct ipm_index *ix, const char *outdir, int64_t now,
		       int64_t valid_for, const struct ipm_sign_seckey *sk);

/* ---- fetching ---- */

/*
 * Imports the sparse root text (already verified, for a registry with a
 * key, and its freshness read into row) of registry r: fetches the shards
 * whose digest changed and, of the packages whose digest changed, the
 * files this database holds, several at a time and each conditional;
 * verifies every file against the digest that names it; then, in one
 * transaction, writes the rows of the changed entries only (or all rows
 * when full, or the first time). Nothing changes when anything fails.
 * root_etag and root_modified are the root's validators; the root's text
 * is kept. only_name (NULL: all) limits the shards to the one that name
 * is in: what a lookup needs (the other shards wait for the next update).
 * *out_fetched (may be NULL): the files fetched.
 */
int ipm_sparse_import(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, const struct ipm_registry_row *row,
		      const char *text, size_t len, const char *root_etag, const char *root_modified, int full,
		      const char *only_name, size_t *out_fetched);
/* ipm_sparse_import of the root kept in the database (an unchanged root,
 * answered 304): fetches the shards not fetched yet (only_name: the one
 * that name is in). */
int ipm_sparse_complete(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, const char *only_name,
			size_t *out_fetched);
/* 1 when the shard of name was fetched from sparse registry `registry`, 0
 * when not, -1 when the registry was never imported as sparse. */
int ipm_sparse_shard_held(struct ipm_ctx *ctx, const char *registry, const char *name);

/*
 * The entry of package name of sparse registry `registry`, whose package
 * file was not fetched yet: fetches it, checks its sha256 against the one
 * its shard listed, and returns its text (caller frees). The database
 * keeps it when the context holds the lock (a writer).
 */
int ipm_sparse_fetch_entry(char **out_json, struct ipm_ctx *ctx, const char *registry, const char *name);
#endif
