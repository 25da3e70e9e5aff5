#ifndef IPM_DB_H
#define IPM_DB_H
#include <stddef.h>
#include <stdint.h>
/*
 * The local SQLite database, $IPM_HOME/ipm.db. All SQL of ipm lives in
 * src/db.c: schema versioned by PRAGMA user_version with ordered migrations,
 * prepared statements kept in one table, foreign_keys=ON, WAL, a busy
 * timeout, and every change of state in one transaction.
 *
 * Tables (see db.c for the exact schema):
 *   registries(name, kind, location, stamp, home, home_commit, imported_at, serial, expires)
 *   entries(registry, name, repo, description, keywords, json, shard, sha256)  + FTS5 entries_fts
 *                (sparse registries: shard and package-file sha256; json '' until fetched)
 *   registry_files(registry, path, sha256, etag, modified)  what was fetched
 *                from a sparse registry, with its validators
 *   name_vectors(registry, dim, count, names, vecs)  typo-tolerant search
 *                (hashed n-gram vectors, a chunk of names a row)
 *   packages(name, version, registry, source, resolved, method, store_dir,
 *            prefix, explicit, installed_at)
 *   files(package, path, type, sha256)      path relative to the prefix
 *   deps(package, depends_on, version_constraint)
 *   sonames(package, kind, soname)          'p' provided, 'n' needed from the prefix
 *   package_widths(name, version)           longest installed, kept by triggers
 */
struct ipm_db;

enum ipm_db_mode { IPM_DB_READ, IPM_DB_WRITE };

/*
 * Opens (WRITE: creates and migrates) the database. A file that is not an
 * ipm database (not SQLite, or SQLite without ipm's application_id) is
 * IPM_EINVAL "'<path>' is not an ipm database" with a hint; nothing is written
 * to it. READ on a missing file opens an empty in-memory database with the
 * schema, so read-only commands work before the first install. READ by a
 * user who cannot write the file or its directory (another user's home, a
 * read-only mount) opens it read-only: as an immutable file when no WAL
 * content is pending, since SQLite could not create the WAL index there.
 */
int ipm_db_open(struct ipm_db **out, const char *path, enum ipm_db_mode mode);
void ipm_db_free(struct ipm_db *db);

/* ---- registry index ---- */

struct ipm_registry_row {
	char *name;
	char *kind;          /* "local", "git", "http" */
	char *location;
	char *stamp;         /* change marker: etag, commit, or a digest of file stats */
	char *home;          /* the registry's own repository (for "self" sources) */
	char *home_commit;   /* commit of home the entries came from; NULL = resolve at use */
	int64_t imported_at;
	int64_t nentries;
	int64_t serial;      /* "version" of the index imported (signed indexes); 0 = none */
	int64_t expires;     /* its "expires", unix seconds; 0 = none */
};
void ipm_registry_row_release(struct ipm_registry_row *r);

/* IPM_ENOTFOUND when never imported. */
int ipm_db_registry_get(struct ipm_registry_row *out, struct ipm_db *db, const char *name);

struct ipm_import_item {
	const char *name;
	const char *repo;          /* NULL allowed */
	const char *description;
	const char *keywords;      /* space-separated */
	const char *json;          /* the entry as stored (re-parsed on use) */
	const float *vec;          /* name vector for typo search, or NULL */
	size_t vec_len;
};

/* Replaces every entry of registry `row->name` with items and stores row's
 * other fields, in one transaction. */
int ipm_db_registry_import(struct ipm_db *db, const struct ipm_registry_row *row,
			   const struct ipm_import_item *items, size_t nitems);
/* The same import, item by item, so that a large registry is never held in
 * memory at once: begin opens the transaction and replaces row, add inserts
 * one item (its strings are copied by SQLite), commit ends the transaction
 * (and frees imp either way), abort rolls everything back. */
struct ipm_db_import;
int ipm_db_import_begin(struct ipm_db_import **out, struct ipm_db *db, const struct ipm_registry_row *row);
/* IPM_DB_IMPORT_KEEP: an import that changes a few rows of the registry
 * (a sparse registry's update) instead of replacing them all: add replaces
 * the row of an entry of the same name and its FTS row (or adds one, with
 * its name vector), ipm_db_import_remove deletes one (and its FTS row and
 * name vector), and commit recounts the registry's entries. */
