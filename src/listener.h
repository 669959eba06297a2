#ifndef LISTENER_H
#define LISTENER_H

#include <stddef.h>
#include <stdint.h>

struct listen_conf;
struct listener;
struct loop;
struct pool;

/*
 * A listener: its listening socket, its accept coroutine, its counters,
 * and what serves its clients (an access log, a proxy's upstreams).  It
 * owns the listening fd, every accepted client fd and the client
 * coroutines.  All calls: loop thread.
 */

/*
 * listener_open(lc, loop, pool, resolve_interval_ms, copied):
 * Bind and listen on lc's address, and make its access log and (proxy)
 * upstreams, which use pool.  copied: other loop threads will open
 * copies of it (listener_open_copy()); a TCP listener with reuseport is
 * then opened to SO_REUSEPORT.  Returns the listener, or NULL with errno
 * set (EADDRINUSE, EACCES, EEXIST for a UNIX path that is not a
 * socket...; ENOMEM); the caller logs.
 */
struct listener	*listener_open(const struct listen_conf *, struct loop *,
		    struct pool *, int64_t, int);

/*
 * listener_adopt(lc, fd, loop, pool, resolve_interval_ms):
 * As listener_open(), on fd, a listening socket systemd passed (socket
 * activation), which must be lc's address: made non-blocking and
 * close-on-exec, and owned by the listener from now on (a UNIX socket
 * file is systemd's: it is left where it is at exit).  Copies for other
 * loop threads share it.  Returns the listener, or NULL with errno set.
 */
struct listener	*listener_adopt(const struct listen_conf *, int,
		    struct loop *, struct pool *, int64_t);

/*
 * listener_copy_socket(first):
 * The listening socket for another loop thread's copy of first: a socket
 * of its own on the same TCP port (reuseport), or a duplicate of first's
 * fd.  Any thread, while first is open.  Returns the fd, or -1 with errno.
 */
int	listener_copy_socket(const struct listener *);

/*
 * listener_open_copy(first, thread, fd, loop, pool, resolve_interval_ms):
 * The copy of the listener first for loop thread number thread (1, 2,
 * ...), on the socket fd (from listener_copy_socket(), owned by the copy
 * from now on, closed on failure), called on that thread: with its own
 * access log (appending to the same file) and upstreams.  Clients are
 * counted against max_connections across all the copies.  first must
 * outlive the copy.  Returns the copy, or NULL with errno set.
 */
struct listener	*listener_open_copy(struct listener *, int, int,
		    struct loop *, struct pool *, int64_t);

/*
 * listener_same_socket(l, lc):
 * 1 if lc (from a new configuration) listens where l does, so that a
 * reload keeps l's socket and its queued clients; else 0.
 */
int	listener_same_socket(const struct listener *, const struct listen_conf *);

/*
 * listener_reconfigure(l, lc, pool, resolve_interval_ms):
 * Serve l's new clients by lc, on the same socket: its limits, timeouts,
 * upstreams (new ones; the old stay for the clients that use them) and
 * access log (a new one if the path changed; lines of clients that end
 * from now on go to it).  Clients being served keep the settings they
 * started with.  A first is reconfigured before its copies.  On l's
 * thread.  Returns 0, or -1 with errno ENOMEM and nothing changed.
 */
int	listener_reconfigure(struct listener *, const struct listen_conf *,
	    struct pool *, int64_t);

/*
 * listener_retire(l):
 * Stop accepting on l (a reload removed it): its socket closes as soon as
 * its accept coroutine sees it.  Its clients carry on; l is freed with
 * the rest, at exit.  On l's thread, outside l's coroutines.
 */
void	listener_retire(struct listener *);

/*
 * listener_start(l):
 * Start l's accept coroutine: one coroutine per client from now on,
 * until shutdown cancels the accept.  Returns 0, or -1 with errno ENOMEM.
 */
int	listener_start(struct listener *);

/*
 * listener_stop(l):
 * Close the listening socket if it is still open, remove its UNIX socket
 * file if it is still ours, and hand the access log's waiting lines to
 * the pool.  Clients are not touched.
 */
void	listener_stop(struct listener *);

/*
 * listeners_reopen_logs(ls, n):
 * Reopen the access logs of the n listeners ls before their next write
 * (SIGUSR1, after logrotate has moved them).  Returns how many there are.
 */
size_t	listeners_reopen_logs(struct listener *const *, size_t);

/*
 * listener_clients(l):
 * Clients being served by l and every copy of it, on all loop threads.
 * Any thread.
 */
uint64_t	listener_clients(struct listener *);

/* listener_first(l): the first thread's copy of l (l itself there). */
const struct listener	*listener_first(const struct listener *);

/* listener_name(l): its name, as configured. */
const char	*listener_name(const struct listener *);

/*
 * listener_summary(copies, n, buf, size):
 * The counters of a listener's n copies (one per loop thread), summed, as
 * one line for the log: clients served, by close reason, and bytes each
 * way.  Returns buf.  Only while no copy's thread runs.
 */
char	*listener_summary(const struct listener *const *, size_t, char *,
	    size_t);

/*
 * listener_free(l):
 * Stop l if that was not done, and free it with its access log and
 * upstreams.  No client coroutine may be left, and the pool must have
 * stopped (a stuck job keeps what it uses).  NULL is a no-op.
 */
void	listener_free(struct listener *);

#endif /* LISTENER_H */
