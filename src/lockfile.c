/*
 * Lock files (see ipm/lockfile.h): written from the database, read back
 * with every field checked before anything is installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ipm/db.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/lockfile.h"
#include "ipm/registry.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

/* The entry of an installed package: the one kept at install, else its
 * registry's (that release only), else its guessed one; NULL when none. */
static cJSON *entry_of(struct ipm_ctx *ctx, const struct ipm_package_row *p)
{
	struct ipm_entry e;
	const struct ipm_release *rel;
	char *json = NULL;
	cJSON *obj = NULL;

	if (p->entry)
		return cJSON_Parse(p->entry);
	if (p->registry && ctx->db && ipm_registry_lookup(&e, NULL, ctx, p->name) == 0) {
		rel = ipm_entry_find_release(&e, p->version);
		if (rel && strcmp(rel->version, p->version) == 0) {
			json = ipm_entry_to_json(&e, rel->version, &rel->source);
			obj = cJSON_Parse(json);
		}
		ipm_entry_release(&e);
		free(json);
		if (obj)
			return obj;
	}
	ipm_error_clear();
	return p->guessed_entry ? cJSON_Parse(p->guessed_entry) : NULL;
}

int ipm_lockfile_export(char **out, struct ipm_ctx *ctx)
{
	struct ipm_package_row *rows = NULL;
	size_t n = 0;
	cJSON *root, *arr;
	char *text;
	int rc;

	*out = NULL;
	if ((rc = ipm_db_package_list(&rows, &n, ctx->db)) < 0)
		return rc;
	root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "ipm_lock", IPM_LOCKFILE_VERSION);
	add_string(root, "prefix", n ? rows[0].prefix : ctx->cfg.prefix);
	arr = cJSON_AddArrayToObject(root, "packages");
	for (size_t i = 0; i < n; i++) {
		const struct ipm_package_row *p = &rows[i];
		cJSON *o = cJSON_CreateObject(), *entry = entry_of(ctx, p);
		add_string(o, "name", p->name);
		add_string(o, "version", p->version);
		cJSON_AddBoolToObject(o, "explicit", p->explicit_install != 0);
		add_string(o, "registry", p->registry);
		add_string(o, "source", p->source);
		add_string(o, "resolved", p->resolved);
		add_string(o, "method", p->method);
		if (entry)
			cJSON_AddItemToObject(o, "entry", entry);
		else
			cJSON_AddNullToObject(o, "entry");
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_Print(root);
	*out = xasprintf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
	for (size_t i = 0; i < n; i++)
		ipm_package_row_release(&rows[i]);
	free(rows);
	return 0;
}

/* ---- reading ---- */

static int bad(const char *origin, const char *fmt, const char *a, const char *b)
{
	char *why = xasprintf(fmt, a, b);
	int rc = ipm_error_set(IPM_EINVAL, "'%s' is not an ipm lock file: %s", origin, why);
	ipm_error_hint("write lock files with 'ipm export'; fix or re-export this one");
	free(why);
	return rc;
}

/* A string member: 0 and *out (NULL when absent or null and optional);
 * else the error. */
static int get_str(char **out, const cJSON *obj, const char *key, int required, const char *origin,
		   const char *where)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (cJSON_IsString(v) && v->valuestring[0]) {
		*out = xstrdup(v->valuestring);
		return 0;
	}
	if (!required && (!v || cJSON_IsNull(v)))
		return 0;
	return bad(origin, required && !v ? "%s has no \"%s\"" : "\"%2$s\" of %1$s must be a non-empty string",
		   where, key);
}

static void pkg_release(struct ipm_lock_pkg *p)
{
	free(p->name);
	free(p->version);
	free(p->registry);
	free(p->source);
	free(p->resolved);
	free(p->method);
	free(p->entry_json);
}

