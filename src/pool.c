/*
 * pool.c: worker threads for blocking work, completing on the loop.
 *
 * Owns the worker threads, the job queue and the completion list.  The
 * jobs themselves belong to their callers (pool_run) or to the pool
 * until their done callback (pool_submit).
 *
 * DESIGN.  The queue is a mutex-protected FIFO with a cap; workers sleep
 * on a condition variable.  A worker runs job->fn, which touches only the
 * job, then appends the job to the completion list and writes the
 * eventfd.  The loop watches the eventfd; its callback takes the whole
 * completion list under the lock and, outside it, resumes each
 * pool_run() caller or calls each submitted job's done.  So workers never
 * touch libevent, coroutines or connections, and every result is
 * delivered on the loop thread.
 *
 * A pool_run() caller whose job finds the queue full parks until a worker
 * takes a job; a pool_submit() caller is told EAGAIN and decides (the
 * access log drops the lines and counts them).
 *
 * Stopping must not hang on a job stuck in a blocking call (an access log
 * on a FIFO that nobody reads blocks in open(2) forever).  Workers run
 * with every signal blocked but POOL_SIGNAL, whose handler does nothing
 * and is installed without SA_RESTART; pool_free() sends it until each
 * worker has exited, so a blocked call fails with EINTR and the job,
 * seeing pool_stopping(), gives up.
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

#include "loop.h"
#include "loop_park.h"

#define POOL_SIGNAL		(SIGRTMIN + 1)
/* How long pool_free() keeps interrupting a worker before leaving it. */
#define POOL_JOIN_TRIES		300	/* x 10 ms */

/* A pool_run() caller waiting for room in a full queue. */
struct room_wait {
	TAILQ_ENTRY(room_wait)	 link;
	struct loop_wait	 lw;
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
	pthread_t		*threads;
	int			 nthreads;
	TAILQ_HEAD(, room_wait)	 room_waiters;
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
	struct pool *p = arg;
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
		if (p->stop) {
			job->cancelled = 1;
		} else {
			p->running++;
			pthread_mutex_unlock(&p->lock);
			job->fn(job);
			pthread_mutex_lock(&p->lock);
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
	TAILQ_HEAD(, room_wait) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct room_wait *rw;

	TAILQ_CONCAT(&batch, &p->room_waiters, link);
	while ((rw = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, rw, link);
		loop_unpark(&rw->lw, 0);
	}
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
		if (job->waiter != NULL)
			loop_unpark(job->waiter, job->cancelled ? ECANCELED : 0);
		else if (job->done != NULL)
			job->done(job);
	}
	wake_room_waiters(p);
}

static int
signals_ready(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;	/* no SA_RESTART: calls get EINTR */
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
	if ((p->threads = calloc((size_t)nthreads, sizeof(*p->threads))) == NULL)
		goto fail;
	for (i = 0; i < nthreads; i++) {
		if ((errno = pthread_create(&p->threads[i], NULL, worker_main,
		    p)) != 0)
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

/* Queue job if there is room.  Returns 0, or -1 if the queue is full. */
static int
enqueue(struct pool *p, struct pool_job *job)
{
	pthread_mutex_lock(&p->lock);
	if (p->queued >= p->queue_max) {
		pthread_mutex_unlock(&p->lock);
		return (-1);
	}
	job->cancelled = 0;
	fifo_push(&p->head, &p->tail, job);
	p->queued++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return (0);
}

int
pool_run(struct pool *p, struct pool_job *job)
{
	struct room_wait room;
	struct loop_wait done;

	memset(&done, 0, sizeof(done));
	job->waiter = &done;
	while (enqueue(p, job) == -1) {
		/* Full: wait for the next completion to make room. */
		memset(&room, 0, sizeof(room));
		TAILQ_INSERT_TAIL(&p->room_waiters, &room, link);
		loop_park(&room.lw, -1, LOOP_WAIT_NOCANCEL);
	}
	return (loop_park(&done, -1, LOOP_WAIT_NOCANCEL));
}

int
pool_submit(struct pool *p, struct pool_job *job)
{
	job->waiter = NULL;
	if (enqueue(p, job) == -1) {
		errno = EAGAIN;
		return (-1);
	}
	return (0);
}

size_t
pool_queued(const struct pool *p)
{
	return (p->queued);
}

int
pool_wait_idle(struct pool *p, int64_t timeout_ms)
{
	int64_t end = loop_now() + timeout_ms, left;
	struct pollfd pfd = { .fd = p->efd, .events = POLLIN };
	int idle;

	for (;;) {
		on_complete(p->efd, EV_READ, p);
		pthread_mutex_lock(&p->lock);
		idle = p->queued == 0 && p->running == 0 &&
		    p->done_head == NULL;
		pthread_mutex_unlock(&p->lock);
		if (idle)
			return (0);
		if ((left = end - loop_now()) <= 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		(void)poll(&pfd, 1, (int)left);
	}
}

/* Interrupt a worker until it exits; 0 if it did, -1 if it is stuck. */
static int
join_worker(pthread_t t)
{
	struct timespec until;
	int i;

	for (i = 0; i < POOL_JOIN_TRIES; i++) {
		pthread_kill(t, POOL_SIGNAL);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 10 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(t, NULL, &until) == 0)
			return (0);
	}
	pthread_detach(t);
	return (-1);
}

int
pool_stop(struct pool *p)
{
	struct pool_job *job;
	int i;

	if (p->stopped)
		return (p->stuck);
	p->stopped = 1;
	atomic_store(&stopping, 1);
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		p->stuck += (join_worker(p->threads[i]) == -1);

	/* Jobs no worker took are cancelled; every done callback runs. */
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

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	if (pool_stop(p) > 0)
		return;		/* a stuck worker may still touch p: keep it */
	if (p->efd > 0)
		close(p->efd);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}
