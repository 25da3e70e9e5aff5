/* Git sources through libgit2: bare mirrors in the cache, pinned checkouts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <git2.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/interrupt.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/xalloc.h"
#include "fetch-internal.h"

/* Sets the error slot from libgit2's last error, naming subject. */
static int git_fail(int code, const char *subject)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "unknown libgit2 error";
	struct ipm_buf one = IPM_BUF_INIT;
	int rc;

	/* one line: mbedTLS lists each reason a certificate failed on its own */
	for (const char *p = msg; *p; p++) {
		if (*p == '\n')
			ipm_buf_add(&one, p[1] ? "; " : "");
		else
			ipm_buf_addch(&one, *p);
	}
	rc = ipm_error_set(code, "'%s': %s", subject, one.ptr ? one.ptr : "");
	ipm_buf_release(&one);
	return rc;
}

/* A readable mirror name: the URL's last component without ".git", reduced
 * to [A-Za-z0-9._-], plus 12 hex of the URL's sha256 so different URLs with
 * the same last component never share a mirror. */
char *ipm_git_mirror_dir(const struct ipm_fetch_ctx *ctx, const char *url)
{
	size_t len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (len >= 5 && strncmp(url + len - 5, "/.git", 5) == 0)
		len -= 5;
	if (len >= 4 && strncmp(url + len - 4, ".git", 4) == 0)
		len -= 4;
	size_t start = len;
	while (start > 0 && url[start - 1] != '/' && url[start - 1] != ':')
		start--;
	struct ipm_buf name = IPM_BUF_INIT;
	for (size_t i = start; i < len && name.len < 64; i++) {
		char c = url[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		ipm_buf_addch(&name, ok ? c : '_');
	}
	if (name.len == 0 || name.ptr[0] == '.')
		ipm_buf_add(&name, "repo");
	char hex[65];
	ipm_sha256_hex(hex, url, strlen(url));
	char *dir = xasprintf("%s/git/%s-%.12s", ctx->cache_dir, name.ptr, hex);
	ipm_buf_release(&name);
	return dir;
}

char *ipm_fetch_effective_url(const struct ipm_fetch_ctx *ctx, const char *url)
{
	if (!ctx)
		return xstrdup(url);
	return ipm_mirrors_apply(ctx->mirrors, ctx->nmirrors, url);
}

struct git_progress {
	const char *label;
	uint64_t last_ms;
	unsigned last_done;
	int started;
	int ended;
	uint64_t pack_bytes;       /* received so far, for the limits */
	uint64_t sideband_bytes;
};

static int on_transfer(const git_indexer_progress *stats, void *payload)
{
	struct git_progress *p = payload;
	p->pack_bytes = stats->received_bytes;
	ipm_git_limits_progress(p->pack_bytes + p->sideband_bytes);
	if (ipm_interrupted() || ipm_git_limits_check() < 0)
		return -1;
	if (stats->total_objects == 0 || p->ended)
		return 0;
	uint64_t now = ipm_fetch_now_ms();
	int end = stats->indexed_objects == stats->total_objects &&
		  stats->received_objects == stats->total_objects;
	if (!end && p->started && now - p->last_ms < 100)
		return 0;
	if (!end && stats->received_objects == stats->total_objects)
		return 0;  /* received but not indexed yet: not the end */
	ipm_progress_bytes(p->label, end ? stats->total_objects : stats->received_objects,
			   stats->total_objects, "objects", stats->received_bytes);
	p->last_ms = now;
	p->started = 1;
	p->ended = end;
	return 0;
}

/* The server's progress messages: only the clock is looked at. */
static int on_sideband(const char *text, int len, void *payload)
{
	struct git_progress *p = payload;

	(void)text;
	p->sideband_bytes += len > 0 ? (uint64_t)len : 0;
	ipm_git_limits_progress(p->pack_bytes + p->sideband_bytes);
	return ipm_interrupted() ? -1 : ipm_git_limits_check();
}

/* A killed fetch can leave lock files behind; the process lock makes every
 * one of them stale, and libgit2 would refuse to update the refs they guard. */
static void remove_stale_locks(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		size_t len = strlen(de->d_name);
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode) && strcmp(de->d_name, "objects") != 0)
				remove_stale_locks(path);
			else if (S_ISREG(st.st_mode) && len > 5 && !strcmp(de->d_name + len - 5, ".lock"))
				unlink(path);
		}
		free(path);
	}
	closedir(d);
}

