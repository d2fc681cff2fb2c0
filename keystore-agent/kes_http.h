/*
 * KES's own HTTP retry wrapper (internal/http/retry.go; spec/keystores-
 * cloud-and-legacy-config.md §0.2), which KES's Fortanix and Entrust
 * stores wrap their clients in, on the agent's network layer (net.h): at
 * most 3 attempts, 200 ms + uniform[0, 800 ms) before each retry (the
 * same wait each time), on a timeout, a connection that ended early (Go's
 * io.EOF and io.ErrUnexpectedEOF) or an answer >= 500. A 5xx on the last
 * attempt is returned as an answer.
 */
#ifndef KEYWARD_KS_KES_HTTP_H
#define KEYWARD_KS_KES_HTTP_H

#include <stdbool.h>

#include "keystore-agent/net.h"

bool	kes_http_retry(const struct net_resp *);

/* A struct net_policy initialiser with the per-attempt deadline ms. */
#define KES_HTTP_POLICY(ms)	\
	{ 3, 200, 1000, (ms), kes_http_retry, NET_WAIT_CONSTANT }

#endif
