/*
 * Resolution: specs and their depends become an ordered plan (dependencies
 * before dependents), and the `requires` tools of the plan are checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipm/bincache.h"
#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/install.h"
#include "ipm/log.h"
#include "ipm/registry.h"
#include "ipm/repo.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

/* Resolution state of one package while the plan is built. */
enum node_state { NODE_NEW, NODE_VISITING, NODE_DONE };

struct node {
	struct ipm_plan_item item;
	enum node_state state;
	char *chosen_for;   /* who caused the release choice, for messages */
};

struct resolver {
	struct ipm_ctx *ctx;
	const char *method;
	struct node *nodes;
	size_t n, alloc;
	size_t *stack;      /* indices of the nodes being visited, for cycles */
	size_t nstack, stack_alloc;
	size_t *order;      /* node indices, dependencies first */
	size_t norder, order_alloc;
};

static void node_release(struct node *nd)
{
	ipm_entry_release(&nd->item.entry);
	ipm_source_release(&nd->item.source);
	free(nd->item.registry);
	free(nd->item.guessed_entry);
	free(nd->item.guessed_note);
	free(nd->item.old_version);
	free(nd->item.source_note);
	free(nd->chosen_for);
}

static long find_node(const struct resolver *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->nodes[i].item.entry.name, name) == 0)
			return (long)i;
	return -1;
}

/* A spec naming an entry file rather than a package. */
static int is_file_spec(const char *spec)
{
	size_t len = strlen(spec);
	struct stat st;

	if (len > 5 && strcmp(spec + len - 5, ".json") == 0)
		return 1;
	return strchr(spec, '/') && stat(spec, &st) == 0 && S_ISREG(st.st_mode);
}

static char *available_versions(const struct ipm_entry *e)
{
	struct ipm_buf b = IPM_BUF_INIT;
	for (size_t i = 0; i < e->nreleases; i++) {
		if (i)
			ipm_buf_add(&b, ", ");
		ipm_buf_add(&b, e->releases[i].version);
	}
	return ipm_buf_detach(&b);
}

static int no_release_error(const struct ipm_entry *e, const char *constraint, const char *who)
{
	char *versions = available_versions(e);
	int rc;

	if (who)
		rc = ipm_error_set(IPM_ENOTFOUND, "no release of '%s' satisfies '%s' (required by '%s')",
				   e->name, constraint, who);
	else
		rc = ipm_error_set(IPM_ENOTFOUND, "no release of '%s' satisfies '%s'", e->name, constraint);
	if (e->nreleases)
		ipm_error_hint("available versions of '%s': %s", e->name, versions);
	free(versions);
	return rc;
}

/* The installed version of name, or NULL. */
static char *installed_version(struct ipm_ctx *ctx, const char *name)
{
	struct ipm_package_row row;
	char *version = NULL;

	if (!ctx->db)
		return NULL;
	memset(&row, 0, sizeof(row));
	if (ipm_db_package_get(&row, ctx->db, name, 0) == 0) {
		version = row.version;
		row.version = NULL;
		ipm_package_row_release(&row);
	}
	ipm_error_clear();
	return version;
}

/* name's pin constraint, or NULL. */
static char *pin_of(struct ipm_ctx *ctx, const char *name)
{
	char *pin = NULL;

	if (ctx->db && ipm_db_pin_get(&pin, ctx->db, name) < 0) {
		ipm_error_clear();
		pin = NULL;
	}
	return pin;
}

/* The newest release of e satisfying both constraints (either may be NULL). */
static const struct ipm_release *find_release_both(const struct ipm_entry *e, const char *a, const char *b)
{
	for (size_t i = 0; i < e->nreleases; i++)
		if ((!a || ipm_constraint_match(a, e->releases[i].version) == 1) &&
		    (!b || ipm_constraint_match(b, e->releases[i].version) == 1))
			return &e->releases[i];
	return NULL;
}

/* A pinned package moves only within its pin: version (the one chosen) is
 * refused otherwise, naming the pin and who asked. */
static int pin_error(const char *name, const char *have, const char *pin, const char *version,
		     const char *constraint, const char *who)
{
	int rc;

	if (who)
		rc = ipm_error_set(IPM_ECONFLICT, "'%s' requires '%s' %s, but '%s' is pinned (%s, installed %s)",
				   who, name, constraint ? constraint : version, name, pin, have);
	else
		rc = ipm_error_set(IPM_ECONFLICT, "'%s' is pinned (%s, installed %s): not changing it to %s",
				   name, pin, have, version);
	ipm_error_hint("run 'ipm unpin %s' first to let it change", name);
	return rc;
}

/*
 * Picks the release of a freshly loaded entry: the newest satisfying the
 * constraint; for a dependency, the installed version when it satisfies the
 * constraint, so that installing a dependent never upgrades what works.
 * A pinned installed package stays within its pin: without a constraint
 * the newest release inside the pin is taken; a constraint that only
 * releases outside it satisfy is an error.
 */
