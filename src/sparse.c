/*
 * Fetching sparse registries (sparse.h): the shards whose digest changed,
 * the package files this database holds whose digest changed, and, when a
 * lookup needs one, the package file of an entry not fetched yet. Every
 * file is checked against the digest that names it (the root's for shards,
 * a shard's for package files), so a signed root covers all of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/similar.h"
#include "ipm/sparse.h"
#include "ipm/xalloc.h"

/* Transfers in flight: enough to hide the round trips, few enough to be
 * polite to one server (browsers use six connections per host). */
#define SPARSE_PARALLEL 8

/* What the root says of one shard. */
struct shard_ref {
	char id[3];
	char sha256[65];
	unsigned long long size;
};

/* One line of a shard. */
struct listed {
	char *name;
	char sha256[65];
	unsigned long long size;
	char *repo;
	char *description;
	char *keywords;        /* space-separated */
};

struct shard {
	struct shard_ref ref;
	char *path;                /* shards/<id>.json */
	struct listed *pkgs;
	size_t npkgs;
	const struct ipm_http_req *req;   /* its fetch, NULL for a shard gone */
};

/* One entry to write: added or changed. */
struct change {
	const struct listed *pkg;
	const char *shard;
	char *path;                /* its package file */
	int fetch;                 /* held: its new file is fetched */
	char *json;                /* the fetched file */
	struct ipm_http_req *req;
};

static int cmp_file_path(const void *a, const void *b)
{
	return strcmp(((const struct ipm_registry_file *)a)->path, ((const struct ipm_registry_file *)b)->path);
}

static const struct ipm_registry_file *file_find(const struct ipm_registry_file *files, size_t n, const char *path)
{
	struct ipm_registry_file key = { .path = (char *)path };
	return n ? bsearch(&key, files, n, sizeof(*files), cmp_file_path) : NULL;
}

static int cmp_row_name(const void *a, const void *b)
{
	return strcmp(((const struct ipm_shard_row *)a)->name, ((const struct ipm_shard_row *)b)->name);
}

/* The directory of the root's URL, with its '/'. */
static char *base_url(const char *url)
{
	const char *slash = strrchr(url, '/');
	return slash ? xstrndup(url, (size_t)(slash + 1 - url)) : xstrdup("");
}

static int is_lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int bad_doc(const char *origin, const char *why)
{
	ipm_error_set(IPM_EINVAL, "'%s': %s", origin, why);
	ipm_error_hint("the registry's files are damaged or from another tool; the previous index is kept");
	return IPM_EINVAL;
}

static int get_size(unsigned long long *out, const cJSON *obj)
{
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(obj, "size");
	if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 9007199254740992.0 ||
	    size->valuedouble != (double)(unsigned long long)size->valuedouble)
		return -1;
	*out = (unsigned long long)size->valuedouble;
	return 0;
}

/* The root's shards, in its order (ids ascending, each once). */
static int parse_root(struct shard **out, size_t *nout, const char *text, size_t len, const char *origin)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *format, *list, *item;
	struct shard *shards = NULL;
	size_t n = 0, alloc = 0;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if (!root || !cJSON_IsObject(root)) {
		rc = bad_doc(origin, "not a JSON object");
		goto done;
	}
	format = cJSON_GetObjectItemCaseSensitive(root, "format");
	if (!cJSON_IsString(format) || strcmp(format->valuestring, IPM_SPARSE_FORMAT)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s': sparse registry format '%s', this ipm reads '%s'", origin,
				   cJSON_IsString(format) ? format->valuestring : "?", IPM_SPARSE_FORMAT);
		ipm_error_hint("upgrade ipm, or ask the registry to publish '%s'", IPM_SPARSE_FORMAT);
		goto done;
	}
	list = cJSON_GetObjectItemCaseSensitive(root, "shards");
	if (!cJSON_IsArray(list)) {
		rc = bad_doc(origin, "\"shards\" must be an array");
		goto done;
	}
	cJSON_ArrayForEach(item, list) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
		const cJSON *sha = cJSON_GetObjectItemCaseSensitive(item, "sha256");
		struct shard *s;

		if (!cJSON_IsString(id) || !is_lower_hex(id->valuestring, 2) || !cJSON_IsString(sha) ||
		    !is_lower_hex(sha->valuestring, 64)) {
			rc = bad_doc(origin, "a shard needs an \"id\" of two hex digits and a \"sha256\"");
			goto done;
		}
		if (n && strcmp(shards[n - 1].ref.id, id->valuestring) >= 0) {
			rc = bad_doc(origin, "shards must be listed once each, in order");
			goto done;
		}
		XGROW(shards, alloc, n + 1);
		s = &shards[n];
		memset(s, 0, sizeof(*s));
		n++;
		memcpy(s->ref.id, id->valuestring, 3);
		memcpy(s->ref.sha256, sha->valuestring, 65);
		if (get_size(&s->ref.size, item) < 0) {
			rc = bad_doc(origin, "a shard needs a \"size\" in bytes");
			goto done;
		}
		s->path = xasprintf("shards/%s.json", s->ref.id);
	}
