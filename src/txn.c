/*
 * Transactions over the prefix and the database (see ipm/txn.h for the
 * journal and the commit point).
 *
 * The invariant: the prefix's links into a store tree exist only while the
 * database (after the commit) or a journal (before it) says so. Each switch
 * is planned completely first (every path checked, nothing changed), then
 * recorded in the journal, then made. Directories whose entries changed are
 * fsynced before the commit point and before a journal is deleted.
 */
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/stage.h"
#include "ipm/txn.h"
#include "ipm/xalloc.h"

/* ---- small helpers ---- */

/* 1 when target lies inside dir. */
static int inside(const char *target, const char *dir)
{
	size_t len = dir ? strlen(dir) : 0;
	return target && len && strncmp(target, dir, len) == 0 && target[len] == '/';
}

/* 1 when path is a symlink whose target lies inside dir. */
static int links_into(const char *path, const char *dir)
{
	char *target = ipm_link_read(path);
	int in = inside(target, dir);
	free(target);
	return in;
}

/* 16 hex digits from the kernel's random source (the clock and pid when it
 * has none). */
static char *random_hex(void)
{
	unsigned char bytes[8];
	uint64_t v = 0;

	if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) == (ssize_t)sizeof(bytes)) {
		for (size_t i = 0; i < sizeof(bytes); i++)
			v = v << 8 | bytes[i];
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
	}
	return xasprintf("%016llx", (unsigned long long)v);
}

/*
 * The temporary name link_atomic builds link i of an op under before
 * renaming it over path: ".ipm-tmp.<tag>.<i>" beside it. The tag is random
 * and recorded in the journal before any such link exists, so the name
 * belongs to no one else and recovery can find what a killed run left.
 */
static char *link_tmp_path(const char *path, const char *tag, size_t i)
{
	const char *slash = strrchr(path, '/');

	/* a journal of an older ipm, with one fixed name per link */
	if (!tag)
		return xasprintf("%s.ipm-new", path);
	return xasprintf("%.*s.ipm-tmp.%s.%zu", slash ? (int)(slash - path + 1) : 0, path, tag, i);
}

/* Replaces (or creates) path as a symlink to target, atomically, through
 * the temporary name tmp, which must not exist. */
