/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SOCK_H
#define SOCK_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

/* An address the daemon listens on or connects to. */
struct sock_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
};

/*
 * Longest text sock_addr_format() writes, NUL included: "unix:" and a
 * peer's path of up to 108 bytes (a peer may fill sun_path without a
 * NUL) with every byte escaped as \xHH.
 */
#define SOCK_ADDR_STRLEN	(5 + 4 * 108 + 1)

/*
 * sock_addr_parse(buf, len, sa, why):
 * Parse "IPV4:PORT", "[IPV6]:PORT" or "unix:PATH" from the len bytes at
 * buf (no NUL needed) into sa.  Hosts must be numeric; ports 1 to 65535.
 * Returns 0, or -1 with errno EINVAL and *why set to a static reason.
 * Allocates nothing.  Any thread.
 */
int	sock_addr_parse(const char *, size_t, struct sock_addr *,
	    const char **);

/*
 * sock_listen_parse(buf, len, sa, datagram, why):
 * A listener's address: as sock_addr_parse(), or "udp:IPV4:PORT" or
 * "udp:[IPV6]:PORT" for a UDP one (*datagram set to 1; else 0).  A UNIX
 * path cannot be UDP.  Returns 0, or -1 with errno EINVAL and *why set.
 * Allocates nothing.  Any thread.
 */
int	sock_listen_parse(const char *, size_t, struct sock_addr *, int *,
	    const char **);

/* Longest host name sock_name_parse() accepts, NUL included. */
#define SOCK_NAME_MAX	254

/*
 * sock_name_parse(buf, len, host, port, why):
 * Parse "NAME:PORT", where NAME is a DNS name (letters, digits, '-' and
 * '.', at most 253 bytes), into host (SOCK_NAME_MAX bytes) and port (host
 * order).  A NAME whose last label is all digits or starts with "0x" is
 * refused: it is a malformed number ("010.0.0.1", "1.2.3"), not a name
 * (sock_addr_parse() takes the well-formed ones).  Returns 0, or -1 with
 * errno EINVAL and *why set.  Allocates nothing.  Any thread.
 */
int	sock_name_parse(const char *, size_t, char *, unsigned *,
	    const char **);

/*
 * sock_addr_format(sa, buf, size):
 * Write sa as sock_addr_parse() reads it ("unix" for an unnamed UNIX
 * peer) into buf, truncating to size.  A UNIX path is whatever the peer
 * bound, so it goes through log_escape(): bytes outside printable ASCII,
 * the space and the backslash become "\xHH" ("unix:/tmp/a\x20b"), and
 * the text is safe as one field of a log line.  Returns buf.  Any thread.
 */
char	*sock_addr_format(const struct sock_addr *, char *, size_t);

/*
 * sock_addr_equal(a, b):
 * 1 if a and b name the same address, else 0: for UNIX, the same file
 * path, or the same abstract name byte for byte (its length too); two
 * unnamed UNIX addresses are equal.
 */
int	sock_addr_equal(const struct sock_addr *, const struct sock_addr *);

/*
 * sock_unix_path(sa):
 * The filesystem path of a UNIX address, or NULL for other families.
 */
const char	*sock_unix_path(const struct sock_addr *);

/*
 * sock_listen(sa, backlog, mode, gid):
 * Create a non-blocking, close-on-exec socket listening on sa: TCP with
 * SO_REUSEADDR (and IPV6_V6ONLY for IPv6), or UNIX, where a stale socket
 * file (nobody accepting) is replaced but a live one or a file that is
 * not a socket is left alone (EADDRINUSE, EEXIST; the probe that tells
 * them apart never blocks: a full accept queue is EADDRINUSE).  For UNIX
 * the parent directory must not be a symlink (ELOOP) nor group- or
 * world-writable without the sticky bit (EPERM); a missing one is
 * created (one level, mode 0755 whatever the umask).  The socket file
 * has permission bits mode and group gid ((gid_t)-1: unchanged) from the
 * moment it appears at its path: it is bound as ".NAME.PID" in the same
 * directory and renamed into place (so getsockname(2) reports that
 * name).  The umask is never changed.  mode and gid are ignored for TCP.
 * Returns the fd, or -1 with errno set by the failing call.
 */
int	sock_listen(const struct sock_addr *, int, mode_t, gid_t);

/*
 * sock_listen_share(fd):
 * Let sock_listen_join() open more sockets on fd's TCP address: the
 * kernel then spreads new connections across all of them
 * (SO_REUSEPORT, by a hash of the client's address and port).  Only
 * sockets of the same user may join.  Returns 0 or -1.
 */
int	sock_listen_share(int);

/*
 * sock_listen_join(sa, backlog):
 * As sock_listen() for TCP, joining the sockets on sa shared by
 * sock_listen_share(): EADDRINUSE if there is none.  UNIX sockets cannot
 * be shared this way (EAFNOSUPPORT).  Returns the fd, or -1.
 */
int	sock_listen_join(const struct sock_addr *, int);

/*
 * sock_udp_open(sa, join):
 * A non-blocking, close-on-exec UDP socket bound to sa (IPV6_V6ONLY for
 * IPv6), that reports where each datagram was sent (IP_PKTINFO,
 * IPV6_RECVPKTINFO), so a reply can leave from that address.  join: as
 * sock_listen_join(), a socket of its own on the port of a socket
 * shared by sock_listen_share() (EADDRINUSE if there is none).  No
 * SO_REUSEADDR: for UDP it would let another socket bind the same
 * port.  Returns the fd, or -1 with errno set.
 */
int	sock_udp_open(const struct sock_addr *, int);

/*
 * sock_udp_pktinfo(fd, family):
 * Ask the kernel to report each datagram's destination address on the
 * UDP socket fd (a socket systemd passed): IPV6_RECVPKTINFO and, for
 * the IPv4 datagrams a dual-stack IPv6 socket takes, IP_PKTINFO.
 * Returns 0 or -1.
 */
int	sock_udp_pktinfo(int, int);

/*
 * sock_tune_stream(fd, family):
 * Per-connection options for an accepted or connected socket, on TCP:
 * TCP_NODELAY, so small echoes and relayed requests are not held back by
 * Nagle, and SO_OOBINLINE, so an urgent byte is relayed like any other
 * instead of being dropped from the stream.  Returns 0 or -1.
 */
int	sock_tune_stream(int, int);

/*
 * sock_keepalive(fd, idle_ms, interval_ms, count):
 * TCP keepalive on fd: the first probe after idle_ms without traffic,
 * then one every interval_ms, and after count unanswered the kernel
 * gives up on the peer (reads fail with ETIMEDOUT).  The kernel counts
 * whole seconds: ms are rounded up.  Returns 0 or -1.
 */
int	sock_keepalive(int, int64_t, int64_t, int);

/*
 * sock_reset_on_close(fd):
 * Make close(fd) send a reset instead of a FIN (SO_LINGER 0), so a peer
 * cannot mistake a cut-off stream for a complete one.  Returns 0, or -1
 * if the option could not be set; errno is left as it was either way,
 * so it may be called between a failed call and the reading of its
 * errno.
 */
int	sock_reset_on_close(int);

/*
 * sock_unsent(fd):
 * How many bytes written to the stream socket fd its peer has not taken
 * yet (SIOCOUTQ): for TCP, those not yet acknowledged; for AF_UNIX, those
 * the peer has not read (counted per message written, with the kernel's
 * overhead, and freed once a message is wholly read).  Either only
 * shrinks when the peer takes bytes.  Returns the count, or -1 with
 * errno set.  Any thread.
 */
int	sock_unsent(int);

#endif /* SOCK_H */
