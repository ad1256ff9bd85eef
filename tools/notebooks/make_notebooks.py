#!/usr/bin/env python3
"""Writes the notebooks in notebooks/ (run by developers after editing this file; CI only executes them).

    python3 tools/notebooks/make_notebooks.py            # rewrites notebooks/*.ipynb
    python3 tools/notebooks/make_notebooks.py --check    # exits 1 if a committed .ipynb differs from what this writes
    python3 tools/notebooks/make_notebooks.py --out DIR  # writes them into DIR instead

    python3 tools/notebooks/make_notebooks.py --execute  # writes them, then executes each and keeps its outputs

This file is the source: `make notebooks` (part of `make test`) runs --check first, so an .ipynb edited
by hand, or a change here that was not regenerated, fails the test. The check compares the cells'
sources, not their outputs: the committed notebooks carry the outputs of `--execute` (`make
notebooks-outputs`) so that they read on a repository page, and `make notebooks` executes them in memory
without touching them. Run `make notebooks-outputs` after changing a notebook or the shipped models.

Every notebook drives the lorweb CLI through subprocess and reads what it writes (NPY, CSV, PNG/SVG)
with numpy and pandas. They run on the shipped default model (models/small-world/lorweb) unless
LORWEB_MODEL (and, for the comparison, LORWEB_SINGLE_MODEL) name other run folders, and find the
binary at LORWEB_BIN or in the repository's .build/release (else .build/debug).
"""
import argparse
import json
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]

SETUP = r'''
import json, os, pathlib, shutil, subprocess, tempfile
import numpy as np, pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from IPython.display import Image, SVG, display

REPO = pathlib.Path.cwd().resolve().parent if pathlib.Path.cwd().name == "notebooks" else pathlib.Path.cwd().resolve()
BIN = os.environ.get("LORWEB_BIN") or next(
    (str(p) for p in (REPO / ".build/release/lorweb", REPO / ".build/debug/lorweb") if p.exists()), "lorweb")
MODEL = os.environ.get("LORWEB_MODEL", str(REPO / "models/small-world/lorweb"))
# Everything the notebook writes goes here; the last cell removes it.
WORK = pathlib.Path(tempfile.mkdtemp(prefix="lorweb-notebook-"))
# Some machines preset OPENBLAS_CORETYPE to a slower kernel; lorweb's own Makefile unsets it too.
ENV = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}

def lorweb(*args, quiet=False):
    """Runs one lorweb command in WORK and returns what it printed; prints it too unless quiet (for JSON the caller reads)."""
    done = subprocess.run([BIN, *map(str, args)], cwd=WORK, env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"lorweb {' '.join(map(str, args))} failed:\n{done.stderr}")
    if not quiet:
        print(done.stdout.strip().replace(str(REPO) + "/", ""))
    return done.stdout

def show(fig, name):
    """Saves a matplotlib figure into WORK with room for every label, and displays it."""
    fig.savefig(WORK / name, dpi=80, bbox_inches="tight")
    plt.close(fig)
    display(Image(filename=str(WORK / name)))

def relative(path):
    return os.path.relpath(path, REPO) if str(path).startswith(str(REPO)) else str(path)

print("lorweb:", relative(BIN))
print("model: ", relative(MODEL))
'''

WORLD = r'''
# A fresh small world to draw analogies from (a few seconds): its manifest knows every triplet's task and family.
lorweb("synth", "--out", "world", "--train", "40", "--eval", "60", "--seed", "7")
manifest = json.loads((WORK / "world/manifest.json").read_text())
samples = pd.DataFrame(manifest["samples"])
samples.groupby("split").size()
'''


CLEANUP = [("markdown", "## Clean up\nThe working folder and everything the commands wrote into it."),
           ("code", "shutil.rmtree(WORK)")]


