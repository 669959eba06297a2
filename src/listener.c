/*
 * listener.c: accepting clients and running one coroutine per client.
 *
 * Owns the listening socket, the accepted fds and the client coroutines'
 * lifetimes; the services (echo.c) only borrow a connection.  Limits are
 * enforced here: over max_connections a new client is accepted and
 * closed at once, and fd exhaustion pauses accepting instead of spinning.
 *
 * With several loop threads, each has its own copy of every listener
 * (listener_open_copy()): its own socket or fd, accept coroutine,
 * counters, access log and upstreams, so that nothing on a client's path
 * takes a lock.  What must hold for the listener as a whole is kept in
 * atomics of the first copy (or of its access log and upstreams): the
 * count of clients against max_connections, the round-robin turn, the
 * times of the last warnings, the dropped access log lines.  A TCP copy
 * has a socket of its own on the same port (SO_REUSEPORT: the kernel
 * spreads the clients); a UNIX one (or a TCP one with reuseport = false)
 * a duplicate of the first copy's fd, which every thread watches and the
 * first to wake accepts from.
 */
#include "listener.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
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

static struct listener	*listener_serve(struct listener *, struct pool *,
			    int64_t);

struct listener {
	const struct listen_conf *lc;
	struct loop	*loop;
	struct listener	*first;		/* the first thread's copy (or l) */
	atomic_uint_fast64_t all_active; /* first: clients on all threads */
	atomic_int	 ncopies;	/* first: copies made of it */
	int		 thread;	/* loop thread number: 0 for first */
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
	struct upstreams **old_upstreams;	/* replaced by reloads, still */
	size_t		 nold_upstreams;	/* used by older clients */
	int		 retired;	/* a reload removed it */
	int		 adopted;	/* its socket came from systemd */
	/* clock_now() of the last warning; the first copy's serve all. */
	_Atomic int64_t	 warned_upstream;
	_Atomic int64_t	 warned_limit;
	_Atomic int64_t	 warned_accept;
};

/* A listener with nothing open yet: first's copy, or (NULL) a first. */
static struct listener *
listener_new(const struct listen_conf *lc, struct loop *loop,
    struct listener *first, int thread)
{
	struct listener *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (NULL);
	l->lc = lc;
	l->loop = loop;
	l->fd = -1;
	l->first = first != NULL ? first : l;
	l->thread = thread;
	if (first != NULL)
		atomic_fetch_add(&first->ncopies, 1);
	return (l);
}

/* Free a listener that failed to open, keeping errno. */
static struct listener *
listener_fail(struct listener *l)
{
	int saved = errno;

	listener_free(l);
	errno = saved;
	return (NULL);
}

struct listener *
listener_open(const struct listen_conf *lc, struct loop *loop,
    struct pool *pool, int64_t resolve_interval, int copied)
{
	const char *path = sock_unix_path(&lc->addr);
	struct listener *l;
	struct stat st;

	if ((l = listener_new(lc, loop, NULL, 0)) == NULL)
		return (NULL);
	if ((l->fd = sock_listen(&lc->addr, (int)lc->backlog,
	    (mode_t)lc->socket_mode, (gid_t)lc->socket_group)) == -1)
		return (listener_fail(l));
	if (path != NULL && stat(path, &st) == 0) {
		l->unix_dev = st.st_dev;
		l->unix_ino = st.st_ino;
	}
	/* Shared only if there will be copies to share it with: a port
	 * open to SO_REUSEPORT is one that any process of our user may
	 * join, and take clients from. */
	if (copied && path == NULL && lc->reuseport &&
	    sock_listen_share(l->fd) == -1)
		return (listener_fail(l));
	return (listener_serve(l, pool, resolve_interval));
}

struct listener *
listener_adopt(const struct listen_conf *lc, int fd, struct loop *loop,
    struct pool *pool, int64_t resolve_interval)
{
	struct listener *l;
	int flags;

	if ((l = listener_new(lc, loop, NULL, 0)) == NULL)
		return (NULL);
	l->fd = fd;
	l->adopted = 1;		/* and no UNIX socket file of ours */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return (listener_fail(l));
	return (listener_serve(l, pool, resolve_interval));
}

int
listener_copy_socket(const struct listener *first)
{
	const struct listen_conf *lc = first->lc;

	/* systemd's socket was not made to be joined: share it. */
	if (!first->adopted && sock_unix_path(&lc->addr) == NULL &&
	    lc->reuseport)
		return (sock_listen_join(&lc->addr, (int)lc->backlog));
	return (fcntl(first->fd, F_DUPFD_CLOEXEC, 0));
}

