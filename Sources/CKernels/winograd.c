/* Winograd F(4x4, 3x3) for 3x3 / stride 1 / pad 1 convolutions, and its two gradients.

   The image is cut into 4x4 output tiles, each read as a 6x6 input patch (one pixel of zero padding
   around the image). In the transformed domain a convolution is, for each of the 36 positions xi of
   a 6x6 tile, one matrix product over channels:
       forward:       M[xi] (Cout x T) = U[xi] (Cout x Cin) * V[xi] (Cin x T)
       input grad:    dV[xi] (Cin x T) = U[xi]^T * Z[xi] (Cout x T)
       weight grad:   dU[xi] (Cout x Cin) += Z[xi] (Cout x T) * V[xi]^T
   with U = G g G^T (weights), V = B^T d B (input patches), Y = A^T M A (output tiles) and, for the
   gradients, Z = A dY A^T, dx = B dV B^T (summed where patches overlap) and dg = G^T dU G: the
   transposes of the forward's maps. The input gradient, as the exact adjoint of the forward, uses
   the forward's U, so weights unchanged between the two are transformed once. Tiles are processed
   in blocks whose V and M fit a few MB, so the products stay long while the transformed data stays
   in cache. Transforms are OpenMP loops; the products read their left operand in place
   (ck_gemm_unpacked). */
#include "winograd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "workspace.h"

#define TILE 4   /* output tile side (m) */
#define PATCH 6  /* input patch side (m + r - 1) */
#define NXI 36   /* positions of a transformed tile */

/* The tile transforms are also compiled for AVX-512 and AVX2, chosen at run time. */
#if defined(__x86_64__) && defined(__clang__)
#define TILE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TILE_CLONES
#endif

/* Floats of V plus M (or Z) per block of tiles. */
#define BLOCK_FLOATS (1L << 20)
#define MIN_BLOCK_TILES 176

typedef struct {
    int N, H, W, th, tw;
    long T; /* tiles in all */
} tiling;

static tiling make_tiling(int N, int H, int W) {
    tiling g = {N, H, W, (H + TILE - 1) / TILE, (W + TILE - 1) / TILE, 0};
    g.T = (long)N * g.th * g.tw;
    return g;
}

/* Distance in floats between the 36 matrices of a transformed tensor of n floats each: 64-byte
   aligned for sgemm, plus one cache line, so that the 36 values of one tile, written or read
   together, do not all fall in the same cache set (n is often a large power of two, and a 1 MB
   stride measured the weight transform 10x slower). */
static long plane(long n) { return ((n + 15) & ~15L) + 16; }

/* The tile rows a block of tiles touches, and for one of them (rr) its image, top output row,
   and the tiles [tx0, tx1) of it that are in the block. */
typedef struct {
    long row0, rows;
} block_rows;

static block_rows rows_of_block(const tiling *g, long t0, int tb) {
    block_rows r = {t0 / g->tw, 0};
    r.rows = (t0 + tb - 1) / g->tw - r.row0 + 1;
    return r;
}

static inline void tile_row(const tiling *g, long t0, int tb, long row, int *n, int *y0, int *tx0, int *tx1) {
    const long first = row * g->tw;
    *n = (int)(row / g->th);
    *y0 = (int)(row % g->th) * TILE;
    *tx0 = first < t0 ? (int)(t0 - first) : 0;
    *tx1 = first + g->tw > t0 + tb ? (int)(t0 + tb - first) : g->tw;
}

static int block_tiles(const tiling *g, int C1, int C2) {
    long tb = BLOCK_FLOATS / ((long)NXI * (C1 + C2));
    if (tb < MIN_BLOCK_TILES) tb = MIN_BLOCK_TILES;
    if (tb > g->T) tb = g->T;
    return (int)tb;
}

/* ---------------------------------------------------------------------------------------------
   The 1-D transforms; each 2-D transform applies one to the rows, then to the columns. Written
   out because multiplying by the matrices' zeros cannot be folded away under IEEE rules. */

