// C shim around libpng and libjpeg-turbo: the only place in lorweb where setjmp/longjmp happen.
//
// Pattern used by every function: allocate what the error path must release *before* setjmp
// (or keep it in `volatile` pointers / heap structs), so that after a longjmp the cleanup sees
// the current values. Library-owned state is released with the library's destroy call.
#include <setjmp.h>
#include <stdio.h>   // jpeglib.h needs FILE declared before it
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "cimageio.h"

static void copy_message(char *message, size_t capacity, const char *text) {
    if (message != NULL && capacity > 0) {
        snprintf(message, capacity, "%s", text);
    }
}

void cimg_free(void *pointer) { free(pointer); }

// MARK: - PNG

/// Where libpng's error callback leaves its message. Passed as libpng's error pointer.
typedef struct {
    char *message;
    size_t capacity;
} png_message_sink;

static void png_fail(png_structp png, png_const_charp text) {
    png_message_sink *sink = (png_message_sink *)png_get_error_ptr(png);
    copy_message(sink->message, sink->capacity, text);
    png_longjmp(png, 1);
}

// Warnings (bad ancillary chunks, known-incorrect sRGB profiles) do not stop Pillow either;
// libpng's default would print them to stderr.
static void png_ignore_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
} png_memory_source;

static void png_read_memory(png_structp png, png_bytep destination, size_t count) {
    png_memory_source *source = (png_memory_source *)png_get_io_ptr(png);
    if (count > source->size - source->position) {
        png_error(png, "file is truncated");
    }
    memcpy(destination, source->data + source->position, count);
    source->position += count;
}

int cimg_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                    cimg_image *out, char *message, size_t message_capacity) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        copy_message(message, message_capacity, "not a PNG file (bad signature)");
        return CIMG_ERR_DECODE;
    }
    png_message_sink sink = {message, message_capacity};
    png_memory_source source = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, png_fail, png_ignore_warning);
    if (png == NULL) {
        copy_message(message, message_capacity, "out of memory");
        return CIMG_ERR_NO_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        copy_message(message, message_capacity, "out of memory");
        return CIMG_ERR_NO_MEMORY;
    }

    // Assigned after setjmp, read on the error path: volatile keeps their values across longjmp.
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile wide = NULL;        // 16-bit gray samples before clamping
    png_bytep *volatile rows = NULL;
    volatile int code = CIMG_ERR_DECODE;

    if (setjmp(png_jmpbuf(png))) {
        goto fail;
    }
    png_set_read_fn(png, &source, png_read_memory);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color_type, NULL, NULL, NULL);
    if ((uint64_t)width * height > max_pixels) {
        snprintf(message, message_capacity, "image of %ux%u pixels exceeds the limit of %llu pixels",
                 (unsigned)width, (unsigned)height, (unsigned long long)max_pixels);
        code = CIMG_ERR_TOO_LARGE;
        goto fail;
    }

    // Pillow opens 16-bit gray as "I;16" and its RGB conversion clamps each sample to 255
    // instead of scaling, so that one case is read at full depth and clamped below.
    // Every other 16-bit layout is unpacked by Pillow to its high byte: png_set_strip_16.
    const int gray16 = (color_type == PNG_COLOR_TYPE_GRAY && depth == 16);
    uint32_t channels = 3;
    if (!gray16) {
        png_set_strip_16(png);
        png_set_expand(png);                       // palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha
        if ((color_type & PNG_COLOR_MASK_COLOR) == 0) {
            png_set_gray_to_rgb(png);
        }
        if ((color_type & PNG_COLOR_MASK_ALPHA) != 0 || png_get_valid(png, info, PNG_INFO_tRNS)) {
            channels = 4;
        }
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const size_t row_bytes = png_get_rowbytes(png, info);
    const size_t expected = gray16 ? (size_t)width * 2 : (size_t)width * channels;
    if (row_bytes != expected) {
        copy_message(message, message_capacity, "unsupported PNG layout");
        goto fail;
    }
    pixels = malloc((size_t)width * height * channels);
    rows = malloc(sizeof(png_bytep) * height);
    if (gray16) {
        wide = malloc(row_bytes * height);
    }
    if (pixels == NULL || rows == NULL || (gray16 && wide == NULL)) {
        copy_message(message, message_capacity, "out of memory");
        code = CIMG_ERR_NO_MEMORY;
        goto fail;
    }
    uint8_t *target = gray16 ? wide : pixels;
    for (png_uint_32 y = 0; y < height; y++) {
        rows[y] = target + (size_t)y * row_bytes;
    }
    png_read_image(png, rows);

    if (gray16) {
        // Big-endian samples; anything above 255 saturates (Pillow's I;16 -> RGB).
        const size_t count = (size_t)width * height;
        const uint8_t *samples = wide;
        uint8_t *rgb = pixels;
        for (size_t i = 0; i < count; i++) {
            const uint8_t value = samples[2 * i] != 0 ? 255 : samples[2 * i + 1];
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = value;
        }
    }

    free(wide);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->pixels = pixels;
    return CIMG_OK;

fail:
    free(pixels);
    free(wide);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return code;
}

