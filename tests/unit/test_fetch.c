/* The fetch layer: mirrors, archive safety, sha256, git mirrors and
 * checkouts, downloads into the cache (file:// and the test HTTP server). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "ipm/config.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/xalloc.h"
#include "test_tar.h"

static char *tmp_root;  /* a fresh directory for the whole run */
static int tmp_counter;

/* A new empty directory under tmp_root. */
static char *fresh_dir(const char *what)
{
	char *dir = xasprintf("%s/%s-%d", tmp_root, what, ++tmp_counter);
	assert_int_equal(ipm_mkdir_p(dir, 0755), 0);
	return dir;
}

static char *read_text(const char *path)
{
	char *text = NULL;
	if (ipm_file_read(&text, NULL, path) < 0)
		return NULL;
	return text;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	va_list ap;
	char *cmd = NULL;
	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	int rc = system(cmd);
	free(cmd);
	return rc;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---------- mirrors ---------- */

static void free_mirrors(struct ipm_mirror *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].from);
		free(list[i].to);
	}
	free(list);
}

static void test_mirrors_longest_prefix(void **state)
{
	struct ipm_mirror *list = NULL;
	size_t n = 0;
	assert_int_equal(ipm_mirrors_parse(&list, &n,
		"https://github.com/=file:///srv/all/  https://github.com/acme/=file:///srv/acme/\t"), 0);
	assert_int_equal(n, 2);
	char *url = ipm_mirrors_apply(list, n, "https://github.com/acme/tool.git");
	assert_string_equal(url, "file:///srv/acme/tool.git");
	free(url);
	url = ipm_mirrors_apply(list, n, "https://github.com/other/x");
	assert_string_equal(url, "file:///srv/all/other/x");
	free(url);
	url = ipm_mirrors_apply(list, n, "https://gitlab.com/acme/tool");
	assert_string_equal(url, "https://gitlab.com/acme/tool");
	free(url);
	/* Appending keeps what was there; order does not matter for the winner. */
	assert_int_equal(ipm_mirrors_parse(&list, &n, "https://github.com/acme/tool=/local/tool"), 0);
	assert_int_equal(n, 3);
	url = ipm_mirrors_apply(list, n, "https://github.com/acme/tool.git");
	assert_string_equal(url, "/local/tool.git");
	free(url);
	free_mirrors(list, n);
}

static void test_mirrors_no_match_and_empty(void **state)
{
	struct ipm_mirror *list = NULL;
	size_t n = 0;
	assert_int_equal(ipm_mirrors_parse(&list, &n, "   "), 0);
	assert_int_equal(n, 0);
	char *url = ipm_mirrors_apply(list, n, "https://example.org/a.tar.gz");
	assert_string_equal(url, "https://example.org/a.tar.gz");
	free(url);
	assert_null(ipm_mirrors_apply(list, n, NULL));
	free_mirrors(list, n);
}

static void test_mirrors_malformed(void **state)
{
	struct ipm_mirror *list = NULL;
	size_t n = 0;
	assert_int_equal(ipm_mirrors_parse(&list, &n, "a=b nonsense c=d"), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "'nonsense'"));
	assert_int_equal(n, 0);  /* nothing appended from a bad spec */
	assert_int_equal(ipm_mirrors_parse(&list, &n, "=file:///x"), IPM_EINVAL);
	assert_int_equal(n, 0);
	free_mirrors(list, n);
}

/* ---------- sha256 ---------- */