/* B^T d */
static inline void bt6(float o[6], const float d[6]) {
    o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    o[1] = -4.0f * (d[1] + d[2]) + d[3] + d[4];
    o[2] = 4.0f * (d[1] - d[2]) - d[3] + d[4];
    o[3] = -2.0f * (d[1] - d[3]) - d[2] + d[4];
    o[4] = 2.0f * (d[1] - d[3]) - d[2] + d[4];
    o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* B u (the adjoint of B^T) */
static inline void b6(float o[6], const float u[6]) {
    o[0] = 4.0f * u[0];
    o[1] = -4.0f * (u[1] - u[2]) - 2.0f * (u[3] - u[4]) + 4.0f * u[5];
    o[2] = -5.0f * u[0] - 4.0f * (u[1] + u[2]) - u[3] - u[4];
    o[3] = u[1] - u[2] + 2.0f * (u[3] - u[4]) - 5.0f * u[5];
    o[4] = u[0] + u[1] + u[2] + u[3] + u[4];
    o[5] = u[5];
}

/* A^T m */
static inline void at4(float o[4], const float m[6]) {
    float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    o[0] = m[0] + s12 + s34;
    o[1] = d12 + 2.0f * d34;
    o[2] = s12 + 4.0f * s34;
    o[3] = d12 + 8.0f * d34 + m[5];
}

/* A e (the adjoint of A^T) */
static inline void a6(float o[6], const float e[4]) {
    float s02 = e[0] + e[2], s13 = e[1] + e[3];
    float q02 = e[0] + 4.0f * e[2], q13 = 2.0f * e[1] + 8.0f * e[3];
    o[0] = e[0];
    o[1] = s02 + s13;
    o[2] = s02 - s13;
    o[3] = q02 + q13;
    o[4] = q02 - q13;
    o[5] = e[3];
}

/* G g; multiplications by rounded 1/6, 1/12, 1/24, since a division costs ten times as much and
   the weight transform runs on every call. */
#define SIXTH (1.0f / 6.0f)
#define TWELFTH (1.0f / 12.0f)
#define TWENTYFOURTH (1.0f / 24.0f)
static inline void g6(float o[6], const float g[3]) {
    float s02 = g[0] + g[2];
    o[0] = g[0] * 0.25f;
    o[1] = -(s02 + g[1]) * SIXTH;
    o[2] = -(s02 - g[1]) * SIXTH;
    o[3] = g[0] * TWENTYFOURTH + g[1] * TWELFTH + g[2] * SIXTH;
    o[4] = g[0] * TWENTYFOURTH - g[1] * TWELFTH + g[2] * SIXTH;
    o[5] = g[2];
}

/* G^T u (the adjoint of G) */
static inline void gt3(float o[3], const float u[6]) {
    o[0] = u[0] * 0.25f - (u[1] + u[2]) * SIXTH + (u[3] + u[4]) * TWENTYFOURTH;
    o[1] = (u[2] - u[1]) * SIXTH + (u[3] - u[4]) * TWELFTH;
    o[2] = (u[3] + u[4] - u[1] - u[2]) * SIXTH + u[5];
}

/* ---------------------------------------------------------------------------------------------
   2-D transforms over whole tensors */

/* U[xi][o][i] = gain G g G^T for the 3x3 kernel g of output channel o and input channel i of w
   (Out x In x 3 x 3). Sixteen input channels at a time, so that each of the 36 outputs is one
   64-byte line of consecutive floats, stored past the cache: U (36 x In x Out floats) is larger
   than the cache, so ordinary stores read every line from memory before writing it. One kernel
   at a time, 36 scattered scalar stores made this transform 12% of an 8 px training step. */
#define WT_LANES 16
typedef float wt_line __attribute__((vector_size(64), aligned(64)));
TILE_CLONES
static void weight_transform(float *U, const float *w, int Out, int In, float gain) {
    const long xs = plane((long)Out * In);
    const int blocks = (In + WT_LANES - 1) / WT_LANES;
#pragma omp parallel
    {
#pragma omp for collapse(2) schedule(static)
        for (int o = 0; o < Out; o++) {
            for (int ib = 0; ib < blocks; ib++) {
                const int i0 = ib * WT_LANES, n = In - i0 < WT_LANES ? In - i0 : WT_LANES;
                const float *src = w + ((long)o * In + i0) * 9;
                float g[9][WT_LANES];
                for (int l = 0; l < n; l++)
                    for (int k = 0; k < 9; k++) g[k][l] = src[l * 9 + k];
                float u[NXI][WT_LANES] __attribute__((aligned(64)));
#pragma omp simd simdlen(8)
                for (int l = 0; l < n; l++) {
                    float t[6][3]; /* G g, column by column */
                    for (int b = 0; b < 3; b++) {
                        float col[3] = {g[b][l], g[3 + b][l], g[6 + b][l]}, out[6];
                        g6(out, col);
                        for (int a = 0; a < 6; a++) t[a][b] = out[a];
                    }
                    for (int a = 0; a < 6; a++) {
                        float out[6];
                        g6(out, t[a]);
                        for (int b = 0; b < 6; b++) u[a * 6 + b][l] = gain * out[b];
                    }
                }
                float *dst = U + (long)o * In + i0;
                if (n == WT_LANES && ((uintptr_t)dst & 63) == 0) {
                    for (int xi = 0; xi < NXI; xi++)
                        __builtin_nontemporal_store(*(const wt_line *)u[xi], (wt_line *)(dst + xi * xs));
                } else {
                    for (int xi = 0; xi < NXI; xi++)
                        for (int l = 0; l < n; l++) dst[xi * xs + l] = u[xi][l];
                }
            }
        }
#if defined(__x86_64__)
        __builtin_ia32_sfence(); /* the stores past the cache, visible before the barrier */
#endif
    }
}

/* V[xi][c][k] = B^T d B for tile t0 + k (k < tb) of channel c of x (N x C x H x W).
   A row of tiles at a time: B^T is applied down the columns of its six input rows for the whole
   row at once (contiguous, vector-wide; rows outside the image read a zero row), then B across
   each tile's six columns. One tile at a time, gathering and transforming each 6x6 patch in scalar code, this
   was a fifth of a 64 px training step. */
TILE_CLONES
static void input_transform(float *V, const float *x, int C, const tiling *g, long t0, int tb) {
    const long HW = (long)g->H * g->W;
    const long stride = plane((long)C * tb);
    const block_rows br = rows_of_block(g, t0, tb);
    const int WP = g->tw * TILE + 2; /* patch columns -1 .. tw*4 */
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (long rr = 0; rr < br.rows; rr++) {
            int n, y0, tx0, tx1;
            tile_row(g, t0, tb, br.row0 + rr, &n, &y0, &tx0, &tx1);
            y0 -= 1; /* the patches start one pixel above the tiles */
            const long first = (br.row0 + rr) * g->tw; /* tile index of this row's tx = 0 */
            const float *p = x + ((long)n * C + c) * HW;
            /* Rows outside the image read a zero row; columns -1 and from W on are zero after B^T too. */
            float zero[WP], t[6][WP];
            for (int i = 0; i < WP; i++) zero[i] = 0.0f;
            const float *r[6];
            for (int a = 0; a < 6; a++) r[a] = (y0 + a >= 0 && y0 + a < g->H) ? p + (long)(y0 + a) * g->W : zero;
#pragma omp simd
            for (int i = 0; i < g->W; i++) { /* B^T d down each column */
                float col[6] = {r[0][i], r[1][i], r[2][i], r[3][i], r[4][i], r[5][i]}, out[6];
                bt6(out, col);
                for (int a = 0; a < 6; a++) t[a][i + 1] = out[a];
            }
            for (int a = 0; a < 6; a++) {
                t[a][0] = 0.0f;
                for (int i = g->W + 1; i < WP; i++) t[a][i] = 0.0f;
            }
            float *v = V + (long)c * tb + (first + tx0 - t0);
            for (int a = 0; a < 6; a++) { /* (B^T d) B across each tile */
                const float *ta = t[a];
#pragma omp simd
                for (int tx = tx0; tx < tx1; tx++) {
                    const float *q = ta + tx * TILE;
                    float in[6] = {q[0], q[1], q[2], q[3], q[4], q[5]}, out[6];
                    bt6(out, in);
                    for (int b = 0; b < 6; b++) v[(a * 6 + b) * stride + (tx - tx0)] = out[b];
                }
            }
        }
    }
}

