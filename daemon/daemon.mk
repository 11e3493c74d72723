# shmpiped, the daemon that owns declared pipes, with its example service
# pair (examples/systemd/) and its tests (tests/daemon/).
#
#   make check-daemon         run the daemon's tests and verify its units
#   make install-daemon       (part of make install)

APT_PKGS += libsystemd-dev systemd

SHMPIPED_SD_CFLAGS := $(shell pkg-config --cflags libsystemd 2>/dev/null)
SHMPIPED_SD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)

DAEMON_SRCS := $(wildcard daemon/*.c)
DAEMON_OBJS := $(DAEMON_SRCS:daemon/%.c=$(B)/daemon/%.o)
DAEMON_HDRS := $(wildcard daemon/*.h) include/shmpipe.h
SHMPIPED := $(B)/shmpiped

SHMPIPED_DEMO_BINS := $(B)/examples/systemd/shmpipe-demo-producer \
	$(B)/examples/systemd/shmpipe-demo-consumer
DAEMON_TEST := $(B)/tests/daemon/test_shmpiped
DAEMON_TEST_TIMEOUT ?= 240

# The unit files as shipped name installed paths; for verification they
# are rewritten to point at build/, where the programs exist.
SHMPIPED_UNITS := daemon/shmpiped.service \
	$(wildcard examples/systemd/*.service)
SHMPIPED_UNIT_DIR := $(B)/units

ALL_TARGETS += $(SHMPIPED) $(SHMPIPED_DEMO_BINS) $(DAEMON_TEST)
CHECK_TARGETS += check-daemon
INSTALL_TARGETS += install-daemon
PHONY += check-daemon check-daemon-units install-daemon

$(B)/daemon $(B)/tests/daemon $(B)/examples/systemd $(SHMPIPED_UNIT_DIR):
	mkdir -p $@

$(B)/daemon/%.o: daemon/%.c $(DAEMON_HDRS) | $(B)/daemon
	$(CC) $(ALL_CFLAGS) $(SHMPIPED_SD_CFLAGS) \
		-DSHMPIPED_CONF='"$(SYSCONFDIR)/shmpipe/shmpiped.conf"' \
		-c -o $@ $<

$(SHMPIPED): $(DAEMON_OBJS) $(LIB_A)
	$(CC) -o $@ $(DAEMON_OBJS) $(LIBS) $(SHMPIPED_SD_LIBS) $(ALL_LDFLAGS)

$(B)/examples/systemd/shmpipe-demo-%: examples/systemd/%.c \
		examples/systemd/demo.h $(LIB_A) | $(B)/examples/systemd
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBS) $(ALL_LDFLAGS)

$(DAEMON_TEST): tests/daemon/test_shmpiped.c tests/daemon/helpers.c \
		tests/daemon/helpers.h $(LIB_A) | $(B)/tests/daemon
	$(CC) $(ALL_CFLAGS) -o $@ tests/daemon/test_shmpiped.c \
		tests/daemon/helpers.c $(LIBS) -lcmocka $(ALL_LDFLAGS)

check-daemon: $(SHMPIPED) $(SHMPIPED_DEMO_BINS) $(DAEMON_TEST) check-daemon-units
	@echo "== $(DAEMON_TEST)"
	@$(SHMPIPED) -t -c daemon/shmpiped.conf
	@SHMPIPED=$(SHMPIPED) DEMO_DIR=$(B)/examples/systemd \
		timeout -k 5 $(DAEMON_TEST_TIMEOUT) $(DAEMON_TEST)

check-daemon-units: $(SHMPIPED) $(SHMPIPED_DEMO_BINS) | $(SHMPIPED_UNIT_DIR)
	@echo "== systemd-analyze verify $(SHMPIPED_UNITS)"
	@for u in $(SHMPIPED_UNITS); do \
		sed -e 's|/usr/local/sbin/|$(abspath $(B))/|' \
		    -e 's|/usr/local/bin/|$(abspath $(B))/examples/systemd/|' \
		    $$u > $(SHMPIPED_UNIT_DIR)/$${u##*/} || exit 1; \
	done
	@# verify exits 0 on an unknown key: any word it says is a failure.
	@cd $(SHMPIPED_UNIT_DIR) && out=$$(systemd-analyze verify --man=no \
		$(notdir $(SHMPIPED_UNITS)) 2>&1); rc=$$?; \
	if [ $$rc != 0 ] || [ -n "$$out" ]; then \
		echo "$$out"; echo "systemd-analyze verify failed"; exit 1; \
	fi; echo "units verified: $(notdir $(SHMPIPED_UNITS))"

install-daemon: $(SHMPIPED)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/shmpipe/conf.d
	install -m 0755 $(SHMPIPED) $(DESTDIR)$(SBINDIR)/shmpiped
	sed -e 's|/usr/local/sbin/|$(SBINDIR)/|' daemon/shmpiped.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/shmpiped.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/shmpiped.service
	test -e $(DESTDIR)$(SYSCONFDIR)/shmpipe/shmpiped.conf || \
		install -m 0644 daemon/shmpiped.conf \
			$(DESTDIR)$(SYSCONFDIR)/shmpipe/shmpiped.conf
	install -m 0644 docs/man/shmpiped.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/man/shmpiped.conf.5 $(DESTDIR)$(MANDIR)/man5/
