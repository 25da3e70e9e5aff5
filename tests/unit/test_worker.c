/* Workers: a function run in a child process, its reports passed on in
 * this one, its result and error slot and the strings it hands back, many
 * at once, a cancelled one and one that dies, output lines under a tag. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "ipm/error.h"
#include "ipm/interrupt.h"
#include "ipm/log.h"
#include "ipm/worker.h"
#include "ipm/xalloc.h"

static struct {
	char *logs[64];
	size_t nlogs;
	int progress, ended;
	pid_t reporter;
} seen;

static void on_log(void *ctx, enum ipm_log_level level, const char *msg)
{
	(void)ctx;
	/* the handler runs here, in the parent, whoever logged */
	seen.reporter = getpid();
	if (seen.nlogs < 64)
		seen.logs[seen.nlogs++] = xasprintf("%d %s", (int)level, msg);
}

static void on_progress(void *ctx, const char *label, uint64_t done, uint64_t total, const char *unit,
			uint64_t bytes)
{
	(void)ctx;
	assert_string_equal(label, "job");
	assert_string_equal(unit, "B");
	assert_int_equal(bytes, 7);
	seen.progress++;
	seen.ended += total && done == total;
}

static void reset(void)
{
	for (size_t i = 0; i < seen.nlogs; i++)
		free(seen.logs[i]);
	memset(&seen, 0, sizeof(seen));
	ipm_log_set_handler(on_log, NULL);
	ipm_progress_set_handler(on_progress, NULL);
}

static void wait_all(struct ipm_worker *ws, size_t n)
{
	size_t done = 0;
	for (int tries = 0; done < n && tries < 1000; tries++)
		done += ipm_worker_wait(ws, n, 100);
	assert_int_equal(done, n);
}

static int job_ok(void *opaque)
{
	const char *name = opaque;
	ipm_log(IPM_LOG_INFO, "hello from %s", name);
	ipm_progress_bytes("job", 5, 10, "B", 7);
	ipm_progress_bytes("job", 10, 10, "B", 7);
	ipm_worker_return(name);
	ipm_worker_return("");
	ipm_worker_return("last");
	return 0;
}

static int job_fail(void *opaque)
{
	(void)opaque;
	ipm_log(IPM_LOG_WARN, "about to fail");
	ipm_error_set(IPM_ENET, "cannot reach '%s'", "example.org");
	ipm_error_hint("try again");
	return IPM_ENET;
}

static void test_result_and_reports(void **state)
{
	struct ipm_worker w;

	(void)state;
	reset();
	assert_int_equal(ipm_worker_start(&w, job_ok, "one"), 0);
	wait_all(&w, 1);
	assert_true(w.done);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.nvalues, 3);
	assert_string_equal(w.values[0], "one");
	assert_string_equal(w.values[1], "");
	assert_string_equal(w.values[2], "last");
	assert_int_equal(seen.nlogs, 1);
	assert_string_equal(seen.logs[0], "1 hello from one");
	assert_int_equal(seen.reporter, getpid());
	assert_int_equal(seen.progress, 2);
	assert_int_equal(seen.ended, 1);
	ipm_worker_release(&w);
}

static void test_error_slot(void **state)
{
	struct ipm_worker w;

	(void)state;
	reset();
	ipm_error_clear();
	assert_int_equal(ipm_worker_start(&w, job_fail, NULL), 0);
	wait_all(&w, 1);
	assert_int_equal(w.rc, IPM_ENET);
	/* the worker's error slot is its own until asked for */
	assert_string_equal(ipm_error_message(), "");
	assert_int_equal(ipm_worker_error(&w), IPM_ENET);
	assert_string_equal(ipm_error_message(), "cannot reach 'example.org'");
	assert_string_equal(ipm_error_hint_text(), "try again");
	assert_string_equal(seen.logs[0], "2 about to fail");
	ipm_worker_release(&w);
	ipm_error_clear();
}

static void test_many_at_once(void **state)
{
	struct ipm_worker ws[8];
	char *names[8];

	(void)state;
	reset();
	for (int i = 0; i < 8; i++) {
		names[i] = xasprintf("w%d", i);
		assert_int_equal(ipm_worker_start(&ws[i], job_ok, names[i]), 0);
	}
	wait_all(ws, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(ws[i].rc, 0);
		assert_string_equal(ws[i].values[0], names[i]);
		ipm_worker_release(&ws[i]);
		free(names[i]);
	}
	assert_int_equal(seen.nlogs, 8);
	assert_int_equal(seen.progress, 16);
}

static int job_output(void *opaque)
{
	(void)opaque;
	ipm_log(IPM_LOG_OUTPUT, "cc -c a.c");
	ipm_log(IPM_LOG_INFO, "building 'lz4' 1.9 ...");
	ipm_log(IPM_LOG_OUTPUT, "%s", "");
	return 0;
}

static void test_output_tag(void **state)
{
	struct ipm_worker ws[2];
	size_t tagged = 0, plain = 0;

	(void)state;
	reset();
	assert_int_equal(ipm_worker_start(&ws[0], job_output, NULL), 0);
	ws[0].output_tag = "lz4  ";
	assert_int_equal(ipm_worker_start(&ws[1], job_output, NULL), 0);
	wait_all(ws, 2);
	assert_int_equal(seen.nlogs, 6);
	/* only the output lines of the tagged worker carry its tag */
	for (size_t i = 0; i < seen.nlogs; i++) {
		if (strcmp(seen.logs[i], "3 lz4   | cc -c a.c") == 0 || strcmp(seen.logs[i], "3 lz4   | ") == 0)
			tagged++;
		else if (strcmp(seen.logs[i], "3 cc -c a.c") == 0 || strcmp(seen.logs[i], "3 ") == 0)
			plain++;
		else
			assert_string_equal(seen.logs[i], "1 building 'lz4' 1.9 ...");
	}
	assert_int_equal(tagged, 2);
	assert_int_equal(plain, 2);
	ipm_worker_release(&ws[0]);
	ipm_worker_release(&ws[1]);
}

/* waits for the interrupt flag as a fetch's callbacks do */
static int job_until_cancelled(void *opaque)
{
	(void)opaque;
	for (int i = 0; i < 3000 && !ipm_interrupted(); i++)
		usleep(10000);
	return ipm_interrupt_check();
}

static int job_dies(void *opaque)
{
	(void)opaque;
	raise(SIGKILL);
	return 0;
}

static void test_cancel_and_death(void **state)
{
	struct ipm_worker ws[2];

	(void)state;
	reset();
	ipm_interrupt_catch();
	assert_int_equal(ipm_worker_start(&ws[0], job_until_cancelled, NULL), 0);
	assert_int_equal(ipm_worker_start(&ws[1], job_dies, NULL), 0);
	usleep(100000);
	ipm_worker_cancel(&ws[0]);
	wait_all(ws, 2);
	assert_true(ws[0].cancelled);
	assert_int_equal(ws[0].rc, IPM_ECANCEL);
	assert_int_equal(ws[1].rc, IPM_ERROR);
	assert_non_null(strstr(ws[1].message, "killed by signal 9"));
	/* ipm itself was not interrupted */
	assert_int_equal(ipm_interrupted(), 0);
	ipm_worker_release(&ws[0]);
	ipm_worker_release(&ws[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_and_reports),
		cmocka_unit_test(test_error_slot),
		cmocka_unit_test(test_many_at_once),
		cmocka_unit_test(test_output_tag),
		cmocka_unit_test(test_cancel_and_death),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
