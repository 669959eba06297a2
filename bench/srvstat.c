/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * srvstat: the cost of a server under benchmark, over its process tree
 * (bench/loadgen, bench/connrate).  It owns the walk of /proc that finds
 * the tree, the CPU and memory sums, and the system call counters; the
 * tools decide when a window starts and ends and print the results.
 *
 * System calls are counted by tracepoint counters (perf_event_open(2),
 * PERF_TYPE_TRACEPOINT), not by /proc/PID/io: syscr and syscw count only
 * the calls that go through the VFS (read, write and their vector
 * forms), so recv(2) and send(2), which glibc makes recvfrom and sendto,
 * never showed.  One counter per thread and tracepoint: each of the
 * data calls' syscalls:sys_enter_X, and raw_syscalls:sys_enter for every
 * call (epoll_wait, accept, close...).  A counter opened on a thread sees
 * that thread only, so every thread of every process in the tree gets
 * its own; with inherit set, it also counts the threads and processes
 * that thread creates later (socat forks per connection), and reading it
 * adds theirs in, live or exited.  The counters are opened disabled and
 * enabled for the window, and the window's count is the difference of
 * two reads, so nothing before or after it is counted.
 *
 * Counting is not free, so callers time nothing while counters exist.
 * On the benchmark machine (2 vCPUs), where a system call itself takes
 * 1 to 1.5 us: while any counter on a system call tracepoint exists,
 * enabled or not, every system call on the machine takes the kernel's
 * tracing path, about 0.1 us more; an enabled counter adds about 0.1 us
 * to any call of its thread, 0.2 us to a data call (two tracepoints).
 * Some 10% of an echoed message's CPU in all.
 */
#include "srvstat.h"

#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <linux/perf_event.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PID_LIMIT	(1 << 22)	/* the kernel's largest pid_max */
#define NEV		9		/* counters per thread */
#define EV_ALL		(NEV - 1)	/* the index of raw_syscalls */

/* The data calls' tracepoints, then the one for every call. */
static const char *const events[NEV][2] = {
	{ "syscalls", "sys_enter_read" },
	{ "syscalls", "sys_enter_write" },
	{ "syscalls", "sys_enter_readv" },
	{ "syscalls", "sys_enter_writev" },
	{ "syscalls", "sys_enter_recvfrom" },
	{ "syscalls", "sys_enter_sendto" },
	{ "syscalls", "sys_enter_recvmsg" },
	{ "syscalls", "sys_enter_sendmsg" },
	{ "raw_syscalls", "sys_enter" },
};

/* Where tracefs may be: its own mount, or under debugfs. */
static const char *const tracefs_dirs[] = {
	"/sys/kernel/tracing",
	"/sys/kernel/debug/tracing",
};

struct srvstat {
	int		*fd;	/* NEV per thread, in the order of events */
	int		 nfd, cap;
	uint64_t	 data0, all0;
	double		 cpu0;
	long		 root;
};

/* The tree's members, found by tree_walk(): pids, and a flag per pid. */
static char	*member;
static long	*members;
static int	 nmembers;

/*
 * ppid_of(pid):
 * The parent of pid from /proc/PID/stat, or -1 if it is gone.  The
 * command name may hold spaces and parentheses, so the fields are read
 * after its last ')'.
 */
static long
ppid_of(long pid)
{
	char path[64], line[1024], *p;
	long ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL &&
	    sscanf(p + 2, "%*c %ld", &ppid) != 1)
		ppid = -1;
	fclose(f);
	return (ppid);
}

/*
 * list_procs(pids, ppids):
 * Every process now, with its parent; returns how many (at most
 * PID_LIMIT), or -1.  The arrays are the caller's to free.
 */
