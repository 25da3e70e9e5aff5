#!/bin/sh
# Installing from git: the plan with every step, confirmation rules, --dry-run,
# linking into the prefix, list/info, "already installed", owner/repo, repo,
# NAME@VERSION, an entry file, and remove leaving nothing of the package.
. "$(dirname "$0")/lib.sh"

c1=$(make_git_pkg "$work/src/hello" hello 1.0)
git_entry hello 1.0 "file://$work/src/hello" "$c1" "[]" '"repo": "acme/hello-tool", "keywords": ["greeting"],'

# Plan, dry run, refusal: none of them changes the installed state.
"$IPM" info hello >/dev/null 2>&1
state_snapshot "$work/before"
expect_ok "$IPM" install --dry-run hello
check "plan names the package and version" grep -q "hello 1.0" "$work/out"
check "plan shows the source and commit" grep -q "$c1" "$work/out"
check "plan shows the build step" grep -q "build: make" "$work/out"
check "plan shows the install step" grep -q "install: make install" "$work/out"
same_state "--dry-run changes nothing" "$work/before"

expect_fail 1 "refusing to run recipe steps without confirmation" "$IPM" install hello
check "refusal has a hint naming --yes" grep -q "^hint: .*--yes" "$work/err"
check "the plan was shown before refusing" grep -q "build: make" "$work/out"
same_state "refusal changes nothing" "$work/before"

expect_ok "$IPM" install --yes hello
check "bin/hello is linked into the prefix" test -L "$IPM_PREFIX/bin/hello"
check "bin/hello runs" sh -c '[ "$("$1"/bin/hello)" = "hello 1.0" ]' sh "$IPM_PREFIX"
check "the link points into the store" sh -c 'readlink "$1/bin/hello" | grep -q "$2/store/hello/1.0"' sh "$IPM_PREFIX" "$IPM_HOME"
check "a build log was written" sh -c 'ls "$1"/logs/* >/dev/null 2>&1' sh "$IPM_CACHE"

expect_ok "$IPM" list
check "list shows hello 1.0" grep -Eq '^hello +1\.0 ' "$work/out"
check "list shows the source" grep -q "$work/src/hello" "$work/out"
check "list prints only the table on stdout" test "$(wc -l <"$work/out")" -eq 2
expect_ok "$IPM" list --json
cp "$work/out" "$work/list.json"
check "list --json is valid JSON" json_valid "$work/list.json"
check "list --json: name" test "$(json_get "$work/list.json" 'd[0]["name"]')" = hello
check "list --json: version" test "$(json_get "$work/list.json" 'd[0]["version"]')" = 1.0
check "list --json: resolved commit" test "$(json_get "$work/list.json" 'd[0]["resolved"]')" = "$c1"
check "list --json: install time" test "$(json_get "$work/list.json" 'd[0]["installed_at"] > 0')" = True

expect_ok "$IPM" info hello
check "info says it is installed" grep -Eq '^installed: +1\.0' "$work/out"
check "info shows the repo" grep -q "acme/hello-tool" "$work/out"
expect_ok "$IPM" info --json hello
cp "$work/out" "$work/info.json"
check "info --json is valid JSON" json_valid "$work/info.json"
check "info --json: installed version" test "$(json_get "$work/info.json" 'd["installed"]["version"]')" = 1.0
check "info --json: files" test "$(json_get "$work/info.json" '"bin/hello" in d["installed"]["files"]')" = True

# Already installed: a message and success, nothing runs again.
state_snapshot "$work/installed"
expect_ok "$IPM" install --yes hello
check "already installed is said" grep -q "already installed" "$work/err"
same_state "installing again changes nothing" "$work/installed"

# owner/repo and repo resolve to the same package.
expect_ok "$IPM" install --yes acme/hello-tool
check "owner/repo resolves (already installed)" grep -q "'hello' 1.0 is already installed" "$work/err"
expect_ok "$IPM" install --yes hello-tool
check "repo alone resolves (already installed)" grep -q "'hello' 1.0 is already installed" "$work/err"

# NAME@VERSION picks a release; upgrading replaces the links.
c2=$(make_git_pkg "$work/src/hello" hello 2.0)
write_entry hello <<EOF
{ "name": "hello", "description": "test package hello", "repo": "acme/hello-tool",
  "versions": [ { "version": "1.0", "git": "file://$work/src/hello", "commit": "$c1" },
                { "version": "2.0", "git": "file://$work/src/hello", "commit": "$c2" } ],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
expect_ok "$IPM" install --dry-run hello@1.0
check "hello@1.0 is already installed" grep -q "already installed" "$work/err"
expect_ok "$IPM" install --dry-run hello
check "plain name plans the newest version, shown as a change" grep -q "hello 1.0 -> 2.0" "$work/out"
expect_ok "$IPM" install --yes hello@2.0
check "hello@2.0 installed" sh -c '[ "$("$1"/bin/hello)" = "hello 2.0" ]' sh "$IPM_PREFIX"
expect_fail 1 "no release of 'hello' satisfies '3.0'" "$IPM" install --yes hello@3.0

# An entry file outside any registry.
c3=$(make_git_pkg "$work/src/solo" solo 0.3)
cat >"$work/solo.json" <<EOF
{ "name": "solo", "description": "an entry given as a file",
  "versions": [ { "version": "0.3", "git": "file://$work/src/solo", "commit": "$c3" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
expect_ok "$IPM" install --yes "$work/solo.json"
check "entry file installed bin/solo" test -x "$IPM_PREFIX/bin/solo"

# remove: every file of the package goes, files it does not own stay.
echo mine >"$IPM_PREFIX/share/hello/NOTES"
echo mine >"$IPM_PREFIX/bin/other-tool"
expect_fail 1 "refusing to remove packages without confirmation" "$IPM" remove hello
check "refused remove kept the package" test -L "$IPM_PREFIX/bin/hello"
expect_ok "$IPM" remove --dry-run hello
check "remove --dry-run lists the package" grep -q "hello 2.0" "$work/out"
check "remove --dry-run kept the package" test -L "$IPM_PREFIX/bin/hello"
expect_ok "$IPM" remove --yes hello
check "bin/hello is gone" test ! -e "$IPM_PREFIX/bin/hello"
check "share/hello/README is gone" test ! -e "$IPM_PREFIX/share/hello/README"
check "an unowned file in its directory stays" test -f "$IPM_PREFIX/share/hello/NOTES"
check "an unowned file in bin stays" test -f "$IPM_PREFIX/bin/other-tool"
check "the store tree is kept, for rollback" test -d "$IPM_HOME/store/hello/2.0"
check "solo is still installed" test -x "$IPM_PREFIX/bin/solo"
"$IPM" list --json >"$work/list2.json" 2>/dev/null
check "list no longer has hello" test "$(json_get "$work/list2.json" '[p["name"] for p in d]')" = "['solo']"
expect_ok "$IPM" remove --yes solo
check "no link of any package is left" test -z "$(find "$IPM_PREFIX" -type l)"
expect_ok "$IPM" clean --keep 1
check "clean deletes the store trees nothing needs" test ! -e "$IPM_HOME/store/hello/2.0"
check "directories ipm created and emptied are gone" test ! -e "$IPM_PREFIX/share/solo"
expect_ok "$IPM" list
check "empty list prints nothing on stdout" test ! -s "$work/out"

done_testing
