/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_accesslog: an access log freed while its flush job is still out is
 * left to the job, not freed under it; a symbolic link is not followed;
 * lines that found the worker queue full are written once it has room,
 * whether more lines come or not (also when the log is closing, or its
 * loop thread has ended), and the drop warning names the limit hit; lines
 * that found no worker thread (none could be started: pthread_create()
 * is wrapped to fail, tests/CMakeLists.txt) wait for the next try.
 */
#include "accesslog.h"
#include "clock.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "check.h"
#include "fail_create.h"
#include "coro.h"
#include "log.h"
#include "loop.h"
#include "pool.h"

static char	dir[64];

/*
 * The job blocks in open(2) on a FIFO nobody reads; the log is freed
 * meanwhile (as at exit, with a worker stuck); then a reader comes, and
 * the job carries on with the log's fd and path.  Run under valgrind or
 * ASan, this catches a log freed under its job.
 */
static void
test_free_with_job_out(void)
{
	struct loop *l = loop_create();
	struct pool *p = pool_create(1, 8);
	struct accesslog *al;
	char fifo[96], buf[16];
	int64_t end;
	ssize_t n;
	int fd;

	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	mkfifo(fifo, 0600);
	al = accesslog_create(fifo, p, NULL);
	accesslog_write(al, "line\n", 5);
	end = clock_now() + 5000;
	while (pool_queued(p) > 0 && clock_now() < end)
		usleep(1000);	/* until the worker holds the job */
	accesslog_free(al);
	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	CHECK(pool_wait_idle(p, clock_now() + 5000) == 0,
	    "the job comes back once the FIFO has a reader");
	n = read(fd, buf, sizeof(buf));
	CHECK(n == 5 && memcmp(buf, "line\n", 5) == 0,
	    "the job wrote its line after the log was freed (%zd bytes)", n);
	close(fd);
	pool_free(p);
	loop_free(l);
	unlink(fifo);
}

/* A symbolic link at the log's path is refused, its target untouched. */
static void
test_symlink_refused(void)
{
	struct loop *l = loop_create();
	struct pool *p = pool_create(1, 8);
	struct accesslog *al;
	char target[96], link[96];
	struct stat st = { 0 };

	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(link, sizeof(link), "%s/access.log", dir);
	close(open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600));
	CHECK(symlink(target, link) == 0, "planted %s -> %s", link, target);
	al = accesslog_create(link, p, NULL);
	accesslog_write(al, "line\n", 5);
	(void)pool_wait_idle(p, clock_now() + 5000);
	CHECK(stat(target, &st) == 0 && st.st_size == 0 &&
	    accesslog_dropped(al) == 1,
	    "the link is not followed: the target has %lld bytes, %llu "
	    "line dropped", (long long)st.st_size,
	    (unsigned long long)accesslog_dropped(al));
	accesslog_free(al);
	pool_free(p);
	loop_free(l);
	unlink(link);
	unlink(target);
}

/*
 * Two loop threads' logs of one path share their count of dropped lines
 * and their warnings: one warning for the problem, not one per copy.
 */
static void
test_shared(void)
{
	struct loop *l = loop_create();
	struct pool *p = pool_create(1, 8);
	struct accesslog *a, *b;
	char target[96], link[96];
	const char *out, *first;

	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(link, sizeof(link), "%s/shared.log", dir);
	close(open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600));
	(void)symlink(target, link);
	a = accesslog_create(link, p, NULL);
	b = accesslog_create(link, p, a);
	capture_begin();
	accesslog_write(a, "one\n", 4);
	(void)pool_wait_idle(p, clock_now() + 5000);
	accesslog_write(b, "two\n", 4);
	(void)pool_wait_idle(p, clock_now() + 5000);
	out = capture_end();
	CHECK(accesslog_dropped(a) == 2 && accesslog_dropped(b) == 2,
	    "dropped lines are counted together (%llu, %llu)",
	    (unsigned long long)accesslog_dropped(a),
	    (unsigned long long)accesslog_dropped(b));
	first = strstr(out, "is a symbolic link");
	CHECK(first != NULL && strstr(first + 1, "is a symbolic link") == NULL,
	    "one warning for both copies");
	/* Either may go first: the shared part goes with the last. */
	accesslog_free(a);
	accesslog_write(b, "three\n", 6);
	(void)pool_wait_idle(p, clock_now() + 5000);
	CHECK(accesslog_dropped(b) == 3, "the other copy carries on");
	accesslog_free(b);
	pool_free(p);
	loop_free(l);
	unlink(link);
	unlink(target);
}

