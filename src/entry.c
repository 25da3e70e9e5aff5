/*
 * Registry entries: parsing and every validation rule of the entry format
 * (man/ipm-registry.5, registry/schema.json). The rules live here only, so
 * that import, `ipm install FILE` and a registry checker all agree.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ipm/buf.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

struct parser {
	const char *origin;
};

/* ---- field names and "did you mean" ---- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row));
	size_t result;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	result = row[lb];
	free(row);
	return result;
}

static char *field_path(const char *where, const char *key)
{
	return where ? xasprintf("%s.%s", where, key) : xstrdup(key);
}

/*
 * Rejects keys not in `known` (NULL-terminated) and duplicate keys: a typo in
 * a field name would otherwise silently drop what the contributor meant.
 */
static int check_fields(struct parser *p, const cJSON *obj, const char *const *known, const char *where)
{
	for (const cJSON *item = obj->child; item; item = item->next) {
		const char *key = item->string;
		int found = 0;
		for (size_t i = 0; known[i]; i++)
			if (!strcmp(known[i], key))
				found = 1;
		if (!found && !(where == NULL && !strcmp(key, "$schema"))) {
			char *path = field_path(where, key);
			const char *best = NULL;
			size_t best_d = (size_t)-1;
			for (size_t i = 0; known[i]; i++) {
				size_t d = edit_distance(key, known[i]);
				if (d < best_d)
					best_d = d, best = known[i];
			}
			ipm_error_set(IPM_EINVAL, "unknown field '%s' in '%s'", path, p->origin);
			if (best && best_d <= 2 && best_d < strlen(key)) {
				ipm_error_hint("did you mean '%s'?", best);
			} else {
				struct ipm_buf list = IPM_BUF_INIT;
				for (size_t i = 0; known[i]; i++)
					ipm_buf_addf(&list, "%s%s", i ? ", " : "", known[i]);
				ipm_error_hint("known fields: %s", list.ptr);
				ipm_buf_release(&list);
			}
			free(path);
			return IPM_EINVAL;
		}
		for (const cJSON *other = obj->child; other != item; other = other->next) {
			if (!strcmp(other->string, key)) {
				char *path = field_path(where, key);
				ipm_error_set(IPM_EINVAL, "duplicate field '%s' in '%s'", path, p->origin);
				free(path);
				return IPM_EINVAL;
			}
		}
	}
	return 0;
}

static int missing(struct parser *p, const char *where, const char *key)
{
	char *path = field_path(where, key);
	ipm_error_set(IPM_EINVAL, "missing required field '%s' in '%s'", path, p->origin);
	free(path);
	return IPM_EINVAL;
}

static int bad(struct parser *p, const char *where, const char *key, const char *why)
{
	char *path = field_path(where, key);
	ipm_error_set(IPM_EINVAL, "field '%s' in '%s' %s", path, p->origin, why);
	free(path);
	return IPM_EINVAL;
}

/* A string field; *out stays NULL when absent and not required. Empty
 * strings are refused: they only ever mean a mistake. */
static int get_string(char **out, struct parser *p, const cJSON *obj, const char *where,
		      const char *key, int required)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return required ? missing(p, where, key) : 0;
	if (!cJSON_IsString(item))
		return bad(p, where, key, "must be a string");
	if (!item->valuestring[0])
		return bad(p, where, key, "must not be empty");
	*out = xstrdup(item->valuestring);
	return 0;
}

static int get_string_array(char ***out, size_t *nout, struct parser *p, const cJSON *obj,
			    const char *where, const char *key)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key), *item;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return bad(p, where, key, "must be an array of strings");
	cJSON_ArrayForEach(item, arr) {
		if (!cJSON_IsString(item) || !item->valuestring[0])
			return bad(p, where, key, "must be an array of non-empty strings");
		n++;
	}
	if (n == 0)
		return 0;
	*out = xcalloc(n, sizeof(char *));
	cJSON_ArrayForEach(item, arr)
		(*out)[(*nout)++] = xstrdup(item->valuestring);
	return 0;
}

