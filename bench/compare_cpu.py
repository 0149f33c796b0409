#!/usr/bin/env python3
"""Our CPU models against PyTorch's, interleaved: A B A B ..., the median of the per-pair ratios.

    cargo bench --no-run --bench biggan --bench deepdream
    python3 bench/compare_cpu.py [--pairs 5] [--only biggan|deepdream] [--threads 2]

This machine's timings drift by tens of per cent within minutes, so the two sides run
alternately, one right after the other, and each pair gives a ratio (ours / PyTorch's); the
table shows the median ratio over the pairs, for wall time and for CPU time per image or step.
Needs torch, torchvision, pytorch_pretrained_biggan and numpy in the Python running it.
"""

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Each side prints lines like "burn cpu batch 8: 0.280 s/image ... cpu 0.430 s/image".
BIGGAN_OURS = re.compile(r"^burn cpu batch (\d+): ([\d.]+) s/image.*cpu ([\d.]+) s/image")
BIGGAN_THEIRS = re.compile(r"^pytorch batch (\d+): ([\d.]+) s/image.*cpu ([\d.]+) s/image")
DREAM_OURS = re.compile(r"^burn flex mean-\|g\| step (\d+)x\d+: ([\d.]+) s/step.*cpu ([\d.]+) s/step")
DREAM_THEIRS = re.compile(r"^pytorch (\d+)x\d+: ([\d.]+) s/step.*cpu ([\d.]+) s/step")


def bench_binary(name):
    """The newest `cargo bench --no-run` executable of bench `name`."""
    candidates = [p for p in glob.glob(os.path.join(ROOT, "target", "release", "deps", f"{name}-*"))
                  if os.access(p, os.X_OK) and not p.endswith(".d")]
    if not candidates:
        sys.exit(f"no built bench '{name}': run `cargo bench --no-run --bench {name}` first")
    return max(candidates, key=os.path.getmtime)


def run(command, env, pattern):
    """Runs `command`; returns {label: (wall, cpu)} from the lines matching `pattern`."""
    out = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    found = {}
    for line in out.splitlines():
        match = pattern.match(line.strip())
        if match:
            found[int(match.group(1))] = (float(match.group(2)), float(match.group(3)))
    if not found:
        sys.exit(f"no timings in the output of {command[0]}:\n{out}")
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--only", choices=["biggan", "deepdream"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--biggan-bench", help="another build of benches/biggan.rs to compare")
    parser.add_argument("--deepdream-bench", help="another build of benches/deepdream.rs")
    args = parser.parse_args()
    threads = str(args.threads)
    py = sys.executable
    sides = []
    if args.only in (None, "biggan"):
        sides.append(("BigGAN-deep-128, s/image at batch", (
            ([args.biggan_bench or bench_binary("biggan")], {"BIGGAN_BENCH_GPU": "0", "BIGGAN_BENCH_RUNS": "3",
                                        "RAYON_NUM_THREADS": threads}, BIGGAN_OURS),
            ([py, os.path.join(HERE, "biggan_pytorch.py"), "--runs", "3", "--threads", threads],
             {}, BIGGAN_THEIRS))))
    if args.only in (None, "deepdream"):
        sides.append(("DeepDream step (inception4c), s/step at side", (
            ([args.deepdream_bench or bench_binary("deepdream")], {"DEEPDREAM_BENCH_STEPS": "5",
                                           "RAYON_NUM_THREADS": threads}, DREAM_OURS),
            ([py, os.path.join(HERE, "deepdream_pytorch.py"), "--steps", "5", "--threads",
              threads], {}, DREAM_THEIRS))))
    for title, (ours, theirs) in sides:
        ratios = {}
        for pair in range(args.pairs):
            a = run(*ours)
            b = run(*theirs)
            for key in sorted(a.keys() & b.keys()):
                wall = a[key][0] / b[key][0]
                cpu = a[key][1] / b[key][1]
                ratios.setdefault(key, []).append((wall, cpu, a[key], b[key]))
                print(f"pair {pair + 1} {key}: ours {a[key][0]:.3f} s (cpu {a[key][1]:.3f}), "
                      f"pytorch {b[key][0]:.3f} s (cpu {b[key][1]:.3f}): "
                      f"{wall:.2f}x wall, {cpu:.2f}x cpu", flush=True)
        print(f"\n{title} | ours (median) | PyTorch (median) | wall ratio | CPU-time ratio")
        print("|---|---|---|---|---|")
        for key, rows in sorted(ratios.items()):
            print(f"| {key} | {statistics.median(r[2][0] for r in rows):.3f} "
                  f"| {statistics.median(r[3][0] for r in rows):.3f} "
                  f"| {statistics.median(r[0] for r in rows):.2f}x "
                  f"| {statistics.median(r[1] for r in rows):.2f}x |")
        print(f"(median of {len(next(iter(ratios.values())))} interleaved pairs)\n", flush=True)


if __name__ == "__main__":
    main()