/*
 * A log closed by a reload (its path changed) while its writer is
 * blocked: the lines still waiting are written once the writer can, not
 * dropped; the log frees itself after.
 */
static void
test_close_writes_all(void)
{
	struct loop *l = loop_create();
	struct pool *p = pool_create(1, 8);
	struct accesslog *al;
	char fifo[96], buf[64];
	int64_t end;
	ssize_t n, got = 0;
	int fd;

	snprintf(fifo, sizeof(fifo), "%s/fifo2", dir);
	mkfifo(fifo, 0600);
	al = accesslog_create(fifo, p, NULL);
	accesslog_write(al, "one\n", 4);
	end = clock_now() + 5000;
	while (pool_queued(p) > 0 && clock_now() < end)
		usleep(1000);	/* the worker is blocked opening the FIFO */
	accesslog_write(al, "two\n", 4);
	accesslog_close(al);
	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	CHECK(pool_wait_idle(p, clock_now() + 5000) == 0,
	    "both flushes come back once the FIFO has a reader");
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	CHECK(strcmp(buf, "one\ntwo\n") == 0,
	    "every line waiting at close was written (\"%s\")", buf);
	close(fd);
	pool_free(p);
	loop_free(l);
	unlink(fifo);
}

/*
 * A pool of one worker and a queue of one, both taken: the worker holds
 * the flush of log *a (one line), blocked opening the FIFO at fifo, and
 * the flush of log *b (fifo.b, one line) is queued behind it.
 */
static struct pool *
full_pool(const char *fifo, struct accesslog **a, struct accesslog **b)
{
	struct pool *p = pool_create(1, 1);
	char path[128];
	int64_t end;

	unlink(fifo);
	mkfifo(fifo, 0600);
	*a = accesslog_create(fifo, p, NULL);
	accesslog_write(*a, "a\n", 2);
	end = clock_now() + 5000;
	while (pool_queued(p) > 0 && clock_now() < end)
		usleep(1000);	/* until the worker holds it */
	snprintf(path, sizeof(path), "%s.b", fifo);
	*b = accesslog_create(path, p, NULL);
	accesslog_write(*b, "b\n", 2);
	return (p);
}

/*
 * Give the FIFO a reader and read it until the pool is idle (5 s at
 * most), delivering completions (and calling rooms) on this thread.
 * Returns 0 once idle, else -1.
 */
static int
drain_fifo(struct pool *p, const char *fifo)
{
	int64_t end = clock_now() + 5000;
	char buf[4096];
	int fd, r;

	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	do {
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		r = pool_wait_idle(p, clock_now() + 10);
	} while (r == -1 && clock_now() < end);
	close(fd);
	return (r);
}

/* What the file at path holds (4 KiB at most), or "(none)". */
static const char *
file_text(const char *path)
{
	static char text[4096];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return ("(none)");
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return (text);
}

/* Free the logs and the pool of full_pool(), and the files. */
static void
full_pool_free(struct pool *p, const char *fifo, struct accesslog *a,
    struct accesslog *b)
{
	char path[128];

	accesslog_free(a);
	accesslog_free(b);
	pool_free(p);
	snprintf(path, sizeof(path), "%s.b", fifo);
	unlink(path);
	unlink(fifo);
}

/*
 * Lines whose flush found the worker queue full are handed over once a
 * worker takes a job, with no line after them: a log does not stay
 * stuck until the next line (which, past 64 KiB, would be dropped).
 */
static void
test_full_queue_retried(void)
{
	struct loop *l = loop_create();
	struct accesslog *a, *b, *c;
	struct pool *p;
	char fifo[96], path[96];

	snprintf(fifo, sizeof(fifo), "%s/fifo3", dir);
	snprintf(path, sizeof(path), "%s/c.log", dir);
	p = full_pool(fifo, &a, &b);
	c = accesslog_create(path, p, NULL);
	accesslog_write(c, "c1\n", 3);
	accesslog_write(c, "c2\n", 3);
	CHECK(pool_queued(p) == 1 && access(path, F_OK) == -1,
	    "the queue is full: the lines wait");
	CHECK(drain_fifo(p, fifo) == 0, "the pool is idle once the FIFO is "
	    "read");
	CHECK(strcmp(file_text(path), "c1\nc2\n") == 0 &&
	    accesslog_dropped(c) == 0,
	    "the waiting lines are written once the queue has room, with no "
	    "new line (\"%s\")", file_text(path));
	accesslog_write(c, "c3\n", 3);
	(void)pool_wait_idle(p, clock_now() + 5000);
	CHECK(strcmp(file_text(path), "c1\nc2\nc3\n") == 0,
	    "and the next line as usual");
	accesslog_free(c);
	full_pool_free(p, fifo, a, b);
	unlink(path);
	loop_free(l);
}

