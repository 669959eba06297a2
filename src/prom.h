/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef PROM_H
#define PROM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writing the Prometheus text exposition format, version 0.0.4, into a
 * growing buffer: metric families (# HELP, # TYPE), samples with escaped
 * label values, and histograms (cumulative _bucket lines ending in
 * le="+Inf", then _sum and _count).  Pure formatting, no I/O.  Any
 * thread.
 *
 * A failed allocation is sticky: every later call does nothing, and
 * prom_buf.failed says so at the end, so a renderer checks once.
 */

struct prom_buf {
	char	*data;		/* malloc'd; not NUL-terminated */
	size_t	 len;
	size_t	 cap;
	int	 failed;	/* out of memory: data is incomplete */
};

/* Labels of one sample: "a=\"x\",b=\"y\"", built by prom_label(). */
#define PROM_LABELS_MAX	512
struct prom_labels {
	char	 text[PROM_LABELS_MAX];
	size_t	 len;
	int	 truncated;	/* a value did not fit: cut, still valid */
};

/* prom_buf_init(b): an empty buffer (no allocation yet). */
void	prom_buf_init(struct prom_buf *);

/* prom_buf_free(b): free b's data; b is empty again. */
void	prom_buf_free(struct prom_buf *);

/*
 * prom_family(b, name, type, help):
 * Start the metric family name: its "# HELP name help" line (help
 * escaped as the format says: backslash and newline) and its
 * "# TYPE name type" line; type is "counter", "gauge" or "histogram".
 * Call once per name, before its samples, with all its samples
 * following together.
 */
void	prom_family(struct prom_buf *, const char *, const char *,
	    const char *);

/*
 * prom_labels_init(ls): no labels.
 * prom_label(ls, key, value): add key="value", value escaped (\\, \",
 * \n); a value that would overflow ls is cut at a character boundary
 * and ls->truncated set.  Returns ls, so calls chain.
 */
void			 prom_labels_init(struct prom_labels *);
struct prom_labels	*prom_label(struct prom_labels *, const char *,
			    const char *);

/*
 * prom_u64(b, name, ls, value), prom_double(b, name, ls, value):
 * One sample line: name{labels} value.  ls may be NULL or empty (no
 * braces then).  Doubles are written so that they read back exactly,
 * shortest first ("0.25", "1e-06", "+Inf", "NaN").
 */
void	prom_u64(struct prom_buf *, const char *, const struct prom_labels *,
	    uint64_t);
void	prom_double(struct prom_buf *, const char *,
	    const struct prom_labels *, double);

/*
 * prom_histogram(b, name, ls, bounds, counts, n, sum):
 * A histogram's samples: name_bucket{ls,le="bound"} for each of the n
 * increasing upper bounds, then le="+Inf", each with the cumulative
 * count; then name_sum{ls} and name_count{ls}.  counts has n + 1
 * entries, not cumulative: counts[i] observations fell at or below
 * bounds[i] and above bounds[i - 1]; counts[n] above bounds[n - 1].
 */
void	prom_histogram(struct prom_buf *, const char *,
	    const struct prom_labels *, const double *, const uint64_t *,
	    size_t, double);

#endif /* PROM_H */
