/*
 * The local SQLite database. All SQL of ipm lives in this file.
 *
 * - The schema is versioned by PRAGMA user_version: migrations[] holds one
 *   script per version, applied in order inside one transaction.
 * - PRAGMA application_id marks the file as ipm's, so ipm never migrates (or
 *   otherwise writes to) some other program's database by mistake.
 * - Statements are prepared once, on first use, into db->stmts[] (indexed by
 *   enum stmt_id) and reset after each use.
 * - Every change of state runs in one BEGIN IMMEDIATE ... COMMIT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/xalloc.h"

/* "ipm" + 0: stored in the SQLite header at offset 68. */
#define IPM_APPLICATION_ID 0x69706d00

static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE registries("
	"  name TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  location TEXT NOT NULL,"
	"  stamp TEXT,"
	"  home TEXT,"
	"  home_commit TEXT,"
	"  imported_at INTEGER NOT NULL,"
	/* written by each import: counting 100,000 entries costs ms a lookup */
	"  entries INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE entries("
	"  id INTEGER PRIMARY KEY,"
	"  registry TEXT NOT NULL REFERENCES registries(name) ON DELETE CASCADE,"
	/* lookups compare lower-cased keys with the binary collation: names are
	 * lower case already, repos are matched like GitHub does, ignoring case,
	 * and binary comparison keeps a 100,000-entry import fast */
	"  name TEXT NOT NULL,"
	"  repo TEXT,"                         /* owner/repo as written */
	"  repo_key TEXT,"                     /* lower(repo) */
	"  repo_tail TEXT,"                    /* lower(part after '/'), for `ipm install repo` */
	"  description TEXT NOT NULL,"
	"  keywords TEXT NOT NULL DEFAULT '',"
	"  json TEXT NOT NULL,"
	"  UNIQUE(name, registry));"              /* also the index for lookups by name */
	"CREATE INDEX entries_registry ON entries(registry);"
	/* one index for both repo lookups ("repo" by tail, "owner/repo" by
	 * tail and key): one b-tree fewer to fill at import */
	"CREATE INDEX entries_repo ON entries(repo_tail, repo_key) WHERE repo_tail IS NOT NULL;"
	/* external content: the text lives once, in entries; rowid = entries.id */
	"CREATE VIRTUAL TABLE entries_fts USING fts5("
	"  name, repo, description, keywords,"
	"  content='entries', content_rowid='id');"
	/* the name vectors of a registry in chunks of up to VEC_CHUNK names,
	 * written once at import and read whole by the typo-tolerant search:
	 * one row per chunk instead of one per name (see encode_vec) */
	"CREATE TABLE name_vectors("
	"  id INTEGER PRIMARY KEY,"
	"  registry TEXT NOT NULL REFERENCES registries(name) ON DELETE CASCADE,"
	"  dim INTEGER NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  names BLOB NOT NULL,"                  /* count NUL-terminated names */
	"  vecs BLOB NOT NULL);"                  /* count encoded vectors */
	"CREATE TABLE packages("
	"  name TEXT PRIMARY KEY,"
	"  version TEXT NOT NULL,"
	"  registry TEXT,"
	"  source TEXT,"
	"  resolved TEXT,"
	"  method TEXT,"
	"  store_dir TEXT NOT NULL,"
	"  prefix TEXT NOT NULL,"
	"  explicit INTEGER NOT NULL DEFAULT 1,"
	/* WITHOUT ROWID: the rows are stored in name order, so list scans one
	 * b-tree and a lookup by name is one search, not index then table */
	"  installed_at INTEGER NOT NULL) WITHOUT ROWID;"
	/* the longest name and version installed, in bytes, kept by triggers:
	 * ipm list aligns its columns without a scan of its own */
	"CREATE TABLE package_widths("
	"  id INTEGER PRIMARY KEY CHECK(id = 1),"
	"  name INTEGER NOT NULL,"
	"  version INTEGER NOT NULL);"
	"INSERT INTO package_widths VALUES (1, 0, 0);"
	"CREATE TRIGGER packages_widths_insert AFTER INSERT ON packages BEGIN"
	"  UPDATE package_widths SET"
	"    name = max(name, length(CAST(NEW.name AS BLOB))),"
	"    version = max(version, length(CAST(NEW.version AS BLOB)));"
	"END;"
	/* only when the row could have been the longest */
	"CREATE TRIGGER packages_widths_delete AFTER DELETE ON packages"
	"  WHEN length(CAST(OLD.name AS BLOB)) >= (SELECT name FROM package_widths)"
	"    OR length(CAST(OLD.version AS BLOB)) >= (SELECT version FROM package_widths) BEGIN"
	"  UPDATE package_widths SET"
	"    name = (SELECT coalesce(max(length(CAST(name AS BLOB))), 0) FROM packages),"
	"    version = (SELECT coalesce(max(length(CAST(version AS BLOB))), 0) FROM packages);"
	"END;"
	"CREATE TRIGGER packages_widths_update AFTER UPDATE OF name, version ON packages BEGIN"
	"  UPDATE package_widths SET"
	"    name = (SELECT coalesce(max(length(CAST(name AS BLOB))), 0) FROM packages),"
	"    version = (SELECT coalesce(max(length(CAST(version AS BLOB))), 0) FROM packages);"
	"END;"
	"CREATE TABLE files("
	"  package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,"
	"  path TEXT NOT NULL,"
	"  type TEXT NOT NULL CHECK(type IN ('f', 'l', 'd')),"
	"  sha256 TEXT,"
	"  PRIMARY KEY(package, path)) WITHOUT ROWID;"
	"CREATE INDEX files_path ON files(path);"
	/* depends_on is not a foreign key: replacing a package (upgrade) must
	 * not drop the rows of the packages depending on it */
	"CREATE TABLE deps("
	"  package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,"
	"  depends_on TEXT NOT NULL,"
	"  version_constraint TEXT,"
	"  PRIMARY KEY(package, depends_on)) WITHOUT ROWID;"
	"CREATE INDEX deps_depends_on ON deps(depends_on);",
	/* 2: run-time linkage. kind 'p': a soname the package's libraries
	 * provide; 'n': a soname its files need that resolves into the prefix.
	 * A change that drops a soname some dependent needs is found here. */
	"CREATE TABLE sonames("
	"  package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK(kind IN ('p', 'n')),"
	"  soname TEXT NOT NULL,"
	"  PRIMARY KEY(package, kind, soname)) WITHOUT ROWID;",
	/* 3: freshness of a signed index: the version counter and the expiry
	 * (unix seconds) of the index last imported; a lower version is a
	 * replay. NULL for indexes that carry none. */
	"ALTER TABLE registries ADD COLUMN serial INTEGER; ALTER TABLE registries ADD COLUMN expires INTEGER;",
	/* 4: the entry ipm guessed for a repository no registry knows (NULL
	 * for an entry from a registry): what `registry new --from-installed`
	 * writes out, and what `list` and `info` mark as guessed */
	"ALTER TABLE packages ADD COLUMN guessed_entry TEXT;",
	/* 5: history. Every plan (install, remove, rollback, ...) is one row of
	 * transactions, written in the same SQLite transaction as its package
	 * rows; uuid is the mark its journal carries, so that recovery knows
	 * whether the change was committed. generation_* keep each package row
	 * as a transaction left it (files, deps, sonames too): the state after
	 * transaction N is, for every name, its row of the latest change at or
	 * before N (row NULL: not installed), which is what rollback restores.
	 * Packages installed before this migration become transaction 1. */
	"CREATE TABLE transactions("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  at INTEGER NOT NULL,"
	"  command TEXT NOT NULL);"
	"CREATE TABLE generation_rows("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  version TEXT NOT NULL,"
	"  registry TEXT,"
	"  source TEXT,"
	"  resolved TEXT,"
	"  method TEXT,"
	"  store_dir TEXT NOT NULL,"
	"  prefix TEXT NOT NULL,"
	"  explicit INTEGER NOT NULL,"
	"  installed_at INTEGER NOT NULL,"
	"  guessed_entry TEXT);"
	"CREATE INDEX generation_rows_store ON generation_rows(store_dir);"
	"CREATE TABLE generation_files("
	"  row INTEGER NOT NULL REFERENCES generation_rows(id) ON DELETE CASCADE,"
	"  path TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  sha256 TEXT,"
	"  PRIMARY KEY(row, path)) WITHOUT ROWID;"
	"CREATE TABLE generation_deps("
	"  row INTEGER NOT NULL REFERENCES generation_rows(id) ON DELETE CASCADE,"
	"  depends_on TEXT NOT NULL,"
	"  version_constraint TEXT,"
	"  PRIMARY KEY(row, depends_on)) WITHOUT ROWID;"
	"CREATE TABLE generation_sonames("
	"  row INTEGER NOT NULL REFERENCES generation_rows(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL,"
	"  soname TEXT NOT NULL,"
	"  PRIMARY KEY(row, kind, soname)) WITHOUT ROWID;"
	"CREATE TABLE changes("
	"  txn INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  old_version TEXT,"
	"  new_version TEXT,"
	"  row INTEGER REFERENCES generation_rows(id),"
	"  PRIMARY KEY(txn, name)) WITHOUT ROWID;"
	"CREATE INDEX changes_name ON changes(name, txn);"
	"INSERT INTO transactions(id, uuid, at, command)"
	"  SELECT 1, 'before-history', (SELECT max(installed_at) FROM packages),"
	"    '(installed before ipm kept a history)' WHERE EXISTS (SELECT 1 FROM packages);"
	"INSERT INTO generation_rows(name, version, registry, source, resolved, method, store_dir, prefix,"
	"    explicit, installed_at, guessed_entry)"
	"  SELECT name, version, registry, source, resolved, method, store_dir, prefix, explicit,"
	"    installed_at, guessed_entry FROM packages ORDER BY name;"
	"INSERT INTO generation_files SELECT r.id, f.path, f.type, f.sha256"
	"  FROM files f JOIN generation_rows r ON r.name = f.package;"
	"INSERT INTO generation_deps SELECT r.id, d.depends_on, d.version_constraint"
	"  FROM deps d JOIN generation_rows r ON r.name = d.package;"
	"INSERT INTO generation_sonames SELECT r.id, s.kind, s.soname"
	"  FROM sonames s JOIN generation_rows r ON r.name = s.package;"
	"INSERT INTO changes(txn, name, old_version, new_version, row)"
	"  SELECT 1, name, NULL, version, id FROM generation_rows;",
	/* 6: packages over time. entries.latest and entries.versions (newest
	 * first, each followed by '\n') are written at import, so that outdated
	 * is one join that parses no entry; an index imported before has them
	 * NULL until it is imported again (stamps are cleared for that).
	 * packages.entry: the entry a package was built from, with its one
	 * release and resolved source (export writes it into lock files), kept
	 * in generation_rows too so that a rollback restores it.
	 * pins: packages held within a constraint; not a foreign key, since an
	 * upgrade replaces the package row. */
	"ALTER TABLE entries ADD COLUMN latest TEXT;"
	"ALTER TABLE entries ADD COLUMN versions TEXT;"
	"ALTER TABLE packages ADD COLUMN entry TEXT;"
	"ALTER TABLE generation_rows ADD COLUMN entry TEXT;"
	"CREATE TABLE pins("
	"  name TEXT PRIMARY KEY,"
	"  version_constraint TEXT NOT NULL) WITHOUT ROWID;"
	"UPDATE registries SET stamp = NULL;",
	/* 7: the build key of the installed tree (see bincache.h), NULL for
	 * packages installed before it was recorded: `info` shows it, and
	 * the keys of dependents are made from it; kept in generation_rows
	 * so that a rollback restores it */
	"ALTER TABLE packages ADD COLUMN build_key TEXT;"
	"ALTER TABLE generation_rows ADD COLUMN build_key TEXT;",
	/* 8: sparse registries (registry.h). An entry's shard and the sha256
	 * of its package file, which the shard lists; its json is '' until the
	 * package file is fetched. registry_files: what each file fetched from
	 * a sparse registry was (its sha256) and its validators (ETag,
	 * Last-Modified), so that an update asks only for what changed, and
	 * asks conditionally. Rows of single-document registries have none. */
	"ALTER TABLE entries ADD COLUMN shard TEXT;"
	"ALTER TABLE entries ADD COLUMN sha256 TEXT;"
	"CREATE INDEX entries_shard ON entries(registry, shard) WHERE shard IS NOT NULL;"
	"CREATE TABLE registry_files("
	"  registry TEXT NOT NULL REFERENCES registries(name) ON DELETE CASCADE,"
	"  path TEXT NOT NULL,"                   /* relative to the root's directory */
	"  sha256 TEXT,"
	"  etag TEXT,"
	"  modified TEXT,"
	/* the root's text (index.json only): the digests of the shards not
	 * fetched yet, which a lookup fetches one by one */
	"  body TEXT,"
	"  PRIMARY KEY(registry, path)) WITHOUT ROWID;",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_REGISTRY_GET,
	ST_REGISTRY_SET_COUNT,
	ST_REGISTRY_UPSERT,
	ST_REGISTRY_DELETE,
	ST_FTS_DELETE_REGISTRY,
	ST_FTS_INSERT_REGISTRY,
	ST_VECTORS_DELETE_REGISTRY,
	ST_ENTRIES_DELETE_REGISTRY,
	ST_ENTRY_INSERT,
	ST_VECTOR_INSERT,
	ST_ENTRY_BY_NAME,
	ST_ENTRY_BY_REPO,
	ST_ENTRY_BY_TAIL,
	ST_SEARCH,
	ST_SEARCH_EXACT,
	ST_VECTORS_ALL,
	ST_PACKAGE_GET,
	ST_PACKAGE_FILES,
	ST_PACKAGE_DEPS,
	ST_PACKAGE_SONAMES,
	ST_SONAME_INSERT,
	ST_PACKAGE_PREFIX,
	ST_PACKAGE_LIST,
	ST_PACKAGE_BRIEF,
	ST_PACKAGE_WIDTHS,
	ST_PACKAGE_DELETE,
	ST_PACKAGE_INSERT,
	ST_FILE_INSERT,
	ST_DEP_INSERT,
	ST_DEPENDENTS,
	ST_FILE_OWNER,
	ST_ENTRY_SHARED,
	ST_TXN_INSERT,
	ST_TXN_BY_UUID,
	ST_TXN_LAST,
	ST_GEN_INSERT,
	ST_GEN_FILE_INSERT,
	ST_GEN_DEP_INSERT,
	ST_GEN_SONAME_INSERT,
	ST_CHANGE_INSERT,
	ST_HISTORY,
	ST_STATE_ROWS,
	ST_GEN_FILES,
	ST_GEN_DEPS,
	ST_GEN_SONAMES,
	ST_STORE_KEPT,
	ST_STORE_KNOWN,
	ST_PIN_SET,
	ST_PIN_DELETE,
	ST_PIN_GET,
	ST_OUTDATED,
	ST_UNNEEDED,
	ST_ENTRY_STATE,
	ST_PACKAGE_MARK_EXPLICIT,
	ST_REGISTRY_LARGEST,
	ST_FILES_DELETE_REGISTRY,
	ST_FTS_DELETE_ONE,
	ST_FTS_INSERT_ONE,
	ST_ENTRY_UPDATE,
	ST_ENTRY_DELETE_ONE,
	ST_REGISTRY_RECOUNT,
	ST_VECTORS_OF_REGISTRY,
	ST_VECTOR_UPDATE,
	ST_VECTOR_DELETE,
	ST_FILES_GET,
	ST_FILE_SET,
	ST_FILE_DROP,
	ST_SHARD_ROWS,
	ST_SPARSE_ENTRY,
	ST_SPARSE_STORE,
	ST_ROOT_SET,
	ST_ROOT_GET,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_REGISTRY_GET] =
		"SELECT name, kind, location, stamp, home, home_commit, imported_at, entries, serial, expires"
		" FROM registries WHERE name = ?1",
	[ST_REGISTRY_SET_COUNT] = "UPDATE registries SET entries = ?2 WHERE name = ?1",
	[ST_REGISTRY_UPSERT] =
		"INSERT INTO registries(name, kind, location, stamp, home, home_commit, imported_at, serial, expires)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
		" ON CONFLICT(name) DO UPDATE SET kind = ?2, location = ?3, stamp = ?4,"
		" home = ?5, home_commit = ?6, imported_at = ?7, serial = ?8, expires = ?9",
	[ST_REGISTRY_DELETE] = "DELETE FROM registries WHERE name = ?1",
	/* external-content FTS rows are removed by handing back their old values */
	[ST_FTS_DELETE_REGISTRY] =
		"INSERT INTO entries_fts(entries_fts, rowid, name, repo, description, keywords)"
		" SELECT 'delete', id, name, repo, description, keywords FROM entries WHERE registry = ?1",
	[ST_FTS_INSERT_REGISTRY] =
		"INSERT INTO entries_fts(rowid, name, repo, description, keywords)"
		" SELECT id, name, repo, description, keywords FROM entries WHERE registry = ?1",
	[ST_VECTORS_DELETE_REGISTRY] = "DELETE FROM name_vectors WHERE registry = ?1",
	[ST_ENTRIES_DELETE_REGISTRY] = "DELETE FROM entries WHERE registry = ?1",
	[ST_ENTRY_INSERT] =
		"INSERT INTO entries(registry, name, repo, repo_key, repo_tail, description, keywords, json,"
		" shard, sha256, latest, versions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_VECTOR_INSERT] =
		"INSERT INTO name_vectors(registry, dim, count, names, vecs) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_ENTRY_BY_NAME] = "SELECT registry, json, repo, name FROM entries WHERE name = ?1",
	[ST_ENTRY_BY_REPO] =
		"SELECT registry, json, repo, name FROM entries WHERE repo_tail = ?2 AND repo_key = ?1",
	[ST_ENTRY_BY_TAIL] = "SELECT registry, json, repo, name FROM entries WHERE repo_tail = ?1",
	/* name weighs most, then repo, keywords, description. The top rows are
	 * picked inside FTS5 before the join, so a word matching thousands of
	 * entries joins only `limit` of them. */
	/* bm25 named once: as two expressions it is computed twice a match */
	[ST_SEARCH] =
		"SELECT e.id, e.name, e.registry, e.description, -f.rank FROM"
		" (SELECT rowid, bm25(entries_fts, 10.0, 5.0, 1.0, 3.0) AS rank FROM entries_fts"
		"  WHERE entries_fts MATCH ?1 ORDER BY rank LIMIT ?2) f"
		" JOIN entries e ON e.id = f.rowid ORDER BY f.rank, e.name",
	/* an entry named exactly like the query comes first whatever bm25 says */
	[ST_SEARCH_EXACT] = "SELECT id, name, registry, description FROM entries WHERE name = ?1 ORDER BY registry",
	/* the blobs themselves are read with sqlite3_blob_read into buffers
	 * reused from chunk to chunk (length() does not load them) */
	[ST_VECTORS_ALL] = "SELECT id, dim, count, length(names), length(vecs) FROM name_vectors ORDER BY id",
	[ST_PACKAGE_GET] =
		"SELECT name, version, registry, source, resolved, method, store_dir, prefix,"
		" explicit, installed_at, guessed_entry, entry, build_key FROM packages WHERE name = ?1",
	[ST_PACKAGE_FILES] = "SELECT path, type, sha256 FROM files WHERE package = ?1 ORDER BY path",
	[ST_PACKAGE_DEPS] =
		"SELECT depends_on, version_constraint FROM deps WHERE package = ?1 ORDER BY depends_on",
	[ST_PACKAGE_SONAMES] = "SELECT kind, soname FROM sonames WHERE package = ?1 ORDER BY kind, soname",
	[ST_SONAME_INSERT] = "INSERT OR IGNORE INTO sonames(package, kind, soname) VALUES (?1, ?2, ?3)",
	[ST_PACKAGE_PREFIX] = "SELECT prefix FROM packages ORDER BY name LIMIT 1",
	[ST_PACKAGE_LIST] =
		"SELECT name, version, registry, source, resolved, method, store_dir, prefix,"
		" explicit, installed_at, guessed_entry, entry, build_key FROM packages ORDER BY name",
	[ST_PACKAGE_BRIEF] = "SELECT name, version, installed_at, source,"
		" CASE WHEN guessed_entry IS NULL THEN NULL ELSE 'guessed' END, explicit FROM packages ORDER BY name",
	[ST_PACKAGE_WIDTHS] = "SELECT name, version FROM package_widths",
	[ST_PACKAGE_DELETE] = "DELETE FROM packages WHERE name = ?1",
	[ST_PACKAGE_INSERT] =
		"INSERT INTO packages(name, version, registry, source, resolved, method, store_dir,"
		" prefix, explicit, installed_at, guessed_entry, entry, build_key)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_FILE_INSERT] = "INSERT OR REPLACE INTO files(package, path, type, sha256) VALUES (?1, ?2, ?3, ?4)",
	[ST_DEP_INSERT] = "INSERT OR REPLACE INTO deps(package, depends_on, version_constraint) VALUES (?1, ?2, ?3)",
	[ST_DEPENDENTS] =
		"SELECT d.package, d.version_constraint FROM deps d JOIN packages p ON p.name = d.package"
		" WHERE d.depends_on = ?1 ORDER BY d.package",
	/* a file or link wins over a directory row: directories can be shared */
	[ST_FILE_OWNER] =
		"SELECT package FROM files WHERE path = ?1 ORDER BY type = 'd', package LIMIT 1",
	/* names offered by more than one registry: each has a row outside the
	 * largest registry (?1), so only the other registries' names are
	 * walked (a 100,000-entry registry is not scanned on every update),
	 * then looked up by UNIQUE(name, registry) */
	[ST_ENTRY_SHARED] =
		"SELECT name, group_concat(registry, char(10)) FROM entries"
		" WHERE name IN (SELECT name FROM entries WHERE registry IS NOT ?1) GROUP BY name"
		" HAVING count(*) > 1 ORDER BY name",
	[ST_TXN_INSERT] = "INSERT INTO transactions(uuid, at, command) VALUES (?1, ?2, ?3)",
	[ST_TXN_BY_UUID] = "SELECT id FROM transactions WHERE uuid = ?1",
	[ST_TXN_LAST] = "SELECT coalesce(max(id), 0) FROM transactions",
	[ST_GEN_INSERT] =
		"INSERT INTO generation_rows(name, version, registry, source, resolved, method, store_dir,"
		" prefix, explicit, installed_at, guessed_entry, entry, build_key)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_GEN_FILE_INSERT] = "INSERT OR REPLACE INTO generation_files(row, path, type, sha256) VALUES (?1, ?2, ?3, ?4)",
	[ST_GEN_DEP_INSERT] =
		"INSERT OR REPLACE INTO generation_deps(row, depends_on, version_constraint) VALUES (?1, ?2, ?3)",
	[ST_GEN_SONAME_INSERT] = "INSERT OR IGNORE INTO generation_sonames(row, kind, soname) VALUES (?1, ?2, ?3)",
	[ST_CHANGE_INSERT] =
		"INSERT OR REPLACE INTO changes(txn, name, old_version, new_version, row) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_HISTORY] =
		"SELECT t.id, t.at, t.command, c.name, c.old_version, c.new_version FROM transactions t"
		" LEFT JOIN changes c ON c.txn = t.id ORDER BY t.id, c.name",
	/* every name's row as of the latest change at or before ?1 */
	[ST_STATE_ROWS] =
		"SELECT r.id, r.name, r.version, r.registry, r.source, r.resolved, r.method, r.store_dir, r.prefix,"
		" r.explicit, r.installed_at, r.guessed_entry, r.entry, r.build_key FROM changes c JOIN generation_rows r ON r.id = c.row"
		" WHERE c.txn = (SELECT max(c2.txn) FROM changes c2 WHERE c2.name = c.name AND c2.txn <= ?1)"
		" ORDER BY r.name",
	[ST_GEN_FILES] = "SELECT path, type, sha256 FROM generation_files WHERE row = ?1 ORDER BY path",
	[ST_GEN_DEPS] =
		"SELECT depends_on, version_constraint FROM generation_deps WHERE row = ?1 ORDER BY depends_on",
	[ST_GEN_SONAMES] = "SELECT kind, soname FROM generation_sonames WHERE row = ?1 ORDER BY kind, soname",
	/* a row is part of the state after some transaction in [?1, ?2] when it
	 * was written at or before ?2 and its name did not change again until
	 * ?1 or later */
	[ST_STORE_KEPT] =
		"SELECT r.store_dir FROM changes c JOIN generation_rows r ON r.id = c.row WHERE c.txn <= ?2"
		" AND coalesce((SELECT min(c2.txn) FROM changes c2 WHERE c2.name = c.name AND c2.txn > c.txn),"
		" 9223372036854775807) > ?1"
		" UNION SELECT store_dir FROM packages ORDER BY 1",
	[ST_STORE_KNOWN] =
		"SELECT 1 FROM packages WHERE store_dir = ?1 UNION ALL"
		" SELECT 1 FROM generation_rows WHERE store_dir = ?1 LIMIT 1",
	[ST_PIN_SET] =
		"INSERT INTO pins(name, version_constraint) VALUES (?1, ?2)"
		" ON CONFLICT(name) DO UPDATE SET version_constraint = ?2",
	[ST_PIN_DELETE] = "DELETE FROM pins WHERE name = ?1",
	[ST_PIN_GET] = "SELECT version_constraint FROM pins WHERE name = ?1",
	/* One pass over packages in name order, each joined by primary keys
	 * (entries by UNIQUE(name, registry), pins by name) and its
	 * dependents' constraints by deps_depends_on. A package whose
	 * registry's newest release is the installed one cannot be outdated:
	 * left out here, so that only candidates reach the version rules. */
	[ST_OUTDATED] =
		"SELECT p.name, p.version, p.registry, p.explicit, pn.version_constraint, e.latest, e.versions,"
		" CASE WHEN e.versions IS NULL THEN e.json END,"
		" (SELECT group_concat(d.package || ' ' || d.version_constraint, char(10)) FROM deps d"
		"  WHERE d.depends_on = p.name AND d.version_constraint IS NOT NULL)"
		" FROM packages p"
		" JOIN entries e ON e.name = p.name AND e.registry = p.registry"
		" LEFT JOIN pins pn ON pn.name = p.name"
		" WHERE e.latest IS NULL OR e.latest <> p.version"
		" ORDER BY p.name",
	[ST_ENTRY_STATE] =
		"SELECT e.latest, p.version FROM entries e LEFT JOIN packages p ON p.name = e.name"
		" WHERE e.name = ?1 AND e.registry = ?2",
	[ST_PACKAGE_MARK_EXPLICIT] = "UPDATE packages SET explicit = 1 WHERE name = ?1 AND explicit = 0",
	/* installed packages that no explicit one needs, directly or not */
	[ST_UNNEEDED] =
		"WITH RECURSIVE needed(name) AS ("
		"  SELECT name FROM packages WHERE explicit = 1"
		"  UNION SELECT d.depends_on FROM deps d JOIN needed n ON d.package = n.name)"
		" SELECT name FROM packages WHERE name NOT IN (SELECT name FROM needed) ORDER BY name",
	[ST_REGISTRY_LARGEST] = "SELECT name FROM registries ORDER BY entries DESC, name LIMIT 1",
	[ST_FILES_DELETE_REGISTRY] = "DELETE FROM registry_files WHERE registry = ?1",
	/* one entry's FTS row, by its old values (external content) */
	[ST_FTS_DELETE_ONE] =
		"INSERT INTO entries_fts(entries_fts, rowid, name, repo, description, keywords)"
		" SELECT 'delete', id, name, repo, description, keywords FROM entries"
		" WHERE registry = ?1 AND name = ?2",
	[ST_FTS_INSERT_ONE] =
		"INSERT INTO entries_fts(rowid, name, repo, description, keywords)"
		" SELECT id, name, repo, description, keywords FROM entries WHERE registry = ?1 AND name = ?2",
	[ST_ENTRY_UPDATE] =
		"UPDATE entries SET repo = ?3, repo_key = ?4, repo_tail = ?5, description = ?6, keywords = ?7,"
		" json = ?8, shard = ?9, sha256 = ?10, latest = ?11, versions = ?12 WHERE registry = ?1 AND name = ?2",
	[ST_ENTRY_DELETE_ONE] = "DELETE FROM entries WHERE registry = ?1 AND name = ?2",
	[ST_REGISTRY_RECOUNT] =
		"UPDATE registries SET entries = (SELECT count(*) FROM entries WHERE registry = ?1) WHERE name = ?1",
	[ST_VECTORS_OF_REGISTRY] = "SELECT id, count, names, vecs FROM name_vectors WHERE registry = ?1",
	[ST_VECTOR_UPDATE] = "UPDATE name_vectors SET count = ?2, names = ?3, vecs = ?4 WHERE id = ?1",
	[ST_VECTOR_DELETE] = "DELETE FROM name_vectors WHERE id = ?1",
	[ST_FILES_GET] = "SELECT path, sha256, etag, modified FROM registry_files WHERE registry = ?1",
	[ST_FILE_SET] =
		"INSERT OR REPLACE INTO registry_files(registry, path, sha256, etag, modified)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_FILE_DROP] = "DELETE FROM registry_files WHERE registry = ?1 AND path = ?2",
	[ST_SHARD_ROWS] =
		"SELECT name, sha256, json <> '' FROM entries WHERE registry = ?1 AND shard = ?2",
	[ST_SPARSE_ENTRY] = "SELECT sha256 FROM entries WHERE registry = ?1 AND name = ?2",
	/* only the package file the entry's digest names: an update may have
	 * moved it on since it was fetched */
	[ST_SPARSE_STORE] = "UPDATE entries SET json = ?3 WHERE registry = ?1 AND name = ?2 AND sha256 = ?4",
	[ST_ROOT_SET] =
		"INSERT OR REPLACE INTO registry_files(registry, path, sha256, etag, modified, body)"
		" VALUES (?1, 'index.json', ?2, ?3, ?4, ?5)",
	[ST_ROOT_GET] = "SELECT body FROM registry_files WHERE registry = ?1 AND path = 'index.json'",
};

