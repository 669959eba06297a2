/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench/switch.c: what a coroutine switch and a coroutine's life cost,
 * for the backend this binary was built with: the hot switch (target
 * 6 ns) and create+run+finish from a warm pool (target 100 ns).  Prints one line: backend, raw ns/switch (asm only: the
 * bare coro_jump in a loop, the harness T1 is defined on), ns/switch
 * through coro_resume/coro_yield, ns/lifecycle.
 *
 * The API switch costs about twice the raw one on the machine measured,
 * and not for its instructions: after each switch, the side that wakes
 * returns through frames the CPU's return-stack predictor has never seen
 * (it holds the other stack's return addresses), one misprediction per
 * switch.  The raw loop never returns after a switch.  Any stackful
 * switch behind a call interface pays this.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coro.h"

#define ROUNDS		5000000L
#define LIVES		1000000L
#define REPEATS		7

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e9 + ts.tv_nsec);
}

static void
ping(void *arg)
{
	long *n = arg;

	for (;;) {
		(*n)++;
		coro_yield();
	}
}

static void
nothing(void *arg)
{
	(void)arg;
}

#ifdef CORO_BACKEND_ASM
/* The bare switch, as a loop of coro_jump calls (coro_x86_64.S). */
struct xfer {
	void	*sp;
	void	*data;
};
struct xfer	coro_jump(void *, void *);
void		coro_trampoline(void);

static void	*raw_main_sp, *raw_co_sp;

static void
raw_entry(void *from_sp, void *data)
{
	struct xfer x;

	(void)data;
	raw_main_sp = from_sp;
	for (;;) {
		x = coro_jump(raw_main_sp, NULL);
		raw_main_sp = x.sp;
	}
}

/* A first frame as coro_x86_64.S documents it, on a static stack. */
static double
raw_switch(long rounds)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	uint64_t *f = (uint64_t *)(stack + sizeof(stack) - 128);
	uint32_t mxcsr;
	uint16_t fpucw;
	struct xfer x;
	double t0;
	long i;

	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));
	memset(f, 0, 64);
	f[0] = mxcsr | ((uint64_t)fpucw << 32);
	f[1] = (uint64_t)(uintptr_t)raw_entry;
	f[7] = (uint64_t)(uintptr_t)coro_trampoline;
	raw_co_sp = f;
	t0 = now_ns();
	for (i = 0; i < rounds; i++) {
		x = coro_jump(raw_co_sp, NULL);
		raw_co_sp = x.sp;
	}
	return ((now_ns() - t0) / (2.0 * rounds));
}
#endif

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

/* ns per switch: a resume and a yield are two switches. */
static double
hot_switch(long rounds)
{
	long n = 0, i;
	struct coro *co = coro_create(ping, &n);
	double t0 = now_ns();

	for (i = 0; i < rounds; i++)
		coro_resume(co);
	t0 = (now_ns() - t0) / (2.0 * rounds);
	coro_free(co);
	return (t0);
}

/* ns per create + run + finish + free, stacks from a warm pool. */
static double
lifecycle(long lives)
{
	double t0 = now_ns();
	long i;

	for (i = 0; i < lives; i++) {
		struct coro *co = coro_create(nothing, NULL);

		coro_resume(co);
		coro_free(co);
	}
	return ((now_ns() - t0) / lives);
}

int
main(int argc, char **argv)
{
	double sw[REPEATS], life[REPEATS], raw[REPEATS] = { 0 };
	long scale = argc > 1 ? atol(argv[1]) : 1;
	int i;

	coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT);
	hot_switch(ROUNDS / 10);	/* warm up */
	for (i = 0; i < REPEATS; i++) {
#ifdef CORO_BACKEND_ASM
		raw[i] = raw_switch(ROUNDS / scale);
#endif
		sw[i] = hot_switch(ROUNDS / scale);
		life[i] = lifecycle(LIVES / scale);
	}
	qsort(raw, REPEATS, sizeof(raw[0]), cmp);
	qsort(sw, REPEATS, sizeof(sw[0]), cmp);
	qsort(life, REPEATS, sizeof(life[0]), cmp);
	if (raw[REPEATS / 2] > 0)
		printf("%s %.1f %.1f %.1f\n", coro_backend(), raw[REPEATS / 2],
		    sw[REPEATS / 2], life[REPEATS / 2]);
	else
		printf("%s - %.1f %.1f\n", coro_backend(), sw[REPEATS / 2],
		    life[REPEATS / 2]);
	coro_fini();
	return (0);
}
