/*
 * What `ipm outdated` lists and `ipm upgrade` picks, from one database
 * query and the version rules.
 */
#include <stdlib.h>
#include <string.h>

#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/outdated.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

/* 1 when every "dependent constraint" line of held_by allows version; else
 * 0 with *who (when not NULL) set to the first dependent that does not. */
static int dependents_allow(const char *held_by, const char *version, char **who)
{
	for (const char *line = held_by; line && *line;) {
		const char *end = strchr(line, '\n'), *space;
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *text = xstrndup(line, len);
		int ok = 1;

		space = strchr(text, ' ');
		if (space && ipm_constraint_match(space + 1, version) != 1) {
			ok = 0;
			if (who)
				*who = xstrndup(text, (size_t)(space - text));
		}
		free(text);
		if (!ok)
			return 0;
		line = end ? end + 1 : NULL;
	}
	return 1;
}

int ipm_outdated_target(char **out, char **out_blocker, const char *installed, const char *versions,
			const char *pin, const char *held_by)
{
	int first = 1;

	*out = NULL;
	if (out_blocker)
		*out_blocker = NULL;
	for (const char *v = versions; v && *v; first = 0) {
		const char *end = strchr(v, '\n');
		size_t len = end ? (size_t)(end - v) : strlen(v);
		char *version = xstrndup(v, len);
		int allowed;

		v = end ? end + 1 : NULL;
		/* newest first: nothing after the installed one is newer */
		if (ipm_version_cmp(version, installed) <= 0) {
			free(version);
			break;
		}
		allowed = !pin || ipm_constraint_match(pin, version) == 1;
		if (!allowed && first && out_blocker)
			*out_blocker = xstrdup("pin");
		if (allowed)
			allowed = dependents_allow(held_by, version, first && out_blocker ? out_blocker : NULL);
		if (allowed) {
			*out = version;
			return 0;
		}
		free(version);
	}
	return 0;
}

struct collect {
	struct ipm_outdated *items;
	size_t n, alloc;
	struct ipm_buf versions;
};

/* The versions of an entry stored by an older ipm's import, parsed. */
static int versions_from_json(struct ipm_buf *b, const char *json, const char *name)
{
	struct ipm_entry e;
	char *origin = xasprintf("the entry of '%s'", name);
	int rc = ipm_entry_parse(&e, json, strlen(json), origin);

	free(origin);
	if (rc < 0)
		return rc;
	ipm_buf_reset(b);
	for (size_t i = 0; i < e.nreleases; i++) {
		ipm_buf_add(b, e.releases[i].version);
		ipm_buf_addch(b, '\n');
	}
	ipm_entry_release(&e);
	return 0;
}

static int collect_one(void *ctx, const struct ipm_outdated_row *row)
{
	struct collect *c = ctx;
	const char *versions = row->versions;
	char *target = NULL, *blocker = NULL, *newest;
	struct ipm_outdated *o;

	if (!versions) {
		if (!row->entry_json || versions_from_json(&c->versions, row->entry_json, row->name) < 0) {
			ipm_error_clear();
			return 0;
		}
		versions = c->versions.ptr;
	}
	newest = xstrndup(versions, strcspn(versions, "\n"));
	/* an installed version newer than every release (a release withdrawn) is not outdated */
	if (!*newest || ipm_version_cmp(newest, row->version) <= 0) {
		free(newest);
		return 0;
	}
	ipm_outdated_target(&target, &blocker, row->version, versions, row->pin, row->held_by);
	XGROW(c->items, c->alloc, c->n + 1);
	o = &c->items[c->n++];
	memset(o, 0, sizeof(*o));
	o->name = xstrdup(row->name);
	o->installed = xstrdup(row->version);
	o->newest = newest;
	o->target = target;
	o->held_by = blocker;
	o->pin = xstrdup(row->pin);
	o->registry = xstrdup(row->registry);
	o->explicit_install = row->explicit_install;
	return 0;
}

int ipm_outdated_list(struct ipm_outdated **out, size_t *nout, struct ipm_ctx *ctx)
{
	struct collect c = { .versions = IPM_BUF_INIT };
	int rc;

	*out = NULL;
	*nout = 0;
	rc = ipm_db_outdated_each(ctx->db, collect_one, &c);
	ipm_buf_release(&c.versions);
	if (rc < 0) {
		ipm_outdated_free(c.items, c.n);
		return rc;
	}
	*out = c.items;
	*nout = c.n;
	return 0;
}

void ipm_outdated_free(struct ipm_outdated *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].name);
		free(list[i].installed);
		free(list[i].newest);
		free(list[i].target);
		free(list[i].pin);
		free(list[i].held_by);
		free(list[i].registry);
	}
	free(list);
}
