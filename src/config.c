/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config.c: the configuration file, from libconfig to struct config.
 *
 * Owns the only use of libconfig.  Each setting is described once, in a
 * key table with its type, range and place in the struct; one walk over
 * the file fills the struct, rejects unknown keys, and reports every
 * problem as "file:line: message" before failing.  Strings are copied
 * out, because libconfig's die with its config_t.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <libconfig.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addrset.h"
#include "log.h"

#define DAY_MS		(86400LL * 1000)
#define NAME_CHARS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			"0123456789-_."

enum key_type {
	KEY_STRING,	/* non-empty string, copied */
	KEY_NAME,	/* string of letters, digits, '-', '_', '.' */
	KEY_MODE,	/* octal string "0000" to "0777" */
	KEY_GROUP,	/* group name or number, stored as a gid */
	KEY_INT,
	KEY_INT_AUTO,	/* integer, or "auto": stored as 0 */
	KEY_BOOL,	/* true or false: stored as 1 or 0 */
	KEY_DURATION,	/* ms */
	KEY_SIZE,	/* bytes */
	KEY_LOG_LEVEL,
	KEY_CHOICE,	/* one of the names in choices; stores its index */
	KEY_ADDRESS,	/* string, also parsed into listen_conf.addr */
	KEY_UPSTREAMS,	/* list of addresses or NAME:PORT */
	KEY_PREFIXES,	/* list of CIDR prefixes: a struct addrset * */
	KEY_UIDS,	/* list of user names or numbers: allow_uid */
	KEY_RATE,	/* "N/DURATION": two int64_t, n then ms */
	KEY_SUBGROUP,	/* { ... } walked by the key table in sub */
	KEY_LISTENERS,	/* walked separately */
};

struct key {
	const char	*name;
	enum key_type	 type;
	size_t		 offset;
	int		 required;
	int64_t		 min, max;
	const char	*range;		/* the range, for messages */
	const char *const *choices;	/* KEY_CHOICE: in enum order */
	const struct key *sub;		/* KEY_SUBGROUP: its keys, */
	size_t		 nsub;		/* how many */
};

/* Names of enum service and enum balance, in their order. */
static const char *const service_names[] = { "echo", "proxy", "metrics",
    NULL };
static const char *const balance_names[] = { "round-robin", "first",
	"least-connections", "source-hash", NULL };
static const char *const send_proxy_names[] = { "none", "v1", "v2", NULL };

#define G(f)	offsetof(struct config, f)
#define L(f)	offsetof(struct listen_conf, f)

#define NUM(n, t, f, lo, hi, r)						\
	{ .name = (n), .type = (t), .offset = (f), .min = (lo), .max = (hi), \
	  .range = (r) }

#define NKEYS(t)	(sizeof(t) / sizeof((t)[0]))

/* tcp_keepalive = { ... }: offsets within struct keepalive_conf. */
#define K(f)	offsetof(struct keepalive_conf, f)
static const struct key keepalive_keys[] = {
	NUM("idle", KEY_DURATION, K(idle), 1000, 32767 * 1000LL,
	    "1s to 32767s"),
	NUM("interval", KEY_DURATION, K(interval), 1000, 32767 * 1000LL,
	    "1s to 32767s"),
	NUM("count", KEY_INT, K(count), 1, 127, "1 to 127"),
};

/* per_source = { ... }: offsets within struct per_source_conf. */
#define S(f)	offsetof(struct per_source_conf, f)
static const struct key per_source_keys[] = {
	NUM("max_connections", KEY_INT, S(max_connections), 1, 1000000,
	    "1 to 1000000"),
	{ .name = "connection_rate", .type = KEY_RATE, .offset = S(rate_n) },
	NUM("ipv6_prefix", KEY_INT, S(ipv6_prefix), 1, 128, "1 to 128"),
	NUM("table_size", KEY_INT, S(table_size), 64, 16 * 1024 * 1024,
	    "64 to 16777216"),
};

/* health_check = { ... }: offsets within struct health_conf. */
#define H(f)	offsetof(struct health_conf, f)
static const struct key health_keys[] = {
	NUM("interval", KEY_DURATION, H(interval), 100, 3600 * 1000,
	    "100ms to 1h"),
	NUM("timeout", KEY_DURATION, H(timeout), 1, 3600 * 1000, "1ms to 1h"),
	NUM("rise", KEY_INT, H(rise), 1, 100, "1 to 100"),
	NUM("fall", KEY_INT, H(fall), 1, 100, "1 to 100"),
	{ .name = "send", .type = KEY_STRING, .offset = H(send) },
	{ .name = "expect", .type = KEY_STRING, .offset = H(expect) },
};

#define SUB(n, f, keys)							\
	{ .name = (n), .type = KEY_SUBGROUP, .offset = (f),		\
	  .sub = (keys), .nsub = NKEYS(keys) }

static const struct key global_keys[] = {
	{ .name = "log_level", .type = KEY_LOG_LEVEL, .offset = G(log_level) },
	NUM("coroutine_stack_size", KEY_SIZE, G(coroutine_stack_size),
	    CONFIG_STACK_MIN, CONFIG_STACK_MAX, "16k to 1m"),
	NUM("shutdown_timeout", KEY_DURATION, G(shutdown_timeout),
	    0, 3600 * 1000, "0s to 1h"),
	NUM("loop_threads", KEY_INT_AUTO, G(loop_threads), 1,
	    CONFIG_LOOP_THREADS_MAX, "\"auto\" or 1 to 256"),
	NUM("worker_threads", KEY_INT, G(worker_threads), 1, 64, "1 to 64"),
	NUM("worker_queue", KEY_INT, G(worker_queue), 1, 1000000,
	    "1 to 1000000"),
	NUM("resolve_interval", KEY_DURATION, G(resolve_interval),
	    1000, DAY_MS, "1s to 1d"),
	NUM("max_pipes", KEY_INT, G(max_pipes), 0, 1000000,
	    "0 (no splice) to 1000000"),
	{ .name = "listeners", .type = KEY_LISTENERS, .required = 1 },
};

