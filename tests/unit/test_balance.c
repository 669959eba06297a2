/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_balance: the balances (smooth weighted round-robin, least
 * connections, source hash, first), backups, passive ejection and its
 * one trial, and upstream states shared by a listener's balances and
 * kept across a new balance (a reload).
 */
#include "balance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "clock.h"
#include "config.h"

#define MAXU	8

/* A proxy listener's settings, enough for balance_create(). */
struct fake {
	struct listen_conf	 lc;
	struct upstream_conf	 u[MAXU];
	char			 text[MAXU][32];
};

/*
 * A listener name with n upstreams 127.0.0.1:9001...; weights[i] (NULL:
 * all 1); backup: a mask.
 */
static void
fake_init(struct fake *f, const char *name, int algorithm, size_t n,
    const int *weights, unsigned backup, int max_fails, int fail_ms)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->lc.name = (char *)name;
	f->lc.balance = algorithm;
	f->lc.max_fails = max_fails;
	f->lc.fail_timeout = fail_ms;
	f->lc.nupstreams = n;
	f->lc.upstreams = f->u;
	for (i = 0; i < n; i++) {
		snprintf(f->text[i], sizeof(f->text[i]), "127.0.0.1:%zu",
		    9001 + i);
		f->u[i].text = f->text[i];
		f->u[i].entry = f->text[i];
		f->u[i].weight = weights != NULL ? weights[i] : 1;
		f->u[i].backup = (backup >> i) & 1;
	}
}

static struct balancer *
make(struct fake *f)
{
	struct balancer *b = balance_create(&f->lc, NULL);

	if (b == NULL) {
		perror("balance_create");
		exit(1);
	}
	return (b);
}

/*
 * balance_pick() for a client that has tried by the time it returns:
 * what it claimed is given back at once.
 */
static size_t
pick_all(struct balancer *b, const void *key, size_t keylen, size_t *order)
{
	struct balance_claim claim;
	size_t n = balance_pick(b, key, keylen, order, &claim);

	balance_release(b, &claim);
	return (n);
}

/* The first pick for key, or -1 if none. */
static int
pick(struct balancer *b, uint32_t key)
{
	size_t order[MAXU];

	return (pick_all(b, &key, sizeof(key), order) == 0 ? -1 :
	    (int)order[0]);
}

/* Picks as letters into s: "AABA". */
static void
picks(struct balancer *b, int n, char *s)
{
	int i, k;

	for (i = 0; i < n; i++) {
		k = pick(b, 0);
		s[i] = k < 0 ? '-' : (char)('A' + k);
	}
	s[n] = '\0';
}

static void
test_round_robin(void)
{
	static const int w31[] = { 3, 1 }, w532[] = { 5, 3, 2 };
	struct fake f;
	struct balancer *b, *copy;
	char s[64];
	size_t order[MAXU];
	int i, run, longest, counts[3] = { 0 };

	fake_init(&f, "rr", BALANCE_ROUND_ROBIN, 2, w31, 0, 1, 10000);
	b = make(&f);
	picks(b, 8, s);
	CHECK(strcmp(s, "AABAAABA") == 0, "weights 3 and 1: %s", s);
	balance_free(b);

	fake_init(&f, "rr", BALANCE_ROUND_ROBIN, 3, NULL, 0, 1, 10000);
	b = make(&f);
	picks(b, 6, s);
	CHECK(strcmp(s, "ABCABC") == 0, "equal weights go in turn: %s", s);
	CHECK(pick_all(b, NULL, 0, order) == 3 && order[0] == 0 &&
	    order[1] == 1 && order[2] == 2,
	    "the pick first, then the others in their order");
	balance_free(b);

	/* Two loop threads' copies share one order. */
	fake_init(&f, "rr", BALANCE_ROUND_ROBIN, 2, w31, 0, 1, 10000);
	b = make(&f);
	copy = balance_create(&f.lc, b);
	for (i = 0; i < 8; i++)
		s[i] = (char)('A' + pick(i % 2 ? copy : b, 0));
	s[8] = '\0';
	CHECK(strcmp(s, "AABAAABA") == 0, "shared by two copies: %s", s);
	balance_free(copy);
	balance_free(b);

	/* 5, 3, 2: over 100 picks exactly in proportion, and no run of
	 * one upstream longer than 2 (smooth: not AAAAABBBCC). */
	fake_init(&f, "rr", BALANCE_ROUND_ROBIN, 3, w532, 0, 1, 10000);
	b = make(&f);
	picks(b, 60, s);
	for (i = 0, run = 0, longest = 0; i < 60; i++) {
		counts[s[i] - 'A']++;
		run = i > 0 && s[i] == s[i - 1] ? run + 1 : 1;
		longest = run > longest ? run : longest;
	}
	CHECK(counts[0] == 30 && counts[1] == 18 && counts[2] == 12,
	    "weights 5, 3, 2 over 60 picks: %d, %d, %d", counts[0],
	    counts[1], counts[2]);
	CHECK(longest <= 2, "longest run %d: %.20s...", longest, s);
	balance_free(b);
}

