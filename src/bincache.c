/* Binary caches: build keys, the local cache, signed remote caches. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <gnu/libc-version.h>

#include <archive.h>
#include <archive_entry.h>
#include <cJSON.h>

#include "ipm/bincache.h"
#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/interrupt.h"
#include "ipm/log.h"
#include "ipm/stage.h"
#include "ipm/worker.h"
#include "ipm/xalloc.h"

#define MANIFEST_MAX (1u << 20)
#define SIGNATURE_MAX (16u << 10)

void ipm_bincache_choice_free(struct ipm_bincache_choice *c)
{
	if (!c)
		return;
	free(c->key);
	free(c->input);
	free(c->from);
	free(c->manifest);
	free(c->method);
	free(c->why_build);
	free(c);
}

/* ---- pure parts ---- */

void ipm_bincache_key_of(char out[65], const char *input)
{
	ipm_sha256_hex(out, input, strlen(input));
}

void ipm_bincache_manifest_release(struct ipm_bincache_manifest *m)
{
	free(m->key);
	free(m->name);
	free(m->version);
	free(m->method);
	free(m->archive);
	memset(m, 0, sizeof(*m));
}

static const char *json_string(const cJSON *obj, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

int ipm_bincache_manifest_parse(struct ipm_bincache_manifest *out, const char *text, size_t len,
				const char *expect_key)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *format, *size;
	const char *what = NULL, *sha;
	char *archive_name = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root)) {
		what = "not a JSON object";
		goto done;
	}
	format = cJSON_GetObjectItemCaseSensitive(root, "ipm_binary_cache");
	size = cJSON_GetObjectItemCaseSensitive(root, "size");
	sha = json_string(root, "sha256");
	if (!cJSON_IsNumber(format) || format->valuedouble != 1)
		what = "\"ipm_binary_cache\" is not 1";
	else if (!json_string(root, "key") || strlen(json_string(root, "key")) != 64 ||
		 !ipm_is_hex(json_string(root, "key"), 64))
		what = "\"key\" is not 64 hex digits";
	else if (!json_string(root, "name") || !*json_string(root, "name") || !json_string(root, "version"))
		what = "no \"name\" or \"version\"";
	else if (!sha || strlen(sha) != 64 || !ipm_is_hex(sha, 64))
		what = "\"sha256\" is not 64 hex digits";
	else if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 1e15)
		what = "\"size\" is not a number of bytes";
	if (what)
		goto done;
	archive_name = xasprintf("%s.tar.zst", json_string(root, "key"));
	if (!json_string(root, "archive") || strcmp(json_string(root, "archive"), archive_name) != 0) {
		what = "\"archive\" is not \"<key>.tar.zst\"";
		goto done;
	}
	out->key = xstrdup(json_string(root, "key"));
	out->name = xstrdup(json_string(root, "name"));
	out->version = xstrdup(json_string(root, "version"));
	out->method = xstrdup(json_string(root, "method"));
	out->archive = archive_name;
	archive_name = NULL;
	memcpy(out->sha256, sha, 65);
	out->size = (uint64_t)size->valuedouble;
	if (expect_key && strcmp(out->key, expect_key) != 0) {
		rc = ipm_error_set(IPM_EVERIFY, "the manifest is for another build (key %.12s, not %.12s)",
				   out->key, expect_key);
		ipm_bincache_manifest_release(out);
	}
done:
	if (what)
		rc = ipm_error_set(IPM_EINVAL, "malformed manifest: %s", what);
	free(archive_name);
	cJSON_Delete(root);
	return rc;
}

char *ipm_bincache_manifest_text(const char *key, const char *input, const char *name, const char *version,
				 const char *method, const char *archive_sha256, uint64_t size)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *in = input ? cJSON_Parse(input) : NULL;
	char *archive = xasprintf("%s.tar.zst", key);
	char *text;

	cJSON_AddNumberToObject(root, "ipm_binary_cache", 1);
	cJSON_AddStringToObject(root, "key", key);
	cJSON_AddStringToObject(root, "name", name);
	cJSON_AddStringToObject(root, "version", version);
	if (method)
		cJSON_AddStringToObject(root, "method", method);
	cJSON_AddStringToObject(root, "archive", archive);
	cJSON_AddStringToObject(root, "sha256", archive_sha256);
	cJSON_AddNumberToObject(root, "size", (double)size);
	if (in)
		cJSON_AddItemToObject(root, "input", in);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	free(archive);
	return text;
}

/* ---- the system's identity ---- */

/* The first line `sh -c cmd` prints (stderr dropped), or "none". */
static char *first_line_of(const char *cmd)
{
	char *full = xasprintf("%s 2>/dev/null", cmd);
	FILE *p = popen(full, "r");
	char line[512] = "";
	char *out;

	free(full);
	if (!p)
		return xstrdup("none");
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	pclose(p);
	line[strcspn(line, "\r\n")] = '\0';
	out = xstrdup(line[0] ? line : "none");
	return out;
}

