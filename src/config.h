/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/types.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sock.h"

struct addrset;

/* What a listener does with its connections. */
enum service {
	SERVICE_ECHO,
	SERVICE_PROXY,
	SERVICE_METRICS,	/* Prometheus, over HTTP/1.x */
};

/* How a proxy picks its upstream (balance.c). */
enum balance {
	BALANCE_ROUND_ROBIN,	/* smooth weighted round-robin */
	BALANCE_FIRST,		/* always the first that answers: failover */
	BALANCE_LEAST_CONNECTIONS,	/* fewest open relays per weight */
	BALANCE_SOURCE_HASH,	/* a client always to the same one */
};

/* Upstreams of one proxy listener, at most. */
#define CONFIG_UPSTREAMS_MAX	256

/* upstreams' weight=N: its default and range. */
#define CONFIG_WEIGHT_DEFAULT	1
#define CONFIG_WEIGHT_MAX	256

/*
 * One upstream of a proxy: a numeric address, or a name to resolve, and
 * the options written after it ("10.0.0.1:6379 weight=3 backup").
 */
struct upstream_conf {
	char		*entry;		/* the whole entry, as written */
	char		*text;		/* its address part alone */
	char		*host;		/* a DNS name, or NULL if numeric */
	unsigned	 port;		/* with host */
	struct sock_addr addr;		/* if numeric */
	int64_t		 weight;	/* 1 to CONFIG_WEIGHT_MAX */
	int64_t		 backup;	/* only while no primary is up */
};

/* The PROXY protocol header a proxy sends its upstreams. */
enum send_proxy {
	SEND_PROXY_NONE,
	SEND_PROXY_V1,
	SEND_PROXY_V2,
};

/* TCP keepalive on a socket (tcp_keepalive = { ... }): off if idle is 0. */
struct keepalive_conf {
	int64_t		 idle;		/* ms before the first probe */
	int64_t		 interval;	/* ms between probes */
	int64_t		 count;		/* unanswered probes before a reset */
};

/* Limits per client address (per_source = { ... }): off if !set. */
struct per_source_conf {
	int64_t		 set;		/* the group is there */
	int64_t		 max_connections;	/* 0: none */
	int64_t		 rate_n;	/* connection_rate: rate_n new ... */
	int64_t		 rate_ms;	/* ... per rate_ms; 0: none */
	int64_t		 ipv6_prefix;	/* bits of an IPv6 source */
	int64_t		 table_size;	/* sources tracked at most */
};

/*
 * A proxy's active health check of each upstream (health_check = { ... }):
 * off if !set.
 */
struct health_conf {
	int64_t		 set;		/* the group is there */
	int64_t		 interval;	/* ms between checks */
	int64_t		 timeout;	/* ms for the connect, and the reply */
	int64_t		 rise;		/* passes in a row: up */
	int64_t		 fall;		/* failures in a row: down */
	char		*send;		/* written once connected; NULL: none */
	char		*expect;	/* the reply starts so; NULL: none */
};

/* health_check's expect: the longest reply start it can compare. */
#define CONFIG_EXPECT_MAX	256

/* Longest listener name: one field of an access log line. */
#define CONFIG_NAME_MAX	64

/* One listener's settings, as read from its group in "listeners". */
struct listen_conf {
	char		*name;
	char		*address;	/* as written in the file */
	struct sock_addr addr;
	int64_t		 datagram;	/* "udp:": a UDP echo (RFC 862) */
	int64_t		 service;	/* enum service */
	int64_t		 backlog;
	int64_t		 max_connections;
	int64_t		 idle_timeout;	/* ms; 0 means none */
	char		*access_log;	/* path, or NULL for none */
	int64_t		 socket_mode;	/* UNIX: the socket file's mode bits */
	int64_t		 socket_group;	/* UNIX: its gid, or -1: unchanged */
	int64_t		 reuseport;	/* TCP: a socket per loop thread */
	int64_t		 splice;	/* proxy: bulk streams by splice(2) */
	struct upstream_conf *upstreams;	/* proxy only */
	size_t		 nupstreams;
	int64_t		 balance;	/* enum balance */
	int64_t		 max_fails;	/* failed connects that eject; 0: never */
	int64_t		 fail_timeout;	/* ms: their window, and the ejection */
	struct health_conf health_check;	/* proxy */
	int64_t		 connect_timeout;	/* ms */
	int64_t		 fin_timeout;	/* ms; 0 means none */
	int64_t		 header_timeout;	/* metrics: ms for a request */
	int64_t		 proxy_protocol;	/* clients start with a header */
	struct addrset	*proxy_protocol_from;	/* who may send one */
	int64_t		 proxy_protocol_timeout;	/* ms to read it */
	int64_t		 send_proxy_protocol;	/* enum send_proxy */
	struct addrset	*allow;		/* NULL: everyone (but deny) */
	struct addrset	*deny;		/* NULL: no one */
	uid_t		*allow_uid;	/* unix: peers that may connect */
	size_t		 nallow_uid;	/* 0: any */
	struct per_source_conf per_source;
	struct keepalive_conf tcp_keepalive;	/* client sockets */
	struct keepalive_conf upstream_tcp_keepalive;	/* proxy */
	int		 line;		/* where its group starts */
};

