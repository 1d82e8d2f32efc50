# Makefile - build, test and install libcrawllog (GNU make, no autotools).
#
#   make                 static + shared library, crawllog CLI, examples
#   make test            unit tests + docs check (installs libcmocka-dev)
#   make test-asan       the same tests under ASan + UBSan (build/asan)
#   make test-tsan       the threaded tests under TSan (build/tsan)
#   make check-clang     build everything, tests included, with clang
#   make check-symbols   exported-symbol, failpoint and NEEDED checks
#   make fp-coverage     failpoint sweeps + failpoint-site coverage (100%)
#   make fuzz            libFuzzer targets: corpus replay + 60 s each
#   make check-static    gcc -fanalyzer, cppcheck, clang-tidy: 0 findings
#   make valgrind        memcheck over a subset of the tests
#   make coverage        line/branch coverage of the library (>= 90 % lines)
#   make chaos           kill -9 chaos + Jepsen-style checker, ASan (CHAOS_ITERS=300)
#   make soak            the soak tier of the reliability tests (hours)
#   make install         PREFIX=/usr/local DESTDIR= LIBDIR= INCLUDEDIR= BINDIR=
#   make docs            regenerate docs/CONFIGURATION.md and docs/CLI.md
#   make bench           libcrawllog vs Redis/SQLite/ideal log, W1-W4 (~15 min)
#   make bench-build     build the benchmarks only (build/bench/*)
#   make bench-scaling   partitions, threads, consumers, message size sweeps
#   make bench-txn       consume-transform-produce with and without transactions
#   make bench-soak      1-hour retention-bounded soak (SECS=3600)
#   make bench-plots     SVG plots of the latest results into docs/img/
#   make format          clang-format -i over the sources
#   make clean
#
# Every libcrawllog/*.c except crawllog_cli.c and cli_*.c (the crawllog
# tool) is a library module, every
# tests/test_*.c a test program, every examples/*.c an example and every
# bench/*.c a benchmark: adding a file needs no edit here.
#
# Variants: the same rules serve every build directory.  BUILDDIR (default
# build) holds the release objects and programs, TESTDIR (default
# $(BUILDDIR)/test) the -DCRAWLLOG_TESTING objects, library and test programs.
# The sanitizer and clang variants are recursive makes with another TESTDIR /
# BUILDDIR, CC, CFLAGS and EXTRA_CFLAGS.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:
# Keep objects made through pattern chains (make would delete them as
# intermediates, forcing rebuilds and confusing the stale-program check).
.SECONDARY:
.PHONY: FORCE
FORCE:

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

CC ?= cc
AR ?= ar
PREFIX = /usr/local
DESTDIR =
LIBDIR = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
BINDIR = $(PREFIX)/bin
PKGCONFIGDIR = $(LIBDIR)/pkgconfig

BUILDDIR = build
TESTDIR = $(BUILDDIR)/test

# One version source: include/crawllog.h (which includes the other public
# headers, include/crawllog_*.h).
HEADER := include/crawllog.h
PUBLIC_HEADERS := $(HEADER) $(sort $(wildcard include/crawllog_*.h))
version_field = $(shell sed -n 's/^.define CRAWLLOG_VERSION_$(1)[ \t]*\([0-9][0-9]*\).*/\1/p' $(HEADER))
MAJOR := $(call version_field,MAJOR)
MINOR := $(call version_field,MINOR)
PATCH := $(call version_field,PATCH)
ifeq ($(strip $(MAJOR)),)
$(error cannot read CRAWLLOG_VERSION_MAJOR from $(HEADER))
endif
ifeq ($(strip $(MINOR)),)
$(error cannot read CRAWLLOG_VERSION_MINOR from $(HEADER))
endif
ifeq ($(strip $(PATCH)),)
$(error cannot read CRAWLLOG_VERSION_PATCH from $(HEADER))
endif
VERSION := $(MAJOR).$(MINOR).$(PATCH)

WARN = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow -Werror
CFLAGS = -O2 -g
# Added to every compile and link (sanitizers, coverage, ...).
EXTRA_CFLAGS =
CPPFLAGS =
LDFLAGS =
DEPFLAGS = -MMD -MP

