/* Workers: one job of a plan in a child process (see ipm/worker.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipm/error.h"
#include "ipm/log.h"
#include "ipm/worker.h"
#include "ipm/xalloc.h"

/*
 * A report is a 4-byte length (host order: both ends are this program),
 * then a kind byte and NUL-terminated fields:
 *   'L' level, message                      an ipm_log
 *   'P' label, done, total, unit, bytes     an ipm_progress_bytes
 *   'R' rc, has hint, message, hint, values...  the result, last
 */

/* ---- in the worker ---- */

static int report_fd = -1;
static char **returned;
static size_t nreturned, areturned;

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(report_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(1);  /* ipm is gone: nothing to report to */
		p += w;
		n -= (size_t)w;
	}
}

static void send_report(char kind, const char *const *fields, size_t n)
{
	struct ipm_buf b = IPM_BUF_INIT;
	uint32_t len;

	ipm_buf_addn(&b, "\0\0\0\0", 4);
	ipm_buf_addch(&b, kind);
	for (size_t i = 0; i < n; i++)
		ipm_buf_addn(&b, fields[i] ? fields[i] : "", strlen(fields[i] ? fields[i] : "") + 1);
	len = (uint32_t)(b.len - 4);
	memcpy(b.ptr, &len, 4);
	write_all(b.ptr, b.len);
	ipm_buf_release(&b);
}

static void worker_log(void *ctx, enum ipm_log_level level, const char *msg)
{
	char lv[16];
	const char *f[2] = { lv, msg };

	(void)ctx;
	snprintf(lv, sizeof(lv), "%d", (int)level);
	send_report('L', f, 2);
}

static void worker_progress(void *ctx, const char *label, uint64_t done, uint64_t total, const char *unit,
			    uint64_t bytes)
{
	char d[24], t[24], b[24];
	const char *f[5] = { label, d, t, unit, b };

	(void)ctx;
	snprintf(d, sizeof(d), "%" PRIu64, done);
	snprintf(t, sizeof(t), "%" PRIu64, total);
	snprintf(b, sizeof(b), "%" PRIu64, bytes);
	send_report('P', f, 5);
}

void ipm_worker_return(const char *value)
{
	XGROW(returned, areturned, nreturned + 1);
	returned[nreturned++] = xstrdup(value);
}

static void send_result(int rc)
{
	char code[16];
	const char **f = xcalloc(nreturned + 4, sizeof(*f));

	snprintf(code, sizeof(code), "%d", rc);
	f[0] = code;
	f[1] = ipm_error_hint_text() ? "1" : "0";
	f[2] = rc < 0 ? ipm_error_message() : "";
	f[3] = ipm_error_hint_text() ? ipm_error_hint_text() : "";
	for (size_t i = 0; i < nreturned; i++)
		f[4 + i] = returned[i];
	send_report('R', f, nreturned + 4);
	free(f);
}

/* Enough to hide each transfer's latency, few enough not to hammer one
 * server. */
#define FETCH_LIMIT 4

size_t ipm_worker_fetch_limit(void)
{
	const char *v = getenv("IPM_FETCH_JOBS");
	long n = v && *v ? strtol(v, NULL, 10) : FETCH_LIMIT;

	return n < 1 ? 1 : n > 64 ? 64 : (size_t)n;
}

int ipm_worker_start(struct ipm_worker *w, ipm_worker_fn fn, void *opaque)
{
	pid_t parent = getpid();
	int p[2];

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return ipm_error_set(IPM_ERROR, "cannot start a process: %s", strerror(errno));
	fflush(NULL);
	w->pid = fork();
	if (w->pid < 0) {
		w->pid = 0;
		close(p[0]);
		close(p[1]);
		return ipm_error_set(IPM_ERROR, "cannot start a process: %s", strerror(errno));
	}
	if (w->pid == 0) {
		int rc;

		close(p[0]);
		/* dies with ipm, even when ipm is killed */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		report_fd = p[1];
		signal(SIGPIPE, SIG_IGN);
		ipm_log_set_handler(worker_log, NULL);
		ipm_progress_set_handler(worker_progress, NULL);
		ipm_error_clear();
		rc = fn(opaque);
		send_result(rc);
		_exit(0);
	}
	close(p[1]);
	w->fd = p[0];
	ipm_buf_init(&w->in);
	return 0;
}

/* ---- in ipm ---- */

static char *field(char **p, const char *end)
{
	char *f = *p;
	size_t len;

	if (f >= end)
		return NULL;
	len = strnlen(f, (size_t)(end - f));
	if (f + len >= end)
		return NULL;
	*p = f + len + 1;
	return f;
}

