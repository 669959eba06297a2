/*
 * pool.c: worker threads for blocking work, completing on the loop.
 *
 * Owns the worker threads, the job queue and the completion list.  The
 * jobs belong to their callers except while the pool holds them: from
 * pool_submit() until done, and from pool_run() until it returns 0, or
 * for good (until release) once a pool_run() caller has given up.
 *
 * DESIGN.  The queue is a mutex-protected FIFO with a cap; workers sleep
 * on a condition variable.  A worker runs job->fn, which touches only the
 * job, then appends the job to the completion list and writes the
 * eventfd.  The loop watches the eventfd; its callback takes the whole
 * completion list under the lock and, outside it, resumes each
 * pool_run() caller, calls each submitted job's done, or releases each
 * abandoned job.  So workers never touch libevent, coroutines or
 * connections, and every result is delivered on the loop thread.
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
 * all woken once its done callback has run.
 *
 * A pool_run() caller whose job finds the queue full parks (with its
 * deadline) until a worker takes a job; a pool_submit() caller is told
 * EAGAIN and decides (the access log keeps its lines for later).
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
/* How often pool_stop() interrupts the workers still running. */
#define POOL_KICK_MS		5
/* pool_free() without pool_stop(): how long running jobs get. */
#define POOL_FREE_STOP_MS	1000

/*
 * A pool_run() caller's wait, on its stack: first for room in the queue
 * (linked on room_waiters), then for its job (job->waiter points here).
 */
struct run_wait {
	struct loop_wait	 lw;		/* first: detach gets &lw */
	TAILQ_ENTRY(run_wait)	 link;
	int			 linked;	/* on p->room_waiters */
	struct pool		*p;
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

struct pool {
	pthread_mutex_t		 lock;
	pthread_cond_t		 work;		/* a job was queued, or stop */
	struct pool_job		*head, *tail;	/* queued */
	size_t			 queued, queue_max;
	size_t			 running;	/* jobs in a worker's hands */
	struct pool_job		*done_head, *done_tail;	/* completed */
	int			 stop;
	int			 stuck;		/* workers left behind */
	int			 stopped;	/* pool_stop() has run */
	int			 efd;		/* eventfd: completions */
	struct event		*ev;
	struct worker		*workers;
	int			 nthreads;
	TAILQ_HEAD(, run_wait)	 room_waiters;
};

static atomic_int	stopping;

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

/* Move job to the completion list and wake the loop.  Lock held. */
static void
complete_locked(struct pool *p, struct pool_job *job)
{
	uint64_t one = 1;

	fifo_push(&p->done_head, &p->done_tail, job);
	(void)!write(p->efd, &one, sizeof(one));
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;
	struct pool_job *job;
	sigset_t all;

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
		/* Nobody waits for an abandoned job: skip its work. */
		if (p->stop || job->abandoned) {
			job->cancelled = 1;
		} else {
			p->running++;
			w->job = job;
			pthread_mutex_unlock(&p->lock);
			job->fn(job);
			pthread_mutex_lock(&p->lock);
			w->job = NULL;
			p->running--;
		}
		complete_locked(p, job);
	}
	pthread_mutex_unlock(&p->lock);
	return (NULL);
}

/*
 * Resume the pool_run() callers waiting for room.  Those that find the
 * queue full again queue up anew and wait for the next completion.
 */
