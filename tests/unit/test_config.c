/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_config: the shipped file, defaults, and every kind of bad file
 * reported with its exact file:line.
 *
 * strdup() and calloc() are defined here, over libc's, so that a test
 * can make an allocation by config.c fail (see alloc_fails()).
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "check.h"
#include "log.h"

/* Which allocations may fail: none, or one of the two functions. */
enum { ALLOC_ANY, ALLOC_STRDUP, ALLOC_CALLOC };

static int	alloc_mode = ALLOC_ANY;
static int	alloc_count;		/* calls that could have failed */
static int	alloc_fail_at;		/* the one that does */
static int	alloc_failed;		/* and it did */

/* The linker's: where this executable's own code lies. */
extern const char	__executable_start[], etext[];

/*
 * 1 if this call, from caller, is to fail: the alloc_fail_at'th of the
 * kind alloc_mode names.  Only calls from this executable's code count
 * (config.c is linked into it), not libconfig's or libc's own.
 */
static int
alloc_fails(int mode, const void *caller)
{
	if (alloc_mode != mode || (const char *)caller < __executable_start ||
	    (const char *)caller >= etext)
		return (0);
	if (alloc_count++ != alloc_fail_at)
		return (0);
	alloc_failed = 1;
	errno = ENOMEM;
	return (1);
}

char *
strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (alloc_fails(ALLOC_STRDUP, __builtin_return_address(0)))
		return (NULL);
	if ((p = malloc(n)) != NULL)
		memcpy(p, s, n);
	return (p);
}

/* Through a pointer: the compiler would make malloc and memset calloc. */
static void *(*volatile zero)(void *, int, size_t) = memset;

void *
calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (alloc_fails(ALLOC_CALLOC, __builtin_return_address(0)))
		return (NULL);
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return (NULL);
	}
	if ((p = malloc(total)) != NULL)
		zero(p, 0, total);
	return (p);
}

/* Load text; expect failure whose messages contain each of want[]. */
static void
bad(const char *what, const char *text, const char *const *want)
{
	struct config *cfg;
	const char *out;
	int ok = 1;

	capture_begin();
	cfg = config_load_string(text, "t.conf");
	out = capture_end();
	for (; *want; want++)
		if (strstr(out, *want) == NULL) {
			ok = 0;
			printf("# missing \"%s\" in:\n# %s", *want, out);
		}
	CHECK(cfg == NULL && ok, "%s", what);
	config_free(cfg);
}

#define BAD(what, text, ...) do {					\
	const char *const want_[] = { __VA_ARGS__, NULL };		\
	bad(what, text, want_);						\
} while (0)

#define ONE_LISTENER(extra)						\
	"listeners = (\n"						\
	"  { name = \"e\"; address = \"127.0.0.1:7007\";\n"		\
	"    service = \"echo\"; " extra " }\n"				\
	");\n"

static void
test_shipped_file(void)
{
	struct config *cfg = config_load(AIO_SOURCE_DIR "/conf/aio-echod.conf");

	CHECK(cfg != NULL, "conf/aio-echod.conf loads");
	if (cfg == NULL)
		return;
	CHECK(cfg->log_level == LOG_LEVEL_INFO &&
	    cfg->coroutine_stack_size == 64 * 1024 &&
	    cfg->shutdown_timeout == 30000, "shipped globals");
	CHECK(cfg->nlisteners == 3 &&
	    strcmp(cfg->listeners[0].address, "127.0.0.1:7007") == 0 &&
	    strcmp(cfg->listeners[1].address,
	    "unix:/run/aio-echod/echo.sock") == 0 &&
	    strcmp(cfg->listeners[2].address, "127.0.0.1:9707") == 0 &&
	    cfg->listeners[0].service == SERVICE_ECHO &&
	    cfg->listeners[1].service == SERVICE_ECHO &&
	    cfg->listeners[2].service == SERVICE_METRICS &&
	    cfg->listeners[2].header_timeout == 10000,
	    "shipped listeners: echo on TCP and on a UNIX socket, metrics "
	    "on loopback");
	config_free(cfg);
}

/* The binary's built-in default is exactly conf/aio-echod.conf. */
static void
test_builtin_default(void)
{
	static char file[16384];
	struct config *cfg;
	FILE *fp = fopen(AIO_SOURCE_DIR "/conf/aio-echod.conf", "r");
	size_t n = fp ? fread(file, 1, sizeof(file) - 1, fp) : 0;

	if (fp != NULL)
		fclose(fp);
	file[n] = '\0';
	CHECK(n > 0 && strcmp(file, config_default_text) == 0,
	    "built-in default is conf/aio-echod.conf, byte for byte");
	cfg = config_load_string(config_default_text, CONFIG_DEFAULT_NAME);
	CHECK(cfg != NULL && cfg->nlisteners == 3, "built-in default loads");
	config_free(cfg);
}

static void
test_defaults(void)
{
	struct config *cfg = config_load_string(ONE_LISTENER(""), "t.conf");
	const struct listen_conf *lc;

	CHECK(cfg != NULL, "a minimal file loads");
	if (cfg == NULL)
		return;
	lc = &cfg->listeners[0];
	CHECK(cfg->log_level == LOG_LEVEL_INFO &&
	    cfg->coroutine_stack_size == 65536 &&
	    cfg->shutdown_timeout == 30000, "global defaults");
	CHECK(lc->backlog == 511 && lc->max_connections == 1024 &&
	    lc->idle_timeout == 300000 && lc->line == 2,
	    "listener defaults and its line");
	config_free(cfg);
}