/* Sets the error slot for a failed libgit2 network call: the limit that
 * stopped it when one did, else libgit2's own message. */
static int net_fail(const char *fetch_url)
{
	int rc;

	if (ipm_git_limits_explain(fetch_url))
		return IPM_ENET;
	rc = git_fail(IPM_ENET, fetch_url);
	ipm_tls_git_hint();
	return rc;
}

/* Fetches every branch and tag of fetch_url into repo and points the
 * mirror's HEAD where the remote's points; *out_head (may be NULL) gets the
 * remote HEAD's commit, NULL when the remote has none. shown_url names the
 * source in messages and progress. The network part is bounded by limits
 * (ipm_git_limits_begin). */
static int fetch_all(char **out_head, git_repository *repo, const char *fetch_url, const char *shown_url,
		     const struct ipm_limits *limits)
{
	git_remote *remote = NULL;
	git_buf default_branch = { 0 };
	char *head = NULL;
	int rc = 0;
	struct git_progress progress = { .label = shown_url };
	char *refspecs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
	git_strarray specs = { refspecs, 2 };

	git_remote_callbacks callbacks;
	git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
	callbacks.transfer_progress = on_transfer;
	callbacks.sideband_progress = on_sideband;
	callbacks.payload = &progress;
	ipm_git_limits_begin(limits);

	/* An anonymous remote that ignores git's own url.*.insteadOf: ipm's
	 * mirrors are the one rewriting, so the same entry fetches the same
	 * way for every user (it also avoids a leak in libgit2 1.5's regex
	 * config lookup). */
	git_remote_create_options create_opts;
	git_remote_create_options_init(&create_opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	create_opts.repository = repo;
	create_opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, fetch_url, &create_opts) < 0) {
		rc = git_fail(IPM_ENET, fetch_url);
		goto done;
	}
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, NULL, NULL) < 0) {
		rc = net_fail(fetch_url);
		goto done;
	}
	const git_remote_head **heads = NULL;
	size_t nheads = 0;
	if (git_remote_ls(&heads, &nheads, remote) < 0) {
		rc = net_fail(fetch_url);
		goto done;
	}
	for (size_t i = 0; i < nheads; i++) {
		if (!strcmp(heads[i]->name, "HEAD")) {
			head = xmalloc(GIT_OID_HEXSZ + 1);
			git_oid_tostr(head, GIT_OID_HEXSZ + 1, &heads[i]->oid);
		}
	}
	int have_default = head && git_remote_default_branch(&default_branch, remote) == 0;

	git_fetch_options fetch_opts;
	git_fetch_options_init(&fetch_opts, GIT_FETCH_OPTIONS_VERSION);
	fetch_opts.callbacks = callbacks;
	fetch_opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	if (git_remote_download(remote, &specs, &fetch_opts) < 0) {
		rc = net_fail(fetch_url);
		goto done;
	}
	ipm_git_limits_end();
	if (git_remote_update_tips(remote, &callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_ALL, "ipm: fetch") < 0) {
		rc = git_fail(IPM_ERROR, shown_url);
		goto done;
	}
	if (progress.started && !progress.ended) {
		const git_indexer_progress *stats = git_remote_stats(remote);
		ipm_progress_bytes(shown_url, stats->total_objects, stats->total_objects, "objects",
				   stats->received_bytes);
	}
	git_remote_disconnect(remote);

	/* HEAD follows the remote's, so ipm_git_mirror can report it later and
	 * tools opening the mirror see the default branch. */
	if (have_default) {
		git_reference *ref = NULL;
		if (git_reference_lookup(&ref, repo, default_branch.ptr) == 0) {
			git_reference_free(ref);
			if (git_repository_set_head(repo, default_branch.ptr) < 0) {
				rc = git_fail(IPM_ERROR, shown_url);
				goto done;
			}
		}
	} else if (head) {
		git_oid oid;
		if (git_oid_fromstr(&oid, head) == 0 && git_repository_set_head_detached(repo, &oid) < 0) {
			rc = git_fail(IPM_ERROR, shown_url);
			goto done;
		}
	}
	if (out_head) {
		*out_head = head;
		head = NULL;
	}
done:
	ipm_git_limits_end();
	free(head);
	git_buf_dispose(&default_branch);
	git_remote_free(remote);
	return rc;
}

