/* Pooling and bilinear resizing of image planes (window.h). */
#include "window.h"

#include <float.h>
#include <stdlib.h>

/* Both pools are separable: a pass over rows into a scratch plane (the window's extreme or sum
   along x for every input row), then one over columns. The average divides by the product of
   the in-image counts along each axis, which is the in-image count of the 2-D window. */
static void pool2d(float *y, const float *x, int P, int H, int W, int k, int s, int p, int is_max) {
    const int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
    int x0[OW], x1[OW];
    for (int ox = 0; ox < OW; ox++) {
        x0[ox] = ox * s - p < 0 ? 0 : ox * s - p;
        x1[ox] = ox * s - p + k > W ? W : ox * s - p + k;
    }
#pragma omp parallel
    {
        float *rows = malloc(sizeof(float) * (size_t)H * OW);
#pragma omp for schedule(static)
        for (long q = 0; q < P; q++) {
            const float *xp = x + q * (long)H * W;
            float *yp = y + q * (long)OH * OW;
            for (int iy = 0; iy < H; iy++) {
                const float *r = xp + (long)iy * W;
                float *o = rows + (long)iy * OW;
                for (int ox = 0; ox < OW; ox++) {
                    float a = is_max ? -FLT_MAX : 0;
                    for (int ix = x0[ox]; ix < x1[ox]; ix++) a = is_max ? (r[ix] > a ? r[ix] : a) : a + r[ix];
                    o[ox] = a;
                }
            }
            for (int oy = 0; oy < OH; oy++) {
                int y0 = oy * s - p < 0 ? 0 : oy * s - p, y1 = oy * s - p + k > H ? H : oy * s - p + k;
                float *o = yp + (long)oy * OW;
                for (int ox = 0; ox < OW; ox++) o[ox] = rows[(long)y0 * OW + ox];
                for (int iy = y0 + 1; iy < y1; iy++) {
                    const float *r = rows + (long)iy * OW;
                    if (is_max) {
                        for (int ox = 0; ox < OW; ox++) o[ox] = r[ox] > o[ox] ? r[ox] : o[ox];
                    } else {
                        for (int ox = 0; ox < OW; ox++) o[ox] += r[ox];
                    }
                }
                if (!is_max)
                    for (int ox = 0; ox < OW; ox++) o[ox] /= (float)((y1 - y0) * (x1[ox] - x0[ox]));
            }
        }
        free(rows);
    }
}

void max_pool2d(float *y, const float *x, int P, int H, int W, int k, int s, int p) { pool2d(y, x, P, H, W, k, s, p, 1); }

void avg_pool2d(float *y, const float *x, int P, int H, int W, int k, int s, int p) { pool2d(y, x, P, H, W, k, s, p, 0); }

/* The source index of output d: with half-pixel centres PyTorch's scale * (d + 0.5) - 0.5 clamped
   at 0 (the scale in float, as its CPU kernel computes it), else TF1's scale * d. */
static void taps(int out, int in, int half_pixel, int *i0, int *i1, float *l1) {
    const float scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        float src = half_pixel ? scale * ((float)d + 0.5f) - 0.5f : scale * (float)d;
        if (src < 0) src = 0;
        int i = (int)src;
        i0[d] = i;
        i1[d] = i < in - 1 ? i + 1 : i;
        l1[d] = src - (float)i;
    }
}

void resize_bilinear(float *y, const float *x, int P, int H, int W, int OH, int OW, int half_pixel) {
    int ty0[OH], ty1[OH], tx0[OW], tx1[OW];
    float ly[OH], lx[OW];
    taps(OH, H, half_pixel, ty0, ty1, ly);
    taps(OW, W, half_pixel, tx0, tx1, lx);
#pragma omp parallel for schedule(static)
    for (long q = 0; q < P; q++) {
        const float *xp = x + q * (long)H * W;
        float *yp = y + q * (long)OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            const float *r0 = xp + ty0[oy] * W, *r1 = xp + ty1[oy] * W;
            const float h1 = ly[oy], h0 = 1 - h1;
            for (int ox = 0; ox < OW; ox++) {
                const float w1 = lx[ox], w0 = 1 - w1;
                yp[oy * OW + ox] = h0 * (w0 * r0[tx0[ox]] + w1 * r0[tx1[ox]]) + h1 * (w0 * r1[tx0[ox]] + w1 * r1[tx1[ox]]);
            }
        }
    }
}

void max_pool2d_backward(float *dx, const float *dy, const float *x, int P, int H, int W, int k, int s, int p) {
    const int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
#pragma omp parallel for schedule(static)
    for (long q = 0; q < P; q++) {
        const float *xp = x + q * (long)H * W, *gp = dy + q * (long)OH * OW;
        float *dp = dx + q * (long)H * W;
        for (long i = 0; i < (long)H * W; i++) dp[i] = 0;
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                float m = -FLT_MAX;
                long arg = -1;
                for (int iy = oy * s - p; iy < oy * s - p + k; iy++) {
                    if (iy < 0 || iy >= H) continue;
                    for (int ix = ox * s - p; ix < ox * s - p + k; ix++) {
                        if (ix < 0 || ix >= W) continue;
                        if (arg < 0 || xp[(long)iy * W + ix] > m) { m = xp[(long)iy * W + ix]; arg = (long)iy * W + ix; }
                    }
                }
                if (arg >= 0) dp[arg] += gp[oy * OW + ox];
            }
        }
    }
}

void avg_pool2d_backward(float *dx, const float *dy, int P, int H, int W, int k, int s, int p) {
    const int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
#pragma omp parallel for schedule(static)
    for (long q = 0; q < P; q++) {
        const float *gp = dy + q * (long)OH * OW;
        float *dp = dx + q * (long)H * W;
        for (long i = 0; i < (long)H * W; i++) dp[i] = 0;
        for (int oy = 0; oy < OH; oy++) {
            int y0 = oy * s - p < 0 ? 0 : oy * s - p, y1 = oy * s - p + k > H ? H : oy * s - p + k;
            for (int ox = 0; ox < OW; ox++) {
                int x0 = ox * s - p < 0 ? 0 : ox * s - p, x1 = ox * s - p + k > W ? W : ox * s - p + k;
                const float g = gp[oy * OW + ox] / (float)((y1 - y0) * (x1 - x0));
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) dp[(long)iy * W + ix] += g;
            }
        }
    }
}

void resize_bilinear_backward(float *dx, const float *dy, int P, int H, int W, int OH, int OW, int half_pixel) {
    int ty0[OH], ty1[OH], tx0[OW], tx1[OW];
    float ly[OH], lx[OW];
    taps(OH, H, half_pixel, ty0, ty1, ly);
    taps(OW, W, half_pixel, tx0, tx1, lx);
#pragma omp parallel for schedule(static)
    for (long q = 0; q < P; q++) {
        const float *gp = dy + q * (long)OH * OW;
        float *dp = dx + q * (long)H * W;
        for (long i = 0; i < (long)H * W; i++) dp[i] = 0;
        for (int oy = 0; oy < OH; oy++) {
            float *r0 = dp + ty0[oy] * W, *r1 = dp + ty1[oy] * W;
            const float h1 = ly[oy], h0 = 1 - h1;
            for (int ox = 0; ox < OW; ox++) {
                const float g = gp[oy * OW + ox], w1 = lx[ox], w0 = 1 - w1;
                r0[tx0[ox]] += h0 * w0 * g;
                r0[tx1[ox]] += h0 * w1 * g;
                r1[tx0[ox]] += h1 * w0 * g;
                r1[tx1[ox]] += h1 * w1 * g;
            }
        }
    }
}
