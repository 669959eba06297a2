/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef METRICS_H
#define METRICS_H

#include "conn.h"

struct pool;

/*
 * The metrics service: Prometheus scrapes its listener over HTTP/1.0 or
 * HTTP/1.1 (keep-alive as each defines it).  GET or HEAD /metrics is the
 * exposition (scrape.c), / a short index; any other path is 404, any
 * other method 405, a malformed request 400, a request head over 8 KiB
 * 431.  Each error is answered, then the connection is closed.
 */

/*
 * metrics_init(pool):
 * The worker pool whose queue and jobs a scrape reports.  Main thread,
 * before any loop thread serves; pool must outlive the serving.
 */
void	metrics_init(const struct pool *);

/*
 * metrics_serve(c):
 * Answer c's requests until it closes, errs, idles past idle_timeout
 * between requests, takes longer than header_timeout to send a request
 * head, or shutdown cancels it.  Between requests the connection waits
 * without a stack (returns CONN_ASLEEP; c->resume starts it again).
 * Returns the close reason; the caller closes c->fd.  May park.
 */
enum conn_close	metrics_serve(struct conn *);

#endif /* METRICS_H */
