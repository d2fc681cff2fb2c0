#!/bin/sh
# Runs the criterion suites of a build directory: unit first, then e2e.
# Usage: run-tests.sh BUILD_DIR [unit|e2e]
# Prints one closing line "N passed, N failed" over all suites.
set -u
b=${1:?build dir}
what=${2:-all}
passed=0 failed=0 rc=0
jobs=${KEYWARD_TEST_JOBS:-2}

run_suite() {
	t=$1
	out=$(mktemp)
	echo "== $(basename "$t")"
	"$t" -j"$jobs" --short-filename >"$out" 2>&1
	r=$?
	cat "$out"
	line=$(grep 'Synthesis:' "$out" | tail -n 1)
	p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
	c=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
	[ -n "$p" ] || { p=0; f=1; c=0; echo "!! $(basename "$t"): no synthesis line (exit $r)"; }
	passed=$((passed + p))
	failed=$((failed + f + c))
	[ "$r" -eq 0 ] || rc=1
	rm -f "$out"
}

for kind in unit e2e; do
	[ "$what" = all ] || [ "$what" = "$kind" ] || continue
	for src in tests/$kind/test_*.c; do
		[ -e "$src" ] || continue
		run_suite "$b/tests/$(basename "$src" .c)"
	done
done
echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
