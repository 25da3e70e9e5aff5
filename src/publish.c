/*
 * ipm registry build's engine: a registry directory compiled into the one
 * index document an HTTP registry serves (format in registry.h, contract in
 * publish.h). Every entry rule is entry.c's; this file only gathers the
 * entries, decides where "self" sources come from, and prints the document
 * the same way every time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <git2.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/publish.h"
#include "ipm/registry.h"
#include "ipm/sign.h"
#include "ipm/xalloc.h"

void ipm_index_release(struct ipm_index *ix)
{
	if (!ix)
		return;
	free(ix->json);
	free(ix->home);
	free(ix->commit);
	memset(ix, 0, sizeof(*ix));
}

/* ---- where the index may go ---- */

int ipm_publish_check_paths(const char *dir, const char *out_path)
{
	struct ipm_buf path = IPM_BUF_INIT;
	char *parent = NULL, *real_dir = NULL, *real_parent = NULL;
	const char *slash, *base;
	int rc = 0;

	if (!ipm_path_exists(dir)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry directory '%s' not found", dir);
		goto done;
	}
	ipm_buf_add(&path, dir);
	ipm_buf_addpath(&path, "packages");
	if (!ipm_is_dir(dir) || !ipm_is_dir(path.ptr)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is not an ipm registry: it has no packages directory", dir);
		ipm_error_hint("a registry holds registry.json and one packages/<name>.json per package");
		goto done;
	}

	slash = strrchr(out_path, '/');
	base = slash ? slash + 1 : out_path;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || ipm_is_dir(out_path)) {
		size_t n = strlen(out_path);
		while (n > 1 && out_path[n - 1] == '/')
			n--;
		rc = ipm_error_set(IPM_EINVAL, "output '%s' is a directory", out_path);
		ipm_error_hint("name the file to write, e.g. '%.*s/index.json'", (int)n, out_path);
		goto done;
	}
	parent = slash ? xstrndup(out_path, (size_t)(slash - out_path)) : xstrdup(".");
	if (!*parent) {
		free(parent);
		parent = xstrdup("/");
	}
	if (!ipm_is_dir(parent)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "directory '%s' of output '%s' not found", parent, out_path);
		ipm_error_hint("create it first: mkdir -p %s", parent);
		goto done;
	}
	/* an index inside the registry would be part of what it is built from
	 * (and, under packages/, read as an entry) */
	real_dir = realpath(dir, NULL);
	real_parent = realpath(parent, NULL);
	if (real_dir && real_parent) {
		size_t n = strlen(real_dir);
		ipm_buf_reset(&path);
		ipm_buf_add(&path, real_parent);
		ipm_buf_addpath(&path, base);
		if (!strncmp(path.ptr, real_dir, n) && (path.ptr[n] == '/' || real_dir[n - 1] == '/')) {
			rc = ipm_error_set(IPM_EINVAL, "output '%s' is inside the registry directory '%s'",
					   out_path, dir);
			ipm_error_hint("write the index outside the registry, e.g. to build/index.json");
			goto done;
		}
	}
done:
	ipm_buf_release(&path);
	free(parent);
	free(real_dir);
	free(real_parent);
	return rc;
}

/* ---- registry.json ---- */

struct meta {
	cJSON *obj;          /* the "registry" object being built */
	char *home;
	char *commit;
};

/* Adds a problem with the error slot's message and hint, and clears it. */
static void problem_from_error(struct ipm_problems *problems)
{
	const char *msg = ipm_error_message();
	ipm_problems_add(problems, ipm_error_hint_text(), "%s", msg && *msg ? msg : "unknown error");
	ipm_error_clear();
}

/* registry.json, held to the rules the import applies to the "registry"
 * object, so that a built index is never refused by a client. */
