/* Image file IO for the dataset builder and the image writers: PNG read/write through libpng, JPEG
   read through libjpeg(-turbo). Everything a file claims about its size is checked against
   CIMAGE_MAX_SIDE / CIMAGE_MAX_PIXELS before a pixel buffer is allocated, and every libpng/libjpeg
   error longjmps back here, is turned into a one-line message, and releases what was acquired.
   Dataset folders hold thousands of files from unknown sources, so a bad one must cost an error
   message, never a crash, a partial image or a leak. */
#include "cimage.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* ---------------------------------------------------------------------------------------------
   Shared helpers */

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* One line: library messages occasionally carry newlines. */
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

static void clear_image(cimage *out) {
    if (out == NULL) return;
    out->pixels = NULL;
    out->width = out->height = out->channels = 0;
}

/* Returns 0 when the size is acceptable, else writes the reason (prefixed by fmt, "PNG"/"JPEG"). */
static int check_size(const char *fmt, long long w, long long h, char *err, size_t errlen) {
    if (w <= 0 || h <= 0) {
        set_err(err, errlen, "%s: image %lldx%lld has an empty side", fmt, w, h);
        return 1;
    }
    if (w > CIMAGE_MAX_SIDE || h > CIMAGE_MAX_SIDE) {
        set_err(err, errlen, "%s: image %lldx%lld exceeds the %d-pixel side limit", fmt, w, h,
                CIMAGE_MAX_SIDE);
        return 1;
    }
    if (w * h > (long long)CIMAGE_MAX_PIXELS) {
        set_err(err, errlen, "%s: image %lldx%lld exceeds the %ld-pixel limit", fmt, w, h,
                (long)CIMAGE_MAX_PIXELS);
        return 1;
    }
    return 0;
}

static FILE *open_for_read(const char *path, const char *fmt, char *err, size_t errlen) {
    if (path == NULL) {
        set_err(err, errlen, "%s: no path given", fmt);
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) set_err(err, errlen, "%s: cannot open file: %s", fmt, strerror(errno));
    return fp;
}

static unsigned long be32(const unsigned char *p) {
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) |
           (unsigned long)p[3];
}

/* ---------------------------------------------------------------------------------------------
   PNG */

/* The first 24 bytes (signature, IHDR length and type, width, height) are read before libpng
   sees the file, so the size check can name the claimed size; the read callback then replays
   them to libpng, which also works for files that cannot seek. */
#define PNG_HEAD 24

typedef struct {
    FILE *fp;
    unsigned char head[PNG_HEAD];
    size_t head_len, head_pos;
    char msg[200];
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = (png_ctx *)png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings (bad gamma, odd iCCP profiles, ...) do not make an image unusable; keep stderr quiet
   while a dataset of thousands of files is read. */
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_read_cb(png_structp png, png_bytep data, png_size_t length) {
    png_ctx *ctx = (png_ctx *)png_get_io_ptr(png);
    while (length > 0 && ctx->head_pos < ctx->head_len) {
        *data++ = ctx->head[ctx->head_pos++];
        length--;
    }
    if (length == 0) return;
    size_t got = fread(data, 1, length, ctx->fp);
    if (got != length) {
        /* libpng's default reader says only "Read Error"; tell a cut-off file from an IO fault. */
        if (ferror(ctx->fp))
            png_error(png, "read error");
        png_error(png, "file truncated");
    }
}

int cimage_read_png(const char *path, cimage *out, char *err, size_t errlen) {
    if (out == NULL) {
        set_err(err, errlen, "PNG: no output image given");
        return 1;
    }
    clear_image(out);

    FILE *fp = open_for_read(path, "PNG", err, errlen);
    if (fp == NULL) return 1;

    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.fp = fp;
    ctx.head_len = fread(ctx.head, 1, PNG_HEAD, fp);
    if (ctx.head_len == 0) {
        set_err(err, errlen, "PNG: %s", ferror(fp) ? "read error" : "empty file");
        fclose(fp);
        return 1;
    }
    if (png_sig_cmp(ctx.head, 0, ctx.head_len < 8 ? ctx.head_len : 8) != 0) {
        set_err(err, errlen, "PNG: not a PNG file (bad signature)");
        fclose(fp);
        return 1;
    }
    if (ctx.head_len < PNG_HEAD) {
        set_err(err, errlen, "PNG: file truncated");
        fclose(fp);
        return 1;
    }
    /* Only a well-formed IHDR header is size-checked here; anything else is left to libpng,
       whose message names the actual fault. */
    if (memcmp(ctx.head + 12, "IHDR", 4) == 0 && be32(ctx.head + 8) == 13 &&
        check_size("PNG", (long long)be32(ctx.head + 16), (long long)be32(ctx.head + 20), err,
                   errlen)) {
        fclose(fp);
        return 1;
    }

    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (info == NULL) {
        set_err(err, errlen, "PNG: out of memory");
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        fclose(fp);
        return 1;
    }
    /* Assigned after setjmp, read after a longjmp: must be volatile to have a defined value. */
    unsigned char *volatile pixels = NULL;

    if (setjmp(png_jmpbuf(png))) {
        set_err(err, errlen, "PNG: %s", ctx.msg[0] ? ctx.msg : "unknown libpng error");
        free(pixels);
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        return 1;
    }

    png_set_read_fn(png, &ctx, png_read_cb);
    /* A second line of defence behind the IHDR check above (and the one libpng enforces itself). */
    png_set_user_limits(png, CIMAGE_MAX_SIDE, CIMAGE_MAX_SIDE);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    if (check_size("PNG", width, height, err, errlen)) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        return 1;
    }

    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    int is_grey = (color_type & PNG_COLOR_MASK_COLOR) == 0;
    int has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || has_trns;

    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (is_grey && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (has_trns) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16) png_set_strip_16(png);
    /* Grey with alpha has 2 channels, which the API does not have: widen it to RGBA. */
    if (is_grey && has_alpha) png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 1 && channels != 3 && channels != 4) || png_get_bit_depth(png, info) != 8 ||
        rowbytes != (size_t)width * (size_t)channels) {
        png_error(png, "unsupported pixel layout after conversion");
    }

    /* Zeroed, so that no byte is ever uninitialised even if libpng tolerates a short stream. */
    pixels = calloc((size_t)height * rowbytes, 1);
    if (pixels == NULL) png_error(png, "out of memory");

    for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < height; y++)
            png_read_row(png, pixels + (size_t)y * rowbytes, NULL);
    /* Reading up to IEND makes a file cut anywhere after the image data an error too. */
    png_read_end(png, NULL);

    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    out->pixels = pixels;
    out->width = (int)width;
    out->height = (int)height;
    out->channels = channels;
    return 0;
}

