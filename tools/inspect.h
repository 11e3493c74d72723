/* SPDX-License-Identifier: MIT */
/*
 * shmpipe-inspect: what its sources share.
 *
 * The tool never maps a segment and never trusts one.  inspect-probe.c
 * copies the header with pread and asks /proc who is alive;
 * inspect-parse.c turns one copy into a struct ins_pipe or a one-line
 * diagnosis, without a system call, so that a fuzzer can drive it;
 * inspect-state.c sums a pipe up in one state; inspect-print.c writes
 * the human and the JSON forms.  shmpipe-inspect(1) documents every
 * field, state and exit status named here.
 */
#ifndef SHMPIPE_INSPECT_H
#define SHMPIPE_INSPECT_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "shmpipe.h"
#include "layout.h"

/* Exit statuses, one per answer a health check may need to tell apart. */
enum ins_exit {
	INS_EX_OK = 0,		/* open, a live reader and a live writer */
	INS_EX_ERROR = 1,	/* the tool could not look (permission...) */
	INS_EX_USAGE = 2,
	INS_EX_NOENT = 3,	/* no such pipe */
	INS_EX_FOREIGN = 4,	/* not a shmpipe segment */
	INS_EX_DAMAGED = 5,	/* a shmpipe segment, but not a usable one */
	INS_EX_UNSUPPORTED = 6,	/* another layout version or ABI */
	INS_EX_BUSY = 7,	/* no consistent snapshot in the tries given */
	INS_EX_CLOSED = 10,	/* a side finished, or closed with a reason */
	INS_EX_PEER_DEAD = 11,	/* an endpoint died */
	INS_EX_STALE = 12,	/* no live endpoint and no use left */
	INS_EX_NOT_READY = 13,	/* a side has not attached yet */
};

/* What a copy of a header is, as the parser sees it. */
enum ins_verdict {
	INS_VALID,
	INS_FOREIGN,		/* no magic: somebody else's file */
	INS_UNSUPPORTED,	/* our magic, another format */
	INS_DAMAGED,		/* our magic and format, wrong contents */
};

/* The pipe's condition, most serious first; ins_state_name() spells it. */
enum ins_state {
	INS_ST_STALE,
	INS_ST_PEER_DEAD,
	INS_ST_ABORTED,		/* closed with a reason */
	INS_ST_CLOSED,
	INS_ST_NEW,		/* nothing has ever attached */
	INS_ST_WAITING,		/* one side is there, the other never was */
	INS_ST_OPEN,
};

enum ins_life {
	INS_ALIVE,
	INS_DEAD,
	INS_UNKNOWN,		/* the kernel says alive, /proc cannot tell */
};

/* Why an endpoint is dead or unknown; ins_death_text() says it. */
enum ins_death {
	INS_DEATH_NONE,
	INS_DEATH_RELEASED,	/* its live lock was freed without a detach */
	INS_DEATH_KERNEL,	/* the kernel marked its live lock orphaned */
	INS_DEATH_PID_GONE,	/* no such process any more */
	INS_DEATH_PID_REUSED,	/* that pid is now another process */
};

struct ins_end {
	int role;		/* SHMPIPE_ROLE_* */
	int slot;
	uint32_t pid;
	uint32_t token;
	uint64_t start;		/* clock ticks since boot, 0 if unknown */
	uint64_t since_ns;
	uint32_t word;		/* the live lock's futex word */
	int life;		/* enum ins_life */
	int death;		/* enum ins_death, why not alive */
};

/*
 * What a lock says: the control lock from its futex word, a side lock
 * from its word, the slot that word names, and the side's mask of
 * waiting endpoints.
 */
enum ins_lock_state {
	INS_LK_FREE,
	INS_LK_HELD,
	INS_LK_OWNER_DIED,	/* the next locker repairs or takes it over */
};

struct ins_lock {
	const char *name;	/* "control", "write", "read" */
	uint32_t word;
	int state;		/* enum ins_lock_state */
	uint32_t tid;		/* control: the holder's keeper thread */
	int32_t pid;		/* the holder's process; 0 if unknown */
	int waiters;		/* threads wait for it */
	int role;		/* side locks: SHMPIPE_ROLE_*; control: 0 */
	uint64_t wait_mask;	/* side locks: slots with a waiting thread */
};

