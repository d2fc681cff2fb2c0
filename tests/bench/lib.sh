# Sourced by tests/bench/run.sh and cost.sh: the benchmarks' throw-away PKI
# (ECDSA P-256, test-components.md 1) and keyward's configuration.
#
# bench_pki DIR: ca.{key,crt}, server.{key,crt} (SAN IP:127.0.0.1 and
# localhost), client.{key,crt} and client.pem in DIR; openssl's output on
# stdout/stderr; non-zero on failure. bench_identity CERT: the client's
# identity (SHA-256 of its public key).
bench_pki() {
	(
		cd "$1" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout ca.key -out ca.crt -days 2 \
		    -subj "/CN=bench-ca" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" || exit 1
		for n in server client; do
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			    -nodes -keyout $n.key -out $n.csr -subj "/CN=$n" ||
			    exit 1
		done
		printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
		printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >client.ext
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
		    -CAcreateserial -out server.crt -days 2 \
		    -extfile server.ext &&
		openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key \
		    -CAcreateserial -out client.crt -days 2 \
		    -extfile client.ext &&
		cat client.crt client.key >client.pem
	)
}

bench_identity() {
	openssl x509 -in "$1" -pubkey -noout |
	    openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}

# bench_config FILE DIR PORT AUDIT MLOCK KEY KEYSTORE: keyward's configuration
# for a benchmark: the PKI of DIR/pki, one worker chrooted to DIR/chroot,
# the key KEY declared, KEYSTORE the keystore: section's body (indented by
# two spaces), audit lines and mlock on or off.
bench_config() {
	cat >"$1" <<EOF
version: v1
address: 127.0.0.1:$3
admin:
  identity: $(bench_identity "$2/pki/client.crt")
tls:
  key: $2/pki/server.key
  cert: $2/pki/server.crt
  auth: on
  ca: $2/pki/ca.crt
cache:
  expiry: { any: 24h, unused: 24h, offline: 0s }
log:
  error: on
  audit: $4
keys:
  - name: $6
keystore:
$7
server:
  workers: 1
  chroot: $2/chroot
  mlock: $5
EOF
}
