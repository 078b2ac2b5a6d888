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
	@FZ=$(FZ) DOSSIER_ADMIN=$(BIN)/dossier-admin \
		bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

-include $(shell find $(FZ_OBJ) -name '*.d' 2>/dev/null)

# Keep the harness objects (make would remove them as intermediates).
.SECONDARY: $(FUZZ_SRC:%.c=$(FZ_OBJ)/%.o)

# fuzz_requests runs the daemon in process: driver.c stands in for conn.c.
$(FZ_BIN)/fuzz_requests: $(FZ_OBJ)/tests/fuzz/fuzz_requests.o \
		$(FZ_OBJ)/tests/fuzz/driver.o $(FZ)/libfuzz.a \
		$(OBJ)/daemon/descriptors.o
	@mkdir -p $(FZ_BIN)
	$(FUZZ_CC) -g $(FZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# --- allocation failures ---------------------------------------------------
#
#   make alloc-fail [ALLOC_FAIL_MAX=N] [ALLOC_FAIL_MODE=persistent]
#       for each fuzz_requests seed (one request of each RPC), fails the
#       1st, 2nd... allocation of the request (at most N values of it, 0:
#       all) and checks the daemon answers, does not leak, still serves;
#       ends with one summary line per request and a total.

ALLOC_FAIL_MAX ?= 0
# make check tries every N too: the whole run takes under a minute.
ALLOC_FAIL_CHECK_MAX ?= 0
AF        := $(B)/alloc
AF_OBJ    := $(AF)/obj
AF_CFLAGS  = -std=c11 $(WARN) -g -O1 $(FZ_SAN) $(CPPFLAGS) -Iclient \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# driver.c stands in for conn.c.
AF_SRC    := $(filter-out daemon/conn.c,$(FZ_LIB_SRC)) tests/fuzz/driver.c \
	tests/fuzz/alloc_fail.c
AF_OBJS   := $(AF_SRC:%.c=$(AF_OBJ)/%.o) $(PB_C:$(GEN)/%.c=$(AF_OBJ)/gen/%.o)
# The libraries linked statically, so that --wrap reaches their calls.
AF_LIBS   := -Wl,-Bstatic -luv_a -llmdb -lprotobuf-c -lnghttp2 -lssl -lcrypto \
	-Wl,-Bdynamic -lpthread -ldl -lrt -lm
AF_WRAP   := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup \
	-Wl,--wrap=strndup

$(AF_OBJ)/%.o: %.c $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(AF_CFLAGS) -MMD -MP -c $< -o $@
$(AF_OBJ)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -g -O1 $(FZ_SAN) $(CPPFLAGS) -c $< -o $@
$(AF)/alloc-fail: $(AF_OBJS) $(OBJ)/daemon/descriptors.o
	$(FUZZ_CC) -g $(FZ_SAN) $(AF_WRAP) -o $@ $^ $(AF_LIBS)

.PHONY: alloc-fail
alloc-fail: $(AF)/alloc-fail $(BIN)/dossier-admin
	@DOSSIER_ADMIN=$(BIN)/dossier-admin $(AF)/alloc-fail \
		$(if $(filter persistent,$(ALLOC_FAIL_MODE)),-p) -m $(ALLOC_FAIL_MAX) \
		tests/fuzz/corpus/fuzz_requests/seed-*

-include $(shell find $(AF_OBJ) -name '*.d' 2>/dev/null)
