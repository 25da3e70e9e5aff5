/* Registry import and lookup against a real directory, git repository and database. */
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
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/registry.h"
#include "ipm/xalloc.h"

#define C40 "0123456789abcdef0123456789abcdef01234567"

struct fixture {
	char dir[64];
	char *reg;        /* the registry directory */
	struct ipm_ctx ctx;
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	assert_int_equal(ipm_file_write_atomic(path, text, strlen(text)), 0);
	free(path);
}

static char *entry_json(const char *name, const char *description, const char *repo)
{
	return xasprintf("{\n  \"name\": \"%s\",\n  \"description\": \"%s\",\n%s%s%s"
			 "  \"versions\": [ { \"version\": \"1.0\", \"git\": \"self\" } ],\n"
			 "  \"methods\": [ { \"install\": [ \"make install\" ] } ]\n}\n",
			 name, description, repo ? "  \"repo\": \"" : "", repo ? repo : "", repo ? "\",\n" : "");
}

static void put_entry(struct fixture *f, const char *name, const char *description, const char *repo)
{
	char *text = entry_json(name, description, repo);
	char *file = xasprintf("packages/%s.json", name);
	write_file(f->reg, file, text);
	free(file);
	free(text);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/ipm-test-registry-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->reg = xasprintf("%s/registry", f->dir);
	char *packages = xasprintf("%s/packages", f->reg);
	ipm_mkdir_p(packages, 0755);
	free(packages);
	char *cache = xasprintf("%s/cache", f->dir);
	ipm_mkdir_p(cache, 0755);
	f->ctx.cfg.cache = cache;
	f->ctx.fetch.cache_dir = cache;
	f->ctx.cfg.registries = xcalloc(4, sizeof(struct ipm_registry_conf));
	f->ctx.cfg.registries[0].name = xstrdup("bundled");
	f->ctx.cfg.registries[0].url = xstrdup(f->reg);
	f->ctx.cfg.registries[0].kind = IPM_REGISTRY_LOCAL;
	f->ctx.cfg.nregistries = 1;
	char *dbpath = xasprintf("%s/ipm.db", f->dir);
	int rc = ipm_db_open(&f->ctx.db, dbpath, IPM_DB_WRITE);
	free(dbpath);
	write_file(f->reg, "registry.json", "{ \"name\": \"bundled\", \"description\": \"test\" }\n");
	put_entry(f, "zlib", "compression library", "madler/zlib");
	put_entry(f, "attention", "attention for sequence models", "ipm/attention");
	*state = f;
	return rc;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ipm_db_free(f->ctx.db);
	for (size_t i = 0; i < f->ctx.cfg.nregistries; i++) {
		free(f->ctx.cfg.registries[i].name);
		free(f->ctx.cfg.registries[i].url);
	}
	free(f->ctx.cfg.registries);
	free(f->ctx.cfg.cache);
	ipm_rm_rf(f->dir);
	free(f->reg);
	free(f);
	return 0;
}

static void expect_description(struct fixture *f, const char *spec, const char *description)
{
	struct ipm_entry e;
	char *registry = NULL;
	if (ipm_registry_find(&e, &registry, &f->ctx, spec) < 0)
		fail_msg("find '%s': %s", spec, ipm_error_message());
	assert_string_equal(e.description, description);
	assert_string_equal(registry, "bundled");
	free(registry);
	ipm_entry_release(&e);
}

static void test_sync_local(void **state)
{
	struct fixture *f = *state;
	int changed = -1;

	assert_int_equal(ipm_registry_sync(&f->ctx, &f->ctx.cfg.registries[0], &changed), 0);
	assert_int_equal(changed, 1);
	expect_description(f, "zlib", "compression library");
	expect_description(f, "madler/zlib", "compression library");
	expect_description(f, "attention", "attention for sequence models");

	/* nothing changed: nothing imported */
	assert_int_equal(ipm_registry_sync(&f->ctx, &f->ctx.cfg.registries[0], &changed), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(ipm_registry_sync_local(&f->ctx), 0);

	struct ipm_registry_row row;
	assert_int_equal(ipm_db_registry_get(&row, f->ctx.db, "bundled"), 0);
	assert_int_equal(row.nentries, 2);
	assert_string_equal(row.kind, "local");
	ipm_registry_row_release(&row);

	struct ipm_search_hit *hits;
	size_t n;
	assert_int_equal(ipm_db_entry_search(&hits, &n, f->ctx.db, "compress", 10), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].name, "zlib");
	ipm_search_hits_free(hits, n);
}

