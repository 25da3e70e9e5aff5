#!/bin/sh
# How fast ipm looks at what is installed, against the tools that do the
# bare work on the same files, interleaved run by run (A, B, A, B, ...):
#   - ipm verify of a package of N_FILES files (MIB MiB in all, plus its
#     links and directories) against sha256sum of its store files;
#   - ipm which of one of its files against the sqlite3 tool's query of the
#     files table (the index ipm uses);
#   - ipm files against the same sqlite3 query of its paths;
#   - ipm --version against sqlite3 on an empty database: what starting
#     each program costs, a share of the two rows above.
# Medians, min and max of RUNS runs (default 11) in ms, and the ratio of the
# medians (ipm / the tool).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
IPM=$BUILD/ipm
RUNS=${RUNS:-11}
N_FILES=${N_FILES:-2000}
MIB=${MIB:-64}
work=$(mktemp -d "${TMPDIR:-/tmp}/ipm-verify-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export IPM_HOME=$work/home IPM_PREFIX=$work/prefix IPM_CACHE=$work/cache IPM_CONFIG=$work/config.json
export IPM_REGISTRY=$work/registry HOME=$work LANG=C
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
unset IPM_MIRRORS
command -v sqlite3 >/dev/null || { echo "verify-bench: needs the sqlite3 tool" >&2; exit 1; }

# a package whose recipe writes N_FILES files of MIB MiB in all
mkdir -p "$work/src" "$work/registry/packages"
printf '{ "name": "bench", "description": "verify bench" }\n' >"$work/registry/registry.json"
cat >"$work/src/Makefile" <<EOF
install:
	mkdir -p "\$(DESTDIR)\$(IPM_PREFIX)/share/many"
	i=0; while [ \$\$i -lt $N_FILES ]; do \\
		d="\$(DESTDIR)\$(IPM_PREFIX)/share/many/d\$\$((i % 50))"; mkdir -p "\$\$d"; \\
		head -c $((MIB * 1048576 / N_FILES)) /dev/urandom >"\$\$d/f\$\$i"; i=\$\$((i + 1)); done
EOF
(cd "$work/src" && git init -q && git add -A && git commit -q -m bench)
commit=$(git -C "$work/src" rev-parse HEAD)
cat >"$work/registry/packages/many.json" <<EOF
{ "name": "many", "description": "many files",
  "versions": [ { "version": "1.0", "git": "$work/src", "commit": "$commit" } ],
  "methods": [ { "build": ["true"], "install": ["make install"] } ] }
EOF
"$IPM" -q install -y many
store=$IPM_HOME/store/many/1.0
file=$IPM_PREFIX/share/many/d7/f7
find "$store" -type f | sort >"$work/store-files"

now_ns() { date +%s%N; }
# run_ms CMD...: the command's wall time in ms (its output discarded)
run_ms() {
	_t0=$(now_ns)
	"$@" >/dev/null 2>&1 || true
	_t1=$(now_ns)
	echo $(((_t1 - _t0) / 1000000))
}
# stats FILE: "median min max" of the numbers in FILE
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%d %d %d", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
hash_all() { xargs -d '\n' sha256sum <"$work/store-files"; }
which_sql() { sqlite3 "$IPM_HOME/ipm.db" "SELECT package FROM files WHERE path = 'share/many/d7/f7' LIMIT 1"; }
files_sql() { sqlite3 "$IPM_HOME/ipm.db" "SELECT path FROM files WHERE package = 'many' ORDER BY path"; }

echo "ipm verify, which and files on one package of $N_FILES files ($MIB MiB), $(nproc) cores;"
echo "medians of $RUNS interleaved runs, ms"
printf '%-34s %8s %8s %8s   %-22s %8s %8s\n' "" ipm min max "baseline" median ratio
for what in verify which files start-up; do
	: >"$work/a"
	: >"$work/b"
	i=0
	while [ $i -lt "$RUNS" ]; do
		case $what in
		verify) run_ms "$IPM" verify many >>"$work/a"; run_ms hash_all >>"$work/b" ;;
		which) run_ms "$IPM" which "$file" >>"$work/a"; run_ms which_sql >>"$work/b" ;;
		files) run_ms "$IPM" files many >>"$work/a"; run_ms files_sql >>"$work/b" ;;
		start-up) run_ms "$IPM" --version >>"$work/a"; run_ms sqlite3 :memory: "SELECT 1" >>"$work/b" ;;
		esac
		i=$((i + 1))
	done
	set -- $(stats "$work/a")
	a_med=$1 a_min=$2 a_max=$3
	set -- $(stats "$work/b")
	case $what in
	verify) base="sha256sum of the files" ;;
	start-up) base="sqlite3, empty" ;;
	*) base="sqlite3 of the query" ;;
	esac
	ratio=$(awk -v a="$a_med" -v b="$1" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	[ "$what" = start-up ] && what="--version (start-up)"
	printf '%-34s %8s %8s %8s   %-22s %8s %8s\n' "ipm $what" "$a_med" "$a_min" "$a_max" "$base" "$1" "$ratio"
done
"$IPM" verify many >/dev/null || { echo "verify-bench: the tree did not verify" >&2; exit 1; }
