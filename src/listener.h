/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef LISTENER_H
#define LISTENER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct listen_conf;
struct listener;
struct loop;
struct pool;

/*
 * A listener: its listening socket, its accept coroutine, its counters,
 * its access log, and the settings it serves clients by (a
 * configuration's listen_conf and, for a proxy, its upstreams).  It owns
 * the listening fd, every accepted client fd and the client coroutines.
 *
 * A client holds the settings it was accepted under until it ends, so a
 * reload that changes them (listener_reconfigure()) or removes the
 * listener (listener_retire()) frees what it replaced when the last
 * client that used it has gone, on the thread that owns it: a daemon
 * reloaded every hour for a year does not grow.  All calls: loop thread.
 */

/*
 * listener_open(cfg, lc, loop, pool, copied):
 * Bind and listen on the address of lc, a listener of cfg (held while
 * any client uses it), and make its access log and (proxy) upstreams,
 * which use pool.  copied: other loop threads will open copies of it
 * (listener_open_copy()); a TCP listener with reuseport is then opened to
 * SO_REUSEPORT.  Returns the listener, or NULL with errno set
 * (EADDRINUSE, EACCES, EEXIST for a UNIX path that is not a socket...;
 * ENOMEM); the caller logs.
 */
struct listener	*listener_open(const struct config *,
		    const struct listen_conf *, struct loop *, struct pool *,
		    int);

/*
 * listener_adopt(cfg, lc, fd, loop, pool):
 * As listener_open(), on fd, a listening socket systemd passed (socket
 * activation), which must be lc's address: made non-blocking and
 * close-on-exec, and owned by the listener from now on (a UNIX socket
 * file is systemd's: it is left where it is at exit).  Copies for other
 * loop threads share it.  Returns the listener, or NULL with errno set.
 */
struct listener	*listener_adopt(const struct config *,
		    const struct listen_conf *, int, struct loop *,
		    struct pool *);

/*
 * listener_copy_socket(first):
 * The listening socket for another loop thread's copy of first: a socket
 * of its own on the same TCP port (reuseport), or a duplicate of first's
 * fd.  Any thread, while first is open.  Returns the fd, or -1 with errno.
 */
int	listener_copy_socket(const struct listener *);

/*
 * listener_open_copy(first, cfg, lc, thread, fd, loop, pool):
 * The copy of the listener first, serving lc of cfg as first does, for
 * loop thread number thread (1, 2, ...), on the socket fd (from
 * listener_copy_socket(), owned by the copy from now on, closed on
 * failure), called on that thread: with its own access log (appending
 * to the same file) and upstreams.  Clients are counted against
 * max_connections across all the copies.  first need not outlive the
 * copy, but must not be reconfigured or freed during the call.  Returns
 * the copy, or NULL with errno set.
 */
struct listener	*listener_open_copy(const struct listener *,
		    const struct config *, const struct listen_conf *, int,
		    int, struct loop *, struct pool *);

/*
 * listener_same_socket(l, lc):
 * 1 if lc (from a new configuration) listens where l does, so that a
 * reload keeps l's socket and its queued clients; else 0.
 */
int	listener_same_socket(const struct listener *, const struct listen_conf *);

/*
 * listener_reconfigure(l, first, cfg, lc, pool):
 * Serve l's new clients by lc of cfg, on the same socket: its limits,
 * timeouts, upstreams (new ones, unless they are the same) and access
 * log (a new one if the path changed; lines of clients that end from
 * now on go to it, and the old one is closed once its lines are
 * written).  Clients being served keep the settings they started with,
 * which are freed when the last of them ends.  first: the first thread's
 * copy, already reconfigured (its log and upstreams' shared counts are
 * shared), or NULL when l is the first.  On l's thread.  Returns 0, or
 * -1 with errno ENOMEM and nothing changed.
 */
int	listener_reconfigure(struct listener *, const struct listener *,
	    const struct config *, const struct listen_conf *,
	    struct pool *);

/*
 * listener_retire(l):
 * Stop accepting on l (a reload removed it): its socket closes as soon as
 * its accept coroutine sees it, and a client waiting in the backlog is
 * not accepted.  From now on l is its own: its clients carry on, and
 * once its accept coroutine has ended and its last client has gone, it
 * frees itself (its access log closed, its counters added to the
 * listener's summary).  The caller forgets l.  On l's thread, outside
 * l's coroutines; l must have been started.
 */
void	listener_retire(struct listener *);

/*
 * listener_start(l):
 * Start l's accept coroutine: one coroutine per client from now on,
 * until shutdown cancels the accept.  Returns 0, or -1 with errno ENOMEM.
 */
int	listener_start(struct listener *);

/*
 * listener_announce(l):
 * Log that l is open: "NAME: listening on ADDRESS (SERVICE)", and
 * whether its socket came from systemd.  Once per listener, when it is
 * sure to stay (at startup, or when a reload commits).
 */
void	listener_announce(const struct listener *);

/*
 * listener_stop(l):
 * Close the listening socket if it is still open, remove its UNIX socket
 * file if it is still ours, and hand the access log's waiting lines to
 * the pool.  Clients are not touched.
 */
void	listener_stop(struct listener *);

/*
 * listeners_reopen_logs(ls, n):
 * Reopen the access logs of the n listeners ls, and of this thread's
 * retired listeners that still have clients, before their next write
 * (SIGUSR1, after logrotate has moved them).  Returns how many logs.
 */
size_t	listeners_reopen_logs(struct listener *const *, size_t);

/*
 * listener_clients(l):
 * Clients being served by l and every copy of it, on all loop threads.
 * Any thread.
 */
uint64_t	listener_clients(const struct listener *);

/*
 * listener_retired_clients():
 * Clients still being served by listeners that reloads removed, on all
 * loop threads.  Any thread.
 */
uint64_t	listener_retired_clients(void);

/* listener_name(l): its name, as configured. */
const char	*listener_name(const struct listener *);

/*
 * listener_free(l):
 * Stop l if that was not done, and free it with its access log and
 * upstreams; the last copy of a listener to go logs its summary (clients
 * served by close reason, bytes each way, over every loop thread).  No
 * client coroutine may be left, and the pool must have stopped (a stuck
 * job keeps what it uses).  NULL is a no-op.
 */
void	listener_free(struct listener *);

#endif /* LISTENER_H */
