# Benchmarks of ipm itself (the attention library has its own: bench-attention).
IPM_BENCH_BIN = $(BUILD)/bench/ipm_timeit $(BUILD)/bench/ipm_populate

.PHONY: bench-ipm
bench: bench-ipm

bench-ipm: deps all $(IPM_BENCH_BIN)
	@command -v sqlite3 >/dev/null 2>&1 || { echo "bench-ipm: installing sqlite3 (the baseline)"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq sqlite3 >/dev/null; }
	@BUILD=$(BUILD) bench/ipm-bench.sh

$(BUILD)/bench/ipm_timeit: bench/ipm_timeit.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

$(BUILD)/bench/ipm_populate: bench/ipm_populate.c $(BUILD)/libipm.a $(IPM_ATTN_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(IPM_CFLAGS) -o $@ $< $(LDFLAGS) $(BUILD)/libipm.a $(IPM_ATTN_LIB) $(IPM_LIBS)

# The recipe guesser against real repositories from local mirrors (minutes;
# not part of `make bench` nor `make check`): bench/guess-bench.sh.
.PHONY: bench-guess
bench-guess: all
	@BUILD=$(BUILD) bench/guess-bench.sh

# The sparse registry protocol against the single index document, over
# nginx on 127.0.0.1 (a few minutes; not part of `make bench`):
# bench/sparse-bench.sh (RUNS, N_ENTRIES).
.PHONY: bench-sparse
bench-sparse: all
	@BUILD=$(BUILD) bench/sparse-bench.sh
