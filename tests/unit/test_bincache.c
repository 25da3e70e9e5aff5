/* Binary caches (src/bincache.c): the manifest's parsing and its checks,
 * build keys, and a tree kept in the local cache, listed and extracted
 * back as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ipm/bincache.h"
#include "ipm/ctx.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"
#include "test_util.h"

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SUM "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int parse(const char *text, const char *expect)
{
	struct ipm_bincache_manifest m;
	int rc = ipm_bincache_manifest_parse(&m, text, strlen(text), expect);
	if (rc == 0)
		ipm_bincache_manifest_release(&m);
	return rc;
}

static void test_manifest_round_trip(void **state)
{
	struct ipm_bincache_manifest m;
	char *text = ipm_bincache_manifest_text(KEY_A, "{\"ipm_build\":1}", "jq", "1.7.1", "autotools", SUM, 12345);

	(void)state;
	assert_int_equal(ipm_bincache_manifest_parse(&m, text, strlen(text), KEY_A), 0);
	assert_string_equal(m.key, KEY_A);
	assert_string_equal(m.name, "jq");
	assert_string_equal(m.version, "1.7.1");
	assert_string_equal(m.method, "autotools");
	assert_string_equal(m.archive, KEY_A ".tar.zst");
	assert_string_equal(m.sha256, SUM);
	assert_int_equal(m.size, 12345);
	ipm_bincache_manifest_release(&m);
	/* served under another key: a valid manifest of another build */
	assert_int_equal(parse(text, KEY_B), IPM_EVERIFY);
	assert_non_null(strstr(ipm_error_message(), "another build"));
	free(text);
}

