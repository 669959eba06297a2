/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loadgen: an echo load generator for the benchmarks (bench/run-all.sh).
 *
 *   loadgen -a ADDR [-c CONNS] [-d DEPTH] [-s SIZE] [-t THREADS]
 *           [-w WARMUP_S] [-D DURATION_S] [-p PID [-C COUNT_S]] [-P 1|2] [-H]
 *   loadgen -S PID
 *   loadgen -W PID [-o FILE] [--] COMMAND [ARG...]
 *
 * ADDR is HOST:PORT (numeric IPv4) or unix:PATH.  CONNS connections are
 * opened (blocking connects, one after the other, so a small accept
 * queue cannot drop SYNs), then split between THREADS threads, each with
 * its own epoll set.  Every connection keeps DEPTH messages of SIZE
 * bytes in flight: 1 is ping-pong, more is pipelining.  Each echoed
 * message is timed from the moment it was queued for writing to the
 * moment its last byte came back.
 *
 * The byte stream of a connection is a fixed pattern (byte i is i % 251),
 * so every byte that comes back is compared with what was sent, and at
 * the end, once sending has stopped, each connection must get back
 * exactly as many bytes as it sent.  Any difference is an error, and the
 * exit status is 1.
 *
 * -P 1 or -P 2: the server expects the PROXY protocol (bench/edge.sh):
 * each connection sends a v1 line or a v2 header naming its own
 * addresses right after connect, before any message.  The header is not
 * part of the byte stream that is compared and counted.
 *
 * The first WARMUP_S seconds are not counted.  With -p PID, the server's
 * CPU time over exactly the measured DURATION_S is counted too (utime +
 * stime of PID and all its descendants, plus cutime + cstime, which hold
 * the children that exited and were waited for, such as socat's
 * per-connection processes; from /proc/PID/stat; bench/srvstat.c).
 *
 * -C COUNT_S (with -p): then, after the measured seconds, the server's
 * system calls are counted while the messages sent in COUNT_S more
 * seconds are echoed, by the kernel's tracepoints (perf_event_open(2);
 * root only; every thread of PID and its descendants, and those they
 * create meanwhile): the data calls (read, write, readv, writev,
 * recvfrom, sendto, recvmsg, sendmsg; glibc's recv and send are recvfrom
 * and sendto) and all calls (raw_syscalls: epoll_wait and the rest too).
 * Not during the measured seconds, because counting is not free: each
 * counted call runs the counters (on the benchmark machine about 0.1 us
 * for any call, 0.3 us for a data call, some 10% of an echoed message's
 * CPU), which would skew the req/s and CPU figures; even a disabled
 * counter makes every system call on the machine take the kernel's
 * tracing path (about 0.1 us more a call).  So the count comes after
 * the timed seconds, and is exact at both ends: sending pauses until no
 * message is in flight, the counters are opened and enabled, sending
 * resumes for COUNT_S seconds and stops, and the counters are read once
 * every message sent since is back.  The counted window's own CPU per
 * message is printed too, to show the counters' cost.
 *
 * The result is one line of key=value pairs:
 *   conns=100 depth=1 size=64 secs=3.000 msgs=123456 rps=41152
 *   p50_us=.. p99_us=.. p999_us=.. srv_cpu_s=.. cpu_us_per_msg=..
 *   [count_secs=.. count_msgs=.. count_cpu_us_per_msg=.. data_calls=..
 *   all_calls=.. data_calls_per_msg=.. all_calls_per_msg=..] errors=0
 *
 * -S PID: print the server's counters now (cpu_s, rss_kb = the sum of
 * VmRSS, pss_kb = the sum of Pss, nproc, over PID and its descendants)
 * and exit; the scripts take deltas around other tools.
 *
 * -W PID [-o FILE] [--] COMMAND [ARG...] (window): count the server's CPU
 * time and system calls, as -C does, from just before COMMAND starts to
 * just after it exits (bench/run-all.sh wraps redis-benchmark and iperf3
 * in it, in a round of their own), then write one line to FILE (stdout
 * without -o):
 *   secs=.. srv_cpu_s=.. data_calls=.. all_calls=.. status=0
 * COMMAND's output is its own; the exit status is COMMAND's (128 + the
 * signal that killed it), and SIGTERM, SIGINT and SIGHUP are passed on to
 * it.
 *
 * -H (hold): send one message on every connection, wait for its echo,
 * print "ready conns=N" and then hold the connections open until killed
 * (the idle-memory benchmark measures the server meanwhile).
 *
 * Latencies go into a log-linear histogram (HDR-like): 64 sub-buckets
 * per power of two of nanoseconds, so any reported percentile is within
 * about 1.6% of the true value.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "proxyhdr.h"
