# shmpipe-inspect: look inside any pipe without attaching to it.

INSPECT := $(B)/shmpipe-inspect
INSPECT_CORE := inspect-parse inspect-state inspect-print inspect-json
INSPECT_OBJS := $(patsubst %,$(B)/tools/inspect/%.o,$(INSPECT_CORE) \
	inspect-probe shmpipe-inspect)
INSPECT_HDRS := tools/inspect.h libshmpipe/layout.h include/shmpipe.h

ALL_TARGETS += $(INSPECT)
INSTALL_TARGETS += install-inspect
PHONY += install-inspect

$(B)/tools/inspect:
	mkdir -p $@

$(B)/tools/inspect/%.o: tools/%.c $(INSPECT_HDRS) | $(B)/tools/inspect
	$(CC) $(ALL_CFLAGS) -Ilibshmpipe -c -o $@ $<

$(INSPECT): $(INSPECT_OBJS) $(LIB_A)
	$(CC) -o $@ $(INSPECT_OBJS) $(LIBS) $(ALL_LDFLAGS)

install-inspect: $(INSPECT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(INSPECT) $(DESTDIR)$(BINDIR)/shmpipe-inspect
	install -m 0644 docs/man/shmpipe-inspect.1 $(DESTDIR)$(MANDIR)/man1/