/// Growable output buffer. Lives on the heap so that its fields, changed inside library
/// callbacks, are still valid on the longjmp error path.
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} memory_buffer;

static int memory_buffer_reserve(memory_buffer *buffer, size_t extra) {
    if (buffer->capacity - buffer->size >= extra) {
        return 1;
    }
    size_t capacity = buffer->capacity > 0 ? buffer->capacity : 65536;
    while (capacity - buffer->size < extra) {
        capacity *= 2;
    }
    uint8_t *grown = realloc(buffer->data, capacity);
    if (grown == NULL) {
        return 0;
    }
    buffer->data = grown;
    buffer->capacity = capacity;
    return 1;
}

static void png_write_memory(png_structp png, png_bytep bytes, size_t count) {
    memory_buffer *buffer = (memory_buffer *)png_get_io_ptr(png);
    if (!memory_buffer_reserve(buffer, count)) {
        png_error(png, "out of memory");
    }
    memcpy(buffer->data + buffer->size, bytes, count);
    buffer->size += count;
}

static void png_flush_memory(png_structp png) { (void)png; }

int cimg_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels,
                    uint8_t **out_data, size_t *out_size, char *message, size_t message_capacity) {
    *out_data = NULL;
    *out_size = 0;
    if ((channels != 3 && channels != 4) || width == 0 || height == 0) {
        copy_message(message, message_capacity, "PNG encoding needs a non-empty RGB or RGBA image");
        return CIMG_ERR_ARGUMENT;
    }
    png_message_sink sink = {message, message_capacity};
    memory_buffer *buffer = calloc(1, sizeof *buffer);
    png_bytep *rows = malloc(sizeof(png_bytep) * height);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_fail, png_ignore_warning);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (buffer == NULL || rows == NULL || png == NULL || info == NULL) {
        copy_message(message, message_capacity, "out of memory");
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(buffer);
        return CIMG_ERR_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(buffer->data);
        free(buffer);
        return CIMG_ERR_ENCODE;
    }
    png_set_write_fn(png, buffer, png_write_memory, png_flush_memory);
    png_set_IHDR(png, info, width, height, 8, channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    const size_t stride = (size_t)width * channels;
    for (uint32_t y = 0; y < height; y++) {
        rows[y] = (png_bytep)(pixels + (size_t)y * stride);   // libpng does not write through rows
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);

    png_destroy_write_struct(&png, &info);
    free(rows);
    *out_data = buffer->data;
    *out_size = buffer->size;
    free(buffer);
    return CIMG_OK;
}

// MARK: - JPEG

/// libjpeg error manager extended with a jump target and the caller's message buffer.
typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char *message;
    size_t capacity;
} jpeg_failure;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_failure *failure = (jpeg_failure *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    copy_message(failure->message, failure->capacity, text);
    longjmp(failure->jump, 1);
}

// libjpeg reports scan data that ends early or cannot be decoded as a warning and pads the
// image with grey: a 633-byte file declaring 16384x16384 with no scan data would decode to 800 MB
// of grey. Pillow refuses a truncated file ("image file is truncated"), so every warning about
// missing or corrupt scan data is fatal here. Extraneous bytes before a marker leave the scan
// whole and stay ignored, as Pillow ignores them.
static void jpeg_message(j_common_ptr cinfo, int level) {
    if (level >= 0) {
        return;
    }
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        jpeg_fail(cinfo);
    default:
        break;
    }
}

static void jpeg_install_failure(jpeg_failure *failure, char *message, size_t capacity) {
    jpeg_std_error(&failure->manager);
    failure->manager.error_exit = jpeg_fail;
    failure->manager.emit_message = jpeg_message;
    failure->message = message;
    failure->capacity = capacity;
}

