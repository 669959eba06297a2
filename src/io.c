/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * io.c: system calls that park the calling coroutine instead of blocking.
 *
 * Owns the per-fd readiness state and its libevent event.  Parking,
 * deadlines and cancellation are loop.c's (loop_park); sockets are
 * sock.c's.
 *
 * DESIGN.  Each fd gets one event, created the first time a call on it
 * would block, with EV_READ|EV_WRITE|EV_PERSIST|EV_ET, and it stays added
 * until io_close(): no epoll_ctl per wait (re-arming per wait costs about
 * 50 % more per message).  Because the event is edge-triggered, io.c keeps
 * a "ready" flag per direction: set by the event, cleared when a call sees
 * EAGAIN.  A call parks only when the flag is clear.  An fd has at most
 * one waiting reader and one waiting writer, which is what the proxy's two
 * directions need.  Level-triggered readiness would wake a reader that is
 * not waiting over and over while its writer is parked on backpressure;
 * edges do not.
 *
 * One read per message.  A read that returns less than asked for has
 * usually emptied the socket, and data arriving later raises a new edge,
 * so it clears the read flag: no EAGAIN read per message.  But it does
 * not prove the socket empty, and what is left raises no further edge:
 *  - an EOF that came with the data.  A FIN sets EPOLLRDHUP, which
 *    libevent reports as EV_CLOSED: such an edge makes the read flag
 *    sticky until a read sees EAGAIN or the EOF.
 *  - a reset or another socket error that came with the data.  EPOLLERR
 *    reaches us as EV_READ|EV_WRITE, exactly like plain data on a socket
 *    with room to write (an edge reports the whole readiness mask, and on
 *    loopback nearly every message carries the ACK of our last write).
 *  - data behind a point where the kernel stops a read early: TCP's
 *    urgent mark (telnet's ^C sends one), an AF_UNIX message that carried
 *    file descriptors.
 * So a short read leaves a "recheck": a reader that would park on that
 * fd before any new edge waits at most IO_RECHECK_MS, then reads once
 * more.  In a steady exchange the next message comes first and the check
 * costs nothing; a connection going quiet pays one read.  Sooner than
 * that, an error shows in the next write to the socket (a pending socket
 * error fails every write), and io_on_error() lets the owner of an fd
 * that nobody is waiting on hear of an error edge at once.
 *
 * Progress.  A connection is idle only once, for its limit, it has
 * neither moved a byte nor had one taken by its peer, but a slow reader
 * raises no writable edge: the kernel calls a socket writable again only
 * once a good part of its send buffer is free (TCP: a third of a buffer
 * that autotuning may have grown to megabytes; AF_UNIX: three quarters),
 * and a connection that waits to read may still have a queue draining.
 * So the live calls (io_write_live, io_hibernate) take the connection's
 * deadline by address, with its limit: a byte written moves it to limit
 * from now, and so does a peer seen taking bytes.  A live wait whose fd
 * may have bytes queued wakes every limit / IO_LOOKS and looks at the
 * queue (sock_unsent: SIOCOUTQ); shorter than at the last look is
 * progress.  Only a whole limit without progress fails the wait, so a
 * peer that stops is cut within the limit and one look.  The data path
 * pays nothing for it: a write marks the queue unknown (f->unsent = -1,
 * no system call); a write parks with one look, for its baseline; a
 * read wait looks first when its recheck comes anyway, and an empty
 * queue needs no more looks until the next write.  So a write that does
 * not block and a read wait that ends within its recheck make no extra
 * system call.  How often a peer's reads show is up to its kernel: TCP
 * reopens a closed window only once a good part of the receive buffer
 * is free (on loopback, with 64 KiB segments and the default 128 KiB
 * buffer, about every 108 KiB read), AF_UNIX frees a message only once
 * it is wholly read.  A live wait is for one connection's deadline, and
 * io_look() lets its owner look at another fd of the same connection
 * before it cuts.
 *
 * Fairness.  A call that finds its fd ready never parks, so a client that
 * always has data could keep its coroutine running forever.  Each read,
 * write and accept spends from the running coroutine's slice
 * (loop_spend()), and a call made once the slice is spent first lets the
 * loop run its other work (loop_yield()).
 *
 * Sockets first.  Data moves with recv() and send(MSG_NOSIGNAL), not
 * read() and write(): those go through the VFS layer (rw_verify_area,
 * the file's position lock, the security hook) before reaching the same
 * socket code, about 4 % of an echoed or proxied message's CPU.
 * MSG_NOSIGNAL makes a write to a reset peer EPIPE whatever SIGPIPE's
 * disposition.  Any other fd (a pipe) gets ENOTSOCK from them and goes
 * the read()/write() way (io_recv(), io_send()).
 *
 * Splice.  io_splice_in() and io_splice_out_live() are io_read_now() and
 * io_write_live() with splice(2) between a socket and a pipe, sharing
 * their turns, spending and parking (read_now(), write_some()).  The
 * pipe is never waited on: the caller keeps it empty before a splice in
 * and splices out no more than it holds, so EAGAIN is the socket's.  A
 * splice in proves nothing about the socket's readiness (see
 * read_now()): only a read does.  Splicing out raises SIGPIPE on a gone
 * peer (no MSG_NOSIGNAL there): the daemon ignores SIGPIPE.
 */
#include "io.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "loop.h"
#include "loop_park.h"
#include "sock.h"

/* How long a reader parks after a short read before reading again. */
#define IO_RECHECK_MS	LOOP_SOON_MS	/* its timer is cheap: see loop_park.h */
/* How many times per limit a live wait looks at a send queue. */
#define IO_LOOKS	10
/* What a system call costs from a slice, besides the bytes it moves. */
#define IO_CALL_COST	1024
/* An accept also starts a coroutine: 64 of them make a slice. */
#define IO_ACCEPT_COST	(LOOP_SLICE / 64)

struct io_wait;

/* One per open fd of every connection, idle ones too: kept small. */
struct io_fd {
	struct event	 ev;
	unsigned	 readable:1;
	unsigned	 writable:1;
	unsigned	 sticky:1;	/* an EOF follows the data */
	unsigned	 recheck:1;	/* a short read may have left some */
	unsigned	 idle:1;	/* io_set_idle(): waits are idle */
	int		 aborted;	/* io_abort()'s errno, or 0 */
	void		(*on_error)(void *, int);	/* io_on_error() */
	void		*on_error_arg;
	struct io_hib	*hib;		/* io_hibernate()'s, made on first use */
	int		*alive;		/* cleared by io_close() during dispatch */
	int		 unsent;	/* send queue at the last look, or
					   -1: not known (written since) */
	struct io_wait	*reader;
	struct io_wait	*writer;
};

struct io_wait {
	struct loop_wait lw;	/* first: detach gets &lw */
	struct io_fd	*f;	/* NULL once unlinked */
	int		 what;
};

/* A reader that gave its stack back (io_hibernate), in its fd's state. */
struct io_hib {
	struct io_wait	 w;	/* first: the reader slot points here */
	struct io_fd	*f;	/* w.f is cleared when woken; this is not */
	int64_t		*deadline;	/* the owner's: live */
	int64_t		 limit;
	int		 flags;	/* loop_park()'s */
	void		(*fn)(void *);
	void		*arg;
};

/* This thread's fd table, indexed by fd, grown on demand. */
static __thread struct io_fd	**fds;
static __thread size_t		  nfds;

static struct io_wait **
slot(struct io_fd *f, int what)
{
	return (what == IO_READ ? &f->reader : &f->writer);
}

static void
wait_unlink(struct io_wait *w)
{
	if (w->f != NULL && *slot(w->f, w->what) == w)
		*slot(w->f, w->what) = NULL;
	w->f = NULL;
}

static void
wait_detach(struct loop_wait *lw)
{
	wait_unlink((struct io_wait *)lw);
}

static void	wake_err(struct io_fd *, int, int);

/*
 * An edge that nobody was parked for and that may carry a socket error
 * (EV_READ|EV_WRITE without EV_CLOSED): tell the fd's owner if it asked.
 * Runs last in on_fd_event(): the owner may close fd, freeing f.
 */
static void
check_error(struct io_fd *f, int fd)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
		f->on_error(f->on_error_arg, err);
}