typedef struct {
    FILE *fp;
    char msg[200];
} png_write_ctx;

static void png_write_on_error(png_structp png, png_const_charp msg) {
    png_write_ctx *ctx = (png_write_ctx *)png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* libpng's default writer ignores short writes; a full disk must not yield a silently cut file. */
static void png_write_cb(png_structp png, png_bytep data, png_size_t length) {
    png_write_ctx *ctx = (png_write_ctx *)png_get_io_ptr(png);
    if (fwrite(data, 1, length, ctx->fp) != length) {
        char buf[160];
        snprintf(buf, sizeof buf, "write failed: %s", strerror(errno));
        png_error(png, buf);
    }
}

static void png_flush_cb(png_structp png) {
    png_write_ctx *ctx = (png_write_ctx *)png_get_io_ptr(png);
    if (fflush(ctx->fp) != 0) {
        char buf[160];
        snprintf(buf, sizeof buf, "write failed: %s", strerror(errno));
        png_error(png, buf);
    }
}

int cimage_write_png(const char *path, const unsigned char *pixels, int width, int height,
                     int channels, char *err, size_t errlen) {
    if (path == NULL || pixels == NULL) {
        set_err(err, errlen, "PNG write: %s is NULL", path == NULL ? "path" : "pixels");
        return 1;
    }
    if (channels != 1 && channels != 3 && channels != 4) {
        set_err(err, errlen, "PNG write: %d channels (expected 1, 3 or 4)", channels);
        return 1;
    }
    if (check_size("PNG write", width, height, err, errlen)) return 1;

    FILE *fp = fopen(path, "wb");
    if (fp == NULL) {
        set_err(err, errlen, "PNG write: cannot create file: %s", strerror(errno));
        return 1;
    }
    png_write_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.fp = fp;

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_write_on_error,
                                              png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (info == NULL) {
        set_err(err, errlen, "PNG write: out of memory");
        png_destroy_write_struct(png ? &png : NULL, NULL);
        fclose(fp);
        remove(path);
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        set_err(err, errlen, "PNG write: %s", ctx.msg[0] ? ctx.msg : "unknown libpng error");
        png_destroy_write_struct(&png, &info);
        fclose(fp);
        /* A half-written file would later read as "truncated"; better no file at all. */
        remove(path);
        return 1;
    }

    png_set_write_fn(png, &ctx, png_write_cb, png_flush_cb);
    int color_type = channels == 1   ? PNG_COLOR_TYPE_GRAY
                     : channels == 3 ? PNG_COLOR_TYPE_RGB
                                     : PNG_COLOR_TYPE_RGB_ALPHA;
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t rowbytes = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * rowbytes));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);

    /* Buffered data reaches the disk at fclose: its failure (e.g. disk full) is a write error. */
    if (fclose(fp) != 0) {
        set_err(err, errlen, "PNG write: write failed: %s", strerror(errno));
        remove(path);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
   JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err_ctx;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_err_ctx *ctx = (jpeg_err_ctx *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, ctx->msg);
    longjmp(ctx->jump, 1);
}