static void
test_names(void)
{
	struct config *cfg = config_load_string(
	    "listeners = ( { name = \"Echo-1_a.b\"; address = \"127.0.0.1:1\";"
	    " service = \"echo\"; } );\n", "t.conf");

	CHECK(cfg != NULL && strcmp(cfg->listeners[0].name, "Echo-1_a.b") == 0,
	    "a listener name of letters, digits, '-', '_' and '.' loads");
	config_free(cfg);
}

#define UNIX_LISTENER(extra)						\
	"listeners = (\n"						\
	"  { name = \"u\"; address = \"unix:/run/x/u.sock\";\n"		\
	"    service = \"echo\"; " extra " }\n"				\
	");\n"

static void
test_socket_keys(void)
{
	struct config *cfg;

	cfg = config_load_string(UNIX_LISTENER(""), "t.conf");
	CHECK(cfg != NULL && cfg->listeners[0].socket_mode == 0666 &&
	    cfg->listeners[0].socket_group == -1,
	    "socket_mode defaults to 0666, socket_group to unchanged");
	config_free(cfg);
	cfg = config_load_string(UNIX_LISTENER(
	    "socket_mode = \"0660\"; socket_group = \"0\";"), "t.conf");
	CHECK(cfg != NULL && cfg->listeners[0].socket_mode == 0660 &&
	    cfg->listeners[0].socket_group == 0,
	    "socket_mode \"0660\" and a numeric socket_group");
	config_free(cfg);
	cfg = config_load_string(UNIX_LISTENER(
	    "socket_mode = \"600\"; socket_group = \"root\";"), "t.conf");
	CHECK(cfg != NULL && cfg->listeners[0].socket_mode == 0600 &&
	    cfg->listeners[0].socket_group == 0,
	    "three-digit socket_mode and a group name (root)");
	config_free(cfg);
	cfg = config_load_string(UNIX_LISTENER("socket_group = 42;"), "t.conf");
	CHECK(cfg != NULL && cfg->listeners[0].socket_group == 42,
	    "an integer socket_group");
	config_free(cfg);

	BAD("socket_mode as a decimal-looking integer",
	    UNIX_LISTENER("\nsocket_mode = 660;"),
	    "t.conf:4: socket_mode: expected an octal string");
	BAD("socket_mode with a non-octal digit",
	    UNIX_LISTENER("\nsocket_mode = \"0689\";"),
	    "t.conf:4: socket_mode: expected an octal string");
	BAD("socket_mode with setuid or sticky bits",
	    UNIX_LISTENER("\nsocket_mode = \"1777\";"),
	    "t.conf:4: socket_mode: expected an octal string");
	BAD("socket_mode too long",
	    UNIX_LISTENER("\nsocket_mode = \"00660\";"),
	    "t.conf:4: socket_mode: expected");
	BAD("socket_mode in letters",
	    UNIX_LISTENER("\nsocket_mode = \"rw-rw----\";"),
	    "t.conf:4: socket_mode: expected");
	BAD("an unknown socket_group",
	    UNIX_LISTENER("\nsocket_group = \"no-such-group-aio\";"),
	    "t.conf:4: socket_group: \"no-such-group-aio\": no such group");
	BAD("a negative socket_group",
	    UNIX_LISTENER("\nsocket_group = -2;"),
	    "t.conf:4: socket_group: out of range");
	BAD("socket_mode and socket_group on a TCP listener",
	    ONE_LISTENER("\nsocket_mode = \"0660\";\nsocket_group = 0;"),
	    "t.conf:4: socket_mode: only for a unix: address",
	    "t.conf:5: socket_group: only for a unix: address");
}

static void
test_value_forms(void)
{
	struct config *cfg = config_load_string(
	    "log_level = \"DEBUG\";\n"
	    "coroutine_stack_size = 32768;\n"
	    "shutdown_timeout = 2.5;\n"
	    ONE_LISTENER("idle_timeout = \"1500ms\"; backlog = 7; "
	    "max_connections = 3;"), "t.conf");

	CHECK(cfg != NULL && cfg->log_level == LOG_LEVEL_DEBUG &&
	    cfg->coroutine_stack_size == 32768 &&
	    cfg->shutdown_timeout == 2500 &&
	    cfg->listeners[0].idle_timeout == 1500 &&
	    cfg->listeners[0].backlog == 7 &&
	    cfg->listeners[0].max_connections == 3,
	    "ints, floats, unit strings and case-insensitive levels");
	config_free(cfg);
}

