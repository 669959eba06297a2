/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_prom: the Prometheus text format byte for byte: families,
 * samples, escaping, label truncation, doubles that read back exactly,
 * histograms, growth to several MiB, and a failed allocation that sticks.
 */
#include "prom.h"

#include <sys/resource.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* A sanitizer's shadow memory does not fit under an RLIMIT_AS. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER	1
#endif
#endif

/* b's text, NUL-terminated (cut at 4 KiB), for comparing and printing. */
static const char *
text(const struct prom_buf *b)
{
	static char s[4096];
	size_t n = b->len < sizeof(s) - 1 ? b->len : sizeof(s) - 1;

	if (n > 0)
		memcpy(s, b->data, n);
	s[n] = '\0';
	return (s);
}

static int
same(const struct prom_buf *b, const char *want)
{
	return (b->len == strlen(want) && memcmp(b->data, want, b->len) == 0);
}

/* Nothing when b holds want, else b's text, to show what differs. */
static const char *
got(const struct prom_buf *b, const char *want)
{
	static char s[4200];

	if (same(b, want))
		return ("");
	snprintf(s, sizeof(s), "; got:\n%s", text(b));
	return (s);
}

/* b holds exactly the text want. */
#define CHECK_TEXT(b, want, msg)					\
	CHECK(same((b), (want)), "%s%s", (msg), got((b), (want)))

/* The value prom_double() writes for v. */
static const char *
dbl(double v)
{
	static char s[64];
	struct prom_buf b;

	prom_buf_init(&b);
	prom_double(&b, "x", NULL, v);
	s[0] = '\0';
	if (!b.failed && b.len > 3 && b.len - 3 < sizeof(s)) {
		memcpy(s, b.data + 2, b.len - 3);
		s[b.len - 3] = '\0';
	}
	prom_buf_free(&b);
	return (s);
}

/* The value prom_u64() writes for v. */
static const char *
u64(uint64_t v)
{
	static char s[64];
	struct prom_buf b;

	prom_buf_init(&b);
	prom_u64(&b, "x", NULL, v);
	s[0] = '\0';
	if (!b.failed && b.len > 3 && b.len - 3 < sizeof(s)) {
		memcpy(s, b.data + 2, b.len - 3);
		s[b.len - 3] = '\0';
	}
	prom_buf_free(&b);
	return (s);
}

/* s[0..n) is well-formed UTF-8 (no overlong or surrogate checks). */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, k, want;

	while (i < n) {
		if (s[i] < 0x80)
			want = 1;
		else if (s[i] >= 0xc2 && s[i] < 0xe0)
			want = 2;
		else if (s[i] >= 0xe0 && s[i] < 0xf0)
			want = 3;
		else if (s[i] >= 0xf0 && s[i] < 0xf5)
			want = 4;
		else
			return (0);
		if (want > n - i)
			return (0);
		for (k = 1; k < want; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return (0);
		i += want;
	}
	return (1);
}

/*
 * ls is what the format allows: key="value" pairs joined by ',', each
 * value with only \\, \" and \n escapes and no raw quote or newline,
 * valid UTF-8, NUL-terminated inside its array.
 */