struct listener *
listener_open_copy(struct listener *first, int thread, int fd,
    struct loop *loop, struct pool *pool, int64_t resolve_interval)
{
	struct listener *l;

	if ((l = listener_new(first->lc, loop, first, thread)) == NULL) {
		close(fd);
		return (NULL);
	}
	l->fd = fd;
	return (listener_serve(l, pool, resolve_interval));
}

int
listener_same_socket(const struct listener *l, const struct listen_conf *lc)
{
	return (sock_addr_equal(&l->lc->addr, &lc->addr));
}

/* Keep a replaced upstreams object until l goes: clients may use it. */
static int
keep_old_upstreams(struct listener *l)
{
	struct upstreams **grown;

	if (l->upstreams == NULL)
		return (0);
	grown = realloc(l->old_upstreams,
	    (l->nold_upstreams + 1) * sizeof(*grown));
	if (grown == NULL)
		return (-1);
	l->old_upstreams = grown;
	l->old_upstreams[l->nold_upstreams++] = l->upstreams;
	l->upstreams = NULL;
	return (0);
}

int
listener_reconfigure(struct listener *l, const struct listen_conf *lc,
    struct pool *pool, int64_t resolve_interval)
{
	const struct listen_conf *old = l->lc;
	struct accesslog *log = NULL;
	struct upstreams *ups = NULL;
	int same_log, same_ups;

	same_log = (old->access_log == NULL && lc->access_log == NULL) ||
	    (old->access_log != NULL && lc->access_log != NULL &&
	    strcmp(old->access_log, lc->access_log) == 0);
	/* The same upstreams keep their object: its names resolved, its
	 * turn.  Otherwise a new one; the old stays for older clients. */
	same_ups = lc->service == SERVICE_PROXY && l->upstreams != NULL &&
	    upstreams_same(l->upstreams, lc, resolve_interval);
	/* What can fail first, so that failing changes nothing. */
	if (!same_log && lc->access_log != NULL && (log =
	    accesslog_create(lc->access_log, pool, l->first != l ?
	    l->first->log : NULL)) == NULL)
		return (-1);
	if (!same_ups && lc->service == SERVICE_PROXY && (ups =
	    upstreams_create(lc, l->loop, pool, resolve_interval,
	    l->first != l ? l->first->upstreams : NULL)) == NULL)
		goto fail;
	if (same_ups)
		upstreams_rebind(l->upstreams, lc);
	else {
		if (keep_old_upstreams(l) == -1)
			goto fail;
		l->upstreams = ups;
	}
	if (!same_log) {
		accesslog_close(l->log);	/* its lines still written */
		l->log = log;
	}
	l->lc = lc;
	return (0);

fail:
	accesslog_free(log);
	upstreams_free(ups);
	errno = ENOMEM;
	return (-1);
}

void
listener_retire(struct listener *l)
{
	l->retired = 1;
	if (l->fd != -1)
		io_abort(l->fd, ECANCELED);
}

/*
 * The second half of opening l, whose socket is ready: its access log
 * and (proxy) upstreams.  Returns l, or NULL with errno after freeing l.
 */
