#ifndef IPM_LAYER_H
#define IPM_LAYER_H
/*
 * The layers: the parts of ipm that need heavy libraries, each a shared
 * object that the ipm program loads the first time one of its functions is
 * called (src/layer_load.c). Loading those libraries and the fifty they
 * depend on was most of the start-up time of a command that only reads the
 * database (list, info, search, --version), so the ipm program does not
 * link them (see mk/ipm.mk):
 *   ipm-fetch.so   downloads, git, archives, binary caches (libcurl,
 *                  libgit2, libarchive): IPM_FETCH_SRC;
 *   ipm-digest.so  what checking installed files needs: sha256 (libcrypto)
 *                  and run-time linkage (libelf): IPM_DIGEST_SRC, apart so
 *                  that `ipm verify`, which checks but fetches nothing,
 *                  does not load the fetch layer.
 * The rest of ipm calls these functions by their usual names, unaware of
 * the loading; a layer calls the rest of ipm, and the other layer, in the
 * program. libipm.a (the unit tests, the bench tools) links the same files
 * directly.
 *
 * Each function of a layer that is called from outside it is one line of
 * its list: INT(name, (params), (args)) for a function returning an int
 * error code, PTR(type, name, (params), (args)) for one returning a pointer
 * and VOID(name, (params), (args)) for one returning nothing. A new call
 * into a layer that is missing here fails the link of ipm (undefined
 * reference), never silently.
 *
 * ipm_fetch_init and ipm_fetch_shutdown are not listed: the fetch layer
 * initialises itself when it is loaded, and is shut down only if it was.
 */
#include <stddef.h>
#include <stdint.h>
#include "ipm/bincache.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/linkage.h"
#include "ipm/publish.h"
#include "ipm/repo.h"
#include "ipm/scaffold.h"

#define IPM_FETCH_LAYER(INT, PTR, VOID) \
	INT(ipm_fetch_source, (const struct ipm_fetch_ctx *ctx, const struct ipm_source *src), (ctx, src)) \
	INT(ipm_fetch_unpack, (const struct ipm_fetch_ctx *ctx, const struct ipm_source *src, \
			       const char *dest_dir), (ctx, src, dest_dir)) \
	INT(ipm_git_mirror, (char **out_dir, char **out_head, const struct ipm_fetch_ctx *ctx, \
			     const char *url), (out_dir, out_head, ctx, url)) \
	INT(ipm_git_head, (char **out_commit, char **out_toplevel, const char *path), \
	    (out_commit, out_toplevel, path)) \
	INT(ipm_git_checkout, (const char *git_dir, const char *commit, const char *dest_dir), \
	    (git_dir, commit, dest_dir)) \
	INT(ipm_git_read, (const char *git_dir, const char *commit, const char *path, int dir, \
			   ipm_git_file_fn fn, void *opaque), (git_dir, commit, path, dir, fn, opaque)) \
	INT(ipm_http_get, (struct ipm_http_doc *out, const struct ipm_fetch_ctx *ctx, const char *url, \
			   const char *etag), (out, ctx, url, etag)) \
	INT(ipm_http_download, (const struct ipm_fetch_ctx *ctx, const char *url, const char *path), \
	    (ctx, url, path)) \
	INT(ipm_http_download_sized, (const struct ipm_fetch_ctx *ctx, const char *url, const char *path, \
				      unsigned long long size), (ctx, url, path, size)) \
	VOID(ipm_http_doc_release, (struct ipm_http_doc *d), (d)) \
	INT(ipm_http_get_many, (const struct ipm_fetch_ctx *ctx, struct ipm_http_req *reqs, size_t n, \
				unsigned max_parallel), (ctx, reqs, n, max_parallel)) \
	VOID(ipm_http_reqs_release, (struct ipm_http_req *reqs, size_t n), (reqs, n)) \
	INT(ipm_archive_extract, (const char *archive, const char *dest_dir, int strip), \
	    (archive, dest_dir, strip)) \
	INT(ipm_archive_extract_limited, (const char *archive, const char *dest_dir, int strip, \
					  const struct ipm_limits *limits), (archive, dest_dir, strip, limits)) \
	INT(ipm_repo_spec_parse, (struct ipm_repo_spec *out, const char *spec), (out, spec)) \
	VOID(ipm_repo_spec_release, (struct ipm_repo_spec *s), (s)) \
	PTR(char *, ipm_repo_url_normalize, (const char *url), (url)) \
	INT(ipm_repo_guess, (struct ipm_repo_guess *out, const struct ipm_fetch_ctx *ctx, const char *url, \
			     const char *name, const char *at), (out, ctx, url, name, at)) \
	VOID(ipm_repo_guess_release, (struct ipm_repo_guess *g), (g)) \
	INT(ipm_scaffold_make, (struct ipm_scaffold *out, const struct ipm_fetch_ctx *ctx, \
				const struct ipm_scaffold_opts *opts), (out, ctx, opts)) \
	INT(ipm_scaffold_write, (const char *path, const char *json), (path, json)) \
	INT(ipm_scaffold_registry_dir, (char **out_dir, const char *dir), (out_dir, dir)) \
	VOID(ipm_scaffold_release, (struct ipm_scaffold *s), (s)) \
	INT(ipm_publish_check_paths, (const char *dir, const char *out_path), (dir, out_path)) \
	INT(ipm_publish_index, (struct ipm_index *out, struct ipm_problems *problems, const char *dir, \
				unsigned flags), (out, problems, dir, flags)) \
	INT(ipm_publish_stamp, (struct ipm_index *ix, int *out_kept, const char *out_path, int64_t now, \
				int64_t valid_for), (ix, out_kept, out_path, now, valid_for)) \
	INT(ipm_publish_sign, (int *out_written, const struct ipm_index *ix, const char *out_path, \
			       const struct ipm_sign_seckey *sk), (out_written, ix, out_path, sk)) \
	INT(ipm_publish_write, (int *out_written, const char *path, const char *data, size_t len), \
	    (out_written, path, data, len)) \
	VOID(ipm_index_release, (struct ipm_index *ix), (ix)) \
	VOID(ipm_bincache_choice_free, (struct ipm_bincache_choice *c), (c)) \
	INT(ipm_bincache_keys, (struct ipm_ctx *ctx, const struct ipm_plan *plan), (ctx, plan)) \
	INT(ipm_bincache_plan, (struct ipm_ctx *ctx, const struct ipm_plan *plan), (ctx, plan)) \
	INT(ipm_bincache_fetch, (struct ipm_ctx *ctx, const struct ipm_bincache_choice *c), (ctx, c)) \
	INT(ipm_bincache_extract, (struct ipm_ctx *ctx, const struct ipm_bincache_choice *c, \
				   const char *dest_dir), (ctx, c, dest_dir)) \
	INT(ipm_bincache_push, (int *out_sent, struct ipm_ctx *ctx, const char *url, \
				const struct ipm_http_auth *auth, const struct ipm_sign_seckey *sk, const char *key), \
	    (out_sent, ctx, url, auth, sk, key)) \
	INT(ipm_bincache_save_installed, (char **out_key, struct ipm_ctx *ctx, const char *name), \
	    (out_key, ctx, name)) \
	VOID(ipm_bincache_after_build, (struct ipm_ctx *ctx, const struct ipm_plan_item *item, \
					const char *method, const char *store_dir), (ctx, item, method, store_dir)) \
	INT(ipm_bincache_list, (struct ipm_bincache_entry **out, size_t *nout, const char *cache_dir), \
	    (out, nout, cache_dir)) \
	VOID(ipm_bincache_entries_free, (struct ipm_bincache_entry *e, size_t n), (e, n))