static int
labels_valid(const struct prom_labels *ls)
{
	const char *p = ls->text, *end = ls->text + ls->len;

	if (ls->len >= PROM_LABELS_MAX || ls->text[ls->len] != '\0' ||
	    strlen(ls->text) != ls->len ||
	    !utf8_valid((const unsigned char *)ls->text, ls->len))
		return (0);
	while (p < end) {
		if (p != ls->text && *p++ != ',')
			return (0);
		if (!(*p == '_' || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z')))
			return (0);
		while (*p == '_' || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
			p++;
		if (*p++ != '=' || *p++ != '"')
			return (0);
		for (; p < end && *p != '"'; p++) {
			if (*p == '\n')
				return (0);
			if (*p == '\\' && (++p == end ||
			    (*p != '\\' && *p != '"' && *p != 'n')))
				return (0);
		}
		if (p == end)
			return (0);
		p++;
	}
	return (1);
}

static void
test_family(void)
{
	struct prom_buf b;
	struct prom_labels ls, none;

	prom_buf_init(&b);
	prom_labels_init(&ls);
	prom_labels_init(&none);
	prom_family(&b, "aio_accepted_total", "counter",
	    "Connections accepted.");
	prom_u64(&b, "aio_accepted_total",
	    prom_label(prom_label(&ls, "listener", "echo"), "proto", "tcp"),
	    42);
	prom_u64(&b, "aio_accepted_total", NULL, 0);
	prom_family(&b, "aio_load", "gauge", "Load.");
	prom_double(&b, "aio_load", &none, 0.25);
	CHECK_TEXT(&b,
	    "# HELP aio_accepted_total Connections accepted.\n"
	    "# TYPE aio_accepted_total counter\n"
	    "aio_accepted_total{listener=\"echo\",proto=\"tcp\"} 42\n"
	    "aio_accepted_total 0\n"
	    "# HELP aio_load Load.\n"
	    "# TYPE aio_load gauge\n"
	    "aio_load 0.25\n", "a family and its samples");
	CHECK(b.cap == 16 * 1024 && !b.failed,
	    "the first allocation is 16 KiB (cap %zu)", b.cap);
	prom_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0,
	    "prom_buf_free() leaves an empty buffer");
	prom_buf_free(&b);
	CHECK(b.data == NULL, "prom_buf_free() twice is harmless");
}

static void
test_escaping(void)
{
	struct prom_buf b;
	struct prom_labels ls;

	prom_buf_init(&b);
	prom_family(&b, "m", "gauge", "a\\b\nc \"q\" d");
	CHECK_TEXT(&b, "# HELP m a\\\\b\\nc \"q\" d\n# TYPE m gauge\n",
	    "HELP escapes backslash and newline, not quotes");
	prom_buf_free(&b);

	prom_labels_init(&ls);
	prom_label(&ls, "v", "a\\b\"c\nd");
	CHECK(strcmp(ls.text, "v=\"a\\\\b\\\"c\\nd\"") == 0 && !ls.truncated &&
	    ls.len == strlen(ls.text), "label value escaped: %s", ls.text);
	prom_labels_init(&ls);
	prom_label(&ls, "v", "h\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x99\x82");
	CHECK(strcmp(ls.text, "v=\"h\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x99\x82\"")
	    == 0 && !ls.truncated, "UTF-8 value untouched: %s", ls.text);
	prom_labels_init(&ls);
	prom_label(&ls, "v", "");
	CHECK(strcmp(ls.text, "v=\"\"") == 0, "empty value: %s", ls.text);

	prom_buf_init(&b);
	prom_labels_init(&ls);
	prom_u64(&b, "m", prom_label(&ls, "k", "x\"y"), 7);
	CHECK_TEXT(&b, "m{k=\"x\\\"y\"} 7\n", "sample with escaped label");
	prom_buf_free(&b);
}

/* value is unit repeated to fill n bytes (whole units), after prefix. */
static void
fill(char *value, size_t n, const char *prefix, const char *unit)
{
	size_t plen = strlen(prefix), ulen = strlen(unit), i;

	memcpy(value, prefix, plen);
	for (i = plen; i + ulen <= n; i += ulen)
		memcpy(value + i, unit, ulen);
	value[i] = '\0';
}

static void
test_truncation(void)
{
	static const char *units[] = { "x", "\"", "\\", "\n",
	    "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x99\x82", "a\"\xc3\xa9" };
	static const char *prefixes[] = { "", "a", "ab", "abc" };
	struct prom_labels ls;
	char value[1001];
	size_t u, i, bad = 0;
	struct prom_buf b;

	prom_labels_init(&ls);
	fill(value, 1000, "", "x");
	prom_label(&ls, "k", value);
	CHECK(ls.truncated && labels_valid(&ls) &&
	    ls.len == PROM_LABELS_MAX - 1 && ls.text[ls.len - 1] == '"',
	    "a 1000-byte value is cut to fit, quote closed (len %zu)", ls.len);

	/* k="<507 bytes>" is exactly PROM_LABELS_MAX - 1 bytes. */
	prom_labels_init(&ls);
	fill(value, 507, "", "x");
	prom_label(&ls, "k", value);
	CHECK(!ls.truncated && ls.len == PROM_LABELS_MAX - 1 &&
	    labels_valid(&ls), "a value that just fits is whole");
	prom_labels_init(&ls);
	fill(value, 508, "", "x");
	prom_label(&ls, "k", value);
	CHECK(ls.truncated && ls.len == PROM_LABELS_MAX - 1 &&
	    labels_valid(&ls), "one byte more is cut");

	/* Every kind of unit, cut at every offset within it. */
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			prom_labels_init(&ls);
			fill(value, 1000, prefixes[i], units[u]);
			prom_label(&ls, "k", value);
			if (!ls.truncated || !labels_valid(&ls) ||
			    ls.len + 4 < PROM_LABELS_MAX - 1)
				bad++;
		}
	CHECK(bad == 0, "cuts of quotes, backslashes, newlines and 2-, 3- and "
	    "4-byte characters never split one (%zu bad)", bad);

	/* The pairs already there count; a key that cannot fit is left out. */
	prom_labels_init(&ls);
	fill(value, 400, "", "y");
	prom_label(&ls, "a", value);
	fill(value, 200, "", "\"");
	prom_label(&ls, "b", value);
	CHECK(ls.truncated && labels_valid(&ls) &&
	    ls.len >= PROM_LABELS_MAX - 2 && strstr(ls.text, "\",b=\"") != NULL,
	    "a second value is cut to what the first left (len %zu)", ls.len);
	i = ls.len;
	prom_label(&ls, "c", "z");
	CHECK(ls.len == i && labels_valid(&ls) && ls.truncated,
	    "a pair that cannot fit at all is left out");

	prom_buf_init(&b);
	prom_u64(&b, "m", &ls, 1);
	CHECK(b.len == 1 + 1 + ls.len + 1 + 3 && memcmp(b.data, "m{a=\"", 5) ==
	    0 && memcmp(b.data + b.len - 5, "\"} 1\n", 5) == 0,
	    "a cut label set makes a whole sample line");
	prom_buf_free(&b);
}

static void
test_numbers(void)
{
	static const struct {
		double		 v;
		const char	*want;
	} cases[] = {
		{ 0.1, "0.1" }, { 1e-06, "1e-06" }, { 1e+21, "1e+21" },
		{ 300, "300" }, { 0, "0" }, { -0.5, "-0.5" }, { 0.25, "0.25" },
		{ 0.005, "0.005" }, { -42, "-42" }, { -0.0, "-0" },
		{ 1e6, "1000000" }, { 1e15, "1e+15" },
		{ 123456789012345.0, "123456789012345" },
		{ 9007199254740992.0, "9007199254740992" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 5e-324, "4.94065645841247e-324" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ INFINITY, "+Inf" }, { -INFINITY, "-Inf" }, { NAN, "NaN" },
	};
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i, bad = 0;
	const char *s;
	double v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = dbl(cases[i].v);
		CHECK(strcmp(s, cases[i].want) == 0, "double %s -> %s",
		    cases[i].want, s);
	}

	/* Random bit patterns read back exactly, in at most 24 bytes. */
	for (i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(&v, &x, sizeof(v));
		if (isnan(v))
			continue;
		s = dbl(v);
		if (strtod(s, NULL) != v || strlen(s) > 24 ||
		    (signbit(v) && v == 0 && strcmp(s, "-0") != 0))
			bad++;
	}
	CHECK(bad == 0, "100000 random doubles read back exactly (%zu bad)",
	    bad);
	/* And integral ones, which take the integer path below 1e15. */
	for (bad = 0, i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (double)(int64_t)(x >> (i % 64)) * (i % 2 ? 1 : -1);
		s = dbl(v);
		if (strtod(s, NULL) != v)
			bad++;
	}
	CHECK(bad == 0, "100000 integral doubles read back exactly (%zu bad)",
	    bad);

	CHECK(strcmp(u64(0), "0") == 0, "u64 0");
	CHECK(strcmp(u64(10), "10") == 0, "u64 10");
	CHECK(strcmp(u64(1234567890123ULL), "1234567890123") == 0,
	    "u64 1234567890123");
	CHECK(strcmp(u64(UINT64_MAX), "18446744073709551615") == 0,
	    "u64 max: %s", u64(UINT64_MAX));
}