#include "srvstat.h"

#define PATTERN_MOD 251
#define CHUNK 65536
#define MAX_DEPTH 1024
#define SUB_BITS 6
#define SUB (1 << SUB_BITS)
#define NBUCKETS (64 * SUB)

/*
 * Messages are timed in MEASURE.  In PAUSE and DRAIN no new one is sent;
 * the system calls of those sent in COUNT are counted, from a PAUSE in
 * which every message came back to a DRAIN in which every one did.
 */
enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_PAUSE, PHASE_COUNT, PHASE_DRAIN };

struct conn {
	int fd;
	int want_out;		/* EPOLLOUT is armed */
	uint64_t tx;		/* bytes written */
	uint64_t rx;		/* bytes read back */
	uint64_t queued;	/* bytes queued for writing (tx <= queued) */
	uint64_t ts[MAX_DEPTH];	/* queue times of messages in flight */
	unsigned head, n;	/* ring of ts */
};

struct worker {
	pthread_t th;
	int ep;
	struct conn *conns;
	int nconns;
	uint64_t msgs;		/* counted in the measured phase */
	uint64_t cmsgs;		/* sent while system calls are counted */
	atomic_int paused;	/* PAUSE, and nothing is in flight */
	uint64_t errors;
	uint64_t hist[NBUCKETS];
};

static const char *addr_arg;
static int nconns = 1, depth = 1, nthreads = 1, hold, proxy_v;
static size_t msg_size = 64;
static double warmup_s = 1, duration_s = 3;
static long server_pid;
static double count_s;
static atomic_int phase = PHASE_WARMUP;
static atomic_int stop_all;
static unsigned char pattern[CHUNK + PATTERN_MOD];

/* now_ns(): the monotonic clock, in ns. */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* bucket_of(v): the histogram bucket of a latency of v ns. */
static unsigned
bucket_of(uint64_t v)
{
	unsigned msb, b;

	if (v < SUB)
		return ((unsigned)v);
	msb = 63 - (unsigned)__builtin_clzll(v);
	b = (msb - SUB_BITS + 1) * SUB +
	    (unsigned)((v >> (msb - SUB_BITS)) & (SUB - 1));
	return (b < NBUCKETS ? b : NBUCKETS - 1);
}

/* The middle of a bucket's range, in ns. */
static double
bucket_value(unsigned b)
{
	unsigned shift;

	if (b < SUB)
		return (b);
	shift = b / SUB - 1;
	return ((double)((uint64_t)(SUB + b % SUB) << shift) +
	    (double)((uint64_t)1 << shift) / 2);
}

/* percentile(h, total, p): the p quantile (0-1) of h, in ns. */
static double
percentile(const uint64_t *h, uint64_t total, double p)
{
	uint64_t want, seen = 0;
	unsigned b;

	if (total == 0)
		return (0);
	want = (uint64_t)(p * (double)total);
	if (want >= total)
		want = total - 1;
	for (b = 0; b < NBUCKETS; b++) {
		seen += h[b];
		if (seen > want)
			return (bucket_value(b));
	}
	return (bucket_value(NBUCKETS - 1));
}

/* Write all of buf to the blocking fd: 0, or -1 with errno. */
static int
write_all(int fd, const unsigned char *buf, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = write(fd, buf, n)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += r;
		n -= (size_t)r;
	}
	return (0);
}

/*
 * open_conn(): one blocking connect to ADDR (and the PROXY header, with
 * -P), then non-blocking; the fd, or -1 with errno.
 */