static void
on_fd_event(evutil_socket_t fd, short what, void *arg)
{
	struct io_fd *f = arg;
	int alive = 1, orphan;

	if (what & EV_CLOSED)
		f->sticky = 1;
	if (what & (EV_READ | EV_CLOSED))
		f->readable = 1;
	if (what & EV_WRITE)
		f->writable = 1;
	orphan = f->reader == NULL && f->writer == NULL &&
	    (what & (EV_READ | EV_WRITE | EV_CLOSED)) == (EV_READ | EV_WRITE);
	/*
	 * The reader runs first and may close fd: io_close() then wakes the
	 * writer with EBADF and frees f, and says so through alive.
	 */
	f->alive = &alive;
	if (what & (EV_READ | EV_CLOSED))
		wake_err(f, IO_READ, 0);
	if (!alive)
		return;
	f->alive = NULL;
	if (what & EV_WRITE)
		wake_err(f, IO_WRITE, 0);
	if (orphan && f->on_error != NULL)	/* nobody woke: f is alive */
		check_error(f, fd);
}

/* fd's state, if it has any yet. */
static struct io_fd *
fd_find(int fd)
{
	return (fd >= 0 && (size_t)fd < nfds ? fds[fd] : NULL);
}

/* fd's state, made (and its event added) on first need. */
static struct io_fd *
fd_get(int fd)
{
	struct io_fd *f, **grown;
	size_t n;

	if ((f = fd_find(fd)) != NULL)
		return (f);
	if ((size_t)fd >= nfds) {
		n = nfds ? nfds : 64;
		while (n <= (size_t)fd)
			n *= 2;
		if ((grown = realloc(fds, n * sizeof(*fds))) == NULL)
			return (NULL);
		memset(grown + nfds, 0, (n - nfds) * sizeof(*fds));
		fds = grown;
		nfds = n;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (NULL);
	f->unsent = -1;
	/*
	 * Not ready until the event says so: adding an edge-triggered event
	 * reports the fd's current state, so nothing is missed.  The I/O
	 * calls try the system call first and do not look at these flags.
	 */
	if (event_assign(&f->ev, loop_base(), fd,
	    EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET, on_fd_event,
	    f) == -1 ||
	    event_add(&f->ev, NULL) == -1) {
		free(f);
		errno = ENOMEM;
		return (NULL);
	}
	fds[fd] = f;
	return (f);
}

/*
 * When a reader of f waiting until deadline must look again: the
 * deadline, or sooner if the last read was short (see DESIGN).
 */
static int64_t
read_until(const struct io_fd *f, int64_t deadline)
{
	int64_t recheck;

	if (!f->recheck)
		return (deadline);
	recheck = clock_now() + IO_RECHECK_MS;
	return (deadline == -1 || recheck < deadline ? recheck : deadline);
}

/*
 * Look at f's send queue (see DESIGN, progress): shorter than at the last
 * look means the peer took bytes, and the live *deadline moves.
 */
static void
look(struct io_fd *f, int fd, int64_t *deadline, int64_t limit)
{
	int q;

	if (limit <= 0 || f->unsent == 0)
		return;	/* no deadline; or empty, and nothing written */
	q = sock_unsent(fd);
	if (q != -1 && f->unsent != -1 && q < f->unsent)
		*deadline = clock_now() + limit;
	f->unsent = q;
}

/*
 * When a live wait on f should next wake: its deadline, or sooner to
 * look at a send queue that is not known to be empty.
 */
static int64_t
look_until(const struct io_fd *f, int64_t deadline, int64_t limit)
{
	int64_t next;

	if (deadline == -1 || limit <= 0 || f->unsent == 0)
		return (deadline);
	next = clock_now() + (limit >= IO_LOOKS ? limit / IO_LOOKS : 1);
	return (next < deadline ? next : deadline);
}

/* Park until what becomes ready on f. */
static int
park(struct io_fd *f, int what, int64_t deadline, int flags)
{
	struct io_wait w;
	int64_t until;
	int r;

	if (f->aborted != 0) {
		errno = f->aborted;
		return (-1);
	}
	if (*slot(f, what) != NULL) {
		errno = EBUSY;
		return (-1);
	}
	if (f->idle)
		flags |= LOOP_WAIT_IDLE;
	/* The last read was short: look again soon, if no edge comes. */
	until = what == IO_READ ? read_until(f, deadline) : deadline;
	memset(&w, 0, sizeof(w));
	w.f = f;
	w.what = what;
	w.lw.detach = wait_detach;
	*slot(f, what) = &w;
	r = loop_park(&w.lw, until, until != deadline ? flags | LOOP_WAIT_SOON :
	    flags);
	wait_unlink(&w);	/* if loop_park failed without parking */
	if (r == -1 && errno == ETIMEDOUT && until != deadline &&
	    (deadline == -1 || clock_now() < deadline)) {
		/* The recheck: f is alive, io_close() would have said EBADF. */
		f->recheck = 0;
		f->readable = 1;
		return (0);
	}
	return (r);
}

/* A call saw EAGAIN: mark that direction not ready and park. */
static int
park_until(int fd, int what, int64_t deadline, int flags)
{
	struct io_fd *f = fd_get(fd);

	if (f == NULL)
		return (-1);
	if (what == IO_READ) {
		f->readable = 0;
		f->sticky = 0;
		f->recheck = 0;
	} else
		f->writable = 0;
	return (park(f, what, deadline, flags));
}

static int
wait_ready(int fd, int what, int64_t deadline, int flags)
{
	struct io_fd *f = fd_get(fd);

	if (f == NULL)
		return (-1);
	if (what == IO_READ ? f->readable : f->writable)
		return (0);
	return (park(f, what, deadline, flags));
}

int
io_wait(int fd, int what, int64_t deadline)
{
	return (wait_ready(fd, what, deadline, 0));
}

int
io_wait_idle(int fd, int64_t deadline)
{
	return (wait_ready(fd, IO_READ, deadline, LOOP_WAIT_IDLE));
}

/* A short read: wait for the next edge, or recheck (see DESIGN). */
static void
mark_drained(int fd)
{
	struct io_fd *f = fd_find(fd);

	if (f != NULL && !f->sticky) {
		f->readable = 0;
		f->recheck = 1;
	}
}

/* Before a system call: once the slice is spent, let the loop run. */
static int
take_turn(void)
{
	if (loop_slice_spent() && loop_yield() == -1)
		return (-1);
	return (0);
}

/* read(2) for sockets, without the VFS layer; and for anything else. */
static ssize_t
io_recv(int fd, void *buf, size_t len)
{
	ssize_t n;

	if ((n = recv(fd, buf, len, 0)) == -1 && errno == ENOTSOCK)
		n = read(fd, buf, len);
	return (n);
}

/* write(2) for sockets, never raising SIGPIPE; and for anything else. */
static ssize_t
io_send(int fd, const void *buf, size_t len)
{
	ssize_t n;

	if ((n = send(fd, buf, len, MSG_NOSIGNAL)) == -1 && errno == ENOTSOCK)
		n = write(fd, buf, len);
	return (n);
}

ssize_t
io_read(int fd, void *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	if (take_turn() == -1)
		return (-1);
	for (;;) {
		if ((n = io_recv(fd, buf, len)) > 0) {
			loop_spend((size_t)n + IO_CALL_COST);
			if ((size_t)n < len)
				mark_drained(fd);
			return (n);
		}
		if (n == 0)
			return (0);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return (-1);
		if (park_until(fd, IO_READ, deadline, 0) == -1)
			return (-1);
	}
}

ssize_t
io_peek(int fd, void *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	if (take_turn() == -1)
		return (-1);
	for (;;) {
		if ((n = recv(fd, buf, len, MSG_PEEK)) >= 0) {
			if (n > 0)
				loop_spend(IO_CALL_COST);
			return (n);
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return (-1);
		if (park_until(fd, IO_READ, deadline, LOOP_WAIT_IDLE) == -1)
			return (-1);
	}
}

/*
 * io_read_now() and io_splice_in(): take up to len bytes from fd by
 * take(fd, dst, len).  reads: it is a read into a buffer, whose short
 * count means fd is (nearly always) empty, and whose EAGAIN means it is.
 * A splice into a pipe proves neither: it stops short when the pipe's
 * slots run out, and at TCP's urgent mark it says EAGAIN with data still
 * queued.  So a splice leaves the read flags as they were.
 */
static ssize_t
read_now(int fd, ssize_t (*take)(int, void *, size_t), void *dst,
    size_t len, int reads)
{
	struct io_fd *f;
	ssize_t n;

	if (take_turn() == -1)
		return (-1);
	while ((n = take(fd, dst, len)) == -1 && errno == EINTR)
		continue;
	if (n > 0) {
		loop_spend((size_t)n + IO_CALL_COST);
		if (reads && (size_t)n < len)
			mark_drained(fd);
	} else if (reads && n == -1 && errno == EAGAIN &&
	    (f = fd_find(fd)) != NULL) {
		f->readable = 0;
		f->sticky = 0;
		f->recheck = 0;
	}
	return (n);
}

ssize_t
io_read_now(int fd, void *buf, size_t len)
{
	return (read_now(fd, io_recv, buf, len, 1));
}

/* splice(2) from socket fd into the pipe whose write end *dst is. */
static ssize_t
splice_take(int fd, void *dst, size_t len)
{
	return (splice(fd, NULL, *(int *)dst, NULL, len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
}

ssize_t
io_splice_in(int fd, int pipe_w, size_t len)
{
	return (read_now(fd, splice_take, &pipe_w, len, 0));
}

/*
 * Park a live writer on f until fd has room, looking at its send queue
 * meanwhile (see DESIGN, progress).
 */
static int
park_live(struct io_fd *f, int fd, int64_t *deadline, int64_t limit)
{
	int64_t until;

	f->writable = 0;
	f->unsent = limit > 0 ? sock_unsent(fd) : -1;
	for (;;) {
		until = look_until(f, *deadline, limit);
		if (park(f, IO_WRITE, until, 0) == 0)
			return (0);
		if (errno != ETIMEDOUT || f->aborted != 0)
			return (-1);	/* not the timer: an abort? */
		/* f is alive: io_close() would have said EBADF. */
		look(f, fd, deadline, limit);
		if (*deadline != -1 && clock_now() >= *deadline) {
			errno = ETIMEDOUT;
			return (-1);
		}
	}
}

/*
 * io_write_some(), io_write_live() if live, and io_splice_out_live():
 * put bytes to fd by put(fd, src, len).
 */
static ssize_t
write_some(int fd, ssize_t (*put)(int, const void *, size_t),
    const void *src, size_t len, int64_t *deadline, int64_t limit, int live)
{
	struct io_fd *f;
	ssize_t n;

	if (take_turn() == -1)
		return (-1);
	for (;;) {
		if ((n = put(fd, src, len)) > 0) {
			loop_spend((size_t)n + IO_CALL_COST);
			if ((f = fd_find(fd)) != NULL)
				f->unsent = -1;	/* grown: look again */
			if (live && limit > 0)
				*deadline = clock_now() + limit;
			return (n);
		}
		if (n == 0)
			errno = EIO;	/* no progress and no error: give up */
		else if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return (-1);
		if (!live) {
			if (park_until(fd, IO_WRITE, *deadline, 0) == -1)
				return (-1);
		} else if ((f = fd_get(fd)) == NULL ||
		    park_live(f, fd, deadline, limit) == -1)
			return (-1);
	}
}

ssize_t
io_write_some(int fd, const void *buf, size_t len, int64_t deadline)
{
	return (write_some(fd, io_send, buf, len, &deadline, 0, 0));
}

ssize_t
io_write_live(int fd, const void *buf, size_t len, int64_t *deadline,
    int64_t limit)
{
	return (write_some(fd, io_send, buf, len, deadline, limit, 1));
}

/*
 * splice(2) to socket fd from the pipe whose read end *src is.  The
 * caller asks for no more than the pipe holds, so EAGAIN is fd's.
 */
static ssize_t
splice_put(int fd, const void *src, size_t len)
{
	return (splice(*(const int *)src, NULL, fd, NULL, len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
}

ssize_t
io_splice_out_live(int pipe_r, int fd, size_t len, int64_t *deadline,
    int64_t limit)
{
	return (write_some(fd, splice_put, &pipe_r, len, deadline, limit, 1));
}

void
io_look(int fd, int64_t *deadline, int64_t limit)
{
	struct io_fd *f = fd_find(fd);

	if (f != NULL)
		look(f, fd, deadline, limit);
}

int
io_write(int fd, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = io_write_some(fd, p, len, deadline)) == -1)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * accept(2) reports some errors of the connection being accepted, not of
 * the listener: accept(2) says to retry them at once, as ECONNABORTED.
 */
static int
accept_retry(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	case ENETDOWN:
	case EPROTO:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return (1);
	default:
		return (0);
	}
}

int
io_accept(int lfd, struct sock_addr *peer, int64_t deadline)
{
	struct sock_addr tmp;
	struct sock_addr *sa = peer ? peer : &tmp;
	struct io_fd *f;
	int fd;

	for (;;) {
		/* Draining: an accept waiting for its turn is idle, too. */
		if (loop_slice_spent() && loop_yield_idle() == -1)
			return (-1);
		/* Aborted while it waited for its turn (a reload retired the
		 * listener): accept no one. */
		if ((f = fd_find(lfd)) != NULL && f->aborted != 0) {
			errno = f->aborted;
			return (-1);
		}
		sa->len = sizeof(sa->ss);
		fd = accept4(lfd, (struct sockaddr *)&sa->ss, &sa->len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			loop_spend(IO_ACCEPT_COST);
			return (fd);
		}
		if (accept_retry(errno)) {
			loop_spend(IO_CALL_COST);
			continue;
		}
		if (errno != EAGAIN)
			return (-1);
		if (park_until(lfd, IO_READ, deadline, LOOP_WAIT_IDLE) == -1)
			return (-1);
	}
}

int
io_recv_batch(int fd, struct mmsghdr *msgs, unsigned n)
{
	struct io_fd *f;
	size_t bytes;
	int got, i;

	for (;;) {
		/* As io_accept(): a wait for its turn is idle too, and a
		 * retired listener takes no more. */
		if (loop_slice_spent() && loop_yield_idle() == -1)
			return (-1);
		if ((f = fd_find(fd)) != NULL && f->aborted != 0) {
			errno = f->aborted;
			return (-1);
		}
		got = recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL);
		if (got > 0) {
			for (bytes = 0, i = 0; i < got; i++)
				bytes += msgs[i].msg_len + IO_CALL_COST;
			loop_spend(bytes);
			return (got);
		}
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1 && errno != EAGAIN)
			return (-1);
		if (park_until(fd, IO_READ, -1, LOOP_WAIT_IDLE) == -1)
			return (-1);
	}
}

int
io_connect(int fd, const struct sock_addr *addr, int64_t deadline)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) == 0)
		return (0);
	/*
	 * EAGAIN is not "in progress": a UNIX listener's backlog is full (or
	 * TCP is out of local ports), and the socket will never connect.
	 * The kernel would report it writable with no error all the same.
	 */
	if (errno != EINPROGRESS && errno != EINTR)
		return (-1);
	if (park_until(fd, IO_WRITE, deadline, 0) == -1)
		return (-1);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return (-1);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

