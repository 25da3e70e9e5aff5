/*
 * Staging trees: walking them, finding what a recipe wrote outside its
 * staging directory, moving the staged prefix into the store, and the
 * rewrites an installed tree gets before it is linked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/stage.h"
#include "ipm/xalloc.h"

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int walk(struct ipm_tree *t, const char *root, const char *rel)
{
	char *dirpath = *rel ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *dir = opendir(dirpath);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0;
	int rc = 0;

	/* An entry that went during the walk is none of the tree's: while a
	 * plan's builds run, ipm links others into the prefix they watch
	 * (through temporary names, renamed at once). */
	if (!dir && errno == ENOENT && *rel)
		goto done;
	if (!dir) {
		rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", dirpath, strerror(errno));
		goto done;
	}
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		XGROW(names, alloc, n + 1);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *child_rel = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		char *child = xasprintf("%s/%s", root, child_rel);
		struct stat st;

		if (lstat(child, &st) < 0) {
			if (errno != ENOENT)
				rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", child, strerror(errno));
		} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			XGROW(t->files, t->alloc, t->n + 1);
			t->files[t->n].rel = xstrdup(child_rel);
			t->files[t->n].type = S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f';
			t->n++;
			if (S_ISDIR(st.st_mode))
				rc = walk(t, root, child_rel);
		}
		free(child_rel);
		free(child);
	}
done:
	xfree_strv(names, n);
	free(dirpath);
	return rc;
}

int ipm_tree_walk(struct ipm_tree *out, const char *root)
{
	memset(out, 0, sizeof(*out));
	int rc = walk(out, root, "");
	if (rc < 0)
		ipm_tree_release(out);
	return rc;
}

void ipm_tree_release(struct ipm_tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->files[i].rel);
	free(t->files);
	memset(t, 0, sizeof(*t));
}

int ipm_tree_is_empty(const char *root)
{
	struct ipm_tree t;
	int empty = 1;

	if (!ipm_is_dir(root))
		return 1;
	if (ipm_tree_walk(&t, root) < 0) {
		ipm_error_clear();
		return 0;
	}
	for (size_t i = 0; i < t.n; i++)
		if (t.files[i].type != 'd')
			empty = 0;
	ipm_tree_release(&t);
	return empty;
}

/* ---- snapshots ---- */

int ipm_snapshot_take(struct ipm_snapshot *out, const char *root)
{
	struct ipm_tree t;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ipm_is_dir(root))
		return 0;
	out->root_existed = 1;
	if ((rc = ipm_tree_walk(&t, root)) < 0)
		return rc;
	out->paths = xcalloc(t.n ? t.n : 1, sizeof(*out->paths));
	for (size_t i = 0; i < t.n; i++) {
		out->paths[i] = t.files[i].rel;
		t.files[i].rel = NULL;
	}
	out->n = t.n;
	ipm_tree_release(&t);
	if (out->n)
		qsort(out->paths, out->n, sizeof(*out->paths), name_cmp);
	return 0;
}

void ipm_snapshot_release(struct ipm_snapshot *s)
{
	xfree_strv(s->paths, s->n);
	memset(s, 0, sizeof(*s));
}

int ipm_snapshot_new_entries(char ***out, size_t *nout, const struct ipm_snapshot *s, const char *root)
{
	struct ipm_tree t;
	char **fresh = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!ipm_is_dir(root))
		return 0;
	if ((rc = ipm_tree_walk(&t, root)) < 0)
		return rc;
	if (!s->root_existed) {
		XGROW(fresh, alloc, n + 1);
		fresh[n++] = xstrdup(".");
	}
	for (size_t i = 0; i < t.n; i++) {
		const char *rel = t.files[i].rel;
		if (s->n && bsearch(&rel, s->paths, s->n, sizeof(*s->paths), name_cmp))
			continue;
		XGROW(fresh, alloc, n + 1);
		fresh[n++] = xstrdup(rel);
	}
	ipm_tree_release(&t);
	*out = fresh;
	*nout = n;
	return 0;
}

