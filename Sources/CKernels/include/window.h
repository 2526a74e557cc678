/* Window ops of image planes x (P, H, W) -> y (P, OH, OW), forward only (feature networks):
   max and average pooling over k x k windows with stride s and padding p, OH = (H + 2p - k) / s + 1
   (max: padding never wins; average: over the window's pixels inside the image, PyTorch's
   count_include_pad=False), and bilinear resizing without antialiasing, sampling output pixel d
   at input (d + 0.5) * in / out - 0.5 with half-pixel centres (PyTorch's interpolate(mode="bilinear",
   align_corners=False)), or at d * in / out without (TF1's resize_bilinear, which the FID network
   was fed); the +1 neighbour is clamped at the border. OpenMP over planes.
   The _backward functions overwrite dx (P, H, W) with the gradient of sum(y * dy): the adjoint of
   the average pool and the resize, and for the max pool dy sent to each window's first maximum. */
#pragma once

void max_pool2d(float *y, const float *x, int P, int H, int W, int k, int s, int p);
void avg_pool2d(float *y, const float *x, int P, int H, int W, int k, int s, int p);
void resize_bilinear(float *y, const float *x, int P, int H, int W, int OH, int OW, int half_pixel);
void max_pool2d_backward(float *dx, const float *dy, const float *x, int P, int H, int W, int k, int s, int p);
void avg_pool2d_backward(float *dx, const float *dy, int P, int H, int W, int k, int s, int p);
void resize_bilinear_backward(float *dx, const float *dy, int P, int H, int W, int OH, int OW, int half_pixel);
