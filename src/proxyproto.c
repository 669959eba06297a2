/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxyproto.c: the PROXY protocol header, read and written (see
 * proxyproto.h).
 *
 * Owns the syntax of both versions as HAProxy's proxy-protocol.txt
 * gives it, and the rules for turning a header into addresses and back.
 * Reading the header off a socket, deciding which listeners expect one,
 * and logging are the caller's business; so are the v2 TLVs, which are
 * skipped unread.
 *
 * DESIGN: no allocation, no state between calls, no byte read at or
 * past buf + len.  v2 is fixed fields and a length, checked as the
 * bytes arrive.  v1 is read as a list of steps (a literal, an address,
 * a space, a port, CRLF...), each of which either moves past its part,
 * says the bytes end inside it and how many more it needs at least, or
 * refuses a byte.  That minimum, added to the least the steps left
 * need, tells whether the line can still end within PROXYPROTO_V1_MAX
 * bytes: so NEED_MORE means exactly "a prefix of a valid header", and
 * the scan never looks past byte PROXYPROTO_V1_MAX.  A call costs
 * O(min(len, PROXYPROTO_V1_MAX)) for v1 and at most a 216-byte copy for
 * v2.
 */
#include "proxyproto.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

typedef unsigned char	uchar;

/* The wire's UNIX path is 108 bytes; so is Linux's sun_path. */
#define UNIX_PATH	108
_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == UNIX_PATH,
    "sun_path is not 108 bytes");

/* v2: the signature, and the fixed part's length. */
static const uchar v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
#define V2_FIXED	16
#define V2_LOCAL	0x20	/* version 2, LOCAL */
#define V2_PROXY	0x21	/* version 2, PROXY */
#define V2_UNSPEC	0x00
#define V2_TCP4		0x11
#define V2_TCP6		0x21
#define V2_UNIX		0x31	/* UNIX stream */
#define V2_LEN_INET	12
#define V2_LEN_INET6	36
#define V2_LEN_UNIX	(2 * UNIX_PATH)

/* What a v1 step says. */
#define F_OK	0	/* done; c->p is on the byte after its part */
#define F_MORE	1	/* the bytes end inside it; *need: at least that
			   many more complete it */
#define F_BAD	2	/* a byte cannot be there */

/* The bytes of a v1 line: p moves up to end. */
struct cur {
	const uchar	*p, *end;
};

/* What a v1 TCP line says, in wire order. */
struct v1_addrs {
	uchar		 addr[2][16];	/* 4 bytes used for TCP4 */
	uint16_t	 port[2];	/* host order */
};

/* The steps of a v1 line after its protocol. */
enum v1_step { ST_ADDR, ST_SP, ST_PORT, ST_CRLF, ST_REST };

static const uchar	v1_tcp[] = {
	ST_ADDR, ST_SP, ST_ADDR, ST_SP, ST_PORT, ST_SP, ST_PORT, ST_CRLF
};
static const uchar	v1_unknown[] = { ST_REST, ST_CRLF };

static int
is_digit(uchar c)
{
	return (c >= '0' && c <= '9');
}

