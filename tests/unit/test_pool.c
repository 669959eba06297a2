/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_pool: the worker pool: jobs run off the loop and resume on it, a
 * full queue, waits that time out or are cancelled while their job goes
 * on, stopping with jobs pending or stuck, and loop threads sharing a pool
 * (each job completes on the thread that queued it).  The workers start
 * with the first job, not with the pool: counted in /proc/self/task, with
 * pthread_create() wrapped (-Wl,--wrap, tests/CMakeLists.txt) to make it
 * fail on demand.
 */
#include "clock.h"
#include "pool.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "coro.h"
#include "fail_create.h"
#include "io.h"
#include "loop.h"
#include "loop_park.h"

static struct loop	*L;
static struct pool	*P;
static pthread_t	 loop_thread;

/*
 * This process's threads now (workers: only those named "aio-worker",
 * which a worker does once it runs).  A thread shows here from the
 * moment pthread_create() returns.
 */
static int
tasks(int workers)
{
	char path[300], comm[32];
	struct dirent *de;
	DIR *dir;
	FILE *f;
	int n = 0;

	if ((dir = opendir("/proc/self/task")) == NULL)
		return (-1);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!workers) {
			n++;
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
		    de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL &&
		    strcmp(comm, "aio-worker\n") == 0)
			n++;
		fclose(f);
	}
	closedir(dir);
	return (n);
}

/*
 * Wait (5 s at most) until this process has n threads and workers of
 * them named: a joined thread may linger in /proc for a moment, and a
 * new worker names itself once it runs.  Returns 1 if so.
 */
static int
tasks_become(int n, int workers)
{
	int64_t end = clock_now() + 5000;

	while (tasks(0) != n || tasks(1) != workers)
		if (clock_now() >= end)
			return (0);
		else
			usleep(1000);
	return (1);
}

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
free_job(struct pool_job *job)
{
	free(job);
}

static void
one_run(void *arg)
{
	struct square *sq = calloc(1, sizeof(*sq));

	sq->job.fn = square_fn;
	sq->job.release = free_job;
	sq->in = (int)(long)arg;
	if (pool_run(P, &sq->job, -1) == 0 && sq->out == sq->in * sq->in &&
	    !pthread_equal(sq->ran_on, loop_thread) &&
	    pthread_equal(pthread_self(), loop_thread) && coro_self() != NULL)
		done_right++;
	free(sq);
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
	t0 = clock_now();
	pool_free(P);
	CHECK(open_errno == EINTR && clock_now() - t0 < 3000,
	    "stopping interrupts a job blocked in open(2) on a FIFO "
	    "(errno %d, %lld ms)", open_errno, (long long)(clock_now() - t0));
	loop_free(L);
	unlink(fifo);
}

/*
 * Jobs held at a gate: fn waits (5 s at most) until the test opens it,
 * and counts its runs; release counts the jobs the pool gave back.
 */
static atomic_int	gate, gated_runs, releases;

static void
gated_fn(struct pool_job *job)
{
	int i;

	(void)job;
	for (i = 0; i < 5000 && !atomic_load(&gate); i++)
		usleep(1000);
	atomic_fetch_add(&gated_runs, 1);
}

static void
gated_release(struct pool_job *job)
{
	atomic_fetch_add(&releases, 1);
	free(job);
}

static struct pool_job *
gated_job(const char *what)
{
	struct pool_job *job = calloc(1, sizeof(*job));

	job->fn = gated_fn;
	job->done = free_job;		/* pool_submit() */
	job->release = gated_release;
	snprintf(job->what, sizeof(job->what), "%s", what);
	return (job);
}

static void
gates_reset(void)
{
	atomic_store(&gate, 0);
	atomic_store(&gated_runs, 0);
	atomic_store(&releases, 0);
}

/*
 * A fresh loop and a pool of one worker and a queue of one, both full: a
 * gated job running, another queued.
 */
static void
fill_queue(void)
{
	int64_t end;

	gates_reset();
	L = loop_create();
	P = pool_create(1, 1);
	pool_submit(P, gated_job("running"));
	end = clock_now() + 5000;
	while (pool_queued(P) > 0 && clock_now() < end)
		usleep(1000);	/* until the worker holds it */
	pool_submit(P, gated_job("queued"));
}

/* Park (in a coroutine) until n jobs have been released, 5 s at most. */
static void
wait_releases(int n)
{
	int64_t end = clock_now() + 5000;

	while (atomic_load(&releases) < n && clock_now() < end)
		(void)io_sleep(clock_now() + 10);
}

