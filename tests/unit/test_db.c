/* The SQLite database: schema, foreign files, packages, registry index, search. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"

struct fixture {
	char dir[64];
	char *path;
	struct ipm_db *db;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/ipm-test-db-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/ipm.db", f->dir);
	if (ipm_db_open(&f->db, f->path, IPM_DB_WRITE) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ipm_db_free(f->db);
	ipm_rm_rf(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	char *data = NULL;
	assert_int_equal(ipm_file_read(&data, len, path), 0);
	return data;
}

static void test_open_migrate(void **state)
{
	struct fixture *f = *state;
	sqlite3 *raw;
	sqlite3_stmt *s;

	/* reopening an existing database works and keeps the schema */
	ipm_db_free(f->db);
	assert_int_equal(ipm_db_open(&f->db, f->path, IPM_DB_WRITE), 0);
	assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA application_id", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0x69706d00);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_true(sqlite3_column_int(s, 0) >= 1);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(raw);

	/* READ on a missing file: an empty database, and no file is created */
	struct ipm_db *rdb;
	char *missing = xasprintf("%s/none.db", f->dir);
	struct ipm_package_row *rows;
	size_t n;
	assert_int_equal(ipm_db_open(&rdb, missing, IPM_DB_READ), 0);
	assert_int_equal(ipm_db_package_list(&rows, &n, rdb), 0);
	assert_int_equal(n, 0);
	ipm_db_free(rdb);
	assert_false(ipm_path_exists(missing));
	free(missing);

	/* a database from a newer ipm is refused */
	assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(ipm_db_open(&rdb, f->path, IPM_DB_WRITE), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "newer ipm"));
}

static void test_not_ipm_db_text(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/notes.txt", f->dir);
	const char *text = "these are my notes, not a database\n";
	struct ipm_db *db = NULL;
	size_t len;

	assert_int_equal(ipm_file_write_atomic(path, text, strlen(text)), 0);
	assert_int_equal(ipm_db_open(&db, path, IPM_DB_WRITE), IPM_EINVAL);
	assert_null(db);
	char *want = xasprintf("'%s' is not an ipm database", path);
	assert_string_equal(ipm_error_message(), want);
	assert_non_null(ipm_error_hint_text());
	assert_int_equal(ipm_db_open(&db, path, IPM_DB_READ), IPM_EINVAL);
	char *after = read_all(path, &len);
	assert_string_equal(after, text);
	char *wal = xasprintf("%s-wal", path);
	assert_false(ipm_path_exists(wal));
	free(wal);
	free(after);
	free(want);
	free(path);
}

static void test_not_ipm_db_foreign_sqlite(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/other.db", f->dir);
	sqlite3 *raw;
	struct ipm_db *db = NULL;
	size_t len1, len2;

	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "CREATE TABLE t(x); INSERT INTO t VALUES (42);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	char *before = read_all(path, &len1);
	struct stat st1, st2;
	assert_int_equal(stat(path, &st1), 0);

	assert_int_equal(ipm_db_open(&db, path, IPM_DB_WRITE), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "is not an ipm database"));
	assert_int_equal(ipm_db_open(&db, path, IPM_DB_READ), IPM_EINVAL);

	char *after = read_all(path, &len2);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(len1, len2);
	assert_memory_equal(before, after, len1);
	assert_int_equal(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
	char *wal = xasprintf("%s-wal", path);
	assert_false(ipm_path_exists(wal));
	free(wal);

	/* with some other program's application_id too */
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "PRAGMA application_id = 1234", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(ipm_db_open(&db, path, IPM_DB_WRITE), IPM_EINVAL);
	free(before);
	free(after);
	free(path);
}

static void add_package(struct ipm_db *db, const char *name, const char *version,
			const char *const *files, size_t nfiles, char **depends, size_t ndepends)
{
	struct ipm_package_row p = { 0 };
	struct ipm_file_row fr[16];
	p.name = (char *)name;
	p.version = (char *)version;
	p.registry = "bundled";
	p.source = "git /src @ 0123";
	p.resolved = "0123";
	p.method = "default";
	p.store_dir = "/home/store";
	p.prefix = "/prefix";
	p.explicit_install = 1;
	for (size_t i = 0; i < nfiles; i++) {
		fr[i].path = (char *)files[i];
		fr[i].type = strchr(files[i], '.') ? 'f' : 'd';
		fr[i].sha256 = fr[i].type == 'f' ? "ab" : NULL;
	}
	p.files = fr;
	p.nfiles = nfiles;
	p.depends = depends;
	p.ndepends = ndepends;
	assert_int_equal(ipm_db_package_add(db, &p), 0);
}

