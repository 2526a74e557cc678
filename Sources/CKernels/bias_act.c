/* Bias + leaky ReLU, forward and backward (bias_act.h). The backward reads the forward's output
   rather than its input, so the graph keeps one tensor per activation instead of two. */
#include "bias_act.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 65536L

void bias_leaky_relu_forward(float *y, const float *x, const float *b, int N, int C, long S,
                             float slope) {
    long planes = (long)N * C;
#pragma omp parallel for schedule(static) if (planes * S > PAR_MIN)
    for (long pc = 0; pc < planes; pc++) {
        const float bias = b ? b[pc % C] : 0.0f;
        const float *xp = x + pc * S;
        float *yp = y + pc * S;
        for (long s = 0; s < S; s++) {
            float v = xp[s] + bias;
            yp[s] = v > 0.0f ? v : v * slope;
        }
    }
}

void noise_bias_leaky_relu_forward(float *y, const float *x, const float *noise, int noise_per_sample,
                                   const float *strength, const float *b, int N, int C, long S, float slope) {
#pragma clang fp contract(off) /* the product rounded, then the sums: as the separate ops */
    long planes = (long)N * C;
#pragma omp parallel for schedule(static) if (planes * S > PAR_MIN)
    for (long pc = 0; pc < planes; pc++) {
        const int c = (int)(pc % C);
        const float bias = b ? b[c] : 0.0f, st = strength[c];
        const float *xp = x + pc * S, *np = noise + (noise_per_sample ? pc / C * S : 0);
        float *yp = y + pc * S;
        for (long s = 0; s < S; s++) {
            float t = xp[s] + np[s] * st;
            float v = t + bias;
            yp[s] = v > 0.0f ? v : v * slope;
        }
    }
}

void leaky_relu_backward(float *dx, const float *dy, const float *y, long n, float slope) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (long i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : dy[i] * slope;
}

