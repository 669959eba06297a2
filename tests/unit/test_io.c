/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_io: parking I/O on the loop: deadlines, wakeups, backpressure,
 * live waits (progress), close, the two-step stop, accept and connect.
 */
#include "clock.h"
#include "io.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <linux/sockios.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"
#include "coro.h"
#include "loop.h"
#include "loop_park.h"
#include "sock.h"

static struct loop	*L;
static int		 sp[2];

/*
 * accept4() as io.c sees it (the test binary's definition wins over
 * libc's): the next accept_faults calls fail with accept_errno, the way
 * accept(2) reports an error of the connection being accepted.
 */
static int	accept_faults, accept_errno, accept_calls;

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	accept_calls++;
	if (accept_faults > 0) {
		accept_faults--;
		errno = accept_errno;
		return (-1);
	}
	return ((int)syscall(SYS_accept4, fd, sa, len, flags));
}

/* ioctl() as sock_unsent() sees it: counts io.c's looks at a queue. */
static int	looks;

int
ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == SIOCOUTQ)
		looks++;
	return ((int)syscall(SYS_ioctl, fd, req, arg));
}

/*
 * read() and write() as io.c sees them: counted on the test's socket
 * pair, which io.c must reach with recv() and send() instead.
 */
static int	vfs_calls_on_sp;

ssize_t
read(int fd, void *buf, size_t len)
{
	if (fd == sp[0] || fd == sp[1])
		vfs_calls_on_sp++;
	return (syscall(SYS_read, fd, buf, len));
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	if (fd == sp[0] || fd == sp[1])
		vfs_calls_on_sp++;
	return (syscall(SYS_write, fd, buf, len));
}

/* Run fn in a coroutine on a fresh loop until it calls loop_stop(). */
static void
run(void (*fn)(void *))
{
	L = loop_create();
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp);
	loop_spawn(L, fn, NULL);
	loop_run(L);
	io_close(sp[0]);
	io_close(sp[1]);
	loop_free(L);
}

static void
t_timeout(void *arg)
{
	char c;
	int64_t t0 = clock_now();
	ssize_t n = io_read(sp[0], &c, 1, t0 + 50);
	int64_t took = clock_now() - t0;

	(void)arg;
	CHECK(n == -1 && errno == ETIMEDOUT && took >= 49 && took < 1000,
	    "read with no data times out at its deadline (%lld ms)",
	    (long long)took);
	CHECK(io_read(sp[0], &c, 1, t0 - 1) == -1 && errno == ETIMEDOUT,
	    "a past deadline fails without parking");
	loop_stop(L);
}

static int	stop_guard_fired;

/* The guard: loop_run() should have returned long before this runs. */
static void
on_stop_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stop_guard_fired = 1;
	event_base_loopbreak(arg);
}

static void
stop_at_once(void *arg)
{
	(void)arg;
	loop_stop(L);
}

static void
stop_later(void *arg)
{
	(void)arg;
	(void)io_sleep(clock_now() + 50);
	loop_stop(L);
}

/*
 * A coroutine that loop_spawn() runs to its end, calling loop_stop() on
 * the way, before loop_run() has begun: loop_run() returns at once (a
 * test thread that stopped after a wait that did not park hung here).
 * A 2 s guard timer ends the loop if it does not.
 */
static void
test_stop_before_run(void)
{
	struct timeval guard = { 2, 0 };
	struct event *ev;
	int64_t t0, took;

	L = loop_create();
	ev = evtimer_new(loop_base(), on_stop_guard, loop_base());
	evtimer_add(ev, &guard);
	loop_spawn(L, stop_at_once, NULL);
	CHECK(loop_run(L) == 0 && !stop_guard_fired,
	    "loop_stop() before loop_run() makes it return at once");
	t0 = clock_now();
	loop_spawn(L, stop_later, NULL);
	loop_run(L);
	took = clock_now() - t0;
	CHECK(!stop_guard_fired && took >= 49,
	    "the stop is used up: the next loop_run() runs until its own "
	    "loop_stop() (%lld ms)", (long long)took);
	event_free(ev);
	loop_free(L);
}

