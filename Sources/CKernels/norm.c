/* Instance norm, AdaIN and pixel norm of the StyleGAN generator, forward and backward (norm.h).
   Means and variances are accumulated in double: planes reach 4096+ samples and the variance of
   activations with a large mean is otherwise noticeably off in float. */
#include "norm.h"

#include <math.h>

#define PAR_MIN 32768L

/* ---------------------------------------------------------------------------------------------
   Instance norm: x, y (P, S), rstd (P) */

/* Two passes (mean, then centred squares): the one-pass formula loses digits when mean >> std. */
static float plane_normalise(float *y, const float *x, long S, float eps) {
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (long s = 0; s < S; s++) sum += x[s];
    double mean = sum / (double)S;
    double sq = 0.0;
#pragma omp simd reduction(+ : sq)
    for (long s = 0; s < S; s++) {
        double d = x[s] - mean;
        sq += d * d;
    }
    float r = (float)(1.0 / sqrt(sq / (double)S + eps));
    float m = (float)mean;
    for (long s = 0; s < S; s++) y[s] = (x[s] - m) * r;
    return r;
}

void instance_norm_forward(float *y, float *rstd, const float *x, int P, long S, float eps) {
#pragma omp parallel for schedule(static) if ((long)P * S > PAR_MIN)
    for (int p = 0; p < P; p++) rstd[p] = plane_normalise(y + (long)p * S, x + (long)p * S, S, eps);
}

/* dx = scale * (dy - mean(dy) - y * mean(dy * y)); returns sum(dy) and sum(dy * y), which AdaIN
   needs as its style gradients. */
static void plane_norm_backward(float *dx, const float *dy, const float *y, float scale, long S,
                                double *sum_dy, double *sum_dyy) {
    double a = 0.0, b = 0.0;
#pragma omp simd reduction(+ : a, b)
    for (long s = 0; s < S; s++) {
        a += dy[s];
        b += (double)dy[s] * y[s];
    }
    float ma = (float)(a / (double)S), mb = (float)(b / (double)S);
    for (long s = 0; s < S; s++) dx[s] = scale * (dy[s] - ma - y[s] * mb);
    *sum_dy = a;
    *sum_dyy = b;
}

void instance_norm_backward(float *dx, const float *dy, const float *y, const float *rstd, int P,
                            long S) {
#pragma omp parallel for schedule(static) if ((long)P * S > PAR_MIN)
    for (int p = 0; p < P; p++) {
        double a, b;
        long o = (long)p * S;
        plane_norm_backward(dx + o, dy + o, y + o, rstd[p], S, &a, &b);
    }
}

/* ---------------------------------------------------------------------------------------------
   AdaIN: out = instance_norm(x) * (1 + ys[p]) + yb[p]; x, y, out (P, S), ys, yb, rstd (P) */

void adain_forward(float *out, float *y, float *rstd, const float *x, const float *ys,
                   const float *yb, int P, long S, float eps) {
#pragma omp parallel for schedule(static) if ((long)P * S > PAR_MIN)
    for (int p = 0; p < P; p++) {
        long o = (long)p * S;
        rstd[p] = plane_normalise(y + o, x + o, S, eps);
        float g = 1.0f + ys[p], b = yb[p];
        for (long s = 0; s < S; s++) out[o + s] = y[o + s] * g + b;
    }
}

/* The style scale is constant over the plane, so the normalisation backward of dout * (1 + ys)
   is (1 + ys) times that of dout, and the two plane sums it needs are dyb and dys. */
void adain_backward(float *dx, float *dys, float *dyb, const float *dout, const float *y,
                    const float *rstd, const float *ys, int P, long S) {
#pragma omp parallel for schedule(static) if ((long)P * S > PAR_MIN)
    for (int p = 0; p < P; p++) {
        double a, b;
        long o = (long)p * S;
        plane_norm_backward(dx + o, dout + o, y + o, rstd[p] * (1.0f + ys[p]), S, &a, &b);
        dyb[p] = (float)a;
        dys[p] = (float)b;
    }
}

/* ---------------------------------------------------------------------------------------------
   Pixel norm over channels: x, y (N, C, S), rnorm (N, S). Channels are S apart in memory, so
   the fast version sums a block of positions at a time, which keeps every access contiguous. */

#define PN_BLOCK 256

void pixel_norm_forward(float *y, float *rnorm, const float *x, int N, int C, long S, float eps) {
    long nblk = (S + PN_BLOCK - 1) / PN_BLOCK;
#pragma omp parallel for collapse(2) schedule(static) if ((long)N * C * S > PAR_MIN)
    for (int n = 0; n < N; n++)
        for (long bk = 0; bk < nblk; bk++) {
            long s0 = bk * PN_BLOCK, len = S - s0 < PN_BLOCK ? S - s0 : PN_BLOCK;
            const float *xn = x + (long)n * C * S + s0;
            float *yn = y + (long)n * C * S + s0;
            double acc[PN_BLOCK];
            float r[PN_BLOCK];
            for (long s = 0; s < len; s++) acc[s] = 0.0;
            for (int c = 0; c < C; c++)
                for (long s = 0; s < len; s++) acc[s] += (double)xn[c * S + s] * xn[c * S + s];
            for (long s = 0; s < len; s++) {
                r[s] = (float)(1.0 / sqrt(acc[s] / C + eps));
                rnorm[(long)n * S + s0 + s] = r[s];
            }
            for (int c = 0; c < C; c++)
                for (long s = 0; s < len; s++) yn[c * S + s] = xn[c * S + s] * r[s];
        }
}

void pixel_norm_backward(float *dx, const float *dy, const float *y, const float *rnorm, int N,
                         int C, long S) {
    long nblk = (S + PN_BLOCK - 1) / PN_BLOCK;
#pragma omp parallel for collapse(2) schedule(static) if ((long)N * C * S > PAR_MIN)
    for (int n = 0; n < N; n++)
        for (long bk = 0; bk < nblk; bk++) {
            long s0 = bk * PN_BLOCK, len = S - s0 < PN_BLOCK ? S - s0 : PN_BLOCK;
            long o = (long)n * C * S + s0;
            const float *r = rnorm + (long)n * S + s0;
            double acc[PN_BLOCK];
            float m[PN_BLOCK];
            for (long s = 0; s < len; s++) acc[s] = 0.0;
            for (int c = 0; c < C; c++)
                for (long s = 0; s < len; s++) acc[s] += (double)dy[o + c * S + s] * y[o + c * S + s];
            for (long s = 0; s < len; s++) m[s] = (float)(acc[s] / C);
            for (int c = 0; c < C; c++)
                for (long s = 0; s < len; s++) {
                    long i = o + c * S + s;
                    dx[i] = r[s] * (dy[i] - y[i] * m[s]);
                }
        }
}