LIB_CFLAGS = $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) -fPIC \
             -fvisibility=hidden -Iinclude -Ilibcrawllog
TESTLIB_CFLAGS = $(LIB_CFLAGS) -DCRAWLLOG_TESTING
TEST_CFLAGS = $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) -Iinclude \
              -Ilibcrawllog -Itests -Iexamples/crawl -DCRAWLLOG_TESTING \
              -DVECTORS_DIR=\"tests/vectors\"
APP_CFLAGS = $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) -Iinclude
LINK = $(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS)
SO_LDFLAGS = -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined

ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_CFLAGS = -O1 -g -fno-omit-frame-pointer
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
           UBSAN_OPTIONS=print_stacktrace=1
TSAN_FLAGS = -fsanitize=thread
TSAN_CFLAGS = -O1 -g
# Newer kernels map memory where gcc 12's TSan runtime does not expect it
# ("unexpected memory mapping"); running with ASLR off avoids that.
TSAN_WRAPPER = $(shell setarch $$(uname -m) -R true >/dev/null 2>&1 && echo "setarch $$(uname -m) -R")
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1 TEST_WRAPPER='$(TSAN_WRAPPER)'

# ---------------------------------------------------------------------------
# Sources and outputs
# ---------------------------------------------------------------------------

# The crawllog tool: crawllog_cli.c and its helpers cli_*.c (public header
# only); everything else in libcrawllog/ is the library.
CLI_SRC := $(wildcard libcrawllog/crawllog_cli.c)
CLI_SRCS := $(CLI_SRC) $(sort $(wildcard libcrawllog/cli_*.c))
# kafka_*.c: the optional Kafka backend, built only by `make kafka`.
KAFKA_SRCS := $(sort $(wildcard libcrawllog/kafka_*.c))
LIB_SRCS := $(filter-out $(CLI_SRCS) $(KAFKA_SRCS),$(sort $(wildcard libcrawllog/*.c)))
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_NAMES := $(patsubst tests/%.c,%,$(TEST_SRCS))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
BENCH_SRCS := $(sort $(wildcard bench/*.c))

LIB_OBJS = $(patsubst libcrawllog/%.c,$(BUILDDIR)/obj/%.o,$(LIB_SRCS))
STATIC_LIB = $(BUILDDIR)/libcrawllog.a
SONAME = libcrawllog.so.$(MAJOR)
SHARED_REAL = $(BUILDDIR)/libcrawllog.so.$(VERSION)
SHARED_LIBS = $(SHARED_REAL) $(BUILDDIR)/$(SONAME) $(BUILDDIR)/libcrawllog.so
CLI = $(if $(CLI_SRC),$(BUILDDIR)/crawllog)
EXAMPLES = $(patsubst examples/%.c,$(BUILDDIR)/examples/%,$(EXAMPLE_SRCS))
# The crawl pipeline examples (examples/crawl-*.c) share the code in
# examples/crawl/ (HTTP client and server, SOCKS5, HTML and robots.txt,
# JSON), built into an archive every example and test program may link.
CRAWLEX_SRCS := $(sort $(wildcard examples/crawl/*.c))
CRAWLEX_OBJS = $(patsubst examples/crawl/%.c,$(BUILDDIR)/examples/crawl/%.o,$(CRAWLEX_SRCS))
CRAWLEX_LIB = $(if $(CRAWLEX_SRCS),$(BUILDDIR)/examples/libcrawlex.a)
# The same code for test programs, built with the test flags (sanitizers).
CRAWLEX_TEST_OBJS = $(patsubst examples/crawl/%.c,$(TESTDIR)/crawlex/%.o,$(CRAWLEX_SRCS))
CRAWLEX_TEST_LIB = $(if $(CRAWLEX_SRCS),$(TESTDIR)/crawlex/libcrawlex.a)
BENCHES = $(patsubst bench/%.c,$(BUILDDIR)/bench/%,$(BENCH_SRCS))
GEN_CONFDOC = $(BUILDDIR)/tools/gen_confdoc

TEST_LIB_OBJS = $(patsubst libcrawllog/%.c,$(TESTDIR)/obj/%.o,$(LIB_SRCS))
TEST_LIB = $(TESTDIR)/libcrawllog_test.a
TEST_HELPERS = $(TESTDIR)/tobj/helpers.o $(TESTDIR)/tobj/helpers_log.o \
               $(TESTDIR)/tobj/helpers_proc.o $(TESTDIR)/tobj/helpers_fault.o
TEST_PROGS = $(addprefix $(TESTDIR)/,$(TEST_NAMES))

FORMAT_FILES = $(wildcard libcrawllog/*.[ch] include/*.h tests/*.[ch] \
                 examples/*.c examples/crawl/*.[ch] bench/*.c)

# ---------------------------------------------------------------------------
# Release build
# ---------------------------------------------------------------------------

.PHONY: all lib static shared cli examples bench bench-build bench-scaling bench-txn \
        bench-soak bench-plots
all: static shared cli examples
lib: static shared
static: $(STATIC_LIB)
shared: $(SHARED_LIBS)
cli: $(CLI)
examples: $(EXAMPLES)
bench-build: $(BENCHES)
# The side-by-side run (bench/run_bench.sh: installs the peers' packages
# when missing, builds bench/peers against this library, runs everything).
bench: bench-build static
	bench/run_bench.sh
bench-scaling: bench-build
	bench/run_scaling.sh
bench-soak: bench-build
	bench/run_soak.sh
bench-plots:
	bench/plot.sh
bench-txn: bench-build
	bench/run_txn.sh

$(BUILDDIR)/obj/%.o: libcrawllog/%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# A list file rewritten only when the set of objects changes, so that the
# libraries are relinked when a module is added or removed.
$(BUILDDIR)/obj/.objects: FORCE
	@mkdir -p $(@D)
	@echo '$(LIB_OBJS)' | cmp -s - $@ 2>/dev/null || echo '$(LIB_OBJS)' > $@

$(STATIC_LIB): $(LIB_OBJS) $(BUILDDIR)/obj/.objects
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(SHARED_REAL): $(LIB_OBJS) $(BUILDDIR)/obj/.objects
	@mkdir -p $(@D)
	$(LINK) $(SO_LDFLAGS) -o $@ $(LIB_OBJS) -pthread

$(BUILDDIR)/$(SONAME): $(SHARED_REAL)
	ln -sf $(notdir $<) $@

$(BUILDDIR)/libcrawllog.so: $(BUILDDIR)/$(SONAME)
	ln -sf $(notdir $<) $@

$(BUILDDIR)/crawllog: $(patsubst libcrawllog/%.c,$(BUILDDIR)/obj/%.o,$(CLI_SRCS)) $(STATIC_LIB)
	$(LINK) -o $@ $^ -pthread

$(BUILDDIR)/examples/crawl/%.o: examples/crawl/%.c
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) -Iexamples/crawl $(DEPFLAGS) -c -o $@ $<

$(BUILDDIR)/examples/libcrawlex.a: $(CRAWLEX_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILDDIR)/examples/%: examples/%.c $(STATIC_LIB) $(CRAWLEX_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) -Iexamples/crawl $(LDFLAGS) $(DEPFLAGS) -MF $@.d \
	    -MT $@ -o $@ $< $(CRAWLEX_LIB) $(STATIC_LIB) -pthread

$(BUILDDIR)/bench/%: bench/%.c $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) -O2 -Ilibcrawllog $(LDFLAGS) $(DEPFLAGS) -MF $@.d \
	    -MT $@ -o $@ $< $(STATIC_LIB) -pthread

$(GEN_CONFDOC): tests/tools/gen_confdoc.c $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) -Ilibcrawllog $(LDFLAGS) $(DEPFLAGS) -MF $@.d \
	    -MT $@ -o $@ $< $(STATIC_LIB) -pthread

# ---------------------------------------------------------------------------
# Optional Kafka backend: `make kafka` (Debian's librdkafka-dev)
# ---------------------------------------------------------------------------
# The same core objects, with kafka_*.o instead of backend_none.o, into
# $(KAFKA_DIR)/libcrawllog.a (link it with -lrdkafka -pthread); the crawllog
# tool and the examples linked with it.  `make test-kafka` runs
# tests/test_conformance.c against librdkafka's mock cluster plus
# tests/kafka/test_*.c.  The default build never needs librdkafka.
KAFKA_DIR = $(BUILDDIR)/kafka
KAFKA_LIBS = -lrdkafka
KAFKA_H = /usr/include/librdkafka/rdkafka.h
KAFKA_CORE_OBJS = $(filter-out %/backend_none.o,$(LIB_OBJS))
KAFKA_OBJS = $(patsubst libcrawllog/%.c,$(KAFKA_DIR)/obj/%.o,$(KAFKA_SRCS))
KAFKA_LIB = $(KAFKA_DIR)/libcrawllog.a
KAFKA_CLI = $(KAFKA_DIR)/crawllog
KAFKA_EXAMPLES = $(patsubst examples/%.c,$(KAFKA_DIR)/examples/%,$(EXAMPLE_SRCS))
KAFKA_TESTDIR = $(KAFKA_DIR)/test
KAFKA_TEST_SRCS := tests/test_conformance.c $(sort $(wildcard tests/kafka/test_*.c))
KAFKA_TEST_NAMES := $(patsubst %.c,%,$(notdir $(KAFKA_TEST_SRCS)))
KAFKA_TEST_LIB_OBJS = $(filter-out %/backend_none.o,$(TEST_LIB_OBJS)) \
    $(patsubst libcrawllog/%.c,$(KAFKA_TESTDIR)/obj/%.o,$(KAFKA_SRCS))
KAFKA_TEST_LIB = $(KAFKA_TESTDIR)/libcrawllog_kafka_test.a
KAFKA_TOOLS = $(KAFKA_DIR)/tools/kafka_mock

.PHONY: kafka kafka-deps test-kafka
kafka: kafka-deps
	@$(MAKE) --no-print-directory $(KAFKA_LIB) $(KAFKA_CLI) $(KAFKA_EXAMPLES) $(KAFKA_TOOLS)

kafka-deps: deps
	@if [ ! -f $(KAFKA_H) ]; then \
	    echo "kafka-deps: $(KAFKA_H) missing: installing librdkafka-dev"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; \
	    elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	    else echo "kafka-deps: not root and no sudo: install librdkafka-dev" >&2; \
	         exit 1; fi; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y librdkafka-dev || { $$SUDO apt-get update && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y librdkafka-dev; } || exit 1; \
	fi

$(KAFKA_DIR)/obj/%.o: libcrawllog/%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(KAFKA_LIB): $(KAFKA_CORE_OBJS) $(KAFKA_OBJS) $(BUILDDIR)/obj/.objects
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(KAFKA_CORE_OBJS) $(KAFKA_OBJS)

$(KAFKA_CLI): $(patsubst libcrawllog/%.c,$(BUILDDIR)/obj/%.o,$(CLI_SRCS)) $(KAFKA_LIB)
	$(LINK) -o $@ $^ $(KAFKA_LIBS) -pthread

$(KAFKA_DIR)/examples/%: examples/%.c $(KAFKA_LIB) $(CRAWLEX_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) -Iexamples/crawl $(LDFLAGS) $(DEPFLAGS) -MF $@.d \
	    -MT $@ -o $@ $< $(CRAWLEX_LIB) $(KAFKA_LIB) $(KAFKA_LIBS) -pthread

$(KAFKA_DIR)/tools/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) $(LDFLAGS) $(DEPFLAGS) -MF $@.d -MT $@ -o $@ $< \
	    $(KAFKA_LIBS) -pthread

$(KAFKA_TESTDIR)/obj/%.o: libcrawllog/%.c
	@mkdir -p $(@D)
	$(CC) $(TESTLIB_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(KAFKA_TEST_LIB): $(KAFKA_TEST_LIB_OBJS) $(TESTDIR)/obj/.objects
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(KAFKA_TEST_LIB_OBJS)

$(KAFKA_TESTDIR)/tobj/test_conformance.o: tests/test_conformance.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -DCL_TEST_KAFKA $(DEPFLAGS) -c -o $@ $<

$(KAFKA_TESTDIR)/tobj/%.o: tests/kafka/%.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -DCL_TEST_KAFKA $(DEPFLAGS) -c -o $@ $<

$(KAFKA_TESTDIR)/test_%: $(KAFKA_TESTDIR)/tobj/test_%.o $(TEST_HELPERS) \
                         $(KAFKA_TEST_LIB) $(CRAWLEX_TEST_LIB)
	$(LINK) -o $@ $^ -lcmocka $(KAFKA_LIBS) -pthread

# The Kafka suite: the conformance tests on librdkafka's mock cluster and
# the backend's own tests (tests/kafka/), with the kafka-built tool and
# examples (CRAWLLOG_KAFKA_CLI, CRAWLLOG_KAFKA_EXAMPLES, KAFKA_MOCK).
test-kafka: kafka
	@st=0; \
	$(MAKE) --no-print-directory -k $(addprefix $(KAFKA_TESTDIR)/,$(KAFKA_TEST_NAMES)) || st=1; \
	env CRAWLLOG_KAFKA_CLI=$(KAFKA_CLI) CRAWLLOG_KAFKA_EXAMPLES=$(KAFKA_DIR)/examples \
	    KAFKA_MOCK=$(KAFKA_DIR)/tools/kafka_mock \
	    tests/run_tests.sh '$(KAFKA_TESTDIR)' $(KAFKA_TEST_NAMES) || st=1; \
	exit $$st

# ---------------------------------------------------------------------------
# Test build (-DCRAWLLOG_TESTING), parameterised by TESTDIR
# ---------------------------------------------------------------------------

.PHONY: test-programs
test-programs: $(TEST_PROGS)

$(TESTDIR)/obj/%.o: libcrawllog/%.c
	@mkdir -p $(@D)
	$(CC) $(TESTLIB_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(TESTDIR)/obj/.objects: FORCE
	@mkdir -p $(@D)
	@echo '$(TEST_LIB_OBJS)' | cmp -s - $@ 2>/dev/null || echo '$(TEST_LIB_OBJS)' > $@

$(TEST_LIB): $(TEST_LIB_OBJS) $(TESTDIR)/obj/.objects
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(TEST_LIB_OBJS)

$(TESTDIR)/tobj/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(TESTDIR)/crawlex/%.o: examples/crawl/%.c
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) -Iexamples/crawl $(DEPFLAGS) -c -o $@ $<

$(TESTDIR)/crawlex/libcrawlex.a: $(CRAWLEX_TEST_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(TESTDIR)/test_%: $(TESTDIR)/tobj/test_%.o $(TEST_HELPERS) $(TEST_LIB) \
                   $(CRAWLEX_TEST_LIB)
	$(LINK) -o $@ $^ -lcmocka -pthread

# $(call run_suite,TESTDIR,FLAGS-VARIABLE,CFLAGS,ENV,NAMES): build the test
# programs NAMES (-k: as many as compile).  If some failed, try each program
# alone and delete the ones that still cannot be built, so that no stale
# binary runs (tests/run_tests.sh counts a missing program as failed, "not
# built").  Then run them all; fail if the build or any test failed.
define run_suite
	@st=0; \
	$(MAKE) --no-print-directory -k TESTDIR='$(1)' CFLAGS='$(3)' \
	    EXTRA_CFLAGS='$($(2))' $(addprefix $(1)/,$(5)) || st=1; \
	if [ $$st -ne 0 ]; then \
	    echo "make: some test programs failed to build"; \
	    for p in $(5); do \
	        $(MAKE) --no-print-directory TESTDIR='$(1)' CFLAGS='$(3)' \
	            EXTRA_CFLAGS='$($(2))' '$(1)/'$$p >/dev/null 2>&1 \
	            || rm -f '$(1)/'$$p; \
	    done; \
	fi; \
	env CRAWLLOG_CLI="$${CRAWLLOG_CLI:-$(BUILDDIR)/crawllog}" $(4) \
	    tests/run_tests.sh '$(1)' $(5) || st=1; \
	exit $$st
endef
# ---------------------------------------------------------------------------
# Test targets
# ---------------------------------------------------------------------------

.PHONY: deps test test-asan test-tsan check-docs check-clang check-symbols

# libcmocka-dev is not on a fresh Debian 12 machine.
CMOCKA_H = /usr/include/cmocka.h
deps:
	@if [ ! -f $(CMOCKA_H) ]; then \
	    echo "deps: $(CMOCKA_H) missing: installing libcmocka-dev"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; \
	    elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	    else echo "deps: not root and no sudo: install libcmocka-dev" >&2; \
	         exit 1; fi; \
	    $$SUDO apt-get update && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y libcmocka-dev || exit 1; \
	fi

# test_cli runs the release build/crawllog and the crawl tests the release
# examples, so they are built first.
# The whole suite: the file backend's programs, then the Kafka backend's
# (make test-kafka: installs librdkafka-dev like cmocka; KAFKA=0 skips it),
# then one line with the sum of both runners' "tests: N passed, N failed".
KAFKA ?= 1
test: deps
	@docs=0; st=0; logs=$(BUILDDIR)/test-logs; mkdir -p $$logs; \
	rm -f $$logs/core.log $$logs/kafka.log; \
	$(MAKE) --no-print-directory cli examples || st=1; \
	$(MAKE) --no-print-directory check-docs || docs=1; \
	{ $(MAKE) --no-print-directory run-test-suite || echo FAIL > $$logs/core.rc; } \
	    2>&1 | tee $$logs/core.log; \
	if [ "$(KAFKA)" != 0 ]; then \
	    { $(MAKE) --no-print-directory test-kafka || echo FAIL > $$logs/kafka.rc; } \
	        2>&1 | tee $$logs/kafka.log; \
	fi; \
	for f in core kafka; do \
	    if [ -f $$logs/$$f.rc ]; then st=1; rm -f $$logs/$$f.rc; fi; \
	done; \
	if [ $$docs -ne 0 ]; then \
	    echo "make test: check-docs FAILED (docs/CONFIGURATION.md: run make docs)"; \
	    st=1; \
	fi; \
	cat $$logs/core.log $$logs/kafka.log 2>/dev/null | \
	    awk '/^tests: [0-9]+ passed, [0-9]+ failed$$/ { p += $$2; f += $$4; n++ } \
	         END { if (n > 1) printf "tests: %d passed, %d failed\n", p, f }'; \
	exit $$st

.PHONY: run-test-suite
run-test-suite:
	$(call run_suite,$(TESTDIR),EXTRA_CFLAGS,$(CFLAGS),,$(TEST_NAMES))

test-asan: deps
	@$(MAKE) --no-print-directory cli examples
	$(call run_suite,build/asan,ASAN_FLAGS,$(ASAN_CFLAGS),$(ASAN_ENV),$(TEST_NAMES))

# T2/T3: run the failpoint sweeps (tests/test_fault_*) and report which
# failpoint sites they reached; fails below 100% (tests/tools/fp_coverage.sh).
FAULT_TESTS := $(patsubst tests/%.c,%,$(wildcard tests/test_fault_*.c))
.PHONY: fp-coverage
fp-coverage: deps
	@$(MAKE) --no-print-directory $(addprefix $(TESTDIR)/,$(FAULT_TESTS))
	tests/tools/fp_coverage.sh $(TESTDIR)

# T8: libFuzzer targets (tests/fuzz/, clang): build, replay the committed
# corpus, then fuzz each target FUZZ_SECONDS (tests/tools/fuzz.sh).
FUZZ_SECONDS ?= 60
.PHONY: fuzz fuzz-replay
fuzz-replay:
	tests/tools/fuzz.sh build && tests/tools/fuzz.sh replay
fuzz: fuzz-replay
	tests/tools/fuzz.sh run $(FUZZ_SECONDS)

# T9: gcc -fanalyzer, cppcheck and clang-tidy at zero findings; valgrind
# memcheck over a subset of the tests; line coverage of the library (fails
# below COVERAGE_MIN, 90 %).  tests/tools/{check_static,valgrind,coverage}.sh
.PHONY: check-static valgrind coverage
check-static:
	tests/tools/check_static.sh
valgrind: deps
	VG_BUILDDIR=build/valgrind tests/tools/valgrind.sh
coverage: deps
	COV_BUILDDIR=build/coverage tests/tools/coverage.sh

# The ASan + UBSan test programs, built and not run (soak, chaos).
.PHONY: test-asan-programs soak
test-asan-programs: deps
	@$(MAKE) --no-print-directory TESTDIR=build/asan CFLAGS='$(ASAN_CFLAGS)' \
	    EXTRA_CFLAGS='$(ASAN_FLAGS)' test-programs

# T6: the kill -9 chaos test under ASan with CHAOS_ITERS kills (CI: 300;
# make soak: 10000).  SEED=... replays a run's choices.
CHAOS_ITERS ?= 300
.PHONY: chaos
chaos: deps
	@$(MAKE) --no-print-directory TESTDIR=build/asan CFLAGS='$(ASAN_CFLAGS)' \
	    EXTRA_CFLAGS='$(ASAN_FLAGS)' build/asan/test_chaos
	env $(ASAN_ENV) CL_CHAOS_ITERS=$(CHAOS_ITERS) \
	    tests/run_tests.sh build/asan test_chaos

# The soak tier of the reliability plan, by hand (hours): tests/tools/soak.sh.
soak: deps
	tests/tools/soak.sh

# TSan runs the threaded tests: the programs that start threads themselves
# (the library's only threads are the durable-flush workers, which
# test_flushset and the threaded API tests exercise; multi-process tests share no memory but their
# mmap'd state files, whose atomics the threaded tests exercise too).
TSAN_TESTS := $(patsubst tests/%.c,%,$(shell grep -l pthread_create $(TEST_SRCS)))
test-tsan: deps
	@$(MAKE) --no-print-directory cli examples
	$(call run_suite,build/tsan,TSAN_FLAGS,$(TSAN_CFLAGS),$(TSAN_ENV),$(TSAN_TESTS))

# Builds everything (library, CLI, examples, benchmarks, tool, tests) with
# clang and -Werror into build/clang without running anything.
check-clang: deps
	$(MAKE) --no-print-directory -k CC=clang BUILDDIR=build/clang \
	    TESTDIR=build/clang/test all bench-build \
	    $(if $(wildcard libcrawllog/conf.h),build/clang/tools/gen_confdoc) \
	    test-programs
	@echo "check-clang: OK (clang $$(clang -dumpversion))"

# The shared library exports only crawllog_* names, the release static
# library has no failpoint code, and the library needs only libc.
LINKER_SYMS = _init _fini __bss_start __bss_start__ _bss_end__ __bss_end__ \
              _edata _end __end__
check-symbols: $(STATIC_LIB) $(SHARED_LIBS)
	@set -e; so=$(BUILDDIR)/libcrawllog.so; fail=0; \
	syms=$$(nm -D --defined-only "$$so" | awk 'NF >= 3 { sub(/@.*/, "", $$3); print $$3 }'); \
	bad=$$(printf '%s\n' "$$syms" | grep -v '^crawllog_' | grep -v -x -F \
	    $(foreach s,$(LINKER_SYMS),-e $(s)) | grep . || true); \
	n=$$(printf '%s\n' "$$syms" | grep -c '^crawllog_' || true); \
	if [ -n "$$bad" ]; then \
	    echo "check-symbols: $$so exports non-crawllog_ symbols:"; \
	    printf '  %s\n' $$bad; fail=1; \
	fi; \
	if [ "$$n" -eq 0 ]; then \
	    echo "check-symbols: $$so exports no crawllog_ symbol"; fail=1; \
	fi; \
	fp=$$(nm $(STATIC_LIB) 2>/dev/null | awk '{ print $$NF }' | grep '^cl_fp_' | sort -u || true); \
	if [ -n "$$fp" ]; then \
	    echo "check-symbols: release $(STATIC_LIB) has failpoint symbols:"; \
	    printf '  %s\n' $$fp; fail=1; \
	fi; \
	needed=$$(readelf -d "$$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'); \
	badneed=$$(printf '%s\n' "$$needed" | grep -v -E '^(libc|libpthread)\.so\.[0-9]+$$' | grep . || true); \
	if [ -n "$$badneed" ]; then \
	    echo "check-symbols: $$so needs more than libc:"; \
	    printf '  %s\n' $$badneed; fail=1; \
	fi; \
	if [ $$fail -ne 0 ]; then exit 1; fi; \
	echo "check-symbols: OK ($$n crawllog_* exports; NEEDED:" $$needed")"