static int
open_conn(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned char hdr[PROXYHDR_MAX];
	int fd, one = 1, n;

	if (parse_addr(addr_arg, &ss, &len) == -1)
		return (-1);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return (-1);
	}
	if (ss.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (proxy_v != 0 && ((n = proxyhdr_build(fd, proxy_v, hdr)) == -1 ||
	    write_all(fd, hdr, (size_t)n) == -1)) {
		close(fd);
		return (-1);
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* queue_msg(c, t): one more message of c to send, queued at t. */
static void
queue_msg(struct conn *c, uint64_t t)
{
	c->ts[(c->head + c->n) % MAX_DEPTH] = t;
	c->n++;
	c->queued += msg_size;
}

/* set_out(w, c, on): whether c waits for room to write. */
static void
set_out(struct worker *w, struct conn *c, int on)
{
	struct epoll_event ev;

	if (c->want_out == on)
		return;
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = on;
}

/* Write what is queued until done or the socket is full. */
static int
flush(struct worker *w, struct conn *c)
{
	while (c->tx < c->queued) {
		uint64_t left = c->queued - c->tx;
		size_t n = left > CHUNK ? CHUNK : (size_t)left;
		ssize_t r = write(c->fd, pattern + c->tx % PATTERN_MOD, n);

		if (r == -1) {
			if (errno == EAGAIN) {
				set_out(w, c, 1);
				return (0);
			}
			if (errno == EINTR)
				continue;
			return (-1);
		}
		c->tx += (uint64_t)r;
	}
	set_out(w, c, 0);
	return (0);
}

/*
 * on_readable(w, c, buf): read what came back on c, check it against the
 * pattern, time and count the messages it completes and queue as many
 * new ones; 0, or -1 with errno when the connection broke.
 */
static int
on_readable(struct worker *w, struct conn *c, unsigned char *buf)
{
	ssize_t r = read(c->fd, buf, CHUNK);
	uint64_t done, t;
	int ph;

	if (r == -1)
		return (errno == EAGAIN || errno == EINTR ? 0 : -1);
	if (r == 0 || c->rx + (uint64_t)r > c->tx ||
	    memcmp(buf, pattern + c->rx % PATTERN_MOD, (size_t)r) != 0) {
		errno = r == 0 ? ECONNRESET : EBADMSG;
		return (-1);
	}
	/* Messages completed by these bytes: one per msg_size boundary. */
	done = (c->rx + (uint64_t)r) / msg_size - c->rx / msg_size;
	c->rx += (uint64_t)r;
	if (done == 0)
		return (0);
	t = now_ns();
	ph = atomic_load_explicit(&phase, memory_order_relaxed);
	while (done-- > 0 && c->n > 0) {
		if (ph == PHASE_MEASURE) {
			w->hist[bucket_of(t - c->ts[c->head])]++;
			w->msgs++;
		}
		c->head = (c->head + 1) % MAX_DEPTH;
		c->n--;
		if (ph == PHASE_PAUSE || ph == PHASE_DRAIN || hold)
			continue;
		queue_msg(c, t);
		if (ph == PHASE_COUNT)
			w->cmsgs++;
	}
	return (flush(w, c));
}

/* in_flight(w): whether a message of w's connections is in flight. */
static int
in_flight(const struct worker *w)
{
	int i;

	for (i = 0; i < w->nconns; i++)
		if (w->conns[i].fd != -1 && w->conns[i].n > 0)
			return (1);
	return (0);
}

/*
 * resume(w): after a PAUSE, DEPTH new messages on each connection of w,
 * the first ones whose system calls are counted.
 */
static void
resume(struct worker *w)
{
	uint64_t t = now_ns();
	int i, k;

	for (i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		if (c->fd == -1)
			continue;
		for (k = 0; k < depth; k++)
			queue_msg(c, t);
		w->cmsgs += (uint64_t)depth;
		if (flush(w, c) == -1) {
			if (w->errors++ == 0)
				fprintf(stderr, "loadgen: connection: %s\n",
				    strerror(errno));
			close(c->fd);
			c->fd = -1;
		}
	}
	atomic_store(&w->paused, 0);
}

/*
 * run_worker(w): a thread's epoll loop over its connections, until
 * stopped, or until nothing is in flight once sending has stopped; in
 * a PAUSE, it says when nothing is in flight, and resumes in COUNT.
 */
static void *
run_worker(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	unsigned char *buf = malloc(CHUNK);
	int i, n, ph;

	for (;;) {
		n = epoll_wait(w->ep, evs, 256, atomic_load(&w->paused) ? 1 : 50);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->fd == -1)
				continue;
			if (((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
			    on_readable(w, c, buf) == -1) ||
			    ((evs[i].events & EPOLLOUT) && flush(w, c) == -1)) {
				if (w->errors++ == 0)
					fprintf(stderr, "loadgen: connection: %s\n",
					    strerror(errno));
				close(c->fd);
				c->fd = -1;
			}
		}
		if (atomic_load(&stop_all))
			break;
		ph = atomic_load(&phase);
		if (ph == PHASE_PAUSE && !atomic_load(&w->paused) && !in_flight(w))
			atomic_store(&w->paused, 1);
		else if (ph == PHASE_COUNT && atomic_load(&w->paused))
			resume(w);
		else if ((ph == PHASE_DRAIN || hold) && !in_flight(w))
			break;
	}
	free(buf);
	return (NULL);
}

/* sleep_s(s): sleep s seconds, signals or not. */
static void
sleep_s(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* usage(): the synopsis, and exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -a HOST:PORT|unix:PATH [-c conns] "
	    "[-d depth] [-s size] [-t threads] [-w warmup_s] [-D duration_s] "
	    "[-p server_pid [-C count_s]] [-P 1|2] [-H]\n"
	    "       loadgen -S server_pid\n"
	    "       loadgen -W server_pid [-o file] [--] command [arg...]\n");
	exit(2);
}

