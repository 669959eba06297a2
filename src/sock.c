/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sock.c: addresses and socket options.
 *
 * Owns address parsing and formatting and the setup of listening
 * sockets.  Parking and the event loop are io.c's business; nothing here
 * logs, callers decide what a failure means (log_escape() is borrowed
 * from log.c only to format peer paths safely).
 */
#include "sock.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/sockios.h>

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define UNIX_PREFIX	"unix:"
#define UDP_PREFIX	"udp:"
/* How long the stale-socket probe waits for a connect in progress. */
#define UNIX_PROBE_MS	100

static int
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	errno = EINVAL;
	return (-1);
}

/* Parse a decimal port 1-65535 from exactly len bytes. */
static int
parse_port(const char *p, size_t len, in_port_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return (-1);
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return (-1);
	*port = htons((in_port_t)v);
	return (0);
}

static int
parse_unix(const char *path, size_t len, struct sock_addr *sa,
    const char **why)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&sa->ss;

	if (len == 0)
		return (fail(why, "empty UNIX socket path"));
	if (len >= sizeof(sun->sun_path))
		return (fail(why, "UNIX socket path longer than 107 bytes"));
	if (memchr(path, '\0', len) != NULL)
		return (fail(why, "NUL byte in UNIX socket path"));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len);
	sun->sun_path[len] = '\0';
	sa->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return (0);
}

/* "[IPV6]" (hlen bytes at h, brackets included) and port into sa. */
static int
parse_inet6(const char *h, size_t hlen, in_port_t port,
    struct sock_addr *sa, const char **why)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa->ss;
	char host[INET6_ADDRSTRLEN];

	if (hlen < 2 || h[hlen - 1] != ']')
		return (fail(why, "unbalanced [ ] around IPv6 address"));
	if (hlen - 2 == 0 || hlen - 2 >= sizeof(host))
		return (fail(why, "bad IPv6 address"));
	memcpy(host, h + 1, hlen - 2);
	host[hlen - 2] = '\0';
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
		return (fail(why, "bad IPv6 address"));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = port;
	sa->len = sizeof(*s6);
	return (0);
}

/* A numeric IPv4 host (hlen bytes at h) and port into sa. */
static int
parse_inet4(const char *h, size_t hlen, in_port_t port,
    struct sock_addr *sa, const char **why)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&sa->ss;
	char host[INET_ADDRSTRLEN];

	if (hlen == 0)
		return (fail(why, "missing host before the port"));
	if (hlen >= sizeof(host))
		return (fail(why, "host must be a numeric IPv4 address or "
		    "a [bracketed] IPv6 one"));
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return (fail(why, "host must be a numeric IPv4 address or "
		    "a [bracketed] IPv6 one"));
	s4->sin_family = AF_INET;
	s4->sin_port = port;
	sa->len = sizeof(*s4);
	return (0);
}

int
sock_addr_parse(const char *buf, size_t len, struct sock_addr *sa,
    const char **why)
{
	size_t plen = sizeof(UNIX_PREFIX) - 1, hlen;
	const char *colon;
	in_port_t port;

	memset(sa, 0, sizeof(*sa));
	if (len >= plen && memcmp(buf, UNIX_PREFIX, plen) == 0)
		return (parse_unix(buf + plen, len - plen, sa, why));

	/* The port follows the last colon; IPv6 hosts are bracketed. */
	if ((colon = memrchr(buf, ':', len)) == NULL)
		return (fail(why,
		    "expected IPV4:PORT, [IPV6]:PORT or unix:PATH"));
	hlen = (size_t)(colon - buf);
	if (parse_port(colon + 1, len - hlen - 1, &port) == -1)
		return (fail(why, "port must be a number from 1 to 65535"));
	if (hlen > 0 && buf[0] == '[')
		return (parse_inet6(buf, hlen, port, sa, why));
	return (parse_inet4(buf, hlen, port, sa, why));
}

