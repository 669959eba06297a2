/*
 * test_pool: the worker pool: jobs run off the loop and resume on it, a
 * full queue, and stopping with jobs pending or stuck.
 */
#include "pool.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "coro.h"
#include "io.h"
#include "loop.h"

static struct loop	*L;
static struct pool	*P;
static pthread_t	 loop_thread;

struct square {
	struct pool_job	 job;
	int		 in, out;
	pthread_t	 ran_on;
};

static void
square_fn(struct pool_job *job)
{
	struct square *sq = (struct square *)job;

	usleep(1000);
	sq->out = sq->in * sq->in;
	sq->ran_on = pthread_self();
}

static int	done_runs, done_right;

static void
one_run(void *arg)
{
	struct square sq = { .job.fn = square_fn, .in = (int)(long)arg };

	if (pool_run(P, &sq.job) == 0 && sq.out == sq.in * sq.in &&
	    !pthread_equal(sq.ran_on, loop_thread) &&
	    pthread_equal(pthread_self(), loop_thread) && coro_self() != NULL)
		done_right++;
	if (++done_runs == 100)
		loop_stop(L);
}

/* 100 coroutines share a queue of 4: each waits for room, none fails. */
static void
test_run(void)
{
	long i;

	L = loop_create();
	P = pool_create(3, 4);
	done_runs = done_right = 0;
	for (i = 0; i < 100; i++)
		loop_spawn(L, one_run, (void *)i);
	CHECK(pool_queued(P) <= 4, "the queue never holds more than its cap");
	loop_run(L);
	CHECK(done_right == 100, "100 jobs ran on workers and resumed on the "
	    "loop thread with their results (%d right)", done_right);
	pool_free(P);
	loop_free(L);
}

struct counted {
	struct pool_job	 job;
	int		*dones, *cancels;
};

static void
slow_fn(struct pool_job *job)
{
	(void)job;
	usleep(20000);
}

static void
counted_done(struct pool_job *job)
{
	struct counted *c = (struct counted *)job;

	(*c->dones)++;
	if (job->cancelled)
		(*c->cancels)++;
	free(c);
}

/* Submitting to a full queue is EAGAIN; done runs for each accepted job. */
static void
test_submit_full(void)
{
	int dones = 0, cancels = 0, accepted = 0, refused = 0, i;

	L = loop_create();
	P = pool_create(1, 2);
	for (i = 0; i < 10; i++) {
		struct counted *c = calloc(1, sizeof(*c));

		c->job.fn = slow_fn;
		c->job.done = counted_done;
		c->dones = &dones;
		c->cancels = &cancels;
		if (pool_submit(P, &c->job) == 0)
			accepted++;
		else {
			CHECK(errno == EAGAIN, "full queue: EAGAIN");
			refused++;
			free(c);
		}
	}
	CHECK(accepted >= 2 && accepted <= 3 && refused == 10 - accepted,
	    "a queue of 2 (plus one running) takes %d of 10", accepted);
	/* Stop at once: queued jobs are cancelled, done runs for all. */
	pool_free(P);
	CHECK(dones == accepted && cancels >= 1,
	    "stopping runs every done (%d), cancelling queued jobs (%d)",
	    dones, cancels);
	loop_free(L);
}

static char	fifo[64];
static int	open_errno;

static void
open_fifo_fn(struct pool_job *job)
{
	int fd;

	(void)job;
	/* Nobody reads the FIFO: open(2) blocks until interrupted. */
	while ((fd = open(fifo, O_WRONLY)) == -1 && errno == EINTR &&
	    !pool_stopping())
		;
	open_errno = fd == -1 ? errno : 0;
	if (fd != -1)
		close(fd);
}

static void
nothing_done(struct pool_job *job)
{
	(void)job;
}

/* A job stuck in a blocking call does not stop the pool from stopping. */
static void
test_stop_interrupts(void)
{
	static struct pool_job job = { .fn = open_fifo_fn, .done = nothing_done };
	int64_t t0;

	snprintf(fifo, sizeof(fifo), "/tmp/test_pool.%d", (int)getpid());
	unlink(fifo);
	mkfifo(fifo, 0600);
	L = loop_create();
	P = pool_create(2, 8);
	pool_submit(P, &job);
	usleep(50000);		/* let a worker block in open(2) */
	t0 = loop_now();
	pool_free(P);
	CHECK(open_errno == EINTR && loop_now() - t0 < 3000,
	    "stopping interrupts a job blocked in open(2) on a FIFO "
	    "(errno %d, %lld ms)", open_errno, (long long)(loop_now() - t0));
	loop_free(L);
	unlink(fifo);
}

int
main(void)
{
	loop_thread = pthread_self();
	coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT);
	test_run();
	test_submit_full();
	test_stop_interrupts();
	coro_fini();
	return (check_done());
}
