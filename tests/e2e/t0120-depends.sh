#!/bin/sh
# A package with dependencies: install order, dependents block remove (naming
# them), --force, removing both at once, info's dependencies/dependents, a
# dependency cycle, an unsatisfiable constraint.
. "$(dirname "$0")/lib.sh"

ca=$(make_git_pkg "$work/src/liba" liba 1.4)
cb=$(make_git_pkg "$work/src/libb" libb 2.0)
cc_=$(make_git_pkg "$work/src/app" app 0.9)

dep_entry() { # NAME VERSION COMMIT DEPENDS_JSON
	write_entry "$1" <<EOF
{ "name": "$1", "description": "package $1",
  "versions": [ { "version": "$2", "git": "file://$work/src/$1", "commit": "$3" } ],
  "depends": $4,
  "methods": [ { "name": "make", "build": ["make"],
                 "install": ["make install"] } ] }
EOF
}
dep_entry liba 1.4 "$ca" '[]'
dep_entry libb 2.0 "$cb" '[ { "name": "liba", "version": "^1.2" } ]'
dep_entry app 0.9 "$cc_" '[ { "name": "libb", "version": ">=2" }, { "name": "liba" } ]'

expect_ok "$IPM" install --dry-run app
check "plan lists liba before libb before app" sh -c \
	'grep -Eo "^  (liba|libb|app) " "$1" | tr -d " " | tr "\n" " " | grep -qx "liba libb app "' sh "$work/out"
check "dependencies are marked" grep -q "liba 1.4 (dependency)" "$work/out"

expect_ok "$IPM" install --yes app
check "recipes ran in dependency order" test "$(grep -o "^building '[a-z]*'" "$work/err" | tr -d "'" | tr '\n' ' ')" = "building liba building libb building app "
for p in liba libb app; do
	check "$p is installed" test -x "$IPM_PREFIX/bin/$p"
done
"$IPM" list --json >"$work/list.json" 2>/dev/null
check "app is explicit, liba is a dependency" test \
	"$(json_get "$work/list.json" 'sorted((p["name"], p["explicit"]) for p in d)')" = \
	"[('app', True), ('liba', False), ('libb', False)]"

expect_ok "$IPM" info --json liba
cp "$work/out" "$work/info.json"
check "info --json: dependents of liba" test "$(json_get "$work/info.json" 'sorted(d["dependents"])')" = "['app', 'libb']"
expect_ok "$IPM" info libb
check "info lists dependents" grep -q "^dependents: *app" "$work/out"

state_snapshot "$work/before"
expect_fail 1 "'liba' is needed by" "$IPM" remove --yes liba
check "the error names the dependents" grep -q "libb" "$work/err"
same_state "refused remove changes nothing" "$work/before"

expect_ok "$IPM" remove --yes app libb
check "app and libb removed together" test ! -e "$IPM_PREFIX/bin/app" -a ! -e "$IPM_PREFIX/bin/libb"
check "liba stays" test -x "$IPM_PREFIX/bin/liba"

expect_ok "$IPM" install --yes app
expect_ok "$IPM" remove --yes --force liba
check "--force removed liba" test ! -e "$IPM_PREFIX/bin/liba"
check "--force kept its dependents" test -x "$IPM_PREFIX/bin/app"
expect_ok "$IPM" remove --yes app libb

# A cycle and an unsatisfiable constraint are errors naming the packages.
cx=$(make_git_pkg "$work/src/cyc-x" cyc-x 1.0)
cy=$(make_git_pkg "$work/src/cyc-y" cyc-y 1.0)
write_entry cyc-x <<EOF
{ "name": "cyc-x", "description": "x",
  "versions": [ { "version": "1.0", "git": "file://$work/src/cyc-x", "commit": "$cx" } ],
  "depends": [ { "name": "cyc-y" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
write_entry cyc-y <<EOF
{ "name": "cyc-y", "description": "y",
  "versions": [ { "version": "1.0", "git": "file://$work/src/cyc-y", "commit": "$cy" } ],
  "depends": [ { "name": "cyc-x" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
dep_entry needy 1.0 "$ca" '[ { "name": "liba", "version": ">=5" } ]'
"$IPM" info cyc-x >/dev/null 2>&1
state_snapshot "$work/before"
expect_fail 1 "dependency cycle: .*cyc-x.*cyc-y|dependency cycle: .*cyc-y.*cyc-x" "$IPM" install --yes cyc-x
same_state "a cycle changes nothing" "$work/before"
expect_fail 1 "no release of 'liba' satisfies '>=5'.*needy" "$IPM" install --yes needy
same_state "an unsatisfiable constraint changes nothing" "$work/before"

done_testing
