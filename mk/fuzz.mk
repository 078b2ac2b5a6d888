# mk/fuzz.mk -- fuzzing (libFuzzer) and fault testing, included by the
# Makefile next to `check`.  README.md, "Fault testing", says how to use
# them.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZERS="fuzz_rpc_frame ..."]
#       builds every harness of tests/fuzz/ with clang
#       (-fsanitize=fuzzer,address,undefined), runs each for FUZZ_SECONDS
#       on its seed corpus (tests/fuzz/corpus/<harness>/, plus what earlier
#       runs found in build/fuzz/work/<harness>/), and ends with one summary
#       line per harness and a total.  A crash leaves its input in
#       build/fuzz/artifacts/ and fails the target.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
# What `make check` (CI) gives each harness.
FUZZ_CHECK_SECONDS ?= 60
FZ           := $(B)/fuzz
FZ_OBJ       := $(FZ)/obj
FZ_BIN       := $(FZ)/bin
FZ_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FZ_CFLAGS     = -std=c11 $(WARN) -g -O1 $(FZ_SAN) -fsanitize=fuzzer-no-link \
	$(CPPFLAGS) -Iclient $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS      ?= $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))

# Every module but the daemon's main, instrumented, in one archive: each
# harness takes what it needs from it.
FZ_LIB_SRC   := $(COMMON_SRC) $(filter-out daemon/main.c,$(DAEMON_SRC)) \
	client/audit_verify.c
FZ_LIB_OBJ   := $(FZ_LIB_SRC:%.c=$(FZ_OBJ)/%.o) \
	$(PB_C:$(GEN)/%.c=$(FZ_OBJ)/gen/%.o)

$(FZ_OBJ)/%.o: %.c $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FZ_CFLAGS) -MMD -MP -c $< -o $@
$(FZ_OBJ)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -g -O1 $(FZ_SAN) -fsanitize=fuzzer-no-link \
		$(CPPFLAGS) -c $< -o $@

$(FZ)/libfuzz.a: $(FZ_LIB_OBJ) mk/fuzz.mk
	rm -f $@
	ar rcs $@ $(FZ_LIB_OBJ)

$(FZ_BIN)/%: $(FZ_OBJ)/tests/fuzz/%.o $(FZ)/libfuzz.a $(OBJ)/daemon/descriptors.o
	@mkdir -p $(FZ_BIN)
	$(FUZZ_CC) -g $(FZ_SAN) -fsanitize=fuzzer -o $@ $< $(FZ)/libfuzz.a \
		$(OBJ)/daemon/descriptors.o $(LIBS)

# The unit tests built with ASan+UBSan (clang) in build/san/, as `make
# check` runs them; `make check SAN=1` builds everything so.
.PHONY: unit-san
unit-san:
	@$(MAKE) --no-print-directory SAN=1 unit

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZERS:%=$(FZ_BIN)/%)

fuzz: fuzz-build $(BIN)/dossier-admin
	@FZ=$(FZ) bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

-include $(shell find $(FZ_OBJ) -name '*.d' 2>/dev/null)

# Keep the harness objects (make would remove them as intermediates).
.SECONDARY: $(FUZZ_SRC:%.c=$(FZ_OBJ)/%.o)

# fuzz_requests runs the daemon in process: driver.c stands in for conn.c.
$(FZ_BIN)/fuzz_requests: $(FZ_OBJ)/tests/fuzz/fuzz_requests.o \
		$(FZ_OBJ)/tests/fuzz/driver.o $(FZ)/libfuzz.a \
		$(OBJ)/daemon/descriptors.o
	@mkdir -p $(FZ_BIN)
	$(FUZZ_CC) -g $(FZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)
