#!/usr/bin/env python3
"""PyTorch side of lorweb's performance comparison (issue 9). Run by developers, never by CI.

One case per process, the same shapes as `lorweb bench <case>`; prints one JSON object with
median_ms (and min_ms, reps, memory). Threads are pinned before torch is imported.

  python3 tools/peer/peer.py train-step --threads 2            # n 32 r 4 (the release's basis)
  python3 tools/peer/peer.py train-step --loras 1 --rank 128   # one rank-128 LoRA
  python3 tools/peer/peer.py edit | clip --images 3 | analysis

Needs torch, diffusers (FluxTransformer2DModel) and transformers (CLIPVisionModelWithProjection).
"""
import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("case", choices=["train-step", "edit", "clip", "analysis"])
p.add_argument("--threads", type=int, default=1)
p.add_argument("--reps", type=int, default=None)
p.add_argument("--batch", type=int, default=None)
p.add_argument("--loras", type=int, default=32)
p.add_argument("--rank", type=int, default=4)
p.add_argument("--images", type=int, default=1)
p.add_argument("--dense-reps", type=int, default=3)
args = p.parse_args()

# Before torch loads: its OpenMP/MKL pools size themselves at import.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)
torch.manual_seed(0)


def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def step_peak(step):
    """Peak RSS of one step above the RSS before it, MB (high-water mark reset by clear_refs 5),
    measured on the first step after setup as lorweb measures it."""
    before = status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    return before, max(0.0, status_mb("VmHWM") - before)


def measure(step, reps):
    before, peak = step_peak(step)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"median_ms": times[len(times) // 2], "min_ms": times[0], "reps": reps,
            "rss_before_step_mb": before, "step_peak_mb": peak, "process_peak_mb": status_mb("VmHWM")}


# ---------------------------------------------------------------- LoRWeB on diffusers' Flux

class Query:
    value = None  # [B, qdim], set before each forward: one query serves every layer


class LoRWeBLinear(nn.Module):
    """A frozen Linear plus a basis of n rank-r LoRAs mixed per sample (the release's AttLoRA,
    efficient form): y = W x + b + s ((x A_cat) * (alpha (x) 1_r)) B_cat,
    alpha = mean_h softmax(q_h K_h^T / sqrt(kdim / heads)), q = to_q(query)."""

    def __init__(self, base, n, r, kdim, qdim, heads=1, scale=1.0):
        super().__init__()
        self.base, self.n, self.r, self.heads, self.scale = base, n, r, heads, scale
        fin, fout = base.in_features, base.out_features
        self.lora_A = nn.Parameter(torch.empty(n, fin, r).uniform_(-1 / (fin * r) ** 0.5, 1 / (fin * r) ** 0.5))
        self.lora_B = nn.Parameter(torch.zeros(n, r, fout))
        self.lora_keys = nn.Parameter(torch.randn(n, kdim))
        self.att_lora_to_q = nn.Linear(qdim, kdim, bias=False)

    def forward(self, x):
        y = self.base(x)
        q = self.att_lora_to_q(Query.value)
        b, dh = q.shape[0], q.shape[1] // self.heads
        logits = torch.einsum("bhd,nhd->hbn", q.view(b, self.heads, dh), self.lora_keys.view(self.n, self.heads, dh)) * dh ** -0.5
        alpha = logits.softmax(-1).mean(0)                                            # [B, n]
        a_cat = self.lora_A.permute(1, 0, 2).reshape(x.shape[-1], self.n * self.r)
        b_cat = self.lora_B.reshape(self.n * self.r, -1)
        channel = (alpha * self.scale).repeat_interleave(self.r, dim=1)[:, None, :]   # [B, 1, n r]
        h = (x.reshape(b, -1, x.shape[-1]) @ a_cat) * channel
        return y + (h @ b_cat).reshape(y.shape)


def small_flux(n, r, batch):
    from diffusers import FluxTransformer2DModel

    # lorweb's FluxConfig.small
    model = FluxTransformer2DModel(patch_size=1, in_channels=192, num_layers=2, num_single_layers=4,
                                   attention_head_dim=32, num_attention_heads=8, joint_attention_dim=64,
                                   pooled_projection_dim=64, guidance_embeds=True, axes_dims_rope=(8, 12, 12))
    model.requires_grad_(False)
    adapters = []
    # The release's layer set: every Linear inside the blocks, nothing outside them.
    for blocks in (model.transformer_blocks, model.single_transformer_blocks):
        for block in blocks:
            for name, module in list(block.named_modules()):
                if isinstance(module, nn.Linear):
                    parent_name, _, leaf = name.rpartition(".")
                    parent = block.get_submodule(parent_name) if parent_name else block
                    wrapped = LoRWeBLinear(module, n, r, kdim=128, qdim=192)
                    setattr(parent, leaf, wrapped)
                    adapters.append(wrapped)
    assert len(adapters) == 52, len(adapters)
    g = torch.Generator().manual_seed(2)
    t, target = 16, 64
    ids = torch.tensor([[f, i, j] for f in range(2) for i in range(8) for j in range(8)], dtype=torch.float32)
    inputs = dict(
        x0=torch.randn(batch, target, 192, generator=g), context=torch.randn(batch, target, 192, generator=g),
        text=torch.randn(batch, t, 64, generator=g), pooled=torch.randn(batch, 64, generator=g),
        query=torch.randn(batch, 192, generator=g), img_ids=ids, txt_ids=torch.zeros(t, 3))
    return model, adapters, inputs