static int link_atomic(const char *target, const char *path, const char *tmp)
{
	if (symlink(target, tmp) < 0)
		return ipm_error_set(IPM_ERROR, "cannot create link '%s': %s", path,
				     errno == EEXIST ? "its temporary name is taken" : strerror(errno));
	if (rename(tmp, path) < 0) {
		int rc = ipm_error_set(IPM_ERROR, "cannot create link '%s': %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

/* ---- directories to make durable ---- */

struct dir_set {
	char **dirs;
	size_t n, alloc;
};

/* Adds the directory holding path. */
static void dir_set_add_parent(struct dir_set *d, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;

	if (len == 0)
		len = slash ? 1 : 0;
	if (len == 0)
		return;
	/* links come in path order: most repeat the directory just added */
	if (d->n && strlen(d->dirs[d->n - 1]) == len && strncmp(d->dirs[d->n - 1], path, len) == 0)
		return;
	XGROW(d->dirs, d->alloc, d->n + 1);
	d->dirs[d->n++] = xstrndup(path, len);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fsyncs each directory once (a missing one is fine), then empties the set. */
static int dir_set_sync(struct dir_set *d)
{
	int rc = 0;

	if (d->n == 0)
		return 0;
	qsort(d->dirs, d->n, sizeof(*d->dirs), cmp_strp);
	for (size_t i = 0; i < d->n; i++) {
		if (i > 0 && strcmp(d->dirs[i], d->dirs[i - 1]) == 0)
			continue;
		if (rc == 0 && ipm_dir_sync(d->dirs[i]) < 0)
			rc = ipm_error_code();
	}
	xfree_strv(d->dirs, d->n);
	memset(d, 0, sizeof(*d));
	return rc;
}

static size_t depth(const char *p)
{
	size_t d = 0;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int deeper_first(const void *a, const void *b)
{
	size_t da = depth(*(const char *const *)a), db = depth(*(const char *const *)b);
	return da < db ? 1 : da > db ? -1 : 0;
}

static int shallower_first(const void *a, const void *b)
{
	return -deeper_first(a, b);
}

/* Removes the directories prefix/dirs[i] that are empty, deepest first. */
static void remove_empty_dirs(const char *prefix, char **dirs, size_t n, struct dir_set *changed)
{
	char **sorted;

	if (!n)
		return;
	sorted = xcalloc(n, sizeof(*sorted));
	memcpy(sorted, dirs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), deeper_first);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", prefix, sorted[i]);
		/* fails, as it should, when not empty */
		if (rmdir(path) == 0)
			dir_set_add_parent(changed, path);
		free(path);
	}
	free(sorted);
}

/* Creates the directories prefix/dirs[i] that are missing, shallowest first. */
static int make_dirs(const char *prefix, char **dirs, size_t n, struct dir_set *changed)
{
	char **sorted;
	int rc = 0;

	if (!n)
		return 0;
	sorted = xcalloc(n, sizeof(*sorted));
	memcpy(sorted, dirs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), shallower_first);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path = xasprintf("%s/%s", prefix, sorted[i]);
		if (mkdir(path, 0755) == 0)
			dir_set_add_parent(changed, path);
		else if (errno != EEXIST)
			rc = ipm_error_set(IPM_ERROR, "cannot create directory '%s': %s", path, strerror(errno));
		free(path);
	}
	free(sorted);
	return rc;
}

/* Removes store_dir and the parents that became empty. */
static int remove_store(const char *store_dir)
{
	char *parent = xstrdup(store_dir);
	char *slash = strrchr(parent, '/');
	int rc = ipm_rm_rf(store_dir);

	/* store/<name>, then store itself, when nothing else is left in them */
	for (int up = 0; up < 2 && slash && slash != parent; up++) {
		*slash = '\0';
		if (rmdir(parent) < 0)
			break;
		slash = strrchr(parent, '/');
	}
	free(parent);
	return rc;
}

/* ---- package rows ---- */

static char **strv_dup(char *const *v, size_t n)
{
	char **out;

	if (!v)
		return NULL;
	out = xcalloc(n ? n : 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

/* A deep copy of p, files included. */
static struct ipm_package_row *row_dup(const struct ipm_package_row *p)
{
	struct ipm_package_row *r = xcalloc(1, sizeof(*r));

	r->name = xstrdup(p->name);
	r->version = xstrdup(p->version);
	r->registry = xstrdup(p->registry);
	r->source = xstrdup(p->source);
	r->resolved = xstrdup(p->resolved);
	r->method = xstrdup(p->method);
	r->store_dir = xstrdup(p->store_dir);
	r->prefix = xstrdup(p->prefix);
	r->explicit_install = p->explicit_install;
	r->installed_at = p->installed_at;
	r->guessed_entry = xstrdup(p->guessed_entry);
	r->entry = xstrdup(p->entry);
	r->build_key = xstrdup(p->build_key);
	if (p->nfiles) {
		r->files = xcalloc(p->nfiles, sizeof(*r->files));
		for (size_t i = 0; i < p->nfiles; i++) {
			r->files[i].path = xstrdup(p->files[i].path);
			r->files[i].type = p->files[i].type;
			r->files[i].sha256 = xstrdup(p->files[i].sha256);
		}
		r->nfiles = p->nfiles;
	}
	r->depends = strv_dup(p->depends, p->ndepends);
	r->ndepends = p->ndepends;
	if (p->depend_constraints)
		r->depend_constraints = strv_dup(p->depend_constraints, p->ndepends);
	else if (p->ndepends)
		r->depend_constraints = xcalloc(p->ndepends, sizeof(char *));
	r->provides = strv_dup(p->provides, p->nprovides);
	r->nprovides = p->nprovides;
	r->needs = strv_dup(p->needs, p->nneeds);
	r->nneeds = p->nneeds;
	return r;
}

static void row_free(struct ipm_package_row *r)
{
	if (!r)
		return;
	ipm_package_row_release(r);
	free(r);
}

/* ---- the transaction and its journal ---- */

struct txn_link {
	char *path;   /* relative to the prefix */
	char *old;    /* target before, or NULL: no link there */
	char *new;    /* target after, or NULL: no link there */
};

struct txn_op {
	char *name;
	char *tag;         /* of the temporary link names */
	char *store;       /* the tree linked in, or NULL (a removal) */
	int fresh;         /* store was created by this transaction */
	struct txn_link *links;
	size_t nlinks, links_alloc;
	char **mkdirs;
	size_t nmkdirs, mkdirs_alloc;
	char **rmdirs;
	size_t nrmdirs, rmdirs_alloc;
	/* in memory only: what the commit writes */
	int staged;                    /* planned (row, old_version and links set) */
	int switched;                  /* journaled and applied */
	size_t *sorted;                /* link indices by path, once staged */
	char *old_version;             /* NULL: was not installed */
	struct ipm_package_row *row;   /* NULL: removed */
};

struct ipm_txn {
	struct ipm_ctx *ctx;
	char *uuid;
	char *prefix;
	char *journal;     /* its path */
	int written;       /* the journal exists */
	int finished;      /* committed or aborted */
	struct dir_set changed;   /* directories to sync before the commit */
	struct txn_op *ops;
	size_t nops, ops_alloc;
};

static void op_release(struct txn_op *op)
{
	free(op->name);
	free(op->tag);
	free(op->store);
	for (size_t i = 0; i < op->nlinks; i++) {
		free(op->links[i].path);
		free(op->links[i].old);
		free(op->links[i].new);
	}
	free(op->links);
	xfree_strv(op->mkdirs, op->nmkdirs);
	xfree_strv(op->rmdirs, op->nrmdirs);
	free(op->old_version);
	free(op->sorted);
	row_free(op->row);
	memset(op, 0, sizeof(*op));
}

static const struct txn_op *sort_op;

static int cmp_link_index(const void *a, const void *b)
{
	return strcmp(sort_op->links[*(const size_t *)a].path, sort_op->links[*(const size_t *)b].path);
}

/* Indexes op's links by path, for op_link_find. */
static void op_index_links(struct txn_op *op)
{
	free(op->sorted);
	op->sorted = xcalloc(op->nlinks ? op->nlinks : 1, sizeof(*op->sorted));
	for (size_t i = 0; i < op->nlinks; i++)
		op->sorted[i] = i;
	sort_op = op;
	qsort(op->sorted, op->nlinks, sizeof(*op->sorted), cmp_link_index);
	sort_op = NULL;
}

/* op's link at rel, or NULL. */
static const struct txn_link *op_link_find(const struct txn_op *op, const char *rel)
{
	size_t lo = 0, hi = op->nlinks;

	if (!op->sorted)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rel, op->links[op->sorted[mid]].path);
		if (c == 0)
			return &op->links[op->sorted[mid]];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void op_add_link(struct txn_op *op, const char *path, const char *old, const char *new)
{
	XGROW(op->links, op->links_alloc, op->nlinks + 1);
	op->links[op->nlinks].path = xstrdup(path);
	op->links[op->nlinks].old = xstrdup(old);
	op->links[op->nlinks].new = xstrdup(new);
	op->nlinks++;
}

static void strv_push(char ***v, size_t *n, size_t *alloc, const char *s)
{
	XGROW(*v, *alloc, *n + 1);
	(*v)[(*n)++] = xstrdup(s);
}

static int strv_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static struct txn_op *op_find(struct ipm_txn *t, const char *name)
{
	for (size_t i = 0; i < t->nops; i++)
		if (strcmp(t->ops[i].name, name) == 0)
			return &t->ops[i];
	return NULL;
}

static struct txn_op *op_add(struct ipm_txn *t, const char *name)
{
	struct txn_op *op;

	XGROW(t->ops, t->ops_alloc, t->nops + 1);
	op = &t->ops[t->nops++];
	memset(op, 0, sizeof(*op));
	op->name = xstrdup(name);
	op->tag = random_hex();
	return op;
}

static void add_strv_json(cJSON *obj, const char *key, char *const *v, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
}

static int journal_write(struct ipm_txn *t)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *ops = NULL;
	char *dir = xasprintf("%s/journal", t->ctx->cfg.home);
	char *text = NULL;
	int rc;

	cJSON_AddStringToObject(root, "uuid", t->uuid);
	cJSON_AddStringToObject(root, "prefix", t->prefix);
	ops = cJSON_AddArrayToObject(root, "ops");
	for (size_t i = 0; i < t->nops; i++) {
		const struct txn_op *op = &t->ops[i];
		cJSON *o = cJSON_CreateObject();
		cJSON *links = NULL;

		cJSON_AddStringToObject(o, "name", op->name);
		cJSON_AddStringToObject(o, "tag", op->tag);
		if (op->store)
			cJSON_AddStringToObject(o, "store", op->store);
		cJSON_AddBoolToObject(o, "fresh", op->fresh);
		links = cJSON_AddArrayToObject(o, "links");
		for (size_t k = 0; k < op->nlinks; k++) {
			cJSON *l = cJSON_CreateObject();
			cJSON_AddStringToObject(l, "path", op->links[k].path);
			if (op->links[k].old)
				cJSON_AddStringToObject(l, "old", op->links[k].old);
			if (op->links[k].new)
				cJSON_AddStringToObject(l, "new", op->links[k].new);
			cJSON_AddItemToArray(links, l);
		}
		add_strv_json(o, "mkdirs", op->mkdirs, op->nmkdirs);
		add_strv_json(o, "rmdirs", op->rmdirs, op->nrmdirs);
		cJSON_AddItemToArray(ops, o);
	}
	text = cJSON_PrintUnformatted(root);
	rc = ipm_mkdir_p(dir, 0755);
	if (rc == 0)
		rc = ipm_file_write_atomic(t->journal, text, strlen(text));
	if (rc == 0)
		t->written = 1;
	cJSON_Delete(root);
	free(text);
	free(dir);
	return rc;
}

static void journal_delete(struct ipm_txn *t)
{
	char *dir = xasprintf("%s/journal", t->ctx->cfg.home);

	if (t->written && unlink(t->journal) == 0)
		ipm_dir_sync(dir);
	t->written = 0;
	free(dir);
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A relative path that stays inside the prefix. */
static int safe_rel(const char *rel)
{
	return rel && *rel && rel[0] != '/' && strcmp(rel, "..") != 0 && strncmp(rel, "../", 3) != 0 &&
	       !strstr(rel, "/../") && !(strlen(rel) >= 3 && strcmp(rel + strlen(rel) - 3, "/..") == 0);
}

static int journal_load(struct ipm_txn *t, const char *path)
{
	char *text = NULL;
	cJSON *root = NULL;
	const cJSON *o;
	int rc;

	if ((rc = ipm_file_read(&text, NULL, path)) < 0)
		return rc;
	root = cJSON_Parse(text);
	if (!root || !json_str(root, "uuid") || !json_str(root, "prefix")) {
		rc = ipm_error_set(IPM_EINVAL, "journal '%s' is damaged", path);
		goto done;
	}
	t->uuid = xstrdup(json_str(root, "uuid"));
	t->prefix = xstrdup(json_str(root, "prefix"));
	t->journal = xstrdup(path);
	t->written = 1;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "ops")) {
		const char *name = json_str(o, "name"), *tag = json_str(o, "tag");
		const cJSON *item;
		struct txn_op *op;

		/* a tag is part of a file name: hex digits only */
		if (!name || !tag || strlen(tag) > 32 || !ipm_is_hex(tag, strlen(tag))) {
			rc = ipm_error_set(IPM_EINVAL, "journal '%s' is damaged", path);
			goto done;
		}
		op = op_add(t, name);
		free(op->tag);
		op->tag = xstrdup(tag);
		op->store = xstrdup(json_str(o, "store"));
		op->fresh = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "fresh"));
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "links"))
			if (safe_rel(json_str(item, "path")))
				op_add_link(op, json_str(item, "path"), json_str(item, "old"), json_str(item, "new"));
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "mkdirs"))
			if (cJSON_IsString(item) && safe_rel(item->valuestring))
				strv_push(&op->mkdirs, &op->nmkdirs, &op->mkdirs_alloc, item->valuestring);
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "rmdirs"))
			if (cJSON_IsString(item) && safe_rel(item->valuestring))
				strv_push(&op->rmdirs, &op->nrmdirs, &op->rmdirs_alloc, item->valuestring);
	}
