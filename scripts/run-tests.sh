#!/bin/sh
# Runs the criterion suites of a build directory: unit first, then e2e; the
# e2e kind also runs the Python self-tests of the test doubles
# (tests/doubles/test_*.py, unittest; they need python3 and openssl).
# Usage: run-tests.sh BUILD_DIR [unit|e2e]
# Prints one closing line "N passed, N failed" over all suites.
set -u
b=${1:?build dir}
what=${2:-all}
passed=0 failed=0 rc=0
# What failed, repeated after the closing line so that the tail of a long
# log names it.
faillog=$(mktemp)
trap 'rm -f "$faillog"' EXIT
jobs=${KEYWARD_TEST_JOBS:-2}
# The sanitizer build: leaks of the test framework itself are not ours.
root=$(cd "$(dirname "$0")/.." && pwd)
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export LSAN_OPTIONS

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
	[ -n "$p" ] || { p=0; f=1; echo "!! $(basename "$t"): no synthesis line (exit $r)"; }
	passed=$((passed + p))
	failed=$((failed + f)) # criterion counts a crash as failing too
	if [ "$r" -ne 0 ] || [ "$f" -ne 0 ]; then
		rc=1
		{
			echo "$(basename "$t") (exit $r):"
			grep -E '^\[(----|FAIL)\]|^!!|Sanitizer|runtime error' "$out" | head -n 60
		} >>"$faillog"
	fi
	rm -f "$out"
}

# A unittest suite: counts come from its "Ran N tests" line and the closing
# "OK (skipped=S)" / "FAILED (failures=F, errors=E, ...)" line.
run_pysuite() {
	t=$1
	echo "== $(basename "$t")"
	if ! command -v python3 >/dev/null 2>&1; then
		echo "!! $(basename "$t"): python3 not found; it is needed to test the doubles (scripts/deps.sh installs it)"
		failed=$((failed + 1))
		rc=1
		return
	fi
	out=$(mktemp)
	python3 "$t" >"$out" 2>&1
	r=$?
	cat "$out"
	n=$(sed -n 's/^Ran \([0-9]*\) tests* in .*/\1/p' "$out" | tail -n 1)
	last=$(grep -E '^(OK|FAILED)( |$)' "$out" | tail -n 1)
	if [ "$r" -ne 0 ] || [ -z "$last" ]; then
		{
			echo "$(basename "$t") (exit $r):"
			grep -E '^(FAIL|ERROR): |Error|assert' "$out" | head -n 40
		} >>"$faillog"
	fi
	rm -f "$out"
	if [ -z "$n" ] || [ -z "$last" ]; then
		echo "!! $(basename "$t"): no unittest summary (exit $r)"
		failed=$((failed + 1))
		rc=1
		return
	fi
	f=$(echo "$last" | sed -n 's/.*failures=\([0-9]*\).*/\1/p')
	e=$(echo "$last" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
	s=$(echo "$last" | sed -n 's/.*skipped=\([0-9]*\).*/\1/p')
	u=$(echo "$last" | sed -n 's/.*unexpected successes=\([0-9]*\).*/\1/p')
	f=${f:-0} e=${e:-0} s=${s:-0} u=${u:-0}
	p=$((n - f - e - s - u))
	[ "$p" -ge 0 ] || p=0 # an error in setUpModule/setUpClass runs no test
	passed=$((passed + p))
	failed=$((failed + f + e + u))
	[ "$r" -eq 0 ] || rc=1
}

for kind in unit e2e; do
	[ "$what" = all ] || [ "$what" = "$kind" ] || continue
	for src in tests/$kind/test_*.c; do
		[ -e "$src" ] || continue
		run_suite "$b/tests/$(basename "$src" .c)"
	done
	[ "$kind" = e2e ] || continue
	for py in tests/doubles/test_*.py; do
		[ -e "$py" ] || continue
		run_pysuite "$py"
	done
done
if [ -s "$faillog" ]; then
	echo
	echo "failures:"
	sed 's/^/  /' "$faillog"
fi
echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