/* dx += B D B^T for tile t0 + k of channel c (the adjoint of input_transform): each 6x6 patch
   goes back to the pixels it was read from, those outside the image dropped. Neighbouring patches
   overlap by two pixels, so one thread takes all tile rows of a channel, in order. */
TILE_CLONES
static void input_transform_adjoint(float *dx, const float *D, int C, const tiling *g, long t0, int tb) {
    const long HW = (long)g->H * g->W;
    const long stride = plane((long)C * tb);
    const block_rows br = rows_of_block(g, t0, tb);
    const int WP = g->tw * TILE + 2; /* patch columns -1 .. tw*4 */
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float t[6][WP];
        for (long rr = 0; rr < br.rows; rr++) {
            int n, y0, tx0, tx1;
            tile_row(g, t0, tb, br.row0 + rr, &n, &y0, &tx0, &tx1);
            y0 -= 1;
            const long first = (br.row0 + rr) * g->tw;
            const float *d = D + (long)c * tb + (first + tx0 - t0);
            for (int a = 0; a < 6; a++) { /* B across each tile, overlapping tiles summed */
                for (int i = 0; i < WP; i++) t[a][i] = 0.0f;
                for (int tx = tx0; tx < tx1; tx++) {
                    float in[6], out[6];
                    for (int b = 0; b < 6; b++) in[b] = d[(a * 6 + b) * stride + (tx - tx0)];
                    b6(out, in);
                    float *q = &t[a][tx * TILE];
                    for (int b = 0; b < 6; b++) q[b] += out[b];
                }
            }
            float *p = dx + ((long)n * C + c) * HW;
            float sink[WP]; /* rows outside the image */
            float *r[6];
            for (int a = 0; a < 6; a++) r[a] = (y0 + a >= 0 && y0 + a < g->H) ? p + (long)(y0 + a) * g->W : sink;
            const int x0 = tx0 * TILE > 0 ? tx0 * TILE : 1, x1 = tx1 * TILE + 2 < g->W + 1 ? tx1 * TILE + 2 : g->W + 1;
#pragma omp simd
            for (int i = x0; i < x1; i++) { /* B down each column, into image column i - 1 */
                float col[6] = {t[0][i], t[1][i], t[2][i], t[3][i], t[4][i], t[5][i]}, out[6];
                b6(out, col);
                for (int a = 0; a < 6; a++) r[a][i - 1] += out[a];
            }
        }
    }
}