/* libjpeg only warns on a file that ends early and pads the image with grey; for a dataset that
   is a damaged image, so it is an error here. That includes a file missing only its end marker:
   the decoder reads ahead and meets the end while still producing the last rows, so such a file
   cannot be told from a real cut. Other warnings (stray bytes before a marker, ...) leave a
   usable image and stay silent. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
    cinfo->err->num_warnings++;
}

static unsigned char mul255(unsigned a, unsigned b) { return (unsigned char)((a * b + 127) / 255); }

int cimage_read_jpeg(const char *path, cimage *out, char *err, size_t errlen) {
    if (out == NULL) {
        set_err(err, errlen, "JPEG: no output image given");
        return 1;
    }
    clear_image(out);

    FILE *fp = open_for_read(path, "JPEG", err, errlen);
    if (fp == NULL) return 1;

    /* Zeroed so that jpeg_destroy_decompress is safe even if creation itself fails. */
    struct jpeg_decompress_struct cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    jpeg_err_ctx jerr;
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_on_error;
    jerr.pub.emit_message = jpeg_on_message;
    /* Assigned after setjmp, read after a longjmp: must be volatile to have a defined value. */
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile cmyk_row = NULL;
    /* Records whether the size check (not libjpeg) failed, so the handler keeps its message. */
    volatile int own_error = 0;

    if (setjmp(jerr.jump)) {
        if (!own_error) set_err(err, errlen, "JPEG: %s", jerr.msg);
        free(pixels);
        free(cmyk_row);
        jpeg_destroy_decompress(&cinfo);
        fclose(fp);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, fp);
    jpeg_read_header(&cinfo, TRUE);

    if (check_size("JPEG", cinfo.image_width, cinfo.image_height, err, errlen)) {
        own_error = 1;
        longjmp(jerr.jump, 1);
    }

    int channels, cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        channels = 3;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        /* libjpeg turns YCCK into CMYK; CMYK to RGB is done below. */
        cinfo.out_color_space = JCS_CMYK;
        channels = 3;
        cmyk = 1;
        break;
    default:
        set_err(err, errlen, "JPEG: unsupported colour space with %d components",
                cinfo.num_components);
        own_error = 1;
        longjmp(jerr.jump, 1);
    }

    jpeg_start_decompress(&cinfo);
    if ((int)cinfo.output_components != (cmyk ? 4 : channels)) {
        set_err(err, errlen, "JPEG: decoder gave %d components, expected %d",
                cinfo.output_components, cmyk ? 4 : channels);
        own_error = 1;
        longjmp(jerr.jump, 1);
    }

    size_t width = cinfo.output_width, height = cinfo.output_height;
    size_t rowbytes = width * (size_t)channels;
    pixels = malloc(height * rowbytes);
    if (cmyk) cmyk_row = malloc(width * 4);
    if (pixels == NULL || (cmyk && cmyk_row == NULL)) {
        set_err(err, errlen, "JPEG: out of memory");
        own_error = 1;
        longjmp(jerr.jump, 1);
    }

    /* Adobe (Photoshop) writes CMYK inverted, and says so with its APP14 marker. */
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        unsigned char *dst = pixels + y * rowbytes;
        JSAMPROW row = cmyk ? (JSAMPROW)cmyk_row : (JSAMPROW)dst;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            set_err(err, errlen, "JPEG: decoder returned no scanline");
            own_error = 1;
            longjmp(jerr.jump, 1);
        }
        if (cmyk) {
            for (size_t x = 0; x < width; x++) {
                const unsigned char *s = cmyk_row + 4 * x;
                unsigned c = s[0], m = s[1], yy = s[2], k = s[3];
                if (!inverted) c = 255 - c, m = 255 - m, yy = 255 - yy, k = 255 - k;
                dst[3 * x + 0] = mul255(c, k);
                dst[3 * x + 1] = mul255(m, k);
                dst[3 * x + 2] = mul255(yy, k);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(fp);
    free(cmyk_row);

    out->pixels = pixels;
    out->width = (int)width;
    out->height = (int)height;
    out->channels = channels;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
   Format sniffing and release */

int cimage_read(const char *path, cimage *out, char *err, size_t errlen) {
    if (out == NULL) {
        set_err(err, errlen, "no output image given");
        return 1;
    }
    clear_image(out);
    if (path == NULL) {
        set_err(err, errlen, "no path given");
        return 1;
    }
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        set_err(err, errlen, "cannot open file: %s", strerror(errno));
        return 1;
    }
    unsigned char magic[8];
    size_t n = fread(magic, 1, sizeof magic, fp);
    int read_failed = ferror(fp);
    fclose(fp);
    if (read_failed) {
        set_err(err, errlen, "read error: %s", strerror(errno));
        return 1;
    }

    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n == sizeof png_sig && memcmp(magic, png_sig, sizeof png_sig) == 0)
        return cimage_read_png(path, out, err, errlen);
    if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        return cimage_read_jpeg(path, out, err, errlen);
    if (n == 0)
        set_err(err, errlen, "empty file, not a PNG or JPEG file");
    else
        set_err(err, errlen, "not a PNG or JPEG file");
    return 1;
}

void cimage_free(cimage *img) {
    if (img == NULL) return;
    free(img->pixels);
    clear_image(img);
}
