/*
 * The install/remove engine against a real local git repository (made with
 * the git command line): building into the store, linking, the database
 * rows, conflicts, failing steps, method fallback, upgrades, removal and
 * journal recovery (the transaction journals of src/txn.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ipm/ctx.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/install.h"
#include "ipm/xalloc.h"
#include "test_util.h"

struct fixture {
	char *root;
	char *repo;
	char *commit;
	char *prefix;
	char *home;
	struct ipm_ctx ctx;
	int ctx_open;
};

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char line[256] = "";
	assert_non_null(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *path, *cmd;

	fx->root = tu_isolated_root("install");
	fx->repo = xasprintf("%s/src", fx->root);
	fx->prefix = xasprintf("%s/prefix", fx->root);
	fx->home = xasprintf("%s/home", fx->root);
	assert_int_equal(ipm_mkdir_p(fx->repo, 0755), 0);
	path = xasprintf("%s/hello.sh", fx->repo);
	tu_write_file(path, "#!/bin/sh\necho hello\n");
	free(path);
	path = xasprintf("%s/hello.h", fx->repo);
	tu_write_file(path, "#define HELLO 1\n");
	free(path);
	cmd = xasprintf("cd '%s' && git init -q && git add . && "
			"git -c user.name=t -c user.email=t@example.org commit -q -m init", fx->repo);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	cmd = xasprintf("git -C '%s' rev-parse HEAD", fx->repo);
	fx->commit = run_capture(cmd);
	free(cmd);

	if (ipm_ctx_open(&fx->ctx, "/nonexistent/ipm", NULL, IPM_NEED_DB_WRITE) != 0)
		fail_msg("ipm_ctx_open: %s", ipm_error_message());
	fx->ctx_open = 1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	if (fx->ctx_open)
		ipm_ctx_close(&fx->ctx);
	ipm_rm_rf(fx->root);
	free(fx->root);
	free(fx->repo);
	free(fx->commit);
	free(fx->prefix);
	free(fx->home);
	free(fx);
	return 0;
}

/* A one-item plan for package name at version with methods (JSON array text). */
static void make_plan(struct ipm_plan *plan, struct fixture *fx, const char *name, const char *version,
		      const char *methods, const char *depends)
{
	char *json = xasprintf("{ \"name\": \"%s\", \"description\": \"test\", "
			       "\"versions\": [ { \"version\": \"%s\", \"git\": \"%s\", \"commit\": \"%s\" } ], "
			       "%s%s%s \"methods\": %s }",
			       name, version, fx->repo, fx->commit,
			       depends ? "\"depends\": " : "", depends ? depends : "", depends ? "," : "", methods);
	struct ipm_plan_item *it;

	memset(plan, 0, sizeof(*plan));
	plan->items = xcalloc(1, sizeof(*plan->items));
	plan->n = 1;
	it = &plan->items[0];
	if (ipm_entry_parse(&it->entry, json, strlen(json), "test") != 0)
		fail_msg("entry: %s", ipm_error_message());
	it->release = &it->entry.releases[0];
	ipm_source_copy(&it->source, &it->release->source);
	it->registry = xstrdup("bundled");
	it->explicit_install = 1;
	free(json);
}

#define HELLO_METHODS \
	"[ { \"name\": \"copy\", \"build\": [ \"echo building $IPM_NAME $IPM_VERSION\" ], " \
	"    \"install\": [ \"mkdir -p $DESTDIR$IPM_PREFIX/bin $DESTDIR$IPM_PREFIX/include/hello && " \
	"cp hello.sh $DESTDIR$IPM_PREFIX/bin/hello && cp hello.h $DESTDIR$IPM_PREFIX/include/hello/\" ] } ]"

static int install(struct fixture *fx, const char *name, const char *version, const char *methods,
		   const char *method, const char *depends)
{
	struct ipm_plan plan;
	int rc;

	make_plan(&plan, fx, name, version, methods, depends);
	if (method)
		plan.items[0].method = ipm_entry_find_method(&plan.items[0].entry, method);
	rc = ipm_plan_run(&fx->ctx, &plan);
	ipm_plan_release(&plan);
	return rc;
}