/* The value of hex digit c, or -1. */
static int
hex_value(uchar c)
{
	if (is_digit(c))
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* The literal s, or as much of it as the bytes hold. */
static int
step_lit(struct cur *c, const char *s)
{
	size_t n = strlen(s), have = (size_t)(c->end - c->p);

	if (memcmp(c->p, s, have < n ? have : n) != 0)
		return (F_BAD);
	if (have < n) {
		c->p = c->end;
		return (F_MORE);
	}
	c->p += n;
	return (F_OK);
}

/*
 * A dotted quad: four decimal numbers 0-255, no leading zero, three
 * dots; the first byte that cannot continue it ends it.
 */
static int
step_ip4(struct cur *c, uchar *a, size_t *need)
{
	unsigned v = 0;
	int dots = 0, digits = 0;

	for (; c->p < c->end; c->p++) {
		if (is_digit(*c->p)) {
			if (digits > 0 && v == 0)
				return (F_BAD);	/* a leading zero */
			v = v * 10 + (unsigned)(*c->p - '0');
			if (v > 255)
				return (F_BAD);
			digits++;
		} else if (*c->p == '.') {
			if (digits == 0 || dots == 3)
				return (F_BAD);
			a[dots++] = (uchar)v;
			v = 0;
			digits = 0;
		} else
			break;
	}
	if (c->p == c->end) {
		*need = (size_t)((digits == 0) + 2 * (3 - dots));
		return (F_MORE);
	}
	if (dots < 3 || digits == 0)
		return (F_BAD);
	a[3] = (uchar)v;
	return (F_OK);
}

/* Where an IPv6 text is: after what. */
enum ip6_at { A_START, A_LEAD, A_HEX, A_COLON, A_DCOLON, A_DOT, A_OCT };

/* The least count of bytes that completes an IPv6 text at this point. */
static size_t
ip6_need(enum ip6_at at, int n, int gap, int dots)
{
	switch (at) {
	case A_START:
		return (2);			/* "::" */
	case A_LEAD:
	case A_COLON:
		return (1);		/* ':', or a digit after "::" */
	case A_HEX:
		return (gap >= 0 || n + 1 == 8 ? 0 : 2);
	case A_DOT:
		return ((size_t)(1 + 2 * (3 - dots)));
	case A_OCT:
		return ((size_t)(2 * (3 - dots)));
	default:
		return (0);
	}
}

/* Write the n groups of w, with the "::" at gap (or -1), into a. */
static void
ip6_expand(uchar *a, const uint16_t *w, int n, int gap)
{
	int i, j;

	memset(a, 0, 16);
	for (i = 0; i < n; i++) {
		j = gap >= 0 && i >= gap ? 8 - n + i : i;
		a[2 * j] = (uchar)(w[i] >> 8);
		a[2 * j + 1] = (uchar)w[i];
	}
}

/*
 * An IPv6 text as inet_pton(3) takes it: up to 8 groups of 1 to 4 hex
 * digits, one "::" for at least one zero group, and the last 32 bits
 * possibly a dotted quad.  Each byte is judged as it comes, so that any
 * prefix this does not refuse can still be completed.
 */
static int
step_ip6(struct cur *c, uchar *a, size_t *need)
{
	uint16_t w[8];
	enum ip6_at at = A_START;
	unsigned hex = 0, dec = 0, oct = 0;
	int n = 0, gap = -1, digits = 0, decok = 0, dots = 0, d;
	uchar v4[4];

	for (; c->p < c->end; c->p++) {
		d = hex_value(*c->p);
		if (*c->p == ':') {
			if (at == A_START)
				at = A_LEAD;
			else if (at == A_HEX) {
				/* Another group must fit after this one. */
				w[n++] = (uint16_t)hex;
				if (n == 8 || (gap >= 0 && n == 7))
					return (F_BAD);
				at = A_COLON;
			} else if ((at == A_LEAD || at == A_COLON) && gap < 0) {
				gap = n;
				at = A_DCOLON;
			} else
				return (F_BAD);
		} else if (*c->p == '.') {
			/* The group so far becomes the first octet. */
			if (at == A_HEX) {
				if (!decok || dec > 255 ||
				    (gap >= 0 ? n + 2 > 7 : n + 2 != 8))
					return (F_BAD);
				v4[0] = (uchar)dec;
				dots = 1;
			} else if (at == A_OCT && dots < 3)
				v4[dots++] = (uchar)oct;
			else
				return (F_BAD);
			at = A_DOT;
		} else if (d >= 0 && (at == A_DOT || at == A_OCT)) {
			if (!is_digit(*c->p) || (at == A_OCT && oct == 0))
				return (F_BAD);
			oct = (at == A_OCT ? oct * 10 : 0) + (unsigned)d;
			if (oct > 255)
				return (F_BAD);
			at = A_OCT;
		} else if (d >= 0 && at == A_HEX) {
			if (digits == 4)
				return (F_BAD);
			hex = hex * 16 + (unsigned)d;
			/* A decimal octet has no leading zero. */
			decok = decok && is_digit(*c->p) && dec != 0;
			dec = dec * 10 + (unsigned)d;
			digits++;
		} else if (d >= 0 && at != A_LEAD) {
			if (n + 1 > (gap >= 0 ? 7 : 8))
				return (F_BAD);
			hex = dec = (unsigned)d;
			decok = is_digit(*c->p);
			digits = 1;
			at = A_HEX;
		} else if (d >= 0)
			return (F_BAD);			/* ":1" */
		else
			break;
	}
	if (c->p == c->end) {
		*need = ip6_need(at, n, gap, dots);
		return (F_MORE);
	}
	if (at == A_HEX)
		w[n++] = (uint16_t)hex;
	else if (at == A_OCT && dots == 3) {
		v4[3] = (uchar)oct;
		w[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
		w[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
	} else if (at != A_DCOLON)
		return (F_BAD);
	if (gap < 0 && n != 8)
		return (F_BAD);
	ip6_expand(a, w, n, gap);
	return (F_OK);
}

/* A port: 0-65535 in decimal, no leading zero. */
static int
step_port(struct cur *c, uint16_t *port, size_t *need)
{
	unsigned v = 0;
	int digits = 0;

	for (; c->p < c->end && is_digit(*c->p); c->p++, digits++) {
		if (digits > 0 && v == 0)
			return (F_BAD);
		v = v * 10 + (unsigned)(*c->p - '0');
		if (v > 65535)
			return (F_BAD);
	}
	if (c->p == c->end) {
		*need = digits == 0;
		return (F_MORE);
	}
	if (digits == 0)
		return (F_BAD);
	*port = (uint16_t)v;
	return (F_OK);
}

/*
 * After UNKNOWN: nothing, or a space and any bytes but CR and LF (a
 * bare LF is left to the CRLF step to refuse).
 */
static int
step_rest(struct cur *c, size_t *need)
{
	*need = 0;
	if (c->p == c->end)
		return (F_MORE);
	if (*c->p == '\r' || *c->p == '\n')
		return (F_OK);
	if (*c->p != ' ')
		return (F_BAD);
	while (++c->p < c->end && *c->p != '\r' && *c->p != '\n')
		;
	return (c->p == c->end ? F_MORE : F_OK);
}

/* The least count of bytes step s takes. */
static size_t
step_min(enum v1_step s, int family)
{
	switch (s) {
	case ST_ADDR:
		return (family == AF_INET ? 7 : 2);	/* 0.0.0.0, :: */
	case ST_SP:
	case ST_PORT:
		return (1);
	case ST_CRLF:
		return (2);
	default:
		return (0);
	}
}

/* Why step s refused a byte. */
static const char *
step_why(enum v1_step s, int family)
{
	switch (s) {
	case ST_ADDR:
		return (family == AF_INET ? "bad v1 IPv4 address" :
		    "bad v1 IPv6 address");
	case ST_SP:
		return ("v1 fields not parted by one space");
	case ST_PORT:
		return ("bad v1 port");
	case ST_CRLF:
		return ("v1 line not ended by CRLF");
	default:
		return ("bad v1 protocol");
	}
}

/* Run one step of a v1 line. */
static int
step_run(struct cur *c, enum v1_step s, int family, struct v1_addrs *va,
    int *na, int *np, size_t *need)
{
	switch (s) {
	case ST_ADDR:
		if (family == AF_INET)
			return (step_ip4(c, va->addr[(*na)++], need));
		return (step_ip6(c, va->addr[(*na)++], need));
	case ST_SP:
		*need = 1;
		return (step_lit(c, " "));
	case ST_PORT:
		return (step_port(c, &va->port[(*np)++], need));
	case ST_CRLF:
		*need = c->end - c->p == 1 ? 1 : 2;
		return (step_lit(c, "\r\n"));
	default:
		return (step_rest(c, need));
	}
}

/*
 * The steps of a v1 line from c->p on; start is where the line
 * begins.  NEED_MORE only if the line can still end within
 * PROXYPROTO_V1_MAX bytes.
 */
static enum proxyproto_result
v1_steps(struct cur *c, const uchar *start, const uchar *steps, size_t n,
    int family, struct v1_addrs *va, const char **why)
{
	size_t i, j, need = 0, least;
	int na = 0, np = 0, r;

	for (i = 0; i < n; i++) {
		r = step_run(c, steps[i], family, va, &na, &np, &need);
		if (r == F_BAD) {
			*why = step_why(steps[i], family);
			return (PROXYPROTO_INVALID);
		}
		if (r == F_MORE) {
			least = (size_t)(c->p - start) + need;
			for (j = i + 1; j < n; j++)
				least += step_min(steps[j], family);
			if (least > PROXYPROTO_V1_MAX) {
				*why = "v1 line over 107 bytes";
				return (PROXYPROTO_INVALID);
			}
			return (PROXYPROTO_NEED_MORE);
		}
	}
	return (PROXYPROTO_DONE);
}

/* Fill sa with an IPv4 or IPv6 address and a port (host order). */
static void
inet_fill(struct sock_addr *sa, int family, const uchar *a, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&sa->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa->ss;

	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a, 4);
		sa->len = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a, 16);
		sa->len = sizeof(*s6);
	}
}

