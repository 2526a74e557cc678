/* upfirdn2d: the one FIR resampling op behind blur, nearest 2x up, box 2x down and StyleGAN's fused
   up/down resamplers (see resample.h for the exact definition). The fast version never builds the
   zero-inserted, padded image: for each filter column it precomputes the arithmetic progression of
   output columns whose tap lands on a real input sample, so every inner loop is a dense
   multiply-add with fixed strides, and rows whose tap falls on an inserted zero are skipped. */
#include "resample.h"

#include <stdlib.h>

static long floordiv(long a, long b) { /* b > 0 */
    long q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int gcd(int a, int b) {
    while (b) { int t = a % b; a = b; b = t; }
    return a;
}

/* OpenMP runtime calls, declared here because Swift's clang ships no omp.h (TOOLCHAIN.md). */
int omp_get_max_threads(void);
int omp_get_thread_num(void);

/* Filter column j reads input columns sx0 + k*sstep (k < n) into the output columns
   ox0 + k*ostep, found at t0 + k*tstride of the row's accumulator. When upsampling with several
   taps per output (the 4x4 FIR), the row is accumulated phase-major (output column ox at
   (ox % ostep) * KW + ox / ostep) so that every tap is a unit-stride multiply-add, and
   interleaved once at the end; with one tap per output (nearest) that extra pass costs more than
   it saves, and the taps write the output row directly with stride ostep. */
typedef struct { int ox0, n, ostep, sx0, sstep, t0, tstride; } TapRun;

/* Solutions of c = ox*down + j - pad0 with 0 <= c < len*up, c = 0 (mod up), 0 <= ox < olen. */
static TapRun tap_run(int j, int len, int olen, int up, int down, int pad0, int phased) {
    TapRun t = {0, 0, 1, 0, 1, 0, 1};
    int g = gcd(up, down);
    t.ostep = up / g;
    t.sstep = down / g;
    long lo = floordiv((long)pad0 - j + down - 1, down); /* first ox with c >= 0 */
    if (lo < 0) lo = 0;
    long hi = floordiv((long)len * up - 1 - j + pad0, down); /* last ox with c < len*up */
    if (hi > olen - 1) hi = olen - 1;
    long first = -1;
    for (long ox = lo; ox < lo + up && ox <= hi; ox++) { /* c mod up cycles with period <= up */
        long c = ox * down + j - pad0;
        if (c % up == 0) { first = ox; break; }
    }
    if (first < 0) return t;
    t.ox0 = (int)first;
    t.n = (int)((hi - first) / t.ostep + 1);
    t.sx0 = (int)((first * down + j - pad0) / up);
    int KW = (olen + t.ostep - 1) / t.ostep;
    t.t0 = phased ? (t.ox0 % t.ostep) * KW + t.ox0 / t.ostep : t.ox0;
    t.tstride = phased ? 1 : t.ostep;
    return t;
}

/* acc[t0 + k*tstride] += w * x[sx0 + k*sstep]; unit strides get their own loops so that they
   vectorise. */
static inline void axpy_run(float *restrict acc, const float *restrict xr, float w, TapRun t) {
    float *a = acc + t.t0;
    const float *xs = xr + t.sx0;
    if (t.tstride == 1 && t.sstep == 1) {
        for (int k = 0; k < t.n; k++) a[k] += w * xs[k];
    } else if (t.tstride == 1) {
        for (int k = 0; k < t.n; k++) a[k] += w * xs[k * t.sstep];
    } else {
        for (int k = 0; k < t.n; k++) a[k * t.tstride] += w * xs[k * t.sstep];
    }
}

/* y[k*ostep + ph] = acc[ph*KW + k] for every output column. */
static void interleave(float *restrict yr, const float *restrict acc, int OW, int ostep, int KW) {
    if (ostep == 2) {
        const float *a0 = acc, *a1 = acc + KW;
        int k = 0;
        for (; 2 * k + 1 < OW; k++) {
            yr[2 * k] = a0[k];
            yr[2 * k + 1] = a1[k];
        }
        if (2 * k < OW) yr[2 * k] = a0[k];
        return;
    }
    for (int ox = 0; ox < OW; ox++) yr[ox] = acc[(ox % ostep) * KW + ox / ostep];
}

/* The three shapes the networks run (blur, nearest or box 2x, and each one's adjoint), as direct
   loops: the general path's per-row tap tables and accumulator cost more than these small filters'
   arithmetic (blur ran at 4 GB/s, 6% of a 64 px training step). Any filter values. */

/* 3x3 filter, padding 1 all round, no resampling: same size out. Every output sums its taps in
   the general path's order (row by row, tap by tap, skipping taps outside the image), so the two
   agree to the last bit. (Summing a row's three taps first moved the blur by one ulp, which was
   enough to flip a leaky ReLU at a pre-activation within Winograd's rounding of zero and move the
   32 px generator fixture's gradient with respect to w 9x past its tolerance; without Winograd
   either order passes.) Interior rows are one loop of nine multiply-adds per output. */
static void fir3x3_same(float *restrict y, const float *restrict x, const float *f, int P, int H, int W) {
    const float f00 = f[0], f01 = f[1], f02 = f[2], f10 = f[3], f11 = f[4], f12 = f[5], f20 = f[6], f21 = f[7], f22 = f[8];
#pragma omp parallel for collapse(2) schedule(static) if ((long)P * H * W > 100000)
    for (int p = 0; p < P; p++) {
        for (int oy = 0; oy < H; oy++) {
            float *restrict yr = y + ((long)p * H + oy) * W;
            if (oy == 0 || oy == H - 1 || W < 3) { /* a row of taps falls outside: tap by tap */
                for (int ox = 0; ox < W; ox++) yr[ox] = 0.0f;
                for (int i = 0; i < 3; i++) {
                    int r = oy + i - 1;
                    if (r < 0 || r >= H) continue;
                    const float *restrict xr = x + ((long)p * H + r) * W;
                    const float g0 = f[i * 3], g1 = f[i * 3 + 1], g2 = f[i * 3 + 2];
                    for (int ox = 1; ox < W; ox++) yr[ox] += g0 * xr[ox - 1];
                    for (int ox = 0; ox < W; ox++) yr[ox] += g1 * xr[ox];
                    for (int ox = 0; ox < W - 1; ox++) yr[ox] += g2 * xr[ox + 1];
                }
                continue;
            }
            const float *restrict a = x + ((long)p * H + oy - 1) * W, *restrict b = a + W, *restrict c = b + W;
            float s = 0.0f;
            s += f01 * a[0]; s += f02 * a[1];
            s += f11 * b[0]; s += f12 * b[1];
            s += f21 * c[0]; s += f22 * c[1];
            yr[0] = s;
            for (int ox = 1; ox < W - 1; ox++) {
                float t = 0.0f;
                t += f00 * a[ox - 1]; t += f01 * a[ox]; t += f02 * a[ox + 1];
                t += f10 * b[ox - 1]; t += f11 * b[ox]; t += f12 * b[ox + 1];
                t += f20 * c[ox - 1]; t += f21 * c[ox]; t += f22 * c[ox + 1];
                yr[ox] = t;
            }
            s = 0.0f;
            s += f00 * a[W - 2]; s += f01 * a[W - 1];
            s += f10 * b[W - 2]; s += f11 * b[W - 1];
            s += f20 * c[W - 2]; s += f21 * c[W - 1];
            yr[W - 1] = s;
        }
    }
}

/* 2x2 filter, up 2, padding 1 before: y[2i+a][2j+b] = f[1-a][1-b] x[i][j]. */
static void fir2x2_up2(float *restrict y, const float *restrict x, const float *f, int P, int H, int W) {
    const int OW = 2 * W;
#pragma omp parallel for collapse(2) schedule(static) if ((long)P * H * W > 25000)
    for (int p = 0; p < P; p++) {
        for (int i = 0; i < H; i++) {
            const float *restrict xr = x + ((long)p * H + i) * W;
            for (int a = 0; a < 2; a++) {
                float *restrict yr = y + ((long)p * 2 * H + 2 * i + a) * OW;
                const float fe = f[(1 - a) * 2 + 1], fo = f[(1 - a) * 2]; /* even and odd columns */
                for (int j = 0; j < W; j++) {
                    yr[2 * j] = fe * xr[j];
                    yr[2 * j + 1] = fo * xr[j];
                }
            }
        }
    }
}

/* 2x2 filter, down 2, no padding: y[i][j] = sum f[a][b] x[2i+a][2j+b]. */
static void fir2x2_down2(float *restrict y, const float *restrict x, const float *f, int P, int H, int W) {
    const int OH = H / 2, OW = W / 2;
    const float f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3];
#pragma omp parallel for collapse(2) schedule(static) if ((long)P * H * W > 100000)
    for (int p = 0; p < P; p++) {
        for (int i = 0; i < OH; i++) {
            const float *restrict x0 = x + ((long)p * H + 2 * i) * W, *restrict x1 = x0 + W;
            float *restrict yr = y + ((long)p * OH + i) * OW;
            for (int j = 0; j < OW; j++)
                yr[j] = f0 * x0[2 * j] + f1 * x0[2 * j + 1] + f2 * x1[2 * j] + f3 * x1[2 * j + 1];
        }
    }
}

