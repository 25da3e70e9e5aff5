#!/bin/sh
# No hangs, bounded resources: servers on 127.0.0.1 that trickle, stall,
# never accept or flood, against small limits from the config file. Each
# failure is quick, is one message naming the URL and the limit with a hint
# naming the config key, exits 1, changes nothing and leaves the lock free.
# Also: an archive release's "size", the index size limit, extraction
# limits (total bytes, ratio), and bad "timeouts"/"limits" in the config.
. "$(dirname "$0")/lib.sh"

BAD=$TOP/tests/tools/badhttpd.py
# start_bad VAR MODE [ARG]: a misbehaving server; sets VAR to its base URL
# (killed on exit with the test's other background processes)
nbad=0
start_bad() {
	nbad=$((nbad + 1))
	_pf=$work/bad$nbad.port
	python3 "$BAD" "$2" "$_pf" ${3:+"$3"} </dev/null >/dev/null 2>"$work/bad$nbad.err" &
	bg_pids="$bg_pids $!"
	_i=0
	while [ ! -s "$_pf" ]; do
		_i=$((_i + 1))
		[ $_i -gt 200 ] && { echo "# badhttpd $2 did not start" >&2; return 1; }
		sleep 0.05
	done
	eval "$1=http://127.0.0.1:$(cat "$_pf")"
}

# quick DESC MAX CMD...: like expect_fail 1, and the command took at most
# MAX seconds (what "does not hang" means here)
quick() {
	_desc=$1 _max=$2
	shift 2
	_t0=$(date +%s%N)
	"$@" >"$work/out" 2>"$work/err" </dev/null
	_rc=$?
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	if [ "$_rc" -eq 1 ] && [ "$_ms" -le $((_max * 1000)) ]; then
		ok "$_desc (exit 1 in ${_ms} ms)"
	else
		not_ok "$_desc (exit $_rc in ${_ms} ms, at most ${_max} s wanted)"
		diag "$work/err"
	fi
}

# errline PATTERN: the error is one "ipm: error:" line matching PATTERN
errline() {
	if [ "$(grep -c "^ipm: error:" "$work/err")" -eq 1 ] && grep "^ipm: error:" "$work/err" | grep -Eq -- "$1"; then
		ok "error: /$1/"
	else
		not_ok "error: /$1/"
		diag "$work/err"
	fi
}
hint() {
	check "hint names $1" grep -Eq "^hint: raise \"${1%%.*}\": \\{ \"${1#*.}\"" "$work/err"
}
# lock_free: another command that takes the lock runs at once
lock_free() {
	check "the lock is free afterwards" env IPM_LOCK_TIMEOUT=0 "$IPM" update
}

# config [TIMEOUTS [LIMITS]]: the config file with these "timeouts" and
# "limits" (default: small ones)
config() {
	_t=${1:-'"connect": 1, "low_speed_time": 1, "low_speed_limit": 100, "total": 30'}
	_l=${2:-'"download_bytes": 1048576, "index_bytes": 65536'}
	printf '{ "timeouts": { %s },\n  "limits": { %s } }\n' "$_t" "$_l" >"$IPM_CONFIG"
}
config

# An archive package that works, served by the plain test server.
make_git_pkg "$work/pack/tarpkg-1.2" tarpkg 1.2 >/dev/null
rm -rf "$work/pack/tarpkg-1.2/.git"
mkdir -p "$work/www"
tar -C "$work/pack" -czf "$work/www/tarpkg-1.2.tar.gz" tarpkg-1.2
sum=$(sha256sum "$work/www/tarpkg-1.2.tar.gz" | cut -d' ' -f1)
size=$(wc -c <"$work/www/tarpkg-1.2.tar.gz" | tr -d ' ')
start_httpd "$work/www" || exit 1

start_bad stall stall || exit 1
start_bad unaccepted unaccepted || exit 1
start_bad trickle trickle "$work/www/tarpkg-1.2.tar.gz" || exit 1
start_bad flood flood || exit 1
start_bad biglength length 10485760 || exit 1
start_bad bigerror error 10485760 || exit 1
head -c 500000 /dev/urandom >"$work/big.bin"
start_bad chunked_big chunked "$work/big.bin" || exit 1
head -c 100 /dev/urandom >"$work/small.bin"
start_bad chunked_small chunked "$work/small.bin" || exit 1
# plain http:// sources need the user's own mirror rule (t0330 tests the
# refusal): map each server to itself
IPM_MIRRORS=""
for u in "$HTTP" "$stall" "$unaccepted" "$trickle" "$flood" "$biglength" "$bigerror" "$chunked_big" "$chunked_small"; do
	IPM_MIRRORS="$IPM_MIRRORS $u/=$u/"