static void test_packages(void **state)
{
	struct fixture *f = *state;
	const char *zfiles[] = { "lib", "lib/libz.a", "include/zlib.h" };
	const char *afiles[] = { "lib", "lib/libattention.a" };
	char *adeps[] = { "zlib" };
	struct ipm_package_row p;
	char **names;
	size_t n;
	char *owner;

	add_package(f->db, "zlib", "1.3", zfiles, 3, NULL, 0);
	add_package(f->db, "attention", "0.1", afiles, 2, adeps, 1);

	assert_int_equal(ipm_db_package_get(&p, f->db, "zlib", 1), 0);
	assert_string_equal(p.version, "1.3");
	assert_string_equal(p.source, "git /src @ 0123");
	assert_int_equal(p.explicit_install, 1);
	assert_true(p.installed_at > 0);
	assert_int_equal(p.nfiles, 3);
	assert_string_equal(p.files[0].path, "include/zlib.h");   /* by path */
	assert_int_equal(p.files[1].type, 'd');
	assert_null(p.files[1].sha256);
	assert_string_equal(p.files[2].sha256, "ab");
	ipm_package_row_release(&p);
	assert_int_equal(ipm_db_package_get(&p, f->db, "attention", 1), 0);
	assert_int_equal(p.ndepends, 1);
	assert_string_equal(p.depends[0], "zlib");
	ipm_package_row_release(&p);
	assert_int_equal(ipm_db_package_get(&p, f->db, "nope", 0), IPM_ENOTFOUND);

	struct ipm_package_row *rows;
	assert_int_equal(ipm_db_package_list(&rows, &n, f->db), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].name, "attention");
	assert_null(rows[0].files);
	for (size_t i = 0; i < n; i++)
		ipm_package_row_release(&rows[i]);
	free(rows);

	assert_int_equal(ipm_db_package_dependents(&names, &n, f->db, "zlib"), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "attention");
	xfree_strv(names, n);

	/* a file wins over a shared directory row */
	assert_int_equal(ipm_db_file_owner(&owner, f->db, "lib/libz.a"), 0);
	assert_string_equal(owner, "zlib");
	free(owner);
	assert_int_equal(ipm_db_file_owner(&owner, f->db, "lib"), 0);
	free(owner);
	assert_int_equal(ipm_db_file_owner(&owner, f->db, "bin/none"), IPM_ENOTFOUND);

	/* upgrade replaces files but keeps the dependents' rows */
	const char *zfiles2[] = { "lib/libz.so" };
	add_package(f->db, "zlib", "1.4", zfiles2, 1, NULL, 0);
	assert_int_equal(ipm_db_file_owner(&owner, f->db, "lib/libz.a"), IPM_ENOTFOUND);
	assert_int_equal(ipm_db_package_get(&p, f->db, "zlib", 1), 0);
	assert_string_equal(p.version, "1.4");
	assert_int_equal(p.nfiles, 1);
	ipm_package_row_release(&p);
	assert_int_equal(ipm_db_package_dependents(&names, &n, f->db, "zlib"), 0);
	assert_int_equal(n, 1);
	xfree_strv(names, n);

	/* remove takes files and deps along */
	assert_int_equal(ipm_db_package_remove(f->db, "attention"), 0);
	assert_int_equal(ipm_db_file_owner(&owner, f->db, "lib/libattention.a"), IPM_ENOTFOUND);
	assert_int_equal(ipm_db_package_dependents(&names, &n, f->db, "zlib"), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ipm_db_package_remove(f->db, "attention"), IPM_ENOTFOUND);
	assert_string_equal(ipm_error_message(), "package 'attention' is not installed");
}

static int note_guessed(void *ctx, const struct ipm_package_row *p)
{
	struct ipm_buf *b = ctx;
	ipm_buf_addf(b, "%s=%s;", p->name, p->guessed_entry ? p->guessed_entry : "-");
	return 0;
}

