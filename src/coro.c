/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * coro.c: stackful coroutines and their guard-paged stacks.
 *
 * Owns: every stack mapping, the per-thread pool of finished stacks, and
 * the switch between contexts.  Knows nothing of fds, libevent or
 * connections; loop.c decides when to resume what.
 *
 * DESIGN.  Coroutines are asymmetric: coro_resume() runs one until it
 * calls coro_yield() or returns, and control always comes back to the
 * resumer.  A resumer may itself be a coroutine (a listener starting a
 * handler), so each coroutine records its caller while it runs.
 *
 * A stack is one mmap(MAP_NORESERVE) of a guard page plus the usable
 * stack; the struct coro sits at its very top, so an idle coroutine whose
 * frames fit in one page costs one page of RAM.  The guard is a page-table
 * marker (MADV_GUARD_INSTALL, Linux 6.13+) where the kernel has it, else
 * an mprotect(PROT_NONE) page, which costs a second VMA per stack and so
 * counts twice against vm.max_map_count (limits.c checks it).
 *
 * The canary is the lowest CORO_CANARY_BYTES of the usable stack, which
 * must still read as zeros; it is checked on every yield and when the
 * stack returns to the pool.  Zeros rather than a magic value because a
 * fresh mapping is already zero and reading a page that was never written
 * maps the kernel's shared zero page, which costs no RSS: writing a magic
 * value faulted in the bottom page of every stack and doubled the memory
 * of an idle connection (8,647 bytes measured with 9,000 idle clients).
 *
 * Two switch backends, chosen at build time: CORO_BACKEND_ASM (x86-64,
 * coro_x86_64.S, about 4 ns and no syscall) and CORO_BACKEND_UCONTEXT
 * (glibc swapcontext, portable, one sigprocmask syscall per switch).
 *
 * Every switch is announced to AddressSanitizer (start/finish fiber
 * switch) and every stack is registered with valgrind, so both tools
 * follow the stack changes instead of reporting them as errors.
 */
#include "coro.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(CORO_BACKEND_UCONTEXT)
#include <ucontext.h>
#elif !defined(CORO_BACKEND_ASM)
#error "define CORO_BACKEND_ASM or CORO_BACKEND_UCONTEXT"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/*
 * ThreadSanitizer keeps a shadow call stack and a vector clock per
 * thread: told nothing, it would see one thread's frames jump between
 * stacks.  Each stack gets a TSan fiber (made with the stack, kept while
 * it waits in the pool, destroyed with it), and every switch says which
 * fiber runs next; flag 0 makes each switch a synchronisation, as it is.
 */
#if defined(__SANITIZE_THREAD__)
#define CORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
/*
 * TSan also keeps each fiber's call stack, pushed at every instrumented
 * function's entry and popped at its return.  A coroutine's first
 * frames (coro_entry, coro_run, switch_exit) never return: left
 * instrumented, each coroutine run on a pooled stack would leave its
 * entries on that fiber's stack, which overflows after some 20,000
 * runs.  So they are not instrumented, and tsan_switch is inlined.
 */
#define CORO_NO_TSAN	__attribute__((no_sanitize_thread))
#else
#define CORO_NO_TSAN
#endif

#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi)	0u
#define VALGRIND_STACK_DEREGISTER(id)	((void)(id))
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif

/* The lowest bytes of every stack, which nothing may write. */
#define CORO_CANARY_BYTES	64

struct coro {
#ifdef CORO_BACKEND_UCONTEXT
	ucontext_t	 uc;
#else
	void		*sp;		/* saved stack pointer while suspended */
#endif
	struct coro	*caller;	/* resumer while running, else NULL */
	void		(*fn)(void *);
	void		*arg;
	char		*stack;		/* lowest usable byte: the canary */
	size_t		 stack_size;	/* usable bytes, up to this struct */
	size_t		 map_size;	/* the whole mapping, guard included */
	struct coro	*next_free;	/* pool link */
	const char	*label;		/* for overflow reports, or NULL */
	int		 finished;
	unsigned	 vg_id;		/* valgrind stack id */
#ifdef CORO_ASAN
	void		*asan_fake;	/* fake stack saved while switched out */
	const void	*asan_bottom;	/* this context's stack bounds */
	size_t		 asan_size;
#endif
#ifdef CORO_TSAN
	void		*tsan_fiber;	/* the thread's own, for main_ctx */
#endif
};

