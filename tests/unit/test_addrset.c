/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_addrset: prefix parsing and its refusals, the edges of each
 * prefix, merging, IPv4-mapped addresses, and 100,000 random lookups
 * against a naive linear matcher.
 */
#include "addrset.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "check.h"
#include "clock.h"
#include "sock.h"

/* A set of the n prefixes in texts (all must parse). */
static struct addrset *
set_of(const char **texts, size_t n)
{
	struct addr_prefix p[16];
	const char *why;
	size_t i;

	for (i = 0; i < n; i++)
		if (addrset_prefix_parse(texts[i], &p[i], &why) == -1) {
			printf("# %s: %s\n", texts[i], why);
			abort();
		}
	return (addrset_build(p, n));
}

static int
match(const struct addrset *set, const char *text)
{
	struct sock_addr sa = addr(text);

	return (addrset_match(set, &sa));
}

/* text parses and formats back as want, with bits over 128 bits. */
static void
good(const char *text, const char *want, int bits, int family)
{
	char buf[ADDRSET_PREFIX_STRLEN];
	struct addr_prefix p;
	const char *why = "";
	int r;

	r = addrset_prefix_parse(text, &p, &why);
	addrset_prefix_format(&p, buf, sizeof(buf));
	CHECK(r == 0 && strcmp(buf, want) == 0 && p.bits == bits &&
	    p.family == family, "\"%s\" parses as %s (/%d of 128): %s", text,
	    want, bits, r == 0 ? buf : why);
}

/* text is refused with the reason want. */
static void
bad(const char *text, const char *want)
{
	struct addr_prefix p;
	const char *why = "";
	int r;

	errno = 0;
	r = addrset_prefix_parse(text, &p, &why);
	CHECK(r == -1 && errno == EINVAL && strcmp(why, want) == 0,
	    "\"%s\" is refused: %s", text, why);
}

static void
test_parse(void)
{
	char buf[ADDRSET_PREFIX_STRLEN];
	struct addr_prefix p;
	const char *why = "";

	good("10.0.0.0/8", "10.0.0.0/8", 104, AF_INET);
	good("127.0.0.1", "127.0.0.1/32", 128, AF_INET);
	good("0.0.0.0/0", "0.0.0.0/0", 96, AF_INET);
	good("255.255.255.255/32", "255.255.255.255/32", 128, AF_INET);
	good("::1/128", "::1/128", 128, AF_INET6);
	good("::1", "::1/128", 128, AF_INET6);
	good("2001:db8::/32", "2001:db8::/32", 32, AF_INET6);
	good("2001:DB8:0::/48", "2001:db8::/48", 48, AF_INET6);
	good("::/0", "::/0", 0, AF_INET6);
	good("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", 104, AF_INET6);

	bad("", "empty prefix");
	bad("10.0.0.0/33", "prefix length over 32");
	bad("10.0.0.0/1000", "prefix length over 32");
	bad("10.0.0.0/99999999999999999999", "prefix length over 32");
	bad("::1/129", "prefix length over 128");
	bad("10.0.0/8", "not an IPv4 or IPv6 address");
	bad("010.0.0.0/8", "not an IPv4 or IPv6 address");
	bad("1.2.3.256", "not an IPv4 or IPv6 address");
	bad("example.org", "not an IPv4 or IPv6 address");
	bad("fe80::1%eth0", "not an IPv4 or IPv6 address");
	bad("1:2:3:4:5:6:7:8:9", "not an IPv4 or IPv6 address");
	bad("1.2.3.4/", "missing prefix length after '/'");
	bad("/8", "missing address before '/'");
	bad("10.0.0.0/08", "prefix length has a leading zero");
	bad("10.0.0.0/+8", "prefix length is not a decimal number");
	bad("10.0.0.0/-1", "prefix length is not a decimal number");
	bad("10.0.0.0/8/8", "prefix length is not a decimal number");
	bad("10.0.0.0/0x8", "prefix length is not a decimal number");
	bad(" 10.0.0.0/8", "space in or around the prefix");
	bad("10.0.0.0/8 ", "space in or around the prefix");
	bad("10.0.0.0 /8", "space in or around the prefix");
	bad("10.0.0.0/8\t", "space in or around the prefix");
	bad("10.0.0.1/8", "host bits set: not a network address");
	bad("::1/64", "host bits set: not a network address");
	CHECK(addrset_prefix_parse(NULL, &p, &why) == -1,
	    "a NULL text is refused: %s", why);

	/* A refusal for host bits still says what the network would be. */
	addrset_prefix_parse("10.0.0.1/8", &p, &why);
	addrset_prefix_format(&p, buf, sizeof(buf));
	CHECK(strcmp(buf, "10.0.0.0/8") == 0,
	    "10.0.0.1/8 names its network: %s", buf);
	addrset_prefix_parse("2001:db8:1::7/33", &p, &why);
	addrset_prefix_format(&p, buf, sizeof(buf));
	CHECK(strcmp(buf, "2001:db8::/33") == 0,
	    "2001:db8:1::7/33 names its network: %s", buf);
	addrset_prefix_parse("10.255.255.255/9", &p, &why);
	addrset_prefix_format(&p, buf, sizeof(buf));
	CHECK(strcmp(buf, "10.128.0.0/9") == 0,
	    "10.255.255.255/9 names its network: %s", buf);
}

