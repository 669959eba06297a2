/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ADDRSET_H
#define ADDRSET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Compiled address sets: the allow, deny and proxy_protocol_from lists.
 *
 * Every address is a 128-bit key.  An IPv6 address is its own key; an
 * IPv4 address a.b.c.d is stored as the IPv4-mapped ::ffff:a.b.c.d, so a
 * client on a dual-stack socket, which the kernel reports as a mapped
 * IPv6 address, matches the IPv4 rules.  Hence the IPv4 prefix
 * 10.0.0.0/8 is the key range ::ffff:10.0.0.0/104, "0.0.0.0/0" matches
 * every IPv4 (and mapped) address and nothing else, and "::/0" matches
 * every IPv4 and IPv6 address.  Only the mapped form ::ffff:0:0/96
 * stands for IPv4; the deprecated IPv4-compatible ::a.b.c.d and NAT64
 * 64:ff9b::/96 are plain IPv6 addresses.
 *
 * A set is built once from its prefixes (sorted, overlapping and adjacent
 * ones merged into disjoint ranges) and never changes: a lookup is a
 * binary search, O(log n), and needs no lock.  Any thread.
 */

struct sock_addr;
struct addrset;

/* One parsed prefix. */
struct addr_prefix {
	uint8_t	net[16];	/* the network; IPv4 as ::ffff:a.b.c.d */
	int	bits;		/* over all 128 bits: IPv4 /8 is 104 */
	int	family;		/* AF_INET or AF_INET6, as written */
};

/* Longest text addrset_prefix_format() writes, NUL included. */
#define ADDRSET_PREFIX_STRLEN	(46 + 4 + 1)

/*
 * addrset_prefix_parse(text, out, why):
 * Parse the NUL-terminated text, one prefix, into out: "10.0.0.0/8",
 * "::1/128", "2001:db8::/32", "::ffff:10.0.0.0/104", or a bare address
 * ("127.0.0.1" is /32, "::1" is /128).  Strict, as a typo in an access
 * list must not pass for a rule: no space around or inside the text, the
 * address in the form inet_pton(3) takes (four dotted decimals for IPv4,
 * so "10.0.0/8" is refused; no zone "%eth0"), the length in decimal with
 * no sign and no leading zero ("/08" is refused: some tools read it as
 * octal), and no host bits set: "10.0.0.1/8" is refused as a likely typo,
 * but out is then filled with the network it would be (10.0.0.0/8), so
 * the caller can say so with addrset_prefix_format().  Returns 0, or -1
 * with errno EINVAL and *why set to a short static reason.  Allocates
 * nothing.  Any thread.
 */
int	addrset_prefix_parse(const char *, struct addr_prefix *,
	    const char **);

/*
 * addrset_prefix_format(p, buf, size):
 * Write p as addrset_prefix_parse() reads it, in the family it was
 * written in ("10.0.0.0/8", "2001:db8::/32"), into buf, truncating to
 * size.  Returns buf.  Any thread.
 */
char	*addrset_prefix_format(const struct addr_prefix *, char *, size_t);

/*
 * addrset_build(prefixes, n):
 * A set matching any of the n prefixes (n may be 0: the empty set).  The
 * prefixes are copied; host bits, if any, are ignored.  Returns the set,
 * or NULL with errno ENOMEM, or EINVAL if a prefix's bits is outside
 * 0..128.  O(n log n).
 */
struct addrset	*addrset_build(const struct addr_prefix *, size_t);

/*
 * addrset_match(set, sa):
 * 1 if the address of sa (its port aside) is in set, else 0.  AF_UNIX and
 * other families match nothing, and a NULL set is the empty set.  Reads
 * sa->ss by its family; sa->len is not consulted.  O(log n), no lock, no
 * allocation.  Any thread.
 */
int	addrset_match(const struct addrset *, const struct sock_addr *);

/*
 * addrset_ranges(set):
 * How many disjoint ranges set was compiled into (after merging), for
 * tests and the debug log.
 */
size_t	addrset_ranges(const struct addrset *);

/*
 * addrset_equal(a, b):
 * 1 if a and b match the same addresses (NULL is the empty set), else
 * 0.  Any thread.
 */
int	addrset_equal(const struct addrset *, const struct addrset *);

/* addrset_free(set): free set; NULL is a no-op. */
void	addrset_free(struct addrset *);

#endif /* ADDRSET_H */
