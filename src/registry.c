/*
 * Registries: importing them into the database, and finding entries there.
 *
 * Every kind of registry ends in the same streaming import (ipm_db_import_*):
 * each entry is validated by entry.c, stored as JSON text with its search
 * fields and its name vector, all in one transaction; a bad entry rolls the
 * whole import back, so the previous index stays usable.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/log.h"
#include "ipm/registry.h"
#include "ipm/sign.h"
#include "ipm/similar.h"
#include "ipm/sparse.h"
#include "ipm/xalloc.h"

/* Below this cosine similarity a "did you mean" would be noise. */
#define SUGGEST_MIN_SCORE 0.5f

static const char *kind_name(enum ipm_registry_kind kind)
{
	switch (kind) {
	case IPM_REGISTRY_LOCAL: return "local";
	case IPM_REGISTRY_GIT: return "git";
	case IPM_REGISTRY_HTTP: return "http";
	}
	return "local";
}

/* The registries row an import of r writes: its identity, its change stamp,
 * and where its "self" sources come from. */
static struct ipm_registry_row row_for(const struct ipm_registry_conf *r, char *stamp, char *home,
				       char *home_commit)
{
	struct ipm_registry_row row = { 0 };

	row.name = r->name;
	row.kind = (char *)kind_name(r->kind);
	row.location = r->url;
	row.stamp = stamp;
	row.home = home;
	row.home_commit = home_commit;
	return row;
}

/* ---- the import, shared by every kind ---- */

struct importer {
	struct ipm_db_import *imp;
	struct ipm_buf keywords;
	struct ipm_buf versions;
	float vec[IPM_SIMILAR_DIM];
	size_t count;
};

static int importer_begin(struct importer *im, struct ipm_db *db, const struct ipm_registry_row *row)
{
	memset(im, 0, sizeof(*im));
	ipm_buf_init(&im->keywords);
	ipm_buf_init(&im->versions);
	return ipm_db_import_begin(&im->imp, db, row);
}

static int importer_add(struct importer *im, const struct ipm_entry *e, const char *json)
{
	struct ipm_import_item item = { 0 };

	ipm_buf_reset(&im->keywords);
	for (size_t i = 0; i < e->nkeywords; i++) {
		if (i)
			ipm_buf_addch(&im->keywords, ' ');
		ipm_buf_add(&im->keywords, e->keywords[i]);
	}
	/* releases are newest first once parsed: outdated reads them as they are */
	ipm_buf_reset(&im->versions);
	for (size_t i = 0; i < e->nreleases; i++) {
		ipm_buf_add(&im->versions, e->releases[i].version);
		ipm_buf_addch(&im->versions, '\n');
	}
	ipm_similar_vector(im->vec, e->name);
	item.name = e->name;
	item.latest = e->nreleases ? e->releases[0].version : NULL;
	item.versions = e->nreleases ? im->versions.ptr : NULL;
	item.repo = e->repo;
	item.description = e->description;
	item.keywords = im->keywords.ptr;
	item.json = json;
	item.vec = im->vec;
	item.vec_len = IPM_SIMILAR_DIM;
	im->count++;
	return ipm_db_import_add(im->imp, &item);
}

static int importer_finish(struct importer *im, int rc)
{
	if (im->imp) {
		if (rc < 0)
			ipm_db_import_abort(im->imp);
		else
			rc = ipm_db_import_commit(im->imp);
		im->imp = NULL;
	}
	ipm_buf_release(&im->keywords);
	ipm_buf_release(&im->versions);
	return rc;
}

/* Parses, validates and adds one entry given as text. */
static int import_text(struct importer *im, const char *text, size_t len, const char *origin,
		       const char *filename)
{
	struct ipm_entry e;
	int rc;

	if ((rc = ipm_entry_parse(&e, text, len, origin)) < 0)
		return rc;
	if (filename && (rc = ipm_entry_check_filename(&e, filename)) < 0)
		goto done;
	rc = importer_add(im, &e, text);
done:
	ipm_entry_release(&e);
	return rc;
}

/* registry.json: { "name", "description", "home", "commit" }, all optional. */
struct registry_meta {
	char *home;
	char *commit;
};

static void meta_release(struct registry_meta *m)
{
	free(m->home);
	free(m->commit);
	memset(m, 0, sizeof(*m));
}

static int meta_from_cjson(struct registry_meta *m, const cJSON *obj, const char *origin)
{
	static const char *const known[] = { "name", "description", "home", "commit", "$schema", NULL };

	memset(m, 0, sizeof(*m));
	if (!obj)
		return 0;
	if (!cJSON_IsObject(obj))
		return ipm_error_set(IPM_EINVAL, "'%s' must hold a JSON object", origin);
	for (const cJSON *item = obj->child; item; item = item->next) {
		size_t i;
		for (i = 0; known[i] && strcmp(known[i], item->string); i++)
			;
		if (!known[i])
			return ipm_error_set(IPM_EINVAL, "unknown field '%s' in '%s'", item->string, origin);
		if (strcmp(item->string, "$schema") && !cJSON_IsString(item) && !cJSON_IsNull(item))
			return ipm_error_set(IPM_EINVAL, "field '%s' in '%s' must be a string", item->string, origin);
	}
	const cJSON *home = cJSON_GetObjectItemCaseSensitive(obj, "home");
	const cJSON *commit = cJSON_GetObjectItemCaseSensitive(obj, "commit");
	if (cJSON_IsString(home) && home->valuestring[0])
		m->home = xstrdup(home->valuestring);
	if (cJSON_IsString(commit) && commit->valuestring[0]) {
		if (!ipm_is_hex(commit->valuestring, 40))
			return ipm_error_set(IPM_EINVAL, "field 'commit' in '%s' must be a full commit id of 40 hex digits",
					     origin);
		m->commit = xstrdup(commit->valuestring);
	}
	return 0;
}

static int malformed(const char *text, const char *end, size_t len, const char *origin)
{
	size_t line, column, offset = end && end >= text ? (size_t)(end - text) : 0;

	if (offset > len)
		offset = len;
	ipm_entry_json_position(&line, &column, text, offset);
	return ipm_error_set(IPM_EINVAL, "malformed JSON in '%s' at line %zu, column %zu", origin, line, column);
}

static int meta_parse(struct registry_meta *m, const char *text, size_t len, const char *origin)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	int rc;

	memset(m, 0, sizeof(*m));
	if (!root)
		return malformed(text, end, len, origin);
	rc = meta_from_cjson(m, root, origin);
	cJSON_Delete(root);
	if (rc < 0)
		meta_release(m);
	return rc;
}

