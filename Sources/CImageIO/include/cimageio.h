// C shim around libpng and libjpeg-turbo.
//
// Both libraries report fatal errors by longjmp (libjpeg's default handler even calls exit()),
// and Swift cannot call setjmp. Every entry point here sets up its own jump buffer, so a corrupt
// or truncated file comes back as a non-zero return code with the library's message copied into
// `message`; nothing ever jumps across a Swift frame. All buffers handed out are malloc'd and
// released with `cimg_free`; on failure nothing is handed out and nothing leaks.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Size a caller should give to the message buffer of every function below.
#define CIMG_MESSAGE_CAPACITY 256

/// Return codes. `CIMG_OK` is success; every other value comes with a message.
enum {
    CIMG_OK = 0,
    CIMG_ERR_DECODE = 1,       ///< the library rejected the data (corrupt, truncated, unsupported)
    CIMG_ERR_TOO_LARGE = 2,    ///< declared width x height exceeds the caller's pixel limit
    CIMG_ERR_NO_MEMORY = 3,
    CIMG_ERR_ARGUMENT = 4,     ///< bad arguments from the caller (channel count, quality)
    CIMG_ERR_ENCODE = 5
};

/// A decoded image: 8-bit samples, row-major, channels interleaved (3 = RGB, 4 = RGBA).
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint8_t *pixels;   // width * height * channels bytes, release with cimg_free
} cimg_image;

/// Decodes a PNG held in memory to 8-bit RGB, or RGBA when the file carries alpha (an alpha
/// channel or a tRNS chunk). Conversions follow Pillow's `Image.open(p).convert("RGB"/"RGBA")`:
/// 16-bit samples keep their high byte, except 16-bit grayscale without alpha, which Pillow
/// opens as "I;16" and clamps to 255 (so it is returned as RGB of min(v, 255)); gray is
/// replicated to RGB; 1/2/4-bit gray is scaled to 0...255; palettes are expanded (tRNS gives alpha).
/// Gamma and colour-profile chunks are ignored, as Pillow does.
int cimg_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                    cimg_image *out, char *message, size_t message_capacity);

/// Encodes 8-bit RGB (channels 3) or RGBA (channels 4) as PNG at zlib level 6 (Pillow's default).
/// On success *out_data (release with cimg_free) holds *out_size bytes.
int cimg_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels,
                    uint8_t **out_data, size_t *out_size, char *message, size_t message_capacity);

/// Decodes a baseline or progressive JPEG to 8-bit RGB (grayscale is replicated to RGB).
/// CMYK/YCCK JPEGs are rejected. Scan data that ends early (end of file, or a marker such as EOI
/// before the last row) or is corrupt is an error, as in Pillow (which refuses truncated images
/// unless LOAD_TRUNCATED_IMAGES is set), not a grey-filled image.
/// Decoding uses libjpeg's defaults (islow IDCT, fancy upsampling), which are Pillow's.
int cimg_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                     cimg_image *out, char *message, size_t message_capacity);

/// Encodes 8-bit RGB as a baseline JFIF JPEG with the standard tables scaled to `quality`
/// (1...100) and 4:2:0 chroma subsampling, which is what Pillow's `save(..., quality=q)` writes.
int cimg_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int quality,
                     uint8_t **out_data, size_t *out_size, char *message, size_t message_capacity);

/// Releases a buffer handed out by this shim (NULL is fine).
void cimg_free(void *pointer);

#ifdef __cplusplus
}
#endif
