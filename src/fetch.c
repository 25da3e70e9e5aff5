/* The fetch layer's entry points: sources into the cache, then out of it. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <git2.h>

#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/xalloc.h"
#include "fetch-internal.h"

static int initialised;

int ipm_fetch_init(void)
{
	if (initialised)
		return 0;
	if (git_libgit2_init() < 0)
		return ipm_error_set(IPM_ERROR, "cannot initialise libgit2");
	/* ipm clones the checkout that holds its registry, which may belong to
	 * another user (root installing from a user's clone); libgit2 never
	 * runs hooks or config-defined commands, so ownership is no threat. */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	/* git transfers get the time limits that downloads have */
	if (ipm_git_stream_register() < 0) {
		git_libgit2_shutdown();
		return IPM_ERROR;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		git_libgit2_shutdown();
		return ipm_error_set(IPM_ERROR, "cannot initialise libcurl");
	}
	initialised = 1;
	return 0;
}

void ipm_fetch_shutdown(void)
{
	if (!initialised)
		return;
	curl_global_cleanup();
	git_libgit2_shutdown();
	initialised = 0;
}

const struct ipm_limits *ipm_fetch_limits(const struct ipm_fetch_ctx *ctx)
{
	return ctx && ctx->limits ? ctx->limits : &ipm_limits_default;
}

uint64_t ipm_fetch_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int is_git(const struct ipm_source *src)
{
	return src->kind == IPM_SOURCE_GIT || src->kind == IPM_SOURCE_SELF;
}

/* Removes <sha256>.tmp-* files that an interrupted download of the same
 * file left (the process lock means none of them is in use). */
static void remove_stale_downloads(const char *dir, const char *sha256)
{
	char *prefix = xasprintf("%s.tmp-", sha256);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		unlink(path);
		free(path);
	}
	if (d)
		closedir(d);
	free(prefix);
}

/*
 * $IPM_CACHE/downloads/<sha256> holding url's content. A cached file is
 * re-hashed before use (a damaged cache is downloaded again); a download is
 * verified before it takes that name, so the name is always the content's.
 * size (0: unknown) is the archive's declared length: a download that
 * outgrows it is abandoned there.
 */
static int cached_download(char **out_path, const struct ipm_fetch_ctx *ctx, const char *url, const char *sha256,
			   unsigned long long size)
{
	char want[65], got[65];
	char *dir = NULL, *path = NULL, *tmp = NULL;
	int rc = 0;

	if (!url || !*url)
		return ipm_error_set(IPM_EINVAL, "archive source has no url");
	if (!sha256 || !ipm_is_hex(sha256, 64))
		return ipm_error_set(IPM_EINVAL, "archive '%s' has no valid sha256 (64 hex digits)", url);
	for (int i = 0; i < 64; i++)
		want[i] = (char)tolower((unsigned char)sha256[i]);
	want[64] = '\0';

	dir = xasprintf("%s/downloads", ctx->cache_dir);
	path = xasprintf("%s/%s", dir, want);
	if (ipm_path_exists(path)) {
		if (ipm_sha256_file(got, path) == 0 && strcmp(got, want) == 0)
			goto done;
		ipm_log(IPM_LOG_WARN, "cache: '%s' is damaged; downloading it again", path);
		unlink(path);
		ipm_error_clear();
	}
	if ((rc = ipm_mkdir_p(dir, 0755)) < 0)
		goto done;
	remove_stale_downloads(dir, want);
	tmp = xasprintf("%s/%s.tmp-%ld", dir, want, (long)getpid());
	if ((rc = ipm_http_download_sized(ctx, url, tmp, size)) < 0)
		goto done;
	if ((rc = ipm_sha256_file(got, tmp)) < 0)
		goto done;
	if (strcmp(got, want) != 0) {
		rc = ipm_error_set(IPM_EVERIFY, "'%s': sha256 mismatch: expected %s, got %s", url, want, got);
		ipm_error_hint("the file changed upstream or the registry entry is wrong; the download was deleted");
		goto done;
	}
	if (rename(tmp, path) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto done;
	}
done:
	if (rc < 0 && tmp)
		unlink(tmp);
	if (rc == 0 && out_path) {
		*out_path = path;
		path = NULL;
	}
	free(tmp);
	free(path);
	free(dir);
	return rc;
}

static int check_source(const struct ipm_source *src)
{
	if (is_git(src) && (!src->git || !*src->git))
		return ipm_error_set(IPM_EINVAL, "git source has no url");
	if (is_git(src) && (!src->commit || !*src->commit))
		return ipm_error_set(IPM_EINVAL, "git source '%s' has no commit", src->git);
	return 0;
}

int ipm_fetch_source(const struct ipm_fetch_ctx *ctx, const struct ipm_source *src)
{
	int rc;
	if ((rc = ipm_fetch_init()) < 0 || (rc = check_source(src)) < 0)
		return rc;
	if (is_git(src))
		return ipm_git_ensure_commit(NULL, ctx, src->git, src->commit);
	return cached_download(NULL, ctx, src->url, src->sha256, src->size);
}

int ipm_fetch_unpack(const struct ipm_fetch_ctx *ctx, const struct ipm_source *src, const char *dest_dir)
{
	char *cached = NULL;
	int rc;

	if ((rc = ipm_fetch_init()) < 0 || (rc = check_source(src)) < 0)
		return rc;
	if (ipm_path_exists(dest_dir))
		return ipm_error_set(IPM_EEXISTS, "cannot unpack into '%s': it already exists", dest_dir);
	if (is_git(src)) {
		/* Usually already fetched by ipm_fetch_source: then no network. */
		if ((rc = ipm_git_ensure_commit(&cached, ctx, src->git, src->commit)) < 0)
			goto done;
		rc = ipm_git_checkout(cached, src->commit, dest_dir);
		goto done;
	}
	if ((rc = cached_download(&cached, ctx, src->url, src->sha256, src->size)) < 0)
		goto done;
	if ((rc = ipm_archive_extract_limited(cached, dest_dir, 1, ipm_fetch_limits(ctx))) < 0) {
		ipm_rm_rf_quietly(dest_dir);
		goto done;
	}
done:
	free(cached);
	return rc;
}
