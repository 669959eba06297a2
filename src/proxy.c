/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxy.c: the proxy service: relay a client to an upstream.
 *
 * Owns the upstream fd and the relay between it and the client's.  The
 * listener lends the client's connection; upstream.c picks addresses.
 *
 * Each direction is a loop that waits for data, borrows a buffer, reads,
 * writes it all to the other side and returns the buffer.  A write that
 * blocks parks that direction, which then reads nothing more, so a slow
 * reader holds at most one buffer per direction however much the other
 * side sends (backpressure).  A bulk stream (a read filled the buffer)
 * moves through a pipe instead, by splice(2), with the same rule: the
 * pipe is filled only when empty, and emptied before the next read
 * (pump_splice).  The parent coroutine pumps client to
 * upstream; a child pumps upstream to client; the parent joins the child
 * before the upstream fd is closed.
 *
 * End of stream travels: EOF from one side becomes shutdown(SHUT_WR) to
 * the other, while the other direction goes on.  Idle time is the
 * connection's, and counts from its last progress: a byte read or
 * written by either direction, a byte a peer took from either send queue
 * (io.c looks while a direction waits: io_write_live, io_hibernate), or
 * a FIN.  So a direction waiting for data, or waiting to write, does not
 * time out while the other one moves bytes, nor while a slow peer still
 * reads.  Once one side has finished, fin_timeout is the limit if it is
 * the shorter one: an inactivity timeout too, as HAProxy's client-fin,
 * so a long download after a client's half-close runs while it moves.
 *
 * A side gets a FIN only when its stream ended naturally (the other side
 * sent its FIN and every byte was passed on).  Any cut -- idle_timeout,
 * fin_timeout, the shutdown, an error on either side, a failed connect --
 * aborts both directions (io_abort) and closes both sockets with a reset,
 * so neither peer can mistake a cut-off stream for a complete one.  The
 * close reason names the cut.
 */
#include "proxy.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "coro.h"
#include "edge.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "pipes.h"
#include "proxyproto.h"
#include "sock.h"
#include "stats.h"
#include "upstream.h"

/*
 * Splice (pump_splice): at most a pipe's default size per call; a
 * stream whose bursts are shorter than SPLICE_MIN goes back to copying
 * (the pipe's two extra calls per burst would cost more than the copy,
 * and an interactive stream's latency matters more; HAProxy's bound).
 */
#define SPLICE_MAX	(64 * 1024)
#define SPLICE_MIN	4096

struct relay;

struct direction {
	struct relay	*r;
	int		 from;
	int		 to;
	int		 from_client;
	int		 no_splice;	/* splice = false, or EINVAL */
	struct spipe	 pipe;		/* while bulk; r = -1: none */
};

/*
 * What the two directions of one connection share.  It lives on the heap:
 * a direction waiting for data gives its stack back (io_hibernate) and
 * is started again, in a new coroutine, when data comes.  Whoever lets
 * go of it last (a direction that has finished, or relay_fail()) closes
 * the upstream and ends the connection.
 */
struct relay {
	struct conn	*c;
	int		 ufd;
	int64_t		 deadline;	/* progress moves it to now + limit */
	int64_t		 limit;		/* idle_timeout or a shorter
					   fin_timeout; 0: none */
	int		 fin_limit;	/* limit is fin_timeout */
	int		 decided;	/* why is final */
	int		 failed;	/* an error ended it: reset both */
	enum conn_close	 why;
	int		 holds;		/* directions running or asleep, ... */
	struct stats_upstream_slot *stats;	/* the upstream's */
	atomic_int	*active;	/* its relays on every thread */
	struct direction up, down;
};

static void	relay_hold(struct relay *);
static void	relay_release(struct relay *);

/* Progress (bytes moved, or a FIN): the deadline moves. */
static void
relay_progress(struct relay *r)
{
	if (r->limit > 0)
		r->deadline = clock_now() + r->limit;
}

static int
relay_passed(const struct relay *r)
{
	return (r->deadline != -1 && clock_now() >= r->deadline);
}

/*
 * Why ETIMEDOUT: fin_timeout or idle_timeout once the deadline has
 * passed.  Before, it came from the kernel (TCP gave up on a peer): a
 * reset.
 */
