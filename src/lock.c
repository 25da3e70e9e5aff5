/*
 * The installed-state lock: flock(2) on $IPM_HOME/lock. flock locks die with
 * the process (and its open file description), so a killed ipm never leaves
 * the lock held; the pid inside the file is only for messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "ipm/error.h"
#include "ipm/lock.h"
#include "ipm/log.h"
#include "ipm/xalloc.h"

struct ipm_lock {
	int fd;
	char *path;
};

/* The pid the current holder wrote, or 0 when unreadable. */
static long read_holder_pid(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	return strtol(text, NULL, 10);
}

static long lock_timeout_seconds(void)
{
	const char *env = getenv("IPM_LOCK_TIMEOUT");
	char *end = NULL;
	long v;

	if (!env || !*env)
		return 600;
	v = strtol(env, &end, 10);
	if (end == env || v < 0)
		return 600;
	return v;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int ipm_lock_acquire(struct ipm_lock **out, const char *path)
{
	int fd = -1, rc = 0, warned = 0;
	long timeout = lock_timeout_seconds();
	double start = now_seconds();
	char pidtext[32];
	int len;

	*out = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return ipm_error_set(IPM_ERROR, "cannot open lock file '%s': %s", path, strerror(errno));

	for (;;) {
		long holder;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rc = ipm_error_set(IPM_ERROR, "cannot lock '%s': %s", path, strerror(errno));
			goto done;
		}
		holder = read_holder_pid(fd);
		if (now_seconds() - start >= (double)timeout) {
			rc = ipm_error_set(IPM_ELOCKED, "another ipm (pid %ld) is running", holder);
			ipm_error_hint("wait for it to finish, or set IPM_LOCK_TIMEOUT to wait longer");
			goto done;
		}
		if (!warned) {
			ipm_log(IPM_LOG_WARN, "waiting for another ipm (pid %ld) to finish ...", holder);
			warned = 1;
		}
		usleep(100 * 1000);
	}

	/* We hold the lock: record our pid for the next waiter's message. */
	len = snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pidtext, (size_t)len, 0) != len) {
		/* The pid is informational only; the lock itself is held. */
	}

	*out = xcalloc(1, sizeof(**out));
	(*out)->fd = fd;
	(*out)->path = xstrdup(path);
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

void ipm_lock_release(struct ipm_lock *lock)
{
	if (!lock)
		return;
	/* Leave the file in place: unlinking it would race with a waiter that
	 * already opened it and then locks a file nobody else can see. */
	if (ftruncate(lock->fd, 0) != 0) {
		/* informational content only */
	}
	flock(lock->fd, LOCK_UN);
	close(lock->fd);
	free(lock->path);
	free(lock);
}

int ipm_lock_busy(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int busy = 0;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		busy = errno == EWOULDBLOCK;
	else
		flock(fd, LOCK_UN);
	close(fd);
	return busy;
}
