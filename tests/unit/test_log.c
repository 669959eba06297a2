/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_log: the one escaping (log_escape) and the last line of defence
 * in log_write (log_escape_controls): no message can split into two
 * lines.  notify.c puts STATUS= text through the same escaping, so that
 * no text can split into two assignments to systemd: checked here too.
 */
#include "log.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "check.h"
#include "notify.h"

static void
esc(const char *src, size_t len, const char *want)
{
	char out[256];
	size_t n = log_escape(out, sizeof(out), src, len);

	CHECK(strcmp(out, want) == 0 && n == strlen(want),
	    "escape \"%s\" -> \"%s\"", want, out);
}

static void
test_escape(void)
{
	char out[16];
	size_t n;

	esc("/run/a.sock", 11, "/run/a.sock");
	esc("a b", 3, "a\\x20b");
	esc("a\\b", 3, "a\\x5cb");
	esc("x\ny\r", 4, "x\\x0ay\\x0d");
	esc("\x7f\xff\x80", 3, "\\x7f\\xff\\x80");
	esc("a\0b", 3, "a\\x00b");
	esc("", 0, "");
	esc("~!\"#$%&'()*+,-./:;<=>?@[]^_`{|}", 31,
	    "~!\"#$%&'()*+,-./:;<=>?@[]^_`{|}");

	/* Cut at an escape boundary, never inside one; NUL-terminated. */
	n = log_escape(out, 6, "ab cd", 5);
	CHECK(n == 8 && strcmp(out, "ab") == 0,
	    "a cut drops a whole escape: \"%s\", needs %zu", out, n);
	n = log_escape(out, 7, "ab cd", 5);
	CHECK(n == 8 && strcmp(out, "ab\\x20") == 0,
	    "an escape that fits is kept whole: \"%s\"", out);
	n = log_escape(out, 0, "abc", 3);
	CHECK(n == 3, "size 0 writes nothing and counts");
	n = log_escape(out, 1, "abc", 3);
	CHECK(n == 3 && out[0] == '\0', "size 1 is just the NUL");
}

static void
esc_controls(const char *src, size_t len, const char *want)
{
	char out[256], in[256];
	size_t n = log_escape_controls(out, sizeof(out), src, len), m;

	memcpy(in, src, len);
	m = log_escape_controls(in, sizeof(in), in, len);
	CHECK(strcmp(out, want) == 0 && n == strlen(want) &&
	    strcmp(in, want) == 0 && m == n,
	    "escape controls (copied and in place) \"%s\" -> \"%s\"", want,
	    out);
}

/* Only controls, the escaping every log line (and STATUS=) gets. */
static void
test_escape_controls(void)
{
	char out[16];
	size_t n;

	esc_controls("warn\nMAINPID=1\nSTOPPING=1", 25,
	    "warn\\x0aMAINPID=1\\x0aSTOPPING=1");
	esc_controls("a b\\c \xc3\xa9", 8, "a b\\c \xc3\xa9");
	esc_controls("\r\t\x1b[2J\x7f", 7, "\\x0d\\x09\\x1b[2J\\x7f");
	esc_controls("a\0b", 3, "a\\x00b");
	esc_controls("", 0, "");

	/* Cut at an escape boundary, never inside one; NUL-terminated. */
	n = log_escape_controls(out, 6, "ab\ncd", 5);
	CHECK(n == 8 && strcmp(out, "ab") == 0,
	    "a cut drops a whole escape: \"%s\", needs %zu", out, n);
	n = log_escape_controls(out, 7, "ab\ncd", 5);
	CHECK(n == 8 && strcmp(out, "ab\\x0a") == 0,
	    "an escape that fits is kept whole: \"%s\"", out);
	memcpy(out, "ab\ncd", 6);
	n = log_escape_controls(out, 7, out, 5);
	CHECK(n == 8 && strcmp(out, "ab\\x0a") == 0,
	    "in place too: \"%s\"", out);
	n = log_escape_controls(NULL, 0, "a\nb", 3);
	CHECK(n == 6, "size 0 only counts");
	n = log_escape_controls(out, 1, "abc", 3);
	CHECK(n == 3 && out[0] == '\0', "size 1 is just the NUL");
}

/* Run log_write with stderr going to a file; return what it wrote. */
static const char *
capture(int level, const char *arg)
{
	capture_begin();
	log_write(level, 0, "peer %s: closed", arg);
	return (capture_end());
}