/* Removes what killed clones left: <dir>.tmp-<pid> directories. */
static void remove_stale_clones(const char *dir)
{
	char *parent = xstrdup(dir);
	char *slash = strrchr(parent, '/');
	if (!slash) {
		free(parent);
		return;
	}
	*slash = '\0';
	char *prefix = xasprintf("%s.tmp-", slash + 1);
	DIR *d = opendir(parent);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char *path = xasprintf("%s/%s", parent, de->d_name);
		(void)ipm_rm_rf(path);
		free(path);
	}
	if (d)
		closedir(d);
	ipm_error_clear();
	free(prefix);
	free(parent);
}

/* Opens the mirror in dir; 0 with *out NULL when there is none (or only a
 * broken one, which is removed so that it gets cloned again). */
static int open_mirror(git_repository **out, const char *dir)
{
	*out = NULL;
	if (!ipm_path_exists(dir))
		return 0;
	if (git_repository_open_bare(out, dir) == 0)
		return 0;
	*out = NULL;
	ipm_log(IPM_LOG_WARN, "cache: removing broken git mirror '%s'", dir);
	return ipm_rm_rf(dir);
}

/* 1 for a repository on this machine: a file:// URL or a path. */
static int is_local(const char *url)
{
	return strncmp(url, "file://", 7) == 0 || (!strstr(url, "://") && ipm_is_dir(url));
}

/* Puts a hard link to (or, across file systems, a copy of) the file from
 * at to. */
static int link_or_copy(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out, rc = 0;

	if (link(from, to) == 0 || errno == EEXIST)
		return 0;
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return ipm_error_set(IPM_ERROR, "cannot read '%s': %s", from, strerror(errno));
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444)) < 0) {
		close(in);
		return ipm_error_set(IPM_ERROR, "cannot write '%s': %s", to, strerror(errno));
	}
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, buf, (size_t)n) != n)
			rc = ipm_error_set(IPM_ERROR, "cannot copy '%s': %s", from, strerror(errno));
	}
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", to, strerror(errno));
	return rc;
}

/* Links every object file (loose objects and packs) of the objects
 * directory from into to, keeping the layout; info/ is left out (its
 * alternates are the source's business). */
static int link_objects(const char *from, const char *to, int top)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return ipm_error_set(IPM_ERROR, "cannot read '%s': %s", from, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		char *src, *dst;
		struct stat st;

		if (de->d_name[0] == '.' || (top && strcmp(de->d_name, "info") == 0))
			continue;
		src = xasprintf("%s/%s", from, de->d_name);
		dst = xasprintf("%s/%s", to, de->d_name);
		if (lstat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (mkdir(dst, 0755) < 0 && errno != EEXIST)
				rc = ipm_error_set(IPM_ERROR, "cannot create directory '%s': %s", dst, strerror(errno));
			else
				rc = link_objects(src, dst, 0);
		} else if (S_ISREG(st.st_mode)) {
			rc = link_or_copy(src, dst);
		}
		free(src);
		free(dst);
	}
	closedir(d);
	return rc;
}

/*
 * Fills the new mirror repo (at tmp) with the objects of the repository on
 * this machine at url, as git clone does: their files hard-linked (copied
 * across file systems) rather than fetched. A fetch through libgit2's local
 * transport packs every object again, deltas and all, in one thread: 2.5-4x
 * the time of git clone. Objects never change, so sharing their files is
 * safe. fetch_all, run next, then sets the mirror's refs from the source
 * and transfers only what is still missing (nothing, usually). 0 also when
 * the source cannot be opened: the fetch then says why.
 */