static void
writer_later(void *arg)
{
	(void)arg;
	io_sleep(clock_now() + 20);
	io_write(sp[1], "hello", 5, -1);
}

static void
t_wakeup(void *arg)
{
	char buf[16];
	ssize_t n;

	(void)arg;
	loop_spawn(L, writer_later, NULL);
	n = io_read(sp[0], buf, sizeof(buf), clock_now() + 5000);
	CHECK(n == 5 && memcmp(buf, "hello", 5) == 0,
	    "a parked reader wakes when data arrives");
	io_sleep(clock_now() + 5);
	loop_stop(L);
}

#define BIG	(4 * 1024 * 1024)

static void
slow_reader(void *arg)
{
	static char buf[7000];
	size_t *got = arg, want = BIG;
	unsigned char expect = 0;
	ssize_t n, i;
	int ok = 1;

	while (*got < want) {
		if ((n = io_read(sp[1], buf, sizeof(buf), -1)) <= 0)
			break;
		for (i = 0; i < n; i++)
			if ((unsigned char)buf[i] != expect++)
				ok = 0;
		*got += (size_t)n;
		if (*got % (1024 * 1024) < (size_t)n)
			loop_yield();
	}
	CHECK(ok && *got == want, "4 MiB through a full socket buffer, exact");
	loop_stop(L);
}

static void
t_backpressure(void *arg)
{
	unsigned char *big = malloc(BIG);
	static size_t got;
	size_t i;

	(void)arg;
	for (i = 0; i < BIG; i++)
		big[i] = (unsigned char)i;
	got = 0;
	loop_spawn(L, slow_reader, &got);
	CHECK(io_write(sp[0], big, BIG, clock_now() + 10000) == 0,
	    "io_write parks under backpressure and writes everything");
	free(big);
}

/*
 * Live waits.  The limit is LIVE_MS; a peer reads 4 KiB every TRICKLE_MS
 * from sp[1], while sp[0] holds 4 KiB messages: on AF_UNIX each read
 * then frees one, and the queue shrinks at every read.  The socket is
 * writable again only once three quarters of its buffer are free,
 * which takes many reads.
 */
#define LIVE_MS		100
#define TRICKLE_MS	20
#define SLACK_MS	60	/* a loaded machine's late timers */

static char	msg[4096];
static int64_t	last_read;
static int	reads_left;

/* Read 4 KiB from sp[1] every TRICKLE_MS, reads_left times. */
static void
trickle(void *arg)
{
	char buf[4096];

	(void)arg;
	while (reads_left > 0) {
		io_sleep(clock_now() + TRICKLE_MS);
		if (read(sp[1], buf, sizeof(buf)) > 0)
			last_read = clock_now();
		reads_left--;
	}
}

/* Fill sp[0]'s send queue with 4 KiB messages. */
static void
fill(void)
{
	while (write(sp[0], msg, sizeof(msg)) > 0)
		continue;
}

static void
t_write_live(void *arg)
{
	int64_t deadline, t0, took;
	size_t wrote = 0;
	ssize_t n;

	(void)arg;
	fill();
	reads_left = 15;	/* 300 ms: a few limits, but no writable edge */
	loop_spawn(L, trickle, NULL);
	t0 = clock_now();
	n = io_write_some(sp[0], msg, sizeof(msg), t0 + LIVE_MS);
	took = clock_now() - t0;
	CHECK(n == -1 && errno == ETIMEDOUT && reads_left > 0,
	    "the scenario: a write with a fixed deadline times out while its "
	    "peer reads (%lld ms, %d reads to go)", (long long)took,
	    reads_left);
	while (reads_left > 0)
		io_sleep(clock_now() + TRICKLE_MS);	/* the reads end */

	fill();
	reads_left = 50;	/* 1 s */
	loop_spawn(L, trickle, NULL);
	deadline = clock_now() + LIVE_MS;
	while ((n = io_write_live(sp[0], msg, sizeof(msg), &deadline,
	    LIVE_MS)) > 0)
		wrote++;
	took = clock_now() - last_read;
	CHECK(n == -1 && errno == ETIMEDOUT && reads_left == 0,
	    "a live write waits as long as its peer reads (%zu messages "
	    "written; errno %d, %d reads to go)", wrote, errno, reads_left);
	CHECK(took >= LIVE_MS - 1 && took <= LIVE_MS + LIVE_MS / 10 +
	    SLACK_MS, "then fails within the limit and a tenth after the "
	    "last read (%lld ms)", (long long)took);
	loop_stop(L);
}

