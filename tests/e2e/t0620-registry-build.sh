#!/bin/sh
# ipm registry build: a registry directory compiled into the index document
# an HTTP registry serves, consumed by `ipm update` over HTTP; a rebuild that
# changes nothing keeps the bytes (and so the ETag: one 304); a bad entry
# writes nothing; "self" sources get the registry's home and commit; the
# command's bad input; `ipm install PATH/TO/entry.json`.
. "$(dirname "$0")/lib.sh"

# stat_id FILE: inode and mtime (ns) of FILE, to tell a rewrite from none.
stat_id() {
	python3 -c 'import os,sys; s=os.stat(sys.argv[1]); print(s.st_ino, s.st_mtime_ns)' "$1"
}

team=$work/team
mkdir -p "$team/packages" "$work/www"
printf '{ "name": "team", "description": "the team registry" }\n' >"$team/registry.json"

# team_entry NAME VERSION COMMIT [DEPENDS_JSON]: an entry for the package
# in $work/src/NAME, laid out as a contributor writes it.
team_entry() {
	cat >"$team/packages/$1.json" <<EOF
{
  "name": "$1",
  "description": "team package $1",
  "license": "MIT",
  "keywords": ["team", "fixture"],
  "versions": [ { "version": "$2", "git": "file://$work/src/$1", "commit": "$3" } ],
  "depends": ${4:-[]},
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ]
}
EOF
}
c_lib=$(make_git_pkg "$work/src/libfoo" libfoo 1.0)
c_tool=$(make_git_pkg "$work/src/footool" footool 1.0)
c_zed=$(make_git_pkg "$work/src/zed" zed 0.3)
team_entry libfoo 1.0 "$c_lib"
team_entry footool 1.0 "$c_tool" '[{ "name": "libfoo", "version": ">=1.0" }]'
team_entry zed 0.3 "$c_zed"
index=$work/www/index.json

# ---- the build ----
expect_ok "$IPM" registry build "$team" "$index"
check "build says what it wrote" grep -qx "wrote '$index': 3 packages" "$work/err"
check "nothing on stdout" test ! -s "$work/out"
check "the index is one JSON document" json_valid "$index"
check "packages sorted by name" test "$(json_get "$index" '",".join(p["name"] for p in d["packages"])')" = "footool,libfoo,zed"
check "registry.json's name and description are kept" \
	test "$(json_get "$index" 'd["registry"]')" = "{'name': 'team', 'description': 'the team registry'}"
check "no home or commit without \"self\" entries" test "$(json_get "$index" 'sorted(d["registry"])')" = "['description', 'name']"
check "each entry is its file's JSON" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["packages"]:
    assert p == json.load(open(sys.argv[2] + "/packages/" + p["name"] + ".json")), p["name"]
' "$index" "$team"
check "compact: one line per entry" test "$(wc -l <"$index")" -eq 5
check "an entry's key order is the file's" sh -c 'sed -n 2p "$1" | grep -q "^{\"name\":\"footool\",\"description\":\"team package footool\",\"license\":\"MIT\",\"keywords\""' sh "$index"

# The same input gives the same bytes, wherever and whenever it is built.
mkdir -p "$work/copy/packages"
for f in zed libfoo footool; do cp "$team/packages/$f.json" "$work/copy/packages/"; done
cp "$team/registry.json" "$work/copy/"
expect_ok "$IPM" registry build "$work/copy" "$work/index2.json"
check "a copy of the registry builds to the same bytes" cmp "$index" "$work/index2.json"

# ---- served over HTTP ----
start_httpd "$work/www" || exit 1
# the test server is plain http://: "insecure" says that is fine here
expect_ok "$IPM" registry add --insecure team "$HTTP/index.json"
expect_ok "$IPM" update
check "update imports the built index" grep -q "^team: updated, 3 packages" "$work/out"
expect_ok "$IPM" install --yes footool
check "the package is installed" test -x "$IPM_PREFIX/bin/footool"
check "its dependency from the same index too" test -x "$IPM_PREFIX/bin/libfoo"
check "installed files are the package's" test "$(cat "$IPM_PREFIX/share/footool/README")" = "footool 1.0"
check "the installed program runs" test "$("$IPM_PREFIX/bin/footool")" = "footool 1.0"
expect_ok "$IPM" list --json
cp "$work/out" "$work/list.json"
check "installed from registry 'team'" test "$(json_get "$work/list.json" '[p["registry"] for p in d if p["name"] == "footool"][0]')" = team