static int
sleep_until(int64_t deadline, int flags)
{
	struct loop_wait w;

	memset(&w, 0, sizeof(w));
	if (loop_park(&w, deadline, flags) == 0 || errno != ETIMEDOUT)
		return (-1);	/* nothing unparks a sleep but a cancel */
	return (0);
}

int
io_sleep(int64_t deadline)
{
	return (sleep_until(deadline, 0));
}

int
io_pause(int64_t deadline)
{
	return (sleep_until(deadline, LOOP_WAIT_IDLE));
}

/* Resume f's waiter in direction what, if any, failing with err. */
static void
wake_err(struct io_fd *f, int what, int err)
{
	struct io_wait *w = *slot(f, what);

	if (w != NULL) {
		wait_unlink(w);
		loop_unpark(&w->lw, err);
	}
}

int
io_set_idle(int fd)
{
	struct io_fd *f = fd_get(fd);

	if (f == NULL)
		return (-1);
	f->idle = 1;
	return (0);
}

void
io_abort(int fd, int err)
{
	struct io_fd *f = fd_get(fd);

	if (f == NULL || f->aborted != 0)
		return;
	f->aborted = err;
	wake_err(f, IO_READ, err);
	if ((f = fd_find(fd)) != NULL)	/* the reader may have closed fd */
		wake_err(f, IO_WRITE, err);
}

