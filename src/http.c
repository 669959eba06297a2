/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * http.c: the request head parser of the metrics service (see http.h),
 * and the reason phrases of the statuses it answers.
 *
 * Owns the syntax of an HTTP/1.0 or HTTP/1.1 request head (RFC 9112,
 * taken strictly): the request line, the header field lines, and the
 * three fields whose meaning matters here (Connection, Content-Length,
 * Transfer-Encoding).  Reading from the socket, routing and answering
 * are the service's business.
 *
 * DESIGN: a plain forward scan over at most HTTP_HEAD_MAX bytes, one
 * step function per part of the head; no recursion, no allocation, no
 * state kept between calls, no byte read at or past buf + len.  Each
 * step returns 0 having moved past its part, HTTP_PARSE_MORE if the
 * bytes stop before the part does, or the status to answer as soon as
 * a byte seen cannot be part of a valid head.  Two errors wait for
 * their line end: a version of the right shape with other digits (the
 * next byte decides between 400 and 505), and a Content-Length that
 * differs from an earlier one.
 *
 * One call costs O(len).  The service calls it again with the whole
 * buffer each time more bytes arrive, so a head sent a byte at a time
 * costs O(n^2) in all: at most 8 KiB * 8 KiB / 2 byte steps, fine at
 * this limit, but a larger HTTP_HEAD_MAX would want a resumable scan.
 */
#include "http.h"

#include <stdint.h>
#include <string.h>

/* The longest method token; a longer one is answered 400. */
#define HTTP_METHOD_MAX	32

typedef unsigned char	uchar;

/* What the header fields seen so far say. */
struct fields {
	uint64_t	 length;	/* Content-Length, if has_length */
	int		 has_length;
	int		 chunked;	/* Transfer-Encoding seen (any value) */
	int		 close;		/* Connection: close */
	int		 keep;		/* Connection: keep-alive */
};

static int
is_digit(uchar c)
{
	return (c >= '0' && c <= '9');
}

/* RFC 9110 tchar: the bytes of a method or a field name. */
static int
is_tchar(uchar c)
{
	if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A field value's bytes: HTAB, SP, visible ASCII and obs-text. */
static int
is_value(uchar c)
{
	return (c == '\t' || (c >= ' ' && c != 0x7f));
}

static int
is_ows(uchar c)
{
	return (c == ' ' || c == '\t');
}

/* 1 if the n bytes at p are the lower case lit, ignoring ASCII case. */
static int
same(const uchar *p, size_t n, const char *lit)
{
	size_t i;

	if (n != strlen(lit))
		return (0);
	for (i = 0; i < n; i++)
		if ((p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]) != lit[i])
			return (0);
	return (1);
}

/* A line end at *pp: CRLF or a bare LF (a bare CR is 400). */
static int
eol(const uchar **pp, const uchar *end)
{
	const uchar *p = *pp;

	if (p == end)
		return (HTTP_PARSE_MORE);
	if (*p == '\r' && ++p == end)
		return (HTTP_PARSE_MORE);
	if (*p != '\n')
		return (400);
	*pp = p + 1;
	return (0);
}

/* method SP origin-form SP HTTP-version line-end, into req. */
static int
request_line(const uchar **pp, const uchar *end, struct http_request *req)
{
	static const char shape[] = "HTTP/#.#";	/* '#' is a digit */
	const uchar *p = *pp, *m = p, *t, *q = NULL, *v;
	size_t i;
	int r;

	for (; p < end && is_tchar(*p); p++)
		if (p - m == HTTP_METHOD_MAX)
			return (400);
	if (p == end)
		return (HTTP_PARSE_MORE);
	if (p == m || *p != ' ')
		return (400);
	if (p - m == 3 && memcmp(m, "GET", 3) == 0)
		req->method = HTTP_GET;
	else if (p - m == 4 && memcmp(m, "HEAD", 4) == 0)
		req->method = HTTP_HEAD;
	else
		req->method = HTTP_OTHER;

	/* Only the origin form: absolute form and '*' are not served. */
	if (++p == end)
		return (HTTP_PARSE_MORE);
	if (*p != '/')
		return (400);
	for (t = p; p < end && *p > ' ' && *p < 0x7f; p++)
		if (*p == '?' && q == NULL)
			q = p;
	if (p == end)
		return (HTTP_PARSE_MORE);
	if (*p != ' ')
		return (400);
	req->path = (const char *)t;
	req->path_len = (size_t)((q != NULL ? q : p) - t);

	/* The version's shape is 400 if wrong, its digits 505. */
	for (v = ++p, i = 0; i < sizeof(shape) - 1; i++, p++) {
		if (p == end)
			return (HTTP_PARSE_MORE);
		if (shape[i] == '#' ? !is_digit(*p) : *p != (uchar)shape[i])
			return (400);
	}
	if ((r = eol(&p, end)) != 0)
		return (r);
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return (505);
	req->minor = v[7] - '0';
	*pp = p;
	return (0);
}

