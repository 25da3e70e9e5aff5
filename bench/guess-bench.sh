#!/bin/sh
# The recipe guesser against real repositories: each is installed by ipm
# from a local mirror with a guessed recipe, into a throw-away home and
# prefix, then used (a library: a test program compiled, linked and run
# against it; a program: run with --version or --help), then removed, and
# the prefix must hold no file afterwards. Prints one row per repository.
#
#   bench/guess-bench.sh [OWNER/REPO ...]     (default: every repository below)
#
# Environment: BUILD (the build directory, default build), MIRRORS (a
# directory of bare mirrors OWNER/REPO.git, default /work/mirrors11),
# GUESS_MODE (url: `ipm install OWNER/REPO --trust-guess`; entry: `ipm
# registry new` into a temporary registry, then `ipm install` of the entry
# file; default: url when `ipm install --help` mentions --trust-guess),
# JOBS (repositories at once, default 4). Not part of `make check`: it
# builds real projects and takes minutes. Besides ipm's own build tools
# (cc, make, cmake, meson, ninja, autoconf, automake, libtool, pkg-config)
# libconfuse needs autopoint and flex.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
IPM=$BUILD/ipm
MIRRORS=${MIRRORS:-/work/mirrors11}
JOBS=${JOBS:-4}
if [ -z "${GUESS_MODE:-}" ]; then
	if "$IPM" install --help 2>&1 | grep -q -- --trust-guess; then GUESS_MODE=url; else GUESS_MODE=entry; fi
fi
export GUESS_MODE IPM MIRRORS

# OWNER/REPO | expected kind | check: "lib HEADER LIBS CODE", "prog NAME ARGS"
# or "usage NAME WORD" (run without arguments, its output holds WORD).
# CODE is the body of main() and returns 0 when the library works; LIBS is
# comma-separated, "-" for none, or pc:NAME for the installed .pc's flags.
repos() {
	cat <<'LIST'
likle/cwalk|cmake|lib cwalk.h -lcwalk const char *b; size_t l; cwk_path_get_basename("/a/b.txt", &b, &l); return l == 5 ? 0 : 1;
kgabis/parson|cmake|lib parson.h -lparson JSON_Value *v = json_parse_string("{\"a\":1}"); return json_object_get_number(json_object(v), "a") == 1 ? 0 : 1;
mity/md4c|cmake|prog md2html --version
commonmark/cmark|cmake|lib cmark.h -lcmark char *h = cmark_markdown_to_html("*a*", 3, 0); return strstr(h, "<em>a</em>") ? 0 : 1;
lloyd/yajl|cmake|lib yajl/yajl_version.h -lyajl return yajl_version() > 0 ? 0 : 1;
uriparser/uriparser|cmake|lib uriparser/Uri.h -luriparser UriUriA u; const char *e; return uriParseSingleUriA(&u, "http://x.org/a", &e) == URI_SUCCESS ? 0 : 1;
pkgconf/pkgconf|meson|prog pkgconf --version
drobilla/serd|meson|lib serd/serd.h pc:serd-0 return strcmp(serd_strerror(SERD_SUCCESS), "") ? 0 : 1;
recp/cglm|cmake|lib cglm/cglm.h -lcglm vec3 a = {1, 2, 3}; return glm_vec3_dot(a, a) == 14 ? 0 : 1;
udp/json-parser|configure|lib json-parser/json.h -ljsonparser,-lm json_value *v = json_parse("[1,2]", 5); return v && v->u.array.length == 2 ? 0 : 1;
troglobit/libuev|autotools|lib uev/uev.h -luev uev_ctx_t c; return uev_init(&c) == 0 ? 0 : 1;
troglobit/libite|autotools|lib libite/lite.h -lite return fisdir("/") ? 0 : 1;
libconfuse/libconfuse|autotools|lib confuse.h -lconfuse cfg_opt_t o[] = { CFG_INT("a", 1, CFGF_NONE), CFG_END() }; cfg_t *c = cfg_init(o, 0); return cfg_getint(c, "a") == 1 ? 0 : 1;
nodejs/http-parser|make|lib http_parser.h -lhttp_parser return http_parser_version() > 0 ? 0 : 1;
madler/pigz|make|prog pigz --version
LuaJIT/LuaJIT|make|prog luajit -v
antirez/kilo|make|usage kilo Usage
lua/lua|make|prog lua -v
sheredom/utf8.h|headers|lib utf8.h - return utf8len("abc") == 3 ? 0 : 1;
zserge/jsmn|headers|lib jsmn.h - jsmn_parser p; jsmntok_t t[4]; jsmn_init(&p); return jsmn_parse(&p, "[1,2]", 5, t, 4) == 3 ? 0 : 1;
silentbicycle/greatest|headers|lib greatest.h - return GREATEST_VERSION_MAJOR >= 1 ? 0 : 1;
LIST
}

