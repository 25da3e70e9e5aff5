#!/bin/sh
# Feedback while ipm works. Without a terminal (this test's stderr is a
# file): a build names its log file; a step running for over a second gets a
# plain line naming it with its elapsed time; a slow download gets lines with
# its bytes; short steps get none; the step's output stays in the log. -v
# streams the output as well; -q shows none of it. On a terminal (a pseudo-
# terminal from python3): the step's line is redrawn in place with the time,
# and a git fetch shows its objects and bytes.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/git/slow" slow 1.0)
write_entry slow <<EOF
{ "name": "slow", "description": "a recipe with a slow step",
  "versions": [ { "version": "1.0", "git": "$work/git/slow", "commit": "$c" } ],
  "methods": [ { "build": ["echo first | tr a-z A-Z; sleep 2; echo last | tr a-z A-Z", "make"],
                 "install": ["make install"] } ] }
EOF
log=$IPM_CACHE/logs/slow-1.0.log

# Between installs of the same build, `clean --keep 1` drops its kept
# store tree and its local binary, so that the next install builds again.

# ---- not a terminal ----
expect_ok "$IPM" install -y slow
check "the build names its log file" grep -q "^building 'slow' 1.0 (log: $log) \.\.\.$" "$work/err"
check "the slow step gets a line: its number, command and time" \
	grep -Eq '^building slow: step 1/3 echo first \| tr a-z A-Z; sleep 2; echo last \| tr a-z A-Z \([12] s\)$' "$work/err"
check "a line, not a redrawn one (no carriage return, no escape)" sh -c '! grep -q "$(printf "\r\|\033")" "$1"' sh "$work/err"
check "the short steps get none" sh -c '! grep -q "step [23]/3" "$1"' sh "$work/err"
check "the step's output is not shown" sh -c '! grep -q -e FIRST -e LAST "$1"' sh "$work/err"
check "it is in the log" sh -c 'grep -qx FIRST "$1" && grep -qx LAST "$1"' sh "$log"
check "slow is installed and runs" sh -c '[ "$("$1/bin/slow")" = "slow 1.0" ]' sh "$IPM_PREFIX"
expect_ok "$IPM" remove -y slow
"$IPM" -q clean --keep 1 >/dev/null

expect_ok "$IPM" -v install -y slow
check "-v streams the step's output" sh -c 'grep -qx FIRST "$1" && grep -qx LAST "$1"' sh "$work/err"
check "-v: in order, around the step's progress line" sh -c \
	'grep -n -e "^FIRST$" -e "^building slow: step 1/3" -e "^LAST$" "$1" | cut -d: -f2- | tr "\n" "|" |
	 grep -q "^FIRST|building slow: step 1/3.*|LAST|$"' sh "$work/err"
check "-v: make's own output too" grep -q "^printf " "$work/err"
check "-v: and the log has it all the same" grep -qx LAST "$log"
expect_ok "$IPM" remove -y slow
"$IPM" -q clean --keep 1 >/dev/null

expect_ok "$IPM" -q install -y slow
check "-q: no progress, no log line, no output" sh -c '! grep -q -e building -e FIRST -e LAST -e "step 1/3" "$1"' sh "$work/err"
check "-q: installed all the same" sh -c '[ "$("$1/bin/slow")" = "slow 1.0" ]' sh "$IPM_PREFIX"
expect_ok "$IPM" -q remove -y slow
"$IPM" -q clean --keep 1 >/dev/null

# a failing step: the log is named in the error as well
write_entry broken <<EOF
{ "name": "broken", "description": "a failing recipe",
  "versions": [ { "version": "1.0", "git": "$work/git/slow", "commit": "$c" } ],
  "methods": [ { "build": ["echo about-to-fail; exit 3"], "install": ["make install"] } ] }
EOF
expect_fail 1 "step 'echo about-to-fail; exit 3' of 'broken' failed with exit status 3" "$IPM" install -y broken
check "the failure's hint names the log" grep -q "^hint: the full output is in '$IPM_CACHE/logs/broken-1.0.log'" "$work/err"