done:
	cJSON_Delete(root);
	*out = shards;
	*nout = n;
	return rc;
}

static void listed_release(struct listed *l)
{
	free(l->name);
	free(l->repo);
	free(l->description);
	free(l->keywords);
}

static void shards_free(struct shard *shards, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < shards[i].npkgs; j++)
			listed_release(&shards[i].pkgs[j]);
		free(shards[i].pkgs);
		free(shards[i].path);
	}
	free(shards);
}

/* A fetched shard's packages; each must belong to it. */
static int parse_shard(struct shard *s, const char *text, size_t len, const char *origin)
{
	cJSON *doc = cJSON_ParseWithLength(text, len);
	const cJSON *id, *list, *item;
	size_t alloc = 0;
	int rc = 0;

	id = doc ? cJSON_GetObjectItemCaseSensitive(doc, "shard") : NULL;
	list = doc ? cJSON_GetObjectItemCaseSensitive(doc, "packages") : NULL;
	if (!cJSON_IsString(id) || strcmp(id->valuestring, s->ref.id) || !cJSON_IsArray(list)) {
		rc = bad_doc(origin, "not the shard its root names");
		goto done;
	}
	cJSON_ArrayForEach(item, list) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
		const cJSON *sha = cJSON_GetObjectItemCaseSensitive(item, "sha256");
		const cJSON *repo = cJSON_GetObjectItemCaseSensitive(item, "repo");
		const cJSON *desc = cJSON_GetObjectItemCaseSensitive(item, "description");
		const cJSON *kws = cJSON_GetObjectItemCaseSensitive(item, "keywords"), *kw;
		struct ipm_buf keywords = IPM_BUF_INIT;
		struct listed *l;
		char shard[3];

		if (!cJSON_IsString(name) || !ipm_entry_name_valid(name->valuestring) || !cJSON_IsString(sha) ||
		    !is_lower_hex(sha->valuestring, 64) || (repo && !cJSON_IsString(repo)) ||
		    !cJSON_IsString(desc) || (kws && !cJSON_IsArray(kws))) {
			rc = bad_doc(origin, "a package needs a valid \"name\", \"sha256\" and \"description\"");
			goto done;
		}
		ipm_sparse_shard_of(shard, name->valuestring);
		if (strcmp(shard, s->ref.id)) {
			ipm_error_set(IPM_EINVAL, "'%s': package '%s' belongs in shard '%s'", origin, name->valuestring,
				      shard);
			ipm_error_hint("the registry's files are damaged; the previous index is kept");
			rc = IPM_EINVAL;
			goto done;
		}
		XGROW(s->pkgs, alloc, s->npkgs + 1);
		l = &s->pkgs[s->npkgs];
		memset(l, 0, sizeof(*l));
		s->npkgs++;
		l->name = xstrdup(name->valuestring);
		memcpy(l->sha256, sha->valuestring, 65);
		/* "size" is optional: the file is checked by its digest */
		if (cJSON_GetObjectItemCaseSensitive(item, "size") && get_size(&l->size, item) < 0) {
			rc = bad_doc(origin, "a package's \"size\" must be a number of bytes");
			goto done;
		}
		l->repo = cJSON_IsString(repo) ? xstrdup(repo->valuestring) : NULL;
		l->description = xstrdup(desc->valuestring);
		cJSON_ArrayForEach(kw, kws) {
			if (!cJSON_IsString(kw))
				continue;
			if (keywords.len)
				ipm_buf_addch(&keywords, ' ');
			ipm_buf_add(&keywords, kw->valuestring);
		}
		l->keywords = ipm_buf_detach(&keywords);
	}
done:
	cJSON_Delete(doc);
	return rc;
}