#define IPM_DIGEST_LAYER(INT, PTR, VOID) \
	INT(ipm_sha256_file, (char out_hex[65], const char *path), (out_hex, path)) \
	VOID(ipm_sha256_hex, (char out_hex[65], const void *data, size_t len), (out_hex, data, len)) \
	INT(ipm_linkage_check, (struct ipm_linkage *out, const char *tree_root, const char *prefix, \
				const char *const *forbidden, size_t nforbidden), \
	    (out, tree_root, prefix, forbidden, nforbidden)) \
	VOID(ipm_linkage_release, (struct ipm_linkage *l), (l))

#define IPM_LAYER_FIELD_INT(name, params, args) int (*name) params;
#define IPM_LAYER_FIELD_PTR(type, name, params, args) type (*name) params;
#define IPM_LAYER_FIELD_VOID(name, params, args) void (*name) params;
#define IPM_LAYER_FIELDS(LIST) LIST(IPM_LAYER_FIELD_INT, IPM_LAYER_FIELD_PTR, IPM_LAYER_FIELD_VOID)

/* A list as one string: a layer built from another list (another version
 * of ipm) is refused rather than called wrongly. */
#define IPM_LAYER_SIG_INT(name, params, args) #name #params ";"
#define IPM_LAYER_SIG_PTR(type, name, params, args) #type #name #params ";"
#define IPM_LAYER_SIG(LIST) LIST(IPM_LAYER_SIG_INT, IPM_LAYER_SIG_PTR, IPM_LAYER_SIG_INT)

/* What each shared object exports, as its one symbol ("ipm_fetch_layer",
 * "ipm_digest_layer"). Each starts with its list's signature. */
struct ipm_fetch_layer {
	const char *sig;         /* IPM_LAYER_SIG(IPM_FETCH_LAYER) when built */
	int (*init)(void);
	void (*shutdown)(void);
	IPM_LAYER_FIELDS(IPM_FETCH_LAYER)
};

struct ipm_digest_layer {
	const char *sig;         /* IPM_LAYER_SIG(IPM_DIGEST_LAYER) when built */
	IPM_LAYER_FIELDS(IPM_DIGEST_LAYER)
};
#endif
