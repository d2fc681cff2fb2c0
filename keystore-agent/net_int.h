/*
 * What net.c (the client: curl's multi on the event loop, the TLS
 * material, addresses from the helper) and net_req.c (one request:
 * attempts, retries, completion) share. Not for the stores: they use
 * net.h.
 */
#ifndef KEYWARD_KS_NET_INT_H
#define KEYWARD_KS_NET_INT_H

#include <sys/queue.h>

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/ev.h"
#include "keystore-agent/net.h"

enum net_req_state {
	REQ_WAIT_DNS,		/* for the client's first addresses */
	REQ_RUNNING,		/* an attempt is at curl */
	REQ_WAIT_RETRY,		/* between two attempts */
	REQ_DONE,		/* done() runs next turn */
	REQ_IN_DONE,		/* inside done(); freed when it returns */
};

struct net_req {
	TAILQ_ENTRY(net_req)	 entry;
	struct net_client	*cl;		/* NULL once the client is
						 * freed from inside done() */
	enum net_req_state	 state;
	CURL			*easy;		/* while REQ_RUNNING */
	char			*method;
	char			*url;
	struct curl_slist	*headers;	/* wiped when freed */
	const uint8_t		*body;		/* the store's */
	size_t			 len;
	const char		*bad;		/* why it cannot start */
	struct net_policy	 pol;
	net_done_cb		 done;
	void			*arg;
	/* The wait before a retry, or the deadline of a wait for DNS. */
	struct ev_timer		 timer;
	struct ev_defer		 defer;		/* done() from the loop */
	uint8_t			*rbody;		/* the answer, wiped */
	size_t			 rlen, rcap;
	char			*rhdrs;		/* its header lines, each
						 * NUL-ended; wiped */
	size_t			 hlen;
	bool			 too_large;
	bool			 refused_host;	/* the resolver guard said
						 * no */
	uint64_t		 start;
	struct net_resp		 resp;
	char			 detail[CURL_ERROR_SIZE + 128];
	char			 errbuf[CURL_ERROR_SIZE];
};
TAILQ_HEAD(net_req_list, net_req);

struct net_sock {
	LIST_ENTRY(net_sock)	 entry;
	struct ev_io		 io;
	struct net_client	*cl;
};

/* One helper call; it outlives a client freed meanwhile. */
struct net_resolving {
	struct net_client	*cl;
};

struct net_client {
	CURLM			*multi;
	char			*origin;	/* scheme://host:port */
	char			*prefix;	/* "" or "/a/b" */
	char			*host;		/* no brackets */
	unsigned int		 port;
	bool			 literal;	/* an IP address */
	bool			 allow_http;
	struct curl_blob	 ca, cert, key;	/* ours; the key wiped */
	/* CURLOPT_RESOLVE: "host:port:addr,addr" from the helper. */
	struct curl_slist	*resolve;
	uint64_t		 resolved_at;
	char			 dns_detail[160]; /* the last failure */
	struct net_resolving	*resolving;
	uint64_t		 resolutions;	/* helper calls made */
	struct net_req_list	 reqs;
	LIST_HEAD(, net_sock)	 socks;
	struct ev_timer		 timer;		/* curl's */
	int			 running;
	uint64_t		 connects;
};

/* net.c */
void	net_kick(struct net_client *);		/* read completions */
void	net_resolve(struct net_client *);	/* unless one is pending */
void	net_slist_free(struct curl_slist *);	/* wipes first */

/* net_req.c */
void	net_req_start(struct net_req *);	/* an attempt, or wait */
void	net_req_finished(struct net_req *, CURLcode);
void	net_req_no_dns(struct net_req *, const char *detail);
void	net_req_free(struct net_req *);

#endif
