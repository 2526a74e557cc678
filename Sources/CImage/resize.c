/* Resampling for the dataset builder and reader: Lanczos-3 resize of decoded images to the
   dataset resolution, the box-filtered lower levels (ProGAN's dataset tool), and the uint8 to
   float conversion of training batches. The resize follows PIL's ImagingResample: the kernel is
   stretched by the downscale factor so that shrinking also low-pass filters (no aliasing of fine
   detail into the small images the network is trained on), and taps falling outside the image
   are dropped and the rest renormalised, so a flat image stays exactly flat up to the edges. */
#include "resize.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* ---------------------------------------------------------------------------------------------
   Lanczos-3 resize */

#define LANCZOS_A 3.0
#define PI_D 3.14159265358979323846

static double lanczos3(double x) {
    if (x < 0) x = -x;
    if (x < 1e-12) return 1.0;
    if (x >= LANCZOS_A) return 0.0;
    double px = PI_D * x;
    return LANCZOS_A * sin(px) * sin(px / LANCZOS_A) / (px * px);
}

/* Filter taps along one axis: output i reads inputs first[i] .. first[i] + taps[i] - 1 with
   weights w[i * max_taps + j] (summing to 1). */
typedef struct {
    int *first, *taps;
    float *w;
    int max_taps;
} axis_filter;

static void free_axis(axis_filter *f) {
    free(f->first);
    free(f->taps);
    free(f->w);
}

static int make_axis(axis_filter *f, int in, int out) {
    double scale = (double)in / out;
    /* Shrinking: the kernel spans `scale` input pixels per lobe, a low-pass at the new Nyquist. */
    double fscale = scale > 1.0 ? scale : 1.0;
    double support = LANCZOS_A * fscale;
    f->max_taps = (int)ceil(support) * 2 + 1;
    f->first = malloc(sizeof(int) * (size_t)out);
    f->taps = malloc(sizeof(int) * (size_t)out);
    f->w = malloc(sizeof(float) * (size_t)out * (size_t)f->max_taps);
    if (!f->first || !f->taps || !f->w) {
        free_axis(f);
        return 1;
    }
    double *tmp = malloc(sizeof(double) * (size_t)f->max_taps);
    if (!tmp) {
        free_axis(f);
        return 1;
    }
    for (int i = 0; i < out; i++) {
        /* Pixel centres are at half-integers in both grids, so the image edges line up. */
        double center = (i + 0.5) * scale;
        int lo = (int)floor(center - support);
        int hi = (int)ceil(center + support);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > f->max_taps) hi = lo + f->max_taps;
        double sum = 0;
        for (int j = lo; j < hi; j++) {
            tmp[j - lo] = lanczos3((j + 0.5 - center) / fscale);
            sum += tmp[j - lo];
        }
        /* Taps lost at the border are renormalised away; a zero sum cannot happen for in >= 1
           (the nearest input is always within half a pixel times fscale), but guard anyway. */
        if (sum == 0) {
            int near = (int)center;
            if (near >= in) near = in - 1;
            lo = near;
            hi = near + 1;
            tmp[0] = 1;
            sum = 1;
        }
        f->first[i] = lo;
        f->taps[i] = hi - lo;
        for (int j = 0; j < hi - lo; j++) f->w[(size_t)i * f->max_taps + j] = (float)(tmp[j] / sum);
    }
    free(tmp);
    return 0;
}

static unsigned char to_u8(float v) {
    if (!(v > 0.0f)) return 0; /* also catches NaN */
    if (v >= 255.0f) return 255;
    return (unsigned char)(v + 0.5f);
}

