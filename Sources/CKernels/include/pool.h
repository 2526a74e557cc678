/* Tensor buffers: 64-byte aligned, and the large ones kept for reuse after they are freed. */
#pragma once

#include <stddef.h>

/* At least `bytes` bytes, 64-byte aligned; NULL if out of memory. */
void *ck_buffer_alloc(size_t bytes);
/* Gives back a buffer from ck_buffer_alloc of the same `bytes`. */
void ck_buffer_free(void *p, size_t bytes);
/* Bytes held for reuse now (for tests and the benchmark). */
size_t ck_buffer_cached_bytes(void);