static int get_array(const cJSON **out, size_t *n, struct parser *p, const cJSON *obj,
		     const char *key, int required)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return required ? missing(p, NULL, key) : 0;
	if (!cJSON_IsArray(arr))
		return bad(p, NULL, key, "must be an array");
	*n = (size_t)cJSON_GetArraySize(arr);
	if (required && *n == 0)
		return bad(p, NULL, key, "must not be empty");
	*out = arr;
	return 0;
}

/* ---- value rules ---- */

/* Commit ids and checksums are stored lower case, the way git and sha256sum
 * print them, so comparisons later are plain strcmp. */
static void lower_hex(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 100)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("._+-", *s)))
			return 0;
	return 1;
}

static int valid_repo_part(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int valid_repo(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || strchr(slash + 1, '/'))
		return 0;
	return valid_repo_part(s, (size_t)(slash - s)) && valid_repo_part(slash + 1, strlen(slash + 1));
}

/* A relative path inside the source tree: no leading '/', no ".." part. */
static int valid_subdir(const char *s)
{
	if (s[0] == '/')
		return 0;
	for (const char *part = s; *part;) {
		const char *end = strchr(part, '/');
		size_t n = end ? (size_t)(end - part) : strlen(part);
		if (n == 2 && part[0] == '.' && part[1] == '.')
			return 0;
		if (!end)
			break;
		part = end + 1;
	}
	return 1;
}

/* ---- sections ---- */

static const char *const release_fields[] = { "version", "git", "commit", "tag", "url", "sha256", "subdir", NULL };

static int parse_release(struct ipm_release *r, struct parser *p, const cJSON *obj, size_t index)
{
	char *where = xasprintf("versions[%zu]", index);
	int rc;

	if (!cJSON_IsObject(obj)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' in '%s' must be an object", where, p->origin);
		goto done;
	}
	if ((rc = check_fields(p, obj, release_fields, where)) < 0)
		goto done;
	if ((rc = get_string(&r->version, p, obj, where, "version", 1)) < 0)
		goto done;
	if (!ipm_version_valid(r->version)) {
		rc = bad(p, where, "version", "is not a valid version");
		ipm_error_hint("versions look like 1.2.3, 2.0 or 1.0.0-rc1");
		goto done;
	}
	struct ipm_source *s = &r->source;
	if ((rc = get_string(&s->git, p, obj, where, "git", 0)) < 0 ||
	    (rc = get_string(&s->commit, p, obj, where, "commit", 0)) < 0 ||
	    (rc = get_string(&s->tag, p, obj, where, "tag", 0)) < 0 ||
	    (rc = get_string(&s->url, p, obj, where, "url", 0)) < 0 ||
	    (rc = get_string(&s->sha256, p, obj, where, "sha256", 0)) < 0 ||
	    (rc = get_string(&s->subdir, p, obj, where, "subdir", 0)) < 0)
		goto done;

	if (s->git && s->url) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' in '%s' has both 'git' and 'url'", where, p->origin);
		ipm_error_hint("a release has one source: git + commit, or url + sha256");
		goto done;
	}
	if (s->git && !strcmp(s->git, "self")) {
		s->kind = IPM_SOURCE_SELF;
		free(s->git);
		s->git = NULL;
		if (s->commit) {
			rc = bad(p, where, "commit", "is not allowed with \"git\": \"self\"");
			ipm_error_hint("the commit of a self source is the registry's own commit, resolved at install time");
			goto done;
		}
	} else if (s->git) {
		s->kind = IPM_SOURCE_GIT;
		if (!s->commit) {
			rc = missing(p, where, "commit");
			ipm_error_hint("pin git sources to a full 40-hex commit id (git rev-parse TAG)");
			goto done;
		}
		if (!ipm_is_hex(s->commit, 40)) {
			rc = bad(p, where, "commit", "must be a full commit id of 40 hex digits");
			ipm_error_hint("get it with: git rev-parse %s", s->tag ? s->tag : "HEAD");
			goto done;
		}
		lower_hex(s->commit);
	} else if (s->url) {
		s->kind = IPM_SOURCE_ARCHIVE;
		if (!s->sha256) {
			rc = missing(p, where, "sha256");
			ipm_error_hint("archives are verified: add \"sha256\" (sha256sum FILE)");
			goto done;
		}
		if (!ipm_is_hex(s->sha256, 64)) {
			rc = bad(p, where, "sha256", "must be 64 hex digits");
			goto done;
		}
		lower_hex(s->sha256);
		if (s->commit || s->tag) {
			rc = bad(p, where, s->commit ? "commit" : "tag", "is only for git sources");
			goto done;
		}
	} else {
		rc = ipm_error_set(IPM_EINVAL, "'%s' in '%s' has no source", where, p->origin);
		ipm_error_hint("give \"git\" + \"commit\", \"url\" + \"sha256\", or \"git\": \"self\"");
		goto done;
	}
	if (s->kind != IPM_SOURCE_ARCHIVE && s->sha256) {
		rc = bad(p, where, "sha256", "is only for archive sources");
		goto done;
	}
	if (s->subdir && !valid_subdir(s->subdir)) {
		rc = bad(p, where, "subdir", "must be a relative path inside the source");
		goto done;
	}
	rc = 0;
