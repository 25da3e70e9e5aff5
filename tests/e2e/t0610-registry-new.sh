#!/bin/sh
# ipm registry new: an entry pinned to the exact commit of a tag (annotated
# or lightweight) or of the default branch, read through IPM_MIRRORS from an
# https://git.example.org/ URL that exists only as a local repository; an
# archive pinned to its sha256, downloaded from the local HTTP server; the
# recipe guessed from CMakeLists.txt / meson.build / configure /
# configure.ac / Makefile; every error with its message, its exit status and
# nothing written; and the written entry installs.
. "$(dirname "$0")/lib.sh"

export IPM_MIRRORS="https://git.example.org/=file://$work/git/"
GIT=https://git.example.org
NEW=$work/newreg
mkdir -p "$NEW/packages"

# entry_get NAME EXPR: json_get on the written entry NAME.
entry_get() { json_get "$NEW/packages/$1.json" "$2"; }
# nothing_written DESC NAME: the error left no file (nor a temporary one).
nothing_written() {
	check "$1: nothing written" sh -c '[ -z "$(ls -A "$1/packages" | grep "^$2\.json")" ]' sh "$NEW" "$2"
}

# ---- a Makefile project with an annotated, a lightweight and no tag ----
make_git_pkg "$work/git/mk.git" mk 1.0 >/dev/null
git -C "$work/git/mk.git" tag -a v1.0 -m "mk 1.0"
make_git_pkg "$work/git/mk.git" mk 1.1 >/dev/null
git -C "$work/git/mk.git" tag release-1.1
make_git_pkg "$work/git/mk.git" mk 1.2 >/dev/null
c10=$(git -C "$work/git/mk.git" rev-parse 'v1.0^{commit}')
tagobj=$(git -C "$work/git/mk.git" rev-parse v1.0)
c11=$(git -C "$work/git/mk.git" rev-parse release-1.1)
c12=$(git -C "$work/git/mk.git" rev-parse HEAD)

expect_ok "$IPM" registry new mk --git "$GIT/mk.git" --tag v1.0 --dir "$NEW"
check "stdout is the written file" test "$(cat "$work/out")" = "$NEW/packages/mk.json"
check "annotated tag: the commit, not the tag object" test "$(entry_get mk 'd["versions"][0]["commit"]')" = "$c10"
check "the tag object differs from its commit" test "$tagobj" != "$c10"
check "the tag is written" test "$(entry_get mk 'd["versions"][0]["tag"]')" = "v1.0"
check "version from tag 'v1.0'" test "$(entry_get mk 'd["versions"][0]["version"]')" = "1.0"
check "the git URL is the one given, not the mirror" test "$(entry_get mk 'd["versions"][0]["git"]')" = "$GIT/mk.git"
check "homepage: the https URL without .git" test "$(entry_get mk 'd["homepage"]')" = "$GIT/mk"
check "Makefile only: one method, make" test "$(entry_get mk '[m["name"] for m in d["methods"]]')" = "['make']"
check "says what it found and wrote" grep -q "^found Makefile: wrote methods make$" "$work/err"
check "says what is left" grep -qF "next: fill in description, license, keywords in $NEW/packages/mk.json, then run 'ipm registry check $NEW/packages/mk.json'" "$work/err"
check "says where the version came from" grep -q "version 1.0: from tag 'v1.0'" "$work/err"
# The whole document: key order, 2-space indentation, hints, final newline.
cat >"$work/mk.expected" <<EOF
{
  "name": "mk",
  "homepage": "https://git.example.org/mk",
  "versions": [
    {
      "version": "1.0",
      "git": "https://git.example.org/mk.git",
      "commit": "$c10",
      "tag": "v1.0"
    }
  ],
  "requires": [
    {
      "tool": "cc",
      "hints": {
        "debian": "sudo apt-get install build-essential",
        "fedora": "sudo dnf install gcc make",
        "alpine": "sudo apk add build-base",
        "arch": "sudo pacman -S base-devel",
        "macos": "xcode-select --install"
      }
    },
    {
      "tool": "make",
      "hints": {
        "debian": "sudo apt-get install make",
        "fedora": "sudo dnf install make",
        "alpine": "sudo apk add make",
        "arch": "sudo pacman -S make",
        "macos": "xcode-select --install"
      }
    }
  ],
  "methods": [
    {
      "name": "make",
      "build": [
        "make -j\"\$IPM_JOBS\""
      ],
      "install": [
        "make install PREFIX=\"\$IPM_PREFIX\""
      ]
    }
  ]
}
EOF
check "the entry, byte for byte" cmp "$work/mk.expected" "$NEW/packages/mk.json"

