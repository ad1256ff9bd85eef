#!/usr/bin/env python3
"""The fixture of `lorweb coeffs --clip` on the authors' adapter layout: a tiny random CLIP
vision model saved as a Hugging Face folder, and the coefficients that transformers' CLIP plus
the release's formula give for the shipped example triplets under the tiny adapter file in the
release's layout (Tests/Fixtures/formats/adapter_tiny.safetensors, its config.yaml beside it).

    pip install torch transformers safetensors Pillow
    python3 tools/make_release_coeffs_fixture.py [--out Tests/Fixtures/release-coeffs]

Writes clip/ (config.json, model.safetensors) and expected.safetensors: for every adapted layer
(key = the layer name lorweb prints, without `transformer.`), [triplets, n] float32 in the order
of triplets.txt. Run by developers, not by CI.
"""
import argparse
import math
import os

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAPTER = os.path.join(ROOT, "Tests", "Fixtures", "formats", "adapter_tiny.safetensors")
EXAMPLES = os.path.join(ROOT, "models", "small-world", "examples")
TRIPLETS = ["seen_000000", "seen_000005", "unseen_000001"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.path.join(ROOT, "Tests", "Fixtures", "release-coeffs"))
    out = p.parse_args().out
    torch.manual_seed(0)
    # projection_dim 4: the tiny adapter's query is 3 x 4 = 12 values ("cat-aa'b").
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, projection_dim=4, num_hidden_layers=2, num_attention_heads=4,
                              image_size=16, patch_size=4, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    model = CLIPVisionModelWithProjection(config).float().eval()
    with torch.no_grad():
        for p_ in model.parameters():
            p_.copy_(torch.randn(p_.shape) * 0.2)
    model.save_pretrained(os.path.join(out, "clip"), safe_serialization=True)
    processor = CLIPImageProcessor(do_resize=True, size={"shortest_edge": 16}, do_center_crop=True, crop_size=16, resample=3,
                                   image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])
    # The example images are square and of one size, so the inference grid's quadrant crops are
    # the images themselves.
    queries = []
    for t in TRIPLETS:
        images = [Image.open(os.path.join(EXAMPLES, f"{t}_{s}.png")).convert("RGB") for s in ("a", "ap", "b")]
        with torch.no_grad():
            e = model(**processor(images=images, return_tensors="pt")).image_embeds.double()
        queries.append(e.reshape(-1))
    q = torch.stack(queries)                                           # [T, 12]
    f = safe_open(ADAPTER, "pt")
    expected = {}
    for key in f.keys():
        if not key.endswith(".lora_keys"):
            continue
        layer = key[: -len(".lora_keys")]
        keys = f.get_tensor(key).double()                              # [n, kdim]
        to_q = f.get_tensor(layer + ".att_lora_to_q.weight").double()  # [kdim, qdim]
        logits = (q @ to_q.T) @ keys.T / math.sqrt(keys.shape[1])       # heads 1, softmax, mean (config.yaml)
        expected[layer.removeprefix("transformer.")] = logits.softmax(-1).float().contiguous()
    save_file(expected, os.path.join(out, "expected.safetensors"))
    with open(os.path.join(out, "triplets.txt"), "w") as fh:
        fh.write("\n".join(TRIPLETS) + "\n")
    print(f"wrote {out}: {len(expected)} layers x {len(TRIPLETS)} triplets")


if __name__ == "__main__":
    main()