static void
test_bad_files(void)
{
	BAD("syntax error with its line",
	    "log_level = \"info\";\nlisteners = ( { name = \"e\" );\n",
	    "t.conf:2: syntax error");
	BAD("unknown global key",
	    "log_level = \"info\";\nlog_levle = \"debug\";\n"
	    ONE_LISTENER(""), "t.conf:2: unknown key \"log_levle\"");
	BAD("unknown listener key",
	    ONE_LISTENER("\n idle = 5;"), "t.conf:4: unknown key \"idle\"");
	BAD("stack size out of range",
	    "coroutine_stack_size = \"8k\";\n" ONE_LISTENER(""),
	    "t.conf:1: coroutine_stack_size: out of range (16k to 1m)");
	BAD("stack size with a bad unit",
	    "coroutine_stack_size = \"64q\";\n" ONE_LISTENER(""),
	    "t.conf:1: coroutine_stack_size: expected a size");
	BAD("bad duration",
	    "shutdown_timeout = \"soon\";\n" ONE_LISTENER(""),
	    "t.conf:1: shutdown_timeout: expected a duration");
	BAD("negative duration",
	    "shutdown_timeout = -1;\n" ONE_LISTENER(""),
	    "t.conf:1: shutdown_timeout: expected a duration");
	BAD("duration out of range",
	    "shutdown_timeout = \"2h\";\n" ONE_LISTENER(""),
	    "t.conf:1: shutdown_timeout: out of range (0s to 1h)");
	BAD("wrong type",
	    ONE_LISTENER("\nbacklog = \"many\";"),
	    "t.conf:4: backlog: expected an integer");
	BAD("backlog out of range",
	    ONE_LISTENER("\nbacklog = 0;"),
	    "t.conf:4: backlog: out of range (1 to 65535)");
	BAD("bad log level",
	    "log_level = \"loud\";\n" ONE_LISTENER(""),
	    "t.conf:1: log_level: \"loud\": expected");
	BAD("bad service",
	    "listeners = ( { name = \"e\"; address = \"127.0.0.1:1\";\n"
	    "service = \"chargen\"; } );\n",
	    "t.conf:2: service: \"chargen\": expected \"echo\"");
	BAD("bad address",
	    "listeners = ( { name = \"e\";\naddress = \"localhost:7\";"
	    " service = \"echo\"; } );\n",
	    "t.conf:2: address \"localhost:7\": host must be a numeric");
	BAD("missing keys, at the group's line",
	    "log_level = \"info\";\nlisteners = (\n  { name = \"e\"; }\n);\n",
	    "t.conf:3: missing required key \"address\"",
	    "t.conf:3: missing required key \"service\"");
	BAD("no listeners", "log_level = \"info\";\n",
	    "t.conf:1: missing required key \"listeners\"");
	BAD("empty listeners", "\nlisteners = ();\n",
	    "t.conf:2: listeners: expected a non-empty list");
	BAD("entry not a group", "listeners = ( 5 );\n",
	    "t.conf:1: listeners: entry 1 is not a group");
	BAD("a listener name with a space",
	    "listeners = ( { name = \"my echo\";\n address = \"127.0.0.1:1\";"
	    " service = \"echo\"; } );\n",
	    "t.conf:1: name: \"my echo\": may hold only letters, digits");
	BAD("a listener name over 64 bytes",
	    "listeners = ( { name = \"a123456789b123456789c123456789"
	    "d123456789e123456789f123456789g12345\";\n"
	    " address = \"127.0.0.1:1\"; service = \"echo\"; } );\n",
	    "t.conf:1: name: longer than 64 bytes");
	BAD("a listener name with a newline",
	    "listeners = ( { address = \"127.0.0.1:1\";\n"
	    " name = \"a\\nb\"; service = \"echo\"; } );\n",
	    "t.conf:2: name: \"a");
	BAD("a listener name with a slash",
	    "listeners = ( { name = \"a/b\"; address = \"127.0.0.1:1\";"
	    " service = \"echo\"; } );\n",
	    "t.conf:1: name: \"a/b\": may hold only");
	BAD("duplicate name",
	    "listeners = (\n"
	    " { name = \"e\"; address = \"127.0.0.1:1\"; service = \"echo\"; },\n"
	    " { name = \"e\"; address = \"127.0.0.1:2\"; service = \"echo\"; }\n"
	    ");\n",
	    "t.conf:3: listener \"e\": name already used by the listener at line 2");
	BAD("duplicate address",
	    "listeners = (\n"
	    " { name = \"a\"; address = \"127.0.0.1:1\"; service = \"echo\"; },\n"
	    " { name = \"b\"; address = \"127.0.0.1:1\"; service = \"echo\"; }\n"
	    ");\n",
	    "t.conf:3: listener \"b\": address 127.0.0.1:1 already used by "
	    "listener \"a\" (line 2)");
}