/* ID and VERSION_ID of /etc/os-release, as "debian 12". */
static char *os_release(void)
{
	char *text = NULL;
	struct ipm_buf b = IPM_BUF_INIT;
	const char *fields[] = { "ID=", "VERSION_ID=" };

	if (ipm_file_read(&text, NULL, "/etc/os-release") < 0) {
		ipm_error_clear();
		return xstrdup("");
	}
	for (size_t f = 0; f < 2; f++) {
		for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
			size_t n = strlen(fields[f]), len = strcspn(line, "\n");
			if (strncmp(line, fields[f], n) != 0)
				continue;
			const char *v = line + n;
			len -= n;
			if (len >= 2 && (v[0] == '"' || v[0] == '\'')) {
				v++;
				len -= 2;
			}
			ipm_buf_addf(&b, "%s%.*s", b.len ? " " : "", (int)len, v);
			break;
		}
	}
	free(text);
	return ipm_buf_detach(&b);
}

struct sys_identity {
	char *os, *arch, *libc, *cc, *cxx;
};

static const struct sys_identity *sys_identity(void)
{
	static struct sys_identity id;
	static int known;
	struct utsname u;

	if (known)
		return &id;
	if (uname(&u) == 0) {
		char *rel = os_release();
		id.os = xasprintf("%s%s%s", u.sysname, *rel ? " " : "", rel);
		id.arch = xstrdup(u.machine);
		free(rel);
	} else {
		id.os = xstrdup("unknown");
		id.arch = xstrdup("unknown");
	}
	id.libc = xasprintf("glibc %s", gnu_get_libc_version());
	/* what the recipes' steps find on PATH, as they do */
	id.cc = first_line_of("cc --version");
	id.cxx = first_line_of("c++ --version");
	known = 1;
	return &id;
}

/* ---- keys ---- */

static cJSON *string_array(char *const *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
	return arr;
}

/* The key of dependency dep of item i: from a plan item to install before
 * it, else from the installed row. NULL: it has none. */
static char *dep_key(struct ipm_ctx *ctx, const struct ipm_plan *plan, size_t i, const char *dep)
{
	struct ipm_package_row row;
	char *key = NULL;

	for (size_t k = 0; k < i; k++) {
		const struct ipm_plan_item *d = &plan->items[k];
		if (strcmp(d->entry.name, dep) != 0 || d->installed)
			continue;
		return d->bincache && d->bincache->key ? xstrdup(d->bincache->key) : NULL;
	}
	memset(&row, 0, sizeof(row));
	if (ipm_db_package_get(&row, ctx->db, dep, 0) == 0) {
		key = xstrdup(row.build_key);
		ipm_package_row_release(&row);
	}
	ipm_error_clear();
	return key;
}

static void item_key(struct ipm_ctx *ctx, const struct ipm_plan *plan, size_t i)
{
	const struct ipm_plan_item *it = &plan->items[i];
	struct ipm_bincache_choice *c = it->bincache;
	const struct sys_identity *sys = sys_identity();
	cJSON *root = cJSON_CreateObject(), *methods, *deps;
	size_t first = 0, last = it->entry.nmethods;
	char key[65];

	cJSON_AddNumberToObject(root, "ipm_build", 1);
	cJSON_AddStringToObject(root, "name", it->entry.name);
	cJSON_AddStringToObject(root, "version", it->release->version);
	cJSON_AddStringToObject(root, "resolved", it->source.kind == IPM_SOURCE_ARCHIVE
				? (it->source.sha256 ? it->source.sha256 : "")
				: (it->source.commit ? it->source.commit : ""));
	cJSON_AddStringToObject(root, "subdir", it->source.subdir ? it->source.subdir : "");
	if (it->method) {
		first = (size_t)(it->method - it->entry.methods);
		last = first + 1;
	}
	methods = cJSON_AddArrayToObject(root, "methods");
	for (size_t m = first; m < last; m++) {
		const struct ipm_method *me = &it->entry.methods[m];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", me->name ? me->name : "");
		cJSON_AddItemToObject(o, "build", string_array(me->build, me->nbuild));
		cJSON_AddItemToObject(o, "install", string_array(me->install, me->ninstall));
		cJSON_AddItemToArray(methods, o);
	}
	{
		char *prefix = ctx->cfg.prefix[0] == '/' ? xstrdup(ctx->cfg.prefix) : NULL;
		if (!prefix) {
			char *cwd = getcwd(NULL, 0);
			prefix = xasprintf("%s/%s", cwd ? cwd : "", ctx->cfg.prefix);
			free(cwd);
		}
		cJSON_AddStringToObject(root, "prefix", prefix);
		free(prefix);
	}
	cJSON_AddStringToObject(root, "os", sys->os);
	cJSON_AddStringToObject(root, "arch", sys->arch);
	cJSON_AddStringToObject(root, "libc", sys->libc);
	cJSON_AddStringToObject(root, "cc", sys->cc);
	cJSON_AddStringToObject(root, "c++", sys->cxx);
	deps = cJSON_AddArrayToObject(root, "depends");
	for (size_t d = 0; d < it->entry.ndepends; d++) {
		const char *dep = it->entry.depends[d].name;
		char *k = dep_key(ctx, plan, i, dep);
		cJSON *o;
		if (!k) {
			c->why_build = xasprintf("its dependency '%s' has no build key", dep);
			cJSON_Delete(root);
			return;
		}
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", dep);
		cJSON_AddStringToObject(o, "key", k);
		cJSON_AddItemToArray(deps, o);
		free(k);
	}
	c->input = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	ipm_bincache_key_of(key, c->input);
	c->key = xstrdup(key);
}

