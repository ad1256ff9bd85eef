#!/usr/bin/env python3
"""Parity fixtures: random tiny configurations of every model lorweb implements, run through the
reference libraries (diffusers, transformers, PyTorch), written as fixture folders that the Swift
parity tests replay.

    pip install torch diffusers transformers safetensors
    python3 tools/make_parity_fixtures.py [--out Tests/Fixtures/parity]

Each folder holds config.json ({"model": KIND, "config": {upstream constructor args}, ...}),
weights.safetensors (upstream key names, float32), inputs.safetensors and expected.safetensors.
EVERY parameter is re-initialised with N(0, 0.05): diffusers zero-initialises some output layers,
and a zero layer hides bugs. Run by developers, not by CI.
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

STD = 0.05


def reinit(module, gen):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * STD)


def write(out, name, kind, config, model_state, inputs, expected, extra=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    meta = {"model": kind, "config": config, "seed": 0,
            "versions": {"torch": torch.__version__}}
    if extra:
        meta.update(extra)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    c = lambda t: {k: v.detach().float().contiguous() for k, v in t.items()}
    save_file(c(model_state), os.path.join(d, "weights.safetensors"))
    save_file(c(inputs), os.path.join(d, "inputs.safetensors"))
    save_file(c(expected), os.path.join(d, "expected.safetensors"))
    print(f"wrote {d}: {len(model_state)} weights, outputs {[tuple(v.shape) for v in expected.values()]}")


# ---------------------------------------------------------------------------------------------
# The LoRWeB adapter, transcribed from the formula (lorweb-reference.md), not from lorweb's code.

def lorweb_coeffs(query, to_q_weight, keys, heads, softmax, mixing):
    q = query @ to_q_weight.T                                # [B, kdim]
    B, kdim = q.shape
    n = keys.shape[0]
    dh = kdim // heads
    qh = q.view(B, heads, dh)
    kh = keys.view(n, heads, dh)
    logits = torch.einsum("bhd,nhd->bhn", qh, kh) * dh ** -0.5
    per_head = logits.softmax(-1) if softmax else logits.tanh()
    if mixing == "mean":
        return per_head.mean(1)
    return per_head.sum(1).clamp(min=0 if softmax else -1, max=1)


def lorweb_delta(x, coeffs, A, Bm, scale):
    if x.dim() == 2:
        return torch.einsum("bi,nir,bn,nro->bo", x, A, coeffs, Bm) * scale
    return torch.einsum("bsi,nir,bn,nro->bso", x, A, coeffs, Bm) * scale


def make_lorweb_linear(out, name, gen, heads, softmax, mixing, n=5, r=3, inf=7, outf=6, kdim=8, qdim=9, scale=1.0, twod=False):
    W = torch.randn(outf, inf, generator=gen) * STD * 4
    b = torch.randn(outf, generator=gen) * STD
    A = torch.randn(n, inf, r, generator=gen) * 0.3
    Bm = torch.randn(n, r, outf, generator=gen) * 0.3
    keys = torch.randn(n, kdim, generator=gen)
    to_q = torch.randn(kdim, qdim, generator=gen) * 0.3
    x = torch.randn(*((2, inf) if twod else (2, 4, inf)), generator=gen)
    query = torch.randn(2, qdim, generator=gen)
    coeffs = lorweb_coeffs(query, to_q, keys, heads, softmax, mixing)
    y = F.linear(x, W, b) + lorweb_delta(x, coeffs, A, Bm, scale)
    config = {"n": n, "r": r, "lora_alpha": scale * r, "heads": heads, "softmax": softmax, "mixing": mixing}
    weights = {"base.weight": W, "base.bias": b, "lora_A": A, "lora_B": Bm, "lora_keys": keys, "to_q.weight": to_q}
    write(out, name, "lorweb-linear", config, weights, {"x": x, "query": query}, {"y": y, "coeffs": coeffs})


# ---------------------------------------------------------------------------------------------
# diffusers FluxTransformer2DModel

def kontext_ids(h, w):
    """Target tokens (first coordinate 0) then context tokens (first coordinate 1), row-major (h, w)."""
    ids = []
    for first in (0, 1):
        for i in range(h):
            for j in range(w):
                ids.append([first, i, j])
    return torch.tensor(ids, dtype=torch.float32)


def make_flux(out, name, gen, config, adapter=None, grad=False):
    from diffusers import FluxTransformer2DModel
    model = FluxTransformer2DModel(**config).float().eval()
    reinit(model, gen)
    B, T, h, w = 2, 5, 2, 3
    S = 2 * h * w
    inputs = {
        "hidden_states": torch.randn(B, S, config["in_channels"], generator=gen),
        "encoder_hidden_states": torch.randn(B, T, config["joint_attention_dim"], generator=gen),
        "pooled_projections": torch.randn(B, config["pooled_projection_dim"], generator=gen),
        "timestep": torch.tensor([0.3, 0.85]),
        "img_ids": kontext_ids(h, w),
        "txt_ids": torch.zeros(T, 3),
    }
    if config.get("guidance_embeds"):
        inputs["guidance"] = torch.tensor([3.5, 1.0])
    state = dict(model.state_dict())
    extra = {}
    adapter_params = {}
    if adapter:
        inner = config["num_attention_heads"] * config["attention_head_dim"]
        qdim, n, r, kdim = adapter["qdim"], adapter["n"], adapter["r"], adapter["kdim"]
        query = torch.randn(B, qdim, generator=gen)
        inputs["query"] = query
        for mod_name, mod in model.named_modules():
            if not isinstance(mod, torch.nn.Linear):
                continue
            in_block = mod_name.startswith("transformer_blocks.") or mod_name.startswith("single_transformer_blocks.")
            if not in_block:
                continue
            A = (torch.randn(n, mod.in_features, r, generator=gen) * STD * 2).requires_grad_(grad)
            Bm = (torch.randn(n, r, mod.out_features, generator=gen) * STD * 2).requires_grad_(grad)
            keys = torch.randn(n, kdim, generator=gen).requires_grad_(grad)
            to_q = (torch.randn(kdim, qdim, generator=gen) * STD * 2).requires_grad_(grad)
            for k, v in (("lora_A", A), ("lora_B", Bm), ("lora_keys", keys), ("att_lora_to_q.weight", to_q)):
                adapter_params[f"{mod_name}.{k}"] = v

            def forward(x, mod=mod, A=A, Bm=Bm, keys=keys, to_q=to_q):
                coeffs = lorweb_coeffs(query, to_q, keys, adapter["heads"], adapter["softmax"], adapter["mixing"])
                return F.linear(x, mod.weight, mod.bias) + lorweb_delta(x, coeffs, A, Bm, adapter["scale"])
            mod.forward = forward
        extra["adapter"] = adapter
        extra["adapted_layers"] = len(adapter_params) // 4
    kwargs = {k: v for k, v in inputs.items() if k != "query"}
    if grad:
        sample = model(**kwargs, return_dict=False)[0]
        grad_output = torch.randn(sample.shape, generator=gen)
        (sample * grad_output).sum().backward()
        inputs["grad_output"] = grad_output
        expected = {"sample": sample.detach()}
        for k, v in adapter_params.items():
            expected[f"grad.{k}"] = v.grad
    else:
        with torch.no_grad():
            sample = model(**kwargs, return_dict=False)[0]
        expected = {"sample": sample}
    state.update({k: v.detach() for k, v in adapter_params.items()})
    write(out, name, "flux-transformer", config, state, inputs, expected, extra)


# ---------------------------------------------------------------------------------------------
# transformers CLIPVisionModelWithProjection

def make_clip(out, name, gen, config):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    model = CLIPVisionModelWithProjection(CLIPVisionConfig(**config)).float().eval()
    reinit(model, gen)
    pixels = torch.randn(2, 3, config["image_size"], config["image_size"], generator=gen)
    with torch.no_grad():
        o = model(pixel_values=pixels)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    write(out, name, "clip-vision", config, state, {"pixel_values": pixels},
          {"image_embeds": o.image_embeds, "last_hidden_state": o.last_hidden_state})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "parity"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)

    for heads, softmax, mixing in ((1, True, "mean"), (2, True, "mean"), (2, False, "mean"), (2, True, "sum"), (1, False, "sum")):
        make_lorweb_linear(args.out, f"lorweb-linear-h{heads}-{'softmax' if softmax else 'tanh'}-{mixing}", gen, heads, softmax, mixing)
    make_lorweb_linear(args.out, "lorweb-linear-2d-scale2", gen, 1, True, "mean", scale=2.0, twod=True)

    make_flux(args.out, "flux-guidance-h2", gen, dict(
        patch_size=1, in_channels=8, num_layers=1, num_single_layers=2, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=12, pooled_projection_dim=10, guidance_embeds=True,
        axes_dims_rope=[4, 6, 6]))
    make_flux(args.out, "flux-noguidance-h3", gen, dict(
        patch_size=1, in_channels=6, out_channels=4, num_layers=2, num_single_layers=1, attention_head_dim=8,
        num_attention_heads=3, joint_attention_dim=7, pooled_projection_dim=5, guidance_embeds=False,
        axes_dims_rope=[2, 2, 4]))
    make_flux(args.out, "flux-lorweb-grad", gen, dict(
        patch_size=1, in_channels=8, num_layers=1, num_single_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=6, pooled_projection_dim=5, guidance_embeds=True,
        axes_dims_rope=[2, 2, 4]),
        adapter=dict(n=4, r=2, kdim=8, qdim=9, heads=2, softmax=True, mixing="mean", scale=1.0), grad=True)

    make_clip(args.out, "clip-quickgelu", gen, dict(
        hidden_size=32, intermediate_size=64, projection_dim=16, num_hidden_layers=2, num_attention_heads=4,
        image_size=16, patch_size=4, hidden_act="quick_gelu", layer_norm_eps=1e-5))
    make_clip(args.out, "clip-gelu", gen, dict(
        hidden_size=24, intermediate_size=40, projection_dim=12, num_hidden_layers=1, num_attention_heads=2,
        image_size=12, patch_size=3, hidden_act="gelu", layer_norm_eps=1e-6))


if __name__ == "__main__":
    main()