static int
list_procs(long **pids, long **ppids)
{
	DIR *d;
	struct dirent *de;
	long pid, ppid, *p, *pp;
	int n = 0, cap = 1024;

	*pids = malloc((size_t)cap * sizeof(long));
	*ppids = malloc((size_t)cap * sizeof(long));
	if (*pids == NULL || *ppids == NULL || (d = opendir("/proc")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		if ((pid = atol(de->d_name)) <= 0 || pid >= PID_LIMIT ||
		    (ppid = ppid_of(pid)) < 0)
			continue;
		if (n == cap) {
			p = realloc(*pids, (size_t)cap * 2 * sizeof(long));
			if (p != NULL)
				*pids = p;
			pp = realloc(*ppids, (size_t)cap * 2 * sizeof(long));
			if (pp != NULL)
				*ppids = pp;
			if (p == NULL || pp == NULL) {
				n = -1;
				break;
			}
			cap *= 2;
		}
		(*pids)[n] = pid;
		(*ppids)[n++] = ppid;
	}
	closedir(d);
	return (n);
}

/*
 * tree_walk(root):
 * Fill members with root and its descendants now (root alone if /proc
 * cannot be listed); returns how many.
 */
static int
tree_walk(long root)
{
	long *pids = NULL, *ppids = NULL;
	int n, i, grew;

	if (member == NULL && (member = calloc(PID_LIMIT, 1)) == NULL)
		return (0);
	for (i = 0; i < nmembers; i++)
		member[members[i]] = 0;
	free(members);
	nmembers = 0;
	if ((n = list_procs(&pids, &ppids)) < 0)
		n = 0;
	if ((members = malloc(((size_t)n + 1) * sizeof(long))) == NULL)
		goto done;
	if (root > 0 && root < PID_LIMIT) {
		member[root] = 1;
		members[nmembers++] = root;
	}
	/* Children join when their parent has; repeat until none does. */
	do {
		grew = 0;
		for (i = 0; i < n; i++)
			if (!member[pids[i]] && ppids[i] > 0 &&
			    ppids[i] < PID_LIMIT && member[ppids[i]]) {
				member[pids[i]] = 1;
				members[nmembers++] = pids[i];
				grew = 1;
			}
	} while (grew);
done:
	free(pids);
	free(ppids);
	return (nmembers);
}

/*
 * proc_cpu(pid):
 * utime + stime + cutime + cstime of one process, in seconds (0 if it
 * is gone).
 */
static double
proc_cpu(long pid)
{
	char path[64], line[1024], *p;
	unsigned long ut, st;
	long cut, cst;
	double s = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu %ld %ld", &ut, &st, &cut, &cst) == 4)
		s = (double)(ut + st + (unsigned long)cut + (unsigned long)cst) /
		    (double)sysconf(_SC_CLK_TCK);
	fclose(f);
	return (s);
}

double
srvstat_cpu(long root)
{
	double s = 0;
	int i, n;

	n = tree_walk(root);
	for (i = 0; i < n; i++)
		s += proc_cpu(members[i]);
	return (s);
}

/*
 * proc_field_kb(pid, file, key):
 * The number after key in /proc/PID/FILE (0 if there is none).
 */
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

void
srvstat_mem(long root, uint64_t *rss_kb, uint64_t *pss_kb, int *nproc)
{
	int i;

	*rss_kb = *pss_kb = 0;
	*nproc = tree_walk(root);
	for (i = 0; i < *nproc; i++) {
		*rss_kb += proc_field_kb(members[i], "status", "VmRSS:");
		*pss_kb += proc_field_kb(members[i], "smaps_rollup", "Pss:");
	}
}

/*
 * read_id(dir, i):
 * The tracepoint id of events[i] under the tracefs at dir, or -1.
 */
static long
read_id(const char *dir, int i)
{
	char path[256];
	long id = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/events/%s/%s/id", dir, events[i][0],
	    events[i][1]);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	if (fscanf(f, "%ld", &id) != 1)
		id = -1;
	fclose(f);
	return (id);
}

/*
 * find_ids(ids, err, errlen):
 * Every event's tracepoint id, from whichever tracefs has them; if none
 * does, tracefs is mounted at its usual place and tried again.  0, or
 * -1 with a message in err.
 */
static int
find_ids(long *ids, char *err, size_t errlen)
{
	size_t d;
	int i, tries;

	for (tries = 0; tries < 2; tries++) {
		for (d = 0; d < sizeof(tracefs_dirs) / sizeof(*tracefs_dirs);
		    d++) {
			for (i = 0; i < NEV && (ids[i] = read_id(tracefs_dirs[d],
			    i)) != -1; i++)
				;
			if (i == NEV)
				return (0);
		}
		if (tries == 0)
			mount("nodev", tracefs_dirs[0], "tracefs", 0, NULL);
	}
	snprintf(err, errlen, "no tracepoint %s:%s under %s or %s (tracefs: "
	    "mount -t tracefs nodev %s, as root, on a kernel with "
	    "CONFIG_FTRACE_SYSCALLS)", events[i < NEV ? i : 0][0],
	    events[i < NEV ? i : 0][1], tracefs_dirs[0], tracefs_dirs[1],
	    tracefs_dirs[0]);
	return (-1);
}