static void
wake_room_waiters(struct pool *p)
{
	TAILQ_HEAD(, run_wait) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct run_wait *rw;

	TAILQ_CONCAT(&batch, &p->room_waiters, link);
	TAILQ_FOREACH(rw, &batch, link)
		rw->linked = 0;
	while ((rw = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, rw, link);
		loop_unpark(&rw->lw, 0);
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

/* The loop side: deliver every completed job. */
static void
on_complete(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct pool_job *job, *next;
	uint64_t n;

	(void)what;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&p->lock);
	job = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	for (; job != NULL; job = next) {
		next = job->next;
		deliver(job);
	}
	wake_room_waiters(p);
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
	struct worker *w;
	int i;

	if (nthreads < 1 || queue_max < 1) {
		errno = EINVAL;
		return (NULL);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	TAILQ_INIT(&p->room_waiters);
	p->queue_max = (size_t)queue_max;
	atomic_store(&stopping, 0);
	if (signals_ready() == -1 ||
	    (p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	p->ev = event_new(loop_base(), p->efd, EV_READ | EV_PERSIST,
	    on_complete, p);
	if (p->ev == NULL || event_add(p->ev, NULL) == -1)
		goto fail;
	p->workers = calloc((size_t)nthreads, sizeof(*p->workers));
	if (p->workers == NULL)
		goto fail;
	for (i = 0; i < nthreads; i++) {
		w = &p->workers[i];
		w->p = p;
		if ((errno = pthread_create(&w->thread, NULL, worker_main,
		    w)) != 0)
			goto fail;
		p->nthreads++;
	}
	return (p);

fail:
	i = errno;
	pool_free(p);
	errno = i;
	return (NULL);
}

/*
 * Queue job if there is room.  Returns 0, or -1 with errno EAGAIN if the
 * queue is full or ECANCELED if the pool has stopped (no worker would
 * ever take it).
 */
static int
enqueue(struct pool *p, struct pool_job *job)
{
	int err = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stop)
		err = ECANCELED;
	else if (p->queued >= p->queue_max)
		err = EAGAIN;
	else {
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

	if (rw->linked) {
		TAILQ_REMOVE(&rw->p->room_waiters, rw, link);
		rw->linked = 0;
	} else if (rw->job->waiter == lw)
		abandon(rw->p, rw->job);
}

int
pool_run(struct pool *p, struct pool_job *job, int64_t deadline)
{
	struct run_wait rw;
	int err;

	memset(&rw, 0, sizeof(rw));
	rw.lw.detach = run_detach;
	rw.p = p;
	rw.job = job;
	job->waiter = NULL;
	job->waiters = NULL;
	job->abandoned = 0;
	while (enqueue(p, job) == -1) {
		if (errno != EAGAIN)
			goto fail_release;
		/* Full: wait for the next completion to make room. */
		TAILQ_INSERT_TAIL(&p->room_waiters, &rw, link);
		rw.linked = 1;
		if (loop_park(&rw.lw, deadline, 0) == -1) {
			if (rw.linked) {	/* it failed without parking */
				TAILQ_REMOVE(&p->room_waiters, &rw, link);
				rw.linked = 0;
			}
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
	job->waiter = NULL;
	job->waiters = NULL;
	job->abandoned = 0;
	return (enqueue(p, job));
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

	(void)p;
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
	return (p->queued);
}

int
pool_wait_idle(struct pool *p, int64_t deadline)
{
	struct pollfd pfd = { .fd = p->efd, .events = POLLIN };
	int64_t left;
	int idle;

	for (;;) {
		on_complete(p->efd, EV_READ, p);
		pthread_mutex_lock(&p->lock);
		idle = p->queued == 0 && p->running == 0 &&
		    p->done_head == NULL;
		pthread_mutex_unlock(&p->lock);
		if (idle)
			return (0);
		if ((left = deadline - clock_now()) <= 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		(void)poll(&pfd, 1, (int)left);
	}
}

/*
 * Interrupt the workers still running every POOL_KICK_MS and join those
 * that exit, until none is left or the deadline has passed (after one
 * round at least, so a pool told to stop at once still gets its idle
 * workers back).  Those still running are detached and counted stuck,
 * with what they were doing.
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
	 * delivered.  A stuck worker's job never comes back: it may still
	 * touch it.
	 */
	pthread_mutex_lock(&p->lock);
	while ((job = p->head) != NULL) {
		p->head = job->next;
		job->cancelled = 1;
		complete_locked(p, job);
	}
	p->tail = NULL;
	p->queued = 0;
	pthread_mutex_unlock(&p->lock);
	if (p->ev != NULL) {
		on_complete(p->efd, EV_READ, p);
		event_free(p->ev);
		p->ev = NULL;
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
	if (p == NULL)
		return;
	if (pool_stop(p, clock_now() + POOL_FREE_STOP_MS) > 0)
		return;		/* a stuck worker may still touch p: keep it */
	if (p->efd > 0)
		close(p->efd);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p);
}
