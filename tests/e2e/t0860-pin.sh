#!/bin/sh
# pin and unpin: a pinned package is left by upgrade (and shown as pinned
# by outdated and info), install of another version and a dependency plan
# that would move it are refused with the unpin hint, a pin within a
# constraint lets upgrade move inside it, unpin frees it, remove drops the
# pin; every bad input is an error with a hint that changes nothing.
. "$(dirname "$0")/lib.sh"

entry() { # NAME DEPENDS_JSON VERSION=COMMIT... (newest first)
	_n=$1 _d=$2
	shift 2
	_v=""
	for vc in "$@"; do
		_v="$_v${_v:+,} { \"version\": \"${vc%%=*}\", \"git\": \"file://$work/src/$_n\", \"commit\": \"${vc#*=}\" }"
	done
	write_entry "$_n" <<EOF2
{ "name": "$_n", "description": "package $_n",
  "versions": [ $_v ], "depends": $_d,
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF2
}

cj10=$(make_git_pkg "$work/src/cj" cj 1.0)
cj11=$(make_git_pkg "$work/src/cj" cj 1.1)
cj20=$(make_git_pkg "$work/src/cj" cj 2.0)
app=$(make_git_pkg "$work/src/app" app 1.0)
entry cj '[]' "1.1=$cj11" "1.0=$cj10"
entry app '[ { "name": "cj", "version": ">=1.1" } ]' "1.0=$app"

expect_ok "$IPM" install -y cj@1.0
expect_ok "$IPM" pin cj
check "pin says what it holds" grep -q "pinned cj 1.0 (=1.0)" "$work/err"
expect_ok "$IPM" outdated
check "outdated shows the pin" grep -Eq "^cj +1\.0 +1\.1 +pinned \(=1\.0\)" "$work/out"
expect_ok "$IPM" outdated --json
cp "$work/out" "$work/o.json"
check "outdated --json: pinned, no allowed release" test \
	"$(json_get "$work/o.json" '[(o["name"], o["pinned"], o["latest"], o["newest"]) for o in d]')" = \
	"[('cj', '=1.0', None, '1.1')]"
expect_ok "$IPM" info cj
check "info shows the pin" grep -Eq "^  pinned: +=1\.0" "$work/out"
expect_ok "$IPM" info --json cj
cp "$work/out" "$work/i.json"
check "info --json: installed.pinned and latest" test \
	"$(json_get "$work/i.json" '(d["installed"]["pinned"], d["latest"], d["installed"]["outdated"])')" = "('=1.0', '1.1', True)"

state_snapshot "$work/before"
expect_ok "$IPM" upgrade -y
check "upgrade skips the pinned package, saying so" grep -q "not upgrading 'cj' 1.0 to 1.1: it is pinned (=1.0)" "$work/err"
check "cj still runs as 1.0" test "$("$IPM_PREFIX/bin/cj")" = "cj 1.0"
expect_fail 1 "not upgrading 'cj' 1.0 to 1.1: it is pinned" "$IPM" upgrade -y cj
check "named pinned upgrade: unpin hint" grep -q "hint: run 'ipm unpin cj' first" "$work/err"
expect_fail 1 "'cj' is pinned \(=1.0, installed 1.0\): not changing it to 1.1" "$IPM" install -y cj@1.1
check "install outside the pin: unpin hint" grep -q "hint: run 'ipm unpin cj' first" "$work/err"
expect_fail 1 "'app' requires 'cj' >=1.1, but 'cj' is pinned" "$IPM" install -y app
check "dependency plan: unpin hint" grep -q "hint: run 'ipm unpin cj' first" "$work/err"
same_state "refused changes of a pinned package change nothing" "$work/before"
expect_ok "$IPM" install -y cj
check "install without a version keeps the pinned version" grep -q "'cj' 1.0 is already installed" "$work/err"

# a pin within a constraint: upgrade moves inside it only
entry cj '[]' "2.0=$cj20" "1.1=$cj11" "1.0=$cj10"
expect_ok "$IPM" pin cj '^1'
expect_ok "$IPM" upgrade -y
check "upgrade moved cj within ^1" test "$("$IPM_PREFIX/bin/cj")" = "cj 1.1"
expect_ok "$IPM" outdated
check "outdated: cj held at 1.1 by its pin, 2.0 newest" grep -Eq "^cj +1\.1 +2\.0 +pinned \(\^1\)" "$work/out"
expect_ok "$IPM" install -y app
check "a dependency inside the pin installs" test "$("$IPM_PREFIX/bin/app")" = "app 1.0"

expect_ok "$IPM" unpin cj
check "unpin says so" grep -q "unpinned cj" "$work/err"
expect_ok "$IPM" upgrade -y cj
check "after unpin, upgrade takes 2.0" test "$("$IPM_PREFIX/bin/cj")" = "cj 2.0"

# bad input
state_snapshot "$work/before"
expect_fail 1 "package 'nope' is not installed" "$IPM" pin nope
check "pin of a package not installed: hint" grep -q "^hint: " "$work/err"
expect_fail 1 "invalid version constraint '>>1'" "$IPM" pin cj '>>1'
check "bad constraint: hint" grep -q "^hint: write e.g." "$work/err"
expect_fail 1 "'cj' 2.0 is outside '<2'" "$IPM" pin cj '<2'
check "constraint the installed version misses: hint" grep -q "^hint: pin within" "$work/err"
expect_fail 1 "'cj' is not pinned" "$IPM" unpin cj
check "unpin of an unpinned package: hint" grep -q "^hint: " "$work/err"
expect_fail 2 "name the package" "$IPM" pin
expect_fail 2 "unexpected argument 'x'" "$IPM" pin cj 1.0 x
expect_fail 2 "unknown option '--all'" "$IPM" unpin --all
same_state "bad pin input changes nothing" "$work/before"

# removing a package drops its pin
expect_ok "$IPM" pin cj
expect_ok "$IPM" remove -y app cj
expect_ok "$IPM" install -y cj@1.0
expect_ok "$IPM" info --json cj
cp "$work/out" "$work/i.json"
check "a reinstalled package is not pinned" test "$(json_get "$work/i.json" 'd["installed"]["pinned"]')" = "None"
done_testing