done:
	free(where);
	return rc;
}

static const char *const require_fields[] = { "tool", "version", "hints", NULL };

static int parse_require(struct ipm_require *r, struct parser *p, const cJSON *obj, size_t index)
{
	char *where = xasprintf("requires[%zu]", index);
	const cJSON *hints, *h;
	int rc;

	if (!cJSON_IsObject(obj)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' in '%s' must be an object", where, p->origin);
		goto done;
	}
	if ((rc = check_fields(p, obj, require_fields, where)) < 0 ||
	    (rc = get_string(&r->tool, p, obj, where, "tool", 1)) < 0 ||
	    (rc = get_string(&r->constraint, p, obj, where, "version", 0)) < 0)
		goto done;
	if (strchr(r->tool, '/') || strchr(r->tool, ' ')) {
		rc = bad(p, where, "tool", "must be a program name (no '/' or spaces)");
		goto done;
	}
	if (r->constraint && !ipm_constraint_valid(r->constraint)) {
		rc = bad(p, where, "version", "is not a valid version constraint");
		ipm_error_hint("constraints look like >=1.2, ^2.0 or >=1.0, <2");
		goto done;
	}
	hints = cJSON_GetObjectItemCaseSensitive(obj, "hints");
	if (hints && !cJSON_IsNull(hints)) {
		if (!cJSON_IsObject(hints)) {
			rc = bad(p, where, "hints", "must be an object mapping an OS name to a command");
			goto done;
		}
		size_t n = (size_t)cJSON_GetArraySize(hints);
		r->hints = n ? xcalloc(n, sizeof(*r->hints)) : NULL;
		cJSON_ArrayForEach(h, hints) {
			if (!cJSON_IsString(h) || !h->valuestring[0]) {
				char *key = xasprintf("hints.%s", h->string);
				rc = bad(p, where, key, "must be a non-empty command string");
				free(key);
				goto done;
			}
			r->hints[r->nhints].os = xstrdup(h->string);
			r->hints[r->nhints].command = xstrdup(h->valuestring);
			r->nhints++;
		}
	}
	rc = 0;
done:
	free(where);
	return rc;
}

static const char *const depend_fields[] = { "name", "version", NULL };