done:
	cJSON_Delete(root);
	free(text);
	return rc;
}

int ipm_txn_begin(struct ipm_txn **out, struct ipm_ctx *ctx)
{
	struct ipm_txn *t = xcalloc(1, sizeof(*t));
	char *a = random_hex(), *b = random_hex();

	t->ctx = ctx;
	t->uuid = xasprintf("%s%s", a, b);
	t->prefix = ipm_path_absolute(ctx->cfg.prefix);
	t->journal = xasprintf("%s/journal/txn-%s.json", ctx->cfg.home, t->uuid);
	free(a);
	free(b);
	*out = t;
	return 0;
}

size_t ipm_txn_size(const struct ipm_txn *t)
{
	return t->nops;
}

int ipm_txn_new_store(char **out, struct ipm_txn *t, const char *name, const char *version)
{
	char *rel = xasprintf("%s/store/%s/%s", t->ctx->cfg.home, name, version);
	char *base = ipm_path_absolute(rel);
	char *dir = NULL;
	struct txn_op *op;
	int rc = 0;

	*out = NULL;
	free(rel);
	if (op_find(t, name)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is changed twice in one plan", name);
		goto done;
	}
	for (unsigned n = 0;; n++) {
		int known = 0;
		dir = n == 0 ? xstrdup(base) : n == 1 ? xasprintf("%s@rebuild", base) :
			       xasprintf("%s@rebuild-%u", base, n);
		if (!ipm_path_exists(dir)) {
			if ((rc = ipm_db_store_dir_known(&known, t->ctx->db, dir)) < 0)
				goto done;
			if (!known)
				break;
		}
		free(dir);
		dir = NULL;
	}
	op = op_add(t, name);
	op->store = xstrdup(dir);
	op->fresh = 1;
	if ((rc = journal_write(t)) < 0) {
		op_release(op);
		t->nops--;
		goto done;
	}
	*out = dir;
	dir = NULL;
done:
	free(dir);
	free(base);
	return rc;
}

/*
 * Fault injection for the tests of interrupted transactions: with
 * IPM_TEST_CRASH=switch:N ipm kills itself (SIGKILL) once the Nth switch of
 * a transaction is in the prefix, with commit after the database commit
 * and before the journal is deleted. Unset, it costs one getenv a step.
 */
