# The attention library: builds on its own (a C compiler, libm, pthreads).
#   make attention                  static + shared library in $(BUILD)/attention
#   make install-attention PREFIX=  header, libraries, attention.pc, man pages
#   make bench-attention            benchmark against naive C and OpenBLAS
#   make check-attention-tsan       the thread pool's tests (and the threaded
#                                   sdpa ones, decode with rows in the lanes
#                                   too) under ThreadSanitizer, in build-tsan/
#     ATTN_BENCH_ARGS=--decode        only the decode table (--quick: smaller,
#                                     shorter; --rounds N: decode rounds)
# Kernels for AVX2 and AVX-512 get their own target flags; the library picks
# one at run time.

ATTN_MAJOR   = $(shell sed -n 's/^\#define ATTN_VERSION_MAJOR //p' include/attention.h)
ATTN_VERSION = $(shell sed -n 's/^\#define ATTN_VERSION_STRING "\(.*\)"/\1/p' include/attention.h)
ATTN_DIR     := $(BUILD)/attention
ATTN_SRCS    := $(sort $(wildcard src/attention/*.c))
ATTN_OBJS    := $(patsubst src/attention/%.c,$(ATTN_DIR)/obj/%.o,$(ATTN_SRCS))
ATTN_HDRS    := include/attention.h $(wildcard src/attention/*.h)
ATTN_CFLAGS  := -Iinclude -fPIC -fvisibility=hidden -pthread
ATTN_LIBS    := -lm -pthread
ATTN_A       := $(ATTN_DIR)/libattention.a
ATTN_SO      := $(ATTN_DIR)/libattention.so
ATTN_MANS3   := man/attention.3 $(sort $(wildcard man/attn_*.3))
ATTN_CMOCKA  = $(shell $(PKG_CONFIG) --cflags --libs cmocka)
ATTN_BLAS    = $(shell $(PKG_CONFIG) --cflags --libs openblas)
ATTN_TESTS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/unit/attention_*.c)))

.PHONY: attention install-attention bench-attention check-attention-tsan
all: attention
bench: bench-attention
attention: $(ATTN_A) $(ATTN_SO)

$(ATTN_DIR)/obj/kern_avx2.o: ATTN_ISA := -mavx2 -mfma
$(ATTN_DIR)/obj/kern_avx512.o: ATTN_ISA := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma

$(ATTN_DIR)/obj/%.o: src/attention/%.c $(ATTN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ATTN_CFLAGS) $(ATTN_ISA) -c -o $@ $<

$(ATTN_A): $(ATTN_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(ATTN_SO): $(ATTN_OBJS)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libattention.so.$(ATTN_MAJOR) -o $@.$(ATTN_MAJOR) $^ $(ATTN_LIBS)
	ln -sf libattention.so.$(ATTN_MAJOR) $@

install-attention: attention
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 644 include/attention.h $(DESTDIR)$(PREFIX)/include/attention.h
	install -m 644 $(ATTN_A) $(DESTDIR)$(PREFIX)/lib/libattention.a
	install -m 755 $(ATTN_SO).$(ATTN_MAJOR) $(DESTDIR)$(PREFIX)/lib/libattention.so.$(ATTN_MAJOR)
	ln -sf libattention.so.$(ATTN_MAJOR) $(DESTDIR)$(PREFIX)/lib/libattention.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(ATTN_VERSION)|' \
	    src/attention/attention.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/attention.pc
	install -m 644 $(ATTN_MANS3) $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 man/attention.7 $(DESTDIR)$(PREFIX)/share/man/man7/attention.7

# Unit tests link the static library, so they need no install.
UNIT_TESTS += $(ATTN_TESTS)
$(BUILD)/tests/attention_%: tests/unit/attention_%.c $(ATTN_A) include/attention.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iinclude -pthread -o $@ $< $(ATTN_A) $(ATTN_CMOCKA) $(LDFLAGS) $(ATTN_LIBS)

# ThreadSanitizer is not part of check-asan (it cannot be combined with
# ASan); the pool and the threaded sdpa tests take seconds under it.
check-attention-tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT="-O1 -g" SAN="-fsanitize=thread" \
	    build-tsan/tests/attention_test
	ATTN_TEST_FILTER='test_pool_*' TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/attention_test
	ATTN_TEST_FILTER='test_sdpa_threads_identical' TSAN_OPTIONS=halt_on_error=1 \
	    build-tsan/tests/attention_test
	ATTN_TEST_FILTER='test_sdpa_decode_lanes' TSAN_OPTIONS=halt_on_error=1 \
	    build-tsan/tests/attention_test

# The benchmark is tuned for the machine it runs on (-march=native); the
# OpenBLAS overrides this machine exports for old builds are dropped for
# this run only.
$(BUILD)/bench/attention_bench: bench/attention_bench.c $(ATTN_A) include/attention.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O3 -march=native -Iinclude -pthread -o $@ $< $(ATTN_A) $(ATTN_BLAS) $(LDFLAGS) $(ATTN_LIBS)

bench-attention:
	@IPM_NEED_OPENBLAS=1 scripts/install-deps
	@$(MAKE) --no-print-directory $(BUILD)/bench/attention_bench
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BUILD)/bench/attention_bench $(ATTN_BENCH_ARGS)
