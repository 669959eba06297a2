/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

/*
 * The head of an HTTP/1.0 or HTTP/1.1 request, as the metrics service
 * reads it: the request line and the header fields up to the empty line.
 * Pure parsing of bytes in memory, no I/O; bad input is answered with a
 * status code, never trusted.  Any thread.
 */

/* The longest request head read; a longer one is answered 431. */
#define HTTP_HEAD_MAX	(8 * 1024)

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_OTHER,	/* a valid token, but neither: answered 405 */
};

struct http_request {
	enum http_method method;
	const char	*path;		/* the target up to '?' (in buf) */
	size_t		 path_len;
	int		 minor;		/* HTTP/1.minor: 0 or 1 */
	int		 keep_alive;	/* the connection stays open after */
	int		 body;		/* a body follows (Content-Length
					   other than 0, or Transfer-Encoding) */
	size_t		 head_len;	/* bytes of the head, the empty line
					   (and any empty lines before the
					   request line) included */
};

/* What http_parse_request() says, beyond a status code. */
#define HTTP_PARSE_DONE	0	/* req is filled in */
#define HTTP_PARSE_MORE	(-1)	/* no error yet: read more */

/*
 * http_parse_request(buf, len, req):
 * Parse the request head at the start of buf (len bytes, not
 * NUL-terminated; bytes after the head, a pipelined request, are left
 * alone).  Returns HTTP_PARSE_DONE with req filled in; HTTP_PARSE_MORE
 * if the head is not complete but may still be (a caller that already
 * holds HTTP_HEAD_MAX bytes answers 431 instead); or, as soon as the
 * bytes seen cannot begin a valid head, the status to answer: 400
 * (malformed: bad method token, target not in origin form, control
 * bytes, a bad header line, folded headers, a bad Content-Length), 431
 * (the head is over HTTP_HEAD_MAX bytes) or 505 (an HTTP version other
 * than 1.0 and 1.1).  keep_alive follows the version's default (1.1:
 * yes, 1.0: no) and the Connection header's "close" or "keep-alive".
 */
int	http_parse_request(const char *, size_t, struct http_request *);

/*
 * http_status_text(status):
 * The reason phrase of status ("OK", "Not Found", ...), or "Error" for
 * one not known here.
 */
const char	*http_status_text(int);

#endif /* HTTP_H */
