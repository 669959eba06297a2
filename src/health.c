/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * health.c: a proxy listener's active health checks.
 *
 * Owns the checks' coroutines and what they learn; the verdict goes to
 * the upstream's shared state (balance.c), which every loop thread's
 * picks read, and to the metrics.
 *
 * DESIGN.  One check per upstream for the whole daemon, whatever the
 * loop threads: the listener's first copy starts them (listener.c), on
 * its own loop thread, with its upstreams (whose resolved names they
 * share).  A parent coroutine waits out the interval (an idle wait on an
 * eventfd: the stop sequence ends it at once, and health_stop() wakes it
 * with io_abort()), then starts one child per upstream and joins them,
 * so that every upstream is checked at the same pace however slowly one
 * answers.  A check is a connect within the timeout, to every address
 * of the upstream's name until one passes; with send, that is written;
 * with expect, the reply must start with it, read within the timeout.
 * Checks never touch a client: a slow or hung upstream costs a parked
 * coroutine, not the loop.  The check's socket is closed with a reset,
 * as HAProxy does, so that checks leave no TIME_WAIT behind.
 */
#include "health.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "balance.h"
#include "clock.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "loop.h"
#include "sock.h"
#include "stats.h"
#include "upstream.h"

struct health {
	struct loop		*loop;
	struct upstreams	*us;		/* held */
	char			*listener;
	struct health_conf	 conf;		/* send, expect: our copies */
	int			 efd;		/* the parent waits on it */
	int			 stopped;
	int			 holds;		/* the listener, the parent */
	uint64_t		 rng;		/* the jitter's */
};

/* One upstream's check in a round: a child coroutine's. */
struct check {
	struct health		*h;
	size_t			 i;
	enum stats_check	 result;
	int			 ours;		/* failed by our fault, not its */
	char			 why[96];	/* for a failure's log line */
	char			 addr[SOCK_ADDR_STRLEN];
};

/* xorshift64*: the jitter needs no more. */
static uint64_t
next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 0x2545f4914f6cdd1dULL);
}

/*
 * The check's verdict on a failed call that left err.  Running out of
 * fds, memory or local ports is ours, not the upstream's: counted as an
 * error, but it moves no upstream up or down (a local overload must not
 * become an outage of every upstream).
 */
static enum stats_check
failure(int err, const char *what, struct check *ck)
{
	ck->ours = err == EMFILE || err == ENFILE || err == ENOMEM ||
	    err == ENOBUFS || err == EADDRNOTAVAIL || err == ECANCELED;
	if (err == ECONNREFUSED) {
		snprintf(ck->why, sizeof(ck->why), "connection refused");
		return (STATS_CHECK_REFUSED);
	}
	if (err == ETIMEDOUT) {
		snprintf(ck->why, sizeof(ck->why), "timeout%s%s",
		    *what != '\0' ? " " : "", what);
		return (STATS_CHECK_TIMEOUT);
	}
	snprintf(ck->why, sizeof(ck->why), "%s%s%s", what,
	    *what != '\0' ? ": " : "", strerror(err));
	return (STATS_CHECK_ERROR);
}

