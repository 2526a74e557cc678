/* Scratch buffers for the kernels, kept per calling thread (internal to CKernels). */
#pragma once

/* At least n floats, 64-byte aligned, for buffer `slot` (0..7) of the calling thread; valid until
   this thread's next request for the same slot. NULL if the memory cannot be mapped. */
float *ck_workspace(int slot, long n);