int ipm_bincache_keys(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct ipm_plan_item *it = &plan->items[i];
		if (it->installed || it->bincache)
			continue;
		it->bincache = xcalloc(1, sizeof(*it->bincache));
		item_key(ctx, plan, i);
	}
	return 0;
}

/* ---- local paths ---- */

static char *binary_dir(const char *cache_dir)
{
	return xasprintf("%s/binary", cache_dir);
}

static char *local_path(const char *cache_dir, const char *key, const char *suffix)
{
	return xasprintf("%s/binary/%s%s", cache_dir, key, suffix);
}

static char *remote_url(const char *base, const char *key, const char *suffix)
{
	return xasprintf("%s/%s%s", base, key, suffix);
}

/* ---- looking up ---- */

/* Warned about once a process: caches without a key, unreachable ones. */
static char *warned;
static size_t nwarned;

static int warn_once_for(const struct ipm_config *cfg, size_t cache)
{
	if (nwarned != cfg->nbinary_caches) {
		free(warned);
		warned = xcalloc(cfg->nbinary_caches ? cfg->nbinary_caches : 1, 1);
		nwarned = cfg->nbinary_caches;
	}
	if (warned[cache])
		return 0;
	warned[cache] = 1;
	return 1;
}

static void auth_of(struct ipm_http_auth *auth, const struct ipm_binary_cache_conf *conf)
{
	auth->netrc_file = conf->netrc;
	auth->user = conf->username;
	auth->password = conf->password;
}

static int get_small(struct ipm_buf *body, struct ipm_ctx *ctx, const struct ipm_http_auth *auth,
		     const char *url, unsigned long long max)
{
	struct ipm_http_request req = { .method = IPM_HTTP_GET, .url = url, .auth = auth, .body = body,
					.max_bytes = max };
	ipm_buf_reset(body);
	return ipm_http_request(NULL, &ctx->fetch, &req);
}

static int local_hit(struct ipm_ctx *ctx, struct ipm_bincache_choice *c)
{
	char *manifest = local_path(ctx->cfg.cache, c->key, ".json");
	char *archive = local_path(ctx->cfg.cache, c->key, ".tar.zst");
	struct ipm_bincache_manifest m;
	char *text = NULL;
	size_t len = 0;
	int hit = 0;

	if (ipm_path_exists(archive) && ipm_file_read(&text, &len, manifest) == 0 &&
	    ipm_bincache_manifest_parse(&m, text, len, c->key) == 0) {
		c->from = xstrdup("local");
		c->method = xstrdup(m.method);
		c->manifest = text;
		c->manifest_len = len;
		text = NULL;
		hit = 1;
		ipm_bincache_manifest_release(&m);
	}
	ipm_error_clear();
	free(text);
	free(manifest);
	free(archive);
	return hit;
}

/* 1: a verified hit in cache conf; 0: a miss or a problem. An untrusted
 * answer is warned about here; a cache that cannot be reached sets *down,
 * and *why_down (caller frees) says why: the caller warns, once a cache. */
static int remote_hit(struct ipm_ctx *ctx, struct ipm_bincache_choice *c, const struct ipm_binary_cache_conf *conf,
		      int *down, char **why_down, const char *name)
{
	struct ipm_buf manifest = IPM_BUF_INIT, sig = IPM_BUF_INIT;
	struct ipm_http_auth auth;
	struct ipm_sign_pubkey pk;
	struct ipm_bincache_manifest m;
	char *url = remote_url(conf->url, c->key, ".json");
	char *sig_url = remote_url(conf->url, c->key, ".json.minisig");
	int rc, hit = 0;

	auth_of(&auth, conf);
	rc = get_small(&manifest, ctx, &auth, url, MANIFEST_MAX);
	if (rc == IPM_ENOTFOUND)
		goto done;
	if (rc < 0) {
		*down = 1;
		*why_down = xstrdup(ipm_error_message());
		goto done;
	}
	rc = get_small(&sig, ctx, &auth, sig_url, SIGNATURE_MAX);
	if (rc == 0 && (rc = ipm_sign_pubkey_parse(&pk, conf->key)) == 0)
		rc = ipm_sign_verify(NULL, &pk, manifest.ptr, manifest.len, sig.ptr, sig.len);
	if (rc == 0)
		rc = ipm_bincache_manifest_parse(&m, manifest.ptr, manifest.len, c->key);
	if (rc < 0) {
		ipm_log(IPM_LOG_WARN, "binary cache '%s': the build of '%s' is not trusted: %s; building it instead",
			conf->url, name, rc == IPM_ENOTFOUND ? "its manifest has no signature" : ipm_error_message());
		goto done;
	}
	c->from = xstrdup(conf->url);
	c->method = xstrdup(m.method);
	c->manifest_len = manifest.len;
	c->manifest = ipm_buf_detach(&manifest);
	ipm_bincache_manifest_release(&m);
	hit = 1;
done:
	ipm_error_clear();
	ipm_buf_release(&manifest);
	ipm_buf_release(&sig);
	free(url);
	free(sig_url);
	return hit;
}

