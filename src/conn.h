/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CONN_H
#define CONN_H

#include <stdint.h>

#include "sock.h"
#include "srclimit.h"
#include "stats.h"

struct conn_proxied;
struct edge_limits;
struct listen_conf;
struct listener;
struct listener_settings;
struct loop;

/* Why a connection ended: counted per listener, logged at close. */
enum conn_close {
	CONN_CLIENT_FIN,	/* the client finished (EOF) */
	CONN_UPSTREAM_FIN,	/* the upstream finished (proxy) */
	CONN_RESET,		/* a peer reset, or an I/O error */
	CONN_IDLE_TIMEOUT,	/* no traffic for idle_timeout */
	CONN_FIN_TIMEOUT,	/* one side finished, the other not within
				   fin_timeout (proxy) */
	CONN_CONNECT_FAILED,	/* no upstream could be reached (proxy) */
	CONN_SHUTDOWN,		/* the daemon is stopping */
	CONN_LIMIT,		/* over max_connections, or out of memory */
	CONN_BAD_REQUEST,	/* a request refused with an error status
				   (metrics), then closed */
	CONN_HEADER_TIMEOUT,	/* a request not read within
				   header_timeout (metrics) */
	CONN_NO_UPSTREAM,	/* every upstream known to be down (proxy):
				   refused at once */
	CONN_CLOSE_MAX,
	CONN_ASLEEP = CONN_CLOSE_MAX	/* not an end: see struct conn */
};

/*
 * A budget for per-connection log lines (debug lines: closes, rejects,
 * failed upstreams), one per listener copy, so that no client can fill
 * the log however fast it connects.
 */
struct conn_lograte {
	int64_t		 window;	/* clock_now() its second began */
	unsigned	 lines;		/* logged in it */
	uint64_t	 suppressed;	/* not logged since the last notice */
};

/* Per-connection lines a listener copy logs per second, at most. */
#define CONN_LOG_PER_SEC	100

/*
 * One accepted client.  The listener owns it and its fd; a handler uses
 * both until it returns its close reason.  A handler waiting for its
 * client with nothing on its stack returns CONN_ASLEEP instead (after
 * io_hibernate(c->fd, ..., c->resume, c)): its coroutine ends, and
 * c->resume(c) starts it again, from the top, when the client is back.
 * A proxy's relay, which outlives its first coroutine, ends the
 * connection itself with c->finish(c, why).
 */
struct conn {
	int			 fd;
	struct sock_addr	 peer;
	const struct listen_conf *lc;
	struct listener		*l;
	struct loop		*loop;
	int64_t			 started;	/* clock_now() at accept */
	uint64_t		 bytes_in;	/* from the client */
	uint64_t		 bytes_out;	/* to the client */
	int			 err;		/* errno behind a reset */
	struct sock_addr	 upstream;	/* proxy; family 0 until connected */
	int64_t			 deadline;	/* echo: idle_timeout's, live */
	struct listener_settings *settings;	/* held: lc's, the listener's */
	struct conn_lograte	*lograte;	/* the listener's */
	struct stats_listener_slot *stats;	/* its settings', this thread's */
	struct conn_proxied	*proxied;	/* its PROXY header's, or NULL */
	struct edge_limits	*limits;	/* per_source's, if it counts */
	struct srclimit_ticket	 ticket;	/* its place there */
	void			(*resume)(void *);	/* the listener's */
	void			(*finish)(struct conn *, enum conn_close);
};

/*
 * conn_count_in(c, n), conn_count_out(c, n):
 * Count n bytes read from c's client (in) or written to it (out), on c
 * and on its listener's counters.
 */
static inline void
conn_count_in(struct conn *c, uint64_t n)
{
	c->bytes_in += n;
	stats_add(&c->stats->bytes_in, n);
}

static inline void
conn_count_out(struct conn *c, uint64_t n)
{
	c->bytes_out += n;
	stats_add(&c->stats->bytes_out, n);
}

/*
 * conn_idle_deadline(c):
 * When c's idle_timeout ends if nothing moves from now on: clock_now()
 * plus it, or -1 when it is 0 (none).
 */
int64_t	conn_idle_deadline(const struct conn *);

/* conn_close_name(why): "client-fin", "reset", ... as logged. */
const char	*conn_close_name(enum conn_close);

/*
 * conn_close_from_errno(c, err):
 * The close reason for a failed parking call: ETIMEDOUT is an idle
 * timeout once c->deadline has passed (before, it came from TCP, which
 * gave up on the peer: a reset), ECANCELED a shutdown, anything else a
 * reset (the error kept in c->err).
 */
enum conn_close	conn_close_from_errno(struct conn *, int);

/*
 * conn_log_allowed(c):
 * 1 if a per-connection debug line about c may be logged now, within its
 * listener's CONN_LOG_PER_SEC; else 0, and the line is counted.  The
 * first line allowed after some were not says how many.  Call only once
 * log_enabled(LOG_LEVEL_DEBUG) said yes.
 */
int	conn_log_allowed(struct conn *);

/*
 * conn_access_line(c, why, buf, size):
 * Format c's access log line, ending in '\n', into buf: UTC time of the
 * close, listener, client, upstream ("-" if none), duration in ms, bytes
 * from the client, bytes to the client, close reason; and on a listener
 * with proxy_protocol, the balancer's address ("-" if the header kept
 * the connection's own).  Returns its length (truncated to size - 1).
 */
size_t	conn_access_line(const struct conn *, enum conn_close, char *,
	    size_t);

#endif /* CONN_H */
