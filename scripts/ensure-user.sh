#!/bin/sh
# Creates the unprivileged `keyward` system user the children drop to, when
# run as root and the user is missing. Non-root runs need nothing here.
set -eu
user=${KEYWARD_USER:-keyward}
[ "$(id -u)" -eq 0 ] || exit 0
if ! getent passwd "$user" >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$user"
	echo "created system user $user"
fi
