# lockd: `make` builds the server, `make run` starts it, `make test` runs every
# test, `make bench` runs the side-by-side benchmarks. The targets that need
# system packages call scripts/install-deps.sh first.

CXX      ?= g++
BUILD    := build
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS += -Iinclude -Isrc -MMD -MP
LDLIBS   := -luv -lfmt -lpthread

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

all: $(SERVER) $(CHECK_AOF)

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(SERVER) conf/lockd.conf

test: deps
	@$(MAKE) --no-print-directory -j2 all tests
	@scripts/run-tests.sh

bench: deps
	@$(MAKE) --no-print-directory -j2 all $(ENGINE_BENCH)
	@scripts/bench.sh

tests: $(UNIT_TESTS) $(INTEG_TESTS)

$(BUILD)/liblockd.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(SERVER): $(BUILD)/src/main.o $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LDLIBS)

$(CHECK_AOF): $(BUILD)/src/check_aof_main.o $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT_TESTS): $(UNIT_OBJS) $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LDLIBS)

$(INTEG_TESTS): $(INTEG_OBJS)
	$(CXX) $(CXXFLAGS) -o $@ $^ -lhiredis -lfmt -lpthread

$(ENGINE_BENCH): $(BUILD)/tests/bench/engine_bench.o $(BUILD)/liblockd.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

format:
	clang-format -i $$(find include src tests -name '*.h' -o -name '*.cc')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
