#!/bin/sh
# Stopping: when the consumer goes, by close or by crash, the producer
# stops at once and says so; when the producer ends or dies, the consumer
# is told which.  Delays are measured and printed; a case fails only past
# a bound (5 s) that means a hang, never on a slow run.
. "$(dirname "$0")/lib.sh"

BOUND_MS=5000

# An endless writer in the background: its status and end time go to
# $T/wst and $T/wend.
endless_writer() {
	rm -f "$T/wst" "$T/wend"
	( yes 'a line of text' | "$S" write "$1" -l 2> "$T/werr"
	  echo $? > "$T/wst"
	  now_ns > "$T/wend" ) &
	BG=$!
}

writer_ended() {
	[ -s "$T/wend" ]
}

# The `| head` case: head exits, the reader sees EPIPE on its output and
# closes its end, and the writer stops with status 3 and one line.
head_stops_writer() {
	pipe=$P-head
	"$S" create "$pipe" || return 1
	endless_writer "$pipe"
	"$S" read "$pipe" | {
		head -n 3 > "$T/out"
		now_ns > "$T/hend"
	}
	within 10 writer_ended || return 1
	wait
	BG=""
	"$S" rm "$pipe"
	ms=$(ms_between "$(cat "$T/hend")" "$(cat "$T/wend")")
	echo "writer stopped $ms ms after head exited: $(cat "$T/werr")"
	[ "$(cat "$T/wst")" = 3 ] && one_error_line "$T/werr" "$pipe" &&
		grep -q "every reader has closed the pipe" "$T/werr" &&
		[ "$(wc -l < "$T/out")" = 3 ] && [ "$ms" -lt "$BOUND_MS" ]
}
expect "read | head -n 3 stops a running writer" head_stops_writer

# A reader killed with SIGKILL stops the writer the same way.
killed_reader_stops_writer() {
	pipe=$P-kill
	"$S" create "$pipe" || return 1
	endless_writer "$pipe"
	wbg=$BG
	"$S" read "$pipe" > "$T/out" &
	rpid=$!
	BG="$wbg $rpid"
	within 5 nonempty "$T/out" || return 1
	t0=$(now_ns)
	kill -9 "$rpid"
	within 10 writer_ended || return 1
	wait
	BG=""
	"$S" rm "$pipe"
	ms=$(ms_between "$t0" "$(cat "$T/wend")")
	echo "writer stopped $ms ms after kill -9: $(cat "$T/werr")"
	[ "$(cat "$T/wst")" = 3 ] && one_error_line "$T/werr" "$pipe" &&
		grep -q "the last reader died" "$T/werr" &&
		[ "$ms" -lt "$BOUND_MS" ]
}
expect "a reader killed with SIGKILL stops a running writer" \
	killed_reader_stops_writer

# A writer killed with SIGKILL: the reader drains what was sent, then
# says that the stream is incomplete and exits 4.  The writer reads a
# fifo that the test holds open, so it is alive and idle when killed.
killed_writer() {
	pipe=$P-wkill
	"$S" create "$pipe" || return 1
	mkfifo "$T/fifo"
	"$S" write "$pipe" -l < "$T/fifo" &
	wpid=$!
	exec 3> "$T/fifo"
	printf 'complete line\nunfinished' >&3
	"$S" read "$pipe" > "$T/out" 2> "$T/rerr" &
	rpid=$!
	BG="$wpid $rpid"
	within 5 nonempty "$T/out" || return 1
	t0=$(now_ns)
	kill -9 "$wpid"
	wait "$rpid"
	rst=$?
	t1=$(now_ns)
	exec 3>&-
	wait
	BG=""
	rm -f "$T/fifo"
	"$S" rm "$pipe"
	echo "reader ended $(ms_between "$t0" "$t1") ms after kill -9:" \
	     "$(cat "$T/rerr")"
	[ "$rst" = 4 ] && one_error_line "$T/rerr" "$pipe" &&
		grep -q "stream incomplete: the writer died" "$T/rerr" &&
		[ "$(cat "$T/out")" = "complete line" ]
}
expect "a writer killed with SIGKILL: reader exits 4" killed_writer

