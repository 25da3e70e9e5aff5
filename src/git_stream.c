/*
 * Time limits for libgit2's network transfers.
 *
 * libgit2 1.5 has no timeouts of its own (GIT_OPT_SET_SERVER_TIMEOUT came
 * in 1.7): its socket stream connects and reads blocking, so a server that
 * accepts and never answers holds ipm, and its lock, forever. It does let
 * an application replace that stream (git_stream_register), and every
 * transport builds on it: git:// and http:// read it directly, https://
 * through the TLS stream that wraps it, ssh:// connects with it. This one
 * connects without blocking and waits for each read and write with poll(),
 * never longer than what the limits leave:
 *
 *   connect         the connection is made within limits->connect_ms
 *   low_speed       every window of limits->low_speed_ms moves at least
 *                   limits->low_speed_bytes a second (both directions)
 *   total           the fetch ends within limits->total_ms
 *
 * ssh:// reads its socket itself (libssh2), never through this stream: for
 * it a watchdog thread, running while a fetch is armed, applies the same
 * rules to what the progress callbacks report and shuts the socket down
 * (which wakes libssh2's poll) when one is broken. It watches the other
 * transports too, as a second line.
 *
 * Fetches run one at a time in a process (a plan's concurrent fetches
 * each run in a worker process of their own, see ipm/worker.h), so the
 * clock is one static state,
 * armed by ipm_git_limits_begin for each fetch and guarded by a mutex
 * against the watchdog.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <git2.h>
#include <git2/sys/stream.h>

#include "ipm/config.h"
#include "ipm/error.h"
#include "ipm/xalloc.h"
#include "fetch-internal.h"

enum limit_failure {
	FAILED_NONE,
	FAILED_CONNECT,
	FAILED_LOW_SPEED,
	FAILED_TOTAL,
};

static struct {
	const struct ipm_limits *limits;
	uint64_t start_ms;       /* the fetch's start */
	uint64_t window_ms;      /* the current low-speed window's start */
	uint64_t moved;          /* bytes read and written since start */
	uint64_t window_moved;   /* moved at the window's start */
	enum limit_failure failure;
	int fd;                  /* the connected socket, for the watchdog; -1 */
} clock_state = { .fd = -1 };

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watchdog_wake = PTHREAD_COND_INITIALIZER;
static pthread_t watchdog_thread;
static int watchdog_running, watchdog_stop;

/*
 * libgit2's ssh transport takes the socket of the stream it gets by
 * reading it as its own socket stream ({ parent, host, port, s }), so this
 * stream starts with the same members in the same order.
 */
struct limited_stream {
	git_stream parent;
	char *host;
	char *port;
	int s;
};

static const struct ipm_limits *limits_now(void)
{
	return clock_state.limits ? clock_state.limits : &ipm_limits_default;
}

static int limits_at_locked(uint64_t now, int connected);

/* Every 100 ms while a fetch is armed: a breach shuts the socket down, so
 * that whoever waits on it (libssh2 above all) wakes up to a dead
 * connection and fails. */
static void *watchdog_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&clock_lock);
	while (!watchdog_stop) {
		struct timespec until;
		if (clock_state.fd >= 0 && limits_at_locked(ipm_fetch_now_ms(), 1) < 0) {
			shutdown(clock_state.fd, SHUT_RDWR);
			clock_state.fd = -1;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&watchdog_wake, &clock_lock, &until);
	}
	pthread_mutex_unlock(&clock_lock);
	return NULL;
}

void ipm_git_limits_begin(const struct ipm_limits *limits)
{
	ipm_git_limits_end();
	pthread_mutex_lock(&clock_lock);
	memset(&clock_state, 0, sizeof(clock_state));
	clock_state.fd = -1;
	clock_state.limits = limits ? limits : &ipm_limits_default;
	clock_state.start_ms = clock_state.window_ms = ipm_fetch_now_ms();
	watchdog_stop = 0;
	pthread_mutex_unlock(&clock_lock);
	/* without a watchdog the stream's own waits still hold for all but ssh */
	watchdog_running = pthread_create(&watchdog_thread, NULL, watchdog_main, NULL) == 0;
}

