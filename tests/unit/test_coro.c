/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_coro: the coroutine core on its own, once per switch backend.
 */
#include "coro.h"

#include <sys/wait.h>

#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "check.h"
#include "deep.h"

static int	trace[16];
static int	ntrace;

static void
three_steps(void *arg)
{
	int *n = arg;

	trace[ntrace++] = (*n)++;
	coro_yield();
	trace[ntrace++] = (*n)++;
	coro_yield();
	trace[ntrace++] = (*n)++;
}

/* A coroutine runs in steps, yields back, and reports when it finishes. */
static void
test_resume_yield_finish(void)
{
	int n = 10, r1, r2, r3;
	struct coro *co = coro_create(three_steps, &n);

	CHECK(co != NULL, "create");
	CHECK(coro_self() == NULL, "main stack has no coroutine");
	ntrace = 0;
	r1 = coro_resume(co);
	r2 = coro_resume(co);
	r3 = coro_resume(co);
	CHECK(r1 == 0 && r2 == 0 && r3 == 1, "two yields, then finished");
	CHECK(ntrace == 3 && trace[0] == 10 && trace[1] == 11 &&
	    trace[2] == 12, "steps ran in order with shared state");
	coro_free(co);
}

static void
ping(void *arg)
{
	long *v = arg;

	for (;;) {
		(*v)++;
		coro_yield();
	}
}

/* Many switches keep every value and return to the right place. */
static void
test_many_switches(void)
{
	long v = 0, i, ok = 1;
	struct coro *co = coro_create(ping, &v);

	for (i = 1; i <= 200000; i++) {
		coro_resume(co);
		if (v != i)
			ok = 0;
	}
	CHECK(ok, "200000 round trips, counter exact");
	/* A never-finished coroutine may be freed once it is suspended. */
	coro_free(co);
}

static struct coro	*inner_co;
static int		 nested_steps;

static void
inner(void *arg)
{
	(void)arg;
	nested_steps++;		/* 1: started by the outer coroutine */
	coro_yield();		/* back to outer */
	nested_steps++;		/* 3: resumed later by main */
}

static void
outer(void *arg)
{
	(void)arg;
	inner_co = coro_create(inner, NULL);
	coro_resume(inner_co);
	nested_steps++;		/* 2: inner yielded to us, not to main */
}

/* A coroutine may start another; yields go to whoever resumed. */
static void
test_nested(void)
{
	struct coro *co = coro_create(outer, NULL);
	int fin;

	nested_steps = 0;
	fin = coro_resume(co);
	CHECK(fin == 1 && nested_steps == 2, "inner yields to its starter");
	CHECK(coro_self() == NULL, "back on the main stack");
	fin = coro_resume(inner_co);
	CHECK(fin == 1 && nested_steps == 3, "main resumes inner to the end");
	coro_free(co);
	coro_free(inner_co);
}

static int	aligned_ok;

static void
alignment(void *arg)
{
	_Alignas(16) volatile char v[16];

	(void)arg;
	/* The compiler trusts the ABI here; a misaligned entry shows up. */
	aligned_ok = ((uintptr_t)v % 16) == 0;
	v[0] = 1;
}

/* The first frame gets the ABI's 16-byte alignment. */
static void
test_alignment(void)
{
	struct coro *co = coro_create(alignment, NULL);

	aligned_ok = 0;
	coro_resume(co);
	CHECK(aligned_ok, "16-byte aligned locals on a fresh stack");
	coro_free(co);
}

static int	fp_inside[2];

static void
rounding(void *arg)
{
	(void)arg;
	fesetround(FE_DOWNWARD);
	coro_yield();
	fp_inside[0] = fegetround();
	fp_inside[1] = 1;
}

/* Each context keeps its own floating-point control state. */
static void
test_fp_state(void)
{
	struct coro *co = coro_create(rounding, NULL);

	coro_resume(co);
	CHECK(fegetround() == FE_TONEAREST, "main keeps round-to-nearest");
	coro_resume(co);
	CHECK(fp_inside[1] && fp_inside[0] == FE_DOWNWARD,
	    "coroutine keeps its own rounding mode across a yield");
	coro_free(co);
}

static void
nothing(void *arg)
{
	(void)arg;
}

/* Finished stacks are reused LIFO, and unmapped past the pool cap. */
static void
test_pool(void)
{
	struct coro *a, *b, *c[8];
	size_t mapped0, i;

	coro_init(CORO_STACK_DEFAULT, 4);
	a = coro_create(nothing, NULL);
	coro_resume(a);
	coro_free(a);
	CHECK(coro_pooled() == 1, "a finished stack goes to the pool");
	b = coro_create(nothing, NULL);
	CHECK(b == a && coro_pooled() == 0, "the next create reuses it");
	coro_free(b);

	mapped0 = coro_mapped();
	for (i = 0; i < 8; i++)
		c[i] = coro_create(nothing, NULL);
	CHECK(coro_mapped() == mapped0 + 7, "7 new stacks mapped beyond the one pooled");
	for (i = 0; i < 8; i++)
		coro_free(c[i]);
	CHECK(coro_pooled() == 4 && coro_mapped() == 4,
	    "pool holds its cap of 4, the rest unmapped");
	coro_fini();
	CHECK(coro_mapped() == 0, "fini unmaps the pool");
	coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT);
}

