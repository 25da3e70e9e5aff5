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
 *            prefix, explicit, installed_at, guessed_entry, entry, build_key)
 *   pins(name, version_constraint)          packages held within a constraint
 *   files(package, path, type, sha256)      path relative to the prefix
 *   deps(package, depends_on, version_constraint)
 *   sonames(package, kind, soname)          'p' provided, 'n' needed from the prefix
 *   package_widths(name, version)           longest installed, kept by triggers
 *   transactions(id, uuid, at, command)     history: one row per plan
 *   changes(txn, name, old_version, new_version, row)   what each changed
 *   generation_rows / _files / _deps / _sonames         package rows as a
 *                                           transaction left them (rollback)
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
	const char *latest;        /* the newest release's version, or NULL */
	const char *versions;      /* every release's version, newest first, each followed by '\n' */
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
	char *entry;              /* the entry it was built from: one release, its source resolved
	                             (ipm_entry_to_json); NULL for rows of an older ipm */
	char *build_key;          /* the installed tree's build key (bincache.h), or NULL */
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
/* Marks an installed dependency as installed explicitly (the user named
 * it): 1 when it was a dependency, 0 when it was explicit already or is
 * not installed. */
int ipm_db_package_mark_explicit(struct ipm_db *db, const char *name);
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

/* ---- history (transactions) ---- */

struct ipm_txn_change {
	const char *name;
	const char *old_version;            /* NULL: was not installed */
	const struct ipm_package_row *row;  /* the package afterwards (files...), NULL: removed */
};

struct ipm_txn_record {
	const char *uuid;       /* the journal's mark of this transaction */
	const char *command;    /* the command line, as history shows it */
	int64_t at;             /* unix seconds; 0: now */
	const struct ipm_txn_change *changes;
	size_t nchanges;
};

/*
 * One SQLite transaction: the history row, then for each change the
 * package's rows replaced by change->row (or deleted) and a snapshot of
 * change->row kept for rollback. *out_id (may be NULL): the transaction's
 * number.
 */
int ipm_db_txn_commit(int64_t *out_id, struct ipm_db *db, const struct ipm_txn_record *rec);
/* *out = 1 when a transaction with this uuid was committed. */
int ipm_db_txn_committed(int *out, struct ipm_db *db, const char *uuid);
/* The number of the last transaction, 0 when none. */
int ipm_db_history_last(int64_t *out, struct ipm_db *db);

struct ipm_history_change {
	char *name;
	char *old_version;   /* NULL: installed by this transaction */
	char *new_version;   /* NULL: removed */
};
struct ipm_history_entry {
	int64_t id;
	int64_t at;
	char *command;
	struct ipm_history_change *changes;   /* by name */
	size_t nchanges;
};
/* Every transaction, oldest first. */
int ipm_db_history_list(struct ipm_history_entry **out, size_t *nout, struct ipm_db *db);
void ipm_history_free(struct ipm_history_entry *h, size_t n);
/* The installed packages as transaction txn left them, by name, with
 * files, depends and sonames (free each with ipm_package_row_release). */
int ipm_db_history_state(struct ipm_package_row **out, size_t *nout, struct ipm_db *db, int64_t txn);
/* The store directories of the installed packages and of the states after
 * transactions first..last, sorted. */
int ipm_db_store_dirs_kept(char ***out, size_t *nout, struct ipm_db *db, int64_t first, int64_t last);
/* *out = 1 when an installed package or any transaction names store_dir. */
int ipm_db_store_dir_known(int *out, struct ipm_db *db, const char *store_dir);
/* ---- pins, outdated, unneeded ---- */

/* Holds name within constraint (replacing a pin it had). Removing the
 * package removes its pin. */
int ipm_db_pin_set(struct ipm_db *db, const char *name, const char *constraint);
/* IPM_ENOTFOUND (no message) when name was not pinned. */
int ipm_db_pin_clear(struct ipm_db *db, const char *name);
/* name's pin constraint, or *out NULL when it has none. */
int ipm_db_pin_get(char **out, struct ipm_db *db, const char *name);

/* An installed package whose registry entry's newest release is not the
 * installed version: a candidate for `ipm outdated`. Strings are borrowed
 * (valid during the callback). */
struct ipm_outdated_row {
	const char *name;
	const char *version;     /* installed */
	const char *registry;
	int explicit_install;
	const char *pin;         /* pin constraint, or NULL */
	const char *latest;      /* newest release; NULL for an index imported by an older ipm */
	const char *versions;    /* every release, newest first, each followed by '\n'; or NULL */
	const char *entry_json;  /* the entry, only when versions is NULL */
	const char *held_by;     /* "dependent constraint" lines of installed dependents, or NULL */
};
/* Calls fn for each candidate, in name order: one query over packages,
 * entries (of the registry each package came from), pins and deps. Stops
 * when fn returns non-zero (a negative value is returned). */
int ipm_db_outdated_each(struct ipm_db *db, int (*fn)(void *ctx, const struct ipm_outdated_row *row), void *ctx);
/* The newest release of registry's entry name and the version of name
 * installed (any registry's), each NULL when there is none (or the index
 * was imported by an older ipm). */
int ipm_db_entry_state(char **latest, char **installed, struct ipm_db *db, const char *name, const char *registry);
/* Installed packages that no explicitly installed package needs, directly
 * or through other dependencies, in name order. Free with xfree_strv. */
int ipm_db_package_unneeded(char ***out, size_t *nout, struct ipm_db *db);
#endif