static const struct key listener_keys[] = {
	{ .name = "name", .type = KEY_NAME, .offset = L(name),
	  .required = 1 },
	{ .name = "address", .type = KEY_ADDRESS, .offset = L(address),
	  .required = 1 },
	{ .name = "service", .type = KEY_CHOICE, .offset = L(service),
	  .required = 1, .choices = service_names },
	NUM("backlog", KEY_INT, L(backlog), 1, 65535, "1 to 65535"),
	NUM("max_connections", KEY_INT, L(max_connections), 1, 1000000,
	    "1 to 1000000"),
	NUM("idle_timeout", KEY_DURATION, L(idle_timeout), 0, 30 * DAY_MS,
	    "0 (none) to 30d"),
	{ .name = "access_log", .type = KEY_STRING, .offset = L(access_log) },
	{ .name = "socket_mode", .type = KEY_MODE, .offset = L(socket_mode) },
	{ .name = "socket_group", .type = KEY_GROUP,
	  .offset = L(socket_group) },
	{ .name = "reuseport", .type = KEY_BOOL, .offset = L(reuseport) },
	{ .name = "upstreams", .type = KEY_UPSTREAMS },
	{ .name = "balance", .type = KEY_CHOICE, .offset = L(balance),
	  .choices = balance_names },
	NUM("connect_timeout", KEY_DURATION, L(connect_timeout), 1,
	    3600 * 1000, "1ms to 1h"),
	NUM("max_fails", KEY_INT, L(max_fails), 0, 1000,
	    "0 (never eject) to 1000"),
	NUM("fail_timeout", KEY_DURATION, L(fail_timeout), 1, DAY_MS,
	    "1ms to 1d"),
	NUM("fin_timeout", KEY_DURATION, L(fin_timeout), 0, DAY_MS,
	    "0 (none) to 1d"),
	NUM("header_timeout", KEY_DURATION, L(header_timeout), 1,
	    3600 * 1000, "1ms to 1h"),
	{ .name = "proxy_protocol", .type = KEY_BOOL,
	  .offset = L(proxy_protocol) },
	{ .name = "proxy_protocol_from", .type = KEY_PREFIXES,
	  .offset = L(proxy_protocol_from) },
	NUM("proxy_protocol_timeout", KEY_DURATION,
	    L(proxy_protocol_timeout), 1, 3600 * 1000, "1ms to 1h"),
	{ .name = "send_proxy_protocol", .type = KEY_CHOICE,
	  .offset = L(send_proxy_protocol), .choices = send_proxy_names },
	{ .name = "allow", .type = KEY_PREFIXES, .offset = L(allow) },
	{ .name = "deny", .type = KEY_PREFIXES, .offset = L(deny) },
	{ .name = "allow_uid", .type = KEY_UIDS, .offset = L(allow_uid) },
	SUB("per_source", L(per_source), per_source_keys),
	SUB("tcp_keepalive", L(tcp_keepalive), keepalive_keys),
	SUB("upstream_tcp_keepalive", L(upstream_tcp_keepalive),
	    keepalive_keys),
	SUB("health_check", L(health_check), health_keys),
	{ .name = "splice", .type = KEY_BOOL, .offset = L(splice) },
};

/* Listener keys that only a proxy may set. */
static const char *const proxy_only[] = {
	"upstreams", "balance", "connect_timeout", "fin_timeout",
	"send_proxy_protocol", "upstream_tcp_keepalive", "max_fails",
	"fail_timeout", "health_check", "splice", NULL
};

/* Listener keys that only the metrics service may set. */
static const char *const metrics_only[] = { "header_timeout", NULL };

/* Listener keys that only a unix: address may set. */
static const char *const unix_only[] = {
	"socket_mode", "socket_group", "allow_uid", NULL
};

/* Listener keys that a unix: address may not set. */
static const char *const tcp_only[] = {
	"reuseport", "allow", "deny", "per_source", "tcp_keepalive", NULL
};

/*
 * Listener keys that a udp: address may not set: a UDP echo has no
 * connections, so nothing to limit, time out or log per connection.
 */
static const char *const udp_refused[] = {
	"backlog", "max_connections", "idle_timeout", "proxy_protocol",
	"proxy_protocol_from", "proxy_protocol_timeout", "tcp_keepalive",
	NULL
};

/* Listener keys that need proxy_protocol = true. */
static const char *const proxy_protocol_keys[] = {
	"proxy_protocol_from", "proxy_protocol_timeout", NULL
};

/* Where problems are reported, and how many there were. */
struct parse {
	const char	*file;
	int		 errors;
	const char	*group;		/* the subgroup being walked, or NULL */
	char		 kname[2 * CONFIG_NAME_MAX];	/* kname()'s */
};

/*
 * A key's name as problems give it: "idle" inside tcp_keepalive = {...}
 * is "tcp_keepalive.idle", so that the message says which one.
 */
static const char *
kname(struct parse *p, const struct key *k)
{
	if (p->group == NULL)
		return (k->name);
	snprintf(p->kname, sizeof(p->kname), "%s.%s", p->group, k->name);
	return (p->kname);
}

/* The first problem of this thread's last load, for config_problem(). */
static __thread char	first_problem[CONFIG_PROBLEM_MAX];

/*
 * Report a problem: log it, and keep it if it is the load's first.  It
 * quotes values from the file, which may hold any byte: its control
 * characters are escaped here, as the log would, so that the kept copy
 * (which a reload puts in STATUS=) is one line too.
 */
static void __attribute__((format(printf, 2, 3)))
report(int with_errno, const char *fmt, ...)
{
	char msg[CONFIG_PROBLEM_MAX];
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), ": %s",
		    strerror(saved_errno));
	log_escape_controls(msg, sizeof(msg), msg, strlen(msg));
	log_at(LOG_LEVEL_CRIT, 0, "%s", msg);
	if (first_problem[0] == '\0')
		memcpy(first_problem, msg, sizeof(first_problem));
}

