/* Fused Adam step (adam.h), torch.optim.Adam without weight decay: one pass over the parameter,
   its gradient and both moments, instead of the half-dozen elementwise ops it would take in Swift. */
#include "adam.h"

#include <math.h>
#include <stddef.h>

#define PAR_MIN 65536L

/* The bias corrections are folded into a step size and a divisor for sqrt(v) the way torch does
   it, so that results track PyTorch's to the last few ulps. */
void adam_update(float *p, float *m, float *v, const float *g, long n, float lr, float beta1,
                 float beta2, float eps, long step) {
    double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
    if (m == NULL) { /* beta1 = 0: m would be g */
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
        for (long i = 0; i < n; i++) {
            float gi = g[i];
            float vi = beta2 * v[i] + c2 * gi * gi;
            v[i] = vi;
            p[i] -= step_size * gi / (sqrtf(vi) / bc2_sqrt + eps);
        }
        return;
    }
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (long i = 0; i < n; i++) {
        float gi = g[i];
        float mi = beta1 * m[i] + c1 * gi;
        float vi = beta2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

