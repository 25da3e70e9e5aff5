#!/bin/sh
# What ipm installs works when used, and keeps working: libraries built with
# CMake, autotools and a plain Makefile, and a program depending on each, run
# from the prefix with nothing but PATH set; a program built by the user
# through pkg-config loads ipm's copy of a library the system also has
# (libcjson.so.1, which ipm itself links); a CMake consumer finds and runs
# an installed library; no installed file names the store; a recipe that
# ignores DESTDIR and a program whose library cannot be found fail with the
# names; upgrades with the same soname keep dependents working, a new soname
# is refused unless the dependent is rebuilt in the same plan, and a version
# breaking a dependent's constraint is refused; one home, one prefix.
. "$(dirname "$0")/lib.sh"

export IPM_MIRRORS="https://git.example.org/=file://$work/git/"
GIT=https://git.example.org
mkdir -p "$work/git"

# run_bare PROG ARGS...: the program with nothing in its environment but a
# PATH that starts with the prefix's bin.
run_bare() {
	env -i PATH="$IPM_PREFIX/bin:/usr/bin:/bin" "$@"
}

# snapshot FILE: state_snapshot, after the registry's new entries were
# imported (so that only the command under test can change the database).
snapshot() {
	"$IPM" search plain >/dev/null 2>&1
	state_snapshot "$1"
}

# commit DIR MESSAGE: commits everything in DIR, prints the commit id.
commit() {
	(cd "$1" && { [ -d .git ] || git init -q; } && git add -A && git commit -q -m "$2" && git rev-parse HEAD)
}