/* first and last are in the prefix; before and after are not. */
static void
edges(const char *prefix, const char *before, const char *first,
    const char *last, const char *after)
{
	struct addrset *set = set_of(&prefix, 1);

	CHECK(set != NULL && !match(set, before) && match(set, first) &&
	    match(set, last) && !match(set, after),
	    "%s: %s out, %s and %s in, %s out", prefix, before, first, last,
	    after);
	addrset_free(set);
}

static void
test_edges(void)
{
	const char *all4 = "0.0.0.0/0", *all = "::/0";
	struct addrset *set;

	edges("10.1.2.0/24", "10.1.1.255", "10.1.2.0", "10.1.2.255",
	    "10.1.3.0");
	edges("10.0.0.0/8", "9.255.255.255", "10.0.0.0", "10.255.255.255",
	    "11.0.0.0");
	edges("192.0.2.7/32", "192.0.2.6", "192.0.2.7", "192.0.2.7",
	    "192.0.2.8");
	edges("128.0.0.0/1", "127.255.255.255", "128.0.0.0",
	    "255.255.255.255", "::1:0:0:0");
	edges("2001:db8::/32", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
	    "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
	    "2001:db9::");
	edges("2001:db8:0:1::/64", "2001:db8::ffff:ffff:ffff:ffff",
	    "2001:db8:0:1::", "2001:db8:0:1:ffff:ffff:ffff:ffff",
	    "2001:db8:0:2::");
	edges("::2/128", "::1", "::2", "::2", "::3");
	edges("0.0.0.0/0", "::fffe:ffff:ffff", "0.0.0.0", "255.255.255.255",
	    "::1:0:0:0");
	edges("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::");

	/* IPv4 /0 holds mapped IPv4 only; ::/0 holds everything. */
	set = set_of(&all4, 1);
	CHECK(match(set, "::ffff:1.2.3.4") && !match(set, "::1") &&
	    !match(set, "2001:db8::1") && !match(set, "::1.2.3.4"),
	    "0.0.0.0/0 matches mapped IPv4 but no other IPv6");
	addrset_free(set);
	set = set_of(&all, 1);
	CHECK(match(set, "::") && match(set, "1.2.3.4") &&
	    match(set, "255.255.255.255") && match(set, "2001:db8::1") &&
	    match(set, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	    "::/0 matches every IPv4 and IPv6 address");
	addrset_free(set);
}

static void
test_mapped(void)
{
	const char *v4 = "10.0.0.0/8", *v6 = "::ffff:10.0.0.0/104";
	const char *host = "192.0.2.1";
	struct addrset *set;

	set = set_of(&v4, 1);
	CHECK(match(set, "::ffff:10.1.2.3") && match(set, "10.1.2.3") &&
	    !match(set, "::ffff:11.0.0.0") && !match(set, "::10.1.2.3"),
	    "10.0.0.0/8 matches ::ffff:10.1.2.3 (dual stack), not ::10.1.2.3");
	addrset_free(set);
	set = set_of(&v6, 1);
	CHECK(match(set, "10.1.2.3") && !match(set, "11.0.0.0"),
	    "::ffff:10.0.0.0/104 matches IPv4 10.1.2.3");
	addrset_free(set);
	set = set_of(&host, 1);
	CHECK(match(set, "::ffff:192.0.2.1") && !match(set, "::ffff:192.0.2.2"),
	    "a bare IPv4 address matches its mapped form only");
	addrset_free(set);
}

/* The n prefixes compile into want ranges. */
static void
merges(const char **texts, size_t n, size_t want, const char *what)
{
	struct addrset *set = set_of(texts, n);

	CHECK(set != NULL && addrset_ranges(set) == want,
	    "%s: %zu ranges", what, addrset_ranges(set));
	addrset_free(set);
}

/* addrset_equal(): by the addresses matched, not by how they were written. */
static void
test_equal(void)
{
	const char *inside[] = { "10.1.0.0/16", "10.0.0.0/8", "10.2.3.4" };
	const char *one[] = { "10.0.0.0/8" };
	const char *halves[] = { "10.128.0.0/9", "10.0.0.0/9" };
	const char *other[] = { "10.0.0.0/9" };
	struct addrset *a = set_of(inside, 3), *b = set_of(one, 1);
	struct addrset *c = set_of(halves, 2), *d = set_of(other, 1);

	CHECK(addrset_equal(a, b) && addrset_equal(b, c),
	    "sets written differently that match the same are equal");
	CHECK(!addrset_equal(b, d), "10.0.0.0/8 is not 10.0.0.0/9");
	CHECK(addrset_equal(NULL, NULL), "NULL equals NULL");
	CHECK(!addrset_equal(NULL, d) && !addrset_equal(d, NULL),
	    "NULL (empty) is not a set with a range");
	addrset_free(a);
	addrset_free(b);
	addrset_free(c);
	addrset_free(d);
}

static void
test_merge(void)
{
	const char *inside[] = { "10.1.0.0/16", "10.0.0.0/8", "10.2.3.4" };
	const char *halves[] = { "10.128.0.0/9", "10.0.0.0/9" };
	const char *gap[] = { "10.0.0.0/24", "10.0.2.0/24" };
	const char *run[] = { "10.0.2.0/24", "10.0.0.0/24", "10.0.1.0/24" };
	const char *dup[] = { "::1", "::1", "::1/128" };
	const char *carry[] = { "::/64", "0:0:0:1::/64" };
	const char *across[] = { "0.0.0.0/0", "::1:0:0:0/128" };
	const char *apart[] = { "0.0.0.0/0", "::1:0:0:1/128" };
	const char *everything[] = { "10.0.0.0/8", "::/0", "2001:db8::/32" };
	const char *touch[] = { "10.0.0.0/32", "10.0.0.1/32", "10.0.0.3/32",
	    "10.0.0.2/32" };
	struct addrset *set;

	merges(inside, 3, 1, "prefixes inside 10.0.0.0/8 merge into it");
	merges(halves, 2, 1, "two adjacent /9s merge");
	merges(gap, 2, 2, "two /24s with a gap stay apart");
	merges(run, 3, 1, "three adjacent /24s, unordered, merge");
	merges(dup, 3, 1, "duplicates merge");
	merges(carry, 2, 1, "adjacent across the 64-bit halves merge");
	merges(across, 2, 1, "0.0.0.0/0 and the key after it merge");
	merges(apart, 2, 2, "0.0.0.0/0 and a key one past its end stay apart");
	merges(everything, 3, 1, "::/0 swallows everything");
	merges(touch, 4, 1, "four adjacent /32s merge");

	set = set_of(run, 3);
	CHECK(match(set, "10.0.0.0") && match(set, "10.0.1.128") &&
	    match(set, "10.0.2.255") && !match(set, "10.0.3.0"),
	    "a merged range keeps every member's addresses");
	addrset_free(set);
	set = set_of(gap, 2);
	CHECK(match(set, "10.0.0.255") && !match(set, "10.0.1.0") &&
	    !match(set, "10.0.1.255") && match(set, "10.0.2.0"),
	    "the gap between two ranges is out");
	addrset_free(set);
}

static void
test_empty(void)
{
	const char *all = "::/0";
	struct sockaddr_un *sun;
	struct addr_prefix p;
	struct addrset *set;
	struct sock_addr sa;

	set = addrset_build(NULL, 0);
	CHECK(set != NULL && addrset_ranges(set) == 0 &&
	    !match(set, "1.2.3.4") && !match(set, "::") &&
	    !match(set, "0.0.0.0"), "an empty set matches nothing");
	addrset_free(set);
	CHECK(!match(NULL, "1.2.3.4") && addrset_ranges(NULL) == 0,
	    "a NULL set matches nothing");
	addrset_free(NULL);

	set = set_of(&all, 1);
	memset(&sa, 0, sizeof(sa));
	sun = (struct sockaddr_un *)&sa.ss;
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, "/tmp/x");
	sa.len = sizeof(*sun);
	CHECK(!addrset_match(set, &sa), "AF_UNIX matches nothing, even ::/0");
	addrset_free(set);

	memset(&p, 0, sizeof(p));
	p.bits = 129;
	errno = 0;
	CHECK(addrset_build(&p, 1) == NULL && errno == EINVAL,
	    "a prefix of 129 bits is refused by addrset_build()");
}

