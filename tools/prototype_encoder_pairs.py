#!/usr/bin/env python3
"""Prototype (not yet in `lorweb pretrain-encoder`): fine-tune a small-world encoder so that the
difference of its embeddings says what an edit did. For a batch of train triplets, NT-Xent makes
E(a') - E(a) match E(b') - E(b) of the same triplet against the other triplets' differences (no
task labels: only the pairing the training data already has), plus SimCLR's picture-vs-noisy-view
term so single embeddings stay meaningful. Writes a Hugging Face CLIP vision folder that
`lorweb train --encoder` reads.

    pip install torch transformers numpy Pillow
    python3 tools/prototype_encoder_pairs.py --data WORLD --out models/small-world/exp/enc-pair

Measured 2026-12-02 (600 steps from the shipped encoder, lr 5e-4): the task probe of
tools/probe_encoder.py goes from 14.7% to 29.3%; see README, "Why the adapters recover so little".
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import CLIPVisionModelWithProjection

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


def nt_xent(z1, z2, temperature=0.2):
    """Row i of z1 and row i of z2 are positives; every other row of both is a negative."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = z @ z.t() / temperature
    logits.fill_diagonal_(-1e9)
    return F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a folder written by lorweb synth")
    parser.add_argument("--out", required=True)
    parser.add_argument("--encoder", default=os.path.join(os.path.dirname(__file__), "..", "models", "small-world", "encoder"))
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train = [s for s in json.load(open(os.path.join(args.data, "manifest.json")))["samples"] if s["split"] == "train"]

    def load(path):
        return torch.tensor(np.asarray(Image.open(os.path.join(args.data, path)).convert("RGB"), np.float32) / 255).permute(2, 0, 1)

    pictures = {k: torch.stack([load(s[k]) for s in train]) for k in ("a", "a_prime", "b", "b_prime")}
    encoder = CLIPVisionModelWithProjection.from_pretrained(args.encoder)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=args.lr, weight_decay=0.05)
    embed = lambda x: encoder(pixel_values=(x - MEAN) / STD).image_embeds
    generator = torch.Generator().manual_seed(0)
    for step in range(args.steps):
        i = torch.randint(0, len(train), (args.batch,), generator=generator)
        a, a_prime, b, b_prime = (pictures[k][i] for k in ("a", "a_prime", "b", "b_prime"))
        ea, eap, eb, ebp = embed(torch.cat([a, a_prime, b, b_prime])).split(args.batch)
        noisy = (a + (torch.rand_like(a) - 0.5) * 12 / 255).clamp(0, 1)
        loss = nt_xent(eap - ea, ebp - eb) + nt_xent(ea, embed(noisy))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
        optimizer.step()
        if step % 100 == 0:
            print(f"step {step}/{args.steps}  loss {loss.item():.4f}", flush=True)
    encoder.save_pretrained(args.out)


if __name__ == "__main__":
    main()
