/*
 * Configuration: where things live (environment, XDG defaults), the config
 * file (cJSON), the bundled registry next to the binary, and rewriting the
 * config file for `ipm registry add/remove`.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ipm/buf.h"
#include "ipm/config.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/sign.h"
#include "ipm/xalloc.h"

#define BUNDLED_NAME "bundled"
#define REGISTRY_URL_HINT "give a directory holding packages/, a git URL (https://, ssh://, " \
	"git://, file://) or the URL of an index .json"
#define REGISTRY_NAME_HINT "use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit"

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static char *home_dir(void)
{
	const char *h = env_nonempty("HOME");
	return xstrdup(h ? h : "/");
}

/* $ENV, else $XDG/suffix, else ~/fallback/suffix. */
static char *xdg_path(const char *env, const char *xdg, const char *fallback, const char *suffix)
{
	const char *v = env_nonempty(env);
	char *home = NULL, *out;

	if (v)
		return ipm_path_absolute(v);
	v = env_nonempty(xdg);
	if (v && v[0] == '/')
		return xasprintf("%s/%s", v, suffix);
	home = home_dir();
	out = xasprintf("%s/%s/%s", home, fallback, suffix);
	free(home);
	return out;
}

static char *exe_path(const char *argv0)
{
	char *resolved = NULL;
	const char *path_env;

	resolved = realpath("/proc/self/exe", NULL);
	if (resolved)
		return resolved;
	if (!argv0 || !*argv0)
		return NULL;
	if (strchr(argv0, '/'))
		return realpath(argv0, NULL);
	path_env = getenv("PATH");
	if (!path_env)
		return NULL;
	while (*path_env) {
		size_t n = strcspn(path_env, ":");
		char *candidate = xasprintf("%.*s/%s", (int)n, path_env, argv0);
		if (access(candidate, X_OK) == 0)
			resolved = realpath(candidate, NULL);
		free(candidate);
		if (resolved)
			return resolved;
		path_env += n;
		if (*path_env == ':')
			path_env++;
	}
	return NULL;
}

/* <exe dir>/../registry in the build tree, <exe dir>/../share/ipm/registry
 * once installed. */
static char *find_bundled_registry(const char *argv0)
{
	const char *over = env_nonempty("IPM_REGISTRY");
	char *exe = NULL, *slash, *candidate = NULL, *out = NULL;

	if (over)
		return ipm_path_absolute(over);
	exe = exe_path(argv0);
	if (!exe)
		goto done;
	slash = strrchr(exe, '/');
	if (!slash)
		goto done;
	*slash = '\0';

	candidate = xasprintf("%s/../registry/packages", exe);
	if (ipm_is_dir(candidate)) {
		free(candidate);
		candidate = xasprintf("%s/../registry", exe);
		out = realpath(candidate, NULL);
		goto done;
	}
	free(candidate);
	candidate = xasprintf("%s/../share/ipm/registry", exe);
	if (ipm_is_dir(candidate))
		out = realpath(candidate, NULL);
done:
	free(candidate);
	free(exe);
	return out;
}

enum ipm_registry_kind ipm_registry_kind_of(const char *url)
{
	size_t len = strlen(url);

	if (ipm_is_dir(url))
		return IPM_REGISTRY_LOCAL;
	if (len >= 5 && strcmp(url + len - 5, ".json") == 0)
		return IPM_REGISTRY_HTTP;
	/* A configured directory that went away stays a local registry (and
	 * is reported missing), not a git URL that fails to fetch. */
	if (url[0] == '/')
		return IPM_REGISTRY_LOCAL;
	return IPM_REGISTRY_GIT;
}