struct ipm_db {
	sqlite3 *sql;
	char *path;
	sqlite3_stmt *stmts[ST_COUNT];
};

static int sql_error(struct ipm_db *db, const char *what)
{
	return ipm_error_set(IPM_ERROR, "database '%s': %s: %s", db->path, what, sqlite3_errmsg(db->sql));
}

static int stmt(sqlite3_stmt **out, struct ipm_db *db, enum stmt_id id)
{
	if (!db->stmts[id]) {
		if (sqlite3_prepare_v3(db->sql, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				       &db->stmts[id], NULL) != SQLITE_OK)
			return sql_error(db, "preparing a statement");
	}
	*out = db->stmts[id];
	return 0;
}

static void done_stmt(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? xstrdup((const char *)t) : NULL;
}

/* Runs a statement without results (and without parameters beyond one). */
static int run(struct ipm_db *db, enum stmt_id id, const char *arg)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = stmt(&s, db, id)) < 0)
		return rc;
	if (arg)
		bind_text(s, 1, arg);
	rc = sqlite3_step(s);
	done_stmt(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sql_error(db, "writing");
	return 0;
}

static int begin(struct ipm_db *db)
{
	return run(db, ST_BEGIN, NULL);
}

static int commit(struct ipm_db *db)
{
	return run(db, ST_COMMIT, NULL);
}