static int choose_release(struct ipm_plan_item *item, struct ipm_ctx *ctx, const char *constraint,
			  const char *who)
{
	const struct ipm_entry *e = &item->entry;
	char *have = installed_version(ctx, e->name);
	char *pin = have ? pin_of(ctx, e->name) : NULL;
	int rc = 0;

	item->release = NULL;
	if (constraint && ipm_constraint_valid(constraint) <= 0) {
		rc = ipm_error_set(IPM_EINVAL, "invalid version constraint '%s' for '%s'", constraint, e->name);
		goto done;
	}
	if (who && have && (!constraint || ipm_constraint_match(constraint, have) == 1))
		item->release = ipm_entry_find_release(e, have);
	if (!item->release)
		item->release = ipm_entry_find_release(e, constraint);
	if (!item->release) {
		if (!constraint && e->nreleases == 0)
			rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' has no releases", e->name);
		else
			rc = no_release_error(e, constraint ? constraint : "*", who);
		goto done;
	}
	if (pin && strcmp(have, item->release->version) && ipm_constraint_match(pin, item->release->version) != 1) {
		const struct ipm_release *inside = find_release_both(e, constraint, pin);
		if (!inside && !constraint)
			inside = ipm_entry_find_release(e, have);
		if (!inside) {
			rc = pin_error(e->name, have, pin, item->release->version, constraint, who);
			goto done;
		}
		item->release = inside;
	}
	item->installed = have && strcmp(have, item->release->version) == 0;
	item->old_version = have;
	have = NULL;
done:
	free(have);
	free(pin);
	return rc;
}

static int pick_method(struct ipm_plan_item *item, const char *method, int required)
{
	struct ipm_buf names = IPM_BUF_INIT;
	const struct ipm_entry *e = &item->entry;

	item->method = NULL;
	if (!method)
		return 0;
	item->method = ipm_entry_find_method(e, method);
	if (item->method || !required)
		return 0;
	for (size_t i = 0; i < e->nmethods; i++) {
		if (i)
			ipm_buf_add(&names, ", ");
		ipm_buf_add(&names, e->methods[i].name ? e->methods[i].name : "(unnamed)");
	}
	ipm_error_set(IPM_EINVAL, "package '%s' has no install method '%s'", e->name, method);
	if (e->nmethods)
		ipm_error_hint("methods of '%s': %s", e->name, names.ptr);
	ipm_buf_release(&names);
	return IPM_EINVAL;
}

static int cycle_error(const struct resolver *r, size_t again)
{
	struct ipm_buf path = IPM_BUF_INIT;
	size_t from = 0;
	int rc;

	while (from < r->nstack && r->stack[from] != again)
		from++;
	for (size_t i = from; i < r->nstack; i++) {
		ipm_buf_add(&path, r->nodes[r->stack[i]].item.entry.name);
		ipm_buf_add(&path, " -> ");
	}
	ipm_buf_add(&path, r->nodes[again].item.entry.name);
	rc = ipm_error_set(IPM_EINVAL, "dependency cycle: %s", path.ptr);
	ipm_buf_release(&path);
	return rc;
}

/* Visits node idx: its dependencies first, then appends it to the order. */
static int visit(struct resolver *r, size_t idx);

/* Says so when more than one registry offers name, and which one is used. */
static void warn_shared(struct ipm_ctx *ctx, const char *name, const char *used, const char *who,
			const char *who_registry)
{
	char **offers = NULL, *text = NULL;
	size_t n = 0;

	if (!ctx->db || ipm_registry_offers(&offers, &n, ctx, name) < 0) {
		ipm_error_clear();
		return;
	}
	if (n > 1) {
		text = ipm_registry_names_text(offers, n);
		if (who && who_registry && !strcmp(used, who_registry))
			ipm_log(IPM_LOG_WARN, "registries %s %s offer '%s': using '%s', the registry of '%s' that "
				"depends on it", text, n == 2 ? "both" : "all", name, used, who);
		else
			ipm_log(IPM_LOG_WARN, "registries %s %s offer '%s': using '%s', the first configured", text,
				n == 2 ? "both" : "all", name, used);
	}
	free(text);
	xfree_strv(offers, n);
}

/*
 * Adds (or finds) the package for `name` as required by `who` (NULL: the
 * user) with constraint, and visits it. entry, when given, is already loaded
 * (a file spec) and is consumed.
 */