static void crash_point(const char *point, size_t n)
{
	const char *want = getenv("IPM_TEST_CRASH");
	size_t len = strlen(point);

	if (!want || strncmp(want, point, len) != 0)
		return;
	if (want[len] == '\0' || (want[len] == ':' && strtoull(want + len + 1, NULL, 10) == n))
		raise(SIGKILL);
}

/* ---- planning a switch ---- */

static int owner_of(char **out, struct ipm_ctx *ctx, const char *rel)
{
	int rc = ipm_db_file_owner(out, ctx->db, rel);
	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		*out = NULL;
		return 0;
	}
	return rc;
}

/* The other package of this transaction whose new tree target lies in. */
static const char *txn_owner(const struct ipm_txn *t, const char *target, const struct txn_op *self)
{
	for (size_t i = 0; i < t->nops; i++)
		if (&t->ops[i] != self && t->ops[i].store && t->ops[i].switched && inside(target, t->ops[i].store))
			return t->ops[i].name;
	return NULL;
}

/* Whether another package of this transaction creates directory rel. */
static int txn_made_dir(const struct ipm_txn *t, const struct txn_op *self, const char *rel)
{
	for (size_t i = 0; i < t->nops; i++)
		if (&t->ops[i] != self && strv_has(t->ops[i].mkdirs, t->ops[i].nmkdirs, rel))
			return 1;
	return 0;
}

/* The link at rel of an op planned in the same batch as self (staged, not
 * yet applied), or NULL; *owner: its package. */
static const struct txn_link *staged_link(const struct ipm_txn *t, const struct txn_op *self, const char *rel,
					  const char **owner)
{
	for (size_t i = t->nops; i-- > 0;) {
		const struct txn_op *op = &t->ops[i];
		const struct txn_link *l;
		if (op == self || !op->staged || op->switched)
			continue;
		if ((l = op_link_find(op, rel))) {
			*owner = op->name;
			return l;
		}
	}
	return NULL;
}

/* IPM_ERROR when the directory holding path cannot be changed by us
 * (checked before anything changes). cache: the directory last found
 * writable. */
static int check_writable(const char *path, char **cache, int removing)
{
	char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	int rc = 0;

	if (*cache && strcmp(*cache, dir) == 0) {
		free(dir);
		return 0;
	}
	if (ipm_is_dir(dir) && access(dir, W_OK | X_OK) != 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot %s link '%s': %s", removing ? "remove" : "create", path,
				   strerror(errno));
		ipm_error_hint("make '%s' writable, then try again: nothing was changed", dir);
		free(dir);
		return rc;
	}
	free(*cache);
	*cache = dir;
	return 0;
}

/* A sorted set of relative paths, for "is it in the new tree". */
static int bsearch_cmp(const void *key, const void *elem)
{
	return strcmp((const char *)key, *(char *const *)elem);
}

/*
 * Fills files from a walk of store (files and symlinks with their sha256,
 * every directory). Directories are pruned to the ones ipm records later.
 */
static int files_from_tree(struct ipm_file_row **out, size_t *nout, const char *store)
{
	struct ipm_tree tree = { 0 };
	struct ipm_file_row *files = NULL;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = ipm_tree_walk(&tree, store)) < 0)
		return rc;
	files = xcalloc(tree.n ? tree.n : 1, sizeof(*files));
	for (size_t i = 0; i < tree.n && rc == 0; i++) {
		files[i].path = xstrdup(tree.files[i].rel);
		files[i].type = tree.files[i].type;
		if (files[i].type == 'f') {
			char sum[65];
			char *path = xasprintf("%s/%s", store, tree.files[i].rel);
			rc = ipm_sha256_file(sum, path);
			free(path);
			files[i].sha256 = rc == 0 ? xstrdup(sum) : NULL;
		}
	}
	*out = files;
	*nout = tree.n;
	ipm_tree_release(&tree);
	return rc;
}

static void files_free(struct ipm_file_row *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].sha256);
	}
	free(files);
}

struct switch_plan {
	struct ipm_file_row *rows;   /* the new row's files (directories: the ones ipm records) */
	size_t nrows, rows_alloc;
};

static void plan_add_row(struct switch_plan *p, const char *path, char type, const char *sha256)
{
	XGROW(p->rows, p->rows_alloc, p->nrows + 1);
	p->rows[p->nrows].path = xstrdup(path);
	p->rows[p->nrows].type = type;
	p->rows[p->nrows].sha256 = xstrdup(sha256);
	p->nrows++;
}

/* The parent directories of rel that are missing in the prefix and not yet
 * planned: created too (a tree from history lists only the directories ipm
 * created back then). */
static void plan_parents(struct txn_op *op, struct switch_plan *p, const char *prefix, const char *rel)
{
	const char *slash;

	for (slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
		char *dir = xstrndup(rel, (size_t)(slash - rel));
		char *path = xasprintf("%s/%s", prefix, dir);
		if (!strv_has(op->mkdirs, op->nmkdirs, dir) && !ipm_path_exists(path)) {
			strv_push(&op->mkdirs, &op->nmkdirs, &op->mkdirs_alloc, dir);
			plan_add_row(p, dir, 'd', NULL);
		}
		free(path);
		free(dir);
	}
}

/* The links, directories and file rows of switching op from old (may be
 * NULL) to the tree with files; nothing is changed. */
