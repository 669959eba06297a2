/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * udp.c: the UDP echo (RFC 862), a batch at a time.
 *
 * Owns a listener copy's batch buffers and what happens to a datagram
 * between its arrival and its reply; the socket, its coroutine, reloads
 * and the summary at exit are the listener's (listener.c), as for TCP.
 *
 * DESIGN.  A datagram is not a client: it gets no coroutine, no stack,
 * no connection.  The listener's one coroutine per loop thread calls
 * udp_echo_batch() in a loop: recvmmsg(2) takes up to UDP_BATCH
 * datagrams (io_recv_batch(), which parks while there are none, as an
 * idle wait: a drain ends it at once, as it does an accept), the guards
 * drop what must not be answered, and sendmmsg(2) sends the rest back in
 * one call that never waits (MSG_DONTWAIT): what a full send buffer does
 * not take is dropped and counted, so a client that floods us cannot
 * make the loop block, nor make us queue for it.  io_recv_batch() spends
 * from the coroutine's slice, so a flood takes turns with the loop's
 * other work like any busy connection.
 *
 * Each reply leaves from the address its datagram was sent to: the
 * socket reports it (IP_PKTINFO, IPV6_RECVPKTINFO: sock_udp_pktinfo()) and
 * the reply names it as its source in the same control message, so a
 * listener on 0.0.0.0 answers a datagram to 127.0.0.2 from 127.0.0.2,
 * as a client that checks its replies' source expects.
 *
 * Guards, in order, before a reply is spent on a datagram: its source
 * port (udp_port_refused(): two echoes must not ping-pong), the
 * destination (a datagram to a broadcast or multicast address is not
 * answered: one forged datagram would make every host reply to its
 * victim), allow and deny, and per_source's connection_rate, one token
 * per datagram, last so that a refused datagram spends none.
 *
 * The buffers are the heap's: UDP_BATCH datagrams of UDP_DATAGRAM_MAX
 * bytes (1 MiB, touched only as far as datagrams fill them) per listener
 * copy, never the coroutine's small stack.
 */
#include "udp.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "edge.h"
#include "io.h"
#include "sock.h"

/* A control message: one pktinfo, either family. */
union udp_cmsg {
	char		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			     CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct cmsghdr	 align;
};

struct udp {
	struct mmsghdr	 in[UDP_BATCH];
	struct mmsghdr	 out[UDP_BATCH];
	struct iovec	 iov_in[UDP_BATCH];
	struct iovec	 iov_out[UDP_BATCH];
	struct sock_addr from[UDP_BATCH];
	union udp_cmsg	 cin[UDP_BATCH];
	union udp_cmsg	 cout[UDP_BATCH];
	unsigned char	*data;		/* [UDP_BATCH][UDP_DATAGRAM_MAX] */
};

struct udp *
udp_create(void)
{
	struct udp *u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return (NULL);
	if ((u->data = malloc((size_t)UDP_BATCH * UDP_DATAGRAM_MAX)) == NULL) {
		free(u);
		return (NULL);
	}
	return (u);
}

void
udp_free(struct udp *u)
{
	if (u == NULL)
		return;
	free(u->data);
	free(u);
}

int
udp_port_refused(unsigned port, unsigned own)
{
	return (port < 1024 || port == own);
}

/* The in headers, ready for a recvmmsg(2) (which overwrites lengths). */
static void
prepare(struct udp *u)
{
	struct msghdr *h;
	int i;

	for (i = 0; i < UDP_BATCH; i++) {
		u->iov_in[i].iov_base = u->data + (size_t)i * UDP_DATAGRAM_MAX;
		u->iov_in[i].iov_len = UDP_DATAGRAM_MAX;
		h = &u->in[i].msg_hdr;
		memset(h, 0, sizeof(*h));
		h->msg_name = &u->from[i].ss;
		h->msg_namelen = sizeof(u->from[i].ss);
		h->msg_iov = &u->iov_in[i];
		h->msg_iovlen = 1;
		h->msg_control = u->cin[i].buf;
		h->msg_controllen = sizeof(u->cin[i].buf);
	}
}

