/*
 * Versions and constraints (rules in include/ipm/version.h).
 *
 * Versions are compared without allocating: both strings are walked part by
 * part, so sorting a registry's releases or filtering them by a constraint
 * costs no memory.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ipm/error.h"
#include "ipm/version.h"

static int is_part_char(char c)
{
	return isalnum((unsigned char)c);
}

/* Dot-separated non-empty alphanumeric parts, ending at NUL or `stop`. */
static const char *scan_parts(const char *s, char stop)
{
	for (;;) {
		const char *start = s;
		while (is_part_char(*s))
			s++;
		if (s == start)
			return NULL;
		if (*s != '.')
			break;
		s++;
	}
	if (*s != '\0' && *s != stop)
		return NULL;
	return s;
}

int ipm_version_valid(const char *v)
{
	const char *end;

	if (!v || !*v || strlen(v) > IPM_VERSION_MAX)
		return 0;
	end = scan_parts(v, '-');
	if (!end)
		return 0;
	if (*end == '-') {
		/* the pre-release may itself contain '-' ("rc-1") */
		const char *p = end + 1;
		if (!*p)
			return 0;
		for (; *p; p++)
			if (!is_part_char(*p) && *p != '.' && *p != '-')
				return 0;
		if (end[1] == '.' || end[1] == '-' || p[-1] == '.' || p[-1] == '-')
			return 0;
	}
	return 1;
}

struct part {
	const char *s;
	size_t len;
};

/* Next part of a dot/dash separated list; len 0 at the end. */
static const char *next_part(struct part *p, const char *s, const char *end)
{
	p->s = s;
	while (s < end && *s != '.' && *s != '-')
		s++;
	p->len = (size_t)(s - p->s);
	if (s < end)
		s++;
	return s;
}

static int all_digits(const struct part *p)
{
	for (size_t i = 0; i < p->len; i++)
		if (!isdigit((unsigned char)p->s[i]))
			return 0;
	return p->len > 0;
}

static int part_cmp(const struct part *a, const struct part *b)
{
	int an = all_digits(a), bn = all_digits(b);

	if (an && bn) {
		struct part x = *a, y = *b;
		while (x.len > 1 && *x.s == '0')
			x.s++, x.len--;
		while (y.len > 1 && *y.s == '0')
			y.s++, y.len--;
		if (x.len != y.len)
			return x.len < y.len ? -1 : 1;
		return memcmp(x.s, y.s, x.len);
	}
	if (an != bn)
		return an ? -1 : 1;   /* numbers before strings */
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->s, b->s, n);
	if (c)
		return c;
	return a->len == b->len ? 0 : (a->len < b->len ? -1 : 1);
}

/* Compares dot-separated lists; a missing part counts as "0" (numeric lists)
 * or as lower than anything (pre-releases: "rc" < "rc.1"). */
static int list_cmp(const char *a, const char *aend, const char *b, const char *bend, int missing_is_zero)
{
	static const struct part zero = { "0", 1 };

	while (a < aend || b < bend) {
		struct part pa = zero, pb = zero;
		if (a < aend)
			a = next_part(&pa, a, aend);
		else if (!missing_is_zero)
			return -1;
		if (b < bend)
			b = next_part(&pb, b, bend);
		else if (!missing_is_zero)
			return 1;
		int c = part_cmp(&pa, &pb);
		if (c)
			return c < 0 ? -1 : 1;
	}
	return 0;
}

int ipm_version_cmp(const char *a, const char *b)
{
	const char *adash = strchr(a, '-'), *bdash = strchr(b, '-');
	const char *amain_end = adash ? adash : a + strlen(a);
	const char *bmain_end = bdash ? bdash : b + strlen(b);
	int c = list_cmp(a, amain_end, b, bmain_end, 1);

	if (c)
		return c;
	if (!adash || !bdash)
		return adash ? -1 : (bdash ? 1 : 0);   /* a pre-release sorts first */
	return list_cmp(adash + 1, adash + strlen(adash), bdash + 1, bdash + strlen(bdash), 0);
}

/* ---- constraints ---- */

enum op { OP_ANY, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_CARET, OP_TILDE };

