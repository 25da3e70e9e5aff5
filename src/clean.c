/*
 * ipm clean: caches, logs, build trees, and store trees no kept generation
 * needs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipm/clean.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/interrupt.h"
#include "ipm/log.h"
#include "ipm/txn.h"
#include "ipm/xalloc.h"

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ipm_store_keep_load(struct ipm_store_keep *out, struct ipm_ctx *ctx, unsigned keep)
{
	int64_t last = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (keep < 1)
		keep = 1;
	if ((rc = ipm_db_history_last(&last, ctx->db)) < 0)
		return rc;
	/* the installed packages always; the states after the last keep
	 * transactions (the last one being the installed state) */
	rc = ipm_db_store_dirs_kept(&out->dirs, &out->n, ctx->db, last - (int64_t)keep + 1, last);
	if (rc == 0) {
		/* and what an unfinished change may still link to */
		char **pending = NULL;
		size_t npending = 0;
		ipm_txn_pending_stores(&pending, &npending, ctx);
		out->dirs = xrealloc(out->dirs, (out->n + npending + 1) * sizeof(*out->dirs));
		if (npending)
			memcpy(out->dirs + out->n, pending, npending * sizeof(*pending));
		out->n += npending;
		free(pending);
		qsort(out->dirs, out->n, sizeof(*out->dirs), cmp_strp);
	}
	return rc;
}

void ipm_store_keep_release(struct ipm_store_keep *k)
{
	xfree_strv(k->dirs, k->n);
	memset(k, 0, sizeof(*k));
}

int ipm_store_keep_has(const struct ipm_store_keep *k, const char *store_dir)
{
	return k->n && bsearch(&store_dir, k->dirs, k->n, sizeof(*k->dirs), cmp_strp) != NULL;
}

int ipm_store_dir_needed(int *out, struct ipm_ctx *ctx, const char *store_dir, unsigned keep)
{
	struct ipm_store_keep k;
	int rc = ipm_store_keep_load(&k, ctx, keep);

	*out = rc == 0 && ipm_store_keep_has(&k, store_dir);
	ipm_store_keep_release(&k);
	return rc;
}

/* Disk space under path (allocated blocks, as du counts), not following
 * symlinks. */
static uint64_t disk_usage(const char *path)
{
	struct stat st;
	uint64_t total;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) < 0)
		return 0;
	total = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode) || !(d = opendir(path)))
		return total;
	while ((de = readdir(d))) {
		char *child;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		child = xasprintf("%s/%s", path, de->d_name);
		total += disk_usage(child);
		free(child);
	}
	closedir(d);
	return total;
}

static void plan_add(struct ipm_clean_plan *p, char *path, const char *kind)
{
	XGROW(p->items, p->alloc, p->n + 1);
	p->items[p->n].path = path;
	p->items[p->n].kind = kind;
	p->items[p->n].bytes = disk_usage(path);
	p->total += p->items[p->n].bytes;
	p->n++;
}

/* The names in dir but "." and "..", sorted (none when dir cannot be read). */
static void dir_names(char ***out, size_t *nout, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0;

	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		XGROW(names, alloc, n + 1);
		names[n++] = xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_strp);
	*out = names;
	*nout = n;
}

/* Every entry of dir (sorted), as kind. */
static void plan_entries(struct ipm_clean_plan *p, const char *dir, const char *kind)
{
	char **names;
	size_t n;

	dir_names(&names, &n, dir);
	for (size_t i = 0; i < n; i++)
		plan_add(p, xasprintf("%s/%s", dir, names[i]), kind);
	xfree_strv(names, n);
}

/* The local binary cache's files ($IPM_CACHE/binary/<key>.*) of builds
 * that no installed package has. */
static int plan_binaries(struct ipm_clean_plan *p, struct ipm_ctx *ctx)
{
	struct ipm_package_row *rows = NULL;
	size_t nrows = 0, n = 0;
	char *dir = xasprintf("%s/binary", ctx->cfg.cache);
	char **names = NULL;
	int rc;

	if ((rc = ipm_db_package_list(&rows, &nrows, ctx->db)) < 0)
		goto done;
	dir_names(&names, &n, dir);
	for (size_t i = 0; i < n; i++) {
		size_t keylen = strcspn(names[i], ".");
		int installed = 0;
		if (names[i][0] == '.')
			continue;
		for (size_t r = 0; r < nrows && !installed; r++)
			installed = rows[r].build_key && strlen(rows[r].build_key) == keylen &&
				    strncmp(rows[r].build_key, names[i], keylen) == 0;
		if (!installed)
			plan_add(p, xasprintf("%s/%s", dir, names[i]), "binary");
	}
done:
	xfree_strv(names, n);
	for (size_t i = 0; i < nrows; i++)
		ipm_package_row_release(&rows[i]);
	free(rows);
	free(dir);
	return rc;
}

