/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef BENCH_PROXYHDR_H
#define BENCH_PROXYHDR_H

/*
 * The PROXY protocol header a balancer sends first (HAProxy's
 * doc/proxy-protocol.txt), for the load generators' -P option
 * (bench/loadgen, bench/connrate): a v1 line or a v2 binary header that
 * names the connection's own addresses, the client's (getsockname) as
 * the source and the server's (getpeername) as the destination.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Room for either version's header with IPv4 or IPv6 addresses. */
#define PROXYHDR_MAX	108

/* The 12 bytes a v2 header starts with. */
static const unsigned char proxyhdr_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/*
 * proxyhdr_build(fd, version, buf):
 * Fill buf (PROXYHDR_MAX bytes) with the header of version 1 or 2 for
 * the connected socket fd.  Returns its length, or -1 if fd's addresses
 * cannot be read.  A socket that is neither IPv4 nor IPv6 (unix:) is
 * sent as v1 "UNKNOWN" or v2 "LOCAL": the server keeps its own view.
 */
static int
proxyhdr_build(int fd, int version, unsigned char *buf)
{
	struct sockaddr_storage src, dst;
	socklen_t slen = sizeof(src), dlen = sizeof(dst);
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	const void *sa, *da;
	uint16_t sp, dp, n;
	int inet6, len;

	if (getsockname(fd, (struct sockaddr *)&src, &slen) == -1 ||
	    getpeername(fd, (struct sockaddr *)&dst, &dlen) == -1)
		return (-1);
	if (src.ss_family == AF_INET || src.ss_family == AF_INET6) {
		inet6 = src.ss_family == AF_INET6;
		sa = inet6 ? (const void *)&((struct sockaddr_in6 *)&src)->sin6_addr
		    : (const void *)&((struct sockaddr_in *)&src)->sin_addr;
		da = inet6 ? (const void *)&((struct sockaddr_in6 *)&dst)->sin6_addr
		    : (const void *)&((struct sockaddr_in *)&dst)->sin_addr;
		sp = inet6 ? ((struct sockaddr_in6 *)&src)->sin6_port
		    : ((struct sockaddr_in *)&src)->sin_port;
		dp = inet6 ? ((struct sockaddr_in6 *)&dst)->sin6_port
		    : ((struct sockaddr_in *)&dst)->sin_port;
	} else {
		if (version == 1) {
			memcpy(buf, "PROXY UNKNOWN\r\n", 15);
			return (15);
		}
		memcpy(buf, proxyhdr_sig, 12);
		buf[12] = 0x20;		/* version 2, LOCAL */
		buf[13] = 0x00;		/* AF_UNSPEC */
		buf[14] = buf[15] = 0;
		return (16);
	}
	if (version == 1) {
		inet_ntop(src.ss_family, sa, s, sizeof(s));
		inet_ntop(src.ss_family, da, d, sizeof(d));
		len = snprintf((char *)buf, PROXYHDR_MAX, "PROXY %s %s %s %u %u\r\n",
		    inet6 ? "TCP6" : "TCP4", s, d, ntohs(sp), ntohs(dp));
		return (len);
	}
	n = inet6 ? 36 : 12;		/* the address block */
	memcpy(buf, proxyhdr_sig, 12);
	buf[12] = 0x21;			/* version 2, PROXY */
	buf[13] = inet6 ? 0x21 : 0x11;	/* AF_INET6 or AF_INET, STREAM */
	buf[14] = (unsigned char)(n >> 8);
	buf[15] = (unsigned char)n;
	len = inet6 ? 16 : 4;
	memcpy(buf + 16, sa, (size_t)len);
	memcpy(buf + 16 + len, da, (size_t)len);
	memcpy(buf + 16 + 2 * len, &sp, 2);	/* both in network order */
	memcpy(buf + 18 + 2 * len, &dp, 2);
	return (16 + n);
}

#endif /* BENCH_PROXYHDR_H */