# Lightweight tag with a prefix.
expect_ok "$IPM" registry new mk-light --git "$GIT/mk.git" --tag release-1.1 --dir "$NEW"
check "lightweight tag: its commit" test "$(entry_get mk-light 'd["versions"][0]["commit"]')" = "$c11"
check "version from 'release-1.1'" test "$(entry_get mk-light 'd["versions"][0]["version"]')" = "1.1"

# The default branch: no tag points at its HEAD, so the version must be given.
expect_fail 1 "cannot tell the version of commit '$c12' of '$GIT/mk.git': no tag points at it" \
	"$IPM" registry new mk-head --git "$GIT/mk.git" --dir "$NEW"
check "the hint names --version" grep -q "^hint: give it with --version" "$work/err"
nothing_written "no version" mk-head
expect_ok "$IPM" registry new mk-head --git "$GIT/mk.git" --version 1.2 --dir "$NEW"
check "default branch: HEAD's commit" test "$(entry_get mk-head 'd["versions"][0]["commit"]')" = "$c12"
check "no tag written for an untagged commit" test "$(entry_get mk-head '"tag" in d["versions"][0]')" = "False"
check "version from --version" test "$(entry_get mk-head 'd["versions"][0]["version"]')" = "1.2"
# Once a tag points at HEAD, the mirror is refreshed and the tag is used.
git -C "$work/git/mk.git" tag mk-1.2
expect_ok "$IPM" registry new mk-tagged --git "$GIT/mk.git" --dir "$NEW"
check "the tag at HEAD is found" test "$(entry_get mk-tagged 'd["versions"][0]["tag"]')" = "mk-1.2"
check "version from 'mk-1.2'" test "$(entry_get mk-tagged 'd["versions"][0]["version"]')" = "1.2"
check "its commit is HEAD's" test "$(entry_get mk-tagged 'd["versions"][0]["commit"]')" = "$c12"

# Complete entries install, and pass the registry's checks.
expect_ok "$IPM" registry new mk-full --git "$GIT/mk.git" --tag v1.0 --description "prints its version" \
	--license MIT --dir "$NEW"
check "description and license are written" test "$(entry_get mk-full '(d["description"], d["license"])')" = "('prints its version', 'MIT')"
check "only keywords are left" grep -qF "next: fill in keywords in" "$work/err"
expect_ok "$IPM" install --yes "$NEW/packages/mk-full.json"
check "the guessed make recipe installed bin/mk 1.0" sh -c '[ "$("$1"/bin/mk)" = "mk 1.0" ]' sh "$IPM_PREFIX"
expect_ok "$IPM" registry check "$NEW/packages/mk-full.json"
expect_ok "$IPM" remove --yes mk-full

