/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef IO_H
#define IO_H

#include <sys/types.h>

#include <stdint.h>

struct mmsghdr;
struct sock_addr;

/*
 * Parking I/O for coroutines.  Each call tries the system call first and
 * parks only when it would block.  Deadlines are absolute monotonic
 * milliseconds on clock_now() (clock.h); -1 means none.  A call that would park
 * past its deadline fails with ETIMEDOUT, and every parking call fails
 * with ECANCELED once shutdown cancels it.  All calls: loop thread, from
 * a coroutine ("May park").  Reads, writes and accepts spend from the
 * coroutine's slice; once it is spent, the next one lets the loop run its
 * other work first, so no connection can starve the others.
 */

#define IO_READ		1
#define IO_WRITE	2

/*
 * io_wait(fd, what, deadline):
 * Park until fd is readable (IO_READ) or writable (IO_WRITE).  Returns 0,
 * or -1 with errno ETIMEDOUT, ECANCELED, EBUSY (another coroutine waits
 * on fd in that direction) or ENOMEM.  May park.
 */
int	io_wait(int, int, int64_t);

/*
 * io_wait_idle(fd, deadline):
 * As io_wait(fd, IO_READ, deadline) for a connection with no request in
 * progress: shutdown cancels it first, while busy connections may finish.
 * May park.
 */
int	io_wait_idle(int, int64_t);

/*
 * Live waits.  A connection is idle only once, for its limit, it has
 * neither moved a byte nor had a byte taken by its peer from a send
 * queue.  io_write_live(), io_hibernate() and io_look() take the
 * connection's deadline by address and its limit in ms (0: none; the
 * deadline is then -1): a byte written, or a peer seen taking bytes
 * while the call waits, moves the deadline to limit from now.  Either
 * call fails with ETIMEDOUT only once the deadline, which others may
 * move too, has passed.
 */

/*
 * io_hibernate(fd, deadline, limit, idle, fn, arg):
 * Wait for fd to become readable without keeping a stack: returns 0 if
 * it is readable now (read it); 1 once the wait is set up, and then the
 * caller must return all the way out of its coroutine, which finishes
 * and gives its stack back; -1 with errno ETIMEDOUT, ECANCELED, an
 * io_abort() error or ENOMEM.  The wait is live (see above): while
 * bytes written to fd may still be queued, it looks at the queue.  When
 * fd becomes readable, *deadline passes, the wait is cancelled (idle: as
 * io_wait_idle's, at the start of a drain; else as any busy wait) or
 * aborted or interrupted, fn(arg) starts in a new coroutine; it calls
 * io_hibernate() again to learn which (0, or -1 with the error; after an
 * interrupt, the wait starts again with the new *deadline).  What fn
 * needs, *deadline too, must live off the stack.  io_close(fd) drops
 * the wait: fn does not run.  May park (never does).
 */
int	io_hibernate(int, int64_t *, int64_t, int, void (*)(void *), void *);

/*
 * io_read(fd, buf, len, deadline):
 * Read up to len bytes from fd, parking until readable.  Returns the
 * count, 0 at EOF, or -1 with errno ETIMEDOUT, ECANCELED or a read(2)
 * error.  May park.
 */
ssize_t	io_read(int, void *, size_t, int64_t);

/*
 * io_peek(fd, buf, len, deadline):
 * As io_read(), but the bytes stay queued on the socket (MSG_PEEK): the
 * next read or peek sees them again.  A caller that waits for more must
 * first read what it has seen, or it would peek the same bytes forever.
 * The wait is idle, as io_wait_idle()'s: what is peeked at comes before
 * any request (a PROXY protocol header), so a drain cancels it first.
 * May park.
 */
ssize_t	io_peek(int, void *, size_t, int64_t);

/*
 * io_read_now(fd, buf, len):
 * Read up to len bytes that fd has now, without parking (after io_wait:
 * readiness may be stale).  Returns the count, 0 at EOF, or -1 with
 * errno EAGAIN (nothing after all), ECANCELED, or a read(2) error, which
 * may be ETIMEDOUT (TCP gave up on the peer).  May park (to take turns).
 */
ssize_t	io_read_now(int, void *, size_t);

/*
 * io_write_some(fd, buf, len, deadline):
 * Write at least one of len bytes, parking while fd's buffer is full.
 * Returns how many were written, or -1 with errno ETIMEDOUT, ECANCELED,
 * EINTR (io_interrupt) or a write(2) error.  May park.
 */
ssize_t	io_write_some(int, const void *, size_t, int64_t);

/*
 * io_write(fd, buf, len, deadline):
 * Write all len bytes, parking while fd's buffer is full.  Returns 0, or
 * -1 with errno ETIMEDOUT, ECANCELED or a write(2) error (some bytes may
 * have been written).  May park.
 */
int	io_write(int, const void *, size_t, int64_t);

/*
 * io_write_live(fd, buf, len, deadline, limit):
 * As io_write_some(), but live (see above): every write moves *deadline,
 * and so do the bytes the peer takes from fd's send queue while the call
 * waits for room, looked at every tenth of limit.  Fails with ETIMEDOUT
 * only once *deadline has passed (a write(2) error may be ETIMEDOUT too:
 * TCP gave up on the peer).  May park.
 */
ssize_t	io_write_live(int, const void *, size_t, int64_t *, int64_t);

