#!/usr/bin/env python3
"""Interop fixtures for lorweb's image code (PNG/JPEG decode, Pillow resize, CLIP preprocessing).

Writes Tests/Fixtures/images/: small PNGs in every layout Pillow reads, JPEGs, Pillow's decode of
each as .npy (uint8, H x W x C), Pillow `Image.resize` outputs for NEAREST / BILINEAR / BICUBIC over
several sizes and aspect ratios (up, down, non-integer ratios, RGB and RGBA), CLIP-preprocessed
tensors (.npy float32, [3, S, S]) from transformers' PIL CLIP image processor, and manifest.json
listing every case. The Swift tests (Tests/FormatsTests/Image*Tests.swift) read only these files,
so CI needs no Python.

Regenerate (from the repository root; needs Pillow, numpy, and transformers for the CLIP cases):

    python3 tools/make_image_fixtures.py

The output is deterministic for a given Pillow/libjpeg-turbo/transformers version; the versions
used are recorded in manifest.json. Keep the total under 2 MB (the script prints the size).
"""
import io
import json
import math
import os
import sys

import warnings

import numpy as np
import PIL
from PIL import Image, features

# Palette transparency as bytes is exactly the tRNS layout under test.
warnings.filterwarnings("ignore", message="Palette images with Transparency")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "images")


def smooth_rgb(width, height, seed, channels=3):
    """Gradients plus a little noise and a hard edge: exercises ringing/clipping in bicubic."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        127 + 120 * np.sin(x / max(width, 1) * 6.1 + seed),
        127 + 120 * np.cos(y / max(height, 1) * 4.3 + seed * 0.5),
        (x * 7 + y * 3) % 256,
        255 * ((x + 2 * y) / (width + 2 * height)),
    ]
    image = np.stack(planes[:channels], axis=-1)
    image += rng.normal(0, 12, image.shape)
    image[height // 3 : height // 2, width // 4 : width // 2, :3] = [255, 0, 30][: min(3, channels)]
    if channels == 4:
        image[..., 3] = np.clip(image[..., 3], 0, 255)
        image[: height // 5, :, 3] = 0            # fully transparent band
        image[-2:, :, 3] = 255
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def save_npy(name, array):
    np.save(os.path.join(ROOT, name), np.ascontiguousarray(array))


def pillow_rgb(path, mode="RGB"):
    with Image.open(path) as im:
        return np.asarray(im.convert(mode))


def png_cases(manifest):
    """One PNG per layout; expected = Pillow's Image.open(p).convert("RGB") (and "RGBA" with alpha)."""
    w, h = 13, 9
    base = smooth_rgb(w, h, 1, 4)
    gray = base[..., 0]
    gray16 = (gray.astype(np.uint32) * 257 + np.arange(w * h).reshape(h, w) * 3).astype(np.uint16)
    gray16[0, :4] = [0, 200, 255, 256]               # values around Pillow's clamp at 255
    rgb16 = (base[..., :3].astype(np.uint32) * 257 + 11).astype(np.uint16)
    rgba16 = (base.astype(np.uint32) * 257 + 7).astype(np.uint16)
    palette_indices = (np.arange(w * h).reshape(h, w) * 7 % 16).astype(np.uint8)
    palette = [(i * 16, 255 - i * 13, (i * 53) % 256) for i in range(16)]

    images = {}
    images["rgb8"] = Image.fromarray(base[..., :3])
    images["rgba8"] = Image.fromarray(base)
    images["gray8"] = Image.fromarray(gray)
    images["graya8"] = Image.fromarray(base[..., [0, 3]])
    images["gray1"] = Image.fromarray(gray > 128).convert("1")
    images["gray16"] = Image.fromarray(gray16)
    p = Image.fromarray(palette_indices)
    p.putpalette([c for rgb in palette for c in rgb])
    images["palette8"] = p
    pt = p.copy()
    pt.info["transparency"] = bytes([0, 128, 255, 30] + [255] * 12)
    images["palette8_trns"] = pt
    p4 = p.copy()
    images["palette4"] = p4

    files = {}
    for name, im in images.items():
        path = os.path.join(ROOT, f"png_{name}.png")
        kwargs = {}
        if name == "palette4":
            kwargs["bits"] = 4
        if name == "palette8_trns":
            kwargs["transparency"] = im.info["transparency"]
        im.save(path, "PNG", **kwargs)
        files[name] = path

    # 16-bit RGB/RGBA and gray+alpha 16 and interlaced: Pillow cannot write these, so encode by hand.
    files["rgb16"] = write_raw_png(os.path.join(ROOT, "png_rgb16.png"), rgb16, 16, 2)
    files["rgba16"] = write_raw_png(os.path.join(ROOT, "png_rgba16.png"), rgba16, 16, 6)
    graya16 = np.stack([gray16, rgba16[..., 3]], axis=-1)
    files["graya16"] = write_raw_png(os.path.join(ROOT, "png_graya16.png"), graya16, 16, 4)
    gray4 = (gray >> 4).astype(np.uint8)
    files["gray4"] = write_raw_png(os.path.join(ROOT, "png_gray4.png"), gray4, 4, 0)
    files["rgb8_trns"] = write_raw_png(os.path.join(ROOT, "png_rgb8_trns.png"), base[..., :3], 8, 2,
                                       trns=tuple(int(v) for v in base[0, 0, :3]))

    for name, path in sorted(files.items()):
        rgb = pillow_rgb(path, "RGB")
        save_npy(f"png_{name}.rgb.npy", rgb)
        entry = {"file": os.path.basename(path), "rgb": f"png_{name}.rgb.npy"}
        with Image.open(path) as im:
            has_alpha = "A" in im.getbands() or "transparency" in im.info
            entry["mode"] = im.mode
        if has_alpha and name != "gray16":
            save_npy(f"png_{name}.rgba.npy", pillow_rgb(path, "RGBA"))
            entry["rgba"] = f"png_{name}.rgba.npy"
        manifest["png"].append(entry)