/* One item's way through the remote caches, in a worker of its own. */
struct lookup {
	struct ipm_ctx *ctx;
	struct ipm_bincache_choice *c;
	const char *name;
	const char *skip;   /* the caches not to ask: without a key, or down (as at its start) */
	size_t nasked;      /* how many it asks */
	int taken;          /* its result is taken */
};

/* In a worker: hands back, for each cache that cannot be reached, "down",
 * its index and why; then, for a hit, "hit", its cache's index, the method
 * its build used and the manifest. */
static int lookup_run(void *opaque)
{
	struct lookup *l = opaque;
	const struct ipm_config *cfg = &l->ctx->cfg;
	char num[32];

	for (size_t k = 0; k < cfg->nbinary_caches; k++) {
		char *why = NULL;
		int down = 0;

		if (l->skip[k])
			continue;
		snprintf(num, sizeof(num), "%zu", k);
		if (remote_hit(l->ctx, l->c, &cfg->binary_caches[k], &down, &why, l->name)) {
			ipm_worker_return("hit");
			ipm_worker_return(num);
			ipm_worker_return(l->c->method);
			ipm_worker_return(l->c->manifest);
			return 0;
		}
		if (down) {
			ipm_worker_return("down");
			ipm_worker_return(num);
			ipm_worker_return(why);
		}
		free(why);
	}
	return 0;
}

/* What lookup l's worker w handed back: its hit, and the caches it could
 * not reach, each warned about once and marked in skip (not asked again).
 * Its item's why_build when it has no hit. */
static void take_lookup(struct ipm_ctx *ctx, struct lookup *l, const struct ipm_worker *w, char *skip)
{
	const struct ipm_config *cfg = &ctx->cfg;
	struct ipm_bincache_choice *c = l->c;
	size_t ndown = 0, v = 0;

	l->taken = 1;
	if (w->rc < 0)
		ipm_log(IPM_LOG_WARN, "cannot ask the binary caches for '%s': %s; building it instead", l->name,
			w->message ? w->message : "");
	while (w->rc >= 0 && v + 2 < w->nvalues) {
		size_t k = strtoul(w->values[v + 1], NULL, 10);

		if (k >= cfg->nbinary_caches)
			break;
		if (strcmp(w->values[v], "down") == 0) {
			ndown++;
			skip[k] = 1;
			if (warn_once_for(cfg, k))
				ipm_log(IPM_LOG_WARN, "binary cache '%s' cannot be reached (%s): not asked again; "
					"building instead", cfg->binary_caches[k].url, w->values[v + 2]);
			v += 3;
			continue;
		}
		if (strcmp(w->values[v], "hit") == 0 && v + 3 < w->nvalues) {
			c->from = xstrdup(cfg->binary_caches[k].url);
			c->method = xstrdup(w->values[v + 2]);
			c->manifest = xstrdup(w->values[v + 3]);
			c->manifest_len = strlen(c->manifest);
		}
		break;
	}
	if (!c->from) {
		free(c->why_build);
		c->why_build = xstrdup(l->nasked > ndown ? "not in any binary cache" : "no binary cache has it");
	}
}

/*
 * The remote lookups of the items without a local hit run at the same
 * time, each in a worker (at most ipm_worker_fetch_limit() at once): each
 * is two requests per cache asked, and a plan can have many items. A
 * cache found down is not asked by the lookups that start after that.
 */
int ipm_bincache_plan(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	const struct ipm_config *cfg = &ctx->cfg;
	size_t n = plan->n ? plan->n : 1;
	char *skip = xcalloc(cfg->nbinary_caches ? cfg->nbinary_caches : 1, 1);
	struct lookup *ls = xcalloc(n, sizeof(*ls));
	struct ipm_worker *ws = xcalloc(n, sizeof(*ws));
	size_t nls = 0, next = 0, running = 0, limit = ipm_worker_fetch_limit();
	int rc;

	if ((rc = ipm_bincache_keys(ctx, plan)) < 0)
		goto done;
	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		struct ipm_bincache_choice *c = it->bincache;

		if (it->installed || !c || !c->key || c->from || local_hit(ctx, c))
			continue;
		ls[nls].ctx = ctx;
		ls[nls].c = c;
		ls[nls].name = it->entry.name;
		ls[nls].skip = skip;
		ws[nls].fd = -1;
		nls++;
	}
	for (size_t k = 0; nls && k < cfg->nbinary_caches; k++) {
		const struct ipm_binary_cache_conf *conf = &cfg->binary_caches[k];
		if (conf->key)
			continue;
		skip[k] = 1;
		if (warn_once_for(cfg, k))
			ipm_log(IPM_LOG_WARN, "binary cache '%s' has no public key pinned: not trusted, "
				"not used (set its \"key\", or IPM_BINARY_CACHE_KEY)", conf->url);
	}
	while (next < nls || running) {
		while (next < nls && running < limit) {
			for (size_t k = 0; k < cfg->nbinary_caches; k++)
				ls[next].nasked += !skip[k];
			if (ls[next].nasked == 0) {
				/* every cache is without a key, or down */
				free(ls[next].c->why_build);
				ls[next].c->why_build = xstrdup("no binary cache has it");
				ls[next++].taken = 1;
				continue;
			}
			if ((rc = ipm_interrupt_check()) < 0 ||
			    (rc = ipm_worker_start(&ws[next], lookup_run, &ls[next])) < 0)
				goto stop;
			next++;
			running++;
		}
		if (!running)
			continue;
		ipm_worker_wait(ws, next, 100);
		for (size_t j = 0; j < next; j++) {
			if (!ws[j].done || ls[j].taken)
				continue;
			take_lookup(ctx, &ls[j], &ws[j], skip);
			running--;
		}
		if ((rc = ipm_interrupt_check()) < 0)
			goto stop;
	}
	goto done;
