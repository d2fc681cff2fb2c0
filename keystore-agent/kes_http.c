/*
 * KES's HTTP retry wrapper's decision (kes_http.h).
 */
#include "keystore-agent/kes_http.h"

/* Go's temporary errors (timeouts, a connection dropped mid-request or
 * mid-handshake) and 5xx answers; not a refused connection, a name that
 * does not resolve or a refused certificate (no retry changes those).
 * keyward also retries 429 (a throttled call; KES returns it at once). */
bool
kes_http_retry(const struct net_resp *r)
{
	switch (r->fail) {
	case NET_OK:
		return r->status >= 500 || r->status == 429;
	case NET_TIMEOUT:
	case NET_IO:
	case NET_TLS:
		return true;
	default:
		return false;
	}
}
