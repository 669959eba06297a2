/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RELOAD_H
#define RELOAD_H

struct daemon;

/*
 * SIGHUP: the configuration read again and swapped in on every loop
 * thread, in one process, all or nothing.  Main thread.
 */

/*
 * reload_request(d):
 * Start a reload, or queue one if a reload is running (several SIGHUPs
 * meanwhile make one more).  Ignored once the daemon is stopping.
 */
void	reload_request(struct daemon *);

/*
 * reload_free(d):
 * At exit, after every loop thread has ended and the pool has stopped:
 * free a reload cut short by the stop.
 */
void	reload_free(struct daemon *);

#endif /* RELOAD_H */
