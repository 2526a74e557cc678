/* Warps of image planes for augmentation (ADA): reflect padding, bilinear sampling at an affine
   grid, and a per-sample colour matrix. Each is linear in the image; `adjoint` 1 runs its
   transpose (reading y, overwriting x), so every derivative order comes from these kernels. */
#pragma once

/* PyTorch's pad(mode='reflect') (the edge sample is not repeated) by px0 / px1 columns and
   py0 / py1 rows, each less than the plane's size. x: (P, H, W), y: (P, H+py0+py1, W+px0+px1). */
void reflect_pad(float *y, float *x, int P, int H, int W, int px0, int px1, int py0, int py1, int adjoint);

/* PyTorch's affine_grid + grid_sample (bilinear, zeros outside, align_corners=False): output
   pixel (i, j) of sample n reads the input at (gx, gy) = theta_n (xj, yi, 1) with
   xj = (2j+1)/OW - 1, yi = (2i+1)/OH - 1, that is at pixel ((gx+1) IW - 1)/2, ((gy+1) IH - 1)/2.
   x: (N, C, IH, IW), y: (N, C, OH, OW), theta: (N, 2, 3). */
void grid_sample_affine(float *y, float *x, const float *theta, int N, int C, int IH, int IW, int OH, int OW,
                        int adjoint);

/* y[n][c] = sum_k m[n][c][k] x[n][k] + m[n][c][C] over each pixel; m: (N, C, C+1). The adjoint
   x[n][k] = sum_c m[n][c][k] y[n][c] has no offset. x, y: (N, C, HW). */
void channel_mix(float *y, float *x, const float *m, int N, int C, long HW, int adjoint);
