/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reload.c: SIGHUP, in one process, all or nothing.
 *
 * Owns a reload from the signal to READY=1: the configuration is read
 * and checked by a worker (the file may be on a slow disk, and group
 * names in it need NSS), never on a loop thread.  Then, on the main
 * thread, everything that can fail is done before anything changes:
 * each listener of the new file is matched to an old one that listens
 * at the same address (which keeps its socket, and the clients queued
 * on it), and every new listener is bound, on every loop thread's
 * behalf.  Any failure there undoes what was opened and keeps the old
 * configuration running, its reason in the log and in STATUS=.  Only
 * then is the new configuration swapped in: at once on the first
 * thread, and through loop_post() on the others, which answer when they
 * have; READY=1 follows the last answer.
 *
 * Clients being served keep the settings they started with: each holds
 * its listener's settings, which hold their configuration, so what a
 * reload replaced (a configuration, upstreams, a removed listener and
 * its access log) is freed when the last client that uses it ends, on
 * its own thread (listener.c).  Nothing is kept until exit.
 */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "limits.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "pipes.h"
#include "pool.h"
#include "shard.h"
#include "stats.h"

struct reload {
	struct pool_job		 job;		/* first: the pool's view */
	struct daemon		*d;
	const struct options	*opt;
	struct config		*cfg;		/* read by the worker; NULL
						   once the daemon's */
	size_t			 n;		/* its listeners */
	int			 nthreads;	/* loop threads, for limits */
	char			 problem[CONFIG_PROBLEM_MAX];
	int			*from;		/* [j]: old listener kept, or -1 */
	struct listener		**firsts;	/* [j]: the first thread's */
	struct shard_change	 change;
	int			 answers;	/* shards that have applied it */
};

static void	reload_start(struct daemon *);

/* Worker: read and check the file. */
static void
read_fn(struct pool_job *job)
{
	struct reload *r = (struct reload *)job;

	r->cfg = daemon_load_config(r->opt);
	/* Here, not on a loop: it reads /proc/self/maps. */
	if (r->cfg != NULL)
		limits_check(r->cfg, r->nthreads);
	if (r->cfg == NULL)
		snprintf(r->problem, sizeof(r->problem), "%s",
		    config_problem());
}

static void
reload_free_one(struct reload *r)
{
	size_t i, n;

	if (r == NULL)
		return;
	/* Sockets that no shard took (it ended first). */
	n = r->n;
	if (r->change.fds != NULL)
		for (i = 0; i < n * (size_t)r->d->nshards; i++)
			if (r->change.fds[i] != -1)
				close(r->change.fds[i]);
	free(r->change.fds);
	free(r->from);
	free(r->firsts);
	config_free(r->cfg);
	free(r);
}

/* The end of a reload, done or not: tell systemd, start a queued one. */
static void
reload_end(struct daemon *d, struct reload *r)
{
	d->reload = NULL;
	reload_free_one(r);
	if (d->stopping != 0)
		return;			/* systemd hears STOPPING now */
	daemon_status(d, 1);
	if (d->reload_queued) {
		d->reload_queued = 0;
		reload_start(d);
	}
}

/* Keep the old configuration: say why. */
static void
reload_fail(struct daemon *d, struct reload *r, const char *why)
{
	snprintf(d->reload_error, sizeof(d->reload_error),
	    "reload failed, running the previous configuration: %s", why);
	log_warnx("SIGHUP: %s", d->reload_error);
	stats_reload(0);
	reload_end(d, r);
}

/* Settings that only a restart can change: say so, keep the old. */
static void
warn_restart_only(const struct config *old, const struct config *new)
{
	if (old->loop_threads != new->loop_threads)
		log_warnx("SIGHUP: loop_threads changes at the next restart");
	if (old->coroutine_stack_size != new->coroutine_stack_size)
		log_warnx("SIGHUP: coroutine_stack_size changes at the next "
		    "restart");
	if (old->worker_threads != new->worker_threads ||
	    old->worker_queue != new->worker_queue)
		log_warnx("SIGHUP: worker_threads and worker_queue change at "
		    "the next restart");
}

