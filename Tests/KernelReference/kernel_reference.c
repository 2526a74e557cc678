/* Test-only C: naive loops that read each kernel's definition literally, accumulating in double,
   which the CKernels tests compare the fast kernels against; and max_abs_diff for tolerance
   checks. Never linked into the shipped targets. */
#include "kernel_reference.h"
#include <math.h>
#include <stdlib.h>

/* The header's formula term by term, in double. */
void adam_update_ref(float *p, float *m, float *v, const float *g, long n, float lr, float beta1,
                     float beta2, float eps, long step) {
    double b1 = beta1, b2 = beta2;
    for (long i = 0; i < n; i++) {
        double mi = b1 * m[i] + (1.0 - b1) * g[i];
        double vi = b2 * v[i] + (1.0 - b2) * (double)g[i] * g[i];
        double mhat = mi / (1.0 - pow(b1, (double)step));
        double vhat = vi / (1.0 - pow(b2, (double)step));
        m[i] = (float)mi;
        v[i] = (float)vi;
        p[i] = (float)(p[i] - lr * mhat / (sqrt(vhat) + eps));
    }
}

void bias_leaky_relu_forward_ref(float *y, const float *x, const float *b, int N, int C, long S,
                                 float slope) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (long s = 0; s < S; s++) {
                long i = ((long)n * C + c) * S + s;
                float v = x[i] + (b ? b[c] : 0.0f);
                y[i] = v > 0.0f ? v : slope * v;
            }
}

void noise_bias_leaky_relu_forward_ref(float *y, const float *x, const float *noise, int noise_per_sample,
                                       const float *strength, const float *b, int N, int C, long S, float slope) {
#pragma clang fp contract(off)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (long s = 0; s < S; s++) {
                long i = ((long)n * C + c) * S + s;
                float p = noise[(noise_per_sample ? (long)n * S : 0) + s] * strength[c];
                float v = (x[i] + p) + (b ? b[c] : 0.0f);
                y[i] = v > 0.0f ? v : slope * v;
            }
}

void leaky_relu_backward_ref(float *dx, const float *dy, const float *y, long n, float slope) {
    for (long i = 0; i < n; i++) dx[i] = dy[i] * (y[i] > 0.0f ? 1.0f : slope);
}

void conv2d_forward_ref(float *y, const float *x, const float *w, int N, int Cin, int H, int W,
                        int Cout, int KH, int KW, int stride, int pad) {
    struct { int OH, OW; } s = {(H + 2 * pad - KH) / stride + 1, (W + 2 * pad - KW) / stride + 1};
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Cout; co++)
            for (int oy = 0; oy < s.OH; oy++)
                for (int ox = 0; ox < s.OW; ox++) {
                    double acc = 0.0;
                    for (int ci = 0; ci < Cin; ci++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int iy = oy * stride - pad + kh, ix = ox * stride - pad + kw;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc += (double)x[(((long)n * Cin + ci) * H + iy) * W + ix] *
                                       w[(((long)co * Cin + ci) * KH + kh) * KW + kw];
                            }
                    y[(((long)n * Cout + co) * s.OH + oy) * s.OW + ox] = (float)acc;
                }
}

void conv2d_backward_input_ref(float *dx, const float *dy, const float *w, int N, int Cin, int H,
                               int W, int Cout, int KH, int KW, int stride, int pad) {
    struct { int OH, OW; } s = {(H + 2 * pad - KH) / stride + 1, (W + 2 * pad - KW) / stride + 1};
    long nx = (long)N * Cin * H * W;
    double *acc = calloc((size_t)(nx > 0 ? nx : 1), sizeof(double));
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Cout; co++)
            for (int oy = 0; oy < s.OH; oy++)
                for (int ox = 0; ox < s.OW; ox++) {
                    double g = dy[(((long)n * Cout + co) * s.OH + oy) * s.OW + ox];
                    for (int ci = 0; ci < Cin; ci++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int iy = oy * stride - pad + kh, ix = ox * stride - pad + kw;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc[(((long)n * Cin + ci) * H + iy) * W + ix] +=
                                    g * w[(((long)co * Cin + ci) * KH + kh) * KW + kw];
                            }
                }
    for (long i = 0; i < nx; i++) dx[i] = (float)acc[i];
    free(acc);
}

