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
 *     "registries": [ { "name": "team", "url": "https://example.org/index.json",
 *                       "key": "RW...", "insecure": false } ],
 *     "mirrors": [ "https://github.com/=file:///srv/mirror/" ],
 *     "ca_file": "/etc/ipm/corp-ca.pem" }
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
	/* trust (see ipm-registry(5), "Signed indexes"): "key", the pinned
	 * minisign public key ("RW...") that the index must be signed with, NULL
	 * when none; "insecure": true allows plain http:// (and ftp://, git://)
	 * for the registry and the sources of its packages */
	char *key;
	int insecure;
};

/* ---- resource limits: "timeouts" and "limits" in config.json ---- */
/*
 *   "timeouts": { "connect": 30, "low_speed_time": 30, "low_speed_limit": 1024,
 *                 "total": 3600 }
 *   "limits": { "download_bytes": 2147483648, "index_bytes": 134217728,
 *               "extract_bytes": 4294967296, "extract_ratio": 200 }
 * Every download (libcurl) and git fetch (libgit2) gives up when it cannot
 * connect within "connect" seconds, when it moves fewer than
 * "low_speed_limit" bytes a second for "low_speed_time" seconds, or when it
 * runs longer than "total" seconds. A download stops at "download_bytes"
 * (or at an archive release's declared "size"), a registry index at
 * "index_bytes"; extracting an archive stops past "extract_bytes", or past
 * "extract_ratio" times the archive's own size once over 64 MiB. Seconds may
 * be fractional; 0 turns a limit off. Each failure names the key to raise.
 */
struct ipm_limits {
	long connect_ms;
	long total_ms;
	long low_speed_ms;
	long low_speed_bytes;           /* per second */
	unsigned long long download_bytes;
	unsigned long long index_bytes;
	unsigned long long extract_bytes;
	unsigned long long extract_ratio;
	const char *config_path;        /* named in hints (not owned; may be NULL) */
};
/* The defaults above; what a fetch context without limits uses. */
extern const struct ipm_limits ipm_limits_default;
/* Below this many extracted bytes the ratio limit does not apply: a small
 * archive of repetitive text may well be far smaller than its content. */
#define IPM_EXTRACT_RATIO_FLOOR (64ull << 20)
/* Says what to raise: sets the error slot's hint to "raise \"KEY\" in
 * 'CONFIG' (...)" for the config key ("timeouts.total", "limits.index_bytes"). */
void ipm_limits_hint(const struct ipm_limits *limits, const char *key);

/*
 * A binary cache (see bincache.h): config "binary_caches": [ { "url": URL,
 * "key": "RW...", "push": false, "secret_key": PATH, "netrc": PATH,
 * "username": NAME, "password": TEXT } ], and IPM_BINARY_CACHE=URL (with
 * IPM_BINARY_CACHE_KEY=RW...), a pull-only one asked first. A cache without
 * a key is never trusted: it is skipped with a warning. "push": true uploads
 * every build, signed with "secret_key" (a minisign secret key file).
 * Credentials (netrc, username, password) go to libcurl only.
 */
struct ipm_binary_cache_conf {
	char *url;          /* without a trailing '/' */
	char *key;          /* "RW...", or NULL: not trusted, not used */
	int push;
	char *secret_key;   /* path, for push */
	char *netrc;
	char *username;
	char *password;
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
	/* recipe containment (see sandbox.h): "sandbox" is "auto" (bubblewrap
	 * when it works, else steps run uncontained, said in the plan),
	 * "required" (never run a step uncontained) or "off"; "step_timeout"
	 * in seconds (default 3600) */
	enum ipm_sandbox_mode { IPM_SANDBOX_AUTO, IPM_SANDBOX_REQUIRED, IPM_SANDBOX_OFF } sandbox;
	int step_timeout;
	/* resource limits: "timeouts" and "limits" (struct ipm_limits) */
	struct ipm_limits limits;
	/* "ca_file" (IPM_CA_FILE wins): a PEM file of CA certificates that
	 * https servers must chain to, instead of the system's, for every
	 * download and git fetch; NULL: the system's. ca_file_from is
	 * "IPM_CA_FILE" or the config file's path, for messages */
	char *ca_file;
	const char *ca_file_from;
	/* binary caches: IPM_BINARY_CACHE first, then the config's in order */
	struct ipm_binary_cache_conf *binary_caches;
	size_t nbinary_caches;
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
 * "bundled" cannot be added or removed; names are [a-z0-9][a-z0-9._-]*.
 * key (NULL: none) is a public key as ipm_sign_pubkey_load takes it, stored
 * as "RW..."; it needs an index registry (IPM_EINVAL otherwise). A plain
 * http:// (ftp://, git://) URL is refused unless insecure or a mirror rule
 * matches it (ipm_url_check_transport). */
int ipm_config_registry_add(struct ipm_config *cfg, const char *name, const char *url, const char *key,
			    int insecure);
/* The configured registry called name, or NULL. */
const struct ipm_registry_conf *ipm_config_registry(const struct ipm_config *cfg, const char *name);

/*
 * Whether url may be fetched: 0 for https://, ssh, file:// and local paths,
 * for any URL that one of the user's mirror rules matches (their explicit
 * choice, whatever it rewrites to), and for plain http://, ftp:// and git://
 * when insecure_ok; otherwise IPM_EINVAL "refusing plain <scheme>:// URL
 * '<url>'" (no hint: the caller knows what to suggest).
 */
int ipm_url_check_transport(const struct ipm_config *cfg, const char *url, int insecure_ok);
int ipm_config_registry_remove(struct ipm_config *cfg, const char *name);

/* Parses "FROM=TO FROM=TO ..." (IPM_MIRRORS syntax) and appends to *list. */
int ipm_mirrors_parse(struct ipm_mirror **list, size_t *n, const char *spec);
/* The URL with the longest matching FROM prefix replaced by its TO; a copy of
 * url when none matches. Caller frees. */
char *ipm_mirrors_apply(const struct ipm_mirror *list, size_t n, const char *url);
/* The rule ipm_mirrors_apply would use for url, or NULL when none matches. */
const struct ipm_mirror *ipm_mirrors_match(const struct ipm_mirror *list, size_t n, const char *url);
#endif