/* The entry ipm guessed for a repository no registry knows is kept with the
 * package (migration 4), read back whole, and marked in the brief list. */
static void test_guessed_entry(void **state)
{
	struct fixture *f = *state;
	struct ipm_package_row p = { 0 }, got;
	struct ipm_buf marks = IPM_BUF_INIT;
	const char *json = "{\"name\": \"tool\", \"description\": \"d\"}\n";

	add_package(f->db, "zlib", "1.3", NULL, 0, NULL, 0);
	p.name = "tool";
	p.version = "2.0";
	p.source = "git https://h/tool @ 0123";
	p.store_dir = "/home/store/tool";
	p.prefix = "/prefix";
	p.guessed_entry = (char *)json;
	assert_int_equal(ipm_db_package_add(f->db, &p), 0);

	assert_int_equal(ipm_db_package_get(&got, f->db, "tool", 0), 0);
	assert_string_equal(got.guessed_entry, json);
	assert_null(got.registry);
	ipm_package_row_release(&got);
	assert_int_equal(ipm_db_package_get(&got, f->db, "zlib", 0), 0);
	assert_null(got.guessed_entry);
	ipm_package_row_release(&got);

	assert_int_equal(ipm_db_package_each(f->db, 1, note_guessed, &marks), 0);
	assert_string_equal(marks.ptr, "tool=guessed;zlib=-;");
	ipm_buf_reset(&marks);
	assert_int_equal(ipm_db_package_each(f->db, 0, note_guessed, &marks), 0);
	assert_non_null(strstr(marks.ptr, "tool={"));
	ipm_buf_release(&marks);
}

/* What the dependents check reads: each dependent's constraint, the sonames
 * a package provides and needs, and the one prefix of the home. */
static void test_constraints_sonames_prefix(void **state)
{
	struct fixture *f = *state;
	struct ipm_package_row p = { 0 }, got;
	char *deps[] = { "liba", "libb" };
	char *constraints[] = { "^1.0", NULL };
	char *provides[] = { "libapp.so.1" };
	char *needs[] = { "liba.so.1", "libb.so.2" };
	char **names, **cons, *prefix;
	size_t n;

	assert_int_equal(ipm_db_installed_prefix(&prefix, f->db), IPM_ENOTFOUND);
	p.name = "app";
	p.version = "1.0";
	p.store_dir = "/home/store/app/1.0";
	p.prefix = "/prefix";
	p.depends = deps;
	p.depend_constraints = constraints;
	p.ndepends = 2;
	p.provides = provides;
	p.nprovides = 1;
	p.needs = needs;
	p.nneeds = 2;
	assert_int_equal(ipm_db_package_add(f->db, &p), 0);

	assert_int_equal(ipm_db_package_get(&got, f->db, "app", 1), 0);
	assert_int_equal(got.ndepends, 2);
	assert_string_equal(got.depend_constraints[0], "^1.0");
	assert_null(got.depend_constraints[1]);
	assert_int_equal(got.nprovides, 1);
	assert_string_equal(got.provides[0], "libapp.so.1");
	assert_int_equal(got.nneeds, 2);
	assert_string_equal(got.needs[1], "libb.so.2");
	ipm_package_row_release(&got);

	assert_int_equal(ipm_db_package_dependents_constraints(&names, &cons, &n, f->db, "liba"), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "app");
	assert_string_equal(cons[0], "^1.0");
	xfree_strv(names, n);
	xfree_strv(cons, n);

	assert_int_equal(ipm_db_installed_prefix(&prefix, f->db), 0);
	assert_string_equal(prefix, "/prefix");
	free(prefix);

	/* removing the package takes its sonames along */
	assert_int_equal(ipm_db_package_remove(f->db, "app"), 0);
	p.nprovides = 0;
	p.nneeds = 0;
	assert_int_equal(ipm_db_package_add(f->db, &p), 0);
	assert_int_equal(ipm_db_package_get(&got, f->db, "app", 1), 0);
	assert_int_equal(got.nprovides + got.nneeds, 0);
	ipm_package_row_release(&got);
}