static void rollback(struct ipm_db *db)
{
	/* keep the error that made us roll back */
	if (sqlite3_get_autocommit(db->sql))
		return;
	sqlite3_stmt *s = NULL;
	if (stmt(&s, db, ST_ROLLBACK) == 0) {
		sqlite3_step(s);
		done_stmt(s);
	}
}

/* ---- open and migrate ---- */

static int not_ipm_db(const char *path)
{
	ipm_error_set(IPM_EINVAL, "'%s' is not an ipm database", path);
	ipm_error_hint("move it away or set IPM_HOME to another directory; ipm leaves it untouched");
	return IPM_EINVAL;
}

/* Checks the SQLite header ourselves before SQLite touches the file, so that
 * a text file or another program's database is never written to (not even a
 * journal-mode change). Returns 1 for "empty or missing", 0 for "SQLite". */
static int check_header(const char *path)
{
	unsigned char header[100];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return errno == ENOENT ? 1 : ipm_error_set(IPM_ERROR, "cannot open '%s': %s", path, strerror(errno));
	n = fread(header, 1, sizeof(header), f);
	fclose(f);
	if (n == 0)
		return 1;
	if (n < sizeof(header) || memcmp(header, "SQLite format 3", 16) != 0)
		return not_ipm_db(path);
	uint32_t app_id = (uint32_t)header[68] << 24 | (uint32_t)header[69] << 16 |
			  (uint32_t)header[70] << 8 | header[71];
	uint32_t schema_cookie_user = (uint32_t)header[60] << 24 | (uint32_t)header[61] << 16 |
				      (uint32_t)header[62] << 8 | header[63];
	/* an SQLite file is ours only with our id; one with id 0 and no
	 * user_version could still be another program's: checked after open */
	if (app_id != IPM_APPLICATION_ID && !(app_id == 0 && schema_cookie_user == 0))
		return not_ipm_db(path);
	return 0;
}

static int query_int(struct ipm_db *db, const char *sql, int *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL) != SQLITE_OK)
		return sqlite3_errcode(db->sql) == SQLITE_NOTADB ? not_ipm_db(db->path)
								 : sql_error(db, "reading");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(s, 0);
		rc = 0;
	} else {
		rc = sqlite3_errcode(db->sql) == SQLITE_NOTADB ? not_ipm_db(db->path) : sql_error(db, "reading");
	}
	sqlite3_finalize(s);
	return rc;
}

static int exec(struct ipm_db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->sql, sql, NULL, NULL, &msg) != SQLITE_OK) {
		ipm_error_set(IPM_ERROR, "database '%s': %s", db->path, msg ? msg : sqlite3_errmsg(db->sql));
		sqlite3_free(msg);
		return IPM_ERROR;
	}
	return 0;
}

static int migrate(struct ipm_db *db, int from)
{
	struct ipm_buf sql = IPM_BUF_INIT;
	int rc;

	if ((rc = exec(db, "BEGIN IMMEDIATE")) < 0)
		return rc;
	/* another ipm may have migrated while we waited for the write lock */
	if ((rc = query_int(db, "PRAGMA user_version", &from)) < 0)
		goto done;
	for (int v = from; v < SCHEMA_VERSION; v++)
		if ((rc = exec(db, migrations[v])) < 0)
			goto done;
	ipm_buf_addf(&sql, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
		     IPM_APPLICATION_ID, SCHEMA_VERSION);
	if ((rc = exec(db, sql.ptr)) < 0)
		goto done;
	rc = exec(db, "COMMIT");
done:
	if (rc < 0)
		exec(db, "ROLLBACK");
	ipm_buf_release(&sql);
	return rc;
}

/* 1 when this user can write path and create files beside it (SQLite's
 * -wal and -shm). */
static int can_write_beside(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	int ok = access(path, W_OK) == 0 && access(dir, W_OK | X_OK) == 0;

	free(dir);
	return ok;
}

/* 1 when path-wal holds changes not yet in path (a writer is running, or
 * one died). */
static int wal_pending(const char *path)
{
	char *wal = xasprintf("%s-wal", path);
	struct stat st;
	int pending = stat(wal, &st) == 0 && st.st_size > 0;

	free(wal);
	return pending;
}

/* "file:PATH?immutable=1", PATH percent-encoded as URIs need. */
static char *immutable_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct ipm_buf b = IPM_BUF_INIT;

	ipm_buf_add(&b, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("/._~-", *p)) {
			ipm_buf_addch(&b, (char)*p);
		} else {
			ipm_buf_addch(&b, '%');
			ipm_buf_addch(&b, hex[*p >> 4]);
			ipm_buf_addch(&b, hex[*p & 15]);
		}
	}
	ipm_buf_add(&b, "?immutable=1");
	return ipm_buf_detach(&b);
}

int ipm_db_open(struct ipm_db **out, const char *path, enum ipm_db_mode mode)
{
	struct ipm_db *db = xcalloc(1, sizeof(*db));
	int rc, fresh, app_id = 0, version = 0, ntables = 0, flags;
	const char *file = path;
	char *uri = NULL;

	*out = NULL;
	db->path = xstrdup(path);
	if ((rc = check_header(path)) < 0)
		goto done;
	fresh = rc;
	if (mode == IPM_DB_READ && fresh) {
		/* read-only commands before the first install: an empty schema in memory */
		file = ":memory:";
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY;
	} else if (mode == IPM_DB_READ && !can_write_beside(path)) {
		/* Another user's home, or a read-only mount: SQLite cannot
		 * create the WAL index (-shm) it reads a WAL database through.
		 * Without pending WAL content no writer is running and the file
		 * is complete: read it as immutable (no -shm, no locks). With
		 * some, SQLite reads through the existing -shm, read-only. */
		flags = SQLITE_OPEN_READONLY;
		if (!wal_pending(path)) {
			file = uri = immutable_uri(path);
			flags |= SQLITE_OPEN_URI;
		}
	} else {
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	}
	if (sqlite3_open_v2(file, &db->sql, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = ipm_error_set(IPM_ERROR, "cannot open database '%s': %s", path,
				   db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
		goto done;
	}
	sqlite3_busy_timeout(db->sql, 10000);
	if ((rc = query_int(db, "PRAGMA application_id", &app_id)) < 0 ||
	    (rc = query_int(db, "PRAGMA user_version", &version)) < 0 ||
	    (rc = query_int(db, "SELECT count(*) FROM sqlite_master", &ntables)) < 0)
		goto done;
	if (app_id != IPM_APPLICATION_ID && !(app_id == 0 && version == 0 && ntables == 0)) {
		rc = not_ipm_db(path);
		goto done;
	}
	if (version > SCHEMA_VERSION) {
		rc = ipm_error_set(IPM_EINVAL, "database '%s' was written by a newer ipm (schema %d, this ipm knows %d)",
				   path, version, SCHEMA_VERSION);
		ipm_error_hint("upgrade ipm");
		goto done;
	}
	if ((rc = exec(db, "PRAGMA foreign_keys = ON")) < 0)
		goto done;
	/* readers (list, info, search) map the file instead of copying each
	 * page into the page cache: half the page faults of a 10,000-row list */
	if (mode == IPM_DB_READ && strcmp(file, ":memory:") != 0 &&
	    (rc = exec(db, "PRAGMA mmap_size = 268435456")) < 0)
		goto done;
	if (!(flags & SQLITE_OPEN_READONLY) && strcmp(file, ":memory:") != 0 && mode == IPM_DB_WRITE) {
		/* WAL: readers (ipm list) never wait for a writer (ipm install) */
		if ((rc = exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
				   " PRAGMA cache_size = -32768")) < 0)
			goto done;
	}
	if (version < SCHEMA_VERSION) {
		if (flags & SQLITE_OPEN_READONLY) {
			rc = ipm_error_set(IPM_EINVAL, "database '%s' needs an upgrade but is read-only", path);
			goto done;
		}
		if ((rc = migrate(db, version)) < 0)
			goto done;
	}
	*out = db;
	db = NULL;
	rc = 0;
done:
	ipm_db_free(db);
	free(uri);
	return rc;
}

void ipm_db_free(struct ipm_db *db)
{
	if (!db)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->stmts[i]);
	sqlite3_close(db->sql);
	free(db->path);
	free(db);
}