static enum conn_close
relay_timeout_reason(const struct relay *r)
{
	if (!relay_passed(r))
		return (CONN_RESET);
	return (r->fin_limit ? CONN_FIN_TIMEOUT : CONN_IDLE_TIMEOUT);
}

/*
 * The first error decides the close reason (over a FIN) and ends both.
 * Waking the other direction may end it there and then: the hold keeps
 * r (and both fds) until both aborts are done.
 */
static void
relay_fail(struct relay *r, int err)
{
	relay_hold(r);
	if (!r->failed) {
		r->failed = 1;
		r->decided = 1;
		if (err == ECANCELED)
			r->why = CONN_SHUTDOWN;
		else if (err == ETIMEDOUT)
			r->why = relay_timeout_reason(r);
		else
			r->why = CONN_RESET;
		if (r->why == CONN_RESET)
			r->c->err = err;
	}
	io_abort(r->c->fd, err);
	io_abort(r->ufd, err);
	relay_release(r);
}

/*
 * One side finished: pass the FIN on.  From now on fin_timeout bounds
 * the connection's inactivity, if it is the shorter limit.
 */
static void
relay_eof(struct relay *r, const struct direction *d)
{
	int64_t fin = r->c->lc->fin_timeout;
	int shorter;

	if (!r->decided) {
		r->decided = 1;
		r->why = d->from_client ? CONN_CLIENT_FIN : CONN_UPSTREAM_FIN;
	}
	(void)shutdown(d->to, SHUT_WR);
	shorter = !r->fin_limit && fin > 0 && (r->limit == 0 ||
	    fin <= r->limit);
	if (shorter) {
		r->fin_limit = 1;
		r->limit = fin;
	}
	relay_progress(r);	/* the FIN is news */
	if (shorter) {
		/* The other direction re-times its read and its write. */
		io_interrupt(d->to, IO_READ);
		io_interrupt(d->from, IO_WRITE);
	}
}

/*
 * A failed wait: 0 to wait again (an interrupt: fin_timeout began; or the
 * deadline passed, but the other side's send queue has moved), -1 once
 * the relay has failed.  Once it has, every wait fails at once
 * (io_abort): stop rather than retry.
 */
static int
relay_retry(struct relay *r, int err)
{
	if (r->failed)
		return (-1);
	if (err == EINTR)
		return (0);
	if (err == ETIMEDOUT && relay_passed(r)) {
		/* The wait looked at its own fd's queue; look at both. */
		io_look(r->c->fd, &r->deadline, r->limit);
		io_look(r->ufd, &r->deadline, r->limit);
		if (!relay_passed(r))
			return (0);
	}
	relay_fail(r, err);
	return (-1);
}

static void	pump_resume(void *);

/*
 * Wait for data on d->from: 0 when there may be some, 1 once this
 * direction has gone to sleep without a stack (return all the way out),
 * -1 when it is done.
 */
static int
pump_wait(struct direction *d)
{
	struct relay *r = d->r;

	while (!r->failed) {
		switch (io_hibernate(d->from, &r->deadline, r->limit, 0,
		    pump_resume, d)) {
		case 0:
			return (0);
		case 1:
			return (1);
		}
		if (relay_retry(r, errno) == -1)
			break;
	}
	return (-1);
}

/* Count n bytes d has passed on, for the client and the upstream. */
static void
relay_count(struct direction *d, uint64_t n)
{
	if (d->from_client) {
		conn_count_in(d->r->c, n);
		stats_add(&d->r->stats->bytes_out, n);
	} else {
		conn_count_out(d->r->c, n);
		stats_add(&d->r->stats->bytes_in, n);
	}
}

/* Write all n bytes to d->to while the relay makes progress; 0 or -1. */
static int
pump_write(struct direction *d, const char *p, size_t n)
{
	struct relay *r = d->r;
	ssize_t k;

	while (n > 0) {
		if ((k = io_write_live(d->to, p, n, &r->deadline,
		    r->limit)) > 0) {
			p += k;
			n -= (size_t)k;
			relay_count(d, (uint64_t)k);
		} else if (relay_retry(r, errno) == -1)
			return (-1);
	}
	return (0);
}

/*
 * The destination cannot splice (EINVAL): pass on the held bytes still
 * in d's pipe by copying them, and copy from now on.  A rare path: its
 * buffer is on the stack, so it cannot fail for want of one.  Puts the
 * pipe back (closed unless emptied).  0, or -1 once the relay has
 * failed.
 */
