#ifndef IPM_REGISTRY_H
#define IPM_REGISTRY_H
#include <stddef.h>
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
 *   { "registry": { "name", "home", "commit" }, "packages": [ entry, ... ] }
 * fetched with If-None-Match, so an unchanged registry costs one 304.
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
#endif
