/* Packages over time: the release upgrade picks, the outdated and unneeded
 * queries, pins, entries written back as JSON, and lock files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/lockfile.h"
#include "ipm/outdated.h"
#include "ipm/xalloc.h"

static void expect_target(const char *installed, const char *versions, const char *pin, const char *held_by,
			  const char *want, const char *want_blocker)
{
	char *target = NULL, *blocker = NULL;

	assert_int_equal(ipm_outdated_target(&target, &blocker, installed, versions, pin, held_by), 0);
	if (want)
		assert_string_equal(target, want);
	else
		assert_null(target);
	if (want_blocker)
		assert_string_equal(blocker, want_blocker);
	else
		assert_null(blocker);
	free(target);
	free(blocker);
}

static void test_target(void **state)
{
	(void)state;
	expect_target("1.0", "1.2\n1.1\n1.0\n", NULL, NULL, "1.2", NULL);
	expect_target("1.2", "1.2\n1.1\n1.0\n", NULL, NULL, NULL, NULL);
	/* installed newer than every release (one was withdrawn) */
	expect_target("2.0", "1.2\n1.1\n", NULL, NULL, NULL, NULL);
	/* a pin: nothing, or the newest inside it */
	expect_target("1.0", "2.0\n1.1\n1.0\n", "=1.0", NULL, NULL, "pin");
	expect_target("1.0", "2.0\n1.1\n1.0\n", "^1", NULL, "1.1", "pin");
	/* dependents' constraints, several of them */
	expect_target("1.0", "1.2\n1.1\n1.0\n", NULL, "app <1.2\nlib >=1.0", "1.1", "app");
	expect_target("1.0", "1.2\n1.1\n1.0\n", NULL, "app <1.1", NULL, "app");
	expect_target("1.0", "1.2\n1.1\n1.0\n", NULL, "app >=1.0\nother <1.2", "1.1", "other");
	/* the last line without its newline */
	expect_target("1.0", "1.1\n1.0", NULL, NULL, "1.1", NULL);
	expect_target("1.0", "", NULL, NULL, NULL, NULL);
}

static const char entry_json[] =
	"{ \"name\": \"demo\", \"description\": \"a demo\", \"license\": \"MIT\", \"repo\": \"o/demo\","
	"  \"keywords\": [\"a\", \"b\"],"
	"  \"versions\": [ { \"version\": \"2.0\", \"git\": \"https://example.org/demo.git\","
	"                    \"commit\": \"0123456789012345678901234567890123456789\", \"tag\": \"v2.0\","
	"                    \"subdir\": \"src\" },"
	"                  { \"version\": \"1.0\", \"url\": \"https://example.org/demo-1.0.tar.gz\","
	"                    \"sha256\": \"" "0123456789012345678901234567890123456789012345678901234567890123" "\","
	"                    \"size\": 1234 } ],"
	"  \"requires\": [ { \"tool\": \"cmake\", \"version\": \">=3.10\", \"hints\": { \"debian\": \"apt-get install cmake\" } } ],"
	"  \"depends\": [ { \"name\": \"zlib\", \"version\": \"^1.2\" }, { \"name\": \"other\" } ],"
	"  \"methods\": [ { \"name\": \"cmake\", \"build\": [\"cmake .\", \"make\"], \"install\": [\"make install\"] },"
	"                 { \"install\": [\"./install.sh\"] } ] }";

static void test_entry_to_json(void **state)
{
	struct ipm_entry e, back;
	char *json;

	(void)state;
	assert_int_equal(ipm_entry_parse(&e, entry_json, strlen(entry_json), "demo.json"), 0);
	for (size_t r = 0; r < e.nreleases; r++) {
		json = ipm_entry_to_json(&e, e.releases[r].version, &e.releases[r].source);
		assert_int_equal(ipm_entry_parse(&back, json, strlen(json), "written back"), 0);
		assert_string_equal(back.name, "demo");
		assert_string_equal(back.license, "MIT");
		assert_string_equal(back.repo, "o/demo");
		assert_int_equal(back.nkeywords, 2);
		assert_int_equal(back.nreleases, 1);
		assert_string_equal(back.releases[0].version, e.releases[r].version);
		assert_int_equal(back.releases[0].source.kind, e.releases[r].source.kind);
		if (back.releases[0].source.kind == IPM_SOURCE_GIT) {
			assert_string_equal(back.releases[0].source.commit, e.releases[r].source.commit);
			assert_string_equal(back.releases[0].source.tag, "v2.0");
			assert_string_equal(back.releases[0].source.subdir, "src");
		} else {
			assert_string_equal(back.releases[0].source.sha256, e.releases[r].source.sha256);
			assert_int_equal(back.releases[0].source.size, 1234);
		}
		assert_int_equal(back.nrequires, 1);
		assert_string_equal(back.requires[0].constraint, ">=3.10");
		assert_int_equal(back.requires[0].nhints, 1);
		assert_int_equal(back.ndepends, 2);
		assert_string_equal(back.depends[0].constraint, "^1.2");
		assert_null(back.depends[1].constraint);
		assert_int_equal(back.nmethods, 2);
		assert_string_equal(back.methods[0].name, "cmake");
		assert_int_equal(back.methods[0].nbuild, 2);
		assert_string_equal(back.methods[1].install[0], "./install.sh");
		ipm_entry_release(&back);
		free(json);
	}
	ipm_entry_release(&e);
}