/* Line and column (1-based) of pos in text, for JSON error messages. */
static void text_position(const char *text, const char *pos, int *line, int *col)
{
	const char *p;

	*line = 1;
	*col = 1;
	if (!pos)
		return;
	for (p = text; *p && p < pos; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Parses the config file; a missing file is an empty configuration (*out NULL). */
static int config_file_parse(cJSON **out, const char *path)
{
	char *text = NULL;
	const char *end = NULL;
	cJSON *root = NULL;
	int rc = 0, line, col;

	*out = NULL;
	if (!ipm_path_exists(path))
		return 0;
	rc = ipm_file_read(&text, NULL, path);
	if (rc < 0)
		goto done;
	root = cJSON_ParseWithOpts(text, &end, 0);
	if (!root) {
		text_position(text, end ? end : cJSON_GetErrorPtr(), &line, &col);
		rc = ipm_error_set(IPM_EINVAL, "'%s': malformed JSON at line %d, column %d",
				   path, line, col);
		ipm_error_hint("fix or remove the configuration file");
		goto done;
	}
	if (!cJSON_IsObject(root)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s': the configuration must be a JSON object", path);
		ipm_error_hint("see the FILES section of ipm(1)");
		goto done;
	}
	*out = root;
	root = NULL;
done:
	cJSON_Delete(root);
	free(text);
	return rc;
}

static void registry_conf_release(struct ipm_registry_conf *r)
{
	free(r->name);
	free(r->url);
	free(r->key);
	r->name = r->url = r->key = NULL;
}

static void registries_push(struct ipm_config *cfg, size_t *alloc, const char *name,
			    const char *url, enum ipm_registry_kind kind)
{
	struct ipm_registry_conf *r;

	XGROW(cfg->registries, *alloc, cfg->nregistries + 1);
	r = &cfg->registries[cfg->nregistries++];
	r->name = xstrdup(name);
	r->url = xstrdup(url);
	r->kind = kind;
	r->key = NULL;
	r->insecure = 0;
}

static int registry_name_valid(const char *name);

static int bad_field(const char *path, const char *field, const char *what)
{
	int rc = ipm_error_set(IPM_EINVAL, "'%s': '%s' must be %s", path, field, what);
	ipm_error_hint("see the FILES section of ipm(1)");
	return rc;
}

static int registry_trust_apply(struct ipm_registry_conf *r, const cJSON *el, const char *path);
static int limits_apply(struct ipm_limits *limits, const cJSON *root, const char *path);
static int binary_caches_apply(struct ipm_config *cfg, const cJSON *root, const char *path);

static int config_apply_file(struct ipm_config *cfg, const cJSON *root, int prefix_fixed,
			     size_t *reg_alloc)
{
	const cJSON *item, *el;
	const char *path = cfg->config_path;
	int rc;

	item = cJSON_GetObjectItemCaseSensitive(root, "prefix");
	if (item) {
		if (!cJSON_IsString(item) || !*item->valuestring)
			return bad_field(path, "prefix", "a non-empty string");
		if (!prefix_fixed) {
			free(cfg->prefix);
			cfg->prefix = ipm_path_absolute(item->valuestring);
		}
	}
	item = cJSON_GetObjectItemCaseSensitive(root, "jobs");
	if (item) {
		if (!cJSON_IsNumber(item) || item->valuedouble < 1 || item->valuedouble > 1024)
			return bad_field(path, "jobs", "a number from 1 to 1024");
		cfg->jobs = item->valueint;
	}
	/* recipe containment */
	item = cJSON_GetObjectItemCaseSensitive(root, "sandbox");
	if (item) {
		static const char *const modes[] = { "auto", "required", "off" };
		size_t m = 0;
		while (cJSON_IsString(item) && m < 3 && strcmp(item->valuestring, modes[m]) != 0)
			m++;
		if (!cJSON_IsString(item) || m == 3)
			return bad_field(path, "sandbox", "\"auto\", \"required\" or \"off\"");
		cfg->sandbox = (enum ipm_sandbox_mode)m;
	}
	item = cJSON_GetObjectItemCaseSensitive(root, "step_timeout");
	if (item) {
		if (!cJSON_IsNumber(item) || item->valuedouble < 1 || item->valuedouble > 7 * 24 * 3600)
			return bad_field(path, "step_timeout", "a number of seconds from 1 to 604800");
		cfg->step_timeout = item->valueint;
	}
	item = cJSON_GetObjectItemCaseSensitive(root, "registries");
	if (item) {
		if (!cJSON_IsArray(item))
			return bad_field(path, "registries", "an array of {\"name\", \"url\"} objects");
		cJSON_ArrayForEach(el, item) {
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(el, "name");
			const cJSON *url = cJSON_GetObjectItemCaseSensitive(el, "url");
			if (!cJSON_IsString(name) || !cJSON_IsString(url) || !*url->valuestring)
				return bad_field(path, "registries", "an array of {\"name\", \"url\"} objects");
			if (strcmp(name->valuestring, BUNDLED_NAME) == 0)
				continue;
			/* The name keys the registry's rows in the database:
			 * a bad or repeated one would mix registries up. */
			if (!registry_name_valid(name->valuestring)) {
				rc = ipm_error_set(IPM_EINVAL, "'%s': invalid registry name '%s'", path,
						   name->valuestring);
				ipm_error_hint(REGISTRY_NAME_HINT);
				return rc;
			}
			for (size_t i = 0; i < cfg->nregistries; i++) {
				if (strcmp(cfg->registries[i].name, name->valuestring) == 0) {
					rc = ipm_error_set(IPM_EINVAL, "'%s': registry '%s' is listed twice",
							   path, name->valuestring);
					ipm_error_hint("keep one of them");
					return rc;
				}
			}
			registries_push(cfg, reg_alloc, name->valuestring, url->valuestring,
					ipm_registry_kind_of(url->valuestring));
			if ((rc = registry_trust_apply(&cfg->registries[cfg->nregistries - 1], el, path)) < 0)
				return rc;
		}
	}
	item = cJSON_GetObjectItemCaseSensitive(root, "mirrors");
	if (item) {
		if (cJSON_IsString(item)) {
			rc = ipm_mirrors_parse(&cfg->mirrors, &cfg->nmirrors, item->valuestring);
			if (rc < 0)
				goto mirror_error;
		} else if (cJSON_IsArray(item)) {
			cJSON_ArrayForEach(el, item) {
				if (!cJSON_IsString(el))
					return bad_field(path, "mirrors", "an array of \"FROM=TO\" strings");
				rc = ipm_mirrors_parse(&cfg->mirrors, &cfg->nmirrors, el->valuestring);
				if (rc < 0)
					goto mirror_error;
			}
		} else {
			return bad_field(path, "mirrors", "an array of \"FROM=TO\" strings");
		}
	}
	if ((rc = limits_apply(&cfg->limits, root, path)) < 0)
		return rc;
	if ((rc = binary_caches_apply(cfg, root, path)) < 0)
		return rc;
	/* absolute: relative to what would be a guess (the config file's
	 * directory, or wherever ipm happens to run) */
	item = cJSON_GetObjectItemCaseSensitive(root, "ca_file");
	if (item) {
		if (!cJSON_IsString(item) || item->valuestring[0] != '/')
			return bad_field(path, "ca_file", "the absolute path of a PEM file of CA certificates");
		if (!cfg->ca_file) {   /* IPM_CA_FILE wins */
			cfg->ca_file = xstrdup(item->valuestring);
			cfg->ca_file_from = cfg->config_path;
		}
	}
	return 0;
mirror_error:
	ipm_error_prefix("'%s'", path);
	return rc;
}

/* ---- binary caches ---- */

/* Appends a cache at url; key_text (NULL or empty: none) must be a minisign
 * public key, named by key_what in the error. Credentials in the URL are
 * refused: they would show wherever the URL does. */
static int binary_cache_push(struct ipm_config *cfg, const char *url, const char *key_text, const char *key_what)
{
	struct ipm_binary_cache_conf *c;
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	size_t len = strlen(url);
	struct ipm_sign_pubkey pk;
	int rc;

	if (strcspn(host, "@/") < strlen(host) && host[strcspn(host, "@/")] == '@') {
		rc = ipm_error_set(IPM_EINVAL, "binary cache URL with credentials in it: they would be shown "
				   "wherever the URL is");
		ipm_error_hint("put them in a netrc file, or in \"username\" and \"password\" of the cache in '%s'",
			       cfg->config_path);
		return rc;
	}
	if (key_text && *key_text && ipm_sign_pubkey_parse(&pk, key_text) < 0) {
		ipm_error_clear();
		rc = ipm_error_set(IPM_EINVAL, "%s: not a minisign public key", key_what);
		ipm_error_hint("write it as minisign prints it: RW... (the second line of the .pub file)");
		return rc;
	}
	cfg->binary_caches = xrealloc(cfg->binary_caches, (cfg->nbinary_caches + 1) * sizeof(*cfg->binary_caches));
	c = &cfg->binary_caches[cfg->nbinary_caches++];
	memset(c, 0, sizeof(*c));
	while (len > 1 && url[len - 1] == '/')
		len--;
	c->url = xstrndup(url, len);
	if (key_text && *key_text)
		c->key = ipm_sign_pubkey_base64(&pk);
	return 0;
}

static int binary_caches_apply(struct ipm_config *cfg, const cJSON *root, const char *path)
{
	static const char *const strings[] = { "secret_key", "netrc", "username", "password" };
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "binary_caches");
	const cJSON *el;
	int rc;

	if (!item)
		return 0;
	if (!cJSON_IsArray(item))
		return bad_field(path, "binary_caches", "an array of {\"url\", \"key\"} objects");
	cJSON_ArrayForEach(el, item) {
		const cJSON *url = cJSON_GetObjectItemCaseSensitive(el, "url");
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(el, "key");
		const cJSON *push = cJSON_GetObjectItemCaseSensitive(el, "push");
		struct ipm_binary_cache_conf *c;

		if (!cJSON_IsString(url) || !*url->valuestring)
			return bad_field(path, "binary_caches", "an array of {\"url\", \"key\"} objects");
		if (key && !cJSON_IsNull(key) && !cJSON_IsString(key))
			return bad_field(path, "binary_caches[].key", "a minisign public key \"RW...\"");
		if (push && !cJSON_IsBool(push))
			return bad_field(path, "binary_caches[].push", "true or false");
		for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(el, strings[i]);
			if (v && !cJSON_IsString(v)) {
				char *field = xasprintf("binary_caches[].%s", strings[i]);
				rc = bad_field(path, field, "a string");
				free(field);
				return rc;
			}
		}
		if ((rc = binary_cache_push(cfg, url->valuestring, cJSON_IsString(key) ? key->valuestring : NULL,
					    "binary_caches[].key")) < 0) {
			ipm_error_prefix("'%s'", path);
			return rc;
		}
		c = &cfg->binary_caches[cfg->nbinary_caches - 1];
		c->push = cJSON_IsTrue(push);
		c->secret_key = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(el, "secret_key")));
		c->netrc = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(el, "netrc")));
		c->username = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(el, "username")));
		c->password = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(el, "password")));
		if (c->push && (!c->secret_key || !c->key)) {
			rc = ipm_error_set(IPM_EINVAL, "'%s': binary cache '%s' has \"push\": true, but no %s", path,
					   c->url, !c->key ? "\"key\"" : "\"secret_key\"");
			ipm_error_hint("a pushed build is signed with \"secret_key\" (a minisign secret key file), "
				       "and checked with \"key\", its public key");
			return rc;
		}
	}
	return 0;
}

