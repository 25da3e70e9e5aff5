#!/bin/sh
# outdated and upgrade against a registry that gains releases between steps:
# update's count, outdated (table and --json), upgrade --dry-run, an upgrade
# run (the new program runs, flags kept), a failing new build that leaves
# the old version working, a downgrade said as such, a dependency held by
# its dependent's constraint, and every bad input.
. "$(dirname "$0")/lib.sh"

# entry NAME DEPENDS_JSON VERSION=COMMIT...: newest first
entry() {
	_n=$1 _d=$2
	shift 2
	_v=""
	for vc in "$@"; do
		_v="$_v${_v:+,} { \"version\": \"${vc%%=*}\", \"git\": \"file://$work/src/$_n\", \"commit\": \"${vc#*=}\" }"
	done
	write_entry "$_n" <<EOF2
{ "name": "$_n", "description": "package $_n",
  "versions": [ $_v ],
  "depends": $_d,
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF2
}

cj10=$(make_git_pkg "$work/src/cj" cj 1.0)
dl10=$(make_git_pkg "$work/src/dl" dl 1.0)
tool10=$(make_git_pkg "$work/src/tool" tool 1.0)
strict10=$(make_git_pkg "$work/src/strict" strict 1.0)
entry cj '[]' "1.0=$cj10"
entry dl '[]' "1.0=$dl10"
entry tool '[ { "name": "dl", "version": ">=1.0" } ]' "1.0=$tool10"
entry strict '[ { "name": "dl", "version": "<1.2" } ]' "1.0=$strict10"

expect_ok "$IPM" install -y cj tool strict
check "cj 1.0 runs" test "$("$IPM_PREFIX/bin/cj")" = "cj 1.0"

expect_ok "$IPM" outdated
check "nothing outdated: stdout is empty" test ! -s "$work/out"
check "nothing outdated: said on stderr" grep -q "all installed packages are up to date" "$work/err"
expect_ok "$IPM" update
check "update: no installed package is outdated" grep -q "no installed package is outdated" "$work/out"

# the registry gains cj 1.1 and dl 1.1, 1.2
cj11=$(make_git_pkg "$work/src/cj" cj 1.1)
dl11=$(make_git_pkg "$work/src/dl" dl 1.1)
dl12=$(make_git_pkg "$work/src/dl" dl 1.2)
entry cj '[]' "1.1=$cj11" "1.0=$cj10"
entry dl '[]' "1.2=$dl12" "1.1=$dl11" "1.0=$dl10"
expect_ok "$IPM" update
check "update counts the outdated packages" grep -q "2 installed packages are outdated: run 'ipm outdated'" "$work/out"

expect_ok "$IPM" outdated
check "outdated header" grep -Eq "^NAME +INSTALLED +LATEST" "$work/out"
check "outdated: cj 1.0 -> 1.1" grep -Eq "^cj +1\.0 +1\.1" "$work/out"
check "outdated: dl held below 1.2 by strict, latest allowed 1.1" grep -Eq "^dl +1\.0 +1\.1 +\(newest 1\.2\)" "$work/out"
expect_ok "$IPM" outdated --json
cp "$work/out" "$work/outdated.json"
check "outdated --json is valid" json_valid "$work/outdated.json"
check "outdated --json: names, installed, latest, newest" test \
	"$(json_get "$work/outdated.json" '[(o["name"], o["installed"], o["latest"], o["newest"], o["pinned"]) for o in d]')" = \
	"[('cj', '1.0', '1.1', '1.1', None), ('dl', '1.0', '1.1', '1.2', None)]"

expect_ok "$IPM" info cj
check "info shows the latest release" grep -Eq "^latest: +1\.1" "$work/out"
check "info marks the installed version outdated" grep -q "(outdated: 1.1 is the latest)" "$work/out"
expect_ok "$IPM" search cj
check "search shows latest and installed" grep -Eq "^cj .*\(1\.1, installed 1\.0\)$" "$work/out"
expect_ok "$IPM" search --json tool
cp "$work/out" "$work/search.json"
check "search --json has latest and installed" test \
	"$(json_get "$work/search.json" '[(h["name"], h["latest"], h["installed"]) for h in d if h["name"] == "tool"]')" = \
	"[('tool', '1.0', '1.0')]"

state_snapshot "$work/before"
expect_ok "$IPM" upgrade --dry-run
check "dry run plan shows cj 1.0 -> 1.1" grep -q "cj 1.0 -> 1.1" "$work/out"
check "dry run plan shows dl 1.0 -> 1.1" grep -q "dl 1.0 -> 1.1" "$work/out"
check "dry run says nothing was installed" grep -q "dry run" "$work/err"
same_state "upgrade --dry-run changes nothing" "$work/before"

expect_fail 1 "refusing to run recipe steps without confirmation" "$IPM" upgrade cj
same_state "upgrade without --yes and no terminal changes nothing" "$work/before"

expect_ok "$IPM" upgrade -y
check "upgrade says cj 1.0 -> 1.1" grep -q "upgraded cj 1.0 -> 1.1" "$work/err"
check "the upgraded cj runs as 1.1" test "$("$IPM_PREFIX/bin/cj")" = "cj 1.1"
check "dl runs as 1.1 (strict allows no 1.2)" test "$("$IPM_PREFIX/bin/dl")" = "dl 1.1"
check "tool still runs" test "$("$IPM_PREFIX/bin/tool")" = "tool 1.0"
"$IPM" list --json >"$work/list.json" 2>/dev/null
check "upgrade kept the explicit flags" test \
	"$(json_get "$work/list.json" 'sorted((p["name"], p["version"], p["explicit"]) for p in d)')" = \
	"[('cj', '1.1', True), ('dl', '1.1', False), ('strict', '1.0', True), ('tool', '1.0', True)]"
check "the old store tree of cj stays for rollback" test -d "$IPM_HOME/store/cj/1.0"

expect_ok "$IPM" outdated
check "dl held back by strict is shown with the newest release" grep -Eq "^dl +1\.1 +1\.2 +held by 'strict'" "$work/out"
expect_ok "$IPM" upgrade -y
check "upgrade of all skips what is held, saying why" grep -q "not upgrading 'dl' 1.1 to 1.2: installed 'strict' does not allow it" "$work/err"
expect_fail 1 "not upgrading 'dl' 1.1 to 1.2: installed 'strict' does not allow it" "$IPM" upgrade -y dl
check "the hint names the dependent" grep -q "hint: upgrade 'strict' too" "$work/err"
expect_ok "$IPM" upgrade -y cj
check "a named package that is the newest says so" grep -q "'cj' 1.1 is the newest release" "$work/err"

# A new release whose build fails: the installed version stays and works.
mkdir -p "$work/src/cj"
cat >"$work/src/cj/Makefile" <<'EOF2'
all:
	echo "this release does not build" >&2; exit 3
install:
	exit 3
EOF2
cj12=$(cd "$work/src/cj" && git add -A && git commit -q -m "cj 1.2 (broken)" && git rev-parse HEAD)
entry cj '[]' "1.2=$cj12" "1.1=$cj11" "1.0=$cj10"
"$IPM" outdated >/dev/null 2>&1   # imports the changed registry first
state_snapshot "$work/before"
expect_fail 1 "error: .*cj" "$IPM" upgrade -y cj
check "the failure says the old version stays" grep -q "cj 1.1 stays installed and unchanged: 1.2 was not installed" "$work/err"
check "the old cj still runs after the failed upgrade" test "$("$IPM_PREFIX/bin/cj")" = "cj 1.1"
same_state "a failed upgrade leaves the installed state as it was" "$work/before"
check "no store tree of the failed build is left" test ! -e "$IPM_HOME/store/cj/1.2"

# install of another version of an installed package says what it is
expect_ok "$IPM" install -y cj@1.0
check "the plan marks the downgrade" grep -q "cj 1.1 -> 1.0 (downgrade)" "$work/out"
check "the result says downgraded" grep -q "downgraded cj 1.1 -> 1.0" "$work/err"
check "cj runs as 1.0 again" test "$("$IPM_PREFIX/bin/cj")" = "cj 1.0"
expect_ok "$IPM" install -y cj@1.1
check "the plan shows the upgrade" grep -q "cj 1.0 -> 1.1" "$work/out"
check "the result says upgraded" grep -q "upgraded cj 1.0 -> 1.1" "$work/err"

# a new release that brings a new dependency: installed with it, as a dependency
extra=$(make_git_pkg "$work/src/extra" extra 0.1)
entry extra '[]' "0.1=$extra"
cj13=$(make_git_pkg "$work/src/cj" cj 1.3)
write_entry cj <<EOF2
{ "name": "cj", "description": "package cj",
  "versions": [ { "version": "1.3", "git": "file://$work/src/cj", "commit": "$cj13" },
                { "version": "1.1", "git": "file://$work/src/cj", "commit": "$cj11" } ],
  "depends": [ { "name": "extra" } ],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF2
expect_ok "$IPM" upgrade -y cj
check "the plan installs the new dependency" grep -Eq "^  extra 0\.1 \(dependency\)" "$work/out"
check "cj runs as 1.3" test "$("$IPM_PREFIX/bin/cj")" = "cj 1.3"
check "its new dependency runs" test "$("$IPM_PREFIX/bin/extra")" = "extra 0.1"
"$IPM" list --json >"$work/list.json" 2>/dev/null
check "the new dependency is marked as one" test \
	"$(json_get "$work/list.json" '[p["explicit"] for p in d if p["name"] == "extra"]')" = "[False]"

# bad input: error, hint, no change
state_snapshot "$work/before"
expect_fail 1 "package 'nope' is not installed" "$IPM" upgrade -y nope
check "not installed: a hint" grep -q "^hint: " "$work/err"
expect_fail 2 "unknown option '--frobnicate'" "$IPM" upgrade --frobnicate
expect_fail 2 "unexpected argument 'cj'" "$IPM" outdated cj
expect_fail 2 "unknown option '--yes'" "$IPM" outdated --yes
same_state "bad input changes nothing" "$work/before"

expect_ok "$IPM" outdated --help
check "outdated --help shows the synopsis" grep -q "usage: ipm outdated \[--json\]" "$work/out"
done_testing
