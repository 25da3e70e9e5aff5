#ifndef IPM_TEST_UTIL_H
#define IPM_TEST_UTIL_H
/*
 * Set-up shared by the unit tests that run the engine against a private
 * home. Each tests/unit/test_*.c is its own program (mk/ipm.mk), so these
 * are static inline: a test that does not use one pays nothing for it.
 * Include after <cmocka.h>.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ipm/fs.h"
#include "ipm/xalloc.h"

static inline void tu_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/*
 * A fresh directory /tmp/ipm-test-<what>-XXXXXX (returned, caller frees)
 * holding an empty registry (registry/packages, registry.json), with
 * IPM_HOME, IPM_CACHE, IPM_PREFIX, IPM_CONFIG and IPM_REGISTRY pointing
 * inside it and IPM_MIRRORS unset.
 */
static inline char *tu_isolated_root(const char *what)
{
	char *root = xasprintf("/tmp/ipm-test-%s-XXXXXX", what);
	static const struct { const char *env, *rel; } dirs[] = {
		{ "IPM_HOME", "home" }, { "IPM_CACHE", "cache" }, { "IPM_PREFIX", "prefix" },
		{ "IPM_CONFIG", "config.json" }, { "IPM_REGISTRY", "registry" },
	};
	char *path;

	assert_non_null(mkdtemp(root));
	path = xasprintf("%s/registry/packages", root);
	assert_int_equal(ipm_mkdir_p(path, 0755), 0);
	free(path);
	path = xasprintf("%s/registry/registry.json", root);
	tu_write_file(path, "{ \"name\": \"bundled\" }\n");
	free(path);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		path = xasprintf("%s/%s", root, dirs[i].rel);
		setenv(dirs[i].env, path, 1);
		free(path);
	}
	unsetenv("IPM_MIRRORS");
	return root;
}
#endif
