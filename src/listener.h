#ifndef LISTENER_H
#define LISTENER_H

#include <sys/types.h>

#include <stdint.h>

#include "conn.h"

struct accesslog;
struct listen_conf;
struct loop;

/*
 * A listening socket, its accept coroutine and its counters.  It owns
 * the listening fd, every accepted client fd and the client coroutines.
 */
struct listener {
	const struct listen_conf *lc;
	struct loop	*loop;
	int		 fd;		/* -1 once closed */
	dev_t		 unix_dev;	/* our UNIX socket file, to remove */
	ino_t		 unix_ino;
	uint64_t	 active;	/* clients being served */
	uint64_t	 total;		/* clients accepted and served */
	uint64_t	 closed[CONN_CLOSE_MAX];	/* by close reason */
	uint64_t	 bytes_in;	/* from clients, closed connections */
	uint64_t	 bytes_out;	/* to clients */
	struct accesslog *log;		/* NULL: no access log */
	struct upstreams *upstreams;	/* proxy listeners */
	int64_t		 warned_upstream;
	int64_t		 warned_limit;	/* io_now() of the last warning */
	int64_t		 warned_accept;
};

/*
 * listener_open(l, lc, loop):
 * Bind and listen on lc's address.  Returns 0, or -1 with errno set
 * (EADDRINUSE, EACCES, EEXIST for a UNIX path that is not a socket...);
 * the caller logs.  Loop thread.
 */
int	listener_open(struct listener *, const struct listen_conf *,
	    struct loop *);

/*
 * listener_start(l):
 * Start l's accept coroutine: one coroutine per client from now on,
 * until shutdown cancels the accept.  Returns 0, or -1 with errno ENOMEM.
 */
int	listener_start(struct listener *);

/*
 * listener_summary(l, buf, size):
 * l's counters as one line for the log: clients served, by close
 * reason, and bytes each way.  Returns buf.
 */
char	*listener_summary(const struct listener *, char *, size_t);

/*
 * listener_close(l):
 * Close the listening socket if it is still open and remove its UNIX
 * socket file if it is still ours.  Clients are not touched.
 */
void	listener_close(struct listener *);

#endif /* LISTENER_H */