static void
test_least_connections(void)
{
	static const int w31[] = { 3, 1 };
	struct fake f;
	struct balancer *b;
	int i, k, n[2] = { 0, 0 };

	fake_init(&f, "lc", BALANCE_LEAST_CONNECTIONS, 2, NULL, 0, 1, 10000);
	b = make(&f);
	/* 20 clients that stay: 10 and 10. */
	for (i = 0; i < 20; i++) {
		k = pick(b, 0);
		atomic_fetch_add(&balance_state(b, (size_t)k)->active, 1);
		n[k]++;
	}
	CHECK(n[0] == 10 && n[1] == 10, "20 long clients: %d and %d", n[0],
	    n[1]);
	/* One ends on B: the next goes to B. */
	atomic_fetch_sub(&balance_state(b, 1)->active, 1);
	CHECK(pick(b, 0) == 1, "the next goes where a relay ended");
	atomic_store(&balance_state(b, 0)->active, 0);
	atomic_store(&balance_state(b, 1)->active, 0);
	/* Ties go in turn. */
	CHECK(pick(b, 0) != pick(b, 0), "ties alternate");
	balance_free(b);

	fake_init(&f, "lc", BALANCE_LEAST_CONNECTIONS, 2, w31, 0, 1, 10000);
	b = make(&f);
	n[0] = n[1] = 0;
	for (i = 0; i < 20; i++) {
		k = pick(b, 0);
		atomic_fetch_add(&balance_state(b, (size_t)k)->active, 1);
		n[k]++;
	}
	CHECK(n[0] == 15 && n[1] == 5, "weights 3 and 1: %d and %d", n[0],
	    n[1]);
	atomic_store(&balance_state(b, 0)->active, 0);
	atomic_store(&balance_state(b, 1)->active, 0);
	balance_free(b);
}

static void
test_source_hash(void)
{
	struct fake f;
	struct balancer *b;
	int before[100], after[100], again, moved = 0, wrong = 0, i;
	int count[4] = { 0 };

	fake_init(&f, "sh", BALANCE_SOURCE_HASH, 4, NULL, 0, 1, 10000);
	b = make(&f);
	for (i = 0; i < 100; i++) {
		before[i] = pick(b, 0x7f000001u + (uint32_t)i);
		count[before[i]]++;
	}
	for (i = 0, again = 1; i < 100; i++)
		again &= pick(b, 0x7f000001u + (uint32_t)i) == before[i];
	CHECK(again, "each source keeps its upstream");
	CHECK(count[0] > 10 && count[1] > 10 && count[2] > 10 &&
	    count[3] > 10, "spread: %d %d %d %d", count[0], count[1],
	    count[2], count[3]);
	balance_set_up(b, 2, 0);
	for (i = 0; i < 100; i++) {
		after[i] = pick(b, 0x7f000001u + (uint32_t)i);
		moved += after[i] != before[i];
		wrong += after[i] != before[i] && before[i] != 2;
	}
	CHECK(moved == count[2] && wrong == 0,
	    "one of 4 down: %d sources moved, those it had (%d)", moved,
	    count[2]);
	balance_set_up(b, 2, 1);
	for (i = 0, again = 1; i < 100; i++)
		again &= pick(b, 0x7f000001u + (uint32_t)i) == before[i];
	CHECK(again, "back up: every source back where it was");
	/* The fallbacks after the pick are in the order the pick's own
	 * ejection would give: where the client will go next anyway. */
	for (i = 0, again = 1; i < 100; i++) {
		uint32_t key = 0x7f000001u + (uint32_t)i;
		size_t order[MAXU], second;

		(void)pick_all(b, &key, sizeof(key), order);
		second = order[1];
		balance_set_up(b, order[0], 0);
		again &= pick(b, key) == (int)second;
		balance_set_up(b, order[0], 1);
	}
	CHECK(again, "a source's second choice is its fallback");
	balance_free(b);
}