# ---------------------------------------------------------------------------
# Documentation
# ---------------------------------------------------------------------------

.PHONY: docs
docs: $(GEN_CONFDOC) $(CLI)
	@mkdir -p docs
	$(GEN_CONFDOC) > docs/CONFIGURATION.md.tmp
	mv docs/CONFIGURATION.md.tmp docs/CONFIGURATION.md
	sh tests/tools/gen_clidoc.sh $(CLI) > docs/CLI.md.tmp
	mv docs/CLI.md.tmp docs/CLI.md

check-docs: $(GEN_CONFDOC)
	@new=$(BUILDDIR)/CONFIGURATION.md.new; \
	$(GEN_CONFDOC) > "$$new" || { echo "check-docs: $(GEN_CONFDOC) failed"; exit 1; }; \
	if [ ! -f docs/CONFIGURATION.md ]; then \
	    echo "check-docs: docs/CONFIGURATION.md is missing: run make docs"; exit 1; \
	fi; \
	if ! cmp -s docs/CONFIGURATION.md "$$new"; then \
	    diff -u docs/CONFIGURATION.md "$$new" | head -n 40; \
	    echo "check-docs: docs/CONFIGURATION.md is out of date: run make docs"; exit 1; \
	fi; \
	rm -f "$$new"; \
	echo "check-docs: docs/CONFIGURATION.md is up to date"

