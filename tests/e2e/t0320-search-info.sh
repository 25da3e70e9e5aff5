#!/bin/sh
# search: ranked text matches over name, description and keywords, typo
# tolerant names, --json; info --json; the bundled registry's attention entry.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/src/x" x 1.0)
pkg() { # NAME DESCRIPTION KEYWORDS_JSON
	write_entry "$1" <<EOF
{ "name": "$1", "description": "$2", "keywords": $3,
  "versions": [ { "version": "1.0", "git": "file://$work/src/x", "commit": "$c" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
}
pkg zstd "fast lossless compression algorithm" '["compression"]'
pkg lz4 "extremely fast compression" '["compression", "lz"]'
pkg sqlite "embedded SQL database engine" '["database", "sql"]'
pkg libyaml "YAML parser and emitter" '["yaml", "parser"]'

expect_ok "$IPM" search compression
check "search finds zstd" grep -q "^zstd " "$work/out"
check "search finds lz4" grep -q "^lz4 " "$work/out"
check "search does not list unrelated packages" sh -c '! grep -q "^sqlite " "$1"' sh "$work/out"
expect_ok "$IPM" search --json database
cp "$work/out" "$work/s.json"
check "search --json is valid JSON" json_valid "$work/s.json"
check "search --json: sqlite first" test "$(json_get "$work/s.json" 'd[0]["name"]')" = sqlite
check "search --json: description" test "$(json_get "$work/s.json" 'd[0]["description"]')" = "embedded SQL database engine"
check "search --json: a text match" test "$(json_get "$work/s.json" 'd[0]["match"]')" = text

expect_ok "$IPM" search --json sqlit
cp "$work/out" "$work/typo.json"
check "a typo still finds sqlite" test "$(json_get "$work/typo.json" '"sqlite" in [h["name"] for h in d]')" = True
expect_ok "$IPM" search --json libymal
cp "$work/out" "$work/typo2.json"
check "a transposition finds libyaml" test "$(json_get "$work/typo2.json" '"libyaml" in [h["name"] for h in d]')" = True

expect_ok "$IPM" search qqqqzzzz
check "no match: nothing on stdout" test ! -s "$work/out"
expect_ok "$IPM" search --json qqqqzzzz
check "no match --json: an empty array" test "$(json_get "$work/out" 'len(d)')" = 0
expect_fail 2 "usage: ipm search" "$IPM" search

expect_ok "$IPM" info --json zstd
cp "$work/out" "$work/i.json"
check "info --json is valid JSON" json_valid "$work/i.json"
check "info --json: versions" test "$(json_get "$work/i.json" 'd["versions"][0]["version"]')" = 1.0
check "info --json: not installed" test "$(json_get "$work/i.json" 'd["installed"]')" = None
check "info --json: keywords" test "$(json_get "$work/i.json" 'd["keywords"]')" = "['compression']"
expect_ok "$IPM" info zstd
check "info says not installed" grep -Eq '^installed: +no' "$work/out"
check "info lists the versions" grep -q "^  1.0 " "$work/out"
expect_fail 2 "usage: ipm info" "$IPM" info

# The bundled registry ships the attention library.
unset IPM_REGISTRY
expect_ok "$IPM" search attention
check "search attention finds the bundled entry" grep -q "^attention " "$work/out"
expect_ok "$IPM" info --json attention
cp "$work/out" "$work/a.json"
check "attention comes from the bundled registry" test "$(json_get "$work/a.json" 'd["registry"]')" = bundled

done_testing