static void
test_histogram(void)
{
	static const double bounds[] = { 0.005, 0.1, 1, 10, 300 };
	static const uint64_t counts[] = { 1, 2, 0, 3, 0, 4 };
	static const uint64_t none[] = { 5 };
	struct prom_labels ls, empty;
	struct prom_buf b;

	prom_buf_init(&b);
	prom_labels_init(&ls);
	prom_label(&ls, "listener", "a");
	prom_family(&b, "h_seconds", "histogram", "Latency.");
	prom_histogram(&b, "h_seconds", &ls, bounds, counts, 5, 1234.5);
	CHECK_TEXT(&b,
	    "# HELP h_seconds Latency.\n"
	    "# TYPE h_seconds histogram\n"
	    "h_seconds_bucket{listener=\"a\",le=\"0.005\"} 1\n"
	    "h_seconds_bucket{listener=\"a\",le=\"0.1\"} 3\n"
	    "h_seconds_bucket{listener=\"a\",le=\"1\"} 3\n"
	    "h_seconds_bucket{listener=\"a\",le=\"10\"} 6\n"
	    "h_seconds_bucket{listener=\"a\",le=\"300\"} 6\n"
	    "h_seconds_bucket{listener=\"a\",le=\"+Inf\"} 10\n"
	    "h_seconds_sum{listener=\"a\"} 1234.5\n"
	    "h_seconds_count{listener=\"a\"} 10\n",
	    "a histogram with labels");
	prom_buf_free(&b);

	prom_buf_init(&b);
	prom_labels_init(&empty);
	prom_histogram(&b, "h", &empty, bounds, counts, 2, 0.1);
	prom_histogram(&b, "g", NULL, bounds, none, 0, 0);
	CHECK_TEXT(&b,
	    "h_bucket{le=\"0.005\"} 1\n"
	    "h_bucket{le=\"0.1\"} 3\n"
	    "h_bucket{le=\"+Inf\"} 3\n"
	    "h_sum 0.1\n"
	    "h_count 3\n"
	    "g_bucket{le=\"+Inf\"} 5\n"
	    "g_sum 0\n"
	    "g_count 5\n",
	    "histograms with empty and NULL labels, and no bounds");
	prom_buf_free(&b);
}

