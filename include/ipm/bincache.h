#ifndef IPM_BINCACHE_H
#define IPM_BINCACHE_H
#include <stddef.h>
#include <stdint.h>
#include "ctx.h"
#include "install.h"
#include "sign.h"
/*
 * Binary caches: a built store tree, kept as a compressed archive under its
 * build key, installs without building, here (the local cache) or on any
 * machine with the same prefix path (remote caches over HTTP).
 *
 * The build key: sha256 of a canonical JSON document (the key's "input")
 *     { "ipm_build": 1, "name", "version", "resolved": commit or sha256,
 *       "subdir", "methods": [ { "name", "build": [...], "install": [...] } ],
 *       "prefix", "os", "arch", "libc", "cc", "c++",
 *       "depends": [ { "name", "key" } ] }
 * Everything a build's result can depend on: the source (its commit or
 * sha256, not its URL, so mirrors do not matter), every method the build may
 * try (with --method, that one), the prefix the files name, the system
 * ("os": uname and /etc/os-release's ID and VERSION_ID; "arch"; "libc";
 * the first line of `cc --version` and `c++ --version`), and the keys of
 * the dependencies' builds. A package with a dependency that has no key (it
 * was installed before keys were recorded) has none either, and builds.
 *
 * Layout, the same locally ($IPM_CACHE/binary/) and under a remote URL:
 *     <key>.tar.zst        the store tree (tar, zstd; paths relative to it)
 *     <key>.json           the manifest (below)
 *     <key>.json.minisig   the manifest's minisign signature (remote only:
 *                          the local cache is this user's own)
 * Manifest: { "ipm_binary_cache": 1, "key", "name", "version", "method",
 *             "archive": "<key>.tar.zst", "sha256", "size", "input": {...} }
 *
 * A remote hit is trusted only when the manifest's signature verifies with
 * the cache's pinned public key, its "key" is the key asked for, and the
 * archive's size and sha256 are the manifest's; it is then kept in the
 * local cache. Extraction is archive.c's (no absolute names, no "..", no
 * link out of the tree), and the tree passes the same linkage check as a
 * built one.
 */

/* Where one plan item's tree comes from, decided by ipm_bincache_plan. */
struct ipm_bincache_choice {
	char *key;          /* its build key; NULL: it has none (why_build says why) */
	char *input;        /* the key's input document */
	char *from;         /* a hit: "local", or the URL of the remote cache */
	char *manifest;     /* a hit: the manifest's text */
	size_t manifest_len;
	char *method;       /* a hit: the method its build used */
	char *why_build;    /* no hit: one line saying why ("not in any binary cache") */
};
void ipm_bincache_choice_free(struct ipm_bincache_choice *c);

/* ---- pure parts (unit-tested) ---- */

/* The key of input (a canonical JSON text): 64 hex digits and a NUL. */
void ipm_bincache_key_of(char out[65], const char *input);

struct ipm_bincache_manifest {
	char *key;
	char *name;
	char *version;
	char *method;
	char *archive;
	char sha256[65];
	uint64_t size;
};
void ipm_bincache_manifest_release(struct ipm_bincache_manifest *m);
/* Parses a manifest's text: IPM_EINVAL "malformed manifest: <what>" for
 * anything missing or of the wrong type, or an archive name that is not
 * "<key>.tar.zst"; IPM_EVERIFY when its key is not expect_key (a valid
 * manifest of another build served under this key). */
int ipm_bincache_manifest_parse(struct ipm_bincache_manifest *out, const char *text, size_t len,
				const char *expect_key);
/* The manifest text for a tree archived as archive_sha256/size. */
char *ipm_bincache_manifest_text(const char *key, const char *input, const char *name, const char *version,
				 const char *method, const char *archive_sha256, uint64_t size);

/* ---- keys ---- */

/*
 * Computes the key of every plan item to install (in order: dependencies
 * first) into item->bincache->key; for an installed dependency its key is
 * read from the database. An item without a key gets why_build. Changes
 * nothing; the system's identity (cc --version ...) is read once a process.
 */
int ipm_bincache_keys(struct ipm_ctx *ctx, const struct ipm_plan *plan);