/* Write n lines of 64 bytes to log. */
static void
write_lines(struct accesslog *log, int n)
{
	char line[64];

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	while (n-- > 0)
		accesslog_write(log, line, sizeof(line));
}

/*
 * The warning about dropped lines says which limit was hit: the worker
 * queue full, or 64 KiB waiting behind a slow or blocked writer.
 */
static void
test_drop_why(void)
{
	struct loop *l = loop_create();
	struct accesslog *a, *b, *c;
	struct pool *p;
	char fifo[96], path[96], want[256];
	const char *out;
	uint64_t dropped_a, dropped_c;
	struct stat st = { 0 };

	snprintf(fifo, sizeof(fifo), "%s/fifo4", dir);
	snprintf(path, sizeof(path), "%s/c.log", dir);
	p = full_pool(fifo, &a, &b);
	c = accesslog_create(path, p, NULL);
	capture_begin();
	write_lines(c, 1100);		/* 70400 bytes */
	write_lines(a, 1100);
	out = capture_end();
	dropped_a = accesslog_dropped(a);
	dropped_c = accesslog_dropped(c);
	CHECK(dropped_c == 1100 - 1024 && dropped_a == 1100 - 1024,
	    "64 KiB wait, the rest is dropped (%llu, %llu)",
	    (unsigned long long)dropped_c, (unsigned long long)dropped_a);
	snprintf(want, sizeof(want), "access log %s: 1 lines dropped so far "
	    "(the worker queue is full)", path);
	CHECK(strstr(out, want) != NULL, "full queue: \"%s\"", want);
	snprintf(want, sizeof(want), "access log %s: 1 lines dropped so far "
	    "(64 KiB of lines waiting: the writer is slow or blocked)", fifo);
	CHECK(strstr(out, want) != NULL, "blocked writer: \"%s\"", want);
	CHECK(drain_fifo(p, fifo) == 0 && stat(path, &st) == 0 &&
	    st.st_size == 1024 * 64,
	    "the 64 KiB kept are written once there is room (%lld bytes)",
	    (long long)st.st_size);
	accesslog_free(c);
	full_pool_free(p, fifo, a, b);
	unlink(path);
	loop_free(l);
}

/*
 * A log closed (a reload moved it) while the worker queue is full: its
 * lines are written once there is room, not dropped; it frees itself
 * after.
 */
static void
test_close_full_queue(void)
{
	struct loop *l = loop_create();
	struct accesslog *a, *b, *c;
	struct pool *p;
	char fifo[96], path[96];

	snprintf(fifo, sizeof(fifo), "%s/fifo5", dir);
	snprintf(path, sizeof(path), "%s/c.log", dir);
	p = full_pool(fifo, &a, &b);
	c = accesslog_create(path, p, NULL);
	accesslog_write(c, "c1\n", 3);
	accesslog_close(c);
	CHECK(drain_fifo(p, fifo) == 0 &&
	    strcmp(file_text(path), "c1\n") == 0,
	    "a log closed while the queue is full writes its lines once "
	    "there is room (\"%s\")", file_text(path));
	full_pool_free(p, fifo, a, b);
	unlink(path);
	loop_free(l);
}

/*
 * A closing log still waiting for room when the pool stops is freed by
 * the stop, its lines counted as dropped (valgrind and ASan check that
 * nothing is left).
 */
static void
test_close_at_stop(void)
{
	struct loop *l = loop_create();
	struct accesslog *a, *b, *c;
	struct pool *p;
	char fifo[96], path[96], want[256];
	const char *out;

	snprintf(fifo, sizeof(fifo), "%s/fifo6", dir);
	snprintf(path, sizeof(path), "%s/c.log", dir);
	p = full_pool(fifo, &a, &b);
	c = accesslog_create(path, p, NULL);
	accesslog_write(c, "c1\n", 3);
	accesslog_close(c);
	capture_begin();
	(void)pool_stop(p, clock_now() + 2000);
	out = capture_end();
	snprintf(want, sizeof(want), "access log %s: 1 lines dropped so far "
	    "(stopping)", path);
	CHECK(strstr(out, want) != NULL && access(path, F_OK) == -1,
	    "the stop frees it, its line counted: \"%s\"", want);
	capture_begin();
	full_pool_free(p, fifo, a, b);
	(void)capture_end();
	loop_free(l);
}

