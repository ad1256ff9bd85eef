#!/usr/bin/env python3
"""export-lora output through the real clients, on the shipped small-world run and base: a
diffusers file (transformer.load_lora_adapter, reading its lora_adapter_metadata) and a PEFT
folder (PeftModel.from_pretrained) must both load and fuse into the same weights.

    pip install torch diffusers peft safetensors
    python3 tools/models/check_export_lora.py [path/to/lorweb]
"""
import os
import subprocess
import sys
import tempfile

import torch
from diffusers import FluxTransformer2DModel
from peft import PeftModel
from safetensors import safe_open

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
BASE = os.path.join(ROOT, "models", "small-world", "base")
RUN = os.path.join(ROOT, "models", "small-world", "lorweb")


def export(lorweb, out, *extra):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    subprocess.run([lorweb, "export-lora", "--model", RUN, "--coeffs", "uniform", "--out", out, *extra],
                   check=True, env=env, stderr=subprocess.DEVNULL)


def fused_diffusers(path):
    model = FluxTransformer2DModel.from_pretrained(BASE).eval()
    model.load_lora_adapter(path, prefix="transformer", adapter_name="export")
    r = model.peft_config["export"].r
    model.fuse_lora()
    model.unload_lora()
    return model.state_dict(), r


def fused_peft(folder):
    model = PeftModel.from_pretrained(FluxTransformer2DModel.from_pretrained(BASE).eval(), folder)
    return model.merge_and_unload().state_dict(), model.peft_config["default"].r


def main():
    lorweb = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "release", "lorweb")
    base = FluxTransformer2DModel.from_pretrained(BASE).state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        for rank, dtype in [(None, "f32"), (3, "f32"), (None, "bf16")]:
            extra = (["--rank", str(rank)] if rank else []) + ["--dtype", dtype]
            export(lorweb, f"{tmp}/lora.safetensors", "--peft", f"{tmp}/peft", *extra)
            with safe_open(f"{tmp}/lora.safetensors", "pt") as f:
                recorded = f.metadata()["rank"]
            a, ra = fused_diffusers(f"{tmp}/lora.safetensors")
            b, rb = fused_peft(f"{tmp}/peft")
            changed = sum(not torch.equal(base[k], a[k]) for k in base)
            diff = max((a[k].float() - b[k].float()).abs().max().item() for k in base)
            print(f"rank {rank or 'full'} {dtype}: config r {ra} (diffusers) / {rb} (PEFT), recorded {recorded}; "
                  f"{changed} weights changed; max |diffusers - PEFT| fused = {diff:.3g}")
            assert ra == rb == int(recorded) and changed == 52 and diff < 1e-5


if __name__ == "__main__":
    main()
