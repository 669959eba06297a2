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

/* notify_ready(status): READY=1, with STATUS=status. */
void	notify_ready(const char *);

/* notify_status(status): STATUS=status. */
void	notify_status(const char *);

/*
 * notify_stopping(left_ms):
 * STOPPING=1, and ask systemd to wait left_ms more (plus a margin) for
 * the stop (EXTEND_TIMEOUT_USEC); call again as a long drain goes on.
 */
void	notify_stopping(int64_t);

/* notify_reloading(): RELOADING=1 with MONOTONIC_USEC, as systemd wants. */
void	notify_reloading(void);

/* notify_watchdog(): WATCHDOG=1. */
void	notify_watchdog(void);

#endif /* NOTIFY_H */