static void test_package_list_fast(void **state)
{
	struct fixture *f = *state;
	struct ipm_package_row p = { 0 };
	struct timespec t0, t1;
	struct ipm_package_row *rows;
	size_t n;

	/* 10,000 rows, the size `make bench` uses */
	p.version = "1.0";
	p.registry = "bundled";
	p.source = "https://example.org/x.tar.gz sha256:0123";
	p.store_dir = "/store";
	p.prefix = "/prefix";
	for (int i = 0; i < 10000; i++) {
		p.name = xasprintf("pkg%05d", i);
		assert_int_equal(ipm_db_package_add(f->db, &p), 0);
		free(p.name);
	}
	double best = 1e9;
	for (int round = 0; round < 3; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(ipm_db_package_list(&rows, &n, f->db), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (ms < best)
			best = ms;
		assert_int_equal(n, 10000);
		assert_string_equal(rows[9999].name, "pkg09999");
		for (size_t i = 0; i < n; i++)
			ipm_package_row_release(&rows[i]);
		free(rows);
	}
	printf("# package_list of 10000 rows: %.2f ms\n", best);
#ifdef __SANITIZE_ADDRESS__
	assert_true(best < 200.0);   /* sanitizers slow every allocation down */
#else
	assert_true(best < 20.0);
#endif
}

static void import(struct ipm_db *db, const char *registry, const struct ipm_import_item *items, size_t n)
{
	struct ipm_registry_row row = { 0 };
	row.name = (char *)registry;
	row.kind = "local";
	row.location = "/reg";
	row.stamp = "s1";
	row.home = "/home/repo";
	assert_int_equal(ipm_db_registry_import(db, &row, items, n), 0);
}

static void test_registry_import_find(void **state)
{
	struct fixture *f = *state;
	float vec[8] = { 0, 0.5f, 0, 0, 0, 0, 0.25f, 0 };
	struct ipm_import_item team[] = {
		{ "zlib", "madler/zlib", "team copy of zlib", "compression", "{\"team\":1}", vec, 8, NULL, NULL },
		{ "ng", "zlib-ng/zlib-ng", "zlib for the next generation", "compression simd", "{\"ng\":1}", NULL, 0, NULL, NULL },
	};
	struct ipm_import_item bundled[] = {
		{ "zlib", "madler/zlib", "a massively spiffy compression library", "compression deflate", "{\"bundled\":1}", vec, 8, NULL, NULL },
		{ "attention", "ipm/attention", "attention for sequence models", "ml", "{\"attention\":1}", NULL, 0, NULL, NULL },
		{ "json-parser", "udp/json-parser", "very low footprint JSON parser", "json", "{\"jp\":1}", NULL, 0, NULL, NULL },
		{ "dup1", "alice/tool", "one tool", "", "{}", NULL, 0, NULL, NULL },
		{ "dup2", "bob/tool", "another tool", "", "{}", NULL, 0, NULL, NULL },
	};
	const char *order[] = { "team", "bundled" };
	const char *order_rev[] = { "bundled", "team" };
	char *json, *reg;
	struct ipm_registry_row row;

	import(f->db, "bundled", bundled, 5);
	import(f->db, "team", team, 2);

	assert_int_equal(ipm_db_registry_get(&row, f->db, "bundled"), 0);
	assert_int_equal(row.nentries, 5);
	assert_string_equal(row.kind, "local");
	assert_string_equal(row.stamp, "s1");
	assert_string_equal(row.home, "/home/repo");
	assert_null(row.home_commit);
	assert_true(row.imported_at > 0);
	ipm_registry_row_release(&row);
	assert_int_equal(ipm_db_registry_get(&row, f->db, "nope"), IPM_ENOTFOUND);

	/* by name, first registry in order wins */
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "zlib", order, 2), 0);
	assert_string_equal(json, "{\"team\":1}");
	assert_string_equal(reg, "team");
	free(json), free(reg);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "zlib", order_rev, 2), 0);
	assert_string_equal(reg, "bundled");
	free(json), free(reg);
	/* a registry not in the order is not consulted */
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "ng", order_rev, 1), IPM_ENOTFOUND);
	assert_string_equal(ipm_error_message(), "package 'ng' not found");
	/* by owner/repo (any case) and by the repo part */
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "UDP/json-parser", order, 2), 0);
	assert_string_equal(json, "{\"jp\":1}");
	free(json), free(reg);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "zlib-ng", order, 2), 0);
	assert_string_equal(json, "{\"ng\":1}");
	free(json), free(reg);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "tool", order, 2), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "ambiguous"));
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "nothing", order, 2), IPM_ENOTFOUND);

	/* re-import replaces every entry of that registry only */
	struct ipm_import_item team2[] = {
		{ "ng2", "zlib-ng/zlib-ng2", "renamed", "", "{\"ng2\":1}", NULL, 0, NULL, NULL },
	};
	import(f->db, "team", team2, 1);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "ng", order, 2), IPM_ENOTFOUND);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "zlib", order, 2), 0);
	assert_string_equal(reg, "bundled");
	free(json), free(reg);
	struct ipm_search_hit *hits;
	size_t n;
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "generation", 10), 0);
	assert_int_equal(n, 0);   /* the FTS rows went with the entries */
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "renamed", 10), 0);
	assert_int_equal(n, 1);
	ipm_search_hits_free(hits, n);

	/* a duplicate name fails the import and keeps the previous index */
	struct ipm_import_item twice[] = {
		{ "a", NULL, "x", "", "{}", NULL, 0, NULL, NULL },
		{ "a", NULL, "y", "", "{}", NULL, 0, NULL, NULL },
	};
	struct ipm_registry_row r2 = { "team", "local", "/reg", "s2", NULL, NULL, 0, 0, 0, 0 };
	assert_int_equal(ipm_db_registry_import(f->db, &r2, twice, 2), IPM_EINVAL);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "ng2", order, 2), 0);
	free(json), free(reg);
	assert_int_equal(ipm_db_registry_get(&row, f->db, "team"), 0);
	assert_string_equal(row.stamp, "s1");
	ipm_registry_row_release(&row);

	/* drop forgets a registry */
	assert_int_equal(ipm_db_registry_drop(f->db, "team"), 0);
	assert_int_equal(ipm_db_registry_get(&row, f->db, "team"), IPM_ENOTFOUND);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "ng2", order, 2), IPM_ENOTFOUND);
}

