/* Augmentation warps (see warp.h). The forward loops parallelise over output rows; the adjoints
   scatter into the input, so they parallelise over whole planes, which no two threads share. */
#include "warp.h"

#include <math.h>
#include <string.h>

static inline int reflect_index(int i, int n) { /* n > 1, -n < i < 2n - 1 */
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

void reflect_pad(float *y, float *x, int P, int H, int W, int px0, int px1, int py0, int py1, int adjoint) {
    const int OH = H + py0 + py1, OW = W + px0 + px1;
    if (adjoint) memset(x, 0, sizeof(float) * (size_t)P * H * W);
#pragma omp parallel for schedule(static) if ((long)P * OH * OW > 65536)
    for (int p = 0; p < P; p++) {
        float *xp = x + (long)p * H * W;
        float *yp = y + (long)p * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            const float *xr = xp + (long)reflect_index(oy - py0, H) * W;
            float *yr = yp + (long)oy * OW;
            if (!adjoint) {
                for (int ox = 0; ox < px0; ox++) yr[ox] = xr[px0 - ox];
                memcpy(yr + px0, xr, sizeof(float) * W);
                for (int ox = px0 + W; ox < OW; ox++) yr[ox] = xr[2 * (W - 1) - (ox - px0)];
            } else {
                float *xw = (float *)xr;
                for (int ox = 0; ox < px0; ox++) xw[px0 - ox] += yr[ox];
                for (int ox = 0; ox < W; ox++) xw[ox] += yr[px0 + ox];
                for (int ox = px0 + W; ox < OW; ox++) xw[2 * (W - 1) - (ox - px0)] += yr[ox];
            }
        }
    }
}

/* The four bilinear taps of output pixel (i, j): input offsets (-1 when outside) and weights,
   computed in float as PyTorch does. */
typedef struct { long at[4]; float w[4]; } Taps;

static inline Taps taps_at(const float *t, int i, int j, int IH, int IW, int OH, int OW) {
    const float xj = (float)(2 * j + 1) / (float)OW - 1.0f, yi = (float)(2 * i + 1) / (float)OH - 1.0f;
    const float gx = xj * t[0] + yi * t[1] + t[2];
    const float gy = xj * t[3] + yi * t[4] + t[5];
    const float ix = ((gx + 1.0f) * (float)IW - 1.0f) / 2.0f;
    const float iy = ((gy + 1.0f) * (float)IH - 1.0f) / 2.0f;
    const float fx = floorf(ix), fy = floorf(iy);
    const int x0 = (int)fx, y0 = (int)fy;
    const float dx = ix - fx, dy = iy - fy;
    Taps k;
    const int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
    k.w[0] = (1.0f - dx) * (1.0f - dy);
    k.w[1] = dx * (1.0f - dy);
    k.w[2] = (1.0f - dx) * dy;
    k.w[3] = dx * dy;
    for (int q = 0; q < 4; q++) {
        const int inside = xs[q] >= 0 && xs[q] < IW && ys[q] >= 0 && ys[q] < IH;
        k.at[q] = inside ? (long)ys[q] * IW + xs[q] : -1;
    }
    return k;
}

void grid_sample_affine(float *y, float *x, const float *theta, int N, int C, int IH, int IW, int OH, int OW,
                        int adjoint) {
    const long in_plane = (long)IH * IW, out_plane = (long)OH * OW;
    if (!adjoint) {
#pragma omp parallel for collapse(2) schedule(static) if ((long)N * OH * OW * C > 32768)
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < OH; i++) {
                const float *t = theta + 6L * n;
                for (int j = 0; j < OW; j++) {
                    const Taps k = taps_at(t, i, j, IH, IW, OH, OW);
                    for (int c = 0; c < C; c++) {
                        const float *xp = x + ((long)n * C + c) * in_plane;
                        float v = 0.0f;
                        for (int q = 0; q < 4; q++)
                            if (k.at[q] >= 0) v += xp[k.at[q]] * k.w[q];
                        y[((long)n * C + c) * out_plane + (long)i * OW + j] = v;
                    }
                }
            }
        }
        return;
    }
    memset(x, 0, sizeof(float) * (size_t)N * C * in_plane);
#pragma omp parallel for collapse(2) schedule(static) if ((long)N * OH * OW * C > 32768)
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
            const float *t = theta + 6L * n;
            float *xp = x + ((long)n * C + c) * in_plane;
            const float *yp = y + ((long)n * C + c) * out_plane;
            for (int i = 0; i < OH; i++) {
                for (int j = 0; j < OW; j++) {
                    const Taps k = taps_at(t, i, j, IH, IW, OH, OW);
                    const float g = yp[(long)i * OW + j];
                    for (int q = 0; q < 4; q++)
                        if (k.at[q] >= 0) xp[k.at[q]] += g * k.w[q];
                }
            }
        }
    }
}

void channel_mix(float *y, float *x, const float *m, int N, int C, long HW, int adjoint) {
#pragma omp parallel for collapse(2) schedule(static) if ((long)N * C * HW > 65536)
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
            const float *mn = m + (long)n * C * (C + 1);
            float *out = (adjoint ? x : y) + ((long)n * C + c) * HW;
            const float *in = (adjoint ? y : x) + (long)n * C * HW;
            const float offset = adjoint ? 0.0f : mn[c * (C + 1) + C];
            for (long p = 0; p < HW; p++) out[p] = offset;
            for (int k = 0; k < C; k++) {
                /* forward: row c of M; adjoint: column c of M (out channel c is x's channel). */
                const float w = adjoint ? mn[k * (C + 1) + c] : mn[c * (C + 1) + k];
                const float *ik = in + (long)k * HW;
                for (long p = 0; p < HW; p++) out[p] += w * ik[p];
            }
        }
    }
}
