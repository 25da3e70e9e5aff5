/* Entry parsing and validation: the errors a registry contributor sees. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "ipm/entry.h"
#include "ipm/error.h"

#define C40 "0123456789abcdef0123456789abcdef01234567"
#define S64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *full_entry =
	"{\n"
	"  \"$schema\": \"../schema.json\",\n"
	"  \"name\": \"zlib\",\n"
	"  \"description\": \"compression library\",\n"
	"  \"homepage\": \"https://zlib.net\",\n"
	"  \"license\": \"Zlib\",\n"
	"  \"keywords\": [\"compression\", \"deflate\"],\n"
	"  \"repo\": \"madler/zlib\",\n"
	"  \"versions\": [\n"
	"    { \"version\": \"1.2.13\", \"url\": \"https://zlib.net/zlib-1.2.13.tar.gz\", \"sha256\": \"" S64 "\" },\n"
	"    { \"version\": \"1.3.1\", \"git\": \"https://github.com/madler/zlib\", \"commit\": \"" C40 "\", \"tag\": \"v1.3.1\" },\n"
	"    { \"version\": \"1.3\", \"git\": \"self\", \"subdir\": \"contrib/zlib\" }\n"
	"  ],\n"
	"  \"requires\": [ { \"tool\": \"cc\", \"version\": \">=4\", \"hints\": { \"debian\": \"apt-get install gcc\" } } ],\n"
	"  \"depends\": [ { \"name\": \"libfoo\", \"version\": \"^1.0\" }, { \"name\": \"bar\" } ],\n"
	"  \"methods\": [\n"
	"    { \"name\": \"make\", \"build\": [\"./configure --prefix=$IPM_PREFIX\", \"make\"], \"install\": [\"make install\"] },\n"
	"    { \"install\": [\"cp zlib.h $IPM_PREFIX/include\"] }\n"
	"  ]\n"
	"}\n";

static void test_full_entry(void **state)
{
	struct ipm_entry e;
	assert_int_equal(ipm_entry_parse(&e, full_entry, strlen(full_entry), "zlib.json"), 0);
	assert_string_equal(e.name, "zlib");
	assert_string_equal(e.description, "compression library");
	assert_string_equal(e.homepage, "https://zlib.net");
	assert_string_equal(e.license, "Zlib");
	assert_string_equal(e.repo, "madler/zlib");
	assert_int_equal(e.nkeywords, 2);
	assert_string_equal(e.keywords[1], "deflate");
	/* newest first */
	assert_int_equal(e.nreleases, 3);
	assert_string_equal(e.releases[0].version, "1.3.1");
	assert_int_equal(e.releases[0].source.kind, IPM_SOURCE_GIT);
	assert_string_equal(e.releases[0].source.commit, C40);
	assert_string_equal(e.releases[0].source.tag, "v1.3.1");
	assert_string_equal(e.releases[1].version, "1.3");
	assert_int_equal(e.releases[1].source.kind, IPM_SOURCE_SELF);
	assert_null(e.releases[1].source.git);
	assert_string_equal(e.releases[1].source.subdir, "contrib/zlib");
	assert_string_equal(e.releases[2].version, "1.2.13");
	assert_int_equal(e.releases[2].source.kind, IPM_SOURCE_ARCHIVE);
	assert_string_equal(e.releases[2].source.sha256, S64);
	assert_int_equal(e.nrequires, 1);
	assert_string_equal(e.requires[0].tool, "cc");
	assert_string_equal(e.requires[0].constraint, ">=4");
	assert_int_equal(e.requires[0].nhints, 1);
	assert_string_equal(e.requires[0].hints[0].os, "debian");
	assert_int_equal(e.ndepends, 2);
	assert_string_equal(e.depends[0].constraint, "^1.0");
	assert_null(e.depends[1].constraint);
	assert_int_equal(e.nmethods, 2);
	assert_string_equal(e.methods[0].name, "make");
	assert_int_equal(e.methods[0].nbuild, 2);
	assert_string_equal(e.methods[1].name, "method-2");
	assert_int_equal(e.methods[1].nbuild, 0);

	assert_string_equal(ipm_entry_find_release(&e, NULL)->version, "1.3.1");
	assert_string_equal(ipm_entry_find_release(&e, "<1.3.1")->version, "1.3");
	assert_string_equal(ipm_entry_find_release(&e, "~1.2")->version, "1.2.13");
	assert_null(ipm_entry_find_release(&e, ">=2"));
	assert_null(ipm_entry_find_release(&e, ">=>2"));
	assert_string_equal(ipm_entry_find_method(&e, NULL)->name, "make");
	assert_string_equal(ipm_entry_find_method(&e, "method-2")->name, "method-2");
	assert_null(ipm_entry_find_method(&e, "cmake"));

	char *d = ipm_source_describe(&e.releases[0].source);
	assert_string_equal(d, "git https://github.com/madler/zlib @ " C40);
	free(d);
	d = ipm_source_describe(&e.releases[2].source);
	assert_string_equal(d, "https://zlib.net/zlib-1.2.13.tar.gz sha256:" S64);
	free(d);
	struct ipm_source copy;
	ipm_source_copy(&copy, &e.releases[1].source);
	assert_int_equal(copy.kind, IPM_SOURCE_SELF);
	assert_string_equal(copy.subdir, "contrib/zlib");
	ipm_source_release(&copy);
	ipm_entry_release(&e);
	ipm_entry_release(&e);   /* released twice is harmless */
}