static void
test_proxy_keys(void)
{
	struct config *cfg = config_load_string(
	    "worker_threads = 2; worker_queue = 64; resolve_interval = \"10s\";\n"
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    "  service = \"proxy\"; balance = \"first\";\n"
	    "  upstreams = ( \"127.0.0.1:5432\", \"db2.example.net:5432\",\n"
	    "    \"unix:/run/x.sock\", \"[::1]:7\" );\n"
	    "  connect_timeout = \"250ms\"; fin_timeout = 0;\n"
	    "  access_log = \"/var/log/aio-echod/access.log\"; } );\n",
	    "t.conf");
	const struct listen_conf *lc;

	CHECK(cfg != NULL, "a proxy listener loads");
	if (cfg == NULL)
		return;
	lc = &cfg->listeners[0];
	CHECK(cfg->worker_threads == 2 && cfg->worker_queue == 64 &&
	    cfg->resolve_interval == 10000, "pool and resolver globals");
	CHECK(lc->service == SERVICE_PROXY && lc->balance == BALANCE_FIRST &&
	    lc->connect_timeout == 250 && lc->fin_timeout == 0 &&
	    strcmp(lc->access_log, "/var/log/aio-echod/access.log") == 0,
	    "proxy keys");
	CHECK(lc->nupstreams == 4 && lc->upstreams[0].host == NULL &&
	    lc->upstreams[1].host != NULL &&
	    strcmp(lc->upstreams[1].host, "db2.example.net") == 0 &&
	    lc->upstreams[1].port == 5432 && lc->upstreams[2].host == NULL &&
	    lc->upstreams[3].addr.ss.ss_family == AF_INET6,
	    "numeric, named, UNIX and IPv6 upstreams");
	config_free(cfg);
	cfg = config_load_string(ONE_LISTENER(""), "t.conf");
	CHECK(cfg && cfg->worker_threads == 4 && cfg->worker_queue == 1024 &&
	    cfg->resolve_interval == 30000 &&
	    cfg->listeners[0].connect_timeout == 5000 &&
	    cfg->listeners[0].fin_timeout == 30000 &&
	    cfg->listeners[0].balance == BALANCE_ROUND_ROBIN &&
	    cfg->listeners[0].access_log == NULL, "issue 4 defaults");
	config_free(cfg);
	cfg = config_load_string(
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    "  service = \"proxy\"; upstreams = ( \"10.0.0.1:80\",\n"
	    "  \"db.0x7f.example:5\", \"4chan.example.net:80\",\n"
	    "  \"0x.example:80\" ); } );\n", "t.conf");
	CHECK(cfg != NULL && cfg->listeners[0].upstreams[0].host == NULL &&
	    cfg->listeners[0].upstreams[1].host != NULL &&
	    cfg->listeners[0].upstreams[2].host != NULL,
	    "a dotted quad is numeric; names with digits elsewhere are names");
	config_free(cfg);

	BAD("proxy without upstreams",
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    " service = \"proxy\"; } );\n",
	    "t.conf:1: listener \"p\": service \"proxy\" needs upstreams");
	BAD("upstreams on an echo listener",
	    ONE_LISTENER("\nupstreams = ( \"127.0.0.1:2\" );"),
	    "t.conf:4: upstreams: only for service \"proxy\"");
	BAD("a bad upstream, at its line",
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    " service = \"proxy\"; upstreams = ( \"127.0.0.1:2\",\n"
	    " \"no_such:host:x\" ); } );\n",
	    "t.conf:3: upstreams: \"no_such:host:x\": expected");
	BAD("an octal-looking upstream is not a name",
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    " service = \"proxy\";\n upstreams = ( \"010.0.0.1:80\" ); } );\n",
	    "t.conf:3: upstreams: \"010.0.0.1:80\": expected",
	    "dotted-quad");
	BAD("a hex-looking upstream is not a name",
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    " service = \"proxy\"; upstreams = (\n\"127.0.0.1:2\",\n"
	    " \"0x7f.0.0.1:80\" ); } );\n",
	    "t.conf:4: upstreams: \"0x7f.0.0.1:80\": expected");
	BAD("a three-part IPv4 upstream is not a name",
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    " service = \"proxy\"; upstreams = ( \"1.2.3:80\" ); } );\n",
	    "t.conf:2: upstreams: \"1.2.3:80\": expected", "dotted-quad");
	BAD("a bare number upstream is not a name",
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    " service = \"proxy\"; upstreams = ( \"2130706433:80\" ); } );\n",
	    "t.conf:2: upstreams: \"2130706433:80\"", "dotted-quad");
	BAD("an empty upstream list",
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    " service = \"proxy\"; upstreams = (); } );\n",
	    "t.conf:2: upstreams: expected a non-empty list");
	BAD("bad balance",
	    "listeners = ( { name = \"p\"; address = \"127.0.0.1:1\";\n"
	    " service = \"proxy\"; upstreams = ( \"127.0.0.1:2\" );\n"
	    " balance = \"random\"; } );\n",
	    "t.conf:3: balance: \"random\": expected");
	BAD("worker_threads out of range", "worker_threads = 0;\n"
	    ONE_LISTENER(""), "t.conf:1: worker_threads: out of range (1 to 64)");
}

/* loop_threads: "auto" or 1 to 256; reuseport: a TCP boolean. */
static void
test_thread_keys(void)
{
	struct config *cfg;

	cfg = config_load_string(ONE_LISTENER(""), "t.conf");
	CHECK(cfg != NULL && cfg->loop_threads == 0 &&
	    cfg->listeners[0].reuseport == 1,
	    "loop_threads defaults to auto (0), reuseport to true");
	config_free(cfg);
	cfg = config_load_string("loop_threads = \"auto\";\n"
	    ONE_LISTENER("reuseport = false;"), "t.conf");
	CHECK(cfg != NULL && cfg->loop_threads == 0 &&
	    cfg->listeners[0].reuseport == 0, "\"auto\", reuseport = false");
	config_free(cfg);
	cfg = config_load_string("loop_threads = 256;\n" ONE_LISTENER(""),
	    "t.conf");
	CHECK(cfg != NULL && cfg->loop_threads == 256, "loop_threads = 256");
	config_free(cfg);
	BAD("loop_threads = 0", "loop_threads = 0;\n" ONE_LISTENER(""),
	    "t.conf:1: loop_threads: out of range (\"auto\" or 1 to 256)");
	BAD("loop_threads = 257", "loop_threads = 257;\n" ONE_LISTENER(""),
	    "t.conf:1: loop_threads: out of range");
	BAD("loop_threads = \"many\"", "loop_threads = \"many\";\n"
	    ONE_LISTENER(""),
	    "t.conf:1: loop_threads: expected an integer or \"auto\"");
	BAD("reuseport = 1", ONE_LISTENER("reuseport = 1;"),
	    "t.conf:3: reuseport: expected true or false");
	BAD("reuseport on a unix: listener",
	    "listeners = ( { name = \"u\"; address = \"unix:/tmp/x.sock\";\n"
	    " service = \"echo\"; reuseport = true; } );\n",
	    "t.conf:2: reuseport: not for a unix: address");
}