static void take_report(struct ipm_worker *w, char *msg, size_t len)
{
	char *p = msg + 1, *end = msg + len;
	char kind = len ? msg[0] : 0;

	if (kind == 'L') {
		char *lv = field(&p, end), *text = field(&p, end);
		enum ipm_log_level level = lv ? (enum ipm_log_level)atoi(lv) : IPM_LOG_INFO;
		if (lv && text && level == IPM_LOG_OUTPUT && w->output_tag)
			ipm_log(level, "%s | %s", w->output_tag, text);
		else if (lv && text)
			ipm_log(level, "%s", text);
	} else if (kind == 'P') {
		char *label = field(&p, end), *d = field(&p, end), *t = field(&p, end);
		char *unit = field(&p, end), *b = field(&p, end);
		if (label && d && t && unit && b)
			ipm_progress_bytes(label, strtoull(d, NULL, 10), strtoull(t, NULL, 10), unit,
					   strtoull(b, NULL, 10));
	} else if (kind == 'R') {
		char *code = field(&p, end), *has_hint = field(&p, end);
		char *message = field(&p, end), *hint = field(&p, end), *v;
		if (!code || !has_hint || !message || !hint)
			return;
		w->got_result = 1;
		w->rc = atoi(code);
		w->message = xstrdup(message);
		w->hint = strcmp(has_hint, "1") == 0 ? xstrdup(hint) : NULL;
		while ((v = field(&p, end))) {
			w->values = xrealloc(w->values, (w->nvalues + 1) * sizeof(*w->values));
			w->values[w->nvalues++] = xstrdup(v);
		}
	}
}

/* Passes on every whole report in w->in. */
static void take_reports(struct ipm_worker *w)
{
	size_t at = 0;

	while (w->in.len - at >= 4) {
		uint32_t len;
		memcpy(&len, w->in.ptr + at, 4);
		if (w->in.len - at - 4 < len)
			break;
		take_report(w, w->in.ptr + at + 4, len);
		at += 4 + len;
	}
	if (at) {
		memmove(w->in.ptr, w->in.ptr + at, w->in.len - at);
		ipm_buf_truncate(&w->in, w->in.len - at);
	}
}

/* The worker's reports are all read: it has exited, or is about to. */
static void reap(struct ipm_worker *w)
{
	int status = 0;

	close(w->fd);
	w->fd = -1;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	w->done = 1;
	if (w->got_result)
		return;
	w->rc = IPM_ERROR;
	if (WIFSIGNALED(status))
		w->message = xasprintf("a worker process of ipm was killed by signal %d", WTERMSIG(status));
	else
		w->message = xasprintf("a worker process of ipm ended without a result (exit status %d)",
				       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

size_t ipm_worker_wait(struct ipm_worker *ws, size_t n, int timeout_ms)
{
	struct pollfd *pfd = xcalloc(n ? n : 1, sizeof(*pfd));
	size_t *which = xcalloc(n ? n : 1, sizeof(*which));
	size_t np = 0, finished = 0;

	for (size_t i = 0; i < n; i++) {
		if (ws[i].done || ws[i].fd < 0)
			continue;
		pfd[np].fd = ws[i].fd;
		pfd[np].events = POLLIN;
		which[np++] = i;
	}
	if (np && poll(pfd, np, timeout_ms) > 0) {
		for (size_t k = 0; k < np; k++) {
			struct ipm_worker *w = &ws[which[k]];
			char chunk[16384];
			ssize_t r;

			if (!pfd[k].revents)
				continue;
			r = read(w->fd, chunk, sizeof(chunk));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r > 0) {
				ipm_buf_addn(&w->in, chunk, (size_t)r);
				take_reports(w);
				continue;
			}
			reap(w);
			finished++;
		}
	}
	free(pfd);
	free(which);
	return finished;
}

void ipm_worker_cancel(struct ipm_worker *w)
{
	if (w->pid > 0 && !w->done && !w->cancelled)
		kill(w->pid, SIGTERM);
	w->cancelled = 1;
}

int ipm_worker_error(const struct ipm_worker *w)
{
	if (w->rc >= 0)
		return w->rc;
	ipm_error_set(w->rc, "%s", w->message ? w->message : "");
	if (w->hint)
		ipm_error_hint("%s", w->hint);
	return w->rc;
}

void ipm_worker_release(struct ipm_worker *w)
{
	if (w->fd >= 0)
		close(w->fd);
	ipm_buf_release(&w->in);
	free(w->message);
	free(w->hint);
	xfree_strv(w->values, w->nvalues);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}
