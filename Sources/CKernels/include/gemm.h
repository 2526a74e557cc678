/* Row-major matrix product on OpenBLAS: C (M,N) = alpha * op(A) op(B) + beta * C.
   op(A) is (M,K): A is stored (M,K), or (K,M) when transA. op(B) is (K,N): B is (K,N), or (N,K). */
#pragma once

void ck_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A,
              const float *B, float beta, float *C);
void ck_sgemm_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  const float *B, float beta, float *C);
