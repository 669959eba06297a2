/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef BALANCE_H
#define BALANCE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Which upstream a proxy's new client goes to: the balance of one
 * listener, shared by its copies on every loop thread, and what every
 * thread knows of each upstream (up or down, open relays), kept across
 * reloads.  Any thread.
 */

struct health_conf;
struct listen_conf;
struct balancer;

/*
 * What the whole daemon knows of one upstream of one listener, found by
 * (listener name, address) so that a reload that keeps both keeps it.
 * Written by any loop thread (relays, connect results) and by the
 * health checks; read by every pick.
 */
struct upstream_state {
	atomic_int	 active;	/* relays open now, on every thread */
	atomic_int	 up;		/* the active check's verdict: 1 up */
	/* Passive ejection: 0, or the clock_now() until which the upstream
	 * gets no client (max_fails failed connects). */
	_Atomic int64_t	 down_until;
	atomic_int	 trying;	/* a client's trial of it is out */
	/* The active check's runs (health.c, its only writer). */
	atomic_int	 passes;	/* in a row */
	atomic_int	 failures;	/* in a row */
};

/*
 * What a pick reserved, to give back with balance_release() once its
 * client has tried: an ejected upstream's one trial.
 */
struct balance_claim {
	size_t		 trial;		/* its index, or BALANCE_NONE */
	int		 probe;		/* the balancer's one probe */
};

#define BALANCE_NONE	((size_t)-1)

/*
 * balance_create(lc, share):
 * The balance of proxy listener lc: its algorithm, each upstream's
 * weight, backup flag and state.  share: another loop thread's balance
 * of the same listener, which this one then is (one more holder: the
 * turn, the smooth weights and the states are one for the listener);
 * NULL: a new one.  Returns it, or NULL with errno ENOMEM.
 */
struct balancer	*balance_create(const struct listen_conf *,
		    struct balancer *);

/*
 * balance_set_up(b, i, up):
 * The active check's verdict on upstream i: 1 up, 0 down.  Returns 1 if
 * that changed it.  Any thread.
 */
int	balance_set_up(struct balancer *, size_t, int);

/*
 * balance_check_begin(b, hc):
 * The health check hc (set or not) is now the one over b's upstreams:
 * a state that was under another starts afresh, up (a warning says so
 * if it was down).  Called once a configuration is live, never while a
 * reload that may yet fail is being prepared.
 */
void	balance_check_begin(struct balancer *, const struct health_conf *);

/* balance_down(): upstreams a check holds down now, daemon-wide. */
unsigned	balance_down(void);

/* balance_free(b): let go of one holder; the last frees b.  NULL: no-op. */
void	balance_free(struct balancer *);

/*
 * balance_pick(b, key, keylen, order, claim):
 * The upstreams a new client is to try, best first, into order (room
 * for as many as lc has), by lc's balance among the primaries that are
 * up and not ejected; while none is, among the backups (the first that
 * is up first, as HAProxy does).  After the pick come the tier's others
 * in their order, then (for a primary) the backups that are up: a
 * client whose pick refuses it still finds a way.
 *
 * An upstream whose ejection has run out is tried again by one client
 * at a time: first in its order if nothing else is, else last.  While
 * every upstream is ejected, one client at a time (the probe) tries the
 * one ejected longest, so that the first to come back serves at once
 * (nginx tries them all again then; this does without making every
 * client wait on a blackhole).  What the pick reserved goes to *claim:
 * give it back with balance_release().  key: the client's address bytes
 * (or uid) for "source-hash", else ignored.  Returns how many; 0 if every
 * upstream is down (or ejected with a probe out): the client is to be
 * refused at once.
 */
size_t	balance_pick(struct balancer *, const void *, size_t, size_t *,
	    struct balance_claim *);

/*
 * balance_release(b, claim):
 * The client that balance_pick() gave claim has tried (or given up):
 * the trial and probe it held are free again.  Call it on every path.
 */
void	balance_release(struct balancer *, const struct balance_claim *);

/* What a client's connect to an upstream came to, for balance_result(). */
enum balance_outcome {
	BALANCE_OK,		/* connected */
	BALANCE_FAILED,		/* the upstream's fault: refused, timed out */
};

/*
 * balance_result(b, i, outcome):
 * A client's connect to upstream i: passive ejection's count (max_fails
 * within fail_timeout); a success ends an ejection.
 */
void	balance_result(struct balancer *, size_t, enum balance_outcome);

/*
 * balance_state(b, i): upstream i's shared state (its active count is
 * the relay's to keep; the pointer lives as long as b).
 */
struct upstream_state	*balance_state(const struct balancer *, size_t);

#endif /* BALANCE_H */
