/*
 * prom.c: the Prometheus text format (see prom.h).
 * Stub: being written.
 */
#include "prom.h"

#include <stdlib.h>

void
prom_buf_init(struct prom_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

void
prom_buf_free(struct prom_buf *b)
{
	free(b->data);
	prom_buf_init(b);
}