static int collect_vec(void *ctx, const char *name, const float *vec, size_t len)
{
	int *count = ctx;
	assert_string_equal(name, "zlib");
	assert_int_equal(len, 8);
	assert_true(vec[1] == 0.5f && vec[6] == 0.25f && vec[0] == 0.0f && vec[7] == 0.0f);
	(*count)++;
	return 0;
}

static void test_name_vectors(void **state)
{
	struct fixture *f = *state;
	float sparse[8] = { 0, 0.5f, 0, 0, 0, 0, 0.25f, 0 };
	float dense[4] = { 1, 2, 3, 4 };
	struct ipm_import_item a[] = { { "zlib", NULL, "d", "", "{}", sparse, 8, NULL, NULL } };
	struct ipm_import_item b[] = { { "zlib", NULL, "d", "", "{}", sparse, 8, NULL, NULL } };
	int count = 0;

	import(f->db, "one", a, 1);
	import(f->db, "two", b, 1);
	assert_int_equal(ipm_db_name_vectors(f->db, collect_vec, &count), 0);
	assert_int_equal(count, 2);

	(void)dense;
}

static int check_dense(void *ctx, const char *name, const float *vec, size_t len)
{
	assert_int_equal(len, 4);
	assert_true(vec[0] == 1 && vec[3] == 4);
	(*(int *)ctx)++;
	return 1;   /* stop */
}

static void test_name_vectors_dense(void **state)
{
	struct fixture *f = *state;
	float dense[4] = { 1, 2, 3, 4 };
	struct ipm_import_item c[] = { { "zlib", NULL, "d", "", "{}", dense, 4, NULL, NULL }, { "zz", NULL, "d", "", "{}", dense, 4, NULL, NULL } };
	int count = 0;
	import(f->db, "two", c, 2);
	assert_int_equal(ipm_db_name_vectors(f->db, check_dense, &count), 0);
	assert_int_equal(count, 1);
}

