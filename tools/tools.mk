# The shmpipe command.
SHMPIPE_CMD := $(B)/shmpipe
SHMPIPE_CMD_SRCS := tools/shmpipe.c tools/shmpipe-io.c tools/shmpipe-ls.c
SHMPIPE_CMD_OBJS := $(SHMPIPE_CMD_SRCS:tools/%.c=$(B)/tools/%.o)

ALL_TARGETS += $(SHMPIPE_CMD)
INSTALL_TARGETS += install-tools
PHONY += install-tools

$(SHMPIPE_CMD_OBJS): $(B)/tools/%.o: tools/%.c tools/shmpipe-cmd.h \
		include/shmpipe.h | $(B)/tools
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(SHMPIPE_CMD): $(SHMPIPE_CMD_OBJS) $(LIB_A)
	$(CC) -o $@ $(SHMPIPE_CMD_OBJS) $(LIBS) $(ALL_LDFLAGS)

install-tools: $(SHMPIPE_CMD)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(SHMPIPE_CMD) $(DESTDIR)$(BINDIR)/shmpipe
	install -m 0644 docs/man/shmpipe.1 $(DESTDIR)$(MANDIR)/man1/