/* The port, in host order, of an IPv4 or IPv6 address. */
static unsigned
addr_port(const struct sock_addr *sa)
{
	if (sa->ss.ss_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)&sa->ss)->sin6_port));
	return (ntohs(((const struct sockaddr_in *)&sa->ss)->sin_port));
}

/*
 * 1 if an IPv4 datagram was sent to a broadcast or multicast address.
 * The kernel's ipi_spec_dst (the local address a reply would use)
 * differs from the destination ipi_addr only for those; it is 0 for a
 * datagram that was queued before IP_PKTINFO was set (a socket systemd
 * passed, with datagrams waiting), and then only the address can tell.
 */
static int
v4_not_unicast(const struct in_pktinfo *pi)
{
	in_addr_t a = ntohl(pi->ipi_addr.s_addr);

	if (pi->ipi_spec_dst.s_addr == htonl(INADDR_ANY))
		return (IN_MULTICAST(a) || a == INADDR_BROADCAST);
	return (pi->ipi_spec_dst.s_addr != pi->ipi_addr.s_addr);
}

/*
 * The reply's source, from datagram in's pktinfo, into the control
 * message of out.  -1 if the datagram was sent to a broadcast or
 * multicast address, or the kernel did not say where: not answered.
 * A dual-stack IPv6 socket reports an IPv4 datagram twice, as a mapped
 * IPV6_PKTINFO and as IP_PKTINFO (sock_udp_pktinfo()); only the latter
 * tells a subnet broadcast, so it is the one used, and the kernel takes
 * it for a reply to a mapped address too.
 */
static int
reply_source(const struct msghdr *in, struct msghdr *out, union udp_cmsg *c,
    const struct sock_addr *from)
{
	const struct cmsghdr *cm, *v4 = NULL, *v6 = NULL;
	struct cmsghdr *o = &c->align;
	struct in_pktinfo pi;
	struct in6_pktinfo pi6;
	uint32_t mapped;

	for (cm = CMSG_FIRSTHDR(in); cm != NULL;
	    cm = CMSG_NXTHDR((struct msghdr *)in, (struct cmsghdr *)cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO)
			v4 = cm;
		else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO)
			v6 = cm;
	}
	memset(c, 0, sizeof(*c));
	out->msg_control = c->buf;
	if (v4 != NULL) {
		memcpy(&pi, CMSG_DATA(v4), sizeof(pi));
		if (v4_not_unicast(&pi))
			return (-1);
		pi.ipi_spec_dst = pi.ipi_addr;
		pi.ipi_ifindex = 0;	/* routed as any reply */
		pi.ipi_addr.s_addr = 0;
		o->cmsg_level = IPPROTO_IP;
		o->cmsg_type = IP_PKTINFO;
		o->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(o), &pi, sizeof(pi));
		out->msg_controllen = CMSG_SPACE(sizeof(pi));
		return (0);
	}
	if (v6 != NULL) {
		memcpy(&pi6, CMSG_DATA(v6), sizeof(pi6));
		if (IN6_IS_ADDR_MULTICAST(&pi6.ipi6_addr))
			return (-1);
		if (IN6_IS_ADDR_V4MAPPED(&pi6.ipi6_addr)) {
			/* No IP_PKTINFO came: only the address can tell. */
			memcpy(&mapped, &pi6.ipi6_addr.s6_addr[12], 4);
			mapped = ntohl(mapped);
			if (IN_MULTICAST(mapped) || mapped == INADDR_BROADCAST)
				return (-1);
		}
		/* A link-local sender is only reachable there. */
		if (!IN6_IS_ADDR_LINKLOCAL(&((const struct
		    sockaddr_in6 *)&from->ss)->sin6_addr))
			pi6.ipi6_ifindex = 0;
		o->cmsg_level = IPPROTO_IPV6;
		o->cmsg_type = IPV6_PKTINFO;
		o->cmsg_len = CMSG_LEN(sizeof(pi6));
		memcpy(CMSG_DATA(o), &pi6, sizeof(pi6));
		out->msg_controllen = CMSG_SPACE(sizeof(pi6));
		return (0);
	}
	/* No pktinfo (the socket always asks for it): where the datagram
	 * was sent is unknown, so it may have been a broadcast. */
	out->msg_control = NULL;
	out->msg_controllen = 0;
	return (-1);
}

