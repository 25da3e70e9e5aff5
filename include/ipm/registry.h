#ifndef IPM_REGISTRY_H
#define IPM_REGISTRY_H
#include <stddef.h>
#include <stdint.h>
#include "ctx.h"
#include "entry.h"
/*
 * Registries and their import into the database.
 *
 * A registry directory (the bundled one, a git registry's checkout) holds
 *   registry.json            { "name": ..., "home": git URL of the repository
 *                              holding it, "commit": optional }
 *   packages/<name>.json     one entry per package
 * An HTTP registry serves one index document:
 *   { "registry": { "name", "home", "commit" }, "version": N, "expires": "YYYY-MM-DDTHH:MM:SSZ",
 *     "packages": [ entry, ... ] }
 * fetched with If-None-Match, so an unchanged registry costs one 304.
 * "version" (a counter that only grows) and "expires" (UTC) are optional,
 * and required of a signed index: a registry whose config pins a key
 * ("key") also fetches URL.minisig, the index's minisign signature (sign.h),
 * and imports the index only when the signature verifies with that key, it
 * has not expired, and its version is not lower than the one imported
 * last (a replay); otherwise the previous index stays, and the error says
 * which of these failed.
 *
 * A sparse HTTP registry (sparse.h) serves a small root at its URL instead,
 * told from an index by its "shards": the same conditional GET (with
 * If-Modified-Since too), the same signature and freshness checks of the
 * root, then ipm_sparse_import fetches what changed. Its entries' package
 * files are fetched when a lookup first needs them, and a writer's lookup
 * that finds nothing fetches the shard the name is in (ipm_registry_find).
 *
 * Transport: a registry's URL and the sources of its packages must not be
 * plain http:// (ftp://, git://) unless its config says "insecure": true or
 * one of the user's mirror rules matches the URL (ipm_url_check_transport).
 *
 * Nothing parses registry files at lookup time: ipm_registry_sync imports
 * them into the database (entries, FTS, name vectors) and lookups read it.
 */

/*
 * Brings registry r's index up to date. LOCAL: re-imports when the digest of
 * its files' names, sizes and mtimes changed (cheap, so every command calls it
 * through ipm_registry_sync_local). GIT (network): fetches the mirror and
 * imports when its HEAD moved. HTTP (network): conditional GET, imports on 200.
 * *out_changed (may be NULL) says whether anything was imported.
 * A malformed entry fails the whole import (message: file, line, column) and
 * leaves the previous index.
 */
int ipm_registry_sync(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, int *out_changed);
/* ipm_registry_sync with flags: IPM_SYNC_FORCE imports again whatever the
 * change stamp says (for HTTP: no If-None-Match, so a server that answers
 * 304 forever cannot freeze the index). An HTTP registry with a key whose
 * imported index has expired is fetched that way too. */
enum { IPM_SYNC_FORCE = 1 };
int ipm_registry_sync_flags(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, unsigned flags,
			    int *out_changed);
/*
 * Imports an index document (the layout above; members in any order, each
 * at most once) into db as registry row->name, in one transaction: every
 * entry validated as ipm_entry_parse does, and stored as the text it was
 * sent as; "registry" gives row's home and home_commit. The document is
 * read where it lies, never copied or parsed whole (entries are parsed one
 * at a time). Errors roll the whole import back, the previous index stays:
 * IPM_EINVAL "malformed JSON in '<origin>' at line L, column C", "unknown
 * field", "'<origin>' has no \"packages\" array", an invalid entry (named
 * "<origin>: packages[I] '<name>'"). *count (may be NULL) gets the number
 * of entries. "version" and "expires" are only checked to be JSON here:
 * ipm_registry_index_freshness reads them.
 */
struct ipm_db;
int ipm_registry_import_index(struct ipm_db *db, const struct ipm_registry_row *row, const char *text,
			      size_t len, const char *origin, size_t *count);
/* 1 when every LOCAL registry's index matches its files (the same stamp
 * ipm_registry_sync compares), 0 when one needs importing. Reads only, so
 * lookups can skip the lock and the write database in the common case. */
int ipm_registry_local_fresh(struct ipm_ctx *ctx);
/* Syncs every LOCAL registry (no network); the database must be writable. */
int ipm_registry_sync_local(struct ipm_ctx *ctx);

/*
 * Finds the entry for spec (a name, "owner/repo" or "repo") in the configured
 * registries, in order. Not found: IPM_ENOTFOUND "package '<spec>' not found"
 * with hint "did you mean '<best>'?" from ipm_similar_find, or "run 'ipm
 * update'" when a remote registry was never imported.
 */
int ipm_registry_find(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *spec);
/* ipm_registry_find that asks registry `prefer` first (NULL or a registry
 * not configured: the configured order), for the dependencies of a package:
 * they come from the registry of the package that depends on them when it
 * has them, so a later registry cannot replace them (dependency confusion). */
int ipm_registry_find_from(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *spec,
			   const char *prefer);
/* The configured registries that offer a package called name, in the
 * configured order (several: a name two registries share). Free with
 * xfree_strv. */
int ipm_registry_offers(char ***out, size_t *nout, struct ipm_ctx *ctx, const char *name);
/* Reports, through ipm_log warnings, every name that more than one
 * configured registry offers, with the registry `ipm install NAME` takes;
 * at most `limit` names, then how many more. */
int ipm_registry_warn_shared(struct ipm_ctx *ctx, size_t limit);
/* "'a' and 'b'" / "'a', 'b' and 'c'" for messages; caller frees. */
char *ipm_registry_names_text(char *const *names, size_t n);
/* The same lookup without the work of a "did you mean": IPM_ENOTFOUND with
 * no hint. For callers that have another answer when the registries have
 * none (ipm info of an installed package). */
int ipm_registry_lookup(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *spec);

/* The file names (not paths) of the entries in a registry's packages
 * directory, sorted: every *.json but hidden files, the files import, check
 * and build all read. IPM_ENOTFOUND "cannot read registry directory" when
 * packages_dir cannot be read. Free with xfree_strv. */
int ipm_registry_entry_files(char ***out, size_t *nout, const char *packages_dir);

/* Fills a SELF source's git URL and commit from registry `registry`: its home
 * repository and the commit its entries came from (for a local checkout: the
 * checkout's HEAD, now). */
int ipm_registry_resolve_self(struct ipm_source *src, struct ipm_ctx *ctx, const char *registry);

/* Loads an entry from a file (ipm install PATH/entry.json); its SELF source
 * resolves to the git repository holding the file. *out_registry is
 * "file:<path>". */
int ipm_registry_load_file(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *path);

/* "expires" times: "YYYY-MM-DDTHH:MM:SSZ" (UTC) to unix seconds (-1 when
 * malformed) and back. */
int ipm_registry_time_parse(int64_t *out, const char *text, size_t len);
void ipm_registry_time_format(char out[21], int64_t t);
/*
 * The top-level "version" and "expires" of an index document (0 each when
 * absent), found by a scan of the document's structure without parsing the
 * entries. IPM_EINVAL naming origin when one is present twice or is not a
 * whole number from 1 to 2^53 / a time as above. A document that is not a
 * JSON object gives 0 and 0 (its import reports it).
 */
int ipm_registry_index_freshness(int64_t *out_version, int64_t *out_expires, const char *text, size_t len,
				 const char *origin);
#endif
