/* Row-major sgemm: the OpenBLAS call every dense layer and conv goes through, and a naive twin
   that the tests hold it against.

   OpenBLAS's own thread pool is left at one thread and the product is split over OpenMP's threads
   instead: each takes a block of C's columns (or rows, when C is tall and narrow) and calls sgemm
   on it. With both pools running, OpenBLAS's idle threads spin on sched_yield between calls while
   the OpenMP loops around them (im2col, transforms, elementwise) want the same cores: measured as a
   fifth of all samples in a training step at 8x8. One pool also makes it safe to run independent
   sgemms from inside an OpenMP loop (Winograd's 36 products). */
#include "gemm.h"

#include <cblas.h>

extern int omp_get_max_threads(void);
extern int omp_in_parallel(void);
extern void openblas_set_num_threads(int);

__attribute__((constructor)) static void gemm_single_threaded_blas(void) { openblas_set_num_threads(1); }

/* Products smaller than this many multiply-adds run on the calling thread alone. */
#define PARALLEL_MIN_MACS (1L << 18)
/* Blocks are multiples of this many columns (rows), the width OpenBLAS's kernels step by. */
#define BLOCK_ALIGN 16

static void gemm1(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void ck_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, long lda,
             const float *B, long ldb, float beta, float *C, long ldc) {
    if (M <= 0 || N <= 0) return;
    /* BLAS rejects a leading dimension of 0 even when that matrix is empty (K == 0). */
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    int threads = omp_get_max_threads();
    long macs = (long)M * N * (K > 0 ? K : 1);
    if (threads <= 1 || omp_in_parallel() || macs < PARALLEL_MIN_MACS) {
        gemm1(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* Split the longer side of C, in aligned blocks, one per thread. */
    int by_cols = N >= M || N >= BLOCK_ALIGN * threads;
    int len = by_cols ? N : M;
    int parts = threads;
    int step = ((len + parts - 1) / parts + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    if (step < BLOCK_ALIGN) step = BLOCK_ALIGN;
    parts = (len + step - 1) / step;
    if (parts <= 1) {
        gemm1(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; p++) {
        int lo = p * step, hi = lo + step < len ? lo + step : len;
        if (by_cols) {
            const float *Bp = transB ? B + (long)lo * ldb : B + lo;
            gemm1(transA, transB, M, hi - lo, K, alpha, A, lda, Bp, ldb, beta, C + lo, ldc);
        } else {
            const float *Ap = transA ? A + lo : A + (long)lo * lda;
            gemm1(transA, transB, hi - lo, N, K, alpha, Ap, lda, B, ldb, beta, C + (long)lo * ldc, ldc);
        }
    }
}

void ck_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A,
              const float *B, float beta, float *C) {
    ck_gemm(transA, transB, M, N, K, alpha, A, transA ? M : K, B, transB ? K : N, beta, C, N);
}

/* Accumulates in double, and like BLAS never reads C when beta is 0 (so NaNs there vanish). */
void ck_sgemm_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  const float *B, float beta, float *C) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float a = transA ? A[(long)k * M + i] : A[(long)i * K + k];
                float b = transB ? B[(long)j * K + k] : B[(long)k * N + j];
                acc += (double)a * b;
            }
            float *c = &C[(long)i * N + j];
            *c = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
    }
}
