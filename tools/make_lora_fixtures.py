#!/usr/bin/env python3
"""Ordinary LoRAs written by the real libraries on the shipped small-world base, for the tests
of `lorweb inspect` and `lorweb lora` (Tests/Fixtures/lora/):

  diffusers/   save_lora_adapter (r 4, alpha 8; B is zero, as PEFT initialises it)
  peft/        save_pretrained (r 6, alpha 3, rank_pattern of 2; B zero)
  set/p-peft/  LoRA P, a PEFT folder with rank_pattern and alpha_pattern (B drawn, as after training)
  set/p-kohya.safetensors   P through diffusers' convert_state_dict_to_kohya
  set/p-sharded/            P in two shards with a *.safetensors.index.json (huggingface_hub)
  set/q.safetensors         LoRA Q, save_lora_adapter, sharing two directions with P
  set/r.safetensors         LoRA R, FluxPipeline.save_lora_weights (component-prefixed metadata)
  set/expected.json         what lorweb must compute, from dense Delta W in numpy (float64)

    pip install torch diffusers peft huggingface_hub
    python3 tools/make_lora_fixtures.py
"""
import json
import os
import shutil

import numpy as np
import torch
from diffusers import FluxPipeline, FluxTransformer2DModel
from diffusers.utils.state_dict_utils import convert_state_dict_to_kohya
from huggingface_hub import save_torch_state_dict
from peft import LoraConfig, get_peft_model
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..")
BASE = os.path.join(ROOT, "models", "small-world", "base")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "lora")
SET = os.path.join(OUT, "set")

QK = ["transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.attn.to_k"]
V = "transformer_blocks.0.attn.to_v"


