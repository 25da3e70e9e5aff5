#ifndef IPM_REPO_H
#define IPM_REPO_H
#include "fetch.h"
/*
 * The ways a user names a repository on `ipm install`, and the entry ipm
 * guesses for a repository that no registry knows.
 *
 * Specs:
 *   NAME                        a registry name (or a repository's tail)
 *   owner/repo                  a registry's "repo", else https://github.com/owner/repo
 *   https://HOST/owner/repo     any git URL (.git and a trailing slash optional)
 *   github:owner/repo           https://github.com/owner/repo
 *   PATH                        a local git repository (a work tree with .git,
 *                               or a bare repository): file://REALPATH
 * each optionally followed by @CONSTRAINT (registry) or @TAG / @COMMIT (guess).
 */

enum ipm_repo_spec_kind {
	IPM_REPO_SPEC_NAME,        /* no repository named: the registry alone */
	IPM_REPO_SPEC_OWNER_REPO,  /* "owner/repo" */
	IPM_REPO_SPEC_URL,         /* a URL or github:owner/repo */
	IPM_REPO_SPEC_PATH,        /* a local git repository */
};

struct ipm_repo_spec {
	enum ipm_repo_spec_kind kind;
	char *name;        /* the spec without "@..." */
	char *at;          /* what follows the last '@' of the last path part, or NULL */
	char *url;         /* the git URL to mirror (normalised); NULL for NAME */
	char *owner_repo;  /* "owner/repo" for OWNER_REPO and github.com URLs, else NULL */
	char *package;     /* a valid package name from the repository's last part, or NULL */
};

/* Classifies spec (it never fetches; PATH looks at the file system). An
 * empty name is a NAME (for the name rules to refuse). IPM_EINVAL for a URL
 * without a repository path. */
int ipm_repo_spec_parse(struct ipm_repo_spec *out, const char *spec);
void ipm_repo_spec_release(struct ipm_repo_spec *s);

/*
 * A URL in the form two URLs of one repository share: scheme and host lower
 * case, trailing slashes and one trailing ".git" removed
 * ("HTTPS://GitHub.com/a/b.git/" -> "https://github.com/a/b"). Caller frees.
 */
char *ipm_repo_url_normalize(const char *url);

/*
 * The version of a commit that no release tag names: "0.0.0-YYYYMMDD" of its
 * commit time (UTC), a pre-release, so any real release sorts above it.
 */
char *ipm_repo_date_version(long long commit_time);

/*
 * The newest release of tags (names): the one whose version, read as
 * ipm_scaffold_version_from_tag does, is highest, pre-releases ("-rc1")
 * left out. NULL when none holds a release version.
 */
const char *ipm_repo_newest_tag(const char *const *tags, size_t ntags);

struct ipm_repo_guess {
	char *json;       /* the entry, as `registry new` writes it */
	char *note;       /* "recipe guessed from CMakeLists.txt at v1.2 (commit 0123...)" */
};
void ipm_repo_guess_release(struct ipm_repo_guess *g);

/*
 * Guesses the entry of the repository at url for package name: mirrors it,
 * pins `at` (a tag, or a commit id: named by the release tag pointing at it,
 * else dated like a head) or else the newest release tag or else the default
 * branch's head (with ipm_repo_date_version), and guesses the recipe, the
 * description and the license from that commit's files (ipm_scaffold_make).
 * IPM_ENOTFOUND for an unknown tag or commit, IPM_EINVAL when no build
 * system is recognised (the message names the files found).
 */
int ipm_repo_guess(struct ipm_repo_guess *out, const struct ipm_fetch_ctx *ctx, const char *url,
		   const char *name, const char *at);
#endif
