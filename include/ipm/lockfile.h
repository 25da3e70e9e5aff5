#ifndef IPM_LOCKFILE_H
#define IPM_LOCKFILE_H
#include <stddef.h>
#include "ctx.h"
/*
 * Lock files: what `ipm export` writes and `ipm import` installs again.
 * One JSON document (the format is in man/ipm-export.1):
 *
 *   { "ipm_lock": 1, "prefix": "/home/me/.local",
 *     "packages": [ { "name": "jq", "version": "1.7.1", "explicit": true,
 *                     "registry": "bundled", "source": "git https://... @ <commit>",
 *                     "resolved": "<commit or sha256>", "method": "autotools",
 *                     "entry": { the entry with that one release, its source resolved } } ] }
 *
 * "entry" carries what rebuilding needs when no registry offers that
 * release any more; "registry", "source", "method" and "entry" may be null.
 */

#define IPM_LOCKFILE_VERSION 1

struct ipm_lock_pkg {
	char *name;
	char *version;
	int explicit_install;
	char *registry;
	char *source;
	char *resolved;
	char *method;
	char *entry_json;   /* the "entry" object as text, or NULL */
};

struct ipm_lockfile {
	char *prefix;
	struct ipm_lock_pkg *pkgs;
	size_t n;
};

/* The lock file of everything installed, in name order, as text (caller
 * frees). A package installed by an older ipm (its entry not kept) gets
 * its entry from its registry when that still offers the version. */
int ipm_lockfile_export(char **out, struct ipm_ctx *ctx);

/* Parses and checks a lock file: IPM_EINVAL "'<origin>' is not an ipm lock
 * file: <why>" naming the first problem (malformed JSON with line and
 * column, a missing or mistyped field, an invalid name or version, a name
 * twice, an entry that is not an entry of that name and version). */
int ipm_lockfile_parse(struct ipm_lockfile *out, const char *text, size_t len, const char *origin);
void ipm_lockfile_release(struct ipm_lockfile *lf);
#endif
