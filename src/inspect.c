/*
 * Looking at what is installed: the owner of a path, and whether what ipm
 * put into the prefix and the store is still there and unchanged.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/inspect.h"
#include "ipm/linkage.h"
#include "ipm/similar.h"
#include "ipm/xalloc.h"

/* Symlinks followed by ipm_which before it gives up (the kernel's MAXSYMLINKS). */
#define MAX_HOPS 40

/* ---- paths as text ---- */

/* path made absolute against dir (the working directory when NULL), with
 * "." and ".." components and repeated slashes removed as text: what the
 * user typed, symlinks not followed. */
static char *normalise(const char *path, const char *dir)
{
	struct ipm_buf b = IPM_BUF_INIT;
	char *cwd = NULL;
	const char *p;

	if (path[0] != '/') {
		if (!dir)
			dir = cwd = getcwd(NULL, 0);
		if (dir)
			ipm_buf_add(&b, dir);
		ipm_buf_addch(&b, '/');
	}
	ipm_buf_add(&b, path);
	free(cwd);

	/* rebuild in place: out never runs ahead of p */
	char *s = b.ptr, *out = s;
	for (p = s; *p;) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (out > s && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, p, n);
			out += n;
		}
		p += n;
	}
	if (out == s)
		*out++ = '/';
	*out = '\0';
	b.len = (size_t)(out - s);
	return ipm_buf_detach(&b);
}

/* The part of path below dir ("" for dir itself), or NULL when path is not
 * dir or inside it. Both normalised. */
static const char *below(const char *path, const char *dir)
{
	size_t n;

	if (!dir)
		return NULL;
	n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path + 1;
	if (strncmp(path, dir, n) != 0)
		return NULL;
	if (path[n] == '\0')
		return path + n;
	return path[n] == '/' ? path + n + 1 : NULL;
}

/* Where the symlink at path (normalised) leads, normalised; NULL when path
 * is no symlink. */
static char *link_destination(const char *path)
{
	char *target = ipm_link_read(path), *dir, *slash, *dest;

	if (!target)
		return NULL;
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	dest = normalise(target, dir);
	free(dir);
	free(target);
	return dest;
}

/* ---- installed packages ---- */

struct closest {
	const char *name;
	char *best;
	size_t best_distance;
};

static int closer(void *opaque, const struct ipm_package_row *p)
{
	struct closest *c = opaque;
	size_t d = ipm_edit_distance_max(c->name, p->name, c->best_distance - 1, IPM_EDIT_ICASE);

	if (d < c->best_distance) {
		free(c->best);
		c->best = xstrdup(p->name);
		c->best_distance = d;
	}
	return 0;
}

int ipm_inspect_package(struct ipm_package_row *out, struct ipm_ctx *ctx, const char *name, int with_files)
{
	struct closest c = { name, NULL, 0 };
	size_t len = strlen(name);
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ipm_db_package_get(out, ctx->db, name, with_files);
	if (rc != IPM_ENOTFOUND)
		return rc;
	/* an installed name within a third of the length's edits (2 at most, 1 for short names) */
	c.best_distance = (len >= 6 ? 2 : len >= 3 ? 1 : 0) + 1;
	ipm_error_clear();
	if (c.best_distance > 1 && ipm_db_package_each(ctx->db, 1, closer, &c) < 0)
		ipm_error_clear();
	rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", name);
	if (c.best)
		ipm_error_hint("did you mean '%s'?", c.best);
	else
		ipm_error_hint("'ipm list' shows what is installed");
	free(c.best);
	return rc;
}

/* ---- which ---- */

void ipm_owner_release(struct ipm_owner *o)
{
	free(o->name);
	free(o->version);
	free(o->path);
	free(o->file);
	memset(o, 0, sizeof(*o));
}

struct places {
	char *prefix;        /* as the database has it, normalised */
	char *prefix_real;   /* realpath of it, when different */
	char *store;         /* $IPM_HOME/store, normalised */
	char *store_real;
};

static void places_release(struct places *pl)
{
	free(pl->prefix);
	free(pl->prefix_real);
	free(pl->store);
	free(pl->store_real);
}

static char *real_if_other(const char *path)
{
	char *r = realpath(path, NULL);

	if (r && strcmp(r, path) == 0) {
		free(r);
		r = NULL;
	}
	return r;
}

/* The owner of the prefix path rel (not ""): 1 found, 0 not, < 0 error. */
static int owner_in_prefix(struct ipm_owner *out, struct ipm_ctx *ctx, const struct places *pl, const char *rel)
{
	char *name = NULL;
	int rc = ipm_db_file_owner(&name, ctx->db, rel);

	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	out->name = name;
	out->file = xasprintf("%s/%s", strcmp(pl->prefix, "/") == 0 ? "" : pl->prefix, rel);
	return 1;
}