/* Check one address of ck's upstream within deadline. */
static enum stats_check
check_addr(struct check *ck, const struct sock_addr *sa, int64_t deadline)
{
	const struct health_conf *hc = &ck->h->conf;
	size_t want = hc->expect != NULL ? strlen(hc->expect) : 0, got = 0;
	enum stats_check r = STATS_CHECK_OK;
	char reply[CONFIG_EXPECT_MAX];
	ssize_t n;
	int fd;

	if (want > sizeof(reply))	/* the configuration says no */
		want = sizeof(reply);
	fd = socket(sa->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (failure(errno, "socket", ck));
	/* It serves no client: the stop does not wait for it. */
	if (io_set_idle(fd) == -1)
		r = failure(errno, "", ck);
	else if (io_connect(fd, sa, deadline) == -1)
		r = failure(errno, "", ck);
	else if (hc->send != NULL && io_write(fd, hc->send,
	    strlen(hc->send), deadline) == -1)
		r = failure(errno, "writing", ck);
	while (r == STATS_CHECK_OK && got < want) {
		if ((n = io_read(fd, reply + got, want - got, deadline)) > 0) {
			/* A wrong start is wrong at once. */
			if (memcmp(reply + got, hc->expect + got,
			    (size_t)n) != 0)
				break;
			got += (size_t)n;
			continue;
		}
		if (n == 0) {
			snprintf(ck->why, sizeof(ck->why), "closed before "
			    "the reply was whole");
			r = STATS_CHECK_BAD_REPLY;
		} else
			r = failure(errno, "waiting for the reply", ck);
	}
	/* Each piece was compared as it came: short means wrong. */
	if (r == STATS_CHECK_OK && got < want) {
		snprintf(ck->why, sizeof(ck->why), "bad reply");
		r = STATS_CHECK_BAD_REPLY;
	}
	(void)sock_reset_on_close(fd);
	io_close(fd);
	return (r);
}

/*
 * A child: check upstream ck->i, every address until one passes, each
 * within the timeout (as the proxy gives each its connect_timeout); the
 * lookup of a name has a timeout of its own.
 */
static void
check_main(void *arg)
{
	struct check *ck = arg;
	struct health *h = ck->h;
	struct sock_addr addrs[UPSTREAM_ADDRS_MAX];
	const char *why = "no addresses";
	size_t n, j;

	ck->addr[0] = '\0';
	ck->ours = 0;
	if ((n = upstreams_addrs(h->us, ck->i, addrs, &why,
	    clock_now() + h->conf.timeout)) == 0) {
		snprintf(ck->why, sizeof(ck->why), "%s", why);
		/* A full worker queue, or the stop: not the name's fault. */
		ck->ours = errno == EAGAIN || errno == ECANCELED ||
		    errno == ENOMEM;
		ck->result = ck->ours ? STATS_CHECK_ERROR :
		    STATS_CHECK_RESOLVE_FAILED;
		return;
	}
	for (j = 0; j < n; j++) {
		ck->ours = 0;
		(void)sock_addr_format(&addrs[j], ck->addr, sizeof(ck->addr));
		ck->result = check_addr(ck, &addrs[j],
		    clock_now() + h->conf.timeout);
		if (ck->result == STATS_CHECK_OK)
			return;
		if (j + 1 < n)
			log_debug("%s: upstream %s (%s): check failed: %s",
			    h->listener, upstreams_text(h->us, ck->i),
			    ck->addr, ck->why);
	}
}

/* What ck's result does to its upstream: runs, and maybe a change. */
static void
record(struct check *ck)
{
	struct health *h = ck->h;
	struct upstream_state *st = upstreams_state(h->us, ck->i);
	const char *text = upstreams_text(h->us, ck->i);
	/* The address checked, if the upstream is a name for it. */
	int named = ck->addr[0] != '\0' && strcmp(ck->addr, text) != 0;
	int runs;

	stats_add(&upstreams_stats(h->us, ck->i)->checks[ck->result], 1);
	if (ck->ours) {
		log_debug("%s: upstream %s: check not made: %s", h->listener,
		    text, ck->why);
		return;
	}
	if (ck->result == STATS_CHECK_OK) {
		atomic_store(&st->failures, 0);
		runs = atomic_fetch_add(&st->passes, 1) + 1;
		if (runs >= h->conf.rise && upstreams_set_up(h->us, ck->i, 1))
			log_warnx("%s: upstream %s%s%s%s is up: %d checks "
			    "passed", h->listener, text, named ? " (" : "",
			    named ? ck->addr : "", named ? ")" : "", runs);
		return;
	}
	atomic_store(&st->passes, 0);
	runs = atomic_fetch_add(&st->failures, 1) + 1;
	if (runs >= h->conf.fall && upstreams_set_up(h->us, ck->i, 0))
		log_at(LOG_LEVEL_CRIT, 0, "%s: upstream %s%s%s%s is down: %s "
		    "(%d checks failed)", h->listener, text, named ? " (" : "",
		    named ? ck->addr : "", named ? ")" : "", ck->why, runs);
	else
		log_debug("%s: upstream %s: check failed: %s", h->listener,
		    text, ck->why);
}

/* Let go of h; the last holder frees it. */
static void
health_free(struct health *h)
{
	if (--h->holds > 0)
		return;
	if (h->efd != -1)
		io_close(h->efd);
	upstreams_free(h->us);
	free(h->conf.send);
	free(h->conf.expect);
	free(h->listener);
	free(h);
}

/* The parent: a round of checks every interval, until stopped. */
static void
health_main(void *arg)
{
	struct health *h = arg;
	size_t n = upstreams_count(h->us), i;
	struct loop_child *child;
	struct check *ck;
	int64_t wait;

	child = calloc(n, sizeof(*child));
	ck = calloc(n, sizeof(*ck));
	/* The first round soon: upstreams count as up until it says. */
	wait = (int64_t)(next_random(&h->rng) %
	    (uint64_t)(h->conf.interval / 10 + 1));
	while (child != NULL && ck != NULL && !h->stopped) {
		if (io_wait_idle(h->efd, clock_now() + wait) == 0 ||
		    errno != ETIMEDOUT || h->stopped)
			break;
		for (i = 0; i < n; i++) {
			ck[i].h = h;
			ck[i].i = i;
			if (loop_spawn_child(h->loop, &child[i], check_main,
			    &ck[i]) == -1) {
				check_main(&ck[i]);	/* inline, then */
				child[i].done = 1;
			}
		}
		for (i = 0; i < n; i++)
			if (!child[i].done)
				loop_join(&child[i]);
		/* Not at the stop: its cancelled checks say nothing. */
		for (i = 0; i < n && !h->stopped &&
		    loop_state(h->loop) == LOOP_RUNNING; i++)
			record(&ck[i]);
		memset(child, 0, n * sizeof(*child));
		/* interval, less up to a tenth of it */
		wait = h->conf.interval - (int64_t)(next_random(&h->rng) %
		    (uint64_t)(h->conf.interval / 10 + 1));
	}
	/* Ended but not stopped (out of memory, a failed wait): what the
	 * checks said must not stand unchecked.  Up, as without checks. */
	if (!h->stopped && loop_state(h->loop) == LOOP_RUNNING) {
		log_warnx("%s: health checks ended (%s): every upstream "
		    "counts as up", h->listener, child == NULL || ck == NULL ?
		    "out of memory" : strerror(errno));
		for (i = 0; i < n; i++)
			(void)upstreams_set_up(h->us, i, 1);
	}
	free(child);
	free(ck);
	health_free(h);
}

struct health *
health_start(struct loop *loop, struct upstreams *us,
    const struct listen_conf *lc)
{
	struct health *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	h->efd = -1;
	h->holds = 1;
	h->loop = loop;
	h->us = upstreams_hold(us);
	h->conf = lc->health_check;
	h->conf.send = h->conf.expect = NULL;
	h->rng = (uint64_t)clock_now_us() | 1;
	if ((h->listener = strdup(lc->name)) == NULL ||
	    (lc->health_check.send != NULL && (h->conf.send =
	    strdup(lc->health_check.send)) == NULL) ||
	    (lc->health_check.expect != NULL && (h->conf.expect =
	    strdup(lc->health_check.expect)) == NULL) ||
	    (h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		health_free(h);
		errno = ENOMEM;
		return (NULL);
	}
	h->holds = 2;
	if (loop_spawn(loop, health_main, h) == -1) {
		h->holds = 1;
		health_free(h);
		errno = ENOMEM;
		return (NULL);
	}
	return (h);
}

void
health_stop(struct health *h)
{
	if (h == NULL)
		return;
	h->stopped = 1;
	io_abort(h->efd, ECANCELED);
	health_free(h);
}
