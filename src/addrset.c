/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * addrset.c: compiled address sets.
 *
 * Owns the parsing of prefixes ("10.0.0.0/8") and the sets built from
 * them.  What a set means (allow, deny, who may send a PROXY header) and
 * what to log about a bad rule are the caller's business (config.c and
 * listener.c); nothing here logs.
 *
 * A prefix is an interval [lo, hi] of 128-bit keys.  Building a set sorts
 * the intervals by lo and merges those that overlap or touch, leaving
 * disjoint ranges in order; a lookup finds, by binary search, the last
 * range starting at or before the key and checks the key is not past its
 * end.  A key is two 64-bit halves, most significant first, so the code
 * needs no 128-bit integer type.
 */
#include "addrset.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sock.h"

/* A 128-bit key, most significant half first. */
struct key {
	uint64_t	hi;
	uint64_t	lo;
};

/* Every key from lo to hi, both included. */
struct range {
	struct key	lo;
	struct key	hi;
};

struct addrset {
	size_t		n;		/* ranges, disjoint, sorted */
	struct range	r[];
};

/* Mapped IPv4: ::ffff:0:0/96, the 96 bits in front of an IPv4 address. */
static const uint8_t mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static int
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	errno = EINVAL;
	return (-1);
}

static struct key
key_of(const uint8_t b[16])
{
	struct key k = { 0, 0 };
	int i;

	for (i = 0; i < 8; i++) {
		k.hi = k.hi << 8 | b[i];
		k.lo = k.lo << 8 | b[8 + i];
	}
	return (k);
}

static int
key_cmp(const struct key *a, const struct key *b)
{
	if (a->hi != b->hi)
		return (a->hi < b->hi ? -1 : 1);
	if (a->lo != b->lo)
		return (a->lo < b->lo ? -1 : 1);
	return (0);
}

/* The host part of a bits-long prefix: the low 128 - bits bits set. */
static struct key
host_mask(int bits)
{
	struct key m;

	if (bits <= 0)
		m.hi = m.lo = UINT64_MAX;
	else if (bits < 64) {
		m.hi = UINT64_MAX >> bits;
		m.lo = UINT64_MAX;
	} else if (bits < 128) {
		m.hi = 0;
		m.lo = UINT64_MAX >> (bits - 64);
	} else
		m.hi = m.lo = 0;
	return (m);
}

/* Clear the host bits of the prefix in b; 1 if any was set. */
static int
clear_host_bits(uint8_t b[16], int bits)
{
	int i, keep, set = 0;
	uint8_t m;

	for (i = 0; i < 16; i++) {
		keep = bits - 8 * i;
		m = keep >= 8 ? 0xff : keep <= 0 ? 0 :
		    (uint8_t)(0xff << (8 - keep));
		set |= (b[i] & ~m) != 0;
		b[i] &= m;
	}
	return (set);
}

/*
 * The prefix length after the '/', len bytes at p: decimal, no sign, no
 * leading zero, at most max.  Returns it, or -1 with *why set.
 */
static int
parse_bits(const char *p, size_t len, int max, const char **why)
{
	int v = 0;
	size_t i;

	if (len == 0)
		return (fail(why, "missing prefix length after '/'"));
	for (i = 0; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return (fail(why, "prefix length is not a decimal "
			    "number"));
	if (len > 1 && p[0] == '0')
		return (fail(why, "prefix length has a leading zero"));
	for (i = 0; i < len && v <= 128; i++)
		v = v * 10 + (p[i] - '0');
	if (v > max)
		return (fail(why, max == 32 ? "prefix length over 32" :
		    "prefix length over 128"));
	return (v);
}

int
addrset_prefix_parse(const char *text, struct addr_prefix *out,
    const char **why)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash;
	size_t len, hlen;
	int bits, v6;

	memset(out, 0, sizeof(*out));
	if (text == NULL || (len = strlen(text)) == 0)
		return (fail(why, "empty prefix"));
	if (strpbrk(text, " \t\n\v\f\r") != NULL)
		return (fail(why, "space in or around the prefix"));
	slash = strchr(text, '/');
	hlen = slash != NULL ? (size_t)(slash - text) : len;
	if (hlen == 0)
		return (fail(why, "missing address before '/'"));
	if (hlen >= sizeof(host))
		return (fail(why, "not an IPv4 or IPv6 address"));
	memcpy(host, text, hlen);
	host[hlen] = '\0';

	/* An IPv6 address has a colon, an IPv4 one never does. */
	v6 = memchr(host, ':', hlen) != NULL;
	if (v6) {
		if (inet_pton(AF_INET6, host, out->net) != 1)
			return (fail(why, "not an IPv4 or IPv6 address"));
	} else {
		if (inet_pton(AF_INET, host, out->net + 12) != 1)
			return (fail(why, "not an IPv4 or IPv6 address"));
		memcpy(out->net, mapped_prefix, sizeof(mapped_prefix));
	}
	out->family = v6 ? AF_INET6 : AF_INET;
	if (slash == NULL)
		bits = v6 ? 128 : 32;
	else if ((bits = parse_bits(slash + 1, len - hlen - 1, v6 ? 128 : 32,
	    why)) == -1)
		return (-1);
	out->bits = v6 ? bits : 96 + bits;
	if (clear_host_bits(out->net, out->bits))
		return (fail(why, "host bits set: not a network address"));
	return (0);
}

