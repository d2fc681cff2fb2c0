#!/bin/sh
# Installs the Debian packages keyward needs to build, test and run.
# As root: installs what is missing with apt-get. Otherwise: prints the command.
set -eu

pkgs="build-essential pkg-config libssl-dev libyaml-dev libjansson-dev
libseccomp-dev libcurl4-openssl-dev libcap-dev libcriterion-dev libcap2-bin
openssl curl clang-14 libclang-rt-14-dev systemd passwd python3
python3-pykmip softhsm2 opensc libp11-kit-dev"
# The official clients that check the cloud doubles and the SigV4 signer:
# botocore/boto3 (AWS), google-auth and PyJWT (GCP), the Azure SDK.
pkgs="$pkgs python3-botocore python3-boto3"
pkgs="$pkgs python3-google-auth python3-jwt python3-requests python3-azure"
[ "${KEYWARD_DEPS_EXTRA:-}" ] && pkgs="$pkgs $KEYWARD_DEPS_EXTRA"

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "keyward: missing build dependencies; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