int ipm_config_load(struct ipm_config *cfg, const char *argv0, const char *prefix_override)
{
	cJSON *root = NULL;
	const char *env;
	size_t reg_alloc = 0;
	long ncpu;
	int rc = 0, prefix_fixed = 0;
	char *home = NULL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->home = xdg_path("IPM_HOME", "XDG_DATA_HOME", ".local/share", "ipm");
	cfg->cache = xdg_path("IPM_CACHE", "XDG_CACHE_HOME", ".cache", "ipm");
	cfg->config_path = xdg_path("IPM_CONFIG", "XDG_CONFIG_HOME", ".config", "ipm/config.json");
	cfg->bundled_registry = find_bundled_registry(argv0);

	/* --prefix wins over IPM_PREFIX, which wins over the config file. */
	if (prefix_override && *prefix_override) {
		cfg->prefix = ipm_path_absolute(prefix_override);
		prefix_fixed = 1;
	} else if ((env = env_nonempty("IPM_PREFIX"))) {
		cfg->prefix = ipm_path_absolute(env);
		prefix_fixed = 1;
	} else {
		home = home_dir();
		cfg->prefix = xasprintf("%s/.local", home);
	}

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->jobs = ncpu > 0 ? (int)ncpu : 1;
	cfg->sandbox = IPM_SANDBOX_AUTO;
	cfg->step_timeout = 3600;
	cfg->limits = ipm_limits_default;
	cfg->limits.config_path = cfg->config_path;

	if ((env = env_nonempty("IPM_CA_FILE"))) {
		cfg->ca_file = ipm_path_absolute(env);
		cfg->ca_file_from = "IPM_CA_FILE";
	}
	env = env_nonempty("IPM_MIRRORS");
	if (env) {
		rc = ipm_mirrors_parse(&cfg->mirrors, &cfg->nmirrors, env);
		if (rc < 0) {
			ipm_error_prefix("IPM_MIRRORS");
			goto done;
		}
	}

	if ((env = env_nonempty("IPM_BINARY_CACHE")) &&
	    (rc = binary_cache_push(cfg, env, getenv("IPM_BINARY_CACHE_KEY"), "IPM_BINARY_CACHE_KEY")) < 0)
		goto done;
	rc = config_file_parse(&root, cfg->config_path);
	if (rc < 0)
		goto done;
	if (root) {
		rc = config_apply_file(cfg, root, prefix_fixed, &reg_alloc);
		if (rc < 0)
			goto done;
	}
	if (cfg->bundled_registry)
		registries_push(cfg, &reg_alloc, BUNDLED_NAME, cfg->bundled_registry,
				IPM_REGISTRY_LOCAL);
done:
	free(home);
	cJSON_Delete(root);
	if (rc < 0)
		ipm_config_release(cfg);
	return rc;
}

