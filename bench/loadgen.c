/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loadgen: an echo load generator for the benchmarks (bench/run-all.sh).
 *
 *   loadgen -a ADDR [-c CONNS] [-d DEPTH] [-s SIZE] [-t THREADS]
 *           [-w WARMUP_S] [-D DURATION_S] [-p PID] [-P 1|2] [-H]
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
 * CPU time (utime + stime of PID and all its descendants, plus cutime +
 * cstime, which hold the children that exited and were waited for, such
 * as socat's per-connection processes; from /proc/PID/stat) and its read and write system calls (syscr + syscw
 * from /proc/PID/io) are read at the start and at the end of the
 * measured DURATION_S, so the deltas cover exactly the counted messages.
 *
 * The result is one line of key=value pairs:
 *   conns=100 depth=1 size=64 secs=3.000 msgs=123456 rps=41152
 *   p50_us=.. p99_us=.. p999_us=.. srv_cpu_s=.. cpu_us_per_msg=..
 *   sys_per_msg=.. errors=0
 *
 * -S PID: print the server's counters now (cpu_s, sys, rss_kb = the sum
 * of VmRSS, pss_kb = the sum of Pss, nproc, over PID and its
 * descendants) and exit; the scripts take deltas around other tools.
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

#include <arpa/inet.h>
#include <dirent.h>
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

#define PATTERN_MOD 251
#define CHUNK 65536
#define MAX_DEPTH 1024
#define SUB_BITS 6
#define SUB (1 << SUB_BITS)
#define NBUCKETS (64 * SUB)

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_DRAIN };

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
	uint64_t errors;
	uint64_t hist[NBUCKETS];
};

static const char *addr_arg;
static int nconns = 1, depth = 1, nthreads = 1, hold, proxy_v;
static size_t msg_size = 64;
static double warmup_s = 1, duration_s = 3;
static long server_pid;
static atomic_int phase = PHASE_WARMUP;
static atomic_int stop_all;
static unsigned char pattern[CHUNK + PATTERN_MOD];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

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

static void
queue_msg(struct conn *c, uint64_t t)
{
	c->ts[(c->head + c->n) % MAX_DEPTH] = t;
	c->n++;
	c->queued += msg_size;
}

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
		if (ph != PHASE_DRAIN && !hold)
			queue_msg(c, t);
	}
	return (flush(w, c));
}

static void *
run_worker(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	unsigned char *buf = malloc(CHUNK);
	int i, n, inflight;

	for (;;) {
		n = epoll_wait(w->ep, evs, 256, 50);
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
		if (atomic_load(&phase) == PHASE_DRAIN || hold) {
			inflight = 0;
			for (i = 0; i < w->nconns; i++)
				if (w->conns[i].fd != -1 && w->conns[i].n > 0)
					inflight = 1;
			if (!inflight)
				break;
		}
	}
	free(buf);
	return (NULL);
}

/*
 * Sum utime+stime (as seconds) and syscr+syscw over root and its
 * descendants; with mem, also VmRSS and Pss in KiB and the process count.
 */
static uint64_t mem_rss_kb, mem_pss_kb;
static int mem_nproc;

static uint64_t
proc_field_kb(long pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0) {
			sscanf(line + klen, " %llu", &v);
			break;
		}
	fclose(f);
	return (v);
}

static void
server_stats(long root, double *cpu_s, uint64_t *sys, int mem)
{
	static long ppid_of[1 << 22];
	long pids[65536];
	int npids = 0, i, grew;
	DIR *d;
	struct dirent *de;
	char path[64], line[1024];
	FILE *f;

	*cpu_s = 0;
	*sys = 0;
	mem_rss_kb = mem_pss_kb = 0;
	mem_nproc = 0;
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		long pid = atol(de->d_name), ppid;
		char *p;

		if (pid <= 0 || pid >= (1 << 22) || npids == 65536)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL &&
		    (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 2, "%*c %ld", &ppid) == 1) {
			ppid_of[pid] = ppid;
			pids[npids++] = pid;
		}
		fclose(f);
	}
	closedir(d);
	/* Mark the tree: ppid_of[x] = -1 for members. */
	ppid_of[root] = -1;
	do {
		grew = 0;
		for (i = 0; i < npids; i++) {
			long p = ppid_of[pids[i]];

			if (p > 0 && p < (1 << 22) && ppid_of[p] == -1) {
				ppid_of[pids[i]] = -1;
				grew = 1;
			}
		}
	} while (grew);
	for (i = 0; i < npids; i++) {
		unsigned long ut, st;
		long cut, cst;
		unsigned long long v;
		char *p;

		if (ppid_of[pids[i]] != -1 && pids[i] != root)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pids[i]);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(line, sizeof(line), f) != NULL &&
			    (p = strrchr(line, ')')) != NULL &&
			    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
			    "%*u %*u %lu %lu %ld %ld", &ut, &st, &cut, &cst) == 4)
				*cpu_s += (double)(ut + st + (unsigned long)cut +
				    (unsigned long)cst) /
				    (double)sysconf(_SC_CLK_TCK);
			fclose(f);
		}
		if (mem) {
			mem_rss_kb += proc_field_kb(pids[i], "status", "VmRSS:");
			mem_pss_kb += proc_field_kb(pids[i], "smaps_rollup",
			    "Pss:");
			mem_nproc++;
		}
		snprintf(path, sizeof(path), "/proc/%ld/io", pids[i]);
		if ((f = fopen(path, "r")) != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				if (sscanf(line, "syscr: %llu", &v) == 1 ||
				    sscanf(line, "syscw: %llu", &v) == 1)
					*sys += v;
			fclose(f);
		}
	}
	for (i = 0; i < npids; i++)
		ppid_of[pids[i]] = 0;
	ppid_of[root] = 0;
}

