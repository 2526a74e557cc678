/* 2-D convolution (PyTorch's conv2d semantics, NCHW) as im2col/col2im around one OpenBLAS sgemm per
   chunk of columns, with the gradients for input and weight, and naive twins for the tests.

   A "column" is one output pixel of one sample; cols[K][j] holds, for row r = (ci, kh, kw), the input
   value that output column j multiplies with weight w[:, r]. The batch is walked in chunks whose
   column buffer stays under CONV_CHUNK_BYTES, so memory does not grow with the batch and the buffer
   that im2col writes is still in cache when sgemm reads it. Two layouts of a chunk:
     batched:    whole samples n0 .. n0+nb-1, column j = (n - n0) * OHW + p. One large GEMM even when
                 OH*OW is tiny (4x4 layers), at the price of copying y / dy between NCHW and the
                 chunk's [Cout][nb*OHW] layout.
     per-sample: pixels p0 .. p1-1 of one sample. The GEMM reads and writes y / dy in place (leading
                 dimension OH*OW), so no copies; used once a sample alone makes a wide enough GEMM,
                 and for samples whose columns do not fit in one chunk. */
#include "conv2d.h"
#include "gemm.h"
#include "winograd.h"
#include "workspace.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cblas.h>

/* Chosen by timing StyleGAN's layer shapes on a 2-core Zen 5 (32 MB L3): 16 MB chunks beat 8 MB
   at 16-64 px and 32 MB at 128 px. */
#ifndef CONV_CHUNK_BYTES
#define CONV_CHUNK_BYTES (16L << 20)
#endif
/* Forward / input gradient go per-sample from this many output pixels on. */
#ifndef CONV_PER_SAMPLE_PIXELS
#define CONV_PER_SAMPLE_PIXELS 256
#endif
/* The weight gradient sums over columns, so it wants long GEMMs: per-sample only from here on. */
#ifndef CONV_PER_SAMPLE_PIXELS_DW
#define CONV_PER_SAMPLE_PIXELS_DW 4096
#endif

typedef struct {
    int N, Cin, H, W, Cout, KH, KW, stride, pad, OH, OW;
    long OHW, K;
    int identity; /* 1x1, stride 1, no padding: cols of one sample are x itself */
} conv_shape;

static conv_shape make_shape(int N, int Cin, int H, int W, int Cout, int KH, int KW, int stride,
                             int pad) {
    conv_shape s = {N, Cin, H, W, Cout, KH, KW, stride, pad, 0, 0, 0, 0, 0};
    s.OH = (H + 2 * pad - KH) / stride + 1;
    s.OW = (W + 2 * pad - KW) / stride + 1;
    s.OHW = (long)s.OH * s.OW;
    s.K = (long)Cin * KH * KW;
    s.identity = KH == 1 && KW == 1 && stride == 1 && pad == 0;
    return s;
}

/* ---------------------------------------------------------------------------------------------
   Chunk plan */

typedef struct {
    int per_sample;
    int nb;       /* batched: samples per chunk */
    int pieces;   /* per-sample: chunks per sample */
    long pw;      /* per-sample: pixels per chunk (the last may be shorter) */
    long nchunks;
} conv_plan;

typedef struct {
    int n0, nb;
    long p0, p1; /* pixel range within each of the chunk's samples */
} conv_chunk;

static conv_plan make_plan(const conv_shape *s, long per_sample_from) {
    conv_plan pl = {0, 1, 1, s->OHW, 0};
    long limit = CONV_CHUNK_BYTES / (long)sizeof(float);
    long per_sample_cols = s->K * s->OHW;
    if (s->OHW >= per_sample_from || per_sample_cols * 2 > limit) {
        pl.per_sample = 1;
        /* A 1x1 conv without stride or padding reads x in place: nothing to split. */
        pl.pieces = s->identity ? 1 : (int)((per_sample_cols + limit - 1) / limit);
        if (pl.pieces < 1) pl.pieces = 1;
        pl.pw = (s->OHW + pl.pieces - 1) / pl.pieces;
        pl.pieces = (int)((s->OHW + pl.pw - 1) / pl.pw);
        pl.nchunks = (long)s->N * pl.pieces;
    } else {
        long nb = limit / per_sample_cols;
        pl.nb = (int)(nb < s->N ? nb : s->N);
        pl.nchunks = (s->N + pl.nb - 1) / pl.nb;
    }
    return pl;
}

