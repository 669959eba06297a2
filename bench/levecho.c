/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * levecho: the smallest libevent echo server we could write, as the
 * ceiling for aio-echod's echo in the benchmarks (bench/run-all.sh), and
 * the upstream behind every proxy benchmarked there.
 *
 *   levecho HOST:PORT | unix:PATH
 *
 * Callbacks only, no bufferevents, no coroutines: this is what the
 * daemon's design costs compared with nothing.  One event per
 * connection, level-triggered.  A readable socket gets one read(2) into
 * a single 16 KiB buffer shared by all connections (the loop is one
 * thread) and one write(2) of what came in, so a message costs one read
 * and one write, the same count aio-echod aims for.  Level triggering
 * is what makes one read per wake safe: anything left in the socket
 * wakes us again, so no read is spent finding the socket empty.  Only
 * when the peer does not take the whole echo is the rest copied to the
 * heap; then reading stops until it is written (backpressure), so
 * memory per connection stays bounded.  An idle connection costs its
 * struct (the struct event inside it) and nothing else.
 */
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "addr.h"

#define BUF_SIZE 16384

struct client {
	struct event ev;
	int fd;
	char *pending;		/* echo the peer has not taken yet */
	size_t off, len;
};

static struct event_base *base;
static char buf[BUF_SIZE];

static void on_client(evutil_socket_t, short, void *);

static void
client_free(struct client *c)
{
	event_del(&c->ev);
	close(c->fd);
	free(c->pending);
	free(c);
}

static void
client_watch(struct client *c, short what)
{
	event_del(&c->ev);
	event_assign(&c->ev, base, c->fd, what | EV_PERSIST, on_client, c);
	event_add(&c->ev, NULL);
}

static void
on_client(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	ssize_t n, w;

	if (what & EV_WRITE) {
		w = write(fd, c->pending + c->off, c->len - c->off);
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			goto gone;
		if (w > 0)
			c->off += (size_t)w;
		if (c->off == c->len) {
			free(c->pending);
			c->pending = NULL;
			client_watch(c, EV_READ);
		}
		return;
	}
	n = read(fd, buf, sizeof(buf));
	if (n == -1)
		if (errno == EAGAIN || errno == EINTR)
			return;
	if (n <= 0)
		goto gone;
	w = write(fd, buf, (size_t)n);
	if (w == -1) {
		if (errno != EAGAIN && errno != EINTR)
			goto gone;
		w = 0;
	}
	if (w < n) {
		c->len = (size_t)(n - w);
		c->off = 0;
		if ((c->pending = malloc(c->len)) == NULL)
			goto gone;
		memcpy(c->pending, buf + w, c->len);
		client_watch(c, EV_WRITE);
	}
	return;
gone:
	client_free(c);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct client *c;
	int fd, one = 1;

	(void)what;
	(void)arg;
	for (int i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		event_assign(&c->ev, base, fd, EV_READ | EV_PERSIST, on_client,
		    c);
		event_add(&c->ev, NULL);
	}
}

static int
listen_on(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (parse_addr(addr, &ss, &len) == -1)
		return (-1);
	if (ss.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&ss)->sun_path);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return (-1);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 4096) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
	struct event *lev, *sigterm, *sigint;
	struct rlimit rl;
	int lfd;

	if (argc != 2) {
		fprintf(stderr, "usage: levecho HOST:PORT|unix:PATH\n");
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((lfd = listen_on(argv[1])) == -1) {
		fprintf(stderr, "levecho: %s: %s\n", argv[1], strerror(errno));
		return (1);
	}
	base = event_base_new();
	lev = event_new(base, lfd, EV_READ | EV_PERSIST, on_accept, NULL);
	sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
	sigint = evsignal_new(base, SIGINT, on_signal, NULL);
	event_add(lev, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	printf("listening %s\n", argv[1]);
	fflush(stdout);
	event_base_dispatch(base);
	return (0);
}
