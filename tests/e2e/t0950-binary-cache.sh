#!/bin/sh
# Binary caches: a build is kept in the local cache under its build key
# (`ipm info` shows the key) and reinstalls after `ipm remove` without
# building; `ipm cache push` uploads it, signed, to a real nginx with WebDAV
# PUT; a second home with the same prefix path installs a library and the
# program linking it from there, with a recipe that would fail if it ran,
# and the program runs. A tampered archive or manifest, a wrong key, a cache
# without a key and a cache that is down each fall back to building with one
# line saying why; a push never overwrites another object under the same
# key; "push": true uploads after every build.
. "$(dirname "$0")/lib.sh"

if [ ! -x "$NGINX_BIN" ]; then
	echo "# nginx is not installed (scripts/install-deps --tests installs it)"
	not_ok "nginx is available"
	done_testing
	exit 1
fi
command -v cc >/dev/null 2>&1 || { ok "# skip no C compiler"; done_testing; exit 0; }

export IPM_MIRRORS="https://git.example.org/=file://$work/git/"
GIT=https://git.example.org
mkdir -p "$work/git" "$work/keys" "$work/keys2"
# in the prefix: recipe steps see it (and not /tmp) even in the sandbox
marker=$IPM_PREFIX/machine-one
mkdir -p "$IPM_PREFIX"
touch "$marker"

commit() {
	(cd "$1" && { [ -d .git ] || git init -q; } && git add -A && git commit -q -m "$2" && git rev-parse HEAD)
}