static void	hib_start(struct loop_wait *);

/*
 * Arm h's wait: until its deadline, or sooner for a recheck (see DESIGN)
 * or a look at the send queue.  0, or -1 as loop_park_detached().
 */
static int
hib_arm(struct io_hib *h)
{
	struct io_fd *f = h->f;
	int64_t deadline = *h->deadline, until, next;
	int flags = h->flags;

	/* A recheck goes on the cheap timer, unless a look comes first. */
	until = read_until(f, deadline);
	if (until != deadline)
		flags |= LOOP_WAIT_SOON;
	next = look_until(f, deadline, h->limit);
	if (next != deadline && next < until) {
		until = next;	/* deadline, so until, is not -1 */
		flags &= ~LOOP_WAIT_SOON;
	}
	/* Not zeroed: every field is set here or by the park (a
	 * loop_wait's timer alone is 128 bytes, and this runs for every
	 * message of a busy connection). */
	h->w.f = f;
	h->w.what = IO_READ;
	h->w.lw.detach = wait_detach;
	if (loop_park_detached(&h->w.lw, until, flags, hib_start) == -1)
		return (-1);
	f->reader = &h->w;
	return (0);
}

/*
 * A hibernating reader was woken: start its owner again, in the new
 * coroutine the loop made.  A timer (ETIMEDOUT, but no io_abort() with
 * it) first looks at the send queue: before the (maybe moved) deadline,
 * a pending recheck is made a readiness, as park() does, and a look just
 * waits on, unless an edge came meanwhile.  Any other outcome (data, the
 * deadline, a cancel, an abort) the owner finds again when it calls
 * io_hibernate().
 */