int
sock_listen_parse(const char *buf, size_t len, struct sock_addr *sa,
    int *datagram, const char **why)
{
	size_t plen = sizeof(UDP_PREFIX) - 1;

	*datagram = 0;
	if (len < plen || memcmp(buf, UDP_PREFIX, plen) != 0)
		return (sock_addr_parse(buf, len, sa, why));
	*datagram = 1;
	if (sock_addr_parse(buf + plen, len - plen, sa, why) == -1)
		return (-1);
	if (sa->ss.ss_family == AF_UNIX) {
		memset(sa, 0, sizeof(*sa));
		return (fail(why, "a udp: address is udp:IPV4:PORT or "
		    "udp:[IPV6]:PORT, not a UNIX path"));
	}
	return (0);
}

/*
 * 1 if the host (hlen bytes at h) looks like a number rather than a DNS
 * name: its last dot-separated label is all digits or starts with "0x".
 * The resolver would read such a host as an IPv4 address in the old
 * inet_aton forms (octal "010", hex "0x7f", short "1.2.3"), which is
 * never what an operator meant, so numbers are left to inet_pton alone.
 */
static int
looks_numeric(const char *h, size_t hlen)
{
	const char *dot = memrchr(h, '.', hlen);
	const char *label = dot ? dot + 1 : h;
	size_t n = hlen - (size_t)(label - h), i;

	if (n >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X'))
		return (1);
	for (i = 0; i < n; i++)
		if (label[i] < '0' || label[i] > '9')
			return (0);
	return (n > 0);
}

int
sock_name_parse(const char *buf, size_t len, char *host, unsigned *port,
    const char **why)
{
	const char *colon = memrchr(buf, ':', len);
	size_t hlen, i;
	in_port_t p;

	if (colon == NULL)
		return (fail(why, "expected NAME:PORT"));
	hlen = (size_t)(colon - buf);
	if (parse_port(colon + 1, len - hlen - 1, &p) == -1)
		return (fail(why, "port must be a number from 1 to 65535"));
	if (hlen == 0 || hlen >= SOCK_NAME_MAX)
		return (fail(why, "host name must be 1 to 253 bytes"));
	for (i = 0; i < hlen; i++)
		if (!((buf[i] >= 'a' && buf[i] <= 'z') ||
		    (buf[i] >= 'A' && buf[i] <= 'Z') ||
		    (buf[i] >= '0' && buf[i] <= '9') ||
		    buf[i] == '-' || buf[i] == '.'))
			return (fail(why, "host name may hold only letters, "
			    "digits, '-' and '.'"));
	if (looks_numeric(buf, hlen))
		return (fail(why, "a numeric host must be a dotted-quad IPv4 "
		    "address (four decimal numbers 0 to 255, no leading "
		    "zeros)"));
	memcpy(host, buf, hlen);
	host[hlen] = '\0';
	*port = ntohs(p);
	return (0);
}

char *
sock_addr_format(const struct sock_addr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sa->ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sa->ss;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&sa->ss;
	size_t plen;
	int n;

	switch (sa->ss.ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(s6->sin6_port));
		break;
	case AF_UNIX:
		/* Unnamed, or abstract (a leading NUL): just "unix". */
		plen = sa->len > offsetof(struct sockaddr_un, sun_path) ?
		    sa->len - offsetof(struct sockaddr_un, sun_path) : 0;
		if (plen > sizeof(sun->sun_path))
			plen = sizeof(sun->sun_path);
		plen = strnlen(sun->sun_path, plen);
		n = snprintf(buf, size, plen > 0 ? UNIX_PREFIX : "unix");
		if (plen > 0 && n > 0 && (size_t)n < size)
			log_escape(buf + n, size - (size_t)n, sun->sun_path,
			    plen);
		break;
	default:
		snprintf(buf, size, "?");
		break;
	}
	return (buf);
}

