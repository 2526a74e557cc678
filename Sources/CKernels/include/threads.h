/* Thread control shared by every kernel: one place that owns OpenMP's settings. */
#pragma once

/* Called once before the first kernel: shortens libomp's spin after each parallel region
   (KMP_BLOCKTIME) from 200 ms to 20 ms, unless the user set it. */
void ck_init(void);
/* Threads of the OpenMP loops, which also run sgemm in blocks (defaults to OMP_NUM_THREADS or the
   core count). */
int ck_num_threads(void);
void ck_set_num_threads(int n);
/* The OpenBLAS kernel family in use (e.g. "Haswell"): its run-time dispatch, or OPENBLAS_CORETYPE. */
const char *ck_blas_core(void);