stop:
	/* Ctrl-C: the lookups still running stop at their next check */
	for (size_t j = 0; j < next; j++)
		ipm_worker_cancel(&ws[j]);
	while (running)
		running -= ipm_worker_wait(ws, next, 100);
done:
	for (size_t j = 0; j < nls; j++)
		ipm_worker_release(&ws[j]);
	free(ws);
	free(ls);
	free(skip);
	return rc;
}

/* ---- fetching and extracting ---- */

int ipm_bincache_fetch(struct ipm_ctx *ctx, const struct ipm_bincache_choice *c)
{
	struct ipm_bincache_manifest m;
	const struct ipm_binary_cache_conf *conf = NULL;
	char *dir = binary_dir(ctx->cfg.cache);
	char *archive = local_path(ctx->cfg.cache, c->key, ".tar.zst");
	/* names of this process's own: another ipm (another home, the same
	 * cache) may be fetching the same key */
	char *suffix = xasprintf(".tar.zst.download.%ld", (long)getpid());
	char *download = local_path(ctx->cfg.cache, c->key, suffix);
	char *manifest_path = local_path(ctx->cfg.cache, c->key, ".json");
	char *url = NULL;
	char sum[65];
	struct stat st;
	int local = strcmp(c->from, "local") == 0;
	int rc;

	memset(&m, 0, sizeof(m));
	if ((rc = ipm_bincache_manifest_parse(&m, c->manifest, c->manifest_len, c->key)) < 0)
		goto done;
	if (local) {
		if ((rc = ipm_sha256_file(sum, archive)) < 0)
			goto done;
		if (strcmp(sum, m.sha256) != 0) {
			rc = ipm_error_set(IPM_EVERIFY, "'%s' does not match its manifest (sha256 %s, expected %s)",
					   archive, sum, m.sha256);
			/* a damaged local entry is of no use to anyone */
			ipm_bincache_remove(ctx->cfg.cache, c->key);
		}
		goto done;
	}
	for (size_t k = 0; k < ctx->cfg.nbinary_caches && !conf; k++)
		if (strcmp(ctx->cfg.binary_caches[k].url, c->from) == 0)
			conf = &ctx->cfg.binary_caches[k];
	{
		struct ipm_http_auth auth = { 0 };
		struct ipm_http_request req = { .method = IPM_HTTP_GET, .auth = &auth, .path = download,
						/* one byte more than declared shows a longer file */
						.max_bytes = m.size + 1 };
		if (conf)
			auth_of(&auth, conf);
		url = remote_url(c->from, c->key, ".tar.zst");
		req.url = url;
		if ((rc = ipm_mkdir_p(dir, 0755)) < 0 || (rc = ipm_http_request(NULL, &ctx->fetch, &req)) < 0)
			goto done;
	}
	if (stat(download, &st) < 0 || (uint64_t)st.st_size != m.size) {
		rc = ipm_error_set(IPM_EVERIFY, "'%s' is not the %llu bytes its signed manifest says", url,
				   (unsigned long long)m.size);
		goto done;
	}
	if ((rc = ipm_sha256_file(sum, download)) < 0)
		goto done;
	if (strcmp(sum, m.sha256) != 0) {
		rc = ipm_error_set(IPM_EVERIFY, "'%s' does not match its signed manifest (sha256 %s, expected %s)",
				   url, sum, m.sha256);
		goto done;
	}
	if ((rc = ipm_file_write_atomic(manifest_path, c->manifest, c->manifest_len)) < 0)
		goto done;
	if (rename(download, archive) < 0)
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s': %s", download, strerror(errno));
done:
	if (rc < 0 && !local) {
		/* the verdict is kept: EVERIFY of a mismatch, not some later one */
		struct ipm_error_saved saved;
		ipm_error_save(&saved);
		unlink(download);
		ipm_error_restore(&saved);
	}
	ipm_bincache_manifest_release(&m);
	free(suffix);
	free(dir);
	free(archive);
	free(download);
	free(manifest_path);
	free(url);
	return rc;
}

int ipm_bincache_extract(struct ipm_ctx *ctx, const struct ipm_bincache_choice *c, const char *dest_dir)
{
	char *archive = local_path(ctx->cfg.cache, c->key, ".tar.zst");
	int rc = ipm_archive_extract_limited(archive, dest_dir, 0, ctx->fetch.limits);
	free(archive);
	return rc;
}

/* ---- saving a built tree ---- */

