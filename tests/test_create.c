/* SPDX-License-Identifier: MIT */
/*
 * shmpipe_create, shmpipe_unlink, opening, names, attributes, formats.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"

static void shm_path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "/dev/shm/shmpipe.%s", name);
}

static void create__defaults(void **state)
{
	const char *n = th_name("def");
	struct shmpipe_writer *w;
	char path[128];
	struct stat st;

	(void)state;
	assert_int_equal(shmpipe_create(n, NULL), 0);
	shm_path(path, sizeof(path), n);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SHMPIPE_HDR_SIZE + (1 << 20));
	assert_int_equal(shmpipe_writer_open(n, &w), 0);
	assert_int_equal(shmpipe_writer_max_message(w), (1 << 20) - 8);
	assert_int_equal(shmpipe_writer_close(w, 0), 0);
}

static void create__exists(void **state)
{
	const char *n = th_pipe("exist", 0);

	(void)state;
	assert_int_equal(shmpipe_create(n, NULL), -EEXIST);
}

static void create__bad_names(void **state)
{
	static const char *bad[] = { "", "a/b", "../x", "a b", "é", "x\n",
				     "tab\t", "a*", "a:b" };
	char longname[SHMPIPE_NAME_MAX + 2];
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(shmpipe_create(bad[i], NULL), -EINVAL);
		assert_int_equal(shmpipe_unlink(bad[i]), -EINVAL);
		assert_int_equal(shmpipe_writer_open(bad[i], &w), -EINVAL);
		assert_int_equal(shmpipe_reader_open(bad[i], &r), -EINVAL);
	}
	assert_int_equal(shmpipe_create(NULL, NULL), -EINVAL);
	memset(longname, 'a', sizeof(longname));
	longname[SHMPIPE_NAME_MAX + 1] = '\0';
	assert_int_equal(shmpipe_create(longname, NULL), -EINVAL);
}

static void create__longest_name(void **state)
{
	char name[SHMPIPE_NAME_MAX + 1];
	int len = snprintf(name, sizeof(name), "test-%d-long-", (int)getpid());

	(void)state;
	memset(name + len, 'x', SHMPIPE_NAME_MAX - len);
	name[SHMPIPE_NAME_MAX] = '\0';
	assert_int_equal(shmpipe_create(name, NULL), 0);
	assert_int_equal(shmpipe_unlink(name), 0);
	assert_int_equal(shmpipe_unlink(name), -ENOENT);
}

static void create__capacity(void **state)
{
	static const struct { size_t asked, cap; } cases[] = {
		{ 4096, 4096 }, { 4097, 8192 }, { 65536, 65536 },
		{ 100000, 131072 }, { 1UL << 30, 1UL << 30 },
	};
	struct shmpipe_attr a = { 0 };
	char path[128];
	struct stat st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *n = th_name("cap");

		a.capacity = cases[i].asked;
		assert_int_equal(shmpipe_create(n, &a), 0);
		shm_path(path, sizeof(path), n);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, SHMPIPE_HDR_SIZE + cases[i].cap);
		assert_int_equal(shmpipe_max_message(cases[i].asked),
				 cases[i].cap - 8);
		assert_int_equal(shmpipe_unlink(n), 0);
	}
	assert_int_equal(shmpipe_max_message(0), (1 << 20) - 8);
	assert_int_equal(shmpipe_max_message(4095), 0);
	assert_int_equal(shmpipe_max_message((1UL << 30) + 1), 0);
}

static void create__bad_attr(void **state)
{
	const char *n = th_name("attr");
	struct shmpipe_attr a = { .capacity = 4095 };

	(void)state;
	assert_int_equal(shmpipe_create(n, &a), -EINVAL);
	a.capacity = (1UL << 30) + 1;
	assert_int_equal(shmpipe_create(n, &a), -EINVAL);
	a.capacity = 0;
	a.mode = 01777;
	assert_int_equal(shmpipe_create(n, &a), -EINVAL);
	a.mode = 0;
	a.reserved[3] = 1;
	assert_int_equal(shmpipe_create(n, &a), -EINVAL);
	a.reserved[3] = 0;
	a.flags = 0x100;
	assert_int_equal(shmpipe_create(n, &a), -EINVAL);
	assert_int_equal(shmpipe_unlink(n), -ENOENT);
}

/* The mode asked for is the mode set, whatever the umask. */
static void create__mode_ignores_umask(void **state)
{
	static const mode_t modes[] = { 0666, 0640, 0604, 0777, 0400 };
	struct shmpipe_attr a = { 0 };
	mode_t old = umask(0077);
	char path[128];
	struct stat st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const char *n = th_name("mode");

		a.mode = modes[i];
		assert_int_equal(shmpipe_create(n, &a), 0);
		shm_path(path, sizeof(path), n);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, modes[i]);
	}
	umask(old);
}