/* Every problem is reported, not just the first. */
static void
test_all_problems_reported(void)
{
	struct config *cfg;
	const char *out;

	capture_begin();
	cfg = config_load_string(
	    "log_level = \"loud\";\n"
	    "bogus = 1;\n"
	    ONE_LISTENER("\nbacklog = -5; idle_timeout = \"x\";"), "t.conf");
	out = capture_end();
	CHECK(cfg == NULL && count_lines(out) == 4 &&
	    strstr(out, "t.conf:1:") && strstr(out, "t.conf:2:") &&
	    strstr(out, "t.conf:6: backlog") &&
	    strstr(out, "t.conf:6: idle_timeout") &&
	    strstr(out, "t.conf:1:") < strstr(out, "t.conf:2:"),
	    "four problems, four lines, in file order");
}

static void
test_real_file(void)
{
	char path[] = "/tmp/test_config.XXXXXX";
	char want[128];
	struct config *cfg;
	const char *out;
	int fd = mkstemp(path);

	(void)!write(fd, "\n\nlisteners = 7;\n", 17);
	close(fd);
	capture_begin();
	cfg = config_load(path);
	out = capture_end();
	snprintf(want, sizeof(want), "%s:3: listeners: expected", path);
	CHECK(cfg == NULL && strstr(out, want) != NULL,
	    "a file's problems name its path and line");
	unlink(path);

	capture_begin();
	cfg = config_load("/nonexistent/aio-echod.conf");
	out = capture_end();
	CHECK(cfg == NULL && strstr(out,
	    "/nonexistent/aio-echod.conf: No such file or directory"),
	    "a missing file is one clear line");
}

/*
 * A value may hold any byte (libconfig reads "\n" in a string): the
 * problems that quote it stay one line each, in the log and in
 * config_problem(), which a failed reload puts in systemd's STATUS=.
 */
static void
test_controls_in_problems(void)
{
	struct config *cfg;
	const char *out, *first;

	capture_begin();
	cfg = config_load_string(
	    "log_level = \"warn\\nMAINPID=1\\nSTOPPING=1\";\n"
	    "listeners = (\n"
	    "  { name = \"a\\nb\"; address = \"1.2.3.4:5\\r\";\n"
	    "    service = \"proxy\\n\"; upstreams = ( \"x\\ny:1\" ); }\n"
	    ");\n", "t\nu.conf");
	out = capture_end();
	first = config_problem();
	CHECK(cfg == NULL && count_lines(out) == 6 &&
	    strstr(out, "log_level: \"warn\\x0aMAINPID=1\\x0aSTOPPING=1\"") &&
	    strstr(out, "name: \"a\\x0ab\"") &&
	    strstr(out, "\"1.2.3.4:5\\x0d\"") &&
	    strstr(out, "service: \"proxy\\x0a\"") &&
	    strstr(out, "\"x\\x0ay:1\""),
	    "six problems quoting controls are six lines, escaped");
	if (check_failed > 0)
		printf("# %s", out);
	CHECK(strchr(first, '\n') == NULL && strchr(first, '\r') == NULL &&
	    strcmp(first, "t\\x0au.conf:1: log_level: \"warn\\x0aMAINPID=1"
	    "\\x0aSTOPPING=1\": expected \"debug\", \"info\", \"warn\" or "
	    "\"crit\"") == 0,
	    "config_problem() is one line, escaped: %s", first);
}

/* Every field a loaded configuration must hold, for oom_run(). */
static int
complete(const struct config *cfg)
{
	const struct listen_conf *e = &cfg->listeners[0];
	const struct listen_conf *p = &cfg->listeners[1];

	return (cfg->path != NULL && cfg->nlisteners == 2 &&
	    e->name != NULL && e->address != NULL && e->access_log != NULL &&
	    p->name != NULL && p->address != NULL && p->nupstreams == 2 &&
	    p->upstreams[0].text != NULL && p->upstreams[1].text != NULL &&
	    p->upstreams[1].host != NULL);
}

/*
 * Make the 1st, 2nd, ... allocation of one kind by config.c fail, until
 * a load makes none fail: each load before must fail with a message
 * about memory, never give a configuration with a field missing (a NULL
 * access_log turned logging off; a NULL upstream text crashed a
 * reload), nor exit.  ASan's leak check covers the unwinding.
 */
static void
oom_run(int mode, const char *what, const char *path)
{
	struct config *cfg;
	const char *out;
	int n;

	for (n = 0; n < 64; n++) {
		alloc_count = 0;
		alloc_fail_at = n;
		alloc_failed = 0;
		capture_begin();
		alloc_mode = mode;
		cfg = config_load(path);
		alloc_mode = ALLOC_ANY;
		out = capture_end();
		if (!alloc_failed) {
			CHECK(cfg != NULL && complete(cfg), "%s: the file "
			    "loads whole when none of its %d fails", what, n);
			config_free(cfg);
			return;
		}
		CHECK(cfg == NULL && strstr(config_problem(), "memory") &&
		    count_lines(out) >= 1, "%s #%d fails: so does the load: "
		    "%s", what, n + 1, config_problem());
		config_free(cfg);
	}
	CHECK(0, "%s: still failing after %d", what, n);
}

