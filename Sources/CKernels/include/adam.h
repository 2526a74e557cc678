/* Fused Adam step, as torch.optim.Adam (no weight decay), in place:
     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
     p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps),  t = step >= 1
   With b1 = 0, m is g at every step and may be NULL (StyleGAN's betas are (0, 0.99)). */
#pragma once

void adam_update(float *p, float *m, float *v, const float *g, long n, float lr, float beta1,
                 float beta2, float eps, long step);
