/* Row-major matrix product on OpenBLAS: C (M,N) = alpha * op(A) op(B) + beta * C.
   op(A) is (M,K): A is stored (M,K), or (K,M) when transA. op(B) is (K,N): B is (K,N), or (N,K).
   OpenBLAS itself runs single-threaded; the product is split into column (or row) blocks over the
   OpenMP threads, so the kernels' threads are OpenMP's alone (see gemm.c). */
#pragma once

void ck_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A,
              const float *B, float beta, float *C);
/* The same with explicit leading dimensions (row strides) of A, B and C. */
void ck_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, long lda,
             const float *B, long ldb, float beta, float *C, long ldc);
void ck_sgemm_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  const float *B, float beta, float *C);