/*
 * What becomes of datagram i: STATS_UDP_ECHOED if it is to be answered
 * (its reply is then set up in out), else the guard's drop.
 */
static enum stats_udp
admit(struct udp *u, int i, const struct listen_conf *lc,
    struct edge_limits *limits, struct msghdr *out)
{
	const struct sock_addr *from = &u->from[i];
	enum stats_reject reason;
	const char *what;

	if (u->in[i].msg_hdr.msg_flags & MSG_TRUNC)
		return (STATS_UDP_DROPPED_FULL);	/* cannot be: see udp.h */
	if (udp_port_refused(addr_port(from), addr_port(&lc->addr)))
		return (STATS_UDP_DROPPED_PORT);
	if (reply_source(&u->in[i].msg_hdr, out, &u->cout[i], from) == -1 ||
	    edge_check_lists(lc, from, &reason, &what) == -1)
		return (STATS_UDP_DROPPED_DENIED);
	if (limits != NULL && edge_source_datagram(limits, from) == -1)
		return (STATS_UDP_DROPPED_RATE);
	out->msg_name = u->in[i].msg_hdr.msg_name;
	out->msg_namelen = u->in[i].msg_hdr.msg_namelen;
	u->iov_out[i].iov_base = u->iov_in[i].iov_base;
	u->iov_out[i].iov_len = u->in[i].msg_len;
	out->msg_iov = &u->iov_out[i];
	out->msg_iovlen = 1;
	out->msg_flags = 0;
	return (STATS_UDP_ECHOED);
}

/* Count n datagrams of result r. */
static void
count(struct stats_listener_slot *slot, struct udp_tally *t,
    enum stats_udp r, uint64_t n)
{
	stats_add(&slot->udp[r], n);
	t->datagrams[r] += n;
}

/*
 * Send the k replies of out, never waiting: a full send buffer (EAGAIN,
 * ENOBUFS) drops those left, any other error the reply it hit.  Returns
 * the bytes sent; the rest are counted as dropped_full.
 */
static uint64_t
send_replies(int fd, struct mmsghdr *out, int k,
    struct stats_listener_slot *slot, struct udp_tally *t)
{
	uint64_t bytes = 0;
	int i = 0, r, j;

	while (i < k) {
		if ((r = sendmmsg(fd, out + i, (unsigned)(k - i),
		    MSG_DONTWAIT)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS)
				break;
			count(slot, t, STATS_UDP_DROPPED_FULL, 1);
			i++;
			continue;
		}
		for (j = i; j < i + r; j++)
			bytes += out[j].msg_len;
		count(slot, t, STATS_UDP_ECHOED, (uint64_t)r);
		i += r;
	}
	if (i < k)
		count(slot, t, STATS_UDP_DROPPED_FULL, (uint64_t)(k - i));
	return (bytes);
}

int
udp_echo_batch(struct udp *u, int fd, const struct listen_conf *lc,
    struct edge_limits *limits, struct stats_listener_slot *slot,
    struct udp_tally *t)
{
	enum stats_udp r;
	uint64_t in = 0, out;
	int n, i, k = 0;

	prepare(u);
	if ((n = io_recv_batch(fd, u->in, UDP_BATCH)) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		in += u->in[i].msg_len;
		u->from[i].len = u->in[i].msg_hdr.msg_namelen;
		r = admit(u, i, lc, limits, &u->out[k].msg_hdr);
		if (r == STATS_UDP_ECHOED)
			k++;
		else
			count(slot, t, r, 1);
	}
	out = k > 0 ? send_replies(fd, u->out, k, slot, t) : 0;
	stats_add(&slot->bytes_in, in);
	stats_add(&slot->bytes_out, out);
	t->bytes_in += in;
	t->bytes_out += out;
	return (n);
}
