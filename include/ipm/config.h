#ifndef IPM_CONFIG_H
#define IPM_CONFIG_H
#include <stddef.h>
/*
 * Where things live, and the user's configuration.
 *
 * Paths (each overridable by environment, which the tests use):
 *   IPM_HOME    $XDG_DATA_HOME/ipm  (~/.local/share/ipm): ipm.db, store/, lock, journal/,
 *               build/ (source trees being built: state of this home, under its lock)
 *   IPM_PREFIX  ~/.local (or config "prefix", or --prefix): where files are linked
 *   IPM_CACHE   $XDG_CACHE_HOME/ipm (~/.cache/ipm): downloads/, git/, registries/, logs/
 *   IPM_CONFIG  $XDG_CONFIG_HOME/ipm/config.json
 *   IPM_REGISTRY  overrides the bundled registry directory; otherwise it is
 *               <dir of the ipm binary>/../registry (build tree) or
 *               <dir of the ipm binary>/../share/ipm/registry (installed).
 *
 * config.json:
 *   { "prefix": "/opt/ipm", "jobs": 4,
 *     "registries": [ { "name": "team", "url": "https://example.org/index.json" } ],
 *     "mirrors": [ "https://github.com/=file:///srv/mirror/" ] }
 * The bundled registry is always configured, under the name "bundled", and is
 * consulted last; the others in the order the config lists them.
 */

struct ipm_mirror {
	char *from;   /* URL prefix */
	char *to;
};

enum ipm_registry_kind {
	IPM_REGISTRY_LOCAL,  /* a directory holding packages/<name>.json */
	IPM_REGISTRY_GIT,    /* a git repository with that directory layout */
	IPM_REGISTRY_HTTP,   /* an index document (URL ending in .json) */
};

struct ipm_registry_conf {
	char *name;
	char *url;     /* path for LOCAL */
	enum ipm_registry_kind kind;
};

struct ipm_config {
	char *home;
	char *prefix;
	char *cache;
	char *config_path;
	char *bundled_registry;   /* NULL when it cannot be found */
	int jobs;
	struct ipm_registry_conf *registries;  /* user ones in order, then "bundled" */
	size_t nregistries;
	struct ipm_mirror *mirrors;            /* IPM_MIRRORS first, then the config's */
	size_t nmirrors;
};

/*
 * Fills cfg from the environment and the config file. argv0 locates the
 * bundled registry; prefix_override (--prefix) wins over everything.
 * A malformed config file is IPM_EINVAL naming the file and position.
 */
int ipm_config_load(struct ipm_config *cfg, const char *argv0, const char *prefix_override);
void ipm_config_release(struct ipm_config *cfg);

/* Kind of a registry URL: an existing directory is LOCAL, a URL ending in
 * ".json" is HTTP, another absolute path LOCAL, anything else GIT. */
enum ipm_registry_kind ipm_registry_kind_of(const char *url);

/* Adds or removes a user registry and rewrites the config file atomically.
 * "bundled" cannot be added or removed; names are [a-z0-9][a-z0-9._-]*. */
int ipm_config_registry_add(struct ipm_config *cfg, const char *name, const char *url);
int ipm_config_registry_remove(struct ipm_config *cfg, const char *name);

/* Parses "FROM=TO FROM=TO ..." (IPM_MIRRORS syntax) and appends to *list. */
int ipm_mirrors_parse(struct ipm_mirror **list, size_t *n, const char *spec);
/* The URL with the longest matching FROM prefix replaced by its TO; a copy of
 * url when none matches. Caller frees. */
char *ipm_mirrors_apply(const struct ipm_mirror *list, size_t n, const char *url);
#endif