static int plan_switch(struct ipm_txn *t, struct txn_op *op, struct switch_plan *p,
		       const struct ipm_package_row *old, const struct ipm_file_row *files, size_t nfiles,
		       int from_history)
{
	char **new_paths = NULL, **new_dirs = NULL;
	size_t nnew = 0, nnew_dirs = 0;
	char *writable = NULL;
	int rc = 0;

	new_paths = xcalloc(nfiles ? nfiles : 1, sizeof(*new_paths));
	new_dirs = xcalloc(nfiles ? nfiles : 1, sizeof(*new_dirs));
	for (size_t i = 0; i < nfiles && rc == 0; i++) {
		const struct ipm_file_row *f = &files[i];
		char *path = xasprintf("%s/%s", t->prefix, f->path);
		char *owner = NULL;
		struct stat st;

		if (f->type == 'd') {
			new_dirs[nnew_dirs++] = f->path;
			if (lstat(path, &st) < 0) {
				plan_parents(op, p, t->prefix, f->path);
				if (!strv_has(op->mkdirs, op->nmkdirs, f->path)) {
					strv_push(&op->mkdirs, &op->nmkdirs, &op->mkdirs_alloc, f->path);
					plan_add_row(p, f->path, 'd', NULL);
				}
			} else if (S_ISDIR(st.st_mode)) {
				/* Created by ipm (for an earlier version, or for
				 * another package): recorded too, so that whichever
				 * package leaves it empty removes it. */
				if (from_history || txn_made_dir(t, op, f->path)) {
					plan_add_row(p, f->path, 'd', NULL);
				} else if ((rc = owner_of(&owner, t->ctx, f->path)) == 0 && owner) {
					plan_add_row(p, f->path, 'd', NULL);
				}
			} else if (S_ISLNK(st.st_mode) && ipm_is_dir(path) &&
				   (rc = owner_of(&owner, t->ctx, f->path)) == 0 && !owner) {
				/* the user's own link to a directory (lib64 -> lib) */
			} else if (rc == 0) {
				rc = ipm_error_set(IPM_ECONFLICT, "'%s' exists and is not a directory", path);
				ipm_error_hint("remove or move it, then try again");
			}
			goto next;
		}
		new_paths[nnew++] = f->path;
		{
			char *target = xasprintf("%s/%s", op->store, f->path);
			const char *prev_owner = NULL;
			const struct txn_link *prev = staged_link(t, op, f->path, &prev_owner);
			if (prev && prev->new) {
				rc = ipm_error_set(IPM_ECONFLICT, "'%s' is owned by '%s'", path, prev_owner);
				ipm_error_hint("remove or move it, then try again");
			} else if (prev) {
				/* taken away by a package before this one */
				if ((rc = check_writable(path, &writable, 0)) == 0)
					op_add_link(op, f->path, NULL, target);
			} else if (lstat(path, &st) < 0) {
				if (from_history)
					plan_parents(op, p, t->prefix, f->path);
				if ((rc = check_writable(path, &writable, 0)) == 0)
					op_add_link(op, f->path, NULL, target);
			} else if (S_ISLNK(st.st_mode) && old && links_into(path, old->store_dir)) {
				char *was = ipm_link_read(path);
				if ((rc = check_writable(path, &writable, 0)) == 0)
					op_add_link(op, f->path, was, target);
				free(was);
			} else {
				char *was = S_ISLNK(st.st_mode) ? ipm_link_read(path) : NULL;
				const char *other = was ? txn_owner(t, was, op) : NULL;
				if (other) {
					rc = ipm_error_set(IPM_ECONFLICT, "'%s' is owned by '%s'", path, other);
				} else if ((rc = owner_of(&owner, t->ctx, f->path)) < 0) {
					/* the error */
				} else if (owner && strcmp(owner, op->name) == 0 && was) {
					/* its own link that pointed elsewhere: replaced */
					if ((rc = check_writable(path, &writable, 0)) == 0)
						op_add_link(op, f->path, was, target);
				} else if (owner) {
					rc = ipm_error_set(IPM_ECONFLICT, "'%s' is owned by '%s'", path, owner);
				} else {
					rc = ipm_error_set(IPM_ECONFLICT, "'%s' exists and is not owned by ipm", path);
				}
				if (rc == IPM_ECONFLICT)
					ipm_error_hint("remove or move it, then try again");
				free(was);
			}
			free(target);
		}
		if (rc == 0)
			plan_add_row(p, f->path, f->type, f->sha256);
next:
		free(owner);
		free(path);
	}
	if (rc == 0 && old) {
		qsort(new_paths, nnew, sizeof(*new_paths), cmp_strp);
		qsort(new_dirs, nnew_dirs, sizeof(*new_dirs), cmp_strp);
		for (size_t i = 0; i < old->nfiles && rc == 0; i++) {
			const struct ipm_file_row *f = &old->files[i];
			char *path;

			if (f->type == 'd') {
				if (!bsearch(f->path, new_dirs, nnew_dirs, sizeof(*new_dirs), bsearch_cmp))
					strv_push(&op->rmdirs, &op->nrmdirs, &op->rmdirs_alloc, f->path);
				continue;
			}
			if (bsearch(f->path, new_paths, nnew, sizeof(*new_paths), bsearch_cmp))
				continue;
			path = xasprintf("%s/%s", t->prefix, f->path);
			if (links_into(path, old->store_dir)) {
				char *was = ipm_link_read(path);
				if ((rc = check_writable(path, &writable, 1)) == 0)
					op_add_link(op, f->path, was, NULL);
				free(was);
			} else if (ipm_path_exists(path)) {
				ipm_log(IPM_LOG_WARN, "'%s' was changed after ipm installed it; leaving it", path);
			}
			free(path);
		}
	}
	free(writable);
	free(new_paths);
	free(new_dirs);
	return rc;
}

/*
 * Makes op's changes but the directories it empties (recorded in the
 * journal before; ipm_txn_switch_many removes those). The directories it
 * changed are synced once for the whole transaction, before its commit
 * point: until then a change lost in a crash is one recovery need not undo.
 */
static int apply_op(struct ipm_txn *t, struct txn_op *op)
{
	struct dir_set *changed = &t->changed;
	int rc;

	if ((rc = make_dirs(t->prefix, op->mkdirs, op->nmkdirs, changed)) < 0)
		return rc;
	for (size_t i = 0; i < op->nlinks && rc == 0; i++) {
		const struct txn_link *l = &op->links[i];
		char *path = xasprintf("%s/%s", t->prefix, l->path);
		if (l->new) {
			char *tmp = link_tmp_path(path, op->tag, i);
			rc = link_atomic(l->new, path, tmp);
			free(tmp);
		} else if (unlink(path) < 0 && errno != ENOENT) {
			rc = ipm_error_set(IPM_ERROR, "cannot remove link '%s': %s", path, strerror(errno));
		}
		dir_set_add_parent(changed, path);
		free(path);
	}
	return rc;
}

/*
 * Undoes op: removed directories back, every link back to its old target
 * (only where it is still what the op made it), created directories removed
 * when empty, a fresh store deleted. A link that cannot be put back is the
 * error, and the store stays (no link dangles).
 */
