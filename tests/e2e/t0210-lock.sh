#!/bin/sh
# A second ipm waits for the first, saying why, and gives up after
# IPM_LOCK_TIMEOUT with a clear error and nothing changed.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/src/sleepy" sleepy 1.0)
write_entry sleepy <<EOF
{ "name": "sleepy", "description": "a recipe that takes its time",
  "versions": [ { "version": "1.0", "git": "file://$work/src/sleepy", "commit": "$c" } ],
  "methods": [ { "build": ["make", "touch started; sleep 4"], "install": ["make install"] } ] }
EOF
c2=$(make_git_pkg "$work/src/quick" quick 1.0)
git_entry quick 1.0 "file://$work/src/quick" "$c2"
"$IPM" info quick >/dev/null 2>&1

"$IPM" install --yes sleepy >"$work/first.out" 2>"$work/first.err" </dev/null &
first=$!
bg_pids="$bg_pids $first"
i=0
# a contained step writes only in its build tree
started=$IPM_HOME/build/sleepy-1.0/started
while [ ! -e "$started" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check "the first ipm is in its recipe" test -e "$started"

state_snapshot "$work/before"
start=$(date +%s)
export IPM_LOCK_TIMEOUT=1
expect_fail 1 "another ipm \(pid $first\) is running" "$IPM" install --yes quick
unset IPM_LOCK_TIMEOUT
check "it said why it was waiting" grep -q "ipm: warning: waiting for another ipm (pid $first)" "$work/err"
check "it gave up after about IPM_LOCK_TIMEOUT" test $(($(date +%s) - start)) -le 3
check "quick was not installed" test ! -e "$IPM_PREFIX/bin/quick"
# Lookups only read: they answer at once while the install holds the lock.
export IPM_LOCK_TIMEOUT=1
expect_ok "$IPM" list
expect_ok "$IPM" info quick
expect_ok "$IPM" search quick
unset IPM_LOCK_TIMEOUT
check "lookups did not wait for the lock" sh -c '! grep -q "waiting for another ipm" "$1"' sh "$work/err"

wait "$first"
check "the first ipm finished its install" test $? -eq 0
check "sleepy is installed" test -x "$IPM_PREFIX/bin/sleepy"
expect_ok "$IPM" install --yes quick
check "with the lock free, quick installs" test -x "$IPM_PREFIX/bin/quick"

done_testing
