#!/bin/sh
# ipm files lists what a package put into the prefix, and ipm which names
# the package that owns a path: absolute, relative, through the user's own
# symlink, inside the store, through a linked prefix directory, and a link
# deleted since. Paths nobody owns, outside the prefix or missing: exit 1
# with one line (and a hint outside the prefix). Bad input: exit 2. Neither
# command changes anything.
. "$(dirname "$0")/lib.sh"

c=$(make_git_pkg "$work/git/hello" hello 1.0)
git_entry hello 1.0 "$work/git/hello" "$c"
c=$(make_git_pkg "$work/git/other" other 2.1)
git_entry other 2.1 "$work/git/other" "$c"
expect_ok "$IPM" install -y hello other

# ---- files ----
expect_ok "$IPM" files hello
printf '%s\n' "$IPM_PREFIX/bin/" "$IPM_PREFIX/bin/hello" "$IPM_PREFIX/share/" "$IPM_PREFIX/share/hello/" \
	"$IPM_PREFIX/share/hello/README" >"$work/want"
check "files lists hello's paths, directories ipm created with a /" cmp -s "$work/want" "$work/out"
check "and nothing on stderr" test ! -s "$work/err"
expect_ok "$IPM" files other
check "other's list has its own files only" sh -c \
	'grep -qx "$1/bin/other" "$2" && grep -qx "$1/share/other/README" "$2" && ! grep -q hello "$2"' \
	sh "$IPM_PREFIX" "$work/out"
check "a directory both use is listed for both (the last to leave removes it)" grep -qx "$IPM_PREFIX/bin/" "$work/out"
check "the listed program runs" sh -c '[ "$("$1/bin/hello")" = "hello 1.0" ]' sh "$IPM_PREFIX"

expect_ok "$IPM" files --json hello
check "files --json is one JSON document" json_valid "$work/out"
check "files --json: name and version" test "$(json_get "$work/out" 'd["name"] + " " + d["version"]')" = "hello 1.0"
check "files --json: bin/hello is a file with its sha256" test \
	"$(json_get "$work/out" '[f["sha256"] for f in d["files"] if f["path"].endswith("/bin/hello")][0]')" = \
	"$(sha256sum "$IPM_PREFIX/bin/hello" | cut -d' ' -f1)"
check "files --json: share/hello is a directory" test \
	"$(json_get "$work/out" '[f["type"] for f in d["files"] if f["path"].endswith("/share/hello")][0]')" = directory

# ---- which ----
expect_ok "$IPM" which "$IPM_PREFIX/bin/hello"
check "which names the owner and version" grep -qx "$IPM_PREFIX/bin/hello is owned by hello 1.0" "$work/out"
expect_ok "$IPM" owns "$IPM_PREFIX/share/other/README"
check "owns is which" grep -qx "$IPM_PREFIX/share/other/README is owned by other 2.1" "$work/out"
(cd "$IPM_PREFIX/share" && "$IPM" which ../bin/other) >"$work/out" 2>"$work/err"
check "a path relative to the current directory" grep -qx "$IPM_PREFIX/bin/other is owned by other 2.1" "$work/out"
(cd "$IPM_PREFIX/bin" && "$IPM" which hello) >"$work/out" 2>"$work/err"
check "a bare file name in the current directory" grep -qx "$IPM_PREFIX/bin/hello is owned by hello 1.0" "$work/out"
expect_ok "$IPM" which "$IPM_PREFIX/share/hello"
check "a directory ipm created" grep -qx "$IPM_PREFIX/share/hello is owned by hello 1.0" "$work/out"

mkdir -p "$work/mybin"
ln -s "$IPM_PREFIX/bin/hello" "$work/mybin/hi"
ln -s hi "$work/mybin/hi2"
expect_ok "$IPM" which "$work/mybin/hi2"
check "through the user's symlinks (two of them)" \
	grep -qx "$work/mybin/hi2 -> $IPM_PREFIX/bin/hello is owned by hello 1.0" "$work/out"
store_file=$(readlink "$IPM_PREFIX/bin/hello")
expect_ok "$IPM" which "$store_file"
check "a path in the store (where the prefix links point)" \
	grep -qx "$store_file -> $IPM_PREFIX/bin/hello is owned by hello 1.0" "$work/out"
ln -s "$IPM_PREFIX" "$work/pfx"
expect_ok "$IPM" which "$work/pfx/share/hello/README"
check "through a symlinked prefix directory" grep -q "is owned by hello 1.0" "$work/out"
expect_ok "$IPM" which "$IPM_PREFIX/share/../bin/./hello"
check "'.' and '..' taken as written" grep -qx "$IPM_PREFIX/bin/hello is owned by hello 1.0" "$work/out"

expect_ok "$IPM" which --json "$work/mybin/hi"
check "which --json is one JSON document" json_valid "$work/out"
check "which --json: package, version, file" test \
	"$(json_get "$work/out" 'd["package"] + " " + d["version"] + " " + d["file"]')" = "hello 1.0 $IPM_PREFIX/bin/hello"