/* y tile = A^T M A for tile t0 + k of channel c, cropped to the image: A across each tile's
   six values into a row buffer, then A^T down the columns of the whole tile row. */
TILE_CLONES
static void output_transform(float *y, const float *M, int C, const tiling *g, long t0, int tb) {
    const long HW = (long)g->H * g->W;
    const long stride = plane((long)C * tb);
    const block_rows br = rows_of_block(g, t0, tb);
    const int WT = g->tw * TILE;
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (long rr = 0; rr < br.rows; rr++) {
            int n, y0, tx0, tx1;
            tile_row(g, t0, tb, br.row0 + rr, &n, &y0, &tx0, &tx1);
            const float *m = M + (long)c * tb + ((br.row0 + rr) * g->tw + tx0 - t0);
            float t[6][WT];
            for (int a = 0; a < 6; a++) {
#pragma omp simd
                for (int tx = tx0; tx < tx1; tx++) {
                    float row[6], out[4];
                    for (int b = 0; b < 6; b++) row[b] = m[(a * 6 + b) * stride + (tx - tx0)];
                    at4(out, row);
                    for (int b = 0; b < 4; b++) t[a][tx * TILE + b] = out[b];
                }
            }
            float *p = y + ((long)n * C + c) * HW;
            const int rows = g->H - y0 < TILE ? g->H - y0 : TILE;
            const int x0 = tx0 * TILE, x1 = tx1 * TILE < g->W ? tx1 * TILE : g->W;
            float *out_rows[4];
            for (int a = 0; a < 4; a++) out_rows[a] = p + (long)(y0 + (a < rows ? a : 0)) * g->W;
            if (rows == TILE) {
#pragma omp simd
                for (int i = x0; i < x1; i++) {
                    float col[6] = {t[0][i], t[1][i], t[2][i], t[3][i], t[4][i], t[5][i]}, out[4];
                    at4(out, col);
                    for (int a = 0; a < 4; a++) out_rows[a][i] = out[a];
                }
            } else {
                for (int i = x0; i < x1; i++) {
                    float col[6] = {t[0][i], t[1][i], t[2][i], t[3][i], t[4][i], t[5][i]}, out[4];
                    at4(out, col);
                    for (int a = 0; a < rows; a++) out_rows[a][i] = out[a];
                }
            }
        }
    }
}

