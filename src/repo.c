/*
 * Repository specs (owner/repo, URLs, github:, local paths) and the entry
 * guessed for a repository that no registry knows.
 */
#include <ctype.h>
#include <git2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/repo.h"
#include "ipm/scaffold.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

char *ipm_repo_url_normalize(const char *url)
{
	struct ipm_buf b = IPM_BUF_INIT;
	const char *sep = strstr(url, "://");
	const char *host, *path;
	size_t len;

	if (!sep) {
		ipm_buf_add(&b, url);
	} else {
		for (const char *p = url; p < sep; p++)
			ipm_buf_addch(&b, (char)tolower((unsigned char)*p));
		ipm_buf_add(&b, "://");
		host = sep + 3;
		path = host + strcspn(host, "/");
		/* user info keeps its case; the host after it does not */
		for (const char *p = host, *at = memchr(host, '@', (size_t)(path - host)); p < path; p++)
			ipm_buf_addch(&b, at && p <= at ? *p : (char)tolower((unsigned char)*p));
		ipm_buf_add(&b, path);
	}
	len = b.len;
	while (len > 0 && b.ptr[len - 1] == '/')
		len--;
	if (len > 4 && strncmp(b.ptr + len - 4, ".git", 4) == 0)
		len -= 4;
	while (len > 0 && b.ptr[len - 1] == '/')
		len--;
	b.ptr[len] = '\0';
	b.len = len;
	return ipm_buf_detach(&b);
}

void ipm_repo_spec_release(struct ipm_repo_spec *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->at);
	free(s->url);
	free(s->owner_repo);
	free(s->package);
	memset(s, 0, sizeof(*s));
}

static int is_git_repository(const char *dir)
{
	char *dot_git = xasprintf("%s/.git", dir);
	char *head = xasprintf("%s/HEAD", dir);
	char *objects = xasprintf("%s/objects", dir);
	int yes = ipm_path_exists(dot_git) || (ipm_path_exists(head) && ipm_is_dir(objects));

	free(dot_git);
	free(head);
	free(objects);
	return yes;
}

/* "owner/repo" when path (after the host) is exactly two parts. */
static char *two_parts(const char *path)
{
	const char *slash;

	while (*path == '/')
		path++;
	slash = strchr(path, '/');
	if (!slash || slash == path || !slash[1] || strchr(slash + 1, '/'))
		return NULL;
	return xstrdup(path);
}

/* A package name from a repository's last part: "cJSON.git" -> "cjson". */
static char *package_of(const char *url)
{
	char *norm = ipm_repo_url_normalize(url);
	const char *last = strrchr(norm, '/');
	struct ipm_buf b = IPM_BUF_INIT;
	char *name;

	for (const char *p = last ? last + 1 : norm; *p; p++) {
		char c = (char)tolower((unsigned char)*p);
		if (!(isalnum((unsigned char)c) || strchr("._+-", c)))
			c = '-';
		if (b.len == 0 && !isalnum((unsigned char)c))
			continue;
		ipm_buf_addch(&b, c);
	}
	free(norm);
	if (b.len > 64)
		b.ptr[b.len = 64] = '\0';
	name = ipm_buf_detach(&b);
	if (!*name) {
		free(name);
		return NULL;
	}
	return name;
}