/* The body of a finished request must be the file that digest names. */
static int check_digest(const struct ipm_http_req *req, const char *sha256, const char *what)
{
	char hex[65];

	if (req->not_modified) {
		ipm_error_set(IPM_EVERIFY, "'%s': the server says %s did not change, but its digest did", req->url,
			      what);
		ipm_error_hint("a cache or mirror serves an old copy; try 'ipm update --force' (asks "
			       "unconditionally); the previous index is kept");
		return IPM_EVERIFY;
	}
	ipm_sha256_hex(hex, req->body ? req->body : "", req->len);
	/* IPM_ESTALE: the caller asks for the root again, once */
	if (strcmp(hex, sha256)) {
		ipm_error_set(IPM_ESTALE, "'%s': sha256 %s, but %s lists %s", req->url, hex, what, sha256);
		ipm_error_hint("the file was changed after its registry was published, or the registry is being "
			       "published right now (run 'ipm update' again); the previous index is kept");
		return IPM_ESTALE;
	}
	return 0;
}

/* The hint of a file that could not be fetched. */
static void fetch_failed(const struct ipm_registry_conf *r)
{
	ipm_error_prefix("registry '%s'", r->name);
	if (!ipm_error_hint_text() || !*ipm_error_hint_text())
		ipm_error_hint("the registry is incomplete, or being published right now (run 'ipm update' "
			       "again); the previous index is kept");
}

