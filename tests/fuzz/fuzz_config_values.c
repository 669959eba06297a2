/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the values inside a configuration file that have a
 * grammar of their own.  The first byte picks the parser, the rest is
 * its text:
 *   d  a duration ("30s")          config_duration_parse()
 *   s  a size ("64k")              config_size_parse()
 *   r  a rate ("20/1s")            config_rate_parse()
 *   p  a CIDR prefix ("10.0.0.0/8") addrset_prefix_parse()
 *   u  an upstreams entry ("10.0.0.1:80 weight=3 backup")
 *                                  config_upstream_parse()
 *   l  a listener address ("udp:[::1]:7")  sock_listen_parse()
 * (any other first byte picks one by its value).  The text is copied to
 * a buffer of its exact size (NUL-terminated for the parsers that take a
 * string), so a read past it is an ASan report.
 * Beyond not crashing: values stay in their documented ranges, and what
 * parses and is written back (prefixes, addresses, an upstream's
 * address part) parses to the same thing.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "addrset.h"
#include "config.h"
#include "fuzz.h"
#include "log.h"
#include "sock.h"

static void
check_scaled(int r, int64_t v)
{
	if (r == 0)
		fuzz_check(v >= 0);
	else
		fuzz_check(r == -1 && (errno == EINVAL || errno == ERANGE));
}

static void
fuzz_rate(const char *buf, size_t len)
{
	int64_t n = -1, ms = -1;

	errno = 0;
	if (config_rate_parse(buf, len, &n, &ms) == 0) {
		fuzz_check(n >= 1 && ms >= 1);
		fuzz_check(n <= INT64_MAX / ms);
	} else
		fuzz_check(errno == EINVAL || errno == ERANGE);
}

static void
fuzz_prefix(const char *text)
{
	struct addr_prefix p, again;
	char out[ADDRSET_PREFIX_STRLEN];
	const char *why = NULL;

	memset(&p, 0, sizeof(p));
	if (addrset_prefix_parse(text, &p, &why) == -1) {
		fuzz_check(why != NULL && why[0] != '\0');
		/* Host bits set: p is the network it would be, and that
		 * one is written as a prefix that parses. */
		if (strstr(why, "host bits") == NULL)
			return;
	}
	fuzz_check(p.bits >= 0 && p.bits <= 128);
	fuzz_check(p.family == AF_INET || p.family == AF_INET6);
	addrset_prefix_format(&p, out, sizeof(out));
	memset(&again, 0, sizeof(again));
	if (addrset_prefix_parse(out, &again, &why) == -1)
		fuzz_fail("\"%s\" written as \"%s\": %s", text, out, why);
	fuzz_check(again.bits == p.bits && again.family == p.family);
	fuzz_check(memcmp(again.net, p.net, sizeof(p.net)) == 0);
}

/*
 * An address that parsed, written back: an IP one parses the same, a
 * UNIX path that needs no escaping is written as it was.
 */
static void
write_back(const struct sock_addr *sa)
{
	char out[SOCK_ADDR_STRLEN];
	struct sock_addr again;
	const char *why = NULL;

	sock_addr_format(sa, out, sizeof(out));
	if (sa->ss.ss_family == AF_UNIX) {
		fuzz_check(strncmp(out, "unix", 4) == 0);
		return;
	}
	fuzz_check(sa->ss.ss_family == AF_INET ||
	    sa->ss.ss_family == AF_INET6);
	if (sock_addr_parse(out, strlen(out), &again, &why) == -1)
		fuzz_fail("written as \"%s\": %s", out, why);
	fuzz_check(sock_addr_equal(sa, &again));
}

static void
fuzz_upstream(const char *text)
{
	struct upstream_conf u, alone;
	char why[CONFIG_PROBLEM_MAX];

	why[0] = '\0';
	if (config_upstream_parse(text, &u, why, sizeof(why)) == -1) {
		fuzz_check(why[0] != '\0' && strlen(why) < sizeof(why));
		fuzz_check(u.entry == NULL && u.text == NULL &&
		    u.host == NULL);
		return;
	}
	fuzz_check(strcmp(u.entry, text) == 0);
	fuzz_check(strncmp(u.text, text, strlen(u.text)) == 0);
	fuzz_check(u.weight >= 0 && u.weight <= CONFIG_WEIGHT_MAX);
	fuzz_check(u.backup == 0 || u.backup == 1);
	if (u.host != NULL) {
		fuzz_check(u.host[0] != '\0' && u.port >= 1 &&
		    u.port <= 65535);
	} else
		write_back(&u.addr);
	/* The address part alone is the same upstream, no options. */
	if (config_upstream_parse(u.text, &alone, why, sizeof(why)) == -1)
		fuzz_fail("\"%s\" alone: %s", u.text, why);
	fuzz_check(alone.weight == 0 && alone.backup == 0);
	fuzz_check((alone.host == NULL) == (u.host == NULL));
	if (u.host != NULL)
		fuzz_check(strcmp(alone.host, u.host) == 0 &&
		    alone.port == u.port);
	else
		fuzz_check(sock_addr_equal(&alone.addr, &u.addr));
	config_upstream_clear(&alone);
	config_upstream_clear(&u);
}

static void
fuzz_listen(const char *buf, size_t len)
{
	struct sock_addr sa;
	const char *why = NULL;
	int datagram = -1;

	if (sock_listen_parse(buf, len, &sa, &datagram, &why) == -1) {
		fuzz_check(why != NULL && why[0] != '\0');
		return;
	}
	fuzz_check(datagram == 0 || datagram == 1);
	if (datagram)
		fuzz_check(sa.ss.ss_family != AF_UNIX);
	write_back(&sa);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(0);		/* below every level: the fuzzer's output only */
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char kinds[] = "dsrpul";
	char *text, *exact, kind;
	size_t len;
	int64_t v = -1;
	int r;

	if (size == 0)
		return (0);
	kind = strchr(kinds, data[0]) != NULL && data[0] != '\0' ?
	    (char)data[0] : kinds[data[0] % 6];
	len = size - 1;
	/* exact: len bytes, no NUL, for the parsers given a length;
	 * text: the same NUL-terminated, for those given a string. */
	exact = malloc(len > 0 ? len : 1);
	text = malloc(len + 1);
	if (exact == NULL || text == NULL) {
		free(exact);
		free(text);
		return (0);
	}
	memcpy(exact, data + 1, len);
	memcpy(text, data + 1, len);
	text[len] = '\0';
	switch (kind) {
	case 'd':
		errno = 0;
		r = config_duration_parse(exact, len, &v);
		check_scaled(r, v);
		break;
	case 's':
		errno = 0;
		r = config_size_parse(exact, len, &v);
		check_scaled(r, v);
		break;
	case 'r':
		fuzz_rate(exact, len);
		break;
	case 'p':
		if (memchr(text, '\0', len) == NULL)
			fuzz_prefix(text);
		break;
	case 'u':
		if (memchr(text, '\0', len) == NULL)
			fuzz_upstream(text);
		break;
	case 'l':
		fuzz_listen(exact, len);
		break;
	}
	free(exact);
	free(text);
	return (0);
}