int ipm_clean_plan(struct ipm_clean_plan *out, struct ipm_ctx *ctx, unsigned keep)
{
	struct ipm_store_keep k;
	char *dir = NULL;
	char *home = ipm_path_absolute(ctx->cfg.home);
	char *store = xasprintf("%s/store", home);
	char **names = NULL;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ipm_store_keep_load(&k, ctx, keep)) < 0)
		goto done;
	dir = xasprintf("%s/downloads", ctx->cfg.cache);
	plan_entries(out, dir, "download");
	free(dir);
	dir = xasprintf("%s/git", ctx->cfg.cache);
	plan_entries(out, dir, "git mirror");
	free(dir);
	if ((rc = plan_binaries(out, ctx)) < 0)
		goto done;
	dir = xasprintf("%s/logs", ctx->cfg.cache);
	plan_entries(out, dir, "log");
	free(dir);
	dir = xasprintf("%s/build", ctx->cfg.home);
	plan_entries(out, dir, "build tree");
	/* store/<name>/<tree> */
	dir_names(&names, &n, store);
	for (size_t i = 0; i < n; i++) {
		char *pkg, **trees;
		size_t nt;

		if (strncmp(names[i], ".deleting-", 10) == 0) {
			/* what an interrupted clean left */
			plan_add(out, xasprintf("%s/%s", store, names[i]), "store tree");
			continue;
		}
		if (names[i][0] == '.')
			continue;
		pkg = xasprintf("%s/%s", store, names[i]);
		dir_names(&trees, &nt, pkg);
		for (size_t t = 0; t < nt; t++) {
			char *tree = xasprintf("%s/%s", pkg, trees[t]);
			if (ipm_store_keep_has(&k, tree))
				free(tree);
			else
				plan_add(out, tree, "store tree");
		}
		xfree_strv(trees, nt);
		free(pkg);
	}
done:
	xfree_strv(names, n);
	ipm_store_keep_release(&k);
	free(dir);
	free(store);
	free(home);
	return rc;
}

/*
 * A store tree first leaves its name (renamed to store/.deleting-...), so
 * that one half deleted (Ctrl-C, a kill) is never taken for a kept tree by
 * a rollback; the next clean deletes what is left under that name.
 */
static int take_away(char **out, const struct ipm_clean_item *it)
{
	const char *base = strrchr(it->path, '/');
	char *store = NULL, *name = NULL;
	int rc = 0;

	*out = xstrdup(it->path);
	if (!base || strncmp(base, "/.deleting-", 11) == 0)
		return 0;
	/* .../store/<name>/<tree> -> .../store/.deleting-<name>-<tree> */
	store = xstrndup(it->path, (size_t)(base - it->path));
	name = strrchr(store, '/');
	if (!name)
		goto done;
	*name++ = '\0';
	free(*out);
	*out = xasprintf("%s/.deleting-%s-%s", store, name, base + 1);
	if (rename(it->path, *out) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s': %s", it->path, strerror(errno));
		goto done;
	}
	{
		/* store/<name> goes with its last tree */
		char *parent = xasprintf("%s/%s", store, name);
		rmdir(parent);
		free(parent);
	}
done:
	free(store);
	return rc;
}

int ipm_clean_run(uint64_t *out_freed, struct ipm_ctx *ctx, struct ipm_clean_plan *plan)
{
	uint64_t freed = 0;
	int rc = 0;

	(void)ctx;
	for (size_t i = 0; i < plan->n; i++) {
		struct ipm_clean_item *it = &plan->items[i];
		char *path = NULL;
		int failed;

		if ((rc = ipm_interrupt_check()) < 0)
			break;
		if (strcmp(it->kind, "store tree") == 0)
			failed = take_away(&path, it) < 0 || ipm_rm_rf(path) < 0;
		else
			failed = ipm_rm_rf(it->path) < 0;
		free(path);
		if (failed) {
			ipm_log(IPM_LOG_WARN, "cannot delete %s '%s': %s", it->kind, it->path, ipm_error_message());
			ipm_error_clear();
			it->bytes = 0;
			continue;
		}
		freed += it->bytes;
	}
	if (out_freed)
		*out_freed = freed;
	return rc;
}

void ipm_clean_plan_release(struct ipm_clean_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->items[i].path);
	free(p->items);
	memset(p, 0, sizeof(*p));
}