static void
timeout_main(void *arg)
{
	int64_t t0 = clock_now();
	int r, err;

	(void)arg;
	r = pool_run(P, gated_job("gated 1"), t0 + 50);
	err = errno;
	CHECK(r == -1 && err == ETIMEDOUT && clock_now() - t0 >= 45,
	    "pool_run times out at its deadline while fn runs (errno %d, "
	    "%lld ms)", err, (long long)(clock_now() - t0));
	CHECK(atomic_load(&releases) == 0,
	    "a job still running is not released under its worker");
	atomic_store(&gate, 1);
	wait_releases(1);
	CHECK(atomic_load(&releases) == 1 && atomic_load(&gated_runs) == 1,
	    "once fn returns, the pool releases the abandoned job");
	loop_stop(L);
}

/* A wait that times out leaves the job to the pool, released once. */
static void
test_run_timeout(void)
{
	gates_reset();
	L = loop_create();
	P = pool_create(1, 4);
	loop_spawn(L, timeout_main, NULL);
	loop_run(L);
	pool_free(P);
	CHECK(atomic_load(&releases) == 1, "released exactly once (%d)",
	    atomic_load(&releases));
	loop_free(L);
}

static int	cancel_errs[2];

static void
cancelled_main(void *arg)
{
	long k = (long)arg;

	if (pool_run(P, gated_job("gated"), -1) == -1)
		cancel_errs[k] = errno;
	CHECK(atomic_load(&releases) == 0 || k == 1,
	    "a cancelled job still running is not released yet");
}

static void
canceller_main(void *arg)
{
	(void)arg;
	(void)io_sleep(clock_now() + 50);
	loop_cancel(L);
}

/*
 * Cancelling the loop (a second SIGTERM) fails pool waits at once: one
 * job running, one queued behind it.  The queued one never runs.
 */
static void
test_run_cancel(void)
{
	int64_t t0;
	int r;

	gates_reset();
	cancel_errs[0] = cancel_errs[1] = 0;
	L = loop_create();
	P = pool_create(1, 4);
	loop_spawn(L, cancelled_main, (void *)0L);
	loop_spawn(L, cancelled_main, (void *)1L);
	loop_spawn(L, canceller_main, NULL);
	t0 = clock_now();
	loop_run(L);
	CHECK(cancel_errs[0] == ECANCELED && cancel_errs[1] == ECANCELED &&
	    clock_now() - t0 < 2000,
	    "loop_cancel fails both pool_run waits with ECANCELED (%d, %d)",
	    cancel_errs[0], cancel_errs[1]);
	atomic_store(&gate, 1);
	r = pool_wait_idle(P, clock_now() + 5000);
	CHECK(r == 0 && atomic_load(&releases) == 2 &&
	    atomic_load(&gated_runs) == 1,
	    "both jobs are released (%d), the queued one without running "
	    "(%d runs)", atomic_load(&releases), atomic_load(&gated_runs));
	pool_free(P);
	CHECK(atomic_load(&releases) == 2, "released exactly once each");
	loop_free(L);
}

static void
room_main(void *arg)
{
	int64_t t0 = clock_now();
	int r, err;

	(void)arg;
	r = pool_run(P, gated_job("no room"), t0 + 50);
	err = errno;
	CHECK(r == -1 && err == ETIMEDOUT && clock_now() - t0 >= 45 &&
	    atomic_load(&releases) == 1,
	    "waiting for room in a full queue times out at the deadline, "
	    "and the job, never queued, is released at once (errno %d, "
	    "%d released)", err, atomic_load(&releases));
	loop_spawn(L, canceller_main, NULL);
	r = pool_run(P, gated_job("no room either"), -1);
	err = errno;
	CHECK(r == -1 && err == ECANCELED && atomic_load(&releases) == 2,
	    "waiting for room is cancelled too (errno %d)", err);
}

/* A full queue: the wait for room honours the deadline and cancel. */
static void
test_run_full(void)
{
	fill_queue();
	CHECK(pool_queued(P) == 1, "the queue is full");
	loop_spawn(L, room_main, NULL);
	loop_run(L);
	atomic_store(&gate, 1);
	(void)pool_wait_idle(P, clock_now() + 5000);
	pool_free(P);
	CHECK(atomic_load(&gated_runs) == 2 && atomic_load(&releases) == 2,
	    "only the two submitted jobs ran (%d)", atomic_load(&gated_runs));
	loop_free(L);
}

static int	shared_done, shared_woken, shared_timedout, shared_finished;

static void
shared_job_done(struct pool_job *job)
{
	shared_done++;
	free(job);
}

static void
shared_waiter(void *arg)
{
	struct pool_job *job = arg;

	if (pool_wait(P, job, -1) == 0 && shared_done == 1)
		shared_woken++;
	if (++shared_finished == 5)
		loop_stop(L);
}

static void
impatient_waiter(void *arg)
{
	struct pool_job *job = arg;
	int64_t t0 = clock_now();

	if (pool_wait(P, job, t0 + 30) == -1 && errno == ETIMEDOUT &&
	    shared_done == 0)
		shared_timedout++;
	atomic_store(&gate, 1);		/* now let the job finish */
}