void ipm_remove_entries(const char *root, char *const *paths, size_t n)
{
	/* paths come parents first: going backwards empties each directory
	 * before it is removed */
	for (size_t i = n; i-- > 0;) {
		char *path = xasprintf("%s/%s", root, paths[i]);
		struct stat st;
		if (strcmp(paths[i], ".") == 0) {
			ipm_rm_rf_quietly(root);
		} else if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				ipm_rm_rf_quietly(path);
			else
				unlink(path);
		}
		free(path);
	}
}

/* ---- adopting the staged tree ---- */

/* The staged path of prefix: stage_dir followed by the absolute prefix. */
static char *staged_prefix(const char *stage_dir, const char *prefix)
{
	return xasprintf("%s%s%s", stage_dir, prefix[0] == '/' ? "" : "/", prefix);
}

/* 1 when rel (relative to the stage) is the prefix or one of its parents. */
static int on_prefix_path(const char *rel, const char *prefix_rel)
{
	size_t len = strlen(rel);
	return strncmp(prefix_rel, rel, len) == 0 && (prefix_rel[len] == '/' || prefix_rel[len] == '\0');
}

/* stage_dir/rel without set-user-ID and set-group-ID bits, owned by us. */
static int drop_privileges_of(const char *stage_dir, const char *rel)
{
	char *path = xasprintf("%s/%s", stage_dir, rel);
	struct stat st;
	int rc = 0;

	if (lstat(path, &st) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", path, strerror(errno));
	} else {
		if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
		    lchown(path, geteuid(), getegid()) < 0)
			rc = ipm_error_set(IPM_ERROR, "cannot take ownership of '%s': %s", path, strerror(errno));
		if (rc == 0 && !S_ISLNK(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)) &&
		    chmod(path, st.st_mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0)
			rc = ipm_error_set(IPM_ERROR, "cannot clear the set-ID bits of '%s': %s", path,
					   strerror(errno));
	}
	free(path);
	return rc;
}

int ipm_stage_adopt(const char *stage_dir, const char *prefix, const char *store_dir)
{
	struct ipm_tree t = { 0 };
	struct ipm_buf outside = IPM_BUF_INIT;
	const char *prefix_rel = prefix;
	char *staged = staged_prefix(stage_dir, prefix);
	char *parent = xstrdup(store_dir);
	char *slash = strrchr(parent, '/');
	size_t plen;
	int noutside = 0, rc = 0;

	while (*prefix_rel == '/')
		prefix_rel++;
	plen = strlen(prefix_rel);
	if ((rc = ipm_tree_walk(&t, stage_dir)) < 0)
		goto done;
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const char *rel = t.files[i].rel;
		if (on_prefix_path(rel, prefix_rel) && t.files[i].type == 'd')
			continue;
		if (strncmp(rel, prefix_rel, plen) == 0 && rel[plen] == '/') {
			rc = drop_privileges_of(stage_dir, rel);
			continue;
		}
		/* the first few are enough to see what went wrong */
		if (noutside < 3)
			ipm_buf_addf(&outside, "%s'/%s'", noutside ? ", " : "", rel);
		noutside++;
	}
	if (rc < 0)
		goto done;
	if (noutside) {
		rc = ipm_error_set(IPM_EBUILD, "the recipe installed %d file%s outside the prefix '%s': %s%s",
				   noutside, noutside == 1 ? "" : "s", prefix, outside.ptr,
				   noutside > 3 ? ", ..." : "");
		ipm_error_hint("a package installs under $DESTDIR$IPM_PREFIX only");
		goto done;
	}
	if (ipm_tree_is_empty(staged)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "nothing was installed under $DESTDIR$IPM_PREFIX");
		goto done;
	}
	if (slash && slash != parent) {
		*slash = '\0';
		if ((rc = ipm_mkdir_p(parent, 0755)) < 0)
			goto done;
	}
	if (rename(staged, store_dir) < 0)
		rc = ipm_error_set(IPM_ERROR, "cannot move '%s' to '%s': %s", staged, store_dir, strerror(errno));