/*
 * snapshot(pid):
 * -S: the tree's CPU time and memory now, on stdout.
 */
static int
snapshot(long pid)
{
	uint64_t rss, pss;
	int nproc;
	double cpu = srvstat_cpu(pid);

	srvstat_mem(pid, &rss, &pss, &nproc);
	printf("cpu_s=%.2f rss_kb=%llu pss_kb=%llu nproc=%d\n", cpu,
	    (unsigned long long)rss, (unsigned long long)pss, nproc);
	return (0);
}

static volatile pid_t window_child;

/* A signal to -W goes on to its command, which then ends the window. */
static void
on_signal(int sig)
{
	if (window_child > 0)
		kill(window_child, sig);
}

/*
 * wait_command(argv):
 * Run argv and wait for it; its exit status, 128 + the signal that
 * killed it, or 127 if it could not be started.
 */
static int
wait_command(char **argv)
{
	struct sigaction sa;
	pid_t pid;
	int st;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "loadgen: fork: %s\n", strerror(errno));
		return (127);
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "loadgen: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	window_child = pid;
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return (127);
	window_child = 0;
	return (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/*
 * run_window(pid, out, argv):
 * -W: count what pid's tree spends while the command argv runs, and
 * write one line to the file out (stdout if NULL).  Returns the
 * command's status (as wait_command), or 1 if nothing could be counted.
 */
static int
run_window(long pid, const char *out, char **argv)
{
	struct srvstat *s;
	struct srvstat_window w;
	char err[512];
	uint64_t t0;
	double secs;
	FILE *f = stdout;
	int status;

	if ((s = srvstat_open(pid, err, sizeof(err))) == NULL) {
		fprintf(stderr, "loadgen: server %ld: %s\n", pid, err);
		return (1);
	}
	srvstat_start(s);
	t0 = now_ns();
	status = wait_command(argv);
	secs = (double)(now_ns() - t0) / 1e9;
	srvstat_stop(s, &w);
	srvstat_free(s);
	if (out != NULL && (f = fopen(out, "w")) == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", out, strerror(errno));
		return (1);
	}
	fprintf(f, "secs=%.3f srv_cpu_s=%.2f data_calls=%llu all_calls=%llu "
	    "status=%d\n", secs, w.cpu_s, (unsigned long long)w.data_calls,
	    (unsigned long long)w.all_calls, status);
	if (f != stdout)
		fclose(f);
	return (status);
}

/*
 * open_all(conns):
 * Connect every connection, one after the other; 0, or -1 after saying
 * which one failed.
 */
static int
open_all(struct conn *conns)
{
	int i;

	for (i = 0; i < nconns; i++) {
		if ((conns[i].fd = open_conn()) == -1) {
			fprintf(stderr, "loadgen: connect %s (connection %d): "
			    "%s\n", addr_arg, i + 1, strerror(errno));
			return (-1);
		}
	}
	return (0);
}

/*
 * start_workers(ws, conns):
 * Split the connections between the threads, queue DEPTH messages on
 * each and start the threads; 0, or -1 if a first write failed.
 */
static int
start_workers(struct worker *ws, struct conn *conns)
{
	uint64_t t0 = now_ns();
	int i, j, k;

	for (j = 0; j < nthreads; j++) {
		struct worker *w = &ws[j];

		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->conns = conns + (long)nconns * j / nthreads;
		w->nconns = (int)((long)nconns * (j + 1) / nthreads -
		    (long)nconns * j / nthreads);
		for (i = 0; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];
			struct epoll_event ev = { EPOLLIN, { .ptr = c } };

			epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev);
			for (k = 0; k < depth; k++)
				queue_msg(c, t0);
			if (flush(w, c) == -1) {
				fprintf(stderr, "loadgen: write: %s\n",
				    strerror(errno));
				return (-1);
			}
		}
		pthread_create(&w->th, NULL, run_worker, w);
	}
	return (0);
}