# The writer's input ends before the reader comes: the reader still gets
# the whole stream, then the end, and exits 0.
reader_drains() {
	pipe=$P-drain
	seq 1 1000 > "$T/in"
	"$S" create "$pipe" &&
	"$S" write "$pipe" -l < "$T/in" &&
	"$S" read "$pipe" > "$T/out" &&
	"$S" rm "$pipe" &&
	same_file "$T/in" "$T/out"
}
expect "the writer ends first: the reader drains and exits 0" reader_drains

# Idle on both sides: the writer waits for input, the reader for
# messages.  When head exits, the idle reader notices that its output
# is gone and leaves; then the idle writer notices that no reader is left.
idle_ends() {
	pipe=$P-idle
	"$S" create "$pipe" || return 1
	mkfifo "$T/fifo"
	rm -f "$T/wst"
	( "$S" write "$pipe" -l < "$T/fifo" 2> "$T/werr"
	  echo $? > "$T/wst"
	  now_ns > "$T/wend" ) &
	wbg=$!
	exec 3> "$T/fifo"
	( "$S" read "$pipe" 2> "$T/rerr"
	  echo $? > "$T/rst"
	  now_ns > "$T/rend" ) | {
		head -n 1 > "$T/out"
		now_ns > "$T/hend"
	} &
	BG="$wbg $!"
	echo "one line" >&3
	within 10 writer_ended
	ok=$?
	exec 3>&-
	wait
	BG=""
	rm -f "$T/fifo"
	"$S" rm "$pipe"
	[ "$ok" = 0 ] || return 1
	hend=$(cat "$T/hend")
	echo "after head exited: the idle reader left in" \
	     "$(ms_between "$hend" "$(cat "$T/rend")") ms, the idle writer" \
	     "stopped in $(ms_between "$hend" "$(cat "$T/wend")") ms"
	[ "$(cat "$T/rst")" = 3 ] && [ ! -s "$T/rerr" ] &&
		[ "$(cat "$T/wst")" = 3 ] && one_error_line "$T/werr" "$pipe" &&
		[ "$(cat "$T/out")" = "one line" ]
}
expect "idle reader and idle writer both notice the consumer left" idle_ends

# An idle writer notices a reader killed with SIGKILL.
idle_writer_killed_reader() {
	pipe=$P-idlekill
	"$S" create "$pipe" || return 1
	mkfifo "$T/fifo"
	rm -f "$T/wst" "$T/wend"
	( "$S" write "$pipe" -l < "$T/fifo" 2> "$T/werr"
	  echo $? > "$T/wst"
	  now_ns > "$T/wend" ) &
	wbg=$!
	exec 3> "$T/fifo"
	"$S" read "$pipe" > /dev/null &
	rpid=$!
	BG="$wbg $rpid"
	within 5 has_readers "$pipe" 1 || return 1
	t0=$(now_ns)
	kill -9 "$rpid"
	within 10 writer_ended
	ok=$?
	exec 3>&-
	wait
	BG=""
	rm -f "$T/fifo"
	"$S" rm "$pipe"
	[ "$ok" = 0 ] || return 1
	echo "idle writer stopped $(ms_between "$t0" "$(cat "$T/wend")") ms" \
	     "after kill -9: $(cat "$T/werr")"
	[ "$(cat "$T/wst")" = 3 ] && grep -q "reader died" "$T/werr"
}
expect "an idle writer notices a reader killed with SIGKILL" \
	idle_writer_killed_reader

# A pipe carries one stream: once its readers are gone, a new writer is
# told so (status 3) and a new reader is refused (status 2).
finished_pipe() {
	pipe=$P-done
	"$S" create "$pipe" || return 1
	"$S" read "$pipe" | true &
	wait
	echo more | "$S" write "$pipe" 2> "$T/werr"
	wst=$?
	"$S" read "$pipe" 2> "$T/rerr"
	rst=$?
	"$S" rm "$pipe"
	echo "writer ($wst): $(cat "$T/werr")"
	echo "reader ($rst): $(cat "$T/rerr")"
	[ "$wst" = 3 ] && one_error_line "$T/werr" "$pipe" &&
		[ "$rst" = 2 ] && one_error_line "$T/rerr" "$pipe"
}
expect "a finished pipe: writer exits 3, reader exits 2" finished_pipe

finish
