/* Thread control shared by every kernel: one place that owns OpenMP's settings. */
#pragma once

/* Called once before the first kernel: turns off libomp's 200 ms spin after each parallel region
   (KMP_BLOCKTIME), which on 2 cores steals a core from OpenBLAS's own threads. */
void ck_init(void);
/* Threads used by OpenMP loops and OpenBLAS (defaults to OMP_NUM_THREADS or the core count). */
int ck_num_threads(void);
void ck_set_num_threads(int n);
/* The OpenBLAS kernel family in use (e.g. "Haswell"): its run-time dispatch, or OPENBLAS_CORETYPE. */
const char *ck_blas_core(void);
