/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_sock: address parsing and formatting, and listening sockets.
 *
 * umask(2) and bind(2) are defined here, over libc's, to watch what
 * sock.c does with them: whether it ever changes the umask, and what a
 * file made while a socket is being bound (as by another thread) gets.
 */
#include "sock.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static int	umask_calls;		/* umask() calls, by anyone */
static const char *bind_makes;		/* a file bind() makes, or NULL */
static mode_t	bind_made_mode;		/* and the mode it got */

mode_t
umask(mode_t mask)
{
	umask_calls++;
	return ((mode_t)syscall(SYS_umask, mask));
}

/* bind(2), and then, if asked, what another thread might do meanwhile. */
int
bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct stat st;
	int r, saved, f;

	r = (int)syscall(SYS_bind, fd, addr, len);
	saved = errno;
	if (bind_makes != NULL &&
	    (f = open(bind_makes, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
	    0666)) != -1) {
		bind_made_mode = fstat(f, &st) == 0 ? st.st_mode & 0777 : 0;
		close(f);
	}
	errno = saved;
	return (r);
}

/* Parse s and format it back; the text must round-trip. */
static void
good(const char *s, int family)
{
	struct sock_addr sa;
	const char *why = NULL;
	char out[SOCK_ADDR_STRLEN];
	int r = sock_addr_parse(s, strlen(s), &sa, &why);

	CHECK(r == 0 && sa.ss.ss_family == family &&
	    strcmp(sock_addr_format(&sa, out, sizeof(out)), s) == 0,
	    "parse \"%s\" round-trips", s);
}

static void
bad(const char *s, size_t len, const char *expect)
{
	struct sock_addr sa;
	const char *why = NULL;
	int r = sock_addr_parse(s, len, &sa, &why);

	CHECK(r == -1 && errno == EINVAL && why != NULL &&
	    strstr(why, expect) != NULL,
	    "reject \"%.*s\": %s", (int)len, s, why ? why : "(none)");
}

static void
test_parse(void)
{
	struct sock_addr sa;
	const char *why;
	const char *two = "127.0.0.1:7007127.0.0.2:1";

	good("127.0.0.1:7007", AF_INET);
	good("0.0.0.0:1", AF_INET);
	good("[::1]:7007", AF_INET6);
	good("[::]:65535", AF_INET6);
	good("[2001:db8::1]:80", AF_INET6);
	good("unix:/run/aio-echod/echo.sock", AF_UNIX);
	good("unix:relative.sock", AF_UNIX);

	/* Only len bytes are read: no NUL terminator needed. */
	CHECK(sock_addr_parse(two, 14, &sa, &why) == 0 &&
	    ntohs(((struct sockaddr_in *)&sa.ss)->sin_port) == 7007,
	    "parser reads exactly len bytes");

	bad("", 0, "expected");
	bad("localhost", 9, "expected");
	bad("localhost:7007", 14, "numeric");
	bad("127.0.0.1:0", 11, "port");
	bad("127.0.0.1:65536", 15, "port");
	bad("127.0.0.1:", 10, "port");
	bad("127.0.0.1:7a", 12, "port");
	bad("127.0.0.1:+7", 12, "port");
	bad(":7007", 5, "missing host");
	bad("::1:7007", 8, "numeric");
	bad("[::1:7007", 9, "unbalanced");
	bad("[]:7007", 7, "IPv6");
	bad("[nope]:7007", 11, "IPv6");
	bad("[fe80::1%eth0]:7", 16, "IPv6");
	bad("300.1.1.1:7", 11, "numeric");
	bad("unix:", 5, "empty");
	bad("unix:/a\0b", 9, "NUL");
	{
		char longp[130] = "unix:/";

		memset(longp + 6, 'x', 110);
		longp[116] = '\0';
		bad(longp, strlen(longp), "longer");
	}
}

