/* Downloads through libcurl: http, https, ftp and file URLs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <curl/curl.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/xalloc.h"
#include "fetch-internal.h"

#ifndef IPM_VERSION
#define IPM_VERSION "dev"
#endif

struct transfer {
	const char *label;
	FILE *file;            /* download target, or */
	struct ipm_buf *body;  /* in-memory body */
	char *etag;
	uint64_t last_ms;
	uint64_t done;
	uint64_t total;
	int reported;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;
	if (t->file)
		return fwrite(data, 1, n, t->file);
	ipm_buf_addn(t->body, data, n);
	return n;
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

/* Runs one transfer of eff_url; url is the URL before the mirrors. */
static int perform(struct transfer *t, const char *url, const char *eff_url, struct curl_slist *headers, long *out_code)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *curl = curl_easy_init();
	int rc = 0;

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
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stalled server fails the transfer instead of hanging ipm. */
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "ipm/" IPM_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	if (headers)
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

	CURLcode res = curl_easy_perform(curl);
	long code = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	if (res == CURLE_HTTP_RETURNED_ERROR || (res == CURLE_OK && code >= 400)) {
		rc = ipm_error_set(IPM_ENET, "'%s': HTTP %ld", eff_url, code);
	} else if (res != CURLE_OK) {
		rc = ipm_error_set(IPM_ENET, "'%s': %s", eff_url, errbuf[0] ? errbuf : curl_easy_strerror(res));
	} else if (t->reported || t->done > 0) {
		uint64_t total = t->total > t->done ? t->total : t->done;
		ipm_progress(t->label, total, total, "B");
	}
	if (rc < 0 && strcmp(url, eff_url) != 0)
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
	struct transfer t = { .label = url, .body = &body };
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
	struct transfer t = { .label = url };
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
	if ((rc = perform(&t, url, eff, NULL, NULL)) < 0)
		goto done;
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
