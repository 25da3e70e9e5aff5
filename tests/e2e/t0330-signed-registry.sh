#!/bin/sh
# Signed and fresh registries: `ipm registry keygen`, `registry build --sign`,
# `registry add --key`; `ipm update` imports an index only when its
# signature (URL.minisig) verifies with the pinned key, it has not expired
# and it is not older than the last one (replay), and otherwise keeps the
# previous index with one error line; minisign interoperates both ways;
# plain http:// registries and sources need "insecure" or a mirror rule;
# `update --force` ignores the ETag (a server answering 304 forever); a name
# two registries offer is reported, and a dependency comes from its
# dependent's registry.
. "$(dirname "$0")/lib.sh"

if ! command -v minisign >/dev/null 2>&1; then
	echo "# minisign is not installed (scripts/install-deps --tests installs it)"
	not_ok "minisign is available"
	done_testing
	exit 1
fi

# ---- a registry to publish ----
team=$work/team
mkdir -p "$team/packages" "$work/www" "$work/keys"
printf '{ "name": "team", "description": "the team registry" }\n' >"$team/registry.json"
c_tool=$(make_git_pkg "$work/src/teamtool" teamtool 1.0)
team_entry() { # NAME VERSION
	cat >"$team/packages/$1.json" <<EOF
{ "name": "$1", "description": "team package $1", "license": "MIT",
  "versions": [ { "version": "$2", "git": "file://$work/src/teamtool", "commit": "$c_tool" } ],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
}
team_entry teamtool 1.0
index=$work/www/index.json

# sig_alg FILE: the algorithm of a .minisig file ("ED" prehashed, "Ed" legacy)
sig_alg() {
	python3 -c 'import base64, sys; print(base64.b64decode(open(sys.argv[1]).read().split("\n")[1])[:2].decode())' "$1"
}
# one_error: exactly one error line, and a hint
one_error() {
	check "$1: one error line" test "$(grep -c '^ipm: error:' "$work/err")" -eq 1
	check "$1: a hint" grep -q '^hint: ' "$work/err"
}
# kept DESC: the previous index is still the one imported
kept() {
	"$IPM" info --json teamtool >"$work/info.json" 2>/dev/null
	check "$1: the previous index is kept" test "$(json_get "$work/info.json" 'd["registry"]')" = team
	check "$1: nothing of the refused index was imported" sh -c '! "$1" info newpkg >/dev/null 2>&1' sh "$IPM"
}

# ---- keys ----
expect_ok "$IPM" registry keygen --dir "$work/keys"
key=$(cat "$work/out")
check "keygen prints the public key" sh -c 'echo "$1" | grep -Eq "^RW[A-Za-z0-9+/]{54}$"' sh "$key"
check "the secret key is private" test "$(python3 -c 'import os, sys; print(oct(os.stat(sys.argv[1]).st_mode & 0o777))' "$work/keys/registry.key")" = 0o600
check "the .pub file holds the same key" test "$(sed -n 2p "$work/keys/registry.pub")" = "$key"
cp "$work/keys/registry.key" "$work/key.before"
expect_fail 1 "registry.key' already exists" "$IPM" registry keygen --dir "$work/keys"
check "keygen never overwrites a key" cmp "$work/keys/registry.key" "$work/key.before"
expect_fail 1 "directory '$work/nope' not found" "$IPM" registry keygen --dir "$work/nope"
expect_ok "$IPM" registry keygen
check "keygen without --dir writes next to the configuration" test -f "$work/registry.key" -a -f "$work/registry.pub"
mkdir -p "$work/other"
expect_ok "$IPM" registry keygen --dir "$work/other"
other_key=$(cat "$work/out")

# ---- build and sign ----
expect_ok "$IPM" registry build "$team" "$index" --sign "$work/keys/registry.key"
check "build says it signed" grep -q "^signed '$index.minisig': key " "$work/err"
check "the index has a version" test "$(json_get "$index" 'd["version"]')" -gt 0
check "the index has an expiry" test "$(json_get "$index" 'd["expires"][:2]')" = 20
check "minisign -V verifies an index ipm signed" minisign -V -q -p "$work/keys/registry.pub" -m "$index"
check "the signature is prehashed ('ED')" test "$(sig_alg "$index.minisig")" = ED
cp "$index" "$work/index.v1"
cp "$index.minisig" "$work/index.v1.minisig"
expect_ok "$IPM" registry build "$team" "$index" --sign "$work/keys/registry.key"
check "an unchanged rebuild keeps the index" cmp "$index" "$work/index.v1"
check "and its signature" cmp "$index.minisig" "$work/index.v1.minisig"
expect_fail 1 "is not a minisign secret key file" "$IPM" registry build "$team" "$work/x.json" --sign "$work/keys/registry.pub"
check "a bad key writes nothing" test ! -e "$work/x.json"
expect_fail 2 "'--expires' needs a number of days" "$IPM" registry build "$team" "$work/x.json" --expires 0

start_httpd "$work/www" || exit 1

# ---- add ----
state_snapshot "$work/state0"
cp "$IPM_CONFIG" "$work/config.before" 2>/dev/null || : >"$work/config.before"
expect_fail 1 "refusing plain http:// URL" "$IPM" registry add --key "$key" team "$HTTP/index.json"
one_error "plain http:// at add"
check "the config is unchanged" sh -c '[ ! -e "$1" ] || cmp -s "$1" "$2"' sh "$IPM_CONFIG" "$work/config.before"
expect_fail 1 "is neither a public key nor a key file" "$IPM" registry add --insecure --key RWnotakey team "$HTTP/index.json"
expect_fail 1 "--key needs the URL of an index" "$IPM" registry add --key "$key" dirreg "$team"
expect_ok "$IPM" registry add --insecure --key "$key" team "$HTTP/index.json"
check "the config pins the key" test "$(json_get "$IPM_CONFIG" '[r["key"] for r in d["registries"] if r["name"] == "team"][0]')" = "$key"
check "the config says insecure" test "$(json_get "$IPM_CONFIG" '[r["insecure"] for r in d["registries"] if r["name"] == "team"][0]')" = True

# ---- a valid signature ----
expect_ok "$IPM" update
check "update imports the signed index" grep -q "^team: updated, 1 package" "$work/out"
check "update fetched the signature" grep -q "GET /index.json.minisig 200" "$HTTPD_LOG"
expect_ok "$IPM" install --yes teamtool
check "a package from the signed index installs" test -x "$IPM_PREFIX/bin/teamtool"

# each refusal below: exit 1, one error line, the previous index kept
refused() { # DESC PATTERN
	expect_fail 1 "$2" "$IPM" update
	check "$1: the registry is named as failed" grep -q "^team: failed" "$work/out"
	one_error "$1"
	kept "$1"
}
team_entry newpkg 2.0

# ---- wrong key ----
expect_ok "$IPM" registry build "$team" "$index" --sign "$work/other/registry.key"
refused "wrong key" "registry 'team': '$HTTP/index.json.minisig': signed with another key"

# ---- tampered index ----
expect_ok "$IPM" registry build "$team" "$index" --sign "$work/keys/registry.key"
sed 's/team package newpkg/evil package newpkg/' "$index" >"$work/t" && cat "$work/t" >"$index"
refused "tampered index" "the signature does not match the data"

# ---- tampered signature ----
expect_ok "$IPM" registry build "$team" "$index" --sign "$work/keys/registry.key"
sed '3s/timestamp:/timestamp:1/' "$index.minisig" >"$work/t" && cat "$work/t" >"$index.minisig"
refused "tampered trusted comment" "the trusted comment's signature does not verify"
expect_ok "$IPM" registry build "$team" "$index" --sign "$work/keys/registry.key"
awk 'NR == 2 { s = substr($0, 1, 20) (substr($0, 21, 1) == "A" ? "B" : "A") substr($0, 22) ; print s; next } { print }' \
	"$index.minisig" >"$work/t" && cat "$work/t" >"$index.minisig"
refused "tampered signature" "the signature does not match the data|malformed signature"
printf 'garbage\n' >"$index.minisig"
refused "garbage signature" "malformed signature"

# ---- unsigned ----
rm -f "$index.minisig"
refused "unsigned index" "the index is not signed: .*HTTP 404"

# ---- expired: ipm verifies what minisign -S signs, and still checks the expiry ----
expect_ok "$IPM" registry build "$team" "$index" --expires 30
check "--expires alone stamps without signing" test ! -e "$index.minisig"
sed 's/"expires":"[^"]*"/"expires":"2020-01-01T00:00:00Z"/' "$index" >"$work/t" && cat "$work/t" >"$index"
check "minisign -S signs with ipm's (unencrypted) secret key" \
	minisign -S -s "$work/keys/registry.key" -m "$index" </dev/null
refused "expired index" "registry 'team': the index expired on 2020-01-01T00:00:00Z"

# ---- signed by minisign, valid ----
expect_ok "$IPM" registry build "$team" "$index" --expires 30
rm -f "$index.minisig"
minisign -S -s "$work/keys/registry.key" -m "$index" </dev/null >/dev/null 2>&1
expect_ok "$IPM" update
check "ipm imports an index that minisign -S signed" grep -q "^team: updated, 2 packages" "$work/out"
expect_ok "$IPM" info newpkg
cp "$index" "$work/index.v2"
cp "$index.minisig" "$work/index.v2.minisig"

# ---- a signed index without version or expiry ----
expect_ok "$IPM" registry build "$team" "$work/www/bare.json"
minisign -S -s "$work/keys/registry.key" -m "$work/www/bare.json" </dev/null >/dev/null 2>&1
cp "$work/www/bare.json" "$index" && cp "$work/www/bare.json.minisig" "$index.minisig"
expect_fail 1 "the signed index has no \"version\"" "$IPM" update
one_error "no version"

# ---- replay ----
cp "$work/index.v1" "$index" && cp "$work/index.v1.minisig" "$index.minisig"
expect_fail 1 "older than the one imported \(version [0-9]+ < [0-9]+\): a replay" "$IPM" update
one_error "replay"
check "replay: the newer index is kept" "$IPM" info newpkg
cp "$work/index.v2" "$index" && cp "$work/index.v2.minisig" "$index.minisig"
expect_ok "$IPM" update

# ---- --force ----
: >"$HTTPD_LOG"
expect_ok "$IPM" update
check "a plain update is one 304" test "$(grep -c 'GET /index.json' "$HTTPD_LOG")" -eq 1 -a "$(grep -c 'GET /index.json 304' "$HTTPD_LOG")" -eq 1
: >"$HTTPD_LOG"
expect_ok "$IPM" update --force
check "--force downloads the index again" grep -q "GET /index.json 200" "$HTTPD_LOG"
check "--force verifies it again" grep -q "GET /index.json.minisig 200" "$HTTPD_LOG"
check "--force: same version is no replay" grep -q "^team: updated, 2 packages" "$work/out"

# A server that answers 304 to every If-None-Match freezes a plain update.
mkdir -p "$work/frozen"
cat >"$work/freeze.py" <<'EOF'
import http.server, os, sys
root, portfile = sys.argv[1], sys.argv[2]
class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def end_headers(self):
        self.send_header("ETag", '"frozen"')
        super().end_headers()
    def do_GET(self):
        if self.headers.get("If-None-Match"):
            self.send_response(304)
            self.end_headers()
            return
        super().do_GET()
    def log_message(self, *a):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
EOF
# its own registry, so that its packages are no other registry's
fr=$work/fr
mkdir -p "$fr/packages"
printf '{ "name": "fr" }\n' >"$fr/registry.json"
fr_entry() { # NAME
	sed "s/\"teamtool\"/\"$1\"/; s/team package teamtool/package $1/" "$team/packages/teamtool.json" >"$fr/packages/$1.json"
}
fr_publish() { # [sed expression for the stamped index]
	"$IPM" registry build "$fr" "$work/fr.json" --expires 30 >/dev/null 2>&1
	[ -z "${1:-}" ] || { sed "$1" "$work/fr.json" >"$work/t" && cat "$work/t" >"$work/fr.json"; }
	rm -f "$work/fr.json.minisig"
	minisign -S -s "$work/keys/registry.key" -m "$work/fr.json" </dev/null >/dev/null 2>&1
	cp "$work/fr.json" "$work/frozen/index.json" && cp "$work/fr.json.minisig" "$work/frozen/index.json.minisig"
}
fr_entry frpkg
fr_publish
python3 "$work/freeze.py" "$work/frozen" "$work/frozen.port" &
bg_pids="$bg_pids $!"
i=0
while [ ! -s "$work/frozen.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
frozen=http://127.0.0.1:$(cat "$work/frozen.port")
expect_ok "$IPM" registry add --insecure --key "$key" frozen "$frozen/index.json"
expect_ok "$IPM" update
check "the frozen registry is imported once" grep -q "^frozen: updated, 1 package" "$work/out"
fr_entry frpkg2
fr_publish
expect_ok "$IPM" update
check "a server answering 304 freezes a plain update" grep -q "^frozen: up to date, 1 package" "$work/out"
expect_ok "$IPM" update --force
check "--force gets past it" grep -q "^frozen: updated, 2 packages" "$work/out"
# An index that expires in 3 s is imported; once it has expired, install
# says so, and a plain update fetches past the 304s.
soon=$(python3 -c 'import time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3)))')
fr_entry frpkg3
fr_publish "s/\"expires\":\"[^\"]*\"/\"expires\":\"$soon\"/"
expect_ok "$IPM" update --force
check "a short-lived index is imported" grep -q "^frozen: updated, 3 packages" "$work/out"
sleep 4
expect_ok "$IPM" install --dry-run frpkg3
check "install warns that the index it uses has expired" \
	grep -q "warning: the index of registry 'frozen' expired on $soon: run 'ipm update'" "$work/err"
fr_entry frpkg4
fr_publish
expect_ok "$IPM" update
check "an expired index is fetched whatever the server says about its ETag" grep -q "^frozen: updated, 4 packages" "$work/out"
expect_ok "$IPM" install --dry-run frpkg4
check "no warning for a fresh index" sh -c '! grep -q "expired" "$1"' sh "$work/err"
expect_ok "$IPM" registry remove frozen

# ---- a key given as a minisign .pub file, a minisign key pair, legacy 'Ed' ----
minisign -G -W -p "$work/ms.pub" -s "$work/ms.key" >/dev/null 2>&1
expect_ok "$IPM" registry build "$team" "$work/www/mini.json" --expires 7
minisign -S -s "$work/ms.key" -m "$work/www/mini.json" </dev/null >/dev/null 2>&1
expect_ok "$IPM" registry add --insecure --key "$work/ms.pub" mini "$HTTP/mini.json"
check "the .pub file's key is pinned" test "$(json_get "$IPM_CONFIG" '[r["key"] for r in d["registries"] if r["name"] == "mini"][0]')" = "$(sed -n 2p "$work/ms.pub")"
expect_ok "$IPM" update
check "ipm verifies a minisign key pair's signature" grep -q "^mini: updated, 2 packages" "$work/out"
minisign -S -l -s "$work/ms.key" -m "$work/www/mini.json" </dev/null >/dev/null 2>&1
check "minisign -l writes a legacy 'Ed' signature" test "$(sig_alg "$work/www/mini.json.minisig")" = Ed
expect_ok "$IPM" update --force
check "ipm verifies a legacy signature" grep -q "^mini: updated, 2 packages" "$work/out"
expect_ok "$IPM" registry remove mini

# ---- plain http:// ----
# a registry whose config does not say insecure
python3 - "$IPM_CONFIG" "$HTTP/index.json" "$key" <<'EOF'
import json, sys
path, url, key = sys.argv[1:]
d = json.load(open(path))
d["registries"].append({"name": "plain", "url": url, "key": key})
json.dump(d, open(path, "w"), indent=2)
EOF
expect_fail 1 "registry 'plain': refusing plain http:// URL '$HTTP/index.json'" "$IPM" update
check "plain: named as failed" grep -q "^plain: failed" "$work/out"
check "plain: the others are updated" grep -q "^team: up to date" "$work/out"
check "plain: the hint says how to allow it" grep -q '"insecure": true' "$work/err"
check "plain: nothing fetched" sh -c '! "$1" registry list | grep -Eq "^plain +http +[0-9]"' sh "$IPM"
python3 - "$IPM_CONFIG" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["registries"] = [r for r in d["registries"] if r["name"] != "plain"]
json.dump(d, open(sys.argv[1], "w"), indent=2)
EOF

# a mirror rule the user wrote makes it their choice; signatures still count
export IPM_MIRRORS="https://team.example.org/=$HTTP/"
expect_ok "$IPM" registry add --key "$key" viamirror "https://team.example.org/index.json"
expect_ok "$IPM" update
check "a mirror rule to http:// is allowed" grep -q "^viamirror: updated, 2 packages" "$work/out"
check "the signature came through the mirror too" grep -q "GET /index.json.minisig 200" "$HTTPD_LOG"
sed 's/team package newpkg/evil package newpkg/' "$index" >"$work/t" && cat "$work/t" >"$index"
expect_fail 1 "registry 'viamirror': .*the signature does not match the data" "$IPM" update --force
cp "$work/index.v2" "$index"
expect_ok "$IPM" registry remove viamirror
unset IPM_MIRRORS

# sources: an http:// archive in an index
mkdir -p "$work/web/packages"
cat >"$work/web/packages/webpkg.json" <<EOF
{ "name": "webpkg", "description": "a package with a plain http source",
  "versions": [ { "version": "1.0", "url": "$HTTP/webpkg-1.0.tar.gz", "sha256": "1111111111111111111111111111111111111111111111111111111111111111" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
expect_ok "$IPM" registry build "$work/web" "$work/www/web.json" --sign "$work/keys/registry.key"
export IPM_MIRRORS="https://web.example.org/=$HTTP/"
expect_ok "$IPM" registry add --key "$key" web "https://web.example.org/web.json"
expect_ok "$IPM" update
state_snapshot "$work/before-src"
expect_fail 1 "source of 'webpkg': refusing plain http:// URL '$HTTP/webpkg-1.0.tar.gz'" "$IPM" install --dry-run webpkg
one_error "http source"
same_state "an http source changes nothing" "$work/before-src"
check "an http source is not fetched" sh -c '! grep -q webpkg "$1"' sh "$HTTPD_LOG"
expect_ok "$IPM" registry remove web
unset IPM_MIRRORS
expect_ok "$IPM" registry add --insecure --key "$key" web "$HTTP/web.json"
expect_ok "$IPM" update
expect_ok "$IPM" install --dry-run webpkg
check "\"insecure\" allows the registry's http sources" grep -q "$HTTP/webpkg-1.0.tar.gz" "$work/out"
expect_ok "$IPM" registry remove web
# the bundled registry: a mirror rule is the way
cp "$work/web/packages/webpkg.json" "$REG/packages/"
expect_fail 1 "source of 'webpkg': refusing plain http:// URL" "$IPM" install --dry-run webpkg
check "the hint names mirror rules" grep -q "IPM_MIRRORS" "$work/err"
expect_ok env IPM_MIRRORS="$HTTP/=$HTTP/" "$IPM" install --dry-run webpkg
rm "$REG/packages/webpkg.json"

# ---- dependency confusion ----
c_liba=$(make_git_pkg "$work/src/liba" liba 1.0)
c_evil=$(make_git_pkg "$work/src/evil-liba" liba 9.9)
c_app=$(make_git_pkg "$work/src/app" app 1.0)
git_entry liba 1.0 "file://$work/src/liba" "$c_liba"
git_entry app 1.0 "file://$work/src/app" "$c_app" '[{ "name": "liba" }]'
mkdir -p "$work/evil/packages"
mv "$REG/packages/liba.json" "$work/liba.json"
git_entry liba 9.9 "file://$work/src/evil-liba" "$c_evil"
mv "$REG/packages/liba.json" "$work/evil/packages/liba.json"
mv "$work/liba.json" "$REG/packages/liba.json"
expect_ok "$IPM" registry add evil "$work/evil"
expect_ok "$IPM" update
check "update says two registries offer 'liba'" \
	grep -q "warning: registries 'evil' and 'bundled' both offer 'liba'" "$work/err"
check "update names nothing else" test "$(grep -c 'warning: registries' "$work/err")" -eq 1
expect_ok "$IPM" install --dry-run app
check "install says so too" grep -q "registries 'evil' and 'bundled' both offer 'liba': using 'bundled', the registry of 'app'" "$work/err"
check "the dependency comes from the dependent's registry" grep -q "liba.*1\.0" "$work/out"
check "not from the other registry" sh -c '! grep -q "9\.9" "$1"' sh "$work/out"
expect_ok "$IPM" install --yes app
check "the installed dependency is the bundled one" test "$("$IPM_PREFIX/bin/liba")" = "liba 1.0"
expect_ok "$IPM" install --dry-run liba@9.9
check "asked for by name, the first registry's is used, and said" \
	grep -q "both offer 'liba': using 'evil', the first configured" "$work/err"

done_testing
