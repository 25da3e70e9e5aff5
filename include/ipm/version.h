#ifndef IPM_VERSION_H
#define IPM_VERSION_H
/*
 * Package versions and constraints.
 *
 * A version is dot-separated alphanumeric parts with an optional
 * "-prerelease" suffix: "1.2.3", "2.0", "1.7.15", "0.9.8-rc1", "2024.01";
 * at most IPM_VERSION_MAX characters (it names a store directory).
 * Comparison is part by part: numeric parts numerically, others as strings,
 * numbers before strings, a missing part is lower ("1.2" < "1.2.0" is false:
 * missing numeric parts count as 0), a pre-release sorts before its release.
 *
 * A constraint is a comma-separated list of comparators, all of which must hold:
 *   "*" or ""   any version
 *   "1.2.3"     "=1.2.3"   exactly
 *   ">=1.2" ">1.2" "<2" "<=2.1" "!=1.3"
 *   "^1.2"      >=1.2, <2     ("^0.3" means >=0.3, <0.4)
 *   "~1.2.3"    >=1.2.3, <1.3
 */
#define IPM_VERSION_MAX 100
int ipm_version_valid(const char *v);
/* <0, 0, >0 like strcmp. */
int ipm_version_cmp(const char *a, const char *b);
int ipm_constraint_valid(const char *c);
/* 1 when version satisfies constraint, 0 when not, IPM_EINVAL when the
 * constraint is not valid. */
int ipm_constraint_match(const char *constraint, const char *version);
#endif
