/* Image file IO for datasets and outputs: PNG through libpng (read and write), JPEG through
   libjpeg (read). Every size is checked before anything is allocated; a malformed file returns
   an error code and a message, never a crash or a huge allocation.
   Pixels are 8-bit, interleaved (H, W, channels), channels 1 (grey), 3 (RGB) or 4 (RGBA). */
#pragma once
#include <stddef.h>

/* Largest accepted side and total pixel count: a file that claims more is rejected unread. */
#define CIMAGE_MAX_SIDE 16384
#define CIMAGE_MAX_PIXELS (64L * 1024 * 1024)

typedef struct {
    unsigned char *pixels; /* malloc'ed, H * W * channels bytes; free with cimage_free */
    int width, height, channels;
} cimage;

/* Return 0 on success; otherwise non-zero with a one-line reason in err (errlen bytes). */
int cimage_read_png(const char *path, cimage *out, char *err, size_t errlen);
int cimage_read_jpeg(const char *path, cimage *out, char *err, size_t errlen);
/* Chooses the decoder from the file's first bytes (not its name). */
int cimage_read(const char *path, cimage *out, char *err, size_t errlen);
/* Writes 8-bit PNG (channels 1, 3 or 4). Writes to path directly; callers that need atomicity
   write to a temporary name and rename. */
int cimage_write_png(const char *path, const unsigned char *pixels, int width, int height,
                     int channels, char *err, size_t errlen);
void cimage_free(cimage *img);