struct comparator {
	enum op op;
	char version[IPM_VERSION_MAX + 1];
};

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Parses one comparator from [s, end); 0 or IPM_EINVAL. */
static int parse_comparator(struct comparator *c, const char *s, const char *end)
{
	size_t len;

	s = skip_space(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (s == end || (end - s == 1 && *s == '*')) {
		c->op = OP_ANY;
		return 0;
	}
	if (!strncmp(s, ">=", 2))
		c->op = OP_GE, s += 2;
	else if (!strncmp(s, "<=", 2))
		c->op = OP_LE, s += 2;
	else if (!strncmp(s, "!=", 2))
		c->op = OP_NE, s += 2;
	else if (*s == '>')
		c->op = OP_GT, s++;
	else if (*s == '<')
		c->op = OP_LT, s++;
	else if (*s == '=')
		c->op = OP_EQ, s++;
	else if (*s == '^')
		c->op = OP_CARET, s++;
	else if (*s == '~')
		c->op = OP_TILDE, s++;
	else
		c->op = OP_EQ;
	s = skip_space(s);
	len = (size_t)(end - s);
	if (len == 0 || len >= sizeof(c->version))
		return IPM_EINVAL;
	memcpy(c->version, s, len);
	c->version[len] = '\0';
	if (!ipm_version_valid(c->version))
		return IPM_EINVAL;
	if (c->op == OP_CARET || c->op == OP_TILDE) {
		/* the bound is computed from numeric leading parts */
		struct part p;
		const char *v = c->version, *vend = strchr(v, '-');
		if (!vend)
			vend = v + strlen(v);
		next_part(&p, v, vend);
		if (!all_digits(&p))
			return IPM_EINVAL;
	}
	return 0;
}

/* Writes the exclusive upper bound of ^v / ~v into out (numeric parts up to
 * and including the bumped one). */
static void upper_bound(char *out, size_t outsz, const char *v, enum op op)
{
	struct part parts[IPM_VERSION_MAX / 2 + 1];   /* "1.1.1...": every other char */
	size_t n = 0, bump, i;
	const char *end = strchr(v, '-');

	if (!end)
		end = v + strlen(v);
	while (v < end && n < sizeof(parts) / sizeof(parts[0]))
		v = next_part(&parts[n++], v, end);
	if (op == OP_TILDE) {
		bump = n >= 2 ? 1 : 0;
	} else {
		/* ^: the first non-zero part is the one that may not change */
		bump = n - 1;
		for (i = 0; i < n; i++) {
			struct part x = parts[i];
			if (!all_digits(&x))
				break;
			while (x.len > 1 && *x.s == '0')
				x.s++, x.len--;
			if (!(x.len == 1 && *x.s == '0')) {
				bump = i;
				break;
			}
		}
	}
	/* stop bumping at a non-numeric part: bump the last numeric one before it */
	while (bump > 0 && !all_digits(&parts[bump]))
		bump--;

	size_t pos = 0;
	out[0] = '\0';
	for (i = 0; i < bump && pos + parts[i].len + 2 < outsz; i++) {
		memcpy(out + pos, parts[i].s, parts[i].len);
		pos += parts[i].len;
		out[pos++] = '.';
	}
	/* decimal increment of parts[bump]: a carry digit, the part (at most
	 * a whole version long), NUL */
	char num[IPM_VERSION_MAX + 2];
	size_t len = parts[bump].len;
	memcpy(num + 1, parts[bump].s, len);
	num[0] = '0';
	size_t k = len;
	for (;;) {
		if (num[k] == '9') {
			num[k] = '0';
			k--;
		} else {
			num[k]++;
			break;
		}
	}
	num[len + 1] = '\0';
	const char *digits = num[0] == '0' ? num + 1 : num;
	snprintf(out + pos, outsz - pos, "%s", digits);
}

static int main_cmp(const char *version, const char *bound)
{
	const char *dash = strchr(version, '-');
	return list_cmp(version, dash ? dash : version + strlen(version), bound, bound + strlen(bound), 1);
}

static int comparator_match(const struct comparator *c, const char *version)
{
	int cmp;

	if (c->op == OP_ANY)
		return 1;
	cmp = ipm_version_cmp(version, c->version);
	switch (c->op) {
	case OP_EQ: return cmp == 0;
	case OP_NE: return cmp != 0;
	case OP_LT: return cmp < 0;
	case OP_LE: return cmp <= 0;
	case OP_GT: return cmp > 0;
	case OP_GE: return cmp >= 0;
	case OP_CARET:
	case OP_TILDE: {
		char hi[IPM_VERSION_MAX + 2];
		if (cmp < 0)
			return 0;
		upper_bound(hi, sizeof(hi), c->version, c->op);
		/* main parts only, so "^1.2" excludes 2.0-rc1 too */
		return main_cmp(version, hi) < 0;
	}
	case OP_ANY: break;
	}
	return 1;
}

/* Walks the comma-separated list; with version NULL only validates. */
static int constraint_eval(const char *constraint, const char *version)
{
	const char *s = constraint ? constraint : "";
	int all = 1, in_list = strchr(s, ',') != NULL;

	for (;;) {
		const char *comma = strchr(s, ',');
		const char *end = comma ? comma : s + strlen(s);
		struct comparator c;
		if (parse_comparator(&c, s, end) < 0)
			return IPM_EINVAL;
		/* "1.2," and ",1.2" are typos, not "any" */
		if (c.op == OP_ANY && in_list && *skip_space(s) != '*')
			return IPM_EINVAL;
		if (version && !comparator_match(&c, version))
			all = 0;
		if (!comma)
			break;
		s = comma + 1;
	}
	return all;
}

int ipm_constraint_valid(const char *c)
{
	return constraint_eval(c, NULL) >= 0;
}

int ipm_constraint_match(const char *constraint, const char *version)
{
	int r = constraint_eval(constraint, NULL);

	if (r < 0)
		return ipm_error_set(IPM_EINVAL, "invalid version constraint '%s'", constraint);
	if (!ipm_version_valid(version))
		return 0;
	return constraint_eval(constraint, version);
}