int ipm_sparse_import(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, const struct ipm_registry_row *row,
		      const char *text, size_t len, const char *root_etag, const char *root_modified, int full,
		      const char *only_name, size_t *out_fetched)
{
	struct ipm_registry_file *files = NULL;
	struct shard *shards = NULL;
	struct ipm_http_req *shard_reqs = NULL, *pkg_reqs = NULL;
	struct change *changes = NULL;
	struct ipm_shard_row *rows = NULL;
	struct ipm_db_import *imp = NULL;
	struct ipm_buf url = IPM_BUF_INIT;
	char **removed = NULL, **dropped_paths = NULL, *base = base_url(r->url), root_sha[65];
	char *root_what = xasprintf("the root of registry '%s'", r->name);
	char *shard_what = xasprintf("its shard in registry '%s'", r->name);
	size_t nfiles = 0, nshards = 0, nfetch = 0, nchanges = 0, changes_alloc = 0, nremoved = 0,
	       removed_alloc = 0, ndropped = 0, dropped_alloc = 0, nrows = 0, npkg_reqs = 0;
	float vec[IPM_SIMILAR_DIM];
	char only_shard[3] = "";
	const struct ipm_registry_file *was_root;
	int rc, fresh;

	if (out_fetched)
		*out_fetched = 0;
	if (only_name)
		ipm_sparse_shard_of(only_shard, only_name);
	if ((rc = parse_root(&shards, &nshards, text, len, r->url)) < 0)
		goto done;
	if ((rc = ipm_db_registry_files(&files, &nfiles, ctx->db, r->name)) < 0)
		goto done;
	if (nfiles)
		qsort(files, nfiles, sizeof(*files), cmp_file_path);
	/* never imported as sparse: every row is written afresh */
	was_root = file_find(files, nfiles, "index.json");
	fresh = !was_root;

	/* the shards whose digest changed, each conditional on what it was */
	shard_reqs = xcalloc(nshards + 1, sizeof(*shard_reqs));
	for (size_t i = 0; i < nshards; i++) {
		const struct ipm_registry_file *was = file_find(files, nfiles, shards[i].path);
		struct ipm_http_req *req = &shard_reqs[nfetch];
		if (!fresh && !full && was && was->sha256 && !strcmp(was->sha256, shards[i].ref.sha256))
			continue;
		/* a lookup: the one shard its name is in */
		if (only_name && strcmp(shards[i].ref.id, only_shard))
			continue;
		req->url = xasprintf("%s%s", base, shards[i].path);
		/* Validators only for a copy that is what the root lists: for one
		 * the root says changed, a 304 could only be wrong (nginx's ETag is
		 * the mtime in seconds and the size, which a file rewritten within
		 * the same second at the same size keeps). */
		if (was && !full && was->sha256 && !strcmp(was->sha256, shards[i].ref.sha256)) {
			req->etag = was->etag;
			req->modified = was->modified;
		}
		req->max_bytes = shards[i].ref.size ? shards[i].ref.size : 1;
		req->size_what = root_what;
		shards[i].req = req;
		nfetch++;
	}
	rc = ipm_http_get_many(&ctx->fetch, shard_reqs, nfetch, SPARSE_PARALLEL);
	if (out_fetched)
		*out_fetched += nfetch;
	if (rc < 0) {
		fetch_failed(r);
		goto done;
	}
	for (size_t i = 0; i < nshards; i++) {
		if (!shards[i].req)
			continue;
		if ((rc = check_digest(shards[i].req, shards[i].ref.sha256, root_what)) < 0 ||
		    (rc = parse_shard(&shards[i], shards[i].req->body, shards[i].req->len, shards[i].req->url)) < 0)
			goto done;
	}

	/* what changed in each fetched shard, against this database's rows */
	for (size_t i = 0; i < nshards; i++) {
		struct shard *s = &shards[i];
		if (!s->req)
			continue;
		if (!fresh) {
			if ((rc = ipm_db_shard_rows(&rows, &nrows, ctx->db, r->name, s->ref.id)) < 0)
				goto done;
			if (nrows)
				qsort(rows, nrows, sizeof(*rows), cmp_row_name);
		}
		for (size_t j = 0; j < s->npkgs; j++) {
			struct ipm_shard_row key = { .name = s->pkgs[j].name }, *old;
			struct change *c;
			old = nrows ? bsearch(&key, rows, nrows, sizeof(*rows), cmp_row_name) : NULL;
			if (old)
				old->held |= 2;   /* still listed */
			if (old && old->sha256 && !strcmp(old->sha256, s->pkgs[j].sha256))
				continue;
			XGROW(changes, changes_alloc, nchanges + 1);
			c = &changes[nchanges++];
			memset(c, 0, sizeof(*c));
			c->pkg = &s->pkgs[j];
			c->shard = s->ref.id;
			c->path = ipm_sparse_package_path(s->pkgs[j].name);
			c->fetch = old && (old->held & 1);
		}
		for (size_t j = 0; j < nrows; j++) {
			if (rows[j].held & 2)
				continue;
			XGROW(removed, removed_alloc, nremoved + 1);
			removed[nremoved++] = xstrdup(rows[j].name);
		}
		ipm_shard_rows_free(rows, nrows);
		rows = NULL;
		nrows = 0;
	}
	/* shards no longer in the root: all their packages are gone */
	for (size_t i = 0; !fresh && !only_name && i < nfiles; i++) {
		const char *p = files[i].path, *id;
		int listed = 0;
		if (strncmp(p, "shards/", 7) || strlen(p) != strlen("shards/xx.json"))
			continue;
		id = p + 7;
		for (size_t j = 0; j < nshards && !listed; j++)
			listed = !strncmp(shards[j].ref.id, id, 2);
		if (listed)
			continue;
		XGROW(dropped_paths, dropped_alloc, ndropped + 1);
		dropped_paths[ndropped++] = xstrdup(p);
		char shard_id[3] = { id[0], id[1], '\0' };
		if ((rc = ipm_db_shard_rows(&rows, &nrows, ctx->db, r->name, shard_id)) < 0)
			goto done;
		for (size_t j = 0; j < nrows; j++) {
			XGROW(removed, removed_alloc, nremoved + 1);
			removed[nremoved++] = xstrdup(rows[j].name);
		}
		ipm_shard_rows_free(rows, nrows);
		rows = NULL;
		nrows = 0;
	}

	/* the package files this database holds whose digest changed */
	pkg_reqs = xcalloc(nchanges + 1, sizeof(*pkg_reqs));
	for (size_t i = 0; i < nchanges; i++) {
		const struct ipm_registry_file *was;
		if (!changes[i].fetch)
			continue;
		was = full ? NULL : file_find(files, nfiles, changes[i].path);
		pkg_reqs[npkg_reqs].url = xasprintf("%s%s", base, changes[i].path);
		/* as for shards: validators only for a copy of the listed digest */
		if (was && (!was->sha256 || strcmp(was->sha256, changes[i].pkg->sha256)))
			was = NULL;
		pkg_reqs[npkg_reqs].etag = was ? was->etag : NULL;
		pkg_reqs[npkg_reqs].modified = was ? was->modified : NULL;
		/* a shard may say its size; else limits.index_bytes bounds it */
		pkg_reqs[npkg_reqs].max_bytes = changes[i].pkg->size;
		pkg_reqs[npkg_reqs].size_what = changes[i].pkg->size ? shard_what : NULL;
		changes[i].req = &pkg_reqs[npkg_reqs++];
	}
	rc = ipm_http_get_many(&ctx->fetch, pkg_reqs, npkg_reqs, SPARSE_PARALLEL);
	if (out_fetched)
		*out_fetched += npkg_reqs;
	if (rc < 0) {
		fetch_failed(r);
		goto done;
	}
	for (size_t i = 0; i < nchanges; i++) {
		struct ipm_entry e;
		if (!changes[i].req)
			continue;
		if ((rc = check_digest(changes[i].req, changes[i].pkg->sha256, shard_what)) < 0)
			goto done;
		if ((rc = ipm_entry_parse(&e, changes[i].req->body, changes[i].req->len, changes[i].req->url)) < 0)
			goto done;
		if (strcmp(e.name, changes[i].pkg->name)) {
			rc = ipm_error_set(IPM_EINVAL, "'%s' holds package '%s', not '%s'", changes[i].req->url, e.name,
					   changes[i].pkg->name);
			ipm_error_hint("the registry's files are damaged; the previous index is kept");
			ipm_entry_release(&e);
			goto done;
		}
		ipm_entry_release(&e);
		changes[i].json = changes[i].req->body;
	}

	ipm_sha256_hex(root_sha, text, len);
	/* the same root, and nothing it names is missing here: no write */
	if (!nfetch && !ndropped && was_root && was_root->sha256 && !strcmp(was_root->sha256, root_sha)) {
		rc = 0;
		goto done;
	}
	/* everything fetched and verified: one transaction */
	if ((rc = ipm_db_import_begin_flags(&imp, ctx->db, row, fresh ? 0 : IPM_DB_IMPORT_KEEP)) < 0)
		goto done;
	for (size_t i = 0; i < nremoved; i++) {
		char *path = ipm_sparse_package_path(removed[i]);
		rc = ipm_db_import_remove(imp, removed[i]);
		if (rc == 0)
			rc = ipm_db_import_file_drop(imp, path);
		free(path);
		if (rc < 0)
			goto done;
	}
	for (size_t i = 0; i < nchanges; i++) {
		const struct listed *l = changes[i].pkg;
		struct ipm_import_item item = { 0 };
		ipm_similar_vector(vec, l->name);
		item.name = l->name;
		item.repo = l->repo;
		item.description = l->description;
		item.keywords = l->keywords;
		item.json = changes[i].json ? changes[i].json : "";
		item.vec = vec;
		item.vec_len = IPM_SIMILAR_DIM;
		if ((rc = ipm_db_import_add_sparse(imp, &item, changes[i].shard, l->sha256)) < 0)
			goto done;
		if (changes[i].req)
			rc = ipm_db_import_file(imp, changes[i].path, l->sha256, changes[i].req->out_etag,
						changes[i].req->out_modified);
		else if (!fresh)
			rc = ipm_db_import_file_drop(imp, changes[i].path);
		if (rc < 0)
			goto done;
	}
	for (size_t i = 0; i < nshards; i++) {
		if (shards[i].req &&
		    (rc = ipm_db_import_file(imp, shards[i].path, shards[i].ref.sha256, shards[i].req->out_etag,
					     shards[i].req->out_modified)) < 0)
			goto done;
	}
	for (size_t i = 0; i < ndropped; i++)
		if ((rc = ipm_db_import_file_drop(imp, dropped_paths[i])) < 0)
			goto done;
	if ((rc = ipm_db_import_root(imp, root_sha, root_etag, root_modified, text, len)) < 0)
		goto done;
	rc = ipm_db_import_commit(imp);
	imp = NULL;
	if (rc == 0)
		ipm_log(IPM_LOG_DEBUG, "registry '%s': %zu shard%s and %zu package file%s fetched; %zu entr%s "
			"written, %zu removed", r->name, nfetch, nfetch == 1 ? "" : "s", npkg_reqs,
			npkg_reqs == 1 ? "" : "s", nchanges, nchanges == 1 ? "y" : "ies", nremoved);
done:
	if (imp)
		ipm_db_import_abort(imp);
	for (size_t i = 0; i < nfetch; i++)
		free((char *)shard_reqs[i].url);
	ipm_http_reqs_release(shard_reqs, nfetch);
	free(shard_reqs);
	for (size_t i = 0; i < npkg_reqs; i++)
		free((char *)pkg_reqs[i].url);
	ipm_http_reqs_release(pkg_reqs, npkg_reqs);
	free(pkg_reqs);
	for (size_t i = 0; i < nchanges; i++)
		free(changes[i].path);
	free(changes);
	ipm_shard_rows_free(rows, nrows);
	shards_free(shards, nshards);
	ipm_registry_files_free(files, nfiles);
	xfree_strv(removed, nremoved);
	xfree_strv(dropped_paths, ndropped);
	ipm_buf_release(&url);
	free(base);
	free(root_what);
	free(shard_what);
	return rc;
}

