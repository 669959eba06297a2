/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef STATS_H
#define STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The daemon's counters, for the metrics service.  Each is counted where
 * it happens, on the data path, so counting must cost nothing there: a
 * counter has one slot per loop thread, written only by that thread
 * (stats_add(): a relaxed load and store, a plain add on x86-64, no lock,
 * no atomic read-modify-write), in a cache line no other thread writes.
 * A scrape, on any thread, reads every slot with relaxed loads and sums
 * them (stats_snapshot()).
 *
 * Counters are kept by name, not by object, so that they run on across
 * reloads: a listener's by its name, an upstream's by its listener's name
 * and its text as configured.  Whoever counts holds the block
 * (stats_listener_get(), stats_upstream_get()); the last to let go of a
 * name frees it, and its series leave the scrape.  The registry of names
 * has a lock, taken only when a block is made or freed (a listener opens
 * or goes) and while a scrape copies the counters, never per connection.
 */

/* What a connection's end is counted under: enum conn_close (conn.h). */
#define STATS_CLOSE_MAX		11

/* Why a client was closed at accept. */
enum stats_reject {
	STATS_REJECT_MAX_CONNECTIONS,	/* "max_connections" */
	STATS_REJECT_OUT_OF_MEMORY,	/* "out_of_memory": no conn, no stack */
	STATS_REJECT_DENIED,	/* "denied": allow, deny, allow_uid */
	STATS_REJECT_PROXY_FROM,	/* "proxy_from": a sender not in
					   proxy_protocol_from */
	STATS_REJECT_PROXY_HEADER,	/* "proxy_header": invalid, cut or
					   late */
	STATS_REJECT_SOURCE_LIMIT,	/* "source_limit": per_source's
					   max_connections */
	STATS_REJECT_SOURCE_RATE,	/* "source_rate": its
					   connection_rate */
	STATS_REJECT_MAX
};

/* What became of a datagram a UDP echo received. */
enum stats_udp {
	STATS_UDP_ECHOED,	/* "echoed": sent back whole */
	STATS_UDP_DROPPED_PORT,	/* "dropped_port": from a port below 1024
				   or of a small service (a loop guard) */
	STATS_UDP_DROPPED_RATE,	/* "dropped_rate": per_source's rate */
	STATS_UDP_DROPPED_DENIED,	/* "dropped_denied": allow, deny */
	STATS_UDP_DROPPED_FULL,	/* "dropped_full": the send buffer was
				   full, or sending failed */
	STATS_UDP_MAX
};

/* The result of one upstream connect attempt. */
enum stats_connect {
	STATS_CONNECT_OK,
	STATS_CONNECT_REFUSED,
	STATS_CONNECT_TIMEOUT,
	STATS_CONNECT_ERROR,
	STATS_CONNECT_RESOLVE_FAILED,	/* the name gave no address */
	STATS_CONNECT_MAX
};

/* What an active health check of an upstream came to. */
enum stats_check {
	STATS_CHECK_OK,
	STATS_CHECK_REFUSED,
	STATS_CHECK_TIMEOUT,
	STATS_CHECK_BAD_REPLY,	/* closed early, or not what was expected */
	STATS_CHECK_ERROR,
	STATS_CHECK_RESOLVE_FAILED,
	STATS_CHECK_MAX
};

/* Most upper bounds a histogram has (+Inf comes on top). */
#define STATS_BUCKETS_MAX	16

/* A histogram's fixed upper bounds, in microseconds, increasing. */
struct stats_buckets {
	size_t	 n;
	int64_t	 bound_us[STATS_BUCKETS_MAX];
};

/* Connection lifetimes, upstream connect times, loop lag. */
extern const struct stats_buckets	stats_duration_buckets;
extern const struct stats_buckets	stats_connect_buckets;
extern const struct stats_buckets	stats_lag_buckets;

/* One thread's counts of a histogram: count[i] in bucket i, not
 * cumulative; count[n] over the last bound. */
struct stats_hist {
	_Atomic uint64_t count[STATS_BUCKETS_MAX + 1];
	_Atomic uint64_t sum_us;
};

/* A listener's counters on one loop thread. */
struct stats_listener_slot {
	_Atomic uint64_t accepted;
	_Atomic uint64_t active;
	_Atomic uint64_t rejected[STATS_REJECT_MAX];
	_Atomic uint64_t closed[STATS_CLOSE_MAX];
	_Atomic uint64_t bytes_in;	/* from clients */
	_Atomic uint64_t bytes_out;	/* to clients */
	_Atomic uint64_t udp[STATS_UDP_MAX];	/* datagrams, UDP echo */
	struct stats_hist duration;
} __attribute__((aligned(64)));

/* An upstream's counters (per listener) on one loop thread. */
struct stats_upstream_slot {
	_Atomic uint64_t connects[STATS_CONNECT_MAX];
	_Atomic uint64_t active;	/* relays open */
	_Atomic uint64_t bytes_in;	/* from the upstream */
	_Atomic uint64_t bytes_out;	/* to the upstream */
	_Atomic uint64_t spliced;	/* of both, by splice(2) */
	_Atomic uint64_t checks[STATS_CHECK_MAX];	/* health checks */
	struct stats_hist connect_time;	/* successful connects */
} __attribute__((aligned(64)));

struct stats_listener;
struct stats_upstream;

/*
 * stats_add(counter, n), stats_sub(counter, n):
 * Count n on a slot of this thread's.  The only writer: no atomic
 * read-modify-write needed, and none is paid for.
 */
