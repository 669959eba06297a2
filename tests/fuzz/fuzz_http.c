/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the head of an HTTP request to the metrics service
 * (http_parse_request()), which comes from the network.  Beyond not
 * crashing:
 *  - DONE: the head is within the input and at most HTTP_HEAD_MAX
 *    bytes, the path lies inside it, and the head alone parses the same;
 *    one byte shorter it is "read more";
 *  - "read more" holds for every prefix too (checked at a few lengths);
 *  - an error is one of the statuses the parser promises (400, 431, 505).
 */
#include <string.h>

#include "fuzz.h"
#include "http.h"

static int
parse(const uint8_t *data, size_t len, struct http_request *req)
{
	int r;

	memset(req, 0xa5, sizeof(*req));
	r = http_parse_request((const char *)data, len, req);
	if (r == HTTP_PARSE_DONE) {
		fuzz_check(req->head_len > 0 && req->head_len <= len);
		fuzz_check(req->head_len <= HTTP_HEAD_MAX);
		fuzz_check(req->method == HTTP_GET ||
		    req->method == HTTP_HEAD || req->method == HTTP_OTHER);
		fuzz_check(req->path >= (const char *)data);
		fuzz_check(req->path + req->path_len <=
		    (const char *)data + req->head_len);
		fuzz_check(req->path_len > 0 && req->path[0] == '/');
		fuzz_check(req->minor == 0 || req->minor == 1);
		fuzz_check(req->keep_alive == 0 || req->keep_alive == 1);
		fuzz_check(req->body == 0 || req->body == 1);
	} else if (r != HTTP_PARSE_MORE)
		fuzz_check(r == 400 || r == 431 || r == 505);
	return (r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req, alone;
	size_t k;

	switch (parse(data, size, &req)) {
	case HTTP_PARSE_DONE:
		fuzz_check(parse(data, req.head_len, &alone) ==
		    HTTP_PARSE_DONE);
		fuzz_check(alone.head_len == req.head_len);
		fuzz_check(alone.path == req.path &&
		    alone.path_len == req.path_len);
		fuzz_check(alone.method == req.method &&
		    alone.minor == req.minor &&
		    alone.keep_alive == req.keep_alive &&
		    alone.body == req.body);
		fuzz_check(parse(data, req.head_len - 1, &alone) ==
		    HTTP_PARSE_MORE);
		break;
	case HTTP_PARSE_MORE:
		for (k = size; k > 0; k /= 3)
			fuzz_check(parse(data, k - 1, &alone) ==
			    HTTP_PARSE_MORE);
		break;
	default:
		break;
	}
	return (0);
}