static char *prefix_path(struct fixture *fx, const char *rel)
{
	return xasprintf("%s/%s", fx->prefix, rel);
}

static int is_link_into(const char *path, const char *dir)
{
	char target[4096];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	return strncmp(target, dir, strlen(dir)) == 0;
}

static void test_install_links_and_records(void **state)
{
	struct fixture *fx = *state;
	struct ipm_package_row row;
	char *store = xasprintf("%s/store/hello/1.0", fx->home);
	char *bin = prefix_path(fx, "bin/hello");
	char *log = xasprintf("%s/cache/logs/hello-1.0.log", fx->root);
	char *logtext = NULL;
	int saw_sha = 0;

	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	assert_true(is_link_into(bin, store));
	assert_int_equal(ipm_db_package_get(&row, fx->ctx.db, "hello", 1), 0);
	assert_string_equal(row.version, "1.0");
	assert_string_equal(row.store_dir, store);
	assert_string_equal(row.resolved, fx->commit);
	assert_string_equal(row.method, "copy");
	assert_int_equal(row.explicit_install, 1);
	for (size_t i = 0; i < row.nfiles; i++)
		if (strcmp(row.files[i].path, "bin/hello") == 0 && row.files[i].type == 'f' &&
		    row.files[i].sha256 && strlen(row.files[i].sha256) == 64)
			saw_sha = 1;
	assert_true(saw_sha);
	ipm_package_row_release(&row);

	/* the step and its output are logged, the build directory is gone */
	assert_int_equal(ipm_file_read(&logtext, NULL, log), 0);
	assert_non_null(strstr(logtext, "$ echo building $IPM_NAME $IPM_VERSION"));
	assert_non_null(strstr(logtext, "building hello 1.0"));
	free(logtext);
	{
		char *build = xasprintf("%s/build/hello-1.0", fx->home);
		assert_false(ipm_path_exists(build));
		free(build);
	}
	{
		char *journal = xasprintf("%s/journal/hello.json", fx->home);
		assert_false(ipm_path_exists(journal));
		free(journal);
	}
	free(store);
	free(bin);
	free(log);
}

static void test_remove_cleans_everything_it_owns(void **state)
{
	struct fixture *fx = *state;
	char *user_file = prefix_path(fx, "bin/mine");
	char *bin = prefix_path(fx, "bin/hello");
	char *inc = prefix_path(fx, "include/hello");
	char *store = xasprintf("%s/store/hello/1.0", fx->home);
	struct ipm_package_row row;
	const char *names[] = { "hello" };

	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	tu_write_file(user_file, "not ipm's\n");
	assert_int_equal(ipm_remove_check(&fx->ctx, names, 1, 0), 0);
	assert_int_equal(ipm_remove(&fx->ctx, "hello"), 0);
	assert_false(ipm_path_exists(bin));
	assert_false(ipm_path_exists(inc));
	/* the store tree stays, for rollback (ipm clean deletes it) */
	assert_true(ipm_is_dir(store));
	assert_true(ipm_path_exists(user_file));
	assert_int_equal(ipm_db_package_get(&row, fx->ctx.db, "hello", 0), IPM_ENOTFOUND);

	assert_int_equal(ipm_remove_check(&fx->ctx, names, 1, 0), IPM_ENOTFOUND);
	assert_string_equal(ipm_error_message(), "package 'hello' is not installed");
	free(user_file);
	free(bin);
	free(inc);
	free(store);
}

