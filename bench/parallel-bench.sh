#!/bin/sh
# Plans run in parallel (issue 12, section 3), two measures, each from
# interleaved runs (A, B, A, B, ...), medians and their ratio:
#
#  1. a plan of 3 independent packages whose builds each take about 2 s of
#     one core (a CPU-bound awk loop) against the sum of their 3 single
#     installs; the target is 0.6x on a 2-core machine;
#  2. the first fetch of a local mirror (a file:// URL) against git clone
#     of the same mirror: ipm's fetch is a cold install (empty cache) minus
#     a warm one (mirror cached), so that the checkout, the build and the
#     links do not count; the target is 1.3x. git clone of a file:// URL
#     packs the objects; of a plain path it hard-links them: both shown.
#
#  3. (FIVE=1, with BENCH_MIRRORS) the issue's 5-package plan against its
#     longest single install; the target is 1.5x. It also prints the CPU
#     work (busy core time from /proc/stat) of the plan and of the single
#     installs, and the floor that work sets on this many cores: when the
#     single installs already keep every core busy, no plan can beat it.
#
# RUNS (default 5) runs of each; MIRROR (default: this repository's own
# git directory) the repository fetched.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
IPM=$BUILD/ipm
RUNS=${RUNS:-5}
MIRROR=${MIRROR:-$(cd "$top" && cd "$(git rev-parse --git-common-dir)" && pwd)}
work=$(mktemp -d "${TMPDIR:-/tmp}/ipm-parallel-bench.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export IPM_PREFIX=$work/prefix IPM_CONFIG=$work/config.json HOME=$work LANG=C
export IPM_REGISTRY=$work/reg GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
unset IPM_BINARY_CACHE IPM_MIRRORS IPM_JOBS

ms() { date +%s%3N; }
fail() { echo "bench-parallel: $*" >&2; exit 1; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# busy CPU time of the whole machine so far, in ms (all cores, from
# /proc/stat: everything but idle and iowait); the difference across a run
# is the CPU work it did, plus whatever else ran meanwhile
busy_ms() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { print int(($2 + $3 + $4 + $7 + $8 + $9) * 1000 / hz); exit }' /proc/stat; }

mkdir -p "$work/reg/packages"
printf '{ "name": "bench", "description": "the parallel bench" }\n' >"$work/reg/registry.json"

# ---- 1. three CPU-bound builds ----
# awk iterations for about 2 s of one core, measured here
t0=$(ms)
awk 'BEGIN { for (i = 0; i < 3000000; i++) s += i * 2 }'
t1=$(ms)
n=$(( 3000000 * 2000 / ( (t1 - t0) > 0 ? (t1 - t0) : 1 ) ))
for p in p1 p2 p3; do
	mkdir -p "$work/src/$p"
	printf 'all:\n\tawk "BEGIN { for (i = 0; i < %s; i++) s += i * 2 }"\ninstall:\n\tmkdir -p "$(DESTDIR)$(IPM_PREFIX)/share/%s"\n\techo %s >"$(DESTDIR)$(IPM_PREFIX)/share/%s/done"\n' \
		"$n" "$p" "$p" "$p" >"$work/src/$p/Makefile"
	c=$(cd "$work/src/$p" && git init -q && git add -A && git commit -q -m "$p" && git rev-parse HEAD)
	cat >"$work/reg/packages/$p.json" <<EOT
{ "name": "$p", "description": "2 s of one core",
  "versions": [ { "version": "1.0", "git": "file://$work/src/$p", "commit": "$c" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOT
done

export IPM_CACHE=$work/cache
fresh() { # a new home; the git mirrors stay, built binaries go
	export IPM_HOME=$work/home-$1
	rm -rf "$IPM_CACHE/binary" "$IPM_PREFIX"
}
"$IPM" -q install -y p1 p2 p3 >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "the first install failed"; }   # warms the mirrors
echo "ipm parallel builds: 3 independent packages, each build about 2 s of one core ($n awk iterations)"
echo "$(nproc) cores; $RUNS interleaved runs of each"
: >"$work/plan.ms"
: >"$work/single.ms"
for r in $(seq "$RUNS"); do
	fresh "plan-$r"
	t0=$(ms)
	"$IPM" -q install -y p1 p2 p3 >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "plan run $r failed"; }
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/plan.ms"
	fresh "single-$r"
	t0=$(ms)
	for p in p1 p2 p3; do
		"$IPM" -q install -y "$p" >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "single run $r failed"; }
	done
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/single.ms"
done
a=$(median "$work/plan.ms")
b=$(median "$work/single.ms")
printf '%-44s %8s ms   (runs: %s)\n' "one plan of the 3" "$a" "$(tr '\n' ' ' <"$work/plan.ms")"
printf '%-44s %8s ms   (runs: %s)\n' "3 single installs, one after the other" "$b" "$(tr '\n' ' ' <"$work/single.ms")"
printf '%-44s %8s      (target <= 0.60)\n' "ratio" "$(ratio "$a" "$b")"
echo

# ---- 2. a local mirror ----
c=$(git -C "$MIRROR" rev-parse HEAD)
cat >"$work/reg/packages/mirrored.json" <<EOT
{ "name": "mirrored", "description": "fetched from a local mirror",
  "versions": [ { "version": "1.0", "git": "file://$MIRROR", "commit": "$c" } ],
  "methods": [ { "build": ["true"], "install": ["mkdir -p \"\$DESTDIR\$IPM_PREFIX/share/mirrored\"", "touch \"\$DESTDIR\$IPM_PREFIX/share/mirrored/done\""] } ] }
EOT
echo "ipm fetch of a local mirror: $MIRROR ($(du -sh "$MIRROR" | cut -f1)), against git clone --bare"
: >"$work/cold.ms"
: >"$work/warm.ms"
: >"$work/gitfile.ms"
: >"$work/gitpath.ms"
for r in $(seq "$RUNS"); do
	export IPM_CACHE=$work/mcache-$r
	fresh "cold-$r"
	t0=$(ms)
	"$IPM" -q install -y mirrored >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "cold run $r failed"; }
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/cold.ms"
	fresh "warm-$r"
	t0=$(ms)
	"$IPM" -q install -y mirrored >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "warm run $r failed"; }
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/warm.ms"
	rm -rf "$IPM_CACHE"
	t0=$(ms)
	git clone -q --bare "file://$MIRROR" "$work/clone-file-$r.git"
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/gitfile.ms"
	t0=$(ms)
	git clone -q --bare "$MIRROR" "$work/clone-path-$r.git"
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/gitpath.ms"
	rm -rf "$work/clone-file-$r.git" "$work/clone-path-$r.git"
