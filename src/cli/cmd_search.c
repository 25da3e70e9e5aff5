/*
 * ipm search: ranked full-text hits, then names that look like the query
 * (typo-tolerant) that the full-text search missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/similar.h"
#include "ipm/xalloc.h"

#define SEARCH_LIMIT 50
#define SIMILAR_MAX 5
#define SIMILAR_MIN_SCORE 0.6f
/* Below this many text matches the query is probably misspelt, and the
 * n-gram scan over every name (the costly part on a large registry) is worth
 * its time; above it the user already has what they asked for. */
#define SIMILAR_BELOW 5

struct hit {
	char *name;
	char *registry;
	char *description;
	double score;
	const char *match;   /* "text" or "similar" */
	char *latest;        /* the newest release, or NULL */
	char *installed;     /* the version installed, or NULL */
};

static void hits_free(struct hit *hits, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(hits[i].name);
		free(hits[i].registry);
		free(hits[i].description);
		free(hits[i].latest);
		free(hits[i].installed);
	}
	free(hits);
}

/* Registry and description of a name found only by similarity. */
static int describe(struct hit *h, struct cli *cli)
{
	const char **order = NULL;
	char *json = NULL;
	cJSON *root = NULL;
	const cJSON *d;
	size_t i;
	int rc;

	order = xcalloc(cli->ctx.cfg.nregistries + 1, sizeof(*order));
	for (i = 0; i < cli->ctx.cfg.nregistries; i++)
		order[i] = cli->ctx.cfg.registries[i].name;
	rc = ipm_db_entry_find(&json, &h->registry, cli->ctx.db, h->name, order,
			       cli->ctx.cfg.nregistries);
	if (rc < 0)
		goto done;
	/* a sparse registry's entry not fetched yet: its row has the
	 * description its shard listed, which a search by its name gives */
	if (!json[0]) {
		struct ipm_search_hit *hits = NULL;
		size_t n = 0;
		if (ipm_db_entry_search(&hits, &n, cli->ctx.db, h->name, 1) == 0 && n &&
		    !strcmp(hits[0].name, h->name))
			h->description = xstrdup(hits[0].description);
		ipm_search_hits_free(hits, n);
		ipm_error_clear();
		goto done;
	}
	root = cJSON_Parse(json);
	d = root ? cJSON_GetObjectItemCaseSensitive(root, "description") : NULL;
	if (cJSON_IsString(d))
		h->description = xstrdup(d->valuestring);
done:
	cJSON_Delete(root);
	free(json);
	free(order);
	return rc;
}

