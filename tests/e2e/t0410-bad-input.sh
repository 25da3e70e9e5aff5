#!/bin/sh
# Bad input of every kind: one clear error line (with a hint where one
# helps), the right exit status (2 usage, 1 otherwise) and the installed
# state, the configuration and the registries unchanged. Also: what the plan
# shows of a recipe step is exactly what runs (control characters escaped).
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/src/hello" hello 1.0)
git_entry hello 1.0 "file://$work/src/hello" "$c"
expect_ok "$IPM" install --yes hello
state_snapshot "$work/before"

# ---- usage errors (exit 2) ----
for cmd in install remove list info search update registry help; do
	expect_fail 2 "unknown option '--frob'" "$IPM" $cmd --frob
done
expect_fail 2 "invalid --color value ''" "$IPM" --color= list
check "a bad --color value has a hint" grep -q "^hint: use --color=auto" "$work/err"
expect_fail 2 "option '--prefix' needs a directory" "$IPM" --prefix= list
expect_fail 2 "option '--method' needs a name" "$IPM" install --method= hello
expect_fail 2 "usage: ipm remove" "$IPM" remove --yes
expect_fail 2 "'registry remove' needs NAME" "$IPM" registry remove
same_state "usage errors change nothing" "$work/before"

# ---- specs ----
expect_fail 1 "'hello@' has no version after '@'" "$IPM" install --yes hello@
check "NAME@ has a hint" grep -q "^hint: write NAME@VERSION" "$work/err"
expect_fail 1 "invalid version constraint '>>1' in 'hello@>>1'" "$IPM" install --yes 'hello@>>1'
check "a bad constraint has a hint" grep -q "^hint: write NAME@1.2" "$work/err"
expect_fail 1 "'@1.0' has no package name before '@'" "$IPM" install --yes @1.0
expect_fail 1 "entry file '$work/nope.json' not found" "$IPM" install --yes "$work/nope.json"
check "a missing entry file has a hint" grep -q "^hint: give the path of a registry entry" "$work/err"
expect_fail 1 "entry file 'nope/entry.json' not found" "$IPM" install --yes nope/entry.json
# One bad spec among good ones: nothing at all is installed.
git_entry other 1.0 "file://$work/src/hello" "$c"
"$IPM" info other >/dev/null 2>&1
state_snapshot "$work/before"
expect_fail 1 "package 'nothere' not found" "$IPM" install --yes other nothere
check "the good spec was not installed either" test ! -e "$IPM_HOME/store/other"
expect_fail 1 "package 'nothere' is not installed" "$IPM" remove --yes hello nothere
check "the installed package named with it stays" test -x "$IPM_PREFIX/bin/hello"
same_state "bad specs change nothing" "$work/before"

# ---- environment and configuration ----
IPM_MIRRORS=nonsense expect_fail 1 "IPM_MIRRORS: mirror 'nonsense' is not FROM=TO" "$IPM" install --yes other
check "a malformed IPM_MIRRORS has a hint" grep -q "^hint: write mirrors as space-separated FROM=TO" "$work/err"
IPM_MIRRORS='=file:///x' expect_fail 1 "IPM_MIRRORS: mirror '=file:///x' has an empty FROM prefix" "$IPM" list
check "an empty FROM has a hint" grep -q "^hint: write mirrors" "$work/err"
same_state "a malformed IPM_MIRRORS changes nothing" "$work/before"

