/* SPDX-License-Identifier: MIT */
/*
 * The snapshot logic of inspect-probe.c, driven deterministically: this
 * program links the probe with pread wrapped (-Wl,--wrap=pread), so each
 * copy the probe takes can be changed as a writer racing it would change
 * it, at exactly the copy wanted.  The segment is a file holding the
 * header of a real pipe, made by the library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "inspect.h"

/* What the wrapper does to each copy. */
enum race {
	RACE_NONE,
	RACE_STATE,		/* the state sequence moves every copy */
	RACE_TRAFFIC,		/* a writer adds a message every copy */
	RACE_CTL_HELD,		/* the control lock is held throughout */
	RACE_CTL_DIED,		/* its owner died, a waiter sleeps on it */
	RACE_CHANGE,		/* a change under ctl, done after 5 copies */
	RACE_SHRINK,		/* the file is cut short after the first copy */
};

static int race;
static int copies;

ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off);

static void disturb(struct shmpipe_shared *h, int k)
{
	switch (race) {
	case RACE_STATE:
		h->sh_state_seq += (uint64_t)k;
		break;
	case RACE_TRAFFIC:
		h->sh_head += 16 * (uint64_t)k;
		h->sh_msgs_in += (uint64_t)k;
		break;
	case RACE_CTL_HELD:
		h->sh_ctl.word = (uint32_t)getpid();
		break;
	case RACE_CTL_DIED:
		h->sh_ctl.word = 0xc0000000u;	/* OWNER_DIED | WAITERS */
		break;
	case RACE_CHANGE:
		if (k > 5)
			break;
		h->sh_ctl.word = (uint32_t)getpid();
		h->sh_flags |= SHMPIPE_F_ABORTED;	/* no record yet */
		break;
	}
}

/* Every copy the probe takes starts with a read at offset 0. */
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
	int shrunk = race == RACE_SHRINK && copies > 1;
	ssize_t r;

	if (off)
		return shrunk ? 0 : __real_pread(fd, buf, n, off);
	copies++;
	if (race == RACE_SHRINK && copies > 1)
		return __real_pread(fd, buf, n < 100 ? n : 100, off);
	r = __real_pread(fd, buf, n, off);
	if (r == (ssize_t)SHMPIPE_HDR_SIZE)
		disturb(buf, copies);
	return r;
}

/* A file with a live pipe's header, sized like the segment. */
static const char *segment_copy(void)
{
	static char path[] = "/tmp/shmpipe-test-probe-XXXXXX";
	static uint8_t hdr[SHMPIPE_HDR_SIZE];
	const char *n = th_pipe("probe", 4096);
	char src[256];
	int in, out;

	snprintf(src, sizeof(src), "/dev/shm/shmpipe.%s", n);
	in = open(src, O_RDONLY);
	strcpy(path + strlen(path) - 6, "XXXXXX");
	out = mkstemp(path);
	assert_true(in >= 0 && out >= 0);
	assert_int_equal(__real_pread(in, hdr, sizeof(hdr), 0),
			 (ssize_t)sizeof(hdr));
	assert_int_equal(write(out, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_int_equal(ftruncate(out, SHMPIPE_HDR_SIZE + 4096), 0);
	close(in);
	close(out);
	return path;
}

static int probe(enum race how, struct ins_pipe *p, struct ins_result *res)
{
	const char *path = segment_copy();
	int r;

	race = how;
	copies = 0;
	r = ins_probe_path(path, 1, p, res);
	race = RACE_NONE;
	unlink(path);
	return r;
}

static struct ins_pipe pipe_;

static void snapshot__quiet_pipe_is_consistent(void **state)
{
	struct ins_result res;

	(void)state;
	assert_int_equal(probe(RACE_NONE, &pipe_, &res), INS_EX_NOT_READY);
	assert_true(res.valid);
	assert_int_equal(pipe_.tries, 2);
	assert_false(pipe_.moving);
	assert_false(pipe_.settling);
}

static void snapshot__state_never_still_is_busy(void **state)
{
	struct ins_result res;

	(void)state;
	assert_int_equal(probe(RACE_STATE, &pipe_, &res), INS_EX_BUSY);
	assert_false(res.valid);
	assert_string_equal(res.state, "busy");
	assert_int_equal(copies, 64);
}

static void snapshot__moving_traffic_is_marked(void **state)
{
	struct ins_result res;

	(void)state;
	assert_int_equal(probe(RACE_TRAFFIC, &pipe_, &res), INS_EX_NOT_READY);
	assert_true(res.valid);
	assert_true(pipe_.moving);
	assert_int_equal(pipe_.tries, 64);
	assert_int_equal(pipe_.sh.sh_msgs_in, 64);
}

static void snapshot__control_lock_held_is_marked(void **state)
{
	struct ins_result res;

	(void)state;
	assert_int_equal(probe(RACE_CTL_HELD, &pipe_, &res), INS_EX_NOT_READY);
	assert_true(res.valid);
	assert_true(pipe_.settling);
	assert_int_equal(pipe_.locks[0].state, INS_LK_HELD);
	assert_int_equal(pipe_.locks[0].pid, getpid());
}

/* The kernel's mark of a dead owner holds nothing: the copy is settled. */
static void snapshot__control_lock_owner_died_is_settled(void **state)
{
	struct ins_result res;

	(void)state;
	assert_int_equal(probe(RACE_CTL_DIED, &pipe_, &res), INS_EX_NOT_READY);
	assert_true(res.valid);
	assert_false(pipe_.settling);
	assert_int_equal(pipe_.tries, 2);
	assert_int_equal(pipe_.locks[0].state, INS_LK_OWNER_DIED);
	assert_true(pipe_.locks[0].waiters);
	assert_int_equal(pipe_.locks[0].tid, 0);
	assert_int_equal(pipe_.locks[0].pid, 0);
}

/* Half a change seen while the control lock is held is not damage. */
static void snapshot__change_in_progress_is_waited_out(void **state)
{
	struct ins_result res;

	(void)state;
	assert_int_equal(probe(RACE_CHANGE, &pipe_, &res), INS_EX_NOT_READY);
	assert_true(res.valid);
	assert_false(pipe_.settling);
	assert_true(copies > 5);
}

static void snapshot__truncated_while_read(void **state)
{
	struct ins_result res;

	(void)state;
	assert_int_equal(probe(RACE_SHRINK, &pipe_, &res), INS_EX_DAMAGED);
	assert_false(res.valid);
	assert_non_null(strstr(res.why, "truncated"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(snapshot__quiet_pipe_is_consistent),
		TH_TEST(snapshot__state_never_still_is_busy),
		TH_TEST(snapshot__moving_traffic_is_marked),
		TH_TEST(snapshot__control_lock_held_is_marked),
		TH_TEST(snapshot__control_lock_owner_died_is_settled),
		TH_TEST(snapshot__change_in_progress_is_waited_out),
		TH_TEST(snapshot__truncated_while_read),
	};

	return TH_RUN("shmpipe-inspect snapshots", tests);
}
