#!/bin/sh
# Plans are all or nothing: an install whose last package fails leaves no
# trace of the packages built and linked before it; a multi-package install
# or removal killed (SIGKILL, while building or at the fault points of
# IPM_TEST_CRASH) half-way leaves the state before it, and one killed after
# its commit is finished; Ctrl-C during a build or a download exits with
# status 130 and changes nothing.
. "$(dirname "$0")/lib.sh"

ca=$(make_git_pkg "$work/src/liba" liba 1.0)
cb=$(make_git_pkg "$work/src/libb" libb 1.0)
cs=$(make_git_pkg "$work/src/stable" stable 1.0)
capp=$(make_git_pkg "$work/src/app" app 1.0)
git_entry liba 1.0 "file://$work/src/liba" "$ca"
git_entry libb 1.0 "file://$work/src/libb" "$cb"
git_entry stable 1.0 "file://$work/src/stable" "$cs"
app_entry() { # BUILD_STEP: app depends on liba and libb
	write_entry app <<EOF
{ "name": "app", "description": "depends on liba and libb",
  "versions": [ { "version": "1.0", "git": "file://$work/src/app", "commit": "$capp" } ],
  "depends": [ { "name": "liba" }, { "name": "libb" } ],
  "methods": [ { "build": ["$1"], "install": ["make install"] } ] }
EOF
}
# fails with 4 when its dependencies are linked into the prefix (as they
# must be when a dependent builds), 3 when not
app_entry 'test -x \"$IPM_PREFIX/bin/liba\" -a -x \"$IPM_PREFIX/bin/libb\" || exit 3; exit 4'
# the registry is imported again by the next command that writes: before
# each snapshot, so that the database compares equal
sync_registry() { "$IPM" install --dry-run stable >/dev/null 2>&1; }
expect_ok "$IPM" install --yes stable
state_snapshot "$work/before"

# ---- the last package fails: nothing of the plan stays ----
expect_fail 1 "step .* of 'app' failed with exit status 4" "$IPM" install --yes app
check "each package's outcome is said" sh -c 'grep -q "^  liba 1.0: built, then undone" "$1" && grep -q "^  libb 1.0: built, then undone" "$1" && grep -q "^  app 1.0: FAILED" "$1"' sh "$work/err"
check "the summary names the failure" grep -q "^installed 0, failed 1: app (step .* failed with exit status 4)" "$work/err"
check "and says the plan was rolled back" grep -q "^nothing was changed: the plan was rolled back" "$work/err"
same_state "prefix, list, database and store are as before" "$work/before"
check "no store tree of liba is left" test ! -e "$IPM_HOME/store/liba"
expect_ok "$IPM" list
check "list shows only stable" test "$(awk 'NR>1 {print $1}' "$work/out" | tr '\n' ' ')" = "stable "
expect_ok "$IPM" history --json
check "the failed plan is not in history" test "$(json_get "$work/out" 'len(d)')" = 1

# ---- fixed, the same plan installs all three, as one transaction ----
app_entry make
expect_ok "$IPM" install --yes app
check "app runs" test "$("$IPM_PREFIX/bin/app")" = "app 1.0"
check "the summary counts them" grep -q "^installed 3 packages" "$work/err"
expect_ok "$IPM" history --json
check "one transaction added all three" test "$(json_get "$work/out" 'sorted(c["name"] for c in d[-1]["changes"])')" = "['app', 'liba', 'libb']"

# ---- a removal of several killed half-way, and after its commit ----
state_snapshot "$work/before"
IPM_TEST_CRASH=switch:2 "$IPM" remove --yes app liba libb >"$work/out" 2>&1 </dev/null
check "the removal was killed after two packages' links went" test $? -eq 137
check "app's link was gone at the kill" test ! -e "$IPM_PREFIX/bin/app"
expect_ok "$IPM" list
check "recovery says what it cleaned up" grep -q "cleaning up after an interrupted ipm ('app', 'liba'" "$work/err"
same_state "recovery restored every link and row" "$work/before"
check "app runs again" test "$("$IPM_PREFIX/bin/app")" = "app 1.0"
IPM_TEST_CRASH=commit "$IPM" remove --yes app liba libb >"$work/out" 2>&1 </dev/null
check "a removal killed after its commit" test $? -eq 137
expect_ok "$IPM" list --json
check "is finished by recovery" test "$(json_get "$work/out" '[p["name"] for p in d]')" = "['stable']"
check "without a link left" test ! -e "$IPM_PREFIX/bin/app" -a ! -e "$IPM_PREFIX/bin/liba"

