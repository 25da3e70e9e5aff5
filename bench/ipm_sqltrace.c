/*
 * ipm_sqltrace.so: an LD_PRELOAD shim that appends every SQL statement a
 * program runs through libsqlite3, with its parameters' values written in
 * (sqlite3_expanded_sql), to the file $IPM_SQLTRACE, one statement per
 * entry, each ended by ";\n". The bench runs ipm once under it to give the
 * sqlite3 tool exactly the statements ipm ran: the SQL of src/db.c, as
 * it is today, with the same names, words and LIMIT. (Blobs that ipm reads
 * with sqlite3_blob_read, the name vectors of a typo-tolerant search, are
 * not SQL and not written down: the bench compares searches that find
 * enough by text not to need them.)
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

/* SQLite's own statements (FTS5 reads its tables with SQL) run inside a
 * prepare or a step of the program's: they are the work of the program's
 * statement, which the sqlite3 tool redoes, and are not written down. */
static __thread int depth;

static void note(sqlite3_stmt *st)
{
	const char *path = getenv("IPM_SQLTRACE");
	char *sql;
	int fd;

	/* a statement that is not busy is starting a run: note that run once */
	if (!path || depth > 0 || sqlite3_stmt_busy(st))
		return;
	sql = sqlite3_expanded_sql(st);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (sql && fd >= 0) {
		size_t n = strlen(sql);
		while (n && (sql[n - 1] == ';' || sql[n - 1] == ' ' || sql[n - 1] == '\n'))
			n--;
		if (write(fd, sql, n) < 0 || write(fd, ";\n", 2) < 0)
			abort();
	}
	if (fd >= 0)
		close(fd);
	sqlite3_free(sql);
}

int sqlite3_step(sqlite3_stmt *st)
{
	static int (*real)(sqlite3_stmt *);
	int rc;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "sqlite3_step");
	note(st);
	depth++;
	rc = real(st);
	depth--;
	return rc;
}

int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **st, const char **tail)
{
	static int (*real)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
	int rc;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "sqlite3_prepare_v2");
	depth++;
	rc = real(db, sql, n, st, tail);
	depth--;
	return rc;
}

int sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **st,
		       const char **tail)
{
	static int (*real)(sqlite3 *, const char *, int, unsigned, sqlite3_stmt **, const char **);
	int rc;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "sqlite3_prepare_v3");
	depth++;
	rc = real(db, sql, n, flags, st, tail);
	depth--;
	return rc;
}