/* ---- LOCAL: a directory ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ipm_registry_entry_files(char ***out, size_t *nout, const char *packages_dir)
{
	DIR *d = opendir(packages_dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0;

	*out = NULL;
	*nout = 0;
	if (!d)
		return ipm_error_set(IPM_ENOTFOUND, "cannot read registry directory '%s': %s",
				     packages_dir, strerror(errno));
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		XGROW(names, alloc, n + 1);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	*out = names;
	*nout = n;
	return 0;
}

/* Two 64-bit FNV-1a hashes of data (different offset bases) as 32 hex digits. */
static void stamp_hash(char out_hex[33], const char *data, size_t len)
{
	uint64_t a = 14695981039346656037ull, b = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < len; i++) {
		a = (a ^ (unsigned char)data[i]) * 1099511628211ull;
		b = (b ^ (unsigned char)data[i]) * 1099511628211ull;
	}
	snprintf(out_hex, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* Digest of the names, sizes and mtimes of the registry's files: cheap
 * enough to compute on every command, and changes whenever a file does.
 * A change marker, not a security check: a plain hash serves, and avoids
 * loading a digest from libcrypto (about 1 ms) on every lookup. */
static int local_stamp(char **out, const char *dir, char **files, size_t nfiles)
{
	struct ipm_buf list = IPM_BUF_INIT, path = IPM_BUF_INIT;
	char hex[33];
	struct stat st;

	for (size_t i = 0; i <= nfiles; i++) {
		ipm_buf_reset(&path);
		ipm_buf_add(&path, dir);
		if (i == nfiles)
			ipm_buf_addpath(&path, "registry.json");
		else {
			ipm_buf_addpath(&path, "packages");
			ipm_buf_addpath(&path, files[i]);
		}
		if (stat(path.ptr, &st) < 0)
			continue;
		ipm_buf_addf(&list, "%s\t%lld\t%lld.%09ld\n", i == nfiles ? "registry.json" : files[i],
			     (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	}
	stamp_hash(hex, list.ptr ? list.ptr : "", list.len);
	*out = xasprintf("files:%s", hex);
	ipm_buf_release(&list);
	ipm_buf_release(&path);
	return 0;
}

static int sync_local(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, unsigned flags, int *changed)
{
	struct ipm_registry_row old = { 0 }, row = { 0 };
	struct registry_meta meta = { 0 };
	struct importer im = { .keywords = IPM_BUF_INIT, .versions = IPM_BUF_INIT };
	struct ipm_buf path = IPM_BUF_INIT;
	char **files = NULL, *stamp = NULL, *text = NULL;
	size_t nfiles = 0, len;
	int rc, have_old;

	if (!ipm_is_dir(r->url)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s': directory '%s' not found", r->name, r->url);
		ipm_error_hint("fix or remove it: ipm registry remove %s", r->name);
		goto done;
	}
	ipm_buf_add(&path, r->url);
	ipm_buf_addpath(&path, "packages");
	if (!ipm_is_dir(path.ptr)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is not an ipm registry: it has no packages directory", r->url);
		ipm_error_hint("a registry holds one packages/<name>.json per package");
		goto done;
	}
	if ((rc = ipm_registry_entry_files(&files, &nfiles, path.ptr)) < 0)
		goto done;
	local_stamp(&stamp, r->url, files, nfiles);
	have_old = ipm_db_registry_get(&old, ctx->db, r->name) == 0;
	ipm_error_clear();
	if (!(flags & IPM_SYNC_FORCE) && have_old && old.stamp && !strcmp(old.stamp, stamp) && old.location &&
	    !strcmp(old.location, r->url)) {
		rc = 0;
		goto done;
	}

	ipm_buf_reset(&path);
	ipm_buf_add(&path, r->url);
	ipm_buf_addpath(&path, "registry.json");
	if (ipm_path_exists(path.ptr)) {
		if ((rc = ipm_file_read(&text, &len, path.ptr)) < 0 ||
		    (rc = meta_parse(&meta, text, len, path.ptr)) < 0)
			goto done;
		free(text);
		text = NULL;
	}
	row = row_for(r, stamp, meta.home, meta.commit);
	if ((rc = importer_begin(&im, ctx->db, &row)) < 0)
		goto done;
	for (size_t i = 0; i < nfiles; i++) {
		ipm_buf_reset(&path);
		ipm_buf_add(&path, r->url);
		ipm_buf_addpath(&path, "packages");
		ipm_buf_addpath(&path, files[i]);
		if ((rc = ipm_file_read(&text, &len, path.ptr)) < 0 ||
		    (rc = import_text(&im, text, len, path.ptr, path.ptr)) < 0)
			goto done;
		free(text);
		text = NULL;
	}
	rc = importer_finish(&im, 0);
	if (rc == 0) {
		*changed = 1;
		ipm_log(IPM_LOG_DEBUG, "registry '%s': imported %zu entries from '%s'", r->name, im.count, r->url);
	}
done:
	rc = importer_finish(&im, rc);
	ipm_registry_row_release(&old);
	meta_release(&meta);
	xfree_strv(files, nfiles);
	free(stamp);
	free(text);
	ipm_buf_release(&path);
	return rc;
}

/* ---- GIT: the HEAD tree of a bare mirror ---- */

/* A registry's URL must not travel in plain text unless the user said so. */
static int check_transport(struct ipm_ctx *ctx, const struct ipm_registry_conf *r)
{
	int rc = ipm_url_check_transport(&ctx->cfg, r->url, r->insecure);

	if (rc < 0) {
		ipm_error_prefix("registry '%s'", r->name);
		ipm_error_hint("use https://; on a network you trust, set \"insecure\": true for registry '%s' in '%s', "
			       "or map the URL with a mirror rule (IPM_MIRRORS)", r->name, ctx->cfg.config_path);
	}
	return rc;
}

/* ipm_git_read callbacks: registry.json, then each packages/<name>.json. */
struct git_import {
	const char *url;
	struct registry_meta *meta;
	struct importer *im;
};

static int git_meta(void *opaque, const char *name, const char *text, size_t len)
{
	struct git_import *g = opaque;
	char *origin = xasprintf("%s:%s", g->url, name);
	int rc = meta_parse(g->meta, text, len, origin);

	free(origin);
	return rc;
}

static int git_entry(void *opaque, const char *name, const char *text, size_t len)
{
	struct git_import *g = opaque;
	size_t n = strlen(name);
	char *origin;
	int rc;

	if (n <= 5 || strcmp(name + n - 5, ".json"))
		return 0;
	origin = xasprintf("%s:packages/%s", g->url, name);
	rc = import_text(g->im, text, len, origin, origin);
	free(origin);
	return rc;
}

static int sync_git(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, unsigned flags, int *changed)
{
	struct ipm_registry_row old = { 0 }, row = { 0 };
	struct registry_meta meta = { 0 };
	struct importer im = { .keywords = IPM_BUF_INIT, .versions = IPM_BUF_INIT };
	struct git_import g = { r->url, &meta, &im };
	char *mirror = NULL, *head = NULL;
	int rc, have_old;

	if ((rc = check_transport(ctx, r)) < 0 || (rc = ipm_git_mirror(&mirror, &head, &ctx->fetch, r->url)) < 0)
		goto done;
	have_old = ipm_db_registry_get(&old, ctx->db, r->name) == 0;
	ipm_error_clear();
	if (!(flags & IPM_SYNC_FORCE) && have_old && old.stamp && !strcmp(old.stamp, head) && old.location &&
	    !strcmp(old.location, r->url)) {
		rc = 0;
		goto done;
	}
	rc = ipm_git_read(mirror, head, "registry.json", 0, git_meta, &g);
	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		rc = 0;
	}
	if (rc < 0)
		goto done;
	/* the git registry is its own home: "self" sources come from this commit */
	row = row_for(r, head, r->url, head);
	if ((rc = importer_begin(&im, ctx->db, &row)) < 0)
		goto done;
	rc = ipm_git_read(mirror, head, "packages", 1, git_entry, &g);
	if (rc == IPM_ENOTFOUND) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is not an ipm registry: it has no packages directory", r->url);
		ipm_error_hint("a registry holds one packages/<name>.json per package");
	}
	if (rc < 0)
		goto done;
	rc = importer_finish(&im, 0);
	if (rc == 0)
		*changed = 1;
done:
	rc = importer_finish(&im, rc);
	ipm_registry_row_release(&old);
	meta_release(&meta);
	free(mirror);
	free(head);
	return rc;
}

/* ---- HTTP: one index document ---- */

/*
 * An index of 100,000 entries is tens of MiB: parsed whole by cJSON it is a
 * tree of millions of nodes, and every entry had to be printed back to
 * text. Instead a light scan finds each member of the index and each
 * element of "packages" as a slice of the document; every element is
 * parsed (validated) alone, and stored as the text it was sent as. The
 * document is never copied nor parsed whole, in any layout: at most one
 * element's tree exists at a time, and one copy of its text.
 */
struct slice {
	const char *p;
	size_t len;
};

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* End of the JSON string starting at p ('"'), or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* End of the JSON value starting at p (structure only: the slice is parsed
 * by cJSON afterwards), or NULL. */
static const char *skip_value(const char *p, const char *end)
{
	size_t depth = 0;

	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !strchr(",]} \t\r\n", *p))
			p++;
		return p;
	}
	for (; p < end; p++) {
		if (*p == '"') {
			if (!(p = skip_string(p, end)))
				return NULL;
			p--;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p + 1;
		}
	}
	return NULL;
}

