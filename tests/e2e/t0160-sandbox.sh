#!/bin/sh
# Recipe steps run contained (bubblewrap): they cannot read or write the
# user's HOME, write the prefix, reach a server on 127.0.0.1, leave a process
# behind, hand out set-user-ID files, or be taken over by a bin/make another
# package installed; a step that runs too long is stopped and said so; the
# plan says whether steps are contained, and "sandbox": "required" refuses
# to run them uncontained.
. "$(dirname "$0")/lib.sh"

export IPM_MIRRORS="https://git.example.org/=file://$work/git/"
GIT=https://git.example.org
mkdir -p "$work/git"

if ! command -v bwrap >/dev/null 2>&1; then
	ok "# skip bubblewrap is not installed"
	done_testing
	exit 0
fi

# probe_pkg NAME STEPS_JSON: a package whose install steps are STEPS_JSON
# (after a make install of a bin/NAME script).
probe_pkg() {
	make_git_pkg "$work/git/$1" "$1" 1.0 >/dev/null
	_c=$(git -C "$work/git/$1" rev-parse HEAD)
	write_entry "$1" <<EOF
{ "name": "$1", "description": "sandbox probe $1",
  "versions": [ { "version": "1.0", "git": "$GIT/$1", "commit": "$_c" } ],
  "methods": [ { "build": ["make"], "install": ["make install", $2] } ] }
EOF
}
# probe NAME: what the probe package NAME wrote into share/probe/NAME.
probe() { cat "$IPM_PREFIX/share/probe/$1" 2>/dev/null; }
out='mkdir -p \"$DESTDIR$IPM_PREFIX/share/probe\"'

# ---- the plan says it ----
probe_pkg plain '"true"'
expect_ok "$IPM" install --dry-run plain
check "the plan says steps run in a sandbox" grep -q "recipe steps run in a sandbox (bubblewrap)" "$work/out"

# ---- HOME: private and empty; the user's files out of sight ----
mkdir -p "$HOME/.ssh"
echo "secret key" >"$HOME/.ssh/id_ed25519"
probe_pkg home "\"$out; (cat '$HOME/.ssh/id_ed25519' 2>/dev/null || echo hidden) > \\\"\$DESTDIR\$IPM_PREFIX/share/probe/home\\\"; echo pwned > \\\"\$HOME/pwned\\\"; echo pwned > '$HOME/pwned2' || true; ls -A \\\"\$HOME\\\" > \\\"\$DESTDIR\$IPM_PREFIX/share/probe/home-ls\\\"\""
expect_ok "$IPM" install -y home
check "the user's ~/.ssh could not be read" test "$(probe home)" = "hidden"
check "HOME was empty" test "$(probe home-ls)" = "pwned"
check "nothing was written into the user's HOME" test ! -e "$HOME/pwned" -a ! -e "$HOME/pwned2"
check "~/.ssh is untouched" test "$(cat "$HOME/.ssh/id_ed25519")" = "secret key"

# ---- the prefix and the rest of the system are read-only ----
probe_pkg writer "\"touch \\\"\$IPM_PREFIX/evil\\\"\""
snapshot_file=$work/before
"$IPM" search writer >/dev/null 2>&1
state_snapshot "$snapshot_file"
expect_fail 1 "step 'touch .*' of 'writer' failed" "$IPM" install -y writer
check "the step was refused by the file system" grep -q "Read-only file system" "$work/err"
same_state "nothing changed" "$snapshot_file"
probe_pkg tmpfile "\"echo x > /tmp/ipm-sandbox-probe-$$\""
expect_ok "$IPM" install -y tmpfile
check "/tmp is private" test ! -e "/tmp/ipm-sandbox-probe-$$"

# ---- no network, not even 127.0.0.1 ----
mkdir -p "$work/www" && echo hello >"$work/www/x"
start_httpd "$work/www" || exit 1
probe_pkg net "\"$out; python3 -c 'import socket; socket.create_connection((\\\"127.0.0.1\\\", $PORT), 2)' 2>/dev/null && echo reached > \\\"\$DESTDIR\$IPM_PREFIX/share/probe/net\\\" || echo blocked > \\\"\$DESTDIR\$IPM_PREFIX/share/probe/net\\\"\""
expect_ok "$IPM" install -y net
check "a step cannot connect to a server on 127.0.0.1" test "$(probe net)" = "blocked"
check "the server saw no request" test ! -s "$HTTPD_LOG"