/*
 * open_thread(s, tid, ids):
 * One counter per event on thread tid, appended to s.  0, 1 if the
 * thread is gone (nothing appended), or -1 with errno.
 */
static int
open_thread(struct srvstat *s, long tid, const long *ids)
{
	struct perf_event_attr attr;
	int i, fd, cap, *grown;

	if (s->nfd + NEV > s->cap) {
		cap = s->cap ? 2 * s->cap : 64 * NEV;
		if ((grown = realloc(s->fd, (size_t)cap * sizeof(int))) == NULL)
			return (-1);
		s->fd = grown;
		s->cap = cap;
	}
	for (i = 0; i < NEV; i++) {
		memset(&attr, 0, sizeof(attr));
		attr.type = PERF_TYPE_TRACEPOINT;
		attr.size = sizeof(attr);
		attr.config = (uint64_t)ids[i];
		attr.disabled = 1;
		attr.inherit = 1;
		fd = (int)syscall(SYS_perf_event_open, &attr, (pid_t)tid, -1, -1,
		    PERF_FLAG_FD_CLOEXEC);
		if (fd == -1) {
			while (i-- > 0)
				close(s->fd[s->nfd + i]);
			return (errno == ESRCH ? 1 : -1);
		}
		s->fd[s->nfd + i] = fd;
	}
	s->nfd += NEV;
	return (0);
}

/*
 * open_process(s, pid, ids, err, errlen):
 * Counters on every thread of pid (/proc/PID/task).  0 (also when the
 * process is gone), or -1 with a message in err.
 */
static int
open_process(struct srvstat *s, long pid, const long *ids, char *err,
    size_t errlen)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	long tid;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	if ((d = opendir(path)) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		if ((tid = atol(de->d_name)) <= 0)
			continue;
		if (open_thread(s, tid, ids) == -1) {
			snprintf(err, errlen, "perf_event_open on thread %ld "
			    "of pid %ld: %s%s", tid, pid, strerror(errno),
			    errno == EACCES || errno == EPERM ?
			    " (run as root)" : errno == EMFILE ?
			    " (raise the open-file limit)" : "");
			r = -1;
			break;
		}
	}
	closedir(d);
	return (r);
}

struct srvstat *
srvstat_open(long root, char *err, size_t errlen)
{
	struct srvstat *s;
	struct rlimit rl;
	long ids[NEV];
	int i, n;

	if (find_ids(ids, err, errlen) == -1)
		return (NULL);
	/* NEV descriptors per thread: socat at 1,000 connections is 9,009. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return (NULL);
	}
	s->root = root;
	n = tree_walk(root);
	for (i = 0; i < n; i++)
		if (open_process(s, members[i], ids, err, errlen) == -1) {
			srvstat_free(s);
			return (NULL);
		}
	if (s->nfd == 0) {
		snprintf(err, errlen, "no process %ld", root);
		srvstat_free(s);
		return (NULL);
	}
	return (s);
}

/*
 * sum_counts(s, data, all):
 * The counters' values now, summed: the data calls' and every call's.
 * A counter whose thread exited still reads its final value.
 */
static void
sum_counts(const struct srvstat *s, uint64_t *data, uint64_t *all)
{
	uint64_t v;
	int i;

	*data = *all = 0;
	for (i = 0; i < s->nfd; i++) {
		if (read(s->fd[i], &v, sizeof(v)) != (ssize_t)sizeof(v))
			continue;
		if (i % NEV == EV_ALL)
			*all += v;
		else
			*data += v;
	}
}

void
srvstat_start(struct srvstat *s)
{
	int i;

	/* The slow walk of /proc first: the counts start last. */
	s->cpu0 = srvstat_cpu(s->root);
	for (i = 0; i < s->nfd; i++)
		ioctl(s->fd[i], PERF_EVENT_IOC_ENABLE, 0);
	sum_counts(s, &s->data0, &s->all0);
}

void
srvstat_stop(struct srvstat *s, struct srvstat_window *w)
{
	uint64_t data, all;
	int i;

	sum_counts(s, &data, &all);
	w->cpu_s = srvstat_cpu(s->root) - s->cpu0;
	w->data_calls = data - s->data0;
	w->all_calls = all - s->all0;
	for (i = 0; i < s->nfd; i++)
		ioctl(s->fd[i], PERF_EVENT_IOC_DISABLE, 0);
}

void
srvstat_free(struct srvstat *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nfd; i++)
		close(s->fd[i]);
	free(s->fd);
	free(s);
}