/* Parses a slice that must hold exactly one JSON value; NULL with *error
 * (may be NULL) at the position of the mistake when it does not. */
static cJSON *parse_at(struct slice v, const char **error)
{
	const char *end = NULL;
	cJSON *item = cJSON_ParseWithLengthOpts(v.p, v.len, &end, 0);
	const char *after = item && end ? skip_ws(end, v.p + v.len) : NULL;

	if (item && after == v.p + v.len)
		return item;
	cJSON_Delete(item);
	if (error)
		*error = after ? after : end && end >= v.p && end <= v.p + v.len ? end : v.p;
	return NULL;
}

/* The members of an index object, each at most once. */
struct index_members {
	struct slice registry, packages, version, expires;
};

/*
 * Finds the members of the index object, checking its syntax down to the
 * members' values (the elements of "packages" are checked as they are
 * imported). Keys are compared decoded, as any JSON reader would.
 */
static int index_scan(struct index_members *m, const char *text, size_t len, const char *origin)
{
	static const char *const names[] = { "registry", "packages", "version", "expires", NULL };
	const char *p = text, *end = text + len, *error = NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	p = skip_ws(p, end);
	if (p == end)
		return malformed(text, p, len, origin);
	if (*p != '{') {
		if (*p && strchr("[\"-0123456789tfn", *p))
			return ipm_error_set(IPM_EINVAL, "'%s' must hold a JSON object", origin);
		return malformed(text, p, len, origin);
	}
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		p++;
	else for (;;) {
		struct slice *member, key, value;
		const char *key_end, *v_end;
		cJSON *decoded, *scalar;
		size_t which;

		if (p == end || *p != '"')
			return malformed(text, p, len, origin);
		if (!(key_end = skip_string(p, end)))
			return malformed(text, end, len, origin);
		key = (struct slice){ p, (size_t)(key_end - p) };
		if (!(decoded = parse_at(key, &error)))
			return malformed(text, error, len, origin);
		for (which = 0; names[which] && strcmp(names[which], decoded->valuestring); which++)
			;
		if (!names[which]) {
			rc = ipm_error_set(IPM_EINVAL, "unknown field '%s' in '%s'", decoded->valuestring, origin);
			ipm_error_hint("an index holds \"registry\", \"version\", \"expires\" and \"packages\"");
			cJSON_Delete(decoded);
			return rc;
		}
		cJSON_Delete(decoded);
		member = which == 0 ? &m->registry : which == 1 ? &m->packages : which == 2 ? &m->version
										  : &m->expires;
		/* readers disagree about a repeated key (first or last?): a
		 * signed index must mean one thing */
		if (member->p)
			return ipm_error_set(IPM_EINVAL, "field '%s' is given twice in '%s'", names[which], origin);
		p = skip_ws(key_end, end);
		if (p == end || *p != ':')
			return malformed(text, p, len, origin);
		p = skip_ws(p + 1, end);
		if (p == end || !(v_end = skip_value(p, end)) || v_end == p)
			return malformed(text, p == end ? end : p, len, origin);
		value = (struct slice){ p, (size_t)(v_end - p) };
		/* scalars and "registry" are small: checked whole here */
		if (member != &m->packages) {
			if (!(scalar = parse_at(value, &error)))
				return malformed(text, error, len, origin);
			cJSON_Delete(scalar);
		}
		*member = value;
		p = skip_ws(v_end, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}') {
			p++;
			break;
		}
		return malformed(text, p, len, origin);
	}
	p = skip_ws(p, end);
	if (p != end)
		return malformed(text, p, len, origin);
	if (!m->packages.p || m->packages.p[0] != '[')
		return ipm_error_set(IPM_EINVAL, "'%s' has no \"packages\" array", origin);
	return 0;
}