static conv_chunk plan_chunk(const conv_shape *s, const conv_plan *pl, long i) {
    conv_chunk c;
    if (pl->per_sample) {
        c.n0 = (int)(i / pl->pieces);
        c.nb = 1;
        c.p0 = (i % pl->pieces) * pl->pw;
        c.p1 = c.p0 + pl->pw < s->OHW ? c.p0 + pl->pw : s->OHW;
    } else {
        c.n0 = (int)(i * pl->nb);
        c.nb = c.n0 + pl->nb <= s->N ? pl->nb : s->N - c.n0;
        c.p0 = 0;
        c.p1 = s->OHW;
    }
    return c;
}

/* Largest column buffer any chunk of the plan needs, in floats. */
static long plan_cols(const conv_shape *s, const conv_plan *pl) {
    return pl->per_sample ? s->K * pl->pw : s->K * pl->nb * s->OHW;
}

static float *alloc_floats(long n) {
    size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes > 0 ? bytes : 64);
}

/* A chunk's column buffer and, for batched chunks, its y / dy staging area, in one workspace. */
static void chunk_buffers(const conv_shape *s, const conv_plan *pl, float **cols, float **stage) {
    long ncols = (pl->per_sample && s->identity) ? 0 : (plan_cols(s, pl) + 15) & ~15L;
    long nstage = pl->per_sample ? 0 : (long)s->Cout * pl->nb * s->OHW;
    float *ws = ck_workspace(0, ncols + nstage);
    *cols = ws;
    *stage = ws + ncols;
}

/* ---------------------------------------------------------------------------------------------
   im2col / col2im over a chunk

   Both work one (sample, input channel) plane at a time: the rows of the plane that the chunk's
   output pixels reach are first copied into a small zero-padded buffer (it stays in L1/L2), so the
   KH*KW taps then copy or add whole output rows without any bounds checks. On 4x4 and 8x8 images
   the per-row work is what costs, so whole-sample chunks with stride 1 get loops specialised on
   the row length. Helpers take plain scalars, not the shape struct: read through a pointer, every
   memcpy would make the compiler reload them (memcpy may alias anything). */

/* Output rows [oy0, oy1] cover pixels [p0, p1); they read padded rows [ry0, ry1). */
typedef struct {
    int oy0, oy1, ry0, ry1, Wp;
    long p0, p1;
    int whole; /* the chunk covers whole samples */
} conv_rows;

static conv_rows rows_of(const conv_shape *s, const conv_chunk *c) {
    conv_rows w;
    w.p0 = c->p0;
    w.p1 = c->p1;
    w.whole = c->p0 == 0 && c->p1 == s->OHW;
    w.oy0 = (int)(c->p0 / s->OW);
    w.oy1 = (int)((c->p1 - 1) / s->OW);
    w.ry0 = w.oy0 * s->stride;
    w.ry1 = w.oy1 * s->stride + s->KH;
    w.Wp = s->W + 2 * s->pad;
    return w;
}

/* The image rows among padded rows [ry0, ry1) into buf (ry1 - ry0, Wp), whose padding the caller
   has zeroed once. */
static void load_plane(float *buf, const float *plane, int H, int W, int pad, int ry0, int ry1,
                       int Wp) {
    int iy0 = ry0 - pad > 0 ? ry0 - pad : 0, iy1 = ry1 - pad < H ? ry1 - pad : H;
    for (int iy = iy0; iy < iy1; iy++)
        memcpy(buf + (long)(iy + pad - ry0) * Wp + pad, plane + (long)iy * W,
               sizeof(float) * (size_t)W);
}

/* d[oy * OW + ox] = src[oy * rs + ox] for rows [0, nrows): inlined with a literal OW, the row
   copy becomes one or two vector moves. */
static inline void copy_rows(float *d, const float *src, int nrows, int OW, long rs) {
    for (int oy = 0; oy < nrows; oy++)
        for (int ox = 0; ox < OW; ox++) d[(long)oy * OW + ox] = src[oy * rs + ox];
}

static inline void add_rows(float *dst, const float *d, int nrows, int OW, long rs) {
    for (int oy = 0; oy < nrows; oy++)
        for (int ox = 0; ox < OW; ox++) dst[oy * rs + ox] += d[(long)oy * OW + ox];
}

/* One kernel tap: cols row d (indexed by pixel p) = its output rows oy0..oy1, pixels [p0, p1),
   read from src, the tap's offset in the buffer's first row. */