# ---- the other build systems ----
make_tree() { # DIR FILE...: a git repository holding these (empty) files
	mkdir -p "$1"
	_d=$1
	shift
	for _f in "$@"; do : >"$_d/$_f"; done
	(cd "$_d" && git init -q && git add -A && git commit -q -m tree && git tag v3.0)
}
# A CMake project (no compiler needed) next to a Makefile without an install
# target (a wrapper that only says to use cmake): no make method.
mkdir -p "$work/git/cm.git"
cat >"$work/git/cm.git/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.5)
project(cm NONE)
install(PROGRAMS cm.sh DESTINATION bin RENAME cm)
EOF
printf '#!/bin/sh\necho cm 2.5\n' >"$work/git/cm.git/cm.sh"
printf 'all:\n\t@echo use cmake\n' >"$work/git/cm.git/Makefile"
(cd "$work/git/cm.git" && git init -q && git add -A && git commit -q -m cm && git tag -a cm-2_5 -m cm)
expect_ok "$IPM" registry new cm --git "$GIT/cm.git" --tag cm-2_5 --description "cmake test" --license MIT --dir "$NEW"
check "CMakeLists.txt + Makefile without install: method cmake" test "$(entry_get cm '[m["name"] for m in d["methods"]]')" = "['cmake']"
check "found CMakeLists.txt, Makefile" grep -q "^found CMakeLists.txt, Makefile: wrote methods cmake$" "$work/err"
check "cmake is required, with its hints" test "$(entry_get cm '[r["tool"] for r in d["requires"]]')" = "['cc', 'make', 'cmake']"
check "version from 'cm-2_5'" test "$(entry_get cm 'd["versions"][0]["version"]')" = "2.5"
check "the cmake recipe" test "$(entry_get cm 'd["methods"][0]["build"][0]')" = 'cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$IPM_PREFIX" -DCMAKE_INSTALL_LIBDIR=lib'
if command -v cmake >/dev/null 2>&1; then
	expect_ok "$IPM" install --yes "$NEW/packages/cm.json"
	check "the guessed cmake recipe installed bin/cm" sh -c '[ "$("$1"/bin/cm)" = "cm 2.5" ]' sh "$IPM_PREFIX"
	expect_ok "$IPM" remove --yes cm
else
	ok "# skip cmake is not installed"
fi

make_tree "$work/git/ms.git" meson.build README
expect_ok "$IPM" registry new ms --git "$GIT/ms.git" --dir "$NEW"
check "meson.build: method meson" test "$(entry_get ms '[m["name"] for m in d["methods"]]')" = "['meson']"
check "meson needs meson and ninja" test "$(entry_get ms '[r["tool"] for r in d["requires"]]')" = "['cc', 'meson', 'ninja']"

make_tree "$work/git/ac.git" configure.ac Makefile.am Makefile
expect_ok "$IPM" registry new ac --git "$GIT/ac.git" --dir "$NEW"
check "configure.ac alone: autoreconf first" test "$(entry_get ac '[m["name"] for m in d["methods"]]')" = "['autotools']"
check "autotools: autoreconf -fi, then configure" test "$(entry_get ac 'd["methods"][0]["build"][:2]')" = "['autoreconf -fi', './configure --prefix=\"\$IPM_PREFIX\"']"
check "autoreconf is required" test "$(entry_get ac '[r["tool"] for r in d["requires"]]')" = "['cc', 'make', 'autoreconf']"

make_tree "$work/git/none.git" README.md src.c
expect_ok "$IPM" registry new none --git "$GIT/none.git" --dir "$NEW"
check "no build file: says so" grep -q "found no build file" "$work/err"
check "no build file: no method written" test "$(entry_get none '"methods" in d or "requires" in d')" = "False"
check "no build file: methods are left to fill in" grep -q "next: fill in methods, description" "$work/err"

