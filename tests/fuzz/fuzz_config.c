/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a whole configuration file (config_load_string() and
 * config_load(), libconfig's parser and our checks on top of it).
 * Operators generate these from templates and other people's data.
 * Beyond not crashing or leaking: the text loads twice, once as a
 * string and once from a file as "aio-echod -n -f FILE" reads it, to
 * equal configurations, or both fail with the same first problem.  (A
 * second load from a string found nothing the file's did not, at half
 * the speed.)
 * A text that holds "@include" is skipped: it names files to open, which
 * are the operator's, and a fuzzer must not read /dev/zero.
 */
#include <sys/mman.h>

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "addrset.h"
#include "config.h"
#include "fuzz.h"
#include "log.h"

/* Longest text tried: libconfig's speed, not ours, is the limit. */
#define FUZZ_CONFIG_MAX	(64 * 1024)

static int	memfd = -1;
static char	memfd_path[64];

static bool
same_str(const char *a, const char *b)
{
	return (a == b || (a != NULL && b != NULL && strcmp(a, b) == 0));
}

static bool
same_upstream(const struct upstream_conf *a, const struct upstream_conf *b)
{
	return (same_str(a->entry, b->entry) && same_str(a->text, b->text) &&
	    same_str(a->host, b->host) && a->port == b->port &&
	    (a->host != NULL || sock_addr_equal(&a->addr, &b->addr)) &&
	    a->weight == b->weight && a->backup == b->backup);
}

static bool
same_listener(const struct listen_conf *a, const struct listen_conf *b)
{
	size_t i;

	if (!same_str(a->name, b->name) || !same_str(a->address, b->address) ||
	    !sock_addr_equal(&a->addr, &b->addr) ||
	    a->datagram != b->datagram || a->service != b->service ||
	    a->backlog != b->backlog ||
	    a->max_connections != b->max_connections ||
	    a->idle_timeout != b->idle_timeout ||
	    !same_str(a->access_log, b->access_log) ||
	    a->socket_mode != b->socket_mode ||
	    a->socket_group != b->socket_group ||
	    a->reuseport != b->reuseport || a->nupstreams != b->nupstreams ||
	    a->balance != b->balance || a->max_fails != b->max_fails ||
	    a->fail_timeout != b->fail_timeout ||
	    a->connect_timeout != b->connect_timeout ||
	    a->fin_timeout != b->fin_timeout ||
	    a->header_timeout != b->header_timeout ||
	    a->proxy_protocol != b->proxy_protocol ||
	    a->proxy_protocol_timeout != b->proxy_protocol_timeout ||
	    a->send_proxy_protocol != b->send_proxy_protocol ||
	    !addrset_equal(a->proxy_protocol_from, b->proxy_protocol_from) ||
	    !addrset_equal(a->allow, b->allow) ||
	    !addrset_equal(a->deny, b->deny) ||
	    a->nallow_uid != b->nallow_uid || a->line != b->line)
		return (false);
	for (i = 0; i < a->nupstreams; i++)
		if (!same_upstream(&a->upstreams[i], &b->upstreams[i]))
			return (false);
	for (i = 0; i < a->nallow_uid; i++)
		if (a->allow_uid[i] != b->allow_uid[i])
			return (false);
	return (a->health_check.set == b->health_check.set &&
	    a->health_check.interval == b->health_check.interval &&
	    a->health_check.timeout == b->health_check.timeout &&
	    a->health_check.rise == b->health_check.rise &&
	    a->health_check.fall == b->health_check.fall &&
	    same_str(a->health_check.send, b->health_check.send) &&
	    same_str(a->health_check.expect, b->health_check.expect) &&
	    memcmp(&a->per_source, &b->per_source,
	    sizeof(a->per_source)) == 0 &&
	    memcmp(&a->tcp_keepalive, &b->tcp_keepalive,
	    sizeof(a->tcp_keepalive)) == 0 &&
	    memcmp(&a->upstream_tcp_keepalive, &b->upstream_tcp_keepalive,
	    sizeof(a->upstream_tcp_keepalive)) == 0);
}

static bool
same_config(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->log_level != b->log_level ||
	    a->coroutine_stack_size != b->coroutine_stack_size ||
	    a->shutdown_timeout != b->shutdown_timeout ||
	    a->loop_threads != b->loop_threads ||
	    a->worker_threads != b->worker_threads ||
	    a->worker_queue != b->worker_queue ||
	    a->resolve_interval != b->resolve_interval ||
	    a->nlisteners != b->nlisteners)
		return (false);
	for (i = 0; i < a->nlisteners; i++)
		if (!same_listener(&a->listeners[i], &b->listeners[i]))
			return (false);
	return (true);
}

/* Check the result of a second load against the first. */
static void
same_load(const struct config *first, const char *first_problem,
    const struct config *again, const char *how)
{
	if ((first == NULL) != (again == NULL))
		fuzz_fail("%s: %s, first load: %s", how,
		    again ? "loads" : config_problem(),
		    first ? "loaded" : first_problem);
	if (first == NULL && strcmp(first_problem, config_problem()) != 0)
		fuzz_fail("%s: \"%s\", first load: \"%s\"", how,
		    config_problem(), first_problem);
	if (first != NULL && !same_config(first, again))
		fuzz_fail("%s: a different configuration", how);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(0);		/* below every level: the fuzzer's output only */
	if ((memfd = memfd_create("fuzz_config", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char first_problem[CONFIG_PROBLEM_MAX], *text;
	struct config *first, *again;

	if (size > FUZZ_CONFIG_MAX ||
	    memmem(data, size, "@include", 8) != NULL)
		return (0);
	if ((text = malloc(size + 1)) == NULL)
		return (0);
	memcpy(text, data, size);
	text[size] = '\0';

	first = config_load_string(text, memfd_path);
	snprintf(first_problem, sizeof(first_problem), "%s",
	    config_problem());
	fuzz_check((first == NULL) == (first_problem[0] != '\0'));

	/* The same bytes from a file (libconfig reads a file with its own
	 * scanner input; a NUL ends a string but not a file). */
	if (ftruncate(memfd, 0) == -1 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size)
		fuzz_fail("memfd: %m");
	again = config_load(memfd_path);
	if (memchr(data, '\0', size) == NULL)
		same_load(first, first_problem, again, "from a file");
	config_free(again);
	config_free(first);
	free(text);
	return (0);
}