/* ---- registries ---- */

void ipm_registry_row_release(struct ipm_registry_row *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->kind);
	free(r->location);
	free(r->stamp);
	free(r->home);
	free(r->home_commit);
	memset(r, 0, sizeof(*r));
}

int ipm_db_registry_get(struct ipm_registry_row *out, struct ipm_db *db, const char *name)
{
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = stmt(&s, db, ST_REGISTRY_GET)) < 0)
		return rc;
	bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->name = col_text(s, 0);
		out->kind = col_text(s, 1);
		out->location = col_text(s, 2);
		out->stamp = col_text(s, 3);
		out->home = col_text(s, 4);
		out->home_commit = col_text(s, 5);
		out->imported_at = sqlite3_column_int64(s, 6);
		out->nentries = sqlite3_column_int64(s, 7);
		out->serial = sqlite3_column_int64(s, 8);
		out->expires = sqlite3_column_int64(s, 9);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s' was never imported", name);
	} else {
		rc = sql_error(db, "reading registries");
	}
	done_stmt(s);
	return rc;
}

/* Names per name_vectors row: big enough that a 100,000-name registry is a
 * few dozen rows, small enough that an import holds little in memory. */
#define VEC_CHUNK 4096

struct ipm_db_import {
	struct ipm_db *db;
	char *registry;
	struct ipm_buf key;
	/* the chunk of name vectors being filled */
	struct ipm_buf names;
	struct ipm_buf vecs;
	size_t count;
	size_t dim;
	int64_t nentries;   /* entries added */
	unsigned flags;     /* IPM_DB_IMPORT_KEEP */
	struct ipm_buf removed;   /* KEEP: names removed, NUL-terminated one after another */
	size_t nremoved;
};

static void add_lower(struct ipm_buf *b, const char *s)
{
	for (; *s; s++)
		ipm_buf_addch(b, (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s);
}

static void delete_registry_rows(struct ipm_db *db, const char *name, int *rc)
{
	if (*rc < 0)
		return;
	if ((*rc = run(db, ST_FTS_DELETE_REGISTRY, name)) < 0 ||
	    (*rc = run(db, ST_VECTORS_DELETE_REGISTRY, name)) < 0 ||
	    (*rc = run(db, ST_FILES_DELETE_REGISTRY, name)) < 0 ||
	    (*rc = run(db, ST_ENTRIES_DELETE_REGISTRY, name)) < 0)
		return;
}

int ipm_db_import_begin(struct ipm_db_import **out, struct ipm_db *db, const struct ipm_registry_row *row)
{
	return ipm_db_import_begin_flags(out, db, row, 0);
}

int ipm_db_import_begin_flags(struct ipm_db_import **out, struct ipm_db *db, const struct ipm_registry_row *row,
			      unsigned flags)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	if ((rc = begin(db)) < 0)
		return rc;
	if ((rc = stmt(&s, db, ST_REGISTRY_UPSERT)) < 0)
		goto done;
	bind_text(s, 1, row->name);
	bind_text(s, 2, row->kind ? row->kind : "local");
	bind_text(s, 3, row->location ? row->location : "");
	bind_text(s, 4, row->stamp);
	bind_text(s, 5, row->home);
	bind_text(s, 6, row->home_commit);
	sqlite3_bind_int64(s, 7, row->imported_at ? row->imported_at : (int64_t)time(NULL));
	if (row->serial)
		sqlite3_bind_int64(s, 8, row->serial);
	else
		sqlite3_bind_null(s, 8);
	if (row->expires)
		sqlite3_bind_int64(s, 9, row->expires);
	else
		sqlite3_bind_null(s, 9);
	rc = sqlite3_step(s);
	done_stmt(s);
	rc = rc == SQLITE_DONE ? 0 : sql_error(db, "writing registries");
	if (!(flags & IPM_DB_IMPORT_KEEP))
		delete_registry_rows(db, row->name, &rc);
done:
	if (rc < 0) {
		rollback(db);
		return rc;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->db = db;
	(*out)->flags = flags;
	ipm_buf_init(&(*out)->removed);
	(*out)->registry = xstrdup(row->name);
	ipm_buf_init(&(*out)->key);
	ipm_buf_init(&(*out)->names);
	ipm_buf_init(&(*out)->vecs);
	return 0;
}

/*
 * Name vectors are mostly zeros (a short name has a few dozen n-grams out of
 * IPM_SIMILAR_DIM cells), so each is stored sparse, in one of two forms:
 *   'q' u8 n, f32 scale, n x (u8 index, u8 code)    value = (float)code * scale
 *   'f' u16 n, n x (u16 index, f32 value)
 * The 'q' form is used only when it gives back every value exactly. It fits
 * the vectors of similar.c, whose cells are sums of half-integer weights
 * times one normalising factor: 2 bytes a cell instead of 6, so the
 * vectors of 100,000 names are a few MiB, read and decoded in milliseconds.
 * Native byte order: the database never leaves this machine.
 */
/* Finds scale and codes[i] (1..255) with (float)codes[i] * scale == val[i]
 * for the n (> 0, <= 255) nonzero values; 1 found, 0 not. Candidate scales
 * are a value divided by a power of two (exact); 2 first, the step of the
 * half-integer weights of similar.c. */
static int quantize(float *out_scale, unsigned char *codes, const float *val, size_t n)
{
	static const float steps[] = { 2, 1, 4, 8, 16, 32, 64, 128 };

	for (size_t j = 0; j < n && j < 4; j++) {
		if (!(val[j] > 0.0f) || val[j] > 3.0e38f)
			return 0;
		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			float scale = val[j] / steps[k], inv = 1.0f / scale;
			size_t i;
			if (!(scale >= 1e-30f))
				break;
			for (i = 0; i < n; i++) {
				float c = val[i] * inv;
				if (!(c >= 0.5f && c < 255.5f))
					break;
				int q = (int)(c + 0.5f);
				if ((float)q * scale != val[i])
					break;
				codes[i] = (unsigned char)q;
			}
			if (i == n) {
				*out_scale = scale;
				return 1;
			}
		}
	}
	return 0;
}

static void encode_vec(struct ipm_buf *b, const float *vec, size_t len)
{
	unsigned char idx8[256], codes[256];
	float val[256], scale = 0;
	size_t nonzero = 0;

	if (len <= 256) {
		for (size_t i = 0; i < len; i++) {
			if (vec[i] != 0.0f) {
				idx8[nonzero] = (unsigned char)i;
				val[nonzero++] = vec[i];
			}
		}
	}
	if (len <= 256 && nonzero <= 255 && (nonzero == 0 || quantize(&scale, codes, val, nonzero))) {
		unsigned char *out;
		ipm_buf_grow(b, 6 + 2 * nonzero);
		out = (unsigned char *)b->ptr + b->len;
		out[0] = 'q';
		out[1] = (unsigned char)nonzero;
		memcpy(out + 2, &scale, sizeof(scale));
		for (size_t i = 0; i < nonzero; i++) {
			out[6 + 2 * i] = idx8[i];
			out[7 + 2 * i] = codes[i];
		}
		b->len += 6 + 2 * nonzero;
		b->ptr[b->len] = '\0';
	} else {
		uint16_t n = 0, idx;
		for (size_t i = 0; i < len; i++)
			if (vec[i] != 0.0f)
				n++;
		ipm_buf_addch(b, 'f');
		ipm_buf_addn(b, &n, sizeof(n));
		for (size_t i = 0; i < len; i++) {
			if (vec[i] == 0.0f)
				continue;
			idx = (uint16_t)i;
			ipm_buf_addn(b, &idx, sizeof(idx));
			ipm_buf_addn(b, &vec[i], sizeof(float));
		}
	}
}

/* Decodes one vector at *p (of end) into row[dim], which the caller
 * zeroed; advances *p. 0, or -1 for a damaged blob. */
static int decode_vec(float *row, size_t dim, const unsigned char **p, const unsigned char *end)
{
	const unsigned char *c = *p;

	if (c >= end)
		return -1;
	if (c[0] == 'q') {
		float scale;
		size_t n;
		if (end - c < 6)
			return -1;
		n = c[1];
		memcpy(&scale, c + 2, sizeof(scale));
		c += 6;
		if ((size_t)(end - c) < 2 * n)
			return -1;
		for (size_t k = 0; k < n; k++, c += 2) {
			if (c[0] >= dim)
				return -1;
			row[c[0]] = (float)c[1] * scale;
		}
	} else if (c[0] == 'f') {
		uint16_t n, idx;
		if (end - c < 3)
			return -1;
		memcpy(&n, c + 1, sizeof(n));
		c += 3;
		if ((size_t)(end - c) < 6 * (size_t)n)
			return -1;
		for (size_t k = 0; k < n; k++, c += 6) {
			memcpy(&idx, c, sizeof(idx));
			if (idx >= dim)
				return -1;
			memcpy(&row[idx], c + 2, sizeof(float));
		}
	} else {
		return -1;
	}
	*p = c;
	return 0;
}

/* Writes the chunk of name vectors filled so far. */
static int flush_vectors(struct ipm_db_import *imp)
{
	struct ipm_db *db = imp->db;
	sqlite3_stmt *s = NULL;
	int rc;

	if (imp->count == 0)
		return 0;
	if ((rc = stmt(&s, db, ST_VECTOR_INSERT)) < 0)
		return rc;
	bind_text(s, 1, imp->registry);
	sqlite3_bind_int64(s, 2, (int64_t)imp->dim);
	sqlite3_bind_int64(s, 3, (int64_t)imp->count);
	sqlite3_bind_blob(s, 4, imp->names.ptr, (int)imp->names.len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, imp->vecs.ptr, (int)imp->vecs.len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	done_stmt(s);
	if (rc != SQLITE_DONE)
		return sql_error(db, "writing name vectors");
	ipm_buf_reset(&imp->names);
	ipm_buf_reset(&imp->vecs);
	imp->count = 0;
	return 0;
}

/* Binds an entry row's ten columns (ST_ENTRY_INSERT, ST_ENTRY_UPDATE). */
static void bind_entry(sqlite3_stmt *s, struct ipm_db_import *imp, const struct ipm_import_item *item,
		       const char *shard, const char *sha256)
{
	const char *tail = item->repo ? strchr(item->repo, '/') : NULL;

	ipm_buf_reset(&imp->key);
	if (item->repo)
		add_lower(&imp->key, item->repo);
	bind_text(s, 1, imp->registry);
	bind_text(s, 2, item->name);
	bind_text(s, 3, item->repo);
	bind_text(s, 4, item->repo ? imp->key.ptr : NULL);
	bind_text(s, 5, tail ? imp->key.ptr + (tail + 1 - item->repo) : NULL);
	bind_text(s, 6, item->description ? item->description : "");
	bind_text(s, 7, item->keywords ? item->keywords : "");
	bind_text(s, 8, item->json ? item->json : "");
	bind_text(s, 9, shard);
	bind_text(s, 10, sha256);
	bind_text(s, 11, item->latest);
	bind_text(s, 12, item->versions);
}

/* Runs a statement whose parameters are (registry, name). */
static int run2(struct ipm_db *db, enum stmt_id id, const char *registry, const char *name, const char *what)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = stmt(&s, db, id)) < 0)
		return rc;
	bind_text(s, 1, registry);
	bind_text(s, 2, name);
	rc = sqlite3_step(s);
	done_stmt(s);
	return rc == SQLITE_DONE ? 0 : sql_error(db, what);
}

/* KEEP: replaces the row of item's name, and its FTS row, in place. 1 when
 * there was one, 0 when there was none (nothing written). */
static int replace_entry(struct ipm_db_import *imp, const struct ipm_import_item *item, const char *shard,
			 const char *sha256)
{
	struct ipm_db *db = imp->db;
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = run2(db, ST_FTS_DELETE_ONE, imp->registry, item->name, "writing the search index")) < 0 ||
	    (rc = stmt(&s, db, ST_ENTRY_UPDATE)) < 0)
		return rc;
	bind_entry(s, imp, item, shard, sha256);
	rc = sqlite3_step(s);
	done_stmt(s);
	if (rc != SQLITE_DONE)
		return sql_error(db, "writing entries");
	if (sqlite3_changes(db->sql) == 0)
		return 0;
	if ((rc = run2(db, ST_FTS_INSERT_ONE, imp->registry, item->name, "writing the search index")) < 0)
		return rc;
	return 1;
}