int ipm_repo_spec_parse(struct ipm_repo_spec *out, const char *spec)
{
	const char *at = strrchr(spec, '@'), *slash = strrchr(spec, '/');
	const char *sep;
	char real[PATH_MAX];

	memset(out, 0, sizeof(*out));
	if (at && slash && at < slash)
		at = NULL;
	out->name = at ? xstrndup(spec, (size_t)(at - spec)) : xstrdup(spec);
	out->at = at && at[1] ? xstrdup(at + 1) : NULL;
	if (!*out->name)
		return 0;   /* a NAME, and the name's own rules word the error */

	if (strncmp(out->name, "github:", 7) == 0) {
		out->kind = IPM_REPO_SPEC_URL;
		out->owner_repo = two_parts(out->name + 7);
		if (!out->owner_repo)
			goto bad_url;
		out->url = xasprintf("https://github.com/%s", out->owner_repo);
	} else if ((sep = strstr(out->name, "://")) != NULL) {
		const char *path;
		int has_path;
		char *norm = ipm_repo_url_normalize(out->name);
		size_t len = strlen(out->name);
		out->kind = IPM_REPO_SPEC_URL;
		/* fetched as written (a mirror rule may map "x.git" and not "x"),
		 * compared normalised */
		while (len > 0 && out->name[len - 1] == '/')
			len--;
		out->url = xstrndup(out->name, len);
		sep = strstr(norm, "://");
		path = strchr(sep + 3, '/');
		has_path = path && path[1];
		if (has_path && strncmp(norm, "https://github.com/", 19) == 0)
			out->owner_repo = two_parts(path);
		free(norm);
		if (!has_path)
			goto bad_url;
	} else if ((out->name[0] == '/' || out->name[0] == '.' || strchr(out->name, '/')) &&
		   ipm_is_dir(out->name) && is_git_repository(out->name)) {
		out->kind = IPM_REPO_SPEC_PATH;
		if (!realpath(out->name, real)) {
			ipm_repo_spec_release(out);
			return ipm_error_set(IPM_EINVAL, "cannot resolve the path '%s'", spec);
		}
		out->url = xasprintf("file://%s", real);
	} else if ((out->owner_repo = two_parts(out->name)) != NULL) {
		out->kind = IPM_REPO_SPEC_OWNER_REPO;
		out->url = xasprintf("https://github.com/%s", out->owner_repo);
	} else {
		out->kind = IPM_REPO_SPEC_NAME;
		return 0;
	}
	out->package = package_of(out->url);
	return 0;
bad_url:
	ipm_error_set(IPM_EINVAL, "'%s' does not name a repository", spec);
	ipm_error_hint("write https://HOST/OWNER/REPO, github:OWNER/REPO or OWNER/REPO");
	ipm_repo_spec_release(out);
	return IPM_EINVAL;
}

char *ipm_repo_date_version(long long commit_time)
{
	time_t t = (time_t)commit_time;
	struct tm tm;
	char day[16];

	if (!gmtime_r(&t, &tm) || strftime(day, sizeof(day), "%Y%m%d", &tm) == 0)
		return xstrdup("0.0.0-19700101");
	return xasprintf("0.0.0-%s", day);
}

const char *ipm_repo_newest_tag(const char *const *tags, size_t ntags)
{
	const char *best = NULL;
	char *best_version = NULL;

	for (size_t i = 0; i < ntags; i++) {
		char *v = ipm_scaffold_version_from_tag(tags[i]);
		if (v && !strchr(v, '-') && (!best_version || ipm_version_cmp(v, best_version) > 0)) {
			free(best_version);
			best_version = v;
			best = tags[i];
			continue;
		}
		free(v);
	}
	free(best_version);
	return best;
}

/* ---- guessing ---- */

void ipm_repo_guess_release(struct ipm_repo_guess *g)
{
	if (!g)
		return;
	free(g->json);
	free(g->note);
	memset(g, 0, sizeof(*g));
}

static int git_fail(int code, const char *subject)
{
	const git_error *e = git_error_last();
	return ipm_error_set(code, "'%s': %s", subject, e && e->message ? e->message : "unknown libgit2 error");
}

struct tag_names {
	char **names;
	size_t n, alloc;
	git_repository *repo;
	const git_oid *commit;   /* only the tags pointing at it; NULL: all */
};

static int on_tag(const char *refname, git_oid *oid, void *payload)
{
	struct tag_names *t = payload;

	if (t->commit) {
		git_object *obj = NULL, *peeled = NULL;
		int same = git_object_lookup(&obj, t->repo, oid, GIT_OBJECT_ANY) == 0 &&
			   git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) == 0 &&
			   git_oid_equal(git_object_id(peeled), t->commit);
		git_object_free(peeled);
		git_object_free(obj);
		if (!same)
			return 0;
	}
	XGROW(t->names, t->alloc, t->n + 1);
	t->names[t->n++] = xstrdup(strncmp(refname, "refs/tags/", 10) == 0 ? refname + 10 : refname);
	return 0;
}

static int is_hex_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 7 || n > 40)
		return 0;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return 0;
	return 1;
}