static void test_conflict_changes_nothing(void **state)
{
	struct fixture *fx = *state;
	char *dir = prefix_path(fx, "bin");
	char *bin = prefix_path(fx, "bin/hello");
	char *header = prefix_path(fx, "include/hello/hello.h");
	char *store = xasprintf("%s/store/hello", fx->home);
	char *expect = xasprintf("'%s' exists and is not owned by ipm", bin);
	struct ipm_package_row row;

	assert_int_equal(ipm_mkdir_p(dir, 0755), 0);
	tu_write_file(bin, "mine\n");
	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), IPM_ECONFLICT);
	assert_string_equal(ipm_error_message(), expect);
	assert_false(ipm_path_exists(header));
	assert_false(ipm_path_exists(store));
	assert_int_equal(ipm_db_package_get(&row, fx->ctx.db, "hello", 0), IPM_ENOTFOUND);

	/* a path owned by another package names it */
	unlink(bin);
	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	assert_int_equal(install(fx, "other", "1.0", HELLO_METHODS, NULL, NULL), IPM_ECONFLICT);
	free(expect);
	expect = xasprintf("'%s' is owned by 'hello'", bin);
	assert_string_equal(ipm_error_message(), expect);
	free(expect);
	free(dir);
	free(bin);
	free(header);
	free(store);
}

static void test_failing_step(void **state)
{
	struct fixture *fx = *state;
	struct ipm_package_row row;
	char *store = xasprintf("%s/store/bad", fx->home);

	assert_int_equal(install(fx, "bad", "1.0",
				 "[ { \"name\": \"only\", \"build\": [ \"echo doomed; exit 7\" ], \"install\": [ \"true\" ] } ]",
				 NULL, NULL), IPM_EBUILD);
	assert_string_equal(ipm_error_message(), "step 'echo doomed; exit 7' of 'bad' failed with exit status 7");
	assert_non_null(ipm_error_hint_text());
	assert_non_null(strstr(ipm_error_hint_text(), "logs/bad-1.0.log"));
	assert_false(ipm_path_exists(store));
	assert_int_equal(ipm_db_package_get(&row, fx->ctx.db, "bad", 0), IPM_ENOTFOUND);

	/* installing nothing is an error too */
	assert_int_equal(install(fx, "bad", "1.0", "[ { \"install\": [ \"mkdir -p $DESTDIR$IPM_PREFIX/lib\" ] } ]",
				 NULL, NULL), IPM_EBUILD);
	assert_non_null(strstr(ipm_error_message(), "installed nothing"));
	free(store);
}

static void test_method_fallback(void **state)
{
	struct fixture *fx = *state;
	struct ipm_package_row row;
	const char *methods = "[ { \"name\": \"broken\", \"install\": [ \"exit 1\" ] }, "
			      "  { \"name\": \"works\", \"install\": [ \"mkdir -p $DESTDIR$IPM_PREFIX/bin && cp hello.sh $DESTDIR$IPM_PREFIX/bin/fb\" ] } ]";

	/* --method broken: no fallback */
	assert_int_equal(install(fx, "fb", "1.0", methods, "broken", NULL), IPM_EBUILD);
	assert_int_equal(install(fx, "fb", "1.0", methods, NULL, NULL), 0);
	assert_int_equal(ipm_db_package_get(&row, fx->ctx.db, "fb", 0), 0);
	assert_string_equal(row.method, "works");
	ipm_package_row_release(&row);
}

static void test_upgrade_replaces_old_version(void **state)
{
	struct fixture *fx = *state;
	char *bin = prefix_path(fx, "bin/hello");
	char *header = prefix_path(fx, "include/hello/hello.h");
	char *share = prefix_path(fx, "share/hello/v2");
	char *old_store = xasprintf("%s/store/hello/1.0", fx->home);
	char *new_store = xasprintf("%s/store/hello/2.0", fx->home);
	const char *v2 = "[ { \"install\": [ \"mkdir -p $DESTDIR$IPM_PREFIX/bin $DESTDIR$IPM_PREFIX/share/hello && "
			 "cp hello.sh $DESTDIR$IPM_PREFIX/bin/hello && echo 2 > $DESTDIR$IPM_PREFIX/share/hello/v2\" ] } ]";

	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	assert_int_equal(install(fx, "hello", "2.0", v2, NULL, NULL), 0);
	assert_true(is_link_into(bin, new_store));
	assert_true(is_link_into(share, new_store));
	assert_false(ipm_path_exists(header));
	/* kept for rollback, linked no more */
	assert_true(ipm_is_dir(old_store));
	free(bin);
	free(header);
	free(share);
	free(old_store);
	free(new_store);
}