static int
pump_unsplice(struct direction *d, size_t held)
{
	char buf[4096];
	ssize_t n;
	int w = 0;

	d->no_splice = 1;
	while (w == 0 && held > 0) {
		if ((n = io_read_now(d->pipe.r, buf, held < sizeof(buf) ?
		    held : sizeof(buf))) <= 0) {
			relay_fail(d->r, n == 0 ? EIO : errno);
			w = -1;
		} else {
			held -= (size_t)n;
			w = pump_write(d, buf, (size_t)n);
		}
	}
	pipes_put(&d->pipe, w == 0);
	return (w);
}

/*
 * One step of a bulk stream: splice what d->from has into d's pipe, then
 * all of it out to d->to, so the bytes never cross into user space.
 * Backpressure holds as with a buffer: nothing more is read while the
 * pipe holds bytes.  0 to go on, -1 once this direction is done (the
 * relay failed; the pipe is put back, closed if it may hold bytes).
 *
 * The pipe goes back, empty, whenever splice(2) stops: an EAGAIN or an
 * EOF is not taken at its word.  TCP's splice stops at the urgent mark,
 * even inline (SO_OOBINLINE): at the mark it says EAGAIN with data
 * still queued, or 0 if a FIN is queued too.  So it only sends the
 * stream back to copying, and the next read (recv(2), which passes the
 * mark) says whether the socket is empty or ended: one more call at the
 * end of each burst.  A pausing stream so holds no pipe while it waits,
 * and one whose bursts are short stops splicing.
 */
static int
pump_splice(struct direction *d)
{
	struct relay *r = d->r;
	size_t held;
	ssize_t n, k;
	int err;

	if ((n = io_splice_in(d->from, d->pipe.w, SPLICE_MAX)) <= 0) {
		err = n == 0 ? 0 : errno;
		pipes_put(&d->pipe, 1);
		if (err == 0 || err == EAGAIN || err == EINVAL ||
		    err == ENOSYS) {
			/* Stopped, or this socket cannot splice: copy. */
			d->no_splice = err == EINVAL || err == ENOSYS;
			return (0);
		}
		relay_fail(r, err);
		return (-1);
	}
	relay_progress(r);
	for (held = (size_t)n; held > 0; ) {
		if ((k = io_splice_out_live(d->pipe.r, d->to, held,
		    &r->deadline, r->limit)) > 0) {
			held -= (size_t)k;
			relay_count(d, (uint64_t)k);
			stats_add(&r->stats->spliced, (uint64_t)k);
		} else if (errno == EINVAL || errno == ENOSYS)
			return (pump_unsplice(d, held));
		else if (relay_retry(r, errno) == -1) {
			pipes_put(&d->pipe, 0);		/* bytes left in it */
			return (-1);
		}
	}
	if (n < SPLICE_MIN)
		pipes_put(&d->pipe, 1);		/* not bulk now */
	return (0);
}

/*
 * Move d's bytes until it sleeps (then return) or ends (then let go).
 * A read that fills the whole buffer says the stream is bulk: from then
 * on it splices (pump_splice), while there is a pipe to spare.
 */
static void
pump(struct direction *d)
{
	struct relay *r = d->r;
	ssize_t n;
	void *buf;
	int w;

	while ((w = pump_wait(d)) == 0) {
		if (d->pipe.r != -1) {
			if (pump_splice(d) == -1)
				break;
			continue;
		}
		if ((buf = buf_borrow()) == NULL) {
			relay_fail(r, ENOMEM);
			break;
		}
		n = io_read_now(d->from, buf, BUF_SIZE);
		if (n == -1 && errno == EAGAIN) {
			buf_return(buf);	/* readiness was stale */
			continue;
		}
		if (n <= 0) {
			buf_return(buf);
			if (n == 0)
				relay_eof(r, d);
			else
				relay_fail(r, errno);
			break;
		}
		relay_progress(r);
		w = pump_write(d, buf, (size_t)n);
		buf_return(buf);
		if (w == -1)
			break;
		if (n == BUF_SIZE && !d->no_splice)
			(void)pipes_get(&d->pipe);	/* none: copy on */
	}
	pipes_put(&d->pipe, 1);	/* empty: every cut put it back already */
	if (w != 1)
		relay_release(r);	/* this direction is done */
}

