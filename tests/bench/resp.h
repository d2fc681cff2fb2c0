/*
 * An incremental HTTP/1.1 response reader for the load generator: the head
 * must arrive whole in the caller's buffer; the body (Content-Length,
 * chunked, or until close) is consumed as it comes and optionally kept.
 */
#ifndef KEYWARD_BENCH_RESP_H
#define KEYWARD_BENCH_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum resp_state {
	RS_HEAD = 0,
	RS_BODY_LEN,		/* clen bytes left */
	RS_CHUNK_SIZE,		/* hex digits, extensions, CRLF */
	RS_CHUNK_DATA,		/* clen bytes left, then CRLF */
	RS_CHUNK_CRLF,
	RS_TRAILER,		/* header lines until an empty one */
	RS_BODY_EOF,		/* until the server closes */
	RS_DONE,
};

struct resp {
	enum resp_state	state;
	int		status;
	bool		close;		/* Connection: close, or HTTP/1.0 */
	uint64_t	clen;
	size_t		linelen;	/* chunk-size or trailer line so far */
	char		*keep;		/* optional copy of the body */
	size_t		keepcap;
	size_t		keeplen;
};

void	resp_start(struct resp *);
/*
 * Consume bytes from p[0, len). Returns the number consumed (the rest
 * belongs to the next response), or -1 on a malformed response. In
 * RS_HEAD nothing is consumed until the whole head is in p (0 then);
 * the caller treats 0 with a full buffer as an error.
 */
long	resp_feed(struct resp *, const char *p, size_t len);
/* End of stream: completes an RS_BODY_EOF response; false otherwise. */
bool	resp_eof(struct resp *);

#endif
