#!/bin/sh
# ipm registry check: the data-driven cases of tests/registry (each bad entry
# with the exact lines it must print, registry-wide cases as directories, a
# good registry that must pass), the operands and their errors, and --build
# proving entries in a temporary home without touching the user's.
. "$(dirname "$0")/lib.sh"

DATA=$TOP/tests/registry

# expect_lines DESC FILE EXPECTED_FILE: FILE holds exactly EXPECTED_FILE's lines.
expect_lines() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diff "$3" "$2" | sed -n '1,30s/^/# /p'
	fi
}

# ---- every rule of the issue has its case ----
for c in invalid-json file-name name-chars name-too-long unknown-field missing-fields \
	bad-version git-commit archive-sha256 http-url file-url url-credentials license-spdx \
	license-unknown-id empty-method requires-hint several-problems; do
	check "bad case '$c' exists" test -s "$DATA/bad/$c.json" -a -s "$DATA/bad/$c.expect"
done
for c in name-collision missing-dependency dependency-cycle; do
	check "bad registry case '$c' exists" test -s "$DATA/bad/$c/expect"
done

# ---- bad entry files: exact stderr, one line per problem, exit 1 ----
# Paths in the messages are the paths as given, so the cases run from bad/.
for json in "$DATA"/bad/*.json; do
	c=$(basename "$json" .json)
	(cd "$DATA/bad" && "$IPM" registry check "$c.json") >"$work/out" 2>"$work/err"
	rc=$?
	n=$(wc -l <"$DATA/bad/$c.expect" | tr -d ' ')
	[ "$n" -eq 1 ] && word=problem || word=problems
	check "$c: exit 1" test "$rc" -eq 1
	expect_lines "$c: stderr is exactly $c.expect" "$work/err" "$DATA/bad/$c.expect"
	echo "checked 1 entry: $n $word" >"$work/want"
	expect_lines "$c: summary on stdout" "$work/out" "$work/want"
done

# ---- bad registries (rules over several entries) ----
for dir in "$DATA"/bad/*/; do
	c=$(basename "$dir")
	(cd "$DATA/bad" && "$IPM" registry check "$c") >"$work/out" 2>"$work/err"
	rc=$?
	n=$(wc -l <"$DATA/bad/$c/expect" | tr -d ' ')
	k=$(ls "$DATA/bad/$c/packages" | grep -c '\.json$')
	[ "$n" -eq 1 ] && word=problem || word=problems
	check "$c: exit 1" test "$rc" -eq 1
	expect_lines "$c: stderr is exactly $c/expect" "$work/err" "$DATA/bad/$c/expect"
	echo "checked $k entries: $n $word" >"$work/want"
	expect_lines "$c: summary on stdout" "$work/out" "$work/want"
done
check "the several-problems case really has several" test "$(wc -l <"$DATA/bad/several-problems.expect")" -ge 5

# ---- the good registry ----
expect_ok sh -c 'cd "$1" && "$2" registry check good' sh "$DATA" "$IPM"
check "good: summary" test "$(cat "$work/out")" = "checked 3 entries: ok"
check "good: nothing on stderr" test ! -s "$work/err"
expect_ok "$IPM" -q registry check "$DATA/good"
check "-q: nothing printed on success" test ! -s "$work/out" -a ! -s "$work/err"
# default: the bundled registry (IPM_REGISTRY here)
IPM_REGISTRY=$DATA/good expect_ok "$IPM" registry check
check "no PATH checks the bundled registry" test "$(cat "$work/out")" = "checked 3 entries: ok"
# the real bundled registry passes as it is shipped
nbundled=$(ls "$TOP/registry/packages" | grep -c '\.json$')
expect_ok env -u IPM_REGISTRY "$IPM" registry check
check "the shipped registry: $nbundled entries, ok" test "$(cat "$work/out")" = "checked $nbundled entries: ok"

# ---- one file of a registry: the rest of its registry is its context ----
expect_ok sh -c 'cd "$1" && "$2" registry check good/packages/app_tool.json' sh "$DATA" "$IPM"
check "an entry's depends resolve in its own registry" test "$(cat "$work/out")" = "checked 1 entry: ok"
(cd "$DATA/bad" && "$IPM" registry check missing-dependency/packages/app.json) >"$work/out" 2>"$work/err"
check "one file of a bad registry: exit 1" test $? -eq 1
grep "/app.json'" "$DATA/bad/missing-dependency/expect" >"$work/want"
expect_lines "only that file's problems" "$work/err" "$work/want"
check "only that file is counted" test "$(cat "$work/out")" = "checked 1 entry: 2 problems"
(cd "$DATA/bad" && "$IPM" registry check dependency-cycle/packages/b.json) >"$work/out" 2>"$work/err"
check "a cycle through the named file is found" grep -q "forms a dependency cycle: a -> b -> c -> a" "$work/err"
check "a cycle elsewhere is not its problem" sh -c '! grep -q "d -> e" "$1"' sh "$work/err"

