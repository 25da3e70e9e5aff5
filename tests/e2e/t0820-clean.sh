#!/bin/sh
# ipm clean: deletes cached downloads, git mirrors, logs and the store trees
# that neither an installed package nor a kept generation (the states after
# the last N transactions, default 2) needs; says what and how many bytes.
# What stays still works; a rollback to a cleaned state fails clearly.
. "$(dirname "$0")/lib.sh"

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

expect_ok "$IPM" clean
check "a clean of nothing frees nothing" grep -q "^freed 0 B (0 bytes) in 0 items$" "$work/out"

expect_ok "$IPM" install --yes hello@1.0
expect_ok "$IPM" install --yes hello@2.0
expect_ok "$IPM" install --yes tool
check "the git mirrors are cached" test -n "$(ls -A "$IPM_CACHE/git")"
check "the build logs are kept" test -n "$(ls -A "$IPM_CACHE/logs")"

# ---- bad input ----
state_snapshot "$work/before"
expect_fail 2 "--keep needs a number of transactions from 1 on, not '0'" "$IPM" clean --keep 0
expect_fail 2 "--keep needs a number of transactions from 1 on, not 'x'" "$IPM" clean --keep x
expect_fail 2 "option '--keep' needs a value" "$IPM" clean --keep
expect_fail 2 "unexpected argument 'all'" "$IPM" clean all
expect_fail 2 "unknown option '--bogus'" "$IPM" clean --bogus

# ---- the dry run: what would go, with sizes; nothing goes ----
expect_ok "$IPM" clean --dry-run --json
cp "$work/out" "$work/plan.json"
check "--json is JSON" json_valid "$work/plan.json"
check "the 1.0 tree (only the state after transaction 1 needs it) would go" \
	test "$(json_get "$work/plan.json" '[i["path"] for i in d["items"] if i["kind"] == "store tree"]')" = "['$IPM_HOME/store/hello/1.0']"
check "so would the git mirrors, the logs and hello 1.0's binary" \
	test "$(json_get "$work/plan.json" 'sorted(set(i["kind"] for i in d["items"]))')" = "['binary', 'git mirror', 'log', 'store tree']"
key_of() { "$IPM" info --json "$1" >"$work/k.json" && json_get "$work/k.json" 'd["installed"]["build_key"]'; }
hello_key=$(key_of hello) tool_key=$(key_of tool)
check "the binaries of installed builds would stay" \
	test "$(json_get "$work/plan.json" 'sorted(set(i["path"].rsplit("/", 1)[1].split(".")[0] for i in d["items"] if i["kind"] == "binary") & {"'"$hello_key"'", "'"$tool_key"'"})')" = "[]"
check "hello 1.0's binary would go" test "$(json_get "$work/plan.json" 'len([i for i in d["items"] if i["kind"] == "binary"]) > 0')" = True
check "the total is the sum of the items" test "$(json_get "$work/plan.json" 'd["total_bytes"] == sum(i["bytes"] for i in d["items"]) > 0')" = True
store_du=$(du -sB1 "$IPM_HOME/store/hello/1.0" | cut -f1)
check "a store tree's bytes are its disk usage (du)" \
	test "$(json_get "$work/plan.json" '[i["bytes"] for i in d["items"] if i["kind"] == "store tree"][0]')" = "$store_du"
same_state "the dry run deleted nothing" "$work/before"
check "and kept the caches" test -n "$(ls -A "$IPM_CACHE/git")"

# ---- clean ----
expect_ok "$IPM" clean
check "each item is printed with its size" grep -Eq "^store tree  $IPM_HOME/store/hello/1.0  [0-9.]+ (B|KiB)$" "$work/out"
check "git mirrors are printed" grep -q "^git mirror  $IPM_CACHE/git/" "$work/out"
total=$(json_get "$work/plan.json" 'd["total_bytes"]')
n=$(json_get "$work/plan.json" 'len(d["items"])')
check "the total freed is what the dry run said" grep -q "^freed .* ($total bytes) in $n items$" "$work/out"
check "the 1.0 tree is gone" test ! -e "$IPM_HOME/store/hello/1.0"
check "the installed trees stay" test -d "$IPM_HOME/store/hello/2.0" -a -d "$IPM_HOME/store/tool/1.0"
check "the installed builds' binaries stay" test -e "$IPM_CACHE/binary/$hello_key.tar.zst" -a -e "$IPM_CACHE/binary/$tool_key.tar.zst"
check "and only those" test "$(ls "$IPM_CACHE/binary" | grep -c '\.tar\.zst$')" = 2
check "the caches are empty" test -z "$(ls -A "$IPM_CACHE/git" "$IPM_CACHE/logs" 2>/dev/null | grep -v ':$' | grep .)"
check "hello still runs" test "$("$IPM_PREFIX/bin/hello")" = "hello 2.0"
check "tool still runs" test "$("$IPM_PREFIX/bin/tool")" = "tool 1.0"

# ---- rollback to a cleaned state: a clear error, nothing changed ----
state_snapshot "$work/before"
expect_fail 1 "cannot roll back to transaction 1: the store tree of 'hello' 1.0 was deleted by 'ipm clean' \('$IPM_HOME/store/hello/1.0'\)" "$IPM" rollback -y 1
check "the hint says how to get it back" grep -q "^hint: .*'ipm install hello@1.0'" "$work/err"
same_state "the refused rollback changed nothing" "$work/before"
expect_ok "$IPM" rollback -y
check "the kept generation rolls back (tool removed)" test ! -e "$IPM_PREFIX/bin/tool"
check "hello 2.0 runs" test "$("$IPM_PREFIX/bin/hello")" = "hello 2.0"

# ---- generations: the default keeps the one rollback returns to ----
expect_ok "$IPM" clean
check "tool's tree is kept (the state before the rollback needs it)" test -d "$IPM_HOME/store/tool/1.0"
expect_ok "$IPM" clean --keep 1
check "--keep 1 deletes it" test ! -e "$IPM_HOME/store/tool"
check "and says so" grep -q "^store tree  $IPM_HOME/store/tool/1.0 " "$work/out"

# ---- a kept tree changed by hand is not relinked; what an interrupted
# clean left is deleted by the next one ----
expect_ok "$IPM" install --yes tool
expect_ok "$IPM" remove --yes tool
# (a new build: store/tool/1.0 is named by history, so never reused)
check "the new build has a store tree of its own" test -d "$IPM_HOME/store/tool/1.0@rebuild"
rm "$IPM_HOME/store/tool/1.0@rebuild/bin/tool"
state_snapshot "$work/before"
expect_fail 1 "the store tree of 'tool' 1.0 lacks 'bin/tool'" "$IPM" rollback -y
same_state "a rollback to a damaged tree changes nothing" "$work/before"
mkdir -p "$IPM_HOME/store/.deleting-tool-0.9/bin"
echo left >"$IPM_HOME/store/.deleting-tool-0.9/bin/tool"
expect_ok "$IPM" clean --keep 1
check "a half-deleted tree of an interrupted clean is deleted" test ! -e "$IPM_HOME/store/.deleting-tool-0.9"
check "and said" grep -q "^store tree  $IPM_HOME/store/.deleting-tool-0.9 " "$work/out"

# ---- what clean deleted is fetched again when needed ----
expect_ok "$IPM" install --yes hello@1.0
check "hello 1.0 installs again after clean" test "$("$IPM_PREFIX/bin/hello")" = "hello 1.0"

done_testing
