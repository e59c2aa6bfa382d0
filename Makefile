# ledger — one flat Makefile.
#
# Every .c file under a module folder goes into build/libledger.a; cli/*.c
# make build/ledger; tests/<module>/test_*.c each become one cmocka program.
# Adding a file to a module needs no edit here.

CC      ?= cc
PREFIX  ?= /usr/local
# where the libraries and libledger.pc go (a Debian package: the
# multiarch directory, debian/rules); the units stay under PREFIX/lib
LIBDIR  ?= $(PREFIX)/lib
DESTDIR ?=
PKG_CONFIG ?= pkg-config
LD      ?= ld
OBJCOPY ?= objcopy

DEPS      = lmdb msgpack libzstd libsodium nettle libcurl jansson libpcre2-8 libarchive \
            libmicrohttpd libsystemd libprotobuf-c zlib libnghttp2
TEST_DEPS = cmocka

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
       -Wformat=2 -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef \
       -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CPPFLAGS) $(CFLAGS) -I. \
             $(shell $(PKG_CONFIG) --cflags $(DEPS))
# libarchive, libcurl, libmicrohttpd and libsystemd are loaded on first
# use, not linked (export/archive_dl.c, http/http.c, fleet/witness_http.c,
# serve/sd.c, the last only under systemd): with them and what they pull
# in (ICU, libxml2, TLS, IDN, liblzma, libgcrypt, ...) the dynamic loader
# was most of a short command's run time (bench/RESULTS.md).
DL_DEPS = libarchive libcurl libmicrohttpd libsystemd
LINK_DEPS = $(filter-out $(DL_DEPS),$(DEPS))
LDLIBS  = $(shell $(PKG_CONFIG) --libs $(LINK_DEPS)) -ldl -lpthread -lm
# The program links these statically when every archive (.a, shipped by
# the -dev packages) is there: a process then skips ~0.5 ms of dynamic
# symbol resolution, a tenth of an `append` or a `query run=R` (see
# bench/RESULTS.md). STATIC_LIBS=0 links everything dynamically.
STATIC_DEPS = lmdb msgpack libzstd libsodium nettle jansson libpcre2-8 \
              libprotobuf-c zlib libnghttp2
STATIC_ARCHIVES = lmdb msgpackc zstd sodium nettle jansson pcre2-8 \
                  protobuf-c z nghttp2
STATIC_LIBS ?= $(if $(strip $(foreach a,$(STATIC_ARCHIVES),$(if $(filter     /%,$(shell $(CC) -print-file-name=lib$(a).a)),,no))),0,1)
ifeq ($(STATIC_LIBS),1)
# (pkg-config with no package names complains on stderr: ask only when
# some are left to link dynamically)
DYN_DEPS = $(filter-out $(STATIC_DEPS),$(LINK_DEPS))
CLI_LDLIBS = -Wl,-Bstatic $(shell $(PKG_CONFIG) --libs $(STATIC_DEPS)) \
             -Wl,-Bdynamic $(if $(DYN_DEPS),$(shell $(PKG_CONFIG) --libs \
             $(DYN_DEPS))) -ldl -lpthread -lm
else
CLI_LDLIBS = $(LDLIBS)
endif
TEST_LDLIBS = $(shell $(PKG_CONFIG) --libs $(TEST_DEPS) libarchive)

B ?= build
MODULES = util ledger http projections ingest query export doctor verify evals \
          sensors fleet \
          pipeline \
          serve proxy otlp metrics page policy retention
