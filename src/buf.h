/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef BUF_H
#define BUF_H

/*
 * I/O buffers lent to a connection for one read-and-write, so that an
 * idle connection holds none: 10,000 idle clients would otherwise pin
 * 160 MiB of 16 KiB buffers that are empty almost all the time.
 * Each thread keeps its own free list.  Loop thread.
 */

#define BUF_SIZE	(16 * 1024)

/*
 * buf_borrow():
 * A BUF_SIZE buffer, from the free list or malloc.  Returns it, or NULL
 * with errno ENOMEM.  Give it back with buf_return().
 */
void	*buf_borrow(void);

/*
 * buf_return(buf):
 * Give buf back; kept for reuse up to a cap, freed beyond it.  NULL is a
 * no-op.
 */
void	buf_return(void *);

/* buf_fini(): free this thread's free list. */
void	buf_fini(void);

#endif /* BUF_H */
