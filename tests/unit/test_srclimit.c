/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_srclimit: per-source connection counts and token buckets, what
 * makes a source (IPv6 prefixes, mapped IPv4), a bounded table under a
 * million sources, eviction that spares held entries, failing open, and
 * two threads on one source.
 */
#include "srclimit.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "check.h"
#include "clock.h"
#include "sock.h"

/* The i-th of many distinct IPv4 sources (i < 2^32). */
static struct sock_addr
addr_n(uint32_t i)
{
	struct sockaddr_in *s4;
	struct sock_addr sa;

	memset(&sa, 0, sizeof(sa));
	s4 = (struct sockaddr_in *)&sa.ss;
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(i);
	sa.len = sizeof(*s4);
	return (sa);
}

static struct srclimit *
make(uint64_t max, uint64_t rate_n, int64_t rate_ms, int v6bits,
    size_t size)
{
	struct srclimit_conf c = { max, rate_n, rate_ms, v6bits, size };
	struct srclimit *sl;

	if ((sl = srclimit_create(&c)) == NULL) {
		perror("srclimit_create");
		abort();
	}
	return (sl);
}

static enum srclimit_verdict
enter(struct srclimit *sl, const char *text, int64_t now,
    struct srclimit_ticket *t)
{
	struct srclimit_ticket spare;
	struct sock_addr sa = addr(text);

	return (srclimit_enter(sl, &sa, now, t != NULL ? t : &spare));
}

static void
test_siphash(void)
{
	uint8_t key[16], in[64];
	int i;

	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 64; i++)
		in[i] = (uint8_t)i;
	/* The reference implementation's vectors.h, lengths 0, 8, 15, 63. */
	CHECK(srclimit_siphash(key, in, 0) == 0x726fdb47dd0e0e31ULL &&
	    srclimit_siphash(key, in, 8) == 0x93f5f5799a932462ULL &&
	    srclimit_siphash(key, in, 15) == 0xa129ca6149be45e5ULL &&
	    srclimit_siphash(key, in, 63) == 0x958a324ceb064572ULL,
	    "SipHash-2-4 matches the reference test vectors");
}

static void
test_conf(void)
{
	struct srclimit_conf bad[] = {
		{ 1, 0, 0, 0, 64 },		/* ipv6_prefix 0 */
		{ 1, 0, 0, 129, 64 },		/* ipv6_prefix 129 */
		{ 1, 0, 0, 64, 0 },		/* no table */
		{ 1, 5, 0, 64, 64 },		/* a rate per 0 ms */
		{ 1, 5, -1, 64, 64 },
		{ 1, UINT64_MAX / 2, 3, 64, 64 },	/* n * ms overflows */
		{ 1, 1ULL << 32, 1LL << 31, 64, 64 },	/* exactly 2^63 */
	};
	size_t i, refused = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		refused += srclimit_create(&bad[i]) == NULL && errno == EINVAL;
	}
	CHECK(refused == sizeof(bad) / sizeof(bad[0]),
	    "%zu of %zu bad configurations refused with EINVAL", refused,
	    sizeof(bad) / sizeof(bad[0]));
	srclimit_free(NULL);
}