static int require_package(struct resolver *r, const char *name, const char *constraint,
			   const char *who, struct ipm_entry *loaded, char *loaded_registry)
{
	struct ipm_entry entry;
	char *registry = NULL;
	long idx;
	int rc = 0;

	memset(&entry, 0, sizeof(entry));
	if (loaded) {
		entry = *loaded;
		memset(loaded, 0, sizeof(*loaded));
		registry = loaded_registry;
	} else {
		idx = find_node(r, name);
		if (idx < 0) {
			/* a dependency comes from its dependent's registry when that
			 * registry has it: another registry offering the same name
			 * must not replace it (dependency confusion) */
			long who_idx = who ? find_node(r, who) : -1;
			const char *prefer = who_idx >= 0 ? r->nodes[who_idx].item.registry : NULL;
			rc = ipm_registry_find_from(&entry, &registry, r->ctx, name, prefer);
			if (rc < 0) {
				if (who)
					ipm_error_prefix("dependency of '%s'", who);
				return rc;
			}
			warn_shared(r->ctx, entry.name, registry, who, prefer);
		}
	}

	/* "owner/repo" and "repo" specs resolve to the entry's real name. */
	if (entry.name) {
		idx = find_node(r, entry.name);
		if (idx >= 0) {
			ipm_entry_release(&entry);
			free(registry);
			registry = NULL;
		}
	} else {
		idx = find_node(r, name);
	}

	if (idx >= 0) {
		struct node *nd = &r->nodes[idx];
		if (!who)
			nd->item.explicit_install = 1;
		if (constraint && ipm_constraint_match(constraint, nd->item.release->version) != 1) {
			if (ipm_constraint_valid(constraint) <= 0)
				return ipm_error_set(IPM_EINVAL, "invalid version constraint '%s' for '%s'",
						     constraint, nd->item.entry.name);
			rc = ipm_error_set(IPM_ECONFLICT,
					   "'%s' requires '%s' %s, but %s was chosen for '%s'",
					   who ? who : "the command line", nd->item.entry.name, constraint,
					   nd->item.release->version,
					   nd->chosen_for ? nd->chosen_for : "the command line");
			return rc;
		}
		if (!who && r->method && !nd->item.method) {
			rc = pick_method(&nd->item, r->method, 1);
			if (rc < 0)
				return rc;
		}
		if (nd->state == NODE_VISITING)
			return cycle_error(r, (size_t)idx);
		if (nd->state == NODE_NEW)
			return visit(r, (size_t)idx);
		return 0;
	}

	XGROW(r->nodes, r->alloc, r->n + 1);
	idx = (long)r->n++;
	memset(&r->nodes[idx], 0, sizeof(r->nodes[idx]));
	r->nodes[idx].item.entry = entry;
	r->nodes[idx].item.registry = registry;
	r->nodes[idx].item.explicit_install = !who;
	r->nodes[idx].chosen_for = xstrdup(who);
	r->nodes[idx].state = NODE_NEW;

	rc = choose_release(&r->nodes[idx].item, r->ctx, constraint, who);
	if (rc < 0)
		return rc;
	rc = pick_method(&r->nodes[idx].item, r->method, !who);
	if (rc < 0)
		return rc;
	return visit(r, (size_t)idx);
}

static int visit(struct resolver *r, size_t idx)
{
	size_t ndeps;
	int rc;

	r->nodes[idx].state = NODE_VISITING;
	XGROW(r->stack, r->stack_alloc, r->nstack + 1);
	r->stack[r->nstack++] = idx;

	ndeps = r->nodes[idx].item.entry.ndepends;
	for (size_t i = 0; i < ndeps; i++) {
		/* r->nodes may move while dependencies are added: re-read each time. */
		const struct ipm_depend *d = &r->nodes[idx].item.entry.depends[i];
		char *who = xstrdup(r->nodes[idx].item.entry.name);
		char *dep_name = xstrdup(d->name);
		char *dep_constraint = xstrdup(d->constraint);

		rc = require_package(r, dep_name, dep_constraint, who, NULL, NULL);
		free(who);
		free(dep_name);
		free(dep_constraint);
		if (rc < 0)
			return rc;
	}

	r->nstack--;
	r->nodes[idx].state = NODE_DONE;
	XGROW(r->order, r->order_alloc, r->norder + 1);
	r->order[r->norder++] = idx;
	return 0;
}

/* Splits "name@constraint"; *constraint is NULL without '@'. */
static int split_spec(char **name, char **constraint, const char *spec)
{
	const char *at = strchr(spec, '@');

	*name = NULL;
	*constraint = NULL;
	if (!at) {
		if (!*spec)
			return ipm_error_set(IPM_EINVAL, "empty package name");
		*name = xstrdup(spec);
		return 0;
	}
	if (at == spec)
		return ipm_error_set(IPM_EINVAL, "'%s' has no package name before '@'", spec);
	if (!at[1]) {
		ipm_error_set(IPM_EINVAL, "'%s' has no version after '@'", spec);
		ipm_error_hint("write NAME@VERSION, e.g. '%.*s@1.0'", (int)(at - spec), spec);
		return IPM_EINVAL;
	}
	if (ipm_constraint_valid(at + 1) <= 0) {
		ipm_error_set(IPM_EINVAL, "invalid version constraint '%s' in '%s'", at + 1, spec);
		ipm_error_hint("write NAME@1.2, NAME@>=1.2 or NAME@^2.0");
		return IPM_EINVAL;
	}
	*name = xstrndup(spec, (size_t)(at - spec));
	*constraint = xstrdup(at + 1);
	return 0;
}

