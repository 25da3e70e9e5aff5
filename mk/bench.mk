# Benchmarks of ipm itself (the attention library has its own: bench-attention).
IPM_BENCH_BIN = $(BUILD)/bench/ipm_timeit $(BUILD)/bench/ipm_populate $(BUILD)/bench/ipm_floor \
		$(BUILD)/bench/ipm_sqltrace.so

.PHONY: bench-ipm
bench: bench-ipm

bench-ipm: deps all $(IPM_BENCH_BIN)
	@command -v sqlite3 >/dev/null 2>&1 || { echo "bench-ipm: installing sqlite3 (the baseline)"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq sqlite3 >/dev/null; }
	@BUILD=$(BUILD) bench/ipm-bench.sh

$(BUILD)/bench/ipm_timeit: bench/ipm_timeit.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

# the floor ipm --version is measured against: SQLite and cJSON, nothing else
$(BUILD)/bench/ipm_floor: bench/ipm_floor.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags sqlite3 libcjson) -o $@ $< $(LDFLAGS) \
	    $(shell $(PKG_CONFIG) --libs sqlite3 libcjson)

# preloaded into ipm once, to hand the sqlite3 tool the very SQL ipm ran
$(BUILD)/bench/ipm_sqltrace.so: bench/ipm_sqltrace.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared $(shell $(PKG_CONFIG) --cflags sqlite3) -o $@ $< $(LDFLAGS) \
	    $(shell $(PKG_CONFIG) --libs sqlite3)

$(BUILD)/bench/ipm_populate: bench/ipm_populate.c $(BUILD)/libipm.a $(IPM_ATTN_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(IPM_CFLAGS) -o $@ $< $(LDFLAGS) $(BUILD)/libipm.a $(IPM_ATTN_LIB) $(IPM_LIBS)

# The recipe guesser against real repositories from local mirrors (minutes;
# not part of `make bench` nor `make check`): bench/guess-bench.sh.
.PHONY: bench-guess
bench-guess: all
	@BUILD=$(BUILD) bench/guess-bench.sh