# ---- nothing a step starts outlives it ----
probe_pkg daemon '"setsid sh -c \"sleep 62\" >/dev/null 2>&1 &"'
expect_ok "$IPM" install -y daemon
check "no process of the step survives it" sh -c '! pgrep -f "[s]leep 62" >/dev/null'

# ---- set-user-ID bits are stripped ----
probe_pkg suid '"chmod 4755 \"$DESTDIR$IPM_PREFIX/bin/suid\"", "chmod 2755 \"$DESTDIR$IPM_PREFIX/share/suid/README\""'
expect_ok "$IPM" install -y suid
check "bin/suid is 755, not 4755" test "$(stat -L -c %a "$IPM_PREFIX/bin/suid")" = 755
check "no set-group-ID file either" test "$(stat -L -c %a "$IPM_PREFIX/share/suid/README")" = 755
check "the files are the user's" test "$(stat -L -c %u "$IPM_PREFIX/bin/suid")" = "$(id -u)"

# ---- a package's bin/make does not take over later builds ----
mkdir -p "$work/git/hijack"
cat >"$work/git/hijack/make" <<'EOF'
#!/bin/sh
echo "hijacked make" >&2
exit 99
EOF
chmod 755 "$work/git/hijack/make"
(cd "$work/git/hijack" && git init -q && git add -A && git commit -q -m hijack)
ch=$(git -C "$work/git/hijack" rev-parse HEAD)
write_entry hijack <<EOF
{ "name": "hijack", "description": "installs bin/make",
  "versions": [ { "version": "1.0", "git": "$GIT/hijack", "commit": "$ch" } ],
  "methods": [ { "install": ["mkdir -p \"\$DESTDIR\$IPM_PREFIX/bin\" && cp make \"\$DESTDIR\$IPM_PREFIX/bin/make\""] } ] }
EOF
expect_ok "$IPM" install -y hijack
probe_pkg later '"true"'
expect_ok "$IPM" install -y later
check "a later build used the system's make" sh -c '! grep -q "hijacked make" "$1"/cache/logs/later-1.0.log' sh "$work"

# ---- a step that runs too long is stopped ----
printf '{ "step_timeout": 1 }\n' >"$IPM_CONFIG"
probe_pkg slow '"sleep 30"'
"$IPM" search slow >/dev/null 2>&1
state_snapshot "$work/before"
t0=$(date +%s)
expect_fail 1 "step 'sleep 30' of 'slow' was stopped after the step_timeout of 1 s" "$IPM" install -y slow
check "it was stopped at once" test $(($(date +%s) - t0)) -lt 10
check "with a hint naming the setting" grep -q 'hint: raise "step_timeout"' "$work/err"
same_state "nothing of it was installed" "$work/before"
rm -f "$IPM_CONFIG"

# ---- without bubblewrap: said in the plan; "required" refuses ----
expect_ok env IPM_BWRAP=/nonexistent/bwrap "$IPM" install --dry-run plain
check "the plan says steps run uncontained, and why" grep -q "recipe steps run WITHOUT a sandbox (bubblewrap ('/nonexistent/bwrap') is not installed)" "$work/out"
printf '{ "sandbox": "required" }\n' >"$IPM_CONFIG"
state_snapshot "$work/before"
expect_fail 1 "recipe steps cannot be contained here: bubblewrap \('/nonexistent/bwrap'\) is not installed" env IPM_BWRAP=/nonexistent/bwrap "$IPM" install -y plain
check "with a hint" grep -q 'hint: install bubblewrap, or set "sandbox": "auto"' "$work/err"
same_state "the refusal changed nothing" "$work/before"
expect_ok "$IPM" install -y plain
printf '{ "sandbox": "nope" }\n' >"$IPM_CONFIG"
expect_fail 1 "sandbox" "$IPM" install -y plain
rm -f "$IPM_CONFIG"

done_testing