static void test_sha256_known(void **state)
{
	char hex[65];
	ipm_sha256_hex(hex, "abc", 3);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	char *dir = fresh_dir("sha");
	char *path = xasprintf("%s/abc", dir);
	write_text(path, "abc");
	assert_int_equal(ipm_sha256_file(hex, path), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	free(path);
	free(dir);
}

/* ---------- archives ---------- */

/* A tar archive (gzipped when gzip) of the members, in a fresh directory. */
static char *make_archive(const struct tu_member *m, size_t n, int gzip)
{
	char *dir = fresh_dir("archive");
	char *path = xasprintf("%s/a.tar%s", dir, gzip ? ".gz" : "");
	tu_write_tar(path, m, n, gzip);
	free(dir);
	return path;
}

/* Extracting must fail with IPM_EVERIFY naming `bad`, writing nothing. */
static void expect_refused(const struct tu_member *m, size_t n, const char *bad)
{
	char *archive = make_archive(m, n, 0);
	char *dest = fresh_dir("dest");
	assert_int_equal(ipm_archive_extract(archive, dest, 1), IPM_EVERIFY);
	char *quoted = xasprintf("'%s'", bad);
	if (!strstr(ipm_error_message(), quoted))
		fail_msg("message '%s' does not name %s", ipm_error_message(), quoted);
	assert_int_equal(count_entries(dest), 0);
	free(quoted);
	free(dest);
	free(archive);
}

static void test_archive_absolute_path(void **state)
{
	const struct tu_member m[] = { { "top/ok", 'f', "fine\n" }, { "/tmp/ipm-evil", 'f', "evil\n" } };
	expect_refused(m, 2, "/tmp/ipm-evil");
}

static void test_archive_dotdot(void **state)
{
	const struct tu_member m[] = { { "top/ok", 'f', "fine\n" }, { "../x", 'f', "evil\n" } };
	expect_refused(m, 2, "../x");
	const struct tu_member m2[] = { { "top/a/../../y", 'f', "evil\n" } };
	expect_refused(m2, 1, "top/a/../../y");
}

static void test_archive_symlink_absolute(void **state)
{
	const struct tu_member m[] = { { "top/ok", 'f', "fine\n" }, { "top/etc", 'l', "/etc" } };
	expect_refused(m, 2, "top/etc");
}

static void test_archive_symlink_climbs_out(void **state)
{
	/* top/ is stripped, so "top/a/link" -> "../../x" leaves the destination. */
	const struct tu_member m[] = { { "top/a/f", 'f', "fine\n" }, { "top/a/link", 'l', "../../x" } };
	expect_refused(m, 2, "top/a/link");
	/* Without a wrapper directory the same depth is still outside. */
	const struct tu_member m2[] = { { "a/f", 'f', "x" }, { "b", 'f', "y" }, { "a/link", 'l', "../../etc/passwd" } };
	expect_refused(m2, 3, "a/link");
}

static void test_archive_symlink_chain(void **state)
{
	/* Each link alone stays inside; following x climbs out through b/c. */
	const struct tu_member m[] = {
		{ "top/b/c", 'l', ".." }, { "top/a", 'l', "b/c" }, { "top/x", 'l', "a/.." },
	};
	expect_refused(m, 3, "top/x");
}

static void test_archive_hardlink_out(void **state)
{
	const struct tu_member m[] = { { "top/f", 'f', "x" }, { "top/h", 'h', "../../etc/passwd" } };
	expect_refused(m, 2, "../../etc/passwd");
	const struct tu_member m2[] = { { "top/f", 'f', "x" }, { "top/h", 'h', "/etc/passwd" } };
	expect_refused(m2, 2, "/etc/passwd");
}

static void test_archive_device(void **state)
{
	const struct tu_member m[] = { { "top/f", 'f', "x" }, { "top/dev", 'c', NULL } };
	expect_refused(m, 2, "top/dev");
}

static void test_archive_good_strips_top(void **state)
{
	const struct tu_member m[] = {
		{ "pkg-1.0/", 'd', NULL },
		{ "pkg-1.0/README", 'f', "read me\n" },
		{ "pkg-1.0/src/a.c", 'f', "int a;\n" },
		{ "pkg-1.0/link", 'l', "README" },
		{ "pkg-1.0/src/up", 'l', "../README" },
		{ "pkg-1.0/hard", 'h', "pkg-1.0/README" },
	};
	char *archive = make_archive(m, 6, 1);
	char *dest = xasprintf("%s/out-%d", tmp_root, ++tmp_counter);
	assert_int_equal(ipm_archive_extract(archive, dest, 1), 0);
	char *path = xasprintf("%s/README", dest);
	char *text = read_text(path);
	assert_string_equal(text, "read me\n");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07000, 0);  /* no set-id bits */
	free(text);
	free(path);
	path = xasprintf("%s/src/a.c", dest);
	text = read_text(path);
	assert_string_equal(text, "int a;\n");
	free(text);
	free(path);
	path = xasprintf("%s/link", dest);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	free(path);
	path = xasprintf("%s/src/up", dest);
	text = read_text(path);
	assert_string_equal(text, "read me\n");
	free(text);
	free(path);
	path = xasprintf("%s/hard", dest);
	text = read_text(path);
	assert_string_equal(text, "read me\n");
	free(text);
	free(path);
	path = xasprintf("%s/pkg-1.0", dest);
	assert_false(ipm_path_exists(path));
	free(path);
	free(dest);
	free(archive);
}

static void test_archive_two_tops_not_stripped(void **state)
{
	const struct tu_member m[] = { { "a/x", 'f', "1" }, { "b", 'f', "2" } };
	char *archive = make_archive(m, 2, 0);
	char *dest = fresh_dir("dest");
	assert_int_equal(ipm_archive_extract(archive, dest, 1), 0);
	char *path = xasprintf("%s/a/x", dest);
	assert_true(ipm_path_exists(path));
	free(path);
	path = xasprintf("%s/b", dest);
	assert_true(ipm_path_exists(path));
	free(path);
	free(dest);
	free(archive);
}