int
sock_addr_equal(const struct sock_addr *a, const struct sock_addr *b)
{
	const struct sockaddr_un *ua = (const struct sockaddr_un *)&a->ss;
	const struct sockaddr_un *ub = (const struct sockaddr_un *)&b->ss;

	if (a->ss.ss_family != b->ss.ss_family)
		return (0);
	if (a->ss.ss_family == AF_UNIX) {
		const size_t off = offsetof(struct sockaddr_un, sun_path);

		/* A file's path ends at its NUL, whatever len says. */
		if (ua->sun_path[0] != '\0' && ub->sun_path[0] != '\0')
			return (strncmp(ua->sun_path, ub->sun_path,
			    sizeof(ua->sun_path)) == 0);
		/* An abstract name (a NUL, then any bytes) is every byte up
		 * to len; an unnamed socket has none. */
		return (a->len == b->len && (a->len <= off ||
		    memcmp(ua->sun_path, ub->sun_path, a->len - off) == 0));
	}
	return (a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0);
}

const char *
sock_unix_path(const struct sock_addr *sa)
{
	if (sa->ss.ss_family != AF_UNIX)
		return (NULL);
	return (((const struct sockaddr_un *)&sa->ss)->sun_path);
}

/*
 * A socket file left by a daemon that died is "stale": nothing accepts on
 * it.  Remove it so bind can succeed; refuse anything else.  The probe
 * connect must not block: a live listener whose accept queue is full
 * would hold a blocking connect (and so the whole startup, which no
 * signal interrupts yet) forever.  A non-blocking UNIX connect to a full
 * queue fails at once with EAGAIN, which means someone is listening; a
 * connect still in progress after UNIX_PROBE_MS counts as in use too.
 */
static int
unix_clear_stale(const struct sock_addr *sa)
{
	const char *path = sock_unix_path(sa);
	struct pollfd pfd;
	struct stat st;
	socklen_t elen = sizeof(int);
	int fd, r, err;

	if (lstat(path, &st) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return (-1);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	r = connect(fd, (const struct sockaddr *)&sa->ss, sa->len);
	err = (r == 0) ? 0 : errno;
	if (err == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, UNIX_PROBE_MS) != 1)
			err = EAGAIN;	/* no answer in time: in use */
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
		    &elen) == -1)
			err = errno;
	}
	close(fd);
	if (err == 0 || err == EAGAIN) {
		errno = EADDRINUSE;
		return (-1);
	}
	if (err == ENOENT)
		return (0);	/* removed meanwhile: nothing to clear */
	if (err != ECONNREFUSED) {
		errno = err;
		return (-1);
	}
	return (unlink(path) == -1 && errno != ENOENT ? -1 : 0);
}

/* The directory a UNIX socket's file goes in ("." or "/" at the top). */
static void
unix_parent(const struct sock_addr *sa, char *dir, size_t size)
{
	char *slash;

	snprintf(dir, size, "%s", sock_unix_path(sa));
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, size, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

/*
 * The socket file's directory must be one that only we (or root) can
 * change: whoever can rename or replace entries in it could swap our
 * socket for their own.  So a symlink is refused (ELOOP), and so is a
 * directory owned by another user, or a group- or world-writable one
 * without the sticky bit (EPERM); /tmp (root's, 1777) is fine, because
 * the sticky bit keeps others from renaming or removing our file.  A
 * missing directory is fine: unix_mkdir() makes it.  Its ancestors are
 * the operator's to trust.
 */
static int
unix_check_dir(const struct sock_addr *sa)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;

	unix_parent(sa, dir, sizeof(dir));
	if (lstat(dir, &st) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return (-1);
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st.st_mode & S_ISVTX) == 0)) {
		errno = EPERM;
		return (-1);
	}
	return (0);
}

/*
 * Make a UNIX socket's missing parent directory: one level, mode 0755
 * whatever the umask (077 would leave 0700, shutting out the clients the
 * socket's own mode lets in), set through an fd on what mkdir made, not
 * by a path that could be a link by then.  The umask itself is never
 * changed: it is the process's, and other threads may be creating files.
 * If someone else made the directory first, it must pass the same check
 * as one that was there all along.
 */
