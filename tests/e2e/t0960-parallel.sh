#!/bin/sh
# A plan runs its fetches and its independent builds at the same time,
# proven without clocks: each job waits for the others to have started,
# and would time out alone.
#   - three independent packages build at once, each with its share of the
#     job budget (IPM_JOBS); a package that depends on them starts only
#     once they are linked into the prefix;
#   - a failing build while others run: those are cancelled (and said so),
#     one that was already linked is undone, the state is as before;
#   - the sources (two git repositories over smart HTTP and an archive) are
#     fetched concurrently: the server holds every first request until all
#     three have come; with IPM_FETCH_JOBS=1 they cannot meet, and the
#     fetch's failure names the package and changes nothing;
#   - builds overlap fetches: a package builds while another's download is
#     held by its server until that build has run; a fetch failing while
#     builds run cancels them (said so) and undoes the plan, and so does
#     Ctrl-C;
#   - -v: in a plan of several packages each output line of a build comes
#     under its package's name ("early | ..."), in a plan of one as it is;
#   - binary caches: the lookups of two hits, then their downloads, are in
#     flight together (the server holds each until both have come; one at
#     a time they cannot meet), and the programs installed from there run.
. "$(dirname "$0")/lib.sh"

# recipes write their markers outside their build tree: no sandbox here
printf '{ "sandbox": "off", "jobs": 3 }\n' >"$IPM_CONFIG"
M=$work/markers
mkdir -p "$M"

# meet_step NAME OTHERS...: a step that marks NAME started, records its
# IPM_JOBS, and waits (60 s at most) until every one of OTHERS started
meet_step() {
	_n=$1
	shift
	_cond=""
	for _o in "$@"; do _cond="$_cond [ -e $M/$_o.start ] &&"; done
	echo "touch $M/$_n.start; echo \$IPM_JOBS >$M/$_n.jobs; i=0;" \
		"until$_cond true; do i=\$((i+1)); [ \$i -gt 600 ] && exit 9; sleep 0.1; done"
}

# pkg NAME DEPENDS_JSON FIRST_STEP: a make package whose build runs FIRST_STEP first
pkg() {
	_c=$(make_git_pkg "$work/src/$1" "$1" 1.0)
	write_entry "$1" <<EOT
{ "name": "$1", "description": "test package $1",
  "versions": [ { "version": "1.0", "git": "file://$work/src/$1", "commit": "$_c" } ],
  "depends": $2,
  "methods": [ { "build": [$(printf '%s' "$3" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))'), "make"],
                 "install": ["make install"] } ] }
EOT
}

# ---- independent builds at the same time; a dependent after them ----
pkg a '[]' "$(meet_step a b c)"
pkg b '[]' "$(meet_step b a c)"
pkg c '[]' "$(meet_step c a b)"
# d's step proves that a, b and c are linked (and run) before it starts
pkg d '[{"name": "a"}, {"name": "b"}, {"name": "c"}]' \
	"test -e $M/a.start -a -e $M/b.start -a -e $M/c.start && [ \"\$(\$IPM_PREFIX/bin/a)\" = 'a 1.0' ] && [ \"\$(\$IPM_PREFIX/bin/b)\" = 'b 1.0' ] && [ \"\$(\$IPM_PREFIX/bin/c)\" = 'c 1.0' ] && touch $M/d.start"
expect_ok "$IPM" install -y d
check "a, b and c built at the same time (each waited for the others)" \
	test -e "$M/a.start" -a -e "$M/b.start" -a -e "$M/c.start"
check "each of the three had a third of the 3 jobs" \
	sh -c 'test "$(cat "$1/a.jobs" "$1/b.jobs" "$1/c.jobs" | tr "\n" " ")" = "1 1 1 "' sh "$M"
check "d started once a, b and c were in the prefix" test -e "$M/d.start"
check "all four are installed and run" sh -c \
	'for p in a b c d; do [ "$("$1/bin/$p")" = "$p 1.0" ] || exit 1; done' sh "$IPM_PREFIX"
