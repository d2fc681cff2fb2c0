#!/bin/sh
# `make install` into a scratch DESTDIR: the binary, the man page and the
# units land where they should, and keyward(1) documents every command
# that `keyward --help` lists. Usage: install-check.sh BUILD_DIR
set -eu
b=${1:?build dir}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
make --no-print-directory -s install DESTDIR="$d" PREFIX=/usr >/dev/null
fail=0
for f in usr/bin/keyward usr/share/man/man1/keyward.1 \
    usr/lib/systemd/system/keyward.service; do
	[ -f "$d/$f" ] || { echo "install-check: $f was not installed"; fail=1; }
done
man=$d/usr/share/man/man1/keyward.1
cmds=$("$b/keyward" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')
[ -n "$cmds" ] || { echo "install-check: no commands in keyward --help"; fail=1; }
for c in $cmds; do
	grep -q "^\.Cm $c\( \|\$\)" "$man" ||
	    { echo "install-check: keyward(1) does not document '$c'"; fail=1; }
done
[ "$fail" -eq 0 ] && echo "install-check: ok ($(echo $cmds | wc -w) commands in keyward(1))"
exit "$fail"
