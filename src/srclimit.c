/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * srclimit.c: per-source connection and rate limits.
 *
 * Owns one listener's table of sources and its locks.  What a refusal
 * means (close the client, count it, log it) is the caller's business
 * (listener.c, the UDP echo); nothing here logs or parks.
 *
 * The table is an array of table_size entries cut into buckets of
 * SRCLIMIT_WAYS (the last may be shorter).  A source's key (its family
 * and its address, an IPv6 one cut to ipv6_prefix bits) is hashed with
 * SipHash-2-4 under a key drawn from getrandom(2) at create, which picks
 * its bucket; the bucket is searched in full, so a lookup costs at most
 * SRCLIMIT_WAYS key comparisons.  An entry keeps the source's count of
 * connections, its token bucket and when it was last seen, for the
 * least-recently-used replacement of entries that hold no connection.
 *
 * Tokens are kept as credit in units of 1/rate_ms token: a token costs
 * rate_ms units and each millisecond adds rate_n, up to rate_n * rate_ms.
 * The arithmetic is exact, so the refill neither drifts nor rounds a
 * slow rate (1 per hour) to nothing.
 */
#include "srclimit.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sock.h"

/* A source's key: its kind, then 16 bytes of address. */
#define KEY_LEN		17
#define KIND_OTHER	0	/* AF_UNIX and the rest: one source */
#define KIND_V4		4	/* IPv4, or IPv4-mapped IPv6 */
#define KIND_V6		6	/* an IPv6 prefix */

struct entry {
	uint8_t		key[KEY_LEN];
	uint8_t		used;		/* holds a source */
	uint64_t	active;		/* connections held */
	uint64_t	credit;		/* tokens, in 1/rate_ms units */
	int64_t		refilled;	/* when credit was updated */
	int64_t		seen;		/* last enter or datagram */
};

/* A mutex alone in its cache line, so stripes do not share lines. */
struct stripe {
	pthread_mutex_t	mu;
	char		pad[64 - sizeof(pthread_mutex_t) % 64];
};

struct srclimit {
	struct stripe		locks[SRCLIMIT_LOCKS];
	struct srclimit_conf	conf;
	uint8_t			key[16];	/* SipHash key */
	uint64_t		cap;		/* rate_n * rate_ms */
	size_t			nbuckets;
	struct entry		*e;		/* table_size entries */
	atomic_size_t		entries;	/* used */
	atomic_uint_fast64_t	untracked;
};

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return (v);
}

static uint64_t
rotl(uint64_t x, int b)
{
	return (x << b | x >> (64 - b));
}

static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