def velocity(model, inp, xt, t):
    Query.value = inp["query"]
    out = model(hidden_states=torch.cat([xt, inp["context"]], 1), encoder_hidden_states=inp["text"],
                pooled_projections=inp["pooled"], timestep=t, img_ids=inp["img_ids"], txt_ids=inp["txt_ids"],
                guidance=torch.ones(xt.shape[0]), return_dict=False)[0]
    return out[:, :xt.shape[1]]


def bell_weights():
    k = torch.arange(1, 1001, dtype=torch.float64)
    w = torch.exp(-2 * ((k - 500) / 1000) ** 2)
    w = w - w.min()
    return (w / w.mean()).float()


def train_step():
    batch = args.batch or 16
    model, adapters, inp = small_flux(args.loras, args.rank, batch)
    params = [p for a in adapters for p in (a.lora_A, a.lora_B, a.lora_keys, a.att_lora_to_q.weight)]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.05)
    weights = bell_weights()
    x0 = inp["x0"]

    def step():
        eps = torch.randn_like(x0)
        k = torch.randint(1, 1001, (batch,))
        t = k.float() / 1000
        xt = (1 - t)[:, None, None] * x0 + t[:, None, None] * eps
        pred = velocity(model, inp, xt, t)
        per_row = ((pred - (eps - x0)) ** 2).reshape(batch, -1).mean(1)
        loss = (per_row * weights[k - 1]).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return measure(step, args.reps or 5) | {"adapter_parameters": sum(p.numel() for p in params)}


def edit():
    batch = args.batch or 1
    model, _, inp = small_flux(32, 4, batch)
    state = {"x": inp["x0"]}
    t = torch.full((batch,), 0.5)

    @torch.inference_mode()
    def step():
        state["x"] = state["x"] + (0.45 - 0.5) * velocity(model, inp, state["x"], t)

    return measure(step, args.reps or 20)


def clip():
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    cfg = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, projection_dim=768, num_hidden_layers=24,
                           num_attention_heads=16, patch_size=14, image_size=224, hidden_act="quick_gelu")
    model = CLIPVisionModelWithProjection(cfg).eval()
    pixels = torch.randn(args.images, 3, 224, 224)

    @torch.inference_mode()
    def step():
        model(pixel_values=pixels).image_embeds

    return measure(step, args.reps or 5) | {"attn_implementation": model.config._attn_implementation}


def analysis():
    n, r, dim = 32, 4, 3072
    k = n * r
    a = torch.empty(n, dim, r).uniform_(-1 / (dim * r) ** 0.5, 1 / (dim * r) ** 0.5).permute(1, 0, 2).reshape(dim, k)
    b = (torch.randn(n, r, dim) * 0.01).reshape(k, dim)
    scale = torch.rand(n).softmax(0).repeat_interleave(r)
    out = {}

    def thin():
        qa, ra = torch.linalg.qr(a)
        qb, rb = torch.linalg.qr(b.T)
        out["thin"] = torch.linalg.svdvals((ra * scale) @ rb.T)

    def dense():
        out["dense"] = torch.linalg.svdvals((a * scale) @ b)

    res = measure(thin, args.reps or 10)
    dense()
    times = []
    for _ in range(args.dense_reps):
        t0 = time.perf_counter()
        dense()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    dense_ms = times[len(times) // 2]
    diff = ((out["thin"] - out["dense"][:k]).abs().max() / out["dense"][0]).item()
    return res | {"dense_ms": dense_ms, "dense_over_thin": dense_ms / res["median_ms"], "max_relative_difference": diff}


result = {"train-step": train_step, "edit": edit, "clip": clip, "analysis": analysis}[args.case]()
result |= {"benchmark": args.case, "side": "pytorch", "threads": args.threads, "torch": torch.__version__,
           "torch_threads": torch.get_num_threads()}
print(json.dumps(result, sort_keys=True))
sys.stdout.flush()