static void expect_lock_error(const char *text, const char *want)
{
	struct ipm_lockfile lf;

	assert_int_equal(ipm_lockfile_parse(&lf, text, strlen(text), "x.lock"), IPM_EINVAL);
	if (!strstr(ipm_error_message(), want))
		fail_msg("'%s' does not say '%s'", ipm_error_message(), want);
	assert_non_null(ipm_error_hint_text());
	ipm_error_clear();
}

static void test_lockfile(void **state)
{
	struct ipm_lockfile lf;
	const char *good =
		"{ \"ipm_lock\": 1, \"prefix\": \"/p\", \"packages\": ["
		"  { \"name\": \"a\", \"version\": \"1.0\", \"explicit\": true, \"registry\": \"r\","
		"    \"resolved\": \"0123456789012345678901234567890123456789\", \"method\": \"make\", \"entry\": null },"
		"  { \"name\": \"b\", \"version\": \"2.0\", \"explicit\": false, \"registry\": null,"
		"    \"entry\": { \"name\": \"b\", \"description\": \"b\", \"versions\": [ { \"version\": \"2.0\","
		"      \"git\": \"https://example.org/b.git\", \"commit\": \"0123456789012345678901234567890123456789\" } ],"
		"      \"methods\": [ { \"install\": [\"true\"] } ] } } ] }";

	(void)state;
	assert_int_equal(ipm_lockfile_parse(&lf, good, strlen(good), "good.lock"), 0);
	assert_int_equal(lf.n, 2);
	assert_string_equal(lf.prefix, "/p");
	assert_string_equal(lf.pkgs[0].name, "a");
	assert_true(lf.pkgs[0].explicit_install);
	assert_null(lf.pkgs[0].entry_json);
	assert_false(lf.pkgs[1].explicit_install);
	assert_null(lf.pkgs[1].registry);
	assert_non_null(strstr(lf.pkgs[1].entry_json, "\"commit\""));
	ipm_lockfile_release(&lf);

	expect_lock_error("{", "malformed JSON at line 1");
	expect_lock_error("[]", "must be an object");
	expect_lock_error("{ \"packages\": [] }", "\"ipm_lock\"");
	expect_lock_error("{ \"ipm_lock\": 7, \"packages\": [] }", "format 7");
	expect_lock_error("{ \"ipm_lock\": 1 }", "\"packages\" array");
	expect_lock_error("{ \"ipm_lock\": 1, \"packages\": [ 3 ] }", "packages[0] must be an object");
	expect_lock_error("{ \"ipm_lock\": 1, \"packages\": [ { \"version\": \"1\" } ] }", "has no \"name\"");
	expect_lock_error("{ \"ipm_lock\": 1, \"packages\": [ { \"name\": \"a\", \"version\": \"x y\", "
			  "\"explicit\": true, \"registry\": \"r\" } ] }", "not a valid version");
	expect_lock_error("{ \"ipm_lock\": 1, \"packages\": [ { \"name\": \"a\", \"version\": \"1\", "
			  "\"registry\": \"r\" } ] }", "\"explicit\": true or false");
	expect_lock_error("{ \"ipm_lock\": 1, \"packages\": [ { \"name\": \"a\", \"version\": \"1\", "
			  "\"explicit\": true } ] }", "neither a \"registry\" nor an \"entry\"");
	expect_lock_error("{ \"ipm_lock\": 1, \"packages\": [ { \"name\": \"a\", \"version\": \"1\", "
			  "\"explicit\": true, \"registry\": 5 } ] }", "\"registry\" of packages[0] 'a' must be");
	expect_lock_error("{ \"ipm_lock\": 1, \"packages\": ["
			  " { \"name\": \"a\", \"version\": \"1\", \"explicit\": true, \"registry\": \"r\" },"
			  " { \"name\": \"a\", \"version\": \"2\", \"explicit\": true, \"registry\": \"r\" } ] }",
			  "'a' is listed twice");
}

