/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify.c: what the daemon tells systemd, through libsystemd's sd-daemon
 * API (sd_notify(3)).
 *
 * Owns nothing but the flags read from the environment at start.  What
 * to say and when (READY after every listener is open on every thread,
 * STATUS once a second, WATCHDOG only while every loop thread turns) is
 * main.c's; this file only says it.  Messages are best effort: systemd
 * not listening is not an error the daemon could do anything about.
 *
 * Each line of a message is an assignment to systemd, so text from
 * elsewhere (STATUS= quotes a refused configuration's problem) goes
 * through one function that makes it one bounded line; nothing but
 * STATUS= carries such text.
 */
#include "notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"

/* Margin added to a stop's remaining time for systemd's stop timeout. */
#define STOP_MARGIN_MS	5000

static int	enabled;

int64_t
notify_init(void)
{
	uint64_t usec = 0;
	const char *ns = getenv("NOTIFY_SOCKET");

	enabled = ns != NULL && *ns != '\0';
	if (!enabled || sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return (0);
	/* Half the timeout, as sd_watchdog_enabled(3) advises. */
	return (usec / 2000 > 0 ? (int64_t)(usec / 2000) : 1);
}

int
notify_enabled(void)
{
	return (enabled);
}

/* Send msg; say at debug level if systemd could not be told. */
static void
say(const char *msg)
{
	if (!enabled)
		return;
	if (sd_notify(0, msg) < 0)
		log_debug("sd_notify: \"%s\" not sent", msg);
}

/*
 * Send head (whole assignments, each ending in '\n', or "") and then
 * STATUS=status.  The status may hold anything, a configuration value a
 * reload quotes included: its control characters are escaped as in the
 * log, so a newline in it cannot start an assignment of its own, and it
 * is cut to NOTIFY_STATUS_MAX bytes, ending in "...".
 */
static void
say_status(const char *head, const char *status)
{
	char msg[sizeof("READY=1\nSTATUS=") + NOTIFY_STATUS_MAX];
	size_t n, size, len = strlen(status);
	int cut;

	n = (size_t)snprintf(msg, sizeof(msg), "%sSTATUS=", head);
	size = NOTIFY_STATUS_MAX + 1;
	if ((cut = log_escape_controls(NULL, 0, status, len) >= size))
		size -= 3;
	log_escape_controls(msg + n, size, status, len);
	if (cut)
		memcpy(msg + n + strlen(msg + n), "...", 4);
	say(msg);
}

void
notify_ready(const char *status)
{
	say_status("READY=1\n", status);
}

void
notify_status(const char *status)
{
	say_status("", status);
}

void
notify_stopping(int64_t left_ms)
{
	char msg[128];

	if (left_ms < 0)
		left_ms = 0;
	snprintf(msg, sizeof(msg), "STOPPING=1\nEXTEND_TIMEOUT_USEC=%lld",
	    (long long)(left_ms + STOP_MARGIN_MS) * 1000);
	say(msg);
}

void
notify_reloading(void)
{
	struct timespec ts;
	char msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	say(msg);
}

int
notify_passed_sockets(char ***names)
{
	int n;

	*names = NULL;
	if ((n = sd_listen_fds_with_names(1, names)) < 0) {
		errno = -n;
		return (-1);
	}
	return (n);
}

int
notify_socket_is(int fd, const void *addr, unsigned len, int datagram)
{
	const struct sockaddr_un *sun = addr;

	if (datagram)	/* listening: -1, as a datagram socket never is */
		return (sd_is_socket_sockaddr(fd, SOCK_DGRAM, addr, len,
		    -1) > 0);
	if (sun->sun_family == AF_UNIX)
		return (sd_is_socket_unix(fd, SOCK_STREAM, 1, sun->sun_path,
		    0) > 0);
	return (sd_is_socket_sockaddr(fd, SOCK_STREAM, addr, len, 1) > 0);
}

void
notify_watchdog(void)
{
	say("WATCHDOG=1");
}
