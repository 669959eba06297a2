/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_verdict: what our parsers say of each corpus file, for
 * tests/corpus.bats, which sends every file to a real daemon and checks
 * that it answers or closes as the parser decided.
 *
 *   fuzz_verdict proxyproto FILE...  one line per file:
 *       FILE done K        a header of K bytes: the rest is the client's
 *       FILE more          a prefix of a header: waits for more
 *       FILE invalid       refused
 *   fuzz_verdict http FILE...        one line per file:
 *       FILE status N      the status the metrics service answers the
 *                          first request with (as metrics.c decides from
 *                          the parse), or 0 for none (a client that
 *                          sends nothing and finishes gets no answer)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "proxyproto.h"

static char *
slurp(const char *path, size_t *len)
{
	static char buf[1 << 20];
	FILE *fp = fopen(path, "rb");

	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	*len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	return (buf);
}

static void
proxyproto(const char *path, const char *buf, size_t len)
{
	struct proxyproto_header hdr;
	const char *why;
	size_t used;

	switch (proxyproto_parse(buf, len, &hdr, &used, &why)) {
	case PROXYPROTO_DONE:
		printf("%s done %zu\n", path, used);
		break;
	case PROXYPROTO_NEED_MORE:
		printf("%s more\n", path);
		break;
	case PROXYPROTO_INVALID:
		printf("%s invalid\n", path);
		break;
	}
}

/* The status metrics.c answers the first request of buf with. */
static int
http_status(const char *buf, size_t len)
{
	struct http_request req;
	int rc = http_parse_request(buf, len, &req);

	if (rc == HTTP_PARSE_MORE)
		/* The client finished before a whole head. */
		return (len == 0 ? 0 : len >= HTTP_HEAD_MAX ? 431 : 400);
	if (rc != HTTP_PARSE_DONE)
		return (rc);
	if (req.method == HTTP_OTHER)
		return (405);
	if (req.body)
		return (400);
	if (req.path_len == 1 ||
	    (req.path_len == 8 && memcmp(req.path, "/metrics", 8) == 0))
		return (200);
	return (404);
}

int
main(int argc, char **argv)
{
	const char *buf;
	size_t len;
	int i;

	if (argc < 2 || (strcmp(argv[1], "proxyproto") != 0 &&
	    strcmp(argv[1], "http") != 0)) {
		fprintf(stderr, "usage: fuzz_verdict proxyproto|http FILE...\n");
		return (2);
	}
	for (i = 2; i < argc; i++) {
		buf = slurp(argv[i], &len);
		if (strcmp(argv[1], "proxyproto") == 0)
			proxyproto(argv[i], buf, len);
		else
			printf("%s status %d\n", argv[i],
			    http_status(buf, len));
	}
	return (0);
}