int ipm_db_import_add(struct ipm_db_import *imp, const struct ipm_import_item *item)
{
	return ipm_db_import_add_sparse(imp, item, NULL, NULL);
}

int ipm_db_import_add_sparse(struct ipm_db_import *imp, const struct ipm_import_item *item, const char *shard,
			     const char *sha256)
{
	struct ipm_db *db = imp->db;
	sqlite3_stmt *s = NULL;
	int rc;

	if (imp->flags & IPM_DB_IMPORT_KEEP) {
		/* a changed entry: its rows only, its name vector stays */
		if ((rc = replace_entry(imp, item, shard, sha256)) != 0)
			return rc < 0 ? rc : 0;
	}
	if ((rc = stmt(&s, db, ST_ENTRY_INSERT)) < 0)
		return rc;
	bind_entry(s, imp, item, shard, sha256);
	rc = sqlite3_step(s);
	done_stmt(s);
	if (rc == SQLITE_CONSTRAINT)
		return ipm_error_set(IPM_EINVAL, "package '%s' appears twice in registry '%s'",
				     item->name, imp->registry);
	if (rc != SQLITE_DONE)
		return sql_error(db, "writing entries");
	if ((imp->flags & IPM_DB_IMPORT_KEEP) &&
	    (rc = run2(db, ST_FTS_INSERT_ONE, imp->registry, item->name, "writing the search index")) < 0)
		return rc;
	imp->nentries++;
	if (item->vec && item->vec_len && item->vec_len <= UINT16_MAX) {
		if (imp->count && (imp->dim != item->vec_len || imp->count == VEC_CHUNK) &&
		    (rc = flush_vectors(imp)) < 0)
			return rc;
		imp->dim = item->vec_len;
		ipm_buf_addn(&imp->names, item->name, strlen(item->name) + 1);
		encode_vec(&imp->vecs, item->vec, item->vec_len);
		imp->count++;
	}
	return 0;
}

int ipm_db_import_remove(struct ipm_db_import *imp, const char *name)
{
	int rc;

	if (!(imp->flags & IPM_DB_IMPORT_KEEP))
		return ipm_error_set(IPM_EINVAL, "removing an entry from an import that replaces them all");
	if ((rc = run2(imp->db, ST_FTS_DELETE_ONE, imp->registry, name, "writing the search index")) < 0 ||
	    (rc = run2(imp->db, ST_ENTRY_DELETE_ONE, imp->registry, name, "writing entries")) < 0)
		return rc;
	if (sqlite3_changes(imp->db->sql) > 0) {
		ipm_buf_addn(&imp->removed, name, strlen(name) + 1);
		imp->nremoved++;
	}
	return 0;
}

int ipm_db_import_file(struct ipm_db_import *imp, const char *path, const char *sha256, const char *etag,
		       const char *modified)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = stmt(&s, imp->db, ST_FILE_SET)) < 0)
		return rc;
	bind_text(s, 1, imp->registry);
	bind_text(s, 2, path);
	bind_text(s, 3, sha256);
	bind_text(s, 4, etag);
	bind_text(s, 5, modified);
	rc = sqlite3_step(s);
	done_stmt(s);
	return rc == SQLITE_DONE ? 0 : sql_error(imp->db, "writing registry files");
}

int ipm_db_import_root(struct ipm_db_import *imp, const char *sha256, const char *etag, const char *modified,
		       const char *body, size_t len)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = stmt(&s, imp->db, ST_ROOT_SET)) < 0)
		return rc;
	bind_text(s, 1, imp->registry);
	bind_text(s, 2, sha256);
	bind_text(s, 3, etag);
	bind_text(s, 4, modified);
	sqlite3_bind_text(s, 5, body, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	done_stmt(s);
	return rc == SQLITE_DONE ? 0 : sql_error(imp->db, "writing registry files");
}

int ipm_db_import_file_drop(struct ipm_db_import *imp, const char *path)
{
	return run2(imp->db, ST_FILE_DROP, imp->registry, path, "writing registry files");
}

/* 1 when name is one of the n NUL-terminated names in list. */
static int in_names(const char *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++, list += strlen(list) + 1)
		if (!strcmp(list, name))
			return 1;
	return 0;
}

/* Length of the encoded vector at p (encode_vec's forms), 0 when damaged. */
static size_t encoded_len(const unsigned char *p, const unsigned char *end)
{
	uint16_t n;

	if (p < end && p[0] == 'q' && end - p >= 2)
		return 6 + 2 * (size_t)p[1];
	if (p < end && p[0] == 'f' && end - p >= 3) {
		memcpy(&n, p + 1, sizeof(n));
		return 3 + 6 * (size_t)n;
	}
	return 0;
}

/* KEEP: takes the removed names out of the registry's chunks of name
 * vectors, rewriting only the chunks that held one. */
static int remove_vectors(struct ipm_db_import *imp)
{
	struct ipm_db *db = imp->db;
	struct ipm_buf names = IPM_BUF_INIT, vecs = IPM_BUF_INIT;
	sqlite3_stmt *s = NULL, *w = NULL;
	int rc;

	if (!imp->nremoved)
		return 0;
	if ((rc = stmt(&s, db, ST_VECTORS_OF_REGISTRY)) < 0)
		return rc;
	bind_text(s, 1, imp->registry);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0), count = sqlite3_column_int64(s, 1), kept = 0;
		const char *n = sqlite3_column_blob(s, 2), *nend = n + sqlite3_column_bytes(s, 2);
		const unsigned char *v = sqlite3_column_blob(s, 3), *vend = v + sqlite3_column_bytes(s, 3);
		int hit = 0;

		ipm_buf_reset(&names);
		ipm_buf_reset(&vecs);
		for (int64_t i = 0; i < count && n && n < nend; i++) {
			size_t nlen = strnlen(n, (size_t)(nend - n)), vlen = encoded_len(v, vend);
			if (nlen == (size_t)(nend - n) || !vlen || vlen > (size_t)(vend - v)) {
				rc = ipm_error_set(IPM_ERROR, "database '%s': damaged name vectors", db->path);
				goto done;
			}
			if (in_names(imp->removed.ptr, imp->nremoved, n)) {
				hit = 1;
			} else {
				ipm_buf_addn(&names, n, nlen + 1);
				ipm_buf_addn(&vecs, v, vlen);
				kept++;
			}
			n += nlen + 1;
			v += vlen;
		}
		if (!hit)
			continue;
		if ((rc = stmt(&w, db, kept ? ST_VECTOR_UPDATE : ST_VECTOR_DELETE)) < 0)
			goto done;
		sqlite3_bind_int64(w, 1, id);
		if (kept) {
			sqlite3_bind_int64(w, 2, kept);
			sqlite3_bind_blob(w, 3, names.ptr, (int)names.len, SQLITE_STATIC);
			sqlite3_bind_blob(w, 4, vecs.ptr, (int)vecs.len, SQLITE_STATIC);
		}
		rc = sqlite3_step(w);
		done_stmt(w);
		if (rc != SQLITE_DONE) {
			rc = sql_error(db, "writing name vectors");
			goto done;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : sql_error(db, "reading name vectors");
done:
	done_stmt(s);
	ipm_buf_release(&names);
	ipm_buf_release(&vecs);
	return rc;
}

static void import_free(struct ipm_db_import *imp)
{
	ipm_buf_release(&imp->removed);
	ipm_buf_release(&imp->key);
	ipm_buf_release(&imp->names);
	ipm_buf_release(&imp->vecs);
	free(imp->registry);
	free(imp);
}

int ipm_db_import_commit(struct ipm_db_import *imp)
{
	struct ipm_db *db = imp->db;
	sqlite3_stmt *s = NULL;
	int rc = flush_vectors(imp);

	if (imp->flags & IPM_DB_IMPORT_KEEP) {
		/* FTS rows were written one by one; the count is the table's */
		if (rc == 0)
			rc = remove_vectors(imp);
		if (rc == 0)
			rc = run(db, ST_REGISTRY_RECOUNT, imp->registry);
		if (rc == 0)
			rc = commit(db);
		if (rc < 0)
			rollback(db);
		import_free(imp);
		return rc;
	}
	if (rc == 0 && (rc = stmt(&s, db, ST_REGISTRY_SET_COUNT)) == 0) {
		bind_text(s, 1, imp->registry);
		sqlite3_bind_int64(s, 2, imp->nentries);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sql_error(db, "writing registries");
		done_stmt(s);
	}

	/* FTS in bulk, from the rows just written: much faster than row by row */
	if (rc == 0)
		rc = run(db, ST_FTS_INSERT_REGISTRY, imp->registry);

	if (rc == 0)
		rc = commit(db);
	if (rc < 0)
		rollback(db);
	import_free(imp);
	return rc;
}

void ipm_db_import_abort(struct ipm_db_import *imp)
{
	if (!imp)
		return;
	rollback(imp->db);
	import_free(imp);
}

int ipm_db_registry_import(struct ipm_db *db, const struct ipm_registry_row *row,
			   const struct ipm_import_item *items, size_t nitems)
{
	struct ipm_db_import *imp = NULL;
	int rc;

	if ((rc = ipm_db_import_begin(&imp, db, row)) < 0)
		return rc;
	for (size_t i = 0; i < nitems; i++) {
		if ((rc = ipm_db_import_add(imp, &items[i])) < 0) {
			ipm_db_import_abort(imp);
			return rc;
		}
	}
	return ipm_db_import_commit(imp);
}

int ipm_db_registry_drop(struct ipm_db *db, const char *name)
{
	int rc;

	if ((rc = begin(db)) < 0)
		return rc;
	delete_registry_rows(db, name, &rc);
	if (rc == 0)
		rc = run(db, ST_REGISTRY_DELETE, name);
	if (rc == 0)
		rc = commit(db);
	if (rc < 0)
		rollback(db);
	return rc;
}

/* ---- lookups ---- */

/* Position of registry in the search order; SIZE_MAX when not configured. */
static size_t registry_rank(const char *registry, const char *const *registries, size_t n)
{
	if (!registries || n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(registries[i], registry))
			return i;
	return (size_t)-1;
}

/* Runs one lookup; keeps the row of the first registry in order. With
 * several rows in that registry (only possible by repo tail) the spec is
 * ambiguous. Returns 1 found, 0 none, <0 error. */
static int lookup(char **out_json, char **out_registry, char **out_name, struct ipm_db *db, enum stmt_id id,
		  const char *key, const char *const *registries, size_t nregistries, const char *spec)
{
	sqlite3_stmt *s = NULL;
	size_t best = (size_t)-1;
	struct ipm_buf others = IPM_BUF_INIT;
	char *best_repo = NULL;
	int rc, nsame = 0;

	if ((rc = stmt(&s, db, id)) < 0)
		return rc;
	bind_text(s, 1, key);
	if (id == ST_ENTRY_BY_REPO) {
		/* the tail as the import cut it: after the first '/' */
		const char *slash = strchr(key, '/');
		bind_text(s, 2, slash ? slash + 1 : "");
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *registry = (const char *)sqlite3_column_text(s, 0);
		const char *repo = (const char *)sqlite3_column_text(s, 2);
		size_t rank = registry_rank(registry, registries, nregistries);
		if (rank == (size_t)-1)
			continue;
		if (rank < best || *out_json == NULL) {
			free(*out_json);
			free(*out_registry);
			free(best_repo);
			*out_json = col_text(s, 1);
			*out_registry = xstrdup(registry);
			if (out_name) {
				free(*out_name);
				*out_name = col_text(s, 3);
			}
			best_repo = xstrdup(repo);
			best = rank;
			nsame = 1;
			ipm_buf_reset(&others);
		} else if (rank == best) {
			nsame++;
			ipm_buf_addf(&others, ", '%s'", repo ? repo : "?");
		}
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		rc = sql_error(db, "reading entries");
		goto fail;
	}
	if (nsame > 1) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is ambiguous: it names '%s'%s", spec,
				   best_repo ? best_repo : "?", others.ptr);
		ipm_error_hint("use owner/repo or the package name");
		goto fail;
	}
	free(best_repo);
	ipm_buf_release(&others);
	return *out_json ? 1 : 0;
fail:
	free(best_repo);
	ipm_buf_release(&others);
	free(*out_json);
	free(*out_registry);
	*out_json = NULL;
	*out_registry = NULL;
	return rc;
}

int ipm_db_entry_find(char **out_json, char **out_registry, struct ipm_db *db,
		      const char *spec, const char *const *registries, size_t nregistries)
{
	return ipm_db_entry_find_named(out_json, out_registry, NULL, db, spec, registries, nregistries);
}

