/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * upstream.c: a proxy listener's upstreams and their addresses.
 *
 * Owns the address cache of each named upstream, and the lookup of each
 * name while it is in the worker pool.  getaddrinfo(3) blocks, so it runs
 * in the pool; the loop thread never waits on DNS.  A name is resolved
 * the first time a client needs it (that client waits for the answer, up
 * to its deadline) and again once resolve_interval has passed, in the
 * background, while clients keep using the addresses already known.
 * Numeric addresses (IPv4, [IPv6], unix:) are parsed with the
 * configuration and never go to the pool, so neither a proxy nor a health
 * check to them starts its worker threads (the daemon may then stay one
 * thread: see pool.c).
 *
 * Lookups are coalesced: at most one per name is in the pool, and every
 * client that needs the name meanwhile waits for that one job
 * (pool_wait), which wakes them all once its done callback has filled
 * the cache.  So a DNS outage costs one queued job per name, not one per
 * client, and cannot fill the queue that the access logs share.  A client
 * that gives up (its deadline, the shutdown) only stops waiting; the
 * lookup goes on and fills the cache for the next client.
 */
#include "upstream.h"

#include <sys/socket.h>
#include <netdb.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "stats.h"

#define RETRY_FAILED_MS	1000

struct resolve_job;

struct upstream {
	const struct upstream_conf *uc;
	struct upstreams	*us;
	struct sock_addr	 addrs[UPSTREAM_ADDRS_MAX];
	size_t			 naddrs;
	int64_t			 resolved_at;	/* clock_now(); 0: never */
	struct resolve_job	*inflight;	/* the lookup in the pool */
	const char		*error;		/* last resolver message */
	struct stats_upstream	*stats;		/* held */
	struct stats_upstream_slot *slot;	/* this thread's of them */
};

struct upstreams {
	int			 holds;		/* this thread's holders */
	const struct config	*cfg;		/* held: lc is in it */
	const struct listen_conf *lc;
	struct loop		*loop;
	struct pool		*pool;
	int64_t			 interval;
	struct balancer		*balance;	/* shared by the copies */
	size_t			 n;
	struct upstream		 u[];
};

/*
 * A name to resolve, on the heap: the pool owns it until resolve_done.
 * It keeps its own copy of the name, and u is cleared if the upstreams
 * are freed first (a worker stuck in getaddrinfo at exit).
 */
struct resolve_job {
	struct pool_job		 job;		/* first: the pool's view */
	struct upstream		*u;
	char			 host[SOCK_NAME_MAX];
	char			 port[8];
	struct sock_addr	 addrs[UPSTREAM_ADDRS_MAX];
	size_t			 n;
	int			 gai;		/* getaddrinfo's result */
};

struct upstreams *
upstreams_create(const struct config *cfg, const struct listen_conf *lc,
    struct loop *loop, struct pool *pool, struct upstreams *share)
{
	struct upstreams *us;
	size_t i;

	us = calloc(1, sizeof(*us) + lc->nupstreams * sizeof(us->u[0]));
	if (us == NULL)
		return (NULL);
	if ((us->balance = balance_create(lc, share != NULL ?
	    share->balance : NULL)) == NULL) {
		free(us);
		errno = ENOMEM;
		return (NULL);
	}
	us->holds = 1;
	us->cfg = config_hold(cfg);
	us->lc = lc;
	us->loop = loop;
	us->pool = pool;
	us->interval = cfg->resolve_interval;
	us->n = lc->nupstreams;
	for (i = 0; i < us->n; i++) {
		us->u[i].uc = &lc->upstreams[i];
		us->u[i].us = us;
		if ((us->u[i].stats = stats_upstream_get(lc->name,
		    lc->upstreams[i].text)) == NULL) {
			upstreams_free(us);
			errno = ENOMEM;
			return (NULL);
		}
		us->u[i].slot = stats_upstream_slot(us->u[i].stats);
		stats_upstream_set(us->u[i].stats, lc->upstreams[i].weight,
		    atomic_load(&balance_state(us->balance, i)->up));
	}
	return (us);
}

/* Do two strings (either may be NULL) say the same? */
static int
same_text(const char *a, const char *b)
{
	return (a == b || (a != NULL && b != NULL && strcmp(a, b) == 0));
}