enum { IPM_DB_IMPORT_KEEP = 1 };
int ipm_db_import_begin_flags(struct ipm_db_import **out, struct ipm_db *db, const struct ipm_registry_row *row,
			      unsigned flags);
int ipm_db_import_remove(struct ipm_db_import *imp, const char *name);
/* ipm_db_import_add for a sparse registry's entry: with its shard and the
 * sha256 of its package file (item->json "" until that file is fetched). */
int ipm_db_import_add_sparse(struct ipm_db_import *imp, const struct ipm_import_item *item, const char *shard,
			     const char *sha256);
/* Records (replaces) or forgets one file fetched from a sparse registry:
 * path relative to the root document's directory, its sha256 and its
 * validators (each may be NULL). A full import forgets them all first. */
int ipm_db_import_file(struct ipm_db_import *imp, const char *path, const char *sha256, const char *etag,
		       const char *modified);
int ipm_db_import_file_drop(struct ipm_db_import *imp, const char *path);
/* Records the root of a sparse registry (path "index.json") with its text. */
int ipm_db_import_root(struct ipm_db_import *imp, const char *sha256, const char *etag, const char *modified,
		       const char *body, size_t len);
int ipm_db_import_add(struct ipm_db_import *imp, const struct ipm_import_item *item);
int ipm_db_import_commit(struct ipm_db_import *imp);
void ipm_db_import_abort(struct ipm_db_import *imp);
/* Forgets a registry and its entries. */
int ipm_db_registry_drop(struct ipm_db *db, const char *name);

/*
 * Finds an entry by exact name, else by repo ("owner/repo"), else by the repo
 * part after "/" (so "ipm install repo" works). registries is the search order
 * (first wins). *out_json and *out_registry are caller-owned.
 */
int ipm_db_entry_find(char **out_json, char **out_registry, struct ipm_db *db,
		      const char *spec, const char *const *registries, size_t nregistries);

/* ipm_db_entry_find that also gives the entry's name (*out_name, may be
 * NULL): the json of a sparse registry's entry is "" until its package
 * file is fetched, and that file is named by the name. */
int ipm_db_entry_find_named(char **out_json, char **out_registry, char **out_name, struct ipm_db *db,
			    const char *spec, const char *const *registries, size_t nregistries);

/* ---- sparse registries (registry.h) ---- */
struct ipm_registry_file {
	char *path;
	char *sha256;
	char *etag;
	char *modified;   /* Last-Modified as the server sent it */
};
void ipm_registry_files_free(struct ipm_registry_file *files, size_t n);
/* The files recorded for registry (ipm_db_import_file), in no order. */
int ipm_db_registry_files(struct ipm_registry_file **out, size_t *nout, struct ipm_db *db, const char *registry);
struct ipm_shard_row {
	char *name;
	char *sha256;     /* of its package file */
	int held;         /* 1 when its package file was fetched (json not "") */
};
void ipm_shard_rows_free(struct ipm_shard_row *rows, size_t n);
/* The entries of registry in shard, in no order. */
int ipm_db_shard_rows(struct ipm_shard_row **out, size_t *nout, struct ipm_db *db, const char *registry,
		      const char *shard);
/* The sha256 of the package file of entry name in registry; IPM_ENOTFOUND
 * when it has none (not a sparse registry's entry). */
int ipm_db_sparse_entry(char **out_sha256, struct ipm_db *db, const char *registry, const char *name);
/* The text of the root last imported for sparse registry `registry`;
 * IPM_ENOTFOUND when there is none. Caller frees. */
int ipm_db_sparse_root(char **out_body, size_t *out_len, struct ipm_db *db, const char *registry);
/* Stores the package file fetched for entry name (json), if the entry still
 * names that file (sha256), and the file's validators, in one transaction. */
int ipm_db_sparse_store(struct ipm_db *db, const char *registry, const char *name, const char *sha256,
			const char *json, const char *path, const char *etag, const char *modified);

/* The registries holding an entry named exactly name, in no particular
 * order (several: registries offer the same name). Free with xfree_strv. */
int ipm_db_entry_registries(char ***out, size_t *nout, struct ipm_db *db, const char *name);
/* Calls fn for every name that more than one registry offers, in name
 * order, with those registries separated by '\n' (valid during the call);
 * stops when fn returns non-zero. */
int ipm_db_entry_shared(struct ipm_db *db, int (*fn)(void *ctx, const char *name, const char *registries),
			void *ctx);

