#!/usr/bin/env python3
"""lorweb against PyTorch on this machine, side by side (issue 9). Run by developers, never by CI.

Runs `lorweb bench <case> --json` (release build, OPENBLAS_CORETYPE unset) and
`tools/peer/peer.py <case>` back to back, alternating which goes first, `--rounds` times per
case and thread count, and prints a Markdown table of the medians over rounds: ms each side and
ours/PyTorch; our GFLOP/s against raw cblas_sgemm on the step's own products (measured by lorweb
in the same run); the peak memory of one step above the memory before it, both sides.

  python3 tools/peer/compare.py              # builds lorweb (release), then 1 and 2 threads, 3 rounds
  python3 tools/peer/compare.py --threads 2 --cases train-step --rounds 5
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LORWEB = os.path.join(ROOT, ".build", "release", "lorweb")
PEER = os.path.join(ROOT, "tools", "peer", "peer.py")

# `lorweb edit`'s default Euler steps: the merge of the mixed basis, done once per analogy, is
# charged to a step as merge_ms / EDIT_STEPS.
EDIT_STEPS = 28

# name -> (lorweb arguments, peer arguments); each side picks its own default repetitions.
CASES = {
    "train-step": (["train-step"], ["train-step"]),
    "train-step-lora128": (["train-step", "--loras", "1", "--rank", "128"], ["train-step", "--loras", "1", "--rank", "128"]),
    "edit": (["edit", "--unmerged"], ["edit"]),
    "edit-merged": (["edit"], ["edit"]),
    "clip-1": (["clip", "--images", "1"], ["clip", "--images", "1"]),
    "clip-3": (["clip", "--images", "3"], ["clip", "--images", "3"]),
    "analysis": (["analysis"], ["analysis"]),
}
LABELS = {
    "train-step": "training step, n 32 r 4, batch 16",
    "train-step-lora128": "training step, one rank-128 LoRA, batch 16",
    "edit": "sampling step, batch 1, basis applied in every layer (both as the release)",
    "edit-merged": f"sampling step, batch 1, ours as `lorweb edit` runs it: basis merged once per analogy, merge spread over {EDIT_STEPS} steps",
    "clip-1": "CLIP ViT-L/14, 1 image",
    "clip-3": "CLIP ViT-L/14, 3 images",
    "analysis": "mixed-LoRA spectrum 3072^2, thin",
}


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ours(case, threads, raw):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}  # Haswell halves sgemm speed
    args = [LORWEB, "bench", *CASES[case][0], "--threads", str(threads), "--json"]
    if not raw and case != "analysis":
        args.append("--no-raw")
    result = run_json(args, env)
    if "merge_ms" in result["notes"]:
        result["step_ms"] = result["median_ms"]
        result["median_ms"] += float(result["notes"]["merge_ms"]) / EDIT_STEPS
    return result


def peer(case, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return run_json([sys.executable, PEER, *CASES[case][1], "--threads", str(threads)], env)


def load():
    return open("/proc/loadavg").read().split()[0]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = p.parse_args()
    subprocess.run(["swift", "build", "-c", "release", "--product", "lorweb"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
    import torch  # only for its version and BLAS; the timed runs are separate processes
    loads = [load()]
    rows = []
    blas = "?"
    for threads in args.threads:
        for case in args.cases:
            o_runs, p_runs = [], []
            for r in range(args.rounds):
                # Alternate who goes first, so drift in the machine's load hits both sides alike.
                if r % 2 == 0:
                    o_runs.append(ours(case, threads, raw=r == 0)); p_runs.append(peer(case, threads))
                else:
                    p_runs.append(peer(case, threads)); o_runs.append(ours(case, threads, raw=False))
                print(f"  {case} {threads}T round {r + 1}: ours {o_runs[-1]['median_ms']:.1f} ms, "
                      f"PyTorch {p_runs[-1]['median_ms']:.1f} ms (load {load()})", file=sys.stderr)
            blas = o_runs[0]["blas"]
            rows.append((case, threads, o_runs, p_runs))
            loads.append(load())

    med = lambda runs, key: statistics.median(r[key] for r in runs)
    print(f"Measured {datetime.date.today()} on {os.cpu_count()}-core {platform.machine()} '{cpu}'; "
          f"lorweb: {swift[0] if swift else 'swift ?'}, OpenBLAS `{blas.split('core=')[-1]}`; "
          f"PyTorch {torch.__version__} ({'MKL' if torch.backends.mkl.is_available() else 'no MKL'}); "
          f"{args.rounds} alternating rounds per row, medians; 1-minute load average during the run: {min(loads)} to {max(loads)}.")
    print()
    print("| case | threads | ours ms | PyTorch ms | ours/PyTorch | ours GFLOP/s | raw sgemm GFLOP/s | ours/raw | step peak MB ours | PyTorch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for case, threads, o, pt in rows:
        om, pm = med(o, "median_ms"), med(pt, "median_ms")
        raw = o[0].get("raw_sgemm_gflop_per_s")
        gf = o[0]["flops"] / med(o, "step_ms" if "step_ms" in o[0] else "median_ms") / 1e6
        extra = ""
        if case == "analysis":
            extra = f" (dense: ours {statistics.median(float(r['notes']['dense_ms']) for r in o):.0f} ms, PyTorch {med(pt, 'dense_ms'):.0f} ms)"
        print(f"| {LABELS[case]}{extra} | {threads} | {om:.1f} | {pm:.1f} | {om / pm:.2f} | {gf:.1f} | "
              f"{f'{raw:.1f}' if raw else '-'} | {f'{gf / raw:.2f}' if raw else '-'} | "
              f"{med(o, 'step_peak_mb'):.0f} | {med(pt, 'step_peak_mb'):.0f} |")


if __name__ == "__main__":
    main()
