/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * buf.c: the per-thread free list of I/O buffers.
 *
 * Owns idle buffers only; a borrowed buffer belongs to its borrower until
 * returned.  The list is LIFO so a hot buffer is reused while in cache.
 */
#include "buf.h"

#include <stdlib.h>

/* Kept idle at most: 4 MiB. */
#define BUF_KEEP	256

struct buf_free {
	struct buf_free	*next;
};

static __thread struct buf_free	*free_list;
static __thread unsigned	 free_len;

void *
buf_borrow(void)
{
	struct buf_free *b;

	if ((b = free_list) != NULL) {
		free_list = b->next;
		free_len--;
		return (b);
	}
	return (malloc(BUF_SIZE));
}

void
buf_return(void *p)
{
	struct buf_free *b = p;

	if (b == NULL)
		return;
	if (free_len >= BUF_KEEP) {
		free(b);
		return;
	}
	b->next = free_list;
	free_list = b;
	free_len++;
}

void
buf_fini(void)
{
	struct buf_free *b;

	while ((b = free_list) != NULL) {
		free_list = b->next;
		free(b);
	}
	free_len = 0;
}