# ---- a file outside any registry: the bundled registry is its context ----
mkdir -p "$work/new"
sed -e 's/"app_tool"/"newtool"/' "$DATA/good/packages/app_tool.json" >"$work/new/newtool.json"
IPM_REGISTRY=$DATA/good expect_ok "$IPM" registry check "$work/new/newtool.json"
check "its depends resolve in the bundled registry" test "$(cat "$work/out")" = "checked 1 entry: ok"
expect_fail 1 "field 'depends\[0\]\.name' in '$work/new/newtool.json' names 'zlib-like', which is not in the registry \(add its entry" \
	"$IPM" registry check "$work/new/newtool.json"
sed -e 's/"1.3.1"/"1.3.2"/' "$DATA/good/packages/zlib-like.json" >"$work/new/zlib-like.json"
IPM_REGISTRY=$DATA/good expect_ok "$IPM" registry check "$work/new/zlib-like.json"
check "a new version of an entry stands in for it (no collision)" test "$(cat "$work/out")" = "checked 1 entry: ok"
sed -e 's/"app_tool"/"zlib_like"/' "$DATA/good/packages/app_tool.json" >"$work/new/zlib_like.json"
IPM_REGISTRY=$DATA/good expect_fail 1 "names 'zlib_like' in '$work/new/zlib_like.json' and 'zlib-like' in '$DATA/good/packages/zlib-like.json' differ only in case or '-'/'_'" \
	"$IPM" registry check "$work/new/zlib_like.json"

# ---- operands and options ----
expect_fail 1 "^ipm: error: 'nope' does not exist$" "$IPM" registry check nope
check "with a hint" grep -q "^hint: give entry files" "$work/err"
expect_fail 1 "^ipm: error: '$work/new' is not a registry: it has no packages directory$" "$IPM" registry check "$work/new"
expect_fail 1 "^hint: give the registry directory that holds it: '$DATA/good'$" "$IPM" registry check "$DATA/good/packages"
printf 'not json\n' >"$work/notes.txt"
expect_fail 1 "^ipm: error: '$work/notes.txt' is not an entry file$" "$IPM" registry check "$work/notes.txt"
expect_fail 2 "unknown option '--frob'" "$IPM" registry check --frob "$DATA/good"
check "a usage error prints the usage" grep -q "^usage: ipm registry" "$work/err"
expect_fail 1 "'nope' does not exist" "$IPM" registry check "$DATA/good" nope
check "a bad operand checks nothing" test ! -s "$work/out"

# ---- --build ----
# A library package and a dependency, published with https:// URLs that
# IPM_MIRRORS points at local repositories.
mkdir -p "$work/src/small"
cat >"$work/src/small/Makefile" <<'EOF'
all:
	echo 'int small(void);' > small.h
	echo 'archive' > libsmall.a
install: all
	mkdir -p "$(DESTDIR)$(IPM_PREFIX)/include" "$(DESTDIR)$(IPM_PREFIX)/lib/pkgconfig" "$(DESTDIR)$(IPM_PREFIX)/bin" "$(DESTDIR)$(IPM_PREFIX)/share/doc/small"
	cp small.h "$(DESTDIR)$(IPM_PREFIX)/include/small.h"
	cp libsmall.a "$(DESTDIR)$(IPM_PREFIX)/lib/libsmall.a"
	printf 'Name: small\nVersion: 1.0\nDescription: small\n' > "$(DESTDIR)$(IPM_PREFIX)/lib/pkgconfig/small.pc"
	printf '#!/bin/sh\necho small\n' > "$(DESTDIR)$(IPM_PREFIX)/bin/small-tool"
	chmod 755 "$(DESTDIR)$(IPM_PREFIX)/bin/small-tool"
	echo small > "$(DESTDIR)$(IPM_PREFIX)/share/doc/small/README"
EOF
c_small=$(cd "$work/src/small" && git init -q && git add -A && git commit -q -m small && git rev-parse HEAD)
c_base=$(make_git_pkg "$work/src/base" base 2.0)
pub_entry() { # NAME VERSION COMMIT DEPENDS INSTALL_STEP [REPOSITORY]
	cat <<EOF
{
  "name": "$1",
  "description": "test package $1",
  "homepage": "https://example.org/$1",
  "license": "MIT",
  "versions": [ { "version": "$2", "git": "https://git.example.org/${6:-$1}", "commit": "$3" } ],
  "requires": [ { "tool": "make", "hints": { "debian": "sudo apt-get install make", "macos": "xcode-select --install" } } ],
  "depends": $4,
  "methods": [ { "name": "make", "build": ["make"], "install": ["$5"] } ]
}
EOF
}
mkdir -p "$work/pub/packages" "$work/tmp"
pub_entry small 1.0 "$c_small" '[ { "name": "base", "version": ">=2" } ]' "make install" >"$work/pub/packages/small.json"
pub_entry base 2.0 "$c_base" '[]' "make install" >"$work/pub/packages/base.json"
export IPM_MIRRORS="https://git.example.org/=file://$work/src/"
export TMPDIR=$work/tmp
expect_ok "$IPM" registry check "$work/pub/packages/small.json"
check "the published entries pass the checks" test "$(cat "$work/out")" = "checked 1 entry: ok"