static void
test_backup_and_first(void)
{
	struct fake f;
	struct balancer *b;
	size_t order[MAXU], n;

	/* A, B primaries; C, D backups. */
	fake_init(&f, "bk", BALANCE_ROUND_ROBIN, 4, NULL, 0xc, 1, 10000);
	b = make(&f);
	n = pick_all(b, NULL, 0, order);
	CHECK(n == 4 && order[0] == 0 && order[1] == 1 && order[2] == 2 &&
	    order[3] == 3, "primaries first, backups last: %zu", n);
	CHECK(pick(b, 0) == 1, "backups never picked while a primary is up");
	balance_set_up(b, 0, 0);
	balance_set_up(b, 1, 0);
	n = pick_all(b, NULL, 0, order);
	CHECK(n == 2 && order[0] == 2 && order[1] == 3,
	    "every primary down: the first backup, then the next");
	CHECK(pick(b, 0) == 2, "the first backup again (HAProxy's way)");
	balance_set_up(b, 2, 0);
	CHECK(pick(b, 0) == 3, "then the second");
	balance_set_up(b, 3, 0);
	CHECK(pick_all(b, NULL, 0, order) == 0, "all down: none");
	balance_set_up(b, 1, 1);
	CHECK(pick(b, 0) == 1, "a primary back: clients leave the backups");
	balance_free(b);

	fake_init(&f, "first", BALANCE_FIRST, 3, NULL, 0, 1, 10000);
	b = make(&f);
	CHECK(pick(b, 0) == 0 && pick(b, 0) == 0, "first: always the first");
	balance_set_up(b, 0, 0);
	n = pick_all(b, NULL, 0, order);
	CHECK(n == 2 && order[0] == 1 && order[1] == 2,
	    "first down: the second, then the third");
	balance_free(b);
}

/* Wait (bounded) until clock_now() reaches t. */
static void
wait_until_ms(int64_t t)
{
	int i;

	struct timespec ts = { 0, 1000000 };

	for (i = 0; i < 100000 && clock_now() < t; i++)
		nanosleep(&ts, NULL);
}

