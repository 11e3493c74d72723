/* SPDX-License-Identifier: MIT */
/*
 * Randomized soak: writer and reader processes over one small ring, a
 * killer that SIGKILLs random parties at random times and starts new
 * ones, and exact accounting at the end.
 *
 * Messages carry writer id, sequence number and a checksum of a random
 * length body.  Readers count every message they get in shared memory
 * and check per-writer order.  In the end:
 *   - no message is corrupt, duplicated, or out of order for a reader;
 *   - every message whose write returned 0 was received, except at most
 *     one per killed reader (a reader killed after taking a message from
 *     the ring and before counting it is the one who received it);
 *   - no message was received that was not written (the one a killed
 *     writer had in flight may arrive: it was published whole).
 *
 * Each of the three phases runs SHMPIPE_SOAK_SECONDS (default 15); with
 * SHMPIPE_TORTURE_SECONDS (make torture DURATION=...) the phases repeat
 * in rounds of 10 s, each with fresh accounts, until that much time has
 * passed in all.  A stall (no progress for 15 s) prints every party's
 * kernel stack and wait channel, then fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MAX_IDS		512		/* writer processes over a round */
#define MAX_SEQ		200000		/* messages per writer process */
#define MAX_PARTIES	16
#define STALL_MS	15000

struct soak {
	const char *name;
	int seconds;
	volatile int stop;
	int next_id;
	int committed[MAX_IDS];
	uint8_t seen[MAX_IDS][MAX_SEQ];
	long received;
	int corrupt, disorder, bad_end;
};

struct smsg {
	uint32_t id, seq, len, check;
	uint8_t body[300];
};

static struct soak *soak;

static uint32_t body_check(const struct smsg *m)
{
	uint32_t c = m->id * 0x9e3779b1u ^ m->seq ^ m->len << 20;
	uint32_t i;

	for (i = 0; i < m->len && i < sizeof(m->body); i++)
		c = (c ^ m->body[i]) * 16777619u;
	return c;
}

static int writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct shmpipe_writer *w;
	struct smsg m;
	uint32_t s, i;

	srand((unsigned int)(getpid() ^ id));
	if (shmpipe_writer_open(soak->name, &w))
		return 10;
	for (s = 0; s < MAX_SEQ && !__atomic_load_n(&soak->stop,
						     __ATOMIC_RELAXED); s++) {
		m.id = (uint32_t)id;
		m.seq = s;
		m.len = (uint32_t)(rand() % (int)sizeof(m.body));
		for (i = 0; i < m.len; i++)
			m.body[i] = (uint8_t)(s + i * 3);
		m.check = body_check(&m);
		if (shmpipe_write(w, &m, 16 + m.len, -1))
			return 11;
		__atomic_store_n(&soak->committed[id], (int)s + 1,
				 __ATOMIC_RELEASE);
	}
	return shmpipe_writer_close(w, 0) ? 12 : 0;
}

static void count(const struct smsg *m, size_t len, int32_t *last)
{
	if (len < 16 || len != 16 + m->len || m->id >= MAX_IDS ||
	    m->seq >= MAX_SEQ || m->check != body_check(m)) {
		__atomic_add_fetch(&soak->corrupt, 1, __ATOMIC_RELAXED);
		return;
	}
	if ((int32_t)m->seq <= last[m->id])
		__atomic_add_fetch(&soak->disorder, 1, __ATOMIC_RELAXED);
	last[m->id] = (int32_t)m->seq;
	__atomic_add_fetch(&soak->seen[m->id][m->seq], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&soak->received, 1, __ATOMIC_RELAXED);
}

static int reader(void *arg)
{
	static int32_t last[MAX_IDS];
	struct shmpipe_reader *r;
	struct smsg m;
	size_t len;
	int rc;

	(void)arg;
	memset(last, 0xff, sizeof(last));
	if (shmpipe_reader_open(soak->name, &r))
		return 10;
	while ((rc = shmpipe_read(r, &m, sizeof(m), &len, -1)) == 0)
		count(&m, len, last);
	/* Writers were killed, so the stream ends as incomplete. */
	if (rc != -ECONNRESET && rc != SHMPIPE_EOF)
		__atomic_add_fetch(&soak->bad_end, 1, __ATOMIC_RELAXED);
	return 0;
}

struct party {
	pid_t pid;
	int is_writer;
};

static pid_t start(struct party *p)
{
	if (p->is_writer) {
		int id = soak->next_id++;

		assert_true(id < MAX_IDS);
		p->pid = th_fork(writer, (void *)(intptr_t)id);
	} else {
		p->pid = th_fork(reader, NULL);
	}
	return p->pid;
}

static void print_file(const char *what, pid_t pid)
{
	char path[64], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		print_message("  %s:\n%s\n", path, buf);
	}
}

/* A stall: show where everybody sleeps before failing. */
static void dump_stall(struct party *p, int n)
{
	int i;

	print_message("stall: no progress for %d ms\n", STALL_MS);
	for (i = 0; i < n; i++) {
		print_message("%s pid %d\n", p[i].is_writer ? "writer" : "reader",
			      (int)p[i].pid);
		print_file("wchan", p[i].pid);
		print_file("stack", p[i].pid);
	}
}

static long progress(void)
{
	return __atomic_load_n(&soak->received, __ATOMIC_RELAXED);
}

struct phase {
	const char *label;
	int writers, readers;
	size_t capacity;
	int stop_a_reader;	/* hold one reader in SIGSTOP at times */
};

