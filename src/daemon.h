/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef DAEMON_H
#define DAEMON_H

#include <stddef.h>
#include <stdint.h>

/*
 * The daemon as a whole, as main.c runs it and reload.c changes it: the
 * configuration, the first loop thread's listeners, the other loop
 * threads, the worker pool, the signals and what systemd hears.  Main
 * thread only.
 */

struct config;
struct lag;
struct listener;
struct loop;
struct loop_timer;
struct pool;
struct reload;
struct shard;

#define DEFAULT_CONFIG	"/etc/aio-echod.conf"

struct options {
	const char	*path;		/* NULL: DEFAULT_CONFIG or built-in */
	int		 check;
	int		 verbose;
};

struct daemon {
	struct options	*opt;
	struct config	*cfg;
	struct loop	*loop;
	struct pool	*pool;
	struct listener	**listeners;	/* the first loop thread's */
	size_t		 nopen;
	struct shard	**shards;	/* the other loop threads */
	int		 nshards;	/* started */
	int		 nthreads;	/* loop threads in all */
	int		 joined;	/* every shard has ended */
	int64_t		 stopping;	/* clock_now() of the stop signal */
	int		 hurry;		/* a second stop signal came */
	int64_t		 watchdog_ms;	/* ping interval; 0: no watchdog */
	int64_t		 last_feed;	/* clock_now() of the last check */
	struct loop_timer *status_timer, *watchdog_timer;
	struct lag	*lag;		/* the first loop thread's sampler */
	int64_t		 next_status, next_watchdog;	/* while joining */
	int		 ready;	/* READY=1 was sent: reloads may run */
	int		 pool_stuck;	/* workers left behind at exit */
	struct reload	*reload;	/* a reload in progress, or NULL */
	int		 reload_queued;	/* SIGHUP during one */
	unsigned	 reloads;	/* done */
	char		 reload_error[256];	/* the last one's, or "" */
};

/*
 * daemon_load_config(opt):
 * The configuration: -f FILE, else DEFAULT_CONFIG, else (when it does
 * not exist) the copy of conf/aio-echod.conf built into the binary.
 * Problems are logged (config_problem() has the first).  Any thread:
 * reloads call it on a worker.
 */
struct config	*daemon_load_config(const struct options *);

/*
 * daemon_open(d):
 * With d->opt and d->cfg (held by d from now on) set and the rest zero:
 * check the system's limits, make the coroutines, the loop, the worker
 * pool and the other loop threads, take the signals, and open every
 * listener (on the sockets systemd passed where their names match).
 * Returns 0, or -1 after logging why; either way daemon_close() follows.
 */
int	daemon_open(struct daemon *);

/*
 * daemon_serve(d):
 * Start accepting on every loop thread, tell systemd READY=1, and run
 * until a stop signal has drained every loop thread (SIGHUP reloads,
 * SIGUSR1 reopens the access logs meanwhile).  Returns 0.
 */
int	daemon_serve(struct daemon *);

/*
 * daemon_close(d):
 * After daemon_open(), whatever it returned: end the loop threads if
 * they still run, close the listeners, give the access logs their time
 * to finish, stop the pool and free everything, each listener logging
 * its summary.
 */
void	daemon_close(struct daemon *);

/*
 * daemon_status(d, ready):
 * Bring systemd's STATUS= up to date now: listeners, threads, clients,
 * reloads, the last reload's error; with READY=1 if ready.
 */
void	daemon_status(struct daemon *, int);

#endif /* DAEMON_H */