done
export IPM_MIRRORS

archive_entry() { # NAME URL SHA256 [EXTRA_JSON]
	write_entry "$1" <<EOF
{ "name": "$1", "description": "archive package $1",
  "versions": [ { "version": "1.2", "url": "$2", "sha256": "$3" ${4:-} } ],
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ] }
EOF
}
no_partial() {
	check "no partial download is left" test -z "$(ls "$IPM_CACHE/downloads" | grep -v "^$sum\$")"
}

archive_entry good "$HTTP/tarpkg-1.2.tar.gz" "$sum" ", \"size\": $size"
expect_ok "$IPM" install --yes good
check "an archive of its declared size installs" test -x "$IPM_PREFIX/bin/tarpkg"

# ---- downloads ----
# (a checksum the cache does not hold, so that each download is tried)
other=1111111111111111111111111111111111111111111111111111111111111111
archive_entry stalled "$stall/x.tar.gz" "$other"
archive_entry trickled "$trickle/x.tar.gz" "$other"
archive_entry unreachable "$unaccepted/x.tar.gz" "$other"
archive_entry flooded "$flood/x.tar.gz" "$other"
archive_entry announced "$biglength/x.tar.gz" "$other"
archive_entry failing "$bigerror/x.tar.gz" "$other"
archive_entry grown "$chunked_big/tarpkg-1.2.tar.gz" "$other" ", \"size\": $size"
archive_entry shrunk "$chunked_small/tarpkg-1.2.tar.gz" "$other" ", \"size\": $size"
"$IPM" info stalled >/dev/null 2>&1
state_snapshot "$work/before"

quick "a server that accepts and never answers" 5 "$IPM" install --yes stalled
errline "'$stall/x.tar.gz': the transfer stalled: less than 100 bytes a second for 1 s"
hint timeouts.low_speed_time
check "the hint names the config file" grep -q "in '$IPM_CONFIG'" "$work/err"
same_state "a stalled download changes nothing" "$work/before"
no_partial
lock_free

quick "a server that sends a byte every 0.4 s" 5 "$IPM" install --yes trickled
errline "'$trickle/x.tar.gz': the transfer stalled"
same_state "a trickled download changes nothing" "$work/before"

quick "a server that never accepts" 5 "$IPM" install --yes unreachable
errline "'$unaccepted/x.tar.gz': cannot connect within 1 s"
hint timeouts.connect
same_state "a connect timeout changes nothing" "$work/before"

quick "an endless chunked answer" 10 "$IPM" install --yes flooded
errline "'$flood/x.tar.gz': larger than the limit of 1048576 bytes"
hint limits.download_bytes
same_state "an endless download changes nothing" "$work/before"
no_partial

quick "a Content-Length over the limit" 5 "$IPM" install --yes announced
errline "'$biglength/x.tar.gz': larger than the limit of 1048576 bytes"
same_state "an announced oversize changes nothing" "$work/before"

# an error page over the limit: the status is what went wrong
quick "an error page larger than the limit" 5 "$IPM" install --yes failing
errline "'$bigerror/x.tar.gz': HTTP 503"
same_state "an error page changes nothing" "$work/before"
no_partial

# The total time: the trickle passes a low-speed limit of 1 byte a second,
# not a total of 2 s.
config '"connect": 1, "low_speed_time": 1, "low_speed_limit": 1, "total": 2'
quick "a download past the total time" 6 "$IPM" install --yes trickled
errline "'$trickle/x.tar.gz': the transfer took longer than 2 s"
hint timeouts.total
same_state "a download past the total time changes nothing" "$work/before"
config
lock_free

# ---- an archive's declared size ----
# The URL serves a bigger file, chunked (no length to refuse up front): it
# is abandoned as it outgrows the size, not at the end by its sha256.
quick "a download larger than its declared size" 5 "$IPM" install --yes grown
errline "'$chunked_big/tarpkg-1.2.tar.gz': larger than the $size bytes its registry entry declares"
check "said before any sha256 mismatch" sh -c '! grep -q "sha256 mismatch" "$1"' sh "$work/err"
same_state "an oversized archive changes nothing" "$work/before"
quick "a download shorter than its declared size" 5 "$IPM" install --yes shrunk
errline "'$chunked_small/tarpkg-1.2.tar.gz': 100 bytes, but its registry entry declares $size"
same_state "a short archive changes nothing" "$work/before"
no_partial