static void test_archive_not_an_archive(void **state)
{
	char *dir = fresh_dir("notar");
	char *path = xasprintf("%s/junk.tar.gz", dir);
	write_text(path, "this is not an archive at all, just some text\n");
	char *dest = xasprintf("%s/out", dir);
	assert_true(ipm_archive_extract(path, dest, 1) < 0);
	assert_non_null(strstr(ipm_error_message(), path));
	free(dest);
	free(path);
	free(dir);
}

/* ---------- git ---------- */

struct progress_seen {
	int calls;
	int ended;
	char unit[16];
	uint64_t bytes;     /* the most bytes reported (git: received so far) */
};
static struct progress_seen seen;

static void on_progress(void *ctx, const char *label, uint64_t done, uint64_t total, const char *unit,
			uint64_t bytes)
{
	seen.calls++;
	if (bytes > seen.bytes)
		seen.bytes = bytes;
	if (total && done == total)
		seen.ended++;
	snprintf(seen.unit, sizeof(seen.unit), "%s", unit);
}

/* A repository with one commit holding "hello.txt"; returns its commit. */
static char *make_repo(const char *dir, const char *content)
{
	char *commit = NULL;
	assert_int_equal(run("git -c init.defaultBranch=main init -q '%s' && cd '%s' && "
			     "printf '%s' > hello.txt && mkdir -p sub && printf 'x' > sub/x && "
			     "ln -s hello.txt link && git add -A && "
			     "git -c user.name=t -c user.email=t@example.org commit -qm one && "
			     "git tag v1", dir, dir, content), 0);
	char *top = NULL;
	assert_int_equal(ipm_git_head(&commit, &top, dir), 0);
	assert_int_equal(strlen(commit), 40);
	char *real = realpath(dir, NULL);
	assert_string_equal(top, real);
	free(real);
	free(top);
	return commit;
}

static void test_git_fetch_checkout_offline(void **state)
{
	char *work = fresh_dir("git");
	char *origin = xasprintf("%s/origin", work);
	char *cache = xasprintf("%s/cache", work);
	char *commit = make_repo(origin, "hello\n");
	struct ipm_fetch_ctx ctx = { .cache_dir = cache };
	struct ipm_source src = { .kind = IPM_SOURCE_GIT, .git = origin, .commit = commit };

	/* A first mirror of a repository on this machine links its objects,
	 * as git clone does: no pack is made, nothing is transferred. */
	memset(&seen, 0, sizeof(seen));
	ipm_progress_set_handler(on_progress, NULL);
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);
	assert_int_equal(seen.calls, 0);
	/* a later commit comes through the local transport, with progress */
	assert_int_equal(run("cd '%s' && printf more > more.txt && git add -A && "
			     "git -c user.name=t -c user.email=t@example.org commit -qm two", origin), 0);
	char *commit2 = NULL;
	assert_int_equal(ipm_git_head(&commit2, NULL, origin), 0);
	struct ipm_source src_later = { .kind = IPM_SOURCE_GIT, .git = origin, .commit = commit2 };
	assert_int_equal(ipm_fetch_source(&ctx, &src_later), 0);
	ipm_progress_set_handler(NULL, NULL);
	assert_true(seen.calls >= 1);
	assert_string_equal(seen.unit, "objects");
	assert_int_equal(seen.ended, 1);
	assert_true(seen.bytes > 0);   /* the pack's bytes come with the objects */
	free(commit2);

	char *dest = xasprintf("%s/src1", work);
	assert_int_equal(ipm_fetch_unpack(&ctx, &src, dest), 0);
	char *path = xasprintf("%s/hello.txt", dest);
	char *text = read_text(path);
	assert_string_equal(text, "hello\n");
	free(text);
	free(path);
	path = xasprintf("%s/.git", dest);
	assert_false(ipm_path_exists(path));  /* a source tree, not a clone */
	free(path);

	/* Unpacking onto an existing directory is refused. */
	assert_int_equal(ipm_fetch_unpack(&ctx, &src, dest), IPM_EEXISTS);

	/* The mirror is enough from now on: the origin can go away. */
	assert_int_equal(ipm_rm_rf(origin), 0);
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);
	char *dest2 = xasprintf("%s/src2", work);
	assert_int_equal(ipm_fetch_unpack(&ctx, &src, dest2), 0);
	path = xasprintf("%s/sub/x", dest2);
	text = read_text(path);
	assert_string_equal(text, "x");
	free(text);
	free(path);
	/* ...but updating it now is a network error naming the URL. */
	assert_int_equal(ipm_git_mirror(NULL, NULL, &ctx, origin), IPM_ENET);
	assert_non_null(strstr(ipm_error_message(), origin));

	free(dest2);
	free(dest);
	free(commit);
	free(cache);
	free(origin);
	free(work);
}

