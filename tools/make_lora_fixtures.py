#!/usr/bin/env python3
"""Ordinary LoRAs written by the real libraries on the shipped small-world base, for the tests
of `lorweb inspect` (Tests/Fixtures/lora/): a diffusers `save_lora_adapter` file and a PEFT
`save_pretrained` folder (with a rank_pattern, so its layers differ in rank).

    pip install torch diffusers peft
    python3 tools/make_lora_fixtures.py
"""
import os

import torch
from diffusers import FluxTransformer2DModel
from peft import LoraConfig, get_peft_model

ROOT = os.path.join(os.path.dirname(__file__), "..")
BASE = os.path.join(ROOT, "models", "small-world", "base")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "lora")


def main():
    torch.manual_seed(0)
    model = FluxTransformer2DModel.from_pretrained(BASE)
    model.add_adapter(LoraConfig(r=4, lora_alpha=8, init_lora_weights="gaussian",
                                 target_modules=["transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.attn.to_k"]))
    model.save_lora_adapter(os.path.join(OUT, "diffusers"))

    config = LoraConfig(r=6, lora_alpha=3, rank_pattern={"transformer_blocks.1.attn.to_v": 2},
                        target_modules=["transformer_blocks.0.attn.to_v", "transformer_blocks.1.attn.to_v"])
    peft = get_peft_model(FluxTransformer2DModel.from_pretrained(BASE), config)
    peft.save_pretrained(os.path.join(OUT, "peft"))
    os.remove(os.path.join(OUT, "peft", "README.md"))   # PEFT's model card template, not data
    print("wrote", OUT)


if __name__ == "__main__":
    main()
