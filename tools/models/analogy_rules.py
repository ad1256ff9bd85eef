#!/usr/bin/env python3
"""How far simple rules that read the analogy get on a small world's triplets: returning b,
b + (a' - a) (a change tied to positions, as most style edits are), and the least-squares colour
map (3 x 3 + offset, one for the whole picture) from a to a' applied to b (exact for colour
edits). Scored like `lorweb eval --limit-per-task 1`: the first triplet of each task, PSNR
(capped at 100 dB, as lorweb's) per task, then means over tasks, overall and by family kind.
What the world allows an analogy reader that has the right rule, beside what LoRWeB learns.

    pip install numpy pillow
    python3 tools/models/analogy_rules.py WORLD [--split seen|unseen]
"""
import argparse
import json
import os
from collections import defaultdict

import numpy as np
from PIL import Image


def load(root, rel):
    return np.asarray(Image.open(os.path.join(root, rel)).convert("RGB"), dtype=np.float64)


def psnr(x, y):
    # On 8-bit pictures, as lorweb's eval: rounded to 0...255.
    mse = np.mean((np.clip(np.round(x), 0, 255) - y) ** 2)
    return 100.0 if mse == 0 else min(100.0, 10 * np.log10(255.0 ** 2 / mse))


def colour_map(a, a_prime, b):
    ones = np.ones((a.size // 3, 1))
    w = np.linalg.lstsq(np.hstack([a.reshape(-1, 3), ones]), a_prime.reshape(-1, 3), rcond=None)[0]
    return (np.hstack([b.reshape(-1, 3), ones]) @ w).reshape(b.shape)


RULES = {
    "return b": lambda a, ap, b: b,
    "b + (a' - a)": lambda a, ap, b: b + ap - a,
    "colour map a -> a'": colour_map,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world")
    parser.add_argument("--split", default="seen", choices=["seen", "unseen"])
    args = parser.parse_args()
    manifest = json.load(open(os.path.join(args.world, "manifest.json")))
    kind = {f["name"]: f["kind"] for f in manifest["families"]}
    scores, kinds, done = defaultdict(list), [], set()
    for s in manifest["samples"]:
        if s["split"] != args.split or s["task"] in done:
            continue
        done.add(s["task"])
        a, ap, b, bp = (load(args.world, s[k]) for k in ("a", "a_prime", "b", "b_prime"))
        for name, rule in RULES.items():
            scores[name].append(psnr(rule(a, ap, b), bp))
        ks = sorted({kind[step["family"]] for step in s["steps"]})
        kinds.append(ks[0] if len(ks) == 1 else "composition")
    base = np.array(scores["return b"])
    names = sorted(set(kinds))
    print(f"{args.split}: {len(base)} tasks; mean PSNR dB over tasks (gain over returning b; share of tasks gaining)")
    print("rule".ljust(20) + "all tasks".ljust(24) + "".join(f"{k} ({kinds.count(k)})".ljust(17) for k in names))
    for name, values in scores.items():
        v = np.array(values)
        overall = f"{v.mean():.2f} ({v.mean() - base.mean():+.2f}; {np.mean(v > base) * 100:.0f}%)"
        by_kind = "".join(f"{v[[k == n for k in kinds]].mean():.2f}".ljust(17) for n in names)
        print(name.ljust(20) + overall.ljust(24) + by_kind)

if __name__ == "__main__":
    main()