/* xorshift64*: reproducible pseudo-random numbers. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (rng * 2685821657736338717ULL);
}

/* The reference: is the 16-byte key b in any of the n prefixes? */
static int
naive(const struct addr_prefix *p, size_t n, const uint8_t b[16])
{
	size_t i, whole;
	int rest;

	for (i = 0; i < n; i++) {
		whole = (size_t)p[i].bits / 8;
		rest = p[i].bits % 8;
		if (memcmp(b, p[i].net, whole) == 0 && (rest == 0 ||
		    ((b[whole] ^ p[i].net[whole]) & (0xff << (8 - rest))) == 0))
			return (1);
	}
	return (0);
}

#define RANDOM_V4	10000
#define RANDOM_V6	1000
/* Each lookup is checked against the linear matcher, whose every load
 * ThreadSanitizer instruments: a single-threaded test gains nothing from
 * 100,000 there. */
#if defined(__SANITIZE_THREAD__)
#define LOOKUPS		5000
#else
#define LOOKUPS		100000
#endif

/* A random rule: a /24 or /32, or an IPv6 /64, in text as a user would. */
static void
random_rule(size_t i, char *text, size_t size)
{
	uint32_t a = (uint32_t)rnd();
	uint16_t g = (uint16_t)rnd();
	char host[INET6_ADDRSTRLEN];
	uint8_t b[16];
	int j;

	if (i >= RANDOM_V4) {
		/* Half in 2001:db8:0::/48 (dense), half anywhere. */
		memset(b, 0, sizeof(b));
		if (i % 2 == 0) {
			b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8;
			b[6] = (uint8_t)(g >> 8), b[7] = (uint8_t)g;
		} else
			for (j = 0; j < 8; j++)
				b[j] = (uint8_t)rnd();
		inet_ntop(AF_INET6, b, host, sizeof(host));
		snprintf(text, size, "%s/64", host);
		return;
	}
	/* Half in 10.0.0.0/12 (dense, overlapping), half anywhere. */
	if (i % 2 == 0)
		a = 0x0a000000 | (a & 0x000fffff);
	if (i % 4 < 2)
		snprintf(text, size, "%u.%u.%u.0/24", a >> 24, (a >> 16) & 0xff,
		    (a >> 8) & 0xff);
	else
		snprintf(text, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
		    (a >> 8) & 0xff, a & 0xff);
}