/* ipm_git_read: what it hands the callback, in order, and its errors. */
struct read_seen {
	char names[256];
	char texts[256];
	int stop_at;   /* > 0: the callback fails on its stop_at-th call */
	int calls;
};

static int on_file(void *opaque, const char *name, const char *text, size_t len)
{
	struct read_seen *r = opaque;

	assert_int_equal(strlen(text), len);  /* NUL-terminated, no more */
	if (++r->calls == r->stop_at)
		return ipm_error_set(IPM_EINVAL, "stop at '%s'", name);
	strncat(r->names, name, sizeof(r->names) - strlen(r->names) - 2);
	strcat(r->names, " ");
	strncat(r->texts, text, sizeof(r->texts) - strlen(r->texts) - 1);
	return 0;
}

static void test_git_read(void **state)
{
	char *work = fresh_dir("gitread");
	char *origin = xasprintf("%s/origin", work);
	char *commit = make_repo(origin, "hello\n");
	struct read_seen r;

	/* one file */
	memset(&r, 0, sizeof(r));
	assert_int_equal(ipm_git_read(origin, commit, "hello.txt", 0, on_file, &r), 0);
	assert_string_equal(r.names, "hello.txt ");
	assert_string_equal(r.texts, "hello\n");
	/* a directory: its files, not its subdirectories */
	assert_int_equal(run("cd '%s' && mkdir -p d/e && printf b > d/b && printf a > d/a && "
			     "printf z > d/e/z && git add -A && "
			     "git -c user.name=t -c user.email=t@example.org commit -qm two", origin), 0);
	char *two = NULL, *top = NULL;
	assert_int_equal(ipm_git_head(&two, &top, origin), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(ipm_git_read(origin, two, "d", 1, on_file, &r), 0);
	assert_string_equal(r.names, "a b ");
	assert_string_equal(r.texts, "ab");
	/* the commit, not the work tree, is read */
	assert_int_equal(ipm_git_read(origin, commit, "d", 1, on_file, &r), IPM_ENOTFOUND);
	/* absent, or not of the kind asked for */
	assert_int_equal(ipm_git_read(origin, two, "nothing", 0, on_file, &r), IPM_ENOTFOUND);
	assert_int_equal(ipm_git_read(origin, two, "d", 0, on_file, &r), IPM_ENOTFOUND);
	assert_int_equal(ipm_git_read(origin, two, "hello.txt", 1, on_file, &r), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_message(), "hello.txt"));
	/* the callback's error stops the walk and is returned */
	memset(&r, 0, sizeof(r));
	r.stop_at = 1;
	assert_int_equal(ipm_git_read(origin, two, "d", 1, on_file, &r), IPM_EINVAL);
	assert_int_equal(r.calls, 1);
	assert_string_equal(ipm_error_message(), "stop at 'a'");
	/* no repository there: an error, but not "not found" (that is path's) */
	assert_int_equal(ipm_git_read(work, two, "d", 1, on_file, &r), IPM_ERROR);

	free(top);
	free(two);
	free(commit);
	free(origin);
	free(work);
}

static void test_git_missing_commit(void **state)
{
	char *work = fresh_dir("git");
	char *origin = xasprintf("%s/origin", work);
	char *cache = xasprintf("%s/cache", work);
	char *commit = make_repo(origin, "hi\n");
	struct ipm_fetch_ctx ctx = { .cache_dir = cache };
	const char *bogus = "0123456789abcdef0123456789abcdef01234567";
	struct ipm_source src = { .kind = IPM_SOURCE_GIT, .git = origin, .commit = (char *)bogus };

	assert_int_equal(ipm_fetch_source(&ctx, &src), IPM_ENOTFOUND);
	char *want = xasprintf("commit '%s' not found in '%s'", bogus, origin);
	assert_string_equal(ipm_error_message(), want);
	free(want);
	char *dest = xasprintf("%s/src", work);
	assert_int_equal(ipm_fetch_unpack(&ctx, &src, dest), IPM_ENOTFOUND);
	assert_false(ipm_path_exists(dest));
	assert_int_equal(ipm_git_checkout("/nonexistent", commit, dest), IPM_ENOTFOUND);

	/* A short id is not a pin. */
	src.commit = "0123456";
	assert_int_equal(ipm_fetch_source(&ctx, &src), IPM_EINVAL);

	free(dest);
	free(commit);
	free(cache);
	free(origin);
	free(work);
}