void ipm_config_release(struct ipm_config *cfg)
{
	size_t i;

	free(cfg->home);
	free(cfg->prefix);
	free(cfg->cache);
	free(cfg->config_path);
	free(cfg->bundled_registry);
	for (i = 0; i < cfg->nregistries; i++)
		registry_conf_release(&cfg->registries[i]);
	free(cfg->registries);
	for (i = 0; i < cfg->nmirrors; i++) {
		free(cfg->mirrors[i].from);
		free(cfg->mirrors[i].to);
	}
	free(cfg->mirrors);
	for (i = 0; i < cfg->nbinary_caches; i++) {
		struct ipm_binary_cache_conf *c = &cfg->binary_caches[i];
		free(c->url);
		free(c->key);
		free(c->secret_key);
		free(c->netrc);
		free(c->username);
		free(c->password);
	}
	free(cfg->binary_caches);
	free(cfg->ca_file);
	memset(cfg, 0, sizeof(*cfg));
}

static int registry_name_valid(const char *name)
{
	const char *p;

	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return 0;
	for (p = name + 1; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return 0;
	}
	return 1;
}

static int check_user_registry_name(const char *name, const char *verb)
{
	int rc;

	if (strcmp(name, BUNDLED_NAME) == 0) {
		rc = ipm_error_set(IPM_EINVAL, "registry '%s' is built in and cannot be %s",
				   name, verb);
		ipm_error_hint("choose another name");
		return rc;
	}
	if (!registry_name_valid(name)) {
		rc = ipm_error_set(IPM_EINVAL, "invalid registry name '%s'", name);
		ipm_error_hint(REGISTRY_NAME_HINT);
		return rc;
	}
	return 0;
}

