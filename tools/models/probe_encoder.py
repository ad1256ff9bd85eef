#!/usr/bin/env python3
"""How much of an analogy's edit an image encoder carries: a linear probe (multinomial logistic
regression) from encoder embeddings of a small world's train triplets to their task, scored on
the seen split (same tasks, other triplets). LoRWeB can only pick a task-specific mixture of its
basis if its query, built from these embeddings, tells the tasks apart.

    pip install torch transformers numpy Pillow
    python3 tools/models/probe_encoder.py --data WORLD [--encoder models/small-world/encoder] [--hidden 512]

Prints, for the query's concatenation [E(a), E(a'), E(b)], for the difference E(a') - E(a) and
for the pair [E(a), E(a')], the probe's task and family accuracy against chance. LoRWeB's router
is linear in its query, like the linear probe; --hidden N adds a hidden layer of N ReLU units, to
ask whether a richer router could read more from the same embeddings.
"""
import argparse
import json
import os

import numpy as np
import torch
from PIL import Image
from transformers import CLIPVisionModelWithProjection

# OpenAI CLIP normalisation, as lorweb's CLIPPreprocessor applies it (the small world's pictures
# are already the encoder's size, so no resize or crop).
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a folder written by lorweb synth")
    parser.add_argument("--encoder", default=os.path.join(os.path.dirname(__file__), "..", "..", "models", "small-world", "encoder"))
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--hidden", type=int, default=0, help="ReLU units of a hidden layer (0: a linear probe)")
    args = parser.parse_args()
    torch.manual_seed(0)
    samples = json.load(open(os.path.join(args.data, "manifest.json")))["samples"]
    encoder = CLIPVisionModelWithProjection.from_pretrained(args.encoder).eval()

    def embed(paths):
        rows = []
        for i in range(0, len(paths), 256):
            x = np.stack([(np.asarray(Image.open(os.path.join(args.data, p)).convert("RGB"), np.float32) / 255 - MEAN) / STD
                          for p in paths[i:i + 256]]).transpose(0, 3, 1, 2)
            with torch.no_grad():
                rows.append(encoder(pixel_values=torch.tensor(x)).image_embeds)
        return torch.cat(rows)

    def features(split):
        part = [s for s in samples if s["split"] == split]
        a, a_prime, b = (embed([s[k] for s in part]) for k in ("a", "a_prime", "b"))
        return part, {"[E(a), E(a'), E(b)]": torch.cat([a, a_prime, b], 1), "E(a') - E(a)": a_prime - a,
                      "[E(a), E(a')]": torch.cat([a, a_prime], 1)}

    train, train_x = features("train")
    test, test_x = features("seen")
    tasks = sorted({s["task"] for s in train})
    index = {t: i for i, t in enumerate(tasks)}
    test = [(s, i) for i, s in enumerate(test) if s["task"] in index]
    y = torch.tensor([index[s["task"]] for s in train])
    family = lambda task: task.split("(")[0]
    print(f"{len(tasks)} tasks (chance {1 / len(tasks):.3f}), {len(train)} train / {len(test)} seen triplets")
    for name in train_x:
        x, xt = train_x[name], test_x[name][[i for _, i in test]]
        mu, sd = x.mean(0), x.std(0) + 1e-6
        x, xt = (x - mu) / sd, (xt - mu) / sd
        if args.hidden:
            probe = torch.nn.Sequential(torch.nn.Linear(x.shape[1], args.hidden), torch.nn.ReLU(), torch.nn.Linear(args.hidden, len(tasks)))
        else:
            probe = torch.nn.Linear(x.shape[1], len(tasks))
            torch.nn.init.zeros_(probe.weight)
            torch.nn.init.zeros_(probe.bias)
        weights = [p for p in probe.parameters() if p.dim() == 2]
        optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2)
        for _ in range(args.iterations):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(probe(x), y) + 1e-4 * sum((w ** 2).sum() for w in weights)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            predicted = probe(xt).argmax(1).tolist()
        task_accuracy = np.mean([tasks[p] == s["task"] for p, (s, _) in zip(predicted, test)])
        family_accuracy = np.mean([family(tasks[p]) == family(s["task"]) for p, (s, _) in zip(predicted, test)])
        print(f"{name:22s} task accuracy {task_accuracy:.3f}, family accuracy {family_accuracy:.3f}")


if __name__ == "__main__":
    main()
