/*
 * Many small documents at once (a sparse registry's shards and package
 * files): one libcurl multi handle, several transfers in flight over
 * reused connections, multiplexed on one HTTP/2 connection where the
 * server offers it, each conditional when its validators are known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/xalloc.h"
#include "fetch-internal.h"

#ifndef IPM_VERSION
#define IPM_VERSION "dev"
#endif

struct one {
	struct ipm_http_req *req;
	CURL *curl;
	struct curl_slist *headers;
	struct ipm_buf body;
	char *url;              /* after the mirrors */
	char errbuf[CURL_ERROR_SIZE];
	unsigned long long max_bytes;
	int too_big;
	int res;                /* its CURLcode, for the TLS hint */
};

static size_t many_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct one *o = userdata;
	size_t n = size * nmemb;

	if (o->max_bytes && o->body.len + n > o->max_bytes) {
		o->too_big = 1;
		return 0;
	}
	ipm_buf_addn(&o->body, data, n);
	return n;
}

/* The value of header line data if it is name's, trimmed; NULL otherwise. */
static char *header_value(const char *data, size_t n, const char *name)
{
	size_t len = strlen(name);
	const char *v, *end = data + n;

	if (n <= len || strncasecmp(data, name, len) || data[len] != ':')
		return NULL;
	v = data + len + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return xstrndup(v, (size_t)(end - v));
}

static size_t many_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct one *o = userdata;
	size_t n = size * nmemb;
	char *v;

	/* a redirect starts a new response: only the last one's validators count */
	if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
		free(o->req->out_etag);
		free(o->req->out_modified);
		o->req->out_etag = o->req->out_modified = NULL;
	} else if ((v = header_value(data, n, "etag"))) {
		free(o->req->out_etag);
		o->req->out_etag = v;
	} else if ((v = header_value(data, n, "last-modified"))) {
		free(o->req->out_modified);
		o->req->out_modified = v;
	}
	return n;
}

static void add_header(struct curl_slist **list, const char *name, const char *value)
{
	char *line = xasprintf("%s: %s", name, value);
	*list = curl_slist_append(*list, line);
	free(line);
}