static void
test_out_of_memory(void)
{
	char path[] = "/tmp/test_config.XXXXXX";
	static const char text[] =
	    "log_level = \"info\";\n"
	    "listeners = (\n"
	    "  { name = \"e\"; address = \"127.0.0.1:7007\";\n"
	    "    service = \"echo\"; access_log = \"/tmp/e.log\";\n"
	    "    proxy_protocol = true; proxy_protocol_from = ( \"::1\" );\n"
	    "    allow = ( \"10.0.0.0/8\" ); deny = ( \"10.1.0.0/16\" );\n"
	    "    per_source = { max_connections = 2; }; },\n"
	    "  { name = \"p\"; address = \"unix:/tmp/p.sock\";\n"
	    "    allow_uid = ( 0, \"root\" );\n"
	    "    service = \"proxy\";\n"
	    "    upstreams = ( \"127.0.0.1:7\", \"localhost:7\" ); }\n"
	    ");\n";
	int fd = mkstemp(path);

	(void)!write(fd, text, sizeof(text) - 1);
	close(fd);
	oom_run(ALLOC_STRDUP, "strdup", path);
	/* Last: before the fix, a failed calloc exited the process. */
	oom_run(ALLOC_CALLOC, "calloc", path);
	unlink(path);
}

/* The edge's keys: what they load as, and where they are errors. */
static void
test_edge_keys(void)
{
	struct config *cfg = config_load_string(
	    "listeners = (\n"
	    "  { name = \"e\"; address = \"127.0.0.1:1\"; service = \"echo\";\n"
	    "    proxy_protocol = true;\n"
	    "    proxy_protocol_from = ( \"10.0.0.0/8\", \"::1\" );\n"
	    "    proxy_protocol_timeout = \"500ms\";\n"
	    "    allow = ( \"192.0.2.0/24\" ); deny = ( \"192.0.2.1\" );\n"
	    "    per_source = { connection_rate = \"20/s\"; ipv6_prefix = 56; };\n"
	    "    tcp_keepalive = { count = 3; }; },\n"
	    "  { name = \"p\"; address = \"unix:/tmp/x.sock\"; service = \"proxy\";\n"
	    "    upstreams = ( \"127.0.0.1:2\" ); send_proxy_protocol = \"v2\";\n"
	    "    allow_uid = ( 0, \"root\", 65534 );\n"
	    "    upstream_tcp_keepalive = { idle = 30; interval = \"5s\"; }; }\n"
	    ");\n", "t.conf");
	const struct listen_conf *e, *p;

	CHECK(cfg != NULL, "edge keys load");
	if (cfg == NULL)
		return;
	e = &cfg->listeners[0];
	p = &cfg->listeners[1];
	CHECK(e->proxy_protocol == 1 && e->proxy_protocol_from != NULL &&
	    e->proxy_protocol_timeout == 500 && e->allow != NULL &&
	    e->deny != NULL && e->send_proxy_protocol == SEND_PROXY_NONE,
	    "proxy_protocol, its trust and timeout, allow, deny");
	CHECK(e->per_source.set && e->per_source.max_connections == 0 &&
	    e->per_source.rate_n == 20 && e->per_source.rate_ms == 1000 &&
	    e->per_source.ipv6_prefix == 56 &&
	    e->per_source.table_size == 65536, "per_source, with defaults");
	CHECK(e->tcp_keepalive.idle == 60000 &&
	    e->tcp_keepalive.interval == 10000 && e->tcp_keepalive.count == 3,
	    "tcp_keepalive: defaults for the keys left out");
	CHECK(p->send_proxy_protocol == SEND_PROXY_V2 && p->nallow_uid == 3 &&
	    p->allow_uid[0] == 0 && p->allow_uid[1] == 0 &&
	    p->allow_uid[2] == 65534 && p->upstream_tcp_keepalive.idle ==
	    30000 && p->upstream_tcp_keepalive.interval == 5000 &&
	    p->tcp_keepalive.idle == 0, "send_proxy_protocol, allow_uid, "
	    "upstream_tcp_keepalive; tcp_keepalive off unless set");
	config_free(cfg);

	BAD("allow, deny, per_source and tcp_keepalive are TCP keys",
	    "listeners = ( { name = \"u\"; address = \"unix:/tmp/u\";\n"
	    "  service = \"echo\"; allow = ( \"::/0\" );\n"
	    "  deny = ( \"::/0\" ); per_source = { max_connections = 1; };\n"
	    "  tcp_keepalive = { idle = 1; }; } );\n",
	    "t.conf:2: allow: not for a unix: address",
	    "t.conf:3: deny: not for a unix: address",
	    "t.conf:3: per_source: not for a unix: address",
	    "t.conf:4: tcp_keepalive: not for a unix: address");
	BAD("allow_uid is a unix: key; users must exist",
	    ONE_LISTENER("allow_uid = ( \"no-such-user-here\" );"),
	    "t.conf:3: allow_uid: \"no-such-user-here\": no such user",
	    "t.conf:3: allow_uid: only for a unix: address");
	BAD("per_source needs a limit; its keys have ranges",
	    ONE_LISTENER("per_source = { ipv6_prefix = 129; };"),
	    "t.conf:3: per_source.ipv6_prefix: out of range (1 to 128)",
	    "t.conf:3: per_source: set max_connections or connection_rate");
	BAD("a key inside a group is named with its group",
	    ONE_LISTENER("tcp_keepalive = { idel = \"5s\"; };"),
	    "t.conf:3: unknown key \"tcp_keepalive.idel\"");
	BAD("a rate is N/DURATION",
	    ONE_LISTENER("per_source = { connection_rate = \"fast\"; };"),
	    "t.conf:3: per_source.connection_rate: expected a rate \"N/DURATION\"");
	BAD("keepalive's keys have ranges, and a group is a group",
	    ONE_LISTENER("tcp_keepalive = { count = 0; idle = \"500ms\"; };\n"
	    "per_source = 3;"),
	    "t.conf:3: tcp_keepalive.count: out of range (1 to 127)",
	    "t.conf:3: tcp_keepalive.idle: out of range (1s to 32767s)",
	    "t.conf:4: per_source: expected a group { ... }");
	BAD("bad prefixes, each at its line",
	    ONE_LISTENER("allow = ( \"10.0.0.0/33\",\n \"10.0.0.1/8\", 7 );"),
	    "t.conf:3: allow: \"10.0.0.0/33\": ",
	    "t.conf:4: allow: \"10.0.0.1/8\": host bits set: not a network "
	    "address (did you mean \"10.0.0.0/8\"?)",
	    "t.conf:4: allow: expected strings such as");
	BAD("an empty list is an error",
	    ONE_LISTENER("deny = ( );"),
	    "t.conf:3: deny: expected a non-empty list of prefixes");
}

