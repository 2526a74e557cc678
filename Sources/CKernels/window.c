/* Pooling and bilinear resizing of image planes (window.h). */
#include "window.h"

#include <float.h>

void max_pool2d(float *y, const float *x, int P, int H, int W, int k, int s, int p) {
    const int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
#pragma omp parallel for schedule(static)
    for (long q = 0; q < P; q++) {
        const float *xp = x + q * (long)H * W;
        float *yp = y + q * (long)OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                float m = -FLT_MAX;
                for (int i = 0; i < k; i++) {
                    int iy = oy * s - p + i;
                    if (iy < 0 || iy >= H) continue;
                    for (int j = 0; j < k; j++) {
                        int ix = ox * s - p + j;
                        if (ix >= 0 && ix < W && xp[iy * W + ix] > m) m = xp[iy * W + ix];
                    }
                }
                yp[oy * OW + ox] = m;
            }
        }
    }
}

void avg_pool2d(float *y, const float *x, int P, int H, int W, int k, int s, int p) {
    const int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
#pragma omp parallel for schedule(static)
    for (long q = 0; q < P; q++) {
        const float *xp = x + q * (long)H * W;
        float *yp = y + q * (long)OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            int y0 = oy * s - p, y1 = y0 + k;
            if (y0 < 0) y0 = 0;
            if (y1 > H) y1 = H;
            for (int ox = 0; ox < OW; ox++) {
                int x0 = ox * s - p, x1 = x0 + k;
                if (x0 < 0) x0 = 0;
                if (x1 > W) x1 = W;
                float sum = 0;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) sum += xp[iy * W + ix];
                yp[oy * OW + ox] = sum / (float)((y1 - y0) * (x1 - x0));
            }
        }
    }
}

/* PyTorch's source index for align_corners=False: scale * (dst + 0.5) - 0.5, clamped at 0,
   with the scale input / output computed in float as its CPU kernel does. */
static void taps(int out, int in, int *i0, int *i1, float *l1) {
    const float scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int i = (int)src;
        i0[d] = i;
        i1[d] = i < in - 1 ? i + 1 : i;
        l1[d] = src - (float)i;
    }
}

void resize_bilinear(float *y, const float *x, int P, int H, int W, int OH, int OW) {
    int ty0[OH], ty1[OH], tx0[OW], tx1[OW];
    float ly[OH], lx[OW];
    taps(OH, H, ty0, ty1, ly);
    taps(OW, W, tx0, tx1, lx);
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
