/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef DEEP_H
#define DEEP_H

/*
 * deep(n): n + 1 nested calls with a 1 KiB frame each, to overflow a
 * coroutine's stack (deep(1000) is about 1 MiB).  The frame is volatile
 * and is read again after the recursive call returns, so the call is not
 * a tail call and every level's frame stays on the stack.  The empty asm
 * makes the whole array escape, so that no compiler can shrink it to the
 * one byte used (clang -O2 does without it, and 1001 small frames then
 * fit in 16 KiB: no overflow).
 */
static int
deep(int n)
{
	volatile char frame[1024];

	frame[0] = (char)n;
	__asm__ volatile("" : : "r"(frame) : "memory");
	if (n == 0)
		return (frame[0]);
	return (deep(n - 1) + frame[0]);
}

#endif /* DEEP_H */