static void
test_max(void)
{
	struct srclimit *sl = make(2, 0, 0, 64, 1024);
	struct srclimit_ticket a1, a2, a3, b1;

	CHECK(enter(sl, "192.0.2.1", 0, &a1) == SRCLIMIT_OK &&
	    enter(sl, "192.0.2.1", 0, &a2) == SRCLIMIT_OK && a1.slot != 0 &&
	    a1.slot == a2.slot, "source A holds two connections");
	CHECK(enter(sl, "192.0.2.1", 0, &a3) == SRCLIMIT_MAX_CONNECTIONS &&
	    a3.slot == 0, "A's third is refused for max_connections");
	CHECK(enter(sl, "192.0.2.2", 0, &b1) == SRCLIMIT_OK &&
	    b1.slot != a1.slot, "source B is counted apart from A");
	srclimit_leave(sl, &a1);
	CHECK(enter(sl, "192.0.2.1", 0, &a3) == SRCLIMIT_OK,
	    "after A leaves one, A may connect again");
	CHECK(enter(sl, "192.0.2.1", 0, NULL) == SRCLIMIT_MAX_CONNECTIONS &&
	    srclimit_entries(sl) == 2, "and is at its limit again; 2 entries");
	srclimit_leave(sl, &a2);
	srclimit_leave(sl, &a3);
	srclimit_leave(sl, &b1);
	srclimit_free(sl);

	sl = make(0, 0, 0, 64, 1024);
	CHECK(enter(sl, "192.0.2.1", 0, &a1) == SRCLIMIT_OK && a1.slot == 0 &&
	    srclimit_entries(sl) == 0, "no limits: admitted, nothing tracked");
	srclimit_leave(sl, &a1);
	srclimit_free(sl);
}

/* From now on, n connections at time now are admitted, then refused. */
static int
burst(struct srclimit *sl, const char *text, int64_t now, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (enter(sl, text, now, NULL) != SRCLIMIT_OK)
			return (0);
	return (enter(sl, text, now, NULL) == SRCLIMIT_RATE);
}

static void
test_rate(void)
{
	struct srclimit_ticket t;
	struct srclimit *sl;

	sl = make(0, 10, 1000, 64, 1024);
	CHECK(burst(sl, "192.0.2.1", 5000, 10),
	    "10 per 1000 ms: a burst of exactly 10, then refused");
	CHECK(enter(sl, "192.0.2.1", 5099, NULL) == SRCLIMIT_RATE &&
	    burst(sl, "192.0.2.1", 5100, 1),
	    "one token back after 100 ms (rate_ms / N), not 99");
	CHECK(enter(sl, "192.0.2.1", 5150, NULL) == SRCLIMIT_RATE &&
	    burst(sl, "192.0.2.1", 5200, 1) &&
	    burst(sl, "192.0.2.1", 5450, 2),
	    "refill is continuous: 2 tokens after 250 ms (and a half kept)");
	CHECK(burst(sl, "192.0.2.1", 5500, 1),
	    "the half token kept becomes whole 50 ms later");
	CHECK(burst(sl, "192.0.2.1", 100000, 10),
	    "a long pause refills to 10 tokens, no more");
	CHECK(enter(sl, "192.0.2.1", 99000, NULL) == SRCLIMIT_RATE &&
	    burst(sl, "192.0.2.1", 100100, 1),
	    "a time from the past is no refill, and loses no time");
	CHECK(burst(sl, "192.0.2.2", 100100, 10),
	    "another source has its own full bucket");
	srclimit_free(sl);

	sl = make(0, 1, 3600000, 64, 1024);
	CHECK(burst(sl, "192.0.2.1", 0, 1) &&
	    enter(sl, "192.0.2.1", 3599999, NULL) == SRCLIMIT_RATE &&
	    burst(sl, "192.0.2.1", 3600000, 1),
	    "1 per hour is exact to the millisecond");
	srclimit_free(sl);

	sl = make(0, 1000, 1, 64, 1024);
	CHECK(burst(sl, "192.0.2.1", 7, 1000) &&
	    burst(sl, "192.0.2.1", 8, 1000),
	    "1000 per ms: 1000 each millisecond");
	srclimit_free(sl);

	/* A refusal for max_connections takes no token. */
	sl = make(1, 2, 1000, 64, 1024);
	CHECK(enter(sl, "192.0.2.1", 0, &t) == SRCLIMIT_OK &&
	    enter(sl, "192.0.2.1", 0, NULL) == SRCLIMIT_MAX_CONNECTIONS &&
	    enter(sl, "192.0.2.1", 0, NULL) == SRCLIMIT_MAX_CONNECTIONS,
	    "max_connections refuses first");
	srclimit_leave(sl, &t);
	CHECK(enter(sl, "192.0.2.1", 0, &t) == SRCLIMIT_OK,
	    "the refusals took no token: the second token is left");
	srclimit_leave(sl, &t);
	CHECK(enter(sl, "192.0.2.1", 0, NULL) == SRCLIMIT_RATE,
	    "then the rate refuses");
	srclimit_free(sl);
}

