#!/usr/bin/env python3
"""Interop fixtures for the Formats target, made and checked with the reference Python libraries.

Needs: numpy, safetensors, PyYAML (`pip install numpy safetensors pyyaml`). Run by developers, not
by CI: the files it writes are committed, and the Swift tests only read them.

Two directions:

1. Python writes, Swift reads (run from the repository root):

       python3 tools/make_format_fixtures.py            # writes Tests/Fixtures/formats/

   - tensors_{f32,f16,bf16}.safetensors: the same tensors (a 0-d scalar, an empty [0, 3], odd
     shapes, special values) in each dtype, with __metadata__; f16 rounded by numpy, bf16 by the
     bit-level round-to-nearest-even below (numpy has no bfloat16).
   - array_{f32,f64,f16}.npy, scalar_f32.npy, and fortran.npy / bigendian.npy (must be rejected).
   - adapter_tiny.safetensors: the LoRWeB release's key layout (3 layers, n 4, r 2, kdim 8,
     qdim 12, float16).
   - config.yaml: the release's ai-toolkit config as its trainer saves it (yaml.dump of
     LoRWeB_default_PROMPTS.yaml with the README's run.py overrides applied).

2. Swift writes, Python reads:

       LORWEB_DUMP_DIR=/tmp/lorweb-dump swift test --filter InteropDump
       python3 tools/make_format_fixtures.py --check /tmp/lorweb-dump

   The Swift test reads the fixtures above, writes them back with our writers (swift_*.safetensors,
   swift_array.npy, swift_table.csv, swift_report.json) and this script verifies them bit for bit
   against what numpy/safetensors produce. It exits non-zero on any mismatch.
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
import yaml
from safetensors import _safetensors_rust as st_rust
from safetensors.numpy import load_file, save_file

METADATA = {"generator": "tools/make_format_fixtures.py", "format": "pt", "fixture_version": "1"}


def source_tensors():
    """The tensors every dtype file holds, as float32; deterministic, no RNG."""
    specials = np.array([0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 1e-8, 6e-8, 3.0e38,
                         np.inf, -np.inf, np.nan, 1.00390625, 1.01171875], dtype=np.float32)
    return {
        "scalar": np.array(2.5, dtype=np.float32),                          # shape ()
        "empty": np.zeros((0, 3), dtype=np.float32),
        "vector": (np.arange(7, dtype=np.float32) * 0.1 - 0.3),
        "matrix": (np.arange(15, dtype=np.float32).reshape(3, 5) / 7.0),
        "cube": (np.sin(np.arange(24, dtype=np.float32)) * 100).reshape(2, 3, 4),
        "specials": specials,
    }


def bf16_bits(x):
    """float32 -> bfloat16 bit patterns, round to nearest even; NaN -> quiet NaN."""
    x = np.asarray(x, dtype=np.float32)
    bits = x.reshape(-1).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x.reshape(-1))
    rounded[nan] = ((bits[nan] >> 16) | 0x0040).astype(np.uint16)
    return rounded.reshape(x.shape)  # keeps a 0-d scalar 0-d


def save_bf16(tensors, path, metadata):
    """safetensors.numpy cannot write bfloat16, so hand raw bit patterns to the Rust serializer."""
    keep = {k: bf16_bits(v) for k, v in tensors.items()}
    specs = {k: st_rust.TensorSpec(dtype="bfloat16", shape=list(v.shape), data_ptr=v.ctypes.data, data_len=v.nbytes) for k, v in keep.items()}
    st_rust.serialize_file(specs, path, metadata=metadata)


def raw_tensors(path):
    """name -> (dtype string, shape, raw bytes), for any dtype (numpy has no bfloat16)."""
    with open(path, "rb") as f:
        items = st_rust.deserialize(f.read())
    return {name: (info["dtype"], list(info["shape"]), bytes(info["data"])) for name, info in items}


def npy_arrays():
    return {
        "array_f32.npy": (np.arange(24, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 4),
        "array_f64.npy": np.array([1 / 3, -2.5, 1e-40, 1e300, 0.1], dtype=np.float64),
        "array_f16.npy": (np.arange(6, dtype=np.float16) / np.float16(3)).reshape(3, 2),
        "scalar_f32.npy": np.array(-7.25, dtype=np.float32),
    }


def tiny_adapter():
    """The release's adapter key layout at toy size: lora_A [n,in,r], lora_B [n,r,out],
    lora_keys [n,kdim], att_lora_to_q.weight [kdim,qdim], float16, `transformer.` prefix."""
    rng = np.random.default_rng(0)
    n, r, kdim, qdim = 4, 2, 8, 12
    layers = {  # name -> (in, out)
        "transformer_blocks.0.attn.to_q": (16, 16),
        "transformer_blocks.0.ff.net.2": (64, 16),
        "single_transformer_blocks.0.proj_out": (80, 16),
    }
    out = {}
    for layer, (fan_in, fan_out) in layers.items():
        p = f"transformer.{layer}."
        out[p + "lora_A"] = rng.uniform(-1, 1, (n, fan_in, r)) / np.sqrt(fan_in * r)
        out[p + "lora_B"] = rng.normal(0, 0.01, (n, r, fan_out))
        out[p + "lora_keys"] = rng.normal(0, 1, (n, kdim))
        out[p + "att_lora_to_q.weight"] = rng.uniform(-1, 1, (kdim, qdim)) / np.sqrt(qdim)
    return {k: v.astype(np.float16) for k, v in out.items()}


def release_config():
    """What BaseTrainProcess saves as config.yaml (yaml.dump, so keys sorted) for the README's
    run: LoRWeB_default_PROMPTS.yaml with --linear 4 --linear_alpha 4 --loras_num 32
    --lora_softmax true --query_mode "cat-aa'b" (datasets/sample trimmed to what matters here)."""
    network = {
        "type": "attlora", "linear": 4, "linear_alpha": 4,
        "network_kwargs": {
            "lora_keys_dim": 128, "lora_heads": 1, "mixing_coeffs_type": "mean", "external_query": True,
            "pooling_type": "avg", "query_projection_type": "linear",
            "external_query_model": "openai/clip-vit-large-patch14",
            "loras_num": 32, "lora_softmax": True, "query_mode": "cat-aa'b",
        },
    }
    process = {
        "type": "sd_trainer", "training_folder": "output", "device": "cuda:0", "network": network,
        "save": {"dtype": "float16", "save_every": 250, "max_step_saves_to_keep": 4, "push_to_hub": False},
        "train": {"batch_size": 6, "steps": 10000, "lr": 1e-3, "optimizer": "adamw8bit",
                  "optimizer_params": {"betas": [0.9, 0.99], "weight_decay": 0.05},
                  "timestep_type": "weighted", "dtype": "bf16", "noise_scheduler": "flowmatch"},
        "model": {"name_or_path": "black-forest-labs/FLUX.1-Kontext-dev", "arch": "flux_kontext", "quantize": True},
        "logging": {"use_wandb": True, "log_every": 1, "project_name": "lorweb", "run_name": "lorweb_model"},
    }
    return {"job": "extension", "config": {"name": "lorweb_model", "process": [process]},
            "meta": {"name": "[name]", "version": "1.0"}}


def make(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    src = source_tensors()
    save_file(src, os.path.join(out_dir, "tensors_f32.safetensors"), metadata={**METADATA, "dtype": "F32"})
    with np.errstate(over="ignore"):
        save_file({k: v.astype(np.float16) for k, v in src.items()},
                  os.path.join(out_dir, "tensors_f16.safetensors"), metadata={**METADATA, "dtype": "F16"})
    save_bf16(src, os.path.join(out_dir, "tensors_bf16.safetensors"), {**METADATA, "dtype": "BF16"})
    for name, a in npy_arrays().items():
        np.save(os.path.join(out_dir, name), a)
    np.save(os.path.join(out_dir, "fortran.npy"), np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
    np.save(os.path.join(out_dir, "bigendian.npy"), np.ones(3, dtype=">f4"))
    save_file(tiny_adapter(), os.path.join(out_dir, "adapter_tiny.safetensors"),
              metadata={"format": "pt", "name": "lorweb_tiny", "generator": METADATA["generator"]})
    with open(os.path.join(out_dir, "config.yaml"), "w") as f:
        yaml.dump(release_config(), f)
    print(f"wrote fixtures to {out_dir}")


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check(dump_dir):
    """Verifies the files the Swift InteropDump test wrote; returns the number of failures."""
    failures = []
    src = source_tensors()

    def expect(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    f32 = load_file(os.path.join(dump_dir, "swift_f32.safetensors"))
    expect(set(f32) == set(src) and all(same_bits(f32[k], src[k]) for k in src), "swift_f32.safetensors: every value identical")
    f16 = load_file(os.path.join(dump_dir, "swift_f16.safetensors"))
    with np.errstate(over="ignore"):
        expect(all(same_bits(f16[k], src[k].astype(np.float16)) for k in src),
               "swift_f16.safetensors: bits equal numpy's float16 rounding")
    raw = raw_tensors(os.path.join(dump_dir, "swift_bf16.safetensors"))
    expect(all(raw[k][0] == "BF16" and raw[k][1] == list(src[k].shape)
               and raw[k][2] == bf16_bits(src[k]).tobytes() for k in src),
           "swift_bf16.safetensors: bits equal reference bfloat16 rounding")
    with open(os.path.join(dump_dir, "swift_f32.safetensors"), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = f.read(n)
    meta = json.loads(header).get("__metadata__", {})
    expect(meta == {**METADATA, "dtype": "F32"}, "swift_f32.safetensors: __metadata__ round-trips")
    expect(n % 8 == 0 and header.rstrip(b" ").endswith(b"}"), "header padded with spaces to 8 bytes")
    keys = list(json.loads(header).keys())
    expect(keys == sorted(keys), "header keys sorted")

    for name, a in npy_arrays().items():
        b = np.load(os.path.join(dump_dir, "swift_" + name))
        with np.errstate(over="ignore"):  # 1e300 in array_f64 becomes inf, as in Swift
            expected = a.astype(np.float32)
        expect(b.dtype == np.float32 and same_bits(b, expected), f"swift_{name}: numpy loads identical float32")
    with open(os.path.join(dump_dir, "swift_array_f32.npy"), "rb") as f:
        f.read(8)
        hlen = int.from_bytes(f.read(2), "little")
    expect((10 + hlen) % 64 == 0, "npy header padded to 64 bytes")

    with open(os.path.join(dump_dir, "swift_table.csv"), newline="") as f:
        rows = list(csv.reader(f))
    expect(rows == [["name", "value", "note"], ["plain", "1.5", "x"], ["comma,inside", "2", 'say "hi"'],
                    ["multi\nline", "-0.25", ""], ["inf", "inf", "nan"]], "swift_table.csv: csv module reads the same cells")
    with open(os.path.join(dump_dir, "swift_report.json")) as f:
        report = json.load(f)
    expect(report == {"layers": 494, "name": "a/b \"c\"", "values": [1.5, -2, 0.1]}, "swift_report.json: json module reads it")

    print(f"{len(failures)} failure(s)")
    return len(failures)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(here, "..", "Tests", "Fixtures", "formats"))
    parser.add_argument("--check", metavar="DIR", help="verify files the Swift InteropDump test wrote into DIR")
    args = parser.parse_args()
    if args.check:
        sys.exit(1 if check(args.check) else 0)
    make(os.path.normpath(args.out))