def notebook(name, cells):
    out = []
    for i, (kind, text) in enumerate(cells):
        text = text.strip("\n")
        cell = {"cell_type": kind, "id": f"{name}-{i}", "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {
        "cells": out,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


INSPECT = [
    ("markdown", """
# Inspect a learned basis

A LoRWeB model carries, on every Linear layer of its Flux-Kontext blocks, a basis of n LoRAs A_i B_i with n keys;
an analogy's query picks coefficients softmax(q . K) that mix the basis. This notebook reads the basis of a model
with `lorweb inspect`, `lorweb basis`, `lorweb svd` and `lorweb keygraph`, and looks at the numbers with numpy/pandas.
"""),
    ("code", SETUP),
    ("code", r'''
info = json.loads(lorweb("inspect", MODEL, "--json", quiet=True))
{k: info[k] for k in ("format", "adapted_layers", "n", "r", "kdim", "qdim", "parameters") if k in info}
'''),
    ("markdown", "## Per-layer summary\n`lorweb basis` writes one row per layer and the arrays behind it, plus figures."),
    ("code", r'''
lorweb("basis", "--model", MODEL, "--out", "basis")
layers = pd.read_csv(WORK / "basis/layers.csv")
layers.head(8)
'''),
    ("code", r'''
display(Image(filename=str(WORK / "basis/key_similarity.png")))
display(Image(filename=str(WORK / "basis/element_norms.png")))
'''),
    ("code", r'''
# Which kinds of layer use their basis most evenly? (effective number of elements = exp(entropy) of the element norms)
layers["kind"] = layers["name"].str.split(".").str[2:].str.join(".")
summary = layers.groupby("kind")[["effective_elements", "dominant_share", "key_similarity_mean"]].mean().sort_values("effective_elements")
summary
'''),
    ("code", r'''
gram = np.load(WORK / "basis/gram.npy")          # [L, n, n]
sim = np.load(WORK / "basis/key_similarity.npy")  # [L, n, n]
n = gram.shape[1]
norms = np.sqrt(np.einsum("lii->li", gram))
cos = gram / (norms[:, :, None] * norms[:, None, :] + 1e-30)
off = ~np.eye(n, dtype=bool)
print(f"{gram.shape[0]} layers, n = {n}")
print(f"mean |cosine| between basis elements (weights): {np.abs(cos[:, off]).mean():.3f}")
print(f"mean cosine between keys:                      {sim[:, off].mean():.3f}")
'''),
    ("markdown", "## Spectra of mixed LoRAs\nThe singular values of the uniform mixture, computed from thin factors (never forming Delta W)."),
    ("code", r'''
lorweb("svd", "--model", MODEL, "--coeffs", "uniform", "--out", "svd")
s = np.load(WORK / "svd/singular_values.npy")
energy = np.cumsum(s**2, axis=1) / np.maximum((s**2).sum(axis=1, keepdims=True), 1e-30)
print("rank reaching 90% of the energy, median over layers:", int(np.median((energy < 0.9).sum(axis=1) + 1)))
display(Image(filename=str(WORK / "svd/singular_values.png")))
'''),
    ("markdown", "## Key graph\nNodes are basis elements; each key is joined to its 3 nearest keys by cosine similarity of the keys, "
                 "averaged over layers (`--edges top:3`, the default). The label states the cosines of the edges drawn."),
    ("code", r'''
lorweb("keygraph", "--model", MODEL, "--layer", "all", "--out", "keys.svg")
display(SVG(filename=str(WORK / "keys.svg")))
'''),
]

INTERPOLATE = [
    ("markdown", """
# Interpolate analogies

Two analogies a : a' and c : c' applied to the same b. `lorweb interpolate` walks between them either in coefficient
space (every layer's coefficients on a straight line) or in query space (the query moves and each layer re-applies
its keys and softmax), generating b' for each frame from the same noise.
"""),
    ("code", SETUP),
    ("code", WORLD),
    ("code", r'''
# Two seen triplets of different family kinds (colour, style, ...); both analogies are applied to the first one's b.
kind = {f["name"]: f["kind"] for f in manifest["families"]}
kinds = samples.families.map(lambda families: "+".join(kind[f] for f in families))
seen = samples[samples.split == "seen"]
first = seen.iloc[0]
second = seen[kinds[seen.index] != kinds[first.name]].iloc[0]
print("from:", first.task, "  to:", second.task)
w = lambda p: f"world/{p}"
frames = 5
# Euler steps: the base's recommendation unless LORWEB_SAMPLE_STEPS says otherwise.
steps = ["--sample-steps", os.environ["LORWEB_SAMPLE_STEPS"]] if "LORWEB_SAMPLE_STEPS" in os.environ else []
for space in ("coeffs", "query"):
    lorweb("interpolate", "--model", MODEL, "--from", f"{w(first.a)},{w(first.a_prime)}", "--to", f"{w(second.a)},{w(second.a_prime)}",
           "--b", w(first.b), "--steps", frames, *steps, "--space", space, "--out", f"strip_{space}.png")
'''),
    ("code", r'''
display(Image(filename=str(WORK / "strip_coeffs.png")))
display(Image(filename=str(WORK / "strip_query.png")))
'''),
    ("markdown", "## The coefficient paths\nBoth paths share their end points; the query path bends because the softmax is not linear."),
    ("code", r'''
paths = {space: np.load(WORK / f"strip_{space}.coeffs.npy") for space in ("coeffs", "query")}   # [K, layers, n]
for space, p in paths.items():
    print(space, p.shape)
gap = np.abs(paths["coeffs"] - paths["query"]).sum(axis=2).mean(axis=1)   # mean L1 distance per frame
t = np.linspace(0, 1, frames)
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
ax[0].plot(t, gap, "o-")
ax[0].set(xlabel="t", ylabel="mean L1 distance", title="coefficient path vs query path")
entropy = lambda p: np.exp(-(p * np.log(np.clip(p, 1e-12, None))).sum(axis=2).mean(axis=1))
for space, p in paths.items():
    ax[1].plot(t, entropy(p), "o-", label=space)
ax[1].set(xlabel="t", ylabel="effective elements", title="how many elements are mixed")
ax[1].legend()
show(fig, "paths.png")
'''),
    ("code", r'''
table = pd.read_csv(WORK / "strip_query.coeffs.csv")
table.head()
'''),
]

COMPARE = [
    ("markdown", """
# Compare LoRWeB with a single LoRA

The paper's matched-capacity baseline is one LoRA of rank n r trained the same way. Here both shipped small-world
models edit the same held-out analogies; we compare their parameters, the spectra of what they add to the weights,
and their edits against the ground truth.
"""),
    ("code", SETUP),
    ("code", r'''
SINGLE = os.environ.get("LORWEB_SINGLE_MODEL", str(REPO / "models/small-world/single-lora"))
models = {"LoRWeB": MODEL, "single LoRA": SINGLE}
info = {name: json.loads(lorweb("inspect", path, "--json", quiet=True)) for name, path in models.items()}
pd.DataFrame({name: {k: i.get(k) for k in ("n", "r", "parameters", "adapted_layers")} for name, i in info.items()})
'''),
    ("code", WORLD),
    ("code", r'''
# Four unseen analogies, one per task.
unseen = samples[samples.split == "unseen"].drop_duplicates("task").head(4)
rows = [{"id": s["name"], "a": f"world/{s.a}", "a_prime": f"world/{s.a_prime}", "b": f"world/{s.b}", "b_prime": f"world/{s.b_prime}", "task": s.task}
        for _, s in unseen.iterrows()]
pd.DataFrame(rows).to_csv(WORK / "unseen.csv", index=False)
# Euler steps: the base's recommendation unless LORWEB_SAMPLE_STEPS says otherwise.
steps = ["--steps", os.environ["LORWEB_SAMPLE_STEPS"]] if "LORWEB_SAMPLE_STEPS" in os.environ else []
(WORK / "edits").mkdir(exist_ok=True)
for name, path in models.items():
    lorweb("edit", "--model", path, "--triplets", "unseen.csv", "--out-dir", f"edits/{name.replace(' ', '_')}", *steps)
'''),
    ("code", r'''
from PIL import Image as PILImage
load = lambda p: np.asarray(PILImage.open(WORK / p).convert("RGB"), dtype=np.float64)
def psnr(x, y):
    mse = ((x - y) ** 2).mean()
    return 100.0 if mse == 0 else 10 * np.log10(255**2 / mse)
scores = pd.DataFrame([{"task": r["task"], "unchanged b": psnr(load(r["b"]), load(r["b_prime"])),
                        **{name: psnr(load(f"edits/{name.replace(' ', '_')}/{r['id']}.png"), load(r["b_prime"])) for name in models}}
                       for r in rows]).set_index("task")
scores.loc["mean"] = scores.mean()
scores.round(2)
'''),
    ("code", r'''
fig, axes = plt.subplots(len(rows), 6, figsize=(9.5, 1.8 * len(rows)), squeeze=False, layout="constrained")
for i, r in enumerate(rows):
    pictures = [r["a"], r["a_prime"], r["b"], r["b_prime"]] + [f"edits/{n.replace(' ', '_')}/{r['id']}.png" for n in models]
    titles = ["a", "a'", "b", "b' truth"] + list(models)
    for j, (p, title) in enumerate(zip(pictures, titles)):
        axes[i, j].imshow(load(p).astype(np.uint8), interpolation="nearest"); axes[i, j].set_axis_off()
        if i == 0: axes[i, j].set_title(title, fontsize=9)
show(fig, "edits.png")
'''),
    ("markdown", "## What each adds to the weights\nSpectra of the uniform LoRWeB mixture and of the single LoRA, layer by layer (thin-factor SVD)."),
    ("code", r'''
spectra = {}
for name, path in models.items():
    out = f"svd_{name.replace(' ', '_')}"
    lorweb("svd", "--model", path, "--coeffs", "uniform", "--out", out)
    spectra[name] = np.load(WORK / out / "singular_values.npy")
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for name, s in spectra.items():
    energy = np.cumsum(s**2, axis=1) / np.maximum((s**2).sum(axis=1, keepdims=True), 1e-30)
    ax.plot(np.arange(1, s.shape[1] + 1), energy.mean(axis=0), label=name)
ax.set(xscale="log", xlabel="rank", ylabel="share of ||Delta W||^2 (mean over layers)")
ax.legend()
show(fig, "energy.png")
'''),
]

NOTEBOOKS = [("inspect_basis", INSPECT + CLEANUP), ("interpolate_analogies", INTERPOLATE + CLEANUP),
             ("lorweb_vs_single_lora", COMPARE + CLEANUP)]


def write(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS:
        path = folder / f"{name}.ipynb"
        path.write_text(json.dumps(notebook(name, cells), indent=1) + "\n")
        yield path


def execute(paths):
    """Executes each notebook and writes it back with its outputs (as nbformat writes them)."""
    import nbformat
    from run_notebooks import run
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        run(nb, path)
        nbformat.write(nb, path)
        yield path


def skeleton(text):
    """What the check compares: the cells without their outputs and execution counts."""
    nb = json.loads(text)
    return [{k: v for k, v in cell.items() if k not in ("outputs", "execution_count")} for cell in nb["cells"]]


def check():
    """Regenerates into a temporary folder and compares the cells with notebooks/*.ipynb (outputs aside)."""
    committed = ROOT / "notebooks"
    with tempfile.TemporaryDirectory(prefix="lorweb-notebooks-") as tmp:
        made = {p.name: p.read_text() for p in write(pathlib.Path(tmp))}
    problems = [f"notebooks/{n}: differs from what tools/notebooks/make_notebooks.py writes"
                for n, text in made.items() if not (committed / n).exists() or skeleton((committed / n).read_text()) != skeleton(text)]
    problems += [f"notebooks/{p.name}: not written by tools/notebooks/make_notebooks.py"
                 for p in sorted(committed.glob("*.ipynb")) if p.name not in made]
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print("edit tools/notebooks/make_notebooks.py (not the .ipynb), then run it with --execute and commit both", file=sys.stderr)
        return 1
    print(f"notebooks: {len(made)} .ipynb match tools/notebooks/make_notebooks.py")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare the committed notebooks with a fresh generation")
    parser.add_argument("--out", type=pathlib.Path, help="folder to write into (default: notebooks/)")
    parser.add_argument("--execute", action="store_true", help="execute the written notebooks and keep their outputs")
    args = parser.parse_args()
    if args.check:
        sys.exit(check())
    paths = list(write(args.out or ROOT / "notebooks"))
    for path in execute(paths) if args.execute else paths:
        print("wrote", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path, *(["with outputs"] if args.execute else []))
