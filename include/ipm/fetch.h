#ifndef IPM_FETCH_H
#define IPM_FETCH_H
#include <stddef.h>
#include "entry.h"
#include "config.h"
/*
 * Getting sources: git with libgit2, HTTP with libcurl, archives with
 * libarchive, sha256 with libcrypto. The network is used only for what the
 * cache lacks. Every URL goes through the mirrors first.
 *
 * Cache layout ($IPM_CACHE):
 *   git/<key>/        bare mirror of a git URL (key: readable name + hash of the URL)
 *   downloads/<sha256>  verified archives, named by their checksum
 *   http/<key>        documents fetched with ETag (body + .etag)
 */

struct ipm_fetch_ctx {
	const char *cache_dir;
	const struct ipm_mirror *mirrors;
	size_t nmirrors;
	/* timeouts and sizes (config "timeouts" and "limits"); NULL: the defaults */
	const struct ipm_limits *limits;
	/* a PEM file of the CAs that https servers (libcurl and libgit2) must
	 * chain to, instead of the system's; NULL: the system's. ca_file_from
	 * names where it was set, for messages ("IPM_CA_FILE", or the config
	 * file's path) */
	const char *ca_file;
	const char *ca_file_from;
};

/*
 * Makes src available in the cache: for GIT/SELF, a bare mirror holding
 * src->commit (fetched only if missing; a commit absent after fetching is
 * IPM_ENOTFOUND "commit '<id>' not found in '<url>'"); for ARCHIVE, the file
 * downloaded and verified against src->sha256 (mismatch: IPM_EVERIFY naming
 * both sums; the bad download is deleted). Network failures are IPM_ENET with
 * curl's or libgit2's message and the URL. Reports progress through ipm_progress.
 */
int ipm_fetch_source(const struct ipm_fetch_ctx *ctx, const struct ipm_source *src);

/*
 * Writes the source tree into dest_dir (created; must not exist): a checkout
 * of the commit (verified to be that commit), or the extracted archive (a
 * single top-level directory is stripped). Archives with absolute paths, ".."
 * components or links pointing outside dest_dir are refused (IPM_EVERIFY).
 * src->subdir is not applied here: the caller builds in dest_dir/subdir.
 */
int ipm_fetch_unpack(const struct ipm_fetch_ctx *ctx, const struct ipm_source *src, const char *dest_dir);

/* Updates (or creates) the bare mirror of url with all its branches and tags;
 * *out_dir is the mirror's path, *out_head the commit of its HEAD. */
int ipm_git_mirror(char **out_dir, char **out_head, const struct ipm_fetch_ctx *ctx, const char *url);
/* Commit id of HEAD of the (non-bare or bare) repository containing path,
 * and the repository's top-level directory. */
int ipm_git_head(char **out_commit, char **out_toplevel, const char *path);
/* Checks out commit of the bare repository git_dir into dest_dir. */
int ipm_git_checkout(const char *git_dir, const char *commit, const char *dest_dir);
/*
 * Reads files of commit in the (bare or non-bare) repository git_dir without
 * a checkout: with dir 0, path names one file and fn gets it; with dir 1,
 * path names a directory and fn gets each file directly in it, in name
 * order. fn receives the file's name (last component), its contents
 * NUL-terminated and their length; a negative return stops the walk and is
 * returned. path absent or not of that kind: IPM_ENOTFOUND.
 */
typedef int (*ipm_git_file_fn)(void *opaque, const char *name, const char *text, size_t len);
int ipm_git_read(const char *git_dir, const char *commit, const char *path, int dir,
		 ipm_git_file_fn fn, void *opaque);

struct ipm_http_doc {
	char *body;
	size_t len;
	char *etag;
	int not_modified;   /* 1: the server answered 304 to our If-None-Match */
};
void ipm_http_doc_release(struct ipm_http_doc *d);
/*
 * Every transfer is bounded by ctx's limits (struct ipm_limits): it fails
 * with IPM_ENET when it cannot connect within timeouts.connect, moves fewer
 * than timeouts.low_speed_limit bytes a second for timeouts.low_speed_time
 * (a server that accepts and never answers included), or runs past
 * timeouts.total; and with IPM_EVERIFY when the body grows past its size
 * limit. The message names the URL and the limit; the hint, the config key
 * to raise.
 */
/* GETs url (after mirrors) into memory, at most limits.index_bytes (these
 * are registry documents). With etag non-NULL sends If-None-Match and, on
 * 304, sets not_modified and leaves body NULL. HTTP status >= 400 is
 * IPM_ENET "'<url>': HTTP <code>". */