/*
 * Five coroutines share one submitted job, woken once its done has run;
 * a sixth gives up at its deadline without disturbing the others.
 */
static void
test_wait_shared(void)
{
	struct pool_job *job;
	int i;

	gates_reset();
	shared_done = shared_woken = shared_timedout = shared_finished = 0;
	L = loop_create();
	P = pool_create(1, 4);
	job = gated_job("shared");
	job->done = shared_job_done;
	pool_submit(P, job);
	for (i = 0; i < 5; i++)
		loop_spawn(L, shared_waiter, job);
	loop_spawn(L, impatient_waiter, job);
	loop_run(L);
	CHECK(shared_timedout == 1 && shared_woken == 5 && shared_done == 1 &&
	    atomic_load(&gated_runs) == 1,
	    "pool_wait: one job, one run, done once, 5 waiters woken after "
	    "it (%d), 1 timed out before (%d)", shared_woken, shared_timedout);
	pool_free(P);
	loop_free(L);
}

static atomic_int	stubborn_done;

/* A job that ignores EINTR and pool_stopping(): stuck until a reader. */
static void
stubborn_fn(struct pool_job *job)
{
	int fd;

	(void)job;
	while ((fd = open(fifo, O_WRONLY)) == -1 && errno == EINTR)
		;
	if (fd != -1)
		close(fd);
	atomic_store(&stubborn_done, 1);
}

/*
 * A job that will not give up does not hold pool_stop() past its
 * deadline, and is named.  Last: the pool is left behind, as at exit.
 */
static void
test_stop_stuck(void)
{
	static struct pool_job job = { .fn = stubborn_fn,
	    .done = nothing_done };
	const char *what;
	int64_t t0, took, end;
	int stuck, fd;

	snprintf(job.what, sizeof(job.what), "open fifo %s", fifo);
	unlink(fifo);
	mkfifo(fifo, 0600);
	L = loop_create();
	P = pool_create(2, 8);
	pool_submit(P, &job);
	end = clock_now() + 5000;
	while (pool_queued(P) > 0 && clock_now() < end)
		usleep(1000);	/* until a worker holds it */
	t0 = clock_now();
	stuck = pool_stop(P, t0 + 200);
	took = clock_now() - t0;
	CHECK(stuck == 1 && took >= 190 && took < 200 + 500,
	    "pool_stop leaves a worker that ignores EINTR at its deadline "
	    "(%d stuck, %lld ms)", stuck, (long long)took);
	what = pool_stuck_what(P, 0);
	CHECK(what != NULL && strcmp(what, job.what) == 0 &&
	    pool_stuck_what(P, 1) == NULL,
	    "the stuck worker is named by its job: \"%s\"", what);
	/* Let it go, so that the thread ends before the process. */
	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	end = clock_now() + 5000;
	while (!atomic_load(&stubborn_done) && clock_now() < end)
		usleep(1000);
	CHECK(atomic_load(&stubborn_done), "the stuck job ends once read");
	close(fd);
	pool_free(P);	/* keeps P: its worker was left behind */
	loop_free(L);
	unlink(fifo);
}

/*
 * A second loop thread: its own coroutines and loop, attached to P.  It
 * runs fn(t) in a coroutine (which must park, then loop_stop(t->loop)),
 * its loop until then, detaches and ends.  CHECK is the main thread's:
 * what the thread saw is kept here and checked after lthread_join().
 */
struct lthread {
	pthread_t		 thread;
	void			(*fn)(void *);
	pthread_t		 self;		/* as it sees itself */
	struct loop		*loop;
	struct event_base	*base;
	int			 attached;	/* pool_attach() was 0 */
	atomic_int		 spawned;	/* fn has parked (or ended) */
	atomic_int		 returned;	/* fn's pool_run() returned */
	atomic_int		 ended;		/* about to return */
	/* What fn saw. */
	int			 run_ok, err, waited;
	int			 done_runs, done_here;
};

static void *
lthread_main(void *arg)
{
	struct lthread *t = arg;

	t->self = pthread_self();
	coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT);
	if ((t->loop = loop_create()) != NULL) {
		t->base = loop_base();
		t->attached = pool_attach(P) == 0;
	}
	if (t->attached) {
		loop_spawn(t->loop, t->fn, t);
		atomic_store(&t->spawned, 1);
		loop_run(t->loop);
		pool_detach(P);
	} else
		atomic_store(&t->spawned, 1);
	loop_free(t->loop);
	coro_fini();
	atomic_store(&t->ended, 1);
	return (NULL);
}

static void
lthread_start(struct lthread *t, void (*fn)(void *))
{
	int64_t end = clock_now() + 5000;

	memset(t, 0, sizeof(*t));
	t->fn = fn;
	pthread_create(&t->thread, NULL, lthread_main, t);
	/* Until its coroutine has parked: its first wait is set up. */
	while (!atomic_load(&t->spawned) && clock_now() < end)
		usleep(1000);
}

