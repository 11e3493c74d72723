#!/bin/sh
# shmpipe ls: one line per pipe, with its state, fill and endpoints; a
# file that is not a pipe is listed as such and is no error.
. "$(dirname "$0")/lib.sh"

# row NAME: the pipe's line of `shmpipe ls`, fields separated by spaces.
row() {
	"$S" ls | awk -v p="$1" '$1 == p { $1 = $1; print }'
}

# row_is NAME STATE CAPACITY QUEUED FILL MSGS READERS WRITERS
row_is() {
	name=$1
	shift
	got=$(row "$name")
	[ "$got" = "$name $*" ] && return 0
	echo "  got:    $got"
	echo "  wanted: $name $*"
	return 1
}

header() {
	"$S" ls | head -n 1 |
		grep -q "^NAME  *STATE  *CAPACITY  *QUEUED  *FILL  *MSGS  *READERS  *WRITERS$"
}
expect "header line" header

"$S" create "$P-a" -c 64K
expect "a new pipe: open, empty, nobody attached" \
	row_is "$P-a" open 64.0K 0 0% 0 0 0

# Three lines written, no reader yet: 3 messages of 16 bytes in the ring.
printf 'x\ny\nz\n' | "$S" write "$P-a" -l
expect "after a writer left: writers-gone, 3 messages queued" \
	row_is "$P-a" writers-gone 64.0K 48 0% 3 0 0

# An idle reader and an idle writer attached; then the reader is killed:
# it stays attached, listed as dead, until someone reaps it.
dead_reader_listed() {
	mkfifo "$T/fifo"
	"$S" create "$P-b" || return 1
	"$S" write "$P-b" < "$T/fifo" &
	wpid=$!
	exec 3> "$T/fifo"
	"$S" read "$P-b" > /dev/null &
	rpid=$!
	BG="$wpid $rpid"
	within 5 has_readers "$P-b" 1 || return 1
	row_is "$P-b" open 1.0M 0 0% 0 1 1 || return 1
	kill -9 "$rpid"
	wait "$rpid" 2>/dev/null
	within 5 sh -c '"$1" ls | awk -v p="$2" "\$1 == p { print \$7 }" |
			grep -qx "0+1d"'  - "$S" "$P-b"
	ok=$?
	exec 3>&-
	"$S" rm "$P-b"
	return $ok
}
expect "a live reader and writer listed as 1 and 1; a killed one as 0+1d" \
	dead_reader_listed

# Files under the prefix that are not pipes: listed, not fatal.
printf 'junk\n' > "/dev/shm/shmpipe.$P-junk"
: > "/dev/shm/shmpipe.$P-empty"
expect "a text file: not-a-pipe" row_is "$P-junk" not-a-pipe - - - - - -
expect "an empty file: not-a-pipe" row_is "$P-empty" not-a-pipe - - - - - -
expect "ls still exits 0" sh -c '"$1" ls > /dev/null' - "$S"
rm -f "/dev/shm/shmpipe.$P-junk" "/dev/shm/shmpipe.$P-empty"

"$S" rm "$P-a"
expect "a removed pipe is no longer listed" \
	sh -c '! "$1" ls | grep -q "^$2 "' - "$S" "$P-a"

finish
