/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef PIPES_H
#define PIPES_H

/*
 * Pipes for splice(2): the proxy moves a bulk stream socket to pipe to
 * socket, so its bytes never cross into user space.  A pipe is two fds;
 * the daemon holds at most max_pipes of them at once (a global count),
 * and each loop thread keeps a few empty ones for reuse.
 */

struct spipe {
	int	r;	/* read end; -1: none */
	int	w;	/* write end */
};

/* No pipe: what a direction holds while it copies. */
#define PIPES_NONE	((struct spipe){ -1, -1 })

/*
 * pipes_set_max(n):
 * At most n pipes open at once in the daemon (0: none: no splice).  Any
 * thread; pipes open beyond it close as their threads next get or put
 * one.
 */
void	pipes_set_max(long long);

/*
 * pipes_get(p):
 * An empty pipe, both ends non-blocking: this thread's last one put
 * back, or a new one.  Returns 0, or -1 with errno EMFILE when max_pipes
 * are open, or pipe2(2)'s error.  Loop thread.
 */
int	pipes_get(struct spipe *);

/*
 * pipes_put(p, empty):
 * Give p back and mark it none (PIPES_NONE).  A pipe that may hold
 * bytes (empty is 0: the stream was cut with data in it) is closed, as
 * is one beyond what the thread keeps (16), or any while max_pipes are
 * open.  No-op if p is none.  Loop thread.
 */
void	pipes_put(struct spipe *, int);

/*
 * pipes_count():
 * The pipes open in the daemon now, in use or kept (every thread's).
 * Any thread.
 */
long long	pipes_count(void);

/* pipes_fini(): close this thread's kept pipes.  Loop thread, at exit. */
void	pipes_fini(void);

#endif /* PIPES_H */
