/*
 * libFuzzer target: versions and constraints (src/version.c). The input is
 * up to three strings separated by newlines; besides not crashing, the
 * results must be consistent:
 *   - ipm_version_cmp is antisymmetric, reflexive and transitive on valid
 *     versions;
 *   - a constraint is valid or not the same way every time it is used,
 *     and ipm_constraint_match says 0 or 1 for a valid one, IPM_EINVAL for
 *     another, 0 for a version that is not valid;
 *   - a valid version v satisfies "=v", ">=v", "<=v", "^v" and "~v" (when
 *     they are valid), and not "!=v", "<v" or ">v".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipm/error.h"
#include "ipm/version.h"

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void expect(int ok, const char *what, const char *a, const char *b)
{
	if (!ok) {
		fprintf(stderr, "fuzz_version: %s: '%s' '%s'\n", what, a, b ? b : "");
		abort();
	}
}

static void check_self(const char *v)
{
	static const char *const yes[] = { "=", ">=", "<=", "^", "~", "" };
	static const char *const no[] = { "!=", "<", ">" };
	char c[IPM_VERSION_MAX + 8];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(c, sizeof(c), "%s%s", yes[i], v);
		if (ipm_constraint_valid(c))
			expect(ipm_constraint_match(c, v) == 1, "a version does not satisfy", c, v);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(c, sizeof(c), "%s%s", no[i], v);
		if (ipm_constraint_valid(c))
			expect(ipm_constraint_match(c, v) == 0, "a version satisfies", c, v);
	}
}

static void check_constraint(const char *c, const char *v)
{
	int valid = ipm_constraint_valid(c), r = ipm_constraint_match(c, v);

	expect(valid == ipm_constraint_valid(c), "constraint validity changes", c, NULL);
	if (!valid)
		expect(r == IPM_EINVAL, "an invalid constraint matched", c, v);
	else if (!ipm_version_valid(v))
		expect(r == 0, "an invalid version matched", c, v);
	else
		expect(r == 0 || r == 1, "match is not 0 or 1", c, v);
	ipm_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *s[3] = { "", "", "" };
	size_t n = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *p = text; n < 3; n++) {
		char *nl = strchr(p, '\n');
		s[n] = p;
		if (!nl) {
			n++;
			break;
		}
		*nl = '\0';
		p = nl + 1;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!ipm_version_valid(s[i]))
			continue;
		expect(ipm_version_cmp(s[i], s[i]) == 0, "not equal to itself", s[i], NULL);
		check_self(s[i]);
		for (size_t j = 0; j < 3; j++) {
			if (!ipm_version_valid(s[j]))
				continue;
			int ij = sign(ipm_version_cmp(s[i], s[j]));
			expect(ij == -sign(ipm_version_cmp(s[j], s[i])), "not antisymmetric", s[i], s[j]);
			for (size_t k = 0; k < 3; k++) {
				if (!ipm_version_valid(s[k]))
					continue;
				if (ij <= 0 && ipm_version_cmp(s[j], s[k]) <= 0)
					expect(ipm_version_cmp(s[i], s[k]) <= 0, "not transitive", s[i], s[k]);
			}
		}
	}
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 3; j++)
			check_constraint(s[i], s[j]);
	free(text);
	return 0;
}
