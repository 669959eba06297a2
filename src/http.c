/*
 * http.c: parsing an HTTP/1.x request head (see http.h).
 * Stub: being written.
 */
#include "http.h"

int
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	(void)buf;
	(void)len;
	(void)req;
	return (400);
}

const char *
http_status_text(int status)
{
	(void)status;
	return ("Error");
}
