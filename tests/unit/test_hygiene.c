/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_hygiene: standard fds opened on /dev/null, and a coroutine stack
 * overflow reported as one crit line before the abort, while any other
 * SIGSEGV still crashes as before.  Each case runs in a child process.
 */
#include "hygiene.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "check.h"
#include "coro.h"
#include "deep.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static const char	*out;

/* Run fn in a child with stderr going to a file; return its status. */
static int
in_child(void (*fn)(void), const char *journal)
{
	FILE *fp = tmpfile();
	struct rlimit nocore = { 0, 0 };
	int status = 0;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		setrlimit(RLIMIT_CORE, &nocore);	/* crashes are expected */
		dup2(fileno(fp), STDERR_FILENO);
		if (journal != NULL)
			setenv("JOURNAL_STREAM", journal, 1);
		else
			unsetenv("JOURNAL_STREAM");
		fn();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	out = capture_slurp(fp);
	return (status);
}

static void
overflowing(void *arg)
{
	(void)arg;
	coro_set_label("mylistener");
	deep(1000);	/* about 1 MiB of frames on a 16 KiB stack */
}

/*
 * One frame far bigger than the stack: only page-by-page probing
 * (-fstack-clash-protection) makes it fault on the guard page rather
 * than jump over it.
 */
static void __attribute__((noinline))
big_frame(void)
{
	volatile char big[64 * 1024];

	big[0] = 1;
	big[sizeof(big) - 1] = big[0];
}

static void
overflowing_big(void *arg)
{
	(void)arg;
	coro_set_label("mylistener");
	big_frame();
}

static void (*overflow_fn)(void *) = overflowing;

static void
child_overflow(void)
{
	struct coro *co;

	coro_init(CORO_STACK_MIN, 0);
	if (hygiene_overflow_handler(CORO_STACK_MIN) == -1)
		_exit(3);
	co = coro_create(overflow_fn, NULL);
	coro_resume(co);
}

/* An overflow: one crit line naming the label and the key, then abort. */
static void
test_overflow(void)
{
	int status = in_child(child_overflow, NULL);

#ifdef TEST_ASAN
	/* ASan owns SIGSEGV: no handler is installed; it reports itself. */
	CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) ||
	    (WIFEXITED(status) && WEXITSTATUS(status) != 0),
	    "ASan build: the overflow is fatal (handler not installed; "
	    "%d lines from ASan)", count_lines(out));
	overflow_fn = overflowing_big;
	status = in_child(child_overflow, NULL);
	overflow_fn = overflowing;
	CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) ||
	    (WIFEXITED(status) && WEXITSTATUS(status) != 0),
	    "ASan build: a 64 KiB frame overflow is fatal");
#else
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	    "an overflow aborts (SIGABRT, not a silent SIGSEGV)");
	CHECK(count_lines(out) == 1 && strstr(out, "mylistener") &&
	    strstr(out, "coroutine_stack_size") && strstr(out, "16k"),
	    "one line names the listener, coroutine_stack_size and 16k: %s",
	    out);
	CHECK(strlen(out) > 25 && out[4] == '-' && out[10] == 'T' &&
	    strstr(out, "Z crit: mylistener: ") == out + 23,
	    "in log.c's format: time stamp, crit");
	status = in_child(child_overflow, "1:1");
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
	    strncmp(out, "<2>mylistener: ", 15) == 0 && count_lines(out) == 1,
	    "under JOURNAL_STREAM the line starts with <2>: %s", out);
	overflow_fn = overflowing_big;
	status = in_child(child_overflow, NULL);
	overflow_fn = overflowing;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
	    count_lines(out) == 1 && strstr(out, "mylistener"),
	    "a 64 KiB frame on a 16 KiB stack is caught on the guard page too");
#endif
}

/* NULL, but the compiler cannot see it. */
static volatile int *volatile	nowhere;

static void
child_null(void)
{
	coro_init(CORO_STACK_MIN, 0);
	hygiene_overflow_handler(CORO_STACK_MIN);
	*nowhere = 1;
}

