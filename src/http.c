/* Downloads through libcurl: http, https, ftp and file URLs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <curl/curl.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/interrupt.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/xalloc.h"
#include "fetch-internal.h"

#ifndef IPM_VERSION
#define IPM_VERSION "dev"
#endif

/* Which limit stopped a transfer. */
enum stop_reason {
	STOP_NONE,
	STOP_TOTAL,       /* timeouts.total */
	STOP_LOW_SPEED,   /* timeouts.low_speed_limit for low_speed_time */
	STOP_SIZE,        /* the size limit: max_bytes */
};

struct transfer {
	const char *label;
	FILE *file;            /* download target, or */
	struct ipm_buf *body;  /* in-memory body */
	char *etag;
	uint64_t last_ms;
	uint64_t done;
	uint64_t total;
	int reported;
	/* limits */
	const struct ipm_limits *limits;
	uint64_t max_bytes;       /* 0: none */
	const char *size_key;     /* what max_bytes is: a config key, or NULL for a declared size */
	uint64_t received;        /* body bytes written so far */
	uint64_t start_ms;
	uint64_t window_ms;       /* start of the current low-speed window */
	uint64_t window_bytes;    /* received at its start */
	enum stop_reason stop;
	CURL *curl;
	uint64_t moved;           /* bytes moved either way: what the low-speed rule counts */
	/* ipm_http_request's method, credentials and upload, or NULL */
	const struct ipm_http_request *req;
	FILE *upload_file;
	size_t uploaded;          /* of req->upload */
	const struct ipm_fetch_ctx *ctx;   /* its CA setting (ipm_tls_curl) */
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;

	/* A chunked answer has no length to refuse up front: count. */
	if (t->max_bytes && t->received + n > t->max_bytes) {
		t->stop = STOP_SIZE;
		return 0;
	}
	if (!t->file && !t->body) {   /* the answer to a PUT: not kept */
		t->received += n;
		return n;
	}
	if (t->file) {
		t->received += n;
		return fwrite(data, 1, n, t->file);
	}
	/* One allocation of the announced size, rather than a body copied
	 * each time it doubles. */
	if (t->received == 0) {
		curl_off_t announced = -1;
		curl_easy_getinfo(t->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
		if (announced > 0 && (!t->max_bytes || (uint64_t)announced <= t->max_bytes))
			ipm_buf_grow(t->body, (size_t)announced);
	}
	t->received += n;
	ipm_buf_addn(t->body, data, n);
	return n;
}

/* The total time and low-speed limits, checked on every progress call
 * (libcurl makes one at least every second, also while nothing arrives).
 * The low-speed rule is curl's: fewer than low_speed_bytes a second over a
 * whole low_speed_ms window, from the connection on (connected but no
 * answer included). Returns non-zero to stop the transfer. */
static int check_limits(struct transfer *t, uint64_t now)
{
	const struct ipm_limits *l = t->limits;

	if (l->total_ms > 0 && now - t->start_ms > (uint64_t)l->total_ms) {
		t->stop = STOP_TOTAL;
		return 1;
	}
	if (l->low_speed_ms > 0 && l->low_speed_bytes > 0) {
		curl_off_t connected_us = 0;
		curl_easy_getinfo(t->curl, CURLINFO_CONNECT_TIME_T, &connected_us);
		/* until connected, the connect timeout is the one that applies */
		if (connected_us == 0)
			t->window_ms = now;
	}
	if (l->low_speed_ms > 0 && l->low_speed_bytes > 0 && now - t->window_ms >= (uint64_t)l->low_speed_ms) {
		uint64_t want = (uint64_t)l->low_speed_bytes * (uint64_t)l->low_speed_ms / 1000;
		if (t->moved - t->window_bytes < (want ? want : 1)) {
			t->stop = STOP_LOW_SPEED;
			return 1;
		}
		t->window_ms = now;
		t->window_bytes = t->moved;
	}
	return 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;
	/* A redirect starts a new response: only the last one's ETag counts. */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		free(t->etag);
		t->etag = NULL;
	} else if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
		const char *v = data + 5, *end = data + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		free(t->etag);
		t->etag = xstrndup(v, (size_t)(end - v));
	}
	return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct transfer *t = userdata;
	uint64_t now = ipm_fetch_now_ms();
	t->done = (uint64_t)dlnow;
	t->total = (uint64_t)dltotal;
	t->moved = (uint64_t)dlnow + (uint64_t)ulnow;
	/* Ctrl-C: the caller turns the aborted transfer into "interrupted" */
	if (ipm_interrupted() || check_limits(t, now))
		return 1;
	if (dlnow == 0 || (t->reported && now - t->last_ms < 100))
		return 0;
	/* done == total means "finished" to the handler: say that only once, at the end. */
	if (dltotal > 0 && dlnow >= dltotal)
		return 0;
	ipm_progress(t->label, (uint64_t)dlnow, (uint64_t)dltotal, "B");
	t->last_ms = now;
	t->reported = 1;
	return 0;
}

