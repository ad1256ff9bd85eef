#!/usr/bin/env python3
"""A stand-in for the LoRWeB release checkpoint: same keys, shapes and dtype, random values.

The real adapter (GitHub orincolor/LoRWeB) is 1.67 GB of float16: 494 adapted Linear layers of
Flux-Kontext (19 double blocks x 14 + 38 single blocks x 6), each with
  lora_A [n, in, r], lora_B [n, r, out], lora_keys [n, kdim], att_lora_to_q.weight [kdim, qdim]
for n 32, r 4, kdim 128, qdim 2304: 835,051,520 parameters. Used to time `lorweb inspect` and
loading on a file of realistic size; never commit the output.

    python3 tools/make_release_layout.py [OUT]          # default /tmp/lorweb-release-layout.safetensors
    swift build -c release && /usr/bin/time -v .build/release/lorweb inspect OUT

Tensors are streamed to disk one at a time (peak memory is one tensor, not the file), then the
result is opened with the safetensors library to prove it is a valid file.
"""
import json
import sys

import numpy as np
from safetensors import safe_open

N, R, KDIM, QDIM = 32, 4, 128, 2304
HIDDEN, MLP = 3072, 12288

DOUBLE = {  # layer -> (in, out), diffusers FluxTransformerBlock
    "attn.to_q": (HIDDEN, HIDDEN), "attn.to_k": (HIDDEN, HIDDEN), "attn.to_v": (HIDDEN, HIDDEN),
    "attn.to_out.0": (HIDDEN, HIDDEN), "attn.add_q_proj": (HIDDEN, HIDDEN), "attn.add_k_proj": (HIDDEN, HIDDEN),
    "attn.add_v_proj": (HIDDEN, HIDDEN), "attn.to_add_out": (HIDDEN, HIDDEN),
    "ff.net.0.proj": (HIDDEN, MLP), "ff.net.2": (MLP, HIDDEN),
    "ff_context.net.0.proj": (HIDDEN, MLP), "ff_context.net.2": (MLP, HIDDEN),
    "norm1.linear": (HIDDEN, 6 * HIDDEN), "norm1_context.linear": (HIDDEN, 6 * HIDDEN),
}
SINGLE = {  # layer -> (in, out), diffusers FluxSingleTransformerBlock
    "attn.to_q": (HIDDEN, HIDDEN), "attn.to_k": (HIDDEN, HIDDEN), "attn.to_v": (HIDDEN, HIDDEN),
    "proj_mlp": (HIDDEN, MLP), "proj_out": (HIDDEN + MLP, HIDDEN), "norm.linear": (HIDDEN, 3 * HIDDEN),
}


def layout():
    """Sorted list of (key, shape, std) in the release's spelling."""
    layers = [(f"transformer_blocks.{b}.{name}", io) for b in range(19) for name, io in DOUBLE.items()]
    layers += [(f"single_transformer_blocks.{b}.{name}", io) for b in range(38) for name, io in SINGLE.items()]
    assert len(layers) == 494
    out = []
    for layer, (fan_in, fan_out) in layers:
        p = f"transformer.{layer}."
        out += [(p + "lora_A", [N, fan_in, R], 1 / np.sqrt(3 * fan_in * R)),
                (p + "lora_B", [N, R, fan_out], 0.01),
                (p + "lora_keys", [N, KDIM], 1.0),
                (p + "att_lora_to_q.weight", [KDIM, QDIM], 1 / np.sqrt(3 * QDIM))]
    return sorted(out)


def main(path):
    tensors = layout()
    header, offset = {"__metadata__": {"format": "pt", "generator": "tools/make_release_layout.py"}}, 0
    for key, shape, _ in tensors:
        size = int(np.prod(shape)) * 2
        header[key] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data section 8-byte aligned, as the HF writer does
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for key, shape, std in tensors:
            f.write((rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float16).tobytes())
    with safe_open(path, framework="numpy") as f:
        params = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())
    assert params == 835_051_520, params
    print(f"wrote {path}: {len(tensors)} tensors, {params:,} parameters, {8 + len(text) + offset:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lorweb-release-layout.safetensors")
