/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * accesslog.c: access log lines, written off the loop thread.
 *
 * Owns each log's pending lines and its file descriptor.  The loop side
 * appends lines to a pending buffer; at most one flush job per log is in
 * the pool at a time, and it takes the whole buffer with it, so lines are
 * written in order and batch up by themselves under load.  The fd is
 * touched only by that one job (and by accesslog_free once no job is
 * out), so it needs no lock: the pool's queue orders the hand-offs.
 *
 * A log freed while its job is still out (a worker stuck in the kernel
 * at exit) is not freed under the job, which uses fd and path: it is
 * orphaned, and the job frees it if it ever comes back.
 *
 * The file is opened with O_NOFOLLOW: logs often live in a directory that
 * others can write to, and a symbolic link planted there must not turn a
 * root daemon's appends onto a file of the attacker's choosing.
 *
 * A writer that blocks (a full disk, a FIFO nobody reads) only stops its
 * own log: lines wait up to PENDING_MAX, then are dropped and counted,
 * and the loop never waits.
 *
 * So does a full worker queue (every worker blocked by some log): the
 * flush is not queued, and the log's room is linked instead
 * (pool_submit_room()).  The pool calls it back on the log's own loop
 * thread, where flushes complete, once a worker takes a job, and the log
 * submits its lines then.  Retrying on the next line would not do: it may
 * never come, and once PENDING_MAX is reached every new line is dropped
 * before it gets there.  A timer would poll every log for as long as the
 * queue stays full, and would not survive the end of its loop thread at
 * exit, when the waiting lines matter most; the room is delivered there
 * too, by whoever waits for the pool.  While the room is linked, new lines
 * only join the pending buffer: the common path takes no lock.
 *
 * Each loop thread has its own log object for a file, appending whole
 * lines with O_APPEND, so lines of different threads never mix within a
 * line.  The copies share a small refcounted block: the count of dropped
 * lines and the times of the last warnings, so that an operator gets one
 * warning for one problem, with one count, whatever the threads.
 */
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "stats.h"

#define PENDING_MAX	(64 * 1024)

struct flush {
	struct pool_job		 job;		/* first: the pool's view */
	struct accesslog	*log;
	char			*data;
	size_t			 len;
	int			 reopen;
	int			 err;		/* errno of a failed open/write */
};

/* What the copies of one log share (any thread). */
struct log_shared {
	atomic_int		 refs;
	atomic_uint_fast64_t	 dropped;
	atomic_uint_fast64_t	 dropped_told;	/* by the last warning */
	_Atomic int64_t		 warned;	/* log_ratelimit(), drops */
	_Atomic int64_t		 warned_err;	/* log_ratelimit(), open/write */
};

struct accesslog {
	char		*path;
	struct pool	*pool;
	int		 fd;		/* the in-flight job's, see above */
	char		*pending;
	size_t		 len;
	struct flush	 flush;		/* the one flush job */
	int		 inflight;	/* flush is the pool's */
	struct pool_room room;		/* the queue was full: call back */
	int		 waiting_room;	/* room is linked */
	int		 submit_err;	/* the last hand-off's, else 0 */
	int		 reopen;
	struct log_shared *shared;
	struct stats_listener *stats;	/* held: drops counted there too */
	int		 orphaned;	/* freed while a job was out */
	int		 closing;	/* accesslog_close(): free once written */
};

static void	flush_fn(struct pool_job *);
static void	flush_done(struct pool_job *);
static void	on_room(struct pool_room *);

struct accesslog *
accesslog_create(const char *path, struct pool *pool,
    const struct accesslog *share)
{
	struct accesslog *l;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->path = strdup(path)) == NULL)
		goto fail;
	if (share != NULL)
		l->shared = share->shared;
	else if ((l->shared = calloc(1, sizeof(*l->shared))) == NULL)
		goto fail;
	atomic_fetch_add(&l->shared->refs, 1);
	l->pool = pool;
	l->fd = -1;
	l->flush.job.fn = flush_fn;
	l->flush.job.done = flush_done;
	l->flush.log = l;
	l->room.fn = on_room;
	return (l);

fail:
	if (l != NULL)
		free(l->path);
	free(l);
	errno = ENOMEM;
	return (NULL);
}

