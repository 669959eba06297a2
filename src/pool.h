/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef POOL_H
#define POOL_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

/*
 * The worker pool: blocking work (file I/O, name resolution) runs on
 * worker threads, never on the loop thread.  This is asyncio's
 * run_in_executor: a coroutine hands a job over and parks, and the
 * job's completion resumes it on the loop thread.
 *
 * Several loop threads may share one pool: each attaches to it (its port),
 * and a job completes (done, release, resuming its waiters) on the loop
 * thread that queued it.  A thread is attached to one pool at a time.
 */

struct job_wait;
struct loop_wait;
struct pool;
struct pool_port;
struct pool_room_list;

/* A job's description, for naming a worker stuck at exit. */
#define POOL_WHAT_MAX	96

/*
 * A job, on the heap: a job handed to pool_run() may outlive the
 * coroutine that waits for it.  The caller fills fn (run on a worker
 * thread, touching only the job), what (e.g. "resolve localhost:7000";
 * fn must not change it), and done (pool_submit(): run on the loop
 * thread afterwards) or release (pool_run(): frees a job its caller gave
 * up on).  The rest is the pool's.
 */
struct pool_job {
	void			(*fn)(struct pool_job *);
	void			(*done)(struct pool_job *);
	void			(*release)(struct pool_job *);
	char			  what[POOL_WHAT_MAX];
	int			  cancelled;	/* set if fn never ran */
	/* Private to pool.c. */
	struct pool_job		 *next;
	struct pool_port	 *port;		/* where it completes */
	struct loop_wait	 *waiter;
	struct job_wait		 *waiters;	/* pool_wait() */
	int			  abandoned;
};

#define POOL_THREADS_DEFAULT	4
#define POOL_QUEUE_DEFAULT	1024

/*
 * pool_create(threads, queue_max):
 * Make a pool of threads workers with room for queue_max queued jobs,
 * and attach the calling thread (see pool_attach()).  The workers are not
 * started here but by the first job queued (pool_run(), pool_submit()),
 * all at once: a process that never queues one stays single-threaded.
 * Returns the pool, or NULL with errno set.  Loop thread, its loop made.
 */
struct pool	*pool_create(int, int);

/*
 * pool_attach(p):
 * Attach the calling thread's loop to p: the jobs it queues will complete
 * on it.  Returns 0, or -1 with errno set (EBUSY: this thread is attached
 * to a pool already).  Loop thread, after loop_create().
 */
int	pool_attach(struct pool *);

/*
 * pool_detach(p):
 * Stop delivering p's completions on the calling thread's loop: what has
 * come back already is delivered now, jobs still out are delivered later
 * by pool_wait_idle() or pool_stop() on the thread that calls them, and
 * so are its rooms still linked (pool_submit_room()).  Call
 * before loop_free(), once no coroutine of this thread waits on p (its
 * loop has drained).  A no-op if this thread is not attached to p.  Loop
 * thread.
 */
void	pool_detach(struct pool *);

/*
 * pool_run(p, job, deadline):
 * Run job->fn(job) on a worker and park until it is done, or until the
 * absolute monotonic deadline in ms (-1: none) or cancellation; waits for
 * room first if the queue is full.  job->done is not used.  Returns 0
 * once fn has run: the caller owns job again.  Returns -1 with errno
 * ETIMEDOUT or ECANCELED (also if the pool stopped before fn ran): job
 * then belongs to the pool, which calls job->release(job) on the loop
 * thread once no worker holds it (possibly before pool_run() returns),
 * exactly once.  -1 with errno EINVAL if the calling thread is not
 * attached to p, or ENOMEM (or another pthread_create(3) error) if no
 * worker thread could be started: job released, never queued.  May
 * park.
 */
int	pool_run(struct pool *, struct pool_job *, int64_t);

/*
 * pool_submit(p, job):
 * Queue job without waiting: job->fn(job) runs on a worker, then
 * job->done(job) on the loop thread (also when the job was cancelled:
 * job->cancelled is then set).  The pool owns job until done.  Returns 0,
 * or -1 (done is not called) with errno EAGAIN if the queue is full,
 * ECANCELED if the pool has stopped, EINVAL if the calling thread is not
 * attached to p, or ENOMEM if no worker thread could be started (out of
 * memory, RLIMIT_NPROC or the kernel's threads-max; another
 * pthread_create(3) error is passed on as it is): a later call tries
 * again.  Loop thread.
 */
int	pool_submit(struct pool *, struct pool_job *);