static void test_change_reimports(void **state)
{
	struct fixture *f = *state;
	int changed;

	assert_int_equal(ipm_registry_sync(&f->ctx, &f->ctx.cfg.registries[0], &changed), 0);
	put_entry(f, "zlib", "a massively spiffy compression library", "madler/zlib");
	assert_int_equal(ipm_registry_sync(&f->ctx, &f->ctx.cfg.registries[0], &changed), 0);
	assert_int_equal(changed, 1);
	expect_description(f, "zlib", "a massively spiffy compression library");

	/* a new file and a removed one */
	put_entry(f, "lz4", "fast compression", "lz4/lz4");
	char *old = xasprintf("%s/packages/attention.json", f->reg);
	unlink(old);
	free(old);
	assert_int_equal(ipm_registry_sync_local(&f->ctx), 0);
	expect_description(f, "lz4", "fast compression");
	struct ipm_entry e;
	char *registry;
	assert_int_equal(ipm_registry_find(&e, &registry, &f->ctx, "attention"), IPM_ENOTFOUND);
}

static void test_malformed_keeps_index(void **state)
{
	struct fixture *f = *state;
	int changed;

	assert_int_equal(ipm_registry_sync(&f->ctx, &f->ctx.cfg.registries[0], &changed), 0);
	write_file(f->reg, "packages/zlib.json", "{\n  \"name\": \"zlib\",\n  \"description\": \"broken\"\n  \"versions\": []\n}\n");
	put_entry(f, "lz4", "fast compression", "lz4/lz4");
	assert_int_equal(ipm_registry_sync(&f->ctx, &f->ctx.cfg.registries[0], &changed), IPM_EINVAL);
	char *want = xasprintf("malformed JSON in '%s/packages/zlib.json' at line 4, column 3", f->reg);
	assert_string_equal(ipm_error_message(), want);
	free(want);
	/* the previous index stands, the new entry did not half-arrive */
	expect_description(f, "zlib", "compression library");
	struct ipm_entry e;
	char *registry;
	assert_int_equal(ipm_registry_find(&e, &registry, &f->ctx, "lz4"), IPM_ENOTFOUND);
	/* and the next command tries again */
	assert_int_equal(ipm_registry_sync_local(&f->ctx), IPM_EINVAL);

	/* a missing required field names file and field */
	write_file(f->reg, "packages/zlib.json", "{ \"name\": \"zlib\", \"versions\": [], \"methods\": [] }");
	assert_int_equal(ipm_registry_sync_local(&f->ctx), IPM_EINVAL);
	want = xasprintf("missing required field 'description' in '%s/packages/zlib.json'", f->reg);
	assert_string_equal(ipm_error_message(), want);
	free(want);

	/* an entry in the wrong file */
	char *text = entry_json("zlib", "x", NULL);
	write_file(f->reg, "packages/zlib.json", text);
	write_file(f->reg, "packages/other.json", text);
	free(text);
	assert_int_equal(ipm_registry_sync_local(&f->ctx), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "other.json"));
	char *other = xasprintf("%s/packages/other.json", f->reg);
	unlink(other);
	free(other);
	assert_int_equal(ipm_registry_sync_local(&f->ctx), 0);
	expect_description(f, "lz4", "fast compression");
}

static void test_not_found_hints(void **state)
{
	struct fixture *f = *state;
	struct ipm_entry e;
	char *registry;

	assert_int_equal(ipm_registry_sync_local(&f->ctx), 0);
	assert_int_equal(ipm_registry_find(&e, &registry, &f->ctx, "atention"), IPM_ENOTFOUND);
	assert_string_equal(ipm_error_message(), "package 'atention' not found");
	assert_string_equal(ipm_error_hint_text(), "did you mean 'attention'?");
	assert_null(registry);

	/* a remote registry never fetched: say so */
	struct ipm_registry_conf *r = &f->ctx.cfg.registries[1];
	r->name = xstrdup("team");
	r->url = xstrdup("http://127.0.0.1:1/index.json");
	r->kind = IPM_REGISTRY_HTTP;
	f->ctx.cfg.nregistries = 2;
	assert_int_equal(ipm_registry_find(&e, &registry, &f->ctx, "nothing-like-it"), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_hint_text(), "ipm update"));
	/* but what is there is still found */
	expect_description(f, "zlib", "compression library");
	/* resolving self from a registry never imported */
	struct ipm_source src = { .kind = IPM_SOURCE_SELF };
	assert_int_equal(ipm_registry_resolve_self(&src, &f->ctx, "team"), IPM_ENOTFOUND);
}