const char *
config_problem(void)
{
	return (first_problem);
}

static void __attribute__((format(printf, 3, 4)))
problem(struct parse *p, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	const char *file = NULL;
	int line = 1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL) {
		line = config_setting_source_line(s);
		file = config_setting_source_file(s);
	}
	report(0, "%s:%d: %s", file ? file : p->file, line > 0 ? line : 1,
	    msg);
	p->errors++;
}

/* *dst = a copy of str, or NULL and a problem: out of memory. */
static void
copy_string(struct parse *p, const config_setting_t *s, char **dst,
    const char *str)
{
	if ((*dst = strdup(str)) == NULL)
		problem(p, s, "out of memory");
}

/* Read digits into *v; return how many bytes were used, 0 on none. */
static size_t
parse_digits(const char *buf, size_t len, int64_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (*v > (INT64_MAX - 9) / 10)
			return (0);
		*v = *v * 10 + (buf[i] - '0');
	}
	return (i);
}

/*
 * Parse digits followed by one of the unit names (case-insensitive; ""
 * is a name too) and scale by that unit's factor.
 */
static int
parse_scaled(const char *buf, size_t len, const char *const *names,
    const int64_t *factors, int64_t *out)
{
	int64_t v;
	size_t n = parse_digits(buf, len, &v), i;

	if (n == 0) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == len - n &&
		    strncasecmp(buf + n, names[i], len - n) == 0) {
			if (v > INT64_MAX / factors[i]) {
				errno = ERANGE;
				return (-1);
			}
			*out = v * factors[i];
			return (0);
		}
	errno = EINVAL;
	return (-1);
}

int
config_duration_parse(const char *buf, size_t len, int64_t *ms)
{
	static const char *const names[] = {
		"", "ms", "s", "m", "h", "d", NULL
	};
	static const int64_t factors[] = {
		1000, 1, 1000, 60 * 1000, 3600 * 1000, DAY_MS
	};

	return (parse_scaled(buf, len, names, factors, ms));
}

int
config_size_parse(const char *buf, size_t len, int64_t *bytes)
{
	static const char *const names[] = { "", "k", "m", NULL };
	static const int64_t factors[] = { 1, 1024, 1024 * 1024 };

	return (parse_scaled(buf, len, names, factors, bytes));
}

int
config_rate_parse(const char *buf, size_t len, int64_t *n, int64_t *ms)
{
	const char *slash = memchr(buf, '/', len);
	size_t k;

	if (slash == NULL || (k = parse_digits(buf, len, n)) == 0 ||
	    buf + k != slash || *n < 1) {
		errno = EINVAL;
		return (-1);
	}
	slash++;
	len -= (size_t)(slash - buf);
	/* "20/s": per one unit, as nginx writes "r/s". */
	if (len > 0 && !(slash[0] >= '0' && slash[0] <= '9')) {
		char one[16];

		if (len > sizeof(one) - 2) {
			errno = EINVAL;
			return (-1);
		}
		one[0] = '1';
		memcpy(one + 1, slash, len);
		if (config_duration_parse(one, len + 1, ms) == -1)
			return (-1);
	} else if (config_duration_parse(slash, len, ms) == -1)
		return (-1);
	/* The token bucket counts in units of 1/ms of a token. */
	if (*ms < 1 || *n > INT64_MAX / *ms) {
		errno = ERANGE;
		return (-1);
	}
	return (0);
}

/* A number from an int, a float (durations) or a string with a unit. */
static int
get_number(const config_setting_t *s, enum key_type type, int64_t *v)
{
	const char *str;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		*v = config_setting_get_int64(s);
		if (type == KEY_DURATION) {
			if (*v < 0 || *v > INT64_MAX / 1000)
				return (-1);
			*v *= 1000;
		}
		return (0);
	case CONFIG_TYPE_FLOAT:
		if (type != KEY_DURATION)
			return (-1);
		double d = config_setting_get_float(s) * 1000.0;
		if (!(d >= 0 && d < 1e15))
			return (-1);
		*v = (int64_t)(d + 0.5);
		return (0);
	case CONFIG_TYPE_STRING:
		str = config_setting_get_string(s);
		if (type == KEY_DURATION)
			return (config_duration_parse(str, strlen(str), v));
		if (type == KEY_SIZE)
			return (config_size_parse(str, strlen(str), v));
		return (-1);
	default:
		return (-1);
	}
}

static const char *
expected(enum key_type type)
{
	switch (type) {
	case KEY_INT:
		return ("an integer");
	case KEY_INT_AUTO:
		return ("an integer or \"auto\"");
	case KEY_DURATION:
		return ("a duration: seconds, or a string such as \"500ms\", "
		    "\"30s\", \"5m\", \"1h\"");
	case KEY_SIZE:
		return ("a size: bytes, or a string such as \"64k\", \"1m\"");
	default:
		return ("a string");
	}
}

static int
apply_number(struct parse *p, const config_setting_t *s,
    const struct key *k, int64_t *field)
{
	const char *str;
	int64_t v;

	if (k->type == KEY_INT_AUTO && (str = config_setting_get_string(s)) !=
	    NULL && strcmp(str, "auto") == 0) {
		*field = 0;
		return (0);
	}
	if (get_number(s, k->type, &v) == -1) {
		problem(p, s, "%s: expected %s", kname(p, k), expected(k->type));
		return (-1);
	}
	if (v < k->min || v > k->max) {
		problem(p, s, "%s: out of range (%s)", kname(p, k), k->range);
		return (-1);
	}
	*field = v;
	return (0);
}

/*
 * The options after an upstream's address, separated by spaces or tabs:
 * weight=N and backup.  opts points past the address.  Returns 0, or -1
 * with the reason in why.
 */
