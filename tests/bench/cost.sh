#!/bin/sh
# `make bench`, the cost budget: instructions executed per request in the
# worker and in the crypto process, counted by valgrind's callgrind (the
# same binary, inputs and environment give the same count, whatever else
# the machine does), so that a change of a few percent shows in one run
# where wall-clock rates move 10-20 %.
#
#   sh tests/bench/cost.sh                 (run as root, from make bench)
#
# Runs build-vg/keyward (make VG=1: the optimised build without its
# seccomp filter, chroot and Landlock, which valgrind cannot run under;
# measurement only, never installed) under callgrind with every child
# traced. For each request type the server is started twice and sent N1
# then N2 requests on one keep-alive connection (build-opt's loadgen, -c 1:
# one request per wake-up, as deterministic as a network server gets);
# each process's total at exit is read, and the cost per request is
# (total(N2) - total(N1)) / (N2 - N1): start-up, handshake and shutdown
# cancel out. Writes tests/bench/results/DAY-cost.{md,csv} and prints each
# count with its change against the newest earlier *-cost.csv.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VG_BIN=${COST_BIN:-$ROOT/build-vg/keyward}
LG=${COST_LOADGEN:-$ROOT/build-opt/bench/loadgen}
RESULTS=$ROOT/tests/bench/results
DAY=$(date +%F)
N1=${COST_N1:-200}
N2=${COST_N2:-1200}
CONTEXT='{"minio-bucket":"minio-bucket/photos/2026/11/22/img-0001.jpg"}'

W=
KW_PID=
say() { printf '%s\n' "cost: $*" >&2; }
die() { say "$*"; exit 1; }
cleanup() {
	trap - EXIT INT TERM
	stop_keyward
	[ -n "$W" ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$W"
	[ -n "$W" ] && [ "${KEEP:-0}" = 1 ] && say "kept $W"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "run as root (the server drops privileges itself)"
if ! command -v valgrind >/dev/null 2>&1; then
	say "installing valgrind"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind \
	    >/dev/null 2>&1 || die "valgrind is missing (apt-get install valgrind)"
fi
[ -x "$VG_BIN" ] || die "$VG_BIN missing: make VG=1 build-vg/keyward"
[ -x "$LG" ] || die "$LG missing: make OPT=1 bench-bins"

W=$(mktemp -d /tmp/keyward-cost.XXXXXX) || die "mktemp"
chmod 0755 "$W"
mkdir -p "$W/pki" "$W/chroot" "$W/keys"
chown keyward:keyward "$W/keys" 2>/dev/null || die "user keyward is missing (scripts/ensure-user.sh)"
chmod 0700 "$W/keys"
. "$ROOT/tests/bench/lib.sh"
bench_pki "$W/pki" >"$W/pki.log" 2>&1 || die "PKI: $(tail -3 "$W/pki.log")"
PORT=$((20000 + ($$ * 7 + 5) % 20000))
while ss -ltnH "sport = :$PORT" 2>/dev/null | grep -q .; do PORT=$((PORT + 1)); done
bench_config "$W/keyward.yml" "$W" "$PORT" off off cost-key "  fs:
    path: $W/keys"
URL=https://127.0.0.1:$PORT/v1/key/generate/cost-key
CERT="--cert $W/pki/client.crt --key $W/pki/client.key"

start_keyward() {
	rm -rf "$W/cg"
	mkdir "$W/cg" && chmod 1777 "$W/cg"
	: >"$W/server.log"
	valgrind --tool=callgrind --trace-children=yes \
	    --callgrind-out-file="$W/cg/out.%p" --log-file="$W/cg/vg.%p" \
	    "$VG_BIN" server --config "$W/keyward.yml" \
	    >/dev/null 2>>"$W/server.log" &
	KW_PID=$!
	i=0
	until grep -q "serving on" "$W/server.log"; do
		i=$((i + 1))
		if [ $i -gt 1800 ] || ! kill -0 "$KW_PID" 2>/dev/null; then
			tail -20 "$W/server.log" >&2
			die "keyward (under callgrind) did not start"
		fi
		sleep 0.1
	done
}
stop_keyward() {
	[ -n "$KW_PID" ] || return 0
	kill -TERM "$KW_PID" 2>/dev/null
	i=0
	while kill -0 "$KW_PID" 2>/dev/null && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$KW_PID" 2>/dev/null && say "keyward did not stop; killing it"
	kill -KILL "$KW_PID" 2>/dev/null
	wait "$KW_PID" 2>/dev/null
	KW_PID=
}
# role -> the instructions (Ir) its processes executed, from their files.
total() {
	for f in "$W"/cg/out.*; do
		c=$(sed -n 's/^cmd: //p' "$f" | head -1)
		case "$1:$c" in
		worker:*" worker "*|crypto:*" crypto") ;;
		*) continue ;;
		esac
		sed -n 's/^summary: *//p;s/^totals: *//p' "$f" | head -1
	done | awk '{ s += $1 } END { printf "%d", s }'
}
# TYPE N -> "worker crypto" instructions of one whole server run.
run() {
	start_keyward
	case $1 in
	generate) set -- -n "$2" ;;
	decrypt) set -- -n "$2" --decrypt-from-generate ;;
	esac
	"$LG" -q --url "$URL" $CERT --context "$CONTEXT" -c 1 "$@" \
	    >"$W/lg.out" 2>&1 || die "loadgen: $(tail -2 "$W/lg.out")"
	grep -q "http_errors=0 transport_errors=0" "$W/lg.out" ||
	    die "loadgen saw errors: $(tail -1 "$W/lg.out")"
	stop_keyward
	echo "$(total worker) $(total crypto)"
}

