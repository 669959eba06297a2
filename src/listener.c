/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * listener.c: accepting clients and running one coroutine per client.
 *
 * Owns the listening socket, the accepted fds and the client coroutines'
 * lifetimes; the services (echo.c) only borrow a connection.  Limits are
 * enforced here: over max_connections a new client is accepted and
 * closed at once, and fd exhaustion pauses accepting instead of spinning.
 *
 * A UDP echo (a udp: address) is a listener too, for everything but its
 * clients: its socket is opened, copied per loop thread, adopted from
 * systemd, reconfigured, retired and summarised here like a TCP one,
 * but its coroutine is datagram_loop(), which hands each batch of
 * datagrams to udp.c, instead of accept_loop(); it has no connections.
 *
 * With several loop threads, each has its own copy of every listener
 * (listener_open_copy()): its own socket or fd, accept coroutine,
 * counters, access log and upstreams, so that nothing on a client's path
 * takes a lock.  What must hold for the listener as a whole is kept in
 * atomics of a block the copies share (struct listener_group, and the
 * blocks of the access logs and upstreams): the count of clients
 * against max_connections, the round-robin turn, the times of the last
 * warnings, the dropped access log lines, and the counters of copies
 * already freed.  Each copy holds the block, so copies may go in any
 * order; the last logs the listener's summary.
 *
 * Reloads.  What a client is served by (its listen_conf, in a
 * configuration, and a proxy's upstreams) is a struct listener_settings,
 * held by the listener and by every client accepted under it: a
 * reconfigure makes new settings, and the old ones (and the
 * configuration they hold) are freed when the last client using them
 * ends.  A listener a reload removes (retired) belongs to itself: on a
 * list of its thread, for SIGUSR1, until its accept coroutine has ended
 * and its last client has gone; then it frees itself.  Nothing is kept
 * until exit.  A TCP copy
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
#include "edge.h"
#include "health.h"
#include "metrics.h"
#include "proxy.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "sock.h"
#include "stats.h"
#include "udp.h"
#include "upstream.h"

_Static_assert(CONN_CLOSE_MAX <= STATS_CLOSE_MAX,
    "stats.h counts every close reason");

/* Pause after accept fails for want of fds or memory. */
#define ACCEPT_PAUSE_MS		100

/* What the copies of one listener share, on every loop thread. */
struct listener_group {
	atomic_int	 refs;		/* copies */
	atomic_int	 ncopies;	/* copies made beyond the first */
	atomic_int	 retired;	/* a reload removed it */
	atomic_int	 started;	/* it has accepted: a summary is due */
	atomic_uint_fast64_t all_active;	/* clients on all threads */
	/* clock_now() of the last warning: one for all the copies. */
	_Atomic int64_t	 warned_upstream;
	_Atomic int64_t	 warned_no_upstream;	/* every one down */
	_Atomic int64_t	 warned_limit;
	_Atomic int64_t	 warned_accept;
	/* The counters of the copies freed so far. */
	atomic_uint_fast64_t total;
	atomic_uint_fast64_t closed[CONN_CLOSE_MAX];
	atomic_uint_fast64_t bytes_in;
	atomic_uint_fast64_t bytes_out;
	atomic_uint_fast64_t datagrams[STATS_UDP_MAX];	/* UDP echo */
	atomic_int	 datagram;	/* a UDP echo: its summary */
	char		 name[CONFIG_NAME_MAX + 1];	/* for the summary */
};

/*
 * What a client is served by: held by its listener (while current) and
 * by each client accepted under it.  One thread's.
 */
struct listener_settings {
	int		 holds;
	const struct config *cfg;	/* held: lc is in it */
	const struct listen_conf *lc;
	struct upstreams *upstreams;	/* proxy: held */
	struct stats_listener *stats;	/* held: lc->name's counters */
	struct stats_listener_slot *slot;	/* this thread's of them */
	struct edge_limits *limits;	/* per_source: held, shared */
};

struct listener {
	struct listener_settings *set;	/* new clients' */
	struct listener_group *group;
	struct loop	*loop;
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
	struct conn_lograte lograte;	/* its clients' debug lines */
	int		 accepting;	/* its accept coroutine runs */
	int		 retired;	/* a reload removed it */
	int		 adopted;	/* its socket came from systemd */
	struct udp	*udp;		/* a UDP echo's batch buffers */
	struct health	*health;	/* the first copy's: its checks */
	struct udp_tally tally;		/* a UDP echo's counts */
	struct listener	*next_retired, **prev_retired;	/* this thread's */
};

/* This thread's retired listeners that still have clients. */
static __thread struct listener	*retired_list;

/* Clients of retired listeners, on every thread. */
static atomic_uint_fast64_t	 retired_clients;

static struct listener	*listener_serve(struct listener *, struct pool *,
			    const struct listener *);
static void	start_health(struct listener *, struct listener_settings *);

/*
 * The per-source limits of lc: share's (the first thread's, which a copy
 * shares), prev's if they enforce the same (a reload keeps the counts),
 * or new ones.  NULL with errno ENOMEM; NULL without per_source.
 */
static struct edge_limits *
settings_limits(const struct listen_conf *lc,
    const struct listener_settings *share,
    const struct listener_settings *prev)
{
	errno = 0;
	if (!lc->per_source.set)
		return (NULL);
	if (share != NULL)
		return (edge_limits_hold(share->limits));
	if (prev != NULL && prev->limits != NULL &&
	    edge_limits_same(prev->limits, &lc->per_source))
		return (edge_limits_hold(prev->limits));
	return (edge_limits_create(&lc->per_source));
}

/*
 * New settings for lc of cfg; upstreams: the same ones to hold again, or
 * NULL to make new ones (proxy) sharing share's turn.  prev: the
 * settings they replace (a reload), or NULL.  NULL with errno ENOMEM.
 */
static struct listener_settings *
settings_create(const struct config *cfg, const struct listen_conf *lc,
    struct upstreams *upstreams, struct loop *loop, struct pool *pool,
    const struct listener_settings *share,
    const struct listener_settings *prev)
{
	struct listener_settings *set;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return (NULL);
	set->holds = 1;
	set->lc = lc;
	if ((set->limits = settings_limits(lc, share, prev)) == NULL &&
	    errno != 0) {
		free(set);
		return (NULL);
	}
	if ((set->stats = stats_listener_get(lc->name)) == NULL) {
		edge_limits_put(set->limits);
		free(set);
		return (NULL);
	}
	set->slot = stats_listener_slot(set->stats);
	if (lc->datagram)
		stats_listener_mark_datagram(set->stats);
	if (upstreams != NULL)
		set->upstreams = upstreams_hold(upstreams);
	else if (lc->service == SERVICE_PROXY && (set->upstreams =
	    upstreams_create(cfg, lc, loop, pool, share != NULL ?
	    share->upstreams : NULL)) == NULL) {
		stats_listener_put(set->stats);
		edge_limits_put(set->limits);
		free(set);
		errno = ENOMEM;
		return (NULL);
	}
	set->cfg = config_hold(cfg);
	return (set);
}

/* Let go of set; the last holder frees it. */
static void
settings_free(struct listener_settings *set)
{
	if (set == NULL || --set->holds > 0)
		return;
	upstreams_free(set->upstreams);
	edge_limits_put(set->limits);
	stats_listener_put(set->stats);
	config_free((struct config *)set->cfg);
	free(set);
}

/*
 * A listener with nothing open yet, serving lc of cfg: a copy of the
 * listener whose group is group, or (NULL) a first.
 */
static struct listener *
listener_new(struct listener_group *group, struct loop *loop, int thread)
{
	struct listener *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (NULL);
	l->loop = loop;
	l->fd = -1;
	l->thread = thread;
	if (group == NULL && (group = calloc(1, sizeof(*group))) == NULL) {
		free(l);
		return (NULL);
	}
	if (thread > 0)
		atomic_fetch_add(&group->ncopies, 1);
	atomic_fetch_add(&group->refs, 1);
	l->group = group;
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
listener_open(const struct config *cfg, const struct listen_conf *lc,
    struct loop *loop, struct pool *pool, int copied)
{
	const char *path = sock_unix_path(&lc->addr);
	struct listener *l;
	struct stat st;

	if ((l = listener_new(NULL, loop, 0)) == NULL)
		return (NULL);
	snprintf(l->group->name, sizeof(l->group->name), "%s", lc->name);
	if ((l->set = settings_create(cfg, lc, NULL, loop, pool,
	    NULL, NULL)) == NULL)
		return (listener_fail(l));
	if (lc->datagram)
		l->fd = sock_udp_open(&lc->addr, 0);
	else
		l->fd = sock_listen(&lc->addr, (int)lc->backlog,
		    (mode_t)lc->socket_mode, (gid_t)lc->socket_group);
	if (l->fd == -1)
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
	return (listener_serve(l, pool, NULL));
}

struct listener *
listener_adopt(const struct config *cfg, const struct listen_conf *lc,
    int fd, struct loop *loop, struct pool *pool)
{
	struct listener *l;
	int flags;

	if ((l = listener_new(NULL, loop, 0)) == NULL)
		return (NULL);
	snprintf(l->group->name, sizeof(l->group->name), "%s", lc->name);
	l->fd = fd;
	l->adopted = 1;		/* and no UNIX socket file of ours */
	if ((l->set = settings_create(cfg, lc, NULL, loop, pool,
	    NULL, NULL)) == NULL ||
	    (flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    (lc->datagram && sock_udp_pktinfo(fd, lc->addr.ss.ss_family) == -1))
		return (listener_fail(l));
	return (listener_serve(l, pool, NULL));
}

int
listener_copy_socket(const struct listener *first)
{
	const struct listen_conf *lc = first->set->lc;

	/* systemd's socket was not made to be joined: share it. */
	if (!first->adopted && lc->datagram && lc->reuseport)
		return (sock_udp_open(&lc->addr, 1));
	if (!first->adopted && sock_unix_path(&lc->addr) == NULL &&
	    lc->reuseport)
		return (sock_listen_join(&lc->addr, (int)lc->backlog));
	return (fcntl(first->fd, F_DUPFD_CLOEXEC, 0));
}

struct listener *
listener_open_copy(const struct listener *first, const struct config *cfg,
    const struct listen_conf *lc, int thread, int fd, struct loop *loop,
    struct pool *pool)
{
	struct listener *l;

	if ((l = listener_new(first->group, loop, thread)) == NULL) {
		close(fd);
		return (NULL);
	}
	l->fd = fd;
	l->adopted = first->adopted;
	if ((l->set = settings_create(cfg, lc, NULL, loop, pool,
	    first->set, NULL)) == NULL)
		return (listener_fail(l));
	return (listener_serve(l, pool, first));
}

int
listener_same_socket(const struct listener *l, const struct listen_conf *lc)
{
	return (l->set->lc->datagram == lc->datagram &&
	    sock_addr_equal(&l->set->lc->addr, &lc->addr));
}

/* 1 if the two access_log settings name the same file (or none). */
static int
same_log(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

int
listener_reconfigure(struct listener *l, const struct listener *first,
    const struct config *cfg, const struct listen_conf *lc,
    struct pool *pool)
{
	struct listener_settings *set;
	struct upstreams *ups = l->set->upstreams;
	struct accesslog *log = NULL;
	/* A renamed listener's log counts its drops under the new name. */
	int keep_log = same_log(l->set->lc->access_log, lc->access_log) &&
	    strcmp(l->set->lc->name, lc->name) == 0;

	/* The same upstreams keep their object: its names resolved, its
	 * turn.  Otherwise new ones; the old stay for older clients. */
	if (ups != NULL && !(lc->service == SERVICE_PROXY &&
	    upstreams_same(ups, cfg, lc)))
		ups = NULL;
	/* What can fail first, so that failing changes nothing. */
	if ((set = settings_create(cfg, lc, ups, l->loop, pool,
	    first != NULL ? first->set : NULL, l->set)) == NULL)
		return (-1);
	if (!keep_log && lc->access_log != NULL) {
		if ((log = accesslog_create(lc->access_log, pool,
		    first != NULL ? first->log : NULL)) == NULL) {
			settings_free(set);
			return (-1);
		}
		accesslog_count_drops(log, set->stats);
	}
	if (ups != NULL)
		upstreams_rebind(ups, cfg, lc);
	/* Upstreams kept (the same list, the same check) keep their
	 * checks running; new ones get new checks, whose state is kept
	 * where the upstream and the check are the same (balance.c). */
	if (ups == NULL && (l->health != NULL ||
	    (first == NULL && l->accepting))) {
		health_stop(l->health);
		l->health = NULL;
		start_health(l, set);
	}
	if (!keep_log) {
		accesslog_close(l->log);	/* its lines still written */
		l->log = log;
	}
	settings_free(l->set);
	l->set = set;
	if (first == NULL)	/* one writer: the first thread's */
		snprintf(l->group->name, sizeof(l->group->name), "%s",
		    lc->name);
	return (0);
}

/* Unlink a retired l from its thread's list. */
static void
retired_unlink(struct listener *l)
{
	if (l->prev_retired == NULL)
		return;
	if (l->next_retired != NULL)
		l->next_retired->prev_retired = l->prev_retired;
	*l->prev_retired = l->next_retired;
	l->prev_retired = NULL;
}

/* A retired l whose accept has ended and whose clients have gone. */
static void
retired_free_if_done(struct listener *l)
{
	if (!l->retired || l->accepting || l->active > 0)
		return;
	retired_unlink(l);
	accesslog_close(l->log);	/* its last lines still written */
	l->log = NULL;
	listener_free(l);
}

void
listener_retire(struct listener *l)
{
	health_stop(l->health);
	l->health = NULL;
	l->retired = 1;
	atomic_store(&l->group->retired, 1);
	atomic_fetch_add(&retired_clients, l->active);
	l->next_retired = retired_list;
	if (retired_list != NULL)
		retired_list->prev_retired = &l->next_retired;
	l->prev_retired = &retired_list;
	retired_list = l;
	/* Its accept coroutine frees l as it ends, maybe within io_abort():
	 * l is not touched after it. */
	if (l->accepting && l->fd != -1)
		io_abort(l->fd, ECANCELED);
	else if (!l->accepting)
		retired_free_if_done(l);
}

/*
 * The second half of opening l, whose socket and settings are ready: its
 * access log, sharing first's counts (NULL: l is a first).  Returns l, or
 * NULL with errno after freeing l.
 */
static struct listener *
listener_serve(struct listener *l, struct pool *pool,
    const struct listener *first)
{
	const struct listen_conf *lc = l->set->lc;

	if (lc->datagram) {
		atomic_store(&l->group->datagram, 1);
		if ((l->udp = udp_create()) == NULL)
			return (listener_fail(l));
	}
	if (lc->access_log != NULL) {
		if ((l->log = accesslog_create(lc->access_log, pool,
		    first != NULL ? first->log : NULL)) == NULL)
			return (listener_fail(l));
		accesslog_count_drops(l->log, l->set->stats);
	}
	return (l);
}

/* Close the listening socket and remove our UNIX socket file. */
static void
listener_close(struct listener *l)
{
	const char *path;
	struct stat st;

	if (l->fd != -1) {
		io_close(l->fd);
		l->fd = -1;
	}
	/* Remove the socket file only if nobody has replaced it since. */
	if (l->unix_ino != 0 && l->set != NULL && (path = sock_unix_path(&l->set->lc->addr)) !=
	    NULL && stat(path, &st) == 0 && st.st_dev == l->unix_dev &&
	    st.st_ino == l->unix_ino)
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
	struct listener *l;
	size_t i, logs = 0;

	for (i = 0; i < n; i++)
		if (ls[i]->log != NULL) {
			accesslog_reopen(ls[i]->log);
			logs++;
		}
	for (l = retired_list; l != NULL; l = l->next_retired)
		if (l->log != NULL) {
			accesslog_reopen(l->log);
			logs++;
		}
	return (logs);
}

uint64_t
listener_clients(const struct listener *l)
{
	return (atomic_load(&l->group->all_active));
}

uint64_t
listener_retired_clients(void)
{
	return (atomic_load(&retired_clients));
}

const char *
listener_name(const struct listener *l)
{
	return (l->set->lc->name);
}

/*
 * Append ", N name" to line (n bytes used of size) for each nonzero
 * count[i], i from first to max; returns the new length.
 */
static size_t
append_counts(char *line, size_t n, size_t size,
    const atomic_uint_fast64_t *count, int first, int max,
    const char *(*name)(int))
{
	uint64_t k;
	int i;

	for (i = first; i < max && n < size; i++)
		if ((k = atomic_load(&count[i])) > 0)
			n += (size_t)snprintf(line + n, size - n, ", %llu %s",
			    (unsigned long long)k, name(i));
	return (n);
}

static const char *
udp_result_name(int i)
{
	static const char *const names[STATS_UDP_MAX] = { "echoed", "port",
	    "rate", "denied", "send buffer full" };

	return (names[i]);
}

static const char *
close_name(int i)
{
	return (conn_close_name((enum conn_close)i));
}

/*
 * The summary of group g, all its copies' counters folded in: clients
 * by close reason, or a UDP echo's datagrams by result; then bytes.
 */
static void
log_summary(struct listener_group *g)
{
	char line[512];
	uint64_t dropped = 0;
	size_t n;
	int i;

	if (atomic_load(&g->datagram)) {
		for (i = STATS_UDP_ECHOED + 1; i < STATS_UDP_MAX; i++)
			dropped += atomic_load(&g->datagrams[i]);
		n = (size_t)snprintf(line, sizeof(line), "%llu datagrams "
		    "echoed, %llu dropped", (unsigned long long)atomic_load(
		    &g->datagrams[STATS_UDP_ECHOED]),
		    (unsigned long long)dropped);
		n = append_counts(line, n, sizeof(line), g->datagrams,
		    STATS_UDP_ECHOED + 1, STATS_UDP_MAX, udp_result_name);
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%llu served",
		    (unsigned long long)atomic_load(&g->total));
		n = append_counts(line, n, sizeof(line), g->closed, 0,
		    CONN_CLOSE_MAX, close_name);
	}
	if (n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, "; %llu bytes in, "
		    "%llu bytes out",
		    (unsigned long long)atomic_load(&g->bytes_in),
		    (unsigned long long)atomic_load(&g->bytes_out));
	log_info("%s%s: %s", g->name, atomic_load(&g->retired) ?
	    " (removed by a reload)" : "", line);
}

/* Add l's counters to its group's; the last copy logs the summary and
 * frees the group. */
static void
group_leave(struct listener *l)
{
	struct listener_group *g = l->group;
	int i;

	atomic_fetch_add(&g->total, l->total);
	atomic_fetch_add(&g->bytes_in, l->bytes_in);
	atomic_fetch_add(&g->bytes_out, l->bytes_out + l->tally.bytes_out);
	atomic_fetch_add(&g->bytes_in, l->tally.bytes_in);
	for (i = 0; i < CONN_CLOSE_MAX; i++)
		atomic_fetch_add(&g->closed[i], l->closed[i]);
	for (i = 0; i < STATS_UDP_MAX; i++)
		atomic_fetch_add(&g->datagrams[i], l->tally.datagrams[i]);
	if (atomic_fetch_sub(&g->refs, 1) > 1)
		return;
	/* One that never started (a failed start or reload): none. */
	if (atomic_load(&g->started))
		log_summary(g);
	free(g);
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	health_stop(l->health);
	listener_close(l);
	retired_unlink(l);
	accesslog_free(l->log);
	udp_free(l->udp);
	group_leave(l);
	settings_free(l->set);
	free(l);
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
	if (atomic_load(&l->group->ncopies) > 0)
		snprintf(buf, size, "%s%d", prefix, l->thread);
	return (buf);
}

/* The debug line of a closed client. */
static void
conn_log_close(const struct listener *l, struct conn *c,
    enum conn_close why)
{
	char peer[SOCK_ADDR_STRLEN], where[32];

	if (!log_enabled(LOG_LEVEL_DEBUG) || !conn_log_allowed(c))
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
	/* Three escaped UNIX paths, the name and the numbers. */
	char line[3 * SOCK_ADDR_STRLEN + CONFIG_NAME_MAX + 128];

	l->closed[why]++;
	l->bytes_in += c->bytes_in;
	l->bytes_out += c->bytes_out;
	stats_add(&c->stats->closed[why], 1);
	if (l->log != NULL)
		accesslog_write(l->log, line,
		    conn_access_line(c, why, line, sizeof(line)));
}

/* The end of a client: close, log (unless quiet), count, free. */
static void
conn_end(struct conn *c, enum conn_close why, int quiet)
{
	struct listener *l = c->l;

	io_close(c->fd);
	if (!quiet)
		conn_log_close(l, c, why);
	if (c->limits != NULL)
		edge_source_leave(c->limits, &c->ticket);
	stats_sub(&c->stats->active, 1);
	stats_observe(&c->stats->duration, &stats_duration_buckets,
	    (clock_now() - c->started) * 1000);
	l->active--;
	atomic_fetch_sub(&l->group->all_active, 1);
	if (l->retired)
		atomic_fetch_sub(&retired_clients, 1);
	conn_account(l, c, why);
	coro_set_label(NULL);		/* the name may go with the settings */
	settings_free(c->settings);
	free(c->proxied);
	free(c);
	retired_free_if_done(l);
}

/* The end of a client, with its debug line. */
static void
conn_finish(struct conn *c, enum conn_close why)
{
	conn_end(c, why, 0);
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
		why = proxy_serve(c, c->settings->upstreams);
		if (why == CONN_CONNECT_FAILED &&
		    log_ratelimit(&l->group->warned_upstream))
			log_warnx("%s: no upstream reachable: %s", c->lc->name,
			    strerror(c->err));
		else if (why == CONN_NO_UPSTREAM &&
		    log_ratelimit(&l->group->warned_no_upstream))
			log_warnx("%s: every upstream is down: clients are "
			    "refused", c->lc->name);
		break;
	case SERVICE_METRICS:
		why = metrics_serve(c);
		break;
	case SERVICE_ECHO:
	default:
		why = echo_serve(c);
		break;
	}
	if (why != CONN_ASLEEP)
		conn_finish(c, why);
}

/*
 * Refuse a client at accept: a reset, counted by reason.  A limit of the
 * daemon's (warn) is a warning, once a minute for the listener; a rule
 * that refused this client (an edge check) a debug line, within the
 * listener's budget, so that a scan cannot fill the log.
 */
static void
conn_reject(struct listener *l, int fd, const struct sock_addr *peer,
    enum stats_reject reason, const char *what, int warn)
{
	struct conn c = { .peer = *peer, .lc = l->set->lc,
	    .started = clock_now(), .lograte = &l->lograte,
	    .stats = l->set->slot };
	char text[SOCK_ADDR_STRLEN];

	/* A refused client is cut, not served: a reset, not a FIN. */
	(void)sock_reset_on_close(fd);
	close(fd);
	stats_add(&c.stats->rejected[reason], 1);
	conn_account(l, &c, CONN_LIMIT);
	if (warn && log_ratelimit(&l->group->warned_limit))
		log_warnx("%s: %s: closing new clients", c.lc->name, what);
	else if (log_enabled(LOG_LEVEL_DEBUG) && conn_log_allowed(&c))
		log_debug("%s %s: closed (limit): %s", c.lc->name,
		    sock_addr_format(peer, text, sizeof(text)), what);
}

/*
 * A client whose PROXY protocol header must come first: read it, check
 * the client it names (allow, deny, per_source), then serve it.  One
 * that fails is refused as at accept: a reset, and the reason counted.
 */
static void
conn_edge_main(void *arg)
{
	struct conn *c = arg;
	struct listener_settings *set = c->settings;
	enum stats_reject reason = STATS_REJECT_PROXY_HEADER;
	char text[SOCK_ADDR_STRLEN];
	const char *what = NULL;

	coro_set_label(c->lc->name);
	if (edge_read_header(c, &what) == -1) {
		if (c->err == ECANCELED) {
			/* The stop came first: a cut, of a client that
			 * counts as accepted, as any other the stop ends. */
			c->err = 0;
			(void)sock_reset_on_close(c->fd);
			stats_add(&c->stats->accepted, 1);
			conn_finish(c, CONN_SHUTDOWN);
			return;
		}
	} else if (edge_check_lists(c->lc, &c->peer, &reason, &what) == 0 &&
	    (set->limits == NULL || edge_source_enter(set->limits, &c->peer,
	    &c->ticket, &reason, &what) == 0)) {
		c->limits = set->limits;
		stats_add(&c->stats->accepted, 1);
		/* Idle from now: the header's time was its own limit's. */
		c->deadline = conn_idle_deadline(c);
		conn_main(c);
		return;
	}
	(void)sock_reset_on_close(c->fd);
	stats_add(&c->stats->rejected[reason], 1);
	/* One line, with the reason, in place of conn_finish()'s. */
	if (log_enabled(LOG_LEVEL_DEBUG) && conn_log_allowed(c))
		log_debug("%s %s: closed (limit): %s%s%s", c->lc->name,
		    sock_addr_format(&c->peer, text, sizeof(text)), what,
		    c->err ? ": " : "", c->err ? strerror(c->err) : "");
	c->err = 0;
	conn_end(c, CONN_LIMIT, 1);
}

/*
 * Serve a new client; its place in the group's all_active is taken, and
 * in its source's count if ticket is not NULL.
 */
static void
conn_start(struct listener *l, int fd, const struct sock_addr *peer,
    const struct srclimit_ticket *ticket)
{
	struct conn *c;
	const struct listen_conf *lc = l->set->lc;
	int edge = lc->proxy_protocol;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		atomic_fetch_sub(&l->group->all_active, 1);
		if (ticket != NULL)
			edge_source_leave(l->set->limits, ticket);
		conn_reject(l, fd, peer, STATS_REJECT_OUT_OF_MEMORY,
		    "out of memory", 1);
		return;
	}
	c->fd = fd;
	c->peer = *peer;
	c->settings = l->set;
	c->settings->holds++;
	c->lc = lc;
	c->l = l;
	c->loop = l->loop;
	c->lograte = &l->lograte;
	c->stats = l->set->slot;
	if (ticket != NULL) {
		c->limits = l->set->limits;
		c->ticket = *ticket;
	}
	c->started = clock_now();
	c->deadline = c->lc->idle_timeout > 0 ?
	    c->started + c->lc->idle_timeout : -1;
	c->resume = conn_main;
	c->finish = conn_finish;
	(void)sock_tune_stream(fd, peer->ss.ss_family);
	if (lc->tcp_keepalive.idle > 0)
		(void)sock_keepalive(fd, lc->tcp_keepalive.idle,
		    lc->tcp_keepalive.interval,
		    (int)lc->tcp_keepalive.count);
	l->active++;
	l->total++;
	/* A counter never goes back: accepted only once the client runs
	 * (active first, as the client may end within the spawn), and
	 * behind a header once the header has been read. */
	stats_add(&c->stats->active, 1);
	if (loop_spawn(l->loop, edge ? conn_edge_main : conn_main, c) == -1) {
		stats_sub(&c->stats->active, 1);
		l->active--;
		l->total--;
		atomic_fetch_sub(&l->group->all_active, 1);
		if (ticket != NULL)
			edge_source_leave(l->set->limits, ticket);
		settings_free(c->settings);
		free(c);
		conn_reject(l, fd, peer, STATS_REJECT_OUT_OF_MEMORY,
		    "cannot map a coroutine stack "
		    "(memory or vm.max_map_count)", 1);
		return;
	}
	if (!edge)
		stats_add(&l->set->slot->accepted, 1);
}

/* accept failed: pause on resource shortage.  -1 once cancelled. */
static int
accept_failed(struct listener *l)
{
	if (log_ratelimit(&l->group->warned_accept))
		log_warn("%s: accept (pausing %d ms)", listener_name(l),
		    ACCEPT_PAUSE_MS);
	return (io_pause(clock_now() + ACCEPT_PAUSE_MS));
}

/*
 * Whether a client just accepted may be served, and its place taken: the
 * edge's rules, max_connections, then its source's limits (unless a
 * PROXY header will name the client).  Returns 0 (*entered: its
 * source's count taken, *ticket holds it), or -1 once it has been
 * refused.
 */
static int
admit(struct listener *l, int fd, const struct sock_addr *peer,
    struct srclimit_ticket *ticket, int *entered)
{
	const struct listen_conf *lc = l->set->lc;
	enum stats_reject reason;
	const char *what;

	*entered = 0;
	if (edge_admit_peer(lc, fd, peer, &reason, &what) == -1) {
		conn_reject(l, fd, peer, reason, what, 0);
		return (-1);
	}
	/* Counted before the check: two threads cannot both take the last
	 * place. */
	if (atomic_fetch_add(&l->group->all_active, 1) >=
	    (uint64_t)lc->max_connections) {
		atomic_fetch_sub(&l->group->all_active, 1);
		conn_reject(l, fd, peer, STATS_REJECT_MAX_CONNECTIONS,
		    "max_connections reached", 1);
		return (-1);
	}
	/* Last: a client refused for another reason spends no token. */
	if (!lc->proxy_protocol && l->set->limits != NULL) {
		if (edge_source_enter(l->set->limits, peer, ticket, &reason,
		    &what) == -1) {
			atomic_fetch_sub(&l->group->all_active, 1);
			conn_reject(l, fd, peer, reason, what, 0);
			return (-1);
		}
		*entered = 1;
	}
	return (0);
}

static void
accept_loop(void *arg)
{
	struct listener *l = arg;
	struct srclimit_ticket ticket;
	struct sock_addr peer;
	char where[32];
	int fd, entered;

	while (!l->retired) {
		if ((fd = io_accept(l->fd, &peer, -1)) == -1) {
			if (errno == ECANCELED || accept_failed(l) == -1)
				break;
			continue;
		}
		if (admit(l, fd, &peer, &ticket, &entered) == 0)
			conn_start(l, fd, &peer, entered ? &ticket : NULL);
	}
	listener_close(l);
	log_info("%s: stopped accepting%s (%llu served, %llu active)",
	    listener_name(l), thread_text(l, " on loop thread ", where,
	    sizeof(where)), (unsigned long long)l->total,
	    (unsigned long long)l->active);
	l->accepting = 0;
	retired_free_if_done(l);	/* the last use of l */
}

/* recvmmsg failed with err (not for the stop): pause.  -1 once
 * cancelled. */
static int
receive_failed(struct listener *l, int err)
{
	errno = err;		/* for log_warn() */
	if (log_ratelimit(&l->group->warned_accept))
		log_warn("%s: recvmmsg (pausing %d ms)", listener_name(l),
		    ACCEPT_PAUSE_MS);
	return (io_pause(clock_now() + ACCEPT_PAUSE_MS));
}

/*
 * A UDP echo's coroutine, in place of accept_loop(): a batch at a time
 * (udp.c), each under the settings current when it starts, held across
 * its wait in case a reload replaces them meanwhile.
 */
static void
datagram_loop(void *arg)
{
	struct listener *l = arg;
	struct listener_settings *set;
	char where[32];
	int r, err;

	while (!l->retired) {
		set = l->set;
		set->holds++;
		r = udp_echo_batch(l->udp, l->fd, set->lc, set->limits,
		    set->slot, &l->tally);
		err = errno;	/* the last hold's free may change it */
		settings_free(set);
		if (r == -1 && (err == ECANCELED || err == EBADF ||
		    receive_failed(l, err) == -1))
			break;
	}
	listener_close(l);
	log_info("%s: stopped receiving%s (%llu datagrams echoed)",
	    listener_name(l), thread_text(l, " on loop thread ", where,
	    sizeof(where)), (unsigned long long)l->tally.datagrams[
	    STATS_UDP_ECHOED]);
	l->accepting = 0;
	retired_free_if_done(l);	/* the last use of l */
}

/*
 * The first copy of a proxy listener with health_check runs the checks
 * of its upstreams (set's), for every loop thread.  A failure to start
 * them is a warning: the upstreams then count as up, as without checks.
 */
static void
start_health(struct listener *l, struct listener_settings *set)
{
	const struct listen_conf *lc = set->lc;

	if (l->thread != 0 || lc->service != SERVICE_PROXY)
		return;
	/* Now that these settings are live: a changed or removed check
	 * starts its upstreams afresh. */
	upstreams_check_begin(set->upstreams, lc);
	if (!lc->health_check.set)
		return;
	if ((l->health = health_start(l->loop, set->upstreams, lc)) == NULL)
		log_warn("%s: health checks not started", lc->name);
}

int
listener_start(struct listener *l)
{
	atomic_store(&l->group->started, 1);
	l->accepting = 1;	/* before it runs: it may end at once */
	if (loop_spawn(l->loop, l->udp != NULL ? datagram_loop : accept_loop,
	    l) == -1) {
		l->accepting = 0;
		return (-1);
	}
	start_health(l, l->set);
	return (0);
}

void
listener_announce(const struct listener *l)
{
	const struct listen_conf *lc = l->set->lc;

	log_info("%s: listening on %s (%s%s)", lc->name, lc->address,
	    config_service_name(lc->service), l->adopted ?
	    ", socket from systemd" : "");
}