/*
 * coroutine_stack_size: its default and range.  coro_init() must accept
 * the whole range (main.c checks that at compile time).
 */
#define CONFIG_STACK_DEFAULT	(64 * 1024)
#define CONFIG_STACK_MIN	(16 * 1024)
#define CONFIG_STACK_MAX	(1024 * 1024)

/* loop_threads: at most this many ("auto" is capped there too). */
#define CONFIG_LOOP_THREADS_MAX	256

/*
 * The whole configuration: plain data, immutable once loaded but for its
 * count of holders.  After a reload, clients accepted under an older one
 * still read their listener's settings in it: whoever points into a
 * configuration holds it (config_hold()), and the last config_free()
 * frees it.
 */
struct config {
	atomic_int	 holds;		/* holders beyond the first */
	char		*path;
	int64_t		 log_level;	/* LOG_LEVEL_* */
	int64_t		 coroutine_stack_size;	/* bytes */
	int64_t		 shutdown_timeout;	/* ms */
	int64_t		 loop_threads;	/* 0: one per CPU we may run on */
	int64_t		 worker_threads;
	int64_t		 worker_queue;
	int64_t		 resolve_interval;	/* ms */
	int64_t		 max_pipes;	/* splice(2) pipes open at most */
	struct listen_conf *listeners;
	size_t		 nlisteners;
};

/*
 * config_load(path):
 * Read and check the libconfig file at path.  Every problem is logged as
 * "file:line: message" (all of them, not just the first).  Returns the
 * configuration, owned by the caller, or NULL if there was any problem.
 */
struct config	*config_load(const char *);

/*
 * config_problem():
 * The first problem the last config_load() or config_load_string() on
 * this thread reported ("file:line: message"), or "" if there was none.
 */
const char	*config_problem(void);

/* Longest problem message kept by config_problem(). */
#define CONFIG_PROBLEM_MAX	512

/*
 * config_load_string(text, name):
 * As config_load(), from text; messages name the file "name".
 */
struct config	*config_load_string(const char *, const char *);

/* conf/aio-echod.conf as built into the binary. */
extern const char	config_default_text[];

/* The name problems in the built-in default are reported under. */
#define CONFIG_DEFAULT_NAME	"(built-in default)"

/*
 * config_hold(cfg):
 * One more holder of cfg, which config_free() lets go.  Any thread.
 * Returns cfg.
 */
const struct config	*config_hold(const struct config *);

/*
 * config_free(cfg):
 * Let go of cfg: the last holder (config_load()'s caller counts as the
 * first) frees it and its strings.  config_free(NULL) does nothing.  Any
 * thread.
 */
void	config_free(struct config *);

/* config_service_name(service): "echo", "proxy" or "metrics". */
const char	*config_service_name(int64_t);

/*
 * config_duration_parse(buf, len, ms):
 * Parse "500ms", "30s", "5m", "1h", "2d" or bare seconds "30" into
 * milliseconds.  Returns 0, or -1 with errno EINVAL or ERANGE.
 */
int	config_duration_parse(const char *, size_t, int64_t *);

/*
 * config_rate_parse(buf, len, n, ms):
 * Parse a rate "20/1s", "100/500ms" or "20/s" (per one unit) into n events
 * per ms milliseconds, n >= 1, ms >= 1 and n * ms < 2^63.  Returns 0, or
 * -1 with errno EINVAL or ERANGE.
 */
int	config_rate_parse(const char *, size_t, int64_t *, int64_t *);

/*
 * config_size_parse(buf, len, bytes):
 * Parse "65536", "64k" or "1m" (k = 1024) into bytes.  Returns 0, or -1
 * with errno EINVAL or ERANGE.
 */
int	config_size_parse(const char *, size_t, int64_t *);

/*
 * config_upstream_parse(text, u, why, size):
 * Parse one entry of a proxy's upstreams, NUL-terminated: an address
 * (IPV4:PORT, [IPV6]:PORT, NAME:PORT or unix:PATH) then its options
 * (weight=N, backup), separated by spaces or tabs.  Fills in u (its
 * strings allocated; weight 0 if none was given) and returns 0, or
 * returns -1 with u cleared and the entry's first problem in why (size
 * bytes, always NUL-terminated; "upstreams: \"x\": ..."): a bad option
 * is reported before a bad address, and an entry that has both shows
 * the address's problem once the option is mended.  Needs no configuration
 * around it: the fuzzer and the unit test call it alone.  Any thread.
 */
int	config_upstream_parse(const char *, struct upstream_conf *, char *,
	    size_t);

/* config_upstream_clear(u): free u's strings and zero it. */
void	config_upstream_clear(struct upstream_conf *);

#endif /* CONFIG_H */