static void
test_growth(void)
{
	struct prom_buf b;
	struct prom_labels ls;
	char name[32], *want;
	size_t i, n = 0, cap;
	const size_t lines = 100000, size = 64 * 1024 * 1024;

	if ((want = malloc(size)) == NULL) {
		CHECK(0, "malloc for the expected text");
		return;
	}
	prom_buf_init(&b);
	prom_family(&b, "aio_bytes_total", "counter", "Bytes.");
	n += (size_t)snprintf(want + n, size - n, "# HELP aio_bytes_total "
	    "Bytes.\n# TYPE aio_bytes_total counter\n");
	for (i = 0; i < lines; i++) {
		snprintf(name, sizeof(name), "listener%zu", i);
		prom_labels_init(&ls);
		prom_u64(&b, "aio_bytes_total", prom_label(&ls, "listener",
		    name), (uint64_t)i * 1000003);
		n += (size_t)snprintf(want + n, size - n,
		    "aio_bytes_total{listener=\"%s\"} %llu\n", name,
		    (unsigned long long)i * 1000003);
	}
	CHECK(!b.failed && b.len == n && memcmp(b.data, want, n) == 0 &&
	    n > 4 * 1024 * 1024, "%zu samples, %zu bytes, all as expected",
	    lines, b.len);
	for (cap = 16 * 1024; cap < b.cap; cap *= 2)
		;
	CHECK(cap == b.cap && b.cap >= b.len && b.cap / 2 < b.len,
	    "the buffer grew by doubling from 16 KiB (cap %zu)", b.cap);
	prom_buf_free(&b);
	free(want);
}

/*
 * Run out of address space for real (RLIMIT_AS) while writing, then
 * check that every later call is a no-op.  Not under ASan, whose shadow
 * memory does not mix with RLIMIT_AS.
 */
static void
test_enomem(void)
{
	static const double bounds[] = { 1 };
	static const uint64_t counts[] = { 1, 2 };
	struct rlimit old, lim;
	struct prom_labels ls;
	struct prom_buf b;
	unsigned long pages = 0;
	size_t i, len;
	FILE *f;

#ifdef UNDER_SANITIZER
	printf("skip - allocation failure (RLIMIT_AS does not mix with "
	    "ASan or TSan)\n");
	return;
#endif
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	if (pages == 0 || getrlimit(RLIMIT_AS, &old) == -1) {
		printf("skip - allocation failure (no /proc/self/statm)\n");
		return;
	}
	lim = old;
	lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) +
	    64 * 1024 * 1024;
	if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur) {
		printf("skip - allocation failure (RLIMIT_AS already low)\n");
		return;
	}
	prom_buf_init(&b);
	if (setrlimit(RLIMIT_AS, &lim) == 0) {
		/* 20 bytes a line: 256 MiB is well past the limit. */
		for (i = 0; i < 12 * 1024 * 1024 && !b.failed; i++)
			prom_u64(&b, "aio_filler_total", NULL, i % 10);
		setrlimit(RLIMIT_AS, &old);
	}
	CHECK(b.failed, "writing past RLIMIT_AS fails (at %zu bytes)", b.len);
	CHECK(b.data != NULL && b.len > 0 && b.data[b.len - 1] == '\n' &&
	    b.len % 19 == 0 && memcmp(b.data, "aio_filler_total 0\n", 19) == 0,
	    "the lines written before the failure are kept whole");
	len = b.len;
	prom_labels_init(&ls);
	prom_family(&b, "m", "gauge", "Help.");
	prom_u64(&b, "m", prom_label(&ls, "k", "v"), 1);
	prom_double(&b, "m", NULL, 0.5);
	prom_histogram(&b, "h", &ls, bounds, counts, 1, 2.5);
	CHECK(b.failed == 1 && b.len == len,
	    "after a failure every call is a no-op");
	prom_buf_free(&b);
	CHECK(b.data == NULL && b.failed == 0, "prom_buf_free() resets it");
}

int
main(void)
{
	test_family();
	test_escaping();
	test_truncation();
	test_numbers();
	test_histogram();
	test_growth();
	test_enomem();
	return (check_done());
}