LIB_SRC = $(sort $(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
# the modules held to 1,500 lines a file and 200 a function (headertest):
# all of them, ledger/ since its split (issue 67, item 3)
LIB_SIZE_DIRS = $(MODULES)
LIB_OBJ = $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_SRC = $(sort $(wildcard cli/*.c))
CLI_OBJ = $(CLI_SRC:%.c=$(B)/obj/%.o)
TEST_SRC = $(sort $(wildcard tests/*/test_*.c))
TEST_BIN = $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_SUPPORT = $(wildcard tests/support/*.c)
BENCH_SRC = $(sort $(wildcard bench/*.c))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(B)/bench/%)
# The public headers, the only ones installed, compiled alone by
# headertest and exported from libledger: the core's embedding API
# (ledger/ledger.h, with util/error.h's error codes) and each other
# module's own header. ledger/module.h (the modules' interface to the
# core), ledger/format.h (the stored layouts) and util/util.h are not.
HEADERS = ledger/ledger.h ledger/events.h util/error.h \
          $(foreach m,$(filter-out util ledger,$(MODULES)),$(wildcard $(m)/$(m).h))
# util/ is not part of the API: libledger keeps its symbols local, and
# the program links its own copy (util keeps no global state, so two
# copies cannot disagree).
UTIL_OBJ = $(filter $(B)/obj/util/%,$(LIB_OBJ))

.PHONY: all print-modules print-size-dirs deb deb-check deb-repro check check-build asan tsan bench install uninstall demo clean headertest fmt \
	fmt-check events proto \
	print-headers \
	boot-test \
	unit fuzz shared man torture $(TORTURE_PARTS) FORCE

# Quiet by default: one short line a step; `make V=1` prints every
# command line in full.
V ?= 0
ifeq ($(V),0)
Q = @
say = @printf '  %-7s %s\n' $(1) $(2);
else
Q =
say =
endif

all: $(B)/ledger $(B)/libledger.a

# `ledger --version` says the Makefile's VERSION.
$(B)/obj/cli/main.o: ALL_CFLAGS += -DLEDGER_VERSION='"$(VERSION)"'
# RELEASE=1: a release build (debian/rules makes one): it neither reads
# nor makes a store layout in development (docs/FORMAT.md 6.1: none now;
# ledger/layout.c). $(B)/release holds the kind last built, so that
# changing RELEASE rebuilds layout.o. The tests may make a layout in
# development, so make check and its kin refuse a release build.
RELEASE ?= 0
ifeq ($(filter 0 1,$(RELEASE)),)
$(error RELEASE is 0 (a development build) or 1 (a release build), not '$(RELEASE)')
endif
ifeq ($(RELEASE),1)
$(B)/obj/ledger/layout.o $(B)/pic/ledger/layout.o: ALL_CFLAGS += -DLEDGER_RELEASE
ifneq ($(filter check unit asan torture%,$(MAKECMDGOALS)),)
$(error RELEASE=1 builds refuse a layout in development, which the tests may make: run the tests without RELEASE=1)
endif
endif
# (decided as the Makefile is read, so that make -n and -q see it current)
ifneq ($(RELEASE),$(shell cat $(B)/release 2>/dev/null))
$(B)/release: FORCE
endif
$(B)/release:
	@mkdir -p $(@D)
	@echo $(RELEASE) > $@
$(B)/obj/ledger/layout.o $(B)/pic/ledger/layout.o: $(B)/release
# protoc-c's output casts away const in its initialisers
$(B)/obj/otlp/otlp.pb-c.o $(B)/pic/otlp/otlp.pb-c.o: ALL_CFLAGS += \
    -Wno-cast-qual

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# libledger.a, the library others link, keeps only the API global: its
# objects are linked into one relocatable object and every symbol the
# public headers do not declare is made local (objcopy), so the internal
# helpers (and export/archive_dl.c's trampolines, which bear libarchive's
# own names) cannot clash with a program's. The unit tests and benchmarks
# reach internals: they link libledger-int.a, the same objects as built.
$(B)/libledger.a: $(LIB_OBJ) $(B)/libledger.api
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ $(B)/libledger.o
	$(call say,AR,$@)$(LD) -r -o $(B)/libledger.o $(LIB_OBJ) && \
	    $(OBJCOPY) --keep-global-symbols=$(B)/libledger.api \
	    $(B)/libledger.o && ar rcs $@ $(B)/libledger.o

$(B)/libledger-int.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

$(B)/libledger-util.a: $(UTIL_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

$(B)/ledger: $(CLI_OBJ) $(B)/libledger.a $(B)/libledger-util.a
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libledger.a \
	    $(B)/libledger-util.a $(CLI_LDLIBS)

TEST_HEADERS = $(wildcard tests/*/*.h)
$(B)/tests/%: tests/%.c $(TEST_SUPPORT) $(TEST_HEADERS) $(B)/libledger-int.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -MMD -MP \
	    -MF $@.d -o $@ $(TEST_SUPPORT) $< $(B)/libledger-int.a $(LDLIBS) \
	    $(TEST_LDLIBS)

$(B)/bench/%: bench/%.c $(wildcard bench/*.h) $(B)/libledger-int.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libledger-int.a \
	    $(LDLIBS) -lsqlite3

# The shared library, for other programs (libledger.pc): the same sources
# compiled position-independent into $(B)/pic, with a versioned soname.
# SOVERSION changes when the ABI does (a symbol removed or changed: the
# Debian package's debian/libledger1.symbols fails the build on any
# change, so that it is a decision); the file's own two numbers count
# compatible additions (1.1.0) and fixes (1.0.1), libtool's way.
# VERSION is the program's and the packages' (`make deb`).
VERSION   = 1.0.0
SOVERSION = 1
SONAME    = libledger.so.$(SOVERSION)
PIC_OBJ   = $(LIB_SRC:%.c=$(B)/pic/%.o)
SHLIB     = $(SONAME).0.0
shared: $(B)/$(SHLIB)
$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$< [pic])$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c $< -o $@
# It exports only the API: a version script made from the public headers
# hides every other symbol, and the link is checked with nm
# (tools/check_exports.sh). libledger.a does the same with objcopy (above).
$(B)/libledger.api: $(HEADERS) tools/api_symbols.sh Makefile
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)sh tools/api_symbols.sh '$(CC)' -I. \
	    $(shell $(PKG_CONFIG) --cflags $(DEPS)) -- $(HEADERS) > $@
$(B)/libledger.map: $(HEADERS) tools/api_symbols.sh Makefile
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)sh tools/api_symbols.sh --map '$(CC)' -I. \
	    $(shell $(PKG_CONFIG) --cflags $(DEPS)) -- $(HEADERS) > $@
$(B)/$(SHLIB): $(PIC_OBJ) $(B)/libledger.map $(B)/libledger.api \
	    tools/check_exports.sh
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) \
	    -Wl,--version-script=$(B)/libledger.map \
	    -o $@ $(PIC_OBJ) $(LDLIBS)
	$(Q)sh tools/check_exports.sh $@ $(B)/libledger.api || \
	    { rm -f $@; exit 1; }
	$(Q)ln -sf $(notdir $@) $(B)/$(SONAME)
	$(Q)ln -sf $(SONAME) $(B)/libledger.so

# Man pages: ledger(1) and one page per command group are generated from
# the option tables (`ledger help --man NAME` writes scdoc); man/*.scd
# are written by hand. Built when scdoc(1) is installed.
SCDOC ?= scdoc
MAN_GROUPS = ledger ledger-record ledger-tlog ledger-query ledger-export \
	ledger-state
MAN_HAND = $(wildcard man/*.scd)
MAN_PAGES = $(MAN_GROUPS:%=$(B)/man/%.1) \
	$(MAN_HAND:man/%.scd=$(B)/man/%)
HAVE_SCDOC := $(shell command -v $(SCDOC) >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_SCDOC),1)
man: $(MAN_PAGES)
else
man:
	@echo "man: scdoc is not installed; man pages not built"
endif
$(B)/man/%.1: $(B)/ledger
	@mkdir -p $(dir $@)
	$(call say,SCDOC,$@)$(B)/ledger help --man $* > $@.scd && \
	    $(SCDOC) < $@.scd > $@
$(B)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	$(call say,SCDOC,$@)$(SCDOC) < $< > $@

# Regenerated each time: it holds PREFIX.
$(B)/libledger.pc: FORCE
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)printf '%s\n' 'prefix=$(PREFIX)' \
	    'exec_prefix=$${prefix}' \
	    'libdir=$(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))' \
	    'includedir=$${prefix}/include' '' 'Name: libledger' \
	    'Description: signed, hash-chained evidence ledger for local AI boxes' \
	    'Version: $(VERSION)' 'Requires: jansson' \
	    'Requires.private: $(filter-out jansson,$(LINK_DEPS))' \
	    'Cflags: -I$${includedir}/libledger' \
	    'Libs: -L$${libdir} -lledger' 'Libs.private: -ldl -lpthread -lm' \
	    > $@

# Unit tests (cmocka), then the end-to-end shell tests, then the Go
# interoperability checks. Each prints its own summary.
# The end-to-end tests, then the unit tests, run in lanes, one more than
# the cores (tests/run_tests.sh, LEDGER_TEST_JOBS): most of a test's time
# is spent waiting (for a daemon, a timeout, a child), so two lanes left
# a third of two cores idle (on the 2-vCPU VM, 2026-12-01: the lanes' part
# 459 s with two, 370 s with three, unit tests included). Those LEDGER_SERIAL_TESTS names
# (short timeouts of their own, kills under load, the box's network
# namespaces) run after them, apart from the others,
CHECK_TEST_JOBS ?= $(or $(LEDGER_TEST_JOBS),$(shell echo $$(($$(nproc 2>/dev/null || echo 1) + 1))))
# three at a time: they wait far more than they compute (their CPU is
# about 0.9 of a core at two at a time; their part 178 s with two, 150 s
# with three, the same day); make asan sets its own (ASAN_SERIAL_JOBS).
CHECK_SERIAL_JOBS ?= $(or $(LEDGER_SERIAL_JOBS),3)
# The repeated kills run a short representative number of rounds here,
# every distinct check included, and many more in make torture (below):
# serve_crash.sh kills ledger serve 20 times (make torture 100, issue
# 13's count), 3 under the sanitizers (their daemons are several times
# slower; the rounds test the daemon's durability, not the sanitizers'
# findings); core_crash.sh's default is 10 ingest rounds (make torture
# 300).
CHECK_SERVE_CRASH_ROUNDS ?= $(or $(SERVE_CRASH_ROUNDS),20)
# migrate.sh fails every third I/O call of a migration in turn (make
# torture: every one; make asan: every fifth).
CHECK_MIGRATE_CALL_STEP ?= $(or $(MIGRATE_CALL_STEP),3)
# (the bench programs too: tests/e2e/bench_wear.sh runs bench/wear.sh)
# What the tests need is built on every core (CHECK_BUILD_JOBS), the
# checks of headertest and fmt-check beside it, unless make was given -j
# itself: the README's `make check` is given none.
# With other goals beside check (make all check), it is built as one of
# them: two makes must not build the same files at once.
CHECK_BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check-build: all $(TEST_BIN) $(BENCH_BIN) headertest fmt-check
ifeq ($(filter-out check,$(MAKECMDGOALS)),)
check:
	@case " $$MAKEFLAGS " in *jobserver* | *" -j1 "* | *" -j "*) j= ;; \
	    *) j=-j$(CHECK_BUILD_JOBS) ;; esac; \
	    $(MAKE) --no-print-directory $$j check-build
else
check: check-build
endif
	@SERVE_CRASH_ROUNDS=$(CHECK_SERVE_CRASH_ROUNDS) \
	MIGRATE_CALL_STEP=$(CHECK_MIGRATE_CALL_STEP) \
	LEDGER_TEST_JOBS=$(CHECK_TEST_JOBS) \
	LEDGER_SERIAL_JOBS=$(CHECK_SERIAL_JOBS) tests/run_tests.sh $(B)

unit: all $(TEST_BIN)
	@tests/run_tests.sh $(B) unit

# Six end-to-end tests are left out, as nothing they add runs
# instrumented code that the others do not: core_layers.sh reads the
# source tree and the objects' symbols, cli_help.sh's time (4.4
# CPU-minutes under ASan, the most of any test) is some thousand runs of
# --help and of an option table's checks, cli_install.sh builds and installs a plain library of
# its own (an instrumented one cannot be linked by other programs),
# page_chromium.sh's time is the browser's (the page it loads is made by
# the code export_evidence.sh and the unit tests run here), and
# bench_wear.sh's is the benchmark's and the loop devices' (what it runs
# of the library, serve's appends, the others run), and release_build.sh
# links this build's objects into a release program (a plain one). make
# check runs all six. The tests that repeat one command over many faults run fewer
# of them: verify_every_db.sh flips 2 bits a database, not 12 (each flip
# that verify passes runs some twenty commands); migrate.sh faults every
# fifth I/O call, core_faults.sh every fourth and retention.sh every
# sixth, not every one; robust_corrupt.sh flips 6 bits, not 30, and
# core_crash.sh kills 6 ingests, not 10. Each fault is a run of the same
# code paths the others take, and make check does all of them on the
# same code; make torture does many more. (So make asan takes less of
# CI's two cores beside the chroot's make check.) epochs_serve.sh's epochs
# last 6 s, not 2 (LEDGER_TEST_EPOCH_S): an instrumented program takes a
# tenth of a second to start, and on a loaded box a 2 s period ended
# between an append and the next look at it.
ASAN_SKIP_TESTS ?= cli_install page_chromium bench_wear core_layers cli_help \
	release_build
# Parts a sanitized build cannot run, which CI's LEDGER_MUST_RUN lets
# skip here: core_faults.sh's allocation faults (ASan's allocator cannot be
# wrapped by the fault shim; make check runs them).
ASAN_MAY_SKIP ?= core_faults
# It also checks the library's assertions (-DLDG_DEBUG: LDG_ASSERT in
# util/util.h), as make tsan and the fuzz targets do; make leaves them out.
# Its programs link without PIE and with UBSan's runtime built in
# (-no-pie -static-libubsan): the checks are the same, and each of the
# some thousands of processes the tests start costs 45 ms of CPU to start
# and exit instead of 81 (ledger --help, measured 2026-11-26: 19 ms went
# to the dynamic loader relocating an instrumented PIE's 122,000 relative
# relocations, 17 to libubsan as a shared library of 6 MB of zeroed data,
# which LeakSanitizer reads through at exit).
# Its end-to-end tests run in two lanes, as make check's do (a sanitized
# test spends its time starting processes on one core).
ASAN_TEST_JOBS ?= 2
# The end-to-end tests LEDGER_SERIAL_TESTS names (short timeouts of their
# own, kills under load) run after the lanes, one at a time; CI runs two
# at a time, as make check does (ASAN_SERIAL_JOBS=2: on a box of two
# cores the one-at-a-time tail was 13 minutes, robust_readers.sh's 4 of
# them on one core while the other idled).
ASAN_SERIAL_JOBS ?= 1
# ASAN_E2E_LEAKS=0 leaves LeakSanitizer out of the end-to-end tests (the
# unit tests keep it): a third of their CPU, the leak scan at each of
# their processes' exits (cli_manners.sh: 26.4 s of CPU with it, 18.3
# without, measured 2026-11-30). CI uses it to fit its two cores
# (docs/TESTING.md); make asan alone checks every process for leaks.
ASAN_E2E_LEAKS ?= 1
ASAN_E2E_OPTIONS_0 = detect_leaks=0
ASAN_E2E_OPTIONS_1 =
asan:
	$(if $(filter 0 1,$(ASAN_E2E_LEAKS)),,$(error ASAN_E2E_LEAKS is 0 or 1, not $(ASAN_E2E_LEAKS)))
	LEDGER_E2E_ASAN_OPTIONS="$(ASAN_E2E_OPTIONS_$(ASAN_E2E_LEAKS))" \
	LEDGER_SKIP_TESTS="$(ASAN_SKIP_TESTS)" LEDGER_TEST_JOBS=$(ASAN_TEST_JOBS) \
	LEDGER_SERIAL_JOBS=$(ASAN_SERIAL_JOBS) \
	LEDGER_MAY_SKIP="$(ASAN_MAY_SKIP)" \
	VERIFY_FLIPS=2 MIGRATE_CALL_STEP=5 RETENTION_CALL_STEP=6 \
	FAULTS_CALL_STEP=4 FLIPS=6 CRASH_ROUNDS=6 LEDGER_TEST_EPOCH_S=6 $(MAKE) B=build/asan OPT="-O1 -g -DLDG_DEBUG -fsanitize=address,undefined \
	    -fno-sanitize-recover=all -fno-omit-frame-pointer -no-pie \
	    -static-libubsan" CHECK_SERVE_CRASH_ROUNDS=3 check

# ThreadSanitizer build: every unit test, and the end-to-end tests that
# drive the threaded code (the writer's signing and commit threads behind
# every append and ingest, ledger serve and the client API, parallel
# verify, export and evals, ship's row builder, query -f, the model proxy,
# the metrics endpoint, the doctor's own verification). A race fails the
# test that hit it: the process stops at the first report with exit 86, a
# code no test expects. TSAN_TESTS='*' runs every end-to-end test. The
# kill -9 rounds of core_crash.sh and serve_crash.sh are 4 and 3 (the
# threads are the same in each round; make check runs 10 and 20).
TSAN_TESTS ?= serve_* core_cli core_crash evals_cli fleet export_roundtrip \
	verify_remember query_follow query_cli ingest_trickle proxy_* otlp_* \
	metrics_prom doctor_follows
tsan:
	TSAN_OPTIONS="halt_on_error=1 exitcode=86 $(TSAN_OPTIONS)" \
	LEDGER_TESTS="$(TSAN_TESTS)" CRASH_ROUNDS=4 LEDGER_SERIAL_JOBS=1 \
	$(MAKE) B=build/tsan OPT="-O1 -g -DLDG_DEBUG -fsanitize=thread \
	    -fno-omit-frame-pointer" CHECK_SERVE_CRASH_ROUNDS=3 check

# The Debian packages' units under a real systemd: tests/systemd/boot.sh
# builds the packages from this tree (as make deb, into $(B)/deb;
# BOOT_DEB_BUILT=1 takes those there), boots a Debian 12 container
# (systemd-nspawn -b), installs ledger and libledger1 there with apt-get
# and checks what their maintainer scripts set up. Needs root,
# systemd-nspawn (systemd-container), debootstrap, what make deb needs and
# the Debian mirror; CI runs it on the host (it cannot run inside the
# chroot make check runs in), then make deb-check on the same .debs.
boot-test:
	@sh tests/systemd/boot.sh $(B)/deb

# ledger/events.h (the names of the event types) and ledger/vocab.def
# (their field rules), from docs/VOCABULARY.md (committed;
# tests/e2e/events_fresh.sh fails when one is stale).
events:
	$(call say,GEN,ledger/events.h)sh tools/gen_events.sh docs/VOCABULARY.md \
	    > ledger/events.h.tmp && mv ledger/events.h.tmp ledger/events.h
	$(call say,GEN,ledger/vocab.def)sh tools/gen_events.sh --rules \
	    docs/VOCABULARY.md > ledger/vocab.def.tmp && \
	    mv ledger/vocab.def.tmp ledger/vocab.def

# otlp/otlp.pb-c.[ch], the OTLP messages' protobuf code, from
# otlp/otlp.proto (committed; tests/e2e/otlp_proto_fresh.sh fails when
# they are stale). Needs protoc-c (protobuf-c-compiler).
proto:
	$(call say,PROTOC,otlp/otlp.proto)cd otlp && protoc-c --c_out=. otlp.proto

print-headers:
	@echo $(HEADERS)

headertest: $(CLI_OBJ) $(filter $(B)/obj/ledger/%,$(LIB_OBJ)) $(B)/libledger.api
	@mkdir -p $(B)/headertest
	@for h in $(HEADERS); do \
	    printf '#include "%s"\ntypedef int headertest_t;\n' $$h > $(B)/headertest/t.c; \
	    $(CC) -std=c11 -pedantic -Werror $(WARN) -I. \
	        $(shell $(PKG_CONFIG) --cflags $(DEPS)) \
	        -fsyntax-only $(B)/headertest/t.c || exit 1; \
	done; echo "headertest: $(words $(HEADERS)) headers compile alone"
	@python3 tools/check_api_docs.py ledger/ledger.h 100
	@sed -n 's/^ \([a-z_0-9]*\)@LIBLEDGER_1 .*/\1/p' debian/libledger1.symbols | \
	    LC_ALL=C sort | diff - $$(LC_ALL=C sort $(B)/libledger.api > $(B)/api.sorted; \
	    echo $(B)/api.sorted) >/dev/null || { \
	    echo "headertest: $(B)/libledger.api and debian/libledger1.symbols" \
	        "differ: list the symbol there (make deb refuses it)"; exit 1; }; \
	    echo "API: $$(wc -l < $(B)/libledger.api) symbols, as debian/libledger1.symbols lists"
	@sh tools/check_cli_size.sh cli && echo "cli/: no file over 1000 lines, no function over 150"
	@MAX_FILE=1500 MAX_FN=200 sh tools/check_cli_size.sh $(LIB_SIZE_DIRS) && \
	    echo "library: no file over 1500 lines, no function over 200 ($(words $(LIB_SIZE_DIRS)) modules; generated files aside)"
	@sh tools/check_parts.sh . $(filter $(B)/obj/ledger/%,$(LIB_OBJ)) && echo "ledger/: $$(grep -c '^part ' tools/ledger_parts.txt) parts (tools/ledger_parts.txt), each calling and including only itself and those below"
	@python3 tools/check_layout.py --self-test && \
	    python3 tools/check_layout.py . $(MODULES) cli && echo "store layouts: known in ledger/layout.c and ledger migrate alone"
	@sh tools/check_cli_calls.sh $(CLI_OBJ) && echo "cli/: calls go one way (main, commands, helpers)"
	@sh tools/check_cli_verdicts.sh . $(CLI_OBJ) && echo "cli/: public headers only; verdicts asked whole, their parts printed"
	@sh tools/check_asserts.sh . > $(B)/headertest/asserts.txt || { cat $(B)/headertest/asserts.txt; exit 1; }; \
	    tail -n 1 $(B)/headertest/asserts.txt | sed 's/^library */asserts: library, /; s/$$/ (each module over 1,000 lines at least 2)/'

# Each part leaves its figures in $(BENCH_OUT); bench/results.sh then
# rewrites bench/RESULTS.md from them (machine, date, commit, one table a
# scenario; history is git's).
BENCH_OUT ?= bench/out
bench: all $(BENCH_BIN)
	@mkdir -p $(BENCH_OUT) && printf 'machine\t%s\ndate\t%s\ncommit\t%s\n' \
	    "$$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $$(nproc) CPUs" \
	    "$$(date -u '+%Y-%m-%d %H:%M UTC')" \
	    "$$(git rev-parse --short HEAD 2>/dev/null)$$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')" \
	    > $(BENCH_OUT)/meta
	@BENCH_OUT=$(BENCH_OUT) bench/run.sh $(B)
	@sh bench/sensors.sh $(B) | tee $(BENCH_OUT)/sensors.txt
	@BENCH_OUT=$(BENCH_OUT) sh bench/serve.sh $(B)
	@BENCH_OUT=$(BENCH_OUT) sh bench/proxy.sh $(B)
	@BENCH_OUT=$(BENCH_OUT) sh bench/otlp.sh $(B)
	@BENCH_OUT=$(BENCH_OUT) sh bench/glance.sh $(B)
	@BENCH_OUT=$(BENCH_OUT) sh bench/epochs.sh $(B)
	@BENCH_OUT=$(BENCH_OUT) sh bench/journal.sh $(B)
	@BENCH_OUT=$(BENCH_OUT) bash bench/wear.sh $(B) || \
	    echo "bench/wear.sh failed (it needs root): RESULTS.md says so"
	@printf 'end\t%s\nload\t%s (at the end)\n' "$$(date -u '+%H:%M UTC')" \
	    "$$(cut -d' ' -f1-3 /proc/loadavg)" >> $(BENCH_OUT)/meta
	@sh bench/results.sh $(BENCH_OUT) > bench/RESULTS.md.tmp && \
	    mv bench/RESULTS.md.tmp bench/RESULTS.md && \
	    echo "bench/RESULTS.md rewritten from $(BENCH_OUT)"

# The Debian packages (debian/, docs/PACKAGING.md) into $(B)/deb, from a
# copy of the tree; deb-check builds them and tests them installed
# (tests/deb/check.sh: lintian, install into a scratch root, purge).
deb:
	@sh tools/deb.sh $(B)/deb
deb-check:
	@sh tests/deb/check.sh $(B)/deb
# two builds of one commit give byte-identical packages
deb-repro:
	@sh tests/deb/repro.sh $(B)/deb

demo: all
	@sh examples/demo.sh $(B)/ledger

# Fuzz every decoder of outside input for FUZZ_SECONDS each (needs clang).
FUZZ_SECONDS ?= 60
print-modules:
	@echo $(MODULES)

# the modules tools/check_cli_size.sh holds to 1,500/200 (tests/e2e/lib_size.sh)
print-size-dirs:
	@echo $(LIB_SIZE_DIRS)

fuzz:
	LEDGER_MODULES="$(MODULES)" sh tests/fuzz/run.sh $(FUZZ_SECONDS)
	LEDGER_MODULES="$(MODULES)" sh tests/fuzz/run_bundle.sh $(FUZZ_SECONDS)

# The long robustness runs (issue 11), figures in docs/TESTING.md: kill -9
# rounds of concurrent ingest, power-loss states replayed from a
# write-logging shim, strace fault-injection sweeps over every write-side
# call, bit flips over a stored image, and kill -9 rounds of `ledger serve`
# under load from several clients, every I/O call of a migration failed
# and every allocation of the readers (needs strace, zstd, python3): the
# same scripts make check runs with fewer rounds, states, flips and
# faults. Seven independent parts: `make -j2 torture` runs two at a time.
TORTURE_ROUNDS ?= 300
TORTURE_POWER_STATES ?= 400
TORTURE_FLIPS ?= 1000
TORTURE_SERVE_ROUNDS ?= 100
TORTURE_PARTS = torture-crash torture-power torture-strace torture-flips \
	torture-serve torture-migrate torture-alloc
torture: $(TORTURE_PARTS)
torture-crash: all
	LEDGER=$(CURDIR)/$(B)/ledger CRASH_ROUNDS=$(TORTURE_ROUNDS) \
	    sh tests/e2e/core_crash.sh
torture-power: all
	LEDGER=$(CURDIR)/$(B)/ledger STATES=$(TORTURE_POWER_STATES) \
	    sh tests/e2e/robust_powerloss.sh
torture-strace: all
	LEDGER=$(CURDIR)/$(B)/ledger sh tests/torture/strace_sweep.sh
torture-flips: all
	LEDGER=$(CURDIR)/$(B)/ledger FLIPS=$(TORTURE_FLIPS) \
	    sh tests/e2e/robust_corrupt.sh
torture-serve: all
	LEDGER=$(CURDIR)/$(B)/ledger SERVE_CRASH_ROUNDS=$(TORTURE_SERVE_ROUNDS) \
	    sh tests/e2e/serve_crash.sh
# every I/O call of a migration failed and, in turn, hung and killed
torture-migrate: all
	LEDGER=$(CURDIR)/$(B)/ledger MIGRATE_CALL_STEP=1 sh tests/e2e/migrate.sh
# every allocation of the readers (export, verify-bundle, the views,
# verify --full) failed in turn, not every third
torture-alloc: all
	LEDGER=$(CURDIR)/$(B)/ledger READ_ALLOC_STEP=1 sh tests/e2e/core_faults.sh

# make install PREFIX=/usr/local DESTDIR=: the program, libledger.a and
# .so, every public header under include/libledger/<module>/ (so the
# headers' own #include "ledger/ledger.h" resolves), libledger.pc, the man
# pages (when scdoc is there), the bash and zsh completions, and the
# systemd units in systemd/ (when there are any; @BINDIR@ in them becomes
# PREFIX/bin), the ledger user for sysusers.d and /var/lib/ledger for
# tmpfiles.d. LIBDIR (PREFIX/lib) holds the libraries and libledger.pc.
D_BIN = $(DESTDIR)$(PREFIX)/bin
D_LIB = $(DESTDIR)$(LIBDIR)
D_INC = $(DESTDIR)$(PREFIX)/include/libledger
D_PC  = $(D_LIB)/pkgconfig
D_MAN = $(DESTDIR)$(PREFIX)/share/man
D_BASH = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
# (Debian's packages put zsh completions in share/zsh/vendor-completions)
ZSH_COMPDIR ?= $(PREFIX)/share/zsh/site-functions
D_ZSH = $(DESTDIR)$(ZSH_COMPDIR)
# (Debian 12's debhelper looks for units in /lib/systemd/system)
UNITDIR ?= $(PREFIX)/lib/systemd/system
D_UNIT = $(DESTDIR)$(UNITDIR)
D_SYSUSERS = $(DESTDIR)$(PREFIX)/lib/sysusers.d
D_TMPFILES = $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
D_DOC = $(DESTDIR)$(PREFIX)/share/doc/ledger
UNITS = $(wildcard systemd/*.service systemd/*.timer systemd/*.socket)
install: all shared man $(B)/libledger.pc
	$(call say,INSTALL,$(DESTDIR)$(PREFIX))install -d $(D_BIN) $(D_LIB) \
	    $(D_PC) $(D_BASH) $(D_ZSH) \
	    $(foreach m,$(MODULES),$(D_INC)/$(m))
	$(Q)install -m 755 $(B)/ledger $(D_BIN)/ledger
	$(Q)install -m 644 $(B)/libledger.a $(D_LIB)/libledger.a
	$(Q)install -m 755 $(B)/$(SHLIB) $(D_LIB)/$(SHLIB)
	$(Q)ln -sf $(SHLIB) $(D_LIB)/$(SONAME)
	$(Q)ln -sf $(SONAME) $(D_LIB)/libledger.so
	$(Q)for h in $(HEADERS); do install -m 644 $$h $(D_INC)/$$h || exit 1; done
	$(Q)install -m 644 $(B)/libledger.pc $(D_PC)/libledger.pc
	$(Q)install -m 644 contrib/completion/ledger.bash $(D_BASH)/ledger
	$(Q)install -m 644 contrib/completion/_ledger $(D_ZSH)/_ledger
	$(Q)for p in $(if $(HAVE_SCDOC),$(MAN_PAGES)); do \
	    s=$${p##*.}; install -d $(D_MAN)/man$$s && \
	    install -m 644 $$p $(D_MAN)/man$$s/ || exit 1; done
	$(Q)install -d $(D_DOC) && install -m 644 README.md docs/*.md $(D_DOC)/
	$(Q)$(if $(UNITS),install -d $(D_UNIT) && \
	    for u in $(UNITS); do sed 's|@BINDIR@|$(PREFIX)/bin|g' $$u \
	    > $(D_UNIT)/$${u##*/} && chmod 644 $(D_UNIT)/$${u##*/} || exit 1; \
	    done,:)
	$(Q)$(if $(wildcard systemd/ledger.sysusers),install -d $(D_SYSUSERS) && \
	    install -m 644 systemd/ledger.sysusers $(D_SYSUSERS)/ledger.conf,:)
	$(Q)$(if $(wildcard systemd/ledger.tmpfiles),install -d $(D_TMPFILES) && \
	    install -m 644 systemd/ledger.tmpfiles $(D_TMPFILES)/ledger.conf,:)

uninstall:
	$(call say,RM,$(DESTDIR)$(PREFIX))rm -f $(D_BIN)/ledger \
	    $(D_LIB)/libledger.a $(D_LIB)/$(SHLIB) $(D_LIB)/$(SONAME) \
	    $(D_LIB)/libledger.so $(D_PC)/libledger.pc $(D_BASH)/ledger \
	    $(D_ZSH)/_ledger \
	    $(foreach p,$(MAN_GROUPS),$(D_MAN)/man1/$(p).1) \
	    $(foreach p,$(MAN_HAND:man/%.scd=%),$(D_MAN)/man$(subst .,,$(suffix $(p)))/$(p)) \
	    $(foreach u,$(UNITS),$(D_UNIT)/$(notdir $(u))) \
	    $(D_SYSUSERS)/ledger.conf $(D_TMPFILES)/ledger.conf
	$(Q)rm -rf $(D_INC) $(D_DOC)

# (ledger/events.h is generated: `make events`; otlp/otlp.pb-c.[ch]:
# `make proto`)
PROTO_GEN = otlp/otlp.pb-c.c otlp/otlp.pb-c.h
FMT_FILES = $(filter-out $(PROTO_GEN),$(LIB_SRC) $(CLI_SRC) \
            $(filter-out ledger/events.h,$(sort $(wildcard */*.h))))
fmt:
	clang-format -i $(FMT_FILES)

# Every file as clang-format lays it out (.clang-format); names the files
# that are not, and fails. `make fmt` rewrites them.
fmt-check:
	@bad=""; for f in $(FMT_FILES); do \
	    clang-format --dry-run -Werror $$f >/dev/null 2>&1 || bad="$$bad $$f"; \
	done; if [ -n "$$bad" ]; then \
	    echo "fmt-check: not as clang-format lays them out (make fmt):$$bad" >&2; \
	    exit 1; fi; echo "fmt-check: $(words $(FMT_FILES)) files as clang-format lays them out"

FORCE:

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(PIC_OBJ:.o=.d)
# a test program's own includes (test_fuzz_regress.c includes the fuzz
# targets' sources), from -MF above: with two sources the file holds the
# last one's, so the test's source comes last
-include $(TEST_BIN:=.d)