int cimage_resize_lanczos3(const unsigned char *src, int sw, int sh, int channels, size_t src_px,
                           size_t src_row, unsigned char *dst, int dw, int dh, size_t dst_px,
                           size_t dst_row, size_t dst_ch) {
    if (!src || !dst || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || channels < 1 || channels > 4)
        return 1;
    axis_filter fx = {0}, fy = {0};
    if (make_axis(&fx, sw, dw)) return 1;
    if (make_axis(&fy, sh, dh)) {
        free_axis(&fx);
        return 1;
    }
    /* Horizontal pass into float rows (sh x dw x channels), then vertical into dst: the
       intermediate stays unrounded so the result is rounded once. */
    size_t trow = (size_t)dw * channels;
    float *tmp = malloc(sizeof(float) * (size_t)sh * trow);
    float *acc = malloc(sizeof(float) * trow);
    if (!tmp || !acc) {
        free(tmp);
        free(acc);
        free_axis(&fx);
        free_axis(&fy);
        return 1;
    }

    for (int y = 0; y < sh; y++) {
        const unsigned char *row = src + (size_t)y * src_row;
        float *out = tmp + (size_t)y * trow;
        for (int x = 0; x < dw; x++) {
            const float *w = fx.w + (size_t)x * fx.max_taps;
            const unsigned char *p = row + (size_t)fx.first[x] * src_px;
            float s[4] = {0, 0, 0, 0};
            for (int j = 0; j < fx.taps[x]; j++, p += src_px)
                for (int c = 0; c < channels; c++) s[c] += w[j] * p[c];
            for (int c = 0; c < channels; c++) out[(size_t)x * channels + c] = s[c];
        }
    }

    for (int y = 0; y < dh; y++) {
        const float *w = fy.w + (size_t)y * fy.max_taps;
        for (size_t k = 0; k < trow; k++) acc[k] = 0;
        for (int j = 0; j < fy.taps[y]; j++) {
            const float *in = tmp + (size_t)(fy.first[y] + j) * trow;
            float wj = w[j];
            for (size_t k = 0; k < trow; k++) acc[k] += wj * in[k];
        }
        unsigned char *out = dst + (size_t)y * dst_row;
        for (int x = 0; x < dw; x++)
            for (int c = 0; c < channels; c++)
                out[(size_t)x * dst_px + (size_t)c * dst_ch] = to_u8(acc[(size_t)x * channels + c]);
    }

    free(tmp);
    free(acc);
    free_axis(&fx);
    free_axis(&fy);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
   Box-filtered lower levels */

/* Sums stay exact integers (a 256x256 block of 255s is 16.7M, far below 2^32), so each level is
   the exact block mean rounded once: rounding level by level would drift (ProGAN keeps floats
   between levels for the same reason). Half to even, as numpy's rint in ProGAN's tool. */
static unsigned char mean_round(uint32_t sum, int shift) {
    uint32_t q = sum >> shift, rem = sum & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return (unsigned char)q;
}

int cimage_box_levels(const unsigned char *top, int res, int planes, int nlevels,
                      unsigned char *const *out) {
    if (!top || !out || res < 2 || (res & (res - 1)) != 0 || planes < 1 || nlevels < 0 ||
        nlevels > 30 || (res >> nlevels) < 1)
        return 1;
    if (nlevels == 0) return 0;
    size_t half = (size_t)(res / 2);
    uint32_t *a = malloc(sizeof(uint32_t) * (size_t)planes * half * half);
    uint32_t *b = malloc(sizeof(uint32_t) * (size_t)planes * half * half);
    if (!a || !b) {
        free(a);
        free(b);
        return 1;
    }
    /* Planes are stacked, so (planes * side) rows of `side` with even side never straddle two
       planes in a 2x2 block: the planes can be treated as one tall image. */
    size_t side = (size_t)res, rows = (size_t)planes * side;
    for (size_t y = 0; y < rows / 2; y++)
        for (size_t x = 0; x < side / 2; x++) {
            const unsigned char *p = top + 2 * y * side + 2 * x;
            a[y * (side / 2) + x] = (uint32_t)p[0] + p[1] + p[side] + p[side + 1];
        }
    for (int k = 1;; k++) {
        side /= 2;
        rows /= 2;
        for (size_t i = 0; i < rows * side; i++) out[k - 1][i] = mean_round(a[i], 2 * k);
        if (k == nlevels) break;
        for (size_t y = 0; y < rows / 2; y++)
            for (size_t x = 0; x < side / 2; x++) {
                const uint32_t *p = a + 2 * y * side + 2 * x;
                b[y * (side / 2) + x] = p[0] + p[1] + p[side] + p[side + 1];
            }
        uint32_t *t = a;
        a = b;
        b = t;
    }
    free(a);
    free(b);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
   uint8 -> [-1, 1] */

void cimage_u8_to_signed_unit(const unsigned char *src, size_t rows, size_t width, int flip,
                              float *dst) {
    /* A table keeps the result bit-identical to x / 127.5 - 1 (a multiply by the rounded
       reciprocal is not) at the cost of a load. */
    float lut[256];
    for (int i = 0; i < 256; i++) lut[i] = (float)i / 127.5f - 1.0f;
    for (size_t r = 0; r < rows; r++) {
        const unsigned char *s = src + r * width;
        float *d = dst + r * width;
        if (flip)
            for (size_t x = 0; x < width; x++) d[x] = lut[s[width - 1 - x]];
        else
            for (size_t x = 0; x < width; x++) d[x] = lut[s[x]];
    }
}
