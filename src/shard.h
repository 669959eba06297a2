/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SHARD_H
#define SHARD_H

#include <stddef.h>
#include <stdint.h>

/*
 * A shard: a loop thread beyond the first, with its own event loop,
 * coroutines, stack pool, buffers and fd table, and its own copy of
 * every listener.  A connection stays on the thread that accepted it.
 * The first loop thread is the process's main thread, which also owns
 * the signals; it starts the shards and tells them to stop.  All calls:
 * the main thread.
 */

struct config;
struct listener;
struct pool;
struct shard;

/*
 * shard_start(index, cfg, pool):
 * Start loop thread number index (1, 2, ...): its coroutines, loop and
 * pool port.  Returns once it has them, with the shard, which then waits
 * for shard_open(); or NULL, after logging why, with the thread gone.
 * cfg is held (config_hold()) until the shard is freed or a reload
 * gives it another; pool must outlive the shard.
 */
struct shard	*shard_start(int, const struct config *, struct pool *);

/*
 * shard_open(s, firsts):
 * Have s open its copy of each of the cfg->nlisteners listeners firsts
 * (listener_open_copy()), which must outlive it.  Returns 0 once it has,
 * and s waits for shard_go(); or -1 after s has logged which listener
 * failed and why, and ended (shard_free() it).
 */
int	shard_open(struct shard *, struct listener *const *);

/*
 * shard_go(s, beat_ms):
 * Start accepting on every listener copy of s, and (beat_ms > 0) make
 * a heartbeat every beat_ms while its loop turns (shard_last_beat()).  A
 * shard never told to go ends at shard_join().
 */
void	shard_go(struct shard *, int64_t);

/*
 * shard_last_beat(s):
 * When s's loop last made a heartbeat (clock_now()): older than a few
 * beat_ms, the thread is stalled.  Any thread.
 */
int64_t	shard_last_beat(struct shard *);

/*
 * shard_drain(s, timeout_ms), shard_cancel(s):
 * loop_drain() and loop_cancel() on s's loop.  After s has ended, they
 * do nothing.
 */
void	shard_drain(struct shard *, int64_t);
void	shard_cancel(struct shard *);

/*
 * A reload, as the other loop threads apply it (reload.c fills it).  New
 * listener j keeps the socket of old listener from[j] (its settings
 * change), or (from[j] == -1) is new, on socket fds[(index - 1) * n + j]
 * of shard number index, which the shard takes (and sets to -1).  Old
 * listeners kept by none are retired.
 */
struct shard_change {
	const struct config	*cfg;		/* n = cfg->nlisteners */
	struct listener *const	*firsts;	/* [j]: the first thread's */
	const int		*from;
	int			*fds;
	struct loop		*reply_loop;	/* where to answer: */
	void			(*reply)(void *);	/* once applied */
	void			*reply_arg;
};

/*
 * shard_change(s, ch):
 * Have s apply ch on its thread, then post ch->reply(ch->reply_arg) to
 * ch->reply_loop.  ch must stay until then.  A shard that has ended
 * drops it, and never answers.
 */
void	shard_change(struct shard *, struct shard_change *);

/* shard_reopen_logs(s): reopen s's access logs before their next write. */
void	shard_reopen_logs(struct shard *);

/*
 * shard_join(s, deadline):
 * Wait until s's loop has stopped (its connections gone, its listening
 * sockets closed, its access logs handed to the pool, its port on the
 * pool detached) and its thread has ended, or until the absolute
 * monotonic deadline in ms.  Returns 0, or -1 with errno ETIMEDOUT.
 */
int	shard_join(struct shard *, int64_t);

/*
 * shard_free(s):
 * Free s and its listener copies: after shard_join() succeeded and the
 * pool has stopped.  NULL is a no-op.
 */
void	shard_free(struct shard *);

#endif /* SHARD_H */
