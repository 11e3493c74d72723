#!/bin/sh
# Mistakes: a wrong command line exits 1, a failure exits 2, and either
# says so in one line, "shmpipe: NAME: reason" when there is a name.
. "$(dirname "$0")/lib.sh"

# status WANT COMMAND...: the command exits WANT and writes one line on
# stderr (kept in $T/err); its stdout goes to $T/out.
status() {
	want=$1
	shift
	"$@" > "$T/out" 2> "$T/err"
	got=$?
	[ "$got" = "$want" ] && [ "$(wc -l < "$T/err")" = 1 ] && return 0
	echo "  exit $got, wanted $want; stderr: $(cat "$T/err")"
	return 1
}

# error WANT NAME COMMAND...: as status, and the line names the pipe.
error() {
	want=$1 name=$2
	shift 2
	status "$want" "$@" < /dev/null && one_error_line "$T/err" "$name"
}

# says WANT NAME TEXT COMMAND...: as error, and the line holds TEXT.
says() {
	want=$1 name=$2 text=$3
	shift 3
	error "$want" "$name" "$@" && grep -q "$text" "$T/err"
}

help_exits_0() {
	"$S" -h > "$T/out" && grep -q "^usage: shmpipe create" "$T/out" &&
		"$S" write -h > "$T/out" && grep -q "shmpipe read" "$T/out"
}
expect "-h prints the usage, exit 0" help_exits_0
expect "--version" sh -c '"$1" --version | grep -q "^shmpipe [0-9]"' - "$S"
expect "no command: exit 1" status 1 "$S"
expect "unknown command: exit 1" status 1 "$S" frobnicate x
expect "unknown option: exit 1" status 1 "$S" read x -q
expect "option without its value: exit 1" status 1 "$S" create x -c
expect "missing NAME: exit 1" status 1 "$S" read
expect "two NAMEs: exit 1" status 1 "$S" rm a b
expect "-l with -b: exit 1" status 1 "$S" write x -l -b 4K

long=$(head -c 201 /dev/zero | tr '\0' n)
for bad in "" "a/b" "with space" "star*" "$long"; do
	expect "bad name '$(echo "$bad" | cut -c1-20)': exit 1, named" \
		error 1 "$bad" "$S" create "$bad"
done
expect "a 200-character name is fine" sh -c \
	'"$1" create "$2" && "$1" rm "$2"' - "$S" \
	"$P-$(head -c $((200 - ${#P} - 1)) /dev/zero | tr '\0' n)"

for cmd in read write rm; do
	expect "$cmd a missing pipe: exit 2, no such pipe" \
		says 2 "$P-missing" "no such pipe" "$S" "$cmd" "$P-missing"
done

"$S" create "$P-x"
expect "create an existing pipe: exit 2" \
	says 2 "$P-x" "exists already" "$S" create "$P-x"
"$S" rm "$P-x"

for cap in 1 4095 2G abc -5 10X 1.5M ""; do
	expect "bad capacity '$cap': exit 1" status 1 "$S" create "$P-c" -c "$cap"
done
expect "  ... no pipe was made" is_gone "$P-c"
for mode in 999 0 rw 1000 ""; do
	expect "bad mode '$mode': exit 1" status 1 "$S" create "$P-m" -m "$mode"
done
expect "  ... no pipe was made" is_gone "$P-m"

sizes_and_modes() {
	"$S" create "$P-sm" -c 64KiB -m 640 &&
	[ "$(stat -c %a "/dev/shm/shmpipe.$P-sm")" = 640 ] &&
	"$S" ls | awk -v p="$P-sm" '$1 == p { print $3 }' | grep -qx 64.0K &&
	"$S" rm "$P-sm" &&
	"$S" create "$P-sm" -c 5000 &&	# rounded up to 8K
	"$S" ls | awk -v p="$P-sm" '$1 == p { print $3 }' | grep -qx 8.0K &&
	"$S" rm "$P-sm"
}
expect "create -c 64KiB -m 640; -c 5000 rounds up to 8K" sizes_and_modes

# A file under the pipes' prefix that is not a pipe is refused, not used.
printf 'not a pipe\n' > "/dev/shm/shmpipe.$P-junk"
expect "read a file that is not a pipe: exit 2" \
	says 2 "$P-junk" "not a shmpipe pipe" "$S" read "$P-junk"
expect "write to a file that is not a pipe: exit 2" \
	says 2 "$P-junk" "not a shmpipe pipe" "$S" write "$P-junk"
rm -f "/dev/shm/shmpipe.$P-junk"

finish
