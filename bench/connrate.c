/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connrate: new connections per second against an echo server, and how
 * long each takes to be served (bench/threads.sh, bench/edge.sh).
 *
 *   connrate -a HOST:PORT [-t THREADS] [-w WARMUP_S] [-D DURATION_S]
 *            [-P 1|2] [-p PID [-C COUNT_S]]
 *
 * Each of THREADS threads repeats, with blocking calls: connect, send one
 * byte, wait for its echo, close with a reset (SO_LINGER 0, so that no
 * TIME_WAIT is left to use up the loopback's ports).  The time from
 * before connect() to the echo is the latency of accepting and serving
 * a new client.  A call that fails, or an echo that has not come back
 * within 2 s, is counted as an error (and makes the exit status 1).
 *
 * With -P 1 or -P 2 (a server that expects the PROXY protocol,
 * bench/edge.sh), a v1 line or a v2 header naming the connection's own
 * addresses (getsockname, getpeername) goes before the byte, in the same
 * write, as a balancer that has the client's first bytes sends them.
 *
 * With -p PID, the server's CPU time over the counted DURATION_S is
 * counted as bench/loadgen -p does (PID and its descendants, those that
 * exited too; bench/srvstat.c), and given per counted connection.  With
 * -C COUNT_S as well, the server's system calls are then counted, as
 * bench/loadgen -C does (not while timing: counters slow system calls),
 * for the connections begun in COUNT_S more seconds: the threads stop
 * after the connection at hand, the counters are opened and enabled,
 * the threads go on for COUNT_S seconds, and the counters are read once
 * each has finished the connection at hand.  The threads and processes
 * the server creates meanwhile (socat forks one per connection) are
 * counted too.
 *
 * The result is one line:
 *   conns=12345 secs=3.000 cps=4115 p50_us=.. p99_us=.. p999_us=..
 *   srv_cpu_s=.. cpu_us_per_conn=.. [count_secs=.. count_conns=..
 *   count_cpu_us_per_conn=.. data_calls=.. all_calls=..
 *   data_calls_per_conn=.. all_calls_per_conn=..] errors=0
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxyhdr.h"
#include "srvstat.h"

#define SAMPLES_MAX	(4u << 20)	/* per thread */

struct worker {
	pthread_t	 thread;
	uint32_t	*us;		/* latencies of the counted ones */
	size_t		 n;
	size_t		 cn;		/* made while calls are counted */
	uint64_t	 errors;
	atomic_int	 paused;	/* idle in GAP */
};

static struct sockaddr_in	 addr;
/*
 * Connections are timed in COUNTED.  In GAP the threads stop (after the
 * connection at hand) while the counters are opened; the calls of the
 * connections begun in CALLS are counted, up to the end of the last.
 */
enum { WARMUP, COUNTED, GAP, CALLS, OVER };
static atomic_int		 phase;
static int			 proxy_v;	/* -P: 0, 1 or 2 */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* One new client: 0, or -1 if anything failed. */
static int
one(void)
{
	struct linger lg = { 1, 0 };
	struct timeval tv = { 2, 0 };	/* a lost echo is an error, not a hang */
	unsigned char out[PROXYHDR_MAX + 1];
	char b;
	int fd, n = 0, r = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    (proxy_v == 0 || (n = proxyhdr_build(fd, proxy_v, out)) != -1)) {
		out[n] = 'x';
		if (write(fd, out, (size_t)n + 1) == n + 1 &&
		    read(fd, &b, 1) == 1 && b == 'x')
			r = 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	return (r);
}

/*
 * worker_main(w): new clients one after the other until the end, timing
 * and counting those of the counted phase.
 */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	int64_t t0;
	int p;

	while ((p = atomic_load(&phase)) < OVER) {
		if (p == GAP) {
			atomic_store(&w->paused, 1);
			usleep(200);
			continue;
		}
		t0 = now_ns();
		if (one() == -1) {
			if (p == COUNTED || p == CALLS)
				w->errors++;
			continue;
		}
		if (p == CALLS)
			w->cn++;
		else if (p == COUNTED && atomic_load(&phase) == COUNTED &&
		    w->n < SAMPLES_MAX)
			w->us[w->n++] = (uint32_t)((now_ns() - t0) / 1000);
	}
	return (NULL);
}

/* cmp_u32(a, b): qsort's order of two latencies. */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * per(x, n): x per counted connection, 0 without any.
 */
static double
per(double x, size_t n)
{
	return (n ? x / (double)n : 0);
}

/*
 * print_counts(cw, csecs, cn):
 * -C's part of the result line.
 */
static void
print_counts(const struct srvstat_window *cw, double csecs, size_t cn)
{
	printf("count_secs=%.3f count_conns=%zu count_cpu_us_per_conn=%.3f "
	    "data_calls=%llu all_calls=%llu data_calls_per_conn=%.3f "
	    "all_calls_per_conn=%.3f ", csecs, cn, per(cw->cpu_s * 1e6, cn),
	    (unsigned long long)cw->data_calls,
	    (unsigned long long)cw->all_calls,
	    per((double)cw->data_calls, cn), per((double)cw->all_calls, cn));
}

/*
 * report(ws, nthreads, duration, cpu_s, cw, csecs):
 * Print the result line from the joined threads (with -C's counts when
 * csecs > 0); returns the errors.
 */