def write_raw_png(path, array, depth, color_type, trns=None):
    """Minimal PNG writer for layouts Pillow cannot save (16-bit colour, 16-bit gray+alpha, 4-bit gray)."""
    import struct
    import zlib

    height, width = array.shape[:2]
    if depth == 16:
        rows = array.astype(">u2").reshape(height, -1).view(np.uint8).reshape(height, -1)
    elif depth == 4:
        padded = np.zeros((height, (width + 1) // 2 * 2), np.uint8)
        padded[:, :width] = array
        rows = (padded[:, 0::2] << 4) | padded[:, 1::2]
    else:
        rows = array.reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))
    if trns is not None:
        data += chunk(b"tRNS", struct.pack(">HHH", *trns))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)
    return path


def oversized_headers(manifest):
    """Headers declaring 60000 x 60000 pixels (3.6e9 > the 2^28 limit) with no pixel data:
    a reader must refuse them before allocating anything."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    chunk = lambda kind, payload: (struct.pack(">I", len(payload)) + kind + payload
                                   + struct.pack(">I", zlib.crc32(kind + payload)))
    with open(os.path.join(ROOT, "oversized.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                + chunk(b"IEND", b""))
    jpeg = bytearray(open(os.path.join(ROOT, "jpeg_q95.jpg"), "rb").read())
    sof = jpeg.index(b"\xff\xc0")                  # baseline frame header: length, precision, H, W
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    with open(os.path.join(ROOT, "oversized.jpg"), "wb") as f:
        f.write(jpeg)
    manifest["oversized"] = ["oversized.png", "oversized.jpg"]


def jpeg_cases(manifest):
    w, h = 37, 29
    rgb = smooth_rgb(w, h, 2)
    variants = {
        "baseline_q75": dict(quality=75),
        "q95": dict(quality=95),
        "progressive": dict(quality=90, progressive=True),
        "gray": dict(quality=90),
        "q95_444": dict(quality=95, subsampling=0),
    }
    for name, kwargs in variants.items():
        im = Image.fromarray(rgb)
        if name == "gray":
            im = im.convert("L")
        path = os.path.join(ROOT, f"jpeg_{name}.jpg")
        im.save(path, "JPEG", **kwargs)
        save_npy(f"jpeg_{name}.rgb.npy", pillow_rgb(path))
        manifest["jpeg"].append({"file": os.path.basename(path), "rgb": f"jpeg_{name}.rgb.npy"})
    # The source of q95, so the Swift encoder can be checked against Pillow's encoder.
    Image.fromarray(rgb).save(os.path.join(ROOT, "jpeg_source.png"))
    manifest["jpeg_encode"] = {"source": "jpeg_source.png", "quality": 95, "pillow": "jpeg_q95.rgb.npy"}


def resize_cases(manifest):
    sources = {
        "rgb_37x23": smooth_rgb(37, 23, 3),
        "rgb_20x50": smooth_rgb(20, 50, 4),
        "rgb_64x48": smooth_rgb(64, 48, 5),
        "rgba_31x27": smooth_rgb(31, 27, 6, 4),
    }
    targets = {
        "rgb_37x23": [(17, 11), (74, 46), (53, 31), (9, 23), (37, 40), (5, 3), (111, 23)],
        # (15, 40) ties Pillow 13's pass-order rule (horizontal first), (18, 45) goes vertical first.
        "rgb_20x50": [(13, 29), (33, 71), (20, 17), (7, 50), (1, 1), (15, 40), (18, 45)],
        "rgb_64x48": [(24, 24), (16, 12), (100, 75), (63, 47), (21, 48)],
        "rgba_31x27": [(14, 11), (50, 41), (31, 13)],
    }
    filters = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC}
    for name, array in sources.items():
        mode = "RGBA" if array.shape[2] == 4 else "RGB"
        source_file = f"resize_src_{name}.png"
        Image.fromarray(array).save(os.path.join(ROOT, source_file))
        for (tw, th) in targets[name]:
            for fname, f in filters.items():
                out = np.asarray(Image.fromarray(array).resize((tw, th), f))
                expected = f"resize_{name}_{fname}_{tw}x{th}.npy"
                save_npy(expected, out)
                manifest["resize"].append({"source": source_file, "filter": fname, "width": tw, "height": th,
                                           "expected": expected})


def composite_case(manifest):
    rgba = smooth_rgb(11, 7, 8, 4)
    Image.fromarray(rgba).save(os.path.join(ROOT, "composite_src.png"))
    background = Image.new("RGBA", (11, 7), (255, 255, 255, 255))
    out = np.asarray(Image.alpha_composite(background, Image.fromarray(rgba)).convert("RGB"))
    save_npy("composite_white.npy", out)
    manifest["composite"] = {"source": "composite_src.png", "expected": "composite_white.npy"}


def clip_cases(manifest):
    try:
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil as Processor
    except ImportError:  # transformers 4.x: the slow processor is the PIL one
        from transformers import CLIPImageProcessor as Processor
    import transformers

    manifest["versions"]["transformers"] = transformers.__version__
    sources = {"clip_src_wide.png": smooth_rgb(301, 227, 9), "clip_src_tall.png": smooth_rgb(150, 410, 10),
               "clip_src_small.png": smooth_rgb(40, 30, 11)}
    for file, array in sources.items():
        Image.fromarray(array).save(os.path.join(ROOT, file))
    # 224 (the released encoder) on one source only: each such tensor is 600 KB.
    for size, files in ((224, ["clip_src_wide.png"]), (32, list(sources)), (64, list(sources))):
        # As the release builds it: CLIPImageProcessor(size=image_size, crop_size=image_size).
        processor = Processor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
        for file in files:
            with Image.open(os.path.join(ROOT, file)) as im:
                values = processor(im.convert("RGB"), return_tensors="np")["pixel_values"][0]
            assert values.dtype == np.float32 and values.shape == (3, size, size)
            expected = file.replace(".png", f"_{size}.npy")
            save_npy(expected, values)
            manifest["clip"].append({"source": file, "size": size, "expected": expected})


def grid_cases(manifest):
    """The release's grid construction, restated with Pillow (inference.py
    process_control_image_with_replace; dataloader _create_box_analogy_image + bucket crop +
    load_control_image; flux_kontext.py get_external_query crops)."""
    B = Image.Resampling.BICUBIC
    a, ap, b = (Image.fromarray(smooth_rgb(w, h, s)) for w, h, s in ((37, 23, 12), (30, 20, 13), (41, 29, 14)))
    strip, bp = Image.fromarray(smooth_rgb(90, 25, 15)), Image.fromarray(smooth_rgb(33, 21, 16))
    for name, im in (("a", a), ("ap", ap), ("b", b), ("strip", strip), ("bp", bp)):
        im.save(os.path.join(ROOT, f"grid_{name}.png"))

    def conditioning(max_size):
        w, h = a.size
        grid = Image.new("RGB", (2 * w, 2 * h))
        grid.paste(a.resize((w, h), B), (0, 0))
        grid.paste(ap.resize((w, h), B), (w, 0))
        grid.paste(b.resize((w, h), B), (0, h))
        grid.paste(b.resize((w, h), B), (w, h))
        if max_size is not None and (2 * w > max_size or 2 * h > max_size):
            grid = grid.resize((max_size, int(h * max_size / w)) if w > h else (int(w * max_size / h), max_size), B)
        return grid

    cond = conditioning(None)
    save_npy("grid_conditioning.npy", np.asarray(cond))
    save_npy("grid_conditioning_max60.npy", np.asarray(conditioning(60)))

    # Training, full_size_control_images: target size = b' size.
    W, H = bp.size
    control = strip.resize((W * 3, H), B)
    parts = [control.crop((i * W, 0, (i + 1) * W, H)) for i in range(3)]
    grid = Image.new("RGB", (2 * W, 2 * H))
    for im, xy in ((parts[0], (0, 0)), (parts[1], (W, 0)), (parts[2], (0, H)), (bp, (W, H))):
        grid.paste(im.resize((W, H), B), xy)
    bucket_w, bucket_h = 64, 40
    scale = max(bucket_w / W, bucket_h / H)
    sw, sh = int(math.ceil(W * scale)), int(math.ceil(H * scale))
    cx, cy = int((sw - bucket_w) / 2), int((sh - bucket_h) / 2)
    fitted = np.asarray(grid.resize((sw, sh), B).crop((cx, cy, cx + bucket_w, cy + bucket_h)))
    masked = fitted.copy()
    masked[bucket_h // 2 :, bucket_w // 2 :] = masked[bucket_h // 2 :, : bucket_w // 2]
    save_npy("grid_training_target.npy", np.asarray(grid))
    save_npy("grid_training_target_bucket.npy", fitted)
    save_npy("grid_training_conditioning_bucket.npy", masked)

    # Query crops of the (non-square) conditioning grid.
    one = cond.size[0] // 2
    for name, box in (("a", (0, 0, one, one)), ("ap", (one, 0, cond.size[0], one)), ("b", (0, one, one, cond.size[1]))):
        save_npy(f"grid_query_inference_{name}.npy", np.asarray(cond.crop(box)))
    t = np.asarray(cond)
    one = t.shape[0] // 2
    for name, view in (("a", t[:one, :one]), ("ap", t[:one, one:]), ("b", t[one:, :one])):
        save_npy(f"grid_query_training_{name}.npy", view)
    manifest["grid"] = {"bucket": [bucket_w, bucket_h], "max_size": 60}


def main():
    os.makedirs(ROOT, exist_ok=True)
    for entry in os.listdir(ROOT):
        os.remove(os.path.join(ROOT, entry))
    manifest = {
        "versions": {"Pillow": PIL.__version__, "numpy": np.__version__,
                     "libjpeg_turbo": features.version("libjpeg_turbo")},
        "png": [], "jpeg": [], "resize": [], "clip": [],
    }
    png_cases(manifest)
    jpeg_cases(manifest)
    oversized_headers(manifest)
    resize_cases(manifest)
    composite_case(manifest)
    grid_cases(manifest)
    clip_cases(manifest)
    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(ROOT, e)) for e in os.listdir(ROOT))
    print(f"wrote {len(os.listdir(ROOT))} files, {total / 1024:.0f} KiB, to {os.path.normpath(ROOT)}")
    if total > 2 * 1024 * 1024:
        sys.exit("fixtures exceed 2 MB")


if __name__ == "__main__":
    main()