/*
 * io_splice_in(fd, pipe_w, len):
 * As io_read_now(), but moves up to len bytes from socket fd into the
 * pipe whose write end is pipe_w, with splice(2): the bytes never reach
 * user space.  The pipe must be empty, so that EAGAIN is never the
 * pipe's.  Neither a short count (the pipe's slots ran out) nor EAGAIN
 * nor 0 proves fd empty or ended: TCP's splice stops at the urgent mark,
 * saying EAGAIN (or 0, if a FIN is queued behind) with data still there.
 * So fd's read flags are left as they were, and after EAGAIN or 0 the
 * caller reads with io_read_now(), which passes the mark and tells.
 * Errors as io_read_now()'s, and EINVAL or ENOSYS when fd cannot splice.
 * May park (to take turns).
 */
ssize_t	io_splice_in(int, int, size_t);

/*
 * io_splice_out_live(pipe_r, fd, len, deadline, limit):
 * As io_write_live(), but moves at least one of len bytes from the pipe
 * whose read end is pipe_r to socket fd, with splice(2).  The pipe must
 * hold at least len bytes (so that EAGAIN is fd's).  splice(2) has no
 * MSG_NOSIGNAL: a peer that has gone raises SIGPIPE, which the caller's
 * process must ignore (the daemon does).  Errors as io_write_live()'s,
 * and EINVAL or ENOSYS when fd cannot splice.  May park.
 */
ssize_t	io_splice_out_live(int, int, size_t, int64_t *, int64_t);

/*
 * io_look(fd, deadline, limit):
 * Look at fd's send queue now: if its peer has taken bytes since io.c
 * last looked, move *deadline to limit from now.  For a timeout decided
 * outside a live wait on fd (a proxy about to cut both sides).  Loop
 * thread.
 */
void	io_look(int, int64_t *, int64_t);

/*
 * io_accept(lfd, peer, deadline):
 * Accept a connection on the listening socket lfd, parking until one
 * arrives; waits idle, so shutdown cancels it first.  Stores the peer's
 * address in peer if not NULL.  Returns the new non-blocking,
 * close-on-exec fd (the caller owns it) or -1 with errno ETIMEDOUT,
 * ECANCELED, an io_abort() error (checked again after waiting for its
 * turn, so an aborted listener accepts no one) or an accept4(2) error
 * (EMFILE...).  May park.
 */
int	io_accept(int, struct sock_addr *, int64_t);

/*
 * io_recv_batch(fd, msgs, n):
 * Receive up to n datagrams on the UDP socket fd (recvmmsg(2) without
 * waiting for the batch to fill), parking until one arrives.  The wait
 * is idle, as io_accept()'s: a drain cancels it first, and so does an
 * io_abort() (checked again after waiting for its turn).  Spends from
 * the slice: the bytes and a cost per datagram.  Returns how many, or
 * -1 with errno ECANCELED, an io_abort() error or a recvmmsg(2) error.
 * May park.
 */
int	io_recv_batch(int, struct mmsghdr *, unsigned);

/*
 * io_connect(fd, addr, deadline):
 * Connect the non-blocking socket fd to addr, parking until done.
 * Returns 0, or -1 with errno ETIMEDOUT, ECANCELED or the connect error
 * (ECONNREFUSED; EAGAIN for a UNIX listener whose backlog is full).
 * May park.
 */
int	io_connect(int, const struct sock_addr *, int64_t);

/*
 * io_sleep(deadline):
 * Park until deadline.  Returns 0, or -1 with errno ECANCELED.  May park.
 */
int	io_sleep(int64_t);

/*
 * io_pause(deadline):
 * As io_sleep(), for a coroutine that serves no client (an accept loop
 * pausing after EMFILE): a drain cancels it at once, as it does an idle
 * wait, instead of leaving it the shutdown_timeout of busy ones.
 * May park.
 */
int	io_pause(int64_t);

/*
 * io_set_idle(fd):
 * From now until io_close(fd), every wait on fd is an idle one: the
 * stop sequence cancels it at once, as it does an accept.  For a socket
 * that serves no client (a health check's).  Returns 0, or -1 with
 * errno ENOMEM.  Loop thread.
 */
int	io_set_idle(int);

/*
 * io_abort(fd, err):
 * From now until io_close(fd), every parking call on fd fails with err,
 * and a coroutine waiting on fd wakes with err.  For tearing down both
 * halves of a relay when one fails.  Loop thread.
 */
void	io_abort(int, int);

/*
 * io_on_error(fd, fn, arg):
 * Call fn(arg, err) on the loop's main stack when an edge that may carry
 * a socket error arrives on fd while no coroutine waits on it, and
 * SO_ERROR says err (the error is consumed).  For a relay whose
 * coroutines are all parked on other fds.  fn may io_abort() and resume
 * coroutines, even io_close(fd).  Returns 0, or -1 with errno ENOMEM.
 * Loop thread.
 */
int	io_on_error(int, void (*)(void *, int), void *);

/*
 * io_interrupt(fd, what):
 * Wake a coroutine waiting on fd in direction what (IO_READ or IO_WRITE)
 * with EINTR, so it looks at its deadline again.  Loop thread.
 */
void	io_interrupt(int, int);

/*
 * io_close(fd):
 * Forget fd's event and close it.  A coroutine still waiting on fd wakes
 * with EBADF.  Every fd given to io_* must be closed this way.  Returns
 * close(2)'s result.  Loop thread.
 */
int	io_close(int);

/*
 * io_fini():
 * Free this thread's fd table, before its loop is freed (a loop thread
 * that ends).  Every fd should have been closed by then; the state of
 * any that was not is dropped, and the fd is left open.
 */
void	io_fini(void);

#endif /* IO_H */
