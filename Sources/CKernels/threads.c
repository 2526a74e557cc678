/* Thread control for every kernel: OpenMP's threads are the only ones (OpenBLAS runs single-threaded
   inside OpenMP's blocks, see gemm.c), and libomp spins only briefly after its parallel regions
   (see threads.h). */
#include "threads.h"

#include <stdlib.h>

/* clang 21 as shipped with Swift has no omp.h; these are libomp's C entry points. */
extern int omp_get_max_threads(void);
extern void omp_set_num_threads(int n);
extern void kmp_set_blocktime(int msec);

/* How long libomp's workers spin after a parallel region before sleeping. Kernels follow each other
   microseconds apart, so a spinning worker starts the next at once: 0 (sleep at once) measured
   10-15% slower training steps at 8 and 16 px than 20 or libomp's 200; 20 hands the core back
   sooner when Swift code or another process needs it. (Before OpenBLAS ran inside OpenMP's blocks,
   spinning workers competed with OpenBLAS's own threads and 0 was faster.) */
#define BLOCKTIME_MS "20"

/* 1 if the user set KMP_BLOCKTIME: theirs wins. Decided once, at load. */
static int user_blocktime = -1;

static void blocktime_env(void) {
    if (user_blocktime >= 0) return;
    user_blocktime = getenv("KMP_BLOCKTIME") != NULL;
    if (!user_blocktime) setenv("KMP_BLOCKTIME", BLOCKTIME_MS, 0);
}

/* At load time, before anything can start libomp (which reads its environment once), so that
   programs and tests that never call ck_init still get the setting. Only the environment here:
   starting libomp itself is left to the first kernel. */
__attribute__((constructor)) static void ck_load(void) { blocktime_env(); }

/* Also sets the calling thread's blocktime directly, which covers a libomp that was already running
   before this library loaded. Harmless to call again, from any thread. */
void ck_init(void) {
    blocktime_env();
    if (!user_blocktime) kmp_set_blocktime(atoi(BLOCKTIME_MS));
}

int ck_num_threads(void) { return omp_get_max_threads(); }

/* OpenMP's threads only: OpenBLAS stays single-threaded, inside OpenMP's blocks (gemm.c). */
void ck_set_num_threads(int n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);
}

extern char *openblas_get_corename(void);

const char *ck_blas_core(void) { return openblas_get_corename(); }