static void
test_defence(void)
{
	static char big[3000];
	const char *out;

	unsetenv("JOURNAL_STREAM");
	log_init(LOG_LEVEL_DEBUG);
	out = capture(LOG_LEVEL_INFO,
	    "x\n2026-11-25T10:00:00.000Z crit: forged\r\x1b[2J");
	CHECK(count_lines(out) == 1 && strstr(out, " info: peer x\\x0a2026") &&
	    strstr(out, "forged\\x0d\\x1b[2J: closed\n"),
	    "controls in a message are escaped: one line: %s", out);
	out = capture(LOG_LEVEL_INFO, "a b\\c \xc3\xa9");
	CHECK(strstr(out, "peer a b\\c \xc3\xa9: closed\n") != NULL,
	    "spaces, backslashes and UTF-8 in a message are left alone");

	/* A message far too long, full of newlines, is still one line. */
	memset(big, '\n', sizeof(big) - 1);
	out = capture(LOG_LEVEL_WARN, big);
	CHECK(count_lines(out) == 1 && strlen(out) <= 1024 &&
	    strstr(out, "\\x0a...\n") != NULL,
	    "a cut message of newlines is one line ending in \"...\"");
	/* Cut by the escaping alone, not by vsnprintf: still whole. */
	memset(big, 'x', sizeof(big) - 1);
	memset(big + 900, '\n', 100);
	big[1000] = '\0';
	out = capture(LOG_LEVEL_WARN, big);
	CHECK(count_lines(out) == 1 && strlen(out) <= 1024 &&
	    strstr(out, "\\x0a...\n") != NULL,
	    "a message cut by its escapes ends in a whole one and \"...\"");

	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init(LOG_LEVEL_DEBUG);
	out = capture(LOG_LEVEL_DEBUG, "a\nb");
	CHECK(strcmp(out, "<7>peer a\\x0ab: closed\n") == 0,
	    "journal lines too: %s", out);
	unsetenv("JOURNAL_STREAM");
}

/* The next message sent to the fake NOTIFY_SOCKET s, or "". */
static const char *
next_note(int s)
{
	static char buf[2048];
	ssize_t n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return (buf);
}

/* STATUS= text, whatever it holds, is one assignment, and bounded. */
static void
test_notify_status(void)
{
	char dir[] = "/tmp/test_log.XXXXXX", big[1000], want[512];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *note;
	int s;

	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", dir);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		CHECK(0, "bind %s", sun.sun_path);
		return;
	}
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	unsetenv("WATCHDOG_USEC");
	notify_init();

	notify_status("warn\nMAINPID=1\nSTOPPING=1\r");
	note = next_note(s);
	CHECK(strcmp(note, "STATUS=warn\\x0aMAINPID=1\\x0aSTOPPING=1\\x0d")
	    == 0, "a newline in STATUS= is sent as \\x0a: %s", note);
	notify_ready("a\nb");
	note = next_note(s);
	CHECK(strcmp(note, "READY=1\nSTATUS=a\\x0ab") == 0,
	    "and with READY=1 too");

	/* Cut at NOTIFY_STATUS_MAX, after a whole escape, then "...". */
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	notify_ready(big);
	note = next_note(s);
	CHECK(strncmp(note, "READY=1\nSTATUS=\\x0a", 19) == 0 &&
	    strchr(note + 8, '\n') == NULL &&
	    strlen(note + 15) <= NOTIFY_STATUS_MAX &&
	    strcmp(note + strlen(note) - 7, "\\x0a...") == 0,
	    "1000 newlines: one STATUS= of %zu bytes ending in \"...\"",
	    strlen(note + 15));
	memset(big, 'x', sizeof(big) - 1);
	notify_status(big);
	snprintf(want, sizeof(want), "STATUS=%.*s...",
	    NOTIFY_STATUS_MAX - 3, big);
	note = next_note(s);
	CHECK(strcmp(note, want) == 0, "999 bytes: the first %d and \"...\"",
	    NOTIFY_STATUS_MAX - 3);
	memset(big, 'x', NOTIFY_STATUS_MAX);
	big[NOTIFY_STATUS_MAX] = '\0';
	notify_status(big);
	note = next_note(s);
	CHECK(strlen(note) == 7 + NOTIFY_STATUS_MAX &&
	    strstr(note, "...") == NULL, "%d bytes are sent whole",
	    NOTIFY_STATUS_MAX);

	unsetenv("NOTIFY_SOCKET");
	notify_init();
	close(s);
	unlink(sun.sun_path);
	rmdir(dir);
}

int
main(void)
{
	test_escape();
	test_escape_controls();
	test_defence();
	test_notify_status();
	return (check_done());
}
