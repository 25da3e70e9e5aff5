#!/bin/sh
# ipm outdated with N_INSTALLED installed packages (default 10,000) against a
# registry of N_ENTRIES entries (default 100,000, imported over HTTP as in
# bench/ipm-bench.sh), against the same SQL run by the sqlite3 tool on the
# same database: runs interleaved (ipm, sqlite3, ipm, ...), medians, ratio.
# Half the installed packages are outdated (installed at 0.9.0, the entry's
# release is newer), and each depends on the one before with a constraint,
# so the query's dependents' constraints and the version rules are worked.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
IPM=$BUILD/ipm
T=$BUILD/bench/ipm_timeit
RUNS=${RUNS:-21}
N_ENTRIES=${N_ENTRIES:-100000}
N_INSTALLED=${N_INSTALLED:-10000}
work=$(mktemp -d "${TMPDIR:-/tmp}/ipm-outdated-bench.XXXXXX")
httpd_pid=""
trap '[ -n "$httpd_pid" ] && kill $httpd_pid; rm -rf "$work"' EXIT
export IPM_HOME=$work/home IPM_PREFIX=$work/prefix IPM_CACHE=$work/cache IPM_CONFIG=$work/config.json
export HOME=$work LANG=C
unset IPM_MIRRORS IPM_REGISTRY

mkdir -p "$work/www"
"$top/bench/ipm_gen_registry.sh" "$N_ENTRIES" "$work/www/index.json"
"$BUILD/tools/httpd" "$work/www" "$work/port" "$work/httpd.log" &
httpd_pid=$!
while [ ! -s "$work/port" ]; do sleep 0.05; done
"$IPM" registry add --insecure synthetic "http://127.0.0.1:$(cat "$work/port")/index.json" >/dev/null 2>&1
"$IPM" -q update >/dev/null 2>&1

# every (N_ENTRIES / N_INSTALLED)th entry is installed; every other one of
# those at an older version than its registry's
db=$IPM_HOME/ipm.db
sqlite3 "$db" "SELECT name, latest FROM entries WHERE registry = 'synthetic' ORDER BY name" |
	awk -F'|' -v step=$((N_ENTRIES / N_INSTALLED)) -v n="$N_INSTALLED" \
	    'NR % step == 0 && k < n { print $1, (k % 2 ? $2 : "0.9.0"), "synthetic"; k++ }' >"$work/names"
"$BUILD/bench/ipm_populate" "$db" "$N_INSTALLED" "$work/names"

# the query of src/db.c (ST_OUTDATED), as the sqlite3 tool runs it
q="SELECT p.name, p.version, p.registry, p.explicit, pn.version_constraint, e.latest, e.versions,
 CASE WHEN e.versions IS NULL THEN e.json END,
 (SELECT group_concat(d.package || ' ' || d.version_constraint, char(10)) FROM deps d
  WHERE d.depends_on = p.name AND d.version_constraint IS NOT NULL)
 FROM packages p JOIN entries e ON e.name = p.name AND e.registry = p.registry
 LEFT JOIN pins pn ON pn.name = p.name
 WHERE e.latest IS NULL OR e.latest <> p.version ORDER BY p.name"

rows_ipm=$("$IPM" outdated | tail -n +2 | wc -l)
rows_sql=$(sqlite3 "$db" "SELECT count(*) FROM ($q)")
: >"$work/a"
: >"$work/b"
i=0
while [ $i -lt "$RUNS" ]; do
	"$T" 1 x -- "$IPM" outdated | awk '{ print $2 }' >>"$work/a"
	"$T" 1 x -- sqlite3 "$db" "$q" | awk '{ print $2 }' >>"$work/b"
	i=$((i + 1))
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
a=$(median "$work/a")
b=$(median "$work/b")
echo "ipm outdated: $N_INSTALLED installed, $N_ENTRIES registry entries; interleaved runs, medians of $RUNS, ms"
printf '  %-48s %9s %9s %9s\n' "" "ipm" "sqlite3" "ratio"
printf '  %-48s %9s %9s %9s\n' "outdated ($rows_ipm outdated; query rows $rows_sql)" "$a" "$b" \
	"$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
printf '  %-48s %9s %9s\n' "min / max, ipm" "$(sort -n "$work/a" | head -1)" "$(sort -n "$work/a" | tail -1)"
printf '  %-48s %9s %9s\n' "min / max, sqlite3" "$(sort -n "$work/b" | head -1)" "$(sort -n "$work/b" | tail -1)"
echo "  query plan:"
sqlite3 "$db" "EXPLAIN QUERY PLAN $q" | sed 's/^/    /'
