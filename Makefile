# Hallmark — build, test, benchmark and run.
#
# One archive per module, linked only where the layering allows:
#   lib/       -> libhm.a   (crypto, encoding, Merkle; OpenSSL + libsecp256k1)
#   consensus/ -> libcs.a   (pure state machine; links nothing but libhm)
#   contracts/ -> libct.a   (deterministic execution; links nothing but libhm)
#   node/      -> libnd.a + hallmarkd
#   cli/       -> hallmark
# Unit tests are named after the module they test (tests/unit/test_<prefix>_*.c)
# and link only that module and what it may depend on, so a test binary that
# links is itself a proof of the dependency direction.

BUILD ?= build
CC ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
SIM_SEEDS ?= 10000

PKG_HM := libsecp256k1 libcrypto
PKG_CT := $(PKG_HM) jansson
PKG_ALL := $(PKG_HM) libssl libevent libevent_openssl jansson rocksdb libqrencode

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Wformat=2 -Wimplicit-fallthrough
OPT ?= -O2 -g
CPPFLAGS_ALL := -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Ilib -Iconsensus -Icontracts -Inode
CFLAGS_ALL := -std=c11 $(OPT) $(WARN) $(CPPFLAGS_ALL) $(EXTRA_CFLAGS) \
              $(shell pkg-config --cflags $(PKG_ALL) cmocka 2>/dev/null)
LIBS_HM := $(shell pkg-config --libs $(PKG_HM) 2>/dev/null)
LIBS_CT := $(shell pkg-config --libs $(PKG_CT) 2>/dev/null)
LIBS_ALL := $(shell pkg-config --libs $(PKG_ALL) 2>/dev/null) -lpthread -lm
LIBS_TEST := $(shell pkg-config --libs cmocka 2>/dev/null)
LDFLAGS_ALL := $(EXTRA_LDFLAGS)

HM_SRC := $(wildcard lib/*.c)
CS_SRC := $(wildcard consensus/*.c)
CT_SRC := $(wildcard contracts/*.c)
ND_SRC := $(filter-out node/main.c,$(wildcard node/*.c))
CLI_SRC := $(wildcard cli/*.c)
SIM_SRC := $(wildcard tests/sim/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

HM_A := $(BUILD)/libhm.a
CS_A := $(BUILD)/libcs.a
CS_TEST_A := $(BUILD)/libcs-test.a
CT_A := $(BUILD)/libct.a
ND_A := $(BUILD)/libnd.a

UNIT_HM := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_hm_*.c))
UNIT_CS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_cs_*.c))
UNIT_CT := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_ct_*.c))
UNIT_ND := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_nd_*.c))
UNIT := $(UNIT_HM) $(UNIT_CS) $(UNIT_CT) $(UNIT_ND)
BENCH := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/bench_*.c))
FUZZ := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps deps-test deps-bench test asan fuzz fuzz-build bench run clean format \
        check-layers unit sim cluster browser fuzz-replay cli-tests

all: deps $(BUILD)/hallmarkd $(BUILD)/hallmark $(BUILD)/hallmark-sim

deps:
	@bash scripts/deps.sh build
deps-test:
	@bash scripts/deps.sh test
deps-bench:
	@bash scripts/deps.sh bench

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The simulator's copy of the consensus core carries the test-only mutants.
$(BUILD)/obj-test/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DCS_TEST_MUTANTS -MMD -MP -c $< -o $@

$(HM_A): $(call obj,$(HM_SRC))
	@rm -f $@; ar rcs $@ $^
$(CS_A): $(call obj,$(CS_SRC))
	@rm -f $@; ar rcs $@ $^
$(CS_TEST_A): $(patsubst %.c,$(BUILD)/obj-test/%.o,$(CS_SRC))
	@rm -f $@; ar rcs $@ $^
$(CT_A): $(call obj,$(CT_SRC))
	@rm -f $@; ar rcs $@ $^
$(ND_A): $(call obj,$(ND_SRC))
	@rm -f $@; ar rcs $@ $^

$(BUILD)/hallmarkd: $(call obj,node/main.c) $(ND_A) $(CT_A) $(CS_A) $(HM_A)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
$(BUILD)/hallmark: $(call obj,$(CLI_SRC)) $(CT_A) $(HM_A)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
# Linked without libevent, RocksDB or libssl: the consensus core cannot need them.
$(BUILD)/hallmark-sim: $(call obj,$(SIM_SRC)) $(CS_TEST_A) $(HM_A)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_HM) -lm

# jansson only to read the JSON test vectors.
$(UNIT_HM): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(HM_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_CT) $(LIBS_TEST)
$(UNIT_CS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(CS_TEST_A) $(HM_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_HM) $(LIBS_TEST)
$(UNIT_CT): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(CT_A) $(HM_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_CT) $(LIBS_TEST)
$(UNIT_ND): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ND_A) $(CT_A) $(CS_A) $(HM_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL) $(LIBS_TEST)

$(BENCH): $(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(ND_A) $(CT_A) $(CS_A) $(HM_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)

# ---- tests ---------------------------------------------------------------

check-layers: $(call obj,$(CS_SRC) $(CT_SRC) $(HM_SRC))
	@bash tests/check_layers.sh $(BUILD)/obj

unit: $(UNIT)
	@bash tests/run_unit.sh $(UNIT)

sim: $(BUILD)/hallmark-sim
	@bash tests/sim/run.sh $(BUILD)/hallmark-sim $(SIM_SEEDS)

cluster: $(BUILD)/hallmarkd $(BUILD)/hallmark
	@bash tests/cluster/run.sh $(BUILD)

browser: $(BUILD)/hallmarkd $(BUILD)/hallmark
	@bash tests/browser/run.sh $(BUILD)

cli-tests: $(BUILD)/hallmark
	@bash tests/cli/run.sh $(BUILD)

fuzz-replay: fuzz-build
	@bash tests/fuzz/run.sh replay $(FUZZ)

test: deps-test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-layers unit cli-tests sim fuzz-replay cluster browser

asan:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g" \
	    EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" SIM_SEEDS=300 unit sim

# ---- fuzzing (clang + libFuzzer) -------------------------------------------

FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -g -O1
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(FUZZ_FLAGS) $(CPPFLAGS_ALL) $(shell pkg-config --cflags $(PKG_ALL)) -c $< -o $@
$(FUZZ): $(BUILD)/fuzz/%: $(BUILD)/fuzz/obj/tests/fuzz/%.o \
        $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(HM_SRC) $(CS_SRC) $(CT_SRC) node/wire.c node/lane_req.c)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(LIBS_CT)

fuzz-build: $(FUZZ)

fuzz: deps-test fuzz-build
	@bash tests/fuzz/run.sh run $(FUZZ_SECONDS) $(FUZZ)

# ---- benchmarks and the local network -------------------------------------

bench: deps-bench all $(BENCH)
	@bash tests/bench/run.sh $(BUILD)

run: deps all
	@bash scripts/run-local.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