/* A kept socket keeps what was set when it was made: say so. */
static void
warn_socket_kept(const struct listen_conf *old, const struct listen_conf *new)
{
	if (old->backlog != new->backlog ||
	    old->socket_mode != new->socket_mode ||
	    old->socket_group != new->socket_group ||
	    old->reuseport != new->reuseport)
		log_warnx("SIGHUP: %s: backlog, socket_mode, socket_group and "
		    "reuseport of a listener that keeps its socket change at "
		    "the next restart", new->name);
}

/*
 * Everything that can fail, before anything changes: match listeners
 * to the old ones by address, bind the new ones for every thread.
 * Returns 0, or -1 with the reason in why (what was opened is closed).
 */
static int
reload_prepare(struct daemon *d, struct reload *r, char *why, size_t size)
{
	const struct config *cfg = r->cfg;
	const struct listen_conf *lc;
	size_t i, j, n = cfg->nlisteners, k;
	int *taken;

	r->from = calloc(n + 1, sizeof(*r->from));
	r->firsts = calloc(n + 1, sizeof(*r->firsts));
	r->change.fds = malloc((n * (size_t)d->nshards + 1) *
	    sizeof(*r->change.fds));
	if (r->change.fds != NULL)	/* none opened yet */
		for (i = 0; i < n * (size_t)d->nshards; i++)
			r->change.fds[i] = -1;
	taken = calloc(d->nopen + 1, sizeof(*taken));
	if (r->from == NULL || r->firsts == NULL || r->change.fds == NULL ||
	    taken == NULL) {
		free(taken);
		snprintf(why, size, "out of memory");
		return (-1);
	}
	for (j = 0; j < n; j++) {
		lc = &cfg->listeners[j];
		r->from[j] = -1;
		for (i = 0; i < d->nopen; i++)
			if (!taken[i] &&
			    listener_same_socket(d->listeners[i], lc)) {
				taken[i] = 1;
				r->from[j] = (int)i;
				r->firsts[j] = d->listeners[i];
				break;
			}
		if (r->from[j] != -1)
			continue;
		if ((r->firsts[j] = listener_open(cfg, lc, d->loop, d->pool,
		    d->nthreads > 1)) == NULL) {
			snprintf(why, size, "listener %s: %s: %s", lc->name,
			    lc->address, strerror(errno));
			goto fail;
		}
		for (k = 0; k < (size_t)d->nshards; k++)
			if ((r->change.fds[k * n + j] =
			    listener_copy_socket(r->firsts[j])) == -1) {
				snprintf(why, size, "listener %s: %s: loop "
				    "thread %zu: %s", lc->name, lc->address,
				    k + 1, strerror(errno));
				goto fail;
			}
	}
	free(taken);
	return (0);

fail:
	free(taken);
	for (j = 0; j < n; j++)
		if (r->from[j] == -1 && r->firsts[j] != NULL) {
			for (k = 0; k < (size_t)d->nshards; k++)
				if (r->change.fds[k * n + j] != -1) {
					close(r->change.fds[k * n + j]);
					r->change.fds[k * n + j] = -1;
				}
			listener_free(r->firsts[j]);
			r->firsts[j] = NULL;
		}
	return (-1);
}

/* Every thread has the new configuration. */
static void
reload_done(struct reload *r)
{
	log_info("SIGHUP: reloaded %s: %zu listeners", r->d->cfg->path,
	    r->d->nopen);
	stats_reload(1);
	reload_end(r->d, r);
}

/* A shard has applied the change; the last one ends the reload. */
static void
on_shard_done(void *arg)
{
	struct reload *r = arg;

	if (++r->answers == r->d->nshards)
		reload_done(r);
}

