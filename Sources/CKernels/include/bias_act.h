/* Bias + leaky ReLU, as StyleGAN applies them after every conv and dense layer (the sqrt 2 gain
   belongs to the equalised weight scale, not here).
     x, y: (N, C, S), S = spatial size (1 for dense layers)   b: (C) or NULL
   slope 1 gives a plain bias add. Outputs are overwritten. */
#pragma once

/* y = leaky_relu(x + b[c], slope) */
void bias_leaky_relu_forward(float *y, const float *x, const float *b, int N, int C, long S,
                             float slope);
/* y = leaky_relu(x + noise * strength[c] + b[c], slope): StyleGAN's noise injection, bias and
   activation in one pass. noise: (N, 1, S) when noise_per_sample, else (1, 1, S); strength: (C).
   The product is rounded, then the sums, in the order the separate ops take: the same floats. */
void noise_bias_leaky_relu_forward(float *y, const float *x, const float *noise, int noise_per_sample,
                                   const float *strength, const float *b, int N, int C, long S, float slope);
/* dx = dy * (y > 0 ? 1 : slope), with y the forward's output (y > 0 exactly where x + b > 0). */
void leaky_relu_backward(float *dx, const float *dy, const float *y, long n, float slope);