/* Writes tree root (its entries as tree lists them) to path as tar+zstd. */
static int write_archive(const char *path, const char *root, const struct ipm_tree *tree)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char *buf = xmalloc(65536);
	int rc = 0;

	archive_write_set_format_pax_restricted(a);
	if (archive_write_add_filter_zstd(a) != ARCHIVE_OK || archive_write_open_filename(a, path) != ARCHIVE_OK) {
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", path, archive_error_string(a));
		goto done;
	}
	for (size_t i = 0; i < tree->n && rc == 0; i++) {
		const struct ipm_tree_file *f = &tree->files[i];
		char *full = xasprintf("%s/%s", root, f->rel);
		char target[4096];
		struct stat st;
		int fd = -1;

		archive_entry_clear(e);
		if (lstat(full, &st) < 0) {
			rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", full, strerror(errno));
			goto next;
		}
		archive_entry_copy_stat(e, &st);
		/* no owner: whoever extracts owns it */
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_pathname(e, f->rel);
		if (f->type == 'l') {
			ssize_t n = readlink(full, target, sizeof(target) - 1);
			if (n < 0) {
				rc = ipm_error_set(IPM_ERROR, "cannot read link '%s': %s", full, strerror(errno));
				goto next;
			}
			target[n] = '\0';
			archive_entry_set_symlink(e, target);
		}
		if (f->type == 'f' && (fd = open(full, O_RDONLY | O_CLOEXEC)) < 0) {
			rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", full, strerror(errno));
			goto next;
		}
		if (archive_write_header(a, e) != ARCHIVE_OK) {
			rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", path, archive_error_string(a));
			goto next;
		}
		while (fd >= 0) {
			ssize_t n = read(fd, buf, 65536);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", full, strerror(errno));
				break;
			}
			if (n == 0)
				break;
			if (archive_write_data(a, buf, (size_t)n) != n) {
				rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", path, archive_error_string(a));
				break;
			}
		}
next:
		if (fd >= 0)
			close(fd);
		free(full);
	}
	if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", path, archive_error_string(a));
done:
	archive_entry_free(e);
	archive_write_free(a);
	free(buf);
	return rc;
}

/* IPM_EINVAL naming the first absolute symbolic link of the tree, which
 * extraction would refuse. */
static int check_links_relative(const char *root, const struct ipm_tree *tree)
{
	for (size_t i = 0; i < tree->n; i++) {
		char *full, target[4096];
		ssize_t n;
		if (tree->files[i].type != 'l')
			continue;
		full = xasprintf("%s/%s", root, tree->files[i].rel);
		n = readlink(full, target, sizeof(target) - 1);
		free(full);
		if (n > 0 && target[0] == '/')
			return ipm_error_set(IPM_EINVAL, "'%s' is a link to the absolute path '%.*s'",
					     tree->files[i].rel, (int)n, target);
	}
	return 0;
}

int ipm_bincache_save(struct ipm_ctx *ctx, const char *key, const char *input, const char *name,
		      const char *version, const char *method, const char *store_dir)
{
	struct ipm_tree tree = { 0 };
	char *dir = binary_dir(ctx->cfg.cache);
	char *archive = local_path(ctx->cfg.cache, key, ".tar.zst");
	char *suffix = xasprintf(".tar.zst.new.%ld", (long)getpid());
	char *tmp = local_path(ctx->cfg.cache, key, suffix);
	char *manifest_path = local_path(ctx->cfg.cache, key, ".json");
	char *manifest = NULL;
	char sum[65];
	struct stat st;
	int rc;

	if ((rc = ipm_tree_walk(&tree, store_dir)) < 0 || (rc = check_links_relative(store_dir, &tree)) < 0)
		goto done;
	if ((rc = ipm_mkdir_p(dir, 0755)) < 0 || (rc = write_archive(tmp, store_dir, &tree)) < 0)
		goto done;
	if ((rc = ipm_sha256_file(sum, tmp)) < 0)
		goto done;
	if (stat(tmp, &st) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", tmp, strerror(errno));
		goto done;
	}
	manifest = ipm_bincache_manifest_text(key, input, name, version, method, sum, (uint64_t)st.st_size);
	/* the archive first: a manifest names only an archive that is there */
	if (rename(tmp, archive) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s': %s", tmp, strerror(errno));
		goto done;
	}
	rc = ipm_file_write_atomic(manifest_path, manifest, strlen(manifest));
	{
		/* a signature of an older manifest under this key is stale */
		char *sig = local_path(ctx->cfg.cache, key, ".json.minisig");
		unlink(sig);
		free(sig);
	}
done:
	if (rc < 0)
		unlink(tmp);
	ipm_tree_release(&tree);
	free(suffix);
	free(manifest);
	free(dir);
	free(archive);
	free(tmp);
	free(manifest_path);
	return rc;
}

/* ---- pushing ---- */

/*
 * Uploads data (or the file path) as url unless it is there already: the
 * same bytes there is fine (*sent unchanged), different ones IPM_ECONFLICT.
 */
