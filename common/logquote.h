/*
 * Text from clients (paths, key names) made safe for a log line, as Go's
 * strconv.QuoteToASCII writes it: printable ASCII stays, `"` and `\` are
 * escaped (in quoted form), \a \b \f \n \r \t \v by name, other control
 * bytes and DEL as \xNN, every valid UTF-8 character beyond ASCII as \uNNNN
 * or \UNNNNNNNN, and each byte of invalid UTF-8 as \xNN. No byte of a log
 * line is then outside printable ASCII: a terminal or log viewer cannot be
 * steered by escape sequences or bidirectional overrides (U+202E), and
 * invalid UTF-8 cannot break a JSON consumer downstream.
 */
#ifndef KEYWARD_LOGQUOTE_H
#define KEYWARD_LOGQUOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Escape s[0, n) into out (at most outlen - 1 bytes and a NUL; a character
 * whose escape does not fit is left out, with everything after it).
 * quoted: surround with `"` and escape `"` and `\`. Returns the length. */
size_t	logquote(char *out, size_t outlen, const char *s, size_t n,
	    bool quoted);
/* The quoted form of the C string s appended to b; 0, or -1 with b as it
 * was when it does not fit. */
int	logquote_buf(struct buf *b, const char *s);

#endif