static int64_t	hib_deadline;

/* Wait, stackless, for sp[0] to become readable; it never does. */
static void
hibernator(void *arg)
{
	int r, err;
	int64_t took;

	(void)arg;
	if ((r = io_hibernate(sp[0], &hib_deadline, LIVE_MS, 0, hibernator,
	    NULL)) == 1)
		return;
	err = errno;
	took = clock_now() - last_read;
	CHECK(r == -1 && err == ETIMEDOUT && reads_left == 0,
	    "a live read wait outlasts its limit while the peer takes bytes "
	    "from the send queue");
	CHECK(took >= LIVE_MS - 1 && took <= LIVE_MS + LIVE_MS / 10 +
	    SLACK_MS, "then fails within the limit and a tenth after the "
	    "last read (%lld ms)", (long long)took);
	loop_stop(L);
}

/* An echo waiting for its client while its last echo drains. */
static void
t_hibernate_live(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 30; i++)
		(void)io_write(sp[0], msg, sizeof(msg), -1);
	reads_left = 30;	/* 600 ms: the queue empties */
	loop_spawn(L, trickle, NULL);
	hib_deadline = clock_now() + LIVE_MS;
	hibernator(NULL);
}

static int	quiet_looks;

/* A live wait on an empty queue looks once, then waits for the end. */
static void
quiet(void *arg)
{
	(void)arg;
	if (io_hibernate(sp[0], &hib_deadline, LIVE_MS, 0, quiet, NULL) == 1)
		return;
	quiet_looks = looks;
	loop_stop(L);
}

static void
replier(void *arg)
{
	(void)arg;
	io_sleep(clock_now() + 5);
	(void)!write(sp[1], "r", 1);
}

/* A read wait that data ends before its first look (at 100 ms). */
static void
answered(void *arg)
{
	int r;

	(void)arg;
	if ((r = io_hibernate(sp[0], &hib_deadline, 1000, 0, answered,
	    NULL)) == 1)
		return;
	CHECK(r == 0 && looks == 0, "a live read wait that data ends soon "
	    "looks at no queue (%d looks)", looks);
	loop_stop(L);
}

/* The data path makes no system call for progress. */
static void
t_live_costs_nothing(void *arg)
{
	char c;
	int i;

	(void)arg;
	looks = 0;
	hib_deadline = clock_now() + 1000;
	for (i = 0; i < 1000; i++) {
		(void)io_write_live(sp[0], "x", 1, &hib_deadline, 1000);
		(void)!read(sp[1], &c, 1);
	}
	CHECK(looks == 0, "1000 live writes that do not block look at no "
	    "queue (%d looks)", looks);
	loop_spawn(L, replier, NULL);
	answered(NULL);
}

static int	aborted_errno, aborted_writer_errno;

/* A live reader with no deadline: only the abort can end its wait. */
static void
abortee(void *arg)
{
	static int64_t none = -1;
	int r;

	(void)arg;
	if ((r = io_hibernate(sp[0], &none, 0, 0, abortee, NULL)) == 1)
		return;
	aborted_errno = r == -1 ? errno : 0;
}

static void
aborted_writer(void *arg)
{
	int64_t deadline = clock_now() + 5000;

	(void)arg;
	fill();
	if (io_write_live(sp[0], msg, sizeof(msg), &deadline, 5000) == -1)
		aborted_writer_errno = errno;
}