int ipm_http_get(struct ipm_http_doc *out, const struct ipm_fetch_ctx *ctx, const char *url, const char *etag);
/* Downloads url to path (atomically, through path.part), at most
 * limits.download_bytes. */
int ipm_http_download(const struct ipm_fetch_ctx *ctx, const char *url, const char *path);
/* The same, for a file whose size is known (size > 0: an archive release's
 * "size"): stopped as soon as it grows past size, and refused when it ends
 * shorter (IPM_EVERIFY, naming both sizes). */
int ipm_http_download_sized(const struct ipm_fetch_ctx *ctx, const char *url, const char *path,
			    unsigned long long size);

/* Credentials of a binary cache (bincache.h): a netrc file (NULL: curl's
 * default, ~/.netrc, read when it exists) and a user name and password
 * (NULL: none). They go to libcurl only, never into a message. */
struct ipm_http_auth {
	const char *netrc_file;
	const char *user;
	const char *password;
};

enum ipm_http_method { IPM_HTTP_GET, IPM_HTTP_HEAD, IPM_HTTP_PUT };
struct ipm_buf;
/* One request of the binary caches: GET into body (at most max_bytes, 0:
 * no limit) or into the file path (atomically, through path.part), HEAD,
 * or PUT of upload (upload_len bytes) or of the file upload_path. */
struct ipm_http_request {
	enum ipm_http_method method;
	const char *url;
	const struct ipm_http_auth *auth;   /* NULL: no credentials */
	struct ipm_buf *body;
	const char *path;
	unsigned long long max_bytes;
	const void *upload;
	size_t upload_len;
	const char *upload_path;
};
/*
 * Runs req through the mirrors, bounded by ctx's limits like every
 * transfer. *out_code: the HTTP status (0 when none came). HTTP 404 or 410
 * (and a missing file:// file) is IPM_ENOTFOUND "'<url>': not found",
 * which callers take for a plain miss; other failures are IPM_ENET as for
 * ipm_http_get. A PUT is not redirected.
 */
int ipm_http_request(long *out_code, const struct ipm_fetch_ctx *ctx, const struct ipm_http_request *req);
/*
 * Several documents at once (a sparse registry's files), at most
 * max_parallel transfers in flight, multiplexed over HTTP/2 where the
 * server offers it. Each request is conditional on the validators given
 * (etag: If-None-Match, modified: If-Modified-Since) and bounded by
 * max_bytes (0: limits.index_bytes) and ctx's time limits. Every request
 * gets its own outcome (status, rc and error); the call returns 0 when all
 * succeeded, else the first failure in reqs' order, in the error slot.
 * Release the outcomes with ipm_http_reqs_release.
 */
struct ipm_http_req {
	const char *url;              /* before the mirrors */
	const char *etag;             /* validators to send, or NULL */
	const char *modified;
	unsigned long long max_bytes;
	const char *size_what;        /* max_bytes is the size this lists (for
				       * the message), or NULL: a config limit */
	/* the outcome */
	long status;                  /* 200, 304, ... (0: no answer) */
	int rc;                       /* 0, or the error code */
	char *error;                  /* the message when rc < 0 */
	int not_modified;             /* 304: body NULL */
	char *body;                   /* NUL-terminated */
	size_t len;
	char *out_etag;               /* the answer's validators, or NULL */
	char *out_modified;
	unsigned long long wire_bytes;
};
int ipm_http_get_many(const struct ipm_fetch_ctx *ctx, struct ipm_http_req *reqs, size_t n, unsigned max_parallel);
void ipm_http_reqs_release(struct ipm_http_req *reqs, size_t n);

/* Extracts archive into dest_dir with the safety rules above; strip: remove a
 * single top-level directory. Bounded by the default limits. */
int ipm_archive_extract(const char *archive, const char *dest_dir, int strip);
/* The same with limits (NULL: the defaults): more than limits.extract_bytes
 * in all, or more than limits.extract_ratio times the archive's size once
 * past IPM_EXTRACT_RATIO_FLOOR, is IPM_EVERIFY naming the key to raise. The
 * members' declared sizes and the decompressed stream are checked before
 * anything is written, what is written as it is written; after a failure
 * dest_dir may hold part of the tree, and the caller removes it (as
 * ipm_fetch_unpack does). */
int ipm_archive_extract_limited(const char *archive, const char *dest_dir, int strip,
				const struct ipm_limits *limits);

/* Initialises libgit2 and libcurl once per process; ipm_fetch_shutdown at
 * exit. (In the ipm program the fetch layer does this itself when it is
 * loaded, and these do nothing: see src/layer.h.) */
int ipm_fetch_init(void);
void ipm_fetch_shutdown(void);
#endif
