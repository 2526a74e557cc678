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

#include "workspace.h"

extern int omp_get_max_threads(void);
extern int omp_in_parallel(void);
extern void openblas_set_num_threads(int);

__attribute__((constructor)) static void gemm_single_threaded_blas(void) { openblas_set_num_threads(1); }

/* Products smaller than this many multiply-adds are one call. */
#define PARALLEL_MIN_MACS (1L << 18)
/* Blocks are multiples of this many columns (rows), the width OpenBLAS's kernels step by. */
#define BLOCK_ALIGN 16
/* C is cut into a power of two of blocks, at most MAX_BLOCKS, none narrower than MIN_BLOCK.
   The cut depends on the shape alone, never on the number of threads: OpenBLAS rounds a block
   differently from the whole (its kernels for the edges and its packing follow the call's shape),
   so a cut by thread count made a projection differ between 1 and 2 threads. A power of two keeps
   2, 4, 8 and 16 threads evenly loaded. */
#define MAX_BLOCKS 16
#define MIN_BLOCK 64

static void gemm1(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static int have_avx512(void);

/* Up to this many columns of B, ck_gemm runs ck_gemm_unpacked on blocks of A's rows. */
#define UNPACKED_MAX_COLUMNS 512
/* Products with a transposed B of at most this many rows (K), and C of at least this many rows,
   run on ck_gemm_unpacked after a copy of B^T. */
#define TRANSPOSED_MAX_K 512
#define TRANSPOSED_MIN_ROWS 64

static void gemm_unpacked(int transA, int M, int N, int K, float alpha, const float *A, long lda, const float *B,
                          long ldb, float beta, float *C, long ldc);

/* C = alpha op(A) B + beta C on the unpacked kernels, one block of rows per thread. */
static void unpacked_rows(int transA, int M, int N, int K, float alpha, const float *A, long lda, const float *B,
                          long ldb, float beta, float *C, long ldc) {
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    int step = ((M + threads - 1) / threads + 23) / 24 * 24;
    int parts = (M + step - 1) / step;
#pragma omp parallel for num_threads(parts) schedule(static, 1) if (parts > 1)
    for (int p = 0; p < parts; p++) {
        int lo = p * step, hi = lo + step < M ? lo + step : M;
        gemm_unpacked(transA, hi - lo, N, K, alpha, transA ? A + lo : A + (long)lo * lda, lda, B, ldb, beta,
                      C + (long)lo * ldc, ldc);
    }
}

void ck_transpose(float *t, const float *m, long ld, int rows, int cols) {
    const int blocks = (rows + 15) / 16;
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && (long)rows * cols >= (1L << 16))
    for (int b = 0; b < blocks; b++)
        for (int c0 = 0; c0 < cols; c0 += 16)
            for (int r = b * 16; r < b * 16 + 16 && r < rows; r++)
                for (int c = c0; c < c0 + 16 && c < cols; c++) t[(long)c * rows + r] = m[(long)r * ld + c];
}