static int put_once(int *sent, struct ipm_ctx *ctx, const struct ipm_http_auth *auth, const char *url,
		    const void *data, size_t len, const char *path)
{
	struct ipm_buf there = IPM_BUF_INIT;
	struct ipm_http_request get = { .method = IPM_HTTP_GET, .url = url, .auth = auth };
	struct ipm_http_request put = { .method = IPM_HTTP_PUT, .url = url, .auth = auth, .upload = data,
					.upload_len = len, .upload_path = path };
	char *check = NULL;
	int rc, same = 0;

	if (path) {
		/* compared by sha256 through a file: archives may be large */
		char local_sum[65], remote_sum[65];
		struct stat st;
		if (stat(path, &st) < 0)
			return ipm_error_set(IPM_ERROR, "cannot read '%s': %s", path, strerror(errno));
		check = xasprintf("%s.check", path);
		get.path = check;
		get.max_bytes = (unsigned long long)st.st_size;
		rc = ipm_http_request(NULL, &ctx->fetch, &get);
		if (rc == 0 && (rc = ipm_sha256_file(local_sum, path)) == 0 &&
		    (rc = ipm_sha256_file(remote_sum, check)) == 0)
			same = strcmp(local_sum, remote_sum) == 0;
		else if (rc == IPM_EVERIFY)   /* larger than ours */
			rc = 0;
		unlink(check);
	} else {
		get.body = &there;
		get.max_bytes = len;
		rc = ipm_http_request(NULL, &ctx->fetch, &get);
		if (rc == 0)
			same = there.len == len && memcmp(there.ptr, data, len) == 0;
		else if (rc == IPM_EVERIFY)
			rc = 0;
	}
	if (rc == IPM_ENOTFOUND) {
		ipm_error_clear();
		if ((rc = ipm_http_request(NULL, &ctx->fetch, &put)) == 0)
			(*sent)++;
		goto done;
	}
	if (rc < 0)
		goto done;
	if (!same) {
		rc = ipm_error_set(IPM_ECONFLICT, "'%s' exists with other content: not overwritten", url);
		ipm_error_hint("another build of the same key was pushed first (builds are not bit-for-bit "
			       "the same); keep it, or delete it on the server and push again");
	}
done:
	ipm_buf_release(&there);
	free(check);
	return rc;
}

int ipm_bincache_push(int *out_sent, struct ipm_ctx *ctx, const char *url, const struct ipm_http_auth *auth,
		      const struct ipm_sign_seckey *sk, const char *key)
{
	char *archive = local_path(ctx->cfg.cache, key, ".tar.zst");
	char *manifest_path = local_path(ctx->cfg.cache, key, ".json");
	char *archive_url = remote_url(url, key, ".tar.zst");
	char *manifest_url = remote_url(url, key, ".json");
	char *sig_url = remote_url(url, key, ".json.minisig");
	char *manifest = NULL, *sig = NULL, *comment = NULL;
	struct ipm_bincache_manifest m;
	size_t len = 0;
	int rc;

	*out_sent = 0;
	memset(&m, 0, sizeof(m));
	if ((rc = ipm_file_read(&manifest, &len, manifest_path)) < 0 ||
	    (rc = ipm_bincache_manifest_parse(&m, manifest, len, key)) < 0)
		goto done;
	/* a fixed comment: the same key signs the same manifest to the same
	 * bytes (Ed25519 is deterministic), so pushing again changes nothing */
	comment = xasprintf("ipm binary cache: %s %s %s", m.name, m.version, key);
	if ((rc = ipm_sign_data(&sig, sk, manifest, len, comment, NULL)) < 0)
		goto done;
	if ((rc = put_once(out_sent, ctx, auth, archive_url, NULL, 0, archive)) < 0 ||
	    (rc = put_once(out_sent, ctx, auth, sig_url, sig, strlen(sig), NULL)) < 0 ||
	    (rc = put_once(out_sent, ctx, auth, manifest_url, manifest, len, NULL)) < 0)
		goto done;
done:
	ipm_bincache_manifest_release(&m);
	free(archive);
	free(manifest_path);
	free(archive_url);
	free(manifest_url);
	free(sig_url);
	free(manifest);
	free(sig);
	free(comment);
	return rc;
}

int ipm_bincache_save_installed(char **out_key, struct ipm_ctx *ctx, const char *name)
{
	struct ipm_package_row row;
	char *archive = NULL, *manifest = NULL;
	int rc;

	*out_key = NULL;
	memset(&row, 0, sizeof(row));
	if ((rc = ipm_db_package_get(&row, ctx->db, name, 0)) == IPM_ENOTFOUND) {
		rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", name);
		ipm_error_hint("'ipm list' shows what is installed");
		return rc;
	}
	if (rc < 0)
		return rc;
	if (!row.build_key) {
		rc = ipm_error_set(IPM_ENOTFOUND, "'%s' has no build key: it was installed before ipm kept them", name);
		ipm_error_hint("install it again (ipm remove %s && ipm install %s), then push", name, name);
		goto done;
	}
	archive = local_path(ctx->cfg.cache, row.build_key, ".tar.zst");
	manifest = local_path(ctx->cfg.cache, row.build_key, ".json");
	if (!ipm_path_exists(archive) || !ipm_path_exists(manifest)) {
		/* the installed tree is what the key names: archive it again */
		rc = ipm_bincache_save(ctx, row.build_key, NULL, row.name, row.version, row.method, row.store_dir);
		if (rc < 0)
			goto done;
	}
	*out_key = xstrdup(row.build_key);
done:
	free(archive);
	free(manifest);
	ipm_package_row_release(&row);
	return rc;
}

