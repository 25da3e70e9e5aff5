/*
 * Publishing a registry as the sparse layout (sparse.h): one file per
 * package, 256 shards listing their digests, and a small root.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/publish.h"
#include "ipm/sparse.h"
#include "ipm/xalloc.h"

void ipm_sparse_shard_of(char out[3], const char *name)
{
	char hex[65];

	ipm_sha256_hex(hex, name, strlen(name));
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '\0';
}

char *ipm_sparse_package_path(const char *name)
{
	size_t n = strlen(name);

	if (n == 1)
		return xasprintf("packages/1/%s.json", name);
	if (n == 2)
		return xasprintf("packages/2/%s.json", name);
	if (n == 3)
		return xasprintf("packages/3/%c/%s.json", name[0], name);
	return xasprintf("packages/%.2s/%.2s/%s.json", name, name + 2, name);
}

struct pkg {
	char *name;
	char *path;            /* relative to outdir */
	char shard[3];
	char sha256[65];
	size_t size;
	char *line;            /* its line in its shard */
};

static int cmp_pkg_shard(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	int c = strcmp(x->shard, y->shard);
	return c ? c : strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes data to outdir/rel unless it holds these bytes already; through
 * a temporary file and rename, so readers see the old or the new file.
 * Package files are not synced one by one (100,000 fsyncs): the caller
 * syncs the file system once before writing what names them. */
static int put_file(int *written, const char *outdir, const char *rel, const char *data, size_t len)
{
	char *path = xasprintf("%s/%s", outdir, rel), *tmp = NULL, *old = NULL, *slash;
	size_t old_len = 0;
	FILE *f = NULL;
	int rc = 0;

	*written = 0;
	if (ipm_path_exists(path) && ipm_file_read(&old, &old_len, path) == 0 && old_len == len &&
	    !memcmp(old, data, len))
		goto done;
	ipm_error_clear();
	slash = strrchr(path, '/');
	*slash = '\0';
	rc = ipm_mkdir_p(path, 0755);
	*slash = '/';
	if (rc < 0)
		goto done;
	tmp = xasprintf("%s.tmp", path);
	if (!(f = fopen(tmp, "wbe")) || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		if (f && errno == 0)
			errno = EIO;
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	if (rename(tmp, path) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		unlink(tmp);
		goto done;
	}
	*written = 1;
done:
	free(path);
	free(tmp);
	free(old);
	return rc;
}

/* ---- removing what is no longer published ---- */

static struct {
	char **keep;          /* sorted paths relative to outdir */
	size_t nkeep;
	size_t outdir_len;
	size_t removed;
	int failed;
} sweep;

static int sweep_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + sweep.outdir_len + 1;
	size_t n = strlen(path);

	(void)st;
	(void)ftw;
	if (type == FTW_DP) {
		rmdir(path);   /* only when empty */
		return 0;
	}
	if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".json"))
		return 0;
	if (bsearch(&rel, sweep.keep, sweep.nkeep, sizeof(*sweep.keep), cmp_str))
		return 0;
	if (unlink(path) < 0)
		sweep.failed = errno;
	else
		sweep.removed++;
	return 0;
}

static int sweep_dir(size_t *removed, const char *outdir, const char *sub, char **keep, size_t nkeep)
{
	char *dir = xasprintf("%s/%s", outdir, sub);
	int rc = 0;

	sweep.keep = keep;
	sweep.nkeep = nkeep;
	sweep.outdir_len = strlen(outdir);
	sweep.removed = 0;
	sweep.failed = 0;
	if (ipm_is_dir(dir) && nftw(dir, sweep_one, 16, FTW_PHYS | FTW_DEPTH) < 0)
		sweep.failed = errno;
	if (sweep.failed)
		rc = ipm_error_set(IPM_ERROR, "cannot remove old files under '%s': %s", dir, strerror(sweep.failed));
	*removed += sweep.removed;
	free(dir);
	return rc;
}

/* ---- the layout ---- */