/* curl wants URLs; a plain absolute path is taken as a local file. */
static char *transfer_url(const struct ipm_fetch_ctx *ctx, const char *url)
{
	char *eff = ipm_fetch_effective_url(ctx, url);
	if (eff[0] == '/') {
		char *file_url = xasprintf("file://%s", eff);
		free(eff);
		return file_url;
	}
	return eff;
}

static double seconds(long ms)
{
	return (double)ms / 1000.0;
}

/* The error for a transfer that a limit stopped (t->stop), or that curl
 * stopped by its own clock (res); 1 when it was one of those. */
static int limit_error(int *rc, const struct transfer *t, CURLcode res, CURL *curl, const char *eff_url)
{
	const struct ipm_limits *l = t->limits;
	curl_off_t connect_us = 0;

	switch (t->stop) {
	case STOP_TOTAL:
		*rc = ipm_error_set(IPM_ENET, "'%s': the transfer took longer than %g s", eff_url, seconds(l->total_ms));
		ipm_limits_hint(l, "timeouts.total");
		return 1;
	case STOP_LOW_SPEED:
		*rc = ipm_error_set(IPM_ENET, "'%s': the transfer stalled: less than %ld bytes a second for %g s",
				    eff_url, l->low_speed_bytes, seconds(l->low_speed_ms));
		ipm_limits_hint(l, "timeouts.low_speed_time");
		return 1;
	case STOP_SIZE:
		if (t->size_key) {
			*rc = ipm_error_set(IPM_EVERIFY, "'%s': larger than the limit of %llu bytes", eff_url,
					    (unsigned long long)t->max_bytes);
			ipm_limits_hint(l, t->size_key);
		} else {
			*rc = ipm_error_set(IPM_EVERIFY, "'%s': larger than the %llu bytes its registry entry declares",
					    eff_url, (unsigned long long)t->max_bytes);
			ipm_error_hint("the file changed upstream or the entry's \"size\" is wrong; the download was deleted");
		}
		return 1;
	case STOP_NONE:
		break;
	}
	if (res == CURLE_FILESIZE_EXCEEDED) {   /* refused by its Content-Length */
		struct transfer announced = *t;
		announced.stop = STOP_SIZE;
		return limit_error(rc, &announced, CURLE_OK, curl, eff_url);
	}
	if (res == CURLE_OPERATION_TIMEDOUT) {
		curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
		if (connect_us == 0) {
			*rc = ipm_error_set(IPM_ENET, "'%s': cannot connect within %g s", eff_url, seconds(l->connect_ms));
			ipm_limits_hint(l, "timeouts.connect");
		} else {
			*rc = ipm_error_set(IPM_ENET, "'%s': the transfer took longer than %g s", eff_url,
					    seconds(l->total_ms));
			ipm_limits_hint(l, "timeouts.total");
		}
		return 1;
	}
	return 0;
}

static size_t on_read(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;

	if (t->upload_file)
		return fread(data, 1, n, t->upload_file);
	if (n > t->req->upload_len - t->uploaded)
		n = t->req->upload_len - t->uploaded;
	memcpy(data, (const char *)t->req->upload + t->uploaded, n);
	t->uploaded += n;
	return n;
}

/* The method, credentials and upload of an ipm_http_request. Credentials
 * go to libcurl only: never into a message. */
static void request_setup(CURL *curl, struct transfer *t)
{
	const struct ipm_http_request *req = t->req;
	const struct ipm_http_auth *auth = req->auth;

	if (req->method == IPM_HTTP_HEAD)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	if (req->method == IPM_HTTP_PUT) {
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(curl, CURLOPT_READDATA, t);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->upload_len);
		/* a PUT is not followed to another place */
		curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	}
	if (auth) {
		curl_easy_setopt(curl, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
		if (auth->netrc_file)
			curl_easy_setopt(curl, CURLOPT_NETRC_FILE, auth->netrc_file);
		if (auth->user)
			curl_easy_setopt(curl, CURLOPT_USERNAME, auth->user);
		if (auth->password)
			curl_easy_setopt(curl, CURLOPT_PASSWORD, auth->password);
	}
}

