#!/bin/sh
# Faults an adversarial run found, each with what must hold now:
#   - a read-only home is readable: list, info and search work;
#   - ipm's temporary link names never take another file's place;
#   - registry text reaches the terminal escaped (info, search);
#   - a dry run runs nothing from the entry (not `TOOL --version`);
#   - the links and the journal are fsynced with their directories;
#   - as an unprivileged user: read-only directories left by a recipe in
#     the build tree or the store are deleted, a clean-up that fails is a
#     warning that blocks nothing else, and `remove` on a read-only prefix
#     fails, changes nothing and can be retried.
# The unprivileged parts run as "nobody" when the test runs as root (root
# ignores permissions), as the user itself otherwise.
. "$(dirname "$0")/lib.sh"

real_ipm=$IPM
c=$(make_git_pkg "$work/src/hello" hello 1.0)
git_entry hello 1.0 "file://$work/src/hello" "$c"

# ---- a user who cannot write IPM_HOME can read it ----
expect_ok "$IPM" install --yes hello
if [ "$(id -u)" = 0 ] && setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	reader="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	chmod 711 "$work"
	chmod -R a+rX "$IPM_HOME" "$REG" "$IPM_PREFIX" "$work/src"
elif [ "$(id -u)" != 0 ]; then
	reader=""
	chmod -R a-w "$IPM_HOME"
else
	reader=none
fi
if [ "$reader" = none ]; then
	ok "# skip read-only home: cannot drop root privileges here (no setpriv)"
else
	ls -A "$IPM_HOME" >"$work/home.before"
	sum_before=$(cksum <"$IPM_HOME/ipm.db")
	expect_ok $reader "$IPM" list
	check "list shows the package" grep -q "^hello  *1.0" "$work/out"
	expect_ok $reader "$IPM" list --json
	check "list --json is JSON" json_valid "$work/out"
	expect_ok $reader "$IPM" info hello
	check "info shows it installed" grep -q "^installed: *1.0" "$work/out"
	expect_ok $reader "$IPM" search hello
	check "search finds it" grep -q "^hello  *test package hello" "$work/out"
	ls -A "$IPM_HOME" >"$work/home.after"
	check "reading left no file in the home" cmp "$work/home.before" "$work/home.after"
	check "reading did not change the database" test "$(cksum <"$IPM_HOME/ipm.db")" = "$sum_before"
	# an edited registry, which this user cannot import: shown as imported
	sleep 1
	touch "$REG/packages/hello.json"
	expect_ok $reader "$IPM" info hello
	check "a stale index is said, not fatal" grep -q "warning: the registry index .* is out of date" "$work/err"
	[ "$reader" = "" ] && chmod -R u+w "$IPM_HOME"
fi
expect_ok "$IPM" remove --yes hello

# ---- temporary link names take no one's place ----
mkdir -p "$IPM_PREFIX/bin"
echo "the user's own file" >"$IPM_PREFIX/bin/hello.ipm-new"
expect_ok "$IPM" install --yes hello
check "a user's file named like the old temporary link survives install" \
	test "$(cat "$IPM_PREFIX/bin/hello.ipm-new")" = "the user's own file"
check "no temporary link is left" sh -c '! ls -A "$1" | grep -q ipm-tmp' sh "$IPM_PREFIX/bin"
expect_ok "$IPM" remove --yes hello
check "and survives remove" test "$(cat "$IPM_PREFIX/bin/hello.ipm-new")" = "the user's own file"
rm -f "$IPM_PREFIX/bin/hello.ipm-new"
# another package's link with that name
write_entry newname <<EOF
{ "name": "newname", "description": "installs bin/hello.ipm-new",
  "versions": [ { "version": "1.0", "git": "file://$work/src/hello", "commit": "$c" } ],
  "methods": [ { "install": ["mkdir -p \$DESTDIR\$IPM_PREFIX/bin && echo other > \$DESTDIR\$IPM_PREFIX/bin/hello.ipm-new"] } ] }
EOF
expect_ok "$IPM" install --yes newname
expect_ok "$IPM" install --yes hello
check "another package's link named like it survives" test "$(cat "$IPM_PREFIX/bin/hello.ipm-new")" = other
expect_ok "$IPM" remove --yes hello newname
check "no link is left" test -z "$(find "$IPM_PREFIX" -type l)"