int ipm_db_entry_find_named(char **out_json, char **out_registry, char **out_name, struct ipm_db *db,
			    const char *spec, const char *const *registries, size_t nregistries)
{
	int rc;

	struct ipm_buf key = IPM_BUF_INIT;

	*out_json = NULL;
	*out_registry = NULL;
	if (out_name)
		*out_name = NULL;
	add_lower(&key, spec);
	rc = lookup(out_json, out_registry, out_name, db, ST_ENTRY_BY_NAME, key.ptr, registries, nregistries, spec);
	if (rc == 0 && strchr(spec, '/'))
		rc = lookup(out_json, out_registry, out_name, db, ST_ENTRY_BY_REPO, key.ptr, registries,
			    nregistries, spec);
	else if (rc == 0)
		rc = lookup(out_json, out_registry, out_name, db, ST_ENTRY_BY_TAIL, key.ptr, registries,
			    nregistries, spec);
	ipm_buf_release(&key);
	if (rc <= 0 && out_name) {
		free(*out_name);
		*out_name = NULL;
	}
	if (rc < 0)
		return rc;
	if (rc == 0)
		return ipm_error_set(IPM_ENOTFOUND, "package '%s' not found", spec);
	return 0;
}

int ipm_db_entry_registries(char ***out, size_t *nout, struct ipm_db *db, const char *name)
{
	struct ipm_buf key = IPM_BUF_INIT;
	sqlite3_stmt *s = NULL;
	char **names = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_ENTRY_BY_NAME)) < 0)
		return rc;
	add_lower(&key, name);
	bind_text(s, 1, key.ptr);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(names, alloc, n + 1);
		names[n++] = col_text(s, 0);
	}
	done_stmt(s);
	ipm_buf_release(&key);
	if (rc != SQLITE_DONE) {
		xfree_strv(names, n);
		return sql_error(db, "reading entries");
	}
	*out = names;
	*nout = n;
	return 0;
}

int ipm_db_entry_shared(struct ipm_db *db, int (*fn)(void *ctx, const char *name, const char *registries),
			void *ctx)
{
	sqlite3_stmt *s = NULL;
	char *largest = NULL;
	int rc, stop = 0;

	if ((rc = stmt(&s, db, ST_REGISTRY_LARGEST)) < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		largest = col_text(s, 0);
	done_stmt(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_error(db, "reading registries");
	if ((rc = stmt(&s, db, ST_ENTRY_SHARED)) < 0) {
		free(largest);
		return rc;
	}
	bind_text(s, 1, largest);
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW)
		stop = fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1));
	done_stmt(s);
	free(largest);
	if (!stop && rc != SQLITE_DONE)
		return sql_error(db, "reading entries");
	return 0;
}

void ipm_search_hits_free(struct ipm_search_hit *hits, size_t n)
{
	if (!hits)
		return;
	for (size_t i = 0; i < n; i++) {
		free(hits[i].name);
		free(hits[i].registry);
		free(hits[i].description);
	}
	free(hits);
}

static int isalnum_ascii(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * User text becomes an FTS5 query of quoted prefix terms, all required:
 * "json pars" -> "json"* "pars"*. Quoting means no user input is ever read
 * as FTS syntax (AND, NEAR, column filters, stray quotes).
 */
static void fts_query(struct ipm_buf *q, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;

	while (*s) {
		while (*s && !(isalnum_ascii(*s) || *s >= 0x80))
			s++;
		if (!*s)
			break;
		if (q->len)
			ipm_buf_addch(q, ' ');
		ipm_buf_addch(q, '"');
		while (*s && (isalnum_ascii(*s) || *s >= 0x80))
			ipm_buf_addch(q, (char)*s++);
		ipm_buf_add(q, "\"*");
	}
}

static int search_add(struct ipm_search_hit **hits, size_t *n, size_t *alloc, int64_t **ids,
		      size_t *ids_alloc, sqlite3_stmt *s, double score)
{
	int64_t id = sqlite3_column_int64(s, 0);

	for (size_t i = 0; i < *n; i++)
		if ((*ids)[i] == id)
			return 0;
	XGROW(*hits, *alloc, *n + 1);
	XGROW(*ids, *ids_alloc, *n + 1);
	(*ids)[*n] = id;
	(*hits)[*n].name = col_text(s, 1);
	(*hits)[*n].registry = col_text(s, 2);
	(*hits)[*n].description = col_text(s, 3);
	(*hits)[*n].score = score;
	(*n)++;
	return 1;
}

int ipm_db_entry_search(struct ipm_search_hit **out, size_t *nout, struct ipm_db *db,
			const char *query, size_t limit)
{
	struct ipm_buf q = IPM_BUF_INIT;
	struct ipm_search_hit *hits = NULL;
	int64_t *ids = NULL;
	size_t n = 0, alloc = 0, ids_alloc = 0, nexact = 0;
	sqlite3_stmt *s = NULL;
	double top = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	fts_query(&q, query);
	if (q.len == 0) {
		ipm_buf_release(&q);
		return 0;
	}
	if ((rc = stmt(&s, db, ST_SEARCH)) < 0)
		goto done;
	bind_text(s, 1, q.ptr);
	sqlite3_bind_int64(s, 2, limit ? (int64_t)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		search_add(&hits, &n, &alloc, &ids, &ids_alloc, s, sqlite3_column_double(s, 4));
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		rc = sql_error(db, "searching");
		goto done;
	}
	if (n)
		top = hits[0].score;
	/* exact names: moved (or added) to the front, scored above the best */
	if ((rc = stmt(&s, db, ST_SEARCH_EXACT)) < 0)
		goto done;
	bind_text(s, 1, query);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		size_t at = n;
		for (size_t i = 0; i < n; i++)
			if (ids[i] == id)
				at = i;
		if (at == n && !search_add(&hits, &n, &alloc, &ids, &ids_alloc, s, 0))
			continue;
		struct ipm_search_hit hit = hits[at];
		hit.score = top + 1.0;
		memmove(&hits[nexact + 1], &hits[nexact], (at - nexact) * sizeof(*hits));
		memmove(&ids[nexact + 1], &ids[nexact], (at - nexact) * sizeof(*ids));
		hits[nexact] = hit;
		ids[nexact] = id;
		nexact++;
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		rc = sql_error(db, "searching");
		goto done;
	}
	while (limit && n > limit) {
		n--;
		free(hits[n].name);
		free(hits[n].registry);
		free(hits[n].description);
	}
	*out = hits;
	*nout = n;
	hits = NULL;
	rc = 0;
done:
	ipm_search_hits_free(hits, n);
	free(ids);
	ipm_buf_release(&q);
	return rc;
}

/* Reads column col of name_vectors row id into *buf (grown as needed);
 * *h is opened on first use and moved to the row after. */
static int read_blob(struct ipm_db *db, sqlite3_blob **h, const char *col, int64_t id, size_t len,
		     unsigned char **buf, size_t *alloc)
{
	int rc = *h ? sqlite3_blob_reopen(*h, id)
		    : sqlite3_blob_open(db->sql, "main", "name_vectors", col, id, 0, h);

	if (rc != SQLITE_OK || (size_t)sqlite3_blob_bytes(*h) != len)
		return -1;
	if (*alloc < len) {
		free(*buf);
		*alloc = len;
		*buf = xmalloc(len);
	}
	return len == 0 || sqlite3_blob_read(*h, *buf, (int)len, 0) == SQLITE_OK ? 0 : -1;
}

int ipm_db_name_vector_blocks(struct ipm_db *db,
			      int (*fn)(void *ctx, const char *const *names, const float *vecs,
					size_t n, size_t dim),
			      void *ctx)
{
	const char *names[IPM_DB_VECTOR_BLOCK];
	sqlite3_stmt *s = NULL;
	sqlite3_blob *hnames = NULL, *hvecs = NULL;
	unsigned char *nbuf = NULL, *vbuf = NULL;
	size_t nalloc = 0, valloc = 0;
	float *block = NULL;
	size_t alloc = 0;
	int rc, stop = 0;

	if ((rc = stmt(&s, db, ST_VECTORS_ALL)) < 0)
		return rc;
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		int64_t dim = sqlite3_column_int64(s, 1), count = sqlite3_column_int64(s, 2);
		size_t nlen = (size_t)sqlite3_column_int64(s, 3), vlen = (size_t)sqlite3_column_int64(s, 4);

		/* a damaged chunk is skipped, like a damaged vector used to be */
		if (dim <= 0 || dim > UINT16_MAX || count <= 0 ||
		    read_blob(db, &hnames, "names", id, nlen, &nbuf, &nalloc) < 0 ||
		    read_blob(db, &hvecs, "vecs", id, vlen, &vbuf, &valloc) < 0)
			continue;
		const char *nm = (const char *)nbuf, *nm_end = nm + nlen;
		const unsigned char *v = vbuf, *v_end = vbuf + vlen;
		if (alloc < IPM_DB_VECTOR_BLOCK * (size_t)dim) {
			free(block);
			alloc = IPM_DB_VECTOR_BLOCK * (size_t)dim;
			block = xmalloc(alloc * sizeof(*block));
		}
		for (int64_t done = 0; !stop && done < count;) {
			size_t n = 0;
			memset(block, 0, IPM_DB_VECTOR_BLOCK * (size_t)dim * sizeof(*block));
			for (; n < IPM_DB_VECTOR_BLOCK && done < count; n++, done++) {
				const char *nul = memchr(nm, '\0', (size_t)(nm_end - nm));
				if (!nul || decode_vec(block + n * (size_t)dim, (size_t)dim, &v, v_end) < 0)
					break;
				names[n] = nm;
				nm = nul + 1;
			}
			if (n && fn(ctx, names, block, n, (size_t)dim))
				stop = 1;
			if (n < IPM_DB_VECTOR_BLOCK && done < count)
				break;   /* damaged: the rest of the chunk is lost */
		}
	}
	rc = (stop || rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : sql_error(db, "reading name vectors");
	done_stmt(s);
	sqlite3_blob_close(hnames);
	sqlite3_blob_close(hvecs);
	free(nbuf);
	free(vbuf);
	free(block);
	return rc;
}

struct per_name {
	int (*fn)(void *ctx, const char *name, const float *vec, size_t len);
	void *ctx;
};

static int each_name(void *ctx, const char *const *names, const float *vecs, size_t n, size_t dim)
{
	struct per_name *p = ctx;

	for (size_t i = 0; i < n; i++)
		if (p->fn(p->ctx, names[i], vecs + i * dim, dim))
			return 1;
	return 0;
}

int ipm_db_name_vectors(struct ipm_db *db,
			int (*fn)(void *ctx, const char *name, const float *vec, size_t len),
			void *ctx)
{
	struct per_name p = { fn, ctx };

	return ipm_db_name_vector_blocks(db, each_name, &p);
}

/* ---- installed packages ---- */

void ipm_package_row_release(struct ipm_package_row *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->version);
	free(p->registry);
	free(p->source);
	free(p->resolved);
	free(p->method);
	free(p->store_dir);
	free(p->prefix);
	free(p->guessed_entry);
	free(p->entry);
	free(p->build_key);
	for (size_t i = 0; i < p->nfiles; i++) {
		free(p->files[i].path);
		free(p->files[i].sha256);
	}
	free(p->files);
	xfree_strv(p->depends, p->ndepends);
	xfree_strv(p->depend_constraints, p->ndepends);
	xfree_strv(p->provides, p->nprovides);
	xfree_strv(p->needs, p->nneeds);
	memset(p, 0, sizeof(*p));
}

static void package_from_row(struct ipm_package_row *p, sqlite3_stmt *s)
{
	memset(p, 0, sizeof(*p));
	p->name = col_text(s, 0);
	p->version = col_text(s, 1);
	p->registry = col_text(s, 2);
	p->source = col_text(s, 3);
	p->resolved = col_text(s, 4);
	p->method = col_text(s, 5);
	p->store_dir = col_text(s, 6);
	p->prefix = col_text(s, 7);
	p->explicit_install = sqlite3_column_int(s, 8);
	p->installed_at = sqlite3_column_int64(s, 9);
	p->guessed_entry = col_text(s, 10);
	p->entry = col_text(s, 11);
	p->build_key = col_text(s, 12);
}