static void
test_passive(void)
{
	struct fake f;
	struct balancer *b;
	struct balance_claim held, other;
	size_t order[MAXU];
	int64_t t0;

	fake_init(&f, "pe", BALANCE_ROUND_ROBIN, 2, NULL, 0, 3, 200);
	b = make(&f);
	balance_result(b, 0, BALANCE_FAILED);
	balance_result(b, 0, BALANCE_FAILED);
	CHECK(pick_all(b, NULL, 0, order) == 2,
	    "2 failures of max_fails 3: still up");
	balance_result(b, 0, BALANCE_OK);
	balance_result(b, 0, BALANCE_FAILED);
	balance_result(b, 0, BALANCE_FAILED);
	CHECK(pick_all(b, NULL, 0, order) == 2,
	    "a success starts the count again");
	balance_result(b, 0, BALANCE_FAILED);
	t0 = clock_now();	/* after the ejection's own clock reading */
	CHECK(pick_all(b, NULL, 0, order) == 1 && order[0] == 1,
	    "the third in a row: ejected, B only");
	wait_until_ms(t0 + 2);	/* B out later than A */
	balance_result(b, 1, BALANCE_FAILED);
	balance_result(b, 1, BALANCE_FAILED);
	balance_result(b, 1, BALANCE_FAILED);
	t0 = clock_now();	/* B's ejection: from here */
	/* Both out: one client at a time probes the one out longest. */
	CHECK(balance_pick(b, NULL, 0, order, &held) == 1 && order[0] == 0 &&
	    held.probe, "both ejected: one probe, to A (out longest)");
	CHECK(balance_pick(b, NULL, 0, order, &other) == 0,
	    "while it is out, no upstream for the others");
	/* A's new ejection ends 50 ms after B's: the check after B's has
	 * that long to run (2 ms failed 1 run in 12 on a busy machine). */
	wait_until_ms(t0 + 50);
	balance_result(b, 0, BALANCE_FAILED);
	balance_release(b, &held);
	CHECK(balance_pick(b, NULL, 0, order, &held) == 1 && order[0] == 1,
	    "the probe failed: the next probe goes to B");
	balance_release(b, &held);
	/* B's ejection runs out first now (A's was pushed on). */
	wait_until_ms(t0 + 200);
	CHECK(balance_pick(b, NULL, 0, order, &held) >= 1 && order[0] == 1 &&
	    held.trial == 1 && !held.probe,
	    "after fail_timeout one client tries B again");
	CHECK(balance_pick(b, NULL, 0, order, &other) == 0 || other.probe,
	    "and only one: the next is not sent there");
	balance_release(b, &other);
	balance_result(b, 1, BALANCE_FAILED);
	balance_release(b, &held);
	CHECK(atomic_load(&balance_state(b, 1)->down_until) > clock_now(),
	    "its trial failed: out again");
	wait_until_ms(atomic_load(&balance_state(b, 0)->down_until));
	CHECK(balance_pick(b, NULL, 0, order, &held) >= 1 && order[0] == 0 &&
	    held.trial == 0, "A's ejection ran out: a trial");
	balance_result(b, 0, BALANCE_OK);
	balance_release(b, &held);
	CHECK(pick_all(b, NULL, 0, order) >= 1 &&
	    atomic_load(&balance_state(b, 0)->down_until) == 0,
	    "its trial worked: back for everyone");
	balance_free(b);

	fake_init(&f, "one", BALANCE_ROUND_ROBIN, 1, NULL, 0, 1, 10000);
	b = make(&f);
	balance_result(b, 0, BALANCE_FAILED);
	balance_result(b, 0, BALANCE_FAILED);
	CHECK(pick(b, 0) == 0, "a lone upstream is never ejected");
	balance_free(b);

	fake_init(&f, "off", BALANCE_ROUND_ROBIN, 2, NULL, 0, 0, 10000);
	b = make(&f);
	balance_result(b, 0, BALANCE_FAILED);
	balance_result(b, 0, BALANCE_FAILED);
	CHECK(pick_all(b, NULL, 0, order) == 2, "max_fails 0: never");
	balance_free(b);

	/* An ejection an older configuration left (shared state), then a
	 * reload to max_fails 0: it counts for nothing. */
	fake_init(&f, "reload", BALANCE_FIRST, 2, NULL, 0, 1, 3600 * 1000);
	b = make(&f);
	balance_result(b, 0, BALANCE_FAILED);
	CHECK(pick(b, 0) == 1, "ejected for an hour");
	f.lc.max_fails = 0;
	{
		struct balancer *b2 = make(&f);

		CHECK(pick(b2, 0) == 0 && pick(b2, 0) == 0,
		    "reloaded with max_fails 0: A serves every client");
		balance_free(b2);
	}
	f.lc.max_fails = 1;
	f.lc.fail_timeout = 100;
	{
		struct balancer *b2 = make(&f);

		CHECK(pick(b2, 0) == 0,
		    "reloaded with a shorter fail_timeout: the hour is cut");
		balance_free(b2);
	}
	balance_free(b);
}

static void
test_states(void)
{
	struct fake f, g, other;
	struct balancer *b, *b2, *c;

	fake_init(&f, "keep", BALANCE_ROUND_ROBIN, 2, NULL, 0, 1, 10000);
	b = make(&f);
	balance_set_up(b, 1, 0);
	/* A reload: the same listener, upstream B kept, A replaced. */
	fake_init(&g, "keep", BALANCE_ROUND_ROBIN, 2, NULL, 0, 1, 10000);
	snprintf(g.text[0], sizeof(g.text[0]), "127.0.0.1:9999");
	b2 = make(&g);
	CHECK(balance_state(b2, 1) == balance_state(b, 1) &&
	    atomic_load(&balance_state(b2, 1)->up) == 0,
	    "a kept upstream keeps its state across a new balance");
	CHECK(atomic_load(&balance_state(b2, 0)->up) == 1,
	    "a new one starts up");
	fake_init(&other, "other", BALANCE_ROUND_ROBIN, 2, NULL, 0, 1, 10000);
	c = make(&other);
	CHECK(balance_state(c, 1) != balance_state(b, 1),
	    "another listener's upstream of the same address is its own");
	balance_free(b);
	CHECK(atomic_load(&balance_state(b2, 1)->up) == 0,
	    "the old balance gone: the state stays with the new");
	balance_free(b2);
	balance_free(c);
	b = make(&f);
	CHECK(atomic_load(&balance_state(b, 1)->up) == 1,
	    "held by no balance, a state is forgotten");
	balance_free(b);
}

int
main(void)
{
	test_round_robin();
	test_least_connections();
	test_source_hash();
	test_backup_and_first();
	test_passive();
	test_states();
	return (check_done());
}
