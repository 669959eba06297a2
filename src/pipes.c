/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pipes.c: the pipes the proxy splices through (see pipes.h).
 *
 * Owns the pipes kept for reuse: a short per-thread stack, LIFO so that
 * a pipe whose pages are still warm goes out first.  A pipe in use
 * belongs to the direction that took it until put back.  The global
 * count covers both, so max_pipes bounds the fds splice can take from
 * the connections.  A thread keeps a pipe only while the count is below
 * max_pipes: at the bound, a pipe put back is closed, so that one thread
 * cannot hold every pipe idle while another's bulk stream finds none;
 * and after a reload lowered the bound, a thread closes its kept pipes
 * above it when it next looks for one or puts one back.
 */
#include "pipes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

/* Kept per thread, empty, for the next bulk stream. */
#define PIPES_KEEP	16

static atomic_llong		 max_pipes;
static atomic_llong		 open_pipes;
static __thread struct spipe	 kept[PIPES_KEEP];
static __thread unsigned	 nkept;

static long long
count(void)
{
	return (atomic_load_explicit(&open_pipes, memory_order_relaxed));
}

static long long
bound(void)
{
	return (atomic_load_explicit(&max_pipes, memory_order_relaxed));
}

static void
pipe_close(struct spipe *p)
{
	(void)close(p->r);
	(void)close(p->w);
	atomic_fetch_sub_explicit(&open_pipes, 1, memory_order_relaxed);
}

void
pipes_set_max(long long n)
{
	atomic_store_explicit(&max_pipes, n, memory_order_relaxed);
}

long long
pipes_count(void)
{
	return (count());
}

int
pipes_get(struct spipe *p)
{
	int fds[2];

	while (nkept > 0 && count() > bound())
		pipe_close(&kept[--nkept]);
	if (nkept > 0) {
		*p = kept[--nkept];
		return (0);
	}
	/* Look first: no atomic write per full read while none is free. */
	if (count() >= bound()) {
		errno = EMFILE;
		return (-1);
	}
	if (atomic_fetch_add_explicit(&open_pipes, 1, memory_order_relaxed) >=
	    bound()) {
		atomic_fetch_sub_explicit(&open_pipes, 1, memory_order_relaxed);
		errno = EMFILE;
		return (-1);
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		atomic_fetch_sub_explicit(&open_pipes, 1, memory_order_relaxed);
		return (-1);
	}
	p->r = fds[0];
	p->w = fds[1];
	return (0);
}

void
pipes_put(struct spipe *p, int empty)
{
	if (p->r == -1)
		return;
	if (empty && nkept < PIPES_KEEP && count() < bound())
		kept[nkept++] = *p;
	else
		pipe_close(p);
	*p = PIPES_NONE;
}

void
pipes_fini(void)
{
	while (nkept > 0)
		pipe_close(&kept[--nkept]);
}