void ipm_git_limits_end(void)
{
	if (watchdog_running) {
		pthread_mutex_lock(&clock_lock);
		watchdog_stop = 1;
		pthread_cond_signal(&watchdog_wake);
		pthread_mutex_unlock(&clock_lock);
		pthread_join(watchdog_thread, NULL);
		watchdog_running = 0;
	}
	/* disarmed: a stream used outside a fetch gets the defaults, from its
	 * own connection on (ipm_git_limits_explain comes before this) */
	pthread_mutex_lock(&clock_lock);
	memset(&clock_state, 0, sizeof(clock_state));
	clock_state.fd = -1;
	pthread_mutex_unlock(&clock_lock);
}

/* Notes a breach found outside limits_at (the connect timeout); -1. */
static int set_failure(enum limit_failure failure)
{
	pthread_mutex_lock(&clock_lock);
	if (clock_state.failure == FAILED_NONE)
		clock_state.failure = failure;
	pthread_mutex_unlock(&clock_lock);
	return -1;
}

/* Starts the clock of a stream used outside an armed fetch. */
static void clock_start(void)
{
	pthread_mutex_lock(&clock_lock);
	if (!clock_state.start_ms)
		clock_state.start_ms = clock_state.window_ms = ipm_fetch_now_ms();
	pthread_mutex_unlock(&clock_lock);
}

/* Counts bytes that moved (through the stream, or reported by libgit2). */
static void note_moved(uint64_t n)
{
	pthread_mutex_lock(&clock_lock);
	clock_state.moved += n;
	pthread_mutex_unlock(&clock_lock);
}

void ipm_git_limits_progress(uint64_t received)
{
	pthread_mutex_lock(&clock_lock);
	/* ssh's bytes never pass the stream: libgit2's count stands for them */
	if (received > clock_state.moved)
		clock_state.moved = received;
	pthread_mutex_unlock(&clock_lock);
}

/* Checks the total time and, once connected, the low-speed window at
 * now (while connecting, the connect timeout is the one that applies); on
 * a breach, notes it and returns -1. */
static int limits_at(uint64_t now, int connected)
{
	int rc;

	pthread_mutex_lock(&clock_lock);
	rc = limits_at_locked(now, connected);
	pthread_mutex_unlock(&clock_lock);
	return rc;
}

static int limits_at_locked(uint64_t now, int connected)
{
	const struct ipm_limits *l = limits_now();

	if (clock_state.failure != FAILED_NONE)
		return -1;
	if (!clock_state.start_ms)
		clock_state.start_ms = clock_state.window_ms = now;
	if (l->total_ms > 0 && now - clock_state.start_ms >= (uint64_t)l->total_ms) {
		clock_state.failure = FAILED_TOTAL;
		return -1;
	}
	if (connected && l->low_speed_ms > 0 && l->low_speed_bytes > 0 &&
	    now - clock_state.window_ms >= (uint64_t)l->low_speed_ms) {
		uint64_t want = (uint64_t)l->low_speed_bytes * (uint64_t)l->low_speed_ms / 1000;
		if (clock_state.moved - clock_state.window_moved < (want ? want : 1)) {
			clock_state.failure = FAILED_LOW_SPEED;
			return -1;
		}
		clock_state.window_ms = now;
		clock_state.window_moved = clock_state.moved;
	}
	return 0;
}

int ipm_git_limits_check(void)
{
	return limits_at(ipm_fetch_now_ms(), 1);
}

/* How long a wait may last before the limits must be looked at again:
 * the end of the total time or of the low-speed window; -1 for ever. */
