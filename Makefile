# ipm and the attention library.
#   make demo     build ipm and install the attention library from the bundled registry (offline)
#   make check    install missing build dependencies, build everything, run every test
# Each part of the tree adds its own rules through mk/*.mk.

BUILD     ?= build
PREFIX    ?= /usr/local
CC        ?= cc
OPT       ?= -O2 -g
SAN       ?=
WARN      := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS    ?=
CFLAGS    += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN)
LDFLAGS   += $(SAN)
PKG_CONFIG ?= pkg-config

# Test programs and scripts that `make check` runs; fragments append to these.
UNIT_TESTS :=
E2E_TESTS   = $(sort $(wildcard tests/e2e/t[0-9]*.sh))

.PHONY: all deps demo check check-asan bench clean install
all:

deps:
	@scripts/install-deps

include $(sort $(wildcard mk/*.mk))

check:
	@scripts/install-deps --tests
	@$(MAKE) --no-print-directory all $(UNIT_TESTS)
	@BUILD=$(BUILD) tests/run $(UNIT_TESTS) $(E2E_TESTS)

check-asan:
	@$(MAKE) --no-print-directory check BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"

clean:
	rm -rf build build-asan