static int
parse_upstream_options(struct upstream_conf *u, const char *opts,
    char *why, size_t size)
{
	char *end;
	size_t len;
	long w;

	for (;;) {
		opts += strspn(opts, " \t");
		if (*opts == '\0')
			return (0);
		len = strcspn(opts, " \t");
		if (len == 6 && strncmp(opts, "backup", 6) == 0) {
			if (u->backup)
				goto twice;
			u->backup = 1;
		} else if (len > 7 && strncmp(opts, "weight=", 7) == 0) {
			if (u->weight != 0)
				goto twice;
			errno = 0;
			w = strtol(opts + 7, &end, 10);
			if (end != opts + len || opts[7] < '0' ||
			    opts[7] > '9' || errno != 0 || w < 1 ||
			    w > CONFIG_WEIGHT_MAX) {
				snprintf(why, size, "upstreams: \"%s\": weight: "
				    "expected a whole number from 1 to %d",
				    u->entry, CONFIG_WEIGHT_MAX);
				return (-1);
			}
			u->weight = w;
		} else {
			snprintf(why, size, "upstreams: \"%s\": unknown "
			    "option \"%.*s\" (known: weight=N, backup%s)",
			    u->entry, (int)len, opts,
			    strncmp(u->entry, "unix:", 5) == 0 ?
			    "; a path cannot have spaces" : "");
			return (-1);
		}
		opts += len;
	}
twice:
	snprintf(why, size, "upstreams: \"%s\": \"%.*s\" given twice",
	    u->entry, (int)strcspn(opts, " \t="), opts);
	return (-1);
}

int
config_upstream_parse(const char *str, struct upstream_conf *u, char *why,
    size_t size)
{
	const char *why_addr = NULL, *why_name = NULL;
	char host[SOCK_NAME_MAX];
	size_t len;

	memset(u, 0, sizeof(*u));
	if (*str == '\0' || *str == ' ' || *str == '\t') {
		snprintf(why, size, "upstreams: expected non-empty strings, "
		    "each an address then its options: "
		    "\"HOST:PORT weight=N\"");
		return (-1);
	}
	len = strcspn(str, " \t");
	if ((u->entry = strdup(str)) == NULL ||
	    (u->text = strndup(str, len)) == NULL) {
		snprintf(why, size, "out of memory");
		goto fail;
	}
	if (parse_upstream_options(u, str + len, why, size) == -1)
		goto fail;
	if (sock_addr_parse(str, len, &u->addr, &why_addr) == 0)
		return (0);
	if (strncmp(str, "unix:", 5) != 0 && memchr(str, '[', len) == NULL &&
	    sock_name_parse(str, len, host, &u->port, &why_name) == 0) {
		if ((u->host = strdup(host)) != NULL)
			return (0);
		snprintf(why, size, "out of memory");
		goto fail;
	}
	snprintf(why, size, "upstreams: \"%s\": expected IPV4:PORT, "
	    "[IPV6]:PORT, NAME:PORT or unix:PATH (%s)", u->text,
	    why_name ? why_name : why_addr);
fail:
	config_upstream_clear(u);
	return (-1);
}

void
config_upstream_clear(struct upstream_conf *u)
{
	free(u->entry);
	free(u->text);
	free(u->host);
	memset(u, 0, sizeof(*u));
}

/* One upstream of the list: a problem at its line if it is bad. */
static void
parse_upstream(struct parse *p, const config_setting_t *s,
    struct upstream_conf *u)
{
	const char *str = config_setting_get_string(s);
	char why[CONFIG_PROBLEM_MAX];

	if (config_upstream_parse(str != NULL ? str : "", u, why,
	    sizeof(why)) == -1)
		problem(p, s, "%s", why);
}

static void
apply_upstreams(struct parse *p, const config_setting_t *s,
    struct listen_conf *lc)
{
	unsigned i, n;

	if ((!config_setting_is_list(s) && !config_setting_is_array(s)) ||
	    (n = (unsigned)config_setting_length(s)) == 0) {
		problem(p, s, "upstreams: expected a non-empty list: "
		    "upstreams = ( \"HOST:PORT\", ... );");
		return;
	}
	if (n > CONFIG_UPSTREAMS_MAX) {
		problem(p, s, "upstreams: %u of them; at most %d", n,
		    CONFIG_UPSTREAMS_MAX);
		return;
	}
	if ((lc->upstreams = calloc(n, sizeof(*lc->upstreams))) == NULL) {
		problem(p, s, "out of memory");
		return;
	}
	lc->nupstreams = n;
	for (i = 0; i < n; i++)
		parse_upstream(p, config_setting_get_elem(s, i),
		    &lc->upstreams[i]);
}

/*
 * A list of CIDR prefixes, compiled into one set: allow, deny,
 * proxy_protocol_from.  Each bad entry is reported at its own line.
 */
