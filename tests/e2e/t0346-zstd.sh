#!/bin/sh
# zstd on the wire: a sparse registry whose every file has a .zst beside
# it (zstd CLI), served by the test server as a server set up for static
# compression serves them (Content-Encoding: zstd when the request accepts
# it). `ipm update` and an install take the root, the shards and the
# package files compressed, and what went on the wire is the .zst files'
# sizes; the next update is one conditional request for the compressed
# root, answered 304; a compressed answer that does not decode is refused
# with the previous index kept.
. "$(dirname "$0")/lib.sh"

if ! command -v zstd >/dev/null 2>&1; then
	not_ok "zstd is installed (scripts/install-deps --tests)"
	done_testing
	exit 1
fi

srv=$work/srv
team=$work/team
mkdir -p "$team/packages" "$srv"
printf '{ "name": "team", "description": "the team registry" }\n' >"$team/registry.json"
c_tool=$(make_git_pkg "$work/src/zsttool" zsttool 1.0)
c_lib=$(make_git_pkg "$work/src/zstlib" zstlib 1.0)
entry() { # NAME DESCRIPTION SRC COMMIT DEPENDS
	cat >"$team/packages/$1.json" <<EOF
{ "name": "$1", "description": "$2", "license": "MIT", "keywords": ["team", "zstd"],
  "versions": [ { "version": "1.0", "git": "file://$work/src/$3", "commit": "$4" } ],
  "depends": $5,
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
}
entry zsttool "a tool served compressed" zsttool "$c_tool" '[{"name": "zstlib"}]'
entry zstlib "a library served compressed" zstlib "$c_lib" '[]'
i=0
while [ $i -lt 40 ]; do
	entry "filler$i" "filler package number $i, with a description long enough to compress" zsttool "$c_tool" '[]'
	i=$((i + 1))
done
expect_ok "$IPM" registry build "$team" "$srv/reg"
# compress every file of the layout, keeping the originals
find "$srv/reg" -type f -name '*.json' -exec zstd -q -k -19 {} +
check "every file has its .zst" test "$(find "$srv/reg" -name '*.json' | wc -l)" -eq "$(find "$srv/reg" -name '*.json.zst' | wc -l)"
nshards=$(json_get "$srv/reg/index.json" 'len(d["shards"])')

start_httpd "$srv" || exit 1
expect_ok "$IPM" registry add --insecure team "$HTTP/reg/index.json"

# served PATH: "ENCODING BYTES" of PATH's last 200 in the log
served() {
	grep "^GET $1 200" "$HTTPD_LOG" | tail -n 1 | cut -d' ' -f4-
}
zsize() { stat -c %s "$srv$1.zst"; }

# ---- update: the root and every shard, compressed ----
: >"$HTTPD_LOG"
expect_ok "$IPM" update
check "update imports every package" grep -q "^team: updated, 42 packages" "$work/out"
check "the root was served as zstd, its .zst's bytes" test "$(served /reg/index.json)" = "zstd $(zsize /reg/index.json)"
check "every shard was fetched" test "$(grep -c '^GET /reg/shards/.* 200' "$HTTPD_LOG")" -eq "$nshards"
bad=0
for s in $(grep '^GET /reg/shards/.* 200' "$HTTPD_LOG" | cut -d' ' -f2); do
	[ "$(served "$s")" = "zstd $(zsize "$s")" ] || { bad=$((bad + 1)); echo "# $s: $(served "$s")"; }
done
check "each shard as zstd, its .zst's bytes" test "$bad" -eq 0
wire=$(grep '^GET /reg/' "$HTTPD_LOG" | awk '{ b += $5 } END { print b + 0 }')
plain=$( (cat "$srv/reg/index.json"; cat "$srv/reg/shards/"*.json) | wc -c)
check "the update moved fewer bytes than the plain files hold ($wire of $plain)" test "$wire" -lt "$plain"
expect_ok "$IPM" search "description long enough"
check "the decoded shards' descriptions are searchable" grep -q "^filler17" "$work/out"

# ---- install: the package files, compressed; the programs run ----
: >"$HTTPD_LOG"
expect_ok "$IPM" install --yes zsttool
check "zsttool's file as zstd" test "$(served /reg/packages/zs/tt/zsttool.json)" = "zstd $(zsize /reg/packages/zs/tt/zsttool.json)"
check "zstlib's file as zstd" test "$(served /reg/packages/zs/tl/zstlib.json)" = "zstd $(zsize /reg/packages/zs/tl/zstlib.json)"
check "nothing else was asked for" test "$(grep -c . "$HTTPD_LOG")" -eq 2
check "the installed program runs" sh -c '[ "$("$1/bin/zsttool")" = "zsttool 1.0" ]' sh "$IPM_PREFIX"
check "its dependency runs" sh -c '[ "$("$1/bin/zstlib")" = "zstlib 1.0" ]' sh "$IPM_PREFIX"

# ---- the next update: one conditional request for the compressed root ----
: >"$HTTPD_LOG"
expect_ok "$IPM" update
check "one request, answered 304 for the zstd variant" test "$(cat "$HTTPD_LOG")" = "GET /reg/index.json 304 zstd 0"

# ---- a compressed answer that does not decode ----
entry zsttool "a tool served compressed, second edition" zsttool "$c_tool" '[{"name": "zstlib"}]'
expect_ok "$IPM" registry build "$team" "$srv/reg"
find "$srv/reg" -type f -name '*.json' -exec zstd -q -f -k -19 {} +
shard=$(grep -l '"zsttool"' "$srv/reg/shards/"*.json)
printf 'not zstd at all' >"$shard.zst"
state_snapshot "$work/state0"
expect_fail 1 "shards/[0-9a-f]{2}.json': .*(ncoding|zstd|decompress)" "$IPM" update
check "one error line" test "$(grep -c '^ipm: error:' "$work/err")" -eq 1
check "and a hint" grep -q '^hint: ' "$work/err"
same_state "nothing changed" "$work/state0"
zstd -q -f -k -19 "$shard"
expect_ok "$IPM" update
check "once repaired, the change is imported" sh -c '"$1" info zsttool | grep -q "second edition"' sh "$IPM"

done_testing