check "each build has its own log" sh -c \
	'for p in a b c d; do grep -q "^# $p 1.0" "$1/logs/$p-1.0.log" || exit 1; done' sh "$IPM_CACHE"
check "one transaction for the four" test "$("$IPM" history --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1

# a build alone gets the whole budget
rm -f "$M"/*
pkg solo '[]' "echo \$IPM_JOBS >$M/solo.jobs"
expect_ok "$IPM" install -y solo
check "a build alone gets all 3 jobs" test "$(cat "$M/solo.jobs")" = 3

# with the budget all given out, one build more runs, with one job: three
# builds meet on a budget of 2 (two, then one alone, would leave a core idle)
pkg e '[]' "$(meet_step e f g)"
pkg f '[]' "$(meet_step f e g)"
pkg g '[]' "$(meet_step g e f)"
printf '{ "sandbox": "off", "jobs": 2 }\n' >"$work/jobs2.json"
expect_ok env IPM_CONFIG="$work/jobs2.json" "$IPM" install -y e f g
check "three builds ran at once on a budget of 2" test -e "$M/e.start" -a -e "$M/f.start" -a -e "$M/g.start"
check "each with one job" \
	sh -c 'test "$(cat "$1/e.jobs" "$1/f.jobs" "$1/g.jobs" | tr "\n" " ")" = "1 1 1 "' sh "$M"
expect_ok env IPM_CONFIG="$work/jobs2.json" "$IPM" remove -y e f g

# ---- a failure among running builds ----
expect_ok "$IPM" remove -y d a b c solo
rm -f "$M"/*
# w ends at once and is linked; x waits until w is linked and y runs, then
# fails; y would run for a minute: it is cancelled; z (after x) never starts
pkg w '[]' "true"
pkg x '[]' "i=0; until [ -e $M/y.start ] && [ -e \$IPM_PREFIX/bin/w ]; do i=\$((i+1)); [ \$i -gt 600 ] && exit 9; sleep 0.1; done; exit 7"
pkg y '[]' "touch $M/y.start; sleep 60; touch $M/y.end"
pkg z '[{"name": "x"}]' "touch $M/z.start"
# the registry is imported again by the next command that writes: before
# each snapshot, so that the database compares equal
sync_registry() { "$IPM" install --dry-run w >/dev/null 2>&1; }
sync_registry
state_snapshot "$work/before"
expect_fail 1 "step '.*exit 7' of 'x' failed with exit status 7" "$IPM" install -y w x y z
check "the running build of y is said to be cancelled" grep -q "^'x' failed: cancelling the build of 'y'$" "$work/err"
check "the report: y cancelled, w undone, z not built" sh -c \
	'grep -q "^  y 1.0: cancelled while building$" "$1" && grep -q "^  w 1.0: built, then undone$" "$1" &&
	 grep -q "^  z 1.0: not built$" "$1" && grep -q "^  x 1.0: FAILED$" "$1"' sh "$work/err"
check "y's recipe was stopped, z never started" test ! -e "$M/y.end" -a ! -e "$M/z.start"
check "y's recipe is not running any more" sh -c '! pgrep -f "[s]leep 60; touch" >/dev/null'
same_state "nothing of w, x, y, z stays" "$work/before"

# ---- Ctrl-C while two builds run ----
rm -f "$M"/*
pkg i1 '[]' "touch $M/i1.start; sleep 61"
pkg i2 '[]' "touch $M/i2.start; sleep 61"
sync_registry
state_snapshot "$work/before"
"$IPM" install -y i1 i2 >"$work/int.out" 2>&1 </dev/null &
pid=$!
i=0
while { [ ! -e "$M/i1.start" ] || [ ! -e "$M/i2.start" ]; } && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
check "both builds are running" test -e "$M/i1.start" -a -e "$M/i2.start"
kill -INT "$pid"
wait "$pid"
rc=$?
check "Ctrl-C: exit status 130" test "$rc" -eq 130
check "Ctrl-C: said so" grep -q "interrupted" "$work/int.out"
check "Ctrl-C: no recipe keeps running" sh -c '! pgrep -f "[s]leep 61" >/dev/null'
same_state "Ctrl-C: nothing of i1, i2 stays" "$work/before"

# ---- many quick builds linked while others run ----
# each plan links some packages while others still build and watch the
# prefix for their recipe's own writes: ipm's links are not such writes;
# a recipe's stray file still is
for p in q1 q2 q3 q4 q5; do pkg "$p" '[]' "true"; done
pkg stray '[]' "sleep 1; mkdir -p \$IPM_PREFIX/share/stray && touch \$IPM_PREFIX/share/stray/file"
runs_ok=0
for r in 1 2 3 4; do
	if "$IPM" -q install -y q1 q2 q3 q4 q5 >"$work/q.out" 2>&1 &&
		"$IPM" -q remove -y q1 q2 q3 q4 q5 >>"$work/q.out" 2>&1; then
		runs_ok=$((runs_ok + 1))
	else
		diag "$work/q.out"
	fi
done
check "4 plans of 5 quick packages, linked while others build: all succeed" test "$runs_ok" -eq 4
expect_fail 1 "the recipe of 'stray' wrote into the prefix instead of \\\$DESTDIR: '$IPM_PREFIX/share/stray'$" \
	"$IPM" install -y q1 q2 q3 stray

# ---- a local repository's first mirror links its objects ----
# as git clone does; a linked work tree keeps them in its main repository
c=$(make_git_pkg "$work/src/wt-main" wtpkg 1.0)
git -C "$work/src/wt-main" worktree add -q "$work/src/wt-linked" 2>/dev/null
git_entry wtpkg 1.0 "$work/src/wt-linked" "$c"
expect_ok "$IPM" install -y wtpkg
check "from a linked work tree: installed and runs" sh -c '[ "$("$1/bin/wtpkg")" = "wtpkg 1.0" ]' sh "$IPM_PREFIX"
check "the mirror's object files are the source's own (hard links)" sh -c \
	'f=$(find "$1"/git/wt-linked-*/objects -type f | head -n 1) && [ -n "$f" ] && [ "$(stat -c %h "$f")" -ge 2 ]' sh "$IPM_CACHE"

