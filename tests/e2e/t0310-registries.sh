#!/bin/sh
# registry list/add/remove and their errors; a local registry, an HTTP
# registry refreshed with ETag (an unchanged one costs one 304), a git
# registry, and `ipm update` going on past a registry that fails.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/src/tool" tool 1.0)
entry_json() { # NAME VERSION
	printf '{ "name": "%s", "description": "package %s from a registry", "keywords": ["fixture"],
  "versions": [ { "version": "%s", "git": "file://%s", "commit": "%s" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }' "$1" "$1" "$2" "$work/src/tool" "$c"
}
entry_json shared 1.0 >"$REG/packages/shared.json"

expect_ok "$IPM" registry list
check "registry list shows bundled" grep -Eq "^bundled +local +1 +$REG" "$work/out"

# A local registry.
mkdir -p "$work/team/packages"
entry_json teamtool 1.0 >"$work/team/packages/teamtool.json"
entry_json shared 2.0 >"$work/team/packages/shared.json"
expect_ok "$IPM" registry add team "$work/team"
check "the config file records it" grep -q "$work/team" "$IPM_CONFIG"
expect_ok "$IPM" registry list
check "team is listed before bundled" sh -c 'awk "NR>1 {print \$1}" "$1" | tr "\n" " " | grep -qx "team bundled "' sh "$work/out"
expect_ok "$IPM" info teamtool
check "a local registry is imported without update" grep -q "^registry: *team" "$work/out"
expect_ok "$IPM" info --json shared
cp "$work/out" "$work/shared.json"
check "the first registry wins" test "$(json_get "$work/shared.json" 'd["registry"]')" = team

expect_fail 1 "registry 'team' already exists" "$IPM" registry add team "$work/team"
expect_fail 1 "registry 'bundled' is built in" "$IPM" registry add bundled "$work/team"
expect_fail 1 "invalid registry name 'Bad Name'" "$IPM" registry add "Bad Name" "$work/team"
expect_fail 1 "registry 'nope' is not configured" "$IPM" registry remove nope
expect_fail 1 "registry 'bundled' is built in" "$IPM" registry remove bundled
expect_fail 2 "usage: ipm registry" "$IPM" registry add onlyname
expect_fail 2 "unknown subcommand 'frob'" "$IPM" registry frob

expect_ok "$IPM" registry remove team
check "the config no longer has it" sh -c '! grep -q "$1" "$2"' sh "$work/team" "$IPM_CONFIG"
expect_fail 1 "package 'teamtool' not found" "$IPM" info teamtool
expect_ok "$IPM" info --json shared
cp "$work/out" "$work/shared.json"
check "its entries are forgotten" test "$(json_get "$work/shared.json" 'd["registry"]')" = bundled

# An HTTP registry: one index document, refreshed with If-None-Match.
mkdir -p "$work/www"
{
	printf '{ "registry": { "name": "web" }, "packages": [ '
	entry_json webtool 3.1
	printf ' ] }\n'
} >"$work/www/index.json"
start_httpd "$work/www" || exit 1
# the test server is plain http://: refused unless the registry is marked
# insecure (t0330 tests the refusal)
expect_fail 1 "registry 'web': refusing plain http:// URL" "$IPM" registry add web "$HTTP/index.json"
expect_ok "$IPM" registry add --insecure web "$HTTP/index.json"
expect_ok "$IPM" registry list
check "web is an http registry" grep -Eq "^web +http +- +$HTTP/index.json" "$work/out"
expect_ok "$IPM" update
check "update imported web" grep -q "^web: updated, 1 package" "$work/out"
check "one GET for the index" test "$(grep -c "GET /index.json" "$HTTPD_LOG")" -eq 1
: >"$HTTPD_LOG"
expect_ok "$IPM" update
check "second update: web is up to date" grep -q "^web: up to date" "$work/out"
check "second update: exactly one request, answered 304" test "$(cat "$HTTPD_LOG")" = "GET /index.json 304"
expect_ok "$IPM" install --yes webtool
check "a package from the HTTP registry installs" test -x "$IPM_PREFIX/bin/tool"
expect_ok "$IPM" search --json webtool
cp "$work/out" "$work/search.json"
check "search finds it in web" test "$(json_get "$work/search.json" 'd[0]["registry"]')" = web

# A git registry.
mkdir -p "$work/gitreg/packages"
printf '{ "name": "gitreg" }\n' >"$work/gitreg/registry.json"
entry_json gitpkg 1.0 >"$work/gitreg/packages/gitpkg.json"
(cd "$work/gitreg" && git init -q && git add -A && git commit -q -m one)
expect_ok "$IPM" registry add gitreg "file://$work/gitreg"
expect_ok "$IPM" update
check "update imported the git registry" grep -q "^gitreg: updated, 1 package" "$work/out"
expect_ok "$IPM" info gitpkg
entry_json gitpkg2 1.0 >"$work/gitreg/packages/gitpkg2.json"
(cd "$work/gitreg" && git add -A && git commit -q -m two)
expect_ok "$IPM" update
check "a new commit is imported" grep -q "^gitreg: updated, 2 packages" "$work/out"
expect_ok "$IPM" update
check "an unchanged git registry is up to date" grep -q "^gitreg: up to date" "$work/out"

# A registry that cannot be reached fails update, the others are still done.
expect_ok "$IPM" registry add --insecure down "http://127.0.0.1:$(closed_port)/index.json"
expect_fail 1 "127.0.0.1:[0-9]+/index.json" "$IPM" update
check "the other registries were still updated" grep -q "^web: up to date" "$work/out"
check "the failing one is named" grep -q "^down: failed" "$work/out"

done_testing