/* A field the layout does not carry yet reads as this. */
#define INS_UNKNOWN_NS	0

struct ins_pipe {
	struct shmpipe_shared sh;	/* the copy, aligned */
	uint64_t file_size;
	int moving;			/* traffic moved between the copies */
	int settling;			/* the control lock was held */
	int tries;			/* copies read */

	/* derived by the parser */
	uint64_t queued_bytes;
	uint64_t queued_msgs;
	uint64_t free_bytes;
	uint64_t max_message;
	uint64_t last_change_ns;	/* creation, attach or close */
	uint64_t last_write_ns;		/* INS_UNKNOWN_NS in layout 1 */
	uint64_t last_read_ns;
	struct ins_lock locks[3];	/* control, write, read */
	int nends;
	struct ins_end ends[2 * SHMPIPE_SLOTS];

	/* from the file and /proc, filled by the probe */
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int creator_alive;		/* -1 unknown, 0 gone, 1 running */
};

/* Counts of attached endpoints per role and life. */
struct ins_counts {
	unsigned int readers, readers_dead, writers, writers_dead;
	unsigned int unknown;
};

/* inspect-parse.c */
int ins_parse(const void *buf, size_t len, uint64_t file_size, int moving,
	      struct ins_pipe *p, char *why, size_t why_size);
int ins_same_state(const struct shmpipe_shared *a,
		   const struct shmpipe_shared *b);
int ins_same_traffic(const struct shmpipe_shared *a,
		     const struct shmpipe_shared *b);

/* inspect-state.c */
void ins_count(const struct ins_pipe *p, struct ins_counts *c);
int ins_full(const struct ins_pipe *p);
int ins_state(const struct ins_pipe *p);
const char *ins_state_name(int state);
int ins_state_exit(int state);
const char *ins_verdict_name(int verdict);
int ins_verdict_exit(int verdict);
const char *ins_death_text(int death);
const char *ins_lock_text(int lock_state);

/* inspect-print.c: now_ns is CLOCK_REALTIME, for ages. */
const char *ins_fmt_time(char *buf, size_t size, uint64_t ns);
const char *ins_fmt_age(char *buf, size_t size, uint64_t ns, uint64_t now);
const char *ins_fmt_size(char *buf, size_t size, uint64_t n);
const char *ins_err_name(char *buf, size_t size, int code);
struct ins_rates {
	double seconds;			/* since the last refresh; 0: none */
	uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
};
void ins_print_pipe(FILE *f, const char *name, const struct ins_pipe *p,
		    const struct ins_rates *rt, uint64_t now_ns);
void ins_print_row(FILE *f, const char *name, const struct ins_pipe *p,
		   uint64_t now_ns);
void ins_print_row_error(FILE *f, const char *name, const char *state,
			 const char *why);
void ins_print_header(FILE *f);

/* inspect-json.c */
void ins_json_pipe(FILE *f, const char *name, const struct ins_pipe *p,
		   const struct ins_rates *rt);
void ins_json_error(FILE *f, const char *name, const char *state, int status,
		    const char *why);
void ins_json_string(FILE *f, const char *s);
void ins_print_name(FILE *f, const char *s, int width);

/* inspect-probe.c: where the library names its segments. */
#define INS_SHM_DIR	"/dev/shm"
#define INS_SHM_PREFIX	"shmpipe."
struct ins_result {
	int valid;			/* p holds a parsed pipe */
	int status;			/* enum ins_exit for this pipe */
	const char *state;		/* the word for the state column */
	char why[160];			/* the diagnosis when not valid */
};
int ins_probe_fd(int fd, struct ins_pipe *p, struct ins_result *res);
int ins_probe_path(const char *path, int follow, struct ins_pipe *p,
		   struct ins_result *res);
void ins_probe_procs(struct ins_pipe *p);
uint64_t ins_now_ns(void);

#endif /* SHMPIPE_INSPECT_H */
