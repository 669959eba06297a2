/*
 * upstream.c: a proxy listener's upstreams and their addresses.
 *
 * Owns the address cache of each named upstream.  getaddrinfo(3) blocks,
 * so it runs in the worker pool (pool_run); the loop thread never waits
 * on DNS.  A name is resolved the first time a client needs it (that
 * client waits for the answer) and again once resolve_interval has
 * passed, in a background coroutine, while clients keep using the
 * addresses already known.
 */
#include "upstream.h"

#include <sys/socket.h>
#include <netdb.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "pool.h"

#define RETRY_FAILED_MS	1000

struct upstream {
	const struct upstream_conf *uc;
	struct upstreams	*us;
	struct sock_addr	 addrs[UPSTREAM_ADDRS_MAX];
	size_t			 naddrs;
	int64_t			 resolved_at;	/* loop_now(); 0: never */
	int			 refreshing;
	const char		*error;		/* last resolver message */
};

struct upstreams {
	const struct listen_conf *lc;
	struct loop		*loop;
	struct pool		*pool;
	int64_t			 interval;
	size_t			 next;		/* round-robin */
	size_t			 n;
	struct upstream		 u[];
};

/* A name to resolve, on the resolving coroutine's stack. */
struct resolve_job {
	struct pool_job		 job;
	const char		*host;
	char			 port[8];
	struct sock_addr	 addrs[UPSTREAM_ADDRS_MAX];
	size_t			 n;
	int			 gai;		/* getaddrinfo's result */
};

struct upstreams *
upstreams_create(const struct listen_conf *lc, struct loop *loop,
    struct pool *pool, int64_t interval)
{
	struct upstreams *us;
	size_t i;

	us = calloc(1, sizeof(*us) + lc->nupstreams * sizeof(us->u[0]));
	if (us == NULL)
		return (NULL);
	us->lc = lc;
	us->loop = loop;
	us->pool = pool;
	us->interval = interval;
	us->n = lc->nupstreams;
	for (i = 0; i < us->n; i++) {
		us->u[i].uc = &lc->upstreams[i];
		us->u[i].us = us;
	}
	return (us);
}

void
upstreams_free(struct upstreams *us)
{
	free(us);
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

size_t
upstreams_start(struct upstreams *us)
{
	if (us->lc->balance == BALANCE_FIRST)
		return (0);
	return (us->next++ % us->n);
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

/* Resolve u's name in the pool and update its cache.  May park. */
static void
resolve(struct upstream *u)
{
	struct resolve_job r;

	memset(&r, 0, sizeof(r));
	r.job.fn = resolve_fn;
	r.host = u->uc->host;
	snprintf(r.port, sizeof(r.port), "%u", u->uc->port);
	u->refreshing = 1;
	if (pool_run(u->us->pool, &r.job) == -1)
		r.gai = EAI_SYSTEM;
	u->refreshing = 0;
	u->resolved_at = loop_now();
	if (r.gai == 0 && r.n > 0) {
		memcpy(u->addrs, r.addrs, r.n * sizeof(r.addrs[0]));
		u->naddrs = r.n;
		u->error = NULL;
		log_debug("%s: resolved %s: %zu addresses", u->us->lc->name,
		    u->uc->text, r.n);
		return;
	}
	/* Keep the old addresses: a failed lookup is often passing. */
	u->error = r.gai == 0 ? "no addresses" : r.gai == EAI_SYSTEM ?
	    "resolver stopped" : gai_strerror(r.gai);
	log_warnx("%s: resolve %s: %s%s", u->us->lc->name, u->uc->text,
	    u->error, u->naddrs > 0 ? " (keeping the last addresses)" : "");
}

static void
refresh_main(void *arg)
{
	resolve(arg);
}

size_t
upstreams_addrs(struct upstreams *us, size_t i, struct sock_addr *addrs,
    const char **why)
{
	struct upstream *u = &us->u[i];

	if (u->uc->host == NULL) {
		addrs[0] = u->uc->addr;
		return (1);
	}
	/* A name that just failed is not looked up again for each client. */
	if (u->naddrs == 0 && (u->resolved_at == 0 ||
	    loop_now() - u->resolved_at >= RETRY_FAILED_MS))
		resolve(u);
	else if (!u->refreshing &&
	    loop_now() - u->resolved_at >= us->interval)
		(void)loop_spawn(us->loop, refresh_main, u);
	if (u->naddrs == 0) {
		*why = u->error != NULL ? u->error : "no addresses";
		return (0);
	}
	memcpy(addrs, u->addrs, u->naddrs * sizeof(addrs[0]));
	return (u->naddrs);
}