/* Whether a release of e comes from the repository at url (both normalised). */
static int same_repository(const struct ipm_entry *e, const char *url)
{
	char *want = ipm_repo_url_normalize(url);
	int same = 0;

	for (size_t i = 0; i < e->nreleases && !same; i++) {
		const char *git = e->releases[i].source.kind == IPM_SOURCE_GIT ? e->releases[i].source.git : NULL;
		char *have = git ? ipm_repo_url_normalize(git) : NULL;
		same = have && strcmp(have, want) == 0;
		free(have);
	}
	free(want);
	return same;
}

/*
 * A spec that names a repository (owner/repo, a URL, github:, a local path):
 * the registry entry whose "repo" it is, else an entry guessed from the
 * repository itself, marked as guessed on its plan item.
 */
static int require_repo(struct resolver *r, const struct ipm_repo_spec *rs, const char *spec)
{
	struct ipm_entry entry;
	struct ipm_repo_guess guess = { 0 };
	char *registry = NULL, *origin = NULL;
	long idx;
	int rc;

	memset(&entry, 0, sizeof(entry));
	if (rs->owner_repo || rs->package) {
		/* by "repo"; else the entry named like the repository, when one
		 * of its releases comes from the same URL */
		rc = rs->owner_repo ? ipm_registry_lookup(&entry, &registry, r->ctx, rs->owner_repo) : IPM_ENOTFOUND;
		if (rc == IPM_ENOTFOUND && rs->package) {
			ipm_error_clear();
			rc = ipm_registry_lookup(&entry, &registry, r->ctx, rs->package);
			if (rc == 0 && !same_repository(&entry, rs->url)) {
				ipm_entry_release(&entry);
				memset(&entry, 0, sizeof(entry));
				free(registry);
				registry = NULL;
				rc = IPM_ENOTFOUND;
			}
		}
		if (rc == 0) {
			if (rs->at && ipm_constraint_valid(rs->at) <= 0) {
				rc = ipm_error_set(IPM_EINVAL, "invalid version constraint '%s' in '%s'", rs->at, spec);
				ipm_error_hint("'%s' is in a registry as '%s': write %s@1.2, or name the package",
					       rs->owner_repo, entry.name, rs->name);
				goto done;
			}
			rc = require_package(r, entry.name, rs->at, NULL, &entry, registry);
			registry = NULL;
			goto done;
		}
		if (rc != IPM_ENOTFOUND)
			goto done;
		ipm_error_clear();
	}
	if (!rs->package) {
		rc = ipm_error_set(IPM_EINVAL, "cannot make a package name of '%s'", spec);
		goto done;
	}
	if ((rc = ipm_repo_guess(&guess, &r->ctx->fetch, rs->url, rs->package, rs->at)) < 0) {
		ipm_error_prefix("no registry entry for '%s'", spec);
		goto done;
	}
	origin = xasprintf("the entry guessed for '%s'", spec);
	if ((rc = ipm_entry_parse(&entry, guess.json, strlen(guess.json), origin)) < 0)
		goto done;
	rc = require_package(r, entry.name, NULL, NULL, &entry, NULL);
	if (rc < 0)
		goto done;
	idx = find_node(r, rs->package);
	if (idx >= 0 && !r->nodes[idx].item.guessed_entry && !r->nodes[idx].item.registry) {
		r->nodes[idx].item.guessed_entry = guess.json;
		r->nodes[idx].item.guessed_note = guess.note;
		guess.json = guess.note = NULL;
	}
done:
	ipm_entry_release(&entry);
	ipm_repo_guess_release(&guess);
	free(registry);
	free(origin);
	return rc;
}

static int require_spec(struct resolver *r, const char *spec)
{
	struct ipm_repo_spec rs;
	char *name = NULL, *constraint = NULL;
	int rc;

	if ((rc = ipm_repo_spec_parse(&rs, spec)) < 0)
		return rc;
	if (rs.kind == IPM_REPO_SPEC_NAME) {
		if ((rc = split_spec(&name, &constraint, spec)) == 0)
			rc = require_package(r, name, constraint, NULL, NULL, NULL);
	} else {
		rc = require_repo(r, &rs, spec);
	}
	free(name);
	free(constraint);
	ipm_repo_spec_release(&rs);
	return rc;
}

static long plan_find(const struct ipm_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (strcmp(plan->items[i].entry.name, name) == 0)
			return (long)i;
	return -1;
}

/* An installed item whose dependency changes version in this plan is built
 * again after it, against the new version. Dependencies come first in the
 * plan, so one pass sees every change. */
static void mark_rebuilds(struct ipm_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct ipm_plan_item *it = &plan->items[i];
		if (!it->installed)
			continue;
		for (size_t d = 0; d < it->entry.ndepends; d++) {
			long k = plan_find(plan, it->entry.depends[d].name);
			if (k >= 0 && !plan->items[k].installed && !plan->items[k].rebuild) {
				it->installed = 0;
				it->rebuild = 1;
				break;
			}
		}
	}
}

/* A new version of an installed package must satisfy the constraint of
 * every installed dependent that the plan does not rebuild (the resolver
 * checked those against their entries already). */
