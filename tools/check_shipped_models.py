#!/usr/bin/env python3
"""Reference outputs of the shipped small-world models, computed by the upstream libraries from
the folders lorweb wrote: proof that transformers / diffusers read them, and fixtures that the
Swift tests compare against (Tests/Fixtures/shipped/).

    pip install torch transformers diffusers numpy pillow
    python3 tools/check_shipped_models.py
"""
import os

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "shipped")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    from transformers import CLIPVisionModelWithProjection
    enc = CLIPVisionModelWithProjection.from_pretrained(os.path.join(ROOT, "models", "small-world", "encoder")).eval()
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        embeds = enc(pixel_values=pixels).image_embeds
    np.save(os.path.join(OUT, "encoder_pixels.npy"), pixels.numpy())
    np.save(os.path.join(OUT, "encoder_embeds.npy"), embeds.numpy())
    print("encoder: transformers output", tuple(embeds.shape))

    # The folder's preprocessor_config.json: AutoImageProcessor + the model from the folder alone,
    # on a shipped example, is what lorweb's ImageEncoder must reproduce.
    from PIL import Image
    from transformers import AutoImageProcessor
    processor = AutoImageProcessor.from_pretrained(os.path.join(ROOT, "models", "small-world", "encoder"))
    example = Image.open(os.path.join(ROOT, "models", "small-world", "examples", "seen_000000_a.png"))
    example_pixels = processor(images=example, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        example_embeds = enc(pixel_values=example_pixels).image_embeds
    np.save(os.path.join(OUT, "encoder_example_pixels.npy"), example_pixels.numpy())
    np.save(os.path.join(OUT, "encoder_example_embeds.npy"), example_embeds.numpy())
    print("encoder: AutoImageProcessor", type(processor).__name__, tuple(example_pixels.shape))

    base_dir = os.path.join(ROOT, "models", "small-world", "base")
    if os.path.exists(os.path.join(base_dir, "config.json")):
        from diffusers import FluxTransformer2DModel
        base = FluxTransformer2DModel.from_pretrained(base_dir).eval()
        b, t, s = 1, 16, 8
        hidden = torch.randn(b, 2 * s, base.config.in_channels)
        ids = torch.tensor([[f, i, j] for f in (0, 1) for i in range(2) for j in range(4)], dtype=torch.float32)
        inputs = dict(hidden_states=hidden, encoder_hidden_states=torch.randn(b, t, base.config.joint_attention_dim),
                      pooled_projections=torch.randn(b, base.config.pooled_projection_dim), timestep=torch.tensor([0.4]),
                      guidance=torch.tensor([1.0]), img_ids=ids, txt_ids=torch.zeros(t, 3))
        with torch.no_grad():
            sample = base(**inputs, return_dict=False)[0]
        for k, v in inputs.items():
            np.save(os.path.join(OUT, f"base_{k}.npy"), v.numpy())
        np.save(os.path.join(OUT, "base_sample.npy"), sample.numpy())
        print("base: diffusers output", tuple(sample.shape))


if __name__ == "__main__":
    main()