static inline void tap_to_cols(float *d, const float *src, int OW, int Wp, int st,
                               const conv_rows *w) {
    const int oy0 = w->oy0, oy1 = w->oy1;
    const long p0 = w->p0, p1 = w->p1, rs = (long)st * Wp;
    if (w->whole && st == 1) {
        int n = oy1 + 1;
        switch (OW) {
        case 4: copy_rows(d, src, n, 4, rs); return;
        case 8: copy_rows(d, src, n, 8, rs); return;
        case 16: copy_rows(d, src, n, 16, rs); return;
        default:
            for (int oy = 0; oy < n; oy++)
                memcpy(d + (long)oy * OW, src + oy * rs, sizeof(float) * (size_t)OW);
            return;
        }
    }
    for (int oy = oy0; oy <= oy1; oy++) {
        long start = (long)oy * OW;
        int xa = start < p0 ? (int)(p0 - start) : 0;
        int xb = start + OW > p1 ? (int)(p1 - start) : OW;
        const float *sr = src + (oy - oy0) * rs;
        float *dr = d + start;
        if (st == 1) {
            memcpy(dr + xa, sr + xa, sizeof(float) * (size_t)(xb - xa));
        } else {
            for (int ox = xa; ox < xb; ox++) dr[ox] = sr[(long)ox * st];
        }
    }
}

/* The adjoint of tap_to_cols: dst (the buffer at the tap's offset) += the cols row d. */
static inline void tap_from_cols(float *dst, const float *d, int OW, int Wp, int st,
                                 const conv_rows *w) {
    const int oy0 = w->oy0, oy1 = w->oy1;
    const long p0 = w->p0, p1 = w->p1, rs = (long)st * Wp;
    if (w->whole && st == 1) {
        int n = oy1 + 1;
        switch (OW) {
        case 4: add_rows(dst, d, n, 4, rs); return;
        case 8: add_rows(dst, d, n, 8, rs); return;
        case 16: add_rows(dst, d, n, 16, rs); return;
        default: add_rows(dst, d, n, OW, rs); return;
        }
    }
    for (int oy = oy0; oy <= oy1; oy++) {
        long start = (long)oy * OW;
        int xa = start < p0 ? (int)(p0 - start) : 0;
        int xb = start + OW > p1 ? (int)(p1 - start) : OW;
        float *br = dst + (oy - oy0) * rs;
        const float *dr = d + start;
        if (st == 1) {
            for (int ox = xa; ox < xb; ox++) br[ox] += dr[ox];
        } else {
            for (int ox = xa; ox < xb; ox++) br[(long)ox * st] += dr[ox];
        }
    }
}

/* cols (K, ldc): the chunk's columns, sample after sample (each sample p1 - p0 wide). */
static void im2col(float *cols, long ldc, const float *x, const conv_shape *s,
                   const conv_chunk *c) {
    const conv_rows w = rows_of(s, c);
    const int Cin = s->Cin, H = s->H, W = s->W, KH = s->KH, KW = s->KW, OW = s->OW;
    const int st = s->stride, pad = s->pad, nb = c->nb, n0 = c->n0, Wp = w.Wp;
    const long HW = (long)H * W, width = w.p1 - w.p0, nbuf = (long)(w.ry1 - w.ry0) * Wp;
#pragma omp parallel
    {
        float *buf = alloc_floats(nbuf);
        memset(buf, 0, sizeof(float) * (size_t)nbuf);
#pragma omp for collapse(2) schedule(static)
        for (int i = 0; i < nb; i++) {
            for (int ci = 0; ci < Cin; ci++) {
                load_plane(buf, x + ((long)(n0 + i) * Cin + ci) * HW, H, W, pad, w.ry0, w.ry1, Wp);
                for (int kh = 0; kh < KH; kh++) {
                    for (int kw = 0; kw < KW; kw++) {
                        long r = ((long)ci * KH + kh) * KW + kw;
                        tap_to_cols(cols + r * ldc + i * width - w.p0, buf + (long)kh * Wp + kw,
                                    OW, Wp, st, &w);
                    }
                }
            }
        }
        free(buf);
    }
}

/* dx planes of the chunk's samples get col2im(cols): set by a chunk that covers whole samples,
   added to by the later pieces of a split sample. One thread owns a whole (sample, channel)
   plane, so the scatter-add has no races. */
