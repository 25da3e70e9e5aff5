/* Following a recipe step: its output lines read back from the log as it
 * grows, its time reported under its label, and the names of steps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "ipm/follow.h"
#include "ipm/log.h"
#include "ipm/xalloc.h"

static struct {
	char *lines[16];
	size_t nlines;
	int starts, ends, ticks;
	uint64_t last_done;
	char label[128];
} seen;

static void on_log(void *ctx, enum ipm_log_level level, const char *msg)
{
	(void)ctx;
	if (level == IPM_LOG_OUTPUT && seen.nlines < 16)
		seen.lines[seen.nlines++] = xstrdup(msg);
}

static void on_progress(void *ctx, const char *label, uint64_t done, uint64_t total, const char *unit,
			uint64_t bytes)
{
	(void)ctx;
	(void)bytes;
	assert_string_equal(unit, "ms");
	snprintf(seen.label, sizeof(seen.label), "%s", label);
	if (total && done == total)
		seen.ends++;
	else if (done == 0)
		seen.starts++;
	else
		seen.ticks++;
	seen.last_done = done;
}

static void reset(void)
{
	for (size_t i = 0; i < seen.nlines; i++)
		free(seen.lines[i]);
	memset(&seen, 0, sizeof(seen));
}

static char *temp_log(FILE **out)
{
	char *path = xstrdup("/tmp/ipm-test-follow.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	*out = fdopen(fd, "w");
	assert_non_null(*out);
	return path;
}

static void test_lines_as_they_come(void **state)
{
	struct ipm_follow f;
	FILE *log;
	char *path = temp_log(&log);

	(void)state;
	reset();
	ipm_log_set_handler(on_log, NULL);
	ipm_progress_set_handler(on_progress, NULL);
	fputs("$ make\n", log);
	fflush(log);
	ipm_follow_start(&f, "building x: step 1/2 make", path, ftell(log));
	assert_int_equal(seen.starts, 1);
	assert_string_equal(seen.label, "building x: step 1/2 make");

	/* a whole line, and half of the next one */
	fputs("cc -c a.c\ncc -c b", log);
	fflush(log);
	assert_int_equal(ipm_follow_wait(&f, -1, 1), 0);
	assert_int_equal(seen.nlines, 1);
	assert_string_equal(seen.lines[0], "cc -c a.c");
	/* the rest of it, with a CRLF, and a line with no end at the end */
	fputs(".c\r\nld -o x", log);
	fflush(log);
	ipm_follow_wait(&f, -1, 1);
	assert_int_equal(seen.nlines, 2);
	assert_string_equal(seen.lines[1], "cc -c b.c");
	ipm_follow_end(&f);
	assert_int_equal(seen.nlines, 3);
	assert_string_equal(seen.lines[2], "ld -o x");
	assert_int_equal(seen.ends, 1);
	assert_true(seen.last_done >= 1);

	ipm_log_set_handler(NULL, NULL);
	ipm_progress_set_handler(NULL, NULL);
	fclose(log);
	unlink(path);
	free(path);
	reset();
}

static void test_long_line_in_pieces(void **state)
{
	struct ipm_follow f;
	FILE *log;
	char *path = temp_log(&log);
	char *big = xmalloc(10001);

	(void)state;
	reset();
	ipm_log_set_handler(on_log, NULL);
	memset(big, '#', 10000);
	big[10000] = '\0';
	ipm_follow_start(&f, "step", path, 0);
	fputs(big, log);
	fflush(log);
	ipm_follow_wait(&f, -1, 1);
	/* a progress bar that never ends its line still comes through */
	assert_int_equal(seen.nlines, 2);
	assert_int_equal(strlen(seen.lines[0]), 4096);
	ipm_follow_end(&f);
	{
		size_t total = 0;
		for (size_t i = 0; i < seen.nlines; i++)
			total += strlen(seen.lines[i]);
		assert_int_equal(total, 10000);
	}
	ipm_log_set_handler(NULL, NULL);
	fclose(log);
	unlink(path);
	free(path);
	free(big);
	reset();
}

static void test_time_once_a_second(void **state)
{
	struct ipm_follow f;

	(void)state;
	reset();
	ipm_progress_set_handler(on_progress, NULL);
	/* no log to read: the time is still reported */
	ipm_follow_start(&f, "step", "/nonexistent/ipm-follow.log", 0);
	for (int i = 0; i < 12; i++)
		ipm_follow_wait(&f, -1, 100);
	assert_int_equal(seen.starts, 1);
	assert_int_equal(seen.ticks, 1);   /* 1.2 s: one report at the first second */
	assert_true(seen.last_done >= 1000 && seen.last_done < 2000);
	ipm_follow_end(&f);
	assert_int_equal(seen.ends, 1);
	assert_int_equal(seen.nlines, 0);
	ipm_progress_set_handler(NULL, NULL);
	reset();
}

static void test_hang_up(void **state)
{
	struct ipm_follow f;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	ipm_follow_start(&f, "step", "/nonexistent/ipm-follow.log", 0);
	assert_int_equal(ipm_follow_wait(&f, fds[0], 1), 0);
	close(fds[1]);
	assert_int_equal(ipm_follow_wait(&f, fds[0], 1000), 1);
	ipm_follow_end(&f);
	close(fds[0]);
}

static void test_step_names(void **state)
{
	char *s;

	(void)state;
	s = ipm_follow_step_name("make -j4", 60);
	assert_string_equal(s, "make -j4");
	free(s);
	s = ipm_follow_step_name("./configure --prefix=\"$IPM_PREFIX\"  \nmake", 60);
	assert_string_equal(s, "./configure --prefix=\"$IPM_PREFIX\"...");
	free(s);
	s = ipm_follow_step_name("abcdefghij", 4);
	assert_string_equal(s, "abcd...");
	free(s);
	/* never in the middle of a character: "é" is two bytes */
	s = ipm_follow_step_name("ab\xc3\xa9z", 3);
	assert_string_equal(s, "ab...");
	free(s);
	s = ipm_follow_step_name("", 10);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_as_they_come),
		cmocka_unit_test(test_long_line_in_pieces),
		cmocka_unit_test(test_time_once_a_second),
		cmocka_unit_test(test_hang_up),
		cmocka_unit_test(test_step_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