# ---- concurrent fetches ----
# meet.py ROOT PORTFILE EXPECT TIMEOUT [SUFFIXES]: serves ROOT over HTTP
# (files, and git repositories through git http-backend); the first request
# for each of EXPECT names under /meet/ waits until all EXPECT have come
# (TIMEOUT seconds at most, then HTTP 503). A name is the path's first
# part; with SUFFIXES (comma-separated), only paths ending with one of them
# meet, each its own name, and each suffix is a meeting of its own.
cat >"$work/meet.py" <<'PY'
import os, subprocess, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
root, portfile, expect, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
suffixes = sys.argv[5].split(",") if len(sys.argv) > 5 else None
seen, cond = {}, threading.Condition()

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def meet(self, group, name):
        with cond:
            seen.setdefault(group, set()).add(name)
            cond.notify_all()
            return cond.wait_for(lambda: len(seen[group]) >= expect, timeout)
    def handle_any(self):
        path, _, query = self.path.partition("?")
        if not path.startswith("/meet/"):
            return self.send_error(404)
        rest = path[len("/meet/"):]
        name = rest.split("/")[0]
        group = "" if not suffixes else next((x for x in suffixes if rest.endswith(x)), None)
        if group is not None and not self.meet(group, rest if suffixes else name):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            return self.end_headers()
        body = b""
        if self.headers.get("Transfer-Encoding", "") == "chunked":
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(n)
                self.rfile.readline()
        elif self.headers.get("Content-Length"):
            body = self.rfile.read(int(self.headers["Content-Length"]))
        if ".git" not in name:
            try:
                data = open(os.path.join(root, rest), "rb").read()
            except OSError:
                return self.send_error(404)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO="/" + rest,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_ADDR="127.0.0.1",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, data = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = handle_any

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
PY
start_meet() { # TIMEOUT [EXPECT SUFFIX]
	rm -f "$work/meet.port"
	python3 "$work/meet.py" "$work/srv" "$work/meet.port" "${2:-3}" "$1" ${3:+"$3"} &
	bg_pids="$bg_pids $!"
	meet_pid=$!
	i=0
	while [ ! -s "$work/meet.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	MEET=http://127.0.0.1:$(cat "$work/meet.port")/meet
	# plain http:// is allowed through the user's own mirror rule
	export IPM_MIRRORS="$MEET/=$MEET/"
}
mkdir -p "$work/srv"
for p in g1 g2; do
	make_git_pkg "$work/gsrc/$p" "$p" 1.0 >/dev/null
	git clone -q --bare "$work/gsrc/$p" "$work/srv/$p.git"
done
make_git_pkg "$work/pack/t1-1.0" t1 1.0 >/dev/null
rm -rf "$work/pack/t1-1.0/.git"
tar -C "$work/pack" -cf "$work/srv/t1.tar" t1-1.0
sum=$(sha256sum "$work/srv/t1.tar" | cut -d' ' -f1)
fetch_entries() {
	for p in g1 g2; do
		git_entry "$p" 1.0 "$MEET/$p.git" "$(git -C "$work/gsrc/$p" rev-parse HEAD)"
	done
	write_entry t1 <<EOT
{ "name": "t1", "description": "an archive",
  "versions": [ { "version": "1.0", "url": "$MEET/t1.tar", "sha256": "$sum" } ],
  "methods": [ { "build": ["make"], "install": ["make install"] } ] }
EOT
}

# one at a time, they cannot meet: the first waits in vain and fails
start_meet 2
fetch_entries
sync_registry
state_snapshot "$work/before"
IPM_FETCH_JOBS=1 expect_fail 1 "fetching '(g1|g2|t1)' 1.0: .*503" "$IPM" install -y g1 g2 t1
same_state "a failed fetch changes nothing" "$work/before"
kill "$meet_pid"

start_meet 60
fetch_entries
expect_ok "$IPM" install -y g1 g2 t1
check "the three fetches were in flight together (each got its answer)" sh -c \
	'for p in g1 g2 t1; do [ "$("$1/bin/$p")" = "$p 1.0" ] || exit 1; done' sh "$IPM_PREFIX"
check "each fetch was announced" sh -c \
	'for p in g1 g2 t1; do grep -q "^fetching '"'"'$p'"'"' 1.0 \.\.\.$" "$1" || exit 1; done' sh "$work/err"
kill "$meet_pid"

json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
# archive_entry NAME URL SHA256 FIRST_STEP: a package from an archive
archive_entry() {
	write_entry "$1" <<EOT
{ "name": "$1", "description": "test archive $1",
  "versions": [ { "version": "1.0", "url": "$2", "sha256": "$3" } ],
  "methods": [ { "build": [$(json_str "$4"), "make"], "install": ["make install"] } ] }
EOT
}
# start_after FILE MARKER...: a server that answers every request with FILE
# once every MARKER exists (badhttpd.py's "after"); sets AFTER, its URL
start_after() {
	rm -f "$work/after.port"
	python3 "$TOP/tests/tools/badhttpd.py" after "$work/after.port" "$@" </dev/null >/dev/null 2>&1 &
	bg_pids="$bg_pids $!"
	after_pid=$!
	i=0
	while [ ! -s "$work/after.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	AFTER=http://127.0.0.1:$(cat "$work/after.port")
	export IPM_MIRRORS="$AFTER/=$AFTER/"
}
make_git_pkg "$work/pack/late-1.0" late 1.0 >/dev/null
rm -rf "$work/pack/late-1.0/.git"
tar -C "$work/pack" -cf "$work/late.tar" late-1.0
late_sum=$(sha256sum "$work/late.tar" | cut -d' ' -f1)

# ---- builds overlap fetches ----
# late's archive comes only once early's build has run: were builds to wait
# for every fetch, the plan could never end (the server gives up after 60 s)
rm -f "$M"/*
start_after "$work/late.tar" "$M/early.built"
archive_entry late "$AFTER/late.tar" "$late_sum" "echo output of late"
pkg early '[]' "echo output of early; touch $M/early.built"
sync_registry
expect_ok "$IPM" -v install -y late early
check "early was built while late's fetch was waiting for it" test -e "$M/early.built"
check "late and early are installed and run" sh -c \
	'[ "$("$1/bin/late")" = "late 1.0" ] && [ "$("$1/bin/early")" = "early 1.0" ]' sh "$IPM_PREFIX"
# -v: in a plan of several packages, each build's output line under its
# package's name (padded to one width); in a plan of one, as it is
check "-v: early's output under its name" grep -qx "early | output of early" "$work/err"
check "-v: late's under its name, padded to the same width" grep -qx "late  | output of late" "$work/err"
check "-v: every line of make's output under a name" sh -c \
	'grep "printf" "$1" | grep -qv "^\(early\|late \) | " && exit 1; grep -q "^early | printf" "$1"' sh "$work/err"
pkg single '[]' "echo output of single"
expect_ok "$IPM" -v install -y single
check "-v, one package: its output lines as they are" grep -qx "output of single" "$work/err"
check "-v, one package: no name before them" sh -c '! grep -q " | " "$1"' sh "$work/err"

# ---- a fetch fails while builds run ----
# badf's archive (not the one its entry names) comes only once quick is
# linked and slow builds: slow is cancelled and said so, quick undone
rm -f "$M"/*
kill "$after_pid"
start_after "$work/late.tar" "$M/slow.start" "$IPM_PREFIX/bin/quick"
archive_entry badf "$AFTER/badf.tar" "$(printf '%064d' 0)" "true"
pkg quick '[]' "true"
pkg slow '[]' "touch $M/slow.start; sleep 63; touch $M/slow.end"
sync_registry
state_snapshot "$work/before"
expect_fail 1 "fetching 'badf' 1.0: .*sha256 mismatch" "$IPM" install -y badf quick slow
check "a failed fetch cancels the running build, naming it" \
	grep -q "^'badf' failed: cancelling the build of 'slow'$" "$work/err"
check "the report: slow cancelled, quick undone, badf failed" sh -c \
	'grep -q "^  slow 1.0: cancelled while building$" "$1" && grep -q "^  quick 1.0: built, then undone$" "$1" &&
	 grep -q "^  badf 1.0: FAILED$" "$1"' sh "$work/err"
check "slow's recipe was stopped" sh -c '[ ! -e "$1/slow.end" ] && ! pgrep -f "[s]leep 63; touch" >/dev/null' sh "$M"
same_state "a fetch failing while others build changes nothing" "$work/before"
kill "$after_pid"

# ---- Ctrl-C while a build runs and a fetch waits ----
rm -f "$M"/*
make_git_pkg "$work/pack/held-1.0" held 1.0 >/dev/null
rm -rf "$work/pack/held-1.0/.git"
tar -C "$work/pack" -cf "$work/held.tar" held-1.0
start_after "$work/held.tar" "$M/never"
archive_entry held "$AFTER/held.tar" "$(sha256sum "$work/held.tar" | cut -d' ' -f1)" "true"
pkg busy '[]' "touch $M/busy.start; sleep 64"
sync_registry
state_snapshot "$work/before"
"$IPM" install -y held busy >"$work/int.out" 2>&1 </dev/null &
pid=$!
i=0
while [ ! -e "$M/busy.start" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
check "busy builds while held's download waits" test -e "$M/busy.start"
kill -INT "$pid"
wait "$pid"
rc=$?
check "Ctrl-C during a build and a download: exit status 130" test "$rc" -eq 130
check "Ctrl-C: said so" grep -q "interrupted" "$work/int.out"
check "Ctrl-C: no recipe keeps running" sh -c '! pgrep -f "[s]leep 64" >/dev/null'
check "Ctrl-C: no partial download is kept" sh -c '! ls "$1"/downloads | grep -q "\.tmp-"' sh "$IPM_CACHE"
same_state "Ctrl-C: nothing of held, busy stays" "$work/before"
kill "$after_pid"

# ---- binary caches: lookups and downloads at the same time ----
# bc1 and bc2 are built here and pushed to a cache; in another home (the
# same prefix) their recipes cannot run, and the cache's server holds each
# manifest's request until both have come, and each archive's likewise
rm -f "$M"/*
touch "$M/allow-build"
pkg bc1 '[]' "test -e $M/allow-build"
pkg bc2 '[]' "test -e $M/allow-build"
mkdir -p "$work/keys"
expect_ok "$IPM" registry keygen --dir "$work/keys"
pub=$(cat "$work/out")
expect_ok "$IPM" install -y bc1 bc2
mkdir -p "$work/srv/bc"
expect_ok "$IPM" cache push bc1 bc2 --to "file://$work/srv/bc" --key "$work/keys/registry.key"
expect_ok "$IPM" remove -y bc1 bc2
rm -f "$M/allow-build"
export IPM_HOME=$work/home2 IPM_CACHE=$work/cache2
sync_registry
state_snapshot "$work/before"
# one at a time, the two lookups cannot meet: the cache seems down
start_meet 2 2 .json
export IPM_BINARY_CACHE=$MEET/bc IPM_BINARY_CACHE_KEY=$pub
IPM_FETCH_JOBS=1 expect_fail 1 "step 'test -e .*' of 'bc[12]' failed" "$IPM" install -y bc1 bc2
check "one at a time, the lookups cannot meet (503)" \
	grep -q "^ipm: warning: binary cache '$MEET/bc' cannot be reached (.*503.*)" "$work/err"
same_state "a failed lookup and build change nothing" "$work/before"
kill "$meet_pid"
# nor can the two downloads
start_meet 2 2 .tar.zst
export IPM_BINARY_CACHE=$MEET/bc
IPM_FETCH_JOBS=1 expect_fail 1 "step 'test -e .*' of 'bc1' failed" "$IPM" install -y bc1 bc2
check "one at a time, the downloads cannot meet (503)" \
	grep -q "^ipm: warning: cannot use the binary of 'bc1' from $MEET/bc: .*503.*; building it instead$" "$work/err"
same_state "a failed download and build change nothing" "$work/before"
kill "$meet_pid"
# what that run kept (bc2's archive, downloaded once bc1's gave up) goes
rm -rf "$IPM_CACHE/binary"
start_meet 60 2 .json,.tar.zst
export IPM_BINARY_CACHE=$MEET/bc
expect_ok "$IPM" install -y bc1 bc2
check "the plan says both come from the cache (the lookups were in flight together)" sh -c \
	'[ "$(grep -c "^    from binary cache " "$1")" -eq 2 ]' sh "$work/out"
check "both came from the binary cache (the downloads were in flight together)" sh -c \
	'grep -q "^installing '"'"'bc1'"'"' 1.0 from binary cache" "$1" &&
	 grep -q "^installing '"'"'bc2'"'"' 1.0 from binary cache" "$1" && ! grep -q "warning" "$1"' sh "$work/err"
check "bc1 and bc2 run" sh -c '[ "$("$1/bin/bc1")" = "bc1 1.0" ] && [ "$("$1/bin/bc2")" = "bc2 1.0" ]' sh "$IPM_PREFIX"
check "each archive is kept in the local cache, verified" sh -c \
	'[ "$(ls "$1"/binary/*.tar.zst | wc -l)" -eq 2 ]' sh "$IPM_CACHE"

done_testing