/* A direction's coroutine: its first, or after a sleep its data (or a
 * timeout, or an abort) has come. */
static void
pump_resume(void *arg)
{
	struct direction *d = arg;

	coro_set_label(d->r->c->lc->name);
	pump(d);
}

/*
 * An error edge on a side that neither direction waits on (each waits on
 * the other fd: one writing under backpressure, one reading, or one has
 * finished): end the relay now, not at a timeout.
 */
static void
on_side_error(void *arg, int err)
{
	relay_fail(arg, err);
}

static void
relay_hold(struct relay *r)
{
	r->holds++;
}

/* Let go of r; the last one closes the upstream and ends the client. */
static void
relay_release(struct relay *r)
{
	struct conn *c = r->c;
	enum conn_close why = r->why;

	if (--r->holds > 0)
		return;
	(void)io_on_error(c->fd, NULL, NULL);
	if (r->failed) {
		(void)sock_reset_on_close(c->fd);
		(void)sock_reset_on_close(r->ufd);
	}
	io_close(r->ufd);
	stats_sub(&r->stats->active, 1);
	atomic_fetch_sub_explicit(r->active, 1, memory_order_relaxed);
	free(r);
	c->finish(c, why);
}

/* The counter of a connect attempt that failed with err. */
static enum stats_connect
connect_result(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return (STATS_CONNECT_REFUSED);
	case ETIMEDOUT:
		return (STATS_CONNECT_TIMEOUT);
	default:
		return (STATS_CONNECT_ERROR);
	}
}

/*
 * What source-hash hashes for c: its client's address (the one a PROXY
 * header named, where one came; an IPv4-mapped one as IPv4), or a unix:
 * client's uid.  Into key; returns its length (0: nothing to hash).
 */
#define KEY_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)

static size_t
client_key(const struct conn *c, unsigned char key[KEY_MAX])
{
	const struct sockaddr_in6 *s6;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	switch (c->peer.ss.ss_family) {
	case AF_INET:
		memcpy(key, &((const struct sockaddr_in *)&c->peer.ss)->
		    sin_addr, 4);
		return (4);
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)&c->peer.ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(key, &s6->sin6_addr.s6_addr[12], 4);
			return (4);
		}
		memcpy(key, &s6->sin6_addr, 16);
		return (16);
	case AF_UNIX:
		/* Named by a PROXY header: the path it gave (a TCP socket
		 * has no peer credentials). */
		if (c->lc->addr.ss.ss_family != AF_UNIX) {
			const char *path = ((const struct sockaddr_un *)
			    &c->peer.ss)->sun_path;
			size_t n = strnlen(path, KEY_MAX);

			memcpy(key, path, n);
			return (n);
		}
		if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred,
		    &len) == -1)
			return (0);
		memcpy(key, &cred.uid, sizeof(cred.uid));
		return (sizeof(cred.uid));
	default:
		return (0);
	}
}

/*
 * Did a connect that failed with err fail because of the upstream (or
 * the network to it), rather than of us (out of fds or memory)?  Only
 * those count toward its passive ejection.
 */
static int
upstream_at_fault(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case ECONNRESET:
	case ECONNABORTED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EAGAIN:		/* a unix: upstream's full backlog */
	case ENOENT:		/* a unix: upstream's socket file gone */
		return (1);
	default:
		return (0);
	}
}

/*
 * Connect to upstream k: each of its addresses in turn.  The fd, or -1
 * with errno (ECANCELED: the stop).  Counts each attempt in st.
 * *blame: 1 if an attempt failed by the upstream's fault (not a name
 * that would not resolve, nor a socket we could not make).
 */
static int
connect_upstream(struct conn *c, struct upstreams *us, size_t k,
    struct stats_upstream_slot *st, int *blame)
{
	struct sock_addr addrs[UPSTREAM_ADDRS_MAX];
	char text[SOCK_ADDR_STRLEN];
	const char *why = NULL;
	int64_t began;
	size_t j, na;
	int fd, err = EHOSTUNREACH;

