#ifndef IPM_INSTALL_H
#define IPM_INSTALL_H
#include <stddef.h>
#include "ctx.h"
#include "entry.h"
/*
 * Installing and removing.
 *
 * Store: $IPM_HOME/store/<name>/<version> holds a package's installed tree.
 * Recipes build for the real prefix (IPM_PREFIX) and install under an empty
 * staging directory (DESTDIR); the staged $DESTDIR$IPM_PREFIX becomes the
 * store tree (see stage.h), so no installed file names the store. Links:
 * every file of the store tree is symlinked into the prefix at the same
 * relative path; directories are created as needed and recorded when ipm
 * created them. Installed programs and libraries find each other through
 * the prefix (RUNPATH $IPM_PREFIX/lib), so an upgrade of a library is seen
 * by every dependent at once.
 *
 * Atomicity: nothing is visible until the commit step, which writes a journal
 * ($IPM_HOME/journal/<name>.json: store dir and links), creates the links,
 * writes the database rows in one transaction and deletes the journal.
 * ipm_recover undoes whatever an interrupted run left half done.
 */

struct ipm_bincache_choice;
struct ipm_plan_item {
	struct ipm_entry entry;
	const struct ipm_release *release;   /* points into entry */
	struct ipm_source source;            /* release's source, SELF resolved */
	char *registry;
	const struct ipm_method *method;     /* --method, or NULL: try each in order */
	int explicit_install;                /* named by the user */
	int installed;                       /* this version is installed already */
	int rebuild;                         /* installed, but built again: a dependency changes */
	char *guessed_entry;                 /* no registry knew it: the entry JSON ipm guessed, else NULL */
	char *guessed_note;                  /* "recipe guessed from CMakeLists.txt at v1.2 (commit ...)" */
	struct ipm_bincache_choice *bincache;   /* build key and binary source (bincache.h), or NULL */
};

struct ipm_plan {
	struct ipm_plan_item *items;   /* dependencies before dependents */
	size_t n;
};

/*
 * Resolves specs (NAME, NAME@CONSTRAINT, owner/repo, a repository URL,
 * github:owner/repo, a local git repository, PATH/entry.json; see
 * ipm/repo.h) and their depends into an ordered plan. A repository that no
 * registry knows gets a guessed entry (ipm_repo_guess): its item carries
 * guessed_entry and guessed_note, for the caller to show and confirm.
 * Errors: unknown package (with "did you mean"), no release satisfying a
 * constraint (naming who asked), a dependency cycle (naming the packages in
 * it), unknown --method, a repository that cannot be fetched or whose build
 * system is not recognised.
 */
int ipm_plan_build(struct ipm_plan *out, struct ipm_ctx *ctx, const char *const *specs,
		   size_t nspecs, const char *method);
void ipm_plan_release(struct ipm_plan *plan);

/* Checks every `requires` tool of the items to install: missing or too old
 * is IPM_ENOTFOUND naming the tool and package, with the install command for
 * this OS as hint. */
int ipm_plan_check_requires(struct ipm_ctx *ctx, const struct ipm_plan *plan);
/* The same for a dry run, which runs nothing from an entry: only that each
 * tool is on PATH; a version constraint is left to the real install (it
 * runs `TOOL --version`). */
int ipm_plan_find_requires(struct ipm_ctx *ctx, const struct ipm_plan *plan);

/* With "sandbox": "required" in the config, IPM_EINVAL (with a hint) when
 * bubblewrap cannot contain recipe steps here; else 0. ipm_plan_run checks
 * it too. */
int ipm_plan_check_sandbox(struct ipm_ctx *ctx);

/* Fetches every source, then builds and commits each item in order. A failing
 * step is IPM_EBUILD with the step, its exit status, the last lines of its
 * output and the log path in the message. */
int ipm_plan_run(struct ipm_ctx *ctx, const struct ipm_plan *plan);

/* Checks that each name is installed and (unless force) has no installed
 * dependents outside names; errors name them. Changes nothing. */
int ipm_remove_check(struct ipm_ctx *ctx, const char *const *names, size_t n, int force);
/* Removes the package's links, directories it created that became empty, its
 * store tree and its rows. A link that cannot be removed (its directory is
 * not writable) is an error before anything changes. */
int ipm_remove(struct ipm_ctx *ctx, const char *name);

/* Cleans what an interrupted install or remove left (journal replay) and
 * old build trees. What cannot be cleaned (a directory that is not
 * writable) is a warning, and its journal stays for the next run; a later
 * install or remove of that package is refused until then. Returns 0. */
int ipm_recover(struct ipm_ctx *ctx);
#endif