/* The package whose store tree holds store_rel (relative to the store
 * root): the store is <name>/<version>[@...]/..., so the first component
 * names the only package that can own it. */
static int owner_in_store(struct ipm_owner *out, struct ipm_ctx *ctx, const struct places *pl, const char *store_rel)
{
	struct ipm_package_row row = { 0 };
	char *name = xstrndup(store_rel, strcspn(store_rel, "/"));
	char *lexical = xasprintf("%s/%s", pl->store, store_rel);
	char *store_dir = NULL;
	const char *rel;
	int rc;

	rc = ipm_db_package_get(&row, ctx->db, name, 0);
	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		rc = 0;
		goto done;
	}
	if (rc < 0 || !row.store_dir)
		goto done;
	store_dir = normalise(row.store_dir, NULL);
	rel = below(lexical, store_dir);
	if (!rel)
		goto done;
	out->name = xstrdup(row.name);
	out->file = *rel ? xasprintf("%s/%s", strcmp(pl->prefix, "/") == 0 ? "" : pl->prefix, rel) : xstrdup(store_dir);
	rc = 1;
done:
	if (row.name)
		ipm_package_row_release(&row);
	free(store_dir);
	free(lexical);
	free(name);
	return rc;
}

/* The store first: by default it lies inside the prefix
 * (~/.local/share/ipm/store in ~/.local). */
static int owner_at(struct ipm_owner *out, struct ipm_ctx *ctx, const struct places *pl, const char *path)
{
	const char *rel;
	int rc;

	if (((rel = below(path, pl->store)) || (rel = below(path, pl->store_real))) && *rel &&
	    (rc = owner_in_store(out, ctx, pl, rel)) != 0)
		return rc;
	if ((rel = below(path, pl->prefix)) || (rel = below(path, pl->prefix_real)))
		return *rel ? owner_in_prefix(out, ctx, pl, rel) : 0;
	return 0;
}

int ipm_which(struct ipm_owner *out, struct ipm_ctx *ctx, const char *path)
{
	struct places pl = { 0 };
	struct ipm_package_row row = { 0 };
	char *abs = normalise(path, NULL), *cur = NULL, *db_prefix = NULL, *store = NULL;
	int rc, hops;

	memset(out, 0, sizeof(*out));
	rc = ipm_db_installed_prefix(&db_prefix, ctx->db);
	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		rc = 0;
	}
	if (rc < 0)
		goto done;
	pl.prefix = normalise(db_prefix ? db_prefix : ctx->cfg.prefix, NULL);
	pl.prefix_real = real_if_other(pl.prefix);
	store = xasprintf("%s/store", ctx->cfg.home);
	pl.store = normalise(store, NULL);
	pl.store_real = real_if_other(pl.store);

	/* the path as typed, then where its links lead */
	rc = 0;
	cur = xstrdup(abs);
	for (hops = 0; db_prefix && rc == 0 && hops <= MAX_HOPS; hops++) {
		char *next;
		if ((rc = owner_at(out, ctx, &pl, cur)) != 0)
			break;
		if (!(next = link_destination(cur)))
			break;
		free(cur);
		cur = next;
	}
	/* then with every directory's links resolved too */
	if (db_prefix && rc == 0) {
		char *real = realpath(abs, NULL);
		if (real && strcmp(real, abs) != 0)
			rc = owner_at(out, ctx, &pl, real);
		free(real);
	}
	if (rc < 0)
		goto done;
	if (rc == 0) {
		int outside = !below(abs, pl.prefix) && !below(abs, pl.prefix_real);
		int exists = ipm_path_exists(abs);
		rc = ipm_error_set(IPM_ENOTFOUND, "'%s' is not owned by any package%s", abs,
				   exists ? "" : " (it does not exist)");
		if (outside)
			ipm_error_hint("ipm installs into the prefix '%s'", pl.prefix);
		goto done;
	}
	if ((rc = ipm_db_package_get(&row, ctx->db, out->name, 0)) < 0)
		goto done;
	out->version = xstrdup(row.version);
	out->path = abs;
	abs = NULL;
	rc = 0;
done:
	if (rc < 0)
		ipm_owner_release(out);
	if (row.name)
		ipm_package_row_release(&row);
	places_release(&pl);
	free(store);
	free(db_prefix);
	free(cur);
	free(abs);
	return rc;
}

/* ---- verify ---- */

