#!/bin/sh
# An install killed (SIGKILL) during its recipe: nothing of it is visible,
# the next ipm cleans what it left, and a re-install works.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/src/victim" victim 1.0)
cs=$(make_git_pkg "$work/src/stable" stable 1.0)
git_entry stable 1.0 "file://$work/src/stable" "$cs"
# The first run stops in the install step (after files were staged) until
# it is killed; the entry is then rewritten without the pause.
victim_entry() { # EXTRA_STEPS
	write_entry victim <<EOT
{ "name": "victim", "description": "killed while installing",
  "versions": [ { "version": "1.0", "git": "file://$work/src/victim", "commit": "$c" } ],
  "methods": [ { "build": ["make"], "install": ["make install"$1] } ] }
EOT
}
victim_entry ', "touch started; exec sleep 61"'
expect_ok "$IPM" install --yes stable
state_snapshot "$work/before"

"$IPM" install --yes victim >"$work/victim.out" 2>&1 </dev/null &
pid=$!
i=0
started=$IPM_HOME/build/victim-1.0/started
while [ ! -e "$started" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
check "the recipe step is running" test -e "$started"
kill -9 "$pid"
wait "$pid" 2>/dev/null
# the recipe dies with ipm: nothing it started keeps running
i=0
while pgrep -f "[s]leep 61" >/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check "the recipe's processes died with ipm" sh -c '! pgrep -f "[s]leep 61" >/dev/null'
victim_entry ""

expect_ok "$IPM" list --json
cp "$work/out" "$work/list.json"
check "list does not show the killed install" test "$(json_get "$work/list.json" '[p["name"] for p in d]')" = "['stable']"
check "nothing of victim is in the prefix" test ! -e "$IPM_PREFIX/bin/victim" -a ! -e "$IPM_PREFIX/share/victim"
check "stable is intact" test -x "$IPM_PREFIX/bin/stable"

# The next writer cleans up; the state is as before the killed run.
expect_ok "$IPM" info victim
check "no half-built store tree is left" test ! -e "$IPM_HOME/store/victim/1.0"
check "no journal is left" sh -c '! ls "$1"/journal/* >/dev/null 2>&1' sh "$IPM_HOME"

expect_ok "$IPM" install --yes victim
check "re-install works" sh -c '[ "$("$1"/bin/victim)" = "victim 1.0" ]' sh "$IPM_PREFIX"
"$IPM" list --json >"$work/list2.json" 2>/dev/null
check "list shows both" test "$(json_get "$work/list2.json" 'sorted(p["name"] for p in d)')" = "['stable', 'victim']"
expect_ok "$IPM" remove --yes victim stable
check "and everything can be removed" test -z "$(find "$IPM_PREFIX" -type l)"

done_testing
