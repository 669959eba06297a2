/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef PROXY_H
#define PROXY_H

#include "conn.h"

struct upstreams;

/*
 * proxy_serve(c, us):
 * Connect to one of us (in their order, each address within
 * connect_timeout) and relay both ways until both sides have finished,
 * one resets, the connection idles past idle_timeout, the half-open
 * phase outlasts fin_timeout, or shutdown cancels it.  Returns the close
 * reason; the caller closes c->fd.  May park.
 */
enum conn_close	proxy_serve(struct conn *, struct upstreams *);

#endif /* PROXY_H */