static void test_search(void **state)
{
	struct fixture *f = *state;
	struct ipm_import_item items[] = {
		{ "json-parser", "udp/json-parser", "very low footprint JSON parser", "json", "{}", NULL, 0, NULL, NULL },
		{ "cjson", "DaveGamble/cJSON", "ultralightweight JSON parser in ANSI C", "json parser", "{}", NULL, 0, NULL, NULL },
		{ "yaml", "yaml/libyaml", "a YAML parser that mentions json once", "", "{}", NULL, 0, NULL, NULL },
		{ "json", "x/json", "the package called json", "", "{}", NULL, 0, NULL, NULL },
		{ "zlib", "madler/zlib", "compression", "deflate", "{}", NULL, 0, NULL, NULL },
	};
	struct ipm_search_hit *hits;
	size_t n;

	import(f->db, "bundled", items, 5);
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "json", 10), 0);
	assert_int_equal(n, 4);
	/* exact name first, then name matches above a mere description mention */
	assert_string_equal(hits[0].name, "json");
	assert_string_equal(hits[3].name, "yaml");
	assert_string_equal(hits[0].registry, "bundled");
	assert_true(hits[1].score >= hits[2].score && hits[2].score >= hits[3].score);
	ipm_search_hits_free(hits, n);

	/* prefix match, several words all required */
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "defl", 10), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].name, "zlib");
	ipm_search_hits_free(hits, n);
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "json ansi", 10), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].name, "cjson");
	ipm_search_hits_free(hits, n);
	/* by repo owner */
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "madler", 10), 0);
	assert_int_equal(n, 1);
	ipm_search_hits_free(hits, n);
	/* FTS syntax in user input is just text */
	const char *weird[] = { "\"", "json AND", "NEAR(json", "name:json", "*", "json\"*OR", "-", "" };
	for (size_t i = 0; i < sizeof(weird) / sizeof(*weird); i++) {
		assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, weird[i], 10), 0);
		ipm_search_hits_free(hits, n);
	}
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "json", 2), 0);
	assert_int_equal(n, 2);
	ipm_search_hits_free(hits, n);
}

static int count_names(void *ctx, const char *name, const float *vec, size_t len)
{
	struct ipm_buf *names = ctx;
	ipm_buf_addf(names, "%s ", name);
	return 0;
}

/* A sparse registry's update: changed rows, their FTS rows and the name
 * vectors of names added and removed, and nothing else. */