static void create__owner(void **state)
{
	struct shmpipe_attr a = { .flags = SHMPIPE_ATTR_UID | SHMPIPE_ATTR_GID,
				  .uid = 65534, .gid = 65534 };
	const char *n = th_name("own");
	char path[128];
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(shmpipe_create(n, &a), 0);
	shm_path(path, sizeof(path), n);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
}

static void open__missing(void **state)
{
	const char *n = th_name("missing");
	struct shmpipe_writer *w = NULL;
	struct shmpipe_reader *r = NULL;

	(void)state;
	assert_int_equal(shmpipe_writer_open(n, &w), -ENOENT);
	assert_int_equal(shmpipe_reader_open(n, &r), -ENOENT);
	assert_null(w);
	assert_null(r);
	assert_int_equal(shmpipe_writer_open(n, NULL), -EINVAL);
}

/* Write bytes into a fresh object under a pipe's name. */
static void plant(const char *name, const void *data, size_t len,
		  off_t size)
{
	char path[128];
	int fd;

	shm_path(path, sizeof(path), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	if (len)
		assert_int_equal(pwrite(fd, data, len, 0), (ssize_t)len);
	close(fd);
}

static void open__not_a_pipe(void **state)
{
	struct shmpipe_writer *w;
	struct shmpipe_reader *r;
	const char *n = th_name("junk");
	char junk[4096];

	(void)state;
	memset(junk, 0x5a, sizeof(junk));
	plant(n, junk, sizeof(junk), 1 << 16);
	assert_int_equal(shmpipe_writer_open(n, &w), -EPROTO);
	assert_int_equal(shmpipe_reader_open(n, &r), -EPROTO);
	plant(n, NULL, 0, 0);
	assert_int_equal(shmpipe_writer_open(n, &w), -EPROTO);
	plant(n, junk, 100, 100);
	assert_int_equal(shmpipe_reader_open(n, &r), -EPROTO);
}

/* Copy a real header, change one field, and expect it refused. */
static void open__altered_header(void **state)
{
	static const size_t fields[] = {
		offsetof(struct shmpipe_shared, sh_magic),
		offsetof(struct shmpipe_shared, sh_version),
		offsetof(struct shmpipe_shared, sh_abi),
		offsetof(struct shmpipe_shared, sh_capacity),
		offsetof(struct shmpipe_shared, sh_seg_size),
		offsetof(struct shmpipe_shared, sh_hdr_size),
		offsetof(struct shmpipe_shared, sh_slots),
	};
	struct shmpipe_writer *w;
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *n = th_pipe("alter", 4096);
		uint8_t byte;
		int fd;

		shm_path(path, sizeof(path), n);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &byte, 1, fields[i]), 1);
		byte ^= 0x01;
		assert_int_equal(pwrite(fd, &byte, 1, fields[i]), 1);
		close(fd);
		assert_int_equal(shmpipe_writer_open(n, &w), -EPROTO);
	}
}

