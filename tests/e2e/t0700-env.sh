#!/bin/sh
# ipm env: the lines for sh, bash, zsh and fish put the prefix on PATH,
# PKG_CONFIG_PATH, MANPATH (keeping man's defaults) and CMAKE_PREFIX_PATH,
# evaluating them twice adds nothing twice, a program ipm installed then runs
# by name, odd prefixes are quoted; the shell comes from $SHELL; a bad
# --shell is a usage error; and the note after the first install.
. "$(dirname "$0")/lib.sh"

P=$IPM_PREFIX
VARS='^(PATH|PKG_CONFIG_PATH|MANPATH|CMAKE_PREFIX_PATH)='

# occurrences DUMP VAR DIR: how many elements of VAR (from the `env` output
# in DUMP) are exactly DIR.
occurrences() {
	VAR=$2 DIR=$3 awk '
		index($0, ENVIRON["VAR"] "=") == 1 {
			sub(/^[^=]*=/, "")
			n = split($0, a, ":")
			for (i = 1; i <= n; i++)
				if (a[i] == ENVIRON["DIR"])
					c++
		}
		END { print c + 0 }' "$1"
}

# value DUMP VAR: VAR's value in DUMP.
value() {
	sed -n "s/^$2=//p" "$1"
}

# env_twice SHELL SCRIPT DUMP: SHELL evaluates SCRIPT twice (MANPATH and
# CMAKE_PREFIX_PATH unset, PKG_CONFIG_PATH=/opt/pc), then the exported
# environment goes to DUMP.
env_twice() {
	case $1 in
	fish)
		env -u MANPATH -u CMAKE_PREFIX_PATH PKG_CONFIG_PATH=/opt/pc ENV_SCRIPT="$2" \
			fish -c 'source $ENV_SCRIPT; and source $ENV_SCRIPT; and env' >"$3" 2>"$3.err"
		;;
	*)
		env -u MANPATH -u CMAKE_PREFIX_PATH PKG_CONFIG_PATH=/opt/pc \
			"$1" -c 'set -u; eval "$(cat "$1")" && eval "$(cat "$1")" && env' sh "$2" >"$3" 2>"$3.err"
		;;
	esac
}

# check_env SHELL PREFIX: the lines for SHELL, evaluated twice, hold each
# directory exactly once, in order, and keep what was there.
check_env() {
	_sh=$1 _p=$2
	"$IPM" --prefix "$_p" env --shell "$_sh" >"$work/env.$_sh" 2>"$work/env.$_sh.err"
	check "$_sh: ipm env --shell $_sh exits 0 and prints lines" test -s "$work/env.$_sh"
	check "$_sh: nothing on stderr" test ! -s "$work/env.$_sh.err"
	if ! env_twice "$_sh" "$work/env.$_sh" "$work/dump.$_sh"; then
		not_ok "$_sh: evaluating the lines twice succeeds"
		diag "$work/dump.$_sh.err"
		return
	fi
	ok "$_sh: evaluating the lines twice succeeds"
	check "$_sh: no complaint from the shell" test ! -s "$work/dump.$_sh.err"
	for pair in "PATH $_p/bin" "PKG_CONFIG_PATH $_p/lib/pkgconfig" \
		"PKG_CONFIG_PATH $_p/share/pkgconfig" "MANPATH $_p/share/man" \
		"CMAKE_PREFIX_PATH $_p"; do
		_var=${pair%% *} _dir=${pair#* }
		check "$_sh: $_var holds '$_dir' exactly once" \
			test "$(occurrences "$work/dump.$_sh" "$_var" "$_dir")" -eq 1
	done
	check "$_sh: PATH is the prefix's bin, then what was there" \
		test "$(value "$work/dump.$_sh" PATH)" = "$_p/bin:$PATH"
	check "$_sh: PKG_CONFIG_PATH is lib, share, then what was there" \
		test "$(value "$work/dump.$_sh" PKG_CONFIG_PATH)" = "$_p/lib/pkgconfig:$_p/share/pkgconfig:/opt/pc"
	check "$_sh: MANPATH ends in ':' (then man's defaults)" \
		test "$(value "$work/dump.$_sh" MANPATH)" = "$_p/share/man:"
	check "$_sh: CMAKE_PREFIX_PATH is the prefix" \
		test "$(value "$work/dump.$_sh" CMAKE_PREFIX_PATH)" = "$_p"
}

# ---- the lines, in each shell ----

check_env sh "$P"
check_env bash "$P"
for _sh in zsh fish; do
	if command -v "$_sh" >/dev/null 2>&1; then
		check_env "$_sh" "$P"
	else
		ok "# skip $_sh is not installed"
	fi
done

# A variable set but empty gets no stray colon (an empty element).
for _sh in sh fish; do
	if ! command -v "$_sh" >/dev/null 2>&1; then
		ok "# skip $_sh is not installed"
		continue
	fi
	case $_sh in
	fish) PKG_CONFIG_PATH= CMAKE_PREFIX_PATH= ENV_SCRIPT=$work/env.fish \
		fish -c 'source $ENV_SCRIPT; and env' >"$work/dump.empty" 2>&1 ;;
	*) PKG_CONFIG_PATH= CMAKE_PREFIX_PATH= sh -c 'eval "$(cat "$1")" && env' sh "$work/env.sh" \
		>"$work/dump.empty" 2>&1 ;;
	esac
	check "$_sh: an empty PKG_CONFIG_PATH becomes the two directories" \
		test "$(value "$work/dump.empty" PKG_CONFIG_PATH)" = "$P/lib/pkgconfig:$P/share/pkgconfig"
	check "$_sh: an empty CMAKE_PREFIX_PATH becomes the prefix" \
		test "$(value "$work/dump.empty" CMAKE_PREFIX_PATH)" = "$P"