/*
 * hold_open(ws):
 * -H: once every connection has had its echo, say so and keep them
 * open until killed.
 */
static void
hold_open(struct worker *ws)
{
	uint64_t errors = 0;
	int j;

	for (j = 0; j < nthreads; j++) {
		pthread_join(ws[j].th, NULL);
		errors += ws[j].errors;
	}
	printf("ready conns=%d errors=%llu\n", nconns,
	    (unsigned long long)errors);
	fflush(stdout);
	for (;;)
		pause();
}

/*
 * measure(cpu_s):
 * Warm up, then time DURATION_S seconds of messages, with the server's
 * CPU seconds meanwhile in cpu_s (with -p); returns the measured
 * seconds.  Then PAUSE: no new message is sent.
 */
static double
measure(double *cpu_s)
{
	uint64_t t0, t1;
	double cpu0 = 0;

	*cpu_s = 0;
	sleep_s(warmup_s);
	if (server_pid > 0)
		cpu0 = srvstat_cpu(server_pid);
	t0 = now_ns();
	atomic_store(&phase, PHASE_MEASURE);
	sleep_s(duration_s);
	atomic_store(&phase, PHASE_PAUSE);
	t1 = now_ns();
	if (server_pid > 0)
		*cpu_s = srvstat_cpu(server_pid) - cpu0;
	return ((double)(t1 - t0) / 1e9);
}

/*
 * count_calls(ws, csecs):
 * -C: once no message is in flight (at most 5 s), open and enable the
 * server's system call counters and send messages again for COUNT_S
 * seconds (in csecs); then DRAIN.  Returns the counters, for the caller
 * to read once every message is back; exits if they cannot be had.
 */
static struct srvstat *
count_calls(struct worker *ws, double *csecs)
{
	struct srvstat *s;
	char err[512];
	uint64_t t0;
	int i, j;

	for (i = 0; i < 5000; i++) {
		for (j = 0; j < nthreads && atomic_load(&ws[j].paused); j++)
			;
		if (j == nthreads)
			break;
		sleep_s(0.001);
	}
	if ((s = srvstat_open(server_pid, err, sizeof(err))) == NULL) {
		fprintf(stderr, "loadgen: server %ld: %s\n", server_pid, err);
		exit(1);
	}
	srvstat_start(s);
	t0 = now_ns();
	atomic_store(&phase, PHASE_COUNT);
	sleep_s(count_s);
	atomic_store(&phase, PHASE_DRAIN);
	*csecs = (double)(now_ns() - t0) / 1e9;
	return (s);
}

/*
 * drain(ws, conns, hist, msgs):
 * Wait (at most 5 s) for every connection to get back all it sent, join
 * the threads and add up their counts; returns the errors.
 */
static uint64_t
drain(struct worker *ws, struct conn *conns, uint64_t *hist, uint64_t *msgs,
    uint64_t *cmsgs)
{
	uint64_t errors = 0;
	int i, j;

	for (i = 0; i < 1000; i++) {
		sleep_s(0.005);
		for (j = 0; j < nthreads; j++)
			if (pthread_tryjoin_np(ws[j].th, NULL) == 0)
				ws[j].th = 0;
		for (j = 0; j < nthreads && ws[j].th == 0; j++)
			;
		if (j == nthreads)
			break;
	}
	atomic_store(&stop_all, 1);
	for (j = 0; j < nthreads; j++) {
		if (ws[j].th != 0)
			pthread_join(ws[j].th, NULL);
		*msgs += ws[j].msgs;
		*cmsgs += ws[j].cmsgs;
		errors += ws[j].errors;
		for (i = 0; i < NBUCKETS; i++)
			hist[i] += ws[j].hist[i];
	}
	for (i = 0; i < nconns; i++)
		if (conns[i].fd != -1 && conns[i].rx != conns[i].tx) {
			if (errors++ == 0)
				fprintf(stderr, "loadgen: connection %d got "
				    "%llu of %llu bytes back\n", i + 1,
				    (unsigned long long)conns[i].rx,
				    (unsigned long long)conns[i].tx);
		}
	return (errors);
}