static enum proxyproto_result
v1_parse(const uchar *buf, size_t len, struct proxyproto_header *hdr,
    size_t *used, const char **why)
{
	static const char *const protos[] = { "TCP4 ", "TCP6 ", "UNKNOWN" };
	struct v1_addrs va;
	struct cur c, t;
	enum proxyproto_result r;
	size_t i;
	int more = 0, family;

	/* Nothing past the longest line is looked at. */
	c.p = buf;
	c.end = buf + (len < PROXYPROTO_V1_MAX ? len : PROXYPROTO_V1_MAX);
	switch (step_lit(&c, "PROXY ")) {
	case F_BAD:
		*why = "bad v1 signature";
		return (PROXYPROTO_INVALID);
	case F_MORE:
		return (PROXYPROTO_NEED_MORE);
	}
	for (i = 0; i < 3; i++) {
		t = c;
		switch (step_lit(&t, protos[i])) {
		case F_MORE:
			more = 1;
			continue;
		case F_BAD:
			continue;
		}
		break;
	}
	if (i == 3) {
		/* A prefix of one of them is short: no length check. */
		if (more)
			return (PROXYPROTO_NEED_MORE);
		*why = "bad v1 protocol";
		return (PROXYPROTO_INVALID);
	}
	c = t;
	family = i == 0 ? AF_INET : AF_INET6;
	if (i == 2)
		r = v1_steps(&c, buf, v1_unknown, sizeof(v1_unknown), family,
		    &va, why);
	else
		r = v1_steps(&c, buf, v1_tcp, sizeof(v1_tcp), family, &va,
		    why);
	if (r != PROXYPROTO_DONE)
		return (r);

	memset(hdr, 0, sizeof(*hdr));
	hdr->version = 1;
	if (i == 2)
		hdr->local = 1;
	else {
		inet_fill(&hdr->src, family, va.addr[0], va.port[0]);
		inet_fill(&hdr->dst, family, va.addr[1], va.port[1]);
	}
	*used = (size_t)(c.p - buf);
	return (PROXYPROTO_DONE);
}

