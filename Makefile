# lockd: `make` builds the server, `make run` starts it, `make test` runs every
# test, `make bench` runs the side-by-side benchmarks. The targets that need
# system packages call scripts/install-deps.sh first.
#
# Variants, each in a build directory of its own so their objects never mix:
#   make test                      g++, -O2            → build/
#   make test CXX=clang++          clang               → build/clang/
#   make test SANITIZE=1           ASan + UBSan (+LSan) → build/sanitize/ (or build/clang-sanitize/)
#   make tests TSAN=1 CXX=clang++  TSan                 → build/clang-tsan/ (scripts/ci.sh runs its part)
#   scripts/ci.sh                  what CI runs: all of the above, one summary line
# `make run PORT=7000` or `make run ARGS="--appendfsync everysec"` pass options to the server.

.DEFAULT_GOAL := all
CXX      := $(if $(filter default,$(origin CXX)),g++,$(CXX))
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS += -Iinclude -Isrc -I/usr/include/lua5.1 -MMD -MP
# Lua 5.1 with cjson and bitop, linked statically from Debian's -dev packages
# (the versions Redis embeds), so the binary needs no Lua at run time.
LUA_LIBS := -l:liblua5.1-cjson.a -l:liblua5.1-bitop.a -l:liblua5.1.a
LDLIBS   := $(LUA_LIBS) -luv -lfmt -lhttp_parser -lsimdjson -lssl -lcrypto -lpthread -ldl -lm

COMPILER_TAG := $(if $(findstring clang,$(CXX)),clang,)
SANITIZE_TAG := $(if $(filter 1 yes,$(SANITIZE)),sanitize,)
VARIANT      := $(subst $(eval) ,-,$(strip $(COMPILER_TAG) $(SANITIZE_TAG)))
# ThreadSanitizer: `make test TSAN=1 CXX=clang++` (or scripts/ci.sh's tsan
# part) builds into build/clang-tsan/, so its objects never mix with the
# others. It checks the threads beside the loop: the log writer's sync thread,
# the background jobs (BackgroundSync) and the rewrite. Not with SANITIZE=1:
# TSan and ASan cannot share one process.
TSAN_TAG := $(if $(filter 1 yes,$(TSAN)),tsan,)
ifneq ($(TSAN_TAG),)
ifneq ($(SANITIZE_TAG),)
$(error TSAN=1 and SANITIZE=1 cannot be combined: ThreadSanitizer and AddressSanitizer exclude each other)
endif
VARIANT := $(subst $(eval) ,-,$(strip $(VARIANT) $(TSAN_TAG)))
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
CXXFLAGS += $(TSAN_FLAGS)
LDFLAGS  += $(TSAN_FLAGS)
ifeq ($(COMPILER_TAG),)
CXXFLAGS += -Wno-maybe-uninitialized
endif
endif

BUILD        ?= $(if $(VARIANT),build/$(VARIANT),build)

ifneq ($(SANITIZE_TAG),)
# Every finding stops the process, so a test that trips one fails.
SANITIZER_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CXXFLAGS += $(SANITIZER_FLAGS)
LDFLAGS  += $(SANITIZER_FLAGS)
# g++ 12's instrumentation makes -Wmaybe-uninitialized fire inside <regex>
# (a known false positive of that pairing); the plain build keeps the warning.
ifeq ($(COMPILER_TAG),)
CXXFLAGS += -Wno-maybe-uninitialized
endif
endif
export BUILD