static int sh(const char *fmt, const char *arg)
{
	char *cmd = xasprintf(fmt, arg, arg, arg);
	int rc = system(cmd);
	free(cmd);
	return rc;
}

#define GIT "git -c user.name=t -c user.email=t@example.org -c init.defaultBranch=main"

static void test_resolve_self(void **state)
{
	struct fixture *f = *state;
	struct ipm_source src = { .kind = IPM_SOURCE_SELF };

	assert_int_equal(ipm_registry_sync_local(&f->ctx), 0);
	/* not in a git checkout: a clear error with a hint */
	assert_int_equal(ipm_registry_resolve_self(&src, &f->ctx, "bundled"), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_message(), "not in a git checkout"));
	assert_non_null(ipm_error_hint_text());

	/* in a checkout: its toplevel and HEAD, now */
	assert_int_equal(sh("cd '%s' && " GIT " init -q . && " GIT " add -A && " GIT " commit -qm one", f->dir), 0);
	assert_int_equal(ipm_registry_resolve_self(&src, &f->ctx, "bundled"), 0);
	assert_non_null(src.git);
	assert_true(ipm_is_hex(src.commit, 40));
	char *top = realpath(f->dir, NULL), *git = realpath(src.git, NULL);
	assert_string_equal(git, top);
	free(top);
	free(git);
	char *first = xstrdup(src.commit);
	assert_int_equal(sh("cd '%s' && " GIT " commit -q --allow-empty -m two", f->dir), 0);
	assert_int_equal(ipm_registry_resolve_self(&src, &f->ctx, "bundled"), 0);
	assert_string_not_equal(src.commit, first);
	free(first);

	/* an entry file: the repository holding it */
	struct ipm_entry e;
	char *registry = NULL, *path = xasprintf("%s/packages/zlib.json", f->reg);
	assert_int_equal(ipm_registry_load_file(&e, &registry, &f->ctx, path), 0);
	assert_string_equal(e.name, "zlib");
	assert_true(!strncmp(registry, "file:", 5));
	struct ipm_source src2 = { .kind = IPM_SOURCE_SELF };
	assert_int_equal(ipm_registry_resolve_self(&src2, &f->ctx, registry), 0);
	assert_string_equal(src2.commit, src.commit);
	ipm_source_release(&src2);
	ipm_source_release(&src);
	ipm_entry_release(&e);
	free(registry);
	free(path);

	/* an installed copy names its home and commit in registry.json */
	assert_int_equal(sh("rm -rf '%s/.git'", f->dir), 0);
	write_file(f->reg, "registry.json", "{ \"name\": \"bundled\", \"home\": \"https://example.org/ipm.git\", \"commit\": \"" C40 "\" }");
	assert_int_equal(ipm_registry_sync_local(&f->ctx), 0);
	assert_int_equal(ipm_registry_resolve_self(&src, &f->ctx, "bundled"), 0);
	assert_string_equal(src.git, "https://example.org/ipm.git");
	assert_string_equal(src.commit, C40);
	ipm_source_release(&src);
}