static int parse_depend(struct ipm_depend *d, struct parser *p, const cJSON *obj, size_t index)
{
	char *where = xasprintf("depends[%zu]", index);
	int rc;

	if (!cJSON_IsObject(obj)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' in '%s' must be an object", where, p->origin);
		goto done;
	}
	if ((rc = check_fields(p, obj, depend_fields, where)) < 0 ||
	    (rc = get_string(&d->name, p, obj, where, "name", 1)) < 0 ||
	    (rc = get_string(&d->constraint, p, obj, where, "version", 0)) < 0)
		goto done;
	if (!valid_name(d->name)) {
		rc = bad(p, where, "name", "is not a valid package name");
		goto done;
	}
	if (d->constraint && !ipm_constraint_valid(d->constraint)) {
		rc = bad(p, where, "version", "is not a valid version constraint");
		ipm_error_hint("constraints look like >=1.2, ^2.0 or >=1.0, <2");
		goto done;
	}
	rc = 0;
done:
	free(where);
	return rc;
}

static const char *const method_fields[] = { "name", "build", "install", NULL };

static int parse_method(struct ipm_method *m, struct parser *p, const cJSON *obj, size_t index, size_t count)
{
	char *where = xasprintf("methods[%zu]", index);
	int rc;

	if (!cJSON_IsObject(obj)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' in '%s' must be an object", where, p->origin);
		goto done;
	}
	if ((rc = check_fields(p, obj, method_fields, where)) < 0 ||
	    (rc = get_string(&m->name, p, obj, where, "name", 0)) < 0 ||
	    (rc = get_string_array(&m->build, &m->nbuild, p, obj, where, "build")) < 0 ||
	    (rc = get_string_array(&m->install, &m->ninstall, p, obj, where, "install")) < 0)
		goto done;
	if (m->ninstall == 0) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' in '%s' has no install step", where, p->origin);
		ipm_error_hint("add \"install\": [ \"make install PREFIX=$IPM_PREFIX\" ] or similar");
		goto done;
	}
	/* an unnamed single method is "default"; several are told apart by position */
	if (!m->name)
		m->name = count == 1 ? xstrdup("default") : xasprintf("method-%zu", index + 1);
	rc = 0;
done:
	free(where);
	return rc;
}

/* ---- the entry ---- */

static const char *const entry_fields[] = {
	"name", "description", "homepage", "license", "keywords", "repo",
	"versions", "requires", "depends", "methods", NULL
};

static int release_newest_first(const void *a, const void *b)
{
	const struct ipm_release *ra = a, *rb = b;
	return ipm_version_cmp(rb->version, ra->version);
}