/* Z[xi][c][k] = A e A^T for the 4x4 tile e of dy (zero outside the image): A down the columns of
   the whole tile row, then A^T across each tile. */
TILE_CLONES
static void grad_output_transform(float *Z, const float *dy, int C, const tiling *g, long t0, int tb) {
    const long HW = (long)g->H * g->W;
    const long stride = plane((long)C * tb);
    const block_rows br = rows_of_block(g, t0, tb);
    const int WT = g->tw * TILE;
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (long rr = 0; rr < br.rows; rr++) {
            int n, y0, tx0, tx1;
            tile_row(g, t0, tb, br.row0 + rr, &n, &y0, &tx0, &tx1);
            const float *p = dy + ((long)n * C + c) * HW;
            float zero[WT], t[6][WT];
            for (int i = 0; i < WT; i++) zero[i] = 0.0f;
            const float *r[4];
            for (int a = 0; a < 4; a++) r[a] = y0 + a < g->H ? p + (long)(y0 + a) * g->W : zero;
            const int x0 = tx0 * TILE, x1 = tx1 * TILE < g->W ? tx1 * TILE : g->W;
#pragma omp simd
            for (int i = x0; i < x1; i++) {
                float col[4] = {r[0][i], r[1][i], r[2][i], r[3][i]}, out[6];
                a6(out, col);
                for (int a = 0; a < 6; a++) t[a][i] = out[a];
            }
            for (int a = 0; a < 6; a++)
                for (int i = x1; i < tx1 * TILE; i++) t[a][i] = 0.0f;
            float *z = Z + (long)c * tb + ((br.row0 + rr) * g->tw + tx0 - t0);
            for (int a = 0; a < 6; a++) {
#pragma omp simd
                for (int tx = tx0; tx < tx1; tx++) {
                    const float *q = &t[a][tx * TILE];
                    float row[4] = {q[0], q[1], q[2], q[3]}, out[6];
                    a6(out, row);
                    for (int b = 0; b < 6; b++) z[(a * 6 + b) * stride + (tx - tx0)] = out[b];
                }
            }
        }
    }
}

/* dw[o][i] = gain G^T dU[.][o][i] G for the rows x cols block of channel pairs whose dU is at dU
   (plane stride xs, row stride ld), written at dw (rows of In kernels). Sixteen input channels at
   a time (vector loads of the 36 planes), as the forward's weight transform. */