static void test_git_new_commit_fetched(void **state)
{
	char *work = fresh_dir("git");
	char *origin = xasprintf("%s/origin", work);
	char *cache = xasprintf("%s/cache", work);
	char *first = make_repo(origin, "one\n");
	struct ipm_fetch_ctx ctx = { .cache_dir = cache };
	char *url = xasprintf("file://%s", origin);
	struct ipm_source src = { .kind = IPM_SOURCE_SELF, .git = url, .commit = first };
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);

	/* A fetch killed while updating refs leaves a lock file behind. */
	char *mirror_dir = NULL;
	assert_int_equal(ipm_git_mirror(&mirror_dir, NULL, &ctx, url), 0);
	char *lock = xasprintf("%s/refs/heads/main.lock", mirror_dir);
	write_text(lock, "stale");

	assert_int_equal(run("cd '%s' && printf 'two\\n' > hello.txt && "
			     "git -c user.name=t -c user.email=t@example.org commit -qam two", origin), 0);
	char *second = NULL;
	assert_int_equal(ipm_git_head(&second, NULL, origin), 0);
	assert_string_not_equal(first, second);
	src.commit = second;
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);
	char *dest = xasprintf("%s/src", work);
	assert_int_equal(ipm_fetch_unpack(&ctx, &src, dest), 0);
	char *path = xasprintf("%s/hello.txt", dest);
	char *text = read_text(path);
	assert_string_equal(text, "two\n");
	free(text);
	free(path);

	char *dir = NULL, *head = NULL;
	assert_int_equal(ipm_git_mirror(&dir, &head, &ctx, url), 0);
	assert_string_equal(head, second);
	assert_non_null(strstr(dir, "/git/origin-"));
	char *mirror_head = NULL;
	assert_int_equal(ipm_git_head(&mirror_head, NULL, dir), 0);
	assert_string_equal(mirror_head, second);
	free(mirror_head);
	free(head);
	free(dir);

	assert_false(ipm_path_exists(lock));
	free(lock);
	free(mirror_dir);
	free(dest);
	free(second);
	free(first);
	free(url);
	free(cache);
	free(origin);
	free(work);
}

static void test_git_mirror_rewrite_and_broken_cache(void **state)
{
	char *work = fresh_dir("git");
	char *origin = xasprintf("%s/origin", work);
	char *cache = xasprintf("%s/cache", work);
	char *commit = make_repo(origin, "m\n");
	struct ipm_mirror mirror = { .from = "https://git.example.invalid/", .to = NULL };
	mirror.to = xasprintf("file://%s/", work);
	struct ipm_fetch_ctx ctx = { .cache_dir = cache, .mirrors = &mirror, .nmirrors = 1 };
	struct ipm_source src = { .kind = IPM_SOURCE_GIT, .git = "https://git.example.invalid/origin",
				  .commit = commit };

	/* What a killed clone may leave: a half directory under the final name
	 * (from an older ipm) and a temporary one. */
	char *dir = NULL;
	assert_int_equal(ipm_git_mirror(&dir, NULL, &ctx, src.git), 0);
	assert_int_equal(ipm_rm_rf(dir), 0);
	assert_int_equal(ipm_mkdir_p(dir, 0755), 0);
	char *junk = xasprintf("%s/HEAD", dir);
	write_text(junk, "garbage");
	char *stale = xasprintf("%s.tmp-999999", dir);
	assert_int_equal(ipm_mkdir_p(stale, 0755), 0);
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);
	assert_false(ipm_path_exists(stale));
	char *dest = xasprintf("%s/src", work);
	assert_int_equal(ipm_fetch_unpack(&ctx, &src, dest), 0);

	/* An unreachable URL without a mirror is IPM_ENET naming it. */
	struct ipm_fetch_ctx bare = { .cache_dir = cache };
	src.git = "/nonexistent/repo";
	assert_int_equal(ipm_fetch_source(&bare, &src), IPM_ENET);
	assert_non_null(strstr(ipm_error_message(), "/nonexistent/repo"));

	free(dest);
	free(stale);
	free(junk);
	free(dir);
	free(mirror.to);
	free(commit);
	free(cache);
	free(origin);
	free(work);
}

/* ---------- downloads ---------- */

static void test_download_file_url(void **state)
{
	char *work = fresh_dir("dl");
	char *file = xasprintf("%s/pkg.tar.gz", work);
	const char *content = "not really an archive but bytes are bytes\n";
	write_text(file, content);
	char sha[65];
	ipm_sha256_hex(sha, content, strlen(content));
	char *cache = xasprintf("%s/cache", work);
	char *url = xasprintf("file://%s", file);
	struct ipm_fetch_ctx ctx = { .cache_dir = cache };
	struct ipm_source src = { .kind = IPM_SOURCE_ARCHIVE, .url = url, .sha256 = sha };

	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);
	char *cached = xasprintf("%s/downloads/%s", cache, sha);
	char *text = read_text(cached);
	assert_string_equal(text, content);
	free(text);

	/* Offline reinstall: served from the cache. */
	assert_int_equal(unlink(file), 0);
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);

	/* A damaged cache entry is noticed and fetched again (here: fails). */
	write_text(cached, "damaged");
	assert_int_equal(ipm_fetch_source(&ctx, &src), IPM_ENET);
	assert_non_null(strstr(ipm_error_message(), url));
	assert_false(ipm_path_exists(cached));

	free(cached);
	free(url);
	free(cache);
	free(file);
	free(work);
}