int ipm_db_package_get(struct ipm_package_row *out, struct ipm_db *db, const char *name, int with_files)
{
	sqlite3_stmt *s = NULL;
	size_t alloc = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = stmt(&s, db, ST_PACKAGE_GET)) < 0)
		return rc;
	bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		package_from_row(out, s);
	done_stmt(s);
	if (rc == SQLITE_DONE)
		return ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", name);
	if (rc != SQLITE_ROW)
		return sql_error(db, "reading packages");
	if (!with_files)
		return 0;

	if ((rc = stmt(&s, db, ST_PACKAGE_FILES)) < 0)
		goto fail;
	bind_text(s, 1, name);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(out->files, alloc, out->nfiles + 1);
		struct ipm_file_row *f = &out->files[out->nfiles++];
		const char *type = (const char *)sqlite3_column_text(s, 1);
		f->path = col_text(s, 0);
		f->type = type ? type[0] : 'f';
		f->sha256 = col_text(s, 2);
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		rc = sql_error(db, "reading files");
		goto fail;
	}
	alloc = 0;
	if ((rc = stmt(&s, db, ST_PACKAGE_DEPS)) < 0)
		goto fail;
	bind_text(s, 1, name);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(out->depends, alloc, out->ndepends + 1);
		out->depend_constraints = xrealloc(out->depend_constraints,
						   alloc * sizeof(*out->depend_constraints));
		out->depend_constraints[out->ndepends] = col_text(s, 1);
		out->depends[out->ndepends++] = col_text(s, 0);
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		rc = sql_error(db, "reading deps");
		goto fail;
	}
	if ((rc = stmt(&s, db, ST_PACKAGE_SONAMES)) < 0)
		goto fail;
	bind_text(s, 1, name);
	{
		size_t palloc = 0, nalloc = 0;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			const char *kind = (const char *)sqlite3_column_text(s, 0);
			if (kind && kind[0] == 'p') {
				XGROW(out->provides, palloc, out->nprovides + 1);
				out->provides[out->nprovides++] = col_text(s, 1);
			} else {
				XGROW(out->needs, nalloc, out->nneeds + 1);
				out->needs[out->nneeds++] = col_text(s, 1);
			}
		}
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		rc = sql_error(db, "reading sonames");
		goto fail;
	}
	return 0;
fail:
	ipm_package_row_release(out);
	return rc;
}

int ipm_db_package_list(struct ipm_package_row **out, size_t *nout, struct ipm_db *db)
{
	struct ipm_package_row *rows = NULL;
	size_t n = 0, alloc = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_PACKAGE_LIST)) < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(rows, alloc, n + 1);
		package_from_row(&rows[n++], s);
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < n; i++)
			ipm_package_row_release(&rows[i]);
		free(rows);
		return sql_error(db, "reading packages");
	}
	*out = rows;
	*nout = n;
	return 0;
}

int ipm_db_package_each(struct ipm_db *db, int brief,
			int (*fn)(void *ctx, const struct ipm_package_row *p), void *ctx)
{
	struct ipm_package_row p;
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = stmt(&s, db, brief ? ST_PACKAGE_BRIEF : ST_PACKAGE_LIST)) < 0)
		return rc;
	memset(&p, 0, sizeof(p));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		/* borrowed from SQLite, valid until the next step */
		if (brief) {
			p.name = (char *)sqlite3_column_text(s, 0);
			p.version = (char *)sqlite3_column_text(s, 1);
			p.installed_at = sqlite3_column_int64(s, 2);
			p.source = (char *)sqlite3_column_text(s, 3);
			p.guessed_entry = (char *)sqlite3_column_text(s, 4);
			p.explicit_install = sqlite3_column_int(s, 5);
			if (fn(ctx, &p)) {
				rc = SQLITE_DONE;
				break;
			}
			continue;
		}
		p.name = (char *)sqlite3_column_text(s, 0);
		p.version = (char *)sqlite3_column_text(s, 1);
		p.registry = (char *)sqlite3_column_text(s, 2);
		p.source = (char *)sqlite3_column_text(s, 3);
		p.resolved = (char *)sqlite3_column_text(s, 4);
		p.method = (char *)sqlite3_column_text(s, 5);
		p.store_dir = (char *)sqlite3_column_text(s, 6);
		p.prefix = (char *)sqlite3_column_text(s, 7);
		p.explicit_install = sqlite3_column_int(s, 8);
		p.installed_at = sqlite3_column_int64(s, 9);
		p.guessed_entry = (char *)sqlite3_column_text(s, 10);
		p.entry = (char *)sqlite3_column_text(s, 11);
		p.build_key = (char *)sqlite3_column_text(s, 12);
		if (fn(ctx, &p)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	done_stmt(s);
	return rc == SQLITE_DONE ? 0 : sql_error(db, "reading packages");
}

int ipm_db_package_widths(size_t *name, size_t *version, struct ipm_db *db)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*name = *version = 0;
	if ((rc = stmt(&s, db, ST_PACKAGE_WIDTHS)) < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*name = (size_t)sqlite3_column_int64(s, 0);
		*version = (size_t)sqlite3_column_int64(s, 1);
	}
	done_stmt(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_error(db, "reading packages");
}

/*
 * Inserts p with its files, deps and sonames: into packages, files, deps and
 * sonames (gen 0), or as a generation row (gen 1, *out_gen its id). Inside
 * the caller's transaction.
 */
static int insert_package(int64_t *out_gen, struct ipm_db *db, const struct ipm_package_row *p, int gen)
{
	sqlite3_stmt *s = NULL;
	char type[2] = { 0, 0 };
	int64_t row = 0;
	int rc;

	if ((rc = stmt(&s, db, gen ? ST_GEN_INSERT : ST_PACKAGE_INSERT)) < 0)
		return rc;
	bind_text(s, 1, p->name);
	bind_text(s, 2, p->version);
	bind_text(s, 3, p->registry);
	bind_text(s, 4, p->source);
	bind_text(s, 5, p->resolved);
	bind_text(s, 6, p->method);
	bind_text(s, 7, p->store_dir ? p->store_dir : "");
	bind_text(s, 8, p->prefix ? p->prefix : "");
	sqlite3_bind_int(s, 9, p->explicit_install);
	sqlite3_bind_int64(s, 10, p->installed_at ? p->installed_at : (int64_t)time(NULL));
	bind_text(s, 11, p->guessed_entry);
	bind_text(s, 12, p->entry);
	bind_text(s, 13, p->build_key);
	rc = sqlite3_step(s);
	done_stmt(s);
	if (rc != SQLITE_DONE)
		return sql_error(db, "writing packages");
	row = sqlite3_last_insert_rowid(db->sql);
	if (out_gen)
		*out_gen = row;
#define BIND_OWNER(s) (gen ? sqlite3_bind_int64(s, 1, row) : (bind_text(s, 1, p->name), 0))
	if ((rc = stmt(&s, db, gen ? ST_GEN_FILE_INSERT : ST_FILE_INSERT)) < 0)
		return rc;
	for (size_t i = 0; i < p->nfiles; i++) {
		type[0] = p->files[i].type ? p->files[i].type : 'f';
		BIND_OWNER(s);
		bind_text(s, 2, p->files[i].path);
		bind_text(s, 3, type);
		bind_text(s, 4, p->files[i].sha256);
		rc = sqlite3_step(s);
		done_stmt(s);
		if (rc != SQLITE_DONE)
			return sql_error(db, "writing files");
	}
	if ((rc = stmt(&s, db, gen ? ST_GEN_DEP_INSERT : ST_DEP_INSERT)) < 0)
		return rc;
	for (size_t i = 0; i < p->ndepends; i++) {
		BIND_OWNER(s);
		bind_text(s, 2, p->depends[i]);
		bind_text(s, 3, p->depend_constraints ? p->depend_constraints[i] : NULL);
		rc = sqlite3_step(s);
		done_stmt(s);
		if (rc != SQLITE_DONE)
			return sql_error(db, "writing deps");
	}
	if ((rc = stmt(&s, db, gen ? ST_GEN_SONAME_INSERT : ST_SONAME_INSERT)) < 0)
		return rc;
	for (size_t i = 0; i < p->nprovides + p->nneeds; i++) {
		int provided = i < p->nprovides;
		BIND_OWNER(s);
		bind_text(s, 2, provided ? "p" : "n");
		bind_text(s, 3, provided ? p->provides[i] : p->needs[i - p->nprovides]);
		rc = sqlite3_step(s);
		done_stmt(s);
		if (rc != SQLITE_DONE)
			return sql_error(db, "writing sonames");
	}
#undef BIND_OWNER
	return 0;
}

int ipm_db_package_add(struct ipm_db *db, const struct ipm_package_row *p)
{
	int rc;

	if ((rc = begin(db)) < 0)
		return rc;
	/* cascades to the old files and deps rows */
	if ((rc = run(db, ST_PACKAGE_DELETE, p->name)) < 0)
		goto done;
	if ((rc = insert_package(NULL, db, p, 0)) < 0)
		goto done;
	rc = commit(db);
done:
	if (rc < 0)
		rollback(db);
	return rc;
}

int ipm_db_package_remove(struct ipm_db *db, const char *name)
{
	int rc;

	if ((rc = begin(db)) < 0)
		return rc;
	if ((rc = run(db, ST_PACKAGE_DELETE, name)) < 0)
		goto done;
	if (sqlite3_changes(db->sql) == 0) {
		rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", name);
		goto done;
	}
	/* a pin holds an installed package: it goes with it */
	if ((rc = run(db, ST_PIN_DELETE, name)) < 0)
		goto done;
	rc = commit(db);
done:
	if (rc < 0)
		rollback(db);
	return rc;
}

int ipm_db_package_dependents(char ***out, size_t *nout, struct ipm_db *db, const char *name)
{
	return ipm_db_package_dependents_constraints(out, NULL, nout, db, name);
}

int ipm_db_package_dependents_constraints(char ***out, char ***constraints, size_t *nout,
					  struct ipm_db *db, const char *name)
{
	char **names = NULL, **cons = NULL;
	size_t n = 0, alloc = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	if (constraints)
		*constraints = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_DEPENDENTS)) < 0)
		return rc;
	bind_text(s, 1, name);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(names, alloc, n + 1);
		cons = xrealloc(cons, alloc * sizeof(*cons));
		cons[n] = col_text(s, 1);
		names[n++] = col_text(s, 0);
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		xfree_strv(names, n);
		xfree_strv(cons, n);
		return sql_error(db, "reading deps");
	}
	*out = names;
	*nout = n;
	if (constraints)
		*constraints = cons;
	else
		xfree_strv(cons, n);
	return 0;
}

/* The first column of the first row of statement id (with arg, when given,
 * as ?1): IPM_ENOTFOUND, with no message, when there is no row. */
static int one_text(char **out, struct ipm_db *db, enum stmt_id id, const char *arg, const char *what)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	if ((rc = stmt(&s, db, id)) < 0)
		return rc;
	if (arg)
		bind_text(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = col_text(s, 0);
	done_stmt(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return IPM_ENOTFOUND;
	return sql_error(db, what);
}

int ipm_db_installed_prefix(char **out, struct ipm_db *db)
{
	return one_text(out, db, ST_PACKAGE_PREFIX, NULL, "reading packages");
}

int ipm_db_file_owner(char **out_name, struct ipm_db *db, const char *path)
{
	int rc = one_text(out_name, db, ST_FILE_OWNER, path, "reading files");
	if (rc == IPM_ENOTFOUND)
		return ipm_error_set(IPM_ENOTFOUND, "no installed package owns '%s'", path);
	return rc;
}

/* ---- history ---- */

int ipm_db_txn_commit(int64_t *out_id, struct ipm_db *db, const struct ipm_txn_record *rec)
{
	sqlite3_stmt *s = NULL;
	int64_t id = 0;
	int rc;

	if ((rc = begin(db)) < 0)
		return rc;
	if ((rc = stmt(&s, db, ST_TXN_INSERT)) < 0)
		goto done;
	bind_text(s, 1, rec->uuid);
	sqlite3_bind_int64(s, 2, rec->at ? rec->at : (int64_t)time(NULL));
	bind_text(s, 3, rec->command ? rec->command : "");
	rc = sqlite3_step(s);
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		rc = sql_error(db, "writing history");
		goto done;
	}
	rc = 0;
	id = sqlite3_last_insert_rowid(db->sql);
	for (size_t i = 0; i < rec->nchanges && rc == 0; i++) {
		const struct ipm_txn_change *c = &rec->changes[i];
		int64_t gen = 0;

		if ((rc = run(db, ST_PACKAGE_DELETE, c->name)) < 0)
			break;
		/* a pin holds an installed package: it goes with it */
		if (!c->row && (rc = run(db, ST_PIN_DELETE, c->name)) < 0)
			break;
		if (c->row && ((rc = insert_package(NULL, db, c->row, 0)) < 0 ||
			       (rc = insert_package(&gen, db, c->row, 1)) < 0))
			break;
		if ((rc = stmt(&s, db, ST_CHANGE_INSERT)) < 0)
			break;
		sqlite3_bind_int64(s, 1, id);
		bind_text(s, 2, c->name);
		bind_text(s, 3, c->old_version);
		bind_text(s, 4, c->row ? c->row->version : NULL);
		if (c->row)
			sqlite3_bind_int64(s, 5, gen);
		else
			sqlite3_bind_null(s, 5);
		rc = sqlite3_step(s);
		done_stmt(s);
		rc = rc == SQLITE_DONE ? 0 : sql_error(db, "writing history");
	}
	if (rc == 0)
		rc = commit(db);
done:
	if (rc < 0)
		rollback(db);
	else if (out_id)
		*out_id = id;
	return rc;
}

int ipm_db_txn_committed(int *out, struct ipm_db *db, const char *uuid)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*out = 0;
	if ((rc = stmt(&s, db, ST_TXN_BY_UUID)) < 0)
		return rc;
	bind_text(s, 1, uuid);
	rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW;
	done_stmt(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_error(db, "reading history");
}