# ---- registry text is shown escaped ----
esc=$(printf '\033')
rlo=$(printf '\342\200\256')
write_entry shady <<EOF
{ "name": "shady", "description": "clean text${esc}[2J${esc}[Hhidden ${rlo}txet desrever",
  "homepage": "https://example.org/${esc}]8;;https://evil.example/${esc}\\\\",
  "keywords": ["k${esc}[31m"],
  "versions": [ { "version": "1.0", "git": "file://$work/src/hello", "commit": "$c" } ],
  "methods": [ { "name": "m${esc}[8m", "build": ["make"], "install": ["make install"] } ] }
EOF
expect_ok "$IPM" info shady
check "info prints no escape character" sh -c '! grep -q "$(printf "\033")" "$1"' sh "$work/out"
check "info prints no bidi override" sh -c '! grep -q "$(printf "\342\200\256")" "$1"' sh "$work/out"
check "info shows the description escaped" grep -q 'clean text\\x1b\[2J\\x1b\[Hhidden \\u202etxet desrever' "$work/out"
check "info shows the homepage escaped" grep -q 'https://example.org/\\x1b\]8;;' "$work/out"
check "info shows keywords and methods escaped" grep -q 'k\\x1b\[31m' "$work/out"
expect_ok "$IPM" search shady
check "search prints no escape character" sh -c '! grep -q "$(printf "\033")" "$1"' sh "$work/out"
check "search prints no bidi override" sh -c '! grep -q "$(printf "\342\200\256")" "$1"' sh "$work/out"
check "search shows the description escaped" grep -q 'clean text\\x1b\[2J' "$work/out"
expect_ok "$IPM" info --json shady
check "--json keeps the text itself (JSON escapes it)" \
	test "$(json_get "$work/out" 'd["description"] == "clean text\x1b[2J\x1b[Hhidden \u202etxet desrever"')" = True
check "--json holds no raw escape character" sh -c '! grep -q "$(printf "\033")" "$1"' sh "$work/out"

# ---- a dry run runs nothing from the entry ----
mkdir -p "$work/tools"
cat >"$work/tools/ipm-probe-tool" <<EOF
#!/bin/sh
touch "$work/probe-ran"
echo "ipm-probe-tool 2.1.0"
EOF
chmod 755 "$work/tools/ipm-probe-tool"
write_entry probed <<EOF
{ "name": "probed", "description": "requires a tool",
  "versions": [ { "version": "1.0", "git": "file://$work/src/hello", "commit": "$c" } ],
  "requires": [ { "tool": "ipm-probe-tool", "version": ">=2.0" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
expect_ok env PATH="$work/tools:$PATH" "$IPM" install --dry-run probed
check "the dry run did not run the required tool" test ! -e "$work/probe-ran"
write_entry needmissing <<EOF
{ "name": "needmissing", "description": "requires a missing tool",
  "versions": [ { "version": "1.0", "git": "file://$work/src/hello", "commit": "$c" } ],
  "requires": [ { "tool": "ipm-no-such-tool", "version": ">=1.0" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
expect_fail 1 "'ipm-no-such-tool' is required by 'needmissing' but not found on PATH" \
	"$IPM" install --dry-run needmissing
expect_ok env PATH="$work/tools:$PATH" "$IPM" install --yes probed
check "a real install does check the version (runs it)" test -e "$work/probe-ran"
expect_ok "$IPM" remove --yes probed

# ---- durability: fsync of the directories a commit changed ----
if command -v strace >/dev/null 2>&1 && strace -f -y -e trace=fsync true >/dev/null 2>&1; then
	strace -f -y -e trace=fsync -o "$work/strace.install" "$IPM" install --yes hello >/dev/null 2>&1
	check "install fsyncs the prefix's bin/ before the commit" grep -q "fsync([0-9]*<$IPM_PREFIX/bin>" "$work/strace.install"
	check "install fsyncs the new share/hello/" grep -q "fsync([0-9]*<$IPM_PREFIX/share/hello>" "$work/strace.install"
	check "install fsyncs the prefix (new directories in it)" grep -q "fsync([0-9]*<$IPM_PREFIX>" "$work/strace.install"
	check "the journal's directory is fsynced" grep -q "fsync([0-9]*<$IPM_HOME/journal>" "$work/strace.install"
	strace -f -y -e trace=fsync -o "$work/strace.remove" "$IPM" remove --yes hello >/dev/null 2>&1
	check "remove fsyncs the directories it emptied" grep -q "fsync([0-9]*<$IPM_PREFIX>" "$work/strace.remove"
	check "remove fsyncs the journal's directory" grep -q "fsync([0-9]*<$IPM_HOME/journal>" "$work/strace.remove"
else
	ok "# skip fsync checks: strace is not installed"
fi
check "hello is removed" test ! -e "$IPM_PREFIX/bin/hello"

# ---- as an unprivileged user ----
U=$work/u
if [ "$(id -u)" = 0 ]; then
	if setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
		as_user="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	else
		as_user=none
	fi
else
	as_user=""
fi
if [ "$as_user" = none ]; then
	ok "# skip unprivileged checks: cannot drop root privileges here (no setpriv)"
	done_testing
	exit
fi
mkdir -p "$U"
export HOME=$U/userhome IPM_HOME=$U/home IPM_PREFIX=$U/prefix IPM_CACHE=$U/cache IPM_CONFIG=$U/config.json
REG=$U/registry
export IPM_REGISTRY=$REG
mkdir -p "$HOME" "$REG/packages"
cp "$work/registry/registry.json" "$REG/"
cu=$(make_git_pkg "$U/src/hello" hello 1.0)
git_entry hello 1.0 "file://$U/src/hello" "$cu"
cv=$(make_git_pkg "$U/src/victim" victim 1.0)
git_entry victim 1.0 "file://$U/src/victim" "$cv"
cr=$(make_git_pkg "$U/src/rostore" rostore 1.0)
write_entry rofail <<EOF
{ "name": "rofail", "description": "fails, leaving a read-only tree in its build directory",
  "versions": [ { "version": "1.0", "git": "file://$U/src/hello", "commit": "$cu" } ],
  "methods": [ { "build": ["make", "mkdir -p junk/sub && touch junk/sub/f && chmod 555 junk/sub junk . && false"],
                 "install": ["make install"] } ] }
EOF
write_entry rostore <<EOF
{ "name": "rostore", "description": "installs a read-only directory",
  "versions": [ { "version": "1.0", "git": "file://$U/src/rostore", "commit": "$cr" } ],
  "methods": [ { "build": ["make"],
                 "install": ["make install", "mkdir -p \$DESTDIR\$IPM_PREFIX/share/rostore/locked && touch \$DESTDIR\$IPM_PREFIX/share/rostore/locked/f && chmod 555 \$DESTDIR\$IPM_PREFIX/share/rostore/locked \$DESTDIR\$IPM_PREFIX/share/rostore"] } ] }
EOF
if [ -n "$as_user" ]; then
	chmod 711 "$work"
	chown -R nobody "$U"
	# every ipm below runs as that user, state_snapshot's too
	printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$as_user" "$real_ipm" >"$work/ipm-as-user"
	chmod 755 "$work/ipm-as-user"
	IPM=$work/ipm-as-user
fi
if ! "$IPM" --version >/dev/null 2>&1; then
	ok "# skip unprivileged checks: the unprivileged user cannot run '$real_ipm'"
	done_testing
	exit
fi

# a read-only tree left in the build directory by a failed build
expect_fail 1 "step .* of 'rofail' failed" "$IPM" install --yes rofail
check "the failed build's tree is kept for inspection" test -d "$IPM_HOME/build/rofail-1.0/junk/sub"
expect_ok "$IPM" install --yes hello
check "the next command removed it" test ! -e "$IPM_HOME/build/rofail-1.0"

# a read-only directory in the store
expect_ok "$IPM" install --yes rostore
check "the store holds the read-only directory" test -d "$IPM_HOME/store/rostore/1.0/share/rostore/locked"
expect_ok "$IPM" remove --yes rostore
check "remove kept its store tree, for rollback" test -d "$IPM_HOME/store/rostore/1.0/share/rostore/locked"
check "and left no journal" test -z "$(ls -A "$IPM_HOME/journal")"
expect_ok "$IPM" clean --keep 1
check "clean deleted the store tree with its read-only directory" test ! -e "$IPM_HOME/store/rostore"

# a clean-up that fails is a warning, not a failure of unrelated commands
mkdir -p "$IPM_HOME/build/stuck/theirs"
echo x >"$IPM_HOME/build/stuck/theirs/f"
[ -n "$as_user" ] && chown nobody "$IPM_HOME/build" "$IPM_HOME/build/stuck"
chmod 555 "$IPM_HOME/build/stuck/theirs"
[ -z "$as_user" ] && chmod 555 "$IPM_HOME/build/stuck"
expect_ok "$IPM" list
expect_ok "$IPM" install --yes victim
check "installing warned about the build tree it could not clean" grep -q "warning: cannot clean up old build trees" "$work/err"
check "and installed" test -x "$IPM_PREFIX/bin/victim"
chmod 755 "$IPM_HOME/build/stuck/theirs" "$IPM_HOME/build/stuck"
[ -n "$as_user" ] && chown -R nobody "$IPM_HOME/build/stuck"

# an interrupted install whose links cannot be undone now: recovery warns,
# keeps everything it cannot finish (no dangling link), and other commands
# go on; the same package waits until it can be finished
mkdir -p "$IPM_HOME/store/ghost/1.0/lib" "$IPM_HOME/journal" "$IPM_PREFIX/lib"
echo ghost >"$IPM_HOME/store/ghost/1.0/lib/ghost"
ln -s "$IPM_HOME/store/ghost/1.0/lib/ghost" "$IPM_PREFIX/lib/ghost"
cat >"$IPM_HOME/journal/ghost.json" <<EOF
{ "uuid": "0123456789abcdef0123456789abcdef", "prefix": "$IPM_PREFIX",
  "ops": [ { "name": "ghost", "tag": "00000000000000aa", "store": "$IPM_HOME/store/ghost/1.0", "fresh": true,
             "links": [ { "path": "lib/ghost", "new": "$IPM_HOME/store/ghost/1.0/lib/ghost" } ],
             "mkdirs": [ "lib" ] } ] }
EOF
cg=$(make_git_pkg "$U/src/ghost" ghost 1.0)
git_entry ghost 1.0 "file://$U/src/ghost" "$cg"
[ -n "$as_user" ] && chown -R nobody "$IPM_HOME" "$IPM_PREFIX" "$REG"
chmod 555 "$IPM_PREFIX/lib"
expect_ok "$IPM" remove --yes victim
check "recovery's failure is a warning" grep -q "warning: cannot finish cleaning up after an interrupted ipm ('ghost')" "$work/err"
check "the link it could not remove still works" test "$(cat "$IPM_PREFIX/lib/ghost")" = ghost
check "the journal is kept" test -e "$IPM_HOME/journal/ghost.json"
expect_fail 1 "an earlier change of 'ghost' is not finished" "$IPM" install --yes ghost
expect_ok "$IPM" clean --keep 1
check "clean keeps the store tree an unfinished change links to" test -e "$IPM_HOME/store/ghost/1.0/lib/ghost"
chmod 755 "$IPM_PREFIX/lib"
expect_ok "$IPM" list
check "once writable, the next command finished it" test ! -e "$IPM_PREFIX/lib/ghost" -a ! -e "$IPM_HOME/store/ghost"
check "and dropped the journal" test ! -e "$IPM_HOME/journal/ghost.json"

# remove on a read-only prefix: an error, nothing changed, and a retry works
chmod 555 "$IPM_PREFIX/bin" "$IPM_PREFIX"
state_snapshot "$work/before"
expect_fail 1 "cannot remove link '$IPM_PREFIX/bin/hello': Permission denied" "$IPM" remove --yes hello
check "the hint says what to do" grep -q "^hint: make '$IPM_PREFIX/bin' writable" "$work/err"
same_state "a remove that cannot remove the links changes nothing" "$work/before"
check "the link still works" test "$("$IPM_PREFIX/bin/hello")" = "hello 1.0"
chmod 755 "$IPM_PREFIX/bin" "$IPM_PREFIX"
expect_ok "$IPM" remove --yes hello
check "once writable, remove completes" test ! -e "$IPM_PREFIX/bin/hello" -a -d "$IPM_HOME/store/hello/1.0"
expect_ok "$IPM" list --json
check "nothing is installed" test "$(json_get "$work/out" 'len(d)')" = 0
check "no link is left in the prefix" test -z "$(find "$IPM_PREFIX" -type l)"

done_testing
