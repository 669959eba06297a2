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
 * echoed.  Cut while an echo is still pending (idle_timeout on the write,
 * the shutdown, a write error), it gets a reset instead, so it cannot
 * mistake the short echo for a whole one.
 */
#include "echo.h"

#include <sys/socket.h>

#include <errno.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "io.h"
#include "sock.h"

/* The next deadline, or -1 when idle_timeout is 0 (none). */
static int64_t
idle_deadline(const struct conn *c)
{
	return (c->lc->idle_timeout > 0 ? clock_now() + c->lc->idle_timeout :
	    -1);
}

enum conn_close
echo_serve(struct conn *c)
{
	ssize_t n;
	void *buf;

	for (;;) {
		/* Between messages the stack goes back: c holds it all. */
		switch (io_hibernate(c->fd, c->deadline, 1, c->resume, c)) {
		case 1:
			return (CONN_ASLEEP);
		case -1:
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
		c->bytes_in += (uint64_t)n;
		if (io_write(c->fd, buf, (size_t)n, idle_deadline(c)) == -1) {
			buf_return(buf);
			(void)sock_reset_on_close(c->fd);
			return (conn_close_from_errno(c, errno));
		}
		c->bytes_out += (uint64_t)n;
		buf_return(buf);
		c->deadline = idle_deadline(c);
	}
}
