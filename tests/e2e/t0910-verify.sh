#!/bin/sh
# ipm verify: a clean tree passes (exit 0); a modified file, a deleted link,
# a link pointing elsewhere, a link replaced by a file, a store file deleted
# and a missing library (the program no longer runs) are each reported on
# one line, with exit 1; --json says the same; NAME limits the check; a
# reinstall makes it pass again. verify changes nothing; bad input: error,
# hint, non-zero exit.
. "$(dirname "$0")/lib.sh"

# commit DIR MESSAGE: commits everything in DIR, prints the commit id.
commit() {
	(cd "$1" && { [ -d .git ] || git init -q; } && git add -A && git commit -q -m "$2" && git rev-parse HEAD)
}

# expect_problems CMD...: ok when CMD exits with 1 (problems found), its
# output in $work/out; problems are results, so stderr stays empty.
expect_problems() {
	"$@" >"$work/out" 2>"$work/err" </dev/null
	_rc=$?
	if [ "$_rc" -eq 1 ] && [ ! -s "$work/err" ]; then
		ok "$(echo "$*" | sed "s|$IPM|ipm|g") finds problems"
	else
		not_ok "$(echo "$*" | sed "s|$IPM|ipm|g") finds problems (exit $_rc)"
		diag "$work/err"
	fi
}

