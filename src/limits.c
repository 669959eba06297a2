/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * limits.c: the startup budget check.
 *
 * Owns nothing; reads system limits, raises the fd limit, and tells the
 * operator, with the number needed, when the configuration asks for more
 * connections than the system allows.
 */
#include "limits.h"

#include <sys/resource.h>

#include <stdio.h>

#include "config.h"
#include "coro.h"
#include "log.h"

/* fds for listeners, logs, the signal pipe, libevent, spare. */
#define FD_RESERVE	64
/* Mappings for the binary, libraries, heap; a generous margin. */
#define MAP_RESERVE	1000
/* What a loop thread costs beyond its clients: see limits_check(). */
#define THREAD_FDS		5
#define THREAD_CORO_MAPS	2

static long long
count_lines(const char *path)
{
	long long n = 0;
	FILE *fp;
	int ch;

	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	while ((ch = getc(fp)) != EOF)
		n += (ch == '\n');
	fclose(fp);
	return (n);
}

static long long
read_number(const char *path)
{
	long long v = -1;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	if (fscanf(fp, "%lld", &v) != 1)
		v = -1;
	fclose(fp);
	return (v);
}

/* fds: what the settings named by what need. */
static void
check_nofile(long long fds, const char *what)
{
	long long need = fds + FD_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && (long long)rl.rlim_cur < need)
		log_warnx("open file limit is %llu but %s %lld: raise "
		    "LimitNOFILE= (or ulimit -n) to at least %lld",
		    (unsigned long long)rl.rlim_cur, what, need, need);
}

static void
check_map_count(long long coros)
{
	long long max, used, room;

	if (coro_guard_mode() != CORO_GUARD_MPROTECT)
		return;		/* guard markers need no extra mappings */
	max = read_number("/proc/sys/vm/max_map_count");
	used = count_lines("/proc/self/maps");
	if (max < 0 || used < 0)
		return;
	room = max - used - MAP_RESERVE;
	if (2 * coros > room)
		log_warnx("vm.max_map_count is %lld: guard pages leave room "
		    "for about %lld coroutines, max_connections asks for "
		    "%lld; set vm.max_map_count to at least %lld",
		    max, room / 2 > 0 ? room / 2 : 0, coros,
		    2 * coros + used + MAP_RESERVE);
}

void
limits_check(const struct config *cfg, int threads)
{
	const struct listen_conf *lc;
	long long per, need = 0, pipe_fds;
	int splice = 0;
	size_t i;

	/* A proxied connection has two fds and two coroutines. */
	for (i = 0; i < cfg->nlisteners; i++) {
		lc = &cfg->listeners[i];
		if (lc->datagram)
			continue;	/* one socket, no connections */
		per = lc->service == SERVICE_PROXY ? 2 : 1;
		need += per * lc->max_connections;
		if (lc->service == SERVICE_PROXY && lc->splice)
			splice = 1;
	}

	/*
	 * Each loop thread: epoll, libevent's signal pair, its inbox and
	 * pool eventfds, a listening socket per listener; a stack with its
	 * guard and an alternate signal stack (about two coroutines' worth
	 * of mappings).
	 */
	pipe_fds = splice ? 2 * cfg->max_pipes : 0;	/* a pipe: two */
	check_nofile(need + pipe_fds + (long long)threads *
	    (THREAD_FDS + (long long)cfg->nlisteners), pipe_fds > 0 ?
	    "max_connections and max_pipes need" : "max_connections needs");
	check_map_count(need + (long long)threads * THREAD_CORO_MAPS);
}
