#!/bin/sh
# ipm's speed targets (issue 2), measured on this machine and printed as tables:
#   - list / info / search on a 100,000-entry registry and 10,000 installed
#     packages: median ms, against the same queries run by the sqlite3 tool;
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
median_of() { # label runs cmd...: prints "label median min max"
	_l=$1 _r=$2; shift 2
	"$T" "$_r" "$_l" -- "$@"
}
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
median_of "update, unchanged HTTP registry, ms" "$RUNS" "$IPM" -q update
reqs=$(wc -l <"$work/httpd.log")
n304=$(grep -c ' 304' "$work/httpd.log" || true)
echo "  requests during those $RUNS updates: $reqs ($n304 answered 304)"
echo

# ---- queries: ipm against the sqlite3 tool on the same database ----
"$BUILD/bench/ipm_populate" "$IPM_HOME/ipm.db" "$N_INSTALLED"
db=$IPM_HOME/ipm.db
pkg=installed-05000
word=json
q_list="SELECT name, version, registry, source, resolved, method, store_dir, prefix, explicit, installed_at FROM packages ORDER BY name"
q_info="SELECT registry, json, repo FROM entries WHERE name = '$pkg';
SELECT name, version, registry, source, resolved, method, store_dir, prefix, explicit, installed_at FROM packages WHERE name = '$pkg';
SELECT path, type, sha256 FROM files WHERE package = '$pkg' ORDER BY path;
SELECT depends_on FROM deps WHERE package = '$pkg';
SELECT d.package FROM deps d JOIN packages p ON p.name = d.package WHERE d.depends_on = '$pkg'"
q_search="SELECT e.name, e.registry, e.description FROM (SELECT rowid, bm25(entries_fts, 10.0, 5.0, 1.0, 3.0) AS s FROM entries_fts WHERE entries_fts MATCH '\"$word\"*' ORDER BY s LIMIT 20) f JOIN entries e ON e.id = f.rowid ORDER BY f.s"
echo "queries ($N_INSTALLED installed, $N_ENTRIES registry entries), ms      ipm   sqlite3     ratio"
for what in list info search; do
	case $what in
	list) set -- "$IPM" list; q=$q_list ;;
	info) set -- "$IPM" info "$pkg"; q=$q_info ;;
	search) set -- "$IPM" search "$word"; q=$q_search ;;
	esac
	a=$("$T" "$RUNS" "$what" -- "$@" | awk '{ print $2 }')
	b=$("$T" "$RUNS" "sqlite3" -- sqlite3 "$db" "$q" | awk '{ print $2 }')
	printf '  %-58s %8s %9s %9s\n' "ipm $what" "$a" "$b" "$(ratio "$a" "$b")"
done
# the floor under those ratios: starting each program, with nothing to do
a=$("$T" "$RUNS" x -- "$IPM" --version | awk '{ print $2 }')
b=$("$T" "$RUNS" x -- sqlite3 -version | awk '{ print $2 }')
printf '  %-58s %8s %9s %9s\n' "start-up alone (ipm --version, sqlite3 -version)" "$a" "$b" "$(ratio "$a" "$b")"
# typo-tolerant lookups score every name of the registry (no sqlite3 twin)
a=$("$T" "$RUNS" x -- "$IPM" search jsno | awk '{ print $2 }')
printf '  %-58s %8s %9s\n' "ipm search jsno (typo: every name scored)" "$a" "-"
a=$("$T" "$RUNS" x -- sh -c '"$0" info unknwon 2>/dev/null; [ $? = 1 ]' "$IPM" | awk '{ print $2 }')
printf '  %-58s %8s %9s\n' "ipm info unknwon (did you mean; through sh)" "$a" "-"
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
a=$("$T" "$RUNS" x -- sh "$work/install-cold.sh" | awk '{ print $2 }')
b=$("$T" "$RUNS" x -- sh "$work/by-hand.sh" | awk '{ print $2 }')
echo "install of a local git package, trivial recipe, ms                 ipm   by hand     ratio"
printf '  %-58s %8s %9s %9s\n' "cold (new home and cache: clone, build, link, record)" "$a" "$b" "$(ratio "$a" "$b")"
IPM_REGISTRY=$work/emptyreg "$IPM" -q install --yes "$work/hello.json"
IPM_REGISTRY=$work/emptyreg "$IPM" -q remove --yes hello
c=$(IPM_REGISTRY=$work/emptyreg "$T" "$RUNS" x -- sh "$work/install-warm.sh" | awk '{ print $2 }')
printf '  %-58s %8s %9s %9s\n' "warm (cached mirror) install + remove" "$c" "$b" "$(ratio "$c" "$b")"