static void
apply_prefixes(struct parse *p, const config_setting_t *s,
    const struct key *k, struct addrset **set)
{
	const config_setting_t *e;
	struct addr_prefix *prefixes;
	const char *str, *why;
	unsigned i, n;
	int bad = 0;

	if ((!config_setting_is_list(s) && !config_setting_is_array(s)) ||
	    (n = (unsigned)config_setting_length(s)) == 0) {
		problem(p, s, "%s: expected a non-empty list of prefixes: "
		    "%s = ( \"10.0.0.0/8\", \"::1/128\", ... );", kname(p, k),
		    kname(p, k));
		return;
	}
	if ((prefixes = calloc(n, sizeof(*prefixes))) == NULL) {
		problem(p, s, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if ((str = config_setting_get_string(e)) == NULL) {
			problem(p, e, "%s: expected strings such as "
			    "\"10.0.0.0/8\"", kname(p, k));
			bad = 1;
		} else if (addrset_prefix_parse(str, &prefixes[i],
		    &why) == -1) {
			char net[ADDRSET_PREFIX_STRLEN] = "";

			/* The parse leaves the network it would be. */
			if (strncmp(why, "host bits", 9) == 0)
				addrset_prefix_format(&prefixes[i], net,
				    sizeof(net));
			problem(p, e, "%s: \"%s\": %s%s%s%s", kname(p, k), str,
			    why, net[0] ? " (did you mean \"" : "", net,
			    net[0] ? "\"?)" : "");
			bad = 1;
		}
	}
	if (!bad && (*set = addrset_build(prefixes, n)) == NULL)
		problem(p, s, "out of memory");
	free(prefixes);
}

/* A user's uid or a group's gid by name, or -1 if there is none. */
static int64_t
uid_of(const char *name)
{
	const struct passwd *pw = getpwnam(name);

	return (pw != NULL ? (int64_t)pw->pw_uid : -1);
}

static int64_t
gid_of(const char *name)
{
	const struct group *gr = getgrnam(name);

	return (gr != NULL ? (int64_t)gr->gr_gid : -1);
}

/*
 * A user or group (what: "user", "group"), by name or number, into *v;
 * -1 after a problem naming key.  Names are looked up once, here, so
 * that a typo fails the load as file:line (getpwnam and getgrnam: the
 * configuration is loaded before any thread starts).
 */
static int
parse_id(struct parse *p, const config_setting_t *s, const char *key,
    const char *what, int64_t (*by_name)(const char *), int64_t *v)
{
	const char *str = config_setting_get_string(s);

	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64)
		*v = config_setting_get_int64(s);
	else if (str == NULL || *str == '\0') {
		problem(p, s, "%s: expected a %s name or number", key, what);
		return (-1);
	} else if (parse_digits(str, strlen(str), v) != strlen(str) &&
	    (*v = by_name(str)) == -1) {
		problem(p, s, "%s: \"%s\": no such %s", key, str, what);
		return (-1);
	}
	if (*v < 0 || *v >= (int64_t)UINT32_MAX) {
		problem(p, s, "%s: out of range (0 to 4294967294)", key);
		return (-1);
	}
	return (0);
}

/* allow_uid: users by name or number, as uids. */
static void
apply_uids(struct parse *p, const config_setting_t *s,
    struct listen_conf *lc)
{
	unsigned i, n;
	int64_t v;

	if ((!config_setting_is_list(s) && !config_setting_is_array(s)) ||
	    (n = (unsigned)config_setting_length(s)) == 0) {
		problem(p, s, "allow_uid: expected a non-empty list of users: "
		    "allow_uid = ( 0, \"www-data\", ... );");
		return;
	}
	if ((lc->allow_uid = calloc(n, sizeof(*lc->allow_uid))) == NULL) {
		problem(p, s, "out of memory");
		return;
	}
	lc->nallow_uid = n;
	for (i = 0; i < n; i++)
		if (parse_id(p, config_setting_get_elem(s, i), "allow_uid",
		    "user", uid_of, &v) == 0)
			lc->allow_uid[i] = (uid_t)v;
}

/* "N/DURATION" into num[0] (n) and num[1] (ms). */
static void
apply_rate(struct parse *p, const config_setting_t *s, const struct key *k,
    int64_t *num)
{
	const char *str = config_setting_get_string(s);

	if (str == NULL || config_rate_parse(str, strlen(str), &num[0],
	    &num[1]) == -1)
		problem(p, s, "%s: expected a rate \"N/DURATION\", such as "
		    "\"20/1s\" or \"600/1m\", with N times DURATION in ms "
		    "under 2^63", kname(p, k));
}

static void	walk_group(struct parse *, const config_setting_t *,
		    const struct key *, size_t, char *);
static void	keepalive_defaults(struct keepalive_conf *);
static void	health_defaults(struct health_conf *);

/* Store the index of str in k->choices, or report the choices. */
static void
apply_choice(struct parse *p, const config_setting_t *s, const struct key *k,
    const char *str, int64_t *num)
{
	char list[256];
	size_t i, n = 0;

	for (i = 0; k->choices[i] != NULL; i++)
		if (strcmp(str, k->choices[i]) == 0) {
			*num = (int64_t)i;
			return;
		}
	for (i = 0; k->choices[i] != NULL && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"",
		    i == 0 ? "" : k->choices[i + 1] == NULL ? " or " : ", ",
		    k->choices[i]);
	problem(p, s, "%s: \"%s\": expected %s", kname(p, k), str, list);
}

/*
 * A UNIX socket file's permission bits: an octal string, "0660" or "660",
 * at most 0777.  A bare libconfig integer is refused, because 0660 there
 * is decimal 660, not the mode it looks like.
 */
static void
apply_mode(struct parse *p, const config_setting_t *s, int64_t *num)
{
	const char *str = config_setting_get_string(s);
	size_t len = str ? strlen(str) : 0, i;
	int64_t v = 0;

	/* At most 4 digits are read: a long string must not overflow v. */
	for (i = 0; i < len && i < 4 && str[i] >= '0' && str[i] <= '7'; i++)
		v = v * 8 + (str[i] - '0');
	if (len == 0 || len > 4 || i != len || v > 0777) {
		problem(p, s, "socket_mode: expected an octal string from "
		    "\"0000\" to \"0777\", such as \"0660\"");
		return;
	}
	*num = v;
}

/* socket_group: a group, by name or number, as a gid. */
static void
apply_group(struct parse *p, const config_setting_t *s, int64_t *num)
{
	int64_t v;

	if (parse_id(p, s, "socket_group", "group", gid_of, &v) == 0)
		*num = v;
}

