/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef HEALTH_H
#define HEALTH_H

/*
 * A proxy listener's active health checks: one per upstream for the
 * whole daemon, run by coroutines on the loop thread of the listener's
 * first copy.  Loop thread.
 */

struct listen_conf;
struct loop;
struct upstreams;
struct health;

/*
 * health_start(loop, us, lc):
 * Check each of us's upstreams every lc->health_check.interval (with a
 * jitter of up to a tenth, so that many listeners do not check in step),
 * on loop, until health_stop().  us (of lc) is held meanwhile.  Returns
 * the checks, or NULL with errno set (ENOMEM).
 */
struct health	*health_start(struct loop *, struct upstreams *,
		    const struct listen_conf *);

/*
 * health_stop(h):
 * Stop h's checks: none starts after this, and a result that comes in
 * after it is dropped.  h frees itself once its coroutines have ended
 * (a check under way ends within its timeout).  NULL: a no-op.
 */
void	health_stop(struct health *);

#endif /* HEALTH_H */
