# Benchmarks of ipm itself (the attention library has its own: bench-attention).
IPM_BENCH_BIN = $(BUILD)/bench/ipm_timeit $(BUILD)/bench/ipm_populate $(BUILD)/bench/ipm_floor \
		$(BUILD)/bench/ipm_sqltrace.so

.PHONY: bench-ipm
bench: bench-ipm

bench-ipm: deps all $(IPM_BENCH_BIN)
	@command -v sqlite3 >/dev/null 2>&1 || { echo "bench-ipm: installing sqlite3 (the baseline)"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq sqlite3 >/dev/null; }
	@BUILD=$(BUILD) bench/ipm-bench.sh

# ipm outdated on 10,000 installed packages and a 100,000-entry registry,
# against the same query run by the sqlite3 tool (issue 9's target: 2x).
.PHONY: bench-outdated
bench: bench-outdated

bench-outdated: deps all $(IPM_BENCH_BIN)
	@command -v sqlite3 >/dev/null 2>&1 || { echo "bench-outdated: installing sqlite3 (the baseline)"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq sqlite3 >/dev/null; }
	@BUILD=$(BUILD) bench/outdated-bench.sh

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

# Rollback of a 10-package plan against remove of the same packages
# (issue 9; seconds, not part of `make bench` nor `make check`).
.PHONY: bench-rollback
bench-rollback: all $(BUILD)/bench/ipm_timeit
	@BUILD=$(BUILD) bench/rollback-bench.sh
# ipm verify / which / files on a package of 2,000 files against sha256sum
# and the sqlite3 tool (not part of `make bench`): bench/verify-bench.sh.
.PHONY: bench-verify
bench-verify: all
	@BUILD=$(BUILD) bench/verify-bench.sh
# Binary caches: installing jq (with oniguruma) from a binary cache on
# 127.0.0.1 (nginx) against building it (minutes; not part of `make bench`
# nor `make check`). Offline: IPM_MIRRORS=... pointing at local mirrors.
.PHONY: bench-bincache
bench-bincache: all
	@BUILD=$(BUILD) bench/bincache-bench.sh

# The sparse registry protocol against the single index document, over
# nginx on 127.0.0.1 (a few minutes; not part of `make bench`):
# bench/sparse-bench.sh (RUNS, N_ENTRIES).
.PHONY: bench-sparse
bench-sparse: all
	@BUILD=$(BUILD) bench/sparse-bench.sh

# Plans in parallel (issue 12): 3 CPU-bound builds in one plan against
# their single installs, and a local mirror's fetch against git clone.
.PHONY: bench-parallel
bench-parallel: all
	@BUILD=$(BUILD) bench/parallel-bench.sh