# An unchanged rebuild does not touch the file: same bytes, same ETag, a 304.
cp "$index" "$work/index.before"
before=$(stat_id "$index")
expect_ok "$IPM" registry build "$team" "$index"
check "an unchanged rebuild says so" grep -qx "unchanged '$index': 3 packages" "$work/err"
check "an unchanged rebuild is byte-identical" cmp "$index" "$work/index.before"
check "an unchanged rebuild leaves the file alone (inode, mtime)" test "$(stat_id "$index")" = "$before"
: >"$HTTPD_LOG"
expect_ok "$IPM" -v update
check "update after an unchanged rebuild: up to date" grep -q "^team: up to date" "$work/out"
check "exactly one request, answered 304" test "$(cat "$HTTPD_LOG")" = "GET /index.json 304"
expect_ok "$IPM" -q registry build "$team" "$index"
check "-q: nothing printed" test ! -s "$work/err"

# A changed entry: rebuilt, fetched, shown.
c_tool2=$(make_git_pkg "$work/src/footool" footool 2.0)
team_entry footool 2.0 "$c_tool2" '[{ "name": "libfoo", "version": ">=1.0" }]'
expect_ok "$IPM" registry build "$team" "$index"
check "a changed registry is written" grep -qx "wrote '$index': 3 packages" "$work/err"
check "the index changed" sh -c '! cmp -s "$1" "$2"' sh "$index" "$work/index.before"
: >"$HTTPD_LOG"
expect_ok "$IPM" update
check "update fetches the new index" grep -q "^team: updated, 3 packages" "$work/out"
check "with a 200" test "$(cat "$HTTPD_LOG")" = "GET /index.json 200"
expect_ok "$IPM" info footool
check "info shows the new version" grep -Eq "^ +2\.0 +git file://$work/src/footool @ $c_tool2" "$work/out"
expect_ok "$IPM" install --yes footool@2.0
check "the new version installs" test "$("$IPM_PREFIX/bin/footool")" = "footool 2.0"

