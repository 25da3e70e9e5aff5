#ifndef IPM_CHECK_H
#define IPM_CHECK_H
#include <stddef.h>
#include "entry.h"
/*
 * Checking registry entries before they are published (ipm registry check).
 *
 * Each entry file is checked with the rules every install uses plus the
 * public-registry ones (ipm_entry_check with IPM_ENTRY_PUBLIC) and its file
 * name (ipm_entry_check_filename); entry.c stays the only place those rules
 * live. What needs the whole registry is checked here: names that users
 * could not tell apart (equal once lower-cased with '_' read as '-'),
 * depends on packages the registry does not have (or on versions it does
 * not have), and dependency cycles.
 *
 * A check set holds the entries of one registry: those being checked, and
 * the rest of the registry as context. Problems are reported only for the
 * checked ones; context entries count for names and depends, their own
 * problems are somebody else's.
 */

struct ipm_check_item {
	char *path;            /* the file, as the caller named it (for messages) */
	char *real_path;       /* realpath, to add each file once */
	char *name;            /* the entry's "name" (even when the entry is
	                          broken), else the file name without .json */
	struct ipm_entry entry;
	int parsed;            /* entry is filled: no problems of its own */
	int checked;           /* 1: checked, problems reported; 0: context */
	size_t nproblems;      /* problems reported for it (entry and registry rules) */
};

struct ipm_check_set {
	struct ipm_check_item *items;   /* in the order added */
	size_t n;
	size_t alloc;
};

#define IPM_CHECK_SET_INIT { NULL, 0, 0 }

/*
 * Adds one entry file. With checked, every problem of the entry (a file that
 * cannot be read is one too) is appended to *problems; a context file is
 * only parsed, and skipped when unreadable. A file already in the set (same
 * real path) is not added again; a context file whose entry name a member
 * already has is skipped (the file being checked stands in for it), so add
 * the checked files first. Returns 0: an unreadable file is a problem, not
 * an error.
 */
int ipm_check_add_file(struct ipm_check_set *set, struct ipm_problems *problems, const char *path,
		       int checked);

/*
 * Adds every packages_dir/<name>.json (sorted by file name; hidden files and
 * other names are ignored, as registry import ignores them). IPM_ENOTFOUND
 * when packages_dir is not a directory.
 */
int ipm_check_add_dir(struct ipm_check_set *set, struct ipm_problems *problems,
		      const char *packages_dir, int checked);

/* The rules over the whole set; appends to *problems, one per problem, and
 * counts each in the nproblems of the checked items it concerns. */
void ipm_check_registry(struct ipm_check_set *set, struct ipm_problems *problems);

/* Number of checked items. */
size_t ipm_check_count(const struct ipm_check_set *set);

void ipm_check_set_release(struct ipm_check_set *set);
#endif