/* Store one setting s, described by k, into the struct at base. */
static void
apply(struct parse *p, const config_setting_t *s, const struct key *k,
    char *base)
{
	const char *str = config_setting_get_string(s), *why;
	int64_t *num = (int64_t *)(base + k->offset);
	char **strp = (char **)(base + k->offset);
	int level, datagram = 0;

	if (k->type == KEY_INT || k->type == KEY_INT_AUTO ||
	    k->type == KEY_DURATION || k->type == KEY_SIZE) {
		apply_number(p, s, k, num);
		return;
	}
	if (k->type == KEY_BOOL) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			problem(p, s, "%s: expected true or false", kname(p, k));
		else
			*num = config_setting_get_bool(s);
		return;
	}
	if (k->type == KEY_UPSTREAMS) {
		apply_upstreams(p, s, (struct listen_conf *)base);
		return;
	}
	if (k->type == KEY_PREFIXES) {
		apply_prefixes(p, s, k, (struct addrset **)(base + k->offset));
		return;
	}
	if (k->type == KEY_UIDS) {
		apply_uids(p, s, (struct listen_conf *)base);
		return;
	}
	if (k->type == KEY_RATE) {
		apply_rate(p, s, k, num);
		return;
	}
	if (k->type == KEY_SUBGROUP) {
		if (!config_setting_is_group(s)) {
			problem(p, s, "%s: expected a group { ... }", kname(p, k));
			return;
		}
		/* Present: on, with defaults for the keys it leaves out. */
		if (k->sub == keepalive_keys)
			keepalive_defaults((struct keepalive_conf *)
			    (base + k->offset));
		else if (k->sub == per_source_keys)
			((struct per_source_conf *)(base + k->offset))->set = 1;
		else if (k->sub == health_keys)
			health_defaults((struct health_conf *)
			    (base + k->offset));
		p->group = k->name;
		walk_group(p, s, k->sub, k->nsub, base + k->offset);
		p->group = NULL;
		return;
	}
	if (k->type == KEY_MODE) {
		apply_mode(p, s, num);
		return;
	}
	if (k->type == KEY_GROUP) {
		apply_group(p, s, num);
		return;
	}
	if (str == NULL || *str == '\0') {
		problem(p, s, "%s: expected a non-empty string", kname(p, k));
		return;
	}
	switch (k->type) {
	case KEY_STRING:
		copy_string(p, s, strp, str);
		break;
	case KEY_NAME:
		/*
		 * A listener's name is one field of every access log line
		 * and the subject of its log lines: no spaces, no controls.
		 */
		if (strspn(str, NAME_CHARS) != strlen(str))
			problem(p, s, "%s: \"%s\": may hold only letters, "
			    "digits, '-', '_' and '.'", kname(p, k), str);
		else if (strlen(str) > CONFIG_NAME_MAX)
			problem(p, s, "%s: longer than %d bytes", kname(p, k),
			    CONFIG_NAME_MAX);
		else
			copy_string(p, s, strp, str);
		break;
	case KEY_LOG_LEVEL:
		if ((level = log_level_parse(str)) == -1)
			problem(p, s, "log_level: \"%s\": expected \"debug\", "
			    "\"info\", \"warn\" or \"crit\"", str);
		else
			*num = level;
		break;
	case KEY_CHOICE:
		apply_choice(p, s, k, str, num);
		break;
	case KEY_ADDRESS:
		copy_string(p, s, strp, str);
		if (sock_listen_parse(str, strlen(str),
		    &((struct listen_conf *)base)->addr, &datagram,
		    &why) == -1)
			problem(p, s, "address \"%s\": %s", str, why);
		((struct listen_conf *)base)->datagram = datagram;
		break;
	default:
		break;
	}
}

/*
 * Fill base from group by the key table, in file order so that problems
 * come out in line order; then report required keys that are missing.
 */
static void
walk_group(struct parse *p, const config_setting_t *group,
    const struct key *keys, size_t nkeys, char *base)
{
	const config_setting_t *s;
	const char *name;
	size_t i, j;

	for (i = 0; (s = config_setting_get_elem(group, (unsigned)i)); i++) {
		name = config_setting_name(s);
		for (j = 0; j < nkeys; j++)
			if (strcmp(name, keys[j].name) == 0)
				break;
		if (j == nkeys)
			problem(p, s, "unknown key \"%s%s%s\"",
			    p->group != NULL ? p->group : "",
			    p->group != NULL ? "." : "", name);
		else if (keys[j].type != KEY_LISTENERS)
			apply(p, s, &keys[j], base);
	}
	for (j = 0; j < nkeys; j++)
		if (keys[j].required &&
		    config_setting_get_member(group, keys[j].name) == NULL)
			problem(p, group, "missing required key \"%s\"",
			    keys[j].name);
}

static void
listener_defaults(struct listen_conf *lc)
{
	lc->backlog = 511;
	lc->max_connections = 1024;
	lc->idle_timeout = 300 * 1000;
	lc->balance = BALANCE_ROUND_ROBIN;
	lc->connect_timeout = 5 * 1000;
	lc->max_fails = 1;		/* nginx's defaults */
	lc->fail_timeout = 10 * 1000;
	lc->fin_timeout = 30 * 1000;
	lc->header_timeout = 10 * 1000;
	lc->socket_mode = 0666;		/* what nginx gives a UNIX listener */
	lc->socket_group = -1;
	lc->reuseport = 1;	/* TCP; what spreads clients best, measured */
	lc->splice = 1;		/* bulk streams only: see proxy.c */
	lc->proxy_protocol_timeout = 3 * 1000;	/* a balancer sends it at once */
	lc->per_source.ipv6_prefix = 64;	/* one host, one /64 */
	lc->per_source.table_size = 65536;
}

/* A health_check group's defaults (HAProxy's) for the keys it leaves out. */
static void
health_defaults(struct health_conf *h)
{
	h->set = 1;
	h->interval = 2 * 1000;
	h->timeout = 1000;
	h->rise = 2;
	h->fall = 3;
}

/* A keepalive group's defaults for the keys it leaves out. */
static void
keepalive_defaults(struct keepalive_conf *ka)
{
	ka->idle = 60 * 1000;
	ka->interval = 10 * 1000;
	ka->count = 6;
}