# a slow download: lines with its bytes, and its end
make_git_pkg "$work/pack/slowarc-1.0" slowarc 1.0 >/dev/null
rm -rf "$work/pack/slowarc-1.0/.git"
head -c 1500 /dev/urandom >"$work/pack/slowarc-1.0/noise.bin"
mkdir -p "$work/www"
tar -b 1 -C "$work/pack" -cf "$work/www/slowarc-1.0.tar" slowarc-1.0
sum=$(sha256sum "$work/www/slowarc-1.0.tar" | cut -d' ' -f1)
start_httpd "$work/www" || exit 1
export IPM_MIRRORS="$HTTP/=$HTTP/"
write_entry slowarc <<EOF
{ "name": "slowarc", "description": "an archive served slowly",
  "versions": [ { "version": "1.0", "url": "$HTTP/slow/slowarc-1.0.tar", "sha256": "$sum" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOF
expect_ok "$IPM" install -y slowarc
check "the download gets a line with its bytes so far and the total" \
	grep -Eq "^$HTTP/slow/slowarc-1.0.tar: [0-9.]+ (B|KiB) / [0-9.]+ KiB \([0-9.]+ (B|KiB)/s\)$" "$work/err"
check "and one with the end" grep -Eq "^$HTTP/slow/slowarc-1.0.tar: ([0-9.]+ KiB) / \1 " "$work/err"
check "a 5 s download: a line after its first second, then one every 10 s at most, and the end" \
	test "$(grep -c "^$HTTP/slow/" "$work/err")" -ge 2 -a "$(grep -c "^$HTTP/slow/" "$work/err")" -le 3
check "slowarc runs" sh -c '[ "$("$1/bin/slowarc")" = "slowarc 1.0" ]' sh "$IPM_PREFIX"
expect_ok "$IPM" -q remove -y slowarc
rm -rf "$IPM_CACHE/downloads"
expect_ok "$IPM" -q install -y slowarc
check "-q: no download lines" sh -c '! grep -q "/slow/" "$1"' sh "$work/err"

# ---- a terminal ----
# a package whose repository has a commit its mirror lacks (slow's is
# cached already); the mirror is made first: a local repository's first
# mirror links its objects, as git clone does, and transfers nothing;
# TERM set, since TERM=dumb (as CI may have) asks for plain lines
c=$(make_git_pkg "$work/git/fresh" fresh 1.0)
git_entry fresh 1.0 "$work/git/fresh" "$c"
"$IPM" -q install -y fresh >/dev/null 2>&1
"$IPM" -q remove -y fresh >/dev/null 2>&1
c=$(make_git_pkg "$work/git/fresh" fresh 1.1)
git_entry fresh 1.1 "$work/git/fresh" "$c"
if python3 -c 'import pty' 2>/dev/null; then
	# on_tty.py COLUMNS OUT ARGS...: runs ARGS on a pseudo-terminal that wide,
	# everything written to it in OUT; exits with the program's status
	cat >"$work/on_tty.py" <<'EOF'
import fcntl, os, pty, struct, sys, termios
cols, out_path, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    os.execv(argv[0], argv)
out = b""
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
open(out_path, "wb").write(out)
sys.exit(os.waitstatus_to_exitcode(status))
EOF
	TERM=xterm python3 "$work/on_tty.py" 200 "$work/tty.out" "$IPM" install -y fresh slow
	rc=$?
	check "on a terminal: the install works" test "$rc" -eq 0
	check "on a terminal: the step's line is redrawn in place with its time" \
		grep -qF "$(printf '\r\033[K')building slow: step 1/3 echo first | tr a-z A-Z; sleep 2; echo last | tr a-z A-Z (1 s)" "$work/tty.out"
	check "on a terminal: the short steps show too, while they run" grep -q "building slow: step 2/3 make (0 s)" "$work/tty.out"
	check "on a terminal: the git fetch shows objects and bytes" grep -Eq ": [0-9]+/[0-9]+ objects, [0-9.]+ (B|KiB)" "$work/tty.out"
	check "on a terminal: the step's line is gone before the result" \
		grep -q "$(printf '\r\033\\[K')installed fresh 1.1" "$work/tty.out"
	check "on a terminal: the output is not shown" sh -c '! grep -q -e FIRST -e LAST "$1"' sh "$work/tty.out"

	# a narrow terminal: each redrawn line is cut to fit, or \r could not redraw it
	"$IPM" -q remove -y slow
	"$IPM" -q clean --keep 1 >/dev/null
	TERM=xterm python3 "$work/on_tty.py" 40 "$work/tty40.out" "$IPM" install -y slow
	rc=$?
	check "a 40-column terminal: the install works" test "$rc" -eq 0
	check "a 40-column terminal: the step's line is cut to 39 columns" python3 -c '
import sys
data = open(sys.argv[1], "rb").read()
drawn = [p.split(b"\r")[0].split(b"\n")[0] for p in data.split(b"\r\x1b[K")[1:]]
steps = [d for d in drawn if d.startswith(b"building slow: step")]
sys.exit(0 if steps and all(len(d) <= 39 for d in steps) and any(d.startswith(b"building slow: step 1/3 echo f") for d in steps) else 1)' "$work/tty40.out"
else
	ok "# SKIP no python3 pty module"
fi
done_testing