static void
test_names(void)
{
	char host[SOCK_NAME_MAX];
	unsigned port = 0;
	const char *why = NULL;

	CHECK(sock_name_parse("db2.example.net:5432", 20, host, &port,
	    &why) == 0 && strcmp(host, "db2.example.net") == 0 && port == 5432,
	    "NAME:PORT");
	CHECK(sock_name_parse("localhost:1", 11, host, &port, &why) == 0 &&
	    strcmp(host, "localhost") == 0 && port == 1, "localhost:1");
	CHECK(sock_name_parse("bad_name:1", 10, host, &port, &why) == -1 &&
	    strstr(why, "letters"), "underscore refused: %s", why);
	CHECK(sock_name_parse("host:0", 6, host, &port, &why) == -1 &&
	    strstr(why, "port"), "port 0 refused");
	CHECK(sock_name_parse("host", 4, host, &port, &why) == -1,
	    "no port refused");
	CHECK(sock_name_parse(":80", 3, host, &port, &why) == -1,
	    "empty host refused");
	CHECK(sock_name_parse("010.0.0.1:80", 12, host, &port, &why) == -1 &&
	    strstr(why, "dotted-quad"), "octal-looking host refused: %s", why);
	CHECK(sock_name_parse("0x7f.0.0.1:80", 13, host, &port, &why) == -1,
	    "hex-looking host refused");
	CHECK(sock_name_parse("1.2.3:80", 8, host, &port, &why) == -1,
	    "three-part number refused");
	CHECK(sock_name_parse("a.0X1:80", 8, host, &port, &why) == -1,
	    "a last label starting with 0X refused");
	CHECK(sock_name_parse("1.2.3.example:80", 16, host, &port, &why) == 0,
	    "digits in earlier labels are fine");
}

/* A UNIX address shows as "unix:" and the escaped path: one safe field. */
static void
test_format_unix(void)
{
	struct sock_addr sa;
	struct sockaddr_un *sun = (struct sockaddr_un *)&sa.ss;
	char out[SOCK_ADDR_STRLEN], small[16];
	static const char weird[] = "/tmp/a b\n2026 forged\\\x01\xff";

	memset(&sa, 0, sizeof(sa));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, weird, sizeof(weird));
	sa.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    sizeof(weird));
	CHECK(strcmp(sock_addr_format(&sa, out, sizeof(out)),
	    "unix:/tmp/a\\x20b\\x0a2026\\x20forged\\x5c\\x01\\xff") == 0,
	    "a peer path is escaped: %s", out);

	sa.len = offsetof(struct sockaddr_un, sun_path);
	CHECK(strcmp(sock_addr_format(&sa, out, sizeof(out)), "unix") == 0,
	    "an unnamed peer is \"unix\"");
	sa.len = sizeof(struct sockaddr_un);
	sun->sun_path[0] = '\0';
	CHECK(strcmp(sock_addr_format(&sa, out, sizeof(out)), "unix") == 0,
	    "an abstract peer is \"unix\"");

	/* Without a NUL in sun_path (108 bytes), the path stops there. */
	memset(sun->sun_path, ' ', sizeof(sun->sun_path));
	CHECK(strlen(sock_addr_format(&sa, out, sizeof(out))) ==
	    5 + 4 * sizeof(sun->sun_path),
	    "a full 108-byte path of spaces fits SOCK_ADDR_STRLEN escaped");
	sock_addr_format(&sa, small, sizeof(small));
	CHECK(strcmp(small, "unix:\\x20\\x20") == 0,
	    "truncation keeps escapes whole: %s", small);
}

static void
test_equal(void)
{
	struct sock_addr a, b, c;
	const char *why;

	sock_addr_parse("127.0.0.1:7", 11, &a, &why);
	sock_addr_parse("127.0.0.1:7", 11, &b, &why);
	sock_addr_parse("127.0.0.1:8", 11, &c, &why);
	CHECK(sock_addr_equal(&a, &b) && !sock_addr_equal(&a, &c),
	    "equal compares host and port");
	sock_addr_parse("unix:/x", 7, &a, &why);
	sock_addr_parse("unix:/x", 7, &b, &why);
	CHECK(sock_addr_equal(&a, &b) && strcmp(sock_unix_path(&a), "/x") == 0,
	    "equal compares UNIX paths");
	/* Abstract names: a NUL, then bytes that strcmp() would not see. */
	{
		struct sockaddr_un *ua = (struct sockaddr_un *)&a.ss;
		struct sockaddr_un *ub = (struct sockaddr_un *)&b.ss;
		const size_t off = offsetof(struct sockaddr_un, sun_path);

		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		ua->sun_family = ub->sun_family = AF_UNIX;
		memcpy(ua->sun_path, "\0one", 4);
		memcpy(ub->sun_path, "\0two", 4);
		a.len = b.len = (socklen_t)(off + 4);
		CHECK(!sock_addr_equal(&a, &b),
		    "two abstract names differ by their bytes");
		memcpy(ub->sun_path, "\0one", 4);
		CHECK(sock_addr_equal(&a, &b), "the same abstract name is equal");
		b.len++;
		CHECK(!sock_addr_equal(&a, &b),
		    "an abstract name and a longer one with a NUL differ");
		a.len = b.len = (socklen_t)off;
		CHECK(sock_addr_equal(&a, &b), "two unnamed sockets are equal");
	}
}