TILE_CLONES
static void weight_grad_transform(float *dw, int In, const float *dU, long xs, long ld, int rows, int cols,
                                  float gain) {
    for (int r = 0; r < rows; r++) {
        for (int i0 = 0; i0 < cols; i0 += WT_LANES) {
            const int n = cols - i0 < WT_LANES ? cols - i0 : WT_LANES;
            const float *planes[NXI];
            for (int xi = 0; xi < NXI; xi++) planes[xi] = dU + xi * xs + (long)r * ld + i0;
            float k[9][WT_LANES];
#pragma omp simd simdlen(8)
            for (int l = 0; l < n; l++) {
                float t[3][6]; /* G^T dU: columns */
                for (int b = 0; b < 6; b++) {
                    float col[6], out[3];
                    for (int a = 0; a < 6; a++) col[a] = planes[a * 6 + b][l];
                    gt3(out, col);
                    for (int a = 0; a < 3; a++) t[a][b] = out[a];
                }
                for (int a = 0; a < 3; a++) {
                    float out[3];
                    gt3(out, t[a]);
                    for (int b = 0; b < 3; b++) k[a * 3 + b][l] = gain * out[b];
                }
            }
            /* Scalar: vectorised, these nine-float strides become scatters, which took half of
               this function's time. */
            float *dst = dw + ((long)r * In + i0) * 9;
#pragma clang loop vectorize(disable)
            for (int l = 0; l < n; l++)
                for (int j = 0; j < 9; j++) dst[l * 9 + j] = k[j][l];
        }
    }
}

/* ---------------------------------------------------------------------------------------------
   The convolutions. The 36 products are independent: OpenMP threads take whole ones (gemm.c keeps
   OpenBLAS single-threaded), which beat splitting each product at 8x8, where they are small, on
   two cores (see `products`). */

extern int omp_get_max_threads(void);

/* The 36 products of a block of tiles, C[xi] (M x N) = op(A[xi]) B[xi] + beta C[xi] (the xi-th
   matrices `as`, `bs` and `cs` floats apart), over the OpenMP threads: whole products while there
   are at least four per thread; with more threads (at 16, 2.25 each, so that a third of them idle
   through the last round) each product is cut into blocks of rows. */
static void products(int transA, int M, int N, int K, const float *A, long as, long lda, const float *B, long bs,
                     long ldb, float beta, float *C, long cs, long ldc) {
    int parts = (4 * omp_get_max_threads() + NXI - 1) / NXI;
    const int step = ((M + parts - 1) / parts + 23) / 24 * 24;
    parts = (M + step - 1) / step;
#pragma omp parallel for schedule(dynamic, 1)
    for (int u = 0; u < NXI * parts; u++) {
        const int xi = u / parts, lo = u % parts * step, rows = M - lo < step ? M - lo : step;
        const float *a = A + xi * as + (transA ? lo : (long)lo * lda);
        ck_gemm_unpacked(transA, rows, N, K, a, lda, B + xi * bs, ldb, beta, C + xi * cs + (long)lo * ldc, ldc);
    }
}

/* y (N x Out x H x W) = x (N x In x H x W) convolved with the transformed weights U. */
static void convolve(float *y, const float *x, const float *U, int N, int In, int H, int W, int Out) {
    tiling g = make_tiling(N, H, W);
    int tb = block_tiles(&g, In, Out);
    float *V = ck_workspace(1, NXI * plane((long)In * tb));
    float *M = ck_workspace(2, NXI * plane((long)Out * tb));
    if (V == NULL || M == NULL) abort();
    for (long t0 = 0; t0 < g.T; t0 += tb) {
        int nb = g.T - t0 < tb ? (int)(g.T - t0) : tb;
        input_transform(V, x, In, &g, t0, nb);
        products(0, Out, nb, In, U, plane((long)Out * In), In, V, plane((long)In * nb), nb, 0.0f, M,
                 plane((long)Out * nb), nb);
        output_transform(y, M, Out, &g, t0, nb);
    }
}

/* dx (N x In x H x W) = the input gradient of the convolution by U for dy (N x Out x H x W): the
   forward's adjoint step by step, so it needs the forward's U and no transform of its own:
   dM = A dy A^T, dV[xi] = U[xi]^T dM[xi], dx = B dV B^T summed over the overlapping patches. */
