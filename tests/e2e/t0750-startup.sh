#!/bin/sh
# Start-up at the floor: the commands that only read (--version, --help,
# list, info, search, env) do not load libcurl, libgit2, libarchive,
# libcrypto or libelf (the layers ipm-fetch.so and ipm-digest.so), as the
# dynamic linker reports them (LD_DEBUG=libs), not even when info
# re-imports an edited local registry; install loads them and works.
# Without the layers, or with layers of another build, the reading commands
# still work and install fails with an error and a hint, changing nothing.
. "$(dirname "$0")/lib.sh"

HEAVY='libcurl|libgit2|libarchive|libcrypto|libelf|ipm-fetch|ipm-digest'

# loads DESC PATTERN CMD...: CMD succeeds, and the shared objects it loads
# match PATTERN (an extended regular expression) or, with PATTERN "!...",
# do not match it.
loads() {
	_desc=$1 _pat=$2
	shift 2
	LD_DEBUG=libs "$@" >"$work/out" 2>"$work/ld" </dev/null
	_rc=$?
	grep 'calling init:' "$work/ld" | sed 's/.*calling init: //' >"$work/objs"
	case $_pat in
	!*) grep -Eq -- "${_pat#!}" "$work/objs" && _rc=loaded ;;
	*) grep -Eq -- "$_pat" "$work/objs" || _rc=missing ;;
	esac
	if [ "$_rc" = 0 ]; then
		ok "$_desc"
	else
		not_ok "$_desc ($_rc)"
		diag "$work/objs"
		grep -v '^ *[0-9]*:' "$work/ld" | sed -n '1,10s/^/# /p'
	fi
}

c1=$(make_git_pkg "$work/src/hello" hello 1.0)
git_entry hello 1.0 "$work/src/hello" "$c1"
cat >"$REG/packages/jsonfmt.json" <<EOF
{ "name": "jsonfmt", "description": "formats JSON documents", "keywords": ["json"],
  "versions": [ { "version": "2.0", "git": "$work/src/hello", "commit": "$c1" } ],
  "methods": [ { "name": "make", "install": ["make install"] } ] }
EOF
cp "$REG/packages/jsonfmt.json" "$work/jsonfmt.json"

# installing loads the fetch layer, and the check above sees it: the checks
# below would fail if the reading commands loaded it too
loads "ipm install loads the digest layer (the files' sha256)" 'ipm-digest\.so' "$IPM" install --yes hello
expect_ok "$IPM" remove --yes hello
loads "ipm install loads the fetch layer" 'ipm-fetch\.so' "$IPM" install --yes hello
check "... and libgit2 with it" grep -q 'libgit2' "$work/objs"
check "the installed program runs" sh -c '"$IPM_PREFIX/bin/hello" | grep -qx "hello 1.0"'

loads "ipm --version loads none of $HEAVY" "!$HEAVY" "$IPM" --version
loads "ipm --help loads none of them" "!$HEAVY" "$IPM" --help
loads "ipm list loads none of them" "!$HEAVY" "$IPM" list
check "... and lists hello" grep -q '^hello  *1\.0' "$work/out"
loads "ipm list --json loads none of them" "!$HEAVY" "$IPM" list --json
loads "ipm info hello loads none of them" "!$HEAVY" "$IPM" info hello
check "... and shows it" grep -q 'hello' "$work/out"
loads "ipm search json loads none of them" "!$HEAVY" "$IPM" search json
check "... and finds jsonfmt" grep -q 'jsonfmt' "$work/out"
loads "ipm search jsno (did you mean) loads none of them" "!$HEAVY" "$IPM" search jsno
loads "ipm env loads none of them" "!$HEAVY" "$IPM" env --shell sh
loads "ipm which loads none of them" "!$HEAVY" "$IPM" which "$IPM_PREFIX/bin/hello"
loads "ipm files loads none of them" "!$HEAVY" "$IPM" files hello
loads "ipm history loads none of them" "!$HEAVY" "$IPM" history
loads "ipm outdated loads none of them" "!$HEAVY" "$IPM" outdated
loads "ipm verify loads neither libcurl, libgit2, libarchive nor the fetch layer" \
	'!libcurl|libgit2|libarchive|ipm-fetch' "$IPM" verify hello