# ---- an install of several killed while building the last ----
app_entry 'touch started; exec sleep 61'
sync_registry
state_snapshot "$work/before"
"$IPM" install --yes app >"$work/victim.out" 2>&1 </dev/null &
pid=$!
i=0
started=$IPM_HOME/build/app-1.0/started
while [ ! -e "$started" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "app's recipe is running" test -e "$started"
check "liba and libb were linked before it" test -x "$IPM_PREFIX/bin/liba" -a -x "$IPM_PREFIX/bin/libb"
kill -9 "$pid"
wait "$pid" 2>/dev/null
i=0
while pgrep -f "[s]leep 61" >/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
expect_ok "$IPM" list
same_state "after recovery, nothing of the killed plan is left" "$work/before"
check "not even the store trees it built" test ! -e "$IPM_HOME/store/liba/1.0@rebuild" -a ! -e "$IPM_HOME/store/app/1.0@rebuild"

# ---- killed at the fault points: after the second package's links, and
# after the commit (the plan is then finished by recovery) ----
app_entry make
sync_registry
state_snapshot "$work/before"
IPM_TEST_CRASH=switch:2 "$IPM" install --yes app >"$work/out" 2>&1 </dev/null
check "an install killed after linking liba and libb" test $? -eq 137
check "had linked them" test -x "$IPM_PREFIX/bin/liba" -a -x "$IPM_PREFIX/bin/libb"
expect_ok "$IPM" list
same_state "is undone by recovery" "$work/before"
IPM_TEST_CRASH=commit "$IPM" install --yes app >"$work/out" 2>&1 </dev/null
check "an install killed after its commit" test $? -eq 137
expect_ok "$IPM" list --json
check "is kept: all three are installed" test "$(json_get "$work/out" '[p["name"] for p in d]')" = "['app', 'liba', 'libb', 'stable']"
check "and app runs" test "$("$IPM_PREFIX/bin/app")" = "app 1.0"
expect_ok "$IPM" remove --yes app liba libb

# ---- Ctrl-C during a build ----
app_entry 'touch started; exec sleep 62'
sync_registry
state_snapshot "$work/before"
"$IPM" install --yes app >"$work/out" 2>"$work/err" </dev/null &
pid=$!
i=0
while [ ! -e "$started" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "app's recipe is running again" test -e "$started"
kill -INT "$pid"
wait "$pid"
check "Ctrl-C during a build exits with status 130" test $? -eq 130
check "it says it was interrupted" grep -q "ipm: error: interrupted (Ctrl-C)" "$work/err"
check "and that the plan was rolled back" grep -q "^nothing was changed: the plan was rolled back" "$work/err"
i=0
while pgrep -f "[s]leep 62" >/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check "the recipe's processes were stopped" sh -c '! pgrep -f "[s]leep 62" >/dev/null'
same_state "Ctrl-C during a build changed nothing" "$work/before"
app_entry make

# ---- Ctrl-C during a download ----
mkdir -p "$work/pack/big-1.0" "$work/www"
make_git_pkg "$work/pack/big-1.0" big 1.0 >/dev/null
rm -rf "$work/pack/big-1.0/.git"
head -c 65536 /dev/urandom >"$work/pack/big-1.0/padding"
tar -C "$work/pack" -czf "$work/www/big-1.0.tar.gz" big-1.0
sum=$(sha256sum "$work/www/big-1.0.tar.gz" | cut -d' ' -f1)
start_httpd "$work/www" || exit 1
# plain http:// is allowed through the user's own mirror rule (see t0110)
export IPM_MIRRORS="$HTTP/=$HTTP/"
write_entry big <<EOF
{ "name": "big", "description": "a slow download",
  "versions": [ { "version": "1.0", "url": "$HTTP/slow/big-1.0.tar.gz", "sha256": "$sum" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
sync_registry
state_snapshot "$work/before"
"$IPM" install --yes big >"$work/out" 2>"$work/err" </dev/null &
pid=$!
i=0
while ! grep -q "GET /slow/big-1.0.tar.gz" "$HTTPD_LOG" && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "the download started" grep -q "GET /slow/big-1.0.tar.gz" "$HTTPD_LOG"
sleep 1
kill -INT "$pid"
wait "$pid"
check "Ctrl-C during a download exits with status 130" test $? -eq 130
check "it says it was interrupted" grep -q "ipm: error: interrupted (Ctrl-C)" "$work/err"
check "no partial download is cached" test ! -e "$IPM_CACHE/downloads/$sum"
same_state "Ctrl-C during a download changed nothing" "$work/before"

done_testing
