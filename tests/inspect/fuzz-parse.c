/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for shmpipe-inspect's parser, and everything that
 * formats what it accepts.  An input is a little-endian u64 file size, one
 * byte of options, then the bytes of the header copy.  The option byte
 * says whether the copy is "moving" and stands in for what /proc would
 * have said about each endpoint and lock, so the printers see every life
 * and death they can be given.
 *
 * Built twice: with -fsanitize=fuzzer for fuzzing, and with replay.c as a
 * plain program that runs the corpus under `make check`.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "inspect.h"

#define HDR_OFF	9

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "w");
	return f;
}

/* What the probe would have added: lives, deaths, lock holders. */
static void pretend_probe(struct ins_pipe *p, uint8_t opt)
{
	int i;

	for (i = 0; i < p->nends; i++) {
		struct ins_end *e = &p->ends[i];

		if (e->life == INS_ALIVE && (opt & 2)) {
			e->life = (opt & 4) ? INS_UNKNOWN : INS_DEAD;
			e->death = (opt & 4) ? INS_DEATH_NONE :
				   INS_DEATH_PID_GONE + (i & 1);
		}
	}
	for (i = 0; i < 3; i++)
		p->locks[i].pid = (opt & 8) ? (int32_t)p->locks[i].tid : 0;
	p->creator_alive = (opt >> 4) % 3 - 1;
	p->tries = opt >> 6;
	p->settling = opt & 0x20;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ins_pipe p;
	struct ins_rates rt = { .seconds = 1.5, .msgs_in = 3 };
	uint64_t file_size = size;
	uint8_t opt = 0;
	char why[160];
	FILE *f = sink();

	if (size >= HDR_OFF) {
		memcpy(&file_size, data, sizeof(file_size));
		opt = data[8];
		data += HDR_OFF;
		size -= HDR_OFF;
	}
	if (ins_parse(data, size, file_size, opt & 1, &p, why, sizeof(why)) !=
	    INS_VALID) {
		if (!memchr(why, '\0', sizeof(why)) || !why[0])
			__builtin_trap();	/* every refusal says why */
		ins_json_error(f, "fuzz", "damaged", 5, why);
		return 0;
	}
	pretend_probe(&p, opt);
	ins_same_state(&p.sh, &p.sh);
	ins_same_traffic(&p.sh, &p.sh);
	ins_print_pipe(f, "fuzz\x01name", &p, &rt, 1700000000000000000ULL);
	ins_print_row(f, "fuzz", &p, 0);
	ins_json_pipe(f, "fuzz\"name", &p, &rt);
	ins_state_exit(ins_state(&p));
	return 0;
}
