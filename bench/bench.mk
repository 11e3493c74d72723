# The benchmark: shmpipe against pipe(2), AF_UNIX SOCK_SEQPACKET, POSIX
# message queues, Boost.Interprocess, ZeroMQ and a bare reference ring.
#
#   make bench                     build and run it (about two minutes); as
#                                  root, first installs the packages of the
#                                  optional peers (Boost, ZeroMQ, g++)
#   make bench BENCH_ARGS=--quick  pass options (see shmpipe-bench(1))
#   make check-bench               a quick smoke run: it must complete and
#                                  every message must check out; no timing
#                                  is asserted
#   make bench-callgrind           instructions per message of shmpipe and
#                                  of the reference ring (valgrind)
#
# Boost.Interprocess and ZeroMQ are found at build time; a missing one is
# reported as skipped, never a build failure.  The JSON of the last
# `make bench` is left in $(BENCH_JSON).

BENCH := $(B)/shmpipe-bench
BENCH_C_SRCS := $(wildcard bench/*.c)
BENCH_OBJS := $(BENCH_C_SRCS:bench/%.c=$(B)/bench/%.o)
BENCH_HDRS := $(wildcard bench/*.h) include/shmpipe.h
BENCH_ARGS ?=
BENCH_JSON ?= $(B)/bench.json
BENCH_TIMEOUT ?= 900
BENCH_CHECK_TIMEOUT ?= 300
BENCH_APT_PKGS := g++ libboost-dev libzmq3-dev

BENCH_HAVE_BOOST := $(shell test -r \
	/usr/include/boost/interprocess/ipc/message_queue.hpp && \
	command -v $(CXX) >/dev/null 2>&1 && echo 1)
BENCH_HAVE_ZMQ := $(shell test -r /usr/include/zmq.h && echo 1)

BENCH_DEFS := $(if $(BENCH_HAVE_BOOST),-DBENCH_HAVE_BOOST) \
	$(if $(BENCH_HAVE_ZMQ),-DBENCH_HAVE_ZMQ)
BENCH_CXX_OBJS := $(if $(BENCH_HAVE_BOOST),$(B)/bench/bipc.o)
BENCH_LIBS := $(if $(BENCH_HAVE_ZMQ),-lzmq) -lrt -lm
BENCH_LD := $(if $(BENCH_HAVE_BOOST),$(CXX),$(CC))
# The C flags minus those that mean nothing to C++.
BENCH_CXXFLAGS = -std=gnu++17 $(filter-out -std=% -Wstrict-prototypes \
	-Wmissing-prototypes,$(ALL_CFLAGS))
BENCH_CONFIG = boost=$(BENCH_HAVE_BOOST) zmq=$(BENCH_HAVE_ZMQ) \
	cc=$(CC) cxx=$(CXX) flags=$(ALL_CFLAGS)

ALL_TARGETS += $(BENCH)
CHECK_TARGETS += check-bench
INSTALL_TARGETS += install-bench
PHONY += check-bench install-bench bench-deps bench-config bench-callgrind

$(B)/bench:
	mkdir -p $@

# Rewritten only when the configuration changes, so that installing Boost
# or ZeroMQ, or building with SANITIZE=, rebuilds the benchmark.
$(B)/bench/config.stamp: bench-config | $(B)/bench
	@echo '$(BENCH_CONFIG)' | cmp -s - $@ || \
		echo '$(BENCH_CONFIG)' > $@

$(BENCH_OBJS): $(B)/bench/%.o: bench/%.c $(BENCH_HDRS) \
		$(B)/bench/config.stamp | $(B)/bench
	$(CC) $(ALL_CFLAGS) $(BENCH_DEFS) -c -o $@ $<

$(B)/bench/bipc.o: bench/bipc.cpp bench/bipc.h $(B)/bench/config.stamp \
		| $(B)/bench
	$(CXX) $(BENCH_CXXFLAGS) -c -o $@ $<

$(BENCH): $(BENCH_OBJS) $(BENCH_CXX_OBJS) $(LIB_A)
	$(BENCH_LD) -o $@ $(BENCH_OBJS) $(BENCH_CXX_OBJS) $(LIBS) \
		$(BENCH_LIBS) $(ALL_LDFLAGS)

# The optional peers.  As root, install what is missing; otherwise say
# how, and go on without them.
bench-deps:
	@missing=""; \
	for p in $(BENCH_APT_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
			grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing the optional peers:$$missing"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		  apt-get install -y -qq $$missing; } >/dev/null || \
			echo "could not install$$missing: skipping them"; \
	else \
		echo "optional peers missing:$$missing (they are skipped)"; \
		echo "to include them: sudo apt-get install -y$$missing"; \
	fi

# A second make, so that what bench-deps installed is found.
BENCH_RUN = $(strip $(BENCH) $(BENCH_ARGS) --json=$(BENCH_JSON))

bench: bench-deps
	@$(MAKE) --no-print-directory $(BENCH)
	@echo "== $(BENCH_RUN)"
	@timeout -k 5 $(BENCH_TIMEOUT) $(BENCH_RUN)

check-bench: $(BENCH)
	@echo "== $(BENCH) --quick"
	@out=$(B)/bench-quick.txt; \
	if ! timeout -k 5 $(BENCH_CHECK_TIMEOUT) $(BENCH) --quick \
		--json=$(B)/bench-quick.json >$$out 2>&1; then \
		cat $$out; echo "check-bench: shmpipe-bench --quick failed"; \
		exit 1; \
	fi; \
	grep -q '^verified [1-9][0-9]* messages; 0 failed runs$$' $$out || \
		{ cat $$out; echo "check-bench: not every run verified"; \
		  exit 1; }; \
	tail -n 1 $$out

bench-callgrind: $(BENCH)
	@sh bench/callgrind.sh $(BENCH) 64
	@sh bench/callgrind.sh $(BENCH) 16384

install-bench: $(BENCH)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BENCH) $(DESTDIR)$(BINDIR)/shmpipe-bench
	install -m 0644 docs/man/shmpipe-bench.1 $(DESTDIR)$(MANDIR)/man1/
