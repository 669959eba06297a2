/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.c: the metrics service: HTTP/1.x requests in, Prometheus text
 * out (see metrics.h).
 *
 * Owns nothing: the listener lends the connection.  A request head is
 * read into a borrowed buffer under header_timeout, counted from the
 * accept for the first request and from its first byte for the next
 * ones, so a client that trickles bytes cannot hold a connection past
 * it.  Between requests the connection waits without a stack or a
 * buffer (io_hibernate), for at most idle_timeout; a request that came
 * in the same read as the one before (pipelining) is served from the
 * buffer first.
 *
 * An answer that ends the connection (an error, or a client that asked
 * for no keep-alive) is followed by a lingering close: our FIN, then
 * reading and dropping what the client still sends until its FIN, for
 * LINGER_MS at most.  Closing with unread bytes would make the kernel
 * reset the connection, and the client could lose the answer.
 */
#include "metrics.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "io.h"
#include "log.h"
#include "prom.h"
#include "scrape.h"
#include "sock.h"

/* The longest a closing connection reads what its client still sends. */
#define LINGER_MS	5000

#define EXPOSITION_TYPE	"text/plain; version=0.0.4; charset=utf-8"

static const char index_text[] =
    "aio-echod\n\n/metrics  Prometheus metrics, text format 0.0.4\n";

_Static_assert(BUF_SIZE >= HTTP_HEAD_MAX, "a request head fits a buffer");

static const struct pool *report_pool;

/*
 * Bytes of rendered scrapes this thread holds, waiting for clients to
 * read them.  A client that asks and never reads pins its answer until
 * idle_timeout; past SCRAPES_PINNED_MAX, new scrapes are answered 503,
 * so such clients cannot take more memory than that.
 */
#define SCRAPES_PINNED_MAX	(64 * 1024 * 1024)
static __thread size_t	 scrapes_pinned;

/* What read_head() says beyond a status code to answer (> 0). */
#define HEAD_READ	0	/* a whole head is in the buffer */
#define HEAD_EOF	(-10)	/* the client finished before a request */
#define HEAD_FAILED	(-11)	/* the read failed: errno */

void
metrics_init(const struct pool *pool)
{
	report_pool = pool;
}

/*
 * Write all n bytes of p; 0, or -1 with errno.  In pieces of at most
 * SEND_PIECE: io.c gives the loop a turn between two once the running
 * slice is spent, where a whole large scrape in one write(2) would hold
 * it for the copy of all of it.
 */
#define SEND_PIECE	(64 * 1024)

static int
send_all(struct conn *c, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = io_write_live(c->fd, p, n < SEND_PIECE ? n :
		    SEND_PIECE, &c->deadline, c->lc->idle_timeout)) == -1)
			return (-1);
		conn_count_out(c, (uint64_t)k);
		p += k;
		n -= (size_t)k;
	}
	return (0);
}

/*
 * Answer status with body (len bytes; sent only if with_body), keeping
 * the connection open if keep (minor: the request's HTTP/1.minor, which
 * says whether keep-alive must be spelt out).  0, or -1 with errno.
 */
static int
respond(struct conn *c, int status, const char *type, const char *extra,
    const char *body, size_t len, int with_body, int keep, int minor)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", status,
	    http_status_text(status), type, len, extra, !keep ?
	    "Connection: close\r\n" : minor == 0 ?
	    "Connection: keep-alive\r\n" : "");
	if (send_all(c, head, (size_t)n) == -1)
		return (-1);
	if (with_body && len > 0 && send_all(c, body, len) == -1)
		return (-1);
	return (0);
}

/* A connection cut by a failed read or write (err): reset, and why. */
static enum conn_close
cut(struct conn *c, int err)
{
	enum conn_close why = conn_close_from_errno(c, err);

	(void)sock_reset_on_close(c->fd);
	return (why);
}

/*
 * After an answer that closes: our FIN, then drop what the client sends
 * until its FIN.  Returns why, or the reason the wait failed if why is
 * CONN_CLIENT_FIN (a normal end that did not end normally).
 */
