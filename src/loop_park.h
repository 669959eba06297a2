/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef LOOP_PARK_H
#define LOOP_PARK_H

/*
 * The parking record shared by the modules that suspend coroutines on
 * libevent (io.c, pool.c).  Not for handlers: they call io_*.
 */

#include <sys/queue.h>

#include <event2/event_struct.h>

#include <stdint.h>

struct coro;

/* Flags for loop_park(). */
#define LOOP_WAIT_IDLE		0x1	/* cancelled as soon as draining begins */
#define LOOP_WAIT_NOCANCEL	0x2	/* never cancelled (loop_join) */
/*
 * The deadline is LOOP_SOON_MS from now (the caller read the clock for
 * it): the wait goes on the loop's list of such waits, which stays in
 * deadline order and has one timer for all of them, instead of a timer
 * of its own.  For io.c's re-reads after a short read, armed on every
 * wait of a busy connection: a list insert and remove cost less than a
 * libevent timer's add and delete.
 */
#define LOOP_WAIT_SOON		0x4
#define LOOP_SOON_MS		100

/*
 * A coroutine parked on the loop.  It lives on the parked coroutine's
 * stack, which outlives the wait.  detach, if set, is called before a
 * timeout or cancellation resumes the coroutine, so the owner of the wait
 * (io.c, pool.c) can forget it.  Every idle connection keeps one (io.c's
 * hibernation record): flags and where are short so that the three small
 * fields share one 8-byte word.
 */
struct loop_wait {
	TAILQ_ENTRY(loop_wait)	 link;
	struct coro		*co;		/* NULL: detached */
	void			(*start)(struct loop_wait *);	/* detached */
	struct event		 timer;
	int64_t			 deadline;	/* the timer's, or -1 */
	void			(*detach)(struct loop_wait *);
	unsigned short		 flags;		/* LOOP_WAIT_*, and loop.c's */
	short			 where;		/* WAIT_* in loop.c */
	int			 err;		/* 0 or the errno to fail with */
};

/*
 * loop_park(w, deadline, flags):
 * Suspend the running coroutine until loop_unpark(w), the absolute
 * monotonic deadline in ms (-1: none), or cancellation.  The caller sets
 * w->detach (or NULL).  Returns 0, or -1 with errno ETIMEDOUT, ECANCELED
 * or the error passed to loop_unpark().  Fails at once, without parking,
 * if the deadline has passed or the wait would be cancelled.  May park.
 */
int	loop_park(struct loop_wait *, int64_t, int);

/*
 * loop_park_detached(w, deadline, flags, start):
 * As loop_park(), but the caller does not wait: it goes on (and should
 * soon return, letting its coroutine finish and its stack go back to the
 * pool).  When w is woken -- loop_unpark(w, err), the deadline, or
 * cancellation -- start(w) runs in a new coroutine, with w->err the
 * outcome.  w must stay valid until then (not on a stack).  A detached
 * wait keeps the loop running as a coroutine would.  Returns 0, or -1
 * with errno ETIMEDOUT or ECANCELED if it would fail at once (then
 * nothing is registered).  Loop thread.
 */
int	loop_park_detached(struct loop_wait *, int64_t, int,
	    void (*)(struct loop_wait *));

/*
 * loop_forget(w):
 * Drop a parked detached wait without running its start (its owner is
 * tearing down what it was for).  Loop thread.
 */
void	loop_forget(struct loop_wait *);

/*
 * loop_unpark(w, err):
 * Resume w's coroutine, making loop_park() return err (0 for success).
 * From the main stack it resumes at once; from a coroutine it is queued.
 * A wait already resumed or queued is left alone.  Loop thread only.
 */
void	loop_unpark(struct loop_wait *, int);

/* loop_base(): the running loop's event_base, for io.c and pool.c. */
struct event_base	*loop_base(void);

#endif /* LOOP_PARK_H */
