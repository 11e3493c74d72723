#!/bin/sh
# The largest message: a line that fits goes through, a longer one stops
# the writer with a clear error and nothing of it is sent, split or lost
# without a word.  A 4K ring carries messages of at most 4088 bytes.
. "$(dirname "$0")/lib.sh"

# line N: N bytes of 'a', without a newline
aaa() {
	head -c "$1" /dev/zero | tr '\0' a
}

# A line of exactly 4088 bytes, its newline included, fits.
largest_line_fits() {
	pipe=$P-fits
	{ echo short; aaa 4087; echo; echo after; } > "$T/in"
	"$S" create "$pipe" -c 4K || return 1
	"$S" write "$pipe" -l < "$T/in" &
	"$S" read "$pipe" > "$T/out" &&
	wait $! &&
	"$S" rm "$pipe" &&
	same_file "$T/in" "$T/out"
}
expect "a line of exactly the largest message goes through" largest_line_fits

# A line one byte longer: the writer names the line and the limit, exits
# 2, and aborts the pipe; the reader gets what came before, then says the
# stream is incomplete and exits 4.
line_too_long() {
	pipe=$P-long
	{ echo short; aaa 4088; echo; echo after; } > "$T/in"
	"$S" create "$pipe" -c 4K || return 1
	"$S" write "$pipe" -l < "$T/in" 2> "$T/werr" &
	wpid=$!
	"$S" read "$pipe" > "$T/out" 2> "$T/rerr"
	rst=$?
	wait $wpid
	wst=$?
	"$S" rm "$pipe"
	echo "writer ($wst): $(cat "$T/werr")"
	echo "reader ($rst): $(cat "$T/rerr")"
	[ "$wst" = 2 ] && one_error_line "$T/werr" "$pipe" &&
		grep -q "line 2 is longer than 4088 bytes" "$T/werr" &&
		[ "$rst" = 4 ] && one_error_line "$T/rerr" "$pipe" &&
		grep -q "stream incomplete" "$T/rerr" &&
		[ "$(cat "$T/out")" = short ]
}
expect "a line over the limit: error naming line and limit" line_too_long

# A last line without a newline may be exactly the largest message.
largest_last_line_fits() {
	pipe=$P-lastfits
	{ echo short; aaa 4088; } > "$T/in"
	"$S" create "$pipe" -c 4K || return 1
	"$S" write "$pipe" -l < "$T/in" &
	"$S" read "$pipe" > "$T/out" &&
	wait $! &&
	"$S" rm "$pipe" &&
	same_file "$T/in" "$T/out"
}
expect "a last line of exactly the largest message, no newline" \
	largest_last_line_fits

# The same for a last line without a newline.
last_line_too_long() {
	pipe=$P-last
	aaa 4089 > "$T/in"
	"$S" create "$pipe" -c 4K || return 1
	"$S" write "$pipe" -l < "$T/in" 2> "$T/werr"
	wst=$?
	"$S" rm "$pipe"
	[ "$wst" = 2 ] && grep -q "line 1 is longer than 4088" "$T/werr"
}
expect "a last line over the limit, without newline" last_line_too_long

# A block size over the limit is refused before the writer attaches, so
# the pipe stays usable.
block_too_large() {
	pipe=$P-block
	"$S" create "$pipe" -c 4K || return 1
	echo hello | "$S" write "$pipe" -b 8K 2> "$T/werr"
	wst=$?
	cat "$T/werr"
	echo hello | "$S" write "$pipe" -b 4088 &&
	"$S" read "$pipe" > "$T/out" &&
	"$S" rm "$pipe" &&
	[ "$wst" = 1 ] && one_error_line "$T/werr" "$pipe" &&
		grep -q 4088 "$T/werr" && [ "$(cat "$T/out")" = hello ]
}
expect "a block size over the limit: usage error, pipe still usable" \
	block_too_large

finish
