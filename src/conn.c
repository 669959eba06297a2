/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conn.c: close reasons, shared by the handlers and the listener.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "edge.h"
#include "io.h"
#include "log.h"

const char *
conn_close_name(enum conn_close why)
{
	static const char *const names[CONN_CLOSE_MAX] = {
		[CONN_CLIENT_FIN] = "client-fin",
		[CONN_UPSTREAM_FIN] = "upstream-fin",
		[CONN_RESET] = "reset",
		[CONN_IDLE_TIMEOUT] = "idle-timeout",
		[CONN_FIN_TIMEOUT] = "fin-timeout",
		[CONN_CONNECT_FAILED] = "connect-failed",
		[CONN_SHUTDOWN] = "shutdown",
		[CONN_LIMIT] = "limit",
		[CONN_BAD_REQUEST] = "bad-request",
		[CONN_HEADER_TIMEOUT] = "header-timeout",
		[CONN_NO_UPSTREAM] = "no-upstream",
	};

	return ((unsigned)why < CONN_CLOSE_MAX ? names[why] : "?");
}

int64_t
conn_idle_deadline(const struct conn *c)
{
	return (c->lc->idle_timeout > 0 ? clock_now() + c->lc->idle_timeout :
	    -1);
}

enum conn_close
conn_close_from_errno(struct conn *c, int err)
{
	switch (err) {
	case ETIMEDOUT:
		/* Before c's deadline, the kernel's: TCP gave up on the
		 * peer (a read or write error), not our timer. */
		if (c->deadline == -1 || clock_now() < c->deadline) {
			c->err = err;
			return (CONN_RESET);
		}
		return (CONN_IDLE_TIMEOUT);
	case ECANCELED:
		return (CONN_SHUTDOWN);
	default:
		c->err = err;
		return (CONN_RESET);
	}
}

int
conn_log_allowed(struct conn *c)
{
	struct conn_lograte *r = c->lograte;
	int64_t now = clock_now();

	if (r == NULL)
		return (1);
	if (now - r->window >= 1000) {
		r->window = now;
		r->lines = 0;
	}
	if (r->lines >= CONN_LOG_PER_SEC) {
		r->suppressed++;
		return (0);
	}
	if (r->lines++ == 0 && r->suppressed > 0) {
		log_debug("%s: %llu connection log lines suppressed (over %d "
		    "a second)", c->lc->name,
		    (unsigned long long)r->suppressed, CONN_LOG_PER_SEC);
		r->suppressed = 0;
	}
	return (1);
}

size_t
conn_access_line(const struct conn *c, enum conn_close why, char *buf,
    size_t size)
{
	char peer[SOCK_ADDR_STRLEN], up[SOCK_ADDR_STRLEN];
	char via[SOCK_ADDR_STRLEN + 1] = "";
	char when[CLOCK_UTC_SIZE];
	int n;

	clock_utc(when, sizeof(when));
	/* Behind a balancer, the ninth field is the balancer's address:
	 * "-" if the header kept the connection's own (LOCAL, UNKNOWN). */
	if (c->lc->proxy_protocol) {
		via[0] = ' ';
		if (c->proxied != NULL)
			sock_addr_format(&c->proxied->via, via + 1,
			    sizeof(via) - 1);
		else
			strcpy(via + 1, "-");
	}
	n = snprintf(buf, size, "%s %s %s %s %lld %llu %llu %s%s\n",
	    when, c->lc->name,
	    sock_addr_format(&c->peer, peer, sizeof(peer)),
	    c->upstream.ss.ss_family != 0 ?
	    sock_addr_format(&c->upstream, up, sizeof(up)) : "-",
	    (long long)(clock_now() - c->started),
	    (unsigned long long)c->bytes_in,
	    (unsigned long long)c->bytes_out, conn_close_name(why), via);
	if (n < 0)
		return (0);
	if ((size_t)n >= size) {
		buf[size - 2] = '\n';
		return (size - 1);
	}
	return ((size_t)n);
}