uint64_t
srclimit_siphash(const uint8_t *k, const void *data, size_t len)
{
	const uint8_t *in = data, *end = in + (len - len % 8);
	uint64_t k0 = le64(k), k1 = le64(k + 8), v[4], m, b;
	int i;

	v[0] = 0x736f6d6570736575ULL ^ k0;
	v[1] = 0x646f72616e646f6dULL ^ k1;
	v[2] = 0x6c7967656e657261ULL ^ k0;
	v[3] = 0x7465646279746573ULL ^ k1;
	for (; in != end; in += 8) {
		m = le64(in);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	/* The last 0-7 bytes, and the length in the top byte. */
	b = (uint64_t)len << 56;
	for (i = (int)(len % 8) - 1; i >= 0; i--)
		b |= (uint64_t)in[i] << (8 * i);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return (v[0] ^ v[1] ^ v[2] ^ v[3]);
}

/*
 * Fill key with 16 random bytes.  Without getrandom(2) (an old kernel,
 * a seccomp filter, or no entropy yet so early in boot), fall back on
 * what differs between processes and runs, hashed: the clocks, the pid
 * and addresses that ASLR moves.  That is weaker than a random key but
 * still unknown to a remote client, and a collision only costs bucket
 * sharing, never a wrong count.
 */
static void
draw_key(uint8_t key[16], const void *salt)
{
	static const uint8_t fixed[16] = {
		0x61, 0x69, 0x6f, 0x2d, 0x65, 0x63, 0x68, 0x6f,
		0x64, 0x20, 0x73, 0x72, 0x63, 0x6c, 0x69, 0x6d
	};
	struct timespec rt, mt;
	uint64_t mix[5], h;
	size_t got = 0;
	ssize_t n;

	while (got < 16) {
		n = getrandom(key + got, 16 - got, GRND_NONBLOCK);
		if (n > 0)
			got += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else
			break;
	}
	if (got == 16)
		return;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	mix[0] = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	mix[1] = (uint64_t)mt.tv_sec * 1000000000u + (uint64_t)mt.tv_nsec;
	mix[2] = (uint64_t)getpid();
	mix[3] = (uint64_t)(uintptr_t)salt;
	mix[4] = (uint64_t)(uintptr_t)&rt;
	h = srclimit_siphash(fixed, mix, sizeof(mix));
	memcpy(key, &h, 8);
	mix[0] ^= h;
	h = srclimit_siphash(fixed, mix, sizeof(mix));
	memcpy(key + 8, &h, 8);
}

/* 1 if conf is in range, with the bucket's capacity in *cap. */
static int
conf_ok(const struct srclimit_conf *conf, uint64_t *cap)
{
	*cap = 0;
	if (conf->ipv6_prefix < 1 || conf->ipv6_prefix > 128)
		return (0);
	if (conf->table_size < 1 ||
	    conf->table_size > SIZE_MAX / 2 / sizeof(struct entry))
		return (0);
	if (conf->rate_n == 0)
		return (1);
	return (conf->rate_ms > 0 &&
	    !__builtin_mul_overflow(conf->rate_n, (uint64_t)conf->rate_ms,
	    cap) && *cap <= INT64_MAX);
}

struct srclimit *
srclimit_create(const struct srclimit_conf *conf)
{
	struct srclimit *sl;
	uint64_t cap;
	int i, err;

	if (!conf_ok(conf, &cap)) {
		errno = EINVAL;
		goto fail;
	}
	if ((err = posix_memalign((void **)&sl, 64, sizeof(*sl))) != 0) {
		errno = err;
		goto fail;
	}
	memset(sl, 0, sizeof(*sl));
	sl->conf = *conf;
	sl->cap = cap;
	sl->nbuckets = (conf->table_size + SRCLIMIT_WAYS - 1) / SRCLIMIT_WAYS;
	if ((sl->e = calloc(conf->table_size, sizeof(*sl->e))) == NULL)
		goto fail_free;
	for (i = 0; i < SRCLIMIT_LOCKS; i++)
		if ((err = pthread_mutex_init(&sl->locks[i].mu, NULL)) != 0) {
			errno = err;
			goto fail_locks;
		}
	atomic_init(&sl->entries, 0);
	atomic_init(&sl->untracked, 0);
	draw_key(sl->key, sl);
	return (sl);

fail_locks:
	while (--i >= 0)
		pthread_mutex_destroy(&sl->locks[i].mu);
	free(sl->e);
fail_free:
	free(sl);
fail:
	return (NULL);
}

/* addr's key: an IPv6 address cut to the configured prefix. */
static void
source_key(const struct srclimit *sl, const struct sock_addr *addr,
    uint8_t key[KEY_LEN])
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&addr->ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&addr->ss;
	int bits = sl->conf.ipv6_prefix, i;

	memset(key, 0, KEY_LEN);
	switch (addr->ss.ss_family) {
	case AF_INET:
		key[0] = KIND_V4;
		memcpy(key + 1 + 12, &s4->sin_addr, 4);
		break;
	case AF_INET6:
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			key[0] = KIND_V4;
			memcpy(key + 1 + 12, s6->sin6_addr.s6_addr + 12, 4);
			break;
		}
		key[0] = KIND_V6;
		for (i = 0; i < 16 && bits > 0; i++, bits -= 8)
			key[1 + i] = s6->sin6_addr.s6_addr[i] &
			    (bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits)));
		break;
	default:
		key[0] = KIND_OTHER;
		break;
	}
}

/*
 * The entry for key in its bucket, found or made, or NULL if the bucket
 * is full of entries holding connections.  Called with the bucket's
 * stripe locked.
 */
static struct entry *
lookup(struct srclimit *sl, size_t bucket, const uint8_t key[KEY_LEN],
    int64_t now)
{
	size_t first = bucket * SRCLIMIT_WAYS, last, i;
	struct entry *e, *spare = NULL;

	last = first + SRCLIMIT_WAYS;
	if (last > sl->conf.table_size)
		last = sl->conf.table_size;
	for (i = first; i < last; i++) {
		e = &sl->e[i];
		if (!e->used) {
			if (spare == NULL || spare->used)
				spare = e;
			continue;
		}
		if (memcmp(e->key, key, KEY_LEN) == 0)
			goto found;
		if (e->active == 0 && (spare == NULL ||
		    (spare->used && e->seen < spare->seen)))
			spare = e;
	}
	if ((e = spare) == NULL)
		return (NULL);
	if (!e->used)
		atomic_fetch_add_explicit(&sl->entries, 1,
		    memory_order_relaxed);
	memcpy(e->key, key, KEY_LEN);
	e->used = 1;
	e->active = 0;
	e->credit = sl->cap;
	e->refilled = now;
	e->seen = now;
found:
	if (now > e->seen)
		e->seen = now;
	return (e);
}

