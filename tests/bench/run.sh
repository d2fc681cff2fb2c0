#!/bin/sh
# `make bench`: keyward against nginx's static answer, side by side, on one
# run of this machine (test-components.md 6.4/6.5, setup B).
#
#   sh tests/bench/run.sh [BUILD_DIR]      (default build-opt; run as root)
#
# Both servers are pinned to CPU0 (keyward's children inherit the mask),
# the load generators to CPU1. BENCH_SECONDS (default 10) sets the length
# of each measured run; every loadgen run has one extra second of warm-up.
# Writes tests/bench/results/YYYY-MM-DD.{md,csv} and prints the table.
# Every server this script starts is stopped on exit, also on failure or
# Ctrl-C, and its scratch directory is removed (KEEP=1 keeps it).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build-opt}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}	# interleaved keep-alive rounds per server
CONNS=64		# keep-alive connections
NEWCONNS=16		# concurrent connections in the handshake runs
IDLE=10000		# idle keep-alive connections held open
NKEYS=100000		# keys in the filesystem store
VKEYS=${BENCH_VAULT_KEYS:-10000}	# keys in the Vault double (8.)
SKEYS=${BENCH_SEAL_KEYS:-10000}	# keys for the seal section (10.)
VTOKEN=bench-root-token-not-secret	# the double's root token
CONTEXT='{"minio-bucket":"minio-bucket/photos/2026/11/22/img-0001.jpg"}'
LG=$B/bench/loadgen
KW_BIN=$B/keyward
RESULTS=$ROOT/tests/bench/results
DAY=$(date +%F)

W=
KW_PID=
VAULT_PID=
NG_RUNNING=
IDLE_PID=

say() { printf '%s\n' "bench: $*" >&2; }
die() { say "$*"; exit 1; }

cleanup() {
	trap - EXIT INT TERM
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	stop_keyward
	stop_vault
	if [ -n "$NG_RUNNING" ]; then
		m=$(cat "$W/nginx/nginx.pid" 2>/dev/null)
		nginx -c "$W/nginx/nginx.conf" -s stop 2>/dev/null
		i=0
		while [ -n "$m" ] && kill -0 "$m" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ -n "$m" ] && kill -KILL "$m" 2>/dev/null
		NG_RUNNING=
	fi
	if [ -n "$W" ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$W"
	elif [ -n "$W" ]; then
		say "kept $W"
	fi
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "run as root (the server drops privileges itself)"
for f in "$LG" "$B/bench/ipc_rtt" "$B/bench/mkkeys" "$KW_BIN"; do
	[ -x "$f" ] || die "$f missing: make OPT=1 bench-bins"
done

# --- packages, limits, scratch directory ------------------------------------
need() {	# command package
	command -v "$1" >/dev/null 2>&1 && return 0
	say "installing $2"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
	    { apt-get update -q >/dev/null &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" \
	    >/dev/null; } || die "cannot install $2"
}
need nginx nginx
need ab apache2-utils
need curl curl
need taskset util-linux

HARD=$(ulimit -Hn)
if [ "$HARD" = unlimited ] || [ "$HARD" -gt 65536 ]; then HARD=65536; fi
ulimit -n "$HARD" 2>/dev/null || say "cannot raise the open-file limit"
NOFILE=$(ulimit -n)

W=$(mktemp -d /tmp/keyward-bench.XXXXXX) || die "mktemp"
chmod 0755 "$W"
mkdir -p "$W/pki" "$W/chroot" "$W/nginx/logs" "$W/nginx/tmp" "$W/keys"
chown keyward:keyward "$W/keys" 2>/dev/null || chown 999 "$W/keys"
chmod 0700 "$W/keys"

free_port() {	# a port nobody listens on, from a pid-based start
	p=$((20000 + ($$ * 7 + $1) % 20000))
	while ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; do
		p=$((p + 1))
	done
	echo "$p"
}
KW_PORT=$(free_port 0)
NG_PORT=$(free_port 1)
[ "$NG_PORT" = "$KW_PORT" ] && NG_PORT=$((KW_PORT + 1))
NGR_PORT=$(free_port 3)		# nginx with session tickets (2c)
while [ "$NGR_PORT" = "$KW_PORT" ] || [ "$NGR_PORT" = "$NG_PORT" ]; do
	NGR_PORT=$((NGR_PORT + 1))
done

# --- PKI (ECDSA P-256, test-components.md 1) --------------------------------
. "$ROOT/tests/bench/lib.sh"
bench_pki "$W/pki" >"$W/pki.log" 2>&1 || die "PKI: $(tail -3 "$W/pki.log")"
ID=$(bench_identity "$W/pki/client.crt")
CERT="--cert $W/pki/client.crt --key $W/pki/client.key"

# --- servers -------------------------------------------------------------------
# The key store: the filesystem store, or the Vault section below (8).
KS_YAML=
# Section 11 replaces the server section's "workers: 1" line with
# KW_SERVER_YAML's lines and runs keyward unpinned (KW_PIN empty).
KW_SERVER_YAML=
KW_PIN="taskset -c 0"
write_config() {	# audit: on|off
	bench_config "$W/keyward.yml" "$W" "$KW_PORT" "$1" on bench-key \
	    "${KS_YAML:-"  fs:
    path: $W/keys"}"
	[ -n "$KW_SERVER_YAML" ] || return 0
	awk -v s="$KW_SERVER_YAML" '$0 == "  workers: 1" { print s; n++; next }
	    { print } END { exit n != 1 }' "$W/keyward.yml" >"$W/keyward.yml.1" &&
	    mv "$W/keyward.yml.1" "$W/keyward.yml" ||
	    die "no \"workers: 1\" line in the bench configuration"
}

start_keyward() {	# audit: on|off; audit lines (stdout) go to a file
	write_config "$1"
	touch "$W/server.log"
	n0=$(grep -c "serving on" "$W/server.log")
	$KW_PIN "$KW_BIN" server --config "$W/keyward.yml" \
	    >"$W/audit.log" 2>>"$W/server.log" &
	KW_PID=$!
	i=0
	while [ "$(grep -c "serving on" "$W/server.log")" -le "$n0" ]; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$KW_PID" 2>/dev/null; then
			cat "$W/server.log" >&2
			die "keyward did not start"
		fi
		sleep 0.1
	done
}

stop_keyward() {
	[ -n "$KW_PID" ] || return 0
	kids=$(ps --ppid "$KW_PID" -o pid= 2>/dev/null)
	kill -TERM "$KW_PID" 2>/dev/null
	i=0
	while kill -0 "$KW_PID" 2>/dev/null && [ $i -lt 70 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	# Only what this script started: the parent and its children.
	for p in $kids $KW_PID; do kill -KILL "$p" 2>/dev/null; done
	wait "$KW_PID" 2>/dev/null
	KW_PID=
}

start_vault() {	# extra double flags...
	rm -f "$W/vault.port" "$W/vault.cport"
	taskset -c 1 python3 "$ROOT/tests/doubles/vault_double.py" \
	    --addr 127.0.0.1:0 --cert "$W/pki/server.crt" \
	    --key "$W/pki/server.key" --state "$W/vault.json" \
	    --port-file "$W/vault.port" --control-port-file "$W/vault.cport" \
	    --log "$W/vault.log" --approle bench-role:bench-secret \
	    --root-token "$VTOKEN" --no-fsync "$@" >"$W/vault.out" 2>&1 &
	VAULT_PID=$!
	i=0
	while [ ! -s "$W/vault.cport" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$VAULT_PID" 2>/dev/null; then
			cat "$W/vault.out" >&2
			die "the Vault double did not start"
		fi
		sleep 0.1
	done
	VAULT_PORT=$(cat "$W/vault.port")
}
vault_pids() { echo "$VAULT_PID"; }
stop_vault() {
	[ -n "$VAULT_PID" ] || return 0
	kill -TERM "$VAULT_PID" 2>/dev/null
	wait "$VAULT_PID" 2>/dev/null
	VAULT_PID=
}
kw_child() {	# role -> pid
	ps --ppid "$KW_PID" -o pid=,args= | awk -v r="$1" '$3 == r { print $1; exit }'
}
# The parent, its children and theirs (the agent's seal helper).
kw_pids() {
	k=$(ps --ppid "$KW_PID" -o pid= | tr '\n' ' ')
	echo "$KW_PID $k $(for c in $k; do ps --ppid "$c" -o pid=; done | tr '\n' ' ')"
}
ng_pids() {
	m=$(cat "$W/nginx/nginx.pid")
	echo "$m $(ps --ppid "$m" -o pid= | tr '\n' ' ')"
}

cpu_ticks() {	# pid -> utime + stime in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
status_kb() {	# field pids... -> sum in kB
	f=$1
	shift
	for p in "$@"; do grep "^$f:" "/proc/$p/status" 2>/dev/null; done |
	    awk '{ s += $2 } END { print s + 0 }'
}
pss_kb() {
	for p in "$@"; do grep '^Pss:' "/proc/$p/smaps_rollup" 2>/dev/null; done |
	    awk '{ s += $2 } END { print s + 0 }'
}
HZ=$(getconf CLK_TCK)

start_nginx() {
	sed -e "s,@DIR@,$W,g" -e "s,@PORT@,$NG_PORT,g" \
	    -e "s,@RPORT@,$NGR_PORT,g" -e "s,@NOFILE@,$NOFILE,g" \
	    "$ROOT/tests/bench/nginx.conf.in" >"$W/nginx/nginx.conf"
	taskset -c 0 nginx -c "$W/nginx/nginx.conf" 2>"$W/nginx/start.log" ||
	    die "nginx: $(cat "$W/nginx/start.log")"
	NG_RUNNING=1
	i=0
	until [ -s "$W/nginx/nginx.pid" ] && ss -ltnH "sport = :$NG_PORT" |
	    grep -q .; do
		i=$((i + 1))
		[ $i -gt 50 ] && die "nginx did not start"
		sleep 0.1
	done
}

# --- measuring -------------------------------------------------------------------
KW_URL=https://127.0.0.1:$KW_PORT/v1/key/generate/bench-key
NG_URL=https://127.0.0.1:$NG_PORT/v1/key/generate/bench-key
NGR_URL=https://127.0.0.1:$NGR_PORT/v1/key/generate/bench-key

# keyward's histogram of handshake signature round trips (the workers ask
# the crypto process for every signature): "le count" lines.
sign_hist() { hist keyward_tls_sign_seconds; }
hist() {	# a histogram of keyward's /v1/metrics: "le count" lines
	curl -s --max-time 5 --cacert "$W/pki/ca.crt" --cert "$W/pki/client.crt" \
	    --key "$W/pki/client.key" "https://127.0.0.1:$KW_PORT/v1/metrics" |
	    sed -n 's/^'"$1"'_bucket{le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p'
}
# sign_quantile BEFORE AFTER Q: the bucket bound (us) the Q-quantile of
# the round trips between the two snapshots falls under ("" if none).
sign_quantile() {
	awk -v q="$3" 'NR == FNR { b[$1] = $2; next }
	    { n++; le[n] = $1; d[n] = $2 - b[$1] }
	    END { t = d[n]; if (t <= 0) exit;
	    for (i = 1; i <= n; i++) if (d[i] >= q * t) {
	    if (le[i] == "+Inf") printf ">%g", le[i - 1] * 1e6;
	    else printf "%g", le[i] * 1e6;
	    exit } }' "$1" "$2"
}

# A CPU's busy ticks (everything but idle and iowait) from /proc/stat.
cpu_busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# "pid ticks" lines; then the ticks used since such a snapshot by the pids
# given now (a child restarted meanwhile counts from zero).
snap() { for p in "$@"; do echo "$p $(cpu_ticks "$p" 2>/dev/null || echo 0)"; done; }
ticks_since() {
	f=$1
	shift
	snap "$@" | awk 'NR == FNR { s[$1] = $2; next }
	    { d += $2 - ($1 in s ? s[$1] : 0) } END { print d + 0 }' "$f" -
}
# Children of keyward the parent saw die of a signal, so far.
crashes() { grep -c 'killed by signal' "$W/server.log" 2>/dev/null || true; }

# loadgen NAME ARGS...: one run on CPU1; its result line into $W/r.NAME,
# plus how busy CPU0 was and how much of that was the server under test
# (other processes on CPU0 make a run's numbers unreliable).
loadgen() {
	name=$1
	shift
	case $name in
	ng_*|*_nginx) pf=ng_pids ;;
	vd_*) pf=vault_pids ;;
	*) pf=kw_pids ;;
	esac
	snap $($pf) >"$W/snap"
	b0=$(cpu_busy 0); c0=$(cpu_busy 1); k0=$(crashes); t0=$(date +%s.%N)
	taskset -c 1 "$LG" -q "$@" >"$W/out.$name" 2>"$W/err.$name"
	b1=$(cpu_busy 0); c1=$(cpu_busy 1); k1=$(crashes); t1=$(date +%s.%N)
	sv=$(ticks_since "$W/snap" $($pf))
	grep '^result ' "$W/out.$name" >"$W/r.$name" ||
	    { say "$name: $(tail -2 "$W/err.$name")"; echo "result" >"$W/r.$name"; }
	# CPU1's share beside the load generator's own (its cpu= field,
	# measured without the warm-up, so this is approximate).
	awk -v b=$((b1 - b0)) -v s="$sv" -v t0="$t0" -v t1="$t1" \
	    -v c=$((c1 - c0)) -v lg="$(get "$name" cpu)" \
	    -v hz="$HZ" -v k=$((k1 - k0)) 'BEGIN { w = (t1 - t0) * hz;
	    if (w <= 0) w = 1;
	    printf " cpu0_busy=%.2f cpu0_server=%.2f cpu0_other=%.2f " \
	    "cpu1_busy=%.2f cpu1_other=%.2f server_crashes=%d\n", b / w,
	    s / w, (b - s) / w, c / w, c / w - lg, k }' >>"$W/r.$name"
	if [ $((k1 - k0)) -gt 0 ]; then
		say "$name: keyward lost a child: $(grep 'killed by signal' \
		    "$W/server.log" | tail -1)"
	fi
	tr -d '\n' <"$W/r.$name" >"$W/r.$name.1" && mv "$W/r.$name.1" "$W/r.$name"
	say "$name: $(cut -d' ' -f2- "$W/r.$name")"
}
get() {	# NAME FIELD
	tr ' ' '\n' <"$W/r.$1" | sed -n "s/^$2=//p" | head -1
}
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }" 2>/dev/null; }
per100k() {	# ticks requests -> CPU seconds per 100k requests
	awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { if (n > 0)
	    printf "%.3f", t / hz / n * 100000 }'
}

