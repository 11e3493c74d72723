/* SPDX-License-Identifier: MIT */
/*
 * Run the fuzz target over files, without libFuzzer: the regression test
 * for the corpus.  Any crash, sanitizer report or trap fails the run.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT	(1 << 20)

static void replay(const char *path, uint8_t *buf)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		err(1, "%s", path);
	n = fread(buf, 1, MAX_INPUT, f);
	if (ferror(f))
		err(1, "%s", path);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
}

int main(int argc, char **argv)
{
	uint8_t *buf = malloc(MAX_INPUT);
	int i;

	if (!buf)
		err(1, "malloc");
	for (i = 1; i < argc; i++)
		replay(argv[i], buf);
	printf("replayed %d inputs\n", argc - 1);
	free(buf);
	return 0;
}
