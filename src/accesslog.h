/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ACCESSLOG_H
#define ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

/*
 * A listener's access log: one line per connection, written by the
 * worker pool, never on the loop thread.  All calls: loop thread (the one
 * that created the log; at exit, once that thread has detached from the
 * pool, the thread that waits for the pool).
 */

struct accesslog;
struct pool;
struct stats_listener;

/*
 * accesslog_create(path, pool, share):
 * A log that appends to path (created 0640 if missing) through pool.
 * Nothing is opened yet: the first write opens it, on a worker.  A path
 * that is a symbolic link is refused (ELOOP, logged as such).  share:
 * another loop thread's log of the same path, whose count of dropped
 * lines and warnings' rate limits this one shares (NULL: none); either
 * may be freed first.  Returns the log, or NULL with errno ENOMEM.
 */
struct accesslog	*accesslog_create(const char *, struct pool *,
			    const struct accesslog *);

/*
 * accesslog_count_drops(log, st):
 * Count the lines log drops in st too (held by log until it is
 * destroyed, which may be after accesslog_free()); NULL: no longer.
 */
void	accesslog_count_drops(struct accesslog *, struct stats_listener *);

/*
 * accesslog_write(log, line, len):
 * Queue one line (ending in '\n') for writing.  While the writer is
 * blocked, or the worker queue full, at most 64 KiB of lines wait; more
 * are dropped and counted, and a warning says which limit was hit.  The
 * lines waiting are handed to the pool as soon as it has room, whether
 * more lines come or not.
 */
void	accesslog_write(struct accesslog *, const char *, size_t);

/*
 * accesslog_reopen(log):
 * Close and reopen the file before the next write (SIGUSR1, after
 * logrotate has moved it).
 */
void	accesslog_reopen(struct accesslog *);

/* accesslog_flush(log): hand any waiting lines to the pool now. */
void	accesslog_flush(struct accesslog *);

/*
 * accesslog_close(log):
 * As accesslog_free(), but the lines waiting are written first (a reload
 * that moved the log to another path): log frees itself once they are
 * (waiting for room if the worker queue is full), or once they cannot be
 * (the pool stopping: then they are dropped and counted).  NULL is a
 * no-op.
 */
void	accesslog_close(struct accesslog *);

/* accesslog_dropped(log): lines dropped so far, by it and its sharers. */
uint64_t	accesslog_dropped(const struct accesslog *);

/*
 * accesslog_free(log):
 * Close the file and free log, dropping (and counting) lines not handed
 * to the pool.  If a flush job is still out (a worker left stuck by
 * pool_stop()), log is left to that job, which frees it if it ever comes
 * back.  NULL is a no-op.
 */
void	accesslog_free(struct accesslog *);

#endif /* ACCESSLOG_H */
