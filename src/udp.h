/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef UDP_H
#define UDP_H

#include <stdint.h>

#include "stats.h"

struct edge_limits;
struct listen_conf;
struct udp;

/*
 * The UDP echo (RFC 862): one listener copy's batch of datagrams, its
 * guards and its replies.  The listener (listener.c) owns the socket and
 * runs udp_echo_batch() in a loop on its own coroutine; nothing here
 * keeps a coroutine per datagram.  All calls: the listener's loop
 * thread.
 */

/* Datagrams received (and replies sent) per system call. */
#define UDP_BATCH		16
/*
 * The buffer of one datagram: the largest UDP payload there is (65,535
 * less the 8-byte UDP header; IPv4's is 65,507), so none is truncated.
 */
#define UDP_DATAGRAM_MAX	65535

/* A listener copy's counts: datagrams by what became of them, bytes. */
struct udp_tally {
	uint64_t	 datagrams[STATS_UDP_MAX];
	uint64_t	 bytes_in;	/* every datagram received */
	uint64_t	 bytes_out;	/* echoed */
};

/*
 * udp_create():
 * A batch's buffers, on the heap (UDP_BATCH datagrams of
 * UDP_DATAGRAM_MAX bytes, their addresses and control messages).
 * Returns it, or NULL with errno ENOMEM.
 */
struct udp	*udp_create(void);

/* udp_free(u): free u.  NULL is a no-op. */
void	udp_free(struct udp *);

/*
 * udp_port_refused(port, own):
 * 1 if a datagram from source port port (host order) must not be
 * answered on a listener at port own: a port below 1024, where the small
 * services (echo 7, daytime 13, chargen 19, time 37, ntp 123) and every
 * other privileged one live, or own itself, another echo like this one
 * (or this very socket, if the source is forged): either would answer
 * the reply, and the two would ping-pong forever.  Else 0.  Any thread.
 */
int	udp_port_refused(unsigned, unsigned);

/*
 * udp_echo_batch(u, fd, lc, limits, slot, t):
 * Receive a batch of datagrams on the UDP socket fd of lc (parking,
 * idle, until one comes), and send each back whole to its sender, from
 * the address it was sent to, unless a guard drops it: its source port
 * (udp_port_refused()), allow and deny, per_source's rate (limits, NULL
 * for none).  Replies never wait: those the send buffer has no room for
 * are dropped.  Every datagram is counted in slot and t.  Returns how
 * many were received, or -1 with errno ECANCELED (shutdown), an
 * io_abort() error, ENOMEM or a recvmmsg(2) error.  May park.
 */
int	udp_echo_batch(struct udp *, int, const struct listen_conf *,
	    struct edge_limits *, struct stats_listener_slot *,
	    struct udp_tally *);

#endif /* UDP_H */