/*
 * Ten thousand live coroutines, each suspended mid-run.  Under
 * ThreadSanitizer every stack is a TSan fiber, which counts against its
 * limit of 8,128 threads, and every switch joins vector clocks as wide
 * as the fibers: a thousand there.
 */
#if defined(__SANITIZE_THREAD__)
#define MANY_LIVE	1000
#else
#define MANY_LIVE	10000
#endif
static void
test_many_live(void)
{
	enum { N = MANY_LIVE };
	static struct coro *cos[N];
	static int counters[N];
	int i, ok = 1;

	for (i = 0; i < N; i++) {
		counters[i] = 0;
		if ((cos[i] = coro_create(three_steps, &counters[i])) == NULL)
			ok = 0;
	}
	CHECK(ok, "create %d", N);
	for (int round = 0; round < 3; round++)
		for (i = 0; i < N; i++) {
			ntrace = 0;
			coro_resume(cos[i]);
		}
	for (i = 0; i < N; i++)
		if (counters[i] != 3)
			ok = 0;
	CHECK(ok, "%d interleaved coroutines each ran 3 steps", N);
	for (i = 0; i < N; i++)
		coro_free(cos[i]);
}

/*
 * One pooled stack reused 100,000 times, as a busy connection's
 * directions reuse it: nothing may grow with each run (under TSan, the
 * fiber's call stack did: its first frames never return).
 */
static void
test_reuse(void)
{
	int i, ok = 1, counter;

	for (i = 0; i < 100000; i++) {
		struct coro *co;

		counter = 0;
		ntrace = 0;
		if ((co = coro_create(three_steps, &counter)) == NULL) {
			ok = 0;
			break;
		}
		while (!coro_resume(co))
			;
		coro_free(co);
		if (counter != 3)
			ok = 0;
	}
	CHECK(ok && coro_mapped() <= CORO_POOL_DEFAULT,
	    "100,000 coroutines run one after another on pooled stacks");
}

static void
overflow(void *arg)
{
	(void)arg;
	deep(1000);	/* about 1 MiB of frames on a 16 KiB stack */
	(void)!write(STDOUT_FILENO, "survived\n", 9);
}

/* Overflowing a stack faults on the guard page instead of corrupting. */
static void
test_guard_page(int force_mprotect)
{
	const char *how = force_mprotect ? "mprotect" : "default";
	int status = 0;
	pid_t pid;

	if (RUNNING_ON_VALGRIND) {
		CHECK(1, "guard page test skipped under valgrind");
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct coro *co;

		coro_init(CORO_STACK_MIN, 0);
		if (force_mprotect)
			coro_guard_force_mprotect();
		co = coro_create(overflow, NULL);
		coro_resume(co);
		_exit(0);
	}
	waitpid(pid, &status, 0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* The sanitizer catches the fault itself, reports stack-overflow
	 * and exits non-zero (ASan 1, TSan 66). */
	CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) ||
	    (WIFEXITED(status) && WEXITSTATUS(status) != 0),
	    "overflow is fatal (sanitizer build, %s guard)", how);
#else
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	    "overflow of a 16 KiB stack dies by SIGSEGV (%s guard)", how);
#endif
}

static void
scribble_low(void *arg)
{
	char *bottom = (char *)coro_self() - coro_stack_size();

	(void)arg;
	bottom[16] = 1;		/* an overflow that stopped short of the guard */
}

/* A write into the canary zone aborts when the stack is released. */
static void
test_canary(void)
{
	struct coro *co;
	int status = 0;
	pid_t pid;

	co = coro_create(nothing, NULL);
	coro_resume(co);
	coro_free(co);
	CHECK(1, "an intact canary passes release");
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(STDERR_FILENO);	/* the abort message is expected */
		/* A stack of this process's own: a pooled one is the parent's
		 * TSan fiber, which TSan does not carry across fork. */
		coro_fini();
		co = coro_create(scribble_low, NULL);
		coro_resume(co);
		coro_free(co);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	    "a written canary aborts on release (status %#x)", status);
}

int
main(void)
{
	if (coro_init(CORO_STACK_DEFAULT, CORO_POOL_DEFAULT) == -1) {
		perror("coro_init");
		return (1);
	}
	printf("# backend %s, guard %s, usable stack %zu bytes\n",
	    coro_backend(), coro_guard_mode() == CORO_GUARD_INSTALL ?
	    "install" : "mprotect", coro_stack_size());
	CHECK(coro_init(CORO_STACK_MIN - 1, 1) == -1, "stack below 16 KiB refused");
	CHECK(coro_init(CORO_STACK_MAX + 1, 1) == -1, "stack above 1 MiB refused");
	test_resume_yield_finish();
	test_many_switches();
	test_nested();
	test_alignment();
	test_fp_state();
	test_pool();
	test_many_live();
	test_reuse();
	test_canary();
	test_guard_page(0);
	test_guard_page(1);
	coro_fini();
	return (check_done());
}