static void test_sync_git(void **state)
{
	struct fixture *f = *state;
	int changed = 0;

	assert_int_equal(sh("cd '%s' && " GIT " init -q . && " GIT " add -A && " GIT " commit -qm one", f->reg), 0);
	struct ipm_registry_conf *r = &f->ctx.cfg.registries[0];
	free(r->name);
	r->name = xstrdup("team");
	r->kind = IPM_REGISTRY_GIT;
	if (ipm_registry_sync(&f->ctx, r, &changed) < 0)
		fail_msg("sync git: %s", ipm_error_message());
	assert_int_equal(changed, 1);
	struct ipm_entry e;
	char *registry;
	assert_int_equal(ipm_registry_find(&e, &registry, &f->ctx, "zlib"), 0);
	assert_string_equal(registry, "team");
	free(registry);
	ipm_entry_release(&e);
	struct ipm_source src = { .kind = IPM_SOURCE_SELF };
	assert_int_equal(ipm_registry_resolve_self(&src, &f->ctx, "team"), 0);
	assert_string_equal(src.git, f->reg);
	assert_true(ipm_is_hex(src.commit, 40));
	ipm_source_release(&src);

	assert_int_equal(ipm_registry_sync(&f->ctx, r, &changed), 0);
	assert_int_equal(changed, 0);
	put_entry(f, "lz4", "fast compression", NULL);
	assert_int_equal(sh("cd '%s' && " GIT " add -A && " GIT " commit -qm two", f->reg), 0);
	assert_int_equal(ipm_registry_sync(&f->ctx, r, &changed), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(ipm_registry_find(&e, &registry, &f->ctx, "lz4"), 0);
	free(registry);
	ipm_entry_release(&e);
}

/* ---- index documents (HTTP registries) ---- */

static int import_doc(struct fixture *f, const char *stamp, const char *text, size_t *count)
{
	struct ipm_registry_row row = { .name = "web", .kind = "http", .location = "idx", .stamp = (char *)stamp };
	return ipm_registry_import_index(f->ctx.db, &row, text, strlen(text), "idx", count);
}

static void expect_refused(struct fixture *f, const char *text, const char *message)
{
	struct ipm_registry_row got = { 0 };

	if (import_doc(f, "bad", text, NULL) != IPM_EINVAL)
		fail_msg("imported: %s", text);
	if (!strstr(ipm_error_message(), message))
		fail_msg("'%s' is not '%s'", ipm_error_message(), message);
	/* rolled back: the index imported before stands */
	assert_int_equal(ipm_db_registry_get(&got, f->ctx.db, "web"), 0);
	assert_string_equal(got.stamp, "good");
	assert_int_equal(got.nentries, 2);
	ipm_registry_row_release(&got);
	ipm_error_clear();
}

static void test_import_index(void **state)
{
	struct fixture *f = *state;
	struct ipm_registry_row got = { 0 };
	char *a = entry_json("alpha", "first", NULL), *b = entry_json("beta", "second", NULL);
	char *doc;
	size_t count = 0;

	/* any order of the members, "version" and "expires" included, and a
	 * key written with an escape */
	doc = xasprintf("{ \"pack\\u0061ges\": [ %s, %s ], \"version\": 3, \"expires\": \"2099-01-01T00:00:00Z\",\n"
			"  \"registry\": { \"name\": \"web\", \"home\": \"https://example.org/r.git\", "
			"\"commit\": \"" C40 "\" } }\n", a, b);
	if (import_doc(f, "good", doc, &count) < 0)
		fail_msg("import: %s", ipm_error_message());
	free(doc);
	assert_int_equal(count, 2);
	assert_int_equal(ipm_db_registry_get(&got, f->ctx.db, "web"), 0);
	assert_string_equal(got.home, "https://example.org/r.git");
	assert_string_equal(got.home_commit, C40);
	assert_int_equal(got.nentries, 2);
	ipm_registry_row_release(&got);

	expect_refused(f, "[ 1, 2 ]", "'idx' must hold a JSON object");
	expect_refused(f, "", "malformed JSON in 'idx' at line 1, column 1");
	expect_refused(f, "{ \"packages\": [] } x", "malformed JSON in 'idx' at line 1, column 20");
	expect_refused(f, "{ \"packages\": [], }", "malformed JSON in 'idx' at line 1, column 19");
	expect_refused(f, "{ \"registry\": {} }", "'idx' has no \"packages\" array");
	expect_refused(f, "{ \"packages\": {} }", "'idx' has no \"packages\" array");
	expect_refused(f, "{ \"packages\": [], \"extra\": 1 }", "unknown field 'extra' in 'idx'");
	expect_refused(f, "{ \"packages\": [], \"packages\": [] }", "field 'packages' is given twice in 'idx'");
	expect_refused(f, "{ \"version\": 1x, \"packages\": [] }", "malformed JSON in 'idx' at line 1, column 15");
	/* a mistake inside an element: its line and column in the document */
	doc = xasprintf("{ \"packages\": [\n%s,\n{ \"name\": \"x\" \"oops\" } ] }", a);
	expect_refused(f, doc, "malformed JSON in 'idx' at line 9, column 15");
	free(doc);
	doc = xasprintf("{ \"packages\": [ %s, %s, ] }", a, b);
	expect_refused(f, doc, "malformed JSON in 'idx'");
	free(doc);
	doc = xasprintf("{ \"packages\": [ %s %s ] }", a, b);
	expect_refused(f, doc, "malformed JSON in 'idx'");
	free(doc);
	/* an invalid entry is named by its place and name */
	doc = xasprintf("{ \"packages\": [ %s, { \"name\": \"beta\" } ] }", a);
	expect_refused(f, doc, "missing required field 'description' in 'idx: packages[1] 'beta''");
	free(doc);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_reimports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_keeps_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found_hints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_git, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_index, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	ipm_fetch_shutdown();
	return rc;
}