/* Runs one transfer of eff_url; url is the URL before the mirrors. */
static int perform(struct transfer *t, const char *url, const char *eff_url, struct curl_slist *headers, long *out_code)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *curl = curl_easy_init();
	const struct ipm_limits *l = t->limits;
	int rc = 0, limited = 0, tls = 0;

	if (!curl)
		return ipm_error_set(IPM_ERROR, "'%s': cannot initialise libcurl", eff_url);
	curl_easy_setopt(curl, CURLOPT_URL, eff_url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,ftp,ftps,file");
	/* A server must not be able to redirect us to a local file. */
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https,ftp,ftps");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	/* A stalled or endless server fails the transfer instead of hanging
	 * ipm and its lock: check_limits and on_write stop it, and libcurl's
	 * own clocks (a little later) are the second line. */
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, l->connect_ms);
	if (l->total_ms > 0)
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, l->total_ms + 2000L);
	if (l->low_speed_ms > 0 && l->low_speed_bytes > 0) {
		curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, l->low_speed_bytes);
		curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (l->low_speed_ms + 999) / 1000 + 2L);
	}
	if (t->max_bytes)
		curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_bytes);
	t->start_ms = t->window_ms = ipm_fetch_now_ms();
	t->curl = curl;
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "ipm/" IPM_VERSION);
	/* every encoding this libcurl decodes (gzip, zstd, ...): a registry
	 * index compresses about tenfold */
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
	ipm_tls_curl(curl, t->ctx);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	if (headers)
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (t->req)
		request_setup(curl, t);

	CURLcode res = curl_easy_perform(curl);
	long code = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	/* An error status first: its page may be what ran into a limit. */
	if (code >= 400) {
		rc = ipm_error_set(IPM_ENET, "'%s': HTTP %ld", eff_url, code);
	} else if (res != CURLE_OK && (limited = limit_error(&rc, t, res, curl, eff_url))) {
		/* the limit's message, and its hint */
	} else if (res == CURLE_HTTP_RETURNED_ERROR) {
		rc = ipm_error_set(IPM_ENET, "'%s': HTTP %ld", eff_url, code);
	} else if (res != CURLE_OK) {
		rc = ipm_error_set(IPM_ENET, "'%s': %s", eff_url, errbuf[0] ? errbuf : curl_easy_strerror(res));
		tls = ipm_tls_curl_hint(t->ctx, res);
	} else if (t->reported || t->done > 0) {
		uint64_t total = t->total > t->done ? t->total : t->done;
		ipm_progress(t->label, total, total, "B");
	}
	if (rc < 0 && !limited && !tls && strcmp(url, eff_url) != 0)
		ipm_error_hint("'%s' is rewritten by a mirror to '%s'", url, eff_url);
	if (out_code)
		*out_code = code;
	curl_easy_cleanup(curl);
	return rc;
}

void ipm_http_doc_release(struct ipm_http_doc *d)
{
	if (!d)
		return;
	free(d->body);
	free(d->etag);
	d->body = NULL;
	d->etag = NULL;
	d->len = 0;
	d->not_modified = 0;
}

int ipm_http_get(struct ipm_http_doc *out, const struct ipm_fetch_ctx *ctx, const char *url, const char *etag)
{
	struct ipm_buf body = IPM_BUF_INIT;
	const struct ipm_limits *limits = ipm_fetch_limits(ctx);
	struct transfer t = { .label = url, .body = &body, .limits = limits, .ctx = ctx,
			      .max_bytes = limits->index_bytes, .size_key = "limits.index_bytes" };
	struct curl_slist *headers = NULL;
	char *eff = NULL;
	long code = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ipm_fetch_init()) < 0)
		return rc;
	eff = transfer_url(ctx, url);
	if (etag && *etag) {
		char *line = xasprintf("If-None-Match: %s", etag);
		headers = curl_slist_append(headers, line);
		free(line);
	}
	if ((rc = perform(&t, url, eff, headers, &code)) < 0)
		goto done;
	if (code == 304) {
		out->not_modified = 1;
		out->etag = t.etag ? t.etag : xstrdup(etag);
		t.etag = NULL;
		goto done;
	}
	out->len = body.len;
	out->body = ipm_buf_detach(&body);
	out->etag = t.etag;
	t.etag = NULL;
done:
	ipm_buf_release(&body);
	curl_slist_free_all(headers);
	free(t.etag);
	free(eff);
	return rc;
}