/*
 * The proxy aborts both sides of a relay with the error that ended it,
 * ETIMEDOUT too (TCP gave up on a peer): a live wait must not take that
 * for its timer and wait on.
 */
static void
t_abort_live(void *arg)
{
	int64_t t0;

	(void)arg;
	aborted_errno = aborted_writer_errno = 0;
	loop_spawn(L, abortee, NULL);
	loop_spawn(L, aborted_writer, NULL);
	t0 = clock_now();
	io_abort(sp[0], ETIMEDOUT);
	io_sleep(clock_now() + 50);
	CHECK(aborted_errno == ETIMEDOUT && aborted_writer_errno == ETIMEDOUT &&
	    clock_now() - t0 < 1000, "io_abort(ETIMEDOUT) ends a live read "
	    "wait and a live write at once (errno %d, %d; %lld ms)",
	    aborted_errno, aborted_writer_errno,
	    (long long)(clock_now() - t0));
	loop_stop(L);
}

static int	second_errno;

static void
second_reader(void *arg)
{
	char c;

	(void)arg;
	if (io_read(sp[0], &c, 1, -1) == -1)
		second_errno = errno;
}

static void
t_busy_and_close(void *arg)
{
	char c;

	(void)arg;
	second_errno = 0;
	loop_spawn(L, second_reader, NULL);	/* parks on sp[0] */
	CHECK(io_read(sp[0], &c, 1, clock_now() + 10) == -1 && errno == EBUSY,
	    "a second reader on one fd gets EBUSY");
	io_close(sp[0]);
	sp[0] = socket(AF_UNIX, SOCK_STREAM, 0);	/* for run()'s close */
	io_sleep(clock_now() + 1);
	CHECK(second_errno == EBADF, "io_close wakes the waiter with EBADF");
	loop_stop(L);
}

static int	writer_errno;

static void
blocked_writer(void *arg)
{
	static char big[1 << 20];

	(void)arg;
	writer_errno = 0;
	if (io_write(sp[0], big, sizeof(big), clock_now() + 5000) == -1)
		writer_errno = errno;
}

static void
reader_closer(void *arg)
{
	char c;

	(void)arg;
	if (io_read(sp[0], &c, 1, clock_now() + 5000) == 1) {
		io_close(sp[0]);
		/* The fd number is free again: the next socket reuses it. */
		sp[0] = socket(AF_UNIX, SOCK_STREAM, 0);
	}
}

/*
 * One edge wakes both directions of an fd; the reader runs first and
 * closes it, and the number is reused at once.  The writer must fail
 * with EBADF, not write into the new socket.
 */
static void
t_reader_closes(void *arg)
{
	static char sink[1 << 16];

	(void)arg;
	loop_spawn(L, blocked_writer, NULL);	/* parks: sp[0] is full */
	loop_spawn(L, reader_closer, NULL);	/* parks: no data yet */
	/* Data and space for sp[0] before the loop polls: one edge. */
	(void)!write(sp[1], "r", 1);
	while (read(sp[1], sink, sizeof(sink)) > 0)
		;
	io_sleep(clock_now() + 50);
	CHECK(writer_errno == EBADF, "a writer whose fd its reader closed "
	    "in the same edge fails with EBADF (errno %d)", writer_errno);
	loop_stop(L);
}

static int	timer_fired;

static void
short_sleeper(void *arg)
{
	(void)arg;
	io_sleep(clock_now() + 1);
	timer_fired = 1;
}

/* A coroutine that keeps yielding must not starve timers and fds. */
static void
t_yield_is_fair(void *arg)
{
	long spins = 0;

	(void)arg;
	timer_fired = 0;
	loop_spawn(L, short_sleeper, NULL);
	while (!timer_fired && spins < 2000000) {
		loop_yield();
		spins++;
	}
	CHECK(timer_fired, "a timer fires while another coroutine yields in a "
	    "loop (%ld yields)", spins);
	loop_stop(L);
}