static void
test_datagram(void)
{
	struct sock_addr a = addr("192.0.2.1"), b = addr("::ffff:192.0.2.1");
	struct sock_addr c = addr("192.0.2.9");
	struct srclimit_ticket t;
	struct srclimit *sl;

	sl = make(1, 3, 1000, 64, 1024);
	CHECK(enter(sl, "192.0.2.9", 0, &t) == SRCLIMIT_OK &&
	    srclimit_datagram(sl, &a, 0) == 1 &&
	    srclimit_datagram(sl, &b, 0) == 1 &&
	    srclimit_datagram(sl, &a, 0) == 1 &&
	    srclimit_datagram(sl, &a, 0) == 0 &&
	    srclimit_datagram(sl, &a, 333) == 0 &&
	    srclimit_datagram(sl, &b, 334) == 1,
	    "datagrams: 3 per 1000 ms, one token each 333.3 ms");
	CHECK(srclimit_datagram(sl, &c, 1000) == 1 &&
	    srclimit_datagram(sl, &c, 1000) == 1,
	    "max_connections does not apply to datagrams");
	srclimit_leave(sl, &t);
	srclimit_free(sl);

	sl = make(1, 0, 0, 64, 1024);
	CHECK(srclimit_datagram(sl, &a, 0) == 1 &&
	    srclimit_datagram(sl, &a, 0) == 1 && srclimit_entries(sl) == 0,
	    "no rate: every datagram allowed, nothing tracked");
	srclimit_free(sl);
}

static void
test_sources(void)
{
	struct sockaddr_un *sun;
	struct srclimit_ticket t;
	struct srclimit *sl;
	struct sock_addr u;

	sl = make(1, 0, 0, 64, 1024);
	CHECK(enter(sl, "2001:db8:1:2::1", 0, NULL) == SRCLIMIT_OK &&
	    enter(sl, "2001:db8:1:2:ffff:ffff:ffff:ffff", 0, NULL) ==
	    SRCLIMIT_MAX_CONNECTIONS,
	    "ipv6_prefix 64: two addresses of one /64 are one source");
	CHECK(enter(sl, "2001:db8:1:3::1", 0, NULL) == SRCLIMIT_OK &&
	    enter(sl, "2001:db8:1:1:ffff:ffff:ffff:ffff", 0, NULL) ==
	    SRCLIMIT_OK, "the /64s on either side are other sources");
	CHECK(enter(sl, "192.0.2.1", 0, NULL) == SRCLIMIT_OK &&
	    enter(sl, "::ffff:192.0.2.1", 0, NULL) ==
	    SRCLIMIT_MAX_CONNECTIONS,
	    "an IPv4-mapped address is the same source as its IPv4");
	CHECK(enter(sl, "::ffff:192.0.2.2", 0, NULL) == SRCLIMIT_OK &&
	    enter(sl, "192.0.2.2", 0, NULL) == SRCLIMIT_MAX_CONNECTIONS,
	    "and the other way round");
	CHECK(enter(sl, "::ffff:192.0.2.3", 0, NULL) == SRCLIMIT_OK,
	    "mapped addresses are one source per IPv4, not per /64");
	CHECK(enter(sl, "::c000:201", 0, NULL) == SRCLIMIT_OK,
	    "IPv4-compatible ::192.0.2.1 is IPv6, not 192.0.2.1");

	memset(&u, 0, sizeof(u));
	sun = (struct sockaddr_un *)&u.ss;
	sun->sun_family = AF_UNIX;
	u.len = sizeof(sa_family_t);
	CHECK(srclimit_enter(sl, &u, 0, &t) == SRCLIMIT_OK &&
	    srclimit_enter(sl, &u, 0, &t) == SRCLIMIT_MAX_CONNECTIONS,
	    "AF_UNIX clients are one source, no crash");
	srclimit_free(sl);

	sl = make(1, 0, 0, 128, 1024);
	CHECK(enter(sl, "2001:db8:1:2::1", 0, NULL) == SRCLIMIT_OK &&
	    enter(sl, "2001:db8:1:2::2", 0, NULL) == SRCLIMIT_OK &&
	    enter(sl, "2001:db8:1:2::1", 0, NULL) ==
	    SRCLIMIT_MAX_CONNECTIONS,
	    "ipv6_prefix 128: each address is its own source");
	srclimit_free(sl);

	sl = make(1, 0, 0, 56, 1024);
	CHECK(enter(sl, "2001:db8:1:200::1", 0, NULL) == SRCLIMIT_OK &&
	    enter(sl, "2001:db8:1:2ff::1", 0, NULL) ==
	    SRCLIMIT_MAX_CONNECTIONS &&
	    enter(sl, "2001:db8:1:300::1", 0, NULL) == SRCLIMIT_OK,
	    "ipv6_prefix 56 cuts inside a byte's boundary correctly");
	srclimit_free(sl);
}

