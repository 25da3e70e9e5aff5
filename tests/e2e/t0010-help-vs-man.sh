#!/bin/sh
# Each command's --help synopsis is exactly its man page's SYNOPSIS line, every
# command has a page, and `ipm help` shows pages; global options and exit 2.
. "$(dirname "$0")/lib.sh"

# The SYNOPSIS lines of a page, roff escapes removed.
man_synopsis() {
	sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$1" | grep -v '^\.' |
		sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\(em/--/g'
}

"$IPM" --help >"$work/help" 2>&1
commands=$(sed -n '/^commands:/,/^$/p' "$work/help" | awk 'NF && !/^commands:/ {print $1}')
check "ipm --help lists the commands" test -n "$commands"
for c in install remove list info search update registry help; do
	check "ipm --help lists '$c'" sh -c 'echo "$1" | grep -qx "$2"' sh "$commands" "$c"
done

for c in $commands; do
	page=$TOP/man/ipm-$c.1
	if [ ! -f "$page" ]; then
		not_ok "man page for '$c' exists"
		continue
	fi
	ok "man page for '$c' exists"
	want=$(man_synopsis "$page" | head -n 1)
	got=$("$IPM" "$c" --help | sed -n '1s/^usage: //p')
	if [ -n "$want" ] && [ "$want" = "$got" ]; then
		ok "'ipm $c --help' synopsis matches man/ipm-$c.1"
	else
		not_ok "'ipm $c --help' synopsis matches man/ipm-$c.1"
		echo "#  man:  $want"
		echo "#  help: $got"
	fi
	for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		check "ipm-$c.1 has $section" grep -q "^\.SH \"*$section" "$page"
	done
done

want=$(man_synopsis "$TOP/man/ipm.1" | head -n 1)
got=$(sed -n '1s/^usage: //p' "$work/help")
check "ipm --help synopsis matches man/ipm.1" test "$want" = "$got"
for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES "SEE ALSO"; do
	check "ipm.1 has $section" grep -q "^\.SH \"*$section" "$TOP/man/ipm.1"
done

expect_ok "$IPM" --version
check "--version prints the version" grep -Eq '^ipm [0-9]+\.[0-9]+' "$work/out"
expect_fail 2 "unknown command 'frobnicate'" "$IPM" frobnicate
expect_fail 2 "unknown option '--bogus'" "$IPM" install --bogus foo
expect_fail 2 "usage: ipm install" "$IPM" install
expect_fail 2 "invalid --color value" "$IPM" --color=purple list
expect_fail 2 "usage:" "$IPM"
expect_fail 2 "no command 'nope'" "$IPM" help nope

# help shows the manual page (man formats it without a terminal), or the
# synopsis when there is no man.
if command -v man >/dev/null 2>&1; then
	MANPAGER=cat PAGER=cat "$IPM" help install >"$work/man.out" 2>&1
	check "ipm help install shows the page" grep -q "SYNOPSIS" "$work/man.out"
	check "ipm help install is the install page" grep -q "ipm-install" "$work/man.out"
fi
mkdir -p "$work/nobin"
ln -s "$(command -v sed)" "$work/nobin/sed"
PATH=$work/nobin "$IPM" help remove >"$work/noman.out" 2>&1
check "without man, ipm help prints the synopsis" grep -q "^usage: ipm remove" "$work/noman.out"

# NO_COLOR and --color
NO_COLOR=1 "$IPM" --color=auto install --bogus >/dev/null 2>"$work/nc.err"
check "NO_COLOR: no escape sequences" sh -c '! grep -q "$(printf "\033")" "$1"' sh "$work/nc.err"
"$IPM" --color=always install --bogus >/dev/null 2>"$work/c.err"
check "--color=always colours the error" grep -q "$(printf '\033')" "$work/c.err"

done_testing
