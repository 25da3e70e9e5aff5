/*
 * Checking registry entries for publication: each file through entry.c's
 * rules (public flavour) and its file name, then the rules that need the
 * whole registry (names users could not tell apart, depends on packages or
 * versions the registry lacks, dependency cycles).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ipm/buf.h"
#include "ipm/check.h"
#include "ipm/error.h"
#include "ipm/registry.h"
#include "ipm/similar.h"
#include "ipm/fs.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

static void add_problem_from_slot(struct ipm_problems *problems)
{
	const char *hint = ipm_error_hint_text();

	ipm_problems_add(problems, hint, "%s", ipm_error_message());
	ipm_error_clear();
}

/* The file name without its directory and ".json". */
static char *file_stem(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".json") == 0)
		n -= 5;
	return xstrndup(base, n);
}

/* The "name" member of the document, even when the entry is broken
 * otherwise, so that registry rules and the file-name rule still see it. */
static char *json_name(const char *text, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *name;
	char *out = NULL;

	if (!root)
		return NULL;
	name = cJSON_GetObjectItemCaseSensitive(root, "name");
	if (cJSON_IsString(name) && name->valuestring[0])
		out = xstrdup(name->valuestring);
	cJSON_Delete(root);
	return out;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static struct ipm_check_item *find_real(struct ipm_check_set *set, const char *real_path)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i].real_path && strcmp(set->items[i].real_path, real_path) == 0)
			return &set->items[i];
	return NULL;
}

static int has_name(const struct ipm_check_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->items[i].name, name) == 0)
			return 1;
	return 0;
}

/* Checks the parsed-or-not entry of item (checked items only). */
static void check_entry(struct ipm_check_item *item, struct ipm_problems *problems, const char *text,
			size_t len)
{
	size_t first = problems->n;
	int name_problem = 0;

	if (ipm_entry_check(&item->entry, problems, text, len, item->path, IPM_ENTRY_PUBLIC) == 0) {
		item->parsed = 1;
	} else if (problems->n == first) {
		/* the contract promises problems; keep the error, whatever it is */
		add_problem_from_slot(problems);
	}
	ipm_error_clear();
	/* The file-name rule needs a name; a name that breaks the name rule is
	 * reported as such already, and "rename the file to <bad name>" would
	 * be bad advice. */
	for (size_t i = first; i < problems->n; i++)
		if (starts_with(problems->items[i].message, "field 'name' "))
			name_problem = 1;
	if (!name_problem && !item->parsed && item->name) {
		struct ipm_entry named = { .name = item->name };
		if (ipm_entry_check_filename(&named, item->path) < 0)
			add_problem_from_slot(problems);
	} else if (item->parsed && ipm_entry_check_filename(&item->entry, item->path) < 0) {
		add_problem_from_slot(problems);
	}
	item->nproblems += problems->n - first;
}

int ipm_check_add_file(struct ipm_check_set *set, struct ipm_problems *problems, const char *path,
		       int checked)
{
	struct ipm_check_item item = { 0 };
	char *text = NULL, *real = NULL, *name = NULL;
	size_t len = 0;
	int rc = 0;

	real = realpath(path, NULL);
	if (real && find_real(set, real))
		goto done;
	if ((rc = ipm_file_read(&text, &len, path)) < 0) {
		/* a context file we cannot read is not ours to report */
		if (checked)
			add_problem_from_slot(problems);
		ipm_error_clear();
		rc = 0;
		if (!checked)
			goto done;
	}
	name = text ? json_name(text, len) : NULL;
	if (!name)
		name = file_stem(path);
	if (!checked && has_name(set, name))
		goto done;

	item.path = xstrdup(path);
	item.real_path = real;
	item.name = name;
	item.checked = checked;
	real = name = NULL;
	if (!text) {
		item.nproblems = 1;
	} else if (checked) {
		check_entry(&item, problems, text, len);
	} else if (ipm_entry_check(&item.entry, NULL, text, len, item.path, 0) == 0) {
		item.parsed = 1;
	}
	ipm_error_clear();
	XGROW(set->items, set->alloc, set->n + 1);
	set->items[set->n++] = item;
done:
	free(text);
	free(real);
	free(name);
	return rc;
}

