/* History in the database: transactions, the state after each one, and the
 * store trees the kept generations need. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
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
	strcpy(f->dir, "/tmp/ipm-test-history-XXXXXX");
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

static struct ipm_file_row a_files[] = {
	{ "bin/a", 'f', "0000000000000000000000000000000000000000000000000000000000000001" },
	{ "share/a", 'd', NULL },
};
static char *a_deps[] = { "b" };
static char *a_constraints[] = { "^1.0" };
static char *a_needs[] = { "libb.so.1" };
static char *b_provides[] = { "libb.so.1" };

static struct ipm_package_row row(const char *name, const char *version, const char *store, int explicit_install)
{
	struct ipm_package_row r;
	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.version = (char *)version;
	r.store_dir = (char *)store;
	r.prefix = "/p";
	r.explicit_install = explicit_install;
	r.installed_at = 1000;
	if (strcmp(name, "a") == 0) {
		r.files = a_files;
		r.nfiles = 2;
		r.depends = a_deps;
		r.depend_constraints = a_constraints;
		r.ndepends = 1;
		r.needs = a_needs;
		r.nneeds = 1;
	} else {
		r.provides = b_provides;
		r.nprovides = 1;
	}
	return r;
}

static int64_t commit(struct ipm_db *db, const char *uuid, const char *command, const struct ipm_txn_change *c,
		      size_t n)
{
	struct ipm_txn_record rec = { uuid, command, 2000, c, n };
	int64_t id = 0;
	assert_int_equal(ipm_db_txn_commit(&id, db, &rec), 0);
	return id;
}

/* "name version store" of each row of the state after txn, "; "-joined. */
static char *state_text(struct ipm_db *db, int64_t txn)
{
	struct ipm_package_row *rows = NULL;
	size_t n = 0;
	char *text = xstrdup("");

	assert_int_equal(ipm_db_history_state(&rows, &n, db, txn), 0);
	for (size_t i = 0; i < n; i++) {
		char *more = xasprintf("%s%s%s %s %s", text, i ? "; " : "", rows[i].name, rows[i].version,
				       rows[i].store_dir);
		free(text);
		text = more;
		ipm_package_row_release(&rows[i]);
	}
	free(rows);
	return text;
}

static char *kept_text(struct ipm_db *db, int64_t first, int64_t last)
{
	char **dirs = NULL;
	size_t n = 0;
	char *text = xstrdup("");

	assert_int_equal(ipm_db_store_dirs_kept(&dirs, &n, db, first, last), 0);
	for (size_t i = 0; i < n; i++) {
		char *more = xasprintf("%s%s%s", text, i ? " " : "", dirs[i]);
		free(text);
		text = more;
	}
	xfree_strv(dirs, n);
	return text;
}

