/*
 * Registry entries: parsing and every validation rule of the entry format
 * (man/ipm-registry.5, registry/schema.json). The rules live here only, so
 * that import, `ipm install FILE` and a registry checker all agree.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ipm/buf.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/similar.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"
#include "spdx.h"

/*
 * The parser never stops at a problem: it records it and goes on with the
 * next field, release, tool or method, so that `ipm registry check` shows
 * every mistake at once. Problems come in the order the fields are checked:
 * an object's unknown and duplicate keys first, then its fields in the
 * order of the format (name, description, ..., versions, requires, depends,
 * methods), which is file order for entries written the usual way.
 */
struct parser {
	const char *origin;
	unsigned flags;
	struct ipm_problems *problems;
	/* fields an unknown key was taken for ("did you mean 'commit'?"): their
	 * absence is the same mistake and is not reported a second time */
	char **guessed;
	size_t nguessed, guessed_alloc;
};

void ipm_problems_add(struct ipm_problems *list, const char *hint, const char *fmt, ...)
{
	struct ipm_buf message = IPM_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	ipm_buf_vaddf(&message, fmt, ap);
	va_end(ap);
	XGROW(list->items, list->alloc, list->n + 1);
	list->items[list->n].message = ipm_buf_detach(&message);
	list->items[list->n].hint = xstrdup(hint);
	list->n++;
}

void ipm_problems_release(struct ipm_problems *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].message);
		free(list->items[i].hint);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* hint may be NULL */
static void report(struct parser *p, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(struct parser *p, const char *hint, const char *fmt, ...)
{
	struct ipm_buf message = IPM_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	ipm_buf_vaddf(&message, fmt, ap);
	va_end(ap);
	ipm_problems_add(p->problems, hint, "%s", message.ptr);
	ipm_buf_release(&message);
}

/* ---- field names and "did you mean" ---- */

static char *field_path(const char *where, const char *key)
{
	return where ? xasprintf("%s.%s", where, key) : xstrdup(key);
}

/*
 * Reports keys not in `known` (NULL-terminated) and duplicate keys: a typo in
 * a field name would otherwise silently drop what the contributor meant.
 */
static void check_fields(struct parser *p, const cJSON *obj, const char *const *known, const char *where)
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
				size_t d = ipm_edit_distance_max(key, known[i], 2, 0);
				if (d < best_d)
					best_d = d, best = known[i];
			}
			if (best && best_d <= 2 && best_d < strlen(key)) {
				char *hint = xasprintf("did you mean '%s'?", best);
				report(p, hint, "unknown field '%s' in '%s'", path, p->origin);
				free(hint);
				XGROW(p->guessed, p->guessed_alloc, p->nguessed + 1);
				p->guessed[p->nguessed++] = field_path(where, best);
			} else {
				struct ipm_buf list = IPM_BUF_INIT;
				ipm_buf_add(&list, "known fields: ");
				for (size_t i = 0; known[i]; i++)
					ipm_buf_addf(&list, "%s%s", i ? ", " : "", known[i]);
				report(p, list.ptr, "unknown field '%s' in '%s'", path, p->origin);
				ipm_buf_release(&list);
			}
			free(path);
			continue;
		}
		for (const cJSON *other = obj->child; other != item; other = other->next) {
			if (!strcmp(other->string, key)) {
				char *path = field_path(where, key);
				report(p, NULL, "duplicate field '%s' in '%s'", path, p->origin);
				free(path);
				break;
			}
		}
	}
}

/* Whether an unknown key of the object at where was taken for key. */
static int guessed(struct parser *p, const char *where, const char *key)
{
	char *path = field_path(where, key);
	int found = 0;

	for (size_t i = 0; i < p->nguessed && !found; i++)
		found = !strcmp(p->guessed[i], path);
	free(path);
	return found;
}

/* Each returns -1 so that callers can write `return missing(...)`. */
static int missing(struct parser *p, const char *where, const char *key, const char *hint)
{
	char *path;

	if (guessed(p, where, key))
		return -1;
	path = field_path(where, key);
	report(p, hint, "missing required field '%s' in '%s'", path, p->origin);
	free(path);
	return -1;
}

static int bad(struct parser *p, const char *where, const char *key, const char *why, const char *hint)
{
	char *path = field_path(where, key);
	report(p, hint, "field '%s' in '%s' %s", path, p->origin, why);
	free(path);
	return -1;
}

/* A string field; *out stays NULL when absent and not required. Empty
 * strings are refused: they only ever mean a mistake. Returns -1 when a
 * problem was reported (a missing required field or a bad value). */