/* Resident set size in bytes. */
static long
rss(void)
{
	long pages = -1, size;
	FILE *fp;

	if ((fp = fopen("/proc/self/statm", "r")) == NULL)
		return (-1);
	if (fscanf(fp, "%ld %ld", &size, &pages) != 2)
		pages = -1;
	fclose(fp);
	return (pages * sysconf(_SC_PAGESIZE));
}

#define MILLION		1000000
#define TABLE		65536

static void
test_bounded(void)
{
	struct srclimit_ticket t;
	size_t over = 0, refused = 0;
	struct srclimit *sl;
	struct sock_addr sa;
	long before, after;
	int64_t t0;
	uint32_t i;

	before = rss();
	t0 = clock_now_us();
	sl = make(4, 100, 1000, 64, TABLE);
	for (i = 0; i < MILLION; i++) {
		sa = addr_n(0x0a000000 + i * 2654435761u);
		if (srclimit_enter(sl, &sa, i / 1000, &t) != SRCLIMIT_OK)
			refused++;
		srclimit_leave(sl, &t);
		if (srclimit_entries(sl) > TABLE)
			over++;
	}
	after = rss();
	CHECK(over == 0 && srclimit_entries(sl) <= TABLE && refused == 0 &&
	    srclimit_untracked(sl) == 0, "a million sources through %d "
	    "entries: never over (%zu at the end), none refused or untracked",
	    TABLE, srclimit_entries(sl));
	CHECK(srclimit_entries(sl) > TABLE * 9 / 10,
	    "the table fills up (%zu of %d)", srclimit_entries(sl), TABLE);
#if defined(__SANITIZE_THREAD__)
	/* TSan's shadow (4 bytes of it per byte touched) is resident too. */
	CHECK(before > 0 && after - before < 5 * (16L << 20),
	    "resident memory grew %ld KiB (under 80 MiB with TSan's shadow)",
	    (after - before) >> 10);
#else
	CHECK(before > 0 && after - before < 16L << 20,
	    "resident memory grew %ld KiB (under 16 MiB)",
	    (after - before) >> 10);
#endif
	printf("# a million enter/leave pairs in %lld ms\n",
	    (long long)(clock_now_us() - t0) / 1000);
	srclimit_free(sl);

	/* IPv6 sources, held: the table stays bounded, the rest fail open. */
	sl = make(1, 0, 0, 64, 1024);
	for (i = 0, over = 0; i < 100000; i++) {
		sa = addr("2001:db8::");
		((struct sockaddr_in6 *)&sa.ss)->sin6_addr.s6_addr32[1] = i;
		srclimit_enter(sl, &sa, 0, &t);
		over += srclimit_entries(sl) > 1024;
	}
	CHECK(over == 0 && srclimit_entries(sl) == 1024 &&
	    srclimit_untracked(sl) == 100000 - 1024,
	    "100,000 held IPv6 sources: 1024 tracked, %llu untracked",
	    (unsigned long long)srclimit_untracked(sl));
	srclimit_free(sl);
}

