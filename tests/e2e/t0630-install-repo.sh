#!/bin/sh
# ipm install with a repository as the spec: owner/repo, https URLs (with and
# without .git, any case of host, a trailing slash), github:owner/repo and a
# local path resolve to the registry entry of that repository; a repository
# no registry knows gets a guessed entry (the newest release tag, pre-releases
# left out; no tags: the head with a date version; @TAG chooses), shown as a
# guess and run only with --trust-guess; a repository without a build system
# is refused; the installed package is listed as guessed, removed cleanly,
# and `registry new --from-installed` writes an entry that `registry check`
# accepts. Every repository is local, served through IPM_MIRRORS.
. "$(dirname "$0")/lib.sh"

export IPM_MIRRORS="https://git.example.org/=file://$work/git/ https://github.com/=file://$work/gh/"
GIT=https://git.example.org

# ---- a registry entry, found by its repository ----
c=$(make_git_pkg "$work/git/known.git" known 1.0)
git_entry known 1.0 "$GIT/known.git" "$c" '' '"repo": "someone/known",'
expect_ok "$IPM" install --dry-run someone/known
check "owner/repo: the registry entry" grep -q "^    registry: " "$work/out"
expect_ok "$IPM" install --dry-run https://github.com/Someone/known
check "github URL: the entry whose repo it is" grep -q "^    registry: " "$work/out"
expect_ok "$IPM" install --dry-run github:someone/known
check "github:owner/repo: the entry" grep -q "^    registry: " "$work/out"
expect_ok "$IPM" install --dry-run HTTPS://GIT.example.org/known.git/
check "any host: the entry whose git URL it is (normalised)" grep -q "^    registry: " "$work/out"
check "... and no guess" sh -c '! grep -q "no registry entry" "$1"' sh "$work/out"

# ---- an unknown repository with tags ----
make_git_pkg "$work/git/tool" tool 1.0 >/dev/null
git -C "$work/git/tool" tag v1.0
# what the repository says of itself: the guessed entry's description and license
cat >"$work/git/tool/README.md" <<'EOF'
# tool

