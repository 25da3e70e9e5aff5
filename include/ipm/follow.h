#ifndef IPM_FOLLOW_H
#define IPM_FOLLOW_H
#include <stdint.h>
#include <sys/types.h>
#include "buf.h"
/*
 * Following a recipe step while it runs, for the progress reports of
 * log.h: how long it has been running (unit "ms" under its label) and the
 * lines its output adds to the build log (IPM_LOG_OUTPUT), read back from
 * the log file, so the step writes to the log itself and nothing sits
 * between it and its output.
 */
struct ipm_follow {
	char *label;          /* "building jq: step 2/3 make" */
	int log_fd;           /* the log, opened for reading; -1 when it cannot be */
	off_t offset;         /* how far it was read */
	uint64_t start_ms;
	uint64_t reported_s;  /* the last whole second reported, + 1 (0: none yet) */
	struct ipm_buf line;  /* output not ended by a newline yet */
};

/* Starts following: the step's output begins at offset in log_path; reports
 * the step (0 ms) at once. label is copied. */
void ipm_follow_start(struct ipm_follow *f, const char *label, const char *log_path, off_t offset);
/* Waits up to timeout_ms for fd to become readable or hung up (fd < 0: just
 * sleeps), then reports the new output lines and, once a second, the time.
 * 1 when fd was hung up (its writer is gone), else 0. */
int ipm_follow_wait(struct ipm_follow *f, int fd, int timeout_ms);
/* The rest of the output (a last line without newline too), the end report;
 * releases f. */
void ipm_follow_end(struct ipm_follow *f);

/* How a step is named in its label: the first line of cmd, shortened to about max bytes
 * (at a UTF-8 character boundary) with "..." when it was longer or had more
 * lines. Caller frees. */
char *ipm_follow_step_name(const char *cmd, size_t max);
#endif
