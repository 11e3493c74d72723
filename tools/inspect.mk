# shmpipe-inspect: look inside any pipe without attaching to it; its
# tests, its fuzzer and the fuzzer's corpus (tests/inspect/).
#
#   make check-inspect            the tests and the corpus replay
#   make fuzz-inspect             fuzz the parser (FUZZ_TIME seconds, 60)
#   make inspect-corpus           rebuild the seeds from the tests' pipes

APT_PKGS += jq

INSPECT := $(B)/shmpipe-inspect
INSPECT_CORE := inspect-parse inspect-state inspect-print inspect-json
INSPECT_OBJS := $(patsubst %,$(B)/tools/inspect/%.o,$(INSPECT_CORE) \
	inspect-probe shmpipe-inspect)
INSPECT_HDRS := tools/inspect.h libshmpipe/layout.h include/shmpipe.h
INSPECT_TEST := $(B)/tests/inspect/test_inspect
INSPECT_PROBE_TEST := $(B)/tests/inspect/test_probe
INSPECT_REPLAY := $(B)/tests/inspect/replay
INSPECT_FUZZER := $(B)/tests/inspect/fuzz-parse
INSPECT_CORPUS := tests/inspect/corpus
INSPECT_TIMEOUT ?= 300
FUZZ_TIME ?= 60
FUZZ_CC ?= clang

ALL_TARGETS += $(INSPECT) $(INSPECT_TEST) $(INSPECT_PROBE_TEST) \
	$(INSPECT_REPLAY)
CHECK_TARGETS += check-inspect
INSTALL_TARGETS += install-inspect
PHONY += check-inspect fuzz-inspect inspect-corpus install-inspect

$(B)/tools/inspect $(B)/tests/inspect:
	mkdir -p $@

$(B)/tools/inspect/%.o: tools/%.c $(INSPECT_HDRS) | $(B)/tools/inspect
	$(CC) $(ALL_CFLAGS) -Ilibshmpipe -c -o $@ $<

$(INSPECT): $(INSPECT_OBJS) $(LIB_A)
	$(CC) -o $@ $(INSPECT_OBJS) $(LIBS) $(ALL_LDFLAGS)

$(INSPECT_TEST): tests/inspect/test_inspect.c $(B)/tests/harness.o \
		$(LIB_A) tests/harness.h | $(B)/tests/inspect
	$(CC) $(ALL_CFLAGS) -Ilibshmpipe -Itests -o $@ $< \
		$(B)/tests/harness.o $(LIBS) -lcmocka $(ALL_LDFLAGS)

# The probe with pread wrapped, so that tests can race it copy by copy.
$(INSPECT_PROBE_TEST): tests/inspect/test_probe.c $(B)/tests/harness.o \
		$(INSPECT_CORE:%=tools/%.c) tools/inspect-probe.c \
		$(INSPECT_HDRS) $(LIB_A) | $(B)/tests/inspect
	$(CC) $(ALL_CFLAGS) -Ilibshmpipe -Itools -Itests -o $@ $< \
		$(INSPECT_CORE:%=tools/%.c) tools/inspect-probe.c \
		$(B)/tests/harness.o $(LIBS) -lcmocka -Wl,--wrap=pread \
		$(ALL_LDFLAGS)

# The fuzz target as a plain program, so the corpus replays anywhere.
$(INSPECT_REPLAY): tests/inspect/fuzz-parse.c tests/inspect/replay.c \
		$(INSPECT_CORE:%=tools/%.c) $(INSPECT_HDRS) | $(B)/tests/inspect
	$(CC) $(ALL_CFLAGS) -Ilibshmpipe -Itools -o $@ \
		tests/inspect/fuzz-parse.c tests/inspect/replay.c \
		$(INSPECT_CORE:%=tools/%.c) $(ALL_LDFLAGS)

check-inspect: $(INSPECT) $(INSPECT_TEST) $(INSPECT_PROBE_TEST) \
		$(INSPECT_REPLAY)
	@echo "== $(INSPECT_TEST)"
	@INSPECT_BIN=$(INSPECT) timeout -k 5 $(INSPECT_TIMEOUT) $(INSPECT_TEST)
	@echo "== $(INSPECT_PROBE_TEST)"
	@timeout -k 5 $(INSPECT_TIMEOUT) $(INSPECT_PROBE_TEST)
	@echo "== $(INSPECT_REPLAY) $(INSPECT_CORPUS)"
	@timeout -k 5 $(INSPECT_TIMEOUT) $(INSPECT_REPLAY) $(INSPECT_CORPUS)/*

# libFuzzer comes with clang; its runtime is libclang-rt-*-dev on Debian.
$(INSPECT_FUZZER): tests/inspect/fuzz-parse.c $(INSPECT_CORE:%=tools/%.c) \
		$(INSPECT_HDRS) | $(B)/tests/inspect
	@command -v $(FUZZ_CC) >/dev/null || { \
		echo "fuzz-inspect needs clang: apt-get install -y clang" \
		     "libclang-rt-14-dev"; exit 1; }
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE -pthread -g -O1 -Iinclude \
		-Ilibshmpipe -Itools $(WARN) \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ \
		tests/inspect/fuzz-parse.c $(INSPECT_CORE:%=tools/%.c)

# New inputs go to a scratch corpus; `-merge=1` keeps what adds coverage.
fuzz-inspect: $(INSPECT_FUZZER)
	mkdir -p $(B)/tests/inspect/fuzz-corpus $(B)/tests/inspect/artifacts
	$(INSPECT_FUZZER) -max_len=20000 -max_total_time=$(FUZZ_TIME) \
		-print_final_stats=1 \
		-artifact_prefix=$(B)/tests/inspect/artifacts/ \
		$(B)/tests/inspect/fuzz-corpus $(INSPECT_CORPUS)

inspect-corpus: $(INSPECT) $(INSPECT_TEST)
	mkdir -p $(INSPECT_CORPUS)
	INSPECT_BIN=$(INSPECT) INSPECT_CORPUS=$(INSPECT_CORPUS) \
		timeout -k 5 $(INSPECT_TIMEOUT) $(INSPECT_TEST)

install-inspect: $(INSPECT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(INSPECT) $(DESTDIR)$(BINDIR)/shmpipe-inspect
	install -m 0644 docs/man/shmpipe-inspect.1 $(DESTDIR)$(MANDIR)/man1/
