/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef BENCH_ADDR_H
#define BENCH_ADDR_H

/*
 * The address argument of levecho and loadgen: HOST:PORT (numeric IPv4)
 * or unix:PATH.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fill ss and len from addr; -1 if addr is neither form. */
static int
parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;

		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", addr + 5);
		*len = sizeof(*sun);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		char host[64];
		const char *colon = strrchr(addr, ':');

		if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
			return (-1);
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return (-1);
		*len = sizeof(*sin);
	}
	return (0);
}

#endif /* BENCH_ADDR_H */