	*blame = 0;
	if ((na = upstreams_addrs(us, k, addrs, &why,
	    clock_now() + c->lc->connect_timeout)) == 0) {
		if (errno == ECANCELED)		/* the stop, not DNS */
			return (-1);
		stats_add(&st->connects[STATS_CONNECT_RESOLVE_FAILED], 1);
		if (log_enabled(LOG_LEVEL_DEBUG) && conn_log_allowed(c))
			log_debug("%s: upstream %s: %s", c->lc->name,
			    upstreams_text(us, k), why);
		errno = EHOSTUNREACH;
		return (-1);
	}
	for (j = 0; j < na; j++) {
		fd = socket(addrs[j].ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			err = errno;
			stats_add(&st->connects[STATS_CONNECT_ERROR], 1);
			continue;
		}
		began = clock_now_us();
		if (io_connect(fd, &addrs[j],
		    clock_now() + c->lc->connect_timeout) == 0) {
			stats_add(&st->connects[STATS_CONNECT_OK], 1);
			stats_observe(&st->connect_time,
			    &stats_connect_buckets, clock_now_us() - began);
			(void)sock_tune_stream(fd, addrs[j].ss.ss_family);
			if (c->lc->upstream_tcp_keepalive.idle > 0 &&
			    addrs[j].ss.ss_family != AF_UNIX)
				(void)sock_keepalive(fd,
				    c->lc->upstream_tcp_keepalive.idle,
				    c->lc->upstream_tcp_keepalive.interval,
				    (int)c->lc->upstream_tcp_keepalive.count);
			c->upstream = addrs[j];
			return (fd);
		}
		err = errno;
		io_close(fd);
		if (err == ECANCELED) {
			errno = err;
			return (-1);
		}
		stats_add(&st->connects[connect_result(err)], 1);
		*blame |= upstream_at_fault(err);
		if (log_enabled(LOG_LEVEL_DEBUG) && conn_log_allowed(c))
			log_debug("%s: upstream %s (%s): %s", c->lc->name,
			    upstreams_text(us, k), sock_addr_format(&addrs[j],
			    text, sizeof(text)), strerror(err));
	}
	errno = err;
	return (-1);
}

/*
 * Try the upstreams the balance picks for c, best first; the connected
 * fd, or -1 with errno: ECANCELED at the stop, else the last attempt's.
 * The upstream's index goes to *k (NO_UPSTREAM if every upstream is
 * known to be down, so nothing was tried), its counters to *stats.  An
 * upstream's active count includes the connect under way, so that
 * least-connections does not send every new client to one that takes
 * its time to answer; on success it stays, for the relay to give back.
 */
#define NO_UPSTREAM	((size_t)-1)

static int
proxy_connect(struct conn *c, struct upstreams *us, size_t *k,
    struct stats_upstream_slot **stats)
{
	size_t order[CONFIG_UPSTREAMS_MAX], n, i, keylen = 0;
	struct balance_claim claim;
	unsigned char key[KEY_MAX];
	atomic_int *active;
	int fd = -1, blame, err = EHOSTUNREACH;

	if (c->lc->balance == BALANCE_SOURCE_HASH)
		keylen = client_key(c, key);
	if ((n = upstreams_pick(us, key, keylen, order, &claim)) == 0)
		*k = NO_UPSTREAM;
	for (i = 0; i < n && fd == -1; i++) {
		*k = order[i];
		*stats = upstreams_stats(us, *k);
		active = upstreams_active(us, *k);
		atomic_fetch_add_explicit(active, 1, memory_order_relaxed);
		if ((fd = connect_upstream(c, us, *k, *stats, &blame)) != -1) {
			upstreams_result(us, *k, BALANCE_OK);
			break;
		}
		err = errno;
		atomic_fetch_sub_explicit(active, 1, memory_order_relaxed);
		if (err == ECANCELED)
			break;
		if (blame)
			upstreams_result(us, *k, BALANCE_FAILED);
	}
	upstreams_release(us, &claim);
	if (fd == -1)
		errno = err;
	return (fd);
}

/*
 * Send ufd the PROXY protocol header that names c's client (the one a
 * header of its own named, if it came through a balancer), with what
 * the client has sent so far in the same write.  Those bytes are
 * counted as relayed; the header is not.  0, or -1 with errno.
 */