# ---- registry indexes ----
expect_ok "$IPM" registry add --insecure huge "$flood/index.json"
quick "an endless index" 5 "$IPM" update
errline "'$flood/index.json': larger than the limit of 65536 bytes"
hint limits.index_bytes
expect_ok "$IPM" registry remove huge
expect_ok "$IPM" registry add --insecure failing "$bigerror/index.json"
quick "an index server's error page over the limit" 5 "$IPM" update
errline "'$bigerror/index.json': HTTP 503"
expect_ok "$IPM" registry remove failing
expect_ok "$IPM" registry add --insecure slow "$stall/index.json"
quick "an index server that never answers" 5 "$IPM" update
errline "'$stall/index.json': the transfer stalled"
expect_ok "$IPM" registry remove slow
same_state "failed index updates change nothing" "$work/before"

# ---- git fetches (libgit2): a stalled server over each transport ----
for url in "$stall/repo.git" "git://${stall#http://}/repo.git" "ssh://git@${stall#http://}/repo.git"; do
	expect_ok "$IPM" registry add --insecure gitreg "$url"
	quick "a git fetch from a stalled server: ${url%%:*}" 5 "$IPM" update
	errline "'$url': the transfer stalled: less than 100 bytes a second for 1 s"
	expect_ok "$IPM" registry remove gitreg
done
expect_ok "$IPM" registry add --insecure gitreg "$unaccepted/repo.git"
quick "a git fetch from a server that never accepts" 5 "$IPM" update
errline "'$unaccepted/repo.git': cannot connect within 1 s"
hint timeouts.connect
expect_ok "$IPM" registry remove gitreg
check "no half-made mirror is left" test -z "$(ls "$IPM_CACHE/git" 2>/dev/null)"
same_state "failed fetches change nothing" "$work/before"
lock_free

# ---- extraction ----
# 70 MB of zeros in a tarball of about 70 KB: a thousand times its size
python3 - "$work/www/bomb-1.0.tar.gz" <<'EOF'
import io, sys, tarfile
class Zeros(io.RawIOBase):
    def __init__(self, n): self.n = n
    def readable(self): return True
    def readinto(self, b):
        k = min(len(b), self.n); b[:k] = bytes(k); self.n -= k; return k
with tarfile.open(sys.argv[1], "w:gz", compresslevel=9) as t:
    info = tarfile.TarInfo("bomb-1.0/zeros"); info.size = 70 * 1000 * 1000
    t.addfile(info, io.BufferedReader(Zeros(info.size)))
EOF
bombsum=$(sha256sum "$work/www/bomb-1.0.tar.gz" | cut -d' ' -f1)
archive_entry bomb "$HTTP/bomb-1.0.tar.gz" "$bombsum"
"$IPM" info bomb >/dev/null 2>&1
state_snapshot "$work/before"
quick "an archive that expands past the ratio limit" 10 "$IPM" install --yes bomb
errline "archive '.*': its members declare more than 200 times its own [0-9]+ bytes"
hint limits.extract_ratio
same_state "a refused archive changes nothing" "$work/before"
check "nothing of it was extracted" test -z "$(find "$IPM_HOME" -name zeros)"
config "" '"extract_bytes": 1000000, "extract_ratio": 0'
quick "an archive that expands past the size limit" 10 "$IPM" install --yes bomb
errline "archive '.*': its members declare more than the limit of 1000000 bytes"
hint limits.extract_bytes
same_state "a refused archive changes nothing" "$work/before"
lock_free

# ---- the configuration ----
printf '{ "timeouts": { "conect": 3 } }\n' >"$IPM_CONFIG"
expect_fail 1 "unknown field 'timeouts.conect'" "$IPM" update
check "the hint lists the keys" grep -q "connect, total, low_speed_time, low_speed_limit" "$work/err"
printf '{ "limits": { "download_bytes": "1M" } }\n' >"$IPM_CONFIG"
expect_fail 1 "'limits.download_bytes' must be a number" "$IPM" update
printf '{ "timeouts": 5 }\n' >"$IPM_CONFIG"
expect_fail 1 "'timeouts' must be an object" "$IPM" update

done_testing
