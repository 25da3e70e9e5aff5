# ipm and the attention library.
#   make demo     build ipm and install the attention library from the bundled registry (offline)
#   make check    install missing build dependencies, build everything, run every test
#                 (check-registry included, so CI refuses a bad registry entry)
#   make check-registry        check every entry of registry/ (offline)
#   make check-registry-build  also build, install and remove each one (network)
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

.DELETE_ON_ERROR:
.PHONY: all deps demo check check-asan check-registry check-registry-build bench clean install
all:

deps:
	@scripts/install-deps

include $(sort $(wildcard mk/*.mk))

check:
	@scripts/install-deps --tests
	@$(MAKE) --no-print-directory all $(UNIT_TESTS)
	@$(MAKE) --no-print-directory check-registry
	@BUILD=$(BUILD) tests/run $(UNIT_TESTS) $(E2E_TESTS)

# The bundled registry, with the rules of the public registry. No user
# configuration is read: CI must judge the entries, not the machine.
check-registry: all
	IPM_CONFIG=/nonexistent/ipm-config.json IPM_REGISTRY= $(BUILD)/ipm registry check registry

check-registry-build: all
	IPM_CONFIG=/nonexistent/ipm-config.json IPM_REGISTRY= $(BUILD)/ipm registry check --build registry

check-asan:
	@$(MAKE) --no-print-directory check BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"

clean:
	rm -rf build build-asan build-tsan
