/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CORO_H
#define CORO_H

#include <stddef.h>

/*
 * Stackful coroutines for one thread: create, resume, yield, finish.
 * Each thread that uses them calls coro_init() first and owns every
 * coroutine it creates; a coroutine never moves between threads.
 */

#define CORO_STACK_DEFAULT	(64 * 1024)
#define CORO_STACK_MIN		(16 * 1024)
#define CORO_STACK_MAX		(1024 * 1024)
#define CORO_POOL_DEFAULT	1024

/* How a stack's lowest page is made to fault. */
enum coro_guard {
	CORO_GUARD_INSTALL,	/* madvise(MADV_GUARD_INSTALL): no extra VMA */
	CORO_GUARD_MPROTECT,	/* mprotect(PROT_NONE): two VMAs per stack */
};

struct coro;

/*
 * coro_init(stack_size, pool_max):
 * Set up this thread's coroutine runtime: stack_size bytes per stack
 * (rounded up to the page size; CORO_STACK_MIN to CORO_STACK_MAX) and at
 * most pool_max finished stacks kept for reuse.  Returns 0, or -1 with
 * errno EINVAL.
 */
int	coro_init(size_t, size_t);

/*
 * coro_fini():
 * Unmap this thread's pooled stacks.  Every coroutine must have been
 * freed.
 */
void	coro_fini(void);

/*
 * coro_create(fn, arg):
 * Make a coroutine that will run fn(arg) on its own guard-paged stack
 * when first resumed.  Returns it, or NULL with errno ENOMEM.  The caller
 * owns it and frees it with coro_free() once it has finished.
 */
struct coro	*coro_create(void (*)(void *), void *);

/*
 * coro_resume(co):
 * Run co until it yields or finishes, then return here.  Returns 1 if co
 * has finished, 0 if it yielded.  May be called from the thread's main
 * stack or from another coroutine (which then waits inside this call).
 */
int	coro_resume(struct coro *);

/*
 * coro_yield():
 * Suspend the running coroutine and return to whoever resumed it.  Only
 * from a coroutine.  Aborts if the stack's canary (its lowest bytes, which
 * must still be zero) or the stack pointer shows an overflow.
 */
void	coro_yield(void);

/*
 * coro_self():
 * The running coroutine, or NULL on the thread's main stack.
 */
struct coro	*coro_self(void);

/*
 * coro_free(co):
 * Return a finished (or never started) coroutine's stack to the pool, or
 * unmap it past the pool's cap.  Aborts if its canary was overwritten.
 * coro_free(NULL) does nothing.
 */
void	coro_free(struct coro *);

/*
 * coro_set_label(label):
 * Name the running coroutine (a listener names its connections'), so a
 * stack overflow can be reported against it.  label is not copied and
 * must outlive the coroutine; a reused stack starts unlabelled.  Does
 * nothing on the thread's main stack.
 */
void	coro_set_label(const char *);

/*
 * coro_fault_is_overflow(addr, label):
 * 1 if addr lies in the guard page of this thread's running coroutine,
 * so that a fault there is that coroutine overflowing its stack; *label
 * is then its label (NULL if none).  Else 0.  Async-signal-safe: meant
 * for a SIGSEGV handler on the alternate signal stack.
 */
int	coro_fault_is_overflow(const void *, const char **);

/* coro_backend(): "asm" or "ucontext". */
const char	*coro_backend(void);

/* coro_guard_mode(): how guard pages are made on this kernel. */
enum coro_guard	coro_guard_mode(void);

/*
 * coro_guard_force_mprotect():
 * Use mprotect guards even where guard markers work (tests of the path
 * that stock Debian 12 kernels take).  Call after coro_init().
 */
void	coro_guard_force_mprotect(void);

/* coro_stack_size(): usable bytes per stack, after coro_init(). */
size_t	coro_stack_size(void);

/* coro_pooled(), coro_mapped(): stacks in the pool, stacks mapped. */
size_t	coro_pooled(void);
size_t	coro_mapped(void);

#endif /* CORO_H */
