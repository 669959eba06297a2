/*
 * test_accesslog: an access log freed while its flush job is still out is
 * left to the job, not freed under it; a symbolic link is not followed.
 */
#include "accesslog.h"
#include "clock.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "check.h"
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
	struct stat st;

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
	rmdir(dir);
	coro_fini();
	return (check_done());
}
