/* The metrics' double-precision products and LAPACK's symmetric eigen-solver. */
#include "linalg.h"

#include <cblas.h>
#include <stdlib.h>

void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);

void ck_dgemm(int trans_a, int trans_b, int M, int N, int K, double alpha, const double *A,
              const double *B, double beta, double *C) {
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

int ck_symmetric_eigen(double *a, double *w, int n) {
    /* A symmetric row-major matrix is its own column-major transpose; LAPACK's column j of
       eigenvectors is then row j of the row-major buffer. */
    int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    double work_query = 0;
    dsyevd_("V", "U", &n, a, &n, w, &work_query, &lwork, &iwork_query, &liwork, &info);
    if (info != 0) return info;
    lwork = (int)work_query;
    liwork = iwork_query;
    double *work = malloc(sizeof(double) * (size_t)lwork);
    int *iwork = malloc(sizeof(int) * (size_t)liwork);
    if (!work || !iwork) { free(work); free(iwork); return -1000; }
    dsyevd_("V", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, &info);
    free(work);
    free(iwork);
    return info;
}