static uint64_t
report(struct worker *ws, int nthreads, double duration, double cpu_s,
    const struct srvstat_window *cw, double csecs)
{
	uint32_t *all;
	uint64_t errors = 0;
	size_t total = 0, cn = 0, k;
	int i;

	for (i = 0; i < nthreads; i++) {
		total += ws[i].n;
		cn += ws[i].cn;
		errors += ws[i].errors;
	}
	if ((all = malloc((total + 1) * sizeof(*all))) == NULL)
		return (1);
	for (i = 0, k = 0; i < nthreads; i++) {
		memcpy(all + k, ws[i].us, ws[i].n * sizeof(*all));
		k += ws[i].n;
	}
	qsort(all, total, sizeof(*all), cmp_u32);
	printf("conns=%zu secs=%.3f cps=%.0f p50_us=%u p99_us=%u p999_us=%u "
	    "srv_cpu_s=%.2f cpu_us_per_conn=%.3f ", total, duration,
	    (double)total / duration, total ? all[total / 2] : 0,
	    total ? all[total * 99 / 100] : 0,
	    total ? all[total * 999 / 1000] : 0, cpu_s,
	    per(cpu_s * 1e6, total));
	if (csecs > 0)
		print_counts(cw, csecs, cn);
	printf("errors=%llu\n", (unsigned long long)errors);
	free(all);
	return (errors);
}

/*
 * count_calls(ws, nthreads, server_pid, count_s, csecs):
 * -C: once every thread has stopped (at most 3 s), open and enable the
 * server's system call counters and let the threads go on for count_s
 * seconds (in csecs), then stop them.  Returns the counters, for the
 * caller to read once the threads are joined, or NULL after saying why
 * there are none.
 */
static struct srvstat *
count_calls(struct worker *ws, int nthreads, long server_pid, double count_s,
    double *csecs)
{
	struct srvstat *s;
	char err[512];
	int64_t t0;
	int i, j;

	for (i = 0; i < 3000; i++) {
		for (j = 0; j < nthreads && atomic_load(&ws[j].paused); j++)
			;
		if (j == nthreads)
			break;
		usleep(1000);
	}
	if ((s = srvstat_open(server_pid, err, sizeof(err))) == NULL) {
		fprintf(stderr, "connrate: server %ld: %s\n", server_pid, err);
		return (NULL);
	}
	srvstat_start(s);
	t0 = now_ns();
	atomic_store(&phase, CALLS);
	usleep((useconds_t)(count_s * 1e6));
	atomic_store(&phase, OVER);
	*csecs = (double)(now_ns() - t0) / 1e9;
	return (s);
}

int
main(int argc, char **argv)
{
	const char *a = NULL;
	double warmup = 1, duration = 3, count_s = 0, csecs = 0, cpu_s = 0;
	struct worker *ws;
	struct srvstat *s = NULL;
	struct srvstat_window cw;
	char host[64], *colon;
	long server_pid = 0;
	int ch, i, nthreads = 1;

	while ((ch = getopt(argc, argv, "a:t:w:D:P:p:C:")) != -1) {
		switch (ch) {
		case 'a': a = optarg; break;
		case 't': nthreads = atoi(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'D': duration = atof(optarg); break;
		case 'P': proxy_v = atoi(optarg); break;
		case 'p': server_pid = atol(optarg); break;
		case 'C': count_s = atof(optarg); break;
		default: goto usage;
		}
	}
	if (a == NULL || nthreads < 1 || proxy_v < 0 || proxy_v > 2 ||
	    count_s < 0 || (count_s > 0 && server_pid <= 0) ||
	    (colon = strrchr(a, ':')) == NULL ||
	    (size_t)(colon - a) >= sizeof(host))
		goto usage;
	memcpy(host, a, (size_t)(colon - a));
	host[colon - a] = '\0';
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		goto usage;

	if ((ws = calloc((size_t)nthreads, sizeof(*ws))) == NULL)
		return (1);
	for (i = 0; i < nthreads; i++) {
		if ((ws[i].us = malloc(SAMPLES_MAX * sizeof(uint32_t))) == NULL)
			return (1);
		pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
	}
	memset(&cw, 0, sizeof(cw));
	usleep((useconds_t)(warmup * 1e6));
	if (server_pid > 0)
		cpu_s = -srvstat_cpu(server_pid);
	atomic_store(&phase, COUNTED);
	usleep((useconds_t)(duration * 1e6));
	atomic_store(&phase, count_s > 0 ? GAP : OVER);
	if (server_pid > 0)
		cpu_s += srvstat_cpu(server_pid);
	if (count_s > 0 &&
	    (s = count_calls(ws, nthreads, server_pid, count_s, &csecs)) == NULL)
		return (1);
	for (i = 0; i < nthreads; i++)
		pthread_join(ws[i].thread, NULL);
	if (s != NULL)
		srvstat_stop(s, &cw);
	srvstat_free(s);
	return (report(ws, nthreads, duration, cpu_s, &cw, csecs) > 0);

usage:
	fprintf(stderr, "usage: connrate -a HOST:PORT [-t THREADS] "
	    "[-w WARMUP_S] [-D DURATION_S] [-P 1|2] [-p PID [-C COUNT_S]]\n");
	return (2);
}