static void read_meta(struct meta *m, struct ipm_problems *problems, const char *dir)
{
	static const char *const known[] = { "name", "description", "home", "commit", "$schema", NULL };
	static const char *const copied[] = { "name", "description", NULL };
	struct ipm_buf path = IPM_BUF_INIT;
	const char *end = NULL;
	char *text = NULL;
	size_t len = 0, line, column;
	cJSON *root = NULL;

	m->obj = cJSON_CreateObject();
	ipm_buf_add(&path, dir);
	ipm_buf_addpath(&path, "registry.json");
	if (!ipm_path_exists(path.ptr))
		goto done;
	if (ipm_file_read(&text, &len, path.ptr) < 0) {
		problem_from_error(problems);
		goto done;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		ipm_entry_json_position(&line, &column, text, end && end >= text ? (size_t)(end - text) : 0);
		ipm_problems_add(problems, NULL, "malformed JSON in '%s' at line %zu, column %zu", path.ptr,
				 line, column);
		goto done;
	}
	if (!cJSON_IsObject(root)) {
		ipm_problems_add(problems, NULL, "'%s' must hold a JSON object", path.ptr);
		goto done;
	}
	for (const cJSON *item = root->child; item; item = item->next) {
		size_t i;
		for (i = 0; known[i] && strcmp(known[i], item->string); i++)
			;
		if (!known[i])
			ipm_problems_add(problems, "registry.json holds \"name\", \"description\", \"home\" and \"commit\"",
					 "unknown field '%s' in '%s'", item->string, path.ptr);
		else if (strcmp(item->string, "$schema") && !cJSON_IsString(item) && !cJSON_IsNull(item))
			ipm_problems_add(problems, NULL, "field '%s' in '%s' must be a string", item->string, path.ptr);
	}
	for (size_t i = 0; copied[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, copied[i]);
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(m->obj, copied[i], v->valuestring);
	}
	const cJSON *home = cJSON_GetObjectItemCaseSensitive(root, "home");
	const cJSON *commit = cJSON_GetObjectItemCaseSensitive(root, "commit");
	if (cJSON_IsString(home) && home->valuestring[0])
		m->home = xstrdup(home->valuestring);
	if (cJSON_IsString(commit) && commit->valuestring[0]) {
		if (ipm_is_hex(commit->valuestring, 40))
			m->commit = xstrdup(commit->valuestring);
		else
			ipm_problems_add(problems, NULL, "field 'commit' in '%s' must be a full commit id of 40 hex digits",
					 path.ptr);
	}
done:
	cJSON_Delete(root);
	free(text);
	ipm_buf_release(&path);
}

/* ---- the git repository holding the registry ---- */

/* 1 when a URL carries a user name or password that must not be published
 * (https://token@host/...); ssh's user@ is part of the address. */
static int url_has_credentials(const char *url)
{
	const char *p = strstr(url, "://"), *at, *slash;

	if (!p || !strncmp(url, "ssh://", 6) || !strncmp(url, "git+ssh://", 10))
		return 0;
	p += 3;
	at = strchr(p, '@');
	slash = strchr(p, '/');
	return at && (!slash || at < slash);
}

/* The URL of remote "origin" of the repository holding dir; NULL when it
 * has none (not an error: registry.json may say instead). */
static char *origin_url(const char *dir)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	const char *value = NULL;
	char *url = NULL;

	if (ipm_fetch_init() < 0) {
		ipm_error_clear();
		return NULL;
	}
	/* the configured value as written: git_remote_lookup would also apply
	 * the user's url.*.insteadOf rewrites, which are nobody else's */
	if (git_repository_open_ext(&repo, dir, 0, NULL) == 0 && git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_string(&value, cfg, "remote.origin.url") == 0 && value && *value)
		url = xstrdup(value);
	git_config_free(cfg);
	git_repository_free(repo);
	return url;
}

/* Fills m->home and m->commit for "self" entries (first_self names one). */
static void resolve_self(struct meta *m, struct ipm_problems *problems, const char *dir, const char *first_self)
{
	char *head = NULL, *top = NULL;
	int in_git;

	if (m->home && m->commit)
		return;
	in_git = ipm_git_head(&head, &top, dir) == 0;
	ipm_error_clear();
	if (!m->commit) {
		if (!in_git) {
			ipm_problems_add(problems,
					 "build from a git checkout of the registry, or give registry.json a \"commit\"",
					 "entry '%s' installs from the registry's own repository (\"git\": \"self\"), "
					 "but '%s' is not in a git checkout with commits", first_self, dir);
			goto done;
		}
		m->commit = head;
		head = NULL;
	}
	if (!m->home) {
		char *url = in_git ? origin_url(dir) : NULL;
		if (!url) {
			ipm_problems_add(problems,
					 "give registry.json a \"home\", the git URL of the repository holding the registry, "
					 "or set the checkout's remote: git remote add origin URL",
					 "entry '%s' installs from the registry's own repository (\"git\": \"self\"), "
					 "but neither registry.json nor a remote 'origin' says where that repository is",
					 first_self);
		} else if (url_has_credentials(url)) {
			ipm_problems_add(problems, "give registry.json a \"home\" without credentials",
					 "remote 'origin' of '%s' has credentials in its URL; they must not be published",
					 top ? top : dir);
			free(url);
		} else {
			m->home = url;
		}
	}
done:
	free(head);
	free(top);
}

