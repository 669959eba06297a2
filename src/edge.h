/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef EDGE_H
#define EDGE_H

#include "sock.h"
#include "srclimit.h"
#include "stats.h"

struct conn;
struct listen_conf;
struct per_source_conf;

/*
 * The edge: who may connect, and what a balancer says first.  Checks run
 * at accept, before a coroutine or a byte is spent on a client, except
 * where a PROXY protocol header names the client: then the balancer is
 * checked at accept, and the client once its header is read.  Each check
 * gives the reason it refused (enum stats_reject) and a short text for
 * the debug line.  All calls: the client's loop thread.
 */

/*
 * What a client's PROXY protocol header said, beyond its address (which
 * becomes c->peer): kept by its connection, which frees it.
 */
struct conn_proxied {
	struct sock_addr via;	/* the balancer: the socket's own peer */
	struct sock_addr dst;	/* where the client connected; family 0 if
				   the header did not say (LOCAL, UNKNOWN) */
};

/*
 * edge_admit_peer(lc, fd, peer, reason, what):
 * Whether the socket fd, just accepted from peer on lc, may be served:
 * allow_uid (unix:); proxy_protocol_from (a header will follow), or
 * else deny and allow.  Returns 0, or -1 with *reason and *what set.
 */
int	edge_admit_peer(const struct listen_conf *, int,
	    const struct sock_addr *, enum stats_reject *, const char **);

/*
 * edge_check_lists(lc, addr, reason, what):
 * deny, then allow, for a client at addr.  Returns 0, or -1 with
 * *reason (STATS_REJECT_DENIED) and *what set.
 */
int	edge_check_lists(const struct listen_conf *, const struct sock_addr *,
	    enum stats_reject *, const char **);

/*
 * edge_read_header(c, why):
 * Read c's PROXY protocol header, v1 or v2, within the listener's
 * proxy_protocol_timeout from c->started, and not a byte past it: the
 * service reads what follows.  Where it names a client, that becomes
 * c->peer and c->proxied keeps the balancer's address and the
 * destination.  Returns 0, or -1 with *why set (and c->err for an I/O
 * error; errno ECANCELED for the stop).  May park.
 */
int	edge_read_header(struct conn *, const char **);

/*
 * Per-source limits, shared by every loop thread's copy of a listener
 * and across reloads that keep per_source as it was: refcounted, any
 * thread.
 */
struct edge_limits;

/*
 * edge_limits_create(conf):
 * Limits by conf (its set must be 1).  NULL with errno ENOMEM.
 */
struct edge_limits	*edge_limits_create(const struct per_source_conf *);

/* edge_limits_hold(el): one more holder; returns el (NULL: NULL). */
struct edge_limits	*edge_limits_hold(struct edge_limits *);

/* edge_limits_put(el): let go; the last holder frees.  NULL: nothing. */
void	edge_limits_put(struct edge_limits *);

/* edge_limits_same(el, conf): 1 if el enforces conf as it is. */
int	edge_limits_same(const struct edge_limits *,
	    const struct per_source_conf *);

/*
 * edge_source_enter(el, addr, ticket, reason, what):
 * Count a new client from addr (0, *ticket for edge_source_leave()), or
 * refuse it: -1 with *reason STATS_REJECT_SOURCE_LIMIT or
 * STATS_REJECT_SOURCE_RATE and *what set.
 */
int	edge_source_enter(struct edge_limits *, const struct sock_addr *,
	    struct srclimit_ticket *, enum stats_reject *, const char **);

/*
 * edge_source_datagram(el, addr):
 * One datagram from addr to a UDP echo: 0 if within per_source's
 * connection_rate (a token per datagram), -1 if over it.
 */
int	edge_source_datagram(struct edge_limits *, const struct sock_addr *);

/* edge_source_leave(el, ticket): that client has gone. */
void	edge_source_leave(struct edge_limits *, const struct srclimit_ticket *);

#endif /* EDGE_H */