/*
 * Join t once it has ended, 10 s at most; if it hangs, the test cannot go
 * on.  (pthread_join(), not pthread_timedjoin_np(): helgrind knows it.)
 */
static void
lthread_join(struct lthread *t)
{
	int64_t end = clock_now() + 10000;

	while (!atomic_load(&t->ended) && clock_now() < end)
		usleep(1000);
	if (!atomic_load(&t->ended)) {
		CHECK(0, "the second loop thread ends");
		exit(check_done());
	}
	pthread_join(t->thread, NULL);
	CHECK(t->attached, "the second loop thread attached to the pool");
}

/* square_fn, held at the gate first. */
static void
gated_square_fn(struct pool_job *job)
{
	gated_fn(job);
	square_fn(job);
}

/* A submitted job that notes where its done ran (on *t's thread?). */
struct noted {
	struct pool_job	 job;
	struct lthread	*t;		/* NULL: the main thread's */
	int		*runs, *here;
};

static void
noted_done(struct pool_job *job)
{
	struct noted *n = (struct noted *)job;

	(*n->runs)++;
	if (n->t != NULL ? pthread_equal(pthread_self(), n->t->self) &&
	    loop_base() == n->t->base : pthread_equal(pthread_self(),
	    loop_thread))
		(*n->here)++;
	free(n);
}

static struct noted *
noted_job(void (*fn)(struct pool_job *), struct lthread *t, int *runs,
    int *here)
{
	struct noted *n = calloc(1, sizeof(*n));

	n->job.fn = fn;
	n->job.done = noted_done;
	n->job.release = free_job;
	n->t = t;
	n->runs = runs;
	n->here = here;
	return (n);
}

/*
 * On the second thread: pool_run() a job (held until the main thread's
 * jobs are under way), then pool_submit() one and pool_wait() for it.
 */
static void
two_b_main(void *arg)
{
	struct lthread *t = arg;
	struct square *sq = calloc(1, sizeof(*sq));
	struct noted *n;

	sq->job.fn = gated_square_fn;
	sq->job.release = free_job;
	sq->in = 7;
	if ((t->err = pool_run(P, &sq->job, clock_now() + 5000)) == 0) {
		t->run_ok = sq->out == 49 &&
		    !pthread_equal(sq->ran_on, t->self) &&
		    pthread_equal(pthread_self(), t->self) &&
		    loop_base() == t->base && coro_self() != NULL;
		free(sq);
	} else
		t->err = errno;		/* the pool releases sq */
	n = noted_job(slow_fn, t, &t->done_runs, &t->done_here);
	if (pool_submit(P, &n->job) == 0 &&
	    pool_wait(P, &n->job, clock_now() + 5000) == 0 &&
	    pthread_equal(pthread_self(), t->self))
		t->waited = 1;
	loop_stop(t->loop);
}

static int	main_runs, main_right;

static void
two_main_run(void *arg)
{
	struct square *sq = calloc(1, sizeof(*sq));

	sq->job.fn = square_fn;
	sq->job.release = free_job;
	sq->in = (int)(long)arg;
	if (pool_run(P, &sq->job, clock_now() + 5000) == 0 &&
	    sq->out == sq->in * sq->in &&
	    pthread_equal(pthread_self(), loop_thread))
		main_right++;
	if (sq->job.waiter == NULL)	/* else the pool releases it */
		free(sq);
	if (++main_runs == 20)
		loop_stop(L);
}

/*
 * Two loop threads share a pool: each one's jobs complete on it, the
 * second thread's while the main one runs jobs of its own.
 */
static void
test_two_threads(void)
{
	struct lthread t;
	long i;

	gates_reset();
	main_runs = main_right = 0;
	L = loop_create();
	P = pool_create(2, 32);		/* room for everyone's jobs */
	CHECK(pool_attach(P) == -1 && errno == EBUSY,
	    "a thread attached already cannot attach again");
	lthread_start(&t, two_b_main);
	for (i = 0; i < 20; i++)
		loop_spawn(L, two_main_run, (void *)i);
	atomic_store(&gate, 1);		/* now the other thread's job too */
	loop_run(L);
	lthread_join(&t);
	CHECK(main_right == 20, "the main thread's 20 jobs resumed it, on "
	    "it (%d)", main_right);
	CHECK(t.err == 0 && t.run_ok,
	    "pool_run on a second loop thread: run on a worker, resumed on "
	    "that thread and its loop (errno %d)", t.err);
	CHECK(t.waited && t.done_runs == 1 && t.done_here == 1,
	    "pool_submit there: done ran once on that thread's loop (%d, %d "
	    "there), pool_wait woke there", t.done_runs, t.done_here);
	CHECK(pool_wait_idle(P, clock_now() + 5000) == 0, "then idle");
	pool_free(P);
	loop_free(L);
}

