# ledger — one flat Makefile.
#
# Every .c file under a module folder goes into build/libledger.a; cli/*.c
# make build/ledger; tests/<module>/test_*.c each become one cmocka program.
# Adding a file to a module needs no edit here.

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
PKG_CONFIG ?= pkg-config

DEPS      = lmdb msgpack libzstd libsodium nettle libcurl jansson libpcre2-8 libarchive
TEST_DEPS = cmocka

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
       -Wformat=2 -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef \
       -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -I. \
             $(shell $(PKG_CONFIG) --cflags $(DEPS))
# libarchive is loaded on first use (export/archive_dl.c), not linked:
# it pulls ICU and libxml2 into every process otherwise.
LINK_DEPS = $(filter-out libarchive,$(DEPS))
LDLIBS  = $(shell $(PKG_CONFIG) --libs $(LINK_DEPS)) -ldl -lpthread -lm
# The program links these statically when every archive (.a, shipped by
# the -dev packages) is there: a process then skips ~0.5 ms of dynamic
# symbol resolution, a tenth of an `append` or a `query run=R` (see
# bench/RESULTS.md). STATIC_LIBS=0 links everything dynamically.
STATIC_DEPS = lmdb msgpack libzstd libsodium nettle jansson libpcre2-8
STATIC_ARCHIVES = lmdb msgpackc zstd sodium nettle jansson pcre2-8
STATIC_LIBS ?= $(if $(strip $(foreach a,$(STATIC_ARCHIVES),$(if $(filter     /%,$(shell $(CC) -print-file-name=lib$(a).a)),,no))),0,1)
ifeq ($(STATIC_LIBS),1)
CLI_LDLIBS = -Wl,-Bstatic $(shell $(PKG_CONFIG) --libs $(STATIC_DEPS)) \
             -Wl,-Bdynamic $(shell $(PKG_CONFIG) --libs \
             $(filter-out $(STATIC_DEPS),$(LINK_DEPS))) -ldl -lpthread -lm
else
CLI_LDLIBS = $(LDLIBS)
endif
TEST_LDLIBS = $(shell $(PKG_CONFIG) --libs $(TEST_DEPS) libarchive)

B ?= build
MODULES = ledger http projections ingest query export doctor evals
LIB_SRC = $(sort $(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ = $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_SRC = $(sort $(wildcard cli/*.c))
CLI_OBJ = $(CLI_SRC:%.c=$(B)/obj/%.o)
TEST_SRC = $(sort $(wildcard tests/*/test_*.c))
TEST_BIN = $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_SUPPORT = $(wildcard tests/support/*.c)
BENCH_SRC = $(sort $(wildcard bench/*.c))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(B)/bench/%)
HEADERS = $(foreach m,$(MODULES),$(wildcard $(m)/$(m).h))

.PHONY: all check asan tsan bench install demo clean headertest fmt unit fuzz

all: $(B)/ledger $(B)/libledger.a

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/libledger.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(B)/ledger: $(CLI_OBJ) $(B)/libledger.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(B)/libledger.a $(CLI_LDLIBS)

TEST_HEADERS = $(wildcard tests/*/*.h)
$(B)/tests/%: tests/%.c $(TEST_SUPPORT) $(TEST_HEADERS) $(B)/libledger.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< $(TEST_SUPPORT) \
	    $(B)/libledger.a $(LDLIBS) $(TEST_LDLIBS)

$(B)/bench/%: bench/%.c $(B)/libledger.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libledger.a $(LDLIBS) -lsqlite3

# Unit tests (cmocka), then the end-to-end shell tests, then the Go
# interoperability checks. Each prints its own summary.
check: all $(TEST_BIN) headertest
	@tests/run_tests.sh $(B)

unit: all $(TEST_BIN)
	@tests/run_tests.sh $(B) unit

asan:
	$(MAKE) B=build/asan OPT="-O1 -g -fsanitize=address,undefined \
	    -fno-sanitize-recover=all -fno-omit-frame-pointer" check

# ThreadSanitizer build of everything `check` runs (the writer's signing
# and commit threads, the CLI's ingest). A race fails the test that hit it:
# the process stops at the first report with exit 86, a code no test
# expects.
tsan:
	TSAN_OPTIONS="halt_on_error=1 exitcode=86 $(TSAN_OPTIONS)" \
	$(MAKE) B=build/tsan OPT="-O1 -g -fsanitize=thread \
	    -fno-omit-frame-pointer" check

headertest:
	@mkdir -p $(B)/headertest
	@for h in $(HEADERS); do \
	    printf '#include "%s"\n' $$h > $(B)/headertest/t.c; \
	    $(CC) -std=c11 -pedantic -Werror $(WARN) -I. \
	        $(shell $(PKG_CONFIG) --cflags $(DEPS)) \
	        -fsyntax-only $(B)/headertest/t.c || exit 1; \
	done; echo "headertest: $(words $(HEADERS)) headers compile alone"

bench: all $(BENCH_BIN)
	@bench/run.sh $(B)

demo: all
	@sh examples/demo.sh $(B)/ledger

# Fuzz every decoder of outside input for FUZZ_SECONDS each (needs clang).
FUZZ_SECONDS ?= 30
fuzz:
	sh tests/fuzz/run.sh $(FUZZ_SECONDS)
	sh tests/fuzz/run_bundle.sh $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
	    $(DESTDIR)$(PREFIX)/include/ledger
	install -m 755 $(B)/ledger $(DESTDIR)$(PREFIX)/bin/ledger
	install -m 644 $(B)/libledger.a $(DESTDIR)$(PREFIX)/lib/libledger.a
	install -m 644 ledger/ledger.h $(DESTDIR)$(PREFIX)/include/ledger/ledger.h

fmt:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(HEADERS)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
