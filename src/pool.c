/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pool.c: worker threads for blocking work, completing on the loops.
 *
 * Owns the worker threads, the job queue and the ports.  The jobs belong
 * to their callers except while the pool holds them: from pool_submit()
 * until done, and from pool_run() until it returns 0, or for good (until
 * release) once a pool_run() caller has given up.
 *
 * DESIGN.  The queue is a mutex-protected FIFO with a cap; workers sleep
 * on a condition variable.  The workers and the queue are shared by every
 * loop thread, but a job completes on the thread that queued it, because
 * its coroutines, its loop_wait records and whatever its done callback
 * touches belong to that thread.  So each loop thread attached to the
 * pool has a port: an eventfd watched by its loop, a completion list and
 * its coroutines waiting for room.  A thread-local pointer names the
 * calling thread's port, and each job records the port it was queued
 * from.  A worker runs job->fn, which touches only the job, then appends
 * the job to its port's completion list and writes the port's eventfd.
 * That loop's callback takes the whole list under the lock and, outside
 * it, resumes each pool_run() caller, calls each submitted job's done, or
 * releases each abandoned job.  So workers never touch libevent,
 * coroutines or connections, and every result is delivered on the loop
 * thread that asked for it.
 *
 * A pool_run() wait is like any other: it has a deadline and is
 * cancelled at shutdown.  The job cannot follow the caller out (a worker
 * may be in the middle of fn), so it is abandoned: marked under the lock,
 * skipped if no worker has taken it yet, and released by the loop when
 * it comes back.  Whoever finishes last (the caller or the worker) thus
 * frees it, and a wedged worker never holds a connection or the shutdown
 * hostage.
 *
 * pool_wait() lets coroutines share a submitted job (lookups of one name
 * are coalesced this way): each waiter is linked on the job, and they are
 * all woken once its done callback has run.  They must be on the thread
 * the job was submitted from, where done runs.
 *
 * A pool_run() caller whose job finds the queue full parks (with its
 * deadline) until a worker takes a job; a pool_submit() caller is told
 * EAGAIN and decides.  A pool_submit_room() caller is told EAGAIN too,
 * and its room is called back when a worker takes a job: the access log
 * keeps its lines and submits them then, without waiting for its next
 * line (which may never come, or be dropped).  Both kinds of waiter are
 * rooms on their port.  Room may open on any thread's job, so a port
 * counts its rooms under the lock, linked in the same hold that found the
 * queue full (no wakeup is lost in between), and a worker that takes a
 * job off the queue writes the eventfd of every port that has some.  The
 * loop calls them back after delivering the completions.
 *
 * A loop thread that ends detaches first, as its event base is about to
 * go: what is back already is delivered there, and its port loses its
 * event but stays, with its eventfd and its list.  Its jobs still out,
 * once back, are delivered by pool_wait_idle() (which polls every
 * detached port's eventfd) and pool_stop(), on the thread that shuts the
 * pool down.  No coroutine of the ended thread waits any more, so only
 * done and release callbacks run there.
 *
 * The workers start with the first job queued, not in pool_create(): all
 * of them at once, under the lock, so that several loop threads queueing
 * their first jobs together start them once.  A daemon that never needs
 * the pool (an echo listener without an access log, a proxy to numeric
 * upstreams) then stays a single thread, and that is worth keeping: the
 * kernel skips the atomic reference count on the file of every fd a
 * system call takes (fdget()'s fast path) only while the process's files
 * table is not shared with another thread.  Sharing it was measured at
 * about 2 % more CPU per message for an echo daemon on one loop thread.
 * Starting the workers one by one as the queue grows would save nothing
 * more: once there is a second thread, the fast path is gone.  A pool
 * stopped before any job has no worker to stop; a start that fails fails
 * the job's hand-off (the next one tries again), and one that gets only
 * some workers keeps those.
 *
 * Stopping must not hang on a job stuck in a blocking call (an access log
 * on a FIFO that nobody reads blocks in open(2) forever).  Workers run
 * with every signal blocked but POOL_SIGNAL, whose handler does nothing
 * and is installed without SA_RESTART; pool_stop() sends it until each
 * worker has exited or its deadline has passed, so a blocked call fails
 * with EINTR and the job, seeing pool_stopping(), gives up.  A job that
 * does not (a write stuck in the kernel) is left behind, with the
 * description of its job kept for the caller to log.
 */
#include "pool.h"

#include <sys/eventfd.h>

#include <poll.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "loop.h"
#include "loop_park.h"

#define POOL_SIGNAL		(SIGRTMIN + 1)
/*
 * How often pool_stop() interrupts the workers still running, and how
 * often pool_wait_idle() looks when it cannot poll every port.
 */
#define POOL_KICK_MS		5
/* pool_free() without pool_stop(): how long running jobs get. */
#define POOL_FREE_STOP_MS	1000

/* A port's rooms waiting (pool.h), and a batch of them being woken. */
TAILQ_HEAD(pool_room_list, pool_room);

/*
 * A pool_run() caller's wait, on its stack: first for room in the queue
 * (room linked on its port's room_waiters), then for its job (job->waiter
 * points here).
 */
struct run_wait {
	struct loop_wait	 lw;		/* first: detach gets &lw */
	struct pool_room	 room;
	struct pool		*p;
	struct pool_port	*port;
	struct pool_job		*job;
};

/* A pool_wait() caller, on its stack, linked on job->waiters. */
struct job_wait {
	struct loop_wait	 lw;		/* first: detach gets &lw */
	struct job_wait		*next;
	struct job_wait		**prevp;	/* NULL: not linked */
};

struct worker {
	pthread_t		 thread;
	struct pool		*p;
	struct pool_job		*job;		/* running now; under lock */
	int			 joined, stuck;
	char			 what[POOL_WHAT_MAX];	/* job when left */
};

/*
 * A loop thread's side of the pool: the jobs it queued come back here.
 * Its loop delivers them (on_complete) while attached; once detached,
 * pool_wait_idle() and pool_stop() do.  Freed by pool_free() only.
 */
struct pool_port {
	struct pool		*p;
	TAILQ_ENTRY(pool_port)	 link;		/* on p->ports; under lock */
	int			 efd;		/* eventfd: completions, room */
	struct event		*ev;		/* NULL once detached, stopped */
	int			 detached;	/* under lock */
	struct pool_job		*done_head, *done_tail;	/* under lock */
	int			 room_waiting;	/* how many; under lock */
	int			 room_opened;	/* since: wake them; lock */
	struct pool_room_list	 room_waiters;	/* its loop thread only */
};

struct pool {
	pthread_mutex_t		 lock;
	pthread_cond_t		 work;		/* a job was queued, or stop */
	struct pool_job		*head, *tail;	/* queued */
	size_t			 queued, queue_max;
	size_t			 running;	/* jobs in a worker's hands */
	int			 stop;
	int			 stuck;		/* workers left behind */
	int			 stopped;	/* pool_stop() has run */
	int			 room_waiting;	/* sum over the ports; lock */
	struct worker		*workers;	/* [threads_max] */
	int			 threads_max;	/* to start: worker_threads */
	int			 nthreads;	/* started; lock until stop */
	TAILQ_HEAD(, pool_port)	 ports;		/* under lock */
	struct pool_counts	 counts;	/* under lock */
};

static atomic_int	stopping;

/* The calling thread's port, set by pool_attach(): one pool at a time. */
static __thread struct pool_port	*my_port;

int
pool_stopping(void)
{
	return (atomic_load(&stopping));
}

static void
on_interrupt(int signo)
{
	(void)signo;	/* only here to make blocking calls return EINTR */
}

/* The calling thread's port on p, or NULL if it is not attached to p. */
static struct pool_port *
port_of(const struct pool *p)
{
	return (my_port != NULL && my_port->p == p ? my_port : NULL);
}

/* Append to a singly linked FIFO. */
static void
fifo_push(struct pool_job **head, struct pool_job **tail,
    struct pool_job *job)
{
	job->next = NULL;
	if (*tail != NULL)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

/* Wake whoever delivers for port: its loop, or pool_wait_idle(). */
static void
port_poke(struct pool_port *port)
{
	uint64_t one = 1;

	(void)!write(port->efd, &one, sizeof(one));
}

/*
 * Move job to its port's completion list and wake the loop that queued
 * it (or, detached, whoever delivers for it).  Lock held.
 */
static void
complete_locked(struct pool_job *job)
{
	struct pool_port *port = job->port;

	fifo_push(&port->done_head, &port->done_tail, job);
	port_poke(port);
}

/*
 * Jobs left the queue: wake every loop with a coroutine waiting for room,
 * whichever thread's job it was (the queue is shared).  Lock held.
 */
static void
room_opened_locked(struct pool *p)
{
	struct pool_port *port;

	if (p->room_waiting == 0)
		return;
	TAILQ_FOREACH(port, &p->ports, link)
		if (port->room_waiting > 0) {
			port->room_opened = 1;
			port_poke(port);
		}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;
	struct pool_job *job;
	sigset_t all;

	/* "top -H" and /proc/PID/task tell the workers from the loops. */
	(void)pthread_setname_np(pthread_self(), "aio-worker");
	sigfillset(&all);
	sigdelset(&all, POOL_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, NULL);

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if ((job = p->head) == NULL)
			break;		/* stopping, and nothing queued */
		if ((p->head = job->next) == NULL)
			p->tail = NULL;
		p->queued--;
		room_opened_locked(p);
		/* Nobody waits for an abandoned job: skip its work. */
		if (p->stop || job->abandoned) {
			job->cancelled = 1;
			if (p->stop)
				p->counts.cancelled++;
			else
				p->counts.expired++;
		} else {
			p->running++;
			w->job = job;
			pthread_mutex_unlock(&p->lock);
			job->fn(job);
			pthread_mutex_lock(&p->lock);
			w->job = NULL;
			p->running--;
			p->counts.done++;
		}
		complete_locked(job);
	}
	pthread_mutex_unlock(&p->lock);
	return (NULL);
}

/*
 * Take room off the list it is on, if any: its port's room waiters (then
 * uncounted), or a batch being woken.  Where its port delivers.
 */
static void
room_unlink(struct pool_room *room)
{
	struct pool_port *port = room->port;

	if (room->on == NULL)
		return;
	TAILQ_REMOVE(room->on, room, link);
	if (room->on == &port->room_waiters) {
		pthread_mutex_lock(&port->p->lock);
		port->room_waiting--;
		port->p->room_waiting--;
		pthread_mutex_unlock(&port->p->lock);
	}
	room->on = NULL;
}

/*
 * Call the fn of each of port's rooms: resume its pool_run() callers
 * waiting for room, tell its pool_submit_room() callers.  Those that find
 * the queue full again link anew, for the next job taken.  A room stays
 * on the batch until its turn, so an fn that unlinks another room (or a
 * resumed coroutine that gives up) takes it off the batch.
 */
static void
wake_room_waiters(struct pool_port *port)
{
	struct pool_room_list batch = TAILQ_HEAD_INITIALIZER(batch);
	struct pool_room *room;
	int n = 0;

	if (TAILQ_EMPTY(&port->room_waiters))
		return;
	TAILQ_CONCAT(&batch, &port->room_waiters, link);
	TAILQ_FOREACH(room, &batch, link) {
		room->on = &batch;
		n++;
	}
	pthread_mutex_lock(&port->p->lock);
	port->room_waiting -= n;
	port->p->room_waiting -= n;
	pthread_mutex_unlock(&port->p->lock);
	while ((room = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, room, link);
		room->on = NULL;
		room->fn(room);
	}
}

/* Unlink a pool_wait() waiter from its job, if it still is. */
static void
job_wait_unlink(struct job_wait *jw)
{
	if (jw->prevp == NULL)
		return;
	if ((*jw->prevp = jw->next) != NULL)
		jw->next->prevp = jw->prevp;
	jw->prevp = NULL;
}

/*
 * Run a submitted job's done, then wake its pool_wait() waiters (done
 * may free the job, so they are taken first), oldest first: they were
 * linked at the head.  A woken coroutine runs at once, so the next one is
 * read before.
 */
static void
deliver_done(struct pool_job *job)
{
	struct job_wait *jw = NULL, *next, *cur;

	for (cur = job->waiters; cur != NULL; cur = next) {
		next = cur->next;
		cur->prevp = NULL;
		cur->next = jw;
		jw = cur;
	}
	job->waiters = NULL;
	if (job->done != NULL)
		job->done(job);
	for (; jw != NULL; jw = next) {
		next = jw->next;
		loop_unpark(&jw->lw, 0);
	}
}

/* Hand one completed job back: to its waiter, its done, or release. */
static void
deliver(struct pool_job *job)
{
	struct loop_wait *w;

	if ((w = job->waiter) != NULL) {
		job->waiter = NULL;
		if (!job->cancelled) {
			loop_unpark(w, 0);	/* the caller owns job again */
			return;
		}
		/* Cancelled by pool_stop(): the caller fails, the pool
		 * keeps the job, as after any failed pool_run(). */
		loop_unpark(w, ECANCELED);
		job->release(job);
	} else if (job->abandoned)
		job->release(job);
	else
		deliver_done(job);
}

/*
 * Deliver every job that came back to port, then resume its callers
 * waiting for room.  On port's loop thread, or on the thread shutting
 * down once port is detached.
 */
static void
port_deliver(struct pool_port *port)
{
	struct pool_job *job, *next;
	uint64_t n;
	int opened;

	(void)!read(port->efd, &n, sizeof(n));
	pthread_mutex_lock(&port->p->lock);
	job = port->done_head;
	port->done_head = port->done_tail = NULL;
	/* Only a job taken off the queue wakes the rooms: a completion
	 * alone leaves the queue as full as it was. */
	opened = port->room_opened;
	port->room_opened = 0;
	pthread_mutex_unlock(&port->p->lock);
	for (; job != NULL; job = next) {
		next = job->next;
		deliver(job);
	}
	if (opened)
		wake_room_waiters(port);
}

/* The loop side: deliver every completed job of this thread's port. */
static void
on_complete(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	port_deliver(arg);
}

/* Whether the calling thread delivers for port: its own, or detached. */
static int
port_here_locked(const struct pool_port *port)
{
	return (port == my_port || port->detached);
}

/*
 * At shutdown: deliver what came back to the calling thread's port and to
 * every detached one.  A port still attached to another thread is that
 * thread's to deliver.  The lock is dropped around each delivery (done
 * callbacks queue jobs); ports are freed by pool_free() only, so the walk
 * can go on from where it was.
 */
static void
deliver_here(struct pool *p)
{
	struct pool_port *port;

	pthread_mutex_lock(&p->lock);
	TAILQ_FOREACH(port, &p->ports, link) {
		if (!port_here_locked(port))
			continue;
		pthread_mutex_unlock(&p->lock);
		port_deliver(port);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
}

static int
signals_ready(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;	/* no SA_RESTART: calls get EINTR */
	/*
	 * On the alternate stack: sent to the process from outside, it may
	 * land on the loop thread, in a coroutine whose small stack has no
	 * room for a signal frame.
	 */
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	return (sigaction(POOL_SIGNAL, &sa, NULL));
}

struct pool *
pool_create(int nthreads, int queue_max)
{
	struct pool *p;
	int i;

	if (nthreads < 1 || queue_max < 1) {
		errno = EINVAL;
		return (NULL);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	TAILQ_INIT(&p->ports);
	p->queue_max = (size_t)queue_max;
	atomic_store(&stopping, 0);
	if (signals_ready() == -1 || pool_attach(p) == -1)
		goto fail;
	/* The threads themselves start with the first job (see above). */
	p->workers = calloc((size_t)nthreads, sizeof(*p->workers));
	if (p->workers == NULL)
		goto fail;
	for (i = 0; i < nthreads; i++)
		p->workers[i].p = p;
	p->threads_max = nthreads;
	return (p);

fail:
	i = errno;
	pool_free(p);
	errno = i;
	return (NULL);
}

int
pool_attach(struct pool *p)
{
	struct pool_port *port;
	int err;

	if (my_port != NULL) {
		errno = EBUSY;
		return (-1);
	}
	if ((port = calloc(1, sizeof(*port))) == NULL)
		return (-1);
	port->p = p;
	TAILQ_INIT(&port->room_waiters);
	if ((port->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	port->ev = event_new(loop_base(), port->efd, EV_READ | EV_PERSIST,
	    on_complete, port);
	if (port->ev == NULL || event_add(port->ev, NULL) == -1) {
		errno = ENOMEM;		/* libevent does not say */
		goto fail;
	}
	pthread_mutex_lock(&p->lock);
	TAILQ_INSERT_TAIL(&p->ports, port, link);
	pthread_mutex_unlock(&p->lock);
	my_port = port;
	return (0);

fail:
	err = errno;
	if (port->ev != NULL)
		event_free(port->ev);
	if (port->efd != -1)
		close(port->efd);
	free(port);
	errno = err;
	return (-1);
}

void
pool_detach(struct pool *p)
{
	struct pool_port *port;

	if ((port = port_of(p)) == NULL)
		return;
	/* What is back already completes here, on the thread that asked. */
	port_deliver(port);
	pthread_mutex_lock(&p->lock);
	port->detached = 1;
	pthread_mutex_unlock(&p->lock);
	if (port->ev != NULL) {
		event_free(port->ev);
		port->ev = NULL;
	}
	my_port = NULL;
}

/*
 * Start the workers not running yet, all at once (see DESIGN above).
 * Each is born with every signal blocked, as the loop threads are, and
 * sets its own mask: a signal meant for a loop must not land on it first
 * (the caller may be a loop thread that takes signals).  Returns 0 if at
 * least one worker runs, else -1 with errno ENOMEM for pthread_create()'s
 * EAGAIN (out of memory, RLIMIT_NPROC or the kernel's threads-max: never
 * EAGAIN, which tells a caller that the queue is full) or its other
 * errors.  Workers that did start are kept, and the next job queued tries
 * to start the rest.  Lock held, p not stopped: pool_stop() sets p->stop
 * under the lock before it reads nthreads, so it joins every worker
 * started here, and none starts after.
 */
static int
start_workers_locked(struct pool *p)
{
	sigset_t all, old;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (p->nthreads < p->threads_max) {
		if ((err = pthread_create(&p->workers[p->nthreads].thread,
		    NULL, worker_main, &p->workers[p->nthreads])) != 0)
			break;
		p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->nthreads > 0)
		return (0);
	errno = err == EAGAIN ? ENOMEM : err;
	return (-1);
}

/*
 * Queue job (its port set) if there is room, starting the workers first
 * if some are not running (the first job, or a start that failed).
 * Returns 0, or -1 with errno EAGAIN if the queue is full, ECANCELED if
 * the pool has stopped (no worker would ever take it), or ENOMEM (or
 * another pthread_create() error) if no worker could be started.  If the
 * queue is full and room is given, room is linked on the job's port's
 * room waiters and counted, in the hold of the lock that saw the queue
 * full: the next worker to take a job then wakes that port's deliverer.
 */
static int
enqueue(struct pool *p, struct pool_job *job, struct pool_room *room)
{
	int err = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stop)
		err = ECANCELED;
	else if (p->nthreads < p->threads_max &&
	    start_workers_locked(p) == -1)
		err = errno;
	else if (p->queued >= p->queue_max) {
		err = EAGAIN;
		if (room != NULL) {
			room->port = job->port;
			room->on = &room->port->room_waiters;
			TAILQ_INSERT_TAIL(room->on, room, link);
			room->port->room_waiting++;
			p->room_waiting++;
		}
	} else {
		job->cancelled = 0;
		fifo_push(&p->head, &p->tail, job);
		p->queued++;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->lock);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

/*
 * Give up on a queued or running job: no waiter any more, and the pool
 * releases it when it comes back.  The flag is read by the workers, so
 * it is set under the lock.
 */
static void
abandon(struct pool *p, struct pool_job *job)
{
	job->waiter = NULL;
	pthread_mutex_lock(&p->lock);
	job->abandoned = 1;
	pthread_mutex_unlock(&p->lock);
}

/* loop_wait detach hook: a pool_run() wait timed out or was cancelled. */
static void
run_detach(struct loop_wait *lw)
{
	struct run_wait *rw = (struct run_wait *)lw;

	if (rw->room.on != NULL)
		room_unlink(&rw->room);
	else if (rw->job->waiter == lw)
		abandon(rw->p, rw->job);
}

/* A pool_run() caller's room fn: there is room, try again. */
static void
run_room(struct pool_room *room)
{
	struct run_wait *rw = (struct run_wait *)(void *)((char *)room -
	    offsetof(struct run_wait, room));

	loop_unpark(&rw->lw, 0);
}

int
pool_run(struct pool *p, struct pool_job *job, int64_t deadline)
{
	struct run_wait rw;
	int err;

	memset(&rw, 0, sizeof(rw));
	rw.lw.detach = run_detach;
	rw.room.fn = run_room;
	rw.p = p;
	rw.job = job;
	job->waiter = NULL;
	job->waiters = NULL;
	job->abandoned = 0;
	if ((rw.port = job->port = port_of(p)) == NULL) {
		errno = EINVAL;		/* it would come back nowhere */
		goto fail_release;
	}
	while (enqueue(p, job, &rw.room) == -1) {
		if (errno != EAGAIN)
			goto fail_release;
		/* Full, and rw linked: wait for a worker to make room. */
		if (loop_park(&rw.lw, deadline, 0) == -1) {
			room_unlink(&rw.room);	/* failed without parking */
			goto fail_release;
		}
	}
	job->waiter = &rw.lw;
	if (loop_park(&rw.lw, deadline, 0) == 0)
		return (0);
	/* The detach hook, or deliver(), has taken care of the job unless
	 * loop_park() failed without parking. */
	err = errno;
	if (job->waiter == &rw.lw)
		abandon(p, job);
	errno = err;
	return (-1);

fail_release:
	/* Never queued: nobody else will ever see the job. */
	err = errno;
	job->release(job);
	errno = err;
	return (-1);
}

int
pool_submit(struct pool *p, struct pool_job *job)
{
	return (pool_submit_room(p, job, NULL));
}

int
pool_submit_room(struct pool *p, struct pool_job *job, struct pool_room *room)
{
	job->waiter = NULL;
	job->waiters = NULL;
	job->abandoned = 0;
	if ((job->port = port_of(p)) == NULL) {
		errno = EINVAL;		/* done would run nowhere */
		return (-1);
	}
	return (enqueue(p, job, room));
}

void
pool_room_cancel(struct pool_room *room)
{
	room_unlink(room);
}

/* loop_wait detach hook: a pool_wait() timed out or was cancelled. */
static void
wait_detach(struct loop_wait *lw)
{
	job_wait_unlink((struct job_wait *)lw);
}

int
pool_wait(struct pool *p, struct pool_job *job, int64_t deadline)
{
	struct job_wait jw;
	int r, err;

	/* The waiters are woken where done runs: on the job's thread. */
	if (port_of(p) == NULL || job->port != my_port) {
		errno = EINVAL;
		return (-1);
	}
	memset(&jw, 0, sizeof(jw));
	jw.lw.detach = wait_detach;
	if ((jw.next = job->waiters) != NULL)
		jw.next->prevp = &jw.next;
	job->waiters = &jw;
	jw.prevp = &job->waiters;
	r = loop_park(&jw.lw, deadline, 0);
	err = errno;
	job_wait_unlink(&jw);		/* if it failed without parking */
	errno = err;
	return (r);
}

size_t
pool_queued(const struct pool *p)
{
	/* Workers change it: read it under the lock (not really const). */
	pthread_mutex_t *lock = (pthread_mutex_t *)&p->lock;
	size_t n;

	pthread_mutex_lock(lock);
	n = p->queued;
	pthread_mutex_unlock(lock);
	return (n);
}

void
pool_counts(const struct pool *p, struct pool_counts *counts)
{
	pthread_mutex_t *lock = (pthread_mutex_t *)&p->lock;

	pthread_mutex_lock(lock);
	*counts = p->counts;
	counts->queued = p->queued;
	pthread_mutex_unlock(lock);
}

int
pool_wait_idle(struct pool *p, int64_t deadline)
{
	struct pool_port *port;
	struct pollfd *pfd;
	int64_t left;
	nfds_t n, max = 0;
	int idle, blind;

	/*
	 * Poll the eventfds of the ports delivered here.  Those attached to
	 * another thread (or, short of memory, left out) are not watched:
	 * their jobs' ends are then looked for every POOL_KICK_MS.
	 */
	pthread_mutex_lock(&p->lock);
	TAILQ_FOREACH(port, &p->ports, link)
		max++;
	pthread_mutex_unlock(&p->lock);
	if ((pfd = calloc(max + 1, sizeof(*pfd))) == NULL)
		max = 0;
	for (;;) {
		deliver_here(p);
		pthread_mutex_lock(&p->lock);
		idle = p->queued == 0 && p->running == 0;
		n = 0;
		blind = 0;
		TAILQ_FOREACH(port, &p->ports, link) {
			if (!port_here_locked(port)) {
				blind = 1;
				continue;
			}
			if (port->done_head != NULL)
				idle = 0;	/* came back meanwhile */
			if (n < max) {
				pfd[n].fd = port->efd;
				pfd[n++].events = POLLIN;
			} else
				blind = 1;
		}
		pthread_mutex_unlock(&p->lock);
		if (idle)
			break;
		if ((left = deadline - clock_now()) <= 0) {
			free(pfd);
			errno = ETIMEDOUT;
			return (-1);
		}
		if (blind && left > POOL_KICK_MS)
			left = POOL_KICK_MS;
		(void)poll(pfd, n, (int)left);
	}
	free(pfd);
	return (0);
}

/*
 * Interrupt the workers still running every POOL_KICK_MS and join those
 * that exit, until none is left or the deadline has passed (after one
 * round at least, so a pool told to stop at once still gets its idle
 * workers back).  Those still running are detached and counted stuck,
 * with what they were doing.  Only the workers started are looked at:
 * none if no job was ever queued.  p->stop is set, so nthreads no longer
 * changes, and it is read after the lock hold that set it.
 */
static void
join_workers(struct pool *p, int64_t deadline)
{
	const struct timespec kick = { 0, POOL_KICK_MS * 1000 * 1000 };
	struct worker *w;
	int i, left;

	for (;;) {
		left = 0;
		for (i = 0; i < p->nthreads; i++) {
			w = &p->workers[i];
			if (w->joined)
				continue;
			if (pthread_tryjoin_np(w->thread, NULL) == 0)
				w->joined = 1;
			else {
				pthread_kill(w->thread, POOL_SIGNAL);
				left++;
			}
		}
		if (left == 0)
			return;
		(void)nanosleep(&kick, NULL);
		if (clock_now() >= deadline)
			break;
	}
	for (i = 0; i < p->nthreads; i++) {
		w = &p->workers[i];
		if (w->joined || pthread_tryjoin_np(w->thread, NULL) == 0) {
			w->joined = 1;
			continue;
		}
		pthread_mutex_lock(&p->lock);
		if (w->job != NULL)
			memcpy(w->what, w->job->what, sizeof(w->what));
		else
			strcpy(w->what, "(between jobs)");
		w->what[sizeof(w->what) - 1] = '\0';
		pthread_mutex_unlock(&p->lock);
		pthread_detach(w->thread);
		w->stuck = 1;
		p->stuck++;
	}
}

int
pool_stop(struct pool *p, int64_t deadline)
{
	struct pool_port *port;
	struct pool_job *job;

	if (p->stopped)
		return (p->stuck);
	p->stopped = 1;
	atomic_store(&stopping, 1);
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	join_workers(p, deadline);

	/*
	 * Jobs no worker took are cancelled; every job that came back is
	 * delivered, here if its port is this thread's or detached.  A stuck
	 * worker's job never comes back: it may still touch it.
	 */
	pthread_mutex_lock(&p->lock);
	while ((job = p->head) != NULL) {
		p->head = job->next;
		job->cancelled = 1;
		p->counts.cancelled++;
		complete_locked(job);
	}
	p->tail = NULL;
	p->queued = 0;
	room_opened_locked(p);
	pthread_mutex_unlock(&p->lock);
	deliver_here(p);
	/* Nothing more is delivered (a stuck job never is): stop watching. */
	if ((port = port_of(p)) != NULL && port->ev != NULL) {
		event_free(port->ev);
		port->ev = NULL;
	}
	return (p->stuck);
}

const char *
pool_stuck_what(const struct pool *p, int i)
{
	int k;

	for (k = 0; k < p->nthreads; k++)
		if (p->workers[k].stuck && i-- == 0)
			return (p->workers[k].what);
	return (NULL);
}

void
pool_free(struct pool *p)
{
	struct pool_port *port;
	struct pool_room *room;
	int stuck;

	if (p == NULL)
		return;
	stuck = pool_stop(p, clock_now() + POOL_FREE_STOP_MS);
	if (port_of(p) != NULL)
		my_port = NULL;		/* this thread may attach anew */
	if (stuck > 0)
		return;		/* a stuck worker may still touch p: keep it */
	while ((port = TAILQ_FIRST(&p->ports)) != NULL) {
		TAILQ_REMOVE(&p->ports, port, link);
		/* Rooms of ports not delivered here: never woken now. */
		while ((room = TAILQ_FIRST(&port->room_waiters)) != NULL) {
			TAILQ_REMOVE(&port->room_waiters, room, link);
			room->on = NULL;
		}
		close(port->efd);
		free(port);
	}
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p);
}
