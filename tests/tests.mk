# Tests: one cmocka program per area; each runs under a timeout.
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(B)/tests/%)
TEST_TIMEOUT ?= 600

$(B)/tests/harness.o: tests/harness.c tests/harness.h include/shmpipe.h | $(B)/tests
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/%.c $(B)/tests/harness.o $(LIB_A) tests/harness.h | $(B)/tests
	$(CC) $(ALL_CFLAGS) -Ilibshmpipe -o $@ $< $(B)/tests/harness.o $(LIBS) \
		-lcmocka $(ALL_LDFLAGS)

ALL_TARGETS += $(TEST_BINS)
CHECK_TARGETS += check-lib

check-lib: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do \
		echo "== $$t"; \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		timeout -k 5 $(TEST_TIMEOUT) $$t; \
	done

.PHONY: check-lib

# The threaded tests under ThreadSanitizer, in a build tree of their own.
tsan:
	@$(MAKE) --no-print-directory B=$(B)/tsan SANITIZE=thread \
		$(B)/tsan/tests/test_threads
	TSAN_OPTIONS=halt_on_error=1 timeout -k 5 $(TEST_TIMEOUT) \
		$(B)/tsan/tests/test_threads

# The crash-point build of the library: test builds only, never installed.
CRASH_OBJS := $(LIB_SRCS:libshmpipe/%.c=$(B)/lib/crash/%.o)
CRASH_LIB := $(B)/libshmpipe-crash.a

$(B)/lib/crash/%.o: libshmpipe/%.c $(LIB_HDRS) | $(B)/lib/crash
	$(CC) $(ALL_CFLAGS) -DSHMPIPE_CRASH_POINTS -c -o $@ $<

$(CRASH_LIB): $(CRASH_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/lib/crash $(B)/tests/torture:
	mkdir -p $@

$(B)/tests/torture/%: tests/torture/%.c $(B)/tests/harness.o $(CRASH_LIB) \
		tests/harness.h | $(B)/tests/torture
	$(CC) $(ALL_CFLAGS) -DSHMPIPE_CRASH_POINTS -Ilibshmpipe -Itests -o $@ $< \
		$(B)/tests/harness.o $(CRASH_LIB) -lpthread -lcmocka $(ALL_LDFLAGS)

TORTURE_BINS := $(B)/tests/torture/test_points
ALL_TARGETS += $(TORTURE_BINS)
CHECK_TARGETS += check-points

check-points: $(TORTURE_BINS)
	@echo "== $(B)/tests/torture/test_points"
	@UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		timeout -k 5 $(TEST_TIMEOUT) $(B)/tests/torture/test_points

.PHONY: check-points

# The soak: about a minute in make check; make torture DURATION=seconds
# runs it for that long, with the crash points and the figures.
TORTURE_BINS += $(B)/tests/torture/test_soak
ALL_TARGETS += $(B)/tests/torture/test_soak $(B)/tests/torture/figures
CHECK_TARGETS += check-soak
DURATION ?= 3600

$(B)/tests/torture/figures: tests/torture/figures.c $(LIB_A) | $(B)/tests/torture
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBS) $(ALL_LDFLAGS)

check-soak: $(B)/tests/torture/test_soak
	@echo "== $(B)/tests/torture/test_soak"
	@SHMPIPE_SOAK_SECONDS=15 timeout -k 5 $(TEST_TIMEOUT) \
		$(B)/tests/torture/test_soak

torture: $(TORTURE_BINS) $(B)/tests/torture/figures
	$(B)/tests/torture/test_points
	SHMPIPE_TORTURE_SECONDS=$(DURATION) \
		timeout -k 5 $$(( $(DURATION) + 600 )) $(B)/tests/torture/test_soak
	$(B)/tests/torture/figures 100

.PHONY: check-soak torture

# The live-segment fuzzer: its corpus is replayed under make check;
# make fuzz FUZZ_SECONDS=n runs libFuzzer (clang) to grow it.
FUZZ_SECONDS ?= 1800
ALL_TARGETS += $(B)/tests/fuzz/fuzz_live
CHECK_TARGETS += check-fuzz

$(B)/tests/fuzz:
	mkdir -p $@

# The replay is built from the library's sources with the fuzzer's short
# wait for a forged control lock, so the corpus replays in seconds.
$(B)/tests/fuzz/fuzz_live: tests/fuzz/fuzz_live.c $(LIB_SRCS) $(LIB_HDRS) \
		| $(B)/tests/fuzz
	$(CC) $(ALL_CFLAGS) -DSHMPIPE_CTL_WAIT_MS=20 -Ilibshmpipe -o $@ $< \
		$(LIB_SRCS) $(ALL_LDFLAGS)

check-fuzz: $(B)/tests/fuzz/fuzz_live
	@echo "== $(B)/tests/fuzz/fuzz_live tests/fuzz/corpus/*"
	@timeout -k 5 $(TEST_TIMEOUT) $(B)/tests/fuzz/fuzz_live tests/fuzz/corpus/*

$(B)/fuzz/fuzz_live: tests/fuzz/fuzz_live.c $(LIB_SRCS) $(LIB_HDRS)
	mkdir -p $(dir $@)
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -DSHMPIPE_LIBFUZZER -pthread \
		-DSHMPIPE_CTL_WAIT_MS=20 \
		-fsanitize=fuzzer,address,undefined -Iinclude -Ilibshmpipe \
		-o $@ $< $(LIB_SRCS)

fuzz: $(B)/fuzz/fuzz_live
	mkdir -p $(B)/fuzz/new
	$(B)/fuzz/fuzz_live -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
		-max_len=2048 -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/new tests/fuzz/corpus

.PHONY: check-fuzz fuzz