int ipm_check_add_dir(struct ipm_check_set *set, struct ipm_problems *problems,
		      const char *packages_dir, int checked)
{
	struct ipm_buf path = IPM_BUF_INIT;
	char **files = NULL;
	size_t nfiles = 0;
	int rc;

	if ((rc = ipm_registry_entry_files(&files, &nfiles, packages_dir)) < 0)
		return rc;
	for (size_t i = 0; i < nfiles && rc == 0; i++) {
		ipm_buf_reset(&path);
		ipm_buf_add(&path, packages_dir);
		ipm_buf_addpath(&path, files[i]);
		rc = ipm_check_add_file(set, problems, path.ptr, checked);
	}
	xfree_strv(files, nfiles);
	ipm_buf_release(&path);
	return rc;
}

/* ---- rules over the whole registry ---- */

/* What a user types and sees: case and '-' versus '_' do not tell names
 * apart (install and search fold them the same way). */
static char *folded_name(const char *name)
{
	char *out = xstrdup(name);

	for (char *s = out; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
		else if (*s == '_')
			*s = '-';
	}
	return out;
}

static void check_collisions(struct ipm_check_set *set, struct ipm_problems *problems)
{
	char **folded = xcalloc(set->n ? set->n : 1, sizeof(*folded));

	for (size_t i = 0; i < set->n; i++)
		folded[i] = folded_name(set->items[i].name);
	for (size_t i = 0; i < set->n; i++) {
		for (size_t j = i + 1; j < set->n; j++) {
			struct ipm_check_item *a = &set->items[i], *b = &set->items[j];
			const char *hint = "users could not tell them apart: rename one, or merge them into one entry";

			if ((!a->checked && !b->checked) || strcmp(folded[i], folded[j]) != 0)
				continue;
			if (strcmp(a->name, b->name) == 0)
				ipm_problems_add(problems, hint, "entries '%s' and '%s' are both named '%s'",
						 a->path, b->path, a->name);
			else
				ipm_problems_add(problems, hint,
						 "names '%s' in '%s' and '%s' in '%s' differ only in case or '-'/'_'",
						 a->name, a->path, b->name, b->path);
			a->nproblems += a->checked;
			b->nproblems += b->checked;
		}
	}
	xfree_strv(folded, set->n);
}

/* The parsed item named name, or -1. */
static long find_parsed(const struct ipm_check_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i].parsed && strcmp(set->items[i].entry.name, name) == 0)
			return (long)i;
	return -1;
}

/* "did you mean 'x'?" for the closest name of the set, when it is close
 * enough to be a typo (a third of the name, at least one edit), or NULL.
 * A registry is small enough to compare against every name. */
static char *suggest_name(const struct ipm_check_set *set, const char *name)
{
	size_t best_d = (size_t)-1, limit = strlen(name) / 3;
	const char *best = NULL;
	char *folded = folded_name(name);

	for (size_t i = 0; i < set->n; i++) {
		char *other = folded_name(set->items[i].name);
		size_t d = ipm_edit_distance(folded, other);
		if (d < best_d || (d == best_d && strcmp(set->items[i].name, best) < 0))
			best_d = d, best = set->items[i].name;
		free(other);
	}
	free(folded);
	if (!best || best_d > (limit ? limit : 1))
		return NULL;
	return xasprintf("did you mean '%s'?", best);
}

static void check_depends(struct ipm_check_set *set, struct ipm_problems *problems)
{
	for (size_t i = 0; i < set->n; i++) {
		struct ipm_check_item *item = &set->items[i];

		if (!item->checked || !item->parsed)
			continue;
		for (size_t k = 0; k < item->entry.ndepends; k++) {
			const struct ipm_depend *dep = &item->entry.depends[k];
			long j;

			if (!has_name(set, dep->name)) {
				char *hint = suggest_name(set, dep->name);
				ipm_problems_add(problems,
						 hint ? hint : "add its entry to the registry first, or drop the dependency",
						 "field 'depends[%zu].name' in '%s' names '%s', which is not in the registry",
						 k, item->path, dep->name);
				free(hint);
				item->nproblems++;
				continue;
			}
			j = find_parsed(set, dep->name);
			if (j >= 0 && dep->constraint && !ipm_entry_find_release(&set->items[j].entry, dep->constraint)) {
				const struct ipm_entry *e = &set->items[j].entry;
				struct ipm_buf versions = IPM_BUF_INIT;

				for (size_t r = 0; r < e->nreleases; r++)
					ipm_buf_addf(&versions, "%s%s", r ? ", " : "", e->releases[r].version);
				{
					char *hint = xasprintf("the registry's '%s' has %s", dep->name, versions.ptr);
					ipm_problems_add(problems, hint,
							 "field 'depends[%zu].version' in '%s' asks for '%s' '%s', "
							 "which no release in the registry matches",
							 k, item->path, dep->name, dep->constraint);
					free(hint);
				}
				ipm_buf_release(&versions);
				item->nproblems++;
			}
		}
	}
}