const char *ipm_verify_kind_name(enum ipm_verify_kind kind)
{
	switch (kind) {
	case IPM_VERIFY_MODIFIED: return "modified";
	case IPM_VERIFY_DELETED: return "deleted";
	case IPM_VERIFY_BROKEN: return "broken-link";
	case IPM_VERIFY_LINK_MISSING: return "link-missing";
	case IPM_VERIFY_LINK_WRONG: return "link-wrong";
	case IPM_VERIFY_REPLACED: return "replaced";
	case IPM_VERIFY_DIR_MISSING: return "directory-missing";
	case IPM_VERIFY_NOT_DIR: return "not-a-directory";
	case IPM_VERIFY_STORE_MISSING: return "store-missing";
	case IPM_VERIFY_LIB_MISSING: return "library-missing";
	case IPM_VERIFY_LIB_SHADOWED: return "library-shadowed";
	case IPM_VERIFY_BAD_RUNPATH: return "bad-runpath";
	case IPM_VERIFY_UNREADABLE: return "unreadable";
	}
	return "unknown";
}

struct verifier {
	struct ipm_verify_stats *stats;
	ipm_verify_fn fn;
	void *fn_ctx;
	int stop;
	const char *package;
};

static void report(struct verifier *v, enum ipm_verify_kind kind, const char *path, const char *detail,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(struct verifier *v, enum ipm_verify_kind kind, const char *path, const char *detail,
		   const char *fmt, ...)
{
	struct ipm_buf msg = IPM_BUF_INIT;
	struct ipm_verify_problem p;
	va_list ap;

	v->stats->problems++;
	if (v->stop)
		return;
	va_start(ap, fmt);
	ipm_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	p.kind = kind;
	p.package = v->package;
	p.path = path;
	p.detail = detail;
	p.message = msg.ptr;
	if (v->fn && v->fn(v->fn_ctx, &p) != 0)
		v->stop = 1;
	ipm_buf_release(&msg);
}

/* The prefix link of one file or symlink: 1 when it is right. */
static int check_link(struct verifier *v, const char *link, const char *expected)
{
	struct stat st;
	char *dest;
	int right;

	if (lstat(link, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			report(v, IPM_VERIFY_LINK_MISSING, link, NULL, "link missing");
		else
			report(v, IPM_VERIFY_UNREADABLE, link, strerror(errno), "cannot check: %s", strerror(errno));
		return 0;
	}
	if (!S_ISLNK(st.st_mode)) {
		report(v, IPM_VERIFY_REPLACED, link, NULL, "replaced (no longer a link into the store)");
		return 0;
	}
	dest = link_destination(link);
	right = dest && strcmp(dest, expected) == 0;
	if (!right) {
		/* the same file under another spelling (a linked home) is fine */
		char *a = realpath(link, NULL), *b = realpath(expected, NULL);
		right = a && b && strcmp(a, b) == 0;
		free(a);
		free(b);
	}
	if (!right) {
		char *target = ipm_link_read(link);
		report(v, IPM_VERIFY_LINK_WRONG, link, target, "link points to '%s', not into the store of '%s'",
		       target ? target : "?", v->package);
		free(target);
	}
	free(dest);
	return right;
}

/* What the link shows: the store's file or symlink. */
static void check_store_entry(struct verifier *v, const struct ipm_file_row *f, const char *link,
			      const char *stored)
{
	struct stat st;
	char sum[65];

	if (lstat(stored, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			report(v, IPM_VERIFY_DELETED, link, stored, "deleted (its store copy '%s' is gone)", stored);
		else
			report(v, IPM_VERIFY_UNREADABLE, link, strerror(errno), "cannot check: %s", strerror(errno));
		return;
	}
	if (f->type == 'l') {
		if (!S_ISLNK(st.st_mode)) {
			report(v, IPM_VERIFY_MODIFIED, link, NULL, "modified (no longer a symlink)");
		} else if (stat(stored, &st) < 0) {
			char *target = ipm_link_read(stored);
			report(v, IPM_VERIFY_BROKEN, link, target, "broken symlink ('%s' does not exist)",
			       target ? target : "?");
			free(target);
		}
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		report(v, IPM_VERIFY_MODIFIED, link, NULL, "modified (no longer a regular file)");
		return;
	}
	if (!f->sha256)
		return;
	if (ipm_sha256_file(sum, stored) < 0) {
		report(v, IPM_VERIFY_UNREADABLE, link, ipm_error_message(), "cannot check: %s", ipm_error_message());
		ipm_error_clear();
		return;
	}
	if (strcasecmp(sum, f->sha256) != 0)
		report(v, IPM_VERIFY_MODIFIED, link, sum, "modified (sha256 differs)");
}

static void check_linkage(struct verifier *v, struct ipm_ctx *ctx, const char *store_dir, const char *prefix)
{
	char *build_root = xasprintf("%s/build", ctx->cfg.home);
	char *store_root = xasprintf("%s/store", ctx->cfg.home);
	const char *forbidden[] = { build_root, store_root };
	struct ipm_linkage l;

	if (ipm_linkage_check(&l, store_dir, prefix, forbidden, 2) < 0) {
		report(v, IPM_VERIFY_UNREADABLE, store_dir, ipm_error_message(), "linkage not checked: %s",
		       ipm_error_message());
		ipm_error_clear();
		goto done;
	}
	for (size_t i = 0; i < l.nproblems && !v->stop; i++) {
		const struct ipm_linkage_problem *q = &l.problems[i];
		char *path = xasprintf("%s/%s", strcmp(prefix, "/") == 0 ? "" : prefix, q->file);
		switch (q->kind) {
		case IPM_LINKAGE_MISSING:
			report(v, IPM_VERIFY_LIB_MISSING, path, q->library, "needs %s: not found", q->library);
			break;
		case IPM_LINKAGE_SHADOWED:
			report(v, IPM_VERIFY_LIB_SHADOWED, path, q->library,
			       "needs %s: would load the system's copy '%s' instead of the prefix's", q->library,
			       q->detail ? q->detail : "?");
			break;
		case IPM_LINKAGE_BAD_RUNPATH:
			report(v, IPM_VERIFY_BAD_RUNPATH, path, q->library,
			       "run-time path '%s' points into ipm's build or store trees", q->library);
			break;
		}
		free(path);
	}
	ipm_linkage_release(&l);
done:
	free(build_root);
	free(store_root);
}

static int verify_package(struct verifier *v, struct ipm_ctx *ctx, const char *name)
{
	struct ipm_package_row row;
	char *prefix = NULL, *store_dir = NULL;
	int rc;

	memset(&row, 0, sizeof(row));
	if ((rc = ipm_db_package_get(&row, ctx->db, name, 1)) < 0)
		return rc;
	v->package = row.name;
	v->stats->packages++;
	prefix = normalise(row.prefix ? row.prefix : ctx->cfg.prefix, NULL);
	store_dir = normalise(row.store_dir ? row.store_dir : "", NULL);
	if (!row.store_dir || !ipm_is_dir(store_dir)) {
		report(v, IPM_VERIFY_STORE_MISSING, store_dir, NULL, "store tree missing");
		goto done;
	}
	for (size_t i = 0; i < row.nfiles && !v->stop; i++) {
		const struct ipm_file_row *f = &row.files[i];
		char *path = xasprintf("%s/%s", strcmp(prefix, "/") == 0 ? "" : prefix, f->path);
		char *stored = xasprintf("%s/%s", store_dir, f->path);
		struct stat st;

		if (f->type == 'd') {
			v->stats->dirs++;
			if (lstat(path, &st) < 0)
				report(v, IPM_VERIFY_DIR_MISSING, path, NULL, "directory missing");
			else if (!S_ISDIR(st.st_mode))
				report(v, IPM_VERIFY_NOT_DIR, path, NULL, "not a directory");
		} else {
			if (f->type == 'l')
				v->stats->links++;
			else
				v->stats->files++;
			check_link(v, path, stored);
			check_store_entry(v, f, path, stored);
		}
		free(stored);
		free(path);
	}
	if (!v->stop)
		check_linkage(v, ctx, store_dir, prefix);
done:
	free(prefix);
	free(store_dir);
	ipm_package_row_release(&row);
	return 0;
}

struct name_list {
	char **names;
	size_t n, alloc;
};

static int collect_name(void *opaque, const struct ipm_package_row *p)
{
	struct name_list *l = opaque;

	XGROW(l->names, l->alloc, l->n + 1);
	l->names[l->n++] = xstrdup(p->name);
	return 0;
}

int ipm_verify(struct ipm_verify_stats *stats, struct ipm_ctx *ctx, const char *const *names, size_t nnames,
	       ipm_verify_fn fn, void *fn_ctx)
{
	struct ipm_verify_stats local;
	struct verifier v = { stats ? stats : &local, fn, fn_ctx, 0, NULL };
	struct name_list all = { 0 };
	int rc = 0;

	memset(v.stats, 0, sizeof(*v.stats));
	if (nnames == 0) {
		if ((rc = ipm_db_package_each(ctx->db, 1, collect_name, &all)) < 0)
			goto done;
		names = (const char *const *)all.names;
		nnames = all.n;
	} else {
		for (size_t i = 0; i < nnames; i++) {
			struct ipm_package_row row;
			if ((rc = ipm_inspect_package(&row, ctx, names[i], 0)) < 0)
				goto done;
			ipm_package_row_release(&row);
		}
	}
	for (size_t i = 0; i < nnames && !v.stop; i++)
		if ((rc = verify_package(&v, ctx, names[i])) < 0)
			goto done;
done:
	xfree_strv(all.names, all.n);
	return rc;
}