done
cold=$(median "$work/cold.ms")
warm=$(median "$work/warm.ms")
gf=$(median "$work/gitfile.ms")
gp=$(median "$work/gitpath.ms")
fetch=$((cold - warm))
printf '%-44s %8s ms\n' "ipm install, empty cache" "$cold"
printf '%-44s %8s ms\n' "ipm install, mirror cached" "$warm"
printf '%-44s %8s ms\n' "ipm's fetch (the difference)" "$fetch"
printf '%-44s %8s ms   ratio %s (target <= 1.30)\n' "git clone --bare file://MIRROR" "$gf" "$(ratio "$fetch" "$gf")"
printf '%-44s %8s ms   ratio %s\n' "git clone --bare MIRROR (hard links)" "$gp" "$(ratio "$fetch" "$gp")"

# ---- 3. the issue's 5-package plan (optional) ----
# FIVE=1 with IPM_MIRRORS pointing at local mirrors of the bundled
# registry's upstreams (e.g. https://github.com/=file:///srv/mirrors/):
# cjson, zlib, lz4, inih and libyaml in one plan against the longest of
# their single installs (the target is 1.5x), interleaved.
[ "${FIVE:-0}" = 1 ] || exit 0
[ -n "${BENCH_MIRRORS:-}" ] || fail "FIVE=1 needs BENCH_MIRRORS (the mirror rule for the bundled registry)"
export IPM_MIRRORS=$BENCH_MIRRORS IPM_CACHE=$work/five-cache
unset IPM_REGISTRY
five="cjson zlib lz4 inih libyaml"
echo
echo "the 5-package plan ($five) against its longest single install; $RUNS interleaved runs"
fresh five-warm
"$IPM" -q install -y $five >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "the first 5-package install failed"; }
: >"$work/five.ms"
: >"$work/longest.ms"
for r in $(seq "$RUNS"); do
	fresh "five-$r"
	c0=$(busy_ms)
	t0=$(ms)
	"$IPM" -q install -y $five >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "5-package run $r failed"; }
	t1=$(ms)
	c1=$(busy_ms)
	echo $((t1 - t0)) >>"$work/five.ms"
	echo $((c1 - c0)) >>"$work/five-cpu.ms"
	longest=0
	cpu=0
	for p in $five; do
		fresh "five-$r-$p"
		c0=$(busy_ms)
		t0=$(ms)
		"$IPM" -q install -y "$p" >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "single $p run $r failed"; }
		t1=$(ms)
		c1=$(busy_ms)
		[ $((t1 - t0)) -gt "$longest" ] && longest=$((t1 - t0))
		cpu=$((cpu + c1 - c0))
	done
	echo "$longest" >>"$work/longest.ms"
	echo "$cpu" >>"$work/singles-cpu.ms"
done
a=$(median "$work/five.ms")
b=$(median "$work/longest.ms")
pc=$(median "$work/five-cpu.ms")
sc=$(median "$work/singles-cpu.ms")
cores=$(nproc)
# No schedule can finish the plan faster than its CPU work spread over every
# core: that floor, set against the longest single install, is the best ratio
# this machine allows for these recipes.
floor=$((sc / cores))
printf '%-44s %8s ms   (runs: %s)\n' "one plan of the 5" "$a" "$(tr '\n' ' ' <"$work/five.ms")"
printf '%-44s %8s ms   (runs: %s)\n' "the longest single install" "$b" "$(tr '\n' ' ' <"$work/longest.ms")"
printf '%-44s %8s      (target <= 1.50)\n' "ratio" "$(ratio "$a" "$b")"
printf '%-44s %8s ms\n' "CPU work of the 5 single installs" "$sc"
printf '%-44s %8s ms\n' "CPU work of the plan" "$pc"
printf '%-44s %8s ms   (CPU work of the single installs / %s cores)\n' "floor: no schedule finishes sooner" "$floor" "$cores"
printf '%-44s %8s      (the best ratio these recipes allow here)\n' "floor / the longest single install" "$(ratio "$floor" "$b")"
printf '%-44s %8s\n' "the plan / its floor" "$(ratio "$a" "$floor")"
