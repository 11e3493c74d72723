# shmpipe: message pipes between processes through shared memory.
#
#   make                 build the library, tools and daemon into build/
#   make check           build and run every test
#   make demo            build and run the demonstration (see README.md)
#   make bench           build and run the benchmark against the peers
#   make install         install under $(DESTDIR)$(PREFIX)
#   make check SANITIZE=address,undefined    the tests under ASan/UBSan
#   make tsan            the threaded tests under ThreadSanitizer
#
# Each part of the tree adds its targets in its own fragment (*.mk), so
# the parts can grow without touching each other's rules.

VERSION := 0.1.0
SOVERSION := 0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= cc
AR ?= ar
SANITIZE ?=
# A sanitizer build lives in a tree of its own, so flags never mix.
comma := ,
ifneq ($(SANITIZE),)
B ?= build/$(subst $(comma),-,$(SANITIZE))
else
B ?= build
endif

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-missing-field-initializers
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread -Iinclude $(WARN)
BASE_LDFLAGS := -pthread
ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
BASE_LDFLAGS += -fsanitize=$(SANITIZE)
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS = $(BASE_LDFLAGS) $(LDFLAGS)

LIB_SRCS := $(wildcard libshmpipe/*.c)
LIB_HDRS := include/shmpipe.h $(wildcard libshmpipe/*.h)
LIB_PIC_OBJS := $(LIB_SRCS:libshmpipe/%.c=$(B)/lib/pic/%.o)
LIB_OBJS := $(LIB_SRCS:libshmpipe/%.c=$(B)/lib/static/%.o)
SONAME := libshmpipe.so.$(SOVERSION)
LIB_SO := $(B)/libshmpipe.so.$(VERSION)
LIB_A := $(B)/libshmpipe.a

# Programs link the static library, so they run from build/ as they are.
LIBS := $(LIB_A) -lpthread

ALL_TARGETS := $(LIB_SO) $(B)/libshmpipe.so $(LIB_A) $(B)/libshmpipe.pc
CHECK_TARGETS :=
INSTALL_TARGETS := install-lib
PHONY := all check install clean deps demo bench tsan

all: build-all

$(B)/lib/pic/%.o: libshmpipe/%.c $(LIB_HDRS) | $(B)/lib/pic
	$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

$(B)/lib/static/%.o: libshmpipe/%.c $(LIB_HDRS) | $(B)/lib/static
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB_SO): $(LIB_PIC_OBJS) libshmpipe/libshmpipe.map
	$(CC) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=libshmpipe/libshmpipe.map \
		-o $@ $(LIB_PIC_OBJS) $(ALL_LDFLAGS)

$(B)/libshmpipe.so: $(LIB_SO)
	ln -sf libshmpipe.so.$(VERSION) $(B)/$(SONAME)
	ln -sf libshmpipe.so.$(VERSION) $@

$(LIB_A): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# The .pc file names the install paths: made anew whenever they may have
# changed (every build), and again at install time.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'

$(B)/libshmpipe.pc: libshmpipe/libshmpipe.pc.in FORCE | $(B)
	$(PC_SED) $< > $@

FORCE:

$(B) $(B)/lib/pic $(B)/lib/static $(B)/tests $(B)/tools:
	mkdir -p $@

# Dependencies: cmocka for the tests.  As root, install what is missing
# through apt; otherwise say the exact command.
APT_PKGS := libcmocka-dev pkg-config
deps:
	@missing=""; \
	for p in $(APT_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
			grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			  apt-get install -y -qq $$missing; } >/dev/null || exit 1; \
		else \
			echo "missing packages:$$missing"; \
			echo "run: sudo apt-get install -y$$missing"; exit 1; \
		fi; \
	fi

include tests/tests.mk
include $(sort $(wildcard tools/*.mk daemon/*.mk bench/*.mk examples/*.mk))

build-all: $(ALL_TARGETS)

check: deps
	@$(MAKE) --no-print-directory build-all
	@$(MAKE) --no-print-directory run-checks

run-checks: $(CHECK_TARGETS)
	@echo "make check: all test programs passed"

install: $(INSTALL_TARGETS)

install-lib: $(LIB_SO) $(LIB_A) $(B)/libshmpipe.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libshmpipe.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libshmpipe.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/shmpipe.h $(DESTDIR)$(INCLUDEDIR)/
	$(PC_SED) libshmpipe/libshmpipe.pc.in > \
		$(DESTDIR)$(PKGCONFIGDIR)/libshmpipe.pc
	install -m 0644 docs/man/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 docs/man/*.7 $(DESTDIR)$(MANDIR)/man7/

clean:
	rm -rf $(B)

.PHONY: $(PHONY) build-all run-checks install-lib FORCE
