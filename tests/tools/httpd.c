/*
 * httpd: a tiny HTTP/1.1 file server for the tests (never for real use).
 *
 * Usage: httpd ROOT PORTFILE [LOGFILE]
 *
 *   Binds 127.0.0.1 on an ephemeral port and writes the port number (one line)
 *   to PORTFILE, through PORTFILE.tmp and rename(), so a reader polling for
 *   PORTFILE never sees a partial number. Then serves the files under ROOT:
 *
 *   - GET and HEAD only (others: 405); every answer has Connection: close.
 *   - A strong ETag per file ("<inode>-<size>-<mtime ns>" in hex, quoted);
 *     a request whose If-None-Match lists it (or "*") gets 304 and no body.
 *   - 404 for missing files and for directories; 403 for paths with a ".."
 *     component; 400 for malformed requests.
 *   - "/slow/<rest>" serves <rest> in 1 KiB chunks with a 1 s pause after
 *     each chunk (for progress and interruption tests).
 *   - Precompressed files, as a server set up for static compression
 *     serves them: when the request's Accept-Encoding lists zstd (or gzip)
 *     and FILE.zst (FILE.gz) exists beside FILE, the answer is that file's
 *     bytes with "Content-Encoding: zstd" ("gzip"); zstd is preferred. Every
 *     answer for a FILE that has such a variant says "Vary: Accept-Encoding",
 *     and a variant has an ETag of its own.
 *   - With LOGFILE, one line per request is appended: "METHOD PATH STATUS",
 *     e.g. "GET /index.json 304" (written before the body is sent, so a slow
 *     request is logged as soon as it starts); an answer from a
 *     precompressed file adds its encoding and the size of its body:
 *     "GET /index.json 200 zstd 5012".
 *
 *   Each connection is served by a forked child, so a slow download does not
 *   block other requests. SIGTERM or SIGINT stops the server and its children
 *   and exits with status 0.
 *
 * Example (POSIX sh):
 *   build/tools/httpd "$root" "$tmp/port" "$tmp/httpd.log" & pid=$!
 *   while [ ! -s "$tmp/port" ]; do sleep 0.05; done
 *   port=$(cat "$tmp/port"); curl -s "http://127.0.0.1:$port/file"
 *   kill $pid; wait $pid
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST 16384
#define SLOW_PREFIX "/slow/"
#define SLOW_CHUNK 1024

static volatile sig_atomic_t stop_requested;
static const char *root_dir;
static const char *log_path;

static pid_t *children;
static size_t nchildren, children_alloc;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "httpd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One write() on an O_APPEND descriptor, so lines from concurrent children
 * never interleave. encoding: the precompressed variant served (its body
 * is size bytes), or NULL. */
static void log_request_encoded(const char *method, const char *path, int status, const char *encoding,
				unsigned long long size)
{
	if (!log_path)
		return;
	char *line = NULL;
	int n = encoding ? asprintf(&line, "%s %s %d %s %llu\n", method, path, status, encoding, size)
			 : asprintf(&line, "%s %s %d\n", method, path, status);
	if (n < 0)
		return;
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)write_all(fd, line, (size_t)n);
		close(fd);
	}
	free(line);
}

static void log_request(const char *method, const char *path, int status)
{
	log_request_encoded(method, path, status, NULL, 0);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	default: return "Internal Server Error";
	}
}

