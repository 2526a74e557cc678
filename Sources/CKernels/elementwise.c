/* Elementwise maps, broadcasting binary ops, strided copies and reductions (elementwise.h): the
   glue of the autograd, so every op of the Swift Tensor that is not a conv or a norm ends here.
   Strided ops first merge adjacent axes that are contiguous in every operand (an (N,C,H,W) array
   plus a (1,C,1,1) bias becomes (N, C, H*W) with the bias constant over the last axis), then run
   a dense inner loop over the last merged axis and walk the others with an index counter. */
#include "elementwise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Cheap maps pay for a parallel region only above this many elements. */
#define PAR_MIN 65536L

/* ---------------------------------------------------------------------------------------------
   Shape handling shared by the strided ops */

/* Drops size-1 axes and merges axis d into d+1 when every operand steps through them as one
   (stride[d] == stride[d+1] * dims[d+1]). Returns the new ndim (>= 1). nops operands. */
static int collapse_dims(long *dims, long strides[][CK_MAXDIM], int nops, int ndim) {
    int m = 0;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] == 1) continue;
        dims[m] = dims[d];
        for (int k = 0; k < nops; k++) strides[k][m] = strides[k][d];
        m++;
    }
    if (m == 0) {
        dims[0] = 1;
        for (int k = 0; k < nops; k++) strides[k][0] = 0;
        return 1;
    }
    int r = 0;
    for (int d = 1; d < m; d++) {
        int mergeable = 1;
        for (int k = 0; k < nops; k++)
            if (strides[k][r] != strides[k][d] * dims[d]) mergeable = 0;
        if (mergeable) {
            dims[r] *= dims[d];
            for (int k = 0; k < nops; k++) strides[k][r] = strides[k][d];
        } else {
            r++;
            dims[r] = dims[d];
            for (int k = 0; k < nops; k++) strides[k][r] = strides[k][d];
        }
    }
    return r + 1;
}

/* Offset of outer row `row` (row-major over dims[0..nd-1]) through strides. */
static long row_offset(long row, const long *dims, const long *strides, int nd) {
    long off = 0;
    for (int d = nd - 1; d >= 0; d--) {
        off += (row % dims[d]) * strides[d];
        row /= dims[d];
    }
    return off;
}

/* ---------------------------------------------------------------------------------------------
   Binary ops with broadcasting */

#define BIN_LOOPS(EXPR)                                                                     \
    if (sa == 1 && sb == 1) {                                                               \
        for (long i = 0; i < n; i++) { float u = a[i], v = b[i]; out[i] = (EXPR); }         \
    } else if (sa == 1 && sb == 0) {                                                        \
        float v = b[0];                                                                     \
        for (long i = 0; i < n; i++) { float u = a[i]; out[i] = (EXPR); }                   \
    } else if (sa == 0 && sb == 1) {                                                        \
        float u = a[0];                                                                     \
        for (long i = 0; i < n; i++) { float v = b[i]; out[i] = (EXPR); }                   \
    } else {                                                                                \
        for (long i = 0; i < n; i++) { float u = a[i * sa], v = b[i * sb]; out[i] = (EXPR); } \
    }

/* out[i] = a[i*sa] op b[i*sb], i < n */
static void binary_row(int op, float *out, const float *a, long sa, const float *b, long sb,
                       long n) {
    switch (op) {
    case CK_ADD: BIN_LOOPS(u + v); break;
    case CK_SUB: BIN_LOOPS(u - v); break;
    case CK_MUL: BIN_LOOPS(u * v); break;
    case CK_DIV: BIN_LOOPS(u / v); break;
    default: break;
    }
}