int cmd_search(struct cli *cli, int argc, char **argv)
{
	struct ipm_buf query = IPM_BUF_INIT;
	struct ipm_search_hit *fts = NULL;
	struct ipm_similar_match *sim = NULL;
	struct hit *hits = NULL;
	const char *opt, *value;
	size_t nfts = 0, nsim = 0, nhits = 0, alloc = 0, i, j, wname = 4;
	int json = 0, idx = 1, r, rc = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2) {
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		if (r == 0) {
			if (query.len)
				ipm_buf_addch(&query, ' ');
			ipm_buf_add(&query, argv[idx++]);
			continue;
		}
		if (strcmp(opt, "--json") == 0)
			json = 1;
		else {
			rc = cli_usage_error(cli, "unknown option '%s'", opt);
			goto done;
		}
	}
	if (!query.len) {
		rc = cli_usage_error(cli, "what should ipm search for?");
		goto done;
	}
	rc = cli_open(cli);
	if (rc < 0)
		goto done;

	rc = ipm_db_entry_search(&fts, &nfts, cli->ctx.db, query.ptr, SEARCH_LIMIT);
	if (rc < 0)
		goto done;
	for (i = 0; i < nfts; i++) {
		XGROW(hits, alloc, nhits + 1);
		hits[nhits].name = xstrdup(fts[i].name);
		hits[nhits].registry = xstrdup(fts[i].registry);
		hits[nhits].description = xstrdup(fts[i].description);
		hits[nhits].score = fts[i].score;
		hits[nhits].match = "text";
		nhits++;
	}
	if (nfts < SIMILAR_BELOW) {
		rc = ipm_similar_find(&sim, &nsim, cli->ctx.db, query.ptr, SIMILAR_MAX, SIMILAR_MIN_SCORE);
		if (rc < 0)
			goto done;
	}
	for (i = 0; i < nsim; i++) {
		for (j = 0; j < nhits; j++)
			if (strcmp(hits[j].name, sim[i].name) == 0)
				break;
		if (j < nhits)
			continue;
		XGROW(hits, alloc, nhits + 1);
		memset(&hits[nhits], 0, sizeof(hits[nhits]));
		hits[nhits].name = xstrdup(sim[i].name);
		hits[nhits].score = sim[i].score;
		hits[nhits].match = "similar";
		/* A name whose entry vanished since import is simply not shown. */
		if (describe(&hits[nhits], cli) < 0) {
			ipm_error_clear();
			free(hits[nhits].name);
			free(hits[nhits].registry);
			free(hits[nhits].description);
			continue;
		}
		nhits++;
	}
	rc = 0;
	for (i = 0; i < nhits; i++)
		if (hits[i].registry &&
		    (rc = ipm_db_entry_state(&hits[i].latest, &hits[i].installed, cli->ctx.db, hits[i].name,
					     hits[i].registry)) < 0)
			goto done;

	if (json) {
		cJSON *arr = cJSON_CreateArray();
		char *text;
		for (i = 0; i < nhits; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", hits[i].name);
			if (hits[i].registry)
				cJSON_AddStringToObject(o, "registry", hits[i].registry);
			else
				cJSON_AddNullToObject(o, "registry");
			if (hits[i].description)
				cJSON_AddStringToObject(o, "description", hits[i].description);
			else
				cJSON_AddNullToObject(o, "description");
			if (hits[i].latest)
				cJSON_AddStringToObject(o, "latest", hits[i].latest);
			else
				cJSON_AddNullToObject(o, "latest");
			if (hits[i].installed)
				cJSON_AddStringToObject(o, "installed", hits[i].installed);
			else
				cJSON_AddNullToObject(o, "installed");
			cJSON_AddNumberToObject(o, "score", hits[i].score);
			cJSON_AddStringToObject(o, "match", hits[i].match);
			cJSON_AddItemToArray(arr, o);
		}
		text = cJSON_Print(arr);
		printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(arr);
		goto done;
	}
	if (nhits == 0) {
		if (!cli->quiet)
			fprintf(stderr, "no package matches '%s'\n", query.ptr);
		goto done;
	}
	for (i = 0; i < nhits; i++)
		if (strlen(hits[i].name) > wname)
			wname = strlen(hits[i].name);
	for (i = 0; i < nhits; i++) {
		if (i == nfts && i > 0 && !cli->quiet)
			printf("similar names:\n");
		int other = hits[i].registry && strcmp(hits[i].registry, "bundled") != 0;
		/* registry text, shown escaped (see cli_buf_add_shown) */
		char *name = cli_shown_dup(hits[i].name);
		char *description = cli_shown_dup(hits[i].description);
		char *registry = cli_shown_dup(other ? hits[i].registry : NULL);
		printf("%s%-*s%s  %s%s%s%s", cli_bold(cli), (int)wname, name, cli_reset(cli),
		       description, other ? " [" : "", registry, other ? "]" : "");
		/* versions come from the registry too: only valid ones were imported */
		if (hits[i].latest && hits[i].installed && strcmp(hits[i].latest, hits[i].installed))
			printf("  (%s, installed %s)", hits[i].latest, hits[i].installed);
		else if (hits[i].latest)
			printf("  (%s%s)", hits[i].latest, hits[i].installed ? ", installed" : "");
		putchar('\n');
		free(name);
		free(description);
		free(registry);
	}
done:
	hits_free(hits, nhits);
	ipm_search_hits_free(fts, nfts);
	ipm_similar_matches_free(sim, nsim);
	ipm_buf_release(&query);
	return rc;
}
