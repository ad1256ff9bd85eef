#!/usr/bin/env python3
"""Rewrites a safetensors file with every F32 tensor stored as F16 (metadata kept), as the release
stores its adapters; used to ship models/small-world/{lorweb,single-lora}/adapters.safetensors.

    python3 tools/models/to_float16.py RUN/adapters.safetensors
"""
import json
import os
import struct
import sys

import numpy as np


def convert(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out_header, blobs, offset = {}, [], 0
    for name, info in header.items():
        if name == "__metadata__":
            out_header[name] = info
            continue
        start, end = info["data_offsets"]
        blob = data[start:end]
        dtype = info["dtype"]
        if dtype == "F32":
            blob = np.frombuffer(blob, dtype="<f4").astype("<f2").tobytes()
            dtype = "F16"
        out_header[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        convert(p)
