/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_proxyproto: the PROXY protocol header parser and writer.  Cases
 * from the specification and from real senders (a table), each at every
 * prefix length and with the client's bytes after it; the v1 and v2
 * limits; v1 address texts against inet_pton(3), whole and as prefixes;
 * the writer's round trip and family rules; and a deterministic random
 * mutation loop over the rules that hold for any input.
 */
#include "proxyproto.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define MORE	PROXYPROTO_NEED_MORE
#define DONE	PROXYPROTO_DONE
#define BAD	PROXYPROTO_INVALID

#define SIG	"\r\n\r\n\0\r\nQUIT\n"
#define DATA	"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"

typedef unsigned char	uchar;

/* ------------------------------------------------------------------ */
/* Helpers. */

static struct sock_addr
mk4(const char *host, unsigned port)
{
	struct sock_addr sa;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&sa.ss;

	memset(&sa, 0, sizeof(sa));
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		abort();
	sa.len = sizeof(*s4);
	return (sa);
}

static struct sock_addr
mk6(const char *host, unsigned port)
{
	struct sock_addr sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa.ss;

	memset(&sa, 0, sizeof(sa));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)port);
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
		abort();
	sa.len = sizeof(*s6);
	return (sa);
}

/*
 * A UNIX address of the n bytes at path, as the kernel reports it: a
 * pathname with its NUL counted if it fits, an abstract name (path[0]
 * NUL) as is, n 0 unnamed.
 */
static struct sock_addr
mkunix(const char *path, size_t n)
{
	struct sock_addr sa;
	struct sockaddr_un *sun = (struct sockaddr_un *)&sa.ss;
	size_t off = offsetof(struct sockaddr_un, sun_path);

	memset(&sa, 0, sizeof(sa));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	sa.len = (socklen_t)(off + n + (n > 0 && path[0] != '\0' && n < 108));
	return (sa);
}

/* Same family, same length, same bytes. */
static int
same(const struct sock_addr *a, const struct sock_addr *b)
{
	return (a->ss.ss_family == b->ss.ss_family && a->len == b->len &&
	    memcmp(&a->ss, &b->ss, a->len) == 0);
}

static const char *
fmt(const struct sock_addr *sa, char *buf)
{
	return (sock_addr_format(sa, buf, SOCK_ADDR_STRLEN));
}

/*
 * Parse, checking what holds whatever the result: *why NULL unless
 * INVALID, hdr and used untouched unless DONE.  Returns the result, or
 * -1 if one of those broke.
 */
static int
parse(const void *buf, size_t len, struct proxyproto_header *hdr,
    size_t *used)
{
	struct proxyproto_header h;
	size_t u = (size_t)-1;
	const char *why = "unset";
	int r;

	memset(&h, 0xa5, sizeof(h));
	r = proxyproto_parse(buf, len, &h, &u, &why);
	if (r == DONE) {
		if (why != NULL || u > len)
			return (-1);
		if (hdr != NULL)
			*hdr = h;
		if (used != NULL)
			*used = u;
		return (r);
	}
	if (u != (size_t)-1 || ((uchar *)&h)[0] != 0xa5 ||
	    (r == MORE && why != NULL) || (r == BAD && why == NULL))
		return (-1);
	return (r);
}

/* ------------------------------------------------------------------ */
/* The table: specification examples, real headers, bad ones. */

struct tcase {
	const char	*what;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	int		 ret;
	int		 version, local;
	const char	*src, *dst;	/* as sock_addr_format() writes */
	const char	*why;		/* if BAD, the reason */
};

#define OK1(w, in, s, d)	{ w, in, 0, DONE, 1, 0, s, d, NULL }
#define LOC1(w, in)		{ w, in, 0, DONE, 1, 1, NULL, NULL, NULL }
#define NO1(w, in, why)		{ w, in, 0, BAD, 0, 0, NULL, NULL, why }
#define MORE1(w, in)		{ w, in, 0, MORE, 0, 0, NULL, NULL, NULL }
/* The v2 ones hold NULs: their length is the literal's. */
#define OK2(w, in, s, d)						\
	{ w, in, sizeof(in) - 1, DONE, 2, 0, s, d, NULL }
#define LOC2(w, in)							\
	{ w, in, sizeof(in) - 1, DONE, 2, 1, NULL, NULL, NULL }
#define NO2(w, in, why)							\
	{ w, in, sizeof(in) - 1, BAD, 0, 0, NULL, NULL, why }
#define MORE2(w, in)							\
	{ w, in, sizeof(in) - 1, MORE, 0, 0, NULL, NULL, NULL }

/* 192.168.0.1:56324 -> 192.168.0.11:443, v2 address block. */
#define A4	"\xc0\xa8\x00\x01" "\xc0\xa8\x00\x0b" "\xdc\x04" "\x01\xbb"
/* [2001:db8::1]:1234 -> [2001:db8::2]:443 */
#define A6	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"		\
		"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02"		\
		"\x04\xd2" "\x01\xbb"

#define IP6MAX	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

