/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * balance.c: which upstream a proxy's new client goes to.
 *
 * Owns each listener's balance (shared by its copies on every loop
 * thread: one turn, one set of smooth weights, so that clients spread
 * as if one thread took them all) and the registry of upstream states,
 * found by (listener name, address) so that what is known of an
 * upstream (down, its open relays) outlives a reload that keeps it.
 *
 * DESIGN.  A pick takes the balance's lock: it is short (a pass over
 * the upstreams, a few hundred at most), once per new client, and it
 * makes the smooth round-robin exact across threads, which atomics
 * alone cannot.  The states are read without it (atomics), so the
 * health checks and the relays never wait for a pick.
 *
 * - round-robin: nginx's smooth weighted round-robin.  Each pick adds
 *   every candidate's weight to its current weight, takes the largest,
 *   and takes the sum of the weights off it: weights 3 and 1 give
 *   A A B A, never a run longer than a weight.
 * - least-connections: the fewest open relays per weight; ties in turn.
 * - source-hash: weighted rendezvous hashing (highest random weight) of
 *   the client's address with each upstream's: when one of N upstreams
 *   goes, only the clients it had move (about 1/N), and they spread
 *   over the rest.  The hash is fixed, so a restart keeps every client
 *   where it was.
 * - first: the first that is up.
 *
 * Passive ejection (nginx's max_fails and fail_timeout): max_fails
 * failed connects within fail_timeout take the upstream out for
 * fail_timeout; then one client at a time tries it again (a trial,
 * reserved by a flag in its state until that client has tried): success
 * brings it back, a failure takes it out for another fail_timeout.
 * While every upstream is out, one client at a time (the probe) tries
 * the one out longest, so that service resumes with the first that is
 * back, and no other client waits on a blackhole meanwhile.  A
 * listener with one upstream never ejects it (nginx's rule too): there
 * is nowhere else to go, and refusing every client for 10 s after one
 * failed connect would make a passing fault a long one.
 */
#include "balance.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "log.h"

/* A state in the registry: the shared part first. */
struct state_entry {
	struct upstream_state	 s;
	struct state_entry	*next;
	int			 refs;		/* under registry_lock */
	pthread_mutex_t		 lock;		/* writes fails, first_fail */
	_Atomic int64_t		 fails;		/* failed connects, this window */
	int64_t			 first_fail;	/* clock_now() of the first */
	char			*listener;
	char			*text;
	uint64_t		 check;		/* the check's signature */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct state_entry *registry;
static atomic_uint down_count;	/* states whose check says down */

struct peer {
	struct state_entry	*st;		/* its text names it in logs */
	int64_t			 weight;
	int			 backup;
	int64_t			 current;	/* smooth round-robin's */
	uint64_t		 id;		/* hash of the address */
};

struct balancer {
	atomic_int		 refs;
	pthread_mutex_t		 lock;		/* current, turn */
	char			*listener;
	int64_t			 algorithm;	/* enum balance */
	int64_t			 max_fails;	/* 0: no passive ejection */
	int64_t			 fail_timeout;	/* ms */
	atomic_int		 probing;	/* a probe is out (all ejected) */
	size_t			 turn;
	size_t			 n;
	struct peer		 p[];
};

enum avail {
	AVAIL_DOWN,		/* its check says so: never tried */
	AVAIL_UP,
	AVAIL_EJECTED,		/* passive ejection, still running */
	AVAIL_TRIAL,		/* its ejection has run out: one may try */
};

/*
 * The state of upstream text of listener, held; NULL: out of memory.
 * A new one is up, under check (the signature of its health check, 0
 * for none); an existing one is left as it is (balance_check_begin()
 * changes it once the configuration asking is live).
 */
static struct state_entry *
state_get(const char *listener, const char *text, uint64_t check)
{
	struct state_entry *e;

	pthread_mutex_lock(&registry_lock);
	for (e = registry; e != NULL; e = e->next)
		if (strcmp(e->listener, listener) == 0 &&
		    strcmp(e->text, text) == 0)
			break;
	if (e != NULL)
		e->refs++;
	else if ((e = calloc(1, sizeof(*e))) != NULL) {
		if ((e->listener = strdup(listener)) == NULL ||
		    (e->text = strdup(text)) == NULL) {
			free(e->listener);
			free(e);
			e = NULL;
		} else {
			atomic_init(&e->s.active, 0);
			atomic_init(&e->s.up, 1);  /* up until a check says */
			atomic_init(&e->s.down_until, 0);
			atomic_init(&e->s.trying, 0);
			atomic_init(&e->s.passes, 0);
			atomic_init(&e->s.failures, 0);
			e->check = check;
			pthread_mutex_init(&e->lock, NULL);
			e->refs = 1;
			e->next = registry;
			registry = e;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return (e);
}

/* Let go of e; the last holder takes it out of the registry. */
static void
state_put(struct state_entry *e)
{
	struct state_entry **pp;

	if (e == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	if (--e->refs > 0) {
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	for (pp = &registry; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	if (!atomic_load(&e->s.up))
		atomic_fetch_sub(&down_count, 1);
	pthread_mutex_unlock(&registry_lock);
	pthread_mutex_destroy(&e->lock);
	free(e->listener);
	free(e->text);
	free(e);
}

/* A 64-bit hash of n bytes at p: FNV-1a, then a finalizer's mix. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (x);
}

static uint64_t
hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return (mix64(h));
}

/* A health check's settings as one number: 0 for none. */
static uint64_t
check_signature(const struct health_conf *h)
{
	uint64_t v[4], sig;

	if (!h->set)
		return (0);
	v[0] = (uint64_t)h->interval;
	v[1] = (uint64_t)h->timeout;
	v[2] = (uint64_t)h->rise;
	v[3] = (uint64_t)h->fall;
	sig = hash_bytes(v, sizeof(v));
	if (h->send != NULL)
		sig ^= mix64(hash_bytes(h->send, strlen(h->send)) + 1);
	if (h->expect != NULL)
		sig ^= mix64(hash_bytes(h->expect, strlen(h->expect)) + 2);
	return (sig | 1);	/* never 0 */
}

void
balance_check_begin(struct balancer *b, const struct health_conf *hc)
{
	uint64_t sig = check_signature(hc);
	struct state_entry *e;
	size_t i;
	int was_down;

	for (i = 0; i < b->n; i++) {
		e = b->p[i].st;
		pthread_mutex_lock(&registry_lock);
		if (e->check == sig) {
			pthread_mutex_unlock(&registry_lock);
			continue;
		}
		e->check = sig;
		atomic_store(&e->s.passes, 0);
		atomic_store(&e->s.failures, 0);
		if ((was_down = atomic_exchange(&e->s.up, 1) == 0))
			atomic_fetch_sub(&down_count, 1);
		pthread_mutex_unlock(&registry_lock);
		if (was_down)
			log_warnx("%s: upstream %s: its health check changed: "
			    "up until the new one says otherwise",
			    b->listener, e->text);
	}
}

int
balance_set_up(struct balancer *b, size_t i, int up)
{
	if (atomic_exchange(&b->p[i].st->s.up, up) == up)
		return (0);
	if (up)
		atomic_fetch_sub(&down_count, 1);
	else
		atomic_fetch_add(&down_count, 1);
	return (1);
}

unsigned
balance_down(void)
{
	return (atomic_load(&down_count));
}

struct balancer *
balance_create(const struct listen_conf *lc, struct balancer *share)
{
	struct balancer *b;
	size_t i;

	if (share != NULL) {
		atomic_fetch_add(&share->refs, 1);
		return (share);
	}
	if ((b = calloc(1, sizeof(*b) + lc->nupstreams *
	    sizeof(b->p[0]))) == NULL)
		return (NULL);
	if ((b->listener = strdup(lc->name)) == NULL) {
		free(b);
		return (NULL);
	}
	atomic_init(&b->refs, 1);
	atomic_init(&b->probing, 0);
	pthread_mutex_init(&b->lock, NULL);
	b->algorithm = lc->balance;
	b->max_fails = lc->nupstreams > 1 ? lc->max_fails : 0;
	b->fail_timeout = lc->fail_timeout;
	b->n = lc->nupstreams;
	for (i = 0; i < b->n; i++) {
		const struct upstream_conf *u = &lc->upstreams[i];

		b->p[i].weight = u->weight;
		b->p[i].backup = u->backup != 0;
		b->p[i].id = hash_bytes(u->text, strlen(u->text));
		if ((b->p[i].st = state_get(lc->name, u->text,
		    check_signature(&lc->health_check))) == NULL) {
			balance_free(b);
			errno = ENOMEM;
			return (NULL);
		}
	}
	return (b);
}

void
balance_free(struct balancer *b)
{
	size_t i;

	if (b == NULL || atomic_fetch_sub(&b->refs, 1) > 1)
		return;
	for (i = 0; i < b->n; i++)
		state_put(b->p[i].st);
	pthread_mutex_destroy(&b->lock);
	free(b->listener);
	free(b);
}

struct upstream_state *
balance_state(const struct balancer *b, size_t i)
{
	return (&b->p[i].st->s);
}

/*
 * Can upstream p take a client now?  Without passive ejection (max_fails
 * 0, or a lone upstream) an ejection an older configuration left counts
 * for nothing; one longer than this configuration's fail_timeout is cut
 * to it.
 */
static enum avail
avail(const struct balancer *b, const struct peer *p, int64_t now)
{
	int64_t until;

	if (!atomic_load_explicit(&p->st->s.up, memory_order_relaxed))
		return (AVAIL_DOWN);
	until = atomic_load_explicit(&p->st->s.down_until,
	    memory_order_relaxed);
	if (until == 0 || b->max_fails == 0)
		return (AVAIL_UP);
	if (now < until && until - now <= b->fail_timeout)
		return (AVAIL_EJECTED);
	return (AVAIL_TRIAL);
}

/* Reserve p's one trial for this client: 1 if it is ours. */
static int
claim_trial(struct peer *p)
{
	int free = 0;

	return (atomic_compare_exchange_strong(&p->st->s.trying, &free, 1));
}

void
balance_release(struct balancer *b, const struct balance_claim *claim)
{
	if (claim->trial != BALANCE_NONE)
		atomic_store(&b->p[claim->trial].st->s.trying, 0);
	if (claim->probe)
		atomic_store(&b->probing, 0);
}

/*
 * Source-hash's score of upstream p for a client whose address hashes
 * to kh: u in (0, 1) from the pair's hash, and -w/ln(u), weighted
 * rendezvous hashing's.  The highest wins.
 */
static double
hash_score(const struct peer *p, uint64_t kh)
{
	double u = ((double)(mix64(kh ^ p->id) >> 11) + 0.5) * 0x1.0p-53;

	return (-(double)p->weight / log(u));
}

/* Is upstream i a candidate of the tier (backup or not) now? */
#define CANDIDATE(b, av, i, tier) \
	((av)[i] == AVAIL_UP && (b)->p[i].backup == (tier))

/* The algorithm's pick among tier's upstreams that are up; n if none. */
static size_t
pick_one(struct balancer *b, const unsigned char *av, int tier)
{
	size_t i, j, best = b->n;
	int64_t total = 0;

	/* Source-hash: any, for balance_pick() ranks them all by score. */
	if (tier == 1 || b->algorithm == BALANCE_FIRST ||
	    b->algorithm == BALANCE_SOURCE_HASH) {
		for (i = 0; i < b->n; i++)
			if (CANDIDATE(b, av, i, tier))
				return (i);
		return (b->n);
	}
	switch (b->algorithm) {
	case BALANCE_LEAST_CONNECTIONS:
		for (j = 0; j < b->n; j++) {
			i = (b->turn + j) % b->n;
			if (!CANDIDATE(b, av, i, tier))
				continue;
			/* active/weight below best's, without dividing */
			if (best == b->n ||
			    (int64_t)atomic_load(&b->p[i].st->s.active) *
			    b->p[best].weight <
			    (int64_t)atomic_load(&b->p[best].st->s.active) *
			    b->p[i].weight)
				best = i;
		}
		b->turn++;
		return (best);
	default:	/* BALANCE_ROUND_ROBIN: smooth, weighted */
		for (i = 0; i < b->n; i++) {
			if (!CANDIDATE(b, av, i, tier))
				continue;
			b->p[i].current += b->p[i].weight;
			total += b->p[i].weight;
			if (best == b->n ||
			    b->p[i].current > b->p[best].current)
				best = i;
		}
		if (best < b->n)
			b->p[best].current -= total;
		return (best);
	}
}

/* Sort order[0..n) by source-hash's score for key, highest first. */
static void
rank_by_score(const struct balancer *b, const void *key, size_t keylen,
    size_t *order, size_t n)
{
	uint64_t kh = hash_bytes(key, keylen);
	double score[CONFIG_UPSTREAMS_MAX], sc;
	size_t i, j, o;

	for (i = 0; i < n; i++) {
		sc = hash_score(&b->p[order[i]], kh);
		o = order[i];
		for (j = i; j > 0 && score[j - 1] < sc; j--) {
			score[j] = score[j - 1];
			order[j] = order[j - 1];
		}
		score[j] = sc;
		order[j] = o;
	}
}

/*
 * Every upstream is ejected (none down by a check is a candidate): the
 * probe, if no other client holds it, tries the one ejected longest.
 * Returns its index, or b->n.
 */
static size_t
pick_probe(struct balancer *b, const unsigned char *av,
    struct balance_claim *claim)
{
	size_t i, best = b->n;
	int64_t until, best_until = 0;
	int free = 0;

	if (!atomic_compare_exchange_strong(&b->probing, &free, 1))
		return (b->n);
	for (i = 0; i < b->n; i++) {
		if (av[i] != AVAIL_EJECTED && av[i] != AVAIL_TRIAL)
			continue;
		until = atomic_load(&b->p[i].st->s.down_until);
		if ((best == b->n || until < best_until) &&
		    !atomic_load(&b->p[i].st->s.trying)) {
			best = i;
			best_until = until;
		}
	}
	if (best == b->n || !claim_trial(&b->p[best])) {
		atomic_store(&b->probing, 0);
		return (b->n);
	}
	claim->trial = best;
	claim->probe = 1;
	return (best);
}

size_t
balance_pick(struct balancer *b, const void *key, size_t keylen,
    size_t *order, struct balance_claim *claim)
{
	unsigned char av[CONFIG_UPSTREAMS_MAX];
	int64_t now = clock_now();
	size_t i, j, k = 0, pick = b->n;
	int tier, locked;

	claim->trial = BALANCE_NONE;
	claim->probe = 0;
	for (i = 0; i < b->n; i++)
		av[i] = (unsigned char)avail(b, &b->p[i], now);
	/* Only these two keep state between picks. */
	locked = b->algorithm == BALANCE_ROUND_ROBIN ||
	    b->algorithm == BALANCE_LEAST_CONNECTIONS;
	if (locked)
		pthread_mutex_lock(&b->lock);
	for (tier = 0; tier <= 1 && pick == b->n; tier++) {
		/* One client tries an upstream whose ejection ran out. */
		for (i = 0; i < b->n && pick == b->n; i++)
			if (av[i] == AVAIL_TRIAL && b->p[i].backup == tier &&
			    claim_trial(&b->p[i])) {
				pick = i;
				claim->trial = i;
			}
		if (pick == b->n)
			pick = pick_one(b, av, tier);
	}
	if (locked)
		pthread_mutex_unlock(&b->lock);
	if (pick == b->n) {
		if ((pick = pick_probe(b, av, claim)) == b->n)
			return (0);
		order[0] = pick;
		return (1);
	}
	tier--;
	order[k++] = pick;
	/* Then the tier's others, from the pick on; then the backups. */
	for (j = 1; j < b->n; j++) {
		i = (pick + j) % b->n;
		if (CANDIDATE(b, av, i, tier))
			order[k++] = i;
	}
	/* Source-hash's by their scores, the best first (unless a trial
	 * is), so that a client whose pick refuses it goes where it will go
	 * once the pick is ejected.  Each score is computed once. */
	if (b->algorithm == BALANCE_SOURCE_HASH && tier == 0) {
		j = claim->trial == pick ? 1 : 0;
		rank_by_score(b, key, keylen, order + j, k - j);
		pick = order[0];
	}
	if (tier == 0)
		for (i = 0; i < b->n; i++)
			if (CANDIDATE(b, av, i, 1))
				order[k++] = i;
	/* Last, one whose ejection ran out, if its trial is free: better
	 * than no upstream for a client every other one refused. */
	for (i = 0; i < b->n && claim->trial == BALANCE_NONE; i++)
		if (av[i] == AVAIL_TRIAL && i != pick &&
		    claim_trial(&b->p[i])) {
			claim->trial = i;
			order[k++] = i;
		}
	return (k);
}

void
balance_result(struct balancer *b, size_t i, enum balance_outcome outcome)
{
	struct state_entry *e = b->p[i].st;
	int64_t now, until;
	int ejected = 0, back = 0;

	if (outcome == BALANCE_OK) {
		/* The common case, without the lock: nothing to undo.  A
		 * success ends an ejection even where ejection is off now
		 * (a reload turned it off). */
		if (atomic_load_explicit(&e->s.down_until,
		    memory_order_relaxed) == 0 && atomic_load_explicit(
		    &e->fails, memory_order_relaxed) == 0)
			return;
		pthread_mutex_lock(&e->lock);
		back = atomic_exchange(&e->s.down_until, 0) != 0;
		e->fails = 0;
		pthread_mutex_unlock(&e->lock);
		if (back)
			log_warnx("%s: upstream %s is back: a client "
			    "connected", b->listener, e->text);
		return;
	}
	if (b->max_fails == 0)
		return;
	now = clock_now();
	pthread_mutex_lock(&e->lock);
	until = atomic_load(&e->s.down_until);
	if (until != 0) {
		/* Its trial failed (or a client that picked it before the
		 * ejection did): out for another fail_timeout. */
		atomic_store(&e->s.down_until, now + b->fail_timeout);
	} else {
		if (e->fails == 0 || now - e->first_fail > b->fail_timeout) {
			e->fails = 0;
			e->first_fail = now;
		}
		if (++e->fails >= b->max_fails) {
			atomic_store(&e->s.down_until, now + b->fail_timeout);
			e->fails = 0;
			ejected = 1;
		}
	}
	pthread_mutex_unlock(&e->lock);
	if (ejected)
		log_warnx("%s: upstream %s ejected for %lld ms: %lld failed "
		    "connects within %lld ms", b->listener, e->text,
		    (long long)b->fail_timeout, (long long)b->max_fails,
		    (long long)b->fail_timeout);
}