static int link_local_objects(git_repository *repo, const char *url)
{
	git_repository *src = NULL;
	const char *path = strncmp(url, "file://", 7) == 0 ? url + 7 : url;
	char *from, *to;
	int rc;

	if (git_repository_open_ext(&src, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		git_error_clear();
		return 0;
	}
	/* a linked work tree's objects are in its main repository's */
	from = xasprintf("%sobjects", git_repository_commondir(src));
	to = xasprintf("%sobjects", git_repository_path(repo));
	rc = ipm_is_dir(from) ? link_objects(from, to, 1) : 0;
	free(from);
	free(to);
	git_repository_free(src);
	return rc;
}

/* Creates or updates the mirror of url at dir. A new mirror is built in
 * <dir>.tmp-<pid> and renamed into place, so a killed clone never leaves a
 * directory that looks like a mirror. */
static int update_mirror(char **out_head, const struct ipm_fetch_ctx *ctx, const char *url, const char *dir)
{
	git_repository *repo = NULL;
	char *fetch_url = ipm_fetch_effective_url(ctx, url);
	char *tmp = NULL;
	int rc;

	if ((rc = ipm_tls_git(ctx, fetch_url)) < 0 || (rc = open_mirror(&repo, dir)) < 0)
		goto done;
	if (repo) {
		remove_stale_locks(dir);
		rc = fetch_all(out_head, repo, fetch_url, url, ipm_fetch_limits(ctx));
		goto done;
	}

	char *git_dir = xasprintf("%s/git", ctx->cache_dir);
	rc = ipm_mkdir_p(git_dir, 0755);
	free(git_dir);
	if (rc < 0)
		goto done;
	remove_stale_clones(dir);
	tmp = xasprintf("%s.tmp-%ld", dir, (long)getpid());
	if (git_repository_init(&repo, tmp, 1) < 0) {
		rc = git_fail(IPM_ERROR, tmp);
		goto done;
	}
	if (is_local(fetch_url) && (rc = link_local_objects(repo, fetch_url)) < 0)
		goto done;
	if ((rc = fetch_all(out_head, repo, fetch_url, url, ipm_fetch_limits(ctx))) < 0)
		goto done;
	git_repository_free(repo);
	repo = NULL;
	if (rename(tmp, dir) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s' to '%s': %s", tmp, dir, strerror(errno));
		goto done;
	}
done:
	git_repository_free(repo);
	if (rc < 0 && tmp) {
		struct ipm_error_saved saved;
		ipm_error_save(&saved);
		(void)ipm_rm_rf(tmp);
		ipm_error_restore(&saved);
	}
	/* a limit's hint (the key to raise) says more than the mirror's */
	if (rc < 0 && fetch_url && strcmp(fetch_url, url) != 0 && !ipm_error_hint_text())
		ipm_error_hint("'%s' is rewritten by a mirror to '%s'", url, fetch_url);
	free(tmp);
	free(fetch_url);
	return rc;
}

/* 1 when dir's repository holds commit as a commit object. */
static int mirror_has_commit(const char *dir, const git_oid *oid)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	int found = 0;
	if (git_repository_open_bare(&repo, dir) < 0)
		return 0;
	found = git_commit_lookup(&commit, repo, oid) == 0;
	git_commit_free(commit);
	git_repository_free(repo);
	return found;
}

int ipm_git_ensure_commit(char **out_dir, const struct ipm_fetch_ctx *ctx, const char *url, const char *commit)
{
	char *dir = NULL;
	git_oid oid;
	int rc;

	if ((rc = ipm_fetch_init()) < 0)
		return rc;
	if (!commit || !ipm_is_hex(commit, GIT_OID_HEXSZ) || git_oid_fromstr(&oid, commit) < 0)
		return ipm_error_set(IPM_EINVAL, "commit '%s' of '%s' is not a full 40-hex commit id",
				     commit ? commit : "", url);
	dir = ipm_git_mirror_dir(ctx, url);
	if (ipm_is_dir(dir) && mirror_has_commit(dir, &oid))
		goto done;
	if ((rc = update_mirror(NULL, ctx, url, dir)) < 0)
		goto done;
	if (!mirror_has_commit(dir, &oid)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "commit '%s' not found in '%s'", commit, url);
		ipm_error_hint("check the commit id in the package's registry entry");
		goto done;
	}
done:
	if (rc == 0 && out_dir) {
		*out_dir = dir;
		dir = NULL;
	}
	free(dir);
	return rc;
}

int ipm_git_mirror(char **out_dir, char **out_head, const struct ipm_fetch_ctx *ctx, const char *url)
{
	char *dir = NULL;
	char *head = NULL;
	int rc;

	if ((rc = ipm_fetch_init()) < 0)
		return rc;
	dir = ipm_git_mirror_dir(ctx, url);
	if ((rc = update_mirror(&head, ctx, url, dir)) < 0)
		goto done;
	if (!head) {
		rc = ipm_error_set(IPM_ENOTFOUND, "'%s' has no commits", url);
		goto done;
	}
	if (out_dir) {
		*out_dir = dir;
		dir = NULL;
	}
	if (out_head) {
		*out_head = head;
		head = NULL;
	}
done:
	free(dir);
	free(head);
	return rc;
}