void ipm_bincache_after_build(struct ipm_ctx *ctx, const struct ipm_plan_item *item, const char *method,
			      const char *store_dir)
{
	const struct ipm_bincache_choice *c = item->bincache;

	if (!c || !c->key)
		return;
	if (ipm_bincache_save(ctx, c->key, c->input, item->entry.name, item->release->version, method,
			      store_dir) < 0) {
		ipm_log(IPM_LOG_WARN, "the build of '%s' is not kept in the binary cache: %s", item->entry.name,
			ipm_error_message());
		ipm_error_clear();
		return;
	}
	for (size_t k = 0; k < ctx->cfg.nbinary_caches; k++) {
		const struct ipm_binary_cache_conf *conf = &ctx->cfg.binary_caches[k];
		struct ipm_sign_seckey sk;
		struct ipm_sign_pubkey pk;
		struct ipm_http_auth auth;
		char *pk_text = NULL;
		int sent = 0, rc;

		if (!conf->push)
			continue;
		auth_of(&auth, conf);
		rc = ipm_sign_seckey_load(&sk, conf->secret_key);
		if (rc == 0) {
			ipm_sign_public_of(&pk, &sk);
			pk_text = ipm_sign_pubkey_base64(&pk);
			if (strcmp(pk_text, conf->key) != 0)
				rc = ipm_error_set(IPM_EINVAL, "\"secret_key\" is not the secret key of its \"key\"");
		}
		if (rc == 0)
			rc = ipm_bincache_push(&sent, ctx, conf->url, &auth, &sk, c->key);
		ipm_sign_seckey_clear(&sk);
		free(pk_text);
		if (rc < 0) {
			ipm_log(IPM_LOG_WARN, "'%s' was not pushed to binary cache '%s': %s", item->entry.name,
				conf->url, ipm_error_message());
			ipm_error_clear();
		} else {
			ipm_log(IPM_LOG_INFO, "pushed '%s' %s to binary cache '%s'", item->entry.name,
				item->release->version, conf->url);
		}
	}
}

/* ---- the local cache ---- */

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ipm_bincache_entry *)a)->key, ((const struct ipm_bincache_entry *)b)->key);
}

int ipm_bincache_list(struct ipm_bincache_entry **out, size_t *nout, const char *cache_dir)
{
	char *dir_path = binary_dir(cache_dir);
	DIR *dir = opendir(dir_path);
	struct ipm_bincache_entry *list = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;

	*out = NULL;
	*nout = 0;
	while (dir && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		static const char *const suffixes[] = { ".json", ".json.minisig" };
		char *path, *text = NULL;
		struct stat st;
		struct ipm_bincache_manifest m;
		struct ipm_bincache_entry *e;
		size_t tlen = 0;

		char key[65];

		if (len != 64 + 8 || strcmp(de->d_name + 64, ".tar.zst") != 0)
			continue;
		memcpy(key, de->d_name, 64);
		key[64] = '\0';
		if (!ipm_is_hex(key, 64))
			continue;
		path = xasprintf("%s/%s", dir_path, de->d_name);
		if (stat(path, &st) < 0) {
			free(path);
			continue;
		}
		XGROW(list, alloc, n + 1);
		e = &list[n++];
		memset(e, 0, sizeof(*e));
		e->key = xstrndup(de->d_name, 64);
		e->bytes = (uint64_t)st.st_size;
		e->mtime = (int64_t)st.st_mtime;
		free(path);
		for (size_t s = 0; s < 2; s++) {
			path = xasprintf("%s/%s%s", dir_path, e->key, suffixes[s]);
			if (stat(path, &st) == 0)
				e->bytes += (uint64_t)st.st_size;
			if (s == 0 && ipm_file_read(&text, &tlen, path) == 0 &&
			    ipm_bincache_manifest_parse(&m, text, tlen, e->key) == 0) {
				e->name = m.name;
				e->version = m.version;
				m.name = m.version = NULL;
				ipm_bincache_manifest_release(&m);
			}
			ipm_error_clear();
			free(text);
			text = NULL;
			free(path);
		}
	}
	if (dir)
		closedir(dir);
	free(dir_path);
	if (n)
		qsort(list, n, sizeof(*list), entry_cmp);
	*out = list;
	*nout = n;
	return 0;
}

void ipm_bincache_entries_free(struct ipm_bincache_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].name);
		free(e[i].version);
	}
	free(e);
}

int ipm_bincache_remove(const char *cache_dir, const char *key)
{
	static const char *const suffixes[] = { ".tar.zst", ".json", ".json.minisig" };
	int rc = 0;

	for (size_t s = 0; s < 3; s++) {
		char *path = local_path(cache_dir, key, suffixes[s]);
		if (unlink(path) < 0 && errno != ENOENT && rc == 0)
			rc = ipm_error_set(IPM_ERROR, "cannot remove '%s': %s", path, strerror(errno));
		free(path);
	}
	return rc;
}