static inline void
stats_add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

static inline void
stats_sub(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter,
	    memory_order_relaxed) - n, memory_order_relaxed);
}

/*
 * stats_observe(h, b, us):
 * Count a value of us microseconds (negative counts as 0) in this
 * thread's histogram h, whose bounds are b.
 */
void	stats_observe(struct stats_hist *, const struct stats_buckets *,
	    int64_t);

/*
 * stats_init(nthreads):
 * Size every block for nthreads loop threads (1 to 256) and note the
 * start time.  Main thread, before any block is made; blocks made
 * without it have one slot.  Returns 0, or -1 with errno ENOMEM.
 */
int	stats_init(int);

/*
 * stats_set_thread(index):
 * The calling loop thread is number index (0 for the first): its slots
 * are [index].  Loop thread, at its start.
 */
void	stats_set_thread(int);

/* stats_threads(): loop threads the blocks are sized for. */
int	stats_threads(void);

/*
 * stats_listener_get(name):
 * The counters of the listener called name, made if new, held by the
 * caller.  Returns them, or NULL with errno ENOMEM.  Any thread.
 */
struct stats_listener	*stats_listener_get(const char *);

/* stats_listener_hold(st): one more hold of st; returns st. */
struct stats_listener	*stats_listener_hold(struct stats_listener *);

/* stats_listener_put(st): let go of st.  NULL is a no-op.  Any thread. */
void	stats_listener_put(struct stats_listener *);

/* stats_listener_slot(st): the calling loop thread's slot of st. */
struct stats_listener_slot	*stats_listener_slot(struct stats_listener *);

/*
 * stats_listener_log_dropped(st, n):
 * Count n access log lines of st's listener dropped.  Rare, any thread:
 * an atomic add.
 */
void	stats_listener_log_dropped(struct stats_listener *, uint64_t);

/*
 * stats_listener_mark_datagram(st):
 * st's listener is a UDP echo: a scrape shows its datagrams.  Any
 * thread.
 */
void	stats_listener_mark_datagram(struct stats_listener *);

/*
 * stats_upstream_get(listener, text):
 * The counters of upstream text (as configured) of the listener called
 * listener, made if new, held by the caller.  Returns them, or NULL with
 * errno ENOMEM.  Any thread.
 */
struct stats_upstream	*stats_upstream_get(const char *, const char *);

/*
 * stats_upstream_set(st, weight, up):
 * An upstream's gauges: its configured weight and whether its health
 * check holds it up (1) or down (0).  Any thread.
 */
void	stats_upstream_set(struct stats_upstream *, int64_t, int);

/* stats_upstream_put(st): let go of st.  NULL is a no-op.  Any thread. */
void	stats_upstream_put(struct stats_upstream *);

/* stats_upstream_slot(st): the calling loop thread's slot of st. */
struct stats_upstream_slot	*stats_upstream_slot(struct stats_upstream *);

/*
 * stats_loop_lag(us):
 * Count how late, in microseconds, this loop thread ran a timer that
 * was due.  Loop thread.
 */
void	stats_loop_lag(int64_t);

/*
 * stats_reload(ok):
 * Count a SIGHUP reload that succeeded (ok = 1) or failed.  Any thread.
 */
void	stats_reload(int);

/*
 * A scrape's copy of the counters, summed over the loop threads, and of
 * the daemon-wide ones.  Histograms are per thread for loop lag only.
 */
struct stats_hist_sum {
	uint64_t	 count[STATS_BUCKETS_MAX + 1];
	uint64_t	 sum_us;
};

struct stats_listener_sum {
	char		*name;
	uint64_t	 accepted, active;
	uint64_t	 rejected[STATS_REJECT_MAX];
	uint64_t	 closed[STATS_CLOSE_MAX];
	uint64_t	 bytes_in, bytes_out;
	uint64_t	 log_dropped;
	uint64_t	 udp[STATS_UDP_MAX];
	int		 datagram;	/* a UDP echo */
	struct stats_hist_sum duration;
};

struct stats_upstream_sum {
	char		*listener;
	char		*text;
	uint64_t	 connects[STATS_CONNECT_MAX];
	uint64_t	 active, bytes_in, bytes_out, spliced;
	uint64_t	 checks[STATS_CHECK_MAX];
	uint64_t	 up, weight;
	struct stats_hist_sum connect_time;
};

struct stats_snapshot {
	struct stats_listener_sum *listeners;	/* in name order */
	size_t		 nlisteners;
	struct stats_upstream_sum *upstreams;	/* by listener, then text */
	size_t		 nupstreams;
	struct stats_hist_sum *lag;		/* [thread] */
	int		 nthreads;
	int64_t		 start_time_ms;		/* Unix time */
	uint64_t	 reloads_ok, reloads_failed;
	int		 last_reload_ok;	/* 1 until one fails */
	int64_t		 last_good_load_ms;	/* Unix time */
};

/*
 * stats_snapshot(snap):
 * Copy every counter into snap, summed over the loop threads.  Takes the
 * registry's lock for the copy (no formatting under it).  Returns 0, or
 * -1 with errno ENOMEM.  Free with stats_snapshot_free().  Any thread.
 */
int	stats_snapshot(struct stats_snapshot *);

/* stats_snapshot_free(snap): free what stats_snapshot() made. */
void	stats_snapshot_free(struct stats_snapshot *);

#endif /* STATS_H */