/* On the second thread: pool_run() into a full queue. */
static void
room_b_main(void *arg)
{
	struct lthread *t = arg;
	struct square *sq = calloc(1, sizeof(*sq));
	int r;

	sq->job.fn = square_fn;
	sq->job.release = free_job;
	sq->in = 3;
	r = pool_run(P, &sq->job, clock_now() + 3000);
	t->err = r == 0 ? 0 : errno;
	t->run_ok = r == 0 && sq->out == 9 &&
	    pthread_equal(pthread_self(), t->self);
	if (r == 0)
		free(sq);
	atomic_store(&t->returned, 1);
	loop_stop(t->loop);
}

/*
 * Room opens across threads: the queue (of 1) is full of the main
 * thread's jobs, the second thread's pool_run() waits for room; once the
 * main thread's job is done and the next is taken, it goes on, though
 * the main thread's loop is not running.
 */
static void
test_room_across(void)
{
	struct lthread t;

	fill_queue();
	lthread_start(&t, room_b_main);
	CHECK(pool_queued(P) == 1 && !atomic_load(&t.returned),
	    "the queue is full, the other thread waits for room");
	atomic_store(&gate, 1);
	lthread_join(&t);
	CHECK(t.err == 0 && t.run_ok,
	    "a job taken off the queue wakes the other thread's wait for "
	    "room, its job runs and it resumes on its thread (errno %d)",
	    t.err);
	CHECK(pool_wait_idle(P, clock_now() + 5000) == 0 &&
	    atomic_load(&gated_runs) == 2,
	    "the main thread's two jobs ran and are delivered");
	pool_free(P);
	loop_free(L);
}

static int	left_runs, left_here;

/*
 * On the second thread: a job it waits for, then one still held at the
 * gate when the thread ends.
 */
static void
detach_b_main(void *arg)
{
	struct lthread *t = arg;
	struct noted *n;

	n = noted_job(slow_fn, t, &t->done_runs, &t->done_here);
	if (pool_submit(P, &n->job) == 0 &&
	    pool_wait(P, &n->job, clock_now() + 3000) == 0)
		t->waited = 1;
	n = noted_job(gated_fn, NULL, &left_runs, &left_here);
	t->err = pool_submit(P, &n->job) == 0 ? 0 : errno;
	loop_stop(t->loop);
}

/*
 * A thread that detaches with a job still out: the main thread's
 * pool_wait_idle() delivers it (polling that thread's eventfd).
 */
static void
test_detached(void)
{
	struct lthread t;
	int64_t t0;
	int r;

	gates_reset();
	left_runs = left_here = 0;
	L = loop_create();
	P = pool_create(1, 4);
	lthread_start(&t, detach_b_main);
	lthread_join(&t);
	CHECK(t.waited && t.done_runs == 1 && t.done_here == 1,
	    "the second thread's first job completed there (%d, %d there)",
	    t.done_runs, t.done_here);
	CHECK(t.err == 0 && left_runs == 0,
	    "its second job is still out when it has ended");
	atomic_store(&gate, 1);
	t0 = clock_now();
	r = pool_wait_idle(P, t0 + 5000);
	CHECK(r == 0 && left_runs == 1 && left_here == 1 &&
	    clock_now() - t0 < 1000,
	    "pool_wait_idle delivers the ended thread's job at once, on the "
	    "main thread (%d runs, %d here, %lld ms)", left_runs, left_here,
	    (long long)(clock_now() - t0));
	pool_free(P);
	CHECK(left_runs == 1, "its done ran once (%d)", left_runs);
	loop_free(L);
}

/*
 * A pool_submit_room() caller's room: counts its calls and those on the
 * expected thread, and may cancel another room or submit a job again.
 */
struct room_test {
	struct pool_room	 room;		/* first */
	pthread_t		 thread;	/* where it is to be called */
	int			 calls, here;
	struct pool_room	*cancel;	/* cancelled from fn */
	struct pool_job		*again;		/* submitted from fn */
	int			 again_err;	/* errno, 0: queued */
};

static void
room_fn(struct pool_room *room)
{
	struct room_test *rt = (struct room_test *)room;

	rt->calls++;
	if (pthread_equal(pthread_self(), rt->thread))
		rt->here++;
	if (rt->cancel != NULL)
		pool_room_cancel(rt->cancel);
	if (rt->again == NULL)
		return;
	if (pool_submit_room(P, rt->again, room) == 0)
		rt->again_err = 0;
	else if ((rt->again_err = errno) == EAGAIN)
		return;		/* linked again: the job waits */
	else
		free(rt->again);
	rt->again = NULL;
}

static void
room_init(struct room_test *rt, struct pool_job *again)
{
	memset(rt, 0, sizeof(*rt));
	rt->room.fn = room_fn;
	rt->thread = pthread_self();
	rt->again = again;
	rt->again_err = -1;
}