/* Parses text expecting failure; returns the message. */
static const char *parse_fails(const char *text)
{
	struct ipm_entry e;
	int rc = ipm_entry_parse(&e, text, strlen(text), "x.json");
	if (rc != IPM_EINVAL)
		fail_msg("'%s' parsed (rc %d)", text, rc);
	assert_null(e.name);   /* released */
	return ipm_error_message();
}

#define MIN_VERSIONS "\"versions\": [{\"version\": \"1.0\", \"git\": \"https://x/y\", \"commit\": \"" C40 "\"}]"
#define MIN_METHODS "\"methods\": [{\"install\": [\"make install\"]}]"

static void test_minimal(void **state)
{
	const char *text = "{\"name\": \"x\", \"description\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}";
	struct ipm_entry e;
	assert_int_equal(ipm_entry_parse(&e, text, strlen(text), "x.json"), 0);
	assert_string_equal(e.methods[0].name, "default");
	assert_null(e.repo);
	assert_int_equal(ipm_entry_check_filename(&e, "registry/packages/x.json"), 0);
	assert_int_equal(ipm_entry_check_filename(&e, "registry/packages/y.json"), IPM_EINVAL);
	ipm_entry_release(&e);
}

static void test_missing_fields(void **state)
{
	assert_string_equal(parse_fails("{\"description\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "missing required field 'name' in 'x.json'");
	assert_string_equal(parse_fails("{\"name\": \"x\", " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "missing required field 'description' in 'x.json'");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", " MIN_METHODS "}"),
			    "missing required field 'versions' in 'x.json'");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", " MIN_VERSIONS "}"),
			    "missing required field 'methods' in 'x.json'");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [], " MIN_METHODS "}"),
			    "field 'versions' in 'x.json' must not be empty");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", " MIN_VERSIONS ", \"methods\": []}"),
			    "field 'methods' in 'x.json' must not be empty");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", " MIN_VERSIONS
					", \"methods\": [{\"build\": [\"make\"]}]}"),
			    "'methods[0]' in 'x.json' has no install step");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"git\": \"https://x\", \"commit\": \"" C40 "\"}], " MIN_METHODS "}"),
			    "missing required field 'versions[0].version' in 'x.json'");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"git\": \"https://x\"}], " MIN_METHODS "}"),
			    "missing required field 'versions[0].commit' in 'x.json'");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"url\": \"https://x\"}], " MIN_METHODS "}"),
			    "missing required field 'versions[0].sha256' in 'x.json'");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\"}], " MIN_METHODS "}"),
			    "'versions[0]' in 'x.json' has no source");
	assert_non_null(ipm_error_hint_text());
}