/* ---- the entries ---- */

struct item {
	char *name;
	char *json;          /* compact */
};

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->name, ((const struct item *)b)->name);
}

/* Checks one entry file; on success appends it to *items. Returns 1 when it
 * has a "self" source, 0 otherwise. */
static int read_entry(struct item **items, size_t *nitems, size_t *alloc, struct ipm_problems *problems,
		      const char *path, unsigned flags)
{
	struct ipm_entry e = { 0 };
	size_t before = problems->n, len = 0;
	char *text = NULL, *json = NULL;
	cJSON *root = NULL;
	int self = 0;

	if (ipm_file_read(&text, &len, path) < 0) {
		problem_from_error(problems);
		goto done;
	}
	if (ipm_entry_check(&e, problems, text, len, path, flags) < 0) {
		if (problems->n == before)
			problem_from_error(problems);
		ipm_error_clear();
		goto done;
	}
	if (ipm_entry_check_filename(&e, path) < 0) {
		problem_from_error(problems);
		goto done;
	}
	for (size_t i = 0; i < e.nreleases; i++)
		if (e.releases[i].source.kind == IPM_SOURCE_SELF)
			self = 1;
	/* valid already; printed again without the file's layout */
	root = cJSON_ParseWithLength(text, len);
	json = root ? cJSON_PrintUnformatted(root) : NULL;
	if (!json) {
		ipm_problems_add(problems, NULL, "cannot print the entry in '%s'", path);
		goto done;
	}
	XGROW(*items, *alloc, *nitems + 1);
	(*items)[*nitems].name = xstrdup(e.name);
	(*items)[*nitems].json = xstrdup(json);
	(*nitems)++;
done:
	cJSON_free(json);
	cJSON_Delete(root);
	ipm_entry_release(&e);
	free(text);
	return self;
}

int ipm_publish_index(struct ipm_index *out, struct ipm_problems *problems, const char *dir, unsigned flags)
{
	struct ipm_buf path = IPM_BUF_INIT, doc = IPM_BUF_INIT;
	struct meta meta = { 0 };
	struct item *items = NULL;
	char **files = NULL, *first_self = NULL, *reg_json = NULL;
	size_t nitems = 0, items_alloc = 0, nfiles = 0, before = problems->n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	ipm_buf_add(&path, dir);
	ipm_buf_addpath(&path, "packages");
	/* sorted, so problems come in the same order on every run */
	if ((rc = ipm_registry_entry_files(&files, &nfiles, path.ptr)) < 0)
		goto done;

	read_meta(&meta, problems, dir);
	for (size_t i = 0; i < nfiles; i++) {
		ipm_buf_reset(&path);
		ipm_buf_add(&path, dir);
		ipm_buf_addpath(&path, "packages");
		ipm_buf_addpath(&path, files[i]);
		if (read_entry(&items, &nitems, &items_alloc, problems, path.ptr, flags) && !first_self)
			first_self = xstrdup(items[nitems - 1].name);
	}
	if (first_self)
		resolve_self(&meta, problems, dir, first_self);
	if (problems->n > before) {
		rc = ipm_error_set(IPM_EINVAL, "%s", problems->items[before].message);
		if (problems->items[before].hint)
			ipm_error_hint("%s", problems->items[before].hint);
		goto done;
	}

	if (meta.home)
		cJSON_AddStringToObject(meta.obj, "home", meta.home);
	if (meta.commit)
		cJSON_AddStringToObject(meta.obj, "commit", meta.commit);
	if (!(reg_json = cJSON_PrintUnformatted(meta.obj))) {
		rc = ipm_error_set(IPM_ERROR, "out of memory printing the index of '%s'", dir);
		goto done;
	}
	if (nitems)
		qsort(items, nitems, sizeof(*items), cmp_item);
	ipm_buf_add(&doc, "{\"registry\":");
	ipm_buf_add(&doc, reg_json);
	out->packages_at = doc.len;
	ipm_buf_add(&doc, ",\"packages\":[\n");
	for (size_t i = 0; i < nitems; i++) {
		ipm_buf_add(&doc, items[i].json);
		ipm_buf_add(&doc, i + 1 < nitems ? ",\n" : "\n");
	}
	ipm_buf_add(&doc, "]}\n");
	out->len = doc.len;
	out->json = ipm_buf_detach(&doc);
	out->npackages = nitems;
	out->home = meta.home;
	out->commit = meta.commit;
	meta.home = meta.commit = NULL;
done:
	for (size_t i = 0; i < nitems; i++) {
		free(items[i].name);
		free(items[i].json);
	}
	free(items);
	xfree_strv(files, nfiles);
	cJSON_Delete(meta.obj);
	free(meta.home);
	free(meta.commit);
	cJSON_free(reg_json);
	free(first_self);
	ipm_buf_release(&path);
	ipm_buf_release(&doc);
	return rc;
}

