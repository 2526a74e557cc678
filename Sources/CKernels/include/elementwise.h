/* Elementwise maps, broadcasting binary ops and reductions over arrays of up to CK_MAXDIM dims.
   Shapes are given as dims[ndim] of the output; strides are in elements, 0 on a broadcast axis. */
#pragma once

#define CK_MAXDIM 6

enum { CK_ADD = 0, CK_SUB = 1, CK_MUL = 2, CK_DIV = 3 };
/* out[i] = a[...] op b[...], out contiguous with dims; a, b read through their strides. */
void ew_binary(int op, float *out, const float *a, const long *a_strides, const float *b,
               const long *b_strides, const long *dims, int ndim);

enum {
    CK_NEG = 0, CK_EXP = 1, CK_LOG = 2, CK_SQRT = 3, CK_SOFTPLUS = 4, CK_SIGMOID = 5,
    CK_RELU = 6, CK_SQUARE = 7, CK_RSQRT = 8, CK_ABS = 9, CK_STEP = 10 /* x > 0 ? 1 : 0 */
};
void ew_unary(int op, float *out, const float *x, long n);
/* out = a * x + b */
void ew_affine(float *out, const float *x, float a, float b, long n);
/* out = a + t * (b - a): fade-ins and the EMA update (out may alias a). */
void ew_lerp(float *out, const float *a, const float *b, float t, long n);
/* Contiguous out (dims) = x read through strides: expand / permute / copy. */
void ew_copy_strided(float *out, const float *x, const long *x_strides, const long *dims, int ndim);
/* out (dims out_dims, each 1 or equal to x_dims) = sum of x (contiguous, x_dims) over the axes
   where out_dims is 1 and x_dims is not. Accumulates in double. */
void reduce_sum(float *out, const long *out_dims, const float *x, const long *x_dims, int ndim);
/* 1 if any element is NaN or infinite. */
int has_nonfinite(const float *x, long n);