/* A key near a random rule (or anywhere), and its sock_addr. */
static void
random_key(const struct addr_prefix *p, size_t n, uint8_t b[16],
    struct sock_addr *sa)
{
	const struct addr_prefix *r = &p[rnd() % n];
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa->ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&sa->ss;
	uint32_t a;
	int j, how = (int)(rnd() % 8);

	memcpy(b, r->net, 16);
	if (how == 0) {
		for (j = 0; j < 16; j++)
			b[j] = (uint8_t)rnd();
	} else if (r->family == AF_INET) {
		/* Within 256 addresses below to 512 above the network. */
		a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
		    (uint32_t)b[14] << 8 | b[15];
		a += (uint32_t)(rnd() % 768) - 256;
		b[12] = (uint8_t)(a >> 24), b[13] = (uint8_t)(a >> 16);
		b[14] = (uint8_t)(a >> 8), b[15] = (uint8_t)a;
	} else {
		for (j = 8; j < 16; j++)
			b[j] = (uint8_t)rnd();
		if (how == 1)
			b[7] ^= 1;	/* the neighbouring /64 */
	}
	memset(sa, 0, sizeof(*sa));
	/* An IPv4 key is looked up as AF_INET, or mapped, half each. */
	if (memcmp(b, (uint8_t[12]){ [10] = 0xff, [11] = 0xff }, 12) == 0 &&
	    how % 2 == 0) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, b + 12, 4);
	} else {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, b, 16);
	}
}

