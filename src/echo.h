/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ECHO_H
#define ECHO_H

#include "conn.h"

/*
 * echo_serve(c):
 * RFC 862: send back every byte c's client sends, byte for byte, until
 * it half-closes (then shut our side down too), resets, idles past
 * idle_timeout, or shutdown cancels it.  Returns the close reason; the
 * caller closes c->fd.  May park.
 */
enum conn_close	echo_serve(struct conn *);

#endif /* ECHO_H */