def trained(model):
    """PEFT starts B at zero (Delta W = 0); draw it so the LoRA has a spectrum."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)


def dense(state, config):
    """layer -> (scale B A as float64, rank, alpha) for a PEFT-keyed state dict and its config."""
    out = {}
    for key in state:
        if not key.endswith(".lora_A.weight"):
            continue
        layer = key[: -len(".lora_A.weight")].removeprefix("base_model.model.").removeprefix("transformer.")
        a = state[key].double().numpy()
        b = state[key.replace("lora_A", "lora_B")].double().numpy()
        r = a.shape[0]
        alpha = config.alpha_pattern.get(layer, config.lora_alpha)
        out[layer] = (alpha / r * b @ a, r, alpha)
    return out


def main():
    torch.manual_seed(0)
    model = FluxTransformer2DModel.from_pretrained(BASE)
    model.add_adapter(LoraConfig(r=4, lora_alpha=8, init_lora_weights="gaussian", target_modules=QK))
    model.save_lora_adapter(os.path.join(OUT, "diffusers"))

    config = LoraConfig(r=6, lora_alpha=3, rank_pattern={"transformer_blocks.1.attn.to_v": 2},
                        target_modules=["transformer_blocks.0.attn.to_v", "transformer_blocks.1.attn.to_v"])
    peft = get_peft_model(FluxTransformer2DModel.from_pretrained(BASE), config)
    peft.save_pretrained(os.path.join(OUT, "peft"))
    os.remove(os.path.join(OUT, "peft", "README.md"))   # PEFT's model card template, not data

    shutil.rmtree(SET, ignore_errors=True)
    os.makedirs(SET)
    # P: three layers, one of rank 2 (rank_pattern), one with alpha 16 (alpha_pattern).
    p_config = LoraConfig(r=4, lora_alpha=4, target_modules=QK + [V],
                          rank_pattern={"single_transformer_blocks.0.attn.to_k": 2},
                          alpha_pattern={"transformer_blocks.0.attn.to_q": 16})
    p = get_peft_model(FluxTransformer2DModel.from_pretrained(BASE), p_config)
    trained(p)
    p.save_pretrained(os.path.join(SET, "p-peft"))
    os.remove(os.path.join(SET, "p-peft", "README.md"))
    p_state = {k.removeprefix("base_model.model."): v for k, v in get_peft_model_state_dict(p).items()}

    # kohya: convert_state_dict_to_kohya writes `lora_unet_<path with _>` for keys under `unet.`
    # (the header kohya's trainers give the denoiser) and sets every .alpha to the rank; a kohya
    # trainer stores the alpha it trained with, so P's own alphas replace those.
    kohya = convert_state_dict_to_kohya({"unet." + k: v for k, v in p_state.items()})
    for key in kohya:
        if key.endswith(".alpha"):
            layer = key[len("lora_unet_"): -len(".alpha")]
            alpha = next(p_config.alpha_pattern.get(n, p_config.lora_alpha) for n in QK + [V] if n.replace(".", "_") == layer)
            kohya[key] = torch.tensor(float(alpha))
    save_file({k: v.contiguous() for k, v in kohya.items()}, os.path.join(SET, "p-kohya.safetensors"))

    sharded = os.path.join(SET, "p-sharded")
    os.makedirs(sharded)
    save_torch_state_dict({"base_model.model." + k: v for k, v in p_state.items()}, sharded, max_shard_size="5KB",
                          filename_pattern="adapter_model{suffix}.safetensors")
    shutil.copy(os.path.join(SET, "p-peft", "adapter_config.json"), sharded)

    # Q: to_q and to_k only (no to_v), rank 3, alpha 6; its first two directions are P's.
    q_config = LoraConfig(r=3, lora_alpha=6, init_lora_weights="gaussian", target_modules=QK)
    q = FluxTransformer2DModel.from_pretrained(BASE)
    q.add_adapter(q_config)
    trained(q)
    with torch.no_grad():
        for name, param in q.named_parameters():
            if "lora_" not in name:
                continue
            layer = name.split(".lora_")[0]
            source = p_state[f"{layer}.lora_{'A' if 'lora_A' in name else 'B'}.weight"]
            if "lora_A" in name:
                param[:2] = source[:2]
            else:
                param[:, :2] = source[:, :2]
    q.save_lora_adapter(SET, weight_name="q.safetensors")
    q_state = {k: v for k, v in get_peft_model_state_dict(q).items()}

    # R: all three layers, rank 2, alpha 1, written the pipeline way (keys and metadata under transformer.).
    r_config = LoraConfig(r=2, lora_alpha=1, init_lora_weights="gaussian", target_modules=QK + [V])
    r = FluxTransformer2DModel.from_pretrained(BASE)
    r.add_adapter(r_config)
    trained(r)
    r_state = get_peft_model_state_dict(r)
    FluxPipeline.save_lora_weights(SET, transformer_lora_layers=r_state, weight_name="r.safetensors",
                                   transformer_lora_adapter_metadata=r_config.to_dict())

    loras = {"p": dense(p_state, p_config), "q": dense(q_state, q_config), "r": dense(r_state, r_config)}
    names = list(loras)
    expected = {"loras": {}, "pairs": {}}
    for name, layers in loras.items():
        expected["loras"][name] = {
            layer: {"rank": rank, "alpha": alpha, "scale": alpha / rank,
                    "singular_values": np.linalg.svd(w, compute_uv=False)[:rank].tolist(),
                    "frobenius": float(np.linalg.norm(w))}
            for layer, (w, rank, alpha) in sorted(layers.items())}
    common = sorted(set.intersection(*(set(l) for l in loras.values())))
    gram = np.zeros((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            gram[i, j] = sum(np.sum(loras[a][l][0] * loras[b][l][0]) for l in common)
            if i < j:
                expected["pairs"][f"{a}-{b}"] = {
                    "layers": {l: float(np.sum(loras[a][l][0] * loras[b][l][0]) /
                                        (np.linalg.norm(loras[a][l][0]) * np.linalg.norm(loras[b][l][0]))) for l in common}}
    norms = np.sqrt(np.diag(gram))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i < j:
                expected["pairs"][f"{a}-{b}"]["pooled"] = float(gram[i, j] / (norms[i] * norms[j]))
    # PCA of the vectorised Delta Ws over the common layers: centred Gram, variance divisor m - 1.
    m = len(names)
    h = np.eye(m) - 1.0 / m
    eig = np.sort(np.linalg.eigvalsh(h @ gram @ h))[::-1]
    expected["common_layers"] = common
    expected["pca_variance"] = [float(max(e, 0) / (m - 1)) for e in eig[: m - 1]]
    with open(os.path.join(SET, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