void ew_binary(int op, float *out, const float *a, const long *a_strides, const float *b,
               const long *b_strides, const long *dims, int ndim) {
    long d[CK_MAXDIM], st[2][CK_MAXDIM];
    long total = 1;
    for (int k = 0; k < ndim; k++) {
        d[k] = dims[k];
        st[0][k] = a_strides[k];
        st[1][k] = b_strides[k];
        total *= dims[k];
    }
    if (total <= 0) return;
    int nd = ndim > 0 ? collapse_dims(d, st, 2, ndim) : (d[0] = 1, st[0][0] = st[1][0] = 0, 1);
    long inner = d[nd - 1], sa = st[0][nd - 1], sb = st[1][nd - 1];
    long rows = total / inner;
    if (rows == 1) {
        /* One long row (same-shape contiguous, or scalar broadcast): split it across threads. */
        long chunk = 16384;
        long nchunks = (inner + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (inner > PAR_MIN)
        for (long c = 0; c < nchunks; c++) {
            long i0 = c * chunk, len = inner - i0 < chunk ? inner - i0 : chunk;
            binary_row(op, out + i0, a + i0 * sa, sa, b + i0 * sb, sb, len);
        }
        return;
    }
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
    for (long r = 0; r < rows; r++) {
        long oa = row_offset(r, d, st[0], nd - 1), ob = row_offset(r, d, st[1], nd - 1);
        binary_row(op, out + r * inner, a + oa, sa, b + ob, sb, inner);
    }
}

/* ---------------------------------------------------------------------------------------------
   Unary maps */

/* exp of a non-positive number only, so nothing overflows; branch-free so the loop vectorises. */
static inline float sigmoid_stable(float x) {
    float e = expf(-fabsf(x));
    float s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : e * s;
}

#define UN_LOOP(EXPR)                                                                      \
    _Pragma("omp parallel for schedule(static) if (n > PAR_MIN)")                            \
    for (long i = 0; i < n; i++) { float v = x[i]; out[i] = (EXPR); }

void ew_unary(int op, float *out, const float *x, long n) {
    switch (op) {
    case CK_NEG: UN_LOOP(-v); break;
    case CK_EXP: UN_LOOP(expf(v)); break;
    case CK_LOG: UN_LOOP(logf(v)); break;
    case CK_SQRT: UN_LOOP(sqrtf(v)); break;
    case CK_SOFTPLUS: UN_LOOP(fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v)))); break;
    case CK_SIGMOID: UN_LOOP(sigmoid_stable(v)); break;
    case CK_RELU: UN_LOOP(v > 0.0f ? v : 0.0f); break;
    case CK_SQUARE: UN_LOOP(v * v); break;
    case CK_RSQRT: UN_LOOP(1.0f / sqrtf(v)); break;
    case CK_ABS: UN_LOOP(fabsf(v)); break;
    case CK_STEP: UN_LOOP(v > 0.0f ? 1.0f : 0.0f); break;
    default: break;
    }
}

void ew_affine(float *out, const float *x, float a, float b, long n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (long i = 0; i < n; i++) out[i] = a * x[i] + b;
}

void ew_lerp(float *out, const float *a, const float *b, float t, long n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (long i = 0; i < n; i++) out[i] = a[i] + t * (b[i] - a[i]);
}

/* ---------------------------------------------------------------------------------------------
   Strided copy (expand / permute / slice into a contiguous array) */

void ew_copy_strided(float *out, const float *x, const long *x_strides, const long *dims,
                     int ndim) {
    long d[CK_MAXDIM], st[1][CK_MAXDIM];
    long total = 1;
    for (int k = 0; k < ndim; k++) {
        d[k] = dims[k];
        st[0][k] = x_strides[k];
        total *= dims[k];
    }
    if (total <= 0) return;
    int nd = ndim > 0 ? collapse_dims(d, st, 1, ndim) : (d[0] = 1, st[0][0] = 0, 1);
    long inner = d[nd - 1], sx = st[0][nd - 1];
    long rows = total / inner;
    if (rows == 1 && sx == 1) {
        memcpy(out, x, sizeof(float) * (size_t)inner);
        return;
    }
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
    for (long r = 0; r < rows; r++) {
        const float *xr = x + row_offset(r, d, st[0], nd - 1);
        float *o = out + r * inner;
        if (sx == 1) memcpy(o, xr, sizeof(float) * (size_t)inner);
        else if (sx == 0) for (long i = 0; i < inner; i++) o[i] = xr[0];
        else for (long i = 0; i < inner; i++) o[i] = xr[i * sx];
    }
}

/* ---------------------------------------------------------------------------------------------
   Reductions */

/* Steps an index counter over dims[0..nd-1], adding to *off; returns 0 after the last index. */
static int odometer_next(long *idx, const long *dims, const long *strides, int nd, long *off) {
    for (int d = nd - 1; d >= 0; d--) {
        idx[d]++;
        *off += strides[d];
        if (idx[d] < dims[d]) return 1;
        *off -= strides[d] * dims[d];
        idx[d] = 0;
    }
    return 0;
}

#define RS_BLOCK 512

/* Fixed blocks summed in double, then the blocks' sums in order: the same bits on any thread
   count (an OpenMP reduction's order follows the threads, and float results then differ). */
