/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CHECK_H
#define CHECK_H

/*
 * A unit test's whole framework: CHECK prints one line per check and
 * check_done() ends with "N passed, N failed" and the exit status.
 */
#include <stdio.h>

static int	check_passed, check_failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		check_passed++;						\
		printf("ok - ");					\
	} else {							\
		check_failed++;						\
		printf("FAIL %s:%d (%s) - ", __FILE__, __LINE__, #cond);\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	fflush(stdout);							\
} while (0)

static inline int
check_done(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return (check_failed == 0 ? 0 : 1);
}

#endif /* CHECK_H */
