#!/bin/sh
# The usual other names of commands work as the commands (uninstall and rm
# for remove, ls for list, show for info, owns for which) and are shown in
# the help; a mistyped command gets "did you mean", an unknown one the way
# to the list; each exits 2 and changes nothing.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/git/hello" hello 1.0)
git_entry hello 1.0 "$work/git/hello" "$c"
expect_ok "$IPM" install -y hello

# ---- aliases do what their commands do ----
"$IPM" list >"$work/list.out" 2>&1
expect_ok "$IPM" ls
check "ls prints what list prints" cmp -s "$work/list.out" "$work/out"
"$IPM" list --json >"$work/list.json" 2>&1
expect_ok "$IPM" ls --json
check "ls --json is list --json" cmp -s "$work/list.json" "$work/out"
"$IPM" info hello >"$work/info.out" 2>&1
expect_ok "$IPM" show hello
check "show prints what info prints" cmp -s "$work/info.out" "$work/out"
expect_ok "$IPM" owns "$IPM_PREFIX/bin/hello"
check "owns answers as which" grep -qx "$IPM_PREFIX/bin/hello is owned by hello 1.0" "$work/out"

expect_ok "$IPM" rm -y hello
check "rm removed hello" test ! -e "$IPM_PREFIX/bin/hello"
expect_ok "$IPM" install -y hello
expect_ok "$IPM" uninstall -y hello
check "uninstall removed hello" test ! -e "$IPM_PREFIX/bin/hello"
expect_fail 1 "package 'hello' is not installed" "$IPM" uninstall -y hello
check "uninstall's errors are remove's" grep -q "^hint: 'ipm list' shows what is installed" "$work/err"
expect_fail 2 "usage: ipm remove" "$IPM" rm
expect_ok "$IPM" install -y hello

# ---- help shows them ----
expect_ok "$IPM" --help
check "--help: remove (also: uninstall, rm)" grep -Eq "^  remove +remove installed packages \(also: uninstall, rm\)$" "$work/out"
check "--help: list (also: ls)" grep -q "^  list .*(also: ls)$" "$work/out"
check "--help: info (also: show)" grep -q "^  info .*(also: show)$" "$work/out"
check "--help: which (also: owns)" grep -q "^  which .*(also: owns)$" "$work/out"
expect_ok "$IPM" rm --help
check "rm --help is remove's help" grep -q "^usage: ipm remove " "$work/out"
check "and names the aliases" grep -qx "aliases: uninstall, rm" "$work/out"
mkdir -p "$work/nobin"
ln -s "$(command -v sed)" "$work/nobin/sed"
PATH=$work/nobin "$IPM" help uninstall >"$work/out" 2>&1
check "help uninstall is remove's manual" grep -q "^usage: ipm remove" "$work/out"
check "ipm(1) lists the aliases" grep -q 'ipm uninstall' "$TOP/man/ipm.1"
check "ipm-remove(1) names them" grep -q '^\.B ipm rm' "$TOP/man/ipm-remove.1"

# ---- did you mean ----
state_snapshot "$work/before"
expect_fail 2 "^ipm: error: unknown command 'instal'$" "$IPM" instal hello
check "instal: did you mean 'install'?" grep -qx "hint: did you mean 'install'?" "$work/err"
expect_fail 2 "unknown command 'remvoe'" "$IPM" remvoe hello
check "remvoe: did you mean 'remove'?" grep -qx "hint: did you mean 'remove'?" "$work/err"
expect_fail 2 "unknown command 'lst'" "$IPM" lst
check "lst: did you mean 'list'? (ls is the same command)" grep -qx "hint: did you mean 'list'?" "$work/err"
expect_fail 2 "unknown command 'unistall'" "$IPM" unistall hello
check "unistall: an alias is suggested too" grep -qx "hint: did you mean 'uninstall'?" "$work/err"
expect_fail 2 "unknown command 'verfiy'" "$IPM" verfiy
check "verfiy: did you mean 'verify'?" grep -qx "hint: did you mean 'verify'?" "$work/err"
expect_fail 2 "unknown command 'reg'" "$IPM" reg list
check "the start of a name: did you mean 'registry'?" grep -qx "hint: did you mean 'registry'?" "$work/err"
expect_fail 2 "unknown command 'INSTALL'" "$IPM" INSTALL hello
check "case: did you mean 'install'?" grep -qx "hint: did you mean 'install'?" "$work/err"
expect_fail 2 "unknown command 'frobnicate'" "$IPM" frobnicate
check "nothing close: the way to the list" grep -qx "hint: run 'ipm --help' for the list of commands" "$work/err"
expect_fail 2 "unknown command 'x'" "$IPM" x
check "one letter: no guess" grep -qx "hint: run 'ipm --help' for the list of commands" "$work/err"
check "an unknown command prints nothing on stdout" test ! -s "$work/out"
expect_fail 2 "no command 'instal'" "$IPM" help instal
check "help instal: did you mean 'install'?" grep -qx "hint: did you mean 'install'?" "$work/err"
same_state "mistyped commands changed nothing" "$work/before"
done_testing