static void convolve_adjoint(float *dx, const float *dy, const float *U, int N, int In, int H, int W, int Out) {
    tiling g = make_tiling(N, H, W);
    int tb = block_tiles(&g, Out, In);
    float *Z = ck_workspace(1, NXI * plane((long)Out * tb));
    float *D = ck_workspace(2, NXI * plane((long)In * tb));
    if (Z == NULL || D == NULL) abort();
    memset(dx, 0, sizeof(float) * (size_t)N * In * H * W);
    for (long t0 = 0; t0 < g.T; t0 += tb) {
        int nb = g.T - t0 < tb ? (int)(g.T - t0) : tb;
        grad_output_transform(Z, dy, Out, &g, t0, nb);
        products(1, In, nb, Out, U, plane((long)Out * In), In, Z, plane((long)Out * nb), nb, 0.0f, D,
                 plane((long)In * nb), nb);
        input_transform_adjoint(dx, D, In, &g, t0, nb);
    }
}

/* Sizes with nothing to compute (out all zero when there is nothing to sum over): 1 when done. */
static int trivial(float *out, int N, int C, int H, int W, int sum_over) {
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0) return 1;
    if (sum_over <= 0) {
        memset(out, 0, sizeof(float) * (size_t)N * C * H * W);
        return 1;
    }
    return 0;
}

long winograd3x3_weights_floats(int Cin, int Cout) { return NXI * plane((long)Cout * Cin); }

void winograd3x3_transform_weights(float *U, const float *w, int Cin, int Cout, float gain) {
    if (Cin > 0 && Cout > 0) weight_transform(U, w, Cout, Cin, gain);
}

void winograd3x3_forward_transformed(float *y, const float *x, const float *U, int N, int Cin, int H,
                                     int W, int Cout) {
    if (!trivial(y, N, Cout, H, W, Cin)) convolve(y, x, U, N, Cin, H, W, Cout);
}

void winograd3x3_backward_input_transformed(float *dx, const float *dy, const float *U, int N, int Cin,
                                            int H, int W, int Cout) {
    if (!trivial(dx, N, Cin, H, W, Cout)) convolve_adjoint(dx, dy, U, N, Cin, H, W, Cout);
}

/* The forward's transformed weights, in the workspace. */
static const float *transformed_weights(const float *w, int Cin, int Cout, float gain) {
    float *U = ck_workspace(3, winograd3x3_weights_floats(Cin, Cout));
    if (U == NULL) abort();
    weight_transform(U, w, Cout, Cin, gain);
    return U;
}

void winograd3x3_forward(float *y, const float *x, const float *w, int N, int Cin, int H, int W,
                         int Cout, float gain) {
    if (!trivial(y, N, Cout, H, W, Cin)) convolve(y, x, transformed_weights(w, Cin, Cout, gain), N, Cin, H, W, Cout);
}

void winograd3x3_backward_input(float *dx, const float *dy, const float *w, int N, int Cin, int H,
                                int W, int Cout, float gain) {
    if (!trivial(dx, N, Cin, H, W, Cout))
        convolve_adjoint(dx, dy, transformed_weights(w, Cin, Cout, gain), N, Cin, H, W, Cout);
}

/* With few tiles (at most FUSED_MAX_TILES, so all in one block) the weight gradient's channel
   pairs are taken in blocks of WG_ROWS x WG_COLS, whose 36 products (in a per-thread buffer that
   stays in L2) are transformed back to 3x3 kernels at once: dU in full, 36 x Cout x Cin floats
   written and read back from memory, made the 8 px weight gradient 1.6x slower. With more tiles
   the blocks would re-read the transformed input and gradient (36 x C x tiles each) from L3 once
   per block row and column, so there the products fill dU in full, one position xi at a time. */
#define WG_ROWS 12
#define WG_COLS 128
#define FUSED_MAX_TILES 64