/* A loop thread that writes a line, flushes and ends, as at exit. */
struct side {
	pthread_t		 thread;
	struct pool		*p;
	const char		*path;
	struct accesslog	*log;
};

static void *
side_main(void *arg)
{
	struct side *sd = arg;
	struct loop *l;

	coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT);
	l = loop_create();
	if (pool_attach(sd->p) == 0) {
		sd->log = accesslog_create(sd->path, sd->p, NULL);
		accesslog_write(sd->log, "side\n", 5);
		accesslog_flush(sd->log);	/* as listener_stop() */
		pool_detach(sd->p);
	}
	loop_free(l);
	coro_fini();
	return (NULL);
}

/*
 * At exit, a loop thread flushes its logs and ends while the queue is
 * full: the thread that waits for the pool hands their lines over once
 * there is room (pool_wait_idle()), instead of dropping them at free.
 */
static void
test_flush_after_thread_end(void)
{
	struct loop *l = loop_create();
	struct accesslog *a, *b;
	struct pool *p;
	struct side sd;
	char fifo[96], path[96];

	snprintf(fifo, sizeof(fifo), "%s/fifo7", dir);
	snprintf(path, sizeof(path), "%s/side.log", dir);
	p = full_pool(fifo, &a, &b);
	memset(&sd, 0, sizeof(sd));
	sd.p = p;
	sd.path = path;
	pthread_create(&sd.thread, NULL, side_main, &sd);
	pthread_join(sd.thread, NULL);
	CHECK(sd.log != NULL && access(path, F_OK) == -1,
	    "the other thread has ended, its line waiting");
	CHECK(drain_fifo(p, fifo) == 0 &&
	    strcmp(file_text(path), "side\n") == 0 &&
	    accesslog_dropped(sd.log) == 0,
	    "its line is written once there is room (\"%s\")",
	    file_text(path));
	accesslog_free(sd.log);
	full_pool_free(p, fifo, a, b);
	unlink(path);
	loop_free(l);
}

/*
 * The pool's workers cannot be started (its first job starts them): the
 * lines wait, with one warning that says why, and go with the next line
 * once the workers start.
 */
static void
test_no_workers(void)
{
	struct loop *l = loop_create();
	struct pool *p = pool_create(2, 8);
	struct accesslog *al;
	char path[96], want[256];
	const char *out;

	snprintf(path, sizeof(path), "%s/noworkers.log", dir);
	al = accesslog_create(path, p, NULL);
	atomic_store(&create_fails, 1000);	/* every start, till 0 */
	capture_begin();
	accesslog_write(al, "one\n", 4);
	accesslog_write(al, "two\n", 4);
	out = capture_end();
	snprintf(want, sizeof(want), "access log %s: the worker pool cannot "
	    "take the lines: %s (they wait, up to 64 KiB)", path,
	    strerror(ENOMEM));
	CHECK(count_lines(out) == 1 && strstr(out, want) != NULL &&
	    accesslog_dropped(al) == 0 && access(path, F_OK) == -1,
	    "no worker thread: the lines wait, one warning: \"%s\"", out);
	atomic_store(&create_fails, 0);
	accesslog_write(al, "three\n", 6);
	CHECK(pool_wait_idle(p, clock_now() + 5000) == 0 &&
	    strcmp(file_text(path), "one\ntwo\nthree\n") == 0,
	    "the next line starts the workers and takes them along (\"%s\")",
	    file_text(path));
	accesslog_free(al);
	pool_free(p);
	unlink(path);
	loop_free(l);
}

int
main(void)
{
	coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT);
	log_init(LOG_LEVEL_WARN);
	snprintf(dir, sizeof(dir), "/tmp/test_accesslog.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	test_free_with_job_out();
	test_symlink_refused();
	test_shared();
	test_close_writes_all();
	test_full_queue_retried();
	test_drop_why();
	test_close_full_queue();
	test_close_at_stop();
	test_flush_after_thread_end();
	test_no_workers();
	rmdir(dir);
	coro_fini();
	return (check_done());
}
