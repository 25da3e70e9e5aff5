#!/bin/sh
# The attention library as a first-class package: `ipm install attention`
# builds it from this repository (offline, through the same git path as any
# package), a program compiles against what it installed through pkg-config
# and prints the article's numbers, a grouped-query decoding example runs
# right from several threads and a fork, and `ipm remove` takes every file
# back.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
IPM=$BUILD/ipm
work=$(mktemp -d "${TMPDIR:-/tmp}/ipm-t0500.XXXXXX")
trap 'rm -rf "$work"' EXIT
export IPM_HOME=$work/home IPM_PREFIX=$work/prefix IPM_CACHE=$work/cache IPM_CONFIG=$work/config.json
unset IPM_REGISTRY IPM_MIRRORS
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else not_ok "$desc"; fi; }

head_commit=$(git -C "$top" rev-parse HEAD)

check "ipm install --yes attention succeeds" "$IPM" install --yes attention
for f in include/attention.h lib/libattention.a lib/pkgconfig/attention.pc share/man/man3/attention.3 share/man/man7/attention.7; do
	check "installed $f" test -e "$IPM_PREFIX/$f"
done
check "shared library with a soname" sh -c 'ls "$1"/lib/libattention.so.* >/dev/null' sh "$IPM_PREFIX"

"$IPM" list --json >"$work/list.json" 2>"$work/list.err"
check "list --json names attention" grep -q '"attention"' "$work/list.json"
check "list records the exact commit installed" grep -q "$head_commit" "$work/list.json"

PKG_CONFIG_PATH=$IPM_PREFIX/lib/pkgconfig
export PKG_CONFIG_PATH
if cc -o "$work/article" "$top/examples/article.c" $(pkg-config --cflags --libs attention) 2>"$work/cc.err"; then
	ok "example compiles against the installed library via pkg-config"
else
	not_ok "example compiles against the installed library via pkg-config"
	sed 's/^/# /' "$work/cc.err"
fi
# no rpath of our own and no LD_LIBRARY_PATH: the installed attention.pc
# gives the rpath
env -u LD_LIBRARY_PATH "$work/article" >"$work/article.out" 2>&1
# The registry entry's version is the library's own version.
lib_version=$(pkg-config --modversion attention)
check "the entry's version ($lib_version) is the library's" grep -q "\"version\":[[:space:]]*\"$lib_version\"" "$work/list.json"
check "prints cosine similarity -0.39" grep -qx 'cosine similarity: -0.39' "$work/article.out"
check "prints dot product -0.41" grep -qx 'dot product: -0.41' "$work/article.out"

# Grouped-query decoding through the installed shared library: right
# against a double loop, the same bits from four threads at once and from a
# forked child, worker threads started once (not per call) and joined by
# attn_release_threads.
if cc -o "$work/gqa" "$top/examples/gqa_decode.c" $(pkg-config --cflags --libs attention) -pthread -lm 2>"$work/cc2.err"; then
	ok "gqa example compiles against the installed library"
else
	not_ok "gqa example compiles against the installed library"
	sed 's/^/# /' "$work/cc2.err"
fi
env -u LD_LIBRARY_PATH "$work/gqa" >"$work/gqa.out" 2>&1
check "gqa decode matches the double-precision loop" grep -qx 'gqa 8:1 decode: max error below 1e-5' "$work/gqa.out"
check "concurrent calls give the same results" grep -qx '400 calls from 4 threads: same results' "$work/gqa.out"
check "calls start no new threads" grep -qx 'threads after them: unchanged' "$work/gqa.out"
check "a forked child gets the same results" grep -qx 'forked child: same results' "$work/gqa.out"
check "attn_release_threads leaves one thread" grep -qx 'threads after attn_release_threads: 1' "$work/gqa.out"

check "a second install is a no-op" "$IPM" install --yes attention
check "ipm remove --yes attention succeeds" "$IPM" remove --yes attention
left=$(find "$IPM_PREFIX" ! -type d 2>/dev/null | wc -l)
check "remove leaves no file in the prefix" test "$left" -eq 0
check "remove keeps the store tree, for rollback" sh -c 'ls -d "$1"/store/attention/* >/dev/null 2>&1' sh "$IPM_HOME"
check "ipm clean --keep 1 succeeds" "$IPM" clean --keep 1
check "and empties the store" sh -c '! ls "$1"/store/attention/* >/dev/null 2>&1' sh "$IPM_HOME"
"$IPM" list --json >"$work/list2.json" 2>/dev/null
check "list no longer shows attention" sh -c '! grep -q "\"attention\"" "$1"' sh "$work/list2.json"
echo "1..$n"