/* ---- the database side ---- */

struct fixture {
	char dir[64];
	struct ipm_db *db;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *path;
	int rc;

	strcpy(f->dir, "/tmp/ipm-test-outdated-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	path = xasprintf("%s/ipm.db", f->dir);
	rc = ipm_db_open(&f->db, path, IPM_DB_WRITE);
	free(path);
	*state = f;
	return rc;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ipm_db_free(f->db);
	ipm_rm_rf(f->dir);
	free(f);
	return 0;
}

static void add_package(struct ipm_db *db, const char *name, const char *version, int explicit_install,
			const char *dep, const char *constraint)
{
	struct ipm_package_row p = { 0 };
	char *deps[1] = { (char *)dep }, *cons[1] = { (char *)constraint };

	p.name = (char *)name;
	p.version = (char *)version;
	p.registry = "r";
	p.store_dir = "/s";
	p.prefix = "/p";
	p.explicit_install = explicit_install;
	if (dep) {
		p.depends = deps;
		p.depend_constraints = cons;
		p.ndepends = 1;
	}
	assert_int_equal(ipm_db_package_add(db, &p), 0);
}

static int collect(void *ctx, const struct ipm_outdated_row *row)
{
	struct ipm_buf *b = ctx;
	ipm_buf_addf(b, "%s %s %s %s [%s] [%s];", row->name, row->version, row->latest ? row->latest : "-",
		     row->pin ? row->pin : "-", row->versions ? row->versions : "-", row->held_by ? row->held_by : "-");
	return 0;
}

static void test_db_outdated_pins_unneeded(void **state)
{
	struct fixture *f = *state;
	struct ipm_registry_row reg = { .name = "r", .kind = "local", .location = "/r" };
	struct ipm_import_item items[] = {
		{ .name = "lib", .description = "", .json = "{}", .latest = "1.2", .versions = "1.2\n1.1\n1.0\n" },
		{ .name = "app", .description = "", .json = "{}", .latest = "2.0", .versions = "2.0\n" },
		{ .name = "tool", .description = "", .json = "{}", .latest = "3.0", .versions = "3.0\n1.0\n" },
	};
	struct ipm_buf b = IPM_BUF_INIT;
	char *pin = NULL, **names = NULL;
	size_t n = 0;

	assert_int_equal(ipm_db_registry_import(f->db, &reg, items, 3), 0);
	add_package(f->db, "lib", "1.0", 0, NULL, NULL);
	add_package(f->db, "app", "2.0", 1, "lib", "<1.2");
	add_package(f->db, "tool", "1.0", 0, NULL, NULL);
	assert_int_equal(ipm_db_pin_set(f->db, "tool", "=1.0"), 0);
	assert_int_equal(ipm_db_pin_get(&pin, f->db, "tool"), 0);
	assert_string_equal(pin, "=1.0");
	free(pin);
	assert_int_equal(ipm_db_pin_get(&pin, f->db, "lib"), 0);
	assert_null(pin);

	/* app is at its latest: not a candidate */
	assert_int_equal(ipm_db_outdated_each(f->db, collect, &b), 0);
	assert_string_equal(b.ptr, "lib 1.0 1.2 - [1.2\n1.1\n1.0\n] [app <1.2];tool 1.0 3.0 =1.0 [3.0\n1.0\n] [-];");
	ipm_buf_release(&b);

	/* tool and lib are dependencies; app needs lib: tool only is unneeded */
	assert_int_equal(ipm_db_package_unneeded(&names, &n, f->db), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "tool");
	xfree_strv(names, n);
	assert_int_equal(ipm_db_package_mark_explicit(f->db, "tool"), 1);
	assert_int_equal(ipm_db_package_mark_explicit(f->db, "tool"), 0);
	assert_int_equal(ipm_db_package_remove(f->db, "app"), 0);
	assert_int_equal(ipm_db_package_unneeded(&names, &n, f->db), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "lib");
	xfree_strv(names, n);

	/* removing a package takes its pin; unpinning twice is not found */
	assert_int_equal(ipm_db_pin_clear(f->db, "tool"), 0);
	assert_int_equal(ipm_db_pin_clear(f->db, "tool"), IPM_ENOTFOUND);
	assert_int_equal(ipm_db_pin_set(f->db, "lib", "^1"), 0);
	assert_int_equal(ipm_db_package_remove(f->db, "lib"), 0);
	assert_int_equal(ipm_db_pin_get(&pin, f->db, "lib"), 0);
	assert_null(pin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_entry_to_json),
		cmocka_unit_test(test_lockfile),
		cmocka_unit_test_setup_teardown(test_db_outdated_pins_unneeded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