# a shared library with a plain Makefile, and a program linked with it
mkdir -p "$work/git/plain"
cat >"$work/git/plain/Makefile" <<'MK'
.RECIPEPREFIX = >
all: libplain.so.1
libplain.so.1: plain.c
> $(CC) -shared -fPIC -Wl,-soname,libplain.so.1 -o $@ plain.c $(LDFLAGS)
install: all
> mkdir -p $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
> cp libplain.so.1 $(DESTDIR)$(PREFIX)/lib/
> ln -sf libplain.so.1 $(DESTDIR)$(PREFIX)/lib/libplain.so
> cp plain.h $(DESTDIR)$(PREFIX)/include/
MK
printf 'const char *plain_version(void);\n' >"$work/git/plain/plain.h"
printf 'const char *plain_version(void) { return "plain 1.0"; }\n' >"$work/git/plain/plain.c"
cpl=$(commit "$work/git/plain" plain)
write_entry plain <<EOF
{ "name": "plain", "description": "a library",
  "versions": [ { "version": "1.0", "git": "$work/git/plain", "commit": "$cpl" } ],
  "methods": [ { "build": ["make"], "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF
mkdir -p "$work/git/app"
cat >"$work/git/app/Makefile" <<'MK'
.RECIPEPREFIX = >
all: app
app: app.c
> $(CC) -o $@ app.c -lplain $(LDFLAGS)
install: all
> mkdir -p $(DESTDIR)$(PREFIX)/bin
> cp app $(DESTDIR)$(PREFIX)/bin/
MK
printf '#include <stdio.h>\n#include <plain.h>\nint main(void) { puts(plain_version()); return 0; }\n' >"$work/git/app/app.c"
capp=$(commit "$work/git/app" app)
write_entry app <<EOF
{ "name": "app", "description": "a program using plain",
  "versions": [ { "version": "1.0", "git": "$work/git/app", "commit": "$capp" } ],
  "depends": [ { "name": "plain" } ],
  "methods": [ { "build": ["make"], "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF
c=$(make_git_pkg "$work/git/hello" hello 1.0)
git_entry hello 1.0 "$work/git/hello" "$c"

expect_ok "$IPM" install -y app hello
check "app runs" sh -c '[ "$("$1/bin/app")" = "plain 1.0" ]' sh "$IPM_PREFIX"

# ---- a clean tree ----
expect_ok "$IPM" verify
check "clean: the summary says no problems" \
	grep -Eqx "verified 3 packages \([0-9]+ files, 1 symlink, [0-9]+ directories\): no problems" "$work/out"
check "clean: one line, nothing on stderr" sh -c '[ "$(wc -l <"$1/out")" -eq 1 ] && [ ! -s "$1/err" ]' sh "$work"
expect_ok "$IPM" verify --json
check "verify --json is one JSON document" json_valid "$work/out"
check "verify --json: 3 packages, no problems" test "$(json_get "$work/out" '(d["packages"], len(d["problems"]))')" = "(3, 0)"
expect_ok "$IPM" -q verify plain
check "-q still prints the result" grep -q "verified 1 package .*: no problems" "$work/out"

# ---- each kind of damage ----
state_snapshot "$work/before"
echo "changed" >>"$IPM_PREFIX/share/hello/README"
rm "$IPM_PREFIX/bin/hello"
expect_problems "$IPM" verify
check "a modified file" grep -qx "hello: $IPM_PREFIX/share/hello/README: modified (sha256 differs)" "$work/out"
check "a deleted link" grep -qx "hello: $IPM_PREFIX/bin/hello: link missing" "$work/out"
check "the summary counts them" grep -Eqx "verified 3 packages \(.*\): 2 problems" "$work/out"
check "nothing else is reported" test "$(wc -l <"$work/out")" -eq 3
expect_ok "$IPM" verify app plain
check "verify NAME checks only those" grep -Eqx "verified 2 packages \(.*\): no problems" "$work/out"
state_snapshot "$work/damaged"

# a link to somewhere else, a link replaced by a file
ln -sf /bin/true "$IPM_PREFIX/bin/hello"
expect_problems "$IPM" verify hello
check "a link pointing elsewhere" \
	grep -qx "hello: $IPM_PREFIX/bin/hello: link points to '/bin/true', not into the store of 'hello'" "$work/out"
rm "$IPM_PREFIX/bin/hello"
echo '#!/bin/sh' >"$IPM_PREFIX/bin/hello"
expect_problems "$IPM" verify hello
check "a link replaced by a file" grep -qx "hello: $IPM_PREFIX/bin/hello: replaced (no longer a link into the store)" "$work/out"
rm "$IPM_PREFIX/bin/hello"

# a missing library: the program cannot run, and verify says why
plain_store=$(dirname "$(dirname "$(readlink "$IPM_PREFIX/lib/libplain.so.1")")")
mv "$plain_store/lib/libplain.so.1" "$work/libplain.so.1.saved"
check "app no longer runs" sh -c '! "$1/bin/app" >/dev/null 2>&1' sh "$IPM_PREFIX"
expect_problems "$IPM" verify app plain
check "the missing library, named for the program that needs it" \
	grep -qx "app: $IPM_PREFIX/bin/app: needs libplain.so.1: not found" "$work/out"
check "the library's own file, deleted from the store" \
	grep -qx "plain: $IPM_PREFIX/lib/libplain.so.1: deleted (its store copy '$plain_store/lib/libplain.so.1' is gone)" "$work/out"
check "the symlink to it, broken" \
	grep -qx "plain: $IPM_PREFIX/lib/libplain.so: broken symlink ('libplain.so.1' does not exist)" "$work/out"
expect_problems "$IPM" verify --json
check "verify --json: still one JSON document" json_valid "$work/out"
check "verify --json: the kinds" test "$(json_get "$work/out" 'sorted(p["kind"] for p in d["problems"])')" = \
	"['broken-link', 'deleted', 'library-missing', 'link-missing', 'modified']"
check "verify --json: the library is the detail" \
	test "$(json_get "$work/out" '[p["detail"] for p in d["problems"] if p["kind"] == "library-missing"][0]')" = libplain.so.1
mv "$work/libplain.so.1.saved" "$plain_store/lib/libplain.so.1"

# the prefix's link to the library gone: the same for the program
rm "$IPM_PREFIX/lib/libplain.so.1"
expect_problems "$IPM" verify app
check "a library whose prefix link is gone" grep -qx "app: $IPM_PREFIX/bin/app: needs libplain.so.1: not found" "$work/out"
ln -s "$plain_store/lib/libplain.so.1" "$IPM_PREFIX/lib/libplain.so.1"
expect_ok "$IPM" verify app plain
check "put back: app and plain verify again" grep -q ": no problems" "$work/out"
check "and app runs" sh -c '[ "$("$1/bin/app")" = "plain 1.0" ]' sh "$IPM_PREFIX"

# verify itself changed nothing
"$IPM" verify >/dev/null 2>&1
same_state "verify changed nothing" "$work/damaged"

# ---- bad input ----
expect_fail 1 "package 'helo' is not installed" "$IPM" verify helo
check "with a did-you-mean hint" grep -qx "hint: did you mean 'hello'?" "$work/err"
check "and no check ran" test ! -s "$work/out"
expect_fail 1 "package 'nothere' is not installed" "$IPM" verify hello nothere
check "one unknown name stops it before any check" test ! -s "$work/out"
expect_fail 2 "unknown option '--fix'" "$IPM" verify --fix
expect_fail 2 "the package name is empty" "$IPM" verify ""

# the whole store tree gone: one line, not one per file
hello_store=$IPM_HOME/store/hello/1.0
mv "$hello_store" "$work/hello-store.saved"
expect_problems "$IPM" verify hello
check "a missing store tree, once" grep -qx "hello: $hello_store: store tree missing" "$work/out"
check "and its files are not listed one by one" test "$(wc -l <"$work/out")" -eq 2
mv "$work/hello-store.saved" "$hello_store"

# ---- a reinstall repairs it ----
expect_ok "$IPM" remove -y hello
expect_ok "$IPM" install -y hello
expect_ok "$IPM" verify
check "after a reinstall: no problems" grep -q "verified 3 packages .*: no problems" "$work/out"
check "the repaired program runs" sh -c '[ "$("$1/bin/hello")" = "hello 1.0" ]' sh "$IPM_PREFIX"

# nothing installed
expect_ok "$IPM" remove -y app plain hello
expect_ok "$IPM" verify
check "nothing installed: nothing to complain about" \
	grep -qx "verified 0 packages (0 files, 0 symlinks, 0 directories): no problems" "$work/out"
done_testing