static int get_string(char **out, struct parser *p, const cJSON *obj, const char *where,
		      const char *key, int required)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return required ? missing(p, where, key, NULL) : 0;
	if (!cJSON_IsString(item))
		return bad(p, where, key, "must be a string", NULL);
	if (!item->valuestring[0])
		return bad(p, where, key, "must not be empty", NULL);
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
		return bad(p, where, key, "must be an array of strings", NULL);
	cJSON_ArrayForEach(item, arr) {
		if (!cJSON_IsString(item) || !item->valuestring[0])
			return bad(p, where, key, "must be an array of non-empty strings", NULL);
		n++;
	}
	if (n == 0)
		return 0;
	*out = xcalloc(n, sizeof(char *));
	cJSON_ArrayForEach(item, arr)
		(*out)[(*nout)++] = xstrdup(item->valuestring);
	return 0;
}

/* *out is NULL when the array is absent or unusable (reported). */
static int get_array(const cJSON **out, size_t *n, struct parser *p, const cJSON *obj,
		     const char *key, int required)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return required ? missing(p, NULL, key, NULL) : 0;
	if (!cJSON_IsArray(arr))
		return bad(p, NULL, key, "must be an array", NULL);
	*n = (size_t)cJSON_GetArraySize(arr);
	if (required && *n == 0)
		return bad(p, NULL, key, "must not be empty", NULL);
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

/* Names become directory names, database keys and command-line words:
 * short, lower case, no spaces. */
#define NAME_MAX_CHARS 64
#define IPM_STR_(x) #x
#define IPM_STR(x) IPM_STR_(x)

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_CHARS)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	/* `ipm install x.json` means a file, so no package can be called that */
	if (n > 5 && strcmp(s + n - 5, ".json") == 0)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("._+-", *s)))
			return 0;
	return 1;
}

