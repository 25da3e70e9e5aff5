#!/bin/sh
# Sparse registries: `ipm registry build DIR OUTDIR` writes one file per
# package, shards listing their digests and a small root; nginx serves them
# (ETag, Last-Modified, gzip). `ipm update` on a fresh home fetches the root
# and the shards only; `install` fetches the files of the package and its
# dependencies; after one entry changed, an update fetches the root, one
# shard and that package's file, nothing else, each request conditional and
# compressed; damaged, missing or tampered files (a signed root included)
# are refused with the previous index kept; a single-document registry
# still works beside it.
. "$(dirname "$0")/lib.sh"

srv=$work/srv
team=$work/team
mkdir -p "$team/packages" "$srv"
printf '{ "name": "team", "description": "the team registry" }\n' >"$team/registry.json"
c_tool=$(make_git_pkg "$work/src/teamtool" teamtool 1.0)
c_lib=$(make_git_pkg "$work/src/teamlib" teamlib 1.0)
# team_entry NAME DESCRIPTION [DEPENDS_JSON]
team_entry() {
	cat >"$team/packages/$1.json" <<EOF
{ "name": "$1", "description": "$2", "license": "MIT", "keywords": ["team"],
  "versions": [ { "version": "1.0", "git": "file://$work/src/${4:-$1}", "commit": "${5:-$c_tool}" } ],
  "depends": ${3:-[]},
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
}
team_entry teamtool "the team's tool" '[{"name": "teamlib"}]'
team_entry teamlib "the team's library" '[]' teamlib "$c_lib"
# fillers, so that the packages spread over many shards
i=0
while [ $i -lt 40 ]; do
	team_entry "filler$i" "filler package number $i" '[]' teamtool
	i=$((i + 1))
done

# build [ARGS...]: registry build, then a root mtime of its own: nginx's
# ETag and Last-Modified are the mtime in seconds and the size, and two
# builds in one second can give a root of the same size
stamp=$(($(date +%s) - 1000))
build() {
	expect_ok "$IPM" registry build "$@"
	stamp=$((stamp + 1))
	touch -d "@$stamp" "$2/index.json" 2>/dev/null
}

if ! nginx_static_start "$srv"; then
	not_ok "nginx is available (scripts/install-deps --tests installs it)"
	done_testing
	exit 1
fi
log=$NGINX_LOG

# ---- build ----
build "$team" "$srv/plain"
check "build says what it wrote" grep -q "^wrote '$srv/plain/index.json': 42 packages in .* shards" "$work/err"
check "the root names its format" test "$(json_get "$srv/plain/index.json" 'd["format"]')" = ipm-sparse-1
check "the root lists shards, not packages" test "$(json_get "$srv/plain/index.json" 'len(d["shards"]) > 10 and d["packages"] == 42')" = True
check "a package file in cargo's layout" test -f "$srv/plain/packages/te/am/teamtool.json"
check "the package file is its entry" test "$(json_get "$srv/plain/packages/te/am/teamtool.json" 'd["name"]')" = teamtool
check "the shards list every package's sha256" python3 - "$srv/plain" <<'EOF'
import hashlib, json, os, sys
root = sys.argv[1]
idx = json.load(open(os.path.join(root, "index.json")))
names = 0
for s in idx["shards"]:
    data = open(os.path.join(root, "shards", s["id"] + ".json"), "rb").read()
    assert hashlib.sha256(data).hexdigest() == s["sha256"], s
    for p in json.loads(data)["packages"]:
        n = p["name"]
        path = {1: "1/%s", 2: "2/%s", 3: "3/%s/%%s" % n[0]}.get(len(n), "%s/%s/%%s" % (n[:2], n[2:4]))
        path = path % n if "%s" in path else path
        f = open(os.path.join(root, "packages", path + ".json"), "rb").read()
        assert hashlib.sha256(f).hexdigest() == p["sha256"], n
        assert hashlib.sha256(n.encode()).hexdigest()[:2] == s["id"], n
        names += 1
assert names == idx["packages"] == 42
EOF
find "$srv/plain" -type f -exec stat -c '%n %Y.%i' {} + | sort >"$work/files.before"
expect_ok "$IPM" registry build "$team" "$srv/plain"
check "an unchanged rebuild writes nothing" grep -q "^unchanged '$srv/plain/index.json': .* 0 files written, 0 removed" "$work/err"
find "$srv/plain" -type f -exec stat -c '%n %Y.%i' {} + | sort >"$work/files.after"
check "and leaves every file as it was (ETags stay)" cmp "$work/files.before" "$work/files.after"
expect_fail 1 "is inside the registry directory" "$IPM" registry build "$team" "$team/out"
check "no output directory inside the registry" test ! -e "$team/out"
: >"$work/afile"
expect_fail 1 "output '$work/afile' is not a directory" "$IPM" registry build "$team" "$work/afile"
# the single document, as before
expect_ok "$IPM" registry build "$team" "$srv/single.json"
check "OUT.json is still one document" test "$(json_get "$srv/single.json" 'len(d["packages"])')" = 42

# ---- a fresh home: update fetches the root and the shards ----
expect_ok "$IPM" registry add --insecure team "$HTTP/plain/index.json"
: >"$log"
expect_ok "$IPM" update
check "update imports every package" grep -q "^team: updated, 42 packages" "$work/out"
check "update fetched the root" grep -q '^GET /plain/index.json 200 ' "$log"
nshards=$(json_get "$srv/plain/index.json" 'len(d["shards"])')
check "and each shard once" test "$(grep -c '^GET /plain/shards/' "$log")" -eq "$nshards"
check "but no package file" sh -c '! grep -q "/packages/" "$1"' sh "$log"
check "every transfer was compressed (gzip)" sh -c '! grep -v "\"gzip\"" "$1" | grep -q .' sh "$log"
check "several shards a connection (keep-alive, at most 8 at once)" \
	test "$(awk '{ print $NF }' "$log" | sort -u | wc -l)" -le 9 -a "$nshards" -gt 9
expect_ok "$IPM" search "filler package"
check "search reads the shards' descriptions" grep -q "filler17" "$work/out"
expect_ok "$IPM" search fillr17
check "a name found by similarity shows its shard's description" grep -q "filler17.*filler package number 17" "$work/out"

# ---- install fetches its own file and its dependencies' ----
: >"$log"
expect_ok "$IPM" install --yes teamtool
check "install fetched teamtool's package file" grep -q '^GET /plain/packages/te/am/teamtool.json 200 ' "$log"
check "and its dependency's" grep -q '^GET /plain/packages/te/am/teamlib.json 200 ' "$log"
check "and nothing else from the registry" test "$(grep -c '^GET /plain/' "$log")" -eq 2
check "the installed program runs" sh -c '"$1/bin/teamtool" | grep -qx "teamtool 1.0"' sh "$IPM_PREFIX"
check "its dependency runs" sh -c '"$1/bin/teamlib" | grep -qx "teamlib 1.0"' sh "$IPM_PREFIX"
: >"$log"
expect_ok "$IPM" info teamtool
check "a fetched package file is kept" test ! -s "$log"

# ---- install on a fresh machine without an update: only what it needs ----
home1=$IPM_HOME prefix1=$IPM_PREFIX
export IPM_HOME=$work/home2 IPM_PREFIX=$work/prefix2
: >"$log"
expect_ok "$IPM" install --yes teamtool
check "a fresh install runs the installed program" sh -c '"$1/bin/teamtool" | grep -qx "teamtool 1.0"' sh "$IPM_PREFIX"
shard_of() { python3 -c 'import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:2])' "$1"; }
check "it fetched the root once" test "$(grep -c '^GET /plain/index.json ' "$log")" -eq 1
check "the shard of the package" grep -q "^GET /plain/shards/$(shard_of teamtool).json 200 " "$log"
check "the shard of its dependency" grep -q "^GET /plain/shards/$(shard_of teamlib).json 200 " "$log"
check "no other shard" test "$(grep -c '^GET /plain/shards/' "$log")" -eq "$(printf '%s\n' "$(shard_of teamtool)" "$(shard_of teamlib)" | sort -u | wc -l)"
check "and the two package files only" test "$(grep -c '^GET /plain/packages/' "$log")" -eq 2
: >"$log"
expect_ok "$IPM" update
check "the next update: the root answered 304" grep -q '^GET /plain/index.json 304 ' "$log"
check "and the shards not fetched yet" test "$(grep -c '^GET /plain/shards/.* 200 ' "$log")" -eq "$((nshards - $(printf '%s\n' "$(shard_of teamtool)" "$(shard_of teamlib)" | sort -u | wc -l)))"
check "then every package is there" grep -q "^team: updated, 42 packages" "$work/out"
: >"$log"
expect_ok "$IPM" update
check "and an update after that is one 304" test "$(grep -c . "$log")" -eq 1
expect_ok "$IPM" info filler5
export IPM_HOME=$home1 IPM_PREFIX=$prefix1

# ---- one entry changed: the root, its shard, its file ----
team_entry teamtool "the team's tool, now faster" '[{"name": "teamlib"}]'
build "$team" "$srv/plain"
check "the rebuild wrote three files" grep -q "3 files written" "$work/err"
: >"$log"
expect_ok "$IPM" update
check "update says updated" grep -q "^team: updated, 42 packages" "$work/out"
check "update asked for the root conditionally" grep -q '^GET /plain/index.json 200 [0-9]* "gzip" "[^-]' "$log"
check "it fetched one shard" test "$(grep -c '^GET /plain/shards/.* 200 ' "$log")" -eq 1
check "and one package file: teamtool's" sh -c 'grep "/packages/" "$1" | grep -q "^GET /plain/packages/te/am/teamtool.json 200 "' sh "$log"
check "three requests in all" test "$(wc -l <"$log")" -eq 3
check "the changed entry is imported" sh -c '"$1" info teamtool | grep -q "now faster"' sh "$IPM"
expect_ok "$IPM" search faster
check "and its search row" grep -q "^teamtool" "$work/out"
expect_ok "$IPM" search "tool, team's"
: >"$log"
expect_ok "$IPM" update
check "an unchanged registry costs one 304" test "$(cat "$log")" != "" -a "$(grep -c . "$log")" -eq 1
check "answered 304" grep -q '^GET /plain/index.json 304 ' "$log"

# ---- a new release of an installed package: update and outdated see it ----
cat >"$team/packages/teamlib.json" <<EOF
{ "name": "teamlib", "description": "the team's library", "license": "MIT", "keywords": ["team"],
  "versions": [ { "version": "1.1", "git": "file://$work/src/teamlib", "commit": "$c_lib" },
                { "version": "1.0", "git": "file://$work/src/teamlib", "commit": "$c_lib" } ],
  "depends": [],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
libshard=$srv/plain/shards/$(shard_of teamlib).json
shard_mtime=$(stat -c %Y "$libshard") shard_size=$(stat -c %s "$libshard")
build "$team" "$srv/plain"
# the shard changed (a new digest for teamlib's file) at the same size: with
# its old mtime too, nginx gives it the ETag it had, and only a request
# without validators gets the new one
check "the shard kept its size" test "$(stat -c %s "$libshard")" = "$shard_size"
touch -d "@$shard_mtime" "$libshard"
: >"$log"
expect_ok "$IPM" update
check "the changed shard was asked for without validators" grep -q "^GET /plain/shards/$(shard_of teamlib).json 200 " "$log"
check "update says one installed package is outdated" grep -q "^1 installed package is outdated" "$work/out"
expect_ok "$IPM" outdated
check "outdated names it with both versions" grep -Eq "^teamlib +1\.0 +1\.1" "$work/out"
# (a description of another length: nginx's ETag is the mtime in seconds
# and the size, and this shard is rewritten within the same second)
team_entry teamlib "the team's library, 1.0 only" '[]' teamlib "$c_lib"
build "$team" "$srv/plain"
expect_ok "$IPM" update
check "with the release withdrawn, nothing is outdated" grep -q "^no installed package is outdated" "$work/out"

# ---- a package added and one removed ----
team_entry newpkg "a new package" '[]'
rm "$team/packages/filler3.json"
build "$team" "$srv/plain"
check "the removed package's file is gone" test ! -e "$srv/plain/packages/fi/ll/filler3.json"
: >"$log"
expect_ok "$IPM" update
check "update counts them" grep -q "^team: updated, 42 packages" "$work/out"
check "no package file fetched for them" sh -c '! grep -q "/packages/" "$1"' sh "$log"
expect_ok "$IPM" info newpkg
check "the new package is found" grep -q "a new package" "$work/out"
expect_fail 1 "package 'filler3' not found" "$IPM" info filler3
expect_fail 1 "package 'filler3' not found" "$IPM" install --yes filler3
check "did you mean offers the remaining names" grep -q "did you mean 'filler" "$work/err"

# ---- damaged files: refused, nothing imported ----
one_error() {
	check "$1: one error line" test "$(grep -c '^ipm: error:' "$work/err")" -eq 1
	check "$1: a hint" grep -q '^hint: ' "$work/err"
}
team_entry teamtool "the team's tool, third edition" '[{"name": "teamlib"}]'
build "$team" "$srv/plain"
shard=$(grep -l '"teamtool"' "$srv/plain/shards/"*.json)
cp "$shard" "$work/shard.good"
sed -i 's/third edition/forged edition/' "$shard"
state_snapshot "$work/state0"
expect_fail 1 "shards/[0-9a-f]{2}.json': (sha256 [0-9a-f]{64}, but|larger than the [0-9]+ bytes) the root of registry 'team' lists" "$IPM" update
one_error "a shard that does not match the root"
same_state "a bad shard changes nothing" "$work/state0"
cp "$work/shard.good" "$shard"
pkgfile=$srv/plain/packages/te/am/teamtool.json
cp "$pkgfile" "$work/pkg.good"
sed -i 's/third edition/forged edition/' "$pkgfile"
expect_fail 1 "teamtool.json': (sha256 [0-9a-f]{64}, but|larger than the [0-9]+ bytes) its shard in registry 'team' lists" "$IPM" update
one_error "a package file that does not match its shard"
same_state "a bad package file changes nothing" "$work/state0"
rm "$pkgfile"
expect_fail 1 "teamtool.json': HTTP 404" "$IPM" update
one_error "a missing package file"
same_state "a missing package file changes nothing" "$work/state0"
cp "$work/pkg.good" "$pkgfile"
printf '{"registry":{"name":"team"},"format":"ipm-sparse-1","shards":[{"id":"zz"}]}\n' >"$srv/plain/index.json.bad"
cp "$srv/plain/index.json" "$work/root.good"
cp "$srv/plain/index.json.bad" "$srv/plain/index.json"
expect_fail 1 "a shard needs an \"id\" of two hex digits" "$IPM" update
one_error "a malformed root"
same_state "a malformed root changes nothing" "$work/state0"
cp "$work/root.good" "$srv/plain/index.json"
expect_ok "$IPM" update
check "the repaired registry imports" sh -c '"$1" info teamtool | grep -q "third edition"' sh "$IPM"

# ---- lazily fetched package files are verified too ----
rm -rf "$IPM_HOME"
expect_ok "$IPM" update
sed -i 's/filler package number 7"/filler package number 7 (forged)"/' "$srv/plain/packages/fi/ll/filler7.json"
expect_fail 1 "filler7.json': sha256 [0-9a-f]{64}, but its shard in registry 'team' lists" "$IPM" install --yes filler7
one_error "a tampered package file at install"
check "nothing was installed" test ! -e "$IPM_PREFIX/bin/filler7"

# ---- signed: the root's signature covers every file ----
mkdir -p "$work/keys"
expect_ok "$IPM" registry keygen --dir "$work/keys"
key=$(cat "$work/out")
build "$team" "$srv/signed" --sign "$work/keys/registry.key"
check "the root is signed" test -f "$srv/signed/index.json.minisig"
check "the root has a version and an expiry" test "$(json_get "$srv/signed/index.json" 'd["version"] > 0 and d["expires"][:2] == "20"')" = True
expect_ok "$IPM" registry remove team
expect_ok "$IPM" registry add --insecure --key "$key" signed "$HTTP/signed/index.json"
rm -rf "$IPM_HOME" "$IPM_PREFIX"
expect_ok "$IPM" update
check "the signed sparse registry imports" grep -q "^signed: updated, 42 packages" "$work/out"
expect_ok "$IPM" install --yes teamtool
check "a package of the signed registry installs and runs" sh -c '"$1/bin/teamtool" | grep -qx "teamtool 1.0"' sh "$IPM_PREFIX"
sed -i 's/filler package number 9"/filler package number 9 (forged)"/' "$srv/signed/packages/fi/ll/filler9.json"
expect_fail 1 "filler9.json': sha256 [0-9a-f]{64}, but its shard in registry 'signed' lists" "$IPM" info filler9
one_error "a tampered package file of a signed registry"
# a root changed after signing
team_entry teamlib "the team's library, unsigned change" '[]' teamlib "$c_lib"
build "$team" "$srv/signed" --sign "$work/keys/registry.key"
cp "$srv/signed/index.json.minisig" "$work/sig.new"
git -C "$work" init -q 2>/dev/null
cp "$work/sig.new" "$srv/signed/index.json.minisig"
python3 - "$srv/signed/index.json" <<'EOF'
import sys
p = sys.argv[1]
t = open(p).read()
# another shard digest: the files it names would follow
i = t.index('"sha256":"') + len('"sha256":"')
t = t[:i] + ("0" if t[i] != "0" else "1") + t[i + 1:]
open(p, "w").write(t)
EOF
touch -d "@$((stamp + 100))" "$srv/signed/index.json"
state_snapshot "$work/state1"
expect_fail 1 "registry 'signed': '.*index.json.minisig': the signature does not match the data" "$IPM" update
one_error "a root changed after signing"
same_state "a forged root changes nothing" "$work/state1"


# ---- published during an update: the root asked again, once ----
# pubhttpd answers the first request for the root from one build and
# everything else from a newer one, as a client reading while the registry
# is published sees it
pub=$work/pub
mkdir -p "$pub/ctl"
team_entry teamtool "the team's tool, before publishing" '[{"name": "teamlib"}]'
build "$team" "$pub/old"
team_entry teamtool "the team's tool, as published" '[{"name": "teamlib"}]'
build "$team" "$pub/new"
echo "$pub/new" >"$pub/ctl/current"
echo "$pub/old" >"$pub/ctl/first-root"
python3 "$TOP/tests/tools/pubhttpd.py" "$pub/ctl" "$pub/port" "$pub/log" </dev/null >/dev/null 2>"$pub/err" &
bg_pids="$bg_pids $!"
i=0
while [ ! -s "$pub/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PUB=http://127.0.0.1:$(cat "$pub/port")
export IPM_CONFIG=$work/pub-config.json IPM_HOME=$work/home-pub IPM_PREFIX=$work/prefix-pub
expect_ok "$IPM" registry add --insecure team "$PUB/index.json"
expect_ok "$IPM" update
check "an update that read an old root, then newer shards, succeeds" grep -q "^team: updated, 42 packages" "$work/out"
check "it says the registry was published meanwhile" grep -q "registry 'team' was published during the update" "$work/err"
check "it asked for the root twice" test "$(grep -c '^GET /index.json 200' "$pub/log")" -eq 2
check "the second time it got the new root" test "$(grep '^GET /index.json 200' "$pub/log" | tail -n 1 | cut -d' ' -f4)" = new
expect_ok "$IPM" info teamtool
check "the new index is imported" grep -q "as published" "$work/out"

# published again since the update: install updates, then installs
team_entry teamtool "the team's tool, published again" '[{"name": "teamlib"}]'
build "$team" "$pub/newer"
echo "$pub/newer" >"$pub/ctl/current"
expect_ok "$IPM" install --yes teamtool
check "install says it updated the registry first" grep -q "registry 'team' was published since the last update: updating it" "$work/err"
check "the package installs and runs" sh -c '"$1/bin/teamtool" | grep -qx "teamtool 1.0"' sh "$IPM_PREFIX"
expect_ok "$IPM" info teamtool
check "from the newest index" grep -q "published again" "$work/out"

# a root that names files the server replaced, and stays so: one more try,
# then the error, and nothing changes
team_entry teamtool "the team's tool, half published" '[{"name": "teamlib"}]'
build "$team" "$pub/half"
team_entry teamtool "the team's tool, torn" '[{"name": "teamlib"}]'
build "$team" "$pub/torn"
cp "$pub/half/index.json" "$pub/torn/index.json"
echo "$pub/torn" >"$pub/ctl/current"
: >"$pub/log"
state_snapshot "$work/state-pub"
expect_fail 1 "shards/[0-9a-f]{2}.json': sha256 [0-9a-f]{64}, but the root of registry 'team' lists" "$IPM" update
one_error "a root that names replaced files"
check "the root was asked for twice, not more" test "$(grep -c '^GET /index.json' "$pub/log")" -eq 2
same_state "a torn registry changes nothing" "$work/state-pub"

done_testing
