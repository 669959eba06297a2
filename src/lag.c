/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lag.c: the loop lag sampler (see lag.h).
 *
 * A libevent persistent timer keeps to its schedule: each run is due one
 * period after the last was due, not after it ran, unless a whole period
 * was missed; then the next is due a period from now.  The sampler keeps
 * the same schedule, so a loop that is late every time is seen late
 * every time, not only once.
 */
#include "lag.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "clock.h"
#include "loop.h"
#include "stats.h"

struct lag {
	struct loop_timer	*timer;
	int64_t			 due_us;	/* the next run's time */
};

static void
on_tick(void *arg)
{
	struct lag *lg = arg;
	int64_t now = clock_now_us(), period = LAG_PERIOD_MS * 1000;

	stats_loop_lag(now - lg->due_us);
	lg->due_us += period;
	if (lg->due_us <= now)
		lg->due_us = now + period;
}

struct lag *
lag_start(struct loop *loop)
{
	struct lag *lg;

	if ((lg = calloc(1, sizeof(*lg))) == NULL)
		return (NULL);
	lg->due_us = clock_now_us() + LAG_PERIOD_MS * 1000;
	if ((lg->timer = loop_every(loop, LAG_PERIOD_MS, on_tick,
	    lg)) == NULL) {
		free(lg);
		errno = ENOMEM;
		return (NULL);
	}
	return (lg);
}

void
lag_stop(struct lag *lg)
{
	if (lg == NULL)
		return;
	loop_timer_free(lg->timer);
	free(lg);
}