/* Swap the new configuration in: here, then on every other thread. */
static void
reload_commit(struct daemon *d, struct reload *r)
{
	const struct config *cfg = r->cfg;
	size_t i, j, n = cfg->nlisteners;
	int *kept, k;

	if ((kept = calloc(d->nopen + 1, sizeof(*kept))) == NULL)
		fatal("reload: out of memory");
	for (j = 0; j < n; j++) {
		if (r->from[j] == -1) {
			listener_announce(r->firsts[j]);
			continue;
		}
		kept[r->from[j]] = 1;
		warn_socket_kept(&d->cfg->listeners[r->from[j]],
		    &cfg->listeners[j]);
		if (listener_reconfigure(r->firsts[j], NULL, cfg,
		    &cfg->listeners[j], d->pool) == -1)
			fatal("reload: listener %s", cfg->listeners[j].name);
	}
	/* Removed: they free themselves once their clients have gone. */
	for (i = 0; i < d->nopen; i++)
		if (!kept[i]) {
			log_info("%s: removed by the reload",
			    listener_name(d->listeners[i]));
			listener_retire(d->listeners[i]);
		}
	free(kept);
	for (j = 0; j < n; j++)
		if (r->from[j] == -1 && listener_start(r->firsts[j]) == -1)
			fatal("%s: accept coroutine", cfg->listeners[j].name);

	config_free(d->cfg);	/* older clients' settings still hold it */
	free(d->listeners);
	d->listeners = r->firsts;
	r->firsts = NULL;
	d->nopen = n;
	d->cfg = r->cfg;
	r->cfg = NULL;			/* the daemon's now */
	pipes_set_max(cfg->max_pipes);	/* pipes open now stay till put */
	d->reloads++;
	d->reload_error[0] = '\0';
	if (!d->opt->verbose)
		log_set_level((int)cfg->log_level);

	r->change.cfg = cfg;
	r->change.firsts = d->listeners;
	r->change.from = r->from;
	r->change.reply_loop = d->loop;
	r->change.reply = on_shard_done;
	r->change.reply_arg = r;
	if (d->nshards == 0) {
		reload_done(r);
		return;
	}
	for (k = 0; k < d->nshards; k++)
		shard_change(d->shards[k], &r->change);
}

/* Main thread: the file is read. */
static void
read_done(struct pool_job *job)
{
	struct reload *r = (struct reload *)job;
	struct daemon *d = r->d;
	char why[CONFIG_PROBLEM_MAX + 64];

	if (job->cancelled) {
		reload_fail(d, r, "the daemon is stopping");
		return;
	}
	if (r->cfg == NULL) {
		reload_fail(d, r, r->problem[0] != '\0' ? r->problem :
		    "the configuration could not be read");
		return;
	}
	if (d->stopping != 0) {
		reload_fail(d, r, "the daemon is stopping");
		return;
	}
	warn_restart_only(d->cfg, r->cfg);
	r->n = r->cfg->nlisteners;
	if (reload_prepare(d, r, why, sizeof(why)) == -1) {
		reload_fail(d, r, why);
		return;
	}
	reload_commit(d, r);
}

static void
reload_start(struct daemon *d)
{
	struct reload *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("SIGHUP: reload");
		stats_reload(0);
		return;
	}
	r->d = d;
	r->opt = d->opt;
	r->nthreads = d->nthreads;
	r->job.fn = read_fn;
	r->job.done = read_done;
	snprintf(r->job.what, sizeof(r->job.what), "reload %s",
	    d->opt->path != NULL ? d->opt->path : DEFAULT_CONFIG);
	d->reload = r;
	notify_reloading();
	log_info("SIGHUP: reloading the configuration");
	if (pool_submit(d->pool, &r->job) == -1)
		reload_fail(d, r, errno == EAGAIN ? "the worker queue is "
		    "full" : strerror(errno));
}

void
reload_request(struct daemon *d)
{
	if (d->stopping != 0 || !d->ready) {
		log_info("SIGHUP: the daemon is %s; not reloading",
		    d->ready ? "stopping" : "not ready");
		return;
	}
	if (d->reload != NULL) {
		log_info("SIGHUP: a reload is running; another will follow");
		d->reload_queued = 1;
		return;
	}
	reload_start(d);
}

void
reload_free(struct daemon *d)
{
	/* A worker stuck reading the file still holds the reload. */
	if (d->pool_stuck == 0)
		reload_free_one(d->reload);
	d->reload = NULL;
}
