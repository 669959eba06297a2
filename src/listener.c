/*
 * listener.c: accepting clients and running one coroutine per client.
 *
 * Owns the listening socket, the accepted fds and the client coroutines'
 * lifetimes; the services (echo.c) only borrow a connection.  Limits are
 * enforced here: over max_connections a new client is accepted and
 * closed at once, and fd exhaustion pauses accepting instead of spinning.
 */
#include "listener.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "coro.h"
#include "echo.h"
#include "proxy.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "sock.h"
#include "upstream.h"

/* Pause after accept fails for want of fds or memory. */
#define ACCEPT_PAUSE_MS		100

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
	int64_t		 warned_limit;	/* clock_now() of the last warning */
	int64_t		 warned_accept;
};

struct listener *
listener_open(const struct listen_conf *lc, struct loop *loop,
    struct pool *pool, int64_t resolve_interval)
{
	const char *path = sock_unix_path(&lc->addr);
	struct listener *l;
	struct stat st;
	int saved;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (NULL);
	l->lc = lc;
	l->loop = loop;
	if ((l->fd = sock_listen(&lc->addr, (int)lc->backlog,
	    (mode_t)lc->socket_mode, (gid_t)lc->socket_group)) == -1)
		goto fail;
	if (path != NULL && stat(path, &st) == 0) {
		l->unix_dev = st.st_dev;
		l->unix_ino = st.st_ino;
	}
	if (lc->access_log != NULL &&
	    (l->log = accesslog_create(lc->access_log, pool)) == NULL)
		goto fail_stop;
	if (lc->service == SERVICE_PROXY && (l->upstreams =
	    upstreams_create(lc, loop, pool, resolve_interval)) == NULL)
		goto fail_stop;
	return (l);

fail_stop:
	saved = errno;
	listener_free(l);
	errno = saved;
	return (NULL);
fail:
	saved = errno;
	free(l);
	errno = saved;
	return (NULL);
}

/* Close the listening socket and remove our UNIX socket file. */
static void
listener_close(struct listener *l)
{
	const char *path = sock_unix_path(&l->lc->addr);
	struct stat st;

	if (l->fd != -1) {
		io_close(l->fd);
		l->fd = -1;
	}
	/* Remove the socket file only if nobody has replaced it since. */
	if (path != NULL && l->unix_ino != 0 && stat(path, &st) == 0 &&
	    st.st_dev == l->unix_dev && st.st_ino == l->unix_ino)
		unlink(path);
	l->unix_ino = 0;
}

void
listener_stop(struct listener *l)
{
	listener_close(l);
	if (l->log != NULL)
		accesslog_flush(l->log);
}

size_t
listeners_reopen_logs(struct listener *const *ls, size_t n)
{
	size_t i, logs = 0;

	for (i = 0; i < n; i++)
		if (ls[i]->log != NULL) {
			accesslog_reopen(ls[i]->log);
			logs++;
		}
	return (logs);
}

const char *
listener_name(const struct listener *l)
{
	return (l->lc->name);
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	listener_close(l);
	accesslog_free(l->log);
	upstreams_free(l->upstreams);
	free(l);
}

char *
listener_summary(const struct listener *l, char *buf, size_t size)
{
	size_t n;
	int i;

	n = (size_t)snprintf(buf, size, "%llu served",
	    (unsigned long long)l->total);
	for (i = 0; i < CONN_CLOSE_MAX && n < size; i++)
		if (l->closed[i] > 0)
			n += (size_t)snprintf(buf + n, size - n, ", %llu %s",
			    (unsigned long long)l->closed[i],
			    conn_close_name((enum conn_close)i));
	if (n < size)
		snprintf(buf + n, size - n, "; %llu bytes in, %llu bytes out",
		    (unsigned long long)l->bytes_in,
		    (unsigned long long)l->bytes_out);
	return (buf);
}

static void
conn_log_close(const struct conn *c, enum conn_close why)
{
	char peer[SOCK_ADDR_STRLEN];

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	sock_addr_format(&c->peer, peer, sizeof(peer));
	log_debug("%s %s: closed (%s%s%s) after %lld ms, %llu bytes in, "
	    "%llu bytes out", c->lc->name, peer, conn_close_name(why),
	    c->err ? ": " : "", c->err ? strerror(c->err) : "",
	    (long long)(clock_now() - c->started),
	    (unsigned long long)c->bytes_in,
	    (unsigned long long)c->bytes_out);
}