static const struct tcase cases[] = {
	/* v1, the specification's examples. */
	OK1("spec v1 TCP4", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443"
	    "\r\n", "192.168.0.1:56324", "192.168.0.11:443"),
	OK1("spec v1 longest TCP4", "PROXY TCP4 255.255.255.255 "
	    "255.255.255.255 65535 65535\r\n", "255.255.255.255:65535",
	    "255.255.255.255:65535"),
	OK1("spec v1 longest TCP6", "PROXY TCP6 " IP6MAX " " IP6MAX
	    " 65535 65535\r\n", "[" IP6MAX "]:65535", "[" IP6MAX "]:65535"),
	LOC1("spec v1 UNKNOWN", "PROXY UNKNOWN\r\n"),
	LOC1("spec v1 worst case, 107 bytes", "PROXY UNKNOWN " IP6MAX " "
	    IP6MAX " 65535 65535\r\n"),

	/* v1 as nginx, HAProxy and others send it. */
	OK1("nginx TCP4", "PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n",
	    "203.0.113.7:51234", "10.0.0.1:80"),
	OK1("TCP6 compressed", "PROXY TCP6 2001:db8::7 2001:db8::1 51234 443"
	    "\r\n", "[2001:db8::7]:51234", "[2001:db8::1]:443"),
	OK1("TCP6 upper case", "PROXY TCP6 2001:DB8::A FE80::1 1 2\r\n",
	    "[2001:db8::a]:1", "[fe80::1]:2"),
	OK1("TCP6 IPv4-mapped", "PROXY TCP6 ::ffff:10.1.2.3 ::ffff:10.0.0.1 "
	    "1 2\r\n", "[::ffff:10.1.2.3]:1", "[::ffff:10.0.0.1]:2"),
	OK1("TCP6 unspecified and loopback", "PROXY TCP6 :: ::1 0 65535\r\n",
	    "[::]:0", "[::1]:65535"),
	OK1("TCP4 zeros", "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", "0.0.0.0:0",
	    "0.0.0.0:0"),
	LOC1("UNKNOWN with addresses", "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2"
	    "\r\n"),
	LOC1("UNKNOWN with anything", "PROXY UNKNOWN \x01\x7f\xff x\r\n"),
	LOC1("UNKNOWN with a space only", "PROXY UNKNOWN \r\n"),

	/* v1 refused. */
	NO1("HTTP", "GET / HTTP/1.1\r\n", "not a PROXY protocol header"),
	NO1("TLS", "\x16\x03\x01\x02\x00", "not a PROXY protocol header"),
	NO1("lower case proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    "not a PROXY protocol header"),
	NO1("PROXY without space", "PROXY\r\n", "bad v1 signature"),
	NO1("two spaces after PROXY", "PROXY  TCP4", "bad v1 protocol"),
	NO1("TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 protocol"),
	NO1("UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 protocol"),
	NO1("UNKNOWNX", "PROXY UNKNOWNX\r\n", "bad v1 protocol"),
	NO1("TCP4 without addresses", "PROXY TCP4\r\n", "bad v1 protocol"),
	NO1("TCP4 with IPv6", "PROXY TCP4 ::1 ::1 1 2\r\n",
	    "bad v1 IPv4 address"),
	NO1("TCP4 with mapped IPv6", "PROXY TCP4 ::ffff:1.2.3.4 1.2.3.4 1 2"
	    "\r\n", "bad v1 IPv4 address"),
	NO1("TCP6 with IPv4", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
	    "bad v1 IPv6 address"),
	NO1("IPv4 leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
	    "bad v1 IPv4 address"),
	NO1("IPv4 octet 256", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
	    "bad v1 IPv4 address"),
	NO1("IPv4 three parts", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
	    "bad v1 IPv4 address"),
	NO1("IPv4 five parts", "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",
	    "bad v1 IPv4 address"),
	NO1("IPv4 hex", "PROXY TCP4 0x1.2.3.4 5.6.7.8 1 2\r\n",
	    "bad v1 IPv4 address"),
	NO1("IPv6 with scope", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
	    "v1 fields not parted by one space"),
	NO1("IPv6 five hex digits", "PROXY TCP6 12345::1 ::1 1 2\r\n",
	    "bad v1 IPv6 address"),
	NO1("IPv6 two ::", "PROXY TCP6 1::2::3 ::1 1 2\r\n",
	    "bad v1 IPv6 address"),
	NO1("IPv6 seven groups", "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n",
	    "bad v1 IPv6 address"),
	NO1("IPv6 nine groups", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
	    "bad v1 IPv6 address"),
	NO1("two spaces", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
	    "bad v1 IPv4 address"),
	NO1("tab", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
	    "v1 fields not parted by one space"),
	NO1("port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
	    "bad v1 port"),
	NO1("port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
	    "bad v1 port"),
	NO1("port with +", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
	    "bad v1 port"),
	NO1("port with -", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
	    "bad v1 port"),
	NO1("a port missing", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
	    "v1 fields not parted by one space"),
	NO1("a field too many", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
	    "v1 line not ended by CRLF"),
	NO1("bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
	    "v1 line not ended by CRLF"),
	NO1("CR then no LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
	    "v1 line not ended by CRLF"),
	NO1("space before CRLF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
	    "v1 line not ended by CRLF"),
	NO1("UNKNOWN bare LF", "PROXY UNKNOWN\n",
	    "v1 line not ended by CRLF"),
	NO1("UNKNOWN rest, bare LF", "PROXY UNKNOWN x\nGET",
	    "v1 line not ended by CRLF"),
	NO1("UNKNOWN rest, CR then no LF", "PROXY UNKNOWN x\rx\r\n",
	    "v1 line not ended by CRLF"),
	NO1("TCP6 over 107 bytes", "PROXY TCP6 " "ffff:ffff:ffff:ffff:ffff:"
	    "ffff:255.255.255.255 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
	    " 65535 65535\r\n", "v1 line over 107 bytes"),

	/* v1 prefixes: more. */
	MORE1("empty", ""),
	MORE1("P", "P"),
	MORE1("PRO", "PRO"),
	MORE1("PROXY TCP", "PROXY TCP"),
	MORE1("PROXY UNK", "PROXY UNK"),
	MORE1("line without CRLF yet", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2"),
	MORE1("line up to CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"),

	/* v2, real headers. */
	OK2("HAProxy v2 TCP4", SIG "\x21\x11\x00\x0c" A4, "192.168.0.1:56324",
	    "192.168.0.11:443"),
	OK2("v2 UDP4 (accepted)", SIG "\x21\x12\x00\x0c" A4,
	    "192.168.0.1:56324", "192.168.0.11:443"),
	OK2("HAProxy v2 TCP6", SIG "\x21\x21\x00\x24" A6,
	    "[2001:db8::1]:1234", "[2001:db8::2]:443"),
	OK2("v2 UDP6 (accepted)", SIG "\x21\x22\x00\x24" A6,
	    "[2001:db8::1]:1234", "[2001:db8::2]:443"),
	LOC2("HAProxy health check: LOCAL", SIG "\x20\x00\x00\x00"),
	LOC2("LOCAL with an address block", SIG "\x20\x11\x00\x0c" A4),
	LOC2("LOCAL with a family, length 0", SIG "\x20\x11\x00\x00"),
	LOC2("LOCAL with UNIX, length 0", SIG "\x20\x31\x00\x00"),
	LOC2("PROXY with AF_UNSPEC", SIG "\x21\x00\x00\x00"),
	LOC2("PROXY with AF_UNSPEC, 12 bytes skipped", SIG "\x21\x00\x00\x0c"
	    A4),
	OK2("TCP4 with a NOOP TLV", SIG "\x21\x11\x00\x0f" A4 "\x04\x00\x00",
	    "192.168.0.1:56324", "192.168.0.11:443"),
	OK2("TCP4 with bytes that are no TLV", SIG "\x21\x11\x00\x0e" A4
	    "\xff\xff", "192.168.0.1:56324", "192.168.0.11:443"),
	OK2("AWS NLB: TCP4 with a VPC endpoint TLV", SIG "\x21\x11\x00\x26" A4
	    "\xea\x00\x17\x01vpce-08d2bf15fac5001c9", "192.168.0.1:56324",
	    "192.168.0.11:443"),

	/* v2 refused. */
	NO2("v2 signature, bad byte 12", "\r\n\r\n\0\r\nQUIX\n\x21",
	    "bad v2 signature"),
	NO2("CR LF then HTTP", "\r\nGET", "bad v2 signature"),
	NO2("version 1 in v2", SIG "\x11\x11\x00\x0c" A4, "bad v2 version"),
	NO2("version 3", SIG "\x31\x11\x00\x0c" A4, "bad v2 version"),
	NO2("command 2", SIG "\x22", "bad v2 command"),
	NO2("command 15", SIG "\x2f\x11\x00\x0c" A4, "bad v2 command"),
	NO2("family 0x13", SIG "\x21\x13", "bad v2 family"),
	NO2("family 0x41", SIG "\x21\x41", "bad v2 family"),
	NO2("family 0x10", SIG "\x21\x10", "bad v2 family"),
	NO2("family 0x01", SIG "\x21\x01", "bad v2 family"),
	NO2("LOCAL, family 0x44", SIG "\x20\x44", "bad v2 family"),
	NO2("TCP4, length 11", SIG "\x21\x11\x00\x0b",
	    "v2 length too short for its addresses"),
	NO2("TCP6, length 12", SIG "\x21\x21\x00\x0c",
	    "v2 length too short for its addresses"),
	NO2("UNIX, length 215", SIG "\x21\x31\x00\xd7",
	    "v2 length too short for its addresses"),
	NO2("length 4081", SIG "\x20\x00\x0f\xf1", "v2 header over 4096 bytes"),
	NO2("length 65535", SIG "\x21\x11\xff\xff",
	    "v2 header over 4096 bytes"),

	/* v2 prefixes: more. */
	MORE2("CR", "\r"),
	MORE2("five signature bytes", "\r\n\r\n\0"),
	MORE2("signature", SIG),
	MORE2("signature, version", SIG "\x21"),
	MORE2("length longer than the bytes", SIG "\x21\x11\x00\x10" A4),
	MORE2("length 4080, 16 bytes", SIG "\x20\x00\x0f\xf0"),
};

static size_t
len_of(const struct tcase *c)
{
	return (c->len != 0 ? c->len : strlen(c->in));
}

/* One case: the result, the reason, and on DONE what hdr says. */
static void
test_case(const struct tcase *c)
{
	struct proxyproto_header h;
	char s[SOCK_ADDR_STRLEN], d[SOCK_ADDR_STRLEN];
	const char *why;
	size_t len = len_of(c), used = 0, u;
	int r;

	r = parse(c->in, len, &h, &used);
	if (c->ret != DONE) {
		proxyproto_parse(c->in, len, &h, &u, &why);
		CHECK(r == c->ret && (c->why == NULL || (why != NULL &&
		    strcmp(why, c->why) == 0)), "%s: %d %s (got %d %s)",
		    c->what, c->ret, c->why ? c->why : "", r, why ? why : "");
		return;
	}
	if (r != DONE) {
		CHECK(0, "%s: done (got %d)", c->what, r);
		return;
	}
	fmt(&h.src, s);
	fmt(&h.dst, d);
	CHECK(h.version == c->version && h.local == c->local &&
	    used == len &&
	    (c->local ? h.src.ss.ss_family == AF_UNSPEC && h.src.len == 0 &&
	    h.dst.ss.ss_family == AF_UNSPEC && h.dst.len == 0 :
	    strcmp(s, c->src) == 0 && strcmp(d, c->dst) == 0),
	    "%s: v%d, local %d, %s -> %s, %zu bytes (got v%d, local %d, "
	    "%s -> %s, %zu)", c->what, c->version, c->local,
	    c->src ? c->src : "-", c->dst ? c->dst : "-", len, h.version,
	    h.local, s, d, used);
}

/*
 * The bytes of buf (a whole header of n bytes) at every prefix length:
 * MORE up to n - 1, DONE at n; and with the client's bytes after it,
 * DONE for n bytes exactly.  Returns the count of broken rules.
 */
static int
prefixes_done(const void *buf, size_t n)
{
	static uchar more[PROXYPROTO_HEADER_MAX + sizeof(DATA)];
	struct proxyproto_header h, h2;
	size_t k, used;
	int bad = 0;

	for (k = 0; k < n; k++)
		bad += parse(buf, k, NULL, NULL) != MORE;
	bad += parse(buf, n, &h, &used) != DONE || used != n;
	memcpy(more, buf, n);
	memcpy(more + n, DATA, sizeof(DATA) - 1);
	for (k = n; k <= n + sizeof(DATA) - 1; k++) {
		bad += parse(more, k, &h2, &used) != DONE || used != n ||
		    h2.local != h.local || !same(&h.src, &h2.src) ||
		    !same(&h.dst, &h2.dst);
	}
	return (bad);
}

/*
 * Every prefix of a case: a DONE case as above; a refused one is MORE
 * until its error shows, then the same error at every longer prefix.
 */
static void
test_prefixes(const struct tcase *c)
{
	size_t len = len_of(c), k;
	int r, bad = 0, seen = MORE;

	if (c->ret == DONE) {
		bad = prefixes_done(c->in, len);
	} else {
		for (k = 0; k <= len; k++) {
			r = parse(c->in, k, NULL, NULL);
			if (r == DONE || r == -1 || (seen != MORE && r != seen))
				bad++;
			if (r != MORE)
				seen = r;
		}
	}
	CHECK(bad == 0, "%s: every prefix of %zu bytes consistent", c->what,
	    len);
}

/* The first byte decides, and so does each byte after it. */
static void
test_first_bytes(void)
{
	int r1, r2, r3;

	r1 = parse("GET / HTTP/1.1", 1, NULL, NULL);
	r2 = parse("PRO", 3, NULL, NULL);
	r3 = parse("\r\n\r\n\0", 5, NULL, NULL);
	CHECK(r1 == BAD && r2 == MORE && r3 == MORE, "\"G\" invalid, \"PRO\" "
	    "and \"\\r\\n\\r\\n\\0\" more (got %d %d %d)", r1, r2, r3);
	r1 = parse("PROXX", 5, NULL, NULL);
	r2 = parse("\r\r", 2, NULL, NULL);
	r3 = parse("\0", 1, NULL, NULL);
	CHECK(r1 == BAD && r2 == BAD && r3 == BAD, "\"PROXX\", \"\\r\\r\", "
	    "\"\\0\" invalid at once (got %d %d %d)", r1, r2, r3);
}

/* ------------------------------------------------------------------ */
/* Limits. */

/* A v1 UNKNOWN line of n bytes, CRLF included, in buf. */
static size_t
unknown_line(char *buf, size_t n)
{
	memcpy(buf, "PROXY UNKNOWN ", 14);
	memset(buf + 14, 'x', n - 16);
	memcpy(buf + n - 2, "\r\n", 2);
	return (n);
}

static void
test_v1_limit(void)
{
	char buf[256];
	size_t used = 0;
	int r, r2;

	unknown_line(buf, 107);
	r = parse(buf, 107, NULL, &used);
	CHECK(r == DONE && used == 107 && prefixes_done(buf, 107) == 0,
	    "UNKNOWN line of 107 bytes: done at 107, more before (got %d)", r);
	unknown_line(buf, 108);
	r = parse(buf, 108, NULL, NULL);
	CHECK(r == BAD, "UNKNOWN line of 108 bytes: invalid (got %d)", r);
	memset(buf + 14, 'x', 200);
	r = parse(buf, 107, NULL, NULL);
	r2 = parse(buf, 214, NULL, NULL);
	CHECK(r == BAD && r2 == BAD, "107 and 214 bytes without CRLF: "
	    "invalid (got %d %d)", r, r2);
	/* The line can no longer end in time once byte 106 is no CR. */
	r = parse(buf, 105, NULL, NULL);
	r2 = parse(buf, 106, NULL, NULL);
	CHECK(r == MORE && r2 == BAD, "no CRLF: more at 105 bytes, invalid "
	    "at 106 (got %d %d)", r, r2);
	buf[105] = '\r';
	r = parse(buf, 106, NULL, NULL);
	r2 = parse(buf, 107, NULL, NULL);
	CHECK(r == MORE && r2 == BAD, "CR at byte 106, then no LF: more, "
	    "then invalid (got %d %d)", r, r2);
}

/*
 * TCP6 lines with dotted tails can outgrow 107 bytes: the line is
 * refused at the first byte after which it cannot end by then.
 */
static void
test_v1_limit_tcp6(void)
{
	static const char line[] = "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 0 0\r\n";
	char buf[256];
	size_t used = 0;
	int r, r2;

	/* 57 + 44 bytes, then " 0 0\r\n" is 107 in all. */
	r = parse(line, 101, NULL, NULL);
	r2 = parse(line, 102, NULL, NULL);
	CHECK(r == MORE && r2 == BAD, "TCP6 line of 108: more at 101 bytes, "
	    "invalid at 102 (got %d %d)", r, r2);
	memcpy(buf, line, 101);
	memcpy(buf + 101, " 0 0\r\n", 6);
	r = parse(buf, 107, NULL, &used);
	CHECK(r == DONE && used == 107 && prefixes_done(buf, 107) == 0,
	    "TCP6 line of exactly 107 bytes: done (got %d)", r);
}

/* A v2 header: 16 bytes, the block, and TLVs, built in buf. */
static size_t
v2_build(uchar *buf, int ver_cmd, int fam, const void *block, size_t blen,
    const void *tlvs, size_t tlen)
{
	size_t n = blen + tlen;

	memcpy(buf, SIG, 12);
	buf[12] = (uchar)ver_cmd;
	buf[13] = (uchar)fam;
	buf[14] = (uchar)(n >> 8);
	buf[15] = (uchar)n;
	memcpy(buf + 16, block, blen);
	if (tlen > 0)
		memcpy(buf + 16 + blen, tlvs, tlen);
	return (16 + n);
}

static void
test_v2_limit(void)
{
	static uchar buf[PROXYPROTO_HEADER_MAX + 64], pad[4200];
	size_t n, used = 0;
	int r, r2;

	memset(pad, 0xee, sizeof(pad));
	n = v2_build(buf, 0x21, 0x11, A4, 12, pad, 4096 - 16 - 12);
	r = parse(buf, n, NULL, &used);
	CHECK(n == 4096 && r == DONE && used == 4096 &&
	    prefixes_done(buf, n) == 0, "v2 header of 4096 bytes: done "
	    "(got %d)", r);
	n = v2_build(buf, 0x21, 0x11, A4, 12, pad, 4097 - 16 - 12);
	r = parse(buf, 15, NULL, NULL);
	r2 = parse(buf, 16, NULL, NULL);
	CHECK(n == 4097 && r == MORE && r2 == BAD && parse(buf, n, NULL,
	    NULL) == BAD, "v2 header of 4097 bytes: more at 15 bytes, "
	    "invalid at 16 (got %d %d)", r, r2);
	/* A length that lies long: the client's bytes are not taken. */
	n = v2_build(buf, 0x21, 0x11, A4, 12, NULL, 0);
	buf[15] = 12 + 40;
	memcpy(buf + n, DATA, sizeof(DATA) - 1);
	r = parse(buf, n + sizeof(DATA) - 1, NULL, NULL);
	CHECK(r == MORE, "v2 length 40 over the header, client bytes after: "
	    "more (got %d)", r);
}

/* ------------------------------------------------------------------ */
/* v2 with TLVs and UNIX addresses. */

/* CRC32C (Castagnoli, reflected), bit by bit. */
static uint32_t
crc32c(const uchar *p, size_t n)
{
	uint32_t crc = 0xffffffff;
	int k;

	while (n-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return (crc ^ 0xffffffff);
}

/*
 * HAProxy's send-proxy-v2 with proxy-v2-options ssl,crc32c,unique-id,
 * authority, alpn: TLVs ALPN, AUTHORITY, CRC32C, NOOP, UNIQUE_ID and
 * SSL (with a version sub-TLV), the checksum right or wrong.
 */
static void
test_v2_tlvs(void)
{
	static const char tlvs[] =
	    "\x01\x00\x02" "h2"
	    "\x02\x00\x0b" "example.com"
	    "\x03\x00\x04" "\0\0\0\0"
	    "\x04\x00\x03" "\0\0\0"
	    "\x05\x00\x08" "abcdefgh"
	    "\x20\x00\x0f" "\x01" "\0\0\0\0" "\x21\x00\x07" "TLSv1.3";
	uchar buf[256];
	struct proxyproto_header h;
	char s[SOCK_ADDR_STRLEN], d[SOCK_ADDR_STRLEN];
	uint32_t crc;
	size_t n, at, used = 0;
	int r;

	n = v2_build(buf, 0x21, 0x11, A4, 12, tlvs, sizeof(tlvs) - 1);
	at = 16 + 12 + 5 + 14 + 3;
	crc = crc32c(buf, n);
	buf[at] = (uchar)(crc >> 24);
	buf[at + 1] = (uchar)(crc >> 16);
	buf[at + 2] = (uchar)(crc >> 8);
	buf[at + 3] = (uchar)crc;
	r = parse(buf, n, &h, &used);
	CHECK(r == DONE && used == n && used == 16 + 12 + 61 && !h.local &&
	    strcmp(fmt(&h.src, s), "192.168.0.1:56324") == 0 &&
	    strcmp(fmt(&h.dst, d), "192.168.0.11:443") == 0 &&
	    prefixes_done(buf, n) == 0, "HAProxy v2 with ALPN, AUTHORITY, "
	    "CRC32C, NOOP, UNIQUE_ID, SSL: done, %zu bytes (got %d)", n, r);
	buf[at] ^= 0xff;
	r = parse(buf, n, &h, &used);
	CHECK(r == DONE && used == n, "a wrong CRC32C is not checked: done "
	    "(got %d)", r);
	/* A TLV whose length runs past the header is not looked at. */
	n = v2_build(buf, 0x21, 0x11, A4, 12, "\x02\xff\xff" "x", 4);
	r = parse(buf, n, &h, &used);
	CHECK(r == DONE && used == n, "a TLV overrunning the header is "
	    "skipped: done (got %d)", r);
}

static void
test_v2_unix(void)
{
	uchar buf[256], block[216];
	struct proxyproto_header h;
	struct sock_addr s, d;
	size_t n, off = offsetof(struct sockaddr_un, sun_path), used = 0;
	int r;

	memset(block, 0, sizeof(block));
	memcpy(block, "/run/haproxy.sock", 17);
	n = v2_build(buf, 0x21, 0x31, block, 216, NULL, 0);
	r = parse(buf, n, &h, &used);
	s = mkunix("/run/haproxy.sock", 17);
	d = mkunix("", 0);
	CHECK(r == DONE && used == 232 && !h.local && same(&h.src, &s) &&
	    h.src.len == off + 18 && same(&h.dst, &d) && h.dst.len == off &&
	    prefixes_done(buf, n) == 0, "v2 UNIX: a path, and an unnamed "
	    "peer (got %d)", r);
	memset(block, 'a', 108);
	memcpy(block + 108, "\0abstract", 9);
	n = v2_build(buf, 0x21, 0x32, block, 216, "\x04\x00\x00", 3);
	r = parse(buf, n, &h, &used);
	s = mkunix((const char *)block, 108);
	d = mkunix("\0abstract", 9);
	CHECK(r == DONE && used == 235 && same(&h.src, &s) &&
	    h.src.len == off + 108 && same(&h.dst, &d) &&
	    h.dst.len == off + 9, "v2 UNIX dgram: a 108-byte path without "
	    "NUL, an abstract name (got %d)", r);
	memset(block, 0, sizeof(block));
	memcpy(block, "/a\0garbage", 10);
	n = v2_build(buf, 0x21, 0x31, block, 216, NULL, 0);
	r = parse(buf, n, &h, &used);
	s = mkunix("/a", 2);
	CHECK(r == DONE && same(&h.src, &s), "v2 UNIX: bytes after the "
	    "path's NUL are dropped (got %d)", r);
}

/* ------------------------------------------------------------------ */
/* v1 address texts against inet_pton(3). */

/* Completions that finish any IPv6 text prefix in the fewest bytes. */
static const char *const fills6[] = {
	"", "0", ":", "::", ".0", ".0.0", ".0.0.0", "0.0", "0.0.0",
};
static const char *const fills4[] = {
	"", "0", ".0", ".0.0", ".0.0.0", "0.0", "0.0.0", "0.0.0.0",
};

/*
 * The text t as the source address of a line of family: 1 if whole
 * lines take exactly what inet_pton takes (the same address) and
 * prefixes are MORE exactly when a completion makes a valid address;
 * else 0.
 */
static int
text_agrees(const char *t, int family)
{
	char line[256], host[64];
	struct proxyproto_header h;
	uchar want[16];
	const char *const *fills = family == AF_INET ? fills4 : fills6;
	size_t nf = family == AF_INET ? 8 : 9, i, n;
	int ok, r, can = 0;
	const uchar *got;

	n = (size_t)snprintf(line, sizeof(line), "PROXY %s %s %s 1 2\r\n",
	    family == AF_INET ? "TCP4" : "TCP6", t,
	    family == AF_INET ? "1.2.3.4" : "::1");
	ok = inet_pton(family, t, want) == 1;
	r = parse(line, n, &h, NULL);
	if (r != (ok ? DONE : BAD))
		return (0);
	got = family == AF_INET ?
	    (const uchar *)&((struct sockaddr_in *)&h.src.ss)->sin_addr :
	    ((struct sockaddr_in6 *)&h.src.ss)->sin6_addr.s6_addr;
	if (ok && memcmp(got, want, family == AF_INET ? 4 : 16) != 0)
		return (0);
	for (i = 0; i < nf && !can; i++) {
		snprintf(host, sizeof(host), "%s%s", t, fills[i]);
		can = inet_pton(family, host, want) == 1;
	}
	r = parse(line, 11 + strlen(t), NULL, NULL);
	return (r == (can ? MORE : BAD));
}

/* Every text of up to len bytes over alpha. */
static void
exhaust(const char *alpha, size_t len, int family)
{
	char t[16];
	size_t na = strlen(alpha), idx[16], k, i;
	int count = 0, bad = 0;

	for (k = 0; k <= len; k++) {
		memset(idx, 0, sizeof(idx));
		for (;;) {
			for (i = 0; i < k; i++)
				t[i] = alpha[idx[i]];
			t[k] = '\0';
			count++;
			if (!text_agrees(t, family) && bad++ < 5)
				printf("# disagrees: \"%s\"\n", t);
			for (i = 0; i < k && ++idx[i] == na; i++)
				idx[i] = 0;
			if (i == k)
				break;
		}
	}
	CHECK(bad == 0, "%s texts over \"%s\" up to %zu bytes agree with "
	    "inet_pton: %d texts, %d disagree",
	    family == AF_INET ? "IPv4" : "IPv6", alpha, len, count, bad);
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

/* A random IPv6 text, often valid, often long. */
static size_t
random_ip6(char *t)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	char *p = t;
	int g = 1 + (int)rnd(8), gap = rnd(3) == 0 ? (int)rnd((uint32_t)g + 1)
	    : -1, dotted = rnd(3) == 0, i, k;

	for (i = 0; i < g; i++) {
		if (i == gap)
			p += sprintf(p, "::");
		else if (i > 0)
			*p++ = ':';
		if (dotted && i == g - 1) {
			p += sprintf(p, "%u.%u.%u.%u", rnd(300), rnd(256),
			    rnd(256), rnd(2) ? 255 : rnd(256));
			break;
		}
		for (k = 1 + (int)(rnd(3) ? 3 : rnd(4)); k > 0; k--)
			*p++ = hex[rnd(sizeof(hex) - 1)];
	}
	if (gap == g)
		p += sprintf(p, "::");
	*p = '\0';
	if (rnd(8) == 0 && p > t)		/* a random byte changed */
		t[rnd((uint32_t)(p - t))] = ":.0fg"[rnd(5)];
	return ((size_t)(p - t));
}

/* A valid IPv6 text of exactly n bytes (2 <= n <= 45) in t. */
static void
ip6_of_len(char *t, size_t n)
{
	size_t r, d, i;
	char *p = t;

	if (n >= 40) {
		/* Six full groups and a dotted quad of n - 30 bytes. */
		p += sprintf(p, "ffff:ffff:ffff:ffff:ffff:ffff:");
		for (r = n - 30 - 7, i = 0; i < 4; i++) {
			d = r < 2 ? r : 2;
			r -= d;
			p += sprintf(p, "%s1%.*s", i > 0 ? "." : "", (int)d,
			    "00");
		}
	} else if (n >= 15) {
		/* Eight groups of 1 to 4 digits. */
		for (r = n - 15, i = 0; i < 8; i++) {
			d = r < 3 ? r : 3;
			r -= d;
			p += sprintf(p, "%s0%.*s", i > 0 ? ":" : "", (int)d,
			    "000");
		}
	} else {
		/* "::" and groups, none leaving a lone byte. */
		p += sprintf(p, "::");
		for (r = n - 2, i = 0; r > 0; i++) {
			d = (i > 0 ? r - 1 : r) < 4 ? (i > 0 ? r - 1 : r) : 4;
			if ((i > 0 ? r - 1 : r) - d == 1)
				d--;
			p += sprintf(p, "%s%.*s", i > 0 ? ":" : "", (int)d,
			    "0000");
			r -= d + (i > 0);
		}
	}
	*p = '\0';
}

/*
 * The text t as the destination address, after a source of the length
 * that leaves exactly room bytes beyond t and the least rest of the
 * line (" 0 0\r\n") within 107: MORE only if t completes in room bytes.
 */
static int
limit_agrees(const char *t, size_t room)
{
	char line[256], host[64], src[64];
	uchar a[16];
	long sl = 89 - (long)strlen(t) - (long)room;
	size_t i;
	int can = 0, r;

	if (sl < 2 || sl > 45)
		return (1);		/* no source that long or short */
	ip6_of_len(src, (size_t)sl);
	if (strlen(src) != (size_t)sl || inet_pton(AF_INET6, src, a) != 1)
		return (0);
	for (i = 0; i < sizeof(fills6) / sizeof(fills6[0]) && !can; i++) {
		snprintf(host, sizeof(host), "%s%s", t, fills6[i]);
		can = strlen(fills6[i]) <= room &&
		    inet_pton(AF_INET6, host, a) == 1;
	}
	snprintf(line, sizeof(line), "PROXY TCP6 %s %s", src, t);
	r = parse(line, strlen(line), NULL, NULL);
	return (r == (can ? MORE : BAD));
}

static void
test_texts(void)
{
	char t[64], p[64];
	int i, k, bad = 0, bad2 = 0, checked = 0, room;
	size_t n;

	exhaust("019aF:.", 7, AF_INET6);
	exhaust("0125:.", 7, AF_INET);
	exhaust("0.", 14, AF_INET);
	for (i = 0; i < 20000; i++) {
		n = random_ip6(t);
		/* Every prefix of the text. */
		for (k = 0; k <= (int)n; k++) {
			memcpy(p, t, (size_t)k);
			p[k] = '\0';
			if (!text_agrees(p, AF_INET6) && bad++ < 5)
				printf("# disagrees: \"%s\"\n", p);
			for (room = 0; room < 8 && p[0] != '\0'; room++) {
				checked++;
				if (!limit_agrees(p, (size_t)room) &&
				    bad2++ < 5)
					printf("# limit disagrees: \"%s\" "
					    "room %d\n", p, room);
			}
		}
	}
	CHECK(bad == 0, "random IPv6 texts and their prefixes agree with "
	    "inet_pton: %d disagree", bad);
	CHECK(bad2 == 0, "IPv6 prefixes near the 107-byte end: MORE exactly "
	    "when they can still end in time: %d of %d disagree", bad2,
	    checked);
}

/* ------------------------------------------------------------------ */
/* The writer. */

static struct sock_addr	inet_set[12], unix_set[6];
static size_t		n_inet, n_unix;

static void
make_sets(void)
{
	char path[109];

	inet_set[n_inet++] = mk4("0.0.0.0", 0);
	inet_set[n_inet++] = mk4("127.0.0.1", 65535);
	inet_set[n_inet++] = mk4("192.168.0.1", 56324);
	inet_set[n_inet++] = mk4("255.255.255.255", 1);
	inet_set[n_inet++] = mk6("::", 0);
	inet_set[n_inet++] = mk6("::1", 65535);
	inet_set[n_inet++] = mk6("2001:db8::1", 443);
	inet_set[n_inet++] = mk6("fe80::1:2:3:4", 8080);
	inet_set[n_inet++] = mk6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    65535);
	inet_set[n_inet++] = mk6("::ffff:192.0.2.1", 0);	/* mapped */
	inet_set[n_inet++] = mk6("::1.2.3.4", 7);		/* compat */
	inet_set[n_inet++] = mk6("1:0:0:2::3", 9);

	memset(path, 'p', sizeof(path));
	path[0] = '/';
	unix_set[n_unix++] = mkunix("/run/aio-echod.sock", 19);
	unix_set[n_unix++] = mkunix("", 0);			/* unnamed */
	unix_set[n_unix++] = mkunix(path, 107);
	unix_set[n_unix++] = mkunix(path, 108);		/* no NUL */
	unix_set[n_unix++] = mkunix("\0abstract", 9);
	unix_set[n_unix++] = mkunix("/", 1);
}

/*
 * Write v for s -> d, check the header fits no smaller buffer, parse
 * it back: 0 if it gives ws -> wd (NULL: local) in exactly its length.
 */
static int
round_trip(int v, const struct sock_addr *s, const struct sock_addr *d,
    const struct sock_addr *ws, const struct sock_addr *wd)
{
	uchar buf[512];
	struct proxyproto_header h;
	size_t n, used = 0;

	n = proxyproto_write(buf, sizeof(buf), v, s, d);
	if (n == 0 || n > (v == 1 ? PROXYPROTO_V1_MAX : 16 + 216) ||
	    proxyproto_write(buf, n - 1, v, s, d) != 0 ||
	    proxyproto_write(buf, n, v, s, d) != n)
		return (-1);
	if (parse(buf, n, &h, &used) != DONE || used != n || h.version != v)
		return (-1);
	if (ws == NULL)
		return (h.local ? 0 : -1);
	if (h.local || !same(&h.src, ws) || !same(&h.dst, wd))
		return (-1);
	return (prefixes_done(buf, n) == 0 ? 0 : -1);
}

static void
test_round_trip(void)
{
	const struct sock_addr *s, *d;
	size_t i, j;
	int v, bad = 0, pairs = 0;

	for (v = 1; v <= 2; v++) {
		for (i = 0; i < n_inet; i++) {
			for (j = 0; j < n_inet; j++) {
				s = &inet_set[i];
				d = &inet_set[j];
				if (s->ss.ss_family != d->ss.ss_family)
					continue;
				pairs++;
				bad += round_trip(v, s, d, s, d) != 0;
			}
		}
		CHECK(bad == 0, "v%d: %d IPv4 and IPv6 pairs (ports 0, 65535, "
		    "mapped) round-trip: %d broken", v, pairs, bad);
		bad = pairs = 0;
	}
	for (i = 0; i < n_unix; i++)
		for (j = 0; j < n_unix; j++, pairs++)
			bad += round_trip(2, &unix_set[i], &unix_set[j],
			    &unix_set[i], &unix_set[j]) != 0;
	CHECK(bad == 0, "v2: %d UNIX pairs (unnamed, 107 and 108 bytes, "
	    "abstract) round-trip: %d broken", pairs, bad);
}

/* Mixed families, and no addresses. */
static void
test_write_families(void)
{
	struct sock_addr v4 = mk4("192.0.2.1", 1234), v4b = mk4("10.0.0.1", 80);
	struct sock_addr mapped = mk6("::ffff:10.0.0.1", 80);
	struct sock_addr v6 = mk6("2001:db8::1", 80);
	struct sock_addr v4m = mk6("::ffff:192.0.2.1", 1234);
	struct sock_addr un = mkunix("/tmp/s", 6), other;
	uchar buf[512];
	int v, r1, r2, r3, r4;
	size_t n;

	memset(&other, 0, sizeof(other));
	other.ss.ss_family = AF_PACKET;
	other.len = sizeof(sa_family_t);
	for (v = 1; v <= 2; v++) {
		r1 = round_trip(v, &v4, &mapped, &v4, &v4b);
		r2 = round_trip(v, &mapped, &v4, &v4b, &v4);
		r3 = round_trip(v, &v4, &v6, &v4m, &v6);
		r4 = round_trip(v, &v6, &v4, &v6, &v4m);
		CHECK(r1 == 0 && r2 == 0 && r3 == 0 && r4 == 0, "v%d: IPv4 "
		    "with mapped IPv6 is IPv4, with other IPv6 is mapped IPv6 "
		    "(got %d %d %d %d)", v, r1, r2, r3, r4);
		r1 = round_trip(v, NULL, &v4, NULL, NULL);
		r2 = round_trip(v, &un, &v4, NULL, NULL);
		r3 = round_trip(v, &other, &other, NULL, NULL);
		r4 = v == 1 ? round_trip(v, &un, &un, NULL, NULL) : 0;
		CHECK(r1 == 0 && r2 == 0 && r3 == 0 && r4 == 0, "v%d: no "
		    "source, UNIX with IPv4, AF_PACKET%s: local (got %d %d %d "
		    "%d)", v, v == 1 ? ", UNIX" : "", r1, r2, r3, r4);
	}
	n = proxyproto_write(buf, sizeof(buf), 2, NULL, NULL);
	CHECK(n == 16 && memcmp(buf, SIG "\x20\x00\x00\x00", 16) == 0,
	    "v2 without addresses: LOCAL, AF_UNSPEC, length 0");
	n = proxyproto_write(buf, sizeof(buf), 2, &un, &v4);
	CHECK(n == 16 && memcmp(buf, SIG "\x21\x00\x00\x00", 16) == 0,
	    "v2 UNIX with IPv4: PROXY, AF_UNSPEC, length 0");
	n = proxyproto_write(buf, sizeof(buf), 1, &un, &un);
	CHECK(n == 15 && memcmp(buf, "PROXY UNKNOWN\r\n", 15) == 0,
	    "v1 UNIX: PROXY UNKNOWN");
	n = proxyproto_write(buf, sizeof(buf), 1, &v4, &v4b);
	CHECK(n == 39 && memcmp(buf, "PROXY TCP4 192.0.2.1 10.0.0.1 1234 80"
	    "\r\n", n) == 0, "v1 TCP4 text");
	n = proxyproto_write(buf, sizeof(buf), 2, &v4, &v4b);
	CHECK(n == 28 && memcmp(buf, SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01"
	    "\x0a\x00\x00\x01" "\x04\xd2\x00\x50", n) == 0, "v2 TCP4 bytes");
	r1 = (int)proxyproto_write(buf, sizeof(buf), 0, &v4, &v4b);
	r2 = (int)proxyproto_write(buf, sizeof(buf), 3, &v4, &v4b);
	CHECK(r1 == 0 && r2 == 0, "versions 0 and 3: nothing written");
}

/* ------------------------------------------------------------------ */
/* Random mutations: the rules that hold for any input. */

#define FUZZ_RUNS	200000
#define FUZZ_MAX	(PROXYPROTO_HEADER_MAX + 256)

static uchar	seeds[6][300];
static size_t	seed_len[6];

static void
make_seeds(void)
{
	static const char *const v1[] = {
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /",
		"PROXY TCP6 2001:db8::7 ::ffff:1.2.3.4 51234 443\r\n",
		"PROXY UNKNOWN ffff:: ffff:: 65535 65535\r\n\r\n",
	};
	uchar block[216];
	int i;

	for (i = 0; i < 3; i++) {
		seed_len[i] = strlen(v1[i]);
		memcpy(seeds[i], v1[i], seed_len[i]);
	}
	seed_len[3] = v2_build(seeds[3], 0x21, 0x11, A4, 12, "\x04\x00\x01"
	    "x", 4);
	seed_len[4] = v2_build(seeds[4], 0x21, 0x21, A6, 36, NULL, 0);
	memset(block, 0, sizeof(block));
	memcpy(block, "/a", 2);
	seed_len[5] = v2_build(seeds[5], 0x20, 0x31, block, 216, NULL, 0);
}

static const char	special[] = "\r\n :.0123456789afPROXYTCP46UNKOW"
    "\x00\x01\x02\x03\x0c\x0f\x10\x11\x12\x13\x20\x21\x22\x24\x31\xd8\xff";

static size_t
mutate(uchar *buf, size_t n)
{
	size_t at = n == 0 ? 0 : rnd((uint32_t)n), k;
	int c = rnd(2) ? special[rnd(sizeof(special) - 1)] : (int)rnd(256);

	switch (rnd(5)) {
	case 0:
		if (n > 0)
			buf[at] = (uchar)c;
		break;
	case 1:
		if (n < FUZZ_MAX) {
			memmove(buf + at + 1, buf + at, n - at);
			buf[at] = (uchar)c;
			n++;
		}
		break;
	case 2:
		if (n > 0) {
			memmove(buf + at, buf + at + 1, n - at - 1);
			n--;
		}
		break;
	case 3:
		n = at;
		break;
	case 4:		/* a run of bytes, rarely long */
		k = rnd(64) == 0 ? 4000 + rnd(200) : rnd(16);
		if (n + k <= FUZZ_MAX) {
			memmove(buf + at + k, buf + at, n - at);
			memset(buf + at, c, k);
			n += k;
		}
		break;
	}
	return (n);
}

/* What must hold for the n bytes at work: 0 if it does. */
static int
fuzz_one(const uchar *work, size_t n, int *outcome)
{
	static uchar more[FUZZ_MAX + 8];
	struct proxyproto_header h, h2;
	size_t used = 0, u2 = 0, k;
	uchar *buf;
	int r, ok = 0, fam;

	/* An exact-size copy, so that ASan and valgrind see an overread. */
	if ((buf = malloc(n == 0 ? 1 : n)) == NULL)
		abort();
	memcpy(buf, work, n);
	r = *outcome = parse(buf, n, &h, &used);
	if (r == DONE) {
		fam = h.src.ss.ss_family;
		if (used == 0 || used > (h.version == 1 ? PROXYPROTO_V1_MAX :
		    PROXYPROTO_HEADER_MAX) || (h.local ? fam != AF_UNSPEC :
		    fam != h.dst.ss.ss_family || (fam != AF_INET &&
		    fam != AF_INET6 && (fam != AF_UNIX || h.version == 1))))
			goto out;
		if (parse(buf, used, &h2, &u2) != DONE || u2 != used ||
		    !same(&h.src, &h2.src) || !same(&h.dst, &h2.dst) ||
		    parse(buf, used - 1, NULL, NULL) != MORE)
			goto out;
	} else if (r == MORE) {
		if (n >= (n > 0 && buf[0] == 'P' ? PROXYPROTO_V1_MAX :
		    PROXYPROTO_HEADER_MAX))
			goto out;
		for (k = n > 64 ? n - 64 : 0; k < n; k++)
			if (parse(buf, k, NULL, NULL) != MORE)
				goto out;
	} else if (r == BAD) {
		/* Final: more bytes change nothing. */
		memcpy(more, buf, n);
		memcpy(more + n, "\r\n 1\r\n\0\0", 8);
		for (k = n; k <= n + 8; k++)
			if (parse(more, k, NULL, NULL) != BAD)
				goto out;
	} else
		goto out;
	ok = 1;
out:
	free(buf);
	return (ok ? 0 : -1);
}

static void
test_fuzz(void)
{
	static uchar work[FUZZ_MAX];
	struct timespec t0, t1;
	size_t n;
	int i, j, r, failed = 0, done = 0, more = 0, bad = 0;
	long ms;

	make_seeds();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < FUZZ_RUNS; i++) {
		n = seed_len[i % 6];
		memcpy(work, seeds[i % 6], n);
		for (j = 1 + (int)rnd(3); j > 0; j--)
			n = mutate(work, n);
		if (fuzz_one(work, n, &r) == -1 && failed++ < 3)
			printf("# fuzz case %d (%zu bytes) broke a rule: %d\n",
			    i, n, r);
		done += r == DONE;
		more += r == MORE;
		bad += r == BAD;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(failed == 0, "fuzz: %d mutated headers, %d broke a rule "
	    "(%ld ms)", FUZZ_RUNS, failed, ms);
	CHECK(done > 0 && more > 0 && bad > 0, "fuzz: every outcome "
	    "reached: done %d, more %d, invalid %d", done, more, bad);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_case(&cases[i]);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_prefixes(&cases[i]);
	test_first_bytes();
	test_v1_limit();
	test_v1_limit_tcp6();
	test_v2_limit();
	test_v2_tlvs();
	test_v2_unix();
	test_texts();
	make_sets();
	test_round_trip();
	test_write_families();
	test_fuzz();
	return (check_done());
}
