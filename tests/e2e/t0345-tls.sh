#!/bin/sh
# https behind a private CA, as an organisation's internal registry or
# mirror is: nginx with a certificate for 127.0.0.1 signed by a CA the test
# makes (openssl), serving a sparse registry and a source tarball over
# HTTP/2, and a smart-HTTP git server over TLS with the same certificate.
# Without the CA setting every fetch fails with one error line and a hint
# naming "ca_file" and IPM_CA_FILE, and nothing changes; with the wrong CA,
# or a CA file that is not one, the hint says which setting; with "ca_file"
# in the config (or IPM_CA_FILE) the update, an install from the tarball
# and one from git (libgit2) work and the programs run, and nginx logs
# HTTP/2.0 for every request, the shards multiplexed on one connection.
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null 2>&1 || [ ! -x "$NGINX_BIN" ]; then
	not_ok "openssl and nginx are installed (scripts/install-deps --tests)"
	done_testing
	exit 1
fi

# ---- a CA, another CA, and a server certificate for 127.0.0.1 ----
# (its name also as a DNS name: libgit2's mbedTLS 2 matches the host it
# connects to against DNS names and the CN only, never an IP address)
pki=$work/pki
mkdir -p "$pki"
(
	cd "$pki" &&
	for ca in ca other; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout $ca.key -out $ca.pem -days 2 -subj "/CN=ipm test $ca" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" || exit 1
	done
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" &&
	printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >srv.ext &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out srv.pem -days 2 -extfile srv.ext
) >"$work/openssl.log" 2>&1
check "openssl made a CA and a server certificate" \
	openssl verify -CAfile "$pki/ca.pem" "$pki/srv.pem"
printf 'not a certificate\n' >"$pki/junk.pem"

# ---- what is served: a sparse registry and a source tarball ----
srv=$work/srv
team=$work/team
mkdir -p "$team/packages" "$srv/src"
printf '{ "name": "team", "description": "the team registry" }\n' >"$team/registry.json"
make_git_pkg "$work/pack/tlstool-1.0" tlstool 1.0 >/dev/null
rm -rf "$work/pack/tlstool-1.0/.git"
tar -C "$work/pack" -czf "$srv/src/tlstool-1.0.tar.gz" tlstool-1.0
sum=$(sha256sum "$srv/src/tlstool-1.0.tar.gz" | cut -d' ' -f1)

# ---- nginx: TLS and HTTP/2 ----
if ! nginx_static_start "$srv" "$pki/srv.pem" "$pki/srv.key"; then
	not_ok "nginx serves https"
	done_testing
	exit 1
fi
HTTPS=$HTTP
log=$NGINX_LOG

# ---- a git server over TLS: git's smart HTTP (upload-pack) ----
# nginx cannot run git-http-backend, and libgit2 speaks only the smart
# protocol; these few lines of Python serve it, with the same certificate.
cat >"$work/githttps.py" <<'EOF'
import http.server, os, ssl, subprocess, sys
root, cert, key, portfile, logfile = sys.argv[1:6]