# one_repo LINE: installs, checks and removes one repository; prints
# "repo|kind|result|why" (result: ok or FAIL).
one_repo() {
	line=$1
	repo=${line%%|*}; rest=${line#*|}
	kind=${rest%%|*}; check=${rest#*|}
	name=$(basename "$repo" | tr 'A-Z._' 'a-z--')
	w=$(mktemp -d "${TMPDIR:-/tmp}/guess-bench.XXXXXX")
	export HOME=$w/home IPM_HOME=$w/ipmhome IPM_PREFIX=$w/prefix IPM_CACHE=$w/cache IPM_CONFIG=$w/config.json
	export IPM_MIRRORS="https://github.com/=file://$MIRRORS/"
	mkdir -p "$HOME" "$w/reg/packages"
	res=FAIL why=""
	guessed="" version=""
	if [ "$GUESS_MODE" = url ]; then
		"$IPM" install "$repo" --trust-guess -y >"$w/install.log" 2>&1 || why="install failed"
	else
		git_dir=$MIRRORS/$repo.git
		# the newest release tag by version order (pre-releases left out), else the default branch
		tag=$(git --git-dir="$git_dir" tag --sort=-v:refname 2>/dev/null | grep -viE 'rc|alpha|beta|pre|dev|test' | grep '[0-9]' | head -n 1)
		set -- --git "https://github.com/$repo" --dir "$w/reg"
		if [ -n "$tag" ] && "$IPM" registry new "$name" "$@" --tag "$tag" >"$w/new.log" 2>&1; then
			version=$tag
		else
			day=$(git --git-dir="$git_dir" log -1 --format=%cd --date=format:%Y%m%d HEAD)
			rm -f "$w/reg/packages/$name.json"
			version=0.0.0-git.$day
			"$IPM" registry new "$name" "$@" --version "$version" >"$w/new.log" 2>&1 || why="registry new failed: $(grep 'error' "$w/new.log" | head -n 1)"
		fi
		guessed=$(sed -n 's/^found .*: wrote methods //p; s/^found .*wrote no method$/none/p' "$w/new.log")
		if [ -z "$why" ]; then
			"$IPM" install -y "$w/reg/packages/$name.json" >"$w/install.log" 2>&1 || why="install failed"
		fi
	fi
	if [ -n "$why" ] && [ -f "$w/install.log" ]; then
		why="$why: $(grep -E 'error|FAILED|failed' "$w/install.log" | grep -v '^+' | head -n 2 | tr '\n' ' ' | cut -c1-160)"
	fi
	if [ "$GUESS_MODE" = url ] && [ -z "$why" ]; then
		# the name and method the install chose
		"$IPM" list --json >"$w/list.json" 2>/dev/null
		name=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[0]["name"] if d else "")' "$w/list.json" 2>/dev/null)
		guessed=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[0].get("method") or "" if d else "")' "$w/list.json" 2>/dev/null)
		version=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[0]["version"] if d else "")' "$w/list.json" 2>/dev/null)
	fi
	P=$IPM_PREFIX
	if [ -z "$why" ]; then
		set -f; set -- $check; set +f
		if [ "$1" = usage ]; then
			"$P/bin/$2" >"$w/run.log" 2>&1 </dev/null
			grep -q "$3" "$w/run.log" || why="'$2' does not say '$3': $(head -c 120 "$w/run.log" | tr '\n' ' ')"
		elif [ "$1" = prog ]; then
			"$P/bin/$2" $3 >"$w/run.log" 2>&1 </dev/null || why="'$2 $3' failed: $(head -c 120 "$w/run.log" | tr '\n' ' ')"
		else
			header=$2 libs=$3; shift 3
			[ "$libs" = - ] && libs=""
			libs=$(printf '%s' "$libs" | tr ',' ' ')
			case $libs in pc:*)   # flags from the installed .pc
				libs=$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs "${libs#pc:}" 2>&1) ;;
			esac
			printf '#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n#define GREATEST_MAIN_DEFS_NONE\n#include <%s>\nint main(void) { %s }\n' "$header" "$*" >"$w/t.c"
			if ! cc -o "$w/t" "$w/t.c" -I"$P/include" -L"$P/lib" $libs -Wl,-rpath,"$P/lib" >"$w/cc.log" 2>&1; then
				why="test program does not build: $(grep -m1 error "$w/cc.log" | cut -c1-140)"
			elif ! "$w/t" >"$w/run.log" 2>&1; then
				why="test program fails"
			fi
		fi
	fi
	if [ -z "$why" ]; then
		"$IPM" remove -y "$name" >"$w/remove.log" 2>&1 || "$IPM" remove -y "$repo" >>"$w/remove.log" 2>&1 || why="remove failed"
		left=$(find "$P" -mindepth 1 ! -type d 2>/dev/null | sed "s|^$P/||" | head -n 3 | tr '\n' ' ')
		[ -z "$why" ] && [ -n "$left" ] && why="prefix not clean after remove: $left"
	fi
	[ -z "$why" ] && res=ok
	printf '%s|%s|%s|%s|%s|%s\n' "$repo" "$kind" "${version:-?}" "${guessed:-?}" "$res" "${why:--}"
	if [ "$res" = ok ]; then
		chmod -R u+w "$w" 2>/dev/null; rm -rf "$w"
	else
		echo "$repo: logs kept in $w" >&2
	fi
}

if [ $# -gt 0 ]; then
	lines=$(for r in "$@"; do repos | grep "^$r|"; done)
else
	lines=$(repos)
fi
out=$(mktemp)
printf '%s\n' "$lines" | while IFS= read -r l; do printf '%s\0' "$l"; done |
	xargs -0 -n 1 -P "$JOBS" sh -c "$(sed -n '/^one_repo() {/,/^}/p' "$0"); one_repo \"\$1\"" sh >"$out"
total=$(wc -l <"$out")
okn=$(grep -c '|ok|' "$out")
echo "mode: $GUESS_MODE"
printf '%-24s %-10s %-16s %-16s %-6s %s\n' repository kind version guessed result why
sort -f "$out" | while IFS='|' read -r repo kind version guessed res why; do
	printf '%-24s %-10s %-16s %-16s %-6s %s\n' "$repo" "$kind" "$version" "$guessed" "$res" "$why"
done
echo "$okn of $total installed, worked and removed cleanly ($((100 * okn / (total ? total : 1)))%)"
rm -f "$out"
