/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * splice_fail.so: an LD_PRELOAD shim that makes splice(2) fail with
 * EINVAL, as it does on a socket or kernel that cannot splice, so that
 * tests reach the proxy's fallback to copying (tests/splice.bats).
 *
 *   SPLICE_FAIL=in   every splice into a pipe (socket to pipe) fails
 *   SPLICE_FAIL=out  every splice out of a pipe (pipe to socket) fails
 *
 * Anything else passes through to the C library's splice().
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static int
is_pipe(int fd)
{
	struct stat st;

	return (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode));
}

ssize_t
splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len,
    unsigned int flags)
{
	typedef ssize_t splice_fn(int, loff_t *, int, loff_t *, size_t,
	    unsigned int);
	static splice_fn *_Atomic real;	/* loop threads call this too */
	const char *mode = getenv("SPLICE_FAIL");
	splice_fn *fn;

	if (mode != NULL && ((strcmp(mode, "in") == 0 && is_pipe(out)) ||
	    (strcmp(mode, "out") == 0 && is_pipe(in)))) {
		errno = EINVAL;
		return (-1);
	}
	if ((fn = real) == NULL) {
		*(void **)&fn = dlsym(RTLD_NEXT, "splice");
		real = fn;
	}
	return (fn(in, off_in, out, off_out, len, flags));
}