static int parse_pkg(struct ipm_lock_pkg *p, const cJSON *obj, const char *origin, size_t index)
{
	char *where = xasprintf("packages[%zu]", index);
	const cJSON *v;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!cJSON_IsObject(obj)) {
		rc = bad(origin, "%s must be an object%s", where, "");
		goto done;
	}
	if ((rc = get_str(&p->name, obj, "name", 1, origin, where)) < 0)
		goto done;
	free(where);
	where = xasprintf("packages[%zu] '%s'", index, p->name);
	if ((rc = get_str(&p->version, obj, "version", 1, origin, where)) < 0 ||
	    (rc = get_str(&p->registry, obj, "registry", 0, origin, where)) < 0 ||
	    (rc = get_str(&p->source, obj, "source", 0, origin, where)) < 0 ||
	    (rc = get_str(&p->resolved, obj, "resolved", 0, origin, where)) < 0 ||
	    (rc = get_str(&p->method, obj, "method", 0, origin, where)) < 0)
		goto done;
	if (ipm_version_valid(p->version) <= 0) {
		rc = bad(origin, "the version of %s ('%s') is not a valid version", where, p->version);
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(obj, "explicit");
	if (!cJSON_IsBool(v)) {
		rc = bad(origin, "%s needs \"explicit\": true or false%s", where, "");
		goto done;
	}
	p->explicit_install = cJSON_IsTrue(v);
	v = cJSON_GetObjectItemCaseSensitive(obj, "entry");
	if (v && !cJSON_IsNull(v)) {
		struct ipm_entry e;
		char *what = xasprintf("%s: entry", where);
		if (!cJSON_IsObject(v)) {
			free(what);
			rc = bad(origin, "\"entry\" of %s must be an object%s", where, "");
			goto done;
		}
		char *printed = cJSON_PrintUnformatted(v);
		p->entry_json = xstrdup(printed);
		cJSON_free(printed);
		rc = ipm_entry_parse(&e, p->entry_json, strlen(p->entry_json), what);
		free(what);
		if (rc < 0) {
			ipm_error_prefix("'%s' is not an ipm lock file", origin);
			ipm_error_hint("write lock files with 'ipm export'; fix or re-export this one");
			goto done;
		}
		if (strcmp(e.name, p->name) || !ipm_entry_find_release(&e, p->version) ||
		    strcmp(ipm_entry_find_release(&e, p->version)->version, p->version))
			rc = bad(origin, "the entry of %s is not one of that name with release %s", where,
				 p->version);
		ipm_entry_release(&e);
	}
	if (rc == 0 && !p->registry && !p->entry_json)
		rc = bad(origin, "%s has neither a \"registry\" nor an \"entry\" to build it from%s", where, "");
done:
	free(where);
	if (rc < 0)
		pkg_release(p);
	return rc;
}

int ipm_lockfile_parse(struct ipm_lockfile *out, const char *text, size_t len, const char *origin)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	const cJSON *v, *pkgs, *item;
	size_t index = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!root) {
		size_t line, column;
		char pos[64];
		ipm_entry_json_position(&line, &column, text, end && end >= text ? (size_t)(end - text) : 0);
		snprintf(pos, sizeof(pos), "%zu, column %zu", line, column);
		return bad(origin, "malformed JSON at line %s%s", pos, "");
	}
	if (!cJSON_IsObject(root)) {
		rc = bad(origin, "the document must be an object%s%s", "", "");
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "ipm_lock");
	if (!cJSON_IsNumber(v)) {
		rc = bad(origin, "it has no \"ipm_lock\" format number%s%s", "", "");
		goto done;
	}
	if (v->valuedouble != IPM_LOCKFILE_VERSION) {
		char num[32];
		snprintf(num, sizeof(num), "%g", v->valuedouble);
		rc = bad(origin, "format %s is not one this ipm reads (1)%s", num, "");
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "prefix");
	if (cJSON_IsString(v))
		out->prefix = xstrdup(v->valuestring);
	pkgs = cJSON_GetObjectItemCaseSensitive(root, "packages");
	if (!cJSON_IsArray(pkgs)) {
		rc = bad(origin, "it has no \"packages\" array%s%s", "", "");
		goto done;
	}
	out->pkgs = xcalloc((size_t)cJSON_GetArraySize(pkgs) + 1, sizeof(*out->pkgs));
	cJSON_ArrayForEach(item, pkgs) {
		if ((rc = parse_pkg(&out->pkgs[out->n], item, origin, index++)) < 0)
			goto done;
		for (size_t k = 0; k < out->n; k++)
			if (strcmp(out->pkgs[k].name, out->pkgs[out->n].name) == 0) {
				rc = bad(origin, "'%s' is listed twice%s", out->pkgs[k].name, "");
				out->n++;
				goto done;
			}
		out->n++;
	}
done:
	cJSON_Delete(root);
	if (rc < 0)
		ipm_lockfile_release(out);
	return rc;
}

void ipm_lockfile_release(struct ipm_lockfile *lf)
{
	for (size_t i = 0; i < lf->n; i++)
		pkg_release(&lf->pkgs[i]);
	free(lf->pkgs);
	free(lf->prefix);
	memset(lf, 0, sizeof(*lf));
}