static void
test_listen_unix(void)
{
	char dir[] = "/tmp/test_sock.XXXXXX", text[200], *path;
	struct sock_addr sa;
	const char *why;
	int fd1, fd2, fd3, f;

	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(text, sizeof(text), "unix:%s/s.sock", dir);
	path = text + 5;
	sock_addr_parse(text, strlen(text), &sa, &why);

	fd1 = sock_listen(&sa, 16, 0666, (gid_t)-1);
	CHECK(fd1 >= 0 && (fcntl(fd1, F_GETFL) & O_NONBLOCK),
	    "listen on a UNIX socket, non-blocking");
	fd2 = sock_listen(&sa, 16, 0666, (gid_t)-1);
	CHECK(fd2 == -1 && errno == EADDRINUSE,
	    "a live socket file is not stolen");
	close(fd1);	/* the file stays behind: stale now */
	fd3 = sock_listen(&sa, 16, 0666, (gid_t)-1);
	CHECK(fd3 >= 0, "a stale socket file is replaced");
	close(fd3);
	unlink(path);

	f = open(path, O_CREAT | O_WRONLY, 0600);
	close(f);
	CHECK(sock_listen(&sa, 16, 0666, (gid_t)-1) == -1 && errno == EEXIST,
	    "a regular file at the path is left alone");
	unlink(path);
	rmdir(dir);
}

static int
listen_in(const char *dir, mode_t mode, gid_t gid)
{
	struct sock_addr sa;
	char text[200];
	const char *why;

	snprintf(text, sizeof(text), "unix:%s/s.sock", dir);
	sock_addr_parse(text, strlen(text), &sa, &why);
	return (sock_listen(&sa, 16, mode, gid));
}

/* The socket file's mode and group, and the rules for its directory. */
static void
test_listen_unix_dir(void)
{
	char top[] = "/tmp/test_sock.XXXXXX", dir[200], path[220];
	struct stat st;
	mode_t old;
	int fd;

	if (mkdtemp(top) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	/* A directory the daemon makes is 0755, whatever the umask. */
	snprintf(dir, sizeof(dir), "%s/made", top);
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	old = umask(077);
	fd = listen_in(dir, 0660, getgid());
	umask(old);
	CHECK(fd >= 0 && stat(dir, &st) == 0 && (st.st_mode & 07777) == 0755,
	    "a created parent directory is 0755 under umask 077 (%o)",
	    (unsigned)(st.st_mode & 07777));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0660 &&
	    st.st_gid == getgid(), "the socket file gets mode 0660 and the "
	    "group (%o, %u)", (unsigned)(st.st_mode & 0777),
	    (unsigned)st.st_gid);
	close(fd);
	unlink(path);

	chmod(dir, 0777);
	fd = listen_in(dir, 0666, (gid_t)-1);
	CHECK(fd == -1 && errno == EPERM, "a 0777 parent is refused (EPERM)");
	chmod(dir, 0775);
	fd = listen_in(dir, 0666, (gid_t)-1);
	CHECK(fd == -1 && errno == EPERM,
	    "a group-writable parent is refused (EPERM)");
	chmod(dir, 01777);
	fd = listen_in(dir, 0666, (gid_t)-1);
	CHECK(fd >= 0, "a 1777 parent (sticky, like /tmp) is accepted");
	close(fd);
	unlink(path);
	chmod(dir, 0755);

	/*
	 * A parent owned by another user: its owner could swap our socket
	 * for a link between bind and anything done by path.
	 */
	if (geteuid() == 0 && chown(dir, 65534, 65534) == 0) {
		fd = listen_in(dir, 0666, (gid_t)-1);
		CHECK(fd == -1 && errno == EPERM,
		    "a parent owned by another user is refused (EPERM)");
		(void)!chown(dir, 0, 0);
	}
	/* The mode is exact, whatever the umask: set before bind. */
	old = umask(022);
	fd = listen_in(dir, 0666, (gid_t)-1);
	umask(old);
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	CHECK(fd >= 0 && stat(path, &st) == 0 && (st.st_mode & 0777) == 0666,
	    "the socket file is 0666 under umask 022 (%o)",
	    (unsigned)(st.st_mode & 0777));
	close(fd);
	unlink(path);

	snprintf(path, sizeof(path), "%s/link", top);
	(void)!symlink(dir, path);
	fd = listen_in(path, 0666, (gid_t)-1);
	CHECK(fd == -1 && errno == ELOOP,
	    "a symlinked parent is refused (ELOOP)");
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	CHECK(access(path, F_OK) == -1, "and nothing was bound through it");
	snprintf(path, sizeof(path), "%s/link", top);
	unlink(path);
	rmdir(dir);
	rmdir(top);
}

