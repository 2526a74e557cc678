/* Row-major sgemm: the OpenBLAS call every dense layer and conv goes through, and a naive twin
   that the tests hold it against. */
#include "gemm.h"

#include <cblas.h>

void ck_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A,
              const float *B, float beta, float *C) {
    if (M <= 0 || N <= 0) return;
    /* BLAS rejects a leading dimension of 0 even when that matrix is empty (K == 0). */
    int lda = transA ? M : (K > 0 ? K : 1);
    int ldb = transB ? (K > 0 ? K : 1) : N;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
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
