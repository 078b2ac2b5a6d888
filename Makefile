# dossierd -- build, test and run.
#
#   make run     install what is missing, build, make development keys,
#                start dossierd in the foreground on 127.0.0.1:7443
#   make check   the same set-up, then every test (unit, interop, hostile)
#
# Everything generated goes to build/ (code, objects, binaries), keys/dev/
# (development keys) and var/ (local data).  None of it is tracked by git.

PORT      ?= 7443
LISTEN    ?= 127.0.0.1:$(PORT)
DATA_DIR  ?= var/data
KEYS_DIR  ?= keys/dev

B        := build
# SAN=1: everything built with ASan+UBSan in build/san/ (make unit SAN=1,
# make check SAN=1); `make check` runs the unit tests so (unit-san).
ifeq ($(SAN),1)
B        := build/san
endif
GEN      := $(B)/gen
OBJ      := $(B)/obj
BIN      := $(B)/bin
ASAN     := $(B)/asan

# Debian packages the build and the tests need, each checked on its own.
DEB_BUILD := build-essential pkg-config libuv1-dev liblmdb-dev \
	libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev \
	libssl-dev libnghttp2-dev check openssl xxd gettext
DEB_TEST  := python3 python3-grpcio python3-protobuf python3-cryptography \
	python3-lmdb \
	nghttp2-client \
	nghttp2-server valgrind prometheus \
	clang libclang-rt-14-dev \
	tmux chromium groff-base \
	debhelper dpkg-dev fakeroot

PKGS     := libuv lmdb libprotobuf-c openssl libnghttp2
CC       ?= cc
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter
ifneq ($(CI),)
WARN     += -Werror
endif
CFLAGS   ?= -O2 -g
ifeq ($(SAN),1)
# clang: its UBSan also catches arithmetic on NULL, which GCC's does not.
CC       := clang
CFLAGS   += -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
endif
CPPFLAGS += -D_GNU_SOURCE -Idaemon -I$(GEN) -Itests/unit
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(CPPFLAGS) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer

# --- sources ---------------------------------------------------------------

# proto/internal/ holds the formats of stored records: compiled for the
# daemon, but not part of the published API nor of the reflection set.
PROTOS   := $(shell find proto -name '*.proto' | sort)
PUB_PROTOS := $(filter-out proto/internal/%,$(PROTOS))
PB_C     := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS)) \
	$(GEN)/google/protobuf/descriptor.pb-c.c
PB_H     := $(PB_C:.c=.h)
DESC_SET := $(GEN)/descriptors.pb

# Shared by the daemon and the clients: buffers, errors, logging, gRPC
# framing, principals, TLS, Merkle tree math.
COMMON_SRC := daemon/buf.c daemon/err.c daemon/log.c daemon/rpc.c \
	daemon/principal.c daemon/tls.c daemon/crypto.c daemon/keyring.c \
	daemon/nir.c daemon/fsutil.c daemon/merkle.c daemon/config.c \
	daemon/json.c