done:
	ipm_tree_release(&t);
	ipm_buf_release(&outside);
	free(parent);
	free(staged);
	return rc;
}

/* ---- pkg-config files ---- */

/* The Libs: line of text with the rpath added, or NULL when it needs none. */
static char *pc_with_rpath(const char *text)
{
	struct ipm_buf out = IPM_BUF_INIT;
	const char *line = text;
	int has_libdir = 0, changed = 0;

	/* only files that define libdir and link with -L${libdir} */
	for (const char *p = text; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, "libdir=", 7) == 0 || strncmp(p, "libdir =", 8) == 0)
			has_libdir = 1;
	}
	if (!has_libdir || strstr(text, "-rpath"))
		return NULL;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *one = xstrndup(line, len);

		if (strncmp(one, "Libs:", 5) == 0 && strstr(one, "-L${libdir}")) {
			/* a line continued with a backslash is left alone */
			size_t l = strlen(one);
			while (l && (one[l - 1] == ' ' || one[l - 1] == '\t' || one[l - 1] == '\r'))
				l--;
			if (!l || one[l - 1] != '\\') {
				ipm_buf_addn(&out, one, l);
				ipm_buf_add(&out, " -Wl,-rpath,${libdir}");
				changed = 1;
			} else {
				ipm_buf_add(&out, one);
			}
		} else {
			ipm_buf_add(&out, one);
		}
		free(one);
		if (end)
			ipm_buf_add(&out, "\n");
		line = end ? end + 1 : line + len;
	}
	if (!changed) {
		ipm_buf_release(&out);
		return NULL;
	}
	return ipm_buf_detach(&out);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int ipm_pc_add_rpath(const char *tree)
{
	static const char *const dirs[] = { "lib/pkgconfig", "share/pkgconfig" };
	int rc = 0;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]) && rc == 0; d++) {
		char *dirpath = xasprintf("%s/%s", tree, dirs[d]);
		DIR *dir = opendir(dirpath);
		struct dirent *de;

		while (dir && rc == 0 && (de = readdir(dir))) {
			char *path, *text = NULL, *fixed = NULL;
			struct stat st;
			if (!ends_with(de->d_name, ".pc"))
				continue;
			path = xasprintf("%s/%s", dirpath, de->d_name);
			/* a symlink may point at another package's file: never rewritten */
			if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			    (rc = ipm_file_read(&text, NULL, path)) == 0 && (fixed = pc_with_rpath(text))) {
				rc = ipm_file_write_atomic(path, fixed, strlen(fixed));
				if (rc == 0)
					chmod(path, st.st_mode & 07777);
			}
			free(fixed);
			free(text);
			free(path);
		}
		if (dir)
			closedir(dir);
		free(dirpath);
	}
	return rc;
}

/* ---- searching file contents ---- */

static int file_contains(int *found, const char *path, const char *needle)
{
	size_t nlen = strlen(needle);
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*found = 0;
	if (fd < 0)
		return ipm_error_set(IPM_ERROR, "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size == 0 || (size_t)st.st_size < nlen) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return ipm_error_set(IPM_ERROR, "cannot read '%s': %s", path, strerror(errno));
	*found = memmem(map, (size_t)st.st_size, needle, nlen) != NULL;
	munmap(map, (size_t)st.st_size);
	return 0;
}

int ipm_tree_grep(char ***out, size_t *nout, const char *tree, const char *needle)
{
	struct ipm_tree t;
	char **hits = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = ipm_tree_walk(&t, tree)) < 0)
		return rc;
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		char *path;
		int found = 0;
		if (t.files[i].type != 'f')
			continue;
		path = xasprintf("%s/%s", tree, t.files[i].rel);
		rc = file_contains(&found, path, needle);
		free(path);
		if (rc == 0 && found) {
			XGROW(hits, alloc, n + 1);
			hits[n++] = xstrdup(t.files[i].rel);
		}
	}
	ipm_tree_release(&t);
	if (rc < 0) {
		xfree_strv(hits, n);
		return rc;
	}
	*out = hits;
	*nout = n;
	return 0;
}
