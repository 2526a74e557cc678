/* Normalisations of the StyleGAN generator.
   Instance norm over each (n, c) plane of S values, biased variance:
     y = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps)           x, y: (P, S), rstd: (P)
   AdaIN (StyleGAN1): out = y * (1 + ys[p]) + yb[p], with y the instance-normalised x.
   Pixel norm over channels: y = x * rnorm,  rnorm = 1 / sqrt(mean_c(x^2) + eps)
     x, y: (N, C, S), rnorm: (N, S)
   Outputs are overwritten. */
#pragma once

void instance_norm_forward(float *y, float *rstd, const float *x, int P, long S, float eps);
/* dx = rstd * (dy - mean(dy) - y * mean(dy * y)), per plane. */
void instance_norm_backward(float *dx, const float *dy, const float *y, const float *rstd, int P,
                            long S);

/* Fused instance norm + style: out = normalise(x) * (1 + ys) + yb; y (normalised x) and rstd
   are kept for the backward. ys, yb: (P). */
void adain_forward(float *out, float *y, float *rstd, const float *x, const float *ys,
                   const float *yb, int P, long S, float eps);
/* From dout: dx (through the normalisation), dys[p] = sum(dout * y), dyb[p] = sum(dout). */
void adain_backward(float *dx, float *dys, float *dyb, const float *dout, const float *y,
                    const float *rstd, const float *ys, int P, long S);

void pixel_norm_forward(float *y, float *rnorm, const float *x, int N, int C, long S, float eps);
/* dx = rnorm * (dy - y * mean_c(dy * y)) */
void pixel_norm_backward(float *dx, const float *dy, const float *y, const float *rnorm, int N,
                         int C, long S);
