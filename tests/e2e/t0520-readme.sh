#!/bin/sh
# The README's "Everyday use" commands work as shown, in order, on the
# bundled registry (each one's exit status is checked).
. "$(dirname "$0")/lib.sh"
unset IPM_REGISTRY
sed -n '/^## Everyday use/,/^(/p' "$TOP/README.md" | sed -n 's/^    \(ipm .*\)/\1/p' |
	sed 's/  *#.*$//' >"$work/commands"
check "the README shows at least 8 commands" test "$(wc -l <"$work/commands")" -ge 8
while IFS= read -r line; do
	# shellcheck disable=SC2086 # the line is split as a shell would split it
	set -- $line
	shift
	expect_ok "$IPM" "$@"
done <"$work/commands"
check "attention was installed and removed again" test ! -e "$IPM_PREFIX/include/attention.h"
done_testing
