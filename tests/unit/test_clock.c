/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_clock: the monotonic clock moves forward; the UTC time stamp,
 * computed without gmtime_r, agrees with it.
 */
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"

int
main(void)
{
	char ours[CLOCK_UTC_SIZE], libc[64], small[CLOCK_UTC_SIZE - 1];
	int64_t t0 = clock_now(), sec, bad = -1;
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	struct tm tm;
	time_t t;

	nanosleep(&nap, NULL);
	CHECK(clock_now() - t0 >= 19, "clock_now() counts milliseconds");

	/* Every day from 1970 to 2199, and a second near each day's end. */
	for (sec = 0; sec < 230LL * 366 * 86400 && bad == -1; sec += 86399) {
		t = (time_t)sec;
		gmtime_r(&t, &tm);
		strftime(libc, sizeof(libc), "%Y-%m-%dT%H:%M:%S.042Z", &tm);
		if (clock_utc_of(ours, sizeof(ours), sec, 42) != 24 ||
		    strcmp(ours, libc) != 0)
			bad = sec;
	}
	CHECK(bad == -1, "the date agrees with gmtime_r for 230 years%s%s",
	    bad == -1 ? "" : "; differs at ", bad == -1 ? "" : ours);
	CHECK(clock_utc_of(small, sizeof(small), 0, 0) == 0,
	    "a buffer too small is left alone");
	CHECK(clock_utc(ours, sizeof(ours)) == 24 && ours[23] == 'Z' &&
	    strncmp(ours, "20", 2) == 0, "clock_utc(): %s", ours);
	return (check_done());
}