int ipm_repo_guess(struct ipm_repo_guess *out, const struct ipm_fetch_ctx *ctx, const char *url,
		   const char *name, const char *at)
{
	struct ipm_scaffold_opts opts = { 0 };
	struct ipm_scaffold made = { 0 };
	struct tag_names tags = { 0 };
	char *dir = NULL, *head = NULL, *refname = NULL, *version = NULL, *path = NULL;
	const char *tag = NULL;
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_object *commit = NULL;
	git_oid oid;
	char commit_hex[GIT_OID_HEXSZ + 1] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ipm_git_mirror(&dir, &head, ctx, url)) < 0) {
		if (!ipm_error_hint_text())
			ipm_error_hint("check the name: it must be a git repository that 'git clone' can read");
		goto done;
	}
	if (git_repository_open_bare(&repo, dir) < 0) {
		rc = git_fail(IPM_ERROR, dir);
		goto done;
	}
	tags.repo = repo;
	if (at) {
		refname = xasprintf("refs/tags/%s", at);
		if (git_reference_lookup(&ref, repo, refname) == 0) {
			tag = at;
			if (git_reference_peel(&commit, ref, GIT_OBJECT_COMMIT) < 0) {
				rc = ipm_error_set(IPM_EINVAL, "tag '%s' of '%s' does not point at a commit", at, url);
				goto done;
			}
		} else if (!is_hex_id(at) || git_revparse_single(&commit, repo, at) < 0 ||
			   git_object_type(commit) != GIT_OBJECT_COMMIT) {
			rc = ipm_error_set(IPM_ENOTFOUND, "'%s' is neither a tag nor a commit of '%s'", at, url);
			ipm_error_hint("leave out '@%s' to take the newest release tag", at);
			goto done;
		} else {
			/* a commit: the release tag pointing at it names it */
			tags.commit = git_object_id(commit);
			if (git_tag_foreach(repo, on_tag, &tags) < 0 && git_error_last()) {
				rc = git_fail(IPM_ERROR, url);
				goto done;
			}
			tag = ipm_repo_newest_tag((const char *const *)tags.names, tags.n);
			if (!tag) {
				/* no release there: the commit itself, dated */
				git_oid_tostr(commit_hex, sizeof(commit_hex), git_object_id(commit));
				version = ipm_repo_date_version(
					(long long)git_commit_time((git_commit *)commit));
			}
		}
	} else {
		if (git_tag_foreach(repo, on_tag, &tags) < 0 && git_error_last()) {
			rc = git_fail(IPM_ERROR, url);
			goto done;
		}
		tag = ipm_repo_newest_tag((const char *const *)tags.names, tags.n);
		if (tag) {
			git_reference_free(ref);
			ref = NULL;
			refname = xasprintf("refs/tags/%s", tag);
			if (git_reference_lookup(&ref, repo, refname) < 0 ||
			    git_reference_peel(&commit, ref, GIT_OBJECT_COMMIT) < 0) {
				rc = git_fail(IPM_ERROR, url);
				goto done;
			}
		} else {
			if (git_oid_fromstr(&oid, head) < 0 ||
			    git_object_lookup(&commit, repo, &oid, GIT_OBJECT_COMMIT) < 0) {
				rc = git_fail(IPM_ERROR, url);
				goto done;
			}
			version = ipm_repo_date_version((long long)git_commit_time((git_commit *)commit));
		}
	}

	path = xasprintf("the guessed entry of '%s'", url);
	opts.name = name;
	opts.path = path;
	opts.git = url;
	opts.tag = tag;
	opts.commit = *commit_hex ? commit_hex : NULL;
	opts.version = version;
	/* description and license: what the README and LICENSE say */
	rc = ipm_scaffold_make(&made, ctx, &opts);
	if (rc == 0 && strstr(made.missing, "description")) {
		/* every entry has one: say there was none to read */
		ipm_scaffold_release(&made);
		opts.description = "guessed by ipm (the repository's README gave no description)";
		rc = ipm_scaffold_make(&made, ctx, &opts);
	}
	if (rc < 0)
		goto done;
	if (!*made.methods) {
		if (*made.found)
			rc = ipm_error_set(IPM_EINVAL, "no build system recognised in '%s' at %s: found %s", url,
					   tag ? tag : "its default branch", made.found);
		else
			rc = ipm_error_set(IPM_EINVAL,
					   "no build system recognised in '%s' at %s: none of CMakeLists.txt, "
					   "meson.build, configure, configure.ac, Makefile at its top level",
					   url, tag ? tag : "its default branch");
		ipm_error_hint("nothing was installed; write an entry by hand with 'ipm registry new %s --git %s'",
			       name, url);
		goto done;
	}
	out->json = made.json;
	made.json = NULL;
	out->note = xasprintf("recipe guessed from %s at %s (commit %s)", made.found,
			      made.tag ? made.tag : made.version, made.commit);
done:
	ipm_scaffold_release(&made);
	xfree_strv(tags.names, tags.n);
	git_object_free(commit);
	git_reference_free(ref);
	git_repository_free(repo);
	free(dir);
	free(head);
	free(refname);
	free(version);
	free(path);
	return rc;
}