static int wait_ms(uint64_t now)
{
	const struct ipm_limits *l = limits_now();
	uint64_t left = UINT64_MAX;

	pthread_mutex_lock(&clock_lock);
	if (l->total_ms > 0) {
		uint64_t end = clock_state.start_ms + (uint64_t)l->total_ms;
		left = end > now ? end - now : 0;
	}
	if (l->low_speed_ms > 0 && l->low_speed_bytes > 0) {
		uint64_t end = clock_state.window_ms + (uint64_t)l->low_speed_ms;
		uint64_t window_left = end > now ? end - now : 0;
		if (window_left < left)
			left = window_left;
	}
	pthread_mutex_unlock(&clock_lock);
	if (left == UINT64_MAX)
		return -1;
	return left > 60000 ? 60000 : (int)left + 1;
}

static double seconds(long ms)
{
	return (double)ms / 1000.0;
}

int ipm_git_limits_explain(const char *url)
{
	const struct ipm_limits *l = limits_now();

	switch (clock_state.failure) {
	case FAILED_CONNECT:
		ipm_error_set(IPM_ENET, "'%s': cannot connect within %g s", url, seconds(l->connect_ms));
		ipm_limits_hint(l, "timeouts.connect");
		return 1;
	case FAILED_LOW_SPEED:
		ipm_error_set(IPM_ENET, "'%s': the transfer stalled: less than %ld bytes a second for %g s", url,
			      l->low_speed_bytes, seconds(l->low_speed_ms));
		ipm_limits_hint(l, "timeouts.low_speed_time");
		return 1;
	case FAILED_TOTAL:
		ipm_error_set(IPM_ENET, "'%s': the transfer took longer than %g s", url, seconds(l->total_ms));
		ipm_limits_hint(l, "timeouts.total");
		return 1;
	case FAILED_NONE:
		break;
	}
	return 0;
}

/* libgit2's error for a breach (ipm replaces it with ipm_git_limits_explain). */
static int breach(const char *what)
{
	git_error_set_str(GIT_ERROR_NET, what);
	return -1;
}