# greetlib: a shared library; greet: a program linking it. Both recipes
# fail unless $marker exists: on "the second machine" they cannot build.
mkdir -p "$work/git/greetlib" "$work/git/greet"
cat >"$work/git/greetlib/Makefile" <<'EOF'
.RECIPEPREFIX = >
all: libgreet.so.1
libgreet.so.1: greet.c
> $(CC) -shared -fPIC -Wl,-soname,libgreet.so.1 -o $@ greet.c $(LDFLAGS)
install: all
> mkdir -p $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
> cp libgreet.so.1 $(DESTDIR)$(PREFIX)/lib/
> ln -sf libgreet.so.1 $(DESTDIR)$(PREFIX)/lib/libgreet.so
> cp greet.h $(DESTDIR)$(PREFIX)/include/
EOF
printf 'const char *greeting(void);\n' >"$work/git/greetlib/greet.h"
printf 'const char *greeting(void) { return "hello from the cache"; }\n' >"$work/git/greetlib/greet.c"
c_lib=$(commit "$work/git/greetlib" "greetlib 1.0")
cat >"$work/git/greet/Makefile" <<'EOF'
.RECIPEPREFIX = >
all: greet
greet: main.c
> $(CC) -o $@ main.c -lgreet $(LDFLAGS)
install: all
> mkdir -p $(DESTDIR)$(PREFIX)/bin
> cp greet $(DESTDIR)$(PREFIX)/bin/
EOF
printf '#include <stdio.h>\n#include <greet.h>\nint main(void) { puts(greeting()); return 0; }\n' >"$work/git/greet/main.c"
c_app=$(commit "$work/git/greet" "greet 1.0")
for p in greetlib greet; do
	c=$c_lib
	[ $p = greet ] && c=$c_app
	deps='[]'
	[ $p = greet ] && deps='[{"name": "greetlib"}]'
	write_entry $p <<EOF
{ "name": "$p", "description": "test package $p",
  "versions": [ { "version": "1.0", "git": "$GIT/$p", "commit": "$c" } ],
  "depends": $deps,
  "methods": [ { "name": "make", "build": ["test -f \"\$IPM_PREFIX/machine-one\"", "make PREFIX=\"\$IPM_PREFIX\""],
                 "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF
done

run_bare() {
	env -i PATH="$IPM_PREFIX/bin:/usr/bin:/bin" "$@"
}
# one_line_why PATTERN: stderr has exactly one warning, matching PATTERN
one_line_why() {
	check "one warning line: $1" test "$(grep -c '^ipm: warning:' "$work/err")" -eq 1
	check "it says why: $1" grep -Eq "^ipm: warning: .*$1" "$work/err"
}
# home NAME: a fresh IPM_HOME and IPM_CACHE ("another machine"), same prefix
home() {
	export IPM_HOME=$work/home-$1 IPM_CACHE=$work/cache-$1
}

expect_ok "$IPM" registry keygen --dir "$work/keys"
pub=$(cat "$work/out")
expect_ok "$IPM" registry keygen --dir "$work/keys2"
pub2=$(cat "$work/out")
# basic authentication under /private/ (user ci): credentials come from the
# config or a netrc file, never from the URL, and are never printed
htpasswd=""
if command -v openssl >/dev/null 2>&1; then
	printf 'ci:%s\n' "$(openssl passwd -apr1 s3cret-pw)" >"$work/htpasswd"
	htpasswd=$work/htpasswd
fi
nginx_start "$work/www" $htpasswd
CACHE=$NGINX/cache

# ---- machine one: build, keep, push ----
home one
expect_ok "$IPM" install -y greet
check "plan: greet builds" grep -q "^    build (no binary cache has it)" "$work/out"
check "greet runs" sh -c 'test "$(env -i PATH="$1/bin:/usr/bin:/bin" greet)" = "hello from the cache"' sh "$IPM_PREFIX"
expect_ok "$IPM" info greet
check "info shows the build key" grep -Eq '^  build key: +[0-9a-f]{64}$' "$work/out"
key_app=$(sed -n 's/^  build key: *//p' "$work/out")
"$IPM" info --json greetlib >"$work/lib.json" 2>/dev/null
key_lib=$(json_get "$work/lib.json" 'd["installed"]["build_key"]')
check "info --json shows the build key" sh -c 'echo "$1" | grep -Eq "^[0-9a-f]{64}$"' sh "$key_lib"
check "the two keys differ" test "$key_lib" != "$key_app"
check "the local cache holds greet's archive" test -s "$IPM_CACHE/binary/$key_app.tar.zst"
check "and its manifest" grep -q "\"key\":	*\"$key_app\"" "$IPM_CACHE/binary/$key_app.json"
expect_ok "$IPM" cache list --json
check "cache list: two builds" test "$(json_get "$work/out" 'len(d)')" = 2
check "cache list: sizes" test "$(json_get "$work/out" 'min(e["bytes"] for e in d) > 0')" = True
check "cache list: names" test "$(json_get "$work/out" '",".join(sorted(e["name"] for e in d))')" = greet,greetlib

expect_ok "$IPM" cache push greetlib greet --to "$CACHE" --key "$work/keys/registry.key"
check "push: both pushed" test "$(grep -c ' pushed$' "$work/out")" = 2
for f in "$key_app.tar.zst" "$key_app.json" "$key_app.json.minisig" "$key_lib.tar.zst"; do
	check "the cache serves $f" test -s "$work/www/cache/$f"
done
check "the remote archive is the local one" cmp "$work/www/cache/$key_app.tar.zst" "$IPM_CACHE/binary/$key_app.tar.zst"
check "minisign verifies the manifest's signature" minisign -Vm "$work/www/cache/$key_app.json" -P "$pub" -q
expect_ok "$IPM" cache push greet --to "$CACHE/" --key "$work/keys/registry.key"
check "pushing again: already there, nothing overwritten" grep -q " already there$" "$work/out"

# reinstall after remove: from the local cache, no build (the recipe fails now)
expect_ok "$IPM" remove -y greet greetlib
rm "$marker"
rm -f "$IPM_CACHE"/logs/*.log
expect_ok "$IPM" install -y greet
check "plan: from the local binary cache" test "$(grep -c '^    from the local binary cache' "$work/out")" = 2
check "no build ran (no build log)" sh -c '! ls "$1"/logs/*.log 2>/dev/null | grep -q .' sh "$IPM_CACHE"
check "greet runs after the reinstall" sh -c 'test "$(env -i PATH="$1/bin:/usr/bin:/bin" greet)" = "hello from the cache"' sh "$IPM_PREFIX"
check "the same build key again" sh -c '"$1" info greet | grep -q "$2"' sh "$IPM" "$key_app"
expect_ok "$IPM" remove -y greet greetlib

# ---- machine two: same prefix path, nothing built ----
home two
export IPM_BINARY_CACHE=$CACHE IPM_BINARY_CACHE_KEY=$pub
: >"$NGINX_LOG"
# a build tool this machine lacks: not needed for a binary
cp "$REG/packages/greet.json" "$work/greet.json"
python3 - "$REG/packages/greet.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["requires"] = [{"tool": "ipm-no-such-build-tool"}]
json.dump(d, open(sys.argv[1], "w"))
EOF
expect_ok "$IPM" install --dry-run greet
check "plan: greetlib from the binary cache" grep -q "^    from binary cache $CACHE (build ${key_lib%"${key_lib#????????????????}"})" "$work/out"
check "plan: greet from the binary cache" grep -q "^    from binary cache $CACHE (build ${key_app%"${key_app#????????????????}"})" "$work/out"
check "a dry run downloads no archive" sh -c '! grep -q "tar.zst" "$1"' sh "$NGINX_LOG"
expect_ok "$IPM" install -y greet
check "installed from the cache" grep -q "installed greet 1.0" "$work/err"
check "the archives came over HTTP" test "$(grep -c 'GET /cache/[0-9a-f]*\.tar\.zst HTTP/1.1" 200' "$NGINX_LOG")" = 2
check "the recipe did not run (it would have failed)" sh -c '! ls "$1"/logs/*.log 2>/dev/null | grep -q .' sh "$IPM_CACHE"
check "greet runs on machine two" sh -c 'test "$(env -i PATH="$1/bin:/usr/bin:/bin" greet)" = "hello from the cache"' sh "$IPM_PREFIX"
check "machine two records the same key" sh -c '"$1" info greet | grep -q "$2"' sh "$IPM" "$key_app"
check "the download is kept in the local cache" test -s "$IPM_CACHE/binary/$key_app.tar.zst"
expect_ok "$IPM" remove -y greet greetlib
cp "$work/greet.json" "$REG/packages/greet.json"

# ---- what falls back to building (dry runs: the recipe cannot run here) ----
home three
export IPM_BINARY_CACHE_KEY=$pub2
expect_ok "$IPM" install --dry-run greet
check "wrong key: one line for each package" test "$(grep -c '^ipm: warning: .*not trusted: .*signed with another key' "$work/err")" -eq 2
check "wrong key: the plan builds" grep -q "^    build (not in any binary cache)" "$work/out"

export IPM_BINARY_CACHE_KEY=
expect_ok "$IPM" install --dry-run greet
one_line_why "has no public key pinned: not trusted"
check "no key: the plan builds" test "$(grep -c '^    build' "$work/out")" = 2

export IPM_BINARY_CACHE=http://127.0.0.1:$(closed_port)/cache IPM_BINARY_CACHE_KEY=$pub
expect_ok "$IPM" install --dry-run greet
one_line_why "cannot be reached"
check "cache down: the plan builds" test "$(grep -c '^    build' "$work/out")" = 2

expect_fail 1 "IPM_BINARY_CACHE_KEY: not a minisign public key" env IPM_BINARY_CACHE_KEY=RWnonsense "$IPM" install --dry-run greet

# a manifest changed on the server: its signature no longer verifies
export IPM_BINARY_CACHE=$CACHE
cp "$work/www/cache/$key_app.json" "$work/manifest.good"
sed 's/"version":	"1.0"/"version":	"1.1"/' "$work/manifest.good" >"$work/www/cache/$key_app.json"
expect_ok "$IPM" install --dry-run greet
one_line_why "the build of 'greet' is not trusted: the signature does not match"
cp "$work/manifest.good" "$work/www/cache/$key_app.json"

# a tampered archive: found at download, greet builds instead (it can again)
touch "$marker"
cp "$work/www/cache/$key_app.tar.zst" "$work/archive.good"
python3 - "$work/www/cache/$key_app.tar.zst" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0xff
open(p, 'wb').write(bytes(b))
EOF
expect_ok "$IPM" install -y greet
one_line_why "cannot use the binary of 'greet' from $CACHE: .*does not match its signed manifest"
check "tampered: greet was built" test -s "$IPM_CACHE/logs/greet-1.0.log"
check "tampered: greetlib still came from the cache" test ! -e "$IPM_CACHE/logs/greetlib-1.0.log"
check "tampered: greet runs" sh -c 'test "$(env -i PATH="$1/bin:/usr/bin:/bin" greet)" = "hello from the cache"' sh "$IPM_PREFIX"
cp "$work/archive.good" "$work/www/cache/$key_app.tar.zst"

# ---- a key collision on push: another build of the same key ----
# machine three built greet itself; its files' times (at a second's
# resolution) may still match machine one's: one is set apart, and the
# local cache entry made again from the installed tree
touch -d 2001-01-01 "$IPM_HOME/store/greet/1.0/bin/greet"
rm "$IPM_CACHE/binary/$key_app".*
expect_fail 1 "exists with other content: not overwritten" "$IPM" cache push greet --to "$CACHE" --key "$work/keys/registry.key"
check "push archived the installed tree again" test -s "$IPM_CACHE/binary/$key_app.tar.zst"
check "the rebuilt archive differs" sh -c '! cmp -s "$1" "$2"' sh "$IPM_CACHE/binary/$key_app.tar.zst" "$work/www/cache/$key_app.tar.zst"
check "collision: a hint" grep -q "^hint: .*pushed first" "$work/err"
check "collision: the remote archive is unchanged" cmp "$work/archive.good" "$work/www/cache/$key_app.tar.zst"
check "collision: the remote manifest is unchanged" cmp "$work/manifest.good" "$work/www/cache/$key_app.json"
expect_ok "$IPM" remove -y greet greetlib
unset IPM_BINARY_CACHE IPM_BINARY_CACHE_KEY

# ---- push errors ----
expect_fail 1 "package 'nothere' is not installed" "$IPM" cache push nothere --to "$CACHE" --key "$work/keys/registry.key"
expect_fail 2 "option '--to URL' is required" "$IPM" cache push greet --key "$work/keys/registry.key"
expect_fail 2 "option '--key SECRET_KEY' is required" "$IPM" cache push greet --to "$CACHE"
expect_fail 1 "credentials in the URL" "$IPM" cache push greet --to "http://me:secret@127.0.0.1:$NGINX_PORT/c" --key "$work/keys/registry.key"
check "credentials are not printed" sh -c '! grep -q secret "$1"' sh "$work/err"
expect_fail 1 "no-such.key" "$IPM" cache push greet --to "$CACHE" --key "$work/no-such.key"
expect_fail 2 "unknown cache command 'frob'" "$IPM" cache frob

# ---- "push": true in the config ----
home four
cat >"$IPM_CONFIG" <<EOF
{ "binary_caches": [ { "url": "$NGINX/auto", "key": "$pub", "push": true,
                       "secret_key": "$work/keys/registry.key" } ] }
EOF
expect_ok "$IPM" install -y greetlib
check "push after build: pushed" grep -q "pushed 'greetlib' 1.0 to binary cache '$NGINX/auto'" "$work/err"
check "push after build: the manifest is there" test -s "$work/www/auto/$key_lib.json"
check "push after build: signed" minisign -Vm "$work/www/auto/$key_lib.json" -P "$pub" -q
# a directory as the cache, through file://
mkdir -p "$work/dircache"
expect_ok "$IPM" cache push greetlib --to "file://$work/dircache" --key "$work/keys/registry.key"
check "file://: pushed" test -s "$work/dircache/$key_lib.tar.zst"
check "file://: the same archive as over HTTP" cmp "$work/dircache/$key_lib.tar.zst" "$work/www/auto/$key_lib.tar.zst"
cat >"$IPM_CONFIG" <<EOF
{ "binary_caches": [ { "url": "$NGINX/auto", "key": "$pub", "push": true } ] }
EOF
expect_fail 1 "has \"push\": true, but no \"secret_key\"" "$IPM" install --dry-run greet
cat >"$IPM_CONFIG" <<EOF
{ "binary_caches": [ { "url": "$NGINX/auto", "key": "$pub2" } ] }
EOF
expect_fail 1 "is not the secret key of the key pinned" "$IPM" cache push greetlib --to "$NGINX/auto" --key "$work/keys/registry.key"
rm -f "$IPM_CONFIG"

# ---- credentials ----
if [ -n "$htpasswd" ]; then
	P=$NGINX/private/c
	expect_fail 1 "HTTP 401" "$IPM" cache push greetlib --to "$P" --key "$work/keys/registry.key"
	cat >"$IPM_CONFIG" <<EOF
{ "binary_caches": [ { "url": "$P", "key": "$pub", "username": "ci", "password": "s3cret-pw" } ] }
EOF
	expect_ok "$IPM" cache push greetlib --to "$P" --key "$work/keys/registry.key"
	check "credentials from the config: pushed" grep -q " pushed$" "$work/out"
	check "the password is not printed" sh -c '! grep -q s3cret "$1" "$2"' sh "$work/out" "$work/err"
	home five
	printf 'machine 127.0.0.1 login ci password s3cret-pw\n' >"$work/netrc"
	cat >"$IPM_CONFIG" <<EOF
{ "binary_caches": [ { "url": "$P", "key": "$pub", "netrc": "$work/netrc" } ] }
EOF
	expect_ok "$IPM" install --dry-run greetlib
	check "credentials from a netrc file: a hit" grep -q "^    from binary cache $P " "$work/out"
	cat >"$IPM_CONFIG" <<EOF
{ "binary_caches": [ { "url": "$P", "key": "$pub" } ] }
EOF
	expect_ok "$IPM" install --dry-run greetlib
	one_line_why "binary cache '$P' cannot be reached .*HTTP 401"
	cat >"$IPM_CONFIG" <<EOF
{ "binary_caches": [ { "url": "http://ci:s3cret-pw@127.0.0.1:$NGINX_PORT/private/c", "key": "$pub" } ] }
EOF
	expect_fail 1 "binary cache URL with credentials in it" "$IPM" install --dry-run greetlib
	check "credentials in a URL are not printed" sh -c '! grep -q s3cret "$1"' sh "$work/err"
	rm -f "$IPM_CONFIG"
else
	ok "# skip credentials: openssl is not installed"
fi

done_testing
