/*
 * conn.c: close reasons, shared by the handlers and the listener.
 */
#include "conn.h"

#include <errno.h>

const char *
conn_close_name(enum conn_close why)
{
	static const char *const names[CONN_CLOSE_MAX] = {
		[CONN_CLIENT_FIN] = "client-fin",
		[CONN_UPSTREAM_FIN] = "upstream-fin",
		[CONN_RESET] = "reset",
		[CONN_IDLE_TIMEOUT] = "idle-timeout",
		[CONN_CONNECT_FAILED] = "connect-failed",
		[CONN_SHUTDOWN] = "shutdown",
		[CONN_LIMIT] = "limit",
	};

	return ((unsigned)why < CONN_CLOSE_MAX ? names[why] : "?");
}

enum conn_close
conn_close_from_errno(struct conn *c, int err)
{
	switch (err) {
	case ETIMEDOUT:
		return (CONN_IDLE_TIMEOUT);
	case ECANCELED:
		return (CONN_SHUTDOWN);
	default:
		c->err = err;
		return (CONN_RESET);
	}
}
