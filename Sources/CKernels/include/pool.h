/* Tensor buffers: 64-byte aligned, and the large ones kept for reuse after they are freed. */
#pragma once

#include <stddef.h>

/* At least `bytes` bytes, 64-byte aligned; NULL if out of memory. */
void *ck_buffer_alloc(size_t bytes);
/* Gives back a buffer from ck_buffer_alloc of the same `bytes`. */
void ck_buffer_free(void *p, size_t bytes);
/* One consistent reading of all threads' large buffers: bytes in use, cached, the most ever in
   use at once, and the footprint (in use + cached) the cache keeps to. */
void ck_buffer_footprint(size_t *in_use, size_t *cached, size_t *peak, size_t *allowed);
/* Bytes of large buffers (256 KB and up) this thread allocated and has not freed, now (peak = 0)
   or at most since the last reset (peak = 1); reset_peak = 1 starts a new peak from now. */
long ck_buffer_live_bytes(int peak, int reset_peak);