static int
unix_mkdir(const struct sock_addr *sa)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int dfd, r, saved;

	unix_parent(sa, dir, sizeof(dir));
	if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0) {
		errno = ENOENT;
		return (-1);
	}
	if (mkdir(dir, 0755) == -1)
		return (errno == EEXIST ? unix_check_dir(sa) : -1);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1)
		return (-1);
	r = fchmod(dfd, 0755);
	saved = errno;
	close(dfd);
	errno = saved;
	return (r);
}

/*
 * The name a socket is bound under before it is renamed to sa's path:
 * ".NAME.PID" in the same directory (so rename(2) stays in one
 * filesystem, in a directory only we can change: unix_check_dir()), with
 * NAME shortened if the whole would not fit in sun_path; ENAMETOOLONG if
 * not even ".PID" fits.
 */
static int
unix_temp_name(const struct sock_addr *sa, struct sock_addr *tmp)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&tmp->ss;
	const char *path = sock_unix_path(sa), *base = strrchr(path, '/');
	char pid[24];
	size_t dlen, blen, room;
	int n;

	base = base != NULL ? base + 1 : path;
	dlen = (size_t)(base - path);
	blen = strlen(base);
	n = snprintf(pid, sizeof(pid), ".%ld", (long)getpid());
	room = sizeof(sun->sun_path) - 1 - dlen;	/* for ".NAME.PID" */
	if (room < 1 + (size_t)n) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (blen > room - 1 - (size_t)n)
		blen = room - 1 - (size_t)n;
	*tmp = *sa;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%.*s.%.*s%s",
	    (int)dlen, path, (int)blen, base, pid);
	tmp->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(sun->sun_path) + 1);
	return (0);
}

/*
 * rename(2) that never replaces: if to exists (someone bound there since
 * unix_clear_stale() looked), fail with EADDRINUSE, as bind(2) would.
 * Where the filesystem lacks RENAME_NOREPLACE, link(2), which never
 * replaces either, and unlink(2).
 */
static int
rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return (0);
	if ((errno == EINVAL || errno == ENOSYS) && link(from, to) == 0) {
		(void)unlink(from);
		return (0);
	}
	if (errno == EEXIST)
		errno = EADDRINUSE;
	return (-1);
}

/*
 * Bind fd at sa's path, its socket file with mode and group gid exactly,
 * without a moment at that path with others, and without touching the
 * umask (the process's: other threads may be creating files).  So the
 * socket is bound under a temporary name (unix_temp_name()), which gets
 * the mode (bind applies the umask: fchmod first makes the file never
 * more open than mode) and group there, and is then renamed into place.
 * Only we can change entries in the directory (unix_check_dir()), so
 * chmod by path is safe; lchown never follows a link anyway.  A
 * temporary file left by a process of ours that died here is stale and
 * cleared like a stale socket.  getsockname(2) then reports the
 * temporary name: the kernel keeps the name a socket was bound with.
 */
static int
bind_unix(int fd, const struct sock_addr *sa, mode_t mode, gid_t gid)
{
	const struct sockaddr *addr;
	struct sock_addr tmp;
	const char *path;
	int r, saved;

	if (unix_temp_name(sa, &tmp) == -1 || unix_clear_stale(&tmp) == -1)
		return (-1);
	addr = (const struct sockaddr *)&tmp.ss;
	path = sock_unix_path(&tmp);
	if (fchmod(fd, mode & 0777) == -1)
		return (-1);
	r = bind(fd, addr, tmp.len);
	if (r == -1 && errno == ENOENT && unix_mkdir(sa) == 0)
		r = bind(fd, addr, tmp.len);
	if (r == -1)
		return (-1);
	if (chmod(path, mode & 0777) == -1 || (gid != (gid_t)-1 &&
	    lchown(path, (uid_t)-1, gid) == -1) ||
	    rename_new(path, sock_unix_path(sa)) == -1) {
		saved = errno;
		unlink(path);
		errno = saved;
		return (-1);
	}
	return (0);
}

