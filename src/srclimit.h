/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SRCLIMIT_H
#define SRCLIMIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Per-source limits of one listener, shared by all its loop threads: how
 * many connections one source may hold at once, and how fast it may open
 * new ones (or, for the UDP echo, send datagrams).
 *
 * A source is one IPv4 address (an IPv4-mapped IPv6 address counts as
 * that IPv4 address), or one IPv6 prefix of ipv6_prefix bits, since one
 * host commonly holds a whole /64.  The caller does not ask about AF_UNIX
 * clients (they have no address worth limiting), but if it does, every
 * non-IP client is one and the same source.
 *
 * Memory is bounded: a table of table_size entries, allocated at create
 * and never grown, 8-way set-associative (a source hashes to a bucket of
 * 8 entries, so a lookup is O(1)).  The hash is SipHash-2-4 under a
 * random key drawn at create (getrandom(2); failing that, early in boot,
 * a hash of the clocks, the pid and addresses ASLR moves), so clients
 * cannot choose addresses that land in one bucket.  A new source takes a free entry of its bucket, or
 * else the least recently used one that holds no connection; what that
 * entry knew about its old source (a half-empty token bucket) is
 * forgotten.  An entry holding connections is never evicted, so a
 * ticket names its entry until srclimit_leave().
 *
 * Fail open: if every entry of the bucket holds connections (in practice
 * only with a tiny table_size, or a table far smaller than the number of
 * busy sources), the new connection is admitted untracked: no limit
 * applies to it, its ticket releases nothing, and srclimit_untracked()
 * counts it so it can be exposed.  Refusing instead would let a crowd of
 * busy sources lock out every newcomer that happens to share a bucket.
 *
 * Thread-safe: each bucket is guarded by one of SRCLIMIT_LOCKS striped
 * mutexes, held for a few dozen instructions, so threads contend only
 * when they touch buckets of the same stripe at the same moment.  Never
 * parks, never logs.  Any thread.
 */

struct sock_addr;
struct srclimit;

/* Mutexes guarding the buckets, bucket i by mutex i % SRCLIMIT_LOCKS. */
#define SRCLIMIT_LOCKS	64
/* Entries per bucket. */
#define SRCLIMIT_WAYS	8

struct srclimit_conf {
	uint64_t	max_connections; /* per source at once; 0: none */
	uint64_t	rate_n;		/* per rate_ms; 0: none */
	int64_t		rate_ms;	/* > 0 if rate_n is */
	int		ipv6_prefix;	/* 1..128 bits: an IPv6 source */
	size_t		table_size;	/* entries, >= 1 */
};

/*
 * What srclimit_leave() needs to release an admitted connection.  A
 * zeroed ticket releases nothing, so a connection refused or admitted
 * untracked may be left the same way as any other.
 */
struct srclimit_ticket {
	size_t	slot;		/* entry index + 1; 0: none */
};

enum srclimit_verdict {
	SRCLIMIT_OK,			/* admitted */
	SRCLIMIT_MAX_CONNECTIONS,	/* holds max_connections */
	SRCLIMIT_RATE			/* over connection_rate */
};

/*
 * srclimit_create(conf):
 * A table for one listener.  conf is copied.  The rate is a token bucket
 * per source: rate_n tokens per rate_ms, refilled continuously (one token
 * each rate_ms / rate_n ms, exact: integer arithmetic in units of
 * 1/rate_ms token), holding at most rate_n, full when the source is new;
 * rate_n * rate_ms must fit in 63 bits.  Returns the table, or NULL with
 * errno EINVAL (a field out of range) or ENOMEM.
 */
struct srclimit	*srclimit_create(const struct srclimit_conf *);

/*
 * srclimit_enter(sl, addr, now_ms, ticket):
 * A new connection from addr at monotonic time now_ms.  Returns
 * SRCLIMIT_OK, having counted it and set *ticket (zeroed if nothing
 * needs releasing: no max_connections configured, or admitted untracked);
 * or SRCLIMIT_MAX_CONNECTIONS if the source already holds
 * max_connections, or SRCLIMIT_RATE if it has no token left, with
 * *ticket zeroed.  A refusal takes no token.  now_ms from different
 * threads may arrive slightly out of order; time never runs back for an
 * entry.  Any thread.
 */
enum srclimit_verdict	srclimit_enter(struct srclimit *,
			    const struct sock_addr *, int64_t,
			    struct srclimit_ticket *);

/*
 * srclimit_leave(sl, ticket):
 * The connection admitted with ticket ended: release its count.  Call
 * once per SRCLIMIT_OK (a zeroed ticket does nothing).  Any thread.
 */
void	srclimit_leave(struct srclimit *, const struct srclimit_ticket *);

/*
 * srclimit_datagram(sl, addr, now_ms):
 * One datagram from addr at now_ms, for the UDP echo: the rate alone
 * applies (max_connections does not), one token per datagram.  Returns 1
 * if allowed, 0 if over the rate.  Any thread.
 */
int	srclimit_datagram(struct srclimit *, const struct sock_addr *,
	    int64_t);

/*
 * srclimit_entries(sl):
 * Entries in use, at most table_size (for tests and metrics).
 */
size_t	srclimit_entries(const struct srclimit *);

/*
 * srclimit_untracked(sl):
 * Connections and datagrams admitted untracked (fail open, see above)
 * since create.
 */
uint64_t	srclimit_untracked(const struct srclimit *);

/*
 * srclimit_siphash(key, data, len):
 * SipHash-2-4 of the len bytes at data under the 16-byte key, as in the
 * reference implementation (exported for its test vectors).
 */
uint64_t	srclimit_siphash(const uint8_t *, const void *, size_t);

/* srclimit_free(sl): free sl; NULL is a no-op.  No thread may use it. */
void	srclimit_free(struct srclimit *);

#endif /* SRCLIMIT_H */
