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
 * shard_start(index, cfg, pool, firsts):
 * Start loop thread number index (1, 2, ...): it opens a copy of each
 * of the cfg->nlisteners listeners firsts (listener_open_copy()), then
 * waits for shard_go().  Returns once it has, with the shard; or NULL,
 * after logging which listener failed and why, with the thread gone.
 * cfg, pool and firsts must outlive the shard.
 */
struct shard	*shard_start(int, const struct config *, struct pool *,
		    struct listener *const *);

/* shard_go(s): start accepting on every listener copy of s. */
void	shard_go(struct shard *);

/*
 * shard_drain(s, timeout_ms), shard_cancel(s):
 * loop_drain() and loop_cancel() on s's loop.  After s has ended, they
 * do nothing.
 */
void	shard_drain(struct shard *, int64_t);
void	shard_cancel(struct shard *);

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

/* shard_listener(s, i): s's copy of listener i. */
struct listener	*shard_listener(const struct shard *, size_t);

/*
 * shard_free(s):
 * Free s and its listener copies: after shard_join() succeeded and the
 * pool has stopped.  NULL is a no-op.
 */
void	shard_free(struct shard *);

#endif /* SHARD_H */