static void col2im(float *dx, const float *cols, long ldc, const conv_shape *s,
                   const conv_chunk *c) {
    const conv_rows w = rows_of(s, c);
    const int Cin = s->Cin, H = s->H, W = s->W, KH = s->KH, KW = s->KW, OW = s->OW;
    const int st = s->stride, pad = s->pad, nb = c->nb, n0 = c->n0, Wp = w.Wp;
    const long HW = (long)H * W, width = w.p1 - w.p0, nbuf = (long)(w.ry1 - w.ry0) * Wp;
    const int first = w.p0 == 0;
#pragma omp parallel
    {
        float *buf = alloc_floats(nbuf);
#pragma omp for collapse(2) schedule(static)
        for (int i = 0; i < nb; i++) {
            for (int ci = 0; ci < Cin; ci++) {
                memset(buf, 0, sizeof(float) * (size_t)nbuf);
                for (int kh = 0; kh < KH; kh++) {
                    for (int kw = 0; kw < KW; kw++) {
                        long r = ((long)ci * KH + kh) * KW + kw;
                        tap_from_cols(buf + (long)kh * Wp + kw, cols + r * ldc + i * width - w.p0,
                                      OW, Wp, st, &w);
                    }
                }
                float *plane = dx + ((long)(n0 + i) * Cin + ci) * HW;
                if (first && !w.whole) memset(plane, 0, sizeof(float) * (size_t)HW);
                for (int iy = 0; iy < H; iy++) {
                    int ry = iy + pad;
                    float *out = plane + (long)iy * W;
                    if (ry < w.ry0 || ry >= w.ry1) {
                        /* untouched by this chunk's taps */
                        if (w.whole) memset(out, 0, sizeof(float) * (size_t)W);
                        continue;
                    }
                    const float *b = buf + (long)(ry - w.ry0) * Wp + pad;
                    if (w.whole) {
                        memcpy(out, b, sizeof(float) * (size_t)W);
                    } else {
                        for (int ix = 0; ix < W; ix++) out[ix] += b[ix];
                    }
                }
            }
        }
        free(buf);
    }
}

/* Between NCHW (N, C, OHW) and a batched chunk's (C, nb*OHW). */
static void chunk_from_nchw(float *dst, const float *src, int C, const conv_shape *s,
                            const conv_chunk *c) {
    const long ld = (long)c->nb * s->OHW;
#pragma omp parallel for collapse(2) schedule(static)
    for (int co = 0; co < C; co++)
        for (int i = 0; i < c->nb; i++)
            memcpy(dst + co * ld + i * s->OHW, src + ((long)(c->n0 + i) * C + co) * s->OHW,
                   sizeof(float) * (size_t)s->OHW);
}

static void chunk_to_nchw(float *dst, const float *src, int C, const conv_shape *s,
                          const conv_chunk *c) {
    const long ld = (long)c->nb * s->OHW;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < c->nb; i++)
        for (int co = 0; co < C; co++)
            memcpy(dst + ((long)(c->n0 + i) * C + co) * s->OHW, src + co * ld + i * s->OHW,
                   sizeof(float) * (size_t)s->OHW);
}

/* ---------------------------------------------------------------------------------------------
   Fast kernels */

static int empty(const conv_shape *s) {
    return s->N <= 0 || s->Cin <= 0 || s->Cout <= 0 || s->OH <= 0 || s->OW <= 0;
}

int conv2d_winograd(int N, int Cin, int H, int W, int Cout, int KH, int KW, int stride, int pad) {
    return KH == 3 && KW == 3 && stride == 1 && pad == 1 && winograd3x3_used(N, Cin, H, W, Cout);
}

void conv2d_forward(float *y, const float *x, const float *w, int N, int Cin, int H, int W,
                    int Cout, int KH, int KW, int stride, int pad, float gain) {
    if (conv2d_winograd(N, Cin, H, W, Cout, KH, KW, stride, pad)) {
        winograd3x3_forward(y, x, w, N, Cin, H, W, Cout, gain);
        return;
    }
    conv_shape s = make_shape(N, Cin, H, W, Cout, KH, KW, stride, pad);
    if (N <= 0 || Cout <= 0 || s.OH <= 0 || s.OW <= 0) return;
    if (Cin <= 0) {
        memset(y, 0, sizeof(float) * (size_t)N * Cout * s.OHW);
        return;
    }
    conv_plan pl = make_plan(&s, CONV_PER_SAMPLE_PIXELS);
    const long HW = (long)H * W;
    float *cols, *tmp;
    chunk_buffers(&s, &pl, &cols, &tmp);
    for (long i = 0; i < pl.nchunks; i++) {
        conv_chunk c = plan_chunk(&s, &pl, i);
        long width = (c.p1 - c.p0) * c.nb;
        const float *B = cols;
        long ldb = width;
        if (pl.per_sample && s.identity) {
            B = x + (long)c.n0 * Cin * HW + c.p0;
            ldb = s.OHW;
        } else {
            im2col(cols, width, x, &s, &c);
        }
        if (pl.per_sample) {
            ck_gemm(0, 0, Cout, (int)width, (int)s.K, gain, w, s.K, B, ldb, 0.0f,
                    y + (long)c.n0 * Cout * s.OHW + c.p0, s.OHW);
        } else {
            ck_gemm(0, 0, Cout, (int)width, (int)s.K, gain, w, s.K, B, ldb, 0.0f, tmp, width);
            chunk_to_nchw(y, tmp, Cout, &s, &c);
        }
    }
}