static void
test_unit_parsers(void)
{
	int64_t v, n;

	CHECK(config_duration_parse("30", 2, &v) == 0 && v == 30000,
	    "bare duration is seconds");
	CHECK(config_duration_parse("250ms", 5, &v) == 0 && v == 250, "ms");
	CHECK(config_duration_parse("5m", 2, &v) == 0 && v == 300000, "m");
	CHECK(config_duration_parse("2d", 2, &v) == 0 && v == 172800000, "d");
	CHECK(config_duration_parse("1H", 2, &v) == 0 && v == 3600000,
	    "units ignore case");
	CHECK(config_duration_parse("s", 1, &v) == -1 && errno == EINVAL,
	    "unit without a number");
	CHECK(config_duration_parse("1 s", 3, &v) == -1, "inner space");
	CHECK(config_duration_parse("99999999999999999d", 18, &v) == -1 &&
	    errno == ERANGE, "overflow is ERANGE");
	CHECK(config_size_parse("64k", 3, &v) == 0 && v == 65536, "64k");
	CHECK(config_size_parse("1M", 2, &v) == 0 && v == 1048576, "1M");
	CHECK(config_size_parse("1g", 2, &v) == -1, "no g unit");
	CHECK(config_rate_parse("20/1s", 5, &n, &v) == 0 && n == 20 &&
	    v == 1000, "rate 20/1s");
	CHECK(config_rate_parse("5/s", 3, &n, &v) == 0 && n == 5 && v == 1000,
	    "rate 5/s: per one unit");
	CHECK(config_rate_parse("600/2m", 6, &n, &v) == 0 && n == 600 &&
	    v == 120000, "rate 600/2m");
	CHECK(config_rate_parse("0/1s", 4, &n, &v) == -1 &&
	    config_rate_parse("20", 2, &n, &v) == -1 &&
	    config_rate_parse("/1s", 3, &n, &v) == -1 &&
	    config_rate_parse("20/", 3, &n, &v) == -1 &&
	    config_rate_parse("20/0s", 5, &n, &v) == -1 &&
	    config_rate_parse("20/xyzzyxyzzyxyzzyxyzzy", 22, &n, &v) == -1 &&
	    config_rate_parse("2 0/1s", 6, &n, &v) == -1,
	    "bad rates: 0/1s, 20, /1s, 20/, 20/0s, a long unit, a space");
	/* The token bucket counts N * ms: -n once passed one that the
	 * daemon then failed to start on (and a reload died on). */
	CHECK(config_rate_parse("10000000000000/1d", 17, &n, &v) == -1 &&
	    errno == ERANGE && config_rate_parse("1000000/1d", 10, &n,
	    &v) == 0, "a rate whose N * ms overflows is ERANGE");
}