int ipm_git_head(char **out_commit, char **out_toplevel, const char *path)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_commit *commit = NULL;
	int rc = 0;

	if ((rc = ipm_fetch_init()) < 0)
		return rc;
	if (git_repository_open_ext(&repo, path, 0, NULL) < 0) {
		rc = git_fail(IPM_ENOTFOUND, path);
		goto done;
	}
	int err = git_repository_head(&head, repo);
	if (err == GIT_EUNBORNBRANCH || err == GIT_ENOTFOUND) {
		rc = ipm_error_set(IPM_ENOTFOUND, "repository at '%s' has no commits", path);
		goto done;
	}
	if (err < 0 || git_reference_peel((git_object **)&commit, head, GIT_OBJECT_COMMIT) < 0) {
		rc = git_fail(IPM_ERROR, path);
		goto done;
	}
	if (out_commit) {
		*out_commit = xmalloc(GIT_OID_HEXSZ + 1);
		git_oid_tostr(*out_commit, GIT_OID_HEXSZ + 1, git_commit_id(commit));
	}
	if (out_toplevel) {
		const char *top = git_repository_workdir(repo);
		if (!top)
			top = git_repository_path(repo);
		size_t len = strlen(top);
		while (len > 1 && top[len - 1] == '/')
			len--;
		*out_toplevel = xstrndup(top, len);
	}
done:
	git_commit_free(commit);
	git_reference_free(head);
	git_repository_free(repo);
	return rc;
}

struct verify_walk {
	git_repository *repo;
	const char *dest_dir;
	const char *commit;
	int rc;
};

/* Checks that every entry of the commit's tree is in dest_dir with the right
 * type (and, for files, size): a checkout that silently skipped or truncated
 * something must not be built. */