int ipm_sparse_complete(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, const char *only_name,
			size_t *out_fetched)
{
	struct ipm_registry_row row = { 0 };
	struct ipm_registry_file *files = NULL;
	const struct ipm_registry_file *root;
	char *body = NULL;
	size_t len = 0, nfiles = 0;
	int rc;

	if (out_fetched)
		*out_fetched = 0;
	if ((rc = ipm_db_registry_get(&row, ctx->db, r->name)) < 0 ||
	    (rc = ipm_db_sparse_root(&body, &len, ctx->db, r->name)) < 0 ||
	    (rc = ipm_db_registry_files(&files, &nfiles, ctx->db, r->name)) < 0)
		goto done;
	if (nfiles)
		qsort(files, nfiles, sizeof(*files), cmp_file_path);
	root = file_find(files, nfiles, "index.json");
	/* the row as it is: the root was verified when it was imported */
	row.imported_at = 0;
	rc = ipm_sparse_import(ctx, r, &row, body, len, root ? root->etag : NULL, root ? root->modified : NULL, 0,
			       only_name, out_fetched);
done:
	ipm_registry_row_release(&row);
	ipm_registry_files_free(files, nfiles);
	free(body);
	return rc;
}

int ipm_sparse_shard_held(struct ipm_ctx *ctx, const char *registry, const char *name)
{
	struct ipm_registry_file *files = NULL;
	char shard[3], *path;
	size_t nfiles = 0;
	int held = 0, sparse = 0;

	if (ipm_db_registry_files(&files, &nfiles, ctx->db, registry) < 0) {
		ipm_error_clear();
		return -1;
	}
	ipm_sparse_shard_of(shard, name);
	path = xasprintf("shards/%s.json", shard);
	for (size_t i = 0; i < nfiles; i++) {
		sparse |= !strcmp(files[i].path, "index.json");
		held |= !strcmp(files[i].path, path);
	}
	free(path);
	ipm_registry_files_free(files, nfiles);
	return !sparse ? -1 : held;
}

