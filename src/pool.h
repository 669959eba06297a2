#ifndef POOL_H
#define POOL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The worker pool: blocking work (file I/O, name resolution) runs on
 * worker threads, never on the loop thread.  This is asyncio's
 * run_in_executor: a coroutine hands a job over and parks, and the
 * job's completion resumes it on the loop thread.
 */

struct loop_wait;
struct pool;

/*
 * A job.  The caller fills fn (run on a worker thread, touching only the
 * job) and, for pool_submit(), done (run on the loop thread afterwards).
 * The rest is the pool's.
 */
struct pool_job {
	void			(*fn)(struct pool_job *);
	void			(*done)(struct pool_job *);
	int			  cancelled;	/* set if fn never ran */
	/* Private to pool.c. */
	struct pool_job		 *next;
	struct loop_wait	 *waiter;
};

#define POOL_THREADS_DEFAULT	4
#define POOL_QUEUE_DEFAULT	1024

/*
 * pool_create(threads, queue_max):
 * Start threads workers with room for queue_max queued jobs, completing
 * on the calling thread's loop.  Returns the pool, or NULL with errno
 * set.  Loop thread.
 */
struct pool	*pool_create(int, int);

/*
 * pool_run(p, job):
 * Run job->fn(job) on a worker and park until it is done; waits for room
 * if the queue is full.  Not cancellable: the job lives on the caller's
 * stack, which must outlive it.  job->done is not used.  Returns 0, or
 * -1 with errno ECANCELED if the pool stopped before fn ran.  May park.
 */
int	pool_run(struct pool *, struct pool_job *);

/*
 * pool_submit(p, job):
 * Queue job without waiting: job->fn(job) runs on a worker, then
 * job->done(job) on the loop thread (also when the job was cancelled:
 * job->cancelled is then set).  The pool owns job until done.  Returns 0,
 * or -1 with errno EAGAIN if the queue is full (done is not called).
 * Loop thread.
 */
int	pool_submit(struct pool *, struct pool_job *);

/*
 * pool_stopping():
 * 1 once pool_free() has begun.  A job blocked in a system call is
 * interrupted (EINTR) and should give up when this says so.  Any thread.
 */
int	pool_stopping(void);

/*
 * pool_wait_idle(p, timeout_ms):
 * Deliver completions until no job is queued or running (done callbacks
 * may queue more), or until timeout_ms has passed.  Returns 0, or -1 with
 * errno ETIMEDOUT.  Loop thread, outside any coroutine, with the loop not
 * running (at shutdown).
 */
int	pool_wait_idle(struct pool *, int64_t);

/*
 * pool_stop(p):
 * Jobs not yet started are cancelled, running ones are interrupted and
 * waited for (3 s at most), every done callback runs, the threads are
 * joined.  Returns how many workers were still stuck in a blocking call
 * and were left behind.  Loop thread, with no coroutine parked in
 * pool_run().
 */
int	pool_stop(struct pool *);

/*
 * pool_free(p):
 * Stop p if that was not done, and free it (unless a stuck worker may
 * still touch it: then it is left, as the process is ending).  NULL is
 * a no-op.
 */
void	pool_free(struct pool *);

/* pool_queued(p): jobs waiting for a worker. */
size_t	pool_queued(const struct pool *);

#endif /* POOL_H */