void conv2d_backward_weight_ref(float *dw, const float *dy, const float *x, int N, int Cin, int H,
                                int W, int Cout, int KH, int KW, int stride, int pad) {
    struct { int OH, OW; } s = {(H + 2 * pad - KH) / stride + 1, (W + 2 * pad - KW) / stride + 1};
    for (int co = 0; co < Cout; co++)
        for (int ci = 0; ci < Cin; ci++)
            for (int kh = 0; kh < KH; kh++)
                for (int kw = 0; kw < KW; kw++) {
                    double acc = 0.0;
                    for (int n = 0; n < N; n++)
                        for (int oy = 0; oy < s.OH; oy++)
                            for (int ox = 0; ox < s.OW; ox++) {
                                int iy = oy * stride - pad + kh, ix = ox * stride - pad + kw;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc += (double)dy[(((long)n * Cout + co) * s.OH + oy) * s.OW + ox] *
                                       x[(((long)n * Cin + ci) * H + iy) * W + ix];
                            }
                    dw[(((long)co * Cin + ci) * KH + kh) * KW + kw] = (float)acc;
                }
}

/* Every element of x added to the output its index maps to (index 0 on a reduced axis). */
void reduce_sum_ref(float *out, const long *out_dims, const float *x, const long *x_dims,
                    int ndim) {
    long total = 1, nout = 1;
    for (int d = 0; d < ndim; d++) {
        total *= x_dims[d];
        nout *= out_dims[d];
    }
    double *acc = calloc((size_t)(nout > 0 ? nout : 1), sizeof(double));
    if (!acc) return;
    for (long i = 0; i < total; i++) {
        long rem = i, o = 0, ostride = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            long id = rem % x_dims[d];
            rem /= x_dims[d];
            if (out_dims[d] != 1) o += id * ostride;
            ostride *= out_dims[d];
        }
        acc[o] += x[i];
    }
    for (long o = 0; o < nout; o++) out[o] = (float)acc[o];
    free(acc);
}

/* NaN anywhere gives NaN, so a broken kernel can never pass a tolerance check. */
double max_abs_diff(const float *a, const float *b, long n) {
    double m = 0.0;
    int nan = 0;
#pragma omp parallel for schedule(static) reduction(max : m) reduction(| : nan)
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        nan |= isnan(d);
        m = d > m ? d : m;
    }
    return nan ? NAN : m;
}

/* Accumulates in double, and like BLAS never reads C when beta is 0 (so NaNs there vanish). */
void ck_sgemm_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                  const float *B, float beta, float *C) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float a = transA ? A[(long)k * M + i] : A[(long)i * K + k];
                float b = transB ? B[(long)j * K + k] : B[(long)k * N + j];
                acc += (double)a * b;
            }
            float *c = &C[(long)i * N + j];
            *c = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
    }
}

void instance_norm_forward_ref(float *y, float *rstd, const float *x, int P, long S, float eps) {
    for (int p = 0; p < P; p++) {
        const float *xp = x + (long)p * S;
        double mean = 0.0, var = 0.0;
        for (long s = 0; s < S; s++) mean += xp[s];
        mean /= (double)S;
        for (long s = 0; s < S; s++) var += (xp[s] - mean) * (xp[s] - mean);
        var /= (double)S;
        double r = 1.0 / sqrt(var + eps);
        rstd[p] = (float)r;
        for (long s = 0; s < S; s++) y[(long)p * S + s] = (float)((xp[s] - mean) * r);
    }
}

