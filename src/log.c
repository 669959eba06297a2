/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.c: the daemon's only writer to stderr.
 *
 * Every event is one line, formatted into a bounded buffer on the caller's
 * stack and written with a single write(2), so lines from concurrent
 * writers (worker threads, later) never interleave.  Under systemd the
 * journal reads stderr; a "<N>" prefix carries the level through and the
 * journal adds its own time stamp.  Elsewhere each line gets a UTC time
 * stamp and a level word.
 *
 * One escaping for text from outside (UNIX peer paths, anything a peer or
 * DNS controls): log_escape() writes every byte outside printable ASCII,
 * the space and the backslash as "\xHH".  So such text is one log field
 * that cannot hold a space or start a new line, and its bytes can be
 * recovered exactly.  As a last line of defence, every finished message
 * has its control characters escaped the same way before it is written
 * (log_escape_controls(), which notify.c uses for STATUS= too).
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"

/* Long enough for any message we write; longer ones end in "...". */
#define LOG_LINE_MAX	1024

_Atomic int	log_level = LOG_LEVEL_INFO;
static int	log_journal;

void
log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

void
log_init(int level)
{
	const char *js = getenv("JOURNAL_STREAM");

	atomic_store_explicit(&log_level, level, memory_order_relaxed);
	log_journal = (js != NULL && *js != '\0');
}

int
log_level_parse(const char *name)
{
	static const struct {
		const char	*name;
		int		 level;
	} levels[] = {
		{ "debug", LOG_LEVEL_DEBUG },
		{ "info", LOG_LEVEL_INFO },
		{ "warn", LOG_LEVEL_WARN },
		{ "crit", LOG_LEVEL_CRIT },
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(name, levels[i].name) == 0)
			return (levels[i].level);
	return (-1);
}

static const char *
level_word(int level)
{
	switch (level) {
	case LOG_LEVEL_CRIT:
		return ("crit");
	case LOG_LEVEL_WARN:
		return ("warn");
	case LOG_LEVEL_INFO:
		return ("info");
	default:
		return ("debug");
	}
}

/* Write the line prefix into buf; return its length. */
static size_t
log_prefix(char *buf, size_t size, int level)
{
	size_t n;

	if (log_journal)
		return ((size_t)snprintf(buf, size, "<%d>", level));
	n = clock_utc(buf, size);
	n += (size_t)snprintf(buf + n, size - n, " %s: ", level_word(level));
	return (n);
}

static const char	hex[] = "0123456789abcdef";

/* 1 for the bytes log_escape() leaves as they are. */
static int
plain(unsigned char c)
{
	return (c > ' ' && c < 0x7f && c != '\\');
}

size_t
log_escape(char *dst, size_t size, const char *src, size_t len)
{
	size_t i, n = 0, out = 0, w;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)src[i];
		w = plain(c) ? 1 : 4;
		/* Once something was dropped, everything after it is too. */
		if (out == n && n + w < size) {
			if (w == 1)
				dst[n] = (char)c;
			else {
				dst[n] = '\\';
				dst[n + 1] = 'x';
				dst[n + 2] = hex[c >> 4];
				dst[n + 3] = hex[c & 0xf];
			}
			out = n + w;
		}
		n += w;
	}
	if (size > 0)
		dst[out] = '\0';
	return (n);
}

/* A byte that would end or garble a line on a terminal or the journal. */
static int
control(unsigned char c)
{
	return (c < ' ' || c == 0x7f);
}

size_t
log_escape_controls(char *dst, size_t size, const char *src, size_t len)
{
	size_t i, k = 0, need, out;
	unsigned char c;

	for (i = 0; i < len; i++)
		k += control((unsigned char)src[i]);
	need = out = len + 3 * k;
	if (size == 0)
		return (need);
	/* Drop whole bytes from the end until the rest fits with a NUL. */
	while (out > size - 1) {
		len--;
		out -= control((unsigned char)src[len]) ? 4 : 1;
	}
	if (k == 0 && dst == src) {
		dst[out] = '\0';
		return (need);
	}
	/*
	 * Back to front: in place, each byte moves (never left) before it
	 * is overwritten.  The NUL goes past every byte still to be read.
	 */
	dst[out] = '\0';
	for (i = len, k = out; i-- > 0;) {
		c = (unsigned char)src[i];
		if (!control(c)) {
			dst[--k] = (char)c;
			continue;
		}
		dst[--k] = hex[c & 0xf];
		dst[--k] = hex[c >> 4];
		dst[--k] = 'x';
		dst[--k] = '\\';
	}
	return (need);
}

static void
log_vwrite(int level, int with_errno, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved_errno = errno, r, cut = 0;
	size_t n, p, size, room = sizeof(line) - 1;	/* one byte for '\n' */

	n = p = log_prefix(line, room, level);
	r = vsnprintf(line + n, room - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (with_errno && n < room) {
		r = snprintf(line + n, room - n, ": %s", strerror(saved_errno));
		if (r > 0)
			n += (size_t)r;
	}
	if (n >= room) {
		n = room - 1;	/* what vsnprintf kept, NUL excluded */
		cut = 1;
	}
	/*
	 * The last line of defence: a newline that reached a message
	 * unescaped would otherwise forge a line.  In place; its NUL may
	 * take the byte kept for '\n'.  A cut leaves room for "...".
	 */
	size = room - p + 1;
	if (cut || log_escape_controls(NULL, 0, line + p, n - p) >= size) {
		size -= 3;
		cut = 1;
	}
	log_escape_controls(line + p, size, line + p, n - p);
	n = p + strlen(line + p);
	if (cut) {
		memcpy(line + n, "...", 3);
		n += 3;
	}
	line[n++] = '\n';
	/* One write per line; a short or failed write to stderr is dropped. */
	(void)!write(STDERR_FILENO, line, n);
	errno = saved_errno;
}

void
log_write(int level, int with_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, with_errno, fmt, ap);
	va_end(ap);
}

#define RATELIMIT_MS	10000

int
log_ratelimit(_Atomic int64_t *last)
{
	int64_t now = clock_now(), prev = atomic_load(last);

	if (prev != 0 && now - prev < RATELIMIT_MS)
		return (0);
	/* Of two threads that both found it due, one logs. */
	return (atomic_compare_exchange_strong(last, &prev, now));
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