static void test_bad_values(void **state)
{
	/* a 39-digit commit and a 63-digit sha256 */
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"git\": \"https://x\", \"commit\": \"0123456789abcdef0123456789abcdef0123456\"}], " MIN_METHODS "}"),
			    "field 'versions[0].commit' in 'x.json' must be a full commit id of 40 hex digits");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"url\": \"https://x\", \"sha256\": \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"}], " MIN_METHODS "}"),
			    "field 'versions[0].sha256' in 'x.json' must be 64 hex digits");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"git\": \"https://x\", \"commit\": \"zz23456789abcdef0123456789abcdef01234567\"}], " MIN_METHODS "}"),
			    "field 'versions[0].commit' in 'x.json' must be a full commit id of 40 hex digits");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"git\": \"self\", \"commit\": \"" C40 "\"}], " MIN_METHODS "}"),
			    "field 'versions[0].commit' in 'x.json' is not allowed with \"git\": \"self\"");
	assert_string_equal(parse_fails("{\"name\": \"Bad Name\", \"description\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "field 'name' in 'x.json' is not a valid package name");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": 3, " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "field 'description' in 'x.json' must be a string");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"repo\": \"noslash\", " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "field 'repo' in 'x.json' must be \"owner/repo\"");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1..0\", \"git\": \"self\"}], " MIN_METHODS "}"),
			    "field 'versions[0].version' in 'x.json' is not a valid version");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"git\": \"self\", \"subdir\": \"../up\"}], " MIN_METHODS "}"),
			    "field 'versions[0].subdir' in 'x.json' must be a relative path inside the source");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"depends\": [{\"name\": \"y\", \"version\": \">>1\"}], " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "field 'depends[0].version' in 'x.json' is not a valid version constraint");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"depends\": [{\"name\": \"x\"}], " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "'x' depends on itself in 'x.json'");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": ["
					"{\"version\": \"1.0\", \"git\": \"self\"}, {\"version\": \"1\", \"git\": \"self\"}], " MIN_METHODS "}"),
			    "version '1' appears twice in 'x.json'");
	assert_string_equal(parse_fails("[1, 2]"), "'x.json' must hold a JSON object");
}

