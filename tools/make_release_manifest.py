#!/usr/bin/env python3
"""Manifest of the real Flux.1-Kontext-dev transformer and of the LoRWeB release's adapter file:
every parameter name and shape, from diffusers' config on the meta device (no weights).

    pip install torch diffusers
    python3 tools/make_release_manifest.py > Tests/Fixtures/manifests/flux1-kontext-dev.json

The adapter part follows the release: every Linear inside the 57 blocks carries lora_A [n,in,r],
lora_B [n,r,out], lora_keys [n,kdim] and att_lora_to_q.weight [kdim,qdim] under `transformer.`,
with n 32, r 4, kdim 128, qdim 3 x 768.
"""
import json

import torch
from diffusers import FluxTransformer2DModel

CONFIG = dict(patch_size=1, in_channels=64, out_channels=None, num_layers=19, num_single_layers=38,
              attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
              pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=[16, 56, 56])
N, R, KDIM, QDIM = 32, 4, 128, 3 * 768

with torch.device("meta"):
    model = FluxTransformer2DModel(**CONFIG)

params = {k: list(v.shape) for k, v in model.state_dict().items()}
adapter = {}
for name, mod in model.named_modules():
    if isinstance(mod, torch.nn.Linear) and name.split(".")[0] in ("transformer_blocks", "single_transformer_blocks"):
        p = "transformer." + name
        adapter[p + ".lora_A"] = [N, mod.in_features, R]
        adapter[p + ".lora_B"] = [N, R, mod.out_features]
        adapter[p + ".lora_keys"] = [N, KDIM]
        adapter[p + ".att_lora_to_q.weight"] = [KDIM, QDIM]

count = lambda d: sum(int(torch.tensor(s).prod()) for s in d.values())
print(json.dumps({
    "config": CONFIG,
    "adapter": {"n": N, "r": R, "kdim": KDIM, "qdim": QDIM, "layers": len(adapter) // 4, "parameters": count(adapter)},
    "transformer_parameters": count(params),
    "transformer": params,
    "adapter_tensors": adapter,
}, indent=1, sort_keys=True))
