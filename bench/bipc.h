/* SPDX-License-Identifier: MIT */
/*
 * The C face of bipc.cpp: Boost.Interprocess message_queue for the C
 * benchmark.  Each call returns 0 or a negative errno value.
 */
#ifndef SHMPIPE_BENCH_BIPC_H
#define SHMPIPE_BENCH_BIPC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

int bipc_create(const char *name, size_t depth, size_t size);
void *bipc_open(const char *name);	/* NULL on failure */
int bipc_send(void *q, const void *msg, size_t len, int nowait);
int bipc_recv(void *q, void *buf, size_t size, size_t *len);
void bipc_close(void *q);
int bipc_remove(const char *name);
const char *bipc_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMPIPE_BENCH_BIPC_H */
