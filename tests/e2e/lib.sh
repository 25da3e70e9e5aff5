# Sourced by every end-to-end test (POSIX sh). It gives the test:
#   - an isolated temporary directory $work (removed on exit) with
#     IPM_HOME, IPM_PREFIX, IPM_CACHE, IPM_CONFIG and HOME inside it, and
#     IPM_REGISTRY=$REG, an empty test registry ($REG/packages/*.json);
#     `unset IPM_REGISTRY` to use the bundled one instead;
#   - $IPM (the binary under test: $BUILD/ipm, BUILD defaults to "build"),
#     $TOP (the repository), $HTTPD (build/tools/httpd);
#   - TAP helpers: ok, not_ok, check, expect_ok, expect_fail, done_testing;
#   - fixtures: make_git_pkg, write_entry, git_entry, start_httpd, nginx_start,
#     nginx_static_start,
#     state_snapshot, same_state.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
IPM=$BUILD/ipm
HTTPD=$BUILD/tools/httpd

test_name=$(basename "$0" .sh)
work=$(mktemp -d "${TMPDIR:-/tmp}/ipm-$test_name.XXXXXX")
work=$(cd "$work" && pwd -P)

# Every process a test starts in the background; killed on exit.
bg_pids=""
cleanup() {
	for p in $bg_pids; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	chmod -R u+w "$work" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export HOME=$work/userhome
export IPM_HOME=$work/home IPM_PREFIX=$work/prefix IPM_CACHE=$work/cache
export IPM_CONFIG=$work/config.json
REG=$work/registry
export IPM_REGISTRY=$REG
unset IPM_MIRRORS IPM_LOCK_TIMEOUT XDG_DATA_HOME XDG_CACHE_HOME XDG_CONFIG_HOME NO_COLOR
export LANG=C LC_ALL=C
# git in tests: no user configuration, fixed identity.
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=ipm-test GIT_AUTHOR_EMAIL=test@example.org
export GIT_COMMITTER_NAME=ipm-test GIT_COMMITTER_EMAIL=test@example.org
mkdir -p "$HOME" "$REG/packages"
printf '{ "name": "test", "description": "registry of the test %s" }\n' "$test_name" >"$REG/registry.json"

# ---- TAP ----
tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $1"; }
# Prints a file as TAP comments (diagnostics after a failure).
diag() { [ -f "$1" ] && sed -n '1,40s/^/# /p' "$1"; }

# check DESC CMD...: ok when CMD succeeds.
check() {
	_desc=$1
	shift
	if "$@" >"$work/check.out" 2>&1; then
		ok "$_desc"
	else
		not_ok "$_desc"
		diag "$work/check.out"
	fi
}

# expect_ok CMD...: runs CMD; ok when it exits 0. Its stdout and stderr stay
# in $work/out and $work/err for further checks.
expect_ok() {
	"$@" >"$work/out" 2>"$work/err" </dev/null
	_rc=$?
	if [ "$_rc" -eq 0 ]; then
		ok "$(echo "$*" | sed "s|$IPM|ipm|g; s|$work|\$work|g")"
	else
		not_ok "$(echo "$*" | sed "s|$IPM|ipm|g; s|$work|\$work|g") (exit $_rc)"
		diag "$work/err"
	fi
}

# expect_fail STATUS PATTERN CMD...: ok when CMD exits with STATUS and its
# stderr matches the extended regular expression PATTERN.
expect_fail() {
	_want=$1 _pat=$2
	shift 2
	"$@" >"$work/out" 2>"$work/err" </dev/null
	_rc=$?
	_what="$(echo "$*" | sed "s|$IPM|ipm|g; s|$work|\$work|g") fails ($_want) with /$_pat/"
	if [ "$_rc" -eq "$_want" ] && grep -Eq -- "$_pat" "$work/err"; then
		ok "$_what"
	else
		not_ok "$_what (exit $_rc)"
		diag "$work/err"
	fi
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

# ---- fixtures ----

# make_git_pkg DIR [NAME [VERSION]]: a git repository whose Makefile builds
# and installs bin/NAME (a script printing "NAME VERSION") and
# share/NAME/README into $IPM_PREFIX. Prints the commit id.
make_git_pkg() {
	_dir=$1
	_name=${2:-$(basename "$1")}
	_ver=${3:-1.0}
	mkdir -p "$_dir"
	cat >"$_dir/Makefile" <<EOF
all: $_name.out

$_name.out:
	printf '#!/bin/sh\necho $_name $_ver\n' > $_name.out

install: $_name.out
	mkdir -p "\$(DESTDIR)\$(IPM_PREFIX)/bin" "\$(DESTDIR)\$(IPM_PREFIX)/share/$_name"
	cp $_name.out "\$(DESTDIR)\$(IPM_PREFIX)/bin/$_name"
	chmod 755 "\$(DESTDIR)\$(IPM_PREFIX)/bin/$_name"
	echo "$_name $_ver" > "\$(DESTDIR)\$(IPM_PREFIX)/share/$_name/README"
EOF
	(
		cd "$_dir" &&
		{ [ -d .git ] || git init -q; } &&
		git add -A &&
		git commit -q -m "$_name $_ver" &&
		git rev-parse HEAD
	)
}

# write_entry NAME: writes stdin to $REG/packages/NAME.json.
write_entry() {
	cat >"$REG/packages/$1.json"
}

# git_entry NAME VERSION URL COMMIT [DEPENDS_JSON [EXTRA_JSON]]: a registry
# entry built with make; DEPENDS_JSON e.g. '[{"name": "a"}]'; EXTRA_JSON is
# spliced in as more top-level fields (e.g. '"repo": "o/r",').
git_entry() {
	write_entry "$1" <<EOF
{
  "name": "$1",
  "description": "test package $1",
  ${6:-}
  "versions": [ { "version": "$2", "git": "$3", "commit": "$4" } ],
  "depends": ${5:-[]},
  "methods": [ { "name": "make", "build": ["make"], "install": ["make install"] } ]
}
EOF
}

# start_httpd ROOT: serves ROOT on 127.0.0.1; sets $PORT, $HTTP (base URL)
# and $HTTPD_LOG (one "METHOD PATH STATUS" line per request).
start_httpd() {
	HTTPD_LOG=$work/httpd.log
	rm -f "$work/httpd.port"
	: >"$HTTPD_LOG"
	"$HTTPD" "$1" "$work/httpd.port" "$HTTPD_LOG" &
	bg_pids="$bg_pids $!"
	_i=0
	while [ ! -s "$work/httpd.port" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ]; then
			echo "# httpd did not start" >&2
			return 1
		fi
		sleep 0.05
	done
	PORT=$(cat "$work/httpd.port")
	HTTP=http://127.0.0.1:$PORT
}

# nginx_static_start ROOT [CERT KEY]: serves ROOT on 127.0.0.1 with nginx, as a real
# server does: ETag and Last-Modified validators (304 to If-None-Match and
# If-Modified-Since), gzip for JSON, keep-alive connections. Sets $PORT,
# $HTTP (base URL) and $NGINX_LOG, one line per request:
#   METHOD PATH STATUS BYTES_SENT "CONTENT_ENCODING" "IF_NONE_MATCH" "IF_MODIFIED_SINCE" PROTOCOL CONNECTION
# BYTES_SENT counts what went on the wire (headers and body), CONNECTION
# is nginx's serial number of the connection. With CERT and KEY (PEM
# files) it serves https with HTTP/2 instead, and $HTTP is an https URL.
# Returns 1 when nginx is missing (scripts/install-deps --tests installs it).
nginx_static_start() {
	_nginx=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$_nginx" ] || return 1
	_listen="" _scheme=http
	if [ -n "${2:-}" ]; then
		_listen=" ssl http2;
		ssl_certificate $2;
		ssl_certificate_key $3"
		_scheme=https
	fi
	_nd=$work/nginx-static
	mkdir -p "$_nd/tmp"
	NGINX_LOG=$_nd/access.log
	: >"$NGINX_LOG"
	_try=0
	while [ $_try -lt 5 ]; do
		_try=$((_try + 1))
		PORT=$(closed_port)
		cat >"$_nd/nginx.conf" <<EOF
daemon off;
master_process off;
pid $_nd/nginx.pid;
error_log $_nd/error.log;
events { worker_connections 256; }
http {
	client_body_temp_path $_nd/tmp;
	proxy_temp_path $_nd/tmp;
	fastcgi_temp_path $_nd/tmp;
	uwsgi_temp_path $_nd/tmp;
	scgi_temp_path $_nd/tmp;
	types { application/json json; application/octet-stream minisig; }
	default_type application/octet-stream;
	log_format ipm '\$request_method \$uri \$status \$bytes_sent "\$sent_http_content_encoding" "\$http_if_none_match" "\$http_if_modified_since" \$server_protocol \$connection';
	access_log $NGINX_LOG ipm;
	gzip on;
	gzip_min_length 0;
	gzip_types application/json;
	server {
		listen 127.0.0.1:$PORT$_listen;
		root $1;
	}
}
EOF
		"$_nginx" -e "$_nd/error.log" -c "$_nd/nginx.conf" 2>>"$_nd/error.log" &
		_pid=$!
		bg_pids="$bg_pids $_pid"
		_i=0
		while [ $_i -lt 100 ]; do
			if ! kill -0 "$_pid" 2>/dev/null; then
				break
			fi
			if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null; then
				HTTP=$_scheme://127.0.0.1:$PORT
				return 0
			fi
			_i=$((_i + 1))
			sleep 0.05
		done
	done
	echo "# nginx did not start:" >&2
	sed 's/^/# /' "$_nd/error.log" >&2
	return 1
}

# A TCP port on 127.0.0.1 that nothing listens on (for "unreachable URL").
closed_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo 9
}

# state_snapshot FILE: what "installed state" means to the tests: every path
# in the prefix (with link targets), `ipm list --json`, and the database's
# checksum.
state_snapshot() {
	{
		echo "== prefix"
		if [ -d "$IPM_PREFIX" ]; then
			(cd "$IPM_PREFIX" && find . | sort | while read -r p; do
				if [ -L "$p" ]; then echo "$p -> $(readlink "$p")"; else echo "$p"; fi
			done)
		fi
		echo "== list"
		"$IPM" list --json 2>/dev/null
		echo "== db"
		if [ -f "$IPM_HOME/ipm.db" ]; then
			cat "$IPM_HOME/ipm.db" "$IPM_HOME/ipm.db-wal" 2>/dev/null | cksum
		fi
		echo "== store"
		[ -d "$IPM_HOME/store" ] && (cd "$IPM_HOME/store" && find . -maxdepth 2 | sort)
	} >"$1"
}

# same_state DESC BEFORE: ok when the state now equals the snapshot BEFORE.
same_state() {
	state_snapshot "$work/state.now"
	if cmp -s "$2" "$work/state.now"; then
		ok "$1"
	else
		not_ok "$1"
		diff "$2" "$work/state.now" | sed -n '1,30s/^/# /p'
	fi
}

# json_valid FILE: the file is one well-formed JSON document.
json_valid() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -m json.tool "$1" >/dev/null 2>&1
	elif command -v jq >/dev/null 2>&1; then
		jq . "$1" >/dev/null 2>&1
	else
		head -c1 "$1" | grep -q '[[{]'
	fi
}