CSV=
MD=
row() {	# metric keyward nginx ratio target met unit
	CSV="$CSV\"$1\",\"$2\",$3,$4,\"$5\",$6,$7
"
	MD="$MD| $1 | $2 | $3 | $4 | $5 | $6 |
"
}
met() {	# awk condition -> yes/no
	if [ -z "$(echo "$1" | tr -d ' ')" ]; then echo "n/a"; return; fi
	awk "BEGIN { exit !($1) }" 2>/dev/null && echo yes || echo no
}
ratio() {	# a b -> a/b
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0)
	    print ""; else printf "%.2f", a / b }'
}
DETAILS=

mkdir -p "$RESULTS"
start_nginx
start_keyward off
say "keyward on :$KW_PORT (pid $KW_PID), nginx on :$NG_PORT, ${SECS}s per run"
CRYPTO=$(kw_child crypto)
WORKER=$(kw_child worker)

LGA="-c $CONNS -d $SECS -w 1 --context $CONTEXT"

median() {	# numbers on stdin -> their median
	tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END {
	    if (NR == 0) exit
	    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
	    print m }'
}

# BENCH_ONLY=vault runs the Vault section (9) alone, into
# results/DAY-vault.{md,csv}; BENCH_ONLY=seal the seal section (10), into
# results/DAY-seal.{md,csv}; BENCH_ONLY=handshake the new-connection
# sections (2, 2b, 2c) alone, into results/DAY-handshake.{md,csv};
# BENCH_ONLY=crypto several crypto processes (11) alone, into
# results/DAY-crypto.{md,csv}.
ONLY=${BENCH_ONLY:-all}
case $ONLY in
all) OUT=$DAY ;;
vault) OUT=$DAY-vault ;;
seal) OUT=$DAY-seal ;;
handshake) OUT=$DAY-handshake ;;
crypto) OUT=$DAY-crypto ;;
*) die "BENCH_ONLY: all, vault, seal, handshake or crypto" ;;
esac
if [ "$ONLY" = all ]; then

