#!/bin/sh
# Mirrors: IPM_MIRRORS (and the config's "mirrors") rewrite https:// source
# URLs to a local file:// git mirror and to a local HTTP server, so nothing
# reaches the network.
. "$(dirname "$0")/lib.sh"

# A "github" repository that exists only as a local mirror.
c=$(make_git_pkg "$work/mirror/acme/mirrored" mirrored 1.0)
git_entry mirrored 1.0 "https://github.com/acme/mirrored" "$c"

# An archive that exists only on the local HTTP server.
make_git_pkg "$work/pack/arch-1.0" arch 1.0 >/dev/null
rm -rf "$work/pack/arch-1.0/.git"
mkdir -p "$work/www/pkgs"
tar -C "$work/pack" -czf "$work/www/pkgs/arch-1.0.tar.gz" arch-1.0
sum=$(sha256sum "$work/www/pkgs/arch-1.0.tar.gz" | cut -d' ' -f1)
start_httpd "$work/www" || exit 1
write_entry arch <<EOF
{ "name": "arch", "description": "archive behind a mirror",
  "versions": [ { "version": "1.0", "url": "https://downloads.example.org/pkgs/arch-1.0.tar.gz", "sha256": "$sum" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF

export IPM_MIRRORS="https://github.com/=file://$work/mirror/ https://downloads.example.org/=$HTTP/"
expect_ok "$IPM" install --yes mirrored
check "git source came from the file:// mirror" sh -c '[ "$("$1"/bin/mirrored)" = "mirrored 1.0" ]' sh "$IPM_PREFIX"
expect_ok "$IPM" install --yes arch
check "archive came from the local HTTP server" grep -q "GET /pkgs/arch-1.0.tar.gz 200" "$HTTPD_LOG"
check "arch is installed" test -x "$IPM_PREFIX/bin/arch"
"$IPM" list --json >"$work/list.json" 2>/dev/null
check "list keeps the original URL as the source" grep -q "https://github.com/acme/mirrored" "$work/list.json"
expect_ok "$IPM" remove --yes mirrored arch

# The same through the configuration file, with a fresh cache.
unset IPM_MIRRORS
rm -rf "$IPM_CACHE"
cat >"$IPM_CONFIG" <<EOF
{ "mirrors": [ "https://github.com/=file://$work/mirror/", "https://downloads.example.org/=$HTTP/" ] }
EOF
expect_ok "$IPM" install --yes mirrored arch
check "config mirrors: both installed" test -x "$IPM_PREFIX/bin/mirrored" -a -x "$IPM_PREFIX/bin/arch"

# A malformed configuration file is an error naming it and the position.
printf '{ "mirrors": [ "a=b", ]\n' >"$IPM_CONFIG"
expect_fail 1 "'$IPM_CONFIG': malformed JSON at line 1, column [0-9]+" "$IPM" list
printf '{ "jobs": "many" }\n' >"$IPM_CONFIG"
expect_fail 1 "'jobs' must be a number" "$IPM" list

done_testing