int ipm_http_download(const struct ipm_fetch_ctx *ctx, const char *url, const char *path)
{
	return ipm_http_download_sized(ctx, url, path, 0);
}

int ipm_http_download_sized(const struct ipm_fetch_ctx *ctx, const char *url, const char *path,
			    unsigned long long size)
{
	const struct ipm_limits *limits = ipm_fetch_limits(ctx);
	struct transfer t = { .label = url, .limits = limits, .max_bytes = limits->download_bytes,
			      .size_key = "limits.download_bytes", .ctx = ctx };
	char *part = xasprintf("%s.part", path);
	char *eff = NULL;
	int rc;

	if ((rc = ipm_fetch_init()) < 0)
		goto done;
	eff = transfer_url(ctx, url);
	t.file = fopen(part, "wbe");
	if (!t.file) {
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", part, strerror(errno));
		goto done;
	}
	/* A declared size below the limit is the tighter bound: a file that
	 * outgrows it cannot match its sha256, so it is abandoned there. */
	if (size && (!t.max_bytes || size < t.max_bytes)) {
		t.max_bytes = size;
		t.size_key = NULL;
	}
	if ((rc = perform(&t, url, eff, NULL, NULL)) < 0)
		goto done;
	if (size && t.received != size) {
		rc = ipm_error_set(IPM_EVERIFY, "'%s': %llu bytes, but its registry entry declares %llu",
				   eff, (unsigned long long)t.received, size);
		ipm_error_hint("the file changed upstream or the entry's \"size\" is wrong; the download was deleted");
		goto done;
	}
	/* The file is trusted once renamed, so it must be complete on disk first. */
	if (fflush(t.file) != 0 || fsync(fileno(t.file)) != 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", part, strerror(errno));
		goto done;
	}
	int closed = fclose(t.file);
	t.file = NULL;
	if (closed != 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", part, strerror(errno));
		goto done;
	}
	if (rename(part, path) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s' to '%s': %s", part, path, strerror(errno));
		goto done;
	}
done:
	if (t.file)
		fclose(t.file);
	if (rc < 0)
		unlink(part);
	free(t.etag);
	free(part);
	free(eff);
	return rc;
}

int ipm_http_request(long *out_code, const struct ipm_fetch_ctx *ctx, const struct ipm_http_request *req)
{
	const struct ipm_limits *limits = ipm_fetch_limits(ctx);
	struct ipm_http_request put = *req;
	struct transfer t = { .label = req->url, .limits = limits, .body = req->body, .req = &put,
			      .max_bytes = req->max_bytes, .size_key = "limits.download_bytes", .ctx = ctx };
	char *part = req->path ? xasprintf("%s.part", req->path) : NULL;
	char *eff = NULL;
	long code = 0;
	int rc;

	if (out_code)
		*out_code = 0;
	if ((rc = ipm_fetch_init()) < 0)
		goto done;
	eff = transfer_url(ctx, req->url);
	if (req->method == IPM_HTTP_PUT && req->upload_path) {
		struct stat st;
		t.upload_file = fopen(req->upload_path, "rbe");
		if (!t.upload_file || fstat(fileno(t.upload_file), &st) < 0) {
			rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", req->upload_path, strerror(errno));
			goto done;
		}
		put.upload_len = (size_t)st.st_size;
	}
	if (part) {
		t.file = fopen(part, "wbe");
		if (!t.file) {
			rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", part, strerror(errno));
			goto done;
		}
	}
	rc = perform(&t, req->url, eff, NULL, &code);
	if (out_code)
		*out_code = code;
	if (rc < 0 && (code == 404 || code == 410 || (code == 0 && strncmp(eff, "file:", 5) == 0 &&
						       req->method != IPM_HTTP_PUT))) {
		rc = ipm_error_set(IPM_ENOTFOUND, "'%s': not found", eff);
		goto done;
	}
	if (rc < 0 || !part)
		goto done;
	if (fflush(t.file) != 0 || fsync(fileno(t.file)) != 0 || fclose(t.file) != 0) {
		t.file = NULL;
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", part, strerror(errno));
		goto done;
	}
	t.file = NULL;
	if (rename(part, req->path) < 0)
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s' to '%s': %s", part, req->path, strerror(errno));
done:
	if (t.file)
		fclose(t.file);
	if (t.upload_file)
		fclose(t.upload_file);
	if (part && rc < 0)
		unlink(part);
	free(t.etag);
	free(part);
	free(eff);
	return rc;
}
