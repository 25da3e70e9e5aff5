#!/bin/sh
# autoremove: packages installed only as dependencies that nothing needs now
# (transitively); remove names what it left unneeded; list marks
# dependencies; a dependency installed explicitly stays; bad input.
. "$(dirname "$0")/lib.sh"

dep_entry() { # NAME COMMIT DEPENDS_JSON
	write_entry "$1" <<EOF2
{ "name": "$1", "description": "package $1",
  "versions": [ { "version": "1.0", "git": "file://$work/src/$1", "commit": "$2" } ],
  "depends": $3,
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF2
}
for p in liba libb app tool; do
	c=$(make_git_pkg "$work/src/$p" "$p" 1.0)
	eval "c_$p=\$c"
done
dep_entry liba "$c_liba" '[]'
dep_entry libb "$c_libb" '[ { "name": "liba" } ]'
dep_entry app "$c_app" '[ { "name": "libb" } ]'
dep_entry tool "$c_tool" '[ { "name": "liba" } ]'

expect_ok "$IPM" install -y app tool
expect_ok "$IPM" list
check "list marks liba as a dependency" grep -Eq "^liba .*\(dependency\)$" "$work/out"
check "list does not mark app" sh -c '! grep -Eq "^app .*\(dependency\)" "$1"' sh "$work/out"

expect_ok "$IPM" autoremove
check "nothing unneeded yet" grep -q "nothing to remove: every installed package is needed" "$work/err"

expect_ok "$IPM" remove -y app
check "remove names the dependency it left unneeded" \
	grep -q "'libb' is no longer needed (installed as a dependency): 'ipm autoremove' removes it" "$work/err"
check "liba is still needed by tool: not named" sh -c '! grep -q "'"'liba'"'" "$1"' sh "$work/err"

state_snapshot "$work/before"
expect_ok "$IPM" autoremove --dry-run
check "dry run lists libb" grep -q "^  libb 1.0 (dependency)" "$work/out"
check "dry run does not list liba (tool needs it)" sh -c '! grep -q "liba" "$1"' sh "$work/out"
same_state "autoremove --dry-run changes nothing" "$work/before"
expect_fail 1 "refusing to remove packages without confirmation" "$IPM" autoremove
same_state "autoremove without --yes and no terminal changes nothing" "$work/before"

expect_ok "$IPM" remove -y tool
check "remove names liba now (libb was unneeded before)" \
	grep -q "'liba' is no longer needed (installed as a dependency)" "$work/err"
expect_ok "$IPM" autoremove -y
check "autoremove removed libb" grep -q "removed libb" "$work/err"
check "autoremove removed liba, transitively unneeded" grep -q "removed liba" "$work/err"
check "their programs are gone" test ! -e "$IPM_PREFIX/bin/liba" -a ! -e "$IPM_PREFIX/bin/libb"
check "their store trees stay for rollback" test -d "$IPM_HOME/store/liba" -a -d "$IPM_HOME/store/libb"
expect_ok "$IPM" list --json
cp "$work/out" "$work/list.json"
check "nothing is installed" test "$(json_get "$work/list.json" 'len(d)')" = 0

# a dependency the user installed by name is theirs: it stays
expect_ok "$IPM" install -y liba
expect_ok "$IPM" install -y app
expect_ok "$IPM" list --json
cp "$work/out" "$work/list.json"
check "list --json: liba explicit, libb a dependency" test \
	"$(json_get "$work/list.json" 'sorted((p["name"], p["explicit"]) for p in d)')" = \
	"[('app', True), ('liba', True), ('libb', False)]"
expect_ok "$IPM" remove -y app
expect_ok "$IPM" autoremove -y
check "the explicit liba stays and runs" test "$("$IPM_PREFIX/bin/liba")" = "liba 1.0"
check "libb went" test ! -e "$IPM_PREFIX/bin/libb"

# installing an installed dependency by name makes it the user's
expect_ok "$IPM" install -y app
expect_ok "$IPM" install -y libb
check "install of an installed dependency says it is now the user's" \
	grep -q "'libb' 1.0 was installed as a dependency: now marked as installed by name" "$work/err"
expect_ok "$IPM" remove -y app
expect_ok "$IPM" autoremove -y
check "the dependency installed by name stays" test "$("$IPM_PREFIX/bin/libb")" = "libb 1.0"

state_snapshot "$work/before"
expect_fail 2 "unexpected argument 'liba'" "$IPM" autoremove liba
expect_fail 2 "unknown option '--force'" "$IPM" autoremove --force
same_state "bad autoremove input changes nothing" "$work/before"
done_testing