int ipm_registry_import_index(struct ipm_db *db, const struct ipm_registry_row *row, const char *text,
			      size_t len, const char *origin, size_t *count)
{
	struct index_members m;
	struct registry_meta meta = { 0 };
	struct ipm_registry_row with_meta = *row;
	struct importer im = { .keywords = IPM_BUF_INIT, .versions = IPM_BUF_INIT };
	struct ipm_buf where = IPM_BUF_INIT, json = IPM_BUF_INIT;
	struct ipm_entry e = { 0 };
	const char *p, *end;
	cJSON *item = NULL;
	size_t index = 0;
	int rc;

	if (count)
		*count = 0;
	if ((rc = index_scan(&m, text, len, origin)) < 0)
		return rc;
	if (m.registry.p) {
		ipm_buf_addf(&where, "%s: registry", origin);
		item = parse_at(m.registry, NULL);
		rc = meta_from_cjson(&meta, item, where.ptr);
		cJSON_Delete(item);
		item = NULL;
		if (rc < 0)
			goto done;
	}
	with_meta.home = meta.home;
	with_meta.home_commit = meta.commit;
	if ((rc = importer_begin(&im, db, &with_meta)) < 0)
		goto done;
	/* each element is parsed where it stands: cJSON says where it ended */
	end = m.packages.p + m.packages.len;
	p = skip_ws(m.packages.p + 1, end);
	if (p < end && *p == ']')
		p++;
	else for (;;) {
		const char *el_end = NULL;

		item = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &el_end, 0);
		if (!item) {
			rc = malformed(text, el_end && el_end >= p && el_end <= end ? el_end : p, len, origin);
			goto done;
		}
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
		ipm_buf_reset(&where);
		ipm_buf_addf(&where, "%s: packages[%zu]", origin, index);
		if (cJSON_IsString(name))
			ipm_buf_addf(&where, " '%s'", name->valuestring);
		if ((rc = ipm_entry_from_cjson(&e, item, where.ptr)) < 0)
			goto done;
		/* stored as sent (the one copy: this element, NUL-terminated) */
		ipm_buf_reset(&json);
		ipm_buf_addn(&json, p, (size_t)(el_end - p));
		if ((rc = importer_add(&im, &e, json.ptr)) < 0)
			goto done;
		ipm_entry_release(&e);
		cJSON_Delete(item);
		item = NULL;
		index++;
		p = skip_ws(el_end, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == ']') {
			p++;
			break;
		}
		rc = malformed(text, p, len, origin);
		goto done;
	}
	/* the scan matched the brackets; what it took for the array's end
	 * must be where the elements end */
	if (p != end) {
		rc = malformed(text, p, len, origin);
		goto done;
	}
	rc = importer_finish(&im, 0);
	if (rc == 0 && count)
		*count = index;
done:
	rc = importer_finish(&im, rc);
	ipm_entry_release(&e);
	cJSON_Delete(item);
	meta_release(&meta);
	ipm_buf_release(&where);
	ipm_buf_release(&json);
	return rc;
}

/* ---- freshness: "version" and "expires" ---- */

static int two_digits(const char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

int ipm_registry_time_parse(int64_t *out, const char *text, size_t len)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm, check;
	time_t t;

	*out = -1;
	if (len != sizeof(pattern) - 1)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (pattern[i] == 'd' ? !(text[i] >= '0' && text[i] <= '9') : text[i] != pattern[i])
			return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = two_digits(text) * 100 + two_digits(text + 2) - 1900;
	tm.tm_mon = two_digits(text + 5) - 1;
	tm.tm_mday = two_digits(text + 8);
	tm.tm_hour = two_digits(text + 11);
	tm.tm_min = two_digits(text + 14);
	tm.tm_sec = two_digits(text + 17);
	check = tm;
	t = timegm(&tm);
	/* timegm normalises 2025-02-30 to March: such a date is malformed */
	if (t == (time_t)-1 || tm.tm_year != check.tm_year || tm.tm_mon != check.tm_mon ||
	    tm.tm_mday != check.tm_mday || tm.tm_hour != check.tm_hour || tm.tm_min != check.tm_min ||
	    tm.tm_sec != check.tm_sec)
		return -1;
	*out = (int64_t)t;
	return 0;
}

void ipm_registry_time_format(char out[21], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 21, "%lld", (long long)t);
}

/* JSON integers are exact in double up to 2^53: beyond, clients could
 * disagree about the number. */
#define MAX_VERSION 9007199254740992LL

