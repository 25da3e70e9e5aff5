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
#include "ipm/xalloc.h"

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
	/* `ipm install foo.json` is a file: no package may be called that */
	assert_string_equal(parse_fails("{\"name\": \"foo.json\", \"description\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}"),
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

/* An archive's optional "size": a whole number of bytes, archives only. */
static void test_archive_size(void **state)
{
	struct ipm_entry e;
	const char *ok = "{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", "
			 "\"url\": \"https://x/x.tar.gz\", \"sha256\": \"" S64 "\", \"size\": 1512791}], " MIN_METHODS "}";

	assert_int_equal(ipm_entry_parse(&e, ok, strlen(ok), "x.json"), 0);
	assert_int_equal(e.releases[0].source.size, 1512791);
	struct ipm_source copy;
	ipm_source_copy(&copy, &e.releases[0].source);
	assert_int_equal(copy.size, 1512791);
	ipm_source_release(&copy);
	ipm_entry_release(&e);
	const char *bad[] = { "0", "-5", "1.5", "\"12\"", "1e300", "true" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = xasprintf("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", "
				       "\"url\": \"https://x\", \"sha256\": \"" S64 "\", \"size\": %s}], " MIN_METHODS "}", bad[i]);
		assert_string_equal(parse_fails(text), "field 'versions[0].size' in 'x.json' must be a whole number of bytes, 1 or more");
		free(text);
	}
	assert_string_equal(parse_fails("{\"name\": \"x\", \"description\": \"d\", \"versions\": [{\"version\": \"1\", \"git\": \"self\", \"size\": 10}], " MIN_METHODS "}"),
			    "field 'versions[0].size' in 'x.json' is only for archive sources");
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
		"'methods[0]' in 'x.json' is empty: it has no build or install step",
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

/* The only problem of text (checked with flags), or fails. */
static const char *only_problem(const char *text, unsigned flags, const char **hint)
{
	static char message[512], hint_text[512];
	struct ipm_problems problems = check_all(text, flags);
	if (problems.n != 1) {
		for (size_t i = 0; i < problems.n; i++)
			print_message("problem: %s\n", problems.items[i].message);
		fail_msg("%zu problems in '%s'", problems.n, text);
	}
	snprintf(message, sizeof(message), "%s", problems.items[0].message);
	snprintf(hint_text, sizeof(hint_text), "%s", problems.items[0].hint ? problems.items[0].hint : "(none)");
	if (hint)
		*hint = hint_text;
	ipm_problems_release(&problems);
	return message;
}

static void passes(const char *text, unsigned flags)
{
	struct ipm_problems problems = check_all(text, flags);
	for (size_t i = 0; i < problems.n; i++)
		print_message("problem: %s\n", problems.items[i].message);
	assert_int_equal(problems.n, 0);
}

#define NAMED(name) "{\"name\": \"" name "\", \"description\": \"d\", " MIN_VERSIONS ", " MIN_METHODS "}"
#define C10 "aaaaaaaaaa"

static void test_name_length(void **state)
{
	const char *hint;
	passes(NAMED(C10 C10 C10 C10 C10 C10 "abcd"), 0);   /* 64 */
	assert_string_equal(only_problem(NAMED(C10 C10 C10 C10 C10 C10 "abcde"), 0, &hint),
			    "field 'name' in 'x.json' is longer than 64 characters");
	assert_string_equal(hint, "shorten it: package names have at most 64 characters");
	assert_string_equal(only_problem("{\"name\": \"x\", \"description\": \"d\", \"depends\": [{\"name\": \""
					 C10 C10 C10 C10 C10 C10 "abcde\"}], " MIN_VERSIONS ", " MIN_METHODS "}", 0, NULL),
			    "field 'depends[0].name' in 'x.json' is not a valid package name");
}

#define LICENSED(license) "{\"name\": \"x\", \"description\": \"d\", \"license\": \"" license "\", " MIN_VERSIONS ", " MIN_METHODS "}"
#define NOT_SPDX "field 'license' in 'x.json' is not a valid SPDX license expression"

static void test_license(void **state)
{
	const char *hint;

	passes(LICENSED("MIT"), 0);
	passes(LICENSED("GPL-2.0"), 0);                 /* deprecated ids are still ids */
	passes(LICENSED("GPL-2.0+"), 0);
	passes(LICENSED("BSD-3-Clause WITH PCRE2-exception"), 0);
	passes(LICENSED("GPL-2.0-or-later WITH Classpath-exception-2.0 OR MIT"), 0);
	passes(LICENSED("(MIT OR Apache-2.0) AND (BSD-2-Clause OR ( Zlib AND ISC))"), 0);
	passes(LICENSED("LicenseRef-acme.Corp-1"), 0);
	passes(LICENSED("DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2"), 0);
	passes(LICENSED("0BSD"), 0);
	passes(LICENSED("zlib-acknowledgement"), 0);    /* lower case in the list itself */

	/* a near id, in another case or a typo away */
	assert_string_equal(only_problem(LICENSED("mit"), 0, &hint),
			    "field 'license' in 'x.json' names 'mit', which is not an SPDX license id");
	assert_string_equal(hint, "did you mean 'MIT'?");
	assert_string_equal(only_problem(LICENSED("Apache-2"), 0, &hint),
			    "field 'license' in 'x.json' names 'Apache-2', which is not an SPDX license id");
	assert_string_equal(hint, "did you mean 'Apache-2.0'?");
	assert_string_equal(only_problem(LICENSED("GPL-3.0 WITH GCC-exception-31"), 0, &hint),
			    "field 'license' in 'x.json' names 'GCC-exception-31', which is not an SPDX license exception id");
	assert_string_equal(hint, "did you mean 'GCC-exception-3.1'?");
	/* one license written as words */
	assert_string_equal(only_problem(LICENSED("Apache 2.0"), 0, &hint), NOT_SPDX);
	assert_string_equal(hint, "SPDX ids have no spaces: did you mean 'Apache-2.0'?");
	assert_string_equal(only_problem(LICENSED("GPL 3.0"), 0, &hint), NOT_SPDX);
	assert_string_equal(hint, "SPDX ids have no spaces: did you mean 'GPL-3.0'?");
	/* nothing near: where the list is */
	assert_string_equal(only_problem(LICENSED("BSD"), 0, &hint),
			    "field 'license' in 'x.json' names 'BSD', which is not an SPDX license id");
	assert_string_equal(hint, "the ids are listed at https://spdx.org/licenses/; a license of your own is \"LicenseRef-<name>\"");
	assert_string_equal(only_problem(LICENSED("MIT WITH Proprietary"), 0, NULL),
			    "field 'license' in 'x.json' names 'Proprietary', which is not an SPDX license exception id");
	assert_string_equal(only_problem(LICENSED("MIT WITH MIT"), 0, NULL),   /* a license is no exception */
			    "field 'license' in 'x.json' names 'MIT', which is not an SPDX license exception id");

	/* syntax */
	const char *broken[] = { "MIT AND", "(MIT", "MIT)", "()", "MIT OR OR Zlib", "MIT/X11", "GPL-2.0++",
				 "(MIT) WITH Classpath-exception-2.0", "MIT WITH", "AND MIT", "MIT Zlib", "+" };
	for (size_t i = 0; i < sizeof(broken) / sizeof(*broken); i++) {
		char *text = NULL;
		assert_true(asprintf(&text, LICENSED("%s"), broken[i]) > 0);
		assert_string_equal(only_problem(text, 0, &hint), NOT_SPDX);
		assert_string_equal(hint, "combine SPDX ids with AND, OR, WITH and parentheses, e.g. \"MIT OR Apache-2.0\"");
		free(text);
	}
	assert_string_equal(only_problem(LICENSED("MIT and Zlib"), 0, &hint), NOT_SPDX);
	assert_string_equal(hint, "operators are upper case: write 'and' as 'AND'");
	assert_string_equal(only_problem(LICENSED("GPL-2.0 With Classpath-exception-2.0"), 0, &hint), NOT_SPDX);
	assert_string_equal(hint, "operators are upper case: write 'With' as 'WITH'");
	assert_string_equal(only_problem(LICENSED("LicenseRef-x+"), 0, &hint), NOT_SPDX);
	assert_string_equal(hint, "a license of your own is \"LicenseRef-\" followed by letters, digits, '.' and '-'");
	assert_string_equal(only_problem(LICENSED("LicenseRef-"), 0, NULL), NOT_SPDX);
	assert_string_equal(only_problem(LICENSED("LicenseRef-a_b"), 0, NULL), NOT_SPDX);

	/* each unknown id is a problem of its own */
	struct ipm_problems problems = check_all(LICENSED("mit OR zlib"), 0);
	assert_int_equal(problems.n, 2);
	assert_string_equal(problems.items[0].message, "field 'license' in 'x.json' names 'mit', which is not an SPDX license id");
	assert_string_equal(problems.items[1].message, "field 'license' in 'x.json' names 'zlib', which is not an SPDX license id");
	assert_string_equal(problems.items[1].hint, "did you mean 'Zlib'?");
	ipm_problems_release(&problems);

	/* install refuses it too: one set of rules */
	assert_string_equal(parse_fails(LICENSED("mit")), "field 'license' in 'x.json' names 'mit', which is not an SPDX license id");
	assert_string_equal(ipm_error_hint_text(), "did you mean 'MIT'?");
}

#define METHODS(methods) "{\"name\": \"x\", \"description\": \"d\", " MIN_VERSIONS ", \"methods\": [" methods "]}"

static void test_empty_method(void **state)
{
	const char *hint;
	assert_string_equal(only_problem(METHODS("{}"), 0, &hint),
			    "'methods[0]' in 'x.json' is empty: it has no build or install step");
	assert_string_equal(hint, "a method lists \"build\" steps (optional) and \"install\" steps, e.g. "
			    "\"install\": [ \"make install PREFIX=$IPM_PREFIX\" ]");
	assert_string_equal(only_problem(METHODS("{\"name\": \"m\", \"build\": [], \"install\": []}"), 0, NULL),
			    "'methods[0]' in 'x.json' is empty: it has no build or install step");
	assert_string_equal(only_problem(METHODS("{\"build\": [\"make\"], \"install\": []}"), 0, &hint),
			    "'methods[0]' in 'x.json' has no install step");
	assert_string_equal(hint, "add \"install\": [ \"make install PREFIX=$IPM_PREFIX\" ] or similar");
	assert_string_equal(only_problem(METHODS("{\"install\": [\"i\"]}, {\"name\": \"b\", \"build\": [\"make\"]}"), 0, NULL),
			    "'methods[1]' in 'x.json' has no install step");
	passes(METHODS("{\"install\": [\"make install\"]}"), 0);
}

#define PUBLIC_ENTRY(homepage, license, source, requires) \
	"{\"name\": \"x\", \"description\": \"d\", \"homepage\": \"" homepage "\", " license \
	"\"versions\": [{\"version\": \"1.0\", " source "}], \"requires\": [" requires "], " MIN_METHODS "}"
#define GOOD_REQUIRES "{\"tool\": \"cc\", \"hints\": {\"debian\": \"sudo apt-get install build-essential\"}}"
#define GIT_SOURCE(url) "\"git\": \"" url "\", \"commit\": \"" C40 "\""
#define URL_SOURCE(url) "\"url\": \"" url "\", \"sha256\": \"" S64 "\""
#define HTTPS_ONLY "the public registry accepts only https:// sources; use IPM_MIRRORS to test against a local copy"
#define NO_CREDENTIALS "remove the 'user@' or 'user:password@' part: public sources are fetched anonymously"

static void test_public(void **state)
{
	const char *hint;

	/* what the public registry takes */
	passes(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("https://git.example.org/x.git"), GOOD_REQUIRES),
	       IPM_ENTRY_PUBLIC);
	passes(PUBLIC_ENTRY("https://x.org/a@b", "\"license\": \"MIT\", ", URL_SOURCE("https://example.org/x-1.0.tar.gz"), GOOD_REQUIRES),
	       IPM_ENTRY_PUBLIC);
	passes(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", "\"git\": \"self\"", GOOD_REQUIRES), IPM_ENTRY_PUBLIC);

	/* license: required there, not elsewhere */
	assert_string_equal(only_problem(PUBLIC_ENTRY("https://x.org", "", GIT_SOURCE("https://g.org/x"), GOOD_REQUIRES),
					 IPM_ENTRY_PUBLIC, &hint),
			    "missing required field 'license' in 'x.json'");
	assert_string_equal(hint, "the public registry needs an SPDX license expression, e.g. \"MIT\" (https://spdx.org/licenses/)");
	passes(PUBLIC_ENTRY("https://x.org", "", GIT_SOURCE("https://g.org/x"), GOOD_REQUIRES), 0);

	/* sources: https only */
	const char *not_https[] = { "http://g.org/x", "file:///srv/x", "/srv/x", "git@github.com:a/b", "ssh://g.org/x",
				    "HTTPS://g.org/x", "https://" };
	for (size_t i = 0; i < sizeof(not_https) / sizeof(*not_https); i++) {
		char *text = NULL;
		assert_true(asprintf(&text, PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("%s"), GOOD_REQUIRES),
				     not_https[i]) > 0);
		assert_string_equal(only_problem(text, IPM_ENTRY_PUBLIC, &hint),
				    "field 'versions[0].git' in 'x.json' must be an https:// URL");
		assert_string_equal(hint, HTTPS_ONLY);
		passes(text, 0);   /* local and private registries take them */
		free(text);
	}
	assert_string_equal(only_problem(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", URL_SOURCE("http://example.org/x.tgz"), GOOD_REQUIRES),
					 IPM_ENTRY_PUBLIC, &hint),
			    "field 'versions[0].url' in 'x.json' must be an https:// URL");
	assert_string_equal(hint, HTTPS_ONLY);
	assert_string_equal(only_problem(PUBLIC_ENTRY("http://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("https://g.org/x"), GOOD_REQUIRES),
					 IPM_ENTRY_PUBLIC, &hint),
			    "field 'homepage' in 'x.json' must be an https:// URL");
	assert_string_equal(hint, "the public registry links only to https:// pages");

	/* no credentials */
	assert_string_equal(only_problem(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("https://user@g.org/x"), GOOD_REQUIRES),
					 IPM_ENTRY_PUBLIC, &hint),
			    "field 'versions[0].git' in 'x.json' must not carry credentials");
	assert_string_equal(hint, NO_CREDENTIALS);
	assert_string_equal(only_problem(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", URL_SOURCE("https://u:secret@example.org/x.tgz"), GOOD_REQUIRES),
					 IPM_ENTRY_PUBLIC, NULL),
			    "field 'versions[0].url' in 'x.json' must not carry credentials");
	assert_string_equal(only_problem(PUBLIC_ENTRY("https://me@x.org", "\"license\": \"MIT\", ", GIT_SOURCE("https://g.org/x"), GOOD_REQUIRES),
					 IPM_ENTRY_PUBLIC, NULL),
			    "field 'homepage' in 'x.json' must not carry credentials");
	/* an '@' after the host is no user name */
	passes(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("https://g.org/x/@scope?a=b@c#d@e"), GOOD_REQUIRES),
	       IPM_ENTRY_PUBLIC);
	/* http with credentials: two things to fix */
	struct ipm_problems problems = check_all(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("http://u:p@g.org/x"), GOOD_REQUIRES),
						 IPM_ENTRY_PUBLIC);
	assert_int_equal(problems.n, 2);
	assert_string_equal(problems.items[0].message, "field 'versions[0].git' in 'x.json' must be an https:// URL");
	assert_string_equal(problems.items[1].message, "field 'versions[0].git' in 'x.json' must not carry credentials");
	ipm_problems_release(&problems);

	/* every tool has an install hint */
	assert_string_equal(only_problem(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("https://g.org/x"),
						      GOOD_REQUIRES ", {\"tool\": \"cmake\"}"),
					 IPM_ENTRY_PUBLIC, &hint),
			    "'requires[1]' in 'x.json' has no install hint");
	assert_string_equal(hint, "add \"hints\": {\"debian\": \"sudo apt-get install ...\"} (and fedora, alpine, arch, macos)");
	assert_string_equal(only_problem(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("https://g.org/x"),
						      "{\"tool\": \"cmake\", \"hints\": {}}"),
					 IPM_ENTRY_PUBLIC, NULL),
			    "'requires[0]' in 'x.json' has no install hint");
	passes(PUBLIC_ENTRY("https://x.org", "\"license\": \"MIT\", ", GIT_SOURCE("https://g.org/x"), "{\"tool\": \"cmake\"}"), 0);

	/* all of them at once, in file order */
	problems = check_all(PUBLIC_ENTRY("http://x.org", "", GIT_SOURCE("file:///srv/x"), "{\"tool\": \"cmake\"}"), IPM_ENTRY_PUBLIC);
	assert_int_equal(problems.n, 4);
	assert_string_equal(problems.items[0].message, "field 'homepage' in 'x.json' must be an https:// URL");
	assert_string_equal(problems.items[1].message, "missing required field 'license' in 'x.json'");
	assert_string_equal(problems.items[2].message, "field 'versions[0].git' in 'x.json' must be an https:// URL");
	assert_string_equal(problems.items[3].message, "'requires[0]' in 'x.json' has no install hint");
	ipm_problems_release(&problems);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_entry),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_archive_size),
		cmocka_unit_test(test_unknown_field),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_collects_all),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_license),
		cmocka_unit_test(test_empty_method),
		cmocka_unit_test(test_public),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