/* One bucket of 8: 7 sources hold, 1000 others come and go. */
static void
test_eviction(void)
{
	struct srclimit_ticket held[8], t;
	struct srclimit *sl = make(1, 0, 0, 64, SRCLIMIT_WAYS);
	size_t i, still = 0, ok = 0;
	struct sock_addr sa;

	for (i = 0; i < 7; i++) {
		sa = addr_n(0xc0000200 + (uint32_t)i);
		ok += srclimit_enter(sl, &sa, 1, &held[i]) == SRCLIMIT_OK;
	}
	for (i = 0; i < 1000; i++) {
		sa = addr_n(0x0a000000 + (uint32_t)i);
		ok += srclimit_enter(sl, &sa, 2 + (int64_t)i, &t) ==
		    SRCLIMIT_OK && t.slot != 0;
		srclimit_leave(sl, &t);
	}
	for (i = 0; i < 7; i++) {
		sa = addr_n(0xc0000200 + (uint32_t)i);
		still += srclimit_enter(sl, &sa, 2000, &t) ==
		    SRCLIMIT_MAX_CONNECTIONS;
	}
	CHECK(ok == 1007 && still == 7 && srclimit_entries(sl) == 8 &&
	    srclimit_untracked(sl) == 0,
	    "1000 passing sources share the one free entry; the 7 held "
	    "entries are never evicted");

	/* The last free entry held too: the next source fails open. */
	sa = addr_n(0xc0000207);
	CHECK(srclimit_enter(sl, &sa, 3000, &held[7]) == SRCLIMIT_OK &&
	    held[7].slot != 0, "an eighth source takes the last entry");
	sa = addr_n(0x0b000000);
	CHECK(srclimit_enter(sl, &sa, 3000, &t) == SRCLIMIT_OK &&
	    t.slot == 0 && srclimit_enter(sl, &sa, 3000, &t) == SRCLIMIT_OK &&
	    t.slot == 0 && srclimit_untracked(sl) == 2,
	    "a ninth, with every entry held, is admitted untracked (twice)");
	srclimit_leave(sl, &t);
	srclimit_leave(sl, &held[3]);
	CHECK(srclimit_enter(sl, &sa, 3001, &t) == SRCLIMIT_OK &&
	    t.slot == held[3].slot &&
	    srclimit_enter(sl, &sa, 3001, &t) == SRCLIMIT_MAX_CONNECTIONS,
	    "once one leaves, the ninth takes its entry and is limited");
	sa = addr_n(0xc0000203);
	CHECK(srclimit_enter(sl, &sa, 3002, &t) == SRCLIMIT_OK &&
	    t.slot == 0, "the evicted source, back, fails open");
	srclimit_free(sl);
}

