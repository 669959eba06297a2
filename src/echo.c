/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * echo.c: the echo service (RFC 862).
 *
 * Owns nothing: the listener lends the connection.  Each turn waits for
 * the client with no buffer held and no stack (io_hibernate: the
 * coroutine ends, and a new one starts here when the client sends), then
 * borrows a buffer, reads, writes it all back and returns it, so an idle
 * client costs only its struct conn and its fd's state.
 * While the client does not read, the write parks and nothing more is
 * read: the client's own socket buffer absorbs the rest (backpressure).
 *
 * A client is closed with a FIN only when everything it sent has been
 * echoed.  Cut while an echo is still pending (idle_timeout on the write
 * or with echoes still in the send queue, the shutdown, a write error),
 * it gets a reset instead, so it cannot mistake the short echo for a
 * whole one.
 *
 * idle_timeout counts from the last progress: a byte read, a byte
 * written, or a byte the client took from the socket's send queue, which
 * io.c looks at while the connection waits (io_write_live, io_hibernate).
 * So a client that reads slowly is not cut, even while its write never
 * becomes writable or it has an echo still queued in the kernel.
 */
#include "echo.h"

#include <sys/socket.h>

#include <errno.h>

#include "buf.h"
#include "config.h"
#include "io.h"
#include "sock.h"

enum conn_close
echo_serve(struct conn *c)
{
	int64_t limit = c->lc->idle_timeout;
	const char *p;
	ssize_t n, k;
	void *buf;

	for (;;) {
		/* Between messages the stack goes back: c holds it all. */
		switch (io_hibernate(c->fd, &c->deadline, limit, 1, c->resume,
		    c)) {
		case 1:
			return (CONN_ASLEEP);
		case -1:
			/* Echoes still queued, the client cut: a reset. */
			if (errno == ETIMEDOUT && sock_unsent(c->fd) > 0)
				(void)sock_reset_on_close(c->fd);
			return (conn_close_from_errno(c, errno));
		}
		if ((buf = buf_borrow()) == NULL)
			return (CONN_LIMIT);
		n = io_read_now(c->fd, buf, BUF_SIZE);
		if (n == -1 && errno == EAGAIN) {
			buf_return(buf);	/* readiness was stale */
			continue;
		}
		if (n <= 0) {
			buf_return(buf);
			if (n == -1) {
				(void)sock_reset_on_close(c->fd);
				return (conn_close_from_errno(c, errno));
			}
			/* Half-close: all was echoed; send our FIN too. */
			shutdown(c->fd, SHUT_WR);
			return (CONN_CLIENT_FIN);
		}
		conn_count_in(c, (uint64_t)n);
		c->deadline = conn_idle_deadline(c);
		/* Each write, and each byte the client takes, is progress. */
		for (p = buf; n > 0; p += k, n -= k) {
			if ((k = io_write_live(c->fd, p, (size_t)n,
			    &c->deadline, limit)) == -1) {
				buf_return(buf);
				(void)sock_reset_on_close(c->fd);
				return (conn_close_from_errno(c, errno));
			}
			conn_count_out(c, (uint64_t)k);
		}
		buf_return(buf);
	}
}