void ck_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, long lda,
             const float *B, long ldb, float beta, float *C, long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K > 0 && have_avx512()) {
        if (!transB && N <= UNPACKED_MAX_COLUMNS) {
            unpacked_rows(transA, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            return;
        }
        /* A conv's weight gradient (dy times the patches' transpose, K = the pixels of a chunk):
           B^T copied out costs 1/M of the product, and OpenBLAS ran it at 60% of the speed. */
        if (transB && K <= TRANSPOSED_MAX_K && M >= TRANSPOSED_MIN_ROWS) {
            float *Bt = ck_workspace(6, (long)K * N);
            if (Bt != NULL) {
                ck_transpose(Bt, B, ldb, N, K);
                unpacked_rows(transA, M, N, K, alpha, A, lda, Bt, N, beta, C, ldc);
                return;
            }
        }
    }
    /* BLAS rejects a leading dimension of 0 even when that matrix is empty (K == 0). */
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    long macs = (long)M * N * (K > 0 ? K : 1);
    /* Split the longer side of C in aligned blocks; threads take whole blocks. */
    int by_cols = N >= M;
    int len = by_cols ? N : M;
    int parts = 1;
    while (parts < MAX_BLOCKS && len >= 2 * parts * MIN_BLOCK) parts *= 2;
    if (macs < PARALLEL_MIN_MACS) parts = 1;
    int step = ((len + parts - 1) / parts + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    parts = (len + step - 1) / step;
    if (parts <= 1) {
        gemm1(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int parallel = omp_get_max_threads() > 1 && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (parallel)
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

/* ---------------------------------------------------------------------------------------------
   Products with A read in place: C (M,N) = op(A) B, 64 columns of B at a time. OpenBLAS packs all
   of A before multiplying, and with few columns the packing costs as much as the product (11% of
   an 8 px training step, where Winograd's products have 32 columns); this machine's OpenBLAS also
   runs its AVX2 kernels. Here a block of R rows of C (R x NV vectors of accumulators, 24 in all)
   takes one broadcast of A and NV loads of B per multiply-add step; A (op(A)'s element (m, k) at
   m * ars + k * acs) is read once per 64 columns. */
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define UNPACKED_KERNEL(R, NV)                                                                       \
    __attribute__((target("avx512f"))) static void unpacked_##R##x##NV(                              \
        int K, const float *A, long ars, long acs, const float *B, long ldb, float alpha, float beta, \
        float *C, long ldc, __mmask16 last) {                                                        \
        __m512 acc[R][NV];                                                                           \
        for (int r = 0; r < R; r++)                                                                  \
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();                            \
        for (int k = 0; k < K; k++) {                                                                \
            const float *b = B + (long)k * ldb, *a = A + (long)k * acs;                              \
            __m512 bv[NV];                                                                           \
            for (int v = 0; v < NV - 1; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);                    \
            bv[NV - 1] = _mm512_maskz_loadu_ps(last, b + 16 * (NV - 1));                             \
            for (int r = 0; r < R; r++) {                                                            \
                __m512 av = _mm512_set1_ps(a[r * ars]);                                              \
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);      \
            }                                                                                        \
        }                                                                                            \
        for (int r = 0; r < R; r++) {                                                                \
            float *c = C + (long)r * ldc;                                                            \
            if (alpha != 1.0f)                                                                       \
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_mul_ps(_mm512_set1_ps(alpha), acc[r][v]); \
            if (beta != 0.0f) { /* like BLAS, C is not read when beta is 0 */                        \
                const __m512 bb = _mm512_set1_ps(beta);                                              \
                for (int v = 0; v < NV - 1; v++)                                                     \
                    acc[r][v] = _mm512_fmadd_ps(bb, _mm512_loadu_ps(c + 16 * v), acc[r][v]);         \
                acc[r][NV - 1] = _mm512_fmadd_ps(bb, _mm512_maskz_loadu_ps(last, c + 16 * (NV - 1)), \
                                                 acc[r][NV - 1]);                                    \
            }                                                                                        \
            for (int v = 0; v < NV - 1; v++) _mm512_storeu_ps(c + 16 * v, acc[r][v]);                \
            _mm512_mask_storeu_ps(c + 16 * (NV - 1), last, acc[r][NV - 1]);                          \
        }                                                                                            \
    }

/* 24 accumulators per block whatever the width; one-row blocks for the rows left over. */
UNPACKED_KERNEL(24, 1)
UNPACKED_KERNEL(12, 2)
UNPACKED_KERNEL(8, 3)
UNPACKED_KERNEL(6, 4)
UNPACKED_KERNEL(1, 1)
UNPACKED_KERNEL(1, 2)
UNPACKED_KERNEL(1, 3)
UNPACKED_KERNEL(1, 4)

typedef void (*unpacked_fn)(int, const float *, long, long, const float *, long, float, float, float *, long,
                            __mmask16);

__attribute__((target("avx512f"))) static void unpacked_avx512(int M, int N, int K, const float *A, long ars,
                                                             long acs, const float *B, long ldb, float alpha,
                                                             float beta, float *C, long ldc) {
    static const unpacked_fn block[4] = {unpacked_24x1, unpacked_12x2, unpacked_8x3, unpacked_6x4};
    static const unpacked_fn single[4] = {unpacked_1x1, unpacked_1x2, unpacked_1x3, unpacked_1x4};
    static const int rows[4] = {24, 12, 8, 6};
    for (int n0 = 0; n0 < N; n0 += 64) {
        int w = N - n0 < 64 ? N - n0 : 64;
        int nv = (w + 15) / 16;
        __mmask16 last = (__mmask16)(w % 16 ? (1u << (w % 16)) - 1 : 0xFFFFu);
        int R = rows[nv - 1], m = 0;
        for (; m + R <= M; m += R)
            block[nv - 1](K, A + (long)m * ars, ars, acs, B + n0, ldb, alpha, beta, C + (long)m * ldc + n0, ldc, last);
        for (; m < M; m++)
            single[nv - 1](K, A + (long)m * ars, ars, acs, B + n0, ldb, alpha, beta, C + (long)m * ldc + n0, ldc, last);
    }
}

static int have_avx512(void) {
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return known;
}
#else
static int have_avx512(void) { return 0; }
static void unpacked_avx512(int M, int N, int K, const float *A, long ars, long acs, const float *B, long ldb,
                            float alpha, float beta, float *C, long ldc) {
    (void)M, (void)N, (void)K, (void)A, (void)ars, (void)acs, (void)B, (void)ldb, (void)alpha, (void)beta, (void)C,
        (void)ldc;
}
#endif

/* ck_gemm_unpacked with alpha. */
static void gemm_unpacked(int transA, int M, int N, int K, float alpha, const float *A, long lda, const float *B,
                          long ldb, float beta, float *C, long ldc) {
    if (M <= 0 || N <= 0) return;
    /* One OpenBLAS call, never cut: the callers run these inside their own parallel loops
       (Winograd's products), where a cut would be taken or not by how many threads there are. */
    if (K <= 0 || !have_avx512()) {
        gemm1(transA, 0, M, N, K, alpha, A, lda < 1 ? 1 : lda, B, ldb < 1 ? 1 : ldb, beta, C, ldc);
        return;
    }
    unpacked_avx512(M, N, K, A, transA ? 1 : lda, transA ? lda : 1, B, ldb, alpha, beta, C, ldc);
}

void ck_gemm_unpacked(int transA, int M, int N, int K, const float *A, long lda, const float *B, long ldb,
                      float beta, float *C, long ldc) {
    gemm_unpacked(transA, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}