static void add_json_string(struct ipm_buf *b, const char *s)
{
	cJSON *str = cJSON_CreateString(s);
	char *text = cJSON_PrintUnformatted(str);
	ipm_buf_add(b, text);
	cJSON_free(text);
	cJSON_Delete(str);
}

/* The shard line of a package: its digest and what search needs. No
 * size: its file is bounded by limits.index_bytes and checked by digest,
 * and at 100,000 lines every field counts (about 5% of the shards). */
static char *shard_line(const cJSON *entry, const struct pkg *p)
{
	struct ipm_buf b = IPM_BUF_INIT;
	const cJSON *repo = cJSON_GetObjectItemCaseSensitive(entry, "repo");
	const cJSON *desc = cJSON_GetObjectItemCaseSensitive(entry, "description");
	const cJSON *kw = cJSON_GetObjectItemCaseSensitive(entry, "keywords");
	char *kw_text = NULL;

	ipm_buf_add(&b, "{\"name\":");
	add_json_string(&b, p->name);
	ipm_buf_addf(&b, ",\"sha256\":\"%s\"", p->sha256);
	if (cJSON_IsString(repo)) {
		ipm_buf_add(&b, ",\"repo\":");
		add_json_string(&b, repo->valuestring);
	}
	ipm_buf_add(&b, ",\"description\":");
	add_json_string(&b, cJSON_IsString(desc) ? desc->valuestring : "");
	if (cJSON_IsArray(kw) && (kw_text = cJSON_PrintUnformatted(kw))) {
		ipm_buf_add(&b, ",\"keywords\":");
		ipm_buf_add(&b, kw_text);
		cJSON_free(kw_text);
	}
	ipm_buf_addch(&b, '}');
	return ipm_buf_detach(&b);
}