static void test_remove_check_dependents(void **state)
{
	struct fixture *fx = *state;
	const char *just_hello[] = { "hello" };
	const char *both[] = { "hello", "user" };
	const char *methods = "[ { \"install\": [ \"mkdir -p $DESTDIR$IPM_PREFIX/bin && cp hello.sh $DESTDIR$IPM_PREFIX/bin/user\" ] } ]";

	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	assert_int_equal(install(fx, "user", "1.0", methods, NULL, "[ { \"name\": \"hello\" } ]"), 0);
	assert_int_equal(ipm_remove_check(&fx->ctx, just_hello, 1, 0), IPM_ECONFLICT);
	assert_string_equal(ipm_error_message(), "'hello' is needed by 'user'");
	assert_int_equal(ipm_remove_check(&fx->ctx, just_hello, 1, 1), 0);
	assert_int_equal(ipm_remove_check(&fx->ctx, both, 2, 0), 0);
}

/* What an install killed between linking and the database commit leaves:
 * a store, a link into it, a created directory, the journal; and, for the
 * link being made when the kill came, only link_atomic's temporary link. */
static void test_recover_undoes_uncommitted_install(void **state)
{
	struct fixture *fx = *state;
	char *store = xasprintf("%s/store/ghost/1.0", fx->home);
	char *store_file = xasprintf("%s/bin/ghost", store);
	char *bin_dir = prefix_path(fx, "bin");
	char *link = prefix_path(fx, "bin/ghost");
	char *journal_dir = xasprintf("%s/journal", fx->home);
	char *journal = xasprintf("%s/ghost.json", journal_dir);
	char *text = xasprintf("{ \"uuid\": \"00000000000000000000000000000001\", \"prefix\": \"%s\", "
			       "\"ops\": [ { \"name\": \"ghost\", \"tag\": \"00000000000000aa\", \"store\": \"%s\", "
			       "\"fresh\": true, \"links\": [ { \"path\": \"bin/ghost\", \"new\": \"%s/bin/ghost\" }, "
			       "{ \"path\": \"bin/ghost2\", \"new\": \"%s/bin/ghost2\" } ], \"mkdirs\": [ \"bin\" ] } ] }",
			       fx->prefix, store, store, store);
	char *half_link = prefix_path(fx, "bin/.ipm-tmp.00000000000000aa.1");
	char *half_target = xasprintf("%s/bin/ghost2", store);
	char *stale_build = xasprintf("%s/build/ghost-1.0", fx->home);
	/* another home sharing this cache may be building right now */
	char *foreign_build = xasprintf("%s/cache/build/other-1.0", fx->root);

	assert_int_equal(ipm_mkdir_p(store, 0755), 0);
	{
		char *d = xasprintf("%s/bin", store);
		assert_int_equal(ipm_mkdir_p(d, 0755), 0);
		free(d);
	}
	tu_write_file(store_file, "x\n");
	assert_int_equal(ipm_mkdir_p(bin_dir, 0755), 0);
	assert_int_equal(symlink(store_file, link), 0);
	assert_int_equal(symlink(half_target, half_link), 0);
	assert_int_equal(ipm_mkdir_p(journal_dir, 0755), 0);
	tu_write_file(journal, text);
	assert_int_equal(ipm_mkdir_p(stale_build, 0755), 0);
	assert_int_equal(ipm_mkdir_p(foreign_build, 0755), 0);

	assert_int_equal(ipm_recover(&fx->ctx), 0);
	assert_false(ipm_path_exists(link));
	{
		struct stat st;
		assert_int_equal(lstat(half_link, &st), -1);
	}
	assert_false(ipm_path_exists(bin_dir));
	assert_false(ipm_path_exists(store));
	assert_false(ipm_path_exists(journal));
	assert_false(ipm_path_exists(stale_build));
	assert_true(ipm_path_exists(foreign_build));

	/* a committed transaction's journal (its uuid in the database) is
	 * just dropped: every link was in place before the commit */
	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	free(text);
	free(store);
	store = xasprintf("%s/store/hello/1.0", fx->home);
	{
		char *db_path = xasprintf("%s/ipm.db", fx->home);
		sqlite3 *raw = NULL;
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_open_v2(db_path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(raw, "SELECT uuid FROM transactions ORDER BY id DESC LIMIT 1", -1,
						    &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		text = xasprintf("{ \"uuid\": \"%s\", \"prefix\": \"%s\", \"ops\": [ { \"name\": \"hello\", "
				 "\"tag\": \"00000000000000bb\", \"store\": \"%s\", \"fresh\": true, \"links\": "
				 "[ { \"path\": \"bin/hello\", \"new\": \"%s/bin/hello\" } ], \"mkdirs\": [ \"bin\" ] } ] }",
				 (const char *)sqlite3_column_text(st, 0), fx->prefix, store, store);
		sqlite3_finalize(st);
		sqlite3_close(raw);
		free(db_path);
	}
	free(journal);
	journal = xasprintf("%s/txn-committed.json", journal_dir);
	tu_write_file(journal, text);
	assert_int_equal(ipm_recover(&fx->ctx), 0);
	assert_false(ipm_path_exists(journal));
	free(link);
	link = prefix_path(fx, "bin/hello");
	assert_true(is_link_into(link, store));

	free(text);
	free(store);
	free(store_file);
	free(bin_dir);
	free(link);
	free(journal_dir);
	free(journal);
	free(stale_build);
	free(foreign_build);
	free(half_link);
	free(half_target);
}

/* An upgrade killed after relinking but before the commit: the links go
 * back to the installed version. */
static void test_recover_restores_previous_version(void **state)
{
	struct fixture *fx = *state;
	char *old_store = xasprintf("%s/store/hello/1.0", fx->home);
	char *new_store = xasprintf("%s/store/hello/2.0", fx->home);
	char *new_bin_dir = xasprintf("%s/bin", new_store);
	char *new_file = xasprintf("%s/hello", new_bin_dir);
	char *old_file = xasprintf("%s/bin/hello", old_store);
	char *link = prefix_path(fx, "bin/hello");
	char *journal = xasprintf("%s/journal/hello.json", fx->home);
	char *text = xasprintf("{ \"uuid\": \"00000000000000000000000000000002\", \"prefix\": \"%s\", "
			       "\"ops\": [ { \"name\": \"hello\", \"tag\": \"00000000000000cc\", \"store\": \"%s\", "
			       "\"fresh\": true, \"links\": [ { \"path\": \"bin/hello\", \"old\": \"%s\", "
			       "\"new\": \"%s\" } ] } ] }",
			       fx->prefix, new_store, old_file, new_file);

	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	assert_int_equal(ipm_mkdir_p(new_bin_dir, 0755), 0);
	tu_write_file(new_file, "v2\n");
	unlink(link);
	assert_int_equal(symlink(new_file, link), 0);
	tu_write_file(journal, text);

	assert_int_equal(ipm_recover(&fx->ctx), 0);
	assert_true(is_link_into(link, old_store));
	assert_true(ipm_path_exists(old_file));
	assert_false(ipm_path_exists(new_store));
	assert_false(ipm_path_exists(journal));

	free(old_store);
	free(new_store);
	free(new_bin_dir);
	free(new_file);
	free(old_file);
	free(link);
	free(journal);
	free(text);
}

/* A kill inside link_atomic leaves a temporary link under the journal's
 * tag: recovery removes it, and nothing else with a similar name (a user's
 * file, another package's link, a stranger's link under the same tag). */
static void test_recover_removes_only_its_temporary_links(void **state)
{
	struct fixture *fx = *state;
	char *store = xasprintf("%s/store/ghost/1.0", fx->home);
	char *store_file = xasprintf("%s/bin/ghost", store);
	char *bin_dir = prefix_path(fx, "bin");
	char *ours = prefix_path(fx, "bin/.ipm-tmp.00000000deadbeef.0");
	char *not_ours = prefix_path(fx, "bin/.ipm-tmp.00000000deadbeef.1");
	char *user_file = prefix_path(fx, "bin/ghost.ipm-new");
	char *other_tag = prefix_path(fx, "bin/.ipm-tmp.1111111111111111.0");
	char *journal = xasprintf("%s/journal/ghost.json", fx->home);
	char *text = xasprintf("{ \"uuid\": \"00000000000000000000000000000003\", \"prefix\": \"%s\", "
			       "\"ops\": [ { \"name\": \"ghost\", \"tag\": \"00000000deadbeef\", \"store\": \"%s\", "
			       "\"fresh\": true, \"links\": [ { \"path\": \"bin/ghost\", \"new\": \"%s/bin/ghost\" }, "
			       "{ \"path\": \"bin/ghost2\", \"new\": \"%s/bin/ghost2\" } ] } ] }",
			       fx->prefix, store, store, store);
	char *d = xasprintf("%s/bin", store);
	struct stat st;

	assert_int_equal(ipm_mkdir_p(d, 0755), 0);
	free(d);
	tu_write_file(store_file, "x\n");
	assert_int_equal(ipm_mkdir_p(bin_dir, 0755), 0);
	d = xasprintf("%s/journal", fx->home);
	assert_int_equal(ipm_mkdir_p(d, 0755), 0);
	free(d);
	assert_int_equal(symlink(store_file, ours), 0);
	/* link 1's temporary name, but pointing elsewhere: not ours */
	assert_int_equal(symlink("/etc/hostname", not_ours), 0);
	tu_write_file(user_file, "mine\n");
	assert_int_equal(symlink(store_file, other_tag), 0);
	tu_write_file(journal, text);

	assert_int_equal(ipm_recover(&fx->ctx), 0);
	assert_int_equal(lstat(ours, &st), -1);
	assert_int_equal(lstat(not_ours, &st), 0);
	assert_int_equal(lstat(user_file, &st), 0);
	assert_int_equal(lstat(other_tag, &st), 0);
	assert_false(ipm_path_exists(store));
	assert_false(ipm_path_exists(journal));

	free(store);
	free(store_file);
	free(bin_dir);
	free(ours);
	free(not_ours);
	free(user_file);
	free(other_tag);
	free(journal);
	free(text);
}

/* Journals of an earlier ipm (one per package): an uncommitted install is
 * undone, its fixed-name temporary link too; a committed upgrade's
 * previous links go, its tree stays (for clean). */
static void test_recover_journal_of_earlier_ipm(void **state)
{
	struct fixture *fx = *state;
	char *store = xasprintf("%s/store/ghost/1.0", fx->home);
	char *store_file = xasprintf("%s/bin/ghost", store);
	char *bin_dir = prefix_path(fx, "bin");
	char *link = prefix_path(fx, "bin/ghost");
	char *half_link = prefix_path(fx, "bin/ghost2.ipm-new");
	char *journal_dir = xasprintf("%s/journal", fx->home);
	char *journal = xasprintf("%s/ghost.json", journal_dir);
	char *text = xasprintf("{ \"name\": \"ghost\", \"store_dir\": \"%s\", \"prefix\": \"%s\", "
			       "\"links\": [ { \"path\": \"bin/ghost\" }, { \"path\": \"bin/ghost2\" } ], "
			       "\"dirs\": [ \"bin\" ] }",
			       store, fx->prefix);
	char *old_store = xasprintf("%s/store/hello/1.0", fx->home);
	char *new_store = xasprintf("%s/store/hello/2.0", fx->home);
	char *old_only = prefix_path(fx, "bin/old-only");
	char *hello = prefix_path(fx, "bin/hello");
	char *target = NULL;
	struct stat st;

	assert_int_equal(ipm_mkdir_p(store, 0755), 0);
	{
		char *d = xasprintf("%s/bin", store);
		assert_int_equal(ipm_mkdir_p(d, 0755), 0);
		free(d);
	}
	tu_write_file(store_file, "x\n");
	assert_int_equal(ipm_mkdir_p(bin_dir, 0755), 0);
	assert_int_equal(symlink(store_file, link), 0);
	{
		char *t2 = xasprintf("%s/bin/ghost2", store);
		assert_int_equal(symlink(t2, half_link), 0);
		free(t2);
	}
	assert_int_equal(ipm_mkdir_p(journal_dir, 0755), 0);
	tu_write_file(journal, text);
	assert_int_equal(ipm_recover(&fx->ctx), 0);
	assert_int_equal(lstat(link, &st), -1);
	assert_int_equal(lstat(half_link, &st), -1);
	assert_false(ipm_path_exists(bin_dir));
	assert_false(ipm_path_exists(store));
	assert_false(ipm_path_exists(journal));

	/* a committed upgrade whose previous version still had a link */
	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	assert_int_equal(install(fx, "hello", "2.0", HELLO_METHODS, NULL, NULL), 0);
	target = xasprintf("%s/bin/old-only", old_store);
	assert_int_equal(symlink(target, old_only), 0);
	free(text);
	text = xasprintf("{ \"name\": \"hello\", \"store_dir\": \"%s\", \"prefix\": \"%s\", "
			 "\"links\": [ { \"path\": \"bin/hello\" } ], \"dirs\": [], "
			 "\"old\": { \"store_dir\": \"%s\", \"prefix\": \"%s\", "
			 "\"links\": [ \"bin/old-only\", \"bin/hello\" ], \"dirs\": [] } }",
			 new_store, fx->prefix, old_store, fx->prefix);
	free(journal);
	journal = xasprintf("%s/hello.json", journal_dir);
	tu_write_file(journal, text);
	assert_int_equal(ipm_recover(&fx->ctx), 0);
	assert_int_equal(lstat(old_only, &st), -1);
	assert_true(is_link_into(hello, new_store));
	assert_true(ipm_is_dir(old_store));
	assert_false(ipm_path_exists(journal));

	free(target);
	free(old_store);
	free(new_store);
	free(old_only);
	free(hello);
	free(text);
	free(store);
	free(store_file);
	free(bin_dir);
	free(link);
	free(half_link);
	free(journal_dir);
	free(journal);
}

/* Installing over a user's file named like a temporary link of old, and
 * removing: the file stays. */
static void test_install_keeps_files_named_like_temporary_links(void **state)
{
	struct fixture *fx = *state;
	char *bin_dir = prefix_path(fx, "bin");
	char *user_file = prefix_path(fx, "bin/hello.ipm-new");
	char *text = NULL;

	assert_int_equal(ipm_mkdir_p(bin_dir, 0755), 0);
	tu_write_file(user_file, "mine\n");
	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	assert_int_equal(ipm_remove(&fx->ctx, "hello"), 0);
	assert_int_equal(ipm_file_read(&text, NULL, user_file), 0);
	assert_string_equal(text, "mine\n");
	free(text);
	free(bin_dir);
	free(user_file);
}

/* A directory two packages share goes with the last of them. */
static void test_shared_directory(void **state)
{
	struct fixture *fx = *state;
	char *dir = prefix_path(fx, "include/hello");
	const char *methods = "[ { \"install\": [ \"mkdir -p $DESTDIR$IPM_PREFIX/include/hello && "
			      "cp hello.h $DESTDIR$IPM_PREFIX/include/hello/extra.h\" ] } ]";

	assert_int_equal(install(fx, "hello", "1.0", HELLO_METHODS, NULL, NULL), 0);
	assert_int_equal(install(fx, "addon", "1.0", methods, NULL, NULL), 0);
	assert_int_equal(ipm_remove(&fx->ctx, "hello"), 0);
	assert_true(ipm_is_dir(dir));
	assert_int_equal(ipm_remove(&fx->ctx, "addon"), 0);
	assert_false(ipm_path_exists(dir));
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_install_links_and_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_cleans_everything_it_owns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_method_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_replaces_old_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_check_dependents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_undoes_uncommitted_install, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_restores_previous_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_removes_only_its_temporary_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_keeps_files_named_like_temporary_links, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recover_journal_of_earlier_ipm, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