int ipm_registry_index_freshness(int64_t *out_version, int64_t *out_expires, const char *text, size_t len,
				 const char *origin)
{
	const char *p = text, *end = text + len, *key, *v, *v_end;
	int seen_version = 0, seen_expires = 0;

	*out_version = *out_expires = 0;
	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return 0;
	p = skip_ws(p + 1, end);
	while (p < end && *p == '"') {
		size_t key_len;
		key = p;
		if (!(p = skip_string(p, end)))
			return 0;
		key_len = (size_t)(p - key);
		p = skip_ws(p, end);
		if (p == end || *p != ':')
			return 0;
		v = skip_ws(p + 1, end);
		if (!(v_end = skip_value(v, end)))
			return 0;
		if (key_len == 9 && !memcmp(key, "\"version\"", 9)) {
			int64_t n = 0;
			const char *d = v;
			if (seen_version++)
				return ipm_error_set(IPM_EINVAL, "'%s': \"version\" is given twice", origin);
			for (; d < v_end && *d >= '0' && *d <= '9' && n <= MAX_VERSION; d++)
				n = n * 10 + (*d - '0');
			if (d == v || d != v_end || n < 1 || n > MAX_VERSION)
				return ipm_error_set(IPM_EINVAL, "'%s': \"version\" must be a whole number from 1 "
						     "to 2^53", origin);
			*out_version = n;
		} else if (key_len == 9 && !memcmp(key, "\"expires\"", 9)) {
			if (seen_expires++)
				return ipm_error_set(IPM_EINVAL, "'%s': \"expires\" is given twice", origin);
			if (*v != '"' || ipm_registry_time_parse(out_expires, v + 1, (size_t)(v_end - v) - 2) < 0 ||
			    *out_expires <= 0) {
				*out_expires = 0;
				return ipm_error_set(IPM_EINVAL, "'%s': \"expires\" must be a UTC time such as "
						     "\"2030-01-31T00:00:00Z\"", origin);
			}
		}
		p = skip_ws(v_end, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
		else
			break;
	}
	return 0;
}

/* ---- signed indexes ---- */

/* "the previous index (version N) is kept" for hints. */
static char *kept_text(const struct ipm_registry_row *old, int have_old)
{
	if (!have_old)
		return xstrdup("nothing was imported");
	if (old->serial)
		return xasprintf("the previous index (version %lld) is kept", (long long)old->serial);
	return xstrdup("the previous index is kept");
}

/*
 * The checks of an index from a registry with a pinned key: its signature
 * (URL.minisig) verifies with the key, it says when it expires and which
 * version it is, it has not expired, and it is not older than the index
 * imported last. *version and *expires are the index's.
 */
static int check_signed(int64_t *version, int64_t *expires, struct ipm_ctx *ctx, const struct ipm_registry_conf *r,
			const struct ipm_registry_row *old, int have_old, const struct ipm_http_doc *doc)
{
	struct ipm_http_doc sig = { 0 };
	struct ipm_sign_pubkey pk;
	char *sig_url = xasprintf("%s.minisig", r->url), *kept = kept_text(old, have_old);
	char when[21];
	int rc;

	*version = *expires = 0;
	if ((rc = ipm_sign_pubkey_parse(&pk, r->key)) < 0) {
		ipm_error_prefix("registry '%s': its key", r->name);
		goto done;
	}
	if ((rc = ipm_http_get(&sig, &ctx->fetch, sig_url, NULL)) < 0) {
		char *why = xstrdup(ipm_error_message());
		rc = ipm_error_set(IPM_EVERIFY, "registry '%s': the index is not signed: %s", r->name, why);
		ipm_error_hint("registry '%s' pins a key, so its index must come with its signature; %s",
			       r->name, kept);
		free(why);
		goto done;
	}
	rc = ipm_sign_verify(NULL, &pk, doc->body ? doc->body : "", doc->len, sig.body ? sig.body : "", sig.len);
	if (rc < 0) {
		int other_key = strncmp(ipm_error_message(), "signed with another key", 23) == 0;
		ipm_error_prefix("registry '%s': '%s'", r->name, sig_url);
		if (other_key)
			ipm_error_hint("if the registry changed its key, pin the new one (ipm registry remove %s, then "
				       "ipm registry add %s URL --key NEWKEY); %s", r->name, r->name, kept);
		else
			ipm_error_hint("the index or its signature was changed after signing; %s", kept);
		rc = IPM_EVERIFY;
		goto done;
	}
	if ((rc = ipm_registry_index_freshness(version, expires, doc->body ? doc->body : "", doc->len, r->url)) < 0)
		goto done;
	if (!*version || !*expires) {
		rc = ipm_error_set(IPM_EVERIFY, "registry '%s': the signed index has no \"%s\"", r->name,
				   *version ? "expires" : "version");
		ipm_error_hint("a signed index says until when it is valid and which version it is "
			       "(ipm registry build DIR OUT --sign KEY writes both); %s", kept);
		goto done;
	}
	if (*expires <= (int64_t)time(NULL)) {
		ipm_registry_time_format(when, *expires);
		rc = ipm_error_set(IPM_EVERIFY, "registry '%s': the index expired on %s", r->name, when);
		ipm_error_hint("its publisher must sign a fresh index, or a mirror or cache serves an old copy; %s",
			       kept);
		goto done;
	}
	if (have_old && old->serial && *version < old->serial) {
		rc = ipm_error_set(IPM_EVERIFY, "registry '%s': the index is older than the one imported "
				   "(version %lld < %lld): a replay", r->name, (long long)*version,
				   (long long)old->serial);
		ipm_error_hint("a mirror, cache or attacker serves an old copy; %s", kept);
		goto done;
	}
done:
	ipm_http_doc_release(&sig);
	free(sig_url);
	free(kept);
	return rc;
}

/* 1 when an index document is a sparse registry's root (sparse.h): it has
 * a top-level "shards" member. Found by the structure scan, so a large
 * single document is not parsed for it. */
static int is_sparse_root(const char *text, size_t len)
{
	const char *p = text, *end = text + len, *key, *v_end;

	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return 0;
	p = skip_ws(p + 1, end);
	while (p < end && *p == '"') {
		key = p;
		if (!(p = skip_string(p, end)))
			return 0;
		if (p - key == 8 && !memcmp(key, "\"shards\"", 8))
			return 1;
		p = skip_ws(p, end);
		if (p == end || *p != ':')
			return 0;
		if (!(v_end = skip_value(skip_ws(p + 1, end), end)))
			return 0;
		p = skip_ws(v_end, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
		else
			break;
	}
	return 0;
}

/* The "registry" member of a sparse root: its home and commit. */
static int sparse_meta(struct registry_meta *m, const char *text, size_t len, const char *origin)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	char *where = xasprintf("%s: registry", origin);
	int rc;

	memset(m, 0, sizeof(*m));
	if (!root)
		rc = malformed(text, NULL, len, origin);
	else
		rc = meta_from_cjson(m, cJSON_GetObjectItemCaseSensitive(root, "registry"), where);
	cJSON_Delete(root);
	free(where);
	return rc;
}

/* 1 when the registry was imported as sparse before, with the root's
 * Last-Modified in *modified (its ETag is the registry's stamp): the root
 * is then asked with both (If-None-Match, If-Modified-Since). */
static int sparse_root_modified(char **modified, struct ipm_db *db, const char *registry)
{
	struct ipm_registry_file *files = NULL;
	size_t n = 0;
	int found = 0;

	*modified = NULL;
	if (ipm_db_registry_files(&files, &n, db, registry) < 0) {
		ipm_error_clear();
		return 0;
	}
	for (size_t i = 0; i < n && !found; i++) {
		if (strcmp(files[i].path, "index.json"))
			continue;
		found = 1;
		*modified = files[i].modified ? xstrdup(files[i].modified) : NULL;
	}
	ipm_registry_files_free(files, n);
	return found;
}

/* only_name: a lookup's sync, of the shard that name is in (a sparse
 * registry; a single document is imported whole); NULL: everything. */
static int sync_http_once(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, unsigned flags,
			  const char *only_name, int *changed)
{
	struct ipm_registry_row old = { 0 }, row = { 0 };
	struct ipm_http_doc doc = { 0 };
	struct ipm_http_req req = { 0 };
	struct registry_meta meta = { 0 };
	const char *etag = NULL;
	char *stamp = NULL, *modified = NULL;
	char hex[65];
	size_t count = 0;
	int64_t version = 0, expires = 0;
	int rc, have_old, refetch, was_sparse;

	if ((rc = check_transport(ctx, r)) < 0)
		return rc;
	have_old = ipm_db_registry_get(&old, ctx->db, r->name) == 0;
	ipm_error_clear();
	/* Asked to, or the index kept is not one this key verified (imported
	 * before the key was pinned), or it expired: fetched whatever the
	 * server says about its ETag, so that a server answering 304 forever
	 * cannot freeze it. */
	refetch = (flags & IPM_SYNC_FORCE) ||
		  (r->key && have_old && (!old.serial || (old.expires && old.expires <= (int64_t)time(NULL))));
	/* a stored "sha256:" stamp means the server gave no ETag */
	if (!refetch && have_old && old.stamp && strncmp(old.stamp, "sha256:", 7) && old.location &&
	    !strcmp(old.location, r->url))
		etag = old.stamp;
	was_sparse = have_old && old.location && !strcmp(old.location, r->url) &&
		     sparse_root_modified(&modified, ctx->db, r->name);
	if (was_sparse) {
		/* a sparse root is small: asked with both validators, through
		 * the transfers that fetch its files */
		req.url = r->url;
		req.etag = refetch ? NULL : etag;
		req.modified = refetch ? NULL : modified;
		if ((rc = ipm_http_get_many(&ctx->fetch, &req, 1, 1)) < 0)
			goto done;
		doc.not_modified = req.not_modified;
		doc.body = req.body;
		doc.len = req.len;
		doc.etag = req.out_etag;
		req.body = req.out_etag = NULL;
	} else if ((rc = ipm_http_get(&doc, &ctx->fetch, r->url, etag)) < 0) {
		goto done;
	}
	if (doc.not_modified) {
		size_t fetched = 0;
		/* the root did not change, but shards a lookup skipped may be
		 * missing here: fetched now */
		rc = was_sparse ? ipm_sparse_complete(ctx, r, only_name, &fetched) : 0;
		*changed = fetched > 0;
		goto done;
	}
	if (doc.etag && doc.etag[0]) {
		stamp = xstrdup(doc.etag);
	} else {
		ipm_sha256_hex(hex, doc.body ? doc.body : "", doc.len);
		stamp = xasprintf("sha256:%s", hex);
		if (!refetch && have_old && old.stamp && !strcmp(old.stamp, stamp)) {
			rc = 0;
			goto done;
		}
	}
	if (r->key)
		rc = check_signed(&version, &expires, ctx, r, &old, have_old, &doc);
	else
		rc = ipm_registry_index_freshness(&version, &expires, doc.body ? doc.body : "", doc.len, r->url);
	if (rc < 0)
		goto done;
	row = row_for(r, stamp, NULL, NULL);
	row.serial = version;
	row.expires = expires;
	if (is_sparse_root(doc.body ? doc.body : "", doc.len)) {
		size_t fetched = 0;
		if ((rc = sparse_meta(&meta, doc.body, doc.len, r->url)) < 0)
			goto done;
		row.home = meta.home;
		row.home_commit = meta.commit;
		rc = ipm_sparse_import(ctx, r, &row, doc.body, doc.len, doc.etag, req.out_modified,
				       (flags & IPM_SYNC_FORCE) != 0, only_name, &fetched);
		if (rc == 0)
			*changed = 1;
		goto done;
	}
	rc = ipm_registry_import_index(ctx->db, &row, doc.body ? doc.body : "", doc.len, r->url, &count);
	if (rc == 0) {
		*changed = 1;
		ipm_log(IPM_LOG_DEBUG, "registry '%s': imported %zu entries from '%s'", r->name, count, r->url);
	}
done:
	ipm_http_doc_release(&doc);
	ipm_http_reqs_release(&req, 1);
	ipm_registry_row_release(&old);
	meta_release(&meta);
	free(stamp);
	free(modified);
	return rc;
}

/*
 * A registry published while it was being fetched: the root named files
 * that the server has replaced since (IPM_ESTALE, nothing written). Asked
 * once more, conditionally on the index kept, which gives the new root;
 * published again meanwhile, or a root that names files the server does
 * not have, the error stands.
 */
static int sync_http(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, unsigned flags, const char *only_name,
		     int *changed)
{
	int rc = sync_http_once(ctx, r, flags, only_name, changed);

	if (rc != IPM_ESTALE)
		return rc;
	ipm_log(IPM_LOG_INFO, "registry '%s' was published during the update (%s): fetching it again", r->name,
		ipm_error_message());
	ipm_error_clear();
	return sync_http_once(ctx, r, flags, only_name, changed);
}

int ipm_registry_sync_flags(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, unsigned flags,
			    int *out_changed)
{
	int changed = 0, rc = 0;

	switch (r->kind) {
	case IPM_REGISTRY_LOCAL: rc = sync_local(ctx, r, flags, &changed); break;
	case IPM_REGISTRY_GIT: rc = sync_git(ctx, r, flags, &changed); break;
	case IPM_REGISTRY_HTTP: rc = sync_http(ctx, r, flags, NULL, &changed); break;
	}
	if (out_changed)
		*out_changed = changed;
	return rc;
}

int ipm_registry_sync(struct ipm_ctx *ctx, const struct ipm_registry_conf *r, int *out_changed)
{
	return ipm_registry_sync_flags(ctx, r, 0, out_changed);
}

int ipm_registry_local_fresh(struct ipm_ctx *ctx)
{
	struct ipm_buf path = IPM_BUF_INIT;
	int fresh = 1;

	for (size_t i = 0; fresh && i < ctx->cfg.nregistries; i++) {
		const struct ipm_registry_conf *r = &ctx->cfg.registries[i];
		struct ipm_registry_row row = { 0 };
		char **files = NULL, *stamp = NULL;
		size_t nfiles = 0;

		if (r->kind != IPM_REGISTRY_LOCAL)
			continue;
		ipm_buf_reset(&path);
		ipm_buf_add(&path, r->url);
		ipm_buf_addpath(&path, "packages");
		if (ipm_db_registry_get(&row, ctx->db, r->name) < 0 ||
		    ipm_registry_entry_files(&files, &nfiles, path.ptr) < 0) {
			fresh = 0;
		} else {
			local_stamp(&stamp, r->url, files, nfiles);
			fresh = row.stamp && row.location && !strcmp(row.stamp, stamp) &&
				!strcmp(row.location, r->url);
		}
		ipm_registry_row_release(&row);
		xfree_strv(files, nfiles);
		free(stamp);
	}
	ipm_error_clear();
	ipm_buf_release(&path);
	return fresh;
}

int ipm_registry_sync_local(struct ipm_ctx *ctx)
{
	for (size_t i = 0; i < ctx->cfg.nregistries; i++) {
		const struct ipm_registry_conf *r = &ctx->cfg.registries[i];
		int rc;
		if (r->kind != IPM_REGISTRY_LOCAL)
			continue;
		if ((rc = ipm_registry_sync(ctx, r, NULL)) < 0)
			return rc;
	}
	return 0;
}

/* ---- lookups ---- */

static const struct ipm_registry_conf *conf_of(struct ipm_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->cfg.nregistries; i++)
		if (!strcmp(ctx->cfg.registries[i].name, name))
			return &ctx->cfg.registries[i];
	return NULL;
}