/* Are two health checks the same check? */
static int
same_check(const struct health_conf *a, const struct health_conf *b)
{
	return (a->set == b->set && a->interval == b->interval &&
	    a->timeout == b->timeout && a->rise == b->rise &&
	    a->fall == b->fall && same_text(a->send, b->send) &&
	    same_text(a->expect, b->expect));
}

int
upstreams_same(const struct upstreams *us, const struct config *cfg,
    const struct listen_conf *lc)
{
	size_t i;

	/* Counted by listener name too: a renamed one counts anew. */
	if (us->n != lc->nupstreams || us->lc->balance != lc->balance ||
	    us->lc->max_fails != lc->max_fails ||
	    us->lc->fail_timeout != lc->fail_timeout ||
	    !same_check(&us->lc->health_check, &lc->health_check) ||
	    us->interval != cfg->resolve_interval ||
	    strcmp(us->lc->name, lc->name) != 0)
		return (0);
	for (i = 0; i < us->n; i++)
		if (strcmp(us->u[i].uc->entry, lc->upstreams[i].entry) != 0)
			return (0);
	return (1);
}

void
upstreams_rebind(struct upstreams *us, const struct config *cfg,
    const struct listen_conf *lc)
{
	size_t i;

	(void)config_hold(cfg);
	config_free((struct config *)us->cfg);
	us->cfg = cfg;
	us->lc = lc;
	for (i = 0; i < us->n; i++)
		us->u[i].uc = &lc->upstreams[i];
}

void
upstreams_free(struct upstreams *us)
{
	size_t i;

	if (us == NULL || --us->holds > 0)
		return;
	/* A lookup still out frees itself when it comes back, if ever. */
	for (i = 0; i < us->n; i++) {
		if (us->u[i].inflight != NULL)
			us->u[i].inflight->u = NULL;
		stats_upstream_put(us->u[i].stats);
	}
	balance_free(us->balance);
	config_free((struct config *)us->cfg);
	free(us);
}

struct upstreams *
upstreams_hold(struct upstreams *us)
{
	us->holds++;
	return (us);
}

size_t
upstreams_count(const struct upstreams *us)
{
	return (us->n);
}

const char *
upstreams_text(const struct upstreams *us, size_t i)
{
	return (us->u[i].uc->text);
}

struct stats_upstream_slot *
upstreams_stats(const struct upstreams *us, size_t i)
{
	return (us->u[i].slot);
}

size_t
upstreams_pick(struct upstreams *us, const void *key, size_t keylen,
    size_t *order, struct balance_claim *claim)
{
	return (balance_pick(us->balance, key, keylen, order, claim));
}

void
upstreams_release(struct upstreams *us, const struct balance_claim *claim)
{
	balance_release(us->balance, claim);
}

void
upstreams_result(struct upstreams *us, size_t i,
    enum balance_outcome outcome)
{
	balance_result(us->balance, i, outcome);
}

void
upstreams_check_begin(struct upstreams *us, const struct listen_conf *lc)
{
	size_t i;

	balance_check_begin(us->balance, &lc->health_check);
	for (i = 0; i < us->n; i++)
		stats_upstream_set(us->u[i].stats, us->u[i].uc->weight,
		    atomic_load(&balance_state(us->balance, i)->up));
}

int
upstreams_set_up(struct upstreams *us, size_t i, int up)
{
	if (!balance_set_up(us->balance, i, up))
		return (0);
	stats_upstream_set(us->u[i].stats, us->u[i].uc->weight, up);
	return (1);
}

struct upstream_state *
upstreams_state(const struct upstreams *us, size_t i)
{
	return (balance_state(us->balance, i));
}

atomic_int *
upstreams_active(const struct upstreams *us, size_t i)
{
	return (&balance_state(us->balance, i)->active);
}

/* Worker side: getaddrinfo, keep up to UPSTREAM_ADDRS_MAX addresses. */
static void
resolve_fn(struct pool_job *job)
{
	struct resolve_job *r = (struct resolve_job *)job;
	struct addrinfo hints, *res, *ai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r->gai = getaddrinfo(r->host, r->port, &hints, &res)) != 0)
		return;
	for (ai = res; ai != NULL && r->n < UPSTREAM_ADDRS_MAX;
	    ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(r->addrs[0].ss))
			continue;
		memcpy(&r->addrs[r->n].ss, ai->ai_addr, ai->ai_addrlen);
		r->addrs[r->n].len = ai->ai_addrlen;
		r->n++;
	}
	freeaddrinfo(res);
}

