/* SPDX-License-Identifier: MIT */
/*
 * The smallest complete use of shmpipe: a parent writes three messages,
 * a forked child reads them until end of stream.
 */
#include <shmpipe.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int child(const char *name)
{
	struct shmpipe_reader *r;
	char buf[64];
	size_t len;
	int rc;

	if ((rc = shmpipe_reader_open(name, &r)) < 0)
		return fprintf(stderr, "reader: %s\n", strerror(-rc)), 1;
	while ((rc = shmpipe_read(r, buf, sizeof(buf), &len, -1)) == 0)
		printf("got: %.*s\n", (int)len, buf);
	shmpipe_reader_close(r, 0);
	fflush(stdout);
	return rc == SHMPIPE_EOF ? 0 : 1;
}

int main(void)
{
	static const char *words[] = { "one", "two", "three" };
	struct shmpipe_writer *w;
	char name[64];
	int i, rc, status;
	pid_t pid;

	snprintf(name, sizeof(name), "hello-%d", (int)getpid());
	if ((rc = shmpipe_create(name, NULL)) < 0 ||
	    (rc = shmpipe_writer_open(name, &w)) < 0) {
		fprintf(stderr, "%s: %s\n", name, strerror(-rc));
		return 1;
	}
	pid = fork();
	if (pid == 0)
		_exit(child(name));
	for (i = 0; i < 3; i++)
		shmpipe_write(w, words[i], strlen(words[i]), -1);
	shmpipe_writer_close(w, 0);
	waitpid(pid, &status, 0);
	shmpipe_unlink(name);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