int ipm_sparse_publish(struct ipm_sparse_stats *out, const struct ipm_index *ix, const char *outdir, int64_t now,
		       int64_t valid_for, const struct ipm_sign_seckey *sk)
{
	struct pkg *pkgs = NULL;
	struct ipm_buf doc = IPM_BUF_INIT, root = IPM_BUF_INIT;
	struct ipm_index root_ix = { 0 };
	char **keep = NULL, *root_path = xasprintf("%s/index.json", outdir);
	const char *p, *end, *reg_start, *items;
	size_t npkgs = 0, alloc = 0, nkeep = 0, keep_alloc = 0;
	int rc = 0, written, kept = 0, fd;
	cJSON *entry = NULL;

	memset(out, 0, sizeof(*out));
	if ((rc = ipm_mkdir_p(outdir, 0755)) < 0)
		goto done;
	/* ix->json: {"registry":{...},"packages":[\n one entry a line ]}\n */
	reg_start = ix->json + strlen("{\"registry\":");
	items = strstr(ix->json + ix->packages_at, "[\n");
	if (strncmp(ix->json, "{\"registry\":", strlen("{\"registry\":")) || !items || ix->version) {
		rc = ipm_error_set(IPM_EINVAL, "not an unstamped index document");
		goto done;
	}
	end = ix->json + ix->len;
	for (p = items + 2; p < end && *p == '{';) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
		struct pkg *k;
		const cJSON *name;

		if (len && p[len - 1] == ',')
			len--;
		XGROW(pkgs, alloc, npkgs + 1);
		k = &pkgs[npkgs];
		memset(k, 0, sizeof(*k));
		entry = cJSON_ParseWithLength(p, len);
		name = entry ? cJSON_GetObjectItemCaseSensitive(entry, "name") : NULL;
		if (!cJSON_IsString(name)) {
			rc = ipm_error_set(IPM_EINVAL, "an entry of the index has no name");
			goto done;
		}
		npkgs++;
		k->name = xstrdup(name->valuestring);
		k->path = ipm_sparse_package_path(k->name);
		ipm_sparse_shard_of(k->shard, k->name);
		/* the file: the entry as the index prints it, and a newline */
		ipm_buf_reset(&doc);
		ipm_buf_addn(&doc, p, len);
		ipm_buf_addch(&doc, '\n');
		ipm_sha256_hex(k->sha256, doc.ptr, doc.len);
		k->size = doc.len;
		if ((rc = put_file(&written, outdir, k->path, doc.ptr, doc.len)) < 0)
			goto done;
		out->written += (size_t)written;
		k->line = shard_line(entry, k);
		cJSON_Delete(entry);
		entry = NULL;
		XGROW(keep, keep_alloc, nkeep + 1);
		keep[nkeep++] = xstrdup(k->path);
		p = eol ? eol + 1 : end;
	}
	out->npackages = npkgs;
	/* what the shards will name is on disk before they do */
	if ((fd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		syncfs(fd);
		close(fd);
	}

	/* the root without its stamp: ipm_publish_stamp puts it after "registry" */
	ipm_buf_add(&root, "{\"registry\":");
	ipm_buf_addn(&root, reg_start, ix->packages_at - (size_t)(reg_start - ix->json));
	root_ix.packages_at = root.len;
	ipm_buf_addf(&root, ",\"format\":\"%s\",\"packages\":%zu,\"shards\":[\n", IPM_SPARSE_FORMAT, npkgs);
	if (npkgs)
		qsort(pkgs, npkgs, sizeof(*pkgs), cmp_pkg_shard);
	for (size_t i = 0; i < npkgs;) {
		size_t j;
		char id[3], sha[65], *rel;

		memcpy(id, pkgs[i].shard, sizeof(id));
		ipm_buf_reset(&doc);
		ipm_buf_addf(&doc, "{\"shard\":\"%s\",\"packages\":[\n", id);
		for (j = i; j < npkgs && !strcmp(pkgs[j].shard, id); j++) {
			ipm_buf_add(&doc, pkgs[j].line);
			ipm_buf_add(&doc, j + 1 < npkgs && !strcmp(pkgs[j + 1].shard, id) ? ",\n" : "\n");
		}
		ipm_buf_add(&doc, "]}\n");
		ipm_sha256_hex(sha, doc.ptr, doc.len);
		rel = xasprintf("shards/%s.json", id);
		rc = put_file(&written, outdir, rel, doc.ptr, doc.len);
		XGROW(keep, keep_alloc, nkeep + 1);
		keep[nkeep++] = rel;
		if (rc < 0)
			goto done;
		out->written += (size_t)written;
		ipm_buf_addf(&root, "%s{\"id\":\"%s\",\"sha256\":\"%s\",\"size\":%zu}", out->nshards ? ",\n" : "", id,
			     sha, doc.len);
		out->nshards++;
		i = j;
	}
	ipm_buf_add(&root, out->nshards ? "\n]}\n" : "]}\n");
	if ((fd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		syncfs(fd);
		close(fd);
	}

	root_ix.len = root.len;
	root_ix.json = ipm_buf_detach(&root);
	if (valid_for > 0 && (rc = ipm_publish_stamp(&root_ix, &kept, root_path, now, valid_for)) < 0)
		goto done;
	out->version = root_ix.version;
	out->expires = root_ix.expires;
	if ((rc = ipm_publish_write(&out->root_written, root_path, root_ix.json, root_ix.len)) < 0)
		goto done;
	out->written += (size_t)out->root_written;
	if (sk && (rc = ipm_publish_sign(&written, &root_ix, root_path, sk)) < 0)
		goto done;

	/* last: a client that read the old root finds its files until now */
	if (nkeep)
		qsort(keep, nkeep, sizeof(*keep), cmp_str);
	if ((rc = sweep_dir(&out->removed, outdir, "packages", keep, nkeep)) < 0 ||
	    (rc = sweep_dir(&out->removed, outdir, "shards", keep, nkeep)) < 0)
		goto done;
done:
	cJSON_Delete(entry);
	for (size_t i = 0; i < npkgs; i++) {
		free(pkgs[i].name);
		free(pkgs[i].path);
		free(pkgs[i].line);
	}
	free(pkgs);
	xfree_strv(keep, nkeep);
	ipm_index_release(&root_ix);
	ipm_buf_release(&doc);
	ipm_buf_release(&root);
	free(root_path);
	return rc;
}