static int open_as_nobody(void *arg)
{
	struct shmpipe_writer *w;
	struct shmpipe_stat st;

	if (setgid(65534) || setuid(65534))
		return 100;
	if (shmpipe_writer_open(arg, &w) != -EACCES)
		return 1;
	if (shmpipe_unlink(arg) != -EACCES)
		return 2;
	return shmpipe_stat(arg, &st) == -EACCES ? 0 : 3;
}

static void open__no_permission(void **state)
{
	const char *n = th_pipe("perm", 4096);

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(th_exit_code(th_fork(open_as_nobody, (void *)n),
				      10000), 0);
}

/* Another user with read and write permission may attach. */
static int attach_as_nobody(void *arg)
{
	struct shmpipe_writer *w;

	if (setgid(65534) || setuid(65534))
		return 100;
	if (shmpipe_writer_open(arg, &w))
		return 1;
	if (shmpipe_write(w, "x", 1, 0))
		return 2;
	return shmpipe_writer_close(w, 0) ? 3 : 0;
}

static void open__other_user_with_permission(void **state)
{
	struct shmpipe_attr a = { .capacity = 4096, .mode = 0666 };
	const char *n = th_name("perm2");

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(shmpipe_create(n, &a), 0);
	assert_int_equal(th_exit_code(th_fork(attach_as_nobody, (void *)n),
				      10000), 0);
}

/* In a private mount namespace, /dev/shm is a 256 KiB tmpfs. */
static int create_on_full_tmpfs(void *arg)
{
	struct shmpipe_attr big = { .capacity = 1 << 20 };
	struct shmpipe_attr small = { .capacity = 4096 };
	struct shmpipe_writer *w;
	struct dirent *d;
	int entries = 0;
	DIR *dir;

	(void)arg;
	if (unshare(CLONE_NEWNS) < 0)
		return 77;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=256k") < 0)
		return 77;
	if (shmpipe_create("small", &small))
		return 1;
	if (shmpipe_create("big", &big) != -ENOSPC)
		return 2;
	dir = opendir("/dev/shm");
	while ((d = readdir(dir)))
		entries += d->d_name[0] != '.';
	closedir(dir);
	if (entries != 1)
		return 3;
	/* The pipe made before the disk filled keeps working. */
	if (shmpipe_writer_open("small", &w) || shmpipe_write(w, "x", 1, 0))
		return 4;
	return 0;
}

static void create__no_space(void **state)
{
	int code;

	(void)state;
	code = th_exit_code(th_fork(create_on_full_tmpfs, NULL), 20000);
	if (code == 77)
		skip();
	assert_int_equal(code, 0);
}

static int create_one(void *arg)
{
	struct shmpipe_attr a = { .capacity = 1 << 16 };

	return shmpipe_create(arg, &a) == 0 ? 0 : 1;
}

/* Of many processes creating one name at once, exactly one wins. */
static void create__race(void **state)
{
	const char *n = th_name("race");
	pid_t pids[8];
	int i, won = 0;

	(void)state;
	for (i = 0; i < 8; i++)
		pids[i] = th_fork(create_one, (void *)n);
	for (i = 0; i < 8; i++)
		won += th_exit_code(pids[i], 20000) == 0;
	assert_int_equal(won, 1);
}

static void version__string(void **state)
{
	(void)state;
	assert_string_equal(shmpipe_version(), "0.1.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(create__defaults),
		TH_TEST(create__exists),
		TH_TEST(create__bad_names),
		TH_TEST(create__longest_name),
		TH_TEST(create__capacity),
		TH_TEST(create__bad_attr),
		TH_TEST(create__mode_ignores_umask),
		TH_TEST(create__owner),
		TH_TEST(open__missing),
		TH_TEST(open__not_a_pipe),
		TH_TEST(open__altered_header),
		TH_TEST(open__no_permission),
		TH_TEST(open__other_user_with_permission),
		TH_TEST(create__no_space),
		TH_TEST(create__race),
		TH_TEST(version__string),
	};

	return TH_RUN("create", tests);
}
