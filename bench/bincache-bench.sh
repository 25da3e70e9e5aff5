#!/bin/sh
# Binary caches (issue 13): installing a package with a dependency (default
# jq, which needs oniguruma) from a warm binary cache on 127.0.0.1 (nginx
# with WebDAV PUT, as a team would run it) against building it from source,
# in the same run. Runs are interleaved (build, cache, cache, build, ...),
# each in a fresh IPM_HOME with the same prefix path; the build runs keep
# the git mirrors warm (only building is measured), the cache runs start
# with an empty IPM_CACHE (the archives come over HTTP). Prints medians and
# the ratio; the issue's target is 10x.
#
# The sources are the bundled registry's upstreams: to run offline, point
# IPM_MIRRORS at local mirrors, e.g.
#     IPM_MIRRORS="https://github.com/=file:///srv/mirrors/" make bench-bincache
# RUNS (default 3) runs of each; PKG (default jq) the package.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
IPM=$BUILD/ipm
RUNS=${RUNS:-3}
PKG=${PKG:-jq}
work=$(mktemp -d "${TMPDIR:-/tmp}/ipm-bincache-bench.XXXXXX")
nginx_pid=""
trap '[ -n "$nginx_pid" ] && kill $nginx_pid 2>/dev/null; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export IPM_PREFIX=$work/prefix IPM_CONFIG=$work/config.json HOME=$work LANG=C
unset IPM_REGISTRY IPM_BINARY_CACHE IPM_BINARY_CACHE_KEY

ms() { date +%s%3N; }
fail() { echo "bench-bincache: $*" >&2; exit 1; }
# installed: the names installed in $IPM_HOME
installed() { "$IPM" list --json | python3 -c 'import json, sys; print(" ".join(p["name"] for p in json.load(sys.stdin)))'; }
# clean: removes everything installed in $IPM_HOME, and the prefix
clean() {
	names=$(installed)
	[ -z "$names" ] || "$IPM" -q remove -y --force $names >/dev/null
	rm -rf "$IPM_PREFIX"
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$top/scripts/nginx-dav" "$work/www" "$work/nginx" "$port" 2>"$work/nginx.err" &
nginx_pid=$!
i=0
until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "nginx did not start: $(cat "$work/nginx.err")"
	sleep 0.05
done
url=http://127.0.0.1:$port/cache
mkdir -p "$work/keys"
key=$("$IPM" registry keygen --dir "$work/keys" 2>/dev/null)

echo "ipm binary cache: '$PKG' with its dependencies, built vs. from a binary cache on 127.0.0.1 (nginx)"
echo "$(nproc) cores ($(uname -m)); $RUNS interleaved runs of each"
echo

# the seed: one build, pushed (fills the cache and the git mirrors)
export IPM_HOME=$work/seed IPM_CACHE=$work/src-cache
t0=$(ms)
"$IPM" -q install -y "$PKG" >"$work/seed.log" 2>&1 || { cat "$work/seed.log" >&2; fail "the first build of '$PKG' failed"; }
t1=$(ms)
names=$(installed)
"$IPM" -q cache push $names --to "$url" --key "$work/keys/registry.key" >/dev/null
bytes=$(cat "$work/www/cache/"*.tar.zst | wc -c)
echo "first build (sources fetched too): $(( (t1 - t0) / 1000 )) s; pushed: $names ($((bytes / 1024)) KiB of archives)"
clean

build_run() { # N: fresh home, warm git mirrors, no binary cache
	export IPM_HOME=$work/build-$1 IPM_CACHE=$work/src-cache
	rm -rf "$IPM_CACHE/binary"
	t0=$(ms)
	"$IPM" -q install -y "$PKG" >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "build run $1 failed"; }
	t1=$(ms)
	ls "$IPM_CACHE"/logs/*.log >/dev/null 2>&1 || fail "build run $1 built nothing"
	"$IPM_PREFIX/bin/$PKG" --version >/dev/null 2>&1 || fail "build run $1: '$PKG --version' failed"
	echo $((t1 - t0)) >>"$work/build.ms"
	clean
}
cache_run() { # N: fresh home and cache, the binary cache on 127.0.0.1
	export IPM_HOME=$work/cache-$1 IPM_CACHE=$work/cache-cache-$1
	t0=$(ms)
	IPM_BINARY_CACHE=$url IPM_BINARY_CACHE_KEY=$key "$IPM" -q install -y "$PKG" >"$work/run.log" 2>&1 ||
		{ cat "$work/run.log" >&2; fail "cache run $1 failed"; }
	t1=$(ms)
	! ls "$IPM_CACHE"/logs/*.log >/dev/null 2>&1 || fail "cache run $1 built something"
	"$IPM_PREFIX/bin/$PKG" --version >/dev/null 2>&1 || fail "cache run $1: '$PKG --version' failed"
	echo $((t1 - t0)) >>"$work/cache.ms"
	clean
}
: >"$work/build.ms"
: >"$work/cache.ms"
r=1
while [ $r -le "$RUNS" ]; do
	if [ $((r % 2)) -eq 1 ]; then build_run $r; cache_run $r; else cache_run $r; build_run $r; fi
	r=$((r + 1))
done

stats() { # FILE: median min max (ms)
	sort -n "$1" | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%d %d %d", m, v[1], v[NR] }'
}
set -- $(stats "$work/build.ms")
b_med=$1 b_min=$2 b_max=$3
set -- $(stats "$work/cache.ms")
c_med=$1 c_min=$2 c_max=$3
printf '\n%-44s %10s %10s %10s\n' "install of '$PKG' ($(echo $names | wc -w) packages), ms" median min max
printf '%-44s %10s %10s %10s\n' "built from source" "$b_med" "$b_min" "$b_max"
printf '%-44s %10s %10s %10s\n' "from the binary cache (HTTP, 127.0.0.1)" "$c_med" "$c_min" "$c_max"
printf '%-44s %10s\n' "ratio (built / from the cache; target >= 10)" "$(awk -v a="$b_med" -v b="$c_med" 'BEGIN { printf "%.1f", a / b }')"
