/* URL-prefix rewriting (IPM_MIRRORS and the config's "mirrors"). */
#include <stdlib.h>
#include <string.h>

#include "ipm/config.h"
#include "ipm/error.h"
#include "ipm/xalloc.h"

#define MIRRORS_HINT "write mirrors as space-separated FROM=TO URL prefixes"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ipm_mirrors_parse(struct ipm_mirror **list, size_t *n, const char *spec)
{
	struct ipm_mirror *parsed = NULL;
	size_t nparsed = 0, alloc = 0;
	char *item = NULL;
	int rc = 0;

	/* Everything is validated before anything is appended, so a bad spec
	 * leaves *list as it was. */
	const char *p = spec ? spec : "";
	for (;;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		const char *end = p;
		while (*end && !is_space(*end))
			end++;
		item = xstrndup(p, (size_t)(end - p));
		p = end;
		char *eq = strchr(item, '=');
		if (!eq) {
			rc = ipm_error_set(IPM_EINVAL, "mirror '%s' is not FROM=TO", item);
			ipm_error_hint(MIRRORS_HINT);
			goto done;
		}
		if (eq == item) {
			rc = ipm_error_set(IPM_EINVAL, "mirror '%s' has an empty FROM prefix", item);
			ipm_error_hint(MIRRORS_HINT);
			goto done;
		}
		XGROW(parsed, alloc, nparsed + 1);
		parsed[nparsed].from = xstrndup(item, (size_t)(eq - item));
		parsed[nparsed].to = xstrdup(eq + 1);
		nparsed++;
		free(item);
		item = NULL;
	}

	if (nparsed) {
		size_t need = *n + nparsed;
		*list = xrealloc(*list, need * sizeof(**list));
		memcpy(*list + *n, parsed, nparsed * sizeof(*parsed));
		*n = need;
		nparsed = 0;
	}
done:
	for (size_t i = 0; i < nparsed; i++) {
		free(parsed[i].from);
		free(parsed[i].to);
	}
	free(parsed);
	free(item);
	return rc;
}

const struct ipm_mirror *ipm_mirrors_match(const struct ipm_mirror *list, size_t n, const char *url)
{
	const struct ipm_mirror *best = NULL;
	size_t best_len = 0;

	if (!url)
		return NULL;
	/* Longest FROM wins, so a specific mirror can override a general one;
	 * among equal lengths the first listed (IPM_MIRRORS before config) wins. */
	for (size_t i = 0; i < n; i++) {
		size_t len = list[i].from ? strlen(list[i].from) : 0;
		if (len > best_len && strncmp(url, list[i].from, len) == 0) {
			best = &list[i];
			best_len = len;
		}
	}
	return best;
}

char *ipm_mirrors_apply(const struct ipm_mirror *list, size_t n, const char *url)
{
	const struct ipm_mirror *best = ipm_mirrors_match(list, n, url);

	if (!url)
		return NULL;
	if (!best)
		return xstrdup(url);
	return xasprintf("%s%s", best->to ? best->to : "", url + strlen(best->from));
}
