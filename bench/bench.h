/* SPDX-License-Identifier: MIT */
/*
 * shmpipe-bench: shmpipe against the other ways of passing messages
 * between processes on one machine.
 *
 * Every transport, shmpipe included, sits behind the same small table of
 * operations (struct bench_transport), so each workload is written once
 * and runs the same code on every transport.  Producer and consumer are
 * separate processes forked for each run; they report through a zeroed
 * mapping shared with the parent (struct bench_area).  Every message the
 * consumer takes is checked: its length, its sequence number, and stamps
 * derived from that number at every 256th byte and in its last word, so a
 * transport cannot skip, repeat, reorder or tear a message unnoticed.
 */
#ifndef SHMPIPE_BENCH_H
#define SHMPIPE_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_PROCS_MAX	8	/* processes of one run */
#define BENCH_QUEUE_BYTES (1u << 20)	/* where we size a queue: 1 MiB */
#define BENCH_MSG_MAX	65536	/* largest message of any workload */
#define BENCH_EOF	1	/* recv(): the stream has ended */
#define BENCH_NOTICE_SIZE 1024	/* messages that fill a queue */

/* A message's first word: writer number and sequence number. */
#define BENCH_TAG_END	(1ULL << 63)	/* a terminator, not data */
#define BENCH_TAG_SHIFT	40
#define BENCH_SEQ_MASK	((1ULL << BENCH_TAG_SHIFT) - 1)

enum bench_role { BENCH_PRODUCER, BENCH_CONSUMER };

/* Transport flags. */
#define BT_EOF		0x1u	/* consumers see the producers' close */
#define BT_MULTI_READ	0x2u	/* several consumers may share the queue */
#define BT_MULTI_WRITE	0x4u	/* several producers may share the queue */
#define BT_NO_NOTICE	0x8u	/* has no notion of a peer going away */

/* What a run asks of a channel. */
struct bench_chan_cfg {
	size_t msg_size;	/* largest message of the run */
	int readers;		/* consumer processes */
	int writers;		/* producer processes */
};

/*
 * One queue between producers and consumers.  The parent fills it in
 * setup(); each child keeps its copy and opens its own end.
 */
struct bench_chan {
	const struct bench_transport *t;
	struct bench_chan_cfg cfg;
	int id;			/* unique in this run of the program */
	int role;		/* enum bench_role, after open() */
	int fd[2];		/* pipe and socket ends, -1 when closed */
	char name[160];		/* segment, queue or socket name */
	void *mem;		/* ring: the mapping made before fork */
	size_t mem_size;
	void *priv;		/* the child's open end */
};

struct bench_transport {
	const char *name;	/* as in --peers and the JSON */
	const char *title;	/* as in the tables */
	unsigned int flags;	/* BT_* */
	/* Why this channel cannot be made here, or NULL. */
	const char *(*skip)(const struct bench_chan_cfg *cfg);
	int (*setup)(struct bench_chan *c);		/* parent */
	int (*open)(struct bench_chan *c, int role);	/* child */
	int (*send)(struct bench_chan *c, const void *msg, size_t len,
		    int nowait);
	/* 0 and *len, BENCH_EOF, or a negative errno */
	int (*recv)(struct bench_chan *c, void *buf, size_t size,
		    size_t *len);
	void (*close)(struct bench_chan *c);		/* child */
	void (*parent_close)(struct bench_chan *c);	/* after the forks */
	void (*teardown)(struct bench_chan *c);		/* parent, at the end */
	/* Remove what teardown would, from a signal handler. */
	void (*scrub)(const struct bench_chan *c);
	const char *(*version)(void);
};

extern const struct bench_transport bt_shmpipe, bt_ring, bt_pipe,
	bt_seqpacket, bt_mq, bt_boost, bt_zmq;

/*
 * What one run's processes share with the parent.  Children write their
 * own slots; the parent reads after they have exited, except for the
 * words marked "futex", which carry the run's few handshakes.
 */