# 1. keep-alive generate and decrypt, c=64: ROUNDS rounds, nginx and
# keyward interleaved, the median of each (this VM's throughput drifts by
# 10-20 % between runs of a few seconds). The crypto and worker CPU is
# summed over keyward's runs (kc*/kw*: loadgen() keeps CPU1's ticks in
# c0/c1).
KGS= NGGS= KDS= NGDS=
kcg=0 kwg=0 kcd=0 n_gen=0 n_dec=0
rnd=1
while [ $rnd -le "$ROUNDS" ]; do
	loadgen ng_gen$rnd --url "$NG_URL" $CERT $LGA
	NGGS="$NGGS $(get ng_gen$rnd rps)"
	kc0=$(cpu_ticks "$CRYPTO"); kw0=$(cpu_ticks "$WORKER")
	loadgen kw_gen$rnd --url "$KW_URL" $CERT $LGA
	kcg=$((kcg + $(cpu_ticks "$CRYPTO") - kc0))
	kwg=$((kwg + $(cpu_ticks "$WORKER") - kw0))
	KGS="$KGS $(get kw_gen$rnd rps)"
	# The run includes its warm-up second: count its requests too.
	n_gen=$(calc "$n_gen + $(get kw_gen$rnd requests) * ($SECS + 1) / $SECS" 0)
	loadgen ng_dec$rnd --url "$NG_URL" $CERT $LGA --decrypt-from-generate
	NGDS="$NGDS $(get ng_dec$rnd rps)"
	kc0=$(cpu_ticks "$CRYPTO")
	loadgen kw_dec$rnd --url "$KW_URL" $CERT $LGA --decrypt-from-generate
	kcd=$((kcd + $(cpu_ticks "$CRYPTO") - kc0))
	KDS="$KDS $(get kw_dec$rnd rps)"
	n_dec=$(calc "$n_dec + $(get kw_dec$rnd requests) * ($SECS + 1) / $SECS" 0)
	rnd=$((rnd + 1))
done
KG=$(echo "$KGS" | median); NGG=$(echo "$NGGS" | median)
KD=$(echo "$KDS" | median); NGD=$(echo "$NGDS" | median)
r=$(ratio "$KG" "$NGG")
row "keep-alive generate, c=$CONNS, median of $ROUNDS (req/s)" \
    "$(calc "${KG:-0}" 0)" "$(calc "${NGG:-0}" 0)" "$r" ">= 0.9 x nginx" \
    "$(met "${r:-0} >= 0.9")" req/s
r=$(ratio "$KD" "$NGD")
row "keep-alive decrypt, c=$CONNS, median of $ROUNDS (req/s)" \
    "$(calc "${KD:-0}" 0)" "$(calc "${NGD:-0}" 0)" "$r" ">= 0.9 x nginx" \
    "$(met "${r:-0} >= 0.9")" req/s
DETAILS="$DETAILS- keep-alive rounds (req/s): generate keyward$KGS, nginx$NGGS; decrypt keyward$KDS, nginx$NGDS
"

CG=$(per100k "$kcg" "$n_gen")
CD=$(per100k "$kcd" "$n_dec")
WG=$(per100k "$kwg" "$n_gen")
DETAILS="$DETAILS- CPU ticks ($HZ/s) during keyward's keep-alive runs (warm-up included, about $n_gen generate and $n_dec decrypt requests): crypto $kcg and $kcd, worker $kwg for generate
"
row "crypto CPU s per 100k generate" "$CG" "" "" "" "" s
row "crypto CPU s per 100k decrypt" "$CD" "" "" "" "" s
row "worker CPU s per 100k generate" "$WG" "" "" "" "" s
# The crypto scaling projection: one crypto process serves every worker,
# so it saturates when the workers' cores together ask it for a full core:
# at worker CPU / crypto CPU per request busy worker cores.
FEEDS=$(awk -v w="$WG" -v c="$CG" 'BEGIN { if (c > 0) printf "%.1f", w / c }')
row "worker cores one crypto process can serve (generate)" "$FEEDS" "" "" \
    ">= 64 for one crypto process" "$(met "${FEEDS:-0} >= 64")" cores

fi	# BENCH_ONLY all
if [ "$ONLY" = all ] || [ "$ONLY" = handshake ]; then

# 2. A new connection per request: full mTLS handshake + one request. No
# server verification on the client side, like ab (halves its CPU cost).
NCA="-c $NEWCONNS -d $SECS -w 1 --new --context $CONTEXT"
KNS= NGNS=
sign_hist >"$W/sign0"
rnd=1
while [ $rnd -le "$ROUNDS" ]; do
	loadgen ng_new$rnd --url "$NG_URL" $CERT $NCA
	loadgen kw_new$rnd --url "$KW_URL" $CERT $NCA
	NGNS="$NGNS $(get ng_new$rnd rps)"
	KNS="$KNS $(get kw_new$rnd rps)"
	rnd=$((rnd + 1))
done
KN=$(echo "$KNS" | median); NGN=$(echo "$NGNS" | median)
DETAILS="$DETAILS- new-connection rounds (conn/s): keyward$KNS, nginx$NGNS
"
r=$(ratio "$KN" "$NGN")
row "new mTLS connection + generate, c=$NEWCONNS, median of $ROUNDS, TLS key in the crypto process (conn/s)" \
    "$(calc "${KN:-0}" 0)" "$(calc "${NGN:-0}" 0)" "$r" ">= 0.9 x nginx" \
    "$(met "${r:-0} >= 0.9")" conn/s

# 2b. What key isolation adds to a handshake: the round trip of its
# signature to the crypto process, as the workers measured it over the
# rounds above (their histogram; a quantile is its bucket's bound).
sign_hist >"$W/sign1"
SP50=$(sign_quantile "$W/sign0" "$W/sign1" 0.5)
SP99=$(sign_quantile "$W/sign0" "$W/sign1" 0.99)
say "handshake signature round trip: p50 <= ${SP50:-?} us, p99 <= ${SP99:-?} us"
row "handshake signature round trip to the crypto process at c=$NEWCONNS, p50 / p99 (us, bucket bound)" \
    "${SP50:-?} / ${SP99:-?}" "" "" "" "" us
# The same with one client at a time: the round trip itself, without the
# other handshakes the worker serves meanwhile on the same core.
loadgen kw_new_one --url "$KW_URL" $CERT -c 1 -d 3 -w 1 --new \
    --context $CONTEXT
sign_hist >"$W/sign2"
SQ50=$(sign_quantile "$W/sign1" "$W/sign2" 0.5)
SQ99=$(sign_quantile "$W/sign1" "$W/sign2" 0.99)
row "handshake signature round trip to the crypto process at c=1, p50 / p99 (us, bucket bound)" \
    "${SQ50:-?} / ${SQ99:-?}" "" "" "" "" us
row "new mTLS connection + generate at c=1, latency p50 / p99 (us)" \
    "$(get kw_new_one p50_us) / $(get kw_new_one p99_us)" "" "" "" "" us

# 2c. Resumption, measured where it can be (nginx with TLS 1.3 tickets,
# psk_dhe_ke) against the full handshakes above, and what handshakes cost
# keyward under MinIO-like reconnects: kms-go keeps up to 100 idle
# connections for 90 s, so at most 100 handshakes per 90 s per client.
loadgen ng_resume --url "$NGR_URL" $CERT -c $NEWCONNS -d $SECS -w 1 \
    --resume --context $CONTEXT
NGRES=$(get ng_resume rps)
say "nginx with resumption: ${NGRES:-?} conn/s, $(get ng_resume resumed) resumed"
row "nginx, new connections resumed (TLS 1.3 tickets) vs full (conn/s)" \
    "" "$(calc "${NGRES:-0}" 0)" "$(ratio "$NGRES" "$NGN")" "" "" conn/s
RECON=$(awk -v k="$KN" 'BEGIN { if (k > 0) printf "%.3f", 100 * (100 / 90) / k }')
row "keyward CPU on handshakes at MinIO-like reconnects: 100 connections re-made every 90 s (% of one core)" \
    "$RECON" "" "" "" "" "%"

fi	# BENCH_ONLY all or handshake
if [ "$ONLY" = all ]; then