static int
send_header(struct conn *c, int ufd, struct stats_upstream_slot *stats)
{
	struct sock_addr dst;
	const struct sock_addr *src = &c->peer;
	size_t hlen;
	ssize_t n;
	char *buf;
	int r, err;

	if (c->proxied != NULL && c->proxied->dst.ss.ss_family != 0)
		dst = c->proxied->dst;
	else if (c->lc->addr.ss.ss_family == AF_UNIX)
		dst = c->lc->addr;	/* bound under a temporary name */
	else {
		dst.len = sizeof(dst.ss);
		if (getsockname(c->fd, (struct sockaddr *)&dst.ss,
		    &dst.len) == -1)
			return (-1);
	}
	/* Both ends local: nothing to tell (v2's LOCAL). */
	if (src->ss.ss_family == AF_UNIX &&
	    c->upstream.ss.ss_family == AF_UNIX)
		src = NULL;
	if ((buf = buf_borrow()) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	if ((hlen = proxyproto_write(buf, BUF_SIZE,
	    c->lc->send_proxy_protocol == SEND_PROXY_V1 ? 1 : 2, src,
	    &dst)) == 0) {
		buf_return(buf);
		errno = EINVAL;
		return (-1);
	}
	/* The client's first bytes, if already here; else the header goes
	 * alone (the upstream may be the one to speak first). */
	if ((n = io_read_now(c->fd, buf + hlen, BUF_SIZE - hlen)) < 0) {
		/* The read took the socket's error: it is ours to report,
		 * or the relay would take the client's reset for a FIN. */
		if (errno != EAGAIN) {
			err = errno;
			buf_return(buf);
			errno = err;
			return (-1);
		}
		n = 0;
	}
	r = io_write(ufd, buf, hlen + (size_t)n, conn_idle_deadline(c));
	err = errno;
	buf_return(buf);
	if (r == -1) {
		errno = err;
		return (-1);
	}
	if (n > 0) {
		conn_count_in(c, (uint64_t)n);
		stats_add(&stats->bytes_out, (uint64_t)n);
	}
	return (0);
}

enum conn_close
proxy_serve(struct conn *c, struct upstreams *us)
{
	struct stats_upstream_slot *stats;
	struct relay *r;
	size_t k;
	int ufd;

	if ((ufd = proxy_connect(c, us, &k, &stats)) == -1) {
		/* The client's stream never reached an upstream: a cut. */
		(void)sock_reset_on_close(c->fd);
		if (errno == ECANCELED)
			return (CONN_SHUTDOWN);
		c->err = errno;
		return (k == NO_UPSTREAM ? CONN_NO_UPSTREAM :
		    CONN_CONNECT_FAILED);
	}
	if (c->lc->send_proxy_protocol != SEND_PROXY_NONE &&
	    send_header(c, ufd, stats) == -1) {
		c->err = errno;
		atomic_fetch_sub_explicit(upstreams_active(us, k), 1,
		    memory_order_relaxed);
		(void)sock_reset_on_close(c->fd);
		(void)sock_reset_on_close(ufd);
		io_close(ufd);
		if (c->err == ECANCELED) {
			c->err = 0;
			return (CONN_SHUTDOWN);
		}
		return (CONN_RESET);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		atomic_fetch_sub_explicit(upstreams_active(us, k), 1,
		    memory_order_relaxed);
		(void)sock_reset_on_close(c->fd);
		(void)sock_reset_on_close(ufd);
		io_close(ufd);
		return (CONN_LIMIT);
	}
	r->c = c;
	r->ufd = ufd;
	r->stats = stats;
	stats_add(&stats->active, 1);
	r->active = upstreams_active(us, k);	/* proxy_connect() added 1 */
	r->limit = c->lc->idle_timeout;
	r->deadline = -1;
	relay_progress(r);
	r->up = (struct direction){ r, c->fd, ufd, 1, !c->lc->splice,
	    PIPES_NONE };
	r->down = (struct direction){ r, ufd, c->fd, 0, !c->lc->splice,
	    PIPES_NONE };
	r->holds = 2;
	if (io_on_error(c->fd, on_side_error, r) == -1 ||
	    io_on_error(ufd, on_side_error, r) == -1 ||
	    loop_spawn(c->loop, pump_resume, &r->down) == -1) {
		r->failed = 1;
		r->decided = 1;
		r->why = CONN_LIMIT;
		r->holds = 1;
		relay_release(r);	/* ends the connection */
		return (CONN_ASLEEP);
	}
	pump(&r->up);
	return (CONN_ASLEEP);	/* the relay ends the connection */
}