/* Tickets held across heavy churn still release their own source. */
static void
test_leave_after_pressure(void)
{
	struct srclimit *sl = make(2, 0, 0, 64, 16);
	struct srclimit_ticket a1, a2, c1, c2, t;
	struct sock_addr sa;
	uint32_t i;

	CHECK(enter(sl, "198.51.100.1", 0, &a1) == SRCLIMIT_OK &&
	    enter(sl, "198.51.100.1", 0, &a2) == SRCLIMIT_OK &&
	    enter(sl, "198.51.100.2", 0, &c1) == SRCLIMIT_OK &&
	    enter(sl, "198.51.100.2", 0, &c2) == SRCLIMIT_OK,
	    "A and C each hold 2 (the limit) in a table of 16");
	for (i = 0; i < 100000; i++) {
		sa = addr_n(i);
		if (srclimit_enter(sl, &sa, 1 + i, &t) == SRCLIMIT_OK)
			srclimit_leave(sl, &t);
	}
	CHECK(enter(sl, "198.51.100.1", 200000, NULL) ==
	    SRCLIMIT_MAX_CONNECTIONS && enter(sl, "198.51.100.2", 200000,
	    NULL) == SRCLIMIT_MAX_CONNECTIONS,
	    "after 100,000 other sources, A and C still hold their entries");
	srclimit_leave(sl, &a1);
	CHECK(enter(sl, "198.51.100.1", 200001, &a1) == SRCLIMIT_OK &&
	    enter(sl, "198.51.100.2", 200001, NULL) ==
	    SRCLIMIT_MAX_CONNECTIONS,
	    "A's old ticket releases A's count, and C's is untouched");
	srclimit_leave(sl, &a1);
	srclimit_leave(sl, &a2);
	srclimit_leave(sl, &c1);
	srclimit_leave(sl, &c2);
	CHECK(enter(sl, "198.51.100.1", 200002, &a1) == SRCLIMIT_OK &&
	    enter(sl, "198.51.100.1", 200002, &a2) == SRCLIMIT_OK &&
	    enter(sl, "198.51.100.2", 200002, &c1) == SRCLIMIT_OK,
	    "every ticket left: both sources start from zero");
	srclimit_free(sl);
}

#define ROUNDS	200000

struct racer {
	struct srclimit		*sl;
	uint64_t		 max;
	atomic_uint		*held;
	atomic_uint		*go;
	size_t			 admitted;
	size_t			 over;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	struct sock_addr a = addr("203.0.113.5");
	struct sock_addr b = addr("::ffff:203.0.113.5");
	struct srclimit_ticket t;
	unsigned now;
	int i;

	while (atomic_load(r->go) == 0)
		;
	for (i = 0; i < ROUNDS; i++) {
		if (srclimit_enter(r->sl, i % 2 ? &a : &b, i / 1000, &t) !=
		    SRCLIMIT_OK)
			continue;
		r->admitted++;
		now = atomic_fetch_add(r->held, 1) + 1;
		if (now > r->max)
			r->over++;
		atomic_fetch_sub(r->held, 1);
		srclimit_leave(r->sl, &t);
	}
	return (NULL);
}

/* Two threads enter and leave one source; never more than max at once. */
static void
contend(uint64_t max)
{
	struct racer r[2];
	atomic_uint held = 0, go = 0;
	pthread_t th[2];
	struct srclimit *sl = make(max, 0, 0, 64, 1024);
	size_t i, n = 0;

	for (i = 0; i < 2; i++) {
		r[i] = (struct racer){ sl, max, &held, &go, 0, 0 };
		if (pthread_create(&th[i], NULL, race, &r[i]) != 0)
			abort();
	}
	atomic_store(&go, 1);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < max + 1; i++)
		n += enter(sl, "203.0.113.5", 1000, NULL) == SRCLIMIT_OK;
	/* Not "each thread admitted some": on a loaded machine one thread
	 * may run all its rounds before the other starts. */
	CHECK(r[0].over + r[1].over == 0 &&
	    r[0].admitted + r[1].admitted > 0 && n == max,
	    "max %llu, 2 threads x %d: admitted %zu and %zu, never over, "
	    "every count released", (unsigned long long)max, ROUNDS,
	    r[0].admitted, r[1].admitted);
	srclimit_free(sl);
}

int
main(void)
{
	test_siphash();
	test_conf();
	test_max();
	test_rate();
	test_datagram();
	test_sources();
	test_bounded();
	test_eviction();
	test_leave_after_pressure();
	contend(1);
	contend(3);
	return (check_done());
}
