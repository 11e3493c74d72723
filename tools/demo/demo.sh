#!/bin/sh
# make demo: the job shmpipe exists for, on a file every Debian system has.
#
#   1. One producer streams the lines of the file through one named pipe
#      to four worker processes.  Each worker counts its share; the four
#      results are added up and checked against the same count done
#      without shmpipe.
#   2. Early close: a consumer reads five lines and stops (head -n 5).
#      The producer is told at once, and stops.
#   3. A crash: a consumer is killed with SIGKILL.  The producer is told
#      at once, and stops cleanly.
#
# Usage: demo.sh PATH-TO-shmpipe [INPUT-FILE]
#
# Everything it makes, in /dev/shm and in a temporary directory, is
# removed when it ends, however it ends.

set -u
SHMPIPE=$1
INPUT=${2:-/var/lib/dpkg/status}
HERE=$(dirname "$0")
TAG=demo-$$		# the pipes are demo-PID-job, demo-PID-stop, ...
TMP=$(mktemp -d)
PIDS=""			# what runs in the background, stopped if we fail

export LC_ALL=C		# awk counts bytes, not characters

cleanup() {
	for pid in $PIDS; do
		kill -9 "$pid" 2>/dev/null
	done
	for step in job stop crash; do
		"$SHMPIPE" rm "$TAG-$step" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say() {
	printf '%s\n' "$*"
}

die() {
	say "demo: FAILED: $*" >&2
	exit 1
}

now_ns() {
	date +%s%N
}

# Milliseconds from one now_ns reading to another, to a tenth.
ms_between() {
	us=$((($2 - $1) / 1000))
	printf '%d.%d' $((us / 1000)) $((us % 1000 / 100))
}

# The producer's messages on stderr start "shmpipe: PIPE: ".
producer_said() {
	sed 's/^shmpipe: [^:]*: /  producer: /' "$TMP/producer"
}

# Wait, at most 5 s, until a pipe has this many readers attached.  A
# worker that attached only after the others had read the whole stream
# would find the pipe finished, so the producer starts after this.
wait_readers() {
	tries=0
	while [ "$("$SHMPIPE" ls | awk -v p="$1" '$1 == p { print $7 }')" \
		!= "$2" ]; do
		tries=$((tries + 1))
		[ "$tries" -lt 500 ] || die "$2 readers did not attach to $1"
		sleep 0.01
	done
}

# A producer that sends the file over and over until it is stopped.  It
# writes its exit status and the time it ended into $TMP.
endless_producer() {
	while cat "$INPUT" 2>/dev/null; do :; done |
		"$SHMPIPE" write "$1" -l -v 2> "$TMP/producer"
	echo $? > "$TMP/producer.status"
	now_ns > "$TMP/producer.end"
}

# What the producer did when its consumer stopped at time $1.
report_stop() {
	status=$(cat "$TMP/producer.status")
	producer_said
	say "  producer exit status: $status (the consumer went away)"
	say "  time to notice: $(ms_between "$1" "$(cat "$TMP/producer.end")")" \
	    "ms after the consumer stopped"
	[ "$status" = 3 ] || die "the producer should have exited with 3"
}

table_row() {
	awk -v label="$1" '{ printf "  %-9s %8s %9s %9s %8s %8s %10s\n",
		label, $1, $2, $3, $4, $5, $6 }'
}

step_workers() {
	pipe=$TAG-job
	say "== 1. One producer, four workers, one pipe"
	say "input: $INPUT ($(wc -c < "$INPUT") bytes," \
	    "$(wc -l < "$INPUT") lines)"
	say "  \$ shmpipe create $pipe"
	"$SHMPIPE" create "$pipe" || die "cannot create $pipe"

	say "  \$ shmpipe read $pipe | awk -f count.awk &    # four times"
	for i in 1 2 3 4; do
		"$SHMPIPE" read "$pipe" |
			awk -f "$HERE/count.awk" > "$TMP/worker$i" &
		PIDS="$PIDS $!"
	done
	wait_readers "$pipe" 4

	say "  \$ shmpipe write $pipe -l < $INPUT"
	start=$(now_ns)
	"$SHMPIPE" write "$pipe" -l -v < "$INPUT" 2> "$TMP/producer" ||
		die "the producer failed: $(cat "$TMP/producer")"
	wait
	done=$(now_ns)
	PIDS=""
	"$SHMPIPE" rm "$pipe"

	say ""
	table_row "" <<-EOF
	lines words bytes packages fields inst-KiB
	EOF
	for i in 1 2 3 4; do
		table_row "worker $i" < "$TMP/worker$i"
	done
	cat "$TMP"/worker? | awk '{ for (i = 1; i <= NF; i++) sum[i] += $i }
		END { printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", sum[1],
		      sum[2], sum[3], sum[4], sum[5], sum[6] }' > "$TMP/sum"
	awk -f "$HERE/count.awk" < "$INPUT" > "$TMP/direct"
	table_row "together" < "$TMP/sum"
	table_row "direct" < "$TMP/direct"
	cmp -s "$TMP/sum" "$TMP/direct" ||
		die "the workers' sum differs from the direct count"
	say "  the workers' sum equals the count done without shmpipe: OK"
	producer_said
	say "  the four workers were done $(ms_between "$start" "$done") ms" \
	    "after the producer started"
}

step_early_close() {
	pipe=$TAG-stop
	say ""
	say "== 2. Early close: the consumer stops after five lines"
	"$SHMPIPE" create "$pipe" || die "cannot create $pipe"
	say "  \$ (while cat $INPUT; do :; done) | shmpipe write $pipe -l &"
	endless_producer "$pipe" &
	PIDS=$!

	say "  \$ shmpipe read $pipe | head -n 5"
	"$SHMPIPE" read "$pipe" | {
		head -n 5 > "$TMP/head"
		now_ns > "$TMP/consumer.end"
	}
	wait
	PIDS=""
	"$SHMPIPE" rm "$pipe"
	sed 's/^/    | /' "$TMP/head"
	report_stop "$(cat "$TMP/consumer.end")"
}

step_crash() {
	pipe=$TAG-crash
	say ""
	say "== 3. A crash: the consumer is killed with SIGKILL"
	"$SHMPIPE" create "$pipe" || die "cannot create $pipe"
	say "  \$ (while cat $INPUT; do :; done) | shmpipe write $pipe -l &"
	endless_producer "$pipe" &
	producer=$!
	say "  \$ shmpipe read $pipe > /dev/null &"
	"$SHMPIPE" read "$pipe" > /dev/null &
	consumer=$!
	PIDS="$producer $consumer"
	wait_readers "$pipe" 1

	sleep 0.5
	say "  \$ kill -9 $consumer      # the consumer, after 0.5 s of work"
	killed=$(now_ns)
	kill -9 "$consumer"
	wait "$producer"
	wait "$consumer"
	PIDS=""
	"$SHMPIPE" rm "$pipe"
	report_stop "$killed"
}

[ -r "$INPUT" ] || die "cannot read $INPUT"
step_workers
step_early_close
step_crash

say ""
left=$(ls /dev/shm | grep -c "^shmpipe\.$TAG-")
[ "$left" = 0 ] || die "$left pipes left in /dev/shm"
say "== nothing left in /dev/shm; demo passed"
