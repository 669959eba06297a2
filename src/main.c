/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main.c: options, the order of the calls, exit codes.
 *
 * Parse the command line, load the configuration (and stop there for
 * -n), then hand over to the daemon (daemon.c): open, serve until a stop
 * signal has drained it, close.  Exit 0 after a clean stop, 1 on any
 * error, 2 on a bad command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "coro.h"
#include "daemon.h"
#include "hygiene.h"
#include "log.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: aio-echod [-nvVh] [-f file]\n"
	    "  -f file  configuration file (default " DEFAULT_CONFIG ",\n"
	    "           or the built-in default if that does not exist)\n"
	    "  -n       check the configuration, print \"configuration OK\","
	    " and exit\n"
	    "  -v       log at debug level (a line per connection)\n"
	    "  -V       print the version and exit\n"
	    "  -h       print this help and exit\n");
}

static void
parse_options(int argc, char **argv, struct options *opt)
{
	int ch;

	while ((ch = getopt(argc, argv, "f:nvVh")) != -1) {
		switch (ch) {
		case 'f':
			opt->path = optarg;
			break;
		case 'n':
			opt->check = 1;
			break;
		case 'v':
			opt->verbose = 1;
			break;
		case 'V':
			printf("aio-echod %s (coroutines: %s)\n", AIO_VERSION,
			    coro_backend());
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "aio-echod: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct daemon d = { .opt = &opt };
	int status = 1;

	/* Before anything opens an fd that could land on 0, 1 or 2. */
	if (hygiene_stdio() == -1)
		return (1);
	parse_options(argc, argv, &opt);
	log_init(opt.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if ((d.cfg = daemon_load_config(&opt)) == NULL)
		return (1);
	if (opt.check) {
		printf("configuration OK\n");
		config_free(d.cfg);
		return (0);
	}
	log_init(opt.verbose ? LOG_LEVEL_DEBUG : (int)d.cfg->log_level);

	if (daemon_open(&d) == 0 && daemon_serve(&d) == 0)
		status = 0;
	daemon_close(&d);
	return (status);
}
