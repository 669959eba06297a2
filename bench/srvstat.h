/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef BENCH_SRVSTAT_H
#define BENCH_SRVSTAT_H

/*
 * What a server under benchmark costs, over its whole process tree (the
 * process and its descendants, with all their threads): CPU time and
 * memory from /proc, and its system calls counted by the kernel's
 * tracepoints (perf_event_open(2)) over a window.  Used by bench/loadgen
 * and bench/connrate.  Root only (tracepoint counters on other users'
 * tasks).
 */
#include <stddef.h>
#include <stdint.h>

struct srvstat;

/* What a window cost the server. */
struct srvstat_window {
	double		cpu_s;		/* utime+stime, reaped children too */
	uint64_t	data_calls;	/* read write readv writev recvfrom
					   sendto recvmsg sendmsg */
	uint64_t	all_calls;	/* every system call */
};

/*
 * srvstat_cpu(root):
 * CPU seconds (utime + stime + cutime + cstime) of root and its
 * descendants now; cutime and cstime hold children that exited and were
 * waited for, such as socat's per-connection processes.
 */
double	srvstat_cpu(long);

/*
 * srvstat_mem(root, rss_kb, pss_kb, nproc):
 * The sums of VmRSS and Pss (KiB) over root and its descendants now, and
 * how many processes that is.
 */
void	srvstat_mem(long, uint64_t *, uint64_t *, int *);

/*
 * srvstat_open(root, err, errlen):
 * Open disabled system call counters on every thread of root and its
 * descendants, each inherited by what that thread creates later.
 * Returns them, or NULL with a message in err.  While they exist, even
 * disabled, every system call on the machine is slower: time nothing
 * then.
 */
struct srvstat *srvstat_open(long, char *, size_t);

/*
 * srvstat_start(s):
 * Start the window: note the tree's CPU time, enable the counters and
 * note their values.
 */
void	srvstat_start(struct srvstat *);

/*
 * srvstat_stop(s, w):
 * End the window: fill w with what the tree spent since srvstat_start,
 * then disable the counters.
 */
void	srvstat_stop(struct srvstat *, struct srvstat_window *);

/*
 * srvstat_free(s):
 * Close the counters.  NULL is a no-op.
 */
void	srvstat_free(struct srvstat *);

#endif /* BENCH_SRVSTAT_H */