/* A v2 UNIX address: up to the first NUL, or abstract (see .h). */
static void
unix_fill(struct sock_addr *sa, const uchar *p)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&sa->ss;
	size_t n, off = offsetof(struct sockaddr_un, sun_path);

	memset(sa, 0, sizeof(*sa));
	sun->sun_family = AF_UNIX;
	if (p[0] != '\0') {
		n = strnlen((const char *)p, UNIX_PATH);
		memcpy(sun->sun_path, p, n);
		sa->len = (socklen_t)(off + n + (n < UNIX_PATH));
		return;
	}
	for (n = UNIX_PATH; n > 0 && p[n - 1] == '\0'; n--)
		;
	memcpy(sun->sun_path, p, n);
	sa->len = (socklen_t)(off + n);
}

static enum proxyproto_result
v2_parse(const uchar *buf, size_t len, struct proxyproto_header *hdr,
    size_t *used, const char **why)
{
	size_t total, block;
	int fam;

	if (memcmp(buf, v2_sig, len < 12 ? len : 12) != 0) {
		*why = "bad v2 signature";
		return (PROXYPROTO_INVALID);
	}
	if (len < 13)
		return (PROXYPROTO_NEED_MORE);
	if ((buf[12] & 0xf0) != 0x20) {
		*why = "bad v2 version";
		return (PROXYPROTO_INVALID);
	}
	if (buf[12] != V2_LOCAL && buf[12] != V2_PROXY) {
		*why = "bad v2 command";
		return (PROXYPROTO_INVALID);
	}
	if (len < 14)
		return (PROXYPROTO_NEED_MORE);
	fam = buf[13];
	if (fam != V2_UNSPEC && ((fam >> 4) < 1 || (fam >> 4) > 3 ||
	    (fam & 0xf) < 1 || (fam & 0xf) > 2)) {
		*why = "bad v2 family";
		return (PROXYPROTO_INVALID);
	}
	if (len < V2_FIXED)
		return (PROXYPROTO_NEED_MORE);
	total = V2_FIXED + ((size_t)buf[14] << 8 | buf[15]);
	if (total > PROXYPROTO_HEADER_MAX) {
		*why = "v2 header over 4096 bytes";
		return (PROXYPROTO_INVALID);
	}
	/* LOCAL ignores the family, and so its address block. */
	block = buf[12] == V2_LOCAL ? 0 : (fam >> 4) == 1 ? V2_LEN_INET :
	    (fam >> 4) == 2 ? V2_LEN_INET6 : (fam >> 4) == 3 ? V2_LEN_UNIX : 0;
	if (total - V2_FIXED < block) {
		*why = "v2 length too short for its addresses";
		return (PROXYPROTO_INVALID);
	}
	if (len < total)
		return (PROXYPROTO_NEED_MORE);

	memset(hdr, 0, sizeof(*hdr));
	hdr->version = 2;
	buf += V2_FIXED;
	if (block == 0)
		hdr->local = 1;
	else if (block == V2_LEN_INET) {
		inet_fill(&hdr->src, AF_INET, buf, (uint16_t)(buf[8] << 8 |
		    buf[9]));
		inet_fill(&hdr->dst, AF_INET, buf + 4, (uint16_t)(buf[10] << 8 |
		    buf[11]));
	} else if (block == V2_LEN_INET6) {
		inet_fill(&hdr->src, AF_INET6, buf, (uint16_t)(buf[32] << 8 |
		    buf[33]));
		inet_fill(&hdr->dst, AF_INET6, buf + 16,
		    (uint16_t)(buf[34] << 8 | buf[35]));
	} else {
		unix_fill(&hdr->src, buf);
		unix_fill(&hdr->dst, buf + UNIX_PATH);
	}
	*used = total;
	return (PROXYPROTO_DONE);
}

