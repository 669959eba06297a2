/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * prom.c: writing the Prometheus text exposition format 0.0.4 (see
 * prom.h).
 *
 * Owns the output buffer's growth and every byte of escaping: HELP text
 * (\\ and \n), label values (\\, \" and \n), the spelling of numbers.
 * Knows nothing of the daemon: the metrics service decides which
 * families exist and sends the buffer.
 *
 * A scrape of 100 listeners is thousands of lines and up to about a
 * MiB, so the buffer grows by doubling from PROM_BUF_START (amortised
 * O(1) per append), each line reserves its worst case once and is then
 * copied in, and integers are written by hand rather than by snprintf.
 * Doubles take the shortest of %.15g, %.16g and %.17g that strtod reads
 * back exactly; integral ones below 1e15 take the integer path, which
 * spells them as %.15g would.  The C locale is assumed (the daemon
 * never calls setlocale), so the decimal point is '.'.
 *
 * Label text stays NUL-terminated inside PROM_LABELS_MAX, so it holds at
 * most PROM_LABELS_MAX - 1 bytes.  A value that does not fit is cut
 * before the first escape sequence or UTF-8 character that would not fit
 * whole, and its quote closed; a pair whose key does not fit is left
 * out.  Either way ls->truncated is set and the text stays valid.
 */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_BUF_START	(16 * 1024)	/* first allocation, bytes */
#define PROM_NUM_MAX	32		/* a formatted number, with NUL */

void
prom_buf_init(struct prom_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

void
prom_buf_free(struct prom_buf *b)
{
	free(b->data);
	prom_buf_init(b);
}

/*
 * Make room for n more bytes and return where they go, or NULL when
 * the buffer has failed (now or before).  b->len is left to the caller.
 */
static char *
reserve(struct prom_buf *b, size_t n)
{
	size_t cap;
	char *d;

	if (b->failed)
		return (NULL);
	if (b->cap - b->len >= n)
		return (b->data + b->len);
	if (n > SIZE_MAX - b->len)
		goto fail;
	cap = b->cap > 0 ? b->cap : PROM_BUF_START;
	while (cap < b->len + n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	if ((d = realloc(b->data, cap)) == NULL)
		goto fail;
	b->data = d;
	b->cap = cap;
	return (b->data + b->len);

fail:
	/* The data written so far stays, for prom_buf_free(). */
	b->failed = 1;
	return (NULL);
}

/* Write v in decimal at out (20 bytes at most); return the length. */
static size_t
fmt_u64(char *out, uint64_t v)
{
	char tmp[20], *p = tmp + sizeof(tmp);
	size_t n;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(out, p, n);
	return (n);
}

/*
 * Write v at out (PROM_NUM_MAX bytes) as the shortest of %.15g, %.16g
 * and %.17g that reads back as v; return the length.  So 1e6 is
 * "1000000" (%g switches to an exponent only from 1e15 up), 1e-6 is
 * "1e-06" and 0.1 + 0.2 is "0.30000000000000004".
 */
static size_t
fmt_double(char *out, double v)
{
	int len, prec;

	if (isnan(v)) {
		memcpy(out, "NaN", 3);
		return (3);
	}
	if (isinf(v)) {
		memcpy(out, v > 0 ? "+Inf" : "-Inf", 4);
		return (4);
	}
	/* Integral and below 1e15: %.15g would print the integer too. */
	if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v &&
	    !(v == 0 && signbit(v))) {
		if (v >= 0)
			return (fmt_u64(out, (uint64_t)v));
		out[0] = '-';
		return (1 + fmt_u64(out + 1, (uint64_t)-(int64_t)v));
	}
	for (prec = 15; prec < 17; prec++) {
		len = snprintf(out, PROM_NUM_MAX, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return ((size_t)len);
	}
	/* 17 significant digits always read back exactly. */
	len = snprintf(out, PROM_NUM_MAX, "%.17g", v);
	return ((size_t)len);
}

/*
 * Append one sample line: name suffix{ls,le="le"} val\n.  suffix and le
 * may be NULL; braces appear when there is any label at all.
 */
static void
put_sample(struct prom_buf *b, const char *name, const char *suffix,
    const struct prom_labels *ls, const char *le, size_t lelen,
    const char *val, size_t vlen)
{
	size_t nlen, slen, llen, need;
	char *p;

	if (b->failed)
		return;
	nlen = strlen(name);
	slen = suffix != NULL ? strlen(suffix) : 0;
	llen = ls != NULL ? ls->len : 0;
	need = nlen + slen + 1 + vlen + 1;
	if (llen > 0 || le != NULL)
		need += 1 + llen + 1;
	if (le != NULL)
		need += (llen > 0) + sizeof("le=\"\"") - 1 + lelen;
	if ((p = reserve(b, need)) == NULL)
		return;

	memcpy(p, name, nlen);
	p += nlen;
	if (suffix != NULL)
		memcpy(p, suffix, slen);
	p += slen;
	if (llen > 0 || le != NULL) {
		*p++ = '{';
		memcpy(p, ls != NULL ? ls->text : "", llen);
		p += llen;
		if (le != NULL) {
			if (llen > 0)
				*p++ = ',';
			memcpy(p, "le=\"", 4);
			p += 4;
			memcpy(p, le, lelen);
			p += lelen;
			*p++ = '"';
		}
		*p++ = '}';
	}
	*p++ = ' ';
	memcpy(p, val, vlen);
	p += vlen;
	*p = '\n';
	b->len += need;
}

void
prom_family(struct prom_buf *b, const char *name, const char *type,
    const char *help)
{
	size_t nlen, tlen, hlen;
	const char *h;
	char *p;

	if (b->failed)
		return;
	nlen = strlen(name);
	tlen = strlen(type);
	hlen = strlen(help);
	/* "# HELP name help\n# TYPE name type\n"; a help byte may take 2. */
	if ((p = reserve(b, 18 + 2 * nlen + 2 * hlen + tlen)) == NULL)
		return;

	memcpy(p, "# HELP ", 7);
	p += 7;
	memcpy(p, name, nlen);
	p += nlen;
	*p++ = ' ';
	for (h = help; *h != '\0'; h++) {
		if (*h == '\\') {
			*p++ = '\\';
			*p++ = '\\';
		} else if (*h == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else
			*p++ = *h;
	}
	memcpy(p, "\n# TYPE ", 8);
	p += 8;
	memcpy(p, name, nlen);
	p += nlen;
	*p++ = ' ';
	memcpy(p, type, tlen);
	p += tlen;
	*p++ = '\n';
	b->len = (size_t)(p - b->data);
}

void
prom_labels_init(struct prom_labels *ls)
{
	ls->text[0] = '\0';
	ls->len = 0;
	ls->truncated = 0;
}

/*
 * The length of the UTF-8 character at s: its lead byte's count, cut
 * short at the first byte that does not continue it (so never past the
 * NUL).  A stray or invalid byte counts as one.
 */
static size_t
utf8_len(const unsigned char *s)
{
	size_t i, want;

	if (s[0] < 0xc0)
		return (1);
	else if (s[0] < 0xe0)
		want = 2;
	else if (s[0] < 0xf0)
		want = 3;
	else if (s[0] < 0xf8)
		want = 4;
	else
		return (1);
	for (i = 1; i < want; i++)
		if ((s[i] & 0xc0) != 0x80)
			break;
	return (i);
}

/* The letter after the backslash that escapes c in a label value, or 0. */
static char
label_escape(unsigned char c)
{
	switch (c) {
	case '\\':
		return ('\\');
	case '"':
		return ('"');
	case '\n':
		return ('n');
	default:
		return (0);
	}
}

struct prom_labels *
prom_label(struct prom_labels *ls, const char *key, const char *value)
{
	const unsigned char *v;
	size_t klen, room, need, n;
	char *p, esc;

	/* room: bytes left before the NUL at text[PROM_LABELS_MAX - 1]. */
	klen = strlen(key);
	room = PROM_LABELS_MAX - 1 - ls->len;
	need = (ls->len > 0) + klen + sizeof("=\"\"") - 1;
	if (need > room) {
		ls->truncated = 1;
		return (ls);
	}
	room -= need;
	p = ls->text + ls->len;
	if (ls->len > 0)
		*p++ = ',';
	memcpy(p, key, klen);
	p += klen;
	*p++ = '=';
	*p++ = '"';

	/* Copy whole escape sequences and whole characters only. */
	for (v = (const unsigned char *)value; *v != '\0'; v += n) {
		if ((esc = label_escape(*v)) != 0) {
			if (room < 2)
				break;
			*p++ = '\\';
			*p++ = esc;
			room -= 2;
			n = 1;
			continue;
		}
		if ((n = utf8_len(v)) > room)
			break;
		memcpy(p, v, n);
		p += n;
		room -= n;
	}
	if (*v != '\0')
		ls->truncated = 1;
	*p++ = '"';
	*p = '\0';
	ls->len = (size_t)(p - ls->text);
	return (ls);
}

void
prom_u64(struct prom_buf *b, const char *name, const struct prom_labels *ls,
    uint64_t value)
{
	char val[PROM_NUM_MAX];

	put_sample(b, name, NULL, ls, NULL, 0, val, fmt_u64(val, value));
}

void
prom_double(struct prom_buf *b, const char *name,
    const struct prom_labels *ls, double value)
{
	char val[PROM_NUM_MAX];

	put_sample(b, name, NULL, ls, NULL, 0, val, fmt_double(val, value));
}

void
prom_histogram(struct prom_buf *b, const char *name,
    const struct prom_labels *ls, const double *bounds,
    const uint64_t *counts, size_t n, double sum)
{
	char le[PROM_NUM_MAX], val[PROM_NUM_MAX];
	uint64_t total = 0;
	size_t i, lelen;

	for (i = 0; i <= n && !b->failed; i++) {
		total += counts[i];
		if (i < n)
			lelen = fmt_double(le, bounds[i]);
		else {
			memcpy(le, "+Inf", 4);
			lelen = 4;
		}
		put_sample(b, name, "_bucket", ls, le, lelen, val,
		    fmt_u64(val, total));
	}
	put_sample(b, name, "_sum", ls, NULL, 0, val, fmt_double(val, sum));
	put_sample(b, name, "_count", ls, NULL, 0, val, fmt_u64(val, total));
}