static cJSON *registries_array(cJSON *root)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "registries");

	if (!arr) {
		arr = cJSON_CreateArray();
		cJSON_AddItemToObject(root, "registries", arr);
	}
	return cJSON_IsArray(arr) ? arr : NULL;
}

static int config_file_write(const char *path, const cJSON *root)
{
	struct ipm_buf b = IPM_BUF_INIT;
	char *text = NULL, *dir = NULL, *slash;
	int rc;

	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = ipm_mkdir_p(dir, 0755);
		if (rc < 0)
			goto done;
	}
	text = cJSON_Print(root);
	ipm_buf_add(&b, text);
	ipm_buf_addch(&b, '\n');
	rc = ipm_file_write_atomic(path, b.ptr, b.len);
done:
	cJSON_free(text);
	free(dir);
	ipm_buf_release(&b);
	return rc;
}

/* "https" for "https://host/x"; NULL when url has no scheme. */
static char *url_scheme(const char *url)
{
	size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyz0123456789+.-");

	if (n == 0 || strncmp(url + n, "://", 3) != 0)
		return NULL;
	return xstrndup(url, n);
}

/* scp-like git address: [user@]host:path, with no '/' before the ':'. */
static int is_scp_like(const char *url)
{
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');

	return colon && colon != url && colon[1] && (!slash || slash > colon) &&
	       !strstr(url, "://");
}

static int word_listed(const char *word, const char *list)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

static int registry_trust_check(char **stored_key, const struct ipm_config *cfg, const char *name,
				const char *url, enum ipm_registry_kind kind, const char *key, int insecure);

/*
 * Checks that url is a registry ipm can read before it goes into the
 * configuration: a registry there that cannot be read would fail every
 * later `ipm update`. *stored gets the form to record (local paths made
 * absolute).
 */
static int registry_url_check(char **stored, const char *name, const char *url,
			      enum ipm_registry_kind kind)
{
	char *scheme = url_scheme(url), *packages = NULL;
	int rc = 0;

	*stored = NULL;
	if (kind == IPM_REGISTRY_LOCAL && !ipm_is_dir(url)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s': '%s' is not a directory, a git URL "
				   "or an index .json", name, url);
		ipm_error_hint(REGISTRY_URL_HINT);
		goto done;
	} else if (kind == IPM_REGISTRY_LOCAL) {
		packages = xasprintf("%s/packages", url);
		if (!ipm_is_dir(packages)) {
			rc = ipm_error_set(IPM_EINVAL, "'%s' is not an ipm registry: it has no packages directory",
					   url);
			ipm_error_hint("a registry directory holds one packages/<name>.json per package");
			goto done;
		}
		*stored = realpath(url, NULL);
	} else if (scheme) {
		const char *known = kind == IPM_REGISTRY_HTTP ? "http https file ftp ftps"
							       : "http https git ssh file";
		if (!word_listed(scheme, known)) {
			rc = ipm_error_set(IPM_EINVAL, "registry '%s': unsupported URL scheme '%s://'",
					   name, scheme);
			ipm_error_hint("%s registry URLs start with one of: %s",
				       kind == IPM_REGISTRY_HTTP ? "index (.json)" : "git", known);
			goto done;
		}
	} else if (kind == IPM_REGISTRY_HTTP) {
		/* a local index file */
		if (!ipm_path_exists(url)) {
			rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s': '%s' not found", name, url);
			ipm_error_hint("give an existing index file or an http(s):// URL");
			goto done;
		}
		*stored = realpath(url, NULL);
	} else if (!is_scp_like(url)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s': '%s' is not a directory, a git URL "
				   "or an index .json", name, url);
		ipm_error_hint(REGISTRY_URL_HINT);
		goto done;
	}
	if (!*stored)
		*stored = xstrdup(url);