int ipm_entry_name_valid(const char *name)
{
	return valid_name(name);
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

/* ---- licenses: SPDX expressions ---- */

static int strcmp_ptr(const void *key, const void *item)
{
	return strcmp(key, *(const char *const *)item);
}

static int spdx_known(const char *const *table, size_t count, const char *id)
{
	return bsearch(id, table, count, sizeof(*table), strcmp_ptr) != NULL;
}

/*
 * The id of table that id was probably meant to be, or NULL: the same id in
 * another case ('mit' for 'MIT'), else the closest by edit distance when it
 * is close enough to be a typo. Short ids get no guess: "BSD" is not "0BSD".
 */
static const char *spdx_near(const char *const *table, size_t count, const char *id)
{
	const char *best = NULL;
	size_t len = strlen(id);
	/* the farthest guess offered: only those distances need computing */
	size_t max = len >= 6 ? 3 : len >= 4 ? 2 : 0;
	size_t best_d = max + 1;

	for (size_t i = 0; i < count && best_d > 0; i++) {
		size_t d = ipm_edit_distance_max(id, table[i], max, IPM_EDIT_ICASE);
		if (d < best_d)
			best_d = d, best = table[i];
	}
	return best_d <= max ? best : NULL;
}

/* prefix followed by an idstring: letters, digits, '.' and '-' (LicenseRef-x) */
static int spdx_idstring(const char *s, size_t n, const char *prefix)
{
	size_t plen = strlen(prefix);

	if (n <= plen || strncmp(s, prefix, plen) != 0)
		return 0;
	for (size_t i = plen; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

struct spdx_parse {
	struct parser *p;
	const char *pos;
	const char *tok;      /* the current token: tok..tok+ntok, ntok 0 at the end */
	size_t ntok;
	int syntax_error;
};

static void spdx_next(struct spdx_parse *sp)
{
	while (*sp->pos == ' ' || *sp->pos == '\t')
		sp->pos++;
	sp->tok = sp->pos;
	if (*sp->pos == '(' || *sp->pos == ')')
		sp->pos++;
	else
		while (*sp->pos && !strchr(" \t()", *sp->pos))
			sp->pos++;
	sp->ntok = (size_t)(sp->pos - sp->tok);
}

static int spdx_is(const struct spdx_parse *sp, const char *word)
{
	return sp->ntok == strlen(word) && !strncmp(sp->tok, word, sp->ntok);
}

/* "and", "Or", "with": an operator in the wrong case (the spec wants upper case) */
static const char *spdx_miscased_operator(const struct spdx_parse *sp)
{
	static const char *const ops[] = { "AND", "OR", "WITH" };
	for (size_t i = 0; i < 3; i++)
		if (sp->ntok == strlen(ops[i]) && !strncasecmp(sp->tok, ops[i], sp->ntok) &&
		    strncmp(sp->tok, ops[i], sp->ntok) != 0)
			return ops[i];
	return NULL;
}

/* Reports a syntax error once; the rest of the expression is not looked at.
 * hint NULL: the general one. */
static void spdx_syntax(struct spdx_parse *sp, const char *hint)
{
	const char *op = spdx_miscased_operator(sp);
	char *own = NULL;

	if (sp->syntax_error)
		return;
	sp->syntax_error = 1;
	if (!hint && op)
		hint = own = xasprintf("operators are upper case: write '%.*s' as '%s'", (int)sp->ntok, sp->tok, op);
	if (!hint)
		hint = "combine SPDX ids with AND, OR, WITH and parentheses, e.g. \"MIT OR Apache-2.0\"";
	bad(sp->p, NULL, "license", "is not a valid SPDX license expression", hint);
	free(own);
}

static void spdx_unknown(struct spdx_parse *sp, const char *id, const char *const *table, size_t count,
			 const char *what, const char *list_url)
{
	const char *near = spdx_near(table, count, id);
	char *why = xasprintf("names '%s', which is not %s", id, what);
	char *hint = near ? xasprintf("did you mean '%s'?", near)
			  : xasprintf("the ids are listed at %s; a license of your own is \"LicenseRef-<name>\"", list_url);
	bad(sp->p, NULL, "license", why, hint);
	free(why);
	free(hint);
}

static int spdx_is_ref(const char *id)
{
	const char *colon = strchr(id, ':');

	if (colon)
		return spdx_idstring(id, (size_t)(colon - id), "DocumentRef-") &&
		       spdx_idstring(colon + 1, strlen(colon + 1), "LicenseRef-");
	return spdx_idstring(id, strlen(id), "LicenseRef-");
}

/* license-id ["+"] | LicenseRef-x | DocumentRef-x:LicenseRef-y, then an optional WITH exception */
static void spdx_simple(struct spdx_parse *sp)
{
	char *id = xstrndup(sp->tok, sp->ntok);
	size_t n = strlen(id);

	if (!strncmp(id, "LicenseRef-", 11) || !strncmp(id, "DocumentRef-", 12) || strchr(id, ':')) {
		/* a license of the author's own: any idstring will do, but no '+' */
		if (!spdx_is_ref(id)) {
			spdx_syntax(sp, "a license of your own is \"LicenseRef-\" followed by letters, digits, '.' and '-'");
			goto done;
		}
	} else {
		if (n > 1 && id[n - 1] == '+')   /* "or any later version" */
			id[--n] = '\0';
		if (!spdx_idstring(id, n, "")) {
			spdx_syntax(sp, NULL);
			goto done;
		}
		if (!spdx_known(ipm_spdx_licenses, ipm_spdx_licenses_count, id))
			spdx_unknown(sp, id, ipm_spdx_licenses, ipm_spdx_licenses_count,
				     "an SPDX license id", "https://spdx.org/licenses/");
	}
	spdx_next(sp);
	if (!spdx_is(sp, "WITH"))
		goto done;
	spdx_next(sp);
	free(id);
	id = xstrndup(sp->tok, sp->ntok);
	if (!spdx_idstring(id, strlen(id), "") || spdx_is(sp, "AND") || spdx_is(sp, "OR") || spdx_is(sp, "WITH")) {
		spdx_syntax(sp, NULL);
		goto done;
	}
	if (!spdx_known(ipm_spdx_exceptions, ipm_spdx_exceptions_count, id))
		spdx_unknown(sp, id, ipm_spdx_exceptions, ipm_spdx_exceptions_count,
			     "an SPDX license exception id", "https://spdx.org/licenses/exceptions-index.html");
	spdx_next(sp);
done:
	free(id);
}

static void spdx_compound(struct spdx_parse *sp, int depth);

static void spdx_term(struct spdx_parse *sp, int depth)
{
	if (spdx_is(sp, "(")) {
		spdx_next(sp);
		spdx_compound(sp, depth + 1);
		if (sp->syntax_error)
			return;
		if (!spdx_is(sp, ")")) {
			spdx_syntax(sp, NULL);
			return;
		}
		spdx_next(sp);
	} else if (!sp->ntok || spdx_is(sp, ")") || spdx_is(sp, "AND") || spdx_is(sp, "OR") ||
		   spdx_is(sp, "WITH") || spdx_miscased_operator(sp)) {
		spdx_syntax(sp, NULL);
	} else {
		spdx_simple(sp);
	}
}

/* term (AND|OR term)*: precedence does not matter for validity */
static void spdx_compound(struct spdx_parse *sp, int depth)
{
	if (depth > 32) {   /* deeper nesting is no license anyone writes */
		spdx_syntax(sp, NULL);
		return;
	}
	spdx_term(sp, depth);
	while (!sp->syntax_error && (spdx_is(sp, "AND") || spdx_is(sp, "OR"))) {
		spdx_next(sp);
		spdx_term(sp, depth);
	}
}

/*
 * Checks an SPDX license expression (SPDX specification, annex "SPDX license
 * expressions"). Ids must be written as the list writes them: the spec
 * matches them case-insensitively, but one spelling keeps the registry
 * searchable and 'mit' gets a "did you mean 'MIT'?".
 */
static void check_license(struct parser *p, const char *license)
{
	struct spdx_parse sp = { .p = p, .pos = license };

	/* "Apache 2.0", "GPL v3": one license written as words, which read as
	 * an id and a stray token would only give two unhelpful problems */
	if (strchr(license, ' ') && !strpbrk(license, "()")) {
		char *dashed = xstrdup(license);
		const char *near = NULL;
		int operators = 0;

		for (spdx_next(&sp); sp.ntok; spdx_next(&sp))
			operators |= spdx_is(&sp, "AND") || spdx_is(&sp, "OR") || spdx_is(&sp, "WITH") ||
				     spdx_miscased_operator(&sp) != NULL;
		for (char *c = dashed; *c; c++)
			if (*c == ' ')
				*c = '-';
		/* only a close match: "MIT Zlib" is two ids, not 'MIT-Click' */
		if (!operators) {
			size_t best_d = 2;
			for (size_t i = 0; i < ipm_spdx_licenses_count && best_d > 0; i++) {
				size_t d = ipm_edit_distance_max(dashed, ipm_spdx_licenses[i], 1, IPM_EDIT_ICASE);
				if (d < best_d)
					best_d = d, near = ipm_spdx_licenses[i];
			}
		}
		free(dashed);
		if (near) {
			char *hint = xasprintf("SPDX ids have no spaces: did you mean '%s'?", near);
			bad(p, NULL, "license", "is not a valid SPDX license expression", hint);
			free(hint);
			return;
		}
		sp.pos = license;
	}
	spdx_next(&sp);
	spdx_compound(&sp, 0);
	if (!sp.syntax_error && sp.ntok)
		spdx_syntax(&sp, NULL);
}

/* ---- public registry: where sources come from ---- */

/*
 * A public entry is fetched by strangers: only https://, and no user name or
 * password in the URL (they would be published, and fetches are anonymous).
 */
static void check_public_url(struct parser *p, const char *where, const char *key, const char *url,
			     const char *https_hint)
{
	const char *host = strstr(url, "://");

	if (strncmp(url, "https://", 8) != 0 || !url[8])
		bad(p, where, key, "must be an https:// URL", https_hint);
	if (host) {
		host += 3;
		size_t authority = strcspn(host, "/?#");
		const char *at = memchr(host, '@', authority);
		if (at)
			bad(p, where, key, "must not carry credentials",
			    "remove the 'user@' or 'user:password@' part: public sources are fetched anonymously");
	}
}

static const char source_https_hint[] =
	"the public registry accepts only https:// sources; use IPM_MIRRORS to test against a local copy";

/* ---- sections ---- */

static const char *const release_fields[] = { "version", "git", "commit", "tag", "url", "sha256", "size", "subdir", NULL };

/* "size": the archive's length in bytes, a whole number from 1 to 2^53
 * (what a JSON number holds exactly). Returns -1 when reported. */
static int get_size(unsigned long long *out, struct parser *p, const cJSON *obj, const char *where)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "size");
	double v;

	*out = 0;
	if (!item || cJSON_IsNull(item))
		return 0;
	v = cJSON_IsNumber(item) ? item->valuedouble : -1;
	if (!(v >= 1 && v <= 9007199254740992.0) || v != (double)(unsigned long long)v)
		return bad(p, where, "size", "must be a whole number of bytes, 1 or more",
			   "the archive's length as 'wc -c < FILE' prints it");
	*out = (unsigned long long)v;
	return 0;
}

static void parse_source(struct ipm_source *s, struct parser *p, const cJSON *obj, const char *where)
{
	/* a source field with a bad value was reported already; the checks
	 * that depend on it would only repeat that */
	int git_bad = get_string(&s->git, p, obj, where, "git", 0) < 0;
	int commit_bad = get_string(&s->commit, p, obj, where, "commit", 0) < 0;
	int url_bad = get_string(&s->url, p, obj, where, "url", 0) < 0;
	int sha256_bad;
	int subdir_bad;
	int known_kind = 1;

	get_string(&s->tag, p, obj, where, "tag", 0);
	sha256_bad = get_string(&s->sha256, p, obj, where, "sha256", 0) < 0;
	get_size(&s->size, p, obj, where);
	subdir_bad = get_string(&s->subdir, p, obj, where, "subdir", 0) < 0;
	if (s->git && s->url) {
		report(p, "a release has one source: git + commit, or url + sha256",
		       "'%s' in '%s' has both 'git' and 'url'", where, p->origin);
		known_kind = 0;
	} else if (s->git && !strcmp(s->git, "self")) {
		s->kind = IPM_SOURCE_SELF;
		free(s->git);
		s->git = NULL;
		if (s->commit)
			bad(p, where, "commit", "is not allowed with \"git\": \"self\"",
			    "the commit of a self source is the registry's own commit, resolved at install time");
	} else if (s->git) {
		s->kind = IPM_SOURCE_GIT;
		if (!s->commit && !commit_bad) {
			missing(p, where, "commit", "pin git sources to a full 40-hex commit id (git rev-parse TAG)");
		} else if (s->commit && !ipm_is_hex(s->commit, 40)) {
			char *hint = xasprintf("get it with: git rev-parse %s", s->tag ? s->tag : "HEAD");
			bad(p, where, "commit", "must be a full commit id of 40 hex digits", hint);
			free(hint);
		} else if (s->commit) {
			lower_hex(s->commit);
		}
	} else if (s->url) {
		s->kind = IPM_SOURCE_ARCHIVE;
		if (!s->sha256 && !sha256_bad) {
			missing(p, where, "sha256", "archives are verified: add \"sha256\" (sha256sum FILE)");
		} else if (s->sha256 && !ipm_is_hex(s->sha256, 64)) {
			bad(p, where, "sha256", "must be 64 hex digits", NULL);
		} else if (s->sha256) {
			lower_hex(s->sha256);
		}
		if (s->commit)
			bad(p, where, "commit", "is only for git sources", NULL);
		if (s->tag)
			bad(p, where, "tag", "is only for git sources", NULL);
	} else {
		if (!git_bad && !url_bad && !guessed(p, where, "git") && !guessed(p, where, "url"))
			report(p, "give \"git\" + \"commit\", \"url\" + \"sha256\", or \"git\": \"self\"",
			       "'%s' in '%s' has no source", where, p->origin);
		known_kind = 0;
	}
	/* without exactly one source the kind is unknown: "has both" or "has
	 * no source" says all there is to say about sha256 */
	if (known_kind && s->kind != IPM_SOURCE_ARCHIVE && s->sha256)
		bad(p, where, "sha256", "is only for archive sources", NULL);
	if (known_kind && s->kind != IPM_SOURCE_ARCHIVE && s->size)
		bad(p, where, "size", "is only for archive sources", NULL);
	if (s->subdir && !subdir_bad && !valid_subdir(s->subdir))
		bad(p, where, "subdir", "must be a relative path inside the source", NULL);
	if (p->flags & IPM_ENTRY_PUBLIC) {
		if (s->git)   /* "self" was cleared: it is the registry's own repository */
			check_public_url(p, where, "git", s->git, source_https_hint);
		if (s->url)
			check_public_url(p, where, "url", s->url, source_https_hint);
	}
}

static void parse_release(struct ipm_release *r, struct parser *p, const cJSON *obj, size_t index)
{
	char *where = xasprintf("versions[%zu]", index);

	if (!cJSON_IsObject(obj)) {
		report(p, NULL, "'%s' in '%s' must be an object", where, p->origin);
		goto done;
	}
	check_fields(p, obj, release_fields, where);
	if (get_string(&r->version, p, obj, where, "version", 1) == 0 && !ipm_version_valid(r->version))
		bad(p, where, "version", "is not a valid version", "versions look like 1.2.3, 2.0 or 1.0.0-rc1");
	parse_source(&r->source, p, obj, where);
done:
	free(where);
}

static const char *const require_fields[] = { "tool", "version", "hints", NULL };

static void parse_require(struct ipm_require *r, struct parser *p, const cJSON *obj, size_t index)
{
	char *where = xasprintf("requires[%zu]", index);
	const cJSON *hints, *h;

	if (!cJSON_IsObject(obj)) {
		report(p, NULL, "'%s' in '%s' must be an object", where, p->origin);
		goto done;
	}
	check_fields(p, obj, require_fields, where);
	if (get_string(&r->tool, p, obj, where, "tool", 1) == 0 && (strchr(r->tool, '/') || strchr(r->tool, ' ')))
		bad(p, where, "tool", "must be a program name (no '/' or spaces)", NULL);
	if (get_string(&r->constraint, p, obj, where, "version", 0) == 0 && r->constraint &&
	    !ipm_constraint_valid(r->constraint))
		bad(p, where, "version", "is not a valid version constraint", "constraints look like >=1.2, ^2.0 or >=1.0, <2");
	hints = cJSON_GetObjectItemCaseSensitive(obj, "hints");
	if (hints && !cJSON_IsNull(hints)) {
		if (!cJSON_IsObject(hints)) {
			bad(p, where, "hints", "must be an object mapping an OS name to a command", NULL);
			goto done;
		}
		size_t n = (size_t)cJSON_GetArraySize(hints);
		r->hints = n ? xcalloc(n, sizeof(*r->hints)) : NULL;
		cJSON_ArrayForEach(h, hints) {
			if (!cJSON_IsString(h) || !h->valuestring[0]) {
				char *key = xasprintf("hints.%s", h->string);
				bad(p, where, key, "must be a non-empty command string", NULL);
				free(key);
				continue;
			}
			r->hints[r->nhints].os = xstrdup(h->string);
			r->hints[r->nhints].command = xstrdup(h->valuestring);
			r->nhints++;
		}
		if (r->nhints < n)   /* the bad ones were reported */
			goto done;
	}
	/* a missing tool stops an install; the hint is what tells the user how
	 * to get it */
	if ((p->flags & IPM_ENTRY_PUBLIC) && r->nhints == 0)
		report(p, "add \"hints\": {\"debian\": \"sudo apt-get install ...\"} (and fedora, alpine, arch, macos)",
		       "'%s' in '%s' has no install hint", where, p->origin);
done:
	free(where);
}

static const char *const depend_fields[] = { "name", "version", NULL };

static void parse_depend(struct ipm_depend *d, struct parser *p, const cJSON *obj, size_t index)
{
	char *where = xasprintf("depends[%zu]", index);

	if (!cJSON_IsObject(obj)) {
		report(p, NULL, "'%s' in '%s' must be an object", where, p->origin);
		goto done;
	}
	check_fields(p, obj, depend_fields, where);
	if (get_string(&d->name, p, obj, where, "name", 1) == 0 && !valid_name(d->name)) {
		bad(p, where, "name", "is not a valid package name", NULL);
		/* not a name: the checks against other names would only mislead */
		free(d->name);
		d->name = NULL;
	}
	if (get_string(&d->constraint, p, obj, where, "version", 0) == 0 && d->constraint &&
	    !ipm_constraint_valid(d->constraint))
		bad(p, where, "version", "is not a valid version constraint", "constraints look like >=1.2, ^2.0 or >=1.0, <2");
done:
	free(where);
}

static const char *const method_fields[] = { "name", "build", "install", NULL };

static void parse_method(struct ipm_method *m, struct parser *p, const cJSON *obj, size_t index, size_t count)
{
	char *where = xasprintf("methods[%zu]", index);
	int build_bad, install_bad;

	if (!cJSON_IsObject(obj)) {
		report(p, NULL, "'%s' in '%s' must be an object", where, p->origin);
		goto done;
	}
	check_fields(p, obj, method_fields, where);
	get_string(&m->name, p, obj, where, "name", 0);
	build_bad = get_string_array(&m->build, &m->nbuild, p, obj, where, "build") < 0;
	install_bad = get_string_array(&m->install, &m->ninstall, p, obj, where, "install") < 0;
	if (m->ninstall == 0 && m->nbuild == 0 && !build_bad && !install_bad)
		report(p, "a method lists \"build\" steps (optional) and \"install\" steps, e.g. "
		       "\"install\": [ \"make install PREFIX=$IPM_PREFIX\" ]",
		       "'%s' in '%s' is empty: it has no build or install step", where, p->origin);
	else if (m->ninstall == 0 && !install_bad)
		report(p, "add \"install\": [ \"make install PREFIX=$IPM_PREFIX\" ] or similar",
		       "'%s' in '%s' has no install step", where, p->origin);
	/* an unnamed single method is "default"; several are told apart by position */
	if (!m->name)
		m->name = count == 1 ? xstrdup("default") : xasprintf("method-%zu", index + 1);
done:
	free(where);
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

static void parse_object(struct ipm_entry *e, struct parser *p, const cJSON *root)
{
	int public = (p->flags & IPM_ENTRY_PUBLIC) != 0;
	const cJSON *arr, *item;
	size_t n, i;

	if (!cJSON_IsObject(root)) {
		report(p, NULL, "'%s' must hold a JSON object", p->origin);
		return;
	}
	check_fields(p, root, entry_fields, NULL);
	if (get_string(&e->name, p, root, NULL, "name", 1) == 0 && !valid_name(e->name)) {
		if (strlen(e->name) > NAME_MAX_CHARS)
			bad(p, NULL, "name", "is longer than " IPM_STR(NAME_MAX_CHARS) " characters",
			    "shorten it: package names have at most " IPM_STR(NAME_MAX_CHARS) " characters");
		else
			bad(p, NULL, "name", "is not a valid package name",
			    "names use lower-case letters, digits and . _ + -, start with a letter or digit"
			    " and do not end in .json");
		free(e->name);
		e->name = NULL;
	}
	get_string(&e->description, p, root, NULL, "description", 1);
	if (get_string(&e->homepage, p, root, NULL, "homepage", 0) == 0 && e->homepage && public)
		check_public_url(p, NULL, "homepage", e->homepage,
				 "the public registry links only to https:// pages");
	if (get_string(&e->license, p, root, NULL, "license", 0) == 0) {
		if (e->license)
			check_license(p, e->license);
		else if (public)
			missing(p, NULL, "license",
				"the public registry needs an SPDX license expression, e.g. \"MIT\" (https://spdx.org/licenses/)");
	}
	if (get_string(&e->repo, p, root, NULL, "repo", 0) == 0 && e->repo && !valid_repo(e->repo))
		bad(p, NULL, "repo", "must be \"owner/repo\"", NULL);
	get_string_array(&e->keywords, &e->nkeywords, p, root, NULL, "keywords");

	get_array(&arr, &n, p, root, "versions", 1);
	if (arr && n) {
		e->releases = xcalloc(n, sizeof(*e->releases));
		i = 0;
		cJSON_ArrayForEach(item, arr) {
			struct ipm_release *r = &e->releases[i];
			e->nreleases++;
			parse_release(r, p, item, i);
			for (size_t j = 0; r->version && ipm_version_valid(r->version) && j < i; j++)
				if (e->releases[j].version && ipm_version_valid(e->releases[j].version) &&
				    ipm_version_cmp(e->releases[j].version, r->version) == 0) {
					report(p, NULL, "version '%s' appears twice in '%s'", r->version, p->origin);
					break;
				}
			i++;
		}
	}

	get_array(&arr, &n, p, root, "requires", 0);
	if (arr && n) {
		e->requires = xcalloc(n, sizeof(*e->requires));
		i = 0;
		cJSON_ArrayForEach(item, arr) {
			e->nrequires++;
			parse_require(&e->requires[i], p, item, i);
			i++;
		}
	}

	get_array(&arr, &n, p, root, "depends", 0);
	if (arr && n) {
		e->depends = xcalloc(n, sizeof(*e->depends));
		i = 0;
		cJSON_ArrayForEach(item, arr) {
			struct ipm_depend *d = &e->depends[i];
			e->ndepends++;
			parse_depend(d, p, item, i);
			if (d->name && e->name && !strcmp(d->name, e->name))
				report(p, NULL, "'%s' depends on itself in '%s'", e->name, p->origin);
			for (size_t j = 0; d->name && j < i; j++)
				if (e->depends[j].name && !strcmp(e->depends[j].name, d->name)) {
					report(p, NULL, "dependency '%s' appears twice in '%s'", d->name, p->origin);
					break;
				}
			i++;
		}
	}

	get_array(&arr, &n, p, root, "methods", 1);
	if (arr && n) {
		e->methods = xcalloc(n, sizeof(*e->methods));
		i = 0;
		cJSON_ArrayForEach(item, arr) {
			struct ipm_method *m = &e->methods[i];
			e->nmethods++;
			parse_method(m, p, item, i, n);
			for (size_t j = 0; m->name && j < i; j++)
				if (e->methods[j].name && !strcmp(e->methods[j].name, m->name)) {
					report(p, NULL, "method '%s' appears twice in '%s'", m->name, p->origin);
					break;
				}
			i++;
		}
	}
}

/*
 * The end of every check with problems: *out is released, the first problem
 * goes to the error slot (what install prints) and all of them move to the
 * end of *problems (when given).
 */
static int fail(struct ipm_entry *out, struct ipm_problems *problems, struct ipm_problems *found)
{
	ipm_entry_release(out);
	ipm_error_set(IPM_EINVAL, "%s", found->items[0].message);
	if (found->items[0].hint)
		ipm_error_hint("%s", found->items[0].hint);
	if (problems) {
		XGROW(problems->items, problems->alloc, problems->n + found->n);
		memcpy(problems->items + problems->n, found->items, found->n * sizeof(*found->items));
		problems->n += found->n;
		free(found->items);
		memset(found, 0, sizeof(*found));
	}
	ipm_problems_release(found);
	return IPM_EINVAL;
}

static int check_root(struct ipm_entry *out, struct ipm_problems *problems, const cJSON *root,
		      const char *origin, unsigned flags)
{
	struct ipm_problems found = { 0 };
	struct parser p = { .origin = origin, .flags = flags, .problems = &found };

	parse_object(out, &p, root);
	xfree_strv(p.guessed, p.nguessed);
	if (found.n)
		return fail(out, problems, &found);
	qsort(out->releases, out->nreleases, sizeof(*out->releases), release_newest_first);
	return 0;
}

int ipm_entry_from_cjson(struct ipm_entry *out, const struct cJSON *root, const char *origin)
{
	memset(out, 0, sizeof(*out));
	return check_root(out, NULL, root, origin, 0);
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

int ipm_entry_check(struct ipm_entry *out, struct ipm_problems *problems, const char *json,
		    size_t len, const char *origin, unsigned flags)
{
	const char *end = NULL;
	size_t offset;
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root) {
		offset = end && end >= json ? (size_t)(end - json) : 0;
		goto malformed;
	}
	/* trailing garbage after the object is malformed too */
	if (end) {
		const char *s = end;
		while ((size_t)(s - json) < len && strchr(" \t\r\n", *s) && *s)
			s++;
		if ((size_t)(s - json) < len && *s) {
			offset = (size_t)(s - json);
			cJSON_Delete(root);
			goto malformed;
		}
	}
	rc = check_root(out, problems, root, origin, flags);
	cJSON_Delete(root);
	return rc;

malformed: {
		/* one problem: nothing past a syntax error can be trusted */
		struct ipm_problems found = { 0 };
		size_t line, column;
		if (offset > len)
			offset = len;
		ipm_entry_json_position(&line, &column, json, offset);
		ipm_problems_add(&found, NULL, "malformed JSON in '%s' at line %zu, column %zu", origin, line, column);
		return fail(out, problems, &found);
	}
}

int ipm_entry_parse(struct ipm_entry *out, const char *json, size_t len, const char *origin)
{
	return ipm_entry_check(out, NULL, json, len, origin, 0);
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
	dst->size = src->size;
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

/* ---- writing an entry back ---- */

static void add_strings(cJSON *obj, const char *key, char *const *v, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
}

static void add_opt(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
}

char *ipm_entry_to_json(const struct ipm_entry *e, const char *version, const struct ipm_source *source)
{
	cJSON *root = cJSON_CreateObject(), *arr, *rel;
	char *text, *copy;

	cJSON_AddStringToObject(root, "name", e->name);
	cJSON_AddStringToObject(root, "description", e->description ? e->description : "");
	add_opt(root, "homepage", e->homepage);
	add_opt(root, "license", e->license);
	add_opt(root, "repo", e->repo);
	if (e->nkeywords)
		add_strings(root, "keywords", e->keywords, e->nkeywords);
	arr = cJSON_AddArrayToObject(root, "versions");
	rel = cJSON_CreateObject();
	cJSON_AddStringToObject(rel, "version", version);
	if (source->kind == IPM_SOURCE_ARCHIVE) {
		add_opt(rel, "url", source->url);
		add_opt(rel, "sha256", source->sha256);
		if (source->size)
			cJSON_AddNumberToObject(rel, "size", (double)source->size);
	} else {
		/* a "self" source is written resolved: the lock file must not
		 * depend on which registry holds it */
		add_opt(rel, "git", source->git ? source->git : "self");
		add_opt(rel, "commit", source->commit);
		add_opt(rel, "tag", source->tag);
	}
	add_opt(rel, "subdir", source->subdir);
	cJSON_AddItemToArray(arr, rel);
	if (e->nrequires) {
		arr = cJSON_AddArrayToObject(root, "requires");
		for (size_t i = 0; i < e->nrequires; i++) {
			const struct ipm_require *r = &e->requires[i];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "tool", r->tool);
			add_opt(o, "version", r->constraint);
			if (r->nhints) {
				cJSON *h = cJSON_AddObjectToObject(o, "hints");
				for (size_t k = 0; k < r->nhints; k++)
					cJSON_AddStringToObject(h, r->hints[k].os, r->hints[k].command);
			}
			cJSON_AddItemToArray(arr, o);
		}
	}
	if (e->ndepends) {
		arr = cJSON_AddArrayToObject(root, "depends");
		for (size_t i = 0; i < e->ndepends; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", e->depends[i].name);
			add_opt(o, "version", e->depends[i].constraint);
			cJSON_AddItemToArray(arr, o);
		}
	}
	arr = cJSON_AddArrayToObject(root, "methods");
	for (size_t i = 0; i < e->nmethods; i++) {
		const struct ipm_method *m = &e->methods[i];
		cJSON *o = cJSON_CreateObject();
		add_opt(o, "name", m->name);
		add_strings(o, "build", m->build, m->nbuild);
		add_strings(o, "install", m->install, m->ninstall);
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	copy = xstrdup(text);
	cJSON_free(text);
	return copy;
}