static void test_transactions(void **state)
{
	struct fixture *f = *state;
	struct ipm_package_row a1 = row("a", "1.0", "/s/a/1.0", 1), b1 = row("b", "1.0", "/s/b/1.0", 0);
	struct ipm_package_row a2 = row("a", "2.0", "/s/a/2.0", 1);
	struct ipm_txn_change t1[] = { { "a", NULL, &a1 }, { "b", NULL, &b1 } };
	struct ipm_txn_change t2[] = { { "a", "1.0", &a2 } };
	struct ipm_txn_change t3[] = { { "b", "1.0", NULL } };
	struct ipm_txn_change t4[] = { { "a", "2.0", &a1 } };
	struct ipm_history_entry *h = NULL;
	struct ipm_package_row got;
	size_t n = 0;
	int64_t last = -1;
	int yes = -1;
	char *text;

	assert_int_equal(ipm_db_history_last(&last, f->db), 0);
	assert_int_equal(last, 0);
	assert_int_equal(commit(f->db, "u1", "ipm install a", t1, 2), 1);
	assert_int_equal(commit(f->db, "u2", "ipm install a@2.0", t2, 1), 2);
	assert_int_equal(commit(f->db, "u3", "ipm remove --force b", t3, 1), 3);
	assert_int_equal(commit(f->db, "u4", "ipm rollback 2", t4, 1), 4);
	assert_int_equal(ipm_db_history_last(&last, f->db), 0);
	assert_int_equal(last, 4);

	/* the commit wrote the package rows too */
	assert_int_equal(ipm_db_package_get(&got, f->db, "a", 1), 0);
	assert_string_equal(got.version, "1.0");
	assert_string_equal(got.store_dir, "/s/a/1.0");
	assert_int_equal(got.nfiles, 2);
	ipm_package_row_release(&got);
	assert_int_equal(ipm_db_package_get(&got, f->db, "b", 0), IPM_ENOTFOUND);
	ipm_error_clear();

	/* the uuid is the journal's commit mark */
	assert_int_equal(ipm_db_txn_committed(&yes, f->db, "u3"), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(ipm_db_txn_committed(&yes, f->db, "never"), 0);
	assert_int_equal(yes, 0);

	/* a second transaction with the same mark changes nothing */
	{
		struct ipm_txn_change bad[] = { { "b", NULL, &b1 } };
		struct ipm_txn_record rec = { "u1", "again", 0, bad, 1 };
		assert_true(ipm_db_txn_commit(NULL, f->db, &rec) < 0);
		ipm_error_clear();
		assert_int_equal(ipm_db_package_get(&got, f->db, "b", 0), IPM_ENOTFOUND);
		ipm_error_clear();
	}

	assert_int_equal(ipm_db_history_list(&h, &n, f->db), 0);
	assert_int_equal(n, 4);
	assert_string_equal(h[0].command, "ipm install a");
	assert_int_equal(h[0].nchanges, 2);
	assert_null(h[0].changes[0].old_version);
	assert_string_equal(h[0].changes[0].new_version, "1.0");
	assert_string_equal(h[1].changes[0].old_version, "1.0");
	assert_string_equal(h[1].changes[0].new_version, "2.0");
	assert_string_equal(h[2].changes[0].name, "b");
	assert_null(h[2].changes[0].new_version);
	assert_int_equal(h[3].at, 2000);
	ipm_history_free(h, n);

	/* the state after each transaction */
	text = state_text(f->db, 0);
	assert_string_equal(text, "");
	free(text);
	text = state_text(f->db, 1);
	assert_string_equal(text, "a 1.0 /s/a/1.0; b 1.0 /s/b/1.0");
	free(text);
	text = state_text(f->db, 2);
	assert_string_equal(text, "a 2.0 /s/a/2.0; b 1.0 /s/b/1.0");
	free(text);
	text = state_text(f->db, 3);
	assert_string_equal(text, "a 2.0 /s/a/2.0");
	free(text);
	text = state_text(f->db, 4);
	assert_string_equal(text, "a 1.0 /s/a/1.0");
	free(text);

	/* with files, depends and sonames, as they were */
	{
		struct ipm_package_row *rows = NULL;
		size_t nrows = 0;
		assert_int_equal(ipm_db_history_state(&rows, &nrows, f->db, 1), 0);
		assert_int_equal(nrows, 2);
		assert_int_equal(rows[0].nfiles, 2);
		assert_string_equal(rows[0].files[0].path, "bin/a");
		assert_string_equal(rows[0].files[0].sha256, a_files[0].sha256);
		assert_int_equal(rows[0].files[1].type, 'd');
		assert_int_equal(rows[0].ndepends, 1);
		assert_string_equal(rows[0].depend_constraints[0], "^1.0");
		assert_string_equal(rows[0].needs[0], "libb.so.1");
		assert_int_equal(rows[0].explicit_install, 1);
		assert_int_equal(rows[1].explicit_install, 0);
		assert_string_equal(rows[1].provides[0], "libb.so.1");
		for (size_t i = 0; i < nrows; i++)
			ipm_package_row_release(&rows[i]);
		free(rows);
	}

	/* kept generations: the states after transactions first..last, and
	 * always what is installed */
	text = kept_text(f->db, 4, 4);
	assert_string_equal(text, "/s/a/1.0");
	free(text);
	text = kept_text(f->db, 3, 4);
	assert_string_equal(text, "/s/a/1.0 /s/a/2.0");
	free(text);
	text = kept_text(f->db, 2, 4);
	assert_string_equal(text, "/s/a/1.0 /s/a/2.0 /s/b/1.0");
	free(text);
	text = kept_text(f->db, 1, 1);
	assert_string_equal(text, "/s/a/1.0 /s/b/1.0");
	free(text);

	assert_int_equal(ipm_db_store_dir_known(&yes, f->db, "/s/a/2.0"), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(ipm_db_store_dir_known(&yes, f->db, "/s/a/3.0"), 0);
	assert_int_equal(yes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