static void test_download_wrong_sha(void **state)
{
	char *work = fresh_dir("dl");
	char *file = xasprintf("%s/pkg.tar.gz", work);
	write_text(file, "content\n");
	char actual[65];
	ipm_sha256_hex(actual, "content\n", 8);
	const char *wrong = "00000000000000000000000000000000000000000000000000000000000000aa";
	char *cache = xasprintf("%s/cache", work);
	struct ipm_fetch_ctx ctx = { .cache_dir = cache };
	struct ipm_source src = { .kind = IPM_SOURCE_ARCHIVE, .url = file, .sha256 = (char *)wrong };

	/* Left by an interrupted download of the same file: cleaned, never trusted. */
	assert_int_equal(ipm_mkdir_p(cache, 0755), 0);
	char *downloads = xasprintf("%s/downloads", cache);
	assert_int_equal(ipm_mkdir_p(downloads, 0755), 0);
	char *stale = xasprintf("%s/%s.tmp-1.part", downloads, wrong);
	write_text(stale, "half");
	free(stale);

	assert_int_equal(ipm_fetch_source(&ctx, &src), IPM_EVERIFY);
	assert_non_null(strstr(ipm_error_message(), wrong));
	assert_non_null(strstr(ipm_error_message(), actual));
	assert_int_equal(count_entries(downloads), 0);  /* the bad file is gone */

	/* Uppercase hex is the same checksum. */
	char upper[65];
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(actual[i] >= 'a' && actual[i] <= 'f' ? actual[i] - 32 : actual[i]);
	src.sha256 = upper;
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);
	assert_int_equal(count_entries(downloads), 1);

	free(downloads);
	free(cache);
	free(file);
	free(work);
}

static void test_archive_unpack_from_cache(void **state)
{
	const struct tu_member m[] = { { "tool-2.0/main.c", 'f', "int main(void){return 0;}\n" } };
	char *archive = make_archive(m, 1, 1);
	char sha[65];
	assert_int_equal(ipm_sha256_file(sha, archive), 0);
	char *work = fresh_dir("unpack");
	char *cache = xasprintf("%s/cache", work);
	struct ipm_fetch_ctx ctx = { .cache_dir = cache };
	struct ipm_source src = { .kind = IPM_SOURCE_ARCHIVE, .url = archive, .sha256 = sha };
	char *dest = xasprintf("%s/src", work);
	assert_int_equal(ipm_fetch_unpack(&ctx, &src, dest), 0);
	char *path = xasprintf("%s/main.c", dest);
	assert_true(ipm_path_exists(path));
	free(path);
	free(dest);
	free(cache);
	free(work);
	free(archive);
}

/* ---------- HTTP, against tests/tools/httpd ---------- */

static pid_t httpd_pid;
static int httpd_port;
static char *httpd_root, *httpd_log;

static int start_httpd(void)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char *bin = xasprintf("%s/tools/httpd", build);
	if (access(bin, X_OK) != 0) {
		free(bin);
		return -1;
	}
	httpd_root = xasprintf("%s/www", tmp_root);
	ipm_mkdir_p(httpd_root, 0755);
	char *portfile = xasprintf("%s/httpd.port", tmp_root);
	httpd_log = xasprintf("%s/httpd.log", tmp_root);
	httpd_pid = fork();
	if (httpd_pid == 0) {
		execl(bin, bin, httpd_root, portfile, httpd_log, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !ipm_path_exists(portfile); i++)
		usleep(25000);
	char *text = read_text(portfile);
	httpd_port = text ? atoi(text) : 0;
	free(text);
	free(portfile);
	free(bin);
	return httpd_port > 0 ? 0 : -1;
}

static void stop_httpd(void)
{
	if (httpd_pid > 0) {
		int status = 0;
		kill(httpd_pid, SIGTERM);
		waitpid(httpd_pid, &status, 0);
		httpd_pid = 0;
	}
	free(httpd_root);
	free(httpd_log);
}

static int count_log(const char *line)
{
	char *text = read_text(httpd_log);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, line)); p += strlen(line))
		n++;
	free(text);
	return n;
}