struct bench_area {
	uint32_t ready;			/* futex: processes at the start */
	uint32_t go;			/* futex: 1 once all are there */
	uint32_t nprocs;
	uint32_t done;			/* futex: consumers finished */
	uint32_t phase;			/* futex: notice runs, see notice.c */
	uint32_t failed;		/* first failure wins error[] */
	int64_t t_start;		/* set by the last to arrive */
	int64_t t_first[BENCH_PROCS_MAX]; /* producers: first send */
	int64_t t_end[BENCH_PROCS_MAX];	/* consumers: end of stream */
	uint64_t sent[BENCH_PROCS_MAX];	/* producers: data messages */
	uint64_t got[BENCH_PROCS_MAX];	/* by writer: messages taken */
	uint64_t sum[BENCH_PROCS_MAX];	/* by writer: sum of seq */
	uint64_t sumsq[BENCH_PROCS_MAX]; /* by writer: sum of seq^2 */
	uint64_t progress;		/* notice: sends started */
	int32_t producer_pid;
	int32_t notice_err;		/* what the producer's send returned */
	int64_t t_close;		/* notice: consumer closed or killed */
	int64_t t_notice;		/* notice: producer's send failed */
	int64_t cpu_ns, idle_ns;	/* idle: CPU used while blocked */
	uint64_t nsamples;		/* round trips recorded */
	char error[256];
};

/* What is measured: the kinds of workload. */
enum bench_kind {
	BW_TPUT,	/* one producer, one consumer, as fast as they go */
	BW_RTT,		/* ping-pong of one message */
	BW_MULTI,	/* several producers or several consumers */
	BW_CLOSE,	/* the consumer closes; the producer is blocked */
	BW_KILL,	/* the consumer is SIGKILLed; the producer is blocked */
	BW_IDLE,	/* CPU of a consumer blocked on an empty queue */
};

struct bench_workload {
	enum bench_kind kind;
	size_t size;		/* message bytes */
	int pinned;		/* producer and consumer on two given CPUs */
	int writers, readers;
	char id[32];		/* as in --json */
	char title[128];	/* as in the tables */
};

struct bench_opts {
	int rounds;
	int64_t run_ns;		/* a throughput run */
	int64_t rtt_ns;		/* a round-trip run */
	int64_t notice_cap_ns;	/* give up waiting for a notice */
	int64_t idle_ns;	/* an idle consumer's wait */
	int cpu[2];		/* producer's and consumer's CPU; -1: none */
	int quick;
};

enum bench_status { BS_NONE, BS_OK, BS_NEVER, BS_SKIP, BS_FAIL };

/* The outcome of one run. */
struct bench_sample {
	int status;		/* enum bench_status */
	double v;		/* msgs/s, or ns (median), or CPU fraction */
	double v2;		/* round trips: p99 ns */
	int err;		/* notices: what the producer's send got */
	uint64_t msgs;		/* messages verified */
};

/* One run: its channels, its shared area and its processes. */
struct bench_run {
	const struct bench_workload *w;
	const struct bench_transport *t;
	const struct bench_opts *o;
	struct bench_chan ch[2];
	int nch;
	struct bench_area *a;
	pid_t pid[BENCH_PROCS_MAX];
	int pidfd[BENCH_PROCS_MAX];
	int nproc;
	int64_t deadline;	/* the parent gives up on the run then */
};

/* run.c: the parent's side. */
int bench_run_init(void);
void bench_run_fini(void);
void bench_run(const struct bench_workload *w,
	       const struct bench_transport *t, const struct bench_opts *o,
	       struct bench_sample *s, char *why, size_t whylen);
void bench_run_idle(const struct bench_workload *w,
		    const struct bench_transport *const *ts, int n,
		    const struct bench_opts *o, struct bench_sample *s,
		    char (*why)[160]);
void bench_track(pid_t pid, int on);
int bench_chan_cfg_of(const struct bench_workload *w,
		      struct bench_chan_cfg *cfg);

/* work.c: the children's side; each returns the child's exit code. */
int bench_child(struct bench_run *r, int k);
void bench_barrier(struct bench_area *a);

/* The round trips of the run in progress, shared with its children. */
extern uint32_t *bench_samples;
#define BENCH_SAMPLES_MAX	(1u << 20)

/* msg.c: stamping and checking messages. */
void bench_stamp(void *buf, size_t size, uint64_t tag);
int bench_check(const void *buf, size_t len, size_t size, uint64_t tag);
uint64_t bench_tag_of(const void *buf);

/* util.c */
int64_t bench_now_ns(void);
void bench_sleep_ns(int64_t ns);
int bench_pin(int cpu);
int bench_futex_wait(uint32_t *word, uint32_t val, int64_t timeout_ns);
void bench_futex_wake(uint32_t *word);
void bench_fail(struct bench_area *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void *bench_map_shared(size_t size);
int bench_is_root(void);
char bench_proc_state(pid_t pid);
const char *bench_tmpdir(void);
void bench_tmpdir_remove(void);
size_t bench_read_sysctl(const char *path);
int bench_write_sysctl(const char *path, size_t value);

#endif /* SHMPIPE_BENCH_H */