static void
hib_start(struct loop_wait *lw)
{
	struct io_hib *h = (struct io_hib *)lw;
	struct io_fd *f = h->f;

	if (lw->err == ETIMEDOUT && f->aborted == 0) {
		look(f, event_get_fd(&f->ev), h->deadline, h->limit);
		if (*h->deadline == -1 || clock_now() < *h->deadline) {
			if (f->recheck) {
				f->recheck = 0;
				f->readable = 1;
			} else if (!f->readable && hib_arm(h) == 0)
				return;	/* this coroutine ends */
		}
	}
	h->fn(h->arg);
}

int
io_hibernate(int fd, int64_t *deadline, int64_t limit, int idle,
    void (*fn)(void *), void *arg)
{
	struct io_fd *f = fd_get(fd);
	struct io_hib *h;

	if (f == NULL)
		return (-1);
	if (f->aborted != 0) {
		errno = f->aborted;
		return (-1);
	}
	if (f->readable)
		return (0);
	if (f->reader != NULL) {
		errno = EBUSY;
		return (-1);
	}
	if (f->hib == NULL && (f->hib = calloc(1, sizeof(*f->hib))) == NULL)
		return (-1);
	h = f->hib;		/* each field set here or in hib_arm() */
	h->f = f;
	h->deadline = deadline;
	h->limit = limit;
	h->flags = idle ? LOOP_WAIT_IDLE : 0;
	h->fn = fn;
	h->arg = arg;
	if (hib_arm(h) == -1)
		return (-1);
	return (1);
}

