/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef FAIL_CREATE_H
#define FAIL_CREATE_H
/*
 * pthread_create() for a test linked with -Wl,--wrap=pthread_create
 * (tests/CMakeLists.txt), for the code under test and the test alike:
 * the real one, but after create_ok more calls succeed, the next
 * create_fails fail with EAGAIN (as at RLIMIT_NPROC or out of memory for
 * a stack).  Include it in one file of the test.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

static atomic_int	create_ok, create_fails;

int	__real_pthread_create(pthread_t *, const pthread_attr_t *,
	    void *(*)(void *), void *);
int	__wrap_pthread_create(pthread_t *, const pthread_attr_t *,
	    void *(*)(void *), void *);

int
__wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	if (atomic_load(&create_fails) > 0) {
		if (atomic_load(&create_ok) > 0)
			atomic_fetch_sub(&create_ok, 1);
		else {
			atomic_fetch_sub(&create_fails, 1);
			return (EAGAIN);
		}
	}
	return (__real_pthread_create(thread, attr, fn, arg));
}

#endif /* FAIL_CREATE_H */
