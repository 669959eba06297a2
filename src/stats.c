/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats.c: the daemon's counters, per loop thread, and the registry of
 * named blocks that a scrape copies (see stats.h).
 *
 * A block is one allocation: a header, then one cache-line aligned slot
 * per loop thread, so that two threads counting for the same listener
 * never write the same cache line.  The registry is two lists under one
 * lock; a scrape holds it only while it copies numbers and names.
 */
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* The buckets, in microseconds: documented in aio-echod.conf(5). */
const struct stats_buckets stats_duration_buckets = { 13, {
	5000, 10000, 50000, 100000, 500000, 1000000, 5000000, 10000000,
	30000000, 60000000, 300000000, 900000000, 3600000000LL } };
const struct stats_buckets stats_connect_buckets = { 13, {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000 } };
/* Lag below a few ms is the timer's own granularity (libevent reads the
 * kernel's coarse clock, a tick of 1 to 4 ms): the buckets start above. */
const struct stats_buckets stats_lag_buckets = { 10, {
	5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000 } };

/*
 * What every block starts with: its place in a registry list, its
 * holders, and its name: a listener's, or a listener's and an
 * upstream's.
 */
struct block {
	struct block		*next;		/* registry; lock */
	int			 holds;		/* lock */
	char			*name;
	char			*upstream;	/* NULL for a listener */
};

struct stats_listener {
	struct block		 b;		/* first */
	_Atomic uint64_t	 log_dropped;
	atomic_int		 datagram;	/* a UDP echo */
	struct stats_listener_slot slot[];	/* [nthreads] */
};

struct stats_upstream {
	struct block		 b;		/* first */
	_Atomic int64_t		 weight;
	_Atomic int64_t		 up;
	struct stats_upstream_slot slot[];	/* [nthreads] */
};

/* A loop thread's own: its lag histogram. */
struct stats_thread_slot {
	struct stats_hist	 lag;
} __attribute__((aligned(64)));

static pthread_mutex_t		 registry = PTHREAD_MUTEX_INITIALIZER;
static struct block		*listeners;	/* registry */
static struct block		*upstreams;	/* registry */
static int			 nthreads = 1;
static struct stats_thread_slot	 one_thread;
static struct stats_thread_slot	*threads = &one_thread;
static int64_t			 start_time_ms;

static atomic_uint_fast64_t	 reloads_ok, reloads_failed;
static atomic_int		 last_reload_failed;
static _Atomic int64_t		 last_good_load_ms;

static __thread int		 my_thread;

/* The Unix time now, in ms. */
static int64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
stats_observe(struct stats_hist *h, const struct stats_buckets *b,
    int64_t us)
{
	size_t i;

	if (us < 0)
		us = 0;
	for (i = 0; i < b->n && us > b->bound_us[i]; i++)
		;
	stats_add(&h->count[i], 1);
	stats_add(&h->sum_us, (uint64_t)us);
}