# ---- archives over HTTP ----
# A configure project (configure writes the Makefile) packed with one
# top-level directory, as release tarballs are.
mkdir -p "$work/pack/cfg-2.0" "$work/www"
cat >"$work/pack/cfg-2.0/configure" <<'EOF'
#!/bin/sh
prefix=/usr/local
for a in "$@"; do case $a in --prefix=*) prefix=${a#--prefix=} ;; esac; done
printf 'all:\n\tprintf "#!/bin/sh\\necho cfg 2.0\\n" > cfg.out\ninstall: all\n\tmkdir -p "$(DESTDIR)%s/bin"\n\tcp cfg.out "$(DESTDIR)%s/bin/cfg"\n\tchmod 755 "$(DESTDIR)%s/bin/cfg"\n' "$prefix" "$prefix" "$prefix" > Makefile
EOF
chmod 755 "$work/pack/cfg-2.0/configure"
: >"$work/pack/cfg-2.0/configure.ac"
printf 'all:\n\t@echo run ./configure first\n' >"$work/pack/cfg-2.0/Makefile"
tar -C "$work/pack" -czf "$work/www/cfg-2.0.tar.gz" cfg-2.0
cp "$work/www/cfg-2.0.tar.gz" "$work/www/download.tar.gz"
sum=$(sha256sum "$work/www/cfg-2.0.tar.gz" | cut -d' ' -f1)
echo "<html>not found here</html>" >"$work/www/page-1.0.tar.gz"
start_httpd "$work/www" || exit 1
# registry new downloads into a temporary directory under $TMPDIR.
export TMPDIR=$work/tmp
mkdir -p "$TMPDIR"

expect_ok "$IPM" registry new cfg --url "$HTTP/cfg-2.0.tar.gz" --description "configure test" --license MIT --dir "$NEW"
check "the archive was downloaded" grep -q "GET /cfg-2.0.tar.gz 200" "$HTTPD_LOG"
check "sha256 of the download" test "$(entry_get cfg 'd["versions"][0]["sha256"]')" = "$sum"
check "size of the download" test "$(entry_get cfg 'd["versions"][0]["size"]')" = "$(wc -c <"$work/www/cfg-2.0.tar.gz" | tr -d ' ')"
check "the URL is written" test "$(entry_get cfg 'd["versions"][0]["url"]')" = "$HTTP/cfg-2.0.tar.gz"
check "version from the file name" test "$(entry_get cfg 'd["versions"][0]["version"]')" = "2.0"
check "configure (next to configure.ac and a stub Makefile): method configure" test "$(entry_get cfg '[m["name"] for m in d["methods"]]')" = "['configure']"
check "the top-level directory is looked into" grep -q "^found configure, configure.ac, Makefile: wrote methods configure$" "$work/err"
check "no homepage is guessed for an archive" test "$(entry_get cfg '"homepage" in d')" = "False"
check "no temporary download is left" test -z "$(ls -A "$TMPDIR")"
# the test server is plain http://: installing from it is the user's choice,
# said with a mirror rule (ipm refuses plain http:// sources otherwise)
expect_ok env IPM_MIRRORS="$HTTP/=$HTTP/" "$IPM" install --yes "$NEW/packages/cfg.json"
check "the guessed configure recipe installed bin/cfg" sh -c '[ "$("$1"/bin/cfg)" = "cfg 2.0" ]' sh "$IPM_PREFIX"

# Through a mirror, as a public entry's https URL would be.
expect_ok env IPM_MIRRORS="https://downloads.example.org/=$HTTP/" \
	"$IPM" registry new cfg-mirrored --url https://downloads.example.org/cfg-2.0.tar.gz --dir "$NEW"
check "mirrored archive: the https URL is written" test "$(entry_get cfg-mirrored 'd["versions"][0]["url"]')" = "https://downloads.example.org/cfg-2.0.tar.gz"
check "mirrored archive: same sha256" test "$(entry_get cfg-mirrored 'd["versions"][0]["sha256"]')" = "$sum"

expect_fail 1 "cannot tell a version from the file name of '$HTTP/download.tar.gz'" \
	"$IPM" registry new dl --url "$HTTP/download.tar.gz" --dir "$NEW"
check "the hint names --version" grep -q "^hint: give it with --version" "$work/err"
nothing_written "no version in the file name" dl
expect_ok "$IPM" registry new dl --url "$HTTP/download.tar.gz" --version 2.0 --dir "$NEW"
check "--version for an archive" test "$(entry_get dl 'd["versions"][0]["version"]')" = "2.0"

# ---- errors: one line and a hint, exit 1 (2 for usage), nothing written ----
expect_fail 1 "tag 'v9.9' not found in '$GIT/mk.git'" \
	"$IPM" registry new mk-bad --git "$GIT/mk.git" --tag v9.9 --dir "$NEW"
check "the hint lists tags, newest first" grep -q "^hint: tags in '$GIT/mk.git': mk-1.2, release-1.1, v1.0$" "$work/err"
nothing_written "unknown tag" mk-bad

expect_fail 1 "'file://$work/git/gone.git'" "$IPM" registry new gone --git "$GIT/gone.git" --dir "$NEW"
check "the hint names the mirror" grep -q "^hint: '$GIT/gone.git' is rewritten by a mirror" "$work/err"
nothing_written "unreachable git URL" gone

expect_fail 1 "'$HTTP/missing-1.0.tar.gz': HTTP 404" "$IPM" registry new missing --url "$HTTP/missing-1.0.tar.gz" --dir "$NEW"
nothing_written "HTTP 404" missing

closed=$(closed_port)
expect_fail 1 "'http://127.0.0.1:$closed/x-1.0.tar.gz': " "$IPM" registry new unreach --url "http://127.0.0.1:$closed/x-1.0.tar.gz" --dir "$NEW"
check "unreachable URL: curl's message" grep -Eiq "connect|refused" "$work/err"
nothing_written "unreachable URL" unreach

expect_fail 1 "'$HTTP/page-1.0.tar.gz' is not an archive" "$IPM" registry new page --url "$HTTP/page-1.0.tar.gz" --dir "$NEW"
check "the hint asks for a release archive" grep -q "^hint: give the URL of a release archive" "$work/err"
nothing_written "not an archive" page
check "no temporary download is left after errors" test -z "$(ls -A "$TMPDIR")"

cp "$NEW/packages/mk.json" "$work/mk.before"
expect_fail 1 "'$NEW/packages/mk.json' already exists" "$IPM" registry new mk --git "$GIT/mk.git" --tag release-1.1 --dir "$NEW"
check "the hint says how to add a release" grep -q "^hint: add a release to its \"versions\"" "$work/err"
check "the existing entry is unchanged" cmp "$work/mk.before" "$NEW/packages/mk.json"

# (their source does not exist: what was given is judged before anything is fetched)
expect_fail 1 "field 'name' in '$NEW/packages/Bad_Name.json' is not a valid package name" \
	"$IPM" registry new Bad_Name --git "$GIT/never.git" --tag v1.0 --dir "$NEW"
check "bad name: the hint gives the rule" grep -q "^hint: names use lower-case letters" "$work/err"
nothing_written "bad name" Bad_Name
expect_fail 1 "field 'name' in '$NEW/packages/$(printf 'a%.0s' $(seq 65)).json'" \
	"$IPM" registry new "$(printf 'a%.0s' $(seq 65))" --git "$GIT/never.git" --tag v1.0 --dir "$NEW"
expect_fail 1 "field 'versions\[0\]\.version' in '$NEW/packages/badver.json' is not a valid version" \
	"$IPM" registry new badver --git "$GIT/never.git" --tag v1.0 --version 1..2 --dir "$NEW"
nothing_written "bad version" badver
expect_fail 1 "field 'license' in '$NEW/packages/badlic.json'" \
	"$IPM" registry new badlic --url "$HTTP/never-1.0.tar.gz" --license "Not-A-License" --dir "$NEW"
nothing_written "bad license" badlic
check "nothing was fetched for them" sh -c '! grep -q never "$1" && ! ls "$2/git" | grep -q "^never-"' sh "$HTTPD_LOG" "$IPM_CACHE"

expect_fail 2 "give either --git or --url, not both" \
	"$IPM" registry new both --git "$GIT/mk.git" --url "$HTTP/cfg-2.0.tar.gz" --dir "$NEW"
check "usage line" grep -q "^usage: ipm registry" "$work/err"
expect_fail 2 "needs the source: --git URL or --url ARCHIVE_URL" "$IPM" registry new neither --dir "$NEW"
expect_fail 2 "--tag goes with --git" "$IPM" registry new tagurl --url "$HTTP/cfg-2.0.tar.gz" --tag v1 --dir "$NEW"
expect_fail 2 "needs the package's NAME" "$IPM" registry new --git "$GIT/mk.git"
expect_fail 2 "unexpected argument 'two'" "$IPM" registry new one two --git "$GIT/mk.git"
expect_fail 2 "unknown option '--branch'" "$IPM" registry new one --git "$GIT/mk.git" --branch main
expect_fail 2 "option '--tag' needs a value" "$IPM" registry new one --git "$GIT/mk.git" --tag
for n in both neither tagurl one; do nothing_written "usage error ($n)" "$n"; done

# ---- where it writes ----
mkdir -p "$work/cwd1/registry/packages" "$work/cwd2/packages" "$work/cwd3"
expect_ok sh -c 'cd "$1" && "$2" registry new mk --git "$3" --tag v1.0' sh "$work/cwd1" "$IPM" "$GIT/mk.git"
check "default: ./registry/packages" test -f "$work/cwd1/registry/packages/mk.json"
check "stdout names it" test "$(cat "$work/out")" = "registry/packages/mk.json"
expect_ok sh -c 'cd "$1" && "$2" registry new mk --git "$3" --tag v1.0' sh "$work/cwd2" "$IPM" "$GIT/mk.git"
check "else ./packages" test -f "$work/cwd2/packages/mk.json"
check "stdout names it" test "$(cat "$work/out")" = "packages/mk.json"
expect_fail 1 "no registry here: neither 'registry/packages' nor 'packages' exists" \
	sh -c 'cd "$1" && "$2" registry new mk --git "$3" --tag v1.0' sh "$work/cwd3" "$IPM" "$GIT/mk.git"
check "the hint names --dir" grep -q "^hint: .*--dir REGISTRY_DIR" "$work/err"
check "nothing written in cwd3" test -z "$(ls -A "$work/cwd3")"
expect_fail 1 "'$work/cwd3' is not a registry directory: '$work/cwd3/packages' does not exist" \
	"$IPM" registry new mk --git "$GIT/mk.git" --tag v1.0 --dir "$work/cwd3"
check "nothing created in cwd3" test -z "$(ls -A "$work/cwd3")"

# -q: only the path.
expect_ok "$IPM" -q registry new mk-quiet --git "$GIT/mk.git" --tag v1.0 --dir "$NEW"
check "-q: stderr is empty" test ! -s "$work/err"
check "-q: stdout is the path" test "$(cat "$work/out")" = "$NEW/packages/mk-quiet.json"

# ---- a header-only library with a README and a LICENSE: the method,
# description and license are read from the tree, and the entry installs ----
mkdir -p "$work/git/hdr.git"
printf '#ifndef HDR_H\n#define HDR_H\nstatic inline int hdr_answer(void) { return 42; }\n#endif\n' >"$work/git/hdr.git/hdr.h"
printf 'int main(void) { return 0; }\n' >"$work/git/hdr.git/example.c"
cat >"$work/git/hdr.git/README.md" <<'EOF'
[![CI](https://example.org/badge.svg)](https://example.org/ci)

# hdr
A tiny header-only answer library for C. It has one function.

## Use
EOF
cat >"$work/git/hdr.git/LICENSE" <<'EOF'
Copyright (c) 2024 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
EOF
(cd "$work/git/hdr.git" && git init -q && git add -A && git commit -q -m hdr && git tag v0.3)
expect_ok "$IPM" registry new hdr --git "$GIT/hdr.git" --tag v0.3 --dir "$NEW"
check "header-only: method headers" test "$(entry_get hdr '[m["name"] for m in d["methods"]]')" = "['headers']"
check "header-only: found by its header" grep -q "^found hdr.h: wrote methods headers$" "$work/err"
check "description from the README's first paragraph" \
	test "$(entry_get hdr 'd["description"]')" = "A tiny header-only answer library for C"
check "license from LICENSE" test "$(entry_get hdr 'd["license"]')" = "MIT"
check "only keywords left" grep -qF "next: fill in keywords in $NEW/packages/hdr.json" "$work/err"
check "no tool required" test "$(entry_get hdr '"requires" in d')" = "False"
expect_ok "$IPM" install --yes "$NEW/packages/hdr.json"
check "the header is in the prefix" test -f "$IPM_PREFIX/include/hdr.h"
check "a .pc for it" grep -q "^Cflags: -I\${includedir}$" "$IPM_PREFIX/lib/pkgconfig/hdr.pc"
check "the .pc names the prefix" grep -q "^prefix=$IPM_PREFIX$" "$IPM_PREFIX/lib/pkgconfig/hdr.pc"
expect_ok "$IPM" remove --yes hdr
check "removed: no header left" test ! -e "$IPM_PREFIX/include/hdr.h"

done_testing
