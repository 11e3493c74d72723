#!/bin/sh
# Run every test of the shmpipe command: sh tests/cli/run.sh build/shmpipe
# Each script runs under its own timeout, so that a hang fails instead of
# stalling the build.
dir=$(dirname "$0")
failed=0
for t in "$dir"/test_*.sh; do
	echo "== $t"
	timeout -k 5 "${CLI_TEST_TIMEOUT:-180}" sh "$t" "$1" ||
		failed=$((failed + 1))
done
if [ "$failed" != 0 ]; then
	echo "tests/cli: $failed scripts failed"
	exit 1
fi
echo "tests/cli: all scripts passed"
