/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef LOOP_H
#define LOOP_H

#include <stddef.h>
#include <stdint.h>

/*
 * One event loop per thread: its libevent base, its coroutines, signals
 * and the stop sequence.  Everything here is loop-thread only, except
 * loop_post().
 */

struct loop;

/* Where shutdown stands: running, draining (idle waits cancelled), or
 * canceling (every cancellable wait fails with ECANCELED). */
enum loop_state {
	LOOP_RUNNING,
	LOOP_DRAINING,
	LOOP_CANCELING,
};

/*
 * loop_create():
 * Make this thread's loop (edge-triggered epoll required).  Returns it,
 * or NULL with errno set.  coro_init() must have been called.
 */
struct loop	*loop_create(void);

/*
 * loop_free(l):
 * Free the loop; every coroutine must have finished.  NULL is a no-op.
 */
void	loop_free(struct loop *);

/*
 * loop_run(l):
 * Run until loop_stop() or until a drain ends.  Returns 0, or -1 with
 * errno set if libevent fails.
 */
int	loop_run(struct loop *);

/*
 * loop_stop(l):
 * Make loop_run() return once the current callback is done, whatever
 * is still running (tests, and fatal paths).  Called before loop_run()
 * (by a coroutine that loop_spawn() ran to its end), it makes the next
 * loop_run() return at once.  On l's thread only.
 */
void	loop_stop(struct loop *);

/*
 * loop_spawn(l, fn, arg):
 * Start fn(arg) in a new coroutine at once; it runs until it first parks.
 * The loop frees it when it finishes.  Returns 0, or -1 with errno ENOMEM.
 */
int	loop_spawn(struct loop *, void (*)(void *), void *);

/*
 * A child coroutine that its parent waits for.  The parent owns the
 * struct (on its stack) and must loop_join() before it goes away.
 */
struct loop_child {
	void	(*fn)(void *);
	void	*arg;
	int	 done;
	void	*joiner;	/* the parent's parked wait, private */
};

/*
 * loop_spawn_child(l, ch, fn, arg):
 * As loop_spawn(), but the caller can wait for it with loop_join(ch).
 * Returns 0, or -1 with errno ENOMEM.
 */
int	loop_spawn_child(struct loop *, struct loop_child *, void (*)(void *),
	    void *);

/*
 * loop_join(ch):
 * Park until ch's coroutine has finished.  Not cancellable: cancel the
 * child's waits instead (io_abort).  May park.
 */
void	loop_join(struct loop_child *);

/*
 * loop_yield():
 * Let the loop run its other work, then continue.  Returns 0, or -1 with
 * errno ECANCELED once the loop is canceling.  May park.
 */
int	loop_yield(void);

/*
 * A coroutine runs in slices: from when the loop resumes it until it
 * parks.  io.c spends from the slice (bytes moved plus a cost per system
 * call); once LOOP_SLICE has been spent, it yields before its next call.
 */
#define LOOP_SLICE	(256 * 1024)

/* loop_spend(n): count n units of work against the running slice. */
void	loop_spend(size_t);

/* loop_slice_spent(): 1 once the running slice is used up, else 0. */
int	loop_slice_spent(void);

/*
 * loop_yield_idle():
 * As loop_yield() for a coroutine with nothing in progress (an accept
 * loop): fails with ECANCELED once draining has begun, before or after
 * its turn.  May park.
 */
int	loop_yield_idle(void);

/*
 * loop_on_signal(l, signo, fn, arg):
 * Call fn(signo, arg) on the loop thread when signo arrives.  The handler
 * itself runs on an alternate stack and only writes to a pipe.  Returns 0
 * or -1 with errno set.
 */
int	loop_on_signal(struct loop *, int, void (*)(int, void *), void *);

/*
 * loop_drain(l, timeout_ms):
 * Begin the stop sequence: idle waits (accepts, connections waiting for
 * a request) fail with ECANCELED now, busy ones get timeout_ms, then every
 * wait is cancelled.  loop_run() returns once no coroutine is left.
 */
void	loop_drain(struct loop *, int64_t);

/*
 * loop_cancel(l):
 * Cancel every cancellable wait now (a second SIGTERM, or the end of the
 * drain).  loop_run() returns once no coroutine is left.
 */
void	loop_cancel(struct loop *);

/*
 * loop_signals(l):
 * Run the handlers of the signals that arrived while the loop was not
 * running (at exit, between the slices of a wait outside loop_run()).
 */
void	loop_signals(struct loop *);

/* loop_state(l): where the stop sequence stands. */
enum loop_state	loop_state(const struct loop *);

/*
 * loop_post(l, fn, arg):
 * Have fn(arg) called on l's thread, outside any coroutine, at its next
 * turn; calls posted to one loop run in the order posted.  Any thread.
 * A call still waiting when l is freed is dropped.  Returns 0, or -1
 * with errno ENOMEM.
 */
int	loop_post(struct loop *, void (*)(void *), void *);

struct loop_timer;

/*
 * loop_every(l, ms, fn, arg):
 * Call fn(arg) every ms on l's thread, outside any coroutine, until
 * loop_timer_free().  Returns the timer, or NULL with errno set.
 */
struct loop_timer	*loop_every(struct loop *, int64_t, void (*)(void *),
			    void *);

/* loop_timer_free(t): stop and free t, on its loop's thread.  NULL: no-op. */
void	loop_timer_free(struct loop_timer *);

/* loop_live(l): coroutines started by loop_spawn() still running. */
unsigned long	loop_live(const struct loop *);


#endif /* LOOP_H */