/* The lookup order: the configured one, with `prefer` (when configured)
 * moved first. */
static const char **lookup_order(struct ipm_ctx *ctx, const char *prefer)
{
	const char **names = xcalloc(ctx->cfg.nregistries + 1, sizeof(*names));
	size_t n = 0;

	if (prefer && conf_of(ctx, prefer))
		names[n++] = prefer;
	for (size_t i = 0; i < ctx->cfg.nregistries; i++)
		if (!prefer || strcmp(ctx->cfg.registries[i].name, prefer))
			names[n++] = ctx->cfg.registries[i].name;
	return names;
}

static int lookup_from(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *spec,
		       const char *prefer)
{
	const char **names = lookup_order(ctx, prefer);
	char *json = NULL, *registry = NULL, *origin = NULL, *name = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (out_registry)
		*out_registry = NULL;
	rc = ipm_db_entry_find_named(&json, &registry, &name, ctx->db, spec, names, ctx->cfg.nregistries);
	/* a sparse registry's entry whose package file was never fetched */
	if (rc == 0 && !json[0]) {
		const struct ipm_registry_conf *r = conf_of(ctx, registry);
		free(json);
		json = NULL;
		if (r && (rc = check_transport(ctx, r)) < 0)
			goto done;
		rc = ipm_sparse_fetch_entry(&json, ctx, registry, name);
		/* the registry was published since the last update: a writer
		 * updates it (the digests it keeps are the old ones), then
		 * looks again */
		if (rc == IPM_ESTALE && r && ctx->lock) {
			int changed = 0;
			ipm_log(IPM_LOG_INFO, "registry '%s' was published since the last update: updating it",
				registry);
			ipm_error_clear();
			if ((rc = sync_http(ctx, r, 0, NULL, &changed)) == 0) {
				free(name);
				free(registry);
				name = registry = NULL;
				rc = ipm_db_entry_find_named(&json, &registry, &name, ctx->db, spec, names,
							     ctx->cfg.nregistries);
				if (rc == 0 && !json[0]) {
					free(json);
					json = NULL;
					rc = ipm_sparse_fetch_entry(&json, ctx, registry, name);
				}
			}
		}
	}
	if (rc == 0) {
		origin = xasprintf("%s (registry '%s')", spec, registry);
		if ((rc = ipm_entry_parse(out, json, strlen(json), origin)) == 0 && out_registry) {
			*out_registry = registry;
			registry = NULL;
		}
	}
done:
	free(name);
	free(names);
	free(json);
	free(registry);
	free(origin);
	return rc;
}