# ---- bad entries: every problem, one line each, nothing written ----
cp "$index" "$work/index.good"
good_id=$(stat_id "$index")
cat >"$team/packages/broken.json" <<EOF
{
  "name": "broken",
  "description": "an entry with two problems",
  "versions": [ { "version": "1.0", "git": "file://$work/src/zed", "commit": "abc123" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ],
  "homepgae": "https://example.org"
}
EOF
expect_fail 1 "field 'versions\[0\]\.commit' in '$team/packages/broken\.json' must be a full commit id" \
	"$IPM" registry build "$team" "$index"
check "the unknown field is reported too, with its hint" \
	grep -q "^ipm: error: unknown field 'homepgae' in '$team/packages/broken\.json' (did you mean 'homepage'?)" "$work/err"
check "one line per problem" test "$(grep -c '^ipm: error: ' "$work/err")" -eq 2
check "says nothing was written" grep -qx "ipm: 2 problems in '$team': '$index' not written" "$work/err"
check "the previous index is untouched (bytes)" cmp "$index" "$work/index.good"
check "the previous index is untouched (inode, mtime)" test "$(stat_id "$index")" = "$good_id"
check "no temporary file is left" test ! -e "$index.tmp"

printf '{\n  "name": "mangled",\n  "description": oops\n}\n' >"$team/packages/mangled.json"
make_entry_misnamed() {
	sed 's/"name": "zed"/"name": "zedd"/' "$team/packages/zed.json" >"$team/packages/misnamed.json"
}
make_entry_misnamed
expect_fail 1 "malformed JSON in '$team/packages/mangled\.json' at line 3, column" "$IPM" registry build "$team" "$index"
check "a file named after another entry" \
	grep -q "^ipm: error: entry 'zedd' is in '$team/packages/misnamed\.json' (a registry entry is packages/<name>\.json: rename it to 'zedd\.json')" "$work/err"
check "problems of every file are listed" test "$(grep -c '^ipm: error: ' "$work/err")" -eq 4
check "still untouched" test "$(stat_id "$index")" = "$good_id"
rm "$team/packages/broken.json" "$team/packages/mangled.json" "$team/packages/misnamed.json"

printf '{ "name": "team", "homepage": "https://example.org" }\n' >"$team/registry.json"
expect_fail 1 "unknown field 'homepage' in '$team/registry\.json'" "$IPM" registry build "$team" "$index"
printf '{ "name": "team", "commit": "1234" }\n' >"$team/registry.json"
expect_fail 1 "field 'commit' in '$team/registry\.json' must be a full commit id of 40 hex digits" \
	"$IPM" registry build "$team" "$index"
printf '{ "name": "team", "description": "the team registry" }\n' >"$team/registry.json"
check "registry.json problems write nothing either" test "$(stat_id "$index")" = "$good_id"

# ---- "git": "self": the index says which repository and commit ----
selfrepo=$work/selfrepo
make_git_pkg "$selfrepo" selfpkg 1.0 >/dev/null
mkdir -p "$selfrepo/registry/packages"
cat >"$selfrepo/registry/packages/selfpkg.json" <<EOF
{
  "name": "selfpkg",
  "description": "a package kept in the registry's own repository",
  "versions": [ { "version": "1.0", "git": "self" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ]
}
EOF
(cd "$selfrepo" && git add -A && git commit -q -m registry)
expect_fail 1 "entry 'selfpkg' installs from the registry's own repository \(\"git\": \"self\"\), but neither registry.json nor a remote 'origin' says where that repository is" \
	"$IPM" registry build "$selfrepo/registry" "$work/self.json"
check "the hint says how to fix it" grep -q "git remote add origin URL)$" "$work/err"
check "nothing written" test ! -e "$work/self.json"

git clone -q "$selfrepo" "$work/selfclone"
head=$(cd "$work/selfclone" && git rev-parse HEAD)
expect_ok "$IPM" registry build "$work/selfclone/registry" "$work/www/self.json"
check "home is the clone's remote 'origin'" test "$(json_get "$work/www/self.json" 'd["registry"]["home"]')" = "$selfrepo"
check "commit is the clone's HEAD" test "$(json_get "$work/www/self.json" 'd["registry"]["commit"]')" = "$head"
expect_ok "$IPM" registry add --insecure selfweb "$HTTP/self.json"
expect_ok "$IPM" update
expect_ok "$IPM" install --yes selfpkg
check "a \"self\" package installs from the published home and commit" test "$("$IPM_PREFIX/bin/selfpkg")" = "selfpkg 1.0"

(cd "$work/selfclone" && git remote set-url origin "https://user:secret@git.example.org/self.git")
expect_fail 1 "remote 'origin' of '$work/selfclone' has credentials in its URL" \
	"$IPM" registry build "$work/selfclone/registry" "$work/self2.json"
check "the credentials are not printed" sh -c '! grep -q secret "$1"' sh "$work/err"

printf '{ "home": "https://git.example.org/self.git", "commit": "%s" }\n' "$c_zed" >"$work/selfclone/registry/registry.json"
expect_ok "$IPM" registry build "$work/selfclone/registry" "$work/self2.json"
check "registry.json's home wins" test "$(json_get "$work/self2.json" 'd["registry"]["home"]')" = "https://git.example.org/self.git"
check "registry.json's commit wins" test "$(json_get "$work/self2.json" 'd["registry"]["commit"]')" = "$c_zed"

mkdir -p "$work/nogit/packages"
cp "$selfrepo/registry/packages/selfpkg.json" "$work/nogit/packages/"
printf '{ "home": "https://git.example.org/self.git" }\n' >"$work/nogit/registry.json"
expect_fail 1 "but '$work/nogit' is not in a git checkout with commits \(build from a git checkout of the registry, or give registry.json a \"commit\"\)" \
	"$IPM" registry build "$work/nogit" "$work/self3.json"

# ---- bad input ----
state_snapshot "$work/state.before"
expect_fail 1 "registry directory '$work/nope' not found" "$IPM" registry build "$work/nope" "$work/x.json"
expect_fail 1 "'$work/www' is not an ipm registry: it has no packages directory" \
	"$IPM" registry build "$work/www" "$work/x.json"
check "with a hint" grep -q "^hint: a registry holds registry.json and one packages/<name>.json per package" "$work/err"
expect_fail 1 "directory '$work/missing' of output '$work/missing/index.json' not found" \
	"$IPM" registry build "$team" "$work/missing/index.json"
check "with a hint" grep -qx "hint: create it first: mkdir -p $work/missing" "$work/err"
expect_fail 1 "output '$team/packages/index.json' is inside the registry directory '$team'" \
	"$IPM" registry build "$team" "$team/packages/index.json"
expect_fail 1 "output '$team/index.json' is inside the registry directory '$team'" \
	"$IPM" registry build "$team" "$team/index.json"
expect_fail 1 "is inside the registry directory" sh -c 'cd "$1" && "$2" registry build . packages/../index.json' sh "$team" "$IPM"
check "nothing written inside the registry" test ! -e "$team/index.json" -a ! -e "$team/packages/index.json"
# an OUT not ending in .json is a sparse registry's directory (t0340)
mkdir -p "$work/dir.json"
expect_fail 1 "output '$work/dir.json' is a directory" "$IPM" registry build "$team" "$work/dir.json"
check "with a hint" grep -qx "hint: name the file to write, e.g. '$work/dir.json/index.json'" "$work/err"
expect_fail 2 "'registry build' needs DIR and OUT" "$IPM" registry build "$team"
expect_fail 2 "'registry build' needs DIR and OUT" "$IPM" registry build
expect_fail 2 "unexpected argument 'extra'" "$IPM" registry build "$team" "$work/x.json" extra
expect_fail 2 "unknown option '--frob'" "$IPM" registry build --frob "$team" "$work/x.json"
check "usage line" grep -q "^usage: ipm registry list | add \[--key PUBKEY\] \[--insecure\] NAME URL" "$work/err"
check "no output file from a failed build" test ! -e "$work/x.json"
same_state "bad input changes no installed state" "$work/state.before"

# ---- ipm install PATH/TO/entry.json, straight from a contributor's file ----
contrib=$work/contrib
c_extra=$(make_git_pkg "$work/src/extra" extra 0.9)
mkdir -p "$contrib/packages"
cat >"$contrib/packages/extra.json" <<EOF
{
  "name": "extra",
  "description": "a package a contributor is about to submit",
  "license": "MIT",
  "versions": [ { "version": "0.9", "git": "file://$work/src/extra", "commit": "$c_extra" } ],
  "depends": [ { "name": "zed" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ]
}
EOF
expect_ok "$IPM" install --yes "$contrib/packages/extra.json"
check "an entry file in a packages dir installs" test "$("$IPM_PREFIX/bin/extra")" = "extra 0.9"
check "its depends come from the registries" test "$("$IPM_PREFIX/bin/zed")" = "zed 0.3"
expect_ok "$IPM" list --json
cp "$work/out" "$work/list.json"
check "ipm list shows it" test "$(json_get "$work/list.json" '[p["version"] for p in d if p["name"] == "extra"][0]')" = 0.9

c_lone=$(make_git_pkg "$work/src/lone" lone 0.1)
sed -e "s/extra/lone/g" -e "s/0\.9/0.1/g" -e "s/$c_extra/$c_lone/" -e 's/"depends": \[ { "name": "zed" } \]/"depends": []/' \
	"$contrib/packages/extra.json" >"$work/lone.json"
cp "$work/lone.json" "$work/not-its-name.json"
expect_ok "$IPM" install --dry-run "$work/not-its-name.json"
check "a lone file needs no <name>.json name" grep -q "registry: file:$work/not-its-name.json" "$work/out"
expect_ok sh -c 'cd "$1" && "$2" install --yes ./lone.json' sh "$work" "$IPM"
check "a lone entry file installs (./NAME.json)" test "$("$IPM_PREFIX/bin/lone")" = "lone 0.1"

done_testing