# ---------------------------------------------------------------------------
# Install
# ---------------------------------------------------------------------------

.PHONY: install uninstall
install: static shared cli
	install -d "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(LIBDIR)" \
	    "$(DESTDIR)$(PKGCONFIGDIR)"
	install -m 644 $(PUBLIC_HEADERS) "$(DESTDIR)$(INCLUDEDIR)/"
	install -m 644 $(STATIC_LIB) "$(DESTDIR)$(LIBDIR)/libcrawllog.a"
	install -m 755 $(SHARED_REAL) "$(DESTDIR)$(LIBDIR)/libcrawllog.so.$(VERSION)"
	ln -sf libcrawllog.so.$(VERSION) "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sf $(SONAME) "$(DESTDIR)$(LIBDIR)/libcrawllog.so"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    crawllog.pc.in > "$(DESTDIR)$(PKGCONFIGDIR)/crawllog.pc"
	chmod 644 "$(DESTDIR)$(PKGCONFIGDIR)/crawllog.pc"
ifneq ($(CLI_SRC),)
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 755 $(CLI) "$(DESTDIR)$(BINDIR)/crawllog"
endif

uninstall:
	rm -f $(foreach h,$(notdir $(PUBLIC_HEADERS)),"$(DESTDIR)$(INCLUDEDIR)/$(h)") \
	    "$(DESTDIR)$(LIBDIR)/libcrawllog.a" \
	    "$(DESTDIR)$(LIBDIR)/libcrawllog.so.$(VERSION)" \
	    "$(DESTDIR)$(LIBDIR)/$(SONAME)" \
	    "$(DESTDIR)$(LIBDIR)/libcrawllog.so" \
	    "$(DESTDIR)$(PKGCONFIGDIR)/crawllog.pc" \
	    "$(DESTDIR)$(BINDIR)/crawllog"

