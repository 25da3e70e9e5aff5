#ifndef IPM_INSTALL_H
#define IPM_INSTALL_H
#include <stddef.h>
#include <stdint.h>
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
 * Atomicity: a plan (install of several packages, removal of several,
 * rollback) is one transaction (see txn.h): each package is built into a
 * fresh store tree and linked at once (its dependents build against the
 * prefix), and the database rows of all of them are written in one SQLite
 * transaction together with the plan's history entry. A failure, Ctrl-C or
 * a kill before that point restores the previous links, rows and store
 * trees exactly (ipm_recover does it for a killed run). Old store trees
 * stay after an upgrade or removal, for rollback; `ipm clean` deletes them.
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
	char *old_version;                   /* the version installed now, or NULL */
	char *source_note;                   /* why the entry is not the registry's (import), or NULL */
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

/*
 * A package wanted at one exact version, as `ipm upgrade` and `ipm import`
 * ask: the plan holds each at that version (a dependency of one that
 * another names is taken at the named version), with its explicit flag
 * as given rather than "named by the user".
 */
struct ipm_plan_want {
	const char *name;
	const char *version;
	int explicit_install;
	const char *registry;    /* the registry to ask first, or NULL */
	const char *method;      /* the install method to use when the entry has it, or NULL */
	/* For import: the commit (git) or sha256 (archive) that must be
	 * installed, and the entry to build it from when no registry offers
	 * that release any more (ipm_entry_to_json's form); else NULL. */
	const char *resolved;
	const char *entry_json;
};
/* ipm_plan_build for wants. Errors as ipm_plan_build's, and a want whose
 * release no registry offers and that carries no entry_json (or one that
 * does not give that release) is IPM_ENOTFOUND. */
int ipm_plan_build_exact(struct ipm_plan *out, struct ipm_ctx *ctx, const struct ipm_plan_want *wants,
			 size_t nwants);


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

/* What became of each item of a plan run (ipm_plan_execute). */
enum ipm_item_outcome {
	IPM_ITEM_PENDING,     /* not reached: an earlier item failed */
	IPM_ITEM_SKIPPED,     /* installed already */
	IPM_ITEM_BUILT,       /* (during the run) built and linked, not committed yet */
	IPM_ITEM_INSTALLED,   /* committed */
	IPM_ITEM_FAILED,      /* this one failed (or was interrupted) */
	IPM_ITEM_UNDONE,      /* built and linked, then undone with the plan */
	IPM_ITEM_CANCELLED,   /* its build was running when another failed, and was stopped */
};
#define IPM_PLAN_NONE_FAILED ((size_t)-1)
struct ipm_plan_outcome {
	enum ipm_item_outcome *items;   /* one per plan item */
	size_t failed;                  /* the item that failed, or IPM_PLAN_NONE_FAILED */
	char *reason;                   /* the failure's message, or NULL */
	int64_t txn;                    /* its number in history once committed, else 0 */
};
void ipm_plan_outcome_release(struct ipm_plan_outcome *o);

/* Fetches every item's source, or its binary when a binary cache has it
 * (several at a time, IPM_FETCH_JOBS), and builds each item in a worker
 * process as soon as its own fetch is done and its dependencies in the
 * plan are linked, while other fetches still run (independent items at the
 * same time, sharing ctx->cfg.jobs), linking each when it is built, then
 * commits them all as one transaction (history records ctx->command_line).
 * The first failure, a fetch's or a build's, cancels the fetches and
 * builds still running (IPM_ITEM_CANCELLED).
 * A failing step is IPM_EBUILD with the step, its exit status, the last
 * lines of its output and the log path in the message; Ctrl-C is
 * IPM_ECANCEL; either way nothing of the plan stays. out (may be NULL):
 * each item's outcome, filled also on failure; release it. */
int ipm_plan_execute(struct ipm_ctx *ctx, const struct ipm_plan *plan, struct ipm_plan_outcome *out);
/* ipm_plan_execute without the outcome. */
int ipm_plan_run(struct ipm_ctx *ctx, const struct ipm_plan *plan);

/* Removes each of names (see ipm_remove_check first) in an order where a
 * package goes before the packages it depends on; stops at the first error. */
int ipm_remove_set(struct ipm_ctx *ctx, const char *const *names, size_t n);

/* Checks that each name is installed and (unless force) has no installed
 * dependents outside names; errors name them. Changes nothing. */
int ipm_remove_check(struct ipm_ctx *ctx, const char *const *names, size_t n, int force);
/*
 * Removes the packages as one transaction: every link of each (and the
 * directories ipm created that became empty), then all their rows and the
 * history entry at once. A link that cannot be removed (its directory is
 * not writable) is an error before anything changes; a failure or Ctrl-C
 * later puts every link back. Store trees stay (rollback relinks them;
 * `ipm clean` deletes them). Dependents are not checked: see
 * ipm_remove_check.
 */
int ipm_remove_set(struct ipm_ctx *ctx, const char *const *names, size_t n);
/* ipm_remove_set of one package. */
int ipm_remove(struct ipm_ctx *ctx, const char *name);

/* Finishes or undoes what an interrupted ipm left (see txn.h) and deletes
 * old build trees. What cannot be cleaned (a directory that is not
 * writable) is a warning, and its journal stays for the next run; a later
 * change of those packages is refused until then. Returns 0. */
int ipm_recover(struct ipm_ctx *ctx);
#endif