static void
sleep_s(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -a HOST:PORT|unix:PATH [-c conns] "
	    "[-d depth] [-s size] [-t threads] [-w warmup_s] [-D duration_s] "
	    "[-p server_pid] [-P 1|2] [-H]\n       loadgen -S server_pid\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	struct conn *conns;
	struct rlimit rl;
	uint64_t *hist, msgs = 0, errors = 0, sys0 = 0, sys1 = 0;
	double cpu0 = 0, cpu1 = 0, secs;
	uint64_t t0, t1;
	int ch, i, j;

	while ((ch = getopt(argc, argv, "a:c:d:s:t:w:D:p:P:HS:")) != -1) {
		switch (ch) {
		case 'a': addr_arg = optarg; break;
		case 'c': nconns = atoi(optarg); break;
		case 'd': depth = atoi(optarg); break;
		case 's': msg_size = (size_t)atol(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'w': warmup_s = atof(optarg); break;
		case 'D': duration_s = atof(optarg); break;
		case 'p': server_pid = atol(optarg); break;
		case 'P': proxy_v = atoi(optarg); break;
		case 'H': hold = 1; break;
		case 'S':
			server_stats(atol(optarg), &cpu0, &sys0, 1);
			printf("cpu_s=%.2f sys=%llu rss_kb=%llu pss_kb=%llu "
			    "nproc=%d\n", cpu0, (unsigned long long)sys0,
			    (unsigned long long)mem_rss_kb,
			    (unsigned long long)mem_pss_kb, mem_nproc);
			return (0);
		default: usage();
		}
	}
	if (addr_arg == NULL || nconns < 1 || depth < 1 || depth > MAX_DEPTH ||
	    msg_size < 1 || nthreads < 1 || nthreads > nconns ||
	    (proxy_v != 0 && proxy_v != 1 && proxy_v != 2))
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
	if (conns == NULL || ws == NULL)
		return (1);
	for (i = 0; i < nconns; i++) {
		if ((conns[i].fd = open_conn()) == -1) {
			fprintf(stderr, "loadgen: connect %s (connection %d): "
			    "%s\n", addr_arg, i + 1, strerror(errno));
			return (1);
		}
	}
	t0 = now_ns();
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
			for (int k = 0; k < depth; k++)
				queue_msg(c, t0);
			if (flush(w, c) == -1) {
				fprintf(stderr, "loadgen: write: %s\n",
				    strerror(errno));
				return (1);
			}
		}
		pthread_create(&w->th, NULL, run_worker, w);
	}

	if (hold) {
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

	sleep_s(warmup_s);
	if (server_pid > 0)
		server_stats(server_pid, &cpu0, &sys0, 0);
	t0 = now_ns();
	atomic_store(&phase, PHASE_MEASURE);
	sleep_s(duration_s);
	atomic_store(&phase, PHASE_DRAIN);
	t1 = now_ns();
	if (server_pid > 0)
		server_stats(server_pid, &cpu1, &sys1, 0);
	/* Drain: every connection must get back all it sent, within 5 s. */
	for (i = 0; i < 100; i++) {
		sleep_s(0.05);
		for (j = 0; j < nthreads; j++)
			if (pthread_tryjoin_np(ws[j].th, NULL) == 0)
				ws[j].th = 0;
		for (j = 0; j < nthreads && ws[j].th == 0; j++)
			;
		if (j == nthreads)
			break;
	}
	atomic_store(&stop_all, 1);
	hist = calloc(NBUCKETS, sizeof(*hist));
	for (j = 0; j < nthreads; j++) {
		if (ws[j].th != 0)
			pthread_join(ws[j].th, NULL);
		msgs += ws[j].msgs;
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
	secs = (double)(t1 - t0) / 1e9;
	printf("conns=%d depth=%d size=%zu secs=%.3f msgs=%llu rps=%.0f "
	    "p50_us=%.1f p99_us=%.1f p999_us=%.1f srv_cpu_s=%.2f "
	    "cpu_us_per_msg=%.3f sys_per_msg=%.3f errors=%llu\n",
	    nconns, depth, msg_size, secs, (unsigned long long)msgs,
	    (double)msgs / secs, percentile(hist, msgs, 0.50) / 1e3,
	    percentile(hist, msgs, 0.99) / 1e3,
	    percentile(hist, msgs, 0.999) / 1e3, cpu1 - cpu0,
	    msgs ? (cpu1 - cpu0) * 1e6 / (double)msgs : 0,
	    msgs ? (double)(sys1 - sys0) / (double)msgs : 0,
	    (unsigned long long)errors);
	return (errors ? 1 : 0);
}