void winograd3x3_backward_weight(float *dw, const float *dy, const float *x, int N, int Cin, int H,
                                 int W, int Cout, float gain) {
    if (Cout <= 0 || Cin <= 0) return;
    if (N <= 0 || H <= 0 || W <= 0) {
        memset(dw, 0, sizeof(float) * (size_t)Cout * Cin * 9);
        return;
    }
    tiling g = make_tiling(N, H, W);
    int tb = block_tiles(&g, Cin, Cout);
    const int fused = g.T <= FUSED_MAX_TILES && g.T <= tb;
    float *V = ck_workspace(1, NXI * plane((long)Cin * tb));
    float *Z = ck_workspace(2, NXI * plane((long)Cout * tb));
    float *Vt = ck_workspace(4, NXI * plane((long)Cin * tb));
    float *dU = fused ? NULL : ck_workspace(3, NXI * plane((long)Cout * Cin));
    if (V == NULL || Z == NULL || Vt == NULL || (!fused && dU == NULL)) abort();
    for (long t0 = 0; t0 < g.T; t0 += tb) {
        int nb = g.T - t0 < tb ? (int)(g.T - t0) : tb;
        input_transform(V, x, Cin, &g, t0, nb);
        grad_output_transform(Z, dy, Cout, &g, t0, nb);
        /* dU[xi] = Z[xi] V[xi]^T reads rows of V^T (nb x Cin). */
        const long vs = plane((long)Cin * nb), zs = plane((long)Cout * nb);
#pragma omp parallel for schedule(static)
        for (int xi = 0; xi < NXI; xi++) ck_transpose(Vt + xi * vs, V + xi * vs, nb, Cin, nb);
        if (fused) {
            const int row_blocks = (Cout + WG_ROWS - 1) / WG_ROWS, col_blocks = (Cin + WG_COLS - 1) / WG_COLS;
            const long us = plane((long)WG_ROWS * WG_COLS);
#pragma omp parallel for collapse(2) schedule(static)
            for (int rb = 0; rb < row_blocks; rb++) {
                for (int cb = 0; cb < col_blocks; cb++) {
                    const int o0 = rb * WG_ROWS, i0 = cb * WG_COLS;
                    const int rows = Cout - o0 < WG_ROWS ? Cout - o0 : WG_ROWS;
                    const int cols = Cin - i0 < WG_COLS ? Cin - i0 : WG_COLS;
                    float *block = ck_workspace(5, NXI * us);
                    if (block == NULL) abort();
                    for (int xi = 0; xi < NXI; xi++)
                        ck_gemm_unpacked(0, rows, cols, nb, Z + xi * zs + (long)o0 * nb, nb, Vt + xi * vs + i0, Cin,
                                         0.0f, block + xi * us, cols);
                    weight_grad_transform(dw + ((long)o0 * Cin + i0) * 9, Cin, block, us, cols, rows, cols, gain);
                }
            }
        } else {
            products(0, Cout, Cin, nb, Z, zs, nb, Vt, vs, Cin, t0 == 0 ? 0.0f : 1.0f, dU, plane((long)Cout * Cin), Cin);
        }
    }
    if (!fused) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < Cout; o++)
            weight_grad_transform(dw + (long)o * Cin * 9, Cin, dU + (long)o * Cin, plane((long)Cout * Cin), Cin, 1, Cin,
                                  gain);
    }
}

/* ---------------------------------------------------------------------------------------------
   When to use it */

/* Per calling thread (the thread that calls conv2d_* decides the route; the OpenMP workers only
   run it), so that a test can take one path without changing another test's. */
static _Thread_local int enabled = -1;

static int default_enabled(void) {
    const char *e = getenv("CK_WINOGRAD");
    return !(e != NULL && strcmp(e, "0") == 0);
}

int winograd3x3_set_enabled(int on) {
    int was = enabled < 0 ? default_enabled() : enabled;
    enabled = on != 0;
    return was;
}

int winograd3x3_used(int N, int Cin, int H, int W, int Cout) {
    if (enabled < 0) enabled = default_enabled();
    if (!enabled) return 0;
    (void)Cin, (void)Cout;
    /* Below a few tiles the weight transform (36 x Cin x Cout) outweighs the saved products. */
    return winograd3x3_tiles(N, H, W) >= 16;
}

long winograd3x3_tiles(int N, int H, int W) { return make_tiling(N, H, W).T; }
