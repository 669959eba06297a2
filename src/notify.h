/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdint.h>

/*
 * The systemd service contract (sd_notify(3)): readiness, status text,
 * reload and stop, and the watchdog.  Every call does nothing when the
 * daemon was not started by systemd (no NOTIFY_SOCKET).  Main thread.
 */

/*
 * notify_init():
 * Read the environment systemd gave us, once.  Returns how often to
 * ping the watchdog in ms (half of WATCHDOG_USEC), or 0 if it is off.
 */
int64_t	notify_init(void);

/* notify_enabled(): 1 if there is a NOTIFY_SOCKET to talk to. */
int	notify_enabled(void);

/*
 * Longest STATUS= value sent, in bytes: a longer one is cut and ends in
 * "...".
 */
#define NOTIFY_STATUS_MAX	400

/*
 * notify_ready(status):
 * READY=1, with STATUS=status.  status may hold any text: its control
 * characters are sent as "\xHH" (as in the log, log_escape_controls()),
 * so it stays one assignment, at most NOTIFY_STATUS_MAX bytes.
 */
void	notify_ready(const char *);

/* notify_status(status): STATUS=status, made one line as above. */
void	notify_status(const char *);

/*
 * notify_stopping(left_ms):
 * STOPPING=1, and ask systemd to wait left_ms more (plus a margin) for
 * the stop (EXTEND_TIMEOUT_USEC); call again as a long drain goes on.
 */
void	notify_stopping(int64_t);

/* notify_reloading(): RELOADING=1 with MONOTONIC_USEC, as systemd wants. */
void	notify_reloading(void);

/*
 * notify_passed_sockets(names):
 * The listening sockets systemd passed (socket activation: LISTEN_FDS,
 * LISTEN_FDNAMES), numbered from 3; *names gets their names (free each
 * and the array), or NULL.  The variables are removed from the
 * environment.  Returns how many, 0 if none, or -1 with errno set.
 */
int	notify_passed_sockets(char ***);

/*
 * notify_socket_is(fd, addr, len, datagram):
 * 1 if fd is a listening stream socket (datagram: a datagram socket,
 * ListenDatagram=) bound to the address addr (len bytes: an IPv4, IPv6
 * or UNIX sockaddr), else 0.
 */
int	notify_socket_is(int, const void *, unsigned, int);

/* notify_watchdog(): WATCHDOG=1. */
void	notify_watchdog(void);

#endif /* NOTIFY_H */