/* The struct at the stack top, rounded so the stack below stays aligned. */
#define CORO_STRUCT_SIZE	((sizeof(struct coro) + 63) & ~(size_t)63)

static enum coro_guard	 guard_mode;
static size_t		 page_size;

static __thread struct coro	 main_ctx;	/* the thread's own stack */
static __thread struct coro	*current;	/* running context */
static __thread struct coro	*pool;		/* LIFO of finished stacks */
static __thread size_t		 pool_len, pool_max, stack_size, mapped;
#ifdef CORO_BACKEND_UCONTEXT
static __thread struct coro	*switch_from;	/* who switched to us */
#else
struct coro_xfer {
	void	*from_sp;
	void	*data;
};
struct coro_xfer	coro_jump(void *, void *);
void			coro_trampoline(void);
#endif

static void __attribute__((noreturn))
coro_panic(const char *msg)
{
	(void)!write(STDERR_FILENO, msg, strlen(msg));
	abort();
}

/* Probe once whether the kernel installs guard markers without a VMA. */
static enum coro_guard
guard_probe(void)
{
	char *p;
	enum coro_guard mode = CORO_GUARD_MPROTECT;

	p = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return (mode);
	if (madvise(p, page_size, MADV_GUARD_INSTALL) == 0)
		mode = CORO_GUARD_INSTALL;
	munmap(p, 2 * page_size);
	return (mode);
}

int
coro_init(size_t size, size_t max)
{
	if (size < CORO_STACK_MIN || size > CORO_STACK_MAX) {
		errno = EINVAL;
		return (-1);
	}
	coro_fini();
	/* Process-wide, set by the first thread: later loop threads only
	 * read them (thread creation orders the first write before). */
	if (page_size == 0) {
		page_size = (size_t)sysconf(_SC_PAGESIZE);
		guard_mode = guard_probe();
	}
	stack_size = (size + page_size - 1) & ~(page_size - 1);
	pool_max = max;
	current = &main_ctx;
	return (0);
}

/* Map a stack with its guard page; the struct coro sits at its top. */
static struct coro *
stack_map(void)
{
	size_t map_size = page_size + stack_size;
	struct coro *co;
	char *base;
	int r;

	base = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		goto fail;
	/* A huge page would turn a 4 KiB stack into 2 MiB of RSS. */
	(void)madvise(base, map_size, MADV_NOHUGEPAGE);
	if (guard_mode == CORO_GUARD_INSTALL)
		r = madvise(base, page_size, MADV_GUARD_INSTALL);
	else
		r = mprotect(base, page_size, PROT_NONE);
	if (r == -1)
		goto fail_unmap;

	co = (struct coro *)(base + map_size - CORO_STRUCT_SIZE);
	memset(co, 0, sizeof(*co));
	co->stack = base + page_size;
	co->stack_size = (size_t)((char *)co - co->stack);
	co->map_size = map_size;
	co->vg_id = VALGRIND_STACK_REGISTER(co->stack, (char *)co);
#ifdef CORO_TSAN
	co->tsan_fiber = __tsan_create_fiber(0);
#endif
	mapped++;
	return (co);

fail_unmap:
	munmap(base, map_size);
fail:
	errno = ENOMEM;
	return (NULL);
}

static void
stack_unmap(struct coro *co)
{
	char *base = co->stack - page_size;
	size_t map_size = co->map_size;

	VALGRIND_STACK_DEREGISTER(co->vg_id);
#ifdef CORO_TSAN
	__tsan_destroy_fiber(co->tsan_fiber);
#endif
	munmap(base, map_size);
	mapped--;
}