static int	idle_errno, busy_errno, sleep_errno;
static int64_t	busy_took;

/* A re-read's wait (LOOP_WAIT_SOON) on an idle connection. */
static int	soon_idle_errno;
static int64_t	soon_idle_took;

static void
soon_idle(void *arg)
{
	struct loop_wait w;
	int64_t t0 = clock_now();

	(void)arg;
	memset(&w, 0, sizeof(w));
	if (loop_park(&w, t0 + LOOP_SOON_MS, LOOP_WAIT_SOON |
	    LOOP_WAIT_IDLE) == -1)
		soon_idle_errno = errno;
	soon_idle_took = clock_now() - t0;
}

static void
idle_conn(void *arg)
{
	(void)arg;
	if (io_wait_idle(sp[0], -1) == -1)
		idle_errno = errno;
}

static void
busy_conn(void *arg)
{
	char c;
	int64_t t0 = clock_now();

	(void)arg;
	if (io_read(sp[1], &c, 1, -1) == -1)
		busy_errno = errno;
	busy_took = clock_now() - t0;
}

static void
sleeper(void *arg)
{
	(void)arg;
	if (io_sleep(-1) == -1)
		sleep_errno = errno;
}

/* Drain cancels idle waits at once and the rest at the timeout. */
static void
test_drain(void)
{
	L = loop_create();
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp);
	idle_errno = busy_errno = sleep_errno = soon_idle_errno = 0;
	loop_spawn(L, idle_conn, NULL);
	loop_spawn(L, busy_conn, NULL);
	loop_spawn(L, sleeper, NULL);
	loop_spawn(L, soon_idle, NULL);
	CHECK(loop_live(L) == 4, "four coroutines parked");
	loop_drain(L, 100);
	loop_run(L);
	CHECK(idle_errno == ECANCELED, "idle wait cancelled by the drain");
	CHECK(soon_idle_errno == ECANCELED && soon_idle_took < LOOP_SOON_MS / 2,
	    "an idle re-read's wait too, at once (%lld ms)",
	    (long long)soon_idle_took);
	CHECK(busy_errno == ECANCELED && busy_took >= 90,
	    "busy wait cancelled only at the drain timeout (%lld ms)",
	    (long long)busy_took);
	CHECK(sleep_errno == ECANCELED && loop_live(L) == 0,
	    "loop_run returns when every coroutine has finished");
	io_close(sp[0]);
	io_close(sp[1]);
	loop_free(L);
}

/* Drain fd the way echo does: wait, read, until EOF or an error. */
static ssize_t
drain_to_end(int fd, int64_t deadline, size_t *total)
{
	char buf[4096];
	ssize_t n;

	*total = 0;
	for (;;) {
		if (io_wait_idle(fd, deadline) == -1)
			return (-1);
		n = io_read(fd, buf, sizeof(buf), 0);
		if (n == -1 && errno == ETIMEDOUT)
			continue;	/* stale readiness */
		if (n <= 0)
			return (n);
		*total += (size_t)n;
	}
}

/*
 * Data and FIN in one edge: a short read must not hide the EOF behind
 * it (the bug that left "printf x | nc -N" hanging).
 */
static void
t_data_then_fin(void *arg)
{
	size_t total;
	ssize_t r;

	(void)arg;
	io_write(sp[1], "abc", 3, -1);
	shutdown(sp[1], SHUT_WR);
	r = drain_to_end(sp[0], clock_now() + 2000, &total);
	CHECK(r == 0 && total == 3, "data and FIN in one edge: data, then EOF"
	    " (r=%zd, errno %d)", r, r == -1 ? errno : 0);
	loop_stop(L);
}

static struct sock_addr	lsa;
static int		lfd;

static void
client(void *arg)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	(void)arg;
	CHECK(io_connect(fd, &lsa, clock_now() + 2000) == 0, "io_connect");
	io_write(fd, "x", 1, -1);
	io_close(fd);
}

static int	turn_accept, turn_errno;

