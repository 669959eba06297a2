/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the PROXY protocol header (proxyproto_parse()), which
 * comes from the network.  Beyond not crashing:
 *  - DONE says how long the header is: never more than the input, and
 *    the same header alone parses the same; every shorter prefix of it
 *    is NEED_MORE (a reader that stops at NEED_MORE never stops short);
 *  - NEED_MORE holds for every prefix too (checked at a few lengths);
 *  - a header that parses, written back by our own sender
 *    (proxyproto_write()) in its version, parses to the same addresses.
 */
#include <string.h>

#include "fuzz.h"
#include "proxyproto.h"

static void
same_header(const struct proxyproto_header *a,
    const struct proxyproto_header *b)
{
	fuzz_check(a->version == b->version);
	fuzz_check(a->local == b->local);
	if (!a->local) {
		fuzz_check(sock_addr_equal(&a->src, &b->src));
		fuzz_check(sock_addr_equal(&a->dst, &b->dst));
	}
}

/* Parse len bytes of data, checking what every answer promises. */
static enum proxyproto_result
parse(const uint8_t *data, size_t len, struct proxyproto_header *hdr,
    size_t *used)
{
	const char *why = "unset";
	enum proxyproto_result r;

	*used = (size_t)-1;
	r = proxyproto_parse(data, len, hdr, used, &why);
	switch (r) {
	case PROXYPROTO_DONE:
		fuzz_check(*used > 0 && *used <= len);
		fuzz_check(*used <= PROXYPROTO_HEADER_MAX);
		fuzz_check(why == NULL);
		fuzz_check(hdr->version == 1 || hdr->version == 2);
		break;
	case PROXYPROTO_NEED_MORE:
		fuzz_check(*used == (size_t)-1);
		fuzz_check(why == NULL);
		break;
	case PROXYPROTO_INVALID:
		fuzz_check(*used == (size_t)-1);
		fuzz_check(why != NULL && why[0] != '\0');
		break;
	default:
		fuzz_fail("result %d", (int)r);
	}
	return (r);
}

/* Our own sender writes hdr back; it must read as the same header. */
static void
write_back(const struct proxyproto_header *hdr)
{
	uint8_t out[16 + 216 + PROXYPROTO_V1_MAX];
	struct proxyproto_header again;
	size_t n, used;

	n = proxyproto_write(out, sizeof(out), hdr->version,
	    hdr->local ? NULL : &hdr->src, hdr->local ? NULL : &hdr->dst);
	fuzz_check(n > 0);
	fuzz_check(parse(out, n, &again, &used) == PROXYPROTO_DONE);
	fuzz_check(used == n);
	same_header(hdr, &again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto_header hdr, alone, part;
	size_t used, k, u;

	switch (parse(data, size, &hdr, &used)) {
	case PROXYPROTO_DONE:
		fuzz_check(parse(data, used, &alone, &u) == PROXYPROTO_DONE);
		fuzz_check(u == used);
		same_header(&hdr, &alone);
		fuzz_check(parse(data, used - 1, &part, &u) ==
		    PROXYPROTO_NEED_MORE);
		fuzz_check(parse(data, used / 2, &part, &u) ==
		    PROXYPROTO_NEED_MORE);
		write_back(&hdr);
		break;
	case PROXYPROTO_NEED_MORE:
		for (k = size; k > 0; k /= 3)
			fuzz_check(parse(data, k - 1, &part, &u) ==
			    PROXYPROTO_NEED_MORE);
		break;
	case PROXYPROTO_INVALID:
		break;
	}
	return (0);
}
