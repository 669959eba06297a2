/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * scrape.c: the metrics exposition (see scrape.h).
 *
 * Each family is written once, its samples together, as the format
 * requires: so the loops run family by family, over every listener or
 * upstream inside.  Every label value comes from the configuration
 * (listener names, upstreams as written) or from this file (reasons,
 * results, thread numbers), never from a client.
 */
#include "scrape.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "coro.h"
#include "loop.h"
#include "pipes.h"
#include "pool.h"
#include "prom.h"
#include "stats.h"

/* The labels of the counters with a reason or result, in enum order. */
static const char *const reject_names[STATS_REJECT_MAX] = {
	"max_connections", "out_of_memory", "denied", "proxy_from",
	"proxy_header", "source_limit", "source_rate",
};
static const char *const udp_names[STATS_UDP_MAX] = {
	"echoed", "dropped_port", "dropped_rate", "dropped_denied",
	"dropped_full",
};
static const char *const connect_names[STATS_CONNECT_MAX] = {
	"ok", "refused", "timeout", "error", "resolve_failed",
};
static const char *const check_names[STATS_CHECK_MAX] = {
	"ok", "refused", "timeout", "bad_reply", "error", "resolve_failed",
};

/* Give the loop a turn once this slice has run SCRAPE_SLICE_US. */
static int
pace(int64_t *began)
{
	if (clock_now_us() - *began < SCRAPE_SLICE_US)
		return (0);
	if (loop_yield() == -1)
		return (-1);
	*began = clock_now_us();
	return (0);
}

static const struct prom_labels *
listener_label(struct prom_labels *ls, const char *name)
{
	prom_labels_init(ls);
	return (prom_label(ls, "listener", name));
}

static const struct prom_labels *
upstream_label(struct prom_labels *ls, const struct stats_upstream_sum *u)
{
	prom_labels_init(ls);
	prom_label(ls, "listener", u->listener);
	return (prom_label(ls, "upstream", u->text));
}

/*
 * One sample of metric per i < n, labelled as base (NULL: none) and
 * key="names[i]", with values[i]: a counter by reason or result.
 */
static void
by_label(struct prom_buf *pb, const char *metric,
    const struct prom_labels *base, const char *key,
    const char *const *names, const uint64_t *values, size_t n)
{
	struct prom_labels ls;
	size_t i;

	for (i = 0; i < n; i++) {
		if (base != NULL)
			ls = *base;
		else
			prom_labels_init(&ls);
		prom_u64(pb, metric, prom_label(&ls, key, names[i]),
		    values[i]);
	}
}

/* A histogram of h, its bounds b in microseconds, written in seconds. */
static void
histogram(struct prom_buf *pb, const char *name,
    const struct prom_labels *ls, const struct stats_buckets *b,
    const struct stats_hist_sum *h)
{
	double bounds[STATS_BUCKETS_MAX];
	size_t i;

	for (i = 0; i < b->n; i++)
		bounds[i] = (double)b->bound_us[i] / 1e6;
	prom_histogram(pb, name, ls, bounds, h->count, b->n,
	    (double)h->sum_us / 1e6);
}

/* A listener counter: one sample per listener. */
#define EACH_LISTENER(pb, s, ls, metric, field) do {			\
	size_t i_;							\
	for (i_ = 0; i_ < (s)->nlisteners; i_++)			\
		prom_u64((pb), (metric), listener_label((ls),		\
		    (s)->listeners[i_].name), (s)->listeners[i_].field);	\
} while (0)

/* The same, per upstream. */
#define EACH_UPSTREAM(pb, s, ls, metric, field) do {			\
	size_t i_;							\
	for (i_ = 0; i_ < (s)->nupstreams; i_++)			\
		prom_u64((pb), (metric), upstream_label((ls),		\
		    &(s)->upstreams[i_]), (s)->upstreams[i_].field);	\
} while (0)

