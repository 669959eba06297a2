/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * One fuzz target: libFuzzer calls LLVMFuzzerTestOneInput() with bytes
 * it made up (the AIO_FUZZ build), or replay.c calls it once per corpus
 * file (every other build, as a CTest test).  A target checks
 * properties as well as surviving: a property that fails calls
 * fuzz_fail(), which aborts, and libFuzzer keeps the input as a crash.
 */
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Optional set-up, once before the first input. */
int	LLVMFuzzerInitialize(int *, char ***);

#define fuzz_fail(...) do {						\
	fprintf(stderr, "%s:%d: property failed: ", __FILE__, __LINE__);	\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

#define fuzz_check(cond) do {						\
	if (!(cond))							\
		fuzz_fail("%s", #cond);					\
} while (0)

#endif /* FUZZ_H */
