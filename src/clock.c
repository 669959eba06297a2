/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock.c: monotonic milliseconds and UTC time stamps.
 *
 * Owns nothing.  One clock for every module, so deadlines set by one
 * and checked by another agree.  The time stamp is computed from the
 * day count (the civil-from-days algorithm, valid from 1970 on) rather
 * than by gmtime_r, which may take a lock: the stack overflow report
 * writes one from a signal handler.
 */
#include "clock.h"

#include <time.h>

int64_t
clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
clock_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* Write v as width decimal digits, zero-padded, at p; return the end. */
static char *
put_digits(char *p, int64_t v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return (p + width);
}

size_t
clock_utc(char *buf, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (clock_utc_of(buf, size, ts.tv_sec, ts.tv_nsec / 1000000));
}

size_t
clock_utc_of(char *buf, size_t size, int64_t sec, long ms)
{
	int64_t days, secs, doe, yoe, doy, mp, y, m, d;
	char *p = buf;

	if (size < CLOCK_UTC_SIZE)
		return (0);
	days = sec / 86400 + 719468;		/* since 0000-03-01 */
	secs = sec % 86400;
	doe = days % 146097;			/* day of the 400-year era */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;		/* March is 0 */
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + days / 146097 * 400 + (m <= 2);
	p = put_digits(p, y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, secs / 3600, 2);
	*p++ = ':';
	p = put_digits(p, secs / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, secs % 60, 2);
	*p++ = '.';
	p = put_digits(p, ms, 3);
	*p++ = 'Z';
	*p = '\0';
	return ((size_t)(p - buf));
}