/*
 * A standing request to be told when the queue has room again, for a
 * pool_submit_room() caller that found it full.  The caller fills fn; the
 * rest is the pool's.  It lives as long as its owner (in the access log:
 * the log itself), and is linked at most once at a time.
 */
struct pool_room {
	void			(*fn)(struct pool_room *);
	/* Private to pool.c. */
	TAILQ_ENTRY(pool_room)	  link;
	struct pool_room_list	 *on;		/* NULL: not linked */
	struct pool_port	 *port;
};

/*
 * pool_submit_room(p, job, room):
 * As pool_submit(), but when the queue is full (-1, errno EAGAIN; on
 * any other error room is left alone) room is linked, in the same hold
 * of the lock that found it full, so no wakeup is lost: room->fn(room)
 * is then called once, where job->done would have run (this thread's
 * loop; once detached, pool_wait_idle() or pool_stop()), after a worker
 * takes a job off the queue or when the pool stops.  The queue may be
 * full again by then (another thread's job): fn may submit again, with
 * room.  room must not be linked already.  Loop thread.
 */
int	pool_submit_room(struct pool *, struct pool_job *, struct pool_room *);

/*
 * pool_room_cancel(room):
 * Unlink room if it is linked: its fn will not be called.  Call it before
 * room goes away, where fn would run.  A no-op for a room not linked
 * (also once its pool is freed: pool_free() unlinks what is left).
 */
void	pool_room_cancel(struct pool_room *);

/*
 * pool_wait(p, job, deadline):
 * Park until job, handed to pool_submit() and not yet done, is done (its
 * done callback has run, so job may be gone), or until the absolute
 * monotonic deadline in ms (-1: none) or cancellation; the job goes on
 * regardless.  Any number of coroutines may wait for one job: this is how
 * a result is shared.  Returns 0, or -1 with errno ETIMEDOUT or
 * ECANCELED, or EINVAL if job was submitted from another thread (done
 * runs there).  May park.
 */
int	pool_wait(struct pool *, struct pool_job *, int64_t);

/*
 * pool_stopping():
 * 1 once pool_stop() has begun.  A job blocked in a system call is
 * interrupted (EINTR) and should give up when this says so.  Any thread.
 */
int	pool_stopping(void);

/*
 * pool_wait_idle(p, deadline):
 * Deliver completions until no job is queued or running (done callbacks
 * may queue more), or until the absolute monotonic deadline in ms: those
 * of the calling thread's jobs and of every detached thread's.  Returns
 * 0, or -1 with errno ETIMEDOUT.  Loop thread (attached or not), outside
 * any coroutine, with the loop not running, every other thread attached
 * to p detached (at shutdown).
 */
int	pool_wait_idle(struct pool *, int64_t);

/*
 * pool_stop(p, deadline):
 * After it, no job is queued and no worker is started any more.  Jobs
 * not yet started are cancelled, running ones are interrupted and
 * waited for until the absolute monotonic deadline in ms (a few tens of
 * ms past it at most), every done (or release) callback of a job that
 * came back runs (the calling thread's jobs and every detached thread's),
 * the threads that exited are joined, and the calling thread's loop stops
 * watching p (a pool that never started its workers has none to wait
 * for).  A worker still in its job then is left behind: its job is
 * never completed.  Returns how many workers were left (see
 * pool_stuck_what()).  Loop thread, outside any coroutine, every other
 * thread attached to p detached.
 */
int	pool_stop(struct pool *, int64_t);

/*
 * pool_stuck_what(p, i):
 * After pool_stop(): the description of what the i-th worker left behind
 * was doing (0 <= i < what pool_stop() returned), or NULL.  Valid until
 * pool_free().
 */
const char	*pool_stuck_what(const struct pool *, int);

/*
 * pool_free(p):
 * Stop p if that was not done (waiting 1 s at most), and free it with
 * every port (unless a worker left behind may still touch it: then it is
 * left, as the process is ending).  The calling thread is no longer
 * attached to it either way.  As pool_stop(): every other thread attached
 * to p must have detached.  NULL is a no-op.
 */
void	pool_free(struct pool *);

/* pool_queued(p): jobs waiting for a worker. */
size_t	pool_queued(const struct pool *);

/* What became of the jobs a pool took, since it started; and its queue. */
struct pool_counts {
	uint64_t	 queued;	/* waiting for a worker now */
	uint64_t	 done;		/* a worker ran it */
	uint64_t	 cancelled;	/* the pool stopped before it ran */
	uint64_t	 expired;	/* its waiter gave up before it ran */
};

/* pool_counts(p, counts): copy p's counts, at one time.  Any thread. */
void	pool_counts(const struct pool *, struct pool_counts *);

#endif /* POOL_H */