static void test_import_keep(void **state)
{
	struct fixture *f = *state;
	float vec[4] = { 1, 0, 0.5f, 0 };
	struct ipm_import_item first[] = {
		{ "alpha", "o/alpha", "the first letter", "greek", "", vec, 4, NULL, NULL },
		{ "beta", "o/beta", "the second letter", "greek", "{\"beta\":1}", vec, 4, NULL, NULL },
		{ "gamma", NULL, "the third letter", "greek", "", vec, 4, NULL, NULL },
	};
	const char *shards[] = { "aa", "bb", "aa" }, *digests[] = { "1111", "2222", "3333" };
	struct ipm_registry_row row = { "sp", "http", "http://x/index.json", "e1", NULL, NULL, 0, 0, 0, 0 };
	const char *order[] = { "sp" };
	struct ipm_db_import *imp = NULL;
	struct ipm_shard_row *rows = NULL;
	struct ipm_registry_file *files = NULL;
	struct ipm_search_hit *hits;
	struct ipm_buf names = IPM_BUF_INIT;
	char *json, *reg, *name, *sha;
	size_t n;

	assert_int_equal(ipm_db_import_begin(&imp, f->db, &row), 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(ipm_db_import_add_sparse(imp, &first[i], shards[i], digests[i]), 0);
	assert_int_equal(ipm_db_import_file(imp, "shards/aa.json", "aaaa", "\"e-aa\"", "Mon, 01 Jan 2024 00:00:00 GMT"), 0);
	assert_int_equal(ipm_db_import_commit(imp), 0);
	/* an entry whose package file was never fetched: json "", and its name */
	assert_int_equal(ipm_db_entry_find_named(&json, &reg, &name, f->db, "o/alpha", order, 1), 0);
	assert_string_equal(json, "");
	assert_string_equal(name, "alpha");
	free(json), free(reg), free(name);
	assert_int_equal(ipm_db_sparse_entry(&sha, f->db, "sp", "alpha"), 0);
	assert_string_equal(sha, "1111");
	free(sha);
	assert_int_equal(ipm_db_shard_rows(&rows, &n, f->db, "sp", "aa"), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].held + rows[1].held, 0);
	ipm_shard_rows_free(rows, n);
	assert_int_equal(ipm_db_shard_rows(&rows, &n, f->db, "sp", "bb"), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].held, 1);
	ipm_shard_rows_free(rows, n);

	/* keep: beta changes, gamma goes, delta comes */
	struct ipm_import_item changed = { "beta", "o/beta", "the second letter, revised", "greek", "{\"beta\":2}",
					   vec, 4, NULL, NULL };
	struct ipm_import_item added = { "delta", NULL, "the fourth letter", "greek", "", vec, 4, NULL, NULL };
	row.stamp = "e2";
	assert_int_equal(ipm_db_import_begin_flags(&imp, f->db, &row, IPM_DB_IMPORT_KEEP), 0);
	assert_int_equal(ipm_db_import_add_sparse(imp, &changed, "bb", "2223"), 0);
	assert_int_equal(ipm_db_import_add_sparse(imp, &added, "cc", "4444"), 0);
	assert_int_equal(ipm_db_import_remove(imp, "gamma"), 0);
	assert_int_equal(ipm_db_import_file_drop(imp, "shards/aa.json"), 0);
	assert_int_equal(ipm_db_import_file(imp, "index.json", "rrrr", "\"e2\"", NULL), 0);
	assert_int_equal(ipm_db_import_commit(imp), 0);
	assert_int_equal(ipm_db_registry_get(&row, f->db, "sp"), 0);
	assert_int_equal(row.nentries, 3);
	assert_string_equal(row.stamp, "e2");
	ipm_registry_row_release(&row);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "beta", order, 1), 0);
	assert_string_equal(json, "{\"beta\":2}");
	free(json), free(reg);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "gamma", order, 1), IPM_ENOTFOUND);
	/* the search index follows: the old text is gone, the new found */
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "revised", 10), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].name, "beta");
	ipm_search_hits_free(hits, n);
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "third", 10), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "greek", 10), 0);
	assert_int_equal(n, 3);
	ipm_search_hits_free(hits, n);
	/* every name has one vector: the removed one gone, the added one there */
	assert_int_equal(ipm_db_name_vectors(f->db, count_names, &names), 0);
	assert_string_equal(names.ptr, "alpha beta delta ");
	ipm_buf_release(&names);
	assert_int_equal(ipm_db_registry_files(&files, &n, f->db, "sp"), 0);
	assert_int_equal(n, 1);
	assert_string_equal(files[0].path, "index.json");
	assert_string_equal(files[0].etag, "\"e2\"");
	assert_null(files[0].modified);
	ipm_registry_files_free(files, n);

	/* a lazily fetched file is kept only while the entry still names it */
	assert_int_equal(ipm_db_sparse_store(f->db, "sp", "alpha", "1111", "{\"alpha\":1}", "packages/al/ph/alpha.json",
					     NULL, NULL), 0);
	assert_int_equal(ipm_db_sparse_store(f->db, "sp", "delta", "0000", "{\"delta\":1}", "packages/de/lt/delta.json",
					     NULL, NULL), 0);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "alpha", order, 1), 0);
	assert_string_equal(json, "{\"alpha\":1}");
	free(json), free(reg);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "delta", order, 1), 0);
	assert_string_equal(json, "");
	free(json), free(reg);
	/* a full import forgets the files recorded */
	struct ipm_import_item one[] = { { "alpha", NULL, "a", "", "{}", NULL, 0, NULL, NULL } };
	import(f->db, "sp", one, 1);
	assert_int_equal(ipm_db_registry_files(&files, &n, f->db, "sp"), 0);
	assert_int_equal(n, 0);
	ipm_registry_files_free(files, n);
}