PREV=$(ls "$RESULTS"/*-cost.csv 2>/dev/null | grep -v "/$DAY-cost.csv$" |
    sort | tail -1)
[ -z "$PREV" ] && PREV=$(ls "$RESULTS/$DAY-cost.csv" 2>/dev/null)
[ -n "$PREV" ] && cp "$PREV" "$W/prev.csv"
CSV="type,process,instructions_per_request,n1,n2"
MD=
for t in generate decrypt; do
	say "$t: $N1 then $N2 requests under callgrind"
	a=$(run $t "$N1") && b=$(run $t "$N2") || exit 1
	case "$a $b" in
	*[!0-9\ ]* | "0 "* | *" 0 "* | *" 0") die "$t: no counts ($a; $b)" ;;
	esac
	for p in worker crypto; do
		case $p in worker) i=1 ;; crypto) i=2 ;; esac
		x=$(echo "$a" | cut -d' ' -f$i)
		y=$(echo "$b" | cut -d' ' -f$i)
		per=$(awk -v x="$x" -v y="$y" -v n1="$N1" -v n2="$N2" \
		    'BEGIN { printf "%d", (y - x) / (n2 - n1) }')
		old=
		[ -f "$W/prev.csv" ] && old=$(awk -F, -v t="$t" -v p="$p" \
		    '$1 == t && $2 == p { print $3 }' "$W/prev.csv")
		chg=$(awk -v a="$per" -v o="$old" 'BEGIN { if (o == "" || o == 0)
		    print "-"; else printf "%+.1f %%", (a - o) * 100 / o }')
		CSV="$CSV
$t,$p,$per,$N1,$N2"
		MD="$MD| $t | $p | $per | ${old:--} | $chg |
"
		say "$t $p: $per instructions per request (previous ${old:--}, $chg)"
	done
done
mkdir -p "$RESULTS"
printf '%s\n' "$CSV" >"$RESULTS/$DAY-cost.csv"
{
	echo "# keyward cost budget, $DAY"
	echo
	echo "Instructions per request (callgrind, build-vg: the optimised build"
	echo "without its sandbox), one keep-alive connection, ($N2 - $N1) requests"
	echo "between two whole server runs; keyward $(git -C "$ROOT" describe --always --dirty 2>/dev/null)."
	echo "Previous: $(if [ -n "$PREV" ]; then echo "${PREV##*/}"; else echo none; fi)."
	echo
	echo "| request | process | instructions | previous | change |"
	echo "|---|---|---|---|---|"
	printf '%s' "$MD"
} >"$RESULTS/$DAY-cost.md"
cat "$RESULTS/$DAY-cost.md"