DAEMON_SRC := $(filter-out $(COMMON_SRC),$(wildcard daemon/*.c))
ADMIN_SRC  := client/dossier_admin.c client/devpki.c client/admin_say.c \
	client/admin_manifest.c client/admin_backup.c client/admin_registry.c \
	client/admin_status.c
DOSSIER_SRC := client/dossier.c client/cli.c client/settings.c \
	client/grpcc.c client/dates.c client/output.c client/audit_verify.c \
	$(wildcard client/cmd_*.c) client/history_html.c
LOCALE   := $(B)/locale
MO       := $(LOCALE)/fr/LC_MESSAGES/dossier.mo
# The load generator of make bench (tests/bench/README.md).
LOADGEN_SRC := tests/bench/loadgen.c tests/bench/lg_conn.c tests/bench/hist.c
UNIT_SRC   := $(wildcard tests/unit/test_*.c) tests/unit/testutil.c tests/unit/testworld.c \
	tests/bench/hist.c \
	tests/check_main.c \
	tests/check_integration.c

COMMON_OBJ := $(COMMON_SRC:%.c=$(OBJ)/%.o) $(PB_C:$(GEN)/%.c=$(OBJ)/gen/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(OBJ)/%.o) $(OBJ)/daemon/descriptors.o

.PHONY: all deps run check unit interop keys clean asan fault crash demo pot install deb \
	bench bench-quick
all: $(BIN)/dossierd $(BIN)/dossier-admin $(BIN)/dossier $(MO) \
	$(BIN)/dossier-loadgen

# --- dependencies ----------------------------------------------------------

# Installs the missing Debian packages when run as root; otherwise prints
# the exact apt-get line and stops.
deps: $(B)/.deps
$(B)/.deps: Makefile
	@missing=""; for p in $(DEB_BUILD) $(DEB_TEST); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@mkdir -p $(B) && touch $@

# --- generated code --------------------------------------------------------

$(GEN)/.stamp: $(PROTOS) | $(B)/.deps
	@mkdir -p $(GEN)
	protoc-c -Iproto -I/usr/include --c_out=$(GEN) $(PROTOS) \
		/usr/include/google/protobuf/descriptor.proto
	protoc -Iproto -I/usr/include --include_imports \
		--descriptor_set_out=$(DESC_SET) $(PUB_PROTOS)
	@touch $@
$(PB_C) $(PB_H) $(DESC_SET): $(GEN)/.stamp

# --- objects and binaries --------------------------------------------------

$(OBJ)/%.o: %.c $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@
$(OBJ)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(CFLAGS) $(CPPFLAGS) -c $< -o $@
# The descriptor set is embedded in the daemon for server reflection.
$(OBJ)/daemon/descriptors.o: daemon/descriptors.S $(DESC_SET)
	@mkdir -p $(dir $@)
	$(CC) -c -I$(GEN) $< -o $@

# Rebuilt whole when its list changes (a module moved in from the daemon
# has an object older than the archive).
$(B)/libdossier-common.a: $(COMMON_OBJ) Makefile
	rm -f $@
	ar rcs $@ $(COMMON_OBJ)
$(BIN)/dossierd: $(DAEMON_OBJ) $(B)/libdossier-common.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
# dossier-admin takes the daemon's store, audit log and vault from this
# archive (only the objects it needs are linked): backups and status use
# the same code as the daemon, never a copy of it.
$(B)/libdossier-daemon.a: $(filter-out $(OBJ)/daemon/main.o,$(DAEMON_OBJ)) \
		Makefile
	rm -f $@
	ar rcs $@ $(filter-out $(OBJ)/daemon/main.o,$(DAEMON_OBJ))
$(BIN)/dossier-admin: $(ADMIN_SRC:%.c=$(OBJ)/%.o) $(B)/libdossier-daemon.a \
		$(B)/libdossier-common.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BIN)/dossier: $(DOSSIER_SRC:%.c=$(OBJ)/%.o) $(B)/libdossier-common.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
# The client finds its catalogue in ../locale next to its binary
# (build/locale), or in ../share/locale (installed), else in the system's.
$(OBJ)/client/cli.o: CPPFLAGS += -DLOCALEDIR='"/usr/share/locale"'

# Messages: English in the code, French in po/fr.po, compiled at build
# time.  `make pot` refreshes the template after changing messages.
$(MO): po/fr.po | $(B)/.deps
	@mkdir -p $(dir $@)
	msgfmt --check -o $@ po/fr.po
pot:
	xgettext --from-code=UTF-8 -k_ -kN_ -c -o po/dossier.pot \
		--package-name=dossier $(DOSSIER_SRC) client/cli.h

$(BIN)/dossier-loadgen: $(LOADGEN_SRC:%.c=$(OBJ)/%.o)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# The unit tests link every module except the daemon's main, and the
# client's pure modules (dates, output).  strdup is wrapped so that a
# test can make one fail (testutil_strdup_fail).
$(BIN)/unit-tests: $(UNIT_SRC:%.c=$(OBJ)/%.o) \
		$(filter-out $(OBJ)/daemon/main.o,$(DAEMON_OBJ)) \
		$(OBJ)/client/dates.o $(OBJ)/client/output.o \
		$(B)/libdossier-common.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -Wl,--wrap=strdup -o $@ $^ $(LIBS) $(CHECK_LIBS)

# The same daemon built with AddressSanitizer and UBSan, for the interop
# run: a leak or a memory error fails the test that started it.
asan: $(ASAN)/dossierd
$(ASAN)/dossierd: $(DAEMON_SRC) $(COMMON_SRC) daemon/*.h $(GEN)/.stamp \
		$(OBJ)/daemon/descriptors.o
	@mkdir -p $(ASAN)
	$(CC) $(ALL_CFLAGS) -O1 $(ASAN_FLAGS) -o $@ $(DAEMON_SRC) $(COMMON_SRC) $(PB_C) \
		$(OBJ)/daemon/descriptors.o $(LIBS)

# The fault-injection shim of tests/fault/ (LD_PRELOAD): the Nth write or
# sync of the store fails (tests/fault/iofail.c says how).
FAULT    := $(B)/fault
fault: $(FAULT)/libiofail.so
$(FAULT)/libiofail.so: tests/fault/iofail.c
	@mkdir -p $(FAULT)
	$(CC) -std=c11 $(WARN) -O2 -g -fPIC -shared -D_GNU_SOURCE -o $@ $< -ldl

# Rounds of SIGKILL under a mixed load, then restart and check
# (tests/fault/crash.py); make check runs 30.
ROUNDS   ?= 30
crash: all
	DOSSIER_TOP=$(CURDIR) /usr/bin/python3 tests/fault/crash.py \
		--rounds $(ROUNDS)

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# --- keys, run, tests ------------------------------------------------------

keys: $(KEYS_DIR)/ca.crt $(KEYS_DIR)/master-1.key $(KEYS_DIR)/audit.key
$(KEYS_DIR)/ca.crt $(KEYS_DIR)/master-1.key $(KEYS_DIR)/audit.key: | $(BIN)/dossier-admin
	$(BIN)/dossier-admin init-dev --dir $(KEYS_DIR)

run: all keys
	@mkdir -p $(DATA_DIR)
	@echo "dossierd on $(LISTEN): gRPC over mutual TLS (README.md, 'Using it')"
	@echo "  server CA:   $(KEYS_DIR)/ca.crt"
	@echo "  client cert: $(KEYS_DIR)/agency-caf-75.crt + .key (others: ls $(KEYS_DIR))"
	@echo "  health check with nghttp: see README.md"
	$(BIN)/dossierd --listen $(LISTEN) --keys $(KEYS_DIR) \
		--data $(DATA_DIR) --diag

tests/interop/node_modules/.stamp: tests/interop/package.json \
		tests/interop/package-lock.json | $(B)/.deps
	cd tests/interop && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# make check ends with libcheck's summary line: the integration scripts
# run as test cases of the same libcheck runner as the unit tests.
check: all keys asan fault $(BIN)/unit-tests \
		tests/interop/node_modules/.stamp fuzz-build
	@FZ=$(FZ) DOSSIER_ADMIN=$(BIN)/dossier-admin \
		bash tests/fuzz/run.sh $(FUZZ_CHECK_SECONDS) $(FUZZERS)
	@$(MAKE) --no-print-directory alloc-fail ALLOC_FAIL_MAX=$(ALLOC_FAIL_CHECK_MAX)
	@$(MAKE) --no-print-directory unit-san
	DOSSIER_TOP=$(CURDIR) $(BIN)/unit-tests

# The scripted story of the dossier command, against a fresh daemon (a
# temporary directory, fresh keys, a free port), printed step by step.
demo: all
	DOSSIER_TOP=$(CURDIR) DOSSIERD=build/bin/dossierd \
		/usr/bin/python3 tests/interop/demo.py

include mk/fuzz.mk

# SAN=1: the libcheck runner is the sanitized one, but the interop scripts
# take the daemon and tools of the plain tree (build/asan/dossierd,
# build/bin/): build those too.
ifeq ($(SAN),1)
check: check-plain-tools
.PHONY: check-plain-tools
check-plain-tools:
	@$(MAKE) --no-print-directory SAN= all keys asan fault
endif

# Every scenario of BENCHMARKS.md against dossierd and its references
# (nghttpd, grpc-js and grpcio echo servers), one table of ratios.  Takes
# a while (BENCH_ARGS: e.g. --only 1,5 or --persons 100000).
bench: all keys tests/interop/node_modules/.stamp
	/usr/bin/python3 tests/bench/bench.py $(BENCH_ARGS)

# The same harness with tiny counts (a minute or two): it checks that
# every scenario runs and every request succeeds, never a speed.  make
# check runs it (tests/check_integration.c).
bench-quick: all keys tests/interop/node_modules/.stamp
	/usr/bin/python3 tests/bench/bench.py --quick

unit: $(BIN)/unit-tests
	DOSSIER_UNIT_ONLY=1 $(BIN)/unit-tests

clean:
	rm -rf $(B)

# --- install and the Debian package ---------------------------------------

# make install DESTDIR=/tmp/root PREFIX=/usr: the binaries, the man pages
# (English and French), the catalogue, the default configuration (its
# catalogue path follows PREFIX), the systemd unit and the sysusers.d and
# tmpfiles.d files that make the _dossierd user and /var/lib/dossierd.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
MAN_PAGES  := packaging/man/dossierd.8 packaging/man/dossierd.conf.5 \
	packaging/man/dossier-admin.8

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(DATADIR)/dossierd $(DESTDIR)$(SYSCONFDIR)/dossierd \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR)
	install -m 0755 $(BIN)/dossierd $(BIN)/dossier-admin $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BIN)/dossier $(DESTDIR)$(BINDIR)/
	install -m 0644 packaging/pieces.tsv $(DESTDIR)$(DATADIR)/dossierd/
	sed 's|/usr/share/dossierd/|$(DATADIR)/dossierd/|' \
		packaging/dossierd.conf > $(DESTDIR)$(SYSCONFDIR)/dossierd/dossierd.conf
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/dossierd/dossierd.conf
	sed -e 's|/usr/sbin/dossierd|$(SBINDIR)/dossierd|g' \
		-e 's|/etc/dossierd/|$(SYSCONFDIR)/dossierd/|g' \
		packaging/dossierd.service > $(DESTDIR)$(UNITDIR)/dossierd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/dossierd.service
	install -m 0644 packaging/debian/dossierd.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/dossierd.conf
	install -m 0644 packaging/debian/dossierd.tmpfiles \
		$(DESTDIR)$(TMPFILESDIR)/dossierd.conf
	install -d $(DESTDIR)$(DATADIR)/locale/fr/LC_MESSAGES
	install -m 0644 $(MO) $(DESTDIR)$(DATADIR)/locale/fr/LC_MESSAGES/dossier.mo
	for p in $(MAN_PAGES); do \
	  n=$$(basename $$p); s=$${n##*.}; \
	  install -d $(DESTDIR)$(MANDIR)/man$$s $(DESTDIR)$(MANDIR)/fr/man$$s; \
	  install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$$s/$$n; \
	  install -m 0644 packaging/man/fr/$$n $(DESTDIR)$(MANDIR)/fr/man$$s/$$n; \
	done

# make deb: a copy of the tree in build/deb/dossierd-VERSION with
# packaging/debian/ at its top (where dpkg-buildpackage wants it), built
# there; the .deb files land in build/deb/.  The tree itself keeps the
# layout of DESIGN.md.
DEB_VERSION = $(shell sed -n '1s/.*(\(.*\)).*/\1/p' packaging/debian/changelog)
DEB_SRC     = $(B)/deb/dossierd-$(DEB_VERSION)
deb: | $(B)/.deps
	rm -rf $(B)/deb && mkdir -p $(DEB_SRC)
	tar -c --exclude=./build --exclude=./var --exclude=./keys/dev \
		--exclude=./.git --exclude=node_modules --exclude=__pycache__ . \
		| tar -x -C $(DEB_SRC)
	cp -r packaging/debian $(DEB_SRC)/debian
	cd $(DEB_SRC) && DEB_BUILD_OPTIONS="parallel=2 nocheck" \
		dpkg-buildpackage -us -uc -b >../build.log 2>&1 \
		|| { tail -40 ../build.log; exit 1; }
	@ls $(B)/deb/*.deb