done:
	free(scheme);
	free(packages);
	return rc;
}

int ipm_config_registry_add(struct ipm_config *cfg, const char *name, const char *url, const char *key,
			    int insecure)
{
	cJSON *root = NULL, *arr, *el, *obj;
	char *stored_url = NULL, *stored_key = NULL;
	enum ipm_registry_kind kind;
	size_t i, alloc;
	int rc;

	rc = check_user_registry_name(name, "added");
	if (rc < 0)
		return rc;
	if (!url || !*url)
		return ipm_error_set(IPM_EINVAL, "registry '%s' needs a URL", name);
	for (i = 0; i < cfg->nregistries; i++) {
		if (strcmp(cfg->registries[i].name, name) == 0) {
			rc = ipm_error_set(IPM_EEXISTS, "registry '%s' already exists", name);
			ipm_error_hint("remove it first with 'ipm registry remove %s'", name);
			return rc;
		}
	}
	kind = ipm_registry_kind_of(url);
	/* Local paths are stored absolute so that they mean the same thing
	 * from any working directory. */
	rc = registry_url_check(&stored_url, name, url, kind);
	if (rc < 0)
		goto done;
	if ((rc = registry_trust_check(&stored_key, cfg, name, stored_url, kind, key, insecure)) < 0)
		goto done;

	rc = config_file_parse(&root, cfg->config_path);
	if (rc < 0)
		goto done;
	if (!root)
		root = cJSON_CreateObject();
	arr = registries_array(root);
	if (!arr) {
		rc = bad_field(cfg->config_path, "registries", "an array of {\"name\", \"url\"} objects");
		goto done;
	}
	cJSON_ArrayForEach(el, arr) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(el, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
			rc = ipm_error_set(IPM_EEXISTS, "registry '%s' already exists", name);
			goto done;
		}
	}
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "name", name);
	cJSON_AddStringToObject(obj, "url", stored_url);
	if (stored_key)
		cJSON_AddStringToObject(obj, "key", stored_key);
	if (insecure)
		cJSON_AddTrueToObject(obj, "insecure");
	cJSON_AddItemToArray(arr, obj);
	rc = config_file_write(cfg->config_path, root);
	if (rc < 0)
		goto done;

	/* User registries come before "bundled", which is consulted last. */
	alloc = cfg->nregistries;
	registries_push(cfg, &alloc, name, stored_url, kind);
	cfg->registries[cfg->nregistries - 1].key = stored_key;
	cfg->registries[cfg->nregistries - 1].insecure = insecure;
	stored_key = NULL;
	for (i = cfg->nregistries - 1; i > 0; i--) {
		struct ipm_registry_conf tmp;
		if (strcmp(cfg->registries[i - 1].name, BUNDLED_NAME) != 0)
			break;
		tmp = cfg->registries[i - 1];
		cfg->registries[i - 1] = cfg->registries[i];
		cfg->registries[i] = tmp;
	}
done:
	free(stored_url);
	free(stored_key);
	cJSON_Delete(root);
	return rc;
}

int ipm_config_registry_remove(struct ipm_config *cfg, const char *name)
{
	cJSON *root = NULL, *arr;
	int rc, idx = 0, found = -1;
	const cJSON *el;
	size_t i;

	rc = check_user_registry_name(name, "removed");
	if (rc < 0)
		return rc;
	rc = config_file_parse(&root, cfg->config_path);
	if (rc < 0)
		goto done;
	arr = root ? cJSON_GetObjectItemCaseSensitive(root, "registries") : NULL;
	if (arr && cJSON_IsArray(arr)) {
		cJSON_ArrayForEach(el, arr) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(el, "name");
			if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
				found = idx;
				break;
			}
			idx++;
		}
	}
	if (found < 0) {
		rc = ipm_error_set(IPM_ENOTFOUND, "registry '%s' is not configured", name);
		ipm_error_hint("'ipm registry list' shows the configured registries");
		goto done;
	}
	cJSON_DeleteItemFromArray(arr, found);
	rc = config_file_write(cfg->config_path, root);
	if (rc < 0)
		goto done;
	for (i = 0; i < cfg->nregistries; i++) {
		if (strcmp(cfg->registries[i].name, name) == 0) {
			registry_conf_release(&cfg->registries[i]);
			memmove(&cfg->registries[i], &cfg->registries[i + 1],
				(cfg->nregistries - i - 1) * sizeof(cfg->registries[0]));
			cfg->nregistries--;
			break;
		}
	}
