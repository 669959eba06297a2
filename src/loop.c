/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loop.c: the event loop of one thread, and where its coroutines park.
 *
 * Owns the event_base, the list of parked coroutines, the ready queue,
 * signal delivery and the stop sequence.  What a coroutine waits for (an
 * fd, a pool job) belongs to io.c and pool.c; they park through
 * loop_park() and wake through loop_unpark().
 *
 * DESIGN.  Every parked coroutine has a struct loop_wait on its own
 * stack, linked into the loop's list.  A deadline is a libevent timer in
 * that record, armed only when there is a deadline.  Wakeups from libevent
 * callbacks (which run on the thread's main stack) resume the coroutine at
 * once; wakeups from inside a coroutine, cancellations and loop_yield()
 * go through the ready queue, which a zero-timeout timer drains on the
 * main stack once per turn of the loop, so a coroutine never resumes
 * another except to start it, and one that keeps yielding cannot starve
 * the others.
 *
 * Stopping is two steps.  loop_drain() fails every idle wait (accepts,
 * connections between requests) with ECANCELED, so listeners close and
 * idle clients go; busy connections carry on until the drain timer, when
 * loop_cancel() fails every wait (a parent joining its child waits for
 * the child, which is cancelled itself).  Handlers unwind through
 * their normal error paths; when the last spawned coroutine has finished,
 * loop_run() returns.
 *
 * Signals are caught by a handler on an alternate stack (a signal frame is
 * over 3 KiB, too much to push onto a small coroutine stack), which writes
 * the signal number to a pipe that the loop reads.
 *
 * Other threads reach a loop only through its inbox (loop_post()): a
 * mutex-protected FIFO of calls and an eventfd that the loop watches.
 * It carries the rare messages between loop threads (drain, cancel,
 * reopen the logs), never per-connection traffic.
 */
#include "loop.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "coro.h"
#include "log.h"
#include "loop_park.h"

#define WAIT_NONE	0
#define WAIT_PARKED	1	/* on l->waits, or l->soon (WAIT_SOONQ) */
#define WAIT_READY	2	/* on l->ready */
#define WAIT_TIMED	0x100	/* internal flag: its own timer is armed */
#define WAIT_SOONQ	0x200	/* internal flag: on l->soon, not l->waits */

TAILQ_HEAD(wait_list, loop_wait);

struct signal_handler {
	void	(*fn)(int, void *);
	void	*arg;
};

/* A call posted to a loop from another thread. */
struct loop_msg {
	void			(*fn)(void *);
	void			*arg;
	struct loop_msg		*next;
};

struct loop {
	struct event_base	*base;
	pthread_mutex_t		 inbox_lock;
	struct loop_msg		*inbox_head, *inbox_tail;	/* locked */
	int			 inbox_fd;	/* eventfd */
	struct event		*inbox_ev;
	struct wait_list	 waits;
	struct wait_list	 ready;
	struct event		*ready_ev;
	/*
	 * The LOOP_WAIT_SOON waits, in deadline order (each is LOOP_SOON_MS
	 * from when it parked), under one timer for the oldest: a busy
	 * connection parks and wakes on every message, and a list insert
	 * and remove cost less than adding and deleting a libevent timer.
	 */
	struct wait_list	 soon;
	struct event		*soon_ev;
	int			 soon_armed;	/* soon_ev is pending */
	struct event		*drain_ev;
	struct event		*signal_ev;
	int			 signal_pipe[2];
	struct signal_handler	 signals[NSIG];
	stack_t			 altstack;
	enum loop_state		 state;
	unsigned long		 live;
	unsigned long		 detached;	/* parked detached waits */
	unsigned long		 nready;	/* on ready */
	int			 stop;		/* loop_run() returns at once */
};

static __thread struct loop	*cur;
static __thread size_t		 slice_spent;	/* by the running coroutine */
static int			 signal_write_fd = -1;	/* process-wide */

static void	on_ready(evutil_socket_t, short, void *);
static void	on_drain_timeout(evutil_socket_t, short, void *);
static void	on_wait_timeout(evutil_socket_t, short, void *);
static void	on_soon(evutil_socket_t, short, void *);
static void	on_inbox(evutil_socket_t, short, void *);

struct event_base *
loop_base(void)
{
	return (cur->base);
}

/* libevent's own messages, in our log's format and levels. */
static void
on_libevent_log(int severity, const char *msg)
{
	int level = severity >= EVENT_LOG_ERR ? LOG_LEVEL_CRIT :
	    severity == EVENT_LOG_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG;

	if (log_enabled(level))
		log_write(level, 0, "libevent: %s", msg);
}

static void
libevent_init(void)
{
	event_set_log_callback(on_libevent_log);
}

struct loop *
loop_create(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct event_config *ec;
	struct loop *l;

	pthread_once(&once, libevent_init);

	if ((l = calloc(1, sizeof(*l))) == NULL)
		goto fail;
	TAILQ_INIT(&l->waits);
	TAILQ_INIT(&l->ready);
	TAILQ_INIT(&l->soon);
	l->signal_pipe[0] = l->signal_pipe[1] = -1;
	pthread_mutex_init(&l->inbox_lock, NULL);
	if ((l->inbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail_free;
	/* Edge-triggered persistent events: one epoll_ctl per fd, ever. */
	if ((ec = event_config_new()) == NULL)
		goto fail_free;
	event_config_require_features(ec, EV_FEATURE_ET | EV_FEATURE_O1);
	errno = 0;
	l->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (l->base == NULL) {
		if (errno == 0)
			errno = ENOSYS;	/* no backend with what we need */
		goto fail_free;
	}
	l->ready_ev = evtimer_new(l->base, on_ready, l);
	l->soon_ev = evtimer_new(l->base, on_soon, l);
	l->drain_ev = evtimer_new(l->base, on_drain_timeout, l);
	l->inbox_ev = event_new(l->base, l->inbox_fd, EV_READ | EV_PERSIST,
	    on_inbox, l);
	if (l->soon_ev == NULL || l->ready_ev == NULL || l->drain_ev == NULL ||
	    l->inbox_ev == NULL || event_add(l->inbox_ev, NULL) == -1)
		goto fail_base;
	cur = l;
	return (l);

fail_base:
	if (l->ready_ev)
		event_free(l->ready_ev);
	if (l->soon_ev)
		event_free(l->soon_ev);
	if (l->drain_ev)
		event_free(l->drain_ev);
	if (l->inbox_ev)
		event_free(l->inbox_ev);
	event_base_free(l->base);
fail_free:
	if (l->inbox_fd > 0)
		close(l->inbox_fd);
	pthread_mutex_destroy(&l->inbox_lock);
	free(l);
fail:
	if (errno == 0)
		errno = ENOMEM;
	return (NULL);
}

void
loop_free(struct loop *l)
{
	struct loop_msg *m, *next;
	int signo;

	if (l == NULL)
		return;
	for (signo = 1; signo < NSIG; signo++)
		if (l->signals[signo].fn != NULL)
			signal(signo, SIG_DFL);
	if (l->signal_ev != NULL) {
		event_free(l->signal_ev);
		close(l->signal_pipe[0]);
		close(l->signal_pipe[1]);
		signal_write_fd = -1;
	}
	if (l->altstack.ss_sp != NULL) {
		stack_t off = { .ss_flags = SS_DISABLE };

		sigaltstack(&off, NULL);
		free(l->altstack.ss_sp);
	}
	event_free(l->ready_ev);
	event_free(l->soon_ev);
	event_free(l->drain_ev);
	event_free(l->inbox_ev);
	for (m = l->inbox_head; m != NULL; m = next) {	/* never to run */
		next = m->next;
		free(m);
	}
	close(l->inbox_fd);
	pthread_mutex_destroy(&l->inbox_lock);
	event_base_free(l->base);
	if (cur == l)
		cur = NULL;
	free(l);
}

/* Once stopping, loop_run() returns when the last coroutine is gone. */
static void
stop_if_done(struct loop *l)
{
	if (l->state != LOOP_RUNNING && l->live == 0 && l->detached == 0)
		loop_stop(l);
}

void
loop_spend(size_t n)
{
	slice_spent += n;
}

int
loop_slice_spent(void)
{
	return (slice_spent >= LOOP_SLICE);
}

/*
 * Resume co with a fresh slice; if it has finished, free it and see
 * whether a stop is done.  A coroutine that starts another (loop_spawn)
 * gets its own slice back afterwards.
 */
static void
loop_resume(struct loop *l, struct coro *co)
{
	size_t saved = slice_spent;
	int finished;

	slice_spent = 0;
	finished = coro_resume(co);
	slice_spent = saved;
	if (!finished)
		return;
	coro_free(co);
	l->live--;
	stop_if_done(l);
}

int
loop_run(struct loop *l)
{
	int r = 0;

	/* libevent forgets a loopbreak made before its loop starts: a
	 * coroutine that loop_spawn() ran to its end may have asked. */
	if (!l->stop && event_base_dispatch(l->base) == -1) {
		errno = EIO;
		r = -1;
	}
	l->stop = 0;
	return (r);
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
	event_base_loopbreak(l->base);
}

int
loop_spawn(struct loop *l, void (*fn)(void *), void *arg)
{
	struct coro *co;

	if ((co = coro_create(fn, arg)) == NULL)
		return (-1);
	l->live++;
	loop_resume(l, co);
	return (0);
}

static void
child_main(void *arg)
{
	struct loop_child *ch = arg;

	ch->fn(ch->arg);
	ch->done = 1;
	if (ch->joiner != NULL)
		loop_unpark(ch->joiner, 0);
}

int
loop_spawn_child(struct loop *l, struct loop_child *ch, void (*fn)(void *),
    void *arg)
{
	ch->fn = fn;
	ch->arg = arg;
	ch->done = 0;
	ch->joiner = NULL;
	return (loop_spawn(l, child_main, ch));
}

void
loop_join(struct loop_child *ch)
{
	struct loop_wait w;

	if (ch->done)
		return;
	memset(&w, 0, sizeof(w));
	ch->joiner = &w;
	(void)loop_park(&w, -1, LOOP_WAIT_NOCANCEL);
	ch->joiner = NULL;
}

static int
would_cancel(const struct loop *l, int flags)
{
	if (flags & LOOP_WAIT_NOCANCEL)
		return (0);
	return (l->state == LOOP_CANCELING ||
	    (l->state == LOOP_DRAINING && (flags & LOOP_WAIT_IDLE)));
}

/* ms milliseconds as a struct timeval, for libevent. */
static struct timeval
ms_timeval(int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return (tv);
}

/* The list a parked w is on. */
static struct wait_list *
parked_on(struct loop *l, const struct loop_wait *w)
{
	return (w->flags & WAIT_SOONQ ? &l->soon : &l->waits);
}

/* If no timer is set for the soon list, set one for its oldest wait. */
static void
soon_arm(struct loop *l, int64_t now)
{
	struct loop_wait *w;
	struct timeval tv;

	if (l->soon_armed || (w = TAILQ_FIRST(&l->soon)) == NULL)
		return;
	/*
	 * libevent's clock is the kernel's coarse one, a tick behind ours,
	 * and inside a callback it counts from when its poll returned: a
	 * timer that runs early finds nothing due and is set again.  If the
	 * add fails (memory), the next park tries again.
	 */
	tv = ms_timeval(w->deadline > now ? w->deadline - now : 1);
	if (evtimer_add(l->soon_ev, &tv) == 0)
		l->soon_armed = 1;
}

/* Register w as parked (with its timer, if it has a deadline). */
static int
park_register(struct loop *l, struct loop_wait *w, int64_t deadline,
    int flags)
{
	struct loop_wait *last;
	struct timeval tv;
	int64_t left;

	if (would_cancel(l, flags)) {
		errno = ECANCELED;
		return (-1);
	}
	w->flags = flags;
	w->err = 0;
	w->deadline = deadline;
	if (deadline != -1 && (flags & LOOP_WAIT_SOON) &&
	    ((last = TAILQ_LAST(&l->soon, wait_list)) == NULL ||
	    last->deadline <= deadline)) {
		/* The caller made deadline LOOP_SOON_MS from now: it has not
		 * passed, and it is the latest on the list (if not, a caller
		 * broke that promise: it gets a timer of its own below). */
		w->flags |= WAIT_SOONQ;
		w->where = WAIT_PARKED;
		TAILQ_INSERT_TAIL(&l->soon, w, link);
		soon_arm(l, deadline - LOOP_SOON_MS);
		return (0);
	}
	if (deadline != -1) {
		if ((left = deadline - clock_now()) <= 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		tv = ms_timeval(left);
		evtimer_assign(&w->timer, l->base, on_wait_timeout, w);
		evtimer_add(&w->timer, &tv);
		w->flags |= WAIT_TIMED;
	}
	w->where = WAIT_PARKED;
	TAILQ_INSERT_TAIL(&l->waits, w, link);
	return (0);
}

int
loop_park(struct loop_wait *w, int64_t deadline, int flags)
{
	struct coro *co;

	if ((co = coro_self()) == NULL)
		fatalx("loop_park outside a coroutine");
	w->start = NULL;
	if (park_register(cur, w, deadline, flags) == -1)
		return (-1);
	w->co = co;
	coro_yield();
	if (w->err != 0) {
		errno = w->err;
		return (-1);
	}
	return (0);
}

int
loop_park_detached(struct loop_wait *w, int64_t deadline, int flags,
    void (*start)(struct loop_wait *))
{
	if (park_register(cur, w, deadline, flags) == -1)
		return (-1);
	w->co = NULL;
	w->start = start;
	cur->detached++;
	return (0);
}

static void
start_detached(void *arg)
{
	struct loop_wait *w = arg;

	w->start(w);
}

/* How long a detached wait whose coroutine could not be made waits. */
#define RESPAWN_MS	100

/*
 * Resume w's coroutine, or for a detached wait start a new one.  If no
 * coroutine can be made (memory, vm.max_map_count), the wait parks again
 * for RESPAWN_MS and then tries anew: its owner learns nothing is wrong
 * but the delay.
 */
static void
wake(struct loop *l, struct loop_wait *w)
{
	if (w->co != NULL) {
		loop_resume(l, w->co);
		return;
	}
	l->detached--;
	if (loop_spawn(l, start_detached, w) == -1 &&
	    loop_park_detached(w, clock_now() + RESPAWN_MS,
	    w->flags & ~(WAIT_TIMED | WAIT_SOONQ | LOOP_WAIT_SOON),
	    w->start) == -1)
		loop_spawn(l, start_detached, w);	/* cancelled: last try */
}

void
loop_forget(struct loop_wait *w)
{
	if (w->co != NULL || w->where == WAIT_NONE)
		return;
	if (w->where == WAIT_PARKED) {
		TAILQ_REMOVE(parked_on(cur, w), w, link);
		if (w->flags & WAIT_TIMED)
			evtimer_del(&w->timer);
	} else {
		TAILQ_REMOVE(&cur->ready, w, link);
		cur->nready--;
	}
	w->where = WAIT_NONE;
	cur->detached--;
	stop_if_done(cur);
}

/* Take w off the parked list, with err as the outcome of its wait. */
static void
wait_take(struct loop *l, struct loop_wait *w, int err)
{
	TAILQ_REMOVE(parked_on(l, w), w, link);
	if (w->flags & WAIT_TIMED)
		evtimer_del(&w->timer);
	w->err = err;
	w->where = WAIT_NONE;
}

/* End w's wait with err, before it resumes: its owner forgets it first. */
static void
wait_end(struct loop *l, struct loop_wait *w, int err)
{
	if (w->detach != NULL)
		w->detach(w);
	wait_take(l, w, err);
}

/*
 * Queue w to be resumed on the next turn of the loop.  The ready event is
 * a zero-timeout timer, not event_active(): libevent runs timers after it
 * has polled the fds, while an event activated from its own callback would
 * run again before any poll.
 */
static const struct timeval ready_now = { 0, 0 };

static void
ready_push(struct loop *l, struct loop_wait *w)
{
	w->where = WAIT_READY;
	TAILQ_INSERT_TAIL(&l->ready, w, link);
	l->nready++;
	if (!evtimer_pending(l->ready_ev, NULL))
		evtimer_add(l->ready_ev, &ready_now);
}

void
loop_unpark(struct loop_wait *w, int err)
{
	struct loop *l = cur;

	if (w->where != WAIT_PARKED)
		return;
	wait_take(l, w, err);
	if (coro_self() == NULL)
		wake(l, w);
	else
		ready_push(l, w);
}

static void
on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct loop_wait *w = arg;
	struct timeval tv;
	int64_t left;

	(void)fd;
	(void)what;
	if (w->where != WAIT_PARKED)
		return;
	/* libevent's clock is the kernel's coarse one: its timer may run a
	 * tick before our deadline.  ETIMEDOUT means the deadline passed. */
	if (w->deadline != -1 &&
	    (left = w->deadline - clock_now()) > 0) {
		tv = ms_timeval(left);
		evtimer_add(&w->timer, &tv);
		return;
	}
	wait_end(cur, w, ETIMEDOUT);
	wake(cur, w);
}

/*
 * The soon list's timer: time out the waits that are due, oldest first,
 * then set the timer for the next.  A woken wait that parks again joins
 * the list's end, LOOP_SOON_MS later, so the pass ends.
 */
static void
on_soon(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct loop_wait *w;
	int64_t now = clock_now();

	(void)fd;
	(void)what;
	l->soon_armed = 1;	/* parks meanwhile leave the timer to us */
	while ((w = TAILQ_FIRST(&l->soon)) != NULL && w->deadline <= now) {
		wait_end(l, w, ETIMEDOUT);
		wake(l, w);
	}
	l->soon_armed = 0;
	soon_arm(l, now);
}

/*
 * Resume what was ready when this pass began.  What gets queued meanwhile
 * (a coroutine yielding again) waits for the next turn of the loop, so
 * fds and timers are polled in between.  The queue is taken by count, not
 * moved to a list of its own, so that loop_forget() can take an entry
 * off it while the pass runs.
 */
static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct loop_wait *w;
	unsigned long n = l->nready;

	(void)fd;
	(void)what;
	while (n-- > 0 && (w = TAILQ_FIRST(&l->ready)) != NULL) {
		TAILQ_REMOVE(&l->ready, w, link);
		l->nready--;
		w->where = WAIT_NONE;
		wake(l, w);
	}
	if (!TAILQ_EMPTY(&l->ready) && !evtimer_pending(l->ready_ev, NULL))
		evtimer_add(l->ready_ev, &ready_now);
}

int
loop_yield(void)
{
	struct loop *l = cur;
	struct loop_wait w;

	if (l->state == LOOP_CANCELING) {
		errno = ECANCELED;
		return (-1);
	}
	w.co = coro_self();
	w.flags = 0;
	w.err = 0;
	ready_push(l, &w);
	coro_yield();
	return (0);
}

int
loop_yield_idle(void)
{
	if (would_cancel(cur, LOOP_WAIT_IDLE) || loop_yield() == -1 ||
	    would_cancel(cur, LOOP_WAIT_IDLE)) {
		errno = ECANCELED;
		return (-1);
	}
	return (0);
}

/* Fail the cancellable waits on list (only the idle ones if idle_only). */
static void
cancel_list(struct loop *l, struct wait_list *list, int idle_only)
{
	struct loop_wait *w, *next;

	for (w = TAILQ_FIRST(list); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if ((w->flags & LOOP_WAIT_NOCANCEL) ||
		    (idle_only && !(w->flags & LOOP_WAIT_IDLE)))
			continue;
		wait_end(l, w, ECANCELED);
		ready_push(l, w);
	}
}

/* Fail the cancellable waits (only the idle ones if idle_only). */
static void
cancel_waits(struct loop *l, int idle_only)
{
	cancel_list(l, &l->waits, idle_only);
	cancel_list(l, &l->soon, idle_only);
}

void
loop_drain(struct loop *l, int64_t timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	if (l->state != LOOP_RUNNING)
		return;
	l->state = LOOP_DRAINING;
	cancel_waits(l, 1);
	evtimer_add(l->drain_ev, &tv);
	stop_if_done(l);
}

void
loop_cancel(struct loop *l)
{
	if (l->state == LOOP_CANCELING)
		return;
	l->state = LOOP_CANCELING;
	evtimer_del(l->drain_ev);
	cancel_waits(l, 0);
	stop_if_done(l);
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	(void)fd;
	(void)what;
	log_info("shutdown_timeout reached: closing %lu busy connection "
	    "coroutines", l->live);
	loop_cancel(l);
}

enum loop_state
loop_state(const struct loop *l)
{
	return (l->state);
}

unsigned long
loop_live(const struct loop *l)
{
	return (l->live);
}

/* Async-signal-safe: only a write to the pipe. */
static void
on_signal_raw(int signo)
{
	unsigned char b = (unsigned char)signo;
	int saved = errno;

	(void)!write(signal_write_fd, &b, 1);
	errno = saved;
}

static void
on_signal_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	unsigned char sigs[64];
	ssize_t n, i;

	(void)what;
	while ((n = read(fd, sigs, sizeof(sigs))) > 0)
		for (i = 0; i < n; i++)
			if (sigs[i] < NSIG && l->signals[sigs[i]].fn != NULL)
				l->signals[sigs[i]].fn(sigs[i],
				    l->signals[sigs[i]].arg);
}

void
loop_signals(struct loop *l)
{
	if (l->signal_ev != NULL)
		on_signal_pipe(l->signal_pipe[0], EV_READ, l);
}

/* The pipe, its event and the alternate stack, made on first use. */
static int
signals_setup(struct loop *l)
{
	long size = sysconf(_SC_SIGSTKSZ);

	if (pipe2(l->signal_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return (-1);
	l->signal_ev = event_new(l->base, l->signal_pipe[0],
	    EV_READ | EV_PERSIST, on_signal_pipe, l);
	if (l->signal_ev == NULL || event_add(l->signal_ev, NULL) == -1)
		return (-1);
	signal_write_fd = l->signal_pipe[1];
	if (size < SIGSTKSZ)
		size = SIGSTKSZ;
	l->altstack.ss_size = (size_t)size;
	if ((l->altstack.ss_sp = malloc(l->altstack.ss_size)) == NULL)
		return (-1);
	return (sigaltstack(&l->altstack, NULL));
}

int
loop_on_signal(struct loop *l, int signo, void (*fn)(int, void *), void *arg)
{
	struct sigaction sa;

	if (signo <= 0 || signo >= NSIG || signo > 255) {
		errno = EINVAL;
		return (-1);
	}
	if (l->signal_ev == NULL && signals_setup(l) == -1)
		return (-1);
	l->signals[signo].fn = fn;
	l->signals[signo].arg = arg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal_raw;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return (sigaction(signo, &sa, NULL));
}

int
loop_post(struct loop *l, void (*fn)(void *), void *arg)
{
	struct loop_msg *m;
	uint64_t one = 1;
	int was_empty;

	if ((m = malloc(sizeof(*m))) == NULL)
		return (-1);
	m->fn = fn;
	m->arg = arg;
	m->next = NULL;
	pthread_mutex_lock(&l->inbox_lock);
	was_empty = l->inbox_head == NULL;
	if (l->inbox_tail != NULL)
		l->inbox_tail->next = m;
	else
		l->inbox_head = m;
	l->inbox_tail = m;
	pthread_mutex_unlock(&l->inbox_lock);
	/* One wakeup per batch: the loop takes the whole list at once. */
	if (was_empty)
		(void)!write(l->inbox_fd, &one, sizeof(one));
	return (0);
}

/* Run the posted calls, oldest first, on the loop's thread. */
static void
on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct loop_msg *m, *next;
	uint64_t n;

	(void)what;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&l->inbox_lock);
	m = l->inbox_head;
	l->inbox_head = l->inbox_tail = NULL;
	pthread_mutex_unlock(&l->inbox_lock);
	for (; m != NULL; m = next) {
		next = m->next;
		m->fn(m->arg);
		free(m);
	}
}

/* A timer of loop_every(). */
struct loop_timer {
	struct event	*ev;
	void		(*fn)(void *);
	void		*arg;
};

static void
on_every(evutil_socket_t fd, short what, void *arg)
{
	struct loop_timer *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

struct loop_timer *
loop_every(struct loop *l, int64_t ms, void (*fn)(void *), void *arg)
{
	struct timeval tv = ms_timeval(ms);
	struct loop_timer *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	t->fn = fn;
	t->arg = arg;
	if ((t->ev = event_new(l->base, -1, EV_PERSIST, on_every, t)) == NULL ||
	    event_add(t->ev, &tv) == -1) {
		if (t->ev != NULL)
			event_free(t->ev);
		free(t);
		errno = ENOMEM;
		return (NULL);
	}
	return (t);
}

void
loop_timer_free(struct loop_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}