static int check_dependents(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	int rc = 0;

	if (!ctx->db)
		return 0;
	for (size_t i = 0; i < plan->n && rc == 0; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		char **names = NULL, **constraints = NULL;
		size_t n = 0;

		if (it->installed || it->rebuild)
			continue;
		if ((rc = ipm_db_package_dependents_constraints(&names, &constraints, &n, ctx->db,
								 it->entry.name)) < 0)
			break;
		for (size_t d = 0; d < n; d++) {
			if (plan_find(plan, names[d]) >= 0 || !constraints[d] ||
			    ipm_constraint_match(constraints[d], it->release->version) == 1)
				continue;
			rc = ipm_error_set(IPM_ECONFLICT, "'%s' %s would break '%s', which needs '%s' %s",
					   it->entry.name, it->release->version, names[d], it->entry.name,
					   constraints[d]);
			ipm_error_hint("choose a version matching it ('ipm install %s@%s'), or remove '%s' first",
				       it->entry.name, constraints[d], names[d]);
			break;
		}
		xfree_strv(names, n);
		xfree_strv(constraints, n);
	}
	return rc;
}

/* A source fetched in plain text could be anything by the time it arrives
 * (a pinned checksum or commit catches a changed file, not a changed
 * entry): refused unless the user allowed it for the item's registry. */
static int check_source_transport(struct ipm_ctx *ctx, const struct ipm_plan_item *it)
{
	const struct ipm_registry_conf *conf = ipm_config_registry(&ctx->cfg, it->registry);
	const char *url = it->source.kind == IPM_SOURCE_ARCHIVE ? it->source.url : it->source.git;
	int rc = ipm_url_check_transport(&ctx->cfg, url, conf && conf->insecure);

	if (rc < 0) {
		ipm_error_prefix("source of '%s'", it->entry.name);
		if (conf && strcmp(conf->name, "bundled"))
			ipm_error_hint("ask for an https:// source; on a network you trust, set \"insecure\": true for "
				       "registry '%s' in '%s', or map the URL with a mirror rule (IPM_MIRRORS)",
				       conf->name, ctx->cfg.config_path);
		else
			ipm_error_hint("ask for an https:// source, or map the URL with a mirror rule (IPM_MIRRORS)");
	}
	return rc;
}

/* Fills the items' sources, resolving "self" ones, once the order is known. */
static int resolve_sources(struct ipm_ctx *ctx, struct ipm_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct ipm_plan_item *it = &plan->items[i];
		int rc;
		ipm_source_copy(&it->source, &it->release->source);
		if (it->source.kind == IPM_SOURCE_SELF && !it->installed) {
			rc = ipm_registry_resolve_self(&it->source, ctx, it->registry);
			if (rc < 0) {
				ipm_error_prefix("source of '%s'", it->entry.name);
				return rc;
			}
		}
		if (!it->installed && (rc = check_source_transport(ctx, it)) < 0)
			return rc;
	}
	return 0;
}

/* An index kept past its expiry (update refused the server's, or could not
 * reach it) still installs, but the user hears of it, once per registry. */
static void warn_expired(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	int64_t now = (int64_t)time(NULL);
	char when[21];

	for (size_t i = 0; ctx->db && i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		struct ipm_registry_row row = { 0 };
		size_t j;

		if (it->installed || !it->registry)
			continue;
		for (j = 0; j < i && (!plan->items[j].registry || strcmp(plan->items[j].registry, it->registry) ||
				      plan->items[j].installed); j++)
			;
		if (j < i || ipm_db_registry_get(&row, ctx->db, it->registry) < 0) {
			ipm_error_clear();
			continue;
		}
		if (row.expires && row.expires <= now) {
			ipm_registry_time_format(when, row.expires);
			ipm_log(IPM_LOG_WARN, "the index of registry '%s' expired on %s: run 'ipm update'",
				it->registry, when);
		}
		ipm_registry_row_release(&row);
	}
}

static void resolver_release(struct resolver *r)
{
	for (size_t i = 0; i < r->n; i++)
		node_release(&r->nodes[i]);
	free(r->nodes);
	free(r->stack);
	free(r->order);
}

/* The resolved nodes become the plan, then the checks that need all of it. */
static int finish_plan(struct ipm_plan *out, struct resolver *r)
{
	int rc;

	/* visit() records a node when its dependencies are done: that finishing
	 * order is the topological order. */
	out->items = xcalloc(r->norder ? r->norder : 1, sizeof(*out->items));
	for (size_t k = 0; k < r->norder; k++) {
		out->items[k] = r->nodes[r->order[k]].item;
		memset(&r->nodes[r->order[k]].item, 0, sizeof(r->nodes[r->order[k]].item));
	}
	out->n = r->norder;
	mark_rebuilds(out);
	if ((rc = check_dependents(r->ctx, out)) < 0)
		return rc;
	if ((rc = resolve_sources(r->ctx, out)) == 0)
		warn_expired(r->ctx, out);
	return rc;
}