int ipm_sparse_fetch_entry(char **out_json, struct ipm_ctx *ctx, const char *registry, const char *name)
{
	const struct ipm_registry_conf *r = ipm_config_registry(&ctx->cfg, registry);
	struct ipm_http_req req = { 0 };
	struct ipm_entry e = { 0 };
	char *sha256 = NULL, *path = NULL, *base = NULL, *what = NULL;
	int rc;

	*out_json = NULL;
	if (!r) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s' is not configured", registry);
		goto done;
	}
	if ((rc = ipm_db_sparse_entry(&sha256, ctx->db, registry, name)) < 0)
		goto done;
	base = base_url(r->url);
	path = ipm_sparse_package_path(name);
	req.url = xasprintf("%s%s", base, path);
	if ((rc = ipm_http_get_many(&ctx->fetch, &req, 1, 1)) < 0) {
		ipm_error_prefix("package '%s' of registry '%s'", name, registry);
		goto done;
	}
	what = xasprintf("its shard in registry '%s'", registry);
	if ((rc = check_digest(&req, sha256, what)) < 0) {
		ipm_error_hint("the file was changed after its registry was published, or the registry was "
			       "published again since 'ipm update': run 'ipm update'");
		goto done;
	}
	if ((rc = ipm_entry_parse(&e, req.body, req.len, req.url)) < 0)
		goto done;
	if (strcmp(e.name, name)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' holds package '%s', not '%s'", req.url, e.name, name);
		goto done;
	}
	/* kept for the next lookup; a reader (no lock) uses it once */
	if (ctx->lock && ipm_db_sparse_store(ctx->db, registry, name, sha256, req.body, path, req.out_etag,
					     req.out_modified) < 0) {
		ipm_log(IPM_LOG_DEBUG, "registry '%s': cannot keep '%s': %s", registry, path, ipm_error_message());
		ipm_error_clear();
	}
	*out_json = req.body;
	req.body = NULL;
done:
	ipm_entry_release(&e);
	free((char *)req.url);
	ipm_http_reqs_release(&req, 1);
	free(sha256);
	free(path);
	free(base);
	free(what);
	return rc;
}