static void
accept_after_turn(void *arg)
{
	(void)arg;
	loop_spend(LOOP_SLICE);
	turn_accept = io_accept(lfd, NULL, clock_now() + 2000);
	turn_errno = errno;
	if (turn_accept >= 0)
		io_close(turn_accept);
}

static void
drain_now(void *arg)
{
	(void)arg;
	loop_drain(L, 5000);
}

static void
t_accept(void *arg)
{
	struct sock_addr peer;
	char c = 0;
	int fd;

	(void)arg;
	loop_spawn(L, client, NULL);
	fd = io_accept(lfd, &peer, clock_now() + 2000);
	CHECK(fd >= 0 && peer.ss.ss_family == AF_INET, "io_accept");
	CHECK(io_read(fd, &c, 1, clock_now() + 2000) == 1 && c == 'x',
	    "accepted connection carries data");
	io_close(fd);

	/* Errors of the connection being accepted: retry at once. */
	loop_spawn(L, client, NULL);
	accept_faults = 3;
	accept_errno = EPROTO;
	accept_calls = 0;
	fd = io_accept(lfd, &peer, clock_now() + 2000);
	CHECK(fd >= 0 && accept_calls == 4,
	    "accept retries EPROTO at once (%d calls)", accept_calls);
	io_close(fd);

	/*
	 * An accept that waits for its turn (its slice spent) when the drain
	 * begins is idle too: it stops, though a client is queued.
	 */
	loop_spawn(L, client, NULL);
	loop_spawn(L, accept_after_turn, NULL);
	loop_spawn(L, drain_now, NULL);
	io_sleep(clock_now() + 50);
	CHECK(turn_accept == -1 && turn_errno == ECANCELED,
	    "an accept waiting for its turn stops once draining (%d, errno %d)",
	    turn_accept, turn_errno);
	accept_faults = 1;
	accept_errno = EMFILE;
	CHECK(io_accept(lfd, &peer, clock_now() + 2000) == -1 && errno == EMFILE,
	    "accept returns EMFILE to its caller");
	accept_faults = 0;

	struct sock_addr refused = lsa;
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	io_close(lfd);
	CHECK(io_connect(cfd, &refused, clock_now() + 2000) == -1 &&
	    errno == ECONNREFUSED, "connect to a closed port: ECONNREFUSED");
	io_close(cfd);
	loop_stop(L);
}

/* Data then a reset before the first wait: the error still surfaces. */
static void
t_data_then_reset(void *arg)
{
	struct linger lg = { 1, 0 };
	size_t total;
	ssize_t r;
	int c = socket(AF_INET, SOCK_STREAM, 0), fd;

	(void)arg;
	connect(c, (struct sockaddr *)&lsa.ss, lsa.len);
	fd = io_accept(lfd, NULL, clock_now() + 2000);
	(void)!write(c, "abc", 3);
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c);
	r = drain_to_end(fd, clock_now() + 2000, &total);
	CHECK(r == -1 && errno == ECONNRESET,
	    "data and RST in one edge: the reset is seen, not a timeout "
	    "(errno %d)", errno);
	io_close(fd);
	loop_stop(L);
}

/* A reload retiring a listener: its turn comes first. */
static void
abort_in_turn(void *arg)
{
	(void)arg;
	loop_yield();		/* its turn, before the accept's */
	io_abort(lfd, ECANCELED);
}

static void
t_accept_aborted_in_turn(void *arg)
{
	int c = socket(AF_INET, SOCK_STREAM, 0), fd;

	(void)arg;
	/* A client waits in the backlog; the accept waits for its turn. */
	connect(c, (struct sockaddr *)&lsa.ss, lsa.len);
	loop_spawn(L, abort_in_turn, NULL);
	loop_spend(LOOP_SLICE);
	fd = io_accept(lfd, NULL, clock_now() + 2000);
	CHECK(fd == -1 && errno == ECANCELED, "a listener aborted while its "
	    "accept waited for its turn accepts no one (fd %d, errno %d)", fd, errno);
	if (fd >= 0)
		close(fd);
	close(c);
	io_close(lfd);	/* while its event's loop lives */
	loop_stop(L);
}

