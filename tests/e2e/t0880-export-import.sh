#!/bin/sh
# export and import: a lock file written on one home installs exactly the
# same set (versions, commits, checksums, explicit flags) into another home,
# whose programs then run; a release the registry dropped is built from the
# source the lock file names, and the import says so; every bad lock file
# is a one-line error with a hint that changes nothing.
. "$(dirname "$0")/lib.sh"

entry() { # NAME DEPENDS_JSON VERSION=COMMIT... (newest first)
	_n=$1 _d=$2
	shift 2
	_v=""
	for vc in "$@"; do
		_v="$_v${_v:+,} { \"version\": \"${vc%%=*}\", \"git\": \"file://$work/src/$_n\", \"commit\": \"${vc#*=}\" }"
	done
	write_entry "$_n" <<EOF
{ "name": "$_n", "description": "package $_n",
  "versions": [ $_v ], "depends": $_d,
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
}

cj10=$(make_git_pkg "$work/src/cj" cj 1.0)
cj11=$(make_git_pkg "$work/src/cj" cj 1.1)
liba=$(make_git_pkg "$work/src/liba" liba 1.0)
app=$(make_git_pkg "$work/src/app" app 2.0)
entry cj '[]' "1.1=$cj11" "1.0=$cj10"
entry liba '[]' "1.0=$liba"
entry app '[ { "name": "liba", "version": "^1" } ]' "2.0=$app"
# an archive package, for a lock entry by sha256
make_git_pkg "$work/pack/tarpkg-1.2" tarpkg 1.2 >/dev/null
rm -rf "$work/pack/tarpkg-1.2/.git"
mkdir -p "$work/www"
tar -C "$work/pack" -czf "$work/www/tarpkg-1.2.tar.gz" tarpkg-1.2
sum=$(sha256sum "$work/www/tarpkg-1.2.tar.gz" | cut -d' ' -f1)
start_httpd "$work/www" || exit 1
export IPM_MIRRORS="$HTTP/=$HTTP/"
write_entry tarpkg <<EOF
{ "name": "tarpkg", "description": "archive package",
  "versions": [ { "version": "1.2", "url": "$HTTP/tarpkg-1.2.tar.gz", "sha256": "$sum" } ],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF

expect_ok "$IPM" install -y cj@1.0 app tarpkg
expect_ok "$IPM" export
cp "$work/out" "$work/stdout.lock"
check "export writes one JSON document to stdout" json_valid "$work/stdout.lock"
expect_ok "$IPM" export "$work/a.lock"
check "export FILE says where" grep -q "wrote '$work/a.lock'" "$work/err"
check "export FILE and stdout agree" cmp -s "$work/a.lock" "$work/stdout.lock"
check "lock: format 1, the prefix" test "$(json_get "$work/a.lock" '(d["ipm_lock"], d["prefix"])')" = "(1, '$IPM_PREFIX')"
check "lock: names, versions, commits/checksums, explicit" test \
	"$(json_get "$work/a.lock" '[(p["name"], p["version"], p["resolved"], p["explicit"]) for p in d["packages"]]')" = \
	"[('app', '2.0', '$app', True), ('cj', '1.0', '$cj10', True), ('liba', '1.0', '$liba', False), ('tarpkg', '1.2', '$sum', True)]"
check "lock: each carries its entry with its one release" test \
	"$(json_get "$work/a.lock" '[(p["entry"]["name"], len(p["entry"]["versions"]), p["registry"] is not None, p["method"]) for p in d["packages"]]')" = \
	"[('app', 1, True, 'make'), ('cj', 1, True, 'make'), ('liba', 1, True, 'make'), ('tarpkg', 1, True, 'make')]"
key() { json_get "$1" 'sorted((p["name"], p["version"], p["resolved"], p["explicit"]) for p in d["packages"])'; }

# a second home, the same layout
use_home() {
	export IPM_HOME="$work/$1/home" IPM_PREFIX="$work/$1/prefix" IPM_CACHE="$work/$1/cache"
}
use_home b
expect_ok "$IPM" import --dry-run "$work/a.lock"
check "import --dry-run shows the plan" grep -q "ipm will import 4 packages" "$work/out"
check "the plan takes cj 1.0, not the newest" grep -q "^  cj 1.0$" "$work/out"
check "nothing is installed by the dry run" test ! -e "$IPM_PREFIX/bin/cj"
expect_fail 1 "refusing to run recipe steps without confirmation" "$IPM" import "$work/a.lock"
expect_ok "$IPM" import -y "$work/a.lock"
for p in "cj 1.0" "app 2.0" "liba 1.0" "tarpkg 1.2"; do
	check "imported ${p% *} runs as $p" test "$("$IPM_PREFIX/bin/${p% *}")" = "$p"
done
expect_ok "$IPM" info --json cj
cp "$work/out" "$work/cj.json"
check "info: the imported cj is commit $cj10" test "$(json_get "$work/cj.json" 'd["installed"]["resolved"]')" = "$cj10"
expect_ok "$IPM" export "$work/b.lock"
check "home b's lock equals home a's (versions, commits, checksums, flags)" test "$(key "$work/b.lock")" = "$(key "$work/a.lock")"
expect_ok "$IPM" import -y "$work/a.lock"
check "importing again: nothing to do" grep -q "'cj' 1.0 is already installed" "$work/err"

# the registry drops cj 1.0 and tarpkg: the lock file's sources still build
entry cj '[]' "1.1=$cj11"
rm "$REG/packages/tarpkg.json"
use_home c
expect_ok "$IPM" import -y "$work/a.lock"
check "import says cj 1.0 came from the lock file's source" grep -q "note: registry '.*' no longer offers cj 1.0 at $cj10: built from the source the lock file names" "$work/err"
check "import says tarpkg is in no registry now" grep -q "note: no configured registry offers 'tarpkg' now" "$work/err"
check "the dropped cj 1.0 runs" test "$("$IPM_PREFIX/bin/cj")" = "cj 1.0"
check "the dropped tarpkg runs" test "$("$IPM_PREFIX/bin/tarpkg")" = "tarpkg 1.2"
expect_ok "$IPM" export "$work/c.lock"
check "home c's lock equals home a's" test "$(key "$work/c.lock")" = "$(key "$work/a.lock")"

# bad lock files: one-line error, hint, no change
use_home d
expect_ok "$IPM" install -y liba
state_snapshot "$work/before"
bad() { # NAME PATTERN: imports $work/NAME.lock
	expect_fail 1 "$2" "$IPM" import -y "$work/$1.lock"
	check "$1: a hint" grep -q "^hint: " "$work/err"
	check "$1: the error is one line" test "$(grep -c "^ipm: error:" "$work/err")" = 1
}
expect_fail 1 "cannot read lock file '$work/missing.lock'" "$IPM" import -y "$work/missing.lock"
check "missing file: a hint" grep -q "^hint: write one with 'ipm export FILE'" "$work/err"
printf '{ "ipm_lock": 1, "packages": [ ' >"$work/trunc.lock"
bad trunc "is not an ipm lock file: malformed JSON at line 1"
echo '[1, 2]' >"$work/array.lock"
bad array "is not an ipm lock file: the document must be an object"
echo '{ "packages": [] }' >"$work/nover.lock"
bad nover "has no \"ipm_lock\" format number"
echo '{ "ipm_lock": 2, "packages": [] }' >"$work/v2.lock"
bad v2 "format 2 is not one this ipm reads"
echo '{ "ipm_lock": 1 }' >"$work/nopkgs.lock"
bad nopkgs "has no \"packages\" array"
python3 - "$work" <<'EOF'
import json, sys
w = sys.argv[1]
d = json.load(open(w + "/a.lock"))
def write(name, f):
    x = json.loads(json.dumps(d)); f(x); json.dump(x, open(w + "/" + name + ".lock", "w"))
write("noversion", lambda x: x["packages"][1].pop("version"))
write("badversion", lambda x: x["packages"][1].update(version="1..0"))
write("noexplicit", lambda x: x["packages"][1].pop("explicit"))
write("twice", lambda x: x["packages"].append(x["packages"][1]))
write("wrongentry", lambda x: x["packages"][1]["entry"].update(name="other"))
write("nosource", lambda x: x["packages"][1].update(registry=None, entry=None))
write("ghost", lambda x: x["packages"].__setitem__(1, dict(x["packages"][1], name="ghost", entry=None)))
write("badcommit", lambda x: x["packages"][1].update(resolved="0" * 40))
EOF
bad noversion "packages\[1\] 'cj' has no \"version\""
bad badversion "the version of packages\[1\] 'cj' \('1..0'\) is not a valid version"
bad noexplicit "packages\[1\] 'cj' needs \"explicit\": true or false"
bad twice "'cj' is listed twice"
bad wrongentry "the entry of packages\[1\] 'cj' is not one of that name"
bad nosource "has neither a \"registry\" nor an \"entry\""
bad ghost "package 'ghost' not found"
bad badcommit "does not give version 1.0 at 0000000000000000000000000000000000000000"
expect_fail 2 "name the lock file" "$IPM" import
expect_fail 2 "unexpected argument" "$IPM" import "$work/a.lock" "$work/b.lock"
expect_fail 2 "unexpected argument" "$IPM" export "$work/x.lock" "$work/y.lock"
same_state "bad lock files change nothing" "$work/before"
done_testing
