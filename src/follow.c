/* Following a running recipe step: elapsed time and new output lines. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipm/follow.h"
#include "ipm/log.h"
#include "ipm/xalloc.h"

/* A line longer than this is passed on in pieces (a progress bar drawn
 * with carriage returns never ends its line). */
#define LINE_MAX_BYTES 4096

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ipm_follow_start(struct ipm_follow *f, const char *label, const char *log_path, off_t offset)
{
	memset(f, 0, sizeof(*f));
	f->label = xstrdup(label);
	f->log_fd = open(log_path, O_RDONLY | O_CLOEXEC);
	f->offset = offset;
	f->start_ms = now_ms();
	ipm_buf_init(&f->line);
	ipm_progress(f->label, 0, 0, "ms");
	f->reported_s = 1;
}

static void flush_line(struct ipm_follow *f)
{
	if (f->line.len && f->line.ptr[f->line.len - 1] == '\r')
		ipm_buf_truncate(&f->line, f->line.len - 1);
	ipm_log(IPM_LOG_OUTPUT, "%s", f->line.ptr);
	ipm_buf_reset(&f->line);
}

/* Reads what the log gained since the last call and passes on its lines. */
static void read_output(struct ipm_follow *f)
{
	char chunk[8192];
	ssize_t n;

	if (f->log_fd < 0)
		return;
	while ((n = pread(f->log_fd, chunk, sizeof(chunk), f->offset)) > 0) {
		const char *p = chunk, *end = chunk + n;
		f->offset += n;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = (size_t)((nl ? nl : end) - p);
			size_t room = LINE_MAX_BYTES - f->line.len;
			if (len > room) {
				len = room;
				nl = NULL;
			}
			ipm_buf_addn(&f->line, p, len);
			if (nl || f->line.len >= LINE_MAX_BYTES)
				flush_line(f);
			p += len + (nl ? 1 : 0);
		}
	}
}

int ipm_follow_wait(struct ipm_follow *f, int fd, int timeout_ms)
{
	uint64_t elapsed;
	int hung_up = 0;

	if (fd >= 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, timeout_ms) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
			hung_up = 1;
	} else {
		poll(NULL, 0, timeout_ms);
	}
	read_output(f);
	elapsed = now_ms() - f->start_ms;
	if (elapsed / 1000 + 1 > f->reported_s) {
		ipm_progress(f->label, elapsed, 0, "ms");
		f->reported_s = elapsed / 1000 + 1;
	}
	return hung_up;
}

void ipm_follow_end(struct ipm_follow *f)
{
	uint64_t elapsed = now_ms() - f->start_ms;

	read_output(f);
	if (f->line.len)
		flush_line(f);
	if (elapsed == 0)
		elapsed = 1;
	ipm_progress(f->label, elapsed, elapsed, "ms");
	if (f->log_fd >= 0)
		close(f->log_fd);
	free(f->label);
	ipm_buf_release(&f->line);
	memset(f, 0, sizeof(*f));
	f->log_fd = -1;
}

char *ipm_follow_step_name(const char *cmd, size_t max)
{
	size_t len = strcspn(cmd, "\n");
	int cut = cmd[len] != '\0';

	while (len && (cmd[len - 1] == ' ' || cmd[len - 1] == '\t' || cmd[len - 1] == '\r'))
		len--;
	if (len > max) {
		len = max;
		/* not in the middle of a UTF-8 sequence */
		while (len && ((unsigned char)cmd[len] & 0xC0) == 0x80)
			len--;
		cut = 1;
	}
	return xasprintf("%.*s%s", (int)len, cmd, cut ? "..." : "");
}