static void test_manifest_malformed(void **state)
{
	static const struct { const char *text, *why; } cases[] = {
		{ "not json", "not a JSON object" },
		{ "[]", "not a JSON object" },
		{ "{\"ipm_binary_cache\": 2, \"key\": \"" KEY_A "\"}", "\"ipm_binary_cache\" is not 1" },
		{ "{\"ipm_binary_cache\": 1, \"key\": \"abc\"}", "\"key\" is not 64 hex digits" },
		{ "{\"ipm_binary_cache\": 1, \"key\": \"" KEY_A "\", \"version\": \"1\"}", "no \"name\"" },
		{ "{\"ipm_binary_cache\": 1, \"key\": \"" KEY_A "\", \"name\": \"x\", \"version\": \"1\","
		  " \"sha256\": \"zz\"}", "\"sha256\" is not 64 hex digits" },
		{ "{\"ipm_binary_cache\": 1, \"key\": \"" KEY_A "\", \"name\": \"x\", \"version\": \"1\","
		  " \"sha256\": \"" SUM "\", \"size\": -1}", "\"size\" is not a number" },
		{ "{\"ipm_binary_cache\": 1, \"key\": \"" KEY_A "\", \"name\": \"x\", \"version\": \"1\","
		  " \"sha256\": \"" SUM "\", \"size\": 1, \"archive\": \"../../etc/passwd\"}",
		  "\"archive\" is not \"<key>.tar.zst\"" },
		{ "{\"ipm_binary_cache\": 1, \"key\": \"" KEY_A "\", \"name\": \"x\", \"version\": \"1\","
		  " \"sha256\": \"" SUM "\", \"size\": 1, \"archive\": \"" KEY_B ".tar.zst\"}",
		  "\"archive\" is not \"<key>.tar.zst\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].text, NULL), IPM_EINVAL);
		if (!strstr(ipm_error_message(), cases[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, ipm_error_message(), cases[i].why);
		assert_non_null(strstr(ipm_error_message(), "malformed manifest"));
	}
}

static void test_key_of(void **state)
{
	char a[65], b[65], c[65];

	(void)state;
	ipm_bincache_key_of(a, "{\"prefix\":\"/opt/a\"}");
	ipm_bincache_key_of(b, "{\"prefix\":\"/opt/a\"}");
	ipm_bincache_key_of(c, "{\"prefix\":\"/opt/b\"}");
	assert_int_equal(strlen(a), 64);
	assert_true(ipm_is_hex(a, 64));
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
}

/* A plan item to key: name, one method, a commit; deps by name. */
static void item_init(struct ipm_plan_item *it, struct ipm_release *rel, struct ipm_method *m, const char *name,
		      const char *commit, const char *step, struct ipm_depend *deps, size_t ndeps)
{
	static char *builds[8][1];
	static size_t next;
	char **build = builds[next++ % 8];
	memset(it, 0, sizeof(*it));
	memset(rel, 0, sizeof(*rel));
	memset(m, 0, sizeof(*m));
	build[0] = (char *)step;
	m->name = (char *)"make";
	m->build = build;
	m->nbuild = 1;
	rel->version = (char *)"1.0";
	it->entry.name = (char *)name;
	it->entry.methods = m;
	it->entry.nmethods = 1;
	it->entry.depends = deps;
	it->entry.ndepends = ndeps;
	it->release = rel;
	it->source.kind = IPM_SOURCE_GIT;
	it->source.commit = (char *)commit;
}

static void test_keys(void **state)
{
	char *root = tu_isolated_root("bincache-keys");
	struct ipm_ctx ctx;
	struct ipm_plan_item items[2];
	struct ipm_release rels[2];
	struct ipm_method methods[2];
	struct ipm_depend dep = { .name = (char *)"lib" };
	struct ipm_plan plan = { items, 2 };
	char *first_lib, *first_app;

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	assert_int_equal(ipm_ctx_open(&ctx, "ipm", NULL, IPM_NEED_DB_READ), 0);
	item_init(&items[0], &rels[0], &methods[0], "lib", "1111111111111111111111111111111111111111", "make", NULL, 0);
	item_init(&items[1], &rels[1], &methods[1], "app", "2222222222222222222222222222222222222222", "make", &dep, 1);
	assert_int_equal(ipm_bincache_keys(&ctx, &plan), 0);
	assert_non_null(items[0].bincache->key);
	assert_non_null(items[1].bincache->key);
	/* the dependency's key is part of the dependent's input */
	assert_non_null(strstr(items[1].bincache->input, items[0].bincache->key));
	assert_non_null(strstr(items[1].bincache->input, ctx.cfg.prefix));
	first_lib = xstrdup(items[0].bincache->key);
	first_app = xstrdup(items[1].bincache->key);

	/* another step of the library: both keys change */
	for (int i = 0; i < 2; i++) {
		ipm_bincache_choice_free(items[i].bincache);
		items[i].bincache = NULL;
	}
	item_init(&items[0], &rels[0], &methods[0], "lib", "1111111111111111111111111111111111111111", "make -j1",
		  NULL, 0);
	item_init(&items[1], &rels[1], &methods[1], "app", "2222222222222222222222222222222222222222", "make", &dep, 1);
	assert_int_equal(ipm_bincache_keys(&ctx, &plan), 0);
	assert_string_not_equal(items[0].bincache->key, first_lib);
	assert_string_not_equal(items[1].bincache->key, first_app);

	/* a dependency neither planned nor installed with a key: no key */
	for (int i = 0; i < 2; i++) {
		ipm_bincache_choice_free(items[i].bincache);
		items[i].bincache = NULL;
	}
	plan.items = &items[1];
	plan.n = 1;
	assert_int_equal(ipm_bincache_keys(&ctx, &plan), 0);
	assert_null(items[1].bincache->key);
	assert_non_null(strstr(items[1].bincache->why_build, "'lib' has no build key"));
	ipm_bincache_choice_free(items[1].bincache);

	free(first_lib);
	free(first_app);
	ipm_ctx_close(&ctx);
	ipm_rm_rf(root);
	free(root);
}

static void test_save_list_extract(void **state)
{
	char *root = tu_isolated_root("bincache-save");
	char *tree = xasprintf("%s/tree", root), *out = xasprintf("%s/out", root);
	char *path = NULL, *text = NULL, *manifest = NULL;
	struct ipm_ctx ctx;
	struct ipm_bincache_entry *entries = NULL;
	struct ipm_bincache_choice choice = { 0 };
	size_t n = 0, len = 0;
	char target[64];
	ssize_t tn;

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	assert_int_equal(ipm_ctx_open(&ctx, "ipm", NULL, 0), 0);
	path = xasprintf("%s/bin", tree);
	assert_int_equal(ipm_mkdir_p(path, 0755), 0);
	free(path);
	path = xasprintf("%s/bin/tool", tree);
	tu_write_file(path, "#!/bin/sh\necho tool\n");
	chmod(path, 0755);
	free(path);
	path = xasprintf("%s/bin/alias", tree);
	assert_int_equal(symlink("tool", path), 0);
	free(path);

	assert_int_equal(ipm_bincache_save(&ctx, KEY_A, "{\"ipm_build\":1}", "tool", "2.0", "make", tree), 0);
	assert_int_equal(ipm_bincache_list(&entries, &n, ctx.cfg.cache), 0);
	assert_int_equal(n, 1);
	assert_string_equal(entries[0].key, KEY_A);
	assert_string_equal(entries[0].name, "tool");
	assert_string_equal(entries[0].version, "2.0");
	assert_true(entries[0].bytes > 0);
	ipm_bincache_entries_free(entries, n);

	/* a local hit, fetched (checked) and extracted as it was */
	path = xasprintf("%s/binary/%s.json", ctx.cfg.cache, KEY_A);
	assert_int_equal(ipm_file_read(&manifest, &len, path), 0);
	free(path);
	choice.key = (char *)KEY_A;
	choice.from = (char *)"local";
	choice.manifest = manifest;
	choice.manifest_len = len;
	assert_int_equal(ipm_bincache_fetch(&ctx, &choice), 0);
	assert_int_equal(ipm_bincache_extract(&ctx, &choice, out), 0);
	path = xasprintf("%s/bin/tool", out);
	assert_int_equal(ipm_file_read(&text, NULL, path), 0);
	assert_string_equal(text, "#!/bin/sh\necho tool\n");
	assert_int_equal(access(path, X_OK), 0);
	free(path);
	path = xasprintf("%s/bin/alias", out);
	tn = readlink(path, target, sizeof(target) - 1);
	assert_int_equal(tn, 4);
	target[tn] = '\0';
	assert_string_equal(target, "tool");
	free(path);

	/* a damaged local archive: refused, and the entry dropped */
	path = xasprintf("%s/binary/%s.tar.zst", ctx.cfg.cache, KEY_A);
	tu_write_file(path, "garbage");
	assert_int_equal(ipm_bincache_fetch(&ctx, &choice), IPM_EVERIFY);
	assert_false(ipm_path_exists(path));
	free(path);

	/* an absolute link cannot be extracted: not kept */
	path = xasprintf("%s/bin/abs", tree);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	free(path);
	assert_int_equal(ipm_bincache_save(&ctx, KEY_B, NULL, "tool", "2.0", "make", tree), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "absolute path '/etc/passwd'"));

	assert_int_equal(ipm_bincache_remove(ctx.cfg.cache, KEY_A), 0);
	assert_int_equal(ipm_bincache_list(&entries, &n, ctx.cfg.cache), 0);
	assert_int_equal(n, 0);
	ipm_bincache_entries_free(entries, n);

	free(text);
	free(manifest);
	free(tree);
	free(out);
	ipm_ctx_close(&ctx);
	ipm_rm_rf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_round_trip),
		cmocka_unit_test(test_manifest_malformed),
		cmocka_unit_test(test_key_of),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_save_list_extract),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