static void
render_daemon(struct prom_buf *pb, const struct stats_snapshot *s)
{
	static const char *const results[] = { "ok", "failed" };
	uint64_t reloads[] = { s->reloads_ok, s->reloads_failed };
	struct prom_labels ls;

	prom_family(pb, "aio_echod_build_info", "gauge",
	    "The build: its version and coroutine switch; always 1.");
	prom_labels_init(&ls);
	prom_label(&ls, "version", AIO_VERSION);
	prom_label(&ls, "coroutines", coro_backend());
	prom_u64(pb, "aio_echod_build_info", &ls, 1);
	prom_family(pb, "aio_echod_start_time_seconds", "gauge",
	    "Unix time the daemon started.");
	prom_double(pb, "aio_echod_start_time_seconds", NULL,
	    (double)s->start_time_ms / 1e3);
	prom_family(pb, "aio_echod_loop_threads", "gauge",
	    "Loop threads running.");
	prom_u64(pb, "aio_echod_loop_threads", NULL, (uint64_t)s->nthreads);
	prom_family(pb, "aio_echod_pipes", "gauge",
	    "Pipes open for splice(2): in use by bulk streams, or kept "
	    "empty for the next (see max_pipes).");
	prom_u64(pb, "aio_echod_pipes", NULL, (uint64_t)pipes_count());
	prom_family(pb, "aio_echod_reloads_total", "counter",
	    "SIGHUP reloads, by result.");
	by_label(pb, "aio_echod_reloads_total", NULL, "result", results,
	    reloads, 2);
	prom_family(pb, "aio_echod_config_last_reload_successful", "gauge",
	    "1 if the last reload loaded its configuration, else 0.");
	prom_u64(pb, "aio_echod_config_last_reload_successful", NULL,
	    (uint64_t)s->last_reload_ok);
	prom_family(pb,
	    "aio_echod_config_last_reload_success_timestamp_seconds", "gauge",
	    "Unix time of the last configuration loaded, the start's "
	    "included.");
	prom_double(pb,
	    "aio_echod_config_last_reload_success_timestamp_seconds", NULL,
	    (double)s->last_good_load_ms / 1e3);
}

static int
render_listeners(struct prom_buf *pb, const struct stats_snapshot *s,
    int64_t *began)
{
	const char *close_names[CONN_CLOSE_MAX];
	struct prom_labels ls;
	size_t i;
	int k;

	for (k = 0; k < CONN_CLOSE_MAX; k++)
		close_names[k] = conn_close_name((enum conn_close)k);
	prom_family(pb, "aio_echod_connections_accepted_total", "counter",
	    "Clients accepted and served.");
	EACH_LISTENER(pb, s, &ls, "aio_echod_connections_accepted_total",
	    accepted);
	prom_family(pb, "aio_echod_connections_active", "gauge",
	    "Clients connected now.");
	EACH_LISTENER(pb, s, &ls, "aio_echod_connections_active", active);
	if (pace(began) == -1)
		return (-1);
	prom_family(pb, "aio_echod_connections_rejected_total", "counter",
	    "Clients refused, by reason: at accept, or after their PROXY "
	    "protocol header.");
	for (i = 0; i < s->nlisteners; i++)
		by_label(pb, "aio_echod_connections_rejected_total",
		    listener_label(&ls, s->listeners[i].name), "reason",
		    reject_names, s->listeners[i].rejected, STATS_REJECT_MAX);
	if (pace(began) == -1)
		return (-1);
	prom_family(pb, "aio_echod_connections_closed_total", "counter",
	    "Connections ended, by the access log's close reason (clients "
	    "rejected at accept too, as \"limit\").");
	for (i = 0; i < s->nlisteners; i++) {
		by_label(pb, "aio_echod_connections_closed_total",
		    listener_label(&ls, s->listeners[i].name), "reason",
		    close_names, s->listeners[i].closed, CONN_CLOSE_MAX);
		if (pace(began) == -1)
			return (-1);
	}
	prom_family(pb, "aio_echod_received_bytes_total", "counter",
	    "Bytes read from clients.");
	EACH_LISTENER(pb, s, &ls, "aio_echod_received_bytes_total", bytes_in);
	prom_family(pb, "aio_echod_sent_bytes_total", "counter",
	    "Bytes written to clients.");
	EACH_LISTENER(pb, s, &ls, "aio_echod_sent_bytes_total", bytes_out);
	prom_family(pb, "aio_echod_access_log_dropped_lines_total", "counter",
	    "Access log lines lost to a full queue or buffer.");
	EACH_LISTENER(pb, s, &ls, "aio_echod_access_log_dropped_lines_total",
	    log_dropped);
	if (pace(began) == -1)
		return (-1);
	prom_family(pb, "aio_echod_udp_datagrams_total", "counter",
	    "Datagrams a UDP echo received, by what became of them.");
	for (i = 0; i < s->nlisteners; i++)
		if (s->listeners[i].datagram)
			by_label(pb, "aio_echod_udp_datagrams_total",
			    listener_label(&ls, s->listeners[i].name),
			    "result", udp_names, s->listeners[i].udp,
			    STATS_UDP_MAX);
	prom_family(pb, "aio_echod_connection_duration_seconds", "histogram",
	    "How long client connections lasted.");
	for (i = 0; i < s->nlisteners; i++) {
		histogram(pb, "aio_echod_connection_duration_seconds",
		    listener_label(&ls, s->listeners[i].name),
		    &stats_duration_buckets, &s->listeners[i].duration);
		if (pace(began) == -1)
			return (-1);
	}
	return (0);
}

