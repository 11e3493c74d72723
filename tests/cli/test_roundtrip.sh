#!/bin/sh
# Round trips: `shmpipe read` gives back what `shmpipe write` was given,
# byte for byte, in every mode, whatever the bytes are.
. "$(dirname "$0")/lib.sh"

# Inputs with every line ending and byte that text tools tend to mangle.
printf 'one\r\ntwo\r\nthree\r\n' > "$T/crlf"
printf 'a\rb\rc\r' > "$T/cr"
printf 'first\nlast line without newline' > "$T/no-final-newline"
printf '\n\n\nmiddle\n\n\n' > "$T/empty-lines"
printf 'a\000b\n\000\n\000\000' > "$T/nul"
printf '\377\376\n\303\050\n\342\202\n\355\240\200\n\300' > "$T/bad-utf8"
: > "$T/empty"
printf '\n' > "$T/newline"
printf 'x' > "$T/one-byte"
(cd "$T" && cat crlf cr no-final-newline empty-lines nul bad-utf8) \
	> "$T/mixed"
seq 1 100000 > "$T/numbers"
head -c 300000 /dev/urandom > "$T/random"
FILES="crlf cr no-final-newline empty-lines nul bad-utf8 empty newline
	one-byte mixed numbers random"

# roundtrip FILE WRITE-OPTIONS READ-OPTIONS [CREATE-OPTIONS]: the writer
# and the reader both exit 0 and say nothing, and the output is the input.
k=0
roundtrip() {
	k=$((k + 1))
	pipe=$P-rt$k
	"$S" create "$pipe" ${4:-} || return 1
	"$S" write "$pipe" $2 < "$1" 2> "$T/werr" &
	wpid=$!
	"$S" read "$pipe" $3 > "$T/out" 2> "$T/rerr"
	rst=$?
	wait "$wpid"
	wst=$?
	"$S" rm "$pipe"
	[ "$wst" = 0 ] && [ "$rst" = 0 ] && [ ! -s "$T/werr" ] &&
		[ ! -s "$T/rerr" ] && same_file "$1" "$T/out"
}

for f in $FILES; do
	expect "write -l | read: $f" roundtrip "$T/$f" -l ""
	expect "write -l | read -l: $f" roundtrip "$T/$f" -l -l
	expect "write | read: $f" roundtrip "$T/$f" "" ""
	expect "write -b 7 | read: $f" roundtrip "$T/$f" "-b 7" ""
done

# A small ring wraps around many times.
expect "write -l | read, 4K ring: numbers" \
	roundtrip "$T/numbers" -l "" "-c 4K"
expect "write -b 4000 | read, 4K ring: random" \
	roundtrip "$T/random" "-b 4000" "" "-c 4K"
expect "write -b 4088 (the largest message) | read, 4K ring: random" \
	roundtrip "$T/random" "-b 4088" "" "-c 4K"

# One message per line: the writer's count says so.
lines_are_messages() {
	pipe=$P-count
	"$S" create "$pipe" || return 1
	"$S" write "$pipe" -l -v < "$T/numbers" 2> "$T/werr" &
	"$S" read "$pipe" > /dev/null &&
	wait $! &&
	"$S" rm "$pipe" &&
	grep -q ": wrote 100000 messages (588895 bytes)" "$T/werr"
}
expect "write -l sends one message per line" lines_are_messages

# read -l puts a newline after every message that has none, except the
# last: records sent without newlines come out one per line.
records_as_lines() {
	pipe=$P-records
	"$S" create "$pipe" &&
	printf 'abcdefgh' | "$S" write "$pipe" -b 3 &&
	"$S" read "$pipe" -l > "$T/out" &&
	"$S" rm "$pipe" &&
	printf 'abc\ndef\ngh' > "$T/want" &&
	same_file "$T/want" "$T/out"
}
expect "read -l: one record per line" records_as_lines

# Four readers share one stream: every line reaches exactly one of them.
four_readers() {
	pipe=$P-four
	"$S" create "$pipe" || return 1
	pids=""
	for i in 1 2 3 4; do
		"$S" read "$pipe" > "$T/part$i" &
		pids="$pids $!"
	done
	BG=$pids
	within 5 has_readers "$pipe" 4 || return 1
	"$S" write "$pipe" -l < "$T/numbers" || return 1
	wait $pids || return 1
	BG=""
	"$S" rm "$pipe"
	for i in 1 2 3 4; do
		echo "reader $i: $(wc -l < "$T/part$i") lines"
	done
	cat "$T"/part? | sort -n > "$T/out"
	same_file "$T/numbers" "$T/out"
}
expect "four readers: every line delivered once" four_readers

finish
