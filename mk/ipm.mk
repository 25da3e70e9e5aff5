# ipm: the engine (src/*.c -> libipm.a), the command line (src/cli/*.c -> ipm),
# unit tests (tests/unit/test_*.c) and test tools (tests/tools/*.c).

# The ipm program links only what every command needs (IPM_CORE_PKGS); the
# parts that need heavy libraries are shared objects that ipm loads on first
# use (src/layer.h), so that list, info, search and --version start as fast
# as SQLite allows: ipm-fetch.so (IPM_FETCH_SRC) and ipm-digest.so
# (IPM_DIGEST_SRC). A new file that calls into one of IPM_FETCH_PKGS
# belongs in IPM_FETCH_SRC, into libcrypto or libelf in IPM_DIGEST_SRC (ipm's link
# fails otherwise).
IPM_CORE_PKGS  = libcjson sqlite3 libsodium
IPM_FETCH_PKGS = libcurl libgit2 libarchive
IPM_DIGEST_PKGS = libcrypto libelf
IPM_PKGS      = $(IPM_CORE_PKGS) $(IPM_FETCH_PKGS) $(IPM_DIGEST_PKGS)
IPM_CFLAGS    = -Iinclude $(shell $(PKG_CONFIG) --cflags $(IPM_PKGS))
IPM_LIBS      = $(shell $(PKG_CONFIG) --libs $(IPM_PKGS)) -lpthread -lm
IPM_CORE_LIBS = $(shell $(PKG_CONFIG) --libs $(IPM_CORE_PKGS)) -lpthread -lm
IPM_VERSION   = 0.1.0

IPM_FETCH_SRC  = src/archive.c src/bincache.c src/fetch.c src/git.c src/git_stream.c src/http.c src/http_many.c \
		 src/tls.c \
		 src/publish.c src/repo.c src/scaffold.c