static struct listener *
listener_serve(struct listener *l, struct pool *pool,
    int64_t resolve_interval)
{
	const struct listen_conf *lc = l->lc;

	if (lc->access_log != NULL &&
	    (l->log = accesslog_create(lc->access_log, pool,
	    l->first != l ? l->first->log : NULL)) == NULL)
		return (listener_fail(l));
	if (lc->service == SERVICE_PROXY && (l->upstreams =
	    upstreams_create(lc, l->loop, pool, resolve_interval,
	    l->first != l ? l->first->upstreams : NULL)) == NULL)
		return (listener_fail(l));
	return (l);
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

uint64_t
listener_clients(struct listener *l)
{
	return (atomic_load(&l->first->all_active));
}

const struct listener *
listener_first(const struct listener *l)
{
	return (l->first);
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
	while (l->nold_upstreams > 0)
		upstreams_free(l->old_upstreams[--l->nold_upstreams]);
	free(l->old_upstreams);
	free(l);
}

char *
listener_summary(const struct listener *const *ls, size_t nls, char *buf,
    size_t size)
{
	uint64_t total = 0, closed[CONN_CLOSE_MAX] = { 0 };
	uint64_t bytes_in = 0, bytes_out = 0;
	size_t k, n;
	int i;

	for (k = 0; k < nls; k++) {
		total += ls[k]->total;
		bytes_in += ls[k]->bytes_in;
		bytes_out += ls[k]->bytes_out;
		for (i = 0; i < CONN_CLOSE_MAX; i++)
			closed[i] += ls[k]->closed[i];
	}
	n = (size_t)snprintf(buf, size, "%llu served",
	    (unsigned long long)total);
	for (i = 0; i < CONN_CLOSE_MAX && n < size; i++)
		if (closed[i] > 0)
			n += (size_t)snprintf(buf + n, size - n, ", %llu %s",
			    (unsigned long long)closed[i],
			    conn_close_name((enum conn_close)i));
	if (n < size)
		snprintf(buf + n, size - n, "; %llu bytes in, %llu bytes out",
		    (unsigned long long)bytes_in,
		    (unsigned long long)bytes_out);
	return (buf);
}

/*
 * l's loop thread for its log lines, as prefix then the number ("" if
 * there is only one loop thread).  Returns buf.
 */
static char *
thread_text(const struct listener *l, const char *prefix, char *buf,
    size_t size)
{
	buf[0] = '\0';
	if (atomic_load(&l->first->ncopies) > 0)
		snprintf(buf, size, "%s%d", prefix, l->thread);
	return (buf);
}

/* The debug line of a closed client. */
static void
conn_log_close(const struct listener *l, const struct conn *c,
    enum conn_close why)
{
	char peer[SOCK_ADDR_STRLEN], where[32];

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	sock_addr_format(&c->peer, peer, sizeof(peer));
	log_debug("%s %s: closed (%s%s%s) after %lld ms, %llu bytes in, "
	    "%llu bytes out%s", c->lc->name, peer, conn_close_name(why),
	    c->err ? ": " : "", c->err ? strerror(c->err) : "",
	    (long long)(clock_now() - c->started),
	    (unsigned long long)c->bytes_in,
	    (unsigned long long)c->bytes_out,
	    thread_text(l, ", loop thread ", where, sizeof(where)));
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
	conn_log_close(l, c, why);
	l->active--;
	atomic_fetch_sub(&l->first->all_active, 1);
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
		    log_ratelimit(&l->first->warned_upstream))
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
	if (log_ratelimit(&l->first->warned_limit))
		log_warnx("%s: %s: closing new clients", l->lc->name, what);
	else if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("%s %s: closed (limit): %s", l->lc->name,
		    sock_addr_format(peer, text, sizeof(text)), what);
}

/* Serve a new client; its place in l->first->all_active is taken. */
static void
conn_start(struct listener *l, int fd, const struct sock_addr *peer)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		atomic_fetch_sub(&l->first->all_active, 1);
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
		atomic_fetch_sub(&l->first->all_active, 1);
		free(c);
		conn_reject(l, fd, peer, "cannot map a coroutine stack "
		    "(memory or vm.max_map_count)");
	}
}

/* accept failed: pause on resource shortage.  -1 once cancelled. */
static int
accept_failed(struct listener *l)
{
	if (log_ratelimit(&l->first->warned_accept))
		log_warn("%s: accept (pausing %d ms)", l->lc->name,
		    ACCEPT_PAUSE_MS);
	return (io_sleep(clock_now() + ACCEPT_PAUSE_MS));
}

static void
accept_loop(void *arg)
{
	struct listener *l = arg;
	struct sock_addr peer;
	char where[32];
	int fd;

	while (!l->retired) {
		if ((fd = io_accept(l->fd, &peer, -1)) == -1) {
			if (errno == ECANCELED || accept_failed(l) == -1)
				break;
			continue;
		}
		if (l->retired) {	/* a reload removed it meanwhile */
			close(fd);
			break;
		}
		/* Counted before the check: two threads cannot both take
		 * the last place. */
		if (atomic_fetch_add(&l->first->all_active, 1) >=
		    (uint64_t)l->lc->max_connections) {
			atomic_fetch_sub(&l->first->all_active, 1);
			conn_reject(l, fd, &peer, "max_connections reached");
		} else
			conn_start(l, fd, &peer);
	}
	listener_close(l);
	log_info("%s: stopped accepting%s (%llu served, %llu active)",
	    l->lc->name, thread_text(l, " on loop thread ", where,
	    sizeof(where)), (unsigned long long)l->total,
	    (unsigned long long)l->active);
}

int
listener_start(struct listener *l)
{
	return (loop_spawn(l->loop, accept_loop, l));
}