/*
 * Content-Length: 1*DIGIT between OWS, equal to any earlier one.  With
 * whole 0 the line is not complete yet: only its bytes so far are
 * judged, so that a bad one is 400 at once.
 */
static int
content_length(const uchar *p, const uchar *end, int whole, struct fields *f)
{
	const uchar *d;
	uint64_t n = 0;

	while (p < end && is_ows(*p))
		p++;
	for (d = p; p < end && is_digit(*p); p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return (400);
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (whole && p == d)
		return (400);
	while (p < end && is_ows(*p))
		p++;
	if (p != end)
		return (400);
	if (!whole)
		return (0);
	if (f->has_length && f->length != n)
		return (400);
	f->has_length = 1;
	f->length = n;
	return (0);
}

/* Connection: comma-separated options; only two matter here. */
static void
connection(const uchar *p, const uchar *end, struct fields *f)
{
	const uchar *o;

	while (p < end) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		for (o = p; p < end && !is_ows(*p) && *p != ','; p++)
			;
		if (same(o, (size_t)(p - o), "close"))
			f->close = 1;
		else if (same(o, (size_t)(p - o), "keep-alive"))
			f->keep = 1;
	}
}

/*
 * One field line (name ':' OWS value OWS line-end) at *pp, or the empty
 * line that ends the head, which sets *last.  A line that starts with
 * whitespace (obs-fold), or whitespace before the colon, is 400.
 */
static int
field(const uchar **pp, const uchar *end, struct fields *f, int *last)
{
	const uchar *p = *pp, *name = p, *v, *ve;
	size_t n;
	int r, cl;

	if (p < end && (*p == '\r' || *p == '\n')) {
		*last = 1;
		return (eol(pp, end));
	}
	while (p < end && is_tchar(*p))
		p++;
	if (p == end)
		return (HTTP_PARSE_MORE);
	if (p == name || *p != ':')
		return (400);
	n = (size_t)(p - name);
	cl = same(name, n, "content-length");
	for (v = ++p; p < end && is_value(*p); p++)
		;
	ve = p;
	/* Content-Length's bytes are judged before its line is complete. */
	if (cl && (r = content_length(v, ve, 0, f)) != 0)
		return (r);
	if ((r = eol(&p, end)) != 0)
		return (r);
	if (cl && (r = content_length(v, ve, 1, f)) != 0)
		return (r);
	if (same(name, n, "connection"))
		connection(v, ve, f);
	else if (same(name, n, "transfer-encoding"))
		f->chunked = 1;
	*pp = p;
	return (0);
}

int
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const uchar *start = (const uchar *)buf, *p = start, *end;
	struct fields f;
	int last = 0, r;

	/* Only the first HTTP_HEAD_MAX bytes are ever looked at. */
	end = start + (len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX);
	memset(&f, 0, sizeof(f));

	/* Empty lines before the request line are ignored (RFC 9112 2.2). */
	while (p < end && (*p == '\r' || *p == '\n'))
		if ((r = eol(&p, end)) != 0)
			goto out;
	if ((r = request_line(&p, end, req)) != 0)
		goto out;
	while (!last)
		if ((r = field(&p, end, &f, &last)) != 0)
			goto out;

	if (f.close)
		req->keep_alive = 0;
	else
		req->keep_alive = req->minor == 1 || f.keep;
	req->body = f.chunked || (f.has_length && f.length != 0);
	req->head_len = (size_t)(p - start);
	return (HTTP_PARSE_DONE);

out:
	/* Incomplete within HTTP_HEAD_MAX bytes: no more bytes can help. */
	if (r == HTTP_PARSE_MORE && len >= HTTP_HEAD_MAX)
		return (431);
	return (r);
}

const char *
http_status_text(int status)
{
	static const struct {
		int		 status;
		const char	*text;
	} texts[] = {
		{ 200, "OK" },
		{ 400, "Bad Request" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 408, "Request Timeout" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].status == status)
			return (texts[i].text);
	return ("Error");
}