/* Report each of keys (NULL-terminated) that group g sets: "KEY: why". */
static void
reject_keys(struct parse *p, const config_setting_t *g,
    const char *const *keys, const char *why)
{
	const config_setting_t *s;

	for (; *keys != NULL; keys++)
		if ((s = config_setting_get_member(g, *keys)) != NULL)
			problem(p, s, "%s: %s", *keys, why);
}

/* Keys that depend on the service. */
static void
check_service_keys(struct parse *p, const config_setting_t *g,
    const struct listen_conf *lc)
{
	if (lc->service == SERVICE_PROXY) {
		if (config_setting_get_member(g, "upstreams") == NULL)
			problem(p, g, "listener \"%s\": service \"proxy\" "
			    "needs upstreams = ( \"HOST:PORT\", ... );",
			    lc->name ? lc->name : "?");
	} else
		reject_keys(p, g, proxy_only, "only for service \"proxy\"");
	if (lc->service != SERVICE_METRICS)
		reject_keys(p, g, metrics_only,
		    "only for service \"metrics\"");
}

/*
 * The upstreams' options against the balance, then their defaults: a
 * weight means nothing to "first", which takes them in order, and a
 * list of backups alone has nothing to back up.
 */
static void
check_upstreams(struct parse *p, const config_setting_t *g,
    struct listen_conf *lc)
{
	const config_setting_t *s = config_setting_get_member(g, "upstreams");
	size_t i, backups = 0;

	for (i = 0; i < lc->nupstreams; i++) {
		struct upstream_conf *u = &lc->upstreams[i];

		if (u->weight != 0 && lc->balance == BALANCE_FIRST)
			problem(p, config_setting_get_elem(s, (unsigned)i),
			    "upstreams: \"%s\": weight= has no effect with "
			    "balance = \"first\", which tries them in order",
			    u->entry);
		if (u->weight == 0)
			u->weight = CONFIG_WEIGHT_DEFAULT;
		backups += u->backup != 0;
		/* One state per address (balance.c): twice would be one
		 * upstream counted as two. */
		for (size_t j = 0; j < i; j++)
			if (u->text != NULL && lc->upstreams[j].text != NULL &&
			    strcmp(u->text, lc->upstreams[j].text) == 0) {
				problem(p, config_setting_get_elem(s,
				    (unsigned)i), "upstreams: \"%s\" is "
				    "listed twice (for a larger share, give it "
				    "a weight=)", u->text);
				break;
			}
	}
	if (lc->health_check.expect != NULL &&
	    strlen(lc->health_check.expect) > CONFIG_EXPECT_MAX)
		problem(p, config_setting_get_member(g, "health_check"),
		    "health_check.expect: longer than %d bytes",
		    CONFIG_EXPECT_MAX);
	if (lc->nupstreams > 0 && backups == lc->nupstreams)
		problem(p, s, "upstreams: every one is a backup; at least one "
		    "must be a primary (without \"backup\")");
}

/*
 * The edge's keys: the PROXY protocol's trust, and per_source's sense.
 * On a unix: listener the socket file's permissions are the trust.
 */
static void
check_edge_keys(struct parse *p, const config_setting_t *g,
    const struct listen_conf *lc)
{
	const config_setting_t *s;

	if (!lc->proxy_protocol)
		reject_keys(p, g, proxy_protocol_keys,
		    "only with proxy_protocol = true");
	else if (lc->addr.len != 0 && lc->addr.ss.ss_family != AF_UNIX &&
	    lc->proxy_protocol_from == NULL &&
	    config_setting_get_member(g, "proxy_protocol_from") == NULL)
		problem(p, config_setting_get_member(g, "proxy_protocol"),
		    "proxy_protocol: needs proxy_protocol_from = "
		    "( \"CIDR\", ... ); naming the balancers that may send "
		    "a header");
	if (lc->addr.len != 0 && lc->addr.ss.ss_family == AF_UNIX)
		reject_keys(p, g, (const char *const[]){
		    "proxy_protocol_from", NULL }, "not for a unix: address "
		    "(the socket file's permissions say who may connect)");
	if (lc->per_source.set && lc->per_source.max_connections == 0 &&
	    lc->per_source.rate_ms == 0 &&
	    (s = config_setting_get_member(g, "per_source")) != NULL)
		problem(p, s, "per_source: set max_connections or "
		    "connection_rate (or both)");
}

/*
 * A udp: listener: an echo, without the keys of connections.  Its
 * per_source limits datagrams by connection_rate alone.
 */
static void
check_udp_keys(struct parse *p, const config_setting_t *g,
    const struct listen_conf *lc)
{
	const config_setting_t *s;

	if (lc->service != SERVICE_ECHO &&
	    (s = config_setting_get_member(g, "service")) != NULL)
		problem(p, s, "service: a udp: listener serves only \"echo\"");
	reject_keys(p, g, udp_refused, "not for a udp: address (a UDP "
	    "echo has no connections)");
	reject_keys(p, g, (const char *const[]){ "access_log", NULL },
	    "not for a udp: address (no access log line per datagram; a "
	    "summary is logged at exit)");
	if ((s = config_setting_get_member(g, "per_source")) != NULL &&
	    (s = config_setting_get_member(s, "max_connections")) != NULL)
		problem(p, s, "per_source.max_connections: not for a udp: "
		    "address (only connection_rate, per datagram)");
}

/* Keys that depend on the address family (if the address parsed). */
static void
check_address_keys(struct parse *p, const config_setting_t *g,
    const struct listen_conf *lc)
{
	if (lc->addr.len == 0)
		return;
	if (lc->datagram)
		check_udp_keys(p, g, lc);
	if (lc->addr.ss.ss_family == AF_UNIX)
		reject_keys(p, g, tcp_only, "not for a unix: address");
	else
		reject_keys(p, g, unix_only, "only for a unix: address");
}

