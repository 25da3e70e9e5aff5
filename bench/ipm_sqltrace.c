/*
 * ipm_sqltrace.so: an LD_PRELOAD shim that appends every SQL statement a
 * program runs through libsqlite3, with its parameters' values written in
 * (sqlite3_expanded_sql), to the file $IPM_SQLTRACE, one statement per
 * entry, each ended by ";\n". The bench runs ipm once under it to give the
 * sqlite3 tool exactly the statements ipm ran: the SQL of src/db.c, as
 * it is today, with the same names, words and LIMIT.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

int sqlite3_step(sqlite3_stmt *st)
{
	static int (*real_step)(sqlite3_stmt *);
	const char *path = getenv("IPM_SQLTRACE");

	if (!real_step)
		*(void **)&real_step = dlsym(RTLD_NEXT, "sqlite3_step");
	/* a statement that is not busy is starting a run: log that run once */
	if (path && !sqlite3_stmt_busy(st)) {
		char *sql = sqlite3_expanded_sql(st);
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

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
	return real_step(st);
}