# ---------------------------------------------------------------------------
# Developer tools
# ---------------------------------------------------------------------------

.PHONY: format clean demo help
format:
	clang-format -i $(FORMAT_FILES)

clean:
	rm -rf build

# The main job: the crawl pipeline demo (examples/crawl-demo.c) on the
# embedded default data directory: fixture site, producer, 4 crawler
# processes with a SIGKILL and a proxy outage, then the summary and the
# group's table; exits 0 only if every job was reported or dead-lettered.
DEMO_DIR ?= ./crawllog-data
demo: all
	$(BUILDDIR)/examples/crawl-demo -d $(DEMO_DIR)

help:
	@sed -n 's/^#   make/make/p' Makefile

-include $(wildcard $(BUILDDIR)/obj/*.d $(TESTDIR)/obj/*.d \
    $(TESTDIR)/tobj/*.d $(TESTDIR)/crawlex/*.d $(BUILDDIR)/examples/*.d \
    $(BUILDDIR)/examples/crawl/*.d $(BUILDDIR)/bench/*.d \
    $(BUILDDIR)/tools/*.d $(KAFKA_DIR)/obj/*.d $(KAFKA_TESTDIR)/obj/*.d \
    $(KAFKA_TESTDIR)/tobj/*.d $(KAFKA_DIR)/examples/*.d \
    $(KAFKA_DIR)/tools/*.d)