# json_get FILE EXPR: evaluates a Python expression on the document `d`.
json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

# nginx: /usr/sbin is not on an ordinary user's PATH on Debian
NGINX_BIN=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

# nginx_start ROOT [HTPASSWD]: serves ROOT on 127.0.0.1 with nginx and its
# WebDAV module accepting PUT (scripts/nginx-dav; with HTPASSWD, ROOT/private/
# asks for basic authentication), as the user running the test,
# root or not: configuration, logs, pid and temporary files all live in
# $work/nginx. Sets $NGINX_PORT, $NGINX (base URL) and $NGINX_LOG (the
# access log). Stopped when the test exits.
nginx_start() {
	NGINX_PORT=$(closed_port)
	NGINX=http://127.0.0.1:$NGINX_PORT
	NGINX_LOG=$work/nginx/access.log
	mkdir -p "$work/nginx"
	"$TOP/scripts/nginx-dav" "$1" "$work/nginx" "$NGINX_PORT" ${2:+"$2"} 2>>"$work/nginx/stderr" &
	bg_pids="$bg_pids $!"
	_i=0
	until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
		"$NGINX_PORT" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt 100 ]; then
			echo "# nginx did not start" >&2
			sed 's/^/# /' "$work/nginx/stderr" "$work/nginx/error.log" >&2 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
}