/* Names and addresses must be unique across listeners. */
static void
check_unique(struct parse *p, const struct config *cfg,
    const config_setting_t *list)
{
	const struct listen_conf *a, *b;
	size_t i, j;

	for (i = 0; i < cfg->nlisteners; i++) {
		a = &cfg->listeners[i];
		for (j = 0; j < i; j++) {
			b = &cfg->listeners[j];
			if (a->name && b->name && strcmp(a->name, b->name) == 0)
				problem(p, config_setting_get_elem(list,
				    (unsigned)i), "listener \"%s\": name "
				    "already used by the listener at line %d",
				    a->name, b->line);
			else if (a->address && b->address &&
			    a->addr.len != 0 && b->addr.len != 0 &&
			    a->datagram == b->datagram &&
			    sock_addr_equal(&a->addr, &b->addr))
				problem(p, config_setting_get_elem(list,
				    (unsigned)i), "listener \"%s\": address "
				    "%s already used by listener \"%s\" "
				    "(line %d)", a->name ? a->name : "?",
				    a->address, b->name ? b->name : "?",
				    b->line);
		}
	}
}

static void
walk_listeners(struct parse *p, const config_setting_t *root,
    struct config *cfg)
{
	const config_setting_t *list, *g;
	struct listen_conf *lc;
	size_t i, n;

	if ((list = config_setting_get_member(root, "listeners")) == NULL)
		return;		/* reported as a missing key */
	if (!config_setting_is_list(list) ||
	    (n = (size_t)config_setting_length(list)) == 0) {
		problem(p, list, "listeners: expected a non-empty list of "
		    "groups: listeners = ( { name = ...; address = ...; "
		    "service = ...; } );");
		return;
	}
	if ((cfg->listeners = calloc(n, sizeof(*lc))) == NULL) {
		problem(p, list, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(list, (unsigned)i);
		lc = &cfg->listeners[cfg->nlisteners++];
		listener_defaults(lc);
		lc->line = config_setting_source_line(g);
		if (!config_setting_is_group(g)) {
			problem(p, g, "listeners: entry %zu is not a group "
			    "{ ... }", i + 1);
			continue;
		}
		walk_group(p, g, listener_keys, NKEYS(listener_keys),
		    (char *)lc);
		check_service_keys(p, g, lc);
		check_upstreams(p, g, lc);
		check_address_keys(p, g, lc);
		check_edge_keys(p, g, lc);
	}
	check_unique(p, cfg, list);
}

/* Turn a read config_t into a struct config, or NULL after reporting. */
static struct config *
config_build(config_t *cf, const char *file)
{
	struct parse p = { .file = file };
	const config_setting_t *root = config_root_setting(cf);
	struct config *cfg;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->path = strdup(file)) == NULL) {
		report(1, "%s", file);
		free(cfg);
		return (NULL);
	}
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->coroutine_stack_size = CONFIG_STACK_DEFAULT;
	cfg->shutdown_timeout = 30 * 1000;
	cfg->loop_threads = 0;		/* auto */
	cfg->worker_threads = 4;
	cfg->worker_queue = 1024;
	cfg->resolve_interval = 30 * 1000;
	cfg->max_pipes = 256;	/* x 16 pages: a quarter of pipe-user-pages-soft */
	walk_group(&p, root, global_keys, NKEYS(global_keys), (char *)cfg);
	walk_listeners(&p, root, cfg);
	if (p.errors > 0) {
		config_free(cfg);
		return (NULL);
	}
	return (cfg);
}

static void
syntax_problem(const config_t *cf, const char *file)
{
	const char *f = config_error_file(cf);

	report(0, "%s:%d: %s", f ? f : file, config_error_line(cf),
	    config_error_text(cf));
}

struct config *
config_load(const char *path)
{
	struct config *cfg = NULL;
	char *dir;
	config_t cf;
	FILE *fp;

	first_problem[0] = '\0';
	if ((fp = fopen(path, "r")) == NULL) {
		report(1, "%s", path);
		return (NULL);
	}
	/* @include paths are relative to the file's own directory. */
	if ((dir = strdup(path)) == NULL) {
		report(1, "%s", path);
		fclose(fp);
		return (NULL);
	}
	config_init(&cf);
	config_set_include_dir(&cf, dirname(dir));
	if (config_read(&cf, fp) == CONFIG_TRUE)
		cfg = config_build(&cf, path);
	else
		syntax_problem(&cf, path);
	config_destroy(&cf);
	free(dir);
	fclose(fp);
	return (cfg);
}

struct config *
config_load_string(const char *text, const char *name)
{
	struct config *cfg = NULL;
	config_t cf;

	first_problem[0] = '\0';
	config_init(&cf);
	if (config_read_string(&cf, text) == CONFIG_TRUE)
		cfg = config_build(&cf, name);
	else
		syntax_problem(&cf, name);
	config_destroy(&cf);
	return (cfg);
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL || atomic_fetch_sub(&cfg->holds, 1) > 0)
		return;
	for (i = 0; i < cfg->nlisteners; i++) {
		struct listen_conf *lc = &cfg->listeners[i];

		free(lc->name);
		free(lc->address);
		free(lc->access_log);
		for (size_t j = 0; j < lc->nupstreams; j++)
			config_upstream_clear(&lc->upstreams[j]);
		free(lc->upstreams);
		free(lc->health_check.send);
		free(lc->health_check.expect);
		addrset_free(lc->proxy_protocol_from);
		addrset_free(lc->allow);
		addrset_free(lc->deny);
		free(lc->allow_uid);
	}
	free(cfg->listeners);
	free(cfg->path);
	free(cfg);
}

const struct config *
config_hold(const struct config *cfg)
{
	/* The count is the one thing in a loaded configuration that
	 * changes. */
	atomic_fetch_add(&((struct config *)cfg)->holds, 1);
	return (cfg);
}

const char *
config_service_name(int64_t service)
{
	return (service >= 0 && service <= SERVICE_METRICS ?
	    service_names[service] : "?");
}