static void test_large_registry(void **state)
{
	struct fixture *f = *state;
	size_t count = 100000;
	struct ipm_import_item *items = xcalloc(count, sizeof(*items));
	char **strs = xcalloc(count * 4, sizeof(char *));
	float vec[256] = { 0 };
	struct timespec t0, t1;
	const char *words[] = { "json", "parser", "compression", "network", "crypto", "graphics", "audio", "database" };

	for (size_t i = 0; i < count; i++) {
		strs[4 * i] = xasprintf("pkg-%s-%zu", words[i % 8], i);
		strs[4 * i + 1] = xasprintf("owner%zu/%s", i % 997, strs[4 * i]);
		strs[4 * i + 2] = xasprintf("a %s library number %zu for %s", words[(i / 8) % 8], i, words[(i / 64) % 8]);
		strs[4 * i + 3] = xasprintf("{\"name\": \"%s\", \"description\": \"%s\"}", strs[4 * i], strs[4 * i + 2]);
		items[i] = (struct ipm_import_item){ strs[4 * i], strs[4 * i + 1], strs[4 * i + 2], words[i % 8], strs[4 * i + 3], vec, 256, NULL, NULL };
		for (int k = 0; k < 256; k++)
			vec[k] = 0;
	}
	vec[3] = 0.5f, vec[77] = 0.5f, vec[200] = 0.7f;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	import(f->db, "big", items, count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("# import of %zu entries: %.0f ms\n", count, ms);

	struct ipm_search_hit *hits;
	size_t n;
	double best = 1e9;
	for (int round = 0; round < 3; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(ipm_db_entry_search(&hits, &n, f->db, "graphics", 20), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (s < best)
			best = s;
		assert_int_equal(n, 20);
		ipm_search_hits_free(hits, n);
	}
	printf("# search 'graphics' over %zu entries: %.2f ms\n", count, best);
	char *json, *reg;
	const char *order[] = { "big" };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ipm_db_entry_find(&json, &reg, f->db, "pkg-audio-99990", order, 1), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# find by name: %.3f ms\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	free(json), free(reg);
	xfree_strv(strs, count * 4);
	free(items);
	/* generous bounds: sanitizer builds and busy machines run this too */
	assert_true(ms < 30000);
	assert_true(best < 1000);
}

static int collect_shared(void *ctx, const char *name, const char *registries)
{
	struct ipm_buf *b = ctx;
	ipm_buf_addf(b, "%s=%s;", name, registries);
	return 0;
}

/* A signed index's version and expiry are kept with its registry; names
 * two registries offer are found. */
static void test_registry_freshness_shared(void **state)
{
	struct fixture *f = *state;
	struct ipm_import_item one[] = { { "liba", NULL, "a", "", "{}", NULL, 0, NULL, NULL }, { "x", NULL, "x", "", "{}", NULL, 0, NULL, NULL } };
	struct ipm_import_item two[] = { { "liba", NULL, "b", "", "{}", NULL, 0, NULL, NULL } };
	struct ipm_registry_row row = { 0 }, got = { 0 };
	struct ipm_buf shared = IPM_BUF_INIT;
	char **regs = NULL;
	size_t n = 0;

	row.name = "team";
	row.kind = "http";
	row.location = "https://example.org/index.json";
	row.serial = 1767225600;
	row.expires = 1896093296;
	assert_int_equal(ipm_db_registry_import(f->db, &row, one, 2), 0);
	assert_int_equal(ipm_db_registry_get(&got, f->db, "team"), 0);
	assert_int_equal(got.serial, 1767225600);
	assert_int_equal(got.expires, 1896093296);
	ipm_registry_row_release(&got);
	/* an unsigned index has none */
	row.name = "other";
	row.serial = row.expires = 0;
	assert_int_equal(ipm_db_registry_import(f->db, &row, two, 1), 0);
	assert_int_equal(ipm_db_registry_get(&got, f->db, "other"), 0);
	assert_int_equal(got.serial, 0);
	assert_int_equal(got.expires, 0);
	ipm_registry_row_release(&got);

	assert_int_equal(ipm_db_entry_registries(&regs, &n, f->db, "LibA"), 0);
	assert_int_equal(n, 2);
	xfree_strv(regs, n);
	assert_int_equal(ipm_db_entry_registries(&regs, &n, f->db, "x"), 0);
	assert_int_equal(n, 1);
	assert_string_equal(regs[0], "team");
	xfree_strv(regs, n);
	assert_int_equal(ipm_db_entry_shared(f->db, collect_shared, &shared), 0);
	assert_true(!strcmp(shared.ptr, "liba=team\nother;") || !strcmp(shared.ptr, "liba=other\nteam;"));
	ipm_buf_release(&shared);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registry_freshness_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ipm_db_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ipm_db_foreign_sqlite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guessed_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_constraints_sonames_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_package_list_fast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_import_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_vectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_vectors_dense, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_keep, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
