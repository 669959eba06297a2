/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pipes.c: the pipes the proxy splices through (see pipes.h).
 *
 * Owns the pipes kept for reuse: a short per-thread stack, LIFO so that
 * a pipe whose pages are still warm goes out first.  A pipe in use
 * belongs to the direction that took it until put back.  The global
 * count covers both, so max_pipes bounds the fds splice can take from
 * the connections.
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

void
pipes_set_max(long long n)
{
	atomic_store_explicit(&max_pipes, n, memory_order_relaxed);
}

long long
pipes_open(void)
{
	return (atomic_load_explicit(&open_pipes, memory_order_relaxed));
}

/* More pipes are open than max_pipes allows (it was lowered). */
static int
over_max(void)
{
	return (atomic_load_explicit(&open_pipes, memory_order_relaxed) >
	    atomic_load_explicit(&max_pipes, memory_order_relaxed));
}

static void	pipe_close(struct spipe *);

int
pipes_get(struct spipe *p)
{
	int fds[2];

	while (nkept > 0 && over_max())
		pipe_close(&kept[--nkept]);
	if (nkept > 0) {
		*p = kept[--nkept];
		return (0);
	}
	if (atomic_fetch_add_explicit(&open_pipes, 1, memory_order_relaxed) >=
	    atomic_load_explicit(&max_pipes, memory_order_relaxed)) {
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

static void
pipe_close(struct spipe *p)
{
	(void)close(p->r);
	(void)close(p->w);
	atomic_fetch_sub_explicit(&open_pipes, 1, memory_order_relaxed);
}

void
pipes_put(struct spipe *p, int empty)
{
	if (p->r == -1)
		return;
	if (empty && nkept < PIPES_KEEP && !over_max())
		kept[nkept++] = *p;
	else
		pipe_close(p);
	p->r = p->w = -1;
}

void
pipes_fini(void)
{
	while (nkept > 0)
		pipe_close(&kept[--nkept]);
}
