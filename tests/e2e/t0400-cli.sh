#!/bin/sh
# The command line itself: read-only commands on a fresh home, -q, --prefix
# after the command, confirmation on a terminal (yes and no), usage errors.
. "$(dirname "$0")/lib.sh"

# A fresh machine: list works and creates nothing.
expect_ok "$IPM" list --json
check "list --json on a fresh home is []" test "$(json_get "$work/out" 'd')" = "[]"
check "list --json prints nothing on stderr" test ! -s "$work/err"
check "a read-only command creates no IPM_HOME" test ! -e "$IPM_HOME"

c=$(make_git_pkg "$work/src/tty" tty 1.0)
git_entry tty 1.0 "file://$work/src/tty" "$c"

# -q keeps stderr quiet on success; results still go to stdout.
expect_ok "$IPM" -q install --dry-run tty
check "-q: nothing on stderr" test ! -s "$work/err"
check "-q: the plan is still on stdout" grep -q "tty 1.0" "$work/out"

# -q with --yes: approved already, so no plan to show; the work is done and
# only its result line is said.
expect_ok "$IPM" -q install --yes tty
check "-q --yes install: nothing on stdout" test ! -s "$work/out"
check "-q --yes install: the result line only" test "$(cat "$work/err")" = "installed tty 1.0"
check "-q --yes install: installed" test -x "$IPM_PREFIX/bin/tty"
expect_ok "$IPM" -q remove --yes tty
check "-q --yes remove: the result line only" sh -c '! test -s "$1/out" && test "$(cat "$1/err")" = "removed tty"' sh "$work"
check "-q --yes remove: removed" test ! -e "$IPM_PREFIX/bin/tty"

# --prefix after the command name.
expect_ok "$IPM" install --yes --prefix "$work/alt" tty
check "--prefix links there" test -x "$work/alt/bin/tty"
check "--prefix: not in IPM_PREFIX" test ! -e "$IPM_PREFIX/bin/tty"
"$IPM" list --json >"$work/l.json" 2>/dev/null
check "list records the prefix" test "$(json_get "$work/l.json" 'd[0]["prefix"]')" = "$work/alt"
# one home serves one prefix: acting on another is refused, not redirected
expect_fail 1 "holds packages installed into '$work/alt', not '$IPM_PREFIX'" "$IPM" remove --yes tty
check "the refused remove kept it" test -x "$work/alt/bin/tty"
expect_ok "$IPM" remove --yes --prefix "$work/alt" tty
check "remove takes it from that prefix" test ! -e "$work/alt/bin/tty"

# On a terminal, ipm asks; "n" cancels, "y" proceeds.
if script -qec true /dev/null >/dev/null 2>&1; then
	printf 'n\n' | script -qec "'$IPM' --color=never install tty" /dev/null >"$work/tty.out" 2>&1
	check "on a terminal it asks" grep -q "Proceed? \[y/N\]" "$work/tty.out"
	check "answering n installs nothing" test ! -e "$IPM_PREFIX/bin/tty"
	printf 'y\n' | script -qec "'$IPM' --color=never install tty" /dev/null >"$work/tty.out" 2>&1
	check "answering y installs" test -x "$IPM_PREFIX/bin/tty"
	printf 'y\n' | script -qec "'$IPM' remove tty" /dev/null >"$work/tty.out" 2>&1
	check "remove asks and proceeds on y" test ! -e "$IPM_PREFIX/bin/tty"
fi

expect_fail 2 "usage: ipm list" "$IPM" list extra
expect_fail 2 "unknown option '--frob'" "$IPM" list --frob
expect_fail 2 "option '--method' needs a value" "$IPM" install tty --method
expect_fail 2 "nothing to remove" "$IPM" remove
expect_fail 2 "usage: ipm update" "$IPM" update now
expect_fail 2 "needs a directory" "$IPM" --prefix

done_testing