void
coro_fini(void)
{
	struct coro *co;

	while ((co = pool) != NULL) {
		pool = co->next_free;
		stack_unmap(co);
	}
	pool_len = 0;
}

/* We have just been switched to from prev: tell ASan where we are. */
static void
switch_landed(struct coro *self, struct coro *prev)
{
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(self->asan_fake, &prev->asan_bottom,
	    &prev->asan_size);
#else
	(void)self;
	(void)prev;
#endif
}

/* Tell TSan that to's fiber runs next (from's is known by now). */
static inline __attribute__((always_inline)) void
tsan_switch(struct coro *from, struct coro *to)
{
#ifdef CORO_TSAN
	if (from->tsan_fiber == NULL)	/* main_ctx: the thread itself */
		from->tsan_fiber = __tsan_get_current_fiber();
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#else
	(void)from;
	(void)to;
#endif
}

static void
switch_to(struct coro *from, struct coro *to)
{
	tsan_switch(from, to);
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&from->asan_fake, to->asan_bottom,
	    to->asan_size);
#endif
#ifdef CORO_BACKEND_UCONTEXT
	switch_from = from;
	if (swapcontext(&from->uc, &to->uc) == -1)
		coro_panic("coro: swapcontext failed\n");
	switch_landed(from, switch_from);
#else
	struct coro_xfer x = coro_jump(to->sp, from);

	((struct coro *)x.data)->sp = x.from_sp;
	switch_landed(from, x.data);
#endif
}

/* The final switch away from a finished coroutine. */
static void __attribute__((noreturn)) CORO_NO_TSAN
switch_exit(struct coro *from, struct coro *to)
{
	tsan_switch(from, to);
#ifdef CORO_ASAN
	/* NULL: this stack's fake frames are gone for good. */
	__sanitizer_start_switch_fiber(NULL, to->asan_bottom, to->asan_size);
#endif
#ifdef CORO_BACKEND_UCONTEXT
	switch_from = from;
	setcontext(&to->uc);
#else
	coro_jump(to->sp, from);
#endif
	coro_panic("coro: finished coroutine resumed\n");
}

static void __attribute__((noreturn)) CORO_NO_TSAN
coro_run(struct coro *co, struct coro *prev)
{
	switch_landed(co, prev);
	co->fn(co->arg);
	co->finished = 1;
	switch_exit(co, co->caller);
}

#ifdef CORO_BACKEND_UCONTEXT
static void CORO_NO_TSAN
coro_entry(void)
{
	coro_run(current, switch_from);
}

static void
ctx_init(struct coro *co)
{
	if (getcontext(&co->uc) == -1)
		coro_panic("coro: getcontext failed\n");
	co->uc.uc_stack.ss_sp = co->stack;
	co->uc.uc_stack.ss_size = co->stack_size;
	co->uc.uc_link = NULL;
	makecontext(&co->uc, coro_entry, 0);
}
#else
/* Called by coro_trampoline with what coro_jump hands over. */
static void CORO_NO_TSAN
coro_entry(void *from_sp, void *data)
{
	struct coro *prev = data;

	prev->sp = from_sp;
	coro_run(current, prev);
}

/*
 * Build the frame coro_jump expects, so that the first switch "returns"
 * into coro_trampoline with r12 = coro_entry and a 16-byte aligned sp.
 */
static void
ctx_init(struct coro *co)
{
	uint64_t *f = (uint64_t *)(((uintptr_t)co & ~(uintptr_t)15) - 64);
	uint32_t mxcsr;
	uint16_t fpucw;

	/* Inherit the creator's rounding modes and exception masks. */
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));
	memset(f, 0, 64);
	f[0] = mxcsr | ((uint64_t)fpucw << 32);
	f[1] = (uint64_t)(uintptr_t)coro_entry;
	f[7] = (uint64_t)(uintptr_t)coro_trampoline;
	co->sp = f;
}
#endif

