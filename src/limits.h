/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef LIMITS_H
#define LIMITS_H

struct config;

/*
 * limits_check(cfg, threads):
 * Raise RLIMIT_NOFILE to its hard limit and warn, once each, when the
 * fd limit or vm.max_map_count (two mappings per guarded stack where
 * guard markers are missing) cannot cover every listener's
 * max_connections and what the threads loop threads need.  Startup only.
 */
void	limits_check(const struct config *, int);

#endif /* LIMITS_H */
