/* Double-precision linear algebra for the metrics' statistics (OpenBLAS's BLAS and LAPACK).
   Matrices are row-major. */
#pragma once

/* C (M, N) = alpha op(A) op(B) + beta C; op transposes when trans_* is 1. */
void ck_dgemm(int trans_a, int trans_b, int M, int N, int K, double alpha, const double *A,
              const double *B, double beta, double *C);
/* Eigen-decomposition of the symmetric n x n matrix a (LAPACK dsyevd): w gets the eigenvalues in
   ascending order and row i of a the unit eigenvector of w[i]. Returns LAPACK's info (0: done). */
int ck_symmetric_eigen(double *a, double *w, int n);
