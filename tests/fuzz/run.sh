#!/bin/sh
# Build and run every libFuzzer harness tests/fuzz/fuzz_*.c for SECONDS each.
# Usage, from the repository root: sh tests/fuzz/run.sh SECONDS
#
# Harness fuzz_NAME.c is built into build-fuzz/fuzz_NAME (clang-14 with
# libFuzzer, ASan and UBSan) and seeded from tests/fuzz/corpus/NAME/. The
# seeds are copied to build-fuzz/corpus/NAME/ first, so the entries libFuzzer
# adds never touch the tree. Crash, leak and timeout inputs land in
# build-fuzz/artifacts/. One summary line per harness; the exit status is
# non-zero if any harness failed to build or found a problem. FUZZ_ONLY
# (names without fuzz_, blank-separated) runs those harnesses alone.
set -u

usage() {
	echo "usage: sh tests/fuzz/run.sh SECONDS" >&2
	exit 2
}

[ $# -eq 1 ] || usage
secs=$1
case $secs in
'' | *[!0-9]*) usage ;;
esac
[ "$secs" -gt 0 ] || usage

if [ ! -d tests/fuzz ] || [ ! -d common ]; then
	echo "fuzz: run from the repository root" >&2
	exit 2
fi
if ! command -v clang-14 >/dev/null 2>&1; then
	echo "fuzz: clang-14 is missing (apt-get install clang-14" \
	    "libclang-rt-14-dev)" >&2
	exit 1
fi

pkgs="openssl yaml-0.1 jansson libseccomp libcurl libcap"
# shellcheck disable=SC2086
if ! pc=$(pkg-config --cflags --libs $pkgs); then
	echo "fuzz: pkg-config cannot find: $pkgs (make deps)" >&2
	exit 1
fi

# The PKCS#11 header of the seal (keystore-agent/seal_p11.h), as the
# GNUmakefile's P11_CF: the module itself is loaded at run time.
if ! p11=$(pkg-config --cflags p11-kit-1); then
	echo "fuzz: pkg-config cannot find p11-kit-1 (make deps)" >&2
	exit 1
fi

# The same build identity the GNUmakefile gives every object.
version=$(git describe --always --dirty 2>/dev/null || echo unknown)
commit=$(git rev-parse HEAD 2>/dev/null || echo '<unknown>')

out=build-fuzz
mkdir -p "$out/artifacts" "$out/corpus" "$out/logs" || exit 1
summary=$out/logs/summary.$$
: >"$summary"
status=0
found=0

for src in tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	found=$((found + 1))
	name=$(basename "$src" .c)
	short=${name#fuzz_}
	# FUZZ_ONLY="azure entrust": those harnesses alone.
	case " ${FUZZ_ONLY:-$short} " in *" $short "*) ;; *) continue ;; esac
	bin=$out/$name
	blog=$out/logs/$name.build.log
	flog=$out/logs/$name.log

	echo "== $name: build"
	# The library: common/ and keystore-agent/ (the keystore: section of
	# the configuration is parsed by the registered stores), less the
	# files the harness #includes itself.
	own=$(sed -n 's/^#include "\(keystore-agent\/[a-z_]*\.c\)"$/\1/p' "$src")
	lib=
	for f in common/*.c keystore-agent/*.c; do
		case " $(echo $own) " in *" $f "*) ;; *) lib="$lib $f" ;; esac
	done
	# shellcheck disable=SC2086
	if ! clang-14 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -D_GNU_SOURCE -I. \
	    -DKEYWARD_VERSION="\"$version\"" -DKEYWARD_COMMIT="\"$commit\"" \
	    "$src" $lib $pc $p11 -o "$bin" >"$blog" 2>&1; then
		cat "$blog"
		echo "$name: BUILD FAILED (log: $blog)" >>"$summary"
		status=1
		continue
	fi

	corpus=$out/corpus/$short
	rm -rf "$corpus"
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$short" ]; then
		cp -R "tests/fuzz/corpus/$short/." "$corpus/"
	else
		echo "== $name: no seed corpus in tests/fuzz/corpus/$short/"
	fi
	nseeds=$(find "$corpus" -type f | wc -l)

	echo "== $name: fuzzing for ${secs}s from $nseeds seed(s)"
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" \
	    "$corpus" >"$flog" 2>&1
	rc=$?

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$flog" |
	    tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$flog" |
	    tail -n 1)
	ncorp=$(find "$corpus" -type f | wc -l)
	stats="${execs:-?} execs, ${rate:-?} exec/s, corpus $nseeds -> $ncorp"
	if [ "$rc" -eq 0 ] && ! grep -q '^==[0-9]*==ERROR' "$flog"; then
		echo "$name: ok, $stats" >>"$summary"
		continue
	fi
	status=1
	# Show the report: the sanitizer's or libFuzzer's own deadly-signal,
	# leak, timeout or OOM message with its stack.
	if grep -q -E '==[0-9]+==ERROR|ERROR: libFuzzer|deadly signal' \
	    "$flog"; then
		awk '/==[0-9]+==ERROR|ERROR: libFuzzer|deadly signal/ { p = 1 }
		    p' "$flog" | head -n 80
	else
		tail -n 30 "$flog"
	fi
	art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$flog" |
	    tr '\n' ' ')
	# The first line of the report and the first frame of ours, so that
	# the summary alone (the end of a long CI log) says what was found.
	what=$(grep -m 1 -E 'runtime error:|==[0-9]+==ERROR|ERROR: libFuzzer' \
	    "$flog" | cut -c 1-200)
	where=$(grep -m 1 -E '^ +#[0-9]+ .* in [a-z_0-9]+ .*/(common|keystore-agent|privsep|worker|crypto|cli)/' \
	    "$flog" | sed 's/^ *//' | cut -c 1-200)
	echo "$name: FAILED (exit $rc), $stats; input: ${art:-none written};" \
	    "log: $flog" >>"$summary"
	echo "    report: ${what:-none}" >>"$summary"
	[ -n "$where" ] && echo "    at: $where" >>"$summary"
	# The input itself, base64, so it can be replayed from the log alone.
	for a in $art; do
		[ -f "$a" ] && [ "$(wc -c <"$a")" -le 4096 ] || continue
		echo "    input (base64): $(base64 -w 0 "$a")" >>"$summary"
	done
done

if [ "$found" -eq 0 ]; then
	echo "fuzz: no tests/fuzz/fuzz_*.c harness" >&2
	rm -f "$summary"
	exit 1
fi
echo
echo "fuzz summary (${secs}s per harness):"
cat "$summary"
rm -f "$summary"
exit "$status"