/* Submit a job that must find the queue full, linking rt's room. */
static int
room_refused(struct room_test *rt)
{
	struct pool_job *job = gated_job("refused");
	int r, err;

	r = pool_submit_room(P, job, &rt->room);
	err = errno;
	free(job);
	return (r == -1 && err == EAGAIN);
}

/*
 * A full queue: pool_submit_room() links the room, which is called back
 * once, on the submitting thread, when a worker takes a job; fn may
 * submit again.  A room cancelled, even from another room's fn in the
 * same batch, is not called.
 */
static void
test_submit_room(void)
{
	struct room_test r1, r2, r3, r4;

	fill_queue();
	room_init(&r1, gated_job("again"));
	room_init(&r2, NULL);
	room_init(&r3, NULL);
	room_init(&r4, NULL);
	r2.cancel = &r3.room;
	CHECK(pool_submit_room(P, r1.again, &r1.room) == -1 &&
	    errno == EAGAIN, "pool_submit_room into a full queue: EAGAIN");
	CHECK(room_refused(&r2) && room_refused(&r3) && room_refused(&r4),
	    "three more rooms linked");
	pool_room_cancel(&r4.room);
	pool_room_cancel(&r4.room);	/* not linked: a no-op */
	(void)pool_wait_idle(P, clock_now() + 50);
	CHECK(r1.calls + r2.calls + r3.calls + r4.calls == 0,
	    "no room is called while the queue stays full");
	atomic_store(&gate, 1);
	CHECK(pool_wait_idle(P, clock_now() + 5000) == 0, "then idle");
	CHECK(r1.calls == 1 && r1.here == 1 && r1.again_err == 0 &&
	    atomic_load(&gated_runs) == 3,
	    "a job taken off the queue calls the room back once, on its "
	    "thread, and the job it submits runs (%d calls, %d here, %d "
	    "runs)", r1.calls, r1.here, atomic_load(&gated_runs));
	CHECK(r2.calls == 1 && r3.calls == 0 && r4.calls == 0,
	    "rooms cancelled (one by another's fn) are not called (%d, %d)",
	    r3.calls, r4.calls);
	pool_free(P);
	loop_free(L);
}

static void *
open_gate_later(void *arg)
{
	(void)arg;
	usleep(100000);
	atomic_store(&gate, 1);
	return (NULL);
}

/* A room still linked when the pool stops is called back by the stop. */
static void
test_room_stop(void)
{
	struct room_test r;
	pthread_t th;

	fill_queue();
	room_init(&r, gated_job("after the stop"));
	CHECK(pool_submit_room(P, r.again, &r.room) == -1, "room linked");
	pthread_create(&th, NULL, open_gate_later, NULL);
	CHECK(pool_stop(P, clock_now() + 5000) == 0, "the pool stops");
	pthread_join(th, NULL);
	CHECK(r.calls == 1 && r.here == 1 && r.again_err == ECANCELED,
	    "the stop called the room back (%d calls), where submitting "
	    "fails with ECANCELED (%d)", r.calls, r.again_err);
	pool_free(P);
	pool_room_cancel(&r.room);	/* after pool_free: a no-op */
	loop_free(L);
}

static struct room_test	detached_room;

/* On the second thread: link a room, then end (and detach). */
static void
room_detach_b_main(void *arg)
{
	struct lthread *t = arg;

	room_init(&detached_room, gated_job("from the main thread"));
	detached_room.thread = loop_thread;
	t->err = pool_submit_room(P, detached_room.again,
	    &detached_room.room) == -1 ? errno : 0;
	(void)io_sleep(clock_now() + 1);
	loop_stop(t->loop);
}

/*
 * A room linked by a thread that has detached since is called back by
 * pool_wait_idle(), on the thread that calls it (as an access log's at
 * exit), and what it submits completes there.
 */
static void
test_room_detached(void)
{
	struct lthread t;

	fill_queue();
	lthread_start(&t, room_detach_b_main);
	lthread_join(&t);
	CHECK(t.err == EAGAIN && detached_room.calls == 0,
	    "the second thread's room is linked when it ends (errno %d)",
	    t.err);
	atomic_store(&gate, 1);
	CHECK(pool_wait_idle(P, clock_now() + 5000) == 0 &&
	    detached_room.calls == 1 && detached_room.here == 1 &&
	    detached_room.again_err == 0 && atomic_load(&gated_runs) == 3,
	    "pool_wait_idle calls it back on the main thread, and the job "
	    "it submits runs and is delivered (%d calls, %d here, %d runs)",
	    detached_room.calls, detached_room.here,
	    atomic_load(&gated_runs));
	pool_free(P);
	loop_free(L);
}

static int	bare_submit, bare_run, bare_wait;

