/* Resampling of 8-bit images for the dataset cache: Lanczos-3 resize (antialiased when shrinking),
   the box-filtered lower resolutions, and uint8 -> float in [-1, 1] for training batches.
   Layouts are given by strides, so one call can crop (offset pointer + row stride), drop an alpha
   channel (pixel stride 4, 3 channels) and turn interleaved pixels into planes (channel stride). */
#pragma once
#include <stddef.h>

/* Resizes sw x sh to dw x dh, channels 1..4, with a separable Lanczos-3 filter whose support is
   widened by the downscale factor when shrinking. Values are clamped to [0, 255] and rounded.
     src: pixel (x, y) channel c at src[y * src_row + x * src_px + c]
     dst: pixel (x, y) channel c at dst[y * dst_row + x * dst_px + c * dst_ch]
   Returns 0, or non-zero on bad sizes or when memory runs out (dst is then untouched). */
int cimage_resize_lanczos3(const unsigned char *src, int sw, int sh, int channels, size_t src_px,
                           size_t src_row, unsigned char *dst, int dw, int dh, size_t dst_px,
                           size_t dst_row, size_t dst_ch);

/* The `nlevels` lower resolutions of `planes` square planes (res x res, planar, e.g. CHW) by
   2x2 box averaging, as ProGAN's dataset tool: out[k - 1] gets planes * (res >> k)^2 bytes,
   each value the mean of its 2^k x 2^k block of `top`, rounded once (half to even).
   res must be a power of two with res >> nlevels >= 1. Returns 0, or non-zero on bad arguments
   or when memory runs out. */
int cimage_box_levels(const unsigned char *top, int res, int planes, int nlevels,
                      unsigned char *const *out);

/* dst[i] = src[i] / 127.5 - 1 for `rows` rows of `width` values, each row mirrored when flip. */
void cimage_u8_to_signed_unit(const unsigned char *src, size_t rows, size_t width, int flip,
                              float *dst);