/* Count n lines dropped. */
static void
drop(struct accesslog *l, uint64_t n)
{
	atomic_fetch_add(&l->shared->dropped, n);
	if (l->stats != NULL)
		stats_listener_log_dropped(l->stats, n);
}

void
accesslog_count_drops(struct accesslog *l, struct stats_listener *st)
{
	stats_listener_put(l->stats);
	l->stats = st != NULL ? stats_listener_hold(st) : NULL;
}

/* Worker side: (re)open if needed, then write everything. */
static void
flush_fn(struct pool_job *job)
{
	struct flush *f = (struct flush *)job;
	struct accesslog *l = f->log;
	size_t off = 0;
	ssize_t n;

	if (f->reopen && l->fd != -1) {
		close(l->fd);
		l->fd = -1;
	}
	while (l->fd == -1) {
		l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT |
		    O_CLOEXEC | O_NOFOLLOW, 0640);
		if (l->fd == -1 && (errno != EINTR || pool_stopping())) {
			f->err = errno == EINTR ? ECANCELED : errno;
			return;
		}
	}
	while (off < f->len) {
		if ((n = write(l->fd, f->data + off, f->len - off)) > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EINTR && !pool_stopping())
			continue;
		else {
			f->err = n == -1 ? (errno == EINTR ? ECANCELED :
			    errno) : EIO;
			return;
		}
	}
}

static uint64_t
count_lines(const char *p, size_t len)
{
	uint64_t n = 0;

	while (len-- > 0)
		n += (*p++ == '\n');
	return (n);
}

/*
 * Why a new line does not fit: which limit was hit.  The pending buffer
 * is full either behind a flush that is out (its writer has not finished)
 * or because no flush could be queued.
 */
static const char *
full_why(const struct accesslog *l)
{
	if (l->pending == NULL)
		return ("out of memory");
	if (l->waiting_room)
		return ("the worker queue is full");
	if (l->submit_err != 0)
		return ("the worker pool cannot take them");
	return ("64 KiB of lines waiting: the writer is slow or blocked");
}

/* Say how many lines were lost (by every thread), at most every 10 s. */
static void
warn_dropped(struct accesslog *l, const char *why)
{
	uint64_t dropped = atomic_load(&l->shared->dropped);

	if (dropped == atomic_load(&l->shared->dropped_told) ||
	    !log_ratelimit(&l->shared->warned))
		return;
	log_warnx("access log %s: %llu lines dropped so far (%s)", l->path,
	    (unsigned long long)dropped, why);
	atomic_store(&l->shared->dropped_told, dropped);
}

static void	start_flush(struct accesslog *);

/* Free l for good: no job of it is out. */
static void
destroy(struct accesslog *l)
{
	if (l->fd != -1)
		close(l->fd);
	if (atomic_fetch_sub(&l->shared->refs, 1) == 1) {
		/* The last copy: the whole count, whatever the rate limit
		 * held back. */
		if (atomic_load(&l->shared->dropped) >
		    atomic_load(&l->shared->dropped_told))
			log_warnx("access log %s: %llu lines dropped in all",
			    l->path, (unsigned long long)
			    atomic_load(&l->shared->dropped));
		free(l->shared);
	}
	stats_listener_put(l->stats);
	free(l->pending);
	free(l->path);
	free(l);
}

/* Say why the file cannot be written, at most every 10 s. */
static void
warn_error(struct accesslog *l, int err)
{
	if (!log_ratelimit(&l->shared->warned_err))
		return;
	if (err == ELOOP)
		log_warnx("access log %s: is a symbolic link; refusing to "
		    "follow it (lines are dropped until it is a regular "
		    "file)", l->path);
	else
		log_warnx("access log %s: %s (lines are dropped until it can "
		    "be written)", l->path, strerror(err));
}

/*
 * Say why the pool took no flush (no worker thread could be started), at
 * most every 10 s: the lines wait for the next try, with the next line.
 */
static void
warn_submit(struct accesslog *l, int err)
{
	if (log_ratelimit(&l->shared->warned_err))
		log_warnx("access log %s: the worker pool cannot take the "
		    "lines: %s (they wait, up to 64 KiB)", l->path,
		    strerror(err));
}

/* A closing log goes once nothing of it is left with the pool. */
static void
close_if_done(struct accesslog *l)
{
	if (l->closing && !l->inflight && !l->waiting_room)
		accesslog_free(l);	/* written, or it cannot be */
}