/* ---- version, expiry and signature ---- */

/* ix->json without a stamp, with (version, expires) put in at packages_at. */
static char *stamped(size_t *out_len, const struct ipm_index *ix, const char *base, size_t base_len,
		     int64_t version, int64_t expires)
{
	struct ipm_buf b = IPM_BUF_INIT;
	char when[21];

	ipm_registry_time_format(when, expires);
	ipm_buf_addn(&b, base, ix->packages_at);
	ipm_buf_addf(&b, ",\"version\":%lld,\"expires\":\"%s\"", (long long)version, when);
	ipm_buf_addn(&b, base + ix->packages_at, base_len - ix->packages_at);
	*out_len = b.len;
	return ipm_buf_detach(&b);
}

int ipm_publish_stamp(struct ipm_index *ix, int *out_kept, const char *out_path, int64_t now, int64_t valid_for)
{
	int64_t old_version = 0, old_expires = 0;
	char *old = NULL, *candidate = NULL;
	size_t old_len = 0, len = 0;

	*out_kept = 0;
	if (ix->version)
		return ipm_error_set(IPM_EINVAL, "the index is stamped already");
	if (ipm_path_exists(out_path) && ipm_file_read(&old, &old_len, out_path) == 0 &&
	    ipm_registry_index_freshness(&old_version, &old_expires, old, old_len, out_path) == 0 &&
	    old_version && old_expires) {
		candidate = stamped(&len, ix, ix->json, ix->len, old_version, old_expires);
		if (len == old_len && !memcmp(candidate, old, len) && old_expires - now > valid_for / 2) {
			*out_kept = 1;
			ix->version = old_version;
			ix->expires = old_expires;
			goto done;
		}
	}
	/* anything wrong with the old file only means starting afresh */
	ipm_error_clear();
	free(candidate);
	ix->version = old_version >= now ? old_version + 1 : now;
	ix->expires = now + valid_for;
	candidate = stamped(&len, ix, ix->json, ix->len, ix->version, ix->expires);
done:
	free(ix->json);
	ix->json = candidate;
	ix->len = len;
	free(old);
	return 0;
}

int ipm_publish_sign(int *out_written, const struct ipm_index *ix, const char *out_path,
		     const struct ipm_sign_seckey *sk)
{
	struct ipm_sign_pubkey pk;
	char *sig_path = xasprintf("%s.minisig", out_path), *old = NULL, *sig = NULL;
	const char *base = strrchr(out_path, '/');
	size_t old_len = 0;
	int rc;

	*out_written = 0;
	ipm_sign_public_of(&pk, sk);
	if (ipm_path_exists(sig_path) && ipm_file_read(&old, &old_len, sig_path) == 0 &&
	    ipm_sign_verify(NULL, &pk, ix->json, ix->len, old, old_len) == 0) {
		rc = 0;
		goto done;
	}
	ipm_error_clear();
	if ((rc = ipm_sign_data(&sig, sk, ix->json, ix->len, NULL, base ? base + 1 : out_path)) < 0)
		goto done;
	if ((rc = ipm_file_write_atomic(sig_path, sig, strlen(sig))) < 0)
		goto done;
	*out_written = 1;
done:
	free(sig_path);
	free(old);
	free(sig);
	return rc;
}

/* ---- writing ---- */

int ipm_publish_write(int *out_written, const char *path, const char *data, size_t len)
{
	struct stat st;
	char *old = NULL;
	size_t old_len = 0;
	int rc;

	*out_written = 0;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len &&
	    ipm_file_read(&old, &old_len, path) == 0 && old_len == len && !memcmp(old, data, len)) {
		free(old);
		return 0;
	}
	ipm_error_clear();
	free(old);
	if ((rc = ipm_file_write_atomic(path, data, len)) < 0)
		return rc;
	*out_written = 1;
	return 0;
}