static int parse_object(struct ipm_entry *e, struct parser *p, const cJSON *root)
{
	const cJSON *arr, *item;
	size_t n, i;
	int rc;

	if (!cJSON_IsObject(root))
		return ipm_error_set(IPM_EINVAL, "'%s' must hold a JSON object", p->origin);
	if ((rc = check_fields(p, root, entry_fields, NULL)) < 0)
		return rc;
	if ((rc = get_string(&e->name, p, root, NULL, "name", 1)) < 0)
		return rc;
	if (!valid_name(e->name)) {
		rc = bad(p, NULL, "name", "is not a valid package name");
		ipm_error_hint("names use lower-case letters, digits and . _ + - and start with a letter or digit");
		return rc;
	}
	if ((rc = get_string(&e->description, p, root, NULL, "description", 1)) < 0 ||
	    (rc = get_string(&e->homepage, p, root, NULL, "homepage", 0)) < 0 ||
	    (rc = get_string(&e->license, p, root, NULL, "license", 0)) < 0 ||
	    (rc = get_string(&e->repo, p, root, NULL, "repo", 0)) < 0 ||
	    (rc = get_string_array(&e->keywords, &e->nkeywords, p, root, NULL, "keywords")) < 0)
		return rc;
	if (e->repo && !valid_repo(e->repo)) {
		rc = bad(p, NULL, "repo", "must be \"owner/repo\"");
		return rc;
	}

	if ((rc = get_array(&arr, &n, p, root, "versions", 1)) < 0)
		return rc;
	e->releases = xcalloc(n, sizeof(*e->releases));
	i = 0;
	cJSON_ArrayForEach(item, arr) {
		e->nreleases++;
		if ((rc = parse_release(&e->releases[i], p, item, i)) < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (ipm_version_cmp(e->releases[j].version, e->releases[i].version) == 0)
				return ipm_error_set(IPM_EINVAL, "version '%s' appears twice in '%s'",
						     e->releases[i].version, p->origin);
		i++;
	}
	qsort(e->releases, e->nreleases, sizeof(*e->releases), release_newest_first);

	if ((rc = get_array(&arr, &n, p, root, "requires", 0)) < 0)
		return rc;
	if (n) {
		e->requires = xcalloc(n, sizeof(*e->requires));
		i = 0;
		cJSON_ArrayForEach(item, arr) {
			e->nrequires++;
			if ((rc = parse_require(&e->requires[i], p, item, i)) < 0)
				return rc;
			i++;
		}
	}

	if ((rc = get_array(&arr, &n, p, root, "depends", 0)) < 0)
		return rc;
	if (n) {
		e->depends = xcalloc(n, sizeof(*e->depends));
		i = 0;
		cJSON_ArrayForEach(item, arr) {
			e->ndepends++;
			if ((rc = parse_depend(&e->depends[i], p, item, i)) < 0)
				return rc;
			if (!strcmp(e->depends[i].name, e->name))
				return ipm_error_set(IPM_EINVAL, "'%s' depends on itself in '%s'", e->name, p->origin);
			for (size_t j = 0; j < i; j++)
				if (!strcmp(e->depends[j].name, e->depends[i].name))
					return ipm_error_set(IPM_EINVAL, "dependency '%s' appears twice in '%s'",
							     e->depends[i].name, p->origin);
			i++;
		}
	}

	if ((rc = get_array(&arr, &n, p, root, "methods", 1)) < 0)
		return rc;
	e->methods = xcalloc(n, sizeof(*e->methods));
	i = 0;
	cJSON_ArrayForEach(item, arr) {
		e->nmethods++;
		if ((rc = parse_method(&e->methods[i], p, item, i, n)) < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(e->methods[j].name, e->methods[i].name))
				return ipm_error_set(IPM_EINVAL, "method '%s' appears twice in '%s'",
						     e->methods[i].name, p->origin);
		i++;
	}
	return 0;
}

int ipm_entry_from_cjson(struct ipm_entry *out, const struct cJSON *root, const char *origin)
{
	struct parser p = { origin };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = parse_object(out, &p, root);
	if (rc < 0)
		ipm_entry_release(out);
	return rc;
}

void ipm_entry_json_position(size_t *line, size_t *column, const char *text, size_t offset)
{
	size_t l = 1, c = 1;

	for (size_t i = 0; i < offset && text[i]; i++) {
		if (text[i] == '\n')
			l++, c = 1;
		else if (((unsigned char)text[i] & 0xC0) != 0x80)   /* count characters, not UTF-8 bytes */
			c++;
	}
	*line = l;
	*column = c;
}

int ipm_entry_parse(struct ipm_entry *out, const char *json, size_t len, const char *origin)
{
	const char *end = NULL;
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root) {
		size_t line, column, offset = end && end >= json ? (size_t)(end - json) : 0;
		if (offset > len)
			offset = len;
		ipm_entry_json_position(&line, &column, json, offset);
		return ipm_error_set(IPM_EINVAL, "malformed JSON in '%s' at line %zu, column %zu",
				     origin, line, column);
	}
	/* trailing garbage after the object is malformed too */
	if (end) {
		const char *s = end;
		while ((size_t)(s - json) < len && strchr(" \t\r\n", *s) && *s)
			s++;
		if ((size_t)(s - json) < len && *s) {
			size_t line, column;
			ipm_entry_json_position(&line, &column, json, (size_t)(s - json));
			cJSON_Delete(root);
			return ipm_error_set(IPM_EINVAL, "malformed JSON in '%s' at line %zu, column %zu",
					     origin, line, column);
		}
	}
	rc = ipm_entry_from_cjson(out, root, origin);
	cJSON_Delete(root);
	return rc;
}