#define SUM_BLOCK 16384L
static double sum_whole(const float *x, long n) {
    long nb = (n + SUM_BLOCK - 1) / SUM_BLOCK;
    if (nb <= 1) {
        double s = 0.0;
        for (long i = 0; i < n; i++) s += x[i];
        return s;
    }
    double *part = malloc(sizeof(double) * (size_t)nb);
    if (!part) {
        double s = 0.0;
        for (long i = 0; i < n; i++) s += x[i];
        return s;
    }
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (long b = 0; b < nb; b++) {
        long end = (b + 1) * SUM_BLOCK < n ? (b + 1) * SUM_BLOCK : n;
        double s = 0.0;
        for (long i = b * SUM_BLOCK; i < end; i++) s += x[i];
        part[b] = s;
    }
    double s = 0.0;
    for (long b = 0; b < nb; b++) s += part[b];
    free(part);
    return s;
}

/* After dropping size-1 axes and merging neighbours of the same kind, the axes alternate between
   kept (K) and reduced (R). If the last is R, each output is a sum of contiguous runs: threads
   take outputs. If it is K, each output row gathers whole rows of x: threads take blocks of
   output columns, each summed in a small double buffer on the stack. */
void reduce_sum(float *out, const long *out_dims, const float *x, const long *x_dims, int ndim) {
    long dims[CK_MAXDIM], xst[CK_MAXDIM];
    int kept[CK_MAXDIM];
    long total = 1, nout = 1;
    for (int d = 0; d < ndim; d++) {
        total *= x_dims[d];
        nout *= out_dims[d];
    }
    if (total == 0) {
        for (long o = 0; o < nout; o++) out[o] = 0.0f;
        return;
    }
    /* size-1 axes dropped, same-kind neighbours merged; x is contiguous so strides follow */
    int m = 0;
    for (int d = 0; d < ndim; d++) {
        if (x_dims[d] == 1) continue;
        int k = out_dims[d] != 1;
        if (m > 0 && kept[m - 1] == k) {
            dims[m - 1] *= x_dims[d];
        } else {
            dims[m] = x_dims[d];
            kept[m] = k;
            m++;
        }
    }
    if (m == 0) { /* a single element */
        out[0] = x[0];
        return;
    }
    long s = 1;
    for (int d = m - 1; d >= 0; d--) {
        xst[d] = s;
        s *= dims[d];
    }
    if (nout == 1) {
        out[0] = (float)sum_whole(x, total);
        return;
    }
    /* kept axes (outer ones for the K-last case) and reduced axes, in order */
    long kd[CK_MAXDIM], ks[CK_MAXDIM], rd[CK_MAXDIM], rs[CK_MAXDIM];
    int nk = 0, nr = 0;
    int last_kept = kept[m - 1];
    for (int d = 0; d < m - 1; d++) { /* the last axis belongs to the inner loop */
        if (kept[d]) { kd[nk] = dims[d]; ks[nk] = xst[d]; nk++; }
        else { rd[nr] = dims[d]; rs[nr] = xst[d]; nr++; }
    }
    long L = dims[m - 1];

    if (!last_kept) {
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
        for (long o = 0; o < nout; o++) {
            long base = row_offset(o, kd, ks, nk), off = 0;
            long idx[CK_MAXDIM] = {0};
            double acc = 0.0;
            do {
                const float *xr = x + base + off;
#pragma omp simd reduction(+ : acc)
                for (long i = 0; i < L; i++) acc += xr[i];
            } while (odometer_next(idx, rd, rs, nr, &off));
            out[o] = (float)acc;
        }
    } else {
        long nouter = nout / L, nblk = (L + RS_BLOCK - 1) / RS_BLOCK;
#pragma omp parallel for collapse(2) schedule(static) if (total > PAR_MIN)
        for (long ro = 0; ro < nouter; ro++)
            for (long bk = 0; bk < nblk; bk++) {
                long j0 = bk * RS_BLOCK, len = L - j0 < RS_BLOCK ? L - j0 : RS_BLOCK;
                long base = row_offset(ro, kd, ks, nk) + j0, off = 0;
                long idx[CK_MAXDIM] = {0};
                double acc[RS_BLOCK];
                for (long j = 0; j < len; j++) acc[j] = 0.0;
                do {
                    const float *xr = x + base + off;
                    for (long j = 0; j < len; j++) acc[j] += xr[j];
                } while (odometer_next(idx, rd, rs, nr, &off));
                for (long j = 0; j < len; j++) out[ro * L + j0 + j] = (float)acc[j];
            }
    }
}

int has_nonfinite(const float *x, long n) {
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n > PAR_MIN)
    for (long i = 0; i < n; i++) bad |= !isfinite(x[i]);
    return bad;
}