/* Update u's cache from a finished lookup, and say what happened. */
static void
resolve_update(struct upstream *u, struct resolve_job *r)
{
	u->resolved_at = clock_now();
	if (r->gai == 0 && r->n > 0) {
		memcpy(u->addrs, r->addrs, r->n * sizeof(r->addrs[0]));
		u->naddrs = r->n;
		u->error = NULL;
		log_debug("%s: resolved %s: %zu addresses", u->us->lc->name,
		    u->uc->text, r->n);
		return;
	}
	/* Keep the old addresses: a failed lookup is often passing. */
	if (r->job.cancelled) {
		/* The daemon is stopping: nothing for an operator to do. */
		u->error = "resolver stopped";
		log_debug("%s: resolve %s: %s", u->us->lc->name, u->uc->text,
		    u->error);
		return;
	}
	u->error = r->gai == 0 ? "no addresses" : gai_strerror(r->gai);
	log_warnx("%s: resolve %s: %s%s", u->us->lc->name, u->uc->text,
	    u->error, u->naddrs > 0 ? " (keeping the last addresses)" : "");
}

/*
 * Loop side: the lookup is back; fill the cache.  The pool then wakes
 * the clients waiting for it.
 */
static void
resolve_done(struct pool_job *job)
{
	struct resolve_job *r = (struct resolve_job *)job;

	if (r->u != NULL) {		/* else the upstreams are gone */
		r->u->inflight = NULL;
		resolve_update(r->u, r);
	}
	free(r);
}

/*
 * Hand u's name to the pool, unless a lookup is already out.  Returns 0,
 * or -1 with errno EAGAIN (queue full), ECANCELED (the pool has stopped)
 * or ENOMEM (out of memory, or no worker thread could be started).
 */
static int
resolve_start(struct upstream *u)
{
	static _Atomic int64_t warned;
	struct resolve_job *r;
	int err;

	if (u->inflight != NULL)
		return (0);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (-1);
	r->job.fn = resolve_fn;
	r->job.done = resolve_done;
	snprintf(r->job.what, sizeof(r->job.what), "resolve %s",
	    u->uc->text);
	r->u = u;
	snprintf(r->host, sizeof(r->host), "%s", u->uc->host);
	snprintf(r->port, sizeof(r->port), "%u", u->uc->port);
	if (pool_submit(u->us->pool, &r->job) == -1) {
		err = errno;
		free(r);
		/* A full queue or the stop is passing; a pool without
		 * worker threads (ENOMEM) is for an operator to see, once in
		 * a while, not at debug with each client. */
		errno = err;
		if (err != EAGAIN && err != ECANCELED &&
		    log_ratelimit(&warned))
			log_warn("%s: resolve %s: the worker pool cannot take "
			    "the lookup", u->us->lc->name, u->uc->text);
		return (-1);
	}
	u->inflight = r;
	return (0);
}

size_t
upstreams_addrs(struct upstreams *us, size_t i, struct sock_addr *addrs,
    const char **why, int64_t deadline)
{
	struct upstream *u = &us->u[i];
	int64_t now = clock_now();

	if (u->uc->host == NULL) {
		addrs[0] = u->uc->addr;
		return (1);
	}
	if (u->naddrs == 0) {
		/* A name that just failed is not looked up again for each
		 * client; one being looked up is waited for. */
		if (u->inflight == NULL && (u->resolved_at == 0 ||
		    now - u->resolved_at >= RETRY_FAILED_MS) &&
		    resolve_start(u) == -1) {
			*why = errno == EAGAIN ? "worker queue full" :
			    errno == ECANCELED ? "resolver stopped" :
			    strerror(errno);
			return (0);
		}
		if (u->inflight != NULL && pool_wait(us->pool,
		    &u->inflight->job, deadline) == -1) {
			*why = errno == ETIMEDOUT ? "timed out resolving" :
			    "stopping";
			return (0);
		}
	} else if (now - u->resolved_at >= us->interval)
		(void)resolve_start(u);	/* the old addresses serve meanwhile */
	if (u->naddrs == 0) {
		*why = u->error != NULL ? u->error : "no addresses";
		errno = EHOSTUNREACH;
		return (0);
	}
	memcpy(addrs, u->addrs, u->naddrs * sizeof(addrs[0]));
	return (u->naddrs);
}