/* Count a finished connection and write its access log line. */
static void
conn_account(struct listener *l, const struct conn *c, enum conn_close why)
{
	/* Two escaped UNIX paths, the name and the numbers. */
	char line[2 * SOCK_ADDR_STRLEN + CONFIG_NAME_MAX + 128];

	l->closed[why]++;
	l->bytes_in += c->bytes_in;
	l->bytes_out += c->bytes_out;
	if (l->log != NULL)
		accesslog_write(l->log, line,
		    conn_access_line(c, why, line, sizeof(line)));
}

/* The end of a client: close, log, count, free. */
static void
conn_finish(struct conn *c, enum conn_close why)
{
	struct listener *l = c->l;

	io_close(c->fd);
	conn_log_close(c, why);
	l->active--;
	conn_account(l, c, why);
	free(c);
}

/*
 * A client's coroutine: serve, then (unless the handler went to sleep
 * without a stack, or its relay ends the connection) finish.  Also where
 * a sleeping handler starts again.
 */
static void
conn_main(void *arg)
{
	struct conn *c = arg;
	struct listener *l = c->l;
	enum conn_close why;

	coro_set_label(c->lc->name);	/* named if its stack overflows */

	switch (c->lc->service) {
	case SERVICE_PROXY:
		why = proxy_serve(c, l->upstreams);
		if (why == CONN_CONNECT_FAILED &&
		    log_ratelimit(&l->warned_upstream))
			log_warnx("%s: no upstream reachable: %s", l->lc->name,
			    strerror(c->err));
		break;
	case SERVICE_ECHO:
	default:
		why = echo_serve(c);
		break;
	}
	if (why != CONN_ASLEEP)
		conn_finish(c, why);
}

static void
conn_reject(struct listener *l, int fd, const struct sock_addr *peer,
    const char *what)
{
	struct conn c = { .peer = *peer, .lc = l->lc, .started = clock_now() };
	char text[SOCK_ADDR_STRLEN];

	close(fd);
	conn_account(l, &c, CONN_LIMIT);
	if (log_ratelimit(&l->warned_limit))
		log_warnx("%s: %s: closing new clients", l->lc->name, what);
	else if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("%s %s: closed (limit): %s", l->lc->name,
		    sock_addr_format(peer, text, sizeof(text)), what);
}

static void
conn_start(struct listener *l, int fd, const struct sock_addr *peer)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		conn_reject(l, fd, peer, "out of memory");
		return;
	}
	c->fd = fd;
	c->peer = *peer;
	c->lc = l->lc;
	c->l = l;
	c->loop = l->loop;
	c->started = clock_now();
	c->deadline = c->lc->idle_timeout > 0 ?
	    c->started + c->lc->idle_timeout : -1;
	c->resume = conn_main;
	c->finish = conn_finish;
	(void)sock_tune_stream(fd, peer->ss.ss_family);
	l->active++;
	l->total++;
	if (loop_spawn(l->loop, conn_main, c) == -1) {
		l->active--;
		l->total--;
		free(c);
		conn_reject(l, fd, peer, "cannot map a coroutine stack "
		    "(memory or vm.max_map_count)");
	}
}

/* accept failed: pause on resource shortage.  -1 once cancelled. */
static int
accept_failed(struct listener *l)
{
	if (log_ratelimit(&l->warned_accept))
		log_warn("%s: accept (pausing %d ms)", l->lc->name,
		    ACCEPT_PAUSE_MS);
	return (io_sleep(clock_now() + ACCEPT_PAUSE_MS));
}

static void
accept_loop(void *arg)
{
	struct listener *l = arg;
	struct sock_addr peer;
	int fd;

	for (;;) {
		if ((fd = io_accept(l->fd, &peer, -1)) == -1) {
			if (errno == ECANCELED || accept_failed(l) == -1)
				break;
			continue;
		}
		if (l->active >= (uint64_t)l->lc->max_connections)
			conn_reject(l, fd, &peer, "max_connections reached");
		else
			conn_start(l, fd, &peer);
	}
	listener_close(l);
	log_info("%s: stopped accepting (%llu served, %llu active)",
	    l->lc->name, (unsigned long long)l->total,
	    (unsigned long long)l->active);
}

int
listener_start(struct listener *l)
{
	return (loop_spawn(l->loop, accept_loop, l));
}