static void
test_accept_connect(void)
{
	const char *why;
	socklen_t len = sizeof(lsa.ss);

	sock_addr_parse("127.0.0.1:1", 11, &lsa, &why);
	((struct sockaddr_in *)&lsa.ss)->sin_port = 0;
	lfd = sock_listen(&lsa, 16, 0666, (gid_t)-1);
	getsockname(lfd, (struct sockaddr *)&lsa.ss, &len);
	run(t_data_then_reset);
	run(t_accept);
	/* t_accept closed it: a new one, on a port of its own. */
	((struct sockaddr_in *)&lsa.ss)->sin_port = 0;
	lfd = sock_listen(&lsa, 16, 0666, (gid_t)-1);
	len = sizeof(lsa.ss);
	getsockname(lfd, (struct sockaddr *)&lsa.ss, &len);
	run(t_accept_aborted_in_turn);
}

/* loop_post(): calls from another thread, in order, on the loop thread. */
#define POSTS	1000

static int		 posted_seen, posted_in_order = 1, posted_wrong_thread;
static pthread_t	 loop_thread;

static void
posted(void *arg)
{
	int i = (int)(intptr_t)arg;

	if (i != posted_seen)
		posted_in_order = 0;
	if (!pthread_equal(pthread_self(), loop_thread))
		posted_wrong_thread++;
	if (++posted_seen == POSTS)
		loop_stop(L);
}

static void *
poster(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < POSTS; i++)
		loop_post(L, posted, (void *)(intptr_t)i);
	return (NULL);
}

static void
test_post(void)
{
	pthread_t t;

	L = loop_create();
	loop_thread = pthread_self();
	pthread_create(&t, NULL, poster, NULL);
	/* The loop has nothing else to wait for: only the posts wake it. */
	loop_run(L);
	pthread_join(t, NULL);
	CHECK(posted_seen == POSTS && posted_in_order,
	    "%d calls posted from another thread ran, in order", posted_seen);
	CHECK(posted_wrong_thread == 0, "each on the loop's thread");
	/* Posted after the loop stopped: dropped by loop_free(). */
	loop_post(L, posted, (void *)(intptr_t)-1);
	loop_free(L);
	CHECK(posted_seen == POSTS, "a call never run is dropped at free");
}

/*
 * Sockets go by recv() and send(MSG_NOSIGNAL): no read() or write() on
 * them, and a write to a closed peer is EPIPE even with SIGPIPE's
 * default action (which would kill this test).  A pipe still works,
 * through read() and write().
 */
static void
t_socket_calls(void *arg)
{
	char buf[8];
	int p[2];

	(void)arg;
	vfs_calls_on_sp = 0;
	CHECK(io_write(sp[1], "abc", 3, -1) == 0 &&
	    io_read(sp[0], buf, sizeof(buf), -1) == 3 &&
	    io_write_some(sp[0], "de", 2, -1) == 2 &&
	    io_read_now(sp[1], buf, sizeof(buf)) == 2 &&
	    io_read_now(sp[1], buf, sizeof(buf)) == -1 && errno == EAGAIN,
	    "data moves both ways on a socket pair");
	CHECK(vfs_calls_on_sp == 0, "without read() or write() on a socket "
	    "(%d calls)", vfs_calls_on_sp);
	signal(SIGPIPE, SIG_DFL);
	close(sp[1]);
	CHECK(io_write_some(sp[0], "x", 1, -1) == -1 && errno == EPIPE,
	    "a write to a closed peer fails with EPIPE, no SIGPIPE");
	sp[1] = socket(AF_UNIX, SOCK_STREAM, 0);	/* for run()'s close */
	signal(SIGPIPE, SIG_IGN);

	if (pipe2(p, O_NONBLOCK) == -1)
		abort();
	memset(buf, 0, sizeof(buf));
	CHECK(io_write_some(p[1], "fgh", 3, -1) == 3 &&
	    io_read(p[0], buf, sizeof(buf), -1) == 3 &&
	    memcmp(buf, "fgh", 3) == 0 &&
	    io_read_now(p[0], buf, sizeof(buf)) == -1 && errno == EAGAIN,
	    "a pipe works too, through read() and write()");
	io_close(p[0]);
	io_close(p[1]);
	loop_stop(L);
}