static int send_error(int fd, const char *method, const char *path, int status)
{
	char *resp = NULL;
	char *body = NULL;
	int blen = asprintf(&body, "%d %s\n", status, reason(status));
	if (blen < 0)
		return -1;
	int n = asprintf(&resp,
			 "HTTP/1.1 %d %s\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Length: %d\r\n"
			 "Connection: close\r\n"
			 "\r\n%s",
			 status, reason(status), blen,
			 strcmp(method, "HEAD") == 0 ? "" : body);
	free(body);
	if (n < 0)
		return -1;
	log_request(method, path, status);
	int rc = write_all(fd, resp, (size_t)n);
	free(resp);
	return rc;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX in place; returns -1 for a bad escape or an encoded NUL. */
static int percent_decode(char *s)
{
	char *out = s;
	for (char *in = s; *in; in++) {
		if (*in == '%') {
			int hi = hexval((unsigned char)in[1]);
			int lo = hi < 0 ? -1 : hexval((unsigned char)in[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*out++ = (char)(hi * 16 + lo);
			in += 2;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
	return 0;
}

static int has_dotdot(const char *path)
{
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += len;
	}
	return 0;
}

/* Finds header `name` in the request head; returns a malloc'd trimmed value. */
static char *find_header(const char *head, const char *name)
{
	size_t nlen = strlen(name);
	const char *line = strstr(head, "\r\n");
	while (line) {
		line += 2;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *end = strstr(v, "\r\n");
			if (!end)
				end = v + strlen(v);
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return strndup(v, (size_t)(end - v));
		}
		line = strstr(line, "\r\n");
	}
	return NULL;
}

/* 1 if the If-None-Match list (comma separated, maybe weak W/ tags) holds etag. */
static int etag_matches(const char *list, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, elen) == 0 &&
		    (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t'))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

/* 1 when the Accept-Encoding list names coding with a q-value above 0
 * ("zstd", "gzip;q=0.5"; "*" does not count: only what was asked for). */
static int accepts(const char *list, const char *coding)
{
	size_t clen = strlen(coding);
	const char *p = list;

	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *end = p + strcspn(p, ",");
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *name_end = semi ? semi : end;
		while (name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
			name_end--;
		if ((size_t)(name_end - p) == clen && strncasecmp(p, coding, clen) == 0) {
			const char *q = semi ? strstr(semi, "q=") : NULL;
			return !(q && q < end && strtod(q + 2, NULL) <= 0);
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && strcmp(dot, ".json") == 0)
		return "application/json";
	if (dot && (strcmp(dot, ".txt") == 0 || strcmp(dot, ".sh") == 0))
		return "text/plain";
	if (dot && (strcmp(dot, ".html") == 0))
		return "text/html";
	return "application/octet-stream";
}

static int read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return 0;
	}
	return -1;
}

static void serve(int fd)
{
	char *req = malloc(MAX_REQUEST);
	char *path = NULL, *file = NULL, *inm = NULL, *accept = NULL, *variant = NULL;
	const char *encoding = NULL;
	int file_fd = -1, has_variant = 0;
	if (!req)
		goto done;
	if (read_request(fd, req, MAX_REQUEST) < 0)
		goto done;

	/* Request line: METHOD SP TARGET SP VERSION */
	char *eol = strpbrk(req, "\r\n");
	if (!eol)
		goto done;
	char *method = req;
	char *sp1 = memchr(req, ' ', (size_t)(eol - req));
	if (!sp1) {
		send_error(fd, "-", "-", 400);
		goto done;
	}
	*sp1 = '\0';
	char *target = sp1 + 1;
	char *sp2 = memchr(target, ' ', (size_t)(eol - target));
	if (!sp2) {
		send_error(fd, method, "-", 400);
		goto done;
	}
	*sp2 = '\0';
	path = strdup(target);
	if (!path)
		goto done;
	/* Headers start at eol; find_header needs the "\r\n" kept. */
	/* eol still points at the request line's "\r\n": headers follow it. */
	inm = find_header(eol, "If-None-Match");
	accept = find_header(eol, "Accept-Encoding");

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		send_error(fd, method, path, 405);
		goto done;
	}
	int is_head = strcmp(method, "HEAD") == 0;

	char *decoded = strdup(target);
	if (!decoded)
		goto done;
	decoded[strcspn(decoded, "?#")] = '\0';
	if (decoded[0] != '/' || percent_decode(decoded) < 0) {
		free(decoded);
		send_error(fd, method, path, 400);
		goto done;
	}
	if (has_dotdot(decoded)) {
		free(decoded);
		send_error(fd, method, path, 403);
		goto done;
	}
	int slow = 0;
	const char *rel = decoded;
	if (strncmp(rel, SLOW_PREFIX, strlen(SLOW_PREFIX)) == 0) {
		slow = 1;
		rel += strlen(SLOW_PREFIX) - 1;
	}
	if (asprintf(&file, "%s%s", root_dir, rel) < 0) {
		file = NULL;
		free(decoded);
		goto done;
	}
	free(decoded);

	struct stat st;
	file_fd = open(file, O_RDONLY | O_CLOEXEC);
	if (file_fd < 0 || fstat(file_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		send_error(fd, method, path, 404);
		goto done;
	}

	/* a precompressed variant beside the file, when the client takes it */
	static const char *const codings[][2] = { { "zstd", ".zst" }, { "gzip", ".gz" } };
	for (size_t i = 0; i < 2 && !slow; i++) {
		struct stat vst;
		free(variant);
		if (asprintf(&variant, "%s%s", file, codings[i][1]) < 0) {
			variant = NULL;
			goto done;
		}
		if (stat(variant, &vst) < 0 || !S_ISREG(vst.st_mode))
			continue;
		has_variant = 1;
		if (encoding || !accept || !accepts(accept, codings[i][0]))
			continue;
		int vfd = open(variant, O_RDONLY | O_CLOEXEC);
		if (vfd < 0 || fstat(vfd, &vst) < 0) {
			if (vfd >= 0)
				close(vfd);
			continue;
		}
		close(file_fd);
		file_fd = vfd;
		st = vst;
		encoding = codings[i][0];
	}

	char etag[128];
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx%s%s\"",
		 (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
			 (unsigned long long)st.st_mtim.tv_nsec, encoding ? "-" : "", encoding ? encoding : "");
	char extra[96];
	snprintf(extra, sizeof(extra), "%s%s%s%s", encoding ? "Content-Encoding: " : "",
		 encoding ? encoding : "", encoding ? "\r\n" : "",
		 has_variant ? "Vary: Accept-Encoding\r\n" : "");

	char *head = NULL;
	int status = inm && etag_matches(inm, etag) ? 304 : 200;
	int n;
	if (status == 304)
		n = asprintf(&head,
			     "HTTP/1.1 304 Not Modified\r\n"
			     "ETag: %s\r\n"
			     "%s"
			     "Connection: close\r\n\r\n", etag, has_variant ? "Vary: Accept-Encoding\r\n" : "");
	else
		n = asprintf(&head,
			     "HTTP/1.1 200 OK\r\n"
			     "Content-Type: %s\r\n"
			     "Content-Length: %llu\r\n"
			     "ETag: %s\r\n"
			     "%s"
			     "Connection: close\r\n\r\n",
			     content_type(file), (unsigned long long)st.st_size, etag, extra);
	if (n < 0)
		goto done;
	log_request_encoded(method, path, status, encoding, status == 304 || is_head ? 0 : (unsigned long long)st.st_size);
	if (write_all(fd, head, (size_t)n) < 0 || status == 304 || is_head) {
		free(head);
		goto done;
	}
	free(head);

	char chunk[16384];
	size_t want = slow ? SLOW_CHUNK : sizeof(chunk);
	off_t sent = 0;
	for (;;) {
		ssize_t got = read(file_fd, chunk, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (write_all(fd, chunk, (size_t)got) < 0)
			break;
		sent += got;
		/* Pause between chunks, not after the last one. */
		if (slow && sent < st.st_size)
			sleep(1);
	}
done:
	if (file_fd >= 0)
		close(file_fd);
	free(inm);
	free(accept);
	free(variant);
	free(file);
	free(path);
	free(req);
}

static void reap_children(void)
{
	pid_t pid;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		for (size_t i = 0; i < nchildren; i++) {
			if (children[i] == pid) {
				children[i] = children[--nchildren];
				break;
			}
		}
	}
}

static void add_child(pid_t pid)
{
	if (nchildren == children_alloc) {
		size_t alloc = children_alloc ? children_alloc * 2 : 16;
		pid_t *grown = realloc(children, alloc * sizeof(*grown));
		if (!grown)
			die("out of memory");
		children = grown;
		children_alloc = alloc;
	}
	children[nchildren++] = pid;
}

static void write_portfile(const char *portfile, int port)
{
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", portfile) < 0)
		die("out of memory");
	FILE *f = fopen(tmp, "w");
	if (!f)
		die("cannot write '%s': %s", tmp, strerror(errno));
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		die("cannot write '%s': %s", tmp, strerror(errno));
	if (rename(tmp, portfile) < 0)
		die("cannot rename '%s': %s", tmp, strerror(errno));
	free(tmp);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: httpd ROOT PORTFILE [LOGFILE]\n");
		return 2;
	}
	root_dir = argv[1];
	log_path = argc == 4 ? argv[3] : NULL;
	struct stat st;
	if (stat(root_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		die("'%s' is not a directory", root_dir);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: accept() must return EINTR so the loop sees the flag. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The stop signals stay blocked except inside pselect(), so one that
	 * arrives between the flag test and the wait cannot be lost. */
	sigset_t stop_set, wait_mask;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_set, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket: %s", strerror(errno));
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind: %s", strerror(errno));
	if (listen(lfd, 64) < 0)
		die("listen: %s", strerror(errno));
	socklen_t alen = sizeof(addr);
	if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		die("getsockname: %s", strerror(errno));
	write_portfile(argv[2], ntohs(addr.sin_port));

	while (!stop_requested) {
		reap_children();
		fd_set readable;
		FD_ZERO(&readable);
		FD_SET(lfd, &readable);
		struct timespec tick = { .tv_sec = 1, .tv_nsec = 0 };
		int ready = pselect(lfd + 1, &readable, NULL, NULL, &tick, &wait_mask);
		if (ready < 0 && errno != EINTR)
			die("pselect: %s", strerror(errno));
		if (ready <= 0)
			continue;
		int cfd = accept(lfd, NULL, NULL);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			die("accept: %s", strerror(errno));
		}
		pid_t pid = fork();
		if (pid < 0) {
			/* Out of processes: serve inline rather than drop the request. */
			serve(cfd);
			close(cfd);
			continue;
		}
		if (pid == 0) {
			close(lfd);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			sigprocmask(SIG_UNBLOCK, &stop_set, NULL);
			/* A client that connects and says nothing must not pin a child forever. */
			struct timeval tv = { .tv_sec = 30, .tv_usec = 0 };
			setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			serve(cfd);
			shutdown(cfd, SHUT_WR);
			close(cfd);
			_exit(0);
		}
		close(cfd);
		add_child(pid);
	}
	close(lfd);
	for (size_t i = 0; i < nchildren; i++)
		kill(children[i], SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	free(children);
	return 0;
}