# 3. Latency at half of keyward's keep-alive generate rate, open loop.
HALF=$(calc "${KG:-0} / 2" 0)
if [ "${HALF:-0}" -gt 0 ]; then
	hist keyward_crypto_seconds >"$W/crt0"
	loadgen kw_half --url "$KW_URL" $CERT $LGA --rate "$HALF"
	hist keyward_crypto_seconds >"$W/crt1"
	loadgen ng_half --url "$NG_URL" $CERT $LGA --rate "$HALF"
	# Side by side at the same schedule; keyward's p99 within 1.2 x
	# nginx's. The VM's wake-up latency bounds both: a keyward request
	# wakes two processes (worker, then crypto: the IPC round trip of 5.
	# is that second wake-up's share), nginx's one.
	for q in p50 p90 p99 p999; do
		k=$(get kw_half ${q}_us); n=$(get ng_half ${q}_us)
		r=$(ratio "$k" "$n")
		case $q in
		p99) t="<= 1.2 x nginx"; m=$(met "${r:-99} <= 1.2") ;;
		*) t=""; m="" ;;
		esac
		row "$q latency, open loop at $HALF req/s (us)" "$k" "$n" "$r" "$t" "$m" us
	done
	# keyward's own share: each request's round trip to the crypto
	# process (its work and the second process's wake-ups), as the
	# worker timed it over the same run (keyward_crypto_seconds).
	row "of which the round trip to the crypto process at $HALF req/s, p50 / p99 / p99.9 (us, bucket bound)" \
	    "$(sign_quantile "$W/crt0" "$W/crt1" 0.5) / $(sign_quantile "$W/crt0" "$W/crt1" 0.99) / $(sign_quantile "$W/crt0" "$W/crt1" 0.999)" \
	    "" "" "" "" us
	DETAILS="$DETAILS- half load: keyward $(get kw_half rps) req/s achieved of $HALF scheduled; max $(get kw_half max_us) us (nginx $(get ng_half max_us) us)
"
fi

# 4. The load generator checked against ab (apache2-utils, -k -E: keep-alive,
# client certificate) on each server: same c, same body, back to back, no
# warm-up for either.
ab_run() {	# name url [body file]
	taskset -c 1 ab -q -k -s 10 -E "$W/pki/client.pem" -c "$CONNS" \
	    -t "$SECS" -n 100000000 -p "${3:-$W/body.json}" \
	    -T application/json "$2" >"$W/ab.$1" 2>&1
	a_rps=$(awk '/^Requests per second/ { print $4 }' "$W/ab.$1")
	a_fail=$(awk '/^Failed requests/ { print $3 }' "$W/ab.$1")
	a_n2xx=$(awk '/^Non-2xx responses/ { print $3 }' "$W/ab.$1")
	a_p99=$(awk '$1 == "99%" { print $2 }' "$W/ab.$1")
	[ -n "$a_rps" ] || a_err=$(grep -v '^$' "$W/ab.$1" | tail -1)
	say "ab $1: ${a_rps:-failed} req/s, failed ${a_fail:-?}, non-2xx ${a_n2xx:-0}"
	eval "AB_$1=\${a_rps:-}"
	lb=
	[ -f "$W/r.val_$1" ] && lb="; loadgen just before: $(get "val_$1" rps) req/s, p99 $(get "val_$1" p99_us) us"
	DETAILS="$DETAILS- ab -k -E -c $CONNS on $1: ${a_rps:-failed (${a_err:-?})} req/s, failed ${a_fail:-?}, non-2xx ${a_n2xx:-0}, p99 ${a_p99:-?} ms (whole ms)$lb
"
}
printf '{"context":"%s"}' "$(printf '%s' "$CONTEXT" | base64 -w0)" >"$W/body.json"
for srv in keyward nginx; do
	[ $srv = keyward ] && u=$KW_URL || u=$NG_URL
	loadgen val_$srv --url "$u" $CERT -c "$CONNS" -d "$SECS" --body "$W/body.json"
	ab_run $srv "$u"
done
VK=$(get val_keyward rps); VN=$(get val_nginx rps)
row "validation: loadgen, c=$CONNS, no warm-up (req/s)" "$(calc "${VK:-0}" 0)" \
    "$(calc "${VN:-0}" 0)" "$(ratio "$VK" "$VN")" "" "" req/s
r=$(ratio "$AB_keyward" "$AB_nginx")
row "keep-alive generate with ab -k -E, c=$CONNS (req/s)" \
    "$(calc "${AB_keyward:-0}" 0)" "$(calc "${AB_nginx:-0}" 0)" "$r" \
    ">= 0.9 x nginx" "$(met "${r:-0} >= 0.9")" req/s
row "validation: loadgen / ab" "$(ratio "$VK" "$AB_keyward")" \
    "$(ratio "$VN" "$AB_nginx")" "" "about 1" "" ratio
# Decrypt with ab too: every request opens one ciphertext keyward made
# just now (nginx answers its fixed body, as in 1.).
DCT=$(curl -s --max-time 5 --cacert "$W/pki/ca.crt" --cert "$W/pki/client.crt" \
    --key "$W/pki/client.key" -X POST --data-binary @"$W/body.json" "$KW_URL" |
    sed -n 's/.*"ciphertext":"\([^"]*\)".*/\1/p')
if [ -n "$DCT" ]; then
	printf '{"ciphertext":"%s","context":"%s"}' "$DCT" \
	    "$(printf '%s' "$CONTEXT" | base64 -w0)" >"$W/body-dec.json"
	ab_run dec_keyward "${KW_URL%/generate/*}/decrypt/${KW_URL##*/}" \
	    "$W/body-dec.json"
	ab_run dec_nginx "${NG_URL%/generate/*}/decrypt/${NG_URL##*/}" \
	    "$W/body-dec.json"
	r=$(ratio "$AB_dec_keyward" "$AB_dec_nginx")
	row "keep-alive decrypt with ab -k -E, c=$CONNS (req/s)" \
	    "$(calc "${AB_dec_keyward:-0}" 0)" "$(calc "${AB_dec_nginx:-0}" 0)" \
	    "$r" ">= 0.9 x nginx" "$(met "${r:-0} >= 0.9")" req/s
else
	say "no ciphertext from keyward for the ab decrypt runs"
	DETAILS="$DETAILS- ab decrypt: no ciphertext from keyward's generate
"
fi

# 4b. New connections with ab (no -k: HTTP/1.0, a handshake per request).
# ab leaves Nagle's algorithm on, which the load generator turns off: a
# server that sends nothing after the handshake and delays its ACK holds
# every first request for 40 ms, and only ab sees it.
abnew_run() {	# name url
	taskset -c 1 ab -q -s 10 -E "$W/pki/client.pem" -c "$NEWCONNS" \
	    -t "$SECS" -n 100000000 -p "$W/body.json" -T application/json "$2" \
	    >"$W/abnew.$1" 2>&1
	n_rps=$(awk '/^Requests per second/ { print $4 }' "$W/abnew.$1")
	n_p50=$(awk '$1 == "50%" { print $2 }' "$W/abnew.$1")
	say "ab (new connections) $1: ${n_rps:-failed} conn/s, p50 ${n_p50:-?} ms"
	eval "ABN_$1=\${n_rps:-}"
	DETAILS="$DETAILS- ab -E -c $NEWCONNS (a new connection per request) on $1: ${n_rps:-failed} conn/s, p50 ${n_p50:-?} ms
"
}
for srv in keyward nginx; do
	[ $srv = keyward ] && u=$KW_URL || u=$NG_URL
	abnew_run $srv "$u"
done
row "new mTLS connection + generate with ab, c=$NEWCONNS (conn/s)" \
    "$(calc "${ABN_keyward:-0}" 0)" "$(calc "${ABN_nginx:-0}" 0)" \
    "$(ratio "$ABN_keyward" "$ABN_nginx")" ">= 0.9" "" conn/s

# 5. IPC round trip against the real crypto process, pinned like the server.
KEYWARD_BIN=$KW_BIN taskset -c 0 "$B/bench/ipc_rtt" 20000 >"$W/ipc" \
    2>"$W/ipc.err" || say "ipc_rtt failed: $(tail -2 "$W/ipc.err")"