struct cycle_walk {
	struct ipm_check_set *set;
	struct ipm_problems *problems;
	long **edges;          /* per item: indexes of the parsed items it depends on, -1 ended */
	int *state;            /* 0 unseen, 1 on the stack, 2 done */
	size_t *stack;
	size_t depth;
	struct ipm_buf reported;   /* "\n"-joined cycles already reported */
};

/* Reports the cycle stack[from..depth-1] -> stack[from], once, starting at
 * its smallest name so that every walk names it the same way. */
static void report_cycle(struct cycle_walk *w, size_t from)
{
	struct ipm_check_set *set = w->set;
	size_t len = w->depth - from, start = 0;
	struct ipm_buf text = IPM_BUF_INIT, key = IPM_BUF_INIT;
	int any_checked = 0;

	for (size_t k = 0; k < len; k++) {
		const struct ipm_check_item *it = &set->items[w->stack[from + k]];
		any_checked |= it->checked;
		if (strcmp(it->name, set->items[w->stack[from + start]].name) < 0)
			start = k;
	}
	for (size_t k = 0; k <= len; k++)
		ipm_buf_addf(&text, "%s%s", k ? " -> " : "", set->items[w->stack[from + (start + k) % len]].name);
	ipm_buf_addf(&key, "\n%s\n", text.ptr);
	if (any_checked && !strstr(w->reported.ptr, key.ptr)) {
		ipm_buf_add(&w->reported, key.ptr);
		ipm_problems_add(w->problems,
				 "dependencies install first, so none of these can ever install: drop one of the depends",
				 "field 'depends' in '%s' forms a dependency cycle: %s",
				 set->items[w->stack[from + start]].path, text.ptr);
		for (size_t k = 0; k < len; k++) {
			struct ipm_check_item *it = &set->items[w->stack[from + k]];
			it->nproblems += it->checked;
		}
	}
	ipm_buf_release(&text);
	ipm_buf_release(&key);
}

static void visit(struct cycle_walk *w, size_t i)
{
	w->state[i] = 1;
	w->stack[w->depth++] = i;
	for (long *e = w->edges[i]; *e >= 0; e++) {
		size_t j = (size_t)*e;
		if (w->state[j] == 1) {
			size_t from = 0;
			while (w->stack[from] != j)
				from++;
			report_cycle(w, from);
		} else if (w->state[j] == 0) {
			visit(w, j);
		}
	}
	w->depth--;
	w->state[i] = 2;
}

static void check_cycles(struct ipm_check_set *set, struct ipm_problems *problems)
{
	size_t n = set->n ? set->n : 1;
	struct cycle_walk w = { .set = set, .problems = problems, .reported = IPM_BUF_INIT };

	w.edges = xcalloc(n, sizeof(*w.edges));
	w.state = xcalloc(n, sizeof(*w.state));
	w.stack = xcalloc(n, sizeof(*w.stack));
	for (size_t i = 0; i < set->n; i++) {
		const struct ipm_entry *e = &set->items[i].entry;
		size_t nedges = 0;

		w.edges[i] = xcalloc(e->ndepends + 1, sizeof(**w.edges));
		if (set->items[i].parsed)
			for (size_t k = 0; k < e->ndepends; k++) {
				long j = find_parsed(set, e->depends[k].name);
				if (j >= 0)
					w.edges[i][nedges++] = j;
			}
		w.edges[i][nedges] = -1;
	}
	for (size_t i = 0; i < set->n; i++)
		if (w.state[i] == 0)
			visit(&w, i);
	for (size_t i = 0; i < set->n; i++)
		free(w.edges[i]);
	free(w.edges);
	free(w.state);
	free(w.stack);
	ipm_buf_release(&w.reported);
}

void ipm_check_registry(struct ipm_check_set *set, struct ipm_problems *problems)
{
	check_collisions(set, problems);
	check_depends(set, problems);
	check_cycles(set, problems);
}

size_t ipm_check_count(const struct ipm_check_set *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		n += set->items[i].checked ? 1 : 0;
	return n;
}

void ipm_check_set_release(struct ipm_check_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->items[i].path);
		free(set->items[i].real_path);
		free(set->items[i].name);
		ipm_entry_release(&set->items[i].entry);
	}
	free(set->items);
	memset(set, 0, sizeof(*set));
}
