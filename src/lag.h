/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef LAG_H
#define LAG_H

/*
 * Loop lag: how late a loop thread runs a timer that is due, the
 * fairness of the loop seen live.  A sampler per loop thread wakes every
 * LAG_PERIOD_MS and counts its lateness in the thread's histogram
 * (stats_loop_lag()).  A connection that kept the loop from turning
 * shows up there as lag.  Loop thread.
 */

struct lag;
struct loop;

/* How often a loop thread looks at its lag. */
#define LAG_PERIOD_MS	100

/*
 * lag_start(loop):
 * Start sampling the lag of loop, the calling thread's.  Returns the
 * sampler, or NULL with errno ENOMEM.
 */
struct lag	*lag_start(struct loop *);

/* lag_stop(lg): stop and free lg, on its thread.  NULL is a no-op. */
void	lag_stop(struct lag *);

#endif /* LAG_H */