static int undo_op(const char *prefix, const struct txn_op *op)
{
	struct dir_set changed = { 0 };
	int rc = 0, sync_rc;

	make_dirs(prefix, op->rmdirs, op->nrmdirs, &changed);
	ipm_error_clear();
	for (size_t n = op->nlinks; n-- > 0;) {
		const struct txn_link *l = &op->links[n];
		char *path = xasprintf("%s/%s", prefix, l->path);
		char *tmp = link_tmp_path(path, op->tag, n);
		char *now = ipm_link_read(tmp);
		int step = 0;

		/* a kill between link_atomic's symlink and rename */
		if (now && ((l->new && strcmp(now, l->new) == 0) || (l->old && strcmp(now, l->old) == 0)) &&
		    unlink(tmp) == 0)
			dir_set_add_parent(&changed, tmp);
		free(now);
		now = ipm_link_read(path);
		if (l->new && now && strcmp(now, l->new) == 0) {
			if (l->old)
				step = link_atomic(l->old, path, tmp);
			else if (unlink(path) < 0 && errno != ENOENT)
				step = ipm_error_set(IPM_ERROR, "cannot remove link '%s': %s", path, strerror(errno));
			dir_set_add_parent(&changed, path);
		} else if (!l->new && l->old && !ipm_path_exists(path)) {
			step = link_atomic(l->old, path, tmp);
			dir_set_add_parent(&changed, path);
		}
		if (step < 0 && rc == 0)
			rc = step;
		free(now);
		free(tmp);
		free(path);
	}
	remove_empty_dirs(prefix, op->mkdirs, op->nmkdirs, &changed);
	sync_rc = dir_set_sync(&changed);
	if (rc == 0)
		rc = sync_rc;
	if (rc == 0 && op->fresh && op->store)
		rc = remove_store(op->store);
	return rc;
}

/* Undoes every op, last first; 0 when all of it was undone. */
static int undo_all(struct ipm_txn *t)
{
	int rc = 0;

	for (size_t i = t->nops; i-- > 0;) {
		if (undo_op(t->prefix, &t->ops[i]) < 0 && rc == 0)
			rc = ipm_error_code();
	}
	return rc;
}

/* Forgets what a batch staged but never journaled (its plans changed
 * nothing): the ops it added (from n_before on) go, and an op of a fresh
 * store made before it keeps its store, unplanned. */
static void unstage(struct ipm_txn *t, size_t n_before)
{
	for (size_t i = t->nops; i-- > 0;) {
		struct txn_op *op = &t->ops[i];
		if (op->switched)
			continue;
		if (i >= n_before) {
			op_release(op);
			t->nops--;
			continue;
		}
		for (size_t k = 0; k < op->nlinks; k++) {
			free(op->links[k].path);
			free(op->links[k].old);
			free(op->links[k].new);
		}
		op->nlinks = 0;
		xfree_strv(op->mkdirs, op->nmkdirs);
		xfree_strv(op->rmdirs, op->nrmdirs);
		op->mkdirs = op->rmdirs = NULL;
		op->nmkdirs = op->nrmdirs = op->mkdirs_alloc = op->rmdirs_alloc = 0;
		free(op->sorted);
		op->sorted = NULL;
		free(op->old_version);
		op->old_version = NULL;
		row_free(op->row);
		op->row = NULL;
		op->staged = 0;
	}
}
/* Plans name's switch to row (NULL: removal) into its op, changing
 * nothing: the links, directories and the row to commit. */
static int stage_op(struct ipm_txn *t, const char *name, const struct ipm_package_row *row)
{
	struct ipm_package_row old;
	struct switch_plan p = { 0 };
	struct ipm_file_row *walked = NULL;
	size_t nwalked = 0;
	struct txn_op *op = op_find(t, name);
	int have_old = 0, same_tree, rc;

	memset(&old, 0, sizeof(old));
	if (op && (op->switched || op->staged || !row || !op->store || strcmp(op->store, row->store_dir) != 0))
		return ipm_error_set(IPM_EINVAL, "'%s' is changed twice in one plan", name);
	rc = ipm_db_package_get(&old, t->ctx->db, name, 1);
	if (rc == 0)
		have_old = 1;
	else if (rc != IPM_ENOTFOUND)
		return rc;
	ipm_error_clear();
	rc = 0;
	if (!op) {
		op = op_add(t, name);
		op->store = row ? xstrdup(row->store_dir) : NULL;
	}
	same_tree = have_old && row && old.store_dir && strcmp(old.store_dir, row->store_dir) == 0;
	if (same_tree) {
		/* the same tree (a rollback that changes only the row) */
	} else if (row) {
		if (!row->files && (rc = files_from_tree(&walked, &nwalked, row->store_dir)) < 0)
			goto done;
		rc = plan_switch(t, op, &p, have_old ? &old : NULL, row->files ? row->files : walked,
				 row->files ? row->nfiles : nwalked, row->files != NULL);
	} else if (have_old) {
		rc = plan_switch(t, op, &p, &old, NULL, 0, 0);
	}
	if (rc < 0)
		goto done;
	op->staged = 1;
	op->old_version = have_old ? xstrdup(old.version) : NULL;
	if (row) {
		struct ipm_package_row *r = row_dup(row);
		if (!same_tree) {
			/* the file rows as linked now */
			files_free(r->files, r->nfiles);
			r->files = p.rows;
			r->nfiles = p.nrows;
			p.rows = NULL;
			p.nrows = 0;
		}
		free(r->prefix);
		r->prefix = xstrdup(t->prefix);
		op->row = r;
	}
	op_index_links(op);
done:
	files_free(p.rows, p.nrows);
	files_free(walked, nwalked);
	if (have_old)
		ipm_package_row_release(&old);
	return rc;
}