/*
 * (The items of the plan are filled through its items pointer.)
 * ipm_bincache_keys, then, for each item to install, the local cache and
 * each remote cache in turn (IPM_BINARY_CACHE first, then the config's):
 * the first whose signed manifest verifies is the item's source (from,
 * manifest, method). The items' remote lookups run at the same time, each
 * in a worker (ipm/worker.h; IPM_FETCH_JOBS at once). A cache without a
 * key is skipped with a warning; an unreachable one, or one that answers
 * with a bad signature, is a warning (once per cache; an unreachable one
 * is not asked by the lookups that start after that); the item's
 * why_build says why it builds. Nothing is downloaded but manifests and
 * their signatures. Errors only for what stops everything (IPM_ECANCEL, a
 * worker that cannot be started).
 */
int ipm_bincache_plan(struct ipm_ctx *ctx, const struct ipm_plan *plan);

/*
 * Makes a hit's archive available in the local cache: downloaded from its
 * remote cache (through the mirrors) and checked against the manifest's size
 * and sha256, then kept with its manifest; a local one is checked again.
 * On failure (IPM_EVERIFY for a mismatch, IPM_ENET ...) nothing is kept.
 * A plan runs one per hit, each in a worker process, several at once (as
 * many as its source fetches, IPM_FETCH_JOBS): a download is written under
 * a name of its process's own, and only a verified one is renamed into place.
 */
int ipm_bincache_fetch(struct ipm_ctx *ctx, const struct ipm_bincache_choice *c);

/* Extracts a fetched hit's tree into dest_dir (which must not exist). */
int ipm_bincache_extract(struct ipm_ctx *ctx, const struct ipm_bincache_choice *c, const char *dest_dir);

/*
 * Keeps a built tree in the local cache under key: the archive (written
 * aside, then renamed) and its manifest. A tree with an absolute symbolic
 * link is not kept (IPM_EINVAL naming it): extraction refuses those.
 */
int ipm_bincache_save(struct ipm_ctx *ctx, const char *key, const char *input, const char *name,
		      const char *version, const char *method, const char *store_dir);

/* ---- pushing ---- */

/*
 * Uploads the local cache entry of key to the cache at url (HTTP PUT, or a
 * file:// URL): the archive, the manifest's signature (made with sk), then
 * the manifest, so that a manifest is there only once its files are. An
 * object already there with the same bytes is left alone; a different one
 * is IPM_ECONFLICT, and nothing of this entry is overwritten. *out_sent is
 * the number of objects uploaded (0: all were there).
 */
int ipm_bincache_push(int *out_sent, struct ipm_ctx *ctx, const char *url, const struct ipm_http_auth *auth,
		      const struct ipm_sign_seckey *sk, const char *key);

/* Makes sure the local cache holds the installed package name (archiving its
 * store tree when it does not); *out_key (caller frees) is its key. An
 * installed package without a key is IPM_ENOTFOUND with a hint. */
int ipm_bincache_save_installed(char **out_key, struct ipm_ctx *ctx, const char *name);

/* After item's tree was built into store_dir with method: kept in the local
 * cache, then pushed to every configured cache with "push": true. Each
 * failure is a warning: the install goes on. */
void ipm_bincache_after_build(struct ipm_ctx *ctx, const struct ipm_plan_item *item, const char *method,
			      const char *store_dir);

/* ---- the local cache ---- */

struct ipm_bincache_entry {
	char *key;
	char *name;        /* from the manifest; NULL when unreadable */
	char *version;
	uint64_t bytes;    /* archive, manifest and signature together */
	int64_t mtime;     /* of the archive */
};
/* Every entry of the local cache ($IPM_CACHE/binary), by key; an absent
 * directory is no entries. Free with ipm_bincache_entries_free. */
int ipm_bincache_list(struct ipm_bincache_entry **out, size_t *nout, const char *cache_dir);
void ipm_bincache_entries_free(struct ipm_bincache_entry *e, size_t n);
/* Deletes one entry's files (missing ones are fine). */
int ipm_bincache_remove(const char *cache_dir, const char *key);
#endif
