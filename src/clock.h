/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CLOCK_H
#define CLOCK_H

#include <stddef.h>
#include <stdint.h>

/*
 * The daemon's clocks: monotonic milliseconds for every deadline, timer
 * and rate limit, and UTC wall time for log lines.  Any thread, and
 * async-signal-safe (the date is computed here, not by gmtime_r).
 */

/* clock_now(): monotonic milliseconds. */
int64_t	clock_now(void);

/* clock_now_us(): monotonic microseconds, on the same clock. */
int64_t	clock_now_us(void);

/* Bytes clock_utc() needs, NUL included. */
#define CLOCK_UTC_SIZE	25

/*
 * clock_utc(buf, size):
 * Write the time now as "2026-11-25T10:00:00.123Z" (UTC, ISO 8601 with
 * milliseconds) into buf.  Returns its length (24), or 0 with buf
 * untouched if size is below CLOCK_UTC_SIZE.
 */
size_t	clock_utc(char *, size_t);

/*
 * clock_utc_of(buf, size, sec, ms):
 * As clock_utc() for the time sec seconds and ms milliseconds after the
 * epoch (sec >= 0).
 */
size_t	clock_utc_of(char *, size_t, int64_t, long);

#endif /* CLOCK_H */
