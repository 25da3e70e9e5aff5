#!/bin/sh
# Rollback vs remove (issue 9): `ipm rollback` of a 10-package plan against
# `ipm remove` of the same 10 packages, each run on the same installed state,
# interleaved round by round (the order alternating), with medians and the
# ratio; the target is rollback within 2x of remove. Also timed: the
# rollback that brings the 10 back (relinks the kept store trees, no
# rebuild), against their install (which builds).
#   RUNS (default 11) rounds; NPKG (default 10) packages of NFILES (20) files.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
IPM=$BUILD/ipm
T=$BUILD/bench/ipm_timeit
RUNS=${RUNS:-11}
NPKG=${NPKG:-10}
NFILES=${NFILES:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/ipm-rollback-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export IPM_HOME=$work/home IPM_PREFIX=$work/prefix IPM_CACHE=$work/cache IPM_CONFIG=$work/config.json
export HOME=$work LANG=C IPM_REGISTRY=$work/registry
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
unset IPM_MIRRORS

mkdir -p "$work/registry/packages"
echo '{ "name": "bench", "description": "rollback bench" }' >"$work/registry/registry.json"
names=""
i=1
while [ $i -le "$NPKG" ]; do
	n=$(printf 'p%02d' $i)
	names="$names $n"
	d=$work/src/$n
	mkdir -p "$d"
	{
		printf 'install:\n\tmkdir -p "$(DESTDIR)$(IPM_PREFIX)/bin" "$(DESTDIR)$(IPM_PREFIX)/share/%s"\n' "$n"
		printf '\tprintf "#!/bin/sh\\necho %s\\n" > "$(DESTDIR)$(IPM_PREFIX)/bin/%s"\n' "$n" "$n"
		printf '\tchmod 755 "$(DESTDIR)$(IPM_PREFIX)/bin/%s"\n' "$n"
		printf '\tfor f in $$(seq %s); do echo $$f > "$(DESTDIR)$(IPM_PREFIX)/share/%s/f$$f"; done\n' "$NFILES" "$n"
	} >"$d/Makefile"
	c=$(cd "$d" && git init -q && git add -A && git commit -q -m "$n" && git rev-parse HEAD)
	cat >"$work/registry/packages/$n.json" <<EOF
{ "name": "$n", "description": "bench package $n",
  "versions": [ { "version": "1.0", "git": "file://$d", "commit": "$c" } ],
  "methods": [ { "install": ["make install"] } ] }
EOF
	i=$((i + 1))
done

one() { # prints the wall ms of one run of the command (no warm-up runs: each changes the state)
	WARMUP=0 "$T" 1 x -- "$@" | awk '{ print $2 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
minmax() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s %s", lo, hi }'; }
row() { printf '%-52s %9s %9s %9s\n' "$@"; }

# shellcheck disable=SC2086 # names is a list
install_ms=$(one "$IPM" -q install -y $names)
: >"$work/rollback" ; : >"$work/remove" ; : >"$work/relink"
r=1
while [ $r -le "$RUNS" ]; do
	# 10 installed; each timed command removes them, a rollback (timed
	# too) brings them back
	if [ $((r % 2)) -eq 1 ]; then
		one "$IPM" -q rollback -y >>"$work/rollback"
		one "$IPM" -q rollback -y >>"$work/relink"
		# shellcheck disable=SC2086
		one "$IPM" -q remove -y $names >>"$work/remove"
		one "$IPM" -q rollback -y >>"$work/relink"
	else
		# shellcheck disable=SC2086
		one "$IPM" -q remove -y $names >>"$work/remove"
		one "$IPM" -q rollback -y >>"$work/relink"
		one "$IPM" -q rollback -y >>"$work/rollback"
		one "$IPM" -q rollback -y >>"$work/relink"
	fi
	r=$((r + 1))
done
"$IPM" -q list | awk 'NR > 1' | wc -l | grep -qx "$NPKG" || { echo "bench: the packages are not installed at the end" >&2; exit 1; }

rb=$(median <"$work/rollback")
rm_=$(median <"$work/remove")
rl=$(median <"$work/relink")
echo "rollback vs remove of $NPKG packages ($NFILES files each) on $(nproc) cores; $RUNS interleaved rounds"
echo
row "command" "median ms" "min" "max"
# shellcheck disable=SC2046
row "ipm rollback (undo the install of $NPKG)" "$rb" $(minmax <"$work/rollback")
# shellcheck disable=SC2046
row "ipm remove of the same $NPKG" "$rm_" $(minmax <"$work/remove")
# shellcheck disable=SC2046
row "ipm rollback (bring the $NPKG back, no rebuild)" "$rl" $(minmax <"$work/relink")
row "ipm install of the $NPKG (builds; once)" "$install_ms" "" ""
echo
awk -v a="$rb" -v b="$rm_" 'BEGIN { printf "rollback / remove: %.2f (target: at most 2.00)\n", a / b }'
awk -v a="$rl" -v b="$install_ms" 'BEGIN { printf "rollback that relinks / install that builds: %.2f\n", a / b }'