static void test_http_etag(void **state)
{
	if (httpd_port <= 0)
		skip();
	char *file = xasprintf("%s/index.json", httpd_root);
	write_text(file, "{\"packages\": []}\n");
	char *url = xasprintf("http://127.0.0.1:%d/index.json", httpd_port);
	struct ipm_http_doc doc;
	assert_int_equal(ipm_http_get(&doc, NULL, url, NULL), 0);
	assert_false(doc.not_modified);
	assert_int_equal(doc.len, strlen("{\"packages\": []}\n"));
	assert_string_equal(doc.body, "{\"packages\": []}\n");
	assert_non_null(doc.etag);
	char *etag = xstrdup(doc.etag);
	ipm_http_doc_release(&doc);

	assert_int_equal(ipm_http_get(&doc, NULL, url, etag), 0);
	assert_true(doc.not_modified);
	assert_null(doc.body);
	assert_string_equal(doc.etag, etag);
	ipm_http_doc_release(&doc);
	assert_int_equal(count_log("GET /index.json 304"), 1);

	free(etag);
	free(url);
	free(file);
}

static void test_http_errors(void **state)
{
	if (httpd_port <= 0)
		skip();
	char *url = xasprintf("http://127.0.0.1:%d/missing.json", httpd_port);
	struct ipm_http_doc doc;
	assert_int_equal(ipm_http_get(&doc, NULL, url, NULL), IPM_ENET);
	char *want = xasprintf("'%s': HTTP 404", url);
	assert_string_equal(ipm_error_message(), want);
	free(want);
	char *dest = xasprintf("%s/missing", tmp_root);
	assert_int_equal(ipm_http_download(NULL, url, dest), IPM_ENET);
	char *part = xasprintf("%s.part", dest);
	assert_false(ipm_path_exists(part));
	assert_false(ipm_path_exists(dest));
	free(part);
	free(dest);
	free(url);

	/* Port 1 on loopback: nobody listens; curl's message and the URL. */
	url = xstrdup("http://127.0.0.1:1/x.tar.gz");
	assert_int_equal(ipm_http_get(&doc, NULL, url, NULL), IPM_ENET);
	assert_non_null(strstr(ipm_error_message(), url));
	assert_true(strlen(ipm_error_message()) > strlen(url) + 6);
	free(url);
}

static void test_http_download_progress_and_mirror(void **state)
{
	if (httpd_port <= 0)
		skip();
	char *file = xasprintf("%s/big.bin", httpd_root);
	char blob[2500];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (char)('a' + i % 26);
	FILE *f = fopen(file, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(blob, 1, sizeof(blob), f), sizeof(blob));
	fclose(f);
	char sha[65];
	ipm_sha256_hex(sha, blob, sizeof(blob));

	/* The registry says example.invalid; the mirror sends it to /slow/ here. */
	struct ipm_mirror mirror = { .from = "https://downloads.example.invalid/", .to = NULL };
	mirror.to = xasprintf("http://127.0.0.1:%d/slow/", httpd_port);
	char *cache = xasprintf("%s/httpcache", tmp_root);
	struct ipm_fetch_ctx ctx = { .cache_dir = cache, .mirrors = &mirror, .nmirrors = 1 };
	struct ipm_source src = { .kind = IPM_SOURCE_ARCHIVE, .url = "https://downloads.example.invalid/big.bin",
				  .sha256 = sha };

	memset(&seen, 0, sizeof(seen));
	ipm_progress_set_handler(on_progress, NULL);
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);
	ipm_progress_set_handler(NULL, NULL);
	assert_true(seen.calls >= 2);  /* at least one partial report, then the end */
	assert_int_equal(seen.ended, 1);
	assert_string_equal(seen.unit, "B");
	assert_int_equal(count_log("GET /slow/big.bin 200"), 1);

	/* Cached: no second request. */
	assert_int_equal(ipm_fetch_source(&ctx, &src), 0);
	assert_int_equal(count_log("GET /slow/big.bin"), 1);

	free(cache);
	free(mirror.to);
	free(file);
}

static int group_setup(void **state)
{
	char template[] = "/tmp/ipm-test-fetch-XXXXXX";
	if (!mkdtemp(template))
		return -1;
	tmp_root = xstrdup(template);
	if (ipm_fetch_init() < 0)
		return -1;
	start_httpd();
	return 0;
}

static int group_teardown(void **state)
{
	stop_httpd();
	ipm_fetch_shutdown();
	if (!getenv("IPM_TEST_KEEP"))
		ipm_rm_rf(tmp_root);
	free(tmp_root);
	return 0;
}

/* ---------- limits ---------- */

/* Extraction stops at limits.extract_bytes: declared sizes are refused
 * before anything is written; within the limit, the same archive extracts. */