int ipm_plan_build(struct ipm_plan *out, struct ipm_ctx *ctx, const char *const *specs,
		   size_t nspecs, const char *method)
{
	struct resolver r;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.method = method;

	for (size_t i = 0; i < nspecs; i++) {
		if (is_file_spec(specs[i])) {
			struct ipm_entry entry;
			char *registry = NULL;
			memset(&entry, 0, sizeof(entry));
			if (!ipm_path_exists(specs[i])) {
				rc = ipm_error_set(IPM_ENOTFOUND, "entry file '%s' not found", specs[i]);
				ipm_error_hint("give the path of a registry entry (.json) or a package name");
				goto done;
			}
			rc = ipm_registry_load_file(&entry, &registry, ctx, specs[i]);
			if (rc < 0)
				goto done;
			rc = require_package(&r, entry.name, NULL, NULL, &entry, registry);
			ipm_entry_release(&entry);
		} else {
			rc = require_spec(&r, specs[i]);
		}
		if (rc < 0)
			goto done;
	}
	rc = finish_plan(out, &r);
done:
	resolver_release(&r);
	if (rc < 0)
		ipm_plan_release(out);
	return rc;
}

/* ---- exact versions (upgrade, import) ---- */

/* 1 when release rel's source is the commit or sha256 resolved; a "self"
 * source is compared once resolved through registry. */
static int release_is(struct ipm_ctx *ctx, const struct ipm_release *rel, const char *registry,
		      const char *resolved)
{
	struct ipm_source src;
	int same;

	if (!resolved)
		return 1;
	if (rel->source.kind == IPM_SOURCE_ARCHIVE)
		return rel->source.sha256 && strcmp(rel->source.sha256, resolved) == 0;
	if (rel->source.kind == IPM_SOURCE_GIT)
		return rel->source.commit && strcmp(rel->source.commit, resolved) == 0;
	memset(&src, 0, sizeof(src));
	ipm_source_copy(&src, &rel->source);
	same = registry && ipm_registry_resolve_self(&src, ctx, registry) == 0 && src.commit &&
	       strcmp(src.commit, resolved) == 0;
	ipm_error_clear();
	ipm_source_release(&src);
	return same;
}

/* The entry and release for want w: its registry's, when that offers the
 * very release; else the one w carries. */
static int want_entry(struct ipm_entry *out, char **out_registry, char **out_note, struct ipm_ctx *ctx,
		      const struct ipm_plan_want *w)
{
	const struct ipm_release *rel;
	char *origin = NULL;
	int rc;

	*out_registry = NULL;
	*out_note = NULL;
	rc = ipm_registry_find_from(out, out_registry, ctx, w->name, w->registry);
	if (rc == 0) {
		rel = ipm_entry_find_release(out, w->version);
		if (rel && strcmp(rel->version, w->version) == 0 && release_is(ctx, rel, *out_registry, w->resolved))
			return 0;
		if (!w->entry_json) {
			rc = no_release_error(out, w->version, NULL);
			goto fail;
		}
		*out_note = xasprintf("registry '%s' no longer offers %s %s%s%s: built from the source the lock "
				      "file names", *out_registry, w->name, w->version, w->resolved ? " at " : "",
				      w->resolved ? w->resolved : "");
		ipm_entry_release(out);
		free(*out_registry);
		*out_registry = NULL;
	} else if (rc == IPM_ENOTFOUND && w->entry_json) {
		ipm_error_clear();
		*out_note = xasprintf("no configured registry offers '%s' now: built from the source the lock file "
				      "names", w->name);
	} else {
		return rc;
	}
	memset(out, 0, sizeof(*out));
	origin = xasprintf("the lock file's entry of '%s'", w->name);
	if ((rc = ipm_entry_parse(out, w->entry_json, strlen(w->entry_json), origin)) < 0)
		goto fail;
	rel = ipm_entry_find_release(out, w->version);
	if (strcmp(out->name, w->name) || !rel || strcmp(rel->version, w->version) ||
	    !release_is(ctx, rel, NULL, w->resolved)) {
		rc = ipm_error_set(IPM_EINVAL, "%s does not give version %s%s%s", origin, w->version,
				   w->resolved ? " at " : "", w->resolved ? w->resolved : "");
		ipm_error_hint("its \"entry\" and \"resolved\" disagree: export the lock file again from a "
			       "home that has '%s' installed", w->name);
		goto fail;
	}
	*out_registry = xstrdup(w->registry);
	free(origin);
	return 0;
fail:
	free(origin);
	ipm_entry_release(out);
	free(*out_registry);
	free(*out_note);
	*out_registry = *out_note = NULL;
	return rc;
}

