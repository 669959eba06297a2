/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * edge.c: who may connect, and what a balancer says first.
 *
 * The PROXY protocol header is read without reading past it: each pass
 * peeks at what the socket holds and parses it.  A complete header is
 * then read for exactly its length, so the service's first read starts
 * at the client's first byte, even when the header and that byte came
 * in one segment.  An incomplete one is a prefix of a header in every
 * byte seen (proxyproto.c promises it), so those bytes are read and the
 * next pass waits for more: a header may come in pieces, one byte at a
 * time, until proxy_protocol_timeout.
 */
#include "edge.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "addrset.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "io.h"
#include "proxyproto.h"

struct edge_limits {
	atomic_int		 refs;
	struct per_source_conf	 conf;
	struct srclimit		*table;
};

/* allow_uid: the peer's credentials, from the kernel (SO_PEERCRED). */
static int
uid_allowed(const struct listen_conf *lc, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	size_t i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return (0);
	for (i = 0; i < lc->nallow_uid; i++)
		if (lc->allow_uid[i] == cred.uid)
			return (1);
	return (0);
}

int
edge_check_lists(const struct listen_conf *lc, const struct sock_addr *addr,
    enum stats_reject *reason, const char **what)
{
	if (lc->deny != NULL && addrset_match(lc->deny, addr)) {
		*reason = STATS_REJECT_DENIED;
		*what = "in deny";
		return (-1);
	}
	if (lc->allow != NULL && !addrset_match(lc->allow, addr)) {
		*reason = STATS_REJECT_DENIED;
		*what = "not in allow";
		return (-1);
	}
	return (0);
}

int
edge_admit_peer(const struct listen_conf *lc, int fd,
    const struct sock_addr *peer, enum stats_reject *reason,
    const char **what)
{
	if (peer->ss.ss_family == AF_UNIX) {
		if (lc->nallow_uid > 0 && !uid_allowed(lc, fd)) {
			*reason = STATS_REJECT_DENIED;
			*what = "uid not in allow_uid";
			return (-1);
		}
		return (0);
	}
	if (lc->proxy_protocol) {
		if (!addrset_match(lc->proxy_protocol_from, peer)) {
			*reason = STATS_REJECT_PROXY_FROM;
			*what = "not in proxy_protocol_from";
			return (-1);
		}
		return (0);	/* the client is checked once it is known */
	}
	return (edge_check_lists(lc, peer, reason, what));
}

/* c's header said h: the client's address becomes c's peer. */
static int
header_apply(struct conn *c, const struct proxyproto_header *h)
{
	if (h->local)
		return (0);	/* the connection's own addresses */
	if ((c->proxied = calloc(1, sizeof(*c->proxied))) == NULL)
		return (-1);
	c->proxied->via = c->peer;
	c->proxied->dst = h->dst;
	c->peer = h->src;
	return (0);
}

int
edge_read_header(struct conn *c, const char **why)
{
	char buf[PROXYPROTO_HEADER_MAX];
	struct proxyproto_header h;
	int64_t deadline = c->started + c->lc->proxy_protocol_timeout;
	enum proxyproto_result r;
	size_t have = 0, used;
	ssize_t n, k;

	do {
		n = io_peek(c->fd, buf + have, sizeof(buf) - have, deadline);
		if (n <= 0) {
			if (n == 0)
				*why = "closed before the end of the header";
			else if (errno == ETIMEDOUT)
				*why = "no complete header within "
				    "proxy_protocol_timeout";
			else {
				c->err = errno;
				*why = "read error";
			}
			return (-1);
		}
		if ((r = proxyproto_parse(buf, have + (size_t)n, &h, &used,
		    why)) == PROXYPROTO_INVALID)
			return (-1);
		if (r == PROXYPROTO_NEED_MORE)
			used = have + (size_t)n;	/* all of it: header */
		/* Take the header's bytes off the socket, not one more. */
		while (have < used) {
			k = io_read_now(c->fd, buf + have, used - have);
			if (k <= 0) {
				c->err = k == 0 ? 0 : errno;
				*why = "read error";
				return (-1);
			}
			have += (size_t)k;
		}
	} while (r == PROXYPROTO_NEED_MORE);
	if (header_apply(c, &h) == -1) {
		*why = "out of memory";
		return (-1);
	}
	return (0);
}

struct edge_limits *
edge_limits_create(const struct per_source_conf *conf)
{
	struct srclimit_conf sc = {
		.max_connections = (uint64_t)conf->max_connections,
		.rate_n = (uint64_t)conf->rate_n,
		.rate_ms = conf->rate_ms,
		.ipv6_prefix = (int)conf->ipv6_prefix,
		.table_size = (size_t)conf->table_size,
	};
	struct edge_limits *el;

	if ((el = calloc(1, sizeof(*el))) == NULL)
		return (NULL);
	atomic_init(&el->refs, 1);
	el->conf = *conf;
	if ((el->table = srclimit_create(&sc)) == NULL) {
		free(el);
		return (NULL);
	}
	return (el);
}

struct edge_limits *
edge_limits_hold(struct edge_limits *el)
{
	if (el != NULL)
		atomic_fetch_add(&el->refs, 1);
	return (el);
}

void
edge_limits_put(struct edge_limits *el)
{
	if (el == NULL || atomic_fetch_sub(&el->refs, 1) > 1)
		return;
	srclimit_free(el->table);
	free(el);
}

int
edge_limits_same(const struct edge_limits *el,
    const struct per_source_conf *conf)
{
	const struct per_source_conf *a = &el->conf;

	return (a->set == conf->set &&
	    a->max_connections == conf->max_connections &&
	    a->rate_n == conf->rate_n && a->rate_ms == conf->rate_ms &&
	    a->ipv6_prefix == conf->ipv6_prefix &&
	    a->table_size == conf->table_size);
}

int
edge_source_enter(struct edge_limits *el, const struct sock_addr *addr,
    struct srclimit_ticket *ticket, enum stats_reject *reason,
    const char **what)
{
	switch (srclimit_enter(el->table, addr, clock_now(), ticket)) {
	case SRCLIMIT_MAX_CONNECTIONS:
		*reason = STATS_REJECT_SOURCE_LIMIT;
		*what = "per_source.max_connections reached";
		return (-1);
	case SRCLIMIT_RATE:
		*reason = STATS_REJECT_SOURCE_RATE;
		*what = "over per_source.connection_rate";
		return (-1);
	default:
		return (0);
	}
}

int
edge_source_datagram(struct edge_limits *el, const struct sock_addr *addr)
{
	return (srclimit_datagram(el->table, addr, clock_now()) ? 0 : -1);
}

void
edge_source_leave(struct edge_limits *el, const struct srclimit_ticket *ticket)
{
	srclimit_leave(el->table, ticket);
}