int ipm_registry_lookup(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *spec)
{
	return lookup_from(out, out_registry, ctx, spec, NULL);
}

int ipm_registry_find(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *spec)
{
	return ipm_registry_find_from(out, out_registry, ctx, spec, NULL);
}

/*
 * For a lookup that found nothing: the shard that name `spec` is in, from
 * every HTTP registry that could have it without having fetched it (a
 * sparse registry imported by lookups only, or one never fetched, whose
 * root is fetched first: so an install on a fresh machine fetches the root,
 * the shards of the package and of its dependencies, and their files).
 * Only for a writer (the lock held): readers say "run 'ipm update'".
 * Returns the number of registries synced, or an error.
 */
static int fetch_shards_for(struct ipm_ctx *ctx, const char *spec)
{
	int synced = 0, rc;

	if (!ctx->lock || !ipm_entry_name_valid(spec))
		return 0;
	for (size_t i = 0; i < ctx->cfg.nregistries; i++) {
		const struct ipm_registry_conf *r = &ctx->cfg.registries[i];
		struct ipm_registry_row row;
		int changed = 0, held;
		size_t fetched = 0;

		if (r->kind != IPM_REGISTRY_HTTP)
			continue;
		if (ipm_db_registry_get(&row, ctx->db, r->name) == IPM_ENOTFOUND) {
			ipm_error_clear();
			if ((rc = sync_http(ctx, r, 0, spec, &changed)) < 0)
				return rc;
			synced++;
			continue;
		}
		ipm_registry_row_release(&row);
		ipm_error_clear();
		if ((held = ipm_sparse_shard_held(ctx, r->name, spec)) != 0)
			continue;
		if ((rc = check_transport(ctx, r)) < 0 || (rc = ipm_sparse_complete(ctx, r, spec, &fetched)) < 0)
			return rc;
		synced += fetched > 0;
	}
	return synced;
}

int ipm_registry_find_from(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *spec,
			   const char *prefer)
{
	struct ipm_similar_match *matches = NULL;
	size_t nmatches = 0;
	int rc;

	rc = lookup_from(out, out_registry, ctx, spec, prefer);
	if (rc != IPM_ENOTFOUND)
		return rc;
	/* a sparse registry holds only the shards fetched so far: the one
	 * this name is in is fetched now, and the lookup tried again */
	if ((rc = fetch_shards_for(ctx, spec)) < 0)
		return rc;
	if (rc > 0) {
		ipm_error_clear();
		rc = lookup_from(out, out_registry, ctx, spec, prefer);
		if (rc != IPM_ENOTFOUND)
			return rc;
	}

	/* a remote registry never fetched is the likeliest reason */
	for (size_t i = 0; i < ctx->cfg.nregistries; i++) {
		const struct ipm_registry_conf *r = &ctx->cfg.registries[i];
		struct ipm_registry_row row;
		if (r->kind == IPM_REGISTRY_LOCAL)
			continue;
		if (ipm_db_registry_get(&row, ctx->db, r->name) == IPM_ENOTFOUND) {
			rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' not found", spec);
			ipm_error_hint("registry '%s' was never fetched: run 'ipm update'", r->name);
			goto done;
		}
		ipm_registry_row_release(&row);
	}
	const char *slash = strrchr(spec, '/');
	if (ipm_similar_find(&matches, &nmatches, ctx->db, slash ? slash + 1 : spec, 1, SUGGEST_MIN_SCORE) < 0)
		nmatches = 0;
	rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' not found", spec);
	if (nmatches)
		ipm_error_hint("did you mean '%s'?", matches[0].name);
	else
		ipm_error_hint("search the registries with: ipm search WORD");
done:
	ipm_similar_matches_free(matches, nmatches);
	return rc;
}

