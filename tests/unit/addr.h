/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef TEST_ADDR_H
#define TEST_ADDR_H

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sock.h"

/*
 * addr(text): an IPv4 or IPv6 address (told apart by a colon), port 7,
 * as a sock_addr, for the tests of what matches or counts addresses.
 * Aborts on a text inet_pton(3) refuses: a typo in a test.
 */
static struct sock_addr
addr(const char *text)
{
	struct sockaddr_in *s4;
	struct sockaddr_in6 *s6;
	struct sock_addr sa;

	memset(&sa, 0, sizeof(sa));
	if (strchr(text, ':') != NULL) {
		s6 = (struct sockaddr_in6 *)&sa.ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(7);
		if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1)
			abort();
		sa.len = sizeof(*s6);
	} else {
		s4 = (struct sockaddr_in *)&sa.ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(7);
		if (inet_pton(AF_INET, text, &s4->sin_addr) != 1)
			abort();
		sa.len = sizeof(*s4);
	}
	return (sa);
}

#endif /* TEST_ADDR_H */