static void test_archive_extract_limit(void **state)
{
	char big[3001];
	memset(big, 'z', 3000);
	big[3000] = '\0';
	const struct tu_member m[] = { { "p-1/", 'd', NULL }, { "p-1/small", 'f', "abc" }, { "p-1/big", 'f', big } };
	char *archive = make_archive(m, 3, 1);
	char *dest = fresh_dir("dest");
	struct ipm_limits limits = ipm_limits_default;

	limits.extract_bytes = 2000;
	assert_int_equal(ipm_archive_extract_limited(archive, dest, 1, &limits), IPM_EVERIFY);
	assert_non_null(strstr(ipm_error_message(), "more than the limit of 2000 bytes"));
	assert_non_null(strstr(ipm_error_hint_text(), "\"limits\": { \"extract_bytes\""));
	assert_int_equal(count_entries(dest), 0);
	limits.extract_bytes = 0;   /* off */
	assert_int_equal(ipm_archive_extract_limited(archive, dest, 1, &limits), 0);
	char *path = xasprintf("%s/big", dest);
	assert_true(ipm_path_exists(path));
	free(path);
	free(dest);
	free(archive);
}

/* A download with a declared size: the exact size passes, a bigger file is
 * abandoned as it outgrows it, a smaller one is refused; nothing is left. */
static void test_download_declared_size(void **state)
{
	char *dir = fresh_dir("sized");
	char *src = xasprintf("%s/src.bin", dir), *dest = xasprintf("%s/dest.bin", dir);
	char *url = xasprintf("file://%s", src);
	char *part = xasprintf("%s.part", dest);

	write_text(src, "0123456789");
	assert_int_equal(ipm_http_download_sized(NULL, url, dest, 10), 0);
	assert_true(ipm_path_exists(dest));
	unlink(dest);
	assert_int_equal(ipm_http_download_sized(NULL, url, dest, 4), IPM_EVERIFY);
	assert_non_null(strstr(ipm_error_message(), "larger than the 4 bytes its registry entry declares"));
	assert_false(ipm_path_exists(dest));
	assert_false(ipm_path_exists(part));
	assert_int_equal(ipm_http_download_sized(NULL, url, dest, 11), IPM_EVERIFY);
	assert_non_null(strstr(ipm_error_message(), "10 bytes, but its registry entry declares 11"));
	assert_false(ipm_path_exists(dest));
	assert_false(ipm_path_exists(part));

	/* the configured limit, with the key to raise */
	struct ipm_limits limits = ipm_limits_default;
	struct ipm_fetch_ctx ctx = { .cache_dir = dir, .limits = &limits };
	limits.download_bytes = 5;
	assert_int_equal(ipm_http_download(&ctx, url, dest), IPM_EVERIFY);
	assert_non_null(strstr(ipm_error_message(), "larger than the limit of 5 bytes"));
	assert_non_null(strstr(ipm_error_hint_text(), "\"limits\": { \"download_bytes\""));
	assert_false(ipm_path_exists(part));
	limits.index_bytes = 3;
	struct ipm_http_doc doc;
	assert_int_equal(ipm_http_get(&doc, &ctx, url, NULL), IPM_EVERIFY);
	assert_non_null(strstr(ipm_error_hint_text(), "\"limits\": { \"index_bytes\""));
	limits.index_bytes = 10;
	assert_int_equal(ipm_http_get(&doc, &ctx, url, NULL), 0);
	assert_int_equal(doc.len, 10);
	ipm_http_doc_release(&doc);
	free(part);
	free(url);
	free(dest);
	free(src);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirrors_longest_prefix),
		cmocka_unit_test(test_mirrors_no_match_and_empty),
		cmocka_unit_test(test_mirrors_malformed),
		cmocka_unit_test(test_sha256_known),
		cmocka_unit_test(test_archive_absolute_path),
		cmocka_unit_test(test_archive_dotdot),
		cmocka_unit_test(test_archive_symlink_absolute),
		cmocka_unit_test(test_archive_symlink_climbs_out),
		cmocka_unit_test(test_archive_symlink_chain),
		cmocka_unit_test(test_archive_hardlink_out),
		cmocka_unit_test(test_archive_device),
		cmocka_unit_test(test_archive_good_strips_top),
		cmocka_unit_test(test_archive_two_tops_not_stripped),
		cmocka_unit_test(test_archive_not_an_archive),
		cmocka_unit_test(test_git_fetch_checkout_offline),
		cmocka_unit_test(test_git_read),
		cmocka_unit_test(test_git_missing_commit),
		cmocka_unit_test(test_git_new_commit_fetched),
		cmocka_unit_test(test_git_mirror_rewrite_and_broken_cache),
		cmocka_unit_test(test_download_file_url),
		cmocka_unit_test(test_download_wrong_sha),
		cmocka_unit_test(test_archive_unpack_from_cache),
		cmocka_unit_test(test_http_etag),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_http_download_progress_and_mirror),
		cmocka_unit_test(test_archive_extract_limit),
		cmocka_unit_test(test_download_declared_size),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