for k in echo status generate; do
	l=$(grep "^rtt $k " "$W/ipc")
	v() { echo "$l" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	row "IPC round trip $k, p50 / p99 (us)" "$(v p50_us) / $(v p99_us)" \
	    "" "" "" "" us
done

# 6. 100k keys: generate with a cold cache (each key once: every request a
# fetch from the store), then warm; locked memory per cached key. The keys
# are written now, and synced, so that the write-back of 100k files does
# not disturb the runs before.
say "making $NKEYS keys in the filesystem store"
t0=$(date +%s.%N)
"$B/bench/mkkeys" "$W/keys" "$NKEYS" bench- || die "mkkeys failed"
sync
MKKEYS_S=$(calc "$(date +%s.%N) - $t0" 1)
L0=$(status_kb VmLck "$CRYPTO")
loadgen kw_cold --url "https://127.0.0.1:$KW_PORT/v1/key/generate/bench-%d" \
    $CERT -c "$CONNS" -n "$NKEYS" --keys "$NKEYS" --context "$CONTEXT" \
    --timeout 30
L1=$(status_kb VmLck "$CRYPTO")
loadgen kw_warm --url "https://127.0.0.1:$KW_PORT/v1/key/generate/bench-%d" \
    $CERT $LGA --keys "$NKEYS" --random
L2=$(status_kb VmLck "$CRYPTO")
row "generate over $NKEYS keys, cold cache (req/s)" \
    "$(calc "$(get kw_cold rps)" 0)" "" "" "" "" req/s
row "generate over $NKEYS keys, warm cache (req/s)" \
    "$(calc "$(get kw_warm rps)" 0)" "" "" "" "" req/s
PK=$(awk -v a="$L0" -v b="$L2" -v n="$NKEYS" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
row "locked memory per cached key (bytes)" "$PK" "" "" "<= 256 B" \
    "$(met "$PK <= 256")" bytes
DETAILS="$DETAILS- crypto VmLck: $L0 kB before the $NKEYS-key runs, $L1 kB after the cold run, $L2 kB after the warm run ($(get kw_cold transport_errors) transport errors, $(get kw_cold http_errors) non-2xx in the cold run); writing the keys took ${MKKEYS_S}s
"

# 7. 10k idle keep-alive connections: total memory of all processes.
idle_rss() {	# name url pids-function
	name=$1
	fifo=$W/idle.$name.in
	mkfifo "$fifo"
	taskset -c 1 "$LG" --idle "$IDLE" --url "$2" $CERT --context "$CONTEXT" \
	    --timeout 20 <"$fifo" >"$W/out.idle.$name" 2>"$W/err.idle.$name" &
	IDLE_PID=$!
	exec 9>"$fifo"
	i=0
	while ! grep -q '^idle .* ready' "$W/out.idle.$name"; do
		i=$((i + 1))
		if [ $i -gt 1200 ] || ! kill -0 "$IDLE_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	sleep 1
	pids=$($3)
	rss=$(status_kb VmRSS $pids)
	pss=$(pss_kb $pids)
	ready=$(grep '^idle .* ready' "$W/out.idle.$name")
	exec 9>&-
	wait "$IDLE_PID" 2>/dev/null
	IDLE_PID=
	held=$(echo "$ready" | sed -n 's/.*held=\([0-9]*\).*/\1/p')
	say "idle $name: ${ready:-not ready} rss ${rss} kB pss ${pss} kB"
	eval "RSS_$name=\$rss; PSS_$name=\$pss; HELD_$name=\${held:-0}"
	DETAILS="$DETAILS- idle $name: ${ready:-no ready line: $(tail -1 "$W/err.idle.$name")}; $(tail -1 "$W/out.idle.$name")
"
}
# On a fresh server: the 100k keys cached by the runs above are the cache's
# cost (measured above), not the connections'.
stop_keyward
start_keyward off
R0=$(status_kb VmRSS $(kw_pids))
idle_rss keyward "$KW_URL" kw_pids
idle_rss nginx "$NG_URL" ng_pids
if [ "$HELD_keyward" -eq "$IDLE" ]; then
	v="$(calc "$RSS_keyward / 1024" 1)"
	m=$(met "$RSS_keyward < 262144")
else
	v="FAILED: held $HELD_keyward of $IDLE"
	m=no
fi
row "RSS, $IDLE idle keep-alive connections (MiB)" "$v" \
    "$(calc "$RSS_nginx / 1024" 1)" "" "< 256 MiB" "$m" MiB
row "PSS, $IDLE idle keep-alive connections (MiB)" \
    "$(calc "$PSS_keyward / 1024" 1)" "$(calc "$PSS_nginx / 1024" 1)" "" "" "" MiB
DETAILS="$DETAILS- keyward RSS (all processes, freshly started) before the idle run: $(calc "$R0 / 1024" 1) MiB
"

# 8. Keep-alive generate with audit lines on (stdout to a file).
stop_keyward
start_keyward on
loadgen kw_audit --url "$KW_URL" $CERT $LGA
KA=$(get kw_audit rps)
row "keep-alive generate, audit on (req/s)" "$(calc "${KA:-0}" 0)" \
    "$(calc "${NGG:-0}" 0)" "$(ratio "$KA" "$NGG")" "" "" req/s
NCRASH=$(crashes)
row "keyward children killed by a signal during the bench" "$NCRASH" "" "" \
    "0" "$(met "$NCRASH == 0")" count
if [ "$NCRASH" -gt 0 ]; then
	DETAILS="$DETAILS- keyward's log: $(grep 'killed by signal' "$W/server.log" |
	    head -3 | sed 's/$/;/' | tr '\n' ' ')
"
fi
DETAILS="$DETAILS- audit run wrote $(wc -l <"$W/audit.log") audit lines ($(du -k "$W/audit.log" | cut -f1) kB)
"

fi	# BENCH_ONLY

# 9. The Vault store, against tests/doubles/vault_double.py: a TEST DOUBLE
# of HashiCorp Vault (no Vault server can be installed here), Python, one
# process, pinned to CPU1 beside the load generator; keyward on CPU0 as
# before. (a) Warm cache: generate on one key, the fs store and the Vault
# store interleaved, ROUNDS each: the store is not on the path, so the
# ratio shows what the Vault store costs a cached key (target >= 0.95).
# (b) Cold cache: VKEYS keys created through keyward, keyward restarted,
# then each key generated once at c=CONNS while the double adds 2 ms to
# every request; next to the rate the double itself serves for the same
# reads (loadgen straight at the double, same c, same 2 ms), so the ratio
# says whether keyward or the store is the limit (target >= 0.8).
vault_yaml() {
	KS_YAML="  vault:
    endpoint: https://127.0.0.1:$VAULT_PORT
    engine: kv
    version: v1
    prefix: bench
    approle:
      id: bench-role
      secret: bench-secret
    tls:
      ca: $W/pki/ca.crt"
}

if [ "$ONLY" = seal ] || [ "$ONLY" = handshake ] || [ "$ONLY" = crypto ]; then
	:
elif command -v python3 >/dev/null 2>&1; then
	stop_keyward
	start_vault
	vault_yaml
	VS= FS=
	rnd=1
	while [ $rnd -le "$ROUNDS" ]; do
		KS_YAML=
		start_keyward off
		loadgen fs_warm$rnd --url "$KW_URL" $CERT $LGA
		FS="$FS $(get fs_warm$rnd rps)"
		stop_keyward
		vault_yaml
		start_keyward off
		loadgen vault_warm$rnd --url "$KW_URL" $CERT $LGA
		VS="$VS $(get vault_warm$rnd rps)"
		stop_keyward
		KS_YAML=
		rnd=$((rnd + 1))
	done
	VW=$(echo "$VS" | median); FW=$(echo "$FS" | median)
	r=$(ratio "$VW" "$FW")
	row "Vault store: keep-alive generate, warm cache, c=$CONNS, median of $ROUNDS (req/s; fs store in the nginx column)" \
	    "$(calc "${VW:-0}" 0)" "$(calc "${FW:-0}" 0)" "$r" \
	    ">= 0.95 x fs store" "$(met "${r:-0} >= 0.95")" req/s
	DETAILS="$DETAILS- Vault warm rounds (req/s): Vault store$VS, fs store$FS
"
	# (b) VKEYS keys, made through keyward (a create is a probe and a
	# write in Vault), then a cold cache.
	vault_yaml
	start_keyward off
	loadgen vault_create --url \
	    "https://127.0.0.1:$KW_PORT/v1/key/create/vbench-%d" $CERT \
	    -c "$CONNS" -n "$VKEYS" --keys "$VKEYS" --method POST --timeout 30
	stop_keyward
	stop_vault
	start_vault --latency-ms 2
	vault_yaml
	start_keyward off
	loadgen vault_cold --url \
	    "https://127.0.0.1:$KW_PORT/v1/key/generate/vbench-%d" $CERT \
	    -c "$CONNS" -n "$VKEYS" --keys "$VKEYS" --context "$CONTEXT" \
	    --timeout 30
	stop_keyward
	# The double alone: the same reads keyward's cold run made.
	loadgen vd_alone --url \
	    "https://127.0.0.1:$VAULT_PORT/v1/kv/bench/vbench-%d" \
	    -c "$CONNS" -n "$VKEYS" --keys "$VKEYS" --method GET \
	    --header "X-Vault-Token: $VTOKEN" --timeout 30
	stop_vault
	KS_YAML=
	VC=$(get vault_cold rps); VD=$(get vd_alone rps)
	r=$(ratio "$VC" "$VD")
	row "Vault store: generate over $VKEYS keys, cold cache, 2 ms per Vault request, c=$CONNS (req/s; the double's own rate in the nginx column)" \
	    "$(calc "${VC:-0}" 0)" "$(calc "${VD:-0}" 0)" "$r" \
	    ">= 0.8 x the double" "$(met "${r:-0} >= 0.8")" req/s
	DETAILS="$DETAILS- Vault: $VKEYS creates at $(calc "$(get vault_create rps)" 0) req/s ($(get vault_create http_errors) non-2xx); cold run $(get vault_cold http_errors) non-2xx + $(get vault_cold transport_errors) transport errors; the double alone $(get vd_alone http_errors) non-2xx
"
	start_keyward off
else
	say "python3 missing: no Vault section"
fi

# 10. The PKCS#11 seal, SoftHSM2 in the seal helper (tests/e2e's token
# recipe): generate over SKEYS keys with a cold cache (each key once, so
# every request reads the fs store and, sealed, opens the value in the
# token), the same keys plain and sealed, keyward restarted before each
# run, ROUNDS interleaved rounds each; the ratio of the medians says what
# the seal costs a cold read. The helper runs on CPU0 with keyward and
# counts as keyward (kw_pids). No target: the token's work is what is
# measured.
SMODULE=/usr/lib/softhsm/libsofthsm2.so
seal_yaml() {	# sealed|plain
	if [ "$1" = plain ]; then
		KS_YAML="  fs:
    path: $W/skeys-plain"
		return
	fi
	KS_YAML="  fs:
    path: $W/skeys-sealed
  seal:
    pkcs11:
      module: $SMODULE
      token: kw-bench
      pin: \"1234\"
      key: kw-bench-seal
      module_env: [ \"SOFTHSM2_CONF=$W/hsm/softhsm2.conf\" ]"
}
if [ "$ONLY" = all ] || [ "$ONLY" = seal ]; then
	need softhsm2-util softhsm2
	[ -r "$SMODULE" ] || die "$SMODULE missing (softhsm2)"
	stop_keyward
	mkdir -p "$W/hsm/tokens"
	printf 'directories.tokendir = %s/hsm/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
	    "$W" >"$W/hsm/softhsm2.conf"
	SOFTHSM2_CONF=$W/hsm/softhsm2.conf softhsm2-util --init-token --free \
	    --label kw-bench --so-pin 12345678 --pin 1234 >"$W/hsm.log" 2>&1 ||
	    die "softhsm2-util: $(tail -2 "$W/hsm.log")"
	mkdir -p "$W/skeys-plain"
	"$B/bench/mkkeys" "$W/skeys-plain" "$SKEYS" sbench- ||
	    die "mkkeys failed"
	chown -R keyward: "$W/skeys-plain"
	chmod 0700 "$W/skeys-plain"
	cp -a "$W/skeys-plain" "$W/skeys-sealed"
	seal_yaml sealed
	write_config off
	t0=$(date +%s.%N)
	{ "$KW_BIN" seal keygen --config "$W/keyward.yml" &&
	    "$KW_BIN" seal seal-fs --config "$W/keyward.yml"; } \
	    >>"$W/hsm.log" 2>&1 || die "keyward seal: $(tail -2 "$W/hsm.log")"
	SEALFS_S=$(calc "$(date +%s.%N) - $t0" 1)
	chown -R keyward: "$W/hsm"
	sync
	SP= SS=
	rnd=1
	while [ $rnd -le "$ROUNDS" ]; do
		for kind in plain sealed; do
			seal_yaml $kind
			start_keyward off
			loadgen seal_${kind}$rnd --url \
			    "https://127.0.0.1:$KW_PORT/v1/key/generate/sbench-%d" \
			    $CERT -c "$CONNS" -n "$SKEYS" --keys "$SKEYS" \
			    --context "$CONTEXT" --timeout 30
			stop_keyward
			v=$(get seal_${kind}$rnd rps)
			[ $kind = plain ] && SP="$SP $v" || SS="$SS $v"
		done
		rnd=$((rnd + 1))
	done
	KS_YAML=
	SSM=$(echo "$SS" | median); SPM=$(echo "$SP" | median)
	row "PKCS#11 seal (SoftHSM2): generate over $SKEYS keys, cold cache, c=$CONNS, median of $ROUNDS (req/s; the same keys unsealed in the nginx column)" \
	    "$(calc "${SSM:-0}" 0)" "$(calc "${SPM:-0}" 0)" \
	    "$(ratio "$SSM" "$SPM")" "" "" req/s
	DETAILS="$DETAILS- seal rounds (req/s): sealed$SS, plain$SP; keygen + seal-fs of $SKEYS keys took ${SEALFS_S}s; errors per sealed run: $(for r in $(seq 1 "$ROUNDS"); do printf '%s ' "$(get seal_sealed$r http_errors)+$(get seal_sealed$r transport_errors)"; done)
"
	start_keyward off
fi

# 11. Several crypto processes (server.crypto: N; every worker sends a key
# name's requests to crypto process FNV-1a(name) mod N): is the crypto
# processes' CPU per request below the workers', and do two serve at
# least what one does? With more workers than cores: MC_WORKERS workers
# on this machine's CPUs, and keyward NOT pinned (pinned to one CPU, its
# workers and crypto processes would share one core and a second crypto
# process could only add switches there; unpinned, the scheduler spreads
# them over both as on a larger host). The load generator stays pinned
# to CPU1 as in the other sections: loadgen() measures it the same way,
# and it takes at most one core whatever keyward does (unpinned it would
# wander, and the two runs of a round would differ in where it ran).
# Keep-alive generate at c=CONNS over MC_KEYS keys picked at random, so
# that routing spreads them over the crypto processes; the keys are made
# beforehand in their own fs store (like 6.) and generated once each
# before every measured run, so the cache is warm. server.crypto 1 and 2
# interleaved, keyward restarted for each run, ROUNDS rounds, medians.
# CPU: ticks from /proc/PID/stat of the crypto processes (argv[1]
# "crypto", summed over all of them) and of the workers ("worker") around
# each measured run, its warm-up included and counted as in 1. How many
# requests each crypto process served is not visible from outside: its
# CPU ticks stand in for it. The disturbed check spans both CPUs (keyward
# runs on both): the CPU time of every process but keyward and this
# script's children (the load generator), with the children each waited
# for (a compiler's time lands in its make's), plus steal, against 10 % of
# one core. /proc/stat's busy ticks less keyward's and the load
# generator's alone would not do here: with keyward unpinned, part of the
# loopback's softirq work runs where no process is charged for it (about
# a sixth of a core on this VM; reported apart as softirq); they only
# bound the count from above.
MC_WORKERS=4
MC_KEYS=256
MC_PREFIX=cbench-
# How many of the MC_KEYS keys each of N crypto processes serves: FNV-1a
# of the name mod N, as the workers route (kes_name_shard, common/names.c).
mc_split() {	# N -> "count / count ..."
	awk -v n="$1" -v keys="$MC_KEYS" -v prefix="$MC_PREFIX" 'function xor8(a, b,   r, i) {
		r = 0
		for (i = 1; i < 256; i *= 2)
			if ((int(a / i) + int(b / i)) % 2 == 1)
				r += i
		return r
	}
	BEGIN {
		for (i = 32; i < 127; i++)
			ord[sprintf("%c", i)] = i
		for (k = 0; k < keys; k++) {
			s = prefix k
			h = 2166136261
			for (j = 1; j <= length(s); j++) {
				l = h % 256
				h = h - l + xor8(l, ord[substr(s, j, 1)])
				h = (h * 403 + (h % 256) * 16777216) % 4294967296
			}
			c[h % n]++
		}
		for (i = 0; i < n; i++)
			printf "%s%d", (i > 0 ? " / " : ""), c[i]
	}'
}
mc_stat() {	# the time and /proc/stat's all-CPU line: "secs user nice ..."
	echo "$(date +%s.%N) $(sed -n 's/^cpu  *//p' /proc/stat)"
}
mc_all() {	# "pid ticks" of every process, its waited-for children included
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{ p = $1; sub(/^.*\) /, "")
	    print p, $12 + $13 + $14 + $15 }'
}
kw_role() {	# role -> pids of keyward's children whose argv[1] is ROLE
	for p in $(pgrep -P "$KW_PID"); do
		[ "$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n 2p)" = \
		    "$1" ] && echo "$p"
	done
}
# mc_run N ROUND: one measured run with server.crypto: N; appends "N ROUND
# rps requests crypto-ticks worker-ticks crypto-processes workers
# ticks-per-crypto-process..." to $W/mc.runs.
mc_run() {
	KS_YAML="  fs:
    path: $W/ckeys"
	KW_SERVER_YAML="  workers: $MC_WORKERS
  crypto: $1"
	KW_PIN=
	start_keyward off
	KS_YAML= KW_SERVER_YAML= KW_PIN="taskset -c 0"
	i=0
	until [ "$(kw_role crypto | wc -l)" -eq "$1" ] &&
	    [ "$(kw_role worker | wc -l)" -eq "$MC_WORKERS" ]; do
		i=$((i + 1))
		[ $i -gt 50 ] && break
		sleep 0.1
	done
	cp=$(kw_role crypto)
	wp=$(kw_role worker)
	[ "$(echo $cp | wc -w)" -eq "$1" ] &&
	    [ "$(echo $wp | wc -w)" -eq "$MC_WORKERS" ] ||
	    MC_BAD="$MC_BAD crypto: $1 round $2 ran $(echo $cp | wc -w) crypto processes and $(echo $wp | wc -w) workers;"
	taskset -c 1 "$LG" -q --url "$MC_URL" $CERT -c "$CONNS" -n "$MC_KEYS" \
	    --keys "$MC_KEYS" --context "$CONTEXT" --timeout 30 \
	    >"$W/mc.warm" 2>&1
	grep -q "^result .* ok=$MC_KEYS " "$W/mc.warm" ||
	    MC_BAD="$MC_BAD crypto: $1 round $2 warm pass: $(tail -1 "$W/mc.warm");"
	n=mc_c${1}_r$2
	snap $cp >"$W/mc.c0"
	snap $wp >"$W/mc.w0"
	mc_stat >"$W/mc.s0"
	mc_all >"$W/mc.a0"
	loadgen $n --url "$MC_URL" $CERT $LGA --keys "$MC_KEYS" --random
	mc_all >"$W/mc.a1"
	mc_stat >"$W/mc.s1"
	# Every other process's time: not this shell (the load generator's
	# time is in its children's), not keyward.
	ot=$(awk -v ex=" $$ $(kw_pids) " 'NR == FNR { s[$1] = $2; next }
	    index(ex, " " $1 " ") == 0 { d += $2 - ($1 in s ? s[$1] : 0) }
	    END { print d + 0 }' "$W/mc.a0" "$W/mc.a1")
	ct=$(ticks_since "$W/mc.c0" $(kw_role crypto))
	wt=$(ticks_since "$W/mc.w0" $(kw_role worker))
	per=$(snap $cp | awk 'NR == FNR { s[$1] = $2; next }
	    { printf " %d", $2 - s[$1] }' "$W/mc.c0" -)
	stop_keyward
	e=$(get $n http_errors)
	x=$(get $n transport_errors)
	e=$((${e:-1} + ${x:-0}))	# no result line: the run failed
	[ "$e" -eq 0 ] ||
	    MC_BAD="$MC_BAD crypto: $1 round $2: $e requests failed;"
	q=$(get $n requests)
	req=$(calc "${q:-0} * ($SECS + 1) / $SECS" 0)
	rps=$(get $n rps)
	echo "$1 $2 ${rps:-0} $req $ct $wt $(echo $cp | wc -w)" \
	    "$(echo $wp | wc -w)$per" >>"$W/mc.runs"
	c=$(get $n cpu)
	sv=$(get $n cpu0_server)
	# Other processes and steal (the hypervisor's), as shares of one
	# core, at most what /proc/stat leaves beside keyward and the load
	# generator (a child that ran before the run and ended in it counts
	# whole in its parent's); softirq apart.
	x=$(awk -v hz="$HZ" -v ot="$ot" -v kw="${sv:-0}" -v lg="${c:-0}" '
	    { b[NR] = $2 + $3 + $4 + $7 + $8 + $9; s[NR] = $9; q[NR] = $8
	    t[NR] = $1 } END { w = (t[2] - t[1]) * hz; if (w <= 0) w = 1
	    o = (ot + s[2] - s[1]) / w
	    l = (b[2] - b[1]) / w - kw - lg; if (l < o) o = l
	    printf "%f %f", o, (q[2] - q[1]) / w }' "$W/mc.s0" "$W/mc.s1")
	o=${x% *}
	si=${x#* }
	[ "$(met "${c:-0} >= 0.9")" = yes ] && MC_SAT="$MC_SAT $n"
	[ "$(met "$o >= 0.1")" = yes ] && MC_NOISY="$MC_NOISY $n"
	DETAILS="$DETAILS- loadgen $n: $(get $n rps) req/s, $(get $n http_errors) non-2xx + $(get $n transport_errors) transport errors, p99 $(get $n p99_us) us; $(echo $cp | wc -w) crypto processes and $(echo $wp | wc -w) workers; CPU ticks ($HZ/s) crypto $ct (per process:$per), workers $wt; keyward used $(calc "${sv:-0} * 100" 0)% of one core, the load generator $(calc "${c:-0} * 100" 0)% (CPU1), other processes and steal $(calc "$o * 100" 0)%, softirq $(calc "$si * 100" 0)% (of one core, both CPUs); keyward children lost $(get $n server_crashes)
"
}
MC_SAT=
MC_NOISY=
MC_BAD=
if [ "$ONLY" = all ] || [ "$ONLY" = crypto ]; then
	stop_keyward
	mkdir -p "$W/ckeys"
	"$B/bench/mkkeys" "$W/ckeys" "$MC_KEYS" "$MC_PREFIX" ||
	    die "mkkeys failed"
	chown -R keyward: "$W/ckeys"
	chmod 0700 "$W/ckeys"
	MC_URL="https://127.0.0.1:$KW_PORT/v1/key/generate/$MC_PREFIX%d"
	: >"$W/mc.runs"
	rnd=1
	while [ $rnd -le "$ROUNDS" ]; do
		mc_run 1 $rnd
		mc_run 2 $rnd
		rnd=$((rnd + 1))
	done
	mcf() {	# N AWK-EXPRESSION: over the runs with server.crypto: N
		awk -v n="$1" '$1 == n { '"$2"' }' "$W/mc.runs"
	}
	MCS1=$(mcf 1 'printf " %s", $3')
	MCS2=$(mcf 2 'printf " %s", $3')
	MC1=$(echo "$MCS1" | median)
	MC2=$(echo "$MCS2" | median)
	# The rounds' own spread: the larger (max - min) / median of the two.
	MCN=$(for s in "$MCS1" "$MCS2"; do
		echo "$s" | tr ' ' '\n' | grep . | sort -n | awk -v m="$(echo "$s" |
		    median)" 'NR == 1 { lo = $1 } { hi = $1 }
		    END { if (m > 0) print (hi - lo) / m }'
	done | sort -n | tail -1)
	r=$(ratio "$MC2" "$MC1")
	if [ "$(met "${r:-0} >= 1")" = yes ]; then m=yes
	elif [ "$(met "${r:-0} >= 1 - ${MCN:-0}")" = yes ]; then m="within noise"
	else m=no
	fi
	row "several crypto processes: keep-alive generate over $MC_KEYS keys, $MC_WORKERS workers on $(nproc) CPUs (unpinned), c=$CONNS, median of $ROUNDS (req/s; server.crypto: 2 in the keyward column, 1 in the nginx column)" \
	    "$(calc "${MC2:-0}" 0)" "$(calc "${MC1:-0}" 0)" "$r" \
	    ">= 1.0 within noise (rounds spread $(calc "${MCN:-0} * 100" 0) %)" \
	    "$m" req/s
	mcsum() { mcf "$1" "s += \$$2 } END { print s + 0"; }	# N COLUMN
	MCC1=$(per100k "$(mcsum 1 5)" "$(mcsum 1 4)")
	MCW1=$(per100k "$(mcsum 1 6)" "$(mcsum 1 4)")
	MCC2=$(per100k "$(mcsum 2 5)" "$(mcsum 2 4)")
	MCW2=$(per100k "$(mcsum 2 6)" "$(mcsum 2 4)")
	mc_cpu_row() {	# N crypto-per-100k workers-per-100k
		r=$(ratio "$2" "$3")
		row "server.crypto: $1, crypto CPU per request below the workers' (CPU s per 100k generate: all crypto processes in the keyward column, all $MC_WORKERS workers in the nginx column)" \
		    "$2" "$3" "$r" "< 1" "$(met "${r:-9} < 1")" s
	}
	mc_cpu_row 1 "$MCC1" "$MCW1"
	mc_cpu_row 2 "$MCC2" "$MCW2"
	# The projection, as in 1. but from the run with four workers.
	MCF=$(awk -v w="$MCW1" -v c="$MCC1" 'BEGIN { if (c > 0) printf "%.1f", w / c }')
	row "worker cores one crypto process can serve (generate, server.crypto: 1, $MC_WORKERS workers)" \
	    "$MCF" "" "" ">= 64 for one crypto process" "$(met "${MCF:-0} >= 64")" cores
	row "host cores at which N crypto processes saturate (N x the row above), N = 1 / 2 / 32" \
	    "$(calc "${MCF:-0}" 1) / $(calc "2 * ${MCF:-0}" 1) / $(calc "32 * ${MCF:-0}" 1)" \
	    "" "" "" "" cores
	# The spread over two crypto processes: their ticks, summed by
	# position (pid order) over the rounds.
	MCP=$(mcf 2 'for (i = 9; i <= NF; i++) t[i - 8] += $i
	    if (NF - 8 > k) k = NF - 8 } END { for (i = 1; i <= k; i++)
	    printf "%s%d", (i > 1 ? " / " : ""), t[i]')
	MCPR=$(echo "$MCP" | tr -d ' ' | tr '/' '\n' | sort -n | awk '
	    NR == 1 { lo = $1 } { hi = $1 }
	    END { if (NR > 1 && hi > 0) printf "%.2f", lo / hi }')
	row "server.crypto: 2, CPU ticks ($HZ/s) of each crypto process over the $ROUNDS runs (stands in for the requests each served; ratio: fewest / most; keys each serves: $(mc_split 2))" \
	    "$MCP" "" "$MCPR" "roughly even" "$(met "${MCPR:-0} >= 0.8")" ticks
	DETAILS="$DETAILS- several crypto processes, rounds (req/s): server.crypto: 1$MCS1, server.crypto: 2$MCS2; with server.crypto: 2 the workers' CPU per request over the crypto processes' is $(ratio "$MCW2" "$MCC2"), so two serve $(awk -v w="$MCW2" -v c="$MCC2" 'BEGIN { if (c > 0) printf "%.1f", 2 * w / c }') worker cores as measured
"
	[ -z "${FEEDS:-}" ] || DETAILS="$DETAILS- worker cores one crypto process can serve, from the pinned single-worker runs of 1.: $FEEDS; from the $MC_WORKERS unpinned workers here: ${MCF:-?}
"
	[ -z "$MC_BAD" ] || DETAILS="$DETAILS- several crypto processes, problems:$MC_BAD
"
	KS_YAML=
	start_keyward off
fi

# Was the load generator the bottleneck anywhere? Did anything else run?
SAT=
NOISY=
for f in "$W"/r.*; do
	n=${f##*/r.}
	case $n in mc_*) continue ;; esac	# 11. checks its own runs
	c=$(get "$n" cpu)
	o=$(get "$n" cpu0_other)
	o1=$(get "$n" cpu1_other)
	[ -n "$c" ] && DETAILS="$DETAILS- loadgen $n: $(get "$n" rps) req/s, own CPU $(calc "$c * 100" 0)%, errors $(get "$n" http_errors) non-2xx + $(get "$n" transport_errors) transport; CPU0 $(calc "$(get "$n" cpu0_busy) * 100" 0)% busy, server $(calc "$(get "$n" cpu0_server) * 100" 0)%, other processes $(calc "${o:-0} * 100" 0)%; CPU1 $(calc "$(get "$n" cpu1_busy) * 100" 0)% busy, other processes about $(calc "${o1:-0} * 100" 0)%; keyward children lost $(get "$n" server_crashes)
"
	if [ -n "$c" ] && [ "$(met "$c >= 0.9")" = yes ]; then
		SAT="$SAT $n"
	fi
	# The Vault double runs on CPU1 by design (9.): not noise there.
	case $n in vault_cold|vault_create|vd_*) o1= ;; esac
	if { [ -n "$o" ] && [ "$(met "$o >= 0.05")" = yes ]; } ||
	    { [ -n "$o1" ] && [ "$(met "$o1 >= 0.1")" = yes ]; }; then
		NOISY="$NOISY $n"
	fi
done
SAT="$SAT$MC_SAT"
NOISY="$NOISY$MC_NOISY"
stop_keyward

# --- report --------------------------------------------------------------------------
CPU=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
MACHINE="$(nproc) CPU ($CPU), $(uname -r), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(openssl version | cut -d' ' -f1-2), keyward $(git -C "$ROOT" describe --always --dirty 2>/dev/null)"
{
	echo "# keyward benchmark, $DAY"
	echo
	if [ "$ONLY" = crypto ]; then
		echo "Machine: $MACHINE. keyward with $MC_WORKERS workers and 1 or 2 crypto"
		echo "processes, not pinned; the load generator on CPU1; ${SECS}s per run after 1s of warm-up;"
	else
		echo "Machine: $MACHINE. keyward (1 worker) and nginx (1 worker) each pinned"
		echo "to CPU0, the load generator to CPU1; ${SECS}s per run after 1s of warm-up;"
	fi
	echo "TLS 1.3, ECDSA P-256, client certificates; POST of a MinIO-style"
	echo "context. \`make bench\` (tests/bench/run.sh)."
	echo
	echo "| metric | keyward | nginx | ratio | target | met? |"
	echo "|---|---|---|---|---|---|"
	printf '%s' "$MD"
	echo
	if [ -n "$SAT" ]; then
		echo "Load generator saturated (>= 90% of CPU1) in:$SAT; those rows measure it, not the server."
	else
		echo "The load generator never used 90% of CPU1: the servers were the bottleneck."
	fi
	if [ -n "$NOISY" ]; then
		echo
		echo "Other processes used >= 5% of CPU0 (or about 10% of CPU1; in section 11, 10% of one core on both CPUs together) during:$NOISY; those numbers are disturbed (run again on an idle machine)."
	fi
	echo
	echo "Details:"
	echo
	printf '%s' "$DETAILS"
} >"$RESULTS/$OUT.md"
{
	echo "metric,keyward,nginx,ratio,target,met,unit"
	printf '%s' "$CSV"
} >"$RESULTS/$OUT.csv"
cat "$RESULTS/$OUT.md"
echo
if [ "$ONLY" = all ]; then
	echo "ratios (keyward / nginx):"
	echo "  keep-alive generate $(ratio "$KG" "$NGG")  (target 0.9)"
	echo "  keep-alive decrypt  $(ratio "$KD" "$NGD")  (target 0.9)"
	echo "  ab generate / decrypt  $(ratio "$AB_keyward" "$AB_nginx") / $(ratio "${AB_dec_keyward:-}" "${AB_dec_nginx:-}")  (target 0.9)"
	echo "  new connections     $(ratio "$KN" "$NGN")  (target 0.9)"
fi
if [ "$ONLY" = all ] || [ "$ONLY" = crypto ]; then
	echo "several crypto processes ($MC_WORKERS workers, unpinned, $MC_KEYS keys):"
	echo "  keep-alive generate, crypto: 2 / crypto: 1  $(ratio "$MC2" "$MC1")  (target >= 1.0 within noise, spread $(calc "${MCN:-0} * 100" 0) %)"
	echo "  crypto / worker CPU per request: crypto: 1 $(ratio "$MCC1" "$MCW1"), crypto: 2 $(ratio "$MCC2" "$MCW2")  (target < 1)"
	echo "  worker cores one crypto process serves: ${MCF:-?}; host cores at which N saturate: N x that"
	echo "  ticks per crypto process with crypto: 2: ${MCP:-?} (fewest / most $MCPR)"
	[ -z "$MC_BAD" ] || echo "  problems:$MC_BAD"
fi
echo "written: tests/bench/results/$OUT.md, tests/bench/results/$OUT.csv"