[![build](https://example.org/badge.svg)](https://example.org)

Tool prints its own name and version. It is a test.
EOF
cat >"$work/git/tool/LICENSE" <<'EOF'
MIT License

Copyright (c) 2026 ipm-test

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
EOF
make_git_pkg "$work/git/tool" tool 2.0 >/dev/null
git -C "$work/git/tool" tag -a v2.0 -m "tool 2.0"
c20=$(git -C "$work/git/tool" rev-parse 'v2.0^{commit}')
make_git_pkg "$work/git/tool" tool 3.0 >/dev/null
git -C "$work/git/tool" tag v3.0-rc1
state_snapshot "$work/before"

expect_ok "$IPM" install --dry-run "$GIT/tool"
check "newest release tag, the pre-release left out" grep -q "^  tool 2.0" "$work/out"
check "the plan says it is a guess, from what, at which commit" \
	grep -q "no registry entry: recipe guessed from Makefile at v2.0 (commit $c20)" "$work/out"
check "the plan shows every step" grep -q "install: make install" "$work/out"

expect_fail 1 "refusing to run a guessed recipe without confirmation" "$IPM" install -y "$GIT/tool"
check "the refusal names --trust-guess" grep -q "hint:.*--trust-guess" "$work/err"
same_state "-y without --trust-guess: nothing changed" "$work/before"

expect_ok "$IPM" install --dry-run "$GIT/tool@v1.0"
check "@TAG chooses" grep -q "^  tool 1.0" "$work/out"
expect_ok "$IPM" install --dry-run "$GIT/tool@$c20"
check "@COMMIT of a release: that release" grep -q "^  tool 2.0" "$work/out"
c30=$(git -C "$work/git/tool" rev-parse HEAD)
expect_ok "$IPM" install --dry-run "$GIT/tool@$c30"
check "@COMMIT without a release tag: that commit, dated" grep -Eq "^  tool 0\.0\.0-[0-9]{8}$" "$work/out"
check "... pinned" grep -q "@ $c30" "$work/out"
expect_fail 1 "neither a tag nor a commit" "$IPM" install --dry-run "$GIT/tool@v9"

expect_ok "$IPM" install --dry-run "$work/git/tool"
check "a local path: guessed the same" grep -q "^  tool 2.0" "$work/out"

# owner/repo that no registry has: https://github.com/owner/repo
make_git_pkg "$work/gh/them/gadget" gadget 0.5 >/dev/null
git -C "$work/gh/them/gadget" tag 0.5
expect_ok "$IPM" install --dry-run them/gadget
check "unknown owner/repo: guessed from github.com" grep -q "^  gadget 0.5" "$work/out"

# ---- no tags: the head, with a date version ----
make_git_pkg "$work/git/notag" notag 1.0 >/dev/null
expect_ok "$IPM" install --dry-run "$GIT/notag"
check "no tags: 0.0.0-YYYYMMDD" grep -Eq "^  notag 0\.0\.0-[0-9]{8}$" "$work/out"

# ---- no build system ----
mkdir -p "$work/git/docs"
printf 'just words\n' >"$work/git/docs/README.md"
git -C "$work/git/docs" init -q && git -C "$work/git/docs" add -A && git -C "$work/git/docs" commit -q -m docs
git -C "$work/git/docs" tag v1.0
expect_fail 1 "no build system recognised in '$GIT/docs' at v1.0" "$IPM" install --trust-guess "$GIT/docs"
same_state "no build system: nothing changed" "$work/before"

# ---- a failing build: the log's tail and path; nothing installed ----
make_git_pkg "$work/git/bad" bad 1.0 >/dev/null
printf 'all:\n\tfalse\ninstall:\n\ttrue\n' >"$work/git/bad/Makefile"
git -C "$work/git/bad" add -A && git -C "$work/git/bad" commit -q -m broken && git -C "$work/git/bad" tag v1.1
expect_fail 1 "step 'make -j.*' of 'bad' failed" "$IPM" install --trust-guess "$GIT/bad"
check "the failure shows the log's last lines" grep -q "make: \*\*\* .*Error" "$work/err"
check "and names the full log" grep -q "hint: the full output is in '.*/logs/bad-1.1.log'" "$work/err"
same_state "a failed build: nothing changed" "$work/before"

# ---- a failing first guessed method, a working second ----
if command -v cmake >/dev/null 2>&1; then
	make_git_pkg "$work/git/two" two 1.0 >/dev/null
	printf 'cmake_minimum_required(VERSION 3.5)\nproject(two C)\nmessage(FATAL_ERROR "not with cmake")\n' \
		>"$work/git/two/CMakeLists.txt"
	git -C "$work/git/two" add -A && git -C "$work/git/two" commit -q -m cmake && git -C "$work/git/two" tag v1.1
	expect_ok "$IPM" install --trust-guess "$GIT/two"
	check "both methods guessed, cmake first" grep -q "recipe guessed from CMakeLists.txt, Makefile at v1.1" "$work/out"
	check "cmake failed, make was tried" grep -q "method 'cmake' of 'two' failed .*trying method 'make'" "$work/err"
	check "and works" test "$("$IPM_PREFIX/bin/two")" = "two 1.0"
	expect_ok "$IPM" remove -y two
else
	ok "# SKIP cmake is not installed"
fi

# ---- on a terminal, a guess is asked about even with -y ----
if script -qec true /dev/null >/dev/null 2>&1; then
	printf 'n\n' | script -qec "'$IPM' --color=never install -y '$GIT/tool'" /dev/null >"$work/tty.out" 2>&1
	check "-y on a terminal: still asked" grep -q "The recipe above is a guess. Run it?" "$work/tty.out"
	check "answering n installs nothing" test ! -e "$IPM_PREFIX/bin/tool"
	printf 'y\n' | script -qec "'$IPM' --color=never install '$GIT/tool'" /dev/null >"$work/tty.out" 2>&1
	check "answering y installs, asked once" sh -c '[ -x "$1/bin/tool" ] && [ "$(grep -c "?" "$2")" -eq 1 ]' \
		sh "$IPM_PREFIX" "$work/tty.out"
	expect_ok "$IPM" remove -y tool
else
	ok "# SKIP no script(1) for a terminal"
fi

# ---- --trust-guess installs ----
expect_ok "$IPM" install --trust-guess "$GIT/tool"
check "the program runs" test "$("$IPM_PREFIX/bin/tool")" = "tool 2.0"
expect_ok "$IPM" list
check "list marks it guessed" grep -Eq "^tool +2\.0 .*\(guessed\)$" "$work/out"
expect_ok "$IPM" info tool
check "info says it was guessed" grep -q "guessed:" "$work/out"
check "info shows the pinned commit" grep -q "$c20" "$work/out"

# ---- the entry that worked, for a registry ----
NEW=$work/newreg
mkdir -p "$NEW/packages"
printf '{ "name": "new", "description": "entries from guesses" }\n' >"$NEW/registry.json"
expect_ok "$IPM" registry new --from-installed tool --dir "$NEW"
check "written where it says" test "$(cat "$work/out")" = "$NEW/packages/tool.json"
check "the pinned commit" test "$(json_get "$NEW/packages/tool.json" 'd["versions"][0]["commit"]')" = "$c20"
check "the description from the README" test "$(json_get "$NEW/packages/tool.json" 'd["description"]')" = "Tool prints its own name and version"
check "the license from LICENSE" test "$(json_get "$NEW/packages/tool.json" 'd["license"]')" = "MIT"
expect_ok "$IPM" registry check "$NEW/packages/tool.json"
expect_ok "$IPM" install -y someone/known
expect_fail 1 "installed from registry '[a-z]+', not from a guessed entry" "$IPM" registry new --from-installed known --dir "$NEW"
expect_ok "$IPM" remove -y known
expect_fail 1 "not installed" "$IPM" registry new --from-installed nothing --dir "$NEW"

# ---- remove ----
expect_ok "$IPM" remove -y tool
check "the prefix is clean" sh -c '[ -z "$(find "$1" -type f -o -type l 2>/dev/null)" ]' sh "$IPM_PREFIX"
expect_ok "$IPM" list
check "no longer listed" sh -c '! grep -q "^tool " "$1"' sh "$work/out"

done_testing