int ipm_txn_switch_many(struct ipm_txn *t, const char *const *names, const struct ipm_package_row *const *rows,
			size_t n)
{
	size_t n_before = t->nops;
	char *applied = NULL;
	int rc = 0;

	/* Planned together, journaled once, applied in order: each plan sees
	 * what the staged ones before it take away or put in place. */
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = stage_op(t, names[i], rows ? rows[i] : NULL);
	/* the prefix itself stays, like any directory the user made */
	if (rc == 0 && rows)
		rc = ipm_mkdir_p(t->prefix, 0755);
	if (rc == 0)
		rc = journal_write(t);
	if (rc < 0) {
		unstage(t, n_before);
		return rc;
	}
	applied = xcalloc(t->nops ? t->nops : 1, 1);
	for (size_t i = 0; i < t->nops && rc == 0; i++) {
		if (t->ops[i].staged && !t->ops[i].switched) {
			t->ops[i].switched = 1;
			applied[i] = 1;
			if ((rc = apply_op(t, &t->ops[i])) == 0)
				crash_point("switch", i + 1);
		}
	}
	/* directories emptied go last: a later op may put files into them */
	for (size_t i = 0; i < t->nops && rc == 0; i++)
		if (applied[i])
			remove_empty_dirs(t->prefix, t->ops[i].rmdirs, t->ops[i].nrmdirs, &t->changed);
	free(applied);
	return rc;
}

int ipm_txn_switch(struct ipm_txn *t, const char *name, const struct ipm_package_row *row)
{
	return ipm_txn_switch_many(t, &name, row ? &row : NULL, 1);
}

int ipm_txn_commit(int64_t *out_id, struct ipm_txn *t)
{
	struct ipm_txn_change *changes = xcalloc(t->nops ? t->nops : 1, sizeof(*changes));
	struct ipm_txn_record rec = { 0 };
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < t->nops; i++) {
		const struct txn_op *op = &t->ops[i];
		if (!op->switched)
			continue;
		changes[n].name = op->name;
		changes[n].old_version = op->old_version;
		changes[n].row = op->row;
		n++;
	}
	rec.uuid = t->uuid;
	rec.command = t->ctx->command_line ? t->ctx->command_line : "(unknown)";
	rec.at = (int64_t)time(NULL);
	rec.changes = changes;
	rec.nchanges = n;
	/* The journal is on disk (written before each change); the links must
	 * be too before the rows that say they are: the commit point. */
	rc = dir_set_sync(&t->changed);
	if (rc == 0)
		rc = ipm_db_txn_commit(out_id, t->ctx->db, &rec);
	free(changes);
	if (rc < 0) {
		ipm_txn_abort(t);
		return rc;
	}
	t->finished = 1;
	crash_point("commit", 0);
	journal_delete(t);
	return 0;
}

/* "'a', 'b'": the names of t's ops. */
static char *op_names(const struct ipm_txn *t)
{
	struct ipm_buf b = IPM_BUF_INIT;
	for (size_t i = 0; i < t->nops; i++)
		ipm_buf_addf(&b, "%s'%s'", i ? ", " : "", t->ops[i].name);
	return ipm_buf_detach(&b);
}

void ipm_txn_abort(struct ipm_txn *t)
{
	struct ipm_error_saved saved;

	if (t->finished)
		return;
	t->finished = 1;
	ipm_error_save(&saved);
	if (undo_all(t) < 0) {
		char *names = op_names(t);
		ipm_log(IPM_LOG_WARN, "cannot undo the changes of %s: %s; the next ipm run tries again", names,
			ipm_error_message());
		free(names);
	} else {
		journal_delete(t);
	}
	ipm_error_restore(&saved);
}

void ipm_txn_free(struct ipm_txn *t)
{
	if (!t)
		return;
	if (!t->finished)
		ipm_txn_abort(t);
	for (size_t i = 0; i < t->nops; i++)
		op_release(&t->ops[i]);
	free(t->ops);
	xfree_strv(t->changed.dirs, t->changed.n);
	free(t->uuid);
	free(t->prefix);
	free(t->journal);
	free(t);
}

/* ---- recovery ---- */

/*
 * A journal of an earlier ipm, one per package ($IPM_HOME/journal/NAME.json:
 * "name", "store_dir", "prefix", "tmp", "links" [{"path", "old"}], "dirs",
 * and "old" for the previous version of an upgrade), turned into what this
 * one does: when the database names store_dir the change was committed, and
 * only the previous version's links remain to be taken away; otherwise it is
 * undone like a transaction of one fresh tree.
 */
static int recover_legacy(struct ipm_ctx *ctx, const cJSON *root)
{
	const char *name = json_str(root, "name"), *store = json_str(root, "store_dir");
	const char *prefix = json_str(root, "prefix"), *tag = json_str(root, "tmp");
	const cJSON *old = cJSON_GetObjectItemCaseSensitive(root, "old");
	struct ipm_package_row row;
	const cJSON *item;
	struct txn_op op;
	int committed = 0, rc = 0;

	memset(&row, 0, sizeof(row));
	memset(&op, 0, sizeof(op));
	if (ipm_db_package_get(&row, ctx->db, name, 0) == 0) {
		committed = row.store_dir && strcmp(row.store_dir, store) == 0;
		ipm_package_row_release(&row);
	}
	ipm_error_clear();
	if (committed && !cJSON_IsObject(old))
		return 0;
	if (committed) {
		/* the previous version's links go, as its commit would have
		 * done; its tree stays for clean */
		store = json_str(old, "store_dir");
		prefix = json_str(old, "prefix") ? json_str(old, "prefix") : prefix;
		root = old;
		tag = NULL;
		if (!store)
			return 0;
	}
	op.name = xstrdup(name);
	op.tag = tag && strlen(tag) <= 32 && ipm_is_hex(tag, strlen(tag)) ? xstrdup(tag) : NULL;
	op.store = xstrdup(store);
	op.fresh = !committed;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "links")) {
		const char *rel = cJSON_IsString(item) ? item->valuestring : json_str(item, "path");
		char *target;
		if (!safe_rel(rel))
			continue;
		target = xasprintf("%s/%s", store, rel);
		op_add_link(&op, rel, committed ? NULL : json_str(item, "old"), target);
		free(target);
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "dirs"))
		if (cJSON_IsString(item) && safe_rel(item->valuestring))
			strv_push(&op.mkdirs, &op.nmkdirs, &op.mkdirs_alloc, item->valuestring);
	if (!committed)
		ipm_log(IPM_LOG_INFO, "cleaning up after an interrupted ipm ('%s')", name);
	/* undoing "link into store" is what both need: back to the old target
	 * (none when committed), directories removed when empty */
	rc = undo_op(prefix, &op);
	op_release(&op);
	return rc;
}

