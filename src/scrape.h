/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SCRAPE_H
#define SCRAPE_H

/*
 * What a scrape of the metrics service says: every counter of stats.c,
 * the worker pool's, and the process's, in the Prometheus text format.
 * The names and labels are an interface (dashboards and alert rules use
 * them): aio-echod.conf(5) lists them.
 */

struct pool;
struct prom_buf;

/*
 * scrape_render(b, pool):
 * Append the whole exposition to b: a copy of the counters taken at once
 * (stats_snapshot()), then formatted, giving the loop a turn whenever
 * formatting has held it for SCRAPE_SLICE_US, so a scrape of a large
 * daemon never stalls its other connections.  pool: the worker pool to
 * report (NULL: none).  Returns 0, or -1 with errno ENOMEM (b->failed
 * too) or ECANCELED (the daemon is stopping).  May park.
 */
int	scrape_render(struct prom_buf *, const struct pool *);

/* The longest a scrape formats before the loop gets a turn. */
#define SCRAPE_SLICE_US	300

#endif /* SCRAPE_H */
