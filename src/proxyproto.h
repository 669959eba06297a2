/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef PROXYPROTO_H
#define PROXYPROTO_H

#include <stddef.h>

#include "sock.h"

/*
 * The PROXY protocol, versions 1 (a text line) and 2 (binary), as
 * HAProxy's doc/proxy-protocol.txt specifies it: the header a proxy puts
 * before the client's bytes to tell the next hop the client's and the
 * server's addresses.  Functions of bytes in memory only: no I/O, no
 * allocation, no state between calls.  Any thread.
 */

/* The longest v1 line, CRLF included ("PROXY UNKNOWN" + 2 IPv6 ...). */
#define PROXYPROTO_V1_MAX	107

/*
 * The longest v2 header taken (16 bytes and the length they announce,
 * which may be up to 65535): a longer one is refused, so a caller's
 * buffer of PROXYPROTO_HEADER_MAX bytes always holds a whole header.
 */
#define PROXYPROTO_HEADER_MAX	4096

enum proxyproto_result {
	PROXYPROTO_NEED_MORE,
	PROXYPROTO_DONE,
	PROXYPROTO_INVALID,
};

struct proxyproto_header {
	int		 version;	/* 1 or 2 */
	int		 local;		/* 1: keep the connection's
					   own addresses (v1 UNKNOWN, v2
					   LOCAL, v2 PROXY with AF_UNSPEC) */
	struct sock_addr src, dst;	/* if !local: both AF_INET, both
					   AF_INET6 or (v2) both AF_UNIX;
					   if local: zero (AF_UNSPEC) */
};

/*
 * proxyproto_parse(buf, len, hdr, used, why):
 * Parse the PROXY header at the start of buf (len bytes, not
 * NUL-terminated; the bytes after the header are the client's and are
 * left alone).  The first byte tells the version: 'P' for v1, CR for v2
 * (its 12-byte signature); any other is invalid at once.  Returns
 *   PROXYPROTO_DONE: *hdr filled in, *used the header's length (<= len);
 *   PROXYPROTO_NEED_MORE: the len bytes are a prefix of some valid header
 *     and none of them is beyond it, so a caller may keep them all and
 *     wait for more (len 0 is NEED_MORE);
 *   PROXYPROTO_INVALID: as soon as the bytes seen cannot begin a valid
 *     header; *why is a short static reason ("bad v2 signature").
 * *why is NULL unless INVALID; *hdr and *used change only on DONE.
 *
 * v1 is taken strictly: "PROXY TCP4 SRC DST SPORT DPORT\r\n" (or TCP6)
 * with single spaces, or "PROXY UNKNOWN" then either CRLF or a space
 * and any bytes but CR and LF up to CRLF; the whole line at most
 * PROXYPROTO_V1_MAX bytes, so a line that cannot end by then is invalid
 * (possibly before byte 107).  IPv4 is a dotted quad of decimal 0-255
 * without leading zeros; IPv6 is what inet_pton(3) takes (1 to 4 hex
 * digits a group, either case, one "::" standing for at least one
 * group, an optional dotted-quad tail as for IPv4), so "::ffff:1.2.3.4"
 * is AF_INET6; TCP4 with IPv6 addresses, or the reverse, is invalid.
 * Ports are 0 to 65535 in decimal, no sign, no leading zero.  A bare LF,
 * or a CR followed by anything but LF, is invalid.
 *
 * v2: the signature, version 2, command LOCAL or PROXY, a family byte
 * of 0x00, 0x11, 0x12, 0x21, 0x22, 0x31 or 0x32 (else invalid, whatever
 * the command), and the header is 16 + length bytes for every command;
 * more than PROXYPROTO_HEADER_MAX is invalid as soon as the 16 bytes
 * are seen.  LOCAL: local, the family and addresses are ignored.
 * PROXY with AF_UNSPEC: local.  PROXY with INET, INET6 or UNIX: the
 * length must hold the address block (12, 36, 216 bytes: invalid once
 * the 16 bytes show it does not), and the addresses are taken; DGRAM
 * (UDP, UNIX datagram) is accepted like STREAM, its addresses taken.
 * The bytes after the block (TLVs) are skipped, not looked at.  A UNIX
 * path is the bytes up to the first NUL of its 108 (len: its sun_path
 * offset + path length + 1 for the NUL, if it fits); an empty one is an
 * unnamed socket (len: the sun_path offset); one whose first byte is
 * NUL is an abstract name, up to its last non-NUL byte.
 */
enum proxyproto_result	proxyproto_parse(const void *, size_t,
	    struct proxyproto_header *, size_t *, const char **);

/*
 * proxyproto_write(buf, size, version, src, dst):
 * Write a version 1 or 2 header for a connection from src to dst into
 * buf (size bytes; PROXYPROTO_V1_MAX or 16 + 216 always suffice).
 * Returns its length, or 0 if it does not fit or version is neither 1
 * nor 2.
 *
 * Families: both AF_INET, or both AF_INET6, are written as they are (an
 * IPv4-mapped IPv6 pair stays IPv6).  If one is AF_INET and the other
 * AF_INET6, the IPv6 one is turned into IPv4 if it is IPv4-mapped
 * (::ffff:a.b.c.d), else the IPv4 one is mapped into IPv6.  Both
 * AF_UNIX are written as UNIX (v2 only).  Anything else (another
 * family, UNIX with INET) has no addresses to write: v1 writes
 * "PROXY UNKNOWN\r\n", v2 the PROXY command with AF_UNSPEC and no
 * address block.  src or dst NULL asks for no addresses on purpose: v1
 * "PROXY UNKNOWN\r\n", v2 the LOCAL command with AF_UNSPEC, length 0.
 * v1 writes TCP4/TCP6 with inet_ntop(3)'s text; v2 uses STREAM.
 */
size_t	proxyproto_write(void *, size_t, int, const struct sock_addr *,
	    const struct sock_addr *);

#endif /* PROXYPROTO_H */