static int add_want(struct resolver *r, const struct ipm_plan_want *w)
{
	struct ipm_entry entry;
	char *registry = NULL, *note = NULL, *have = NULL, *pin = NULL;
	struct node *nd;
	int rc;

	memset(&entry, 0, sizeof(entry));
	if (find_node(r, w->name) >= 0)
		return ipm_error_set(IPM_EINVAL, "'%s' is named twice", w->name);
	if ((rc = want_entry(&entry, &registry, &note, r->ctx, w)) < 0)
		return rc;
	have = installed_version(r->ctx, w->name);
	pin = have ? pin_of(r->ctx, w->name) : NULL;
	if (pin && strcmp(have, w->version) && ipm_constraint_match(pin, w->version) != 1) {
		rc = pin_error(w->name, have, pin, w->version, NULL, NULL);
		ipm_entry_release(&entry);
		free(registry);
		free(note);
		goto done;
	}
	XGROW(r->nodes, r->alloc, r->n + 1);
	nd = &r->nodes[r->n++];
	memset(nd, 0, sizeof(*nd));
	nd->item.entry = entry;
	nd->item.registry = registry;
	nd->item.source_note = note;
	nd->item.explicit_install = w->explicit_install;
	nd->item.release = ipm_entry_find_release(&nd->item.entry, w->version);
	nd->item.installed = have && strcmp(have, w->version) == 0;
	nd->item.old_version = have;
	have = NULL;
	nd->state = NODE_NEW;
	rc = pick_method(&nd->item, w->method, 0);
done:
	free(have);
	free(pin);
	return rc;
}

int ipm_plan_build_exact(struct ipm_plan *out, struct ipm_ctx *ctx, const struct ipm_plan_want *wants,
			 size_t nwants)
{
	struct resolver r;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.ctx = ctx;

	/* every wanted node first, then their dependencies: a dependency that
	 * is wanted too is found at its wanted version, whatever the order */
	for (size_t i = 0; i < nwants && rc == 0; i++)
		rc = add_want(&r, &wants[i]);
	for (size_t i = 0; i < nwants && rc == 0; i++)
		if (r.nodes[i].state == NODE_NEW)
			rc = visit(&r, i);
	if (rc == 0)
		rc = finish_plan(out, &r);
	resolver_release(&r);
	if (rc < 0)
		ipm_plan_release(out);
	return rc;
}

void ipm_plan_release(struct ipm_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n; i++) {
		ipm_entry_release(&plan->items[i].entry);
		ipm_source_release(&plan->items[i].source);
		free(plan->items[i].registry);
		free(plan->items[i].guessed_entry);
		free(plan->items[i].guessed_note);
		free(plan->items[i].old_version);
		free(plan->items[i].source_note);
		ipm_bincache_choice_free(plan->items[i].bincache);
	}
	free(plan->items);
	plan->items = NULL;
	plan->n = 0;
}

/* ---- requires ---- */

/* Full path of tool on PATH, or NULL. */
static char *find_on_path(const char *tool)
{
	const char *path = getenv("PATH");
	const char *p;

	if (strchr(tool, '/'))
		return access(tool, X_OK) == 0 ? xstrdup(tool) : NULL;
	if (!path)
		path = "/usr/bin:/bin";
	p = path;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char *candidate = len ? xasprintf("%.*s/%s", (int)len, p, tool) : xasprintf("./%s", tool);
		struct stat st;
		if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0)
			return candidate;
		free(candidate);
		if (!colon)
			break;
		p = colon + 1;
	}
	return NULL;
}

/* Output (stdout and stderr) of `prog --version`, or NULL when it cannot run. */
static char *run_version(const char *prog)
{
	int fds[2];
	pid_t pid;
	struct ipm_buf out = IPM_BUF_INIT;
	char chunk[4096];
	ssize_t n;
	int status;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return NULL;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execl(prog, prog, "--version", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* A tool that does not understand --version may wait for input or
	 * hang: give it ten seconds. */
	while (out.len < 65536) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int ready = poll(&pfd, 1, 10000);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		n = read(fds[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ipm_buf_addn(&out, chunk, (size_t)n);
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return ipm_buf_detach(&out);
}

static int is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The first word of text that looks like a dotted version ("3.25.1"). */
static char *first_version(const char *text)
{
	for (const char *p = text; *p; p++) {
		const char *end;
		char *word;
		if (!(*p >= '0' && *p <= '9'))
			continue;
		if (p > text && (is_alnum(p[-1]) || p[-1] == '.'))
			continue;
		end = p;
		while (is_alnum(*end) || *end == '.')
			end++;
		while (end > p && end[-1] == '.')
			end--;
		word = xstrndup(p, (size_t)(end - p));
		if (strchr(word, '.') && ipm_version_valid(word) > 0)
			return word;
		free(word);
	}
	return NULL;
}

static char *os_release_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			const char *v = line + klen + 1;
			size_t len = strcspn(v, "\n");
			if (len && (*v == '"' || *v == '\'')) {
				v++;
				len -= (len >= 2 && (v[len - 2] == '"' || v[len - 2] == '\'')) ? 2 : 1;
			}
			return xstrndup(v, len);
		}
	}
	return NULL;
}

