/* SPDX-License-Identifier: MIT */
/*
 * One word for a pipe's condition, and the exit status that goes with it.
 * The rules are shmpipe-inspect(1)'s STATES section; the order below is
 * the order of precedence there.
 */
#include <errno.h>

#include "inspect.h"

void ins_count(const struct ins_pipe *p, struct ins_counts *c)
{
	int i;

	c->readers = c->readers_dead = c->writers = c->writers_dead = 0;
	c->unknown = 0;
	for (i = 0; i < p->nends; i++) {
		const struct ins_end *e = &p->ends[i];
		int reader = e->role == SHMPIPE_ROLE_READER;

		if (e->life == INS_DEAD)
			(*(reader ? &c->readers_dead : &c->writers_dead))++;
		else
			(*(reader ? &c->readers : &c->writers))++;
		if (e->life == INS_UNKNOWN)
			c->unknown++;
	}
}

/*
 * Full: the free space would not hold one more record of the average
 * size queued now (a record is at least 16 bytes with its header).
 */
int ins_full(const struct ins_pipe *p)
{
	uint64_t avg = 2 * SHMPIPE_RECORD_HDR;

	if (p->queued_msgs)
		avg = (p->queued_bytes + p->queued_msgs - 1) / p->queued_msgs;
	if (avg < 2 * SHMPIPE_RECORD_HDR)
		avg = 2 * SHMPIPE_RECORD_HDR;
	return p->queued_bytes && p->free_bytes < avg;
}

/*
 * Stale: nobody alive is attached, something was, and no newcomer could
 * still get anything out of it.  A reader may join only while no reader
 * has come and gone; it is worth joining only if data waits for it.
 */
static int stale(const struct ins_pipe *p, const struct ins_counts *c)
{
	uint32_t f = p->sh.sh_flags;

	if (c->readers || c->writers)
		return 0;
	if (!(f & (SHMPIPE_F_READER_SEEN | SHMPIPE_F_WRITER_SEEN)))
		return 0;
	return (f & SHMPIPE_F_READER_SEEN) || p->queued_bytes == 0;
}

static int died(const struct ins_pipe *p, const struct ins_counts *c)
{
	const struct shmpipe_shared *h = &p->sh;
	int reset = -ECONNRESET;

	if (c->readers_dead || c->writers_dead)
		return 1;
	if (h->sh_flags & SHMPIPE_F_ABORTED)
		return 0;
	return h->sh_wr_error == reset || h->sh_rd_error == reset;
}

int ins_state(const struct ins_pipe *p)
{
	const struct shmpipe_shared *h = &p->sh;
	struct ins_counts c;

	ins_count(p, &c);
	if (stale(p, &c))
		return INS_ST_STALE;
	if (died(p, &c))
		return INS_ST_PEER_DEAD;
	if (h->sh_flags & SHMPIPE_F_ABORTED)
		return INS_ST_ABORTED;
	if (h->sh_wr_error || h->sh_rd_error)
		return INS_ST_CLOSED;
	if (!c.readers && !c.writers)
		return INS_ST_NEW;
	if (!c.readers || !c.writers)
		return INS_ST_WAITING;
	return INS_ST_OPEN;
}

const char *ins_state_name(int state)
{
	static const char *const names[] = {
		[INS_ST_STALE] = "stale",
		[INS_ST_PEER_DEAD] = "peer-dead",
		[INS_ST_ABORTED] = "aborted",
		[INS_ST_CLOSED] = "closed",
		[INS_ST_NEW] = "new",
		[INS_ST_WAITING] = "waiting",
		[INS_ST_OPEN] = "open",
	};

	return state >= 0 && state <= INS_ST_OPEN ? names[state] : "?";
}

int ins_state_exit(int state)
{
	switch (state) {
	case INS_ST_OPEN:
		return INS_EX_OK;
	case INS_ST_STALE:
		return INS_EX_STALE;
	case INS_ST_PEER_DEAD:
		return INS_EX_PEER_DEAD;
	case INS_ST_ABORTED:
	case INS_ST_CLOSED:
		return INS_EX_CLOSED;
	default:
		return INS_EX_NOT_READY;
	}
}

const char *ins_verdict_name(int verdict)
{
	switch (verdict) {
	case INS_FOREIGN:
		return "foreign";
	case INS_UNSUPPORTED:
		return "unsupported";
	case INS_DAMAGED:
		return "damaged";
	default:
		return "valid";
	}
}

int ins_verdict_exit(int verdict)
{
	switch (verdict) {
	case INS_FOREIGN:
		return INS_EX_FOREIGN;
	case INS_UNSUPPORTED:
		return INS_EX_UNSUPPORTED;
	case INS_DAMAGED:
		return INS_EX_DAMAGED;
	default:
		return INS_EX_OK;
	}
}

const char *ins_death_text(int death)
{
	switch (death) {
	case INS_DEATH_RELEASED:
		return "left without detaching";
	case INS_DEATH_KERNEL:
		return "process died";
	case INS_DEATH_PID_GONE:
		return "process gone";
	case INS_DEATH_PID_REUSED:
		return "pid now another process";
	default:
		return "";
	}
}

const char *ins_lock_text(int lock_state)
{
	switch (lock_state) {
	case INS_LK_HELD:
		return "held";
	case INS_LK_OWNER_DIED:
		return "owner-died";
	default:
		return "free";
	}
}