struct coro *
coro_create(void (*fn)(void *), void *arg)
{
	struct coro *co;

	if ((co = pool) != NULL) {
		pool = co->next_free;
		pool_len--;
	} else if ((co = stack_map()) == NULL)
		return (NULL);

	co->fn = fn;
	co->arg = arg;
	co->caller = NULL;
	co->next_free = NULL;
	co->label = NULL;
	co->finished = 0;
#ifdef CORO_ASAN
	co->asan_fake = NULL;
	co->asan_bottom = co->stack;
	co->asan_size = co->stack_size;
#endif
	ctx_init(co);
	return (co);
}

/* 1 if the canary zone still reads as zeros. */
static int
canary_intact(const struct coro *co)
{
	const uint64_t *p = (const uint64_t *)co->stack;
	uint64_t any = 0;
	size_t i;

	for (i = 0; i < CORO_CANARY_BYTES / sizeof(*p); i++)
		any |= p[i];
	return (any == 0);
}

/* Abort on a smashed canary or a stack pointer outside the stack. */
static void
coro_check(const struct coro *co)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	if (!canary_intact(co))
		coro_panic("coro: stack overflow (canary overwritten)\n");
	if (sp < (uintptr_t)co->stack + CORO_CANARY_BYTES || sp > (uintptr_t)co)
		coro_panic("coro: stack pointer outside its stack\n");
}

int
coro_resume(struct coro *co)
{
	struct coro *self = current;

	if (co->finished || co->caller != NULL)
		coro_panic("coro: resume of a finished or running coroutine\n");
	co->caller = self;
	current = co;
	switch_to(self, co);
	current = self;
	co->caller = NULL;
	return (co->finished);
}

void
coro_yield(void)
{
	struct coro *co = current;

	if (co == &main_ctx)
		coro_panic("coro: yield outside a coroutine\n");
	coro_check(co);
	switch_to(co, co->caller);
}

struct coro *
coro_self(void)
{
	return (current == &main_ctx ? NULL : current);
}

void
coro_free(struct coro *co)
{
	if (co == NULL)
		return;
	if (co->caller != NULL)
		coro_panic("coro: free of a running coroutine\n");
	if (!canary_intact(co))
		coro_panic("coro: stack overflow (canary overwritten)\n");
#ifdef CORO_ASAN
	/* Frames left poisoned must not trip the stack's next user. */
	__asan_unpoison_memory_region(co->stack, co->stack_size);
#endif
	if (pool_len < pool_max) {
		co->next_free = pool;
		pool = co;
		pool_len++;
	} else
		stack_unmap(co);
}

void
coro_set_label(const char *label)
{
	if (current != &main_ctx)
		current->label = label;
}

/*
 * Only reads: the thread's running context and its stack bounds, which
 * nothing changes while a fault on that stack is being handled.
 */
int
coro_fault_is_overflow(const void *addr, const char **label)
{
	const struct coro *co = current;
	uintptr_t a = (uintptr_t)addr, guard;

	if (co == NULL || co == &main_ctx || co->stack == NULL)
		return (0);
	guard = (uintptr_t)co->stack - page_size;
	if (a < guard || a >= (uintptr_t)co->stack)
		return (0);
	if (label != NULL)
		*label = co->label;
	return (1);
}

const char *
coro_backend(void)
{
#ifdef CORO_BACKEND_UCONTEXT
	return ("ucontext");
#else
	return ("asm");
#endif
}

enum coro_guard
coro_guard_mode(void)
{
	return (guard_mode);
}

void
coro_guard_force_mprotect(void)
{
	coro_fini();
	guard_mode = CORO_GUARD_MPROTECT;
}

size_t
coro_stack_size(void)
{
	return (stack_size - CORO_STRUCT_SIZE);
}

size_t
coro_pooled(void)
{
	return (pool_len);
}

size_t
coro_mapped(void)
{
	return (mapped);
}
