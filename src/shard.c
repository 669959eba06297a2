/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * shard.c: the loop threads beyond the first.
 *
 * Owns each shard's thread, its loop and its listener copies.  The main
 * thread talks to a running shard only through loop_post(): the loop and
 * everything on it belong to the shard's thread until it has ended.
 *
 * A shard's life, in steps the main thread calls for and waits on: set
 * up (coroutines, alternate signal stack, loop, the pool's port), before
 * any listener is bound, so that running out of fds or memory there
 * leaves nothing behind; open its listener copies once the main thread
 * has bound the firsts; wait for the word to run (so that no thread
 * accepts before every thread could); run the loop until
 * a drain has finished; close what it accepted on, hand its access log
 * lines to the pool, detach from the pool, free its thread-local state
 * and end.  The loop itself and the listener copies are freed later, by
 * the main thread (shard_free()): so a drain or cancel posted after the
 * shard ended still lands on a live loop, and does nothing.
 *
 * Signals are the main thread's: a shard blocks them all, but the ones a
 * fault raises on the faulting thread (a coroutine overflowing its stack
 * must still be reported, on this thread's own alternate stack).
 */
#include "shard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "coro.h"
#include "hygiene.h"
#include "io.h"
#include "lag.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "pipes.h"
#include "pool.h"
#include "stats.h"

enum shard_state {
	SHARD_STARTING,
	SHARD_LOOP,		/* its loop is made: waiting for SHARD_OPEN */
	SHARD_READY,		/* its listeners are open: waiting for RUN */
	SHARD_FAILED,		/* set up failed; the thread is ending */
	SHARD_RUNNING,
	SHARD_ENDED,		/* its thread has nothing left to do */
};

/* What the main thread tells a shard that waits. */
enum shard_cmd {
	CMD_NONE,
	CMD_OPEN,		/* open the listener copies */
	CMD_RUN,
	CMD_END,		/* end without running */
};

struct shard {
	pthread_t		 thread;
	int			 index;
	const struct config	*cfg;
	struct pool		*pool;
	struct listener *const	*firsts;
	struct listener		**ls;		/* its copies */
	size_t			 nls;		/* opened so far */
	struct shard_change	*change;	/* being posted */
	struct loop		*loop;
	int64_t			 drain_ms;	/* for the posted drain */
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* state or cmd changed */
	enum shard_state	 state;		/* under lock */
	enum shard_cmd		 cmd;		/* under lock */
	int			 attached;	/* to the pool */
	int			 told_run;	/* main's: RUN or END sent */
	int64_t			 beat_ms;	/* 0: no heartbeat */
	struct loop_timer	*beat;
	struct lag		*lag;
	_Atomic int64_t		 last_beat;	/* clock_now() of the last */
	int			 joined;
};

static void
set_state(struct shard *s, enum shard_state state)
{
	pthread_mutex_lock(&s->lock);
	s->state = state;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Block every signal but those a fault raises on this thread. */
static void
block_signals(void)
{
	static const int faults[] = {
		SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT
	};
	sigset_t set;
	size_t i;

	sigfillset(&set);
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&set, faults[i]);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
}

/*
 * The shard's thread state: coroutines, alternate signal stack, loop,
 * the pool's port.  -1 after logging.
 */
static int
shard_setup(struct shard *s)
{
	if (coro_init((size_t)s->cfg->coroutine_stack_size,
	    CORO_POOL_DEFAULT) == -1 || hygiene_thread() == -1) {
		log_write(LOG_LEVEL_CRIT, 1, "loop thread %d: coroutines",
		    s->index);
		return (-1);
	}
	if ((s->loop = loop_create()) == NULL) {
		log_write(LOG_LEVEL_CRIT, 1, "loop thread %d: event loop",
		    s->index);
		return (-1);
	}
	if (pool_attach(s->pool) == -1) {
		log_write(LOG_LEVEL_CRIT, 1, "loop thread %d: worker pool",
		    s->index);
		return (-1);
	}
	s->attached = 1;
	return (0);
}

/* The shard's copy of every listener.  -1 after logging. */
static int
shard_open_copies(struct shard *s)
{
	const struct config *cfg = s->cfg;
	int fd;

	for (; s->nls < cfg->nlisteners; s->nls++)
		if ((fd = listener_copy_socket(s->firsts[s->nls])) == -1 ||
		    (s->ls[s->nls] = listener_open_copy(s->firsts[s->nls],
		    cfg, &cfg->listeners[s->nls], s->index, fd, s->loop,
		    s->pool)) == NULL) {
			log_write(LOG_LEVEL_CRIT, 1, "listener %s: %s: loop "
			    "thread %d", cfg->listeners[s->nls].name,
			    cfg->listeners[s->nls].address, s->index);
			return (-1);
		}
	return (0);
}

/* What the thread made for itself, and only it can free. */
static void
shard_teardown(struct shard *s)
{
	size_t i;

	for (i = 0; i < s->nls; i++)
		listener_stop(s->ls[i]);
	loop_timer_free(s->beat);
	s->beat = NULL;
	lag_stop(s->lag);
	s->lag = NULL;
	if (s->attached)
		pool_detach(s->pool);
	io_fini();
	buf_fini();
	pipes_fini();
	coro_fini();
}

/* The loop turned: the watchdog may be fed for this thread. */
static void
on_beat(void *arg)
{
	struct shard *s = arg;

	atomic_store(&s->last_beat, clock_now());
}

/* Wait for the main thread's next word, and take it. */
static enum shard_cmd
shard_wait(struct shard *s)
{
	enum shard_cmd cmd;

	pthread_mutex_lock(&s->lock);
	while (s->cmd == CMD_NONE)
		pthread_cond_wait(&s->cond, &s->lock);
	cmd = s->cmd;
	s->cmd = CMD_NONE;
	pthread_mutex_unlock(&s->lock);
	return (cmd);
}

static void *
shard_main(void *arg)
{
	struct shard *s = arg;
	enum shard_cmd cmd;
	char name[16];
	size_t i;

	snprintf(name, sizeof(name), "aio-loop-%d", s->index);
	(void)pthread_setname_np(pthread_self(), name);
	block_signals();
	stats_set_thread(s->index);
	if (shard_setup(s) == -1)
		goto fail;
	set_state(s, SHARD_LOOP);
	if ((cmd = shard_wait(s)) == CMD_OPEN) {
		if (shard_open_copies(s) == -1)
			goto fail;
		set_state(s, SHARD_READY);
		cmd = shard_wait(s);
	}
	if (cmd == CMD_RUN) {
		atomic_store(&s->last_beat, clock_now());
		set_state(s, SHARD_RUNNING);
		if (s->beat_ms > 0 && (s->beat = loop_every(s->loop,
		    s->beat_ms, on_beat, s)) == NULL)
			fatal("loop thread %d: heartbeat", s->index);
		if ((s->lag = lag_start(s->loop)) == NULL)
			fatal("loop thread %d: lag sampler", s->index);
		for (i = 0; i < s->nls; i++)
			if (listener_start(s->ls[i]) == -1)
				fatal("%s: accept coroutine, loop thread %d",
				    listener_name(s->ls[i]), s->index);
		if (loop_run(s->loop) == -1)
			fatal("event loop, loop thread %d", s->index);
	}
	shard_teardown(s);
	set_state(s, SHARD_ENDED);
	return (NULL);

fail:
	shard_teardown(s);
	set_state(s, SHARD_FAILED);
	return (NULL);
}

/* Join s's thread, which has ended or is ending. */
static void
shard_reap(struct shard *s)
{
	pthread_join(s->thread, NULL);
	s->joined = 1;
}

/* Wait until s is no longer in state from; returns the new state. */
static enum shard_state
shard_wait_past(struct shard *s, enum shard_state from)
{
	enum shard_state state;

	pthread_mutex_lock(&s->lock);
	while (s->state == from)
		pthread_cond_wait(&s->cond, &s->lock);
	state = s->state;
	pthread_mutex_unlock(&s->lock);
	return (state);
}

struct shard *
shard_start(int index, const struct config *cfg, struct pool *pool)
{
	struct shard *s;
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->ls = calloc(cfg->nlisteners + 1, sizeof(*s->ls))) == NULL) {
		log_warn("loop thread %d", index);
		free(s);
		return (NULL);
	}
	s->index = index;
	s->cfg = config_hold(cfg);
	s->pool = pool;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);

	/* Born with every signal blocked: none may land on it before it
	 * has set its own mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->thread, NULL, shard_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		errno = err;
		log_warn("loop thread %d", index);
		shard_free(s);
		return (NULL);
	}
	if (shard_wait_past(s, SHARD_STARTING) == SHARD_FAILED) {
		shard_reap(s);
		shard_free(s);
		return (NULL);
	}
	return (s);
}

/* Give a waiting shard its next word. */
static void
shard_tell(struct shard *s, enum shard_cmd cmd)
{
	pthread_mutex_lock(&s->lock);
	s->cmd = cmd;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int
shard_open(struct shard *s, struct listener *const *firsts)
{
	s->firsts = firsts;
	shard_tell(s, CMD_OPEN);
	if (shard_wait_past(s, SHARD_LOOP) == SHARD_FAILED) {
		shard_reap(s);
		return (-1);
	}
	return (0);
}

void
shard_go(struct shard *s, int64_t beat_ms)
{
	s->beat_ms = beat_ms;
	s->told_run = 1;
	shard_tell(s, CMD_RUN);
}

static void
posted_drain(void *arg)
{
	struct shard *s = arg;

	loop_drain(s->loop, s->drain_ms);
}

static void
posted_cancel(void *arg)
{
	struct shard *s = arg;

	loop_cancel(s->loop);
}

static void
posted_reopen(void *arg)
{
	struct shard *s = arg;

	(void)listeners_reopen_logs(s->ls, s->nls);
}

/* Post fn to s's loop; out of memory, the stop is retried by the caller's
 * next signal, and a reopen is lost: say so. */
static void
shard_post(struct shard *s, void (*fn)(void *), const char *what)
{
	if (loop_post(s->loop, fn, s) == -1)
		log_warn("loop thread %d: %s", s->index, what);
}

void
shard_drain(struct shard *s, int64_t timeout_ms)
{
	s->drain_ms = timeout_ms;
	shard_post(s, posted_drain, "drain");
}

void
shard_cancel(struct shard *s)
{
	shard_post(s, posted_cancel, "cancel");
}

/* A reload on this thread: reconfigure, open and retire copies. */
static void
posted_change(void *arg)
{
	struct shard *s = arg;
	struct shard_change *ch = s->change;
	const struct config *cfg = ch->cfg;
	struct listener **ls;
	size_t i, j, n = cfg->nlisteners;
	int *fd;

	if ((ls = calloc(n + 1, sizeof(*ls))) == NULL)
		fatal("reload: loop thread %d: out of memory", s->index);
	for (j = 0; j < n; j++) {
		if (ch->from[j] != -1) {
			ls[j] = s->ls[ch->from[j]];
			s->ls[ch->from[j]] = NULL;
			if (listener_reconfigure(ls[j], ch->firsts[j], cfg,
			    &cfg->listeners[j], s->pool) == -1)
				fatal("reload: loop thread %d: listener %s",
				    s->index, cfg->listeners[j].name);
			continue;
		}
		fd = &ch->fds[(size_t)(s->index - 1) * n + j];
		if ((ls[j] = listener_open_copy(ch->firsts[j], cfg,
		    &cfg->listeners[j], s->index, *fd, s->loop,
		    s->pool)) == NULL ||
		    listener_start(ls[j]) == -1)
			fatal("reload: loop thread %d: listener %s", s->index,
			    cfg->listeners[j].name);
		*fd = -1;
	}
	/* The removed ones free themselves once their clients have gone. */
	for (i = 0; i < s->nls; i++)
		if (s->ls[i] != NULL)
			listener_retire(s->ls[i]);
	free(s->ls);
	s->ls = ls;
	s->nls = n;
	(void)config_hold(cfg);
	config_free((struct config *)s->cfg);
	s->cfg = cfg;
	if (loop_post(ch->reply_loop, ch->reply, ch->reply_arg) == -1)
		fatal("reload: loop thread %d: out of memory", s->index);
}

void
shard_change(struct shard *s, struct shard_change *ch)
{
	s->change = ch;
	/* Lost, the threads would run different configurations. */
	if (loop_post(s->loop, posted_change, s) == -1)
		fatal("reload: loop thread %d", s->index);
}

void
shard_reopen_logs(struct shard *s)
{
	shard_post(s, posted_reopen, "reopen access logs");
}

int
shard_join(struct shard *s, int64_t deadline)
{
	/* clock_now() is CLOCK_MONOTONIC, the condition variable's clock. */
	struct timespec ts = { deadline / 1000, (deadline % 1000) * 1000000 };

	if (s->joined)
		return (0);
	if (!s->told_run) {		/* it waits for a word: end */
		s->told_run = 1;
		shard_tell(s, CMD_END);
	}
	pthread_mutex_lock(&s->lock);
	while (s->state != SHARD_ENDED && s->state != SHARD_FAILED) {
		if (clock_now() >= deadline) {
			pthread_mutex_unlock(&s->lock);
			errno = ETIMEDOUT;
			return (-1);
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	shard_reap(s);
	return (0);
}

int64_t
shard_last_beat(struct shard *s)
{
	return (atomic_load(&s->last_beat));
}

void
shard_free(struct shard *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nls; i++)
		listener_free(s->ls[i]);
	config_free((struct config *)s->cfg);
	loop_free(s->loop);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->ls);
	free(s);
}
