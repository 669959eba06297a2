/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef HYGIENE_H
#define HYGIENE_H

#include <stdint.h>

/*
 * Process hygiene at startup: standard fds that exist, and a stack
 * overflow that is reported instead of a silent SIGSEGV.
 */

/*
 * hygiene_stdio():
 * Open /dev/null on each of fds 0, 1 and 2 that is closed, so that the
 * first file or socket the daemon opens cannot become its stdout or
 * stderr and receive log lines.  Call first in main(), before anything
 * opens an fd.  Returns 0, or -1 with errno from open(2) (stderr may be
 * missing then: exit 1 without logging).
 */
int	hygiene_stdio(void);

/*
 * hygiene_overflow_handler(stack_size):
 * Install a SIGSEGV handler, on the alternate signal stack, that turns a
 * fault on the running coroutine's guard page into one crit line naming
 * the coroutine's label (coro_set_label) and coroutine_stack_size (whose
 * value, stack_size bytes, it quotes), then abort()s.  Any other SIGSEGV
 * crashes as before: the handler restores SIG_DFL and lets it happen
 * again.  Installs an alternate stack on this thread if it has none; call
 * it on the loop thread, after log_init() (it reads JOURNAL_STREAM to
 * match log.c's line format).  Under AddressSanitizer it installs
 * nothing and returns 0: ASan owns SIGSEGV and reports overflows itself.
 * Returns 0, or -1 with errno.
 */
int	hygiene_overflow_handler(int64_t);

/*
 * hygiene_thread():
 * Give the calling thread an alternate signal stack, so that the handler
 * installed by hygiene_overflow_handler() can report an overflow on one
 * of its coroutines (each thread needs its own).  Call on every loop
 * thread but the first.  Returns 0, or -1 with errno.
 */
int	hygiene_thread(void);

#endif /* HYGIENE_H */