int
stats_init(int n)
{
	struct stats_thread_slot *t;

	start_time_ms = unix_ms();
	atomic_store(&last_good_load_ms, start_time_ms);
	if (n < 1 || n == nthreads)
		return (0);
	if ((t = aligned_alloc(64, (size_t)n * sizeof(*t))) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	memset(t, 0, (size_t)n * sizeof(*t));
	threads = t;
	nthreads = n;
	return (0);
}

void
stats_set_thread(int index)
{
	my_thread = index >= 0 && index < nthreads ? index : 0;
}

int
stats_threads(void)
{
	return (nthreads);
}

/* 1 if b is called name (and upstream, if not NULL). */
static int
block_is(const struct block *b, const char *name, const char *upstream)
{
	if (strcmp(b->name, name) != 0)
		return (0);
	if (upstream == NULL || b->upstream == NULL)
		return (upstream == b->upstream);
	return (strcmp(b->upstream, upstream) == 0);
}

/*
 * The block of list called name (and upstream), made zeroed with size
 * bytes (its slots cache-line aligned) if new, and held.  NULL with
 * errno ENOMEM.
 */
static struct block *
block_get(struct block **list, const char *name, const char *upstream,
    size_t size)
{
	struct block *b;

	pthread_mutex_lock(&registry);
	for (b = *list; b != NULL && !block_is(b, name, upstream);
	    b = b->next)
		;
	if (b == NULL && (b = aligned_alloc(64,
	    (size + 63) & ~(size_t)63)) != NULL) {
		memset(b, 0, size);
		b->name = strdup(name);
		b->upstream = upstream != NULL ? strdup(upstream) : NULL;
		if (b->name == NULL || (upstream != NULL &&
		    b->upstream == NULL)) {
			free(b->name);
			free(b->upstream);
			free(b);
			b = NULL;
		} else {
			b->next = *list;
			*list = b;
		}
	}
	if (b != NULL)
		b->holds++;
	pthread_mutex_unlock(&registry);
	if (b == NULL)
		errno = ENOMEM;
	return (b);
}

/* Let go of b, of list; the last holder frees it. */
static void
block_put(struct block **list, struct block *b)
{
	struct block **p;

	pthread_mutex_lock(&registry);
	if (--b->holds > 0) {
		pthread_mutex_unlock(&registry);
		return;
	}
	for (p = list; *p != b; p = &(*p)->next)
		;
	*p = b->next;
	pthread_mutex_unlock(&registry);
	free(b->name);
	free(b->upstream);
	free(b);
}

struct stats_listener *
stats_listener_get(const char *name)
{
	struct stats_listener *st;

	return ((struct stats_listener *)block_get(&listeners, name, NULL,
	    sizeof(*st) + (size_t)nthreads * sizeof(st->slot[0])));
}

struct stats_listener *
stats_listener_hold(struct stats_listener *st)
{
	pthread_mutex_lock(&registry);
	st->b.holds++;
	pthread_mutex_unlock(&registry);
	return (st);
}

void
stats_listener_put(struct stats_listener *st)
{
	if (st != NULL)
		block_put(&listeners, &st->b);
}

struct stats_listener_slot *
stats_listener_slot(struct stats_listener *st)
{
	return (&st->slot[my_thread]);
}

void
stats_listener_mark_datagram(struct stats_listener *st)
{
	atomic_store(&st->datagram, 1);
}

void
stats_listener_log_dropped(struct stats_listener *st, uint64_t n)
{
	atomic_fetch_add(&st->log_dropped, n);
}

struct stats_upstream *
stats_upstream_get(const char *listener, const char *text)
{
	struct stats_upstream *st;

	return ((struct stats_upstream *)block_get(&upstreams, listener,
	    text, sizeof(*st) + (size_t)nthreads * sizeof(st->slot[0])));
}

void
stats_upstream_set(struct stats_upstream *st, int64_t weight, int up)
{
	atomic_store(&st->weight, weight);
	atomic_store(&st->up, up);
}

void
stats_upstream_put(struct stats_upstream *st)
{
	if (st != NULL)
		block_put(&upstreams, &st->b);
}

struct stats_upstream_slot *
stats_upstream_slot(struct stats_upstream *st)
{
	return (&st->slot[my_thread]);
}

void
stats_loop_lag(int64_t us)
{
	stats_observe(&threads[my_thread].lag, &stats_lag_buckets, us);
}

void
stats_reload(int ok)
{
	if (ok) {
		atomic_fetch_add(&reloads_ok, 1);
		atomic_store(&last_reload_failed, 0);
		atomic_store(&last_good_load_ms, unix_ms());
	} else {
		atomic_fetch_add(&reloads_failed, 1);
		atomic_store(&last_reload_failed, 1);
	}
}

/* Relaxed reads of other threads' slots. */
static uint64_t
get(_Atomic uint64_t *counter)
{
	return (atomic_load_explicit(counter, memory_order_relaxed));
}

static void
hist_sum(struct stats_hist_sum *s, struct stats_hist *h)
{
	size_t i;

	for (i = 0; i <= STATS_BUCKETS_MAX; i++)
		s->count[i] += get(&h->count[i]);
	s->sum_us += get(&h->sum_us);
}

static void
listener_sum(struct stats_listener_sum *s, struct stats_listener *st)
{
	struct stats_listener_slot *t;
	int i, k;

	s->log_dropped = atomic_load(&st->log_dropped);
	s->datagram = atomic_load(&st->datagram);
	for (i = 0; i < nthreads; i++) {
		t = &st->slot[i];
		s->accepted += get(&t->accepted);
		s->active += get(&t->active);
		for (k = 0; k < STATS_REJECT_MAX; k++)
			s->rejected[k] += get(&t->rejected[k]);
		for (k = 0; k < STATS_CLOSE_MAX; k++)
			s->closed[k] += get(&t->closed[k]);
		s->bytes_in += get(&t->bytes_in);
		s->bytes_out += get(&t->bytes_out);
		for (k = 0; k < STATS_UDP_MAX; k++)
			s->udp[k] += get(&t->udp[k]);
		hist_sum(&s->duration, &t->duration);
	}
}

static void
upstream_sum(struct stats_upstream_sum *s, struct stats_upstream *st)
{
	struct stats_upstream_slot *t;
	int i, k;

	for (i = 0; i < nthreads; i++) {
		t = &st->slot[i];
		for (k = 0; k < STATS_CONNECT_MAX; k++)
			s->connects[k] += get(&t->connects[k]);
		s->active += get(&t->active);
		s->bytes_in += get(&t->bytes_in);
		s->bytes_out += get(&t->bytes_out);
		s->spliced += get(&t->spliced);
		for (k = 0; k < STATS_CHECK_MAX; k++)
			s->checks[k] += get(&t->checks[k]);
		hist_sum(&s->connect_time, &t->connect_time);
	}
	s->up = (uint64_t)atomic_load(&st->up);
	s->weight = (uint64_t)atomic_load(&st->weight);
}

static int
by_listener(const void *a, const void *b)
{
	return (strcmp(((const struct stats_listener_sum *)a)->name,
	    ((const struct stats_listener_sum *)b)->name));
}

static int
by_upstream(const void *a, const void *b)
{
	const struct stats_upstream_sum *x = a, *y = b;
	int c;

	if ((c = strcmp(x->listener, y->listener)) != 0)
		return (c);
	return (strcmp(x->text, y->text));
}

/* Copy the registry's blocks into snap; under the lock. */
static int
copy_locked(struct stats_snapshot *snap)
{
	struct stats_listener_sum *ls;
	struct stats_upstream_sum *us;
	struct block *b;
	size_t n;

	for (n = 0, b = listeners; b != NULL; b = b->next)
		n++;
	if (n > 0 && (snap->listeners = calloc(n,
	    sizeof(*snap->listeners))) == NULL)
		return (-1);
	for (b = listeners; b != NULL; b = b->next) {
		ls = &snap->listeners[snap->nlisteners];
		if ((ls->name = strdup(b->name)) == NULL)
			return (-1);
		snap->nlisteners++;
		listener_sum(ls, (struct stats_listener *)b);
	}
	for (n = 0, b = upstreams; b != NULL; b = b->next)
		n++;
	if (n > 0 && (snap->upstreams = calloc(n,
	    sizeof(*snap->upstreams))) == NULL)
		return (-1);
	for (b = upstreams; b != NULL; b = b->next) {
		us = &snap->upstreams[snap->nupstreams];
		if ((us->listener = strdup(b->name)) == NULL ||
		    (us->text = strdup(b->upstream)) == NULL) {
			free(us->listener);
			return (-1);
		}
		snap->nupstreams++;
		upstream_sum(us, (struct stats_upstream *)b);
	}
	return (0);
}

int
stats_snapshot(struct stats_snapshot *snap)
{
	int i, rc;

	memset(snap, 0, sizeof(*snap));
	if ((snap->lag = calloc((size_t)nthreads, sizeof(*snap->lag))) ==
	    NULL)
		goto fail;
	snap->nthreads = nthreads;
	for (i = 0; i < nthreads; i++)
		hist_sum(&snap->lag[i], &threads[i].lag);
	snap->start_time_ms = start_time_ms;
	snap->reloads_ok = atomic_load(&reloads_ok);
	snap->reloads_failed = atomic_load(&reloads_failed);
	snap->last_reload_ok = !atomic_load(&last_reload_failed);
	snap->last_good_load_ms = atomic_load(&last_good_load_ms);

	pthread_mutex_lock(&registry);
	rc = copy_locked(snap);
	pthread_mutex_unlock(&registry);
	if (rc == -1)
		goto fail;
	if (snap->nlisteners > 1)
		qsort(snap->listeners, snap->nlisteners,
		    sizeof(*snap->listeners), by_listener);
	if (snap->nupstreams > 1)
		qsort(snap->upstreams, snap->nupstreams,
		    sizeof(*snap->upstreams), by_upstream);
	return (0);

fail:
	stats_snapshot_free(snap);
	errno = ENOMEM;
	return (-1);
}

void
stats_snapshot_free(struct stats_snapshot *snap)
{
	size_t i;

	for (i = 0; i < snap->nlisteners; i++)
		free(snap->listeners[i].name);
	for (i = 0; i < snap->nupstreams; i++) {
		free(snap->upstreams[i].listener);
		free(snap->upstreams[i].text);
	}
	free(snap->listeners);
	free(snap->upstreams);
	free(snap->lag);
	memset(snap, 0, sizeof(*snap));
}