enum proxyproto_result
proxyproto_parse(const void *vbuf, size_t len, struct proxyproto_header *hdr,
    size_t *used, const char **why)
{
	const uchar *buf = vbuf;
	enum proxyproto_result r;

	*why = NULL;
	if (len == 0)
		return (PROXYPROTO_NEED_MORE);
	if (buf[0] == 'P')
		r = v1_parse(buf, len, hdr, used, why);
	else if (buf[0] == v2_sig[0])
		r = v2_parse(buf, len, hdr, used, why);
	else {
		*why = "not a PROXY protocol header";
		r = PROXYPROTO_INVALID;
	}
	return (r);
}

/* Writing. */

/* The AF_INET6 sa as AF_INET in out, if it is IPv4-mapped: 1, else 0. */
static int
unmap(const struct sock_addr *sa, struct sock_addr *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sa->ss;

	if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return (0);
	inet_fill(out, AF_INET, s6->sin6_addr.s6_addr + 12,
	    ntohs(s6->sin6_port));
	return (1);
}

/* The AF_INET sa as IPv4-mapped IPv6 in out. */
static void
map(const struct sock_addr *sa, struct sock_addr *out)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sa->ss;
	uchar a[16] = { [10] = 0xff, [11] = 0xff };

	memcpy(a + 12, &s4->sin_addr, 4);
	inet_fill(out, AF_INET6, a, ntohs(s4->sin_port));
}

/*
 * The family to write src and dst with (AF_UNSPEC: none), and the two
 * addresses in it, in *s and *d (see the rule in the header).
 */
static int
pair(const struct sock_addr *src, const struct sock_addr *dst,
    struct sock_addr *s, struct sock_addr *d)
{
	int fs = src->ss.ss_family, fd = dst->ss.ss_family;

	*s = *src;
	*d = *dst;
	if (fs == fd)
		return (fs == AF_INET || fs == AF_INET6 || fs == AF_UNIX ?
		    fs : AF_UNSPEC);
	if (fs == AF_INET && fd == AF_INET6) {
		if (unmap(dst, d))
			return (AF_INET);
		map(src, s);
		return (AF_INET6);
	}
	if (fs == AF_INET6 && fd == AF_INET) {
		if (unmap(src, s))
			return (AF_INET);
		map(dst, d);
		return (AF_INET6);
	}
	return (AF_UNSPEC);
}

/* Append the NUL-terminated s to the line at *p. */
static char *
put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return (p + n);
}

/* Append sa's address as text, then a space. */
static char *
put_host(char *p, const struct sock_addr *sa)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sa->ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sa->ss;
	char host[INET6_ADDRSTRLEN];

	if (sa->ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
	p = put(p, host);
	return (put(p, " "));
}

/* Append port (network order) in decimal, then sep. */
static char *
put_port(char *p, in_port_t port, const char *sep)
{
	char text[6], *t = text + sizeof(text);
	unsigned v = ntohs(port);

	*--t = '\0';
	do
		*--t = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	p = put(p, t);
	return (put(p, sep));
}