char *
addrset_prefix_format(const struct addr_prefix *p, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (p->family == AF_INET) {
		inet_ntop(AF_INET, p->net + 12, host, sizeof(host));
		snprintf(buf, size, "%s/%d", host, p->bits - 96);
	} else {
		inet_ntop(AF_INET6, p->net, host, sizeof(host));
		snprintf(buf, size, "%s/%d", host, p->bits);
	}
	return (buf);
}

static int
range_cmp(const void *a, const void *b)
{
	const struct range *ra = a, *rb = b;

	return (key_cmp(&ra->lo, &rb->lo));
}

/* 1 if the range starting at b overlaps or touches the one ending at a. */
static int
joins(const struct key *a, const struct key *b)
{
	if (key_cmp(b, a) <= 0)
		return (1);
	/* b == a + 1 */
	if (a->lo == UINT64_MAX)
		return (b->hi == a->hi + 1 && b->lo == 0);
	return (b->hi == a->hi && b->lo == a->lo + 1);
}

struct addrset *
addrset_build(const struct addr_prefix *p, size_t n)
{
	struct addrset *set;
	struct range *r;
	struct key m;
	size_t i, j;

	for (i = 0; i < n; i++)
		if (p[i].bits < 0 || p[i].bits > 128) {
			errno = EINVAL;
			return (NULL);
		}
	if (n > (SIZE_MAX - sizeof(*set)) / sizeof(set->r[0])) {
		errno = ENOMEM;
		return (NULL);
	}
	if ((set = malloc(sizeof(*set) + n * sizeof(set->r[0]))) == NULL)
		return (NULL);
	for (i = 0; i < n; i++) {
		r = &set->r[i];
		m = host_mask(p[i].bits);
		r->lo = key_of(p[i].net);
		r->lo.hi &= ~m.hi;
		r->lo.lo &= ~m.lo;
		r->hi.hi = r->lo.hi | m.hi;
		r->hi.lo = r->lo.lo | m.lo;
	}
	qsort(set->r, n, sizeof(set->r[0]), range_cmp);

	/* Merge in place: j is the last range kept. */
	for (i = 1, j = 0; i < n; i++) {
		if (joins(&set->r[j].hi, &set->r[i].lo)) {
			if (key_cmp(&set->r[i].hi, &set->r[j].hi) > 0)
				set->r[j].hi = set->r[i].hi;
		} else
			set->r[++j] = set->r[i];
	}
	set->n = n > 0 ? j + 1 : 0;
	return (set);
}

int
addrset_match(const struct addrset *set, const struct sock_addr *sa)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sa->ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sa->ss;
	uint8_t b[16];
	struct key k;
	size_t lo, hi, mid;

	if (set == NULL || set->n == 0)
		return (0);
	switch (sa->ss.ss_family) {
	case AF_INET:
		memcpy(b, mapped_prefix, sizeof(mapped_prefix));
		memcpy(b + 12, &s4->sin_addr, 4);
		break;
	case AF_INET6:
		memcpy(b, &s6->sin6_addr, 16);
		break;
	default:
		return (0);
	}
	k = key_of(b);

	/* Find the first range starting after k; the one before may hold k. */
	lo = 0;
	hi = set->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (key_cmp(&set->r[mid].lo, &k) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo > 0 && key_cmp(&k, &set->r[lo - 1].hi) <= 0);
}

size_t
addrset_ranges(const struct addrset *set)
{
	return (set != NULL ? set->n : 0);
}

int
addrset_equal(const struct addrset *a, const struct addrset *b)
{
	size_t na = addrset_ranges(a);

	return (na == addrset_ranges(b) &&
	    (na == 0 || memcmp(a->r, b->r, na * sizeof(a->r[0])) == 0));
}

void
addrset_free(struct addrset *set)
{
	free(set);
}