void conv2d_backward_input(float *dx, const float *dy, const float *w, int N, int Cin, int H,
                           int W, int Cout, int KH, int KW, int stride, int pad, float gain) {
    if (conv2d_winograd(N, Cin, H, W, Cout, KH, KW, stride, pad)) {
        winograd3x3_backward_input(dx, dy, w, N, Cin, H, W, Cout, gain);
        return;
    }
    conv_shape s = make_shape(N, Cin, H, W, Cout, KH, KW, stride, pad);
    if (N <= 0 || Cin <= 0 || H <= 0 || W <= 0) return;
    if (empty(&s)) {
        memset(dx, 0, sizeof(float) * (size_t)N * Cin * H * W);
        return;
    }
    conv_plan pl = make_plan(&s, CONV_PER_SAMPLE_PIXELS);
    const long HW = (long)H * W;
    float *cols, *dyg;
    chunk_buffers(&s, &pl, &cols, &dyg);
    for (long i = 0; i < pl.nchunks; i++) {
        conv_chunk c = plan_chunk(&s, &pl, i);
        long width = (c.p1 - c.p0) * c.nb;
        const float *B = dyg;
        long ldb = width;
        if (pl.per_sample) {
            B = dy + (long)c.n0 * Cout * s.OHW + c.p0;
            ldb = s.OHW;
        } else {
            chunk_from_nchw(dyg, dy, Cout, &s, &c);
        }
        if (pl.per_sample && s.identity) {
            /* 1x1 without stride or padding: col2im is the identity, write dx directly. */
            ck_gemm(1, 0, Cin, (int)width, Cout, gain, w, Cin, B, ldb, 0.0f,
                    dx + (long)c.n0 * Cin * HW + c.p0, HW);
        } else {
            ck_gemm(1, 0, (int)s.K, (int)width, Cout, gain, w, s.K, B, ldb, 0.0f, cols, width);
            col2im(dx, cols, width, &s, &c);
        }
    }
}

void conv2d_backward_weight(float *dw, const float *dy, const float *x, int N, int Cin, int H,
                            int W, int Cout, int KH, int KW, int stride, int pad, float gain) {
    if (conv2d_winograd(N, Cin, H, W, Cout, KH, KW, stride, pad)) {
        winograd3x3_backward_weight(dw, dy, x, N, Cin, H, W, Cout, gain);
        return;
    }
    conv_shape s = make_shape(N, Cin, H, W, Cout, KH, KW, stride, pad);
    if (Cout <= 0 || Cin <= 0 || KH <= 0 || KW <= 0) return;
    if (empty(&s)) {
        memset(dw, 0, sizeof(float) * (size_t)Cout * s.K);
        return;
    }
    conv_plan pl = make_plan(&s, CONV_PER_SAMPLE_PIXELS_DW);
    const long HW = (long)H * W;
    float *cols, *dyg;
    chunk_buffers(&s, &pl, &cols, &dyg);
    for (long i = 0; i < pl.nchunks; i++) {
        conv_chunk c = plan_chunk(&s, &pl, i);
        long width = (c.p1 - c.p0) * c.nb;
        const float *A = dyg, *B = cols;
        long lda = width, ldb = width;
        if (pl.per_sample) {
            A = dy + (long)c.n0 * Cout * s.OHW + c.p0;
            lda = s.OHW;
        } else {
            chunk_from_nchw(dyg, dy, Cout, &s, &c);
        }
        if (pl.per_sample && s.identity) {
            B = x + (long)c.n0 * Cin * HW + c.p0;
            ldb = s.OHW;
        } else {
            im2col(cols, width, x, &s, &c);
        }
        ck_gemm(0, 1, Cout, (int)s.K, (int)width, gain, A, lda, B, ldb, i == 0 ? 0.0f : 1.0f, dw, s.K);
    }
}

/* ---------------------------------------------------------------------------------------------
   Naive references, straight from the definition, accumulating in double. */