static enum conn_close
linger(struct conn *c, char *buf, enum conn_close why)
{
	int64_t end = clock_now() + LINGER_MS;
	ssize_t n;

	(void)shutdown(c->fd, SHUT_WR);
	while ((n = io_read(c->fd, buf, BUF_SIZE, end)) > 0)
		conn_count_in(c, (uint64_t)n);
	if (n == -1 && errno == ECANCELED)
		return (CONN_SHUTDOWN);
	if (n == -1 && why == CONN_CLIENT_FIN)
		return (errno == ETIMEDOUT ? CONN_IDLE_TIMEOUT :
		    conn_close_from_errno(c, errno));
	return (why);
}

/* Refuse a request with status (an error), then close. */
static enum conn_close
refuse(struct conn *c, char *buf, int status, enum conn_close why)
{
	char body[64], peer[SOCK_ADDR_STRLEN];
	int n;

	if (log_enabled(LOG_LEVEL_DEBUG) && conn_log_allowed(c))
		log_debug("%s %s: %d %s", c->lc->name, sock_addr_format(
		    &c->peer, peer, sizeof(peer)), status,
		    http_status_text(status));
	n = snprintf(body, sizeof(body), "%d %s\n", status,
	    http_status_text(status));
	if (respond(c, status, "text/plain; charset=utf-8", status == 405 ?
	    "Allow: GET, HEAD\r\n" : "", body, (size_t)n, 1, 0, 1) == -1)
		return (cut(c, errno));
	return (linger(c, buf, why));
}

/*
 * Read into buf (holding *len bytes) until it holds a whole request
 * head, by deadline: HEAD_READ with req filled in, a status to refuse
 * the request with, HEAD_EOF, or HEAD_FAILED with errno.
 */
static int
read_head(struct conn *c, char *buf, size_t *len, struct http_request *req,
    int64_t deadline)
{
	ssize_t n;
	int rc;

	for (;;) {
		if ((rc = http_parse_request(buf, *len, req)) != HTTP_PARSE_MORE)
			return (rc);
		if (*len >= HTTP_HEAD_MAX)
			return (431);
		n = io_read(c->fd, buf + *len, HTTP_HEAD_MAX - *len, deadline);
		if (n == 0)
			return (*len == 0 ? HEAD_EOF : 400);
		if (n == -1)
			return (HEAD_FAILED);
		conn_count_in(c, (uint64_t)n);
		*len += (size_t)n;
	}
}

/*
 * Answer the request req: 0 if the connection stays open for the next
 * one; else -1 once it is closed, with the close reason in *why.
 */
static int
answer(struct conn *c, char *buf, const struct http_request *req,
    enum conn_close *why)
{
	struct prom_buf pb;
	int with_body = req->method == HTTP_GET, keep = req->keep_alive;
	int rc;

	if (req->method == HTTP_OTHER) {
		*why = refuse(c, buf, 405, CONN_BAD_REQUEST);
		return (-1);
	}
	if (req->body || !(req->path_len == 1 || (req->path_len == 8 &&
	    memcmp(req->path, "/metrics", 8) == 0))) {
		/* A body (not ours to read), or a path not served. */
		*why = refuse(c, buf, req->body ? 400 : 404,
		    CONN_BAD_REQUEST);
		return (-1);
	}
	if (req->path_len == 1)		/* "/" */
		rc = respond(c, 200, "text/plain; charset=utf-8", "",
		    index_text, sizeof(index_text) - 1, with_body, keep,
		    req->minor);
	else {
		prom_buf_init(&pb);
		if (scrape_render(&pb, report_pool) == -1) {
			prom_buf_free(&pb);
			if (errno == ECANCELED) {	/* a cut: reset */
				(void)sock_reset_on_close(c->fd);
				*why = CONN_SHUTDOWN;
			} else
				*why = refuse(c, buf, 500, CONN_LIMIT);
			return (-1);
		}
		if (scrapes_pinned + pb.len > SCRAPES_PINNED_MAX) {
			prom_buf_free(&pb);
			*why = refuse(c, buf, 503, CONN_LIMIT);
			return (-1);
		}
		scrapes_pinned += pb.len;
		rc = respond(c, 200, EXPOSITION_TYPE, "", pb.data, pb.len,
		    with_body, keep, req->minor);
		scrapes_pinned -= pb.len;
		prom_buf_free(&pb);
	}
	if (rc == -1) {
		*why = cut(c, errno);
		return (-1);
	}
	if (!keep) {
		*why = linger(c, buf, CONN_CLIENT_FIN);
		return (-1);
	}
	return (0);
}

