#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Instructions per message: shmpipe against the reference ring, counted by
# valgrind's callgrind, which unlike a clock does not care how busy the
# machine is.  Both sides of a pinned throughput run are counted; the
# figure is a send's or a receive's instructions, all callees included.
#
#   bench/callgrind.sh build/shmpipe-bench [SIZE]
#
# Exit status: 0, or 1 if valgrind or a count is missing.
set -eu

bench=${1:?usage: callgrind.sh SHMPIPE-BENCH [SIZE]}
size=${2:-64}
command -v valgrind >/dev/null || { echo "callgrind.sh: no valgrind" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/shmpipe-cg.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

# valgrind knows neither pidfd_open(2) nor futex_waitv(2): the benchmark
# and the library fall back to other calls, and valgrind says so at length.
if ! valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" -q \
	"$bench" --peers shmpipe,ring --workloads tput --sizes "$size" \
	--rounds 1 --ms 1000 >"$dir/out" 2>"$dir/err"; then
	cat "$dir/out" "$dir/err" >&2
	exit 1
fi

# "N (..%)  >   file:fn (Cx)": N instructions in C calls, callees included.
found=0
for f in "$dir"/cg.*; do
	callgrind_annotate --inclusive=yes --tree=calling "$f" 2>/dev/null |
		awk -v size="$size" '
		/\)  >   .*:(sp_send|sp_recv|ring_send|ring_recv) \(/ {
			ir = $1; gsub(",", "", ir)
			fn = $0; sub(/.*:/, "", fn); sub(/ .*/, "", fn)
			c = $0; sub(/.*\(/, "", c); sub(/x\).*/, "", c)
			gsub(",", "", c)
			if (c > 0)
				printf "%-10s %5d B: %7.1f instructions per call" \
				       " (%d calls)\n", fn, size, ir / c, c
		}'
	found=1
done
[ "$found" = 1 ]
