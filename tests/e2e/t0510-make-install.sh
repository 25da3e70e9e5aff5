#!/bin/sh
# `make install PREFIX=...` installs ipm, its man pages and the bundled
# registry; the installed ipm finds that registry under share/ipm/registry,
# and its first-party package (attention) comes from the repository the
# registry was installed from, at the commit recorded by `make install`.
. "$(dirname "$0")/lib.sh"
unset IPM_REGISTRY
usr=$work/usr

if make -C "$TOP" --no-print-directory install PREFIX="$usr" BUILD="$BUILD" >"$work/make.out" 2>&1; then
	ok "make install PREFIX=... succeeds"
else
	not_ok "make install PREFIX=... succeeds"
	diag "$work/make.out"
fi
for f in bin/ipm lib/ipm/ipm-fetch.so lib/ipm/ipm-digest.so share/man/man1/ipm.1 share/man/man1/ipm-install.1 share/man/man5/ipm-registry.5 \
	share/ipm/registry/packages/attention.json share/ipm/registry/schema.json; do
	check "installed $f" test -f "$usr/$f"
done
head_commit=$(git -C "$TOP" rev-parse HEAD)
check "the installed registry records the commit it came from" \
	grep -q "\"commit\": \"$head_commit\"" "$usr/share/ipm/registry/registry.json"

expect_ok "$usr/bin/ipm" info attention
check "the installed ipm reads its bundled registry" grep -q "bundled" "$work/out"

# The recorded home may be a remote (the checkout's origin): point it at the
# checkout, as an air-gapped site would point it at its mirror.
home=$(sed -n 's/.*"home": "\(.*\)",*$/\1/p' "$usr/share/ipm/registry/registry.json")
export IPM_MIRRORS="$home=$TOP"
expect_ok "$usr/bin/ipm" install --yes attention
check "attention's header is linked into the prefix" test -e "$IPM_PREFIX/include/attention.h"
"$usr/bin/ipm" list --json >"$work/list.json" 2>/dev/null
check "it records the commit the registry named" grep -q "$head_commit" "$work/list.json"
expect_ok "$usr/bin/ipm" remove --yes attention
check "and removes it" test ! -e "$IPM_PREFIX/include/attention.h"

done_testing