/* Waits until fd is ready for events or a limit says stop (-1). */
static int wait_ready(int fd, short events)
{
	for (;;) {
		uint64_t now = ipm_fetch_now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (limits_at(now, 1) < 0)
			return breach("transfer stopped by a time limit");
		r = poll(&p, 1, wait_ms(now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			git_error_set(GIT_ERROR_OS, "cannot wait for the connection: %s", strerror(errno));
			return -1;
		}
	}
}

/* Connects fd to addr within the connect timeout (and the total time). */
static int connect_within(int fd, const struct addrinfo *addr)
{
	const struct ipm_limits *l = limits_now();
	uint64_t start = ipm_fetch_now_ms();
	int err = 0;
	socklen_t len = sizeof(err);

	if (connect(fd, addr->ai_addr, addr->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		err = errno;
		goto failed;
	}
	for (;;) {
		uint64_t now = ipm_fetch_now_ms();
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int wait = wait_ms(now), r;

		if (l->connect_ms > 0) {
			uint64_t end = start + (uint64_t)l->connect_ms;
			int connect_left = end > now ? (int)(end - now) : 0;
			if (connect_left == 0) {
				set_failure(FAILED_CONNECT);
				return breach("connection timed out");
			}
			if (wait < 0 || connect_left < wait)
				wait = connect_left;
		}
		if (limits_at(now, 0) < 0)
			return breach("transfer stopped by a time limit");
		r = poll(&p, 1, wait);
		if (r > 0)
			break;
		if (r < 0 && errno != EINTR) {
			err = errno;
			goto failed;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0)
		return 0;
failed:
	errno = err;
	return 1;   /* try the next address */
}

static int stream_connect(git_stream *stream)
{
	struct limited_stream *st = (struct limited_stream *)stream;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *info = NULL, *a;
	int rc, last_errno = 0;

	clock_start();
	rc = getaddrinfo(st->host, st->port, &hints, &info);
	if (rc != 0) {
		git_error_set(GIT_ERROR_NET, "failed to resolve address for %s: %s", st->host, gai_strerror(rc));
		return -1;
	}
	for (a = info; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		rc = connect_within(fd, a);
		if (rc == 0) {
			st->s = fd;
			pthread_mutex_lock(&clock_lock);
			clock_state.fd = fd;
			/* the low-speed windows start with the connection */
			clock_state.window_ms = ipm_fetch_now_ms();
			clock_state.window_moved = clock_state.moved;
			pthread_mutex_unlock(&clock_lock);
			break;
		}
		last_errno = errno;
		close(fd);
		if (rc < 0) {   /* a limit: no other address gets more time */
			freeaddrinfo(info);
			return -1;
		}
	}
	freeaddrinfo(info);
	if (st->s < 0) {
		git_error_set(GIT_ERROR_OS, "failed to connect to %s: %s", st->host,
			      strerror(last_errno ? last_errno : ECONNREFUSED));
		return -1;
	}
	return 0;
}

static ssize_t stream_read(git_stream *stream, void *data, size_t len)
{
	struct limited_stream *st = (struct limited_stream *)stream;

	for (;;) {
		ssize_t n = recv(st->s, data, len, 0);
		if (n >= 0) {
			note_moved((uint64_t)n);
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			git_error_set(GIT_ERROR_NET, "error receiving socket data: %s", strerror(errno));
			return -1;
		}
		if (wait_ready(st->s, POLLIN) < 0)
			return -1;
	}
}

static ssize_t stream_write(git_stream *stream, const char *data, size_t len, int flags)
{
	struct limited_stream *st = (struct limited_stream *)stream;

	(void)flags;
	for (;;) {
		ssize_t n = send(st->s, data, len, MSG_NOSIGNAL);
		if (n >= 0) {
			note_moved((uint64_t)n);
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			git_error_set(GIT_ERROR_NET, "error sending data: %s", strerror(errno));
			return -1;
		}
		if (wait_ready(st->s, POLLOUT) < 0)
			return -1;
	}
}

/* Forgets fd for the watchdog before it is closed (and its number reused). */
static void unwatch(int fd)
{
	pthread_mutex_lock(&clock_lock);
	if (clock_state.fd == fd)
		clock_state.fd = -1;
	pthread_mutex_unlock(&clock_lock);
}

static int stream_close(git_stream *stream)
{
	struct limited_stream *st = (struct limited_stream *)stream;
	int rc = 0;

	if (st->s >= 0) {
		unwatch(st->s);
		rc = close(st->s);
	}
	st->s = -1;
	return rc;
}

static void stream_free(git_stream *stream)
{
	struct limited_stream *st = (struct limited_stream *)stream;

	if (st->s >= 0) {
		unwatch(st->s);
		close(st->s);
	}
	free(st->host);
	free(st->port);
	free(st);
}

static int stream_new(git_stream **out, const char *host, const char *port)
{
	struct limited_stream *st = xcalloc(1, sizeof(*st));

	st->parent.version = GIT_STREAM_VERSION;
	st->parent.connect = stream_connect;
	st->parent.read = stream_read;
	st->parent.write = stream_write;
	st->parent.close = stream_close;
	st->parent.free = stream_free;
	st->host = xstrdup(host);
	st->port = xstrdup(port);
	st->s = -1;
	*out = &st->parent;
	return 0;
}

int ipm_git_stream_register(void)
{
	git_stream_registration registration = {
		.version = GIT_STREAM_VERSION,
		.init = stream_new,
	};

	if (git_stream_register(GIT_STREAM_STANDARD, &registration) < 0)
		return ipm_error_set(IPM_ERROR, "cannot register the git socket stream: %s",
				     git_error_last() ? git_error_last()->message : "unknown libgit2 error");
	return 0;
}