static void
test_random(void)
{
	size_t n = RANDOM_V4 + RANDOM_V6, i, hits = 0, wrong = 0;
	char text[ADDRSET_PREFIX_STRLEN];
	struct addr_prefix *p;
	struct addrset *set;
	struct sock_addr sa;
	int64_t t0, t1, t2;
	const char *why;
	uint8_t b[16];
	int parsed = 1;

	if ((p = calloc(n, sizeof(*p))) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		random_rule(i, text, sizeof(text));
		if (addrset_prefix_parse(text, &p[i], &why) == -1) {
			printf("# %s: %s\n", text, why);
			parsed = 0;
		}
	}
	CHECK(parsed, "%zu random rules parse", n);
	t0 = clock_now_us();
	set = addrset_build(p, n);
	t1 = clock_now_us();
	CHECK(set != NULL && addrset_ranges(set) > 0 &&
	    addrset_ranges(set) < n, "%zu rules build into %zu ranges in "
	    "%lld us", n, addrset_ranges(set), (long long)(t1 - t0));

	for (i = 0; i < LOOKUPS; i++) {
		random_key(p, n, b, &sa);
		if (addrset_match(set, &sa) != naive(p, n, b))
			wrong++;
		hits += (size_t)addrset_match(set, &sa);
	}
	CHECK(wrong == 0, "%d random lookups agree with a linear matcher "
	    "(%zu wrong)", LOOKUPS, wrong);
	CHECK(hits > LOOKUPS / 10 && hits < LOOKUPS * 9 / 10,
	    "the lookups both hit (%zu) and miss (%zu)", hits, LOOKUPS - hits);

	/* Informational: the time of the lookups alone, no assertion. */
	t1 = clock_now_us();
	for (i = 0; i < LOOKUPS; i++) {
		((struct sockaddr_in *)&sa.ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&sa.ss)->sin_addr.s_addr =
		    (uint32_t)rnd();
		hits += (size_t)addrset_match(set, &sa);
	}
	t2 = clock_now_us();
	printf("# %d lookups in %lld us (%.0f ns each)\n", LOOKUPS,
	    (long long)(t2 - t1), (double)(t2 - t1) * 1000 / LOOKUPS);
	addrset_free(set);
	free(p);
}

int
main(void)
{
	test_parse();
	test_edges();
	test_mapped();
	test_merge();
	test_equal();
	test_empty();
	test_random();
	return (check_done());
}
