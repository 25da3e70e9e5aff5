#!/bin/sh
# History and rollback: every install, upgrade, remove and rollback is one
# numbered transaction; rollback relinks the kept store trees (no rebuild)
# and the old version runs again; bad input changes nothing; a rollback
# killed half-way leaves the state before it.
. "$(dirname "$0")/lib.sh"

# hello 1.0 and 2.0: two commits of one repository
c1=$(make_git_pkg "$work/src/hello" hello 1.0)
c2=$(make_git_pkg "$work/src/hello" hello 2.0)
ct=$(make_git_pkg "$work/src/tool" tool 1.0)
write_entry hello <<EOF
{ "name": "hello", "description": "two versions",
  "versions": [ { "version": "2.0", "git": "file://$work/src/hello", "commit": "$c2" },
                { "version": "1.0", "git": "file://$work/src/hello", "commit": "$c1" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
git_entry tool 1.0 "file://$work/src/tool" "$ct"
runs() { # VERSION: the installed hello prints it
	[ "$("$IPM_PREFIX/bin/hello")" = "hello $1" ]
}

expect_ok "$IPM" history
check "an empty history says so" grep -q "no transactions yet" "$work/err"
expect_fail 1 "there is no transaction to roll back to" "$IPM" rollback -y
check "with a hint" grep -q "^hint: every install and remove is recorded" "$work/err"

expect_ok "$IPM" install --yes hello@1.0
check "hello 1.0 runs" runs 1.0
expect_ok "$IPM" install --yes hello@2.0
check "hello 2.0 runs after the upgrade" runs 2.0
expect_ok "$IPM" history
cp "$work/out" "$work/history.txt"
check "transaction 1 is the install with its command" grep -Eq "^ +1  [0-9-]+ [0-9:]+  ipm install --yes hello@1.0$" "$work/history.txt"
check "it added hello 1.0" grep -Eq "^ +\+hello 1.0$" "$work/history.txt"
check "transaction 2 is the upgrade" grep -Eq "^ +2  .*  ipm install --yes hello@2.0$" "$work/history.txt"
check "it shows the versions" grep -Eq "^ +hello 1.0 -> 2.0$" "$work/history.txt"
check "both store trees are kept" test -d "$IPM_HOME/store/hello/1.0" -a -d "$IPM_HOME/store/hello/2.0"

# ---- bad input changes nothing ----
state_snapshot "$work/before"
expect_fail 1 "there is no transaction 99: the last one is 2" "$IPM" rollback -y 99
check "with a hint" grep -q "^hint: 'ipm history' lists them" "$work/err"
expect_fail 2 "'abc' is not a transaction number" "$IPM" rollback -y abc
expect_fail 2 "unexpected argument '2'" "$IPM" rollback -y 1 2
expect_fail 2 "unknown option '--bogus'" "$IPM" rollback --bogus
expect_fail 2 "unexpected argument 'x'" "$IPM" history x
expect_fail 1 "refusing to roll back without confirmation" "$IPM" rollback
expect_ok "$IPM" rollback --dry-run
check "the dry run shows the plan" grep -Eq "^  hello 2.0 -> 1.0$" "$work/out"
check "and names the target" grep -q "state after transaction 1" "$work/out"
same_state "refused, failed and dry runs changed nothing" "$work/before"

# ---- rollback of the upgrade: the old version runs again, no rebuild ----
expect_ok "$IPM" rollback -y
check "hello 1.0 runs again" runs 1.0
check "nothing was built" sh -c '! grep -q "building" "$1"' sh "$work/err"
check "it says where it went" grep -q "rolled back to transaction 1 (recorded as transaction 3)" "$work/err"
expect_ok "$IPM" list --json
check "list shows 1.0 from its old store tree" test "$(json_get "$work/out" '[(p["version"], p["store_dir"].endswith("/store/hello/1.0")) for p in d]')" = "[('1.0', True)]"
expect_ok "$IPM" history --json
cp "$work/out" "$work/history.json"
check "history --json is JSON" json_valid "$work/history.json"
check "the rollback is transaction 3 with what it changed" \
	test "$(json_get "$work/history.json" '(d[2]["id"], d[2]["command"], d[2]["changes"])')" = "(3, 'ipm rollback -y', [{'name': 'hello', 'from': '2.0', 'to': '1.0'}])"
expect_ok "$IPM" rollback -y 2
check "rollback 2 brings 2.0 back" runs 2.0

# ---- remove, then rollback ----
expect_ok "$IPM" install --yes tool
expect_ok "$IPM" remove --yes tool hello
check "both are gone" test ! -e "$IPM_PREFIX/bin/tool" -a ! -e "$IPM_PREFIX/bin/hello"
check "their store trees are kept" test -d "$IPM_HOME/store/tool/1.0" -a -d "$IPM_HOME/store/hello/2.0"
expect_ok "$IPM" history
check "the removal is one transaction with both" sh -c 'grep -A2 "ipm remove --yes tool hello" "$1" | grep -q -- "-hello 2.0" && grep -A2 "ipm remove --yes tool hello" "$1" | grep -q -- "-tool 1.0"' sh "$work/out"
expect_ok "$IPM" rollback -y
check "tool runs again" test "$("$IPM_PREFIX/bin/tool")" = "tool 1.0"
check "hello 2.0 runs again" runs 2.0
expect_ok "$IPM" list --json
check "both are explicit again" test "$(json_get "$work/out" '[(p["name"], p["explicit"]) for p in d]')" = "[('hello', True), ('tool', True)]"

# ---- rollback 0: nothing installed; and back ----
expect_ok "$IPM" rollback -y 0
check "rollback 0 leaves no link" test -z "$(find "$IPM_PREFIX" -type l)"
expect_ok "$IPM" rollback -y
check "and the rollback of it restores both" sh -c '"$1/bin/tool" && "$1/bin/hello"'  sh "$IPM_PREFIX"
expect_ok "$IPM" rollback -y 7
check "rolling back to the current state does nothing" grep -q "nothing to do" "$work/err"

# ---- a rollback killed half-way: the state before it ----
expect_ok "$IPM" rollback --dry-run 1
check "the plan removes tool and downgrades hello" sh -c 'grep -q "^  -tool 1.0" "$1" && grep -q "^  hello 2.0 -> 1.0" "$1"' sh "$work/out"
state_snapshot "$work/before"
IPM_TEST_CRASH=switch:1 "$IPM" rollback -y 1 >"$work/out" 2>&1 </dev/null
check "the first rollback was killed (after its first switch)" test $? -eq 137
check "its journal is there" sh -c 'ls "$1"/journal/txn-*.json' sh "$IPM_HOME"
expect_ok "$IPM" list
same_state "after recovery, the state is the one before the killed rollback" "$work/before"
check "hello 2.0 still runs" runs 2.0
IPM_TEST_CRASH=switch:2 "$IPM" rollback -y 1 >"$work/out" 2>&1 </dev/null
check "the second rollback was killed after both switches" test $? -eq 137
check "hello 1.0 was linked before the kill" runs 1.0
expect_ok "$IPM" list
same_state "and recovery undid both switches" "$work/before"
IPM_TEST_CRASH=commit "$IPM" rollback -y 1 >"$work/out" 2>&1 </dev/null
check "a rollback killed after its commit" test $? -eq 137
expect_ok "$IPM" list --json
check "is finished by recovery (rolled forward)" test "$(json_get "$work/out" '[(p["name"], p["version"]) for p in d]')" = "[('hello', '1.0')]"
check "hello 1.0 runs" runs 1.0
check "no journal is left" test -z "$(ls -A "$IPM_HOME/journal")"
expect_ok "$IPM" history --json
check "history has it once" test "$(json_get "$work/out" 'sum(1 for t in d if t["command"] == "ipm rollback -y 1")')" = 1

# ---- a file that moves between packages: freed by a removal, taken by
# the package that comes back, in one rollback ----
cf=$(make_git_pkg "$work/src/first" same 1.0)
cs=$(make_git_pkg "$work/src/second" same 2.0)
git_entry first 1.0 "file://$work/src/first" "$cf"
git_entry second 1.0 "file://$work/src/second" "$cs"
expect_ok "$IPM" install --yes first
n1=$("$IPM" history --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
expect_ok "$IPM" remove --yes first
expect_ok "$IPM" install --yes second
check "second's bin/same runs" test "$("$IPM_PREFIX/bin/same")" = "same 2.0"
expect_fail 1 "'$IPM_PREFIX/bin/same' is owned by 'second'" "$IPM" install --yes first
expect_ok "$IPM" rollback -y "$n1"
check "first's bin/same is back" test "$("$IPM_PREFIX/bin/same")" = "same 1.0"
expect_ok "$IPM" list --json
check "first replaced second" test "$(json_get "$work/out" '[p["name"] for p in d]')" = "['first', 'hello']"

done_testing