/* How many entries dir has, "." and ".." excluded. */
static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	if (d != NULL)
		closedir(d);
	return (n);
}

/*
 * The umask is the process's, and other threads may be creating files:
 * sock_listen() never changes it, not even for the bind, yet the socket
 * file gets its mode exactly and a parent it makes gets 0755.
 */
static void
test_listen_umask(void)
{
	char top[] = "/tmp/test_sock.XXXXXX", dir[200], path[220];
	char other[220];
	struct stat st;
	mode_t old;
	int fd;

	if (mkdtemp(top) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/made", top);
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(other, sizeof(other), "%s/other", top);
	old = umask(077);
	umask_calls = 0;
	bind_makes = other;
	bind_made_mode = 0;
	fd = listen_in(dir, 0660, (gid_t)-1);
	bind_makes = NULL;
	CHECK(fd >= 0 && umask_calls == 0,
	    "sock_listen on a UNIX path never calls umask (%d calls)",
	    umask_calls);
	CHECK(bind_made_mode == 0600, "a file made during its bind (as by "
	    "another thread) gets umask 077: %o", (unsigned)bind_made_mode);
	CHECK(umask(old) == 077, "the umask is still 077 after");
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    (st.st_mode & 0777) == 0660, "the socket file is 0660 under "
	    "umask 077 (%o)", (unsigned)(st.st_mode & 0777));
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0755,
	    "its parent, made, is 0755 under umask 077 (%o)",
	    (unsigned)(st.st_mode & 07777));
	CHECK(entries(dir) == 1, "no temporary name is left beside it");
	close(fd);
	unlink(path);
	unlink(other);

	/* Someone binds at the path while we bind under the other name. */
	bind_makes = path;
	fd = listen_in(dir, 0660, (gid_t)-1);
	bind_makes = NULL;
	CHECK(fd == -1 && errno == EADDRINUSE && stat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && entries(dir) == 1,
	    "a file that appears at the path meanwhile is not replaced "
	    "(EADDRINUSE), and the temporary name is removed");
	unlink(path);
	rmdir(dir);
	rmdir(top);
}

/*
 * The temporary name: a stale one (a process that died between bind and
 * rename) is cleared; a long name is shortened to fit sun_path.
 */