/* The port of an AF_INET or AF_INET6 sa, network order. */
static in_port_t
port_of(const struct sock_addr *sa)
{
	if (sa->ss.ss_family == AF_INET)
		return (((const struct sockaddr_in *)&sa->ss)->sin_port);
	return (((const struct sockaddr_in6 *)&sa->ss)->sin6_port);
}

static size_t
v1_write(uchar *buf, size_t size, const struct sock_addr *src,
    const struct sock_addr *dst)
{
	struct sock_addr s, d;
	char line[PROXYPROTO_V1_MAX + 1], *p = line;
	int family = AF_UNSPEC;
	size_t n;

	if (src != NULL && dst != NULL)
		family = pair(src, dst, &s, &d);
	if (family == AF_INET || family == AF_INET6) {
		p = put(p, family == AF_INET ? "PROXY TCP4 " : "PROXY TCP6 ");
		p = put_host(p, &s);
		p = put_host(p, &d);
		p = put_port(p, port_of(&s), " ");
		p = put_port(p, port_of(&d), "\r\n");
	} else
		p = put(p, "PROXY UNKNOWN\r\n");
	if ((n = (size_t)(p - line)) > size)
		return (0);
	memcpy(buf, line, n);
	return (n);
}

/* The UNIX path of sa into 108 NUL-padded bytes at p. */
static void
put_unix(uchar *p, const struct sock_addr *sa)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&sa->ss;
	size_t off = offsetof(struct sockaddr_un, sun_path), n;

	n = sa->len > off ? sa->len - off : 0;
	if (n > UNIX_PATH)
		n = UNIX_PATH;
	/* A pathname ends at its NUL; an abstract name is all its bytes. */
	if (n > 0 && sun->sun_path[0] != '\0')
		n = strnlen(sun->sun_path, n);
	memset(p, 0, UNIX_PATH);
	memcpy(p, sun->sun_path, n);
}

static size_t
v2_write(uchar *buf, size_t size, const struct sock_addr *src,
    const struct sock_addr *dst)
{
	const struct sockaddr_in *s4, *d4;
	const struct sockaddr_in6 *s6, *d6;
	struct sock_addr s, d;
	size_t block = 0;
	int family = AF_UNSPEC;

	if (src != NULL && dst != NULL)
		family = pair(src, dst, &s, &d);
	block = family == AF_INET ? V2_LEN_INET : family == AF_INET6 ?
	    V2_LEN_INET6 : family == AF_UNIX ? V2_LEN_UNIX : 0;
	if (size < V2_FIXED + block)
		return (0);
	memcpy(buf, v2_sig, sizeof(v2_sig));
	buf[12] = src == NULL || dst == NULL ? V2_LOCAL : V2_PROXY;
	buf[13] = family == AF_INET ? V2_TCP4 : family == AF_INET6 ? V2_TCP6 :
	    family == AF_UNIX ? V2_UNIX : V2_UNSPEC;
	buf[14] = (uchar)(block >> 8);
	buf[15] = (uchar)block;
	buf += V2_FIXED;
	s4 = (const struct sockaddr_in *)&s.ss;
	d4 = (const struct sockaddr_in *)&d.ss;
	s6 = (const struct sockaddr_in6 *)&s.ss;
	d6 = (const struct sockaddr_in6 *)&d.ss;
	if (family == AF_INET) {
		memcpy(buf, &s4->sin_addr, 4);
		memcpy(buf + 4, &d4->sin_addr, 4);
		memcpy(buf + 8, &s4->sin_port, 2);
		memcpy(buf + 10, &d4->sin_port, 2);
	} else if (family == AF_INET6) {
		memcpy(buf, &s6->sin6_addr, 16);
		memcpy(buf + 16, &d6->sin6_addr, 16);
		memcpy(buf + 32, &s6->sin6_port, 2);
		memcpy(buf + 34, &d6->sin6_port, 2);
	} else if (family == AF_UNIX) {
		put_unix(buf, &s);
		put_unix(buf + UNIX_PATH, &d);
	}
	return (V2_FIXED + block);
}

size_t
proxyproto_write(void *buf, size_t size, int version,
    const struct sock_addr *src, const struct sock_addr *dst)
{
	if (version == 1)
		return (v1_write(buf, size, src, dst));
	if (version == 2)
		return (v2_write(buf, size, src, dst));
	return (0);
}