static void test_unknown_field(void **state)
{
	assert_string_equal(parse_fails("{\"name\": \"x\", \"descripton\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "unknown field 'descripton' in 'x.json'");
	assert_string_equal(ipm_error_hint_text(), "did you mean 'description'?");
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"git\": \"self\", \"comit\": \"a\"}], " MIN_METHODS "}"),
			    "unknown field 'versions[0].comit' in 'x.json'");
	assert_string_equal(ipm_error_hint_text(), "did you mean 'commit'?");
	/* far from every known field: the hint lists them */
	assert_string_equal(parse_fails("{\"name\": \"x\", \"zzzzzzzz\": 1, \"description\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "unknown field 'zzzzzzzz' in 'x.json'");
	assert_non_null(strstr(ipm_error_hint_text(), "known fields: name, description"));
	assert_string_equal(parse_fails("{\"name\": \"x\", \"name\": \"y\", \"description\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}"),
			    "duplicate field 'name' in 'x.json'");
}

static void test_malformed_json(void **state)
{
	/* the missing comma is noticed at the start of line 3, column 3 */
	assert_string_equal(parse_fails("{\n  \"name\": \"x\"\n  \"description\": \"d\"\n}"),
			    "malformed JSON in 'x.json' at line 3, column 3");
	assert_string_equal(parse_fails(""), "malformed JSON in 'x.json' at line 1, column 1");
	assert_string_equal(parse_fails("{\"name\": \"x\",\n\t\"a\": [1, 2,]}"),
			    "malformed JSON in 'x.json' at line 2, column 13");
	assert_string_equal(parse_fails("{} {}"), "malformed JSON in 'x.json' at line 1, column 4");
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/ipm-test-entry-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("{\n\"name\": \"x\",\n\"description\": \"d\",\n\"versions\": [}\n", f);
	fclose(f);
	struct ipm_entry e;
	assert_int_equal(ipm_entry_load(&e, path), IPM_EINVAL);
	char *want = NULL;
	assert_true(asprintf(&want, "malformed JSON in '%s' at line 4, column 14", path) > 0);
	assert_string_equal(ipm_error_message(), want);
	free(want);
	unlink(path);
	assert_true(ipm_entry_load(&e, path) < 0);   /* missing file */
}

/* Checks text collecting every problem; returns them (caller releases). */
static struct ipm_problems check_all(const char *text, unsigned flags)
{
	struct ipm_problems problems = { 0 };
	struct ipm_entry e;
	int rc = ipm_entry_check(&e, &problems, text, strlen(text), "x.json", flags);
	if (problems.n == 0 && rc == 0)
		ipm_entry_release(&e);
	else
		assert_int_equal(rc, IPM_EINVAL);
	return problems;
}

static void test_collects_all(void **state)
{
	/* three independent mistakes: a bad name, a short commit, a method without install */
	const char *text = "{\n"
		"  \"name\": \"Bad Name\",\n"
		"  \"description\": \"d\",\n"
		"  \"versions\": [ { \"version\": \"1.0\", \"git\": \"https://x/y\", \"commit\": \"abc\" } ],\n"
		"  \"methods\": [ { \"build\": [\"make\"] } ]\n"
		"}\n";
	struct ipm_problems problems = { 0 };
	struct ipm_entry e;
	ipm_problems_add(&problems, NULL, "earlier %d", 1);   /* problems are appended */
	assert_int_equal(ipm_entry_check(&e, &problems, text, strlen(text), "x.json", 0), IPM_EINVAL);
	assert_null(e.name);
	assert_int_equal(problems.n, 4);
	assert_string_equal(problems.items[0].message, "earlier 1");
	assert_null(problems.items[0].hint);
	assert_string_equal(problems.items[1].message, "field 'name' in 'x.json' is not a valid package name");
	assert_non_null(problems.items[1].hint);
	assert_string_equal(problems.items[2].message,
			    "field 'versions[0].commit' in 'x.json' must be a full commit id of 40 hex digits");
	assert_string_equal(problems.items[2].hint, "get it with: git rev-parse HEAD");
	assert_string_equal(problems.items[3].message, "'methods[0]' in 'x.json' has no install step");
	/* the error slot holds the first of this entry's problems */
	assert_string_equal(ipm_error_message(), "field 'name' in 'x.json' is not a valid package name");
	ipm_problems_release(&problems);
	assert_int_equal(problems.n, 0);
	ipm_problems_release(&problems);   /* twice is harmless */

	/* ipm_entry_parse stops being quiet at the same first problem */
	assert_string_equal(parse_fails(text), "field 'name' in 'x.json' is not a valid package name");

	/* a typo'd field is one problem, not also a missing one */
	problems = check_all("{\"name\": \"x\", \"descripton\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}", 0);
	assert_int_equal(problems.n, 1);
	assert_string_equal(problems.items[0].message, "unknown field 'descripton' in 'x.json'");
	ipm_problems_release(&problems);
	problems = check_all("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"gti\": \"https://x\", \"commit\": \"" C40 "\"}], " MIN_METHODS "}", 0);
	assert_int_equal(problems.n, 1);
	assert_string_equal(problems.items[0].message, "unknown field 'versions[0].gti' in 'x.json'");
	ipm_problems_release(&problems);

	/* every release, tool and method is looked at */
	problems = check_all("{\"name\": \"x\", \"description\": 3, \"versions\": ["
			     "{\"version\": \"1..0\", \"git\": \"self\"}, {\"version\": \"2\"}, {\"version\": \"3\", \"git\": \"self\", \"subdir\": \"/abs\"}],"
			     " \"requires\": [{\"tool\": \"a b\"}, 7],"
			     " \"depends\": [{\"name\": \"x\"}, {\"name\": \"y\"}, {\"name\": \"y\"}],"
			     " \"methods\": [{\"install\": []}, {\"install\": [\"i\"], \"extra\": 1}]}", 0);
	const char *want[] = {
		"field 'description' in 'x.json' must be a string",
		"field 'versions[0].version' in 'x.json' is not a valid version",
		"'versions[1]' in 'x.json' has no source",
		"field 'versions[2].subdir' in 'x.json' must be a relative path inside the source",
		"field 'requires[0].tool' in 'x.json' must be a program name (no '/' or spaces)",
		"'requires[1]' in 'x.json' must be an object",
		"'x' depends on itself in 'x.json'",
		"dependency 'y' appears twice in 'x.json'",
		"'methods[0]' in 'x.json' has no install step",
		"unknown field 'methods[1].extra' in 'x.json'",
	};
	for (size_t i = 0; i < problems.n && i < sizeof(want) / sizeof(*want); i++)
		assert_string_equal(problems.items[i].message, want[i]);
	assert_int_equal(problems.n, sizeof(want) / sizeof(*want));
	ipm_problems_release(&problems);

	/* malformed JSON is one problem, with its position */
	problems = check_all("{\n  \"name\": \"x\",,\n}", 0);
	assert_int_equal(problems.n, 1);
	assert_string_equal(problems.items[0].message, "malformed JSON in 'x.json' at line 2, column 16");
	ipm_problems_release(&problems);

	/* a good entry: no problems, *problems untouched */
	problems = check_all(full_entry, 0);
	assert_int_equal(problems.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_entry),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_field),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_collects_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
