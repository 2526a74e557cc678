/* 3x3 convolutions with stride 1 and padding 1 (every 3x3 conv StyleGAN runs below 128 px) by
   Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2015): 36 multiplies per 4x4 output tile
   and channel pair instead of 144, as 36 sgemms in the transformed domain. Same shapes and
   semantics as conv2d_forward / _backward_input / _backward_weight with KH = KW = 3, stride 1,
   pad 1 (the weight used as gain * w, the gain folded into the weight transforms); results differ from the direct sum by rounding only (the transforms' constants are exact
   in binary except 1/6, 1/12 and 1/24; see the tests for the measured error). */
#pragma once

void winograd3x3_forward(float *y, const float *x, const float *w, int N, int Cin, int H, int W,
                         int Cout, float gain);
void winograd3x3_backward_input(float *dx, const float *dy, const float *w, int N, int Cin, int H,
                                int W, int Cout, float gain);
void winograd3x3_backward_weight(float *dw, const float *dy, const float *x, int N, int Cin, int H,
                                 int W, int Cout, float gain);

/* For callers that run several convolutions with unchanged weights: the transformed weights U
   (winograd3x3_weights_floats(Cin, Cout) floats) made once by winograd3x3_transform_weights from
   gain * w (w: Cout x Cin x 3 x 3), then passed to the _transformed calls, which are winograd3x3_forward /
   _backward_input without the transform (the input gradient runs the forward's adjoint, on the
   same U). */
long winograd3x3_weights_floats(int Cin, int Cout);
void winograd3x3_transform_weights(float *U, const float *w, int Cin, int Cout, float gain);
void winograd3x3_forward_transformed(float *y, const float *x, const float *U, int N, int Cin, int H,
                                     int W, int Cout);
void winograd3x3_backward_input_transformed(float *dx, const float *dy, const float *U, int N, int Cin,
                                            int H, int W, int Cout);

/* Whether conv2d_* route a 3x3 / stride 1 / pad 1 convolution of this size here: on unless the
   environment has CK_WINOGRAD=0 or the calling thread turned it off with
   winograd3x3_set_enabled(0), and only for sizes where it measured faster than im2col + sgemm. */
int winograd3x3_used(int N, int Cin, int H, int W, int Cout);
/* Turns the route on or off for the calling thread; returns whether it was on. */
int winograd3x3_set_enabled(int on);
/* The 4x4 output tiles of N images of H x W (the columns of the transformed products, all blocks). */
long winograd3x3_tiles(int N, int H, int W);