/* The first request's head is due header_timeout after the accept. */
static void
first_request_deadline(struct conn *c)
{
	int64_t due = c->started + c->lc->header_timeout;

	if (c->bytes_in == 0 && c->bytes_out == 0 && (c->deadline == -1 ||
	    due < c->deadline))
		c->deadline = due;
}

/*
 * Serve requests from buf (holding len bytes) and the connection until
 * it ends, or until the buffer is empty between two requests: then
 * return CONN_ASLEEP, and the caller waits for the next one.
 */
static enum conn_close
serve_requests(struct conn *c, char *buf, size_t len)
{
	struct http_request req;
	enum conn_close why;
	int64_t deadline;
	int rc;

	do {
		deadline = (c->bytes_out == 0 ? c->started : clock_now()) +
		    c->lc->header_timeout;
		rc = read_head(c, buf, &len, &req, deadline);
		if (rc == HEAD_EOF)
			return (CONN_CLIENT_FIN);
		if (rc == HEAD_FAILED && errno == ETIMEDOUT &&
		    clock_now() >= deadline)
			return (refuse(c, buf, 408, CONN_HEADER_TIMEOUT));
		if (rc == HEAD_FAILED)
			return (conn_close_from_errno(c, errno));
		if (rc != HEAD_READ)
			return (refuse(c, buf, rc, CONN_BAD_REQUEST));
		/* idle_timeout bounds the writing of the answer. */
		c->deadline = conn_idle_deadline(c);
		if (answer(c, buf, &req, &why) == -1)
			return (why);
		/* Keep what came after the head: a pipelined request. */
		memmove(buf, buf + req.head_len, len - req.head_len);
		len -= req.head_len;
	} while (len > 0);
	return (CONN_ASLEEP);
}

enum conn_close
metrics_serve(struct conn *c)
{
	enum conn_close why;
	ssize_t n;
	char *buf;
	int late;

	first_request_deadline(c);
	for (;;) {
		/* No request in hand: wait for one without a stack. */
		late = 0;
		switch (io_hibernate(c->fd, &c->deadline, c->lc->idle_timeout,
		    1, c->resume, c)) {
		case 1:
			return (CONN_ASLEEP);
		case -1:
			if (errno != ETIMEDOUT || c->bytes_out > 0)
				return (conn_close_from_errno(c, errno));
			late = 1;	/* no first request in time: 408 */
			break;
		}
		if ((buf = buf_borrow()) == NULL)
			return (CONN_LIMIT);
		if (late)
			why = refuse(c, buf, 408, CONN_HEADER_TIMEOUT);
		else if ((n = io_read_now(c->fd, buf, HTTP_HEAD_MAX)) > 0) {
			conn_count_in(c, (uint64_t)n);
			why = serve_requests(c, buf, (size_t)n);
		} else if (n == 0)
			why = CONN_CLIENT_FIN;
		else if (errno == EAGAIN) {
			/* Readiness was stale (io.c looks again after a
			 * short read): asleep again, the same deadline. */
			buf_return(buf);
			continue;
		} else
			why = cut(c, errno);
		buf_return(buf);
		if (why != CONN_ASLEEP)
			return (why);
		/* idle_timeout counts from the last answer. */
		c->deadline = conn_idle_deadline(c);
	}
}