echo '[ "not", "an", "object" ]' >"$IPM_CONFIG"
expect_fail 1 "'$IPM_CONFIG': the configuration must be a JSON object" "$IPM" install --yes other
check "a non-object configuration has a hint" grep -qF "hint: see the FILES section of ipm(1)" "$work/err"
printf '{ "registries": [ { "name": "Team Reg", "url": "%s" } ] }\n' "$REG" >"$IPM_CONFIG"
expect_fail 1 "'$IPM_CONFIG': invalid registry name 'Team Reg'" "$IPM" list
printf '{ "registries": [ { "name": "team", "url": "%s" }, { "name": "team", "url": "/x" } ] }\n' "$REG" >"$IPM_CONFIG"
expect_fail 1 "'$IPM_CONFIG': registry 'team' is listed twice" "$IPM" install --yes other
printf '{ "mirrors": [ 42 ] }\n' >"$IPM_CONFIG"
expect_fail 1 "'mirrors' must be an array of \"FROM=TO\" strings" "$IPM" list
printf '{ "prefix": "" }\n' >"$IPM_CONFIG"
expect_fail 1 "'prefix' must be a non-empty string" "$IPM" list
rm -f "$IPM_CONFIG"
same_state "a bad configuration changes nothing" "$work/before"

# ---- registry add: only registries ipm can read go into the configuration ----
mkdir -p "$work/empty"
expect_fail 1 "'$work/empty' is not an ipm registry: it has no packages directory" \
	"$IPM" registry add team "$work/empty"
expect_fail 1 "registry 'team': '$work/missing' is not a directory, a git URL or an index .json" \
	"$IPM" registry add team "$work/missing"
check "an unknown kind has a hint" grep -q "^hint: give a directory holding packages/" "$work/err"
expect_fail 1 "registry 'team': unsupported URL scheme 'gopher://'" "$IPM" registry add team gopher://example.org/r.git
expect_fail 1 "registry 'team': unsupported URL scheme 'gopher://'" "$IPM" registry add team gopher://example.org/index.json
expect_fail 1 "registry 'team': '$work/none.json' not found" "$IPM" registry add team "$work/none.json"
check "no configuration file was written" test ! -e "$IPM_CONFIG"
"$IPM" registry list >"$work/reglist" 2>&1
check "registry list shows only the test registry" sh -c '! grep -q "^team" "$1"' sh "$work/reglist"

# A registry that breaks after it was added can still be removed.
mkdir -p "$work/team/packages"
expect_ok "$IPM" registry add team "$work/team"
rm -rf "$work/team/packages"
expect_fail 1 "'$work/team' is not an ipm registry: it has no packages directory" "$IPM" install --yes other
expect_ok "$IPM" registry remove team
check "removing a broken registry warns about it" grep -q "warning: '$work/team' is not an ipm registry" "$work/err"
expect_ok "$IPM" info other
# So can one whose directory is gone (still a local registry, reported missing).
mkdir -p "$work/gone/packages"
expect_ok "$IPM" registry add gone "$work/gone"
rm -rf "$work/gone"
expect_fail 1 "registry 'gone': directory '$work/gone' not found" "$IPM" install --yes other
check "its hint says how to remove it" grep -q "^hint: fix or remove it: ipm registry remove gone" "$work/err"
expect_ok "$IPM" registry remove gone
expect_ok "$IPM" info other
rm -f "$IPM_CONFIG"
same_state "registry errors change nothing" "$work/before"

# ---- the plan shows steps exactly ----
cr=$(printf '\r')
esc=$(printf '\033')
write_entry sneaky <<EOF
{ "name": "sneaky", "description": "steps with control characters",
  "versions": [ { "version": "1.0", "git": "file://$work/src/hello", "commit": "$c" } ],
  "methods": [ { "build": [ "echo hidden\\r      build: make", "echo a \\u001b[8mconcealed\\u001b[0m b",
                            "echo first\\necho second" ],
                 "install": [ "make install" ] } ] }
EOF
expect_ok "$IPM" install --dry-run sneaky
check "a carriage return in a step is shown escaped" grep -q 'build: echo hidden\\x0d      build: make' "$work/out"
check "an escape sequence in a step is shown escaped" grep -q 'echo a \\x1b\[8mconcealed\\x1b\[0m b' "$work/out"
check "no raw control character reaches the terminal" sh -c '! grep -q "[$1$2]" "$3"' sh "$cr" "$esc" "$work/out"
check "a multi-line step is shown on its lines" sh -c 'grep -q "build: echo first\$" "$1" && grep -q "^ *echo second\$" "$1"' sh "$work/out"

done_testing