void instance_norm_backward_ref(float *dx, const float *dy, const float *y, const float *rstd,
                                int P, long S) {
    for (int p = 0; p < P; p++) {
        const float *g = dy + (long)p * S, *yp = y + (long)p * S;
        double mg = 0.0, mgy = 0.0;
        for (long s = 0; s < S; s++) {
            mg += g[s];
            mgy += (double)g[s] * yp[s];
        }
        mg /= (double)S;
        mgy /= (double)S;
        for (long s = 0; s < S; s++)
            dx[(long)p * S + s] = (float)(rstd[p] * (g[s] - mg - yp[s] * mgy));
    }
}

void adain_backward_ref(float *dx, float *dys, float *dyb, const float *dout, const float *y,
                        const float *rstd, const float *ys, int P, long S) {
    for (int p = 0; p < P; p++) {
        const float *g = dout + (long)p * S, *yp = y + (long)p * S;
        double sg = 0.0, sgy = 0.0;
        for (long s = 0; s < S; s++) {
            sg += g[s];
            sgy += (double)g[s] * yp[s];
        }
        dyb[p] = (float)sg;
        dys[p] = (float)sgy;
        /* the definition: instance-norm backward of dy = dout * (1 + ys) */
        double k = 1.0 + ys[p], mdy = k * sg / (double)S, mdyy = k * sgy / (double)S;
        for (long s = 0; s < S; s++)
            dx[(long)p * S + s] = (float)(rstd[p] * (k * g[s] - mdy - yp[s] * mdyy));
    }
}

void pixel_norm_forward_ref(float *y, float *rnorm, const float *x, int N, int C, long S,
                            float eps) {
    for (int n = 0; n < N; n++)
        for (long s = 0; s < S; s++) {
            double ms = 0.0;
            for (int c = 0; c < C; c++) {
                double v = x[((long)n * C + c) * S + s];
                ms += v * v;
            }
            double r = 1.0 / sqrt(ms / C + eps);
            rnorm[(long)n * S + s] = (float)r;
            for (int c = 0; c < C; c++) {
                long i = ((long)n * C + c) * S + s;
                y[i] = (float)(x[i] * r);
            }
        }
}

void pixel_norm_backward_ref(float *dx, const float *dy, const float *y, const float *rnorm,
                             int N, int C, long S) {
    for (int n = 0; n < N; n++)
        for (long s = 0; s < S; s++) {
            double m = 0.0;
            for (int c = 0; c < C; c++) {
                long i = ((long)n * C + c) * S + s;
                m += (double)dy[i] * y[i];
            }
            m /= C;
            for (int c = 0; c < C; c++) {
                long i = ((long)n * C + c) * S + s;
                dx[i] = (float)(rnorm[(long)n * S + s] * (dy[i] - y[i] * m));
            }
        }
}

/* The definition read literally, one output sample at a time, accumulated in double. */
void upfirdn2d_ref(float *y, const float *x, const float *f, int P, int H, int W, int FH, int FW,
                   int up, int down, int px0, int px1, int py0, int py1) {
    int OH = (H * up + py0 + py1 - FH) / down + 1;
    int OW = (W * up + px0 + px1 - FW) / down + 1;
    long Hu = (long)H * up, Wu = (long)W * up;
    for (int p = 0; p < P; p++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                double s = 0.0;
                for (int i = 0; i < FH; i++)
                    for (int j = 0; j < FW; j++) {
                        long uy = (long)oy * down + i - py0, ux = (long)ox * down + j - px0;
                        if (uy < 0 || uy >= Hu || ux < 0 || ux >= Wu) continue; /* padding */
                        if (uy % up != 0 || ux % up != 0) continue;             /* inserted zero */
                        s += (double)f[i * FW + j] * x[((long)p * H + uy / up) * W + ux / up];
                    }
                y[((long)p * OH + oy) * OW + ox] = (float)s;
            }
}