int cimg_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                     cimg_image *out, char *message, size_t message_capacity) {
    memset(out, 0, sizeof *out);
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    jpeg_install_failure(&failure, message, message_capacity);
    cinfo.err = &failure.manager;
    uint8_t *volatile pixels = NULL;
    volatile int code = CIMG_ERR_DECODE;
    if (setjmp(failure.jump)) {
        goto fail;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    if ((uint64_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(message, message_capacity, "image of %ux%u pixels exceeds the limit of %llu pixels",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, (unsigned long long)max_pixels);
        code = CIMG_ERR_TOO_LARGE;
        goto fail;
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        copy_message(message, message_capacity, "CMYK JPEG is not supported");
        goto fail;
    }
    cinfo.out_color_space = JCS_RGB;   // also expands grayscale to RGB
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3) {
        copy_message(message, message_capacity, "unsupported JPEG colour layout");
        goto fail;
    }
    const size_t stride = (size_t)cinfo.output_width * 3;
    pixels = malloc(stride * cinfo.output_height);
    if (pixels == NULL) {
        copy_message(message, message_capacity, "out of memory");
        code = CIMG_ERR_NO_MEMORY;
        goto fail;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    // No jpeg_finish_decompress: all pixels are in, and a missing EOI marker after complete
    // scan data should not fail the read (Pillow accepts it too).
    out->width = cinfo.output_width;
    out->height = cinfo.output_height;
    out->channels = 3;
    out->pixels = pixels;
    jpeg_destroy_decompress(&cinfo);
    return CIMG_OK;

fail:
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    return code;
}

/// Destination manager writing into a heap `memory_buffer`.
typedef struct {
    struct jpeg_destination_mgr manager;
    memory_buffer *buffer;
} jpeg_memory_destination;

static void jpeg_destination_init(j_compress_ptr cinfo) {
    jpeg_memory_destination *destination = (jpeg_memory_destination *)cinfo->dest;
    if (!memory_buffer_reserve(destination->buffer, 65536)) {
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    }
    destination->manager.next_output_byte = destination->buffer->data;
    destination->manager.free_in_buffer = destination->buffer->capacity;
}

static boolean jpeg_destination_grow(j_compress_ptr cinfo) {
    jpeg_memory_destination *destination = (jpeg_memory_destination *)cinfo->dest;
    memory_buffer *buffer = destination->buffer;
    buffer->size = buffer->capacity;   // libjpeg hands over a completely filled buffer
    if (!memory_buffer_reserve(buffer, buffer->capacity)) {
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    }
    destination->manager.next_output_byte = buffer->data + buffer->size;
    destination->manager.free_in_buffer = buffer->capacity - buffer->size;
    return TRUE;
}

static void jpeg_destination_term(j_compress_ptr cinfo) {
    jpeg_memory_destination *destination = (jpeg_memory_destination *)cinfo->dest;
    destination->buffer->size = destination->buffer->capacity - destination->manager.free_in_buffer;
}

int cimg_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int quality,
                     uint8_t **out_data, size_t *out_size, char *message, size_t message_capacity) {
    *out_data = NULL;
    *out_size = 0;
    if (quality < 1 || quality > 100 || width == 0 || height == 0) {
        copy_message(message, message_capacity, "JPEG encoding needs a non-empty image and quality 1...100");
        return CIMG_ERR_ARGUMENT;
    }
    memory_buffer *buffer = calloc(1, sizeof *buffer);
    if (buffer == NULL) {
        copy_message(message, message_capacity, "out of memory");
        return CIMG_ERR_NO_MEMORY;
    }
    struct jpeg_compress_struct cinfo;
    jpeg_failure failure;
    jpeg_install_failure(&failure, message, message_capacity);
    cinfo.err = &failure.manager;
    jpeg_memory_destination destination;
    if (setjmp(failure.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer->data);
        free(buffer);
        return CIMG_ERR_ENCODE;
    }
    jpeg_create_compress(&cinfo);
    destination.manager.init_destination = jpeg_destination_init;
    destination.manager.empty_output_buffer = jpeg_destination_grow;
    destination.manager.term_destination = jpeg_destination_term;
    destination.buffer = buffer;
    cinfo.dest = &destination.manager;

    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);                 // YCbCr, 2x2 luma sampling = 4:2:0, islow DCT
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    const size_t stride = (size_t)width * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out_data = buffer->data;
    *out_size = buffer->size;
    free(buffer);
    return CIMG_OK;
}