# the user's own state, which --build must not touch
c_mine=$(make_git_pkg "$work/src/mine" mine 1.0)
git_entry mine 1.0 "file://$work/src/mine" "$c_mine"
expect_ok "$IPM" install --yes mine
state_snapshot "$work/state.before"

expect_ok "$IPM" registry check --build "$work/pub"
cat >"$work/want" <<EOF
ok    base 2.0: 2 files (0 headers, 0 libraries, 0 pkg-config, 1 program)
ok    small 1.0: 5 files (1 header, 1 library, 1 pkg-config, 1 program)
checked 2 entries: ok
built 2 entries: ok
EOF
expect_lines "--build: one ok line per entry with its own files counted" "$work/out" "$work/want"
check "--build: the temporary homes are gone" test -z "$(ls -A "$work/tmp")"
same_state "--build: the user's IPM_HOME and IPM_PREFIX are untouched" "$work/state.before"
check "--build: downloads went to the user's cache" test -n "$(ls -A "$IPM_CACHE/git" 2>/dev/null)"

# a failing recipe: FAIL, the log's tail, the log kept, exit 1
mkdir -p "$work/failing/packages"
pub_entry broken 1.0 "$c_small" '[]' "echo the-recipe-breaks-here >&2; exit 3" small >"$work/failing/packages/broken.json"
pub_entry fine 1.0 "$c_small" '[]' "make install" small >"$work/failing/packages/fine.json"
expect_fail 1 "the-recipe-breaks-here" "$IPM" registry check --build "$work/failing"
check "FAIL line with the reason ipm gave" grep -qx "FAIL  broken: 'ipm install' failed: step 'echo the-recipe-breaks-here >&2; exit 3' of 'broken' failed with exit status 3" "$work/out"
check "the other entry still builds" grep -q "^ok    fine 1.0: 5 files" "$work/out"
check "summary says one failed" grep -qx "built 2 entries: 1 failed" "$work/out"
log=$(sed -n 's/^    log: //p' "$work/err")
check "the log is named" test -n "$log"
check "the log is kept" test -f "$log"
check "the log holds the failing step" grep -q "the-recipe-breaks-here" "${log:-/nonexistent}"
kept=$(dirname "${log:-/nonexistent/x}")
check "only the logs are kept" test "$(cd "$kept" && find . -mindepth 1 ! -type d | sort | tr '\n' ' ')" = "./cache/logs/broken-1.0.log ./check.log "
check "the recipe's full output is kept with it" grep -q "the-recipe-breaks-here" "$kept/cache/logs/broken-1.0.log"
check "the user's git mirrors survive the clean-up" test -n "$(ls -A "$IPM_CACHE/git" 2>/dev/null)"
check "build directories and logs of --build stay out of the user's cache" \
	test -z "$(ls -A "$IPM_CACHE/build" 2>/dev/null)" -a ! -e "$IPM_CACHE/logs/broken-1.0.log" -a ! -e "$IPM_CACHE/logs/small-1.0.log"
check "the tail is at most 30 lines" test "$(grep -c '^    ' "$work/err")" -le 31
rm -rf "$work/tmp"/*
same_state "a failed --build leaves the user's state alone" "$work/state.before"

# an entry with problems is not built
expect_fail 1 "must be a full commit id" "$IPM" registry check --build "$DATA/bad/git-commit.json"
check "skip line" grep -qx "skip  git-commit: not built, the entry has problems" "$work/out"
check "nothing was left in TMPDIR" test -z "$(ls -A "$work/tmp")"

# stopped while a recipe runs: the child is stopped too, nothing is left
mkdir -p "$work/slow/packages"
pub_entry sleepy 1.0 "$c_small" '[]' "touch $work/slow/started; sleep 30" small >"$work/slow/packages/sleepy.json"
"$IPM" registry check --build "$work/slow" >"$work/out" 2>"$work/err" &
pid=$!
i=0
while [ ! -e "$work/slow/started" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM "$pid"
wait "$pid"
rc=$?
check "a stopped --build exits 128+SIGTERM" test "$rc" -eq 143
check "it says so" grep -q "^ipm: error: interrupted: the temporary directories are removed$" "$work/err"
check "no FAIL line for a stopped build" test ! -s "$work/out"
# (the bracket keeps the pattern from matching the checking shell itself)
check "the recipe was stopped too" sh -c '! pgrep -f "$1" >/dev/null' sh "$work/slow/start[e]d; sleep 30"
check "a stopped --build leaves nothing in TMPDIR" test -z "$(ls -A "$work/tmp")"
same_state "a stopped --build leaves the user's state alone" "$work/state.before"

done_testing