done:
	cJSON_Delete(root);
	return rc;
}

/* ---- trust: pinned keys and plain-text transports ---- */

/* "key" and "insecure" of a registry in the config file. */
static int registry_trust_apply(struct ipm_registry_conf *r, const cJSON *el, const char *path)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(el, "key");
	const cJSON *insecure = cJSON_GetObjectItemCaseSensitive(el, "insecure");
	struct ipm_sign_pubkey pk;
	int rc;

	if (insecure && !cJSON_IsBool(insecure))
		return bad_field(path, "insecure", "true or false");
	r->insecure = cJSON_IsTrue(insecure);
	if (!key || cJSON_IsNull(key))
		return 0;
	if (!cJSON_IsString(key) || ipm_sign_pubkey_parse(&pk, key->valuestring) < 0) {
		ipm_error_clear();
		rc = ipm_error_set(IPM_EINVAL, "'%s': the key of registry '%s' is not a minisign public key",
				   path, r->name);
		ipm_error_hint("write it as minisign prints it: \"key\": \"RW...\"");
		return rc;
	}
	if (r->kind != IPM_REGISTRY_HTTP) {
		rc = ipm_error_set(IPM_EINVAL, "'%s': registry '%s' has a key, but only an index (.json) is signed",
				   path, r->name);
		ipm_error_hint("remove its \"key\", or point it at the registry's signed index");
		return rc;
	}
	r->key = ipm_sign_pubkey_base64(&pk);
	return 0;
}

/* The key and transport of a registry being added: *stored_key is the
 * key as "RW..." (NULL without one). */
static int registry_trust_check(char **stored_key, const struct ipm_config *cfg, const char *name,
				const char *url, enum ipm_registry_kind kind, const char *key, int insecure)
{
	struct ipm_sign_pubkey pk;
	int rc;

	*stored_key = NULL;
	if (key) {
		if (kind != IPM_REGISTRY_HTTP) {
			rc = ipm_error_set(IPM_EINVAL, "registry '%s': --key needs the URL of an index (.json)", name);
			ipm_error_hint("a signed registry is an index built with 'ipm registry build DIR OUT --sign KEY'");
			return rc;
		}
		if ((rc = ipm_sign_pubkey_load(&pk, key)) < 0) {
			ipm_error_prefix("registry '%s'", name);
			return rc;
		}
		*stored_key = ipm_sign_pubkey_base64(&pk);
	}
	if (kind != IPM_REGISTRY_LOCAL && (rc = ipm_url_check_transport(cfg, url, insecure)) < 0) {
		ipm_error_prefix("registry '%s'", name);
		ipm_error_hint("use https://; to accept it on a network you trust, add --insecure");
		free(*stored_key);
		*stored_key = NULL;
		return rc;
	}
	return 0;
}

const struct ipm_registry_conf *ipm_config_registry(const struct ipm_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->nregistries; i++)
		if (!strcmp(cfg->registries[i].name, name))
			return &cfg->registries[i];
	return NULL;
}

int ipm_url_check_transport(const struct ipm_config *cfg, const char *url, int insecure_ok)
{
	/* transports without TLS or ssh: anyone on the path reads and changes them */
	static const char *const plain[] = { "http", "ftp", "git" };

	if (!url || insecure_ok || ipm_mirrors_match(cfg->mirrors, cfg->nmirrors, url))
		return 0;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		size_t n = strlen(plain[i]);
		/* schemes are case-insensitive to curl and libgit2 */
		if (!strncasecmp(url, plain[i], n) && !strncmp(url + n, "://", 3))
			return ipm_error_set(IPM_EINVAL, "refusing plain %s:// URL '%s'", plain[i], url);
	}
	return 0;
}

/* ---- resource limits: "timeouts" and "limits" ---- */

const struct ipm_limits ipm_limits_default = {
	.connect_ms = 30 * 1000,
	.total_ms = 3600 * 1000,
	.low_speed_ms = 30 * 1000,
	.low_speed_bytes = 1024,
	.download_bytes = 2ull << 30,
	.index_bytes = 128ull << 20,
	.extract_bytes = 4ull << 30,
	.extract_ratio = 200,
	.config_path = NULL,
};

