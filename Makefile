# lockd: `make` builds the server, `make run` starts it, `make test` runs every
# test, `make bench` runs the side-by-side benchmarks. The targets that need
# system packages call scripts/install-deps.sh first.
#
# Variants, each in a build directory of its own so their objects never mix:
#   make test                      g++, -O2            → build/
#   make test CXX=clang++          clang               → build/clang/
#   make test SANITIZE=1           ASan + UBSan (+LSan) → build/sanitize/ (or build/clang-sanitize/)
# `make run PORT=7000` or `make run ARGS="--appendfsync everysec"` pass options to the server.

CXX      := $(if $(filter default,$(origin CXX)),g++,$(CXX))
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS += -Iinclude -Isrc -I/usr/include/lua5.1 -MMD -MP
# Lua 5.1 with cjson and bitop, linked statically from Debian's -dev packages
# (the versions Redis embeds), so the binary needs no Lua at run time.
LUA_LIBS := -l:liblua5.1-cjson.a -l:liblua5.1-bitop.a -l:liblua5.1.a
LDLIBS   := $(LUA_LIBS) -luv -lfmt -lhttp_parser -lsimdjson -lpthread -ldl -lm

COMPILER_TAG := $(if $(findstring clang,$(CXX)),clang,)
SANITIZE_TAG := $(if $(filter 1 yes,$(SANITIZE)),sanitize,)
VARIANT      := $(subst $(eval) ,-,$(strip $(COMPILER_TAG) $(SANITIZE_TAG)))
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
	@$(MAKE) --no-print-directory -j$(JOBS) all $(ENGINE_BENCH)
	@scripts/bench.sh

tests: $(UNIT_TESTS) $(INTEG_TESTS)

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

$(INTEG_TESTS): $(INTEG_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ -lhiredis -lfmt -lpthread

$(ENGINE_BENCH): $(BUILD)/tests/bench/engine_bench.o $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

format:
	clang-format -i $$(find include src tests -name '*.h' -o -name '*.cc')

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(INTEG_OBJS:.o=.d) $(BUILD)/src/main.d $(BUILD)/src/check_aof_main.d