/* udp: listeners: what they take, what they refuse, at which line. */
static void
test_udp_keys(void)
{
	struct config *cfg;

	cfg = config_load_string("listeners = (\n"
	    " { name = \"u\"; address = \"udp:127.0.0.1:7007\";"
	    " service = \"echo\"; allow = ( \"127.0.0.0/8\" );"
	    " per_source = { connection_rate = \"100/1s\"; }; },\n"
	    " { name = \"t\"; address = \"127.0.0.1:7007\";"
	    " service = \"echo\"; },\n"
	    " { name = \"u6\"; address = \"udp:[::1]:7\";"
	    " service = \"echo\"; reuseport = false; }\n);\n", "t.conf");
	CHECK(cfg != NULL && cfg->nlisteners == 3 &&
	    cfg->listeners[0].datagram == 1 &&
	    cfg->listeners[0].addr.ss.ss_family == AF_INET &&
	    cfg->listeners[0].per_source.rate_n == 100 &&
	    cfg->listeners[1].datagram == 0 &&
	    cfg->listeners[2].datagram == 1 &&
	    cfg->listeners[2].addr.ss.ss_family == AF_INET6,
	    "udp: listeners load, and TCP and UDP may share an address:port");
	config_free(cfg);
	BAD("udp: proxy or metrics",
	    "listeners = ( { name = \"u\"; address = \"udp:127.0.0.1:1\";\n"
	    " service = \"metrics\"; } );\n",
	    "t.conf:2: service: a udp: listener serves only \"echo\"");
	BAD("udp: keys of connections",
	    "listeners = ( { name = \"u\"; address = \"udp:127.0.0.1:1\";"
	    " service = \"echo\";\n max_connections = 10;\n"
	    " idle_timeout = \"10s\";\n access_log = \"/tmp/x\";\n"
	    " proxy_protocol = true;\n tcp_keepalive = { idle = \"1m\"; };\n"
	    " socket_mode = \"0600\";\n backlog = 5;\n"
	    " per_source = {\n max_connections = 2; }; } );\n",
	    "t.conf:2: max_connections: not for a udp: address",
	    "t.conf:3: idle_timeout: not for a udp: address",
	    "t.conf:4: access_log: not for a udp: address (no access log "
	    "line per datagram; a summary is logged at exit)",
	    "t.conf:5: proxy_protocol: not for a udp: address",
	    "t.conf:6: tcp_keepalive: not for a udp: address",
	    "t.conf:7: socket_mode: only for a unix: address",
	    "t.conf:8: backlog: not for a udp: address",
	    "t.conf:10: per_source.max_connections: not for a udp: address");
	BAD("udp: on a UNIX path",
	    "listeners = ( { name = \"u\";\n address = \"udp:unix:/tmp/u\";"
	    " service = \"echo\"; } );\n",
	    "t.conf:2: address \"udp:unix:/tmp/u\": a udp: address is");
	BAD("two udp: listeners on one address",
	    "listeners = (\n"
	    " { name = \"a\"; address = \"udp:127.0.0.1:1\"; service = \"echo\"; },\n"
	    " { name = \"b\"; address = \"udp:127.0.0.1:1\"; service = \"echo\"; }\n"
	    ");\n",
	    "t.conf:3: listener \"b\": address udp:127.0.0.1:1 already used by "
	    "listener \"a\" (line 2)");
}

/* config_upstream_parse(): one upstreams entry, alone (fuzzed too). */
/* Found by fuzzing: a long socket_mode overflowed while it was read. */
static void
test_long_socket_mode(void)
{
	struct config *cfg = config_load_string("listeners = ( { name = \"u\"; "
	    "address = \"unix:/tmp/x.sock\"; service = \"echo\"; "
	    "socket_mode = \"06555555555555555555560\"; } );", "t.conf");

	CHECK(cfg == NULL && strstr(config_problem(), "t.conf:1: socket_mode: "
	    "expected an octal string") != NULL,
	    "a 23-digit socket_mode is refused, read no further than 4 "
	    "digits: %s", config_problem());
	config_free(cfg);
}

static void
test_upstream_parse(void)
{
	struct upstream_conf u;
	char why[CONFIG_PROBLEM_MAX];

	CHECK(config_upstream_parse("10.0.0.1:6379 weight=3\tbackup", &u, why,
	    sizeof(why)) == 0 && strcmp(u.text, "10.0.0.1:6379") == 0 &&
	    strcmp(u.entry, "10.0.0.1:6379 weight=3\tbackup") == 0 &&
	    u.weight == 3 && u.backup == 1 && u.host == NULL &&
	    u.addr.ss.ss_family == AF_INET, "address, weight and backup");
	config_upstream_clear(&u);
	CHECK(u.entry == NULL && u.text == NULL, "clear frees and zeroes");
	CHECK(config_upstream_parse("db.example:5432", &u, why,
	    sizeof(why)) == 0 && strcmp(u.host, "db.example") == 0 &&
	    u.port == 5432 && u.weight == 0 && u.backup == 0,
	    "a name to resolve, no options (weight 0: the default later)");
	config_upstream_clear(&u);
	CHECK(config_upstream_parse("10.0.0.1:80 weight=0", &u, why,
	    sizeof(why)) == -1 && u.entry == NULL && strstr(why,
	    "weight: expected a whole number from 1 to 256") != NULL,
	    "weight 0 is refused, u left cleared: %s", why);
	CHECK(config_upstream_parse("10.0.0.1:80 backup backup", &u, why,
	    sizeof(why)) == -1 && strstr(why, "\"backup\" given twice"),
	    "an option twice: %s", why);
	CHECK(config_upstream_parse("unix:/a b", &u, why, sizeof(why)) ==
	    -1 && strstr(why, "a path cannot have spaces"),
	    "a unix path with a space says why: %s", why);
	CHECK(config_upstream_parse(" 10.0.0.1:80", &u, why, sizeof(why)) ==
	    -1 && strstr(why, "expected non-empty strings"),
	    "a leading space: %s", why);
	CHECK(config_upstream_parse("1.2.3:80", &u, why, sizeof(why)) ==
	    -1 && strstr(why, "expected IPV4:PORT"),
	    "a malformed number is not a name: %s", why);
}

int
main(void)
{
	test_upstream_parse();
	test_long_socket_mode();
	test_shipped_file();
	test_builtin_default();
	test_defaults();
	test_value_forms();
	test_names();
	test_socket_keys();
	test_bad_files();
	test_proxy_keys();
	test_all_problems_reported();
	test_thread_keys();
	test_real_file();
	test_controls_in_problems();
	test_edge_keys();
	test_unit_parsers();
	test_out_of_memory();
	test_udp_keys();
	return (check_done());
}