class Git(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def repo(self, suffix):
        path = self.path.split("?")[0]
        if not path.endswith(suffix):
            return None
        d = os.path.join(root, path[1:len(path) - len(suffix)])
        return d if ".." not in path and os.path.isdir(d) else None

    def reply(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(n + 2)[:n]
                if n == 0:
                    return data
                data += chunk
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self):
        d = self.repo("/info/refs")
        if not d or "service=git-upload-pack" not in self.path:
            return self.reply(404, "text/plain", b"not found\n")
        refs = subprocess.run(["git", "upload-pack", "--stateless-rpc", "--advertise-refs", d],
                              capture_output=True, check=True).stdout
        first = b"# service=git-upload-pack\n"
        self.reply(200, "application/x-git-upload-pack-advertisement",
                   b"%04x" % (len(first) + 4) + first + b"0000" + refs)

    def do_POST(self):
        d = self.repo("/git-upload-pack")
        data = self.body()
        if not d:
            return self.reply(404, "text/plain", b"not found\n")
        out = subprocess.run(["git", "upload-pack", "--stateless-rpc", d], input=data,
                             capture_output=True).stdout
        self.reply(200, "application/x-git-upload-pack-result", out)

    def log_message(self, fmt, *args):
        with open(logfile, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, args[1] if len(args) > 1 else "-"))

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Git)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(cert, key)
server.socket = tls.wrap_socket(server.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
EOF
mkdir -p "$work/git"
c_git=$(make_git_pkg "$work/git/gittool.git" gittool 2.0)
gitlog=$work/git.log
: >"$gitlog"
python3 "$work/githttps.py" "$work/git" "$pki/srv.pem" "$pki/srv.key" "$work/git.port" "$gitlog" \
	2>"$work/githttps.err" &
bg_pids="$bg_pids $!"
i=0
while [ ! -s "$work/git.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
GITS=https://127.0.0.1:$(cat "$work/git.port" 2>/dev/null)
check "the git server is up" test -s "$work/git.port"

# ---- the registry: built by ipm, served by nginx ----
cat >"$team/packages/tlstool.json" <<EOF
{ "name": "tlstool", "description": "a tool from a tarball over https", "license": "MIT",
  "versions": [ { "version": "1.0", "url": "$HTTPS/src/tlstool-1.0.tar.gz", "sha256": "$sum" } ],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
i=0
while [ $i -lt 30 ]; do
	sed "s/\"tlstool\"/\"filler$i\"/" "$team/packages/tlstool.json" >"$team/packages/filler$i.json"
	i=$((i + 1))
done
expect_ok "$IPM" registry build "$team" "$srv/reg"
nshards=$(json_get "$srv/reg/index.json" 'len(d["shards"])')
check "the registry has several shards" test "$nshards" -gt 5
expect_ok "$IPM" registry add team "$HTTPS/reg/index.json"

one_error() {
	check "$1: one error line" test "$(grep -c '^ipm: error:' "$work/err")" -eq 1
	check "$1: and one hint" test "$(grep -c '^hint: ' "$work/err")" -eq 1
}

# ---- without the CA: refused, with the setting named ----
state_snapshot "$work/state0"
expect_fail 1 "^ipm: error: '$HTTPS/reg/index.json': SSL certificate problem" "$IPM" update
one_error "an untrusted server"
check "the hint names ca_file, the config file and IPM_CA_FILE" \
	grep -q "^hint: .*set \"ca_file\" in '$IPM_CONFIG' (or IPM_CA_FILE) to its CA's PEM file" "$work/err"
check "no request reached the server" test ! -s "$log"
same_state "nothing changed" "$work/state0"
expect_fail 1 "package 'tlstool' not found" "$IPM" info tlstool

# the wrong CA, a file that is no CA, a file that is not there
expect_fail 1 "SSL certificate problem" env IPM_CA_FILE=$pki/other.pem "$IPM" update
one_error "a server the given CA did not sign"
check "the hint names the file and IPM_CA_FILE" \
	grep -q "^hint: .*does not chain to a CA in '$pki/other.pem' (IPM_CA_FILE)" "$work/err"
expect_fail 1 "index.json': " env IPM_CA_FILE=$pki/junk.pem "$IPM" update
one_error "a CA file without a certificate"
check "the hint says what the file must be" \
	grep -q "^hint: IPM_CA_FILE='$pki/junk.pem' must be a readable PEM file of CA certificates" "$work/err"
expect_fail 1 "index.json': " env IPM_CA_FILE=$work/nothing.pem "$IPM" update
one_error "a CA file that is not there"
check "the hint names it" grep -q "^hint: IPM_CA_FILE='$work/nothing.pem' must be" "$work/err"
same_state "none of them changed anything" "$work/state0"

# the config key: written by hand, so checked when read
python3 - "$IPM_CONFIG" "ca.pem" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["ca_file"] = sys.argv[2]
json.dump(d, open(sys.argv[1], "w"))
EOF
expect_fail 1 "'ca_file' must be the absolute path of a PEM file of CA certificates" "$IPM" update
one_error "a relative ca_file"
set_ca() {
	python3 - "$IPM_CONFIG" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["ca_file"] = sys.argv[2]
json.dump(d, open(sys.argv[1], "w"))
EOF
}
set_ca "$pki/other.pem"
expect_fail 1 "SSL certificate problem" "$IPM" update
one_error "the config's wrong CA"
check "the hint names \"ca_file\" in the config file" \
	grep -q "^hint: .*does not chain to a CA in '$pki/other.pem' (\"ca_file\" in '$IPM_CONFIG')" "$work/err"
same_state "still nothing changed" "$work/state0"

# ---- with the CA: update, then installs from a tarball and from git ----
set_ca "$pki/ca.pem"
: >"$log"
expect_ok "$IPM" update
check "update imports the registry" grep -q "^team: updated, 31 packages" "$work/out"
check "nginx served every request over HTTP/2" sh -c 'test -s "$1" && ! grep -v " HTTP/2.0 " "$1" | grep -q .' sh "$log"
check "each shard once" test "$(grep -c '^GET /reg/shards/.* 200 ' "$log")" -eq "$nshards"
check "the shards multiplexed on one connection" \
	test "$(grep '^GET /reg/shards/' "$log" | awk '{ print $NF }' | sort -u | wc -l)" -eq 1
check "compressed" sh -c '! grep "^GET /reg/" "$1" | grep -vq "\"gzip\""' sh "$log"

# a single transfer (the tarball) refused the same way: the package file
# fetched first, with the CA, then the install with the wrong one
expect_ok "$IPM" install --dry-run tlstool
state_snapshot "$work/state2"
expect_fail 1 "^ipm: error: .*'$HTTPS/src/tlstool-1.0.tar.gz': SSL certificate problem" \
	env IPM_CA_FILE=$pki/other.pem "$IPM" install --yes tlstool
one_error "a download from a server the given CA did not sign"
check "the hint names the file" grep -q "^hint: .*does not chain to a CA in '$pki/other.pem' (IPM_CA_FILE)" "$work/err"
same_state "nothing was installed" "$work/state2"
: >"$log"
expect_ok "$IPM" install --yes tlstool
check "the tarball came over HTTP/2" grep -q '^GET /src/tlstool-1.0.tar.gz 200 .* HTTP/2.0 ' "$log"
check "the installed program runs" sh -c '[ "$("$1/bin/tlstool")" = "tlstool 1.0" ]' sh "$IPM_PREFIX"
check "every request over HTTP/2" sh -c 'test -s "$1" && ! grep -v " HTTP/2.0 " "$1" | grep -q .' sh "$log"

# git over https (libgit2), from an entry in the local registry: first
# without the CA, then with it
write_entry gittool <<EOF
{ "name": "gittool", "description": "a tool from git over https", "license": "MIT",
  "versions": [ { "version": "2.0", "git": "$GITS/gittool.git", "commit": "$c_git" } ],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
cp "$IPM_CONFIG" "$work/config.ca"
python3 - "$IPM_CONFIG" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
del d["ca_file"]
json.dump(d, open(sys.argv[1], "w"))
EOF
expect_ok "$IPM" info gittool   # the local registry imported before the snapshot
state_snapshot "$work/state1"
expect_fail 1 "'$GITS/gittool.git': .*(certificate|SSL|ssl)" "$IPM" install --yes gittool
one_error "git from an untrusted server"
check "the hint names ca_file" grep -q "^hint: .*set \"ca_file\" in '$IPM_CONFIG' (or IPM_CA_FILE)" "$work/err"
same_state "nothing was installed" "$work/state1"
expect_fail 1 "'$GITS/gittool.git': " env IPM_CA_FILE=$pki/other.pem "$IPM" install --yes gittool
one_error "git from a server the given CA did not sign"
check "the hint names the file" grep -q "^hint: .*does not chain to a CA in '$pki/other.pem' (IPM_CA_FILE)" "$work/err"
expect_fail 1 "cannot use the CA file '$pki/junk.pem'" env IPM_CA_FILE=$pki/junk.pem "$IPM" install --yes gittool
one_error "git with a CA file without a certificate"
same_state "still nothing installed" "$work/state1"
: >"$gitlog"
expect_ok env IPM_CA_FILE=$pki/ca.pem "$IPM" install --yes gittool
check "git fetched over https" grep -q "^POST /gittool.git/git-upload-pack 200" "$gitlog"
check "the program from git runs" sh -c '[ "$("$1/bin/gittool")" = "gittool 2.0" ]' sh "$IPM_PREFIX"
check "the mirror holds the commit" sh -c 'ls "$1/git" | grep -q "^gittool-"' sh "$IPM_CACHE"

done_testing
