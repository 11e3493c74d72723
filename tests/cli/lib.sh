# Helpers for the shmpipe command's tests, sourced by every test_*.sh.
#
# A test script gets the path of the shmpipe binary as its argument.  Its
# pipes are named cli-PID-..., so that two runs never meet, and whatever
# it leaves (pipes, processes, files) is removed when it exits, whether it
# passes, fails or is killed by the timeout.

set -u
S=${1:?usage: sh test_NAME.sh PATH-TO-shmpipe}
case $S in
/*) ;;
*) S=$PWD/$S ;;
esac
P=cli-$$			# prefix of this script's pipe names
T=$(mktemp -d)			# scratch files
BG=""				# background pids to kill at exit
CASES=0
FAILED=0

# Kill a process and everything it started, by pid: a case's background
# job is often a subshell running a pipeline.
kill_tree() {
	for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		kill_tree "$child"
	done
	kill -9 "$1" 2>/dev/null
}

stop_background() {
	for pid in $BG; do
		kill_tree "$pid"
	done
	[ -z "$BG" ] || wait
	BG=""
}

cleanup() {
	stop_background
	for f in /dev/shm/shmpipe."$P"-*; do
		[ -e "$f" ] && rm -f "$f"
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 124' INT TERM

pass() {
	CASES=$((CASES + 1))
	echo "ok   $*"
}

fail() {
	CASES=$((CASES + 1))
	FAILED=$((FAILED + 1))
	echo "FAIL $*"
}

# expect DESCRIPTION COMMAND...: a case passes when the command succeeds.
# Whatever the case left running in $BG is stopped after it, so that a
# failed case does not hold up the next one.
expect() {
	desc=$1
	shift
	rm -f "$T"/out "$T"/*err "$T"/*st "$T"/*end "$T"/fifo
	if "$@"; then
		pass "$desc"
	else
		fail "$desc"
	fi
	stop_background
}

now_ns() {
	date +%s%N
}

ms_between() {
	echo $((($2 - $1) / 1000000))
}

# within SECONDS COMMAND...: retry the command every 10 ms until it
# succeeds; fail after SECONDS.
within() {
	limit=$(($1 * 100))
	shift
	n=0
	until "$@"; do
		n=$((n + 1))
		[ "$n" -lt "$limit" ] || return 1
		sleep 0.01
	done
}

# Does the pipe have this many live readers (ls's 7th column)?
has_readers() {
	[ "$("$S" ls | awk -v p="$1" '$1 == p { print $7 }')" = "$2" ]
}

nonempty() {
	[ -s "$1" ]
}

same_file() {
	[ "$(sha256sum < "$1")" = "$(sha256sum < "$2")" ]
}

# Is the file exactly one line that starts "shmpipe: NAME: "?
one_error_line() {
	[ "$(wc -l < "$1")" = 1 ] || return 1
	case $(cat "$1") in
	"shmpipe: $2: "*) return 0 ;;
	esac
	return 1
}

is_gone() {
	[ ! -e "/dev/shm/shmpipe.$1" ]
}

# Call last: the summary line, and the script's exit status.
finish() {
	for f in /dev/shm/shmpipe."$P"-*; do
		[ -e "$f" ] && fail "left behind: $f"
	done
	echo "$(basename "$0"): $CASES cases, $FAILED failed"
	[ "$FAILED" = 0 ]
}
