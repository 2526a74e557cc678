/* Makes the tiny JPEG fixtures read by Tests/CKernelsTests/ImageIOTests.swift (no Python imaging
   library is assumed). Each image is made of flat 8x8 (16x16 for subsampled chroma) blocks, so the
   decoded values are the encoded ones to within a few levels and the tests can check them.
   Build and run from this folder:
     cc make_jpeg_fixtures.c -ljpeg -o /tmp/mkjpeg && /tmp/mkjpeg */
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>

static void write_jpeg(const char *path, const unsigned char *px, int w, int h, int comps,
                       J_COLOR_SPACE cs, int progressive) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    FILE *fp = fopen(path, "wb");
    if (!fp) { perror(path); exit(1); }
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = w; c.image_height = h; c.input_components = comps; c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)y * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(fp);
}

int main(void) {
    /* rgb_21x13.jpg: baseline, 4:2:0; columns 0-15 (200,30,40), columns 16-20 (20,60,220). */
    static unsigned char rgb[13 * 21 * 3];
    for (int y = 0; y < 13; y++)
        for (int x = 0; x < 21; x++) {
            unsigned char *p = rgb + (y * 21 + x) * 3;
            if (x < 16) { p[0] = 200; p[1] = 30; p[2] = 40; } else { p[0] = 20; p[1] = 60; p[2] = 220; }
        }
    write_jpeg("rgb_21x13.jpg", rgb, 21, 13, 3, JCS_RGB, 0);

    /* grey_9x7.jpg: progressive greyscale; columns 0-7 are 40, column 8 is 200. */
    static unsigned char grey[7 * 9];
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 9; x++) grey[y * 9 + x] = x < 8 ? 40 : 200;
    write_jpeg("grey_9x7.jpg", grey, 9, 7, 1, JCS_GRAYSCALE, 1);

    /* cmyk_8x8.jpg: Adobe-style inverted CMYK (libjpeg writes the APP14 marker for CMYK), stored
       (200,100,50,220): RGB = stored*K/255 = (173,86,43). */
    static unsigned char cmyk[8 * 8 * 4];
    for (int i = 0; i < 64; i++) {
        cmyk[4 * i] = 200; cmyk[4 * i + 1] = 100; cmyk[4 * i + 2] = 50; cmyk[4 * i + 3] = 220;
    }
    write_jpeg("cmyk_8x8.jpg", cmyk, 8, 8, 4, JCS_CMYK, 0);
    return 0;
}
