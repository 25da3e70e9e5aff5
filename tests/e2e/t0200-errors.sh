#!/bin/sh
# The errors of the issue, each with its message, exit 1 and the installed
# state unchanged: unknown package (did you mean), malformed registry JSON
# (file and position), missing required field, nonexistent pinned commit,
# missing prerequisite tool, failing recipe step, prefix conflict, removing a
# package that is not installed, a database that is not an ipm database.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/src/ripgrep" ripgrep 14.1)
git_entry ripgrep 14.1 "file://$work/src/ripgrep" "$c"
# Something installed, so "unchanged" covers a real state.
expect_ok "$IPM" install --yes ripgrep
state_snapshot "$work/before"

# Unknown package, with a suggestion.
expect_fail 1 "package 'ripgrpe' not found" "$IPM" install --yes ripgrpe
check "did you mean 'ripgrep'?" grep -q "^hint: did you mean 'ripgrep'" "$work/err"
same_state "unknown package changes nothing" "$work/before"
expect_fail 1 "package 'rigrep' not found" "$IPM" info rigrep
check "info suggests too" grep -q "did you mean 'ripgrep'" "$work/err"

# Nonexistent pinned commit.
git_entry ghost 1.0 "file://$work/src/ripgrep" 0123456789abcdef0123456789abcdef01234567
"$IPM" info ghost >/dev/null 2>&1
state_snapshot "$work/before"
expect_fail 1 "commit '0123456789abcdef0123456789abcdef01234567' not found in" "$IPM" install --yes ghost
same_state "a missing commit changes nothing" "$work/before"

# Missing prerequisite tool, with this OS's install command.
write_entry needtool <<EOF
{ "name": "needtool", "description": "needs a tool nobody has",
  "versions": [ { "version": "1.0", "git": "file://$work/src/ripgrep", "commit": "$c" } ],
  "requires": [ { "tool": "ipm-no-such-tool",
                  "hints": { "debian": "apt-get install no-such-tool", "ubuntu": "apt-get install no-such-tool",
                             "fedora": "dnf install no-such-tool", "macos": "brew install no-such-tool",
                             "alpine": "apk add no-such-tool", "arch": "pacman -S no-such-tool" } } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
"$IPM" info needtool >/dev/null 2>&1
state_snapshot "$work/before"
expect_fail 1 "'ipm-no-such-tool' is required by 'needtool' but not found on PATH" "$IPM" install --yes needtool
check "the hint says how to install it" grep -q "^hint: .*install no-such-tool" "$work/err"
same_state "a missing tool changes nothing" "$work/before"

# Failing recipe step: the step, its status, its last output, the log path.
write_entry failing <<EOF
{ "name": "failing", "description": "its build fails",
  "versions": [ { "version": "1.0", "git": "file://$work/src/ripgrep", "commit": "$c" } ],
  "methods": [ { "build": ["make", "echo compiler says no >&2; exit 7"], "install": ["make install"] } ] }
EOF
"$IPM" info failing >/dev/null 2>&1
state_snapshot "$work/before"
expect_fail 1 "step 'echo compiler says no >&2; exit 7' of 'failing' failed with exit status 7" "$IPM" install --yes failing
check "the last output lines are shown" grep -q "compiler says no" "$work/err"
check "the log path is shown" grep -q "$IPM_CACHE/logs/" "$work/err"
same_state "a failing step changes nothing" "$work/before"
check "no store tree is left for it" test ! -e "$IPM_HOME/store/failing"

# A prefix path that ipm does not own is a conflict found before linking.
c2=$(make_git_pkg "$work/src/clash" clash 1.0)
git_entry clash 1.0 "file://$work/src/clash" "$c2"
mkdir -p "$IPM_PREFIX/bin"
echo "not ipm's" >"$IPM_PREFIX/bin/clash"
"$IPM" info clash >/dev/null 2>&1
state_snapshot "$work/before"
expect_fail 1 "bin/clash' exists and is not owned by ipm" "$IPM" install --yes clash
same_state "a conflict changes nothing" "$work/before"
check "the conflicting file is untouched" test "$(cat "$IPM_PREFIX/bin/clash")" = "not ipm's"
check "no share/clash was linked" test ! -e "$IPM_PREFIX/share/clash"
rm "$IPM_PREFIX/bin/clash"
state_snapshot "$work/before"

# Removing a package that is not installed.
expect_fail 1 "package 'clash' is not installed" "$IPM" remove --yes clash
expect_fail 1 "package 'nothere' is not installed" "$IPM" remove --yes nothere
same_state "removing a missing package changes nothing" "$work/before"

# An entry missing a required field (the import fails, naming the file).
write_entry nodesc <<EOF
{ "name": "nodesc",
  "versions": [ { "version": "1.0", "git": "file://$work/src/ripgrep", "commit": "$c" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
expect_fail 1 "missing required field 'description' in '.*nodesc.json'" "$IPM" install --yes nodesc
same_state "a bad entry changes nothing" "$work/before"
rm "$REG/packages/nodesc.json"

# Malformed registry JSON: the file, line and column.
printf '{\n  "name": "broken",\n  "description": "x" "oops"\n}\n' >"$REG/packages/broken.json"
expect_fail 1 "malformed JSON in '.*broken.json' at line 3, column [0-9]+" "$IPM" install --yes ripgrep
same_state "malformed JSON changes nothing" "$work/before"
# Removing needs no registry: a broken entry is a warning, not a blocker.
expect_ok "$IPM" remove --yes ripgrep
check "remove warns about the broken entry" grep -q "warning: malformed JSON in '.*broken.json'" "$work/err"
check "and removes the package" test ! -e "$IPM_PREFIX/bin/ripgrep"
rm "$REG/packages/broken.json"
expect_ok "$IPM" install --yes ripgrep
state_snapshot "$work/before"
expect_ok "$IPM" info ripgrep

# A database that is not an ipm database: refused, and left as it was.
mv "$IPM_HOME/ipm.db" "$work/ipm.db.saved"
rm -f "$IPM_HOME/ipm.db-wal" "$IPM_HOME/ipm.db-shm"
echo "just some text, not a database" >"$IPM_HOME/ipm.db"
sum=$(cksum <"$IPM_HOME/ipm.db")
expect_fail 1 "is not an ipm database" "$IPM" list
expect_fail 1 "is not an ipm database" "$IPM" install --yes ripgrep
check "the foreign file is untouched" test "$(cksum <"$IPM_HOME/ipm.db")" = "$sum"
rm -f "$IPM_HOME/ipm.db"
if python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("create table t(x)"); c.commit()' "$IPM_HOME/ipm.db" 2>/dev/null; then
	sum=$(cksum <"$IPM_HOME/ipm.db")
	expect_fail 1 "is not an ipm database" "$IPM" install --yes ripgrep
	check "a foreign SQLite database is untouched" test "$(cksum <"$IPM_HOME/ipm.db")" = "$sum"
fi

done_testing
