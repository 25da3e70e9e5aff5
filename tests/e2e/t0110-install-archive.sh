#!/bin/sh
# Installing from an archive over HTTP (verified sha256), and the download
# errors: checksum mismatch, unreachable URL, HTTP 404. Each error: message,
# exit 1, installed state unchanged.
. "$(dirname "$0")/lib.sh"

# A source tree packed as a tarball with one top-level directory.
make_git_pkg "$work/pack/tarpkg-1.2" tarpkg 1.2 >/dev/null
rm -rf "$work/pack/tarpkg-1.2/.git"
mkdir -p "$work/www"
tar -C "$work/pack" -czf "$work/www/tarpkg-1.2.tar.gz" tarpkg-1.2
sum=$(sha256sum "$work/www/tarpkg-1.2.tar.gz" | cut -d' ' -f1)
start_httpd "$work/www" || exit 1
# The test server is plain http://, which ipm refuses for sources unless the
# user's own mirror rule maps the URL (their explicit choice; t0330 tests the
# refusal): these rules map the servers' URLs to themselves.
closed=$(closed_port)
export IPM_MIRRORS="$HTTP/=$HTTP/ http://127.0.0.1:$closed/=http://127.0.0.1:$closed/"

archive_entry() { # NAME URL SHA256
	write_entry "$1" <<EOF
{ "name": "$1", "description": "archive package $1",
  "versions": [ { "version": "1.2", "url": "$2", "sha256": "$3" } ],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
}

archive_entry tarpkg "$HTTP/tarpkg-1.2.tar.gz" "$sum"
expect_ok "$IPM" install --dry-run tarpkg
check "plan shows the archive URL" grep -q "$HTTP/tarpkg-1.2.tar.gz" "$work/out"
check "plan shows the sha256" grep -q "$sum" "$work/out"
expect_ok "$IPM" install --yes tarpkg
check "the archive was downloaded over HTTP" grep -q "GET /tarpkg-1.2.tar.gz 200" "$HTTPD_LOG"
check "bin/tarpkg is installed" sh -c '[ "$("$1"/bin/tarpkg)" = "tarpkg 1.2" ]' sh "$IPM_PREFIX"
"$IPM" list --json >"$work/list.json" 2>/dev/null
check "list records the sha256" test "$(json_get "$work/list.json" 'd[0]["resolved"]')" = "$sum"
check "the verified archive is cached by checksum" test -f "$IPM_CACHE/downloads/$sum"

# Errors. Import the entry first so that only the install is measured.
bad=0000000000000000000000000000000000000000000000000000000000000000
cp "$work/www/tarpkg-1.2.tar.gz" "$work/www/other-1.2.tar.gz"
archive_entry badsum "$HTTP/other-1.2.tar.gz" "$bad"
# (a checksum nothing in the cache has, so the download must be tried)
archive_entry gone "http://127.0.0.1:$closed/gone-1.2.tar.gz" 1111111111111111111111111111111111111111111111111111111111111111
archive_entry missing "$HTTP/missing-1.2.tar.gz" "$bad"
"$IPM" info badsum >/dev/null 2>&1
state_snapshot "$work/before"

expect_fail 1 "sha256 mismatch" "$IPM" install --yes badsum
check "the mismatch names both sums" grep -q "expected $bad, got $sum" "$work/err"
check "the mismatch names the URL" grep -q "$HTTP/other-1.2.tar.gz" "$work/err"
check "the bad download is not kept" test ! -e "$IPM_CACHE/downloads/$bad"
same_state "sha256 mismatch changes nothing" "$work/before"

expect_fail 1 "gone-1.2.tar.gz" "$IPM" install --yes gone
check "unreachable URL: curl's message" grep -Eiq "connect|refused" "$work/err"
same_state "unreachable URL changes nothing" "$work/before"

expect_fail 1 "HTTP 404" "$IPM" install --yes missing
same_state "HTTP 404 changes nothing" "$work/before"

expect_ok "$IPM" remove --yes tarpkg
check "remove leaves no link" test -z "$(find "$IPM_PREFIX" -type l)"

done_testing
