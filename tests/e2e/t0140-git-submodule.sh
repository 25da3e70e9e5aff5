#!/bin/sh
# A git source whose tree holds a submodule (a gitlink), as pcre2's and jq's
# release tags do: ipm checks it out from its bare mirror without the
# submodule's files (ipm does not fetch submodules) and builds it.
. "$(dirname "$0")/lib.sh"

# The submodule's own repository, then the package that records it.
make_git_pkg "$work/src/inner" inner 1.0 >/dev/null
make_git_pkg "$work/src/outer" outer 1.0 >/dev/null
(
	cd "$work/src/outer" &&
	git -c protocol.file.allow=always submodule --quiet add "$work/src/inner" vendor/inner &&
	git commit -q -m "vendor inner as a submodule"
) >"$work/submodule.log" 2>&1
c1=$(git -C "$work/src/outer" rev-parse HEAD)
check "the package's tree holds a gitlink" sh -c 'git -C "$1" ls-tree HEAD vendor/inner | grep -q "^160000 commit"' sh "$work/src/outer"
git_entry outer 1.0 "file://$work/src/outer" "$c1"

expect_ok "$IPM" install --yes outer
check "bin/outer runs" sh -c '[ "$("$1"/bin/outer)" = "outer 1.0" ]' sh "$IPM_PREFIX"
check "the mirror stays bare (no work tree recorded)" sh -c '! grep -rqs worktree "$1"/git/*/config' sh "$IPM_CACHE"

expect_ok "$IPM" remove --yes outer
check "remove leaves the prefix empty" sh -c '[ -z "$(find "$1" -mindepth 1 ! -type d)" ]' sh "$IPM_PREFIX"

done_testing
