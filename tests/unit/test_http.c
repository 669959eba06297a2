/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_http: the request head parser, case by case (a table), at every
 * prefix length of each case, at the HTTP_HEAD_MAX limit, and under a
 * deterministic random mutation loop; and the reason phrases.
 */
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define DONE	HTTP_PARSE_DONE
#define MORE	HTTP_PARSE_MORE

struct tcase {
	const char	*what;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	int		 ret;
	/* What req says on DONE: */
	enum http_method method;
	const char	*path;
	int		 minor, keep_alive, body;
	size_t		 head_len;	/* 0: the whole input */
};

#define OK(w, in, m, path, minor, ka, body)				\
	{ w, in, 0, DONE, m, path, minor, ka, body, 0 }
#define OKN(w, in, m, path, minor, ka, body, hl)			\
	{ w, in, 0, DONE, m, path, minor, ka, body, hl }
#define BAD(w, in, ret)	{ w, in, 0, ret, 0, NULL, 0, 0, 0, 0 }
#define BADN(w, in, ret) { w, in, sizeof(in) - 1, ret, 0, NULL, 0, 0, 0, 0 }

#define G11	"GET / HTTP/1.1\r\n"
#define G10	"GET / HTTP/1.0\r\n"
#define TLS	"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"

static const struct tcase cases[] = {
	/* Valid requests; methods. */
	OK("prometheus scrape", "GET /metrics HTTP/1.1\r\nHost: localhost:9100"
	    "\r\nUser-Agent: Prometheus/2.45.0\r\nAccept: text/plain\r\n\r\n",
	    HTTP_GET, "/metrics", 1, 1, 0),
	OK("HEAD 1.0", "HEAD / HTTP/1.0\r\n\r\n", HTTP_HEAD, "/", 0, 0, 0),
	OK("GET 1.1, no fields", G11 "\r\n", HTTP_GET, "/", 1, 1, 0),
	OK("POST is other", "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n"
	    "\r\n", HTTP_OTHER, "/metrics", 1, 1, 0),
	OK("method is case-sensitive", "get / HTTP/1.1\r\n\r\n", HTTP_OTHER,
	    "/", 1, 1, 0),
	OK("HEADX is other", "HEADX / HTTP/1.1\r\n\r\n", HTTP_OTHER, "/", 1,
	    1, 0),
	OK("GE is other", "GE / HTTP/1.1\r\n\r\n", HTTP_OTHER, "/", 1, 1, 0),
	OK("method of every tchar", "!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\n\r\n",
	    HTTP_OTHER, "/", 1, 1, 0),
	OK("32-byte method", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 / HTTP/1.1\r\n"
	    "\r\n", HTTP_OTHER, "/", 1, 1, 0),
	BAD("33-byte method", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", 400),

	/* keep_alive: defaults and Connection. */
	OK("1.0 default close", G10 "\r\n", HTTP_GET, "/", 0, 0, 0),
	OK("1.0 keep-alive", G10 "Connection: keep-alive\r\n\r\n", HTTP_GET,
	    "/", 0, 1, 0),
	OK("1.1 close", G11 "Connection: close\r\n\r\n", HTTP_GET, "/", 1,
	    0, 0),
	OK("1.1 keep-alive", G11 "Connection: keep-alive\r\n\r\n", HTTP_GET,
	    "/", 1, 1, 0),
	OK("1.1 list, any case, close wins", G11 "connection: Keep-Alive, "
	    "CLOSE\r\n\r\n", HTTP_GET, "/", 1, 0, 0),
	OK("1.0 two fields, close last", G10 "Connection: keep-alive\r\n"
	    "CONNECTION: close\r\n\r\n", HTTP_GET, "/", 0, 0, 0),
	OK("1.0 two fields, close first", G10 "Connection: close\r\n"
	    "Connection: keep-alive\r\n\r\n", HTTP_GET, "/", 0, 0, 0),
	OK("1.0 OWS around commas", G10 "Connection: foo ,\t KEEP-ALIVE ,bar"
	    "\r\n\r\n", HTTP_GET, "/", 0, 1, 0),
	OK("1.0 fields combine", G10 "Connection: upgrade\r\nConnection: "
	    "Keep-Alive\r\n\r\n", HTTP_GET, "/", 0, 1, 0),
	OK("1.1 other option", G11 "Connection: upgrade\r\n\r\n", HTTP_GET,
	    "/", 1, 1, 0),
	OK("1.1 closed is not close", G11 "Connection: closed\r\n\r\n",
	    HTTP_GET, "/", 1, 1, 0),
	OK("1.0 empty Connection", G10 "Connection:\r\n\r\n", HTTP_GET, "/",
	    0, 0, 0),
	OK("1.1 close in another field", G11 "X-Connection: close\r\n\r\n",
	    HTTP_GET, "/", 1, 1, 0),

	/* The target. */
	OK("query stripped", "GET /metrics?name[]=up&x=?y HTTP/1.1\r\n\r\n",
	    HTTP_GET, "/metrics", 1, 1, 0),
	OK("empty query", "GET /? HTTP/1.1\r\n\r\n", HTTP_GET, "/", 1, 1, 0),
	OK("percent kept", "GET /a%20b/c HTTP/1.1\r\n\r\n", HTTP_GET,
	    "/a%20b/c", 1, 1, 0),
	BAD("absolute form", "GET http://example.com/ HTTP/1.1\r\n\r\n", 400),
	BAD("asterisk form", "OPTIONS * HTTP/1.1\r\n\r\n", 400),
	BAD("authority form", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", 400),
	BAD("control byte in target", "GET /a\x01" "b HTTP/1.1\r\n\r\n", 400),
	BAD("DEL in target", "GET /\x7f HTTP/1.1\r\n\r\n", 400),
	BAD("byte >= 0x80 in target", "GET /\x80 HTTP/1.1\r\n\r\n", 400),
	BAD("HTAB in target", "GET /a\tb HTTP/1.1\r\n\r\n", 400),

	/* Line ends, empty lines, pipelining. */
	OK("leading empty lines", "\r\n\n\r\nGET / HTTP/1.1\r\n\r\n", HTTP_GET,
	    "/", 1, 1, 0),
	OK("LF only", "GET /metrics HTTP/1.0\nHost: x\n\n", HTTP_GET,
	    "/metrics", 0, 0, 0),
	OK("LF and CRLF mixed", "GET / HTTP/1.1\nHost: x\r\n\n", HTTP_GET,
	    "/", 1, 1, 0),
	OKN("pipelined request untouched", "GET /a HTTP/1.1\r\n\r\n"
	    "GET /b HTTP/1.1\r\n\r\n", HTTP_GET, "/a", 1, 1, 0, 19),
	OKN("garbage after the head untouched", G11 "\r\n" TLS, HTTP_GET, "/",
	    1, 1, 0, 18),
	BAD("bare CR before request line", "\rGET / HTTP/1.1\r\n\r\n", 400),
	BAD("bare CR ends request line", "GET / HTTP/1.1\rHost: x\r\n\r\n",
	    400),
	BAD("CR CR LF", "GET / HTTP/1.1\r\r\n\r\n", 400),
	BAD("bare CR in empty line", G11 "Host: x\r\n\rX", 400),
	BAD("bare CR in value", G11 "X: a\rb\r\n\r\n", 400),
	BAD("HTTP/0.9 request", "GET /\r\n\r\n", 400),
	BAD("no version", "GET / \r\n\r\n", 400),
	BAD("space after version", "GET / HTTP/1.1 \r\n\r\n", 400),

	/* Separators; early 400 on bytes that cannot begin a head. */
	BADN("NUL first", "\x00\x01", 400),
	BAD("TLS ClientHello", TLS, 400),
	BAD("byte >= 0x80 first", "\x80", 400),
	BAD("space first", " GET / HTTP/1.1\r\n\r\n", 400),
	BAD("HTAB first", "\tGET", 400),
	BAD("non-tchar in method", "GE@T / HTTP/1.1\r\n\r\n", 400),
	BAD("HTAB separator", "GET\t/ HTTP/1.1\r\n\r\n", 400),
	BAD("two spaces", "GET  / HTTP/1.1\r\n\r\n", 400),
	BAD("two spaces after target", "GET /  HTTP/1.1\r\n\r\n", 400),
	BAD("line end in method", "GET\r\n\r\n", 400),

	/* The version. */
	BAD("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505),
	BAD("HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", 505),
	BAD("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505),
	BAD("HTTP/1.2 LF", "GET / HTTP/1.2\n", 505),
	BAD("HTTP/1.10", "GET / HTTP/1.10\r\n\r\n", 400),
	BAD("HTTP/1.1x", "GET / HTTP/1.1x\r\n\r\n", 400),
	BAD("HTTP/1.2x", "GET / HTTP/1.2x\r\n\r\n", 400),
	BAD("HTTP/11.1", "GET / HTTP/11.1\r\n\r\n", 400),
	BAD("HTTP/2", "GET / HTTP/2\r\n\r\n", 400),
	BAD("HTTP/1.", "GET / HTTP/1.\r\n\r\n", 400),
	BAD("lower case http", "GET / http/1.1\r\n\r\n", 400),
	BAD("HTTPS/1.1", "GET / HTTPS/1.1\r\n\r\n", 400),

	/* Field lines. */
	OK("value bytes: HTAB, SP, obs-text", G11 "X: \tone two\tthree \x80\xff"
	    " end \t\r\n\r\n", HTTP_GET, "/", 1, 1, 0),
	OK("empty values", G11 "X:\r\nY: \t \r\n\r\n", HTTP_GET, "/", 1, 1, 0),
	OK("name of every tchar", G11 "!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
	    HTTP_GET, "/", 1, 1, 0),
	OK("colons in value", G11 "Host: [::1]:9100\r\n\r\n", HTTP_GET, "/",
	    1, 1, 0),
	BAD("folded field", G11 "X: a\r\n b\r\n\r\n", 400),
	BAD("folded field, HTAB", G11 "X: a\r\n\tb\r\n\r\n", 400),
	BAD("space before first field", G11 " Host: x\r\n\r\n", 400),
	BAD("space before colon", G11 "Host : x\r\n\r\n", 400),
	BAD("HTAB before colon", G11 "Host\t: x\r\n\r\n", 400),
	BAD("empty name", G11 ": x\r\n\r\n", 400),
	BAD("space in name", G11 "Ho st: x\r\n\r\n", 400),
	BAD("no colon", G11 "Host\r\n\r\n", 400),
	BAD("non-ASCII name", G11 "H\xc3\xa9: v\r\n\r\n", 400),
	BADN("NUL in value", G11 "X: a\x00" "b\r\n\r\n", 400),
	BAD("control byte in value", G11 "X: a\x01" "b\r\n\r\n", 400),
	BAD("DEL in value", G11 "X: a\x7f" "b\r\n\r\n", 400),
	BAD("ESC in value, early", G11 "X: \x1b", 400),

	/* Content-Length and Transfer-Encoding. */
	OK("Content-Length 0", G11 "Content-Length: 0\r\n\r\n", HTTP_GET, "/",
	    1, 1, 0),
	OK("Content-Length 5", G11 "Content-Length: 5\r\n\r\n", HTTP_GET, "/",
	    1, 1, 1),
	OK("Content-Length OWS, any case", G11 "content-LENGTH:\t 12 \t\r\n"
	    "\r\n", HTTP_GET, "/", 1, 1, 1),
	OK("Content-Length 000", G11 "Content-Length: 000\r\n\r\n", HTTP_GET,
	    "/", 1, 1, 0),
	OK("Content-Length twice, equal", G11 "Content-Length: 5\r\n"
	    "Content-Length: 05\r\n\r\n", HTTP_GET, "/", 1, 1, 1),
	OK("Content-Length 2^64-1", G11 "Content-Length: 18446744073709551615"
	    "\r\n\r\n", HTTP_GET, "/", 1, 1, 1),
	OK("Transfer-Encoding", G11 "Transfer-Encoding: chunked\r\n\r\n",
	    HTTP_GET, "/", 1, 1, 1),
	OK("Transfer-Encoding empty", G11 "transfer-encoding:\r\n\r\n",
	    HTTP_GET, "/", 1, 1, 1),
	OK("Transfer-Encoding, Content-Length 0", G11 "Content-Length: 0\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", HTTP_GET, "/", 1, 1, 1),
	BAD("Content-Length differs", G11 "Content-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n", 400),
	BAD("Content-Length list", G11 "Content-Length: 5, 5\r\n\r\n", 400),
	BAD("Content-Length sign", G11 "Content-Length: +5\r\n\r\n", 400),
	BAD("Content-Length negative", G11 "Content-Length: -1\r\n\r\n", 400),
	BAD("Content-Length space inside", G11 "Content-Length: 1 2\r\n\r\n",
	    400),
	BAD("Content-Length empty", G11 "Content-Length: \r\n\r\n", 400),
	BAD("Content-Length hex", G11 "Content-Length: 0x5\r\n\r\n", 400),
	BAD("Content-Length 2^64", G11 "Content-Length: 18446744073709551616"
	    "\r\n\r\n", 400),
	BAD("Content-Length huge", G11 "Content-Length: 9999999999999999999999"
	    "\r\n\r\n", 400),
	BAD("Content-Length bad byte, early", G11 "Content-Length: 1 2", 400),

	/* Incomplete heads. */
	BAD("nothing", "", MORE),
	BAD("only empty lines", "\r\n\n", MORE),
	BAD("CR", "\r", MORE),
	BAD("request line only", G11, MORE),
	BAD("no empty line", G11 "Host: x\r\n", MORE),
	BAD("CR of the empty line", G11 "Host: x\r\n\r", MORE),
	BAD("HTTP/2.0 without its line end", "GET / HTTP/2.0", MORE),
	BAD("Content-Length digits so far", G11 "Content-Length: 12 ", MORE),
};

static int
count_of(const struct tcase *c)
{
	return (c->len != 0 ? (int)c->len : (int)strlen(c->in));
}

/* One case: the result, and on DONE what req says. */
static void
test_case(const struct tcase *c)
{
	struct http_request req;
	size_t len = (size_t)count_of(c);
	size_t hl = c->head_len != 0 ? c->head_len : len;
	int r;

	memset(&req, 0xa5, sizeof(req));
	r = http_parse_request(c->in, len, &req);
	if (c->ret != DONE) {
		CHECK(r == c->ret, "%s: %d (got %d)", c->what, c->ret, r);
		return;
	}
	CHECK(r == DONE && req.method == c->method &&
	    req.path >= c->in && req.path < c->in + hl &&
	    req.path_len == strlen(c->path) &&
	    memcmp(req.path, c->path, req.path_len) == 0 &&
	    req.minor == c->minor && req.keep_alive == c->keep_alive &&
	    req.body == c->body && req.head_len == hl,
	    "%s: done, method %d, %s, 1.%d, keep-alive %d, body %d, "
	    "head %zu (got %d)", c->what, c->method, c->path, c->minor,
	    c->keep_alive, c->body, hl, r);
}

/*
 * Every prefix of a case: before a valid head is complete, MORE; once
 * it is, DONE with the same head_len.  An invalid one is never DONE,
 * and once an error shows, the longer prefixes give the same error.
 */
static void
test_prefixes(const struct tcase *c)
{
	struct http_request req;
	size_t len = (size_t)count_of(c), k;
	size_t hl = c->head_len != 0 ? c->head_len : len;
	int r, bad = 0, seen = MORE;

	for (k = 0; k <= len; k++) {
		r = http_parse_request(c->in, k, &req);
		if (c->ret == DONE && k < hl)
			bad += r != MORE;
		else if (c->ret == DONE)
			bad += r != DONE || req.head_len != hl;
		else if (r == DONE || (seen != MORE && r != seen))
			bad++;
		if (r != MORE)
			seen = r;
	}
	CHECK(bad == 0, "%s: every prefix of %zu bytes consistent", c->what,
	    len);
}

static char	big[HTTP_HEAD_MAX + 256];

/*
 * A head of exactly total bytes in big: the request line is long if
 * line, else one field is.  Returns total.
 */
static size_t
make_big(size_t total, int line)
{
	const char *pre = line ? "GET /" : G11 "X: ";
	const char *post = line ? " HTTP/1.1\r\n\r\n" : "\r\n\r\n";
	size_t a = strlen(pre), b = strlen(post);

	memcpy(big, pre, a);
	memset(big + a, 'a', total - a - b);
	memcpy(big + total - b, post, b);
	return (total);
}

static void
test_limit(void)
{
	struct http_request req;
	size_t n;
	int r;

	n = make_big(HTTP_HEAD_MAX, 0);
	r = http_parse_request(big, n, &req);
	CHECK(r == DONE && req.head_len == HTTP_HEAD_MAX,
	    "huge field, head of HTTP_HEAD_MAX bytes: done (got %d)", r);
	n = make_big(HTTP_HEAD_MAX, 1);
	r = http_parse_request(big, n, &req);
	CHECK(r == DONE && req.head_len == HTTP_HEAD_MAX &&
	    req.path_len == HTTP_HEAD_MAX - 17,
	    "huge target, head of HTTP_HEAD_MAX bytes: done (got %d)", r);
	n = make_big(HTTP_HEAD_MAX, 0);
	memcpy(big + n, G11 "\r\n", 18);
	r = http_parse_request(big, n + 18, &req);
	CHECK(r == DONE && req.head_len == HTTP_HEAD_MAX,
	    "head of HTTP_HEAD_MAX bytes, a request after: done (got %d)", r);

	n = make_big(HTTP_HEAD_MAX + 1, 0);
	r = http_parse_request(big, n, &req);
	CHECK(r == 431, "huge field, complete head of HTTP_HEAD_MAX + 1: 431 "
	    "(got %d)", r);
	n = make_big(HTTP_HEAD_MAX + 1, 1);
	r = http_parse_request(big, n, &req);
	CHECK(r == 431, "huge target, complete head of HTTP_HEAD_MAX + 1: 431 "
	    "(got %d)", r);

	n = make_big(HTTP_HEAD_MAX + 200, 0);
	r = http_parse_request(big, HTTP_HEAD_MAX - 1, &req);
	CHECK(r == MORE, "incomplete, HTTP_HEAD_MAX - 1 bytes: more (got %d)",
	    r);
	r = http_parse_request(big, HTTP_HEAD_MAX, &req);
	CHECK(r == 431, "incomplete, HTTP_HEAD_MAX bytes: 431 (got %d)", r);
	big[HTTP_HEAD_MAX - 1] = '\0';
	r = http_parse_request(big, n, &req);
	CHECK(r == 400, "NUL at byte HTTP_HEAD_MAX - 1: 400 (got %d)", r);
	big[HTTP_HEAD_MAX - 1] = 'a';
	big[HTTP_HEAD_MAX] = '\0';
	r = http_parse_request(big, n, &req);
	CHECK(r == 431, "NUL at byte HTTP_HEAD_MAX: 431 (got %d)", r);

	memset(big, '\n', HTTP_HEAD_MAX);
	r = http_parse_request(big, HTTP_HEAD_MAX - 1, &req);
	CHECK(r == MORE, "HTTP_HEAD_MAX - 1 empty lines: more (got %d)", r);
	r = http_parse_request(big, HTTP_HEAD_MAX, &req);
	CHECK(r == 431, "HTTP_HEAD_MAX empty lines: 431 (got %d)", r);
}

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((uint32_t)(rng >> 32) % n);
}

#define FUZZ_RUNS	200000
#define FUZZ_MAX	(HTTP_HEAD_MAX + 512)

static const char *const seeds[] = {
	"GET /metrics HTTP/1.1\r\nHost: localhost:9100\r\nAccept: text/plain"
	    "\r\nConnection: keep-alive, close\r\n\r\n",
	"HEAD /?q=1 HTTP/1.0\nConnection: Keep-Alive\nContent-Length: 0\n\n",
	"\r\nPOST / HTTP/1.1\r\nContent-Length: 12\r\nContent-Length: 12\r\n"
	    "Transfer-Encoding: chunked\r\n\r\nGET / HTTP/1.1\r\n\r\n",
};

/* Bytes that matter to the parser, picked more often than others. */
static const char	special[] = "\r\n \t:,/?.0123456789HTP\x00\x7f\x80\xff";

/* Apply one random mutation to buf (n bytes, room for FUZZ_MAX). */
static size_t
mutate(char *buf, size_t n)
{
	size_t at = n == 0 ? 0 : rnd((uint32_t)n), k;
	int c = rnd(2) ? special[rnd(sizeof(special) - 1)] : (int)rnd(256);

	switch (rnd(6)) {
	case 0:		/* replace a byte */
		if (n > 0)
			buf[at] = (char)c;
		break;
	case 1:		/* insert a byte */
		if (n < FUZZ_MAX) {
			memmove(buf + at + 1, buf + at, n - at);
			buf[at] = (char)c;
			n++;
		}
		break;
	case 2:		/* delete a byte */
		if (n > 0) {
			memmove(buf + at, buf + at + 1, n - at - 1);
			n--;
		}
		break;
	case 3:		/* truncate */
		n = at;
		break;
	case 4:		/* repeat a span */
		k = rnd(32);
		if (at + k <= n && n + k <= FUZZ_MAX) {
			memmove(buf + at + k, buf + at, n - at);
			n += k;
		}
		break;
	case 5:		/* rarely, a run long enough to cross the limit */
		k = rnd(512) == 0 ? HTTP_HEAD_MAX - 64 + rnd(256) : 0;
		if (n + k <= FUZZ_MAX) {
			memmove(buf + at + k, buf + at, n - at);
			memset(buf + at, c == '\0' ? 'a' : c, k);
			n += k;
		}
		break;
	}
	return (n);
}

/* What must hold for any input: 0 if it does. */
static int
fuzz_one(const char *work, size_t n, int *outcome)
{
	struct http_request req, again;
	char *buf, *more;
	int r, r2;

	/* An exact-size copy, so that ASan and valgrind see an overread. */
	if ((buf = malloc(n == 0 ? 1 : n)) == NULL)
		abort();
	memcpy(buf, work, n);
	r = http_parse_request(buf, n, &req);
	*outcome = r;
	if (r == DONE) {
		if (req.head_len == 0 || req.head_len > n ||
		    req.head_len > HTTP_HEAD_MAX || req.path < buf ||
		    req.path + req.path_len > buf + req.head_len ||
		    req.path_len == 0 || req.path[0] != '/' ||
		    memchr(req.path, '?', req.path_len) != NULL ||
		    (unsigned)req.method > HTTP_OTHER ||
		    (req.minor != 0 && req.minor != 1) ||
		    (req.keep_alive != 0 && req.keep_alive != 1) ||
		    (req.body != 0 && req.body != 1))
			goto bad;
		/* The bytes after the head change nothing. */
		r2 = http_parse_request(buf, req.head_len, &again);
		if (r2 != DONE || again.head_len != req.head_len ||
		    again.keep_alive != req.keep_alive ||
		    again.body != req.body)
			goto bad;
		if (http_parse_request(buf, req.head_len - 1, &again) != MORE)
			goto bad;
	} else if (r == MORE) {
		if (n >= HTTP_HEAD_MAX)
			goto bad;
	} else if (r == 400 || r == 431 || r == 505) {
		/* An error is final: more bytes do not change it. */
		if ((more = malloc(n + 4)) == NULL)
			abort();
		memcpy(more, buf, n);
		memcpy(more + n, "\r\n\r\n", 4);
		r2 = http_parse_request(more, n + 4, &again);
		free(more);
		if (r2 != r)
			goto bad;
	} else
		goto bad;
	free(buf);
	return (0);
bad:
	free(buf);
	return (-1);
}

static void
test_fuzz(void)
{
	static char work[FUZZ_MAX];
	struct timespec t0, t1;
	size_t n;
	int i, j, r, failed = 0, done = 0, more = 0, e400 = 0, e431 = 0;
	int e505 = 0;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < FUZZ_RUNS; i++) {
		n = strlen(seeds[i % 3]);
		memcpy(work, seeds[i % 3], n);
		for (j = 1 + (int)rnd(4); j > 0; j--)
			n = mutate(work, n);
		if (fuzz_one(work, n, &r) == -1 && failed++ == 0)
			printf("# fuzz case %d (%zu bytes) broke a rule: %d\n",
			    i, n, r);
		done += r == DONE;
		more += r == MORE;
		e400 += r == 400;
		e431 += r == 431;
		e505 += r == 505;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(failed == 0, "fuzz: %d mutated requests, %d broke a rule "
	    "(%ld ms)", FUZZ_RUNS, failed, ms);
	CHECK(done > 0 && more > 0 && e400 > 0 && e431 > 0 && e505 > 0,
	    "fuzz: every outcome reached: done %d, more %d, 400 %d, 431 %d, "
	    "505 %d", done, more, e400, e431, e505);
}

static void
test_status_text(void)
{
	static const struct {
		int		 status;
		const char	*text;
	} t[] = {
		{ 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
		{ 0, "Error" }, { 201, "Error" }, { 599, "Error" },
		{ -1, "Error" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(strcmp(http_status_text(t[i].status), t[i].text) == 0,
		    "status %d: %s", t[i].status, t[i].text);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_case(&cases[i]);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_prefixes(&cases[i]);
	test_limit();
	test_fuzz();
	test_status_text();
	return (check_done());
}
