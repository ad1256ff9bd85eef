#!/usr/bin/env python3
"""Writes docs/commands.md from `lorweb <command> --help`, so that the help text in Sources/lorweb/ is
the single source of the command reference (`make docs` runs this).

    python3 tools/docs/commands.py [--bin .build/debug/lorweb] [--out docs/commands.md]

The list of commands comes from `lorweb --experimental-dump-help` (every subcommand, nested ones
such as `bench ops` included, whatever groups `lorweb --help` shows them in). Each gets its own
section: the help text verbatim, at COLUMNS=120, between a `<!-- help: lorweb CMD -->` marker and a
closing fence, then a short example and a link to the notes on it, both from EXAMPLES and NOTES
below (hand-written: the help text has room for options, not for walk-throughs).
CLITests/CommandsDocTests runs the built binary the same way and fails when a marked block differs
from it, or when a command has no block: rerun `make docs` after changing a help string.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Help is wrapped at the terminal's width; fixed here and in the test so the text does not depend on it.
ENV = {**{k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "LORWEB_THREADS")},
       "COLUMNS": "120", "LINES": "40"}

# A short example per command (shell lines; `lorweb` is the built binary, run as
# `env -u OPENBLAS_CORETYPE .build/release/lorweb`). Commands whose help already ends in an example
# may still have one here.
EXAMPLES = {
    "inspect": """
lorweb inspect Tests/Fixtures/formats/adapter_tiny.safetensors
lorweb inspect Tests/Fixtures/lora/peft --json
""",
    "synth": """
lorweb synth --out data/smallworld                    # 3000 train + 300 seen + 300 unseen triplets, 9 s
lorweb synth --out /tmp/sw --train 200 --eval 60 --seed 7
""",
    "pretrain-encoder": """
lorweb pretrain-encoder --data data/smallworld --out runs/world
""",
    "pretrain-base": """
lorweb pretrain-base --data data/smallworld --out runs/world
lorweb pretrain-base --data data/smallworld --out runs/stage2 --from runs/world/base --steps 1500 --lr 5e-4
""",
    "train": """
lorweb train --data data/smallworld --out runs/lorweb
lorweb train --data data/smallworld --out runs/single --single-lora --rank 128
""",
    "edit": """
lorweb edit --a models/small-world/examples/unseen_000002_a.png --a-prime models/small-world/examples/unseen_000002_ap.png \\
            --b models/small-world/examples/unseen_000002_b.png --out b_prime.png --grid grid.png
lorweb edit --triplets models/small-world/examples/triplets.csv --out-dir edits/
""",
    "eval": """
lorweb synth --out data/world123 --seed 123
lorweb eval --data data/world123 --split unseen --limit-per-task 1 --no-prompts --out eval_unseen.json
""",
    "basis": """
python3 tools/fixtures/make_release_layout.py /tmp/release.safetensors   # a stand-in with the release's keys and shapes
lorweb basis --model /tmp/release.safetensors --out /tmp/basis
""",
    "svd": """
lorweb svd --model /tmp/release.safetensors --coeffs uniform --out /tmp/svd
""",
    "keygraph": """
lorweb keygraph --model /tmp/release.safetensors --layer transformer_blocks.3.ff.net.2 --edges quantile:0.95 --out /tmp/kg3.png
lorweb keygraph --model models/small-world/lorweb --layer all --out /tmp/kg-all.svg   # each key's 3 nearest keys
""",
    "export-lora": """
lorweb export-lora --model /tmp/release.safetensors --coeffs uniform --rank 16 --dtype bf16 --out /tmp/export16.safetensors
""",
    "lora": """
S=Tests/Fixtures/lora/set
lorweb lora $S/p-peft $S/p-kohya.safetensors $S/q.safetensors $S/r.safetensors --out /tmp/loras
""",
    "coeffs": """
lorweb synth --out /tmp/sw --train 200 --eval 60
lorweb coeffs --model models/small-world/lorweb --triplets /tmp/sw --split seen,unseen --out /tmp/coeffs.npy
""",
    "pca": """
lorweb pca --model models/small-world/lorweb --coeffs /tmp/coeffs.npy --out /tmp/pca
""",
    "interpolate": """
I=/tmp/sw/images
lorweb interpolate --model models/small-world/lorweb --from $I/seen_000000_a.png,$I/seen_000000_ap.png \\
    --to $I/seen_000005_a.png,$I/seen_000005_ap.png --b $I/seen_000000_b.png --steps 5 --out /tmp/strip.png
""",
    "report": """
lorweb synth --out /tmp/sw --seed 7
lorweb report --model models/small-world/lorweb --data /tmp/sw --out /tmp/report   # the 600 held-out triplets
""",
    "bench": """
make bench                                            # every benchmark at 1 and 2 threads
""",
    "bench ops": """
lorweb bench ops --threads 2
""",
    "bench model": """
lorweb bench model --threads 2
""",
    "bench train-step": """
lorweb bench train-step --threads 2
lorweb bench train-step --loras 1 --rank 128 --json
""",
    "bench edit": """
