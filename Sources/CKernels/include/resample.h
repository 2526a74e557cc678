/* FIR resampling of image planes (upfirdn2d): upsample by zero insertion, pad, correlate with a 2-D
   filter, keep every `down`-th sample. Blur, nearest 2x up, box 2x down and the fused StyleGAN
   resamplers are all this one op with different filters; its adjoint is the same op again.
     x: (P, H, W) planes (P = N*C)   f: (FH, FW)   y: (P, OH, OW)
     upsampled u[i*up] = x[i] (zeros between, up-1 zeros after the last sample: length H*up)
     padded p = u with py0 rows before, py1 after (px0/px1 for columns; negative crops)
     y[oy][ox] = sum_{i,j} f[i][j] * p[oy*down + i][ox*down + j]
     OH = (H*up + py0 + py1 - FH) / down + 1   (the caller checks it is >= 1)
   The filter is used as given (gain included). The output is overwritten. */
#pragma once

void upfirdn2d(float *y, const float *x, const float *f, int P, int H, int W, int FH, int FW,
               int up, int down, int px0, int px1, int py0, int py1);

/* 2x pixel shuffle (PyTorch's pixel_shuffle with factor 2) and its inverse, which is also its
   adjoint: x (P, 4, H, W) <-> y (P, 2H, 2W) with y[p][2r + a][2s + b] = x[p][2a + b][r][s].
   `inverse` 0: y from x; 1: x from y. */
void pixel_shuffle2(float *y, float *x, int P, int H, int W, int inverse);