/* A thread without a loop, not attached: it may not queue jobs. */
static void *
bare_main(void *arg)
{
	struct pool_job *job = calloc(1, sizeof(*job));

	(void)arg;
	job->fn = slow_fn;
	job->done = free_job;
	job->release = gated_release;
	if (pool_submit(P, job) == -1)
		bare_submit = errno;
	if (pool_wait(P, job, -1) == -1)
		bare_wait = errno;
	if (pool_run(P, job, -1) == -1)	/* releases job */
		bare_run = errno;
	return (NULL);
}

static void
test_unattached(void)
{
	pthread_t th;

	gates_reset();
	bare_submit = bare_run = bare_wait = 0;
	L = loop_create();
	P = pool_create(1, 4);
	pthread_create(&th, NULL, bare_main, NULL);
	pthread_join(th, NULL);
	CHECK(bare_submit == EINVAL && bare_wait == EINVAL &&
	    bare_run == EINVAL && atomic_load(&releases) == 1,
	    "an unattached thread gets EINVAL from pool_submit, pool_wait and "
	    "pool_run (which releases the job)");
	pool_free(P);
	loop_free(L);
}

/* The pool's interrupt signal must not need room on a coroutine stack. */
static void
test_signal_on_altstack(void)
{
	struct sigaction sa;
	struct loop *l = loop_create();
	struct pool *p = pool_create(1, 4);

	sigaction(SIGRTMIN + 1, NULL, &sa);
	CHECK(sa.sa_flags & SA_ONSTACK,
	    "the pool's interrupt signal runs on the alternate stack");
	pool_free(p);
	loop_free(l);
}

static int	lazy_dones, lazy_cancels;

static void
lazy_done(struct pool_job *job)
{
	lazy_dones++;
	lazy_cancels += job->cancelled;
	free(job);
	loop_stop(L);
}

static struct pool_job *
lazy_job(void)
{
	struct pool_job *job = calloc(1, sizeof(*job));

	job->fn = slow_fn;
	job->done = lazy_done;
	job->release = gated_release;
	return (job);
}

/*
 * No worker thread until the first job, which starts every one of them
 * and runs; later jobs start no more, and pool_free() joins them all.
 */
static void
test_lazy_start(void)
{
	int t0 = tasks(0), t1;

	lazy_dones = lazy_cancels = 0;
	L = loop_create();
	P = pool_create(3, 4);
	t1 = tasks(0);
	CHECK(t1 == t0 && tasks(1) == 0,
	    "pool_create starts no thread (%d threads before, %d after)", t0,
	    t1);
	CHECK(pool_submit(P, lazy_job()) == 0 && (t1 = tasks(0)) == t0 + 3,
	    "the first job starts all 3 workers at once (%d threads)", t1);
	loop_run(L);
	CHECK(lazy_dones == 1 && lazy_cancels == 0, "and runs");
	CHECK(pool_submit(P, lazy_job()) == 0 && tasks(0) == t0 + 3,
	    "the next job starts none");
	loop_run(L);
	CHECK(lazy_dones == 2 && tasks_become(t0 + 3, 3),
	    "it runs on the 3 workers");
	pool_free(P);
	CHECK(tasks_become(t0, 0), "pool_free joins them (%d threads)",
	    tasks(0));
	loop_free(L);
}

/*
 * A pool that never had a job: idle, stopped and freed without a thread;
 * a job after the stop is refused and starts none either.  And one freed
 * right after it was made.
 */
static void
test_never_started(void)
{
	struct pool_counts pc;
	struct pool_job *job;
	int64_t t0;
	int n0 = tasks(0), r, stuck;

	lazy_dones = 0;
	L = loop_create();
	P = pool_create(4, 8);
	t0 = clock_now();
	r = pool_wait_idle(P, t0 + 5000);
	pool_counts(P, &pc);
	CHECK(r == 0 && pc.queued == 0 && pc.done == 0 && pc.cancelled == 0 &&
	    clock_now() - t0 < 1000, "a pool without workers is idle at once");
	t0 = clock_now();
	stuck = pool_stop(P, t0 + 5000);
	CHECK(stuck == 0 && pool_stuck_what(P, 0) == NULL &&
	    clock_now() - t0 < 1000,
	    "pool_stop: no worker to join, none stuck (%lld ms)",
	    (long long)(clock_now() - t0));
	job = lazy_job();
	r = pool_submit(P, job);
	CHECK(r == -1 && errno == ECANCELED && tasks(0) == n0,
	    "a job after the stop: ECANCELED, and no worker starts");
	free(job);
	pool_free(P);
	CHECK(tasks(0) == n0 && lazy_dones == 0, "freed, no thread ever");
	loop_free(L);

	L = loop_create();
	P = pool_create(4, 8);
	pool_free(P);
	CHECK(tasks(0) == n0, "a pool freed without a stop: no thread either");
	loop_free(L);
}

static int	start_run_err;