/* per(x, msgs): x per message, 0 without messages. */
static double
per(double x, uint64_t msgs)
{
	return (msgs ? x / (double)msgs : 0);
}

/*
 * print_counts(cw, csecs, cmsgs):
 * -C's part of the result line.
 */
static void
print_counts(const struct srvstat_window *cw, double csecs, uint64_t cmsgs)
{
	printf("count_secs=%.3f count_msgs=%llu count_cpu_us_per_msg=%.3f "
	    "data_calls=%llu all_calls=%llu data_calls_per_msg=%.3f "
	    "all_calls_per_msg=%.3f ", csecs, (unsigned long long)cmsgs,
	    per(cw->cpu_s * 1e6, cmsgs), (unsigned long long)cw->data_calls,
	    (unsigned long long)cw->all_calls, per((double)cw->data_calls,
	    cmsgs), per((double)cw->all_calls, cmsgs));
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	struct conn *conns;
	struct rlimit rl;
	struct srvstat *s;
	struct srvstat_window cw;
	uint64_t *hist, msgs = 0, cmsgs = 0, errors;
	const char *out = NULL;
	long window_pid = 0;
	double secs, csecs = 0, cpu_s;
	int ch, i;

	/* "+": options end at the first word that is none (-W's command). */
	while ((ch = getopt(argc, argv, "+a:c:d:s:t:w:D:p:C:P:HS:W:o:")) != -1) {
		switch (ch) {
		case 'a': addr_arg = optarg; break;
		case 'c': nconns = atoi(optarg); break;
		case 'd': depth = atoi(optarg); break;
		case 's': msg_size = (size_t)atol(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'w': warmup_s = atof(optarg); break;
		case 'D': duration_s = atof(optarg); break;
		case 'p': server_pid = atol(optarg); break;
		case 'C': count_s = atof(optarg); break;
		case 'P': proxy_v = atoi(optarg); break;
		case 'H': hold = 1; break;
		case 'S': return (snapshot(atol(optarg)));
		case 'W': window_pid = atol(optarg); break;
		case 'o': out = optarg; break;
		default: usage();
		}
	}
	if (window_pid > 0) {
		if (optind == argc)
			usage();
		return (run_window(window_pid, out, argv + optind));
	}
	if (addr_arg == NULL || nconns < 1 || depth < 1 || depth > MAX_DEPTH ||
	    msg_size < 1 || nthreads < 1 || nthreads > nconns ||
	    (proxy_v != 0 && proxy_v != 1 && proxy_v != 2) || count_s < 0 ||
	    (count_s > 0 && server_pid <= 0))
		usage();
	if (hold)
		depth = 1;
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < (int)sizeof(pattern); i++)
		pattern[i] = (unsigned char)(i % PATTERN_MOD);

	conns = calloc((size_t)nconns, sizeof(*conns));
	ws = calloc((size_t)nthreads, sizeof(*ws));
	hist = calloc(NBUCKETS, sizeof(*hist));
	if (conns == NULL || ws == NULL || hist == NULL ||
	    open_all(conns) == -1 || start_workers(ws, conns) == -1)
		return (1);
	if (hold)
		hold_open(ws);
	secs = measure(&cpu_s);
	s = NULL;
	if (count_s > 0)
		s = count_calls(ws, &csecs);
	else
		atomic_store(&phase, PHASE_DRAIN);
	errors = drain(ws, conns, hist, &msgs, &cmsgs);
	memset(&cw, 0, sizeof(cw));
	if (s != NULL)
		srvstat_stop(s, &cw);
	srvstat_free(s);
	printf("conns=%d depth=%d size=%zu secs=%.3f msgs=%llu rps=%.0f "
	    "p50_us=%.1f p99_us=%.1f p999_us=%.1f srv_cpu_s=%.2f "
	    "cpu_us_per_msg=%.3f ", nconns, depth, msg_size, secs,
	    (unsigned long long)msgs, (double)msgs / secs,
	    percentile(hist, msgs, 0.50) / 1e3,
	    percentile(hist, msgs, 0.99) / 1e3,
	    percentile(hist, msgs, 0.999) / 1e3, cpu_s, per(cpu_s * 1e6, msgs));
	if (count_s > 0)
		print_counts(&cw, csecs, cmsgs);
	printf("errors=%llu\n", (unsigned long long)errors);
	return (errors ? 1 : 0);
}
