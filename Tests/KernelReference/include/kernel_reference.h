/* The reference twins of the CKernels kernels (same signatures, suffix _ref), for tests only. */
#pragma once

void adam_update_ref(float *p, float *m, float *v, const float *g, long n, float lr, float beta1,
                     float beta2, float eps, long step);
void bias_leaky_relu_forward_ref(float *y, const float *x, const float *b, int N, int C, long S,
                                 float slope);
void noise_bias_leaky_relu_forward_ref(float *y, const float *x, const float *noise, int noise_per_sample,
                                       const float *strength, const float *b, int N, int C, long S, float slope);
void leaky_relu_backward_ref(float *dx, const float *dy, const float *y, long n, float slope);
void conv2d_forward_ref(float *y, const float *x, const float *w, int N, int Cin, int H, int W,
                        int Cout, int KH, int KW, int stride, int pad);
void conv2d_backward_input_ref(float *dx, const float *dy, const float *w, int N, int Cin, int H,
                               int W, int Cout, int KH, int KW, int stride, int pad);
void conv2d_backward_weight_ref(float *dw, const float *dy, const float *x, int N, int Cin, int H,
                                int W, int Cout, int KH, int KW, int stride, int pad);
void reduce_sum_ref(float *out, const long *out_dims, const float *x, const long *x_dims,
                    int ndim);
/* max |a - b| in double; NaN if any difference is NaN. */
double max_abs_diff(const float *a, const float *b, long n);
void ck_sgemm_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  const float *B, float beta, float *C);
void instance_norm_forward_ref(float *y, float *rstd, const float *x, int P, long S, float eps);
void instance_norm_backward_ref(float *dx, const float *dy, const float *y, const float *rstd,
                                int P, long S);
void adain_backward_ref(float *dx, float *dys, float *dyb, const float *dout, const float *y,
                        const float *rstd, const float *ys, int P, long S);
void pixel_norm_forward_ref(float *y, float *rnorm, const float *x, int N, int C, long S,
                            float eps);
void pixel_norm_backward_ref(float *dx, const float *dy, const float *y, const float *rnorm,
                             int N, int C, long S);
void upfirdn2d_ref(float *y, const float *x, const float *f, int P, int H, int W, int FH, int FW,
                   int up, int down, int px0, int px1, int py0, int py1);