# ---- a plain Makefile library (PREFIX, DESTDIR, LDFLAGS) ----
# plain_version DIR VERSION SOMAJOR: writes that version of libplain.
plain_version() {
	mkdir -p "$1"
	cat >"$1/Makefile" <<EOF
.RECIPEPREFIX = >
PREFIX ?= /usr/local
all: libplain.so.$3
libplain.so.$3: plain.c
> \$(CC) -shared -fPIC -Wl,-soname,libplain.so.$3 -o \$@ plain.c \$(LDFLAGS)
install: all
> mkdir -p \$(DESTDIR)\$(PREFIX)/lib/pkgconfig \$(DESTDIR)\$(PREFIX)/include
> cp libplain.so.$3 \$(DESTDIR)\$(PREFIX)/lib/
> ln -sf libplain.so.$3 \$(DESTDIR)\$(PREFIX)/lib/libplain.so
> cp plain.h \$(DESTDIR)\$(PREFIX)/include/
> printf 'prefix=%s\nlibdir=\$\${prefix}/lib\nincludedir=\$\${prefix}/include\n\nName: plain\nDescription: plain\nVersion: $2\nCflags: -I\$\${includedir}\nLibs: -L\$\${libdir} -lplain\n' '\$(PREFIX)' > \$(DESTDIR)\$(PREFIX)/lib/pkgconfig/plain.pc
EOF
	printf 'const char *plain_version(void);\n' >"$1/plain.h"
	printf 'const char *plain_version(void) { return "plain %s"; }\n' "$2" >"$1/plain.c"
	commit "$1" "plain $2"
}
p10=$(plain_version "$work/git/plain" 1.0 1)
p11=$(plain_version "$work/git/plain" 1.1 1)
p20=$(plain_version "$work/git/plain" 2.0 2)
write_entry plain <<EOF
{ "name": "plain", "description": "a library with a plain Makefile",
  "versions": [ { "version": "1.0", "git": "$GIT/plain", "commit": "$p10" },
                { "version": "1.1", "git": "$GIT/plain", "commit": "$p11" },
                { "version": "2.0", "git": "$GIT/plain", "commit": "$p20" } ],
  "methods": [ { "build": ["make PREFIX=\"\$IPM_PREFIX\""],
                 "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF

# a program using it, linked through pkg-config and LDFLAGS
mkdir -p "$work/git/mkapp"
cat >"$work/git/mkapp/Makefile" <<'EOF'
.RECIPEPREFIX = >
all: mkapp
mkapp: app.c
> $(CC) -o $@ app.c $$(pkg-config --cflags --libs plain) $(LDFLAGS)
install: all
> mkdir -p $(DESTDIR)$(PREFIX)/bin
> cp mkapp $(DESTDIR)$(PREFIX)/bin/
EOF
printf '#include <stdio.h>\n#include <plain.h>\nint main(void) { puts(plain_version()); return 0; }\n' >"$work/git/mkapp/app.c"
cmk=$(commit "$work/git/mkapp" mkapp)
write_entry mkapp <<EOF
{ "name": "mkapp", "description": "a program using plain",
  "versions": [ { "version": "1.0", "git": "$GIT/mkapp", "commit": "$cmk" } ],
  "depends": [ { "name": "plain", "version": ">=1.0" } ],
  "methods": [ { "build": ["make"], "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF

expect_ok "$IPM" install -y plain@1.0 mkapp
check "mkapp runs with only PATH set and loads ipm's libplain" \
	sh -c '[ "$(env -i PATH="$1/bin:/usr/bin:/bin" mkapp)" = "plain 1.0" ]' sh "$IPM_PREFIX"
check "plain.pc links with an rpath to the prefix" grep -q '^Libs: -L${libdir} -lplain -Wl,-rpath,${libdir}$' "$IPM_PREFIX/lib/pkgconfig/plain.pc"
check "plain.pc names the prefix" grep -q "^prefix=$IPM_PREFIX\$" "$IPM_PREFIX/lib/pkgconfig/plain.pc"
check "no installed file names the store" sh -c '! grep -rq "$1/store" "$1/store"' sh "$IPM_HOME"
check "mkapp's RUNPATH is the prefix's lib" sh -c 'readelf -d "$1/bin/mkapp" | grep -q "RUNPATH.*\[$1/lib\]"' sh "$IPM_PREFIX"

# ---- the user's own program, through pkg-config only ----
printf '#include <stdio.h>\n#include <plain.h>\nint main(void) { puts(plain_version()); return 0; }\n' >"$work/mine.c"
check "a program built with pkg-config compiles" sh -c \
	'cc -o "$2/mine" "$2/mine.c" $(PKG_CONFIG_PATH="$1/lib/pkgconfig" pkg-config --cflags --libs plain)' sh "$IPM_PREFIX" "$work"
check "and runs without LD_LIBRARY_PATH" sh -c '[ "$(env -i "$1/mine")" = "plain 1.0" ]' sh "$work"

# ---- upgrade with the same soname: dependents see it at once ----
expect_ok "$IPM" install -y plain@1.1
check "mkapp now loads plain 1.1" sh -c '[ "$(env -i PATH="$1/bin:/usr/bin:/bin" mkapp)" = "plain 1.1" ]' sh "$IPM_PREFIX"
check "the user's program too" sh -c '[ "$(env -i "$1/mine")" = "plain 1.1" ]' sh "$work"
check "the 1.0 store tree is kept, for rollback" test -d "$IPM_HOME/store/plain/1.0"
check "and no longer linked" sh -c '! find "$1" -type l -lname "*/store/plain/1.0/*" | grep -q .' sh "$IPM_PREFIX"

# ---- a version breaking a dependent's constraint is refused ----
make_git_pkg "$work/git/strict" strict 1.0 >/dev/null
cst=$(git -C "$work/git/strict" rev-parse HEAD)
git_entry strict 1.0 "$GIT/strict" "$cst" '[{"name": "plain", "version": "^1.0"}]'
expect_ok "$IPM" install -y strict
snapshot "$work/before"
expect_fail 1 "'plain' 2.0 would break 'strict', which needs 'plain' \^1.0" "$IPM" install -y plain@2.0
check "with a hint" grep -q "hint: choose a version matching it ('ipm install plain@^1.0'), or remove 'strict' first" "$work/err"
same_state "the refused change changed nothing" "$work/before"
expect_ok "$IPM" remove -y strict

# ---- a new soname: refused, unless the dependent is rebuilt with it ----
snapshot "$work/before"
expect_fail 1 "'plain' 2.0 no longer provides 'libplain.so.1', which 'mkapp' needs" "$IPM" install -y plain@2.0
check "with the command that rebuilds it" grep -q "ipm install plain@2.0 mkapp" "$work/err"
same_state "the refused upgrade changed nothing" "$work/before"
check "mkapp still runs" sh -c '[ "$(env -i PATH="$1/bin:/usr/bin:/bin" mkapp)" = "plain 1.1" ]' sh "$IPM_PREFIX"
expect_ok "$IPM" install --dry-run plain@2.0 mkapp
check "the plan shows mkapp rebuilt" grep -q "mkapp 1.0 (rebuilt against the new version of a dependency)" "$work/out"
expect_ok "$IPM" install -y plain@2.0 mkapp
check "mkapp was rebuilt and loads libplain.so.2" sh -c '[ "$(env -i PATH="$1/bin:/usr/bin:/bin" mkapp)" = "plain 2.0" ]' sh "$IPM_PREFIX"
check "mkapp's rebuilt tree is linked in place of the old one" sh -c 'readlink "$2/bin/mkapp" | grep -q "$1/store/mkapp/1.0@rebuild/"' sh "$IPM_HOME" "$IPM_PREFIX"
expect_ok "$IPM" remove -y mkapp plain

# ---- a CMake library and program, recipe guessed by `ipm registry new` ----
if command -v cmake >/dev/null 2>&1; then
	mkdir -p "$work/git/thing"
	cat >"$work/git/thing/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(thing VERSION 1.0 LANGUAGES C)
add_library(thing SHARED thing.c)
set_target_properties(thing PROPERTIES SOVERSION 0 PUBLIC_HEADER thing.h)
target_include_directories(thing PUBLIC $<INSTALL_INTERFACE:include>)
add_executable(thingcli cli.c)
target_link_libraries(thingcli thing)
install(TARGETS thing thingcli EXPORT thingTargets RUNTIME DESTINATION bin
        LIBRARY DESTINATION lib PUBLIC_HEADER DESTINATION include)
install(EXPORT thingTargets NAMESPACE thing:: DESTINATION lib/cmake/thing FILE thingConfig.cmake)
EOF
	printf 'int thing(void);\n' >"$work/git/thing/thing.h"
	printf 'int thing(void) { return 42; }\n' >"$work/git/thing/thing.c"
	printf '#include <stdio.h>\n#include "thing.h"\nint main(void) { printf("thing %%d\\n", thing()); return 0; }\n' >"$work/git/thing/cli.c"
	commit "$work/git/thing" thing >/dev/null
	git -C "$work/git/thing" tag v1.0
	expect_ok "$IPM" registry new thing --git "$GIT/thing" --tag v1.0 --description "a CMake library" --license MIT --dir "$REG"
	expect_ok "$IPM" install -y thing
	check "thingcli runs with only PATH set" sh -c '[ "$(env -i PATH="$1/bin:/usr/bin:/bin" thingcli)" = "thing 42" ]' sh "$IPM_PREFIX"
	check "thing's CMake files name no store path" sh -c '! grep -rq "/store/" "$1/lib/cmake/thing/"' sh "$IPM_PREFIX"
	# a CMake consumer of the user's, found through CMAKE_PREFIX_PATH only
	mkdir -p "$work/consumer"
	cat >"$work/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(consumer C)
find_package(thing CONFIG REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer thing::thing)
EOF
	printf '#include <stdio.h>\n#include <thing.h>\nint main(void) { printf("consumer %%d\\n", thing()); return 0; }\n' >"$work/consumer/main.c"
	check "a CMake consumer configures and builds" sh -c \
		'CMAKE_PREFIX_PATH="$1" cmake -S "$2" -B "$2/b" >/dev/null && cmake --build "$2/b" >/dev/null' sh "$IPM_PREFIX" "$work/consumer"
	check "and runs" sh -c '[ "$(env -i "$1/b/consumer")" = "consumer 42" ]' sh "$work/consumer"
	expect_ok "$IPM" remove -y thing
else
	ok "# skip cmake is not installed"
fi

# ---- an autotools (libtool) library and a program using it ----
if command -v autoreconf >/dev/null 2>&1 && command -v libtoolize >/dev/null 2>&1; then
	mkdir -p "$work/git/atl"
	cat >"$work/git/atl/configure.ac" <<'EOF'
AC_INIT([atl], [1.0])
AM_INIT_AUTOMAKE([foreign])
LT_INIT
AC_PROG_CC
AC_CONFIG_FILES([Makefile atl.pc])
AC_OUTPUT
EOF
	cat >"$work/git/atl/Makefile.am" <<'EOF'
lib_LTLIBRARIES = libatl.la
libatl_la_SOURCES = atl.c
libatl_la_LDFLAGS = -version-info 3:0:0
include_HEADERS = atl.h
pkgconfig_DATA = atl.pc
pkgconfigdir = $(libdir)/pkgconfig
bin_PROGRAMS = atlcli
atlcli_SOURCES = cli.c
atlcli_LDADD = libatl.la
EOF
	cat >"$work/git/atl/atl.pc.in" <<'EOF'
prefix=@prefix@
exec_prefix=@exec_prefix@
libdir=@libdir@
includedir=@includedir@

Name: atl
Description: autotools test library
Version: @VERSION@
Cflags: -I${includedir}
Libs: -L${libdir} -latl
EOF
	printf 'int atl(void);\n' >"$work/git/atl/atl.h"
	printf 'int atl(void) { return 7; }\n' >"$work/git/atl/atl.c"
	printf '#include <stdio.h>\n#include "atl.h"\nint main(void) { printf("atl %%d\\n", atl()); return 0; }\n' >"$work/git/atl/cli.c"
	cat=$(commit "$work/git/atl" atl)
	write_entry atl <<EOF
{ "name": "atl", "description": "an autotools library",
  "versions": [ { "version": "1.0", "git": "$GIT/atl", "commit": "$cat" } ],
  "methods": [ { "build": ["autoreconf -fi", "./configure --prefix=\"\$IPM_PREFIX\"", "make"],
                 "install": ["make install"] } ] }
EOF
	expect_ok "$IPM" install -y atl
	check "atlcli (libtool) runs with only PATH set" sh -c '[ "$(env -i PATH="$1/bin:/usr/bin:/bin" atlcli)" = "atl 7" ]' sh "$IPM_PREFIX"
	check "libatl.la names the prefix, not the store" sh -c 'grep -q "^libdir=.$1/lib.$" "$1/lib/libatl.la" && ! grep -q /store/ "$1/lib/libatl.la"' sh "$IPM_PREFIX"
	printf '#include <stdio.h>\n#include <atl.h>\nint main(void) { printf("mine %%d\\n", atl()); return 0; }\n' >"$work/atlmine.c"
	check "a program built against it with pkg-config runs" sh -c \
		'cc -o "$2/atlmine" "$2/atlmine.c" $(PKG_CONFIG_PATH="$1/lib/pkgconfig" pkg-config --cflags --libs atl) && [ "$(env -i "$2/atlmine")" = "mine 7" ]' sh "$IPM_PREFIX" "$work"
	expect_ok "$IPM" remove -y atl
else
	ok "# skip autoreconf or libtool is not installed"
fi

# ---- shadowing: a library whose soname the system has too ----
mkdir -p "$work/git/fakecjson"
cat >"$work/git/fakecjson/Makefile" <<'EOF'
.RECIPEPREFIX = >
all: libcjson.so.1
libcjson.so.1: fake.c
> $(CC) -shared -fPIC -Wl,-soname,libcjson.so.1 -o $@ fake.c $(LDFLAGS)
install: all
> mkdir -p $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/fake
> cp libcjson.so.1 $(DESTDIR)$(PREFIX)/lib/
> ln -sf libcjson.so.1 $(DESTDIR)$(PREFIX)/lib/libcjson.so
> printf 'const char *cJSON_Version(void);\n' > $(DESTDIR)$(PREFIX)/include/fake/cJSON.h
> printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: fakecjson\nDescription: fake\nVersion: 9.9.9\nCflags: -I$${includedir}/fake\nLibs: -L$${libdir} -lcjson\n' '$(PREFIX)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fakecjson.pc
EOF
printf 'const char *cJSON_Version(void) { return "9.9.9-ipm"; }\n' >"$work/git/fakecjson/fake.c"
cfk=$(commit "$work/git/fakecjson" fake)
write_entry fakecjson <<EOF
{ "name": "fakecjson", "description": "a libcjson.so.1 of the test's own",
  "versions": [ { "version": "9.9.9", "git": "$GIT/fakecjson", "commit": "$cfk" } ],
  "methods": [ { "build": ["make"], "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF
expect_ok "$IPM" install -y fakecjson
printf '#include <stdio.h>\n#include <cJSON.h>\nint main(void) { puts(cJSON_Version()); return 0; }\n' >"$work/cj.c"
check "the system has its own libcjson.so.1" sh -c 'ldconfig -p | grep -q "libcjson.so.1 "'
check "a program built through pkg-config reports ipm's version, not the system's" sh -c \
	'cc -o "$2/cj" "$2/cj.c" $(PKG_CONFIG_PATH="$1/lib/pkgconfig" pkg-config --cflags --libs fakecjson) && [ "$(env -i "$2/cj")" = "9.9.9-ipm" ]' sh "$IPM_PREFIX" "$work"

# a recipe linking it without LDFLAGS would load the system's copy: refused
mkdir -p "$work/git/noflags"
cat >"$work/git/noflags/Makefile" <<'EOF'
.RECIPEPREFIX = >
all: noflags
noflags: cj.c
> $(CC) -o $@ cj.c -I$(IPM_PREFIX)/include/fake -L$(IPM_PREFIX)/lib -lcjson
install: all
> mkdir -p $(DESTDIR)$(PREFIX)/bin
> cp noflags $(DESTDIR)$(PREFIX)/bin/
EOF
cp "$work/cj.c" "$work/git/noflags/cj.c"
cnf=$(commit "$work/git/noflags" noflags)
write_entry noflags <<EOF
{ "name": "noflags", "description": "links without LDFLAGS",
  "versions": [ { "version": "1.0", "git": "$GIT/noflags", "commit": "$cnf" } ],
  "methods": [ { "build": ["make"], "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF
snapshot "$work/before"
expect_fail 1 "'bin/noflags' of 'noflags' would load the system's '[^']*libcjson.so.1' instead of ipm's 'libcjson.so.1'" "$IPM" install -y noflags
check "with a hint about LDFLAGS" grep -q 'hint: link with \$LDFLAGS' "$work/err"
same_state "the refused install changed nothing" "$work/before"
expect_ok "$IPM" remove -y fakecjson

# ---- a program whose library is found nowhere ----
mkdir -p "$work/git/orphan"
cat >"$work/git/orphan/Makefile" <<'EOF'
.RECIPEPREFIX = >
all: orphan
libhidden.so.1: hidden.c
> $(CC) -shared -fPIC -Wl,-soname,libhidden.so.1 -o $@ hidden.c
orphan: main.c libhidden.so.1
> $(CC) -o $@ main.c libhidden.so.1 $(LDFLAGS)
install: all
> mkdir -p $(DESTDIR)$(PREFIX)/bin
> cp orphan $(DESTDIR)$(PREFIX)/bin/
EOF
printf 'int hidden(void) { return 1; }\n' >"$work/git/orphan/hidden.c"
printf 'int hidden(void);\nint main(void) { return hidden() - 1; }\n' >"$work/git/orphan/main.c"
cor=$(commit "$work/git/orphan" orphan)
write_entry orphan <<EOF
{ "name": "orphan", "description": "needs a library it does not install",
  "versions": [ { "version": "1.0", "git": "$GIT/orphan", "commit": "$cor" } ],
  "methods": [ { "build": ["make"], "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF
snapshot "$work/before"
expect_fail 1 "'bin/orphan' of 'orphan' needs 'libhidden.so.1', which is found nowhere" "$IPM" install -y orphan
same_state "nothing of orphan was installed" "$work/before"

# ---- a recipe that ignores DESTDIR ----
# Contained, such a step fails on the read-only prefix (t0160); uncontained,
# what it wrote is found afterwards, named and taken away.
printf '{ "sandbox": "off" }\n' >"$IPM_CONFIG"
mkdir -p "$work/git/nodest"
cat >"$work/git/nodest/Makefile" <<'EOF'
.RECIPEPREFIX = >
all:
install:
> mkdir -p $(PREFIX)/bin $(PREFIX)/share/nodest
> printf '#!/bin/sh\necho nodest\n' > $(PREFIX)/bin/nodest
> echo doc > $(PREFIX)/share/nodest/README
EOF
cnd=$(commit "$work/git/nodest" nodest)
write_entry nodest <<EOF
{ "name": "nodest", "description": "ignores DESTDIR",
  "versions": [ { "version": "1.0", "git": "$GIT/nodest", "commit": "$cnd" } ],
  "methods": [ { "install": ["make install PREFIX=\"\$IPM_PREFIX\""] } ] }
EOF
mkdir -p "$IPM_PREFIX/bin"
snapshot "$work/before"
expect_fail 1 "the recipe of 'nodest' wrote into the prefix instead of \\\$DESTDIR: '$IPM_PREFIX/bin/nodest', '$IPM_PREFIX/share'\$" "$IPM" install -y nodest
check "with a hint" grep -q 'hint: install steps must write under "\$DESTDIR\$IPM_PREFIX"' "$work/err"
check "bin/nodest is gone" test ! -e "$IPM_PREFIX/bin/nodest"
same_state "nothing it wrote stays in the prefix" "$work/before"

# a failing step that wrote into the prefix first: the failure is the
# error, and what it wrote is taken away too
cat >"$work/git/nodest/Makefile" <<'EOF'
.RECIPEPREFIX = >
all:
install:
> mkdir -p $(PREFIX)/bin
> printf '#!/bin/sh\necho nodest\n' > $(PREFIX)/bin/nodest
> false
EOF
cnd2=$(commit "$work/git/nodest" "nodest fails")
sed "s/$cnd/$cnd2/" "$REG/packages/nodest.json" >"$work/nodest2.json" && mv "$work/nodest2.json" "$REG/packages/nodest.json"
snapshot "$work/before"
expect_fail 1 "step 'make install PREFIX=.*' of 'nodest' failed with exit status 2" "$IPM" install -y nodest
check "the prefix writes are reported beside it" grep -q "warning: the recipe of 'nodest' wrote into the prefix instead of" "$work/err"
same_state "nothing of the failed install stays in the prefix" "$work/before"

rm -f "$IPM_CONFIG"

# ---- one home, one prefix ----
make_git_pkg "$work/git/solo" solo 1.0 >/dev/null
csolo=$(git -C "$work/git/solo" rev-parse HEAD)
git_entry solo 1.0 "$GIT/solo" "$csolo"
expect_ok "$IPM" --prefix "$work/p2" install -y solo
check "installed into the other prefix" test -x "$work/p2/bin/solo"
expect_fail 1 "'$IPM_HOME' holds packages installed into '$work/p2', not '$IPM_PREFIX'" "$IPM" install -y solo
check "with a hint naming both" grep -q "hint: use --prefix '$work/p2', or give the other prefix a home of its own" "$work/err"
expect_fail 1 "holds packages installed into '$work/p2'" "$IPM" remove -y solo
check "the refused remove kept the package" test -x "$work/p2/bin/solo"
expect_ok "$IPM" --prefix "$work/p2" remove -y solo
check "removed from the prefix it went into" test ! -e "$work/p2/bin/solo"
expect_ok "$IPM" install -y solo
check "with nothing installed, the default prefix is used again" test -x "$IPM_PREFIX/bin/solo"

done_testing
