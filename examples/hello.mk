# examples/hello.c: the README's example, built and run by make check.
$(B)/examples/hello: examples/hello.c $(LIB_A) include/shmpipe.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBS) $(ALL_LDFLAGS)

ALL_TARGETS += $(B)/examples/hello
CHECK_TARGETS += check-hello

check-hello: $(B)/examples/hello
	@out=$$(timeout 30 $(B)/examples/hello) && \
	[ "$$out" = "$$(printf 'got: one\ngot: two\ngot: three')" ] && \
	echo "examples/hello: ok" || { echo "examples/hello: FAILED"; exit 1; }

PHONY += check-hello