static int recover_one(struct ipm_ctx *ctx, const char *path, const char *file)
{
	struct ipm_txn *t = xcalloc(1, sizeof(*t));
	int committed = 0;
	int rc;

	t->ctx = ctx;
	rc = journal_load(t, path);
	if (rc < 0) {
		char *text = NULL;
		cJSON *root = NULL;
		if (ipm_file_read(&text, NULL, path) == 0 && (root = cJSON_Parse(text)) &&
		    json_str(root, "name") && json_str(root, "store_dir") && json_str(root, "prefix")) {
			ipm_error_clear();
			rc = recover_legacy(ctx, root);
			cJSON_Delete(root);
			free(text);
			if (rc == 0) {
				unlink(path);
			} else {
				ipm_log(IPM_LOG_WARN, "cannot finish cleaning up after an interrupted ipm ('%s'): %s",
					file, ipm_error_message());
				ipm_error_clear();
			}
			rc = 0;
			goto done;
		}
		cJSON_Delete(root);
		free(text);
		/* A damaged journal can only be an unfinished atomic write of
		 * ours (which never replaced a good one): drop it. */
		ipm_log(IPM_LOG_WARN, "%s; removing it", ipm_error_message());
		ipm_error_clear();
		unlink(path);
		rc = 0;
		goto done;
	}
	if ((rc = ipm_db_txn_committed(&committed, ctx->db, t->uuid)) < 0)
		goto done;
	if (!committed) {
		char *names = op_names(t);
		if (t->nops)
			ipm_log(IPM_LOG_INFO, "cleaning up after an interrupted ipm (%s)", names);
		free(names);
		rc = undo_all(t);
	}
	if (rc == 0) {
		t->written = 1;
		journal_delete(t);
	} else {
		char *names = op_names(t);
		ipm_log(IPM_LOG_WARN, "cannot finish cleaning up after an interrupted ipm (%s): %s",
			*names ? names : file, ipm_error_message());
		ipm_error_clear();
		free(names);
	}
done:
	t->finished = 1;
	ipm_txn_free(t);
	return 0;
}

int ipm_txn_recover(struct ipm_ctx *ctx)
{
	char *dir_path = xasprintf("%s/journal", ctx->cfg.home);
	DIR *dir = opendir(dir_path);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0;

	/* What cannot be cleaned now is reported and kept for the next run:
	 * it must not stop commands that have nothing to do with it. */
	while (dir && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
			XGROW(names, alloc, n + 1);
			names[n++] = xstrdup(de->d_name);
		} else {
			char *path = xasprintf("%s/%s", dir_path, de->d_name);
			unlink(path);   /* leftovers of an interrupted atomic write */
			free(path);
		}
	}
	if (dir)
		closedir(dir);
	/* Several are left only when recovery could not finish one (it stays
	 * until it can) and other transactions ran since: those changed other
	 * packages (ipm_txn_check_unfinished), and each journal only undoes
	 * what it did, so the order does not matter. */
	if (n)
		qsort(names, n, sizeof(*names), cmp_strp);
	for (size_t i = n; i-- > 0;) {
		char *path = xasprintf("%s/%s", dir_path, names[i]);
		recover_one(ctx, path, names[i]);
		free(path);
	}
	xfree_strv(names, n);
	free(dir_path);
	return 0;
}

/* The package and store tree of an earlier ipm's journal at path (see
 * recover_legacy); 0 when it is one. */
static int legacy_info(char **out_name, char **out_store, const char *path)
{
	char *text = NULL;
	cJSON *root = NULL;
	int rc = -1;

	*out_name = *out_store = NULL;
	if (ipm_file_read(&text, NULL, path) == 0 && (root = cJSON_Parse(text)) && json_str(root, "name") &&
	    json_str(root, "store_dir")) {
		*out_name = xstrdup(json_str(root, "name"));
		*out_store = xstrdup(json_str(root, "store_dir"));
		rc = 0;
	}
	ipm_error_clear();
	cJSON_Delete(root);
	free(text);
	return rc;
}

int ipm_txn_check_unfinished(struct ipm_ctx *ctx, const char *name)
{
	char *dir_path = xasprintf("%s/journal", ctx->cfg.home);
	DIR *dir = opendir(dir_path);
	struct dirent *de;
	int rc = 0;

	while (rc == 0 && dir && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char *legacy_name = NULL, *legacy_store = NULL;
		struct ipm_txn *t;
		char *path;

		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		path = xasprintf("%s/%s", dir_path, de->d_name);
		t = xcalloc(1, sizeof(*t));
		t->ctx = ctx;
		t->finished = 1;
		if (journal_load(t, path) < 0 && legacy_info(&legacy_name, &legacy_store, path) == 0) {
			op_add(t, legacy_name);
			free(legacy_name);
			free(legacy_store);
		}
		if (op_find(t, name)) {
			rc = ipm_error_set(IPM_ECONFLICT, "an earlier change of '%s' is not finished: cleaning up "
					   "after it failed", name);
			ipm_error_hint("the warning above says why; once that is fixed, the next ipm command "
				       "finishes it (its record is '%s')", path);
		} else if (rc == 0) {
			ipm_error_clear();
		}
		ipm_txn_free(t);
		free(path);
	}
	if (dir)
		closedir(dir);
	free(dir_path);
	return rc;
}

int ipm_txn_pending_stores(char ***out, size_t *nout, struct ipm_ctx *ctx)
{
	char *dir_path = xasprintf("%s/journal", ctx->cfg.home);
	DIR *dir = opendir(dir_path);
	struct dirent *de;
	char **stores = NULL;
	size_t n = 0, alloc = 0;

	while (dir && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		struct ipm_txn *t;
		char *path;

		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		path = xasprintf("%s/%s", dir_path, de->d_name);
		t = xcalloc(1, sizeof(*t));
		t->ctx = ctx;
		t->finished = 1;
		if (journal_load(t, path) == 0) {
			for (size_t i = 0; i < t->nops; i++)
				if (t->ops[i].store)
					strv_push(&stores, &n, &alloc, t->ops[i].store);
		} else {
			char *legacy_name = NULL, *legacy_store = NULL;
			if (legacy_info(&legacy_name, &legacy_store, path) == 0)
				strv_push(&stores, &n, &alloc, legacy_store);
			free(legacy_name);
			free(legacy_store);
		}
		ipm_error_clear();
		ipm_txn_free(t);
		free(path);
	}
	if (dir)
		closedir(dir);
	free(dir_path);
	*out = stores;
	*nout = n;
	return 0;
}
