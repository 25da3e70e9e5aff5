/* Version ordering and constraints: what picks the release ipm installs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "ipm/error.h"
#include "ipm/version.h"

static int sign(int x)
{
	return x < 0 ? -1 : x > 0;
}

static void test_valid(void **state)
{
	const char *good[] = { "1", "1.2.3", "2.0", "0.9.8-rc1", "2024.01", "1.0.0-rc.1", "1.2a", "1.0-rc-2" };
	const char *bad[] = { "", "1.", ".1", "1..2", "1.2-", "v 1", "1.2 ", "-rc1", "1/2", "1.0-.x", "1.0-x." };
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_true(ipm_version_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(ipm_version_valid(bad[i]));
	assert_false(ipm_version_valid(NULL));
}

/* Versions name store directories and fill fixed buffers: bounded, and
 * everything up to the bound compares and matches exactly. */
static void test_long_versions(void **state)
{
	char longest[IPM_VERSION_MAX + 2], nines[80], bound[80], above[128], constraint[128];

	memset(longest, '1', IPM_VERSION_MAX);
	longest[IPM_VERSION_MAX] = '\0';
	assert_true(ipm_version_valid(longest));
	assert_true(ipm_constraint_valid(longest));
	assert_int_equal(ipm_constraint_match(longest, longest), 1);
	longest[IPM_VERSION_MAX] = '1';
	longest[IPM_VERSION_MAX + 1] = '\0';
	assert_false(ipm_version_valid(longest));

	/* ^999...9 (70 digits) allows up to, not including, 1000...0 */
	memset(nines, '9', 70);
	nines[70] = '\0';
	snprintf(constraint, sizeof(constraint), "^%s", nines);
	snprintf(above, sizeof(above), "%s.5", nines);
	bound[0] = '1';
	memset(bound + 1, '0', 70);
	bound[71] = '\0';
	assert_int_equal(ipm_constraint_match(constraint, nines), 1);
	assert_int_equal(ipm_constraint_match(constraint, above), 1);
	assert_int_equal(ipm_constraint_match(constraint, bound), 0);
}

static void test_ordering(void **state)
{
	struct { const char *a, *b; int cmp; } cases[] = {
		{ "1.2.3", "1.2.3", 0 },
		{ "1.2", "1.2.0", 0 },         /* missing parts count as 0 */
		{ "1.10", "1.9", 1 },          /* numerically, not as strings */
		{ "1.2.10", "1.2.9", 1 },
		{ "2.0", "10.0", -1 },
		{ "1.007", "1.7", 0 },
		{ "1.0-rc1", "1.0", -1 },      /* a pre-release before its release */
		{ "1.0-rc1", "1.0-rc2", -1 },
		{ "1.0-rc.2", "1.0-rc.10", -1 },
		{ "1.0-alpha", "1.0-alpha.1", -1 },
		{ "1.0-1", "1.0-alpha", -1 },  /* numbers before strings */
		{ "1.2", "1.2a", -1 },         /* "0" (missing) < "2a"? no: compare 2 vs 2a */
		{ "1.a", "1.1", 1 },
		{ "2024.01", "2023.12", 1 },
		{ "0.9.8-rc1", "0.9.7", 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int c = sign(ipm_version_cmp(cases[i].a, cases[i].b));
		if (c != cases[i].cmp)
			fail_msg("cmp(%s, %s) = %d, want %d", cases[i].a, cases[i].b, c, cases[i].cmp);
		assert_int_equal(sign(ipm_version_cmp(cases[i].b, cases[i].a)), -cases[i].cmp);
	}
}

static void test_constraints(void **state)
{
	struct { const char *c, *v; int match; } cases[] = {
		{ "*", "0.1", 1 },
		{ "", "3.0", 1 },
		{ NULL, "3.0", 1 },
		{ "1.2.3", "1.2.3", 1 },
		{ "1.2.3", "1.2.4", 0 },
		{ "=1.2", "1.2.0", 1 },
		{ ">=1.2", "1.2", 1 },
		{ ">=1.2", "1.1.9", 0 },
		{ ">1.2", "1.2", 0 },
		{ ">1.2", "1.2.1", 1 },
		{ "<2", "1.99", 1 },
		{ "<2", "2.0", 0 },
		{ "<=2.1", "2.1", 1 },
		{ "<=2.1", "2.1.1", 0 },
		{ "!=1.3", "1.3", 0 },
		{ "!=1.3", "1.4", 1 },
		{ "^1.2", "1.2", 1 },
		{ "^1.2", "1.9.9", 1 },
		{ "^1.2", "2.0", 0 },
		{ "^1.2", "2.0-rc1", 0 },      /* not even a pre-release of the next major */
		{ "^1.2", "1.1", 0 },
		{ "^0.3", "0.3.5", 1 },
		{ "^0.3", "0.4", 0 },
		{ "^0.0.3", "0.0.4", 0 },
		{ "^9", "10.0", 0 },
		{ "^9", "9.9", 1 },
		{ "~1.2.3", "1.2.9", 1 },
		{ "~1.2.3", "1.3", 0 },
		{ "~1.2.3", "1.2.2", 0 },
		{ "~1.9", "1.10", 0 },
		{ "~1", "1.5", 1 },
		{ "~1", "2", 0 },
		{ ">=1.0, <2", "1.5", 1 },
		{ ">=1.0, <2", "2.0", 0 },
		{ ">= 1.0 , < 2 , != 1.5", "1.5", 0 },
		{ ">= 1.0 , < 2 , != 1.5", "1.6", 1 },
		{ "^1.2", "not a version", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int m = ipm_constraint_match(cases[i].c, cases[i].v);
		if (m != cases[i].match)
			fail_msg("match(%s, %s) = %d, want %d", cases[i].c ? cases[i].c : "NULL",
				 cases[i].v, m, cases[i].match);
	}
}

static void test_invalid_constraints(void **state)
{
	const char *bad[] = { ">=", "^", ">=1.2,", ",1.2", ">=1..2", "=>1.2", "^x.1", "1.2 3", ">>1", "~" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (ipm_constraint_valid(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(ipm_constraint_match(bad[i], "1.0"), IPM_EINVAL);
	}
	assert_true(ipm_constraint_valid("*"));
	assert_true(ipm_constraint_valid(">=1.0, <2"));
	assert_true(ipm_constraint_valid("^0.3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_long_versions),
		cmocka_unit_test(test_ordering),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_invalid_constraints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