static void
test_listen_temp_name(void)
{
	char dir[] = "/tmp/test_sock.XXXXXX", text[120], tmp[100];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sock_addr sa;
	const char *why;
	size_t n;
	int fd, s;

	if (mkdtemp(dir) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s/.s.sock.%ld", dir, (long)getpid());
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", tmp);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	(void)!bind(s, (struct sockaddr *)&sun, sizeof(sun));
	close(s);
	fd = listen_in(dir, 0666, (gid_t)-1);
	CHECK(fd >= 0 && access(tmp, F_OK) == -1 && entries(dir) == 1,
	    "a stale temporary socket file is cleared");
	close(fd);
	snprintf(tmp, sizeof(tmp), "%s/s.sock", dir);
	unlink(tmp);

	/* The longest path there is: 107 bytes. */
	n = (size_t)snprintf(text, sizeof(text), "unix:%s/", dir);
	memset(text + n, 'a', 5 + 107 - n);
	text[5 + 107] = '\0';
	CHECK(sock_addr_parse(text, strlen(text), &sa, &why) == 0,
	    "parse a 107-byte path");
	fd = sock_listen(&sa, 16, 0666, (gid_t)-1);
	CHECK(fd >= 0 && access(text + 5, F_OK) == 0 && entries(dir) == 1,
	    "listen at a 107-byte path (the temporary name is shortened)");
	close(fd);
	unlink(text + 5);
	rmdir(dir);
}

/*
 * sock_reset_on_close() comes between a failed call and the reading of
 * its errno: it must leave errno alone, failing or not.
 */
static void
test_reset_on_close(void)
{
	int p[2], fd = socket(AF_INET, SOCK_STREAM, 0), r;

	(void)!pipe(p);
	errno = ETIMEDOUT;
	r = sock_reset_on_close(p[0]);
	CHECK(r == -1 && errno == ETIMEDOUT,
	    "on a pipe it fails and leaves errno ETIMEDOUT (%d: %s)", r,
	    strerror(errno));
	errno = ECONNRESET;
	r = sock_reset_on_close(fd);
	CHECK(r == 0 && errno == ECONNRESET,
	    "on a socket it works and leaves errno ECONNRESET");
	close(p[0]);
	close(p[1]);
	close(fd);
}

static void
test_listen_tcp(void)
{
	struct sock_addr sa;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&sa.ss;
	socklen_t len = sizeof(sa.ss);
	const char *why;
	int fd, fd2;

	sock_addr_parse("127.0.0.1:1", 11, &sa, &why);
	s4->sin_port = 0;	/* let the kernel pick a free port */
	fd = sock_listen(&sa, 16, 0666, (gid_t)-1);
	CHECK(fd >= 0, "listen on 127.0.0.1");
	getsockname(fd, (struct sockaddr *)&sa.ss, &len);
	fd2 = sock_listen(&sa, 16, 0666, (gid_t)-1);
	CHECK(fd2 == -1 && errno == EADDRINUSE, "port in use is EADDRINUSE");
	close(fd);
}

/*
 * A port shared for loop threads: joining needs sock_listen_share()
 * first, and a socket of anyone else (even with SO_REUSEPORT) still
 * finds the port in use.
 */
static void
test_listen_share(void)
{
	struct sock_addr sa;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&sa.ss;
	socklen_t len = sizeof(sa.ss);
	const char *why;
	int fd, fd2, fd3, on = 1, other;

	sock_addr_parse("127.0.0.1:1", 11, &sa, &why);
	s4->sin_port = 0;
	fd = sock_listen(&sa, 16, 0666, (gid_t)-1);
	getsockname(fd, (struct sockaddr *)&sa.ss, &len);
	fd2 = sock_listen_join(&sa, 16);
	CHECK(fd2 == -1 && errno == EADDRINUSE,
	    "joining a socket that was not shared is EADDRINUSE");
	CHECK(sock_listen_share(fd) == 0, "share a listening socket");
	fd2 = sock_listen_join(&sa, 16);
	fd3 = sock_listen_join(&sa, 16);
	CHECK(fd2 >= 0 && fd3 >= 0, "two more sockets join it");
	CHECK(sock_listen(&sa, 16, 0666, (gid_t)-1) == -1 &&
	    errno == EADDRINUSE, "a plain socket still finds the port in use");
	close(fd);
	close(fd2);
	close(fd3);

	/* Bound first, shared after: another SO_REUSEPORT socket that
	 * was there before makes the first bind fail. */
	s4->sin_port = 0;
	other = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(other, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	bind(other, (struct sockaddr *)&sa.ss, sa.len);
	listen(other, 1);
	len = sizeof(sa.ss);
	getsockname(other, (struct sockaddr *)&sa.ss, &len);
	CHECK(sock_listen(&sa, 16, 0666, (gid_t)-1) == -1 &&
	    errno == EADDRINUSE,
	    "a port held with SO_REUSEPORT by someone else is EADDRINUSE");
	close(other);

	sock_addr_parse("unix:/tmp/aio-test-share.sock", 29, &sa, &why);
	CHECK(sock_listen_join(&sa, 16) == -1 && errno == EAFNOSUPPORT,
	    "UNIX sockets cannot be joined");
}

/* "udp:" addresses: the flag, the address, and what is refused. */
static void
test_listen_parse(void)
{
	struct sock_addr sa, plain;
	const char *why = NULL;
	char out[SOCK_ADDR_STRLEN];
	int dg = -1;

	CHECK(sock_listen_parse("udp:127.0.0.1:7007", 18, &sa, &dg,
	    &why) == 0 && dg == 1 && sa.ss.ss_family == AF_INET &&
	    strcmp(sock_addr_format(&sa, out, sizeof(out)),
	    "127.0.0.1:7007") == 0, "udp:127.0.0.1:7007 is UDP on that address");
	CHECK(sock_listen_parse("udp:[::1]:7", 11, &sa, &dg, &why) == 0 &&
	    dg == 1 && sa.ss.ss_family == AF_INET6 &&
	    strcmp(sock_addr_format(&sa, out, sizeof(out)), "[::1]:7") == 0,
	    "udp:[::1]:7 is UDP on IPv6");
	CHECK(sock_listen_parse("127.0.0.1:7007", 14, &sa, &dg, &why) == 0 &&
	    dg == 0 && sock_addr_parse("127.0.0.1:7007", 14, &plain,
	    &why) == 0 && sock_addr_equal(&sa, &plain),
	    "without udp: it is TCP, parsed as sock_addr_parse() does");
	CHECK(sock_listen_parse("unix:/tmp/x", 11, &sa, &dg, &why) == 0 &&
	    dg == 0 && sa.ss.ss_family == AF_UNIX, "unix: is a stream");
	why = NULL;
	CHECK(sock_listen_parse("udp:unix:/tmp/x", 15, &sa, &dg,
	    &why) == -1 && errno == EINVAL && why != NULL &&
	    strstr(why, "not a UNIX path") != NULL,
	    "udp:unix:PATH is refused: %s", why ? why : "");
	CHECK(sock_listen_parse("udp:", 4, &sa, &dg, &why) == -1 &&
	    sock_listen_parse("udp:127.0.0.1", 13, &sa, &dg, &why) == -1 &&
	    sock_listen_parse("udp:127.0.0.1:0", 15, &sa, &dg, &why) == -1 &&
	    sock_listen_parse("UDP:127.0.0.1:7", 15, &sa, &dg, &why) == -1,
	    "a bad udp: address is refused (no port, port 0, upper case)");
}

/* A UDP socket: bound, shared, joined, and never two without sharing. */
static void
test_udp_open(void)
{
	struct sock_addr sa;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&sa.ss;
	socklen_t len = sizeof(sa.ss);
	const char *why;
	int fd, fd2 = -1, type = 0, on = 0;

	sock_addr_parse("127.0.0.1:1", 11, &sa, &why);
	s4->sin_port = 0;
	fd = sock_udp_open(&sa, 0);
	CHECK(fd >= 0, "open a UDP socket");
	getsockname(fd, (struct sockaddr *)&sa.ss, &len);
	len = sizeof(type);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(on);
	getsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, &len);
	CHECK(type == SOCK_DGRAM && on == 1 &&
	    (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0,
	    "a non-blocking datagram socket with IP_PKTINFO");
	CHECK(sock_udp_open(&sa, 0) == -1 && errno == EADDRINUSE,
	    "a second one on the port is EADDRINUSE");
	CHECK(sock_udp_open(&sa, 1) == -1 && errno == EADDRINUSE,
	    "joining one that was not shared is EADDRINUSE");
	CHECK(sock_listen_share(fd) == 0 && (fd2 = sock_udp_open(&sa,
	    1)) >= 0, "once shared, another joins it");
	close(fd2);
	close(fd);
	sock_addr_parse("unix:/tmp/aio-udp.sock", 22, &sa, &why);
	CHECK(sock_udp_open(&sa, 0) == -1 && errno == EAFNOSUPPORT,
	    "no UDP on a UNIX path");
}

int
main(void)
{
	test_parse();
	test_names();
	test_format_unix();
	test_equal();
	test_listen_unix();
	test_listen_unix_dir();
	test_listen_umask();
	test_listen_temp_name();
	test_reset_on_close();
	test_listen_tcp();
	test_listen_share();
	test_listen_parse();
	test_udp_open();
	return (check_done());
}
