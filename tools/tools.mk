# The shmpipe command, its tests, and `make demo`.
#
#   make demo                      stream a real file through a pipe to four
#                                  workers, then stop consumers early
#   make demo DEMO_INPUT=FILE      the same on another text file
#   make check-tools               the command's tests, then the demo
SHMPIPE_CMD := $(B)/shmpipe
SHMPIPE_CMD_SRCS := tools/shmpipe.c tools/shmpipe-io.c tools/shmpipe-ls.c
SHMPIPE_CMD_OBJS := $(SHMPIPE_CMD_SRCS:tools/%.c=$(B)/tools/%.o)
TOOLS_TEST_TIMEOUT ?= 120
DEMO_TIMEOUT ?= 120
DEMO_INPUT ?= /var/lib/dpkg/status

ALL_TARGETS += $(SHMPIPE_CMD)
CHECK_TARGETS += check-tools
INSTALL_TARGETS += install-tools
PHONY += check-tools install-tools

$(SHMPIPE_CMD_OBJS): $(B)/tools/%.o: tools/%.c tools/shmpipe-cmd.h \
		include/shmpipe.h | $(B)/tools
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(SHMPIPE_CMD): $(SHMPIPE_CMD_OBJS) $(LIB_A)
	$(CC) -o $@ $(SHMPIPE_CMD_OBJS) $(LIBS) $(ALL_LDFLAGS)

demo: $(SHMPIPE_CMD)
	@sh tools/demo/demo.sh $(SHMPIPE_CMD) $(DEMO_INPUT)

# Each test script runs under its own timeout (see tests/cli/run.sh); the
# demo runs last, as a user would run it, under one more.
check-tools: $(SHMPIPE_CMD)
	@timeout -k 5 $(TOOLS_TEST_TIMEOUT) sh tests/cli/run.sh $(SHMPIPE_CMD)
	@echo "== make demo"
	@timeout -k 5 $(DEMO_TIMEOUT) $(MAKE) --no-print-directory demo

install-tools: $(SHMPIPE_CMD)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(SHMPIPE_CMD) $(DESTDIR)$(BINDIR)/shmpipe
	install -m 0644 docs/man/shmpipe.1 $(DESTDIR)$(MANDIR)/man1/