int ipm_registry_offers(char ***out, size_t *nout, struct ipm_ctx *ctx, const char *name)
{
	char **found = NULL, **ordered = NULL;
	size_t nfound = 0, n = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = ipm_db_entry_registries(&found, &nfound, ctx->db, name)) < 0)
		return rc;
	ordered = xcalloc(nfound + 1, sizeof(*ordered));
	for (size_t i = 0; i < ctx->cfg.nregistries; i++)
		for (size_t j = 0; j < nfound; j++)
			if (!strcmp(found[j], ctx->cfg.registries[i].name))
				ordered[n++] = xstrdup(found[j]);
	xfree_strv(found, nfound);
	*out = ordered;
	*nout = n;
	return 0;
}

char *ipm_registry_names_text(char *const *names, size_t n)
{
	struct ipm_buf b = IPM_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		if (i)
			ipm_buf_add(&b, i + 1 == n ? " and " : ", ");
		ipm_buf_addf(&b, "'%s'", names[i]);
	}
	return ipm_buf_detach(&b);
}

struct shared_walk {
	struct ipm_ctx *ctx;
	size_t limit;
	size_t count;
};

static int warn_shared_one(void *opaque, const char *name, const char *registries)
{
	struct shared_walk *w = opaque;
	char **names = NULL, *text = NULL;
	size_t n = 0, alloc = 0;

	/* configured ones only, in the configured order */
	for (size_t i = 0; i < w->ctx->cfg.nregistries; i++) {
		const char *reg = w->ctx->cfg.registries[i].name, *p = registries;
		size_t len = strlen(reg);
		for (; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			if (!strncmp(p, reg, len) && (p[len] == '\n' || p[len] == '\0')) {
				XGROW(names, alloc, n + 1);
				names[n++] = xstrdup(reg);
				break;
			}
		}
	}
	if (n > 1 && w->count++ < w->limit) {
		text = ipm_registry_names_text(names, n);
		ipm_log(IPM_LOG_WARN, "registries %s %s offer '%s': '%s' comes first, but a package's "
			"dependencies come from its own registry", text, n == 2 ? "both" : "all", name, names[0]);
	}
	free(text);
	xfree_strv(names, n);
	return 0;
}

int ipm_registry_warn_shared(struct ipm_ctx *ctx, size_t limit)
{
	struct shared_walk w = { .ctx = ctx, .limit = limit };
	int rc;

	if (ctx->cfg.nregistries < 2)
		return 0;
	if ((rc = ipm_db_entry_shared(ctx->db, warn_shared_one, &w)) < 0)
		return rc;
	if (w.count > limit)
		ipm_log(IPM_LOG_WARN, "%zu more names are offered by more than one registry", w.count - limit);
	return 0;
}

static int set_source(struct ipm_source *src, const char *git, const char *commit)
{
	free(src->git);
	free(src->commit);
	src->git = xstrdup(git);
	src->commit = xstrdup(commit);
	return 0;
}

/* A checkout's toplevel and HEAD commit, for sources that are "self". */
static int self_from_checkout(struct ipm_source *src, const char *dir, const char *what)
{
	char *commit = NULL, *top = NULL;
	int rc;

	if ((rc = ipm_git_head(&commit, &top, dir)) < 0) {
		ipm_error_set(IPM_ENOTFOUND, "%s '%s' is not in a git checkout with commits", what, dir);
		ipm_error_hint("packages with \"git\": \"self\" install from the repository holding the registry; "
			       "use a git clone of it, or give the registry a \"home\" and \"commit\" in registry.json");
		return IPM_ENOTFOUND;
	}
	set_source(src, top, commit);
	free(commit);
	free(top);
	return 0;
}

int ipm_registry_resolve_self(struct ipm_source *src, struct ipm_ctx *ctx, const char *registry)
{
	struct ipm_registry_row row = { 0 };
	const struct ipm_registry_conf *conf;
	int rc, have_row;

	if (!strncmp(registry, "file:", 5)) {
		char *dir = xstrdup(registry + 5), *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		rc = self_from_checkout(src, slash ? (dir[0] ? dir : "/") : ".", "entry file directory");
		free(dir);
		return rc;
	}
	conf = conf_of(ctx, registry);
	have_row = ipm_db_registry_get(&row, ctx->db, registry) == 0;
	ipm_error_clear();
	/* an installed copy of a registry says where it came from (registry.json
	 * "home" + "commit"); a checkout is asked for its HEAD, now */
	if (conf && conf->kind == IPM_REGISTRY_LOCAL && !(have_row && row.home && row.home_commit)) {
		rc = self_from_checkout(src, conf->url, "registry directory");
		goto done;
	}
	if (!have_row) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s' was never imported", registry);
		ipm_error_hint("run 'ipm update'");
		goto done;
	}
	if (!row.home || !row.home_commit) {
		rc = ipm_error_set(IPM_EINVAL, "registry '%s' does not say which repository and commit its "
				   "\"self\" packages come from", registry);
		ipm_error_hint("the registry must declare \"home\" and \"commit\"");
		goto done;
	}
	rc = set_source(src, row.home, row.home_commit);
done:
	ipm_registry_row_release(&row);
	return rc;
}

int ipm_registry_load_file(struct ipm_entry *out, char **out_registry, struct ipm_ctx *ctx, const char *path)
{
	char *abs = NULL;
	int rc;

	*out_registry = NULL;
	if ((rc = ipm_entry_load(out, path)) < 0)
		return rc;
	abs = realpath(path, NULL);
	*out_registry = xasprintf("file:%s", abs ? abs : path);
	free(abs);
	return 0;
}
