/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A fuzz target without libFuzzer: run it once on each file named on
 * the command line, or on every file of each directory named.  CTest
 * runs each target over its committed corpus this way in every build
 * (normal, ASan+UBSan), so a crash that fuzzing once found stays fixed
 * even where clang is missing.  Exit 0 if every input passed (a failing
 * property aborts).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"

/* Weak: only the targets that set something up define it. */
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

static int
run_file(const char *path)
{
	FILE *fp;
	uint8_t *data;
	long size;

	if ((fp = fopen(path, "rb")) == NULL ||
	    fseek(fp, 0, SEEK_END) == -1 || (size = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return (-1);
	}
	/* Exactly size bytes, so a read past the input is an ASan report. */
	if ((data = malloc(size > 0 ? (size_t)size : 1)) == NULL ||
	    fread(data, 1, (size_t)size, fp) != (size_t)size) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(data);
		fclose(fp);
		return (-1);
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	free(data);
	return (0);
}

int
main(int argc, char **argv)
{
	struct dirent **names;
	struct stat st;
	char path[4096];
	int i, j, n, files = 0, bad = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1 || !S_ISDIR(st.st_mode)) {
			bad += run_file(argv[i]) == -1;
			files++;
			continue;
		}
		if ((n = scandir(argv[i], &names, NULL, alphasort)) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			bad++;
			continue;
		}
		for (j = 0; j < n; j++) {
			if (names[j]->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", argv[i],
				    names[j]->d_name);
				bad += run_file(path) == -1;
				files++;
			}
			free(names[j]);
		}
		free(names);
	}
	printf("replay: %d inputs, %d unreadable\n", files, bad);
	return (bad == 0 && files > 0 ? 0 : 1);
}