done

# A set MANPATH stays as the user chose it (no defaults added).
"$IPM" env --shell sh >"$work/env.sh"
MANPATH=/usr/share/man sh -c 'eval "$(cat "$1")"; eval "$(cat "$1")"; echo "$MANPATH"' sh "$work/env.sh" >"$work/man.out"
check "a set MANPATH gets the prefix in front, once" test "$(cat "$work/man.out")" = "$P/share/man:/usr/share/man"
if command -v manpath >/dev/null 2>&1 && [ -d /usr/share/man ]; then
	env -u MANPATH sh -c 'eval "$(cat "$1")"; manpath 2>/dev/null' sh "$work/env.sh" >"$work/manpath.out"
	check "man searches the prefix's pages" grep -q "^$P/share/man:" "$work/manpath.out"
	check "and still the system's" grep -q ":/usr/share/man" "$work/manpath.out"
fi

# env needs no database and no writable home.
IPM_HOME=$work/nonexistent/home "$IPM" env --shell sh >"$work/out" 2>"$work/err"
check "ipm env works without an IPM_HOME" test $? -eq 0
check "and prints the lines" test -s "$work/out"
check "and creates nothing there" test ! -e "$work/nonexistent"
check "ipm env opens no database" test ! -e "$IPM_HOME/ipm.db"

# A relative --prefix is made absolute.
(cd "$work" && "$IPM" --prefix rel env --shell sh) >"$work/out" 2>&1
check "a relative prefix is made absolute" grep -qF "PATH='$work/rel/bin'" "$work/out"

# ---- the shell from $SHELL ----
SHELL=/usr/bin/fish "$IPM" env >"$work/out"
check "SHELL=.../fish: fish lines" grep -qxF "if not contains -- '$P/bin' \$PATH; set -gx PATH '$P/bin' \$PATH; end" "$work/out"
SHELL=/bin/bash "$IPM" env >"$work/out"
check "SHELL=.../bash: sh lines" grep -qF 'case ":${PATH-}:" in' "$work/out"
SHELL=/usr/bin/zsh "$IPM" env >"$work/out"
check "SHELL=.../zsh: sh lines" grep -qF 'case ":${PATH-}:" in' "$work/out"
SHELL=/bin/tcsh "$IPM" env >"$work/out"
check "SHELL=.../tcsh: sh lines" grep -qF 'case ":${PATH-}:" in' "$work/out"
env -u SHELL "$IPM" env >"$work/out"
check "no SHELL: sh lines" grep -q '^export PATH PKG_CONFIG_PATH MANPATH CMAKE_PREFIX_PATH$' "$work/out"
SHELL=/usr/bin/fish "$IPM" env --shell=sh >"$work/out"
check "--shell=sh wins over SHELL" grep -qF 'case ":${PATH-}:" in' "$work/out"

