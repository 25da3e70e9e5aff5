#ifndef IPM_WORKER_H
#define IPM_WORKER_H
#include <stddef.h>
#include <sys/types.h>
#include "buf.h"
/*
 * Jobs of a plan that run at the same time (fetches, builds), each in a
 * worker: a child process of ipm running one function.
 *
 * Why processes and not threads: the engine's state is per process (the
 * error slot, the log and progress handlers, a recipe step's timer and
 * guardian, the interrupt flag, libgit2's transfer clock in
 * git_stream.c), and a fetch or a build only needs its own copy of it. The
 * main process alone owns the transaction, the database and the screen:
 * a worker's reports (ipm_log, ipm_progress) come to it through a pipe and
 * are passed on to the handlers from the main process, one at a time, so
 * the handlers need no locking. A worker dies with ipm (PR_SET_PDEATHSIG,
 * even on SIGKILL), and its recipe steps with it (their guardian, see
 * install.c). Ctrl-C reaches the workers (the same process group; and
 * ipm_worker_cancel for a signal sent to ipm alone): each stops at its next
 * check, as ipm itself does.
 *
 * A worker must not use the database: SQLite connections do not survive a
 * fork. It returns an error code, its error slot, and strings it hands
 * back with ipm_worker_return.
 */

typedef int (*ipm_worker_fn)(void *opaque);

struct ipm_worker {
	pid_t pid;            /* 0 once reaped (or never started) */
	int fd;               /* the child's reports; -1 once read to the end */
	struct ipm_buf in;    /* what came and is not a whole report yet */
	int done;             /* finished: rc and the rest are its result */
	int got_result;
	int cancelled;        /* ipm_worker_cancel was called */
	const char *output_tag;  /* NULL, or set by the caller after
				  * ipm_worker_start (before its first
				  * ipm_worker_wait): its IPM_LOG_OUTPUT lines
				  * are passed on as "TAG | line" (borrowed) */
	int rc;               /* what the function returned */
	char *message, *hint; /* its error slot, when rc < 0 */
	char **values;        /* what it handed back, in order */
	size_t nvalues;
};

/* How many transfers run at once (fetches, binary-cache lookups), each in
 * a worker: IPM_FETCH_JOBS (1 to 64), 4 by default. */
size_t ipm_worker_fetch_limit(void);

/* Starts fn(opaque) in a new worker. 0, or IPM_ERROR when no process can
 * be made. */
int ipm_worker_start(struct ipm_worker *w, ipm_worker_fn fn, void *opaque);
/* In a worker: hands value (copied) back with the result. */
void ipm_worker_return(const char *value);
/* Waits up to timeout_ms (until a signal, at most) for reports of the
 * started, unfinished workers among ws[0..n), passes them on, and marks
 * those that ended done. Returns how many became done. */
size_t ipm_worker_wait(struct ipm_worker *ws, size_t n, int timeout_ms);
/* Asks a running worker to stop (SIGTERM: it stops as on Ctrl-C). */
void ipm_worker_cancel(struct ipm_worker *w);
/* The worker's error in the error slot; returns its rc. */
int ipm_worker_error(const struct ipm_worker *w);
/* Frees a done (or never started) worker's result. */
void ipm_worker_release(struct ipm_worker *w);
#endif