static int setup(struct one *o, const struct ipm_fetch_ctx *ctx, const struct ipm_limits *l)
{
	struct ipm_http_req *req = o->req;
	char *eff = ipm_fetch_effective_url(ctx, req->url);

	if (eff[0] == '/') {
		o->url = xasprintf("file://%s", eff);
		free(eff);
	} else {
		o->url = eff;
	}
	if (!(o->curl = curl_easy_init()))
		return ipm_error_set(IPM_ERROR, "'%s': cannot initialise libcurl", o->url);
	o->max_bytes = req->max_bytes ? req->max_bytes : l->index_bytes;
	curl_easy_setopt(o->curl, CURLOPT_URL, o->url);
	curl_easy_setopt(o->curl, CURLOPT_PROTOCOLS_STR, "http,https,ftp,ftps,file");
	/* a server must not be able to redirect us to a local file */
	curl_easy_setopt(o->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https,ftp,ftps");
	curl_easy_setopt(o->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(o->curl, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(o->curl, CURLOPT_ERRORBUFFER, o->errbuf);
	curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(o->curl, CURLOPT_USERAGENT, "ipm/" IPM_VERSION);
	/* gzip, zstd, brotli: whatever this libcurl decodes */
	curl_easy_setopt(o->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(o->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	ipm_tls_curl(o->curl, ctx);
	/* wait for a connection that can multiplex rather than open another */
	curl_easy_setopt(o->curl, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, l->connect_ms);
	if (l->total_ms > 0)
		curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, l->total_ms);
	if (l->low_speed_ms > 0 && l->low_speed_bytes > 0) {
		curl_easy_setopt(o->curl, CURLOPT_LOW_SPEED_LIMIT, l->low_speed_bytes);
		curl_easy_setopt(o->curl, CURLOPT_LOW_SPEED_TIME, (l->low_speed_ms + 999) / 1000);
	}
	if (o->max_bytes)
		curl_easy_setopt(o->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
	curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, many_write);
	curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, o);
	curl_easy_setopt(o->curl, CURLOPT_HEADERFUNCTION, many_header);
	curl_easy_setopt(o->curl, CURLOPT_HEADERDATA, o);
	if (req->etag && *req->etag)
		add_header(&o->headers, "If-None-Match", req->etag);
	if (req->modified && *req->modified)
		add_header(&o->headers, "If-Modified-Since", req->modified);
	if (o->headers)
		curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, o->headers);
	curl_easy_setopt(o->curl, CURLOPT_PRIVATE, o);
	return 0;
}

/* Fills o->req from a finished transfer; its error text goes to req->error. */
static void finish(struct one *o, CURLcode res, const struct ipm_limits *l)
{
	struct ipm_http_req *req = o->req;
	curl_off_t wire = 0;
	long code = 0;

	curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(o->curl, CURLINFO_SIZE_DOWNLOAD_T, &wire);
	req->status = code;
	req->wire_bytes = (unsigned long long)wire;
	o->res = (int)res;
	/* An error status first: its page may be what ran into a limit. */
	if (code >= 400) {
		req->rc = IPM_ENET;
		req->error = xasprintf("'%s': HTTP %ld", o->url, code);
	} else if (o->too_big || res == CURLE_FILESIZE_EXCEEDED) {
		req->rc = IPM_EVERIFY;
		if (req->size_what && req->max_bytes)
			req->error = xasprintf("'%s': larger than the %llu bytes %s lists", o->url, o->max_bytes,
					       req->size_what);
		else
			req->error = xasprintf("'%s': larger than the limit of %llu bytes (limits.index_bytes)",
					       o->url, o->max_bytes);
	} else if (res == CURLE_OPERATION_TIMEDOUT) {
		req->rc = IPM_ENET;
		req->error = xasprintf("'%s': %s (limits: connect %g s, total %g s)", o->url,
				       o->errbuf[0] ? o->errbuf : curl_easy_strerror(res),
				       (double)l->connect_ms / 1000, (double)l->total_ms / 1000);
	} else if (res != CURLE_OK) {
		req->rc = IPM_ENET;
		req->error = xasprintf("'%s': %s", o->url, o->errbuf[0] ? o->errbuf : curl_easy_strerror(res));
	} else if (code == 304) {
		req->not_modified = 1;
	} else {
		req->len = o->body.len;
		req->body = ipm_buf_detach(&o->body);
	}
}

void ipm_http_reqs_release(struct ipm_http_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(reqs[i].body);
		free(reqs[i].out_etag);
		free(reqs[i].out_modified);
		free(reqs[i].error);
		reqs[i].body = reqs[i].out_etag = reqs[i].out_modified = reqs[i].error = NULL;
		reqs[i].len = 0;
	}
}

int ipm_http_get_many(const struct ipm_fetch_ctx *ctx, struct ipm_http_req *reqs, size_t n, unsigned max_parallel)
{
	const struct ipm_limits *limits = ipm_fetch_limits(ctx);
	struct one *all = NULL;
	CURLM *multi = NULL;
	CURLMsg *msg;
	int rc, running = 0, left;

	for (size_t i = 0; i < n; i++) {
		reqs[i].status = 0;
		reqs[i].rc = 0;
		reqs[i].not_modified = 0;
		reqs[i].body = reqs[i].out_etag = reqs[i].out_modified = reqs[i].error = NULL;
		reqs[i].len = 0;
		reqs[i].wire_bytes = 0;
	}
	if (n == 0)
		return 0;
	if ((rc = ipm_fetch_init()) < 0)
		return rc;
	if (!(multi = curl_multi_init()))
		return ipm_error_set(IPM_ERROR, "cannot initialise libcurl");
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)(max_parallel ? max_parallel : 1));
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)(max_parallel ? max_parallel : 1));
	all = xcalloc(n, sizeof(*all));
	for (size_t i = 0; i < n; i++) {
		all[i].req = &reqs[i];
		ipm_buf_init(&all[i].body);
		if ((rc = setup(&all[i], ctx, limits)) < 0)
			goto done;
		/* queued: libcurl starts each when a connection is free */
		curl_multi_add_handle(multi, all[i].curl);
	}
	do {
		CURLMcode mc = curl_multi_perform(multi, &running);
		if (mc == CURLM_OK && running)
			mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK) {
			rc = ipm_error_set(IPM_ENET, "libcurl: %s", curl_multi_strerror(mc));
			goto done;
		}
		while ((msg = curl_multi_info_read(multi, &left))) {
			struct one *o = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&o);
			finish(o, msg->data.result, limits);
		}
	} while (running);
	/* the first failure in the caller's order, so the message is stable */
	for (size_t i = 0; i < n; i++) {
		if (reqs[i].rc < 0) {
			rc = ipm_error_set(reqs[i].rc, "%s", reqs[i].error);
			if (reqs[i].rc == IPM_EVERIFY && reqs[i].size_what)
				ipm_error_hint("the file was changed after it was listed, or it is being published "
					       "right now (try again); nothing was imported");
			else if (ipm_tls_curl_hint(ctx, all[i].res))
				;   /* a certificate the setting would fix: said instead of the mirror */
			else if (strcmp(reqs[i].url, all[i].url))
				ipm_error_hint("'%s' is rewritten by a mirror to '%s'", reqs[i].url, all[i].url);
			goto done;
		}
	}
	rc = 0;
done:
	for (size_t i = 0; i < n && all; i++) {
		if (all[i].curl) {
			curl_multi_remove_handle(multi, all[i].curl);
			curl_easy_cleanup(all[i].curl);
		}
		curl_slist_free_all(all[i].headers);
		ipm_buf_release(&all[i].body);
		free(all[i].url);
	}
	free(all);
	curl_multi_cleanup(multi);
	return rc;
}
