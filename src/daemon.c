/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * daemon.c: the daemon's life, from a loaded configuration to the end.
 *
 * Owns the process-wide state (struct daemon): the first loop thread's
 * loop and listeners, the other loop threads (shard.c), the worker pool,
 * the signals, and systemd's view of it all (STATUS=, the watchdog).
 * daemon_open() checks the system's limits, starts the threads and binds
 * every listener (or takes systemd's sockets); daemon_serve() runs the
 * first loop until a stop signal has drained it and joins the others;
 * daemon_close() lets the access logs finish, stops the pool and frees
 * everything, each listener's last copy logging its summary.  Reloads (reload.c) change it in between.
 */
#include "daemon.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "buf.h"
#include "balance.h"
#include "clock.h"
#include "config.h"
#include "coro.h"
#include "hygiene.h"
#include "lag.h"
#include "limits.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "notify.h"
#include "pipes.h"
#include "pool.h"
#include "reload.h"
#include "shard.h"
#include "stats.h"

_Static_assert(CONFIG_STACK_MIN >= CORO_STACK_MIN &&
    CONFIG_STACK_MAX <= CORO_STACK_MAX,
    "coroutine_stack_size may be set outside what coro_init() accepts");

/*
 * At exit, how long access log lines may take to reach their files, and
 * the workers to be interrupted and joined: the whole of the pool's time
 * after the drain, whatever the workers are doing.
 */
#define LOG_FLUSH_MS	2000
/* The same after a second stop signal: the operator wants out now. */
#define LOG_HURRY_MS	500
/* Of that time, what is kept for interrupting and joining the workers. */
#define POOL_JOIN_MS	250
/* While waiting for the logs, how often to look for a second signal. */
#define SIGNAL_POLL_MS	50
/*
 * How long past shutdown_timeout (from the stop signal) the other loop
 * threads may take to finish their drain, before they are cancelled
 * (their own drain timers cancel them at shutdown_timeout: this is only
 * a backstop); and then to end, before they are left behind.
 */
#define SHARD_DRAIN_MS	1000
#define SHARD_CANCEL_MS	1000
/* How often systemd's STATUS= is brought up to date. */
#define STATUS_MS	1000

/*
 * Open lc's listener: on the socket systemd passed under lc's name, if
 * there is one (passed[k] is then set), else bound here.
 */
static struct listener *
open_listener(struct daemon *d, const struct listen_conf *lc, int npassed,
    char **names, int *passed)
{
	struct listener *l;
	int k, fd;

	/* The socket of lc's name that listens at lc's address, else the
	 * first of lc's name (an error below). */
	for (k = 0; k < npassed; k++)
		if (names != NULL && !passed[k] &&
		    strcmp(names[k], lc->name) == 0 &&
		    notify_socket_is(SD_LISTEN_FDS_START + k, &lc->addr.ss,
		    lc->addr.len, (int)lc->datagram))
			break;
	if (k == npassed)
		for (k = 0; k < npassed; k++)
			if (names != NULL && !passed[k] &&
			    strcmp(names[k], lc->name) == 0)
				break;
	if (k == npassed) {
		if ((l = listener_open(d->cfg, lc, d->loop, d->pool,
		    d->nthreads > 1)) == NULL)
			log_write(LOG_LEVEL_CRIT, 1, "listener %s: %s",
			    lc->name, lc->address);
		return (l);
	}
	fd = SD_LISTEN_FDS_START + k;
	passed[k] = 1;
	if (!notify_socket_is(fd, &lc->addr.ss, lc->addr.len,
	    (int)lc->datagram)) {
		log_write(LOG_LEVEL_CRIT, 0, "listener %s: the socket systemd "
		    "passed as \"%s\" is not a %s socket on %s",
		    lc->name, lc->name, lc->datagram ? "UDP" :
		    "listening stream", lc->address);
		return (NULL);
	}
	if ((l = listener_adopt(d->cfg, lc, fd, d->loop, d->pool)) == NULL)
		log_write(LOG_LEVEL_CRIT, 1, "listener %s: %s", lc->name,
		    lc->address);
	return (l);
}

/*
 * Open every listener, on the sockets systemd passed where their names
 * match (socket activation), else bound here.  A passed socket that no
 * listener takes is an error too: it would listen with nobody serving.
 * On the first failure, say which and undo.
 */
static int
open_listeners(struct daemon *d)
{
	char **names = NULL;
	int *passed = NULL, npassed, k, r = 0;

	d->listeners = calloc(d->cfg->nlisteners, sizeof(*d->listeners));
	if (d->listeners == NULL)
		fatal("calloc");
	if ((npassed = notify_passed_sockets(&names)) == -1) {
		log_warn("LISTEN_FDS");
		return (-1);
	}
	if (npassed > 0 && (passed = calloc((size_t)npassed,
	    sizeof(*passed))) == NULL)
		fatal("calloc");
	for (; d->nopen < d->cfg->nlisteners; d->nopen++)
		if ((d->listeners[d->nopen] = open_listener(d,
		    &d->cfg->listeners[d->nopen], npassed, names,
		    passed)) == NULL) {
			r = -1;
			break;
		} else
			listener_announce(d->listeners[d->nopen]);
	for (k = 0; k < npassed; k++) {
		if (r == 0 && !passed[k]) {
			log_write(LOG_LEVEL_CRIT, 0, "socket activation: "
			    "systemd passed a socket named \"%s\", and no "
			    "listener of that name takes it (none has the "
			    "name, or one listener took another of them)",
			    names != NULL ? names[k] : "unknown");
			r = -1;
		}
		if (!passed[k])
			close(SD_LISTEN_FDS_START + k);
		if (names != NULL)
			free(names[k]);
	}
	free(names);
	free(passed);
	return (r);
}

/* The CPUs this process may run on (its affinity mask). */
static int
cpus_allowed(void)
{
	cpu_set_t *set;
	size_t size;
	int n = -1, cpus;

	/* The mask must be as large as the kernel's: grow it until so. */
	for (cpus = 1024; n == -1 && cpus <= (1 << 20); cpus *= 2) {
		if ((set = CPU_ALLOC(cpus)) == NULL)
			break;
		size = CPU_ALLOC_SIZE(cpus);
		if (sched_getaffinity(0, size, set) == 0)
			n = CPU_COUNT_S(size, set);
		CPU_FREE(set);
		if (n == -1 && errno != EINVAL)
			break;
	}
	if (n < 1 && (n = (int)sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;
	return (n);
}

/* loop_threads, with "auto" (0) made the CPUs this process may use. */
static int
loop_threads(const struct config *cfg)
{
	int n = (int)cfg->loop_threads;

	if (n == 0 && (n = cpus_allowed()) > CONFIG_LOOP_THREADS_MAX)
		n = CONFIG_LOOP_THREADS_MAX;
	return (n);
}

/*
 * Start the loop threads beyond the first, up to their loops, before any
 * listener is bound: a thread that cannot be made then leaves no socket
 * file behind.
 */
static int
start_shards(struct daemon *d)
{
	d->shards = calloc((size_t)d->nthreads, sizeof(*d->shards));
	if (d->shards == NULL)
		fatal("calloc");
	for (; d->nshards < d->nthreads - 1; d->nshards++)
		if ((d->shards[d->nshards] = shard_start(d->nshards + 1,
		    d->cfg, d->pool)) == NULL)
			return (-1);
	return (0);
}

/* Once the firsts are bound: each shard opens its copies. */
static int
open_copies(struct daemon *d)
{
	int k;

	for (k = 0; k < d->nshards; k++)
		if (shard_open(d->shards[k], d->listeners) == -1)
			return (-1);
	return (0);
}

/* Clients being served, on every listener and thread. */
static unsigned long long
clients(const struct daemon *d)
{
	unsigned long long n = 0;
	size_t i;

	for (i = 0; i < d->nopen; i++)
		n += listener_clients(d->listeners[i]);
	return (n + listener_retired_clients());
}

void
daemon_status(struct daemon *d, int ready)
{
	char text[512];
	int n;

	n = snprintf(text, sizeof(text), "%zu listeners on %d loop threads, "
	    "%llu clients", d->nopen, d->nthreads, clients(d));
	if (d->reloads > 0 && n > 0 && (size_t)n < sizeof(text))
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    ", %u reloads", d->reloads);
	if (balance_down() > 0 && n > 0 && (size_t)n < sizeof(text))
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    ", %u upstreams down", balance_down());
	if (d->reload_error[0] != '\0' && n > 0 && (size_t)n < sizeof(text))
		snprintf(text + n, sizeof(text) - (size_t)n, "; %s",
		    d->reload_error);
	if (ready)
		notify_ready(text);
	else
		notify_status(text);
}

/* STATUS=: what an operator sees in systemctl status; and while
 * stopping, how much longer systemd should wait. */
static void
update_status(void *arg)
{
	struct daemon *d = arg;
	char text[256];
	int64_t left;

	if (d->stopping == 0) {
		daemon_status(d, 0);
		return;
	}
	snprintf(text, sizeof(text), "stopping: %llu clients left",
	    clients(d));
	notify_status(text);
	left = d->stopping + d->cfg->shutdown_timeout - clock_now();
	notify_stopping(left > 0 ? left : 0);
}

/*
 * How often the other loop threads make a heartbeat for the watchdog: four
 * times per WatchdogSec= (twice per ping), at least every ms.
 */
static int64_t
beat_ms(const struct daemon *d)
{
	return (d->watchdog_ms / 2 > 0 ? d->watchdog_ms / 2 : 1);
}

/*
 * WATCHDOG=1, but only if every loop thread has made a heartbeat since
 * about the previous check (the first thread has turned: it runs this): one
 * stalled thread is a daemon that no longer serves its share of the
 * clients, and systemd should restart it.  If this call itself is late,
 * the whole process was held up (stopped, throttled): the others' late
 * beats say nothing then, and they are not judged.  Nor while stopping,
 * when threads that have drained stop beating.
 */
static void
feed_watchdog(void *arg)
{
	static _Atomic int64_t warned;
	struct daemon *d = arg;
	int64_t now = clock_now(), prev = d->last_feed, beat = beat_ms(d);
	int k, stalled = -1, late;

	d->last_feed = now;
	late = prev != 0 && now - prev > d->watchdog_ms + beat;
	/*
	 * Stalled: no heartbeat for a whole beat before the previous check,
	 * however late this one is (after a pause of the whole process the
	 * threads wake in any order, and this check may run first).
	 */
	for (k = 0; k < d->nshards && prev != 0 && !late && d->stopping == 0;
	    k++)
		if (shard_last_beat(d->shards[k]) < prev - beat) {
			stalled = k + 1;
			break;
		}
	if (stalled == -1)
		notify_watchdog();
	else if (log_ratelimit(&warned))
		log_warnx("loop thread %d has not turned in %lld ms: not "
		    "feeding the watchdog", stalled, (long long)(now -
		    shard_last_beat(d->shards[stalled - 1])));
}

/* Start the status and watchdog timers, once the daemon is ready. */
static void
start_notify_timers(struct daemon *d)
{
	if (notify_enabled() && (d->status_timer = loop_every(d->loop,
	    STATUS_MS, update_status, d)) == NULL)
		fatal("status timer");
	if (d->watchdog_ms > 0 && (d->watchdog_timer =
	    loop_every(d->loop, d->watchdog_ms, feed_watchdog, d)) == NULL)
		fatal("watchdog timer");
}

/*
 * While the first thread waits for the others, its loop is not running:
 * its timers' work is done from here.
 */
static void
notify_while_joining(struct daemon *d)
{
	int64_t now = clock_now();

	if (d->status_timer != NULL && now >= d->next_status) {
		update_status(d);
		d->next_status = now + STATUS_MS;
	}
	if (d->watchdog_timer != NULL && now >= d->next_watchdog) {
		feed_watchdog(d);
		d->next_watchdog = now + d->watchdog_ms;
	}
}

/*
 * Loop threads that do not end even when cancelled (a bug, or a system
 * call that never returns) still use the configuration, the listeners
 * and the pool: nothing may be freed under them.  Close what the first
 * thread has open (removing its UNIX socket files) and exit at once.
 */
static void __attribute__((noreturn))
abandon_shards(struct daemon *d, int left)
{
	size_t i;

	log_write(LOG_LEVEL_CRIT, 0, "%d loop threads still running %d ms "
	    "after they were cancelled; exiting without them", left,
	    SHARD_CANCEL_MS);
	for (i = 0; i < d->nopen; i++)
		listener_stop(d->listeners[i]);
	_exit(1);
}

/*
 * After the first loop thread's loop has stopped: wait for the others,
 * still taking signals (a second one cancels them).  Their drain runs
 * its course: busy connections on them get the whole shutdown_timeout
 * whatever the first thread had.  A shard still running SHARD_DRAIN_MS
 * after that is cancelled, and if one is still running SHARD_CANCEL_MS
 * after that, the daemon exits without it (abandon_shards()).
 */
static void
join_shards(struct daemon *d)
{
	int64_t cancel_at, give_up = -1, round_end;
	int i, left;

	/* Shards never told to run (a failed start) end at once. */
	cancel_at = (d->stopping ? d->stopping : clock_now()) +
	    d->cfg->shutdown_timeout + SHARD_DRAIN_MS;
	for (;;) {
		/* One deadline for the round: shards that ended take none
		 * of it, the first still running takes it all. */
		round_end = clock_now() + SIGNAL_POLL_MS;
		left = 0;
		for (i = 0; i < d->nshards; i++)
			if (shard_join(d->shards[i], round_end) == -1)
				left++;
		if (left == 0) {
			d->joined = 1;
			return;
		}
		loop_signals(d->loop);
		notify_while_joining(d);
		if (give_up == -1 && (d->hurry || clock_now() >= cancel_at)) {
			for (i = 0; i < d->nshards; i++)
				shard_cancel(d->shards[i]);
			give_up = clock_now() + SHARD_CANCEL_MS;
		}
		if (give_up != -1 && clock_now() >= give_up)
			abandon_shards(d, left);
	}
}

/*
 * Wait for the access logs' last lines until *end, less the time kept
 * for the workers.  The loop is not running: a second stop signal is
 * delivered here, between slices, and brings *end closer.  Returns 0, or
 * -1 if the logs are still busy.
 */
static int
wait_logs(struct daemon *d, int64_t *end)
{
	int64_t until;

	for (;;) {
		until = clock_now() + SIGNAL_POLL_MS;
		if (until > *end - POOL_JOIN_MS)
			until = *end - POOL_JOIN_MS;
		if (pool_wait_idle(d->pool, until) == 0)
			return (0);
		loop_signals(d->loop);
		if (d->hurry && *end > clock_now() + LOG_HURRY_MS)
			*end = clock_now() + LOG_HURRY_MS;
		if (clock_now() >= *end - POOL_JOIN_MS)
			return (-1);
	}
}

/*
 * Close the listeners, let the access logs' last lines reach their files,
 * stop the pool: LOG_FLUSH_MS in all (LOG_HURRY_MS after a second
 * signal), then a worker still stuck in a blocking call is named and left
 * behind, and so is what its job uses.
 */
static void
close_listeners(struct daemon *d)
{
	int64_t start = clock_now(), end;
	size_t i;
	int stuck, k;

	for (i = 0; i < d->nopen; i++)
		listener_stop(d->listeners[i]);
	if (d->pool != NULL) {
		end = start + (d->hurry ? LOG_HURRY_MS : LOG_FLUSH_MS);
		if (wait_logs(d, &end) == -1)
			log_warnx("access logs still busy after %lld ms; "
			    "giving up", (long long)(clock_now() - start));
		stuck = pool_stop(d->pool, end);
		d->pool_stuck = stuck;
		for (k = 0; k < stuck; k++)
			log_warnx("worker pool: a worker is stuck in \"%s\"; "
			    "leaving it", pool_stuck_what(d->pool, k));
	}
	pool_free(d->pool);
	d->pool = NULL;
	/* Each listener's last copy to go logs its summary. */
	for (k = 0; k < d->nshards; k++)
		shard_free(d->shards[k]);
	free(d->shards);
	for (i = 0; i < d->nopen; i++)
		listener_free(d->listeners[i]);
	free(d->listeners);
	reload_free(d);
}

/*
 * -f FILE, else DEFAULT_CONFIG, else (when it does not exist) the copy of
 * conf/aio-echod.conf built into the binary.
 */
struct config *
daemon_load_config(const struct options *opt)
{
	if (opt->path != NULL)
		return (config_load(opt->path));
	if (access(DEFAULT_CONFIG, F_OK) == -1 && errno == ENOENT) {
		log_info("%s not found: using the built-in default "
		    "configuration", DEFAULT_CONFIG);
		return (config_load_string(config_default_text,
		    CONFIG_DEFAULT_NAME));
	}
	return (config_load(DEFAULT_CONFIG));
}

static void
on_stop(int signo, void *arg)
{
	struct daemon *d = arg;
	int i;

	if (loop_state(d->loop) == LOOP_RUNNING) {
		log_info("SIG%s: stopping: closing idle connections, busy ones "
		    "have %lld ms", sigabbrev_np(signo),
		    (long long)d->cfg->shutdown_timeout);
		d->stopping = clock_now();
		notify_stopping(d->cfg->shutdown_timeout);
		loop_drain(d->loop, d->cfg->shutdown_timeout);
		for (i = 0; i < d->nshards; i++)
			shard_drain(d->shards[i], d->cfg->shutdown_timeout);
	} else {
		log_info("SIG%s again: closing every connection now",
		    sigabbrev_np(signo));
		d->hurry = 1;
		loop_cancel(d->loop);
		for (i = 0; i < d->nshards; i++)
			shard_cancel(d->shards[i]);
	}
}

static void
on_hup(int signo, void *arg)
{
	(void)signo;
	reload_request(arg);
}

static void
on_usr1(int signo, void *arg)
{
	struct daemon *d = arg;
	int i;

	(void)signo;
	/* Posted before the line is logged: by then, each thread's reopen
	 * is on its way (it runs at the thread's next turn). */
	for (i = 0; i < d->nshards; i++)
		shard_reopen_logs(d->shards[i]);
	log_info("SIGUSR1: reopening %zu access logs",
	    listeners_reopen_logs(d->listeners, d->nopen));
}

static void
install_signals(struct daemon *d)
{
	if (loop_on_signal(d->loop, SIGTERM, on_stop, d) == -1 ||
	    loop_on_signal(d->loop, SIGINT, on_stop, d) == -1 ||
	    loop_on_signal(d->loop, SIGHUP, on_hup, d) == -1 ||
	    loop_on_signal(d->loop, SIGUSR1, on_usr1, d) == -1)
		fatal("signals");
	/* A peer gone mid-write is an EPIPE for that connection alone. */
	signal(SIGPIPE, SIG_IGN);
}

int
daemon_open(struct daemon *d)
{
	if (coro_init((size_t)d->cfg->coroutine_stack_size,
	    CORO_POOL_DEFAULT) == -1)
		fatal("coroutine stacks");
	d->nthreads = loop_threads(d->cfg);
	if (stats_init(d->nthreads) == -1)
		fatal("counters");
	d->watchdog_ms = notify_init();
	limits_check(d->cfg, d->nthreads);
	pipes_set_max(d->cfg->max_pipes);
	if ((d->loop = loop_create()) == NULL)
		fatal("event loop (edge-triggered epoll needed)");
	/* Its threads start with its first job (pool.c): a daemon that
	 * never has one runs only its loop threads. */
	if ((d->pool = pool_create((int)d->cfg->worker_threads,
	    (int)d->cfg->worker_queue)) == NULL)
		fatal("worker pool");
	metrics_init(d->pool);
	install_signals(d);
	if (hygiene_overflow_handler(d->cfg->coroutine_stack_size) == -1)
		fatal("stack overflow handler");
	if (start_shards(d) == -1 || open_listeners(d) == -1 ||
	    open_copies(d) == -1)
		return (-1);
	return (0);
}

int
daemon_serve(struct daemon *d)
{
	size_t i;
	int k;

	/* Heartbeats only for a watchdog to judge: none, no wakeups. */
	for (k = 0; k < d->nshards; k++)
		shard_go(d->shards[k], d->watchdog_ms > 0 ? beat_ms(d) : 0);
	for (i = 0; i < d->nopen; i++)
		if (listener_start(d->listeners[i]) == -1)
			fatal("%s: accept coroutine", d->cfg->listeners[i].name);
	log_info("aio-echod %s ready: %zu listeners, %d loop threads, pid %d, "
	    "%s coroutines with %lld KiB stacks", AIO_VERSION, d->nopen,
	    d->nthreads, (int)getpid(), coro_backend(),
	    (long long)d->cfg->coroutine_stack_size / 1024);
	start_notify_timers(d);
	if ((d->lag = lag_start(d->loop)) == NULL)
		fatal("lag sampler");
	daemon_status(d, 1);
	d->ready = 1;

	if (loop_run(d->loop) == -1)
		fatal("event loop");
	join_shards(d);
	log_info("aio-echod stopped");
	return (0);
}

void
daemon_close(struct daemon *d)
{
	if (!d->joined && d->nshards > 0)
		join_shards(d);
	close_listeners(d);
	loop_timer_free(d->status_timer);
	loop_timer_free(d->watchdog_timer);
	lag_stop(d->lag);
	loop_free(d->loop);
	buf_fini();
	pipes_fini();
	coro_fini();
	config_free(d->cfg);
}