/* Bring e's credit up to now, then take a token: 1, or 0 if none. */
static int
take_token(const struct srclimit *sl, struct entry *e, int64_t now)
{
	int64_t dt = now - e->refilled;

	if (dt > 0) {
		e->refilled = now;
		/* Below rate_ms, dt * rate_n < cap: no overflow. */
		if (dt >= sl->conf.rate_ms)
			e->credit = sl->cap;
		else {
			e->credit += (uint64_t)dt * sl->conf.rate_n;
			if (e->credit > sl->cap)
				e->credit = sl->cap;
		}
	}
	if (e->credit < (uint64_t)sl->conf.rate_ms)
		return (0);
	e->credit -= (uint64_t)sl->conf.rate_ms;
	return (1);
}

/* Lock addr's bucket and find its entry; returns the stripe locked. */
static pthread_mutex_t *
lock_source(struct srclimit *sl, const struct sock_addr *addr, int64_t now,
    struct entry **ep)
{
	uint8_t key[KEY_LEN];
	pthread_mutex_t *mu;
	size_t bucket;

	source_key(sl, addr, key);
	bucket = srclimit_siphash(sl->key, key, KEY_LEN) % sl->nbuckets;
	mu = &sl->locks[bucket % SRCLIMIT_LOCKS].mu;
	pthread_mutex_lock(mu);
	*ep = lookup(sl, bucket, key, now);
	return (mu);
}

enum srclimit_verdict
srclimit_enter(struct srclimit *sl, const struct sock_addr *addr,
    int64_t now, struct srclimit_ticket *ticket)
{
	enum srclimit_verdict v = SRCLIMIT_OK;
	pthread_mutex_t *mu;
	struct entry *e;

	ticket->slot = 0;
	if (sl->conf.max_connections == 0 && sl->conf.rate_n == 0)
		return (SRCLIMIT_OK);
	mu = lock_source(sl, addr, now, &e);
	if (e == NULL)
		atomic_fetch_add_explicit(&sl->untracked, 1,
		    memory_order_relaxed);
	else if (sl->conf.max_connections > 0 &&
	    e->active >= sl->conf.max_connections)
		v = SRCLIMIT_MAX_CONNECTIONS;
	else if (sl->conf.rate_n > 0 && !take_token(sl, e, now))
		v = SRCLIMIT_RATE;
	else if (sl->conf.max_connections > 0) {
		e->active++;
		ticket->slot = (size_t)(e - sl->e) + 1;
	}
	pthread_mutex_unlock(mu);
	return (v);
}

void
srclimit_leave(struct srclimit *sl, const struct srclimit_ticket *ticket)
{
	pthread_mutex_t *mu;
	struct entry *e;
	size_t bucket;

	if (ticket->slot == 0 || ticket->slot > sl->conf.table_size)
		return;
	e = &sl->e[ticket->slot - 1];
	bucket = (ticket->slot - 1) / SRCLIMIT_WAYS;
	mu = &sl->locks[bucket % SRCLIMIT_LOCKS].mu;
	pthread_mutex_lock(mu);
	/* Never below zero, even if a ticket is left twice. */
	if (e->active > 0)
		e->active--;
	pthread_mutex_unlock(mu);
}

int
srclimit_datagram(struct srclimit *sl, const struct sock_addr *addr,
    int64_t now)
{
	pthread_mutex_t *mu;
	struct entry *e;
	int ok = 1;

	if (sl->conf.rate_n == 0)
		return (1);
	mu = lock_source(sl, addr, now, &e);
	if (e == NULL)
		atomic_fetch_add_explicit(&sl->untracked, 1,
		    memory_order_relaxed);
	else
		ok = take_token(sl, e, now);
	pthread_mutex_unlock(mu);
	return (ok);
}

size_t
srclimit_entries(const struct srclimit *sl)
{
	return (atomic_load_explicit(&sl->entries, memory_order_relaxed));
}

uint64_t
srclimit_untracked(const struct srclimit *sl)
{
	return (atomic_load_explicit(&sl->untracked, memory_order_relaxed));
}

void
srclimit_free(struct srclimit *sl)
{
	int i;

	if (sl == NULL)
		return;
	for (i = 0; i < SRCLIMIT_LOCKS; i++)
		pthread_mutex_destroy(&sl->locks[i].mu);
	free(sl->e);
	free(sl);
}