int ipm_db_history_last(int64_t *out, struct ipm_db *db)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*out = 0;
	if ((rc = stmt(&s, db, ST_TXN_LAST)) < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	done_stmt(s);
	return rc == SQLITE_ROW ? 0 : sql_error(db, "reading history");
}

void ipm_history_free(struct ipm_history_entry *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].command);
		for (size_t k = 0; k < h[i].nchanges; k++) {
			free(h[i].changes[k].name);
			free(h[i].changes[k].old_version);
			free(h[i].changes[k].new_version);
		}
		free(h[i].changes);
	}
	free(h);
}

int ipm_db_history_list(struct ipm_history_entry **out, size_t *nout, struct ipm_db *db)
{
	struct ipm_history_entry *h = NULL;
	size_t n = 0, alloc = 0, calloc_ = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_HISTORY)) < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		if (n == 0 || h[n - 1].id != id) {
			XGROW(h, alloc, n + 1);
			memset(&h[n], 0, sizeof(h[n]));
			h[n].id = id;
			h[n].at = sqlite3_column_int64(s, 1);
			h[n].command = col_text(s, 2);
			n++;
			calloc_ = 0;
		}
		if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
			struct ipm_history_entry *e = &h[n - 1];
			XGROW(e->changes, calloc_, e->nchanges + 1);
			e->changes[e->nchanges].name = col_text(s, 3);
			e->changes[e->nchanges].old_version = col_text(s, 4);
			e->changes[e->nchanges].new_version = col_text(s, 5);
			e->nchanges++;
		}
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		ipm_history_free(h, n);
		return sql_error(db, "reading history");
	}
	*out = h;
	*nout = n;
	return 0;
}

/* Files, deps and sonames of generation row id into p. */
static int load_generation_details(struct ipm_package_row *p, struct ipm_db *db, int64_t id)
{
	sqlite3_stmt *s = NULL;
	size_t alloc = 0, palloc = 0, nalloc = 0;
	int rc;

	if ((rc = stmt(&s, db, ST_GEN_FILES)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(p->files, alloc, p->nfiles + 1);
		struct ipm_file_row *f = &p->files[p->nfiles++];
		const char *type = (const char *)sqlite3_column_text(s, 1);
		f->path = col_text(s, 0);
		f->type = type ? type[0] : 'f';
		f->sha256 = col_text(s, 2);
	}
	done_stmt(s);
	if (rc != SQLITE_DONE)
		return sql_error(db, "reading history");
	alloc = 0;
	if ((rc = stmt(&s, db, ST_GEN_DEPS)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(p->depends, alloc, p->ndepends + 1);
		p->depend_constraints = xrealloc(p->depend_constraints, alloc * sizeof(*p->depend_constraints));
		p->depend_constraints[p->ndepends] = col_text(s, 1);
		p->depends[p->ndepends++] = col_text(s, 0);
	}
	done_stmt(s);
	if (rc != SQLITE_DONE)
		return sql_error(db, "reading history");
	if ((rc = stmt(&s, db, ST_GEN_SONAMES)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		if (kind && kind[0] == 'p') {
			XGROW(p->provides, palloc, p->nprovides + 1);
			p->provides[p->nprovides++] = col_text(s, 1);
		} else {
			XGROW(p->needs, nalloc, p->nneeds + 1);
			p->needs[p->nneeds++] = col_text(s, 1);
		}
	}
	done_stmt(s);
	return rc == SQLITE_DONE ? 0 : sql_error(db, "reading history");
}

int ipm_db_history_state(struct ipm_package_row **out, size_t *nout, struct ipm_db *db, int64_t txn)
{
	struct ipm_package_row *rows = NULL;
	int64_t *ids = NULL;
	size_t n = 0, alloc = 0, ids_alloc = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_STATE_ROWS)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, txn);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct ipm_package_row *p;
		XGROW(rows, alloc, n + 1);
		XGROW(ids, ids_alloc, n + 1);
		p = &rows[n];
		memset(p, 0, sizeof(*p));
		ids[n] = sqlite3_column_int64(s, 0);
		p->name = col_text(s, 1);
		p->version = col_text(s, 2);
		p->registry = col_text(s, 3);
		p->source = col_text(s, 4);
		p->resolved = col_text(s, 5);
		p->method = col_text(s, 6);
		p->store_dir = col_text(s, 7);
		p->prefix = col_text(s, 8);
		p->explicit_install = sqlite3_column_int(s, 9);
		p->installed_at = sqlite3_column_int64(s, 10);
		p->guessed_entry = col_text(s, 11);
		p->entry = col_text(s, 12);
		p->build_key = col_text(s, 13);
		n++;
	}
	done_stmt(s);
	rc = rc == SQLITE_DONE ? 0 : sql_error(db, "reading history");
	/* the statement above is done before these reuse others */
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = load_generation_details(&rows[i], db, ids[i]);
	free(ids);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			ipm_package_row_release(&rows[i]);
		free(rows);
		return rc;
	}
	*out = rows;
	*nout = n;
	return 0;
}

int ipm_db_store_dirs_kept(char ***out, size_t *nout, struct ipm_db *db, int64_t first, int64_t last)
{
	char **dirs = NULL;
	size_t n = 0, alloc = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_STORE_KEPT)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, first);
	sqlite3_bind_int64(s, 2, last);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(dirs, alloc, n + 1);
		dirs[n++] = col_text(s, 0);
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		xfree_strv(dirs, n);
		return sql_error(db, "reading history");
	}
	*out = dirs;
	*nout = n;
	return 0;
}

int ipm_db_store_dir_known(int *out, struct ipm_db *db, const char *store_dir)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*out = 0;
	if ((rc = stmt(&s, db, ST_STORE_KNOWN)) < 0)
		return rc;
	bind_text(s, 1, store_dir);
	rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW;
	done_stmt(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_error(db, "reading history");
}

/* ---- pins, outdated, unneeded ---- */

int ipm_db_pin_set(struct ipm_db *db, const char *name, const char *constraint)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = stmt(&s, db, ST_PIN_SET)) < 0)
		return rc;
	bind_text(s, 1, name);
	bind_text(s, 2, constraint);
	rc = sqlite3_step(s);
	done_stmt(s);
	return rc == SQLITE_DONE ? 0 : sql_error(db, "writing pins");
}

int ipm_db_pin_clear(struct ipm_db *db, const char *name)
{
	int rc = run(db, ST_PIN_DELETE, name);

	if (rc < 0)
		return rc;
	return sqlite3_changes(db->sql) ? 0 : IPM_ENOTFOUND;
}

int ipm_db_pin_get(char **out, struct ipm_db *db, const char *name)
{
	int rc = one_text(out, db, ST_PIN_GET, name, "reading pins");
	return rc == IPM_ENOTFOUND ? 0 : rc;
}

int ipm_db_outdated_each(struct ipm_db *db, int (*fn)(void *ctx, const struct ipm_outdated_row *row), void *ctx)
{
	struct ipm_outdated_row row;
	sqlite3_stmt *s = NULL;
	int rc, stop = 0;

	if ((rc = stmt(&s, db, ST_OUTDATED)) < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		/* borrowed from SQLite, valid until the next step */
		row.name = (const char *)sqlite3_column_text(s, 0);
		row.version = (const char *)sqlite3_column_text(s, 1);
		row.registry = (const char *)sqlite3_column_text(s, 2);
		row.explicit_install = sqlite3_column_int(s, 3);
		row.pin = (const char *)sqlite3_column_text(s, 4);
		row.latest = (const char *)sqlite3_column_text(s, 5);
		row.versions = (const char *)sqlite3_column_text(s, 6);
		row.entry_json = (const char *)sqlite3_column_text(s, 7);
		row.held_by = (const char *)sqlite3_column_text(s, 8);
		if ((stop = fn(ctx, &row)) != 0)
			break;
	}
	done_stmt(s);
	if (stop)
		return stop < 0 ? stop : 0;
	return rc == SQLITE_DONE ? 0 : sql_error(db, "reading packages");
}

int ipm_db_package_unneeded(char ***out, size_t *nout, struct ipm_db *db)
{
	char **names = NULL;
	size_t n = 0, alloc = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_UNNEEDED)) < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(names, alloc, n + 1);
		names[n++] = col_text(s, 0);
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		xfree_strv(names, n);
		return sql_error(db, "reading packages");
	}
	*out = names;
	*nout = n;
	return 0;
}

int ipm_db_entry_state(char **latest, char **installed, struct ipm_db *db, const char *name, const char *registry)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*latest = *installed = NULL;
	if ((rc = stmt(&s, db, ST_ENTRY_STATE)) < 0)
		return rc;
	bind_text(s, 1, name);
	bind_text(s, 2, registry);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*latest = col_text(s, 0);
		*installed = col_text(s, 1);
	}
	done_stmt(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_error(db, "reading entries");
}

int ipm_db_package_mark_explicit(struct ipm_db *db, const char *name)
{
	int rc = run(db, ST_PACKAGE_MARK_EXPLICIT, name);
	return rc < 0 ? rc : sqlite3_changes(db->sql) > 0;
}

/* ---- sparse registries ---- */

void ipm_registry_files_free(struct ipm_registry_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].sha256);
		free(files[i].etag);
		free(files[i].modified);
	}
	free(files);
}

int ipm_db_registry_files(struct ipm_registry_file **out, size_t *nout, struct ipm_db *db, const char *registry)
{
	struct ipm_registry_file *files = NULL;
	sqlite3_stmt *s = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_FILES_GET)) < 0)
		return rc;
	bind_text(s, 1, registry);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(files, alloc, n + 1);
		files[n].path = col_text(s, 0);
		files[n].sha256 = col_text(s, 1);
		files[n].etag = col_text(s, 2);
		files[n].modified = col_text(s, 3);
		n++;
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		ipm_registry_files_free(files, n);
		return sql_error(db, "reading registry files");
	}
	*out = files;
	*nout = n;
	return 0;
}

void ipm_shard_rows_free(struct ipm_shard_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].name);
		free(rows[i].sha256);
	}
	free(rows);
}

int ipm_db_shard_rows(struct ipm_shard_row **out, size_t *nout, struct ipm_db *db, const char *registry,
		      const char *shard)
{
	struct ipm_shard_row *rows = NULL;
	sqlite3_stmt *s = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = stmt(&s, db, ST_SHARD_ROWS)) < 0)
		return rc;
	bind_text(s, 1, registry);
	bind_text(s, 2, shard);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(rows, alloc, n + 1);
		rows[n].name = col_text(s, 0);
		rows[n].sha256 = col_text(s, 1);
		rows[n].held = sqlite3_column_int(s, 2);
		n++;
	}
	done_stmt(s);
	if (rc != SQLITE_DONE) {
		ipm_shard_rows_free(rows, n);
		return sql_error(db, "reading entries");
	}
	*out = rows;
	*nout = n;
	return 0;
}

int ipm_db_sparse_entry(char **out_sha256, struct ipm_db *db, const char *registry, const char *name)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*out_sha256 = NULL;
	if ((rc = stmt(&s, db, ST_SPARSE_ENTRY)) < 0)
		return rc;
	bind_text(s, 1, registry);
	bind_text(s, 2, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		*out_sha256 = col_text(s, 0);
		rc = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s' lists no package file for '%s'", registry, name);
	} else {
		rc = sql_error(db, "reading entries");
	}
	done_stmt(s);
	return rc;
}

int ipm_db_sparse_store(struct ipm_db *db, const char *registry, const char *name, const char *sha256,
			const char *json, const char *path, const char *etag, const char *modified)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = begin(db)) < 0)
		return rc;
	if ((rc = stmt(&s, db, ST_SPARSE_STORE)) < 0)
		goto done;
	bind_text(s, 1, registry);
	bind_text(s, 2, name);
	bind_text(s, 3, json);
	bind_text(s, 4, sha256);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sql_error(db, "writing entries");
	done_stmt(s);
	if (rc < 0 || (rc = stmt(&s, db, ST_FILE_SET)) < 0)
		goto done;
	bind_text(s, 1, registry);
	bind_text(s, 2, path);
	bind_text(s, 3, sha256);
	bind_text(s, 4, etag);
	bind_text(s, 5, modified);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sql_error(db, "writing registry files");
	done_stmt(s);
	if (rc == 0)
		rc = commit(db);
done:
	if (rc < 0)
		rollback(db);
	return rc;
}

int ipm_db_sparse_root(char **out_body, size_t *out_len, struct ipm_db *db, const char *registry)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*out_body = NULL;
	*out_len = 0;
	if ((rc = stmt(&s, db, ST_ROOT_GET)) < 0)
		return rc;
	bind_text(s, 1, registry);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		*out_len = (size_t)sqlite3_column_bytes(s, 0);
		*out_body = xstrndup((const char *)sqlite3_column_text(s, 0), *out_len);
		rc = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s' was never imported as a sparse registry", registry);
	} else {
		rc = sql_error(db, "reading registry files");
	}
	done_stmt(s);
	return rc;
}
