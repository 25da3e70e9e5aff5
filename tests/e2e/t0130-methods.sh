#!/bin/sh
# Install methods: fallbacks in order when one fails, --method picks one,
# an unknown method is an error listing the methods.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/src/multi" multi 1.0)
write_entry multi <<EOF
{ "name": "multi", "description": "a package with two methods",
  "versions": [ { "version": "1.0", "git": "file://$work/src/multi", "commit": "$c" } ],
  "methods": [
    { "name": "cmake", "build": ["echo trying cmake; exit 3"], "install": ["true"] },
    { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF

expect_ok "$IPM" install --dry-run multi
check "plan shows the first method" grep -q "method 'cmake'" "$work/out"
check "plan shows the fallback" grep -q "method 'make' (tried if the one before fails)" "$work/out"
check "plan shows every step of both" grep -q "build: echo trying cmake; exit 3" "$work/out"

expect_ok "$IPM" --prefix "$work/prefix2" install --dry-run --method make multi
check "--method shows only that method" sh -c '! grep -q "cmake" "$1"' sh "$work/out"
check "--prefix is where the plan installs" grep -q "$work/prefix2" "$work/out"

"$IPM" info multi >/dev/null 2>&1
state_snapshot "$work/before"
expect_fail 1 "no install method 'ninja'" "$IPM" install --yes --method ninja multi
check "the hint lists the methods" grep -q "^hint: .*cmake, make" "$work/err"
same_state "an unknown method changes nothing" "$work/before"

expect_fail 1 "step 'echo trying cmake; exit 3' of 'multi' failed with exit status 3" \
	"$IPM" install --yes --method cmake multi
same_state "a failing method changes nothing" "$work/before"

expect_ok "$IPM" install --yes multi
check "the failing method was reported" grep -qi "cmake" "$work/err"
check "the fallback installed it" test -x "$IPM_PREFIX/bin/multi"
"$IPM" list --json >"$work/list.json" 2>/dev/null
check "list records the method that worked" test "$(json_get "$work/list.json" 'd[0]["method"]')" = make

done_testing
