# The shmpipe command and its tests.
#
#   make check-tools               the command's tests
SHMPIPE_CMD := $(B)/shmpipe
SHMPIPE_CMD_SRCS := tools/shmpipe.c tools/shmpipe-io.c tools/shmpipe-ls.c
SHMPIPE_CMD_OBJS := $(SHMPIPE_CMD_SRCS:tools/%.c=$(B)/tools/%.o)
TOOLS_TEST_TIMEOUT ?= 120

ALL_TARGETS += $(SHMPIPE_CMD)
CHECK_TARGETS += check-tools
INSTALL_TARGETS += install-tools
PHONY += check-tools install-tools

$(SHMPIPE_CMD_OBJS): $(B)/tools/%.o: tools/%.c tools/shmpipe-cmd.h \
		include/shmpipe.h | $(B)/tools
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(SHMPIPE_CMD): $(SHMPIPE_CMD_OBJS) $(LIB_A)
	$(CC) -o $@ $(SHMPIPE_CMD_OBJS) $(LIBS) $(ALL_LDFLAGS)

# Each test script runs under its own timeout (see tests/cli/run.sh).
check-tools: $(SHMPIPE_CMD)
	@timeout -k 5 $(TOOLS_TEST_TIMEOUT) sh tests/cli/run.sh $(SHMPIPE_CMD)

install-tools: $(SHMPIPE_CMD)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(SHMPIPE_CMD) $(DESTDIR)$(BINDIR)/shmpipe
	install -m 0644 docs/man/shmpipe.1 $(DESTDIR)$(MANDIR)/man1/
