#ifndef IPM_ENTRY_H
#define IPM_ENTRY_H
#include <stddef.h>
/*
 * A registry entry: one package, as described by registry/packages/<name>.json
 * (format in man/ipm-registry.5 and registry/schema.json).
 */

enum ipm_source_kind {
	IPM_SOURCE_GIT,      /* git URL + full commit id (+ tag) */
	IPM_SOURCE_ARCHIVE,  /* archive URL + sha256 */
	IPM_SOURCE_SELF,     /* the repository that holds the registry itself;
	                        git and commit are filled in when it is resolved
	                        (ipm_registry_resolve_self) */
};

struct ipm_source {
	enum ipm_source_kind kind;
	char *git;       /* GIT, SELF once resolved */
	char *commit;    /* 40 hex; GIT, SELF once resolved */
	char *tag;       /* optional */
	char *url;       /* ARCHIVE */
	char *sha256;    /* ARCHIVE, 64 hex */
	unsigned long long size;  /* ARCHIVE, optional: length in bytes, 0 when not declared */
	char *subdir;    /* optional: build in this subdirectory of the source */
};

struct ipm_release {
	char *version;
	struct ipm_source source;
};

struct ipm_hint {
	char *os;        /* "debian", "fedora", "macos", "alpine", "arch", ... */
	char *command;
};

struct ipm_require {
	char *tool;        /* a program that must be on PATH */
	char *constraint;  /* version constraint on `tool --version`, or NULL */
	struct ipm_hint *hints;
	size_t nhints;
};

struct ipm_depend {
	char *name;
	char *constraint;  /* NULL means any */
};

struct ipm_method {
	char *name;
	char **build;      /* shell steps, run in the source directory */
	size_t nbuild;
	char **install;
	size_t ninstall;
};

struct ipm_entry {
	char *name;
	char *description;
	char *homepage;
	char *license;
	char *repo;        /* "owner/repo" or NULL */
	char **keywords;
	size_t nkeywords;
	struct ipm_release *releases;   /* newest first after parsing */
	size_t nreleases;
	struct ipm_require *requires;
	size_t nrequires;
	struct ipm_depend *depends;
	size_t ndepends;
	struct ipm_method *methods;
	size_t nmethods;
};

/*
 * Parses and validates one entry. origin names the data in messages (a file
 * path). On error returns IPM_EINVAL with a message naming origin and, for
 * malformed JSON, the line and column; *out is then released.
 */
int ipm_entry_parse(struct ipm_entry *out, const char *json, size_t len, const char *origin);
int ipm_entry_load(struct ipm_entry *out, const char *path);
void ipm_entry_release(struct ipm_entry *e);
/* The same rules for an entry already parsed by cJSON (an HTTP registry's
 * index holds many): root is a cJSON object. */
struct cJSON;
int ipm_entry_from_cjson(struct ipm_entry *out, const struct cJSON *root, const char *origin);
/* 1 when name follows the rules of a package name (lower-case letters,
 * digits and . _ + -, at most 64 characters, not ending in .json). */
int ipm_entry_name_valid(const char *name);
/* A registry's entry file must be named <name>.json (IPM_EINVAL otherwise). */
int ipm_entry_check_filename(const struct ipm_entry *e, const char *path);
/* 1-based line and column (in characters) of byte offset in text, for
 * "malformed JSON ... at line L, column C" messages. */
void ipm_entry_json_position(size_t *line, size_t *column, const char *text, size_t offset);

/*
 * Every problem of an entry, not just the first (ipm registry check prints one
 * line per problem). message is worded like the error install gives, naming
 * the file and the field: "field 'versions[0].commit' in 'x.json' must be a
 * full commit id of 40 hex digits"; hint (may be NULL) says what to do.
 */
struct ipm_problem {
	char *message;
	char *hint;
};
struct ipm_problems {
	struct ipm_problem *items;
	size_t n;
	size_t alloc;
};
void ipm_problems_add(struct ipm_problems *list, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ipm_problems_release(struct ipm_problems *list);

/*
 * Rules for entries published in a public registry, on top of those every
 * entry follows (ipm_entry_parse, which already checks that a "license"
 * present is an SPDX expression): a "license" is required, every URL
 * (versions[].git except "self", versions[].url, homepage) is https:// without
 * credentials, every "requires" tool has an install hint. Local and private
 * entries may use file://, http:// and bare paths.
 */
#define IPM_ENTRY_PUBLIC 1u

/*
 * ipm_entry_parse, collecting every problem into *problems (appended) instead
 * of stopping at the first. Returns 0 with *out filled when there is none;
 * otherwise IPM_EINVAL with the first problem in the error slot and *out
 * released. ipm_entry_parse(out, ...) is ipm_entry_check(out, NULL, ..., 0):
 * one set of rules, so an entry that passes check always installs.
 * Problems come in file order for an entry written in the usual field order
 * (an object's unknown and duplicate keys first); malformed JSON is one
 * problem. problems may be NULL.
 */
int ipm_entry_check(struct ipm_entry *out, struct ipm_problems *problems, const char *json,
		    size_t len, const char *origin, unsigned flags);

/* The newest release satisfying constraint (NULL: newest), or NULL. */
const struct ipm_release *ipm_entry_find_release(const struct ipm_entry *e, const char *constraint);
/* The method named name (NULL: the first), or NULL. */
const struct ipm_method *ipm_entry_find_method(const struct ipm_entry *e, const char *name);

void ipm_source_copy(struct ipm_source *dst, const struct ipm_source *src);
void ipm_source_release(struct ipm_source *s);
/* e as JSON that ipm_entry_parse reads back: every field, but only one
 * release, `version` from `source` (a "self" source resolved: its git URL
 * and commit). What a lock file and the database keep of an installed
 * package. Caller frees. */
char *ipm_entry_to_json(const struct ipm_entry *e, const char *version, const struct ipm_source *source);
/* "git <url> @ <commit>" / "<url> sha256:<hex>", for plans and `ipm list`. */
char *ipm_source_describe(const struct ipm_source *s);
#endif