static int verify_entry(const char *root, const git_tree_entry *entry, void *payload)
{
	struct verify_walk *w = payload;
	git_filemode_t mode = git_tree_entry_filemode(entry);
	char *path = xasprintf("%s/%s%s", w->dest_dir, root, git_tree_entry_name(entry));
	struct stat st;
	int ok = lstat(path, &st) == 0;

	if (ok && mode == GIT_FILEMODE_TREE) {
		ok = S_ISDIR(st.st_mode);
	} else if (ok && mode == GIT_FILEMODE_LINK) {
		ok = S_ISLNK(st.st_mode);
	} else if (ok && (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE)) {
		git_odb *odb = NULL;
		size_t size = 0;
		git_object_t type;
		ok = S_ISREG(st.st_mode) && git_repository_odb(&odb, w->repo) == 0 &&
		     git_odb_read_header(&size, &type, odb, git_tree_entry_id(entry)) == 0 &&
		     (uint64_t)st.st_size == (uint64_t)size;
		git_odb_free(odb);
	}
	if (!ok && mode != GIT_FILEMODE_COMMIT) {
		w->rc = ipm_error_set(IPM_EVERIFY, "checkout of commit '%s' is wrong at '%s'", w->commit, path);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

int ipm_git_checkout(const char *git_dir, const char *commit, const char *dest_dir)
{
	git_repository *repo = NULL;
	git_commit *found = NULL;
	git_tree *tree = NULL;
	git_oid oid;
	int rc = 0;
	int created = 0;

	if ((rc = ipm_fetch_init()) < 0)
		return rc;
	if (!commit || !ipm_is_hex(commit, GIT_OID_HEXSZ) || git_oid_fromstr(&oid, commit) < 0)
		return ipm_error_set(IPM_EINVAL, "'%s' is not a full 40-hex commit id", commit ? commit : "");
	if (ipm_path_exists(dest_dir))
		return ipm_error_set(IPM_EEXISTS, "cannot check out into '%s': it already exists", dest_dir);
	if (git_repository_open_ext(&repo, git_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		rc = git_fail(IPM_ENOTFOUND, git_dir);
		goto done;
	}
	if (git_commit_lookup(&found, repo, &oid) < 0) {
		rc = ipm_error_set(IPM_ENOTFOUND, "commit '%s' not found in '%s'", commit, git_dir);
		goto done;
	}
	/* The lookup was by full id, so the commit is the one pinned. */
	if (git_oid_cmp(git_commit_id(found), &oid) != 0) {
		rc = ipm_error_set(IPM_EVERIFY, "commit '%s' resolved to a different object", commit);
		goto done;
	}
	if (git_commit_tree(&tree, found) < 0) {
		rc = git_fail(IPM_ERROR, git_dir);
		goto done;
	}
	if ((rc = ipm_mkdir_p(dest_dir, 0755)) < 0)
		goto done;
	created = 1;

	git_checkout_options opts;
	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_RECREATE_MISSING |
				 GIT_CHECKOUT_DONT_UPDATE_INDEX;
	/* The files exactly as committed: no CRLF or ident rewriting. */
	opts.disable_filters = 1;
	opts.target_directory = dest_dir;
	/* A tree with a submodule (gitlink) makes libgit2 look the submodule up,
	 * which a bare repository refuses ("cannot get submodules without a
	 * working tree"). Giving the in-memory repository dest_dir as its work
	 * tree lets that lookup run; nothing is written to the mirror (no
	 * gitlink file, no core.worktree) and submodules stay empty directories. */
	if (git_repository_set_workdir(repo, dest_dir, 0) < 0) {
		rc = git_fail(IPM_ERROR, dest_dir);
		goto done;
	}
	if (git_checkout_tree(repo, (const git_object *)tree, &opts) < 0) {
		rc = git_fail(IPM_ERROR, dest_dir);
		goto done;
	}

	struct verify_walk walk = { repo, dest_dir, commit, 0 };
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, verify_entry, &walk) < 0) {
		rc = walk.rc < 0 ? walk.rc : git_fail(IPM_EVERIFY, dest_dir);
		goto done;
	}
done:
	if (rc < 0 && created) {
		int keep = ipm_error_code();
		char *msg = xstrdup(ipm_error_message());
		(void)ipm_rm_rf(dest_dir);
		ipm_error_set(keep, "%s", msg);
		free(msg);
	}
	git_tree_free(tree);
	git_commit_free(found);
	git_repository_free(repo);
	return rc;
}

int ipm_git_read(const char *git_dir, const char *commit, const char *path, int dir,
		 ipm_git_file_fn fn, void *opaque)
{
	git_repository *repo = NULL;
	git_commit *found = NULL;
	git_tree *tree = NULL, *sub = NULL;
	git_tree_entry *te = NULL;
	git_blob *blob = NULL;
	git_oid oid;
	const char *name;
	char *text = NULL;
	int rc = 0;

	if ((rc = ipm_fetch_init()) < 0)
		return rc;
	if (git_repository_open_ext(&repo, git_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		/* IPM_ENOTFOUND is for path alone */
		rc = git_fail(IPM_ERROR, git_dir);
		goto done;
	}
	if (git_oid_fromstr(&oid, commit) < 0 || git_commit_lookup(&found, repo, &oid) < 0 ||
	    git_commit_tree(&tree, found) < 0) {
		rc = git_fail(IPM_ERROR, git_dir);
		goto done;
	}
	if (git_tree_entry_bypath(&te, tree, path) < 0 ||
	    git_tree_entry_type(te) != (dir ? GIT_OBJECT_TREE : GIT_OBJECT_BLOB)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "'%s' has no %s '%s' at commit '%s'", git_dir,
				   dir ? "directory" : "file", path, commit);
		goto done;
	}
	if (dir && git_tree_lookup(&sub, repo, git_tree_entry_id(te)) < 0) {
		rc = git_fail(IPM_ERROR, git_dir);
		goto done;
	}
	for (size_t i = 0; rc == 0 && i < (dir ? git_tree_entrycount(sub) : 1); i++) {
		const git_tree_entry *e = dir ? git_tree_entry_byindex(sub, i) : te;

		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
			continue;
		name = git_tree_entry_name(e);
		if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
			rc = git_fail(IPM_ERROR, git_dir);
			goto done;
		}
		/* blobs are not NUL-terminated: hand on a copy that is */
		text = xstrndup(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
		rc = fn(opaque, name, text, (size_t)git_blob_rawsize(blob));
		free(text);
		text = NULL;
		git_blob_free(blob);
		blob = NULL;
	}
done:
	git_blob_free(blob);
	git_tree_entry_free(te);
	git_tree_free(sub);
	git_tree_free(tree);
	git_commit_free(found);
	git_repository_free(repo);
	return rc;
}