/* Loop side: the job is back. */
static void
flush_done(struct pool_job *job)
{
	struct flush *f = (struct flush *)job;
	struct accesslog *l = f->log;

	l->inflight = 0;
	if (l->orphaned) {
		free(f->data);
		destroy(l);
		return;
	}
	if (job->cancelled || f->err != 0) {
		drop(l, count_lines(f->data, f->len));
		/* A log that cannot be written fails every flush: say so
		 * once in a while, not once per line. */
		/* ECANCELED: the stop interrupted a blocked open or write. */
		if (f->err != 0 && f->err != ECANCELED)
			warn_error(l, f->err);
		else
			warn_dropped(l, "stopping");
	}
	free(f->data);
	f->data = NULL;
	if (l->len > 0 || l->reopen)
		start_flush(l);
	close_if_done(l);
}

/* Loop side: the queue that was full has room again. */
static void
on_room(struct pool_room *room)
{
	struct accesslog *l = (struct accesslog *)(void *)((char *)room -
	    offsetof(struct accesslog, room));

	l->waiting_room = 0;
	/* Stopping: the lines stay, and are dropped and counted at free. */
	if (l->len > 0 || l->reopen)
		start_flush(l);
	close_if_done(l);
}

/*
 * Hand the pending lines (and a reopen) to the pool, unless a flush is
 * out or waits for room already.  A full queue links the room, which
 * calls this again.
 */
static void
start_flush(struct accesslog *l)
{
	struct flush *f = &l->flush;

	if (l->inflight || l->waiting_room || pool_stopping())
		return;
	/* Named for a worker stuck at exit.  A job that opens the file
	 * then writes too, but open(2) is where a FIFO or a hung mount
	 * blocks. */
	snprintf(f->job.what, sizeof(f->job.what), "access log %s: %s",
	    l->path, l->fd == -1 || l->reopen ? "open" : "write");
	f->data = l->pending;
	f->len = l->len;
	f->reopen = l->reopen;
	f->err = 0;
	if (pool_submit_room(l->pool, &f->job, &l->room) == -1) {
		/*
		 * The lines wait: for room (EAGAIN), for the free (the pool
		 * has stopped), or for the next line to try again (no worker
		 * thread could be started).
		 */
		f->data = NULL;
		l->submit_err = errno == EAGAIN || errno == ECANCELED ? 0 :
		    errno;
		if (errno == EAGAIN)
			l->waiting_room = 1;
		else if (l->submit_err != 0)
			warn_submit(l, l->submit_err);
		return;
	}
	l->submit_err = 0;
	l->inflight = 1;
	l->pending = NULL;
	l->len = 0;
	l->reopen = 0;
}

void
accesslog_write(struct accesslog *l, const char *line, size_t len)
{
	if (l->len + len > PENDING_MAX ||
	    (l->pending == NULL && (l->pending = malloc(PENDING_MAX)) == NULL)) {
		drop(l, 1);
		warn_dropped(l, full_why(l));
		return;
	}
	memcpy(l->pending + l->len, line, len);
	l->len += len;
	start_flush(l);
}

void
accesslog_reopen(struct accesslog *l)
{
	l->reopen = 1;
	start_flush(l);
}

void
accesslog_flush(struct accesslog *l)
{
	if (l->len > 0 || l->reopen)
		start_flush(l);
}

void
accesslog_close(struct accesslog *l)
{
	if (l == NULL)
		return;
	l->closing = 1;
	if (l->len > 0)
		start_flush(l);
	/* A job is out, or the room is linked: flush_done or on_room frees
	 * l once the last line is written (or cannot be: the pool stops). */
	close_if_done(l);
}

uint64_t
accesslog_dropped(const struct accesslog *l)
{
	return (atomic_load(&l->shared->dropped));
}

void
accesslog_free(struct accesslog *l)
{
	if (l == NULL)
		return;
	/* Where the room would be called back: this thread, or the one
	 * that delivers for it at exit. */
	pool_room_cancel(&l->room);
	l->waiting_room = 0;
	if (l->len > 0) {
		drop(l, count_lines(l->pending, l->len));
		warn_dropped(l, "stopping");
	}
	if (l->inflight) {
		/* The job uses fd and path: leave l to it. */
		free(l->pending);
		l->pending = NULL;
		l->len = 0;
		l->orphaned = 1;
		return;
	}
	destroy(l);
}