void upfirdn2d(float *y, const float *x, const float *f, int P, int H, int W, int FH, int FW,
               int up, int down, int px0, int px1, int py0, int py1) {
    if (P <= 0 || H <= 0 || W <= 0) return;
    if (up == 1 && down == 1 && FH == 3 && FW == 3 && px0 == 1 && px1 == 1 && py0 == 1 && py1 == 1) {
        fir3x3_same(y, x, f, P, H, W);
        return;
    }
    if (up == 2 && down == 1 && FH == 2 && FW == 2 && px0 == 1 && px1 == 0 && py0 == 1 && py1 == 0) {
        fir2x2_up2(y, x, f, P, H, W);
        return;
    }
    if (up == 1 && down == 2 && FH == 2 && FW == 2 && px0 == 0 && px1 == 0 && py0 == 0 && py1 == 0 && H >= 2 && W >= 2) {
        fir2x2_down2(y, x, f, P, H, W);
        return;
    }
    int OH = (H * up + py0 + py1 - FH) / down + 1;
    int OW = (W * up + px0 + px1 - FW) / down + 1;
    if (P <= 0 || OH <= 0 || OW <= 0) return;
    int ostep = up / gcd(up, down), KW = (OW + ostep - 1) / ostep;
    int phased = ostep > 1 && FW > ostep; /* several filter columns reach each output column */
    int nthreads = omp_get_max_threads();
    /* the tap table, then one phase-major row buffer per thread when upsampling */
    size_t bytes = sizeof(TapRun) * (size_t)FW;
    if (phased) bytes += sizeof(float) * (size_t)nthreads * (size_t)ostep * (size_t)KW;
    TapRun *runs = malloc(bytes);
    if (!runs) abort();
    float *rowbufs = (float *)(runs + FW);
    for (int j = 0; j < FW; j++) runs[j] = tap_run(j, W, OW, up, down, px0, phased);
    long Hu = (long)H * up;
    long work = (long)P * OH * OW * ((long)FH * FW / ((long)up * up) + 1);

#pragma omp parallel if (work > 200000)
    {
        float *tmp = phased ? rowbufs + (size_t)omp_get_thread_num() * ostep * KW : NULL;
#pragma omp for collapse(2) schedule(static)
        for (int p = 0; p < P; p++) {
            for (int oy = 0; oy < OH; oy++) {
                float *yr = y + ((long)p * OH + oy) * OW;
                const float *xp = x + (long)p * H * W;
                float *acc = phased ? tmp : yr;
                for (long k = 0; k < (phased ? (long)ostep * KW : OW); k++) acc[k] = 0.0f;
                for (int i = 0; i < FH; i++) {
                    long r = (long)oy * down + i - py0; /* row of the upsampled image */
                    if (r < 0 || r >= Hu || r % up != 0) continue;
                    const float *xr = xp + (r / up) * W;
                    const float *fr = f + (long)i * FW;
                    for (int j = 0; j < FW; j++)
                        if (runs[j].n > 0) axpy_run(acc, xr, fr[j], runs[j]);
                }
                if (phased) interleave(yr, tmp, OW, ostep, KW);
            }
        }
    }
    free(runs);
}

void pixel_shuffle2(float *y, float *x, int P, int H, int W, int inverse) {
    const long HW = (long)H * W;
#pragma omp parallel for collapse(2) schedule(static)
    for (int p = 0; p < P; p++) {
        for (int r = 0; r < H; r++) {
            float *ph = x + (long)p * 4 * HW + (long)r * W; /* phase (0, 0), row r */
            for (int a = 0; a < 2; a++) {
                float *out = y + (long)p * 4 * HW + (long)(2 * r + a) * 2 * W;
                const float *in0 = ph + (long)(2 * a) * HW, *in1 = ph + (long)(2 * a + 1) * HW;
                if (!inverse) {
                    for (int s = 0; s < W; s++) {
                        out[2 * s] = in0[s];
                        out[2 * s + 1] = in1[s];
                    }
                } else {
                    float *w0 = (float *)in0, *w1 = (float *)in1;
                    for (int s = 0; s < W; s++) {
                        w0[s] = out[2 * s];
                        w1[s] = out[2 * s + 1];
                    }
                }
            }
        }
    }
}