/* sock_listen(), and sock_listen_join() if join. */
static int
listen_on(const struct sock_addr *sa, int backlog, mode_t mode, gid_t gid,
    int join)
{
	int fd, on = 1, family = sa->ss.ss_family, saved;

	if (family == AF_UNIX &&
	    (unix_check_dir(sa) == -1 || unix_clear_stale(sa) == -1))
		goto fail;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (family != AF_UNIX &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail_close;
	if (join &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail_close;
	/* [::]:7 and 0.0.0.0:7 may then be two listeners. */
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail_close;
	if (family == AF_UNIX) {
		if (bind_unix(fd, sa, mode, gid) == -1)
			goto fail_close;
	} else if (bind(fd, (const struct sockaddr *)&sa->ss, sa->len) == -1)
		goto fail_close;
	if (listen(fd, backlog) == -1)
		goto fail_unlink;
	return (fd);

fail_unlink:
	saved = errno;
	if (family == AF_UNIX)
		unlink(sock_unix_path(sa));
	errno = saved;
fail_close:
	saved = errno;
	close(fd);
	errno = saved;
fail:
	return (-1);
}

int
sock_listen(const struct sock_addr *sa, int backlog, mode_t mode, gid_t gid)
{
	return (listen_on(sa, backlog, mode, gid, 0));
}

int
sock_listen_share(int fd)
{
	int on = 1;

	/*
	 * After bind, not before: the first socket's bind still fails if
	 * anyone else holds the port, even another process of ours with
	 * SO_REUSEPORT; from now on, only sockets of our user may join.
	 */
	return (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)));
}

int
sock_listen_join(const struct sock_addr *sa, int backlog)
{
	if (sa->ss.ss_family == AF_UNIX) {
		errno = EAFNOSUPPORT;
		return (-1);
	}
	return (listen_on(sa, backlog, 0, (gid_t)-1, 1));
}

int
sock_udp_pktinfo(int fd, int family)
{
	int on = 1;

	/*
	 * An IPv6 socket asks for IP_PKTINFO as well: one that also takes
	 * IPv4 (a dual-stack socket systemd passed) then reports an IPv4
	 * datagram's ipi_spec_dst, the only way to tell a datagram to a
	 * subnet's broadcast address from one to a host (udp.c).
	 */
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
	    sizeof(on)) == -1)
		return (-1);
	return (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)));
}

int
sock_udp_open(const struct sock_addr *sa, int join)
{
	int fd, on = 1, family = sa->ss.ss_family, saved;

	if (family != AF_INET && family != AF_INET6) {
		errno = EAFNOSUPPORT;
		return (-1);
	}
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if ((join &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1) ||
	    (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    sock_udp_pktinfo(fd, family) == -1 ||
	    bind(fd, (const struct sockaddr *)&sa->ss, sa->len) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

int
sock_tune_stream(int fd, int family)
{
	int on = 1;

	if (family != AF_INET && family != AF_INET6)
		return (0);
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		return (-1);
	/* An urgent byte (telnet's ^C sends one) stays in the stream. */
	return (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &on, sizeof(on)));
}

int
sock_keepalive(int fd, int64_t idle_ms, int64_t interval_ms, int count)
{
	int on = 1, idle = (int)((idle_ms + 999) / 1000);
	int interval = (int)((interval_ms + 999) / 1000);

	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
	    sizeof(idle)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval,
	    sizeof(interval)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count,
	    sizeof(count)) == -1)
		return (-1);
	return (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)));
}

int
sock_reset_on_close(int fd)
{
	struct linger lg = { 1, 0 };
	int saved = errno, r;

	/* Callers call it between a failure and reading its errno. */
	r = setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	errno = saved;
	return (r);
}

int
sock_unsent(int fd)
{
	int n;

	/* TCP: bytes not yet acknowledged; AF_UNIX: not yet read. */
	if (ioctl(fd, SIOCOUTQ, &n) == -1)
		return (-1);
	return (n);
}
