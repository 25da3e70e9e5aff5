#!/bin/sh
# ipm's speed targets (issues 2 and 12), measured on this machine and printed as tables:
#   - list / info / search on a 100,000-entry registry and 10,000 installed
#     packages: median ms, against the same queries run by the sqlite3 tool,
#     in alternation, with the median ratio; start-up against a program
#     that links only SQLite and cJSON, and what each command loads;
#   - update of an unchanged HTTP registry (one conditional request) and the
#     import of the 100,000-entry index;
#   - install of a local git package with a trivial recipe against
#     `git clone` plus the same recipe by hand.
# Medians of RUNS runs (default 21); the machine's noise shows in min/max.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
IPM=$BUILD/ipm
T=$BUILD/bench/ipm_timeit
RUNS=${RUNS:-21}
N_ENTRIES=${N_ENTRIES:-100000}
N_INSTALLED=${N_INSTALLED:-10000}
work=$(mktemp -d "${TMPDIR:-/tmp}/ipm-bench.XXXXXX")
httpd_pid=""
trap '[ -n "$httpd_pid" ] && kill $httpd_pid; rm -rf "$work"' EXIT
export IPM_HOME=$work/home IPM_PREFIX=$work/prefix IPM_CACHE=$work/cache IPM_CONFIG=$work/config.json
export HOME=$work LANG=C
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
unset IPM_MIRRORS IPM_REGISTRY

ms() { date +%s%3N; }
row() { printf '%-44s %9s %9s %9s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "ipm benchmarks on $(nproc) cores ($(uname -m)); medians of $RUNS runs"
echo

# ---- registry: import and unchanged update over HTTP ----
mkdir -p "$work/www"
"$top/bench/ipm_gen_registry.sh" "$N_ENTRIES" "$work/www/index.json"
"$BUILD/tools/httpd" "$work/www" "$work/port" "$work/httpd.log" &
httpd_pid=$!
while [ ! -s "$work/port" ]; do sleep 0.05; done
port=$(cat "$work/port")
"$IPM" registry add --insecure synthetic "http://127.0.0.1:$port/index.json" >/dev/null 2>&1
t0=$(ms)
"$IPM" -q update >/dev/null 2>&1
t1=$(ms)
import_ms=$((t1 - t0))
size=$(wc -c <"$work/www/index.json")
: >"$work/httpd.log"
row "registry" "median" "min" "max"
row "import of $N_ENTRIES entries ($((size / 1048576)) MiB), ms" "$import_ms" "" ""
WARMUP=0 "$T" "$RUNS" "update, unchanged HTTP registry, ms" -- "$IPM" -q update
reqs=$(wc -l <"$work/httpd.log")
n304=$(grep -c ' 304' "$work/httpd.log" || true)
echo "  requests during those $RUNS updates: $reqs ($n304 answered 304)"
echo

# ---- queries: ipm against the sqlite3 tool on the same database ----
# The sqlite3 tool runs exactly the statements ipm ran (the SQL of src/db.c,
# with ipm's parameters written in, its PRAGMAs and checks included): ipm
# runs once under ipm_sqltrace.so, which writes them down. ipm and sqlite3
# run in alternation (ipm_timeit --vs); ratio is the median of the ratios
# of runs taken side by side.
"$BUILD/bench/ipm_populate" "$IPM_HOME/ipm.db" "$N_INSTALLED"
db=$IPM_HOME/ipm.db
pkg=installed-05000
word=json
sql_of() { # FILE COMMAND...: the SQL COMMAND runs, into FILE
	_f=$1; shift
	"$@" >/dev/null 2>&1 # settle anything a first run does (re-importing a local registry)
	rm -f "$_f"
	IPM_SQLTRACE=$_f LD_PRELOAD=$BUILD/bench/ipm_sqltrace.so "$@" >/dev/null 2>&1
	if [ ! -s "$_f" ] || grep -qiE '^(INSERT|UPDATE|DELETE|BEGIN)' "$_f"; then
		echo "ipm-bench: '$*' did not run read-only SQL: $_f" >&2
		exit 1
	fi
}
echo "queries ($N_INSTALLED installed, $N_ENTRIES registry entries), ms      ipm   sqlite3     ratio"
for what in list info search; do
	case $what in
	list) set -- "$IPM" list; label="ipm list" ;;
	info) set -- "$IPM" info "$pkg"; label="ipm info $pkg" ;;
	search) set -- "$IPM" search "$word"; label="ipm search $word" ;;
	esac
	sql_of "$work/$what.sql" "$@"
	"$T" "$RUNS" "$what" -- "$@" --vs sqlite3 "$db" ".read $work/$what.sql" |
		awk -v l="$label" '{ printf "  %-58s %8s %9s %9s\n", l, $2, $3, $4 }'
done
# the floor under those ratios: starting a program that links SQLite and
# cJSON and does nothing (the target: ipm --version within 1.5x of it)
"$T" "$RUNS" x -- "$IPM" --version --vs "$BUILD/bench/ipm_floor" |
	awk '{ printf "  %-58s %8s %9s %9s\n", "start-up (ipm --version, ipm_floor: SQLite + cJSON)", $2, $3, $4 }'
