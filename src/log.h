/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Levels follow syslog's numbering so that the journal's "<N>" prefix is
 * the level itself.
 */
#define LOG_LEVEL_CRIT	2
#define LOG_LEVEL_WARN	4
#define LOG_LEVEL_INFO	6
#define LOG_LEVEL_DEBUG	7

/* Any thread reads it; a reload sets it (relaxed: a level, not a flag
 * that orders anything). */
extern _Atomic int log_level;

/*
 * log_init(level):
 * Set the level below which lines are dropped, and decide the line format:
 * "<N>message" when stderr is the journal (JOURNAL_STREAM is set), else
 * "2026-11-25T10:00:00.123Z level: message".  At startup, before the
 * other threads exist.
 */
void	log_init(int);

/*
 * log_set_level(level):
 * Change only the level (a reload, while other threads log).  Any thread.
 */
void	log_set_level(int);

/*
 * log_level_parse(name):
 * Return the level for "debug", "info", "warn" or "crit", or -1.
 */
int	log_level_parse(const char *);

/*
 * log_escape(dst, size, src, len):
 * Copy the len bytes at src into dst (size bytes, always NUL-terminated
 * when size > 0), writing every byte outside printable ASCII, the space
 * and the backslash as "\xHH" (two lower-case hex digits), so text a
 * peer or DNS controls can never split a log line or a log field, and
 * the original bytes can be recovered.  An escape is never cut in half:
 * text that does not fit is dropped.  Returns the length the whole
 * escaped text needs, NUL excluded (>= size means it was cut).  Any
 * thread; async-signal-safe.
 */
size_t	log_escape(char *, size_t, const char *, size_t);

/*
 * log_escape_controls(dst, size, src, len):
 * The escaping every log message gets: as log_escape(), but only control
 * characters (below 0x20, and 0x7f) become "\xHH"; spaces, backslashes
 * and UTF-8 stay.  So the text is one line, for a log line or a line of
 * an sd_notify(3) message.  dst may be src (escaped in place; any other
 * overlap is undefined).  An escape is never cut in half: text that
 * does not fit is dropped from the end.  Size 0 only counts (dst may be
 * NULL).  Returns the length the whole escaped text needs, NUL excluded
 * (>= size means it was cut).  Any thread; async-signal-safe.
 */
size_t	log_escape_controls(char *, size_t, const char *, size_t);

/*
 * log_write(level, with_errno, fmt, ...):
 * Format one line and write it to stderr in a single write(2).  Appends
 * ": strerror(errno)" when with_errno is set.  Control characters (below
 * 0x20, and 0x7f) in the formatted message become "\xHH", so no message
 * can split into two lines, whatever its arguments held; callers still
 * pass untrusted text through log_escape(), which also escapes spaces and
 * backslashes.  Preserves errno.  Use the macros below, which skip the
 * formatting when the level is off.
 */
void	log_write(int, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_enabled(lvl)	\
	((lvl) <= atomic_load_explicit(&log_level, memory_order_relaxed))
#define log_at(lvl, e, ...) do {					\
	if (log_enabled(lvl))						\
		log_write((lvl), (e), __VA_ARGS__);			\
} while (0)

/* log_warn appends strerror(errno); log_warnx does not. */
#define log_warn(...)	log_at(LOG_LEVEL_WARN, 1, __VA_ARGS__)
#define log_warnx(...)	log_at(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_info(...)	log_at(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...)	log_at(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)

/*
 * log_ratelimit(last):
 * 1 if at least 10 s have passed since *last (monotonic ms; 0: never),
 * and then *last becomes now; else 0.  For warnings that could repeat
 * with every connection.  Any thread: the loop threads' copies of a
 * listener share one *last, so a warning comes once, not once a thread.
 */
int	log_ratelimit(_Atomic int64_t *);

/*
 * fatal(fmt, ...), fatalx(fmt, ...):
 * Log at the critical level (fatal appends strerror) and exit(1).  For
 * startup failures and broken invariants only.
 */
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* LOG_H */