/*
 * The re-read waits (LOOP_WAIT_SOON) share one timer, set for the oldest
 * (loop.c's soon list).  Three park SOON_GAP_MS apart, and the oldest is
 * woken as the second parks, leaving the timer set for a wait that is
 * gone: the other two must still time out at their own deadlines, oldest
 * first, and in passes of their own (a timer pushed back by every park
 * would time them out together, or never on a busy loop).
 */
#define SOON_WAITS	3
#define SOON_GAP_MS	50

static struct loop_wait	soon_w[SOON_WAITS];
static int64_t		soon_took[SOON_WAITS], soon_end[SOON_WAITS];
static int		soon_err[SOON_WAITS], soon_order[SOON_WAITS];
static int		soon_done;

static void
soon_waiter(void *arg)
{
	int i = (int)(intptr_t)arg;
	int64_t t0 = clock_now();

	soon_err[i] = loop_park(&soon_w[i], t0 + LOOP_SOON_MS,
	    LOOP_WAIT_SOON) == -1 ? errno : 0;
	soon_end[i] = clock_now();
	soon_took[i] = soon_end[i] - t0;
	soon_order[soon_done++] = i;
}

static void
t_soon(void *arg)
{
	int64_t give_up = clock_now() + 10 * LOOP_SOON_MS;
	int i;

	(void)arg;
	soon_done = 0;
	for (i = 0; i < SOON_WAITS; i++) {
		if (i > 0)
			io_sleep(clock_now() + SOON_GAP_MS);
		memset(&soon_w[i], 0, sizeof(soon_w[i]));
		loop_spawn(L, soon_waiter, (void *)(intptr_t)i);
		if (i == 1)
			loop_unpark(&soon_w[0], 0);
	}
	while (soon_done < SOON_WAITS && clock_now() < give_up)
		io_sleep(clock_now() + 5);
	CHECK(soon_done == SOON_WAITS && soon_err[0] == 0 &&
	    soon_order[0] == 0, "a re-read's wait woken early says 0");
	CHECK(soon_err[1] == ETIMEDOUT && soon_err[2] == ETIMEDOUT &&
	    soon_order[1] == 1 && soon_order[2] == 2,
	    "the others time out, oldest first");
	for (i = 1; i < SOON_WAITS; i++)
		CHECK(soon_took[i] >= LOOP_SOON_MS - 1 &&
		    soon_took[i] <= LOOP_SOON_MS + SLACK_MS,
		    "each at its own deadline (%lld ms)",
		    (long long)soon_took[i]);
	CHECK(soon_end[2] - soon_end[1] >= SOON_GAP_MS / 2,
	    "in passes of their own (%lld ms apart)",
	    (long long)(soon_end[2] - soon_end[1]));
	loop_stop(L);
}

int
main(void)
{
	coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT);
	test_post();
	test_stop_before_run();
	run(t_timeout);
	run(t_soon);
	run(t_wakeup);
	run(t_backpressure);
	run(t_busy_and_close);
	run(t_write_live);
	run(t_hibernate_live);
	looks = 0;
	hib_deadline = clock_now() + LIVE_MS;
	run(quiet);
	CHECK(quiet_looks == 1, "a live wait on an empty queue looks once "
	    "(%d looks)", quiet_looks);
	run(t_live_costs_nothing);
	run(t_abort_live);
	run(t_data_then_fin);
	run(t_yield_is_fair);
	run(t_reader_closes);
	run(t_socket_calls);
	test_drain();
	test_accept_connect();
	coro_fini();
	return (check_done());
}
