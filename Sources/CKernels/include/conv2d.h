/* 2-D convolution (cross-correlation, as PyTorch's conv2d), NCHW float32, any kernel size,
   any stride, symmetric zero padding; im2col/col2im + sgemm, OpenMP over the im2col rows.
     x: (N, Cin, H, W)   w: (Cout, Cin, KH, KW)   y: (N, Cout, OH, OW)
     OH = (H + 2*pad - KH) / stride + 1,  OW = (W + 2*pad - KW) / stride + 1
   The weight is used as gain * w (equalised learning rate's run-time scale, applied in the
   products instead of by a scaled copy of w). Every function overwrites its output. backward_input with (dy, w) is also the transposed
   convolution of dy (PyTorch's conv_transpose2d with weight w laid out (in=Cout, out=Cin, KH, KW)),
   which is how a fused 2x upsample conv with other than a 3x3 kernel runs. */
#pragma once

void conv2d_forward(float *y, const float *x, const float *w, int N, int Cin, int H, int W,
                    int Cout, int KH, int KW, int stride, int pad, float gain);
/* dx (N, Cin, H, W) = gradient of sum(y * dy) with respect to x. */
void conv2d_backward_input(float *dx, const float *dy, const float *w, int N, int Cin, int H,
                           int W, int Cout, int KH, int KW, int stride, int pad, float gain);
/* dw (Cout, Cin, KH, KW) = gradient of sum(y * dy) with respect to w (the unscaled w). */
void conv2d_backward_weight(float *dw, const float *dy, const float *x, int N, int Cin, int H,
                            int W, int Cout, int KH, int KW, int stride, int pad, float gain);

/* Whether the three functions above take the Winograd route (winograd.h) for this convolution:
   3x3, stride 1, pad 1, and winograd3x3_used says so. */
int conv2d_winograd(int N, int Cin, int H, int W, int Cout, int KH, int KW, int stride, int pad);