void ipm_limits_hint(const struct ipm_limits *limits, const char *key)
{
	const char *dot = strchr(key, '.');
	int group = dot ? (int)(dot - key) : 0;

	if (limits && limits->config_path)
		ipm_error_hint("raise \"%.*s\": { \"%s\": ... } in '%s' (0 turns the limit off)",
			       group, key, dot ? dot + 1 : key, limits->config_path);
	else
		ipm_error_hint("raise \"%.*s\": { \"%s\": ... } in the configuration file (0 turns the limit off)",
			       group, key, dot ? dot + 1 : key);
}

/* A number from 0 to max (inclusive) in the object group, or absent. */
static int limit_number(double *out, const cJSON *group, const char *group_name, const char *key,
			double max, const char *path)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(group, key);
	char *field;
	int rc;

	if (!item)
		return 0;
	if (cJSON_IsNumber(item) && item->valuedouble >= 0 && item->valuedouble <= max) {
		*out = item->valuedouble;
		return 1;
	}
	field = xasprintf("%s.%s", group_name, key);
	rc = bad_field(path, field, "a number, 0 or more (0 turns the limit off)");
	free(field);
	return rc;
}

/* Unknown keys are refused: a misspelt limit would silently not apply. */
static int limit_keys(const cJSON *group, const char *group_name, const char *const *known, const char *path)
{
	for (const cJSON *item = group->child; item; item = item->next) {
		struct ipm_buf list = IPM_BUF_INIT;
		size_t i;
		int rc;

		for (i = 0; known[i] && strcmp(known[i], item->string); i++)
			;
		if (known[i])
			continue;
		for (i = 0; known[i]; i++)
			ipm_buf_addf(&list, "%s%s", i ? ", " : "", known[i]);
		rc = ipm_error_set(IPM_EINVAL, "'%s': unknown field '%s.%s'", path, group_name, item->string);
		ipm_error_hint("\"%s\" takes %s", group_name, list.ptr);
		ipm_buf_release(&list);
		return rc;
	}
	return 0;
}

static int limits_apply(struct ipm_limits *limits, const cJSON *root, const char *path)
{
	static const char *const timeout_keys[] = { "connect", "total", "low_speed_time", "low_speed_limit", NULL };
	static const char *const size_keys[] = { "download_bytes", "index_bytes", "extract_bytes", "extract_ratio", NULL };
	/* a week in seconds, and 2^53 bytes: beyond is a mistake, not a limit */
	const double max_s = 7 * 24 * 3600, max_n = 9007199254740992.0;
	const cJSON *group;
	double v;
	int rc;

	group = cJSON_GetObjectItemCaseSensitive(root, "timeouts");
	if (group) {
		if (!cJSON_IsObject(group))
			return bad_field(path, "timeouts", "an object of seconds: connect, total, low_speed_time "
					 "(and low_speed_limit in bytes a second)");
		if ((rc = limit_keys(group, "timeouts", timeout_keys, path)) < 0)
			return rc;
		if ((rc = limit_number(&v, group, "timeouts", "connect", max_s, path)) < 0)
			return rc;
		if (rc)
			limits->connect_ms = (long)(v * 1000 + 0.5);
		if ((rc = limit_number(&v, group, "timeouts", "total", max_s, path)) < 0)
			return rc;
		if (rc)
			limits->total_ms = (long)(v * 1000 + 0.5);
		if ((rc = limit_number(&v, group, "timeouts", "low_speed_time", max_s, path)) < 0)
			return rc;
		if (rc)
			limits->low_speed_ms = (long)(v * 1000 + 0.5);
		if ((rc = limit_number(&v, group, "timeouts", "low_speed_limit", max_n, path)) < 0)
			return rc;
		if (rc)
			limits->low_speed_bytes = (long)v;
	}
	group = cJSON_GetObjectItemCaseSensitive(root, "limits");
	if (group) {
		if (!cJSON_IsObject(group))
			return bad_field(path, "limits", "an object of sizes in bytes: download_bytes, "
					 "index_bytes, extract_bytes (and extract_ratio)");
		if ((rc = limit_keys(group, "limits", size_keys, path)) < 0)
			return rc;
		if ((rc = limit_number(&v, group, "limits", "download_bytes", max_n, path)) < 0)
			return rc;
		if (rc)
			limits->download_bytes = (unsigned long long)v;
		if ((rc = limit_number(&v, group, "limits", "index_bytes", max_n, path)) < 0)
			return rc;
		if (rc)
			limits->index_bytes = (unsigned long long)v;
		if ((rc = limit_number(&v, group, "limits", "extract_bytes", max_n, path)) < 0)
			return rc;
		if (rc)
			limits->extract_bytes = (unsigned long long)v;
		if ((rc = limit_number(&v, group, "limits", "extract_ratio", max_n, path)) < 0)
			return rc;
		if (rc)
			limits->extract_ratio = (unsigned long long)v;
	}
	return 0;
}