loads "ipm verify loads the digest layer (sha256, linkage)" 'ipm-digest\.so' "$IPM" verify hello
check "... and finds hello intact" grep -q '^verified 1 package.*: no problems$' "$work/out"
# an edited entry: info re-imports the local registry first
sed -i 's/formats JSON documents/formats and checks JSON documents/' "$REG/packages/jsonfmt.json"
loads "ipm info after an edit of the registry (re-import) loads none of them" "!$HEAVY" "$IPM" info jsonfmt
check "... and shows the edit" grep -q 'formats and checks JSON' "$work/out"
rm "$REG/packages/jsonfmt.json"
# a local registry needs no fetching: update reads it without the layer
loads "ipm update of a local registry loads none of them" "!$HEAVY" "$IPM" update
expect_ok "$IPM" remove --yes hello
check "... and hello is gone" test ! -e "$IPM_PREFIX/bin/hello"

# ---- a git registry, read through the fetch layer (ipm_git_read) ----
mkdir -p "$work/gitreg/packages/notes"
printf '{ "name": "gitreg" }\n' >"$work/gitreg/registry.json"
sed 's/"jsonfmt"/"gitfmt"/' "$work/jsonfmt.json" >"$work/gitreg/packages/gitfmt.json"
echo "not an entry" >"$work/gitreg/packages/README"
echo "{" >"$work/gitreg/packages/notes/skipped.json"
(cd "$work/gitreg" && git init -q && git add -A && git commit -q -m one)
expect_ok "$IPM" registry add gitreg "file://$work/gitreg"
loads "ipm update of a git registry loads the fetch layer" 'libgit2' "$IPM" update
check "... and imports its one entry (not README, not a subdirectory)" \
	grep -q '^gitreg: updated, 1 package' "$work/out"
loads "ipm info of an entry of it loads none of them" "!$HEAVY" "$IPM" info gitfmt
check "... and shows it" grep -q 'gitfmt' "$work/out"
mkdir -p "$work/nopkgs"
printf '{ "name": "nopkgs" }\n' >"$work/nopkgs/registry.json"
(cd "$work/nopkgs" && git init -q && git add -A && git commit -q -m one)
expect_ok "$IPM" registry add nopkgs "file://$work/nopkgs"
expect_fail 1 "is not an ipm registry: it has no packages directory" "$IPM" update
check "... with a hint" grep -q '^hint: a registry holds one packages/<name>.json' "$work/err"
expect_ok "$IPM" registry remove nopkgs
expect_ok "$IPM" registry remove gitreg

# ---- without the layers ----
mkdir -p "$work/bin"
cp "$IPM" "$work/bin/ipm"
state_snapshot "$work/before"
expect_ok "$work/bin/ipm" --version
expect_ok "$work/bin/ipm" list
expect_ok "$work/bin/ipm" search hello
check "... and finds hello" grep -q 'hello' "$work/out"
expect_fail 1 'ipm: error: cannot load a part of ipm: .*/lib/ipm/ipm-(fetch|digest)\.so' \
	"$work/bin/ipm" install --yes hello
check "... with a hint to reinstall" grep -q '^hint: .*reinstall ipm' "$work/err"
same_state "... and nothing changed" "$work/before"

# ---- layers of another build ----
cat >"$work/other.c" <<'EOF'
struct layer { const char *sig; };
const struct layer ipm_fetch_layer = { "an older list of functions" };
const struct layer ipm_digest_layer = { "an older list of functions" };
EOF
if ${CC:-cc} -shared -fPIC -o "$work/bin/ipm-fetch.so" "$work/other.c" 2>"$work/cc.err"; then
	cp "$work/bin/ipm-fetch.so" "$work/bin/ipm-digest.so"
	expect_fail 1 'ipm: error: cannot load a part of ipm: .* belongs to another version of ipm' \
		"$work/bin/ipm" install --yes hello
	check "... with a hint to reinstall" grep -q '^hint: reinstall ipm' "$work/err"
	same_state "... and nothing changed" "$work/before"
else
	not_ok "cc builds a stand-in layer"
	diag "$work/cc.err"
fi

done_testing