int
io_on_error(int fd, void (*fn)(void *, int), void *arg)
{
	struct io_fd *f = fd_get(fd);

	if (f == NULL)
		return (-1);
	f->on_error = fn;
	f->on_error_arg = arg;
	return (0);
}

void
io_interrupt(int fd, int what)
{
	struct io_fd *f = fd_find(fd);

	if (f != NULL)
		wake_err(f, what, EINTR);
}

int
io_close(int fd)
{
	struct io_fd *f = fd_find(fd);
	struct io_wait *r, *w;

	if (f != NULL) {
		fds[fd] = NULL;
		if (f->alive != NULL)
			*f->alive = 0;
		event_del(&f->ev);
		r = f->reader;
		w = f->writer;
		if (r != NULL)
			wait_unlink(r);
		if (w != NULL)
			wait_unlink(w);
		if (f->hib != NULL) {
			/* A hibernating reader is dropped, not woken: its
			 * record dies with f.  Its owner is closing fd. */
			loop_forget(&f->hib->w.lw);
			if (r == &f->hib->w)
				r = NULL;
			free(f->hib);
		}
		free(f);
		if (r != NULL)
			loop_unpark(&r->lw, EBADF);
		if (w != NULL)
			loop_unpark(&w->lw, EBADF);
	}
	return (close(fd));
}

void
io_fini(void)
{
	size_t i;

	for (i = 0; i < nfds; i++)
		if (fds[i] != NULL) {
			event_del(&fds[i]->ev);
			free(fds[i]->hib);
			free(fds[i]);
		}
	free(fds);
	fds = NULL;
	nfds = 0;
}
