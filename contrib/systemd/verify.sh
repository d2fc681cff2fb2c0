#!/bin/sh
# Checks the systemd units in contrib/systemd (run by `make systemd-check`,
# part of `make check`). Needs no running systemd:
#  1. `systemd-analyze verify` on each unit, with @BINDIR@/keyward replaced
#     by an executable that exists (./build/keyward if built, else
#     /bin/true; KEYWARD_BIN overrides). It fails on a non-zero status OR on
#     any output at all, because unknown keys and bad values only warn.
#  2. prints the `systemd-analyze security --offline=yes` overall exposure of
#     each unit as "<unit>: exposure <score> <level>" and fails a unit whose
#     score is above its ceiling: 2.0 (the project's goal), unless the
#     ceiling list below names a higher, explained one.
# Exit status: 0 if every unit verifies cleanly within its ceiling, 1
# otherwise.
set -u

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd-check: systemd-analyze not found; install package" \
	    "'systemd' (make deps / scripts/deps.sh does)" >&2
	exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

bin=${KEYWARD_BIN:-}
if [ -z "$bin" ]; then
	if [ -x "$root/build/keyward" ] && [ -f "$root/build/keyward" ]; then
		bin=$root/build/keyward
	else
		bin=/bin/true
	fi
fi
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
	echo "systemd-check: $bin is not an executable file" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyward-systemd.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# All units go into one directory: verify adds the directory of each unit
# file to the unit search path, so Conflicts= between them resolves.
units=""
for u in "$here"/*.service; do
	[ -f "$u" ] || continue
	name=$(basename "$u")
	sed -e "s,@BINDIR@/keyward,$bin,g" -e "s,@BINDIR@,$(dirname "$bin"),g" \
	    "$u" >"$tmp/$name"
	units="$units $name"
done
if [ -z "$units" ]; then
	echo "systemd-check: no units in $here" >&2
	exit 1
fi

# The highest exposure each unit may score: 2.0, the project's goal. A
# unit that needs more must say why here, in its own case.
max_default=2.0
ceiling() {
	case $1 in
	*) echo "$max_default" ;;
	esac
}

fail=0
for name in $units; do
	left=$(grep -n '@[A-Z_][A-Z_]*@' "$tmp/$name")
	if [ -n "$left" ]; then
		echo "systemd-check: $name: unsubstituted placeholder:" >&2
		echo "$left" >&2
		fail=1
	fi
	out=$(cd "$tmp" && SYSTEMD_COLORS=0 SYSTEMD_PAGER= \
	    systemd-analyze verify "$tmp/$name" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
		echo "systemd-check: FAIL $name (systemd-analyze verify rc=$rc):" >&2
		[ -n "$out" ] && printf '%s\n' "$out" >&2
		fail=1
	else
		echo "systemd-check: ok $name (ExecStart=$bin)"
	fi
done

for name in $units; do
	out=$(cd "$tmp" && SYSTEMD_COLORS=0 SYSTEMD_PAGER= \
	    systemd-analyze security --offline=yes --no-pager "$tmp/$name" 2>&1)
	rc=$?
	line=$(printf '%s\n' "$out" |
	    sed -n 's/.*Overall exposure level for [^:]*: *//p' | head -n 1)
	if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
		echo "systemd-check: FAIL $name (systemd-analyze security rc=$rc):" >&2
		printf '%s\n' "$out" | tail -n 5 >&2
		fail=1
		continue
	fi
	# "2.5 OK <emoji>" -> "2.5 OK"
	set -- $line
	max=$(ceiling "$name")
	if awk -v s="$1" -v m="$max" 'BEGIN { exit !(s + 0 > m + 0) }'; then
		echo "systemd-check: FAIL $name: exposure $1 is above $max" >&2
		fail=1
	else
		echo "$name: exposure $1 ${2:-} (at most $max)"
	fi
done

exit "$fail"