static int
render_upstreams(struct prom_buf *pb, const struct stats_snapshot *s,
    int64_t *began)
{
	struct prom_labels ls;
	size_t i;

	prom_family(pb, "aio_echod_upstream_connects_total", "counter",
	    "Upstream connect attempts, by result.");
	for (i = 0; i < s->nupstreams; i++) {
		by_label(pb, "aio_echod_upstream_connects_total",
		    upstream_label(&ls, &s->upstreams[i]), "result",
		    connect_names, s->upstreams[i].connects,
		    STATS_CONNECT_MAX);
		if (pace(began) == -1)
			return (-1);
	}
	prom_family(pb, "aio_echod_upstream_connect_duration_seconds",
	    "histogram", "Time to a successful upstream connect.");
	for (i = 0; i < s->nupstreams; i++) {
		histogram(pb, "aio_echod_upstream_connect_duration_seconds",
		    upstream_label(&ls, &s->upstreams[i]),
		    &stats_connect_buckets, &s->upstreams[i].connect_time);
		if (pace(began) == -1)
			return (-1);
	}
	prom_family(pb, "aio_echod_upstream_checks_total", "counter",
	    "Active health checks of the upstream, by result.");
	for (i = 0; i < s->nupstreams; i++) {
		by_label(pb, "aio_echod_upstream_checks_total",
		    upstream_label(&ls, &s->upstreams[i]), "result",
		    check_names, s->upstreams[i].checks, STATS_CHECK_MAX);
		if (pace(began) == -1)
			return (-1);
	}
	prom_family(pb, "aio_echod_upstream_up", "gauge",
	    "1 unless the upstream's health check holds it down.");
	EACH_UPSTREAM(pb, s, &ls, "aio_echod_upstream_up", up);
	prom_family(pb, "aio_echod_upstream_weight", "gauge",
	    "The upstream's configured weight.");
	EACH_UPSTREAM(pb, s, &ls, "aio_echod_upstream_weight", weight);
	prom_family(pb, "aio_echod_upstream_active_connections", "gauge",
	    "Relays open to the upstream now.");
	EACH_UPSTREAM(pb, s, &ls, "aio_echod_upstream_active_connections",
	    active);
	prom_family(pb, "aio_echod_upstream_received_bytes_total", "counter",
	    "Bytes read from the upstream.");
	EACH_UPSTREAM(pb, s, &ls, "aio_echod_upstream_received_bytes_total",
	    bytes_in);
	prom_family(pb, "aio_echod_upstream_sent_bytes_total", "counter",
	    "Bytes written to the upstream.");
	EACH_UPSTREAM(pb, s, &ls, "aio_echod_upstream_sent_bytes_total",
	    bytes_out);
	prom_family(pb, "aio_echod_upstream_spliced_bytes_total", "counter",
	    "Of the bytes received from and sent to the upstream, those "
	    "moved by splice(2), never copied.");
	EACH_UPSTREAM(pb, s, &ls, "aio_echod_upstream_spliced_bytes_total",
	    spliced);
	return (pace(began));
}

