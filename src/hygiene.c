/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hygiene.c: process hygiene at startup.
 *
 * Owns two things main() asks for once: fds 0 to 2 that are open (on
 * /dev/null if need be), and the SIGSEGV handler that reports a
 * coroutine's stack overflow.  Which stack overflowed is coro.c's
 * knowledge; the line format is log.c's, repeated here with write(2)
 * alone because a signal handler may call nothing else of log.c's.
 */
#include "hygiene.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "coro.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define HYGIENE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HYGIENE_ASAN 1
#endif
#endif

/* The alternate signal stack installed when the thread has none. */
#define HYGIENE_ALTSTACK	(64 * 1024)

int
hygiene_stdio(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* The lowest free fd, so fd itself: the lower ones are open. */
		if (open("/dev/null", O_RDWR) == -1)
			return (-1);
	}
	return (0);
}

#ifdef HYGIENE_ASAN
int
hygiene_overflow_handler(int64_t stack_size)
{
	(void)stack_size;
	return (0);	/* ASan owns SIGSEGV and reports overflows itself */
}

int
hygiene_thread(void)
{
	return (0);
}
#else
/* What the handler needs, set once before it is installed. */
static int64_t	overflow_stack_size;
static int	overflow_journal;

/* Append the decimal v, zero-padded to width digits, at p. */
static char *
put_num(char *p, int64_t v, int width)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < (int)sizeof(digits));
	while (n < width)
		digits[n++] = '0';
	while (n > 0)
		*p++ = digits[--n];
	return (p);
}

static char *
put_str(char *p, const char *end, const char *s)
{
	while (*s != '\0' && p < end)
		*p++ = *s++;
	return (p);
}

/* log.c's "2026-11-25T10:00:00.123Z crit: ", async-signal-safely. */
static char *
put_prefix(char *p)
{
	if (overflow_journal)
		return (put_str(p, p + 4, "<2>"));
	p += clock_utc(p, CLOCK_UTC_SIZE);
	return (put_str(p, p + 7, " crit: "));
}

/* A size as the configuration writes it: "1m", "64k" or bytes. */
static char *
put_size(char *p, int64_t v)
{
	if (v > 0 && v % (1024 * 1024) == 0)
		return (put_str(put_num(p, v / (1024 * 1024), 1), p + 24, "m"));
	if (v > 0 && v % 1024 == 0)
		return (put_str(put_num(p, v / 1024, 1), p + 24, "k"));
	return (put_num(p, v, 1));
}

/* One line, one write(2): the same shape as log.c's. */
static void
overflow_report(const char *label)
{
	char line[512], *p = line, *end = line + sizeof(line) - 1;

	p = put_prefix(p);
	if (label == NULL)
		p = put_str(p, end, "(unlabelled coroutine)");
	else {
		/* Listener names are plain, but a label is any string. */
		log_escape(p, 128, label, strlen(label));
		p += strlen(p);
	}
	p = put_str(p, end, ": coroutine stack overflow "
	    "(coroutine_stack_size is ");
	p = put_size(p, overflow_stack_size);
	p = put_str(p, end, "): raise coroutine_stack_size; aborting");
	*p++ = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)(p - line));
}

static void
on_segv(int signo, siginfo_t *si, void *uctx)
{
	struct sigaction dfl;
	const char *label = NULL;

	(void)uctx;
	if (si->si_code > 0 && coro_fault_is_overflow(si->si_addr, &label)) {
		overflow_report(label);
		abort();
	}
	/*
	 * Not ours: crash as before.  With the default action back, the
	 * faulting instruction faults again on return and the kernel ends
	 * the process (and dumps core); a SIGSEGV sent by kill(2) is raised
	 * again, to be delivered once this handler returns.
	 */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(signo, &dfl, NULL);
	if (si->si_code <= 0)
		raise(signo);
}

/*
 * The handler runs on the alternate stack: the overflowed stack has no
 * room left for it.  The loop may already have given this thread one.
 */
static int
altstack_ensure(void)
{
	long min = sysconf(_SC_SIGSTKSZ);
	stack_t cur, ss;

	if (sigaltstack(NULL, &cur) == -1)
		return (-1);
	if ((cur.ss_flags & SS_DISABLE) == 0)
		return (0);
	memset(&ss, 0, sizeof(ss));
	ss.ss_size = HYGIENE_ALTSTACK;
	if (min > 0 && (size_t)min > ss.ss_size)
		ss.ss_size = (size_t)min;
	/* Kept for the life of the process, like the handler. */
	ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		return (-1);
	return (sigaltstack(&ss, NULL));
}

int
hygiene_overflow_handler(int64_t stack_size)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct sigaction sa;

	overflow_stack_size = stack_size;
	overflow_journal = (js != NULL && *js != '\0');
	if (altstack_ensure() == -1)
		return (-1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	return (sigaction(SIGSEGV, &sa, NULL));
}

int
hygiene_thread(void)
{
	return (altstack_ensure());
}
#endif /* HYGIENE_ASAN */