/* Kill random parties for the phase's time; returns reader kills. */
static int rampage(struct party *p, int n, const struct phase *ph,
		   int *kills)
{
	double end = th_now_ms() + soak->seconds * 1000.0;
	double last_move = th_now_ms();
	long seen = progress();
	int reader_kills = 0;

	while (th_now_ms() < end) {
		int i = rand() % n;

		th_sleep_ms(5 + rand() % 40);
		if (ph->stop_a_reader && !p[n - 1].is_writer && rand() % 4 == 0) {
			th_kill(p[n - 1].pid, SIGSTOP);
			th_sleep_ms(50 + rand() % 200);
			th_kill(p[n - 1].pid, SIGCONT);
			continue;
		}
		if (ph->stop_a_reader && i == n - 1)
			continue;	/* the stopped one is never killed */
		th_kill(p[i].pid, SIGKILL);
		assert_int_not_equal(th_wait(p[i].pid, 10000), -1);
		reader_kills += !p[i].is_writer;
		(*kills)++;
		start(&p[i]);
		if (progress() != seen) {
			seen = progress();
			last_move = th_now_ms();
		} else if (th_now_ms() - last_move > STALL_MS) {
			dump_stall(p, n);
			fail_msg("stalled");
		}
	}
	return reader_kills;
}

static void check_accounts(int reader_kills, long *checked)
{
	int id, s, missing = 0, dups = 0, ghosts = 0;

	for (id = 0; id < soak->next_id; id++) {
		int c = soak->committed[id];

		for (s = 0; s < MAX_SEQ; s++) {
			int n = soak->seen[id][s];

			dups += n > 1;
			if (s < c)
				missing += n == 0;
			else if (n && s > c)
				ghosts++;
		}
		*checked += c;
	}
	print_message("  %ld committed, %ld received, %d unaccounted "
		      "(bound %d), %d duplicated, %d corrupt, %d out of order\n",
		      *checked, soak->received, missing, reader_kills, dups,
		      soak->corrupt, soak->disorder);
	assert_int_equal(soak->corrupt, 0);
	assert_int_equal(soak->disorder, 0);
	assert_int_equal(dups, 0);
	assert_int_equal(ghosts, 0);
	assert_int_equal(soak->bad_end, 0);
	assert_true(missing <= reader_kills);
}

static void run_round(const struct phase *ph, int seconds, long *total,
		      int *total_kills)
{
	struct party p[MAX_PARTIES];
	struct shmpipe_writer *aw;
	struct shmpipe_reader *ar;
	int i, n = ph->writers + ph->readers, kills = 0, reader_kills;
	long checked = 0;

	memset(soak, 0, sizeof(*soak));
	soak->seconds = seconds;
	soak->name = th_pipe("soak", ph->capacity);
	/* Anchors keep the pipe open while every other party may die. */
	assert_int_equal(shmpipe_writer_open(soak->name, &aw), 0);
	assert_int_equal(shmpipe_reader_open(soak->name, &ar), 0);
	for (i = 0; i < n; i++) {
		p[i].is_writer = i < ph->writers;
		start(&p[i]);
	}
	srand((unsigned int)getpid());
	reader_kills = rampage(p, n, ph, &kills);

	__atomic_store_n(&soak->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < ph->writers; i++)
		assert_int_equal(th_exit_code(p[i].pid, 30000), 0);
	assert_int_equal(shmpipe_writer_close(aw, 0), 0);
	for (i = ph->writers; i < n; i++)
		assert_int_equal(th_exit_code(p[i].pid, 30000), 0);
	assert_int_equal(shmpipe_reader_close(ar, 0), 0);

	print_message("%s: %d s, %d kills\n", ph->label, soak->seconds, kills);
	check_accounts(reader_kills, &checked);
	*total += checked;
	*total_kills += kills;
}

static void run_phase(const struct phase *ph)
{
	const char *torture = getenv("SHMPIPE_TORTURE_SECONDS");
	const char *soak_s = getenv("SHMPIPE_SOAK_SECONDS");
	double end = th_now_ms() + (torture ? atof(torture) * 1000 / 3 : 0);
	long total = 0;
	int kills = 0, rounds = 0;

	if (!torture) {
		run_round(ph, soak_s ? atoi(soak_s) : 15, &total, &kills);
		return;
	}
	do {
		run_round(ph, 10, &total, &kills);
		rounds++;
		/* Each round's pipe goes; its name is not reused. */
		th_teardown(NULL);
		th_setup(NULL);
		alarm(0);
	} while (th_now_ms() < end);
	print_message("%s: %d rounds, %d kills survived, %ld messages "
		      "checked\n", ph->label, rounds, kills, total);
}

static int soak_setup(void **state)
{
	th_setup(state);
	alarm(0);	/* the phase watches for stalls itself */
	return 0;
}

static void soak__smallest_ring(void **state)
{
	const struct phase ph = { "smallest ring, 3 writers, 3 readers", 3, 3,
				  4096, 0 };

	(void)state;
	run_phase(&ph);
}

static void soak__many_waiters(void **state)
{
	const struct phase ph = { "many waiters, 2 writers, 10 readers", 2, 10,
				  8192, 0 };

	(void)state;
	run_phase(&ph);
}

static void soak__stopped_reader(void **state)
{
	const struct phase ph = { "a reader held in SIGSTOP at times", 3, 3,
				  4096, 1 };

	(void)state;
	run_phase(&ph);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(soak__smallest_ring,
						soak_setup, th_teardown),
		cmocka_unit_test_setup_teardown(soak__many_waiters,
						soak_setup, th_teardown),
		cmocka_unit_test_setup_teardown(soak__stopped_reader,
						soak_setup, th_teardown),
	};

	soak = th_shared(sizeof(*soak));
	return TH_RUN("soak", tests);
}