# ---- errors ----
expect_fail 2 "^ipm: error: unknown shell 'tcsh' for '--shell'$" "$IPM" env --shell tcsh
check "bad --shell: a hint naming the shells" grep -q "^hint: .*--shell sh.*fish" "$work/err"
check "bad --shell: one error line, one hint line" test "$(wc -l <"$work/err")" -eq 2
check "bad --shell: nothing on stdout" test ! -s "$work/out"
expect_fail 2 "option '--shell' needs a value" "$IPM" env --shell
expect_fail 2 "unknown option '--bogus'" "$IPM" env --bogus
expect_fail 2 "unexpected argument 'bash'" "$IPM" env bash
expect_fail 1 "prefix '/a:b' contains ':'" "$IPM" --prefix /a:b env --shell sh
check "a prefix with ':': nothing on stdout" test ! -s "$work/out"

# ---- a program ipm installed runs by name; the note after the first install ----
c1=$(make_git_pkg "$work/src/ipmenvone" ipmenvone 1.0)
git_entry ipmenvone 1.0 "file://$work/src/ipmenvone" "$c1"
c2=$(make_git_pkg "$work/src/ipmenvtwo" ipmenvtwo 2.0)
git_entry ipmenvtwo 2.0 "file://$work/src/ipmenvtwo" "$c2"
c3=$(make_git_pkg "$work/src/ipmenvthree" ipmenvthree 3.0)
git_entry ipmenvthree 3.0 "file://$work/src/ipmenvthree" "$c3"
marker=$IPM_HOME/env-hint-shown

expect_ok "$IPM" install --dry-run ipmenvone
check "no note after a dry run" sh -c '! grep -q "note:" "$1"' sh "$work/err"
expect_ok "$IPM" -q install -y ipmenvone
check "-q: no note" sh -c '! grep -q "note:" "$1"' sh "$work/err"
check "-q: the note is still to come" test ! -e "$marker"

expect_ok "$IPM" install -y ipmenvtwo
check "the note names the prefix's bin" grep -qxF "ipm: note: '$P/bin' is not on your PATH" "$work/err"
check "with the hint" grep -qxF 'hint: run eval "$(ipm env)" (add it to your shell'"'"'s startup file)' "$work/err"
check "the note is on stderr only" sh -c '! grep -q "note:" "$1"' sh "$work/out"
check "the marker is in IPM_HOME" test -f "$marker"
expect_ok "$IPM" install -y ipmenvthree
check "no note after the second install" sh -c '! grep -q "note:" "$1"' sh "$work/err"

for _sh in sh bash zsh fish; do
	if ! command -v "$_sh" >/dev/null 2>&1; then
		ok "# skip $_sh is not installed"
		continue
	fi
	"$IPM" env --shell "$_sh" >"$work/env.$_sh"
	case $_sh in
	fish) ENV_SCRIPT=$work/env.fish fish -c 'source $ENV_SCRIPT; and ipmenvtwo' >"$work/run.out" 2>&1 ;;
	*) "$_sh" -c 'eval "$(cat "$1")" && ipmenvtwo' sh "$work/env.$_sh" >"$work/run.out" 2>&1 ;;
	esac
	check "$_sh: after eval, the installed program runs by name" grep -qx "ipmenvtwo 2.0" "$work/run.out"
done

# On PATH already: no note (a fresh home and prefix).
expect_ok env IPM_HOME="$work/home-onpath" IPM_PREFIX="$work/prefix-onpath" \
	PATH="$work/prefix-onpath/bin:$PATH" "$IPM" install -y ipmenvone
check "bin/ already on PATH: no note" sh -c '! grep -q "note:" "$1"' sh "$work/err"
check "bin/ already on PATH: no marker" test ! -e "$work/home-onpath/env-hint-shown"

# ---- a prefix with a space and a quote ----
odd="$work/my pre'fix"
expect_ok env IPM_HOME="$work/home-odd" IPM_PREFIX="$odd" "$IPM" install -y ipmenvone
check "odd prefix: the note names it" grep -qxF "ipm: note: '$odd/bin' is not on your PATH" "$work/err"
for _sh in sh bash zsh fish; do
	if ! command -v "$_sh" >/dev/null 2>&1; then
		ok "# skip $_sh is not installed"
		continue
	fi
	check_env "$_sh" "$odd"
	IPM_PREFIX=$odd "$IPM" env --shell "$_sh" >"$work/env.$_sh"
	case $_sh in
	fish) ENV_SCRIPT=$work/env.fish fish -c 'source $ENV_SCRIPT; and ipmenvone' >"$work/run.out" 2>&1 ;;
	*) "$_sh" -c 'eval "$(cat "$1")" && ipmenvone' sh "$work/env.$_sh" >"$work/run.out" 2>&1 ;;
	esac
	check "$_sh: odd prefix: the installed program runs by name" grep -qx "ipmenvone 1.0" "$work/run.out"
done

done_testing