"$T" "$RUNS" x -- "$IPM" --version --vs sqlite3 -version |
	awk '{ printf "  %-58s %8s %9s %9s\n", "start-up (ipm --version, sqlite3 -version)", $2, $3, $4 }'
# typo-tolerant lookups score every name of the registry (no sqlite3 twin)
a=$("$T" "$RUNS" x -- "$IPM" search jsno | awk '{ print $2 }')
printf '  %-58s %8s %9s\n' "ipm search jsno (typo: every name scored)" "$a" "-"
a=$("$T" "$RUNS" x -- sh -c '"$0" info unknwon 2>/dev/null; [ $? = 1 ]' "$IPM" | awk '{ print $2 }')
printf '  %-58s %8s %9s\n' "ipm info unknwon (did you mean; through sh)" "$a" "-"
echo

# ---- what starting a command costs: shared objects and relocations ----
# (the dynamic linker's own count, LD_DEBUG=statistics; the commands that
# only read must not load libcurl, libgit2 or libarchive)
loads() { # COMMAND...: "objects relocations"
	_objs=$(LD_DEBUG=libs "$@" 2>&1 >/dev/null | grep -c 'calling init:')
	_rel=$(LD_DEBUG=statistics "$@" 2>&1 >/dev/null |
		awk '/final number of relocations:/ { n = $NF } END { print n + 0 }')
	echo "$_objs $_rel"
}
echo "start-up, as the dynamic linker counts it          shared objects  relocations"
for c in "--version" "list" "info $pkg" "search $word"; do
	# shellcheck disable=SC2086 # c is words
	set -- $(loads "$IPM" $c)
	printf '  %-52s %12s %12s\n' "ipm $c" "$1" "$2"
done
set -- $(loads "$BUILD/bench/ipm_floor")
printf '  %-52s %12s %12s\n' "ipm_floor (SQLite + cJSON)" "$1" "$2"
echo

# ---- install: ipm against git clone + the recipe by hand ----
pkgsrc=$work/src/hello
mkdir -p "$pkgsrc"
printf '#!/bin/sh\necho hello\n' >"$pkgsrc/hello"
printf 'install:\n\tmkdir -p "$(DESTDIR)$(PREFIX)/bin"\n\tcp hello "$(DESTDIR)$(PREFIX)/bin/hello"\n' >"$pkgsrc/Makefile"
git -C "$pkgsrc" init -q && git -C "$pkgsrc" add . && git -C "$pkgsrc" commit -qm hello
commit=$(git -C "$pkgsrc" rev-parse HEAD)
cat >"$work/hello.json" <<JSON
{ "name": "hello", "description": "a trivial package",
  "versions": [ { "version": "1.0", "git": "$pkgsrc", "commit": "$commit" } ],
  "methods": [ { "name": "make", "install": [ "make install PREFIX=\"\$IPM_PREFIX\"" ] } ] }
JSON
cat >"$work/install-cold.sh" <<SH
#!/bin/sh
set -e
d=\$(mktemp -d "$work/cold.XXXXXX")
IPM_HOME=\$d/home IPM_PREFIX=\$d/prefix IPM_CACHE=\$d/cache IPM_CONFIG=\$d/config.json \
    IPM_REGISTRY=$work/emptyreg "$IPM" -q install --yes "$work/hello.json" >/dev/null
rm -rf "\$d"
SH
cat >"$work/install-warm.sh" <<SH
#!/bin/sh
set -e
"$IPM" -q install --yes "$work/hello.json"
"$IPM" -q remove --yes hello
SH
cat >"$work/by-hand.sh" <<SH
#!/bin/sh
set -e
d=\$(mktemp -d "$work/hand.XXXXXX")
git clone -q "$pkgsrc" "\$d/src"
git -C "\$d/src" checkout -q "$commit"
(cd "\$d/src" && make install PREFIX="\$d/prefix" >/dev/null)
rm -rf "\$d"
SH
mkdir -p "$work/emptyreg/packages"
echo '{ "name": "empty", "description": "no packages" }' >"$work/emptyreg/registry.json"
echo "install of a local git package, trivial recipe, ms                 ipm   by hand     ratio"
"$T" "$RUNS" x -- sh "$work/install-cold.sh" --vs sh "$work/by-hand.sh" |
	awk '{ printf "  %-58s %8s %9s %9s\n", "cold (new home and cache: clone, build, link, record)", $2, $3, $4 }'
IPM_REGISTRY=$work/emptyreg "$IPM" -q install --yes "$work/hello.json"
IPM_REGISTRY=$work/emptyreg "$IPM" -q remove --yes hello
IPM_REGISTRY=$work/emptyreg "$T" "$RUNS" x -- sh "$work/install-warm.sh" --vs sh "$work/by-hand.sh" |
	awk '{ printf "  %-58s %8s %9s %9s\n", "warm (cached mirror) install + remove", $2, $3, $4 }'