lorweb bench edit --threads 2
lorweb bench edit --unmerged        # the basis applied in every layer at every step, as the release does
""",
    "bench clip": """
lorweb bench clip --images 3
""",
    "bench analysis": """
lorweb bench analysis --threads 1
""",
}

# Where the notes on a command live (relative to docs/).
NOTES = {
    "inspect": "models.md#lorweb-inspect",
    "synth": "small-world.md#the-small-world-commands",
    "pretrain-encoder": "small-world.md#the-small-world-commands",
    "pretrain-base": "small-world.md#how-the-small-base-is-made-to-edit",
    "train": "lorweb.md#lorweb-train",
    "edit": "lorweb.md#lorweb-edit",
    "eval": "lorweb.md#lorweb-eval",
    "basis": "analysis.md#lorweb-basis",
    "svd": "analysis.md#lorweb-svd",
    "keygraph": "analysis.md#lorweb-keygraph",
    "export-lora": "analysis.md#lorweb-export-lora",
    "lora": "analysis.md#lorweb-lora",
    "coeffs": "analysis.md#lorweb-coeffs",
    "pca": "analysis.md#lorweb-pca",
    "interpolate": "analysis.md#lorweb-interpolate",
    "report": "analysis.md#lorweb-report",
    "bench": "performance.md",
    "bench ops": "performance.md#lorweb-bench-ops",
}
for _name in ("model", "train-step", "edit", "clip", "analysis"):
    NOTES["bench " + _name] = "performance.md#lorweb-bench-train-step--edit--clip--analysis--model"

HEADER = """# Commands

<!-- Generated by `make docs` (tools/docs/commands.py) from `lorweb <command> --help`. Do not edit:
     change the help text in Sources/lorweb/ (or the examples in tools/docs/commands.py) and rerun
     `make docs`; CLITests/CommandsDocTests fails while this file is stale. -->

Every section below is the command's own `--help` (the source is the help text in
`Sources/lorweb/`), followed by an example and a link to the notes on it. Run the binary as
`env -u OPENBLAS_CORETYPE .build/release/lorweb ...` (see
[performance.md](performance.md#openblas-kernel)); in the examples `lorweb` stands for that.

Every command accepts `--threads N` (default: `LORWEB_THREADS`, else all cores; at most 4x the
cores) and `--max-pixels N` (the largest image it decodes; see [errors.md](errors.md)). Results are
bit-identical for any thread count: every kernel splits work so that no output element's
arithmetic depends on the split, and matrix products run as shape-determined tiles of
single-threaded OpenBLAS calls spread over lorweb's threads. Without `--model`, the commands that
take one use the shipped default model (`models/small-world/lorweb`; found above the executable or
the working folder, or at `$LORWEB_MODELS`).
"""


def help_text(binary, path):
    done = subprocess.run([binary, *path, "--help"], env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(['lorweb', *path, '--help'])} exited {done.returncode}:\n{done.stderr}")
    return done.stdout.rstrip("\n")


def commands(binary):
    """Every command path, in the order `--experimental-dump-help` lists them (help excluded)."""
    done = subprocess.run([binary, "--experimental-dump-help"], env=ENV, capture_output=True, text=True, check=True)
    out = []

    def walk(command, path):
        out.append(path)
        for sub in command.get("subcommands", []):
            if sub["commandName"] != "help" and sub.get("shouldDisplay", True):
                walk(sub, path + [sub["commandName"]])

    walk(json.loads(done.stdout)["command"], [])
    return out


def anchor(title):
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return "".join(c for c in title.lower() if c.isalnum() or c in " -_").replace(" ", "-")


def render(binary):
    paths = commands(binary)
    lines = [HEADER]
    lines.append("| command | what it does |\n| --- | --- |")
    for path in paths[1:]:
        name = " ".join(path)
        overview = help_text(binary, path).split("\n\n")[0].removeprefix("OVERVIEW: ").replace("\n", " ")
        lines.append(f"| [`lorweb {name}`](#{anchor('lorweb ' + name)}) | {overview.replace('|', '/')} |")
    lines.append("")
    for path in paths:
        name = " ".join(["lorweb", *path])
        key = " ".join(path)
        lines.append(f"## {name}\n")
        lines.append(f"<!-- help: {name} -->\n```text\n{help_text(binary, path)}\n```\n")
        if key in EXAMPLES:
            lines.append(f"```sh\n{EXAMPLES[key].strip()}\n```\n")
        if key in NOTES:
            lines.append(f"Notes: [{NOTES[key].split('#')[0]}]({NOTES[key]}).\n")
    missing = sorted(set(EXAMPLES) - {" ".join(p) for p in paths})
    if missing:
        sys.exit(f"tools/docs/commands.py has examples for commands lorweb does not have: {', '.join(missing)}")
    return "\n".join(lines).rstrip("\n") + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(ROOT / ".build" / "debug" / "lorweb"), help="the lorweb binary")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "commands.md")
    args = parser.parse_args()
    text = render(args.bin)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    main()