/* This system's names as hint keys, most specific first: e.g. "ubuntu debian". */
static char *detect_os(void)
{
	struct utsname u;
	char *text = NULL, *id = NULL, *like = NULL;
	struct ipm_buf names = IPM_BUF_INIT;

	if (uname(&u) == 0 && strcmp(u.sysname, "Darwin") == 0)
		return xstrdup("macos");
	if (ipm_file_read(&text, NULL, "/etc/os-release") < 0) {
		ipm_error_clear();
		return NULL;
	}
	id = os_release_value(text, "ID");
	like = os_release_value(text, "ID_LIKE");
	ipm_buf_addf(&names, "%s %s", id ? id : "", like ? like : "");
	/* Families under the names hints use. */
	if (strstr(names.ptr, "debian") || strstr(names.ptr, "ubuntu"))
		ipm_buf_add(&names, " debian");
	if (strstr(names.ptr, "fedora") || strstr(names.ptr, "rhel") || strstr(names.ptr, "centos"))
		ipm_buf_add(&names, " fedora");
	if (strstr(names.ptr, "arch"))
		ipm_buf_add(&names, " arch");
	if (strstr(names.ptr, "alpine"))
		ipm_buf_add(&names, " alpine");
	free(text);
	free(id);
	free(like);
	return ipm_buf_detach(&names);
}

static int word_in(const char *words, const char *w)
{
	size_t len = strlen(w);
	for (const char *p = words; (p = strstr(p, w)); p += len)
		if ((p == words || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
			return 1;
	return 0;
}

/* Sets the hint for a missing or old tool: this OS's command, or all. */
static void install_hint(const struct ipm_require *req)
{
	char *os = detect_os();
	struct ipm_buf all = IPM_BUF_INIT;

	if (os) {
		/* Exact id first ("ubuntu"), then the family ("debian"). */
		const char *first = os;
		size_t firstlen = strcspn(os, " ");
		for (size_t i = 0; i < req->nhints; i++)
			if (req->hints[i].os && strlen(req->hints[i].os) == firstlen &&
			    strncmp(req->hints[i].os, first, firstlen) == 0) {
				ipm_error_hint("install it with: %s", req->hints[i].command);
				goto done;
			}
		for (size_t i = 0; i < req->nhints; i++)
			if (req->hints[i].os && word_in(os, req->hints[i].os)) {
				ipm_error_hint("install it with: %s", req->hints[i].command);
				goto done;
			}
	}
	if (!req->nhints) {
		ipm_error_hint("install '%s' and make sure it is on PATH", req->tool);
		goto done;
	}
	for (size_t i = 0; i < req->nhints; i++)
		ipm_buf_addf(&all, "%s  %s: %s", i ? "\n" : "", req->hints[i].os, req->hints[i].command);
	ipm_error_hint("install it with one of:\n%s", all.ptr);
done:
	ipm_buf_release(&all);
	free(os);
}

/* run: whether `TOOL --version` may run to check a version constraint. */
static int check_require(const struct ipm_plan_item *it, const struct ipm_require *req, int run)
{
	char *path = find_on_path(req->tool);
	char *output = NULL, *version = NULL;
	int rc = 0;

	if (!path) {
		rc = ipm_error_set(IPM_ENOTFOUND, "'%s' is required by '%s' but not found on PATH",
				   req->tool, it->entry.name);
		install_hint(req);
		goto done;
	}
	if (!req->constraint || !*req->constraint || strcmp(req->constraint, "*") == 0)
		goto done;
	if (!run) {
		ipm_log(IPM_LOG_DEBUG, "not running '%s --version' to check %s for '%s'", path,
			req->constraint, it->entry.name);
		goto done;
	}
	output = run_version(path);
	version = output ? first_version(output) : NULL;
	if (!version) {
		ipm_log(IPM_LOG_WARN, "cannot tell the version of '%s' ('%s' needs %s); going on",
			path, it->entry.name, req->constraint);
		goto done;
	}
	rc = ipm_constraint_match(req->constraint, version);
	if (rc < 0) {
		rc = ipm_error_set(IPM_EINVAL, "invalid version constraint '%s' on '%s' in '%s'",
				   req->constraint, req->tool, it->entry.name);
		goto done;
	}
	if (rc == 0) {
		rc = ipm_error_set(IPM_ENOTFOUND, "'%s' %s is found at '%s' but '%s' requires %s",
				   req->tool, version, path, it->entry.name, req->constraint);
		install_hint(req);
		goto done;
	}
	rc = 0;
done:
	free(path);
	free(output);
	free(version);
	return rc;
}

static int check_requires(const struct ipm_plan *plan, int run)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		/* a binary from a cache runs no step: it needs no build tools */
		if (it->installed || (it->bincache && it->bincache->from))
			continue;
		for (size_t j = 0; j < it->entry.nrequires; j++) {
			int rc = check_require(it, &it->entry.requires[j], run);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int ipm_plan_check_requires(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	return check_requires(plan, 1);
}

int ipm_plan_find_requires(struct ipm_ctx *ctx, const struct ipm_plan *plan)
{
	return check_requires(plan, 0);
}