int ipm_entry_load(struct ipm_entry *out, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ipm_file_read(&text, &len, path)) < 0)
		return rc;
	rc = ipm_entry_parse(out, text, len, path);
	free(text);
	return rc;
}

int ipm_entry_check_filename(const struct ipm_entry *e, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(e->name);
	if (strncmp(base, e->name, n) != 0 || strcmp(base + n, ".json") != 0) {
		ipm_error_set(IPM_EINVAL, "entry '%s' is in '%s'", e->name, path);
		ipm_error_hint("a registry entry is packages/<name>.json: rename it to '%s.json'", e->name);
		return IPM_EINVAL;
	}
	return 0;
}

void ipm_source_release(struct ipm_source *s)
{
	if (!s)
		return;
	free(s->git);
	free(s->commit);
	free(s->tag);
	free(s->url);
	free(s->sha256);
	free(s->subdir);
	memset(s, 0, sizeof(*s));
}

void ipm_source_copy(struct ipm_source *dst, const struct ipm_source *src)
{
	dst->kind = src->kind;
	dst->git = xstrdup(src->git);
	dst->commit = xstrdup(src->commit);
	dst->tag = xstrdup(src->tag);
	dst->url = xstrdup(src->url);
	dst->sha256 = xstrdup(src->sha256);
	dst->subdir = xstrdup(src->subdir);
}

char *ipm_source_describe(const struct ipm_source *s)
{
	switch (s->kind) {
	case IPM_SOURCE_ARCHIVE:
		return xasprintf("%s sha256:%s", s->url, s->sha256);
	case IPM_SOURCE_SELF:
		if (!s->git || !s->commit)
			return xstrdup("git (the registry's repository)");
		/* fall through */
	case IPM_SOURCE_GIT:
		return xasprintf("git %s @ %s", s->git, s->commit);
	}
	return xstrdup("?");
}

void ipm_entry_release(struct ipm_entry *e)
{
	if (!e)
		return;
	free(e->name);
	free(e->description);
	free(e->homepage);
	free(e->license);
	free(e->repo);
	xfree_strv(e->keywords, e->nkeywords);
	for (size_t i = 0; i < e->nreleases; i++) {
		free(e->releases[i].version);
		ipm_source_release(&e->releases[i].source);
	}
	free(e->releases);
	for (size_t i = 0; i < e->nrequires; i++) {
		free(e->requires[i].tool);
		free(e->requires[i].constraint);
		for (size_t j = 0; j < e->requires[i].nhints; j++) {
			free(e->requires[i].hints[j].os);
			free(e->requires[i].hints[j].command);
		}
		free(e->requires[i].hints);
	}
	free(e->requires);
	for (size_t i = 0; i < e->ndepends; i++) {
		free(e->depends[i].name);
		free(e->depends[i].constraint);
	}
	free(e->depends);
	for (size_t i = 0; i < e->nmethods; i++) {
		free(e->methods[i].name);
		xfree_strv(e->methods[i].build, e->methods[i].nbuild);
		xfree_strv(e->methods[i].install, e->methods[i].ninstall);
	}
	free(e->methods);
	memset(e, 0, sizeof(*e));
}

const struct ipm_release *ipm_entry_find_release(const struct ipm_entry *e, const char *constraint)
{
	if (constraint && !ipm_constraint_valid(constraint))
		return NULL;
	for (size_t i = 0; i < e->nreleases; i++)
		if (!constraint || ipm_constraint_match(constraint, e->releases[i].version) == 1)
			return &e->releases[i];
	return NULL;
}

const struct ipm_method *ipm_entry_find_method(const struct ipm_entry *e, const char *name)
{
	if (!name)
		return e->nmethods ? &e->methods[0] : NULL;
	for (size_t i = 0; i < e->nmethods; i++)
		if (!strcmp(e->methods[i].name, name))
			return &e->methods[i];
	return NULL;
}
