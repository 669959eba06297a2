/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "balance.h"
#include "sock.h"

/*
 * A proxy listener's upstreams: the order to try them in, and their
 * addresses, with names resolved by the worker pool and cached.  Loop
 * thread.
 */

struct config;
struct listen_conf;
struct loop;
struct pool;
struct upstreams;
struct stats_upstream_slot;

/* Addresses kept per upstream name. */
#define UPSTREAM_ADDRS_MAX	8

/*
 * upstreams_create(cfg, lc, loop, pool, share):
 * The upstreams of proxy listener lc, of configuration cfg (held for as
 * long as they live: config_hold()), with one holder, the caller.
 * Nothing is resolved yet.  share: another loop thread's upstreams of
 * the same listener, whose balance (balance.c) these share, so that
 * clients are spread evenly whatever thread they land on (NULL: none);
 * either may be freed first.  Names are resolved and cached per thread.
 * Returns them, or NULL with errno ENOMEM.
 */
struct upstreams	*upstreams_create(const struct config *,
			    const struct listen_conf *, struct loop *,
			    struct pool *, struct upstreams *);

/*
 * upstreams_hold(us):
 * One more holder of us on its thread (a client connecting through it
 * while a reload replaces it).  Returns us.
 */
struct upstreams	*upstreams_hold(struct upstreams *);

/*
 * upstreams_free(us):
 * Let go of one hold; the last frees us.  NULL is a no-op.  A lookup
 * still in the pool is detached: it frees itself when it comes back.
 */
void	upstreams_free(struct upstreams *);

/*
 * upstreams_same(us, cfg, lc):
 * 1 if lc (from a reloaded configuration cfg) names the same upstreams,
 * with the same options, in the same order, with the same balance,
 * max_fails, fail_timeout and resolve_interval, so that us can serve it
 * on (keeping its cache of names and its balance's turn); else 0.
 */
int	upstreams_same(const struct upstreams *, const struct config *,
	    const struct listen_conf *);

/*
 * upstreams_rebind(us, cfg, lc):
 * Make us read its settings from lc, of cfg, for which upstreams_same()
 * said 1 (cfg is held, the old one let go).
 */
void	upstreams_rebind(struct upstreams *, const struct config *,
	    const struct listen_conf *);

/* upstreams_count(us): how many upstreams there are. */
size_t	upstreams_count(const struct upstreams *);

/*
 * upstreams_pick(us, key, keylen, order, claim):
 * The upstreams a new client tries, best first, into order (room for
 * upstreams_count()): balance_pick(), whose claim the client gives back
 * with upstreams_release() once it has tried.  key: the client's address
 * bytes (or uid), for source-hash.  Returns how many; 0: none is up.
 */
size_t	upstreams_pick(struct upstreams *, const void *, size_t, size_t *,
	    struct balance_claim *);

/* upstreams_release(us, claim): balance_release(). */
void	upstreams_release(struct upstreams *, const struct balance_claim *);

/*
 * upstreams_result(us, i, outcome):
 * A client's connect to upstream i: passive ejection counts it
 * (balance_result()).
 */
void	upstreams_result(struct upstreams *, size_t, enum balance_outcome);

/*
 * upstreams_check_begin(us, lc):
 * lc (us's) is live now: upstreams whose check differs from the one
 * they were under (a check changed, added or removed) start afresh, up
 * (balance_check_begin()).  The first loop thread's, before its checks
 * start.
 */
void	upstreams_check_begin(struct upstreams *, const struct listen_conf *);

/*
 * upstreams_set_up(us, i, up):
 * The health check's verdict on upstream i (1 up, 0 down), for the
 * balance and the metrics.  Returns 1 if it changed.
 */
int	upstreams_set_up(struct upstreams *, size_t, int);

/* upstreams_state(us, i): upstream i's shared state (balance.h). */
struct upstream_state	*upstreams_state(const struct upstreams *, size_t);

/*
 * upstreams_active(us, i):
 * Upstream i's count of open relays over every loop thread, for
 * least-connections: a relay adds 1 while it is open.  Lives as long as
 * us.
 */
atomic_int	*upstreams_active(const struct upstreams *, size_t);

/*
 * upstreams_addrs(us, i, addrs, why, deadline):
 * Fill addrs (UPSTREAM_ADDRS_MAX entries) with upstream i's addresses.
 * A name never resolved is resolved now: parks until the pool answers
 * or the absolute monotonic deadline in ms (-1: none), sharing the one
 * lookup of that name with every other client waiting for it.  A stale
 * name is refreshed in the background while the old addresses serve.
 * Returns how many, or 0 with *why set to the resolver's message and
 * errno ETIMEDOUT or ECANCELED (the wait failed, or the pool has
 * stopped), EAGAIN (the pool's queue is full), ENOMEM, or EHOSTUNREACH
 * (no address known).  May park.
 */
size_t	upstreams_addrs(struct upstreams *, size_t, struct sock_addr *,
	    const char **, int64_t);

/* upstreams_text(us, i): upstream i as written in the configuration. */
const char	*upstreams_text(const struct upstreams *, size_t);

/* upstreams_stats(us, i): this thread's counters of upstream i. */
struct stats_upstream_slot	*upstreams_stats(const struct upstreams *,
				    size_t);

#endif /* UPSTREAM_H */
