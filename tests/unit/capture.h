/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CAPTURE_H
#define CAPTURE_H

/*
 * For unit tests that check what the code under test writes to stderr
 * (log lines, config problems, a crash report from a child).
 */
#include <stdio.h>
#include <unistd.h>

static char	capture_text[8192];
static int	capture_saved = -1;
static FILE	*capture_fp;

/* capture_slurp(fp): fp's text from the start (8 KiB at most); closes fp. */
static inline const char *
capture_slurp(FILE *fp)
{
	size_t n;

	rewind(fp);
	n = fread(capture_text, 1, sizeof(capture_text) - 1, fp);
	capture_text[n] = '\0';
	fclose(fp);
	return (capture_text);
}

/* capture_begin(): send stderr to a temporary file until capture_end(). */
static inline void
capture_begin(void)
{
	fflush(stderr);
	capture_fp = tmpfile();
	capture_saved = dup(STDERR_FILENO);
	dup2(fileno(capture_fp), STDERR_FILENO);
}

/* capture_end(): put stderr back; what was written to it meanwhile. */
static inline const char *
capture_end(void)
{
	fflush(stderr);
	dup2(capture_saved, STDERR_FILENO);
	close(capture_saved);
	return (capture_slurp(capture_fp));
}

/* count_lines(s): how many '\n' s holds. */
static inline int
count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += (*s == '\n');
	return (n);
}

#endif /* CAPTURE_H */