IPM_DIGEST_SRC = src/digest.c src/linkage.c
IPM_ENGINE_SRC = $(filter-out src/layer_%.c,$(sort $(wildcard src/*.c)))
IPM_CORE_SRC   = $(filter-out $(IPM_FETCH_SRC) $(IPM_DIGEST_SRC),$(IPM_ENGINE_SRC))
IPM_CLI_SRC    = $(sort $(wildcard src/cli/*.c))
IPM_ENGINE_OBJ = $(IPM_ENGINE_SRC:src/%.c=$(BUILD)/obj/%.o)
IPM_CORE_OBJ   = $(IPM_CORE_SRC:src/%.c=$(BUILD)/obj/%.o)
IPM_FETCH_OBJ  = $(IPM_FETCH_SRC:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/layer_fetch.o
IPM_DIGEST_OBJ = $(IPM_DIGEST_SRC:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/layer_digest.o
IPM_LAYERS     = $(BUILD)/ipm-fetch.so $(BUILD)/ipm-digest.so
IPM_CLI_OBJ    = $(IPM_CLI_SRC:src/cli/%.c=$(BUILD)/obj/cli/%.o)
IPM_UNIT_SRC   = $(sort $(wildcard tests/unit/test_*.c))
IPM_UNIT_BIN   = $(IPM_UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
IPM_TOOL_SRC   = $(sort $(wildcard tests/tools/*.c))
IPM_TOOL_BIN   = $(IPM_TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
IPM_ATTN_LIB   = $(BUILD)/attention/libattention.a

UNIT_TESTS += $(IPM_UNIT_BIN)

all: $(BUILD)/ipm $(IPM_LAYERS) $(IPM_TOOL_BIN)

$(BUILD)/obj/%.o: src/%.c $(wildcard include/ipm/*.h) include/attention.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(IPM_CFLAGS) -DIPM_VERSION='"$(IPM_VERSION)"' -c $< -o $@

$(BUILD)/libipm.a: $(IPM_ENGINE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The layers' objects go into shared objects as well as into libipm.a
# (rebuilt when this file changes: a build directory from before the split
# holds them without -fPIC).
$(IPM_FETCH_OBJ) $(IPM_DIGEST_OBJ): CFLAGS += -fPIC
$(IPM_FETCH_OBJ) $(IPM_DIGEST_OBJ): mk/ipm.mk
$(BUILD)/obj/layer_load.o $(BUILD)/obj/layer_fetch.o $(BUILD)/obj/layer_digest.o: src/layer.h

# ipm exports its symbols (-rdynamic): the layers call the engine in it
# (errors, logging, files), never a second copy of it. Every core object is
# linked, used by ipm itself or not, for the same reason.
$(BUILD)/ipm: $(IPM_CLI_OBJ) $(IPM_CORE_OBJ) $(BUILD)/obj/layer_load.o $(IPM_ATTN_LIB)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $(IPM_CLI_OBJ) $(IPM_CORE_OBJ) $(BUILD)/obj/layer_load.o \
	    $(IPM_ATTN_LIB) $(IPM_CORE_LIBS)

# A layer exports only its table (mk/ipm-layer.map): its own functions bind
# to each other, not to ipm's loaders of the same names.
$(BUILD)/ipm-fetch.so: $(IPM_FETCH_OBJ) mk/ipm-layer.map
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=mk/ipm-layer.map -o $@ $(IPM_FETCH_OBJ) \
	    $(shell $(PKG_CONFIG) --libs $(IPM_FETCH_PKGS))

$(BUILD)/ipm-digest.so: $(IPM_DIGEST_OBJ) mk/ipm-layer.map
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=mk/ipm-layer.map -o $@ $(IPM_DIGEST_OBJ) \
	    $(shell $(PKG_CONFIG) --libs $(IPM_DIGEST_PKGS))

$(BUILD)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(BUILD)/libipm.a $(IPM_ATTN_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(IPM_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< \
	    $(LDFLAGS) $(BUILD)/libipm.a $(IPM_ATTN_LIB) $(shell $(PKG_CONFIG) --libs cmocka) $(IPM_LIBS)

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

# The demo: install the attention library with ipm from the bundled registry
# into a private home and prefix under build/demo, then compile and run the
# article's example against what ipm installed.
DEMO = $(BUILD)/demo
demo: deps
	@$(MAKE) --no-print-directory all
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	IPM_HOME=$(DEMO)/home IPM_PREFIX=$(DEMO)/prefix IPM_CACHE=$(DEMO)/cache \
	    IPM_CONFIG=$(DEMO)/config.json $(BUILD)/ipm install --yes attention
	IPM_HOME=$(DEMO)/home IPM_PREFIX=$(DEMO)/prefix IPM_CACHE=$(DEMO)/cache \
	    IPM_CONFIG=$(DEMO)/config.json $(BUILD)/ipm list
	PKG_CONFIG_PATH=$(DEMO)/prefix/lib/pkgconfig $(CC) -o $(DEMO)/article examples/article.c \
	    $$(PKG_CONFIG_PATH=$(DEMO)/prefix/lib/pkgconfig $(PKG_CONFIG) --cflags --libs attention)
	$(DEMO)/article

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/ipm/registry/packages
	install -m 755 $(BUILD)/ipm $(DESTDIR)$(PREFIX)/bin/ipm
	install -d $(DESTDIR)$(PREFIX)/lib/ipm
	install -m 644 $(IPM_LAYERS) $(DESTDIR)$(PREFIX)/lib/ipm/
	install -m 644 man/ipm*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/ipm-registry.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 registry/packages/*.json $(DESTDIR)$(PREFIX)/share/ipm/registry/packages/
	install -m 644 registry/schema.json $(DESTDIR)$(PREFIX)/share/ipm/registry/
	scripts/registry-meta registry/registry.json > $(DESTDIR)$(PREFIX)/share/ipm/registry/registry.json