static void
null_in_coro(void *arg)
{
	(void)arg;
	coro_set_label("mylistener");
	*nowhere = 1;
}

static void
child_null_in_coro(void)
{
	struct coro *co;

	coro_init(CORO_STACK_MIN, 0);
	hygiene_overflow_handler(CORO_STACK_MIN);
	co = coro_create(null_in_coro, NULL);
	coro_resume(co);
}

static void
child_kill(void)
{
	coro_init(CORO_STACK_MIN, 0);
	hygiene_overflow_handler(CORO_STACK_MIN);
	kill(getpid(), SIGSEGV);
	(void)!write(STDERR_FILENO, "survived\n", 9);
}

#ifdef TEST_ASAN
#define SANITIZED	1
#else
#define SANITIZED	0
#endif

/* Killed by SIGSEGV (under ASan, whose handler exits 1, that or exit). */
static int
segv_death(int status)
{
#ifdef TEST_ASAN
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return (1);
#endif
	return (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
}

/* Any other SIGSEGV crashes as before, silently. */
static void
test_other_faults(void)
{
	int status;

	status = in_child(child_null, NULL);
	/* Silent, except for a sanitizer's own report. */
	CHECK(segv_death(status) && (SANITIZED || out[0] == '\0'),
	    "a NULL write on the main stack still dies by SIGSEGV");
	status = in_child(child_null_in_coro, NULL);
	CHECK(segv_death(status) &&
	    strstr(out, "coroutine_stack_size") == NULL,
	    "a NULL write in a coroutine is not called an overflow");
	status = in_child(child_kill, NULL);
	CHECK(segv_death(status) &&
	    strstr(out, "survived") == NULL,
	    "a SIGSEGV from kill(2) still kills");
}

/* The handler is installed on the alternate stack, and one exists. */
static void
test_installed(void)
{
	struct sigaction sa;
	stack_t ss;

	hygiene_overflow_handler(CORO_STACK_MIN);
	sigaction(SIGSEGV, NULL, &sa);
	sigaltstack(NULL, &ss);
#ifdef TEST_ASAN
	CHECK(1, "ASan build: the handler is not installed");
#else
	CHECK((sa.sa_flags & SA_ONSTACK) && (sa.sa_flags & SA_SIGINFO),
	    "the SIGSEGV handler runs on the alternate stack");
	CHECK((ss.ss_flags & SS_DISABLE) == 0 && ss.ss_size >= 16384,
	    "an alternate stack is set (%zu bytes)", ss.ss_size);
#endif
}

static int	report_fd = -1;

static int
is_devnull(int fd)
{
	struct stat st;

	return (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == makedev(1, 3));
}

static void
child_stdio(void)
{
	char verdict[4];
	int fd, i;

	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	if (hygiene_stdio() == -1)
		_exit(3);
	for (i = 0; i < 3; i++)
		verdict[i] = is_devnull(i) ? 'y' : 'n';
	/* The next fd opened is 3 or above, never a standard one. */
	fd = open("/dev/zero", O_RDONLY);
	verdict[3] = fd > 2 ? 'y' : 'n';
	(void)!write(report_fd, verdict, 4);
	_exit(0);
}

static void
test_stdio(void)
{
	char verdict[5] = "";
	struct stat before, after;
	int p[2], status = 0;
	pid_t pid;

	if (pipe(p) == -1) {
		CHECK(0, "pipe");
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(p[0]);
		report_fd = fcntl(p[1], F_DUPFD, 10);
		child_stdio();
	}
	close(p[1]);
	(void)!read(p[0], verdict, 4);
	close(p[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    strcmp(verdict, "yyyy") == 0,
	    "closed fds 0-2 are opened on /dev/null (%s)", verdict);
	fstat(STDOUT_FILENO, &before);
	CHECK(hygiene_stdio() == 0 && fstat(STDOUT_FILENO, &after) == 0 &&
	    before.st_dev == after.st_dev && before.st_ino == after.st_ino,
	    "open standard fds are left alone");
}

int
main(void)
{
	test_stdio();
	test_installed();
	test_overflow();
	test_other_faults();
	return (check_done());
}