struct ipm_search_hit {
	char *name;
	char *registry;
	char *description;
	double score;        /* higher is better */
};
void ipm_search_hits_free(struct ipm_search_hit *hits, size_t n);
/* Full-text search (FTS5, bm25 ranked) over name, repo, description, keywords. */
int ipm_db_entry_search(struct ipm_search_hit **out, size_t *nout, struct ipm_db *db,
			const char *query, size_t limit);
/* Calls fn for every (name, vec) stored by the imports; stops when fn returns non-zero. */
int ipm_db_name_vectors(struct ipm_db *db,
			int (*fn)(void *ctx, const char *name, const float *vec, size_t len),
			void *ctx);
/* The same vectors in blocks, for scoring many at once: fn gets n names
 * (valid during the call) and their vectors as one dense row-major n x dim
 * array, n <= IPM_DB_VECTOR_BLOCK; stops when fn returns non-zero. */
#define IPM_DB_VECTOR_BLOCK 256
int ipm_db_name_vector_blocks(struct ipm_db *db,
			      int (*fn)(void *ctx, const char *const *names, const float *vecs,
					size_t n, size_t dim),
			      void *ctx);

/* ---- installed packages ---- */

struct ipm_file_row {
	char *path;      /* relative to the prefix, e.g. "lib/libz.so" */
	char type;       /* 'f' file link, 'l' symlink link, 'd' directory ipm created */
	char *sha256;    /* of the store file; NULL for 'd' and 'l' */
};

struct ipm_package_row {
	char *name;
	char *version;
	char *registry;
	char *source;        /* ipm_source_describe() of the source */
	char *resolved;      /* commit id or sha256 actually installed */
	char *method;
	char *store_dir;
	char *prefix;
	int explicit_install;     /* 1 when the user asked for it, 0 when pulled in as a dependency */
	int64_t installed_at;     /* unix seconds */
	char *guessed_entry;      /* the entry JSON ipm guessed (no registry knew the repository), or NULL */
	struct ipm_file_row *files;
	size_t nfiles;
	char **depends;           /* names of installed packages it depends on */
	char **depend_constraints;   /* the version constraint of each (entries may be NULL); may be NULL */
	size_t ndepends;
	char **provides;          /* sonames its shared libraries provide */
	size_t nprovides;
	char **needs;             /* sonames its files need from the prefix */
	size_t nneeds;
};
void ipm_package_row_release(struct ipm_package_row *p);

/* with_files: also load files and depends. IPM_ENOTFOUND when not installed. */
int ipm_db_package_get(struct ipm_package_row *out, struct ipm_db *db, const char *name, int with_files);
/* All installed packages by name, without files. */
int ipm_db_package_list(struct ipm_package_row **out, size_t *nout, struct ipm_db *db);
/* The same rows one at a time, without copies: p and its strings are valid
 * during the call only; stops when fn returns non-zero. brief: only name,
 * version, source, installed_at and whether it was guessed (guessed_entry is
 * "guessed" or NULL) are read (the others are NULL / 0). */
int ipm_db_package_each(struct ipm_db *db, int brief,
			int (*fn)(void *ctx, const struct ipm_package_row *p), void *ctx);
/* The longest name and version of the installed packages, in bytes (0 when
 * none), kept up to date by the database: the column widths of a table,
 * without a scan. */
int ipm_db_package_widths(size_t *name, size_t *version, struct ipm_db *db);
/* Inserts p with its files and deps in one transaction, replacing a previous
 * row of the same name (upgrade). */
int ipm_db_package_add(struct ipm_db *db, const struct ipm_package_row *p);
/* Deletes the package, its files and deps in one transaction. */
int ipm_db_package_remove(struct ipm_db *db, const char *name);
/* Names of installed packages that depend on name. */
int ipm_db_package_dependents(char ***out, size_t *nout, struct ipm_db *db, const char *name);
/* The same, with the version constraint each dependent puts on name
 * (*constraints[i] NULL when it has none). */
int ipm_db_package_dependents_constraints(char ***out, char ***constraints, size_t *nout,
					  struct ipm_db *db, const char *name);
/* The prefix the installed packages went into: IPM_ENOTFOUND (no message)
 * when nothing is installed. One IPM_HOME serves one prefix. */
int ipm_db_installed_prefix(char **out, struct ipm_db *db);
/* The package owning path (relative to prefix): IPM_ENOTFOUND when none. */
int ipm_db_file_owner(char **out_name, struct ipm_db *db, const char *path);
#endif
