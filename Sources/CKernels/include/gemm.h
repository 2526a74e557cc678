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
/* C (M,N) = op(A) B + beta C (alpha 1; C not read when beta is 0) with A read in place rather than packed, on AVX-512:
   for products whose A fits in L2 (Winograd's 36 products per convolution), where it measured
   faster than ck_gemm (this machine's OpenBLAS runs its AVX2 kernels, and packs all of A, as costly
   as the product itself when B has few columns). Single-threaded (for use inside OpenMP loops);
   ck_gemm where AVX-512 is missing. */
void ck_gemm_unpacked(int transA, int M, int N, int K, const float *A, long lda, const float *B, long ldb,
                      float beta, float *C, long ldc);
/* t (cols x rows, dense) = the transpose of m (rows x cols, row stride ld), in 16 x 16 blocks;
   over the OpenMP threads when large and not already inside a parallel region. */
void ck_transpose(float *t, const float *m, long ld, int rows, int cols);