MAIN_SRCS  := src/main.cc src/check_aof_main.cc
LIB_SRCS   := $(filter-out $(MAIN_SRCS),$(shell find src -name '*.cc' | sort))
LIB_OBJS   := $(LIB_SRCS:%.cc=$(BUILD)/%.o)
UNIT_SRCS  := $(sort $(wildcard tests/unit/*.cc))
UNIT_OBJS  := $(UNIT_SRCS:%.cc=$(BUILD)/%.o)
INTEG_SRCS := $(sort $(wildcard tests/integration/*.cc))
INTEG_OBJS := $(INTEG_SRCS:%.cc=$(BUILD)/%.o)

SERVER      := $(BUILD)/lockd-server
CHECK_AOF   := $(BUILD)/lockd-check-aof
UNIT_TESTS  := $(BUILD)/unit-tests
INTEG_TESTS := $(BUILD)/integration-tests
ENGINE_BENCH := $(BUILD)/engine-bench
BENCH_CLIENT := $(BUILD)/bench-client

# The abuse clients (tests/abuse/): a binary of their own, beside the
# integration tests and on the same harness, so that their minutes run under
# a watchdog of their own (the harness ends any one run after 300 s).
ABUSE_SRCS  := $(sort $(wildcard tests/abuse/*.cc))
ABUSE_OBJS  := $(ABUSE_SRCS:%.cc=$(BUILD)/%.o)
ABUSE_TESTS := $(BUILD)/abuse-tests
$(ABUSE_TESTS): $(ABUSE_OBJS) $(BUILD)/tests/integration/harness.o
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ -lhiredis -lfmt -lpthread

.PHONY: all run test bench clean deps tests format

# Where `make run` keeps its log and token file, so the repository root stays clean.
RUN_DIR := $(BUILD)/run

all: $(SERVER) $(CHECK_AOF)

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@mkdir -p $(RUN_DIR)
	$(SERVER) conf/lockd.conf --dir $(RUN_DIR) $(if $(PORT),--port $(PORT)) $(ARGS)

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all tests
	@scripts/run-tests.sh

bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all $(ENGINE_BENCH) $(BENCH_CLIENT)
	@scripts/bench.sh

tests: $(UNIT_TESTS) $(INTEG_TESTS) $(ABUSE_TESTS)

$(BUILD)/liblockd.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(SERVER): $(BUILD)/src/main.o $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(CHECK_AOF): $(BUILD)/src/check_aof_main.o $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT_TESTS): $(UNIT_OBJS) $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# OpenSSL: the TLS tests drive their own TLS clients (tls_test.cc).
$(INTEG_TESTS): $(INTEG_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ -lhiredis -lssl -lcrypto -lfmt -lpthread

$(ENGINE_BENCH): $(BUILD)/tests/bench/engine_bench.o $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The bench's own load client (batches with WAIT, TLS handshakes): hiredis's
# reply parser and OpenSSL, nothing of lockd's.
$(BENCH_CLIENT): $(BUILD)/tests/bench/bench_client.o
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ -lhiredis -lssl -lcrypto -lpthread

# ---- Linearizability checker (tests/lincheck/): real histories from the
# server, checked against the contract's lock model. `make test` runs a short
# pass of it; `make check` runs the long one (scripts/check.sh).
LINCHECK_SRCS  := $(sort $(wildcard tests/lincheck/*.cc))
LINCHECK_OBJS  := $(LINCHECK_SRCS:%.cc=$(BUILD)/%.o) $(BUILD)/tests/integration/harness.o
LINCHECK_TESTS := $(BUILD)/lincheck-tests
.PHONY: check
tests: $(LINCHECK_TESTS)
$(LINCHECK_TESTS): $(LINCHECK_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ -lhiredis -lfmt -lpthread
check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all $(LINCHECK_TESTS)
	@scripts/check.sh
-include $(LINCHECK_SRCS:%.cc=$(BUILD)/%.d)

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

# ---- Fuzzing (tests/fuzz/): libFuzzer targets built with clang, ASan and
# UBSan into build/fuzz/, apart from every other variant. `make fuzz` builds
# them and runs each for FUZZ_SECONDS (FUZZ_TARGETS picks some); `make
# fuzz-build` only builds them (scripts/run-tests.sh runs a short pass).
FUZZ_BUILD    := build/fuzz
FUZZ_CXX      ?= clang++
FUZZ_SECONDS  ?= 600
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CXXFLAGS := -O1 -gline-tables-only -std=c++20 -Wall -Wextra -Werror -Wno-missing-field-initializers \
                 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_NAMES    := $(patsubst tests/fuzz/fuzz_%.cc,%,$(sort $(wildcard tests/fuzz/fuzz_*.cc)))
FUZZ_BINS     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
# The targets never reach the network layer: leaving it out saves build time.
FUZZ_LIB_OBJS := $(patsubst %.cc,$(FUZZ_BUILD)/%.o,$(filter-out src/net/%,$(LIB_SRCS)))

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

# The targets' own objects are kept, so a rebuild compiles only what changed.
.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o)

fuzz: deps
	@$(MAKE) --no-print-directory -j$(JOBS) fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

$(FUZZ_BUILD)/liblockd.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/liblockd.a
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(FUZZ_BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(CPPFLAGS) $(FUZZ_CXXFLAGS) -c -o $@ $<

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_NAMES:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.d)
# ---- End of fuzzing.

format:
	clang-format -i $$(find include src tests -name '*.h' -o -name '*.cc')

clean:
	rm -rf build

-include $(ABUSE_OBJS:.o=.d)
-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(INTEG_OBJS:.o=.d) $(BUILD)/src/main.d $(BUILD)/src/check_aof_main.d
