# Fuzzing (not part of `make check`): libFuzzer targets fuzz/fuzz_<name>.c,
# each with a seed corpus in fuzz/corpus/<name>/.
#   make fuzz                       build every target and run each for FUZZ_SECONDS
#   make fuzz FUZZ_SECONDS=300 FUZZ_TARGETS="entry index"
#   make fuzz-build                 build only ($(FUZZ_BUILD)/fuzz/fuzz_<name>)
# The engine is rebuilt with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer into its own build directory; scripts/install-deps
# installs clang and its libFuzzer runtime when they are missing. New inputs
# go to $(FUZZ_BUILD)/fuzz/corpus/<name>/ (the committed seeds stay as they
# are), crashes to $(FUZZ_BUILD)/fuzz/crashes/<name>-*; the run ends with a
# table of runs, executions a second and coverage per target.

FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= $(sort $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c)))
FUZZ_OPT      = -O1 -g -fno-omit-frame-pointer
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all

.PHONY: fuzz fuzz-build

# The engine for the fuzzers: clang-only warnings do not stop a fuzz build,
# whose business is crashes (`make all` keeps -Werror).
fuzz-build:
	@FUZZ_CC=$(FUZZ_CC) scripts/install-deps --fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT="$(FUZZ_OPT)" \
	    WARN="-Wall -Wextra -Wno-unused-parameter" SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	    $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/fuzz_%)

# (mk/ipm.mk, which names these libraries, is read after this file)
$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(BUILD)/libipm.a $(BUILD)/attention/libattention.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(IPM_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(LDFLAGS) -fsanitize=fuzzer $(BUILD)/libipm.a $(BUILD)/attention/libattention.a $(IPM_LIBS)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzzers $(FUZZ_TARGETS)