# Every file files lists is owned, by that package.
"$IPM" files other | grep -v '/$' >"$work/other.files"
all_other=1
while IFS= read -r p; do
	"$IPM" which "$p" 2>/dev/null | grep -q "is owned by other 2.1\$" || all_other=0
done <"$work/other.files"
check "which names 'other' for each path files lists for it" test "$all_other" = 1

# ---- nobody's paths, bad input ----
state_snapshot "$work/before"
echo mine >"$IPM_PREFIX/bin/mine"
expect_fail 1 "^ipm: error: '$IPM_PREFIX/bin/mine' is not owned by any package\$" "$IPM" which "$IPM_PREFIX/bin/mine"
check "a file of the user's in the prefix: one line" test "$(wc -l <"$work/err")" -eq 1
check "and nothing on stdout" test ! -s "$work/out"
rm "$IPM_PREFIX/bin/mine"
echo x >"$work/outside"
expect_fail 1 "'$work/outside' is not owned by any package" "$IPM" which "$work/outside"
check "outside the prefix: the hint names the prefix" grep -qx "hint: ipm installs into the prefix '$IPM_PREFIX'" "$work/err"
expect_fail 1 "'$IPM_PREFIX/bin/nothing' is not owned by any package \(it does not exist\)" \
	"$IPM" which "$IPM_PREFIX/bin/nothing"
expect_fail 1 "'$IPM_PREFIX' is not owned by any package" "$IPM" which "$IPM_PREFIX"
ln -s /etc "$work/mybin/etc"
expect_fail 1 "is not owned by any package" "$IPM" which "$work/mybin/etc"
ln -s loop "$work/mybin/loop"
expect_fail 1 "is not owned by any package" "$IPM" which "$work/mybin/loop"
expect_fail 2 "which path\?" "$IPM" which
expect_fail 2 "one path at a time" "$IPM" which a b
expect_fail 2 "the path is empty" "$IPM" which ""
expect_fail 2 "unknown option '--bogus'" "$IPM" which --bogus "$IPM_PREFIX/bin/hello"
expect_fail 1 "package 'helo' is not installed" "$IPM" files helo
check "with a did-you-mean hint" grep -qx "hint: did you mean 'hello'?" "$work/err"
expect_fail 1 "package 'zzzzzzzz' is not installed" "$IPM" files zzzzzzzz
check "or a pointer to ipm list" grep -qx "hint: 'ipm list' shows what is installed" "$work/err"
expect_fail 2 "which package\?" "$IPM" files
expect_fail 2 "one package at a time" "$IPM" files hello other
expect_fail 2 "unknown option '--all'" "$IPM" files --all hello
expect_fail 2 "the package name is empty" "$IPM" files ""
same_state "which and files changed nothing" "$work/before"

# A link deleted since is still known; after remove, nothing is.
rm "$IPM_PREFIX/bin/hello"
expect_ok "$IPM" which "$IPM_PREFIX/bin/hello"
check "a deleted link still has its owner" grep -q "is owned by hello 1.0" "$work/out"
"$IPM" files hello | sed 's|/$||' >"$work/hello.files"
expect_ok "$IPM" remove -y hello
left=
while IFS= read -r p; do
	case $p in "$IPM_PREFIX/bin" | "$IPM_PREFIX/share") continue ;; esac
	[ -e "$p" ] && left="$left $p"
done <"$work/hello.files"
check "remove took away what files listed (but the directories other uses)" test -z "$left"
expect_fail 1 "is not owned by any package" "$IPM" which "$IPM_PREFIX/share/hello/README"
expect_fail 1 "package 'hello' is not installed" "$IPM" files hello

# The default layout: the home (and its store) inside the prefix, as
# ~/.local/share/ipm is inside ~/.local. (ipm's own build directories there
# are no recipe's writes into the prefix.)
(
	export IPM_PREFIX=$work/local IPM_HOME=$work/local/share/ipm
	"$IPM" install -y hello >/dev/null 2>"$work/err.install"
	"$IPM_PREFIX/bin/hello" >"$work/out.run"
	store_file=$(readlink "$IPM_PREFIX/bin/hello")
	"$IPM" which "$store_file" >"$work/out" 2>"$work/err"
	echo "$store_file" >"$work/store_file"
	"$IPM" which "$IPM_HOME/ipm.db" >"$work/out.db" 2>"$work/err.db"
	echo $? >"$work/rc.db"
	"$IPM" remove -y hello >/dev/null 2>&1
)
check "home inside the prefix: the install works" grep -qx "hello 1.0" "$work/out.run"
check "home inside the prefix: a store path is the package's" \
	grep -qx "$(cat "$work/store_file") -> $work/local/bin/hello is owned by hello 1.0" "$work/out"
check "home inside the prefix: ipm's own database is nobody's" \
	sh -c '[ "$(cat "$1/rc.db")" = 1 ] && grep -q "is not owned by any package" "$1/err.db"' sh "$work"

# Nothing installed at all: still a clean answer.
expect_ok "$IPM" remove -y other
check "the last package to leave a shared directory removed it" test ! -e "$IPM_PREFIX/bin"
expect_fail 1 "is not owned by any package" "$IPM" which "$IPM_PREFIX/bin/other"
done_testing