static void
start_run_main(void *arg)
{
	(void)arg;
	start_run_err = pool_run(P, gated_job("no worker"), -1) == 0 ? 0 :
	    errno;
}

/*
 * Workers that cannot be started: the job is refused with ENOMEM (never
 * EAGAIN, which would have the caller wait for room that never comes),
 * and the next job tries again.  Those that start are kept.
 */
static void
test_start_fails(void)
{
	struct room_test rt;
	struct pool_job *job;
	int n0 = tasks(0), r, err;

	gates_reset();
	lazy_dones = lazy_cancels = 0;
	L = loop_create();
	P = pool_create(2, 4);
	atomic_store(&create_ok, 0);
	atomic_store(&create_fails, 1000);
	job = lazy_job();
	r = pool_submit(P, job);
	err = errno;
	CHECK(r == -1 && err == ENOMEM && tasks(0) == n0,
	    "no worker could start: pool_submit fails with ENOMEM (errno %d)",
	    err);
	free(job);
	loop_spawn(L, start_run_main, NULL);
	CHECK(start_run_err == ENOMEM && atomic_load(&releases) == 1,
	    "pool_run too, releasing the job (errno %d)", start_run_err);
	room_init(&rt, NULL);
	job = lazy_job();
	r = pool_submit_room(P, job, &rt.room);
	err = errno;
	CHECK(r == -1 && err == ENOMEM,
	    "pool_submit_room too, its room not linked (errno %d)", err);
	free(job);

	/* One of the two starts. */
	atomic_store(&create_ok, 1);
	atomic_store(&create_fails, 1);
	CHECK(pool_submit(P, lazy_job()) == 0 && tasks(0) == n0 + 1,
	    "a later job starts what it can: one worker of two, and is "
	    "queued");
	loop_run(L);
	CHECK(lazy_dones == 1 && lazy_cancels == 0, "it runs");
	atomic_store(&create_fails, 0);
	CHECK(pool_submit(P, lazy_job()) == 0 && tasks(0) == n0 + 2,
	    "the next one starts the other");
	loop_run(L);
	CHECK(lazy_dones == 2 && pool_wait_idle(P, clock_now() + 5000) == 0 &&
	    rt.calls == 0, "it runs; the refused room was never called");
	pool_free(P);
	CHECK(tasks_become(n0, 0), "both joined");
	loop_free(L);
}

#define RACERS	4

static pthread_barrier_t	race;

/* On each racing thread: park once, then queue a job with the others. */
static void
race_main(void *arg)
{
	struct lthread *t = arg;
	struct square *sq = calloc(1, sizeof(*sq));

	(void)io_sleep(clock_now() + 1);	/* lthread_start() goes on */
	pthread_barrier_wait(&race);
	sq->job.fn = square_fn;
	sq->job.release = free_job;
	sq->in = 5;
	if ((t->err = pool_run(P, &sq->job, clock_now() + 5000)) == 0) {
		t->run_ok = sq->out == 25;
		free(sq);
	} else
		t->err = errno;
	loop_stop(t->loop);
}

/*
 * Loop threads queueing their first jobs at once start the workers once:
 * worker_threads of them, not that many per thread.
 */
static void
test_start_race(void)
{
	struct lthread t[RACERS];
	int n0 = tasks(0), i, ok = 0;

	L = loop_create();
	P = pool_create(3, 64);
	pthread_barrier_init(&race, NULL, RACERS);
	for (i = 0; i < RACERS; i++)
		lthread_start(&t[i], race_main);
	for (i = 0; i < RACERS; i++) {
		lthread_join(&t[i]);
		ok += t[i].err == 0 && t[i].run_ok;
	}
	pthread_barrier_destroy(&race);
	CHECK(ok == RACERS, "%d threads' first jobs ran (%d)", RACERS, ok);
	CHECK(tasks_become(n0 + 3, 3),
	    "they started 3 workers in all (%d threads, %d workers)",
	    tasks(0) - n0, tasks(1));
	pool_free(P);
	CHECK(tasks_become(n0, 0), "all joined");
	loop_free(L);
}

static void *
nothing_main(void *arg)
{
	return (arg);
}

int
main(void)
{
	pthread_t th;

	loop_thread = pthread_self();
	coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT);
	/* ThreadSanitizer starts a thread of its own with the first one:
	 * before the counts of threads. */
	pthread_create(&th, NULL, nothing_main, NULL);
	pthread_join(th, NULL);
	test_lazy_start();
	test_never_started();
	test_start_fails();
	test_start_race();
	test_run();
	test_submit_full();
	test_stop_interrupts();
	test_run_timeout();
	test_run_cancel();
	test_run_full();
	test_wait_shared();
	test_two_threads();
	test_room_across();
	test_detached();
	test_submit_room();
	test_room_stop();
	test_room_detached();
	test_unattached();
	test_stop_stuck();
	test_signal_on_altstack();
	coro_fini();
	return (check_done());
}