static void
render_loops(struct prom_buf *pb, const struct stats_snapshot *s)
{
	struct prom_labels ls;
	char thread[16];
	int i;

	prom_family(pb, "aio_echod_loop_lag_seconds", "histogram",
	    "How late each loop thread ran a timer that was due (sampled "
	    "every 100 ms).");
	for (i = 0; i < s->nthreads; i++) {
		snprintf(thread, sizeof(thread), "%d", i);
		prom_labels_init(&ls);
		histogram(pb, "aio_echod_loop_lag_seconds", prom_label(&ls,
		    "thread", thread), &stats_lag_buckets, &s->lag[i]);
	}
}

static void
render_pool(struct prom_buf *pb, const struct pool *pool)
{
	static const char *const results[] = { "done", "cancelled",
	    "expired" };
	struct pool_counts pc;
	uint64_t jobs[3];

	if (pool == NULL)
		return;
	pool_counts(pool, &pc);
	jobs[0] = pc.done;
	jobs[1] = pc.cancelled;
	jobs[2] = pc.expired;
	prom_family(pb, "aio_echod_worker_queue_jobs", "gauge",
	    "Jobs waiting for a worker thread.");
	prom_u64(pb, "aio_echod_worker_queue_jobs", NULL, pc.queued);
	prom_family(pb, "aio_echod_worker_jobs_total", "counter",
	    "Worker pool jobs, by what became of them.");
	by_label(pb, "aio_echod_worker_jobs_total", NULL, "result", results,
	    jobs, 3);
}

/*
 * Open fds: Linux 6.2 and later give the count as /proc/self/fd's size;
 * before, count its entries, giving the loop a turn between batches.
 * -1 if neither works.
 */
static int64_t
open_fds(int64_t *began)
{
	struct stat st;
	DIR *dir;
	int64_t n = 0;

	if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0)
		return ((int64_t)st.st_size);
	if ((dir = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while (readdir(dir) != NULL)
		if (++n % 1024 == 0 && pace(began) == -1) {
			closedir(dir);
			return (-1);	/* stopping: no count */
		}
	closedir(dir);
	return (n - 3);		/* ".", ".." and the directory's own fd */
}

/* Resident memory from /proc/self/statm, in bytes; -1 if unknown. */
static int64_t
resident_bytes(void)
{
	char buf[128];
	long long pages;
	ssize_t n;
	int fd;

	if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	if (sscanf(buf, "%*s %lld", &pages) != 1)
		return (-1);
	return ((int64_t)pages * sysconf(_SC_PAGESIZE));
}

static void
render_process(struct prom_buf *pb, const struct stats_snapshot *s,
    int64_t *began)
{
	struct rusage ru;
	struct rlimit rl;
	int64_t n;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		prom_family(pb, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
		prom_double(pb, "process_cpu_seconds_total", NULL,
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	if ((n = resident_bytes()) >= 0) {
		prom_family(pb, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
		prom_u64(pb, "process_resident_memory_bytes", NULL,
		    (uint64_t)n);
	}
	if ((n = open_fds(began)) >= 0) {
		prom_family(pb, "process_open_fds", "gauge",
		    "Number of open file descriptors.");
		prom_u64(pb, "process_open_fds", NULL, (uint64_t)n);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		prom_family(pb, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.");
		prom_u64(pb, "process_max_fds", NULL, (uint64_t)rl.rlim_cur);
	}
	prom_family(pb, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.");
	prom_double(pb, "process_start_time_seconds", NULL,
	    (double)s->start_time_ms / 1e3);
}

int
scrape_render(struct prom_buf *pb, const struct pool *pool)
{
	struct stats_snapshot s;
	int64_t began = clock_now_us();
	int rc = -1;

	if (stats_snapshot(&s) == -1)
		return (-1);
	render_daemon(pb, &s);
	if (render_listeners(pb, &s, &began) == -1 ||
	    render_upstreams(pb, &s, &began) == -1)
		goto out;
	render_loops(pb, &s);
	render_pool(pb, pool);
	/* Its /proc reads take their time: a slice of their own. */
	if (pace(&began) == -1)
		goto out;
	render_process(pb, &s, &began);
	if (pb->failed) {
		errno = ENOMEM;
		goto out;
	}
	rc = 0;
out:
	stats_snapshot_free(&s);
	return (rc);
}
