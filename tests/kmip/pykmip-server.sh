#!/bin/sh
# A real PyKMIP server (Debian python3-pykmip) for the KMIP tests, spec
# 3.10: a throw-away ECDSA P-256 PKI (RSA 2048 with KEYWARD_PYKMIP_KEY=rsa),
# TLS 1.2 with client certificates (EKU clientAuth enforced), a SQLite
# database, all in DIR.
#
#   sh tests/kmip/pykmip-server.sh start DIR PORT [OWNER]
#	DIR: an empty directory the caller made (and removes). Writes
#	DIR/pki/{ca,server,client,noeku}.{crt,key} (client: CN=keyward;
#	noeku: a client certificate without EKU clientAuth),
#	DIR/server.conf, DIR/server.log, DIR/server.pid, and returns once
#	127.0.0.1:PORT accepts connections (exit 0), or prints why not
#	(exit 1). Started again after a stop, it keeps the PKI and the
#	database: a server restart with the keys surviving. OWNER: a pid;
#	when that process is gone (a test that crashed before its cleanup)
#	a watchdog stops the server.
#   sh tests/kmip/pykmip-server.sh stop DIR
#	Stops the server started in DIR (its own process group) and waits.
#
# It installs nothing: without /usr/bin/pykmip-server it fails and names
# the package (scripts/deps.sh lists it).
set -u

usage() {
	echo "usage: pykmip-server.sh start DIR PORT [OWNER] | stop DIR" >&2
	exit 2
}

die() {
	echo "pykmip-server: $*" >&2
	exit 1
}

# Debian's interpreter: the python3 on PATH may not see dist-packages.
PY=/usr/bin/python3
# KEYWARD_PYKMIP_SERVER: another server binary (to see the suite fail
# without one, say).
SERVER=${KEYWARD_PYKMIP_SERVER:-/usr/bin/pykmip-server}

pki() {
	d=$1/pki
	case ${KEYWARD_PYKMIP_KEY:-ec} in
	ec) newkey="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	rsa) newkey="-newkey rsa:2048" ;;
	*) die "KEYWARD_PYKMIP_KEY: ec or rsa" ;;
	esac
	mkdir -p "$d" || return 1
	(
		cd "$d" || exit 1
		# shellcheck disable=SC2086
		openssl req -x509 $newkey \
		    -nodes -keyout ca.key -out ca.crt -days 2 \
		    -subj "/CN=keyward-kmip-test-ca" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" || exit 1
		printf '%s\n' 'basicConstraints=CA:FALSE' \
		    'keyUsage=critical,digitalSignature' \
		    'extendedKeyUsage=serverAuth' \
		    'subjectAltName=IP:127.0.0.1,DNS:localhost' >server.ext
		printf '%s\n' 'basicConstraints=CA:FALSE' \
		    'keyUsage=critical,digitalSignature' \
		    'extendedKeyUsage=clientAuth' >client.ext
		printf '%s\n' 'basicConstraints=CA:FALSE' \
		    'keyUsage=critical,digitalSignature' >noeku.ext
		for n in server:server client:keyward noeku:keyward-noeku; do
			f=${n%%:*}
			cn=${n#*:}
			# shellcheck disable=SC2086
			openssl req $newkey \
			    -nodes -keyout "$f.key" -out "$f.csr" \
			    -subj "/CN=$cn" || exit 1
			openssl x509 -req -in "$f.csr" -CA ca.crt -CAkey ca.key \
			    -CAcreateserial -out "$f.crt" -days 2 \
			    -extfile "$f.ext" || exit 1
		done
	) >"$1/pki.log" 2>&1
}

listening() {
	"$PY" -c 'import socket,sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
s.close()' "$1" 2>/dev/null
}

start() {
	dir=$1
	port=$2
	owner=${3:-}
	case $owner in *[!0-9]*) usage ;; esac
	[ -d "$dir" ] || die "no directory $dir"
	case $port in '' | *[!0-9]*) usage ;; esac
	[ -x "$SERVER" ] || die "$SERVER is missing: install python3-pykmip" \
	    "(sh scripts/deps.sh)"
	command -v openssl >/dev/null 2>&1 || die "openssl is missing"
	# A restart (start after stop in the same DIR) keeps the PKI and
	# the database.
	if [ ! -f "$dir/pki/client.crt" ]; then
		pki "$dir" ||
		    die "making the PKI failed: $(tail -n 5 "$dir/pki.log")"
	fi
	mkdir -p "$dir/policies" || die "mkdir $dir/policies"
	cat >"$dir/server.conf" <<CONF || die "writing server.conf"
[server]
hostname=127.0.0.1
port=$port
certificate_path=$dir/pki/server.crt
key_path=$dir/pki/server.key
ca_path=$dir/pki/ca.crt
auth_suite=TLS1.2
policy_path=$dir/policies
enable_tls_client_auth=True
logging_level=DEBUG
database_path=$dir/pykmip.db
CONF
	# Its own session, so stop can end the server and the helper
	# processes it forks (policy monitor, multiprocessing manager).
	setsid "$SERVER" -f "$dir/server.conf" -l "$dir/server.log" \
	    >"$dir/server.out" 2>&1 </dev/null &
	echo $! >"$dir/server.pid"
	if [ -n "$owner" ]; then
		spid=$(cat "$dir/server.pid")
		(
			while kill -0 "$owner" 2>/dev/null &&
			    kill -0 "$spid" 2>/dev/null; do
				sleep 1
			done
			kill -INT "-$spid" 2>/dev/null
			sleep 5
			kill -KILL "-$spid" 2>/dev/null
		) </dev/null >/dev/null 2>&1 &
		echo $! >"$dir/watchdog.pid"
	fi
	i=0
	while [ $i -lt 300 ]; do
		if listening "$port"; then
			return 0
		fi
		if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
			echo "pykmip-server: the server exited:" >&2
			tail -n 20 "$dir/server.out" "$dir/server.log" >&2 \
			    2>/dev/null
			exit 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "pykmip-server: not listening on 127.0.0.1:$port after 30 s" >&2
	tail -n 20 "$dir/server.out" "$dir/server.log" >&2 2>/dev/null
	stop "$dir"
	exit 1
}

stop() {
	dir=$1
	if [ -f "$dir/watchdog.pid" ]; then
		kill "$(cat "$dir/watchdog.pid")" 2>/dev/null
		rm -f "$dir/watchdog.pid"
	fi
	[ -f "$dir/server.pid" ] || return 0
	pid=$(cat "$dir/server.pid")
	case $pid in '' | *[!0-9]*) die "bad pid file $dir/server.pid" ;; esac
	# setsid made the server a session (and group) leader: its pid is
	# the group id of everything it started.
	# (dash's kill takes no "--": a negative pid right after the
	# signal names the group.)
	kill -INT "-$pid" 2>/dev/null
	i=0
	while kill -0 "-$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "-$pid" 2>/dev/null
	rm -f "$dir/server.pid"
	return 0
}

[ $# -ge 2 ] || usage
case $1 in
start)
	[ $# -eq 3 ] || [ $# -eq 4 ] || usage
	start "$2" "$3" "${4:-}"
	;;
stop)
	[ $# -eq 2 ] || usage
	stop "$2"
	;;
*)
	usage
	;;
esac
